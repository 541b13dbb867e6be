//! Design-doc operations: create, save (optimistic locking, a revision per save), move between
//! states, reviewers and verdicts, comment threads, import. Each write is one transaction with
//! its audit record.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use serde_json::json;

use super::{
    model::{self, Asker, Content, DocId, Move, Reviews, Status, ThreadId, Verdict},
    store,
};
use crate::outbox::{self, Event, Notice};
use crate::{
    audit::{self, Actor, Change},
    auth::{
        model::AccountId,
        policy::{self, Action},
    },
    auth::{model::CurrentUser, model::Role},
    error::{AppError, AppResult},
    state::AppState,
    ui::form::FormErrors,
};

/// `n` working days (Monday to Friday) after `from`.
pub fn working_days_after(from: DateTime<Utc>, n: u32) -> DateTime<Utc> {
    let mut t = from;
    let mut left = n;
    while left > 0 {
        t += Duration::days(1);
        if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    t
}

fn save_errors(c: &Content) -> Result<(), FormErrors> {
    let p = c.save_problems();
    if p.is_empty() {
        return Ok(());
    }
    let mut e = FormErrors::default();
    for (f, m) in p {
        e.add(f, m);
    }
    Err(e)
}

fn markdown_of(c: &Content, number: i32, status: Status, owner: &str) -> String {
    super::madr::export(
        c,
        number,
        status,
        None,
        &Utc::now().format("%Y-%m-%d").to_string(),
        owner,
    )
}

#[tracing::instrument(skip_all)]
pub async fn create(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    c: &Content,
) -> AppResult<Result<i32, FormErrors>> {
    if let Err(e) = save_errors(c) {
        return Ok(Err(e));
    }
    let mut tx = state.pool.begin().await?;
    let (id, number) = store::create(&mut tx, c, user.id).await?;
    store::add_revision(
        &mut tx,
        DocId(id),
        1,
        &markdown_of(c, number, Status::Draft, &user.handle),
        user.id,
    )
    .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "doc.created",
            target_type: "doc",
            target_id: format!("DD-{number}"),
            before: None,
            after: Some(json!({ "title": c.title.trim(), "kind": c.kind })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(number))
}

/// Why a save did not happen.
pub enum SaveRefusal {
    Invalid(FormErrors),
    /// Someone saved since `expected`: their version, so both can be shown.
    Stale {
        current: Box<store::DocRow>,
    },
}

#[tracing::instrument(skip_all, fields(doc.number = number))]
pub async fn save(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    number: i32,
    expected: i32,
    c: &Content,
) -> AppResult<Result<(), SaveRefusal>> {
    if let Err(e) = save_errors(c) {
        return Ok(Err(SaveRefusal::Invalid(e)));
    }
    let mut tx = state.pool.begin().await?;
    let doc = store::doc(&mut tx, number, true)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::require(
        Some(user),
        Action::EditDoc {
            owner: AccountId(doc.owner_id),
        },
    )?;
    let status = doc.status;
    if !status.editable() {
        return Err(AppError::Conflict(format!(
            "A doc that is {} is no longer edited.",
            status.label()
        )));
    }
    let Some(version) = store::save(&mut tx, doc.id, expected, c).await? else {
        return Ok(Err(SaveRefusal::Stale {
            current: Box::new(doc),
        }));
    };
    let mut new_status = status;
    if status == Status::ChangesRequested {
        // The owner answered the change requests: back to review.
        let reviewers = store::reviewers(&mut tx, doc.id).await?;
        let who = asker(&doc, user, &reviewers);
        let reviews = Reviews {
            approvals: 0,
            open_change_requests: 0,
            required: 0,
        };
        new_status =
            model::transition(status, Move::Revise, who, reviews).map_err(AppError::Conflict)?;
        apply_move(
            &mut tx,
            actor,
            &doc,
            Move::Revise,
            new_status,
            Decision::default(),
        )
        .await?;
    }
    store::add_revision(
        &mut tx,
        DocId(doc.id),
        version,
        &markdown_of(c, number, new_status, &user.handle),
        user.id,
    )
    .await?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "doc.saved",
            target_type: "doc",
            target_id: format!("DD-{number}"),
            before: Some(json!({ "version": expected, "status": status.as_str() })),
            after: Some(json!({ "version": version, "status": new_status.as_str() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub rationale: String,
    #[serde(default)]
    pub superseded_by: String,
}

#[tracing::instrument(skip_all, fields(doc.number = number))]
pub async fn move_doc(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    number: i32,
    f: &MoveForm,
) -> AppResult<String> {
    policy::require(Some(user), Action::WriteDocs)?;
    let mv = Move::parse(&f.action).map_err(AppError::BadRequest)?;
    let rationale = f.rationale.trim();
    let mut tx = state.pool.begin().await?;
    let doc = store::doc(&mut tx, number, true)
        .await?
        .ok_or(AppError::NotFound)?;
    let from = doc.status;
    let reviewers = store::reviewers(&mut tx, doc.id).await?;
    let reviews = Reviews {
        approvals: reviewers
            .iter()
            .filter(|r| r.verdict == Some(Verdict::Approve))
            .count(),
        open_change_requests: reviewers
            .iter()
            .filter(|r| r.verdict == Some(Verdict::RequestChanges))
            .count(),
        required: state.config.required_approvals,
    };
    let who = asker(&doc, user, &reviewers);
    if matches!(mv, Move::Approve | Move::Reject | Move::Hold | Move::Resume) {
        policy::require(
            Some(user),
            Action::DecideDoc {
                owner: AccountId(doc.owner_id),
            },
        )?;
    }
    let to = model::transition(from, mv, who, reviews).map_err(AppError::Conflict)?;
    if mv == Move::Submit {
        let missing = doc.content().submit_problems();
        if !missing.is_empty() {
            return Err(AppError::Conflict(format!(
                "Before review the doc needs: {}.",
                missing.join(", ")
            )));
        }
    }
    let decides = matches!(mv, Move::Approve | Move::Reject | Move::Hold);
    if decides && rationale.is_empty() {
        return Err(AppError::Conflict(
            "Say why: the decision record keeps the rationale.".into(),
        ));
    }
    let superseded_by = if mv == Move::Supersede {
        let n: i32 = f
            .superseded_by
            .trim()
            .trim_start_matches("DD-")
            .parse()
            .map_err(|_| {
                AppError::Conflict("Name the doc that supersedes this one, e.g. DD-12.".into())
            })?;
        if n == number || store::doc(&mut tx, n, false).await?.is_none() {
            return Err(AppError::Conflict(format!(
                "DD-{n} is not another existing doc."
            )));
        }
        Some(n)
    } else {
        None
    };
    let decision = Decision {
        by: decides.then_some(user.id),
        rationale: decides.then_some(rationale),
        superseded_by,
    };
    apply_move(&mut tx, actor, &doc, mv, to, decision).await?;
    let announce = match mv {
        Move::Approve | Move::Reject => Some((
            Event::DocDecided,
            format!(
                "{} decided DD-{number} “{}”: {}.",
                user.display_name,
                doc.title,
                to.label()
            ),
        )),
        Move::Supersede => Some((
            Event::DocSuperseded,
            format!(
                "DD-{number} “{}” is superseded by DD-{}.",
                doc.title,
                superseded_by.unwrap_or_default()
            ),
        )),
        _ => None,
    };
    if let Some((event, text)) = announce {
        let notice = Notice::new(event, text, format!("/docs/{number}"))
            .to(doc.owner_id)
            .data(json!({ "doc": number, "title": doc.title, "status": to.as_str(), "by": user.handle }));
        outbox::enqueue(&mut tx, state.clock.now(), notice).await?;
    }
    tx.commit().await?;
    let asked = reviewers.len();
    let needed = state.config.required_approvals;
    if mv == Move::Submit && asked < needed {
        return Ok(format!(
            "DD-{number} is now {}. It has {asked} reviewer{} but needs {needed} approvals: ask more reviewers.",
            to.label(),
            if asked == 1 { "" } else { "s" }
        ));
    }
    Ok(format!("DD-{number} is now {}.", to.label()))
}

/// How `user` stands to `doc`.
fn asker(doc: &store::DocRow, user: &CurrentUser, reviewers: &[store::ReviewerRow]) -> Asker {
    let owner = AccountId(doc.owner_id);
    Asker {
        is_owner: owner == user.id,
        is_lead: user.role >= Role::Lead,
        is_reviewer: reviewers.iter().any(|r| r.reviewer_id == user.id.0),
        may_decide: policy::can(Some(user), Action::DecideDoc { owner }),
    }
}

/// What a decision records beside the new state.
#[derive(Default)]
struct Decision<'a> {
    by: Option<AccountId>,
    rationale: Option<&'a str>,
    superseded_by: Option<i32>,
}

/// The one way a doc's state changes: `to` must come from `model::transition`; writes the state
/// and its audit record (from, to, the move, the decision) in the caller's transaction.
async fn apply_move(
    tx: &mut sqlx::PgConnection,
    actor: &Actor,
    doc: &store::DocRow,
    mv: Move,
    to: Status,
    d: Decision<'_>,
) -> AppResult<()> {
    store::set_status(tx, doc.id, to, d.by, d.rationale, d.superseded_by).await?;
    audit::record(
        tx,
        actor,
        Change {
            action: "doc.moved",
            target_type: "doc",
            target_id: format!("DD-{}", doc.number),
            before: Some(json!({ "status": doc.status.as_str() })),
            after: Some(json!({
                "status": to.as_str(),
                "move": format!("{mv:?}"),
                "rationale": d.rationale,
                "superseded_by": d.superseded_by,
            })),
        },
    )
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(doc.number = number))]
pub async fn request_review(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    number: i32,
    handle: &str,
) -> AppResult<String> {
    let mut tx = state.pool.begin().await?;
    let doc = store::doc(&mut tx, number, true)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::require(
        Some(user),
        Action::AskReviewers {
            owner: AccountId(doc.owner_id),
        },
    )?;
    let handle = handle.trim().to_lowercase();
    let (reviewer, reviewer_name) = crate::auth::active_account(&mut tx, &handle)
        .await?
        .ok_or_else(|| AppError::Conflict(format!("There is no active member “{handle}”.")))?;
    if reviewer == user.id.0 {
        return Err(AppError::Conflict("You cannot review your own doc.".into()));
    }
    let due = working_days_after(state.clock.now(), 3);
    if !store::add_reviewer(&mut tx, DocId(doc.id), AccountId(reviewer), due).await? {
        return Err(AppError::Conflict(format!("{handle} was already asked.")));
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "doc.review_requested",
            target_type: "doc",
            target_id: format!("DD-{number}"),
            before: None,
            after: Some(json!({ "reviewer": handle, "due": due })),
        },
    )
    .await?;
    let text = format!(
        "{} asked {reviewer_name} to review DD-{number} “{}” by {}.",
        user.display_name,
        doc.title,
        due.format("%a %d %b")
    );
    let notice = Notice::new(Event::ReviewRequested, text, format!("/docs/{number}"))
        .to(reviewer)
        .data(json!({ "doc": number, "title": doc.title, "reviewer": handle, "due": due }));
    outbox::enqueue(&mut tx, state.clock.now(), notice).await?;
    tx.commit().await?;
    // Flag a reviewer who is away right now (availability).
    let away = crate::presence::unavailable(state, &[reviewer]).await?;
    let away = away.get(&reviewer);
    Ok(match away {
        Some(label) => {
            format!("Review requested from {handle} — note: {handle} is {label} right now.")
        }
        // In the asker's zone, as the page shows it.
        None => format!(
            "Review requested from {handle}, due {}.",
            crate::ui::time::exact(
                due,
                crate::ui::time::zone(&user.timezone),
                state.clock.now()
            )
        ),
    })
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct VerdictForm {
    #[serde(default)]
    pub verdict: String,
    #[serde(default)]
    pub note: String,
}

#[tracing::instrument(skip_all, fields(doc.number = number))]
pub async fn verdict(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    number: i32,
    f: &VerdictForm,
) -> AppResult<String> {
    let verdict = Verdict::parse(&f.verdict).map_err(AppError::BadRequest)?;
    let mut tx = state.pool.begin().await?;
    let doc = store::doc(&mut tx, number, true)
        .await?
        .ok_or(AppError::NotFound)?;
    let status = doc.status;
    if !matches!(status, Status::InReview | Status::ChangesRequested) {
        return Err(AppError::Conflict(format!(
            "A doc that is {} takes no verdicts.",
            status.label()
        )));
    }
    if !store::set_verdict(&mut tx, DocId(doc.id), user.id, verdict, f.note.trim()).await? {
        return Err(AppError::Forbidden(
            "Only the reviewers the owner asked give verdicts; comment instead.".into(),
        ));
    }
    if verdict == Verdict::RequestChanges && status == Status::InReview {
        let who = Asker {
            is_reviewer: true, // set_verdict found the request
            ..asker(&doc, user, &[])
        };
        let reviews = Reviews {
            approvals: 0,
            open_change_requests: 0,
            required: 0,
        };
        let to = model::transition(status, Move::RequestChanges, who, reviews)
            .map_err(AppError::Conflict)?;
        apply_move(
            &mut tx,
            actor,
            &doc,
            Move::RequestChanges,
            to,
            Decision::default(),
        )
        .await?;
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "doc.verdict",
            target_type: "doc",
            target_id: format!("DD-{number}"),
            before: None,
            after: Some(json!({ "verdict": verdict.as_str(), "note": f.note.trim() })),
        },
    )
    .await?;
    let text = format!(
        "{} reviewed DD-{number} “{}”: {}.",
        user.display_name,
        doc.title,
        verdict.label().to_lowercase()
    );
    let notice = Notice::new(Event::VerdictGiven, text, format!("/docs/{number}"))
        .to(doc.owner_id)
        .data(json!({ "doc": number, "title": doc.title, "reviewer": user.handle, "verdict": verdict.as_str() }));
    outbox::enqueue(&mut tx, state.clock.now(), notice).await?;
    tx.commit().await?;
    Ok(format!("Your verdict on DD-{number}: {}.", verdict.label()))
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub section: String,
    #[serde(default)]
    pub parent: String,
}

#[tracing::instrument(skip_all, fields(doc.number = number))]
pub async fn comment(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    number: i32,
    f: &CommentForm,
) -> AppResult<String> {
    let body = f.body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(AppError::BadRequest(
            "Write a comment (at most 10,000 characters).".into(),
        ));
    }
    let parent = match f.parent.trim() {
        "" => None,
        p => Some(
            p.parse::<i64>()
                .map_err(|_| AppError::BadRequest("Unknown thread.".into()))?,
        ),
    };
    let mut tx = state.pool.begin().await?;
    let doc = store::doc(&mut tx, number, false)
        .await?
        .ok_or(AppError::NotFound)?;
    let id = store::add_comment(
        &mut tx,
        DocId(doc.id),
        parent.map(ThreadId),
        f.section.trim(),
        user.id,
        body,
    )
    .await?
    .ok_or_else(|| AppError::BadRequest("Unknown thread.".into()))?;
    audit::record(
        &mut tx,
        actor,
        Change {
            action: "doc.commented",
            target_type: "doc",
            target_id: format!("DD-{number}"),
            before: None,
            after: Some(json!({ "comment": id, "parent": parent, "section": f.section.trim() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok("Comment added.".into())
}

#[tracing::instrument(skip_all, fields(doc.number = number))]
pub async fn resolve_thread(
    state: &AppState,
    user: &CurrentUser,
    actor: &Actor,
    number: i32,
    thread: i64,
    resolved: bool,
) -> AppResult<String> {
    let mut tx = state.pool.begin().await?;
    let doc = store::doc(&mut tx, number, false)
        .await?
        .ok_or(AppError::NotFound)?;
    if !store::set_thread_resolved(
        &mut tx,
        DocId(doc.id),
        ThreadId(thread),
        resolved.then_some(user.id),
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        actor,
        Change {
            action: if resolved {
                "doc.thread_resolved"
            } else {
                "doc.thread_reopened"
            },
            target_type: "doc",
            target_id: format!("DD-{number}"),
            before: None,
            after: Some(json!({ "thread": thread })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(if resolved {
        "Thread resolved.".into()
    } else {
        "Thread reopened.".into()
    })
}
