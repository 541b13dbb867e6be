//! All SQL of the outbox.

use serde_json::Value;
use sqlx::PgConnection;

pub(super) async fn insert(
    conn: &mut PgConnection,
    event: &str,
    channel: &str,
    payload: Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into outbox (event, channel, payload) values ($1, $2, $3)",
        event,
        channel,
        payload
    )
    .execute(conn)
    .await?;
    Ok(())
}
