//! Three replicas on one database (DESIGN §4.5, issue 16), each with its own connection pool,
//! in-process caches, cache listener and background workers, as three `flowdeck serve` would be:
//! a login on one works on the others; a role change, a disable, a logout or a change of shared
//! data made on one takes effect on the others within a second (each replica caches sessions,
//! accounts and parts of the home page); the outbox sender of all three
//! delivers a notification once.

mod common;

use std::time::{Duration, Instant};

use common::{Client, TestApp, receiver::Receiver};
use flowdeck::auth::model::Role;
use reqwest::StatusCode;

/// Polls `check` until it holds; returns how long that took (panics after 5 s).
async fn within(what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn three_replicas_share_logins_and_changes_reach_the_others_within_a_second() {
    let a = TestApp::spawn().await;
    a.listen().await;
    let b = a.replica().await;
    let c = a.replica().await;
    let ada = a.logged_in("ada", Role::Admin).await;
    let lee = a.logged_in("lee", Role::Member).await;
    let lee_id = a
        .count("select id from accounts where handle = 'lee'")
        .await;
    let (lee_b, lee_c) = (lee.on(&b.base), lee.on(&c.base));

    // Logged in on A, known on B and C; B and C now hold lee's account in their caches.
    for (client, name) in [(&lee_b, "B"), (&lee_c, "C")] {
        let home = client.get("/").await;
        assert_eq!(home.status, StatusCode::OK, "{name}");
        assert!(home.body.contains("lee display"), "{name}: {}", home.body);
    }
    assert!(
        b.state.cache.account(lee_id).is_some(),
        "B caches the account"
    );
    assert_eq!(
        lee_b.get("/admin/integrations").await.status,
        StatusCode::FORBIDDEN
    );

    // A role change made on A takes effect on B's next request (within a second).
    let r = ada
        .post(
            &format!("/admin/members/{lee_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let took = within("the role change reaches B", async || {
        lee_b.get("/admin/integrations").await.status == StatusCode::OK
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // A display name changed on C shows on B.
    let r = lee_c
        .post(
            "/profile",
            &[
                ("display_name", "Lee Renamed"),
                ("email", ""),
                ("timezone", "UTC"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        lee_c.get("/").await.body.contains("Lee Renamed"),
        "the writer sees it at once"
    );
    let took = within("the new name reaches B", async || {
        lee_b.get("/").await.body.contains("Lee Renamed")
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Shared data: an environment added on A appears on C's home (a cached part) within 1 s.
    let r = lee
        .post(
            "/environments",
            &[
                ("name", "prod"),
                ("tier", "production"),
                ("position", "1"),
                ("url", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = lee
        .post(
            "/services",
            &[
                ("name", "api"),
                ("role", "api"),
                ("image", ""),
                ("repository", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let before = lee_c.get("/").await.body;
    assert!(!before.contains("v1.2.3"));
    let r = lee
        .post(
            "/deployments",
            &[
                ("service", "api"),
                ("environment", "prod"),
                ("version", "v1.2.3"),
                ("status", "succeeded"),
                ("idempotency_key", "k1"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let took = within("the deployment reaches C's home", async || {
        lee_c.get("/").await.body.contains("v1.2.3")
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Disabled on A: lee's next request on C is sent to the login page.
    let r = ada
        .post(&format!("/admin/members/{lee_id}/disable"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let took = within("the disable reaches C", async || {
        lee_c.get("/").await.location() == Some("/login")
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Logging out on B ends the session on B at once and on A and C (which hold it in their
    // caches) within a second.
    let ada_b = ada.on(&b.base);
    let ada_c = ada.on(&c.base);
    // (A first: a request may touch the session row, and that notification would drop C's copy.)
    assert_eq!(ada.get("/").await.status, StatusCode::OK);
    assert_eq!(ada_c.get("/").await.status, StatusCode::OK);
    let (entries_c, _) = c.state.cache.len();
    assert!(entries_c >= 2, "C caches ada's session and account");
    let r = ada_b.post("/logout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(ada_b.get("/").await.location(), Some("/login"));
    for (client, name) in [(&ada_c, "C"), (&ada, "A")] {
        let took = within(&format!("the logout reaches {name}"), async || {
            client.get("/").await.location() == Some("/login")
        })
        .await;
        assert!(took < Duration::from_secs(1), "{name}: {took:?}");
    }
}

#[tokio::test]
async fn with_three_replicas_each_notification_is_delivered_once() {
    let a = TestApp::spawn().await;
    a.listen().await;
    let _b = a.replica().await;
    let _c = a.replica().await;
    let ada = a.logged_in("ada", Role::Admin).await;
    let rx = Receiver::start().await;
    let r = ada
        .post(
            "/admin/integrations/destinations",
            &[
                ("name", "feed"),
                ("kind", "webhook"),
                ("url", rx.url.as_str()),
                ("purpose", "inner"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Ten members go offline: ten notices, each sent once although three senders run.
    for i in 0..10 {
        let m: Client = a.logged_in(&format!("m{i}"), Role::Member).await;
        let r = m
            .post(
                "/me/offline",
                &[("for", "1h"), ("until", ""), ("reason", "")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let got = rx.wait_for(10).await;
    assert_eq!(got.len(), 10);
    // Give a duplicate the time it would need to arrive (three senders poll every 50 ms).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.accepted().len(), 10, "nothing is sent twice");
}

#[tokio::test]
async fn a_members_own_home_parts_cached_on_one_replica_follow_changes_made_on_another() {
    let a = TestApp::spawn().await;
    a.listen().await;
    let b = a.replica().await;
    let lee = a.logged_in("lee", Role::Member).await;
    let lee_b = lee.on(&b.base);
    // B renders lee's home, caching lee's milestones (none yet).
    let home = lee_b.get("/").await;
    assert!(home.body.contains("No open milestones"), "{}", home.body);

    let due = (chrono::Utc::now() + chrono::Duration::days(7))
        .date_naive()
        .to_string();
    let made = lee
        .post(
            "/milestones",
            &[
                ("title", "Ship the replica-proof importer"),
                ("due_on", &due),
                ("doc", ""),
                ("line", ""),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let took = within("B's home shows the milestone made on A", async || {
        lee_b
            .get("/")
            .await
            .body
            .contains("Ship the replica-proof importer")
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn the_release_overview_cached_on_one_replica_shows_a_line_opened_on_another() {
    let a = TestApp::spawn().await;
    a.listen().await;
    let b = a.replica().await;
    let lee = a.logged_in("lee", Role::Lead).await;
    let r = lee
        .post(
            "/releases",
            &[("name", "server"), ("url", ""), ("default_branch", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let lee_b = lee.on(&b.base);
    let before = lee_b.get("/releases").await.body;
    assert!(
        before.contains("server") && !before.contains("release-v4.2"),
        "{before}"
    );
    let r = lee
        .post(
            "/releases/server/tags",
            &[("tag", "v4.2.0"), ("commit", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let took = within("B's overview shows the line opened on A", async || {
        lee_b.get("/releases").await.body.contains("release-v4.2")
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}
