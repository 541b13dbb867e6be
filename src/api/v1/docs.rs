//! `/api/v1/docs`: reads of design docs — the searchable list with the filters of `/docs`, and one
//! doc with its sections, alternatives, reviewers and decision.

use axum::{
    Json,
    extract::{Path, Query, State},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiResult, Page, need};
use crate::{
    api::tokens::Caller,
    docs::{self, DocFilter, model},
    state::AppState,
};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct DocQuery {
    /// Full-text search (title > sections > comments), e.g. `lease probes`.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Only docs in this state.
    #[param(
        pattern = "^(draft|in_review|changes_requested|approved|rejected|implemented|withdrawn|superseded|on_hold)$"
    )]
    status: Option<String>,
    /// Only docs of this kind.
    #[param(pattern = "^(proposal|problem|decision|information)$")]
    kind: Option<String>,
    /// Only docs owned by this handle.
    owner: Option<String>,
    /// Only docs this handle was asked to review.
    reviewer: Option<String>,
    /// Only docs with this tag.
    tag: Option<String>,
    /// Only docs targeting this release line, e.g. `release-v3.9`.
    line: Option<String>,
    /// The cursor of the previous page's `next`.
    after: Option<String>,
    /// At most this many (1–100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct DocSummaryOut {
    /// The doc's number: `DD-42` is 42.
    number: i32,
    title: String,
    /// proposal, problem, decision or information.
    kind: &'static str,
    /// draft, in_review, changes_requested, approved, rejected, implemented, withdrawn, superseded or on_hold.
    status: &'static str,
    owner: String,
    tags: Vec<String>,
    /// The release line it targets, or empty.
    target_line: String,
    updated_at: DateTime<Utc>,
}

impl From<docs::DocSummary> for DocSummaryOut {
    fn from(d: docs::DocSummary) -> Self {
        Self {
            number: d.number,
            title: d.title,
            kind: d.kind.as_str(),
            status: d.status.as_str(),
            owner: d.owner,
            tags: d.tags,
            target_line: d.target_line,
            updated_at: d.updated_at,
        }
    }
}

fn field<T>(name: &'static str, r: Result<T, String>) -> ApiResult<T> {
    r.map_err(|m| {
        let mut e = ApiError::invalid(m);
        e.fields
            .insert(name.into(), "not one of the allowed values".into());
        e
    })
}

fn parse_after(raw: &str, searching: bool) -> ApiResult<(f32, i32)> {
    let bad = || ApiError::invalid("`after` is a cursor from a previous page's `next`.");
    if searching {
        let (rank, number) = raw.split_once(':').ok_or_else(bad)?;
        let rank: f32 = rank.parse().map_err(|_| bad())?;
        if !rank.is_finite() {
            return Err(bad());
        }
        Ok((rank, number.parse().map_err(|_| bad())?))
    } else {
        Ok((0.0, raw.parse().map_err(|_| bad())?))
    }
}

#[utoipa::path(get, path = "/api/v1/docs", tag = "docs",
    summary = "Design docs, newest first, or by relevance when searching",
    params(DocQuery),
    responses((status = 200, body = Page<DocSummaryOut>), (status = 422, body = super::super::error::ErrorDoc)),
    security(("bearer" = ["read"])))]
