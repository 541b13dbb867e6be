//! Design docs and reviews (DESIGN §3.2): write from the template, submit for review, reviewers'
//! verdicts, a lead's decision, threads, revisions with diffs, search, Markdown export/import.

pub mod demo;
pub mod madr;
pub mod model;
pub mod ops;
pub mod pages;
mod store;

use std::sync::Arc;

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use leptos::prelude::*;
use serde::Deserialize;

use self::{
    model::{Alternative, Content, ExtraSection},
    ops::{CommentForm, MoveForm, SaveRefusal, VerdictForm},
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
        .route("/docs", get(list).post(create))
        .route("/docs/new", get(new_form))
        .route("/docs/import", get(import_form).post(import))
        .route("/docs/{n}", get(show).post(save))
        .route("/docs/{n}/edit", get(edit_form))
        .route("/docs/{n}/move", post(move_doc))
        .route("/docs/{n}/reviewers", post(request_review))
        .route("/docs/{n}/verdict", post(verdict))
        .route("/docs/{n}/comments", post(comment))
        .route("/docs/{n}/threads/{id}/{action}", post(thread))
        .route("/docs/{n}/diff", get(diff))
        .route("/docs/{n}/export.md", get(export))
        .route("/reviews", get(queue))
}

pub use store::{
    DocRow as Doc, ListFilter as DocFilter, ListRow as DocSummary, QueueRow as ReviewRequest,
    ReviewerRow as Reviewer,
};

/// One page of the docs list: the filters and keyset of `/docs`, at most `limit` rows.
pub async fn search(
    pool: &sqlx::PgPool,
    filter: &DocFilter,
    limit: i64,
) -> AppResult<Vec<DocSummary>> {
    Ok(store::list(pool, filter, limit).await?)
}

/// Doc `number` with its reviewers and their verdicts (two queries on one connection).
pub async fn by_number(
    pool: &sqlx::PgPool,
    number: i32,
) -> AppResult<Option<(Doc, Vec<Reviewer>)>> {
    let mut conn = pool.acquire().await?;
    let Some(doc) = store::doc(&mut conn, number, false).await? else {
        return Ok(None);
    };
    let reviewers = store::reviewers(&mut conn, doc.id).await?;
    Ok(Some((doc, reviewers)))
}

/// The docs that target release line `line` (e.g. `release-v3.9`), newest first, at most 100.
pub async fn targeting(pool: &sqlx::PgPool, line: &str) -> AppResult<Vec<DocSummary>> {
    let filter = store::ListFilter {
        line: Some(line.to_string()),
        ..Default::default()
    };
    Ok(store::list(pool, &filter, 100).await?)
}

/// The newest `limit` docs owned by `handle`.
pub async fn owned_by(pool: &sqlx::PgPool, handle: &str, limit: i64) -> AppResult<Vec<DocSummary>> {
    let filter = store::ListFilter {
        owner: Some(handle.to_string()),
        ..Default::default()
    };
    Ok(store::list(pool, &filter, limit).await?)
}

/// The reviews asked of `reviewer` that are still open, overdue first.
async fn review_queue(
    pool: &sqlx::PgPool,
    reviewer: crate::auth::model::AccountId,
) -> AppResult<Vec<ReviewRequest>> {
    Ok(store::queue(pool, reviewer).await?)
}

/// The review queue of `reviewer` from this replica's cache (src/cache): the home page and
/// `/reviews` share it until a doc, a reviewer or an account changes.
pub async fn cached_review_queue(
    state: &AppState,
    reviewer: crate::auth::model::AccountId,
) -> AppResult<Vec<ReviewRequest>> {
    state
        .cache
        .get_or(
            &format!("review-queue:{}", reviewer.0),
            &["docs", "doc_reviewers", "accounts"],
            review_queue(&state.pool, reviewer),
        )
        .await
}

/// The list's URL query; every filter can be linked.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub reviewer: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub line: String,
    /// `rank:number` of the last row shown.
    #[serde(default)]
    pub after: String,
}

