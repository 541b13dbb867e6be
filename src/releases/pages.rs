//! Views of release lines: the overview, a repository, a line, a tag, the import report.

use leptos::prelude::*;

use super::{
    model::{self, LineName, LineStatus},
    ops::{BackportForm, ImportReport, RepoForm, TagForm},
    store::{BackportRow, LineRow, RepoRow, TagRow, TargetRow},
};
use crate::ui::{self, PageCtx, form::FormErrors};

/// A line with its derived status.
pub struct Line {
    pub row: LineRow,
    pub status: LineStatus,
}

pub fn with_status(rows: Vec<LineRow>, window: usize) -> Vec<Line> {
    let names: Vec<LineName> = rows.iter().map(LineRow::line).collect();
    rows.into_iter()
        .map(|row| Line {
            status: model::line_status(row.line(), &names, window),
            row,
        })
        .collect()
}

fn status_badge(s: LineStatus) -> impl IntoView + use<> {
    let class = format!("badge line-{}", s.as_str());
    let label = match s {
        LineStatus::Eol => "end of life",
        other => other.as_str(),
    };
    view! { <span class=class>{label}</span> }
}

fn short(sha: &str) -> String {
    sha.chars().take(10).collect()
}

pub fn lines_table(repo: &str, lines: &[Line]) -> impl IntoView + use<> {
    let rows = lines
        .iter()
        .map(|l| {
            let href = format!("/releases/{repo}/{}", l.row.name);
            let newest = l.row.newest_tag.clone().unwrap_or_else(|| "—".into());
            view! {
                <tr>
                    <td><a href=href><code>{l.row.name.clone()}</code></a></td>
                    <td>{status_badge(l.status)}</td>
                    <td><code>{newest}</code></td>
                    <td>{l.row.tag_count}</td>
                    <td>{l.row.owner.clone()}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    view! {
        <div class="table-wrap"><table>
            <thead><tr><th>"Line"</th><th>"Status"</th><th>"Newest tag"</th><th>"Tags"</th><th>"Owner"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table></div>
    }
}

pub fn overview(
    ctx: &PageCtx,
    repos: Vec<(RepoRow, Vec<Line>)>,
    can_manage: bool,
    form: &RepoForm,
    errs: &FormErrors,
) -> impl IntoView + use<> {
    let empty = repos.is_empty();
    let sections = repos
        .into_iter()
        .map(|(r, lines)| {
            let href = format!("/releases/{}", r.name);
            let url = (r.url.starts_with("https://") || r.url.starts_with("http://"))
                .then(|| view! { " · "<a href=r.url.clone() rel="noopener noreferrer">{r.url.clone()}</a> });
            view! {
                <section class="card">
                    <h2><a href=href>{r.name.clone()}</a></h2>
                    <p class="muted">"Owner "{r.owner.clone()}{url}</p>
                    {lines_table(&r.name, &lines)}
                </section>
            }
        })
        .collect::<Vec<_>>();
    let add = can_manage.then(|| {
        view! {
            <section class="card">
                <h2 id="add">"Add a repository"</h2>
                <form method="post" action="/releases">
                    {ui::csrf_field(ctx)}
                    {ui::field("Name", "name", "text", &form.name, errs.get("name"), Some("e.g. server"))}
                    {ui::field("URL (optional)", "url", "text", &form.url, errs.get("url"), None)}
                    {ui::field("Default branch", "default_branch", "text", &form.default_branch, None, Some("main unless you say otherwise"))}
                    <button type="submit">"Add repository"</button>
                </form>
            </section>
        }
    });
    view! {
        <h1>"Release lines"</h1>
        <p class="muted">"main is the development line; each release-vX.Y is a stable line. Only the newest minor lines are maintained."</p>
        {if empty {
            ui::empty_state("No repositories yet", "A lead adds a repository, then records tags or imports them from git.").into_any()
        } else {
            view! { {sections} }.into_any()
        }}
        {add}
    }
}

pub fn tags_table(
    ctx: &PageCtx,
    repo: &str,
    tags: &[TagRow],
    show_line: bool,
) -> impl IntoView + use<> {
    if tags.is_empty() {
        return ui::empty_state(
            "No tags yet",
            "Tags appear here as they are recorded or imported.",
        )
        .into_any();
    }
    let rows = tags
        .iter()
        .map(|t| {
            let href = format!("/releases/{repo}/tags/{}", t.name);
            let line = show_line.then(|| view! { <td><code>{t.line.clone()}</code></td> });
            let retracted = t
                .retracted_at
                .map(|_| view! { " "<span class="badge state-overdue">"retracted"</span> });
            view! {
                <tr>
                    <td><a href=href><code>{t.name.clone()}</code></a>{retracted}</td>
                    {line}
                    <td><code>{short(&t.commit_sha)}</code></td>
                    <td class="nowrap">{ui::when(ctx, t.tagged_at)}</td>
                    <td>{t.source.clone()}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let line_head = show_line.then(|| view! { <th>"Line"</th> });
    view! {
        <div class="table-wrap"><table class="timeline">
            <thead><tr><th>"Tag"</th>{line_head}<th>"Commit"</th><th>"Tagged"</th><th>"Source"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table></div>
    }
    .into_any()
}

pub fn backports_table(
    ctx: &PageCtx,
    repo: &str,
    list: &[BackportRow],
    targets: &[TargetRow],
    can_manage: bool,
) -> impl IntoView + use<> {
    if list.is_empty() {
        return ui::empty_state("No backports", "Critical fixes (data loss, memory corruption, crash or hang, security) requested for the maintained lines appear here.").into_any();
    }
    let rows = list
        .iter()
        .map(|b| {
            let crit = model::CRITICALITY
                .iter()
                .find(|(k, _)| *k == b.criticality)
                .map_or(b.criticality.clone(), |(_, l)| l.to_string());
            let link = (!b.link.is_empty()).then(|| {
                let href = b.link.clone();
                view! { <br/><a href=href rel="noopener noreferrer">"link"</a> }
            });
            let cells = targets
                .iter()
                .filter(|t| t.backport_id == b.id)
                .map(|t| {
                    let class = format!("badge bp-{}", t.status.as_str());
                    let control = can_manage.then(|| {
                        let action = format!("/releases/{repo}/backports/{}/lines/{}", b.id, t.line_id);
                        let id = format!("bp-{}-{}", b.id, t.line_id);
                        let options = model::BackportStatus::ALL
                            .iter()
                            .map(|s| {
                                let sel = *s == t.status;
                                view! { <option value=s.as_str() selected=sel>{s.label()}</option> }
                            })
                            .collect::<Vec<_>>();
                        let label = format!("Status on {}", t.line);
                        view! {
                            <form method="post" action=action class="inline">
                                {ui::csrf_field(ctx)}
                                <label for=id.clone() class="sr-only">{label}</label>
                                <select id=id name="status">{options}</select>
                                <button type="submit" class="secondary">"Set"</button>
                            </form>
                        }
                    });
                    view! {
                        <li><code>{t.line.clone()}</code>" "<span class=class>{t.status.label()}</span>" "{control}</li>
                    }
                })
                .collect::<Vec<_>>();
            let why = (!b.justification.is_empty()).then(|| view! { <br/><small class="muted">{b.justification.clone()}</small> });
            view! {
                <tr>
                    <td>{b.title.clone()}{link}<br/><small class="muted">{format!("by {}", b.requested_by)}</small></td>
                    <td>{crit}{why}</td>
                    <td><ul class="plain targets">{cells}</ul></td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    view! {
        <div class="table-wrap"><table>
            <thead><tr><th>"Fix"</th><th>"Why"</th><th>"Lines (newest first)"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table></div>
    }
    .into_any()
}

pub struct RepoForms<'a> {
    pub tag: &'a TagForm,
    pub tag_errs: &'a FormErrors,
    pub backport: &'a BackportForm,
    pub backport_errs: &'a FormErrors,
}

pub fn repository(
    ctx: &PageCtx,
    repo: &RepoRow,
    lines: &[Line],
    tags: &[TagRow],
    backports: (&[BackportRow], &[TargetRow]),
    can_manage: bool,
    forms: RepoForms<'_>,
) -> impl IntoView + use<> {
    let name = repo.name.clone();
    let repo_url = (repo.url.starts_with("https://") || repo.url.starts_with("http://")).then(
        || view! { " · "<a href=repo.url.clone() rel="noopener noreferrer">{repo.url.clone()}</a> },
    );
    let import_href = format!("/releases/{name}/import");
    let tag_action = format!("/releases/{name}/tags");
    let bp_action = format!("/releases/{name}/backports");
    let manage = can_manage.then(|| {
        view! {
            <section class="card">
                <h2 id="record">"Record a tag"</h2>
                <p class="muted">"Pre-releases (-alpha.N, -beta.N, -rc.N) go on main, finals on their release line; vX.Y.0 opens release-vX.Y. Tags never change once recorded. "
                    <a href=import_href>"Import from git →"</a></p>
                <form method="post" action=tag_action>
                    {ui::csrf_field(ctx)}
                    {ui::field("Tag", "tag", "text", &forms.tag.tag, forms.tag_errs.get("tag"), Some("e.g. v3.8.1 or v3.9.0-rc.1"))}
                    {ui::field("Commit (optional)", "commit", "text", &forms.tag.commit, forms.tag_errs.get("commit"), None)}
                    <button type="submit">"Record tag"</button>
                </form>
            </section>
        }
    });
    let maintained: Vec<&Line> = lines
        .iter()
        .filter(|l| matches!(l.status, LineStatus::Active | LineStatus::Maintained))
        .collect();
    let line_boxes = maintained
        .iter()
        .map(|l| {
            let id = format!("bl-{}", l.row.id);
            let checked = forms.backport.lines.is_empty() || forms.backport.lines.contains(&l.row.id);
            view! {
                <span class="check-inline">
                    <input type="checkbox" id=id.clone() name="lines" value=l.row.id.to_string() checked=checked/>
                    <label for=id>{l.row.name.clone()}</label>
                </span>
            }
        })
        .collect::<Vec<_>>();
    let crit_options = model::CRITICALITY
        .iter()
        .map(|(k, label)| {
            let sel = *k == forms.backport.criticality;
            view! { <option value=*k selected=sel>{*label}</option> }
        })
        .collect::<Vec<_>>();
    let crit_err = forms
        .backport_errs
        .get("criticality")
        .cloned()
        .map(|e| view! { <p class="field-error">{e}</p> });
    let lines_err = forms
        .backport_errs
        .get("lines")
        .cloned()
        .map(|e| view! { <p class="field-error">{e}</p> });
    view! {
        <h1>{name.clone()}</h1>
        <p class="muted">"Owner "{repo.owner.clone()}" · default branch "<code>{repo.default_branch.clone()}</code>{repo_url}</p>
        {lines_table(&name, lines)}
        {manage}
        <h2 id="backports">"Backports"</h2>
        {backports_table(ctx, &name, backports.0, backports.1, can_manage)}
        <section class="card">
            <h2>"Request a backport"</h2>
            <p class="muted">"Only critical fixes are backported — to every maintained line, newest first."</p>
            <form method="post" action=bp_action>
                {ui::csrf_field(ctx)}
                {ui::field("Fix", "title", "text", &forms.backport.title, forms.backport_errs.get("title"), None)}
                {ui::field("Link (optional)", "link", "text", &forms.backport.link, forms.backport_errs.get("link"), Some("the pull request or commit"))}
                <div class="field">
                    <label for="f-criticality">"Why it is critical"</label>
                    <select id="f-criticality" name="criticality">
                        <option value="" selected=forms.backport.criticality.is_empty()>"choose…"</option>
                        {crit_options}
                    </select>
                    {crit_err}
                </div>
                {ui::field("Justification (for “other”)", "justification", "text", &forms.backport.justification, forms.backport_errs.get("justification"), None)}
                <fieldset class="field"><legend>"Lines"</legend>{line_boxes}{lines_err}</fieldset>
                <button type="submit">"Request backport"</button>
            </form>
        </section>
        <h2>"All tags"</h2>
        {tags_table(ctx, &name, tags, true)}
    }
}

pub fn line(
    ctx: &PageCtx,
    repo: &RepoRow,
    line: &Line,
    tags: &[TagRow],
    backports: (&[BackportRow], &[TargetRow]),
    docs: &[crate::docs::DocSummary],
    running: &[(String, String, String, i64, i64)],
) -> impl IntoView + use<> {
    let run_items = running
        .iter()
        .map(|(version, service, env, deployment, incidents)| {
            let href = format!("/deployments/{deployment}");
            let text = format!("{version}: {service} in {env}");
            let inc = (*incidents > 0).then(|| {
                let href = format!("/incidents?service={service}");
                let label = if *incidents == 1 {
                    "1 incident attributed to it".to_string()
                } else {
                    format!("{incidents} incidents attributed to it")
                };
                view! { " — "<a href=href class="field-error">{label}</a> }
            });
            view! { <li><a href=href>{text}</a>{inc}</li> }
        })
        .collect::<Vec<_>>();
    let running_view = if run_items.is_empty() {
        ui::empty_state(
            "Nothing from this line runs now",
            "When a deployment of one of its tags succeeds, it shows here with its incidents.",
        )
        .into_any()
    } else {
        view! { <ul class="plain">{run_items}</ul> }.into_any()
    };
    let doc_items = docs
        .iter()
        .map(|d| {
            let href = format!("/docs/{}", d.number);
            view! { <li><a href=href>{format!("DD-{} {}", d.number, d.title)}</a>" "{crate::docs::pages::status_badge(d.status)}</li> }
        })
        .collect::<Vec<_>>();
    let docs_view = if doc_items.is_empty() {
        ui::empty_state(
            "No design docs target this line",
            "A doc names its target release line in its header.",
        )
        .into_any()
    } else {
        view! { <ul class="plain">{doc_items}</ul> }.into_any()
    };
    let title = format!("{} · {}", repo.name, line.row.name);
    let repo_href = format!("/releases/{}", repo.name);
    view! {
        <h1>{title}</h1>
        <p>{status_badge(line.status)}" · owner "{line.row.owner.clone()}" · "<a href=repo_href>"all lines of "{repo.name.clone()}</a></p>
        <p class="muted">"From decision to production: the docs that target this line, its tags, where they run now and the incidents against those deployments."</p>
        <h2>"Design docs targeting this line"</h2>
        {docs_view}
        <h2>"Tags"</h2>
        {tags_table(ctx, &repo.name, tags, false)}
        <h2>"Where this line runs now"</h2>
        {running_view}
        <h2>"Backports"</h2>
        {backports_table(ctx, &repo.name, backports.0, backports.1, false)}
    }
}

pub struct TagView<'a> {
    pub repo: &'a RepoRow,
    pub tag: &'a TagRow,
    pub can_manage: bool,
    /// A refused retraction: (the reason typed, why it was refused).
    pub refused: Option<(String, String)>,
    /// Where this version runs now: (service, environment).
    pub running: &'a [(String, String)],
    /// Backports on the tag's line.
    pub backports: (&'a [BackportRow], &'a [TargetRow]),
}

/// A link to `sha` in the repository's web view, when its URL is an http(s) one (GitHub, GitLab
/// and Gitea all serve `<repo>/commit/<sha>`).
pub fn commit_link(repo_url: &str, sha: &str) -> AnyView {
    if sha.is_empty() {
        return view! { "—" }.into_any();
    }
    let base = repo_url.trim_end_matches('/').trim_end_matches(".git");
    if base.starts_with("https://") || base.starts_with("http://") {
        let href = format!("{base}/commit/{sha}");
        view! { <a href=href rel="noopener noreferrer"><code>{sha.to_string()}</code></a> }
            .into_any()
    } else {
        view! { <code>{sha.to_string()}</code> }.into_any()
    }
}

/// A tag's page: its facts, the commit (linked), where this version runs now, the backports on
/// its line, and the retraction form.
pub fn tag(ctx: &PageCtx, v: TagView<'_>) -> impl IntoView + use<> {
    let TagView {
        repo,
        tag: t,
        can_manage,
        refused,
        running,
        backports,
    } = v;
    let title = format!("{} {}", repo.name, t.name);
    let line_href = format!("/releases/{}/{}", repo.name, t.line);
    let retracted = t.retracted_at.map(|at| {
        let text = format!(
            "Retracted {}: {}",
            ui::when_text(ctx, at),
            t.retract_reason.clone().unwrap_or_default()
        );
        view! { <div class="form-error" role="status">{text}</div> }
    });
    let (typed, why) = match refused {
        Some((typed, why)) => (typed, Some(why)),
        None => (String::new(), None),
    };
    let show_form = can_manage && t.retracted_at.is_none();
    // Without the form (the tag is retracted already) the refusal shows at the top.
    let alert = why
        .clone()
        .filter(|_| !show_form)
        .map(|w| view! { <div class="form-error" role="alert">{w}</div> });
    let retract = show_form.then(|| {
        let action = format!("/releases/{}/tags/{}/retract", repo.name, t.name);
        view! {
            <section class="card">
                <h2>"Retract"</h2>
                <p class="muted">"Tags are never edited or deleted. A mistaken tag is marked retracted, with the reason; the history keeps it."</p>
                <form method="post" action=action>
                    {ui::csrf_field(ctx)}
                    {ui::field("Reason", "reason", "text", &typed, why.as_ref(), None)}
                    <button type="submit" class="danger">"Mark retracted"</button>
                </form>
            </section>
        }
    });
    let commit = commit_link(&repo.url, &t.commit_sha);
    let by = t.recorded_by.clone().unwrap_or_else(|| "—".into());
    let runs = if running.is_empty() {
        ui::empty_state(
            "Not running anywhere now",
            "Services linked to this repository show here while they run this version.",
        )
        .into_any()
    } else {
        let items = running
            .iter()
            .map(|(s, e)| {
                let href = format!("/services/{s}");
                view! { <li><a href=href>{s.clone()}</a>{format!(" in {e}")}</li> }
            })
            .collect::<Vec<_>>();
        view! { <ul class="plain">{items}</ul> }.into_any()
    };
    let bps = backports_table(ctx, &repo.name, backports.0, backports.1, can_manage);
    view! {
        <h1>{title}</h1>
        {alert}
        {retracted}
        <dl class="facts">
            <dt>"Line"</dt><dd><a href=line_href><code>{t.line.clone()}</code></a></dd>
            <dt>"Commit"</dt><dd>{commit}</dd>
            <dt>"Tagged"</dt><dd>{ui::when(ctx, t.tagged_at)}</dd>
            <dt>"Recorded by"</dt><dd>{by}" ("{t.source.clone()}")"</dd>
        </dl>
        <h2>"Where this version runs now"</h2>
        {runs}
        <h2>{format!("Backports on {}", t.line)}</h2>
        {bps}
        {retract}
    }
}

pub fn import(
    ctx: &PageCtx,
    repo: &RepoRow,
    path: &str,
    error: Option<String>,
    report: Option<&ImportReport>,
) -> impl IntoView + use<> {
    let action = format!("/releases/{}/import", repo.name);
    let title = format!("Import {} from git", repo.name);
    let err = error.map(|e| view! { <div class="form-error" role="alert">{e}</div> });
    let report = report.map(|r| {
        let refused = r
            .refused
            .iter()
            .map(|(what, why, hint)| {
                let hint = hint.clone().map(|h| view! { " — did you mean "<code>{h}</code>"?" });
                view! { <li><code>{what.clone()}</code>": "{why.clone()}{hint}</li> }
            })
            .collect::<Vec<_>>();
        let conflicts = r
            .conflicts
            .iter()
            .map(|(t, c)| view! { <li><code>{t.clone()}</code>" is recorded at "<code>{short(c)}</code>" — left unchanged (tags are immutable)"</li> })
            .collect::<Vec<_>>();
        let summary = format!(
            "{} new tags, {} already recorded, {} new lines, {} other branches ignored.",
            r.tags_created.len(),
            r.tags_unchanged,
            r.lines_created.len(),
            r.other_branches
        );
        let lines = (!r.lines_created.is_empty()).then(|| format!("New lines: {}.", r.lines_created.join(", ")));
        let repo_href = format!("/releases/{}", repo.name);
        view! {
            <section class="card report">
                <h2>"Import report"</h2>
                <p><strong>{summary}</strong></p>
                <p>{lines}</p>
                {(!conflicts.is_empty()).then(|| view! { <h3>"Conflicts"</h3><ul>{conflicts}</ul> })}
                {(!refused.is_empty()).then(|| view! { <h3>"Not imported: names that break the policy"</h3><ul class="refused">{refused}</ul> })}
                <p><a href=repo_href>"See the lines →"</a></p>
            </section>
        }
    });
    let path = path.to_string();
    view! {
        <h1>{title}</h1>
        {report}
        <section class="card">
            <p class="muted">"The path of a clone or a bare repository on the flowdeck server. Branches and tags are read with git; running it again changes nothing."</p>
            {err}
            <form method="post" action=action>
                {ui::csrf_field(ctx)}
                {ui::field("Repository path", "path", "text", &path, None, Some("an absolute path, e.g. /srv/git/server.git"))}
                <button type="submit">"Import"</button>
            </form>
        </section>
    }
}

/// A repository page, with where it is re-imported from (when it was imported from a clone).
pub fn with_reimport<V: IntoView + 'static>(
    page: V,
    ctx: &PageCtx,
    status: Option<(String, Option<chrono::DateTime<chrono::Utc>>, String)>,
    minutes: i64,
) -> impl IntoView + use<V> {
    let line = status.map(|(path, at, outcome)| {
        let text = format!("Re-imported from {path} every {minutes} min; last time: {outcome} ");
        view! { <p class="muted reimport">{text}{at.map(|t| ui::when(ctx, t))}</p> }
    });
    view! { {page}{line} }
}
