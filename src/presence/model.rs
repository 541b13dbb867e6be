//! Availability rules as pure functions of an injected `now`: parsing how long someone goes
//! offline, planning a leave request in the member's time zone with the notice rule, and deriving
//! a member's state (online, away, offline, overdue, on leave, unknown).

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Going offline for longer than this is leave, not offline.
pub const MAX_OFFLINE_DAYS: i64 = 7;

/// What a check-in says, decoded from `presence_events.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CheckIn {
    Online,
    Away,
    Offline,
}

/// Where a leave request stands, decoded from `leave_requests.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LeaveStatus {
    Pending,
    Acknowledged,
    Declined,
    Cancelled,
}

impl LeaveStatus {
    /// The states in which leave still counts (shown, overlapping, cancellable).
    pub const ACTIVE: [LeaveStatus; 2] = [LeaveStatus::Pending, LeaveStatus::Acknowledged];

    pub fn as_str(self) -> &'static str {
        match self {
            LeaveStatus::Pending => "pending",
            LeaveStatus::Acknowledged => "acknowledged",
            LeaveStatus::Declined => "declined",
            LeaveStatus::Cancelled => "cancelled",
        }
    }

    /// The status for people.
    pub fn label(self) -> &'static str {
        self.as_str()
    }

    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }
}

impl CheckIn {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckIn::Online => "online",
            CheckIn::Away => "away",
            CheckIn::Offline => "offline",
        }
    }

    /// The check-in for people.
    pub fn label(self) -> &'static str {
        self.as_str()
    }
}

/// The instant `local` names in `tz`. A time skipped by a DST change is refused; a repeated one
/// means its first occurrence.
pub fn local_to_utc(local: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, String> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
        LocalResult::None => Err(format!(
            "{} does not exist in {} (the clocks skip it for daylight saving time).",
            local.format("%Y-%m-%d %H:%M"),
            tz.name()
        )),
    }
}

/// The first instant of `date` in `tz` (midnight, or the first valid time after it on the rare
/// days when midnight is skipped).
pub fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = date.and_time(NaiveTime::MIN);
    for _ in 0..24 * 4 {
        if let Ok(u) = local_to_utc(t, tz) {
            return u;
        }
        t += Duration::minutes(15);
    }
    Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
}

/// When someone going offline now will be back: from a duration (`2h`, `90m`, `1h 30m`, `1d`) or
/// an "until" time in their zone (`15:00` = the next 15:00, or `2026-03-10T15:00`). Exactly one
/// is needed; the result is in the future and at most seven days ahead.
pub fn offline_until(
    for_raw: &str,
    until_raw: &str,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<DateTime<Utc>, String> {
    let (for_raw, until_raw) = (for_raw.trim(), until_raw.trim());
    let until = match (for_raw.is_empty(), until_raw.is_empty()) {
        (true, true) => {
            return Err(
                "Say how long you will be offline (e.g. 2h, 90m) or until when (e.g. 15:00)."
                    .into(),
            );
        }
        (false, false) => {
            return Err("Give either how long or until when, not both.".into());
        }
        (false, true) => {
            let d = humantime::parse_duration(for_raw).map_err(|_| {
                format!("“{for_raw}” is not a duration; write it like 2h, 45m or 1h 30m.")
            })?;
            let d = Duration::from_std(d).map_err(|_| "That duration is too long.".to_string())?;
            if d <= Duration::zero() {
                return Err("The duration must be more than zero.".into());
            }
            now + d
        }
        (true, false) => parse_until(until_raw, now, tz)?,
    };
    if until <= now {
        return Err("That time has already passed; choose a time in the future.".into());
    }
    if until - now > Duration::days(MAX_OFFLINE_DAYS) {
        return Err(format!(
            "Offline is for at most {MAX_OFFLINE_DAYS} days; for longer, request leave."
        ));
    }
    Ok(until)
}

fn parse_until(raw: &str, now: DateTime<Utc>, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = NaiveTime::parse_from_str(raw, "%H:%M") {
        let today = now.with_timezone(&tz).date_naive();
        let mut at = local_to_utc(today.and_time(t), tz)?;
        if at <= now {
            let tomorrow = today.succ_opt().ok_or("That date is out of range.")?;
            at = local_to_utc(tomorrow.and_time(t), tz)?;
        }
        return Ok(at);
    }
    for fmt in ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(raw, fmt) {
            return local_to_utc(dt, tz);
        }
    }
    Err(format!(
        "“{raw}” is not a time; write it like 15:00 or 2026-03-10 15:00 (your time zone)."
    ))
}

