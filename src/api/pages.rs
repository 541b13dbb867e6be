//! `/profile/tokens` (a member's own tokens: create, shown once, revoke) and `/admin/tokens`
//! (every token, for an admin to revoke).

use axum::{
    Form, Router,
    extract::{Path, State},
    response::{Html, Redirect, Response},
    routing::{get, post},
};
use leptos::prelude::*;

use super::tokens::{self, DEFAULT_DAYS, SCOPES, TokenForm, TokenRow};
use crate::{
    audit::Actor,
    auth::{
        cookies::Cookies,
        model::CurrentUser,
        policy::{Action, require},
    },
    error::AppResult,
    state::AppState,
    ui::{self, PageCtx, form::FormErrors},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/profile/tokens", get(mine).post(create))
        .route("/profile/tokens/{id}/revoke", post(revoke))
        .route("/admin/tokens", get(all).post(create_service))
        .route("/api", get(reference))
}

/// `/api`: the API reference, rendered on the server from the OpenAPI document: every endpoint
/// with its scope and a `curl` example.
async fn reference(ctx: PageCtx) -> Html<String> {
    let doc = serde_json::to_value(super::openapi()).unwrap_or_default();
    let mut rows = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in ["get", "post"] {
                let op = &item[method];
                if op.is_null() {
                    continue;
                }
                let summary = op["summary"].as_str().unwrap_or("").to_string();
                let scopes: Vec<String> = op["security"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["bearer"].as_array())
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect();
                let example = example(method, path, op, &doc);
                rows.push(view! {
                    <section class="card endpoint">
                        <h2><code>{format!("{} {path}", method.to_uppercase())}</code></h2>
                        <p>{summary}</p>
                        <p class="muted">{if scopes.is_empty() { "any valid token".to_string() } else { format!("scope: {}", scopes.join(", ")) }}</p>
                        <pre class="cmd">{example}</pre>
                    </section>
                });
            }
        }
    }
    let scopes = SCOPES
        .iter()
        .map(|(k, what)| view! { <li><code>{*k}</code>" — "{*what}</li> })
        .collect::<Vec<_>>();
    let body = view! {
        <h1>"API reference"</h1>
        <p>"The JSON API at "<code>"/api/v1/"</code>" takes a bearer token from "<a href="/profile/tokens">"your tokens"</a>
            " (never a browser session). The machine-readable description is "<a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a>" (OpenAPI 3.1)."</p>
        <ul>
            <li>"Errors are JSON: "<code>"{\"error\": {\"code\": \"invalid\", \"message\": \"…\", \"fields\": {\"version\": \"…\"}}}"</code>"; "<code>"code"</code>" is stable."</li>
            <li>"Lists return "<code>"{\"items\": […], \"next\": \"…\"}"</code>"; pass "<code>"next"</code>" as "<code>"?after="</code>" for the next page."</li>
            <li>"Every write accepts "<code>"Idempotency-Key"</code>": the same key with the same body replays the first response (24 h); with another body it is refused."</li>
            <li>"Too many requests a second with one token answer 429 with "<code>"Retry-After"</code>"."</li>
            <li>"From a shell or CI: "<code>"flowdeck deploy record --service api --env prod --version v3.8.1"</code>" with "<code>"FLOWDECK_URL"</code>" and "<code>"FLOWDECK_TOKEN"</code>" set."</li>
        </ul>
        <h2>"Scopes"</h2>
        <ul>{scopes}</ul>
        {rows}
    };
    ui::page(&ctx, "API reference", body)
}

