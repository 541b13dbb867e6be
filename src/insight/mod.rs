//! Insight (DESIGN §3.6): DORA's five keys per service, production environment and window with a
//! weekly trend, every number linked to its rows (and CSV); review speed and release cadence.
//! Computed on request from the records (see docs/ARCHITECTURE.md for why no rollups).

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

/// Everything a report over `f` rests on.
pub struct Data {
    pub report: Report,
    pub deployments: Vec<model::Dep>,
    pub incidents: Vec<model::Inc>,
}

/// Computes the keys for `f`: three queries run side by side, then plain Rust.
pub async fn compute(state: &AppState, f: &Filter) -> AppResult<Data> {
    let to = state.clock.now();
    let from = to - Duration::days(f.days());
    let scope = store::Scope {
        from,
        to,
        service: (!f.service.is_empty()).then_some(f.service.as_str()),
        environment: (!f.environment.is_empty()).then_some(f.environment.as_str()),
    };
    let (deployments, incidents, lead) = tokio::try_join!(
        store::deployments(&state.pool, &scope),
        store::incidents(&state.pool, &scope),
        store::lead_summary(&state.pool, &scope),
    )?;
    let report = model::compute(
        &deployments,
        &incidents,
        &lead,
        from,
        to,
        state.config.insight_min_points,
    );
    Ok(Data {
        report,
        deployments,
        incidents,
    })
}

/// The lead-time samples behind `f` (the rows page): each with its hours, by deployment time.
pub async fn lead_rows(state: &AppState, f: &Filter) -> AppResult<Vec<(model::Lead, f64)>> {
    let to = state.clock.now();
    let scope = store::Scope {
        from: to - Duration::days(f.days()),
        to,
        service: (!f.service.is_empty()).then_some(f.service.as_str()),
        environment: (!f.environment.is_empty()).then_some(f.environment.as_str()),
    };
    Ok(store::leads(&state.pool, &scope)
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
    Ok(compute(state, &f).await?.report)
}
