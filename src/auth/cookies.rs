//! Signed cookies that need no server-side storage, so an anonymous visitor stores nothing and a
//! committed write never waits on a session write: the one-time flash message, the pre-login CSRF
//! nonce (signed double-submit, for the forms shown before a session exists), and the long-lived
//! device cookie that lets a device which logged in before past the per-account login throttle.
//!
//! One layer (`layer`) reads them into a request extension (`Cookies`) and writes what changed onto
//! the response. The signing key lives in `server_secrets`, shared by every replica.

use std::sync::{Arc, Mutex};

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use tower_sessions::cookie::{Cookie, SameSite, time::Duration as CookieDuration};

pub use super::keys::Keys;
use super::{model::AccountId, token};
use crate::{
    error::AppError,
    state::AppState,
    ui::{Flash, form::FormErrors},
};

const FLASH: &str = "flowdeck_flash";
const PRE: &str = "flowdeck_pre";
const DEVICE: &str = "flowdeck_device";
/// How long a device stays known after its last login.
const DEVICE_DAYS: i64 = 365;

#[derive(Default)]
struct Inner {
    incoming_flash: Option<Flash>,
    flash_taken: bool,
    outgoing_flash: Option<Flash>,
    pre_nonce: Option<String>,
    pre_fresh: bool,
    pre_used: bool,
    device: Option<AccountId>,
    remember_device: Option<AccountId>,
}

/// This request's browser-kept state; an extractor for handlers (`cookies.done(msg, to)`).
#[derive(Clone)]
pub struct Cookies {
    inner: Arc<Mutex<Inner>>,
    keys: Arc<Keys>,
}

impl Cookies {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Shows `flash` on the next page this browser opens.
    pub fn flash(&self, flash: Flash) {
        self.lock().outgoing_flash = Some(flash);
    }

    /// Post/redirect/get: shows `msg` on the page at `to`, then redirects there.
    pub fn done(&self, msg: impl Into<String>, to: &str) -> Redirect {
        self.flash(Flash::ok(msg));
        Redirect::to(to)
    }

    /// A refusal of a one-button form (a state change, a one-line note): shows `why` as an error
    /// on the page at `to`, then redirects there (303).
    pub fn refuse(&self, why: impl Into<String>, to: &str) -> Redirect {
        self.flash(Flash::error(why));
        Redirect::to(to)
    }

    /// The one form outcome. `result` is what the operation said: done → its message as a flash
    /// and a 303 to `to`; refused in the user's terms (`Conflict`, `BadRequest`) → `again(reason)`
    /// renders the same page with the reason at the form and what was typed kept, answered 422.
    /// Anything else (403, 404, 503, 500) stays an error page (with the navigation).
    pub async fn outcome<Fut>(
        &self,
        result: Result<String, AppError>,
        to: &str,
        again: impl FnOnce(String) -> Fut,
    ) -> Result<Response, AppError>
    where
        Fut: Future<Output = Result<axum::response::Html<String>, AppError>>,
    {
        match result {
            Ok(msg) => Ok(self.done(msg, to).into_response()),
            Err(AppError::Conflict(why) | AppError::BadRequest(why)) => {
                let page = again(why).await?;
                Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
            }
            Err(e) => Err(e),
        }
    }

    /// The same outcome for forms whose operation reports field errors: `Ok(msg)` → flash and a
    /// 303 to `to`; `Err(errs)` → `again(errs)`, the page with each message at its field and the
    /// input kept, answered 422.
    pub async fn form_outcome<Fut>(
        &self,
        result: Result<(String, String), FormErrors>,
        again: impl FnOnce(FormErrors) -> Fut,
    ) -> Result<Response, AppError>
    where
        Fut: Future<Output = Result<axum::response::Html<String>, AppError>>,
    {
        match result {
            Ok((msg, to)) => Ok(self.done(msg, &to).into_response()),
            Err(errs) => {
                let page = again(errs).await?;
                Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
            }
        }
    }

    /// The flash message this request brought, removed from the browser once shown.
    pub fn take_flash(&self) -> Option<Flash> {
        let mut i = self.lock();
        let f = i.incoming_flash.take();
        if f.is_some() {
            i.flash_taken = true;
        }
        f
    }

    /// The CSRF token for a form shown without a session; a browser without a nonce gets one
    /// with this response.
    pub fn pre_session_token(&self) -> String {
        let mut i = self.lock();
        i.pre_used = true;
        let nonce = i.pre_nonce.get_or_insert_with(token::random_token).clone();
        self.keys.pre_session_token(&nonce)
    }

