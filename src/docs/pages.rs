//! Views of design docs: the list with search, a doc (rendered sections, alternatives side by
//! side, reviewers, decision, threads, history), the editor, the stale-save conflict, diffs,
//! import, and my review queue.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::{
    model::{self, Content, Status},
    store::{CommentRow, DocRow, ListRow, QueueRow, ReviewerRow, RevisionRow},
};
use crate::ui::{self, PageCtx, form::FormErrors};

/// A doc's state as a badge (every page that shows a doc's state uses this).
pub fn status_badge(s: Status) -> impl IntoView + use<> {
    let class = format!("badge doc-{}", s.as_str());
    view! { <span class=class>{s.label()}</span> }
}

fn md(text: &str) -> impl IntoView + use<> {
    let html = model::render_markdown(text);
    view! { <div class="prose" inner_html=html></div> }
}

/// Markdown where bare URLs are links (references).
fn md_links(text: &str) -> impl IntoView + use<> {
    md(&model::autolink(text))
}

pub struct ListView<'a> {
    pub rows: &'a [ListRow],
    pub q: &'a super::ListQuery,
    pub next: Option<String>,
}

pub fn list(ctx: &PageCtx, v: ListView<'_>) -> impl IntoView + use<> {
    let q = v.q.clone();
    // (value, label) pairs; the empty value means "any".
    let opts = |values: Vec<(&'static str, &'static str)>, selected: &str, any: &'static str| {
        std::iter::once(("", any))
            .chain(values)
            .map(|(o, label)| {
                let sel = o == selected;
                view! { <option value=o selected=sel>{label}</option> }
            })
            .collect::<Vec<_>>()
    };
    let statuses = opts(
        Status::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        &q.status,
        "any state",
    );
    let kinds = opts(
        model::Kind::ALL
            .iter()
            .map(|k| (k.as_str(), k.as_str()))
            .collect(),
        &q.kind,
        "any kind",
    );
    let rows = v
        .rows
        .iter()
        .map(|r| {
            let href = format!("/docs/{}", r.number);
            let tags = r.tags.join(", ");
            view! {
                <tr>
                    <td><a href=href.clone()>{format!("DD-{}", r.number)}</a></td>
                    <td><a href=href>{r.title.clone()}</a><br/><small class="muted">{tags}</small></td>
                    <td>{r.kind.label()}</td>
                    <td>{status_badge(r.status)}</td>
                    <td>{r.owner.clone()}</td>
                    <td>{r.target_line.clone()}</td>
                    <td class="nowrap">{ui::when(ctx, r.updated_at)}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let empty = rows.is_empty();
    let searched = [
        &q.q,
        &q.status,
        &q.kind,
        &q.owner,
        &q.reviewer,
        &q.tag,
        &q.line,
    ]
    .iter()
    .any(|f| !f.trim().is_empty());
    let pager = v.next.map(|href| view! { <nav class="pager" aria-label="Pages"><a href="/docs">"Newest"</a><a href=href>"More →"</a></nav> });
    view! {
        <h1>"Design docs"</h1>
        <p><a href="/docs/new">"Write a doc →"</a>" · "<a href="/reviews">"My review queue →"</a>" · "<a href="/docs/import">"Import a Markdown file →"</a></p>
        <form method="get" action="/docs" class="filters" role="search">
            <label for="s-q" class="sr-only">"Search"</label>
            <input id="s-q" name="q" type="search" value=q.q.clone() placeholder="search title, text, comments"/>
            <label for="s-status" class="sr-only">"State"</label><select id="s-status" name="status">{statuses}</select>
            <label for="s-kind" class="sr-only">"Kind"</label><select id="s-kind" name="kind">{kinds}</select>
            <label for="s-owner" class="sr-only">"Owner"</label><input id="s-owner" name="owner" value=q.owner.clone() placeholder="owner"/>
            <label for="s-reviewer" class="sr-only">"Reviewer"</label><input id="s-reviewer" name="reviewer" value=q.reviewer.clone() placeholder="reviewer"/>
            <label for="s-tag" class="sr-only">"Tag"</label><input id="s-tag" name="tag" value=q.tag.clone() placeholder="tag"/>
            <label for="s-line" class="sr-only">"Release line"</label><input id="s-line" name="line" value=q.line.clone() placeholder="release line"/>
            <button type="submit" class="secondary">"Search"</button>
        </form>
        {if empty && searched {
            view! { <div class="empty"><p class="empty-title">"No doc matches"</p><p>"Change the search, or "<a href="/docs">"show every doc"</a>"."</p></div> }.into_any()
        } else if empty {
            ui::empty_state("No design docs yet", "Write the first one: share the idea before you build it.").into_any()
        } else {
            view! { <div class="table-wrap"><table class="cards">
                <thead><tr><th>"#"</th><th>"Title"</th><th>"Kind"</th><th>"State"</th><th>"Owner"</th><th>"Line"</th><th>"Updated"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div> }.into_any()
        }}
        {pager}
    }
}

/// The editor: every section of the template, the alternatives with one blank slot to add.
pub fn editor(
    ctx: &PageCtx,
    action: String,
    c: &Content,
    version: Option<i32>,
    errs: &FormErrors,
) -> impl IntoView + use<> {
    let kinds = model::Kind::ALL
        .iter()
        .map(|k| {
            let sel = k.as_str() == c.kind;
            view! { <option value=k.as_str() selected=sel>{k.as_str()}</option> }
        })
        .collect::<Vec<_>>();
    let mut alts = c.alternatives.clone();
    while alts.len() < 2 || alts.last().is_some_and(|a| !a.is_blank()) {
        alts.push(model::Alternative::default());
    }
    let alt_views = alts
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let f = |name: &str| format!("alt_{name}_{i}");
            let area = |label: &'static str, name: String, value: String, prompt: &'static str| {
                let id = format!("f-{name}");
                view! { <div class="field"><label for=id.clone()>{label}</label>{ui::textarea_hint(id, name, "2", &value, prompt)}</div> }
            };
            let legend = format!("Alternative {}", i + 1);
            let title_id = format!("f-{}", f("title"));
            view! {
                <fieldset class="field alternative">
                    <legend>{legend}</legend>
                    <div class="field"><label for=title_id.clone()>"Title"</label><input id=title_id name=f("title") value=a.title/></div>
                    {area("Description", f("description"), a.description, model::prompts::DESCRIPTION)}
                    {area("Pros", f("pros"), a.pros, model::prompts::PROS)}
                    {area("Cons", f("cons"), a.cons, model::prompts::CONS)}
                    {area("References", f("references"), a.references, model::prompts::REFERENCES)}
                    {area("Data", f("data"), a.data, model::prompts::DATA)}
                </fieldset>
            }
        })
        .collect::<Vec<_>>();
    let mut extra = c.extra.clone();
    extra.push(model::ExtraSection::default());
    let extra_views = extra
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let tid = format!("f-extra_title_{i}");
            let bid = format!("f-extra_body_{i}");
            view! {
                <fieldset class="field">
                    <legend>"Extra section (impact, rollout, open questions…)"</legend>
                    <div class="field"><label for=tid.clone()>"Heading"</label><input id=tid name=format!("extra_title_{i}") value=e.title/></div>
                    <div class="field"><label for=bid.clone()>"Text"</label>{ui::textarea(bid, format!("extra_body_{i}"), "3", &e.body)}</div>
                </fieldset>
            }
        })
        .collect::<Vec<_>>();
    let area = |label: &'static str,
                name: &'static str,
                value: &str,
                rows: &'static str,
                prompt: &'static str| {
        let id = format!("f-{name}");
        view! { <div class="field"><label for=id.clone()>{label}</label>{ui::textarea_hint(id, name.to_string(), rows, value, prompt)}</div> }
    };
    let version =
        version.map(|v| view! { <input type="hidden" name="version" value=v.to_string()/> });
    let general = (!errs.is_empty()).then(|| {
        let text = errs
            .general
            .clone()
            .unwrap_or_else(|| "Please correct the marked fields.".into());
        view! { <div class="form-error" role="alert">{text}</div> }
    });
    let kind_err = errs
        .get("kind")
        .cloned()
        .map(|e| view! { <p class="field-error">{e}</p> });
    view! {
        {general}
        <form method="post" action=action class="doc-form">
            {ui::csrf_field(ctx)}
            {version}
            {ui::field("Title", "title", "text", &c.title, errs.get("title"), None)}
            <div class="field"><label for="f-kind">"Kind"</label><select id="f-kind" name="kind">{kinds}</select>{kind_err}</div>
            {ui::field("Tags", "tags", "text", &c.tags.join(", "), errs.get("tags"), Some("comma-separated, e.g. db, locking"))}
            {ui::field("Target release line (optional)", "target_line", "text", &c.target_line, errs.get("target_line"), Some("e.g. release-v3.9"))}
            {area("Background", "background", &c.background, "5", model::prompts::BACKGROUND)}
            {area("Objectives (goals / non-goals)", "objectives", &c.objectives, "5", model::prompts::OBJECTIVES)}
            <h2>"Alternatives"</h2>
            <p class="hint">"Each with pros and cons, and the references and data they rest on. Save to get another empty slot."</p>
            {alt_views}
            {area("Conclusion (proposed)", "conclusion", &c.conclusion, "4", model::prompts::CONCLUSION)}
            {extra_views}
            <button type="submit">"Save"</button>
        </form>
    }
}

