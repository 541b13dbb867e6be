//! Deployment state (DESIGN §3.5): services, environments, deployments and what runs where, the
//! version matrix with skew warnings, images, health probing, incidents, offline bundle plans.

pub mod demo;
pub mod model;
pub mod ops;
pub mod pages;
pub mod prober;
mod store;

use std::{collections::HashMap, sync::Arc};

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::Duration;
use serde::Deserialize;

use self::{
    ops::{DeploymentInput, EnvForm, ImageForm, IncidentForm, Recorded, ServiceForm},
    pages::Cells,
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
        .route("/deployments", get(matrix).post(record))
        .route("/deployments/new", get(new_form))
        .route("/deployments/history", get(history))
        .route("/deployments/diff", get(diff))
        .route("/deployments/bundle/{env}", get(bundle))
        .route("/deployments/{id}", get(deployment).post(correct))
        .route("/deployments/{id}/status", post(transition))
        .route("/services", post(add_service))
        .route("/services/{name}", get(service))
        .route("/services/{name}/repository", post(link_repository))
        .route("/services/{name}/health-url", post(health_url))
        .route("/services/{name}/images", post(record_image))
        .route("/services/{name}/report", post(report))
        .route("/environments", post(add_environment))
        .route("/incidents", get(incidents).post(open_incident))
        .route("/incidents/{id}", get(incident).post(update_incident))
        .route("/incidents/{id}/resolve", post(resolve_incident))
        .route("/incidents/{id}/cause", post(attribute_incident))
}

pub use store::{DeploymentRow, EnvRow, HistoryFilter, IncidentRow, ServiceRow};

/// Deployments newest first by when they happened, filtered (the API's list).
pub async fn list(
    pool: &sqlx::PgPool,
    filter: &HistoryFilter,
    limit: i64,
) -> AppResult<Vec<DeploymentRow>> {
    Ok(store::history(pool, filter, limit).await?)
}

/// One deployment.
pub async fn deployment_by_id(pool: &sqlx::PgPool, id: i64) -> AppResult<Option<DeploymentRow>> {
    Ok(store::deployment(pool, id).await?)
}

/// Every service, by name.
pub async fn services(pool: &sqlx::PgPool) -> AppResult<Vec<ServiceRow>> {
    Ok(store::services(pool).await?)
}

/// Every environment, in matrix order.
pub async fn environments(pool: &sqlx::PgPool) -> AppResult<Vec<EnvRow>> {
    Ok(store::environments(pool).await?)
}

/// The service and environment with these names, if both exist.
pub async fn target(
    pool: &sqlx::PgPool,
    service: &str,
    environment: &str,
) -> AppResult<(Option<ServiceRow>, Option<EnvRow>)> {
    Ok((
        store::service(pool, service).await?,
        store::environment(pool, environment).await?,
    ))
}

/// Incidents, open first, then newest; of one service and/or only open ones.
pub async fn incident_list(
    state: &AppState,
    service: Option<i64>,
    open_only: bool,
    limit: i64,
) -> AppResult<Vec<IncidentRow>> {
    Ok(store::incidents(&state.pool, service, open_only, limit).await?)
}

/// One incident.
pub async fn incident_by_id(state: &AppState, id: i64) -> AppResult<Option<IncidentRow>> {
    Ok(store::incident(&state.pool, id).await?)
}

/// Every target that is down now (by the prober or a report).
pub async fn down_now(pool: &sqlx::PgPool) -> AppResult<Vec<store::DownRow>> {
    Ok(store::down_targets(pool).await?)
}

/// The newest rollouts (deployments of one version to several services of one environment
/// grouped into one), newest first, from the latest 60 deployments.
pub async fn latest_rollouts(pool: &sqlx::PgPool, limit: usize) -> AppResult<Vec<model::Rollout>> {
    let rows = store::history(pool, &store::HistoryFilter::default(), 60).await?;
    let mut out = model::rollouts(rows.iter().map(|d| {
        (
            d.environment.as_str(),
            d.version.as_str(),
            d.status,
            d.service.as_str(),
            d.happened_at,
        )
    }));
    out.truncate(limit);
    Ok(out)
}

