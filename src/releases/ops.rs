//! Release-line operations: repositories, recording and retracting tags (immutable), importing a
//! git repository (idempotent, with a report of what broke the policy), backports.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{
    git::{self, RefKind},
    model::{self, BackportId, LineId, LineName, LineStatus, RepositoryId, Version},
    store,
};
use crate::outbox::{self, Event, Notice};
use crate::{
    audit::{self, Actor, Change},
    auth::model::AccountId,
    error::{AppError, AppResult},
    state::AppState,
    ui::form::FormErrors,
};

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct RepoForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub default_branch: String,
}

#[tracing::instrument(skip_all)]
pub async fn add_repository(
    state: &AppState,
    actor: &Actor,
    owner: AccountId,
    f: &RepoForm,
) -> AppResult<Result<String, FormErrors>> {
    let RepoForm {
        name,
        url,
        default_branch,
    } = f;
    let mut errs = FormErrors::default();
    let name = errs.check("name", crate::ui::form::slug(name, "repository"));
    let url = errs
        .check("url", crate::ui::form::http_url(url, "repository URL"))
        .unwrap_or_default();
    let url = url.as_str();
    let branch = if default_branch.trim().is_empty() {
        "main"
    } else {
        default_branch.trim()
    };
    let Some(name) = name else {
        return Ok(Err(errs));
    };
    if !errs.is_empty() {
        return Ok(Err(errs));
    }
    let mut tx = state.pool.begin().await?;
    let Some(id) = store::create_repository(&mut tx, &name, url, branch, owner).await? else {
        return Ok(Err(FormErrors::field(
            "name",
            "A repository with that name exists.",
        )));
    };
    store::ensure_line(&mut tx, RepositoryId(id), LineName::Main, owner).await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "repository.created",
            target_type: "repository",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "name": name, "url": url, "default_branch": branch })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(name))
}

/// Why a tag was not recorded.
#[derive(Debug, PartialEq, Eq)]
pub enum TagRefusal {
    Invalid(String),
    /// Already recorded (with this commit): tags never change.
    Exists {
        commit: String,
    },
    /// A final vX.Y.Z with Z > 0 whose line has not been opened by vX.Y.0.
    NoLine(String),
}

impl TagRefusal {
    pub fn message(&self, name: &str) -> String {
        match self {
            TagRefusal::Invalid(m) | TagRefusal::NoLine(m) => m.clone(),
            TagRefusal::Exists { commit } => format!(
                "{name} is already recorded{}; tags are immutable. Retract it with a reason if it was a mistake.",
                if commit.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", &commit[..commit.len().min(12)])
                }
            ),
        }
    }
}

/// A tag to record: its name as given, commit, date and where it came from.
pub struct TagInput<'a> {
    pub name: &'a str,
    pub commit: &'a str,
    pub tagged_at: DateTime<Utc>,
    pub source: &'a str,
}

/// Records a tag of repository `repo` in the caller's transaction: pre-releases on main,
/// finals on their line; `vX.Y.0` opens `release-vX.Y`. Returns the tag id and whether it opened a line.
#[tracing::instrument(skip_all)]
pub async fn record_tag_in(
    conn: &mut sqlx::PgConnection,
    state: &AppState,
    actor: &Actor,
    repo: &store::RepoRow,
    input: TagInput<'_>,
) -> AppResult<Result<(i64, bool), TagRefusal>> {
    let TagInput {
        name,
        commit,
        tagged_at,
        source,
    } = input;
    let version = match Version::parse(name, &state.config.modifiers()) {
        Ok(v) => v,
        Err(r) => return Ok(Err(TagRefusal::Invalid(r.to_string()))),
    };
    let target = model::line_for(&version);
    if let Some(existing) = store::existing_tag_commit(conn, repo.id, &version.to_string()).await? {
        return Ok(Err(TagRefusal::Exists { commit: existing }));
    }
    let (line, opened) = match (target, version.patch) {
        (LineName::Main, _) | (_, 0) => {
            store::ensure_line(
                conn,
                RepositoryId(repo.id),
                target,
                AccountId(repo.owner_id),
            )
            .await?
        }
        _ => match store::line_id(conn, repo.id, target).await? {
            Some(id) => (id, false),
            None => {
                return Ok(Err(TagRefusal::NoLine(format!(
                    "{target} does not exist yet: it is opened by v{}.{}.0.",
                    version.major, version.minor
                ))));
            }
        },
    };
    model::check_placement(&version, target).map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let Some(id) = store::insert_tag(
        conn,
        store::NewTag {
            repo: repo.id,
            line,
            version: &version,
            commit,
            tagged_at,
            source,
            recorded_by: actor.id,
        },
    )
    .await?
    else {
        return Ok(Err(TagRefusal::Exists {
            commit: String::new(),
        }));
    };
    audit::record(
        conn,
        actor,
        Change {
            action: "tag.recorded",
            target_type: "tag",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({
                "repository": repo.name, "tag": version.to_string(), "line": target.to_string(),
                "commit": commit, "source": source, "opened_line": opened,
            })),
        },
    )
    .await?;
    Ok(Ok((id, opened)))
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct TagForm {
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub commit: String,
}

