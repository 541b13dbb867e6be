//! `/admin/audit`: the audit log for admins, newest first, 50 a page, filtered by who acted,
//! what they did and to what; targets by name with a link, before/after as a small table.

use axum::{
    extract::{Query, State},
    response::Html,
};
use leptos::prelude::*;
use serde::Deserialize;

use super::store;
use crate::{
    auth::policy::{Action, require},
    error::AppResult,
    state::AppState,
    ui::{self, PageCtx},
};

const PAGE: i64 = 50;

/// What kinds of target the log names (the filter's choices).
const TARGET_TYPES: [&str; 11] = [
    "account",
    "invite",
    "leave",
    "doc",
    "repository",
    "tag",
    "backport",
    "service",
    "environment",
    "deployment",
    "incident",
];

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target_type: String,
    #[serde(default)]
    target_id: String,
    /// Keyset cursor (an entry id); anything else means the newest page.
    #[serde(default)]
    before: String,
}

fn some(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The page a target is shown on, if it has one.
fn target_href(kind: &str, id: &str, name: Option<&str>) -> Option<String> {
    Some(match kind {
        "account" => format!("/team/{}", name?),
        "service" => format!("/services/{}", name?),
        "repository" => format!("/releases/{}", name?),
        "tag" => {
            let (repo, tag) = name?.split_once(' ')?;
            format!("/releases/{repo}/tags/{tag}")
        }
        "deployment" => format!("/deployments/{id}"),
        "incident" => format!("/incidents/{id}"),
        "doc" => format!("/docs/{}", id.trim_start_matches("DD-")),
        "environment" => "/deployments".to_string(),
        _ => return None,
    })
}

/// A JSON value as short text: strings bare, the rest compact.
fn short(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "—".into(),
        Some(serde_json::Value::String(s)) if s.is_empty() => "“”".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// Before and after as one small table: a row per field, changed ones marked.
fn changes(
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> impl IntoView + use<> {
    let obj = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_object()).cloned();
    let (b, a) = (obj(before), obj(after));
    let mut keys: Vec<String> = b
        .iter()
        .chain(a.iter())
        .flat_map(|m| m.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return view! { <span class="muted">"—"</span> }.into_any();
    }
    let rows = keys
        .into_iter()
        .map(|k| {
            let (old, new) = (
                short(b.as_ref().and_then(|m| m.get(&k))),
                short(a.as_ref().and_then(|m| m.get(&k))),
            );
            let class = if b.is_some() && old != new {
                "changed"
            } else {
                ""
            };
            view! { <tr class=class><th scope="row">{k}</th><td>{old}</td><td>{new}</td></tr> }
        })
        .collect::<Vec<_>>();
    view! {
        <table class="changes">
            <thead><tr><th>"field"</th><th>"before"</th><th>"after"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

pub async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<AuditQuery>,
) -> AppResult<Html<String>> {
    require(ctx.user.as_ref(), Action::ReadAuditLog)?;
    let filter = store::Filter {
        actor: some(&q.actor),
        action: some(&q.action),
        target_type: some(&q.target_type),
        target_id: some(&q.target_id),
        before: q.before.trim().parse().ok(),
    };
    let mut entries = store::page(&state.pool, &filter, PAGE + 1).await?;
    let more = entries.len() as i64 > PAGE;
    entries.truncate(PAGE as usize);
    // The filters that are set, and the cursor; empty ones stay out of the address.
    let link = |before: Option<i64>| {
        let before = before.map(|b| b.to_string()).unwrap_or_default();
        let pairs: Vec<(&str, &str)> = [
            ("actor", q.actor.as_str()),
            ("action", q.action.as_str()),
            ("target_type", q.target_type.as_str()),
            ("target_id", q.target_id.as_str()),
            ("before", before.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
        let qs = serde_urlencoded::to_string(pairs).unwrap_or_default();
        if qs.is_empty() {
            "/admin/audit".to_string()
        } else {
            format!("/admin/audit?{qs}")
        }
    };
    let next = more
        .then(|| entries.last().map(|e| link(Some(e.id))))
        .flatten();
    let newest = link(None);
    let mut seen_actions: Vec<String> = entries.iter().map(|e| e.action.clone()).collect();
    seen_actions.sort();
    seen_actions.dedup();
    let rows = entries
        .into_iter()
        .map(|e| {
            let id = e.target_id.clone().unwrap_or_default();
            let label = match (&e.target_name, &e.target_id) {
                (Some(n), _) => n.clone(),
                (None, Some(id)) => format!("#{id} (gone)"),
                (None, None) => String::new(),
            };
            let target = match target_href(&e.target_type, &id, e.target_name.as_deref()) {
                Some(href) => view! { <a href=href>{label}</a> }.into_any(),
                None => view! { <span>{label}</span> }.into_any(),
            };
            let by_target = format!(
                "/admin/audit?{}",
                serde_urlencoded::to_string([("target_type", e.target_type.as_str()), ("target_id", id.as_str())])
                    .unwrap_or_default()
            );
            let by_actor = format!(
                "/admin/audit?{}",
                serde_urlencoded::to_string([("actor", e.actor.as_str())]).unwrap_or_default()
            );
            view! {
                <tr>
                    <td data-label="When" class="nowrap">{ui::when(&ctx, e.at)}</td>
                    <td data-label="Who"><a href=by_actor title="only this actor">{e.actor}</a></td>
                    <td data-label="What"><code>{e.action}</code></td>
                    <td data-label="Target"><small class="muted">{e.target_type}" "</small>{target}
                        " "<a href=by_target class="muted" title="history of this target">"↺"</a></td>
                    <td data-label="Change">{changes(e.before.as_ref(), e.after.as_ref())}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let empty = rows.is_empty();
    let filtered = filter.actor.is_some()
        || filter.action.is_some()
        || filter.target_type.is_some()
        || filter.target_id.is_some();
    let types = std::iter::once(("", "any target"))
        .chain(TARGET_TYPES.iter().map(|t| (*t, *t)))
        .map(|(v, l)| {
            let sel = v == q.target_type;
            view! { <option value=v selected=sel>{l}</option> }
        })
        .collect::<Vec<_>>();
    let action_options = seen_actions
        .into_iter()
        .map(|a| view! { <option value=a></option> })
        .collect::<Vec<_>>();
    let body = view! {
        <h1>"Audit log"</h1>
        <p class="muted">"Every change, who made it and when, with the state before and after."</p>
        <form method="get" action="/admin/audit" class="filters" role="search">
            <label for="a-actor" class="sr-only">"Who"</label>
            <input id="a-actor" name="actor" value=q.actor.clone() placeholder="who (handle)"/>
            <label for="a-action" class="sr-only">"What"</label>
            <input id="a-action" name="action" value=q.action.clone() placeholder="action, e.g. deployment.recorded" list="a-actions"/>
            <datalist id="a-actions">{action_options}</datalist>
            <label for="a-type" class="sr-only">"Target kind"</label>
            <select id="a-type" name="target_type">{types}</select>
            <label for="a-id" class="sr-only">"Target id"</label>
            <input id="a-id" name="target_id" value=q.target_id.clone() placeholder="target id" size="8"/>
            <button type="submit" class="secondary">"Filter"</button>
        </form>
        {if empty && filtered {
            view! { <div class="empty"><p class="empty-title">"No entry matches"</p><p><a href="/admin/audit">"Show every entry"</a></p></div> }.into_any()
        } else if empty {
            ui::empty_state("Nothing recorded yet", "Changes to accounts, invites and settings appear here.").into_any()
        } else {
            view! {
                <div class="table-wrap"><table class="cards audit">
                    <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Target"</th><th>"Change"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table></div>
            }.into_any()
        }}
        <nav class="pager" aria-label="Pages">
            <a href=newest>"Newest"</a>
            {next.map(|href| view! { <a href=href>"Older →"</a> })}
        </nav>
    };
    Ok(ui::page(&ctx, "Audit log", body))
}
