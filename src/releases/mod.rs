//! Release lines (DESIGN §3.4): repositories, `main` and `release-vX.Y` lines, immutable SemVer
//! tags, import from git, backport requests.

pub mod demo;
pub mod git;
pub mod model;
pub mod ops;
pub mod pages;
mod store;

use axum::{
    Form, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;

use self::{
    model::LineName,
    ops::{BackportForm, RepoForm, TagForm},
    pages::RepoForms,
};
use crate::{
    audit::Actor,
    auth::cookies::Cookies,
    auth::{
        model::CurrentUser,
        policy::{Action, can, require},
    },
    error::{AppError, AppResult},
    state::AppState,
    ui::{self, PageCtx, form::FormErrors},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/releases", get(overview).post(add_repository))
        .route("/releases/{repo}", get(repository))
        .route("/releases/{repo}/tags", post(record_tag))
        .route("/releases/{repo}/tags/{tag}", get(tag))
        .route("/releases/{repo}/tags/{tag}/retract", post(retract))
        .route("/releases/{repo}/import", get(import_form).post(import))
        .route("/releases/{repo}/backports", post(file_backport))
        .route(
            "/releases/{repo}/backports/{id}/lines/{line}",
            post(set_backport_status),
        )
        .route("/releases/{repo}/{line}", get(line))
}

pub use store::{RepoRow, TagRow};

/// The repository named `name`, if recorded.
pub async fn repository_named(pool: &sqlx::PgPool, name: &str) -> sqlx::Result<Option<RepoRow>> {
    // Names are stored lowercase; GitHub, forms and CI may say `Hello-World`.
    store::repository(pool, &name.trim().to_lowercase()).await
}

/// Every recorded repository, by name (for pickers in other features).
pub async fn repositories(pool: &sqlx::PgPool) -> sqlx::Result<Vec<RepoRow>> {
    store::repositories(pool).await
}

/// A repository's lines with their status (active, maintained, eol, development).
pub async fn lines_of(
    state: &AppState,
    repo: &RepoRow,
) -> sqlx::Result<Vec<(String, &'static str, i64, Option<String>)>> {
    Ok(pages::with_status(
        store::lines(&state.pool, repo.id).await?,
        state.config.maintained_minor_lines,
    )
    .into_iter()
    .map(|l| {
        (
            l.row.name,
            l.status.as_str(),
            l.row.tag_count,
            l.row.newest_tag,
        )
    })
    .collect())
}

/// Re-imports repositories imported from a clone on the server, every `every` (leased: one
/// replica per repository). Runs until aborted.
pub async fn reimport_loop(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = ops::reimport_due(&state).await {
            tracing::warn!(error = %e, "could not re-import repositories");
        }
    }
}

/// Tags of a repository (newest version first), optionally of one line: (name, line, commit,
/// tagged at, retracted). `None` when the line does not exist.
pub async fn tags_of(
    pool: &sqlx::PgPool,
    repo: &RepoRow,
    line: Option<&str>,
) -> AppResult<Option<Vec<store::TagRow>>> {
    let line_id = match line {
        None => None,
        Some(l) => {
            let Ok(name) = LineName::parse(l) else {
                return Ok(None);
            };
            match store::line_id(&mut *pool.acquire().await?, repo.id, name).await? {
                Some(id) => Some(model::LineId(id)),
                None => return Ok(None),
            }
        }
    };
    Ok(Some(
        store::tags(pool, model::RepositoryId(repo.id), line_id).await?,
    ))
}

/// What a repository knows of tag `name`: not recorded, recorded, or recorded and retracted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagKnown {
    Missing,
    Recorded,
    Retracted,
}

/// Whether repository `repo` has recorded the tag `name`.
pub async fn tag_known(pool: &sqlx::PgPool, repo: i64, name: &str) -> sqlx::Result<TagKnown> {
    Ok(match store::tag(pool, repo, name).await? {
        None => TagKnown::Missing,
        Some(t) if t.retracted_at.is_some() => TagKnown::Retracted,
        Some(_) => TagKnown::Recorded,
    })
}

async fn repo_or_404(state: &AppState, name: &str) -> AppResult<store::RepoRow> {
    store::repository(&state.pool, name)
        .await?
        .ok_or(AppError::NotFound)
}

async fn render_overview(
    state: &AppState,
    ctx: &PageCtx,
    form: &RepoForm,
    errs: &FormErrors,
) -> AppResult<Html<String>> {
    // Team-wide, so cached per replica (src/cache) and dropped when these tables change.
    let rows = state
        .cache
        .get_or(
            "releases-overview",
            &["repositories", "release_lines", "release_tags", "accounts"],
            overview_rows(&state.pool),
        )
        .await?;
    let repos = rows
        .into_iter()
        .map(|(r, lines)| {
            let lines = pages::with_status(lines, state.config.maintained_minor_lines);
            (r, lines)
        })
        .collect();
    let can_manage = can(ctx.user.as_ref(), Action::ManageReleases);
    Ok(ui::page(
        ctx,
        "Release lines",
        pages::overview(ctx, repos, can_manage, form, errs),
    ))
}