pub fn conflict(
    ctx: &PageCtx,
    number: i32,
    theirs: &DocRow,
    mine: &Content,
) -> impl IntoView + use<> {
    let their = theirs.content();
    let text = super::madr::export(&their, number, Status::Draft, None, "", &theirs.owner);
    let action = format!("/docs/{number}");
    view! {
        <h1>{format!("DD-{number}: someone saved first")}</h1>
        <div class="form-error" role="alert">"This doc changed since you opened it, so your save was not applied. Their version is on the left; your text is kept in the form — merge what you need and save again."</div>
        <div class="grid">
            <section class="card"><h2>"Their version (saved)"</h2><pre class="doc-text">{text}</pre></section>
            <section class="card"><h2>"Your version (not saved)"</h2>{editor(ctx, action, mine, Some(theirs.version), &FormErrors::default())}</section>
        </div>
    }
}

/// A member the owner may ask to review, with their availability now.
pub struct Candidate {
    pub handle: String,
    pub name: String,
    pub availability: &'static str,
}

pub struct DocView<'a> {
    pub doc: &'a DocRow,
    /// Members the owner may ask (empty when the viewer is not the owner or review is closed).
    pub candidates: Vec<Candidate>,
    /// Whether the target release line exists (`None`: no target line).
    pub line_opened: Option<bool>,
    pub reviewers: &'a [ReviewerRow],
    pub comments: &'a [CommentRow],
    pub revisions: &'a [RevisionRow],
    pub now: DateTime<Utc>,
    pub is_owner: bool,
    pub is_lead: bool,
    pub is_reviewer: bool,
    /// The policy lets the viewer decide this doc (a lead, not its owner).
    pub may_decide: bool,
    /// Reviewers who are away right now (offline, overdue, on leave), by account id.
    pub away: std::collections::HashMap<i64, &'static str>,
    pub required_approvals: usize,
    /// Why the form just sent was refused (shown at the top).
    pub refusal: Option<String>,
    /// What was typed in the refused form, put back in its fields.
    pub kept: Kept,
}