/// The kind of a leave request, decoded from `leave_requests.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LeaveKind {
    Vacation,
    Sick,
    Personal,
    Other,
}

impl LeaveKind {
    pub const ALL: [LeaveKind; 4] = [
        LeaveKind::Vacation,
        LeaveKind::Sick,
        LeaveKind::Personal,
        LeaveKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeaveKind::Vacation => "vacation",
            LeaveKind::Sick => "sick",
            LeaveKind::Personal => "personal",
            LeaveKind::Other => "other",
        }
    }

    /// The kind for people.
    pub fn label(self) -> &'static str {
        self.as_str()
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| "Choose a type: vacation, sick, personal or other.".to_string())
    }
}

/// A valid leave request, with the instants its local dates cover.
#[derive(Clone, Debug, PartialEq)]
pub struct LeavePlan {
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub kind: LeaveKind,
    pub note: String,
    pub emergency: bool,
}

/// The first local date whose start is at least `notice_hours` after `now`.
pub fn earliest_start(now: DateTime<Utc>, tz: Tz, notice_hours: i64) -> NaiveDate {
    let threshold = now + Duration::hours(notice_hours);
    let mut d = threshold.with_timezone(&tz).date_naive();
    while start_of_day(d, tz) < threshold {
        d = d.succ_opt().unwrap_or(d);
    }
    d
}

/// Field errors of a leave form, by field name.
pub type LeaveErrors = Vec<(&'static str, String)>;

/// What a leave form sends.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct LeaveInput {
    #[serde(default)]
    pub starts_on: String,
    #[serde(default)]
    pub ends_on: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub note: String,
    /// A checkbox: present ("on") when ticked.
    #[serde(default)]
    pub emergency: Option<String>,
}

/// Checks a leave request: dates in the member's zone, end not before start, at most a year,
/// not in the past, and — unless it is an emergency — at least `notice_hours` ahead.
pub fn plan_leave(
    input: &LeaveInput,
    now: DateTime<Utc>,
    tz: Tz,
    notice_hours: i64,
) -> Result<LeavePlan, LeaveErrors> {
    let LeaveInput {
        starts_on: start,
        ends_on: end,
        kind,
        note,
        emergency,
    } = input;
    let emergency = emergency.is_some();
    let mut errs: LeaveErrors = Vec::new();
    let date =
        |raw: &str, field: &'static str, errs: &mut LeaveErrors| match NaiveDate::parse_from_str(
            raw.trim(),
            "%Y-%m-%d",
        ) {
            Ok(d) => Some(d),
            Err(_) => {
                let msg = if raw.trim().is_empty() {
                    "Choose a date.".to_string()
                } else {
                    format!("“{}” is not a date; use YYYY-MM-DD.", raw.trim())
                };
                errs.push((field, msg));
                None
            }
        };
    let starts_on = date(start, "starts_on", &mut errs);
    let ends_on = date(end, "ends_on", &mut errs);
    let kind = LeaveKind::parse(kind)
        .map_err(|e| errs.push(("kind", e)))
        .ok();
    let note = note.trim().to_string();
    if note.chars().count() > 500 {
        errs.push(("note", "A note has at most 500 characters.".into()));
    }
    let (Some(starts_on), Some(ends_on), Some(kind)) = (starts_on, ends_on, kind) else {
        return Err(errs);
    };
    let today = now.with_timezone(&tz).date_naive();
    if ends_on < starts_on {
        errs.push((
            "ends_on",
            "The last day cannot be before the first day.".into(),
        ));
    } else if (ends_on - starts_on).num_days() >= 366 {
        errs.push(("ends_on", "A leave request covers at most a year.".into()));
    }
    if starts_on < today {
        errs.push(("starts_on", "Leave cannot start in the past.".into()));
    } else if !emergency {
        let earliest = earliest_start(now, tz, notice_hours);
        if starts_on < earliest {
            errs.push((
                "starts_on",
                format!(
                    "Non-emergency leave is announced at least {notice_hours} hours ahead: the \
                     earliest first day now is {} ({}). If this is an emergency, mark it as one.",
                    crate::ui::time::date(earliest, now.with_timezone(&tz).date_naive()),
                    tz.name()
                ),
            ));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let starts_at = start_of_day(starts_on, tz);
    let ends_at = start_of_day(ends_on.succ_opt().unwrap_or(ends_on), tz);
    Ok(LeavePlan {
        starts_on,
        ends_on,
        starts_at,
        ends_at,
        kind,
        note,
        emergency,
    })
}

/// A member's latest check-in.
#[derive(Clone, Debug)]
pub struct LatestCheckIn {
    pub state: CheckIn,
    pub at: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

/// Leave that covers `now` (pending or acknowledged).
#[derive(Clone, Debug)]
pub struct CurrentLeave {
    pub ends_on: NaiveDate,
    pub emergency: bool,
    pub acknowledged: bool,
}

/// A member's state at an instant.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Online {
        since: DateTime<Utc>,
    },
    Away {
        since: DateTime<Utc>,
    },
    Offline {
        until: DateTime<Utc>,
    },
    /// Said they would be back at `until`, and have not checked in since.
    Overdue {
        until: DateTime<Utc>,
    },
    OnLeave {
        ends_on: NaiveDate,
        emergency: bool,
        acknowledged: bool,
    },
    /// No check-in during the member's local day.
    Unknown,
}

