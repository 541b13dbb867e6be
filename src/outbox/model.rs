//! The notification rules, pure and unit-tested: the catalogue of events with their default
//! channels, quiet hours, retry backoff, and how a message is written for Slack-compatible chats
//! and for signed JSON webhooks.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Every event flowdeck announces. `key()` is stored in `outbox.event` and `notify_routes.event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    ReviewRequested,
    VerdictGiven,
    DocDecided,
    DocSuperseded,
    MemberOffline,
    MemberOverdue,
    LeaveRequested,
    LeaveAcknowledged,
    LeaveDeclined,
    LeaveEmergency,
    DeploymentFailed,
    RolledBack,
    ServiceDown,
    ServiceUp,
    IncidentOpened,
    IncidentResolved,
    BackportRequested,
    SkewIntroduced,
    TagRetracted,
    /// A blocker ran an hour (step 1): its named helpers are asked.
    BlockerHelpers,
    /// Two hours (step 2): the whole team is asked.
    BlockerTeam,
    /// Three hours (step 3): outside help needed; the leads are told.
    BlockerLeads,
    /// A member has not written this week's update by their due day's evening (once a week).
    UpdateReminder,
    /// The week's Problems and slipped milestones, for the team channel.
    UpdatesDigest,
    /// The integrations page's "send a test message"; never routed.
    Test,
}

/// The channels the team's agreement names; a destination created for one gets its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The general team channel: leave, blockers, the weekly digest.
    General,
    /// The inner channel: emergencies and going offline.
    Inner,
    /// Deployments: failures, rollbacks, service down/up, incidents, skew, backports, retractions.
    Deployments,
    /// Reviews: requested, verdicts, decisions.
    Reviews,
    /// Every event (e.g. a signed webhook feeding another tool).
    Everything,
    /// None yet: pick events on the destination's page.
    Nothing,
}

impl Purpose {
    pub const ALL: [Purpose; 6] = [
        Purpose::General,
        Purpose::Inner,
        Purpose::Deployments,
        Purpose::Reviews,
        Purpose::Everything,
        Purpose::Nothing,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Purpose::General => "general",
            Purpose::Inner => "inner",
            Purpose::Deployments => "deployments",
            Purpose::Reviews => "reviews",
            Purpose::Everything => "everything",
            Purpose::Nothing => "nothing",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Purpose::General => "General channel (leave, blockers, weekly digest)",
            Purpose::Inner => "Inner channel (emergencies, going offline)",
            Purpose::Deployments => "Deployments channel (failures, down/up, incidents)",
            Purpose::Reviews => "Reviews channel (requests, verdicts, decisions)",
            Purpose::Everything => "Every event",
            Purpose::Nothing => "No events yet (choose them next)",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.key() == s)
            .ok_or_else(|| "Choose what this destination is for.".into())
    }

    /// The events a destination for this purpose receives by default.
    pub fn events(self) -> Vec<Event> {
        Event::ROUTABLE
            .into_iter()
            .filter(|e| match self {
                Purpose::Everything => true,
                Purpose::Nothing => false,
                p => e.purpose() == p,
            })
            .collect()
    }
}

