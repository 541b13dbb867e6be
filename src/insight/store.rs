//! All SQL of insight: read-only reports over the rollups the database keeps in the writing
//! transaction (`insight_days`, `insight_failures`, the lead-time histograms — migration
//! `roll_up_insight`) and the rows behind them: deployments, incidents, change records, docs, tags
//! and backports other features write (insight writes nothing). Each report is one query.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use super::model::{Day, Dep, Failure, Inc, Lead, Summary};

/// The filters of a report.
pub struct Scope<'a> {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub service: Option<&'a str>,
    pub environment: Option<&'a str>,
}

impl Scope<'_> {
    /// The whole team: a change counts once, at its first production deployment. With a filter,
    /// a change counts once per service that shipped it.
    fn team(&self) -> bool {
        self.service.is_none() && self.environment.is_none()
    }

    fn first_day(&self) -> NaiveDate {
        self.from.date_naive()
    }

    fn last_day(&self) -> NaiveDate {
        (self.to - chrono::Duration::seconds(1)).date_naive()
    }
}

/// The window's days from the rollups, summed over the services and production environments in
/// scope: per environment (`insight_env_days`, a few rows a day) unless a service is chosen.
pub async fn days(pool: &PgPool, s: &Scope<'_>) -> sqlx::Result<Vec<Day>> {
    match s.service {
        None => {
            sqlx::query_as!(
                Day,
                r#"select x.day as "day!: NaiveDate", sum(x.deployments)::bigint as "deployments!",
                          sum(x.live)::bigint as "live!", sum(x.failing)::bigint as "failing!",
                          sum(x.reworked)::bigint as "reworked!"
                   from insight_env_days x
                   join environments e on e.id = x.environment_id
                   where e.tier = 'production' and x.day >= $1 and x.day <= $2
                     and ($3::text is null or e.name = $3)
                   group by x.day
                   having sum(x.deployments) > 0
                   order by x.day"#,
                s.first_day() as _,
                s.last_day() as _,
                s.environment
            )
            .fetch_all(pool)
            .await
        }
        Some(service) => {
            sqlx::query_as!(
                Day,
                r#"select x.day as "day!: NaiveDate", sum(x.deployments)::bigint as "deployments!",
                          sum(x.live)::bigint as "live!", sum(x.failing)::bigint as "failing!",
                          sum(x.reworked)::bigint as "reworked!"
                   from insight_days x
                   join environments e on e.id = x.environment_id
                   join services sv on sv.id = x.service_id
                   where e.tier = 'production' and x.day >= $1 and x.day <= $2
                     and sv.name = $3
                     and ($4::text is null or e.name = $4)
                   group by x.day
                   order by x.day"#,
                s.first_day() as _,
                s.last_day() as _,
                service,
                s.environment
            )
            .fetch_all(pool)
            .await
        }
    }
}

/// Recovery times of the window's failing deployments in summary: how many were restored, how
/// many not yet, median and p90 (nearest rank), and the median per UTC week.
pub async fn recovery(pool: &PgPool, s: &Scope<'_>) -> sqlx::Result<Summary> {
    let rows = sqlx::query!(
        r#"select date_trunc('week', f.started_at at time zone 'UTC')::date as "week: NaiveDate",
                  count(f.restored_at) as "restored!",
                  count(*) filter (where f.restored_at is null) as "open!",
                  (percentile_disc(0.5) within group (order by extract(epoch from greatest(f.restored_at - f.started_at, interval '0')))
                     filter (where f.restored_at is not null) / 3600.0)::float8 as median,
                  (percentile_disc(0.9) within group (order by extract(epoch from greatest(f.restored_at - f.started_at, interval '0')))
                     filter (where f.restored_at is not null) / 3600.0)::float8 as p90
           from insight_failures f
           join environments e on e.id = f.environment_id
           join services sv on sv.id = f.service_id
           where e.tier = 'production' and f.started_at >= $1 and f.started_at < $2
             and ($3::text is null or sv.name = $3)
             and ($4::text is null or e.name = $4)
           group by grouping sets ((date_trunc('week', f.started_at at time zone 'UTC')::date), ())"#,
        s.from as _,
        s.to as _,
        s.service,
        s.environment
    )
    .fetch_all(pool)
    .await?;
    let mut out = Summary::default();
    for r in rows {
        match r.week {
            Some(w) => {
                if let Some(m) = r.median {
                    out.weekly.insert(w, m);
                }
            }
            None => {
                out.points = r.restored as usize;
                out.open = r.open as usize;
                out.median = r.median;
                out.p90 = r.p90;
            }
        }
    }
    Ok(out)
}

