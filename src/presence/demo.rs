//! The demo's week of availability (`flowdeck demo`), written through this feature's own store so
//! the store stays private to `presence`.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use super::{
    model::{CheckIn, LeaveKind, LeavePlan, LeaveStatus, start_of_day},
    store as presence,
};
use crate::auth::model::AccountId;

/// (member, first day offset from today, days, kind, emergency, status, decided by)
type DemoLeave = (usize, i64, i64, LeaveKind, bool, LeaveStatus, Option<usize>);

/// A realistic week of availability around `now` (indexes follow `TEAM`): online, away,
/// offline, one overdue, leave past, current and future, one emergency, one member unknown.
/// `ids` and `zones` (IANA names) are the demo team's, in the same order.
pub async fn week(
    tx: &mut PgConnection,
    ids: &[AccountId],
    zones: &[&str],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let h = Duration::hours;
    let m = Duration::minutes;
    // Yesterday, for the history pages.
    for &id in &ids[..6] {
        presence::record_check_in(tx, id, CheckIn::Online, now - h(26), None, "").await?;
        presence::record_check_in(
            tx,
            id,
            CheckIn::Offline,
            now - h(17),
            Some(now - h(2)),
            "done for the day",
        )
        .await?;
    }
    let checks: [(usize, CheckIn, Duration, Option<Duration>, &str); 5] = [
        (0, CheckIn::Online, h(2), None, ""),
        (1, CheckIn::Online, h(3), None, ""),
        (2, CheckIn::Away, m(20), None, ""),
        (3, CheckIn::Offline, m(30), Some(h(2)), "dentist"),
        (4, CheckIn::Offline, h(4), Some(-m(90)), "school run"),
    ];
    for (i, state, ago, until, reason) in checks {
        presence::record_check_in(tx, ids[i], state, now - ago, until.map(|u| now + u), reason)
            .await?;
    }
    let leaves: [DemoLeave; 4] = [
        (
            3,
            -21,
            5,
            LeaveKind::Vacation,
            false,
            LeaveStatus::Acknowledged,
            Some(1),
        ),
        (
            5,
            -1,
            4,
            LeaveKind::Vacation,
            false,
            LeaveStatus::Acknowledged,
            Some(2),
        ),
        (6, 0, 2, LeaveKind::Sick, true, LeaveStatus::Pending, None),
        (
            7,
            14,
            5,
            LeaveKind::Vacation,
            false,
            LeaveStatus::Pending,
            None,
        ),
    ];
    for (i, offset, days, kind, emergency, status, decided_by) in leaves {
        let tz: chrono_tz::Tz = zones[i].parse().unwrap_or(chrono_tz::UTC);
        let first = now.with_timezone(&tz).date_naive() + Duration::days(offset);
        let last = first + Duration::days(days - 1);
        let plan = LeavePlan {
            starts_on: first,
            ends_on: last,
            starts_at: start_of_day(first, tz),
            ends_at: start_of_day(last + Duration::days(1), tz),
            kind,
            note: if emergency {
                "fever, back when better".into()
            } else {
                String::new()
            },
            emergency,
        };
        let id = presence::insert_leave(tx, ids[i], &plan, tz.name()).await?;
        if status != LeaveStatus::Pending {
            presence::set_leave_status(tx, id, status, decided_by.map(|d| ids[d]), "enjoy").await?;
        }
    }
    Ok(())
}
