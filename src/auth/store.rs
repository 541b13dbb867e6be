//! All SQL of accounts, invites, the setup token and login throttling.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{
    model::CurrentUser,
    model::{AccountId, DisplayName, Email, Handle, Role, TimeZone},
    password::PasswordHash,
};
use crate::error::violated_constraint;

pub async fn current_user(pool: &PgPool, id: AccountId) -> sqlx::Result<Option<CurrentUser>> {
    let row = sqlx::query!(
        r#"select id, handle, display_name, role as "role: Role", timezone, auth_epoch,
                  (select count(*) from inbox_items i where i.account_id = accounts.id and i.read_at is null) as "unread!"
           from accounts where id = $1 and disabled_at is null"#,
        id.0
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| CurrentUser {
        id: AccountId(r.id),
        handle: r.handle,
        display_name: r.display_name,
        role: r.role,
        timezone: r.timezone,
        auth_epoch: r.auth_epoch,
        unread: r.unread,
    }))
}

/// The id of the enabled account with `handle`.
pub async fn active_id_by_handle(
    conn: &mut PgConnection,
    handle: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "select id from accounts where handle = $1 and disabled_at is null",
        handle
    )
    .fetch_optional(conn)
    .await
}

/// The id and display name of the enabled account with `handle`.
pub async fn active_by_handle(
    conn: &mut PgConnection,
    handle: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    let row = sqlx::query!(
        "select id, display_name from accounts where handle = $1 and disabled_at is null",
        handle
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.id, r.display_name)))
}

/// The oldest enabled admin, the default owner of things created from the shell.
pub async fn first_admin_id(conn: &mut PgConnection) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "select id from accounts where role = 'admin' and disabled_at is null order by id limit 1"
    )
    .fetch_optional(conn)
    .await
}

pub struct LoginCandidate {
    pub id: AccountId,
    pub password_hash: PasswordHash,
    pub auth_epoch: i32,
    pub disabled: bool,
}

/// The account a login form names, by handle or (if it has an `@`) by email.
pub async fn find_for_login(pool: &PgPool, key: &str) -> sqlx::Result<Option<LoginCandidate>> {
    let row = sqlx::query!(
        r#"select id, password_hash, auth_epoch, disabled_at is not null as "disabled!"
           from accounts
           where case when $1 like '%@%' then lower(email) = $1 else handle = $1 end
           limit 1"#,
        key
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| LoginCandidate {
        id: AccountId(r.id),
        password_hash: PasswordHash::from_stored(r.password_hash),
        auth_epoch: r.auth_epoch,
        disabled: r.disabled,
    }))
}

/// Charges one login attempt to `key` (`a:<login>` or `ip:<address>`) if its limits allow it:
/// at most `limit` attempts in the current hour, and none before the delay the last failure set
/// (after `free` failures each one doubles it, up to `max_delay_secs`). Counting and deciding is
/// one locked upsert, so concurrent attempts (on any replica) cannot race past the limit. It reads
/// the clock (`clock_timestamp()`, not the transaction's start time) because an attempt that waited
/// for the row lock is judged at the moment it gets it. `None`: refused.
pub async fn charge_login_attempt(
    conn: &mut PgConnection,
    key: &str,
    limit: i32,
    free: i32,
    max_delay_secs: f64,
) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!(
        r#"insert into login_throttle as t (key, failures, window_start, next_attempt_at)
           values ($1, 1, clock_timestamp(), clock_timestamp())
           on conflict (key) do update set
             failures = case when t.window_start <= clock_timestamp() - interval '1 hour' then 1
                             else t.failures + 1 end,
             window_start = case when t.window_start <= clock_timestamp() - interval '1 hour' then clock_timestamp()
                                 else t.window_start end,
             next_attempt_at = clock_timestamp() + make_interval(secs => least($4::float8,
               case when (case when t.window_start <= clock_timestamp() - interval '1 hour' then 1
                               else t.failures + 1 end) <= $3 then 0
                    else power(2, least((case when t.window_start <= clock_timestamp() - interval '1 hour' then 1
                                              else t.failures + 1 end) - $3 - 1, 30)) end))
           where t.next_attempt_at <= clock_timestamp()
             and (t.window_start <= clock_timestamp() - interval '1 hour' or t.failures < $2)
           returning failures"#,
        key,
        limit,
        free,
        max_delay_secs
    )
    .fetch_optional(conn)
    .await
}

