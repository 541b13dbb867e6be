//! `/api/v1/leave`: the leave calendar — pending and acknowledged leave overlapping a window.
//! Notes stay on the page: the API says who is away, when and what kind, not why.

use axum::{
    Json,
    extract::{Query, State},
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiResult, Page, need};
use crate::{api::tokens::Caller, presence, state::AppState};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct LeaveQuery {
    /// The first day (UTC), `YYYY-MM-DD`; default today.
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// How many days from `from` (1–366, default 28).
    #[param(minimum = 1, maximum = 366)]
    days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct LeaveOut {
    id: i64,
    handle: String,
    display_name: String,
    /// First and last day, in the member's own zone.
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    time_zone: String,
    /// vacation, sick, personal or other.
    kind: &'static str,
    emergency: bool,
    /// pending or acknowledged.
    status: &'static str,
}

#[utoipa::path(get, path = "/api/v1/leave", tag = "availability",
    summary = "Leave (pending and acknowledged) overlapping a window, by start",
    params(LeaveQuery),
    responses((status = 200, body = Page<LeaveOut>), (status = 422, body = super::super::error::ErrorDoc)),
    security(("bearer" = ["read"])))]
pub(super) async fn list_leave(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<LeaveQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page<LeaveOut>>> {
    need(&caller, "read")?;
    let Query(LeaveQuery { from, days }) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let days = days.unwrap_or(28);
    if !(1..=366).contains(&days) {
        return Err(ApiError::invalid("`days` is between 1 and 366."));
    }
    let from = from.unwrap_or_else(|| state.clock.now().date_naive());
    // A date the calendar can hold: years far out would overflow the window's end.
    if !(1970..=9999).contains(&chrono::Datelike::year(&from)) {
        let mut e = ApiError::invalid("`from` is a date between 1970 and 9999.");
        e.fields.insert("from".into(), "out of range".into());
        return Err(e);
    }
    let from = from
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let to = from + chrono::Duration::days(days);
    let items = presence::leave_between(&state.pool, from, to, 500)
        .await?
        .into_iter()
        .map(|l| LeaveOut {
            id: l.id,
            handle: l.handle,
            display_name: l.display_name,
            starts_on: l.starts_on,
            ends_on: l.ends_on,
            starts_at: l.starts_at,
            ends_at: l.ends_at,
            time_zone: l.timezone,
            kind: l.kind.as_str(),
            emergency: l.emergency,
            status: l.status.as_str(),
        })
        .collect();
    Ok(Json(Page { items, next: None }))
}
