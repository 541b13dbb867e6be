//! The accept loop, with the limits a server on a hostile network needs and `axum::serve` does
//! not offer: a new connection must send its first request head within the header timeout; an
//! idle keep-alive connection (or one trickling the next request's head) is closed after the
//! keep-alive timeout; at most `max_connections` are open, and when full the longest-idle
//! connection is closed to make room (a flood of silent sockets cannot lock out `/healthz`).
//! On shutdown it stops accepting, lets in-flight requests finish and closes idle connections.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    net::TcpListener,
    sync::{Notify, watch},
    task::JoinSet,
    time::Instant,
};
use tower::ServiceExt;

/// Connection limits (from `Config`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub keepalive: Duration,
    pub max_connections: usize,
}

/// What the accept loop knows of one open connection.
struct Conn {
    /// Requests being answered now.
    in_flight: AtomicUsize,
    /// Requests answered so far (0: still waiting for the first head → header timeout applies).
    served: AtomicU64,
    /// When the connection last became idle (accepted, or its last response was produced), in
    /// milliseconds since `epoch`.
    idle_since_ms: AtomicU64,
    kill: Notify,
    epoch: Instant,
}

impl Conn {
    fn new(epoch: Instant) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            idle_since_ms: AtomicU64::new(epoch.elapsed().as_millis() as u64),
            kill: Notify::new(),
            epoch,
        }
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    fn end(&self) {
        self.served.fetch_add(1, Ordering::SeqCst);
        self.idle_since_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// When an idle connection must be closed, or `None` while it is answering a request.
    fn idle_deadline(&self, limits: &Limits) -> Option<Instant> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let limit = if self.served.load(Ordering::SeqCst) == 0 {
            limits.header_timeout
        } else {
            limits.keepalive
        };
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst));
        Some(self.epoch + since + limit)
    }
}

/// Open connections by id, to find the longest-idle one when the limit is reached.
#[derive(Default)]
struct Registry {
    next_id: u64,
    open: HashMap<u64, Arc<Conn>>,
}

impl Registry {
    /// Closes the longest-idle connection (it leaves the registry at once, so each newcomer
    /// makes room by closing a different one). False when every connection is busy.
    fn evict_longest_idle(&mut self) -> bool {
        let victim = self
            .open
            .iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::SeqCst) == 0)
            // Ties (same millisecond) go to the earlier connection.
            .min_by_key(|(id, c)| (c.idle_since_ms.load(Ordering::SeqCst), **id))
            .map(|(id, _)| *id);
        match victim.and_then(|id| self.open.remove(&id)) {
            Some(c) => {
                c.kill.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then waits for open connections to finish
/// their in-flight requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let epoch = Instant::now();
    let registry = Arc::new(Mutex::new(Registry::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: wait a
                    // little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            () = &mut shutdown => break,
        };
        let conn = Arc::new(Conn::new(epoch));
        let id = {
            let mut r = registry.lock().unwrap_or_else(|p| p.into_inner());
            if r.open.len() >= limits.max_connections && !r.evict_longest_idle() {
                tracing::warn!(%peer, "connection limit reached and none idle; refused");
                drop(stream);
                continue;
            }
            r.next_id += 1;
            let id = r.next_id;
            r.open.insert(id, conn.clone());
            id
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let registry = registry.clone();
        let stop = stop_rx.clone();
        tasks.spawn(async move {
            serve_one(stream, peer, app, conn, limits, stop).await;
            registry
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .open
                .remove(&id);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
}

async fn serve_one(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    conn: Arc<Conn>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let tracker = conn.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        tracker.begin();
        req.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        let tracker = tracker.clone();
        async move {
            let resp = app.oneshot(req.map(Body::new)).await;
            tracker.end();
            Ok::<_, Infallible>(resp.unwrap_or_else(|e| match e {}))
        }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let http = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
    let mut http = std::pin::pin!(http);
    let mut stopping = false;
    loop {
        let deadline = conn
            .idle_deadline(&limits)
            .unwrap_or_else(|| Instant::now() + limits.keepalive);
        tokio::select! {
            _ = http.as_mut() => return,
            () = tokio::time::sleep_until(deadline) => {
                if conn.idle_deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    return; // idle too long: dropping the connection closes it
                }
            }
            () = conn.kill.notified() => return,
            _ = stop.changed(), if !stopping => {
                stopping = true;
                http.as_mut().graceful_shutdown();
            }
        }
    }
}
