//! Page budgets (DESIGN §5), measured: throughput and latency of flowdeck's pages against a
//! minimal axum + sqlx "fortunes" page served by the same process, on the same database server.
//!
//! `cargo bench --bench pages` (uses `FLOWDECK_BENCH_DATABASE_URL`, default the local
//! PostgreSQL as user postgres). Prints requests/s, p50 and p99 per page, the home/fortunes
//! ratio (budget ≥ 50 %), and home p99 at half of its peak rate (budget ≤ 20 ms).

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Router, extract::State, response::Html, routing::get};
use flowdeck::{auth::model::Role, config::Config, db, state::AppState};
use sqlx::{Connection, PgConnection, PgPool};

const CONCURRENCY: usize = 16;
const RUN: Duration = Duration::from_secs(4);

#[tokio::main]
async fn main() {
    let admin = std::env::var("FLOWDECK_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = "flowdeck_bench";
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
    let password = seed(&pool).await;

    // flowdeck, exactly as `serve` builds it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(pool.clone(), Config::for_listen(addr));
    let app =
        flowdeck::server::build_router(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The baseline: one query of 12 rows, add one, sort, render a table.
    let fl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let faddr = fl.local_addr().unwrap();
    let fortunes = Router::new()
        .route("/fortunes", get(fortunes))
        .with_state(pool.clone());
    tokio::spawn(async move { axum::serve(fl, fortunes).await.unwrap() });

    let client = logged_in(addr, &password).await;
    let base = format!("http://{addr}");
    println!("flowdeck page bench: {CONCURRENCY} connections, {RUN:?} per page, demo-size data\n");
    println!(
        "{:<34} {:>10} {:>9} {:>9}",
        "page", "req/s", "p50 ms", "p99 ms"
    );
    let baseline = measure(
        &reqwest::Client::new(),
        &format!("http://{faddr}/fortunes"),
        None,
    )
    .await;
    report("fortunes (axum + sqlx baseline)", &baseline);
    let mut home = None;
    for path in [
        "/healthz",
        "/",
        "/team",
        "/leave",
        "/releases",
        "/releases/server",
        "/releases/server/release-v3.29",
        "/admin",
    ] {
        let r = measure(&client, &format!("{base}{path}"), None).await;
        report(path, &r);
        if path == "/" {
            home = Some(r);
        }
    }
    let home = home.unwrap();
    let ratio = home.rps / baseline.rps * 100.0;
    println!("\nhome / fortunes throughput: {ratio:.0} %  (budget ≥ 50 %)");
    let half = measure(&client, &format!("{base}/"), Some(home.rps / 2.0)).await;
    println!(
        "home at half of peak ({:.0} req/s offered): p50 {:.2} ms, p99 {:.2} ms  (budget p99 ≤ 20 ms)",
        home.rps / 2.0,
        half.p50,
        half.p99
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
    let mut c = PgConnection::connect(&admin).await.unwrap();
    let _ = sqlx::raw_sql(&format!("drop database if exists {name} with (force)"))
        .execute(&mut c)
        .await;
}

struct Result {
    rps: f64,
    p50: f64,
    p99: f64,
}

fn report(name: &str, r: &Result) {
    println!("{name:<34} {:>10.0} {:>9.2} {:>9.2}", r.rps, r.p50, r.p99);
}

/// Closed loop with CONCURRENCY workers, or open loop at `rate` req/s when given.
async fn measure(client: &reqwest::Client, url: &str, rate: Option<f64>) -> Result {
    // Warm up.
    for _ in 0..20 {
        let r = client.get(url).send().await.unwrap();
        assert!(r.status().is_success(), "{url}: {}", r.status());
        r.bytes().await.unwrap();
    }
    let start = Instant::now();
    let lat = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let mut tasks = Vec::new();
    for w in 0..CONCURRENCY {
        let (client, url, lat) = (client.clone(), url.to_string(), lat.clone());
        tasks.push(tokio::spawn(async move {
            let mut n: u64 = 0;
            while start.elapsed() < RUN {
                if let Some(rate) = rate {
                    // Each worker sends at rate/CONCURRENCY, staggered.
                    let due = start
                        + Duration::from_secs_f64(
                            (n as f64 * CONCURRENCY as f64 + w as f64) / rate,
                        );
                    tokio::time::sleep_until(due.into()).await;
                    if start.elapsed() >= RUN {
                        break;
                    }
                }
                let t = Instant::now();
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
    }
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

/// Demo-size data: 50 members with check-ins and leave, 30 release lines with tags, plus the
/// fortunes table. Returns the password of `bench` (an admin).
async fn seed(pool: &PgPool) -> String {
    sqlx::raw_sql(
        "create table fortune (id int primary key, message text not null);
         insert into fortune select n, 'fortune number ' || n || ' <b>bold</b>' from generate_series(1, 12) n;
         insert into accounts (handle, display_name, role, password_hash, timezone)
           select 'member' || n, 'Member ' || n, 'member', 'x',
                  (array['Europe/Berlin','Asia/Shanghai','America/Los_Angeles','UTC'])[1 + n % 4]
           from generate_series(1, 49) n;
         insert into presence_events (account_id, state, at, until, reason)
           select id, (array['online','away','offline'])[1 + id % 3], now() - interval '1 hour',
                  case when id % 3 = 2 then now() + interval '2 hours' end, ''
           from accounts;
         insert into presence_current (account_id, event_id)
           select account_id, max(id) from presence_events group by account_id;
         insert into leave_requests (account_id, starts_on, ends_on, starts_at, ends_at, timezone, kind)
           select id, current_date + (id % 20)::int, current_date + (id % 20)::int + 2,
                  (current_date + (id % 20)::int)::timestamptz, (current_date + (id % 20)::int + 3)::timestamptz, 'UTC', 'vacation'
           from accounts where id % 5 = 0;",
    )
    .execute(pool)
    .await
    .unwrap();
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
    sqlx::raw_sql(&format!(
        "insert into repositories (name, owner_id) values ('server', {id});
         insert into release_lines (repository_id, name, major, minor, owner_id)
           select 1, 'release-v3.' || n, 3, n, {id} from generate_series(0, 29) n;
         insert into release_lines (repository_id, name, owner_id) values (1, 'main', {id});
         insert into release_tags (repository_id, line_id, name, major, minor, patch, commit_sha, tagged_at, source)
           select 1, l.id, 'v3.' || l.minor || '.' || p, 3, l.minor, p, md5(l.minor || '.' || p), now(), 'import'
           from release_lines l cross join generate_series(0, 9) p where l.major = 3;"
    ))
    .execute(pool)
    .await
    .unwrap();
    password
}

async fn logged_in(addr: SocketAddr, password: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let page = client
        .get(format!("http://{addr}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let token = &page[start..start + page[start..].find('"').unwrap()];
    let r = client
        .post(format!("http://{addr}/login"))
        .form(&[("handle", "bench"), ("password", password), ("csrf", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER, "bench login");
    client
}
