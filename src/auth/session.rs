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

use super::{cookies::Cookies, model::AccountId, model::Role, store, token};
use crate::{error::AppError, state::AppState, ui::Flash};

pub const USER_KEY: &str = "user";
pub const CSRF_KEY: &str = "csrf";
/// When this session was last written (unix minutes): refreshed now and then so an active
/// session's idle expiry moves forward without a store write on every request.
pub const TOUCHED_KEY: &str = "touched";

/// The logged-in account, as loaded for this request.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: AccountId,
    pub handle: String,
    pub display_name: String,
    pub role: Role,
    pub timezone: String,
    pub auth_epoch: i32,
}

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
        "/login" | "/setup" | "/healthz" | "/readyz" | "/favicon.ico"
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
    if path.starts_with("/style/") || path.starts_with("/assets/") {
        return next.run(req).await;
    }
    let is_read = matches!(*req.method(), Method::GET | Method::HEAD);
    let user = match current_user(&state, &session, is_read).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    match user {
        Some(u) => {
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
    let write_done = req.extensions().get::<WriteDone>().cloned();
    let resp = next.run(req).await;
    if let Some(w) = write_done
        && (resp.status().is_success() || resp.status().is_redirection())
    {
        w.0.store(true, Ordering::Relaxed);
    }
    resp
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
    match store::current_user(&state.pool, AccountId(su.id)).await? {
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