const PAGE: i64 = 50;

fn some(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<ListQuery>,
) -> AppResult<Html<String>> {
    let after = q
        .after
        .split_once(':')
        .and_then(|(r, n)| Some((r.parse().ok()?, n.parse().ok()?)));
    let filter = store::ListFilter {
        q: some(&q.q),
        // An unknown state or kind in the address filters nothing.
        status: model::Status::parse(&q.status).ok(),
        kind: model::Kind::parse(&q.kind).ok(),
        owner: some(&q.owner.to_lowercase()),
        reviewer: some(&q.reviewer.to_lowercase()),
        tag: some(&q.tag),
        line: some(&q.line),
        after,
    };
    // The first page of a listing without a search is the same for everyone: kept in this
    // replica's cache until a doc, a reviewer or an account changes (src/cache). Searches and
    // later pages are read each time, and so are filters longer than any name, so a client
    // cannot fill the cache.
    let cacheable = filter.q.is_none()
        && filter.after.is_none()
        && [&q.owner, &q.reviewer, &q.tag, &q.line]
            .iter()
            .all(|s| s.len() <= 64);
    let rows = if cacheable {
        let key = format!(
            "docs-list:{:?}:{:?}:{:?}:{:?}:{:?}:{:?}",
            filter.status, filter.kind, filter.owner, filter.reviewer, filter.tag, filter.line
        );
        state
            .cache
            .get_or(&key, &["docs", "doc_reviewers", "accounts"], async {
                Ok::<_, sqlx::Error>(Arc::new(store::list(&state.pool, &filter, PAGE + 1).await?))
            })
            .await?
    } else {
        Arc::new(store::list(&state.pool, &filter, PAGE + 1).await?)
    };
    let next = (rows.len() as i64 > PAGE)
        .then(|| rows.get(PAGE as usize - 1).map(|r| (r.rank, r.number)))
        .flatten()
        .map(|(rank, number)| {
            let mut next_q = q.clone();
            next_q.after = format!("{rank}:{number}");
            format!(
                "/docs?{}",
                serde_urlencoded::to_string(&[
                    ("q", next_q.q),
                    ("status", next_q.status),
                    ("kind", next_q.kind),
                    ("owner", next_q.owner),
                    ("reviewer", next_q.reviewer),
                    ("tag", next_q.tag),
                    ("line", next_q.line),
                    ("after", next_q.after),
                ])
                .unwrap_or_default()
            )
        });
    let rows = &rows[..rows.len().min(PAGE as usize)];
    Ok(ui::page(
        &ctx,
        "Design docs",
        pages::list(&ctx, pages::ListView { rows, q: &q, next }),
    ))
}

/// Reads the editor's fields (alternatives and extra sections are numbered).
fn parse_content(pairs: &[(String, String)]) -> (Content, Option<i32>) {
    let mut c = Content::default();
    let mut version = None;
    let mut alts: std::collections::BTreeMap<usize, Alternative> = Default::default();
    let mut extra: std::collections::BTreeMap<usize, ExtraSection> = Default::default();
    for (k, v) in pairs {
        match k.as_str() {
            "title" => c.title = v.clone(),
            "kind" => c.kind = v.clone(),
            "tags" => {
                c.tags = v
                    .split(',')
                    .map(|t| t.trim().to_lowercase())
                    .filter(|t| !t.is_empty())
                    .collect()
            }
            "target_line" => c.target_line = v.trim().to_string(),
            "background" => c.background = v.clone(),
            "objectives" => c.objectives = v.clone(),
            "conclusion" => c.conclusion = v.clone(),
            "version" => version = v.parse().ok(),
            other => {
                if let Some(rest) = other.strip_prefix("alt_")
                    && let Some((field, i)) = rest.rsplit_once('_')
                    && let Ok(i) = i.parse::<usize>()
                    && i < 20
                {
                    let a = alts.entry(i).or_default();
                    match field {
                        "title" => a.title = v.clone(),
                        "description" => a.description = v.clone(),
                        "pros" => a.pros = v.clone(),
                        "cons" => a.cons = v.clone(),
                        "references" => a.references = v.clone(),
                        "data" => a.data = v.clone(),
                        _ => {}
                    }
                } else if let Some(rest) = other.strip_prefix("extra_")
                    && let Some((field, i)) = rest.rsplit_once('_')
                    && let Ok(i) = i.parse::<usize>()
                    && i < 20
                {
                    let e = extra.entry(i).or_default();
                    match field {
                        "title" => e.title = v.clone(),
                        "body" => e.body = v.clone(),
                        _ => {}
                    }
                }
            }
        }
    }
    c.alternatives = alts.into_values().filter(|a| !a.is_blank()).collect();
    c.extra = extra
        .into_values()
        .filter(|e| !(e.title.trim().is_empty() && e.body.trim().is_empty()))
        .collect();
    (c.without_prompts(), version)
}

