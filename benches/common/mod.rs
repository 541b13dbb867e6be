//! Shared by the benches: a fresh database, the app on a free port, a logged-in client, and a
//! closed- or open-loop load measurement.
#![allow(dead_code)]

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use flowdeck::{auth::model::Role, config::Config, db, state::AppState};
use sqlx::{Connection, PgConnection, PgPool};

pub const CONCURRENCY: usize = 16;
pub const RUN: Duration = Duration::from_secs(4);

/// A fresh, migrated database `name` on the bench server (`FLOWDECK_BENCH_DATABASE_URL`).
pub async fn fresh(name: &str) -> (PgPool, String) {
    let admin = std::env::var("FLOWDECK_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut c = PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL for the bench");
    sqlx::raw_sql(&format!("drop database if exists {name} with (force)"))
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::raw_sql(&format!("create database {name}"))
        .execute(&mut c)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let pool = db::pool(&url).await.unwrap();
    db::migrate(&pool).await.unwrap();
    (pool, admin)
}

pub async fn drop_db(admin: &str, name: &str) {
    let mut c = PgConnection::connect(admin).await.unwrap();
    let _ = sqlx::raw_sql(&format!("drop database if exists {name} with (force)"))
        .execute(&mut c)
        .await;
}

/// flowdeck exactly as `serve` builds it, on a free port.
pub async fn serve(pool: &PgPool) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(pool.clone(), Config::for_listen(addr));
    // As `flowdeck serve` does: caches on, kept coherent by the listener (off with
    // FLOWDECK_BENCH_NO_CACHE=1, to measure what the caches bring).
    if std::env::var("FLOWDECK_BENCH_NO_CACHE").is_err() {
        tokio::spawn(flowdeck::cache::listen(pool.clone(), state.cache.clone()));
    }
    for _ in 0..100 {
        if std::env::var("FLOWDECK_BENCH_NO_CACHE").is_ok() {
            break;
        }
        if state.cache.listening() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    flowdeck::server::spawn(state, listener);
    addr
}

/// A free loopback address for a server process to listen on.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Waits until a `flowdeck serve` process at `addr` answers `/readyz` (panics after 30 s).
pub async fn until_ready(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = reqwest::Client::new();
    loop {
        if let Ok(r) = http.get(format!("http://{addr}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "flowdeck did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates admin `bench` and returns its password.
pub async fn bench_admin(pool: &PgPool) -> (i64, String) {
    let password = "bench password 123".to_string();
    let form = flowdeck::auth::ops::AccountForm {
        handle: "bench".into(),
        display_name: "Bench".into(),
        email: String::new(),
        timezone: "UTC".into(),
        new_password: password.clone(),
        confirm: password.clone(),
    };
    let valid = flowdeck::auth::ops::validate_account(&form).unwrap();
    let mut tx = pool.begin().await.unwrap();
    let id = flowdeck::auth::ops::create_account(
        &mut tx,
        &flowdeck::audit::Actor::system("bench"),
        valid,
        Role::Admin,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (id.0, password)
}

pub struct Result {
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

pub fn report(name: &str, r: &Result) {
    println!("{name:<52} {:>8.0} {:>8.2} {:>8.2}", r.rps, r.p50, r.p99);
}

/// Closed loop with CONCURRENCY workers, or open loop at `rate` req/s when given.
pub async fn measure(client: &reqwest::Client, url: &str, rate: Option<f64>) -> Result {
    measure_with(client, url, rate, CONCURRENCY).await
}

/// One request at a time: the latency a single user sees on an idle server.
pub async fn measure_serial(client: &reqwest::Client, url: &str) -> Result {
    measure_with(client, url, None, 1).await
}

pub async fn measure_with(
    client: &reqwest::Client,
    url: &str,
    rate: Option<f64>,
    workers: usize,
) -> Result {
    measure_spread(client, &[url.to_string()], rate, workers).await
}

/// `measure_with` over several addresses of the same page (replicas): worker `w` sends to
/// `urls[w % urls.len()]`, so the load is spread evenly.
pub async fn measure_spread(
    client: &reqwest::Client,
    urls: &[String],
    rate: Option<f64>,
    workers: usize,
) -> Result {
    // Warm up.
    for url in urls {
        for _ in 0..20 {
            let r = client.get(url).send().await.unwrap();
            assert!(r.status().is_success(), "{url}: {}", r.status());
            r.bytes().await.unwrap();
        }
    }
    let start = Instant::now();
    let lat = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, url, lat) = (client.clone(), urls[w % urls.len()].clone(), lat.clone());
        tasks.push(tokio::spawn(async move {
            let mut n: u64 = 0;
            while start.elapsed() < RUN {
                if let Some(rate) = rate {
                    // Each worker sends at rate/CONCURRENCY, staggered.
                    let due = start
                        + Duration::from_secs_f64((n as f64 * workers as f64 + w as f64) / rate);
                    tokio::time::sleep_until(due.into()).await;
                    if start.elapsed() >= RUN {
                        break;
                    }
                }
                // Open loop: latency counts from when the request was due (a late start is
                // the server's fault too); closed loop: from when it was sent.
                let t = match rate {
                    Some(rate) => {
                        start
                            + Duration::from_secs_f64((n as f64 * workers as f64 + w as f64) / rate)
                    }
                    None => Instant::now(),
                };
                let r = client.get(&url).send().await.unwrap();
                r.bytes().await.unwrap();
                lat.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
                n += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut l = lat.lock().unwrap().clone();
    l.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| l[((l.len() as f64 * p) as usize).min(l.len() - 1)];
    Result {
        rps: l.len() as f64 / start.elapsed().as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        p999: pct(0.999),
    }
}

pub async fn logged_in(addr: SocketAddr, password: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let token = &login_token(&client, &format!("http://{addr}")).await;
    let r = client
        .post(format!("http://{addr}/login"))
        .form(&[("handle", "bench"), ("password", password), ("csrf", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER, "bench login");
    client
}

/// Opens the login form with `client` (keeping its pre-session cookie) and returns its token.
pub async fn login_token(client: &reqwest::Client, base: &str) -> String {
    form_token(client, &format!("{base}/login")).await
}

/// The CSRF token of the form on the page at `url`, opened with `client`'s session.
pub async fn form_token(client: &reqwest::Client, url: &str) -> String {
    let page = client.get(url).send().await.unwrap().text().await.unwrap();
    csrf_in(&page)
}

/// The CSRF token of the form on `page`.
pub fn csrf_in(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a form with a csrf field") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}
