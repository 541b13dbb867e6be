//! Browser journeys in headless Chromium (Debian's `chromium` + `chromium-driver`), driven over
//! WebDriver by fantoccini against the real server. Screenshots land in `target/screenshots/`.

mod common;

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{PASSWORD, TestApp};
use fantoccini::{Client, ClientBuilder, Locator};
use flowdeck::auth::model::Role;

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_chromedriver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (Debian: apt-get install chromium chromium-driver)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver { child, port }
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    browser_sized(driver, profile, "1200,900").await
}

/// A browser whose window is `size` ("390,844" is a phone).
async fn browser_sized(driver: &Driver, profile: &std::path::Path, size: &str) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    let binary = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .unwrap_or("/usr/bin/chromium");
    // Headless Chromium will not make a window narrower than 500 px: a phone is emulated.
    let mobile = size
        .split_once(',')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|(w, _)| *w < 500)
        .map(|(w, h)| serde_json::json!({ "deviceMetrics": { "width": w, "height": h, "pixelRatio": 2.0, "mobile": true, "touch": true } }));
    let size = if mobile.is_some() { "500,900" } else { size };
    let mut options = serde_json::json!({
        "binary": binary,
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", format!("--window-size={size}"),
            format!("--user-data-dir={}", profile.display()),
        ]
    });
    if let Some(m) = mobile {
        options["mobileEmulation"] = m;
    }
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a headless Chromium session")
}

