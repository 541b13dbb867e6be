//! All SQL of deployment state: services, environments, deployments and what runs where,
//! images, health targets and samples, incidents.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::model::{DeploymentId, EnvironmentId, Health, ServiceId, Status};
use crate::{auth::model::AccountId, error::none_if_violates};

#[derive(Clone, Debug)]
pub struct ServiceRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub image: String,
    pub supervisor: String,
    pub owner: String,
    pub probe_interval_seconds: i32,
    pub probe_timeout_seconds: i32,
    pub probe_failures: i32,
    /// The repository whose tags this service's versions are (its name), when linked.
    pub repository_id: Option<i64>,
    pub repository: Option<String>,
}

pub async fn services(pool: &PgPool) -> sqlx::Result<Vec<ServiceRow>> {
    sqlx::query_as!(
        ServiceRow,
        r#"select s.id, s.name, s.role, s.image, s.supervisor, a.handle as owner,
                s.probe_interval_seconds, s.probe_timeout_seconds, s.probe_failures,
                s.repository_id, r.name as "repository?"
         from services s join accounts a on a.id = s.owner_id
         left join repositories r on r.id = s.repository_id
         order by s.name limit 500"#
    )
    .fetch_all(pool)
    .await
}

pub async fn service(pool: &PgPool, name: &str) -> sqlx::Result<Option<ServiceRow>> {
    sqlx::query_as!(
        ServiceRow,
        r#"select s.id, s.name, s.role, s.image, s.supervisor, a.handle as owner,
                s.probe_interval_seconds, s.probe_timeout_seconds, s.probe_failures,
                s.repository_id, r.name as "repository?"
         from services s join accounts a on a.id = s.owner_id
         left join repositories r on r.id = s.repository_id
         where s.name = $1"#,
        name
    )
    .fetch_optional(pool)
    .await
}

pub struct NewService<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub image: &'a str,
    pub supervisor: &'a str,
    pub owner: AccountId,
    pub probe_interval_seconds: i32,
    pub repository_id: Option<i64>,
}

/// `None` when the name is taken.
pub async fn create_service(
    conn: &mut PgConnection,
    s: NewService<'_>,
) -> sqlx::Result<Option<i64>> {
    none_if_violates(
        sqlx::query_scalar!(
            "insert into services (name, role, image, supervisor, owner_id, probe_interval_seconds,
                               repository_id)
         values ($1, $2, $3, $4, $5, $6, $7) returning id",
            s.name,
            s.role,
            s.image,
            s.supervisor,
            s.owner.0,
            s.probe_interval_seconds,
            s.repository_id
        )
        .fetch_one(conn)
        .await,
        "services_name_key",
    )
}

pub async fn set_repository(
    conn: &mut PgConnection,
    service: ServiceId,
    repository: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update services set repository_id = $2 where id = $1",
        service.0,
        repository
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct EnvRow {
    pub id: i64,
    pub name: String,
    pub tier: String,
    pub position: i32,
    pub url: String,
}

pub async fn environments(pool: &PgPool) -> sqlx::Result<Vec<EnvRow>> {
    sqlx::query_as!(
        EnvRow,
        "select id, name, tier, position, url from environments order by position, name limit 100"
    )
    .fetch_all(pool)
    .await
}

pub async fn environment(pool: &PgPool, name: &str) -> sqlx::Result<Option<EnvRow>> {
    sqlx::query_as!(
        EnvRow,
        "select id, name, tier, position, url from environments where name = $1",
        name
    )
    .fetch_optional(pool)
    .await
}

/// A service's health URL per environment id.
pub async fn health_urls(pool: &PgPool, service: i64) -> sqlx::Result<Vec<(i64, String)>> {
    let rows = sqlx::query!(
        "select environment_id, url from health_targets where service_id = $1",
        service
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.environment_id, r.url))
        .collect())
}

pub async fn create_environment(
    conn: &mut PgConnection,
    name: &str,
    tier: &str,
    position: i32,
    url: &str,
) -> sqlx::Result<Option<i64>> {
    none_if_violates(
        sqlx::query_scalar!(
        "insert into environments (name, tier, position, url) values ($1, $2, $3, $4) returning id",
        name,
        tier,
        position,
        url
    )
    .fetch_one(conn)
    .await,
        "environments_name_key",
    )
}