/// Every repository with its lines. One query per repository: the overview lists few
/// repositories (at most 200), and the result is cached.
async fn overview_rows(
    pool: &sqlx::PgPool,
) -> sqlx::Result<Vec<(store::RepoRow, Vec<store::LineRow>)>> {
    let mut rows = Vec::new();
    for r in store::repositories(pool).await? {
        let lines = store::lines(pool, r.id).await?;
        rows.push((r, lines));
    }
    Ok(rows)
}

async fn overview(State(state): State<AppState>, ctx: PageCtx) -> AppResult<Html<String>> {
    render_overview(&state, &ctx, &RepoForm::default(), &FormErrors::default()).await
}

async fn add_repository(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<RepoForm>,
) -> AppResult<Response> {
    require(Some(&user), Action::ManageReleases)?;
    let result = ops::add_repository(&state, &actor, user.id, &f)
        .await?
        .map(|name| {
            (
                format!("Repository {name} added."),
                format!("/releases/{name}"),
            )
        });
    cookies
        .form_outcome(result, |errs| async move {
            render_overview(&state, &ctx, &f, &errs).await
        })
        .await
}

async fn render_repository(
    state: &AppState,
    ctx: &PageCtx,
    repo: &store::RepoRow,
    forms: RepoForms<'_>,
) -> AppResult<Html<String>> {
    let lines = pages::with_status(
        store::lines(&state.pool, repo.id).await?,
        state.config.maintained_minor_lines,
    );
    let repo_id = model::RepositoryId(repo.id);
    let tags = store::tags(&state.pool, repo_id, None).await?;
    let (bps, targets) = store::backports(&state.pool, repo_id, None).await?;
    let can_manage = can(ctx.user.as_ref(), Action::ManageReleases);
    let reimport = store::import_status(&state.pool, repo.id).await?;
    Ok(ui::page(
        ctx,
        &repo.name,
        pages::with_reimport(
            pages::repository(
                ctx,
                repo,
                &lines,
                &tags,
                (&bps, &targets),
                can_manage,
                forms,
            ),
            ctx,
            reimport,
            state.config.reimport_minutes,
        ),
    ))
}

fn no_forms<'a>(tag: &'a TagForm, bp: &'a BackportForm, none: &'a FormErrors) -> RepoForms<'a> {
    RepoForms {
        tag,
        tag_errs: none,
        backport: bp,
        backport_errs: none,
    }
}

async fn repository(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(name): Path<String>,
) -> AppResult<Html<String>> {
    let repo = repo_or_404(&state, &name).await?;
    let none = FormErrors::default();
    render_repository(
        &state,
        &ctx,
        &repo,
        no_forms(&TagForm::default(), &BackportForm::default(), &none),
    )
    .await
}

async fn record_tag(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(name): Path<String>,
    Form(f): Form<TagForm>,
) -> AppResult<Response> {
    require(Some(&user), Action::ManageReleases)?;
    let repo = repo_or_404(&state, &name).await?;
    let result = ops::record_tag(&state, &actor, &repo, &f, "manual")
        .await?
        .map(|msg| (msg, format!("/releases/{name}")));
    let (bp, none) = (BackportForm::default(), FormErrors::default());
    cookies
        .form_outcome(result, |errs| async move {
            let forms = RepoForms {
                tag: &f,
                tag_errs: &errs,
                backport: &bp,
                backport_errs: &none,
            };
            render_repository(&state, &ctx, &repo, forms).await
        })
        .await
}

async fn tag(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path((name, tag)): Path<(String, String)>,
) -> AppResult<Html<String>> {
    render_tag(&state, &ctx, &name, &tag, None).await
}

/// A tag's page, after a refused retraction with the reason typed kept and why it was refused.
async fn render_tag(
    state: &AppState,
    ctx: &PageCtx,
    name: &str,
    tag: &str,
    refused: Option<(String, String)>,
) -> AppResult<Html<String>> {
    let repo = repo_or_404(state, name).await?;
    let t = store::tag(&state.pool, repo.id, tag)
        .await?
        .ok_or(AppError::NotFound)?;
    let can_manage = can(ctx.user.as_ref(), Action::ManageReleases);
    let running = store::running(&state.pool, repo.id, &t.name).await?;
    let line = LineName::parse(&t.line).map_err(|_| AppError::NotFound)?;
    let line_id = store::line_id(&mut *state.pool.acquire().await?, repo.id, line).await?;
    let backports = match line_id {
        Some(l) => {
            store::backports(
                &state.pool,
                model::RepositoryId(repo.id),
                Some(model::LineId(l)),
            )
            .await?
        }
        None => Default::default(),
    };
    let view = pages::TagView {
        repo: &repo,
        tag: &t,
        can_manage,
        refused,
        running: &running,
        backports: (&backports.0, &backports.1),
    };
    Ok(ui::page(
        ctx,
        &format!("{} {}", repo.name, t.name),
        pages::tag(ctx, view),
    ))
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

async fn retract(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path((name, tag)): Path<(String, String)>,
    Form(f): Form<ReasonForm>,
) -> AppResult<Response> {
    require(Some(&user), Action::ManageReleases)?;
    let repo = repo_or_404(&state, &name).await?;
    let result = ops::retract_tag(&state, &actor, &repo, &tag, &f.reason).await;
    cookies
        .outcome(result, &format!("/releases/{name}/tags/{tag}"), |why| {
            render_tag(&state, &ctx, &name, &tag, Some((f.reason.clone(), why)))
        })
        .await
}

async fn import_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(name): Path<String>,
) -> AppResult<Html<String>> {
    require(ctx.user.as_ref(), Action::ManageReleases)?;
    let repo = repo_or_404(&state, &name).await?;
    Ok(ui::page(
        &ctx,
        "Import",
        pages::import(&ctx, &repo, "", None, None),
    ))
}