/// The failing deployments of the window with why and when service came back (the rows behind
/// fail rate and recovery), newest first.
pub async fn failures(pool: &PgPool, s: &Scope<'_>) -> sqlx::Result<Vec<Failure>> {
    let rows = sqlx::query!(
        r#"select f.deployment_id, f.why, f.started_at as "started_at: DateTime<Utc>",
                  f.restored_at as "restored_at: DateTime<Utc>"
           from insight_failures f
           join environments e on e.id = f.environment_id
           join services sv on sv.id = f.service_id
           where e.tier = 'production' and f.started_at >= $1 and f.started_at < $2
             and ($3::text is null or sv.name = $3)
             and ($4::text is null or e.name = $4)
           order by f.started_at desc, f.deployment_id desc"#,
        s.from as _,
        s.to as _,
        s.service,
        s.environment
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Failure {
            deployment: r.deployment_id,
            why: r.why,
            restored_at: r.restored_at,
            hours: r
                .restored_at
                .map(|t| ((t - r.started_at).num_seconds() as f64 / 3600.0).max(0.0)),
        })
        .collect())
}

/// The lead-time histogram of the window by week: (Monday, bucket, count) — the team's (each change once),
/// an environment's or a service's (each change per service that shipped it).
pub async fn lead_buckets(
    pool: &PgPool,
    s: &Scope<'_>,
) -> sqlx::Result<Vec<(NaiveDate, i16, i64)>> {
    let rows = match (s.service, s.environment) {
        (None, None) => {
            sqlx::query!(
                r#"select date_trunc('week', day)::date as "day!: NaiveDate", bucket as "bucket!", sum(n)::bigint as "n!"
                   from insight_team_leads
                   where day >= $1 and day <= $2 and n > 0
                   group by 1, 2"#,
                s.first_day() as _,
                s.last_day() as _
            )
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| (r.day, r.bucket, r.n))
            .collect()
        }
        (None, Some(env)) => {
            sqlx::query!(
                r#"select date_trunc('week', l.day)::date as "day!: NaiveDate", l.bucket as "bucket!", sum(l.n)::bigint as "n!"
                   from insight_env_leads l
                   join environments e on e.id = l.environment_id
                   where e.tier = 'production' and e.name = $3
                     and l.day >= $1 and l.day <= $2 and l.n > 0
                   group by 1, 2"#,
                s.first_day() as _,
                s.last_day() as _,
                env
            )
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| (r.day, r.bucket, r.n))
            .collect()
        }
        (Some(service), env) => {
            sqlx::query!(
                r#"select date_trunc('week', l.day)::date as "day!: NaiveDate", l.bucket as "bucket!", sum(l.n)::bigint as "n!"
                   from insight_leads l
                   join environments e on e.id = l.environment_id
                   join services sv on sv.id = l.service_id
                   where e.tier = 'production' and sv.name = $3 and ($4::text is null or e.name = $4)
                     and l.day >= $1 and l.day <= $2 and l.n > 0
                   group by 1, 2"#,
                s.first_day() as _,
                s.last_day() as _,
                service,
                env
            )
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| (r.day, r.bucket, r.n))
            .collect()
        }
    };
    Ok(rows)
}

/// The window's lead-time samples from release tags (repositories without pull requests), as
/// (from, deployed at): few, so read exactly and added to the histogram.
pub async fn tag_lead_times(
    pool: &PgPool,
    s: &Scope<'_>,
) -> sqlx::Result<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
    sqlx::query_as(&format!("select \"from\", deployed_at from ({TAGS}) t"))
        .bind(s.from)
        .bind(s.to)
        .bind(s.service)
        .bind(s.environment)
        .bind(s.team())
        .fetch_all(pool)
        .await
}

