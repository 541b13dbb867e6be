//! Operating endpoints: `/healthz` (alive), `/readyz` (database reachable, migrations applied)
//! and `/metrics` (Prometheus text, `metrics.rs`).

pub mod metrics;

use axum::{Router, extract::State, http::StatusCode, routing::get};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if crate::db::ready(&state.pool).await {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: database unreachable or migrations pending\n",
        )
    }
}
