//! Probes, security headers, error pages, static files, and the binary's commands.

mod common;

use std::{io::Write, process::Stdio};

use common::{PASSWORD, TestApp};
use flowdeck::auth::model::Role;
use reqwest::StatusCode;

#[tokio::test]
async fn healthz_and_readyz_answer_without_login() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let h = c.get("/healthz").await;
    assert_eq!((h.status, h.body.as_str()), (StatusCode::OK, "ok\n"));
    let r = c.get("/readyz").await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ready\n"));
}

#[tokio::test]
async fn readyz_fails_while_migrations_are_missing() {
    let app = TestApp::spawn().await;
    sqlx::query("delete from _sqlx_migrations")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.client().get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn every_page_carries_the_security_headers_and_no_script() {
    let app = TestApp::spawn().await;
    let c = app.logged_in("sec", Role::Admin).await;
    for path in ["/login", "/", "/admin", "/docs", "/no-such-page"] {
        let p = c.get(path).await;
        let csp = p
            .headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap();
        for part in [
            "default-src 'none'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{path}: CSP lacks {part}");
        }
        assert!(!csp.contains("script-src"), "no script is allowed");
        assert_eq!(p.headers.get("x-content-type-options").unwrap(), "nosniff");
        assert!(p.headers.contains_key("referrer-policy"));
        assert!(
            p.headers.contains_key("x-request-id"),
            "{path} has a request id"
        );
        assert!(!p.body.contains("<script"), "{path} has no script");
        assert!(
            !p.headers.contains_key("strict-transport-security"),
            "no HSTS over http"
        );
    }
}

#[tokio::test]
async fn over_https_cookies_are_secure_host_prefixed_and_hsts_is_sent() {
    let app = TestApp::spawn_with(|c| {
        c.public_origin = Some("https://flowdeck.example.com".into());
        c.https = true;
    })
    .await;
    app.account("sec", Role::Member).await;
    let c = app.client();
    let p = c.get("/login").await;
    let pre = p.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(pre.starts_with("__Host-flowdeck_pre="), "{pre}");
    assert!(pre.to_ascii_lowercase().contains("secure"));
    assert!(p.headers.contains_key("strict-transport-security"));
    // The client is on http, so it would not send a Secure cookie back: send it by hand.
    let nonce = pre.split(';').next().unwrap();
    let r = c
        .post_raw(
            "/login",
            &[
                ("handle", "sec"),
                ("password", PASSWORD),
                ("csrf", &p.csrf()),
            ],
            &[("cookie", nonce)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let set: Vec<&str> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    for name in ["__Host-flowdeck=", "__Host-flowdeck_device="] {
        let c = set.iter().find(|c| c.starts_with(name)).expect(name);
        let lower = c.to_ascii_lowercase();
        assert!(
            lower.contains("secure") && lower.contains("httponly"),
            "{c}"
        );
        assert!(
            lower.contains("samesite=lax") && lower.contains("path=/"),
            "{c}"
        );
    }
}

#[tokio::test]
async fn unknown_pages_get_a_readable_404_after_login() {
    let app = TestApp::spawn().await;
    let anon = app.client().get("/no-such-page").await;
    assert_eq!(
        anon.status,
        StatusCode::SEE_OTHER,
        "anonymous visitors are sent to log in"
    );
    let c = app.logged_in("nf", Role::Member).await;
    let p = c.get("/no-such-page").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.body.contains("There is nothing at this address"));
}

#[tokio::test]
async fn the_stylesheet_is_fingerprinted_cached_and_revalidated() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let login = c.get("/login").await.body;
    let start = login.find("/style/app.").unwrap();
    let href: String = login[start..].chars().take_while(|c| *c != '"').collect();
    let css = c.get(&href).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(css.body.contains(".topnav"));
    let etag = css
        .headers
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let again = c
        .http
        .get(format!("{}/style/app.css", app.base))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

fn flowdeck() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_flowdeck"))
}

