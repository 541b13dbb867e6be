//! Authorization: one answer per action, `can(user, action)`, checked where the action happens.
//! DESIGN §2: members read and write their own things; leads also decide and manage lines,
//! environments and services; admins also manage accounts, invites, settings and the audit log.

use super::{model::AccountId, model::CurrentUser, model::Role};
use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open the admin area.
    ViewAdmin,
    /// Change another account's role, disable or enable it.
    ManageAccount { target: AccountId },
    /// Create or revoke invite links.
    ManageInvites,
    /// Read the audit log.
    ReadAuditLog,
    /// Configure integrations: chat destinations, signed webhooks, GitHub secrets.
    ManageIntegrations,
    /// Say which deployment caused an incident (or that none did).
    AttributeIncident,
    /// Edit a profile (display name, email, time zone, password).
    EditProfile { owner: AccountId },
    /// Acknowledge or decline a leave request.
    DecideLeave { owner: AccountId },
    /// Cancel a leave request.
    CancelLeave { owner: AccountId },
    /// Manage repositories, release lines and tags; decide backports.
    ManageReleases,
    /// Add services and environments, set health URLs.
    ManageDeployTargets,
    /// Edit a design doc's text.
    EditDoc { owner: AccountId },
    /// Ask someone to review a design doc.
    AskReviewers { owner: AccountId },
    /// Approve, reject, hold or resume a design doc: a lead who does not own it.
    DecideDoc { owner: AccountId },
    /// Mark a deployment rolled back: a lead, or whoever recorded it.
    RollBack { recorder: Option<AccountId> },
    /// Correct a recorded deployment's note, commit or image: a lead, or whoever recorded it.
    CorrectDeployment { recorder: Option<AccountId> },
    /// Report a service up or down by hand: a lead anywhere; a member outside production (a
    /// wrong "down" in production alarms everyone).
    ReportHealth { production: bool },
    /// Record a deployment or an image (every member: CI and people deploy).
    RecordDeployment,
    /// Open or resolve an incident (every member).
    RecordIncident,
    /// Write design docs, import one, comment, resolve threads (every member).
    WriteDocs,
    /// Give a verdict on a doc one was asked to review (every member; being asked is checked by
    /// the operation).
    ReviewDoc,
    /// Check in, go offline, ask for leave — about oneself (every member).
    SetOwnStatus,
    /// Ask for a critical fix to be backported (every member).
    FileBackport,
    /// Write one's own weekly update, milestones and blockers (team rhythm): only about oneself.
    WriteRhythm { owner: AccountId },
    /// Resolve a blocker: the member who raised it, a helper they named, or a lead.
    ResolveBlocker { owner: AccountId, helper: bool },
}

/// Whether `user` may do `action`. Nobody anonymous may do anything here.
pub fn can(user: Option<&CurrentUser>, action: Action) -> bool {
    let Some(u) = user else { return false };
    match action {
        Action::ViewAdmin
        | Action::ManageInvites
        | Action::ReadAuditLog
        | Action::ManageIntegrations => u.role == Role::Admin,
        // An admin cannot demote or disable themself: that could lock the team out.
        Action::ManageAccount { target } => u.role == Role::Admin && target != u.id,
        Action::EditProfile { owner } | Action::CancelLeave { owner } => owner == u.id,
        // Leads decide others' leave, never their own.
        Action::DecideLeave { owner } => u.role >= Role::Lead && owner != u.id,
        Action::ManageReleases | Action::ManageDeployTargets | Action::AttributeIncident => {
            u.role >= Role::Lead
        }
        Action::EditDoc { owner } | Action::AskReviewers { owner } => owner == u.id,
        Action::DecideDoc { owner } => u.role >= Role::Lead && owner != u.id,
        Action::RollBack { recorder } | Action::CorrectDeployment { recorder } => {
            u.role >= Role::Lead || recorder == Some(u.id)
        }
        Action::ReportHealth { production } => u.role >= Role::Lead || !production,
        Action::WriteRhythm { owner } => owner == u.id,
        Action::ResolveBlocker { owner, helper } => owner == u.id || helper || u.role >= Role::Lead,
        // DESIGN §2: every member may do these; listed so each write names its rule (and API
        // token scopes can map onto them).
        Action::RecordDeployment
        | Action::RecordIncident
        | Action::WriteDocs
        | Action::ReviewDoc
        | Action::SetOwnStatus
        | Action::FileBackport => true,
    }
}