impl DocView<'_> {
    /// How the viewer stands to the doc, as the state rules see it.
    fn asker(&self) -> model::Asker {
        model::Asker {
            is_owner: self.is_owner,
            is_lead: self.is_lead,
            is_reviewer: self.is_reviewer,
            may_decide: self.may_decide,
        }
    }
}

/// The input of a refused form on the doc page.
#[derive(Clone, Debug, Default)]
pub struct Kept {
    /// The move that was asked (`submit`, `approve`…), whose rationale is kept.
    pub action: String,
    pub rationale: String,
    pub superseded_by: String,
    pub handle: String,
    pub note: String,
    pub body: String,
}

pub fn doc(ctx: &PageCtx, v: DocView<'_>) -> impl IntoView + use<> {
    let d = v.doc;
    let c = d.content();
    let n = d.number;
    let status = d.status;
    let tags = c.tags.join(", ");
    let not_opened = (v.line_opened == Some(false))
        .then(|| view! { " "<span class="badge state-overdue" title="No repository has this line yet; it is fine to target a future line.">"line not opened yet"</span> });
    let line = (!c.target_line.is_empty())
        .then(|| view! { " · target "<code>{c.target_line.clone()}</code>{not_opened} });
    let decision_class = format!("card decision decision-{}", status.as_str());
    let decision = d.decided_by.clone().map(|by| {
        let when = d
            .decided_at
            .map(|t| ui::when_text(ctx, t))
            .unwrap_or_default();
        view! {
            <section class=decision_class>
                <h2>"Decision"</h2>
                <p>{format!("{} by {by}, {when}", status.label())}</p>
                {md(&d.decision)}
            </section>
        }
    });
    let superseded = d.superseded_by.map(|s| {
        let href = format!("/docs/{s}");
        view! { <p class="form-error">"Superseded by "<a href=href>{format!("DD-{s}")}</a></p> }
    });
    let comparison = comparison(&c);
    let approvals = v
        .reviewers
        .iter()
        .filter(|r| r.verdict == Some(model::Verdict::Approve))
        .count();
    let aside = reviewers_aside(ctx, &v, approvals);
    let moves = moves(ctx, &v, approvals);
    let decide = decision_form(ctx, &v, approvals);
    let threads = threads(ctx, &v);
    let extra = c
        .extra
        .iter()
        .map(|e| view! { <section><h2>{e.title.clone()}</h2>{md(&e.body)}</section> })
        .collect::<Vec<_>>();
    let edit = (v.is_owner && status.editable()).then(|| {
        let href = format!("/docs/{n}/edit");
        view! { <a class="button" href=href>"Edit"</a> }
    });
    let sections = ["", "Background", "Objectives", "Alternatives", "Conclusion"]
        .iter()
        .map(|s| view! { <option value=*s>{if s.is_empty() { "the whole doc" } else { s }}</option> })
        .collect::<Vec<_>>();
    let refusal = v
        .refusal
        .clone()
        .map(|r| view! { <div class="form-error" role="alert">{r}</div> });
    let checklist = (v.is_owner && matches!(status, Status::Draft | Status::ChangesRequested)).then(|| {
        let mut items = c
            .checklist()
            .into_iter()
            .map(|k| {
                let (mark, class) = if k.done { ("✓", "check done") } else { ("✗", "check missing") };
                view! { <li class=class><span aria-hidden="true">{mark}" "</span>{k.what}{(!k.done).then(|| view! { <span class="sr-only">" (missing)"</span> })}</li> }.into_any()
            })
            .collect::<Vec<_>>();
        let asked = v.reviewers.len();
        let enough = asked >= v.required_approvals;
        let (mark, class) = if enough { ("✓", "check done") } else { ("!", "check warn") };
        let text = format!("Reviewers asked: {asked} (a decision needs {} approvals)", v.required_approvals);
        items.push(view! { <li class=class><span aria-hidden="true">{mark}" "</span>{text}</li> }.into_any());
        let ready = c.submit_problems().is_empty();
        view! {
            <section class="card checklist" aria-label="Ready for review">
                <h2>{if ready { "Ready for review" } else { "Before it can be reviewed" }}</h2>
                <ul class="plain">{items}</ul>
            </section>
        }
    });
    let comment_action = format!("/docs/{n}/comments");
    let history = v
        .revisions
        .iter()
        .map(|r| view! { <li>{format!("v{} by {} — {}", r.version, r.author, ui::when_text(ctx, r.at))}</li> })
        .collect::<Vec<_>>();
    let latest = v.revisions.first().map(|r| r.version).unwrap_or(1);
    let diff_action = format!("/docs/{n}/diff");
    let compare = (v.revisions.len() > 1).then(|| {
        view! {
            <form method="get" action=diff_action class="filters">
                <label for="f-from">"Compare v"</label><input id="f-from" name="from" value="1" size="3"/>
                <label for="f-to">"with v"</label><input id="f-to" name="to" value=latest.to_string() size="3"/>
                <button type="submit" class="secondary">"Diff"</button>
            </form>
        }
    });
    let export = format!("/docs/{n}/export.md");
    view! {
        <p class="muted"><a href="/docs">"← Design docs"</a></p>
        <h1>{format!("DD-{n} {}", c.title)}</h1>
        <p>{status_badge(d.status)}" "{c.kind.clone()}" · owner "{d.owner.clone()}" · tags "{tags}{line}" · "<a href=export>"Export Markdown"</a></p>
        {superseded}
        {refusal}
        <div class="row-actions">{edit}{moves}</div>
        {decide}
        {checklist}
        {decision}
        <div class="doc-layout">
            <article class="doc-body">
                <section><h2>"Background"</h2>{md(&c.background)}</section>
                <section><h2>"Objectives"</h2>{md(&c.objectives)}</section>
                <section><h2>"Alternatives"</h2>{comparison}</section>
                <section><h2>"Conclusion"</h2>{md(&c.conclusion)}</section>
                {extra}
            </article>
            {aside}
        </div>
        <h2 id="discussion">"Discussion"</h2>
        <ul class="plain threads">{threads}</ul>
        <form method="post" action=comment_action class="card">
            {ui::csrf_field(ctx)}
            <div class="field"><label for="f-section">"On"</label><select id="f-section" name="section">{sections}</select></div>
            <div class="field"><label for="f-body">"Comment (Markdown)"</label>{ui::textarea("f-body".into(), "body".into(), "3", &v.kept.body)}</div>
            <button type="submit">"Comment"</button>
        </form>
        <h2>"History"</h2>
        <ul class="plain">{history}</ul>
        {compare}
    }
}

