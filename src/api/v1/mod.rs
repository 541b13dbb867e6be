//! The `/api/v1/` endpoints. Writes take JSON, check the token's scope and then the same policy
//! and operations as the forms (`deploys::ops::record_deployment`, `releases::ops::record_tag`,
//! `presence::ops`), so rules, audit records and outbox rows are the same whichever way data
//! arrives; every write honours `Idempotency-Key`. Reads of docs and leave live beside it.

mod docs;
mod insight;
mod leave;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiResult, idempotency, need, request_id, tokens::Caller};
use crate::{
    auth::policy::{self, Action},
    deploys::{
        self,
        model::Status,
        ops::{DeploymentInput, IncidentForm, Recorded},
    },
    presence::{model::CheckIn, ops::OfflineForm},
    releases::ops::TagForm,
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route(
            "/deployments",
            get(list_deployments).post(record_deployment),
        )
        .route("/deployments/{id}", get(get_deployment))
        .route("/deployments/{id}/status", post(move_deployment))
        .route("/services", get(services).post(add_service))
        .route("/environments", get(environments).post(add_environment))
        .route("/repositories", get(repositories))
        .route("/repositories/{repo}/lines", get(lines))
        .route("/repositories/{repo}/tags", get(list_tags).post(record_tag))
        .route("/status", post(check_in))
        .route("/incidents", get(list_incidents).post(open_incident))
        .route("/incidents/{id}", get(get_incident))
        .route("/incidents/{id}/updates", post(update_incident))
        .route("/incidents/{id}/resolve", post(resolve_incident))
        .route("/health-reports", post(report_health))
        .route("/matrix", get(matrix))
        .route("/team", get(team))
        .route("/leave", get(leave::list_leave))
        .route("/docs", get(docs::list_docs))
        .route("/docs/{number}", get(docs::get_doc))
        .route("/insight", get(insight::get_insight))
        .route("/openapi.json", get(openapi))
}

/// The OpenAPI document as served and committed (`docs/openapi.json`).
pub fn document() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    ApiDoc::openapi()
}

/// `GET /api/v1/openapi.json`: needs no token (it describes, it does not reveal).
async fn openapi() -> Response {
    let mut resp = Json(document()).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// The `Idempotency-Key` header every write accepts.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKey {
    /// Any string up to 200 characters: the same key with the same request replays the first
    /// response; with a different request it is refused (422 `idempotency_key_reused`). Kept 24 h.
    #[param(rename = "Idempotency-Key")]
    idempotency_key: Option<String>,
}

/// Parses a JSON body: 415 when it is not JSON, 400 `malformed_json` when it does not parse, 422
/// `invalid_body` when a field has the wrong type, is missing or is unknown.
fn parse<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> ApiResult<T> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send JSON with `Content-Type: application/json`.",
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("The body is not valid JSON: {e}."),
        )
    })?;
    if let Some(field) = control_character_in(&value, "") {
        let mut e = ApiError::invalid(format!(
            "“{field}” holds a control character; only tab and line breaks are allowed in text."
        ));
        e.fields.insert(field, "control character".into());
        return Err(e);
    }
    serde_json::from_value(value).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                let mut err = ApiError::invalid(format!("The body does not fit: {e}."));
                err.code = "invalid_body";
                err
            }
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("The body is not valid JSON: {e}."),
            ),
        }
    })
}

/// The first field (a dotted path) whose key or text holds a control character other than tab
/// and line breaks: refused at the edge, as the forms do (PostgreSQL text cannot even hold NUL).
fn control_character_in(v: &serde_json::Value, at: &str) -> Option<String> {
    let bad = |s: &str| {
        s.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    };
    match v {
        serde_json::Value::String(s) if bad(s) => Some(if at.is_empty() {
            "body".into()
        } else {
            at.to_string()
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| control_character_in(x, &format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            let here = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if bad(k) {
                Some(here.chars().filter(|c| !c.is_control()).collect())
            } else {
                control_character_in(x, &here)
            }
        }),
        _ => None,
    }
}

/// What identifies a write for its Idempotency-Key: method, path and body.
fn fingerprint(method: &Method, uri: &Uri, body: &[u8]) -> Vec<u8> {
    let mut v = format!("{method} {}\n", uri.path()).into_bytes();
    v.extend_from_slice(body);
    v
}

/// A write request: what every write endpoint extracts (the caller, the request's method, path,
/// headers and body) so that `run` can parse the body and honour its Idempotency-Key.
struct Write {
    state: AppState,
    caller: Caller,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// What a write's operation gets besides its parsed body: the state, the caller, and the
/// request id for the audit record (`caller.actor(rid)`).
struct Ctx(AppState, Caller, Option<String>);

impl axum::extract::FromRequest<AppState> for Write {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("Send a bearer token.").into_response())?;
        let (method, uri, headers) = (
            parts.method.clone(),
            parts.uri.clone(),
            parts.headers.clone(),
        );
        let body = <Bytes as axum::extract::FromRequest<AppState>>::from_request(
            axum::extract::Request::from_parts(parts, body),
            state,
        )
        .await
        .map_err(IntoResponse::into_response)?;
        Ok(Self {
            state: state.clone(),
            caller,
            method,
            uri,
            headers,
            body,
        })
    }
}