/// Folds health samples older than two weeks into daily rows (the janitor calls it); returns
/// how many samples were folded.
pub async fn fold_old_samples(pool: &sqlx::PgPool) -> sqlx::Result<u64> {
    store::summarise_old_samples(pool).await
}

/// The matrix cells keyed by (service, environment), and skew warnings per environment.
pub async fn state_now(
    state: &AppState,
) -> AppResult<(
    Vec<store::ServiceRow>,
    Vec<store::EnvRow>,
    Cells,
    HashMap<i64, Vec<model::Skew>>,
)> {
    let services = store::services(&state.pool).await?;
    let envs = store::environments(&state.pool).await?;
    let cells: Cells = store::matrix(&state.pool)
        .await?
        .into_iter()
        .map(|c| ((c.service_id, c.environment_id), c))
        .collect();
    let mut skews = HashMap::new();
    for e in &envs {
        let running: Vec<model::Running> = services
            .iter()
            .filter_map(|s| {
                let v = cells.get(&(s.id, e.id))?.version.as_deref()?;
                Some(model::Running {
                    service: &s.name,
                    role: &s.role,
                    version: v,
                })
            })
            .collect();
        skews.insert(e.id, model::skew(&running, &state.config.skew_exempt_roles));
    }
    Ok((services, envs, cells, skews))
}

async fn matrix(State(state): State<AppState>, ctx: PageCtx) -> AppResult<Html<String>> {
    let none = FormErrors::default();
    render_matrix(
        &state,
        &ctx,
        &ServiceForm::default(),
        &none,
        &EnvForm::default(),
        &none,
    )
    .await
}

/// The matrix page, with the lead's forms holding `service`/`env` and their errors.
async fn render_matrix(
    state: &AppState,
    ctx: &PageCtx,
    service: &ServiceForm,
    service_errs: &FormErrors,
    env: &EnvForm,
    env_errs: &FormErrors,
) -> AppResult<Html<String>> {
    // What runs where is the same for everyone: kept in this replica's cache until a deployment,
    // a health change or a new service or environment (src/cache).
    let (services, envs, cells, skews) = state
        .cache
        .get_or(
            "matrix",
            &[
                "deployments",
                "current_deployments",
                "health_targets",
                "services",
                "environments",
                "incidents",
            ],
            state_now(state),
        )
        .await?;
    let may_manage = can(ctx.user.as_ref(), Action::ManageDeployTargets);
    // The lead's forms offer the repositories: the same for every lead, so cached as well.
    let repositories = if may_manage {
        state
            .cache
            .get_or(
                "repositories",
                &["repositories", "accounts"],
                crate::releases::repositories(&state.pool),
            )
            .await?
    } else {
        Vec::new()
    };
    let manage = may_manage.then_some(pages::ManageForms {
        service,
        service_errs,
        env,
        env_errs,
        repositories: &repositories,
    });
    let now = state.clock.now();
    Ok(ui::page(
        ctx,
        "Deployments",
        pages::matrix(ctx, &services, &envs, &cells, &skews, now, manage),
    ))
}

async fn render_new(
    state: &AppState,
    ctx: &PageCtx,
    f: &DeploymentInput,
    errs: &FormErrors,
    warnings: &[String],
) -> AppResult<Html<String>> {
    let services = store::services(&state.pool).await?;
    let envs = store::environments(&state.pool).await?;
    Ok(ui::page(
        ctx,
        "Record a deployment",
        pages::new_deployment(ctx, &services, &envs, f, errs, warnings),
    ))
}

