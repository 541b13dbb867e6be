//! The outbox: notifications for the team's chat channels, written as rows in the transaction of
//! the change they announce (so a rolled-back change announces nothing) and delivered later by a
//! sender. A shared mechanism beside `audit`: features call `outbox::enqueue`, never each other.

mod store;

use serde_json::Value;
use sqlx::PgConnection;

/// Where a notification goes (the team's agreement names the channels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// The team channel: going offline, leave, failures.
    Team,
    /// The inner channel: emergencies.
    Inner,
}

impl Channel {
    /// The name stored in `outbox.channel` (checked by `outbox_channel_check`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Team => "team",
            Channel::Inner => "inner",
        }
    }
}

/// Queues notification `event` (e.g. `member.offline`) with `payload` in the caller's transaction.
#[tracing::instrument(skip(conn, payload))]
pub async fn enqueue(
    conn: &mut PgConnection,
    event: &str,
    channel: Channel,
    payload: Value,
) -> sqlx::Result<()> {
    store::insert(conn, event, channel.as_str(), payload).await
}
