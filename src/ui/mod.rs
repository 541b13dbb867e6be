//! The page shell (layout, nav, flash), shared components (form fields, empty states, pager),
//! and rendering a Leptos view to an HTML response.

pub mod assets;
pub mod context;
pub mod form;
pub mod time;

use axum::{http::StatusCode, response::Html};
use leptos::prelude::*;

pub use context::{Flash, PageCtx};

use crate::auth::model::Role;

/// Renders a full page: the shell around `body`.
pub fn page(ctx: &PageCtx, title: &str, body: impl IntoView + 'static) -> Html<String> {
    let title = format!("{title} · flowdeck");
    let nav = ctx.user.as_ref().map(|u| {
        let entries: Vec<(&'static str, &'static str, bool)> = NAV
            .iter()
            .filter(|(_, _, admin_only)| !admin_only || u.role == Role::Admin)
            .map(|(href, label, _)| (*href, *label, is_current(&ctx.path, href)))
            .collect();
        let links = |entries: &[(&'static str, &'static str, bool)]| {
            entries
                .iter()
                .map(|(href, label, current)| {
                    let current = current.then_some("page");
                    view! { <li><a href=*href aria-current=current>{*label}</a></li> }
                })
                .collect::<Vec<_>>()
        };
        let here = entries.iter().find(|e| e.2).map_or("Menu", |e| e.1);
        let me = |class: &'static str| {
            let csrf = ctx.csrf.clone();
            let name = u.display_name.clone();
            let unread = u.unread;
            let inbox_label = match unread {
                0 => "Inbox, nothing unread".to_string(),
                n => format!("Inbox, {n} unread"),
            };
            let count = (unread > 0)
                .then(|| view! { <span class="count">{unread.min(99).to_string()}</span> });
            view! {
                <div class=class>
                    <a href="/inbox" class="inbox-link" aria-label=inbox_label>"Inbox"{count}</a>
                    <a href="/profile" title="Your profile">{name}</a>
                    <form method="post" action="/logout" class="inline">
                        <input type="hidden" name="csrf" value=csrf/>
                        <button type="submit" class="linkish">"Log out"</button>
                    </form>
                </div>
            }
        };
        // Wide screens show the links in a row; narrow ones one row with a menu (a `<details>`,
        // so it opens without script). CSS shows one or the other.
        view! {
            <nav class="topnav" aria-label="Main">
                <a class="brand" href="/">"flowdeck"</a>
                <ul class="navlinks wide">{links(&entries)}</ul>
                {me("me wide")}
                <details class="navmenu narrow">
                    <summary>{here}<span aria-hidden="true">" ☰"</span></summary>
                    <ul class="navlinks">{links(&entries)}</ul>
                    {me("me")}
                </details>
            </nav>
        }
    });
    let flash = ctx.flash.clone().map(|f| {
        let class = format!("flash flash-{}", f.kind);
        view! { <div class=class role="status">{f.text}</div> }
    });
    let doc = view! {
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>{title}</title>
                <link rel="stylesheet" href=assets::stylesheet_href()/>
                <link rel="icon" href=assets::favicon_href() type="image/svg+xml"/>
            </head>
            <body>
                <a class="skip" href="#main">"Skip to content"</a>
                <header>{match nav {
                    Some(nav) => nav.into_any(),
                    None => view! { <nav class="topnav" aria-label="Main"><a class="brand" href="/">"flowdeck"</a></nav> }.into_any(),
                }}</header>
                <main id="main">{flash}{body}</main>
                <footer><small>"flowdeck — design docs, availability, releases and deployments in one place. "<a href="/api">"API"</a></small></footer>
            </body>
        </html>
    };
    Html(format!("<!DOCTYPE html>{}", doc.to_html()))
}

/// What an error page says; attached to error responses so the session layer can render the page
/// again inside the signed-in user's navigation (`auth::session::load_user`).
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
}

