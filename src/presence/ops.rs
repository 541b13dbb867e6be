//! Availability operations: check-ins, going offline, leave requests and their decisions. Each
//! runs in one transaction with its audit record and, where the team is told, its outbox row.

use chrono_tz::Tz;
use serde_json::json;

use super::{
    model::{self, CheckIn, LeaveInput, LeaveStatus},
    store,
};
use crate::{
    audit::{self, Actor, Change},
    auth::{
        model::AccountId,
        model::CurrentUser,
        policy::{Action, require},
    },
    error::{AppError, AppResult},
    outbox::{self, Event, Notice},
    state::AppState,
    ui::form::FormErrors,
};

pub fn tz_of(user: &CurrentUser) -> Tz {
    user.timezone.parse().unwrap_or(chrono_tz::UTC)
}

/// Online or away, from now.
#[tracing::instrument(skip_all)]
pub async fn check_in(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    to: CheckIn,
) -> AppResult<()> {
    debug_assert!(to != CheckIn::Offline, "offline needs a return time");
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let id = store::record_check_in(&mut tx, user.id, to, now, None, "").await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "presence.checked_in",
            target_type: "account",
            target_id: user.id.to_string(),
            before: None,
            after: Some(json!({ "state": to.as_str(), "event_id": id })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct OfflineForm {
    #[serde(default, rename = "for")]
    pub for_: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub reason: String,
}

/// Going offline: a return time is required; the team channel is told.
#[tracing::instrument(skip_all)]
pub async fn go_offline(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    f: &OfflineForm,
) -> AppResult<Result<chrono::DateTime<chrono::Utc>, FormErrors>> {
    let OfflineForm {
        for_,
        until,
        reason,
    } = f;
    let now = state.clock.now();
    let until = match model::offline_until(for_, until, now, tz_of(user)) {
        Ok(u) => u,
        Err(e) => return Ok(Err(FormErrors::field("for", e))),
    };
    let reason = reason.trim();
    if reason.chars().count() > 200 {
        return Ok(Err(FormErrors::field(
            "reason",
            "A reason has at most 200 characters.",
        )));
    }
    let mut tx = state.pool.begin().await?;
    let id = store::record_check_in(&mut tx, user.id, CheckIn::Offline, now, Some(until), reason)
        .await?;
    // The reason stays on the board: chat and webhooks say who and until when.
    let back = until.with_timezone(&tz_of(user));
    let notice = Notice::new(
        Event::MemberOffline,
        format!(
            "{} went offline until {} ({}).",
            user.display_name,
            back.format("%a %H:%M"),
            user.timezone
        ),
        format!("/team/{}", user.handle),
    )
    .data(json!({ "handle": user.handle, "name": user.display_name, "until": until }));
    outbox::enqueue(&mut tx, now, notice).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "presence.went_offline",
            target_type: "account",
            target_id: user.id.to_string(),
            before: None,
            after: Some(json!({ "event_id": id, "until": until, "reason": reason })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(until))
}

/// A leave request for the caller: the notice rule, no overlap with their other leave; the team
/// is told, and for an emergency the inner channel too.
#[tracing::instrument(skip_all)]
pub async fn request_leave(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    input: &LeaveInput,
) -> AppResult<Result<i64, FormErrors>> {
    let now = state.clock.now();
    let tz = tz_of(user);
    let plan = match model::plan_leave(input, now, tz, state.config.leave_notice_hours) {
        Ok(p) => p,
        Err(list) => {
            let mut errs = FormErrors::default();
            for (f, m) in list {
                errs.add(f, m);
            }
            return Ok(Err(errs));
        }
    };
    let mut tx = state.pool.begin().await?;
    store::lock_member(&mut tx, user.id).await?;
    if let Some((from, to)) = store::overlapping_leave(&mut tx, user.id, &plan).await? {
        return Ok(Err(FormErrors::field(
            "starts_on",
            format!(
                "This overlaps your leave from {from} to {to}; change the dates or cancel that one first."
            ),
        )));
    }
    let id = store::insert_leave(&mut tx, user.id, &plan, tz.name()).await?;
    let payload = json!({
        "leave_id": id, "handle": user.handle, "name": user.display_name,
        "starts_on": plan.starts_on, "ends_on": plan.ends_on, "kind": plan.kind.as_str(),
        "emergency": plan.emergency, "note": plan.note,
    });
    // Leave notes are private: messages say who, when and what kind.
    let data = json!({
        "leave_id": id, "handle": user.handle, "name": user.display_name,
        "starts_on": plan.starts_on, "ends_on": plan.ends_on, "kind": plan.kind.as_str(),
        "emergency": plan.emergency,
    });
    let span = format!("{} to {}", plan.starts_on, plan.ends_on);
    let now = state.clock.now();
    let notice = Notice::new(
        Event::LeaveRequested,
        format!(
            "{} requested {} leave, {span}.",
            user.display_name,
            plan.kind.as_str()
        ),
        "/leave",
    )
    .data(data.clone());
    outbox::enqueue(&mut tx, now, notice).await?;
    if plan.emergency {
        let notice = Notice::new(
            Event::LeaveEmergency,
            format!("Emergency: {} is on leave, {span}.", user.display_name),
            "/leave",
        )
        .data(data);
        outbox::enqueue(&mut tx, now, notice).await?;
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "leave.requested",
            target_type: "leave",
            target_id: id.to_string(),
            before: None,
            after: Some(payload),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Acknowledge,
    Decline,
}

/// A lead acknowledges or declines someone else's pending leave, with an optional note.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn decide_leave(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    id: i64,
    decision: Decision,
    note: &str,
) -> AppResult<String> {
    let note = note.trim();
    if note.chars().count() > 500 {
        return Err(AppError::BadRequest(
            "A note has at most 500 characters.".into(),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let leave = store::lock_leave(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    require(
        Some(user),
        Action::DecideLeave {
            owner: AccountId(leave.account_id),
        },
    )?;
    if leave.status != LeaveStatus::Pending {
        return Err(AppError::Conflict(format!(
            "This request is already {}; nothing was changed.",
            leave.status.as_str()
        )));
    }
    let to = match decision {
        Decision::Acknowledge => LeaveStatus::Acknowledged,
        Decision::Decline => LeaveStatus::Declined,
    };
    store::set_leave_status(&mut tx, id, to, Some(user.id), note).await?;
    let (event, verb) = match decision {
        Decision::Acknowledge => (Event::LeaveAcknowledged, "acknowledged"),
        Decision::Decline => (Event::LeaveDeclined, "declined"),
    };
    let notice = Notice::new(
        event,
        format!(
            "{} {verb} the leave of {}, {} to {}.",
            user.display_name, leave.display_name, leave.starts_on, leave.ends_on
        ),
        "/leave",
    )
    .to(leave.account_id)
    .data(
        json!({ "leave_id": id, "handle": leave.handle, "status": to.as_str(), "by": user.handle }),
    );
    outbox::enqueue(&mut tx, state.clock.now(), notice).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: if decision == Decision::Acknowledge {
                "leave.acknowledged"
            } else {
                "leave.declined"
            },
            target_type: "leave",
            target_id: id.to_string(),
            before: Some(json!({ "status": leave.status.as_str() })),
            after: Some(json!({ "status": to.as_str(), "note": note })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(format!(
        "Leave of {} from {} to {} {}.",
        leave.display_name,
        leave.starts_on,
        leave.ends_on,
        to.as_str()
    ))
}

/// The requester cancels their own leave that has not ended.
#[tracing::instrument(skip_all, fields(id = id))]
pub async fn cancel_leave(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    id: i64,
) -> AppResult<String> {
    let mut tx = state.pool.begin().await?;
    let leave = store::lock_leave(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    require(
        Some(user),
        Action::CancelLeave {
            owner: AccountId(leave.account_id),
        },
    )?;
    if !leave.status.is_active() {
        return Err(AppError::Conflict(format!(
            "This request is already {}.",
            leave.status.as_str()
        )));
    }
    if leave.ends_at <= state.clock.now() {
        return Err(AppError::Conflict("This leave has already ended.".into()));
    }
    store::set_leave_status(&mut tx, id, LeaveStatus::Cancelled, None, "").await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "leave.cancelled",
            target_type: "leave",
            target_id: id.to_string(),
            before: Some(json!({ "status": leave.status.as_str() })),
            after: Some(json!({ "status": LeaveStatus::Cancelled.as_str() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(format!(
        "Leave from {} to {} cancelled.",
        leave.starts_on, leave.ends_on
    ))
}

/// Announces, once each, members whose announced return time has passed without a new
/// check-in (and who are not on leave). Safe on several replicas: the flag is set by the same
/// statement that finds them. Returns how many were announced.
pub async fn announce_overdue(state: &AppState) -> AppResult<usize> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let overdue = store::mark_overdue(&mut tx, now).await?;
    for m in &overdue {
        let tz: Tz = m.timezone.parse().unwrap_or(chrono_tz::UTC);
        let notice = Notice::new(
            Event::MemberOverdue,
            format!(
                "{} is overdue: expected back {} ({}) and has not checked in.",
                m.display_name,
                m.until.with_timezone(&tz).format("%a %H:%M"),
                m.timezone
            ),
            format!("/team/{}", m.handle),
        )
        .data(json!({ "handle": m.handle, "name": m.display_name, "until": m.until }));
        outbox::enqueue(&mut tx, now, notice).await?;
    }
    tx.commit().await?;
    Ok(overdue.len())
}
