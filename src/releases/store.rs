//! All SQL of release lines: repositories, lines, immutable tags, backports.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::model::{BackportId, BackportStatus, LineId, LineName, RepositoryId, Version};
use crate::{auth::model::AccountId, error::none_if_violates};

#[derive(Clone, Debug)]
pub struct RepoRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub default_branch: String,
    pub owner_id: i64,
    pub owner: String,
}

pub async fn repositories(pool: &PgPool) -> sqlx::Result<Vec<RepoRow>> {
    sqlx::query_as!(
        RepoRow,
        "select r.id, r.name, r.url, r.default_branch, r.owner_id, a.handle as owner
         from repositories r join accounts a on a.id = r.owner_id
         order by r.name
         limit 200"
    )
    .fetch_all(pool)
    .await
}

pub async fn repository(pool: &PgPool, name: &str) -> sqlx::Result<Option<RepoRow>> {
    sqlx::query_as!(
        RepoRow,
        "select r.id, r.name, r.url, r.default_branch, r.owner_id, a.handle as owner
         from repositories r join accounts a on a.id = r.owner_id
         where r.name = $1",
        name
    )
    .fetch_optional(pool)
    .await
}

/// Creates a repository; `None` when the name is taken.
pub async fn create_repository(
    conn: &mut PgConnection,
    name: &str,
    url: &str,
    default_branch: &str,
    owner: AccountId,
) -> sqlx::Result<Option<i64>> {
    none_if_violates(
        sqlx::query_scalar!(
            "insert into repositories (name, url, default_branch, owner_id) values ($1, $2, $3, $4)
         returning id",
            name,
            url,
            default_branch,
            owner.0
        )
        .fetch_one(conn)
        .await,
        "repositories_name_key",
    )
}

#[derive(Clone, Debug)]
pub struct LineRow {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub tag_count: i64,
    pub newest_tag: Option<String>,
}

impl LineRow {
    pub fn line(&self) -> LineName {
        LineName::parse(&self.name).unwrap_or(LineName::Main)
    }
}

/// A repository's lines: main first, then the newest release line first, each with its tag
/// count and newest (not retracted) tag — one query.
pub async fn lines(pool: &PgPool, repo: i64) -> sqlx::Result<Vec<LineRow>> {
    sqlx::query_as!(
        LineRow,
        r#"select l.id, l.name, a.handle as owner,
                  (select count(*) from release_tags t where t.line_id = l.id) as "tag_count!",
                  (select t.name from release_tags t
                    where t.line_id = l.id and t.retracted_at is null
                    order by t.major desc, t.minor desc, t.patch desc, (t.pre_kind = '') desc,
                             t.pre_kind desc, t.pre_number desc
                    limit 1) as "newest_tag?"
           from release_lines l join accounts a on a.id = l.owner_id
           where l.repository_id = $1
           order by l.major desc nulls first, l.minor desc"#,
        repo
    )
    .fetch_all(pool)
    .await
}

/// The id of `line` in `repo`, created (owned by `owner`) if missing; and whether it was created.
pub async fn ensure_line(
    conn: &mut PgConnection,
    repo: RepositoryId,
    line: LineName,
    owner: AccountId,
) -> sqlx::Result<(i64, bool)> {
    let (major, minor) = match line.numbers() {
        Some((a, b)) => (Some(a as i32), Some(b as i32)),
        None => (None, None),
    };
    let created = sqlx::query_scalar!(
        "insert into release_lines (repository_id, name, major, minor, owner_id)
         values ($1, $2, $3, $4, $5)
         on conflict (repository_id, name) do nothing
         returning id",
        repo.0,
        line.to_string(),
        major,
        minor,
        owner.0
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = created {
        return Ok((id, true));
    }
    let id = sqlx::query_scalar!(
        "select id from release_lines where repository_id = $1 and name = $2",
        repo.0,
        line.to_string()
    )
    .fetch_one(conn)
    .await?;
    Ok((id, false))
}

pub async fn line_id(
    conn: &mut PgConnection,
    repo: i64,
    line: LineName,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "select id from release_lines where repository_id = $1 and name = $2",
        repo,
        line.to_string()
    )
    .fetch_optional(conn)
    .await
}

#[derive(Clone, Debug)]
pub struct TagRow {
    pub id: i64,
    pub name: String,
    pub line: String,
    pub commit_sha: String,
    pub tagged_at: DateTime<Utc>,
    pub source: String,
    pub recorded_by: Option<String>,
    pub retracted_at: Option<DateTime<Utc>>,
    pub retract_reason: Option<String>,
}

