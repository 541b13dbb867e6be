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

/// A failing deployment (from the rollup `insight_failures`): why it counts, and when service
/// was restored. Why and when follow one rule, kept by the database in the writing transaction
/// (`insight_refresh_failure` in the migration `roll_up_insight`):
/// - failed: restored when the next deployment of the same service and environment that went
///   live took effect;
/// - rolled back: restored when it was rolled back;
/// - succeeded but caused incidents: restored when every one of them ended — resolved, or
///   replaced by a later live deployment, whichever came first; never by the deployment itself.
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
}

fn hours(d: Duration) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

/// The Monday of `t`'s ISO week.
pub fn week_of(t: DateTime<Utc>) -> NaiveDate {
    monday(t.date_naive())
}

/// The Monday of `d`'s ISO week.
pub fn monday(d: NaiveDate) -> NaiveDate {
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

/// One UTC day of production deployments in scope, counted by the rollup `insight_days`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Day {
    pub day: NaiveDate,
    /// Reached a final state (succeeded, failed or rolled back).
    pub deployments: i64,
    /// Went live (succeeded or rolled back).
    pub live: i64,
    /// Needed intervention (a row in `insight_failures`).
    pub failing: i64,
    /// Hotfixes and rollbacks.
    pub reworked: i64,
}

/// Durations in summary (lead time, recovery): how many, median and p90 in hours, the median
/// per week (Monday), how many are still open (recovery), and whether the percentiles come from
/// 5 % histogram buckets rather than every sample.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub points: usize,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub weekly: HashMap<NaiveDate, f64>,
    pub open: usize,
    pub approximate: bool,
}

/// Computes the five keys from the window's days (production deployments started in [`from`,
/// `to`)), the recovery times of its failures and its lead times. A key with fewer than
/// `min_points` data points has no value and no band.
pub fn compute(
    days: &[Day],
    recovery: &Summary,
    lead: &Summary,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    min_points: usize,
) -> Report {
    let span_weeks = (hours(to - from) / (24.0 * 7.0)).max(1.0 / 7.0);
    let week_list = weeks(from, to);
    let enough = |n: usize| n >= min_points.max(1);
    let mut per_week: BTreeMap<NaiveDate, Day> =
        week_list.iter().map(|w| (*w, Day::default())).collect();
    for d in days {
        let w = per_week.entry(monday(d.day)).or_default();
        w.deployments += d.deployments;
        w.live += d.live;
        w.failing += d.failing;
        w.reworked += d.reworked;
    }
    let total = |f: fn(&Day) -> i64| days.iter().map(f).sum::<i64>() as usize;
    let (deployments, live, failing, reworked) = (
        total(|d| d.deployments),
        total(|d| d.live),
        total(|d| d.failing),
        total(|d| d.reworked),
    );
    let live_days = days.iter().filter(|d| d.live > 0).count();
    let share = |part: i64, of: i64| (of > 0).then(|| part as f64 / of as f64);
    let weekly = |pick: &dyn Fn(&Day) -> Option<f64>| -> Vec<(NaiveDate, Option<f64>)> {
        per_week.iter().map(|(w, d)| (*w, pick(d))).collect()
    };

    // Frequency: live deployments per week, and the days with one.
    let freq_value = live as f64 / span_weeks;
    let frequency = KeyValue {
        key: Key::Frequency,
        value: enough(live).then_some(freq_value),
        second: enough(live).then_some(live_days as f64 / span_weeks),
        points: live,
        detail: format!("{live} deployments on {live_days} days in {span_weeks:.0} weeks"),
        band: enough(live)
            .then(|| band(Key::Frequency, freq_value))
            .flatten(),
        weekly: weekly(&|d| Some(d.live as f64)),
    };

    let fail_value = share(failing as i64, deployments as i64).filter(|_| enough(deployments));
    let fail_rate = KeyValue {
        key: Key::FailRate,
        value: fail_value,
        second: None,
        points: deployments,
        detail: format!("{failing} of {deployments} deployments"),
        band: fail_value.and_then(|v| band(Key::FailRate, v)),
        weekly: weekly(&|d| share(d.failing, d.deployments)),
    };

    let rec_median = recovery.median.filter(|_| enough(recovery.points));
    let recovery_key = KeyValue {
        key: Key::Recovery,
        value: rec_median,
        second: recovery.p90.filter(|_| enough(recovery.points)),
        points: recovery.points,
        detail: if recovery.open > 0 {
            format!(
                "{} recoveries; {} not restored yet",
                recovery.points, recovery.open
            )
        } else {
            format!("{} recoveries", recovery.points)
        },
        band: rec_median.and_then(|v| band(Key::Recovery, v)),
        weekly: week_list
            .iter()
            .map(|w| (*w, recovery.weekly.get(w).copied()))
            .collect(),
    };

    let rework_value = share(reworked as i64, deployments as i64).filter(|_| enough(deployments));
    let rework = KeyValue {
        key: Key::Rework,
        value: rework_value,
        second: None,
        points: deployments,
        detail: format!("{reworked} of {deployments} deployments"),
        band: None,
        weekly: weekly(&|d| share(d.reworked, d.deployments)),
    };

    let lt_median = lead.median.filter(|_| enough(lead.points));
    let lead_time = KeyValue {
        key: Key::LeadTime,
        value: lt_median,
        second: lead.p90.filter(|_| enough(lead.points)),
        points: lead.points,
        detail: if lead.approximate {
            format!("{} changes (percentiles within 5 %)", lead.points)
        } else {
            format!("{} changes", lead.points)
        },
        band: lt_median.and_then(|v| band(Key::LeadTime, v)),
        weekly: week_list
            .iter()
            .map(|w| (*w, lead.weekly.get(w).copied()))
            .collect(),
    };

    Report {
        keys: vec![frequency, lead_time, fail_rate, recovery_key, rework],
    }
}

