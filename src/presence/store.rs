//! All SQL of availability: check-ins, leave requests, the board, the calendar.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};

use super::model::{CheckIn, LeaveKind, LeavePlan, LeaveStatus};
use crate::auth::model::AccountId;

/// Records a check-in and makes it the member's current one.
pub async fn record_check_in(
    conn: &mut PgConnection,
    who: AccountId,
    state: CheckIn,
    at: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    reason: &str,
) -> sqlx::Result<i64> {
    let id = sqlx::query_scalar!(
        "insert into presence_events (account_id, state, at, until, reason)
         values ($1, $2, $3, $4, $5) returning id",
        who.0,
        state.as_str(),
        at as _,
        until as _,
        reason
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        "insert into presence_current (account_id, event_id) values ($1, $2)
         on conflict (account_id) do update set event_id = excluded.event_id",
        who.0,
        id
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// One member's row on the board, with their current check-in and leave (one query for all).
#[derive(Clone, Debug)]
pub struct BoardRow {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub timezone: String,
    pub state: Option<CheckIn>,
    pub at: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub leave_ends_on: Option<NaiveDate>,
    pub leave_emergency: Option<bool>,
    pub leave_status: Option<LeaveStatus>,
    pub next_leave_starts_on: Option<NaiveDate>,
    pub next_leave_ends_on: Option<NaiveDate>,
}

/// Every enabled member (or only `handle`) with what the board needs at `now`.
pub async fn board(
    pool: &PgPool,
    now: DateTime<Utc>,
    handle: Option<&str>,
) -> sqlx::Result<Vec<BoardRow>> {
    sqlx::query_as!(
        BoardRow,
        r#"select a.id, a.handle, a.display_name, a.timezone,
                  e.state as "state?: CheckIn", e.at as "at?: _", e.until as "until?: _", e.reason as "reason?",
                  cl.ends_on as "leave_ends_on?: _", cl.emergency as "leave_emergency?",
                  cl.status as "leave_status?: LeaveStatus",
                  nl.starts_on as "next_leave_starts_on?: _", nl.ends_on as "next_leave_ends_on?: _"
           from accounts a
           left join presence_current pc on pc.account_id = a.id
           left join presence_events e on e.id = pc.event_id
           left join lateral (
               select l.ends_on, l.emergency, l.status from leave_requests l
               where l.account_id = a.id and l.status = any($2)
                 and l.starts_at <= $1 and l.ends_at > $1
               order by l.starts_at limit 1
           ) cl on true
           left join lateral (
               select l.starts_on, l.ends_on from leave_requests l
               where l.account_id = a.id and l.status = any($2) and l.starts_at > $1
               order by l.starts_at limit 1
           ) nl on true
           where a.disabled_at is null and not a.is_service
             and ($3::text is null or a.handle = $3)
           order by a.display_name, a.id"#,
        now as _,
        &LeaveStatus::ACTIVE.map(|s| s.as_str().to_string())[..],
        handle
    )
    .fetch_all(pool)
    .await
}

#[derive(Clone, Debug)]
pub struct EventRow {
    pub id: i64,
    pub state: CheckIn,
    pub at: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub reason: String,
}

/// A member's check-ins, newest first, `limit` older than event `before` (keyset).
pub async fn history(
    pool: &PgPool,
    who: i64,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as!(
        EventRow,
        r#"select id, state as "state: CheckIn", at as "at: _", until as "until: _", reason
           from presence_events
           where account_id = $1 and ($2::bigint is null or id < $2)
           order by id desc
           limit $3"#,
        who,
        before,
        limit
    )
    .fetch_all(pool)
    .await
}

#[derive(Clone, Debug)]
pub struct LeaveRow {
    pub id: i64,
    pub account_id: i64,
    pub handle: String,
    pub display_name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub timezone: String,
    pub kind: LeaveKind,
    pub note: String,
    pub emergency: bool,
    pub status: LeaveStatus,
    pub decided_by: Option<String>,
    pub decision_note: String,
    pub created_at: DateTime<Utc>,
}

/// Locks the member's account row: concurrent leave requests of one member are serialised, so
/// the overlap check below cannot race.
pub async fn lock_member(conn: &mut PgConnection, who: AccountId) -> sqlx::Result<()> {
    sqlx::query!("select id from accounts where id = $1 for update", who.0)
        .fetch_one(conn)
        .await?;
    Ok(())
}

/// The first active leave of the member that overlaps `plan`.
pub async fn overlapping_leave(
    conn: &mut PgConnection,
    who: AccountId,
    plan: &LeavePlan,
) -> sqlx::Result<Option<(NaiveDate, NaiveDate)>> {
    let row = sqlx::query!(
        r#"select starts_on as "starts_on: NaiveDate", ends_on as "ends_on: NaiveDate" from leave_requests
         where account_id = $1 and status = any($2) and starts_at < $4 and ends_at > $3
         order by starts_at limit 1"#,
        who.0,
        &LeaveStatus::ACTIVE.map(|s| s.as_str().to_string())[..],
        plan.starts_at as _,
        plan.ends_at as _
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.starts_on, r.ends_on)))
}

