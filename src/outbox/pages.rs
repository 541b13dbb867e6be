//! Notification pages: the chat and webhook destinations section of `/admin/integrations` (add,
//! route events, send a test, pause, delete, dead rows with retry), a destination's page, the
//! member's `/inbox`, and `/profile/notifications` (muted personal events, quiet hours).

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::NaiveTime;
use leptos::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::{
    model::{self, Event, Purpose},
    store,
};
use crate::{
    audit::{self, Actor, Change},
    auth::{
        cookies::Cookies,
        model::CurrentUser,
        policy::{Action, require},
    },
    error::{AppError, AppResult},
    state::AppState,
    ui::{self, PageCtx, form::FormErrors},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/integrations/destinations", post(create))
        .route("/admin/integrations/destinations/{id}", get(show))
        .route("/admin/integrations/destinations/{id}/routes", post(routes))
        .route("/admin/integrations/destinations/{id}/test", post(test))
        .route(
            "/admin/integrations/destinations/{id}/enabled",
            post(enable),
        )
        .route("/admin/integrations/destinations/{id}/delete", post(delete))
        .route("/admin/integrations/destinations/{id}/retry", post(retry))
        .route("/inbox", get(inbox))
        .route("/profile/notifications", get(prefs_page).post(save_prefs))
}

/// What the add-a-destination form holds.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DestinationForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub purpose: String,
}

const NEW_SECRET: &str = "new_destination_secret";
/// After this many failures in a row a destination shows as unhealthy.
const UNHEALTHY_AFTER: i32 = 3;

fn health(d: &store::DestinationRow) -> (&'static str, &'static str) {
    if !d.enabled {
        ("paused", "badge")
    } else if d.consecutive_failures >= UNHEALTHY_AFTER {
        ("unhealthy", "badge bad")
    } else if d.last_success_at.is_some() {
        ("healthy", "badge good")
    } else {
        ("not used yet", "badge")
    }
}

