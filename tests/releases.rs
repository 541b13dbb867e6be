//! Release lines through the real router: tags (placement, immutability, near-misses), import
//! from a real git repository made in the test (twice: idempotent), backports, permissions.

mod common;

use std::process::Command;

use common::{Client, TestApp, git, make_repo};
use flowdeck::auth::model::Role;
use reqwest::StatusCode;

async fn lead_with_repo(app: &TestApp, repo: &str) -> Client {
    let lead = app.logged_in("lee", Role::Lead).await;
    let r = lead
        .post(
            "/releases",
            &[("name", repo), ("url", ""), ("default_branch", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    lead
}

#[tokio::test]
async fn tags_go_where_the_rules_say_and_near_misses_are_explained() {
    let app = TestApp::spawn().await;
    let lead = lead_with_repo(&app, "server").await;
    let record = |tag: &'static str| {
        let lead = &lead;
        async move {
            lead.post("/releases/server/tags", &[("tag", tag), ("commit", "")])
                .await
        }
    };
    let early = record("v3.9.1").await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        early
            .body
            .contains("release-v3.9 does not exist yet: it is opened by v3.9.0")
    );
    assert!(
        early.body.contains("value=\"v3.9.1\""),
        "the tag typed is kept"
    );

    assert_eq!(record("v3.9.0-rc.1").await.status, StatusCode::SEE_OTHER);
    let opened = record("v3.9.0").await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    assert!(
        lead.get("/releases/server")
            .await
            .body
            .contains("v3.9.0 recorded; it opened release-v3.9.")
    );
    assert_eq!(record("v3.9.1").await.status, StatusCode::SEE_OTHER);

    let miss = record("v3.9.2-RC1").await;
    assert!(
        miss.body.contains("Did you mean v3.9.2-rc.1?"),
        "near-miss explained"
    );
    let two_part = record("v3.9").await;
    assert!(two_part.body.contains("Did you mean v3.9.0?"));

    let main = lead.get("/releases/server/main").await.body;
    assert!(main.contains("v3.9.0-rc.1") && !main.contains(">v3.9.0<"));
    let line = lead.get("/releases/server/release-v3.9").await.body;
    let (newer, older) = (
        line.find(">v3.9.1<").unwrap(),
        line.find(">v3.9.0<").unwrap(),
    );
    assert!(newer < older, "newest first");
    assert!(line.contains("active"));
}

#[tokio::test]
async fn tags_are_immutable_everywhere_but_can_be_retracted_once() {
    let app = TestApp::spawn().await;
    let lead = lead_with_repo(&app, "server").await;
    lead.post(
        "/releases/server/tags",
        &[("tag", "v2.0.0"), ("commit", "abcdef1234")],
    )
    .await;
    let again = lead
        .post(
            "/releases/server/tags",
            &[("tag", "v2.0.0"), ("commit", "99999999")],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again
            .body
            .contains("v2.0.0 is already recorded at abcdef1234; tags are immutable")
    );

    // Not even the database lets a tag change or disappear.
    let update = sqlx::query("update release_tags set commit_sha = 'x' where name = 'v2.0.0'")
        .execute(&app.pool)
        .await;
    assert!(update.unwrap_err().to_string().contains("immutable"));
    let delete = sqlx::query("delete from release_tags")
        .execute(&app.pool)
        .await;
    assert!(
        delete
            .unwrap_err()
            .to_string()
            .contains("cannot be deleted")
    );

    let r = lead
        .post(
            "/releases/server/tags/v2.0.0/retract",
            &[("reason", "built from the wrong commit")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = lead.get("/releases/server/tags/v2.0.0").await.body;
    assert!(page.contains("built from the wrong commit") && page.contains("abcdef1234"));
    let twice = lead
        .post(
            "/releases/server/tags/v2.0.0/retract",
            &[("reason", "again")],
        )
        .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        twice.body.contains("already retracted"),
        "on the tag's page"
    );
    let raw = sqlx::query("update release_tags set retract_reason = 'rewritten'")
        .execute(&app.pool)
        .await;
    assert!(raw.is_err(), "a retraction cannot be rewritten either");
}

#[tokio::test]
async fn importing_a_git_repository_twice_records_once_and_reports_policy_breaks() {
    let app = TestApp::spawn().await;
    let lead = lead_with_repo(&app, "server").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = make_repo(tmp.path());
    let path = dir.to_str().unwrap();

    let first = lead
        .post("/releases/server/import", &[("path", path)])
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let body = first.body;
    assert!(
        body.contains("5 new tags, 0 already recorded, 2 new lines, 1 other branches ignored"),
        "{body}"
    );
    for (bad, meant) in [
        ("branch release-1.2", "release-v1.2"),
        ("branch hotfix/release-v1.1", "release-v1.1"),
        ("tag v1.2", "v1.2.0"),
        ("tag v1.1.0-RC2", "v1.1.0-rc.2"),
    ] {
        assert!(
            body.contains(bad) && body.contains(&format!("<code>{meant}</code>")),
            "{bad} → {meant}"
        );
    }
    assert!(
        body.contains("release-v2.0 does not exist yet"),
        "v2.0.1 without v2.0.0 is reported"
    );

    let second = lead
        .post("/releases/server/import", &[("path", path)])
        .await
        .body;
    assert!(
        second.contains("0 new tags, 5 already recorded, 0 new lines"),
        "idempotent"
    );
    let count = app.count("select count(*) from release_tags").await;
    assert_eq!(count, 5);

    // The annotated tag is recorded at its commit, not at the tag object.
    let commit = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "v1.0.0^{commit}"])
            .current_dir(&dir)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let page = lead.get("/releases/server/tags/v1.0.0").await.body;
    assert!(page.contains(commit.trim()));
    let overview = lead.get("/releases").await.body;
    assert!(overview.contains("release-v1.1") && overview.contains("release-v1.0"));

    // A bare clone imports the same way.
    lead.post(
        "/releases",
        &[("name", "server-bare"), ("url", ""), ("default_branch", "")],
    )
    .await;
    let bare = tmp.path().join("server.git");
    git(
        tmp.path(),
        &["clone", "-q", "--bare", path, bare.to_str().unwrap()],
    );
    let r = lead
        .post(
            "/releases/server-bare/import",
            &[("path", bare.to_str().unwrap())],
        )
        .await
        .body;
    assert!(r.contains("5 new tags"), "{r}");

    let nowhere = lead
        .post("/releases/server/import", &[("path", "/no/such/repo")])
        .await;
    assert_eq!(nowhere.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nowhere.body.contains("is not a folder"));
    let not_git = lead
        .post(
            "/releases/server/import",
            &[("path", tmp.path().to_str().unwrap())],
        )
        .await;
    assert!(
        not_git.body.contains("is not a git repository"),
        "{}",
        not_git.body
    );
}

