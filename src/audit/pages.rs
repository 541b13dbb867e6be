//! `/admin/audit`: the audit log for admins, newest first, 50 a page.

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

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<AuditQuery>,
) -> AppResult<Html<String>> {
    require(ctx.user.as_ref(), Action::ReadAuditLog)?;
    let mut entries = store::page(&state.pool, q.before, PAGE + 1).await?;
    let more = entries.len() as i64 > PAGE;
    entries.truncate(PAGE as usize);
    let next = more
        .then(|| {
            entries
                .last()
                .map(|e| format!("/admin/audit?before={}", e.id))
        })
        .flatten();
    let rows = entries
        .into_iter()
        .map(|e| {
            let target = match e.target_id {
                Some(id) => format!("{} {}", e.target_type, id),
                None => e.target_type,
            };
            let before = e
                .before
                .map(|v| view! { <pre class="json">{pretty(&v)}</pre> });
            let after = e
                .after
                .map(|v| view! { <pre class="json">{pretty(&v)}</pre> });
            view! {
                <tr>
                    <td class="nowrap">{ui::when(&ctx, e.at)}</td>
                    <td>{e.actor}</td>
                    <td><code>{e.action}</code></td>
                    <td>{target}</td>
                    <td>{before}</td>
                    <td>{after}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let empty = rows.is_empty();
    let body = view! {
        <h1>"Audit log"</h1>
        <p class="muted">"Every change, who made it and when, with the state before and after."</p>
        {if empty {
            ui::empty_state("Nothing recorded yet", "Changes to accounts, invites and settings appear here.").into_any()
        } else {
            view! {
                <div class="table-wrap"><table>
                    <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Target"</th><th>"Before"</th><th>"After"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table></div>
            }.into_any()
        }}
        <nav class="pager" aria-label="Pages">
            <a href="/admin/audit">"Newest"</a>
            {next.map(|href| view! { <a href=href>"Older →"</a> })}
        </nav>
    };
    Ok(ui::page(&ctx, "Audit log", body))
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}
