//! Team rhythm through the real pages with a pinned clock (no sleeps): a week's 3PS updates
//! prefilled from the member's week, Problems first, one reminder and one digest; milestones
//! limited to two weeks that slip when past due and keep their re-planned dates; blockers that
//! escalate at 1 h / 2 h / 3 h, pause while the member is offline, fire each step once with two
//! workers and after a restart, and stop when a helper resolves them.

mod common;

use chrono::{DateTime, Utc};
use common::TestApp;
use flowdeck::auth::model::Role;
use reqwest::StatusCode;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The card of `handle` on a week page.
fn card<'a>(page: &'a str, handle: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"u-{handle}\""))
        .unwrap_or_else(|| panic!("a card for {handle}"));
    let end = page[start..].find("</article>").unwrap() + start;
    &page[start..end]
}

#[tokio::test]
async fn a_week_of_updates_is_prefilled_read_problems_first_reminded_once_and_digested() {
    // Monday 23 November 2026 (ISO week 48), 09:00 UTC.
    let app = TestApp::spawn_at("2026-11-23T09:00:00Z").await;
    let lee = app.logged_in("lee", Role::Lead).await;
    let ann = app.logged_in("ann", Role::Member).await;
    let bo = app.logged_in("bo", Role::Member).await;
    for (path, form) in [
        (
            "/environments",
            vec![
                ("name", "prod"),
                ("tier", "production"),
                ("position", "1"),
                ("url", ""),
            ],
        ),
        (
            "/services",
            vec![
                ("name", "api"),
                ("role", "api"),
                ("image", ""),
                ("repository", ""),
            ],
        ),
    ] {
        assert_eq!(lee.post(path, &form).await.status, StatusCode::SEE_OTHER);
    }
    // Ann deploys on Tuesday; last week's deployment is not this week's.
    for (when, version) in [
        ("2026-11-20T10:00:00Z", "v1.0.0"),
        ("2026-11-24T10:00:00Z", "v1.1.0"),
    ] {
        app.state.clock.set(at(when));
        let r = ann
            .post(
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
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    app.state.clock.set(at("2026-11-26T09:00:00Z"));
    let form = ann.get("/updates/edit").await.body;
    assert!(form.contains("My update · 2026-W48"), "{form}");
    assert!(
        form.contains("Deployed api v1.1.0 to prod") && !form.contains("v1.0.0"),
        "this week's deployment is suggested, last week's is not: {form}"
    );
    assert!(form.contains("Nothing is posted until you save"));

    // Nothing at all is refused, with the form kept.
    let empty = ann
        .post(
            "/updates/edit",
            &[
                ("plan", ""),
                ("priority", ""),
                ("problem", ""),
                ("summary", " "),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("Write at least one of the four."));

    let saved = ann
        .post(
            "/updates/edit",
            &[
                ("plan", "Finish the rollout<script>alert(1)</script>"),
                ("priority", "Rollout"),
                ("problem", "Flaky CI on the release branch"),
                ("summary", "- Deployed api v1.1.0 to prod"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location(), Some("/updates/2026-W48"));
    // The same form sent again (another tab) is refused, its text kept.
    let stale = ann
        .post(
            "/updates/edit",
            &[
                ("plan", "Other tab"),
                ("priority", ""),
                ("problem", ""),
                ("summary", ""),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("Other tab") && stale.body.contains("another tab"));

    let r = lee
        .post(
            "/updates/edit",
            &[
                ("plan", "Reviews"),
                ("priority", ""),
                ("problem", ""),
                ("summary", "Aaaa first alphabetically"),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    let week = bo.get("/updates").await.body;
    assert!(week.contains("Updates · 2026-W48"));
    let ann_card = card(&week, "ann");
    assert!(ann_card.contains("Flaky CI"), "{ann_card}");
    assert!(ann_card.contains("Finish the rollout"), "{ann_card}");
    assert!(
        !ann_card.contains("<script"),
        "markup is sanitized: {ann_card}"
    );
    assert!(
        week.find("id=\"u-ann\"") < week.find("id=\"u-lee\""),
        "Problems first"
    );
    assert!(
        week.contains("bo display</a> <span class=\"muted\">not yet — due Fri 27 Nov</span>"),
        "{week}"
    );
    assert!(week.contains("2 of 3 members wrote"));

    // Friday 17:30 UTC: one reminder, to bo only; a second pass sends none.
    app.state.clock.set(at("2026-11-27T17:30:00Z"));
    let t = flowdeck::rhythm::tick(&app.state).await.unwrap();
    assert_eq!(t.reminders, 1);
    assert_eq!(
        flowdeck::rhythm::tick(&app.state).await.unwrap().reminders,
        0
    );
    assert_eq!(
        app.count(
            "select count(*) from inbox_items i join accounts a on a.id = i.account_id
                   where a.handle = 'bo' and i.event = 'update.reminder'"
        )
        .await,
        1
    );
    // Saturday 12:00 UTC: Friday has ended everywhere; the digest goes once.
    app.state.clock.set(at("2026-11-28T12:30:00Z"));
    assert_eq!(flowdeck::rhythm::tick(&app.state).await.unwrap().digests, 1);
    assert_eq!(flowdeck::rhythm::tick(&app.state).await.unwrap().digests, 0);
    let digest: String =
        sqlx::query_scalar("select text from outbox where event = 'updates.digest'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        digest.contains("Week 2026-W48") && digest.contains("ann display: Flaky CI"),
        "{digest}"
    );

    // Search, past weeks, and a week that does not exist.
    let found = bo.get("/updates?q=flaky").await.body;
    assert!(found.contains("2026-W48 · ann display"), "{found}");
    assert_eq!(bo.get("/updates/2026-W47").await.status, StatusCode::OK);
    assert_eq!(
        bo.get("/updates/2025-W53").await.status,
        StatusCode::NOT_FOUND
    );
    // Next week ann's form is new again.
    app.state.clock.set(at("2026-11-30T08:00:00Z"));
    assert!(ann.get("/updates/edit").await.body.contains("2026-W49"));
}

#[tokio::test]
async fn milestones_are_at_most_two_weeks_ahead_slip_when_past_due_and_keep_their_dates() {
    let app = TestApp::spawn_at("2026-11-26T09:00:00Z").await;
    let ann = app.logged_in("ann", Role::Member).await;
    let lee = app.logged_in("lee", Role::Lead).await;
    let far = ann
        .post(
            "/milestones",
            &[
                ("title", "Ship the importer"),
                ("due_on", "2026-12-11"),
                ("doc", ""),
                ("line", ""),
            ],
        )
        .await;
    assert_eq!(far.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        far.body.contains("the latest allowed date is 2026-12-10"),
        "{}",
        far.body
    );
    assert!(far.body.contains("value=\"Ship the importer\""));
    let bad_doc = ann
        .post(
            "/milestones",
            &[
                ("title", "Ship the importer"),
                ("due_on", "2026-12-03"),
                ("doc", "999"),
                ("line", ""),
            ],
        )
        .await;
    assert!(bad_doc.body.contains("No design doc has that number."));
    let ok = ann
        .post(
            "/milestones",
            &[
                ("title", "Ship the importer"),
                ("due_on", "2026-12-03"),
                ("doc", ""),
                ("line", ""),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let id = app.count("select max(id) from milestones").await;
    let page = ann.get("/milestones").await.body;
    assert!(
        page.contains("on track</span> <strong>Ship the importer</strong>"),
        "{page}"
    );

    // Only ann moves it.
    let as_lee = lee
        .post(
            &format!("/milestones/{id}"),
            &[("state", "done"), ("version", "1"), ("due_on", "")],
        )
        .await;
    assert_eq!(as_lee.status, StatusCode::FORBIDDEN);
    let r = ann
        .post(
            &format!("/milestones/{id}"),
            &[("state", "at_risk"), ("version", "1"), ("due_on", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The same button from a stale page is refused.
    let stale = ann
        .post(
            &format!("/milestones/{id}"),
            &[("state", "done"), ("version", "1"), ("due_on", "")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::SEE_OTHER);
    assert!(
        ann.get("/milestones")
            .await
            .body
            .contains("changed since you opened the page")
    );
    assert!(ann.get("/milestones").await.body.contains("at risk</span>"));

    // Past its due date and not done: slipped, listed first, in the digest's words too.
    app.state.clock.set(at("2026-12-04T09:00:00Z"));
    let r = ann
        .post(
            "/milestones",
            &[
                ("title", "Later thing"),
                ("due_on", "2026-12-05"),
                ("doc", ""),
                ("line", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = lee.get("/milestones").await.body;
    assert!(
        page.contains("slipped</span> <strong>Ship the importer</strong>"),
        "{page}"
    );
    assert!(
        page.find("Ship the importer") < page.find("Later thing"),
        "slipped first"
    );
    let home = ann.get("/").await.body;
    assert!(
        home.contains("slipped</span> <a href=\"/milestones#m-"),
        "{home}"
    );

    // Re-planning keeps the first date.
    let r = ann
        .post(
            &format!("/milestones/{id}"),
            &[
                ("state", "replan"),
                ("version", "2"),
                ("due_on", "2026-12-09"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = ann.get("/milestones").await.body;
    assert!(
        page.contains("re-planned 1 time (first due 2026-12-03)"),
        "{page}"
    );
    assert!(page.contains("on track</span> <strong>Ship the importer</strong>"));
    let r = ann
        .post(
            &format!("/milestones/{id}"),
            &[("state", "done"), ("version", "3"), ("due_on", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let mine = ann.get("/milestones?member=ann").await.body;
    assert!(
        mine.contains("done</span> <strong>Ship the importer</strong>"),
        "{mine}"
    );
    assert!(
        !ann.get("/milestones")
            .await
            .body
            .contains("Ship the importer"),
        "done leaves the open list"
    );
}

#[tokio::test]
async fn a_blocker_escalates_at_one_two_and_three_hours_paused_while_offline_each_step_once() {
    let app = TestApp::spawn_at("2026-11-26T09:00:00Z").await;
    let ann = app.logged_in("ann", Role::Member).await;
    let lee = app.logged_in("lee", Role::Lead).await;
    let hal = app.logged_in("hal", Role::Member).await;
    let bo = app.logged_in("bo", Role::Member).await;
    let hal_id = app
        .count("select id from accounts where handle = 'hal'")
        .await;
    let empty = ann
        .post("/blockers", &[("what", " "), ("tried", "restarting")])
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("Say what is blocked.") && empty.body.contains("restarting"));
    let r = ann
        .post(
            "/blockers",
            &[
                ("what", "Staging database refuses connections"),
                ("tried", "Restarted the pool; checked the firewall"),
                ("helpers", &hal_id.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = app.count("select max(id) from blockers").await;
    let tick = || flowdeck::rhythm::tick(&app.state);
    let events = || app.count("select count(*) from outbox where event like 'blocker.%'");

    app.state.clock.set(at("2026-11-26T09:59:00Z"));
    assert_eq!(tick().await.unwrap().steps, 0);
    app.state.clock.set(at("2026-11-26T10:00:00Z"));
    assert_eq!(tick().await.unwrap().steps, 1);
    assert_eq!(
        app.count("select count(*) from inbox_items where event = 'blocker.helpers'")
            .await,
        1,
        "the named helper's inbox"
    );
    assert!(
        hal.get("/inbox")
            .await
            .body
            .contains("named you as a helper")
    );
    let chat: String = sqlx::query_scalar(
        "select text from outbox where event = 'blocker.helpers' and recipient_id is null",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(chat.contains("asking hal display"), "{chat}");

    // Ann goes offline at 10:10 for three hours: the clock stands still.
    app.state.clock.set(at("2026-11-26T10:10:00Z"));
    let r = ann
        .post(
            "/me/offline",
            &[("for", "3h"), ("until", ""), ("reason", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    app.state.clock.set(at("2026-11-26T12:30:00Z"));
    assert_eq!(tick().await.unwrap().steps, 0, "paused while offline");
    let page = ann.get("/blockers").await.body;
    assert!(page.contains("stage 1 — asked the named helpers"), "{page}");
    assert!(
        page.contains("1 h 10 min on the clock (paused: offline or on leave)"),
        "{page}"
    );
    // Back at 13:00: 70 minutes ran before; 50 more make two hours at 13:50.
    app.state.clock.set(at("2026-11-26T13:00:00Z"));
    ann.post("/me/online", &[]).await;
    app.state.clock.set(at("2026-11-26T13:49:00Z"));
    assert_eq!(tick().await.unwrap().steps, 0);
    app.state.clock.set(at("2026-11-26T13:50:00Z"));
    assert_eq!(tick().await.unwrap().steps, 1);
    assert_eq!(
        app.count("select count(*) from outbox where event = 'blocker.team'")
            .await,
        1
    );
    // Three hours at 14:50: two workers at once fire the step once.
    app.state.clock.set(at("2026-11-26T14:50:00Z"));
    let (a, b) = tokio::join!(tick(), tick());
    assert_eq!(a.unwrap().steps + b.unwrap().steps, 1);
    assert_eq!(
        app.count(
            "select count(*) from outbox where event = 'blocker.leads' and recipient_id is null"
        )
        .await,
        1
    );
    assert!(lee.get("/inbox").await.body.contains("Outside help needed"));
    assert_eq!(
        events().await,
        5,
        "helpers (chat + hal), team, leads (chat + lee)"
    );
    assert_eq!(tick().await.unwrap().steps, 0);

    // A clock that was down catches up: a new blocker seen first after 5 hours fires 1, 2, 3 once.
    let r = bo
        .post(
            "/blockers",
            &[("what", "Waiting on a vendor key"), ("tried", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    app.state.clock.set(at("2026-11-26T19:50:00Z"));
    assert_eq!(tick().await.unwrap().steps, 3);
    assert_eq!(tick().await.unwrap().steps, 0);

    // Someone not named cannot resolve ann's; the helper can, with a note; the clock stops.
    let r = bo
        .post(&format!("/blockers/{id}/resolve"), &[("note", "done")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = hal
        .post(
            &format!("/blockers/{id}/resolve"),
            &[("note", "Opened port 5432 on the staging firewall")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = ann.get("/blockers").await.body;
    assert!(page.contains("by hal display: Opened port 5432"), "{page}");
    let again = hal
        .post(&format!("/blockers/{id}/resolve"), &[("note", "again")])
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert!(hal.get("/blockers").await.body.contains("already resolved"));
    // The team's escalated blocker shows on the home page.
    assert!(ann.get("/").await.body.contains("Waiting on a vendor key"));
}

#[tokio::test]
async fn hostile_input_on_the_rhythm_pages_gets_a_clear_refusal_and_no_live_tag() {
    let app = TestApp::spawn_at("2026-11-26T09:00:00Z").await;
    let ann = app.logged_in("ann", Role::Member).await;
    let bo = app.logged_in("bo", Role::Member).await;
    // Markup in every text field is shown as text (or sanitized Markdown), never a live tag.
    let evil = "</textarea><script>alert(1)</script>";
    let r = ann
        .post(
            "/updates/edit",
            &[
                ("plan", evil),
                ("priority", evil),
                ("problem", evil),
                ("summary", evil),
                ("version", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let edit = ann.get("/updates/edit").await.body;
    assert!(!edit.contains("<script>alert"), "{edit}");
    assert!(
        edit.contains("&lt;/textarea&gt;"),
        "kept as text in the textarea"
    );
    assert!(!bo.get("/updates").await.body.contains("<script>alert"));
    let r = ann
        .post(
            "/milestones",
            &[
                ("title", evil),
                ("due_on", "2026-12-01"),
                ("doc", ""),
                ("line", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = ann
        .post("/blockers", &[("what", evil), ("tried", evil)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    for page in ["/milestones", "/blockers", "/"] {
        let body = bo.get(page).await.body;
        assert!(!body.contains("<script>alert"), "{page}: live tag");
    }
    // Control characters are refused at the edge, naming the field; nothing is stored.
    let nul = ann
        .post("/blockers", &[("what", "stuck\u{0}"), ("tried", "")])
        .await;
    assert_eq!(nul.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("select count(*) from blockers").await, 1);
    // Dates, numbers and ids out of range: a clear 4xx, never a 500.
    for (path, form) in [
        (
            "/milestones",
            vec![
                ("title", "x"),
                ("due_on", "99999-01-01"),
                ("doc", "-3"),
                ("line", ""),
            ],
        ),
        (
            "/milestones",
            vec![
                ("title", "x"),
                ("due_on", "2026-12-01"),
                ("doc", "99999999999999999999"),
                ("line", "a/"),
            ],
        ),
        (
            "/milestones/99999999999999999999",
            vec![("state", "done"), ("version", "1"), ("due_on", "")],
        ),
        (
            "/milestones/-1",
            vec![("state", "done"), ("version", "-9"), ("due_on", "")],
        ),
        ("/blockers/-1/resolve", vec![("note", "x")]),
        (
            "/blockers/99999999999999999999/resolve",
            vec![("note", "x")],
        ),
        (
            "/updates/edit",
            vec![("plan", "x"), ("version", "99999999999999999999")],
        ),
    ] {
        let r = ann.post(path, &form).await;
        assert!(
            r.status.is_client_error(),
            "{path} {form:?}: {} {}",
            r.status,
            r.body
        );
    }
    for path in [
        "/updates/2026-W4294967296",
        "/updates/-1-W01",
        "/updates/%3Cscript%3E",
        "/milestones?member=%3Cscript%3E",
    ] {
        let r = bo.get(path).await;
        assert!(r.status.is_client_error(), "{path}: {}", r.status);
        assert!(!r.body.contains("<script>"), "{path}");
    }
    // Another member's milestone and blocker: 403, unchanged.
    let id = app.count("select max(id) from milestones").await;
    let r = bo
        .post(
            &format!("/milestones/{id}"),
            &[("state", "done"), ("version", "1"), ("due_on", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let bl = app.count("select max(id) from blockers").await;
    let r = bo
        .post(&format!("/blockers/{bl}/resolve"), &[("note", "mine now")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("select count(*) from blockers where resolved_at is null")
            .await,
        1
    );
}