/// Records a tag from the form (`source` manual) or the API (`api`).
#[tracing::instrument(skip_all)]
pub async fn record_tag(
    state: &AppState,
    actor: &Actor,
    repo: &store::RepoRow,
    f: &TagForm,
    source: &str,
) -> AppResult<Result<String, FormErrors>> {
    let commit = f.commit.trim().to_lowercase();
    if !(commit.is_empty()
        || (7..=64).contains(&commit.len()) && commit.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Ok(Err(FormErrors::field(
            "commit",
            "A commit id is 7 to 64 hexadecimal digits.",
        )));
    }
    let mut tx = state.pool.begin().await?;
    let now = state.clock.now();
    let input = TagInput {
        name: &f.tag,
        commit: &commit,
        tagged_at: now,
        source,
    };
    match record_tag_in(&mut tx, state, actor, repo, input).await? {
        Ok((_, opened)) => {
            tx.commit().await?;
            let v = Version::parse(&f.tag, &state.config.modifiers())
                .map(|v| v.to_string())
                .unwrap_or_default();
            Ok(Ok(if opened {
                format!(
                    "{v} recorded; it opened {}.",
                    model::line_for(
                        &Version::parse(&v, &state.config.modifiers()).expect("just parsed")
                    )
                )
            } else {
                format!("{v} recorded.")
            }))
        }
        Err(r) => Ok(Err(FormErrors::field("tag", r.message(f.tag.trim())))),
    }
}

#[tracing::instrument(skip_all)]
pub async fn retract_tag(
    state: &AppState,
    actor: &Actor,
    repo: &store::RepoRow,
    name: &str,
    reason: &str,
) -> AppResult<String> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(AppError::BadRequest(
            "Give a reason for the retraction (at most 300 characters).".into(),
        ));
    }
    let tag = store::tag(&state.pool, repo.id, name)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut tx = state.pool.begin().await?;
    if !store::retract_tag(&mut tx, tag.id, reason).await? {
        return Err(AppError::Conflict(format!("{name} is already retracted.")));
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "tag.retracted",
            target_type: "tag",
            target_id: tag.id.to_string(),
            before: Some(json!({ "tag": name, "retracted": false })),
            after: Some(json!({ "tag": name, "retracted": true, "reason": reason })),
        },
    )
    .await?;
    let text = format!(
        "{name} of {} was retracted by {}: {reason}. It should not be deployed.",
        repo.name, actor.label
    );
    let notice = Notice::new(
        Event::TagRetracted,
        text,
        format!("/releases/{}", repo.name),
    )
    .data(json!({ "repository": repo.name, "tag": name, "reason": reason }));
    outbox::enqueue(&mut tx, state.clock.now(), notice).await?;
    tx.commit().await?;
    Ok(format!(
        "{name} is marked retracted. It stays in the history."
    ))
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub lines_created: Vec<String>,
    pub tags_created: Vec<String>,
    pub tags_unchanged: usize,
    /// Tags already recorded at another commit: left as they are (tags are immutable).
    pub conflicts: Vec<(String, String)>,
    /// Names that break the policy: (ref, why, suggestion).
    pub refused: Vec<(String, String, Option<String>)>,
    /// Branches that are not release lines (feature branches and the like).
    pub other_branches: usize,
}

