//! All SQL of the outbox: queueing (outbox row + deliveries + inbox item in one statement), the
//! sender's destination leases and delivery states, destinations and routes, the inbox.

use chrono::{DateTime, NaiveTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use super::Notice;

pub struct Recipient {
    pub timezone: String,
    pub quiet_from: Option<NaiveTime>,
    pub quiet_until: Option<NaiveTime>,
    pub muted: Vec<String>,
}

pub async fn recipient(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Recipient>> {
    sqlx::query_as!(
        Recipient,
        r#"select timezone, quiet_from as "quiet_from: NaiveTime", quiet_until as "quiet_until: NaiveTime", notify_muted as muted
           from accounts where id = $1 and disabled_at is null"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// The outbox row, its deliveries to every destination routed for the event (a paused one keeps
/// them until it is resumed), and the
/// inbox item when `inbox`: one round trip.
pub async fn insert(
    conn: &mut PgConnection,
    n: &Notice,
    held_until: Option<DateTime<Utc>>,
    inbox: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"with o as (
               insert into outbox (event, payload, text, link, recipient_id)
               values ($1, $2, $3, $4, $5) returning id
           ), d as (
               insert into notify_deliveries (outbox_id, destination_id, held_until)
               select o.id, r.destination_id, $6
               from o, notify_routes r
               where r.event = $1 and $8
           )
           insert into inbox_items (account_id, event, text, link)
           select $5, $1, $3, $4 where $7 and $5::bigint is not null"#,
        n.event.key(),
        n.data,
        n.text,
        n.link,
        n.to,
        held_until as _,
        inbox,
        n.chat
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// (pending, dead) deliveries.
pub async fn backlog(pool: &PgPool) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query!(
        r#"select count(*) filter (where status = 'pending') as "pending!",
                  count(*) filter (where status = 'dead') as "dead!"
           from notify_deliveries"#
    )
    .fetch_one(pool)
    .await?;
    Ok((r.pending, r.dead))
}

/// A destination leased to this sender.
pub struct Leased {
    pub id: i64,
    pub kind: String,
    pub url: String,
    pub secret: String,
}

/// Leases up to `limit` enabled destinations whose oldest pending delivery is due (a failing
/// head waits for its retry time; held rows don't block others), for `lease_secs`.
pub async fn lease_destinations(
    pool: &PgPool,
    limit: i64,
    lease_secs: f64,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Leased>> {
    sqlx::query_as!(
        Leased,
        r#"update notify_destinations d
           set leased_until = now() + make_interval(secs => $2)
           where d.id in (
               select c.id from notify_destinations c
               where c.enabled
                 and (c.leased_until is null or c.leased_until < now())
                 and (c.paused_until is null or c.paused_until <= now())
                 and (select x.next_attempt_at from notify_deliveries x
                      where x.destination_id = c.id and x.status = 'pending'
                        and (x.held_until is null or x.held_until <= $3)
                      order by x.id limit 1) <= now()
               order by c.id
               for update skip locked
               limit $1)
           returning d.id, d.kind, d.url, d.secret"#,
        limit,
        lease_secs,
        now as _
    )
    .fetch_all(pool)
    .await
}

pub struct Pending {
    pub delivery_id: i64,
    pub attempts: i32,
    pub due: bool,
    pub outbox_id: i64,
    pub event: String,
    pub text: String,
    pub link: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
}

/// A destination's next pending deliveries in order of creation (rows held past `now`, the
/// clock's instant, skipped).
pub async fn pending(
    pool: &PgPool,
    destination: i64,
    limit: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Pending>> {
    sqlx::query_as!(
        Pending,
        r#"select x.id as delivery_id, x.attempts, x.next_attempt_at <= now() as "due!",
                  o.id as outbox_id, o.event, o.text, o.link, o.payload, o.created_at as "created_at: _"
           from notify_deliveries x join outbox o on o.id = x.outbox_id
           where x.destination_id = $1 and x.status = 'pending'
             and (x.held_until is null or x.held_until <= $3)
           order by x.id
           limit $2"#,
        destination,
        limit,
        now as _
    )
    .fetch_all(pool)
    .await
}

/// Marks deliveries sent and the destination healthy.
pub async fn sent(pool: &PgPool, destination: i64, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query!(
        r#"with s as (
               update notify_deliveries set status = 'sent', sent_at = now(), attempts = attempts + 1,
                      last_error = ''
               where id = any($2) and status = 'pending'
           )
           update notify_destinations set consecutive_failures = 0, last_success_at = now()
           where id = $1"#,
        destination,
        ids
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a failed attempt at deliveries `ids`: retried after `retry_in` seconds, or dead once
/// they reach `max_attempts`. Returns whether they died.
pub async fn failed(
    pool: &PgPool,
    destination: i64,
    ids: &[i64],
    error: &str,
    retry_in: f64,
    max_attempts: i32,
) -> sqlx::Result<bool> {
    let dead = sqlx::query_scalar!(
        r#"with f as (
               update notify_deliveries
               set attempts = attempts + 1, last_error = $3,
                   status = case when attempts + 1 >= $5 then 'dead' else 'pending' end,
                   next_attempt_at = now() + make_interval(secs => $4)
               where id = any($2) and status = 'pending'
               returning status
           ), d as (
               update notify_destinations
               set consecutive_failures = consecutive_failures + 1, last_error = $3, last_failure_at = now()
               where id = $1
           )
           select coalesce(bool_or(status = 'dead'), false) as "dead!" from f"#,
        destination,
        ids,
        error,
        retry_in,
        max_attempts
    )
    .fetch_one(pool)
    .await?;
    Ok(dead)
}

/// Records a test message's outcome on the destination's health (`error` empty: it worked).
pub async fn tested(pool: &PgPool, destination: i64, error: &str) -> sqlx::Result<()> {
    if error.is_empty() {
        sqlx::query!(
            "update notify_destinations set consecutive_failures = 0, last_success_at = now() where id = $1",
            destination
        )
        .execute(pool)
        .await?;
    } else {
        sqlx::query!(
            "update notify_destinations set consecutive_failures = consecutive_failures + 1, last_error = $2,
                    last_failure_at = now() where id = $1",
            destination,
            error
        )
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Pauses a destination (a 429's Retry-After, or chat pacing).
pub async fn pause(pool: &PgPool, destination: i64, secs: f64) -> sqlx::Result<()> {
    sqlx::query!(
        "update notify_destinations set paused_until = now() + make_interval(secs => $2) where id = $1",
        destination,
        secs
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Gives the lease back.
pub async fn release(pool: &PgPool, destination: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update notify_destinations set leased_until = null where id = $1",
        destination
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn forget_old(pool: &PgPool) -> sqlx::Result<u64> {
    let mut n = sqlx::query!(
        "delete from notify_deliveries where status = 'sent' and sent_at < now() - interval '30 days'"
    )
    .execute(pool)
    .await?
    .rows_affected();
    n += sqlx::query!(
        "delete from outbox o where o.created_at < now() - interval '30 days'
           and not exists (select 1 from notify_deliveries x where x.outbox_id = o.id)"
    )
    .execute(pool)
    .await?
    .rows_affected();
    n += sqlx::query!("delete from inbox_items where created_at < now() - interval '90 days'")
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n)
}

// --- destinations, for the integrations page ---

#[derive(Clone, Debug)]
pub struct DestinationRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub enabled: bool,
    pub consecutive_failures: i32,
    pub last_error: String,
    pub last_failure_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub paused_until: Option<DateTime<Utc>>,
    pub pending: i64,
    pub dead: i64,
    pub events: Vec<String>,
}

pub async fn destinations(pool: &PgPool) -> sqlx::Result<Vec<DestinationRow>> {
    destinations_where(pool, None).await
}

/// All destinations, or only `id`.
async fn destinations_where(pool: &PgPool, id: Option<i64>) -> sqlx::Result<Vec<DestinationRow>> {
    sqlx::query_as!(
        DestinationRow,
        r#"select d.id, d.name, d.kind, d.url, d.enabled, d.consecutive_failures, d.last_error,
                  d.last_failure_at as "last_failure_at: _", d.last_success_at as "last_success_at: _",
                  d.paused_until as "paused_until: _",
                  (select count(*) from notify_deliveries x where x.destination_id = d.id and x.status = 'pending') as "pending!",
                  (select count(*) from notify_deliveries x where x.destination_id = d.id and x.status = 'dead') as "dead!",
                  array(select r.event from notify_routes r where r.destination_id = d.id order by r.event) as "events!"
           from notify_destinations d where ($1::bigint is null or d.id = $1) order by d.name"#,
        id
    )
    .fetch_all(pool)
    .await
}

pub async fn destination(pool: &PgPool, id: i64) -> sqlx::Result<Option<(DestinationRow, String)>> {
    let Some(row) = destinations_where(pool, Some(id)).await?.pop() else {
        return Ok(None);
    };
    let secret = sqlx::query_scalar!("select secret from notify_destinations where id = $1", id)
        .fetch_one(pool)
        .await?;
    Ok(Some((row, secret)))
}

pub async fn create_destination(
    conn: &mut PgConnection,
    name: &str,
    kind: &str,
    url: &str,
    secret: &str,
    by: i64,
    events: &[&str],
) -> sqlx::Result<Option<i64>> {
    let id = sqlx::query_scalar!(
        "insert into notify_destinations (name, kind, url, secret, created_by) values ($1, $2, $3, $4, $5)
         on conflict (name) do nothing returning id",
        name,
        kind,
        url,
        secret,
        by
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        set_routes(conn, id, events).await?;
    }
    Ok(id)
}

pub async fn set_routes(conn: &mut PgConnection, id: i64, events: &[&str]) -> sqlx::Result<()> {
    let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    sqlx::query!(
        "with gone as (delete from notify_routes where destination_id = $1)
         insert into notify_routes (destination_id, event) select $1, unnest($2::text[])",
        id,
        &events
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_enabled(conn: &mut PgConnection, id: i64, enabled: bool) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "update notify_destinations set enabled = $2 where id = $1",
        id,
        enabled
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

pub async fn delete_destination(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "delete from notify_destinations where id = $1 returning name",
        id
    )
    .fetch_optional(conn)
    .await
}

pub struct DeadRow {
    pub id: i64,
    pub event: String,
    pub text: String,
    pub attempts: i32,
    pub last_error: String,
    pub created_at: DateTime<Utc>,
}

/// The newest dead deliveries of a destination.
pub async fn dead(pool: &PgPool, destination: i64, limit: i64) -> sqlx::Result<Vec<DeadRow>> {
    sqlx::query_as!(
        DeadRow,
        r#"select x.id, o.event, o.text, x.attempts, x.last_error, o.created_at as "created_at: _"
           from notify_deliveries x join outbox o on o.id = x.outbox_id
           where x.destination_id = $1 and x.status = 'dead'
           order by x.id desc limit $2"#,
        destination,
        limit
    )
    .fetch_all(pool)
    .await
}

/// Puts dead deliveries of a destination (one, or all when `id` is None) back in the queue.
pub async fn retry_dead(
    conn: &mut PgConnection,
    destination: i64,
    id: Option<i64>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "update notify_deliveries set status = 'pending', attempts = 0, next_attempt_at = now(), held_until = null
         where destination_id = $1 and status = 'dead' and ($2::bigint is null or id = $2)",
        destination,
        id
    )
    .execute(conn)
    .await?
    .rows_affected())
}

// --- the inbox and preferences ---

pub struct InboxRow {
    pub id: i64,
    pub event: String,
    pub text: String,
    pub link: String,
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

/// A member's inbox, newest first, keyset-paged by id; marks the shown unread ones read.
pub async fn inbox_page(
    pool: &PgPool,
    account: i64,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<InboxRow>> {
    sqlx::query_as!(
        InboxRow,
        r#"with page as (
               select id from inbox_items
               where account_id = $1 and ($2::bigint is null or id < $2)
               order by id desc limit $3
           ), marked as (
               update inbox_items i set read_at = now()
               from page where i.id = page.id and i.read_at is null
               returning i.id
           )
           select i.id, i.event, i.text, i.link, i.created_at as "created_at: _",
                  (i.id not in (select id from marked)) as "read!"
           from inbox_items i join page on page.id = i.id
           order by i.id desc"#,
        account,
        before,
        limit
    )
    .fetch_all(pool)
    .await
}

pub struct Prefs {
    pub muted: Vec<String>,
    pub quiet_from: Option<NaiveTime>,
    pub quiet_until: Option<NaiveTime>,
}

pub async fn prefs(pool: &PgPool, account: i64) -> sqlx::Result<Prefs> {
    sqlx::query_as!(
        Prefs,
        r#"select notify_muted as muted, quiet_from as "quiet_from: NaiveTime", quiet_until as "quiet_until: NaiveTime"
           from accounts where id = $1"#,
        account
    )
    .fetch_one(pool)
    .await
}

pub async fn set_prefs(conn: &mut PgConnection, account: i64, p: &Prefs) -> sqlx::Result<()> {
    sqlx::query!(
        "update accounts set notify_muted = $2, quiet_from = $3, quiet_until = $4 where id = $1",
        account,
        &p.muted,
        p.quiet_from as _,
        p.quiet_until as _
    )
    .execute(conn)
    .await?;
    Ok(())
}
