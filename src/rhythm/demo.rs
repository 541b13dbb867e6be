//! Demo team rhythm: three weeks of 3PS updates (one member never writes), milestones in every
//! state (one re-planned), a blocker escalated to the whole team and one resolved.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use super::model::IsoWeek;

/// `ids` are the demo team in `demo::TEAM` order (admin, two leads, five members); the last
/// member never writes an update.
pub async fn rhythm(
    tx: &mut PgConnection,
    ids: &[i64],
    zones: &[&str],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let plans = [
        (
            "Finish the importer's retry logic; pair with Barbara on the schema.",
            "Importer retries",
            "",
            "- Reviewed DD-3\n- Deployed api to staging twice",
        ),
        (
            "Roll out rpc v3.8 to production, api first.",
            "The rpc rollout",
            "Staging is flaky when the health prober restarts it; I lose an hour a day to it.",
            "- Tagged server v3.8.0\n- Fixed the skew warning for worker",
        ),
        (
            "Write the design doc for audit retention.",
            "Audit retention doc",
            "",
            "- Answered two review requests\n- On call: one sev3, resolved",
        ),
    ];
    let writers = ids.len().saturating_sub(1);
    for (i, (id, zone)) in ids.iter().zip(zones).take(writers).enumerate() {
        let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
        let this = IsoWeek::current(now, tz);
        for (back, week) in [this.previous().previous(), this.previous(), this]
            .into_iter()
            .enumerate()
        {
            // This week only half the team has written so far.
            if back == 2 && i % 2 == 1 {
                continue;
            }
            let (plan, priority, problem, summary) = plans[(i + back) % plans.len()];
            let at = now - Duration::days(7 * (2 - back as i64)) - Duration::hours(2);
            let id_upd: i64 = sqlx::query_scalar(
                "insert into updates (account_id, iso_year, iso_week, plan, priority, problem, summary, created_at, updated_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $8) returning id",
            )
            .bind(id)
            .bind(week.year)
            .bind(week.week as i32)
            .bind(plan)
            .bind(priority)
            .bind(problem)
            .bind(summary)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "insert into update_revisions (update_id, version, plan, priority, problem, summary, saved_at)
                 values ($1, 1, $2, $3, $4, $5, $6)",
            )
            .bind(id_upd)
            .bind(plan)
            .bind(priority)
            .bind(problem)
            .bind(summary)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
    }
    let today = now.date_naive();
    // (member index, title, due in days, state, first due if re-planned)
    let milestones = [
        (3, "Importer retries merged", 5, "on_track", None),
        (
            4,
            "Schema migration for audit retention",
            2,
            "at_risk",
            None,
        ),
        (5, "Health prober backoff", -3, "done", None),
        (6, "rpc v3.8 in production", -1, "on_track", None),
        (1, "Release notes for v3.8", 6, "on_track", Some(-2)),
    ];
    for (who, title, due_in, state, first) in milestones {
        let due = today + Duration::days(due_in);
        let id: i64 = sqlx::query_scalar(
            "insert into milestones (account_id, title, due_on, state, done_at, created_at, updated_at)
             values ($1, $2, $3, $4, case when $4 = 'done' then $5::timestamptz end, $5 - interval '8 days', $5)
             returning id",
        )
        .bind(ids[who])
        .bind(title)
        .bind(due)
        .bind(state)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let mut dates = vec![(due, now - Duration::days(8))];
        if let Some(f) = first {
            dates = vec![
                (today + Duration::days(f), now - Duration::days(9)),
                (due, now - Duration::days(1)),
            ];
        }
        for (d, at) in dates {
            sqlx::query(
                "insert into milestone_dates (milestone_id, due_on, set_at) values ($1, $2, $3)",
            )
            .bind(id)
            .bind(d)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
    }
    // Ken has been stuck for two and a half hours (his helpers and then the team were asked);
    // Dennis's blocker was resolved by Grace yesterday.
    let stuck: i64 = sqlx::query_scalar(
        "insert into blockers (account_id, what, tried, raised_at, stage, stage_at)
         values ($1, 'Staging database refuses connections from the new worker pool',
                 'Restarted the pool; checked the firewall rules; the old pool connects fine.',
                 $2, 2, $3) returning id",
    )
    .bind(ids[3])
    .bind(now - Duration::minutes(150))
    .bind(now - Duration::minutes(30))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("insert into blocker_helpers (blocker_id, account_id) values ($1, $2), ($1, $3)")
        .bind(stuck)
        .bind(ids[4])
        .bind(ids[5])
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "insert into blockers (account_id, what, tried, raised_at, stage, stage_at, resolved_at, resolved_by, resolution)
         values ($1, 'Cannot reproduce the sev3 locally', 'Replayed the request log', $2, 1, $3, $4, $5,
                 'The staging config had the old feature flag; fixed it there.')",
    )
    .bind(ids[5])
    .bind(now - Duration::hours(26))
    .bind(now - Duration::hours(25))
    .bind(now - Duration::hours(24))
    .bind(ids[2])
    .execute(&mut *tx)
    .await?;
    Ok(())
}
