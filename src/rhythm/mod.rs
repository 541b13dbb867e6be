//! Team rhythm (DESIGN §3.8): weekly 3PS updates prefilled from the member's week, milestone
//! commitments of at most `milestone_max_days`, and blockers on the 1-2-3 escalation clock. The
//! clock, the reminders and the weekly digest run in `tick`, every minute, from stored
//! timestamps: a restart never skips or repeats a step, and with several replicas each step is
//! claimed by one (`for update skip locked` plus a conditional update in the notice's transaction).

pub mod demo;
pub mod model;
pub mod pages;
mod store;

use std::collections::HashMap;

use axum::{
    Router,
    routing::{get, post},
};
use chrono::Duration;
use chrono_tz::Tz;
use serde_json::json;

use crate::{
    outbox::{self, Event, Notice},
    state::AppState,
};

use store::Blocker;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/updates", get(pages::this_week))
        .route("/updates/edit", get(pages::edit).post(pages::save))
        .route("/updates/{week}", get(pages::week))
        .route("/milestones", get(pages::milestones).post(pages::commit))
        .route("/milestones/{id}", post(pages::change))
        .route("/blockers", get(pages::blockers).post(pages::raise))
        .route("/blockers/{id}/resolve", post(pages::resolve))
}

fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::UTC)
}

/// What one pass of the clock did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tick {
    pub steps: usize,
    pub reminders: usize,
    pub digests: usize,
}

/// One pass: escalation steps due, reminders due, the digest of a week whose due day has ended
/// everywhere. Each claim commits with its notices.
pub async fn tick(state: &AppState) -> anyhow::Result<Tick> {
    Ok(Tick {
        steps: escalate(state).await?,
        reminders: remind(state).await?,
        digests: digest(state).await?,
    })
}

/// Runs `tick` every `every` until the process ends.
pub async fn clock_loop(state: AppState, every: std::time::Duration) {
    let mut t = tokio::time::interval(every);
    loop {
        t.tick().await;
        if let Err(e) = tick(&state).await {
            tracing::warn!(error = %e, "team rhythm clock failed; trying again next minute");
        }
    }
}

/// Fires the escalation steps that are due: for each open blocker (locked, so another worker
/// skips it), the time it ran with its member's offline and leave spans taken out.
async fn escalate(state: &AppState) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let hours = state.config.escalation_hours;
    let mut tx = state.pool.begin().await?;
    let open = store::claim_open(&mut tx, 200).await?;
    if open.is_empty() {
        // Ended now, not when the dropped transaction's rollback gets to run: until then the
        // rows would stay locked and the next pass would skip them.
        tx.rollback().await?;
        return Ok(0);
    }
    let accounts: Vec<i64> = open.iter().map(|b| b.1).collect();
    let since = open.iter().map(|b| b.2).min().unwrap_or(now);
    let mut pauses: HashMap<i64, Vec<model::Pause>> = HashMap::new();
    for (account, p) in store::pauses(&mut tx, &accounts, since).await? {
        pauses.entry(account).or_default().push(p);
    }
    let mut fired = 0;
    let mut leads: Option<Vec<i64>> = None;
    let due: Vec<_> = open
        .iter()
        .filter_map(|(id, account, raised, stage)| {
            let ran = model::running(
                *raised,
                now,
                pauses.get(account).map_or(&[][..], Vec::as_slice),
            );
            let to = model::due_stage(ran, &hours);
            (to > *stage).then_some((*id, *stage, to))
        })
        .collect();
    if due.is_empty() {
        tx.rollback().await?;
        return Ok(0);
    }
    let blockers: HashMap<i64, Blocker> = store::blockers(&state.pool, true, 500)
        .await?
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    for (id, from, to) in due {
        let Some(b) = blockers.get(&id) else { continue };
        if !store::set_stage(&mut tx, id, from, to, now).await? {
            continue;
        }
        // Each step not fired yet fires once, in order (a clock that was down catches up).
        for stage in (from + 1)..=to {
            let Some(step) = model::Step::of(stage) else {
                continue;
            };
            fired += 1;
            let link = format!("/blockers#b-{id}");
            let data = json!({ "blocker": id, "member": b.handle, "what": b.what, "stage": stage });
            match step {
                model::Step::Helpers => {
                    let names = if b.helper_names.is_empty() {
                        "no helpers were named".to_string()
                    } else {
                        b.helper_names.join(", ")
                    };
                    outbox::enqueue(
                        &mut tx,
                        now,
                        Notice::new(
                            Event::BlockerHelpers,
                            format!(
                                "{} has been blocked for {} h on “{}” — asking {names}.",
                                b.display_name, hours[0], b.what
                            ),
                            &link,
                        )
                        .data(data.clone()),
                    )
                    .await?;
                    for h in &b.helpers {
                        outbox::enqueue(
                            &mut tx,
                            now,
                            Notice::new(
                                Event::BlockerHelpers,
                                format!(
                                    "{} named you as a helper: blocked on “{}”. Can you help?",
                                    b.display_name, b.what
                                ),
                                &link,
                            )
                            .to(*h)
                            .inbox_only()
                            .data(data.clone()),
                        )
                        .await?;
                    }
                }
                model::Step::Team => {
                    outbox::enqueue(
                        &mut tx,
                        now,
                        Notice::new(
                            Event::BlockerTeam,
                            format!(
                                "{} has been blocked for {} h on “{}”. Who can help?",
                                b.display_name, hours[1], b.what
                            ),
                            &link,
                        )
                        .data(data.clone()),
                    )
                    .await?;
                }
                model::Step::Leads => {
                    let text = format!(
                        "Outside help needed: {} has been blocked for {} h on “{}”.",
                        b.display_name, hours[2], b.what
                    );
                    outbox::enqueue(
                        &mut tx,
                        now,
                        Notice::new(Event::BlockerLeads, &text, &link).data(data.clone()),
                    )
                    .await?;
                    if leads.is_none() {
                        leads = Some(store::leads(&mut tx).await?);
                    }
                    for l in leads.iter().flatten().filter(|l| **l != b.account_id) {
                        outbox::enqueue(
                            &mut tx,
                            now,
                            Notice::new(Event::BlockerLeads, &text, &link)
                                .to(*l)
                                .inbox_only()
                                .data(data.clone()),
                        )
                        .await?;
                    }
                }
            }
        }
    }
    tx.commit().await?;
    Ok(fired)
}

