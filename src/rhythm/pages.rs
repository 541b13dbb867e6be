//! Team rhythm pages: `/updates` (this week, every member, Problems first; search),
//! `/updates/{year}-W{week}`, `/updates/edit` (my update, prefilled with suggestions from my
//! week), `/milestones` (commit, move, re-plan), `/blockers` (raise, resolve).

use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use std::{collections::HashMap, sync::Arc};

use leptos::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::{model, store, zone};
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

fn md(s: &str) -> String {
    crate::docs::model::render_markdown(s)
}

#[derive(Debug, Default, Deserialize)]
pub struct WeekQuery {
    #[serde(default)]
    pub q: String,
}

/// `/updates`: the viewer's current week (or search results for `q`).
pub async fn this_week(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<WeekQuery>,
) -> AppResult<Html<String>> {
    let week = model::IsoWeek::current(ctx.now, ctx.zone());
    if !q.q.trim().is_empty() {
        return search_page(&state, &ctx, q.q.trim()).await;
    }
    week_page(&state, &ctx, week).await
}

/// `/updates/{year}-W{week}`.
pub async fn week(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(raw): Path<String>,
) -> AppResult<Html<String>> {
    let week = model::IsoWeek::parse(&raw).map_err(|_| AppError::NotFound)?;
    week_page(&state, &ctx, week).await
}

async fn search_page(state: &AppState, ctx: &PageCtx, q: &str) -> AppResult<Html<String>> {
    let q: String = q.chars().take(200).collect();
    let found = store::search(&state.pool, &q, 50).await?;
    let items = found
        .into_iter()
        .map(|f| {
            let week = format!("{}-W{:02}", f.iso_year, f.iso_week);
            let href = format!("/updates/{week}#u-{}", f.handle);
            view! { <li><a href=href>{format!("{week} · {}", f.display_name)}</a><p class="muted">{f.snippet}</p></li> }
        })
        .collect::<Vec<_>>();
    let none = items
        .is_empty()
        .then(|| view! { <p>"No update says that."</p> });
    let body = view! {
        <h1>"Updates"</h1>
        {search_form(&q)}
        <h2>{format!("Updates that mention “{q}”")}</h2>
        {none}
        <ul class="plain">{items}</ul>
    };
    Ok(ui::page(ctx, "Updates", body))
}

fn search_form(q: &str) -> impl IntoView + use<> {
    let q = q.to_string();
    view! {
        <form method="get" action="/updates" class="filters" role="search">
            <div class="field"><label for="u-q">"Search updates"</label>
                <input id="u-q" type="search" name="q" value=q maxlength="200"/></div>
            <button type="submit" class="secondary">"Search"</button>
        </form>
    }
}

/// A week's updates as every reader sees them: the members, and each written update with its
/// four sections already rendered from Markdown (the costly part), Problems first.
struct Week {
    members: Vec<store::Member>,
    /// (member index, update, rendered Problem, Plan, Priority, Summary).
    written: Vec<(usize, store::Update, [String; 4])>,
}

/// What a week of updates reads.
const WEEK_TOPICS: &[&str] = &["updates", "accounts"];

async fn load_week(state: &AppState, week: model::IsoWeek) -> AppResult<Arc<Week>> {
    let (members, updates) = tokio::try_join!(
        store::members(&state.pool),
        store::week_updates(&state.pool, week)
    )?;
    let index: HashMap<i64, usize> = members.iter().enumerate().map(|(i, m)| (m.id, i)).collect();
    let mut written: Vec<(usize, store::Update, [String; 4])> = updates
        .into_iter()
        .filter_map(|u| {
            let i = *index.get(&u.account_id)?;
            let html = [&u.problem, &u.plan, &u.priority, &u.summary].map(|t| {
                if t.trim().is_empty() {
                    String::new()
                } else {
                    md(t)
                }
            });
            Some((i, u, html))
        })
        .collect();
    // Problems first, then the rest of the written ones, by name.
    written.sort_by_key(|(i, u, _)| {
        (
            u.problem.trim().is_empty(),
            members[*i].display_name.to_lowercase(),
        )
    });
    Ok(Arc::new(Week { members, written }))
}

