//! Views of deployment state: the matrix, an environment diff, history, a service, incidents,
//! the offline bundle plan, and the forms.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::{
    model::{self, Skew},
    ops::{DeploymentInput, EnvForm, ImageForm, IncidentForm, ServiceForm, TIERS},
    store::{CellRow, DeploymentRow, EnvRow, ImageRecord, IncidentRow, SampleRow, ServiceRow},
};
use crate::{
    auth::{model::AccountId, policy},
    ui::{self, PageCtx, form::FormErrors},
};

pub type Cells = HashMap<(i64, i64), CellRow>;

fn health_badge(h: Option<model::Health>) -> impl IntoView + use<> {
    let h = h.unwrap_or(model::Health::Unknown);
    let class = format!("badge health-{}", h.as_str());
    view! { <span class=class>{h.label()}</span> }
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
                                .map(|f| model::age(now - f))
                                .unwrap_or_default();
                            view! { <a href=history class="version">{v}</a>" "<small class="muted">{age}</small> }.into_any()
                        }
                        None => view! { <a href=history class="muted">"—"</a> }.into_any(),
                    };
                    let health = cell.and_then(|c| c.health).map(|h| view! { <br/>{health_badge(Some(h))} });
                    view! { <td class=class>{body}{health}{warn}</td> }
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
                <div class="table-wrap matrix"><table>
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
}