async fn new_form(ctx: PageCtx) -> Html<String> {
    let body = pages::editor(
        &ctx,
        "/docs".into(),
        &Content::template(),
        None,
        &FormErrors::default(),
    );
    ui::page(
        &ctx,
        "New design doc",
        view! { <h1>"New design doc"</h1>{body} },
    )
}

async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::WriteDocs)?;
    let (c, _) = parse_content(&pairs);
    let result = ops::create(&state, &user, &actor, &c)
        .await?
        .map(|n| (format!("DD-{n} created as a draft."), format!("/docs/{n}")));
    cookies
        .form_outcome(result, |errs| async move {
            let body = pages::editor(&ctx, "/docs".into(), &c, None, &errs);
            Ok(ui::page(
                &ctx,
                "New design doc",
                view! { <h1>"New design doc"</h1>{body} },
            ))
        })
        .await
}

async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    Path(n): Path<i32>,
) -> AppResult<Html<String>> {
    render_doc(&state, &ctx, &user, n, None, pages::Kept::default()).await
}

/// The doc page; after a refused form, with the refusal at the top and what was typed kept.
async fn render_doc(
    state: &AppState,
    ctx: &PageCtx,
    user: &CurrentUser,
    n: i32,
    refusal: Option<String>,
    kept: pages::Kept,
) -> AppResult<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let doc = store::doc(&mut conn, n, false)
        .await?
        .ok_or(AppError::NotFound)?;
    let reviewers = store::reviewers(&mut conn, doc.id).await?;
    drop(conn);
    let comments = store::comments(&state.pool, doc.id).await?;
    let revisions = store::revisions(&state.pool, doc.id).await?;
    let ids: Vec<i64> = reviewers.iter().map(|r| r.reviewer_id).collect();
    let away = crate::presence::unavailable(state, &ids).await?;
    let is_owner = doc.owner_id == user.id.0;
    // The reviewer picker: every other member, with their availability now.
    let candidates = if is_owner && doc.status.open_for_review() {
        crate::presence::team_now(state)
            .await?
            .iter()
            .filter(|m| m.row.id != doc.owner_id && !ids.contains(&m.row.id))
            .map(|m| pages::Candidate {
                handle: m.row.handle.clone(),
                name: m.row.display_name.clone(),
                availability: crate::presence::model::Status::label(m.status.key()),
            })
            .collect()
    } else {
        Vec::new()
    };
    let target = doc.content().target_line;
    let line_opened = if target.trim().is_empty() {
        None
    } else {
        Some(store::line_opened(&state.pool, target.trim()).await?)
    };
    let view = pages::DocView {
        doc: &doc,
        reviewers: &reviewers,
        comments: &comments,
        revisions: &revisions,
        now: state.clock.now(),
        is_owner,
        candidates,
        line_opened,
        is_lead: user.role >= Role::Lead,
        is_reviewer: reviewers.iter().any(|r| r.reviewer_id == user.id.0),
        may_decide: crate::auth::policy::can(
            Some(user),
            crate::auth::policy::Action::DecideDoc {
                owner: crate::auth::model::AccountId(doc.owner_id),
            },
        ),
        away,
        required_approvals: state.config.required_approvals,
        refusal,
        kept,
    };
    Ok(ui::page(
        ctx,
        &format!("DD-{n} {}", doc.title),
        pages::doc(ctx, view),
    ))
}

