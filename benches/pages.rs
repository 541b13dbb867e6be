//! Page budgets (DESIGN §5), measured: throughput and latency of flowdeck's pages against a
//! minimal axum + sqlx "fortunes" page served by the same process, on the same database server.
//!
//! `cargo bench --bench pages` (uses `FLOWDECK_BENCH_DATABASE_URL`, default the local
//! PostgreSQL as user postgres). Prints requests/s, p50 and p99 per page, the home/fortunes
//! ratio (budget ≥ 50 %), and home p99 at half of its peak rate (budget ≤ 20 ms).

mod common;

use axum::{Router, extract::State, response::Html, routing::get};
use common::{CONCURRENCY, RUN, measure, report};
use sqlx::PgPool;

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
    let (id, password) = common::bench_admin(pool).await;
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
