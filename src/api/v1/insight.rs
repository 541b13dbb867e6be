//! `/api/v1/insight`: DORA's five keys for a service, production environment and window — the
//! numbers `/insight` shows, for dashboards and scripts.

use axum::{
    Json,
    extract::{Query, State},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiResult, need};
use crate::{api::tokens::Caller, insight, state::AppState};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct InsightQuery {
    /// One service's keys (default all).
    service: Option<String>,
    /// One production environment's keys (default every one).
    environment: Option<String>,
    /// 30, 90 (default) or 180 days.
    #[param(pattern = "^(30|90|180)$")]
    window: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct KeyOut {
    /// frequency, lead-time, fail-rate, recovery or rework.
    key: &'static str,
    title: &'static str,
    /// Absent with too little data. Frequency: deployments per week; lead time and recovery:
    /// hours (median); fail and rework rate: a fraction.
    value: Option<f64>,
    /// Frequency: deployment days per week; lead time and recovery: the p90 in hours.
    second: Option<f64>,
    /// How many data points it rests on.
    points: usize,
    /// elite, high, medium or low (DORA 2021); absent with too little data, and for rework.
    band: Option<&'static str>,
    detail: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct InsightOut {
    window_days: i64,
    band_source: &'static str,
    keys: Vec<KeyOut>,
}

#[utoipa::path(get, path = "/api/v1/insight", tag = "insight",
    summary = "DORA's five keys over a window",
    params(InsightQuery),
    responses((status = 200, body = InsightOut), (status = 422, body = super::super::error::ErrorDoc)),
    security(("bearer" = ["read"])))]
pub(super) async fn get_insight(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<InsightQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<InsightOut>> {
    need(&caller, "read")?;
    let Query(InsightQuery {
        service,
        environment,
        window,
    }) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let window = window.unwrap_or_default();
    if !["", "30", "90", "180"].contains(&window.as_str()) {
        return Err(ApiError::invalid("`window` is 30, 90 or 180."));
    }
    let f = insight::Filter {
        service: service.unwrap_or_default(),
        environment: environment.unwrap_or_default(),
        window,
        key: String::new(),
    };
    let report = insight::compute(&state, &f).await?;
    let keys = report
        .keys
        .iter()
        .map(|k| KeyOut {
            key: k.key.slug(),
            title: k.key.title(),
            value: k.value,
            second: k.second,
            points: k.points,
            band: k.band.map(|b| b.label()),
            detail: k.detail.clone(),
        })
        .collect();
    Ok(Json(InsightOut {
        window_days: f.days(),
        band_source: insight::model::BAND_SOURCE,
        keys,
    }))
}