/// A form posted from the doc page, answered through `Cookies::outcome`: done → back to the doc
/// (at `anchor`); refused → the doc again with the reason at the top and the input kept.
struct DocForm<'a> {
    state: &'a AppState,
    ctx: &'a PageCtx,
    user: &'a CurrentUser,
    cookies: &'a Cookies,
    n: i32,
}

impl DocForm<'_> {
    async fn answer(
        self,
        result: AppResult<String>,
        kept: pages::Kept,
        anchor: &str,
    ) -> AppResult<Response> {
        let Self {
            state,
            ctx,
            user,
            cookies,
            n,
        } = self;
        let to = format!("/docs/{n}{anchor}");
        cookies
            .outcome(result, &to, |why| {
                render_doc(state, ctx, user, n, Some(why), kept)
            })
            .await
    }
}

async fn edit_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    Path(n): Path<i32>,
) -> AppResult<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let doc = store::doc(&mut conn, n, false)
        .await?
        .ok_or(AppError::NotFound)?;
    crate::auth::policy::require(
        Some(&user),
        crate::auth::policy::Action::EditDoc {
            owner: crate::auth::model::AccountId(doc.owner_id),
        },
    )?;
    let body = pages::editor(
        &ctx,
        format!("/docs/{n}"),
        &doc.content(),
        Some(doc.version),
        &FormErrors::default(),
    );
    Ok(ui::page(
        &ctx,
        "Edit",
        view! { <h1>{format!("Edit DD-{n}")}</h1>{body} },
    ))
}

async fn save(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(n): Path<i32>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let (c, version) = parse_content(&pairs);
    let version =
        version.ok_or_else(|| AppError::BadRequest("The form lacks its version.".into()))?;
    match ops::save(&state, &user, &actor, n, version, &c).await? {
        Ok(()) => Ok(cookies
            .done(format!("DD-{n} saved."), &format!("/docs/{n}"))
            .into_response()),
        Err(SaveRefusal::Invalid(errs)) => {
            let body = pages::editor(&ctx, format!("/docs/{n}"), &c, Some(version), &errs);
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                ui::page(
                    &ctx,
                    "Edit",
                    view! { <h1>{format!("Edit DD-{n}")}</h1>{body} },
                ),
            )
                .into_response())
        }
        Err(SaveRefusal::Stale { current }) => Ok((
            StatusCode::CONFLICT,
            ui::page(&ctx, "Conflict", pages::conflict(&ctx, n, &current, &c)),
        )
            .into_response()),
    }
}

async fn move_doc(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(n): Path<i32>,
    Form(f): Form<MoveForm>,
) -> AppResult<Response> {
    let result = ops::move_doc(&state, &user, &actor, n, &f).await;
    let kept = pages::Kept {
        action: f.action.clone(),
        rationale: f.rationale.clone(),
        superseded_by: f.superseded_by.clone(),
        ..Default::default()
    };
    let form = DocForm {
        state: &state,
        ctx: &ctx,
        user: &user,
        cookies: &cookies,
        n,
    };
    form.answer(result, kept, "").await
}

#[derive(Deserialize)]
struct HandleForm {
    #[serde(default)]
    handle: String,
}

async fn request_review(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(n): Path<i32>,
    Form(f): Form<HandleForm>,
) -> AppResult<Response> {
    let result = ops::request_review(&state, &user, &actor, n, &f.handle).await;
    let kept = pages::Kept {
        handle: f.handle,
        ..Default::default()
    };
    let form = DocForm {
        state: &state,
        ctx: &ctx,
        user: &user,
        cookies: &cookies,
        n,
    };
    form.answer(result, kept, "").await
}

