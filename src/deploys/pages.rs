//! Views of deployment state: the matrix, an environment diff, history, a service, incidents,
//! the offline bundle plan, and the forms.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::{
    model::{self, Skew},
    ops::{DeploymentInput, EnvForm, ImageForm, IncidentForm, ServiceForm, TIERS},
    store::{
        CellRow, DeploymentRow, EnvRow, ImageRecord, IncidentRow, IncidentUpdate, SampleRow,
        ServiceRow,
    },
};
use crate::{
    auth::{model::AccountId, policy},
    releases::RepoRow,
    ui::{self, PageCtx, form::FormErrors},
};

pub type Cells = HashMap<(i64, i64), CellRow>;

fn health_badge(h: Option<model::Health>) -> impl IntoView + use<> {
    let h = h.unwrap_or(model::Health::Unknown);
    let class = format!("badge health-{}", h.as_str());
    view! { <span class=class>{h.label()}</span> }
}

/// A cell's health: the badge, and who reported it by hand and when (a probe result says
/// nothing more).
fn health_of_cell(ctx: &PageCtx, cell: Option<&CellRow>) -> impl IntoView + use<> {
    let reported = cell.and_then(|c| Some((c.reported_by.clone()?, c.reported_at?)));
    let by = reported.map(|(who, at)| {
        view! { <small class="muted reported">{format!(" reported by {who} ")}{ui::when(ctx, at)}</small> }
    });
    view! { {health_badge(cell.and_then(|c| c.health))}{by} }
}

/// A deployment's status as a badge (every page that shows one uses this).
pub fn status_badge(s: model::Status) -> impl IntoView + use<> {
    let class = format!("badge dep-{}", s.as_str());
    view! { <span class=class>{s.label()}</span> }
}

pub fn matrix(
    ctx: &PageCtx,
    services: &[ServiceRow],
    envs: &[EnvRow],
    cells: &Cells,
    skews: &HashMap<i64, Vec<Skew>>,
    now: DateTime<Utc>,
    manage: Option<ManageForms<'_>>,
) -> impl IntoView + use<> {
    let head = envs
        .iter()
        .map(|e| {
            let tier = e.tier.clone();
            view! { <th scope="col">{e.name.clone()}<br/><small class="muted">{tier}</small></th> }
        })
        .collect::<Vec<_>>();
    let rows = services
        .iter()
        .map(|s| {
            let tds = envs
                .iter()
                .map(|e| {
                    let cell = cells.get(&(s.id, e.id));
                    let warn = skews
                        .get(&e.id)
                        .and_then(|w| w.iter().find(|k| k.service == s.name))
                        .map(|k| view! { <br/><span class="skew" title=k.message.clone()>"⚠ "{k.message.clone()}</span> });
                    let down = cell.and_then(|c| c.health) == Some(model::Health::Down);
                    let class = if down { "cell down" } else { "cell" };
                    let history = format!("/deployments/history?service={}&environment={}", s.name, e.name);
                    let body = match cell.and_then(|c| c.version.clone()) {
                        Some(v) => {
                            let age = cell
                                .and_then(|c| c.finished_at)
                                .map(|f| ui::time::duration(now - f))
                                .unwrap_or_default();
                            view! { <a href=history class="version">{v}</a>" "<small class="muted" title="running for">{age}</small> }.into_any()
                        }
                        None => view! { <a href=history class="muted">"—"</a> }.into_any(),
                    };
                    let health = cell.is_some().then(|| view! { " "{health_of_cell(ctx, cell)} });
                    let label = e.name.clone();
                    view! { <td class=class data-label=label>{body}{health}{warn}</td> }
                })
                .collect::<Vec<_>>();
            let href = format!("/services/{}", s.name);
            view! { <tr><th scope="row"><a href=href>{s.name.clone()}</a><br/><small class="muted">{s.role.clone()}</small></th>{tds}</tr> }
        })
        .collect::<Vec<_>>();
    let empty = services.is_empty() || envs.is_empty();
    let env_options = |selected: &str| {
        envs.iter()
            .map(|e| {
                let sel = e.name == selected;
                view! { <option value=e.name.clone() selected=sel>{e.name.clone()}</option> }
            })
            .collect::<Vec<_>>()
    };
    let a = envs.first().map(|e| e.name.clone()).unwrap_or_default();
    let b = envs.get(1).map(|e| e.name.clone()).unwrap_or_default();
    let bundles = envs
        .iter()
        .filter(|e| e.tier == "offline")
        .map(|e| {
            let href = format!("/deployments/bundle/{}", e.name);
            view! { <li><a href=href>{format!("Bundle plan for {}", e.name)}</a></li> }
        })
        .collect::<Vec<_>>();
    let manage = manage.map(|m| manage_forms(ctx, m));
    view! {
        <h1>"Deployments"</h1>
        <p><a href="/deployments/new">"Record a deployment →"</a>" · "<a href="/deployments/history">"History →"</a>" · "<a href="/incidents">"Incidents →"</a></p>
        {if empty {
            ui::empty_state("No services or environments yet", "A lead adds services and environments below; then deployments are recorded by hand or by CI.").into_any()
        } else {
            view! {
                <div class="table-wrap matrix"><table class="cards">
                    <thead><tr><th scope="col">"Service"</th>{head}</tr></thead>
                    <tbody>{rows}</tbody>
                </table></div>
                <form method="get" action="/deployments/diff" class="filters">
                    <label for="d-a">"Compare"</label>
                    <select id="d-a" name="a">{env_options(&a)}</select>
                    <label for="d-b">"with"</label>
                    <select id="d-b" name="b">{env_options(&b)}</select>
                    <button type="submit" class="secondary">"Diff"</button>
                </form>
                <ul class="plain">{bundles}</ul>
            }.into_any()
        }}
        {manage}
    }
}

