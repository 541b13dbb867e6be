//! The audit log: one helper, `record`, that every write calls inside its own transaction
//! (who, what, when, before/after), and the admin's view of it.

pub mod pages;
mod store;

use axum::{extract::FromRequestParts, http::request::Parts, response::Response};
use serde_json::Value;
use sqlx::PgConnection;

use crate::auth::{model::AccountId, model::CurrentUser};

/// Who made a change: an account (with the request id) or a named system actor such as `cli`.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Option<AccountId>,
    pub label: String,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn system(label: &str) -> Self {
        Self {
            id: None,
            label: label.to_string(),
            request_id: None,
        }
    }

    pub fn account(id: AccountId, handle: &str, request_id: Option<String>) -> Self {
        Self {
            id: Some(id),
            label: handle.to_string(),
            request_id,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Actor::account(user.id, &user.handle, request_id))
    }
}

/// What changed: `action` like `account.role_changed`, the target, and its state before/after.
pub struct Change<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Records `change` by `actor` in the caller's transaction.
pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    change: Change<'_>,
) -> sqlx::Result<()> {
    store::insert(conn, actor, change).await
}