/// The alternatives side by side (or the empty state).
fn comparison(c: &model::Content) -> AnyView {
    let alts: Vec<model::Alternative> = c
        .alternatives
        .iter()
        .filter(|a| !a.is_blank())
        .cloned()
        .collect();
    let head = alts
        .iter()
        .map(|a| {
            let flag = a
                .evidence_flag()
                .map(|f| view! { <br/><span class="badge evidence">{f}</span> });
            view! { <th scope="col">{a.title.clone()}{flag}</th> }
        })
        .collect::<Vec<_>>();
    let row = |label: &'static str, pick: fn(&model::Alternative) -> &String| {
        let cells = alts
            .iter()
            .map(|a| view! { <td>{md(pick(a))}</td> })
            .collect::<Vec<_>>();
        view! { <tr><th scope="row">{label}</th>{cells}</tr> }
    };
    let ref_cells = alts
        .iter()
        .map(|a| view! { <td>{md_links(&a.references)}</td> })
        .collect::<Vec<_>>();
    let ref_row = view! { <tr><th scope="row">"References"</th>{ref_cells}</tr> };
    if alts.is_empty() {
        ui::empty_state(
            "No alternatives yet",
            "A design doc weighs at least two alternatives.",
        )
        .into_any()
    } else {
        view! {
            <div class="table-wrap"><table class="compare">
                <thead><tr><th></th>{head}</tr></thead>
                <tbody>
                    {row("Description", |a| &a.description)}
                    {row("Pros", |a| &a.pros)}
                    {row("Cons", |a| &a.cons)}
                    {ref_row}
                    {row("Data", |a| &a.data)}
                </tbody>
            </table></div>
        }
        .into_any()
    }
}