fn manage_forms(ctx: &PageCtx, m: ManageForms<'_>) -> impl IntoView + use<> {
    let ManageForms {
        service,
        service_errs: se,
        env,
        env_errs: ee,
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
                    {ui::field("Name", "name", "text", &service.name, se.get("name"), Some("e.g. api, rpc-user, push"))}
                    {ui::field("Role", "role", "text", &service.role, se.get("role"), Some("api, rpc, worker, web, … (skew rules use it)"))}
                    {ui::field("Image", "image", "text", &service.image, se.get("image"), Some("e.g. ghcr.io/example/api, without a tag"))}
                    <div class="field"><label for="f-supervisor">"Supervised by"</label><select id="f-supervisor" name="supervisor">{sups}</select></div>
                    {ui::field("Probe every (seconds)", "probe_interval_seconds", "text", interval, se.get("probe_interval_seconds"), None)}
                    <button type="submit">"Add service"</button>
                </form>
            </section>
            <section class="card">
                <h2>"Add an environment"</h2>
                <form method="post" action="/environments">
                    {ui::csrf_field(ctx)}
                    {general(ee)}
                    {ui::field("Name", "name", "text", &env.name, ee.get("name"), Some("e.g. dev, staging, prod"))}
                    <div class="field"><label for="f-tier">"Tier"</label><select id="f-tier" name="tier">{tiers}</select></div>
                    {ee.get("tier").cloned().map(|e| view! { <p class="field-error">{e}</p> })}
                    {ui::field("Order", "position", "text", position, ee.get("position"), Some("columns are sorted by it"))}
                    {ui::field("URL (optional)", "url", "text", &env.url, ee.get("url"), Some("https://…"))}
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
    let tz = ctx.tz().to_string();
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
                    let label = to.label();
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
                    <td>{format!("#{}", d.id)}</td>
                    <td>{ui::local_time(d.started_at, &tz)}</td>
                    <td><a href=format!("/services/{}", d.service)>{d.service.clone()}</a></td>
                    <td>{d.environment.clone()}</td>
                    <td><code>{d.version.clone()}</code>{note}</td>
                    <td>{status_badge(d.status)}</td>
                    <td>{d.actor.clone()}<br/><small class="muted">{d.source.clone()}</small></td>
                    <td><div class="row-actions">{moves}</div></td>
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
            view! { <div class="table-wrap"><table>
                <thead><tr><th>"#"</th><th>"Started"</th><th>"Service"</th><th>"Env"</th><th>"Version"</th><th>"Status"</th><th>"By"</th><th>"Move to"</th></tr></thead>
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
) -> impl IntoView + use<> {
    let status = if f.status.is_empty() {
        "succeeded"
    } else {
        f.status.as_str()
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
                <input type="hidden" name="idempotency_key" value=f.idempotency_key.clone()/>
                <button type="submit">"Record deployment"</button>
            </form>
        </section>
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
                    <button type="submit" name="ok" value="true" class="secondary small">"report up"</button>
                    <button type="submit" name="ok" value="false" class="danger small">"report down"</button>
                </form>
            });
            view! {
                <tr>
                    <th scope="row">{e.name.clone()}</th>
                    <td><code>{version}</code></td>
                    <td>{health_badge(cell.and_then(|c| c.health))}</td>
                    <td>{manage}</td>
                    <td>{report}</td>
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
    view! {
        <h1>{name}</h1>
        <p class="muted">{format!("role {} · supervised by {} · owner {} · probe every {} s, timeout {} s, down after {} failures", s.role, s.supervisor, s.owner, s.probe_interval_seconds, s.probe_timeout_seconds, s.probe_failures)}</p>
        <p><a href=history>"Deployment history →"</a></p>
        <h2>"Where it runs"</h2>
        <div class="table-wrap"><table>
            <thead><tr><th>"Environment"</th><th>"Version"</th><th>"Health"</th><th>"Health URL"</th><th>"Report"</th></tr></thead>
            <tbody>{env_rows}</tbody>
        </table></div>
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
    let tz = ctx.tz().to_string();
    let rows = list
        .iter()
        .map(|i| {
            let state = match i.resolved_at {
                Some(r) => view! { <span>{format!("resolved after {}", model::age(r - i.opened_at))}</span> }.into_any(),
                None => {
                    let action = format!("/incidents/{}/resolve", i.id);
                    view! {
                        <span class="badge health-down">"open"</span>" "
                        <form method="post" action=action class="inline">
                            {ui::csrf_field(ctx)}
                            <button type="submit" class="secondary small">"Resolve"</button>
                        </form>
                    }
                    .into_any()
                }
            };
            let cause = i.deployment_id.map(|d| format!("deployment #{d}")).unwrap_or_default();
            let sev = format!("badge sev-{}", i.severity);
            view! {
                <tr>
                    <td><span class=sev>{i.severity.clone()}</span></td>
                    <td>{i.title.clone()}<br/><small class="muted">{cause}</small></td>
                    <td>{format!("{} · {}", i.service, i.environment)}</td>
                    <td>{ui::local_time(i.opened_at, &tz)}</td>
                    <td>{state}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    view! { <div class="table-wrap"><table>
        <thead><tr><th>"Severity"</th><th>"What"</th><th>"Where"</th><th>"Opened"</th><th>"State"</th></tr></thead>
        <tbody>{rows}</tbody>
    </table></div> }
    .into_any()
}

pub fn incidents(
    ctx: &PageCtx,
    list: &[IncidentRow],
    services: &[ServiceRow],
    envs: &[EnvRow],
    f: &IncidentForm,
    errs: &FormErrors,
) -> impl IntoView + use<> {
    view! {
        <h1>"Incidents"</h1>
        {incident_table(ctx, list)}
        <section class="card spaced">
            <h2>"Open an incident"</h2>
            <form method="post" action="/incidents" class="leave-form">
                {ui::csrf_field(ctx)}
                {select("f-service", "service", "Service", services.iter().map(|s| s.name.clone()).collect(), &f.service, errs.get("service"))}
                {select("f-environment", "environment", "Environment", envs.iter().map(|e| e.name.clone()).collect(), &f.environment, errs.get("environment"))}
                {select("f-severity", "severity", "Severity", ["sev1", "sev2", "sev3", "sev4"].map(String::from).to_vec(), &f.severity, errs.get("severity"))}
                {ui::field("What happened", "title", "text", &f.title, errs.get("title"), None)}
                {ui::field("Caused by deployment # (optional)", "deployment", "text", &f.deployment, errs.get("deployment"), None)}
                <button type="submit">"Open incident"</button>
            </form>
        </section>
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