#[tokio::test]
async fn admin_create_reads_the_password_from_stdin_and_the_account_can_log_in() {
    let app = TestApp::spawn().await;
    let url = app.db_url.clone();
    let mut child = flowdeck()
        .args([
            "admin", "create", "--handle", "cli-made", "--role", "lead", "--name", "Cli Made",
        ])
        .env("DATABASE_URL", &url)
        .env("FLOWDECK_LOG_FORMAT", "json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created lead account `cli-made`"));
    assert_eq!(
        app.client().login("cli-made", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    let dup = flowdeck()
        .args(["admin", "create", "--handle", "cli-made"])
        .env("DATABASE_URL", &url)
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    assert!(!dup.status.success());
}

#[test]
fn an_unreachable_database_url_stops_the_start_with_a_clear_message() {
    let out = flowdeck()
        .args(["migrate"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
}

#[tokio::test]
async fn a_failing_migration_stops_the_start_with_its_reason() {
    let url = common::empty_database().await;
    let pool = flowdeck::db::pool(&url).await.unwrap();
    // Something already owns the name the first migration creates.
    sqlx::query("create table accounts (x int)")
        .execute(&pool)
        .await
        .unwrap();
    let out = flowdeck()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a database migration failed; flowdeck did not start"),
        "{err}"
    );
    assert!(err.contains("already exists"), "the cause is named: {err}");
}

#[test]
fn without_database_url_or_server_binaries_the_error_says_what_to_install() {
    let out = flowdeck()
        .args(["migrate"])
        .env_remove("DATABASE_URL")
        .env("FLOWDECK_PG_BIN", "/nonexistent")
        .env("FLOWDECK_DATA_DIR", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FLOWDECK_PG_BIN=/nonexistent has no initdb and pg_ctl"),
        "{err}"
    );
}

#[tokio::test]
async fn the_demo_team_comes_with_a_week_of_availability_and_release_history() {
    let app = TestApp::spawn().await;
    let logins = flowdeck::demo::load(&app.pool)
        .await
        .unwrap()
        .expect("loaded");
    assert_eq!(logins.len(), 8);
    assert!(
        flowdeck::demo::load(&app.pool).await.unwrap().is_none(),
        "loads once"
    );
    let (_, _, password) = &logins[0];
    let ada = app.client();
    assert_eq!(
        ada.login("ada", password).await.status,
        StatusCode::SEE_OTHER
    );

    let board = ada.get("/team").await.body;
    for state in [
        "online",
        "away",
        "offline",
        "overdue",
        "on leave",
        "emergency",
    ] {
        assert!(board.contains(state), "the demo board shows {state}");
    }
    let server = ada.get("/releases/server").await.body;
    for line in [
        "release-v3.8",
        "release-v3.7",
        "release-v3.6",
        "release-v3.5",
        "end of life",
    ] {
        assert!(server.contains(line), "{line}");
    }
    let tags = app.count("select count(*) from release_tags").await;
    assert!(tags >= 30);
    assert!(server.contains("Fix session fixation on reconnect"));

    let matrix = ada.get("/deployments").await.body;
    for s in [
        "api",
        "rpc-user",
        "rpc-msg",
        "msggateway",
        "msgtransfer",
        "push",
        "web",
    ] {
        assert!(matrix.contains(&format!(">{s}</a>")), "{s} in the matrix");
    }
    assert!(
        matrix.contains("v3.6.2 is more than one minor behind api v3.8.1"),
        "a skew warning"
    );
    assert!(matrix.contains("Bundle plan for customer-site"));
    assert_eq!(
        matrix.matches("class=\"cell down\"").count(),
        1,
        "one service is down now (msggateway in prod)"
    );
    assert!(matrix.matches("health-up").count() >= 12, "the rest are up");
    let flapping = ada.get("/services/msggateway").await.body;
    let prod = flapping
        .split("prod: ")
        .nth(1)
        .and_then(|s| s.split(" % up over ").next())
        .and_then(|p| p.parse::<f64>().ok())
        .expect("prod's uptime over the last 24 hours");
    assert!((70.0..95.0).contains(&prod), "it flaps: {prod} % up");
    assert!(
        ada.get("/services/api")
            .await
            .body
            .contains("prod: 100.00 % up over 28"),
        "a steady service"
    );
    assert!(
        ada.get("/services/push")
            .await
            .body
            .contains("docker.io has no linux/arm64 image")
    );
    assert!(
        ada.get("/services/rpc-msg")
            .await
            .body
            .contains("digests disagree between registries")
    );
    let incidents = app.count("select count(*) from incidents").await;
    assert_eq!(
        incidents, 8,
        "two on the matrix's services, six from the months of production deployments insight reads"
    );
    let attributed = app
        .count("select count(*) from incidents where caused_by is not null")
        .await;
    assert!(
        attributed >= 5,
        "attributed by default or by name: {attributed}"
    );
    let deployments = app.count("select count(*) from deployments").await;
    assert!(deployments > 150, "months of deployments: {deployments}");

    let states: Vec<String> = sqlx::query_scalar("select distinct status from docs order by 1")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(states.len(), 9, "docs in every state: {states:?}");
    let docs = ada.get("/docs").await.body;
    assert!(docs.contains("Lease health probes through PostgreSQL"));
    let verdicts = app
        .count("select count(*) from doc_reviewers where verdict is not null")
        .await;
    assert!(verdicts >= 20);
}

#[tokio::test]
async fn error_pages_keep_the_navigation_and_the_signed_in_user() {
    let app = TestApp::spawn().await;
    let c = app.logged_in("nav", Role::Member).await;
    for (path, status, text) in [
        (
            "/docs/9999",
            StatusCode::NOT_FOUND,
            "There is nothing at this address",
        ),
        (
            "/no-such-page",
            StatusCode::NOT_FOUND,
            "There is nothing at this address",
        ),
        (
            "/docs/not-a-number",
            StatusCode::BAD_REQUEST,
            "could not read this request",
        ),
    ] {
        let p = c.get(path).await;
        assert_eq!(p.status, status, "{path}");
        assert!(p.body.contains(text), "{path}: {}", p.body);
        assert!(
            p.body.contains("Log out") && p.body.contains("nav display"),
            "{path}: no navigation"
        );
    }
    let refused = c
        .post("/environments", &[("name", "x"), ("tier", "staging")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("Log out"),
        "a 403 keeps the navigation"
    );
}

/// The samples of a Prometheus text exposition: (name with labels, value); panics on a line that
/// is neither a comment nor a sample.
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l}"));
            let v = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("a value: {l}")),
            };
            (series.to_string(), v)
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_parse_as_prometheus_text() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    assert_eq!(ann.get("/team/ann").await.status, StatusCode::OK);
    let anon = app.client();
    let refused = anon.login("ann", "not the password").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = reqwest::get(format!("{}/metrics", app.base)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "open without a token");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    let all = samples(&text);
    let find = |prefix: &str, has: &[&str]| {
        all.iter()
            .filter(|(s, _)| s.starts_with(prefix) && has.iter().all(|h| s.contains(h)))
            .map(|(_, v)| *v)
            .sum::<f64>()
    };
    assert!(
        find(
            "flowdeck_http_requests_total{",
            &[
                "route=\"/team/{handle}\"",
                "method=\"GET\"",
                "status=\"200\""
            ]
        ) >= 1.0,
        "{text}"
    );
    assert!(!text.contains("/team/ann"), "never raw paths");
    assert!(
        find(
            "flowdeck_http_request_duration_seconds_count{",
            &["route=\"/team/{handle}\""]
        ) >= 1.0
    );
    assert!(find("flowdeck_db_pool_connections", &[]) >= 1.0);
    assert!(find("flowdeck_build_info{", &["version=\""]) == 1.0);
    assert!(find("flowdeck_outbox_pending", &[]) >= 0.0 && text.contains("flowdeck_outbox_dead"));
    assert!(
        find("flowdeck_login_failures_total{", &["reason=\"refused\""]) >= 1.0,
        "{text}"
    );
}

