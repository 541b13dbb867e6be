//! `/insight`: the five keys as tiles (value, band with its source year, sparkline), a chart per
//! key over weeks (server-rendered SVG with a title, axis labels and a table of its values), review
//! speed and release cadence; `/insight/rows` lists the rows behind a number, `.csv` exports them.

use std::sync::Arc;

use axum::{
    extract::{Query, State},
    http::header,
    response::{Html, IntoResponse, Response},
};
use leptos::prelude::*;

use super::{
    Data, Filter,
    model::{self, BAND_SOURCE, Key, KeyValue},
    store,
};
use crate::{
    error::AppResult,
    state::AppState,
    ui::{self, PageCtx},
};

/// A bar chart of weekly values as SVG markup. `small` is the tile's sparkline (no axes).
pub fn chart(kv: &KeyValue, small: bool) -> String {
    let (w, h, left, bottom) = if small {
        (160.0, 36.0, 0.0, 0.0)
    } else {
        (640.0, 200.0, 56.0, 28.0)
    };
    let values: Vec<f64> = kv.weekly.iter().map(|(_, v)| v.unwrap_or(0.0)).collect();
    let max = values.iter().cloned().fold(0.0_f64, f64::max);
    let top = if max > 0.0 { max } else { 1.0 };
    let n = values.len().max(1) as f64;
    let slot = (w - left) / n;
    let plot_h = h - bottom - if small { 0.0 } else { 10.0 };
    let title = ui::escape_text(&format!(
        "{} per week, {} weeks",
        kv.key.title(),
        kv.weekly.len()
    ));
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-labelledby="t-{k}{s}" preserveAspectRatio="none"><title id="t-{k}{s}">{title}</title>"#,
        k = kv.key.slug(),
        s = if small { "-s" } else { "" }
    );
    for (i, ((week, v), value)) in kv.weekly.iter().zip(&values).enumerate() {
        let bh = (value / top * plot_h).max(if v.is_some() { 1.0 } else { 0.0 });
        let x = left + i as f64 * slot + slot * 0.15;
        let y = h - bottom - bh;
        let label = match v {
            Some(v) => week_value(kv.key, *v),
            None => "nothing".into(),
        };
        let (x, y, bw, bh) = (Tenths(x), Tenths(y), Tenths(slot * 0.7), Tenths(bh));
        svg.push_str(&format!(
            r#"<rect x="{x}" y="{y}" width="{bw}" height="{bh}"><title>week of {week}: {}</title></rect>"#,
            ui::escape_text(&label)
        ));
    }
    if !small {
        let axis_y = h - bottom;
        svg.push_str(&format!(
            r#"<line x1="{left}" y1="{axis_y}" x2="{w}" y2="{axis_y}" class="axis"/><line x1="{left}" y1="0" x2="{left}" y2="{axis_y}" class="axis"/>"#
        ));
        svg.push_str(&format!(
            r#"<text x="{}" y="12" text-anchor="end" class="tick">{}</text><text x="{}" y="{axis_y}" text-anchor="end" class="tick">0</text>"#,
            left - 4.0,
            ui::escape_text(&week_value(kv.key, top)),
            left - 4.0
        ));
        if let (Some((first, _)), Some((last, _))) = (kv.weekly.first(), kv.weekly.last()) {
            svg.push_str(&format!(
                r#"<text x="{left}" y="{}" class="tick">week of {first}</text><text x="{w}" y="{}" text-anchor="end" class="tick">week of {last}</text>"#,
                h - 6.0,
                h - 6.0
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

/// `v` with one decimal. The float formatter's exact mode (`{:.1}`) took a sixth of the page's
/// CPU in a profile of `/insight` (a hundred bars × four coordinates); integer arithmetic does not.
struct Tenths(f64);

impl std::fmt::Display for Tenths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = (self.0 * 10.0).round() as i64;
        let sign = if t < 0 { "-" } else { "" };
        let t = t.unsigned_abs();
        write!(f, "{sign}{}.{}", t / 10, t % 10)
    }
}

/// One week's value: frequency is a count that week, the rest as the key shows them.
fn week_value(key: Key, v: f64) -> String {
    match key {
        Key::Frequency => format!("{v:.0}"),
        k => model::show(k, v),
    }
}

fn band_badge(kv: &KeyValue) -> AnyView {
    match (kv.value, kv.band) {
        (None, _) => view! { <span class="badge">"not enough data"</span> }.into_any(),
        (Some(_), Some(b)) => {
            let class = format!("badge band-{}", b.label());
            view! { <span class=class title=BAND_SOURCE>{format!("{} (DORA 2021)", b.label())}</span> }
                .into_any()
        }
        (Some(_), None) => view! { <span class="badge" title="The 2021 report has no bands for rework rate">"no published band"</span> }
            .into_any(),
    }
}

fn tile(kv: &KeyValue, query: &str) -> impl IntoView + use<> {
    let value = kv
        .value
        .map_or_else(|| "—".to_string(), |v| model::show(kv.key, v));
    let second = kv.second.map(|s| match kv.key {
        Key::Frequency => format!("{s:.1} deployment days / week"),
        _ => format!("p90 {}", model::show_hours(s)),
    });
    let href = format!("/insight/rows?key={}&{query}", kv.key.slug());
    let spark = chart(kv, true);
    view! {
        <section class="card tile">
            <h2>{kv.key.title()}</h2>
            <p class="big">{value}" "{band_badge(kv)}</p>
            {second.map(|s| view! { <p class="muted">{s}</p> })}
            <p><a href=href>{kv.detail.clone()}</a></p>
            <div class="spark" inner_html=spark></div>
        </section>
    }
}

/// The home page's Delivery card: the team's keys, linked to insight.
pub fn tiles_compact(report: &model::Report) -> impl IntoView + use<> {
    let items = report
        .keys
        .iter()
        .map(|kv| {
            let value = kv
                .value
                .map_or_else(|| "not enough data".to_string(), |v| model::show(kv.key, v));
            let band = kv.band.map(|b| format!(" · {}", b.label()));
            let href = format!("/insight/rows?key={}&window=30", kv.key.slug());
            let label = format!("{}: ", kv.key.title());
            view! { <li>{label}<a href=href><strong>{value}</strong></a>{band}</li> }
        })
        .collect::<Vec<_>>();
    view! {
        <ul class="plain">{items}</ul>
        <p class="muted">"Last 30 days, production. Bands: DORA 2021. "<a href="/insight">"Insight →"</a></p>
    }
}

fn filters(f: &Filter, services: &[String], envs: &[String]) -> impl IntoView + use<> {
    let opts = |list: &[String], chosen: &str, all: &'static str| {
        std::iter::once((String::new(), all.to_string()))
            .chain(list.iter().map(|s| (s.clone(), s.clone())))
            .map(|(value, text)| {
                let sel = value == chosen;
                view! { <option value=value selected=sel>{text}</option> }
            })
            .collect::<Vec<_>>()
    };
    let windows = ["30", "90", "180"].map(|w| {
        let sel = f.days().to_string() == w;
        view! { <option value=w selected=sel>{format!("{w} days")}</option> }
    });
    view! {
        <form method="get" action="/insight" class="filters">
            <div class="field"><label for="i-service">"Service"</label>
                <select id="i-service" name="service">{opts(services, &f.service, "All services")}</select></div>
            <div class="field"><label for="i-environment">"Production environment"</label>
                <select id="i-environment" name="environment">{opts(envs, &f.environment, "All")}</select></div>
            <div class="field"><label for="i-window">"Window"</label>
                <select id="i-window" name="window">{windows}</select></div>
            <button type="submit" class="secondary">"Show"</button>
        </form>
    }
}

fn key_chart(kv: &KeyValue, query: &str) -> impl IntoView + use<> {
    let svg = chart(kv, false);
    let rows = kv
        .weekly
        .iter()
        .map(|(w, v)| {
            let v = v.map_or_else(|| "—".to_string(), |v| week_value(kv.key, v));
            view! { <tr><td>{w.to_string()}</td><td>{v}</td></tr> }
        })
        .collect::<Vec<_>>();
    let href = format!("/insight/rows?key={}&{query}", kv.key.slug());
    view! {
        <section class="card">
            <h3>{kv.key.title()}</h3>
            <p class="muted">{kv.key.explains()}" "<a href=href>"The rows →"</a></p>
            <div inner_html=svg></div>
            <details><summary>"Values by week"</summary>
                <table><thead><tr><th>"Week of"</th><th>"Value"</th></tr></thead><tbody>{rows}</tbody></table>
            </details>
        </section>
    }
}

pub async fn insight(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(f): Query<Filter>,
) -> AppResult<Html<String>> {
    let now = state.clock.now();
    // The same for every viewer of these filters today: kept in this replica's cache until a
    // deployment, an incident, a change, a tag, a review or a backport is recorded (src/cache) —
    // the windows are whole UTC days, so the day is part of the key. Filters longer than any
    // name are not kept (they match nothing, and must not crowd out what is worth keeping).
    let load = async {
        let (report, choices, months, states, lines) = tokio::try_join!(
            super::compute(&state, &f),
            async { Ok(store::choices(&state.pool).await?) },
            async { Ok(store::review_speed(&state.pool, now, 6).await?) },
            async { Ok(store::doc_states(&state.pool, now).await?) },
            async { Ok::<_, crate::error::AppError>(store::cadence(&state.pool).await?) },
        )?;
        Ok::<_, crate::error::AppError>(Arc::new((report, choices, months, states, lines)))
    };
    let data = if f.service.len() <= 100 && f.environment.len() <= 100 {
        let key = format!("insight:{}:{}", now.date_naive(), f.query());
        state.cache.get_or(&key, super::TOPICS, load).await?
    } else {
        load.await?
    };
    let (report, (services, envs), months, (states, overdue), lines) = &*data;
    let query = f.query();
    let tiles = report
        .keys
        .iter()
        .map(|kv| tile(kv, &query))
        .collect::<Vec<_>>();
    let charts = report
        .keys
        .iter()
        .map(|kv| key_chart(kv, &query))
        .collect::<Vec<_>>();
    let month_rows = months
        .iter()
        .map(|m| {
            let h = |v: Option<f64>| v.map_or_else(|| "—".to_string(), model::show_hours);
            view! { <tr><td>{m.month.clone()}</td><td>{m.docs}</td><td>{h(m.first_verdict_hours)}</td><td>{h(m.decision_hours)}</td></tr> }
        })
        .collect::<Vec<_>>();
    let state_list = states
        .iter()
        .map(|(s, n)| {
            let href = format!("/docs?status={s}");
            view! { <li><a href=href>{format!("{n} {}", s.replace('_', " "))}</a></li> }
        })
        .collect::<Vec<_>>();
    let line_rows = lines
        .iter()
        .map(|l| {
            let href = format!("/releases/{}/{}", l.repository, l.line);
            let opened = l.opened_at.map_or_else(|| "—".into(), |t| ui::when_text(&ctx, t));
            let pick = l
                .backport_hours
                .map_or_else(|| "—".into(), model::show_hours);
            view! {
                <tr>
                    <td data-label="Line"><a href=href>{format!("{} {}", l.repository, l.line)}</a></td>
                    <td data-label="Opened">{opened}</td>
                    <td data-label="Tags">{l.tags}</td>
                    <td data-label="Backports picked">{l.backports_picked}</td>
                    <td data-label="Request → picked (median)">{pick}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    let scope = match (f.service.as_str(), f.environment.as_str()) {
        ("", "") => "all services, every production environment".to_string(),
        (s, "") => format!("{s}, every production environment"),
        ("", e) => format!("all services in {e}"),
        (s, e) => format!("{s} in {e}"),
    };
    let csv = format!("/insight/rows.csv?key=frequency&{query}");
    let body = view! {
        <h1>"Insight"</h1>
        <p class="muted">{format!("DORA's five keys for {scope}, the last {} days. Bands from the {BAND_SOURCE}; fewer than {} data points show “not enough data”.", f.days(), state.config.insight_min_points)}</p>
        {filters(&f, services, envs)}
        <div class="grid tiles">{tiles}</div>
        <h2>"Week by week"</h2>
        {charts}
        <p><a href=csv>"Download the deployments as CSV"</a></p>
        <h2>"Review speed"</h2>
        <section class="card">
            <p>{format!("{overdue} reviews overdue now.")}" "<a href="/docs?status=in_review">"Docs in review →"</a></p>
            <ul class="plain inline-list">{state_list}</ul>
            <div class="table-wrap"><table>
                <thead><tr><th>"Month first asked"</th><th>"Docs"</th><th>"To first verdict (median)"</th><th>"To decision (median)"</th></tr></thead>
                <tbody>{month_rows}</tbody>
            </table></div>
        </section>
        <h2>"Release cadence"</h2>
        <div class="table-wrap"><table class="cards">
            <thead><tr><th>"Line"</th><th>"Opened (vX.Y.0)"</th><th>"Tags"</th><th>"Backports picked"</th><th>"Request → picked (median)"</th></tr></thead>
            <tbody>{line_rows}</tbody>
        </table></div>
    };
    Ok(ui::page(&ctx, "Insight", body))
}

/// The rows behind `key` as (header, rows of cells, link per row).
fn table(
    key: Key,
    data: &Data,
    leads: &[(model::Lead, f64)],
) -> (Vec<&'static str>, Vec<(Vec<String>, String)>) {
    let dep_row = |d: &model::Dep, extra: Vec<String>| {
        let mut cells = vec![
            d.id.to_string(),
            d.service.clone(),
            d.environment.clone(),
            d.version.clone(),
            d.status.clone(),
            d.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            if d.hotfix { "yes" } else { "" }.to_string(),
        ];
        cells.extend(extra);
        (cells, format!("/deployments/{}", d.id))
    };
    let dep_head = vec![
        "Deployment",
        "Service",
        "Environment",
        "Version",
        "Status",
        "Started",
        "Hotfix",
    ];
    let deps: std::collections::HashMap<i64, &model::Dep> =
        data.deployments.iter().map(|d| (d.id, d)).collect();
    let failure: std::collections::HashMap<i64, &model::Failure> =
        data.failures.iter().map(|f| (f.deployment, f)).collect();
    let by_id = |id: i64| deps.get(&id).copied();
    match key {
        Key::Frequency => (
            dep_head,
            data.deployments
                .iter()
                .rev()
                .filter(|d| d.live())
                .map(|d| dep_row(d, vec![]))
                .collect(),
        ),
        Key::FailRate | Key::Recovery => {
            let mut head = dep_head;
            head.extend(["Why it counts", "Restored", "Recovery (h)"]);
            let rows = if key == Key::FailRate {
                // Every production deployment (the denominator too), the failing ones first.
                let failing = |d: &&model::Dep| failure.contains_key(&d.id);
                data.deployments
                    .iter()
                    .rev()
                    .filter(failing)
                    .chain(data.deployments.iter().rev().filter(|d| !failing(d)))
                    .map(|d| {
                        let f = failure.get(&d.id);
                        dep_row(
                            d,
                            vec![
                                f.map(|f| f.why.clone()).unwrap_or_default(),
                                f.and_then(|f| f.restored_at)
                                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                                    .unwrap_or_default(),
                                f.and_then(|f| f.hours)
                                    .map(|h| format!("{h:.2}"))
                                    .unwrap_or_default(),
                            ],
                        )
                    })
                    .collect()
            } else {
                data.failures
                    .iter()
                    .filter_map(|f| {
                        by_id(f.deployment).map(|d| {
                            dep_row(
                                d,
                                vec![
                                    f.why.clone(),
                                    f.restored_at
                                        .map(|t| {
                                            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                                        })
                                        .unwrap_or_default(),
                                    f.hours.map(|h| format!("{h:.2}")).unwrap_or_default(),
                                ],
                            )
                        })
                    })
                    .collect()
            };
            (head, rows)
        }
        Key::Rework => (
            dep_head,
            data.deployments
                .iter()
                .rev()
                .filter(|d| d.hotfix || d.status == "rolled_back")
                .map(|d| dep_row(d, vec![]))
                .collect(),
        ),
        Key::LeadTime => (
            vec![
                "Change",
                "Service",
                "From",
                "Deployment",
                "Deployed",
                "Lead time (h)",
            ],
            leads
                .iter()
                .rev()
                .map(|(l, h)| {
                    (
                        vec![
                            l.what.clone(),
                            l.service.clone(),
                            l.from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            l.deployment.to_string(),
                            l.deployed_at
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            format!("{h:.2}"),
                        ],
                        format!("/deployments/{}", l.deployment),
                    )
                })
                .collect(),
        ),
    }
}

pub async fn rows(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(f): Query<Filter>,
) -> AppResult<Html<String>> {
    let key = Key::parse(&f.key).unwrap_or(Key::Frequency);
    let data = super::rows(&state, &f).await?;
    let kv = data.report.keys.iter().find(|k| k.key == key).cloned();
    let leads = if key == Key::LeadTime {
        super::lead_rows(&state, &f).await?
    } else {
        Vec::new()
    };
    let (head, rows) = table(key, &data, &leads);
    let head_view = head
        .iter()
        .map(|h| view! { <th>{*h}</th> })
        .collect::<Vec<_>>();
    let count = rows.len();
    let body_rows = rows
        .into_iter()
        .map(|(cells, link)| {
            let first = cells.first().cloned().unwrap_or_default();
            let rest = cells
                .into_iter()
                .zip(head.iter())
                .skip(1)
                .map(|(c, h)| view! { <td data-label=*h>{c}</td> })
                .collect::<Vec<_>>();
            let label = head[0];
            view! { <tr><td data-label=label><a href=link>{first}</a></td>{rest}</tr> }
        })
        .collect::<Vec<_>>();
    let incidents = (matches!(key, Key::FailRate | Key::Recovery)).then(|| {
        let items = data
            .incidents
            .iter()
            .map(|i| {
                let href = format!("/incidents/{}", i.id);
                let cause = i.caused_by.map_or_else(
                    || "no deployment attributed".to_string(),
                    |d| format!("attributed to deployment #{d}"),
                );
                view! { <li><a href=href>{format!("#{} {} ({}, {})", i.id, i.title, i.service, i.environment)}</a>" — "{cause}</li> }
            })
            .collect::<Vec<_>>();
        view! { <h2>"Production incidents in the window"</h2><ul class="plain">{items}</ul> }
    });
    let query = f.query();
    let csv = format!("/insight/rows.csv?key={}&{query}", key.slug());
    let back = format!("/insight?{query}");
    let summary = kv.map(|kv| {
        let v = kv
            .value
            .map_or_else(|| "not enough data".to_string(), |v| model::show(key, v));
        format!("{v} — {}", kv.detail)
    });
    let body = view! {
        <h1>{key.title()}</h1>
        <p class="muted"><a href=back>"← Insight"</a>" · "{format!("the last {} days", f.days())}</p>
        <p><strong>{summary}</strong></p>
        <p class="muted">{key.explains()}</p>
        <p>{format!("{count} rows. ")}<a href=csv>"Download as CSV"</a></p>
        <div class="table-wrap"><table class="cards">
            <thead><tr>{head_view}</tr></thead>
            <tbody>{body_rows}</tbody>
        </table></div>
        {incidents}
    };
    Ok(ui::page(&ctx, key.title(), body))
}

/// A CSV field: quoted when needed, and never starting with a formula character (a spreadsheet
/// would run `=…` from a doc title).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub async fn rows_csv(
    State(state): State<AppState>,
    Query(f): Query<Filter>,
) -> AppResult<Response> {
    let key = Key::parse(&f.key).unwrap_or(Key::Frequency);
    let data = super::rows(&state, &f).await?;
    let leads = if key == Key::LeadTime {
        super::lead_rows(&state, &f).await?
    } else {
        Vec::new()
    };
    let (head, rows) = table(key, &data, &leads);
    let mut out = head
        .iter()
        .map(|h| csv_field(h))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for (cells, _) in rows {
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    let name = format!(
        "attachment; filename=\"flowdeck-{}-{}d.csv\"",
        key.slug(),
        f.days()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }

    #[test]
    fn coordinates_are_written_with_one_decimal_as_the_float_formatter_would() {
        for v in [0.0, 0.04, 0.05, 1.0, 12.345, 199.96, 640.0, -3.25, -0.04] {
            let expected = format!("{:.1}", (v * 10.0_f64).round() / 10.0);
            let expected = if expected == "-0.0" {
                "0.0".to_string()
            } else {
                expected
            };
            assert_eq!(Tenths(v).to_string(), expected, "{v}");
        }
    }

    #[test]
    fn a_chart_has_a_title_and_a_bar_per_week() {
        let kv = KeyValue {
            key: Key::Frequency,
            value: Some(1.0),
            second: None,
            points: 3,
            detail: String::new(),
            band: None,
            weekly: vec![
                (NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(), Some(2.0)),
                (NaiveDate::from_ymd_opt(2026, 3, 9).unwrap(), Some(1.0)),
            ],
        };
        let svg = chart(&kv, false);
        assert!(
            svg.contains(
                "<title id=\"t-frequency\">Deployment frequency per week, 2 weeks</title>"
            )
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("week of 2026-03-02: 2"));
        assert!(svg.contains("class=\"axis\""));
    }
}