async fn verdict(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(n): Path<i32>,
    Form(f): Form<VerdictForm>,
) -> AppResult<Response> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::ReviewDoc)?;
    let result = ops::verdict(&state, &user, &actor, n, &f).await;
    let kept = pages::Kept {
        note: f.note.clone(),
        ..Default::default()
    };
    let form = DocForm {
        state: &state,
        ctx: &ctx,
        user: &user,
        cookies: &cookies,
        n,
    };
    form.answer(result, kept, "").await
}

async fn comment(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(n): Path<i32>,
    Form(f): Form<CommentForm>,
) -> AppResult<Response> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::WriteDocs)?;
    let result = ops::comment(&state, &user, &actor, n, &f).await;
    let kept = pages::Kept {
        body: f.body.clone(),
        ..Default::default()
    };
    let form = DocForm {
        state: &state,
        ctx: &ctx,
        user: &user,
        cookies: &cookies,
        n,
    };
    form.answer(result, kept, "#discussion").await
}

/// `resolve` or `reopen` a thread.
async fn thread(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path((n, id, action)): Path<(i32, i64, String)>,
) -> AppResult<Redirect> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::WriteDocs)?;
    let resolved = match action.as_str() {
        "resolve" => true,
        "reopen" => false,
        _ => return Err(AppError::NotFound),
    };
    let msg = ops::resolve_thread(&state, &user, &actor, n, id, resolved).await?;
    Ok(cookies.done(msg, &format!("/docs/{n}#discussion")))
}

#[derive(Deserialize)]
struct DiffQuery {
    from: Option<i32>,
    to: Option<i32>,
}

async fn diff(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(n): Path<i32>,
    Query(q): Query<DiffQuery>,
) -> AppResult<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let doc = store::doc(&mut conn, n, false)
        .await?
        .ok_or(AppError::NotFound)?;
    let (from, to) = (q.from.unwrap_or(1), q.to.unwrap_or(doc.version));
    let old = store::revision_text(&state.pool, doc.id, from)
        .await?
        .ok_or(AppError::NotFound)?;
    let new = store::revision_text(&state.pool, doc.id, to)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(ui::page(&ctx, "Diff", pages::diff(n, from, to, &old, &new)))
}

async fn export(State(state): State<AppState>, Path(n): Path<i32>) -> AppResult<Response> {
    let mut conn = state.pool.acquire().await?;
    let doc = store::doc(&mut conn, n, false)
        .await?
        .ok_or(AppError::NotFound)?;
    let status = doc.status;
    let text = madr::export(
        &doc.content(),
        n,
        status,
        doc.superseded_by,
        &doc.updated_at.format("%Y-%m-%d").to_string(),
        &doc.owner,
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"DD-{n}.md\""),
            ),
        ],
        text,
    )
        .into_response())
}

async fn import_form(ctx: PageCtx) -> Html<String> {
    ui::page(&ctx, "Import", pages::import(&ctx, "", None))
}

#[derive(Deserialize)]
struct ImportForm {
    #[serde(default)]
    markdown: String,
}

async fn import(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<ImportForm>,
) -> AppResult<Response> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::WriteDocs)?;
    let refuse = |msg: String| {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            ui::page(&ctx, "Import", pages::import(&ctx, &f.markdown, Some(msg))),
        )
            .into_response())
    };
    let c = match madr::import(&f.markdown) {
        Ok(c) => c,
        Err(e) => return refuse(e),
    };
    match ops::create(&state, &user, &actor, &c).await? {
        Ok(n) => Ok(cookies
            .done(
                format!("Imported as DD-{n}, a draft."),
                &format!("/docs/{n}"),
            )
            .into_response()),
        Err(errs) => refuse(errs.fields.values().cloned().collect::<Vec<_>>().join(" ")),
    }
}

async fn queue(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
) -> AppResult<Html<String>> {
    let rows = cached_review_queue(&state, user.id).await?;
    Ok(ui::page(
        &ctx,
        "My reviews",
        pages::queue(&ctx, &rows, state.clock.now()),
    ))
}