impl Write {
    /// Parses the JSON body and runs `op` with it, once per Idempotency-Key.
    async fn run<T, F, Fut>(self, op: F) -> Response
    where
        T: DeserializeOwned,
        F: FnOnce(T, Ctx) -> Fut,
        Fut: Future<Output = ApiResult<Response>>,
    {
        let ctx = Ctx(
            self.state.clone(),
            self.caller.clone(),
            request_id(&self.headers),
        );
        let print = fingerprint(&self.method, &self.uri, &self.body);
        idempotency::once(&self.state, &self.caller, &self.headers, &print, async {
            match parse::<T>(&self.headers, &self.body) {
                Ok(input) => op(input, ctx)
                    .await
                    .unwrap_or_else(IntoResponse::into_response),
                Err(e) => e.into_response(),
            }
        })
        .await
    }
}

#[derive(Serialize, ToSchema)]
struct Me {
    handle: String,
    display_name: String,
    role: &'static str,
    token: String,
    scopes: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    summary = "The account and scopes of the calling token",
    responses((status = 200, body = Me), (status = 401, body = super::error::ErrorDoc)),
    security(("bearer" = [])))]
async fn me(caller: Caller) -> ApiResult<Json<Me>> {
    Ok(Json(Me {
        handle: caller.user.handle.clone(),
        display_name: caller.user.display_name.clone(),
        role: caller.user.role.as_str(),
        token: caller.token_name.clone(),
        scopes: caller.scopes.clone(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Deployment {
    id: i64,
    service: String,
    environment: String,
    version: String,
    status: &'static str,
    image_ref: String,
    digest: String,
    commit: String,
    note: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    recorded_by: String,
    source: String,
}

impl From<deploys::DeploymentRow> for Deployment {
    fn from(d: deploys::DeploymentRow) -> Self {
        Self {
            id: d.id,
            service: d.service,
            environment: d.environment,
            version: d.version,
            status: d.status.as_str(),
            image_ref: d.image_ref,
            digest: d.digest,
            commit: d.commit_sha,
            note: d.note,
            started_at: d.started_at,
            finished_at: d.finished_at,
            recorded_by: d.actor,
            source: d.source,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct Page<T> {
    items: Vec<T>,
    /// The cursor of the next page (`?after=`), when there is one.
    next: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    service: Option<String>,
    environment: Option<String>,
    status: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

fn cursor(raw: &str) -> ApiResult<(DateTime<Utc>, i64)> {
    raw.split_once('.')
        .and_then(|(m, id)| {
            Some((
                DateTime::from_timestamp_micros(m.parse().ok()?)?,
                id.parse().ok()?,
            ))
        })
        .ok_or_else(|| ApiError::invalid("`after` is a cursor from a previous page's `next`."))
}

#[utoipa::path(get, path = "/api/v1/deployments", tag = "deployments",
    summary = "Deployments, newest first by when they happened; filter by service, environment, status",
    params(ListQuery),
    responses((status = 200, body = Page<Deployment>), (status = 404, body = super::error::ErrorDoc),
        (status = 422, body = super::error::ErrorDoc)),
    security(("bearer" = ["read"])))]
async fn list_deployments(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page<Deployment>>> {
    need(&caller, "read")?;
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("`limit` is between 1 and 200."));
    }
    let (svc, env) = deploys::target(
        &state.pool,
        q.service.as_deref().unwrap_or(""),
        q.environment.as_deref().unwrap_or(""),
    )
    .await?;
    if q.service.is_some() && svc.is_none() {
        return Err(ApiError::not_found("service"));
    }
    if q.environment.is_some() && env.is_none() {
        return Err(ApiError::not_found("environment"));
    }
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(Status::parse(s).map_err(ApiError::invalid)?),
    };
    let filter = deploys::HistoryFilter {
        service: svc.map(|s| s.id),
        environment: env.map(|e| e.id),
        status,
        before: q.after.as_deref().map(cursor).transpose()?,
    };
    let mut rows = deploys::list(&state.pool, &filter, limit + 1).await?;
    let next = (rows.len() as i64 > limit)
        .then(|| {
            rows.get(limit as usize - 1)
                .map(|d| format!("{}.{}", d.happened_at.timestamp_micros(), d.id))
        })
        .flatten();
    rows.truncate(limit as usize);
    Ok(Json(Page {
        items: rows.into_iter().map(Deployment::from).collect(),
        next,
    }))
}

#[utoipa::path(get, path = "/api/v1/deployments/{id}", tag = "deployments",
    summary = "One deployment",
    params(("id" = i64, Path, description = "the deployment's number")),
    responses((status = 200, body = Deployment), (status = 404, body = super::error::ErrorDoc)),
    security(("bearer" = ["read"])))]
async fn get_deployment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Deployment>> {
    need(&caller, "read")?;
    let d = deploys::deployment_by_id(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("deployment"))?;
    Ok(Json(d.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewDeployment {
    /// The service's name.
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    service: String,
    /// The environment's name.
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    environment: String,
    /// A release tag by the team's rules (modifiers are a setting; alpha, beta, rc by default).
    #[schema(
        pattern = r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(alpha|beta|rc)\.(0|[1-9][0-9]*))?$",
        example = "v3.9.1"
    )]
    version: String,
    /// Default `succeeded`.
    #[serde(default)]
    #[schema(pattern = "^(pending|running|succeeded|failed|rolled_back)$")]
    status: Option<String>,
    /// The image reference, e.g. `ghcr.io/acme/api:v3.9.1`.
    #[serde(default)]
    #[schema(max_length = 500)]
    image: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^(sha256:[0-9a-f]{64})?$")]
    digest: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^([0-9a-fA-F]{7,64})?$")]
    commit: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    note: Option<String>,
    /// Made because of an incident (counted as rework by insight). Default false.
    #[serde(default)]
    hotfix: Option<bool>,
}

#[derive(Serialize, ToSchema)]
struct RecordedOut {
    deployment: Deployment,
    /// Skew it introduced, or a version its repository has not tagged: recorded anyway (CI does
    /// not stop to confirm), reported here.
    warnings: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/deployments", tag = "deployments",
    summary = "Record a deployment (skew and untagged versions are recorded and reported as warnings)",
    params(IdempotencyKey),
    request_body = NewDeployment,
    responses((status = 201, body = RecordedOut), (status = 403, body = super::error::ErrorDoc),
        (status = 422, body = super::error::ErrorDoc)),
    security(("bearer" = ["deployments:write"])))]
async fn record_deployment(w: Write) -> Response {
    w.run(|n: NewDeployment, Ctx(st, c, rid)| async move {
        need(&c, "deployments:write")?;
        policy::require(Some(&c.user), Action::RecordDeployment)?;
        let input = DeploymentInput {
            service: n.service,
            environment: n.environment,
            version: n.version,
            image_ref: n.image.unwrap_or_default(),
            digest: n.digest.unwrap_or_default(),
            status: n.status.unwrap_or_default(),
            commit: n.commit.unwrap_or_default(),
            note: n.note.unwrap_or_default(),
            idempotency_key: String::new(),
            hotfix: if n.hotfix.unwrap_or(false) { "on" } else { "" }.into(),
            confirm: "report".into(),
        };
        let actor = c.actor(rid);
        let (id, warnings) =
            match deploys::ops::record_deployment(&st, &actor, "api", &input).await? {
                Ok(Recorded::New(id, warnings)) => (id, warnings),
                Ok(Recorded::Existing(id)) => (id, Vec::new()),
                Ok(Recorded::Confirm(_)) => {
                    return Err(ApiError::invalid("The deployment needs confirming."));
                }
                Err(errs) => return Err(errs.into()),
            };
        let d = deploys::deployment_by_id(&st.pool, id)
            .await?
            .ok_or_else(|| ApiError::not_found("deployment"))?;
        let out = RecordedOut {
            deployment: d.into(),
            warnings,
        };
        Ok((StatusCode::CREATED, Json(out)).into_response())
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusMove {
    #[schema(pattern = "^(pending|running|succeeded|failed|rolled_back)$")]
    status: String,
}

#[utoipa::path(post, path = "/api/v1/deployments/{id}/status", tag = "deployments",
    summary = "Move a deployment's status (pending → running → succeeded | failed, succeeded → rolled_back)",
    params(("id" = i64, Path, description = "the deployment's number"), IdempotencyKey),
    request_body = StatusMove,
    responses((status = 200, body = Deployment), (status = 403, body = super::error::ErrorDoc),
        (status = 409, body = super::error::ErrorDoc)),
    security(("bearer" = ["deployments:write"])))]
async fn move_deployment(Path(id): Path<i64>, w: Write) -> Response {
    w.run(|m: StatusMove, Ctx(st, c, rid)| async move {
        need(&c, "deployments:write")?;
        let actor = c.actor(rid);
        deploys::ops::transition(&st, &c.user, &actor, id, &m.status).await?;
        let d = deploys::deployment_by_id(&st.pool, id)
            .await?
            .ok_or_else(|| ApiError::not_found("deployment"))?;
        Ok(Json(Deployment::from(d)).into_response())
    })
    .await
}

#[derive(Serialize, ToSchema)]
struct ServiceOut {
    name: String,
    role: String,
    image: String,
    owner: String,
    repository: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/services", tag = "deployments",
    summary = "Every service",
    responses((status = 200, body = Page<ServiceOut>)),
    security(("bearer" = ["read"])))]
async fn services(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Page<ServiceOut>>> {
    need(&caller, "read")?;
    let items = deploys::services(&state.pool)
        .await?
        .into_iter()
        .map(|s| ServiceOut {
            name: s.name,
            role: s.role,
            image: s.image,
            owner: s.owner,
            repository: s.repository,
        })
        .collect();
    Ok(Json(Page { items, next: None }))
}

#[derive(Serialize, ToSchema)]
struct EnvironmentOut {
    name: String,
    tier: String,
    position: i32,
    url: String,
}

#[utoipa::path(get, path = "/api/v1/environments", tag = "deployments",
    summary = "Every environment, in matrix order",
    responses((status = 200, body = Page<EnvironmentOut>)),
    security(("bearer" = ["read"])))]
async fn environments(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Page<EnvironmentOut>>> {
    need(&caller, "read")?;
    let items = deploys::environments(&state.pool)
        .await?
        .into_iter()
        .map(|e| EnvironmentOut {
            name: e.name,
            tier: e.tier,
            position: e.position,
            url: e.url,
        })
        .collect();
    Ok(Json(Page { items, next: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewTag {
    #[schema(
        pattern = r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(alpha|beta|rc)\.(0|[1-9][0-9]*))?$",
        example = "v3.9.1"
    )]
    tag: String,
    #[serde(default)]
    #[schema(pattern = "^([0-9a-fA-F]{7,64})?$")]
    commit: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Done {
    message: String,
}

#[utoipa::path(post, path = "/api/v1/repositories/{repo}/tags", tag = "releases",
    summary = "Record a release tag (a lead's token; the release rules apply)",
    params(("repo" = String, Path, description = "the repository's name"), IdempotencyKey),
    request_body = NewTag,
    responses((status = 201, body = Done), (status = 403, body = super::error::ErrorDoc),
        (status = 422, body = super::error::ErrorDoc)),
    security(("bearer" = ["releases:write"])))]
async fn record_tag(Path(repo): Path<String>, w: Write) -> Response {
    w.run(|t: NewTag, Ctx(st, c, rid)| async move {
        need(&c, "releases:write")?;
        policy::require(Some(&c.user), Action::ManageReleases)?;
        let repo = crate::releases::repository_named(&st.pool, &repo)
            .await?
            .ok_or_else(|| ApiError::not_found("repository"))?;
        let form = TagForm {
            tag: t.tag,
            commit: t.commit.unwrap_or_default(),
        };
        let actor = c.actor(rid);
        match crate::releases::ops::record_tag(&st, &actor, &repo, &form, "api").await? {
            Ok(message) => Ok((StatusCode::CREATED, Json(Done { message })).into_response()),
            Err(errs) => Err(errs.into()),
        }
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckInBody {
    /// `offline` needs `for` or `until`.
    #[schema(pattern = "^(online|away|offline)$")]
    state: String,
    /// How long, e.g. `2h`, `90m`, `1h 30m` (at most 7 days).
    #[serde(default, rename = "for")]
    #[schema(pattern = "^[1-9][0-9]{0,2}[dhm]( [1-9][0-9]?m)?$", example = "2h")]
    for_: Option<String>,
    /// Back at, in your zone: `15:00` or `2026-11-27T09:00`.
    #[serde(default)]
    #[schema(
        pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}[T ])?[0-9]{1,2}:[0-9]{2}$",
        example = "15:00"
    )]
    until: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/status", tag = "availability",
    summary = "Check in: online, away, or offline with `for` or `until`",
    params(IdempotencyKey),
    request_body = CheckInBody,
    responses((status = 200, body = Done), (status = 422, body = super::error::ErrorDoc)),
    security(("bearer" = ["status:write"])))]