/// A lead-time sample's hours (never negative).
pub fn lead_hours(l: &Lead) -> f64 {
    hours(l.deployed_at - l.from).max(0.0)
}

/// The histogram bucket of `h` hours, as the database's `insight_bucket` computes it: 0 under a
/// minute, then 5 % wide.
pub fn bucket_of(h: f64) -> i16 {
    let minutes = h * 60.0;
    if minutes < 1.0 {
        0
    } else {
        (1.0 + (minutes.ln() / 1.05_f64.ln()).floor()).min(32000.0) as i16
    }
}

/// The hours a bucket stands for: the geometric middle of its range (within 2.5 % of every
/// sample in it).
pub fn bucket_hours(b: i16) -> f64 {
    if b <= 0 {
        0.0
    } else {
        1.05_f64.powf(f64::from(b) - 0.5) / 60.0
    }
}

/// Summarises samples counted in buckets, (day, bucket, count), with nearest-rank percentiles
/// like `quantile` — over the buckets' hours, so within 2.5 % of the exact value.
pub fn summarize_buckets(rows: &[(NaiveDate, i16, i64)]) -> Summary {
    fn pick(counts: &BTreeMap<i16, i64>, p: f64) -> Option<f64> {
        let n: i64 = counts.values().sum();
        if n <= 0 {
            return None;
        }
        let rank = ((p * n as f64).ceil() as i64).clamp(1, n);
        let mut seen = 0;
        counts.iter().find_map(|(b, c)| {
            seen += c;
            (seen >= rank).then(|| bucket_hours(*b))
        })
    }
    let mut all: BTreeMap<i16, i64> = BTreeMap::new();
    let mut by_week: BTreeMap<NaiveDate, BTreeMap<i16, i64>> = BTreeMap::new();
    for (day, b, n) in rows.iter().filter(|r| r.2 > 0) {
        *all.entry(*b).or_default() += n;
        *by_week
            .entry(monday(*day))
            .or_default()
            .entry(*b)
            .or_default() += n;
    }
    Summary {
        points: all.values().sum::<i64>() as usize,
        median: pick(&all, 0.5),
        p90: pick(&all, 0.9),
        weekly: by_week
            .iter()
            .filter_map(|(w, c)| Some((*w, pick(c, 0.5)?)))
            .collect(),
        open: 0,
        approximate: true,
    }
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

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn day(d: &str, deployments: i64, live: i64, failing: i64, reworked: i64) -> Day {
        Day {
            day: date(d),
            deployments,
            live,
            failing,
            reworked,
        }
    }

    fn key(r: &Report, k: Key) -> &KeyValue {
        r.keys.iter().find(|x| x.key == k).unwrap()
    }

    const FROM: &str = "2026-03-02T00:00:00Z"; // a Monday
    const TO: &str = "2026-03-30T00:00:00Z"; // four weeks later

    #[test]
    fn no_deployments_means_not_enough_data_and_no_band() {
        let none = Summary::default();
        let r = compute(&[], &none, &none, at(FROM), at(TO), 1);
        for kv in &r.keys {
            assert_eq!((kv.value, kv.band), (None, None), "{:?}", kv.key);
        }
        assert_eq!(key(&r, Key::FailRate).detail, "0 of 0 deployments");
        assert_eq!(key(&r, Key::Frequency).weekly.len(), 4);
    }

    #[test]
    fn the_keys_of_a_small_month_worked_out_by_hand() {
        // Four weeks of api in production (the failures' rule is the database's, tested in
        // tests/insight.rs):
        //  Mon 2 Mar: #1 succeeded, caused an incident       → 1 deployment, live, failing
        //  Tue 3 Mar: #2 failed                              → 1, not live, failing
        //  Wed 4 Mar: #3 succeeded
        //  Mon 9 Mar: #4 rolled back                         → live, failing, rework
        //  Mon 16 Mar: #5 hotfix, #6 succeeded               → 2 live, 1 rework
        let days = [
            day("2026-03-02", 1, 1, 1, 0),
            day("2026-03-03", 1, 0, 1, 0),
            day("2026-03-04", 1, 1, 0, 0),
            day("2026-03-09", 1, 1, 1, 1),
            day("2026-03-16", 2, 2, 0, 1),
        ];
        // Recoveries 4 h, 24 h 10 min, 10 min; lead times 1 h 10 min, 72 h, 30 min.
        let summary = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            Summary {
                points: v.len(),
                median: quantile(v, 0.5),
                p90: quantile(v, 0.9),
                ..Summary::default()
            }
        };
        let rec = summary(&mut vec![4.0, 24.0 + 10.0 / 60.0, 10.0 / 60.0]);
        let lead = summary(&mut vec![1.0 + 10.0 / 60.0, 72.0, 0.5]);
        let r = compute(&days, &rec, &lead, at(FROM), at(TO), 3);

        // Five went live in four weeks: 1.25 a week, on four days: 1.0 a week. Band: high.
        let f = key(&r, Key::Frequency);
        assert_eq!(f.value, Some(1.25));
        assert_eq!(f.second, Some(1.0));
        assert_eq!(f.band, Some(Band::High));
        let weekly: Vec<f64> = f.weekly.iter().map(|(_, v)| v.unwrap()).collect();
        assert_eq!(weekly, [2.0, 1.0, 2.0, 0.0]);

        // Failures #1, #2, #4: 3 of 6 = 50 %: low; by week 2/3, 1/1, 0/2, nothing.
        let fr = key(&r, Key::FailRate);
        assert_eq!(fr.value, Some(0.5));
        assert_eq!(fr.band, Some(Band::Low));
        assert_eq!(fr.detail, "3 of 6 deployments");
        let weekly: Vec<Option<f64>> = fr.weekly.iter().map(|(_, v)| *v).collect();
        assert_eq!(weekly, [Some(2.0 / 3.0), Some(1.0), Some(0.0), None]);

        // Recovery: median 4 h (high), p90 24.17 h.
        let rc = key(&r, Key::Recovery);
        assert_eq!(rc.value, Some(4.0));
        assert!((rc.second.unwrap() - (24.0 + 10.0 / 60.0)).abs() < 1e-9);
        assert_eq!(rc.band, Some(Band::High));

        // Rework: the hotfix #5 and the rollback #4: 2 of 6; no published band.
        let rw = key(&r, Key::Rework);
        assert!((rw.value.unwrap() - 2.0 / 6.0).abs() < 1e-9);
        assert_eq!(rw.band, None);

        // Lead time: median 1 h 10 min: high (over an hour).
        let lt = key(&r, Key::LeadTime);
        assert!((lt.value.unwrap() - (1.0 + 10.0 / 60.0)).abs() < 1e-9);
        assert_eq!(lt.second, Some(72.0));
        assert_eq!(lt.band, Some(Band::High));
        assert_eq!(lt.detail, "3 changes");
    }

    #[test]
    fn a_key_with_fewer_points_than_the_minimum_has_no_value_and_no_band() {
        let none = Summary::default();
        let r = compute(
            &[day("2026-03-02", 1, 1, 0, 0)],
            &none,
            &none,
            at(FROM),
            at(TO),
            5,
        );
        let f = key(&r, Key::Frequency);
        assert_eq!((f.value, f.band, f.points), (None, None, 1));
    }

    #[test]
    fn a_failure_not_restored_yet_is_counted_but_has_no_recovery_time() {
        let rec = Summary {
            open: 1,
            ..Summary::default()
        };
        let r = compute(
            &[day("2026-03-03", 3, 2, 1, 0)],
            &rec,
            &Summary::default(),
            at(FROM),
            at(TO),
            1,
        );
        assert_eq!(key(&r, Key::FailRate).value, Some(1.0 / 3.0));
        assert_eq!(key(&r, Key::Recovery).points, 0);
        assert_eq!(
            key(&r, Key::Recovery).detail,
            "0 recoveries; 1 not restored yet"
        );
    }

    #[test]
    fn buckets_hold_every_sample_within_two_and_a_half_percent() {
        for h in [
            1.0 / 60.0,
            0.5,
            1.0,
            1.0 + 10.0 / 60.0,
            24.0,
            72.0,
            24.0 * 365.0,
        ] {
            let b = bucket_of(h);
            let back = bucket_hours(b);
            assert!(
                (back - h).abs() / h <= 0.025,
                "{h} h → bucket {b} → {back} h"
            );
        }
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(59.0 / 3600.0), 0);
        assert_eq!(bucket_hours(0), 0.0);
    }

    #[test]
    fn bucketed_percentiles_use_the_nearest_rank_per_week() {
        // Ten samples of 1 h … 10 h over two weeks; the median is the fifth (5 h), p90 the ninth.
        let rows: Vec<(NaiveDate, i16, i64)> = (1..=10)
            .map(|h| {
                let d = if h <= 4 { "2026-03-02" } else { "2026-03-10" };
                (date(d), bucket_of(f64::from(h)), 1)
            })
            .collect();
        let s = summarize_buckets(&rows);
        assert_eq!(s.points, 10);
        assert!(s.approximate);
        assert!((s.median.unwrap() - 5.0).abs() / 5.0 <= 0.025);
        assert!((s.p90.unwrap() - 9.0).abs() / 9.0 <= 0.025);
        let first = s.weekly[&date("2026-03-02")];
        assert!((first - 2.0).abs() / 2.0 <= 0.025, "{first}");
        let second = s.weekly[&date("2026-03-09")];
        assert!((second - 7.0).abs() / 7.0 <= 0.025, "{second}");
        // Emptied buckets (a change re-linked) count for nothing.
        assert_eq!(summarize_buckets(&[(date("2026-03-02"), 40, 0)]).points, 0);
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