/// A `curl` line for an operation, with a body built from its request schema's required fields.
fn example(method: &str, path: &str, op: &serde_json::Value, doc: &serde_json::Value) -> String {
    let url = format!(
        "$FLOWDECK_URL{}",
        path.replace("{id}", "42").replace("{repo}", "server")
    );
    let mut cmd = format!("curl -H \"Authorization: Bearer $FLOWDECK_TOKEN\" {url}");
    if method == "post" {
        let schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
            .map(|name| &doc["components"]["schemas"][name]);
        let mut body = serde_json::Map::new();
        if let Some(schema) = schema {
            for field in schema["required"].as_array().into_iter().flatten() {
                let f = field.as_str().unwrap_or("");
                let v = match f {
                    "service" => "api",
                    "environment" => "prod",
                    "version" => "v3.8.1",
                    "status" => "succeeded",
                    "tag" => "v3.8.1",
                    "state" => "online",
                    "severity" => "sev2",
                    "title" => "Logins fail",
                    "note" => "Restarted the pods",
                    _ => "…",
                };
                body.insert(f.to_string(), serde_json::Value::String(v.to_string()));
            }
        }
        cmd = format!(
            "curl -X POST -H \"Authorization: Bearer $FLOWDECK_TOKEN\" \\\n  -H \"Content-Type: application/json\" -H \"Idempotency-Key: $(uuidgen)\" \\\n  -d '{}' {url}",
            serde_json::Value::Object(body)
        );
    }
    cmd
}

