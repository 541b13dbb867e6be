//! Processes stored GitHub deliveries: each is claimed by one replica (`for update skip locked`
//! and a lease), applied through the same operations as the forms, and marked applied, ignored
//! or refused with the reason — never dropped silently.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{
    audit::Actor,
    deploys::ops::{DeploymentInput, Recorded},
    error::AppResult,
    releases::ops::{TagInput, TagRefusal},
    state::AppState,
};

/// What processing a delivery came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied(String),
    Ignored(String),
    Refused(String),
}

impl Outcome {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Outcome::Applied(s) => ("applied", s),
            Outcome::Ignored(s) => ("ignored", s),
            Outcome::Refused(s) => ("refused", s),
        }
    }
}

/// Attempts before a delivery that keeps failing is marked refused.
const MAX_ATTEMPTS: i32 = 5;

/// Runs until the task is aborted: every `every`, processes what is due.
pub async fn run(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = process_due(&state).await {
            tracing::warn!(error = %e, "could not process GitHub deliveries");
        }
    }
}

struct Claimed {
    id: i64,
    attempts: i32,
    event: String,
    repository_id: Option<i64>,
    payload: Value,
}

/// Claims and processes up to 20 due deliveries; returns how many.
pub async fn process_due(state: &AppState) -> AppResult<usize> {
    let claimed = sqlx::query_as!(
        Claimed,
        r#"with due as (
               select id from github_deliveries
               where status = 'pending' and (leased_until is null or leased_until < now())
               order by received_at limit 20
               for update skip locked
           )
           update github_deliveries d set leased_until = now() + interval '60 seconds',
                                          attempts = attempts + 1
           from due where d.id = due.id
           returning d.id, d.attempts, d.event, d.repository_id, d.payload"#
    )
    .fetch_all(&state.pool)
    .await?;
    let n = claimed.len();
    for d in claimed {
        let outcome = match process(state, &d).await {
            Ok(o) => o,
            // A delivery that keeps failing stops being retried and says why.
            Err(e) if d.attempts >= MAX_ATTEMPTS => {
                Outcome::Refused(format!("failed {MAX_ATTEMPTS} times: {e}"))
            }
            Err(e) => {
                tracing::warn!(error = %e, delivery = d.id, "a GitHub delivery failed; it will be retried");
                continue;
            }
        };
        let (status, text) = outcome.parts();
        sqlx::query!(
            "update github_deliveries set status = $2, outcome = $3, processed_at = now(),
                                          leased_until = null where id = $1",
            d.id,
            status,
            text
        )
        .execute(&state.pool)
        .await?;
    }
    Ok(n)
}

async fn process(state: &AppState, d: &Claimed) -> AppResult<Outcome> {
    let p = &d.payload;
    let Some(repo_id) = d.repository_id else {
        return Ok(Outcome::Refused(
            "The repository is not recorded in flowdeck.".into(),
        ));
    };
    let repo_name = p["repository"]["name"].as_str().unwrap_or("");
    let Some(repo) = crate::releases::repository_named(&state.pool, repo_name)
        .await?
        .filter(|r| r.id == repo_id)
    else {
        return Ok(Outcome::Refused(
            "The repository is not recorded in flowdeck.".into(),
        ));
    };
    let actor = Actor::system("github");
    let at = |v: &Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map_or_else(|| state.clock.now(), |t| t.with_timezone(&Utc))
    };
    Ok(match d.event.as_str() {
        "ping" => Outcome::Ignored("ping: the webhook is set up.".into()),
        "create" | "delete" if p["ref_type"] != "tag" => {
            let branch = p["ref"].as_str().unwrap_or("");
            match crate::releases::model::line_near_miss(branch) {
                Some(miss) => Outcome::Refused(format!(
                    "{} Did you mean {}?",
                    miss.reason,
                    miss.suggestion.unwrap_or_default()
                )),
                None => Outcome::Ignored(format!(
                    "{} of branch {branch}: release lines are opened by their vX.Y.0 tag.",
                    d.event
                )),
            }
        }
        "create" => {
            record_tag(
                state,
                &actor,
                &repo,
                p["ref"].as_str().unwrap_or(""),
                "",
                state.clock.now(),
            )
            .await?
        }
        "delete" => Outcome::Refused(format!(
            "{} was deleted in GitHub; tags are immutable, so flowdeck keeps it (retract it with a reason if it was a mistake).",
            p["ref"].as_str().unwrap_or("")
        )),
        "push" => {
            let r = p["ref"].as_str().unwrap_or("");
            match r.strip_prefix("refs/tags/") {
                None => Outcome::Ignored("push to a branch".into()),
                Some(tag) if p["deleted"] == true => Outcome::Refused(format!(
                    "{tag} was deleted in GitHub; tags are immutable, so flowdeck keeps it."
                )),
                Some(tag) if p["forced"] == true && p["created"] != true => {
                    Outcome::Refused(format!(
                        "{tag} was moved by a force push; tags are immutable, so the move is not applied."
                    ))
                }
                Some(tag) => {
                    let sha = p["after"].as_str().unwrap_or("");
                    record_tag(
                        state,
                        &actor,
                        &repo,
                        tag,
                        sha,
                        at(&p["head_commit"]["timestamp"]),
                    )
                    .await?
                }
            }
        }
        "release" => match p["action"].as_str().unwrap_or("") {
            "published" | "prereleased" => {
                let tag = p["release"]["tag_name"].as_str().unwrap_or("");
                let url = p["release"]["html_url"].as_str().unwrap_or("");
                match record_tag(
                    state,
                    &actor,
                    &repo,
                    tag,
                    "",
                    at(&p["release"]["published_at"]),
                )
                .await?
                {
                    Outcome::Applied(m) => Outcome::Applied(format!("{m} Release: {url}")),
                    Outcome::Refused(m) if m.contains("already recorded") => {
                        Outcome::Ignored(format!("{tag} was already recorded. Release: {url}"))
                    }
                    other => other,
                }
            }
            a => Outcome::Ignored(format!("release {a}")),
        },
        "deployment_status" => deployment_status(state, &actor, &repo, p).await?,
        "deployment" => Outcome::Ignored("deployment created; its statuses are recorded".into()),
        "pull_request" => {
            let pr = &p["pull_request"];
            if p["action"] != "closed" || pr["merged"] != true {
                Outcome::Ignored(format!(
                    "pull request {}",
                    p["action"].as_str().unwrap_or("")
                ))
            } else {
                let number = pr["number"].as_i64().unwrap_or(0) as i32;
                let change = super::Change {
                    repository: repo.id,
                    number,
                    title: &pr["title"]
                        .as_str()
                        .unwrap_or("")
                        .chars()
                        .take(300)
                        .collect::<String>(),
                    author: pr["user"]["login"].as_str().unwrap_or(""),
                    merge_sha: pr["merge_commit_sha"].as_str().unwrap_or(""),
                    opened_at: at(&pr["created_at"]),
                    merged_at: at(&pr["merged_at"]),
                };
                super::record_change(&mut *state.pool.acquire().await?, &change).await?;
                Outcome::Applied(format!("pull request #{number} merged: a change record"))
            }
        }
        other => Outcome::Ignored(format!("{other} events are not used")),
    })
}