async fn new_form(State(state): State<AppState>, ctx: PageCtx) -> AppResult<Html<String>> {
    let f = DeploymentInput {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    render_new(&state, &ctx, &f, &FormErrors::default(), &[]).await
}

/// Records a deployment from the form. The form carries an idempotency key, so a double submit
/// records it once.
async fn record(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<DeploymentInput>,
) -> AppResult<Response> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::RecordDeployment)?;
    let result = match ops::record_deployment(&state, &actor, "manual", &f).await? {
        Ok(Recorded::Confirm(warnings)) => {
            // Nothing saved: the same form again, with what it would cause and a confirm button.
            let page = render_new(&state, &ctx, &f, &FormErrors::default(), &warnings).await?;
            return Ok(page.into_response());
        }
        Ok(Recorded::New(id, _)) => Ok((
            format!("Deployment #{id} recorded."),
            "/deployments".to_string(),
        )),
        Ok(Recorded::Existing(id)) => Ok((
            format!("Deployment #{id} was already recorded."),
            "/deployments".to_string(),
        )),
        Err(errs) => Err(errs),
    };
    cookies
        .form_outcome(result, |errs| async move {
            render_new(&state, &ctx, &f, &errs, &[]).await
        })
        .await
}

#[derive(Deserialize)]
struct HistoryQuery {
    #[serde(default)]
    service: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    status: String,
    /// Keyset cursor `<unix microseconds>.<id>` of the last row of the previous page.
    #[serde(default)]
    before: String,
}

fn parse_cursor(raw: &str) -> Option<(chrono::DateTime<chrono::Utc>, i64)> {
    let (micros, id) = raw.split_once('.')?;
    let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, id.parse().ok()?))
}

const HISTORY_PAGE: i64 = 50;
/// What the services and environments lists read (their owners and repositories too).
const DEPLOY_CHOICES_TOPICS: &[&str] = &["services", "environments", "accounts", "repositories"];
/// What a page of deployment history reads.
const HISTORY_TOPICS: &[&str] = &["deployments", "services", "environments"];

async fn history(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<HistoryQuery>,
) -> AppResult<Html<String>> {
    // The filters' choices and the first page of each filter are the same for everyone: kept in
    // this replica's cache until a deployment or a new service or environment (src/cache). Later
    // pages (a cursor) are read each time, so a client cannot fill the cache with cursors.
    let choices = state
        .cache
        .get_or("deploy-choices", DEPLOY_CHOICES_TOPICS, async {
            let (s, e) = tokio::try_join!(
                store::services(&state.pool),
                store::environments(&state.pool)
            )?;
            Ok::<_, sqlx::Error>(Arc::new((s, e)))
        })
        .await?;
    let (services, envs) = (&choices.0, &choices.1);
    let filter = store::HistoryFilter {
        service: services.iter().find(|s| s.name == q.service).map(|s| s.id),
        environment: envs.iter().find(|e| e.name == q.environment).map(|e| e.id),
        status: model::Status::parse(&q.status).ok(),
        before: parse_cursor(&q.before),
    };
    let rows = if filter.before.is_none() {
        let key = format!(
            "history:{:?}:{:?}:{:?}",
            filter.service, filter.environment, filter.status
        );
        state
            .cache
            .get_or(&key, HISTORY_TOPICS, async {
                Ok::<_, sqlx::Error>(Arc::new(
                    store::history(&state.pool, &filter, HISTORY_PAGE + 1).await?,
                ))
            })
            .await?
    } else {
        Arc::new(store::history(&state.pool, &filter, HISTORY_PAGE + 1).await?)
    };
    let next = (rows.len() as i64 > HISTORY_PAGE)
        .then(|| rows.get(HISTORY_PAGE as usize - 1))
        .flatten()
        .map(|d| {
            let cursor = format!("{}.{}", d.happened_at.timestamp_micros(), d.id);
            let qs = serde_urlencoded::to_string([
                ("service", q.service.as_str()),
                ("environment", q.environment.as_str()),
                ("status", q.status.as_str()),
                ("before", &cursor),
            ])
            .unwrap_or_default();
            format!("/deployments/history?{qs}")
        });
    let rows = &rows[..rows.len().min(HISTORY_PAGE as usize)];
    let view = pages::HistoryView {
        rows,
        services,
        envs,
        service: &q.service,
        environment: &q.environment,
        status: &q.status,
        next,
    };
    Ok(ui::page(
        &ctx,
        "Deployment history",
        pages::history(&ctx, view),
    ))
}