async fn week_page(
    state: &AppState,
    ctx: &PageCtx,
    week: model::IsoWeek,
) -> AppResult<Html<String>> {
    // The same for every reader: kept in this replica's cache until an update or an account
    // changes (src/cache), so the Markdown is rendered once, not on every view.
    let key = format!("updates-week:{week}");
    let (data, board) = tokio::try_join!(
        state
            .cache
            .get_or(&key, WEEK_TOPICS, load_week(state, week)),
        crate::presence::team_now(state)
    )?;
    let members = &data.members;
    let away: HashMap<i64, &'static str> = crate::presence::unavailable_on(&board);
    let due = state.config.update_due_weekday;
    let by: std::collections::HashMap<i64, &store::Update> = data
        .written
        .iter()
        .map(|(_, u, _)| (u.account_id, u))
        .collect();
    let written = &data.written;
    let cards = written
        .iter()
        .map(|(i, u, [problem, plan, priority, summary])| {
            let m = &members[*i];
            let anchor = format!("u-{}", m.handle);
            let href = format!("/team/{}", m.handle);
            let problem = (!problem.is_empty()).then(|| {
                let html = problem.clone();
                view! { <h3>"Problem"</h3><div class="md problem" inner_html=html></div> }
            });
            let section = |title: &'static str, html: &String| {
                (!html.is_empty()).then(|| {
                    let html = html.clone();
                    view! { <h3>{title}</h3><div class="md" inner_html=html></div> }
                })
            };
            view! {
                <article class="card" id=anchor>
                    <h2><a href=href>{m.display_name.clone()}</a></h2>
                    {problem}
                    {section("Plan", plan)}
                    {section("Priority", priority)}
                    {section("Summary", summary)}
                    <p class="muted">"Saved "{ui::when(ctx, u.updated_at)}</p>
                </article>
            }
        })
        .collect::<Vec<_>>();
    let missing = members
        .iter()
        .filter(|m| !by.contains_key(&m.id))
        .map(|m| {
            let tz = zone(&m.timezone);
            let why = match away.get(&m.id) {
                Some(label) => format!("not yet — {label}"),
                None if model::overdue(week, due, tz, ctx.now) => "not yet — past due".to_string(),
                None => format!("not yet — due {}", week.day(due).format("%a %-d %b")),
            };
            let href = format!("/team/{}", m.handle);
            view! { <li><a href=href>{m.display_name.clone()}</a>" "<span class="muted">{why}</span></li> }
        })
        .collect::<Vec<_>>();
    let mine = ctx.user.as_ref().map(|u| {
        let current = model::IsoWeek::current(ctx.now, zone(&u.timezone)) == week;
        let wrote = by.contains_key(&u.id.0);
        current.then(|| {
            let label = if wrote {
                "Edit my update"
            } else {
                "Write my update"
            };
            view! { <p><a class="button" href="/updates/edit">{label}</a></p> }
        })
    });
    let prev = week.previous().path();
    let next = week.next().path();
    let title = format!("Updates · {week}");
    let summary = format!(
        "{} of {} members wrote their Plan, Priority, Problem and Summary for the week of {}. Due on {} in each member's own time zone.",
        written.len(),
        members.len(),
        week.monday().format("%-d %B %Y"),
        week.day(due).format("%A")
    );
    let body = view! {
        <h1>{title.clone()}</h1>
        <p class="muted"><a href=prev>"← previous week"</a>" · "<a href=next>"next week →"</a>" · "<a href="/milestones">"Milestones"</a>" · "<a href="/blockers">"Blockers"</a></p>
        <p>{summary}</p>
        {mine}
        {search_form("")}
        {cards}
        <section class="card"><h2>"Not written yet"</h2><ul class="plain">{missing}</ul></section>
    };
    Ok(ui::page(ctx, &title, body))
}

/// The edit form's fields.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    pub plan: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub problem: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub version: String,
}

fn edit_view(
    ctx: &PageCtx,
    week: model::IsoWeek,
    f: &UpdateForm,
    errs: &FormErrors,
    suggested: bool,
) -> Html<String> {
    let area = |label: &'static str, name: &'static str, value: &str, hint: &'static str| {
        let id = format!("upd-{name}");
        let err = errs
            .get(name)
            .cloned()
            .map(|e| view! { <p class="error" role="alert">{e}</p> });
        view! {
            <div class="field">
                <label for=id.clone()>{label}</label>
                <p class="hint">{hint}</p>
                {ui::textarea(id, name.to_string(), "5", value)}
                {err}
            </div>
        }
    };
    let general = errs
        .general
        .clone()
        .map(|e| view! { <p class="error" role="alert">{e}</p> });
    let note = suggested.then(|| view! {
        <p class="hint">"Prefilled from your week in flowdeck: keep, edit or delete each line. Nothing is posted until you save."</p>
    });
    let title = format!("My update · {week}");
    let body = view! {
        <h1>{title.clone()}</h1>
        <p class="muted"><a href="/updates">"← This week's updates"</a>" · editable until the week ends in your time zone"</p>
        {note}
        {general}
        <form method="post" action="/updates/edit" class="card stack">
            {ui::csrf_field(ctx)}
            <input type="hidden" name="version" value=f.version.clone()/>
            {area("Plan", "plan", &f.plan, "What you will do next week.")}
            {area("Priority", "priority", &f.priority, "The one thing that matters most.")}
            {area("Problem", "problem", &f.problem, "What is in your way, or none. The team reads Problems first.")}
            {area("Summary", "summary", &f.summary, "What you did this week.")}
            <button type="submit">"Save my update"</button>
        </form>
    };
    ui::page(ctx, &title, body)
}