impl Event {
    /// The events a destination can receive, in the order the routing form lists them.
    pub const ROUTABLE: [Event; 24] = [
        Event::ReviewRequested,
        Event::VerdictGiven,
        Event::DocDecided,
        Event::DocSuperseded,
        Event::MemberOffline,
        Event::MemberOverdue,
        Event::LeaveRequested,
        Event::LeaveAcknowledged,
        Event::LeaveDeclined,
        Event::LeaveEmergency,
        Event::DeploymentFailed,
        Event::RolledBack,
        Event::ServiceDown,
        Event::ServiceUp,
        Event::IncidentOpened,
        Event::IncidentResolved,
        Event::BackportRequested,
        Event::SkewIntroduced,
        Event::TagRetracted,
        Event::BlockerHelpers,
        Event::BlockerTeam,
        Event::BlockerLeads,
        Event::UpdateReminder,
        Event::UpdatesDigest,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Event::ReviewRequested => "review.requested",
            Event::VerdictGiven => "review.verdict",
            Event::DocDecided => "doc.decided",
            Event::DocSuperseded => "doc.superseded",
            Event::MemberOffline => "member.offline",
            Event::MemberOverdue => "member.overdue",
            Event::LeaveRequested => "leave.requested",
            Event::LeaveAcknowledged => "leave.acknowledged",
            Event::LeaveDeclined => "leave.declined",
            Event::LeaveEmergency => "leave.emergency",
            Event::DeploymentFailed => "deployment.failed",
            Event::RolledBack => "deployment.rolled_back",
            Event::ServiceDown => "service.down",
            Event::ServiceUp => "service.up",
            Event::IncidentOpened => "incident.opened",
            Event::IncidentResolved => "incident.resolved",
            Event::BackportRequested => "backport.requested",
            Event::SkewIntroduced => "skew.introduced",
            Event::TagRetracted => "tag.retracted",
            Event::BlockerHelpers => "blocker.helpers",
            Event::BlockerTeam => "blocker.team",
            Event::BlockerLeads => "blocker.leads",
            Event::UpdateReminder => "update.reminder",
            Event::UpdatesDigest => "updates.digest",
            Event::Test => "test",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Event::ReviewRequested => "Review requested",
            Event::VerdictGiven => "Verdict given",
            Event::DocDecided => "Doc decided",
            Event::DocSuperseded => "Doc superseded",
            Event::MemberOffline => "Going offline",
            Event::MemberOverdue => "Overdue return",
            Event::LeaveRequested => "Leave requested",
            Event::LeaveAcknowledged => "Leave acknowledged",
            Event::LeaveDeclined => "Leave declined",
            Event::LeaveEmergency => "Emergency leave",
            Event::DeploymentFailed => "Deployment failed",
            Event::RolledBack => "Rolled back",
            Event::ServiceDown => "Service down",
            Event::ServiceUp => "Service up again",
            Event::IncidentOpened => "Incident opened",
            Event::IncidentResolved => "Incident resolved",
            Event::BackportRequested => "Backport requested",
            Event::SkewIntroduced => "Version skew introduced",
            Event::TagRetracted => "Tag retracted",
            Event::BlockerHelpers => "Blocker: helpers asked (1 h)",
            Event::BlockerTeam => "Blocker: team asked (2 h)",
            Event::BlockerLeads => "Blocker: outside help needed (3 h)",
            Event::UpdateReminder => "Weekly update reminder",
            Event::UpdatesDigest => "Weekly updates digest",
            Event::Test => "Test message",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ROUTABLE
            .into_iter()
            .chain([Event::Test])
            .find(|e| e.key() == s)
    }

    /// The channel the team's agreement sends it to.
    pub fn purpose(self) -> Purpose {
        match self {
            Event::ReviewRequested
            | Event::VerdictGiven
            | Event::DocDecided
            | Event::DocSuperseded => Purpose::Reviews,
            Event::MemberOffline | Event::MemberOverdue | Event::LeaveEmergency => Purpose::Inner,
            Event::LeaveRequested
            | Event::LeaveAcknowledged
            | Event::LeaveDeclined
            | Event::BlockerHelpers
            | Event::BlockerTeam
            | Event::BlockerLeads
            | Event::UpdatesDigest => Purpose::General,
            Event::UpdateReminder => Purpose::Nothing,
            Event::DeploymentFailed
            | Event::RolledBack
            | Event::ServiceDown
            | Event::ServiceUp
            | Event::IncidentOpened
            | Event::IncidentResolved
            | Event::BackportRequested
            | Event::SkewIntroduced
            | Event::TagRetracted => Purpose::Deployments,
            Event::Test => Purpose::Nothing,
        }
    }

    /// Addressed to one member, so it can land in their inbox.
    pub fn personal(self) -> bool {
        matches!(
            self,
            Event::ReviewRequested
                | Event::VerdictGiven
                | Event::DocDecided
                | Event::DocSuperseded
                | Event::LeaveAcknowledged
                | Event::LeaveDeclined
                | Event::BlockerHelpers
                | Event::BlockerLeads
                | Event::UpdateReminder
        )
    }

    /// The personal events, as the preferences form lists them.
    pub fn personal_events() -> impl Iterator<Item = Event> {
        Self::ROUTABLE.into_iter().filter(|e| e.personal())
    }
}

/// When a chat message about a member whose quiet hours are `from`–`to` (in zone `tz`) may go:
/// `None` if now is outside them, else the end of the quiet hours. Quiet hours may wrap midnight
/// (22:00–07:00). An unknown zone is taken as UTC.
pub fn quiet_until(
    now: DateTime<Utc>,
    tz: &str,
    from: Option<NaiveTime>,
    to: Option<NaiveTime>,
) -> Option<DateTime<Utc>> {
    let (from, to) = (from?, to?);
    if from == to {
        return None;
    }
    let tz: Tz = tz.parse().unwrap_or(Tz::UTC);
    let local = now.with_timezone(&tz);
    let t = local.time();
    let quiet = if from < to {
        t >= from && t < to
    } else {
        t >= from || t < to
    };
    if !quiet {
        return None;
    }
    // The next `to` after now, in the member's zone (a gap at a clock change moves it later).
    let mut day = local.date_naive();
    if t >= to {
        day = day.succ_opt()?;
    }
    for minutes in [0, 30, 60, 90, 120] {
        if let Some(at) = tz
            .from_local_datetime(&(day.and_time(to) + Duration::minutes(minutes)))
            .earliest()
        {
            return Some(at.with_timezone(&Utc));
        }
    }
    None
}