fn table(ctx: &PageCtx, rows: &[TokenRow], show_owner: bool) -> AnyView {
    if rows.is_empty() {
        return ui::empty_state("No tokens", "Create one for a CI job or a script below.")
            .into_any();
    }
    let trs = rows
        .iter()
        .map(|t| {
            let state = if t.revoked_at.is_some() {
                view! { <span class="badge badge-off">"revoked"</span> }.into_any()
            } else if t.expires_at <= ctx.now {
                view! { <span class="badge badge-off">"expired"</span> }.into_any()
            } else {
                let action = format!("/profile/tokens/{}/revoke", t.id);
                view! {
                    <span>"expires "{ui::when(ctx, t.expires_at)}</span>
                    <form method="post" action=action class="inline">
                        {ui::csrf_field(ctx)}
                        <button type="submit" class="danger small">"Revoke"</button>
                    </form>
                }
                .into_any()
            };
            let used = match t.last_used_at {
                Some(at) => view! { {ui::when(ctx, at)}<br/><small class="muted">{t.last_used_ip.clone().unwrap_or_default()}</small> }.into_any(),
                None => view! { <span class="muted">"never"</span> }.into_any(),
            };
            let owner = show_owner.then(|| view! { <td data-label="Owner">{t.owner.clone()}</td> });
            view! {
                <tr>
                    <td data-label="Name">{t.name.clone()}<br/><code>{format!("{}…", t.prefix)}</code></td>
                    {owner}
                    <td data-label="Scopes">{t.scopes.join(", ")}</td>
                    <td data-label="Created" class="nowrap">{ui::when(ctx, t.created_at)}</td>
                    <td data-label="Last used">{used}</td>
                    <td data-label="State">{state}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let owner_head = show_owner.then(|| view! { <th>"Owner"</th> });
    view! {
        <div class="table-wrap"><table class="cards">
            <thead><tr><th>"Name"</th>{owner_head}<th>"Scopes"</th><th>"Created"</th><th>"Last used"</th><th>"State"</th></tr></thead>
            <tbody>{trs}</tbody>
        </table></div>
    }
    .into_any()
}

async fn render(
    state: &AppState,
    ctx: &PageCtx,
    user: &CurrentUser,
    f: &TokenForm,
    errs: &FormErrors,
    secret: Option<String>,
) -> AppResult<Html<String>> {
    let rows = tokens::list(&state.pool, Some(user.id)).await?;
    let shown = secret.map(|s| {
        view! {
            <section class="card created" role="status">
                <h2>"Your new token"</h2>
                <p>"Copy it now: it is shown only this once and flowdeck keeps only its hash."</p>
                <code class="copy">{s}</code>
                <p class="hint">"Use it as "<code>"Authorization: Bearer fdk_…"</code>" or "<code>"FLOWDECK_TOKEN"</code>" for the command line."</p>
            </section>
        }
    });
    let checks = SCOPES
        .iter()
        .map(|(k, what)| {
            let id = format!("scope-{}", k.replace(':', "-"));
            let checked = f.scopes.iter().any(|s| s == k);
            let for_id = id.clone();
            view! {
                <label for=for_id class="check-inline">
                    <input type="checkbox" id=id name="scopes" value=*k checked=checked/>
                    <code>{*k}</code>" "<small class="muted">{*what}</small>
                </label>
            }
        })
        .collect::<Vec<_>>();
    let days = if f.days.is_empty() {
        DEFAULT_DAYS.to_string()
    } else {
        f.days.clone()
    };
    let scope_err = errs
        .get("scopes")
        .cloned()
        .map(|e| view! { <p class="field-error">{e}</p> });
    let body = view! {
        <h1>"API tokens"</h1>
        <p class="muted">"Tokens let CI jobs and scripts use the JSON API ("<code>"/api/v1/"</code>") as you, limited to their scopes. "<a href="/profile">"← Profile"</a></p>
        {shown}
        {table(ctx, &rows, false)}
        <section class="card spaced">
            <h2>"Create a token"</h2>
            <form method="post" action="/profile/tokens">
                {ui::csrf_field(ctx)}
                {ui::field("Name", "name", "text", &f.name, errs.get("name"), Some("where it is used, e.g. “CI deploy job”"))}
                {ui::field("Valid for (days)", "days", "text", &days, errs.get("days"), Some("at most 365"))}
                <fieldset class="field"><legend>"Scopes"</legend>{checks}{scope_err}</fieldset>
                <button type="submit">"Create token"</button>
            </form>
        </section>
    };
    Ok(ui::page(ctx, "API tokens", body))
}

/// Where a new token's secret waits, in the server-side session, for the one page that shows it.
const NEW_SECRET: &str = "new_api_token";

async fn mine(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    session: tower_sessions::Session,
) -> AppResult<Html<String>> {
    let f = TokenForm {
        scopes: vec!["read".into()],
        ..Default::default()
    };
    // Taken out as it is shown: a reload does not show it again.
    let secret = crate::auth::session::take_shown::<String>(&session, NEW_SECRET).await;
    render(&state, &ctx, &user, &f, &FormErrors::default(), secret).await
}

async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    session: tower_sessions::Session,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    use axum::response::IntoResponse;
    let mut f = TokenForm::default();
    for (k, v) in pairs {
        match k.as_str() {
            "name" => f.name = v,
            "days" => f.days = v,
            "scopes" => f.scopes.push(v),
            _ => {}
        }
    }
    match tokens::create(&state, &actor, &user, &f).await? {
        // Post/redirect/get: the secret waits in the server-side session for the next page,
        // which takes it out as it shows it (a reload neither shows it again nor makes another).
        Ok(secret) => {
            crate::auth::session::show_once(&session, NEW_SECRET, secret).await?;
            let msg = format!("Token “{}” created.", f.name.trim());
            Ok(cookies.done(msg, "/profile/tokens").into_response())
        }
        Err(errs) => Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            render(&state, &ctx, &user, &f, &errs, None).await?,
        )
            .into_response()),
    }
}

async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let msg = tokens::revoke(&state, &actor, &user, id).await?;
    let back = if user.role == crate::auth::model::Role::Admin {
        "/admin/tokens"
    } else {
        "/profile/tokens"
    };
    Ok(cookies.done(msg, back))
}

async fn all(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: tower_sessions::Session,
) -> AppResult<Html<String>> {
    let secret = crate::auth::session::take_shown::<String>(&session, NEW_SECRET).await;
    render_all(
        &state,
        &ctx,
        &tokens::ServiceTokenForm::default(),
        &FormErrors::default(),
        secret,
    )
    .await
}