/// The lead's "add a service" and "add an environment" forms, with what was typed and the errors
/// of a refused one.
pub struct ManageForms<'a> {
    pub service: &'a ServiceForm,
    pub service_errs: &'a FormErrors,
    pub env: &'a EnvForm,
    pub env_errs: &'a FormErrors,
    pub repositories: &'a [RepoRow],
}

/// A `<select>` of the recorded repositories (and "none").
fn repository_select(id: &'static str, repos: &[RepoRow], selected: &str) -> impl IntoView + use<> {
    let opts = std::iter::once((String::new(), "none".to_string()))
        .chain(repos.iter().map(|r| (r.name.clone(), r.name.clone())))
        .map(|(v, l)| {
            let sel = v == selected;
            view! { <option value=v selected=sel>{l}</option> }
        })
        .collect::<Vec<_>>();
    view! { <select id=id name="repository">{opts}</select> }
}

fn manage_forms(ctx: &PageCtx, m: ManageForms<'_>) -> impl IntoView + use<> {
    let ManageForms {
        service,
        service_errs: se,
        env,
        env_errs: ee,
        repositories,
    } = m;
    let tiers = TIERS
        .iter()
        .map(|t| {
            let sel = env.tier == *t;
            view! { <option value=*t selected=sel>{*t}</option> }
        })
        .collect::<Vec<_>>();
    let sups = ["kubernetes", "systemd", "supervisord", "compose"]
        .iter()
        .map(|t| {
            let sel = service.supervisor == *t;
            view! { <option value=*t selected=sel>{*t}</option> }
        })
        .collect::<Vec<_>>();
    let interval = if service.probe_interval_seconds.is_empty() {
        "30"
    } else {
        service.probe_interval_seconds.as_str()
    };
    let position = if env.position.is_empty() {
        "0"
    } else {
        env.position.as_str()
    };
    let general = |e: &FormErrors| {
        e.general
            .clone()
            .map(|g| view! { <div class="form-error" role="alert">{g}</div> })
    };
    view! {
        <div class="grid spaced">
            <section class="card">
                <h2>"Add a service"</h2>
                <form method="post" action="/services">
                    {ui::csrf_field(ctx)}
                    {general(se)}
                    {ui::field_in("svc", "Name", "name", "text", &service.name, se.get("name"), Some("e.g. api, rpc-user, push"))}
                    {ui::field_in("svc", "Role", "role", "text", &service.role, se.get("role"), Some("api, rpc, worker, web, … (skew rules use it)"))}
                    {ui::field_in("svc", "Image", "image", "text", &service.image, se.get("image"), Some("e.g. ghcr.io/example/api, without a tag"))}
                    <div class="field"><label for="svc-repository">"Repository"</label>{repository_select("svc-repository", repositories, &service.repository)}
                        <p class="hint">"its versions are this repository's tags; a deployment of an untagged version is flagged"</p>
                        {se.get("repository").cloned().map(|e| view! { <p class="field-error">{e}</p> })}</div>
                    <div class="field"><label for="svc-supervisor">"Supervised by"</label><select id="svc-supervisor" name="supervisor">{sups}</select></div>
                    {ui::field_in("svc", "Probe every (seconds)", "probe_interval_seconds", "text", interval, se.get("probe_interval_seconds"), None)}
                    <button type="submit">"Add service"</button>
                </form>
            </section>
            <section class="card">
                <h2>"Add an environment"</h2>
                <form method="post" action="/environments">
                    {ui::csrf_field(ctx)}
                    {general(ee)}
                    {ui::field_in("env", "Name", "name", "text", &env.name, ee.get("name"), Some("e.g. dev, staging, prod"))}
                    <div class="field"><label for="env-tier">"Tier"</label><select id="env-tier" name="tier">{tiers}</select></div>
                    {ee.get("tier").cloned().map(|e| view! { <p class="field-error">{e}</p> })}
                    {ui::field_in("env", "Order", "position", "text", position, ee.get("position"), Some("columns are sorted by it"))}
                    {ui::field_in("env", "URL (optional)", "url", "text", &env.url, ee.get("url"), Some("https://…"))}
                    <button type="submit">"Add environment"</button>
                </form>
            </section>
        </div>
    }
}

