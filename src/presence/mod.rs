//! Availability (DESIGN §3.3): check-ins, announced offline time, leave requests, the team board,
//! my status, the leave calendar and each member's history.

pub mod demo;
pub mod model;
pub mod ops;
pub mod pages;
mod store;

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    response::{Html, Redirect, Response},
    routing::{get, post},
};
use std::sync::Arc;

use chrono::Duration;
use serde::Deserialize;

use self::{
    model::{CheckIn, LeaveInput},
    ops::{Decision, OfflineForm},
    pages::{MeForms, Member},
    store::LeaveScope,
};
use crate::{
    audit::Actor,
    auth::cookies::Cookies,
    auth::{model::CurrentUser, model::Role},
    error::{AppError, AppResult},
    state::AppState,
    ui::{self, PageCtx, form::FormErrors},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/team", get(board))
        .route("/team/{handle}", get(member))
        .route("/me", get(me))
        .route("/me/online", post(online))
        .route("/me/away", post(away))
        .route("/me/offline", post(offline))
        .route("/me/leave", post(request_leave))
        .route("/leave", get(calendar))
        .route("/leave/{id}/acknowledge", post(acknowledge))
        .route("/leave/{id}/decline", post(decline))
        .route("/leave/{id}/cancel", post(cancel))
}

/// What the board reads: a part built from it is dropped when one of these changes.
pub const BOARD_TOPICS: &[&str] = &[
    "presence_events",
    "presence_current",
    "leave_requests",
    "accounts",
];

/// Everyone's derived state at the clock's now, board order (state, then name). The same for
/// every viewer, so it is kept in this replica's cache (src/cache) per minute of the clock — a
/// return that falls due shows as overdue within that minute — and dropped by any check-in,
/// leave or account change.
pub async fn team_now(state: &AppState) -> AppResult<Arc<Vec<Member>>> {
    let now = state.clock.now();
    let key = format!("board:{}", now.timestamp().div_euclid(60));
    state
        .cache
        .get_or(&key, BOARD_TOPICS, async {
            let mut members: Vec<Member> = store::board(&state.pool, now, None)
                .await?
                .into_iter()
                .map(|r| Member::from_row(r, now))
                .collect();
            members.sort_by_key(|m| m.status.rank());
            Ok(Arc::new(members))
        })
        .await
}

pub use store::LeaveRow as Leave;

pub use ops::announce_overdue;

/// Announces overdue returns every `every` (each once, on whichever replica finds it first).
pub async fn overdue_loop(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = ops::announce_overdue(&state).await {
            tracing::warn!(error = %e, "could not announce overdue returns");
        }
    }
}

/// Leave that is pending or acknowledged and overlaps [`from`, `to`), by start (at most `limit`).
pub async fn leave_between(
    pool: &sqlx::PgPool,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> AppResult<Vec<Leave>> {
    Ok(store::leaves(pool, store::LeaveScope::Window(from, to), limit).await?)
}

/// How many leave requests of members other than `except` wait for a lead's answer.
pub async fn pending_leave_for(
    state: &AppState,
    except: crate::auth::model::AccountId,
) -> AppResult<i64> {
    Ok(store::count_pending_for(&state.pool, except).await?)
}

/// Of the accounts `ids`, those who cannot answer right now (offline, overdue or on leave), with
/// a label for people ("on leave"). Read off the (cached) board.
pub async fn unavailable(
    state: &AppState,
    ids: &[i64],
) -> AppResult<std::collections::HashMap<i64, &'static str>> {
    let mut away = unavailable_on(&team_now(state).await?);
    let wanted: std::collections::HashSet<i64> = ids.iter().copied().collect();
    away.retain(|id, _| wanted.contains(id));
    Ok(away)
}

/// Of the members on `board` (from `team_now`), those who cannot answer right now, labelled.
pub fn unavailable_on(board: &[Member]) -> std::collections::HashMap<i64, &'static str> {
    board
        .iter()
        .filter(|m| {
            matches!(
                m.status,
                model::Status::OnLeave { .. }
                    | model::Status::Offline { .. }
                    | model::Status::Overdue { .. }
            )
        })
        .map(|m| (m.row.id, model::Status::label(m.status.key())))
        .collect()
}

#[derive(Deserialize)]
struct BoardQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    q: String,
}

async fn board(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<BoardQuery>,
) -> AppResult<Html<String>> {
    let all = team_now(&state).await?;
    let total = all.len();
    let needle = q.q.trim().to_lowercase();
    let shown: Vec<Member> = all
        .iter()
        .filter(|m| q.state.is_empty() || m.status.key() == q.state)
        .filter(|m| {
            needle.is_empty()
                || m.row.handle.contains(&needle)
                || m.row.display_name.to_lowercase().contains(&needle)
        })
        .cloned()
        .collect();
    let now = state.clock.now();
    Ok(ui::page(
        &ctx,
        "Team",
        pages::board(&ctx, &shown, now, &q.state, &q.q, total),
    ))
}

#[derive(Deserialize)]
struct HistoryQuery {
    before: Option<i64>,
}

const HISTORY_PAGE: i64 = 50;

async fn member(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(handle): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> AppResult<Html<String>> {
    let now = state.clock.now();
    let row = store::board(&state.pool, now, Some(&handle))
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)?;
    let m = Member::from_row(row, now);
    let mut events = store::history(&state.pool, m.row.id, q.before, HISTORY_PAGE + 1).await?;
    let next = (events.len() as i64 > HISTORY_PAGE)
        .then(|| events.get(HISTORY_PAGE as usize - 1).map(|e| e.id))
        .flatten();
    events.truncate(HISTORY_PAGE as usize);
    let leaves = store::leaves(&state.pool, LeaveScope::Member(m.row.id), 50).await?;
    let title = m.row.display_name.clone();
    Ok(ui::page(
        &ctx,
        &title,
        pages::member(&ctx, &m, now, &events, next, &leaves),
    ))
}