/// Imports the branches and tags of the git repository at `path` into `repo`, in one
/// transaction. Running it again changes nothing.
#[tracing::instrument(skip_all)]
pub async fn import(
    state: &AppState,
    actor: &Actor,
    repo: &store::RepoRow,
    path: &Path,
) -> AppResult<Result<ImportReport, String>> {
    let refs = match git::refs(path).await {
        Ok(r) => r,
        Err(e) => return Ok(Err(format!("{e:#}"))),
    };
    let mut report = ImportReport::default();
    let mut tx = state.pool.begin().await?;
    for r in refs.iter().filter(|r| r.kind == RefKind::Branch) {
        if r.name == repo.default_branch || r.name == "main" {
            continue;
        }
        if !r.name.starts_with("release") {
            // Looks like a release line but is not one: listed with what it probably meant.
            match super::model::line_near_miss(&r.name) {
                Some(miss) => report.refused.push((
                    format!("branch {}", r.name),
                    miss.reason,
                    miss.suggestion,
                )),
                None => report.other_branches += 1,
            }
            continue;
        }
        match LineName::parse(&r.name) {
            Ok(line) => {
                let (_, created) = store::ensure_line(
                    &mut tx,
                    RepositoryId(repo.id),
                    line,
                    AccountId(repo.owner_id),
                )
                .await?;
                if created {
                    report.lines_created.push(line.to_string());
                }
            }
            Err(refusal) => {
                let miss = super::model::line_near_miss(&r.name).unwrap_or(refusal);
                report
                    .refused
                    .push((format!("branch {}", r.name), miss.reason, miss.suggestion));
            }
        }
    }
    // Tags oldest version first, so vX.Y.0 opens its line before vX.Y.1 needs it.
    let mut tags: Vec<(Version, &git::GitRef)> = Vec::new();
    for r in refs.iter().filter(|r| r.kind == RefKind::Tag) {
        match Version::parse(&r.name, &state.config.modifiers()) {
            Ok(v) if v.to_string() == r.name => tags.push((v, r)),
            Ok(v) => report.refused.push((
                format!("tag {}", r.name),
                "not in the team's format".into(),
                Some(v.to_string()),
            )),
            Err(refusal) => report.refused.push((
                format!("tag {}", r.name),
                refusal.reason,
                refusal.suggestion,
            )),
        }
    }
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    for (v, r) in tags {
        let name = v.to_string();
        let input = TagInput {
            name: &name,
            commit: &r.commit,
            tagged_at: r.date,
            source: "import",
        };
        match record_tag_in(&mut tx, state, actor, repo, input).await? {
            Ok((_, opened)) => {
                if opened {
                    report.lines_created.push(v.line().to_string());
                }
                report.tags_created.push(name);
            }
            Err(TagRefusal::Exists { commit }) if commit == r.commit => report.tags_unchanged += 1,
            Err(TagRefusal::Exists { commit }) => report.conflicts.push((name, commit)),
            Err(TagRefusal::NoLine(why)) | Err(TagRefusal::Invalid(why)) => {
                report.refused.push((format!("tag {name}"), why, None))
            }
        }
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "repository.imported",
            target_type: "repository",
            target_id: repo.id.to_string(),
            before: None,
            after: Some(json!({
                "path": path.display().to_string(),
                "lines_created": report.lines_created, "tags_created": report.tags_created.len(),
                "tags_unchanged": report.tags_unchanged, "conflicts": report.conflicts.len(),
                "refused": report.refused.len(),
            })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(report))
}

/// The maintained lines of `repo` (active first, then older), as (id, name).
pub async fn maintained_lines(
    state: &AppState,
    repo: i64,
) -> AppResult<Vec<(i64, LineName, LineStatus)>> {
    let lines = store::lines(&state.pool, repo).await?;
    let names: Vec<LineName> = lines.iter().map(store::LineRow::line).collect();
    Ok(lines
        .iter()
        .map(|l| {
            (
                l.id,
                l.line(),
                model::line_status(l.line(), &names, state.config.maintained_minor_lines),
            )
        })
        .filter(|(_, _, s)| matches!(s, LineStatus::Active | LineStatus::Maintained))
        .collect())
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct BackportForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub link: String,
    #[serde(default)]
    pub criticality: String,
    #[serde(default)]
    pub justification: String,
    /// Chosen line ids; none chosen means every maintained line.
    #[serde(default)]
    pub lines: Vec<i64>,
}

/// Files a backport request for every chosen maintained line, newest first.
#[tracing::instrument(skip_all)]
pub async fn file_backport(
    state: &AppState,
    actor: &Actor,
    by: AccountId,
    repo: &store::RepoRow,
    f: &BackportForm,
) -> AppResult<Result<i64, FormErrors>> {
    let BackportForm {
        title,
        link,
        criticality,
        justification,
        lines,
    } = f;
    let mut errs = FormErrors::default();
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        errs.add("title", "Name the fix in 1 to 200 characters.");
    }
    let link = errs
        .check("link", crate::ui::form::http_url(link, "link"))
        .unwrap_or_default();
    let link = link.as_str();
    if !model::CRITICALITY.iter().any(|(k, _)| *k == criticality) {
        errs.add("criticality", "Choose why this fix is critical.");
    }
    let justification = justification.trim();
    if criticality == "other" && justification.is_empty() {
        errs.add(
            "justification",
            "Only critical fixes are backported: say why this one must be.",
        );
    }
    let maintained = maintained_lines(state, repo.id).await?;
    let targets: Vec<i64> = maintained
        .iter()
        .map(|(id, _, _)| *id)
        .filter(|id| lines.is_empty() || lines.contains(id))
        .collect();
    if targets.is_empty() {
        errs.add(
            "lines",
            "There is no maintained release line to backport to.",
        );
    }
    if !errs.is_empty() {
        return Ok(Err(errs));
    }
    let mut tx = state.pool.begin().await?;
    let id = store::insert_backport(
        &mut tx,
        RepositoryId(repo.id),
        title,
        link,
        criticality,
        justification,
        by,
    )
    .await?;
    for (position, line) in targets.iter().enumerate() {
        store::insert_backport_target(&mut tx, BackportId(id), LineId(*line), position as i32)
            .await?;
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "backport.requested",
            target_type: "backport",
            target_id: id.to_string(),
            before: None,
            after: Some(json!({ "title": title, "criticality": criticality, "lines": targets })),
        },
    )
    .await?;
    let names: Vec<String> = maintained
        .iter()
        .filter(|(id, ..)| targets.contains(id))
        .map(|(_, name, _)| name.to_string())
        .collect();
    let text = format!(
        "{} requested a backport in {} ({criticality}): {title} → {}.",
        actor.label,
        repo.name,
        names.join(", ")
    );
    let notice = Notice::new(Event::BackportRequested, text, format!("/releases/{}", repo.name))
        .data(json!({ "backport_id": id, "repository": repo.name, "title": title, "criticality": criticality, "lines": names }));
    outbox::enqueue(&mut tx, state.clock.now(), notice).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

