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
    /// The target's name now (a handle, a service name, a tag…), when it still exists.
    pub target_name: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The audit page's filters; all optional.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Keyset cursor: entries older than this id.
    pub before: Option<i64>,
}

/// Newest first, `limit` entries matching `f` (keyset pagination on id). Target names are looked
/// up in the tables of the features that wrote them: the audit log is the one reader of all.
pub async fn page(pool: &PgPool, f: &Filter, limit: i64) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as!(
        Entry,
        r#"select l.id, l.at as "at: _", l.actor, l.action, l.target_type, l.target_id,
                  case l.target_type
                      when 'account' then (select handle from accounts where id::text = l.target_id)
                      when 'service' then (select name from services where id::text = l.target_id)
                      when 'environment' then (select name from environments where id::text = l.target_id)
                      when 'repository' then (select name from repositories where id::text = l.target_id)
                      when 'tag' then (select r.name || ' ' || t.name from release_tags t
                                       join repositories r on r.id = t.repository_id
                                       where t.id::text = l.target_id)
                      when 'backport' then (select title from backports where id::text = l.target_id)
                      when 'incident' then (select title from incidents where id::text = l.target_id)
                      when 'deployment' then (select s.name || ' ' || d.version || ' → ' || e.name
                                              from deployments d join services s on s.id = d.service_id
                                              join environments e on e.id = d.environment_id
                                              where d.id::text = l.target_id)
                      when 'leave' then (select a.handle || ' ' || lr.starts_on::text || '–' || lr.ends_on::text
                                         from leave_requests lr join accounts a on a.id = lr.account_id
                                         where lr.id::text = l.target_id)
                      when 'doc' then (select 'DD-' || number || ' ' || title from docs
                                       where 'DD-' || number = l.target_id)
                      else null
                  end as "target_name?",
                  l.before, l.after
         from audit_log l
         where ($1::text is null or l.actor = $1)
           and ($2::text is null or l.action = $2)
           and ($3::text is null or l.target_type = $3)
           and ($4::text is null or l.target_id = $4)
           and ($5::bigint is null or l.id < $5)
         order by l.id desc
         limit $6"#,
        f.actor,
        f.action,
        f.target_type,
        f.target_id,
        f.before,
        limit
    )
    .fetch_all(pool)
    .await
}
