//! Design docs through the real router: the template and submit validation, every transition by
//! role, concurrent stale saves, XSS payloads, search with filters, export → import, threads,
//! revisions and diffs, the review queue.

mod common;

use common::{Client, TestApp};
use flowdeck::auth::model::Role;
use reqwest::StatusCode;

fn full_doc(title: &str) -> Vec<(&'static str, String)> {
    vec![
        ("title", title.to_string()),
        ("kind", "proposal".into()),
        ("tags", "db, locking".into()),
        ("target_line", "release-v3.9".into()),
        (
            "background",
            "Two replicas probe the same target twice.".into(),
        ),
        ("objectives", "Goals: exactly one prober per target.".into()),
        ("alt_title_0", "Advisory locks".into()),
        (
            "alt_description_0",
            "pg_try_advisory_lock per target".into(),
        ),
        ("alt_pros_0", "simple".into()),
        ("alt_cons_0", "bound to a session".into()),
        (
            "alt_references_0",
            "https://www.postgresql.org/docs/current/explicit-locking.html".into(),
        ),
        ("alt_data_0", "".into()),
        ("alt_title_1", "Leases".into()),
        ("alt_description_1", "leased_until column".into()),
        ("alt_pros_1", "survives crashes".into()),
        ("alt_cons_1", "needs a clock".into()),
        ("alt_references_1", "".into()),
        ("alt_data_1", "2 ms per claim".into()),
        ("conclusion", "Leases.".into()),
    ]
}