/// Production deployments that reached a final state, started in the window, in order.
pub async fn deployments(pool: &PgPool, s: &Scope<'_>) -> sqlx::Result<Vec<Dep>> {
    sqlx::query_as!(
        Dep,
        r#"select d.id, sv.name as service, e.name as environment, d.version, d.status::text as "status!",
                  d.hotfix, d.started_at as "started_at: _", d.finished_at as "finished_at: _"
           from deployments d
           join environments e on e.id = d.environment_id
           join services sv on sv.id = d.service_id
           where e.tier = 'production' and d.status in ('succeeded', 'failed', 'rolled_back')
             and d.started_at >= $1 and d.started_at < $2
             and ($3::text is null or sv.name = $3)
             and ($4::text is null or e.name = $4)
           order by d.started_at, d.id"#,
        s.from as _,
        s.to as _,
        s.service,
        s.environment
    )
    .fetch_all(pool)
    .await
}

/// Incidents in production environments opened in the window, with their cause (`caused_by`).
pub async fn incidents(pool: &PgPool, s: &Scope<'_>) -> sqlx::Result<Vec<Inc>> {
    sqlx::query_as!(
        Inc,
        r#"select i.id, sv.name as service, e.name as environment, i.title,
                  i.opened_at as "opened_at: _", i.resolved_at as "resolved_at: _",
                  i.caused_by
           from incidents i
           join environments e on e.id = i.environment_id
           join services sv on sv.id = i.service_id
           where e.tier = 'production' and i.opened_at >= $1 and i.opened_at < $2
             and ($3::text is null or sv.name = $3)
             and ($4::text is null or e.name = $4)
           order by i.opened_at, i.id"#,
        s.from as _,
        s.to as _,
        s.service,
        s.environment
    )
    .fetch_all(pool)
    .await
}

/// Lead-time samples. A merged pull request's row in `change_deployments` (kept by
/// `ship_changes` / `link_change`: the first production deployment of each of its repository's
/// services that shipped it; a service's first deployment ever ships nothing). Where a service's
/// repository has no change records, its release tags stand in: a version's tag time to the first
/// production deployment of that version — again not the service's first deployment ever.
/// `$5`: for the whole team a change counts once, at its first deployment; with a filter once
/// per service (as the histograms `insight_leads` and `insight_env_leads` count it).
/// (Composed into two queries below, so bound at run time rather than compile-checked.)
const PRS_PER_SERVICE: &str = r#"select * from (
           select distinct on (cd.repository_id, cd.number, case when $5 then 0 else cd.service_id end)
                  r.name || ' #' || c.number || ' ' || c.title as what, sv.name as service,
                  cd.merged_at as "from", cd.deployment_id as deployment, cd.deployed_at as deployed_at
           from change_deployments cd
           join change_records c on c.repository_id = cd.repository_id and c.number = cd.number
           join repositories r on r.id = cd.repository_id
           join services sv on sv.id = cd.service_id
           join deployments d on d.id = cd.deployment_id
           join environments e on e.id = d.environment_id
           where cd.deployed_at >= $1 and cd.deployed_at < $2
             and ($3::text is null or sv.name = $3)
             and ($4::text is null or e.name = $4)
           order by cd.repository_id, cd.number, case when $5 then 0 else cd.service_id end, cd.deployed_at
           ) prs"#;

/// Across all services and production environments: each change once, at its first deployment.
const PRS_FIRST: &str = r#"select r.name || ' #' || c.number || ' ' || c.title as what, sv.name as service,
                  c.merged_at as "from", c.first_deployment_id as deployment, c.first_deployed_at as deployed_at
           from change_records c
           join repositories r on r.id = c.repository_id
           join deployments d on d.id = c.first_deployment_id
           join services sv on sv.id = d.service_id
           where c.first_deployed_at >= $1 and c.first_deployed_at < $2
             and $3::text is null and $4::text is null and $5"#;

