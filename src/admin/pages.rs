//! Views of the admin area.

use chrono::Utc;
use leptos::prelude::*;

use super::{MembersQuery, ops::InviteForm};
use crate::{
    auth::{
        model::Role,
        store::{AccountRow, InviteRow},
    },
    ui::{self, PageCtx, form::FormErrors},
};

pub fn overview(
    ctx: &PageCtx,
    query: &MembersQuery,
    members: &[AccountRow],
    next_href: Option<String>,
    invites: &[InviteRow],
    invite: &InviteForm,
    errs: &FormErrors,
) -> impl IntoView + use<> {
    let me = ctx.user.as_ref().map(|u| u.id.0);
    let rows = members
        .iter()
        .map(|m| member_row(ctx, m, me == Some(m.id)))
        .collect::<Vec<_>>();
    let pager = next_href.map(|href| {
        view! { <nav class="pager" aria-label="Members pages"><a href="/admin#members">"First"</a><a href=href>"More members →"</a></nav> }
    });
    let no_members = rows.is_empty();
    let role_options = std::iter::once(("", "any role"))
        .chain(Role::ALL.iter().map(|r| (r.as_str(), r.as_str())))
        .map(|(value, label)| {
            let selected = query.role == value;
            view! { <option value=value selected=selected>{label}</option> }
        })
        .collect::<Vec<_>>();
    let q = query.q.clone();
    let invite_rows = invites
        .iter()
        .map(|i| invite_row(ctx, i))
        .collect::<Vec<_>>();
    let no_invites = invite_rows.is_empty();
    let selected = Role::parse(&invite.role).unwrap_or(Role::Member);
    let role_err = errs
        .get("role")
        .cloned()
        .map(|e| view! { <p class="field-error">{e}</p> });
    view! {
        <h1>"Admin"</h1>
        <p><a href="/admin/audit">"Audit log →"</a></p>
        <h2 id="members">"Members"</h2>
        <form method="get" action="/admin" class="filters" role="search">
            <label for="m-q">"Find"</label>
            <input id="m-q" name="q" type="search" value=q placeholder="handle, name or email"/>
            <label for="m-role">"Role"</label>
            <select id="m-role" name="role">{role_options}</select>
            <button type="submit" class="secondary">"Filter"</button>
        </form>
        {if no_members {
            ui::empty_state("No members match", "Change or clear the filter to see more.").into_any()
        } else {
            view! {
                <div class="table-wrap"><table>
                    <thead><tr><th>"Handle"</th><th>"Name"</th><th>"Role"</th><th>"Status"</th><th>"Joined"</th><th>"Actions"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table></div>
            }.into_any()
        }}
        {pager}
        <div class="grid spaced">
            <section class="card">
                <h2 id="invite">"Invite someone"</h2>
                <p class="muted">"Creates a link that works once, for a limited time."</p>
                <form method="post" action="/admin/invites">
                    {ui::csrf_field(ctx)}
                    <div class="field">
                        <label for="invite-role">"Role"</label>
                        {ui::role_select("role", "invite-role".into(), selected)}
                        {role_err}
                    </div>
                    {ui::field("Email (optional)", "email", "email", &invite.email, errs.get("email"), None)}
                    {ui::field("Note (optional)", "note", "text", &invite.note, errs.get("note"),
                        Some("For you: who this is for."))}
                    <button type="submit">"Create invite link"</button>
                </form>
            </section>
            <section class="card">
                <h2>"Recent invites"</h2>
                {if no_invites {
                    ui::empty_state("No invites yet", "Invites you create appear here with their state.").into_any()
                } else {
                    view! { <div class="table-wrap"><table>
                        <thead><tr><th>"Role"</th><th>"For"</th><th>"State"</th><th></th></tr></thead>
                        <tbody>{invite_rows}</tbody>
                    </table></div> }.into_any()
                }}
            </section>
        </div>
    }
}

fn member_row(ctx: &PageCtx, m: &AccountRow, is_me: bool) -> impl IntoView + use<> {
    let role = m.role;
    let badge = format!("badge badge-{}", role.as_str());
    let status = if m.disabled {
        view! { <span class="badge badge-off">"disabled"</span> }.into_any()
    } else {
        view! { <span class="badge">"active"</span> }.into_any()
    };
    let actions = if is_me {
        view! { <span class="muted">"(you)"</span> }.into_any()
    } else {
        let role_action = format!("/admin/members/{}/role", m.id);
        let toggle_action = format!(
            "/admin/members/{}/{}",
            m.id,
            if m.disabled { "enable" } else { "disable" }
        );
        let select_id = format!("role-{}", m.id);
        let label = format!("Role of {}", m.handle);
        let toggle = if m.disabled {
            view! { <button type="submit" class="secondary">"Enable"</button> }.into_any()
        } else {
            view! { <button type="submit" class="danger">"Disable"</button> }.into_any()
        };
        view! {
            <div class="row-actions">
                <form method="post" action=role_action class="inline">
                    {ui::csrf_field(ctx)}
                    <label for=select_id.clone() class="sr-only">{label}</label>
                    {ui::role_select("role", select_id, role)}
                    <button type="submit" class="secondary">"Set role"</button>
                </form>
                <form method="post" action=toggle_action class="inline">
                    {ui::csrf_field(ctx)}
                    {toggle}
                </form>
            </div>
        }
        .into_any()
    };
    let email = m.email.clone().unwrap_or_default();
    view! {
        <tr>
            <td><code>{m.handle.clone()}</code></td>
            <td>{m.display_name.clone()}<br/><small class="muted">{email}</small></td>
            <td><span class=badge>{role.as_str()}</span></td>
            <td>{status}</td>
            <td class="nowrap">{ui::when(ctx, m.created_at)}</td>
            <td>{actions}</td>
        </tr>
    }
}

fn invite_row(ctx: &PageCtx, i: &InviteRow) -> impl IntoView + use<> {
    let now = Utc::now();
    let (state, pending) = if let Some(at) = i.accepted_at {
        (
            format!(
                "accepted by {} {}",
                i.accepted_by.clone().unwrap_or_default(),
                ui::when_text(ctx, at)
            ),
            false,
        )
    } else if i.revoked_at.is_some() {
        ("revoked".to_string(), false)
    } else if i.expires_at <= now {
        ("expired".to_string(), false)
    } else {
        (
            format!("pending until {}", ui::when_text(ctx, i.expires_at)),
            true,
        )
    };
    let who = match (&i.email, i.note.is_empty()) {
        (Some(e), _) => e.clone(),
        (None, false) => i.note.clone(),
        (None, true) => "—".to_string(),
    };
    let revoke = pending.then(|| {
        let action = format!("/admin/invites/{}/revoke", i.id);
        view! {
            <form method="post" action=action class="inline">
                {ui::csrf_field(ctx)}
                <button type="submit" class="danger">"Revoke"</button>
            </form>
        }
    });
    view! {
        <tr>
            <td>{i.role.label()}</td>
            <td>{who}<br/><small class="muted">"by " {i.created_by.clone()}</small></td>
            <td>{state}</td>
            <td>{revoke}</td>
        </tr>
    }
}