pub(super) async fn list_docs(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<DocQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page<DocSummaryOut>>> {
    need(&caller, "read")?;
    let Query(DocQuery {
        q,
        status,
        kind,
        owner,
        reviewer,
        tag,
        line,
        after,
        limit,
    }) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let limit = limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("`limit` is between 1 and 100."));
    }
    let q = q.filter(|q| !q.trim().is_empty());
    if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::invalid("`q` is at most 200 characters."));
    }
    let filter = DocFilter {
        status: status
            .filter(|s| !s.is_empty())
            .map(|s| field("status", model::Status::parse(&s)))
            .transpose()?,
        kind: kind
            .filter(|s| !s.is_empty())
            .map(|s| field("kind", model::Kind::parse(&s)))
            .transpose()?,
        after: after.map(|a| parse_after(&a, q.is_some())).transpose()?,
        q,
        owner: owner.filter(|s| !s.is_empty()),
        reviewer: reviewer.filter(|s| !s.is_empty()),
        tag: tag.filter(|s| !s.is_empty()),
        line: line.filter(|s| !s.is_empty()),
    };
    let rows = docs::search(&state.pool, &filter, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let next = rows.get(limit as usize - 1).filter(|_| more).map(|last| {
        if filter.q.is_some() {
            format!("{}:{}", last.rank, last.number)
        } else {
            last.number.to_string()
        }
    });
    let items = rows
        .into_iter()
        .take(limit as usize)
        .map(DocSummaryOut::from)
        .collect();
    Ok(Json(Page { items, next }))
}

#[derive(Serialize, ToSchema)]
pub(super) struct AlternativeOut {
    title: String,
    description: String,
    pros: String,
    cons: String,
    references: String,
    data: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct SectionOut {
    title: String,
    body: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct ReviewerOut {
    handle: String,
    display_name: String,
    due_at: DateTime<Utc>,
    /// approve, request_changes or comment; absent until given.
    verdict: Option<&'static str>,
    verdict_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct DocOut {
    #[serde(flatten)]
    summary: DocSummaryOut,
    /// The revision number; each save adds one.
    version: i32,
    /// Markdown sections as written (render and sanitize them before showing them as HTML).
    background: String,
    objectives: String,
    alternatives: Vec<AlternativeOut>,
    conclusion: String,
    extra: Vec<SectionOut>,
    reviewers: Vec<ReviewerOut>,
    /// Who decided (approved or rejected), when and why.
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    decision: String,
    /// The doc that supersedes this one.
    superseded_by: Option<i32>,
    /// The doc's page.
    url: String,
}

#[utoipa::path(get, path = "/api/v1/docs/{number}", tag = "docs",
    summary = "One design doc with its sections, reviewers and decision",
    params(("number" = i32, Path, description = "the doc's number: 42 for DD-42")),
    responses((status = 200, body = DocOut), (status = 404, body = super::super::error::ErrorDoc)),
    security(("bearer" = ["read"])))]
pub(super) async fn get_doc(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<i32>,
) -> ApiResult<Json<DocOut>> {
    need(&caller, "read")?;
    let (doc, reviewers) = docs::by_number(&state.pool, number)
        .await?
        .ok_or_else(|| ApiError::not_found("doc"))?;
    let content = doc.content();
    Ok(Json(DocOut {
        summary: DocSummaryOut {
            number: doc.number,
            title: doc.title,
            kind: doc.kind.as_str(),
            status: doc.status.as_str(),
            owner: doc.owner,
            tags: doc.tags,
            target_line: doc.target_line,
            updated_at: doc.updated_at,
        },
        version: doc.version,
        background: doc.background,
        objectives: doc.objectives,
        alternatives: content
            .alternatives
            .into_iter()
            .map(|a| AlternativeOut {
                title: a.title,
                description: a.description,
                pros: a.pros,
                cons: a.cons,
                references: a.references,
                data: a.data,
            })
            .collect(),
        conclusion: doc.conclusion,
        extra: content
            .extra
            .into_iter()
            .map(|x| SectionOut {
                title: x.title,
                body: x.body,
            })
            .collect(),
        reviewers: reviewers
            .into_iter()
            .map(|r| ReviewerOut {
                handle: r.handle,
                display_name: r.display_name,
                due_at: r.due_at,
                verdict: r.verdict.map(|v| v.as_str()),
                verdict_at: r.verdict_at,
            })
            .collect(),
        decided_by: doc.decided_by,
        decided_at: doc.decided_at,
        decision: doc.decision,
        superseded_by: doc.superseded_by,
        url: format!("/docs/{number}"),
    }))
}
