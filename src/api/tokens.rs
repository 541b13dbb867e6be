//! API tokens: `fdk_` + 43 random base62 characters (≈256 bits; the prefix lets secret scanners
//! find leaked ones), stored only as a SHA-256; scopes, an expiry, the last use, revocation.
//! Every create, revoke and use after expiry is audited.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, distributions::Alphanumeric};
use serde_json::json;
use sqlx::PgPool;

use crate::{
    audit::{self, Actor, Change},
    auth::{
        model::{AccountId, CurrentUser, Role},
        token::hash_token,
    },
    error::{AppError, AppResult},
    state::AppState,
    ui::form::FormErrors,
};

/// The scopes a token may carry, with what each allows.
pub const SCOPES: [(&str, &str); 5] = [
    ("read", "read everything the API shows"),
    (
        "deployments:write",
        "record deployments, move their status, report health",
    ),
    ("releases:write", "record tags"),
    ("status:write", "check in: online, away, offline"),
    ("incidents:write", "open, update and resolve incidents"),
];

/// Longest and default lifetimes, in days.
pub const MAX_DAYS: i64 = 365;
pub const DEFAULT_DAYS: i64 = 90;

const PREFIX: &str = "fdk_";

/// A new secret: `fdk_` and 43 characters from [A-Za-z0-9].
pub fn new_secret() -> String {
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    format!("{PREFIX}{body}")
}

#[derive(Clone, Debug)]
pub struct TokenRow {
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Tokens of `account` (all accounts' when `None`), newest first.
pub async fn list(pool: &PgPool, account: Option<AccountId>) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as!(
        TokenRow,
        r#"select t.id, a.handle as owner, t.name, t.prefix, t.scopes, t.created_at as "created_at: _",
                  t.expires_at as "expires_at: _", t.last_used_at as "last_used_at: _",
                  t.last_used_ip, t.revoked_at as "revoked_at: _"
           from api_tokens t join accounts a on a.id = t.account_id
           where $1::bigint is null or t.account_id = $1
           order by t.revoked_at is null desc, t.created_at desc, t.id desc
           limit 200"#,
        account.map(|a| a.0)
    )
    .fetch_all(pool)
    .await
}

/// What the token form sends.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub days: String,
    /// The checked scopes (a form sends one `scopes` field per checkbox).
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Creates a token for `owner`; the secret is returned once and never stored.
#[tracing::instrument(skip_all)]
pub async fn create(
    state: &AppState,
    actor: &Actor,
    owner: &CurrentUser,
    f: &TokenForm,
) -> AppResult<Result<String, FormErrors>> {
    let mut errs = FormErrors::default();
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errs.add(
            "name",
            "Name the token after where it is used, e.g. “CI deploy job”.",
        );
    }
    let days = match f.days.trim() {
        "" => DEFAULT_DAYS,
        d => match d.parse::<i64>() {
            Ok(n) if (1..=MAX_DAYS).contains(&n) => n,
            _ => {
                errs.add("days", format!("Between 1 and {MAX_DAYS} days."));
                DEFAULT_DAYS
            }
        },
    };
    let mut scopes: Vec<String> = f
        .scopes
        .iter()
        .filter(|s| SCOPES.iter().any(|(k, _)| k == s))
        .cloned()
        .collect();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty()
        || scopes.len()
            != f.scopes
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
    {
        errs.add("scopes", "Choose at least one of the listed scopes.");
    }
    if !errs.is_empty() {
        return Ok(Err(errs));
    }
    let secret = new_secret();
    let prefix: String = secret.chars().take(PREFIX.len() + 6).collect();
    let expires = state.clock.now() + Duration::days(days);
    let mut tx = state.pool.begin().await?;
    let id = sqlx::query_scalar!(
        "insert into api_tokens (account_id, name, prefix, token_hash, scopes, expires_at, created_by)
         values ($1, $2, $3, $4, $5, $6, $7) returning id",
        owner.id.0,
        name,
        prefix,
        hash_token(&secret),
        &scopes,
        expires as _,
        actor.id.map_or(owner.id.0, |a| a.0)
    )
    .fetch_one(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "token.created",
            target_type: "token",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "name": name, "owner": owner.handle, "scopes": scopes, "expires_at": expires })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(secret))
}

/// What the admin's service-token form sends.
#[derive(Clone, Debug, Default)]
pub struct ServiceTokenForm {
    /// The service account's handle (made on first use), e.g. `ci-bot`.
    pub service: String,
    /// member, or lead for a bot that records tags or adds services.
    pub role: String,
    pub token: TokenForm,
}