async fn record_tag(
    state: &AppState,
    actor: &Actor,
    repo: &crate::releases::RepoRow,
    tag: &str,
    sha: &str,
    tagged_at: DateTime<Utc>,
) -> AppResult<Outcome> {
    let sha = if sha.chars().all(|c| c == '0') {
        ""
    } else {
        sha
    };
    let mut tx = state.pool.begin().await?;
    let input = TagInput {
        name: tag,
        commit: sha,
        tagged_at,
        source: "webhook",
    };
    let out = match crate::releases::ops::record_tag_in(&mut tx, state, actor, repo, input).await? {
        Ok((_, opened)) => {
            tx.commit().await?;
            Outcome::Applied(if opened {
                format!("{tag} recorded; it opened its release line.")
            } else {
                format!("{tag} recorded.")
            })
        }
        Err(r @ TagRefusal::Exists { .. }) => Outcome::Refused(r.message(tag)),
        Err(r) => Outcome::Refused(r.message(tag)),
    };
    Ok(out)
}

/// `deployment_status`: queued / in_progress → running, success → succeeded, failure / error →
/// failed, inactive → ignored; recorded once per (deployment, state).
async fn deployment_status(
    state: &AppState,
    actor: &Actor,
    repo: &crate::releases::RepoRow,
    p: &Value,
) -> AppResult<Outcome> {
    let status = match p["deployment_status"]["state"].as_str().unwrap_or("") {
        "queued" | "pending" | "in_progress" => "running",
        "success" => "succeeded",
        "failure" | "error" => "failed",
        other => return Ok(Outcome::Ignored(format!("deployment status {other}"))),
    };
    let dep = &p["deployment"];
    let environment = dep["environment"].as_str().unwrap_or("");
    // The service: named in the deployment's payload, else the one service linked to the repository.
    let service = match dep["payload"]["service"].as_str() {
        Some(s) => s.to_string(),
        None => {
            let linked: Vec<String> = crate::deploys::services(&state.pool)
                .await?
                .into_iter()
                .filter(|s| s.repository_id == Some(repo.id))
                .map(|s| s.name)
                .collect();
            match linked.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Ok(Outcome::Refused(format!(
                        "No service is linked to repository {}; link one, or name it in the deployment's payload (`service`).",
                        repo.name
                    )));
                }
                _ => {
                    return Ok(Outcome::Refused(format!(
                        "Several services are linked to repository {}; name one in the deployment's payload (`service`).",
                        repo.name
                    )));
                }
            }
        }
    };
    let input = DeploymentInput {
        service,
        environment: environment.to_string(),
        version: dep["ref"].as_str().unwrap_or("").to_string(),
        status: status.into(),
        commit: dep["sha"].as_str().unwrap_or("").to_string(),
        note: p["deployment_status"]["description"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(500)
            .collect(),
        idempotency_key: format!("github-{}-{status}", dep["id"]),
        confirm: "yes".into(),
        ..Default::default()
    };
    Ok(
        match crate::deploys::ops::record_deployment(state, actor, "webhook", &input).await? {
            Ok(Recorded::New(id, _)) => {
                Outcome::Applied(format!("deployment #{id} recorded ({status})"))
            }
            Ok(Recorded::Existing(id)) => {
                Outcome::Ignored(format!("deployment #{id} was already recorded"))
            }
            Ok(Recorded::Confirm(_)) => Outcome::Refused("needs confirming".into()),
            Err(errs) => Outcome::Refused(
                errs.fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        },
    )
}
