//! The demo's design docs (`flowdeck demo`): seeded through this feature's own store, so the
//! store stays private to `docs`.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use crate::auth::model::AccountId;

/// About twenty design docs across every state, with reviewers, verdicts, decisions and threads.
pub async fn design_docs(
    tx: &mut PgConnection,
    ids: &[AccountId],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    use super::{
        model::{Alternative, Content, DocId, Status, Verdict},
        ops::working_days_after,
        store as ds,
    };
    let topics = [
        (
            "Lease health probes through PostgreSQL",
            "proposal",
            "implemented",
        ),
        ("Split msggateway from msgtransfer", "proposal", "approved"),
        ("Message retention per group", "proposal", "in_review"),
        ("Push notification batching", "proposal", "in_review"),
        (
            "Rate limit logins per IP and account",
            "decision",
            "approved",
        ),
        ("Drop MongoDB for message history", "proposal", "rejected"),
        ("Kafka consumer lag alerts", "problem", "changes_requested"),
        ("Release notes from design docs", "information", "draft"),
        ("Offline bundle format v2", "proposal", "draft"),
        ("Multi-region Redis", "proposal", "on_hold"),
        ("gRPC deadlines everywhere", "decision", "implemented"),
        ("Upgrade order api → rpc → others", "decision", "approved"),
        ("Emoji reactions storage", "proposal", "withdrawn"),
        ("Session store in PostgreSQL", "decision", "superseded"),
        ("Read receipts fan-out", "problem", "in_review"),
        (
            "Backport policy for security fixes",
            "information",
            "approved",
        ),
        ("Image signing with cosign", "proposal", "draft"),
        ("Group member list pagination", "problem", "in_review"),
        ("arm64 builds for every image", "decision", "implemented"),
        ("Audit log retention", "proposal", "changes_requested"),
    ];
    let mut numbers = Vec::new();
    for (i, (title, kind, status)) in topics.iter().enumerate() {
        let owner = ids[3 + i % 5];
        let c = Content {
            title: title.to_string(),
            kind: kind.to_string(),
            tags: vec![["server", "ops", "security", "api"][i % 4].to_string()],
            target_line: if i % 3 == 0 {
                "release-v3.9".into()
            } else {
                String::new()
            },
            background: format!(
                "Why **{title}** matters now: the current approach costs us time every week."
            ),
            objectives:
                "Goals:\n- measurable improvement\n\nNon-goals:\n- rewriting unrelated parts".into(),
            alternatives: vec![
                Alternative {
                    title: "Keep things as they are".into(),
                    description: "Do nothing.".into(),
                    pros: "no work".into(),
                    cons: "the problem stays".into(),
                    references: String::new(),
                    data: String::new(),
                },
                Alternative {
                    title: "Change it".into(),
                    description: format!("Implement {title}."),
                    pros: "solves it".into(),
                    cons: "some work".into(),
                    references: "https://example.com/notes".into(),
                    data: "p50 −30 % in a spike".into(),
                },
            ],
            conclusion: "Change it.".into(),
            extra: vec![],
        };
        let (doc, number) = ds::create(tx, &c, owner).await?;
        ds::add_revision(
            tx,
            DocId(doc),
            1,
            &crate::docs::madr::export(&c, number, crate::docs::model::Status::Draft, None, "", ""),
            owner,
        )
        .await?;
        numbers.push(number);
        if *status == "draft" {
            continue;
        }
        // Two or three reviewers, not the owner.
        let reviewers: Vec<AccountId> = ids
            .iter()
            .copied()
            .filter(|r| *r != owner)
            .skip(i % 3)
            .take(3)
            .collect();
        let asked = now - Duration::days(6 - (i as i64 % 5));
        for r in &reviewers {
            ds::add_reviewer(tx, DocId(doc), *r, working_days_after(asked, 3)).await?;
        }
        let verdicts: &[&str] = match *status {
            "in_review" if i % 2 == 0 => &["approve"],
            "in_review" => &[],
            "changes_requested" => &["request_changes", "comment"],
            "withdrawn" | "on_hold" => &["comment"],
            _ => &["approve", "approve"],
        };
        for (r, v) in reviewers.iter().zip(verdicts) {
            let verdict = Verdict::parse(v).map_err(anyhow::Error::msg)?;
            ds::set_verdict(
                tx,
                DocId(doc),
                *r,
                verdict,
                if *v == "request_changes" {
                    "Please add data on lag today."
                } else {
                    ""
                },
            )
            .await?;
        }
        let decider = ids[1 + i % 2];
        let decided = matches!(
            *status,
            "approved" | "rejected" | "implemented" | "on_hold" | "superseded"
        );
        ds::set_status(
            tx,
            doc,
            Status::parse(status).map_err(anyhow::Error::msg)?,
            decided.then_some(decider),
            decided.then_some(if *status == "rejected" {
                "The migration cost outweighs the gain this year."
            } else {
                "Agreed in the review meeting; evidence is convincing."
            }),
            None,
        )
        .await?;
        ds::add_comment(
            tx,
            DocId(doc),
            None,
            "Alternatives",
            reviewers[0],
            "Do we have data for the first option?",
        )
        .await?;
    }
    // DD-14 (session store) is superseded by DD-5 (login limits rewrote it).
    sqlx::query("update docs set superseded_by = $1 where number = $2")
        .bind(numbers[4])
        .bind(numbers[13])
        .execute(&mut *tx)
        .await?;
    Ok(())
}
