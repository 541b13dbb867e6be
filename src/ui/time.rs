//! Time, one way on every page: recent instants as relative time ("3 h ago", "in 2 h") with the
//! exact time in the viewer's zone in `title` and `<time datetime>`; older ones and dates as
//! "Tue 1 Dec" (the year only when it is not this year); durations as "3 h", "2 days".

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use leptos::prelude::*;

use super::PageCtx;

/// The instant a request is served at (put in the request by the session layer from the app's
/// clock, so pages and tests agree on "now").
#[derive(Clone, Copy, Debug)]
pub struct Now(pub DateTime<Utc>);

/// The zone named `name`, UTC when it is not an IANA name.
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// A length of time for people: "40 s", "5 min", "3 h", "2 days".
pub fn duration(d: Duration) -> String {
    let s = d.num_seconds().abs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

/// "3 h ago" / "in 2 h" / "just now" for instants within a week of `now`; `None` further away.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> Option<String> {
    let d = now - at;
    if d.num_seconds().abs() < 45 {
        return Some("just now".into());
    }
    if d.num_days().abs() >= 7 {
        return None;
    }
    Some(if d > Duration::zero() {
        format!("{} ago", duration(d))
    } else {
        format!("in {}", duration(d))
    })
}

/// "Tue 1 Dec", with the year when it is not `today`'s year.
pub fn date(d: NaiveDate, today: NaiveDate) -> String {
    if d.year() == today.year() {
        d.format("%a %-d %b").to_string()
    } else {
        d.format("%a %-d %b %Y").to_string()
    }
}

/// "Tue 1 Dec 14:05 CET" in `tz` (the year when it is not this year).
pub fn exact(at: DateTime<Utc>, tz: Tz, now: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tz);
    let day = date(local.date_naive(), now.with_timezone(&tz).date_naive());
    format!("{day} {}", local.format("%H:%M %Z"))
}

/// An instant on a page: relative when recent, else the exact time; the exact time in the
/// viewer's zone is always in `title`, and the instant in `datetime`.
pub fn when(ctx: &PageCtx, at: DateTime<Utc>) -> impl IntoView + use<> {
    let exact = exact(at, ctx.zone(), ctx.now);
    let text = relative(at, ctx.now).unwrap_or_else(|| exact.clone());
    let iso = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    view! { <time class="when" datetime=iso title=exact>{text}</time> }
}

/// An instant as text (for flashes and messages): exact, in the viewer's zone.
pub fn when_text(ctx: &PageCtx, at: DateTime<Utc>) -> String {
    exact(at, ctx.zone(), ctx.now)
}

/// A calendar date on a page: "Tue 1 Dec".
pub fn day(ctx: &PageCtx, d: NaiveDate) -> impl IntoView + use<> {
    let text = date(d, ctx.now.with_timezone(&ctx.zone()).date_naive());
    let iso = d.format("%Y-%m-%d").to_string();
    view! { <time class="when" datetime=iso>{text}</time> }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
    }

    #[test]
    fn recent_instants_read_relative_in_both_directions() {
        let now = t(12, 0);
        assert_eq!(
            relative(now - Duration::seconds(30), now).as_deref(),
            Some("just now")
        );
        assert_eq!(relative(t(11, 59), now).as_deref(), Some("1 min ago"));
        assert_eq!(relative(t(11, 55), now).as_deref(), Some("5 min ago"));
        assert_eq!(relative(t(9, 0), now).as_deref(), Some("3 h ago"));
        assert_eq!(relative(t(14, 0), now).as_deref(), Some("in 2 h"));
        assert_eq!(
            relative(now - Duration::days(3), now).as_deref(),
            Some("3 days ago")
        );
        assert_eq!(relative(now - Duration::days(8), now), None);
    }

    #[test]
    fn dates_carry_the_year_only_when_it_is_not_this_year() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(date(d, today), "Tue 1 Dec");
        let old = NaiveDate::from_ymd_opt(2025, 12, 1).unwrap();
        assert_eq!(date(old, today), "Mon 1 Dec 2025");
    }

    #[test]
    fn the_exact_time_is_in_the_viewers_zone() {
        let at = t(23, 30);
        assert_eq!(exact(at, zone("Europe/Berlin"), at), "Wed 2 Dec 00:30 CET");
        assert_eq!(exact(at, zone("not/a-zone"), at), "Tue 1 Dec 23:30 UTC");
    }
}
