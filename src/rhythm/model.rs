//! Team rhythm's rules, pure and unit-tested: ISO weeks and when a member's update is due in
//! their own zone, milestone due-date limits and slip derivation, and the 1-2-3 escalation clock
//! with its pauses.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// An ISO 8601 week: `2026-W48`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u32,
}

impl IsoWeek {
    pub fn of(d: NaiveDate) -> Self {
        let w = d.iso_week();
        Self {
            year: w.year(),
            week: w.week(),
        }
    }

    /// The member's current week: the ISO week of today in their zone.
    pub fn current(now: DateTime<Utc>, tz: Tz) -> Self {
        Self::of(now.with_timezone(&tz).date_naive())
    }

    /// `2026-W48` (also `2026-w48`); a week that year does not have is refused.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("“{s}” is not a week; write it like 2026-W48.");
        let (y, w) = s.split_once(['W', 'w']).ok_or_else(bad)?;
        let year: i32 = y
            .strip_suffix('-')
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        let week: u32 = w.parse().map_err(|_| bad())?;
        if !(1970..=9999).contains(&year) {
            return Err(bad());
        }
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
            .map(|_| Self { year, week })
            .ok_or_else(|| format!("{year} has no week {week}."))
    }

    pub fn monday(self) -> NaiveDate {
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon).unwrap_or_default()
    }

    pub fn day(self, wd: Weekday) -> NaiveDate {
        NaiveDate::from_isoywd_opt(self.year, self.week, wd).unwrap_or_default()
    }

    pub fn previous(self) -> Self {
        Self::of(self.monday() - Duration::days(7))
    }

    pub fn next(self) -> Self {
        Self::of(self.monday() + Duration::days(7))
    }

    /// The path of this week's page.
    pub fn path(self) -> String {
        format!("/updates/{self}")
    }

    /// When the week starts and ends in zone `tz`: local Monday 00:00 to the next local Monday
    /// 00:00 (an update is editable until then).
    pub fn span(self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            local(tz, self.monday(), NaiveTime::MIN),
            local(tz, self.next().monday(), NaiveTime::MIN),
        )
    }
}

impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

/// `date` at `time` in zone `tz`, as an instant. A time skipped by a daylight-saving change
/// moves on to the first instant after it; a repeated one takes the earlier.
pub fn local(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    let mut probe = naive;
    for _ in 0..8 {
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
        probe += Duration::minutes(30);
    }
    naive.and_utc()
}

/// The team's due weekday from a setting: `mon` … `sun` (or the full English name).
pub fn parse_weekday(s: &str) -> Result<Weekday, String> {
    s.trim()
        .parse::<Weekday>()
        .map_err(|_| format!("“{s}” is not a weekday; use mon, tue, … sun."))
}

/// The evening of the due day, when one reminder goes to a member who has not written yet:
/// 17:00 on the due weekday of `week`, in their zone.
pub fn reminder_at(week: IsoWeek, due: Weekday, tz: Tz) -> DateTime<Utc> {
    local(
        tz,
        week.day(due),
        NaiveTime::from_hms_opt(17, 0, 0).unwrap_or(NaiveTime::MIN),
    )
}

/// Past the due day (its end, in the member's zone) without an update.
pub fn overdue(week: IsoWeek, due: Weekday, tz: Tz, now: DateTime<Utc>) -> bool {
    now >= local(tz, week.day(due) + Duration::days(1), NaiveTime::MIN)
}

/// A milestone's state as people see it: slipped is derived (past due, not done).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MilestoneState {
    OnTrack,
    AtRisk,
    Done,
    Slipped,
}

impl MilestoneState {
    /// From the stored state (`on_track`, `at_risk`, `done`), the due date and the member's today.
    pub fn derive(stored: &str, due_on: NaiveDate, today: NaiveDate) -> Self {
        match stored {
            "done" => Self::Done,
            _ if due_on < today => Self::Slipped,
            "at_risk" => Self::AtRisk,
            _ => Self::OnTrack,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::OnTrack => "on track",
            Self::AtRisk => "at risk",
            Self::Done => "done",
            Self::Slipped => "slipped",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Self::OnTrack => "badge ok",
            Self::AtRisk => "badge warn",
            Self::Done => "badge",
            Self::Slipped => "badge bad",
        }
    }
}

