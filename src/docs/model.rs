//! Design-doc rules: kinds and states, the template's sections, what submitting for review needs,
//! who may move a doc where, evidence flags, sanitized Markdown. (The Markdown file format is
//! `madr`.)

use serde::{Deserialize, Serialize};

/// A design doc's row id (not its DD-number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DocId(pub i64);

/// A comment thread's row id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ThreadId(pub i64);

/// A doc's kind, decoded from `docs.kind` (text, checked by the table's constraint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Kind {
    Proposal,
    Problem,
    Decision,
    Information,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Proposal,
        Kind::Problem,
        Kind::Decision,
        Kind::Information,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Proposal => "proposal",
            Kind::Problem => "problem",
            Kind::Decision => "decision",
            Kind::Information => "information",
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
            .ok_or_else(|| "Choose a kind: proposal, problem, decision or information.".into())
    }
}

/// A doc's state, decoded from `docs.status`; moved only by `transition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Status {
    Draft,
    InReview,
    ChangesRequested,
    Approved,
    Rejected,
    Implemented,
    Withdrawn,
    Superseded,
    OnHold,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Draft,
        Status::InReview,
        Status::ChangesRequested,
        Status::Approved,
        Status::Rejected,
        Status::Implemented,
        Status::Withdrawn,
        Status::Superseded,
        Status::OnHold,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in_review",
            Status::ChangesRequested => "changes_requested",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Implemented => "implemented",
            Status::Withdrawn => "withdrawn",
            Status::Superseded => "superseded",
            Status::OnHold => "on_hold",
        }
    }
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("“{s}” is not a doc state."))
    }
    /// The state for people ("in review").
    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in review",
            Status::ChangesRequested => "changes requested",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Implemented => "implemented",
            Status::Withdrawn => "withdrawn",
            Status::Superseded => "superseded",
            Status::OnHold => "on hold",
        }
    }
    /// Whether the owner may still edit the text.
    pub fn editable(self) -> bool {
        matches!(
            self,
            Status::Draft | Status::InReview | Status::ChangesRequested | Status::OnHold
        )
    }

    /// Reviewers can still be asked (not decided, withdrawn or closed).
    pub fn open_for_review(self) -> bool {
        matches!(
            self,
            Status::Draft | Status::InReview | Status::ChangesRequested
        )
    }
}

/// A reviewer's verdict, decoded from `doc_reviewers.verdict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    RequestChanges,
    Comment,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Approve, Verdict::RequestChanges, Verdict::Comment];
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::RequestChanges => "request_changes",
            Verdict::Comment => "comment",
        }
    }
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or_else(|| "Choose approve, request changes or comment.".into())
    }
    /// The verdict for people ("requested changes").
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::RequestChanges => "requested changes",
            Verdict::Comment => "commented",
        }
    }
}

/// One considered option.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alternative {
    pub title: String,
    pub description: String,
    pub pros: String,
    pub cons: String,
    pub references: String,
    pub data: String,
}

impl Alternative {
    pub fn is_blank(&self) -> bool {
        [
            &self.title,
            &self.description,
            &self.pros,
            &self.cons,
            &self.references,
            &self.data,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }
    /// "no evidence" when it has neither a reference nor data; otherwise what is missing, if any.
    pub fn evidence_flag(&self) -> Option<&'static str> {
        match (
            self.references.trim().is_empty(),
            self.data.trim().is_empty(),
        ) {
            (true, true) => Some("no evidence"),
            (true, false) => Some("no reference"),
            (false, true) => Some("no data"),
            (false, false) => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraSection {
    pub title: String,
    pub body: String,
}

/// The text of a doc, as the form edits it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Content {
    pub title: String,
    pub kind: String,
    pub tags: Vec<String>,
    pub target_line: String,
    pub background: String,
    pub objectives: String,
    pub alternatives: Vec<Alternative>,
    pub conclusion: String,
    pub extra: Vec<ExtraSection>,
}

/// What each section of the template asks, shown as the empty field's placeholder (never saved
/// as the doc's text).
pub mod prompts {
    pub const BACKGROUND: &str = "What is the situation, and why does it need a decision now?";
    pub const OBJECTIVES: &str = "Goals:\n- …\n\nNon-goals:\n- …";
    pub const DESCRIPTION: &str = "What would we do?";
    pub const PROS: &str = "- what it gets us";
    pub const CONS: &str = "- what it costs or risks";
    pub const REFERENCES: &str = "Links to docs, issues, benchmarks (one per line)";
    pub const DATA: &str = "Numbers that support it: measurements, estimates";
    pub const CONCLUSION: &str = "Which alternative, and why";
    /// Text the template used to put in the fields themselves: saved untouched, it counts as
    /// empty.
    pub const LEGACY: [&str; 2] = [
        "What is the situation, and why does it need a decision now?",
        "Goals:\n- \n\nNon-goals:\n- ",
    ];
}

/// `text`, or nothing when it is only a template prompt (or blank).
pub fn unprompted(text: &str) -> String {
    let t = text.trim();
    let prompt = prompts::LEGACY
        .iter()
        .chain([prompts::BACKGROUND, prompts::OBJECTIVES].iter())
        .any(|p| p.trim() == t);
    if t.is_empty() || prompt {
        String::new()
    } else {
        text.to_string()
    }
}

/// One item of the "ready for review" checklist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub what: String,
    pub done: bool,
}

impl Content {
    /// The template a new doc starts from: the sections are empty (their prompts are shown as
    /// placeholders), with two alternative slots.
    pub fn template() -> Self {
        Self {
            kind: "proposal".into(),
            alternatives: vec![Alternative::default(), Alternative::default()],
            ..Default::default()
        }
    }