async fn check_in(w: Write) -> Response {
    w.run(|b: CheckInBody, Ctx(st, c, rid)| async move {
        need(&c, "status:write")?;
        policy::require(Some(&c.user), Action::SetOwnStatus)?;
        let actor = c.actor(rid);
        let message = match b.state.as_str() {
            "online" | "away" => {
                let to = if b.state == "online" {
                    CheckIn::Online
                } else {
                    CheckIn::Away
                };
                crate::presence::ops::check_in(&st, &c.user, &actor, to).await?;
                format!("You are {}.", b.state)
            }
            "offline" => {
                let form = OfflineForm {
                    for_: b.for_.unwrap_or_default(),
                    until: b.until.unwrap_or_default(),
                    reason: b.reason.unwrap_or_default(),
                };
                let until = crate::presence::ops::go_offline(&st, &c.user, &actor, &form)
                    .await?
                    .map_err(ApiError::from)?;
                format!("You are offline until {}.", until.to_rfc3339())
            }
            _ => {
                let mut e = ApiError::invalid("`state` is online, away or offline.");
                e.fields
                    .insert("state".into(), "online, away or offline".into());
                return Err(e);
            }
        };
        Ok(Json(Done { message }).into_response())
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewIncident {
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    service: String,
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    environment: String,
    #[schema(pattern = "^sev[1-4]$")]
    severity: String,
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    #[serde(default)]
    deployment: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct IncidentOut {
    id: i64,
    service: String,
    environment: String,
    severity: String,
    title: String,
    opened_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    /// The deployment it is attributed to.
    deployment: Option<i64>,
    /// explicit (named), default (the latest production deployment of the service before it,
    /// within the attribution window) or none.
    attribution: String,
    resolution: String,
}

impl From<deploys::IncidentRow> for IncidentOut {
    fn from(i: deploys::IncidentRow) -> Self {
        Self {
            id: i.id,
            service: i.service,
            environment: i.environment,
            severity: i.severity,
            title: i.title,
            opened_at: i.opened_at,
            resolved_at: i.resolved_at,
            deployment: i.deployment_id,
            attribution: i.attribution,
            resolution: i.resolution,
        }
    }
}

async fn incident_out(state: &AppState, id: i64) -> ApiResult<Json<IncidentOut>> {
    let i = deploys::incident_by_id(state, id)
        .await?
        .ok_or_else(|| ApiError::not_found("incident"))?;
    Ok(Json(i.into()))
}

#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents",
    summary = "Open an incident",
    params(IdempotencyKey),
    request_body = NewIncident,
    responses((status = 201, body = IncidentOut), (status = 422, body = super::error::ErrorDoc)),
    security(("bearer" = ["incidents:write"])))]
async fn open_incident(w: Write) -> Response {
    w.run(|n: NewIncident, Ctx(st, c, rid)| async move {
        need(&c, "incidents:write")?;
        policy::require(Some(&c.user), Action::RecordIncident)?;
        let form = IncidentForm {
            service: n.service,
            environment: n.environment,
            severity: n.severity,
            title: n.title,
            deployment: n.deployment.map(|d| d.to_string()).unwrap_or_default(),
        };
        let actor = c.actor(rid);
        let id = deploys::ops::open_incident(&st, &actor, &form)
            .await?
            .map_err(ApiError::from)?;
        Ok((StatusCode::CREATED, incident_out(&st, id).await?).into_response())
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Resolution {
    /// What restored service.
    #[schema(min_length = 1, max_length = 2000)]
    note: String,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/resolve", tag = "incidents",
    summary = "Resolve an incident, saying what restored service",
    params(("id" = i64, Path, description = "the incident's number"), IdempotencyKey),
    request_body = Resolution,
    responses((status = 200, body = IncidentOut), (status = 409, body = super::error::ErrorDoc),
        (status = 422, body = super::error::ErrorDoc)),
    security(("bearer" = ["incidents:write"])))]
async fn resolve_incident(Path(id): Path<i64>, w: Write) -> Response {
    w.run(|r: Resolution, Ctx(st, c, rid)| async move {
        need(&c, "incidents:write")?;
        policy::require(Some(&c.user), Action::RecordIncident)?;
        let actor = c.actor(rid);
        deploys::ops::resolve_incident(&st, &actor, id, &r.note).await?;
        Ok(incident_out(&st, id).await?.into_response())
    })
    .await
}

/// The OpenAPI document of `/api/v1/`, generated from the handlers above.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "flowdeck API", description = "Bearer tokens from /profile/tokens; JSON errors `{\"error\": {\"code\", \"message\", \"fields\"}}`; cursor pagination with `after` and `next`; `Idempotency-Key` on every write; 429 with `Retry-After` per token."),
    paths(me, list_deployments, get_deployment, record_deployment, move_deployment, services,
          add_service, environments, add_environment, repositories, lines, list_tags, matrix, report_health, record_tag, check_in, team, list_incidents,
          get_incident, open_incident, update_incident, resolve_incident, leave::list_leave, docs::list_docs, docs::get_doc, insight::get_insight),
    modifiers(&BearerScheme),
    tags((name = "deployments"), (name = "releases"), (name = "availability"), (name = "incidents"), (name = "docs"), (name = "insight"), (name = "account"))
)]
pub struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("fdk_…")
                    .build(),
            ),
        );
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct IncidentQuery {
    /// Only this service's incidents.
    service: Option<String>,
    /// `open` for open incidents only.
    state: Option<String>,
    /// At most this many (1–200, default 50), open ones first, then newest.
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents",
    summary = "Incidents, open first, then newest",
    params(IncidentQuery),
    responses((status = 200, body = Page<IncidentOut>), (status = 404, body = super::error::ErrorDoc),
        (status = 422, body = super::error::ErrorDoc)),
    security(("bearer" = ["read"])))]