/// A due date a member may commit to on `today` (their zone): not in the past, at most
/// `max_days` ahead. The refusal names the latest allowed date.
pub fn check_due(raw: &str, today: NaiveDate, max_days: i64) -> Result<NaiveDate, String> {
    let due = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| format!("“{}” is not a date; write it like 2026-12-04.", raw.trim()))?;
    let latest = today + Duration::days(max_days);
    if due < today {
        return Err(format!(
            "{due} has passed; choose today ({today}) or later."
        ));
    }
    if due > latest {
        return Err(format!(
            "Milestones are at most {max_days} days long: the latest allowed date is {latest}. Split it into smaller milestones."
        ));
    }
    Ok(due)
}

/// Who a step of the escalation clock reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Helpers = 1,
    Team = 2,
    Leads = 3,
}

impl Step {
    pub fn of(stage: i16) -> Option<Self> {
        match stage {
            1 => Some(Self::Helpers),
            2 => Some(Self::Team),
            3 => Some(Self::Leads),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Helpers => "asked the named helpers",
            Self::Team => "asked the whole team",
            Self::Leads => "outside help needed (leads told)",
        }
    }
}

/// A span in which the clock stands still: the member was offline or on leave (`end` None:
/// still).
pub type Pause = (DateTime<Utc>, Option<DateTime<Utc>>);

