//! All SQL of team rhythm: updates with their revisions, suggestions from the member's week,
//! milestones with their dates, blockers with helpers and the escalation clock's inputs.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};

use super::model::{IsoWeek, Pause};

/// A member of the team (not a service account, not disabled).
#[derive(Clone, Debug)]
pub struct Member {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub timezone: String,
}

pub async fn members(pool: &PgPool) -> sqlx::Result<Vec<Member>> {
    sqlx::query_as!(
        Member,
        "select id, handle, display_name, timezone from accounts
         where disabled_at is null and not is_service order by display_name, id limit 500"
    )
    .fetch_all(pool)
    .await
}

#[derive(Clone, Debug, Default)]
pub struct Update {
    pub account_id: i64,
    pub plan: String,
    pub priority: String,
    pub problem: String,
    pub summary: String,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

/// Every update of `week`.
pub async fn week_updates(pool: &PgPool, week: IsoWeek) -> sqlx::Result<Vec<Update>> {
    sqlx::query_as!(
        Update,
        r#"select account_id, plan, priority, problem, summary, version,
                  updated_at as "updated_at: _"
           from updates where iso_year = $1 and iso_week = $2"#,
        week.year,
        week.week as i32
    )
    .fetch_all(pool)
    .await
}

pub async fn update_of(pool: &PgPool, account: i64, week: IsoWeek) -> sqlx::Result<Option<Update>> {
    sqlx::query_as!(
        Update,
        r#"select account_id, plan, priority, problem, summary, version,
                  updated_at as "updated_at: _"
           from updates where account_id = $1 and iso_year = $2 and iso_week = $3"#,
        account,
        week.year,
        week.week as i32
    )
    .fetch_optional(pool)
    .await
}

/// The four fields of an update.
pub struct Fields<'a> {
    pub plan: &'a str,
    pub priority: &'a str,
    pub problem: &'a str,
    pub summary: &'a str,
}