    /// The content with untouched template prompts dropped (saving an untouched section saves
    /// nothing).
    pub fn without_prompts(mut self) -> Self {
        self.background = unprompted(&self.background);
        self.objectives = unprompted(&self.objectives);
        self
    }

    /// The "ready for review" checklist: each rule of submitting, met or not.
    pub fn checklist(&self) -> Vec<Check> {
        let missing = self.submit_problems();
        let alts: Vec<&Alternative> = self.alternatives.iter().filter(|a| !a.is_blank()).collect();
        let alt_ok = !missing.iter().any(|m| m.contains("alternative"));
        vec![
            Check {
                what: "Background".into(),
                done: !missing.iter().any(|m| m == "Background"),
            },
            Check {
                what: "Objectives".into(),
                done: !missing.iter().any(|m| m == "Objectives"),
            },
            Check {
                what: format!(
                    "Two alternatives, each with a title, a pro and a con ({} written)",
                    alts.len()
                ),
                done: alt_ok,
            },
            Check {
                what: "A proposed Conclusion".into(),
                done: !missing.iter().any(|m| m.contains("Conclusion")),
            },
        ]
    }

    /// Problems that keep the doc from being saved at all.
    pub fn save_problems(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        let t = self.title.trim();
        if t.is_empty() || t.chars().count() > 200 {
            p.push((
                "title",
                "Give the doc a title (at most 200 characters).".to_string(),
            ));
        }
        if Kind::parse(&self.kind).is_err() {
            p.push(("kind", "Choose a kind.".to_string()));
        }
        if self
            .tags
            .iter()
            .any(|t| t.len() > 40 || t.contains(char::is_whitespace))
        {
            p.push((
                "tags",
                "Tags are single words of at most 40 characters, separated by commas.".to_string(),
            ));
        }
        if self.target_line.trim().len() > 64 {
            p.push((
                "target_line",
                "A release line name is short, e.g. release-v3.9.".to_string(),
            ));
        }
        p
    }

    /// What submitting for review still needs, each part named.
    pub fn submit_problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if unprompted(&self.background).is_empty() {
            p.push("Background".to_string());
        }
        if unprompted(&self.objectives).is_empty() {
            p.push("Objectives".to_string());
        }
        let alts: Vec<&Alternative> = self.alternatives.iter().filter(|a| !a.is_blank()).collect();
        if alts.len() < 2 {
            p.push("at least two alternatives".to_string());
        }
        for (i, a) in alts.iter().enumerate() {
            let name = if a.title.trim().is_empty() {
                format!("alternative {}", i + 1)
            } else {
                format!("alternative “{}”", a.title.trim())
            };
            if a.title.trim().is_empty() {
                p.push(format!("a title for {name}"));
            }
            if a.pros.trim().is_empty() {
                p.push(format!("a pro for {name}"));
            }
            if a.cons.trim().is_empty() {
                p.push(format!("a con for {name}"));
            }
        }
        if self.conclusion.trim().is_empty() {
            p.push("a proposed Conclusion".to_string());
        }
        p
    }
}

/// What someone wants to do with a doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    Submit,
    /// The owner saved a doc whose changes were requested: back to review.
    Revise,
    /// A reviewer requested changes on a doc in review.
    RequestChanges,
    Withdraw,
    Approve,
    Reject,
    Hold,
    Resume,
    Implemented,
    Supersede,
}

