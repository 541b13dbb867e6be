//! Sessions: who is logged in (loaded on every request, so a disabled account or a changed
//! password ends older sessions at once), the login gate for every non-public path, and the CSRF
//! token kept in the session. A session is stored only at login: anonymous visitors store nothing
//! (their forms use the signed pre-session token of `cookies`), and flash messages live in a
//! signed cookie, so a committed write never waits on a session write.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{Method, StatusCode, request::Parts},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::{
    cookies::Cookies,
    model::{AccountId, CurrentUser},
    store, token,
};
use crate::{
    error::AppError,
    state::AppState,
    ui::{Flash, PageCtx},
};

pub const USER_KEY: &str = "user";
pub const CSRF_KEY: &str = "csrf";
/// When this session was last written (unix minutes): refreshed now and then so an active
/// session's idle expiry moves forward without a store write on every request.
pub const TOUCHED_KEY: &str = "touched";

#[derive(Serialize, Deserialize)]
struct SessionUser {
    id: i64,
    epoch: i32,
}

/// Starts an authenticated session: a new session id (no fixation), a new CSRF token.
pub async fn log_in(session: &Session, id: AccountId, epoch: i32) -> Result<(), AppError> {
    session.cycle_id().await?;
    session
        .insert(USER_KEY, SessionUser { id: id.0, epoch })
        .await?;
    session.insert(CSRF_KEY, token::random_token()).await?;
    session
        .insert(TOUCHED_KEY, chrono::Utc::now().timestamp() / 60)
        .await?;
    Ok(())
}

/// Keeps this session valid after the account's epoch changed (own password change).
pub async fn refresh_epoch(session: &Session, id: AccountId, epoch: i32) -> Result<(), AppError> {
    session
        .insert(USER_KEY, SessionUser { id: id.0, epoch })
        .await?;
    Ok(())
}

/// Keeps a secret for the next page only (post/redirect/get): the page that shows it takes it
/// out as it shows it, so a reload neither shows it again nor makes another.
pub async fn show_once<T: serde::Serialize + Send + Sync>(
    session: &Session,
    key: &str,
    value: T,
) -> Result<(), AppError> {
    session
        .insert(key, value)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!(e.to_string())))
}

/// Takes out what `show_once` kept under `key`, if anything.
pub async fn take_shown<T: serde::de::DeserializeOwned>(session: &Session, key: &str) -> Option<T> {
    session.remove::<T>(key).await.ok().flatten()
}

/// The CSRF token of a logged-in session (created if an older session lacks one).
pub async fn csrf_token(session: &Session) -> Result<String, AppError> {
    if let Some(t) = session.get::<String>(CSRF_KEY).await? {
        return Ok(t);
    }
    let t = token::random_token();
    session.insert(CSRF_KEY, &t).await?;
    Ok(t)
}

/// Paths anyone may open without logging in.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/setup" | "/healthz" | "/readyz" | "/metrics" | "/favicon.ico"
    ) || path.starts_with("/invite/")
        || path.starts_with("/style/")
        || path.starts_with("/assets/")
}

/// Middleware: loads the current user into the request's extensions and sends anyone not
/// logged in to `/login` (with `next` for GET) unless the path is public.
pub async fn load_user(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    // Static files and probes never touch the session (so never the database): a probe must
    // answer even while PostgreSQL is down.
    if path.starts_with("/style/")
        || path.starts_with("/assets/")
        || matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics")
    {
        return next.run(req).await;
    }
    req.extensions_mut()
        .insert(crate::ui::time::Now(state.clock.now()));
    let is_read = matches!(*req.method(), Method::GET | Method::HEAD);
    let user = match current_user(&state, &session, is_read).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    match user {
        Some(u) => {
            tracing::Span::current().record("account_id", u.id.0);
            req.extensions_mut().insert(u);
        }
        None if !is_public(&path) => {
            let target = if req.method() == Method::GET {
                let pq = req
                    .uri()
                    .path_and_query()
                    .map_or("/", |pq| pq.as_str())
                    .to_string();
                if pq == "/" {
                    "/login".to_string()
                } else {
                    format!(
                        "/login?next={}",
                        serde_urlencoded::to_string([("", pq)])
                            .unwrap_or_default()
                            .trim_start_matches('=')
                    )
                }
            } else {
                if let Some(c) = req.extensions().get::<Cookies>() {
                    c.flash(Flash::error(
                        "Your session has ended. Log in again, then repeat what you were doing.",
                    ));
                }
                "/login".to_string()
            };
            return Redirect::to(&target).into_response();
        }
        None => {}
    }
    next.run(req).await
}

/// Middleware just inside `load_user`, for every page: axum's plain-text rejections become error
/// pages, an error page keeps the signed-in user's navigation, and a write that succeeded is
/// marked for `saved_despite_session`.
pub async fn finish_pages(session: Session, req: Request, next: Next) -> Response {
    let write_done = req.extensions().get::<WriteDone>().cloned();
    let user = req.extensions().get::<CurrentUser>().cloned();
    let path = req.uri().path().to_string();
    let mut resp = readable_rejection(next.run(req).await).await;
    if let Some(user) = user
        && let Some(page) = resp.extensions_mut().remove::<crate::ui::ErrorPage>()
    {
        let ctx = PageCtx {
            user: Some(user),
            csrf: csrf_token(&session).await.unwrap_or_default(),
            flash: None,
            path,
            now: chrono::Utc::now(),
        };
        *resp.body_mut() = axum::body::Body::from(page.render(&ctx).0);
        resp.headers_mut()
            .remove(axum::http::header::CONTENT_LENGTH);
    }
    if let Some(w) = write_done
        && (resp.status().is_success() || resp.status().is_redirection())
    {
        w.0.store(true, Ordering::Relaxed);
    }
    resp
}

