//! Test harness: each test gets its own PostgreSQL database (created from the server at
//! `FLOWDECK_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`, or an
//! embedded server under `target/` when none answers there), migrated, and the real router
//! (`server::build_router`) served over real HTTP on a free loopback port.
#![allow(dead_code)]

pub mod process;
pub mod receiver;

use std::{
    net::SocketAddr,
    time::{SystemTime, UNIX_EPOCH},
};

use flowdeck::{
    audit::Actor,
    auth::{model::Role, ops},
    config::Config,
    db,
    state::AppState,
};
use reqwest::{StatusCode, redirect::Policy};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

pub const PASSWORD: &str = "correct horse battery";

static ADMIN_URL: OnceCell<String> = OnceCell::const_new();

/// The maintenance URL of the test server, found (or started) once per test binary.
async fn admin_url() -> &'static str {
    ADMIN_URL
        .get_or_init(|| async {
            let url = std::env::var("FLOWDECK_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            if let Ok(mut c) = PgConnection::connect(&url).await {
                drop_stale_databases(&mut c).await;
                return url;
            }
            // No server there: start (or attach to) an embedded one shared by all test binaries.
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("flowdeck-test-pg");
            tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&dir).unwrap();
                let lock = std::fs::File::create(dir.join("lock")).unwrap();
                lock.lock().unwrap();
                let pg = db::EmbeddedPg::start(&dir.join("data")).unwrap_or_else(|e| {
                    panic!(
                        "no PostgreSQL at {url} and the embedded one failed: {e:#}\n\
                         Start PostgreSQL or set FLOWDECK_TEST_DATABASE_URL."
                    )
                });
                let url = pg.url("postgres");
                pg.detach();
                url
            })
            .await
            .unwrap()
        })
        .await
}

/// Test databases are named `flowdeck_test_<unix seconds>_<random>`; drop those over an hour old.
async fn drop_stale_databases(c: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("select datname from pg_database where datname like 'flowdeck_test_%'")
            .fetch_all(&mut *c)
            .await
            .unwrap_or_default();
    let now = now_secs();
    for name in names {
        let born = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(now);
        if now.saturating_sub(born) > 3600 {
            let _ = sqlx::raw_sql(&format!("drop database if exists \"{name}\" with (force)"))
                .execute(&mut *c)
                .await;
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A fresh, migrated database and its URL.
pub async fn fresh_database() -> (PgPool, String) {
    let url = empty_database().await;
    let pool = db::pool(&url).await.unwrap();
    db::migrate(&pool).await.unwrap();
    (pool, url)
}

/// The URL of a new, empty database.
pub async fn empty_database() -> String {
    let admin = admin_url().await;
    let name = format!(
        "flowdeck_test_{}_{}",
        now_secs(),
        uuid::Uuid::new_v4().simple()
    );
    let mut c = PgConnection::connect(admin).await.unwrap();
    sqlx::raw_sql(&format!("create database \"{name}\""))
        .execute(&mut c)
        .await
        .unwrap();
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => unreachable!("a database URL has a path"),
    }
}

pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub pool: PgPool,
    /// The URL of this test's database (for running the binary against it).
    pub db_url: String,
    pub state: AppState,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Serves the real router with its clock pinned at `at` (move it with `app.state.clock.set`).
    pub async fn spawn_at(at: &str) -> Self {
        let at = chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&chrono::Utc);
        Self::spawn_full(|_| {}, flowdeck::clock::Clock::fixed(at)).await
    }

    /// Serves the real router with a config adjusted by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_full(tweak, flowdeck::clock::Clock::system()).await
    }

    /// `spawn_at` with a config adjusted by `tweak`.
    pub async fn spawn_at_with(at: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let at = chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&chrono::Utc);
        Self::spawn_full(tweak, flowdeck::clock::Clock::fixed(at)).await
    }

    async fn spawn_full(tweak: impl FnOnce(&mut Config), clock: flowdeck::clock::Clock) -> Self {
        let (pool, db_url) = fresh_database().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config::for_listen(addr);
        tweak(&mut config);
        let mut state = AppState::new(pool.clone(), config);
        state.clock = clock;
        flowdeck::server::spawn(state.clone(), listener);
        Self {
            base: format!("http://{addr}"),
            addr,
            pool,
            db_url,
            state,
        }
    }

    /// Turns this app's caches on, as `flowdeck serve` does: a listener keeps them coherent.
    pub async fn listen(&self) {
        start_listening(&self.pool, &self.state).await;
    }

    /// Another replica on this test's database, as a second `flowdeck serve` would be: its own
    /// connection pool, caches and cache listener, background workers and address.
    pub async fn replica(&self) -> Replica {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(&self.db_url)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut state = AppState::new(pool.clone(), Config::for_listen(addr));
        state.clock = self.state.clock.clone();
        start_listening(&pool, &state).await;
        flowdeck::server::spawn(state.clone(), listener);
        Replica {
            base: format!("http://{addr}"),
            state,
        }
    }

    /// The number `sql` selects (`select count(*) from …`), for asserting what was written.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    /// A browser-like client: keeps cookies, does not follow redirects.
    pub fn client(&self) -> Client {
        browser(&self.base)
    }

    /// Creates an account directly (as `flowdeck admin create` would), in Europe/Berlin.
    pub async fn account(&self, handle: &str, role: Role) -> i64 {
        self.account_in(handle, role, "Europe/Berlin").await
    }

    /// Creates an account in time zone `tz`.
    pub async fn account_in(&self, handle: &str, role: Role, tz: &str) -> i64 {
        account_on(&self.pool, handle, role, tz).await
    }

    /// A client logged in as a new account with `role`.
    pub async fn logged_in(&self, handle: &str, role: Role) -> Client {
        self.logged_in_as(handle, role, "Europe/Berlin").await
    }

    /// A client logged in as a new account with `role` in time zone `tz`.
    pub async fn logged_in_as(&self, handle: &str, role: Role, tz: &str) -> Client {
        self.account_in(handle, role, tz).await;
        let c = self.client();
        let r = c.login(handle, PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "login of {handle} failed");
        c
    }
}