/// The reviewers with their verdicts and flags, and the owner's and reviewers' forms.
fn reviewers_aside(ctx: &PageCtx, v: &DocView<'_>, approvals: usize) -> impl IntoView + use<> {
    let n = v.doc.number;
    let status = v.doc.status;
    let reviewer_rows = v
        .reviewers
        .iter()
        .map(|r| {
            let overdue = r.verdict.is_none()
                && r.due_at < v.now
                && matches!(status, Status::InReview | Status::ChangesRequested);
            let due = format!("due {}", ui::when_text(ctx, r.due_at));
            let verdict = r.verdict.map_or("waiting", model::Verdict::label);
            let class = format!(
                "badge verdict-{}",
                r.verdict.map_or("none", model::Verdict::as_str)
            );
            let note = (!r.note.is_empty()).then(|| view! { <br/><small>{r.note.clone()}</small> });
            view! {
                <li>
                    <strong>{r.display_name.clone()}</strong>" "<span class=class>{verdict}</span>
                    {overdue.then(|| view! { " "<span class="badge health-down">"overdue"</span> })}
                    {v.away.get(&r.reviewer_id).copied().map(|a| view! { " "<span class="badge state-on_leave">{a}</span> })}
                    <br/><small class="muted">{due}</small>{note}
                </li>
            }
        })
        .collect::<Vec<_>>();
    let kept_handle = v.kept.handle.clone();
    let kept_note = v.kept.note.clone();
    let request_form = (v.is_owner && status.open_for_review()).then(|| {
        let action = format!("/docs/{n}/reviewers");
        // A refused choice stays selected, even when it is not (or no longer) a candidate.
        let refused = (!kept_handle.is_empty()
            && !v.candidates.iter().any(|m| m.handle == kept_handle))
        .then(|| {
            view! { <option value=kept_handle.clone() selected=true>{kept_handle.clone()}</option> }
                .into_any()
        });
        let options =
            std::iter::once(view! { <option value="">"choose a member…"</option> }.into_any())
                .chain(refused)
                .chain(v.candidates.iter().map(|m| {
                    let sel = m.handle == kept_handle;
                    let label = format!("{} ({}) — {}", m.name, m.handle, m.availability);
                    view! { <option value=m.handle.clone() selected=sel>{label}</option> }
                        .into_any()
                }))
                .collect::<Vec<_>>();
        view! {
            <form method="post" action=action class="inline-form">
                {ui::csrf_field(ctx)}
                <label for="f-reviewer">"Ask a reviewer"</label>
                <select id="f-reviewer" name="handle">{options}</select>
                <button type="submit" class="secondary small">"Request review"</button>
            </form>
        }
    });
    let verdict_form = (v.is_reviewer && matches!(status, Status::InReview | Status::ChangesRequested)).then(|| {
        let action = format!("/docs/{n}/verdict");
        view! {
            <form method="post" action=action>
                {ui::csrf_field(ctx)}
                <div class="field"><label for="f-vnote">"Your verdict (note optional)"</label>{ui::textarea("f-vnote".into(), "note".into(), "2", &kept_note)}</div>
                <div class="row-actions">
                    <button type="submit" name="verdict" value="approve">"Approve"</button>
                    <button type="submit" name="verdict" value="request_changes" class="danger">"Request changes"</button>
                    <button type="submit" name="verdict" value="comment" class="secondary">"Comment only"</button>
                </div>
            </form>
        }
    });
    view! {
        <aside class="card reviewers">
            <h2>"Reviewers"</h2>
            <p class="muted">{format!("{approvals} of {} approvals", v.required_approvals)}</p>
            <ul class="plain">{reviewer_rows}</ul>
            {request_form}
            {verdict_form}
        </aside>
    }
}