async fn list_incidents(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<IncidentQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page<IncidentOut>>> {
    need(&caller, "read")?;
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("`limit` is between 1 and 200."));
    }
    let open_only = match q.state.as_deref() {
        None | Some("") => false,
        Some("open") => true,
        Some(_) => return Err(ApiError::invalid("`state` is `open`, or left out for all.")),
    };
    let service = match q.service.as_deref() {
        None => None,
        Some(name) => Some(
            deploys::target(&state.pool, name, "")
                .await?
                .0
                .ok_or_else(|| ApiError::not_found("service"))?
                .id,
        ),
    };
    let items = deploys::incident_list(&state, service, open_only, limit)
        .await?
        .into_iter()
        .map(IncidentOut::from)
        .collect();
    Ok(Json(Page { items, next: None }))
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    summary = "One incident",
    params(("id" = i64, Path, description = "the incident's number")),
    responses((status = 200, body = IncidentOut), (status = 404, body = super::error::ErrorDoc)),
    security(("bearer" = ["read"])))]
async fn get_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<IncidentOut>> {
    need(&caller, "read")?;
    incident_out(&state, id).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct IncidentUpdate {
    /// What is known now (1–2000 characters).
    #[schema(min_length = 1, max_length = 2000)]
    body: String,
}

#[utoipa::path(post, path = "/api/v1/incidents/{id}/updates", tag = "incidents",
    summary = "Add an update to an open incident's timeline",
    params(("id" = i64, Path, description = "the incident's number"), IdempotencyKey),
    request_body = IncidentUpdate,
    responses((status = 200, body = IncidentOut), (status = 409, body = super::error::ErrorDoc),
        (status = 422, body = super::error::ErrorDoc)),
    security(("bearer" = ["incidents:write"])))]
