//! `PageCtx`: what the shell needs for every page — the viewer, the CSRF token, a one-time flash
//! message (from its signed cookie) and the current path — taken from the request.

use axum::{extract::FromRequestParts, http::request::Parts};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::{
    auth::{
        cookies::Cookies,
        session::{self, CurrentUser},
    },
    error::AppError,
};

/// A message shown once on the next page (post/redirect/get).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flash {
    /// `ok` or `error`.
    pub kind: String,
    pub text: String,
}

impl Flash {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            kind: "ok".into(),
            text: text.into(),
        }
    }
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            kind: "error".into(),
            text: text.into(),
        }
    }
}

pub struct PageCtx {
    pub user: Option<CurrentUser>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub path: String,
}

impl PageCtx {
    pub fn anonymous() -> Self {
        Self {
            user: None,
            csrf: String::new(),
            flash: None,
            path: String::new(),
        }
    }

    /// The viewer's time zone name (UTC when logged out).
    pub fn tz(&self) -> &str {
        self.user.as_ref().map_or("UTC", |u| u.timezone.as_str())
    }
}

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
            session::csrf_token(&session).await?
        } else {
            cookies.pre_session_token()
        };
        let flash = cookies.take_flash();
        Ok(Self {
            user,
            csrf,
            flash,
            path: parts.uri.path().to_string(),
        })
    }
}