/// The moves this viewer may make now, each a small form (with a rationale where one is needed).
fn moves(ctx: &PageCtx, v: &DocView<'_>, approvals: usize) -> Vec<impl IntoView + use<>> {
    let n = v.doc.number;
    let status = v.doc.status;
    let kept = v.kept.clone();
    let who = v.asker();
    let reviews = model::Reviews {
        approvals,
        open_change_requests: 0,
        required: v.required_approvals,
    };
    [
        ("submit", "Submit for review", model::Move::Submit),
        ("withdraw", "Withdraw", model::Move::Withdraw),
        ("resume", "Resume review", model::Move::Resume),
        ("implemented", "Mark implemented", model::Move::Implemented),
        ("supersede", "Mark superseded", model::Move::Supersede),
    ]
    .into_iter()
    .filter(|(_, _, m)| model::transition(status, *m, who, model::Reviews { approvals: usize::MAX, ..reviews }).is_ok())
    .map(|(action, label, m)| {
        let post = format!("/docs/{n}/move");
        let this = kept.action == action;
        let sup_value = if this { kept.superseded_by.clone() } else { String::new() };
        let sup = (m == model::Move::Supersede).then(|| view! { <label for="f-sup" class="sr-only">"Superseded by"</label><input id="f-sup" name="superseded_by" placeholder="DD-…" value=sup_value/> });
        view! {
            <form method="post" action=post class="inline-form">
                {ui::csrf_field(ctx)}
                <input type="hidden" name="action" value=action/>
                {sup}
                <button type="submit" class="secondary small">{label}</button>
            </form>
        }
    })
    .collect::<Vec<_>>()
}