#[tracing::instrument(skip_all)]
pub async fn set_backport_status(
    state: &AppState,
    actor: &Actor,
    backport: i64,
    line: i64,
    status: &str,
) -> AppResult<()> {
    let status = model::BackportStatus::parse(status).map_err(AppError::BadRequest)?;
    let mut tx = state.pool.begin().await?;
    let before = store::set_target_status(&mut tx, BackportId(backport), LineId(line), status)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "backport.status_changed",
            target_type: "backport",
            target_id: backport.to_string(),
            before: Some(json!({ "line_id": line, "status": before.as_str() })),
            after: Some(json!({ "line_id": line, "status": status.as_str() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Remembers `path` as `repo`'s clone on the server after an import from it, so it is re-imported
/// every `FLOWDECK_REIMPORT_MINUTES` (a push of more than three tags sends GitHub no event).
pub async fn remember_clone(
    state: &AppState,
    repo: &store::RepoRow,
    path: &str,
    outcome: &str,
) -> AppResult<()> {
    sqlx::query!(
        "update repositories set clone_path = $2, last_import_at = now(), last_import_outcome = $3,
                next_import_at = now() + make_interval(mins => $4::int)
         where id = $1",
        repo.id,
        path,
        outcome,
        state.config.reimport_minutes as i32
    )
    .execute(&state.pool)
    .await?;
    Ok(())
}

/// Re-imports every repository whose clone is due, each claimed by one replica (a lease);
/// returns how many were imported.
pub async fn reimport_due(state: &AppState) -> AppResult<usize> {
    let due = sqlx::query!(
        "with due as (
             select id from repositories
             where clone_path is not null and next_import_at <= now()
               and (import_leased_until is null or import_leased_until < now())
             order by next_import_at limit 5
             for update skip locked
         )
         update repositories r set import_leased_until = now() + interval '5 minutes'
         from due where r.id = due.id
         returning r.name, r.clone_path"
    )
    .fetch_all(&state.pool)
    .await?;
    let actor = Actor::system("reimport");
    let mut n = 0;
    for d in due {
        let (Some(repo), Some(path)) =
            (store::repository(&state.pool, &d.name).await?, d.clone_path)
        else {
            continue;
        };
        let outcome = match import(state, &actor, &repo, Path::new(&path)).await? {
            Ok(r) => format!(
                "{} new tags, {} new lines, {} refused",
                r.tags_created.len(),
                r.lines_created.len(),
                r.refused.len()
            ),
            Err(e) => format!("failed: {e}"),
        };
        sqlx::query!(
            "update repositories set import_leased_until = null, last_import_at = now(),
                    last_import_outcome = $2, next_import_at = now() + make_interval(mins => $3::int)
             where id = $1",
            repo.id,
            outcome,
            state.config.reimport_minutes as i32
        )
        .execute(&state.pool)
        .await?;
        n += 1;
    }
    Ok(n)
}
