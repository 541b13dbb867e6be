//! The JSON API through the real router: tokens made on the page and used as bearer tokens,
//! scopes, the JSON error contract, idempotent writes, cursor pages, rate limits, and writes that
//! go through the same rules as the forms.

mod common;

use common::{Client, TestApp};
use flowdeck::auth::model::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Creates a token on `/profile/tokens` as `c` with `scopes`; returns the secret shown once.
async fn token(c: &Client, name: &str, scopes: &[&str]) -> String {
    let mut fields = vec![("name", name), ("days", "30")];
    for s in scopes {
        fields.push(("scopes", s));
    }
    let created = c.post("/profile/tokens", &fields).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let page = c.get("/profile/tokens").await;
    let start = page
        .body
        .find("<code class=\"copy\">")
        .expect("the secret is shown")
        + 19;
    let end = page.body[start..].find('<').unwrap() + start;
    page.body[start..end].to_string()
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(app: &TestApp, token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("{}/api/v1", app.base),
            token: token.to_string(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
        key: Option<&str>,
    ) -> (StatusCode, Value, String) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json, text)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.send(reqwest::Method::GET, path, None, None).await;
        (s, v)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, _) = self
            .send(reqwest::Method::POST, path, Some(&body.to_string()), None)
            .await;
        (s, v)
    }
}

