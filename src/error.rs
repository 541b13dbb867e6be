//! The one error policy. Handlers return `Result<_, AppError>`; each variant says its status.
//! A 500 shows an opaque message and logs the whole cause chain once; the user never sees
//! internals. Validation problems of a form are not errors: the handler re-renders the form
//! with the user's input and a message (status 422).

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 404: no such thing, or a thing the caller may not know exists.
    #[error("not found")]
    NotFound,
    /// 403: the caller's role does not allow this action. The text says what is needed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 400: a request no form of ours would send (tampered or malformed).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 409: the action conflicts with the current state. The text says how.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 503 with `Retry-After`: the database cannot be reached, or every password-hashing slot is
    /// busy. Nothing was changed; the text says when to try again.
    #[error("unavailable: {why}")]
    Unavailable { why: String, retry_after: u64 },
    /// 500: anything unexpected. Logged with its cause chain; the user sees an opaque page.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}

/// What a page says while PostgreSQL cannot be reached.
const DB_DOWN: &str = "flowdeck cannot reach its database just now. Nothing was changed. \
    Please try again in a few seconds.";

impl AppError {
    /// 503: the database is unreachable.
    pub fn database_down() -> Self {
        Self::Unavailable {
            why: DB_DOWN.into(),
            retry_after: 5,
        }
    }
}

/// True when `e` means PostgreSQL could not be reached (as opposed to a failing query): no
/// connection, a broken one, or the server ending sessions because it is shutting down,
/// restarting or still starting (SQLSTATE classes 08 "connection exception" and 57P
/// "operator intervention": 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
/// cannot_connect_now).
pub fn is_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        if is_unreachable(&e) {
            tracing::warn!(error = %e, "database unreachable");
            return Self::database_down();
        }
        Self::Internal(e.into())
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        // The sqlx store reports backend errors as text; these are sqlx's words for
        // "could not reach the database" (see `is_unreachable`).
        let text = e.to_string();
        if [
            "pool timed out",
            "closed pool",
            "error communicating with database",
            // The server ending sessions as it stops, or refusing them while it starts.
            "terminating connection",
            "the database system is",
        ]
        .iter()
        .any(|m| text.contains(m))
        {
            tracing::warn!(error = %text, "session store unreachable");
            return Self::database_down();
        }
        Self::Internal(e.into())
    }
}

impl From<crate::auth::password::Busy> for AppError {
    fn from(_: crate::auth::password::Busy) -> Self {
        Self::Unavailable {
            why: "flowdeck is checking many passwords at once just now. Nothing was changed; \
                  please try again in a moment."
                .into(),
            retry_after: 2,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing at this address. Check the link, or start again from the home page."
                    .to_string(),
            ),
            AppError::Forbidden(why) => (StatusCode::FORBIDDEN, "Not allowed", why.clone()),
            AppError::BadRequest(why) => (StatusCode::BAD_REQUEST, "Bad request", why.clone()),
            AppError::Conflict(why) => (StatusCode::CONFLICT, "Conflict", why.clone()),
            AppError::Unavailable { why, retry_after } => {
                let mut resp = crate::ui::error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again shortly",
                    why,
                );
                if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after.to_string()) {
                    resp.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
                }
                return resp;
            }
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "flowdeck could not finish this request. Nothing you typed was saved \
                     half-way; please try again. If it keeps happening, tell your admin the \
                     time it happened."
                        .to_string(),
                )
            }
        };
        crate::ui::error_response(status, title, &message)
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// The name of the database constraint a query violated, if any.
pub fn violated_constraint(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// `Ok(None)` when `r` failed only because it violated `constraint` (e.g. a name already taken);
/// the one place an insert's "already exists" becomes an ordinary answer.
pub fn none_if_violates<T>(r: sqlx::Result<T>, constraint: &str) -> sqlx::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if violated_constraint(&e) == Some(constraint) => Ok(None),
        Err(e) => Err(e),
    }
}