#[derive(Deserialize)]
struct PathForm {
    #[serde(default)]
    path: String,
}

/// Runs the import and shows its report (running it again is harmless).
async fn import(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    ctx: PageCtx,
    Path(name): Path<String>,
    Form(f): Form<PathForm>,
) -> AppResult<Response> {
    require(Some(&user), Action::ManageReleases)?;
    let repo = repo_or_404(&state, &name).await?;
    let path = f.path.trim();
    match ops::import(&state, &actor, &repo, std::path::Path::new(path)).await? {
        Ok(report) => {
            let outcome = format!(
                "{} new tags, {} new lines, {} refused",
                report.tags_created.len(),
                report.lines_created.len(),
                report.refused.len()
            );
            ops::remember_clone(&state, &repo, path, &outcome).await?;
            Ok(ui::page(
                &ctx,
                "Import",
                pages::import(&ctx, &repo, path, None, Some(&report)),
            )
            .into_response())
        }
        Err(e) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            ui::page(
                &ctx,
                "Import",
                pages::import(&ctx, &repo, path, Some(e), None),
            ),
        )
            .into_response()),
    }
}

async fn file_backport(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(name): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::FileBackport)?;
    let repo = repo_or_404(&state, &name).await?;
    // Checkboxes repeat `lines`; the other fields appear once.
    let mut f = BackportForm::default();
    for (k, v) in pairs {
        match k.as_str() {
            "title" => f.title = v,
            "link" => f.link = v,
            "criticality" => f.criticality = v,
            "justification" => f.justification = v,
            "lines" => f.lines.push(
                v.parse()
                    .map_err(|_| AppError::BadRequest("Unknown line.".into()))?,
            ),
            _ => {}
        }
    }
    let result = ops::file_backport(&state, &actor, user.id, &repo, &f)
        .await?
        .map(|_| {
            let msg = "Backport requested for the chosen lines.".to_string();
            (msg, format!("/releases/{name}#backports"))
        });
    let (tag, none) = (TagForm::default(), FormErrors::default());
    cookies
        .form_outcome(result, |errs| async move {
            let forms = RepoForms {
                tag: &tag,
                tag_errs: &none,
                backport: &f,
                backport_errs: &errs,
            };
            render_repository(&state, &ctx, &repo, forms).await
        })
        .await
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
}

async fn set_backport_status(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path((name, id, line)): Path<(String, i64, i64)>,
    Form(f): Form<StatusForm>,
) -> AppResult<Redirect> {
    require(Some(&user), Action::ManageReleases)?;
    repo_or_404(&state, &name).await?;
    ops::set_backport_status(&state, &actor, id, line, &f.status).await?;
    Ok(cookies.done(
        "Backport status updated.",
        &format!("/releases/{name}#backports"),
    ))
}

async fn line(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path((name, line)): Path<(String, String)>,
) -> AppResult<Html<String>> {
    let repo = repo_or_404(&state, &name).await?;
    let wanted = LineName::parse(&line).map_err(|_| AppError::NotFound)?;
    let lines = pages::with_status(
        store::lines(&state.pool, repo.id).await?,
        state.config.maintained_minor_lines,
    );
    let l = lines
        .into_iter()
        .find(|l| l.row.line() == wanted)
        .ok_or(AppError::NotFound)?;
    let (repo_id, line_id) = (model::RepositoryId(repo.id), model::LineId(l.row.id));
    let tags = store::tags(&state.pool, repo_id, Some(line_id)).await?;
    let (bps, targets) = store::backports(&state.pool, repo_id, Some(line_id)).await?;
    let docs = crate::docs::targeting(&state.pool, &l.row.name).await?;
    let running = store::line_running(&state.pool, l.row.id).await?;
    let title = format!("{} {}", repo.name, l.row.name);
    Ok(ui::page(
        &ctx,
        &title,
        pages::line(&ctx, &repo, &l, &tags, (&bps, &targets), &docs, &running),
    ))
}
