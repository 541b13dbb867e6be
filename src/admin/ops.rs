//! Admin operations: role changes, disabling and enabling accounts, invites. Each runs in one
//! transaction with its audit record, and never leaves the team without an enabled admin.

use serde_json::json;

use crate::{
    audit::{self, Actor, Change},
    auth::{
        model::{Email, Role},
        store, token,
    },
    error::{AppError, AppResult},
    state::AppState,
    ui::form::FormErrors,
};

/// Checks, inside the transaction, that the actor is still an enabled admin and that the change
/// keeps at least one enabled admin.
async fn guard_admins(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    target_id: i64,
    target_stays_admin: bool,
) -> AppResult<()> {
    let admins = store::lock_enabled_admins(conn).await?;
    if !actor.id.is_some_and(|a| admins.contains(&a.0)) {
        return Err(AppError::Forbidden(
            "Only admins can do this. Ask an admin if you need it done.".into(),
        ));
    }
    let remaining = admins
        .iter()
        .filter(|&&a| a != target_id || target_stays_admin)
        .count();
    if remaining == 0 {
        return Err(AppError::Conflict(
            "That would leave the team without an enabled admin.".into(),
        ));
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(id = id))]
pub async fn change_role(
    state: &AppState,
    actor: &Actor,
    id: i64,
    role: &str,
) -> AppResult<String> {
    let role = Role::parse(role).map_err(AppError::BadRequest)?;
    let mut tx = state.pool.begin().await?;
    let target = store::lock_account(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    guard_admins(&mut tx, actor, id, role == Role::Admin).await?;
    if target.role == role {
        return Ok(format!("{} is already {role}.", target.handle));
    }
    store::set_role(&mut tx, id, role).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "account.role_changed",
            target_type: "account",
            target_id: id.to_string(),
            before: Some(json!({ "handle": target.handle, "role": target.role })),
            after: Some(json!({ "handle": target.handle, "role": role.as_str() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(format!("{} is now {role}.", target.handle))
}

/// Disabling ends every session of the account at once.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn set_disabled(
    state: &AppState,
    actor: &Actor,
    id: i64,
    disabled: bool,
) -> AppResult<String> {
    let mut tx = state.pool.begin().await?;
    let target = store::lock_account(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    guard_admins(&mut tx, actor, id, !disabled).await?;
    if target.disabled == disabled {
        return Ok(format!(
            "{} is already {}.",
            target.handle,
            if disabled { "disabled" } else { "enabled" }
        ));
    }
    store::set_disabled(&mut tx, id, disabled).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: if disabled {
                "account.disabled"
            } else {
                "account.enabled"
            },
            target_type: "account",
            target_id: id.to_string(),
            before: Some(json!({ "handle": target.handle, "disabled": target.disabled })),
            after: Some(json!({ "handle": target.handle, "disabled": disabled })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(if disabled {
        format!("{} is disabled and logged out everywhere.", target.handle)
    } else {
        format!("{} can log in again.", target.handle)
    })
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub note: String,
}

/// Creates an invite and returns its link (the token is stored only as a hash).
#[tracing::instrument(skip_all)]
pub async fn create_invite(
    state: &AppState,
    actor: &Actor,
    f: &InviteForm,
) -> AppResult<Result<String, FormErrors>> {
    let InviteForm { role, email, note } = f;
    let mut errs = FormErrors::default();
    let role = errs.check("role", Role::parse(role));
    let email = errs.check("email", Email::parse_optional(email));
    let note = note.trim();
    if note.chars().count() > 200 {
        errs.add("note", "A note has at most 200 characters.");
    }
    let (Some(role), Some(email)) = (role, email) else {
        return Ok(Err(errs));
    };
    if !errs.is_empty() {
        return Ok(Err(errs));
    }
    let by = actor
        .id
        .ok_or_else(|| AppError::Forbidden("Log in as an admin.".into()))?;
    let secret = token::random_token();
    let mut tx = state.pool.begin().await?;
    let id = store::create_invite(
        &mut tx,
        &token::hash_token(&secret),
        role,
        email.as_ref(),
        note,
        by,
        state.config.invite_ttl_hours,
    )
    .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "invite.created",
            target_type: "invite",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({
                "role": role.as_str(),
                "email": email.as_ref().map(Email::as_str),
                "note": note,
                "valid_hours": state.config.invite_ttl_hours,
            })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(format!("{}/invite/{secret}", state.config.base_url())))
}

#[tracing::instrument(skip_all, fields(id = id))]
pub async fn revoke_invite(state: &AppState, actor: &Actor, id: i64) -> AppResult<String> {
    let mut tx = state.pool.begin().await?;
    if !store::revoke_invite(&mut tx, id).await? {
        return Err(AppError::Conflict(
            "That invite was already used or revoked.".into(),
        ));
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "invite.revoked",
            target_type: "invite",
            target_id: id.to_string(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok("Invite revoked: its link no longer works.".into())
}
