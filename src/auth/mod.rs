//! Accounts, sessions, CSRF and roles: login/logout, first-run setup, invites, the profile.

pub mod cookies;
pub mod csrf;
pub mod keys;
pub mod model;
pub mod ops;
pub mod pages;
pub mod password;
pub mod policy;
pub mod session;
/// Private to `auth`, except for `admin`, which manages auth's accounts and invites.
pub(crate) mod store;
pub mod token;

use std::net::SocketAddr;

use axum::{
    Form, Router,
    extract::{ConnectInfo, FromRequestParts, Path, Query, State},
    http::{StatusCode, request::Parts},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tower_sessions::Session;

use self::{
    cookies::Cookies,
    model::CurrentUser,
    ops::{AccountForm, LoginOutcome, ProfileForm},
};
use crate::{
    audit::{self, Actor, Change},
    error::{AppError, AppResult},
    state::AppState,
    ui::{self, Flash, PageCtx, form::FormErrors},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/setup", get(setup_form).post(setup))
        .route("/invite/{token}", get(invite_form).post(accept_invite))
        .route("/profile", get(profile_form).post(update_profile))
        .route("/profile/password", post(change_password))
}

/// How many accounts exist (an empty database gets the first-run setup link).
pub async fn account_count(pool: &sqlx::PgPool) -> sqlx::Result<i64> {
    store::count_accounts(pool).await
}

/// Stores the hash of a new one-time setup link, replacing any older one.
pub async fn replace_setup_token(pool: &sqlx::PgPool, token_hash: &[u8]) -> sqlx::Result<()> {
    store::replace_setup_token(pool, token_hash).await
}

/// The id of the enabled account with `handle`.
pub async fn active_account_id(
    conn: &mut sqlx::PgConnection,
    handle: &str,
) -> sqlx::Result<Option<i64>> {
    store::active_id_by_handle(conn, handle).await
}

/// The id and display name of the enabled account with `handle`.
pub async fn active_account(
    conn: &mut sqlx::PgConnection,
    handle: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    store::active_by_handle(conn, handle).await
}

/// The oldest enabled admin (the default owner of things created from the shell).
pub async fn first_admin_id(conn: &mut sqlx::PgConnection) -> sqlx::Result<Option<i64>> {
    store::first_admin_id(conn).await
}

/// Forgets login-throttle rows whose window and delay are long over (the janitor calls it).
pub async fn prune_login_throttle(pool: &sqlx::PgPool) -> sqlx::Result<u64> {
    store::prune_login_throttle(pool).await
}

/// The client's IP: the socket peer, or with `FLOWDECK_TRUST_PROXY` the last `X-Forwarded-For` hop.
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.trust_proxy
            && let Some(ip) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        {
            return Ok(ClientIp(ip));
        }
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
        Ok(ClientIp(ip))
    }
}