#[derive(Deserialize)]
struct DiffQuery {
    #[serde(default)]
    a: String,
    #[serde(default)]
    b: String,
}

async fn diff(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<DiffQuery>,
) -> AppResult<Html<String>> {
    let (services, envs, cells, _) = state_now(&state).await?;
    let find = |n: &str| {
        envs.iter()
            .find(|e| e.name == n)
            .cloned()
            .ok_or(AppError::NotFound)
    };
    let (a, b) = (find(&q.a)?, find(&q.b)?);
    Ok(ui::page(
        &ctx,
        "Environment diff",
        pages::diff(&services, &a, &b, &cells),
    ))
}

async fn bundle(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(env): Path<String>,
) -> AppResult<Html<String>> {
    let (services, envs, cells, _) = state_now(&state).await?;
    let e = envs
        .iter()
        .find(|e| e.name == env)
        .ok_or(AppError::NotFound)?;
    let entries: Vec<(String, String)> = services
        .iter()
        .filter_map(|s| {
            let c = cells.get(&(s.id, e.id))?;
            let version = c.version.clone()?;
            let base = c
                .image_ref
                .clone()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| format!("{}:{version}", s.image));
            let exact = match c.digest.as_deref() {
                Some(d) if !d.is_empty() => {
                    format!("{}@{d}", base.split('@').next().unwrap_or(&base))
                }
                _ => base,
            };
            Some((s.name.clone(), exact))
        })
        .collect();
    Ok(ui::page(&ctx, "Bundle plan", pages::bundle(e, &entries)))
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
    /// "yes" on the confirmation step of a rollback.
    #[serde(default)]
    confirm: String,
}

/// Moves a deployment's status. Marking one rolled back changes what every page says runs in
/// that environment, so it takes a confirmation step that spells that out.
async fn transition(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Form(f): Form<StatusForm>,
) -> AppResult<Response> {
    if f.status == model::Status::RolledBack.as_str() && f.confirm != "yes" {
        let d = store::deployment(&state.pool, id)
            .await?
            .ok_or(AppError::NotFound)?;
        require(
            Some(&user),
            Action::RollBack {
                recorder: d.actor_id.map(crate::auth::model::AccountId),
            },
        )?;
        let previous = store::history(
            &state.pool,
            &store::HistoryFilter {
                service: Some(d.service_id),
                environment: Some(d.environment_id),
                status: Some(model::Status::Succeeded),
                before: Some((d.happened_at, d.id)),
            },
            1,
        )
        .await?;
        return Ok(ui::page(
            &ctx,
            "Confirm rollback",
            pages::confirm_rollback(&ctx, &d, previous.first()),
        )
        .into_response());
    }
    let msg = ops::transition(&state, &user, &actor, id, &f.status).await?;
    Ok(cookies
        .done(msg, &format!("/deployments/{id}"))
        .into_response())
}

