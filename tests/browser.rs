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
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": binary,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1200,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
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

async fn text(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_logs_in_sees_home_and_logs_out_in_a_browser() {
    let app = TestApp::spawn().await;
    app.account("ann", Role::Member).await;
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    c.goto(&format!("{}/", app.base)).await.unwrap();
    assert_eq!(text(&c, "h1").await, "Log in");
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));

    // A wrong password keeps the handle and says so.
    c.find(Locator::Css("#f-handle"))
        .await
        .unwrap()
        .send_keys("ann")
        .await
        .unwrap();
    c.find(Locator::Css("#f-password"))
        .await
        .unwrap()
        .send_keys("wrong password")
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(
        text(&c, ".form-error")
            .await
            .contains("Wrong handle or password")
    );
    let kept = c
        .find(Locator::Css("#f-handle"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("ann"));
    screenshot(&c, "login-error").await;

    c.find(Locator::Css("#f-password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("main button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text(&c, "h1").await, "Good to see you, ann display");
    assert_eq!(text(&c, ".me a").await, "ann display");
    screenshot(&c, "home").await;

    c.find(Locator::Css(".me button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text(&c, "h1").await, "Log in");
    c.goto(&format!("{}/profile", app.base)).await.unwrap();
    assert_eq!(text(&c, "h1").await, "Log in", "logged out for real");
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_invites_a_lead_who_joins_in_a_browser() {
    let app = TestApp::spawn().await;
    app.account("boss", Role::Admin).await;
    let driver = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    c.goto(&format!("{}/login", app.base)).await.unwrap();
    c.find(Locator::Css("#f-handle"))
        .await
        .unwrap()
        .send_keys("boss")
        .await
        .unwrap();
    c.find(Locator::Css("#f-password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("main button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text(&c, ".topnav").await;
    c.find(Locator::LinkText("Admin"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text(&c, "h1").await, "Admin");
    c.find(Locator::Css("#invite-role option[value=lead]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#f-note"))
        .await
        .unwrap()
        .send_keys("for lee")
        .await
        .unwrap();
    c.find(Locator::Css("form[action='/admin/invites'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let flash = text(&c, ".flash-ok").await;
    screenshot(&c, "admin-invite").await;
    let link = flash[flash.find("http").unwrap()..].trim().to_string();

    // The invitee opens the link in a fresh browser profile.
    c.close().await.unwrap();
    let profile2 = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile2.path()).await;
    c.goto(&link).await.unwrap();
    assert_eq!(text(&c, "h1").await, "Join your team on flowdeck");
    for (id, v) in [
        ("#f-handle", "lee"),
        ("#f-display_name", "Lee Lead"),
        ("#f-new_password", PASSWORD),
        ("#f-confirm", PASSWORD),
    ] {
        c.find(Locator::Css(id))
            .await
            .unwrap()
            .send_keys(v)
            .await
            .unwrap();
    }
    c.find(Locator::Css("main button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text(&c, "h1").await, "Good to see you, Lee Lead");
    screenshot(&c, "invitee-home").await;
    c.close().await.unwrap();
}
