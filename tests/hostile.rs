//! Hostile clients and hostile input through the real server (accept loop, router, database):
//! anonymous visitors store nothing, the login limits hold under concurrency without locking the
//! owner out, password hashing is bounded, slow and idle sockets cannot starve `/healthz`, control
//! characters and oversized versions never reach PostgreSQL, redirects stay on this site,
//! textareas keep their text, stored URLs are web addresses, a failed session save after a
//! committed write is reported as saved, and a database outage answers 503 quickly.

mod common;

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use common::{Client, PASSWORD, TestApp};
use flowdeck::auth::model::Role;
use reqwest::StatusCode;

async fn session_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from tower_sessions.session")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_anonymous_visitor_stores_nothing_until_logging_in() {
    let app = TestApp::spawn().await;
    app.account("ann", Role::Member).await;
    let c = app.client();
    for _ in 0..30 {
        assert_eq!(c.get("/login").await.status, StatusCode::OK);
    }
    c.get("/").await;
    c.get("/docs?q=x").await;
    c.get("/setup?token=nope").await;
    // A form posted to a page that needs a login: told to log in, still nothing stored.
    let r = c.post_raw("/me/online", &[("csrf", "x")], &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        session_rows(&app).await,
        0,
        "anonymous requests stored sessions"
    );

    let page = c.get("/login").await;
    assert!(
        page.body.contains("Your session has ended"),
        "the flash came through its cookie"
    );
    assert_eq!(c.login("ann", PASSWORD).await.status, StatusCode::SEE_OTHER);
    assert_eq!(session_rows(&app).await, 1);
    assert_eq!(c.get("/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_login_form_refuses_a_token_that_does_not_match_this_browser() {
    let app = TestApp::spawn().await;
    app.account("ann", Role::Member).await;
    let mine = app.client();
    let theirs = app.client();
    let their_token = theirs.get("/login").await.csrf();
    mine.get("/login").await;
    let with_their_token = |c: &Client| {
        let fields = [
            ("handle", "ann".to_string()),
            ("password", PASSWORD.to_string()),
            ("csrf", their_token.clone()),
        ];
        let (base, http) = (c.base.clone(), c.http.clone());
        async move {
            http.post(format!("{base}/login"))
                .form(&fields)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        with_their_token(&mine).await,
        StatusCode::FORBIDDEN,
        "another browser's token was accepted"
    );
    // A browser that never loaded the form has no nonce: refused too.
    assert_eq!(with_their_token(&app.client()).await, StatusCode::FORBIDDEN);
    assert_eq!(
        mine.login("ann", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

/// Fires `n` logins for `handle` at once, each from its own browser; returns the statuses.
async fn login_burst(app: &TestApp, handle: &str, password: &str, n: usize) -> Vec<StatusCode> {
    let mut clients = Vec::new();
    for _ in 0..n {
        let c = app.client();
        let token = c.get("/login").await.csrf();
        clients.push((c, token));
    }
    let tasks = clients.into_iter().map(|(c, token)| {
        let (handle, password) = (handle.to_string(), password.to_string());
        tokio::spawn(async move {
            c.post_raw(
                "/login",
                &[
                    ("handle", &handle),
                    ("password", &password),
                    ("csrf", &token),
                ],
                &[],
            )
            .await
            .status
        })
    });
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(statuses: &[StatusCode], s: StatusCode) -> usize {
    statuses.iter().filter(|x| **x == s).count()
}

#[tokio::test]
async fn concurrent_wrong_passwords_cannot_race_past_the_account_limit() {
    let app = TestApp::spawn_with(|c| {
        c.login_failures_per_account = 100;
        c.login_free_failures = 1_000; // no delays: only the hard limit is under test
        c.login_failures_per_ip = 10_000;
        c.login_queue_ms = 120_000;
    })
    .await;
    app.account("ann", Role::Member).await;
    let statuses = login_burst(&app, "ann", "wrong guess!", 150).await;
    assert_eq!(
        count(&statuses, StatusCode::UNPROCESSABLE_ENTITY),
        100,
        "{statuses:?}"
    );
    assert_eq!(
        count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        50,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn failures_slow_unknown_devices_down_but_a_device_that_logged_in_before_gets_through() {
    let app = TestApp::spawn_with(|c| {
        c.login_free_failures = 2;
        c.login_max_delay_seconds = 600;
    })
    .await;
    app.account("ann", Role::Member).await;
    let laptop = app.client();
    assert_eq!(
        laptop.login("ann", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    laptop.post("/logout", &[]).await;

    let attacker = app.client();
    for _ in 0..3 {
        attacker.login("ann", "guess guess").await;
    }
    let slowed = attacker.login("ann", "guess guess").await;
    assert_eq!(slowed.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(slowed.body.contains("Try again in"), "{}", slowed.body);
    let wait: u64 = slowed.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&wait), "Retry-After {wait}");
    // The right password from a browser that never logged in waits like everyone else…
    assert_eq!(
        app.client().login("ann", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …but the owner's laptop, which logged in before, is not locked out.
    let back = laptop.login("ann", PASSWORD).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
    assert_eq!(laptop.get("/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_login_flood_beyond_the_hashing_slots_gets_503_with_retry_after_never_500() {
    let app = TestApp::spawn_with(|c| {
        c.login_queue_ms = 1;
        c.login_failures_per_ip = 10_000;
    })
    .await;
    let mut clients = Vec::new();
    for _ in 0..24 {
        let c = app.client();
        let token = c.get("/login").await.csrf();
        clients.push((c, token));
    }
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, (c, token))| {
            tokio::spawn(async move {
                let handle = format!("nobody{i}");
                let fields = [
                    ("handle", handle.as_str()),
                    ("password", "x y z w"),
                    ("csrf", &token),
                ];
                c.post_raw("/login", &fields, &[]).await
            })
        })
        .collect();
    let mut busy = 0;
    for t in tasks {
        let p = t.await.unwrap();
        match p.status {
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert_eq!(p.headers["retry-after"], "2");
                assert!(p.body.contains("try again"), "{}", p.body);
            }
            StatusCode::UNPROCESSABLE_ENTITY => {}
            other => panic!("unexpected {other}: {}", p.body),
        }
    }
    assert!(
        busy > 0,
        "24 logins at once never found every hashing slot busy"
    );
}

#[tokio::test]
async fn control_characters_anywhere_get_a_422_naming_the_field_and_store_nothing() {
    let app = TestApp::spawn().await;
    let anon = app.client();
    let token = anon.get("/login").await.csrf();
    let r = anon
        .post_raw(
            "/login",
            &[("handle", "ann\0"), ("password", "x"), ("csrf", &token)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("The field “handle” contains a control character"),
        "{}",
        r.body
    );
    for path in [
        "/login?next=/%0D%0ASet-Cookie:x=1",
        "/login?next=%00",
        "/login?next=/%7F",
    ] {
        let r = anon.get(path).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert!(r.body.contains("“next”"), "{path}");
    }

    let ann = app.logged_in("ann", Role::Member).await;
    let r = ann.get("/docs?q=%00").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("“q”") && r.body.contains("Log out"),
        "with the navigation"
    );
    assert_eq!(
        ann.get("/team/%00ann").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let r = ann
        .post(
            "/me/offline",
            &[("for", "2h"), ("until", ""), ("reason", "lunch\u{1b}[31m")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("“reason”"));
    let events = app.count("select count(*) from presence_events").await;
    assert_eq!(events, 0, "nothing was written");
    // Line breaks and tabs in a text field are fine.
    let ok = ann
        .post(
            "/me/offline",
            &[("for", "2h"), ("until", ""), ("reason", "a\r\n\tb")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
}

#[tokio::test]
async fn a_version_too_large_for_the_database_is_refused_with_the_reason() {
    let app = TestApp::spawn().await;
    let lead = app.logged_in("lee", Role::Lead).await;
    lead.post(
        "/releases",
        &[("name", "server"), ("url", ""), ("default_branch", "")],
    )
    .await;
    let r = lead
        .post(
            "/releases/server/tags",
            &[("tag", "v2147483648.0.0"), ("commit", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("at most 999999999"));
    assert!(r.body.contains("v2147483648.0.0"), "what was typed is kept");
}

#[tokio::test]
async fn after_login_only_a_path_on_this_site_is_followed() {
    let app = TestApp::spawn().await;
    app.account("ann", Role::Member).await;
    for (next, expected) in [
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("/ /evil.example", "/"),
        ("/docs?q=a", "/docs?q=a"),
    ] {
        let c = app.client();
        let r = c
            .post(
                "/login",
                &[("handle", "ann"), ("password", PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(r.location(), Some(expected), "next={next:?}");
    }
}

fn doc_fields(background: &str) -> Vec<(&'static str, String)> {
    vec![
        ("title", "Escaping".into()),
        ("kind", "proposal".into()),
        ("tags", "".into()),
        ("target_line", "".into()),
        ("background", background.into()),
        ("objectives", "o".into()),
        ("conclusion", "".into()),
    ]
}

async fn post_fields(c: &Client, path: &str, fields: &[(&'static str, String)]) -> common::Page {
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.post(path, &f).await
}

/// The text of the textarea named `name` on `html`, with character references decoded the way
/// a browser decodes them (enough for these tests).
fn textarea_text(html: &str, name: &str) -> String {
    let start = html.find(&format!("name=\"{name}\"")).expect("textarea");
    let open_end = html[start..].find('>').unwrap() + start + 1;
    let close = html[open_end..].find("</textarea>").unwrap() + open_end;
    html[open_end..close]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn textareas_keep_markup_and_entities_as_text_through_edit_and_save() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    let payload = "</textarea><img src=x onerror=alert(1)><a href=/x formaction=/y>go</a> &lt;b&gt; &amp;amp;";
    let created = post_fields(&ann, "/docs", &doc_fields(payload)).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    for round in 0..2 {
        let edit = ann.get("/docs/1/edit").await;
        assert!(
            !edit.body.contains("<img src=x"),
            "a live element on the editor"
        );
        assert!(
            !edit.body.contains("<a href=/x"),
            "a live link on the editor"
        );
        let text = textarea_text(&edit.body, "background");
        assert_eq!(text, payload, "round {round}: the text changed");
        let version: i32 = sqlx::query_scalar("select version from docs where number = 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let mut f = doc_fields(&text);
        f.push(("version", version.to_string()));
        let saved = post_fields(&ann, "/docs/1", &f).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    }
    let stored: String = sqlx::query_scalar("select background from docs where number = 1")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        stored, payload,
        "two edits later the stored text is unchanged"
    );
    // The 422 page of a refused save and the import page escape too.
    let mut f = doc_fields(payload);
    f[0].1 = String::new();
    f.push(("version", "1".into()));
    let refused = post_fields(&ann, "/docs/1", &f).await;
    assert!(!refused.body.contains("<img src=x"), "{}", refused.body);
    let import = ann.post("/docs/import", &[("markdown", payload)]).await;
    assert!(!import.body.contains("<img src=x"));
    assert_eq!(textarea_text(&import.body, "markdown"), payload);
}

#[tokio::test]
async fn only_web_addresses_are_stored_as_urls() {
    let app = TestApp::spawn().await;
    let lead = app.logged_in("lee", Role::Lead).await;
    let r = lead
        .post(
            "/environments",
            &[
                ("name", "prod"),
                ("tier", "production"),
                ("position", ""),
                ("url", "javascript:alert(1)"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("web address starting with https://"));
    assert!(
        r.body.contains("javascript:alert(1)"),
        "what was typed is kept"
    );
    let r = lead
        .post(
            "/releases",
            &[
                ("name", "server"),
                ("url", "data:text/html,x"),
                ("default_branch", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let stored: i64 = sqlx::query_scalar(
        "select (select count(*) from environments) + (select count(*) from repositories)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, 0);
    let ok = lead
        .post(
            "/environments",
            &[
                ("name", "prod"),
                ("tier", "production"),
                ("position", ""),
                ("url", "https://prod.example.com"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
}

#[tokio::test]
async fn a_committed_write_is_never_answered_with_an_empty_500_when_the_session_cannot_be_saved() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    ann.get("/me").await; // the CSRF token is in the session before writes start failing
    sqlx::raw_sql(
        "create function refuse_session_write() returns trigger language plpgsql as
           $$ begin raise exception 'disk full'; end $$;
         create trigger no_session_writes before insert or update on tower_sessions.session
           for each row execute function refuse_session_write();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    // A write whose response sets only a flash: no session write at all.
    let r = ann.post("/me/online", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let me = ann.get("/me").await;
    assert!(me.body.contains("You are online."), "the flash arrived");
    // A write that must update the session (a password change): saved, and the page says so.
    let r = ann
        .post(
            "/profile/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
                ("confirm", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Your change was saved"), "{}", r.body);
    assert!(!r.body.trim().is_empty());
    // A login must store a session, which the trigger refuses: a page that says so.
    let fresh = app.client();
    let r = fresh.login("ann", "a brand new passphrase").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.body.contains("could not finish this request"));
}

/// Serves the real router on a database that is not there.
async fn app_without_database() -> String {
    let pool = flowdeck::db::pool_lazy("postgres://postgres@127.0.0.1:9/nowhere").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = flowdeck::state::AppState::new(pool, flowdeck::config::Config::for_listen(addr));
    flowdeck::server::spawn(state, listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn while_the_database_is_down_probes_and_pages_answer_503_quickly() {
    let base = app_without_database().await;
    let http = reqwest::Client::new();
    let started = Instant::now();
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let started = Instant::now();
    let r = http.get(format!("{base}/login")).send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("cannot reach its database")
    );
}

/// Opens `n` TCP connections to `addr` (on a blocking thread) and leaves them open.
async fn connect_many(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    tokio::task::spawn_blocking(move || {
        (0..n)
            .map(|_| {
                let s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                s
            })
            .collect()
    })
    .await
    .unwrap()
}

/// True when the server closed `s` (EOF or reset) rather than leaving it open.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a response; keep reading until the close
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

async fn healthz_answers_quickly(app: &TestApp) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let r = http.get(format!("{}/healthz", app.base)).send().await;
    assert!(
        matches!(&r, Ok(r) if r.status() == 200),
        "/healthz did not answer: {r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_slow_and_idle_connections_never_stop_healthz_and_are_closed() {
    let app = TestApp::spawn_with(|c| {
        c.header_timeout_seconds = 2;
        c.keepalive_seconds = 2;
        c.max_connections = 1024;
    })
    .await;
    let mut silent = connect_many(app.addr, 150).await;
    let mut trickling = connect_many(app.addr, 100).await;
    let mut idle = connect_many(app.addr, 50).await;
    idle = tokio::task::spawn_blocking(move || {
        for s in &mut idle {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 512];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        }
        idle
    })
    .await
    .unwrap();
    // The trickling ones send their head one byte at a time while healthz is asked.
    let head = b"GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n\r\n";
    for i in 0..6 {
        trickling = tokio::task::spawn_blocking(move || {
            for s in &mut trickling {
                let _ = s.write_all(&head[i..i + 1]);
            }
            trickling
        })
        .await
        .unwrap();
        healthz_answers_quickly(&app).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Past the timeouts every one of them is closed by the server.
    let (s, t, i) = tokio::task::spawn_blocking(move || {
        let s = silent
            .iter_mut()
            .map(closed_by_server)
            .filter(|c| *c)
            .count();
        let t = trickling
            .iter_mut()
            .map(closed_by_server)
            .filter(|c| *c)
            .count();
        let i = idle.iter_mut().map(closed_by_server).filter(|c| *c).count();
        (s, t, i)
    })
    .await
    .unwrap();
    assert_eq!((s, t, i), (150, 100, 50), "silent, trickling, idle closed");
    healthz_answers_quickly(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_limit_the_longest_idle_connection_makes_room() {
    let app = TestApp::spawn_with(|c| {
        c.max_connections = 32;
        c.header_timeout_seconds = 60;
    })
    .await;
    let mut hogs = connect_many(app.addr, 64).await;
    for _ in 0..5 {
        healthz_answers_quickly(&app).await;
    }
    let closed = tokio::task::spawn_blocking(move || {
        hogs.iter_mut()
            .take(20)
            .map(|s| {
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                closed_by_server(s)
            })
            .filter(|c| *c)
            .count()
    })
    .await
    .unwrap();
    assert_eq!(
        closed, 20,
        "the oldest idle connections were closed to make room"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_body_never_arrives_is_answered_503_after_the_request_timeout() {
    let app = TestApp::spawn_with(|c| c.request_timeout_seconds = 1).await;
    let addr = app.addr;
    let started = Instant::now();
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(
            b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 100\r\n\r\nhandle=a",
        )
        .unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).to_string()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_postgresql_mid_session_answers_503_with_retry_after_and_probes_tell() {
    use flowdeck::{auth::ops, db};
    let tmp = tempfile::Builder::new()
        .prefix("flowdeck-pgstop-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = tmp.path().join("data");
    let mut pg = tokio::task::spawn_blocking(move || db::EmbeddedPg::start(&data))
        .await
        .unwrap()
        .unwrap();
    db::ensure_database(&pg.url("postgres"), "flowdeck")
        .await
        .unwrap();
    let pool = db::pool(&pg.url("flowdeck")).await.unwrap();
    db::migrate(&pool).await.unwrap();
    let form = ops::AccountForm {
        handle: "ann".into(),
        display_name: "Ann".into(),
        email: String::new(),
        timezone: "UTC".into(),
        new_password: PASSWORD.into(),
        confirm: PASSWORD.into(),
    };
    let mut tx = pool.begin().await.unwrap();
    ops::create_account(
        &mut tx,
        &flowdeck::audit::Actor::system("test"),
        ops::validate_account(&form).unwrap(),
        Role::Member,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = flowdeck::state::AppState::new(pool, flowdeck::config::Config::for_listen(addr));
    flowdeck::server::spawn(state, listener);
    let ann = Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: format!("http://{addr}"),
    };
    assert_eq!(
        ann.login("ann", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(ann.get("/docs").await.status, StatusCode::OK);

    tokio::task::spawn_blocking(move || pg.stop())
        .await
        .unwrap();

    let started = Instant::now();
    let page = ann.get("/docs").await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    assert!(page.headers.contains_key("retry-after"));
    assert!(page.body.contains("cannot reach its database"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        ann.get("/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(ann.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_anonymous_client_cannot_make_the_server_hold_a_large_body() {
    let app = TestApp::spawn().await;
    app.account("ann", Role::Member).await;
    let anon = app.client();
    let token = anon.get("/login").await.csrf();
    let big = "x".repeat(64 * 1024);
    let r = anon
        .post_raw(
            "/login",
            &[("handle", "ann"), ("password", &big), ("csrf", &token)],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body.contains("larger than flowdeck accepts"));
    // A signed-in member may send a long form (a design doc).
    let ann = app.logged_in("bea", Role::Member).await;
    let body = "y".repeat(200 * 1024);
    let created = ann
        .post(
            "/docs",
            &[
                ("title", "Long"),
                ("kind", "proposal"),
                ("background", &body),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
}