/// An admin creates a token acting as a named service account (made on first use; it never logs
/// in and is not on the team board). Returns the service's handle and the secret, shown once.
#[tracing::instrument(skip_all)]
pub async fn create_service(
    state: &AppState,
    actor: &Actor,
    admin: &CurrentUser,
    f: &ServiceTokenForm,
) -> AppResult<Result<(String, String), FormErrors>> {
    crate::auth::policy::require(
        Some(admin),
        crate::auth::policy::Action::ManageAccount {
            target: AccountId(0),
        },
    )?;
    let handle = f.service.trim().to_lowercase();
    let role = match f.role.as_str() {
        "" | "member" => Role::Member,
        "lead" => Role::Lead,
        _ => {
            return Ok(Err(FormErrors::field(
                "role",
                "A service acts as a member or a lead.",
            )));
        }
    };
    let existing = sqlx::query!(
        r#"select id, is_service, handle, display_name, role as "role: Role", timezone, auth_epoch
           from accounts where handle = $1"#,
        handle
    )
    .fetch_optional(&state.pool)
    .await?;
    let account = match existing {
        Some(a) if !a.is_service => {
            return Ok(Err(FormErrors::field(
                "service",
                format!("“{handle}” is a person's account; name the service differently."),
            )));
        }
        Some(a) => CurrentUser {
            id: AccountId(a.id),
            handle: a.handle,
            display_name: a.display_name,
            role: a.role,
            timezone: a.timezone,
            auth_epoch: a.auth_epoch,
            unread: 0,
        },
        None => {
            let password = crate::auth::token::random_token();
            let form = crate::auth::ops::AccountForm {
                handle: handle.clone(),
                display_name: format!("{handle} (service)"),
                email: String::new(),
                timezone: "UTC".into(),
                new_password: password.clone(),
                confirm: password,
            };
            let valid = match crate::auth::ops::validate_account(&form) {
                Ok(v) => v,
                Err(e) => {
                    let why = e
                        .get("handle")
                        .cloned()
                        .unwrap_or_else(|| "Choose another name.".into());
                    return Ok(Err(FormErrors::field("service", why)));
                }
            };
            let mut tx = state.pool.begin().await?;
            let id = match crate::auth::ops::create_account(&mut tx, actor, valid, role).await {
                Ok(id) => id,
                Err(e) => return Ok(Err(e)),
            };
            sqlx::query!("update accounts set is_service = true where id = $1", id.0)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            CurrentUser {
                id,
                handle: handle.clone(),
                display_name: format!("{handle} (service)"),
                role,
                timezone: "UTC".into(),
                auth_epoch: 0,
                unread: 0,
            }
        }
    };
    Ok(create(state, actor, &account, &f.token)
        .await?
        .map(|secret| (handle, secret)))
}

/// Revokes token `id`: its owner may, and an admin may revoke anyone's.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn revoke(
    state: &AppState,
    actor: &Actor,
    user: &CurrentUser,
    id: i64,
) -> AppResult<String> {
    let mut tx = state.pool.begin().await?;
    let row = sqlx::query!(
        "select account_id, name, revoked_at from api_tokens where id = $1 for update",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if row.account_id != user.id.0 && user.role != Role::Admin {
        return Err(AppError::NotFound);
    }
    if row.revoked_at.is_some() {
        return Err(AppError::Conflict(format!(
            "“{}” is already revoked.",
            row.name
        )));
    }
    sqlx::query!(
        "update api_tokens set revoked_at = $2 where id = $1",
        id,
        state.clock.now() as _
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "token.revoked",
            target_type: "token",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "name": row.name })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(format!(
        "“{}” is revoked: it stops working at once.",
        row.name
    ))
}

/// A caller the API let in: the token and the account it acts for.
#[derive(Clone, Debug)]
pub struct Caller {
    pub token_id: i64,
    pub token_name: String,
    pub scopes: Vec<String>,
    pub user: CurrentUser,
}

impl Caller {
    pub fn may(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Who the audit log names: the account, through this token.
    pub fn actor(&self, request_id: Option<String>) -> Actor {
        let mut a = Actor::account(self.user.id, &self.user.handle, request_id);
        a.label = format!("{} (token “{}”)", self.user.handle, self.token_name);
        a
    }
}

/// Why a bearer token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Unknown, revoked, or its account is disabled.
    Invalid,
    Expired,
}

/// The caller a secret belongs to, now. A use after expiry is audited. The last use is written
/// at most once a minute per token (not a write per request).
pub async fn authenticate(
    state: &AppState,
    secret: &str,
    ip: &str,
) -> AppResult<Result<Caller, Refused>> {
    if !secret.starts_with(PREFIX) || secret.len() > 100 {
        return Ok(Err(Refused::Invalid));
    }
    let now = state.clock.now();
    let Some(row) = sqlx::query!(
        r#"select t.id, t.name, t.scopes, t.expires_at as "expires_at: DateTime<Utc>",
                  t.last_used_at as "last_used_at: DateTime<Utc>",
                  a.id as account_id, a.handle, a.display_name, a.role as "role: Role", a.timezone,
                  a.auth_epoch
           from api_tokens t join accounts a on a.id = t.account_id
           where t.token_hash = $1 and t.revoked_at is null and a.disabled_at is null"#,
        hash_token(secret)
    )
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(Err(Refused::Invalid));
    };
    let user = CurrentUser {
        id: AccountId(row.account_id),
        handle: row.handle,
        display_name: row.display_name,
        role: row.role,
        timezone: row.timezone,
        auth_epoch: row.auth_epoch,
        unread: 0,
    };
    if row.expires_at <= now {
        let mut tx = state.pool.begin().await?;
        audit::record(
            &mut tx,
            &Actor::account(user.id, &user.handle, None),
            Change {
                action: "token.used_after_expiry",
                target_type: "token",
                target_id: row.id.to_string(),
                before: None,
                after: Some(json!({ "name": row.name, "ip": ip })),
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(Err(Refused::Expired));
    }
    if row
        .last_used_at
        .is_none_or(|t| now - t >= Duration::minutes(1))
    {
        sqlx::query!(
            "update api_tokens set last_used_at = $2, last_used_ip = $3 where id = $1",
            row.id,
            now as _,
            ip
        )
        .execute(&state.pool)
        .await?;
    }
    Ok(Ok(Caller {
        token_id: row.id,
        token_name: row.name,
        scopes: row.scopes,
        user,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_the_prefix_and_256_bits_of_base62() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("fdk_") && a.len() == 47, "{a}");
        assert!(a[4..].chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