pub fn diff(
    services: &[ServiceRow],
    a: &EnvRow,
    b: &EnvRow,
    cells: &Cells,
) -> impl IntoView + use<> {
    let rows = services
        .iter()
        .map(|s| {
            let va = cells.get(&(s.id, a.id)).and_then(|c| c.version.clone());
            let vb = cells.get(&(s.id, b.id)).and_then(|c| c.version.clone());
            let differs = va != vb;
            let class = if differs { "differs" } else { "" };
            let mark = if differs { "≠" } else { "=" };
            view! {
                <tr class=class>
                    <th scope="row">{s.name.clone()}</th>
                    <td>{va.unwrap_or_else(|| "—".into())}</td>
                    <td>{mark}</td>
                    <td>{vb.unwrap_or_else(|| "—".into())}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let title = format!("{} vs {}", a.name, b.name);
    view! {
        <h1>{title}</h1>
        <p><a href="/deployments">"← Matrix"</a></p>
        <div class="table-wrap"><table>
            <thead><tr><th>"Service"</th><th>{a.name.clone()}</th><th></th><th>{b.name.clone()}</th></tr></thead>
            <tbody>{rows}</tbody>
        </table></div>
    }
}

pub struct HistoryView<'a> {
    pub rows: &'a [DeploymentRow],
    pub services: &'a [ServiceRow],
    pub envs: &'a [EnvRow],
    pub service: &'a str,
    pub environment: &'a str,
    pub status: &'a str,
    pub next: Option<String>,
}

pub fn history(ctx: &PageCtx, h: HistoryView<'_>) -> impl IntoView + use<> {
    let opts = |names: Vec<String>, selected: &str, any: &'static str| {
        std::iter::once((String::new(), any.to_string()))
            .chain(names.into_iter().map(|n| (n.clone(), n)))
            .map(|(v, l)| {
                let sel = v == selected;
                view! { <option value=v selected=sel>{l}</option> }
            })
            .collect::<Vec<_>>()
    };
    let svc_opts = opts(
        h.services.iter().map(|s| s.name.clone()).collect(),
        h.service,
        "any service",
    );
    let env_opts = opts(
        h.envs.iter().map(|e| e.name.clone()).collect(),
        h.environment,
        "any environment",
    );
    let st_opts = opts(
        model::Status::ALL
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
        h.status,
        "any status",
    );
    let rows = h
        .rows
        .iter()
        .map(|d| {
            let moves = model::Status::ALL
                .iter()
                .filter(|to| d.status.can_move_to(**to))
                .filter(|to| {
                    **to != model::Status::RolledBack
                        || policy::can(
                            ctx.user.as_ref(),
                            policy::Action::RollBack {
                                recorder: d.actor_id.map(AccountId),
                            },
                        )
                })
                .map(|to| {
                    let action = format!("/deployments/{}/status", d.id);
                    let label = if *to == model::Status::RolledBack { "roll back…" } else { to.label() };
                    view! {
                        <form method="post" action=action class="inline">
                            {ui::csrf_field(ctx)}
                            <input type="hidden" name="status" value=to.as_str()/>
                            <button type="submit" class="secondary small">{label}</button>
                        </form>
                    }
                })
                .collect::<Vec<_>>();
            let note = (!d.note.is_empty())
                .then(|| view! { <br/><small class="muted">{d.note.clone()}</small> });
            view! {
                <tr>
                    <td data-label="#"><a href=format!("/deployments/{}", d.id)>{format!("#{}", d.id)}</a></td>
                    <td data-label="When" class="nowrap">{ui::when(ctx, d.happened_at)}</td>
                    <td data-label="Service"><a href=format!("/services/{}", d.service)>{d.service.clone()}</a></td>
                    <td data-label="Env">{d.environment.clone()}</td>
                    <td data-label="Version"><code>{d.version.clone()}</code>{note}</td>
                    <td data-label="Status">{status_badge(d.status)}</td>
                    <td data-label="By">{d.actor.clone()}<br/><small class="muted">{d.source.clone()}</small></td>
                    <td data-label="Move to"><div class="row-actions">{moves}</div></td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let empty = rows.is_empty();
    let pager = h.next.map(|href| view! { <nav class="pager" aria-label="Pages"><a href="/deployments/history">"Newest"</a><a href=href>"Older →"</a></nav> });
    view! {
        <h1>"Deployment history"</h1>
        <form method="get" action="/deployments/history" class="filters" role="search">
            <label for="h-s" class="sr-only">"Service"</label><select id="h-s" name="service">{svc_opts}</select>
            <label for="h-e" class="sr-only">"Environment"</label><select id="h-e" name="environment">{env_opts}</select>
            <label for="h-st" class="sr-only">"Status"</label><select id="h-st" name="status">{st_opts}</select>
            <button type="submit" class="secondary">"Filter"</button>
        </form>
        {if empty {
            ui::empty_state("No deployments match", "Change the filters, or record a deployment.").into_any()
        } else {
            view! { <div class="table-wrap"><table class="cards">
                <thead><tr><th>"#"</th><th>"When"</th><th>"Service"</th><th>"Env"</th><th>"Version"</th><th>"Status"</th><th>"By"</th><th>"Move to"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table></div> }.into_any()
        }}
        {pager}
    }
}

fn select(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    options: Vec<String>,
    selected: &str,
    err: Option<&String>,
) -> impl IntoView + use<> {
    let opts = std::iter::once(String::new())
        .chain(options)
        .map(|o| {
            let sel = o == selected;
            let text = if o.is_empty() {
                "choose…".to_string()
            } else {
                o.clone()
            };
            view! { <option value=o selected=sel>{text}</option> }
        })
        .collect::<Vec<_>>();
    let err = err
        .cloned()
        .map(|e| view! { <p class="field-error">{e}</p> });
    view! { <div class="field"><label for=id>{label}</label><select id=id name=name>{opts}</select>{err}</div> }
}

pub fn new_deployment(
    ctx: &PageCtx,
    services: &[ServiceRow],
    envs: &[EnvRow],
    f: &DeploymentInput,
    errs: &FormErrors,
    warnings: &[String],
) -> impl IntoView + use<> {
    let status = if f.status.is_empty() {
        "succeeded"
    } else {
        f.status.as_str()
    };
    let confirm = (!warnings.is_empty()).then(|| {
        let items = warnings
            .iter()
            .map(|w| view! { <li>{w.clone()}</li> })
            .collect::<Vec<_>>();
        view! {
            <div class="warning-box" role="alert">
                <p><strong>"Not recorded yet."</strong>" Recording this deployment would cause:"</p>
                <ul>{items}</ul>
                <p>"Check the version, or record it anyway."</p>
            </div>
            <input type="hidden" name="confirm" value="yes"/>
        }
    });
    let submit = if warnings.is_empty() {
        "Record deployment"
    } else {
        "Record anyway"
    };
    view! {
        <h1>"Record a deployment"</h1>
        <section class="card">
            {(!errs.is_empty()).then(|| view! { <div class="form-error" role="alert">"Please correct the marked fields."</div> })}
            <form method="post" action="/deployments" class="leave-form">
                {ui::csrf_field(ctx)}
                {select("f-service", "service", "Service", services.iter().map(|s| s.name.clone()).collect(), &f.service, errs.get("service"))}
                {select("f-environment", "environment", "Environment", envs.iter().map(|e| e.name.clone()).collect(), &f.environment, errs.get("environment"))}
                {ui::field("Version", "version", "text", &f.version, errs.get("version"), Some("e.g. v3.8.1"))}
                {select("f-status", "status", "Status", ["pending", "running", "succeeded", "failed"].map(String::from).to_vec(), status, errs.get("status"))}
                {ui::field("Image reference (optional)", "image_ref", "text", &f.image_ref, errs.get("image_ref"), Some("defaults to the service image with the version as tag"))}
                {ui::field("Digest (optional)", "digest", "text", &f.digest, errs.get("digest"), Some("sha256:…"))}
                {ui::field("Commit (optional)", "commit", "text", &f.commit, errs.get("commit"), None)}
                {ui::field("Note (optional)", "note", "text", &f.note, errs.get("note"), None)}
                <div class="field check">
                    <input type="checkbox" id="f-hotfix" name="hotfix" value="on" checked={f.hotfix == "on"}/>
                    <label for="f-hotfix">"Hotfix: made because of an incident"</label>
                </div>
                <input type="hidden" name="idempotency_key" value=f.idempotency_key.clone()/>
                {confirm}
                <button type="submit">{submit}</button>
            </form>
        </section>
    }
}

/// The rollback confirmation: what runs in that environment after it.
pub fn confirm_rollback(
    ctx: &PageCtx,
    d: &DeploymentRow,
    previous: Option<&DeploymentRow>,
) -> impl IntoView + use<> {
    let after = match previous {
        Some(p) => format!(
            "{} in {} will show {} again (deployment #{}), and {} will be marked rolled back.",
            d.service, d.environment, p.version, p.id, d.version
        ),
        None => format!(
            "No earlier succeeded deployment of {} in {} is recorded: the matrix will show nothing running there.",
            d.service, d.environment
        ),
    };
    let action = format!("/deployments/{}/status", d.id);
    let back = format!("/deployments/{}", d.id);
    let title = format!(
        "Roll back {} {} in {}?",
        d.service, d.version, d.environment
    );
    view! {
        <section class="card narrow">
            <h1>{title}</h1>
            <p>{after}</p>
            <p class="muted">"Everyone sees the change on the matrix, the home page and the history at once. It cannot be undone: a new deployment is recorded instead."</p>
            <form method="post" action=action class="row-actions">
                {ui::csrf_field(ctx)}
                <input type="hidden" name="status" value="rolled_back"/>
                <input type="hidden" name="confirm" value="yes"/>
                <button type="submit" class="danger">"Yes, mark it rolled back"</button>
                <a href=back class="button secondary">"Cancel"</a>
            </form>
        </section>
    }
}

/// The health-report confirmation: what everyone will see.
pub fn confirm_report(
    ctx: &PageCtx,
    s: &ServiceRow,
    env: &EnvRow,
    ok: bool,
    now: Option<model::Health>,
    note: &str,
) -> impl IntoView + use<> {
    let to = if ok { "up" } else { "down" };
    let from = now.unwrap_or(model::Health::Unknown).label();
    let title = format!("Report {} {} in {}?", s.name, to, env.name);
    let consequence = if ok {
        format!(
            "Its state changes from {from} to up for everyone, with your name and the time, until the next probe result."
        )
    } else {
        format!(
            "Its state changes from {from} to down for everyone: the matrix, the service page and the home page show it as down, with your name and the time, until someone reports it up or a probe succeeds."
        )
    };
    let action = format!("/services/{}/report", s.name);
    let back = format!("/services/{}", s.name);
    let class = if ok { "" } else { "danger" };
    let button = format!("Yes, report it {to}");
    view! {
        <section class="card narrow">
            <h1>{title}</h1>
            <p>{consequence}</p>
            <form method="post" action=action>
                {ui::csrf_field(ctx)}
                <input type="hidden" name="environment" value=env.name.clone()/>
                <input type="hidden" name="ok" value=ok.to_string()/>
                <input type="hidden" name="confirm" value="yes"/>
                {ui::field("What you see (optional)", "note", "text", note, None, Some("e.g. customer reports timeouts since 14:00"))}
                <div class="row-actions">
                    <button type="submit" class=class>{button}</button>
                    <a href=back class="button secondary">"Cancel"</a>
                </div>
            </form>
        </section>
    }
}

/// One deployment: its facts, and the correction form for its recorder or a lead.
pub fn deployment(
    ctx: &PageCtx,
    d: &DeploymentRow,
    may_correct: bool,
    typed: Option<&super::ops::CorrectionForm>,
    errs: &FormErrors,
) -> impl IntoView + use<> {
    let title = format!("{} {} → {}", d.service, d.version, d.environment);
    let finished = d
        .finished_at
        .map(|f| view! { <dt>"Finished"</dt><dd>{ui::when(ctx, f)}</dd> });
    let corrected = d.corrected_at.map(|c| view! { <dt>"Corrected"</dt><dd>{ui::when(ctx, c)}" "<small class="muted">"(see the audit log)"</small></dd> });
    let or_dash = |v: &str| {
        if v.is_empty() {
            "—".to_string()
        } else {
            v.to_string()
        }
    };
    let form = may_correct.then(|| {
        let (note, commit, image) = match typed {
            Some(f) => (f.note.clone(), f.commit.clone(), f.image_ref.clone()),
            None => (d.note.clone(), d.commit_sha.clone(), d.image_ref.clone()),
        };
        let action = format!("/deployments/{}", d.id);
        view! {
            <section class="card spaced">
                <h2>"Correct this record"</h2>
                <p class="hint">"Fix the note, the commit or the image; the status moves only along its steps, and the version never changes (record a new deployment instead). The correction is kept in the audit log."</p>
                <form method="post" action=action class="leave-form">
                    {ui::csrf_field(ctx)}
                    {errs.general.clone().map(|g| view! { <div class="form-error" role="alert">{g}</div> })}
                    {ui::field("Note", "note", "text", &note, errs.get("note"), None)}
                    {ui::field("Commit", "commit", "text", &commit, errs.get("commit"), None)}
                    {ui::field("Image reference", "image_ref", "text", &image, errs.get("image_ref"), None)}
                    <button type="submit">"Save correction"</button>
                </form>
            </section>
        }
    });
    let history = format!(
        "/deployments/history?service={}&environment={}",
        d.service, d.environment
    );
    view! {
        <h1>{title}</h1>
        <p><a href=history>"← History of this service here"</a></p>
        <dl class="facts">
            <dt>"Status"</dt><dd>{status_badge(d.status)}</dd>
            <dt>"Started"</dt><dd>{ui::when(ctx, d.started_at)}</dd>
            {finished}
            <dt>"Recorded by"</dt><dd>{format!("{} ({})", d.actor, d.source)}</dd>
            <dt>"Image"</dt><dd><code>{or_dash(&d.image_ref)}</code></dd>
            <dt>"Digest"</dt><dd><code>{or_dash(&d.digest)}</code></dd>
            <dt>"Commit"</dt><dd><code>{or_dash(&d.commit_sha)}</code></dd>
            <dt>"Note"</dt><dd>{or_dash(&d.note)}</dd>
            {corrected}
        </dl>
        {form}
    }
}

/// Uptime % and a latency line per environment over the samples, as inline SVG (no script).
fn health_chart(
    samples: &[SampleRow],
    envs: &[EnvRow],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> impl IntoView + use<> {
    const W: f64 = 640.0;
    const H: f64 = 160.0;
    let span = (now - since).num_seconds().max(1) as f64;
    let max_latency = samples
        .iter()
        .filter_map(|s| s.latency_ms)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let colors = [
        "#1f5fa8", "#b35c00", "#2e7d32", "#8e24aa", "#c62828", "#00838f",
    ];
    let mut lines = Vec::new();
    let mut legend = Vec::new();
    for (i, e) in envs.iter().enumerate() {
        let mine: Vec<&SampleRow> = samples
            .iter()
            .filter(|s| s.environment_id == e.id)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let ok = mine.iter().filter(|s| s.ok).count();
        let uptime = ok as f64 * 100.0 / mine.len() as f64;
        let points: String = mine
            .iter()
            .filter_map(|s| {
                let x = (s.at - since).num_seconds() as f64 / span * W;
                s.latency_ms
                    .map(|l| format!("{x:.1},{:.1} ", H - (l as f64 / max_latency) * (H - 10.0)))
            })
            .collect();
        let color = colors[i % colors.len()];
        let fails = mine
            .iter()
            .filter(|s| !s.ok)
            .map(|s| {
                let x = format!("{:.1}", (s.at - since).num_seconds() as f64 / span * W);
                view! { <line x1=x.clone() x2=x y1="0" y2=H.to_string() stroke="#c62828" stroke-opacity="0.35"/> }
            })
            .collect::<Vec<_>>();
        lines.push(view! { <g>{fails}<polyline points=points fill="none" stroke=color stroke-width="1.5"/></g> });
        legend.push(view! { <li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill=color/></svg>{format!(" {}: {uptime:.2} % up over {} checks", e.name, mine.len())}</li> });
    }
    if lines.is_empty() {
        return ui::empty_state("No health samples yet", "Set a health URL for an environment, or report health for a site that cannot be reached.").into_any();
    }
    let label = format!("latency, max {max_latency:.0} ms; red lines are failed checks");
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") width="100%" height="160" role="img" aria-label=label.clone()>
                <rect x="0" y="0" width=W.to_string() height=H.to_string() fill="#fbfcfd" stroke="#d8dee4"/>
                {lines}
            </svg>
            <figcaption>{label}</figcaption>
            <ul class="plain legend">{legend}</ul>
        </figure>
    }
    .into_any()
}

/// Which release line a running version belongs to, and that line's status.
pub struct LineNote {
    pub environment: String,
    pub version: String,
    pub line: String,
    pub href: String,
    pub status: &'static str,
    /// A production environment runs an end-of-life line.
    pub warn: bool,
}

/// The release lines of what runs where, with the end-of-life warning.
pub fn line_notes(notes: &[LineNote]) -> impl IntoView + use<> {
    let items = notes
        .iter()
        .map(|n| {
            let text = format!("{} runs {} from ", n.environment, n.version);
            let status = match n.status {
                "eol" => "end of life",
                s => s,
            };
            let warn = n.warn.then(|| {
                view! { <strong class="field-error">" — production runs a line that is no longer maintained: upgrade to a maintained line."</strong> }
            });
            view! { <li>{text}<a href=n.href.clone()>{n.line.clone()}</a>{format!(" ({status})")}{warn}</li> }
        })
        .collect::<Vec<_>>();
    (!notes.is_empty()).then(|| view! { <h2>"Release lines"</h2><ul class="plain">{items}</ul> })
}

pub struct ServiceView<'a> {
    pub service: &'a ServiceRow,
    pub envs: &'a [EnvRow],
    pub cells: &'a Cells,
    pub targets: &'a HashMap<i64, String>,
    pub images: &'a [ImageRecord],
    pub samples: &'a [SampleRow],
    pub incidents: &'a [IncidentRow],
    pub since: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub can_manage: bool,
    pub repositories: &'a [RepoRow],
    /// The release line of what runs in each environment.
    pub lines: &'a [LineNote],
    pub image_form: &'a ImageForm,
    pub image_errs: &'a FormErrors,
    /// A refused health URL: (environment id, what was typed, why).
    pub health_refusal: Option<(i64, String, String)>,
}

pub fn service(ctx: &PageCtx, v: ServiceView<'_>) -> impl IntoView + use<> {
    let s = v.service;
    let name = s.name.clone();
    let env_rows = v
        .envs
        .iter()
        .map(|e| {
            let cell = v.cells.get(&(s.id, e.id));
            let version = cell.and_then(|c| c.version.clone()).unwrap_or_else(|| "—".into());
            let refused = v.health_refusal.as_ref().filter(|(env, _, _)| *env == e.id);
            let url = match refused {
                Some((_, typed, _)) => typed.clone(),
                None => v.targets.get(&e.id).cloned().unwrap_or_default(),
            };
            let why = refused.map(|(_, _, why)| view! { <p class="field-error" role="alert">{why.clone()}</p> });
            let manage = v.can_manage.then(|| {
                let action = format!("/services/{}/health-url", s.name);
                let id = format!("hu-{}", e.id);
                let label = format!("Health URL in {}", e.name);
                view! {
                    <form method="post" action=action class="inline">
                        {ui::csrf_field(ctx)}
                        <input type="hidden" name="environment" value=e.name.clone()/>
                        <label for=id.clone() class="sr-only">{label}</label>
                        <input id=id name="url" type="url" value=url.clone() placeholder="https://…/healthz"/>
                        <button type="submit" class="secondary small">"Save"</button>
                        {why}
                    </form>
                }
            });
            let report_action = format!("/services/{}/report", s.name);
            let may_report = policy::can(
                ctx.user.as_ref(),
                policy::Action::ReportHealth {
                    production: e.tier == "production",
                },
            );
            let report = may_report.then(|| view! {
                <form method="post" action=report_action class="inline">
                    {ui::csrf_field(ctx)}
                    <input type="hidden" name="environment" value=e.name.clone()/>
                    <button type="submit" name="ok" value="true" class="secondary small">"report up…"</button>
                    <button type="submit" name="ok" value="false" class="danger small">"report down…"</button>
                </form>
            });
            view! {
                <tr>
                    <th scope="row">{e.name.clone()}</th>
                    <td data-label="Version"><code>{version}</code></td>
                    <td data-label="Health">{health_of_cell(ctx, cell)}</td>
                    <td data-label="Health URL">{manage}</td>
                    <td data-label="Report">{report}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    // Images: versions × (registry, arch) with flags.
    let mut versions: Vec<&str> = v.images.iter().map(|i| i.version.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    versions.sort_by_key(|v| std::cmp::Reverse(model::parse_version(v)));
    let image_rows = versions
        .iter()
        .take(20)
        .map(|ver| {
            let rows: Vec<model::ImageRow> = v
                .images
                .iter()
                .filter(|i| i.version == *ver)
                .map(|i| model::ImageRow { registry: &i.registry, arch: &i.arch, digest: &i.digest })
                .collect();
            let flags = model::image_flags(&rows);
            let detail = rows
                .iter()
                .map(|r| view! { <li><code>{format!("{} {} {}", r.registry, r.arch, &r.digest[..19.min(r.digest.len())])}</code></li> })
                .collect::<Vec<_>>();
            let flag_view = if flags.is_empty() {
                view! { <span class="badge health-up">"complete"</span> }.into_any()
            } else {
                let items = flags.into_iter().map(|f| view! { <li class="skew">{format!("⚠ {f}")}</li> }).collect::<Vec<_>>();
                view! { <ul class="plain">{items}</ul> }.into_any()
            };
            view! { <tr><td><code>{ver.to_string()}</code></td><td><ul class="plain">{detail}</ul></td><td>{flag_view}</td></tr> }
        })
        .collect::<Vec<_>>();
    let no_images = image_rows.is_empty();
    let arches = model::ARCHES
        .iter()
        .map(|a| {
            let sel = *a == v.image_form.arch;
            view! { <option value=*a selected=sel>{*a}</option> }
        })
        .collect::<Vec<_>>();
    let image_action = format!("/services/{}/images", s.name);
    let incidents = incident_table(ctx, v.incidents);
    let history = format!("/deployments/history?service={}", s.name);
    let all_incidents = format!("/incidents?service={}", s.name);
    let repo = match &s.repository {
        Some(r) => {
            let href = format!("/releases/{r}");
            view! { " · versions from repository "<a href=href>{r.clone()}</a> }.into_any()
        }
        None => view! { " · not linked to a repository" }.into_any(),
    };
    let link_form = v.can_manage.then(|| {
        let action = format!("/services/{}/repository", s.name);
        let current = s.repository.clone().unwrap_or_default();
        view! {
            <form method="post" action=action class="filters">
                {ui::csrf_field(ctx)}
                <label for="svc-repository">"Repository"</label>
                {repository_select("svc-repository", v.repositories, &current)}
                <button type="submit" class="secondary small">"Link"</button>
            </form>
        }
    });
    view! {
        <h1>{name}</h1>
        <p class="muted">{format!("role {} · supervised by {} · owner {} · probe every {} s, timeout {} s, down after {} failures", s.role, s.supervisor, s.owner, s.probe_interval_seconds, s.probe_timeout_seconds, s.probe_failures)}{repo}</p>
        {link_form}
        <p><a href=history>"Deployment history →"</a>" · "<a href=all_incidents>"Incidents →"</a></p>
        <h2>"Where it runs"</h2>
        <div class="table-wrap"><table class="cards">
            <thead><tr><th>"Environment"</th><th>"Version"</th><th>"Health"</th><th>"Health URL"</th><th>"Report"</th></tr></thead>
            <tbody>{env_rows}</tbody>
        </table></div>
        {line_notes(v.lines)}
        <h2>"Health, last 24 hours"</h2>
        {health_chart(v.samples, v.envs, v.since, v.now)}
        <h2>"Images"</h2>
        {if no_images {
            ui::empty_state("No images recorded", "Record each version's digest per registry and architecture.").into_any()
        } else {
            view! { <div class="table-wrap"><table>
                <thead><tr><th>"Version"</th><th>"Registry · arch · digest"</th><th>"Flags"</th></tr></thead>
                <tbody>{image_rows}</tbody>
            </table></div> }.into_any()
        }}
        <section class="card spaced">
            <h2>"Record an image"</h2>
            <form method="post" action=image_action class="leave-form">
                {ui::csrf_field(ctx)}
                {ui::field("Version", "version", "text", &v.image_form.version, v.image_errs.get("version"), None)}
                {ui::field("Registry", "registry", "text", &v.image_form.registry, v.image_errs.get("registry"), Some("e.g. ghcr.io"))}
                <div class="field"><label for="f-arch">"Architecture"</label><select id="f-arch" name="arch">{arches}</select></div>
                {ui::field("Digest", "digest", "text", &v.image_form.digest, v.image_errs.get("digest"), Some("sha256:…"))}
                <button type="submit">"Record image"</button>
            </form>
        </section>
        <h2>"Incidents"</h2>
        {incidents}
    }
}

pub fn incident_table(ctx: &PageCtx, list: &[IncidentRow]) -> impl IntoView + use<> {
    if list.is_empty() {
        return ui::empty_state(
            "No incidents",
            "Incidents opened for this service appear here.",
        )
        .into_any();
    }
    let rows = list
        .iter()
        .map(|i| {
            let state = match i.resolved_at {
                Some(r) => view! { <span>{format!("resolved after {}", ui::time::duration(r - i.opened_at))}</span> }.into_any(),
                None => view! { <span class="badge health-down">"open"</span> }.into_any(),
            };
            let cause = i.deployment_id.map(|d| {
                let v = i.deployment_version.clone().unwrap_or_default();
                view! { <br/><small class="muted">"caused by "<a href=format!("/deployments/{d}")>{format!("#{d} {v}")}</a></small> }
            });
            let sev = format!("badge sev-{}", i.severity);
            let href = format!("/incidents/{}", i.id);
            view! {
                <tr>
                    <td data-label="Severity"><span class=sev>{i.severity.clone()}</span></td>
                    <td data-label="What"><a href=href>{i.title.clone()}</a>{cause}</td>
                    <td data-label="Where">{format!("{} · {}", i.service, i.environment)}</td>
                    <td data-label="Opened" class="nowrap">{ui::when(ctx, i.opened_at)}</td>
                    <td data-label="State">{state}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    view! { <div class="table-wrap"><table class="cards">
        <thead><tr><th>"Severity"</th><th>"What"</th><th>"Where"</th><th>"Opened"</th><th>"State"</th></tr></thead>
        <tbody>{rows}</tbody>
    </table></div> }
    .into_any()
}

pub struct IncidentsView<'a> {
    pub list: &'a [IncidentRow],
    pub services: &'a [ServiceRow],
    pub envs: &'a [EnvRow],
    /// The filters: a service name, and "open" for open ones only.
    pub service: &'a str,
    pub state: &'a str,
    pub form: &'a IncidentForm,
    pub errs: &'a FormErrors,
}

pub fn incidents(ctx: &PageCtx, v: IncidentsView<'_>) -> impl IntoView + use<> {
    let IncidentsView {
        list,
        services,
        envs,
        service,
        state,
        form: f,
        errs,
    } = v;
    let svc_opts = std::iter::once((String::new(), "any service".to_string()))
        .chain(services.iter().map(|s| (s.name.clone(), s.name.clone())))
        .map(|(v, l)| {
            let sel = v == service;
            view! { <option value=v selected=sel>{l}</option> }
        })
        .collect::<Vec<_>>();
    let open_only = state == "open";
    view! {
        <h1>"Incidents"</h1>
        <form method="get" action="/incidents" class="filters" role="search">
            <label for="i-s" class="sr-only">"Service"</label><select id="i-s" name="service">{svc_opts}</select>
            <label for="i-st" class="sr-only">"State"</label>
            <select id="i-st" name="state">
                <option value="" selected=!open_only>"open and resolved"</option>
                <option value="open" selected=open_only>"open only"</option>
            </select>
            <button type="submit" class="secondary">"Filter"</button>
        </form>
        {incident_table(ctx, list)}
        <section class="card spaced">
            <h2>"Open an incident"</h2>
            <form method="post" action="/incidents" class="leave-form">
                {ui::csrf_field(ctx)}
                {select("f-service", "service", "Service", services.iter().map(|s| s.name.clone()).collect(), &f.service, errs.get("service"))}
                {select("f-environment", "environment", "Environment", envs.iter().map(|e| e.name.clone()).collect(), &f.environment, errs.get("environment"))}
                {select("f-severity", "severity", "Severity", ["sev1", "sev2", "sev3", "sev4"].map(String::from).to_vec(), &f.severity, errs.get("severity"))}
                {ui::field("What happened", "title", "text", &f.title, errs.get("title"), None)}
                {ui::field("Caused by deployment # (optional)", "deployment", "text", &f.deployment, errs.get("deployment"), Some("the number in the history, e.g. 1234"))}
                <button type="submit">"Open incident"</button>
            </form>
        </section>
    }
}

/// One incident: what, where, severity, the causing deployment, and its timeline (opened,
/// updates, resolved) with the forms to add an update or resolve it. `typed` is a refused
/// form's (which, text, why).
pub fn incident(
    ctx: &PageCtx,
    i: &IncidentRow,
    updates: &[IncidentUpdate],
    typed: Option<(&'static str, String, String)>,
) -> impl IntoView + use<> {
    let title = format!("#{} {}", i.id, i.title);
    let sev = format!("badge sev-{}", i.severity);
    let how = match i.attribution.as_str() {
        "explicit" => " — named".to_string(),
        "none" => String::new(),
        _ => format!(
            " — by default: the latest production deployment of {} before it",
            i.service
        ),
    };
    let cause = match (i.deployment_id, i.attribution.as_str()) {
        (Some(d), _) => {
            let v = i.deployment_version.clone().unwrap_or_default();
            view! { <a href=format!("/deployments/{d}")>{format!("deployment #{d} ({v})")}</a>{how} }
                .into_any()
        }
        (None, "none") => view! { <span>"no deployment (a lead said so)"</span> }.into_any(),
        (None, _) => {
            view! { <span class="muted">"no production deployment in the window before it"</span> }
                .into_any()
        }
    };
    let attribute = policy::can(ctx.user.as_ref(), policy::Action::AttributeIncident).then(|| {
        let (which, text, why) = typed.clone().unwrap_or(("", String::new(), String::new()));
        let value = if which == "cause" { text } else { String::new() };
        let err = (which == "cause").then(|| view! { <p class="field-error" role="alert">{why}</p> });
        let action = format!("/incidents/{}/cause", i.id);
        view! {
            <details class="card">
                <summary>"Change what caused it"</summary>
                <form method="post" action=action class="inline-form">
                    {ui::csrf_field(ctx)}
                    <div class="field"><label for="c-cause">"Deployment number, “none”, or “default”"</label>
                        <input id="c-cause" name="cause" type="text" value=value placeholder="e.g. 1234"/>{err}</div>
                    <button type="submit" class="secondary">"Save cause"</button>
                </form>
            </details>
        }
    });
    let mut events = vec![view! {
        <li><strong>"Opened"</strong>" "{ui::when(ctx, i.opened_at)}{i.opened_by.clone().map(|b| format!(" by {b}"))}</li>
    }.into_any()];
    for u in updates {
        events.push(view! {
            <li><strong>{u.author.clone().unwrap_or_else(|| "someone".into())}</strong>" "{ui::when(ctx, u.at)}<p>{u.body.clone()}</p></li>
        }.into_any());
    }
    if let Some(r) = i.resolved_at {
        events.push(view! {
            <li class="resolved"><strong>"Resolved"</strong>" "{ui::when(ctx, r)}{i.resolved_by.clone().map(|b| format!(" by {b}"))}
                {format!(" — after {}", ui::time::duration(r - i.opened_at))}
                {(!i.resolution.is_empty()).then(|| view! { <p>{i.resolution.clone()}</p> })}</li>
        }.into_any());
    }
    let may = policy::can(ctx.user.as_ref(), policy::Action::RecordIncident);
    let forms = (i.resolved_at.is_none() && may).then(|| {
        let (which, text, why) = typed.clone().unwrap_or(("", String::new(), String::new()));
        let val = |w: &str| if which == w { text.clone() } else { String::new() };
        let err = |w: &str| (which == w).then(|| view! { <p class="field-error" role="alert">{why.clone()}</p> });
        let update = format!("/incidents/{}", i.id);
        let resolve = format!("/incidents/{}/resolve", i.id);
        view! {
            <div class="grid spaced">
                <section class="card">
                    <h2>"Add an update"</h2>
                    <form method="post" action=update>
                        {ui::csrf_field(ctx)}
                        <div class="field"><label for="u-body">"What is known now"</label>
                            {ui::textarea("u-body".into(), "body".into(), "3", &val("update"))}{err("update")}</div>
                        <button type="submit" class="secondary">"Add update"</button>
                    </form>
                </section>
                <section class="card">
                    <h2>"Resolve"</h2>
                    <form method="post" action=resolve>
                        {ui::csrf_field(ctx)}
                        <div class="field"><label for="r-body">"What restored service"</label>
                            {ui::textarea("r-body".into(), "body".into(), "3", &val("resolve"))}{err("resolve")}</div>
                        <button type="submit">"Resolve incident"</button>
                    </form>
                </section>
            </div>
        }
    });
    let refused = (i.resolved_at.is_some() || !may)
        .then(|| {
            typed
                .filter(|(which, _, _)| *which != "cause")
                .map(|(_, _, why)| view! { <div class="form-error" role="alert">{why}</div> })
        })
        .flatten();
    let svc = format!("/services/{}", i.service);
    view! {
        <h1>{title}</h1>
        {refused}
        <p><a href="/incidents">"← Incidents"</a></p>
        <dl class="facts">
            <dt>"Severity"</dt><dd><span class=sev>{i.severity.clone()}</span></dd>
            <dt>"Where"</dt><dd><a href=svc>{i.service.clone()}</a>{format!(" in {}", i.environment)}</dd>
            <dt>"Caused by"</dt><dd>{cause}</dd>
            <dt>"State"</dt><dd>{if i.resolved_at.is_some() { view! { <span class="badge health-up">"resolved"</span> }.into_any() } else { view! { <span class="badge health-down">"open"</span> }.into_any() }}</dd>
        </dl>
        {attribute}
        <h2>"Timeline"</h2>
        <ol class="timeline">{events}</ol>
        {forms}
    }
}

pub fn bundle(env: &EnvRow, entries: &[(String, String)]) -> impl IntoView + use<> {
    let refs: Vec<String> = entries.iter().map(|(_, r)| r.clone()).collect();
    let pull = refs
        .iter()
        .map(|r| format!("docker pull {r}"))
        .collect::<Vec<_>>()
        .join("\n");
    let save = format!("docker save -o {}-bundle.tar {}", env.name, refs.join(" "));
    let load = format!(
        "docker load -i {}-bundle.tar\ndocker compose up -d",
        env.name
    );
    let items = entries
        .iter()
        .map(|(s, r)| view! { <li><strong>{s.clone()}</strong>" "<code>{r.clone()}</code></li> })
        .collect::<Vec<_>>();
    let title = format!("Bundle plan for {}", env.name);
    view! {
        <h1>{title}</h1>
        <p class="muted">"The exact images running in this offline environment. Pull them where the registry is reachable, save them to one file, carry it, load it on site."</p>
        {if entries.is_empty() {
            ui::empty_state("Nothing deployed here yet", "Record the deployments of this site first.").into_any()
        } else {
            view! {
                <ul class="plain">{items}</ul>
                <h2>"1. Pull (connected machine)"</h2><pre class="cmd">{pull}</pre>
                <h2>"2. Save"</h2><pre class="cmd">{save}</pre>
                <h2>"3. Load and start (on site)"</h2><pre class="cmd">{load}</pre>
            }.into_any()
        }}
    }
}
