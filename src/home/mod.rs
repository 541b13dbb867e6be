//! The home page: what a member needs at 9 am.

use axum::{Router, extract::State, response::Html, routing::get};
use leptos::prelude::*;

use crate::{
    auth::model::Role,
    deploys, docs,
    error::{AppError, AppResult},
    presence::{self, model::Status, pages::status_cell},
    state::AppState,
    ui::{self, PageCtx},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(home))
}

async fn home(State(state): State<AppState>, ctx: PageCtx) -> AppResult<Html<String>> {
    let now = state.clock.now();
    // The tiles' queries are independent: run them at once.
    let pool = &state.pool;
    let user = ctx.user.clone();
    // Every part comes from this replica's cache (src/cache), kept coherent by the tables'
    // notifications: team-wide ones (the board per minute — it depends on the time — the
    // Delivery card per day) and each member's own (review queue, docs, leave to decide).
    let delivery_key = format!("delivery:{}", now.date_naive());
    let (team, to_decide, down, latest, queue, mine, delivery, rhythm) = tokio::try_join!(
        presence::team_now(&state),
        async {
            Ok::<_, AppError>(match &user {
                Some(u) if u.role >= Role::Lead => {
                    state
                        .cache
                        .get_or(
                            &format!("leave-to-decide:{}", u.id.0),
                            &["leave_requests", "accounts"],
                            presence::pending_leave_for(&state, u.id),
                        )
                        .await?
                }
                _ => 0,
            })
        },
        state.cache.get_or(
            "down",
            &["health_targets", "services", "environments"],
            deploys::down_now(pool)
        ),
        state.cache.get_or(
            "rollouts",
            &[
                "deployments",
                "current_deployments",
                "services",
                "environments"
            ],
            deploys::latest_rollouts(pool, 6)
        ),
        async {
            Ok::<_, AppError>(match &user {
                Some(u) => docs::cached_review_queue(&state, u.id).await?,
                None => Vec::new(),
            })
        },
        async {
            Ok::<_, AppError>(match &user {
                Some(u) => {
                    state
                        .cache
                        .get_or(
                            &format!("my-docs:{}", u.id.0),
                            &["docs", "doc_reviewers", "accounts"],
                            docs::owned_by(pool, &u.handle, 5),
                        )
                        .await?
                }
                None => Vec::new(),
            })
        },
        state.cache.get_or(
            &delivery_key,
            crate::insight::TOPICS,
            crate::insight::team_keys(&state)
        ),
        async {
            Ok::<_, AppError>(match &user {
                Some(u) => Some(crate::rhythm::pages::home_card(&state, &ctx, u.id.0).await?),
                None => None,
            })
        },
    )?;
    let tz = ctx.tz().to_string();
    let counts = Status::KEYS
        .iter()
        .filter_map(|k| {
            let n = team.iter().filter(|m| m.status.key() == *k).count();
            (n > 0).then(|| format!("{n} {}", Status::label(k)))
        })
        .collect::<Vec<_>>()
        .join(" · ");
    let notable = team
        .iter()
        .filter(|m| !matches!(m.status, Status::Online { .. } | Status::Unknown))
        .take(8)
        .map(|m| {
            let href = format!("/team/{}", m.row.handle);
            view! { <li><a href=href>{m.row.display_name.clone()}</a>" "{status_cell(m, now, &tz)}</li> }
        })
        .collect::<Vec<_>>();
    let decide = (to_decide > 0).then(|| {
        let text = if to_decide == 1 {
            "1 leave request to acknowledge →".to_string()
        } else {
            format!("{to_decide} leave requests to acknowledge →")
        };
        view! { <p class="flash flash-ok"><a href="/leave#pending">{text}</a></p> }
    });
    let deploy_tile = if latest.is_empty() && down.is_empty() {
        ui::empty_state(
            "No deployments recorded",
            "Record deployments (or let CI post them) to see what runs where.",
        )
        .into_any()
    } else {
        let down_view = if down.is_empty() {
            view! { <p><span class="badge health-up">"all checked services up"</span></p> }
                .into_any()
        } else {
            let items = down
                .into_iter()
                .map(|d| {
                    let href = format!("/services/{}", d.service);
                    let by = d.reported_by.zip(d.reported_at).map(|(who, at)| {
                        view! { <small class="muted">{format!(" reported by {who} ")}{ui::when(&ctx, at)}</small> }
                    });
                    view! { <li><span class="badge health-down">"down"</span>" "<a href=href>{format!("{} in {}", d.service, d.environment)}</a>{by}</li> }
                })
                .collect::<Vec<_>>();
            view! { <ul class="plain">{items}</ul> }.into_any()
        };
        let items = latest
            .into_iter()
            .map(|r| {
                let what = match r.services.as_slice() {
                    [one] => format!("{} {} → {}", one, r.version, r.environment),
                    many => format!("{} → {}, {} services", r.version, r.environment, many.len()),
                };
                let names = r.services.join(", ");
                let href = format!("/deployments/history?environment={}", r.environment);
                view! {
                    <li>
                        {deploys::pages::status_badge(r.status)}" "
                        <a href=href title=names>{what}</a>" "
                        <small class="muted">{ui::when(&ctx, r.at)}</small>
                    </li>
                }
            })
            .collect::<Vec<_>>();
        view! {
            {down_view}
            <h3>"Latest deployments"</h3>
            <ul class="plain">{items}</ul>
            <p><a href="/deployments">"Matrix →"</a>" · "<a href="/deployments/history?status=failed">"Failures →"</a></p>
        }
        .into_any()
    };
    let waiting = queue
        .iter()
        .filter(|q| q.verdict.is_none())
        .take(5)
        .map(|q| {
            let href = format!("/docs/{}", q.number);
            let overdue = q.due_at < now;
            view! { <li><a href=href>{format!("DD-{} {}", q.number, q.title)}</a>{overdue.then(|| view! { " "<span class="badge health-down">"overdue"</span> })}</li> }
        })
        .collect::<Vec<_>>();
    let my_docs = mine
        .iter()
        .map(|d| {
            let href = format!("/docs/{}", d.number);
            view! { <li><a href=href>{format!("DD-{} {}", d.number, d.title)}</a>" "{crate::docs::pages::status_badge(d.status)}</li> }
        })
        .collect::<Vec<_>>();
    let review_tile = view! {
        {if waiting.is_empty() {
            view! { <p class="muted">"No reviews are waiting for you."</p> }.into_any()
        } else {
            view! { <ul class="plain">{waiting}</ul> }.into_any()
        }}
        <h3>"Your docs"</h3>
        {if my_docs.is_empty() {
            view! { <p class="muted">"You have not written a design doc yet. "<a href="/docs/new">"Write one →"</a></p> }.into_any()
        } else {
            view! { <ul class="plain">{my_docs}</ul> }.into_any()
        }}
        <p><a href="/reviews">"My review queue →"</a>" · "<a href="/docs">"All docs →"</a></p>
    };
    let online_tile = view! {
        {decide}
        <p><strong>{counts}</strong></p>
        {if notable.is_empty() {
            view! { <p class="muted">"Nobody is away, offline or on leave."</p> }.into_any()
        } else {
            view! { <ul class="plain">{notable}</ul> }.into_any()
        }}
        <p><a href="/team">"Team board →"</a>" · "<a href="/me">"My status →"</a></p>
    };
    let greeting = format!(
        "Good to see you, {}",
        ctx.user.as_ref().map_or("", |u| u.display_name.as_str())
    );
    let body = view! {
        <h1>{greeting}</h1>
        <div class="grid">
            <section class="card">
                <h2>"Who is online"</h2>
                {online_tile}
            </section>
            <section class="card">
                <h2>"Reviews waiting for you"</h2>
                {review_tile}
            </section>
            <section class="card">
                <h2>"Environments"</h2>
                {deploy_tile}
            </section>
            <section class="card">
                <h2>"Delivery"</h2>
                {crate::insight::pages::tiles_compact(&delivery)}
            </section>
            {rhythm.map(|card| view! {
                <section class="card">
                    <h2>"Rhythm"</h2>
                    {card}
                </section>
            })}
        </div>
    };
    Ok(ui::page(&ctx, "Home", body))
}