const TAGS: &str = r#"           select * from (
           with bare as materialized (
               select b.id, b.name, b.repository_id from services b
               where not exists (select 1 from change_records c where c.repository_id = b.repository_id))
           select distinct on (r.name, t.name, case when $5 then 0 else sv.id end)
                  r.name || ' ' || t.name as what, sv.name as service, t.tagged_at as "from", d.id as deployment,
                  coalesce(d.finished_at, d.started_at) as deployed_at
           from bare sv
           join repositories r on r.id = sv.repository_id
           cross join lateral (
               select d.* from deployments d
               where d.service_id = sv.id and d.status in ('succeeded', 'rolled_back')
                 and d.started_at >= $1 and d.started_at < $2) d
           join environments e on e.id = d.environment_id
           join release_tags t on t.repository_id = sv.repository_id and t.name = d.version
           where e.tier = 'production'
             and ($3::text is null or sv.name = $3)
             and ($4::text is null or e.name = $4)
             and t.tagged_at <= coalesce(d.finished_at, d.started_at)
             and exists (select 1 from deployments p join environments pe on pe.id = p.environment_id
                         where p.service_id = d.service_id and pe.tier = 'production'
                           and p.status in ('succeeded', 'rolled_back') and p.started_at < d.started_at)
             and not exists (select 1 from deployments p join environments pe on pe.id = p.environment_id
                             where p.service_id = d.service_id and pe.tier = 'production' and p.version = d.version
                               and p.status in ('succeeded', 'rolled_back') and p.started_at < d.started_at)
           order by r.name, t.name, case when $5 then 0 else sv.id end, d.started_at
           ) tags"#;

/// Only the two times, for the summary: no joins when the whole team is asked for.
const PRS_FIRST_TIMES: &str = r#"select c.merged_at as "from", c.first_deployed_at as deployed_at
           from change_records c
           where c.first_deployed_at >= $1 and c.first_deployed_at < $2
             and $3::text is null and $4::text is null and $5"#;

/// The samples' two times for a scope (the summary's input).
fn lead_times_sql(s: &Scope<'_>) -> String {
    if s.service.is_none() && s.environment.is_none() {
        format!(
            "select * from ({PRS_FIRST_TIMES}) prs union all select \"from\", deployed_at from ({TAGS}) t"
        )
    } else {
        format!("select \"from\", deployed_at from ({})", leads_sql(s)) + " l"
    }
}

/// The samples query for a scope: per change once (all services, every environment) or per
/// (change, service), and the tags of repositories without pull requests.
fn leads_sql(s: &Scope<'_>) -> String {
    let prs = if s.service.is_none() && s.environment.is_none() {
        PRS_FIRST
    } else {
        PRS_PER_SERVICE
    };
    format!("select * from ({prs}) prs union all {TAGS}")
}

/// (what, service, from, deployment, deployed at)
type LeadRow = (String, String, DateTime<Utc>, i64, DateTime<Utc>);
/// (week or none for the whole window, count, median hours, p90 hours)
type SummaryRow = (Option<chrono::NaiveDate>, i64, Option<f64>, Option<f64>);

/// The lead-time samples of the window (for the rows page and its CSV).
pub async fn leads(pool: &PgPool, s: &Scope<'_>) -> sqlx::Result<Vec<Lead>> {
    let rows: Vec<LeadRow> = sqlx::query_as(&format!(
        "select * from ({}) l order by deployed_at",
        leads_sql(s)
    ))
    .bind(s.from)
    .bind(s.to)
    .bind(s.service)
    .bind(s.environment)
    .bind(s.team())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(what, service, from, deployment, deployed_at)| Lead {
            what,
            service,
            from,
            deployment,
            deployed_at,
        })
        .collect())
}