async fn render_me(
    state: &AppState,
    ctx: &PageCtx,
    user: &CurrentUser,
    forms: MeForms<'_>,
) -> AppResult<Html<String>> {
    let now = state.clock.now();
    let row = store::board(&state.pool, now, Some(&user.handle))
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)?;
    let me = Member::from_row(row, now);
    let leaves = store::leaves(&state.pool, LeaveScope::Member(user.id.0), 50).await?;
    Ok(ui::page(
        ctx,
        "My status",
        pages::me(
            ctx,
            &me,
            now,
            &leaves,
            forms,
            state.config.leave_notice_hours,
        ),
    ))
}

async fn me(
    State(state): State<AppState>,
    user: CurrentUser,
    ctx: PageCtx,
) -> AppResult<Html<String>> {
    let none = FormErrors::default();
    render_me(
        &state,
        &ctx,
        &user,
        MeForms {
            offline: &OfflineForm::default(),
            offline_errs: &none,
            leave: &LeaveInput::default(),
            leave_errs: &none,
        },
    )
    .await
}

async fn online(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
) -> AppResult<Redirect> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::SetOwnStatus)?;
    ops::check_in(&state, &user, &actor, CheckIn::Online).await?;
    Ok(cookies.done("You are online.", "/me"))
}

async fn away(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
) -> AppResult<Redirect> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::SetOwnStatus)?;
    ops::check_in(&state, &user, &actor, CheckIn::Away).await?;
    Ok(cookies.done("You are away. Press “I'm online” when you are back.", "/me"))
}

async fn offline(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<OfflineForm>,
) -> AppResult<Response> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::SetOwnStatus)?;
    let result = ops::go_offline(&state, &user, &actor, &f)
        .await?
        .map(|until| {
            // The same zone as the pages: the viewer's.
            let msg = format!(
                "You are offline until {}; the team has been told when you will be back.",
                ui::when_text(&ctx, until)
            );
            (msg, "/me".to_string())
        });
    let (blank, none) = (LeaveInput::default(), FormErrors::default());
    cookies
        .form_outcome(result, |errs| async move {
            let forms = MeForms {
                offline: &f,
                offline_errs: &errs,
                leave: &blank,
                leave_errs: &none,
            };
            render_me(&state, &ctx, &user, forms).await
        })
        .await
}

async fn request_leave(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<LeaveInput>,
) -> AppResult<Response> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::SetOwnStatus)?;
    let result = ops::request_leave(&state, &user, &actor, &f)
        .await?
        .map(|_| {
            let msg = if f.emergency.is_some() {
                "Emergency leave recorded and announced to the inner circle. Take care."
            } else {
                "Leave requested; a lead will acknowledge it."
            };
            (msg.to_string(), "/me".to_string())
        });
    let (blank, none) = (OfflineForm::default(), FormErrors::default());
    cookies
        .form_outcome(result, |errs| async move {
            let forms = MeForms {
                offline: &blank,
                offline_errs: &none,
                leave: &f,
                leave_errs: &errs,
            };
            render_me(&state, &ctx, &user, forms).await
        })
        .await
}

async fn calendar(State(state): State<AppState>, ctx: PageCtx) -> AppResult<Html<String>> {
    let now = state.clock.now();
    let viewer_tz: chrono_tz::Tz = ctx.tz().parse().unwrap_or(chrono_tz::UTC);
    let first = now.with_timezone(&viewer_tz).date_naive();
    // Members' dates are their own: widen the window by a day each side for zone differences.
    let from = model::start_of_day(first, viewer_tz) - Duration::days(1);
    let to = from + Duration::days(30);
    let leaves = store::leaves(&state.pool, LeaveScope::Window(from, to), 2000).await?;
    let members = store::board(&state.pool, now, None).await?;
    let is_lead = ctx.user.as_ref().is_some_and(|u| u.role >= Role::Lead);
    let pending = if is_lead {
        Some(store::leaves(&state.pool, LeaveScope::Pending, 200).await?)
    } else {
        None
    };
    let body = {
        use leptos::prelude::*;
        let pending = pending.map(|p| pages::pending(&ctx, &p));
        view! {
            <h1>"Leave calendar"</h1>
            <p class="muted">"The next four weeks. "<a href="/me#leave">"Request leave →"</a></p>
            {pending}
            {pages::calendar(&members, &leaves, first)}
        }
    };
    Ok(ui::page(&ctx, "Leave", body))
}

#[derive(Deserialize)]
struct NoteForm {
    #[serde(default)]
    note: String,
}

async fn decide(
    state: AppState,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    id: i64,
    d: Decision,
    note: &str,
) -> AppResult<Redirect> {
    let msg = ops::decide_leave(&state, &user, &actor, id, d, note).await?;
    Ok(cookies.done(msg, "/leave"))
}

async fn acknowledge(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
    Form(f): Form<NoteForm>,
) -> AppResult<Redirect> {
    decide(
        state,
        user,
        actor,
        cookies,
        id,
        Decision::Acknowledge,
        &f.note,
    )
    .await
}

async fn decline(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
    Form(f): Form<NoteForm>,
) -> AppResult<Redirect> {
    decide(state, user, actor, cookies, id, Decision::Decline, &f.note).await
}

async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let msg = ops::cancel_leave(&state, &user, &actor, id).await?;
    Ok(cookies.done(msg, "/me"))
}