impl Move {
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "submit" => Move::Submit,
            "withdraw" => Move::Withdraw,
            "approve" => Move::Approve,
            "reject" => Move::Reject,
            "hold" => Move::Hold,
            "resume" => Move::Resume,
            "implemented" => Move::Implemented,
            "supersede" => Move::Supersede,
            _ => return Err(format!("“{s}” is not something a doc can do.")),
        })
    }
}

/// Who is asking, relative to the doc.
#[derive(Clone, Copy, Debug)]
pub struct Asker {
    pub is_owner: bool,
    pub is_lead: bool,
    pub is_reviewer: bool,
    /// `auth::policy` allows this person to decide the doc (`Action::DecideDoc`).
    pub may_decide: bool,
}

/// The review state the approval rule looks at.
#[derive(Clone, Copy, Debug)]
pub struct Reviews {
    pub approvals: usize,
    pub open_change_requests: usize,
    pub required: usize,
}

/// The state `mv` leads to, or why it is refused.
pub fn transition(from: Status, mv: Move, who: Asker, reviews: Reviews) -> Result<Status, String> {
    use Status::*;
    // Who may decide is the policy's answer (`Action::DecideDoc`); operations ask the policy
    // first for its precise refusal, so this is the model's own guard.
    let lead_not_owner = || {
        if who.may_decide {
            Ok(())
        } else {
            Err("Only a lead who does not own the doc decides it.".to_string())
        }
    };
    let owner = || {
        if who.is_owner {
            Ok(())
        } else {
            Err("Only the doc's owner can do that.".to_string())
        }
    };
    let refuse = || {
        Err(format!(
            "A doc that is {} cannot be moved that way.",
            from.label()
        ))
    };
    match mv {
        Move::Submit => {
            owner()?;
            match from {
                Draft | ChangesRequested => Ok(InReview),
                _ => refuse(),
            }
        }
        Move::Revise => {
            owner()?;
            match from {
                ChangesRequested => Ok(InReview),
                _ => refuse(),
            }
        }
        Move::RequestChanges => {
            if !who.is_reviewer {
                return Err("Only the reviewers the owner asked give verdicts.".to_string());
            }
            match from {
                InReview => Ok(ChangesRequested),
                _ => refuse(),
            }
        }
        Move::Withdraw => {
            owner()?;
            match from {
                Draft | InReview => Ok(Withdrawn),
                _ => refuse(),
            }
        }
        Move::Approve => {
            lead_not_owner()?;
            if from != InReview {
                return refuse();
            }
            if reviews.open_change_requests > 0 {
                return Err(format!(
                    "{} change request(s) are still open.",
                    reviews.open_change_requests
                ));
            }
            if reviews.approvals < reviews.required {
                return Err(format!(
                    "It needs {} approvals from reviewers; it has {}.",
                    reviews.required, reviews.approvals
                ));
            }
            Ok(Approved)
        }
        Move::Reject => {
            lead_not_owner()?;
            if from == InReview {
                Ok(Rejected)
            } else {
                refuse()
            }
        }
        Move::Hold => {
            lead_not_owner()?;
            if matches!(from, InReview | Approved) {
                Ok(OnHold)
            } else {
                refuse()
            }
        }
        Move::Resume => {
            lead_not_owner()?;
            if from == OnHold {
                Ok(InReview)
            } else {
                refuse()
            }
        }
        Move::Implemented => {
            if !(who.is_owner || who.is_lead) {
                return Err("The owner or a lead marks a doc implemented.".into());
            }
            if from == Approved {
                Ok(Implemented)
            } else {
                refuse()
            }
        }
        Move::Supersede => {
            if !(who.is_owner || who.is_lead) {
                return Err("The owner or a lead marks a doc superseded.".into());
            }
            if matches!(from, Approved | Implemented) {
                Ok(Superseded)
            } else {
                refuse()
            }
        }
    }
}

