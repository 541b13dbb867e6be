//! All SQL of design docs: numbers, saves with optimistic locking, revisions, reviewers,
//! comments, states, and the searchable list.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, QueryBuilder};

use super::model::{Alternative, Content, DocId, ExtraSection, Kind, Status, ThreadId, Verdict};
use crate::auth::model::AccountId;

#[derive(Clone, Debug)]
pub struct DocRow {
    pub id: i64,
    pub number: i32,
    pub title: String,
    pub kind: Kind,
    pub owner_id: i64,
    pub owner: String,
    pub tags: Vec<String>,
    pub target_line: String,
    pub status: Status,
    pub background: String,
    pub objectives: String,
    pub alternatives: serde_json::Value,
    pub conclusion: String,
    pub extra: serde_json::Value,
    pub version: i32,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision: String,
    pub superseded_by: Option<i32>,
    pub updated_at: DateTime<Utc>,
}

impl DocRow {
    pub fn content(&self) -> Content {
        Content {
            title: self.title.clone(),
            kind: self.kind.as_str().to_string(),
            tags: self.tags.clone(),
            target_line: self.target_line.clone(),
            background: self.background.clone(),
            objectives: self.objectives.clone(),
            alternatives: serde_json::from_value::<Vec<Alternative>>(self.alternatives.clone())
                .unwrap_or_default(),
            conclusion: self.conclusion.clone(),
            extra: serde_json::from_value::<Vec<ExtraSection>>(self.extra.clone())
                .unwrap_or_default(),
        }
    }
}

pub async fn doc(conn: &mut PgConnection, number: i32, lock: bool) -> sqlx::Result<Option<DocRow>> {
    if lock {
        sqlx::query_as!(
            DocRow,
            r#"select d.id, d.number, d.title, d.kind as "kind: Kind", d.owner_id, a.handle as owner, d.tags, d.target_line,
                      d.status as "status: Status", d.background, d.objectives, d.alternatives, d.conclusion, d.extra, d.version,
                      dd.handle as "decided_by?", d.decided_at as "decided_at: _", d.decision,
                      d.superseded_by, d.updated_at as "updated_at: _"
               from docs d join accounts a on a.id = d.owner_id left join accounts dd on dd.id = d.decided_by
               where d.number = $1 for update of d"#,
            number
        )
        .fetch_optional(conn)
        .await
    } else {
        sqlx::query_as!(
            DocRow,
            r#"select d.id, d.number, d.title, d.kind as "kind: Kind", d.owner_id, a.handle as owner, d.tags, d.target_line,
                      d.status as "status: Status", d.background, d.objectives, d.alternatives, d.conclusion, d.extra, d.version,
                      dd.handle as "decided_by?", d.decided_at as "decided_at: _", d.decision,
                      d.superseded_by, d.updated_at as "updated_at: _"
               from docs d join accounts a on a.id = d.owner_id left join accounts dd on dd.id = d.decided_by
               where d.number = $1"#,
            number
        )
        .fetch_optional(conn)
        .await
    }
}

/// Creates a doc with the next number (from a counter updated in this transaction).
pub async fn create(
    conn: &mut PgConnection,
    c: &Content,
    owner: AccountId,
) -> sqlx::Result<(i64, i32)> {
    let number =
        sqlx::query_scalar!("update doc_counter set last = last + 1 where id = 1 returning last")
            .fetch_one(&mut *conn)
            .await?;
    let id = sqlx::query_scalar!(
        "insert into docs (number, title, kind, owner_id, tags, target_line, background, objectives,
                           alternatives, conclusion, extra)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id",
        number,
        c.title.trim(),
        c.kind,
        owner.0,
        &c.tags,
        c.target_line.trim(),
        c.background,
        c.objectives,
        serde_json::to_value(&c.alternatives).unwrap_or_default(),
        c.conclusion,
        serde_json::to_value(&c.extra).unwrap_or_default()
    )
    .fetch_one(conn)
    .await?;
    Ok((id, number))
}

/// Saves new content if the doc is still at `expected` version; returns the new version, or
/// `None` when someone saved in between.
pub async fn save(
    conn: &mut PgConnection,
    id: i64,
    expected: i32,
    c: &Content,
) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar!(
        "update docs set title = $3, kind = $4, tags = $5, target_line = $6, background = $7,
                objectives = $8, alternatives = $9, conclusion = $10, extra = $11,
                version = version + 1, updated_at = now()
         where id = $1 and version = $2 returning version",
        id,
        expected,
        c.title.trim(),
        c.kind,
        &c.tags,
        c.target_line.trim(),
        c.background,
        c.objectives,
        serde_json::to_value(&c.alternatives).unwrap_or_default(),
        c.conclusion,
        serde_json::to_value(&c.extra).unwrap_or_default()
    )
    .fetch_optional(conn)
    .await
}