/// axum's extractors refuse a malformed request (a path segment that is not a number, a form
/// that does not deserialize) with a bare text body; turn it into an error page.
async fn readable_rejection(resp: Response) -> Response {
    let is_text = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let status = resp.status();
    if !is_text || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    // axum's text names Rust types ("Cannot parse `abc` to a `i32`"): logged, not shown.
    let (_, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    tracing::info!(%status, rejection = %String::from_utf8_lossy(&text), "request refused");
    let (title, message) = if status == StatusCode::NOT_FOUND
        || status == StatusCode::METHOD_NOT_ALLOWED
    {
        (
            "Not found",
            "There is nothing to do at this address. Check the link, or start again from the \
             home page.",
        )
    } else {
        (
            "Not accepted",
            "flowdeck could not read this request: a part of the address or a form field is not \
             in the form it expects (a number where a number belongs, for example). Nothing was \
             changed. Go back, check what you entered and send it again.",
        )
    };
    crate::ui::error_response(status, title, message)
}

/// Set when a write's handler answered with success (inside the session layer), so the layer
/// outside it knows the change was made even if saving the session then failed.
#[derive(Clone, Default)]
pub struct WriteDone(Arc<AtomicBool>);

/// Middleware outside the session layer. tower-sessions answers an empty 500 when it cannot save
/// the session after the handler ran; after a committed write that would make the user send the
/// form again and write twice. Say instead that the change was saved.
pub async fn saved_despite_session(mut req: Request, next: Next) -> Response {
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let done = WriteDone::default();
    req.extensions_mut().insert(done.clone());
    let resp = next.run(req).await;
    if is_write
        && resp.status() == StatusCode::INTERNAL_SERVER_ERROR
        && done.0.load(Ordering::Relaxed)
    {
        tracing::error!("a write succeeded but its session could not be saved");
        return (
            StatusCode::OK,
            crate::ui::notice_page(
                "Saved",
                "Your change was saved, but flowdeck could not update your login session \
                 afterwards. Do not send the form again: open the page to see your change. If \
                 you find yourself logged out, log in again.",
            ),
        )
            .into_response();
    }
    resp
}

/// The session's account, if it is still enabled and its password unchanged. Only reads
/// (`is_read`) extend the idle expiry, so a write's response never waits on a session write.
async fn current_user(
    state: &AppState,
    session: &Session,
    is_read: bool,
) -> Result<Option<CurrentUser>, AppError> {
    let Some(su) = session.get::<SessionUser>(USER_KEY).await? else {
        return Ok(None);
    };
    let account = match state.cache.account(su.id) {
        Some(u) => Some(u),
        None => {
            let read_at = state.cache.generation();
            let u = store::current_user(&state.pool, AccountId(su.id)).await?;
            if let Some(u) = &u {
                state.cache.put_account(u, read_at);
            }
            u
        }
    };
    match account {
        Some(u) if u.auth_epoch == su.epoch => {
            if is_read {
                touch(session, state.config.session_idle_minutes).await?;
            }
            Ok(Some(u))
        }
        _ => {
            // Disabled, deleted, or its password changed elsewhere: this session is over.
            session.flush().await?;
            Ok(None)
        }
    }
}

/// Writes the session (extending its idle expiry) when a quarter of the idle window has passed
/// since the last write; sessions are saved only when modified.
async fn touch(session: &Session, idle_minutes: i64) -> Result<(), AppError> {
    let now = chrono::Utc::now().timestamp() / 60;
    let last = session.get::<i64>(TOUCHED_KEY).await?.unwrap_or(0);
    if now - last >= (idle_minutes / 4).max(1) {
        session.insert(TOUCHED_KEY, now).await?;
    }
    Ok(())
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// Every page handler takes a `PageCtx`: the viewer, the CSRF token for its forms, the flash.
impl<S: Send + Sync> FromRequestParts<S> for PageCtx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, msg)| AppError::internal(anyhow::anyhow!(msg)))?;
        let cookies = Cookies::from_request_parts(parts, state).await?;
        let user = parts.extensions.get::<CurrentUser>().cloned();
        // A logged-in session has its token; anyone else gets the signed pre-session token, so
        // showing a form to an anonymous visitor stores nothing.
        let csrf = if user.is_some() {
            csrf_token(&session).await?
        } else {
            cookies.pre_session_token()
        };
        let flash = cookies.take_flash();
        let now = parts
            .extensions
            .get::<crate::ui::time::Now>()
            .map_or_else(chrono::Utc::now, |n| n.0);
        Ok(Self {
            user,
            csrf,
            flash,
            path: parts.uri.path().to_string(),
            now,
        })
    }
}