/// How long to wait before attempt `attempts + 1` after `attempts` failures: `base` doubling
/// each time, at most an hour, with up to 25 % jitter (`jitter` in [0, 1)) so that receivers
/// coming back are not hit by every sender at once.
pub fn backoff(attempts: i32, base: std::time::Duration, jitter: f64) -> std::time::Duration {
    let exp = attempts.clamp(1, 30) - 1;
    let raw = base.as_secs_f64() * 2f64.powi(exp);
    let capped = raw.min(3600.0);
    std::time::Duration::from_secs_f64(capped * (1.0 + 0.25 * jitter.clamp(0.0, 1.0)))
        .min(std::time::Duration::from_secs(3600))
}

/// A receiver's `Retry-After` (seconds), bounded to [1 s, 1 h]; default 30 s when it is missing
/// or is an HTTP date.
pub fn retry_after(header: Option<&str>) -> std::time::Duration {
    let secs = header
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(30);
    std::time::Duration::from_secs(secs.clamp(1, 3600))
}

/// Text for a Slack-compatible chat: `&`, `<`, `>` escaped as Slack requires (Mattermost and
/// Discord render them back), and `@` followed by a word broken with a zero-width space, so a
/// doc title like "@channel" can never ping a whole channel.
pub fn chat_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '@' if chars.peek().is_some_and(|n| n.is_alphanumeric()) => out.push_str("@\u{200B}"),
            c => out.push(c),
        }
    }
    out
}

/// One row to send: what the outbox row says.
#[derive(Clone, Debug)]
pub struct Message {
    /// The outbox row's id: the stable delivery id (`X-Flowdeck-Delivery`).
    pub id: i64,
    pub event: String,
    pub text: String,
    /// An absolute URL.
    pub url: String,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

/// The JSON body for a Slack-compatible incoming webhook, folding a burst of messages of one
/// kind into one post: `text` always (Mattermost ignores `blocks`), `blocks` for Slack.
pub fn slack_body(messages: &[Message]) -> Value {
    let line = |m: &Message| format!("{} <{}|Open>", chat_escape(&m.text), m.url);
    let plain = |m: &Message| format!("{} {}", chat_escape(&m.text), m.url);
    match messages {
        [one] => json!({
            "text": plain(one),
            "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": line(one) } }],
        }),
        many => {
            let label = Event::parse(&many[0].event).map_or("Notifications", Event::label);
            let head = format!("{label} ×{}", many.len());
            let text = std::iter::once(head.clone())
                .chain(many.iter().map(|m| format!("• {}", plain(m))))
                .collect::<Vec<_>>()
                .join("\n");
            let list = many
                .iter()
                .map(|m| format!("• {}", line(m)))
                .collect::<Vec<_>>()
                .join("\n");
            json!({
                "text": text,
                "blocks": [
                    { "type": "header", "text": { "type": "plain_text", "text": head } },
                    { "type": "section", "text": { "type": "mrkdwn", "text": list } },
                ],
            })
        }
    }
}

/// The JSON body of a signed webhook.
pub fn webhook_body(m: &Message) -> Value {
    json!({
        "id": m.id.to_string(),
        "event": m.event,
        "created_at": m.created_at,
        "text": m.text,
        "url": m.url,
        "data": m.data,
    })
}

/// `sha256=` + the hex HMAC-SHA256 of `body` with `secret`: GitHub's scheme, so receivers can
/// reuse their verification code.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A destination URL as admins see it after saving: scheme and host, the rest hidden.
pub fn mask_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    format!("{scheme}://{host}/…")
}