/// A lead's decision: approve, reject or hold, with one rationale, in one form.
fn decision_form(
    ctx: &PageCtx,
    v: &DocView<'_>,
    approvals: usize,
) -> Option<impl IntoView + use<>> {
    let who = v.asker();
    let reviews = model::Reviews {
        approvals: usize::MAX,
        open_change_requests: 0,
        required: v.required_approvals,
    };
    let choices: Vec<(&'static str, &'static str)> = [
        ("approve", "Approve", model::Move::Approve),
        ("reject", "Reject", model::Move::Reject),
        ("hold", "Put on hold", model::Move::Hold),
    ]
    .into_iter()
    .filter(|(_, _, m)| model::transition(v.doc.status, *m, who, reviews).is_ok())
    .map(|(a, l, _)| (a, l))
    .collect();
    if choices.is_empty() {
        return None;
    }
    let kept = v.kept.clone();
    let picked = choices
        .iter()
        .any(|(a, _)| *a == kept.action)
        .then_some(kept.action.clone());
    let radios = choices
        .iter()
        .map(|(a, l)| {
            let id = format!("decide-{a}");
            let checked = picked.as_deref() == Some(*a);
            let for_id = id.clone();
            view! { <label for=for_id class="choice"><input type="radio" id=id name="action" value=*a checked=checked required=true/>" "{*l}</label> }
        })
        .collect::<Vec<_>>();
    let why = if picked.is_some() {
        kept.rationale
    } else {
        String::new()
    };
    let action = format!("/docs/{}/move", v.doc.number);
    let state = format!(
        "{approvals} of {} approvals; a doc is approved with at least {} and no open change request.",
        v.required_approvals, v.required_approvals
    );
    Some(view! {
        <section class="card decide">
            <h2>"Decide"</h2>
            <p class="hint">{state}</p>
            <form method="post" action=action>
                {ui::csrf_field(ctx)}
                <fieldset class="choices"><legend class="sr-only">"Decision"</legend>{radios}</fieldset>
                <div class="field"><label for="f-rationale">"Rationale (kept in the decision record)"</label>
                    {ui::textarea("f-rationale".into(), "rationale".into(), "3", &why)}</div>
                <button type="submit">"Record decision"</button>
            </form>
        </section>
    })
}

