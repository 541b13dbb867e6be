//! In-process caches kept coherent through PostgreSQL (DESIGN §4.5, issue 16): what every request
//! reads and rarely changes — its session and the signed-in account — and team-wide parts of
//! pages. A shared
//! mechanism beside `audit` and `outbox`.
//!
//! Invalidation: triggers (migration `notify_cache_changes`) send `NOTIFY flowdeck_cache` with a
//! topic (`account:42`, `deployments`, …) in the writing transaction, so it is delivered only on
//! commit, to every replica; `listen` drops what changed. Three more bounds: a replica that
//! commits a write drops its own caches when the request ends (the writer sees the change on their
//! next page even before the notification arrives), entries live at most `TTL` (the damage of a
//! notification lost with a connection), and a lost or new listening connection drops
//! everything. Sizes are bounded: a full map is cleared rather than grown.

use std::{
    any::Any,
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::auth::model::CurrentUser;

pub mod sessions;

/// How long an entry may be served without a notification saying it changed.
pub const TTL: Duration = Duration::from_secs(30);
/// At most this many accounts and this many page parts are kept.
const MAX_ACCOUNTS: usize = 10_000;
const MAX_SESSIONS: usize = 20_000;
const MAX_PARTS: usize = 4096;
/// The channel the triggers notify.
pub const CHANNEL: &str = "flowdeck_cache";

type Part = (Arc<dyn Any + Send + Sync>, Instant, &'static [&'static str]);

#[derive(Default)]
struct Inner {
    accounts: HashMap<i64, (CurrentUser, Instant)>,
    sessions: HashMap<String, (tower_sessions::session::Record, Instant)>,
    parts: HashMap<String, Part>,
    /// Whether a listener is connected: without one nothing is served from the cache.
    listening: bool,
    /// Moves on every invalidation: a value read from the database before an invalidation is
    /// not stored after it (it may be what the invalidation was about).
    generation: u64,
}

