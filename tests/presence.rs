//! Availability through the real router: check-ins, going offline, overdue and unknown at chosen
//! instants (the clock is pinned, no sleeps), leave notice, emergencies, decisions, permissions.

mod common;

use chrono::{DateTime, Utc};
use common::TestApp;
use flowdeck::auth::model::Role;
use reqwest::StatusCode;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn outbox(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("select event, text from outbox order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// The board row of `name` as text without tags.
fn row_of(html: &str, name: &str) -> String {
    let body = html.find("<tbody").expect("a table");
    let start = html[body..]
        .find(&format!(">{name}</a>"))
        .expect("member on the board")
        + body;
    let end = html[start..].find("</tr>").unwrap() + start;
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

#[tokio::test]
async fn going_offline_needs_a_time_then_shows_until_and_turns_overdue() {
    // Tuesday 10 March 2026, 10:00 in Berlin.
    let app = TestApp::spawn_at("2026-03-10T09:00:00Z").await;
    let ann = app.logged_in("ann", Role::Member).await;

    let bad = ann
        .post(
            "/me/offline",
            &[("for", ""), ("until", ""), ("reason", "dentist")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Say how long you will be offline"));
    assert!(
        bad.body.contains("value=\"dentist\""),
        "the reason typed is kept"
    );
    let too_long = ann
        .post(
            "/me/offline",
            &[("for", "8d"), ("until", ""), ("reason", "")],
        )
        .await;
    assert!(too_long.body.contains("for longer, request leave"));

    let ok = ann
        .post(
            "/me/offline",
            &[("for", "2h"), ("until", ""), ("reason", "dentist")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let me = ann.get("/me").await.body;
    assert!(
        me.contains("You are offline until Tue 10 Mar 12:00 CET"),
        "the flash names the return time in the viewer's zone, as the pages do: {me}"
    );
    let board = ann.get("/team").await.body;
    let row = row_of(&board, "ann display");
    assert!(
        row.contains("offline") && row.contains("until Tue 12:00"),
        "{row}"
    );
    assert!(row.contains("dentist"));
    assert_eq!(
        outbox(&app).await,
        [(
            "member.offline".to_string(),
            "ann display went offline until Tue 12:00 (Europe/Berlin).".to_string()
        )],
        "the reason (dentist) stays on the board"
    );

    app.state.clock.set(at("2026-03-10T11:30:00Z"));
    let row = row_of(&ann.get("/team").await.body, "ann display");
    assert!(
        row.contains("overdue") && row.contains("expected back Tue 12:00, 30m ago"),
        "{row}"
    );

    ann.post("/me/online", &[]).await;
    let row = row_of(&ann.get("/team").await.body, "ann display");
    assert!(
        row.contains("online") && row.contains("since Tue 12:30"),
        "{row}"
    );
}

#[tokio::test]
async fn unknown_means_no_check_in_during_the_members_own_day() {
    // 15:30 UTC: 23:30 in Shanghai, 08:30 in Los Angeles.
    let app = TestApp::spawn_at("2026-03-10T15:30:00Z").await;
    let mei = app.logged_in_as("mei", Role::Member, "Asia/Shanghai").await;
    let lou = app
        .logged_in_as("lou", Role::Member, "America/Los_Angeles")
        .await;
    mei.post("/me/online", &[]).await;
    lou.post("/me/online", &[]).await;
    let viewer = app.logged_in_as("vic", Role::Member, "UTC").await;
    assert!(row_of(&viewer.get("/team").await.body, "mei display").contains("online"));

    // An hour later it is 11 March in Shanghai but still 10 March in Los Angeles.
    app.state.clock.set(at("2026-03-10T16:30:00Z"));
    let board = viewer.get("/team").await.body;
    assert!(row_of(&board, "mei display").contains("no check-in today"));
    assert!(row_of(&board, "lou display").contains("online"));
    assert!(row_of(&board, "vic display").contains("unknown"));
    let only_unknown = viewer.get("/team?state=unknown").await.body;
    assert!(only_unknown.contains("mei display") && !only_unknown.contains("lou display"));
}

#[tokio::test]
async fn leave_needs_notice_unless_it_is_an_emergency_which_reaches_the_inner_channel() {
    // Tuesday 20:00 in Berlin: Wednesday starts in 4 hours.
    let app = TestApp::spawn_at("2026-03-10T19:00:00Z").await;
    let ann = app.logged_in("ann", Role::Member).await;
    let form = |emergency: bool| {
        let mut f = vec![
            ("starts_on", "2026-03-11"),
            ("ends_on", "2026-03-12"),
            ("kind", "sick"),
            ("note", "flu"),
        ];
        if emergency {
            f.push(("emergency", "on"));
        }
        f
    };
    let refused = ann.post("/me/leave", &form(false)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("earliest first day now is Thu 12 Mar (Europe/Berlin)")
    );
    assert!(
        refused.body.contains("value=\"2026-03-11\"") && refused.body.contains("value=\"flu\"")
    );
    assert!(
        outbox(&app).await.is_empty(),
        "nothing announced for a refused request"
    );

    let ok = ann.post("/me/leave", &form(true)).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(
        outbox(&app).await,
        [
            (
                "leave.requested".to_string(),
                "ann display requested sick leave, 2026-03-11 to 2026-03-12.".to_string()
            ),
            (
                "leave.emergency".to_string(),
                "Emergency: ann display is on leave, 2026-03-11 to 2026-03-12.".to_string()
            )
        ],
        "the note (flu) is private"
    );
    app.state.clock.set(at("2026-03-11T08:00:00Z"));
    let row = row_of(&ann.get("/team").await.body, "ann display");
    assert!(
        row.contains("on leave")
            && row.contains("emergency")
            && row.contains("not yet acknowledged"),
        "{row}"
    );

    let overlap = ann
        .post(
            "/me/leave",
            &[
                ("starts_on", "2026-03-12"),
                ("ends_on", "2026-03-20"),
                ("kind", "sick"),
                ("note", ""),
                ("emergency", "on"),
            ],
        )
        .await;
    assert_eq!(overlap.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        overlap
            .body
            .contains("overlaps your leave from 2026-03-11 to 2026-03-12")
    );
}

async fn leave_id(app: &TestApp, handle: &str) -> i64 {
    sqlx::query_scalar(
        "select l.id from leave_requests l join accounts a on a.id = l.account_id where a.handle = $1",
    )
    .bind(handle)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn only_a_lead_other_than_the_requester_decides_and_only_the_requester_cancels() {
    let app = TestApp::spawn_at("2026-03-02T09:00:00Z").await;
    let lea = app.logged_in("lea", Role::Lead).await;
    let max = app.logged_in("max", Role::Member).await;
    let other_lead = app.logged_in("otto", Role::Lead).await;
    let leave = [
        ("starts_on", "2026-03-16"),
        ("ends_on", "2026-03-20"),
        ("kind", "vacation"),
        ("note", ""),
    ];
    assert_eq!(
        lea.post("/me/leave", &leave).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        max.post("/me/leave", &leave).await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        other_lead
            .get("/")
            .await
            .body
            .contains("2 leave requests to acknowledge")
    );
    assert!(
        lea.get("/")
            .await
            .body
            .contains("1 leave request to acknowledge"),
        "not her own"
    );
    assert!(
        !max.get("/").await.body.contains("to acknowledge"),
        "members decide nothing"
    );
    let lea_leave = leave_id(&app, "lea").await;
    let max_leave = leave_id(&app, "max").await;

    let own = lea
        .post(&format!("/leave/{lea_leave}/acknowledge"), &[("note", "")])
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    assert!(
        own.body
            .contains("cannot acknowledge or decline your own leave")
    );
    let by_member = max
        .post(&format!("/leave/{lea_leave}/acknowledge"), &[("note", "")])
        .await;
    assert_eq!(by_member.status, StatusCode::FORBIDDEN);
    assert_eq!(
        max.post(&format!("/leave/{lea_leave}/cancel"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let ok = other_lead
        .post(
            &format!("/leave/{lea_leave}/acknowledge"),
            &[("note", "have fun")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let again = lea
        .post(
            &format!("/leave/{max_leave}/decline"),
            &[("note", "release week")],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let twice = other_lead
        .post(&format!("/leave/{max_leave}/acknowledge"), &[("note", "")])
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    let me = lea.get("/me").await.body;
    assert!(me.contains("acknowledged") && me.contains("by otto: have fun"));
    assert_eq!(
        lea.post(&format!("/leave/{lea_leave}/cancel"), &[])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let statuses: Vec<String> = sqlx::query_scalar("select status from leave_requests order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(statuses, ["cancelled", "declined"]);
    let audit: Vec<String> =
        sqlx::query_scalar("select action from audit_log where target_type = 'leave' order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        audit,
        [
            "leave.requested",
            "leave.requested",
            "leave.acknowledged",
            "leave.declined",
            "leave.cancelled"
        ]
    );
}

#[tokio::test]
async fn nobody_can_change_another_members_status() {
    let app = TestApp::spawn_at("2026-03-10T09:00:00Z").await;
    let victim = app.account("vic", Role::Member).await;
    let eve = app.logged_in("eve", Role::Admin).await;
    let id = victim.to_string();
    eve.post(
        "/me/offline",
        &[
            ("for", "1h"),
            ("until", ""),
            ("reason", ""),
            ("account_id", &id),
            ("handle", "vic"),
        ],
    )
    .await;
    let vic_events: i64 =
        sqlx::query_scalar("select count(*) from presence_events where account_id = $1")
            .bind(victim)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(vic_events, 0, "the status endpoints act only on the caller");
    assert!(row_of(&eve.get("/team").await.body, "vic display").contains("unknown"));
}

#[tokio::test]
async fn the_member_page_keeps_history_and_the_calendar_shows_leave() {
    let app = TestApp::spawn_at("2026-03-02T09:00:00Z").await;
    let ann = app.logged_in("ann", Role::Member).await;
    ann.post("/me/online", &[]).await;
    ann.post("/me/away", &[]).await;
    ann.post(
        "/me/offline",
        &[("for", ""), ("until", "17:30"), ("reason", "train")],
    )
    .await;
    ann.post(
        "/me/leave",
        &[
            ("starts_on", "2026-03-16"),
            ("ends_on", "2026-03-17"),
            ("kind", "personal"),
            ("note", ""),
        ],
    )
    .await;

    let page = ann.get("/team/ann").await.body;
    let history = &page[page.find("History").unwrap()..];
    let (off, away, on) = (
        history.find(">offline<").unwrap(),
        history.find(">away<").unwrap(),
        history.find(">online<").unwrap(),
    );
    assert!(off < away && away < on, "newest first");
    assert!(page.contains("until Mon 2 Mar 17:30 CET") && page.contains("train"));
    assert_eq!(ann.get("/team/nobody").await.status, StatusCode::NOT_FOUND);

    let cal = ann.get("/leave").await.body;
    assert!(cal.contains("title=\"ann display personal (pending)\""));
    assert!(
        !cal.contains("Leave to acknowledge"),
        "members see no decision list"
    );
    let lead = app.logged_in("lee", Role::Lead).await;
    assert!(
        lead.get("/leave")
            .await
            .body
            .contains("Leave to acknowledge")
    );
}