async fn update_incident(Path(id): Path<i64>, w: Write) -> Response {
    w.run(|u: IncidentUpdate, Ctx(st, c, rid)| async move {
        need(&c, "incidents:write")?;
        policy::require(Some(&c.user), Action::RecordIncident)?;
        let actor = c.actor(rid);
        deploys::ops::add_incident_update(&st, &actor, id, &u.body).await?;
        Ok(incident_out(&st, id).await?.into_response())
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct HealthReport {
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    service: String,
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    environment: String,
    /// true: up; false: down.
    ok: bool,
    #[serde(default)]
    note: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/health-reports", tag = "deployments",
    summary = "Report a service up or down from a site the prober cannot reach (production: a lead's token)",
    params(IdempotencyKey),
    request_body = HealthReport,
    responses((status = 200, body = Done), (status = 403, body = super::error::ErrorDoc),
        (status = 404, body = super::error::ErrorDoc)),
    security(("bearer" = ["deployments:write"])))]
async fn report_health(w: Write) -> Response {
    w.run(|h: HealthReport, Ctx(st, c, rid)| async move {
        need(&c, "deployments:write")?;
        let (svc, env) = deploys::target(&st.pool, h.service.trim(), h.environment.trim()).await?;
        let svc = svc.ok_or_else(|| ApiError::not_found("service"))?;
        let env = env.ok_or_else(|| ApiError::not_found("environment"))?;
        let note = h.note.unwrap_or_default();
        if note.chars().count() > 500 {
            return Err(ApiError::invalid("A note has at most 500 characters."));
        }
        let actor = c.actor(rid);
        deploys::ops::report_health(&st, &c.user, &actor, &svc, &env, h.ok, &note).await?;
        let message = format!(
            "{} in {} reported {}.",
            svc.name,
            env.name,
            if h.ok { "up" } else { "down" }
        );
        Ok(Json(Done { message }).into_response())
    })
    .await
}

#[derive(Serialize, ToSchema)]
struct Cell {
    service: String,
    environment: String,
    /// The running version (none: nothing succeeded there yet).
    version: Option<String>,
    since: Option<DateTime<Utc>>,
    /// up, down or unknown.
    health: &'static str,
    /// Skew warnings of this service in this environment.
    warnings: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/matrix", tag = "deployments",
    summary = "What runs where: every service × environment with version, health and skew warnings",
    responses((status = 200, body = Page<Cell>)),
    security(("bearer" = ["read"])))]
async fn matrix(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Page<Cell>>> {
    need(&caller, "read")?;
    let (services, envs, cells, skews) = deploys::state_now(&state).await?;
    let mut items = Vec::new();
    for s in &services {
        for e in &envs {
            let cell = cells.get(&(s.id, e.id));
            items.push(Cell {
                service: s.name.clone(),
                environment: e.name.clone(),
                version: cell.and_then(|c| c.version.clone()),
                since: cell.and_then(|c| c.finished_at),
                health: cell
                    .and_then(|c| c.health)
                    .unwrap_or(deploys::model::Health::Unknown)
                    .as_str(),
                warnings: skews
                    .get(&e.id)
                    .into_iter()
                    .flatten()
                    .filter(|k| k.service == s.name)
                    .map(|k| k.message.clone())
                    .collect(),
            });
        }
    }
    Ok(Json(Page { items, next: None }))
}

#[derive(Serialize, ToSchema)]
struct MemberOut {
    handle: String,
    display_name: String,
    /// online, away, offline, overdue, on_leave or unknown.
    state: &'static str,
    /// When an offline (or overdue) member said they would be back.
    until: Option<DateTime<Utc>>,
    time_zone: String,
}

#[utoipa::path(get, path = "/api/v1/team", tag = "availability",
    summary = "The team board: everyone's state now",
    responses((status = 200, body = Page<MemberOut>)),
    security(("bearer" = ["read"])))]