async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Waits until the element `css` shows text containing `want` (pages change under clicks, so
/// an element found too early may belong to the previous page); returns its text.
async fn wait_text(c: &Client, css: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if t.contains(want) {
                return t;
            }
            last = t;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never showed {want:?}; last: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_logs_in_sees_home_and_logs_out_in_a_browser() {
    let app = TestApp::spawn().await;
    app.account("ann", Role::Member).await;
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    c.goto(&format!("{}/", app.base)).await.unwrap();
    wait_text(&c, "h1", "Log in").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));

    // A wrong password keeps the handle and says so.
    type_into(&c, "#f-handle", "ann").await;
    type_into(&c, "#f-password", "wrong password").await;
    click(&c, "button[type=submit]").await;
    wait_text(&c, ".form-error", "Wrong handle or password").await;
    let kept = c
        .find(Locator::Css("#f-handle"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("ann"));
    screenshot(&c, "login-error").await;

    type_into(&c, "#f-password", PASSWORD).await;
    click(&c, "main button[type=submit]").await;
    wait_text(&c, "h1", "Good to see you, ann display").await;
    wait_text(&c, ".me a[href='/profile']", "ann display").await;
    screenshot(&c, "home").await;

    click(&c, ".me button").await;
    wait_text(&c, "h1", "Log in").await;
    c.goto(&format!("{}/profile", app.base)).await.unwrap();
    wait_text(&c, "h1", "Log in").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_invites_a_lead_who_joins_in_a_browser() {
    let app = TestApp::spawn().await;
    app.account("boss", Role::Admin).await;
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    log_in(&c, &app.base, "boss").await;
    click(&c, ".navlinks a[href='/admin']").await;
    wait_text(&c, "h1", "Admin").await;
    click(&c, "#invite-role option[value=lead]").await;
    type_into(&c, "#f-note", "for lee").await;
    click(&c, "form[action='/admin/invites'] button").await;
    let flash = wait_text(&c, ".flash-ok", "/invite/").await;
    screenshot(&c, "admin-invite").await;
    let link = flash[flash.find("http").unwrap()..].trim().to_string();

    // The invitee opens the link in a fresh browser profile.
    c.close().await.unwrap();
    let profile2 = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile2.path()).await;
    c.goto(&link).await.unwrap();
    wait_text(&c, "h1", "Join your team on flowdeck").await;
    for (id, v) in [
        ("#f-handle", "lee"),
        ("#f-display_name", "Lee Lead"),
        ("#f-new_password", PASSWORD),
        ("#f-confirm", PASSWORD),
    ] {
        type_into(&c, id, v).await;
    }
    click(&c, "main button[type=submit]").await;
    wait_text(&c, "h1", "Good to see you, Lee Lead").await;
    screenshot(&c, "invitee-home").await;
    c.close().await.unwrap();
}

async fn log_in(c: &Client, base: &str, handle: &str) {
    log_in_with(c, base, handle, PASSWORD).await;
}

async fn log_in_with(c: &Client, base: &str, handle: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    type_into(c, "#f-handle", handle).await;
    type_into(c, "#f-password", password).await;
    click(c, "main button[type=submit]").await;
    wait_text(c, "h1", "Good to see you").await;
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_goes_offline_asks_for_leave_and_a_lead_acknowledges_the_emergency() {
    // Tuesday 10 March 2026, 20:00 in Berlin: tomorrow starts in four hours.
    let app = TestApp::spawn_at("2026-03-10T19:00:00Z").await;
    app.account("ann", Role::Member).await;
    app.account("lea", Role::Lead).await;
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    log_in(&c, &app.base, "ann").await;

    c.goto(&format!("{}/me", app.base)).await.unwrap();
    type_into(&c, "#f-for", "2h").await;
    type_into(&c, "#f-reason", "groceries").await;
    click(&c, "form[action='/me/offline'] button").await;
    wait_text(&c, ".flash-ok", "You are offline").await;
    c.goto(&format!("{}/team", app.base)).await.unwrap();
    let row = wait_text(&c, "tbody tr", "offline").await;
    assert!(
        row.contains("until Tue 22:00") && row.contains("groceries"),
        "{row}"
    );
    screenshot(&c, "team-board").await;

    // Leave from tomorrow, without the emergency mark: refused for notice, input kept.
    c.goto(&format!("{}/me", app.base)).await.unwrap();
    for (id, v) in [("f-starts_on", "2026-03-11"), ("f-ends_on", "2026-03-12")] {
        c.execute(
            "document.getElementById(arguments[0]).value = arguments[1]",
            vec![serde_json::json!(id), serde_json::json!(v)],
        )
        .await
        .unwrap();
    }
    click(&c, "#f-kind option[value=sick]").await;
    type_into(&c, "#f-note", "flu").await;
    click(&c, "form[action='/me/leave'] button").await;
    wait_text(
        &c,
        "#f-starts_on-err",
        "earliest first day now is Thu 12 Mar (Europe/Berlin)",
    )
    .await;
    let kept = c
        .find(Locator::Css("#f-starts_on"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("2026-03-11"));
    screenshot(&c, "leave-refused").await;

    // Marked as an emergency it is accepted and flagged.
    click(&c, "#f-emergency").await;
    click(&c, "form[action='/me/leave'] button").await;
    wait_text(&c, ".flash-ok", "Emergency leave recorded").await;
    let mine = wait_text(&c, "main table tbody", "pending").await;
    assert!(
        mine.contains("emergency") && mine.contains("Wed 11 Mar"),
        "{mine}"
    );

    // A lead acknowledges it from the leave page.
    click(&c, ".me button").await;
    wait_text(&c, "h1", "Log in").await;
    log_in(&c, &app.base, "lea").await;
    c.goto(&format!("{}/leave", app.base)).await.unwrap();
    let pending = wait_text(&c, "#pending + div", "ann display").await;
    assert!(pending.contains("emergency"), "{pending}");
    type_into(
        &c,
        "form[action$='/acknowledge'] input[name=note]",
        "get well",
    )
    .await;
    click(&c, "form[action$='/acknowledge'] button").await;
    wait_text(&c, ".flash-ok", "acknowledged").await;
    screenshot(&c, "leave-calendar").await;
    c.goto(&format!("{}/team/ann", app.base)).await.unwrap();
    wait_text(&c, "main", "by lea: get well").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_imports_a_repository_and_files_a_security_backport() {
    let app = TestApp::spawn().await;
    app.account("lee", Role::Lead).await;
    let tmp = tempfile::tempdir().unwrap();
    let repo = common::make_repo(tmp.path());
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    log_in(&c, &app.base, "lee").await;

    click(&c, ".navlinks a[href='/releases']").await;
    wait_text(&c, "h1", "Release lines").await;
    type_into(&c, "#f-name", "server").await;
    click(&c, "form[action='/releases'] button").await;
    wait_text(&c, ".flash-ok", "Repository server added").await;
    click(&c, "a[href='/releases/server/import']").await;
    type_into(&c, "#f-path", repo.to_str().unwrap()).await;
    click(&c, "form[action='/releases/server/import'] button").await;
    let report = wait_text(&c, ".report", "5 new tags").await;
    assert!(
        report.contains("release-1.2") && report.contains("v1.1.0-rc.2"),
        "{report}"
    );
    screenshot(&c, "import-report").await;

    click(&c, ".report a").await;
    let lines = wait_text(&c, "main table", "release-v1.1").await;
    assert!(
        lines.contains("release-v1.0") && lines.contains("v1.1.0") && lines.contains("active"),
        "{lines}"
    );
    type_into(&c, "#f-title", "Fix token leak in logs").await;
    click(&c, "#f-criticality option[value=security]").await;
    click(&c, "form[action='/releases/server/backports'] button").await;
    wait_text(&c, ".flash-ok", "Backport requested").await;
    screenshot(&c, "repository").await;
    for line in ["release-v1.1", "release-v1.0"] {
        c.goto(&format!("{}/releases/server/{line}", app.base))
            .await
            .unwrap();
        let page = wait_text(&c, "main", "Fix token leak in logs").await;
        assert!(page.contains("pending"), "{line}: {page}");
    }
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_deployment_changes_the_matrix_and_a_failing_health_check_turns_it_red() {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };
    let app = TestApp::spawn().await;
    app.account("lee", Role::Lead).await;
    let lead = app.client();
    lead.login("lee", PASSWORD).await;
    lead.post(
        "/services",
        &[
            ("name", "api"),
            ("role", "api"),
            ("image", "ghcr.io/example/api"),
        ],
    )
    .await;
    lead.post(
        "/environments",
        &[("name", "prod"), ("tier", "production"), ("position", "1")],
    )
    .await;
    // A health endpoint the test turns down.
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let health = axum::Router::new().route(
        "/healthz",
        axum::routing::get(move || {
            let flag = flag.clone();
            async move {
                if flag.load(Ordering::SeqCst) {
                    axum::http::StatusCode::OK
                } else {
                    axum::http::StatusCode::BAD_GATEWAY
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/healthz", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, health).await.unwrap() });
    lead.post(
        "/services/api/health-url",
        &[("environment", "prod"), ("url", &url)],
    )
    .await;
    sqlx::query("update services set probe_failures = 2")
        .execute(&app.pool)
        .await
        .unwrap();
    let probe = reqwest::Client::new();
    let round = || async {
        sqlx::query("update health_targets set next_probe_at = now()")
            .execute(&app.pool)
            .await
            .unwrap();
        flowdeck::deploys::prober::round(&app.state, &probe, "browser-test")
            .await
            .unwrap();
    };

    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    log_in(&c, &app.base, "lee").await;
    click(&c, ".navlinks a[href='/deployments']").await;
    wait_text(&c, "h1", "Deployments").await;
    click(&c, "a[href='/deployments/new']").await;
    click(&c, "#f-service option[value=api]").await;
    click(&c, "#f-environment option[value=prod]").await;
    type_into(&c, "#f-version", "v3.8.1").await;
    click(&c, "form[action='/deployments'] button").await;
    wait_text(&c, ".flash-ok", "recorded").await;
    let row = wait_text(&c, "tbody tr", "v3.8.1").await;
    assert!(!row.contains("down"), "{row}");

    round().await;
    c.refresh().await.unwrap();
    wait_text(&c, "tbody tr", "up").await;
    up.store(false, Ordering::SeqCst);
    round().await;
    round().await;
    c.refresh().await.unwrap();
    wait_text(&c, "tbody tr", "down").await;
    let cell_class = c
        .find(Locator::Css("td.cell"))
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap();
    assert_eq!(
        cell_class.as_deref(),
        Some("cell down"),
        "the cell turns red"
    );
    screenshot(&c, "matrix-down").await;
    c.goto(&format!("{}/services/api", app.base)).await.unwrap();
    let page = wait_text(&c, "main", "prod: 33.33 % up over 3 checks").await;
    assert!(page.contains("Where it runs"));
    screenshot(&c, "service").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_writes_a_doc_two_reviewers_approve_and_a_lead_approves_it() {
    let app = TestApp::spawn().await;
    for (h, r) in [
        ("ann", Role::Member),
        ("bob", Role::Member),
        ("cy", Role::Member),
        ("lea", Role::Lead),
    ] {
        app.account(h, r).await;
    }
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    log_in(&c, &app.base, "ann").await;
    click(&c, ".navlinks a[href='/docs']").await;
    click(&c, "a[href='/docs/new']").await;
    wait_text(&c, "h1", "New design doc").await;
    let background = c.find(Locator::Css("#f-background")).await.unwrap();
    let prompt = background
        .attr("placeholder")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        prompt.contains("What is the situation"),
        "the template's prompt is a placeholder"
    );
    assert_eq!(
        background.prop("value").await.unwrap().as_deref(),
        Some(""),
        "and the section starts empty"
    );
    type_into(&c, "#f-title", "Lease health probes").await;
    for (id, text) in [
        ("#f-background", "Two replicas probe one target."),
        ("#f-objectives", "One prober per target."),
    ] {
        type_into(&c, id, text).await;
    }
    for (i, (title, pro, con)) in [
        ("Advisory locks", "simple", "session bound"),
        ("Leases", "survive crashes", "need a clock"),
    ]
    .iter()
    .enumerate()
    {
        type_into(&c, &format!("#f-alt_title_{i}"), title).await;
        type_into(&c, &format!("#f-alt_pros_{i}"), pro).await;
        type_into(&c, &format!("#f-alt_cons_{i}"), con).await;
    }
    type_into(&c, "#f-conclusion", "Leases.").await;
    click(&c, "form.doc-form button[type=submit]").await;
    wait_text(&c, ".flash-ok", "DD-1 created").await;
    wait_text(&c, "table.compare", "Leases").await;
    wait_text(&c, ".checklist", "Ready for review").await;
    click(&c, "form[action='/docs/1/move'] button").await;
    wait_text(&c, ".flash-ok", "ask more reviewers").await;
    for who in ["bob", "cy", "lea"] {
        let option = wait_text(&c, &format!("#f-reviewer option[value={who}]"), who).await;
        assert!(
            option.contains("—"),
            "the picker shows availability: {option}"
        );
        click(&c, &format!("#f-reviewer option[value={who}]")).await;
        click(&c, "form[action='/docs/1/reviewers'] button").await;
        wait_text(&c, ".flash-ok", &format!("Review requested from {who}")).await;
    }
    screenshot(&c, "doc-in-review").await;

    for who in ["bob", "cy"] {
        click(&c, ".me button").await;
        wait_text(&c, "h1", "Log in").await;
        log_in(&c, &app.base, who).await;
        c.goto(&format!("{}/reviews", app.base)).await.unwrap();
        click(&c, "a[href='/docs/1']").await;
        click(&c, "form[action='/docs/1/verdict'] button[value=approve]").await;
        wait_text(&c, ".flash-ok", "approve").await;
    }
    click(&c, ".me button").await;
    wait_text(&c, "h1", "Log in").await;
    log_in(&c, &app.base, "lea").await;
    c.goto(&format!("{}/docs/1", app.base)).await.unwrap();
    click(&c, "#decide-approve").await;
    type_into(&c, "#f-rationale", "Leases survive a crashed replica.").await;
    click(&c, ".decide button").await;
    wait_text(&c, ".flash-ok", "approved").await;
    let decision = wait_text(&c, ".decision", "approved by lea").await;
    assert!(
        decision.contains("Leases survive a crashed replica."),
        "{decision}"
    );
    wait_text(&c, "main", "approved").await;
    screenshot(&c, "doc-approved").await;
    c.goto(&format!("{}/docs?q=lease", app.base)).await.unwrap();
    wait_text(&c, "tbody", "DD-1").await;
    screenshot(&c, "docs-list").await;
    c.goto(&format!("{}/", app.base)).await.unwrap();
    wait_text(&c, "main", "Your docs").await;
    screenshot(&c, "home-lead").await;
    c.close().await.unwrap();
}

/// Every main page at 390 × 844 with the demo data: nothing wider than the screen, the menu
/// opens without script, wide tables are cards; screenshots `phone-*.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_main_page_fits_a_phone_screen() {
    let app = TestApp::spawn().await;
    let logins = flowdeck::demo::load(&app.pool)
        .await
        .unwrap()
        .expect("a fresh database");
    let (handle, _, password) = logins
        .iter()
        .find(|(h, _, _)| h == "linus")
        .expect("the demo lead")
        .clone();
    let incident = app.count("select max(id) from incidents").await;
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser_sized(&driver, profile.path(), "390,844").await;
    log_in_with(&c, &app.base, &handle, &password).await;
    let width = c.execute("return window.innerWidth", vec![]).await.unwrap();
    assert!(
        width.as_i64().unwrap() <= 400,
        "a phone-sized window: {width}"
    );

    // The navigation is one row; its menu opens without script.
    let nav_height = c
        .execute(
            "return document.querySelector('nav.topnav').getBoundingClientRect().height",
            vec![],
        )
        .await
        .unwrap();
    assert!(nav_height.as_f64().unwrap() < 60.0, "one row: {nav_height}");
    click(&c, ".navmenu summary").await;
    wait_text(&c, ".navmenu", "Deployments").await;
    screenshot(&c, "phone-menu").await;
    click(&c, ".navmenu a[href='/deployments']").await;
    wait_text(&c, "h1", "Deployments").await;
    let display = c
        .execute(
            "return getComputedStyle(document.querySelector('table.cards tr')).display",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(display.as_str(), Some("block"), "the matrix rows are cards");

    let pages = [
        ("home", "/".to_string()),
        ("docs", "/docs".into()),
        ("doc", "/docs/1".into()),
        ("doc-new", "/docs/new".into()),
        ("reviews", "/reviews".into()),
        ("team", "/team".into()),
        ("me", "/me".into()),
        ("leave", "/leave".into()),
        ("member", "/team/ada".into()),
        ("releases", "/releases".into()),
        ("repository", "/releases/server".into()),
        ("line", "/releases/server/release-v3.8".into()),
        ("tag", "/releases/server/tags/v3.8.1".into()),
        ("matrix", "/deployments".into()),
        ("history", "/deployments/history".into()),
        ("record", "/deployments/new".into()),
        ("service", "/services/msggateway".into()),
        ("incidents", "/incidents".into()),
        ("incident", format!("/incidents/{incident}")),
        ("deployment", "/deployments/1".into()),
        ("insight", "/insight".into()),
        ("updates", "/updates".into()),
        ("update-edit", "/updates/edit".into()),
        ("milestones", "/milestones".into()),
        ("blockers", "/blockers".into()),
        ("profile", "/profile".into()),
        ("inbox", "/inbox".into()),
        ("notifications", "/profile/notifications".into()),
    ];
    let mut too_wide = Vec::new();
    for (name, path) in &pages {
        c.goto(&format!("{}{path}", app.base)).await.unwrap();
        wait_text(&c, "footer", "flowdeck").await;
        let h1 = c
            .find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !h1.contains("not found") && !h1.contains("Something went wrong"),
            "{path}: {h1}"
        );
        // Nothing sticks out of the screen: neither the page (scrollWidth) nor an element that
        // something clips (outside a table that scrolls on purpose).
        let report = c
            .execute(
                "const inner = window.innerWidth; \
                 const scroll = document.documentElement.scrollWidth; \
                 const main = document.querySelector('main'); \
                 const edge = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight); \
                 let out = null; \
                 for (const e of document.querySelectorAll('body *')) { \
                   if (e.closest('.table-wrap') || e.closest('details:not([open])')) continue; \
                   const r = e.getBoundingClientRect(); \
                   const limit = (main.contains(e) && e !== main) ? edge : inner; \
                   if (r.width > 0 && r.right > limit + 1 && (!out || r.right > out.right)) \
                     out = {tag: e.tagName, cls: String(e.className), right: Math.round(r.right), text: (e.textContent || '').trim().slice(0, 40)}; \
                 } \
                 return {inner, scroll, out};",
                vec![],
            )
            .await
            .unwrap();
        let (scroll, inner) = (
            report["scroll"].as_i64().unwrap(),
            report["inner"].as_i64().unwrap(),
        );
        // A phone widens its layout viewport (and zooms out) when a page is too wide.
        if inner > 390 || scroll > inner || !report["out"].is_null() {
            too_wide.push(format!(
                "{path}: scrollWidth {scroll}, innerWidth {inner}, widest {}",
                report["out"]
            ));
        }
        screenshot(&c, &format!("phone-{name}")).await;
    }
    assert!(
        too_wide.is_empty(),
        "pages wider than the phone: {too_wide:#?}"
    );
    c.close().await.unwrap();
}

/// A lead rolls a deployment back through the confirmation page, then opens an incident,
/// updates it and resolves it on its own page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_is_confirmed_and_an_incident_is_followed_to_its_resolution() {
    let app = TestApp::spawn().await;
    app.account("lee", Role::Lead).await;
    let lee = app
        .count("select id from accounts where handle = 'lee'")
        .await;
    sqlx::query("insert into services (name, role, owner_id) values ('api', 'api', $1)")
        .bind(lee)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("insert into environments (name, tier) values ('prod', 'production')")
        .execute(&app.pool)
        .await
        .unwrap();
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    log_in(&c, &app.base, "lee").await;
    for v in ["v3.8.0", "v3.8.1"] {
        c.goto(&format!("{}/deployments/new", app.base))
            .await
            .unwrap();
        click(&c, "#f-service option[value=api]").await;
        click(&c, "#f-environment option[value=prod]").await;
        type_into(&c, "#f-version", v).await;
        click(&c, "form[action='/deployments'] button").await;
        wait_text(&c, ".flash-ok", "recorded").await;
    }
    c.goto(&format!("{}/deployments/history", app.base))
        .await
        .unwrap();
    click(&c, "tbody tr:first-child button[type=submit]").await;
    let ask = wait_text(&c, "main", "Roll back api v3.8.1 in prod?").await;
    assert!(ask.contains("will show v3.8.0 again"), "{ask}");
    screenshot(&c, "rollback-confirm").await;
    click(&c, "main button.danger").await;
    wait_text(&c, ".flash-ok", "rolled back").await;
    c.goto(&format!("{}/deployments", app.base)).await.unwrap();
    wait_text(&c, "td.cell", "v3.8.0").await;

    click(&c, ".navlinks a[href='/incidents']").await;
    click(&c, "#f-service option[value=api]").await;
    click(&c, "#f-environment option[value=prod]").await;
    click(&c, "#f-severity option[value=sev2]").await;
    type_into(&c, "#f-title", "Logins fail after v3.8.1").await;
    type_into(&c, "#f-deployment", "2").await;
    click(&c, "form[method=post][action='/incidents'] button").await;
    wait_text(&c, ".flash-ok", "opened").await;
    wait_text(&c, "h1", "Logins fail after v3.8.1").await;
    type_into(&c, "#u-body", "Rolled back to v3.8.0; watching.").await;
    click(&c, "form[action$='/incidents/1'] button").await;
    wait_text(&c, ".flash-ok", "Update added").await;
    type_into(&c, "#r-body", "Error rate back to normal.").await;
    click(&c, "form[action$='/resolve'] button").await;
    wait_text(&c, ".flash-ok", "resolved").await;
    let timeline = wait_text(&c, "ol.timeline", "Error rate back to normal.").await;
    let (o, u, r) = (
        timeline.find("Opened").unwrap(),
        timeline.find("watching").unwrap(),
        timeline.find("Resolved").unwrap(),
    );
    assert!(o < u && u < r, "{timeline}");
    screenshot(&c, "incident-resolved").await;
    c.close().await.unwrap();
}

/// A member creates an API token in the browser, a CI job uses it from the command line, and the
/// deployment shows in the matrix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_made_in_the_browser_records_a_deployment_from_the_command_line() {
    let app = TestApp::spawn().await;
    let owner = app.account("mo", Role::Member).await;
    sqlx::query("insert into services (name, role, owner_id) values ('api', 'api', $1)")
        .bind(owner)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("insert into environments (name, tier) values ('prod', 'production')")
        .execute(&app.pool)
        .await
        .unwrap();
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    log_in(&c, &app.base, "mo").await;
    c.goto(&format!("{}/profile", app.base)).await.unwrap();
    click(&c, "a[href='/profile/tokens']").await;
    wait_text(&c, "h1", "API tokens").await;
    type_into(&c, "#f-name", "CI deploy job").await;
    click(&c, "#scope-deployments-write").await;
    click(&c, "form[action='/profile/tokens'] button").await;
    let secret = wait_text(&c, "code.copy", "fdk_").await;
    screenshot(&c, "token-created").await;
    c.refresh().await.unwrap();
    wait_text(&c, "h1", "API tokens").await;
    assert!(
        c.find(Locator::Css("code.copy")).await.is_err(),
        "a reload does not show the secret again"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowdeck"))
        .args([
            "deploy",
            "record",
            "--service",
            "api",
            "--env",
            "prod",
            "--version",
            "v3.8.1",
        ])
        .env("FLOWDECK_URL", &app.base)
        .env("FLOWDECK_TOKEN", secret.trim())
        .env_remove("GITHUB_RUN_ID")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    c.goto(&format!("{}/deployments", app.base)).await.unwrap();
    wait_text(&c, "td.cell", "v3.8.1").await;
    c.goto(&format!("{}/profile/tokens", app.base))
        .await
        .unwrap();
    let row = wait_text(&c, "tbody tr", "CI deploy job").await;
    assert!(!row.contains("never"), "the last use is shown: {row}");
    assert!(
        !row.contains(secret.trim()),
        "the secret is not shown again"
    );
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_chat_destination_tests_it_and_a_member_going_offline_reaches_it() {
    let app = TestApp::spawn().await;
    app.account("ada", Role::Admin).await;
    app.account("ann", Role::Member).await;
    let rx = common::receiver::Receiver::start().await;
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    log_in(&c, &app.base, "ada").await;

    c.goto(&format!("{}/admin/integrations", app.base))
        .await
        .unwrap();
    wait_text(&c, "#destinations h2", "Chat and webhooks").await;
    type_into(&c, "#dest-name", "#inner").await;
    type_into(&c, "#dest-url", &rx.url).await;
    c.execute(
        "document.getElementById('dest-purpose').value = 'inner'",
        vec![],
    )
    .await
    .unwrap();
    click(&c, "form[action='/admin/integrations/destinations'] button").await;
    wait_text(&c, ".flash-ok", "Destination #inner added").await;
    let row = wait_text(&c, "#destinations tbody tr", "#inner").await;
    assert!(row.contains("not used yet"), "{row}");
    assert!(!row.contains("/hook"), "the URL is masked: {row}");
    screenshot(&c, "integrations").await;

    click(&c, "#destinations tbody a").await;
    wait_text(&c, "h1", "#inner").await;
    click(&c, "form[action$='/test'] button").await;
    wait_text(&c, ".flash-ok", "Test message delivered to #inner").await;
    screenshot(&c, "destination").await;
    assert_eq!(rx.accepted().len(), 1, "the test message arrived");

    // A member goes offline in another browser; the inner channel hears of it.
    let profile2 = tempfile::tempdir().unwrap();
    let m = browser(&driver, profile2.path()).await;
    log_in(&m, &app.base, "ann").await;
    m.goto(&format!("{}/me", app.base)).await.unwrap();
    type_into(&m, "#f-for", "2h").await;
    click(&m, "form[action='/me/offline'] button").await;
    wait_text(&m, ".flash-ok", "You are offline").await;
    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2);
    let text = got[1].json()["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with("ann display went offline until") && text.contains("/team/ann"),
        "{text}"
    );
    c.goto(&format!("{}/admin/integrations", app.base))
        .await
        .unwrap();
    wait_text(&c, "#destinations tbody tr", "healthy").await;
    m.close().await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_reads_delivery_insight_from_the_demo_and_follows_a_number_to_its_rows() {
    let app = TestApp::spawn().await;
    let logins = flowdeck::demo::load(&app.pool)
        .await
        .unwrap()
        .expect("a fresh database");
    let (handle, _, password) = logins
        .iter()
        .find(|(h, _, _)| h == "linus")
        .expect("the demo lead")
        .clone();
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    log_in_with(&c, &app.base, &handle, &password).await;
    let delivery = wait_text(&c, "main", "Delivery").await;
    assert!(delivery.contains("Change fail rate: "), "{delivery}");

    c.goto(&format!("{}/insight", app.base)).await.unwrap();
    wait_text(&c, "h1", "Insight").await;
    // Six months of demo deployments: every key has a value; the four DORA keys have a band.
    let tiles = c.find_all(Locator::Css(".tile")).await.unwrap();
    assert_eq!(tiles.len(), 5);
    for t in &tiles {
        let text = t.text().await.unwrap();
        assert!(!text.contains("not enough data"), "{text}");
    }
    let bands = c
        .find_all(Locator::Css(".tile [class*='band-']"))
        .await
        .unwrap();
    assert_eq!(bands.len(), 4, "rework has no published band");
    screenshot(&c, "insight").await;

    // One service has too little data for a band.
    c.execute(
        "document.getElementById('i-service').value = 'status-page'",
        vec![],
    )
    .await
    .unwrap();
    click(&c, "form.filters button").await;
    wait_text(&c, ".tile", "not enough data").await;
    assert!(
        c.current_url()
            .await
            .unwrap()
            .query()
            .unwrap()
            .contains("service=status-page")
    );

    // A number leads to the rows behind it.
    c.goto(&format!("{}/insight?window=180", app.base))
        .await
        .unwrap();
    click(&c, ".tile a[href*='key=fail-rate']").await;
    wait_text(&c, "h1", "Change fail rate").await;
    let rows = c.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert!(rows.len() > 50, "the deployments behind it: {}", rows.len());
    wait_text(&c, "main", "caused incident #").await;
    screenshot(&c, "insight-rows").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_writes_his_update_commits_a_milestone_and_a_helper_resolves_his_escalated_blocker()
 {
    // The demo's check-ins and three weeks of updates are relative to now: pin the clock there.
    let app = TestApp::spawn_at(&chrono::Utc::now().to_rfc3339()).await;
    let logins = flowdeck::demo::load(&app.pool)
        .await
        .unwrap()
        .expect("a fresh database");
    let pass = |h: &str| logins.iter().find(|l| l.0 == h).unwrap().2.clone();
    let now = app.state.clock.now();
    let shanghai: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    let week = flowdeck::rhythm::model::IsoWeek::current(now, shanghai);
    let today = now.with_timezone(&shanghai).date_naive();
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    // Linus (a lead, online, in Shanghai) writes his update from his week's suggestions.
    log_in_with(&c, &app.base, "linus", &pass("linus")).await;
    c.goto(&format!("{}/updates/edit", app.base)).await.unwrap();
    wait_text(&c, "h1", &format!("My update · {week}")).await;
    type_into(&c, "#upd-problem", "Waiting for a staging database").await;
    type_into(&c, "#upd-priority", "The rpc rollout").await;
    screenshot(&c, "update-edit").await;
    click(&c, "form[action='/updates/edit'] button").await;
    wait_text(&c, ".flash-ok", &format!("Your update for {week} is saved")).await;
    let mine = wait_text(&c, "#u-linus", "Waiting for a staging database").await;
    assert!(mine.contains("The rpc rollout"), "{mine}");
    let not_yet = wait_text(&c, "main", "Not written yet").await;
    assert!(
        not_yet.contains("Alan Kay not yet"),
        "the member who never writes: {not_yet}"
    );
    screenshot(&c, "updates-week").await;

    // A milestone 15 days out is refused with the latest date; 7 days is committed.
    c.goto(&format!("{}/milestones", app.base)).await.unwrap();
    type_into(&c, "#ms-title", "rpc v3.9 in staging").await;
    let far = (today + chrono::Duration::days(15)).to_string();
    let latest = (today + chrono::Duration::days(14)).to_string();
    let ok = (today + chrono::Duration::days(7)).to_string();
    c.execute(
        "document.getElementById('ms-due_on').removeAttribute('max'); document.getElementById('ms-due_on').value = arguments[0]",
        vec![serde_json::json!(far)],
    )
    .await
    .unwrap();
    click(&c, "form[action='/milestones'] button").await;
    wait_text(&c, "main", &format!("the latest allowed date is {latest}")).await;
    c.execute(
        "document.getElementById('ms-due_on').value = arguments[0]",
        vec![serde_json::json!(ok)],
    )
    .await
    .unwrap();
    click(&c, "form[action='/milestones'] button").await;
    wait_text(&c, ".flash-ok", "Committed: rpc v3.9 in staging").await;
    wait_text(&c, "main", "slipped").await;
    screenshot(&c, "milestones").await;

    // A blocker naming Ada as helper; an hour later the clock asks her.
    c.goto(&format!("{}/blockers", app.base)).await.unwrap();
    type_into(&c, "#bl-what", "No staging database for the rollout").await;
    type_into(&c, "#bl-tried", "Asked in the channel; tried a local copy").await;
    let ada = app
        .count("select id from accounts where handle = 'ada'")
        .await;
    click(&c, &format!("#bl-h-{ada}")).await;
    click(&c, "form[action='/blockers'] button").await;
    wait_text(&c, ".flash-ok", "Raised").await;
    app.state.clock.set(now + chrono::Duration::minutes(61));
    let t = flowdeck::rhythm::tick(&app.state).await.unwrap();
    assert!(t.steps >= 1, "{t:?}");
    c.goto(&format!("{}/blockers", app.base)).await.unwrap();
    wait_text(&c, "main", "stage 1 — asked the named helpers").await;
    screenshot(&c, "blockers").await;

    // Ada finds it in her inbox and resolves it with a note.
    let profile2 = tempfile::tempdir().unwrap();
    let d = browser(&driver, profile2.path()).await;
    log_in_with(&d, &app.base, "ada", &pass("ada")).await;
    d.goto(&format!("{}/inbox", app.base)).await.unwrap();
    wait_text(&d, "main", "named you as a helper").await;
    d.goto(&format!("{}/blockers", app.base)).await.unwrap();
    let id = app.count("select max(id) from blockers").await;
    type_into(
        &d,
        &format!("#b-{id}-note"),
        "Gave him the shared staging instance",
    )
    .await;
    click(&d, &format!("form[action='/blockers/{id}/resolve'] button")).await;
    wait_text(&d, ".flash-ok", "Resolved").await;
    wait_text(
        &d,
        "main",
        "by Ada Lovelace: Gave him the shared staging instance",
    )
    .await;
    d.close().await.unwrap();
    c.close().await.unwrap();
}
