//! Views of availability: the team board, my status, the leave calendar, a member's page.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use leptos::prelude::*;

use super::{
    model::{self, LeaveInput, LeaveKind, Status},
    ops::OfflineForm,
    store::{BoardRow, EventRow, LeaveRow},
};
use crate::ui::{self, PageCtx, form::FormErrors};

/// A board row with its state derived.
#[derive(Clone)]
pub struct Member {
    pub row: BoardRow,
    pub tz: Tz,
    pub status: Status,
}

impl Member {
    pub fn from_row(row: BoardRow, now: DateTime<Utc>) -> Self {
        let tz: Tz = row.timezone.parse().unwrap_or(chrono_tz::UTC);
        let latest = match (&row.state, row.at) {
            (Some(state), Some(at)) => Some(model::LatestCheckIn {
                state: *state,
                at,
                until: row.until,
            }),
            _ => None,
        };
        let leave = row.leave_ends_on.map(|ends_on| model::CurrentLeave {
            ends_on,
            emergency: row.leave_emergency.unwrap_or(false),
            acknowledged: row.leave_status == Some(model::LeaveStatus::Acknowledged),
        });
        let status = model::derive(now, tz, latest.as_ref(), leave.as_ref());
        Self { row, tz, status }
    }
}

fn hm(at: DateTime<Utc>, tz: &str) -> String {
    match tz.parse::<Tz>() {
        Ok(tz) => at.with_timezone(&tz).format("%a %H:%M").to_string(),
        Err(_) => at.format("%a %H:%M UTC").to_string(),
    }
}

/// The state badge and a sentence about it, times in the viewer's zone.
pub fn status_cell(m: &Member, now: DateTime<Utc>, viewer_tz: &str) -> impl IntoView + use<> {
    let key = m.status.key();
    let class = format!("badge state-{key}");
    let label = Status::label(key);
    let detail = match &m.status {
        Status::Online { since } => format!("since {}", hm(*since, viewer_tz)),
        Status::Away { since } => format!("since {}", hm(*since, viewer_tz)),
        Status::Offline { until } if viewer_tz == m.tz.name() => {
            format!("until {}", hm(*until, viewer_tz))
        }
        Status::Offline { until } => format!(
            "until {} ({} their time)",
            hm(*until, viewer_tz),
            until.with_timezone(&m.tz).format("%H:%M")
        ),
        Status::Overdue { until } => format!(
            "expected back {}, {} ago",
            hm(*until, viewer_tz),
            model::short_duration(now - *until)
        ),
        Status::OnLeave {
            ends_on,
            emergency,
            acknowledged,
        } => {
            let today = now.with_timezone(&m.tz).date_naive();
            let mut s = format!("until {}", ui::time::date(*ends_on, today));
            if *emergency {
                s.push_str(" · emergency");
            }
            if !acknowledged {
                s.push_str(" · not yet acknowledged");
            }
            s
        }
        Status::Unknown => "no check-in today".to_string(),
    };
    let reason = match (&m.status, &m.row.reason) {
        (Status::Offline { .. } | Status::Overdue { .. }, Some(r)) if !r.is_empty() => {
            Some(view! { <br/><small class="muted">{r.clone()}</small> })
        }
        _ => None,
    };
    view! { <span class=class>{label}</span>" "<span class="detail">{detail}</span>{reason} }
}