pub async fn add_revision(
    conn: &mut PgConnection,
    doc: DocId,
    version: i32,
    markdown: &str,
    author: AccountId,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into doc_revisions (doc_id, version, markdown, author_id) values ($1, $2, $3, $4)",
        doc.0,
        version,
        markdown,
        author.0
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RevisionRow {
    pub version: i32,
    pub author: String,
    pub at: DateTime<Utc>,
}

pub async fn revisions(pool: &PgPool, doc: i64) -> sqlx::Result<Vec<RevisionRow>> {
    sqlx::query_as!(
        RevisionRow,
        r#"select r.version, a.handle as author, r.at as "at: _" from doc_revisions r
           join accounts a on a.id = r.author_id
           where r.doc_id = $1 order by r.version desc limit 200"#,
        doc
    )
    .fetch_all(pool)
    .await
}

pub async fn revision_text(pool: &PgPool, doc: i64, version: i32) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "select markdown from doc_revisions where doc_id = $1 and version = $2",
        doc,
        version
    )
    .fetch_optional(pool)
    .await
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: i64,
    status: Status,
    decided_by: Option<AccountId>,
    decision: Option<&str>,
    superseded_by: Option<i32>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update docs set status = $2,
                decided_by = coalesce($3, decided_by),
                decided_at = case when $3::bigint is null then decided_at else now() end,
                decision = coalesce($4, decision),
                superseded_by = coalesce($5, superseded_by),
                updated_at = now()
         where id = $1",
        id,
        status as Status,
        decided_by.map(|a| a.0),
        decision,
        superseded_by
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReviewerRow {
    pub reviewer_id: i64,
    pub handle: String,
    pub display_name: String,
    pub requested_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub verdict: Option<Verdict>,
    pub verdict_at: Option<DateTime<Utc>>,
    pub note: String,
}

pub async fn reviewers(conn: &mut PgConnection, doc: i64) -> sqlx::Result<Vec<ReviewerRow>> {
    sqlx::query_as!(
        ReviewerRow,
        r#"select r.reviewer_id, a.handle, a.display_name, r.requested_at as "requested_at: _",
                  r.due_at as "due_at: _", r.verdict as "verdict: Verdict", r.verdict_at as "verdict_at: _", r.note
           from doc_reviewers r join accounts a on a.id = r.reviewer_id
           where r.doc_id = $1 order by r.requested_at, a.handle"#,
        doc
    )
    .fetch_all(conn)
    .await
}

