//! CSRF protection for every state-changing request: an Origin / Sec-Fetch-Site check, then the
//! token from the form field `csrf` (or the `X-CSRF-Token` header): the per-session token, or —
//! for forms shown before a session exists (login, setup, invite) — the signed double-submit token
//! derived from the browser's pre-session nonce cookie (`cookies`). One layer in front of every
//! route, so no handler can forget it. Bearer-token API and signed webhooks are exempt.

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::Response,
};
use tower_sessions::Session;

use super::{cookies::Cookies, session::CSRF_KEY, token::constant_time_eq};
use crate::{state::AppState, ui};

pub async fn protect(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let path = req.uri().path();
    if path.starts_with("/api/v1/") || path.starts_with("/hooks/") {
        return next.run(req).await;
    }
    if let Err(why) = check_origin(req.headers(), &state) {
        tracing::warn!(reason = why, "CSRF: request refused");
        return reject();
    }
    let in_session = session.get::<String>(CSRF_KEY).await.ok().flatten();
    let pre_session = req
        .extensions()
        .get::<Cookies>()
        .and_then(Cookies::expected_pre_session_token);
    if in_session.is_none() && pre_session.is_none() {
        tracing::warn!("CSRF: no session token and no pre-session nonce");
        return reject();
    }
    let (parts, body) = req.into_parts();
    let header_token = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = match to_bytes(body, crate::server::edge::body_limit(&parts.extensions)).await {
        Ok(b) => b,
        Err(_) => return crate::server::edge::too_large(),
    };
    let form_token = is_urlencoded(&parts.headers)
        .then(|| {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
                .ok()?
                .into_iter()
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v)
        })
        .flatten();
    let given = form_token.or(header_token).unwrap_or_default();
    let matches = |expected: &Option<String>| {
        expected
            .as_deref()
            .is_some_and(|e| constant_time_eq(given.as_bytes(), e.as_bytes()))
    };
    if !(matches(&in_session) || matches(&pre_session)) {
        tracing::warn!("CSRF: token missing or wrong");
        return reject();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_urlencoded(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// A request from another site is refused: by its `Origin` when present (it must be ours),
/// else by `Sec-Fetch-Site`.
fn check_origin(headers: &HeaderMap, state: &AppState) -> Result<(), &'static str> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| "unreadable Origin")?;
        let ours = match &state.config.public_origin {
            Some(o) => o.clone(),
            None => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .ok_or("no Host header")?;
                let scheme = if state.config.https { "https" } else { "http" };
                format!("{scheme}://{host}")
            }
        };
        return if origin.eq_ignore_ascii_case(&ours) {
            Ok(())
        } else {
            Err("foreign Origin")
        };
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("cross-site") | Some("same-site") => Err("cross-site Sec-Fetch-Site"),
        _ => Ok(()),
    }
}

fn reject() -> Response {
    ui::error_response(
        StatusCode::FORBIDDEN,
        "This form could not be accepted",
        "The form was sent from another site, or it is too old (for example, you logged in \
         again in another tab). Nothing was changed. Go back, reload the page, and send it again.",
    )
}