/// `GET /updates/edit`: my update of my current week, or a new one prefilled from my week.
pub async fn edit(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
) -> AppResult<Html<String>> {
    let tz = zone(&user.timezone);
    let week = model::IsoWeek::current(ctx.now, tz);
    if let Some(u) = store::update_of(&state.pool, user.id.0, week).await? {
        let f = UpdateForm {
            plan: u.plan,
            priority: u.priority,
            problem: u.problem,
            summary: u.summary,
            version: u.version.to_string(),
        };
        return Ok(edit_view(&ctx, week, &f, &FormErrors::default(), false));
    }
    let (from, to) = week.span(tz);
    let today = ctx.now.with_timezone(&tz).date_naive();
    let found = store::suggestions(&state.pool, user.id.0, from, to, today).await?;
    let lines = |kind: &str| {
        found
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| format!("- [{}]({})", s.text.replace(['[', ']'], ""), s.link))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let f = UpdateForm {
        plan: lines("plan"),
        priority: String::new(),
        problem: lines("problem"),
        summary: lines("summary"),
        version: "0".into(),
    };
    Ok(edit_view(&ctx, week, &f, &FormErrors::default(), true))
}

/// `POST /updates/edit`: saves my update of my current week (a stale version is refused with
/// the text kept).
pub async fn save(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Form(f): Form<UpdateForm>,
) -> AppResult<Response> {
    require(ctx.user.as_ref(), Action::WriteRhythm { owner: user.id })?;
    let tz = zone(&user.timezone);
    let week = model::IsoWeek::current(ctx.now, tz);
    let mut errs = FormErrors::default();
    for (name, v) in [
        ("plan", &f.plan),
        ("priority", &f.priority),
        ("problem", &f.problem),
        ("summary", &f.summary),
    ] {
        if v.chars().count() > 4000 {
            errs.add(name, "At most 4,000 characters; link a doc for more.");
        }
    }
    let expected: i32 = f.version.trim().parse().unwrap_or(-1);
    if expected < 0 {
        errs.general = Some("This form is out of date; reload the page.".into());
    }
    if [&f.plan, &f.priority, &f.problem, &f.summary]
        .iter()
        .all(|v| v.trim().is_empty())
    {
        errs.add("summary", "Write at least one of the four.");
    }
    if !errs.is_empty() {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            edit_view(&ctx, week, &f, &errs, false),
        )
            .into_response());
    }
    let fields = store::Fields {
        plan: f.plan.trim_end(),
        priority: f.priority.trim_end(),
        problem: f.problem.trim_end(),
        summary: f.summary.trim_end(),
    };
    let mut tx = state.pool.begin().await?;
    let Some((id, version)) =
        store::save_update(&mut tx, user.id.0, week, &fields, expected, ctx.now).await?
    else {
        drop(tx);
        let errs = FormErrors::general(
            "Your update was saved from another tab or device since you opened this form; your text is below — copy what you need, reload, and save again.",
        );
        return Ok((
            StatusCode::CONFLICT,
            edit_view(&ctx, week, &f, &errs, false),
        )
            .into_response());
    };
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "update.saved",
            target_type: "update",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "week": week.to_string(), "version": version })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(cookies
        .done(format!("Your update for {week} is saved."), &week.path())
        .into_response())
}

/// The commit-a-milestone form.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MilestoneForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub due_on: String,
    /// A doc number (`42` or `DD-42`), optional.
    #[serde(default)]
    pub doc: String,
    /// A release line `repo/release-vX.Y`, optional.
    #[serde(default)]
    pub line: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct MilestonesQuery {
    #[serde(default)]
    pub member: String,
}