#[tokio::test]
async fn a_security_backport_targets_every_maintained_line_newest_first() {
    let app = TestApp::spawn().await;
    let lead = lead_with_repo(&app, "server").await;
    for t in ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0"] {
        lead.post("/releases/server/tags", &[("tag", t), ("commit", "")])
            .await;
    }
    let overview = lead.get("/releases").await.body;
    assert!(
        overview.contains("end of life"),
        "v1.0 and v1.1 are past the window of 3"
    );

    let member = app.logged_in("mo", Role::Member).await;
    let missing = member
        .post(
            "/releases/server/backports",
            &[
                ("title", "fix"),
                ("link", ""),
                ("criticality", "other"),
                ("justification", ""),
            ],
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("say why this one must be"));
    let ok = member
        .post(
            "/releases/server/backports",
            &[
                ("title", "Fix token leak"),
                ("link", "https://example.com/pr/9"),
                ("criticality", "security"),
                ("justification", ""),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let lines: Vec<String> = sqlx::query_scalar(
        "select l.name from backport_targets bt join release_lines l on l.id = bt.line_id order by bt.position",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(lines, ["release-v1.4", "release-v1.3", "release-v1.2"]);
    for l in ["release-v1.4", "release-v1.3", "release-v1.2"] {
        assert!(
            member
                .get(&format!("/releases/server/{l}"))
                .await
                .body
                .contains("Fix token leak"),
            "{l}"
        );
    }
    assert!(
        !member
            .get("/releases/server/release-v1.1")
            .await
            .body
            .contains("Fix token leak")
    );

    let (bp, line): (i64, i64) = sqlx::query_as(
        "select bt.backport_id, bt.line_id from backport_targets bt where bt.position = 0",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let path = format!("/releases/server/backports/{bp}/lines/{line}");
    assert_eq!(
        member.post(&path, &[("status", "picked")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        lead.post(&path, &[("status", "picked")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        lead.post(&path, &[("status", "shipped")]).await.status,
        StatusCode::BAD_REQUEST
    );
    let status: String =
        sqlx::query_scalar("select status from backport_targets where position = 0")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "picked");
}

#[tokio::test]
async fn members_read_release_lines_but_only_leads_change_them() {
    let app = TestApp::spawn().await;
    let _lead = lead_with_repo(&app, "server").await;
    let member = app.logged_in("mo", Role::Member).await;
    assert_eq!(member.get("/releases/server").await.status, StatusCode::OK);
    for (path, fields) in [
        ("/releases", vec![("name", "x")]),
        ("/releases/server/tags", vec![("tag", "v9.0.0")]),
        ("/releases/server/import", vec![("path", "/tmp")]),
    ] {
        assert_eq!(
            member.post(path, &fields).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(
        member.get("/releases/server/import").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        member.get("/releases/nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        member.get("/releases/server/release-9").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_cli_imports_a_repository() {
    let app = TestApp::spawn().await;
    app.account("root", Role::Admin).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = make_repo(tmp.path());
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_flowdeck"))
            .args(["releases", "import", dir.to_str().unwrap()])
            .env("DATABASE_URL", &app.db_url)
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("server: 5 new tags"), "{stdout}");
    assert!(stdout.contains("not imported: tag v1.2") && stdout.contains("Did you mean v1.2.0?"));
    assert!(
        String::from_utf8_lossy(&run().stdout).contains("server: 0 new tags, 5 already recorded")
    );
}

/// GitHub sends nothing when more than three tags are pushed at once: a repository imported from
/// a clone on the server is re-imported when due, and picks up the tags it missed.
#[tokio::test]
async fn a_repository_imported_from_a_clone_is_re_imported_when_due() {
    let app = TestApp::spawn().await;
    let lead = lead_with_repo(&app, "server").await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = make_repo(tmp.path());
    let r = lead
        .post(
            "/releases/server/import",
            &[("path", dir.to_str().unwrap())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Four tags pushed at once later, on the release line.
    for t in ["v1.1.1", "v1.1.2", "v1.1.3", "v1.1.4"] {
        git(&dir, &["tag", t, "release-v1.1"]);
    }
    assert_eq!(
        flowdeck::releases::ops::reimport_due(&app.state)
            .await
            .unwrap(),
        0,
        "not due yet"
    );
    sqlx::query("update repositories set next_import_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        flowdeck::releases::ops::reimport_due(&app.state)
            .await
            .unwrap(),
        1
    );
    let n = app
        .count("select count(*) from release_tags where name like 'v1.1.%'")
        .await;
    assert!(n >= 4, "the missed tags are recorded: {n}");
    let outcome: String =
        sqlx::query_scalar("select last_import_outcome from repositories where name = 'server'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(outcome.starts_with("4 new tags"), "{outcome}");
    let page = lead.get("/releases/server").await.body;
    assert!(
        page.contains("Re-imported from") && page.contains("every 15 min; last time: 4 new tags"),
        "the repository page says so"
    );
    assert_eq!(
        flowdeck::releases::ops::reimport_due(&app.state)
            .await
            .unwrap(),
        0,
        "and the next one waits for FLOWDECK_REIMPORT_MINUTES"
    );
}