/// Seconds until `key` may try again (for the refusal's message and `Retry-After`).
pub async fn login_wait_seconds(pool: &PgPool, key: &str, limit: i32) -> sqlx::Result<i64> {
    let wait = sqlx::query_scalar!(
        r#"select ceil(extract(epoch from greatest(
                  next_attempt_at,
                  case when failures >= $2 then window_start + interval '1 hour' else now() end
               ) - now()))::bigint as "wait!"
           from login_throttle where key = $1"#,
        key,
        limit
    )
    .fetch_optional(pool)
    .await?;
    Ok(wait.unwrap_or(0).max(1))
}

/// A successful login: the account's failures are forgotten, the address's attempt refunded.
pub async fn login_succeeded(pool: &PgPool, account_key: &str, ip_key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "with a as (delete from login_throttle where key = $1)
         update login_throttle set failures = greatest(failures - 1, 0) where key = $2",
        account_key,
        ip_key
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Drops throttle rows whose window and delay are long over.
pub async fn prune_login_throttle(pool: &PgPool) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "delete from login_throttle
         where window_start < now() - interval '1 day' and next_attempt_at < now()"
    )
    .execute(pool)
    .await?
    .rows_affected())
}

pub struct NewAccount<'a> {
    pub handle: &'a Handle,
    pub email: Option<&'a Email>,
    pub display_name: &'a DisplayName,
    pub timezone: TimeZone,
    pub role: Role,
    pub password_hash: &'a PasswordHash,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountConflict {
    #[error("That handle is taken.")]
    HandleTaken,
    #[error("Another account uses that email.")]
    EmailTaken,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn conflict(e: sqlx::Error) -> AccountConflict {
    match violated_constraint(&e) {
        Some("accounts_handle_key") => AccountConflict::HandleTaken,
        Some("accounts_email_key") => AccountConflict::EmailTaken,
        _ => AccountConflict::Db(e),
    }
}

pub async fn create_account(
    conn: &mut PgConnection,
    a: NewAccount<'_>,
) -> Result<AccountId, AccountConflict> {
    let id = sqlx::query_scalar!(
        "insert into accounts (handle, email, display_name, timezone, role, password_hash)
         values ($1, $2, $3, $4, $5, $6) returning id",
        a.handle.as_str(),
        a.email.map(Email::as_str),
        a.display_name.as_str(),
        a.timezone.name(),
        a.role as Role,
        a.password_hash.as_str()
    )
    .fetch_one(conn)
    .await
    .map_err(conflict)?;
    Ok(AccountId(id))
}

