//! `/metrics` in Prometheus text format (DESIGN §4.5): requests by route template (never raw
//! paths), method and status with latency histograms; the database pool; the outbox backlog and
//! dead rows; webhook deliveries by outcome; login failures; prober results; build info. The
//! `metrics` facade with the Prometheus exporter's recorder, without its HTTP listener: the
//! app serves the text itself, optionally behind a bearer token (`FLOWDECK_METRICS_TOKEN`).

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder (installed on first use; one per process, shared by every app in it).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("flowdeck_http_request_duration_seconds".into()),
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ],
            )
            .expect("static buckets are valid");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Histogram samples gather in the recorder until an upkeep folds them into their buckets;
        // `build_recorder` (unlike `install`) leaves that to the caller. Without it every request
        // kept ~20 bytes forever (RSS grew 3–4 MB a minute in `cargo bench --bench soak`).
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        // Another recorder may already be installed (a test binary with several apps shares
        // this one; anything else keeps its own).
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Middleware: counts each request and its latency under its route template.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    if route == "/metrics" {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("flowdeck_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("flowdeck_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = state.config.metrics_token.as_ref() {
        use secrecy::ExposeSecret;
        let token = token.expose_secret();
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = given
            .is_some_and(|g| crate::auth::token::constant_time_eq(g.as_bytes(), token.as_bytes()));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is needed for /metrics\n",
            )
                .into_response();
        }
    }
    let h = handle();
    metrics::gauge!("flowdeck_db_pool_connections").set(f64::from(state.pool.size()));
    metrics::gauge!("flowdeck_db_pool_idle").set(state.pool.num_idle() as f64);
    metrics::gauge!("flowdeck_build_info", "version" => env!("CARGO_PKG_VERSION"), "commit" => option_env!("FLOWDECK_COMMIT").unwrap_or("unknown"))
        .set(1.0);
    // This replica's caches (src/cache): whether they are on, what they hold, how often they
    // answered (a hit ratio falling under load means notifications keep dropping them).
    let c = state.cache.stats();
    metrics::gauge!("flowdeck_cache_listening").set(if c.listening { 1.0 } else { 0.0 });
    for (kind, n) in [
        ("sessions", c.sessions),
        ("accounts", c.accounts),
        ("parts", c.parts),
    ] {
        metrics::gauge!("flowdeck_cache_entries", "kind" => kind).set(n as f64);
    }
    metrics::counter!("flowdeck_cache_hits_total").absolute(c.hits);
    metrics::counter!("flowdeck_cache_misses_total").absolute(c.misses);
    metrics::counter!("flowdeck_cache_invalidations_total").absolute(c.invalidations);
    metrics::counter!("flowdeck_webhook_bad_signatures_total")
        .absolute(crate::hooks::BAD_SIGNATURES.load(std::sync::atomic::Ordering::Relaxed));
    // The outbox: what waits, what died (a short query; skipped when the database is away).
    if let Ok(Ok((pending, dead))) = tokio::time::timeout(
        std::time::Duration::from_millis(800),
        crate::outbox::backlog(&state.pool),
    )
    .await
    {
        metrics::gauge!("flowdeck_outbox_pending").set(pending as f64);
        metrics::gauge!("flowdeck_outbox_dead").set(dead as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        h.render(),
    )
        .into_response()
}