async fn render_deployment(
    state: &AppState,
    ctx: &PageCtx,
    id: i64,
    f: Option<&ops::CorrectionForm>,
    errs: &FormErrors,
) -> AppResult<Html<String>> {
    let d = store::deployment(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let may_correct = can(
        ctx.user.as_ref(),
        Action::CorrectDeployment {
            recorder: d.actor_id.map(crate::auth::model::AccountId),
        },
    );
    let title = format!("Deployment #{id}");
    Ok(ui::page(
        ctx,
        &title,
        pages::deployment(ctx, &d, may_correct, f, errs),
    ))
}

async fn deployment(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    render_deployment(&state, &ctx, id, None, &FormErrors::default()).await
}

async fn correct(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Form(f): Form<ops::CorrectionForm>,
) -> AppResult<Response> {
    let result = ops::correct_deployment(&state, &user, &actor, id, &f)
        .await?
        .map(|msg| (msg, format!("/deployments/{id}")));
    cookies
        .form_outcome(result, |errs| async move {
            render_deployment(&state, &ctx, id, Some(&f), &errs).await
        })
        .await
}

async fn add_service(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<ServiceForm>,
) -> AppResult<Response> {
    require(Some(&user), Action::ManageDeployTargets)?;
    let result = ops::add_service(&state, &actor, &f).await?.map(|name| {
        (
            format!("Service {name} added."),
            format!("/services/{name}"),
        )
    });
    let (blank, none) = (EnvForm::default(), FormErrors::default());
    cookies
        .form_outcome(result, |errs| async move {
            render_matrix(&state, &ctx, &f, &errs, &blank, &none).await
        })
        .await
}

async fn add_environment(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<EnvForm>,
) -> AppResult<Response> {
    require(Some(&user), Action::ManageDeployTargets)?;
    let result = ops::add_environment(&state, &actor, &f).await?.map(|name| {
        (
            format!("Environment {name} added."),
            "/deployments".to_string(),
        )
    });
    let (blank, none) = (ServiceForm::default(), FormErrors::default());
    cookies
        .form_outcome(result, |errs| async move {
            render_matrix(&state, &ctx, &blank, &none, &f, &errs).await
        })
        .await
}

/// For each environment where `s` runs: its version's release line and that line's status, with a
/// warning when a production environment runs an end-of-life line.
async fn line_notes(
    state: &AppState,
    s: &ServiceRow,
    envs: &[store::EnvRow],
    cells: &pages::Cells,
) -> AppResult<Vec<pages::LineNote>> {
    let Some(repo_name) = s.repository.as_deref() else {
        return Ok(Vec::new());
    };
    let Some(repo) = crate::releases::repository_named(&state.pool, repo_name).await? else {
        return Ok(Vec::new());
    };
    let lines = crate::releases::lines_of(state, &repo).await?;
    let modifiers = state.config.modifiers();
    Ok(envs
        .iter()
        .filter_map(|e| {
            let version = cells.get(&(s.id, e.id))?.version.clone()?;
            let v = crate::releases::model::Version::parse(&version, &modifiers).ok()?;
            let line = crate::releases::model::line_for(&v).to_string();
            let status = lines
                .iter()
                .find(|l| l.0 == line)
                .map_or("not recorded", |l| l.1);
            Some(pages::LineNote {
                environment: e.name.clone(),
                version,
                href: format!("/releases/{}/{line}", repo.name),
                warn: status == "eol" && e.tier == "production",
                line,
                status,
            })
        })
        .collect())
}

async fn render_service(
    state: &AppState,
    ctx: &PageCtx,
    name: &str,
    image_form: &ImageForm,
    image_errs: &FormErrors,
    health_refusal: Option<(i64, String, String)>,
) -> AppResult<Html<String>> {
    let s = store::service(&state.pool, name)
        .await?
        .ok_or(AppError::NotFound)?;
    let (_, envs, cells, _) = state_now(state).await?;
    let targets: HashMap<i64, String> = store::health_urls(&state.pool, s.id)
        .await?
        .into_iter()
        .collect();
    let now = state.clock.now();
    let since = now - Duration::hours(24);
    let images = store::images(&state.pool, s.id).await?;
    let samples = store::samples(&state.pool, s.id, since).await?;
    let incidents = store::incidents(&state.pool, Some(s.id), false, 50).await?;
    let lines = line_notes(state, &s, &envs, &cells).await?;
    let can_manage = can(ctx.user.as_ref(), Action::ManageDeployTargets);
    let repositories = if can_manage {
        crate::releases::repositories(&state.pool).await?
    } else {
        Vec::new()
    };
    let view = pages::ServiceView {
        service: &s,
        envs: &envs,
        cells: &cells,
        targets: &targets,
        images: &images,
        samples: &samples,
        incidents: &incidents,
        since,
        now,
        can_manage,
        repositories: &repositories,
        lines: &lines,
        image_form,
        image_errs,
        health_refusal,
    };
    Ok(ui::page(ctx, &s.name, pages::service(ctx, view)))
}

async fn service(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(name): Path<String>,
) -> AppResult<Html<String>> {
    render_service(
        &state,
        &ctx,
        &name,
        &ImageForm::default(),
        &FormErrors::default(),
        None,
    )
    .await
}

#[derive(Deserialize)]
struct UrlForm {
    #[serde(default)]
    environment: String,
    #[serde(default)]
    url: String,
}

async fn env_id(state: &AppState, name: &str) -> AppResult<i64> {
    store::environment(&state.pool, name)
        .await?
        .map(|e| e.id)
        .ok_or(AppError::NotFound)
}

async fn health_url(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(name): Path<String>,
    Form(f): Form<UrlForm>,
) -> AppResult<Response> {
    require(Some(&user), Action::ManageDeployTargets)?;
    let s = store::service(&state.pool, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    let env = env_id(&state, &f.environment).await?;
    let result = ops::set_health_url(&state, &actor, &s, env, &f.url).await;
    let (blank, none) = (ImageForm::default(), FormErrors::default());
    cookies
        .outcome(result, &format!("/services/{name}"), |why| {
            let refusal = Some((env, f.url.clone(), why));
            render_service(&state, &ctx, &name, &blank, &none, refusal)
        })
        .await
}

async fn record_image(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(name): Path<String>,
    Form(f): Form<ImageForm>,
) -> AppResult<Response> {
    crate::auth::policy::require(Some(&user), crate::auth::policy::Action::RecordDeployment)?;
    let s = store::service(&state.pool, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    let result = ops::record_image(&state, &actor, &s, &f)
        .await?
        .map(|()| ("Image recorded.".to_string(), format!("/services/{name}")));
    cookies
        .form_outcome(result, |errs| async move {
            render_service(&state, &ctx, &name, &f, &errs, None).await
        })
        .await
}

#[derive(Deserialize)]
struct ReportForm {
    #[serde(default)]
    environment: String,
    #[serde(default)]
    ok: String,
    #[serde(default)]
    note: String,
    /// "yes" on the confirmation step.
    #[serde(default)]
    confirm: String,
}

/// A manual health report. It changes what everyone sees (and, later, who is told), so the
/// first post shows a confirmation page with the consequence; the second records it.
async fn report(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(name): Path<String>,
    Form(f): Form<ReportForm>,
) -> AppResult<Response> {
    let s = store::service(&state.pool, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    let env = store::environment(&state.pool, &f.environment)
        .await?
        .ok_or(AppError::NotFound)?;
    let ok = match f.ok.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(AppError::BadRequest("Report up or down.".into())),
    };
    require(
        Some(&user),
        Action::ReportHealth {
            production: env.tier == "production",
        },
    )?;
    if f.confirm != "yes" {
        let now = store::health_of(
            &state.pool,
            model::ServiceId(s.id),
            model::EnvironmentId(env.id),
        )
        .await?;
        return Ok(ui::page(
            &ctx,
            "Confirm health report",
            pages::confirm_report(&ctx, &s, &env, ok, now, &f.note),
        )
        .into_response());
    }
    if f.note.chars().count() > 500 {
        return Err(AppError::BadRequest(
            "A note has at most 500 characters.".into(),
        ));
    }
    ops::report_health(&state, &user, &actor, &s, &env, ok, &f.note).await?;
    let msg = format!(
        "{} in {} reported {}.",
        s.name,
        env.name,
        if ok { "up" } else { "down" }
    );
    Ok(cookies
        .done(msg, &format!("/services/{name}"))
        .into_response())
}

#[derive(Deserialize)]
struct RepositoryForm {
    #[serde(default)]
    repository: String,
}

async fn link_repository(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(name): Path<String>,
    Form(f): Form<RepositoryForm>,
) -> AppResult<Redirect> {
    require(Some(&user), Action::ManageDeployTargets)?;
    let s = store::service(&state.pool, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    let msg = ops::link_repository(&state, &actor, &s, &f.repository).await?;
    Ok(cookies.done(msg, &format!("/services/{name}")))
}

#[derive(Deserialize, Default)]
struct IncidentQuery {
    #[serde(default)]
    service: String,
    /// "open" shows only open incidents.
    #[serde(default)]
    state: String,
}

async fn render_incidents(
    state: &AppState,
    ctx: &PageCtx,
    q: &IncidentQuery,
    f: &IncidentForm,
    errs: &FormErrors,
) -> AppResult<Html<String>> {
    let services = store::services(&state.pool).await?;
    let envs = store::environments(&state.pool).await?;
    let service = services.iter().find(|s| s.name == q.service).map(|s| s.id);
    let list = store::incidents(&state.pool, service, q.state == "open", 100).await?;
    let view = pages::IncidentsView {
        list: &list,
        services: &services,
        envs: &envs,
        service: &q.service,
        state: &q.state,
        form: f,
        errs,
    };
    Ok(ui::page(ctx, "Incidents", pages::incidents(ctx, view)))
}

async fn incidents(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<IncidentQuery>,
) -> AppResult<Html<String>> {
    let f = IncidentForm {
        service: q.service.clone(),
        ..Default::default()
    };
    render_incidents(&state, &ctx, &q, &f, &FormErrors::default()).await
}

async fn open_incident(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<IncidentForm>,
) -> AppResult<Response> {
    require(Some(&user), Action::RecordIncident)?;
    let result = ops::open_incident(&state, &actor, &f).await?.map(|id| {
        (
            format!("Incident #{id} opened."),
            format!("/incidents/{id}"),
        )
    });
    cookies
        .form_outcome(result, |errs| async move {
            render_incidents(&state, &ctx, &IncidentQuery::default(), &f, &errs).await
        })
        .await
}

async fn render_incident(
    state: &AppState,
    ctx: &PageCtx,
    id: i64,
    typed: Option<(&'static str, String, String)>,
) -> AppResult<Html<String>> {
    let i = store::incident(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let updates = store::incident_updates(&state.pool, id).await?;
    let title = format!("Incident #{id}");
    Ok(ui::page(
        ctx,
        &title,
        pages::incident(ctx, &i, &updates, typed),
    ))
}

async fn incident(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    render_incident(&state, &ctx, id, None).await
}

#[derive(Deserialize)]
struct IncidentText {
    #[serde(default)]
    body: String,
}

/// A form on an incident's page: which form and its text (kept if refused), and what it does
/// (run only once the policy allows it).
async fn incident_form(
    state: AppState,
    user: CurrentUser,
    cookies: Cookies,
    ctx: PageCtx,
    id: i64,
    (which, body): (&'static str, String),
    result: impl Future<Output = AppResult<String>>,
) -> AppResult<Response> {
    require(Some(&user), Action::RecordIncident)?;
    let result = result.await;
    cookies
        .outcome(result, &format!("/incidents/{id}"), |why| {
            render_incident(&state, &ctx, id, Some((which, body, why)))
        })
        .await
}

async fn update_incident(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Form(f): Form<IncidentText>,
) -> AppResult<Response> {
    let op = ops::add_incident_update(&state, &actor, id, &f.body);
    let typed = ("update", f.body.clone());
    incident_form(state.clone(), user, cookies, ctx, id, typed, op).await
}

#[derive(Deserialize)]
struct CauseForm {
    #[serde(default)]
    cause: String,
}

async fn attribute_incident(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Form(f): Form<CauseForm>,
) -> AppResult<Response> {
    let typed = ("cause", f.cause.clone());
    let (who, st) = (user.clone(), state.clone());
    let op = async move { ops::attribute_incident(&st, &who, &actor, id, &f.cause).await };
    incident_form(state, user, cookies, ctx, id, typed, op).await
}

async fn resolve_incident(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Path(id): Path<i64>,
    Form(f): Form<IncidentText>,
) -> AppResult<Response> {
    let op = ops::resolve_incident(&state, &actor, id, &f.body);
    let typed = ("resolve", f.body.clone());
    incident_form(state.clone(), user, cookies, ctx, id, typed, op).await
}