/// The discussion: threads with their replies, a reply form and resolve/reopen.
fn threads(ctx: &PageCtx, v: &DocView<'_>) -> Vec<impl IntoView + use<>> {
    let n = v.doc.number;
    v
        .comments
        .iter()
        .filter(|t| t.parent_id.is_none())
        .map(|t| {
            let replies = v
                .comments
                .iter()
                .filter(|r| r.parent_id == Some(t.id))
                .map(|r| view! { <li><strong>{r.author.clone()}</strong>" "<small class="muted">{ui::when(ctx, r.created_at)}</small>{md(&r.body)}</li> })
                .collect::<Vec<_>>();
            let resolved = t.resolved_at.is_some();
            let toggle = format!("/docs/{n}/threads/{}/{}", t.id, if resolved { "reopen" } else { "resolve" });
            let reply = format!("/docs/{n}/comments");
            let on = (!t.section.is_empty()).then(|| view! { " on "<em>{t.section.clone()}</em> });
            let class = if resolved { "thread resolved" } else { "thread" };
            let rid = format!("reply-{}", t.id);
            view! {
                <li class=class>
                    <p><strong>{t.author.clone()}</strong>{on}" "<small class="muted">{ui::when(ctx, t.created_at)}</small>
                        {resolved.then(|| view! { " "<span class="badge">"resolved"</span> })}</p>
                    {md(&t.body)}
                    <ul class="replies">{replies}</ul>
                    <form method="post" action=reply class="inline-form">
                        {ui::csrf_field(ctx)}
                        <input type="hidden" name="parent" value=t.id.to_string()/>
                        <label for=rid.clone() class="sr-only">"Reply"</label>
                        <input id=rid name="body" placeholder="reply"/>
                        <button type="submit" class="secondary small">"Reply"</button>
                    </form>
                    <form method="post" action=toggle class="inline-form">
                        {ui::csrf_field(ctx)}
                        <button type="submit" class="secondary small">{if resolved { "Reopen" } else { "Resolve" }}</button>
                    </form>
                </li>
            }
        })
        .collect::<Vec<_>>()
}

pub fn diff(number: i32, from: i32, to: i32, old: &str, new: &str) -> impl IntoView + use<> {
    let diff = similar::TextDiff::from_lines(old, new);
    let lines = diff
        .iter_all_changes()
        .map(|ch| {
            let (class, sign) = match ch.tag() {
                similar::ChangeTag::Delete => ("del", "-"),
                similar::ChangeTag::Insert => ("ins", "+"),
                similar::ChangeTag::Equal => ("eq", " "),
            };
            let text = format!("{sign} {}", ch.value().trim_end_matches('\n'));
            view! { <span class=class>{text}</span> }
        })
        .collect::<Vec<_>>();
    let back = format!("/docs/{number}");
    view! {
        <h1>{format!("DD-{number}: v{from} → v{to}")}</h1>
        <p><a href=back>"← Back to the doc"</a></p>
        <pre class="diff">{lines}</pre>
    }
}

pub fn queue(ctx: &PageCtx, rows: &[QueueRow], now: DateTime<Utc>) -> impl IntoView + use<> {
    let items = rows
        .iter()
        .map(|r| {
            let overdue = r.verdict.is_none() && r.due_at < now;
            let href = format!("/docs/{}", r.number);
            let verdict = r.verdict.map_or("waiting for you", model::Verdict::label);
            view! {
                <tr>
                    <td><a href=href>{format!("DD-{} {}", r.number, r.title)}</a></td>
                    <td>{r.owner.clone()}</td>
                    <td>{status_badge(r.status)}</td>
                    <td class="nowrap">{ui::when(ctx, r.due_at)}{overdue.then(|| view! { " "<span class="badge health-down">"overdue"</span> })}</td>
                    <td>{verdict}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    view! {
        <h1>"My review queue"</h1>
        {if items.is_empty() {
            ui::empty_state("Nothing to review", "Docs whose owners ask you for a review appear here, overdue first.").into_any()
        } else {
            view! { <div class="table-wrap"><table>
                <thead><tr><th>"Doc"</th><th>"Owner"</th><th>"State"</th><th>"Due"</th><th>"Your verdict"</th></tr></thead>
                <tbody>{items}</tbody>
            </table></div> }.into_any()
        }}
    }
}

pub fn import(ctx: &PageCtx, text: &str, error: Option<String>) -> impl IntoView + use<> {
    let err = error.map(|e| view! { <div class="form-error" role="alert">{e}</div> });
    let text = text.to_string();
    view! {
        <h1>"Import a design doc"</h1>
        <p class="muted">"Paste a Markdown file exported from flowdeck, or a MADR file with the same headings. It becomes a new draft that you own."</p>
        {err}
        <form method="post" action="/docs/import">
            {ui::csrf_field(ctx)}
            <div class="field"><label for="f-markdown">"Markdown"</label>{ui::textarea("f-markdown".into(), "markdown".into(), "18", &text)}</div>
            <button type="submit">"Import"</button>
        </form>
    }
}