impl ErrorPage {
    /// The page in `ctx`'s shell (with navigation when someone is signed in).
    pub fn render(&self, ctx: &PageCtx) -> Html<String> {
        error_page_in(ctx, self.status, &self.title, &self.message)
    }
}

/// A page for an error, rendered without the caller's context (no nav). Responses built with
/// `error_response` are re-rendered with the navigation for a signed-in user.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Html<String> {
    error_page_in(&PageCtx::anonymous(), status, title, message)
}

/// An error response: status, page, and the `ErrorPage` extension.
pub fn error_response(status: StatusCode, title: &str, message: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut resp = (status, error_page(status, title, message)).into_response();
    resp.extensions_mut().insert(ErrorPage {
        status,
        title: title.to_string(),
        message: message.to_string(),
    });
    resp
}

fn error_page_in(ctx: &PageCtx, status: StatusCode, title: &str, message: &str) -> Html<String> {
    let code = status.as_u16().to_string();
    let body = view! {
        <section class="card narrow">
            <h1>{title.to_string()}</h1>
            <p>{message.to_string()}</p>
            <p class="muted">"Status " {code}</p>
            <p><a href="/">"Go to the home page"</a></p>
        </section>
    };
    page(ctx, title, body)
}

/// A page with a message that is not an error (for example, a change saved against the odds).
pub fn notice_page(title: &str, message: &str) -> Html<String> {
    let ctx = PageCtx::anonymous();
    let body = view! {
        <section class="card narrow">
            <h1>{title.to_string()}</h1>
            <p>{message.to_string()}</p>
            <p><a href="/">"Go to the home page"</a></p>
        </section>
    };
    page(&ctx, title, body)
}

const NAV: [(&str, &str, bool); 9] = [
    ("/", "Home", false),
    ("/docs", "Docs", false),
    ("/team", "Team", false),
    ("/updates", "Updates", false),
    ("/releases", "Releases", false),
    ("/deployments", "Deployments", false),
    ("/incidents", "Incidents", false),
    ("/insight", "Insight", false),
    ("/admin", "Admin", true),
];

fn is_current(path: &str, href: &str) -> bool {
    if href == "/" {
        path == "/"
    } else {
        path == href || path.starts_with(&format!("{href}/"))
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(ctx: &PageCtx) -> impl IntoView + use<> {
    let token = ctx.csrf.clone();
    view! { <input type="hidden" name="csrf" value=token/> }
}

/// A labelled text input that shows its current value and, if any, its error (id `f-<name>`).
pub fn field(
    label: &'static str,
    name: &'static str,
    kind: &'static str,
    value: &str,
    error: Option<&String>,
    hint: Option<&'static str>,
) -> impl IntoView + use<> {
    field_in("f", label, name, kind, value, error, hint)
}

/// `field` with its id prefixed by `form` (`<form>-<name>`), for pages with several forms that
/// share field names.
pub fn field_in(
    form: &'static str,
    label: &'static str,
    name: &'static str,
    kind: &'static str,
    value: &str,
    error: Option<&String>,
    hint: Option<&'static str>,
) -> impl IntoView + use<> {
    let id = format!("{form}-{name}");
    let err_id = format!("{id}-err");
    let described = error.map(|_| err_id.clone());
    let invalid = error.map(|_| "true");
    let value = if kind == "password" {
        String::new()
    } else {
        value.to_string()
    };
    let err = error
        .cloned()
        .map(|e| view! { <p class="field-error" id=err_id>{e}</p> });
    let hint = hint.map(|h| view! { <p class="hint">{h}</p> });
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input id=id name=name type=kind value=value aria-invalid=invalid aria-describedby=described
                autocomplete=autocomplete(name)/>
            {hint}
            {err}
        </div>
    }
}

/// A `<textarea>` holding `value` as text. Leptos writes a textarea's children unescaped, so the
/// value is escaped here (every textarea goes through this): `</textarea>` stays text, and `&lt;`
/// survives edit → save → edit unchanged. A leading line break is doubled because HTML drops the
/// first one.
pub fn textarea(
    id: String,
    name: String,
    rows: &'static str,
    value: &str,
) -> impl IntoView + use<> {
    textarea_hint(id, name, rows, value, "")
}

/// `textarea` with a placeholder: the prompt shown while it is empty (never sent as its value).
pub fn textarea_hint(
    id: String,
    name: String,
    rows: &'static str,
    value: &str,
    placeholder: &'static str,
) -> impl IntoView + use<> {
    let placeholder = (!placeholder.is_empty()).then_some(placeholder);
    let mut text = String::with_capacity(value.len() + 16);
    if value.starts_with('\n') || value.starts_with("\r\n") {
        text.push('\n');
    }
    text.push_str(&escape_text(value));
    view! { <textarea id=id name=name rows=rows placeholder=placeholder inner_html=text></textarea> }
}

/// `s` with `&`, `<`, `>`, `"` and `'` written as character references.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn autocomplete(name: &str) -> &'static str {
    match name {
        "handle" => "username",
        "password" | "current_password" => "current-password",
        "new_password" | "confirm" => "new-password",
        "email" => "email",
        "display_name" => "name",
        _ => "off",
    }
}