async fn render_all(
    state: &AppState,
    ctx: &PageCtx,
    f: &tokens::ServiceTokenForm,
    errs: &FormErrors,
    secret: Option<String>,
) -> AppResult<Html<String>> {
    require(ctx.user.as_ref(), Action::ViewAdmin)?;
    let rows = tokens::list(&state.pool, None).await?;
    let shown = secret.map(|s| {
        view! {
            <section class="card created" role="status">
                <h2>"The new service token"</h2>
                <p>"Copy it now into the CI secret store: it is shown only this once."</p>
                <code class="copy">{s}</code>
            </section>
        }
    });
    let checks = SCOPES
        .iter()
        .map(|(k, what)| {
            let id = format!("svc-scope-{}", k.replace(':', "-"));
            let for_id = id.clone();
            let checked = f.token.scopes.iter().any(|s| s == k);
            view! {
                <label for=for_id class="check-inline">
                    <input type="checkbox" id=id name="scopes" value=*k checked=checked/>
                    <code>{*k}</code>" "<small class="muted">{*what}</small>
                </label>
            }
        })
        .collect::<Vec<_>>();
    let lead = f.role == "lead";
    let general = (!errs.is_empty()).then(
        || view! { <div class="form-error" role="alert">"Please correct the marked fields."</div> },
    );
    let scope_err = errs
        .get("scopes")
        .cloned()
        .map(|e| view! { <p class="field-error">{e}</p> });
    let role_err = errs
        .get("role")
        .cloned()
        .map(|e| view! { <p class="field-error">{e}</p> });
    let body = view! {
        <h1>"Every API token"</h1>
        <p class="muted">"Revoke a token that leaked or that nobody uses; it stops working at once. "<a href="/admin">"← Admin"</a></p>
        {shown}
        {table(ctx, &rows, true)}
        <section class="card spaced">
            <h2>"Create a service token"</h2>
            <p class="hint">"A token that acts as a named service (a CI job, a deploy bot) instead of a person. The service account is made on first use; it never logs in and is not on the team board."</p>
            {general}
            <form method="post" action="/admin/tokens">
                {ui::csrf_field(ctx)}
                {ui::field_in("svc", "Service", "service", "text", &f.service, errs.get("service"), Some("its handle, e.g. ci-bot"))}
                <div class="field"><label for="svc-role">"Acts as"</label>
                    <select id="svc-role" name="role">
                        <option value="member" selected=!lead>"member"</option>
                        <option value="lead" selected=lead>"lead (records tags, adds services)"</option>
                    </select>{role_err}</div>
                {ui::field_in("svc", "Token name", "name", "text", &f.token.name, errs.get("name"), None)}
                {ui::field_in("svc", "Valid for (days)", "days", "text", if f.token.days.is_empty() { "90" } else { &f.token.days }, errs.get("days"), Some("at most 365"))}
                <fieldset class="field"><legend>"Scopes"</legend>{checks}{scope_err}</fieldset>
                <button type="submit">"Create service token"</button>
            </form>
        </section>
    };
    Ok(ui::page(ctx, "API tokens", body))
}

async fn create_service(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    session: tower_sessions::Session,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    use axum::response::IntoResponse;
    let mut f = tokens::ServiceTokenForm::default();
    for (k, v) in pairs {
        match k.as_str() {
            "service" => f.service = v,
            "role" => f.role = v,
            "name" => f.token.name = v,
            "days" => f.token.days = v,
            "scopes" => f.token.scopes.push(v),
            _ => {}
        }
    }
    match tokens::create_service(&state, &actor, &user, &f).await? {
        Ok((service, secret)) => {
            crate::auth::session::show_once(&session, NEW_SECRET, secret).await?;
            let msg = format!("Token “{}” created for {service}.", f.token.name.trim());
            Ok(cookies.done(msg, "/admin/tokens").into_response())
        }
        Err(errs) => Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            render_all(&state, &ctx, &f, &errs, None).await?,
        )
            .into_response()),
    }
}