/// Lead times in summary, computed by the database: count, median and p90 (nearest rank, like
/// `model::quantile`), and the median per UTC week — a few rows instead of every sample.
pub async fn lead_summary(pool: &PgPool, s: &Scope<'_>) -> sqlx::Result<Summary> {
    let rows: Vec<SummaryRow> = sqlx::query_as(
        &format!(
            "select date_trunc('week', deployed_at at time zone 'UTC')::date as week, count(*),
                    percentile_disc(0.5) within group (order by extract(epoch from deployed_at - \"from\") / 3600.0)::float8,
                    percentile_disc(0.9) within group (order by extract(epoch from deployed_at - \"from\") / 3600.0)::float8
             from ({}) l
             group by grouping sets ((date_trunc('week', deployed_at at time zone 'UTC')::date), ())",
            lead_times_sql(s)
        ),
    )
    .bind(s.from)
    .bind(s.to)
    .bind(s.service)
    .bind(s.environment)
    .bind(s.team())
    .fetch_all(pool)
    .await?;
    let mut out = Summary::default();
    for (week, n, median, p90) in rows {
        match week {
            Some(w) => {
                if let Some(m) = median {
                    out.weekly.insert(w, m.max(0.0));
                }
            }
            None => {
                out.points = n as usize;
                out.median = median.map(|m| m.max(0.0));
                out.p90 = p90.map(|m| m.max(0.0));
            }
        }
    }
    Ok(out)
}

/// Services and production environments, for the filters.
pub async fn choices(pool: &PgPool) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    let services = sqlx::query_scalar!("select name from services order by name")
        .fetch_all(pool)
        .await?;
    let envs = sqlx::query_scalar!(
        "select name from environments where tier = 'production' order by position, name"
    )
    .fetch_all(pool)
    .await?;
    Ok((services, envs))
}

pub struct ReviewMonth {
    pub month: String,
    pub docs: i64,
    pub first_verdict_hours: Option<f64>,
    pub decision_hours: Option<f64>,
}

/// Per month of first review request (the last `months`): how many docs went to review, the
/// median time to their first verdict and to a lead's decision.
pub async fn review_speed(
    pool: &PgPool,
    now: DateTime<Utc>,
    months: i32,
) -> sqlx::Result<Vec<ReviewMonth>> {
    sqlx::query_as!(
        ReviewMonth,
        r#"with asked as (
               select r.doc_id, min(r.requested_at) as asked_at, min(r.verdict_at) as first_verdict
               from doc_reviewers r group by r.doc_id
           )
           select to_char(date_trunc('month', a.asked_at), 'YYYY-MM') as "month!",
                  count(*) as "docs!",
                  (percentile_disc(0.5) within group (order by extract(epoch from a.first_verdict - a.asked_at))
                     filter (where a.first_verdict is not null) / 3600.0)::float8 as first_verdict_hours,
                  (percentile_disc(0.5) within group (order by extract(epoch from d.decided_at - a.asked_at))
                     filter (where d.decided_at is not null) / 3600.0)::float8 as decision_hours
           from asked a join docs d on d.id = a.doc_id
           where a.asked_at >= date_trunc('month', $1::timestamptz) - make_interval(months => $2 - 1)
           group by 1 order by 1"#,
        now as _,
        months
    )
    .fetch_all(pool)
    .await
}

/// Docs by state, and reviews overdue now.
pub async fn doc_states(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> sqlx::Result<(Vec<(String, i64)>, i64)> {
    let states = sqlx::query!(
        r#"select status::text as "status!", count(*) as "n!" from docs group by status order by 2 desc"#
    )
    .fetch_all(pool)
    .await?;
    let overdue = sqlx::query_scalar!(
        r#"select count(*) as "n!" from doc_reviewers r join docs d on d.id = r.doc_id
           where r.verdict is null and r.due_at < $1 and d.status in ('in_review', 'changes_requested')"#,
        now as _
    )
    .fetch_one(pool)
    .await?;
    Ok((
        states.into_iter().map(|r| (r.status, r.n)).collect(),
        overdue,
    ))
}

pub struct LineCadence {
    pub repository: String,
    pub line: String,
    pub tags: i64,
    pub opened_at: Option<DateTime<Utc>>,
    pub backports_picked: i64,
    pub backport_hours: Option<f64>,
}

/// Per release line: its tags, when its `vX.Y.0` was tagged, and the median time from a backport
/// request to its pick on that line.
pub async fn cadence(pool: &PgPool) -> sqlx::Result<Vec<LineCadence>> {
    sqlx::query_as!(
        LineCadence,
        r#"select r.name as repository, l.name as line,
                  (select count(*) from release_tags t where t.line_id = l.id) as "tags!",
                  (select min(t.tagged_at) from release_tags t
                   where t.line_id = l.id and t.patch = 0 and t.pre_kind = '') as "opened_at: _",
                  (select count(*) from backport_targets bt where bt.line_id = l.id and bt.status = 'picked') as "backports_picked!",
                  (select (percentile_disc(0.5) within group (order by extract(epoch from bt.updated_at - b.created_at)) / 3600.0)::float8
                   from backport_targets bt join backports b on b.id = bt.backport_id
                   where bt.line_id = l.id and bt.status = 'picked') as backport_hours
           from release_lines l join repositories r on r.id = l.repository_id
           order by r.name, l.major desc nulls first, l.minor desc nulls first
           limit 200"#
    )
    .fetch_all(pool)
    .await
}
