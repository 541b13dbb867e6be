//! Operating endpoints: `/healthz` (alive), `/readyz` (database reachable, migrations applied)
//! and `/metrics` (Prometheus text, `metrics.rs`); `flowdeck healthcheck`, the probe a container
//! runs against its own server.

pub mod metrics;

use axum::{Router, extract::State, http::StatusCode, routing::get};

use crate::state::AppState;

/// The probes, and `/metrics` unless it has its own address (`FLOWDECK_METRICS_LISTEN`).
pub fn router(separate_metrics: bool) -> Router<AppState> {
    let probes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if separate_metrics {
        probes
    } else {
        probes.route("/metrics", get(metrics::metrics))
    }
}

/// What the separate metrics address serves: `/metrics`, and `/healthz` for its own probe.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(healthz))
        .with_state(state)
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

/// `flowdeck healthcheck`: GET `/healthz` from the server listening on `listen`; Ok on a 200
/// within 3 s. A plain HTTP/1.0 exchange over std's TcpStream — no client library, no runtime.
pub fn healthcheck(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(ip, listen.port());
    let limit = std::time::Duration::from_secs(3);
    let mut s = std::net::TcpStream::connect_timeout(&addr, limit)
        .map_err(|e| anyhow::anyhow!("cannot connect to {addr}: {e}"))?;
    s.set_read_timeout(Some(limit))?;
    s.set_write_timeout(Some(limit))?;
    s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut head = Vec::new();
    s.take(64 * 1024).read_to_end(&mut head)?;
    let status = String::from_utf8_lossy(&head);
    let line = status.lines().next().unwrap_or("");
    if line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        anyhow::bail!("{addr}/healthz answered {line:?}")
    }
}