/// The caches of one replica.
#[derive(Clone, Default)]
pub struct Cache {
    inner: Arc<Mutex<Inner>>,
}

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generation to pass to `put_*` for a value about to be read from the database.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The cached account `id`, if fresh.
    pub fn account(&self, id: i64) -> Option<CurrentUser> {
        let g = self.lock();
        if !g.listening {
            return None;
        }
        g.accounts
            .get(&id)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(u, _)| u.clone())
    }

    /// Keeps `u`, read from the database at generation `read_at`, unless something was
    /// invalidated since.
    pub fn put_account(&self, u: &CurrentUser, read_at: u64) {
        let mut g = self.lock();
        if !g.listening || g.generation != read_at {
            return;
        }
        if g.accounts.len() >= MAX_ACCOUNTS {
            g.accounts.clear();
        }
        g.accounts.insert(u.id.0, (u.clone(), Instant::now()));
    }

    /// The cached session `id` (its store record), if fresh and not expired.
    pub fn session(&self, id: &str) -> Option<tower_sessions::session::Record> {
        let g = self.lock();
        if !g.listening {
            return None;
        }
        g.sessions
            .get(id)
            .filter(|(r, at)| at.elapsed() < TTL && r.expiry_date > time::OffsetDateTime::now_utc())
            .map(|(r, _)| r.clone())
    }

    /// Keeps session record `r`, read or written at generation `read_at`.
    pub fn put_session(&self, r: &tower_sessions::session::Record, read_at: u64) {
        let mut g = self.lock();
        if !g.listening || g.generation != read_at {
            return;
        }
        if g.sessions.len() >= MAX_SESSIONS {
            g.sessions.clear();
        }
        g.sessions
            .insert(r.id.to_string(), (r.clone(), Instant::now()));
    }

    pub fn forget_session(&self, id: &str) {
        let mut g = self.lock();
        g.generation += 1;
        g.sessions.remove(id);
    }

    /// A team-wide page part under `key`, if fresh; it depends on the tables `topics`.
    pub fn part<T: Clone + Send + Sync + 'static>(&self, key: &str) -> Option<T> {
        let g = self.lock();
        if !g.listening {
            return None;
        }
        let (v, at, _) = g.parts.get(key)?;
        if at.elapsed() >= TTL {
            return None;
        }
        v.downcast_ref::<T>().cloned()
    }

    pub fn put_part<T: Clone + Send + Sync + 'static>(
        &self,
        key: &str,
        topics: &'static [&'static str],
        v: &T,
        read_at: u64,
    ) {
        let mut g = self.lock();
        if !g.listening || g.generation != read_at {
            return;
        }
        if g.parts.len() >= MAX_PARTS {
            g.parts.clear();
        }
        g.parts.insert(
            key.to_string(),
            (Arc::new(v.clone()), Instant::now(), topics),
        );
    }

    /// The part under `key` from the cache, or from `load` (then kept, unless something it
    /// depends on changed while it was read).
    pub async fn get_or<T, E>(
        &self,
        key: &str,
        topics: &'static [&'static str],
        load: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        if let Some(v) = self.part::<T>(key) {
            return Ok(v);
        }
        let read_at = self.generation();
        let v = load.await?;
        self.put_part(key, topics, &v, read_at);
        Ok(v)
    }

    /// Drops what `topic` says changed: `account:42` one account, a table name every part that
    /// reads it, `*` everything.
    pub fn invalidate(&self, topic: &str) {
        let mut g = self.lock();
        g.generation += 1;
        if topic == "*" {
            g.accounts.clear();
            g.sessions.clear();
            g.parts.clear();
        } else if let Some(id) = topic.strip_prefix("session:") {
            g.sessions.remove(id);
        } else if let Some(id) = topic.strip_prefix("account:") {
            if let Ok(id) = id.parse::<i64>() {
                g.accounts.remove(&id);
            }
        } else {
            g.parts.retain(|_, (_, _, topics)| !topics.contains(&topic));
        }
    }

    /// Drops everything (this replica committed a write, or lost its listener).
    pub fn clear(&self) {
        self.invalidate("*");
    }

    fn set_listening(&self, on: bool) {
        let mut g = self.lock();
        g.listening = on;
        g.generation += 1;
        g.accounts.clear();
        g.sessions.clear();
        g.parts.clear();
    }

    /// Whether the listener is connected (caching is on).
    pub fn listening(&self) -> bool {
        self.lock().listening
    }

    /// How many entries are kept (accounts, parts).
    pub fn len(&self) -> (usize, usize) {
        let g = self.lock();
        (g.accounts.len() + g.sessions.len(), g.parts.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

/// Listens for invalidations until the process ends; reconnects after a second when the
/// connection is lost, dropping everything each time (what changed meanwhile is unknown).
pub async fn listen(pool: sqlx::PgPool, cache: Cache) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut l) => {
                if let Err(e) = l.listen(CHANNEL).await {
                    tracing::warn!(error = %e, "cache: could not listen; caching is off");
                } else {
                    cache.set_listening(true);
                    // `None` or an error: the connection was lost and notifications may
                    // be missing.
                    while let Ok(Some(n)) = l.try_recv().await {
                        cache.invalidate(n.payload());
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cache: no listening connection; caching is off"),
        }
        cache.set_listening(false);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::model::{AccountId, Role};

    fn user(id: i64) -> CurrentUser {
        CurrentUser {
            id: AccountId(id),
            handle: format!("u{id}"),
            display_name: format!("U{id}"),
            role: Role::Member,
            timezone: "UTC".into(),
            auth_epoch: 0,
            unread: 0,
        }
    }

    #[test]
    fn nothing_is_served_without_a_listener() {
        let c = Cache::default();
        c.put_account(&user(1), c.generation());
        assert!(c.account(1).is_none());
        c.set_listening(true);
        c.put_account(&user(1), c.generation());
        assert_eq!(c.account(1).unwrap().handle, "u1");
        c.set_listening(false);
        assert!(c.account(1).is_none(), "a lost listener drops everything");
    }

    #[test]
    fn a_topic_drops_only_what_depends_on_it() {
        let c = Cache::default();
        c.set_listening(true);
        c.put_account(&user(1), c.generation());
        c.put_account(&user(2), c.generation());
        c.put_part("board", &["presence_events"], &7_i64, c.generation());
        c.put_part(
            "matrix",
            &["deployments", "current_deployments"],
            &8_i64,
            c.generation(),
        );
        c.invalidate("account:1");
        assert!(c.account(1).is_none() && c.account(2).is_some());
        c.invalidate("deployments");
        assert_eq!(c.part::<i64>("board"), Some(7));
        assert_eq!(c.part::<i64>("matrix"), None);
        assert_eq!(c.part::<String>("board"), None, "a wrong type is a miss");
        c.clear();
        assert!(c.is_empty());
    }

    #[test]
    fn a_value_read_before_an_invalidation_is_not_kept() {
        let c = Cache::default();
        c.set_listening(true);
        let read_at = c.generation();
        c.invalidate("account:1");
        c.put_account(&user(1), read_at);
        assert!(c.account(1).is_none());
    }

    #[test]
    fn a_full_cache_is_cleared_rather_than_grown() {
        let c = Cache::default();
        c.set_listening(true);
        for i in 0..(MAX_PARTS as i64 + 5) {
            c.put_part(&format!("k{i}"), &["t"], &i, c.generation());
        }
        assert!(c.len().1 <= MAX_PARTS);
    }
}