fn milestone_item(ctx: &PageCtx, m: &store::Milestone, mine: bool) -> impl IntoView + use<> {
    let today = ctx.now.with_timezone(&zone(&m.timezone)).date_naive();
    let state = model::MilestoneState::derive(&m.state, m.due_on, today);
    let anchor = format!("m-{}", m.id);
    let link = match (&m.doc_number, &m.repository, &m.line) {
        (Some(n), _, _) => Some((
            format!("/docs/{n}"),
            format!("DD-{n} {}", m.doc_title.clone().unwrap_or_default()),
        )),
        (None, Some(r), Some(l)) => Some((format!("/releases/{r}/{l}"), format!("{r} {l}"))),
        _ => None,
    }
    .map(|(href, text)| view! { " · "<a href=href>{text}</a> });
    let history = (m.replans > 0).then(|| {
        format!(
            " · re-planned {} time{} (first due {})",
            m.replans,
            if m.replans == 1 { "" } else { "s" },
            m.first_due.map(|d| d.to_string()).unwrap_or_default()
        )
    });
    let who = format!("/milestones?member={}", m.handle);
    let actions = (mine && state != model::MilestoneState::Done).then(|| {
        let action = format!("/milestones/{}", m.id);
        let version = m.version.to_string();
        let due = m.due_on.to_string();
        let id = format!("m-{}-due", m.id);
        let buttons = ["on_track", "at_risk", "done"]
            .into_iter()
            .filter(|s| *s != m.state)
            .map(|s| {
                let label = match s {
                    "on_track" => "On track",
                    "at_risk" => "At risk",
                    _ => "Done",
                };
                view! { <button type="submit" name="state" value=s class="secondary">{label}</button> }
            })
            .collect::<Vec<_>>();
        view! {
            <div class="row-actions">
            <form method="post" action=action.clone() class="inline">
                {ui::csrf_field(ctx)}
                <input type="hidden" name="version" value=version.clone()/>
                <input type="hidden" name="due_on" value=due.clone()/>
                {buttons}
            </form>
            <form method="post" action=action class="inline">
                {ui::csrf_field(ctx)}
                <input type="hidden" name="version" value=version/>
                <input type="hidden" name="state" value="replan"/>
                <label for=id.clone()>"New due date"</label>
                <input id=id type="date" name="due_on" value=due required/>
                <button type="submit" class="secondary">"Re-plan"</button>
            </form>
            </div>
        }
    });
    view! {
        <li id=anchor>
            <span class=state.class()>{state.label()}</span>" "
            <strong>{m.title.clone()}</strong>
            <span class="muted">{format!(" · due {}", m.due_on.format("%a %-d %b"))}" · "<a href=who>{m.display_name.clone()}</a>{link}{history}</span>
            {actions}
        </li>
    }
}

fn milestones_view(
    ctx: &PageCtx,
    list: &[store::Milestone],
    member: Option<&str>,
    f: &MilestoneForm,
    errs: &FormErrors,
    max_days: i64,
) -> Html<String> {
    let me = ctx.user.as_ref().map(|u| u.id.0);
    let today = ctx.now.with_timezone(&ctx.zone()).date_naive();
    let mut sorted: Vec<&store::Milestone> = list.iter().collect();
    // Slipped first, then by due date.
    sorted.sort_by_key(|m| {
        let slipped = model::MilestoneState::derive(&m.state, m.due_on, today)
            == model::MilestoneState::Slipped;
        (!slipped, m.due_on, m.id)
    });
    let items = sorted
        .iter()
        .map(|m| milestone_item(ctx, m, Some(m.account_id) == me))
        .collect::<Vec<_>>();
    let empty = items.is_empty().then(|| {
        ui::empty_state(
            "No open milestones",
            "Commit to one below: at most two weeks, ideally one.",
        )
    });
    let latest = (today + chrono::Duration::days(max_days)).to_string();
    let heading = match member {
        Some(h) => format!("Milestones of {h}"),
        None => "The team's open milestones".to_string(),
    };
    let body = view! {
        <h1>"Milestones"</h1>
        <p class="muted"><a href="/updates">"Updates"</a>" · "<a href="/blockers">"Blockers"</a>" · "<a href="/milestones">"All open"</a></p>
        <h2>{heading}</h2>
        {empty}
        <ul class="plain stack">{items}</ul>
        <h2>"Commit to a milestone"</h2>
        <form method="post" action="/milestones" class="card stack">
            {ui::csrf_field(ctx)}
            {ui::field_in("ms", "What will be done", "title", "text", &f.title, errs.get("title"), None)}
            <div class="field">
                <label for="ms-due_on">"Due"</label>
                <p class="hint">{format!("At most {max_days} days ahead: {latest} at the latest.")}</p>
                <input id="ms-due_on" type="date" name="due_on" value=f.due_on.clone() max=latest required/>
                {errs.get("due_on").cloned().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </div>
            {ui::field_in("ms", "Design doc (optional)", "doc", "text", &f.doc, errs.get("doc"), Some("its number, e.g. 42"))}
            {ui::field_in("ms", "Release line (optional)", "line", "text", &f.line, errs.get("line"), Some("e.g. server/release-v3.5"))}
            <button type="submit">"Commit"</button>
        </form>
    };
    ui::page(ctx, "Milestones", body)
}

/// `/milestones`: open milestones (slipped first), or a member's with `?member=handle`.
pub async fn milestones(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<MilestonesQuery>,
) -> AppResult<Html<String>> {
    let member = q.member.trim();
    let list = if member.is_empty() {
        store::milestones(&state.pool, None, true, 300).await?
    } else {
        let members = store::members(&state.pool).await?;
        let Some(m) = members.iter().find(|m| m.handle == member) else {
            return Err(AppError::NotFound);
        };
        store::milestones(&state.pool, Some(m.id), false, 100).await?
    };
    Ok(milestones_view(
        &ctx,
        &list,
        (!member.is_empty()).then_some(member),
        &MilestoneForm::default(),
        &FormErrors::default(),
        state.config.milestone_max_days,
    ))
}

fn parse_doc(raw: &str) -> Result<Option<i32>, String> {
    let t = raw
        .trim()
        .trim_start_matches("DD-")
        .trim_start_matches("dd-");
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<i32>()
        .ok()
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| format!("“{}” is not a doc number; write it like 42.", raw.trim()))
}

