//! Deployment state through the real router: recording and status transitions, what runs where,
//! idempotency, skew, image flags, the health prober against a server the test turns up and down,
//! lease exclusivity between two instances, incidents, the bundle plan, history paging.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use common::{Client, TestApp};
use flowdeck::{auth::model::Role, deploys};
use reqwest::StatusCode;

async fn setup(app: &TestApp) -> Client {
    let lead = app.logged_in("lee", Role::Lead).await;
    for (name, role) in [("api", "api"), ("rpc-user", "rpc"), ("push", "worker")] {
        let r = lead
            .post(
                "/services",
                &[
                    ("name", name),
                    ("role", role),
                    ("image", &format!("ghcr.io/example/{name}")),
                    ("supervisor", "kubernetes"),
                    ("probe_interval_seconds", "30"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    for (name, tier, pos) in [
        ("staging", "staging", "1"),
        ("prod", "production", "2"),
        ("site-a", "offline", "3"),
    ] {
        let r = lead
            .post(
                "/environments",
                &[
                    ("name", name),
                    ("tier", tier),
                    ("position", pos),
                    ("url", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
    lead
}

async fn deploy(c: &Client, service: &str, env: &str, version: &str, status: &str) -> common::Page {
    c.post(
        "/deployments",
        &[
            ("service", service),
            ("environment", env),
            ("version", version),
            ("status", status),
            ("image_ref", ""),
            ("digest", ""),
            ("commit", ""),
            ("note", ""),
            ("idempotency_key", ""),
        ],
    )
    .await
}

async fn last_id(app: &TestApp) -> i64 {
    sqlx::query_scalar("select max(id) from deployments")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn cell<'a>(matrix: &'a str, service: &str) -> &'a str {
    let start = matrix
        .find(&format!(">{service}</a>"))
        .expect("service row");
    let end = matrix[start..].find("</tr>").unwrap() + start;
    &matrix[start..end]
}

#[tokio::test]
async fn deployments_move_through_their_states_and_the_matrix_shows_what_runs() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    let member = app.logged_in("mo", Role::Member).await;
    assert_eq!(
        deploy(&member, "api", "prod", "v3.8.0", "succeeded")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        deploy(&member, "api", "prod", "v3.8.1", "pending")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let id = last_id(&app).await;
    assert!(
        cell(&member.get("/deployments").await.body, "api").contains("v3.8.0"),
        "pending does not run yet"
    );

    let bad = member
        .post(
            &format!("/deployments/{id}/status"),
            &[("status", "succeeded")],
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::CONFLICT,
        "pending cannot jump to succeeded"
    );
    assert_eq!(
        member
            .post(
                &format!("/deployments/{id}/status"),
                &[("status", "running")]
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        member
            .post(
                &format!("/deployments/{id}/status"),
                &[("status", "succeeded")]
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert!(cell(&member.get("/deployments").await.body, "api").contains("v3.8.1"));

    let ask = lead
        .post(
            &format!("/deployments/{id}/status"),
            &[("status", "rolled_back")],
        )
        .await;
    assert_eq!(ask.status, StatusCode::OK, "a rollback asks first");
    assert!(
        ask.body.contains("will show v3.8.0 again"),
        "the confirmation names what runs afterwards: {}",
        ask.body
    );
    assert!(
        cell(&member.get("/deployments").await.body, "api").contains("v3.8.1"),
        "nothing changed before the confirmation"
    );
    assert_eq!(
        lead.post(
            &format!("/deployments/{id}/status"),
            &[("status", "rolled_back"), ("confirm", "yes")]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let row = member.get("/deployments").await.body;
    assert!(
        cell(&row, "api").contains("v3.8.0"),
        "after a rollback the previous version runs again"
    );
    assert_eq!(
        member
            .post(
                &format!("/deployments/{id}/status"),
                &[("status", "running")]
            )
            .await
            .status,
        StatusCode::CONFLICT
    );

    deploy(&member, "api", "staging", "v3.9.0", "failed").await;
    let events: Vec<String> = sqlx::query_scalar("select event from outbox")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        events,
        ["deployment.rolled_back", "deployment.failed"],
        "the rollback and the failure are announced"
    );
}

#[tokio::test]
async fn a_resubmitted_form_records_the_deployment_once() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    let fields = [
        ("service", "push"),
        ("environment", "prod"),
        ("version", "v3.8.0"),
        ("status", "succeeded"),
        ("idempotency_key", "form-123"),
    ];
    let first = lead.post("/deployments", &fields).await;
    let second = lead.post("/deployments", &fields).await;
    assert_eq!(
        (first.status, second.status),
        (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER)
    );
    assert!(
        lead.get("/deployments")
            .await
            .body
            .contains("was already recorded")
    );
    let n = app.count("select count(*) from deployments").await;
    assert_eq!(n, 1);
}

#[tokio::test]
async fn bad_deployments_are_refused_with_every_reason_and_the_input_kept() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    let r = lead
        .post(
            "/deployments",
            &[
                ("service", "nope"),
                ("environment", "prod"),
                ("version", ""),
                ("status", "rolled_back"),
                ("digest", "sha256:XYZ"),
                ("note", "keep me"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for msg in [
        "Choose a service.",
        "Give the version",
        "A new deployment is pending",
        "A digest looks like",
    ] {
        assert!(r.body.contains(msg), "{msg}");
    }
    assert!(r.body.contains("value=\"keep me\""));
}

#[tokio::test]
async fn skew_and_image_flags_are_shown() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    deploy(&lead, "api", "prod", "v3.8.1", "succeeded").await;
    let ask = deploy(&lead, "rpc-user", "prod", "v3.9.0", "succeeded").await;
    assert_eq!(ask.status, StatusCode::OK, "skew is shown before saving");
    assert!(
        ask.body.contains("Not recorded yet") && ask.body.contains("newer than api v3.8.1"),
        "{}",
        ask.body
    );
    assert!(ask.body.contains("Record anyway") && ask.body.contains("value=\"v3.9.0\""));
    let recorded = app.count("select count(*) from deployments").await;
    assert_eq!(recorded, 1, "nothing is saved until it is confirmed");
    for (svc, v) in [("rpc-user", "v3.9.0"), ("push", "v3.6.0")] {
        let r = lead
            .post(
                "/deployments",
                &[
                    ("service", svc),
                    ("environment", "prod"),
                    ("version", v),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let m = lead.get("/deployments").await.body;
    assert!(cell(&m, "rpc-user").contains("newer than api v3.8.1"));
    assert!(cell(&m, "push").contains("more than one minor behind api v3.8.1"));
    assert!(!cell(&m, "api").contains("⚠"));

    let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    for (reg, arch, digest) in [
        ("ghcr.io", "linux/amd64", d('a')),
        ("ghcr.io", "linux/arm64", d('b')),
        ("docker.io", "linux/amd64", d('c')),
    ] {
        let r = lead
            .post(
                "/services/api/images",
                &[
                    ("version", "v3.8.1"),
                    ("registry", reg),
                    ("arch", arch),
                    ("digest", &digest),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
    let page = lead.get("/services/api").await.body;
    assert!(page.contains("docker.io has no linux/arm64 image"));
    assert!(page.contains("linux/amd64 digests disagree between registries"));
}

/// A health endpoint the test turns up and down.
async fn toggled_server() -> (String, Arc<AtomicBool>) {
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let app = axum::Router::new().route(
        "/healthz",
        axum::routing::get(move || {
            let flag = flag.clone();
            async move {
                if flag.load(Ordering::SeqCst) {
                    (axum::http::StatusCode::OK, "ok")
                } else {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/healthz", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, up)
}

#[tokio::test]
async fn the_prober_marks_a_service_down_after_consecutive_failures_and_up_again() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    deploy(&lead, "api", "prod", "v3.8.1", "succeeded").await;
    let (url, up) = toggled_server().await;
    let r = lead
        .post(
            "/services/api/health-url",
            &[("environment", "prod"), ("url", &url)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    sqlx::query("update services set probe_failures = 3")
        .execute(&app.pool)
        .await
        .unwrap();
    let client = reqwest::Client::new();
    // Each round probes what is due; the test makes the target due again instead of sleeping.
    let round = || async {
        sqlx::query("update health_targets set next_probe_at = now()")
            .execute(&app.pool)
            .await
            .unwrap();
        deploys::prober::round(&app.state, &client, "test")
            .await
            .unwrap()
    };
    assert_eq!(round().await, 1);
    assert!(cell(&lead.get("/deployments").await.body, "api").contains("badge health-up"));

    up.store(false, Ordering::SeqCst);
    round().await;
    round().await;
    assert!(
        cell(&lead.get("/deployments").await.body, "api").contains("badge health-up"),
        "two failures are not enough"
    );
    round().await;
    let m = lead.get("/deployments").await.body;
    assert!(
        cell(&m, "api").contains("badge health-down"),
        "the third failure in a row marks it down"
    );
    let events: Vec<String> = sqlx::query_scalar("select event from outbox")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, ["service.down"]);
    let home = lead.get("/").await.body;
    assert!(
        home.contains("api in prod") && home.contains("v3.8.1 → prod"),
        "the home page tells"
    );

    up.store(true, Ordering::SeqCst);
    round().await;
    assert!(cell(&lead.get("/deployments").await.body, "api").contains("badge health-up"));
    let samples = app.count("select count(*) from health_samples").await;
    assert_eq!(samples, 5);
    let page = lead.get("/services/api").await.body;
    assert!(
        page.contains("prod: 40.00 % up over 5 checks"),
        "uptime from the samples"
    );
}

#[tokio::test]
async fn two_instances_never_probe_the_same_target() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    sqlx::query(
        "insert into services (name, role, owner_id) select 'svc' || n, 'worker', 1 from generate_series(1, 40) n",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into health_targets (service_id, environment_id, url)
         select s.id, e.id, 'http://127.0.0.1:1/' from services s cross join environments e",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    drop(lead);
    let second = flowdeck::db::pool(&app.db_url).await.unwrap();
    let (a, b) = tokio::join!(
        deploys::prober::claim_due(&app.pool, "instance-a", 100),
        deploys::prober::claim_due(&second, "instance-b", 100),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let total = app.count("select count(*) from health_targets").await;
    assert_eq!(
        (a.len() + b.len()) as i64,
        total,
        "every due target is claimed"
    );
    for t in &a {
        assert!(
            !b.iter()
                .any(|u| u.service_id == t.service_id && u.environment_id == t.environment_id),
            "claimed twice"
        );
    }
    let again = deploys::prober::claim_due(&second, "instance-b", 100)
        .await
        .unwrap();
    assert!(again.is_empty(), "leased targets are not claimed again");
}

#[tokio::test]
async fn incidents_open_and_resolve_and_offline_sites_get_a_bundle_plan() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    let digest = format!("sha256:{}", "d".repeat(64));
    lead.post(
        "/deployments",
        &[
            ("service", "api"),
            ("environment", "site-a"),
            ("version", "v3.8.1"),
            ("status", "succeeded"),
            ("digest", &digest),
        ],
    )
    .await;
    lead.post(
        "/deployments",
        &[
            ("service", "push"),
            ("environment", "site-a"),
            ("version", "v3.8.0"),
            ("status", "succeeded"),
        ],
    )
    .await;
    let plan = lead.get("/deployments/bundle/site-a").await.body;
    assert!(
        plan.contains(&format!("docker pull ghcr.io/example/api:v3.8.1@{digest}")),
        "pinned by digest"
    );
    assert!(plan.contains("docker pull ghcr.io/example/push:v3.8.0"));
    assert!(
        plan.contains("docker save -o site-a-bundle.tar")
            && plan.contains("docker load -i site-a-bundle.tar")
    );

    let dep = last_id(&app).await;
    let bad = lead
        .post(
            "/incidents",
            &[
                ("service", "api"),
                ("environment", "site-a"),
                ("severity", "sev2"),
                ("title", "x"),
                ("deployment", &dep.to_string()),
            ],
        )
        .await;
    assert!(
        bad.body
            .contains("No such deployment of this service in this environment.")
    );
    let ok = lead
        .post(
            "/incidents",
            &[
                ("service", "push"),
                ("environment", "site-a"),
                ("severity", "sev2"),
                ("title", "Push backlog"),
                ("deployment", &dep.to_string()),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let list = lead.get("/incidents").await.body;
    assert!(
        list.contains("Push backlog")
            && list.contains(&format!("#{dep} v3.8.0"))
            && list.contains(">open<")
    );
    let id = app.count("select id from incidents").await;
    let no_note = lead.post(&format!("/incidents/{id}/resolve"), &[]).await;
    assert_eq!(no_note.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_note.body.contains("Write what restored service."));
    let upd = lead
        .post(
            &format!("/incidents/{id}"),
            &[("body", "Backlog draining <b>slowly</b>")],
        )
        .await;
    assert_eq!(upd.status, StatusCode::SEE_OTHER);
    let resolve = [("body", "Restarted the consumer")];
    assert_eq!(
        lead.post(&format!("/incidents/{id}/resolve"), &resolve)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let again = lead
        .post(&format!("/incidents/{id}/resolve"), &resolve)
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.body.contains("already resolved"));
    let page = lead.get(&format!("/incidents/{id}")).await.body;
    let (opened, update, resolved) = (
        page.find("<strong>Opened</strong>").expect("opened"),
        page.find("Backlog draining &lt;b&gt;slowly&lt;/b&gt;")
            .expect("update, escaped"),
        page.find("Restarted the consumer").expect("resolution"),
    );
    assert!(
        opened < update && update < resolved,
        "the timeline is in order"
    );
    assert!(
        page.contains(&format!("/deployments/{dep}")),
        "the cause is linked"
    );
    let filtered = lead.get("/incidents?service=api").await.body;
    assert!(
        !filtered.contains("Push backlog"),
        "the service filter holds"
    );
    assert!(
        lead.get("/services/push")
            .await
            .body
            .contains("resolved after")
    );
}

#[tokio::test]
async fn history_filters_and_pages_with_the_filters_in_the_url() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    sqlx::query(
        "insert into deployments (service_id, environment_id, version, status, started_at, finished_at, actor, source)
         select 1, 2, 'v3.8.' || n, 'succeeded', now(), now(), 'ci', 'api' from generate_series(1, 70) n",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    deploy(&lead, "push", "prod", "v9.9.9", "failed").await;
    let page = lead
        .get("/deployments/history?service=api&environment=prod&status=")
        .await
        .body;
    assert!(page.contains("v3.8.70") && page.contains("v3.8.21") && !page.contains("v3.8.20<"));
    assert!(!page.contains("v9.9.9"), "filtered by service");
    let start = page
        .find("/deployments/history?service=api&amp;environment=prod&amp;status=&amp;before=")
        .expect("older link keeps the filters");
    let href: String = page[start..].chars().take_while(|c| *c != '"').collect();
    let older = lead.get(&href.replace("&amp;", "&")).await.body;
    assert!(older.contains("v3.8.20") && older.contains("v3.8.1<") && !older.contains("v3.8.21"));
    let failed = lead.get("/deployments/history?status=failed").await.body;
    assert!(failed.contains("v9.9.9") && !failed.contains("v3.8.70"));
}

#[tokio::test]
async fn members_record_deployments_but_only_leads_add_services_and_health_urls() {
    let app = TestApp::spawn().await;
    let _lead = setup(&app).await;
    let member = app.logged_in("mo", Role::Member).await;
    let refused = member
        .post("/services", &[("name", "x"), ("role", "api")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.body.contains("add services and environments"),
        "the refusal names what is refused: {}",
        refused.body
    );
    assert_eq!(
        member
            .post("/environments", &[("name", "x"), ("tier", "staging")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        member
            .post(
                "/services/api/health-url",
                &[("environment", "prod"), ("url", "http://x")]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        deploy(&member, "api", "prod", "v1.0.0", "succeeded")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        member.get("/services/nope").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn samples_older_than_two_weeks_are_folded_into_daily_rows() {
    let app = TestApp::spawn().await;
    let _lead = setup(&app).await;
    sqlx::query(
        "insert into health_samples (service_id, environment_id, at, ok, latency_ms)
         select 1, 2, now() - interval '20 days' + n * interval '1 minute', n % 4 <> 0, 10
         from generate_series(1, 8) n
         union all select 1, 2, now() - interval '1 day', true, 12",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let removed = deploys::fold_old_samples(&app.pool).await.unwrap();
    assert_eq!(removed, 8);
    let (checks, failures): (i32, i32) =
        sqlx::query_as("select checks, failures from health_daily")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((checks, failures), (8, 2));
    let left = app.count("select count(*) from health_samples").await;
    assert_eq!(left, 1, "recent samples stay");
}

#[tokio::test]
async fn only_a_lead_or_the_recorder_rolls_back_and_members_report_health_outside_production() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    let mo = app.logged_in("mo", Role::Member).await;
    let zoe = app.logged_in("zoe", Role::Member).await;
    deploy(&mo, "api", "prod", "v1.0.0", "succeeded").await;
    let id = last_id(&app).await;
    let path = format!("/deployments/{id}/status");
    let refused = zoe.post(&path, &[("status", "rolled_back")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("whoever recorded this deployment"));
    assert!(
        !zoe.get("/deployments/history")
            .await
            .body
            .contains(">rolled back</button>"),
        "the button is not offered to her"
    );
    let yes = [("status", "rolled_back"), ("confirm", "yes")];
    let refused = zoe.post(&path, &yes).await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "confirming does not get around the policy"
    );
    assert_eq!(
        mo.post(&path, &[("status", "rolled_back")]).await.status,
        StatusCode::OK,
        "the recorder is asked to confirm"
    );
    assert_eq!(
        mo.post(&path, &yes).await.status,
        StatusCode::SEE_OTHER,
        "the recorder may"
    );
    deploy(&mo, "api", "prod", "v1.0.1", "succeeded").await;
    let id = last_id(&app).await;
    assert_eq!(
        lead.post(
            &format!("/deployments/{id}/status"),
            &[("status", "rolled_back"), ("confirm", "yes")]
        )
        .await
        .status,
        StatusCode::SEE_OTHER,
        "a lead may"
    );

    let down = |env: &'static str| [("environment", env), ("ok", "false"), ("confirm", "yes")];
    let refused = zoe.post("/services/api/report", &down("prod")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("In production only leads"));
    let ask = zoe
        .post(
            "/services/api/report",
            &[("environment", "staging"), ("ok", "false")],
        )
        .await;
    assert_eq!(ask.status, StatusCode::OK, "a report asks first");
    assert!(ask.body.contains("show it as down"), "{}", ask.body);
    assert!(
        !lead.get("/services/api").await.body.contains("reported by"),
        "nothing was reported before the confirmation"
    );
    assert_eq!(
        zoe.post("/services/api/report", &down("staging"))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        lead.post("/services/api/report", &down("prod"))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let matrix = lead.get("/deployments").await.body;
    let api = cell(&matrix, "api");
    assert!(
        api.contains("health-down")
            && api.contains("reported by zoe")
            && api.contains("reported by lee"),
        "the matrix shows who reported the state: {api}"
    );
    let home = lead.get("/").await.body;
    assert!(
        home.contains("api in prod") && home.contains("reported by lee"),
        "so does the home page"
    );
}

#[tokio::test]
async fn versions_follow_the_release_rules_and_untagged_ones_of_a_linked_repository_are_flagged() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    let r = deploy(&lead, "api", "prod", "latest-ish", "succeeded").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("does not start with “v”") && r.body.contains("v3.8.2, v3.9.0-rc.1"),
        "the reason is given: {}",
        r.body
    );
    let r = deploy(&lead, "api", "prod", "v3.9.0-RC1", "succeeded").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Did you mean v3.9.0-rc.1?"), "{}", r.body);

    // Link api to a repository that has tagged v3.8.0 only.
    let made = lead
        .post(
            "/releases",
            &[
                ("name", "server"),
                ("url", "https://github.com/example/server"),
                ("default_branch", ""),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER);
    let tagged = lead
        .post(
            "/releases/server/tags",
            &[("tag", "v3.8.0"), ("commit", "abcdef1234567")],
        )
        .await;
    assert_eq!(tagged.status, StatusCode::SEE_OTHER, "{}", tagged.body);
    let linked = lead
        .post("/services/api/repository", &[("repository", "server")])
        .await;
    assert_eq!(linked.status, StatusCode::SEE_OTHER);
    assert!(
        lead.get("/services/api")
            .await
            .body
            .contains("versions from repository")
    );

    assert_eq!(
        deploy(&lead, "api", "prod", "v3.8.0", "succeeded")
            .await
            .status,
        StatusCode::SEE_OTHER,
        "a recorded tag needs no confirmation"
    );
    let tag = lead.get("/releases/server/tags/v3.8.0").await.body;
    assert!(
        tag.contains("Where this version runs now") && tag.contains(">api</a> in prod"),
        "the tag page says where the version runs: {tag}"
    );
    assert!(
        tag.contains("href=\"https://github.com/example/server/commit/abcdef1234567\""),
        "its commit links to the repository: {tag}"
    );
    assert!(tag.contains("Backports on release-v3.8"));
    assert!(
        lead.get("/releases/server")
            .await
            .body
            .contains("<a href=\"https://github.com/example/server\""),
        "the repository URL is a link"
    );
    let ask = deploy(&lead, "api", "prod", "v3.8.7", "succeeded").await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(
        ask.body
            .contains("v3.8.7 is not a recorded tag of repository server"),
        "{}",
        ask.body
    );
    let r = lead
        .post(
            "/deployments",
            &[
                ("service", "api"),
                ("environment", "prod"),
                ("version", "v3.8.7"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the lead may accept the warning"
    );
    assert!(cell(&lead.get("/deployments").await.body, "api").contains("v3.8.7"));

    // A service form names its repository; an unknown one is refused.
    let r = lead
        .post(
            "/services",
            &[("name", "web"), ("role", "web"), ("repository", "nope")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose a recorded repository"));
}

#[tokio::test]
async fn history_is_ordered_by_when_deployments_happened_and_records_can_be_corrected() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    let mo = app.logged_in("mo", Role::Member).await;
    let zoe = app.logged_in("zoe", Role::Member).await;
    // A deployment that started long ago but finished last, and 60 older ones.
    sqlx::query(
        "insert into deployments (service_id, environment_id, version, status, started_at, finished_at, actor, source)
         select 1, 2, 'v3.7.' || n, 'succeeded', now() - interval '10 days' + n * interval '1 minute',
                now() - interval '10 days' + n * interval '1 minute', 'ci', 'api'
         from generate_series(1, 60) n",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into deployments (service_id, environment_id, version, status, started_at, finished_at, actor, source)
         values (2, 2, 'v3.8.0', 'succeeded', now() - interval '30 days', now() - interval '1 minute', 'ci', 'api'),
                (3, 2, 'v3.8.1', 'running', now() - interval '1 hour', null, 'ci', 'api')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let page = lead.get("/deployments/history").await.body;
    let (late, running, old) = (
        page.find("v3.8.0").expect("late finisher"),
        page.find("v3.8.1").expect("running"),
        page.find("v3.7.60").expect("old"),
    );
    assert!(
        late < running && running < old,
        "finished a minute ago, then started an hour ago, then older ones"
    );
    let next = page
        .split("href=\"")
        .find(|s| s.starts_with("/deployments/history?") && s.contains("before="))
        .map(|s| s.split('"').next().unwrap().replace("&amp;", "&"))
        .expect("an older page");
    let older = lead.get(&next).await.body;
    assert!(
        older.contains("v3.7.1<") && !older.contains("v3.8.0"),
        "the keyset page continues"
    );
    assert_eq!(
        older.matches("<tr>").count() - 1,
        12,
        "62 rows: 50, then 12"
    );

    // Corrections: the recorder or a lead; audited; status and version stay.
    deploy(&mo, "push", "prod", "v3.8.0", "succeeded").await;
    let id = last_id(&app).await;
    let path = format!("/deployments/{id}");
    let fix = [
        ("note", "hotfix for login"),
        ("commit", "abc1234"),
        ("image_ref", "ghcr.io/example/push:v3.8.0"),
    ];
    assert_eq!(zoe.post(&path, &fix).await.status, StatusCode::FORBIDDEN);
    assert!(!zoe.get(&path).await.body.contains("Correct this record"));
    let bad = mo
        .post(
            &path,
            &[("note", "x"), ("commit", "nothex!"), ("image_ref", "")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("A commit id is 7 to 64") && bad.body.contains("value=\"nothex!\""));
    assert_eq!(mo.post(&path, &fix).await.status, StatusCode::SEE_OTHER);
    let shown = lead.get(&path).await.body;
    assert!(
        shown.contains("hotfix for login")
            && shown.contains("abc1234")
            && shown.contains("Corrected")
    );
    let (before, after): (serde_json::Value, serde_json::Value) =
        sqlx::query_as("select before, after from audit_log where action = 'deployment.corrected'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(before["note"], "");
    assert_eq!(after["commit"], "abc1234");
}

#[tokio::test]
async fn the_home_tile_shows_a_rollout_to_many_services_as_one_line() {
    let app = TestApp::spawn().await;
    let lead = setup(&app).await;
    for svc in ["api", "rpc-user", "push"] {
        let r = lead
            .post(
                "/deployments",
                &[
                    ("service", svc),
                    ("environment", "prod"),
                    ("version", "v3.8.1"),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
    let home = lead.get("/").await.body;
    assert!(home.contains("v3.8.1 → prod, 3 services"), "{home}");
}
