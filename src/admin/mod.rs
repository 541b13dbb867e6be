//! The admin area: members (roles, disable/enable), invite links, the audit log.

pub mod ops;
pub mod pages;

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    response::{Html, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;

use crate::{
    audit::{self, Actor},
    auth::cookies::Cookies,
    auth::{
        model::CurrentUser,
        model::{AccountId, Role},
        policy::{Action, require},
        store,
    },
    error::AppResult,
    state::AppState,
    ui::{self, PageCtx, form::FormErrors},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(overview))
        .route("/admin/members/{id}/role", post(change_role))
        .route("/admin/members/{id}/disable", post(disable))
        .route("/admin/members/{id}/enable", post(enable))
        .route("/admin/invites", post(create_invite))
        .route("/admin/invites/{id}/revoke", post(revoke_invite))
        .route("/admin/audit", get(audit::pages::list))
}

pub const MEMBERS_PAGE: i64 = 100;

/// The members list's URL query: `?q=text&role=lead&after=handle`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MembersQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub role: String,
    pub after: Option<String>,
}

impl MembersQuery {
    fn filter(&self) -> store::AccountFilter {
        let text = self.q.trim();
        store::AccountFilter {
            text: (!text.is_empty()).then(|| text.to_string()),
            role: Role::parse(&self.role).ok(),
        }
    }

    /// The link to the page after `handle`, keeping the filters.
    pub fn next_href(&self, handle: &str) -> String {
        let q = serde_urlencoded::to_string([
            ("q", self.q.as_str()),
            ("role", self.role.as_str()),
            ("after", handle),
        ])
        .unwrap_or_default();
        format!("/admin?{q}#members")
    }
}

async fn overview(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<MembersQuery>,
) -> AppResult<Html<String>> {
    render(
        &state,
        &ctx,
        &q,
        &ops::InviteForm::default(),
        &FormErrors::default(),
    )
    .await
}

async fn render(
    state: &AppState,
    ctx: &PageCtx,
    q: &MembersQuery,
    invite: &ops::InviteForm,
    errs: &FormErrors,
) -> AppResult<Html<String>> {
    require(ctx.user.as_ref(), Action::ViewAdmin)?;
    let mut members = store::list_accounts(
        &state.pool,
        &q.filter(),
        q.after.as_deref(),
        MEMBERS_PAGE + 1,
    )
    .await?;
    let next = (members.len() as i64 > MEMBERS_PAGE)
        .then(|| {
            members
                .get(MEMBERS_PAGE as usize - 1)
                .map(|m| q.next_href(&m.handle))
        })
        .flatten();
    members.truncate(MEMBERS_PAGE as usize);
    let invites = store::list_invites(&state.pool, 20).await?;
    Ok(ui::page(
        ctx,
        "Admin",
        pages::overview(ctx, q, &members, next, &invites, invite, errs),
    ))
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
    Form(f): Form<RoleForm>,
) -> AppResult<Redirect> {
    require(
        Some(&user),
        Action::ManageAccount {
            target: AccountId(id),
        },
    )?;
    let msg = ops::change_role(&state, &actor, id, &f.role).await?;
    Ok(cookies.done(msg, "/admin"))
}

async fn disable(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    set_disabled(state, user, actor, cookies, id, true).await
}

async fn enable(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    set_disabled(state, user, actor, cookies, id, false).await
}

async fn set_disabled(
    state: AppState,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    id: i64,
    disabled: bool,
) -> AppResult<Redirect> {
    require(
        Some(&user),
        Action::ManageAccount {
            target: AccountId(id),
        },
    )?;
    let msg = ops::set_disabled(&state, &actor, id, disabled).await?;
    Ok(cookies.done(msg, "/admin"))
}

async fn create_invite(
    State(state): State<AppState>,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<ops::InviteForm>,
) -> AppResult<Response> {
    require(ctx.user.as_ref(), Action::ManageInvites)?;
    let result = ops::create_invite(&state, &actor, &f).await?.map(|link| {
        let msg =
            format!("Invite created. Send this link to the person (it is shown only now): {link}");
        (msg, "/admin".to_string())
    });
    cookies
        .form_outcome(result, |errs| async move {
            render(&state, &ctx, &MembersQuery::default(), &f, &errs).await
        })
        .await
}

async fn revoke_invite(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    require(Some(&user), Action::ManageInvites)?;
    let msg = ops::revoke_invite(&state, &actor, id).await?;
    Ok(cookies.done(msg, "/admin"))
}