fn parse_line(raw: &str) -> Result<Option<(String, String)>, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.split_once('/')
        .filter(|(r, l)| !r.is_empty() && !l.is_empty())
        .map(|(r, l)| Some((r.to_string(), l.to_string())))
        .ok_or_else(|| format!("“{t}” is not a release line; write it like server/release-v3.5."))
}

/// `POST /milestones`: commit to a milestone.
pub async fn commit(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Form(f): Form<MilestoneForm>,
) -> AppResult<Response> {
    require(ctx.user.as_ref(), Action::WriteRhythm { owner: user.id })?;
    let max = state.config.milestone_max_days;
    let today = ctx.now.with_timezone(&zone(&user.timezone)).date_naive();
    let mut errs = FormErrors::default();
    let title = f.title.trim();
    if title.is_empty() {
        errs.add("title", "Say what will be done.");
    } else if title.chars().count() > 200 {
        errs.add("title", "At most 200 characters.");
    }
    let due = errs.check("due_on", model::check_due(&f.due_on, today, max));
    let doc = errs.check("doc", parse_doc(&f.doc)).flatten();
    let line = errs.check("line", parse_line(&f.line)).flatten();
    let (doc_id, line_id) = store::link_targets(
        &state.pool,
        doc,
        line.as_ref().map(|(r, l)| (r.as_str(), l.as_str())),
    )
    .await?;
    if doc_id == Some(None) {
        errs.add("doc", "No design doc has that number.");
    }
    if line_id == Some(None) {
        errs.add("line", "No such release line.");
    }
    let (Some(due), true) = (due, errs.is_empty()) else {
        let list = store::milestones(&state.pool, None, true, 300).await?;
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            milestones_view(&ctx, &list, None, &f, &errs, max),
        )
            .into_response());
    };
    let mut tx = state.pool.begin().await?;
    let id = store::create_milestone(
        &mut tx,
        user.id.0,
        title,
        doc_id.flatten(),
        line_id.flatten(),
        due,
        ctx.now,
    )
    .await?;
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "milestone.committed",
            target_type: "milestone",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "title": title, "due_on": due })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(cookies
        .done(
            format!("Committed: {title}, due {due}."),
            &format!("/milestones#m-{id}"),
        )
        .into_response())
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub due_on: String,
    #[serde(default)]
    pub version: String,
}

/// `POST /milestones/{id}`: on track / at risk / done, or re-plan (a new due date, kept in the
/// milestone's history).
pub async fn change(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
    Form(f): Form<ChangeForm>,
) -> AppResult<Response> {
    let Some((owner, version, due)) = store::milestone(&state.pool, id).await? else {
        return Err(AppError::NotFound);
    };
    require(
        ctx.user.as_ref(),
        Action::WriteRhythm {
            owner: crate::auth::model::AccountId(owner),
        },
    )?;
    let back = format!("/milestones#m-{id}");
    if f.version.trim().parse::<i32>().ok() != Some(version) {
        return Ok(cookies
            .refuse(
                "This milestone changed since you opened the page; here it is now.",
                &back,
            )
            .into_response());
    }
    let today = ctx.now.with_timezone(&zone(&user.timezone)).date_naive();
    let (to_state, to_due) = match f.state.as_str() {
        "on_track" | "at_risk" | "done" => (f.state.clone(), due),
        "replan" => match model::check_due(&f.due_on, today, state.config.milestone_max_days) {
            Ok(d) => ("on_track".to_string(), d),
            Err(e) => return Ok(cookies.refuse(e, &back).into_response()),
        },
        _ => {
            return Ok(cookies
                .refuse("Choose what changed.", &back)
                .into_response());
        }
    };
    let mut tx = state.pool.begin().await?;
    if store::change_milestone(&mut tx, id, version, &to_state, to_due, ctx.now)
        .await?
        .is_none()
    {
        return Ok(cookies
            .refuse(
                "This milestone changed since you opened the page; here it is now.",
                &back,
            )
            .into_response());
    }
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "milestone.changed",
            target_type: "milestone",
            target_id: id.to_string(),
            before: Some(json!({ "due_on": due })),
            after: Some(json!({ "state": to_state, "due_on": to_due })),
        },
    )
    .await?;
    tx.commit().await?;
    let msg = if f.state == "replan" {
        format!("Re-planned: now due {to_due}.")
    } else {
        format!("Marked {}.", to_state.replace('_', " "))
    };
    Ok(cookies.done(msg, &back).into_response())
}

