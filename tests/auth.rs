//! Accounts, sessions, CSRF and roles through the real router over HTTP, on a real database.

mod common;

use common::{PASSWORD, TestApp};
use flowdeck::auth::{self, model::Role, token};
use reqwest::StatusCode;

#[tokio::test]
async fn a_member_logs_in_sees_home_and_logs_out() {
    let app = TestApp::spawn().await;
    app.account("ann", Role::Member).await;
    let c = app.client();

    let before = c.get("/").await;
    assert_eq!(before.status, StatusCode::SEE_OTHER);
    assert_eq!(before.location(), Some("/login"));

    let r = c.login("ann", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/"));

    let home = c.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Good to see you, ann display"));
    assert!(!home.body.contains(">Admin<"), "members see no Admin link");

    let out = c.post("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_works_with_the_email_too_and_follows_next() {
    let app = TestApp::spawn().await;
    app.account("bob", Role::Member).await;
    let c = app.client();
    let gate = c.get("/profile?tab=1").await;
    assert_eq!(gate.location(), Some("/login?next=%2Fprofile%3Ftab%3D1"));
    let r = c
        .post(
            "/login",
            &[
                ("handle", "BOB@example.com"),
                ("password", PASSWORD),
                ("next", "/profile"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/profile"));
}

#[tokio::test]
async fn an_offsite_next_is_not_followed() {
    let app = TestApp::spawn().await;
    app.account("bob", Role::Member).await;
    let c = app.client();
    let r = c
        .post(
            "/login",
            &[
                ("handle", "bob"),
                ("password", PASSWORD),
                ("next", "//evil.example.com/"),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/"));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_message_and_keep_the_handle() {
    let app = TestApp::spawn().await;
    app.account("cy", Role::Member).await;
    let c = app.client();
    let wrong = c.login("cy", "not the password").await;
    let unknown = c.login("nobody", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let msg = "Wrong handle or password.";
    assert!(wrong.body.contains(msg) && unknown.body.contains(msg));
    assert!(
        wrong.body.contains("value=\"cy\""),
        "the handle typed is kept"
    );
    assert!(
        !wrong.body.contains("not the password"),
        "the password is never echoed"
    );
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account_even_with_the_right_password() {
    let app = TestApp::spawn_with(|c| c.login_failures_per_account = 3).await;
    app.account("dee", Role::Member).await;
    let c = app.client();
    for _ in 0..3 {
        assert_eq!(
            c.login("dee", "wrong wrong").await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let r = c.login("dee", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("Too many failed logins"));
    // Another account from another client is not affected by dee's failures.
    app.account("eve", Role::Member).await;
    assert_eq!(
        app.client().login("eve", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn failed_logins_are_throttled_per_ip_across_accounts() {
    let app = TestApp::spawn_with(|c| c.login_failures_per_ip = 4).await;
    app.account("fay", Role::Member).await;
    let c = app.client();
    for i in 0..4 {
        c.login(&format!("guess{i}"), "whatever pw").await;
    }
    assert_eq!(
        c.login("fay", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let c = app.logged_in("gil", Role::Member).await;
    let r = c
        .post_raw(
            "/profile",
            &[
                ("display_name", "Hacked"),
                ("email", ""),
                ("timezone", "UTC"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("This form could not be accepted"));
    assert!(c.get("/").await.body.contains("gil display"));
}

#[tokio::test]
async fn a_post_from_a_foreign_origin_is_refused_even_with_the_token() {
    let app = TestApp::spawn().await;
    let c = app.logged_in("hal", Role::Member).await;
    let token = c.csrf().await;
    let fields = [
        ("display_name", "Hacked"),
        ("email", ""),
        ("timezone", "UTC"),
        ("csrf", token.as_str()),
    ];
    let r = c
        .post_raw(
            "/profile",
            &fields,
            &[("origin", "http://evil.example.com")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .post_raw("/profile", &fields, &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The same request from our own origin goes through.
    let ours = app.base.clone();
    let r = c
        .post_raw("/profile", &fields, &[("origin", ours.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_login_form_itself_needs_the_csrf_token() {
    let app = TestApp::spawn().await;
    app.account("ida", Role::Member).await;
    let c = app.client();
    let r = c
        .post_raw("/login", &[("handle", "ida"), ("password", PASSWORD)], &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn roles_are_enforced_on_every_admin_route() {
    let app = TestApp::spawn().await;
    let target = app.account("target", Role::Member).await;
    for role in [Role::Member, Role::Lead] {
        let c = app.logged_in(&format!("x{}", role.as_str()), role).await;
        assert_eq!(
            c.get("/admin").await.status,
            StatusCode::FORBIDDEN,
            "{role} on /admin"
        );
        assert_eq!(c.get("/admin/audit").await.status, StatusCode::FORBIDDEN);
        for path in [
            format!("/admin/members/{target}/role"),
            format!("/admin/members/{target}/disable"),
            "/admin/invites".to_string(),
        ] {
            let r = c.post(&path, &[("role", "admin")]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{role} posting {path}");
        }
    }
    let still: String = sqlx::query_scalar("select role from accounts where id = $1")
        .bind(target)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(still, "member");

    let admin = app.logged_in("boss", Role::Admin).await;
    let page = admin.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("target display"));
    let r = admin
        .post(
            &format!("/admin/members/{target}/role"),
            &[("role", "lead")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        admin
            .get("/admin")
            .await
            .body
            .contains("target is now lead.")
    );
}

#[tokio::test]
async fn an_admin_cannot_demote_or_disable_themself() {
    let app = TestApp::spawn().await;
    let admin = app.logged_in("solo", Role::Admin).await;
    let id = app
        .count("select id from accounts where handle = 'solo'")
        .await;
    let r = admin
        .post(&format!("/admin/members/{id}/role"), &[("role", "member")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("cannot change your own role"));
    let r = admin
        .post(&format!("/admin/members/{id}/disable"), &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_and_blocks_login() {
    let app = TestApp::spawn().await;
    let admin = app.logged_in("root1", Role::Admin).await;
    let member = app.logged_in("mo", Role::Member).await;
    assert_eq!(member.get("/").await.status, StatusCode::OK);
    let id = app
        .count("select id from accounts where handle = 'mo'")
        .await;

    let r = admin
        .post(&format!("/admin/members/{id}/disable"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let after = member.get("/").await;
    assert_eq!(
        after.status,
        StatusCode::SEE_OTHER,
        "the open session is over"
    );
    assert_eq!(after.location(), Some("/login"));
    assert_eq!(
        app.client().login("mo", PASSWORD).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    admin
        .post(&format!("/admin/members/{id}/enable"), &[])
        .await;
    assert_eq!(
        app.client().login("mo", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_log where target_id = $1 order by id")
            .bind(id.to_string())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        ["account.created", "account.disabled", "account.enabled"]
    );
    let audit = admin.get("/admin/audit").await;
    assert!(audit.body.contains("account.disabled"));
    assert!(
        audit.body.contains("<a href=\"/team/mo\">mo</a>"),
        "the target is named and linked, not an id"
    );
    assert!(
        audit.body.contains("<th scope=\"row\">disabled</th>"),
        "before/after is a small table of fields"
    );
    let only = admin.get("/admin/audit?action=account.disabled").await.body;
    assert!(only.contains("account.disabled") && !only.contains("<code>account.enabled</code>"));
    let by_target = admin
        .get(&format!("/admin/audit?target_type=account&target_id={id}"))
        .await
        .body;
    assert_eq!(
        by_target.matches("<code>account.").count(),
        3,
        "a target's whole history"
    );
    let none = admin.get("/admin/audit?actor=nobody").await.body;
    assert!(none.contains("No entry matches"));
    // 60 entries page at 50, and the next page keeps the filter.
    sqlx::query(
        "insert into audit_log (actor, action, target_type, target_id)
         select 'ci', 'deployment.recorded', 'deployment', n::text from generate_series(1, 60) n",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let first = admin.get("/admin/audit?actor=ci").await.body;
    assert_eq!(
        first.matches("<code>deployment.recorded</code>").count(),
        50
    );
    let next = first
        .split("href=\"")
        .find(|s| s.starts_with("/admin/audit?") && s.contains("before="))
        .map(|s| s.split('"').next().unwrap().replace("&amp;", "&"))
        .expect("an older page");
    assert!(next.contains("actor=ci"), "{next}");
    let second = admin.get(&next).await.body;
    assert_eq!(
        second.matches("<code>deployment.recorded</code>").count(),
        10
    );
}

#[tokio::test]
async fn logout_destroys_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let c = app.logged_in("lou", Role::Member).await;
    let sessions = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from tower_sessions.session")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    assert_eq!(sessions().await, 1);
    c.post("/logout", &[]).await;
    assert_eq!(sessions().await, 0);
}

#[tokio::test]
async fn the_session_id_changes_at_login() {
    let app = TestApp::spawn().await;
    app.account("rot", Role::Member).await;
    let c = app.client();
    let login_page = c.get("/login").await;
    let before = cookie(&login_page);
    let r = c.login("rot", PASSWORD).await;
    let after = cookie(&r);
    assert!(before.is_some() && after.is_some());
    assert_ne!(before, after);
    let set = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(set.contains("httponly") && set.contains("samesite=lax") && set.contains("path=/"));
}

fn cookie(p: &common::Page) -> Option<String> {
    p.headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

#[tokio::test]
async fn an_invite_creates_an_account_with_its_role_once() {
    let app = TestApp::spawn().await;
    let admin = app.logged_in("adm", Role::Admin).await;
    let r = admin
        .post(
            "/admin/invites",
            &[("role", "lead"), ("email", "new@example.com"), ("note", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = admin.get("/admin").await;
    let start = page.body.find("/invite/").expect("the link is shown once");
    let link: String = page.body[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '<')
        .collect();
    assert!(
        !admin.get("/admin").await.body.contains(&link),
        "shown only once"
    );

    let guest = app.client();
    let form = guest.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("value=\"new@example.com\""));
    // A bad submission keeps what was typed and says what is wrong.
    let bad = guest
        .post(
            &link,
            &[
                ("handle", "Newbie"),
                ("display_name", "New Bie"),
                ("email", "new@example.com"),
                ("timezone", "Mars/Base"),
                ("new_password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("value=\"Newbie\"") && bad.body.contains("value=\"New Bie\""));
    assert!(
        bad.body.contains("is not a time zone name") && bad.body.contains("at least 10 characters")
    );
    assert!(
        bad.body.contains("<select id=\"f-timezone\"")
            && bad.body.contains("<option value=\"Asia/Shanghai\">")
            && bad.body.contains("<option value=\"Mars/Base\" selected"),
        "the zone is chosen from the IANA names; the refused one stays selected"
    );

    let ok = guest
        .post(
            &link,
            &[
                ("handle", "newbie"),
                ("display_name", "New Bie"),
                ("email", "new@example.com"),
                ("timezone", "Asia/Shanghai"),
                ("new_password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert!(
        guest
            .get("/")
            .await
            .body
            .contains("Good to see you, New Bie")
    );
    let role: String = sqlx::query_scalar("select role from accounts where handle = 'newbie'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(role, "lead");

    let again = app.client().get(&link).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.body.contains("already used"));
}

#[tokio::test]
async fn expired_and_revoked_invites_do_not_work() {
    let app = TestApp::spawn().await;
    let admin_id = app.account("adm2", Role::Admin).await;
    let secret = token::random_token();
    sqlx::query(
        "insert into invites (token_hash, role, created_by, created_at, expires_at)
         values ($1, 'member', $2, now() - interval '2 days', now() - interval '1 day')",
    )
    .bind(token::hash_token(&secret))
    .bind(admin_id)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        app.client().get(&format!("/invite/{secret}")).await.status,
        StatusCode::FORBIDDEN
    );

    let admin = app.client();
    admin.login("adm2", PASSWORD).await;
    admin
        .post(
            "/admin/invites",
            &[("role", "member"), ("email", ""), ("note", "for zed")],
        )
        .await;
    let page = admin.get("/admin").await;
    let start = page.body.find("/invite/").unwrap();
    let link: String = page.body[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '<')
        .collect();
    let id = app
        .count("select id from invites where note = 'for zed'")
        .await;
    let r = admin
        .post(&format!("/admin/invites/{id}/revoke"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.client().get(&link).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn first_run_setup_creates_the_admin_once() {
    let app = TestApp::spawn().await;
    let secret = token::random_token();
    auth::replace_setup_token(&app.pool, &token::hash_token(&secret))
        .await
        .unwrap();
    let c = app.client();
    assert_eq!(
        c.get("/setup?token=wrong").await.status,
        StatusCode::FORBIDDEN
    );
    let path = format!("/setup?token={secret}");
    assert_eq!(c.get(&path).await.status, StatusCode::OK);
    let r = c
        .post(
            &path,
            &[
                ("handle", "first"),
                ("display_name", "First Admin"),
                ("email", ""),
                ("timezone", "Europe/Berlin"),
                ("new_password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let home = c.get("/").await;
    assert!(home.body.contains("You are the first admin"));
    assert!(home.body.contains(">Admin<"));
    assert_eq!(
        app.client().get(&path).await.status,
        StatusCode::FORBIDDEN,
        "one time only"
    );
}

#[tokio::test]
async fn the_profile_keeps_bad_input_and_saves_good_input() {
    let app = TestApp::spawn().await;
    let c = app.logged_in("pat", Role::Member).await;
    let bad = c
        .post(
            "/profile",
            &[
                ("display_name", "Pat Q"),
                ("email", "not-an-email"),
                ("timezone", "Asia/Shanghai"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("is not an email address"));
    assert!(bad.body.contains("value=\"Pat Q\"") && bad.body.contains("value=\"not-an-email\""));
    let ok = c
        .post(
            "/profile",
            &[
                ("display_name", "Pat Q"),
                ("email", "pat@q.example"),
                ("timezone", "Asia/Shanghai"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let page = c.get("/profile").await;
    assert!(page.body.contains("Profile saved.") && page.body.contains("value=\"Asia/Shanghai\""));
}

#[tokio::test]
async fn changing_the_password_logs_out_other_sessions_only() {
    let app = TestApp::spawn().await;
    let laptop = app.logged_in("quin", Role::Member).await;
    let phone = app.client();
    phone.login("quin", PASSWORD).await;
    let wrong = laptop
        .post(
            "/profile/password",
            &[
                ("current_password", "nope nope nope"),
                ("new_password", "a brand new secret"),
                ("confirm", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("not your current password"));
    let ok = laptop
        .post(
            "/profile/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new secret"),
                ("confirm", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(laptop.get("/").await.status, StatusCode::OK);
    assert_eq!(phone.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.client()
            .login("quin", "a brand new secret")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn markup_in_a_display_name_is_shown_as_text() {
    let app = TestApp::spawn().await;
    let c = app.logged_in("xss", Role::Member).await;
    let evil = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    c.post(
        "/profile",
        &[("display_name", evil), ("email", ""), ("timezone", "UTC")],
    )
    .await;
    let home = c.get("/").await.body;
    assert!(!home.contains("<script>alert(1)"));
    assert!(!home.contains("<img src=x"));
    assert!(home.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn the_members_list_filters_and_pages_with_the_filters_in_the_url() {
    let app = TestApp::spawn().await;
    let admin = app.logged_in("zz-admin", Role::Admin).await;
    // 120 leads and a few members, inserted directly (their password hash is never used).
    sqlx::query(
        "insert into accounts (handle, display_name, role, password_hash)
         select 'lead' || lpad(n::text, 3, '0'), 'Lead ' || n, 'lead', 'x'
         from generate_series(1, 120) n",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.account("mia", Role::Member).await;

    let leads = admin.get("/admin?q=&role=lead").await.body;
    assert!(leads.contains("lead001") && leads.contains("lead100"));
    assert!(!leads.contains("lead101") && !leads.contains("mia display"));
    let start = leads
        .find("/admin?q=&amp;role=lead&amp;after=lead100")
        .expect("next page keeps the filter");
    let href: String = leads[start..].chars().take_while(|c| *c != '"').collect();
    let page2 = admin.get(&href.replace("&amp;", "&")).await.body;
    assert!(page2.contains("lead101") && page2.contains("lead120"));
    assert!(!page2.contains("lead100<") && !page2.contains("More members"));

    let found = admin.get("/admin?q=MIA").await.body;
    assert!(found.contains("mia display") && !found.contains("lead001"));
    let none = admin.get("/admin?q=100%25_").await.body;
    assert!(
        none.contains("No members match"),
        "% and _ are matched literally"
    );
}

#[tokio::test]
async fn reading_pages_does_not_rewrite_the_session_each_time() {
    let app = TestApp::spawn().await;
    let c = app.logged_in("reader", Role::Member).await;
    for path in ["/", "/team", "/profile"] {
        let p = c.get(path).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(
            p.headers.get("set-cookie").is_none(),
            "{path} rewrote the session"
        );
    }
}