    /// The token a form posted without a session must carry, if this browser has a nonce.
    pub fn expected_pre_session_token(&self) -> Option<String> {
        let i = self.lock();
        if i.pre_fresh {
            return None;
        }
        i.pre_nonce
            .as_deref()
            .map(|n| self.keys.pre_session_token(n))
    }

    /// The account this browser logged in as before, per its signed device cookie.
    pub fn known_device(&self) -> Option<AccountId> {
        self.lock().device
    }

    /// Marks this browser as a known device of `id` (after a successful login).
    pub fn remember_device(&self, id: AccountId) {
        self.lock().remember_device = Some(id);
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Cookies {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Cookies>()
            .cloned()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("the cookie layer is not installed")))
    }
}

/// Paths that need neither keys nor cookies (probes and static files answer without a database).
fn bypasses(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/favicon.ico")
        || path.starts_with("/style/")
        || path.starts_with("/assets/")
}

/// Middleware: reads the signed cookies into `Cookies`, and writes back what the handler changed.
pub async fn layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if bypasses(req.uri().path()) {
        return next.run(req).await;
    }
    let keys = match state.keys().await {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let cookies = Cookies {
        inner: Arc::new(Mutex::new(read(req.headers(), &keys))),
        keys,
    };
    req.extensions_mut().insert(cookies.clone());
    let mut resp = next.run(req).await;
    write(&cookies, state.config.https, resp.headers_mut());
    resp
}

fn read(headers: &HeaderMap, keys: &Keys) -> Inner {
    let mut inner = Inner::default();
    let pairs = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok);
    for c in pairs {
        let name = c.name().trim_start_matches("__Host-");
        match name {
            FLASH => {
                inner.incoming_flash = keys
                    .verify("flash", c.value())
                    .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
                    .and_then(|b| serde_json::from_slice(&b).ok());
                // An unreadable flash is dropped from the browser too.
                inner.flash_taken = inner.incoming_flash.is_none();
            }
            PRE => {
                let v = c.value();
                if v.len() == 43
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    inner.pre_nonce = Some(v.to_string());
                }
            }
            DEVICE => {
                inner.device = keys
                    .verify("device", c.value())
                    .and_then(|p| p.parse::<i64>().ok())
                    .map(AccountId);
            }
            _ => {}
        }
    }
    inner.pre_fresh = inner.pre_nonce.is_none();
    inner
}

fn write(cookies: &Cookies, https: bool, h: &mut HeaderMap) {
    let i = cookies.lock();
    let named = |name: &str| -> String {
        if https {
            format!("__Host-{name}")
        } else {
            name.to_string()
        }
    };
    let base = |name: &str, value: String| {
        Cookie::build((named(name), value))
            .path("/")
            .http_only(true)
            .secure(https)
            .same_site(SameSite::Lax)
    };
    let mut out: Vec<Cookie<'static>> = Vec::new();
    if let Some(f) = &i.outgoing_flash {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(f).unwrap_or_default());
        out.push(base(FLASH, cookies.keys.sign("flash", &payload)).build());
    } else if i.flash_taken {
        out.push(
            base(FLASH, String::new())
                .max_age(CookieDuration::ZERO)
                .build(),
        );
    }
    if i.pre_fresh
        && i.pre_used
        && let Some(n) = &i.pre_nonce
    {
        out.push(base(PRE, n.clone()).build());
    }
    if let Some(id) = i.remember_device {
        out.push(
            base(DEVICE, cookies.keys.sign("device", &id.0.to_string()))
                .max_age(CookieDuration::days(DEVICE_DAYS))
                .build(),
        );
    }
    for c in out {
        if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
            h.append(header::SET_COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_value_verifies_only_for_its_purpose_and_unchanged() {
        let k = Keys::fixed(7);
        let s = k.sign("device", "42");
        assert_eq!(k.verify("device", &s), Some("42"));
        assert_eq!(k.verify("flash", &s), None);
        assert_eq!(k.verify("device", &s.replace("42.", "43.")), None);
        assert_eq!(Keys::fixed(8).verify("device", &s), None);
    }

    #[test]
    fn a_pre_session_token_depends_on_the_nonce_and_the_key() {
        let k = Keys::fixed(1);
        assert_ne!(k.pre_session_token("a"), k.pre_session_token("b"));
        assert_ne!(
            k.pre_session_token("a"),
            Keys::fixed(2).pre_session_token("a")
        );
    }

    #[test]
    fn debug_output_hides_the_key() {
        assert_eq!(format!("{:?}", Keys::fixed(9)), "Keys(<redacted>)");
    }
}
