//! GitHub webhooks through the real router: a secret made on the admin page, signed deliveries
//! in GitHub's payload shapes, stored then processed by the worker, deduplicated by delivery id;
//! bad signatures stored nowhere; immutability violations kept with their reason.

mod common;

use common::{Client, TestApp};
use flowdeck::auth::model::Role;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

async fn secret_for(ada: &Client, repo: &str) -> String {
    let r = ada
        .post(&format!("/admin/integrations/github/{repo}/secret"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = ada.get("/admin/integrations").await.body;
    let start = page
        .find("<code class=\"copy\">")
        .expect("the secret is shown once")
        + 19;
    let end = page[start..].find('<').unwrap() + start;
    let secret = page[start..end].to_string();
    assert!(
        !ada.get("/admin/integrations").await.body.contains(&secret),
        "then only masked"
    );
    secret
}

async fn deliver(
    app: &TestApp,
    secret: &str,
    event: &str,
    id: &str,
    payload: &Value,
) -> StatusCode {
    let body = payload.to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    reqwest::Client::new()
        .post(format!("{}/hooks/github", app.base))
        .header("x-github-event", event)
        .header("x-github-delivery", id)
        .header("x-hub-signature-256", sig)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

/// Waits until the worker has processed every delivery.
async fn settled(app: &TestApp) -> Vec<(String, String, String)> {
    for _ in 0..100 {
        let pending = app
            .count("select count(*) from github_deliveries where status = 'pending'")
            .await;
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    sqlx::query_as("select event, status, outcome from github_deliveries order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn repository() -> Value {
    json!({ "id": 1296269, "name": "server", "full_name": "example/server", "private": false,
            "html_url": "https://github.com/example/server" })
}

#[tokio::test]
async fn signed_deliveries_record_tags_deployments_and_merged_pull_requests() {
    let app = TestApp::spawn().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    ada.post(
        "/releases",
        &[
            ("name", "server"),
            ("url", "https://github.com/example/server"),
            ("default_branch", "main"),
        ],
    )
    .await;
    let r = ada
        .post(
            "/services",
            &[
                ("name", "api"),
                ("role", "api"),
                ("image", ""),
                ("repository", "server"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    ada.post(
        "/environments",
        &[
            ("name", "prod"),
            ("tier", "production"),
            ("position", "1"),
            ("url", ""),
        ],
    )
    .await;
    let secret = secret_for(&ada, "server").await;

    let ping = json!({ "zen": "Design for failure.", "hook_id": 1, "repository": repository() });
    assert_eq!(
        deliver(&app, &secret, "ping", "d-1", &ping).await,
        StatusCode::ACCEPTED
    );

    let push = json!({
        "ref": "refs/tags/v3.9.0", "before": "0000000000000000000000000000000000000000",
        "after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "created": true, "deleted": false,
        "forced": false, "base_ref": null, "compare": "https://github.com/example/server/compare/v3.9.0",
        "commits": [], "head_commit": { "id": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            "timestamp": "2026-11-20T10:00:00+01:00", "message": "Release v3.9.0" },
        "repository": repository(), "pusher": { "name": "ada", "email": "ada@example.com" },
        "sender": { "login": "ada" }
    });
    assert_eq!(
        deliver(&app, &secret, "push", "d-2", &push).await,
        StatusCode::ACCEPTED
    );
    // GitHub redelivers the same delivery: acknowledged, not processed twice.
    assert_eq!(
        deliver(&app, &secret, "push", "d-2", &push).await,
        StatusCode::OK
    );

    let moved = json!({ "ref": "refs/tags/v3.9.0", "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "aaaaaaa27ae82c7b1a177c8d03f9e96e0adf246", "created": false, "deleted": false,
        "forced": true, "repository": repository() });
    deliver(&app, &secret, "push", "d-3", &moved).await;
    let deleted = json!({ "ref": "v3.9.0", "ref_type": "tag", "pusher_type": "user", "repository": repository() });
    deliver(&app, &secret, "delete", "d-4", &deleted).await;

    let deployment = json!({ "id": 145988746, "sha": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "ref": "v3.9.0", "task": "deploy", "payload": {}, "environment": "prod",
        "created_at": "2026-11-20T10:05:00Z" });
    let status = |state: &str| {
        json!({ "action": "created",
        "deployment_status": { "id": 1, "state": state, "description": "Deployed by Actions",
            "environment": "prod", "created_at": "2026-11-20T10:06:00Z" },
        "deployment": deployment, "repository": repository() })
    };
    deliver(
        &app,
        &secret,
        "deployment_status",
        "d-5",
        &status("in_progress"),
    )
    .await;
    deliver(
        &app,
        &secret,
        "deployment_status",
        "d-6",
        &status("success"),
    )
    .await;

    let pr = json!({ "action": "closed", "number": 42, "pull_request": {
        "number": 42, "title": "Lease health probes", "user": { "login": "ken" }, "merged": true,
        "merge_commit_sha": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "created_at": "2026-11-18T09:00:00Z", "merged_at": "2026-11-19T16:30:00Z" },
        "repository": repository() });
    deliver(&app, &secret, "pull_request", "d-7", &pr).await;
    let unknown = json!({ "action": "created", "repository": repository() });
    deliver(&app, &secret, "star", "d-8", &unknown).await;

    let outcomes = settled(&app).await;
    let status_of = |i: usize| (outcomes[i].0.as_str(), outcomes[i].1.as_str());
    assert_eq!(outcomes.len(), 8, "{outcomes:?}");
    assert_eq!(status_of(0), ("ping", "ignored"));
    assert_eq!(status_of(1), ("push", "applied"), "{outcomes:?}");
    assert_eq!(status_of(2), ("push", "refused"));
    assert!(outcomes[2].2.contains("immutable"));
    assert_eq!(status_of(3), ("delete", "refused"));
    assert_eq!(
        status_of(4),
        ("deployment_status", "applied"),
        "{outcomes:?}"
    );
    assert_eq!(
        status_of(5),
        ("deployment_status", "applied"),
        "{outcomes:?}"
    );
    assert_eq!(status_of(6), ("pull_request", "applied"));
    assert_eq!(status_of(7), ("star", "ignored"));

    let (commit, source): (String, String) =
        sqlx::query_as("select commit_sha, source from release_tags where name = 'v3.9.0'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (commit.as_str(), source.as_str()),
        ("6113728f27ae82c7b1a177c8d03f9e96e0adf246", "webhook"),
        "recorded once, at the pushed commit, not moved"
    );
    let matrix = ada.get("/deployments").await.body;
    assert!(
        matrix.contains("v3.9.0"),
        "the deployment status reached the matrix"
    );
    let (dep_source, dep_status): (String, String) =
        sqlx::query_as("select source, status from deployments order by id desc limit 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (dep_source.as_str(), dep_status.as_str()),
        ("webhook", "succeeded")
    );
    let title: String = sqlx::query_scalar("select title from change_records where number = 42")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(title, "Lease health probes");

    let page = ada.get("/admin/integrations").await.body;
    assert!(page.contains("immutable") && page.contains("Process again"));
    let id = app
        .count("select id from github_deliveries where delivery_id = 'd-8'")
        .await;
    let r = ada
        .post(&format!("/admin/integrations/deliveries/{id}/again"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let again = settled(&app).await;
    assert_eq!(again[7].1, "ignored", "processed again");

    // A branch that looks like a release line but breaks the policy gets a hint, as in git import.
    let branch = json!({ "ref": "release/v3.9", "ref_type": "branch", "master_branch": "main",
        "pusher_type": "user", "repository": repository() });
    deliver(&app, &secret, "create", "d-9", &branch).await;
    let last = settled(&app).await.pop().unwrap();
    assert_eq!(last.1, "refused", "{last:?}");
    assert!(
        last.2.contains("not a path") && last.2.contains("Did you mean release-v3.9?"),
        "{last:?}"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_signature_is_refused_and_stored_nowhere() {
    let app = TestApp::spawn().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    ada.post(
        "/releases",
        &[("name", "server"), ("url", ""), ("default_branch", "")],
    )
    .await;
    let secret = secret_for(&ada, "server").await;
    let payload = json!({ "zen": "x", "repository": repository() });
    assert_eq!(
        deliver(&app, "not the secret", "ping", "x-1", &payload).await,
        StatusCode::UNAUTHORIZED
    );
    let r = reqwest::Client::new()
        .post(format!("{}/hooks/github", app.base))
        .header("x-github-event", "ping")
        .header("x-github-delivery", "x-2")
        .body(payload.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "no signature");
    let unknown_repo = json!({ "zen": "x", "repository": { "name": "elsewhere" } });
    assert_eq!(
        deliver(&app, &secret, "ping", "x-3", &unknown_repo).await,
        StatusCode::UNAUTHORIZED,
        "a repository without a secret"
    );
    let nul = json!({ "zen": "a\u{0}b", "repository": repository() });
    assert_eq!(
        deliver(&app, &secret, "ping", "x-5", &nul).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a NUL cannot be stored: a clear refusal, not a 500"
    );
    let huge = reqwest::Client::new()
        .post(format!("{}/hooks/github", app.base))
        .header("x-github-event", "push")
        .header("x-github-delivery", "x-4")
        .body(vec![b' '; 26 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(
        huge.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "GitHub's limit is 25 MB"
    );
    let n = app.count("select count(*) from github_deliveries").await;
    assert_eq!(n, 0);
    let mo = app.logged_in("mo", Role::Member).await;
    assert_eq!(
        mo.get("/admin/integrations").await.status,
        StatusCode::FORBIDDEN
    );
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/github/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// GitHub's published example payloads (octokit/webhooks-examples), delivered exactly as GitHub
/// documents them, then with only the version, environment or merge fields changed.
#[tokio::test]
async fn githubs_own_example_payloads_are_understood() {
    let app = TestApp::spawn().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    ada.post(
        "/releases",
        &[
            ("name", "Hello-World"),
            ("url", "https://github.com/Codertocat/Hello-World"),
            ("default_branch", "master"),
        ],
    )
    .await;
    ada.post(
        "/services",
        &[
            ("name", "hello"),
            ("role", "api"),
            ("image", ""),
            ("repository", "hello-world"),
        ],
    )
    .await;
    for (name, pos) in [("production", "1"), ("github-pages", "2")] {
        ada.post(
            "/environments",
            &[
                ("name", name),
                ("tier", "production"),
                ("position", pos),
                ("url", ""),
            ],
        )
        .await;
    }
    // flowdeck names are lowercase; GitHub's payloads keep the case.
    let secret = secret_for(&ada, "hello-world").await;

    // As published: their tag is "simple-tag" and their release "0.0.1", which the team's version
    // rules refuse with the reason; their deployment deploys the branch "master".
    let verbatim = [
        ("ping", "ping"),
        ("create", "create-tag"),
        ("push", "push-tag"),
        ("push", "push-branch"),
        ("delete", "delete-tag"),
        ("release", "release-published"),
        ("deployment", "deployment"),
        ("deployment_status", "deployment_status"),
        ("pull_request", "pull_request-closed"),
    ];
    for (i, (event, file)) in verbatim.iter().enumerate() {
        let status = deliver(&app, &secret, event, &format!("gh-{i}"), &fixture(file)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{file}");
    }
    let got = settled(&app).await;
    let outcome = |i: usize| (got[i].1.as_str(), got[i].2.as_str());
    assert_eq!(got.len(), verbatim.len(), "{got:?}");
    assert_eq!(outcome(0).0, "ignored", "ping: {got:?}");
    assert_eq!(outcome(1).0, "refused", "{got:?}");
    assert!(outcome(1).1.contains("simple-tag"), "{got:?}");
    assert_eq!(outcome(2).0, "refused", "{got:?}");
    assert_eq!(outcome(3), ("ignored", "push to a branch"));
    assert!(outcome(4).1.contains("immutable"), "{got:?}");
    assert_eq!(outcome(5).0, "refused", "{got:?}");
    assert!(
        outcome(5).1.contains("v0.0.1"),
        "the near miss is named: {got:?}"
    );
    assert_eq!(outcome(6).0, "ignored", "{got:?}");
    assert_eq!(outcome(7).0, "refused", "{got:?}");
    assert!(outcome(7).1.contains("master"), "{got:?}");
    assert_eq!(
        outcome(8).0,
        "ignored",
        "their closed pull request was not merged: {got:?}"
    );

    // The same shapes carrying the team's versions are applied.
    let mut release = fixture("release-published");
    release["release"]["tag_name"] = json!("v0.1.0");
    let mut pre = fixture("release-prereleased");
    pre["release"]["tag_name"] = json!("v0.2.0-rc.1");
    let mut push = fixture("push-tag");
    push["ref"] = json!("refs/tags/v0.1.1");
    let mut status = fixture("deployment_status");
    status["deployment"]["ref"] = json!("v0.1.0");
    let mut merged = fixture("pull_request-closed");
    merged["pull_request"]["merged"] = json!(true);
    merged["pull_request"]["merged_at"] = json!("2019-05-15T15:20:40Z");
    for (i, (event, payload)) in [
        ("release", &release),
        ("release", &pre),
        ("push", &push),
        ("deployment_status", &status),
        ("pull_request", &merged),
    ]
    .into_iter()
    .enumerate()
    {
        deliver(&app, &secret, event, &format!("gh-adapted-{i}"), payload).await;
    }
    let got = settled(&app).await;
    for row in &got[verbatim.len()..] {
        assert_eq!(row.1, "applied", "{got:?}");
    }
    let tags: Vec<String> = sqlx::query_scalar("select name from release_tags order by name")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(tags, ["v0.1.0", "v0.1.1", "v0.2.0-rc.1"]);
    let releases = ada.get("/releases/hello-world/release-v0.1").await;
    assert!(
        releases.body.contains("v0.1.1"),
        "the line opened by v0.1.0 shows the pushed tag"
    );
    let matrix = ada.get("/deployments").await.body;
    assert!(
        matrix.contains("v0.1.0"),
        "GitHub's deployment reached the matrix"
    );
    let (number, author): (i32, String) =
        sqlx::query_as("select number, author from change_records")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((number, author.as_str()), (2, "Codertocat"));
}
