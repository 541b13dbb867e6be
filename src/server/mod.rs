//! `build_router(state)`: every route and layer — the one router `main` serves and tests drive —
//! and `run`, which serves it (through `listener`'s connection limits) until SIGTERM/SIGINT and
//! lets in-flight requests finish.

pub mod edge;
pub mod listener;

use std::time::Duration;

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};
use tower_sessions_sqlx_store::PostgresStore;
use tracing::Level;

use crate::{
    admin, api, auth, deploys, docs, error::AppError, home, ops, presence, releases,
    state::AppState, ui,
};

/// The whole application: routes, sessions, login gate, CSRF, security headers, request ids.
pub fn build_router(state: AppState) -> Router {
    let cfg = &state.config;
    let sessions = SessionManagerLayer::new(crate::cache::sessions::CachedSessions::new(
        PostgresStore::new(state.pool.clone()),
        state.cache.clone(),
    ))
    .with_name(if cfg.https {
        "__Host-flowdeck"
    } else {
        "flowdeck"
    })
    .with_secure(cfg.https)
    .with_http_only(true)
    .with_same_site(SameSite::Lax)
    .with_path("/")
    .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
        cfg.session_idle_minutes,
    )));

    // Metrics recorded from here on reach `/metrics` (src/ops/metrics.rs).
    crate::ops::metrics::handle();

    // Pages: sessions, signed cookies, the login gate, CSRF.
    let pages = Router::new()
        .merge(home::router())
        .merge(auth::router())
        .merge(admin::router())
        .merge(api::pages::router())
        .merge(crate::hooks::pages::router())
        .merge(crate::outbox::pages::router())
        .merge(presence::router())
        .merge(releases::router())
        .merge(deploys::router())
        .merge(docs::router())
        .merge(crate::insight::router())
        .merge(crate::rhythm::router())
        .merge(ops::router(state.config.metrics_listen.is_some()))
        .route("/style/{file}", get(ui::assets::style))
        .route("/assets/{file}", get(ui::assets::asset))
        .route("/favicon.ico", get(ui::assets::favicon))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::csrf::protect,
        ))
        .layer(middleware::from_fn(edge::refuse_control_characters))
        .layer(middleware::from_fn(auth::session::finish_pages))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::session::load_user,
        ))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::cookies::layer,
        ))
        .layer(middleware::from_fn(auth::session::saved_despite_session));

    // The JSON API has none of those: bearer tokens only (`api::router`).
    Router::new()
        .nest("/api/v1", api::router(&state))
        .nest("/hooks", crate::hooks::router())
        .merge(pages)
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(middleware::from_fn(crate::ops::metrics::track))
        .layer(middleware::from_fn_with_state(state.clone(), edge::deadline))
        .layer(CatchPanicLayer::custom(|_| {
            AppError::internal(anyhow::anyhow!("a handler panicked")).into_response()
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<Body>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path(), account_id = tracing::field::Empty)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn not_found() -> AppError {
    AppError::NotFound
}

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'";

/// Security headers on every response; HSTS when served over https; no caching of pages. After a
/// write (any method but GET, HEAD, OPTIONS) this replica's caches are dropped.
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let write = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let mut resp = next.run(req).await;
    if write {
        // This replica's writer sees their change on the next page, before the notification
        // reaches the listener (src/cache).
        state.cache.clear();
    }
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if state.config.https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Serves `state` on `listener` until `shutdown` resolves; then in-flight requests get up to the
/// configured grace period to finish. Also runs the janitor (expired sessions, old login failures).
pub async fn run(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = Duration::from_secs(state.config.shutdown_grace_seconds);
    let janitor = tokio::spawn(janitor(state.clone()));
    let instance = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let prober = tokio::spawn(crate::deploys::prober::run(
        state.clone(),
        instance,
        Duration::from_secs(1),
    ));
    let hooks = tokio::spawn(crate::hooks::worker::run(
        state.clone(),
        Duration::from_secs(1),
    ));
    let overdue = tokio::spawn(crate::presence::overdue_loop(
        state.clone(),
        Duration::from_secs(60),
    ));
    let sender = tokio::spawn(crate::outbox::sender::run(
        state.clone(),
        Duration::from_millis(500),
    ));
    let cache = tokio::spawn(crate::cache::listen(
        state.pool.clone(),
        state.cache.clone(),
    ));
    let rhythm = tokio::spawn(crate::rhythm::clock_loop(
        state.clone(),
        Duration::from_secs(60),
    ));
    let reimport = tokio::spawn(releases::reimport_loop(
        state.clone(),
        Duration::from_secs(60),
    ));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let limits = limits(&state.config);
    let metrics = serve_metrics(&state, limits).await?;
    let app = build_router(state);
    let server = tokio::spawn(listener::serve(listener, app, limits, async {
        let _ = stop_rx.await;
    }));
    shutdown.await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_tx.send(());
    janitor.abort();
    prober.abort();
    hooks.abort();
    reimport.abort();
    sender.abort();
    overdue.abort();
    rhythm.abort();
    cache.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    match tokio::time::timeout(grace, server).await {
        Ok(joined) => joined?,
        Err(_) => tracing::warn!(?grace, "grace period over; remaining connections dropped"),
    }
    Ok(())
}

/// Serves `state` on `listener` in the background for as long as the process runs (tests and
/// benches; `run` is the server's own loop with shutdown).
pub fn spawn(state: AppState, listener: tokio::net::TcpListener) {
    tokio::spawn(crate::hooks::worker::run(
        state.clone(),
        Duration::from_millis(200),
    ));
    tokio::spawn(crate::outbox::sender::run(
        state.clone(),
        Duration::from_millis(50),
    ));
    let limits = limits(&state.config);
    if state.config.metrics_listen.is_some() {
        let state = state.clone();
        tokio::spawn(async move { serve_metrics(&state, limits).await });
    }
    let app = build_router(state);
    tokio::spawn(listener::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
}

/// Serves `/metrics` on `FLOWDECK_METRICS_LISTEN` when it is set.
async fn serve_metrics(
    state: &AppState,
    limits: listener::Limits,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(addr) = state.config.metrics_listen else {
        return Ok(None);
    };
    let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr} for /metrics: {e} (FLOWDECK_METRICS_LISTEN)")
    })?;
    tracing::info!(listen = %addr, "serving /metrics on its own address");
    Ok(Some(tokio::spawn(listener::serve(
        l,
        ops::metrics_router(state.clone()),
        limits,
        std::future::pending(),
    ))))
}

