//! The outbox budget (DESIGN §5, issue 13): a backlog of 10,000 notifications drains to a local
//! receiver at ≥ 200/s while a page's p99 stays ≤ 20 ms. `cargo bench --bench outbox`.
//!
//! The receiver is a minimal HTTP server in this process answering 200; the backlog is one
//! signed-webhook destination (the sender keeps a destination's order, so this is the slowest
//! shape: one row after another). The page is `/` (home) at 50 requests/s, open loop, measured
//! before and during the drain.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

const BACKLOG: i64 = 10_000;
const PAGE_RATE: f64 = 50.0;

#[tokio::main]
async fn main() {
    let name = "flowdeck_bench_outbox";
    let (pool, admin) = common::fresh(name).await;
    let (_, password) = common::bench_admin(&pool).await;
    let addr = common::serve(&pool).await;
    let client = common::logged_in(addr, &password).await;
    let page = format!("http://{addr}/");

    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::OK
            }
        }),
    );
    let rl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", rl.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(rl, receiver).await.unwrap() });

    println!("flowdeck outbox bench: {BACKLOG} notifications to one local signed webhook\n");
    println!("{:<52} {:>8} {:>8} {:>8}", "", "req", "p50 ms", "p99 ms");
    let idle = open_loop(&client, &page, Duration::from_secs(4), || false).await;
    println!(
        "{:<52} {:>8} {:>8.2} {:>8.2}",
        "GET / at 50/s, idle", idle.0, idle.1, idle.2
    );

    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "insert into notify_destinations (name, kind, url, secret) values ('bench', 'webhook', $1, 'bench-secret')",
    )
    .bind(&hook)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::raw_sql(&format!(
        "insert into outbox (event, payload, text, link)
           select 'deployment.failed', jsonb_build_object('n', n), 'api v1.0.' || n || ' failed in prod', '/deployments'
           from generate_series(1, {BACKLOG}) n;
         insert into notify_deliveries (outbox_id, destination_id)
           select o.id, d.id from outbox o, notify_destinations d order by o.id;"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let start = Instant::now();
    let counter = received.clone();
    let during = open_loop(&client, &page, Duration::from_secs(120), move || {
        counter.load(Ordering::Relaxed) >= BACKLOG as u64
    })
    .await;
    let drained = start.elapsed();
    let n = received.load(Ordering::Relaxed);
    println!(
        "{:<52} {:>8} {:>8.2} {:>8.2}",
        "GET / at 50/s, while the backlog drains", during.0, during.1, during.2
    );
    println!(
        "\ndrained {n} of {BACKLOG} in {:.1} s: {:.0} notifications/s",
        drained.as_secs_f64(),
        n as f64 / drained.as_secs_f64()
    );
    let sent: i64 =
        sqlx::query_scalar("select count(*) from notify_deliveries where status = 'sent'")
            .fetch_one(&pool)
            .await
            .unwrap();
    println!("rows marked sent: {sent}; received: {n} (more would mean a row sent twice)");
    println!("\nbudget: ≥ 200 notifications/s, page p99 ≤ 20 ms meanwhile\n");
    pool.close().await;
    common::drop_db(&admin, name).await;
}

/// Requests `url` at PAGE_RATE until `done()` or `limit`; returns (count, p50, p99) in ms.
async fn open_loop(
    client: &reqwest::Client,
    url: &str,
    limit: Duration,
    done: impl Fn() -> bool,
) -> (usize, f64, f64) {
    let start = Instant::now();
    let mut lat = Vec::new();
    let mut n = 0u32;
    let mut inflight = tokio::task::JoinSet::new();
    while start.elapsed() < limit && !done() {
        let due = start + Duration::from_secs_f64(f64::from(n) / PAGE_RATE);
        tokio::time::sleep_until(due.into()).await;
        let (client, url) = (client.clone(), url.to_string());
        // Timed from the intended start, so a slow response cannot hide the ones queued behind it.
        inflight.spawn(async move {
            let r = client.get(&url).send().await.unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap();
            due.elapsed().as_secs_f64() * 1000.0
        });
        n += 1;
        while let Some(Ok(ms)) = inflight.try_join_next() {
            lat.push(ms);
        }
    }
    while let Some(Ok(ms)) = inflight.join_next().await {
        lat.push(ms);
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    (lat.len(), pct(0.5), pct(0.99))
}
