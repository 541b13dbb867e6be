//! Page budgets (DESIGN §5, issue 16), measured: each main page's throughput as a share of a
//! minimal axum + sqlx "fortunes" page served by the same process on the same database, with
//! the demo data; then each page in an open loop at half of its own peak rate, latency counted
//! from each request's intended start (p50 / p99 / p99.9) — a closed loop hides tail latency.
//!
//! `cargo bench --bench pages` (uses `FLOWDECK_BENCH_DATABASE_URL`, default the local
//! PostgreSQL as user postgres). Budgets: home ≥ 50 % of fortunes, every list page ≥ 40 %, p99 ≤
//! 20 ms at half of peak. Caches are on, as in `flowdeck serve`.

mod common;

use axum::{Router, extract::State, response::Html, routing::get};
use common::{RUN, measure_with};
use sqlx::PgPool;

/// Connections in the closed loop (the measurement used 64).
const CONNECTIONS: usize = 64;

#[tokio::main]
async fn main() {
    let name = "flowdeck_bench";
    let (pool, admin) = common::fresh(name).await;
    let password = seed(&pool).await;
    let addr = common::serve(&pool).await;

    // The baseline: one query of 12 rows, add one, sort, render a table.
    let fl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let faddr = fl.local_addr().unwrap();
    let fortunes = Router::new()
        .route("/fortunes", get(fortunes))
        .with_state(pool.clone());
    tokio::spawn(async move { axum::serve(fl, fortunes).await.unwrap() });

    let client = common::logged_in(addr, &password).await;
    let base = format!("http://{addr}");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "flowdeck page bench: {cores} cores, {CONNECTIONS} connections, {RUN:?} per run, demo data\n"
    );
    let baseline = measure_with(
        &reqwest::Client::new(),
        &format!("http://{faddr}/fortunes"),
        None,
        CONNECTIONS,
    )
    .await;
    println!(
        "{:<24} {:>8} {:>9} {:>8} {:>8} | {:>9} {:>8} {:>8} {:>9}",
        "page", "req/s", "fortunes", "p50 ms", "p99 ms", "open r/s", "p50 ms", "p99 ms", "p99.9 ms"
    );
    println!(
        "{:<24} {:>8.0} {:>8.0}% {:>8.2} {:>8.2} |",
        "fortunes (baseline)", baseline.rps, 100.0, baseline.p50, baseline.p99
    );
    for path in [
        "/",
        "/deployments",
        "/deployments/history",
        "/releases",
        "/team",
        "/docs",
        "/reviews",
        "/updates",
        "/insight",
    ] {
        let url = format!("{base}{path}");
        let peak = measure_with(&client, &url, None, CONNECTIONS).await;
        let half = measure_with(&client, &url, Some(peak.rps / 2.0), CONNECTIONS).await;
        println!(
            "{path:<24} {:>8.0} {:>8.0}% {:>8.2} {:>8.2} | {:>9.0} {:>8.2} {:>8.2} {:>9.2}",
            peak.rps,
            peak.rps / baseline.rps * 100.0,
            peak.p50,
            peak.p99,
            peak.rps / 2.0,
            half.p50,
            half.p99,
            half.p999
        );
    }
    println!(
        "\nbudgets: home ≥ 50 % and list pages ≥ 40 % of fortunes; p99 ≤ 20 ms at half of peak"
    );
    let bytes = client
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();
    let css = reqwest::get(format!("{base}/style/app.css"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();
    println!(
        "home page weight: {bytes} B HTML + {css} B CSS = {:.1} KB  (budget ≤ 60 KB)",
        (bytes + css) as f64 / 1024.0
    );
    pool.close().await;
    common::drop_db(&admin, name).await;
}

async fn fortunes(State(pool): State<PgPool>) -> Html<String> {
    let mut rows: Vec<(i32, String)> = sqlx::query_as("select id, message from fortune")
        .fetch_all(&pool)
        .await
        .unwrap();
    rows.push((0, "Additional fortune added at request time.".into()));
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    let mut html = String::from(
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>",
    );
    for (id, m) in rows {
        let m = m
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        html.push_str(&format!("<tr><td>{id}</td><td>{m}</td></tr>"));
    }
    html.push_str("</table></body></html>");
    Html(html)
}

/// The demo team and its data (`flowdeck demo`), the fortunes table, and admin `bench`.
/// Returns bench's password.
async fn seed(pool: &PgPool) -> String {
    sqlx::raw_sql(
        "create table fortune (id int primary key, message text not null);
         insert into fortune select n, 'fortune number ' || n || ' <b>bold</b>' from generate_series(1, 12) n;",
    )
    .execute(pool)
    .await
    .unwrap();
    flowdeck::demo::load(pool).await.unwrap();
    let (_, password) = common::bench_admin(pool).await;
    password
}