/// How long a blocker raised at `raised` has been running at `now`, not counting `pauses`
/// (overlapping pauses count once).
pub fn running(raised: DateTime<Utc>, now: DateTime<Utc>, pauses: &[Pause]) -> Duration {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = pauses
        .iter()
        .map(|(s, e)| ((*s).max(raised), e.unwrap_or(now).min(now)))
        .filter(|(s, e)| s < e)
        .collect();
    spans.sort();
    let mut paused = Duration::zero();
    let mut cover: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (s, e) in spans {
        match cover {
            Some((cs, ce)) if s <= ce => cover = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                paused += ce - cs;
                cover = Some((s, e));
            }
            None => cover = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = cover {
        paused += ce - cs;
    }
    (now - raised - paused).max(Duration::zero())
}

/// The stage the clock has reached after running `ran`, with steps after `hours` (ascending).
pub fn due_stage(ran: Duration, hours: &[f64; 3]) -> i16 {
    let h = ran.num_seconds() as f64 / 3600.0;
    hours.iter().filter(|step| h >= **step).count() as i16
}

/// Whether the member is paused right now.
pub fn paused_now(now: DateTime<Utc>, pauses: &[Pause]) -> bool {
    pauses
        .iter()
        .any(|(s, e)| *s <= now && e.is_none_or(|e| e > now))
}

/// The escalation hours from a setting like `1,2,3`: three ascending positive numbers.
pub fn parse_hours(s: &str) -> Result<[f64; 3], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("“{s}” is not three numbers of hours like 1,2,3."))?;
    match v.as_slice() {
        [a, b, c] if *a > 0.0 && a < b && b < c && c.is_finite() => Ok([*a, *b, *c]),
        _ => Err(format!(
            "“{s}” must be three ascending positive numbers of hours, like 1,2,3."
        )),
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

    #[test]
    fn weeks_parse_print_and_refuse_a_week_the_year_lacks() {
        let w = IsoWeek::parse("2026-W48").unwrap();
        assert_eq!(w.to_string(), "2026-W48");
        assert_eq!(w.monday(), date("2026-11-23"));
        assert_eq!(
            IsoWeek::parse("2025-W53").unwrap_err(),
            "2025 has no week 53."
        );
        assert!(IsoWeek::parse("2026-W53").is_ok());
        assert!(IsoWeek::parse("2026-48").is_err());
        assert!(IsoWeek::parse("99999-W01").is_err());
        // 1 January 2027 is a Friday: it belongs to the last week of 2026.
        assert_eq!(IsoWeek::of(date("2027-01-01")).to_string(), "2026-W53");
        assert_eq!(
            IsoWeek::parse("2026-W53").unwrap().next().to_string(),
            "2027-W01"
        );
    }

    #[test]
    fn the_current_week_is_the_members_own() {
        // Sunday 23:30 in UTC is already Monday in Tokyo: a new week there, the old one here.
        let now = at("2026-11-29T23:30:00Z");
        assert_eq!(
            IsoWeek::current(now, chrono_tz::UTC).to_string(),
            "2026-W48"
        );
        assert_eq!(
            IsoWeek::current(now, chrono_tz::Asia::Tokyo).to_string(),
            "2026-W49"
        );
    }

    #[test]
    fn due_day_and_reminder_follow_the_members_zone_across_daylight_saving() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Week 13 of 2026 has Europe's change (Sunday 29 March); Friday 27 March is still CET.
        let w = IsoWeek::parse("2026-W13").unwrap();
        assert_eq!(
            reminder_at(w, Weekday::Fri, berlin),
            at("2026-03-27T16:00:00Z")
        );
        // The next Friday is CEST: 17:00 local is 15:00 UTC.
        assert_eq!(
            reminder_at(w.next(), Weekday::Fri, berlin),
            at("2026-04-03T15:00:00Z")
        );
        let (start, end) = w.span(berlin);
        assert_eq!(start, at("2026-03-22T23:00:00Z"));
        assert_eq!(
            end,
            at("2026-03-29T22:00:00Z"),
            "the week ends at local midnight, CEST"
        );
        assert!(!overdue(
            w,
            Weekday::Fri,
            berlin,
            at("2026-03-27T22:59:00Z")
        ));
        assert!(overdue(w, Weekday::Fri, berlin, at("2026-03-27T23:00:00Z")));
    }

    #[test]
    fn a_milestone_is_at_most_max_days_ahead_and_never_in_the_past() {
        let today = date("2026-11-26");
        assert_eq!(check_due("2026-12-10", today, 14), Ok(date("2026-12-10")));
        let err = check_due("2026-12-11", today, 14).unwrap_err();
        assert!(err.contains("latest allowed date is 2026-12-10"), "{err}");
        assert!(
            check_due("2026-11-25", today, 14)
                .unwrap_err()
                .contains("has passed")
        );
        assert!(
            check_due("next friday", today, 14)
                .unwrap_err()
                .contains("not a date")
        );
    }

    #[test]
    fn slipped_is_derived_from_the_due_date_and_done_never_slips() {
        let today = date("2026-11-26");
        let past = date("2026-11-25");
        assert_eq!(
            MilestoneState::derive("on_track", past, today),
            MilestoneState::Slipped
        );
        assert_eq!(
            MilestoneState::derive("at_risk", past, today),
            MilestoneState::Slipped
        );
        assert_eq!(
            MilestoneState::derive("done", past, today),
            MilestoneState::Done
        );
        assert_eq!(
            MilestoneState::derive("at_risk", today, today),
            MilestoneState::AtRisk
        );
        assert_eq!(
            MilestoneState::derive("on_track", today, today),
            MilestoneState::OnTrack
        );
    }

    #[test]
    fn the_clock_stands_still_while_offline_and_counts_overlaps_once() {
        let raised = at("2026-11-26T09:00:00Z");
        let now = at("2026-11-26T13:00:00Z");
        assert_eq!(running(raised, now, &[]), Duration::hours(4));
        // Offline 10:00–11:00 and on leave 10:30–11:30: 1.5 h paused.
        let pauses = [
            (at("2026-11-26T10:00:00Z"), Some(at("2026-11-26T11:00:00Z"))),
            (at("2026-11-26T10:30:00Z"), Some(at("2026-11-26T11:30:00Z"))),
        ];
        assert_eq!(running(raised, now, &pauses), Duration::minutes(150));
        // Offline since 12:00 and not back: the clock stopped at 12:00.
        let still = [(at("2026-11-26T12:00:00Z"), None)];
        assert_eq!(running(raised, now, &still), Duration::hours(3));
        assert!(paused_now(now, &still));
        // A pause before the blocker was raised does not count.
        let before = [(at("2026-11-26T07:00:00Z"), Some(at("2026-11-26T09:30:00Z")))];
        assert_eq!(running(raised, now, &before), Duration::minutes(210));
    }

    #[test]
    fn steps_fire_at_one_two_and_three_hours() {
        let h = [1.0, 2.0, 3.0];
        assert_eq!(due_stage(Duration::minutes(59), &h), 0);
        assert_eq!(due_stage(Duration::minutes(60), &h), 1);
        assert_eq!(due_stage(Duration::minutes(150), &h), 2);
        assert_eq!(due_stage(Duration::hours(3), &h), 3);
        assert_eq!(due_stage(Duration::hours(30), &h), 3);
        assert_eq!(parse_hours("1,2,3"), Ok([1.0, 2.0, 3.0]));
        assert_eq!(parse_hours(" 0.5, 1 ,1.5"), Ok([0.5, 1.0, 1.5]));
        assert!(parse_hours("2,1,3").is_err());
        assert!(parse_hours("1,2").is_err());
        assert!(parse_hours("0,1,2").is_err());
    }
}