pub async fn count_accounts(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count(*) as "n!" from accounts"#)
        .fetch_one(pool)
        .await
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct AccountRow {
    pub id: i64,
    pub handle: String,
    pub email: Option<String>,
    pub display_name: String,
    pub role: Role,
    pub timezone: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// Filters of the members list; `None` means "any".
#[derive(Clone, Debug, Default)]
pub struct AccountFilter {
    /// Part of the handle, display name or email (case-insensitive).
    pub text: Option<String>,
    pub role: Option<Role>,
}

/// Accounts ordered by handle, `limit` after the handle `after` (keyset pagination).
pub async fn list_accounts(
    pool: &PgPool,
    filter: &AccountFilter,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<AccountRow>> {
    let pattern = filter.text.as_deref().map(|t| {
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    sqlx::query_as!(
        AccountRow,
        r#"select id, handle, email, display_name, role as "role: Role", timezone,
                  disabled_at is not null as "disabled!", created_at as "created_at: _"
           from accounts
           where ($1::text is null or handle > $1)
             and ($3::text is null or handle ilike $3 or display_name ilike $3 or email ilike $3)
             and ($4::text is null or role = $4::text)
           order by handle
           limit $2"#,
        after,
        limit,
        pattern,
        filter.role as Option<Role>
    )
    .fetch_all(pool)
    .await
}

/// One account, locked for the rest of the transaction.
pub async fn lock_account(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as!(
        AccountRow,
        r#"select id, handle, email, display_name, role as "role: Role", timezone,
                  disabled_at is not null as "disabled!", created_at as "created_at: _"
           from accounts where id = $1 for update"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Enabled admins, locked: the last one cannot be demoted or disabled.
pub async fn lock_enabled_admins(conn: &mut PgConnection) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        "select id from accounts where role = 'admin' and disabled_at is null for update"
    )
    .fetch_all(conn)
    .await
}

pub async fn set_role(conn: &mut PgConnection, id: i64, role: Role) -> sqlx::Result<()> {
    sqlx::query!(
        "update accounts set role = $2, updated_at = now() where id = $1",
        id,
        role as Role
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Disabling bumps the account's epoch, which ends all its sessions.
pub async fn set_disabled(conn: &mut PgConnection, id: i64, disabled: bool) -> sqlx::Result<()> {
    sqlx::query!(
        "update accounts
         set disabled_at = case when $2 then now() else null end,
             auth_epoch = auth_epoch + case when $2 then 1 else 0 end,
             updated_at = now()
         where id = $1",
        id,
        disabled
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update_profile(
    conn: &mut PgConnection,
    id: AccountId,
    display_name: &DisplayName,
    email: Option<&Email>,
    timezone: TimeZone,
) -> Result<(), AccountConflict> {
    sqlx::query!(
        "update accounts set display_name = $2, email = $3, timezone = $4, updated_at = now()
         where id = $1",
        id.0,
        display_name.as_str(),
        email.map(Email::as_str),
        timezone.name()
    )
    .execute(conn)
    .await
    .map_err(conflict)?;
    Ok(())
}

pub async fn password_hash(pool: &PgPool, id: AccountId) -> sqlx::Result<PasswordHash> {
    let h = sqlx::query_scalar!("select password_hash from accounts where id = $1", id.0)
        .fetch_one(pool)
        .await?;
    Ok(PasswordHash::from_stored(h))
}

/// Sets a new password and ends every other session; returns the new epoch.
pub async fn set_password(
    conn: &mut PgConnection,
    id: AccountId,
    hash: &PasswordHash,
) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        "update accounts set password_hash = $2, auth_epoch = auth_epoch + 1, updated_at = now()
         where id = $1 returning auth_epoch",
        id.0,
        hash.as_str()
    )
    .fetch_one(conn)
    .await
}

/// Replaces a hash made with older parameters by one of the same password with today's, unless
/// the password changed meanwhile. Sessions are unaffected.
pub async fn upgrade_password_hash(
    pool: &PgPool,
    id: AccountId,
    old: &PasswordHash,
    new: &PasswordHash,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update accounts set password_hash = $3 where id = $1 and password_hash = $2",
        id.0,
        old.as_str(),
        new.as_str()
    )
    .execute(pool)
    .await?;
    Ok(())
}

// ---- invites ----

pub async fn create_invite(
    conn: &mut PgConnection,
    token_hash: &[u8],
    role: Role,
    email: Option<&Email>,
    note: &str,
    created_by: AccountId,
    ttl_hours: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into invites (token_hash, role, email, note, created_by, expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(hours => $6::int)) returning id",
        token_hash,
        role as Role,
        email.map(Email::as_str),
        note,
        created_by.0,
        ttl_hours as i32
    )
    .fetch_one(conn)
    .await
}

#[derive(Clone, Debug)]
pub struct InviteRow {
    pub id: i64,
    pub role: Role,
    pub email: Option<String>,
    pub note: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_by: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The newest invites with their creator and acceptor handles (one query).
pub async fn list_invites(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<InviteRow>> {
    sqlx::query_as!(
        InviteRow,
        r#"select i.id, i.role as "role: Role", i.email, i.note, c.handle as created_by,
                  i.created_at as "created_at: _", i.expires_at as "expires_at: _",
                  i.accepted_at as "accepted_at: _", a.handle as "accepted_by?",
                  i.revoked_at as "revoked_at: _"
           from invites i
           join accounts c on c.id = i.created_by
           left join accounts a on a.id = i.accepted_by
           order by i.created_at desc, i.id desc
           limit $1"#,
        limit
    )
    .fetch_all(pool)
    .await
}

#[derive(Clone, Debug)]
pub struct ValidInvite {
    pub id: i64,
    pub role: Role,
    pub email: Option<String>,
}

/// The invite a link names, if it can still be used (not accepted, revoked or expired).
pub async fn find_valid_invite(
    conn: &mut PgConnection,
    token_hash: &[u8],
    lock: bool,
) -> sqlx::Result<Option<ValidInvite>> {
    let row = if lock {
        sqlx::query!(
            r#"select id, role as "role: Role", email from invites
             where token_hash = $1 and accepted_at is null and revoked_at is null
               and expires_at > now()
             for update"#,
            token_hash
        )
        .fetch_optional(conn)
        .await?
        .map(|r| (r.id, r.role, r.email))
    } else {
        sqlx::query!(
            r#"select id, role as "role: Role", email from invites
             where token_hash = $1 and accepted_at is null and revoked_at is null
               and expires_at > now()"#,
            token_hash
        )
        .fetch_optional(conn)
        .await?
        .map(|r| (r.id, r.role, r.email))
    };
    Ok(row.map(|(id, r, email)| ValidInvite { id, role: r, email }))
}

pub async fn accept_invite(conn: &mut PgConnection, id: i64, by: AccountId) -> sqlx::Result<()> {
    sqlx::query!(
        "update invites set accepted_at = now(), accepted_by = $2 where id = $1",
        id,
        by.0
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes a pending invite; false if it was already used or revoked.
pub async fn revoke_invite(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "update invites set revoked_at = now()
         where id = $1 and accepted_at is null and revoked_at is null",
        id
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

// ---- first-run setup ----

/// Stores a new setup token (replacing any older one).
pub async fn replace_setup_token(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into setup_tokens (id, token_hash) values (1, $1)
         on conflict (id) do update set token_hash = excluded.token_hash, created_at = now()",
        token_hash
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// True when `token_hash` is the pending setup token and no account exists yet; with `lock`
/// the token row stays locked until the transaction ends.
pub async fn setup_token_valid(
    conn: &mut PgConnection,
    token_hash: &[u8],
    lock: bool,
) -> sqlx::Result<bool> {
    let found = if lock {
        sqlx::query_scalar!(
            "select id from setup_tokens where id = 1 and token_hash = $1 for update",
            token_hash
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_scalar!(
            "select id from setup_tokens where id = 1 and token_hash = $1",
            token_hash
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    if found.is_none() {
        return Ok(false);
    }
    let none: bool = sqlx::query_scalar!(r#"select not exists(select 1 from accounts) as "none!""#)
        .fetch_one(conn)
        .await?;
    Ok(none)
}

pub async fn delete_setup_token(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("delete from setup_tokens")
        .execute(conn)
        .await?;
    Ok(())
}

/// The cookie-signing key: `fresh` becomes it unless another process stored one first.
pub async fn cookie_key(pool: &PgPool, fresh: &[u8]) -> sqlx::Result<Vec<u8>> {
    sqlx::query!(
        "insert into server_secrets (name, secret) values ('cookie', $1) on conflict (name) do nothing",
        fresh
    )
    .execute(pool)
    .await?;
    sqlx::query_scalar!("select secret from server_secrets where name = 'cookie'")
        .fetch_one(pool)
        .await
}