/// Only a same-origin path is followed after login: one leading `/` not followed by `/` or `\`,
/// no `\` anywhere, no control characters or whitespace anywhere (browsers drop a tab or newline
/// and would read `/\t/evil.example` as `//evil.example`), at most 2 KiB. Anything else goes to `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n[1..].starts_with('/')
                && !n.contains('\\')
                && n.len() <= 2048
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn unprocessable(html: Html<String>) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, html).into_response()
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(ctx: PageCtx, Query(q): Query<NextQuery>) -> Response {
    if ctx.user.is_some() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    let next = safe_next(q.next.as_deref());
    ui::page(&ctx, "Log in", pages::login(&ctx, "", &next, None)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    handle: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    session: Session,
    cookies: Cookies,
    ClientIp(ip): ClientIp,
    ctx: PageCtx,
    Form(f): Form<LoginForm>,
) -> AppResult<Response> {
    let LoginForm {
        handle,
        password,
        next,
    } = f;
    let next = safe_next(next.as_deref());
    let refuse = |status: StatusCode, msg: &str| {
        let html = ui::page(
            &ctx,
            "Log in",
            pages::login(&ctx, &handle, &next, Some(msg.into())),
        );
        Ok((status, html).into_response())
    };
    let outcome =
        ops::attempt_login(&state, &handle, &password, &ip, cookies.known_device()).await?;
    match outcome {
        LoginOutcome::LoggedIn { id, epoch } => {
            session::log_in(&session, id, epoch).await?;
            // Stored here, not after the handler: if it fails the user is told they are not
            // logged in (a page, not tower-sessions' empty 500).
            session.save().await?;
            cookies.remember_device(id);
            tracing::info!(account.id = %id, "logged in");
            Ok(Redirect::to(&next).into_response())
        }
        LoginOutcome::Refused => {
            metrics::counter!("flowdeck_login_failures_total", "reason" => "refused").increment(1);
            refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Wrong handle or password. Check both and try again.",
            )
        }
        LoginOutcome::Throttled { wait_secs } => {
            let msg = format!(
                "Too many failed logins for this account or from your network. Try again in \
                 {}. A browser you have logged in with before is not held back.",
                wait_words(wait_secs)
            );
            let mut resp = refuse(StatusCode::TOO_MANY_REQUESTS, &msg)?;
            if let Ok(v) = axum::http::HeaderValue::from_str(&wait_secs.to_string()) {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
            Ok(resp)
        }
    }
}

/// "1 second", "45 seconds", "3 minutes".
fn wait_words(secs: i64) -> String {
    match secs {
        ..=1 => "1 second".into(),
        2..=90 => format!("{secs} seconds"),
        _ => format!("{} minutes", (secs + 59) / 60),
    }
}

async fn logout(session: Session) -> AppResult<Redirect> {
    session.flush().await?;
    Ok(Redirect::to("/login"))
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

const SETUP_GONE: &str = "This setup link is not valid: flowdeck is already set up, or the link \
    was replaced when flowdeck restarted (the newest link is printed at start). Log in instead.";

async fn setup_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<TokenQuery>,
) -> AppResult<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    if !store::setup_token_valid(&mut conn, &token::hash_token(&q.token), false).await? {
        return Err(AppError::Forbidden(SETUP_GONE.into()));
    }
    let f = AccountForm::default();
    Ok(ui::page(
        &ctx,
        "Set up",
        pages::setup(&ctx, &q.token, &f, &FormErrors::default()),
    ))
}

#[tracing::instrument(skip_all)]
async fn setup(
    State(state): State<AppState>,
    session: Session,
    cookies: Cookies,
    ctx: PageCtx,
    Query(q): Query<TokenQuery>,
    Form(f): Form<AccountForm>,
) -> AppResult<Response> {
    let show = |errs: FormErrors| {
        unprocessable(ui::page(
            &ctx,
            "Set up",
            pages::setup(&ctx, &q.token, &f, &errs),
        ))
    };
    let valid = match ops::validate_account(&f) {
        Ok(v) => v,
        Err(errs) => return Ok(show(errs)),
    };
    let mut tx = state.pool.begin().await?;
    if !store::setup_token_valid(&mut tx, &token::hash_token(&q.token), true).await? {
        return Err(AppError::Forbidden(SETUP_GONE.into()));
    }
    let actor = Actor::system("setup");
    let id = match ops::create_account(&mut tx, &actor, valid, model::Role::Admin).await {
        Ok(id) => id,
        Err(errs) => return Ok(show(errs)),
    };
    store::delete_setup_token(&mut tx).await?;
    tx.commit().await?;
    session::log_in(&session, id, 0).await?;
    cookies.flash(Flash::ok(
        "Welcome! You are the first admin. Invite your team from Admin.",
    ));
    Ok(Redirect::to("/").into_response())
}

const INVITE_GONE: &str = "This invite link cannot be used: it has expired, was revoked, or was \
    already used. Ask an admin for a new one.";

async fn invite_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(token): Path<String>,
) -> AppResult<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let invite = store::find_valid_invite(&mut conn, &token::hash_token(&token), false)
        .await?
        .ok_or_else(|| AppError::Forbidden(INVITE_GONE.into()))?;
    let f = AccountForm {
        email: invite.email.clone().unwrap_or_default(),
        ..Default::default()
    };
    Ok(ui::page(
        &ctx,
        "Join",
        pages::invite(
            &ctx,
            &token,
            invite.role.as_str(),
            &f,
            &FormErrors::default(),
        ),
    ))
}