/// The raise-a-blocker form.
#[derive(Clone, Debug, Default)]
pub struct BlockerForm {
    pub what: String,
    pub tried: String,
    pub helpers: Vec<String>,
}

fn blocker_item(
    ctx: &PageCtx,
    b: &store::Blocker,
    hours: &[f64; 3],
    clock: Option<&(chrono::Duration, bool)>,
) -> impl IntoView + use<> {
    let anchor = format!("b-{}", b.id);
    let me = ctx.user.as_ref().map(|u| u.id.0);
    let may_resolve = b.resolved_at.is_none()
        && ctx.user.as_ref().is_some_and(|u| {
            crate::auth::policy::can(
                Some(u),
                Action::ResolveBlocker {
                    owner: crate::auth::model::AccountId(b.account_id),
                    helper: b.helpers.contains(&u.id.0),
                },
            )
        });
    let stage = match (b.resolved_at, model::Step::of(b.stage)) {
        (Some(_), _) => "resolved".to_string(),
        (None, Some(step)) => match b.stage_at {
            Some(at) => format!(
                "stage {} — {} {}",
                b.stage,
                step.label(),
                ui::when_text(ctx, at)
            ),
            None => format!("stage {} — {}", b.stage, step.label()),
        },
        (None, None) => format!(
            "stage 0 — the member alone (helpers asked after {} h)",
            hours[0]
        ),
    };
    let helpers = if b.helper_names.is_empty() {
        "no helpers named".to_string()
    } else {
        format!("helpers: {}", b.helper_names.join(", "))
    };
    let since = ui::when_text(ctx, b.raised_at);
    let ran = clock.map(|(ran, paused)| {
        let mins = ran.num_minutes();
        let text = format!(
            "{} on the clock{}",
            if mins >= 60 {
                format!("{} h {} min", mins / 60, mins % 60)
            } else {
                format!("{mins} min")
            },
            if *paused {
                " (paused: offline or on leave)"
            } else {
                ""
            }
        );
        view! { <p><strong>{text}</strong></p> }
    });
    let tried = (!b.tried.trim().is_empty()).then(|| {
        let html = md(&b.tried);
        view! { <details><summary>"What was tried"</summary><div class="md" inner_html=html></div></details> }
    });
    let resolution = b.resolved_at.map(|t| {
        let text = format!(
            "Resolved {} by {}: {}",
            ui::when_text(ctx, t),
            b.resolver.clone().unwrap_or_default(),
            b.resolution
        );
        view! { <p>{text}</p> }
    });
    let form = may_resolve.then(|| {
        let action = format!("/blockers/{}/resolve", b.id);
        let id = format!("b-{}-note", b.id);
        view! {
            <form method="post" action=action class="filters">
                {ui::csrf_field(ctx)}
                <div class="field"><label for=id.clone()>"How it was resolved"</label>
                    <input id=id type="text" name="note" required maxlength="2000"/></div>
                <button type="submit" class="secondary">"Resolve"</button>
            </form>
        }
    });
    let mine = (Some(b.account_id) == me).then_some(" (yours)");
    let class = if b.stage >= 2 && b.resolved_at.is_none() {
        "card warn"
    } else {
        "card"
    };
    view! {
        <article class=class id=anchor>
            <h3>{b.what.clone()}</h3>
            <p class="muted">{format!("{}{} · raised {since} · {stage} · {helpers}", b.display_name, mine.unwrap_or(""))}</p>
            {ran}
            {tried}
            {resolution}
            {form}
        </article>
    }
}

