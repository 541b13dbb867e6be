//! Insight through the real pages: a month of production deployments recorded through the forms
//! with the clock moved between them, worked out by hand; every number's rows and CSV; incident
//! attribution by default, named by a lead, or none; filters; the home page's Delivery card.

mod common;

use chrono::{DateTime, Utc};
use common::{Client, TestApp};
use flowdeck::auth::model::Role;
use reqwest::StatusCode;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn deploy(
    app: &TestApp,
    lead: &Client,
    when: &str,
    env: &str,
    version: &str,
    status: &str,
    hotfix: bool,
) -> i64 {
    app.state.clock.set(at(when));
    let key = format!("{version}-{env}");
    let mut form = vec![
        ("service", "api"),
        ("environment", env),
        ("version", version),
        ("status", status),
        ("idempotency_key", key.as_str()),
        ("confirm", "yes"),
    ];
    if hotfix {
        form.push(("hotfix", "on"));
    }
    let r = lead.post("/deployments", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    sqlx::query_scalar("select max(id) from deployments")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A lead, a production environment `prod` and a service `api` (of repository `repo` if given).
async fn lead_with_api(app: &TestApp, repo: Option<&str>) -> Client {
    let lee = app.logged_in("lee", Role::Lead).await;
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
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    if let Some(repo) = repo {
        let r = lee
            .post(
                "/releases",
                &[("name", repo), ("url", ""), ("default_branch", "main")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
    let r = lee
        .post(
            "/services",
            &[
                ("name", "api"),
                ("role", "api"),
                ("image", ""),
                ("repository", repo.unwrap_or("")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    lee
}

/// A read-scoped API token made on `/profile/tokens` (shown once on the page).
async fn read_token(c: &Client) -> String {
    let r = c
        .post(
            "/profile/tokens",
            &[("name", "dash"), ("days", "30"), ("scopes", "read")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = c.get("/profile/tokens").await.body;
    let start = page.find("<code class=\"copy\">").unwrap() + 19;
    page[start..start + page[start..].find('<').unwrap()].to_string()
}

/// The text of a tile: from its heading to the end of its section.
fn tile<'a>(page: &'a str, title: &str) -> &'a str {
    let start = page
        .find(&format!("<h2>{title}</h2>"))
        .unwrap_or_else(|| panic!("a tile {title}"));
    let end = page[start..].find("</section>").unwrap() + start;
    &page[start..end]
}

#[tokio::test]
async fn a_month_of_production_deployments_gives_the_keys_worked_out_by_hand() {
    let app = TestApp::spawn_at_with("2026-03-01T09:00:00Z", |c| c.insight_min_points = 3).await;
    let lee = lead_with_api(&app, None).await;
    let r = lee
        .post(
            "/environments",
            &[
                ("name", "staging"),
                ("tier", "staging"),
                ("position", "2"),
                ("url", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // Mon 2 Mar 10:00 #1 succeeded; an incident opens at 12:00 and is resolved at 14:00.
    let d1 = deploy(
        &app,
        &lee,
        "2026-03-02T10:00:00Z",
        "prod",
        "v1.0.1",
        "succeeded",
        false,
    )
    .await;
    app.state.clock.set(at("2026-03-02T12:00:00Z"));
    let r = lee
        .post(
            "/incidents",
            &[
                ("service", "api"),
                ("environment", "prod"),
                ("severity", "sev2"),
                ("title", "500s"),
                ("deployment", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let incident = app.count("select max(id) from incidents").await;
    app.state.clock.set(at("2026-03-02T14:00:00Z"));
    lee.post(
        &format!("/incidents/{incident}/resolve"),
        &[("body", "rolled forward")],
    )
    .await;
    // Tue #2 failed; Wed #3 succeeded (24 h after #2: its recovery).
    deploy(
        &app,
        &lee,
        "2026-03-03T10:00:00Z",
        "prod",
        "v1.0.2",
        "failed",
        false,
    )
    .await;
    let d3 = deploy(
        &app,
        &lee,
        "2026-03-04T10:00:00Z",
        "prod",
        "v1.0.3",
        "succeeded",
        false,
    )
    .await;
    // Mon 9 Mar #4, rolled back ten minutes later.
    let d4 = deploy(
        &app,
        &lee,
        "2026-03-09T10:00:00Z",
        "prod",
        "v1.0.4",
        "succeeded",
        false,
    )
    .await;
    app.state.clock.set(at("2026-03-09T10:10:00Z"));
    let r = lee
        .post(
            &format!("/deployments/{d4}/status"),
            &[("status", "rolled_back"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Mon 16 Mar: a hotfix #5 and #6; staging does not count.
    deploy(
        &app,
        &lee,
        "2026-03-16T10:00:00Z",
        "prod",
        "v1.0.5",
        "succeeded",
        true,
    )
    .await;
    deploy(
        &app,
        &lee,
        "2026-03-16T15:00:00Z",
        "prod",
        "v1.0.6",
        "succeeded",
        false,
    )
    .await;
    deploy(
        &app,
        &lee,
        "2026-03-17T15:00:00Z",
        "staging",
        "v1.0.7",
        "failed",
        false,
    )
    .await;
    app.state.clock.set(at("2026-03-30T00:00:00Z"));

    let page = lee.get("/insight?window=30").await.body;
    // Five went live in 30 days (4.29 weeks): 1.2 a week, on four days: high.
    let freq = tile(&page, "Deployment frequency");
    assert!(
        freq.contains("1.2 / week") && freq.contains("high (DORA 2021)"),
        "{freq}"
    );
    assert!(freq.contains("5 deployments on 4 days"), "{freq}");
    // #1 (its incident, attributed by default), #2 (failed), #4 (rolled back): 3 of 6.
    let fail = tile(&page, "Change fail rate");
    assert!(
        fail.contains("50 %") && fail.contains("3 of 6 deployments") && fail.contains("low"),
        "{fail}"
    );
    // Recoveries 4 h (#1 → resolution), 24 h (#2 → #3), 10 min (#4 → rollback): median 4 h.
    let rec = tile(&page, "Failed deployment recovery time");
    assert!(
        rec.contains("4.0 h") && rec.contains("p90 24.0 h") && rec.contains("high"),
        "{rec}"
    );
    // Rework: the hotfix and the rollback, 2 of 6; the 2021 report has no band for it.
    let rework = tile(&page, "Deployment rework rate");
    assert!(
        rework.contains("33 %") && rework.contains("no published band"),
        "{rework}"
    );
    // No repository, no pull requests, no tags: nothing to measure lead time from.
    let lead = tile(&page, "Change lead time");
    assert!(
        lead.contains("not enough data") && lead.contains("0 changes"),
        "{lead}"
    );
    assert!(page.contains("<svg class=\"chart\"") && page.contains("<title id=\"t-frequency\">"));

    // The rows behind the fail rate, and the same as CSV.
    let rows = lee.get("/insight/rows?key=fail-rate&window=30").await.body;
    assert!(
        rows.contains(&format!("caused incident #{incident}")),
        "{rows}"
    );
    assert!(rows.contains("rolled back") && rows.contains(">failed<"));
    assert!(rows.contains(&format!("href=\"/deployments/{d1}\"")));
    assert!(
        rows.contains("attributed to deployment #"),
        "the incident list names its cause"
    );
    let csv = lee.get("/insight/rows.csv?key=fail-rate&window=30").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.body.lines().count(),
        7,
        "a header and six deployments: {}",
        csv.body
    );
    assert!(
        csv.body.starts_with(
            "Deployment,Service,Environment,Version,Status,Started,Hotfix,Why it counts"
        )
    );

    // The incident says what it is attributed to; a lead changes it.
    let inc = lee.get(&format!("/incidents/{incident}")).await.body;
    assert!(
        inc.contains(&format!("deployment #{d1} (v1.0.1)")) && inc.contains("by default"),
        "{inc}"
    );
    let mo = app.logged_in("mo", Role::Member).await;
    let r = mo
        .post(
            &format!("/incidents/{incident}/cause"),
            &[("cause", "none")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a member cannot");
    let r = lee
        .post(
            &format!("/incidents/{incident}/cause"),
            &[("cause", "#999")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("There is no deployment #999.") && r.body.contains("value=\"#999\""));
    lee.post(
        &format!("/incidents/{incident}/cause"),
        &[("cause", "none")],
    )
    .await;
    let fail = lee.get("/insight?window=30").await.body;
    assert!(
        tile(&fail, "Change fail rate").contains("2 of 6 deployments"),
        "none: not a failure"
    );
    let later = lee
        .post(
            &format!("/incidents/{incident}/cause"),
            &[("cause", &d3.to_string())],
        )
        .await;
    assert_eq!(later.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        later.body.contains("started after the incident opened"),
        "{}",
        later.body
    );
    lee.post(
        &format!("/incidents/{incident}/cause"),
        &[("cause", &d1.to_string())],
    )
    .await;
    let inc = lee.get(&format!("/incidents/{incident}")).await.body;
    assert!(
        inc.contains(&format!("deployment #{d1} (v1.0.1)")) && inc.contains("named"),
        "{inc}"
    );
    let rows = lee.get("/insight/rows?key=recovery&window=30").await.body;
    assert!(
        rows.contains(&format!("caused incident #{incident}")),
        "{rows}"
    );

    // Filters: another environment has no production deployments.
    let none = lee.get("/insight?window=30&environment=staging").await.body;
    assert!(tile(&none, "Deployment frequency").contains("not enough data"));
    // Home: the team's keys over the last 30 days.
    let home = lee.get("/").await.body;
    assert!(home.contains("Change fail rate: <a href=\"/insight/rows?key=fail-rate&amp;window=30\"><strong>50 %</strong>"), "{home}");
}

#[tokio::test]
async fn merged_pull_requests_give_lead_times_and_the_first_deployment_never_absorbs_history() {
    let app = TestApp::spawn_at_with("2026-03-01T09:00:00Z", |c| c.insight_min_points = 1).await;
    let lee = lead_with_api(&app, Some("server")).await;
    let repo = app
        .count("select id from repositories where name = 'server'")
        .await;
    // Tags (no pull requests yet): v1.0.0 tagged long ago and deployed first — no predecessor,
    // not counted; v1.0.1 tagged 2 h before its deployment.
    for (tag, tagged) in [
        ("v1.0.0", "2025-01-01T00:00:00Z"),
        ("v1.0.1", "2026-03-05T08:00:00Z"),
    ] {
        sqlx::query(
            "insert into release_tags (repository_id, line_id, name, major, minor, patch, tagged_at, source)
             select $1, (select id from release_lines where repository_id = $1 order by id limit 1), $2, 1, 0, $3, $4, 'manual'",
        )
        .bind(repo)
        .bind(tag)
        .bind(if tag == "v1.0.0" { 0 } else { 1 })
        .bind(at(tagged))
        .execute(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{tag}: {e}"));
    }
    deploy(
        &app,
        &lee,
        "2026-03-02T10:00:00Z",
        "prod",
        "v1.0.0",
        "succeeded",
        false,
    )
    .await;
    let d2 = deploy(
        &app,
        &lee,
        "2026-03-05T10:00:00Z",
        "prod",
        "v1.0.1",
        "succeeded",
        false,
    )
    .await;
    app.state.clock.set(at("2026-03-30T00:00:00Z"));
    let page = lee.get("/insight?window=30").await.body;
    let lead = tile(&page, "Change lead time");
    assert!(
        lead.contains("2.0 h") && lead.contains("1 changes"),
        "tag v1.0.1 only: {lead}"
    );

    // With pull requests, they are the changes: merged 09:00 and 09:30, first deployed at 10:00.
    for (n, merged) in [(7, "2026-03-05T09:00:00Z"), (8, "2026-03-05T09:30:00Z")] {
        sqlx::query(
            "insert into change_records (repository_id, number, title, author, merge_sha, opened_at, merged_at)
             values ($1, $2, 'a change', 'ann', 'abc1234', $3, $3)",
        )
        .bind(repo)
        .bind(n)
        .bind(at(merged))
        .execute(&app.pool)
        .await
        .unwrap();
        // As `hooks::record_change` does: link it to the deployment that already shipped it.
        sqlx::query("select link_change($1, $2)")
            .bind(repo)
            .bind(n)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let page = lee.get("/insight?window=30").await.body;
    let lead = tile(&page, "Change lead time");
    assert!(
        lead.contains("30 min") && lead.contains("p90 1.0 h") && lead.contains("2 changes"),
        "{lead}"
    );
    assert!(lead.contains("elite"), "{lead}");
    let rows = lee.get("/insight/rows?key=lead-time&window=30").await.body;
    assert!(
        rows.contains("server #7 a change")
            && rows.contains(&format!("href=\"/deployments/{d2}\"")),
        "{rows}"
    );

    // A change merged before the next deployment is shipped by it as it goes live.
    app.state.clock.set(at("2026-03-06T09:00:00Z"));
    sqlx::query(
        "insert into change_records (repository_id, number, title, author, merge_sha, opened_at, merged_at)
         values ($1, 9, 'later change', 'ann', 'abc1234', $2, $2)",
    )
    .bind(repo)
    .bind(at("2026-03-06T09:00:00Z"))
    .execute(&app.pool)
    .await
    .unwrap();
    let d3 = deploy(
        &app,
        &lee,
        "2026-03-06T12:00:00Z",
        "prod",
        "v1.0.2",
        "succeeded",
        false,
    )
    .await;
    app.state.clock.set(at("2026-03-30T00:00:00Z"));
    let rows = lee.get("/insight/rows?key=lead-time&window=30").await.body;
    assert!(
        rows.contains("server #9 later change")
            && rows.contains(&format!("href=\"/deployments/{d3}\"")),
        "{rows}"
    );
    assert!(
        rows.contains("<td data-label=\"Lead time (h)\">3.00</td>"),
        "{rows}"
    );
}

#[tokio::test]
async fn the_api_reads_the_same_keys() {
    let app = TestApp::spawn_at_with("2026-03-01T09:00:00Z", |c| c.insight_min_points = 2).await;
    let lee = lead_with_api(&app, None).await;
    deploy(
        &app,
        &lee,
        "2026-03-02T10:00:00Z",
        "prod",
        "v1.0.1",
        "succeeded",
        false,
    )
    .await;
    deploy(
        &app,
        &lee,
        "2026-03-03T10:00:00Z",
        "prod",
        "v1.0.2",
        "failed",
        false,
    )
    .await;
    app.state.clock.set(at("2026-03-30T00:00:00Z"));
    let token = &read_token(&lee).await;
    let get = |q: &str| {
        reqwest::Client::new()
            .get(format!("{}/api/v1/insight{q}", app.base))
            .bearer_auth(token)
            .send()
    };
    let body: serde_json::Value = get("?window=30").await.unwrap().json().await.unwrap();
    assert_eq!(body["window_days"], 30);
    let fail = &body["keys"][2];
    assert_eq!(
        (fail["key"].as_str(), fail["value"].as_f64()),
        (Some("fail-rate"), Some(0.5))
    );
    assert_eq!(fail["band"], "low");
    assert!(
        body["keys"][1]["value"].is_null(),
        "no lead time data: {body}"
    );
    let bad = get("?window=7").await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn hostile_filters_and_causes_get_a_clear_refusal_and_no_live_tag() {
    let app = TestApp::spawn_at_with("2026-03-01T09:00:00Z", |c| c.insight_min_points = 1).await;
    let lee = lead_with_api(&app, None).await;
    for path in [
        "/insight?service=%3Cscript%3Ealert(1)%3C/script%3E&window=-5",
        "/insight/rows?key=%3C/textarea%3E&environment=%22%3E%3Cscript%3E",
        "/insight/rows.csv?key=lead-time&window=99999999999999999999",
    ] {
        let r = lee.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            !r.body.contains("<script>") && !r.body.contains("</textarea>"),
            "{path}"
        );
    }
    let r = lee.get("/insight?service=a%00b").await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a NUL is refused at the edge"
    );
    app.state.clock.set(at("2026-03-02T12:00:00Z"));
    lee.post(
        "/incidents",
        &[
            ("service", "api"),
            ("environment", "prod"),
            ("severity", "sev3"),
            ("title", "<script>alert(1)</script>"),
            ("deployment", ""),
        ],
    )
    .await;
    for cause in ["#99999999999999999999999", "-1", "</textarea><script>"] {
        let r = lee.post("/incidents/1/cause", &[("cause", cause)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{cause}");
        assert!(!r.body.contains("<script>"), "{cause}");
    }
}

/// The symmetric difference between the rollups the triggers kept and a recount from scratch
/// (failures recomputed in a transaction that is rolled back): 0 when they agree.
async fn rollup_drift(app: &TestApp) -> (i64, i64) {
    let days: i64 = sqlx::query_scalar(
        "with recount as (
             select x.service_id, x.environment_id, (x.started_at at time zone 'UTC')::date as day,
                    count(*)::int as deployments,
                    (count(*) filter (where x.status in ('succeeded', 'rolled_back')))::int as live,
                    count(f.deployment_id)::int as failing,
                    (count(*) filter (where x.hotfix or x.status = 'rolled_back'))::int as reworked
             from deployments x left join insight_failures f on f.deployment_id = x.id
             where x.status in ('succeeded', 'failed', 'rolled_back')
             group by 1, 2, 3)
         select count(*) from ((select * from recount except select * from insight_days)
                               union all (select * from insight_days except select * from recount)) d",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // The per-environment days are the sums of the per-service ones.
    let env_days: i64 = sqlx::query_scalar(
        "with sums as (
             select environment_id, day, sum(deployments)::int as deployments, sum(live)::int as live,
                    sum(failing)::int as failing, sum(reworked)::int as reworked
             from insight_days group by 1, 2),
         kept as (select * from insight_env_days where deployments <> 0 or live <> 0 or failing <> 0 or reworked <> 0)
         select count(*) from ((select * from sums except select * from kept)
                               union all (select * from kept except select * from sums)) d",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let days = days + env_days;
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("create temp table kept on commit drop as select * from insight_failures")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("delete from insight_failures")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("select count(insight_refresh_failure(id)::text) from deployments")
        .execute(&mut *tx)
        .await
        .unwrap();
    let failures: i64 = sqlx::query_scalar(
        "select count(*) from ((select * from kept except select * from insight_failures)
                               union all (select * from insight_failures except select * from kept)) d",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    (days, failures)
}

#[tokio::test]
async fn the_rollups_equal_a_recount_after_concurrent_writes() {
    let app = TestApp::spawn_at_with("2026-03-02T10:00:00Z", |c| c.insight_min_points = 1).await;
    let lee = lead_with_api(&app, None).await;
    // 24 deployments of api to prod recorded at once: every third failed, every fourth a hotfix.
    let forms: Vec<Vec<(String, String)>> = (0..24)
        .map(|i| {
            let mut f = vec![
                ("service".to_string(), "api".to_string()),
                ("environment".into(), "prod".into()),
                ("version".into(), format!("v1.0.{i}")),
                (
                    "status".into(),
                    if i % 3 == 0 { "failed" } else { "succeeded" }.into(),
                ),
                ("idempotency_key".into(), format!("k{i}")),
                ("confirm".into(), "yes".into()),
            ];
            if i % 4 == 0 {
                f.push(("hotfix".into(), "on".into()));
            }
            f
        })
        .collect();
    let pages = futures_util::future::join_all(forms.iter().map(|f| {
        let fields: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let lee = &lee;
        async move { lee.post("/deployments", &fields).await }
    }))
    .await;
    for p in &pages {
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    }
    // Incidents opened at once an hour later, each blamed on the latest deployment by default.
    app.state.clock.set(at("2026-03-02T11:00:00Z"));
    let titles: Vec<String> = (0..6).map(|i| format!("outage {i}")).collect();
    let pages = futures_util::future::join_all(titles.iter().map(|t| {
        let lee = &lee;
        async move {
            lee.post(
                "/incidents",
                &[
                    ("service", "api"),
                    ("environment", "prod"),
                    ("severity", "sev2"),
                    ("title", t.as_str()),
                ],
            )
            .await
        }
    }))
    .await;
    for p in &pages {
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    }
    assert_eq!(rollup_drift(&app).await, (0, 0));

    // The page reads the same numbers: 24 deployments, 8 failed + the one the incidents blame.
    app.state.clock.set(at("2026-03-03T09:00:00Z"));
    let blamed = app
        .count("select count(distinct caused_by) from incidents where caused_by is not null")
        .await;
    let failed_and_blamed = app
        .count(
            "select count(*) from deployments
             where status = 'failed' or id in (select caused_by from incidents)",
        )
        .await;
    assert_eq!(blamed, 1);
    let page = lee.get("/insight?window=30").await.body;
    let fail = tile(&page, "Change fail rate");
    assert!(
        fail.contains(&format!("{failed_and_blamed} of 24 deployments")),
        "{fail}"
    );
    let rework = tile(&page, "Deployment rework rate");
    assert!(rework.contains("6 of 24 deployments"), "{rework}");
    // Not restored yet: the blamed deployment's incidents are open; the failures were followed by
    // later deployments — except one recorded after every live one (ties at the same instant).
    let recovery = tile(&page, "Failed deployment recovery time");
    assert!(recovery.contains("recoveries"), "{recovery}");

    // Resolving the incidents restores service: the rollups follow, still equal to a recount.
    let ids: Vec<i64> = sqlx::query_scalar("select id from incidents order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    app.state.clock.set(at("2026-03-02T12:30:00Z"));
    for id in ids {
        let r = lee
            .post(&format!("/incidents/{id}/resolve"), &[("body", "fixed")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    assert_eq!(rollup_drift(&app).await, (0, 0));
    let restored = app
        .count(
            "select count(*) from insight_failures f join deployments d on d.id = f.deployment_id
             where d.status = 'succeeded' and f.restored_at = '2026-03-02T12:30:00Z'",
        )
        .await;
    assert_eq!(
        restored, 1,
        "the blamed deployment is restored when its incidents end"
    );
}

#[tokio::test]
async fn beyond_two_thousand_changes_lead_time_comes_from_buckets_within_five_percent() {
    let app = TestApp::spawn_at_with("2026-03-01T09:00:00Z", |c| c.insight_min_points = 1).await;
    let lee = lead_with_api(&app, Some("server")).await;
    deploy(
        &app,
        &lee,
        "2026-03-02T10:00:00Z",
        "prod",
        "v1.0.0",
        "succeeded",
        false,
    )
    .await;
    deploy(
        &app,
        &lee,
        "2026-03-20T10:00:00Z",
        "prod",
        "v1.0.1",
        "succeeded",
        false,
    )
    .await;
    // 2,500 pull requests merged between the two deployments, every 9 minutes back from the
    // second: lead times from 9 minutes to 15.6 days.
    let repo = app
        .count("select id from repositories where name = 'server'")
        .await;
    sqlx::query(
        "insert into change_records (repository_id, number, title, author, merge_sha, opened_at, merged_at)
         select $1, n, 'change ' || n, 'ann', '', t, t
         from generate_series(1, 2500) n,
              lateral (select timestamptz '2026-03-20T10:00:00Z' - n * interval '9 minutes' as t) m;
         ",
    )
    .bind(repo)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("select count(link_change(repository_id, number)::text) from change_records")
        .execute(&app.pool)
        .await
        .unwrap();
    app.state.clock.set(at("2026-03-25T00:00:00Z"));
    let exact: (f64, f64) = sqlx::query_as(
        "select percentile_disc(0.5) within group (order by extract(epoch from first_deployed_at - merged_at) / 3600.0)::float8,
                percentile_disc(0.9) within group (order by extract(epoch from first_deployed_at - merged_at) / 3600.0)::float8
         from change_records",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let page = lee.get("/insight?window=30").await.body;
    let lead = tile(&page, "Change lead time");
    assert!(
        lead.contains("2500 changes (percentiles within 5 %)"),
        "{lead}"
    );
    // The same number through the API, within 2.5 % of the exact percentiles.
    let token = &read_token(&lee).await;
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/insight?window=30&service=api", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lt = &body["keys"][1];
    assert_eq!(lt["points"], 2500, "{lt}");
    let (median, p90) = (
        lt["value"].as_f64().unwrap(),
        lt["second"].as_f64().unwrap(),
    );
    assert!(
        (median - exact.0).abs() / exact.0 <= 0.025,
        "{median} vs {}",
        exact.0
    );
    assert!(
        (p90 - exact.1).abs() / exact.1 <= 0.025,
        "{p90} vs {}",
        exact.1
    );
    // The rows behind it are still every change, exactly.
    let csv = lee
        .get("/insight/rows.csv?key=lead-time&window=30")
        .await
        .body;
    assert_eq!(csv.lines().count(), 2501);
}
