//! Checks at the edge, once for every route: a request gets a deadline, and control characters
//! (NUL, escape codes, DEL…) in the path, in any query parameter or in any form field are refused
//! with a 422 page naming the field, before any handler or database sees them. Form fields may
//! hold tabs and line breaks (textareas); nothing else may.

use std::time::Duration;

use crate::{error::AppError, state::AppState, ui};
use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Largest form body accepted from a signed-in user (a design doc with all sections fits easily).
pub const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;
/// Largest body accepted without a session (the login, setup and invite forms are tiny), so
/// anonymous clients cannot make the server hold megabytes per connection.
pub const ANON_FORM_BYTES: usize = 16 * 1024;

/// How much of this request's body flowdeck will read.
pub fn body_limit(extensions: &axum::http::Extensions) -> usize {
    if extensions
        .get::<crate::auth::model::CurrentUser>()
        .is_some()
    {
        MAX_FORM_BYTES
    } else {
        ANON_FORM_BYTES
    }
}

/// Middleware: a request that takes longer than the request timeout (reading its body included)
/// is answered 503 with `Retry-After`.
pub async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = Duration::from_secs(state.config.request_timeout_seconds);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(?limit, "request timed out");
            AppError::Unavailable {
                why: "This request took too long and was stopped. If you sent a form, open the \
                      page again to see whether it was saved before sending it again."
                    .into(),
                retry_after: 5,
            }
            .into_response()
        }
    }
}

/// Where a refused character was found.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    Path,
    Field(String),
}

fn bad_in_value(s: &str, multiline: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\t' | '\n' | '\r')))
}

/// The first place in urlencoded `pairs` that holds a refused character.
fn check_pairs(raw: &[u8], multiline: bool) -> Option<Place> {
    form_urlencoded::parse(raw)
        .find(|(k, v)| bad_in_value(k, false) || bad_in_value(v, multiline))
        .map(|(k, _)| Place::Field(k.chars().filter(|c| !c.is_control()).take(64).collect()))
}

fn check_path(path: &str) -> Option<Place> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    bad_in_value(&decoded, false).then_some(Place::Path)
}

fn is_urlencoded(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Middleware: refuses control characters in the path, the query and urlencoded form bodies.
pub async fn refuse_control_characters(req: Request, next: Next) -> Response {
    let mut found = check_path(req.uri().path());
    if found.is_none()
        && let Some(q) = req.uri().query()
    {
        found = check_pairs(q.as_bytes(), false);
    }
    let (parts, mut body) = req.into_parts();
    if found.is_none()
        && !matches!(parts.method, Method::GET | Method::HEAD)
        && is_urlencoded(&parts.headers)
    {
        let bytes = match to_bytes(body, body_limit(&parts.extensions)).await {
            Ok(b) => b,
            Err(_) => return too_large(),
        };
        found = check_pairs(&bytes, true);
        body = Body::from(bytes);
    }
    match found {
        None => next.run(Request::from_parts(parts, body)).await,
        Some(place) => {
            tracing::warn!(?place, "control character refused");
            refusal(place)
        }
    }
}

/// 413 for a form body larger than flowdeck accepts.
pub fn too_large() -> Response {
    ui::error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Too large",
        "What you sent is larger than flowdeck accepts here (2 MiB when logged in, 16 KiB \
         otherwise). Nothing was saved.",
    )
}

fn refusal(place: Place) -> Response {
    let what = match place {
        Place::Path => "The address you opened contains a control character".to_string(),
        Place::Field(f) => format!("The field “{f}” contains a control character"),
    };
    let text = format!(
        "{what} (such as a NUL byte or an escape code), which flowdeck does not accept. Nothing \
         was saved. Go back — your browser still has what you typed — remove the character, and \
         send it again."
    );
    ui::error_response(StatusCode::UNPROCESSABLE_ENTITY, "Not accepted", &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_byte_in_a_field_is_found_and_named() {
        assert_eq!(
            check_pairs(b"handle=ann%00&password=x", true),
            Some(Place::Field("handle".into()))
        );
    }

    #[test]
    fn line_breaks_and_tabs_are_allowed_in_form_fields_but_not_in_queries() {
        assert_eq!(check_pairs(b"body=a%0D%0Ab%09c", true), None);
        assert_eq!(
            check_pairs(b"q=a%0Ab", false),
            Some(Place::Field("q".into()))
        );
    }

    #[test]
    fn escape_and_delete_characters_are_refused() {
        assert!(check_pairs(b"name=%1B%5B31m", true).is_some());
        assert!(check_pairs(b"name=a%7F", true).is_some());
        assert!(check_pairs("name=a\u{85}".as_bytes(), true).is_some());
    }

    #[test]
    fn a_control_character_in_the_path_is_refused() {
        assert_eq!(check_path("/docs/%00"), Some(Place::Path));
        assert_eq!(check_path("/docs/12"), None);
    }
}