#[allow(clippy::too_many_arguments)]
fn blockers_view(
    ctx: &PageCtx,
    open: &[store::Blocker],
    clocks: &HashMap<i64, (chrono::Duration, bool)>,
    resolved: &[store::Blocker],
    members: &[store::Member],
    f: &BlockerForm,
    errs: &FormErrors,
    hours: &[f64; 3],
) -> Html<String> {
    let me = ctx.user.as_ref().map(|u| u.id.0);
    let open_items = open
        .iter()
        .map(|b| blocker_item(ctx, b, hours, clocks.get(&b.id)))
        .collect::<Vec<_>>();
    let resolved_items = resolved
        .iter()
        .map(|b| blocker_item(ctx, b, hours, None))
        .collect::<Vec<_>>();
    let empty = open_items.is_empty().then(|| {
        ui::empty_state(
            "Nobody is blocked",
            "Good. Raise one below when you are stuck.",
        )
    });
    let checks = members
        .iter()
        .filter(|m| Some(m.id) != me)
        .map(|m| {
            let fid = format!("bl-h-{}", m.id);
            let for_id = fid.clone();
            let value = m.id.to_string();
            let checked = f.helpers.contains(&value);
            view! { <label class="check" for=for_id><input type="checkbox" id=fid name="helpers" value=value checked=checked/>" "{m.display_name.clone()}</label> }
        })
        .collect::<Vec<_>>();
    let rule = format!(
        "Stuck {} h alone → your helpers are asked; {} h → the whole team; {} h → the leads, outside help. The clock pauses while you are offline or on leave.",
        hours[0], hours[1], hours[2]
    );
    let body = view! {
        <h1>"Blockers"</h1>
        <p class="muted"><a href="/updates">"Updates"</a>" · "<a href="/milestones">"Milestones"</a></p>
        <p>{rule}</p>
        <h2>"Open"</h2>
        {empty}
        {open_items}
        <h2>"Raise a blocker"</h2>
        <form method="post" action="/blockers" class="card stack">
            {ui::csrf_field(ctx)}
            {ui::field_in("bl", "What is blocked", "what", "text", &f.what, errs.get("what"), None)}
            <div class="field">
                <label for="bl-tried">"What you tried"</label>
                {ui::textarea("bl-tried".into(), "tried".into(), "4", &f.tried)}
                {errs.get("tried").cloned().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </div>
            <fieldset class="checks"><legend>"Who could help (optional)"</legend>{checks}</fieldset>
            <button type="submit">"Raise"</button>
        </form>
        <h2>"Recently resolved"</h2>
        {resolved_items}
    };
    ui::page(ctx, "Blockers", body)
}

/// How long each open blocker has run on its clock, and whether it stands still now.
async fn clocks(
    state: &AppState,
    open: &[store::Blocker],
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<HashMap<i64, (chrono::Duration, bool)>> {
    if open.is_empty() {
        return Ok(HashMap::new());
    }
    let accounts: Vec<i64> = open.iter().map(|b| b.account_id).collect();
    let since = open.iter().map(|b| b.raised_at).min().unwrap_or(now);
    let mut conn = state.pool.acquire().await?;
    let mut pauses: HashMap<i64, Vec<model::Pause>> = HashMap::new();
    for (account, p) in store::pauses(&mut conn, &accounts, since).await? {
        pauses.entry(account).or_default().push(p);
    }
    Ok(open
        .iter()
        .map(|b| {
            let p = pauses.get(&b.account_id).map_or(&[][..], Vec::as_slice);
            (
                b.id,
                (
                    model::running(b.raised_at, now, p),
                    model::paused_now(now, p),
                ),
            )
        })
        .collect())
}

/// `/blockers`: open blockers with their stage, the raise form, the last resolved ones.
pub async fn blockers(State(state): State<AppState>, ctx: PageCtx) -> AppResult<Html<String>> {
    let (open, resolved, members) = tokio::try_join!(
        store::blockers(&state.pool, true, 200),
        store::blockers(&state.pool, false, 20),
        store::members(&state.pool),
    )?;
    let clocks = clocks(&state, &open, ctx.now).await?;
    Ok(blockers_view(
        &ctx,
        &open,
        &clocks,
        &resolved,
        &members,
        &BlockerForm::default(),
        &FormErrors::default(),
        &state.config.escalation_hours,
    ))
}

/// `POST /blockers`: raise a blocker; its clock starts now.
pub async fn raise(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    require(ctx.user.as_ref(), Action::WriteRhythm { owner: user.id })?;
    let mut f = BlockerForm::default();
    for (k, v) in pairs {
        match k.as_str() {
            "what" => f.what = v,
            "tried" => f.tried = v,
            "helpers" if f.helpers.len() < 50 => f.helpers.push(v),
            _ => {}
        }
    }
    let mut errs = FormErrors::default();
    let what = f.what.trim();
    if what.is_empty() {
        errs.add("what", "Say what is blocked.");
    } else if what.chars().count() > 500 {
        errs.add(
            "what",
            "At most 500 characters; put the details under what you tried.",
        );
    }
    if f.tried.chars().count() > 4000 {
        errs.add("tried", "At most 4,000 characters.");
    }
    let helpers: Vec<i64> = f.helpers.iter().filter_map(|h| h.parse().ok()).collect();
    if !errs.is_empty() {
        let (open, resolved, members) = tokio::try_join!(
            store::blockers(&state.pool, true, 200),
            store::blockers(&state.pool, false, 20),
            store::members(&state.pool),
        )?;
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            blockers_view(
                &ctx,
                &open,
                &clocks(&state, &open, ctx.now).await?,
                &resolved,
                &members,
                &f,
                &errs,
                &state.config.escalation_hours,
            ),
        )
            .into_response());
    }
    let mut tx = state.pool.begin().await?;
    let id = store::raise(
        &mut tx,
        user.id.0,
        what,
        f.tried.trim_end(),
        &helpers,
        ctx.now,
    )
    .await?;
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "blocker.raised",
            target_type: "blocker",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "what": what, "helpers": helpers })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(cookies
        .done(
            format!(
                "Raised. If it is still open in {} h, your helpers are asked.",
                state.config.escalation_hours[0]
            ),
            &format!("/blockers#b-{id}"),
        )
        .into_response())
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    pub note: String,
}

