//! Notifications delivered through the real sender to a local receiver: in order and once when
//! the receiver goes down and comes back, 429 Retry-After honoured, backoff after 500s, dead rows
//! visible and retryable, two senders never sending a row twice, chat bursts folded and paced,
//! signatures that verify; the inbox, preferences and quiet hours; overdue returns announced.

mod common;

use std::time::{Duration, Instant};

use common::{
    Client, TestApp,
    receiver::{Receiver, Reply},
};
use flowdeck::{
    auth::model::Role,
    outbox::{self, Event, Notice},
};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use sha2::Sha256;

async fn app() -> TestApp {
    TestApp::spawn_with(|c| {
        c.outbox_backoff_ms = 100;
        c.outbox_max_attempts = 4;
    })
    .await
}

/// Adds a destination on the integrations page; returns its id and, for a signed webhook, the
/// secret shown once.
async fn add_destination(
    app: &TestApp,
    admin: &Client,
    name: &str,
    kind: &str,
    url: &str,
    purpose: &str,
) -> (i64, String) {
    let r = admin
        .post(
            "/admin/integrations/destinations",
            &[
                ("name", name),
                ("kind", kind),
                ("url", url),
                ("purpose", purpose),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = admin.get("/admin/integrations").await.body;
    let secret = match page.find("<code class=\"copy\">") {
        Some(i) if kind == "webhook" => {
            let start = i + 19;
            let end = page[start..].find('<').unwrap() + start;
            page[start..end].to_string()
        }
        _ => String::new(),
    };
    let id: i64 = sqlx::query_scalar("select id from notify_destinations where name = $1")
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    (id, secret)
}

/// Queues `n` notices of `event` in one transaction, as a feature's write would.
async fn enqueue(app: &TestApp, event: Event, n: usize) {
    let mut tx = app.pool.begin().await.unwrap();
    for i in 1..=n {
        let notice = Notice::new(
            event,
            format!("{} number {i}", event.label()),
            "/deployments",
        )
        .data(serde_json::json!({ "i": i }));
        outbox::enqueue(&mut tx, app.state.clock.now(), notice)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn until(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    signature == format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn a_burst_reaches_a_signed_webhook_in_order_and_once_after_the_receiver_was_down() {
    let app = app().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    let rx = Receiver::start().await;
    let (_, secret) =
        add_destination(&app, &ada, "audit-sink", "webhook", &rx.url, "everything").await;
    assert!(secret.len() >= 20, "the signing secret is shown once");
    let page = ada.get("/admin/integrations").await.body;
    assert!(
        !page.contains(&rx.url) && !page.contains(&secret),
        "the URL and the secret are masked after that"
    );

    rx.set_down(true);
    enqueue(&app, Event::DeploymentFailed, 30).await;
    until("a failed attempt", async || {
        app.count("select count(*) from notify_deliveries where attempts > 0")
            .await
            > 0
    })
    .await;
    assert_eq!(rx.accepted().len(), 0);
    rx.set_down(false);
    let got = rx.wait_for(30).await;
    assert_eq!(got.len(), 30, "every row arrives");
    let texts: Vec<String> = got
        .iter()
        .map(|g| g.json()["text"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (1..=30)
        .map(|i| format!("Deployment failed number {i}"))
        .collect();
    assert_eq!(texts, expected, "in order, none twice");
    for g in &got {
        assert!(verify(
            &secret,
            &g.body,
            g.header("x-flowdeck-signature-256")
        ));
        assert_eq!(g.header("x-flowdeck-event"), "deployment.failed");
        assert_eq!(
            g.header("x-flowdeck-delivery"),
            g.json()["id"].as_str().unwrap()
        );
        assert!(g.json()["url"].as_str().unwrap().ends_with("/deployments"));
    }
    until("all marked sent", async || {
        app.count("select count(*) from notify_deliveries where status = 'sent'")
            .await
            == 30
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.accepted().len(), 30, "nothing is sent again");
}

#[tokio::test]
async fn a_429_is_waited_out_and_500s_back_off_until_success() {
    let app = app().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    let rx = Receiver::start().await;
    add_destination(&app, &ada, "ops", "webhook", &rx.url, "deployments").await;

    rx.script(&[Reply::TooMany(1)]);
    enqueue(&app, Event::ServiceDown, 1).await;
    let got = rx.wait_for(1).await;
    let attempts = rx.attempts();
    assert_eq!(got.len(), 1);
    let waited = got[0].at - attempts[0];
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 was honoured ({waited:?})"
    );

    rx.script(&[Reply::Status(500), Reply::Status(500), Reply::Status(503)]);
    enqueue(&app, Event::ServiceUp, 1).await;
    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2, "delivered after three failures");
    let tries = rx.attempts();
    assert_eq!(tries.len(), 2 + 4, "429 + ok, then 3 failures + ok");
    let gaps: Vec<Duration> = tries[2..].windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[1] > gaps[0] && gaps[2] > gaps[1],
        "the waits grow: {gaps:?}"
    );
    // The receiver answers before the sender records the outcome: wait for the row to say sent.
    let sent = "select x.attempts from notify_deliveries x join outbox o on o.id = x.outbox_id
                where o.event = 'service.up' and x.status = 'sent'";
    until("the delivery recorded as sent", async || {
        sqlx::query_scalar::<_, i32>(sent)
            .fetch_optional(&app.pool)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let attempts: i32 = sqlx::query_scalar(sent).fetch_one(&app.pool).await.unwrap();
    assert_eq!(attempts, 4);
    let page = ada.get("/admin/integrations").await.body;
    assert!(page.contains("healthy"), "it recovered");
}

#[tokio::test]
async fn a_row_that_keeps_failing_dies_visibly_without_blocking_the_rest_and_can_be_retried() {
    let app = app().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    let rx = Receiver::start().await;
    let (id, _) = add_destination(&app, &ada, "flaky", "webhook", &rx.url, "everything").await;
    rx.script(&[Reply::Status(500); 4]);
    enqueue(&app, Event::IncidentOpened, 2).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].json()["text"],
        "Incident opened number 2",
        "the dead first row did not block the second"
    );
    let page = ada
        .get(&format!("/admin/integrations/destinations/{id}"))
        .await
        .body;
    assert!(page.contains("Dead notifications"));
    assert!(page.contains("Incident opened number 1"), "{page}");
    assert!(page.contains("HTTP 500 (after 4 attempts)"), "{page}");
    assert!(
        ada.get("/admin/integrations")
            .await
            .body
            .contains("0 waiting, 1 dead")
    );

    // Down for a while: unhealthy on the page; back: healthy, and the row arrives.
    rx.set_down(true);
    enqueue(&app, Event::IncidentResolved, 1).await;
    until("three failures in a row", async || {
        app.count("select consecutive_failures::bigint from notify_destinations")
            .await
            >= 3
    })
    .await;
    let list = ada.get("/admin/integrations").await.body;
    assert!(list.contains("unhealthy"), "{list}");
    assert!(list.contains("Last error:"), "{list}");
    rx.set_down(false);
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].json()["text"], "Incident resolved number 1");

    let r = ada
        .post(&format!("/admin/integrations/destinations/{id}/retry"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let got = rx.wait_for(3).await;
    assert_eq!(got[2].json()["text"], "Incident opened number 1");
    assert_eq!(
        app.count("select count(*) from notify_deliveries where status = 'dead'")
            .await,
        0
    );
    assert!(
        ada.get("/admin/integrations")
            .await
            .body
            .contains("badge good")
    );
}

#[tokio::test]
async fn two_senders_on_one_database_never_send_a_row_twice() {
    let app = app().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    let rx = Receiver::start().await;
    add_destination(&app, &ada, "sink", "webhook", &rx.url, "everything").await;
    let rx2 = Receiver::start().await;
    add_destination(&app, &ada, "sink-2", "webhook", &rx2.url, "everything").await;
    // A second replica's sender (the test app runs one already).
    for _ in 0..2 {
        tokio::spawn(outbox::sender::run(
            app.state.clone(),
            Duration::from_millis(5),
        ));
    }
    enqueue(&app, Event::TagRetracted, 300).await;
    for r in [&rx, &rx2] {
        let got = r.wait_for(300).await;
        let ids: Vec<i64> = got
            .iter()
            .map(|g| g.json()["id"].as_str().unwrap().parse().unwrap())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 300, "every row once");
        assert_eq!(ids, sorted, "in order of creation");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.accepted().len() + rx2.accepted().len(), 600);
}

#[tokio::test]
async fn a_chat_gets_one_message_a_second_with_a_burst_of_one_kind_folded() {
    let app = app().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    let rx = Receiver::start().await;
    add_destination(&app, &ada, "#deployments", "slack", &rx.url, "deployments").await;
    let mut tx = app.pool.begin().await.unwrap();
    for i in 1..=5 {
        let n = Notice::new(
            Event::DeploymentFailed,
            format!("api v{i} failed <@channel>"),
            "/deployments",
        );
        outbox::enqueue(&mut tx, app.state.clock.now(), n)
            .await
            .unwrap();
    }
    let n = Notice::new(Event::ServiceDown, "web in prod is down", "/services/web");
    outbox::enqueue(&mut tx, app.state.clock.now(), n)
        .await
        .unwrap();
    // Not routed to a deployments channel: never sent there.
    let n = Notice::new(Event::LeaveRequested, "ann requested leave", "/leave");
    outbox::enqueue(&mut tx, app.state.clock.now(), n)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2, "five failures folded into one message");
    let first = got[0].json();
    let text = first["text"].as_str().unwrap();
    assert!(text.starts_with("Deployment failed ×5"), "{text}");
    assert!(
        text.contains("api v5 failed &lt;@\u{200B}channel&gt;"),
        "no channel ping: {text}"
    );
    assert!(
        first["blocks"].is_array(),
        "blocks for Slack, text for Mattermost"
    );
    assert!(
        got[1].json()["text"]
            .as_str()
            .unwrap()
            .starts_with("web in prod is down http")
    );
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "one message a second: {gap:?}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        rx.accepted().len(),
        2,
        "the leave request was not routed here"
    );
}

#[tokio::test]
async fn the_test_button_says_whether_the_destination_works() {
    let app = app().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    let rx = Receiver::start().await;
    let (id, secret) = add_destination(&app, &ada, "hook", "webhook", &rx.url, "nothing").await;
    let r = ada
        .post(&format!("/admin/integrations/destinations/{id}/test"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = ada
        .get(&format!("/admin/integrations/destinations/{id}"))
        .await
        .body;
    assert!(page.contains("Test message delivered to hook."), "{page}");
    let got = rx.accepted();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-flowdeck-event"), "test");
    assert!(verify(
        &secret,
        &got[0].body,
        got[0].header("x-flowdeck-signature-256")
    ));

    rx.set_down(true);
    ada.post(&format!("/admin/integrations/destinations/{id}/test"), &[])
        .await;
    let page = ada
        .get(&format!("/admin/integrations/destinations/{id}"))
        .await
        .body;
    assert!(page.contains("The test message to hook failed:"), "{page}");
    assert!(!page.contains(&rx.url), "the error does not show the URL");

    // Paused, it keeps what is routed to it; resumed, it gets it.
    rx.set_down(false);
    let r = ada
        .post(
            &format!("/admin/integrations/destinations/{id}/routes"),
            &[("events", "member.offline")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    ada.post(
        &format!("/admin/integrations/destinations/{id}/enabled"),
        &[("enabled", "off")],
    )
    .await;
    enqueue(&app, Event::MemberOffline, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.accepted().len(), 1, "nothing sent while paused");
    ada.post(
        &format!("/admin/integrations/destinations/{id}/enabled"),
        &[("enabled", "on")],
    )
    .await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].json()["text"], "Going offline number 1");

    // Events are chosen per destination; a bad form keeps what was typed.
    let r = ada
        .post(
            &format!("/admin/integrations/destinations/{id}/routes"),
            &[("events", "service.down"), ("events", "incident.opened")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = ada
        .get(&format!("/admin/integrations/destinations/{id}"))
        .await
        .body;
    assert!(page.contains("value=\"service.down\" checked"), "{page}");
    let refused = ada
        .post(
            "/admin/integrations/destinations",
            &[
                ("name", "x"),
                ("kind", "slack"),
                ("url", "javascript:alert(1)"),
                ("purpose", "general"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("value=\"x\""), "the name is kept");
    assert!(refused.body.contains("field-error"));
    let member = app.logged_in("mo", Role::Member).await;
    let r = member
        .get(&format!("/admin/integrations/destinations/{id}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn review_requests_land_in_the_inbox_unless_muted_and_quiet_hours_hold_the_chat() {
    // 23:00 in Berlin.
    let app = TestApp::spawn_at("2026-03-10T22:00:00Z").await;
    let ada = app.logged_in("ada", Role::Admin).await;
    let rx = Receiver::start().await;
    add_destination(&app, &ada, "#reviews", "slack", &rx.url, "reviews").await;
    let ann = app.logged_in("ann", Role::Member).await;
    let bob = app.logged_in("bob", Role::Member).await;
    for title in ["Lease probes", "Backups"] {
        ann.post("/docs", &[("title", title), ("kind", "proposal")])
            .await;
    }
    let home = bob.get("/").await.body;
    assert!(home.contains("aria-label=\"Inbox, nothing unread\""));

    let r = bob
        .post(
            "/profile/notifications",
            &[
                ("wanted", "review.requested"),
                ("quiet_from", "22:00"),
                ("quiet_until", "07:00"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    ann.post("/docs/1/reviewers", &[("handle", "bob")]).await;
    let home = bob.get("/").await.body;
    assert!(
        home.contains("aria-label=\"Inbox, 1 unread\""),
        "the count shows"
    );
    let inbox = bob.get("/inbox").await.body;
    assert!(inbox.contains("ann display asked bob display to review DD-1 “Lease probes”"));
    assert!(inbox.contains("href=\"/docs/1\""));
    assert!(
        bob.get("/").await.body.contains("Inbox, nothing unread"),
        "read on view"
    );
    let held: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select held_until from notify_deliveries")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        held.unwrap().to_rfc3339(),
        "2026-03-11T06:00:00+00:00",
        "chat about bob waits for 07:00 in Berlin"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.accepted().is_empty(), "held during quiet hours");

    // Muting verdicts keeps them out of the inbox (the review request above stays wanted).
    let r = bob
        .post(
            "/profile/notifications",
            &[
                ("wanted", "review.verdict"),
                ("quiet_from", "25:00"),
                ("quiet_until", ""),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a bad time is refused"
    );
    assert!(r.body.contains("value=\"25:00\""), "and kept");
    bob.post("/profile/notifications", &[("wanted", "review.verdict")])
        .await;
    ann.post("/docs/2/reviewers", &[("handle", "bob")]).await;
    assert!(
        bob.get("/").await.body.contains("Inbox, nothing unread"),
        "review requests are muted now"
    );
    let prefs = bob.get("/profile/notifications").await.body;
    assert!(prefs.contains("value=\"review.verdict\" checked"));
    assert!(!prefs.contains("value=\"review.requested\" checked"));
}

#[tokio::test]
async fn an_overdue_return_is_announced_once() {
    let app = TestApp::spawn_at("2026-03-10T09:00:00Z").await;
    let ann = app.logged_in("ann", Role::Member).await;
    let r = ann
        .post(
            "/me/offline",
            &[("for", "1h"), ("until", ""), ("reason", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        flowdeck::presence::announce_overdue(&app.state)
            .await
            .unwrap(),
        0
    );
    app.state.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-03-10T10:30:00Z")
            .unwrap()
            .into(),
    );
    assert_eq!(
        flowdeck::presence::announce_overdue(&app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        flowdeck::presence::announce_overdue(&app.state)
            .await
            .unwrap(),
        0
    );
    let texts: Vec<String> =
        sqlx::query_scalar("select text from outbox where event = 'member.overdue'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        texts,
        ["ann display is overdue: expected back Tue 11:00 (Europe/Berlin) and has not checked in."]
    );
}

#[tokio::test]
async fn hostile_input_on_the_notification_pages_gets_a_clear_refusal() {
    let app = app().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    let rx = Receiver::start().await;
    let (id, _) = add_destination(
        &app,
        &ada,
        "<script>alert(1)</script>",
        "slack",
        &rx.url,
        "general",
    )
    .await;
    let page = ada.get("/admin/integrations").await.body;
    assert!(!page.contains("<script>alert(1)</script>"), "no live tag");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let r = ada
        .post(
            &format!("/admin/integrations/destinations/{id}/routes"),
            &[("events", "member.offline\u{0}")],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a NUL is refused at the edge"
    );
    let r = ada
        .post(
            &format!("/admin/integrations/destinations/{id}/routes"),
            &[("events", "</textarea><b>x")],
        )
        .await;
    assert!(
        r.status.is_client_error() && !r.body.contains("<b>x"),
        "{}",
        r.status
    );
    for path in [
        "/admin/integrations/destinations/99999999999999999999",
        "/admin/integrations/destinations/-1",
        "/inbox?before=abc",
    ] {
        let r = ada.get(path).await;
        assert!(r.status.is_client_error(), "{path}: {}", r.status);
    }
    let r = ada
        .post(
            &format!("/admin/integrations/destinations/{id}/retry"),
            &[("delivery", "not-a-number")],
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    let mo = app.logged_in("mo", Role::Member).await;
    for path in ["test", "delete", "retry", "routes"] {
        let r = mo
            .post(
                &format!("/admin/integrations/destinations/{id}/{path}"),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    let long = "x".repeat(100_000);
    let r = mo
        .post(
            "/profile/notifications",
            &[("quiet_from", long.as_str()), ("quiet_until", "07:00")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}
