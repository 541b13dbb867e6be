//! The outbox: notifications written as rows in the transaction of the change they announce (so
//! a rolled-back change announces nothing), routed to chat destinations and signed webhooks by
//! event type, and delivered by `sender` at least once, in order per destination. Things
//! addressed to a person also land in their inbox at once. A shared mechanism beside `audit`:
//! features call `outbox::enqueue`, never each other.

pub mod model;
pub mod pages;
pub mod sender;
mod store;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;

pub use model::{Event, Purpose};

/// One notification: what happened, in words for people.
pub struct Notice {
    pub event: Event,
    /// One line naming people by display name; no secrets, no private notes.
    pub text: String,
    /// The page it is about, as a path (`/docs/42`); messages make it absolute.
    pub link: String,
    /// The member it is addressed to: it lands in their inbox (unless they muted the event) and
    /// their quiet hours hold the chat message.
    pub to: Option<i64>,
    /// Machine-readable details for signed webhooks (ids, names, versions).
    pub data: Value,
    /// Sent to the destinations routed for its event (false: the inbox only — e.g. one message
    /// per helper in their inboxes, while a single chat message names them all).
    pub chat: bool,
}

impl Notice {
    pub fn new(event: Event, text: impl Into<String>, link: impl Into<String>) -> Self {
        Self {
            event,
            text: text.into(),
            link: link.into(),
            to: None,
            data: Value::Null,
            chat: true,
        }
    }

    /// Addressed to member `id`.
    pub fn to(mut self, id: i64) -> Self {
        self.to = Some(id);
        self
    }

    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }

    /// To the addressee's inbox only, not to chat.
    pub fn inbox_only(mut self) -> Self {
        self.chat = false;
        self
    }
}

/// Queues `notice` in the caller's transaction: the outbox row, one delivery per destination
/// routed for its event, and the inbox item of the member it is addressed to. `now` is the
/// clock's instant (quiet hours are judged at it).
#[tracing::instrument(skip_all, fields(event = notice.event.key()))]
pub async fn enqueue(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    notice: Notice,
) -> sqlx::Result<()> {
    let (held_until, inbox) = match notice.to {
        Some(id) => match store::recipient(&mut *conn, id).await? {
            Some(r) => (
                model::quiet_until(now, &r.timezone, r.quiet_from, r.quiet_until),
                notice.event.personal() && !r.muted.iter().any(|m| m == notice.event.key()),
            ),
            None => (None, false),
        },
        None => (None, false),
    };
    store::insert(conn, &notice, held_until, inbox).await
}

/// Deliveries waiting to be sent and deliveries given up on (dead), for `/metrics`.
pub async fn backlog(pool: &sqlx::PgPool) -> sqlx::Result<(i64, i64)> {
    store::backlog(pool).await
}

/// Deletes what is kept no longer: sent deliveries after 30 days, outbox rows with nothing left
/// to send after 30 days, inbox items after 90 days. Returns how many rows went.
pub async fn forget_old(pool: &sqlx::PgPool) -> sqlx::Result<u64> {
    store::forget_old(pool).await
}
