//! DORA's five keys computed from plain rows, pure and unit-tested: what counts as a production
//! deployment, a failure, a recovery, a change's lead time and rework; the bands (one table, its
//! source named); weekly trends; percentiles.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// A production deployment that reached a final state (succeeded, failed or rolled back).
#[derive(Clone, Debug)]
pub struct Dep {
    pub id: i64,
    pub service: String,
    pub environment: String,
    pub version: String,
    pub status: String,
    pub hotfix: bool,
    pub started_at: DateTime<Utc>,
    /// For a rolled-back deployment: when it was rolled back.
    pub finished_at: Option<DateTime<Utc>>,
}

impl Dep {
    /// It went live (a failed deployment did not).
    pub fn live(&self) -> bool {
        self.status == "succeeded" || self.status == "rolled_back"
    }
}

/// A production incident with the deployment it is attributed to.
#[derive(Clone, Debug)]
pub struct Inc {
    pub id: i64,
    pub service: String,
    pub environment: String,
    pub title: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub caused_by: Option<i64>,
}

/// One lead-time sample: a change (a merged pull request, or for want of them a release tag) and
/// the first production deployment that contains it.
#[derive(Clone, Debug)]
pub struct Lead {
    /// "server #12 Lease probes" (a pull request) or "server v3.8.1" (a tag).
    pub what: String,
    pub service: String,
    pub from: DateTime<Utc>,
    pub deployment: i64,
    pub deployed_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Frequency,
    LeadTime,
    FailRate,
    Recovery,
    Rework,
}

impl Key {
    pub const ALL: [Key; 5] = [
        Key::Frequency,
        Key::LeadTime,
        Key::FailRate,
        Key::Recovery,
        Key::Rework,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Key::Frequency => "frequency",
            Key::LeadTime => "lead-time",
            Key::FailRate => "fail-rate",
            Key::Recovery => "recovery",
            Key::Rework => "rework",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == s)
    }

    pub fn title(self) -> &'static str {
        match self {
            Key::Frequency => "Deployment frequency",
            Key::LeadTime => "Change lead time",
            Key::FailRate => "Change fail rate",
            Key::Recovery => "Failed deployment recovery time",
            Key::Rework => "Deployment rework rate",
        }
    }

    /// What the number is, for people.
    pub fn explains(self) -> &'static str {
        match self {
            Key::Frequency => {
                "Production deployments that went live per week (and the days with one)."
            }
            Key::LeadTime => {
                "From a change's merge (or, without pull requests, its release tag) to the first production deployment containing it. Median; p90 below."
            }
            Key::FailRate => {
                "Production deployments that failed, were rolled back or caused an incident, of all production deployments."
            }
            Key::Recovery => {
                "From a failing deployment to the deployment or incident resolution that restored service. Median; p90 below."
            }
            Key::Rework => "Hotfixes and rollbacks, of all production deployments.",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Band {
    Elite,
    High,
    Medium,
    Low,
}

impl Band {
    pub fn label(self) -> &'static str {
        match self {
            Band::Elite => "elite",
            Band::High => "high",
            Band::Medium => "medium",
            Band::Low => "low",
        }
    }
}

/// Where the bands come from, shown beside every band.
pub const BAND_SOURCE: &str = "Accelerate State of DevOps Report 2021 (DORA)";

/// The bands, one row per key: the best band whose bound the value meets. From the 2021 report's
/// table; where it leaves gaps (a lead time between an hour and a day, between a week and a month)
/// the value goes to the better neighbour, and its change-fail-rate ranges for high, medium and low
/// are the same (16–30 %), so flowdeck shows ≤ 30 % as high and above as low. Rework rate was
/// introduced later (2024) and has no published bands: it shows none.
///
/// Frequency is in deployments per week (higher is better); lead time and recovery in hours and
/// fail rate as a fraction (lower is better).
pub const BANDS: [(Key, [f64; 3]); 4] = [
    // On demand (several a day) / once a week to once a month / once a month to once in six months.
    (Key::Frequency, [7.0, 12.0 / 52.0, 2.0 / 52.0]),
    // Under an hour / up to a week / up to six months.
    (Key::LeadTime, [1.0, 24.0 * 7.0, 24.0 * 182.0]),
    // Under an hour / under a day / up to a week.
    (Key::Recovery, [1.0, 24.0, 24.0 * 7.0]),
    // 0–15 % / 16–30 % / (medium shares high's range).
    (Key::FailRate, [0.15, 0.30, 0.30]),
];