#[tokio::test]
async fn metrics_behind_a_token_refuse_anyone_without_it() {
    let app = TestApp::spawn_with(|c| {
        c.metrics_token = Some(secrecy::SecretString::from("s3cret-metrics".to_string()))
    })
    .await;
    let url = format!("{}/metrics", app.base);
    let none = reqwest::get(&url).await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let wrong = reqwest::Client::new()
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ok = reqwest::Client::new()
        .get(&url)
        .bearer_auth("s3cret-metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.text().await.unwrap().contains("flowdeck_build_info"));
}

#[tokio::test]
async fn with_a_metrics_address_metrics_move_there_and_the_main_address_hides_them() {
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = TestApp::spawn_with(|c| c.metrics_listen = Some(metrics_addr)).await;
    // A page view on the main address is counted, and visible on the metrics address.
    let c = app.client();
    assert_eq!(c.get("/login").await.status, StatusCode::OK);
    assert_eq!(c.get("/metrics").await.status, StatusCode::NOT_FOUND);
    let url = format!("http://{metrics_addr}/metrics");
    let mut body = String::new();
    for _ in 0..100 {
        // The metrics listener starts beside the app; give it a moment to bind.
        if let Ok(r) = reqwest::get(&url).await {
            assert_eq!(r.status(), StatusCode::OK);
            body = r.text().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        body.lines()
            .any(|l| l.starts_with("flowdeck_http_requests_total{")
                && l.contains("route=\"/login\"")
                && l.contains("status=\"200\"")),
        "{body}"
    );
    let health = reqwest::get(format!("http://{metrics_addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// Runs the flowdeck binary against `url`; (success, stdout + stderr).
fn run_cli(url: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowdeck"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn counts(pool: &sqlx::PgPool) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in [
        "accounts",
        "deployments",
        "incidents",
        "docs",
        "release_tags",
        "change_records",
        "updates",
        "milestones",
        "blockers",
        "insight_days",
        "insight_failures",
        "audit_log",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {t}"))
            .fetch_one(pool)
            .await
            .unwrap();
        out.push((t.to_string(), n));
    }
    out
}

#[tokio::test]
async fn a_backup_restores_into_a_fresh_database_with_the_same_rows_and_never_over_data() {
    let app = TestApp::spawn().await;
    flowdeck::demo::load(&app.pool).await.unwrap();
    let before = counts(&app.pool).await;
    assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flowdeck.dump");
    let file_s = file.to_str().unwrap();
    let (ok, said) = run_cli(&app.db_url, &["backup", file_s]);
    assert!(ok, "{said}");
    assert!(std::fs::metadata(&file).unwrap().len() > 10_000);

    // Into a fresh database: the same rows.
    let (fresh, fresh_url) = common::fresh_database().await;
    let (ok, said) = run_cli(&fresh_url, &["restore", file_s]);
    assert!(ok, "{said}");
    assert!(said.contains("restored from"), "{said}");
    assert_eq!(counts(&fresh).await, before);

    // Into a database with data: refused, nothing changed; with --force, replaced.
    let (ok, said) = run_cli(&app.db_url, &["restore", file_s]);
    assert!(!ok);
    assert!(
        said.contains("not empty") && said.contains("--force"),
        "{said}"
    );
    let (ok, said) = run_cli(&app.db_url, &["restore", "--force", file_s]);
    assert!(ok, "{said}");
    assert_eq!(counts(&app.pool).await, before);
    // A file that is not a backup: a clear error, the database untouched (one transaction).
    let junk = dir.path().join("junk.dump");
    std::fs::write(&junk, b"not a dump").unwrap();
    let (ok, said) = run_cli(&fresh_url, &["restore", "--force", junk.to_str().unwrap()]);
    assert!(!ok);
    assert!(said.contains("pg_restore failed"), "{said}");
    assert_eq!(counts(&fresh).await, before);
}