pub fn board(
    ctx: &PageCtx,
    members: &[Member],
    now: DateTime<Utc>,
    state_filter: &str,
    q: &str,
    total: usize,
) -> impl IntoView + use<> {
    let tz = ctx.tz().to_string();
    let today = now.with_timezone(&ctx.zone()).date_naive();
    let rows = members
        .iter()
        .map(|m| {
            let href = format!("/team/{}", m.row.handle);
            let local = now.with_timezone(&m.tz).format("%a %H:%M").to_string();
            let zone = m.tz.name().to_string();
            let next = match (m.row.next_leave_starts_on, m.row.next_leave_ends_on) {
                (Some(a), Some(b)) => format!(
                    "{} – {}",
                    ui::time::date(a, today),
                    ui::time::date(b, today)
                ),
                _ => "—".into(),
            };
            view! {
                <tr>
                    <td data-label="Member"><a href=href>{m.row.display_name.clone()}</a></td>
                    <td data-label="State">{status_cell(m, now, &tz)}</td>
                    <td data-label="Their time">{local}" "<small class="muted">{zone}</small></td>
                    <td data-label="Next leave" class="nowrap">{next}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let empty = rows.is_empty();
    let options = std::iter::once("")
        .chain(Status::KEYS)
        .map(|k| {
            let selected = k == state_filter;
            let label = if k.is_empty() {
                "any state"
            } else {
                Status::label(k)
            };
            view! { <option value=k selected=selected>{label}</option> }
        })
        .collect::<Vec<_>>();
    let q = q.to_string();
    let shown = format!("{} of {total} members", members.len());
    view! {
        <h1>"Team"</h1>
        <p><a href="/me">"Update my status →"</a>" · "<a href="/leave">"Leave calendar →"</a></p>
        <form method="get" action="/team" class="filters" role="search">
            <label for="t-state">"State"</label>
            <select id="t-state" name="state">{options}</select>
            <label for="t-q">"Find"</label>
            <input id="t-q" name="q" type="search" value=q placeholder="name or handle"/>
            <button type="submit" class="secondary">"Filter"</button>
            <span class="muted">{shown}</span>
        </form>
        {if empty {
            ui::empty_state("Nobody matches", "Change or clear the filter.").into_any()
        } else {
            view! {
                <div class="table-wrap"><table class="cards">
                    <thead><tr><th>"Member"</th><th>"State"</th><th>"Their time"</th><th>"Next leave"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table></div>
            }.into_any()
        }}
    }
}

fn kind_select(selected: &str) -> impl IntoView + use<> {
    let options = LeaveKind::ALL
        .iter()
        .map(|k| {
            let sel = k.as_str() == selected;
            view! { <option value=k.as_str() selected=sel>{k.as_str()}</option> }
        })
        .collect::<Vec<_>>();
    view! { <select id="f-kind" name="kind">{options}</select> }
}

fn errors_banner(errs: &FormErrors) -> Option<impl IntoView + use<>> {
    (!errs.is_empty()).then(|| {
        let text = errs
            .general
            .clone()
            .unwrap_or_else(|| "Please correct the marked fields.".into());
        view! { <div class="form-error" role="alert">{text}</div> }
    })
}

pub struct MeForms<'a> {
    pub offline: &'a OfflineForm,
    pub offline_errs: &'a FormErrors,
    pub leave: &'a LeaveInput,
    pub leave_errs: &'a FormErrors,
}

pub fn me(
    ctx: &PageCtx,
    me: &Member,
    now: DateTime<Utc>,
    leaves: &[LeaveRow],
    forms: MeForms<'_>,
    notice_hours: i64,
) -> impl IntoView + use<> {
    let tz = ctx.tz().to_string();
    let status = status_cell(me, now, &tz);
    let csrf = ctx.csrf.clone();
    let csrf2 = ctx.csrf.clone();
    let leave_rows = leave_table(ctx, leaves, true, now);
    let kind = kind_select(&forms.leave.kind);
    let emergency = forms.leave.emergency.is_some();
    let notice = format!(
        "Non-emergency leave starts at least {notice_hours} hours from now. Dates are in your time zone ({tz})."
    );
    view! {
        <h1>"My status"</h1>
        <div class="grid">
            <section class="card">
                <h2>"Now"</h2>
                <p class="status-now">{status}</p>
                <div class="row-actions">
                    <form method="post" action="/me/online" class="inline">
                        <input type="hidden" name="csrf" value=csrf/>
                        <button type="submit">"I'm online"</button>
                    </form>
                    <form method="post" action="/me/away" class="inline">
                        <input type="hidden" name="csrf" value=csrf2/>
                        <button type="submit" class="secondary">"Step away"</button>
                    </form>
                </div>
                <p class="hint">"Back from a break or from offline? Press “I'm online”."</p>
            </section>
            <section class="card">
                <h2 id="offline">"Going offline"</h2>
                {errors_banner(forms.offline_errs)}
                <form method="post" action="/me/offline">
                    {ui::csrf_field(ctx)}
                    {ui::field("For how long", "for", "text", &forms.offline.for_, forms.offline_errs.get("for"),
                        Some("e.g. 2h, 45m, 1h 30m — or fill in “Until” instead."))}
                    {ui::field("Until", "until", "text", &forms.offline.until, None,
                        Some("e.g. 15:00 or 2026-03-10 15:00, your time zone."))}
                    {ui::field("Reason (optional)", "reason", "text", &forms.offline.reason, forms.offline_errs.get("reason"), None)}
                    <button type="submit">"Go offline"</button>
                </form>
            </section>
        </div>
        <section class="card">
            <h2 id="leave">"Request leave"</h2>
            <p class="muted">{notice}</p>
            {errors_banner(forms.leave_errs)}
            <form method="post" action="/me/leave" class="leave-form">
                {ui::csrf_field(ctx)}
                {ui::field("First day", "starts_on", "date", &forms.leave.starts_on, forms.leave_errs.get("starts_on"), None)}
                {ui::field("Last day", "ends_on", "date", &forms.leave.ends_on, forms.leave_errs.get("ends_on"), None)}
                <div class="field"><label for="f-kind">"Type"</label>{kind}</div>
                {ui::field("Note (optional)", "note", "text", &forms.leave.note, forms.leave_errs.get("note"), None)}
                <div class="field check">
                    <input id="f-emergency" type="checkbox" name="emergency" checked=emergency/>
                    <label for="f-emergency">"Emergency — announce it now to the inner circle, no notice needed"</label>
                </div>
                <button type="submit">"Request leave"</button>
            </form>
        </section>
        <h2>"My leave requests"</h2>
        {leave_rows}
    }
}

/// A table of leave requests; `own` shows cancel buttons, otherwise the member's name.
pub fn leave_table(
    ctx: &PageCtx,
    leaves: &[LeaveRow],
    own: bool,
    now: DateTime<Utc>,
) -> impl IntoView + use<> {
    let today = now.with_timezone(&ctx.zone()).date_naive();
    if leaves.is_empty() {
        return ui::empty_state(
            "No leave requests",
            "Requests appear here with their state.",
        )
        .into_any();
    }
    let rows = leaves
        .iter()
        .map(|l| {
            let dates = if l.starts_on == l.ends_on {
                ui::time::date(l.starts_on, today)
            } else {
                format!("{} – {}", ui::time::date(l.starts_on, today), ui::time::date(l.ends_on, today))
            };
            let who = (!own).then(|| {
                let href = format!("/team/{}", l.handle);
                view! { <td><a href=href>{l.display_name.clone()}</a></td> }
            });
            let flag = l.emergency.then(|| view! { " "<span class="badge state-overdue">"emergency"</span> });
            let status_class = format!("badge leave-{}", l.status.as_str());
            let decided = l.decided_by.clone().map(|d| {
                let note = if l.decision_note.is_empty() { String::new() } else { format!(": {}", l.decision_note) };
                view! { <br/><small class="muted">{format!("by {d}{note}")}</small> }
            });
            let cancel = (own && l.status.is_active() && l.ends_at > now).then(|| {
                let action = format!("/leave/{}/cancel", l.id);
                view! {
                    <form method="post" action=action class="inline">
                        {ui::csrf_field(ctx)}
                        <button type="submit" class="danger">"Cancel"</button>
                    </form>
                }
            });
            view! {
                <tr>
                    {who}
                    <td>{dates}</td>
                    <td>{l.kind.label()}{flag}<br/><small class="muted">{l.note.clone()}</small></td>
                    <td><span class=status_class>{l.status.label()}</span>{decided}</td>
                    <td>{cancel}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let who_head = (!own).then(|| view! { <th>"Member"</th> });
    view! {
        <div class="table-wrap"><table>
            <thead><tr>{who_head}<th>"Dates"</th><th>"Type"</th><th>"State"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table></div>
    }
    .into_any()
}

/// Pending requests a lead can decide (their own are listed without buttons).
pub fn pending(ctx: &PageCtx, leaves: &[LeaveRow]) -> impl IntoView + use<> {
    let me = ctx.user.as_ref().map(|u| u.id.0);
    let today = ctx.now.with_timezone(&ctx.zone()).date_naive();
    let rows = leaves
        .iter()
        .map(|l| {
            let dates = format!("{} – {}", ui::time::date(l.starts_on, today), ui::time::date(l.ends_on, today));
            let flag = l.emergency.then(|| view! { " "<span class="badge state-overdue">"emergency"</span> });
            let actions = if me == Some(l.account_id) {
                view! { <span class="muted">"your own — another lead decides"</span> }.into_any()
            } else {
                let ack = format!("/leave/{}/acknowledge", l.id);
                let decline = format!("/leave/{}/decline", l.id);
                let note_id = format!("note-{}", l.id);
                let note_id2 = format!("note2-{}", l.id);
                view! {
                    <div class="row-actions">
                        <form method="post" action=ack class="inline">
                            {ui::csrf_field(ctx)}
                            <label for=note_id.clone() class="sr-only">"Note"</label>
                            <input id=note_id name="note" type="text" placeholder="note (optional)"/>
                            <button type="submit">"Acknowledge"</button>
                        </form>
                        <form method="post" action=decline class="inline">
                            {ui::csrf_field(ctx)}
                            <label for=note_id2.clone() class="sr-only">"Reason"</label>
                            <input id=note_id2 name="note" type="text" placeholder="reason (optional)"/>
                            <button type="submit" class="danger">"Decline"</button>
                        </form>
                    </div>
                }
                .into_any()
            };
            let href = format!("/team/{}", l.handle);
            view! {
                <tr>
                    <td><a href=href>{l.display_name.clone()}</a></td>
                    <td>{dates}</td>
                    <td>{l.kind.label()}{flag}<br/><small class="muted">{l.note.clone()}</small></td>
                    <td>{actions}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    view! {
        <section class="card">
            <h2 id="pending">"Leave to acknowledge"</h2>
            {if rows.is_empty() {
                ui::empty_state("Nothing pending", "New leave requests appear here for leads.").into_any()
            } else {
                view! { <div class="table-wrap"><table>
                    <thead><tr><th>"Member"</th><th>"Dates"</th><th>"Type"</th><th>"Decide"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table></div> }.into_any()
            }}
        </section>
    }
}

/// The next four weeks of leave: members × days.
pub fn calendar(
    members: &[BoardRow],
    leaves: &[LeaveRow],
    first: NaiveDate,
) -> impl IntoView + use<> {
    let days: Vec<NaiveDate> = (0..28).map(|i| first + Duration::days(i)).collect();
    let head = days
        .iter()
        .map(|d| {
            let weekend = matches!(d.format("%a").to_string().as_str(), "Sat" | "Sun");
            let class = if weekend { "day weekend" } else { "day" };
            let label = d.format("%a %d %b").to_string();
            view! { <th class=class scope="col" title=label><span>{d.format("%d").to_string()}</span><br/><small>{d.format("%a").to_string()}</small></th> }
        })
        .collect::<Vec<_>>();
    let rows = members
        .iter()
        .map(|m| {
            let mine: Vec<&LeaveRow> = leaves.iter().filter(|l| l.account_id == m.id).collect();
            let cells = days
                .iter()
                .map(|d| {
                    let hit = mine.iter().find(|l| l.starts_on <= *d && *d <= l.ends_on);
                    match hit {
                        Some(l) => {
                            let class = format!(
                                "cal leave-{}{}",
                                l.status.as_str(),
                                if l.emergency { " emergency" } else { "" }
                            );
                            let title = format!(
                                "{} {} ({}){}",
                                m.display_name,
                                l.kind.label(),
                                l.status.label(),
                                if l.emergency { ", emergency" } else { "" }
                            );
                            let mark = if l.emergency {
                                "!"
                            } else {
                                &l.kind.as_str()[..1]
                            };
                            view! { <td class=class title=title>{mark.to_uppercase()}</td> }
                                .into_any()
                        }
                        None => view! { <td class="cal"></td> }.into_any(),
                    }
                })
                .collect::<Vec<_>>();
            let href = format!("/team/{}", m.handle);
            view! { <tr><th scope="row"><a href=href>{m.display_name.clone()}</a></th>{cells}</tr> }
        })
        .collect::<Vec<_>>();
    view! {
        <div class="table-wrap calendar"><table>
            <thead><tr><th scope="col">"Member"</th>{head}</tr></thead>
            <tbody>{rows}</tbody>
        </table></div>
        <p class="muted legend">"V vacation · S sick · P personal · O other · ! emergency · pale: not yet acknowledged. Dates are each member's own."</p>
    }
}

pub fn member(
    ctx: &PageCtx,
    m: &Member,
    now: DateTime<Utc>,
    events: &[EventRow],
    next_before: Option<i64>,
    leaves: &[LeaveRow],
) -> impl IntoView + use<> {
    let tz = ctx.tz().to_string();
    let title = m.row.display_name.clone();
    let handle = m.row.handle.clone();
    let local = format!(
        "{} ({})",
        now.with_timezone(&m.tz).format("%a %H:%M"),
        m.tz.name()
    );
    let rows = events
        .iter()
        .map(|e| {
            let until = e
                .until
                .map(|u| format!("until {}", ui::when_text(ctx, u)))
                .unwrap_or_default();
            let class = format!("badge state-{}", e.state.as_str());
            view! {
                <tr>
                    <td class="nowrap">{ui::when(ctx, e.at)}</td>
                    <td><span class=class>{e.state.label()}</span></td>
                    <td>{until}</td>
                    <td>{e.reason.clone()}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let no_history = rows.is_empty();
    let older = next_before.map(|b| {
        let href = format!("/team/{handle}?before={b}#history");
        view! { <nav class="pager" aria-label="History pages"><span></span><a href=href>"Older →"</a></nav> }
    });
    view! {
        <h1>{title}</h1>
        <p class="muted"><code>{m.row.handle.clone()}</code>" · their time "{local}</p>
        <p class="status-now">{status_cell(m, now, &tz)}</p>
        <p><a href=format!("/milestones?member={handle}")>"Milestones"</a>" · "<a href=format!("/updates#u-{handle}")>"This week's update"</a></p>
        <h2 id="history">"History"</h2>
        {if no_history {
            ui::empty_state("No check-ins yet", "Check-ins and announced offline times appear here.").into_any()
        } else {
            view! { <div class="table-wrap"><table>
                <thead><tr><th>"When"</th><th>"State"</th><th>"Until"</th><th>"Reason"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div> }.into_any()
        }}
        {older}
        <h2>"Leave"</h2>
        {leave_table(ctx, leaves, false, now)}
    }
}
