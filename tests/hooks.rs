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
        let pending: i64 =
            sqlx::query_scalar("select count(*) from github_deliveries where status = 'pending'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
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
    let id: i64 = sqlx::query_scalar("select id from github_deliveries where delivery_id = 'd-8'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
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
    let n: i64 = sqlx::query_scalar("select count(*) from github_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let mo = app.logged_in("mo", Role::Member).await;
    assert_eq!(
        mo.get("/admin/integrations").await.status,
        StatusCode::FORBIDDEN
    );
}