/// Requests a review; false if that person was already asked.
pub async fn add_reviewer(
    conn: &mut PgConnection,
    doc: DocId,
    reviewer: AccountId,
    due: DateTime<Utc>,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "insert into doc_reviewers (doc_id, reviewer_id, due_at) values ($1, $2, $3) on conflict do nothing",
        doc.0,
        reviewer.0,
        due as _
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Records a verdict; false if the person is not a reviewer of the doc.
pub async fn set_verdict(
    conn: &mut PgConnection,
    doc: DocId,
    reviewer: AccountId,
    verdict: Verdict,
    note: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "update doc_reviewers set verdict = $3, verdict_at = now(), note = $4 where doc_id = $1 and reviewer_id = $2",
        doc.0,
        reviewer.0,
        verdict as Verdict,
        note
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CommentRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub section: String,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

pub async fn comments(pool: &PgPool, doc: i64) -> sqlx::Result<Vec<CommentRow>> {
    sqlx::query_as!(
        CommentRow,
        r#"select c.id, c.parent_id, c.section, a.handle as author, c.body,
                  c.created_at as "created_at: _", c.resolved_at as "resolved_at: _"
           from doc_comments c join accounts a on a.id = c.author_id
           where c.doc_id = $1 order by c.id limit 2000"#,
        doc
    )
    .fetch_all(pool)
    .await
}

pub async fn add_comment(
    conn: &mut PgConnection,
    doc: DocId,
    parent: Option<ThreadId>,
    section: &str,
    author: AccountId,
    body: &str,
) -> sqlx::Result<Option<i64>> {
    if let Some(p) = parent {
        let ok = sqlx::query_scalar!(
            "select id from doc_comments where id = $1 and doc_id = $2 and parent_id is null",
            p.0,
            doc.0
        )
        .fetch_optional(&mut *conn)
        .await?;
        if ok.is_none() {
            return Ok(None);
        }
    }
    let id = sqlx::query_scalar!(
        "insert into doc_comments (doc_id, parent_id, section, author_id, body) values ($1, $2, $3, $4, $5) returning id",
        doc.0,
        parent.map(|p| p.0),
        section,
        author.0,
        body
    )
    .fetch_one(&mut *conn)
    .await?;
    // Comments are searchable (weight C).
    sqlx::query!(
        "update docs set comments_text = coalesce((select string_agg(body, ' ') from doc_comments where doc_id = $1), '') where id = $1",
        doc.0
    )
    .execute(conn)
    .await?;
    Ok(Some(id))
}

/// Resolves or reopens a thread; false if there is no such thread on the doc.
pub async fn set_thread_resolved(
    conn: &mut PgConnection,
    doc: DocId,
    thread: ThreadId,
    by: Option<AccountId>,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "update doc_comments set resolved_at = case when $3::bigint is null then null else now() end, resolved_by = $3
         where id = $2 and doc_id = $1 and parent_id is null",
        doc.0,
        thread.0,
        by.map(|b| b.0)
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Filters of the docs list (all optional) and its keyset cursor.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub q: Option<String>,
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    pub owner: Option<String>,
    pub reviewer: Option<String>,
    pub tag: Option<String>,
    pub line: Option<String>,
    /// Without a query: docs numbered below this. With one: the (rank, number) of the last row.
    pub after: Option<(f32, i32)>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ListRow {
    pub number: i32,
    pub title: String,
    pub kind: Kind,
    pub status: Status,
    pub owner: String,
    pub tags: Vec<String>,
    pub target_line: String,
    pub updated_at: DateTime<Utc>,
    pub rank: f32,
}

/// The docs list: dynamic filters built with `QueryBuilder` (binds only), newest first, or by
/// relevance (title > sections > comments) when searching; keyset-paginated.
pub async fn list(pool: &PgPool, f: &ListFilter, limit: i64) -> sqlx::Result<Vec<ListRow>> {
    let mut qb = QueryBuilder::new(
        "select d.number, d.title, d.kind, d.status, a.handle as owner, d.tags, d.target_line, d.updated_at, ",
    );
    match &f.q {
        Some(q) => {
            qb.push("ts_rank(d.search, websearch_to_tsquery('english', ")
                .push_bind(q.clone())
                .push("))::real as rank ");
        }
        None => {
            qb.push("0::real as rank ");
        }
    }
    qb.push("from docs d join accounts a on a.id = d.owner_id where true ");
    if let Some(q) = &f.q {
        qb.push("and d.search @@ websearch_to_tsquery('english', ")
            .push_bind(q.clone())
            .push(") ");
    }
    if let Some(s) = &f.status {
        qb.push("and d.status = ").push_bind(*s).push(" ");
    }
    if let Some(k) = &f.kind {
        qb.push("and d.kind = ").push_bind(*k).push(" ");
    }
    if let Some(o) = &f.owner {
        qb.push("and a.handle = ").push_bind(o.clone()).push(" ");
    }
    if let Some(r) = &f.reviewer {
        qb.push("and exists (select 1 from doc_reviewers r join accounts ra on ra.id = r.reviewer_id where r.doc_id = d.id and ra.handle = ")
            .push_bind(r.clone())
            .push(") ");
    }
    if let Some(t) = &f.tag {
        qb.push("and d.tags @> array[")
            .push_bind(t.clone())
            .push("]::text[] ");
    }
    if let Some(l) = &f.line {
        qb.push("and d.target_line = ")
            .push_bind(l.clone())
            .push(" ");
    }
    match (&f.q, f.after) {
        (Some(q), Some((rank, number))) => {
            qb.push("and (ts_rank(d.search, websearch_to_tsquery('english', ")
                .push_bind(q.clone())
                .push("))::real, d.number) < (")
                .push_bind(rank)
                .push(", ")
                .push_bind(number)
                .push(") ");
        }
        (None, Some((_, number))) => {
            qb.push("and d.number < ").push_bind(number).push(" ");
        }
        _ => {}
    }
    if f.q.is_some() {
        qb.push("order by rank desc, d.number desc ");
    } else {
        qb.push("order by d.number desc ");
    }
    qb.push("limit ").push_bind(limit);
    qb.build_query_as::<ListRow>().fetch_all(pool).await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct QueueRow {
    pub number: i32,
    pub title: String,
    pub owner: String,
    pub status: Status,
    pub due_at: DateTime<Utc>,
    pub verdict: Option<Verdict>,
}

/// Reviews requested of `reviewer` on docs still in review: overdue first, then by due date.
pub async fn queue(pool: &PgPool, reviewer: AccountId) -> sqlx::Result<Vec<QueueRow>> {
    sqlx::query_as!(
        QueueRow,
        r#"select d.number, d.title, a.handle as owner, d.status as "status: Status",
                  r.due_at as "due_at: _", r.verdict as "verdict: Verdict"
           from doc_reviewers r join docs d on d.id = r.doc_id join accounts a on a.id = d.owner_id
           where r.reviewer_id = $1 and d.status in ('in_review', 'changes_requested')
           order by r.verdict is not null, r.due_at limit 200"#,
        reviewer.0
    )
    .fetch_all(pool)
    .await
}

/// Whether any repository has opened the release line `name` (a doc may target a line not opened
/// yet). Reads the releases feature's table: releases depends on docs (a line's page lists the
/// docs targeting it), so docs cannot ask it.
pub async fn line_opened(pool: &PgPool, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists(select 1 from release_lines where name = $1) as "e!""#,
        name
    )
    .fetch_one(pool)
    .await
}