/// A cell of the matrix: what runs, since when, its health.
#[derive(Clone, Debug)]
pub struct CellRow {
    pub service_id: i64,
    pub environment_id: i64,
    pub deployment_id: Option<i64>,
    pub version: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub digest: Option<String>,
    pub image_ref: Option<String>,
    pub health: Option<Health>,
    /// Who reported the health by hand, and when (none when the prober decided it).
    pub reported_by: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
}

/// Every (service, environment) that has something running or a health target — one query.
pub async fn matrix(pool: &PgPool) -> sqlx::Result<Vec<CellRow>> {
    sqlx::query_as!(
        CellRow,
        r#"select coalesce(c.service_id, h.service_id) as "service_id!",
                  coalesce(c.environment_id, h.environment_id) as "environment_id!",
                  d.id as "deployment_id?", d.version as "version?",
                  d.finished_at as "finished_at?: _", d.digest as "digest?",
                  d.image_ref as "image_ref?", h.status as "health?: Health",
                  ra.handle as "reported_by?", h.reported_at as "reported_at?: _"
           from current_deployments c
           join deployments d on d.id = c.deployment_id
           full join health_targets h
             on h.service_id = c.service_id and h.environment_id = c.environment_id
           left join accounts ra on ra.id = h.reported_by"#
    )
    .fetch_all(pool)
    .await
}

/// What runs in one environment now: (service id, name, role, version).
pub async fn running_in(
    pool: &PgPool,
    environment: EnvironmentId,
) -> sqlx::Result<Vec<(i64, String, String, String)>> {
    let rows = sqlx::query!(
        "select s.id, s.name, s.role, d.version
         from current_deployments c
         join services s on s.id = c.service_id
         join deployments d on d.id = c.deployment_id
         where c.environment_id = $1",
        environment.0
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.name, r.role, r.version))
        .collect())
}

pub struct NewDeployment<'a> {
    pub service: i64,
    pub environment: i64,
    pub version: &'a str,
    pub image_ref: &'a str,
    pub digest: &'a str,
    pub status: Status,
    pub at: DateTime<Utc>,
    pub actor_id: Option<AccountId>,
    pub actor: &'a str,
    pub source: &'a str,
    pub commit: &'a str,
    pub note: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub hotfix: bool,
}

/// Inserts a deployment; `None` if its idempotency key was used before.
pub async fn insert_deployment(
    conn: &mut PgConnection,
    d: NewDeployment<'_>,
) -> sqlx::Result<Option<i64>> {
    let finished = d.status.is_final().then_some(d.at);
    none_if_violates(
        sqlx::query_scalar!(
        "insert into deployments (service_id, environment_id, version, image_ref, digest, status,
                                  started_at, finished_at, actor_id, actor, source, commit_sha, note,
                                  idempotency_key, hotfix)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) returning id",
        d.service,
        d.environment,
        d.version,
        d.image_ref,
        d.digest,
        d.status as Status,
        d.at as _,
        finished as _,
        d.actor_id.map(|a| a.0),
        d.actor,
        d.source,
        d.commit,
        d.note,
        d.idempotency_key,
        d.hotfix
    )
    .fetch_one(conn)
    .await,
        "deployments_idempotency_key_key",
    )
}

pub async fn deployment_by_key(conn: &mut PgConnection, key: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!("select id from deployments where idempotency_key = $1", key)
        .fetch_optional(conn)
        .await
}

#[derive(Clone, Debug)]
pub struct DeploymentRow {
    pub id: i64,
    pub service: String,
    pub environment: String,
    pub service_id: i64,
    pub environment_id: i64,
    pub version: String,
    pub image_ref: String,
    pub digest: String,
    pub status: Status,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub source: String,
    pub commit_sha: String,
    pub note: String,
    pub happened_at: DateTime<Utc>,
    pub corrected_at: Option<DateTime<Utc>>,
}