/// `Ok` when allowed, else a 403 that says what would be needed.
pub fn require(user: Option<&CurrentUser>, action: Action) -> Result<(), AppError> {
    if can(user, action) {
        return Ok(());
    }
    Err(AppError::Forbidden(match action {
        Action::ManageAccount { target } if user.is_some_and(|u| u.id == target) => {
            "You cannot change your own role or disable your own account; ask another admin.".into()
        }
        Action::EditProfile { .. } => "You can only edit your own profile.".into(),
        Action::CancelLeave { .. } => "Only the person who asked for leave can cancel it.".into(),
        Action::DecideLeave { owner } if user.is_some_and(|u| u.id == owner) => {
            "You cannot acknowledge or decline your own leave; another lead does that.".into()
        }
        Action::DecideLeave { .. } => "Only leads and admins acknowledge or decline leave.".into(),
        Action::ManageReleases => "Only leads and admins manage release lines and tags.".into(),
        Action::ManageDeployTargets => {
            "Only leads and admins add services and environments or set health URLs.".into()
        }
        Action::EditDoc { .. } => "Only the doc's owner edits it; comment instead.".into(),
        Action::AskReviewers { .. } => "The doc's owner asks for reviewers.".into(),
        Action::DecideDoc { owner }
            if user.is_some_and(|u| u.id == owner && u.role >= Role::Lead) =>
        {
            "You cannot decide your own doc; another lead does.".into()
        }
        Action::DecideDoc { .. } => "Only a lead decides design docs.".into(),
        Action::RollBack { .. } => {
            "Only a lead or whoever recorded this deployment marks it rolled back.".into()
        }
        Action::CorrectDeployment { .. } => {
            "Only a lead or whoever recorded this deployment corrects it.".into()
        }
        Action::ReportHealth { .. } => {
            "In production only leads report health by hand; tell a lead what you see.".into()
        }
        Action::WriteRhythm { .. } => {
            "Updates, milestones and blockers are written by the member they are about.".into()
        }
        Action::ResolveBlocker { .. } => {
            "Only the member who raised it, a helper they named or a lead resolves a blocker."
                .into()
        }
        _ => "Only admins can do this. Ask an admin if you need it done.".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> CurrentUser {
        CurrentUser {
            id: AccountId(id),
            handle: format!("u{id}"),
            display_name: format!("U{id}"),
            role,
            timezone: "UTC".into(),
            auth_epoch: 0,
            unread: 0,
        }
    }

    /// One example of every action.
    fn every_action() -> Vec<Action> {
        let id = AccountId(1);
        let all = vec![
            Action::ViewAdmin,
            Action::ManageAccount { target: id },
            Action::ManageInvites,
            Action::ReadAuditLog,
            Action::ManageIntegrations,
            Action::AttributeIncident,
            Action::EditProfile { owner: id },
            Action::DecideLeave { owner: id },
            Action::CancelLeave { owner: id },
            Action::ManageReleases,
            Action::ManageDeployTargets,
            Action::EditDoc { owner: id },
            Action::AskReviewers { owner: id },
            Action::DecideDoc { owner: id },
            Action::RollBack { recorder: None },
            Action::CorrectDeployment { recorder: None },
            Action::ReportHealth { production: true },
            Action::RecordDeployment,
            Action::RecordIncident,
            Action::WriteDocs,
            Action::ReviewDoc,
            Action::SetOwnStatus,
            Action::FileBackport,
            Action::WriteRhythm { owner: id },
            Action::ResolveBlocker {
                owner: id,
                helper: false,
            },
        ];
        for a in &all {
            match a {
                Action::ViewAdmin
                | Action::ManageAccount { .. }
                | Action::ManageInvites
                | Action::ReadAuditLog
                | Action::ManageIntegrations
                | Action::AttributeIncident
                | Action::EditProfile { .. }
                | Action::DecideLeave { .. }
                | Action::CancelLeave { .. }
                | Action::ManageReleases
                | Action::ManageDeployTargets
                | Action::EditDoc { .. }
                | Action::AskReviewers { .. }
                | Action::DecideDoc { .. }
                | Action::RollBack { .. }
                | Action::CorrectDeployment { .. }
                | Action::ReportHealth { .. }
                | Action::RecordDeployment
                | Action::RecordIncident
                | Action::WriteDocs
                | Action::ReviewDoc
                | Action::SetOwnStatus
                | Action::FileBackport
                | Action::WriteRhythm { .. }
                | Action::ResolveBlocker { .. } => {}
            }
        }
        all
    }

    /// Every role × action × (own / other's resource): the expected answer.
    #[test]
    fn the_permission_matrix_holds_for_every_role_and_action() {
        let me = AccountId(1);
        let other = AccountId(2);
        let actions = [
            (Action::ViewAdmin, [false, false, false, true]),
            (Action::ManageInvites, [false, false, false, true]),
            (Action::ReadAuditLog, [false, false, false, true]),
            (Action::ManageIntegrations, [false, false, false, true]),
            (Action::AttributeIncident, [false, false, true, true]),
            (
                Action::ManageAccount { target: other },
                [false, false, false, true],
            ),
            (
                Action::ManageAccount { target: me },
                [false, false, false, false],
            ),
            (Action::EditProfile { owner: me }, [false, true, true, true]),
            (
                Action::EditProfile { owner: other },
                [false, false, false, false],
            ),
            (
                Action::DecideLeave { owner: other },
                [false, false, true, true],
            ),
            (
                Action::DecideLeave { owner: me },
                [false, false, false, false],
            ),
            (Action::CancelLeave { owner: me }, [false, true, true, true]),
            (
                Action::CancelLeave { owner: other },
                [false, false, false, false],
            ),
            (Action::ManageReleases, [false, false, true, true]),
            (Action::ManageDeployTargets, [false, false, true, true]),
            (Action::EditDoc { owner: me }, [false, true, true, true]),
            (
                Action::EditDoc { owner: other },
                [false, false, false, false],
            ),
            (
                Action::AskReviewers { owner: me },
                [false, true, true, true],
            ),
            (
                Action::AskReviewers { owner: other },
                [false, false, false, false],
            ),
            (
                Action::DecideDoc { owner: other },
                [false, false, true, true],
            ),
            (
                Action::DecideDoc { owner: me },
                [false, false, false, false],
            ),
            (
                Action::RollBack { recorder: Some(me) },
                [false, true, true, true],
            ),
            (
                Action::RollBack {
                    recorder: Some(other),
                },
                [false, false, true, true],
            ),
            (
                Action::RollBack { recorder: None },
                [false, false, true, true],
            ),
            (
                Action::CorrectDeployment { recorder: Some(me) },
                [false, true, true, true],
            ),
            (
                Action::CorrectDeployment {
                    recorder: Some(other),
                },
                [false, false, true, true],
            ),
            (
                Action::ReportHealth { production: true },
                [false, false, true, true],
            ),
            (
                Action::ReportHealth { production: false },
                [false, true, true, true],
            ),
            (Action::RecordDeployment, [false, true, true, true]),
            (Action::RecordIncident, [false, true, true, true]),
            (Action::WriteDocs, [false, true, true, true]),
            (Action::ReviewDoc, [false, true, true, true]),
            (Action::SetOwnStatus, [false, true, true, true]),
            (Action::FileBackport, [false, true, true, true]),
            (Action::WriteRhythm { owner: me }, [false, true, true, true]),
            (
                Action::WriteRhythm { owner: other },
                [false, false, false, false],
            ),
            (
                Action::ResolveBlocker {
                    owner: me,
                    helper: false,
                },
                [false, true, true, true],
            ),
            (
                Action::ResolveBlocker {
                    owner: other,
                    helper: true,
                },
                [false, true, true, true],
            ),
            (
                Action::ResolveBlocker {
                    owner: other,
                    helper: false,
                },
                [false, false, true, true],
            ),
        ];
        // Every action has a row: adding an action without one fails here (and `every_action`'s
        // match fails to compile until it names the new action).
        let listed: std::collections::HashSet<_> = actions
            .iter()
            .map(|(a, _)| std::mem::discriminant(a))
            .collect();
        for a in every_action() {
            assert!(
                listed.contains(&std::mem::discriminant(&a)),
                "{a:?} has no row"
            );
        }
        for (action, expected) in actions {
            let callers = [
                None,
                Some(user(1, Role::Member)),
                Some(user(1, Role::Lead)),
                Some(user(1, Role::Admin)),
            ];
            for (caller, want) in callers.iter().zip(expected) {
                assert_eq!(
                    can(caller.as_ref(), action),
                    want,
                    "{:?} doing {action:?}",
                    caller.as_ref().map(|c| c.role)
                );
            }
        }
    }

    #[test]
    fn a_refusal_says_why() {
        let member = user(1, Role::Member);
        let err = require(Some(&member), Action::ViewAdmin).unwrap_err();
        assert!(err.to_string().contains("Only admins"));
        let err = require(Some(&member), Action::ManageDeployTargets).unwrap_err();
        assert!(err.to_string().contains("services and environments"));
        let err = require(
            Some(&member),
            Action::EditDoc {
                owner: AccountId(2),
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("owner edits"));
        let err = require(
            Some(&member),
            Action::DecideDoc {
                owner: AccountId(2),
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("Only a lead decides"));
        let lead = user(1, Role::Lead);
        let err = require(
            Some(&lead),
            Action::DecideDoc {
                owner: AccountId(1),
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("your own doc"));
    }
}
