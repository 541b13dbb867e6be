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
    /// 500: anything unexpected. Logged with its cause chain; the user sees an opaque page.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Internal(e.into())
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
        (status, crate::ui::error_page(status, title, &message)).into_response()
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
