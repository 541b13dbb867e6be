//! Account operations behind the handlers and the CLI: validating a new account, creating it
//! (first admin, invite, `flowdeck admin create`), logging in with throttling, profile changes.

use sqlx::PgConnection;

use super::{
    model::{AccountId, DisplayName, Email, Handle, NewPassword, Role, TimeZone},
    password, store,
};
use crate::{
    audit::{self, Actor, Change},
    error::{AppError, AppResult},
    state::AppState,
    ui::form::FormErrors,
};

/// What a new-account form sends.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub timezone: String,
    #[serde(default)]
    pub new_password: String,
    #[serde(default)]
    pub confirm: String,
}

pub struct ValidAccount {
    pub handle: Handle,
    pub display_name: DisplayName,
    pub email: Option<Email>,
    pub timezone: TimeZone,
    pub password: NewPassword,
}

/// Parses every field; on failure, every problem is reported at once.
pub fn validate_account(f: &AccountForm) -> Result<ValidAccount, FormErrors> {
    let AccountForm {
        handle,
        display_name,
        email,
        timezone,
        new_password,
        confirm,
    } = f;
    let mut errs = FormErrors::default();
    let handle = errs.check("handle", Handle::parse(handle));
    let display_name = errs.check("display_name", DisplayName::parse(display_name));
    let email = errs.check("email", Email::parse_optional(email));
    let tz_raw = if timezone.trim().is_empty() {
        "UTC"
    } else {
        timezone
    };
    let timezone = errs.check("timezone", TimeZone::parse(tz_raw));
    let handle_str = handle.as_ref().map_or("", |h| h.as_str()).to_string();
    let password = errs.check(
        "new_password",
        NewPassword::parse(new_password, confirm, &handle_str),
    );
    match (handle, display_name, email, timezone, password) {
        (Some(handle), Some(display_name), Some(email), Some(timezone), Some(password))
            if errs.is_empty() =>
        {
            Ok(ValidAccount {
                handle,
                display_name,
                email,
                timezone,
                password,
            })
        }
        _ => Err(errs),
    }
}

/// Creates an account in the caller's transaction and records it in the audit log.
#[tracing::instrument(skip_all)]
pub async fn create_account(
    conn: &mut PgConnection,
    actor: &Actor,
    a: ValidAccount,
    role: Role,
) -> Result<AccountId, FormErrors> {
    let hash = password::hash(a.password.into_inner())
        .await
        .map_err(internal_form_error)?;
    let id = store::create_account(
        conn,
        store::NewAccount {
            handle: &a.handle,
            email: a.email.as_ref(),
            display_name: &a.display_name,
            timezone: a.timezone,
            role,
            password_hash: &hash,
        },
    )
    .await
    .map_err(|e| match e {
        store::AccountConflict::HandleTaken => FormErrors::field("handle", e.to_string()),
        store::AccountConflict::EmailTaken => FormErrors::field("email", e.to_string()),
        store::AccountConflict::Db(db) => internal_form_error(db.into()),
    })?;
    audit::record(
        conn,
        actor,
        Change {
            action: "account.created",
            target_type: "account",
            target_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({
                "handle": a.handle.as_str(),
                "display_name": a.display_name.as_str(),
                "email": a.email.as_ref().map(Email::as_str),
                "timezone": a.timezone.name(),
                "role": role.as_str(),
            })),
        },
    )
    .await
    .map_err(|e| internal_form_error(e.into()))?;
    Ok(id)
}

fn internal_form_error(e: anyhow::Error) -> FormErrors {
    tracing::error!(error = format!("{e:#}"), "could not create an account");
    FormErrors::general(
        "flowdeck could not save this just now. Nothing was created; please try again.",
    )
}

pub enum LoginOutcome {
    LoggedIn {
        id: AccountId,
        epoch: i32,
    },
    /// Unknown account, wrong password or disabled account: the same answer for each.
    Refused,
    /// Too many attempts for this account (from an unknown device) or from this address: the
    /// password was not checked. Try again after `wait_secs`.
    Throttled {
        wait_secs: i64,
    },
}

