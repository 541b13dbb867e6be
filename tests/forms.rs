//! One form outcome in every feature: a refused form comes back as the same page with 422, the
//! reason next to the form, what was typed still in its field, and the navigation present —
//! never a bare error page.

mod common;

use common::{Page, TestApp};
use flowdeck::auth::model::Role;
use reqwest::StatusCode;

fn refused_in_place(p: &Page, reason: &str, typed: &str) {
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.body.contains(reason), "the reason is shown: {}", p.body);
    assert!(
        p.body.contains(&format!("value=\"{typed}\"")),
        "what was typed is kept: {}",
        p.body
    );
    assert!(p.body.contains("Log out"), "the navigation is there");
}

#[tokio::test]
async fn availability_keeps_a_refused_going_offline_form() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    let p = ann
        .post(
            "/me/offline",
            &[("for", ""), ("until", ""), ("reason", "dentist")],
        )
        .await;
    refused_in_place(&p, "Say how long you will be offline", "dentist");
}

#[tokio::test]
async fn deployments_keep_a_refused_environment_and_health_url() {
    let app = TestApp::spawn().await;
    let lead = app.logged_in("lee", Role::Lead).await;
    let p = lead
        .post(
            "/environments",
            &[
                ("name", "Bad Name!"),
                ("tier", "staging"),
                ("position", "1"),
                ("url", ""),
            ],
        )
        .await;
    refused_in_place(&p, "environment name has", "Bad Name!");
    lead.post(
        "/environments",
        &[
            ("name", "prod"),
            ("tier", "production"),
            ("position", "1"),
            ("url", ""),
        ],
    )
    .await;
    lead.post(
        "/services",
        &[
            ("name", "api"),
            ("role", "api"),
            ("image", ""),
            ("supervisor", "kubernetes"),
            ("probe_interval_seconds", "30"),
        ],
    )
    .await;
    let p = lead
        .post(
            "/services/api/health-url",
            &[("environment", "prod"), ("url", "javascript:alert(1)")],
        )
        .await;
    refused_in_place(&p, "must be a web address", "javascript:alert(1)");
    assert!(p.body.contains("<h1>api"), "on the service's own page");
}

#[tokio::test]
async fn release_lines_keep_a_refused_tag_and_retraction() {
    let app = TestApp::spawn().await;
    let lead = app.logged_in("lee", Role::Lead).await;
    lead.post(
        "/releases",
        &[("name", "server"), ("url", ""), ("default_branch", "")],
    )
    .await;
    let p = lead
        .post("/releases/server/tags", &[("tag", "v1.2"), ("commit", "")])
        .await;
    refused_in_place(&p, "needs three numbers", "v1.2");
    lead.post(
        "/releases/server/tags",
        &[("tag", "v1.0.0"), ("commit", "")],
    )
    .await;
    let p = lead
        .post("/releases/server/tags/v1.0.0/retract", &[("reason", " ")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("Give a reason for the retraction"));
    lead.post(
        "/releases/server/tags/v1.0.0/retract",
        &[("reason", "wrong commit")],
    )
    .await;
    let again = lead
        .post(
            "/releases/server/tags/v1.0.0/retract",
            &[("reason", "again")],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.body.contains("already retracted") && again.body.contains("Log out"));
}

#[tokio::test]
async fn design_docs_keep_a_refused_reviewer_request() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    ann.post("/docs", &[("title", "A doc"), ("kind", "proposal")])
        .await;
    let p = ann.post("/docs/1/reviewers", &[("handle", "ghost")]).await;
    refused_in_place(&p, "There is no active member “ghost”", "ghost");
}

#[tokio::test]
async fn the_admin_area_keeps_a_refused_invite() {
    let app = TestApp::spawn().await;
    let ada = app.logged_in("ada", Role::Admin).await;
    let p = ada
        .post(
            "/admin/invites",
            &[("role", "member"), ("email", "not-an-email"), ("note", "")],
        )
        .await;
    refused_in_place(&p, "email", "not-an-email");
}

#[tokio::test]
async fn markup_typed_into_a_refused_form_comes_back_as_text() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    ann.post("/docs", &[("title", "A doc"), ("kind", "proposal")])
        .await;
    let payload = "\"><img src=x onerror=alert(1)></textarea><script>alert(2)</script>";
    let p = ann.post("/docs/1/reviewers", &[("handle", payload)]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p2 = ann
        .post("/docs/1/comments", &[("body", ""), ("section", payload)])
        .await;
    let lead = app.logged_in("lee", Role::Lead).await;
    lead.post(
        "/releases",
        &[("name", "server"), ("url", ""), ("default_branch", "")],
    )
    .await;
    lead.post(
        "/releases/server/tags",
        &[("tag", "v1.0.0"), ("commit", "")],
    )
    .await;
    let long = format!("{payload}{}", "x".repeat(400));
    let p3 = lead
        .post("/releases/server/tags/v1.0.0/retract", &[("reason", &long)])
        .await;
    assert_eq!(p3.status, StatusCode::UNPROCESSABLE_ENTITY);
    for page in [&p, &p2, &p3] {
        assert!(!page.body.contains("<img src=x"), "{}", page.body);
        assert!(!page.body.contains("<script>alert"), "{}", page.body);
    }
}