/// The "Chat and webhooks" section of `/admin/integrations`: the destinations, the signing
/// secret of one just added (shown once), and the add form.
pub async fn destinations_section(
    state: &AppState,
    ctx: &PageCtx,
    session: &tower_sessions::Session,
) -> AppResult<AnyView> {
    let rows = store::destinations(&state.pool).await?;
    let shown = crate::auth::session::take_shown::<(String, String)>(session, NEW_SECRET).await;
    let fresh = shown.map(|(name, secret)| {
        view! {
            <section class="card created" role="status">
                <h3>{format!("Signing secret for {name}")}</h3>
                <p>"Give it to the receiver now: it is shown only this once. Each request carries "
                   <code>"X-Flowdeck-Signature-256: sha256=<HMAC-SHA256 of the body>"</code>"."</p>
                <code class="copy">{secret}</code>
            </section>
        }
    });
    let items = rows
        .iter()
        .map(|d| {
            let (label, class) = health(d);
            let href = format!("/admin/integrations/destinations/{}", d.id);
            let kind = if d.kind == "slack" {
                "chat"
            } else {
                "signed webhook"
            };
            let events = if d.events.is_empty() {
                "no events".to_string()
            } else {
                format!("{} events", d.events.len())
            };
            let error = (d.consecutive_failures > 0 && !d.last_error.is_empty()).then(
                || view! { <p class="field-error">{format!("Last error: {}", d.last_error)}</p> },
            );
            view! {
                <tr>
                    <td data-label="Destination"><a href=href>{d.name.clone()}</a>
                        <br/><small class="muted">{model::mask_url(&d.url)}</small></td>
                    <td data-label="Kind">{kind}</td>
                    <td data-label="Events">{events}</td>
                    <td data-label="Health"><span class=class>{label}</span>{error}</td>
                    <td data-label="Queue">{format!("{} waiting, {} dead", d.pending, d.dead)}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let empty = items.is_empty();
    Ok(view! {
        <section class="card" id="destinations">
            <h2>"Chat and webhooks"</h2>
            <p>"Notifications leave through these destinations, each event to the destinations routed for it; a
               receiver that is down gets them later, in order."</p>
            {fresh}
            {if empty {
                ui::empty_state("No destinations yet", "Add the team's chat channels below; nothing is sent until then.").into_any()
            } else {
                view! { <div class="table-wrap"><table class="cards">
                    <thead><tr><th>"Destination"</th><th>"Kind"</th><th>"Events"</th><th>"Health"</th><th>"Queue"</th></tr></thead>
                    <tbody>{items}</tbody>
                </table></div> }.into_any()
            }}
            {add_form(ctx, &DestinationForm::default(), &FormErrors::default())}
        </section>
    }
    .into_any())
}

/// The add-a-destination form (on the integrations page, and alone when a submission is refused).
fn add_form(ctx: &PageCtx, form: &DestinationForm, errs: &FormErrors) -> impl IntoView + use<> {
    let purposes = Purpose::ALL
        .into_iter()
        .map(|p| {
            let selected = form.purpose == p.key();
            view! { <option value=p.key() selected=selected>{p.label()}</option> }
        })
        .collect::<Vec<_>>();
    let kinds = [
        (
            "slack",
            "Chat: Slack, Mattermost or Discord (…/slack) incoming webhook",
        ),
        ("webhook", "Signed JSON webhook"),
    ]
    .map(|(k, label)| {
        let selected = form.kind == k;
        view! { <option value=k selected=selected>{label}</option> }
    });
    let general = errs
        .get("form")
        .cloned()
        .map(|e| view! { <p class="field-error" role="alert">{e}</p> });
    view! {
        <h3>"Add a destination"</h3>
            <form method="post" action="/admin/integrations/destinations" class="stack">
                {ui::csrf_field(ctx)}
                {general}
                {ui::field_in("dest", "Name", "name", "text", &form.name, errs.get("name"), Some("e.g. #deployments"))}
                <div class="field">
                    <label for="dest-kind">"Kind"</label>
                    <select id="dest-kind" name="kind">{kinds}</select>
                </div>
                {ui::field_in("dest", "Webhook URL", "url", "url", &form.url, errs.get("url"),
                    Some("Kept secret: shown masked after saving, never logged."))}
                <div class="field">
                    <label for="dest-purpose">"Send it"</label>
                    <select id="dest-purpose" name="purpose">{purposes}</select>
                    <p class="hint">"The events the team's agreement sends to that channel; change them on the destination's page."</p>
                </div>
                <button type="submit">"Add destination"</button>
            </form>
    }
}

fn parse_form(f: &DestinationForm) -> Result<(String, &'static str, String, Purpose), FormErrors> {
    let mut errs = FormErrors::default();
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        errs.add(
            "name",
            "Give it a name of 1–64 characters, e.g. #deployments.",
        );
    }
    let kind = match f.kind.as_str() {
        "slack" => "slack",
        "webhook" => "webhook",
        _ => {
            errs.add("form", "Choose a kind.");
            "slack"
        }
    };
    let url = match ui::form::http_url(&f.url, "webhook") {
        Ok(u) if u.is_empty() => {
            errs.add(
                "url",
                "Paste the webhook URL the chat or receiver gave you.",
            );
            String::new()
        }
        Ok(u) => u,
        Err(e) => {
            errs.add("url", e);
            String::new()
        }
    };
    let purpose = errs.check("form", Purpose::parse(&f.purpose));
    match (purpose, errs.is_empty()) {
        (Some(p), true) => Ok((name.to_string(), kind, url, p)),
        _ => Err(errs),
    }
}

async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    actor: Actor,
    cookies: Cookies,
    session: tower_sessions::Session,
    Form(f): Form<DestinationForm>,
) -> AppResult<Response> {
    require(ctx.user.as_ref(), Action::ManageIntegrations)?;
    let (name, kind, url, purpose) = match parse_form(&f) {
        Ok(v) => v,
        Err(errs) => return refused(&ctx, &f, &errs).await,
    };
    let secret = if kind == "webhook" {
        crate::auth::token::random_token()
    } else {
        String::new()
    };
    let events: Vec<&str> = purpose.events().iter().map(|e| e.key()).collect();
    let mut tx = state.pool.begin().await?;
    let by = actor.id.map_or(0, |a| a.0);
    let Some(id) =
        store::create_destination(&mut tx, &name, kind, &url, &secret, by, &events).await?
    else {
        let errs = FormErrors::field(
            "name",
            "A destination with this name exists; choose another name.",
        );
        return refused(&ctx, &f, &errs).await;
    };
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "destination.created",
            target_type: "destination",
            target_id: id.to_string(),
            before: None,
            // The URL and the secret are secrets: the audit log names the host only.
            after: Some(json!({ "name": name, "kind": kind, "url": model::mask_url(&url), "events": events })),
        },
    )
    .await?;
    tx.commit().await?;
    if kind == "webhook" {
        crate::auth::session::show_once(&session, NEW_SECRET, (name.clone(), secret)).await?;
    }
    Ok(cookies
        .done(
            format!("Destination {name} added."),
            "/admin/integrations#destinations",
        )
        .into_response())
}