async fn post_doc(c: &Client, path: &str, fields: &[(&'static str, String)]) -> common::Page {
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.post(path, &f).await
}

async fn version(app: &TestApp, n: i32) -> String {
    let v: i32 = sqlx::query_scalar("select version from docs where number = $1")
        .bind(n)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    v.to_string()
}

#[tokio::test]
async fn a_doc_needs_every_part_before_review_and_goes_through_review_to_implemented() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    let bob = app.logged_in("bob", Role::Member).await;
    let cy = app.logged_in("cy", Role::Member).await;
    let lea = app.logged_in("lea", Role::Lead).await;

    let new = ann.get("/docs/new").await.body;
    assert!(
        new.contains("placeholder=\"What is the situation") && new.contains("Alternative 2"),
        "the template's prompts are placeholders"
    );
    assert!(
        !new.contains("decision now?</textarea>"),
        "and not the sections' text"
    );
    let r = post_doc(
        &ann,
        "/docs",
        &[
            ("title", "Probe leases".into()),
            ("kind", "proposal".into()),
        ],
    )
    .await;
    assert_eq!(r.location(), Some("/docs/1"));
    let draft = ann.get("/docs/1").await.body;
    assert!(
        draft.contains("Before it can be reviewed") && draft.matches("check missing").count() == 4,
        "a draft shows its checklist: {draft}"
    );
    assert!(
        !draft.contains("Compare v"),
        "one revision has nothing to compare"
    );
    let early = ann.post("/docs/1/move", &[("action", "submit")]).await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        early.body.contains("Log out"),
        "the refusal keeps the page and its navigation"
    );
    assert!(
        early.body.contains("<h2>Background</h2>"),
        "on the doc page itself"
    );
    for part in [
        "Background",
        "Objectives",
        "at least two alternatives",
        "a proposed Conclusion",
    ] {
        assert!(early.body.contains(part), "names {part}");
    }

    let mut fields = full_doc("Probe leases");
    fields.push(("version", version(&app, 1).await));
    assert_eq!(
        post_doc(&ann, "/docs/1", &fields).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        ann.get("/docs/1")
            .await
            .body
            .contains("line not opened yet"),
        "a target line no repository has is accepted and marked"
    );
    assert_eq!(
        ann.post("/docs/1/move", &[("action", "submit")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let submitted = ann.get("/docs/1").await.body;
    assert!(
        submitted.contains("It has 0 reviewers but needs 2 approvals: ask more reviewers."),
        "submitting without enough reviewers warns"
    );
    assert!(submitted.contains("0 of 2 approvals<"));
    assert!(
        submitted.contains("<option value=\"bob\">bob display (bob) — unknown</option>"),
        "the reviewer picker lists members with their availability: {submitted}"
    );
    for who in ["bob", "cy", "lea"] {
        assert_eq!(
            ann.post("/docs/1/reviewers", &[("handle", who)])
                .await
                .status,
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(
        ann.post("/docs/1/reviewers", &[("handle", "ann")])
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not your own reviewer"
    );
    let unknown = ann
        .post("/docs/1/reviewers", &[("handle", "nobody-here")])
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .body
            .contains("There is no active member “nobody-here”")
    );
    assert!(
        !unknown.body.contains("<option value=\"bob\">"),
        "members already asked are not offered again"
    );
    let lead_view = lea.get("/docs/1").await.body;
    assert_eq!(
        lead_view.matches("name=\"action\" value=\"").count(),
        3,
        "a lead decides in one form: approve, reject or hold"
    );
    assert!(
        lead_view.contains("Record decision")
            && lead_view.matches("name=\"rationale\"").count() == 1
    );

    // Members and the owner cannot decide; a lead cannot yet.
    let by_member = bob
        .post(
            "/docs/1/move",
            &[("action", "approve"), ("rationale", "ok")],
        )
        .await;
    assert!(by_member.body.contains("Only a lead decides"));
    let too_early = lea
        .post(
            "/docs/1/move",
            &[("action", "approve"), ("rationale", "ok")],
        )
        .await;
    assert!(too_early.body.contains("needs 2 approvals"));
    assert_eq!(too_early.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        too_early.body.contains(">ok</textarea>")
            && too_early.body.contains("value=\"approve\" checked"),
        "the rationale and the choice are kept"
    );

    // A change request sends it back to the owner; an edit returns it to review.
    bob.post(
        "/docs/1/verdict",
        &[
            ("verdict", "request_changes"),
            ("note", "add data for locks"),
        ],
    )
    .await;
    assert!(ann.get("/docs/1").await.body.contains("changes requested"));
    let mut fields = full_doc("Probe leases");
    fields.push(("version", version(&app, 1).await));
    fields[11].1 = "1 lock per target, 0.3 ms".into();
    post_doc(&ann, "/docs/1", &fields).await;
    assert!(ann.get("/docs/1").await.body.contains(">in review<"));
    cy.post("/docs/1/verdict", &[("verdict", "approve"), ("note", "")])
        .await;
    lea.post("/docs/1/verdict", &[("verdict", "approve"), ("note", "")])
        .await;
    let open_request = lea
        .post(
            "/docs/1/move",
            &[("action", "approve"), ("rationale", "ok")],
        )
        .await;
    assert!(
        open_request
            .body
            .contains("change request(s) are still open")
    );
    bob.post(
        "/docs/1/verdict",
        &[("verdict", "approve"), ("note", "thanks")],
    )
    .await;
    let no_why = lea
        .post("/docs/1/move", &[("action", "approve"), ("rationale", "")])
        .await;
    assert!(no_why.body.contains("Say why"));
    assert_eq!(
        lea.post(
            "/docs/1/move",
            &[
                ("action", "approve"),
                ("rationale", "Leases survive crashes.")
            ]
        )
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let page = ann.get("/docs/1").await.body;
    assert!(
        page.contains(">approved<")
            && page.contains("approved by lea")
            && page.contains("Leases survive crashes.")
    );
    assert!(
        !page.contains("Ask a reviewer"),
        "a decided doc does not offer asking reviewers"
    );
    assert!(page.contains("decision-approved"));
    assert!(
        page.contains("<a href=\"https://www.postgresql.org/docs/current/explicit-locking.html\""),
        "references that are URLs are links"
    );
    assert!(
        page.contains("Compare v"),
        "several revisions can be compared"
    );
    assert!(
        ann.post("/docs/1/move", &[("action", "withdraw")])
            .await
            .body
            .contains("approved cannot")
    );
    assert_eq!(
        ann.post("/docs/1/move", &[("action", "implemented")])
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    post_doc(&bob, "/docs", &full_doc("Probe leases v2")).await;
    let sup = lea
        .post(
            "/docs/1/move",
            &[("action", "supersede"), ("superseded_by", "DD-2")],
        )
        .await;
    assert_eq!(sup.status, StatusCode::SEE_OTHER);
    assert!(ann.get("/docs/1").await.body.contains("Superseded by"));

    // The owner heard of each verdict, the decision and the supersession in their inbox.
    let inbox = ann.get("/inbox").await.body;
    for line in [
        "bob display reviewed DD-1 “Probe leases”: requested changes.",
        "cy display reviewed DD-1 “Probe leases”: approved.",
        "lea display decided DD-1 “Probe leases”: approved.",
        "DD-1 “Probe leases” is superseded by DD-2.",
    ] {
        assert!(inbox.contains(line), "{line} in {inbox}");
    }
    let reviewer = bob.get("/inbox").await.body;
    assert!(
        reviewer.contains("asked bob display to review DD-1"),
        "{reviewer}"
    );
}

#[tokio::test]
async fn a_lead_never_decides_their_own_doc() {
    let app = TestApp::spawn().await;
    let lea = app.logged_in("lea", Role::Lead).await;
    post_doc(&lea, "/docs", &full_doc("Lead's own")).await;
    lea.post("/docs/1/move", &[("action", "submit")]).await;
    let r = lea
        .post("/docs/1/move", &[("action", "reject"), ("rationale", "no")])
        .await;
    assert!(r.body.contains("cannot decide your own doc"));
    let other = app.logged_in("max", Role::Member).await;
    let r = other.post("/docs/1/move", &[("action", "withdraw")]).await;
    assert!(r.body.contains("Only the doc's owner"));
    let edit = post_doc(
        &other,
        "/docs/1",
        &[
            ("title", "hijack".into()),
            ("kind", "proposal".into()),
            ("version", "1".into()),
        ],
    )
    .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn of_two_stale_saves_one_wins_and_the_other_sees_both_versions_with_its_text_kept() {
    let app = TestApp::spawn().await;
    let laptop = app.logged_in("ann", Role::Member).await;
    let phone = app.client();
    phone.login("ann", common::PASSWORD).await;
    post_doc(&laptop, "/docs", &full_doc("Shared doc")).await;
    let v = version(&app, 1).await;
    let mut a = full_doc("Shared doc");
    a[4].1 = "Laptop background".into();
    a.push(("version", v.clone()));
    let mut b = full_doc("Shared doc");
    b[4].1 = "Phone background".into();
    b.push(("version", v));
    assert_eq!(
        post_doc(&laptop, "/docs/1", &a).await.status,
        StatusCode::SEE_OTHER
    );
    let stale = post_doc(&phone, "/docs/1", &b).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("someone saved first"));
    assert!(stale.body.contains("Laptop background") && stale.body.contains("Phone background"));
    assert!(ann_page_has(&laptop, "Laptop background").await);
}

async fn ann_page_has(c: &Client, text: &str) -> bool {
    c.get("/docs/1").await.body.contains(text)
}

#[tokio::test]
async fn markup_in_a_doc_renders_inert() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    let mut f = full_doc("<script>alert('t')</script>");
    f[4].1 = "<script>alert(1)</script><img src=x onerror=alert(2)>[x](javascript:alert(3))<iframe src=//evil></iframe>".into();
    post_doc(&ann, "/docs", &f).await;
    ann.post(
        "/docs/1/comments",
        &[("body", "<svg onload=alert(4)>hi"), ("section", "")],
    )
    .await;
    let page = ann.get("/docs/1").await.body.to_lowercase();
    // Text that merely reads "javascript:" is harmless; no tag or attribute may run it.
    for bad in [
        "<script>alert",
        "onerror=",
        "href=\"javascript:",
        "src=\"javascript:",
        "<iframe",
        "onload=",
    ] {
        assert!(!page.contains(bad), "{bad} survived");
    }
    assert!(
        page.contains("&lt;script&gt;alert('t')&lt;/script&gt;"),
        "the title is text"
    );
}

#[tokio::test]
async fn search_finds_by_title_body_and_comments_and_respects_filters() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    let bob = app.logged_in("bob", Role::Member).await;
    post_doc(&ann, "/docs", &full_doc("Message queue retention")).await;
    let mut other = full_doc("Login rate limits");
    other[2].1 = "security".into();
    other[4].1 = "Brute force attempts against the retention of sessions".into();
    post_doc(&bob, "/docs", &other).await;
    ann.post(
        "/docs/2/comments",
        &[("body", "what about kafka compaction"), ("section", "")],
    )
    .await;

    let title = ann.get("/docs?q=retention").await.body;
    let (first, second) = (
        title.find("Message queue retention").unwrap(),
        title.find("Login rate limits").unwrap(),
    );
    assert!(first < second, "a title match ranks above a body match");
    assert!(
        ann.get("/docs?q=compaction")
            .await
            .body
            .contains("Login rate limits"),
        "comments are searched"
    );
    let by_owner = ann.get("/docs?q=retention&owner=bob").await.body;
    assert!(
        by_owner.contains("Login rate limits") && !by_owner.contains("Message queue retention")
    );
    let by_tag = ann.get("/docs?tag=security").await.body;
    assert!(by_tag.contains("Login rate limits") && !by_tag.contains("Message queue retention"));
    assert!(
        ann.get("/docs?status=approved")
            .await
            .body
            .contains("No doc matches")
    );
    assert!(
        ann.get("/docs?line=release-v3.9&kind=proposal")
            .await
            .body
            .contains("Message queue retention")
    );
    ann.post("/docs/1/reviewers", &[("handle", "bob")]).await;
    let by_reviewer = ann.get("/docs?reviewer=bob").await.body;
    assert!(
        by_reviewer.contains("Message queue retention")
            && !by_reviewer.contains("Login rate limits")
    );
}

#[tokio::test]
async fn the_list_pages_newest_first_with_the_filters_kept() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    let owner = app
        .count("select id from accounts where handle = 'ann'")
        .await;
    sqlx::query(
        "update doc_counter set last = 60;
         ",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("insert into docs (number, title, kind, owner_id) select n, 'Doc number ' || n, 'information', $1 from generate_series(1, 60) n")
        .bind(owner)
        .execute(&app.pool)
        .await
        .unwrap();
    let first = ann.get("/docs?kind=information").await.body;
    assert!(
        first.contains("Doc number 60")
            && first.contains("Doc number 11")
            && !first.contains("Doc number 10<")
    );
    let start = first
        .find("/docs?q=&amp;status=&amp;kind=information")
        .expect("next page keeps the filter");
    let href: String = first[start..].chars().take_while(|c| *c != '"').collect();
    let second = ann.get(&href.replace("&amp;", "&")).await.body;
    assert!(
        second.contains("Doc number 10<")
            && second.contains("Doc number 1<")
            && !second.contains("Doc number 11<")
    );
}

#[tokio::test]
async fn export_then_import_gives_the_same_doc() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    post_doc(&ann, "/docs", &full_doc("Round trip")).await;
    let md = ann
        .http
        .get(format!("{}/docs/1/export.md", ann.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        md.headers()["content-disposition"],
        "attachment; filename=\"DD-1.md\""
    );
    let text = md.text().await.unwrap();
    assert!(text.starts_with("---\nstatus: proposed\n"));
    let r = ann.post("/docs/import", &[("markdown", &text)]).await;
    assert_eq!(r.location(), Some("/docs/2"));
    let same: bool = sqlx::query_scalar(
        "select a.title = b.title and a.background = b.background and a.alternatives = b.alternatives
                and a.conclusion = b.conclusion and a.tags = b.tags and a.target_line = b.target_line
         from docs a, docs b where a.number = 1 and b.number = 2",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(same);
    let bad = ann
        .post("/docs/import", &[("markdown", "no front matter")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("front matter") && bad.body.contains("no front matter"),
        "kept"
    );
}

#[tokio::test]
async fn threads_resolve_and_reopen_and_revisions_can_be_compared() {
    let app = TestApp::spawn().await;
    let ann = app.logged_in("ann", Role::Member).await;
    post_doc(&ann, "/docs", &full_doc("Threads")).await;
    ann.post(
        "/docs/1/comments",
        &[("body", "Is 2 ms measured?"), ("section", "Alternatives")],
    )
    .await;
    let thread = app.count("select id from doc_comments").await;
    ann.post(
        "/docs/1/comments",
        &[
            ("body", "Yes, on the bench."),
            ("parent", &thread.to_string()),
        ],
    )
    .await;
    ann.post(&format!("/docs/1/threads/{thread}/resolve"), &[])
        .await;
    let page = ann.get("/docs/1").await.body;
    assert!(
        page.contains("Yes, on the bench.")
            && page.contains(">resolved<")
            && page.contains("on <em>Alternatives</em>")
    );
    ann.post(&format!("/docs/1/threads/{thread}/reopen"), &[])
        .await;
    assert!(!ann.get("/docs/1").await.body.contains(">resolved<"));

    let mut f = full_doc("Threads");
    f[18].1 = "Advisory locks after all.".into();
    f.push(("version", "1".into()));
    post_doc(&ann, "/docs/1", &f).await;
    let diff = ann.get("/docs/1/diff?from=1&to=2").await.body;
    assert!(diff.contains("<span class=\"del\">- Leases.</span>"));
    assert!(diff.contains("<span class=\"ins\">+ Advisory locks after all.</span>"));
}

#[tokio::test]
async fn my_review_queue_lists_overdue_reviews_first() {
    let app = TestApp::spawn_at("2026-03-02T09:00:00Z").await;
    let ann = app.logged_in("ann", Role::Member).await;
    let bob = app.logged_in("bob", Role::Member).await;
    post_doc(&ann, "/docs", &full_doc("Older request")).await;
    post_doc(&ann, "/docs", &full_doc("Newer request")).await;
    ann.post("/docs/1/move", &[("action", "submit")]).await;
    ann.post("/docs/2/move", &[("action", "submit")]).await;
    let asked = ann.post("/docs/2/reviewers", &[("handle", "bob")]).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    assert!(
        ann.get("/docs/2")
            .await
            .body
            .contains("due Thu 5 Mar 10:00 CET"),
        "3 working days"
    );
    app.state.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-03-06T09:00:00Z")
            .unwrap()
            .into(),
    );
    ann.post("/docs/1/reviewers", &[("handle", "bob")]).await;
    let queue = bob.get("/reviews").await.body;
    let (newer, older) = (
        queue.find("Newer request").unwrap(),
        queue.find("Older request").unwrap(),
    );
    assert!(newer < older, "the overdue one comes first");
    assert!(queue.contains("overdue"));
}

#[tokio::test]
async fn reviewers_on_leave_are_flagged_and_docs_show_on_their_release_line() {
    let app = TestApp::spawn_at("2026-03-10T09:00:00Z").await;
    let ann = app.logged_in("ann", Role::Member).await;
    let bob = app.logged_in("bob", Role::Member).await;
    bob.post(
        "/me/leave",
        &[
            ("starts_on", "2026-03-10"),
            ("ends_on", "2026-03-12"),
            ("kind", "sick"),
            ("note", ""),
            ("emergency", "on"),
        ],
    )
    .await;
    post_doc(&ann, "/docs", &full_doc("Leases for probes")).await;
    ann.post("/docs/1/move", &[("action", "submit")]).await;
    ann.post("/docs/1/reviewers", &[("handle", "bob")]).await;
    assert!(
        ann.get("/docs/1")
            .await
            .body
            .contains("bob is on leave right now")
    );
    assert!(ann.get("/docs/1").await.body.contains(">on leave<"));

    let lead = app.logged_in("lea", Role::Lead).await;
    lead.post("/releases", &[("name", "server")]).await;
    lead.post("/releases/server/tags", &[("tag", "v3.9.0")])
        .await;
    let line = lead.get("/releases/server/release-v3.9").await.body;
    assert!(
        line.contains("DD-1 Leases for probes"),
        "the line lists the docs that target it"
    );
}