/// The band of `value` for `key` (None for rework).
pub fn band(key: Key, value: f64) -> Option<Band> {
    let (_, bounds) = BANDS.iter().find(|(k, _)| *k == key)?;
    let higher_is_better = key == Key::Frequency;
    let meets = |bound: f64| {
        if higher_is_better {
            value >= bound
        } else {
            value <= bound
        }
    };
    Some(if meets(bounds[0]) {
        Band::Elite
    } else if meets(bounds[1]) {
        Band::High
    } else if meets(bounds[2]) && bounds[2] != bounds[1] {
        Band::Medium
    } else {
        Band::Low
    })
}

/// The `p` quantile (0–1) of sorted `v`, nearest rank.
pub fn quantile(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// What one key came to.
#[derive(Clone, Debug)]
pub struct KeyValue {
    pub key: Key,
    /// None: not enough data.
    pub value: Option<f64>,
    /// p90 for the durations; deployment days per week for frequency.
    pub second: Option<f64>,
    /// How many data points it rests on.
    pub points: usize,
    /// e.g. "3 of 40 deployments".
    pub detail: String,
    /// Only with enough data.
    pub band: Option<Band>,
    /// One value per week of the window (None: nothing that week).
    pub weekly: Vec<(NaiveDate, Option<f64>)>,
}

/// A deployment that went live: when it started, and when it took effect.
type Live = (DateTime<Utc>, DateTime<Utc>);

/// Per failing deployment: why it counts, and when service was restored.
#[derive(Clone, Debug)]
pub struct Failure {
    pub deployment: i64,
    pub why: String,
    pub restored_at: Option<DateTime<Utc>>,
    pub hours: Option<f64>,
}

/// Everything the insight page shows for a window.
#[derive(Clone, Debug)]
pub struct Report {
    pub keys: Vec<KeyValue>,
    pub failures: Vec<Failure>,
}

fn hours(d: Duration) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

/// The Monday of `t`'s ISO week.
pub fn week_of(t: DateTime<Utc>) -> NaiveDate {
    let d = t.date_naive();
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// The Mondays of the weeks from `from` to `to` (exclusive).
pub fn weeks(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut w = week_of(from);
    let last = (to - Duration::seconds(1)).date_naive();
    while w <= last {
        out.push(w);
        w += Duration::days(7);
    }
    out
}

/// Computes the five keys over `deps` (production deployments started in [`from`, `to`), in
/// order of start), `incs` (their incidents, attributed) and `lead` (lead times in summary). A key with fewer than
/// `min_points` data points has no value and no band.
pub fn compute(
    deps: &[Dep],
    incs: &[Inc],
    lead: &LeadSummary,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    min_points: usize,
) -> Report {
    let span_weeks = (hours(to - from) / (24.0 * 7.0)).max(1.0 / 7.0);
    let week_list = weeks(from, to);
    let caused: HashMap<i64, Vec<&Inc>> = incs.iter().fold(HashMap::new(), |mut m, i| {
        if let Some(d) = i.caused_by {
            m.entry(d).or_default().push(i);
        }
        m
    });
    let enough = |n: usize| n >= min_points.max(1);

    // Frequency: live deployments per week, and the days with one.
    let live: Vec<&Dep> = deps.iter().filter(|d| d.live()).collect();
    let days: std::collections::HashSet<NaiveDate> =
        live.iter().map(|d| d.started_at.date_naive()).collect();
    let mut per_week: BTreeMap<NaiveDate, usize> = week_list.iter().map(|w| (*w, 0)).collect();
    for d in &live {
        *per_week.entry(week_of(d.started_at)).or_default() += 1;
    }
    let freq_value = live.len() as f64 / span_weeks;
    let frequency = KeyValue {
        key: Key::Frequency,
        value: enough(live.len()).then_some(freq_value),
        second: enough(live.len()).then_some(days.len() as f64 / span_weeks),
        points: live.len(),
        detail: format!(
            "{} deployments on {} days in {:.0} weeks",
            live.len(),
            days.len(),
            span_weeks
        ),
        band: enough(live.len())
            .then(|| band(Key::Frequency, freq_value))
            .flatten(),
        weekly: per_week
            .iter()
            .map(|(w, n)| (*w, Some(*n as f64)))
            .collect(),
    };

    // Fail rate and recovery.
    // Per (service, environment): the deployments that went live, in order of start, with when
    // each took effect — to find "the next one that went live" by binary search.
    let mut live_by: HashMap<(&str, &str), Vec<Live>> = HashMap::new();
    for n in deps.iter().filter(|n| n.live()) {
        live_by
            .entry((n.service.as_str(), n.environment.as_str()))
            .or_default()
            .push((
                n.started_at,
                n.finished_at.unwrap_or(n.started_at).max(n.started_at),
            ));
    }
    let mut failures = Vec::new();
    for d in deps {
        let incidents = caused.get(&d.id).cloned().unwrap_or_default();
        let why = match d.status.as_str() {
            "failed" => "failed".to_string(),
            "rolled_back" => "rolled back".to_string(),
            _ if !incidents.is_empty() => format!(
                "caused {}",
                incidents
                    .iter()
                    .map(|x| format!("incident #{}", x.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => continue,
        };
        // The next deployment of the same service and environment that went live.
        let next_live = |after: DateTime<Utc>| {
            let list = live_by.get(&(d.service.as_str(), d.environment.as_str()))?;
            // Later than `after`, and never `d` itself (a live deployment cannot restore itself).
            let at = list.partition_point(|(started, _)| *started < after);
            list[at..]
                .iter()
                .find(|(started, _)| *started > d.started_at || after > d.started_at)
                .map(|(_, effective)| *effective)
        };
        let restored_at = match d.status.as_str() {
            "rolled_back" => d.finished_at,
            "failed" => next_live(d.started_at),
            _ => {
                // Every incident it caused is over: resolved, or a later deployment replaced it.
                let ends: Option<Vec<DateTime<Utc>>> = incidents
                    .iter()
                    .map(|x| match (x.resolved_at, next_live(x.opened_at)) {
                        (Some(r), Some(n)) => Some(r.min(n)),
                        (Some(r), None) => Some(r),
                        (None, n) => n,
                    })
                    .collect();
                ends.and_then(|e| e.into_iter().max())
            }
        };
        let h = restored_at.map(|r| hours(r - d.started_at).max(0.0));
        failures.push(Failure {
            deployment: d.id,
            why,
            restored_at,
            hours: h,
        });
    }
    let failed_ids: std::collections::HashSet<i64> =
        failures.iter().map(|f| f.deployment).collect();
    let rate = |of: &[&Dep]| -> Option<f64> {
        (!of.is_empty()).then(|| {
            of.iter().filter(|d| failed_ids.contains(&d.id)).count() as f64 / of.len() as f64
        })
    };
    let all: Vec<&Dep> = deps.iter().collect();
    let mut weekly_deps: BTreeMap<NaiveDate, Vec<&Dep>> = BTreeMap::new();
    for d in deps {
        weekly_deps
            .entry(week_of(d.started_at))
            .or_default()
            .push(d);
    }
    let by_week = |pick: &dyn Fn(&[&Dep]) -> Option<f64>| -> Vec<(NaiveDate, Option<f64>)> {
        week_list
            .iter()
            .map(|w| (*w, pick(weekly_deps.get(w).map_or(&[][..], Vec::as_slice))))
            .collect()
    };
    let fail_value = rate(&all);
    let fail_rate = KeyValue {
        key: Key::FailRate,
        value: fail_value.filter(|_| enough(deps.len())),
        second: None,
        points: deps.len(),
        detail: format!("{} of {} deployments", failures.len(), deps.len()),
        band: fail_value
            .filter(|_| enough(deps.len()))
            .and_then(|v| band(Key::FailRate, v)),
        weekly: by_week(&|these| rate(these)),
    };

    let mut rec: Vec<f64> = failures.iter().filter_map(|f| f.hours).collect();
    rec.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let open = failures.iter().filter(|f| f.hours.is_none()).count();
    let rec_median = quantile(&rec, 0.5).filter(|_| enough(rec.len()));
    let recovery = KeyValue {
        key: Key::Recovery,
        value: rec_median,
        second: quantile(&rec, 0.9).filter(|_| enough(rec.len())),
        points: rec.len(),
        detail: if open > 0 {
            format!("{} recoveries; {open} not restored yet", rec.len())
        } else {
            format!("{} recoveries", rec.len())
        },
        band: rec_median.and_then(|v| band(Key::Recovery, v)),
        weekly: {
            // Each failure's week, looked up once.
            let week: HashMap<i64, NaiveDate> =
                deps.iter().map(|d| (d.id, week_of(d.started_at))).collect();
            weekly_median(
                &week_list,
                failures
                    .iter()
                    .filter_map(|f| Some((*week.get(&f.deployment)?, f.hours?))),
            )
        },
    };

    // Rework: hotfixes and rollbacks.
    let rework_of = |of: &[&Dep]| -> Option<f64> {
        (!of.is_empty()).then(|| {
            of.iter()
                .filter(|d| d.hotfix || d.status == "rolled_back")
                .count() as f64
                / of.len() as f64
        })
    };
    let reworked = deps
        .iter()
        .filter(|d| d.hotfix || d.status == "rolled_back")
        .count();
    let rework = KeyValue {
        key: Key::Rework,
        value: rework_of(&all).filter(|_| enough(deps.len())),
        second: None,
        points: deps.len(),
        detail: format!("{reworked} of {} deployments", deps.len()),
        band: None,
        weekly: by_week(&|these| rework_of(these)),
    };

    // Lead time.
    let lt_median = lead.median.filter(|_| enough(lead.points));
    let lead_time = KeyValue {
        key: Key::LeadTime,
        value: lt_median,
        second: lead.p90.filter(|_| enough(lead.points)),
        points: lead.points,
        detail: format!("{} changes", lead.points),
        band: lt_median.and_then(|v| band(Key::LeadTime, v)),
        weekly: week_list
            .iter()
            .map(|w| (*w, lead.weekly.get(w).copied()))
            .collect(),
    };

    Report {
        keys: vec![frequency, lead_time, fail_rate, recovery, rework],
        failures,
    }
}

/// Lead times in summary: how many, median and p90 in hours, the median per week (Monday).
/// Computed by the database for the page (`store::lead_summary`), or from samples here.
#[derive(Clone, Debug, Default)]
pub struct LeadSummary {
    pub points: usize,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub weekly: HashMap<NaiveDate, f64>,
}

/// A lead-time sample's hours (never negative).
pub fn lead_hours(l: &Lead) -> f64 {
    hours(l.deployed_at - l.from).max(0.0)
}

/// The summary of `leads`, as the database computes it (nearest-rank percentiles): the unit tests'
/// way to feed `compute` samples worked out by hand.
#[cfg(test)]
pub fn summarize(leads: &[Lead]) -> LeadSummary {
    let mut all: Vec<f64> = leads.iter().map(lead_hours).collect();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let weeks: Vec<NaiveDate> = {
        let mut w: Vec<NaiveDate> = leads.iter().map(|l| week_of(l.deployed_at)).collect();
        w.sort();
        w.dedup();
        w
    };
    LeadSummary {
        points: all.len(),
        median: quantile(&all, 0.5),
        p90: quantile(&all, 0.9),
        weekly: weekly_median(
            &weeks,
            leads
                .iter()
                .map(|l| (week_of(l.deployed_at), lead_hours(l))),
        )
        .into_iter()
        .filter_map(|(w, v)| Some((w, v?)))
        .collect(),
    }
}

/// The median of `values` (week, value) per week of `weeks`, grouped in one pass.
fn weekly_median(
    weeks: &[NaiveDate],
    values: impl Iterator<Item = (NaiveDate, f64)>,
) -> Vec<(NaiveDate, Option<f64>)> {
    let mut by: BTreeMap<NaiveDate, Vec<f64>> = BTreeMap::new();
    for (w, v) in values {
        by.entry(w).or_default().push(v);
    }
    weeks
        .iter()
        .map(|w| {
            let mut v = by.remove(w).unwrap_or_default();
            v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            (*w, quantile(&v, 0.5))
        })
        .collect()
}

/// A key's value for people: "4.2 / week", "3 h", "12 %".
pub fn show(key: Key, v: f64) -> String {
    match key {
        Key::Frequency => {
            if v >= 10.0 {
                format!("{v:.0} / week")
            } else {
                format!("{v:.1} / week")
            }
        }
        Key::FailRate | Key::Rework => format!("{:.0} %", v * 100.0),
        Key::LeadTime | Key::Recovery => show_hours(v),
    }
}

/// Hours for people: "45 min", "5.5 h", "3.2 days".
pub fn show_hours(h: f64) -> String {
    if h < 1.0 {
        format!("{:.0} min", h * 60.0)
    } else if h < 48.0 {
        format!("{h:.1} h")
    } else {
        format!("{:.1} days", h / 24.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn dep(id: i64, service: &str, status: &str, start: &str) -> Dep {
        Dep {
            id,
            service: service.into(),
            environment: "prod".into(),
            version: format!("v1.0.{id}"),
            status: status.into(),
            hotfix: false,
            started_at: at(start),
            finished_at: Some(at(start) + Duration::minutes(10)),
        }
    }

    const FROM: &str = "2026-03-02T00:00:00Z"; // a Monday
    const TO: &str = "2026-03-30T00:00:00Z"; // four weeks later

    fn key(r: &Report, k: Key) -> &KeyValue {
        r.keys.iter().find(|x| x.key == k).unwrap()
    }

    #[test]
    fn no_deployments_means_not_enough_data_and_no_band() {
        let r = compute(&[], &[], &LeadSummary::default(), at(FROM), at(TO), 1);
        for k in &r.keys {
            assert_eq!(k.value, None, "{:?}", k.key);
            assert_eq!(k.band, None, "{:?}", k.key);
        }
        assert_eq!(key(&r, Key::Frequency).weekly.len(), 4);
    }

    #[test]
    fn the_keys_of_a_small_month_worked_out_by_hand() {
        // Four weeks, six production deployments of api:
        //  1 Mon 2 Mar 10:00 succeeded — caused incident 1 (opened 12:00, resolved 14:00)
        //  2 Tue 3 Mar 10:00 failed    — next live is #3 at Wed 10:00 (+10 min finish): 24 h 10 min
        //  3 Wed 4 Mar 10:00 succeeded
        //  4 Mon 9 Mar 10:00 rolled back at 10:10 (its finished_at): 10 min
        //  5 Mon 16 Mar 10:00 succeeded, hotfix
        //  6 Mon 16 Mar 15:00 succeeded
        let mut deps = vec![
            dep(1, "api", "succeeded", "2026-03-02T10:00:00Z"),
            dep(2, "api", "failed", "2026-03-03T10:00:00Z"),
            dep(3, "api", "succeeded", "2026-03-04T10:00:00Z"),
            dep(4, "api", "rolled_back", "2026-03-09T10:00:00Z"),
            dep(5, "api", "succeeded", "2026-03-16T10:00:00Z"),
            dep(6, "api", "succeeded", "2026-03-16T15:00:00Z"),
        ];
        deps[4].hotfix = true;
        let incs = vec![Inc {
            id: 1,
            service: "api".into(),
            environment: "prod".into(),
            title: "500s".into(),
            opened_at: at("2026-03-02T12:00:00Z"),
            resolved_at: Some(at("2026-03-02T14:00:00Z")),
            caused_by: Some(1),
        }];
        let leads = vec![
            Lead {
                what: "PR #1".into(),
                service: "api".into(),
                from: at("2026-03-02T09:00:00Z"),
                deployment: 1,
                deployed_at: at("2026-03-02T10:10:00Z"),
            },
            Lead {
                what: "PR #2".into(),
                service: "api".into(),
                from: at("2026-03-01T10:10:00Z"),
                deployment: 3,
                deployed_at: at("2026-03-04T10:10:00Z"),
            },
            Lead {
                what: "PR #3".into(),
                service: "api".into(),
                from: at("2026-03-16T09:40:00Z"),
                deployment: 5,
                deployed_at: at("2026-03-16T10:10:00Z"),
            },
        ];
        let r = compute(&deps, &incs, &summarize(&leads), at(FROM), at(TO), 3);

        // Five went live in four weeks: 1.25 a week, on four days: 1.0 a week. Band: high.
        let f = key(&r, Key::Frequency);
        assert_eq!(f.value, Some(1.25));
        assert_eq!(f.second, Some(1.0));
        assert_eq!(f.band, Some(Band::High));
        let weekly: Vec<f64> = f.weekly.iter().map(|(_, v)| v.unwrap()).collect();
        assert_eq!(weekly, [2.0, 1.0, 2.0, 0.0]);

        // Failures: #1 (incident), #2 (failed), #4 (rolled back): 3 of 6 = 50 %: low.
        let fr = key(&r, Key::FailRate);
        assert_eq!(fr.value, Some(0.5));
        assert_eq!(fr.band, Some(Band::Low));
        assert_eq!(fr.detail, "3 of 6 deployments");

        // Recovery: #1 4 h (10:00 → the incident's resolution at 14:00), #2 24 h 10 min,
        // #4 10 min. Median 4 h (high), p90 24.17 h.
        let rc = key(&r, Key::Recovery);
        assert_eq!(rc.value, Some(4.0));
        assert!((rc.second.unwrap() - (24.0 + 10.0 / 60.0)).abs() < 1e-9);
        assert_eq!(rc.band, Some(Band::High));

        // Rework: the hotfix #5 and the rollback #4: 2 of 6; no published band.
        let rw = key(&r, Key::Rework);
        assert!((rw.value.unwrap() - 2.0 / 6.0).abs() < 1e-9);
        assert_eq!(rw.band, None);

        // Lead times 1 h 10 min, 72 h, 30 min: median 1 h 10 min: high (over an hour).
        let lt = key(&r, Key::LeadTime);
        assert!((lt.value.unwrap() - (1.0 + 10.0 / 60.0)).abs() < 1e-9);
        assert_eq!(lt.second, Some(72.0));
        assert_eq!(lt.band, Some(Band::High));
    }

    #[test]
    fn a_key_with_fewer_points_than_the_minimum_has_no_value_and_no_band() {
        let deps = vec![dep(1, "api", "succeeded", "2026-03-02T10:00:00Z")];
        let r = compute(&deps, &[], &LeadSummary::default(), at(FROM), at(TO), 5);
        let f = key(&r, Key::Frequency);
        assert_eq!((f.value, f.band, f.points), (None, None, 1));
    }

    #[test]
    fn a_failure_not_restored_yet_is_counted_but_has_no_recovery_time() {
        let deps = vec![
            dep(1, "api", "succeeded", "2026-03-02T10:00:00Z"),
            dep(2, "api", "failed", "2026-03-03T10:00:00Z"),
            // Another service's deployment does not restore api.
            dep(3, "web", "succeeded", "2026-03-04T10:00:00Z"),
        ];
        let r = compute(&deps, &[], &LeadSummary::default(), at(FROM), at(TO), 1);
        assert_eq!(key(&r, Key::FailRate).value, Some(1.0 / 3.0));
        assert_eq!(key(&r, Key::Recovery).points, 0);
        assert_eq!(
            key(&r, Key::Recovery).detail,
            "0 recoveries; 1 not restored yet"
        );
    }

    #[test]
    fn values_exactly_on_a_bound_take_the_better_band() {
        assert_eq!(band(Key::FailRate, 0.15), Some(Band::Elite));
        assert_eq!(band(Key::FailRate, 0.30), Some(Band::High));
        assert_eq!(band(Key::FailRate, 0.31), Some(Band::Low));
        assert_eq!(band(Key::LeadTime, 1.0), Some(Band::Elite));
        assert_eq!(band(Key::LeadTime, 24.0 * 7.0), Some(Band::High));
        assert_eq!(band(Key::LeadTime, 24.0 * 7.0 + 1.0), Some(Band::Medium));
        assert_eq!(band(Key::Recovery, 24.0), Some(Band::High));
        assert_eq!(band(Key::Recovery, 24.0 * 8.0), Some(Band::Low));
        assert_eq!(band(Key::Frequency, 7.0), Some(Band::Elite));
        assert_eq!(band(Key::Frequency, 1.0), Some(Band::High));
        assert_eq!(band(Key::Frequency, 0.1), Some(Band::Medium));
        assert_eq!(band(Key::Frequency, 0.01), Some(Band::Low));
        assert_eq!(band(Key::Rework, 0.5), None);
    }

    #[test]
    fn weeks_start_on_monday_across_a_daylight_saving_change() {
        // Europe's clocks change on Sunday 29 March 2026; weeks are UTC Mondays regardless.
        let w = weeks(at("2026-03-25T12:00:00Z"), at("2026-04-02T00:00:00Z"));
        assert_eq!(
            w,
            [
                NaiveDate::from_ymd_opt(2026, 3, 23).unwrap(),
                NaiveDate::from_ymd_opt(2026, 3, 30).unwrap()
            ]
        );
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(quantile(&v, 0.5), Some(5.0));
        assert_eq!(quantile(&v, 0.9), Some(9.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