/// A labelled `<select>` of every IANA time zone name (`f-timezone`), `selected` chosen; a
/// refused value that is not a zone stays selected so the form keeps what was sent.
pub fn timezone_field(
    selected: &str,
    error: Option<&String>,
    hint: &'static str,
) -> impl IntoView + use<> {
    let selected = if selected.is_empty() { "UTC" } else { selected };
    let known = selected.parse::<chrono_tz::Tz>().is_ok();
    let unknown = (!known).then(|| {
        view! { <option value=selected.to_string() selected=true>{selected.to_string()}</option> }
    });
    let options = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| {
            let name = tz.name();
            let sel = name == selected;
            view! { <option value=name selected=sel>{name}</option> }
        })
        .collect::<Vec<_>>();
    let err = error
        .cloned()
        .map(|e| view! { <p class="field-error" id="f-timezone-err">{e}</p> });
    let invalid = error.map(|_| "true");
    let described = error.map(|_| "f-timezone-err");
    view! {
        <div class="field">
            <label for="f-timezone">"Time zone"</label>
            <select id="f-timezone" name="timezone" aria-invalid=invalid aria-describedby=described>{unknown}{options}</select>
            <p class="hint">{hint}</p>
            {err}
        </div>
    }
}

/// A `<select>` of the three roles with `selected` chosen.
pub fn role_select(name: &'static str, id: String, selected: Role) -> impl IntoView + use<> {
    let options = Role::ALL
        .iter()
        .map(|r| {
            let sel = *r == selected;
            view! { <option value=r.as_str() selected=sel>{r.as_str()}</option> }
        })
        .collect::<Vec<_>>();
    view! { <select id=id name=name>{options}</select> }
}

/// An honest empty state: what will be here and why it is empty now.
pub fn empty_state(title: &'static str, text: &'static str) -> impl IntoView + use<> {
    view! {
        <div class="empty">
            <p class="empty-title">{title}</p>
            <p>{text}</p>
        </div>
    }
}

pub use time::{day, when, when_text};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_textarea_keeps_markup_and_entities_as_text() {
        let html = textarea(
            "f".into(),
            "body".into(),
            "3",
            "</textarea><img src=x onerror=alert(1)> &lt; &amp;",
        )
        .to_html();
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;/textarea&gt;&lt;img src=x onerror=alert(1)&gt; &amp;lt; &amp;amp;"),
            "{html}"
        );
        assert_eq!(html.matches("</textarea>").count(), 1);
    }

    #[test]
    fn a_textarea_keeps_a_leading_line_break() {
        let html = textarea("f".into(), "b".into(), "2", "\nfirst").to_html();
        assert!(html.contains(">\n\nfirst</textarea>"), "{html}");
    }
}