/// Slack-compatible webhooks that take one message per second.
pub const SLACK_PACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How many messages of one kind a chat post folds together at most.
pub const FOLD_MAX: usize = 20;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn t(s: &str) -> Option<NaiveTime> {
        Some(NaiveTime::parse_from_str(s, "%H:%M").unwrap())
    }

    #[test]
    fn quiet_hours_that_wrap_midnight_hold_until_the_morning_in_the_members_zone() {
        // 23:30 in Berlin (UTC+1 in March) is inside 22:00–07:00; it ends at 07:00 Berlin.
        let held = quiet_until(
            at("2026-03-10T22:30:00Z"),
            "Europe/Berlin",
            t("22:00"),
            t("07:00"),
        );
        assert_eq!(held, Some(at("2026-03-11T06:00:00Z")));
        // 03:00 Berlin: the same night, same end.
        let held = quiet_until(
            at("2026-03-11T02:00:00Z"),
            "Europe/Berlin",
            t("22:00"),
            t("07:00"),
        );
        assert_eq!(held, Some(at("2026-03-11T06:00:00Z")));
        // 12:00 Berlin: not quiet.
        assert_eq!(
            quiet_until(
                at("2026-03-11T11:00:00Z"),
                "Europe/Berlin",
                t("22:00"),
                t("07:00")
            ),
            None
        );
    }

    #[test]
    fn quiet_hours_within_a_day_and_none_set_hold_nothing_outside() {
        let held = quiet_until(at("2026-03-10T12:30:00Z"), "UTC", t("12:00"), t("13:00"));
        assert_eq!(held, Some(at("2026-03-10T13:00:00Z")));
        assert_eq!(
            quiet_until(at("2026-03-10T13:00:00Z"), "UTC", t("12:00"), t("13:00")),
            None
        );
        assert_eq!(
            quiet_until(at("2026-03-10T12:30:00Z"), "UTC", None, None),
            None
        );
    }

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_an_hour() {
        let s = std::time::Duration::from_secs(1);
        assert_eq!(backoff(1, s, 0.0).as_secs(), 1);
        assert_eq!(backoff(2, s, 0.0).as_secs(), 2);
        assert_eq!(backoff(5, s, 0.0).as_secs(), 16);
        assert_eq!(backoff(13, s, 0.0).as_secs(), 3600);
        assert_eq!(backoff(20, s, 0.99).as_secs(), 3600);
        let jittered = backoff(3, s, 0.5).as_secs_f64();
        assert!((4.0..=5.0).contains(&jittered), "{jittered}");
    }

    #[test]
    fn retry_after_is_bounded_and_defaults_when_it_is_a_date() {
        assert_eq!(retry_after(Some("2")).as_secs(), 2);
        assert_eq!(retry_after(Some("0")).as_secs(), 1);
        assert_eq!(retry_after(Some("999999")).as_secs(), 3600);
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")).as_secs(),
            30
        );
        assert_eq!(retry_after(None).as_secs(), 30);
    }

    #[test]
    fn chat_text_cannot_ping_a_channel_or_inject_a_link() {
        assert_eq!(
            chat_escape("<!channel> @here & <https://evil|click>"),
            "&lt;!channel&gt; @\u{200B}here &amp; &lt;https://evil|click&gt;"
        );
        assert_eq!(chat_escape("mail me @ noon"), "mail me @ noon");
    }

    fn msg(id: i64, event: &str, text: &str) -> Message {
        Message {
            id,
            event: event.into(),
            text: text.into(),
            url: format!("https://f.example/x/{id}"),
            data: Value::Null,
            created_at: at("2026-03-10T12:00:00Z"),
        }
    }

    #[test]
    fn a_burst_of_one_kind_is_one_chat_message_with_every_line_and_link() {
        let one = slack_body(&[msg(1, "deployment.failed", "api v1 failed in prod")]);
        assert_eq!(one["text"], "api v1 failed in prod https://f.example/x/1");
        let three = slack_body(&[
            msg(1, "deployment.failed", "a failed"),
            msg(2, "deployment.failed", "b failed"),
            msg(3, "deployment.failed", "c failed"),
        ]);
        let text = three["text"].as_str().unwrap();
        assert!(text.starts_with("Deployment failed ×3\n"), "{text}");
        assert!(text.contains("• c failed https://f.example/x/3"), "{text}");
        assert_eq!(three["blocks"][0]["type"], "header");
    }

    #[test]
    fn signatures_match_githubs_scheme() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        assert_eq!(
            signature("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn a_masked_url_keeps_only_scheme_and_host() {
        assert_eq!(
            mask_url("https://hooks.slack.com/services/T000/B000/XXXX"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            mask_url("http://user:pw@example.com:8080/x?y"),
            "http://example.com:8080/…"
        );
    }

    #[test]
    fn every_purpose_but_everything_and_nothing_owns_some_events() {
        for p in [
            Purpose::General,
            Purpose::Inner,
            Purpose::Deployments,
            Purpose::Reviews,
        ] {
            assert!(!p.events().is_empty(), "{p:?}");
        }
        assert_eq!(Purpose::Everything.events().len(), Event::ROUTABLE.len());
        assert!(Purpose::Inner.events().contains(&Event::LeaveEmergency));
        assert!(Purpose::General.events().contains(&Event::LeaveRequested));
        for e in Event::ROUTABLE {
            assert_eq!(Event::parse(e.key()), Some(e));
        }
    }
}