impl Status {
    pub fn key(&self) -> &'static str {
        match self {
            Status::Online { .. } => "online",
            Status::Away { .. } => "away",
            Status::Offline { .. } => "offline",
            Status::Overdue { .. } => "overdue",
            Status::OnLeave { .. } => "on_leave",
            Status::Unknown => "unknown",
        }
    }

    /// Board order: online, away, offline, overdue, on leave, unknown.
    pub fn rank(&self) -> u8 {
        match self {
            Status::Online { .. } => 0,
            Status::Away { .. } => 1,
            Status::Offline { .. } => 2,
            Status::Overdue { .. } => 3,
            Status::OnLeave { .. } => 4,
            Status::Unknown => 5,
        }
    }

    pub const KEYS: [&'static str; 6] = [
        "online", "away", "offline", "overdue", "on_leave", "unknown",
    ];

    pub fn label(key: &str) -> &'static str {
        match key {
            "online" => "online",
            "away" => "away",
            "offline" => "offline",
            "overdue" => "overdue",
            "on_leave" => "on leave",
            _ => "unknown",
        }
    }
}

/// The state of a member in zone `tz` at `now`, from their latest check-in and current leave.
/// Leave wins; an offline time that has passed is overdue (never silently online); an
/// online/away check-in counts only during the member's local day of the check-in.
pub fn derive(
    now: DateTime<Utc>,
    tz: Tz,
    latest: Option<&LatestCheckIn>,
    leave: Option<&CurrentLeave>,
) -> Status {
    if let Some(l) = leave {
        return Status::OnLeave {
            ends_on: l.ends_on,
            emergency: l.emergency,
            acknowledged: l.acknowledged,
        };
    }
    let Some(c) = latest else {
        return Status::Unknown;
    };
    let same_local_day =
        c.at.with_timezone(&tz).date_naive() == now.with_timezone(&tz).date_naive();
    match (c.state, c.until) {
        (CheckIn::Offline, Some(until)) if until > now => Status::Offline { until },
        (CheckIn::Offline, Some(until)) => Status::Overdue { until },
        (CheckIn::Online, _) if same_local_day => Status::Online { since: c.at },
        (CheckIn::Away, _) if same_local_day => Status::Away { since: c.at },
        _ => Status::Unknown,
    }
}