pub async fn lock_deployment(
    conn: &mut PgConnection,
    id: i64,
) -> sqlx::Result<Option<DeploymentRow>> {
    sqlx::query_as!(
        DeploymentRow,
        r#"select d.id, s.name as service, e.name as environment, d.service_id, d.environment_id,
                  d.version, d.image_ref, d.digest, d.status as "status: Status", d.started_at as "started_at: _",
                  d.finished_at as "finished_at: _", d.actor_id, d.actor, d.source, d.commit_sha, d.note,
                  d.happened_at as "happened_at!: _", d.corrected_at as "corrected_at: _"
           from deployments d
           join services s on s.id = d.service_id
           join environments e on e.id = d.environment_id
           where d.id = $1
           for update of d"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Filters of the history; all optional.
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    pub service: Option<i64>,
    pub environment: Option<i64>,
    pub status: Option<Status>,
    /// Keyset cursor: rows strictly older than (when it happened, id).
    pub before: Option<(DateTime<Utc>, i64)>,
}

/// Deployments newest first by when they happened (finished, else started), keyset-paginated
/// on (happened_at, id).
pub async fn history(
    pool: &PgPool,
    f: &HistoryFilter,
    limit: i64,
) -> sqlx::Result<Vec<DeploymentRow>> {
    sqlx::query_as!(
        DeploymentRow,
        r#"select d.id, s.name as service, e.name as environment, d.service_id, d.environment_id,
                  d.version, d.image_ref, d.digest, d.status as "status: Status", d.started_at as "started_at: _",
                  d.finished_at as "finished_at: _", d.actor_id, d.actor, d.source, d.commit_sha, d.note,
                  d.happened_at as "happened_at!: _", d.corrected_at as "corrected_at: _"
           from deployments d
           join services s on s.id = d.service_id
           join environments e on e.id = d.environment_id
           where ($1::bigint is null or d.service_id = $1)
             and ($2::bigint is null or d.environment_id = $2)
             and ($3::text is null or d.status = $3)
             and ($4::timestamptz is null or (d.happened_at, d.id) < ($4, $5))
           order by d.happened_at desc, d.id desc
           limit $6"#,
        f.service,
        f.environment,
        f.status as Option<Status>,
        f.before.map(|b| b.0) as _,
        f.before.map_or(0, |b| b.1),
        limit
    )
    .fetch_all(pool)
    .await
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: i64,
    status: Status,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update deployments set status = $2,
                finished_at = case when $2 in ('succeeded', 'failed', 'rolled_back') then $3::timestamptz else null end
         where id = $1",
        id,
        status as Status,
        at as _
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Re-derives what runs in (service, environment): its latest succeeded deployment, in one
/// statement (upsert it, or delete the row when nothing succeeded there).
pub async fn refresh_current(
    conn: &mut PgConnection,
    service: ServiceId,
    environment: EnvironmentId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "with latest as (
             select id from deployments
             where service_id = $1 and environment_id = $2 and status = 'succeeded'
             order by finished_at desc, id desc limit 1
         ), upsert as (
             insert into current_deployments (service_id, environment_id, deployment_id)
             select $1, $2, id from latest
             on conflict (service_id, environment_id) do update set deployment_id = excluded.deployment_id
         )
         delete from current_deployments
         where service_id = $1 and environment_id = $2 and not exists (select 1 from latest)",
        service.0,
        environment.0
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct ImageRecord {
    pub version: String,
    pub registry: String,
    pub arch: String,
    pub digest: String,
}

pub async fn images(pool: &PgPool, service: i64) -> sqlx::Result<Vec<ImageRecord>> {
    sqlx::query_as!(
        ImageRecord,
        "select version, registry, arch, digest from images where service_id = $1
         order by recorded_at desc, version, registry, arch limit 500",
        service
    )
    .fetch_all(pool)
    .await
}

/// Records (or corrects) one image digest.
pub async fn upsert_image(
    conn: &mut PgConnection,
    service: i64,
    version: &str,
    registry: &str,
    arch: &str,
    digest: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into images (service_id, version, registry, arch, digest) values ($1, $2, $3, $4, $5)
         on conflict (service_id, version, registry, arch)
         do update set digest = excluded.digest, recorded_at = now()",
        service,
        version,
        registry,
        arch,
        digest
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_health_url(
    conn: &mut PgConnection,
    service: ServiceId,
    environment: EnvironmentId,
    url: &str,
) -> sqlx::Result<()> {
    if url.is_empty() {
        sqlx::query!(
            "delete from health_targets where service_id = $1 and environment_id = $2",
            service.0,
            environment.0
        )
        .execute(conn)
        .await?;
    } else {
        sqlx::query!(
            "insert into health_targets (service_id, environment_id, url) values ($1, $2, $3)
             on conflict (service_id, environment_id) do update set url = excluded.url, next_probe_at = now()",
            service.0,
            environment.0,
            url
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Target {
    pub service_id: i64,
    pub environment_id: i64,
    pub url: String,
    pub status: Health,
    pub consecutive_failures: i32,
    pub interval: i32,
    pub timeout: i32,
    pub failures: i32,
}

/// The names of a service and an environment (for messages about a probe target).
pub async fn target_names(
    conn: &mut PgConnection,
    service: i64,
    environment: i64,
) -> sqlx::Result<(String, String)> {
    let r = sqlx::query!(
        "select s.name as service, e.name as environment from services s, environments e where s.id = $1 and e.id = $2",
        service,
        environment
    )
    .fetch_one(conn)
    .await?;
    Ok((r.service, r.environment))
}

/// Claims up to `limit` due targets for `instance` until the lease ends: each target is probed by
/// exactly one instance (`for update skip locked`, then a lease other instances respect).
pub async fn claim_due(pool: &PgPool, instance: &str, limit: i64) -> sqlx::Result<Vec<Target>> {
    sqlx::query_as!(
        Target,
        r#"with due as (
               select h.service_id, h.environment_id from health_targets h
               where h.next_probe_at <= now() and (h.leased_until is null or h.leased_until < now())
               order by h.next_probe_at
               limit $2
               for update skip locked
           )
           update health_targets h
           set leased_by = $1,
               leased_until = now() + make_interval(secs => s.probe_timeout_seconds + 30)
           from due, services s
           where h.service_id = due.service_id and h.environment_id = due.environment_id
             and s.id = h.service_id
           returning h.service_id, h.environment_id, h.url, h.status as "status: Health",
                     h.consecutive_failures,
                     s.probe_interval_seconds as interval, s.probe_timeout_seconds as timeout,
                     s.probe_failures as failures"#,
        instance,
        limit
    )
    .fetch_all(pool)
    .await
}

/// Stores a probe's result, moves the target's state, releases the lease. Returns the new status.
pub async fn finish_probe(
    pool: &PgPool,
    t: &Target,
    instance: &str,
    ok: bool,
    latency_ms: Option<i32>,
    error: &str,
) -> sqlx::Result<Health> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "insert into health_samples (service_id, environment_id, at, ok, latency_ms, error)
         values ($1, $2, now(), $3, $4, $5)",
        t.service_id,
        t.environment_id,
        ok,
        latency_ms,
        error
    )
    .execute(&mut *tx)
    .await?;
    let status = sqlx::query_scalar!(
        r#"update health_targets
         set consecutive_failures = case when $3 then 0 else consecutive_failures + 1 end,
             status = case when $3 then 'up'
                           when consecutive_failures + 1 >= $4 then 'down'
                           else status end,
             last_checked_at = now(), reported_by = null, reported_at = null,
             next_probe_at = now() + make_interval(secs => $5::int),
             leased_by = null, leased_until = null
         where service_id = $1 and environment_id = $2 and leased_by = $6
         returning status as "status: Health""#,
        t.service_id,
        t.environment_id,
        ok,
        t.failures,
        t.interval,
        instance
    )
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or(t.status);
    tx.commit().await?;
    Ok(status)
}

/// A health report by a person (or a site that cannot be probed): one sample; the state follows
/// it at once and names who reported it until the next probe result.
pub async fn report_health(
    conn: &mut PgConnection,
    service: ServiceId,
    environment: EnvironmentId,
    ok: bool,
    note: &str,
    by: Option<AccountId>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into health_samples (service_id, environment_id, at, ok, error, source, reported_by)
         values ($1, $2, now(), $3, $4, 'report', $5)",
        service.0,
        environment.0,
        ok,
        note,
        by.map(|b| b.0)
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "insert into health_targets (service_id, environment_id, url, status, last_checked_at,
                                     next_probe_at, reported_by, reported_at)
         values ($1, $2, '', case when $3 then 'up' else 'down' end, now(), 'infinity', $4, now())
         on conflict (service_id, environment_id) do update
         set status = excluded.status, last_checked_at = now(),
             reported_by = excluded.reported_by, reported_at = excluded.reported_at,
             consecutive_failures = case when $3 then 0 else health_targets.consecutive_failures + 1 end",
        service.0,
        environment.0,
        ok,
        by.map(|b| b.0)
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The health state of one target now, if it has one.
pub async fn health_of(
    pool: &PgPool,
    service: ServiceId,
    environment: EnvironmentId,
) -> sqlx::Result<Option<Health>> {
    sqlx::query_scalar!(
        r#"select status as "status: Health" from health_targets
           where service_id = $1 and environment_id = $2"#,
        service.0,
        environment.0
    )
    .fetch_optional(pool)
    .await
}

/// Corrects the free-form facts of a recorded deployment (never its status or version).
pub async fn correct_deployment(
    conn: &mut PgConnection,
    id: i64,
    note: &str,
    commit: &str,
    image_ref: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update deployments set note = $2, commit_sha = $3, image_ref = $4, corrected_at = $5
         where id = $1",
        id,
        note,
        commit,
        image_ref,
        at as _
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One deployment with its names.
pub async fn deployment(pool: &PgPool, id: i64) -> sqlx::Result<Option<DeploymentRow>> {
    sqlx::query_as!(
        DeploymentRow,
        r#"select d.id, s.name as service, e.name as environment, d.service_id, d.environment_id,
                  d.version, d.image_ref, d.digest, d.status as "status: Status", d.started_at as "started_at: _",
                  d.finished_at as "finished_at: _", d.actor_id, d.actor, d.source, d.commit_sha, d.note,
                  d.happened_at as "happened_at!: _", d.corrected_at as "corrected_at: _"
           from deployments d
           join services s on s.id = d.service_id
           join environments e on e.id = d.environment_id
           where d.id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await
}

#[derive(Clone, Debug)]
pub struct SampleRow {
    pub environment_id: i64,
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub latency_ms: Option<i32>,
}

/// A service's samples since `since`, oldest first.
pub async fn samples(
    pool: &PgPool,
    service: i64,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<SampleRow>> {
    sqlx::query_as!(
        SampleRow,
        r#"select environment_id, at as "at: _", ok, latency_ms from health_samples
           where service_id = $1 and at >= $2 order by at limit 20000"#,
        service,
        since as _
    )
    .fetch_all(pool)
    .await
}

/// Folds samples older than 14 days into `health_daily` and deletes them.
pub async fn summarise_old_samples(pool: &PgPool) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "insert into health_daily (service_id, environment_id, day, checks, failures, avg_latency_ms)
         select service_id, environment_id, at::date, count(*), count(*) filter (where not ok),
                avg(latency_ms)::int
         from health_samples where at < now() - interval '14 days'
         group by service_id, environment_id, at::date
         on conflict (service_id, environment_id, day) do update
         set checks = health_daily.checks + excluded.checks,
             failures = health_daily.failures + excluded.failures"
    )
    .execute(&mut *tx)
    .await?;
    let n = sqlx::query!("delete from health_samples where at < now() - interval '14 days'")
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}

#[derive(Clone, Debug)]
pub struct IncidentRow {
    pub id: i64,
    pub service: String,
    pub environment: String,
    pub severity: String,
    pub title: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The deployment it is attributed to (see `attribution`).
    pub deployment_id: Option<i64>,
    /// explicit (named), default (the latest production deployment before it) or none.
    pub attribution: String,
    pub deployment_version: Option<String>,
    pub opened_by: Option<String>,
    pub resolved_by: Option<String>,
    pub resolution: String,
}

/// Incidents, open ones first, then newest; optionally only `id`, of one service, or only open
/// ones.
pub async fn incidents(
    pool: &PgPool,
    service: Option<i64>,
    open_only: bool,
    limit: i64,
) -> sqlx::Result<Vec<IncidentRow>> {
    incidents_where(pool, None, service, open_only, limit).await
}

pub async fn incident(pool: &PgPool, id: i64) -> sqlx::Result<Option<IncidentRow>> {
    Ok(incidents_where(pool, Some(id), None, false, 1)
        .await?
        .into_iter()
        .next())
}

async fn incidents_where(
    pool: &PgPool,
    id: Option<i64>,
    service: Option<i64>,
    open_only: bool,
    limit: i64,
) -> sqlx::Result<Vec<IncidentRow>> {
    sqlx::query_as!(
        IncidentRow,
        r#"select i.id, s.name as service, e.name as environment, i.severity, i.title,
                  i.opened_at as "opened_at: _", i.resolved_at as "resolved_at: _",
                  i.caused_by as deployment_id, i.attribution,
                  d.version as "deployment_version?", oa.handle as "opened_by?",
                  ra.handle as "resolved_by?", i.resolution
           from incidents i
           join services s on s.id = i.service_id
           join environments e on e.id = i.environment_id
           left join deployments d on d.id = i.caused_by
           left join accounts oa on oa.id = i.opened_by
           left join accounts ra on ra.id = i.resolved_by
           where ($1::bigint is null or i.id = $1)
             and ($2::bigint is null or i.service_id = $2)
             and (not $3 or i.resolved_at is null)
           order by i.resolved_at is null desc, i.opened_at desc, i.id desc
           limit $4"#,
        id,
        service,
        open_only,
        limit
    )
    .fetch_all(pool)
    .await
}

/// Keeps an incident's `caused_by` as `incident_cause` says (after it opens, or its attribution
/// changes), with the attribution window `days`.
pub async fn refresh_cause(conn: &mut PgConnection, id: i64, days: i32) -> sqlx::Result<()> {
    sqlx::query!(
        "update incidents set caused_by = incident_cause(incidents, $2) where id = $1",
        id,
        days
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records which changes a production deployment that went live ships (`ship_changes`).
pub async fn ship_changes(conn: &mut PgConnection, deployment: i64) -> sqlx::Result<()> {
    sqlx::query!("select ship_changes($1)", deployment)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets what an incident is attributed to: `explicit` with a deployment, `none`, or `default`.
pub async fn set_attribution(
    conn: &mut PgConnection,
    id: i64,
    attribution: &str,
    deployment: Option<i64>,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "update incidents set attribution = $2, deployment_id = $3 where id = $1",
        id,
        attribution,
        deployment
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

#[derive(Clone, Debug)]
pub struct IncidentUpdate {
    pub at: DateTime<Utc>,
    pub author: Option<String>,
    pub body: String,
}

/// An incident's updates, oldest first.
pub async fn incident_updates(pool: &PgPool, id: i64) -> sqlx::Result<Vec<IncidentUpdate>> {
    sqlx::query_as!(
        IncidentUpdate,
        r#"select u.at as "at: _", a.handle as "author?", u.body
           from incident_updates u left join accounts a on a.id = u.author_id
           where u.incident_id = $1 order by u.at, u.id limit 500"#,
        id
    )
    .fetch_all(pool)
    .await
}

/// Adds an update to an open incident; false when it is resolved or does not exist.
pub async fn add_incident_update(
    conn: &mut PgConnection,
    id: i64,
    at: DateTime<Utc>,
    by: Option<AccountId>,
    body: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "insert into incident_updates (incident_id, at, author_id, body)
         select id, greatest($2, opened_at), $3, $4 from incidents
         where id = $1 and resolved_at is null",
        id,
        at as _,
        by.map(|b| b.0),
        body
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

#[allow(clippy::too_many_arguments)]
pub async fn open_incident(
    conn: &mut PgConnection,
    service: ServiceId,
    environment: EnvironmentId,
    severity: &str,
    title: &str,
    at: DateTime<Utc>,
    deployment: Option<DeploymentId>,
    by: Option<AccountId>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into incidents (service_id, environment_id, severity, title, opened_at, deployment_id, opened_by, attribution)
         values ($1, $2, $3, $4, $5, $6, $7, case when $6::bigint is null then 'default' else 'explicit' end) returning id",
        service.0,
        environment.0,
        severity,
        title,
        at as _,
        deployment.map(|d| d.0),
        by.map(|b| b.0)
    )
    .fetch_one(conn)
    .await
}

/// Resolves an open incident with a note; false if it was already resolved or does not exist.
pub async fn resolve_incident(
    conn: &mut PgConnection,
    id: i64,
    at: DateTime<Utc>,
    by: Option<AccountId>,
    resolution: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "update incidents set resolved_at = greatest($2, opened_at), resolved_by = $3, resolution = $4
         where id = $1 and resolved_at is null",
        id,
        at as _,
        by.map(|b| b.0),
        resolution
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// A target that is down now: names, and who reported it by hand (none: the prober).
#[derive(Clone, Debug)]
pub struct DownRow {
    pub service: String,
    pub environment: String,
    pub reported_by: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
}

/// Health targets that are down.
pub async fn down_targets(pool: &PgPool) -> sqlx::Result<Vec<DownRow>> {
    sqlx::query_as!(
        DownRow,
        r#"select s.name as service, e.name as environment, a.handle as "reported_by?",
                  h.reported_at as "reported_at?: _"
         from health_targets h
         join services s on s.id = h.service_id
         join environments e on e.id = h.environment_id
         left join accounts a on a.id = h.reported_by
         where h.status = 'down'
         order by s.name, e.position
         limit 20"#
    )
    .fetch_all(pool)
    .await
}