pub async fn insert_leave(
    conn: &mut PgConnection,
    who: AccountId,
    plan: &LeavePlan,
    tz: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into leave_requests
           (account_id, starts_on, ends_on, starts_at, ends_at, timezone, kind, note, emergency)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
        who.0,
        plan.starts_on as _,
        plan.ends_on as _,
        plan.starts_at as _,
        plan.ends_at as _,
        tz,
        plan.kind.as_str(),
        plan.note,
        plan.emergency
    )
    .fetch_one(conn)
    .await
}

/// Which leave requests a list shows.
pub enum LeaveScope {
    /// One member's, newest first.
    Member(i64),
    /// Pending ones, soonest first.
    Pending,
    /// Active ones overlapping [from, to), by start.
    Window(DateTime<Utc>, DateTime<Utc>),
}

/// Leave requests with their member and decider (one query).
pub async fn leaves(pool: &PgPool, scope: LeaveScope, limit: i64) -> sqlx::Result<Vec<LeaveRow>> {
    let (member, pending, from, to) = match scope {
        LeaveScope::Member(id) => (Some(id), false, None, None),
        LeaveScope::Pending => (None, true, None, None),
        LeaveScope::Window(f, t) => (None, false, Some(f), Some(t)),
    };
    sqlx::query_as!(
        LeaveRow,
        r#"select l.id, l.account_id, a.handle, a.display_name, l.starts_on as "starts_on: _", l.ends_on as "ends_on: _",
                  l.starts_at as "starts_at: _", l.ends_at as "ends_at: _", l.timezone, l.kind as "kind: LeaveKind",
                  l.note, l.emergency, l.status as "status: LeaveStatus", d.handle as "decided_by?", l.decision_note,
                  l.created_at as "created_at: _"
           from leave_requests l
           join accounts a on a.id = l.account_id
           left join accounts d on d.id = l.decided_by
           where ($1::bigint is null or l.account_id = $1)
             and (not $2 or l.status = 'pending')
             and ($3::timestamptz is null or (l.status in ('pending', 'acknowledged')
                                              and l.ends_at > $3 and l.starts_at < $4))
           order by
             case when $1::bigint is not null then l.starts_at end desc,
             l.starts_at, l.id
           limit $5"#,
        member,
        pending,
        from as _,
        to as _,
        limit
    )
    .fetch_all(pool)
    .await
}

/// A leave request, locked for the rest of the transaction.
pub async fn lock_leave(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<LeaveRow>> {
    sqlx::query_as!(
        LeaveRow,
        r#"select l.id, l.account_id, a.handle, a.display_name, l.starts_on as "starts_on: _", l.ends_on as "ends_on: _",
                  l.starts_at as "starts_at: _", l.ends_at as "ends_at: _", l.timezone, l.kind as "kind: LeaveKind",
                  l.note, l.emergency, l.status as "status: LeaveStatus", null::text as "decided_by?", l.decision_note,
                  l.created_at as "created_at: _"
           from leave_requests l join accounts a on a.id = l.account_id
           where l.id = $1
           for update of l"#,
        id
    )
    .fetch_optional(conn)
    .await
}

pub async fn set_leave_status(
    conn: &mut PgConnection,
    id: i64,
    status: LeaveStatus,
    decided_by: Option<AccountId>,
    note: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update leave_requests
         set status = $2, decided_by = coalesce($3, decided_by),
             decided_at = case when $3::bigint is null then decided_at else now() end,
             decision_note = case when $3::bigint is null then decision_note else $4 end
         where id = $1",
        id,
        status as LeaveStatus,
        decided_by.map(|a| a.0),
        note
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Pending leave requests of members other than `except`.
pub async fn count_pending_for(pool: &PgPool, except: AccountId) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "n!" from leave_requests where status = 'pending' and account_id <> $1"#,
        except.0
    )
    .fetch_one(pool)
    .await
}

pub struct Overdue {
    pub handle: String,
    pub display_name: String,
    pub timezone: String,
    pub until: DateTime<Utc>,
}

/// Members whose latest check-in is offline with a return time before `now`, not yet announced
/// and not on leave now: flagged as announced and returned, in one statement.
pub async fn mark_overdue(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Overdue>> {
    sqlx::query_as!(
        Overdue,
        r#"update presence_events e set overdue_announced = true
           from presence_current c join accounts a on a.id = c.account_id
           where c.event_id = e.id and e.state = 'offline' and not e.overdue_announced
             and e.until < $1 and a.disabled_at is null
             and not exists (select 1 from leave_requests l
                             where l.account_id = a.id and l.status in ('pending', 'acknowledged')
                               and l.starts_at <= $1 and l.ends_at > $1)
           returning a.handle, a.display_name, a.timezone, e.until as "until!: DateTime<Utc>""#,
        now as _
    )
    .fetch_all(conn)
    .await
}
