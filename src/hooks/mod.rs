//! GitHub webhooks in (DESIGN §4.3): `POST /hooks/github` verifies `X-Hub-Signature-256` with
//! the repository's secret, stores the delivery (deduplicated by `X-GitHub-Delivery`) and answers
//! at once; `worker` processes stored deliveries through the same operations as the forms.

pub mod pages;
pub mod worker;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::state::AppState;

/// GitHub's largest payload.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

/// Deliveries refused for a missing or wrong signature (nothing of them is stored).
pub static BAD_SIGNATURES: AtomicU64 = AtomicU64::new(0);

/// Bodies read at once: a delivery may be 25 MB and the sender is not known until its signature
/// is checked, so at most two are held in memory; a third waits for none and gets 503 (GitHub
/// retries a failed delivery on request).
static READING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// `/hooks/github`, mounted outside the page layers (no session, cookies or CSRF).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/github", post(github))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": "refused", "message": why } })),
    )
        .into_response()
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`, compared
/// in constant time.
pub fn signature_ok(secret: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex_sig) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn github(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let Ok(_reading) = READING.try_acquire() else {
        let mut resp = refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy reading other deliveries; send it again shortly.",
        );
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
        return resp;
    };
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "A delivery is at most 25 MB.",
            );
        }
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let (event, delivery, signature) = (
        header("x-github-event"),
        header("x-github-delivery"),
        header("x-hub-signature-256"),
    );
    if event.is_empty() || delivery.is_empty() || delivery.len() > 100 || event.len() > 100 {
        return refuse(StatusCode::BAD_REQUEST, "Not a GitHub delivery.");
    }
    // PostgreSQL's jsonb cannot hold a NUL character: refuse it here rather than fail to store.
    if body.windows(6).any(|w| w == b"\\u0000") {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The body holds a NUL character (\\u0000).",
        );
    }
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "The body is not JSON."),
    };
    // The repository names which secret signs it; the signature is checked before anything is stored.
    // GitHub keeps a name's case (`Hello-World`); flowdeck's names are lowercase.
    let repo_name = payload["repository"]["name"]
        .as_str()
        .unwrap_or("")
        .to_lowercase();
    let hook = match sqlx::query!(
        "select r.id, h.secret from repositories r join github_hooks h on h.repository_id = r.id
         where r.name = $1",
        repo_name
    )
    .fetch_optional(&state.pool)
    .await
    {
        Ok(h) => h,
        Err(e) => return crate::api::ApiError::from(e).into_response(),
    };
    let Some(hook) = hook.filter(|h| signature_ok(&h.secret, &body, &signature)) else {
        BAD_SIGNATURES.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%event, %delivery, repository = %repo_name, "GitHub delivery with a missing or wrong signature refused");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "Missing or wrong X-Hub-Signature-256.",
        );
    };
    let stored = sqlx::query_scalar!(
        "insert into github_deliveries (delivery_id, event, repository_id, payload)
         values ($1, $2, $3, $4) on conflict (delivery_id) do nothing returning id",
        delivery,
        event,
        hook.id,
        payload
    )
    .fetch_optional(&state.pool)
    .await;
    match stored {
        Ok(Some(_)) => {
            metrics::counter!("flowdeck_webhook_deliveries_total", "outcome" => "queued")
                .increment(1);
            (StatusCode::ACCEPTED, Json(json!({ "status": "queued" }))).into_response()
        }
        Ok(None) => {
            metrics::counter!("flowdeck_webhook_deliveries_total", "outcome" => "duplicate")
                .increment(1);
            (StatusCode::OK, Json(json!({ "status": "duplicate" }))).into_response()
        }
        Err(e) => crate::api::ApiError::from(e).into_response(),
    }
}

/// A merged pull request: where lead time starts (insight).
pub struct Change<'a> {
    pub repository: i64,
    pub number: i32,
    pub title: &'a str,
    pub author: &'a str,
    pub merge_sha: &'a str,
    pub opened_at: chrono::DateTime<chrono::Utc>,
    pub merged_at: chrono::DateTime<chrono::Utc>,
}

/// Records (or updates) a merged pull request's change record.
pub async fn record_change(conn: &mut sqlx::PgConnection, c: &Change<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into change_records (repository_id, number, title, author, merge_sha, opened_at, merged_at)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (repository_id, number) do update
         set title = excluded.title, merge_sha = excluded.merge_sha, merged_at = excluded.merged_at",
        c.repository,
        c.number,
        c.title,
        c.author,
        c.merge_sha,
        c.opened_at as _,
        c.merged_at as _
    )
    .execute(&mut *conn)
    .await?;
    // Linked to the production deployments that already shipped it (webhooks can arrive late).
    sqlx::query!("select link_change($1, $2)", c.repository, c.number)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_against_the_secret() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"It's a Secret to Everybody").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_ok("It's a Secret to Everybody", body, &good));
        assert!(!signature_ok("another secret", body, &good));
        assert!(!signature_ok("It's a Secret to Everybody", b"{}", &good));
        assert!(!signature_ok("It's a Secret to Everybody", body, ""));
        assert!(!signature_ok(
            "It's a Secret to Everybody",
            body,
            "sha1=abc"
        ));
    }
}