/// Tags of one line (or of the whole repository), newest version first.
pub async fn tags(
    pool: &PgPool,
    repo: RepositoryId,
    line: Option<LineId>,
) -> sqlx::Result<Vec<TagRow>> {
    sqlx::query_as!(
        TagRow,
        r#"select t.id, t.name, l.name as line, t.commit_sha, t.tagged_at as "tagged_at: _",
                  t.source, a.handle as "recorded_by?", t.retracted_at as "retracted_at: _",
                  t.retract_reason
           from release_tags t
           join release_lines l on l.id = t.line_id
           left join accounts a on a.id = t.recorded_by
           where t.repository_id = $1 and ($2::bigint is null or t.line_id = $2)
           order by t.major desc, t.minor desc, t.patch desc, (t.pre_kind = '') desc,
                    t.pre_kind desc, t.pre_number desc
           limit 1000"#,
        repo.0,
        line.map(|l| l.0)
    )
    .fetch_all(pool)
    .await
}

pub async fn tag(pool: &PgPool, repo: i64, name: &str) -> sqlx::Result<Option<TagRow>> {
    sqlx::query_as!(
        TagRow,
        r#"select t.id, t.name, l.name as line, t.commit_sha, t.tagged_at as "tagged_at: _",
                  t.source, a.handle as "recorded_by?", t.retracted_at as "retracted_at: _",
                  t.retract_reason
           from release_tags t
           join release_lines l on l.id = t.line_id
           left join accounts a on a.id = t.recorded_by
           where t.repository_id = $1 and t.name = $2"#,
        repo,
        name
    )
    .fetch_optional(pool)
    .await
}

/// The commit an existing tag of `repo` points at.
pub async fn existing_tag_commit(
    conn: &mut PgConnection,
    repo: i64,
    name: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "select commit_sha from release_tags where repository_id = $1 and name = $2",
        repo,
        name
    )
    .fetch_optional(conn)
    .await
}

pub struct NewTag<'a> {
    pub repo: i64,
    pub line: i64,
    pub version: &'a Version,
    pub commit: &'a str,
    pub tagged_at: DateTime<Utc>,
    pub source: &'a str,
    pub recorded_by: Option<AccountId>,
}

/// Records a tag; `None` if the name is already recorded (tags never change).
pub async fn insert_tag(conn: &mut PgConnection, t: NewTag<'_>) -> sqlx::Result<Option<i64>> {
    let (kind, number) = match &t.version.pre {
        Some((k, n)) => (k.as_str(), Some(*n as i32)),
        None => ("", None),
    };
    none_if_violates(
        sqlx::query_scalar!(
            "insert into release_tags (repository_id, line_id, name, major, minor, patch, pre_kind,
                                   pre_number, commit_sha, tagged_at, source, recorded_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning id",
            t.repo,
            t.line,
            t.version.to_string(),
            t.version.major as i32,
            t.version.minor as i32,
            t.version.patch as i32,
            kind,
            number,
            t.commit,
            t.tagged_at as _,
            t.source,
            t.recorded_by.map(|a| a.0)
        )
        .fetch_one(conn)
        .await,
        "release_tags_repo_name_key",
    )
}

/// Marks a tag retracted (once); false if it already was.
pub async fn retract_tag(conn: &mut PgConnection, id: i64, reason: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "update release_tags set retracted_at = now(), retract_reason = $2
         where id = $1 and retracted_at is null",
        id,
        reason
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

pub async fn insert_backport(
    conn: &mut PgConnection,
    repo: RepositoryId,
    title: &str,
    link: &str,
    criticality: &str,
    justification: &str,
    by: AccountId,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into backports (repository_id, title, link, criticality, justification, requested_by)
         values ($1, $2, $3, $4, $5, $6) returning id",
        repo.0,
        title,
        link,
        criticality,
        justification,
        by.0
    )
    .fetch_one(conn)
    .await
}

