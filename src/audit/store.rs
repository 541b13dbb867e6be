//! All SQL of the audit log.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use super::{Actor, Change};

pub async fn insert(conn: &mut PgConnection, actor: &Actor, c: Change<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into audit_log (actor_id, actor, action, target_type, target_id, before, after, request_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        actor.id.map(|i| i.0),
        actor.label,
        c.action,
        c.target_type,
        c.target_id,
        c.before,
        c.after,
        actor.request_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Newest first, `limit` entries older than id `before` (keyset pagination).
pub async fn page(pool: &PgPool, before: Option<i64>, limit: i64) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as!(
        Entry,
        r#"select id, at as "at: _", actor, action, target_type, target_id, before, after
         from audit_log
         where $1::bigint is null or id < $1
         order by id desc
         limit $2"#,
        before,
        limit
    )
    .fetch_all(pool)
    .await
}
