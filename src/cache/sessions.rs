//! The session store every replica uses: tower-sessions' PostgreSQL store with this replica's
//! cache in front. A session's row changing or going (logout, a new id at login, expiry) sends
//! `session:<id>` to every replica (the trigger `db::migrate` puts on the store's table).

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_sqlx_store::PostgresStore;

use super::Cache;

#[derive(Clone, Debug)]
pub struct CachedSessions {
    inner: PostgresStore,
    cache: Cache,
}

impl CachedSessions {
    pub fn new(inner: PostgresStore, cache: Cache) -> Self {
        Self { inner, cache }
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (entries, parts) = self.len();
        write!(f, "Cache({entries} sessions and accounts, {parts} parts)")
    }
}

#[async_trait]
impl SessionStore for CachedSessions {
    async fn create(&self, r: &mut Record) -> session_store::Result<()> {
        self.inner.create(r).await
    }

    async fn save(&self, r: &Record) -> session_store::Result<()> {
        self.cache.forget_session(&r.id.to_string());
        self.inner.save(r).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = id.to_string();
        if let Some(r) = self.cache.session(&key) {
            return Ok(Some(r));
        }
        let read_at = self.cache.generation();
        let r = self.inner.load(id).await?;
        if let Some(r) = &r {
            self.cache.put_session(r, read_at);
        }
        Ok(r)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.cache.forget_session(&id.to_string());
        self.inner.delete(id).await
    }
}