pub async fn insert_backport_target(
    conn: &mut PgConnection,
    backport: BackportId,
    line: LineId,
    position: i32,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into backport_targets (backport_id, line_id, position) values ($1, $2, $3)",
        backport.0,
        line.0,
        position
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct BackportRow {
    pub id: i64,
    pub title: String,
    pub link: String,
    pub criticality: String,
    pub justification: String,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct TargetRow {
    pub backport_id: i64,
    pub line_id: i64,
    pub line: String,
    pub status: BackportStatus,
}

/// A repository's backports (newest first, or only those targeting `line`) with their targets:
/// two queries, whatever the count.
pub async fn backports(
    pool: &PgPool,
    repo: RepositoryId,
    line: Option<LineId>,
) -> sqlx::Result<(Vec<BackportRow>, Vec<TargetRow>)> {
    let list = sqlx::query_as!(
        BackportRow,
        r#"select b.id, b.title, b.link, b.criticality, b.justification, a.handle as requested_by,
                  b.created_at as "created_at: _"
           from backports b join accounts a on a.id = b.requested_by
           where b.repository_id = $1
             and ($2::bigint is null
                  or exists(select 1 from backport_targets bt where bt.backport_id = b.id and bt.line_id = $2))
           order by b.id desc
           limit 200"#,
        repo.0,
        line.map(|l| l.0)
    )
    .fetch_all(pool)
    .await?;
    let ids: Vec<i64> = list.iter().map(|b| b.id).collect();
    let targets = sqlx::query_as!(
        TargetRow,
        r#"select bt.backport_id, bt.line_id, l.name as line, bt.status as "status: BackportStatus"
           from backport_targets bt join release_lines l on l.id = bt.line_id
           where bt.backport_id = any($1)
           order by bt.backport_id, bt.position"#,
        &ids
    )
    .fetch_all(pool)
    .await?;
    Ok((list, targets))
}

/// Sets one target's status; the previous status, or `None` if there is no such target.
pub async fn set_target_status(
    conn: &mut PgConnection,
    backport: BackportId,
    line: LineId,
    status: BackportStatus,
) -> sqlx::Result<Option<BackportStatus>> {
    let before = sqlx::query_scalar!(
        r#"select status as "status: BackportStatus" from backport_targets
           where backport_id = $1 and line_id = $2 for update"#,
        backport.0,
        line.0
    )
    .fetch_optional(&mut *conn)
    .await?;
    if before.is_some() {
        sqlx::query!(
            "update backport_targets set status = $3, updated_at = now()
             where backport_id = $1 and line_id = $2",
            backport.0,
            line.0,
            status as BackportStatus
        )
        .execute(conn)
        .await?;
    }
    Ok(before)
}

/// Where version `version` of repository `repo` runs now: (service, environment) of the services
/// linked to the repository. The one read of deployment state from this feature: deploys depends
/// on releases (versions are tags), so the tag page reads the current-deployment tables itself.
/// What runs now from a line: (version, service, environment, deployment, incidents attributed
/// to that deployment), newest version first. Reads deployments and incidents (a cross-feature
/// read, like `running`).
pub async fn line_running(
    pool: &PgPool,
    line: i64,
) -> sqlx::Result<Vec<(String, String, String, i64, i64)>> {
    let rows = sqlx::query!(
        r#"select t.name as version, s.name as service, e.name as environment, c.deployment_id,
                  (select count(*) from incidents i
                   where i.caused_by = c.deployment_id) as "incidents!"
           from release_tags t
           join deployments d on d.version = t.name
           join current_deployments c on c.deployment_id = d.id
           join services s on s.id = c.service_id and s.repository_id = t.repository_id
           join environments e on e.id = c.environment_id
           where t.line_id = $1
           order by t.major desc, t.minor desc, t.patch desc, e.position, s.name
           limit 500"#,
        line
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.version,
                r.service,
                r.environment,
                r.deployment_id,
                r.incidents,
            )
        })
        .collect())
}

pub async fn running(
    pool: &PgPool,
    repo: i64,
    version: &str,
) -> sqlx::Result<Vec<(String, String)>> {
    let rows = sqlx::query!(
        "select s.name as service, e.name as environment
         from current_deployments c
         join deployments d on d.id = c.deployment_id
         join services s on s.id = c.service_id
         join environments e on e.id = c.environment_id
         where s.repository_id = $1 and d.version = $2
         order by e.position, e.name, s.name
         limit 500",
        repo,
        version
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.service, r.environment))
        .collect())
}

/// Where a repository is re-imported from, when it last was, and what came of it.
pub async fn import_status(
    pool: &PgPool,
    repo: i64,
) -> sqlx::Result<Option<(String, Option<DateTime<Utc>>, String)>> {
    let row = sqlx::query!(
        r#"select clone_path as "clone_path!", last_import_at as "last_import_at: DateTime<Utc>",
                  last_import_outcome
           from repositories where id = $1 and clone_path is not null"#,
        repo
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.clone_path, r.last_import_at, r.last_import_outcome)))
}
