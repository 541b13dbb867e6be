//! The JSON API `/api/v1/` (DESIGN §4.2): bearer tokens only (no cookies, so no CSRF), JSON
//! errors with stable codes, cursor pagination, `Idempotency-Key` replay for writes, per-token
//! rate limits. Every write goes through the same operations as the forms.

pub mod error;
mod idempotency;
pub mod pages;
pub mod tokens;
mod v1;

use std::{num::NonZeroU32, sync::Arc};

use axum::{
    Extension, Router,
    extract::{FromRequestParts, Request, State},
    http::{StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock as _};

pub use self::error::{ApiError, ApiResult};
use self::tokens::{Caller, Refused};
use crate::{auth::ClientIp, state::AppState};

/// Largest JSON body the API reads.
pub const MAX_BODY: usize = 256 * 1024;

type Limiter = Arc<DefaultKeyedRateLimiter<i64>>;

/// `/api/v1/…`, with its own layers: bearer authentication and the per-token rate limit. Mounted
/// outside the session, cookie and CSRF layers of the pages.
pub fn router(state: &AppState) -> Router<AppState> {
    let rate = NonZeroU32::new(state.config.api_rate_per_second).unwrap_or(NonZeroU32::MIN);
    let burst = rate.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
    let limiter: Limiter = Arc::new(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ));
    v1::routes()
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such API endpoint.")
        })
        .layer(middleware::from_fn_with_state(state.clone(), bearer))
        .layer(Extension(limiter))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::map_response(json_rejections))
}

/// axum's own refusals (a body over the limit) are plain text: the API answers JSON always.
async fn json_rejections(resp: Response) -> Response {
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    match resp.status() {
        StatusCode::PAYLOAD_TOO_LARGE if !json => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("A request body is at most {} KiB.", MAX_BODY / 1024),
        )
        .into_response(),
        _ => resp,
    }
}

/// Lets in only a request with a valid, unexpired bearer token of an enabled account, within its
/// rate; puts the `Caller` in the request.
async fn bearer(
    State(state): State<AppState>,
    Extension(limiter): Extension<Limiter>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path().ends_with("/openapi.json") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let secret = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            // The scheme is case-insensitive (RFC 9110).
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        })
        .map(|s| s.trim().to_string());
    let Some(secret) = secret else {
        return ApiError::unauthorized(
            "Send a token: `Authorization: Bearer fdk_…` (create one at /profile/tokens). \
             Cookies are not accepted here.",
        )
        .into_response();
    };
    let ip = ClientIp::from_request_parts(&mut parts, &state)
        .await
        .map_or_else(|_| "unknown".to_string(), |c| c.0);
    let caller = match tokens::authenticate(&state, &secret, &ip).await {
        Ok(Ok(c)) => c,
        Ok(Err(Refused::Invalid)) => {
            return ApiError::unauthorized(
                "This token is unknown, revoked, or its account is disabled.",
            )
            .into_response();
        }
        Ok(Err(Refused::Expired)) => {
            let mut e = ApiError::unauthorized("This token has expired; create a new one.");
            e.code = "token_expired";
            return e.into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Err(not_until) = limiter.check_key(&caller.token_id) {
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "More than {} requests a second with this token; slow down.",
                state.config.api_rate_per_second
            ),
        );
        e.retry_after = Some(wait.as_secs().max(1));
        return e.into_response();
    }
    tracing::Span::current().record("account_id", caller.user.id.0);
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("Send a bearer token."))
    }
}

/// The OpenAPI 3.1 document of the API, pretty-printed (served at `/api/v1/openapi.json`,
/// committed as `docs/openapi.json`).
pub fn openapi_json() -> String {
    v1::document().to_pretty_json().unwrap_or_default()
}

/// The OpenAPI document (for the `/api` page).
pub fn openapi() -> utoipa::openapi::OpenApi {
    v1::document()
}

/// Deletes Idempotency-Keys older than 24 hours (the janitor calls it).
pub async fn forget_old_idempotency_keys(pool: &sqlx::PgPool) -> sqlx::Result<u64> {
    idempotency::forget_old(pool).await
}

/// Refuses a caller whose token lacks `scope`.
pub fn need(caller: &Caller, scope: &str) -> ApiResult<()> {
    if caller.may(scope) {
        Ok(())
    } else {
        let mut e = ApiError::forbidden(format!("This token lacks the “{scope}” scope."));
        e.code = "missing_scope";
        Err(e)
    }
}

/// The request id the audit log keeps.
fn request_id(parts: &axum::http::HeaderMap) -> Option<String> {
    parts
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
