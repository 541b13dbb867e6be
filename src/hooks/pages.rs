//! `/admin/integrations`: chat and webhook destinations (their section comes from
//! `outbox::pages`), a webhook secret per repository (shown once, then masked), the payload
//! URL and events to select in GitHub, and the deliveries with their outcome and "process again".

use axum::{
    Router,
    extract::{Path, State},
    response::{Html, Redirect},
    routing::{get, post},
};
use leptos::prelude::*;
use serde_json::json;

use crate::{
    audit::{self, Actor, Change},
    auth::{
        cookies::Cookies,
        policy::{Action, require},
    },
    error::{AppError, AppResult},
    state::AppState,
    ui::{self, PageCtx},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/integrations", get(page))
        .route("/admin/integrations/github/{repo}/secret", post(new_secret))
        .route("/admin/integrations/deliveries/{id}/again", post(again))
}

const EVENTS: &str = "create, delete, push, release, deployment, deployment_status, pull_request";

async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    session: tower_sessions::Session,
) -> AppResult<Html<String>> {
    require(ctx.user.as_ref(), Action::ManageIntegrations)?;
    let repos = sqlx::query!(
        r#"select r.name, h.secret as "secret?", h.created_at as "created_at?: chrono::DateTime<chrono::Utc>"
           from repositories r left join github_hooks h on h.repository_id = r.id
           order by r.name limit 200"#
    )
    .fetch_all(&state.pool)
    .await?;
    let deliveries = sqlx::query!(
        r#"select d.id, d.event, d.status, d.outcome, d.received_at as "received_at: chrono::DateTime<chrono::Utc>",
                  r.name as "repository?"
           from github_deliveries d left join repositories r on r.id = d.repository_id
           order by d.id desc limit 50"#
    )
    .fetch_all(&state.pool)
    .await?;
    let shown = crate::auth::session::take_shown::<(String, String)>(&session, NEW_SECRET).await;
    let payload_url = format!(
        "{}/hooks/github",
        state
            .config
            .public_origin
            .clone()
            .unwrap_or_else(|| format!("http://{}", state.config.listen))
    );
    let repo_rows = repos
        .into_iter()
        .map(|r| {
            let masked = r.secret.as_deref().map(|s| format!("set, ends in …{}", &s[s.len().saturating_sub(4)..]));
            let action = format!("/admin/integrations/github/{}/secret", r.name);
            let label = if masked.is_some() { "Replace secret" } else { "Create secret" };
            view! {
                <tr>
                    <td data-label="Repository"><a href=format!("/releases/{}", r.name)>{r.name.clone()}</a></td>
                    <td data-label="Secret">{masked.unwrap_or_else(|| "not set".into())}</td>
                    <td data-label="">
                        <form method="post" action=action class="inline">
                            {ui::csrf_field(&ctx)}
                            <button type="submit" class="secondary small">{label}</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let delivery_rows = deliveries
        .into_iter()
        .map(|d| {
            let action = format!("/admin/integrations/deliveries/{}/again", d.id);
            let class = format!("badge delivery-{}", d.status);
            view! {
                <tr>
                    <td data-label="Received" class="nowrap">{ui::when(&ctx, d.received_at)}</td>
                    <td data-label="Event"><code>{d.event}</code></td>
                    <td data-label="Repository">{d.repository.unwrap_or_default()}</td>
                    <td data-label="Outcome"><span class=class>{d.status}</span>" "{d.outcome}</td>
                    <td data-label="">
                        <form method="post" action=action class="inline">
                            {ui::csrf_field(&ctx)}
                            <button type="submit" class="secondary small">"Process again"</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let fresh = shown.map(|(repo, secret)| {
        view! {
            <section class="card created" role="status">
                <h2>{format!("Webhook secret for {repo}")}</h2>
                <p>"Paste it into the GitHub webhook now: it is shown only this once."</p>
                <code class="copy">{secret}</code>
            </section>
        }
    });
    let no_deliveries = delivery_rows.is_empty();
    let destinations = crate::outbox::pages::destinations_section(&state, &ctx, &session).await?;
    let body = view! {
        <h1>"Integrations"</h1>
        <p class="muted"><a href="/admin">"← Admin"</a></p>
        {destinations}
        {fresh}
        <section class="card">
            <h2>"GitHub webhooks"</h2>
            <p>"In the repository's settings on GitHub, add a webhook: payload URL "<code>{payload_url}</code>
               ", content type "<code>"application/json"</code>", the secret below, and these events: "<code>{EVENTS}</code>"."</p>
            <div class="table-wrap"><table class="cards">
                <thead><tr><th>"Repository"</th><th>"Secret"</th><th></th></tr></thead>
                <tbody>{repo_rows}</tbody>
            </table></div>
        </section>
        <h2>"Deliveries"</h2>
        {if no_deliveries {
            ui::empty_state("No deliveries yet", "Verified GitHub deliveries appear here with what flowdeck did with them.").into_any()
        } else {
            view! { <div class="table-wrap"><table class="cards">
                <thead><tr><th>"Received"</th><th>"Event"</th><th>"Repository"</th><th>"Outcome"</th><th></th></tr></thead>
                <tbody>{delivery_rows}</tbody>
            </table></div> }.into_any()
        }}
    };
    Ok(ui::page(&ctx, "Integrations", body))
}

const NEW_SECRET: &str = "new_github_secret";

async fn new_secret(
    State(state): State<AppState>,
    ctx: PageCtx,
    actor: Actor,
    cookies: Cookies,
    session: tower_sessions::Session,
    Path(repo): Path<String>,
) -> AppResult<Redirect> {
    require(ctx.user.as_ref(), Action::ManageIntegrations)?;
    let repo = crate::releases::repository_named(&state.pool, &repo)
        .await?
        .ok_or(AppError::NotFound)?;
    let secret = crate::auth::token::random_token();
    let mut tx = state.pool.begin().await?;
    sqlx::query!(
        "insert into github_hooks (repository_id, secret, created_by) values ($1, $2, $3)
         on conflict (repository_id) do update
         set secret = excluded.secret, created_at = now(), created_by = excluded.created_by",
        repo.id,
        secret,
        actor.id.map(|a| a.0)
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "github.secret_set",
            target_type: "repository",
            target_id: repo.id.to_string(),
            before: None,
            after: Some(json!({ "repository": repo.name })),
        },
    )
    .await?;
    tx.commit().await?;
    crate::auth::session::show_once(&session, NEW_SECRET, (repo.name.clone(), secret)).await?;
    Ok(cookies.done(
        format!(
            "A new webhook secret for {}; the old one stops working.",
            repo.name
        ),
        "/admin/integrations",
    ))
}

async fn again(
    State(state): State<AppState>,
    ctx: PageCtx,
    cookies: Cookies,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    require(ctx.user.as_ref(), Action::ManageIntegrations)?;
    let n = sqlx::query!(
        "update github_deliveries set status = 'pending', leased_until = null where id = $1",
        id
    )
    .execute(&state.pool)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(AppError::NotFound);
    }
    Ok(cookies.done(
        "The delivery will be processed again in a moment.",
        "/admin/integrations",
    ))
}
