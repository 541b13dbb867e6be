//! `PageCtx`: what the shell needs for every page — the viewer, the CSRF token, a one-time flash
//! message and the current path. Plain data: `auth::session` builds it from the request.

use serde::{Deserialize, Serialize};

use crate::auth::model::CurrentUser;

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
    /// The instant this page is rendered at (the app's clock: tests pin it).
    pub now: chrono::DateTime<chrono::Utc>,
}

impl PageCtx {
    pub fn anonymous() -> Self {
        Self {
            user: None,
            csrf: String::new(),
            flash: None,
            path: String::new(),
            now: chrono::Utc::now(),
        }
    }

    /// The viewer's time zone (UTC when logged out or unknown).
    pub fn zone(&self) -> chrono_tz::Tz {
        super::time::zone(self.tz())
    }

    /// The viewer's time zone name (UTC when logged out).
    pub fn tz(&self) -> &str {
        self.user.as_ref().map_or("UTC", |u| u.timezone.as_str())
    }
}
