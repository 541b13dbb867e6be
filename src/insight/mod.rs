//! Insight (DESIGN §3.6): DORA's five keys per service, production environment and window with a
//! weekly trend, every number linked to its rows (and CSV); review speed and release cadence.
//! Read from rollups the database keeps in the writing transaction (see docs/ARCHITECTURE.md).

pub mod model;
pub mod pages;
mod store;

use axum::{Router, routing::get};
use chrono::Duration;
use serde::Deserialize;

use crate::{error::AppResult, state::AppState};

pub use model::{Band, Key, KeyValue, Report};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/insight", get(pages::insight))
        .route("/insight/rows", get(pages::rows))
        .route("/insight/rows.csv", get(pages::rows_csv))
}

/// The filters of `/insight`, all in the URL.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub environment: String,
    /// 30, 90 or 180 days (default 90).
    #[serde(default)]
    pub window: String,
    /// For `/insight/rows`: which key's rows.
    #[serde(default)]
    pub key: String,
}

impl Filter {
    pub fn days(&self) -> i64 {
        match self.window.as_str() {
            "30" => 30,
            "180" => 180,
            _ => 90,
        }
    }

    /// The query string of these filters (for links).
    pub fn query(&self) -> String {
        let window = self.days().to_string();
        let pairs = [
            ("window", window.as_str()),
            ("service", self.service.as_str()),
            ("environment", self.environment.as_str()),
        ];
        let kept: Vec<_> = pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
        serde_urlencoded::to_string(kept).unwrap_or_default()
    }
}

/// What the insight page reads: a cached copy is dropped when one of these changes (the
/// rollups change with the deployments and incidents that move them, in the same transaction).
pub const TOPICS: &[&str] = &[
    "deployments",
    "incidents",
    "change_records",
    "change_deployments",
    "release_tags",
    "release_lines",
    "repositories",
    "environments",
    "services",
    "docs",
    "doc_reviewers",
    "backports",
    "backport_targets",
];

/// Up to this many lead-time samples in scope, the percentiles are exact (computed over every
/// sample); beyond, they come from the 5 % histogram buckets the database keeps, so the page
/// costs the same at any size.
const EXACT_LEADS: usize = 2000;

/// The window of `f` at `now`: from midnight UTC, `days` calendar days ago counting today, to now
/// — whole days, as the rollups count them.
fn scope<'a>(f: &'a Filter, now: chrono::DateTime<chrono::Utc>) -> store::Scope<'a> {
    let first = now.date_naive() - Duration::days(f.days() - 1);
    store::Scope {
        from: first.and_time(chrono::NaiveTime::MIN).and_utc(),
        to: now,
        service: (!f.service.is_empty()).then_some(f.service.as_str()),
        environment: (!f.environment.is_empty()).then_some(f.environment.as_str()),
    }
}

/// Computes the keys for `f` from the rollups: three small queries side by side, then plain Rust.
pub async fn compute(state: &AppState, f: &Filter) -> AppResult<Report> {
    let s = scope(f, state.clock.now());
    let (days, recovery, lead) = tokio::try_join!(
        store::days(&state.pool, &s),
        store::recovery(&state.pool, &s),
        lead_summary(&state.pool, &s),
    )?;
    Ok(model::compute(
        &days,
        &recovery,
        &lead,
        s.from,
        s.to,
        state.config.insight_min_points,
    ))
}

/// Lead times in summary: the histogram (and the few tag samples); exact when there are few.
async fn lead_summary(pool: &sqlx::PgPool, s: &store::Scope<'_>) -> sqlx::Result<model::Summary> {
    let (mut buckets, tags) =
        tokio::try_join!(store::lead_buckets(pool, s), store::tag_lead_times(pool, s))?;
    let n = buckets.iter().map(|b| b.2).sum::<i64>() as usize + tags.len();
    if n <= EXACT_LEADS {
        return store::lead_summary(pool, s).await;
    }
    buckets.extend(tags.iter().map(|(from, at)| {
        let h = ((*at - *from).num_seconds() as f64 / 3600.0).max(0.0);
        (at.date_naive(), model::bucket_of(h), 1)
    }));
    Ok(model::summarize_buckets(&buckets))
}

/// Everything the rows behind a number rest on.
pub struct Data {
    pub report: Report,
    pub deployments: Vec<model::Dep>,
    pub incidents: Vec<model::Inc>,
    pub failures: Vec<model::Failure>,
}

/// The report for `f` and its rows: the window's production deployments, incidents and failures.
pub async fn rows(state: &AppState, f: &Filter) -> AppResult<Data> {
    let s = scope(f, state.clock.now());
    let (report, deployments, incidents, failures) = tokio::try_join!(
        compute(state, f),
        async { Ok(store::deployments(&state.pool, &s).await?) },
        async { Ok(store::incidents(&state.pool, &s).await?) },
        async { Ok(store::failures(&state.pool, &s).await?) },
    )?;
    Ok(Data {
        report,
        deployments,
        incidents,
        failures,
    })
}

/// The lead-time samples behind `f` (the rows page): each with its hours, by deployment time.
pub async fn lead_rows(state: &AppState, f: &Filter) -> AppResult<Vec<(model::Lead, f64)>> {
    let s = scope(f, state.clock.now());
    Ok(store::leads(&state.pool, &s)
        .await?
        .into_iter()
        .map(|l| {
            let h = model::lead_hours(&l);
            (l, h)
        })
        .collect())
}

/// The team's keys over the last 30 days (the home page's Delivery card: the shortest window,
/// because the home page is the most visited page).
pub async fn team_keys(state: &AppState) -> AppResult<Report> {
    let f = Filter {
        window: "30".into(),
        ..Filter::default()
    };
    compute(state, &f).await
}