/// Saves `account`'s update for `week`: a new one when `expected` is 0, else only if it is still
/// at version `expected` (None: someone saved in between). Keeps the revision.
pub async fn save_update(
    conn: &mut PgConnection,
    account: i64,
    week: IsoWeek,
    f: &Fields<'_>,
    expected: i32,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<(i64, i32)>> {
    let saved = if expected == 0 {
        sqlx::query!(
            "insert into updates (account_id, iso_year, iso_week, plan, priority, problem, summary, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $8)
             on conflict (account_id, iso_year, iso_week) do nothing
             returning id, version",
            account,
            week.year,
            week.week as i32,
            f.plan,
            f.priority,
            f.problem,
            f.summary,
            now as _
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| (r.id, r.version))
    } else {
        sqlx::query!(
            "update updates set plan = $4, priority = $5, problem = $6, summary = $7,
                    version = version + 1, updated_at = $8
             where account_id = $1 and iso_year = $2 and iso_week = $3 and version = $9
             returning id, version",
            account,
            week.year,
            week.week as i32,
            f.plan,
            f.priority,
            f.problem,
            f.summary,
            now as _,
            expected
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| (r.id, r.version))
    };
    if let Some((id, version)) = saved {
        sqlx::query!(
            "insert into update_revisions (update_id, version, plan, priority, problem, summary, saved_at)
             values ($1, $2, $3, $4, $5, $6, $7)",
            id,
            version,
            f.plan,
            f.priority,
            f.problem,
            f.summary,
            now as _
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(saved)
}

pub struct Found {
    pub iso_year: i32,
    pub iso_week: i32,
    pub display_name: String,
    pub handle: String,
    pub snippet: String,
}

/// Updates matching `q` (every word), newest weeks first.
pub async fn search(pool: &PgPool, q: &str, limit: i64) -> sqlx::Result<Vec<Found>> {
    sqlx::query_as!(
        Found,
        r#"select u.iso_year, u.iso_week, a.display_name, a.handle,
                  left(concat_ws(' · ', nullif(u.problem, ''), nullif(u.plan, ''), nullif(u.priority, ''), nullif(u.summary, '')), 240) as "snippet!"
           from updates u join accounts a on a.id = u.account_id
           where u.search @@ plainto_tsquery('simple', $1)
           order by u.iso_year desc, u.iso_week desc, a.display_name
           limit $2"#,
        q,
        limit
    )
    .fetch_all(pool)
    .await
}

/// One thing the member did in flowdeck, offered as a line of their update.
pub struct Suggestion {
    pub kind: String,
    pub text: String,
    pub link: String,
}

/// What `account` did between `from` and `to`: docs written, reviewed, decided; deployments
/// recorded; incidents opened or resolved; tags recorded; milestones done or slipped. One query.
pub async fn suggestions(
    pool: &PgPool,
    account: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    today: NaiveDate,
) -> sqlx::Result<Vec<Suggestion>> {
    sqlx::query_as!(
        Suggestion,
        r#"select kind as "kind!", text as "text!", link as "link!" from (
             select 'plan' as kind, d.created_at as at, 'Wrote DD-' || d.number || ' ' || d.title as text, '/docs/' || d.number as link
             from docs d where d.owner_id = $1 and d.created_at >= $2 and d.created_at < $3
             union all
             select 'summary', r.verdict_at, 'Reviewed DD-' || d.number || ' ' || d.title || ' (' || replace(r.verdict::text, '_', ' ') || ')', '/docs/' || d.number
             from doc_reviewers r join docs d on d.id = r.doc_id
             where r.reviewer_id = $1 and r.verdict_at >= $2 and r.verdict_at < $3
             union all
             select 'summary', d.decided_at, 'Decided DD-' || d.number || ' ' || d.title || ' (' || replace(d.status::text, '_', ' ') || ')', '/docs/' || d.number
             from docs d where d.decided_by = $1 and d.decided_at >= $2 and d.decided_at < $3
             union all
             select 'summary', x.started_at,
                    'Deployed ' || sv.name || ' ' || x.version || ' to ' || e.name
                      || case when x.status = 'succeeded' then '' else ' (' || replace(x.status, '_', ' ') || ')' end,
                    '/deployments/' || x.id
             from deployments x join services sv on sv.id = x.service_id join environments e on e.id = x.environment_id
             where x.actor_id = $1 and x.started_at >= $2 and x.started_at < $3
             union all
             select 'problem', i.opened_at, 'Opened incident #' || i.id || ' ' || i.title, '/incidents/' || i.id
             from incidents i where i.opened_by = $1 and i.opened_at >= $2 and i.opened_at < $3
             union all
             select 'summary', i.resolved_at, 'Resolved incident #' || i.id || ' ' || i.title, '/incidents/' || i.id
             from incidents i where i.resolved_by = $1 and i.resolved_at >= $2 and i.resolved_at < $3
             union all
             select 'summary', t.recorded_at, 'Tagged ' || r.name || ' ' || t.name, '/releases/' || r.name
             from release_tags t join repositories r on r.id = t.repository_id
             where t.recorded_by = $1 and t.recorded_at >= $2 and t.recorded_at < $3
             union all
             select 'summary', m.done_at, 'Done: ' || m.title, '/milestones#m-' || m.id
             from milestones m where m.account_id = $1 and m.done_at >= $2 and m.done_at < $3
             union all
             select 'problem', m.updated_at, 'Slipped: ' || m.title || ' (due ' || m.due_on || ')', '/milestones#m-' || m.id
             from milestones m where m.account_id = $1 and m.state <> 'done' and m.due_on < $4
               and m.due_on >= ($2 at time zone 'UTC')::date - 1
           ) s
           order by at, text
           limit 60"#,
        account,
        from as _,
        to as _,
        today as _
    )
    .fetch_all(pool)
    .await
}

/// Members who have no update for `week`, with whether they were reminded already.
pub async fn claim_reminder(
    conn: &mut PgConnection,
    account: i64,
    week: IsoWeek,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "insert into update_reminders (account_id, iso_year, iso_week, sent_at)
         select $1, $2, $3, $4
         where not exists (select 1 from updates where account_id = $1 and iso_year = $2 and iso_week = $3)
         on conflict do nothing",
        account,
        week.year,
        week.week as i32,
        now as _
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Claims the digest of `week` (true once, on one replica).
pub async fn claim_digest(
    conn: &mut PgConnection,
    week: IsoWeek,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "insert into update_digests (iso_year, iso_week, sent_at) values ($1, $2, $3) on conflict do nothing",
        week.year,
        week.week as i32,
        now as _
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

#[derive(Clone, Debug)]
pub struct Milestone {
    pub id: i64,
    pub account_id: i64,
    pub handle: String,
    pub display_name: String,
    pub timezone: String,
    pub title: String,
    pub doc_number: Option<i32>,
    pub doc_title: Option<String>,
    pub line: Option<String>,
    pub repository: Option<String>,
    pub due_on: NaiveDate,
    pub state: String,
    pub version: i32,
    pub first_due: Option<NaiveDate>,
    pub replans: i64,
}

/// Milestones: open ones (by due date) or a member's (newest due first), at most `limit`.
pub async fn milestones(
    pool: &PgPool,
    account: Option<i64>,
    open_only: bool,
    limit: i64,
) -> sqlx::Result<Vec<Milestone>> {
    sqlx::query_as!(
        Milestone,
        r#"select m.id, m.account_id, a.handle, a.display_name, a.timezone, m.title,
                  d.number as "doc_number?", d.title as "doc_title?", l.name as "line?", r.name as "repository?",
                  m.due_on as "due_on: NaiveDate", m.state, m.version,
                  (select h.due_on from milestone_dates h where h.milestone_id = m.id order by h.set_at limit 1) as "first_due: NaiveDate",
                  (select count(*) - 1 from milestone_dates h where h.milestone_id = m.id) as "replans!"
           from milestones m
           join accounts a on a.id = m.account_id
           left join docs d on d.id = m.doc_id
           left join release_lines l on l.id = m.line_id
           left join repositories r on r.id = l.repository_id
           where ($1::bigint is null or m.account_id = $1)
             and (not $2 or m.state <> 'done')
           order by case when $2 then m.due_on end, case when not $2 then m.due_on end desc, m.id desc
           limit $3"#,
        account,
        open_only,
        limit
    )
    .fetch_all(pool)
    .await
}

pub async fn milestone(pool: &PgPool, id: i64) -> sqlx::Result<Option<(i64, i32, NaiveDate)>> {
    Ok(sqlx::query!(
        r#"select account_id, version, due_on as "due_on: NaiveDate" from milestones where id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?
    .map(|r| (r.account_id, r.version, r.due_on)))
}

/// The id of doc `number` and of release line `repo/line`, when named.
pub async fn link_targets(
    pool: &PgPool,
    doc: Option<i32>,
    line: Option<(&str, &str)>,
) -> sqlx::Result<(Option<Option<i64>>, Option<Option<i64>>)> {
    let doc_id = match doc {
        None => None,
        Some(n) => Some(
            sqlx::query_scalar!("select id from docs where number = $1", n)
                .fetch_optional(pool)
                .await?,
        ),
    };
    let line_id = match line {
        None => None,
        Some((repo, name)) => Some(
            sqlx::query_scalar!(
                "select l.id from release_lines l join repositories r on r.id = l.repository_id
                 where r.name = $1 and l.name = $2",
                repo,
                name
            )
            .fetch_optional(pool)
            .await?,
        ),
    };
    Ok((doc_id, line_id))
}

pub async fn create_milestone(
    conn: &mut PgConnection,
    account: i64,
    title: &str,
    doc_id: Option<i64>,
    line_id: Option<i64>,
    due: NaiveDate,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let id = sqlx::query_scalar!(
        "insert into milestones (account_id, title, doc_id, line_id, due_on, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $6) returning id",
        account,
        title,
        doc_id,
        line_id,
        due as _,
        now as _
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        "insert into milestone_dates (milestone_id, due_on, set_at) values ($1, $2, $3)",
        id,
        due as _,
        now as _
    )
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Moves milestone `id` (at `version`) to `state` and/or a new due date (kept in its history).
/// None: it changed in between.
pub async fn change_milestone(
    conn: &mut PgConnection,
    id: i64,
    version: i32,
    state: &str,
    due: NaiveDate,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<()>> {
    let row = sqlx::query!(
        r#"update milestones set state = $3, due_on = $4, updated_at = $5, version = version + 1,
                  done_at = case when $3 = 'done' then coalesce(done_at, $5) end
           where id = $1 and version = $2
           returning (select due_on from milestone_dates h where h.milestone_id = $1 order by set_at desc limit 1) as "last_due: NaiveDate""#,
        id,
        version,
        state,
        due as _,
        now as _
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    if row.last_due != Some(due) {
        sqlx::query!(
            "insert into milestone_dates (milestone_id, due_on, set_at) values ($1, $2, $3)
             on conflict do nothing",
            id,
            due as _,
            now as _
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(Some(()))
}

#[derive(Clone, Debug)]
pub struct Blocker {
    pub id: i64,
    pub account_id: i64,
    pub handle: String,
    pub display_name: String,
    pub what: String,
    pub tried: String,
    pub raised_at: DateTime<Utc>,
    pub stage: i16,
    pub stage_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolver: Option<String>,
    pub resolution: String,
    pub helpers: Vec<i64>,
    pub helper_names: Vec<String>,
}

/// Open blockers (oldest first), or the last `limit` resolved ones.
pub async fn blockers(pool: &PgPool, open: bool, limit: i64) -> sqlx::Result<Vec<Blocker>> {
    sqlx::query_as!(
        Blocker,
        r#"select b.id, b.account_id, a.handle, a.display_name, b.what, b.tried,
                  b.raised_at as "raised_at: _", b.stage, b.stage_at as "stage_at: _",
                  b.resolved_at as "resolved_at: _", rb.display_name as "resolver?", b.resolution,
                  coalesce(array(select h.account_id from blocker_helpers h where h.blocker_id = b.id order by h.account_id), '{}') as "helpers!",
                  coalesce(array(select ha.display_name from blocker_helpers h join accounts ha on ha.id = h.account_id
                                 where h.blocker_id = b.id order by h.account_id), '{}') as "helper_names!"
           from blockers b
           join accounts a on a.id = b.account_id
           left join accounts rb on rb.id = b.resolved_by
           where (b.resolved_at is null) = $1
           order by case when $1 then b.raised_at end, b.resolved_at desc, b.id desc
           limit $2"#,
        open,
        limit
    )
    .fetch_all(pool)
    .await
}

pub async fn raise(
    conn: &mut PgConnection,
    account: i64,
    what: &str,
    tried: &str,
    helpers: &[i64],
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let id = sqlx::query_scalar!(
        "insert into blockers (account_id, what, tried, raised_at) values ($1, $2, $3, $4) returning id",
        account,
        what,
        tried,
        now as _
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!(
        "insert into blocker_helpers (blocker_id, account_id)
         select $1, a.id from accounts a
         where a.id = any($2) and a.id <> $3 and a.disabled_at is null and not a.is_service",
        id,
        helpers,
        account
    )
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// The raiser and helpers of blocker `id` and whether it is open.
pub async fn blocker_people(pool: &PgPool, id: i64) -> sqlx::Result<Option<(i64, Vec<i64>, bool)>> {
    Ok(sqlx::query!(
        r#"select b.account_id, b.resolved_at is null as "open!",
                  coalesce(array(select h.account_id from blocker_helpers h where h.blocker_id = b.id), '{}') as "helpers!"
           from blockers b where b.id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?
    .map(|r| (r.account_id, r.helpers, r.open)))
}

/// Resolves blocker `id` if still open (false: it was resolved in between).
pub async fn resolve(
    conn: &mut PgConnection,
    id: i64,
    by: i64,
    note: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "update blockers set resolved_at = $3, resolved_by = $2, resolution = $4
         where id = $1 and resolved_at is null",
        id,
        by,
        now as _,
        note
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Open blockers whose clock has steps left, locked for this transaction (others skip them).
pub async fn claim_open(
    conn: &mut PgConnection,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i64, DateTime<Utc>, i16)>> {
    Ok(sqlx::query!(
        r#"select id, account_id, raised_at as "raised_at: DateTime<Utc>", stage from blockers
           where resolved_at is null and stage < 3
           order by raised_at, id
           limit $1
           for update skip locked"#,
        limit
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.id, r.account_id, r.raised_at, r.stage))
    .collect())
}

/// Moves blocker `id` from stage `from` to `to` (false: another worker did).
pub async fn set_stage(
    conn: &mut PgConnection,
    id: i64,
    from: i16,
    to: i16,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "update blockers set stage = $3, stage_at = $4 where id = $1 and stage = $2 and resolved_at is null",
        id,
        from,
        to,
        now as _
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// The spans in which the clocks of `accounts` stand still since `since`: offline (from going
/// offline to the next check-in) and acknowledged leave.
pub async fn pauses(
    conn: &mut PgConnection,
    accounts: &[i64],
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<(i64, Pause)>> {
    Ok(sqlx::query!(
        r#"select account_id as "account_id!", starts as "starts!: DateTime<Utc>", ends as "ends: DateTime<Utc>" from (
               select e.account_id, e.at as starts,
                      (select n.at from presence_events n where n.account_id = e.account_id and n.id > e.id
                       order by n.id limit 1) as ends
               from presence_events e
               where e.account_id = any($1) and e.state = 'offline'
                 and e.id >= coalesce((select max(p.id) from presence_events p
                                       where p.account_id = e.account_id and p.at <= $2), 0)
               union all
               select l.account_id, l.starts_at, l.ends_at from leave_requests l
               where l.account_id = any($1) and l.status = 'acknowledged' and l.ends_at > $2
           ) p"#,
        accounts,
        since as _
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.account_id, (r.starts, r.ends)))
    .collect())
}

/// Leads and admins (step 3 tells them).
pub async fn leads(conn: &mut PgConnection) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        "select id from accounts where role in ('lead', 'admin') and disabled_at is null and not is_service"
    )
    .fetch_all(conn)
    .await
}

/// The Problems of `week` and the milestones slipped by `today`, for the digest.
pub async fn digest(
    conn: &mut PgConnection,
    week: IsoWeek,
    today: NaiveDate,
) -> sqlx::Result<(Vec<(String, String)>, Vec<(String, String, NaiveDate)>)> {
    let problems = sqlx::query!(
        "select a.display_name, u.problem from updates u join accounts a on a.id = u.account_id
         where u.iso_year = $1 and u.iso_week = $2 and btrim(u.problem) <> '' order by a.display_name",
        week.year,
        week.week as i32
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.display_name, r.problem))
    .collect();
    let slipped = sqlx::query!(
        r#"select a.display_name, m.title, m.due_on as "due_on: NaiveDate" from milestones m join accounts a on a.id = m.account_id
           where m.state <> 'done' and m.due_on < $1 order by m.due_on, m.id limit 50"#,
        today as _
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.display_name, r.title, r.due_on))
    .collect();
    Ok((problems, slipped))
}