/// Creates an account in database `pool` directly (as `flowdeck admin create` would), with
/// display name "<handle> display" and password `PASSWORD`.
pub async fn account_on(pool: &PgPool, handle: &str, role: Role, tz: &str) -> i64 {
    let form = ops::AccountForm {
        handle: handle.into(),
        display_name: format!("{handle} display"),
        email: format!("{handle}@example.com"),
        timezone: tz.into(),
        new_password: PASSWORD.into(),
        confirm: PASSWORD.into(),
    };
    let valid = ops::validate_account(&form).unwrap();
    let mut tx = pool.begin().await.unwrap();
    let id = ops::create_account(&mut tx, &Actor::system("test"), valid, role)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id.0
}

/// A browser-like client of the flowdeck at `base`: keeps cookies, does not follow redirects.
pub fn browser(base: &str) -> Client {
    Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap(),
        base: base.to_string(),
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

/// A second (third, …) replica of a test's app.
pub struct Replica {
    pub base: String,
    pub state: AppState,
}

impl Client {
    /// The same browser (cookies and all) talking to another replica.
    pub fn on(&self, base: &str) -> Client {
        Client {
            http: self.http.clone(),
            base: base.to_string(),
        }
    }
}

async fn start_listening(pool: &PgPool, state: &AppState) {
    tokio::spawn(flowdeck::cache::listen(pool.clone(), state.cache.clone()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !state.cache.listening() {
        assert!(
            std::time::Instant::now() < deadline,
            "the cache listener connects"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }
    pub fn csrf(&self) -> String {
        csrf_in(&self.body).expect("page has a csrf field")
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

impl Client {
    pub async fn get(&self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        Self::page(r).await
    }

    async fn page(r: reqwest::Response) -> Page {
        Page {
            status: r.status(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap(),
        }
    }

    /// The CSRF token of this client's session (from a page that shows a form).
    pub async fn csrf(&self) -> String {
        for path in ["/profile", "/login"] {
            let p = self.get(path).await;
            if let Some(t) = csrf_in(&p.body) {
                return t;
            }
        }
        panic!("no page with a csrf token");
    }

    /// Posts a form with this session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &token));
        self.post_raw(path, &all, &[]).await
    }

    /// Posts exactly `fields` with extra `headers`.
    pub async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(fields);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::page(req.send().await.unwrap()).await
    }

    pub async fn login(&self, handle: &str, password: &str) -> Page {
        self.post("/login", &[("handle", handle), ("password", password)])
            .await
    }
}

pub fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository with main, two release branches, a badly named one, a feature branch, and
/// tags — good ones (one annotated) and near-misses.
pub fn make_repo(root: &std::path::Path) -> std::path::PathBuf {
    let dir = root.join("server");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "one"]);
    git(&dir, &["tag", "v1.0.0-rc.1"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "two"]);
    git(&dir, &["tag", "-a", "v1.0.0", "-m", "release 1.0.0"]);
    git(&dir, &["branch", "release-v1.0"]);
    git(&dir, &["tag", "v1.0.1"]);
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "three"]);
    git(&dir, &["tag", "v1.1.0-rc.1"]);
    git(&dir, &["tag", "v1.1.0"]);
    git(&dir, &["branch", "release-v1.1"]);
    for bad in ["v1.2", "v1.1.0-RC2", "v2.0.1"] {
        git(&dir, &["tag", bad]);
    }
    git(&dir, &["branch", "release-1.2"]);
    git(&dir, &["branch", "feature/login"]);
    git(&dir, &["branch", "hotfix/release-v1.1"]);
    dir
}