async fn targets(app: &TestApp) {
    let lead = app.logged_in("lee", Role::Lead).await;
    for (name, role) in [("api", "api"), ("web", "web")] {
        let r = lead
            .post(
                "/services",
                &[("name", name), ("role", role), ("image", "")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let r = lead
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
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_token_made_on_the_page_records_a_deployment_that_the_matrix_shows() {
    let app = TestApp::spawn().await;
    targets(&app).await;
    let mo = app.logged_in("mo", Role::Member).await;
    let secret = token(&mo, "CI deploy job", &["read", "deployments:write"]).await;
    assert!(secret.starts_with("fdk_") && secret.len() == 47, "{secret}");
    let list = mo.get("/profile/tokens").await.body;
    assert!(list.contains("CI deploy job") && list.contains(&format!("{}…", &secret[..10])));
    assert!(
        !list.contains(&secret),
        "the secret is shown only once (a reload does not show it)"
    );
    let stored: i64 =
        sqlx::query_scalar("select count(*) from api_tokens where token_hash = sha256($1::bytea)")
            .bind(secret.as_bytes())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1, "only its SHA-256 is kept");

    let api = Api::new(&app, &secret);
    let (s, me) = api.get("/me").await;
    assert_eq!((s, me["handle"].as_str()), (StatusCode::OK, Some("mo")));
    let (s, body) = api
        .post(
            "/deployments",
            json!({"service": "api", "environment": "prod", "version": "v3.8.1", "commit": "abc1234"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["deployment"]["status"], "succeeded");
    assert_eq!(body["deployment"]["source"], "api");
    let id = body["deployment"]["id"].as_i64().unwrap();
    let matrix = mo.get("/deployments").await.body;
    assert!(matrix.contains("v3.8.1"), "the matrix shows it");
    let actor: String =
        sqlx::query_scalar("select actor from audit_log where action = 'deployment.recorded'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(actor, "mo (token “CI deploy job”)");

    // Skew is recorded, not stopped, and reported.
    let (s, body) = api
        .post(
            "/deployments",
            json!({"service": "web", "environment": "prod", "version": "v3.9.0"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(
        body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("newer than api"),
        "{body}"
    );

    let (s, one) = api.get(&format!("/deployments/{id}")).await;
    assert_eq!(
        (s, one["commit"].as_str()),
        (StatusCode::OK, Some("abc1234"))
    );
    let (s, moved) = api
        .post(
            &format!("/deployments/{id}/status"),
            json!({"status": "rolled_back"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "the recorder may roll back: {moved}");
    assert_eq!(moved["status"], "rolled_back");
}

#[tokio::test]
async fn the_api_refuses_without_a_valid_token_and_in_its_own_words() {
    let app = TestApp::spawn().await;
    targets(&app).await;
    let mo = app.logged_in("mo", Role::Member).await;
    // A browser session is not a credential here.
    let r = mo
        .http
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let lower = reqwest::Client::new()
        .get(format!("{}/api/v1/me", app.base))
        .header("authorization", "bearer fdk_x")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        lower["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown"),
        "the scheme is case-insensitive: the token itself was checked: {lower}"
    );
    let bogus = Api::new(&app, "fdk_not-a-real-token");
    assert_eq!(bogus.get("/me").await.0, StatusCode::UNAUTHORIZED);

    let secret = token(&mo, "reader", &["read"]).await;
    let api = Api::new(&app, &secret);
    let (s, body) = api
        .post(
            "/deployments",
            json!({"service": "api", "environment": "prod", "version": "v1.0.0"}),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("missing_scope"))
    );

    // Revoked: stops at once.
    let id = app
        .count("select id from api_tokens where name = 'reader'")
        .await;
    let r = mo.post(&format!("/profile/tokens/{id}/revoke"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(api.get("/me").await.0, StatusCode::UNAUTHORIZED);

    // Expired: refused with its own code, and the use is audited.
    let secret = token(&mo, "old", &["read"]).await;
    sqlx::query(
        "update api_tokens set expires_at = now() - interval '1 minute' where name = 'old'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let (s, body) = Api::new(&app, &secret).get("/me").await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_expired"))
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'token.used_after_expiry'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // A disabled account's tokens stop at once.
    let secret = token(&mo, "live", &["read"]).await;
    let api = Api::new(&app, &secret);
    assert_eq!(api.get("/me").await.0, StatusCode::OK);
    sqlx::query("update accounts set disabled_at = now() where handle = 'mo'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(api.get("/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_input_gets_a_json_error_and_writes_nothing() {
    let app = TestApp::spawn().await;
    targets(&app).await;
    let mo = app.logged_in("mo", Role::Member).await;
    let api = Api::new(
        &app,
        &token(&mo, "ci", &["read", "deployments:write"]).await,
    );
    let post = |body: &'static str| {
        let api = &api;
        async move {
            api.send(reqwest::Method::POST, "/deployments", Some(body), None)
                .await
        }
    };
    let (s, v, _) = post("{not json").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let (s, v, _) = post(r#"{"service": 1, "environment": "prod", "version": "v1.0.0"}"#).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    let (s, v, _) =
        post(r#"{"service": "api", "environment": "prod", "version": "v1.0.0", "sneaky": true}"#)
            .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused: {v}"
    );
    let (s, v, _) =
        post(r#"{"service": "api", "environment": "prod", "version": "latest-ish"}"#).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid"))
    );
    assert!(
        v["error"]["fields"]["version"]
            .as_str()
            .unwrap()
            .contains("does not start with"),
        "{v}"
    );
    let (s, v, _) =
        post(r#"{"service": "nope", "environment": "prod", "version": "v1.0.0"}"#).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["fields"]["service"], "Choose a service.");
    let huge = format!(
        r#"{{"service": "api", "environment": "prod", "version": "v1.0.0", "note": "{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/deployments", app.base))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "too_large");
    let (s, v) = api.get("/deployments?limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = api.get("/deployments?after=garbage").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = api.get("/nowhere").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let n = app.count("select count(*) from deployments").await;
    assert_eq!(n, 0, "nothing was written");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response_and_refuses_another_body() {
    let app = TestApp::spawn().await;
    targets(&app).await;
    let mo = app.logged_in("mo", Role::Member).await;
    let api = Api::new(
        &app,
        &token(&mo, "ci", &["read", "deployments:write"]).await,
    );
    let body = r#"{"service": "api", "environment": "prod", "version": "v3.8.1"}"#;
    let post = |b: &'static str| {
        let api = &api;
        async move {
            api.send(
                reqwest::Method::POST,
                "/deployments",
                Some(b),
                Some("run-42-deploy"),
            )
            .await
        }
    };
    let (s1, _, first) = post(body).await;
    let (s2, _, second) = post(body).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(first, second, "the same bytes");
    let n = app.count("select count(*) from deployments").await;
    assert_eq!(n, 1, "recorded once");
    let (s, v, _) = post(r#"{"service": "api", "environment": "prod", "version": "v3.8.2"}"#).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );

    // A claim whose response was never stored (the server died mid-request, long ago) is not
    // run again: the outcome is unknown, and the answer says so.
    let other = r#"{"service": "web", "environment": "prod", "version": "v3.8.1"}"#;
    let fingerprint = [b"POST /deployments\n".as_slice(), other.as_bytes()].concat();
    let hash = <sha2::Sha256 as sha2::Digest>::digest(&fingerprint).to_vec();
    sqlx::query(
        "insert into api_idempotency (token_id, key, request_hash, created_at)
         select token_id, 'cut-off', $1, now() - interval '10 minutes' from api_idempotency limit 1",
    )
    .bind(hash)
    .execute(&app.pool)
    .await
    .unwrap();
    let (s, v, _) = api
        .send(
            reqwest::Method::POST,
            "/deployments",
            Some(other),
            Some("cut-off"),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("idempotency_outcome_unknown"))
    );
    let n = app.count("select count(*) from deployments").await;
    assert_eq!(n, 1, "not run again");
}

#[tokio::test]
async fn lists_page_with_a_cursor_and_filters() {
    let app = TestApp::spawn().await;
    targets(&app).await;
    sqlx::query(
        "insert into deployments (service_id, environment_id, version, status, started_at, finished_at, actor, source)
         select 1, 1, 'v1.0.' || n, 'succeeded', now() - (n || ' minutes')::interval,
                now() - (n || ' minutes')::interval, 'ci', 'api'
         from generate_series(1, 25) n",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let mo = app.logged_in("mo", Role::Member).await;
    let api = Api::new(&app, &token(&mo, "reader", &["read"]).await);
    let (s, page) = api.get("/deployments?service=api&limit=10").await;
    assert_eq!(s, StatusCode::OK);
    let versions = |p: &Value| -> Vec<String> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["version"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(versions(&page)[0], "v1.0.1", "newest first");
    let mut seen = versions(&page);
    let mut next = page["next"].as_str().map(str::to_string);
    while let Some(cursor) = next {
        let (_, p) = api
            .get(&format!("/deployments?service=api&limit=10&after={cursor}"))
            .await;
        seen.extend(versions(&p));
        next = p["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 25, "every row once: {seen:?}");
    let (s, v) = api.get("/deployments?service=nope").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (s, v) = api.get("/services").await;
    assert_eq!(
        (s, v["items"][0]["name"].as_str()),
        (StatusCode::OK, Some("api"))
    );
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.api_rate_per_second = 1).await;
    let mo = app.logged_in("mo", Role::Member).await;
    let api = Api::new(&app, &token(&mo, "busy", &["read"]).await);
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..4 {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/me", app.base))
            .bearer_auth(&api.token)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
        }
        statuses.push(r.status());
    }
    assert_eq!(
        &statuses[..2],
        [StatusCode::OK, StatusCode::OK],
        "a burst of two passes"
    );
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(retry.as_deref(), Some("1"));
}

#[tokio::test]
async fn check_ins_tags_and_incidents_follow_the_same_rules_as_the_forms() {
    let app = TestApp::spawn().await;
    targets(&app).await;
    let mo = app.logged_in("mo", Role::Member).await;
    let api = Api::new(
        &app,
        &token(
            &mo,
            "all",
            &["read", "status:write", "releases:write", "incidents:write"],
        )
        .await,
    );
    let (s, v) = api.post("/status", json!({"state": "offline"})).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "offline needs a return time: {v}"
    );
    assert!(v["error"]["fields"]["for"].is_string(), "{v}");
    let (s, v) = api
        .post(
            "/status",
            json!({"state": "offline", "for": "2h", "reason": "dentist"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(mo.get("/team").await.body.contains("dentist"));
    let (s, _) = api.post("/status", json!({"state": "asleep"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Tags are for leads, whichever way they arrive.
    let lead = app.logged_in("lea", Role::Lead).await;
    lead.post(
        "/releases",
        &[("name", "server"), ("url", ""), ("default_branch", "")],
    )
    .await;
    let (s, v) = api
        .post("/repositories/server/tags", json!({"tag": "v1.2.0"}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let lead_api = Api::new(
        &app,
        &token(&lead, "release job", &["releases:write"]).await,
    );
    let (s, v) = lead_api
        .post(
            "/repositories/server/tags",
            json!({"tag": "v1.2.0", "commit": "abcdef1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = lead_api
        .post("/repositories/server/tags", json!({"tag": "v1.2.0-RC1"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["error"]["fields"]["tag"]
            .as_str()
            .unwrap()
            .contains("Did you mean"),
        "{v}"
    );

    let (s, v) = api
        .post("/incidents", json!({"service": "api", "environment": "prod", "severity": "sev2", "title": "Logins fail"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_i64().unwrap();
    let (s, _) = api
        .post(&format!("/incidents/{id}/resolve"), json!({"note": ""}))
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a resolution says what restored service"
    );
    let (s, v) = api
        .post(
            &format!("/incidents/{id}/resolve"),
            json!({"note": "Restarted"}),
        )
        .await;
    assert_eq!(
        (s, v["resolution"].as_str()),
        (StatusCode::OK, Some("Restarted"))
    );
    assert!(
        mo.get(&format!("/incidents/{id}"))
            .await
            .body
            .contains("Restarted")
    );
}

#[tokio::test]
async fn an_admin_sees_and_revokes_anyones_token_but_members_only_their_own() {
    let app = TestApp::spawn().await;
    let mo = app.logged_in("mo", Role::Member).await;
    let zoe = app.logged_in("zoe", Role::Member).await;
    let secret = token(&mo, "mine", &["read"]).await;
    let id = app.count("select id from api_tokens").await;
    let r = zoe.post(&format!("/profile/tokens/{id}/revoke"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "not hers");
    assert_eq!(zoe.get("/admin/tokens").await.status, StatusCode::FORBIDDEN);
    let ada = app.logged_in("ada", Role::Admin).await;
    let all = ada.get("/admin/tokens").await.body;
    assert!(all.contains("mine") && all.contains(">mo<"));
    assert_eq!(
        ada.post(&format!("/profile/tokens/{id}/revoke"), &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        Api::new(&app, &secret).get("/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    let refused = mo
        .post("/profile/tokens", &[("name", ""), ("days", "400")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("Between 1 and 365 days") && refused.body.contains("at least one")
    );
}

/// Runs the `flowdeck` binary as a CI job would.
fn cli(app: &TestApp, token: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowdeck"))
        .args(args)
        .env("FLOWDECK_URL", &app.base)
        .env("FLOWDECK_TOKEN", token)
        .env_remove("GITHUB_RUN_ID")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_records_through_the_api_once_per_ci_run() {
    let app = TestApp::spawn().await;
    targets(&app).await;
    let mo = app.logged_in("mo", Role::Member).await;
    let secret = token(
        &mo,
        "ci",
        &[
            "read",
            "deployments:write",
            "status:write",
            "incidents:write",
        ],
    )
    .await;
    let record = [
        "deploy",
        "record",
        "--service",
        "api",
        "--env",
        "prod",
        "--version",
        "v3.8.1",
        "--image",
        &format!("ghcr.io/example/api:v3.8.1@sha256:{}", "a".repeat(64)),
        "--commit",
        "abc1234",
    ];
    let run = [("GITHUB_RUN_ID", "987654")];
    // The server runs on the other worker thread while this one waits for the process.
    let (code, out, err) = cli(&app, &secret, &record, &run);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("recorded: api v3.8.1 → prod (succeeded)"),
        "{out}"
    );
    // The step retried in the same run: recorded once.
    let (code, _, _) = cli(&app, &secret, &record, &run);
    assert_eq!(code, 0);
    let (n, digest): (i64, String) =
        sqlx::query_as("select count(*), max(digest) from deployments")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(n, 1, "one deployment for one CI run");
    assert_eq!(
        digest,
        format!("sha256:{}", "a".repeat(64)),
        "the digest is split off the image"
    );

    let (code, out, _) = cli(
        &app,
        &secret,
        &[
            "deploy",
            "record",
            "--service",
            "api",
            "--env",
            "prod",
            "--version",
            "v3.8.2",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["deployment"]["version"], "v3.8.2");

    // A refusal: exit 1 and the server's words.
    let (code, _, err) = cli(
        &app,
        &secret,
        &[
            "deploy",
            "record",
            "--service",
            "api",
            "--env",
            "prod",
            "--version",
            "latest",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("version:") && err.contains("does not start with"),
        "{err}"
    );
    // Usage errors: exit 2.
    let (code, _, _) = cli(
        &app,
        &secret,
        &["deploy", "record", "--service", "api"],
        &[],
    );
    assert_eq!(code, 2, "missing arguments");
    let (code, _, err) = cli(&app, "", &["status", "online"], &[("FLOWDECK_TOKEN", "")]);
    assert_eq!(code, 2, "no token: {err}");

    let (code, out, err) = cli(
        &app,
        &secret,
        &["status", "offline", "--for", "2h", "--reason", "dentist"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("You are offline until"), "{out}");
    let (code, out, _) = cli(
        &app,
        &secret,
        &[
            "incident",
            "open",
            "--service",
            "api",
            "--env",
            "prod",
            "--severity",
            "sev3",
            "--title",
            "Slow logins",
        ],
        &[],
    );
    assert_eq!(code, 0);
    assert!(out.contains("Incident #1 (open): Slow logins."), "{out}");
    let (code, out, _) = cli(
        &app,
        &secret,
        &["incident", "resolve", "1", "--note", "Cache warmed"],
        &[],
    );
    assert_eq!(
        (code, out.trim()),
        (0, "Incident #1 (resolved): Slow logins.")
    );
}

/// The served OpenAPI document is the committed `docs/openapi.json`: a change to the API that
/// is not committed fails here. `FLOWDECK_WRITE_OPENAPI=1 cargo test --test api openapi`
/// rewrites the file.
#[tokio::test]
async fn the_openapi_document_is_served_and_matches_the_committed_copy() {
    let app = TestApp::spawn().await;
    let r = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "no token needed to read the description"
    );
    let served: Value = r.json().await.unwrap();
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/deployments",
        "/api/v1/status",
        "/api/v1/incidents/{id}/resolve",
    ] {
        assert!(served["paths"][path].is_object(), "{path} is described");
    }
    assert_eq!(
        served["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let generated = flowdeck::api::openapi_json();
    if std::env::var("FLOWDECK_WRITE_OPENAPI").is_ok() {
        std::fs::write(&file, format!("{generated}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(&file).expect("docs/openapi.json is committed");
    assert_eq!(
        committed.trim_end(),
        generated,
        "the API changed: run FLOWDECK_WRITE_OPENAPI=1 cargo test --test api openapi and commit docs/openapi.json"
    );
    assert_eq!(serde_json::from_str::<Value>(&committed).unwrap(), served);

    let mo = app.logged_in("mo", Role::Member).await;
    let page = mo.get("/api").await.body;
    assert!(page.contains("POST /api/v1/deployments") && page.contains("scope: deployments:write"));
    assert!(
        page.contains("\"version\":\"v3.8.1\"") && page.contains("Idempotency-Key: $(uuidgen)"),
        "a curl example with a body: {page}"
    );
}

/// Many malformed bodies, sent to every write endpoint: each gets a JSON refusal (4xx with a
/// `code`) or, when a mutation happens to be valid, is done — never a 5xx. The bodies are mutations of valid ones (a
/// deterministic shuffle: dropped, duplicated and swapped characters, wrong types, huge numbers,
/// control characters, nested junk).
#[tokio::test]
async fn no_malformed_body_reaches_a_server_error() {
    let app = TestApp::spawn().await;
    targets(&app).await;
    let lead = app.logged_in("lea", Role::Lead).await;
    lead.post(
        "/releases",
        &[("name", "server"), ("url", ""), ("default_branch", "")],
    )
    .await;
    let api = Api::new(
        &app,
        &token(
            &lead,
            "fuzz",
            &[
                "read",
                "deployments:write",
                "releases:write",
                "status:write",
                "incidents:write",
            ],
        )
        .await,
    );
    let valid = [
        (
            "/deployments",
            r#"{"service":"api","environment":"prod","version":"v1.0.0"}"#,
        ),
        ("/deployments/1/status", r#"{"status":"running"}"#),
        (
            "/repositories/server/tags",
            r#"{"tag":"v1.0.0","commit":"abcdef1"}"#,
        ),
        ("/status", r#"{"state":"offline","for":"2h"}"#),
        (
            "/incidents",
            r#"{"service":"api","environment":"prod","severity":"sev2","title":"x"}"#,
        ),
        ("/incidents/1/resolve", r#"{"note":"fixed"}"#),
    ];
    let junk = [
        "",
        "null",
        "[]",
        "{}",
        "\"str\"",
        "1e400",
        "{\"a\":",
        "{\"service\":[1,2]}",
        "{\"version\":{\"x\":1}}",
        "{\"state\":null}",
        "{\"id\":99999999999999999999}",
        "\u{0}\u{1}",
        "{\"title\":\"\\u0000\"}",
        "{\"service\":\"api\\u0007\"}",
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut sent = 0;
    for (path, body) in valid {
        let mut bodies: Vec<String> = junk.iter().map(|s| s.to_string()).collect();
        for _ in 0..30 {
            let mut chars: Vec<char> = body.chars().collect();
            for _ in 0..(1 + next() % 4) {
                let i = (next() as usize) % chars.len().max(1);
                match next() % 5 {
                    0 => {
                        chars.remove(i.min(chars.len().saturating_sub(1)));
                    }
                    1 => {
                        let c = chars[i.min(chars.len() - 1)];
                        chars.insert(i, c);
                    }
                    2 => chars.insert(
                        i,
                        ['"', '{', '}', ':', ',', '\\', '\u{7f}', '9'][(next() % 8) as usize],
                    ),
                    3 => {
                        let (n, j) = (chars.len(), (next() as usize) % chars.len());
                        chars.swap(i.min(n - 1), j);
                    }
                    _ => chars.insert(i, char::from_u32((next() % 0x2FF) as u32).unwrap_or('x')),
                }
                if chars.is_empty() {
                    break;
                }
            }
            bodies.push(chars.into_iter().collect());
        }
        for b in &bodies {
            let (s, v, text) = api.send(reqwest::Method::POST, path, Some(b), None).await;
            sent += 1;
            assert!(!s.is_server_error(), "{path} {b:?} → {s} {text}");
            if !s.is_success() {
                assert!(v["error"]["code"].is_string(), "{path} {b:?} → {s} {text}");
            }
        }
    }
    assert!(sent > 200);
}

#[tokio::test]
async fn reads_of_the_matrix_team_and_incidents_and_health_reports_from_unreachable_sites() {
    let app = TestApp::spawn().await;
    targets(&app).await;
    let r = app
        .logged_in("lee2", Role::Lead)
        .await
        .post(
            "/environments",
            &[
                ("name", "site-a"),
                ("tier", "offline"),
                ("position", "2"),
                ("url", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let mo = app.logged_in("mo", Role::Member).await;
    let api = Api::new(
        &app,
        &token(
            &mo,
            "ops",
            &["read", "deployments:write", "incidents:write"],
        )
        .await,
    );
    api.post(
        "/deployments",
        json!({"service": "api", "environment": "prod", "version": "v3.8.1"}),
    )
    .await;
    api.post(
        "/deployments",
        json!({"service": "web", "environment": "prod", "version": "v3.6.0"}),
    )
    .await;

    let (s, m) = api.get("/matrix").await;
    assert_eq!(s, StatusCode::OK);
    let cell = |svc: &str, env: &str| {
        m["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["service"] == svc && c["environment"] == env)
            .cloned()
            .unwrap()
    };
    assert_eq!(cell("api", "prod")["version"], "v3.8.1");
    assert!(
        cell("web", "prod")["warnings"][0]
            .as_str()
            .unwrap()
            .contains("behind api")
    );
    assert!(cell("api", "site-a")["version"].is_null());

    // A member reports a non-production site; production needs a lead's token.
    let (s, v) = api
        .post(
            "/health-reports",
            json!({"service": "api", "environment": "site-a", "ok": false, "note": "VPN down"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(cell_after(&api, "api", "site-a").await, "down");
    let (s, v) = api
        .post(
            "/health-reports",
            json!({"service": "api", "environment": "prod", "ok": false}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    let (s, t) = api.get("/team").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        t["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["handle"] == "mo")
    );

    let (_, opened) = api
        .post(
            "/incidents",
            json!({"service": "web", "environment": "prod", "severity": "sev3", "title": "Slow"}),
        )
        .await;
    let id = opened["id"].as_i64().unwrap();
    let (s, _) = api
        .post(
            &format!("/incidents/{id}/updates"),
            json!({"body": "Looking at the CDN"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        mo.get(&format!("/incidents/{id}"))
            .await
            .body
            .contains("Looking at the CDN")
    );
    let (s, list) = api.get("/incidents?state=open&service=web").await;
    assert_eq!(
        (s, list["items"][0]["id"].as_i64()),
        (StatusCode::OK, Some(id))
    );
    let (s, _) = api.get("/incidents?service=api").await;
    assert_eq!(s, StatusCode::OK);
    let (s, one) = api.get(&format!("/incidents/{id}")).await;
    assert_eq!((s, one["title"].as_str()), (StatusCode::OK, Some("Slow")));
    let (s, _) = api.get("/incidents?state=closed").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn cell_after(api: &Api, svc: &str, env: &str) -> String {
    let (_, m) = api.get("/matrix").await;
    m["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == svc && c["environment"] == env)
        .map(|c| c["health"].as_str().unwrap().to_string())
        .unwrap()
}

#[tokio::test]
async fn a_leads_token_adds_services_and_environments_and_anyone_reads_lines() {
    let app = TestApp::spawn().await;
    let lea = app.logged_in("lea", Role::Lead).await;
    lea.post(
        "/releases",
        &[
            ("name", "server"),
            ("url", "https://example.com/server"),
            ("default_branch", ""),
        ],
    )
    .await;
    for t in ["v3.7.0", "v3.8.0", "v3.8.1"] {
        lea.post("/releases/server/tags", &[("tag", t), ("commit", "")])
            .await;
    }
    let lead = Api::new(
        &app,
        &token(&lea, "infra", &["read", "deployments:write"]).await,
    );
    let (s, v) = lead
        .post(
            "/environments",
            json!({"name": "prod", "tier": "production", "position": 3}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = lead
        .post(
            "/services",
            json!({"name": "api", "role": "api", "repository": "server"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = lead
        .post("/services", json!({"name": "api", "role": "api"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["error"]["fields"]["name"],
        "A service with that name exists."
    );
    let (s, v) = lead
        .post("/environments", json!({"name": "x", "tier": "moon"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["error"]["fields"]["tier"].is_string());

    let mo = app.logged_in("mo", Role::Member).await;
    let member = Api::new(
        &app,
        &token(&mo, "ci", &["read", "deployments:write"]).await,
    );
    let (s, _) = member
        .post("/services", json!({"name": "web", "role": "web"}))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a member's token cannot add services"
    );
    let (s, v) = member.get("/services").await;
    assert_eq!(
        (s, v["items"][0]["repository"].as_str()),
        (StatusCode::OK, Some("server"))
    );
    let (s, v) = member.get("/repositories").await;
    assert_eq!(
        (s, v["items"][0]["url"].as_str()),
        (StatusCode::OK, Some("https://example.com/server"))
    );
    let (s, v) = member.get("/repositories/server/lines").await;
    assert_eq!(s, StatusCode::OK);
    let status_of = |name: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .map(|l| l["status"].clone())
    };
    assert_eq!(status_of("release-v3.8"), Some(json!("active")));
    assert_eq!(status_of("release-v3.7"), Some(json!("maintained")));
    let (s, _) = member.get("/repositories/nope/lines").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = member
        .get("/repositories/server/tags?line=release-v3.8")
        .await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["v3.8.1", "v3.8.0"], "one line, newest first");
    let (s, v) = member.get("/repositories/server/tags").await;
    assert_eq!(
        (s, v["items"].as_array().unwrap().len()),
        (StatusCode::OK, 3)
    );
    let (s, _) = member
        .get("/repositories/server/tags?line=release-v9.9")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_admin_makes_a_service_token_that_acts_as_a_named_service() {
    let app = TestApp::spawn().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    ada.post(
        "/releases",
        &[("name", "server"), ("url", ""), ("default_branch", "")],
    )
    .await;
    let fields = [
        ("service", "ci-bot"),
        ("role", "lead"),
        ("name", "release job"),
        ("days", "30"),
        ("scopes", "releases:write"),
    ];
    let r = ada.post("/admin/tokens", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = ada.get("/admin/tokens").await.body;
    let start = page.find("<code class=\"copy\">").expect("shown once") + 19;
    let secret = page[start..start + 47].to_string();
    assert!(page.contains(">ci-bot<"), "listed with its owner");
    let api = Api::new(&app, &secret);
    let (s, me) = api.get("/me").await;
    assert_eq!(
        (s, me["handle"].as_str(), me["role"].as_str()),
        (StatusCode::OK, Some("ci-bot"), Some("lead"))
    );
    let (s, _) = api.get("/deployments").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "read is not among its scopes");
    let (s, v) = api
        .post("/repositories/server/tags", json!({"tag": "v2.0.0"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let actor: String =
        sqlx::query_scalar("select actor from audit_log where action = 'tag.recorded' limit 1")
            .fetch_one(&app.pool)
            .await
            .unwrap_or_default();
    assert!(actor.starts_with("ci-bot (token"), "{actor}");
    assert!(
        !ada.get("/team").await.body.contains("ci-bot"),
        "a service is not a team member"
    );
    // A second token for the same service reuses its account; a person's handle is refused.
    assert_eq!(
        ada.post("/admin/tokens", &fields).await.status,
        StatusCode::SEE_OTHER
    );
    let services = app
        .count("select count(*) from accounts where is_service")
        .await;
    assert_eq!(services, 1);
    let refused = ada
        .post(
            "/admin/tokens",
            &[
                ("service", "ada"),
                ("role", "member"),
                ("name", "x"),
                ("scopes", "read"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("is a person&#39;s account")
            || refused.body.contains("is a person's account")
    );
    let mo = app.logged_in("mo", Role::Member).await;
    assert_eq!(
        mo.post("/admin/tokens", &fields).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn docs_and_leave_are_readable_with_filters_and_a_cursor() {
    let app = TestApp::spawn_at("2026-03-10T09:00:00Z").await;
    let ann = app.logged_in("ann", Role::Member).await;
    for (title, kind) in [
        ("Lease the health probes", "proposal"),
        ("Backups are untested", "problem"),
        ("Probe timeouts", "proposal"),
    ] {
        let r = ann.post("/docs", &[("title", title), ("kind", kind)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let r = ann
        .post(
            "/me/leave",
            &[
                ("starts_on", "2026-03-16"),
                ("ends_on", "2026-03-18"),
                ("kind", "vacation"),
                ("note", "private reason"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let api = Api::new(&app, &token(&ann, "reader", &["read"]).await);

    let (s, page) = api.get("/docs?limit=2").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let numbers = |p: &Value| -> Vec<i64> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["number"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(numbers(&page), [3, 2], "newest first");
    let next = page["next"].as_str().expect("a next page").to_string();
    let (_, rest) = api.get(&format!("/docs?limit=2&after={next}")).await;
    assert_eq!(numbers(&rest), [1]);
    assert!(rest["next"].is_null());

    let (_, problems) = api.get("/docs?kind=problem").await;
    assert_eq!(numbers(&problems), [2]);
    let (_, found) = api.get("/docs?q=probe").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 2, "{found}");
    let (s, bad) = api.get("/docs?status=finished").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad["error"]["fields"]["status"].is_string(), "{bad}");

    let (s, doc) = api.get("/docs/1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["title"], "Lease the health probes");
    assert_eq!(doc["status"], "draft");
    assert_eq!(doc["owner"], "ann");
    assert_eq!(doc["url"], "/docs/1");
    let (s, missing) = api.get("/docs/99").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["code"], "not_found");

    let (s, leave) = api.get("/leave?from=2026-03-15&days=7").await;
    assert_eq!(s, StatusCode::OK, "{leave}");
    let items = leave["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["handle"], "ann");
    assert_eq!(items[0]["starts_on"], "2026-03-16");
    assert_eq!(items[0]["status"], "pending");
    assert!(
        !leave.to_string().contains("private reason"),
        "a leave note stays on the page"
    );
    let (_, later) = api.get("/leave?from=2026-04-01").await;
    assert!(later["items"].as_array().unwrap().is_empty());
    let (s, _) = api.get("/leave?days=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Hostile reads: a date at the calendar's end, numbers past i32, a NaN cursor.
    for path in [
        "/leave?from=262142-12-31&days=366",
        "/leave?from=0001-01-01",
        "/docs?after=99999999999",
        "/docs?q=probe&after=NaN:1",
        "/docs?limit=-1",
        "/insight?window=-30",
    ] {
        let (s, body) = api.get(path).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    let (s, body) = api.get("/docs/99999999999").await;
    assert!(s.is_client_error(), "{s}: {body}");
}

/// Found by Schemathesis: a role starting with a digit passed the form's check but not the
/// database's (`services_role_format`), and came back as a 500.
#[tokio::test]
async fn a_role_that_starts_with_a_digit_is_refused_with_its_reason() {
    let app = TestApp::spawn().await;
    let lead = app.logged_in("lee", Role::Lead).await;
    let r = lead
        .post(
            "/services",
            &[("name", "api"), ("role", "0"), ("image", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("A role is a short lowercase word"));
    let api = Api::new(&app, &token(&lead, "ci", &["deployments:write"]).await);
    let (s, v) = api
        .post("/services", json!({"name": "api", "role": "9lives"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["fields"]["role"].is_string(), "{v}");
}