#[tracing::instrument(skip_all)]
async fn accept_invite(
    State(state): State<AppState>,
    session: Session,
    cookies: Cookies,
    ctx: PageCtx,
    Path(token): Path<String>,
    Form(f): Form<AccountForm>,
) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    let invite = store::find_valid_invite(&mut tx, &token::hash_token(&token), true)
        .await?
        .ok_or_else(|| AppError::Forbidden(INVITE_GONE.into()))?;
    let show = |errs: FormErrors| {
        unprocessable(ui::page(
            &ctx,
            "Join",
            pages::invite(&ctx, &token, invite.role.as_str(), &f, &errs),
        ))
    };
    let valid = match ops::validate_account(&f) {
        Ok(v) => v,
        Err(errs) => return Ok(show(errs)),
    };
    let actor = Actor::system(&format!("invite:{}", invite.id));
    let id = match ops::create_account(&mut tx, &actor, valid, invite.role).await {
        Ok(id) => id,
        Err(errs) => return Ok(show(errs)),
    };
    store::accept_invite(&mut tx, invite.id, id).await?;
    audit::record(
        &mut tx,
        &Actor::account(id, &f.handle.trim().to_lowercase(), None),
        Change {
            action: "invite.accepted",
            target_type: "invite",
            target_id: invite.id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "account_id": id.0 })),
        },
    )
    .await?;
    tx.commit().await?;
    session::log_in(&session, id, 0).await?;
    cookies.flash(Flash::ok("Welcome to flowdeck!"));
    Ok(Redirect::to("/").into_response())
}

async fn profile_page_for(
    state: &AppState,
    ctx: &PageCtx,
    user: &CurrentUser,
    form: Option<&ProfileForm>,
    errs: &FormErrors,
    pw_errs: &FormErrors,
) -> AppResult<Html<String>> {
    let current;
    let f = match form {
        Some(f) => f,
        None => {
            let mut conn = state.pool.acquire().await?;
            let row = store::lock_account(&mut conn, user.id.0)
                .await?
                .ok_or(AppError::NotFound)?;
            current = ProfileForm {
                display_name: row.display_name,
                email: row.email.unwrap_or_default(),
                timezone: row.timezone,
            };
            &current
        }
    };
    Ok(ui::page(
        ctx,
        "Profile",
        pages::profile(ctx, &user.handle, user.role.as_str(), f, errs, pw_errs),
    ))
}

async fn profile_form(
    State(state): State<AppState>,
    user: CurrentUser,
    ctx: PageCtx,
) -> AppResult<Html<String>> {
    profile_page_for(
        &state,
        &ctx,
        &user,
        None,
        &FormErrors::default(),
        &FormErrors::default(),
    )
    .await
}

async fn update_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<ProfileForm>,
) -> AppResult<Response> {
    policy::require(Some(&user), policy::Action::EditProfile { owner: user.id })?;
    let result = ops::update_profile(&state, &actor, user.id, &f)
        .await?
        .map(|()| ("Profile saved.".to_string(), "/profile".to_string()));
    let none = FormErrors::default();
    cookies
        .form_outcome(result, |errs| async move {
            profile_page_for(&state, &ctx, &user, Some(&f), &errs, &none).await
        })
        .await
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    actor: Actor,
    session: Session,
    cookies: Cookies,
    ctx: PageCtx,
    Form(f): Form<PasswordForm>,
) -> AppResult<Response> {
    let PasswordForm {
        current_password,
        new_password,
        confirm,
    } = f;
    match ops::change_password(
        &state,
        &actor,
        user.id,
        &user.handle,
        &current_password,
        &new_password,
        &confirm,
    )
    .await?
    {
        Ok(epoch) => {
            session::refresh_epoch(&session, user.id, epoch).await?;
            cookies.flash(Flash::ok(
                "Password changed. Other sessions were logged out.",
            ));
            Ok(Redirect::to("/profile").into_response())
        }
        Err(errs) => Ok(unprocessable(
            profile_page_for(&state, &ctx, &user, None, &FormErrors::default(), &errs).await?,
        )),
    }
}
