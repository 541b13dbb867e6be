//! Three replicas on one database (DESIGN §4.5, issue 16), each with its own connection pool,
//! in-process caches, cache listener and background workers, as three `flowdeck serve` would be:
//! a login on one works on the others; a role change, a disable, a logout or a change of shared
//! data made on one takes effect on the others within a second (each replica caches sessions,
//! accounts and parts of the home page); the outbox sender of all three
//! delivers a notification once. The last test does the same with three `flowdeck serve`
//! processes.

mod common;

use std::time::{Duration, Instant};

use common::{Client, PASSWORD, TestApp, process::Process, receiver::Receiver};
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

/// Posts a form that must succeed (303).
async fn ok(client: &Client, path: &str, fields: &[(&str, &str)]) {
    let r = client.post(path, fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}: {}", r.body);
}

/// Environment `prod` and service `api`, then a succeeded deployment of `version` there.
async fn deploy_api_to_prod(client: &Client, version: &str) {
    ok(
        client,
        "/environments",
        &[
            ("name", "prod"),
            ("tier", "production"),
            ("position", "1"),
            ("url", ""),
        ],
    )
    .await;
    ok(
        client,
        "/services",
        &[
            ("name", "api"),
            ("role", "api"),
            ("image", ""),
            ("repository", ""),
        ],
    )
    .await;
    ok(
        client,
        "/deployments",
        &[
            ("service", "api"),
            ("environment", "prod"),
            ("version", version),
            ("status", "succeeded"),
            ("idempotency_key", version),
            ("confirm", "yes"),
        ],
    )
    .await;
}

/// A webhook destination for the team's inner channel, delivering to `url`.
async fn add_destination(admin: &Client, url: &str) {
    ok(
        admin,
        "/admin/integrations/destinations",
        &[
            ("name", "feed"),
            ("kind", "webhook"),
            ("url", url),
            ("purpose", "inner"),
        ],
    )
    .await;
}

/// `member` goes offline for an hour (a notice to the inner channel).
async fn go_offline(member: &Client) {
    ok(
        member,
        "/me/offline",
        &[("for", "1h"), ("until", ""), ("reason", "")],
    )
    .await;
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

    // Shared data: a deployment recorded on A appears on C's home (a cached part) within 1 s.
    let before = lee_c.get("/").await.body;
    assert!(!before.contains("v1.2.3"));
    deploy_api_to_prod(&lee, "v1.2.3").await;
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
    add_destination(&ada, &rx.url).await;
    // Ten members go offline: ten notices, each sent once although three senders run.
    for i in 0..10 {
        let m: Client = a.logged_in(&format!("m{i}"), Role::Member).await;
        go_offline(&m).await;
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

/// The value of the Prometheus sample `name` (e.g. `flowdeck_cache_hits_total`) on `/metrics`.
async fn metric(base: &str, name: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Three `flowdeck serve` processes on one database, as deployed (DESIGN §4.5): the same checks
/// as above across real process boundaries — logins, a role change, a disable and shared data
/// reach the other processes within a second — and each process's background work does each
/// item once: a health target is probed by one process per round, a notification sent once.
#[tokio::test]
async fn three_flowdeck_processes_on_one_database_act_as_one_flowdeck() {
    let (pool, url) = common::fresh_database().await;
    let lee_id = common::account_on(&pool, "lee", Role::Member, "UTC").await;
    common::account_on(&pool, "ada", Role::Admin, "UTC").await;
    let logs = tempfile::Builder::new()
        .prefix("flowdeck-replicas-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let procs: Vec<Process> = (0..3)
        .map(|i| Process::serve(&url, &logs.path().join(format!("replica-{i}.log")), &[]))
        .collect();
    let [a, b, c] = [&procs[0].base, &procs[1].base, &procs[2].base];

    // Signed in on B, known on A and C.
    let lee = common::browser(b);
    assert_eq!(
        lee.login("lee", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let ada = common::browser(a);
    assert_eq!(
        ada.login("ada", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    for base in [a, c] {
        let home = lee.on(base).get("/").await;
        assert_eq!(home.status, StatusCode::OK, "{base}");
        assert!(home.body.contains("lee display"), "{base}: {}", home.body);
    }
    // The processes serve repeat visits from their caches.
    let hits_before = metric(c, "flowdeck_cache_hits_total").await;
    for _ in 0..3 {
        assert_eq!(lee.on(c).get("/").await.status, StatusCode::OK);
    }
    assert!(metric(c, "flowdeck_cache_listening").await == 1.0);
    assert!(
        metric(c, "flowdeck_cache_hits_total").await >= hits_before + 3.0,
        "C answers lee's session and account from memory"
    );
    assert_eq!(
        lee.on(c).get("/admin/integrations").await.status,
        StatusCode::FORBIDDEN
    );

    // A role change made on A takes effect on C within a second.
    let r = ada
        .post(
            &format!("/admin/members/{lee_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let took = within("the role change reaches C", async || {
        lee.on(c).get("/admin/integrations").await.status == StatusCode::OK
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // A deployment recorded on B shows on A's and C's home pages (cached parts) within a second.
    for base in [a, c] {
        assert!(!ada.on(base).get("/").await.body.contains("v4.5.6"));
    }
    deploy_api_to_prod(&lee, "v4.5.6").await;
    for base in [a, c] {
        let took = within(&format!("the deployment reaches {base}"), async || {
            ada.on(base).get("/").await.body.contains("v4.5.6")
        })
        .await;
        assert!(took < Duration::from_secs(1), "{base}: {took:?}");
    }

    // The prober of all three processes: a target due every second is probed once a round.
    let rx = Receiver::start().await;
    sqlx::query("update services set probe_interval_seconds = 1, probe_timeout_seconds = 1")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into health_targets (service_id, environment_id, url)
         select s.id, e.id, $1 from services s, environments e",
    )
    .bind(&rx.url)
    .execute(&pool)
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let probes = rx.accepted();
    let samples: i64 = sqlx::query_scalar("select count(*) from health_samples")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(probes.len() >= 2, "probed: {}", probes.len());
    assert!(
        (probes.len() as i64 - samples).abs() <= 1,
        "one sample per probe: {} probes, {samples} samples",
        probes.len()
    );
    for pair in probes.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap > Duration::from_millis(500),
            "probed twice in one round ({gap:?} apart)"
        );
    }
    sqlx::query("delete from health_targets")
        .execute(&pool)
        .await
        .unwrap();

    // The outbox senders of all three: each notice is delivered once.
    let feed = Receiver::start().await;
    add_destination(&ada, &feed.url).await;
    for i in 0..6 {
        let handle = format!("m{i}");
        common::account_on(&pool, &handle, Role::Member, "UTC").await;
        let m = common::browser(&procs[i % 3].base);
        assert_eq!(
            m.login(&handle, PASSWORD).await.status,
            StatusCode::SEE_OTHER
        );
        go_offline(&m).await;
    }
    assert_eq!(feed.wait_for(6).await.len(), 6);
    // Long enough for a duplicate to arrive (each sender polls every 500 ms).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(feed.accepted().len(), 6, "nothing is sent twice");

    // Disabled on A: lee's next request on C is sent to the login page, within a second.
    let r = ada
        .post(&format!("/admin/members/{lee_id}/disable"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let took = within("the disable reaches C", async || {
        lee.on(c).get("/").await.location() == Some("/login")
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    pool.close().await;
}