/// At most one reminder per member per week: after 17:00 on their due day (their zone), if they
/// have not written and are not on leave.
async fn remind(state: &AppState) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let due = state.config.update_due_weekday;
    let members = store::members(&state.pool).await?;
    let candidates: Vec<&store::Member> = members
        .iter()
        .filter(|m| {
            let tz = zone(&m.timezone);
            let week = model::IsoWeek::current(now, tz);
            now >= model::reminder_at(week, due, tz) && !model::overdue(week, due, tz, now)
        })
        .collect();
    if candidates.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = candidates.iter().map(|m| m.id).collect();
    let away = crate::presence::unavailable(state, &ids).await?;
    let mut sent = 0;
    let mut tx = state.pool.begin().await?;
    for m in candidates {
        if away.get(&m.id) == Some(&"on leave") {
            continue;
        }
        let week = model::IsoWeek::current(now, zone(&m.timezone));
        if store::claim_reminder(&mut tx, m.id, week, now).await? {
            sent += 1;
            outbox::enqueue(
                &mut tx,
                now,
                Notice::new(
                    Event::UpdateReminder,
                    format!(
                        "Your update for {week} is due today: Plan, Priority, Problem, Summary — prefilled from your week."
                    ),
                    "/updates/edit",
                )
                .to(m.id)
                .data(json!({ "week": week.to_string(), "member": m.handle })),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(sent)
}

/// The digest of a week goes once its due day has ended in every member's zone (UTC−12 is the
/// last): the week's Problems and the slipped milestones.
async fn digest(state: &AppState) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let due = state.config.update_due_weekday;
    let week = model::IsoWeek::of((now - Duration::hours(12)).date_naive());
    if !model::overdue(week, due, chrono_tz::Etc::GMTPlus12, now) {
        return Ok(0);
    }
    let mut tx = state.pool.begin().await?;
    if !store::claim_digest(&mut tx, week, now).await? {
        tx.rollback().await?;
        return Ok(0);
    }
    let (problems, slipped) = store::digest(&mut tx, week, now.date_naive()).await?;
    let mut text = format!("Week {week}: ");
    if problems.is_empty() && slipped.is_empty() {
        text.push_str("no Problems and no slipped milestones.");
    } else {
        let p: Vec<String> = problems
            .iter()
            .map(|(who, what)| format!("{who}: {}", one_line(what, 160)))
            .collect();
        let s: Vec<String> = slipped
            .iter()
            .map(|(who, title, due)| format!("{who}: {} (due {due})", one_line(title, 120)))
            .collect();
        if !p.is_empty() {
            text.push_str(&format!("Problems — {}. ", p.join("; ")));
        }
        if !s.is_empty() {
            text.push_str(&format!("Slipped milestones — {}.", s.join("; ")));
        }
    }
    outbox::enqueue(
        &mut tx,
        now,
        Notice::new(Event::UpdatesDigest, text.trim_end(), week.path()).data(json!({
            "week": week.to_string(),
            "problems": problems.iter().map(|(w, p)| json!({ "member": w, "problem": p })).collect::<Vec<_>>(),
            "slipped": slipped.iter().map(|(w, t, d)| json!({ "member": w, "milestone": t, "due": d })).collect::<Vec<_>>(),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok(1)
}

/// `s` on one line, at most `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}