/// The connection limits `config` sets.
pub fn limits(config: &crate::config::Config) -> listener::Limits {
    listener::Limits {
        header_timeout: Duration::from_secs(config.header_timeout_seconds),
        keepalive: Duration::from_secs(config.keepalive_seconds),
        max_connections: config.max_connections,
    }
}

/// Raises the soft open-files limit to the hard limit (many systems start services at 1024,
/// which a few hundred idle sockets exhaust); returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn janitor(state: AppState) {
    use tower_sessions::session_store::ExpiredDeletion;
    let store = PostgresStore::new(state.pool.clone());
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = store.delete_expired().await {
            tracing::warn!(error = %e, "could not delete expired sessions");
        }
        if let Err(e) = auth::prune_login_throttle(&state.pool).await {
            tracing::warn!(error = %e, "could not prune login failures");
        }
        if let Err(e) = crate::deploys::fold_old_samples(&state.pool).await {
            tracing::warn!(error = %e, "could not summarise old health samples");
        }
        if let Err(e) = api::forget_old_idempotency_keys(&state.pool).await {
            tracing::warn!(error = %e, "could not delete old idempotency keys");
        }
        if let Err(e) = crate::outbox::forget_old(&state.pool).await {
            tracing::warn!(error = %e, "could not delete old notifications");
        }
    }
}