/// "3h 20m", "2d 4h", "12m": a short human duration.
pub fn short_duration(d: Duration) -> String {
    let mins = d.num_minutes().max(0);
    let (days, hours, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    match (days, hours) {
        (0, 0) => format!("{m}m"),
        (0, h) => format!("{h}h {m}m"),
        (d, h) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn li(start: &str, end: &str, kind: &str, note: &str, emergency: bool) -> LeaveInput {
        LeaveInput {
            starts_on: start.into(),
            ends_on: end.into(),
            kind: kind.into(),
            note: note.into(),
            emergency: emergency.then(|| "on".to_string()),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    const BERLIN: Tz = chrono_tz::Europe::Berlin;
    const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;
    const LA: Tz = chrono_tz::America::Los_Angeles;

    #[test]
    fn going_offline_needs_a_duration_or_an_until_time() {
        let now = utc("2026-03-10T10:00:00Z");
        assert!(
            offline_until("", "", now, BERLIN)
                .unwrap_err()
                .contains("how long")
        );
        assert!(
            offline_until("2h", "15:00", now, BERLIN)
                .unwrap_err()
                .contains("not both")
        );
        assert_eq!(
            offline_until("2h", "", now, BERLIN).unwrap(),
            utc("2026-03-10T12:00:00Z")
        );
        assert_eq!(
            offline_until("1h 30m", "", now, BERLIN).unwrap(),
            utc("2026-03-10T11:30:00Z")
        );
        assert!(
            offline_until("soon", "", now, BERLIN)
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(offline_until("0s", "", now, BERLIN).is_err());
    }

    #[test]
    fn offline_for_more_than_seven_days_is_leave() {
        let now = utc("2026-03-10T10:00:00Z");
        assert!(
            offline_until("8d", "", now, BERLIN)
                .unwrap_err()
                .contains("request leave")
        );
        assert!(offline_until("7d", "", now, BERLIN).is_ok());
    }

    #[test]
    fn an_until_time_is_read_in_the_members_zone_and_means_the_next_occurrence() {
        // 10:00 UTC is 11:00 in Berlin (CET) and 18:00 in Shanghai.
        let now = utc("2026-03-10T10:00:00Z");
        assert_eq!(
            offline_until("", "15:00", now, BERLIN).unwrap(),
            utc("2026-03-10T14:00:00Z")
        );
        // 15:00 in Shanghai already passed today: tomorrow's 15:00.
        assert_eq!(
            offline_until("", "15:00", now, SHANGHAI).unwrap(),
            utc("2026-03-11T07:00:00Z")
        );
        assert_eq!(
            offline_until("", "2026-03-10 20:00", now, LA).unwrap(),
            utc("2026-03-11T03:00:00Z"),
            "LA is on PDT (UTC-7) after 8 March"
        );
        assert!(
            offline_until("", "2026-03-09 08:00", now, BERLIN)
                .unwrap_err()
                .contains("passed")
        );
    }

    #[test]
    fn a_local_time_skipped_by_daylight_saving_is_refused_with_a_reason() {
        // Berlin jumps from 02:00 to 03:00 on 29 March 2026.
        let now = utc("2026-03-28T10:00:00Z");
        let err = offline_until("", "2026-03-29 02:30", now, BERLIN).unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
        // Across the change, 2h of real time is still 2h.
        let before = utc("2026-03-29T00:30:00Z"); // 01:30 CET
        assert_eq!(
            offline_until("2h", "", before, BERLIN).unwrap(),
            utc("2026-03-29T02:30:00Z")
        );
        assert_eq!(
            offline_until("", "04:30", before, BERLIN).unwrap(),
            utc("2026-03-29T02:30:00Z")
        );
    }

    #[test]
    fn non_emergency_leave_needs_a_days_notice_and_the_refusal_names_the_earliest_date() {
        // Tuesday 20:00 in Berlin: tomorrow starts in 4 hours.
        let now = utc("2026-03-10T19:00:00Z");
        let errs = plan_leave(
            &li("2026-03-11", "2026-03-12", "vacation", "", false),
            now,
            BERLIN,
            24,
        )
        .unwrap_err();
        assert_eq!(errs[0].0, "starts_on");
        assert!(
            errs[0]
                .1
                .contains("earliest first day now is Thu 12 Mar (Europe/Berlin)"),
            "{}",
            errs[0].1
        );
        assert!(
            plan_leave(
                &li("2026-03-12", "2026-03-12", "vacation", "", false),
                now,
                BERLIN,
                24
            )
            .is_ok()
        );
        // The same dates as an emergency are accepted.
        let p = plan_leave(
            &li("2026-03-11", "2026-03-12", "sick", "flu", true),
            now,
            BERLIN,
            24,
        )
        .unwrap();
        assert_eq!(p.starts_at, utc("2026-03-10T23:00:00Z"));
        assert_eq!(p.ends_at, utc("2026-03-12T23:00:00Z"));
    }

    #[test]
    fn leave_dates_cover_whole_local_days_across_a_dst_change() {
        let now = utc("2026-03-01T00:00:00Z");
        let p = plan_leave(
            &li("2026-03-28", "2026-03-29", "vacation", "", false),
            now,
            BERLIN,
            24,
        )
        .unwrap();
        assert_eq!(p.starts_at, utc("2026-03-27T23:00:00Z"), "CET midnight");
        assert_eq!(
            p.ends_at,
            utc("2026-03-29T22:00:00Z"),
            "CEST midnight after the change"
        );
        let p = plan_leave(
            &li("2026-03-08", "2026-03-08", "personal", "", false),
            now,
            LA,
            24,
        )
        .unwrap();
        assert_eq!(
            p.ends_at - p.starts_at,
            Duration::hours(23),
            "LA's short day"
        );
    }

    #[test]
    fn broken_leave_forms_name_every_problem() {
        let now = utc("2026-03-10T10:00:00Z");
        let errs =
            plan_leave(&li("10/03/2026", "", "holiday", "", false), now, BERLIN, 24).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.0).collect();
        assert_eq!(fields, ["starts_on", "ends_on", "kind"]);
        let errs = plan_leave(
            &li("2026-03-20", "2026-03-19", "other", "", false),
            now,
            BERLIN,
            24,
        )
        .unwrap_err();
        assert!(errs[0].1.contains("before the first day"));
        let errs = plan_leave(
            &li("2026-03-09", "2026-03-19", "other", "", true),
            now,
            BERLIN,
            24,
        )
        .unwrap_err();
        assert!(errs[0].1.contains("past"));
    }

    fn check_in(state: &str, at: &str, until: Option<&str>) -> LatestCheckIn {
        let state = match state {
            "online" => CheckIn::Online,
            "away" => CheckIn::Away,
            _ => CheckIn::Offline,
        };
        LatestCheckIn {
            state,
            at: utc(at),
            until: until.map(utc),
        }
    }

    #[test]
    fn offline_turns_overdue_when_the_return_time_passes_without_a_check_in() {
        let c = check_in(
            "offline",
            "2026-03-10T10:00:00Z",
            Some("2026-03-10T14:00:00Z"),
        );
        let at = |t: &str| derive(utc(t), BERLIN, Some(&c), None);
        assert_eq!(
            at("2026-03-10T13:59:00Z"),
            Status::Offline {
                until: utc("2026-03-10T14:00:00Z")
            }
        );
        assert_eq!(
            at("2026-03-10T14:00:00Z"),
            Status::Overdue {
                until: utc("2026-03-10T14:00:00Z")
            }
        );
        assert_eq!(
            at("2026-03-12T09:00:00Z").key(),
            "overdue",
            "still overdue days later"
        );
    }

    #[test]
    fn an_online_check_in_counts_only_for_the_members_local_day() {
        // 15:30 UTC on 10 March is 23:30 in Shanghai; 16:30 UTC is already 11 March there.
        let c = check_in("online", "2026-03-10T15:30:00Z", None);
        assert_eq!(
            derive(utc("2026-03-10T15:50:00Z"), SHANGHAI, Some(&c), None).key(),
            "online"
        );
        assert_eq!(
            derive(utc("2026-03-10T16:30:00Z"), SHANGHAI, Some(&c), None),
            Status::Unknown
        );
        // In Los Angeles the same instants are both 10 March.
        assert_eq!(
            derive(utc("2026-03-10T16:30:00Z"), LA, Some(&c), None).key(),
            "online"
        );
        assert_eq!(
            derive(utc("2026-03-10T16:30:00Z"), LA, None, None),
            Status::Unknown
        );
    }

    #[test]
    fn leave_wins_over_any_check_in() {
        let c = check_in("online", "2026-03-10T08:00:00Z", None);
        let leave = CurrentLeave {
            ends_on: NaiveDate::from_ymd_opt(2026, 3, 12).unwrap(),
            emergency: true,
            acknowledged: false,
        };
        assert_eq!(
            derive(utc("2026-03-10T09:00:00Z"), BERLIN, Some(&c), Some(&leave)).key(),
            "on_leave"
        );
    }

    #[test]
    fn short_durations_read_naturally() {
        assert_eq!(short_duration(Duration::minutes(12)), "12m");
        assert_eq!(short_duration(Duration::minutes(200)), "3h 20m");
        assert_eq!(short_duration(Duration::hours(52)), "2d 4h");
    }
}