/// Markdown rendered on the server and sanitized (no script, event handlers, `javascript:` URLs
/// or frames survive).
/// `text` with bare `http(s)://` URLs written as Markdown autolinks (`<…>`), so a list of
/// references renders as links. URLs already inside `<…>`, `(…)` or `[…]` are left alone.
pub fn autolink(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut prev = ' ';
    let mut rest = text;
    while !rest.is_empty() {
        let starts = rest.starts_with("https://") || rest.starts_with("http://");
        if starts && (prev.is_whitespace() || prev == ',') {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let mut url = &rest[..end];
            while url.ends_with(['.', ',', ';', ':', ')', '!', '?']) {
                url = &url[..url.len() - 1];
            }
            if url.contains(['<', '>']) {
                out.push_str(url);
            } else {
                out.push('<');
                out.push_str(url);
                out.push('>');
            }
            rest = &rest[url.len()..];
            prev = url.chars().last().unwrap_or(' ');
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        prev = c;
        rest = &rest[c.len_utf8()..];
    }
    out
}

pub fn render_markdown(md: &str) -> String {
    // An empty list item ("-" alone on a line, as older templates left them) under a line of
    // text would make that text a heading (a setext underline): drop such lines.
    let md: String = md
        .lines()
        .filter(|l| !matches!(l.trim(), "-" | "*" | "+"))
        .collect::<Vec<_>>()
        .join("\n");
    let parser = pulldown_cmark::Parser::new_ext(
        &md,
        pulldown_cmark::Options::ENABLE_TABLES | pulldown_cmark::Options::ENABLE_STRIKETHROUGH,
    );
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&html)
        .to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn complete() -> Content {
        Content {
            title: "Use PostgreSQL advisory locks".into(),
            kind: "proposal".into(),
            tags: vec!["db".into(), "locking".into()],
            target_line: "release-v3.9".into(),
            background: "Two replicas probe the same target.".into(),
            objectives: "Goals: one prober per target.".into(),
            alternatives: vec![
                Alternative {
                    title: "Advisory locks".into(),
                    description: "pg_try_advisory_lock".into(),
                    pros: "simple".into(),
                    cons: "session bound".into(),
                    references: "https://www.postgresql.org/docs/".into(),
                    data: "".into(),
                },
                Alternative {
                    title: "Leases".into(),
                    description: "a leased_until column".into(),
                    pros: "survives crashes".into(),
                    cons: "clock skew".into(),
                    references: "".into(),
                    data: "2 ms per claim".into(),
                },
            ],
            conclusion: "Leases.".into(),
            extra: vec![ExtraSection {
                title: "Rollout".into(),
                body: "Behind a flag.".into(),
            }],
        }
    }

    #[test]
    fn empty_template_lines_never_render_as_headings() {
        let html = render_markdown(prompts::LEGACY[1]);
        assert!(!html.contains("<h"), "{html}");
        assert!(
            html.contains("Goals:") && html.contains("Non-goals:"),
            "{html}"
        );
        assert!(
            render_markdown("Title\n---").contains("<h2>"),
            "a real setext heading stays"
        );
    }

    #[test]
    fn bare_urls_become_links_and_written_links_stay() {
        assert_eq!(
            autolink("see https://example.com/a, and [x](https://e.com) <https://f.com>"),
            "see <https://example.com/a>, and [x](https://e.com) <https://f.com>"
        );
        let html = render_markdown(&autolink("- https://example.com/bench."));
        assert!(
            html.contains("<a href=\"https://example.com/bench\""),
            "{html}"
        );
    }

    #[test]
    fn an_untouched_prompt_is_saved_as_nothing_and_the_checklist_says_what_is_missing() {
        let mut c = Content::template();
        c.background = prompts::LEGACY[0].into();
        c.objectives = prompts::LEGACY[1].into();
        let c = c.without_prompts();
        assert_eq!((c.background.as_str(), c.objectives.as_str()), ("", ""));
        let open: Vec<String> = c
            .checklist()
            .into_iter()
            .filter(|k| !k.done)
            .map(|k| k.what)
            .collect();
        assert_eq!(open.len(), 4, "{open:?}");
        let done = complete().checklist();
        assert!(done.iter().all(|k| k.done), "{done:?}");
    }

    #[test]
    fn submitting_needs_every_part_and_names_each_missing_one() {
        assert!(complete().submit_problems().is_empty());
        let t = Content::template();
        let p = t.submit_problems();
        assert_eq!(
            p,
            [
                "Background",
                "Objectives",
                "at least two alternatives",
                "a proposed Conclusion"
            ]
        );
        let mut c = complete();
        c.alternatives[1].cons.clear();
        c.alternatives[0].pros.clear();
        assert_eq!(
            c.submit_problems(),
            [
                "a pro for alternative “Advisory locks”",
                "a con for alternative “Leases”"
            ]
        );
    }

    #[test]
    fn alternatives_without_evidence_are_flagged() {
        let c = complete();
        assert_eq!(c.alternatives[0].evidence_flag(), Some("no data"));
        assert_eq!(c.alternatives[1].evidence_flag(), Some("no reference"));
        assert_eq!(
            Alternative {
                title: "x".into(),
                ..Default::default()
            }
            .evidence_flag(),
            Some("no evidence")
        );
    }

    const OWNER: Asker = Asker {
        is_owner: true,
        is_lead: false,
        is_reviewer: false,
        may_decide: false,
    };
    const MEMBER: Asker = Asker {
        is_owner: false,
        is_lead: false,
        is_reviewer: false,
        may_decide: false,
    };
    const LEAD: Asker = Asker {
        is_owner: false,
        is_lead: true,
        is_reviewer: false,
        may_decide: true,
    };
    const LEAD_OWNER: Asker = Asker {
        is_owner: true,
        is_lead: true,
        is_reviewer: false,
        may_decide: false,
    };
    const READY: Reviews = Reviews {
        approvals: 2,
        open_change_requests: 0,
        required: 2,
    };

    #[test]
    fn every_move_is_allowed_or_refused_with_a_reason() {
        use Status::*;
        let ok = |from, mv, who, r| transition(from, mv, who, r).unwrap();
        assert_eq!(ok(Draft, Move::Submit, OWNER, READY), InReview);
        assert_eq!(ok(ChangesRequested, Move::Submit, OWNER, READY), InReview);
        assert_eq!(ok(InReview, Move::Withdraw, OWNER, READY), Withdrawn);
        assert_eq!(ok(InReview, Move::Approve, LEAD, READY), Approved);
        assert_eq!(ok(InReview, Move::Reject, LEAD, READY), Rejected);
        assert_eq!(ok(Approved, Move::Hold, LEAD, READY), OnHold);
        assert_eq!(ok(OnHold, Move::Resume, LEAD, READY), InReview);
        assert_eq!(ok(Approved, Move::Implemented, OWNER, READY), Implemented);
        assert_eq!(ok(Implemented, Move::Supersede, LEAD, READY), Superseded);
        assert_eq!(ok(ChangesRequested, Move::Revise, OWNER, READY), InReview);
        let reviewer = Asker {
            is_reviewer: true,
            ..MEMBER
        };
        assert_eq!(
            ok(InReview, Move::RequestChanges, reviewer, READY),
            ChangesRequested
        );
        assert!(transition(InReview, Move::RequestChanges, MEMBER, READY).is_err());
        assert!(transition(Approved, Move::RequestChanges, reviewer, READY).is_err());
        assert!(transition(InReview, Move::Revise, OWNER, READY).is_err());

        let err = |from, mv, who, r| transition(from, mv, who, r).unwrap_err();
        assert!(err(Draft, Move::Submit, MEMBER, READY).contains("owner"));
        assert!(err(InReview, Move::Approve, MEMBER, READY).contains("decides"));
        assert!(err(InReview, Move::Approve, LEAD_OWNER, READY).contains("does not own"));
        assert!(
            err(
                InReview,
                Move::Approve,
                LEAD,
                Reviews {
                    approvals: 1,
                    ..READY
                }
            )
            .contains("needs 2 approvals")
        );
        assert!(
            err(
                InReview,
                Move::Approve,
                LEAD,
                Reviews {
                    open_change_requests: 1,
                    ..READY
                }
            )
            .contains("change request")
        );
        assert!(err(Draft, Move::Approve, LEAD, READY).contains("draft cannot"));
        assert!(err(Approved, Move::Withdraw, OWNER, READY).contains("approved cannot"));
        assert!(err(Rejected, Move::Submit, OWNER, READY).contains("rejected cannot"));
        assert!(err(Draft, Move::Supersede, LEAD, READY).contains("draft cannot"));
        assert!(err(InReview, Move::Implemented, OWNER, READY).contains("in review cannot"));
    }

    #[test]
    fn markdown_is_rendered_and_scripts_never_survive() {
        let payloads = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<svg onload=alert(1)>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
        ];
        for p in payloads {
            let html = render_markdown(p).to_lowercase();
            for bad in [
                "<script",
                "onerror",
                "javascript:",
                "<iframe",
                "onload",
                "style=",
            ] {
                assert!(!html.contains(bad), "{p} rendered as {html}");
            }
        }
        assert!(render_markdown("**bold** and `code`").contains("<strong>bold</strong>"));
    }
}