/// Checks a login attempt. The attempt is charged to the client's address and, unless this
/// browser logged in to the account before (`known_device`), to the account — counted and
/// decided in PostgreSQL in one transaction before the password is checked, so the limits hold
/// under concurrency and across replicas. A success forgets the account's failures.
#[tracing::instrument(skip_all)]
pub async fn attempt_login(
    state: &AppState,
    login: &str,
    password_given: &str,
    ip: &str,
    known_device: Option<AccountId>,
) -> AppResult<LoginOutcome> {
    let cfg = &state.config;
    let key = login.trim().to_lowercase();
    let candidate = if key.is_empty() || password_given.is_empty() {
        None
    } else {
        store::find_for_login(&state.pool, &key).await?
    };
    let trusted = matches!((&candidate, known_device), (Some(c), Some(d)) if c.id == d);
    let account_key = format!("a:{key}");
    let ip_key = format!("ip:{ip}");
    let per_ip = i32::try_from(cfg.login_failures_per_ip).unwrap_or(i32::MAX);
    let per_account = i32::try_from(cfg.login_failures_per_account).unwrap_or(i32::MAX);
    let free = i32::try_from(cfg.login_free_failures).unwrap_or(i32::MAX);

    let mut tx = state.pool.begin().await?;
    // The address has a plain hourly limit (no delays: people share addresses).
    if store::charge_login_attempt(&mut tx, &ip_key, per_ip, NO_DELAY, 0.0)
        .await?
        .is_none()
    {
        drop(tx);
        tracing::warn!(ip, "login throttled (address)");
        let wait_secs = store::login_wait_seconds(&state.pool, &ip_key, per_ip).await?;
        return Ok(LoginOutcome::Throttled { wait_secs });
    }
    if !trusted
        && store::charge_login_attempt(
            &mut tx,
            &account_key,
            per_account,
            free,
            cfg.login_max_delay_seconds as f64,
        )
        .await?
        .is_none()
    {
        drop(tx);
        tracing::warn!(account = %key, ip, "login throttled (account)");
        let wait_secs = store::login_wait_seconds(&state.pool, &account_key, per_account).await?;
        return Ok(LoginOutcome::Throttled { wait_secs });
    }
    tx.commit().await?;

    let (stored, id, epoch, disabled) = match candidate {
        Some(c) => (Some(c.password_hash), Some(c.id), c.auth_epoch, c.disabled),
        None => (None, None, 0, false),
    };
    let wait = std::time::Duration::from_millis(cfg.login_queue_ms);
    let ok = password::verify(password_given.to_string(), stored.clone(), wait).await?;
    match (id, stored) {
        (Some(id), Some(stored)) if ok && !disabled => {
            store::login_succeeded(&state.pool, &account_key, &ip_key).await?;
            if password::needs_upgrade(&stored) {
                upgrade_hash(state, id, stored, password_given.to_string());
            }
            Ok(LoginOutcome::LoggedIn { id, epoch })
        }
        _ => Ok(LoginOutcome::Refused),
    }
}

/// Re-hashes a password stored with older parameters, after the login has been answered.
fn upgrade_hash(state: &AppState, id: AccountId, old: password::PasswordHash, given: String) {
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let result = async {
            let new = password::hash(given).await?;
            store::upgrade_password_hash(&pool, id, &old, &new).await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(account.id = %id, error = %e, "could not upgrade a password hash");
        }
    });
}

/// A number of free failures so large that no delay ever applies.
const NO_DELAY: i32 = 1_000_000_000;

/// What the profile form sends.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub timezone: String,
}

/// Updates the caller's own profile.
#[tracing::instrument(skip_all)]
pub async fn update_profile(
    state: &AppState,
    actor: &Actor,
    id: AccountId,
    f: &ProfileForm,
) -> AppResult<Result<(), FormErrors>> {
    let ProfileForm {
        display_name,
        email,
        timezone,
    } = f;
    let mut errs = FormErrors::default();
    let name = errs.check("display_name", DisplayName::parse(display_name));
    let email = errs.check("email", Email::parse_optional(email));
    let tz = errs.check("timezone", TimeZone::parse(timezone));
    let (Some(name), Some(email), Some(tz)) = (name, email, tz) else {
        return Ok(Err(errs));
    };
    let mut tx = state.pool.begin().await?;
    let before = store::lock_account(&mut tx, id.0)
        .await?
        .ok_or(AppError::NotFound)?;
    match store::update_profile(&mut tx, id, &name, email.as_ref(), tz).await {
        Ok(()) => {}
        Err(store::AccountConflict::EmailTaken) => {
            return Ok(Err(FormErrors::field(
                "email",
                "Another account uses that email.",
            )));
        }
        Err(e) => return Err(AppError::internal(e)),
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "account.profile_updated",
            target_type: "account",
            target_id: id.to_string(),
            before: Some(serde_json::json!({
                "display_name": before.display_name, "email": before.email, "timezone": before.timezone,
            })),
            after: Some(serde_json::json!({
                "display_name": name.as_str(), "email": email.as_ref().map(Email::as_str), "timezone": tz.name(),
            })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Changes the caller's password after checking the current one; ends their other sessions.
/// Returns the new session epoch.
#[tracing::instrument(skip_all)]
pub async fn change_password(
    state: &AppState,
    actor: &Actor,
    id: AccountId,
    handle: &str,
    current: &str,
    new: &str,
    confirm: &str,
) -> AppResult<Result<i32, FormErrors>> {
    let stored = store::password_hash(&state.pool, id).await?;
    let wait = std::time::Duration::from_millis(state.config.login_queue_ms);
    if !password::verify(current.to_string(), Some(stored), wait).await? {
        return Ok(Err(FormErrors::field(
            "current_password",
            "That is not your current password.",
        )));
    }
    let new = match NewPassword::parse(new, confirm, handle) {
        Ok(p) => p,
        Err(e) => return Ok(Err(FormErrors::field("new_password", e))),
    };
    let hash = password::hash(new.into_inner()).await?;
    let mut tx = state.pool.begin().await?;
    let epoch = store::set_password(&mut tx, id, &hash).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "account.password_changed",
            target_type: "account",
            target_id: id.to_string(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(epoch))
}
