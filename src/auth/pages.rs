//! Views of the account pages: login, first-run setup, accepting an invite, the profile.

use leptos::prelude::*;

use super::ops::{AccountForm, ProfileForm};
use crate::ui::{self, PageCtx, form::FormErrors};

fn form_error(errs: &FormErrors) -> Option<impl IntoView + use<>> {
    let general = errs.general.clone();
    let count = errs.fields.len();
    if general.is_none() && count == 0 {
        return None;
    }
    let text = general.unwrap_or_else(|| {
        if count == 1 {
            "One field needs attention.".to_string()
        } else {
            format!("{count} fields need attention.")
        }
    });
    Some(view! { <div class="form-error" role="alert">{text}</div> })
}

pub fn login(
    ctx: &PageCtx,
    handle: &str,
    next: &str,
    error: Option<String>,
) -> impl IntoView + use<> {
    let err = error.map(|e| view! { <div class="form-error" role="alert">{e}</div> });
    let next = next.to_string();
    view! {
        <section class="card narrow">
            <h1>"Log in"</h1>
            {err}
            <form method="post" action="/login">
                {ui::csrf_field(ctx)}
                <input type="hidden" name="next" value=next/>
                {ui::field("Handle or email", "handle", "text", handle, None, None)}
                {ui::field("Password", "password", "password", "", None, None)}
                <button type="submit">"Log in"</button>
            </form>
            <p class="muted">"No account? Ask an admin of your team for an invite link."</p>
        </section>
    }
}

/// The fields of a new account (setup and invite).
fn account_fields(f: &AccountForm, errs: &FormErrors) -> impl IntoView + use<> {
    view! {
        {ui::field("Handle", "handle", "text", &f.handle, errs.get("handle"),
            Some("How teammates mention you: 2–32 letters, digits, “-” or “_”."))}
        {ui::field("Display name", "display_name", "text", &f.display_name, errs.get("display_name"), None)}
        {ui::field("Email (optional)", "email", "email", &f.email, errs.get("email"), None)}
        {ui::timezone_field(&f.timezone, errs.get("timezone"), "Times are shown in this zone.")}
        {ui::field("Password", "new_password", "password", "", errs.get("new_password"),
            Some("At least 10 characters."))}
        {ui::field("Repeat the password", "confirm", "password", "", None, None)}
    }
}

pub fn setup(
    ctx: &PageCtx,
    token: &str,
    f: &AccountForm,
    errs: &FormErrors,
) -> impl IntoView + use<> {
    let action = format!("/setup?token={token}");
    view! {
        <section class="card narrow">
            <h1>"Set up flowdeck"</h1>
            <p>"Create the first account. It will be an admin, who can then invite the team."</p>
            {form_error(errs)}
            <form method="post" action=action>
                {ui::csrf_field(ctx)}
                {account_fields(f, errs)}
                <button type="submit">"Create the admin account"</button>
            </form>
        </section>
    }
}

pub fn invite(
    ctx: &PageCtx,
    token: &str,
    role: &str,
    f: &AccountForm,
    errs: &FormErrors,
) -> impl IntoView + use<> {
    let action = format!("/invite/{token}");
    let role = role.to_string();
    view! {
        <section class="card narrow">
            <h1>"Join your team on flowdeck"</h1>
            <p>"You were invited as " <strong>{role}</strong> ". Choose your handle and password."</p>
            {form_error(errs)}
            <form method="post" action=action>
                {ui::csrf_field(ctx)}
                {account_fields(f, errs)}
                <button type="submit">"Create my account"</button>
            </form>
        </section>
    }
}

pub fn profile(
    ctx: &PageCtx,
    handle: &str,
    role: &str,
    f: &ProfileForm,
    errs: &FormErrors,
    pw_errs: &FormErrors,
) -> impl IntoView + use<> {
    let handle = handle.to_string();
    let role = role.to_string();
    view! {
        <h1>"Your profile"</h1>
        <p><a href="/profile/notifications">"Notifications →"</a>" · "<a href="/profile/tokens">"API tokens →"</a>" · "<a href="/api">"API reference →"</a></p>
        <div class="grid">
            <section class="card">
                <h2>"Details"</h2>
                <p class="muted">"Handle " <code>{handle}</code> " · role " {role}</p>
                {form_error(errs)}
                <form method="post" action="/profile">
                    {ui::csrf_field(ctx)}
                    {ui::field("Display name", "display_name", "text", &f.display_name, errs.get("display_name"), None)}
                    {ui::field("Email (optional)", "email", "email", &f.email, errs.get("email"), None)}
                    {ui::timezone_field(&f.timezone, errs.get("timezone"), "Times are shown in this zone.")}
                    <button type="submit">"Save"</button>
                </form>
            </section>
            <section class="card">
                <h2>"Password"</h2>
                <p class="muted">"Changing it logs you out everywhere else."</p>
                {form_error(pw_errs)}
                <form method="post" action="/profile/password">
                    {ui::csrf_field(ctx)}
                    {ui::field("Current password", "current_password", "password", "", pw_errs.get("current_password"), None)}
                    {ui::field("New password", "new_password", "password", "", pw_errs.get("new_password"),
                        Some("At least 10 characters."))}
                    {ui::field("Repeat the new password", "confirm", "password", "", None, None)}
                    <button type="submit">"Change password"</button>
                </form>
            </section>
        </div>
    }
}