/// `POST /blockers/{id}/resolve`: the member, a named helper or a lead stops the clock.
pub async fn resolve(
    State(state): State<AppState>,
    ctx: PageCtx,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
    Form(f): Form<ResolveForm>,
) -> AppResult<Response> {
    let Some((owner, helpers, open)) = store::blocker_people(&state.pool, id).await? else {
        return Err(AppError::NotFound);
    };
    require(
        ctx.user.as_ref(),
        Action::ResolveBlocker {
            owner: crate::auth::model::AccountId(owner),
            helper: helpers.contains(&user.id.0),
        },
    )?;
    let back = format!("/blockers#b-{id}");
    let note = f.note.trim();
    if note.is_empty() || note.chars().count() > 2000 {
        return Ok(cookies
            .refuse(
                "Say in a line how it was resolved (at most 2,000 characters).",
                &back,
            )
            .into_response());
    }
    if !open {
        return Ok(cookies
            .refuse("This blocker was already resolved.", &back)
            .into_response());
    }
    let mut tx = state.pool.begin().await?;
    if !store::resolve(&mut tx, id, user.id.0, note, ctx.now).await? {
        return Ok(cookies
            .refuse("This blocker was already resolved.", &back)
            .into_response());
    }
    audit::record(
        &mut tx,
        &actor,
        Change {
            action: "blocker.resolved",
            target_type: "blocker",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "note": note })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(cookies
        .done("Resolved; the clock stopped.", &back)
        .into_response())
}

/// The home page's rhythm card: my open milestones and blockers, the team's escalated blockers.
pub async fn home_card(state: &AppState, ctx: &PageCtx, me: i64) -> AppResult<AnyView> {
    // Cached per replica (src/cache), dropped when these tables change anywhere.
    let my_key = format!("my-milestones:{me}");
    let (mine, open) = tokio::try_join!(
        state.cache.get_or(
            &my_key,
            &[
                "milestones",
                "milestone_dates",
                "docs",
                "release_lines",
                "accounts"
            ],
            store::milestones(&state.pool, Some(me), true, 5),
        ),
        state.cache.get_or(
            "open-blockers",
            &["blockers", "blocker_helpers", "accounts"],
            store::blockers(&state.pool, true, 50),
        ),
    )?;
    let today = ctx.now.with_timezone(&ctx.zone()).date_naive();
    let ms = mine
        .iter()
        .map(|m| {
            let st = model::MilestoneState::derive(&m.state, m.due_on, today);
            let href = format!("/milestones#m-{}", m.id);
            view! { <li><span class=st.class()>{st.label()}</span>" "<a href=href>{m.title.clone()}</a>{format!(" · due {}", m.due_on.format("%a %-d %b"))}</li> }
        })
        .collect::<Vec<_>>();
    let blocked = open
        .iter()
        .filter(|b| b.account_id == me || b.stage >= 2)
        .map(|b| {
            let href = format!("/blockers#b-{}", b.id);
            let who = if b.account_id == me { "you".to_string() } else { b.display_name.clone() };
            view! { <li><a href=href>{b.what.clone()}</a>{format!(" · {who}, stage {}", b.stage)}</li> }
        })
        .collect::<Vec<_>>();
    let none_ms = ms.is_empty().then(|| view! { <li class="muted">"No open milestones. "<a href="/milestones">"Commit to one"</a></li> });
    let none_bl = blocked
        .is_empty()
        .then(|| view! { <li class="muted">"Nobody escalated."</li> });
    let week = model::IsoWeek::current(ctx.now, ctx.zone());
    Ok(view! {
        <h3>"My milestones"</h3>
        <ul class="plain">{ms}{none_ms}</ul>
        <h3>"Blockers (mine, and the team's escalated)"</h3>
        <ul class="plain">{blocked}{none_bl}</ul>
        <p class="muted"><a href=week.path()>{format!("Updates for {week} →")}</a></p>
    }
    .into_any())
}