async fn refused(ctx: &PageCtx, f: &DestinationForm, errs: &FormErrors) -> AppResult<Response> {
    let body = view! {
        <h1>"Add a destination"</h1>
        <p class="muted"><a href="/admin/integrations#destinations">"← Integrations"</a></p>
        <section class="card">{add_form(ctx, f, errs)}</section>
    };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        ui::page(ctx, "Add a destination", body),
    )
        .into_response())
}

async fn destination(state: &AppState, id: i64) -> AppResult<(store::DestinationRow, String)> {
    store::destination(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    require(ctx.user.as_ref(), Action::ManageIntegrations)?;
    let (d, _) = destination(&state, id).await?;
    let dead = store::dead(&state.pool, id, 50).await?;
    let (label, class) = health(&d);
    let base = format!("/admin/integrations/destinations/{id}");
    let checks = Event::ROUTABLE
        .into_iter()
        .map(|e| {
            let checked = d.events.iter().any(|x| x == e.key());
            let fid = format!("ev-{}", e.key().replace('.', "-"));
            view! {
                <label class="check" for=fid.clone()>
                    <input type="checkbox" id=fid.clone() name="events" value=e.key() checked=checked/>
                    " "{e.label()}" "<small class="muted">{format!("({})", e.purpose().key())}</small>
                </label>
            }
        })
        .collect::<Vec<_>>();
    let dead_rows = dead
        .into_iter()
        .map(|r| {
            let action = format!("{base}/retry");
            view! {
                <tr>
                    <td data-label="Created" class="nowrap">{ui::when(&ctx, r.created_at)}</td>
                    <td data-label="Event"><code>{r.event}</code></td>
                    <td data-label="Message">{r.text}</td>
                    <td data-label="Last error">{format!("{} (after {} attempts)", r.last_error, r.attempts)}</td>
                    <td data-label="">
                        <form method="post" action=action class="inline">
                            {ui::csrf_field(&ctx)}
                            <input type="hidden" name="delivery" value=r.id.to_string()/>
                            <button type="submit" class="secondary small">"Retry"</button>
                        </form>
                    </td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let no_dead = dead_rows.is_empty();
    let (toggle, toggle_label) = if d.enabled {
        ("off", "Pause")
    } else {
        ("on", "Resume")
    };
    let last = match (d.last_success_at, d.last_failure_at) {
        (Some(ok), _) => format!("Last delivered {}.", ui::when_text(&ctx, ok)),
        (None, Some(_)) => "Nothing delivered yet.".to_string(),
        (None, None) => "Nothing sent yet.".to_string(),
    };
    let error = (!d.last_error.is_empty() && d.consecutive_failures > 0).then(|| {
        view! { <p class="field-error">{format!("{} failures in a row; last error: {}", d.consecutive_failures, d.last_error)}</p> }
    });
    let paused = d
        .paused_until
        .filter(|t| *t > ctx.now)
        .map(|t| view! { <p class="muted">{format!("Waiting until {} (the receiver asked to slow down).", ui::when_text(&ctx, t))}</p> });
    let kind = if d.kind == "slack" {
        "Chat (Slack-compatible)"
    } else {
        "Signed JSON webhook"
    };
    let body = view! {
        <h1>{d.name.clone()}</h1>
        <p class="muted"><a href="/admin/integrations#destinations">"← Integrations"</a></p>
        <section class="card">
            <p>{kind}" · "<code>{model::mask_url(&d.url)}</code>" · "<span class=class>{label}</span></p>
            <p>{last}" "{format!("{} waiting, {} dead.", d.pending, d.dead)}</p>
            {error}
            {paused}
            <div class="actions">
                <form method="post" action=format!("{base}/test") class="inline">
                    {ui::csrf_field(&ctx)}
                    <button type="submit">"Send a test message"</button>
                </form>
                <form method="post" action=format!("{base}/enabled") class="inline">
                    {ui::csrf_field(&ctx)}
                    <input type="hidden" name="enabled" value=toggle/>
                    <button type="submit" class="secondary">{toggle_label}</button>
                </form>
                <form method="post" action=format!("{base}/delete") class="inline">
                    {ui::csrf_field(&ctx)}
                    <button type="submit" class="danger">"Delete"</button>
                </form>
            </div>
        </section>
        <section class="card">
            <h2>"Events sent here"</h2>
            <form method="post" action=format!("{base}/routes") class="stack">
                {ui::csrf_field(&ctx)}
                <fieldset class="checks"><legend class="sr-only">"Events"</legend>{checks}</fieldset>
                <button type="submit">"Save events"</button>
            </form>
        </section>
        <h2>"Dead notifications"</h2>
        {if no_dead {
            ui::empty_state("None", "Notifications that could not be delivered after every attempt show here with their last error.").into_any()
        } else {
            view! {
                <form method="post" action=format!("{base}/retry") class="inline">
                    {ui::csrf_field(&ctx)}
                    <button type="submit" class="secondary">"Retry all"</button>
                </form>
                <div class="table-wrap"><table class="cards">
                    <thead><tr><th>"Created"</th><th>"Event"</th><th>"Message"</th><th>"Last error"</th><th></th></tr></thead>
                    <tbody>{dead_rows}</tbody>
                </table></div>
            }.into_any()
        }}
    };
    Ok(ui::page(&ctx, &d.name, body))
}

async fn routes(
    State(state): State<AppState>,
    ctx: PageCtx,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Redirect> {
    require(ctx.user.as_ref(), Action::ManageIntegrations)?;
    let (d, _) = destination(&state, id).await?;
    let mut events: Vec<&str> = Vec::new();
    for (k, v) in &pairs {
        if k == "events" {
            let e = Event::parse(v)
                .filter(|e| *e != Event::Test)
                .ok_or_else(|| {
                    AppError::BadRequest(format!("“{v}” is not an event flowdeck sends."))
                })?;
            if !events.contains(&e.key()) {
                events.push(e.key());
            }
        }
    }
    let mut tx = state.pool.begin().await?;
    store::set_routes(&mut tx, id, &events).await?;
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "destination.routes_set",
            target_type: "destination",
            target_id: id.to_string(),
            before: Some(json!({ "events": d.events })),
            after: Some(json!({ "events": events })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(cookies.done(
        format!("{} receives {} events now.", d.name, events.len()),
        &format!("/admin/integrations/destinations/{id}"),
    ))
}

async fn test(
    State(state): State<AppState>,
    ctx: PageCtx,
    cookies: Cookies,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    require(ctx.user.as_ref(), Action::ManageIntegrations)?;
    let (d, secret) = destination(&state, id).await?;
    let who = ctx
        .user
        .as_ref()
        .map_or("an admin", |u| u.display_name.as_str());
    let text = format!("Test message from flowdeck, sent by {who}: this destination works.");
    let result = super::sender::send_test(&state, &d.kind, &d.url, &secret, &text).await;
    store::tested(
        &state.pool,
        id,
        result.as_ref().err().map_or("", String::as_str),
    )
    .await?;
    let back = format!("/admin/integrations/destinations/{id}");
    Ok(match result {
        Ok(()) => cookies.done(format!("Test message delivered to {}.", d.name), &back),
        Err(e) => {
            let msg = format!("The test message to {} failed: {e}.", d.name);
            cookies.flash(ui::Flash::error(msg));
            Redirect::to(&back)
        }
    })
}

#[derive(Deserialize)]
struct EnabledForm {
    enabled: String,
}

async fn enable(
    State(state): State<AppState>,
    ctx: PageCtx,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
    Form(f): Form<EnabledForm>,
) -> AppResult<Redirect> {
    require(ctx.user.as_ref(), Action::ManageIntegrations)?;
    let on = f.enabled == "on";
    let mut tx = state.pool.begin().await?;
    if !store::set_enabled(&mut tx, id, on).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: if on {
                "destination.resumed"
            } else {
                "destination.paused"
            },
            target_type: "destination",
            target_id: id.to_string(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    let msg = if on {
        "Resumed: waiting notifications go out now."
    } else {
        "Paused: notifications wait until it is resumed."
    };
    Ok(cookies.done(msg, &format!("/admin/integrations/destinations/{id}")))
}

async fn delete(
    State(state): State<AppState>,
    ctx: PageCtx,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    require(ctx.user.as_ref(), Action::ManageIntegrations)?;
    let mut tx = state.pool.begin().await?;
    let name = store::delete_destination(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "destination.deleted",
            target_type: "destination",
            target_id: id.to_string(),
            before: Some(json!({ "name": name })),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(cookies.done(
        format!("Destination {name} deleted, with its waiting notifications."),
        "/admin/integrations#destinations",
    ))
}

#[derive(Deserialize)]
struct RetryForm {
    #[serde(default)]
    delivery: Option<i64>,
}

async fn retry(
    State(state): State<AppState>,
    ctx: PageCtx,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
    Form(f): Form<RetryForm>,
) -> AppResult<Redirect> {
    require(ctx.user.as_ref(), Action::ManageIntegrations)?;
    let mut tx = state.pool.begin().await?;
    let n = store::retry_dead(&mut tx, id, f.delivery).await?;
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "destination.retried",
            target_type: "destination",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "deliveries": n })),
        },
    )
    .await?;
    tx.commit().await?;
    let msg = match n {
        0 => "Nothing to retry.".to_string(),
        1 => "1 notification will be sent again.".to_string(),
        n => format!("{n} notifications will be sent again."),
    };
    Ok(cookies.done(msg, &format!("/admin/integrations/destinations/{id}")))
}

#[derive(Deserialize)]
struct InboxQuery {
    #[serde(default)]
    before: Option<i64>,
}

const INBOX_PAGE: i64 = 50;

async fn inbox(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    Query(q): Query<InboxQuery>,
) -> AppResult<Html<String>> {
    let rows = store::inbox_page(&state.pool, user.id.0, q.before, INBOX_PAGE).await?;
    let more = (rows.len() as i64 == INBOX_PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let items = rows
        .into_iter()
        .map(|r| {
            let class = if r.read {
                "inbox-item"
            } else {
                "inbox-item unread"
            };
            let label = Event::parse(&r.event).map_or("", Event::label);
            let new = (!r.read).then(|| view! { <span class="badge">"new"</span>" " });
            view! {
                <li class=class>
                    {new}<a href=r.link>{r.text}</a>
                    <br/><small class="muted">{label}" · "{ui::when(&ctx, r.created_at)}</small>
                </li>
            }
        })
        .collect::<Vec<_>>();
    let empty = items.is_empty();
    let next = more.map(|id| view! { <p><a href=format!("/inbox?before={id}")>"Older"</a></p> });
    let body = view! {
        <h1>"Inbox"</h1>
        <p class="muted">"What was addressed to you: reviews asked of you, verdicts and decisions on your docs, your leave decided. Kept 90 days. "
            <a href="/profile/notifications">"Notification settings"</a></p>
        {if empty {
            ui::empty_state("Nothing here", "When someone asks you for a review or decides on your doc or leave, it shows here.").into_any()
        } else {
            view! { <ul class="inbox">{items}</ul> }.into_any()
        }}
        {next}
    };
    Ok(ui::page(&ctx, "Inbox", body))
}

#[derive(Clone, Debug, Default)]
struct PrefsForm {
    wanted: Vec<String>,
    quiet_from: String,
    quiet_until: String,
}

fn prefs_view(ctx: &PageCtx, f: &PrefsForm, errs: &FormErrors) -> Html<String> {
    let checks = Event::personal_events()
        .map(|e| {
            let checked = f.wanted.iter().any(|w| w == e.key());
            let fid = format!("pref-{}", e.key().replace('.', "-"));
            view! {
                <label class="check" for=fid.clone()>
                    <input type="checkbox" id=fid.clone() name="wanted" value=e.key() checked=checked/>" "{e.label()}
                </label>
            }
        })
        .collect::<Vec<_>>();
    let body = view! {
        <h1>"Notifications"</h1>
        <p class="muted"><a href="/profile">"← Profile"</a>" · "<a href="/inbox">"Inbox"</a></p>
        <form method="post" action="/profile/notifications" class="card stack">
            {ui::csrf_field(ctx)}
            <fieldset class="checks">
                <legend>"In my inbox"</legend>
                {checks}
            </fieldset>
            <fieldset>
                <legend>"Quiet hours"</legend>
                <p class="hint">"In your own time zone. Chat messages about you wait until they end; your inbox is immediate. Leave both empty for none."</p>
                {ui::field_in("pref", "From", "quiet_from", "time", &f.quiet_from, errs.get("quiet_from"), Some("e.g. 22:00"))}
                {ui::field_in("pref", "Until", "quiet_until", "time", &f.quiet_until, errs.get("quiet_until"), Some("e.g. 07:00"))}
            </fieldset>
            <button type="submit">"Save"</button>
        </form>
    };
    ui::page(ctx, "Notifications", body)
}

async fn prefs_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
) -> AppResult<Html<String>> {
    let p = store::prefs(&state.pool, user.id.0).await?;
    let f = PrefsForm {
        wanted: Event::personal_events()
            .filter(|e| !p.muted.iter().any(|m| m == e.key()))
            .map(|e| e.key().to_string())
            .collect(),
        quiet_from: p
            .quiet_from
            .map(|t| t.format("%H:%M").to_string())
            .unwrap_or_default(),
        quiet_until: p
            .quiet_until
            .map(|t| t.format("%H:%M").to_string())
            .unwrap_or_default(),
    };
    Ok(prefs_view(&ctx, &f, &FormErrors::default()))
}

fn parse_time(raw: &str) -> Result<Option<NaiveTime>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveTime::parse_from_str(raw, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
        .map(Some)
        .map_err(|_| format!("“{raw}” is not a time; write it like 22:00."))
}

async fn save_prefs(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let mut f = PrefsForm::default();
    for (k, v) in pairs {
        match k.as_str() {
            "wanted" => f.wanted.push(v),
            "quiet_from" => f.quiet_from = v,
            "quiet_until" => f.quiet_until = v,
            _ => {}
        }
    }
    let mut errs = FormErrors::default();
    let from = errs
        .check("quiet_from", parse_time(&f.quiet_from))
        .flatten();
    let until = errs
        .check("quiet_until", parse_time(&f.quiet_until))
        .flatten();
    if errs.is_empty() && from.is_some() != until.is_some() {
        let which = if from.is_none() {
            "quiet_from"
        } else {
            "quiet_until"
        };
        errs.add(which, "Give both ends of the quiet hours, or neither.");
    }
    if !errs.is_empty() {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            prefs_view(&ctx, &f, &errs),
        )
            .into_response());
    }
    let muted: Vec<String> = Event::personal_events()
        .filter(|e| !f.wanted.iter().any(|w| w == e.key()))
        .map(|e| e.key().to_string())
        .collect();
    let prefs = store::Prefs {
        muted,
        quiet_from: from,
        quiet_until: until,
    };
    let mut tx = state.pool.begin().await?;
    store::set_prefs(&mut tx, user.id.0, &prefs).await?;
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "account.notifications_set",
            target_type: "account",
            target_id: user.id.0.to_string(),
            before: None,
            after: Some(json!({ "muted": prefs.muted, "quiet_from": f.quiet_from.trim(), "quiet_until": f.quiet_until.trim() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(cookies
        .done("Notification settings saved.", "/profile/notifications")
        .into_response())
}