async fn team(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Page<MemberOut>>> {
    need(&caller, "read")?;
    use crate::presence::model::Status as S;
    let items = crate::presence::team_now(&state)
        .await?
        .iter()
        .cloned()
        .map(|m| MemberOut {
            until: match m.status {
                S::Offline { until } | S::Overdue { until } => Some(until),
                _ => None,
            },
            state: m.status.key(),
            handle: m.row.handle,
            display_name: m.row.display_name,
            time_zone: m.row.timezone,
        })
        .collect();
    Ok(Json(Page { items, next: None }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewService {
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    name: String,
    /// api, rpc, worker, web, … (the skew rules use it).
    #[schema(pattern = "^[a-z][a-z0-9-]{0,31}$")]
    role: String,
    #[serde(default)]
    image: Option<String>,
    /// systemd, supervisord, compose or kubernetes (default).
    #[serde(default)]
    #[schema(pattern = "^(systemd|supervisord|compose|kubernetes)?$")]
    supervisor: Option<String>,
    /// The repository whose tags are its versions.
    #[serde(default)]
    repository: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/services", tag = "deployments",
    summary = "Add a service (a lead's token)",
    params(IdempotencyKey),
    request_body = NewService,
    responses((status = 201, body = Done), (status = 403, body = super::error::ErrorDoc),
        (status = 422, body = super::error::ErrorDoc)),
    security(("bearer" = ["deployments:write"])))]
async fn add_service(w: Write) -> Response {
    w.run(|n: NewService, Ctx(st, c, rid)| async move {
        need(&c, "deployments:write")?;
        policy::require(Some(&c.user), Action::ManageDeployTargets)?;
        let form = deploys::ops::ServiceForm {
            name: n.name,
            role: n.role,
            image: n.image.unwrap_or_default(),
            supervisor: n.supervisor.unwrap_or_default(),
            probe_interval_seconds: String::new(),
            repository: n.repository.unwrap_or_default(),
        };
        let name = deploys::ops::add_service(&st, &c.actor(rid), &form)
            .await?
            .map_err(ApiError::from)?;
        let message = format!("Service {name} added.");
        Ok((StatusCode::CREATED, Json(Done { message })).into_response())
    })
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewEnvironment {
    #[schema(pattern = r"^[a-z0-9][a-z0-9._-]{0,63}$")]
    name: String,
    /// development, testing, staging, production or offline.
    #[schema(pattern = "^(development|testing|staging|production|offline)$")]
    tier: String,
    #[serde(default)]
    position: Option<i32>,
    #[serde(default)]
    url: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/environments", tag = "deployments",
    summary = "Add an environment (a lead's token)",
    params(IdempotencyKey),
    request_body = NewEnvironment,
    responses((status = 201, body = Done), (status = 403, body = super::error::ErrorDoc),
        (status = 422, body = super::error::ErrorDoc)),
    security(("bearer" = ["deployments:write"])))]
async fn add_environment(w: Write) -> Response {
    w.run(|n: NewEnvironment, Ctx(st, c, rid)| async move {
        need(&c, "deployments:write")?;
        policy::require(Some(&c.user), Action::ManageDeployTargets)?;
        let form = deploys::ops::EnvForm {
            name: n.name,
            tier: n.tier,
            position: n.position.map(|p| p.to_string()).unwrap_or_default(),
            url: n.url.unwrap_or_default(),
        };
        let name = deploys::ops::add_environment(&st, &c.actor(rid), &form)
            .await?
            .map_err(ApiError::from)?;
        let message = format!("Environment {name} added.");
        Ok((StatusCode::CREATED, Json(Done { message })).into_response())
    })
    .await
}

#[derive(Serialize, ToSchema)]
struct RepositoryOut {
    name: String,
    url: String,
    default_branch: String,
    owner: String,
}

#[utoipa::path(get, path = "/api/v1/repositories", tag = "releases",
    summary = "Every repository",
    responses((status = 200, body = Page<RepositoryOut>)),
    security(("bearer" = ["read"])))]
async fn repositories(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Page<RepositoryOut>>> {
    need(&caller, "read")?;
    let items = crate::releases::repositories(&state.pool)
        .await?
        .into_iter()
        .map(|r| RepositoryOut {
            name: r.name,
            url: r.url,
            default_branch: r.default_branch,
            owner: r.owner,
        })
        .collect();
    Ok(Json(Page { items, next: None }))
}

#[derive(Serialize, ToSchema)]
struct LineOut {
    name: String,
    /// development (main), active (newest stable), maintained, or eol.
    status: &'static str,
    tags: i64,
    newest_tag: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/repositories/{repo}/lines", tag = "releases",
    summary = "A repository's release lines with their status",
    params(("repo" = String, Path, description = "the repository's name")),
    responses((status = 200, body = Page<LineOut>), (status = 404, body = super::error::ErrorDoc)),
    security(("bearer" = ["read"])))]
async fn lines(
    State(state): State<AppState>,
    caller: Caller,
    Path(repo): Path<String>,
) -> ApiResult<Json<Page<LineOut>>> {
    need(&caller, "read")?;
    let repo = crate::releases::repository_named(&state.pool, &repo)
        .await?
        .ok_or_else(|| ApiError::not_found("repository"))?;
    let items = crate::releases::lines_of(&state, &repo)
        .await?
        .into_iter()
        .map(|(name, status, tags, newest_tag)| LineOut {
            name,
            status,
            tags,
            newest_tag,
        })
        .collect();
    Ok(Json(Page { items, next: None }))
}

#[derive(Serialize, ToSchema)]
struct TagOut {
    name: String,
    line: String,
    commit: String,
    tagged_at: DateTime<Utc>,
    source: String,
    /// When a mistaken tag was retracted (tags are never edited or deleted).
    retracted_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct TagQuery {
    /// Only this line's tags, e.g. `release-v3.8` or `main`.
    line: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/repositories/{repo}/tags", tag = "releases",
    summary = "A repository's tags, newest version first; `?line=` for one line",
    params(("repo" = String, Path, description = "the repository's name"), TagQuery),
    responses((status = 200, body = Page<TagOut>), (status = 404, body = super::error::ErrorDoc)),
    security(("bearer" = ["read"])))]
async fn list_tags(
    State(state): State<AppState>,
    caller: Caller,
    Path(repo): Path<String>,
    query: Result<Query<TagQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page<TagOut>>> {
    need(&caller, "read")?;
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let repo = crate::releases::repository_named(&state.pool, &repo)
        .await?
        .ok_or_else(|| ApiError::not_found("repository"))?;
    let items = crate::releases::tags_of(&state.pool, &repo, q.line.as_deref())
        .await?
        .ok_or_else(|| ApiError::not_found("line"))?
        .into_iter()
        .map(|t| TagOut {
            name: t.name,
            line: t.line,
            commit: t.commit_sha,
            tagged_at: t.tagged_at,
            source: t.source,
            retracted_at: t.retracted_at,
        })
        .collect();
    Ok(Json(Page { items, next: None }))
}
