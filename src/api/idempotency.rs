//! `Idempotency-Key` for API writes: the same key with the same request replays the first
//! response byte for byte; with a different request it is refused (422
//! `idempotency_key_reused`); a key still being worked on answers 409. Keys live 24 hours
//! (the janitor deletes older ones). Server errors are not kept, so a retry runs again.
//!
//! The claim and the stored response are written through `state.relaxed` (no WAL flush wait):
//! the claim commits before the write's own transaction begins, and a synchronous commit flushes
//! all WAL before it, so a write that survives a crash has its claim. Only the stored response
//! can be lost with a crash in the instant after the write; a retry then gets 409
//! `idempotency_outcome_unknown` instead of the write running twice.

use axum::{
    body::Bytes,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use super::{ApiError, tokens::Caller};
use crate::state::AppState;

const HEADER: &str = "idempotency-key";

/// Runs `write` once per (token, key); `request` is what identifies the request (method, path,
/// body). Without a key it just runs.
pub async fn once<F>(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    request: &[u8],
    write: F,
) -> Response
where
    F: Future<Output = Response>,
{
    let Some(key) = headers.get(HEADER) else {
        return write.await;
    };
    let key = match key.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= 200 => k.trim().to_string(),
        _ => {
            return ApiError::invalid("An Idempotency-Key is 1 to 200 visible characters.")
                .into_response();
        }
    };
    let hash = Sha256::digest(request).to_vec();
    let claimed = sqlx::query_scalar!(
        "insert into api_idempotency (token_id, key, request_hash) values ($1, $2, $3)
         on conflict (token_id, key) do nothing returning true",
        caller.token_id,
        key,
        hash
    )
    .fetch_optional(&state.relaxed)
    .await;
    match claimed {
        Err(e) => return ApiError::from(e).into_response(),
        Ok(Some(_)) => {}
        Ok(None) => return replay(state, caller, &key, &hash).await,
    }
    let resp = write.await;
    let status = resp.status();
    if status.is_server_error() {
        let _ = sqlx::query!(
            "delete from api_idempotency where token_id = $1 and key = $2",
            caller.token_id,
            key
        )
        .execute(&state.relaxed)
        .await;
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, super::MAX_BODY * 64).await {
        Ok(b) => b,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    if let Err(e) = sqlx::query!(
        "update api_idempotency set status = $3, body = $4 where token_id = $1 and key = $2",
        caller.token_id,
        key,
        i32::from(status.as_u16()),
        bytes.as_ref()
    )
    .execute(&state.relaxed)
    .await
    {
        tracing::warn!(error = %e, "could not keep an idempotent response");
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

async fn replay(state: &AppState, caller: &Caller, key: &str, hash: &[u8]) -> Response {
    let row = match sqlx::query!(
        r#"select request_hash, status, body, created_at < now() - interval '2 minutes' as "abandoned!"
           from api_idempotency where token_id = $1 and key = $2"#,
        caller.token_id,
        key
    )
    .fetch_optional(&state.pool)
    .await
    {
        Ok(Some(r)) => r,
        Ok(None) => {
            return ApiError::new(StatusCode::CONFLICT, "conflict", "Send the request again.")
                .into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    if row.request_hash != hash {
        let mut e = ApiError::invalid(
            "This Idempotency-Key was used for a different request; use a new key.",
        );
        e.code = "idempotency_key_reused";
        return e.into_response();
    }
    match (row.status, row.body) {
        (Some(status), Some(body)) => {
            let status = StatusCode::from_u16(u16::try_from(status).unwrap_or(200))
                .unwrap_or(StatusCode::OK);
            let mut resp = (status, body).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            resp
        }
        _ if row.abandoned => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_outcome_unknown",
            "The first request with this Idempotency-Key was cut off (the server restarted) and its \
             outcome is unknown: check whether it took effect before retrying with a new key.",
        )
        .into_response(),
        _ => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "in_progress",
                "A request with this Idempotency-Key is still being handled; retry shortly.",
            );
            e.retry_after = Some(1);
            e.into_response()
        }
    }
}

/// Deletes keys older than 24 hours; returns how many.
pub async fn forget_old(pool: &sqlx::PgPool) -> sqlx::Result<u64> {
    Ok(
        sqlx::query!("delete from api_idempotency where created_at < now() - interval '24 hours'")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
