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
/// At most this many accounts, sessions and page parts are kept (a part is at most a few tens
/// of KB — a page of history, a week of updates — so parts stay within a few tens of MB even
/// when every slot is taken).
const MAX_ACCOUNTS: usize = 10_000;
const MAX_SESSIONS: usize = 20_000;
const MAX_PARTS: usize = 2048;
/// The channel the triggers notify.
pub const CHANNEL: &str = "flowdeck_cache";

type Part = (Arc<dyn Any + Send + Sync>, Instant, &'static [&'static str]);

#[derive(Default)]
struct Inner {
    accounts: HashMap<i64, (CurrentUser, Instant)>,
    sessions: HashMap<String, (tower_sessions::session::Record, Instant)>,
    parts: HashMap<String, Part>,
    /// One gate per part being loaded (see `get_or`).
    loading: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// Whether a listener is connected: without one nothing is served from the cache.
    listening: bool,
    /// Moves on every invalidation: a value read from the database before an invalidation of
    /// something it depends on is not stored after it (it may be what the invalidation was about).
    generation: u64,
    /// The generation at which each topic (`deployments`, `account:42`, `session:…`) was last
    /// invalidated, so a load is refused only when something *it* reads changed meanwhile, not
    /// whenever any table did (a busy CI would otherwise keep every part from being stored).
    changed: HashMap<String, u64>,
    /// The generation of the last drop of everything (or of forgetting `changed`).
    cleared: u64,
    hits: u64,
    misses: u64,
}

/// What `/metrics` shows of a replica's caches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub listening: bool,
    pub sessions: usize,
    pub accounts: usize,
    pub parts: usize,
    /// Lookups answered from memory, and those that went to the database (since start).
    pub hits: u64,
    pub misses: u64,
    /// Invalidations received or made (each notification, each write served here).
    pub invalidations: u64,
}

/// At most this many topics' last changes are remembered; then all are forgotten at once and
/// counted as a drop of everything (conservative: loads in flight are not stored).
const MAX_TOPICS: usize = 4096;

impl Inner {
    /// Whether a value read at generation `read_at` that depends on `topics` is still current.
    fn current<'t>(&self, read_at: u64, mut topics: impl Iterator<Item = &'t str>) -> bool {
        self.listening
            && self.cleared <= read_at
            && topics.all(|t| self.changed.get(t).is_none_or(|g| *g <= read_at))
    }

    fn mark(&mut self, topic: &str) {
        self.generation += 1;
        if self.changed.len() >= MAX_TOPICS {
            self.changed.clear();
            self.cleared = self.generation;
        }
        self.changed.insert(topic.to_string(), self.generation);
    }

    fn drop_all(&mut self) {
        self.generation += 1;
        self.cleared = self.generation;
        self.changed.clear();
        self.accounts.clear();
        self.sessions.clear();
        self.parts.clear();
    }

    fn count<T>(&mut self, found: Option<T>) -> Option<T> {
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }
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
        let mut g = self.lock();
        if !g.listening {
            return None;
        }
        let found = g
            .accounts
            .get(&id)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(u, _)| u.clone());
        g.count(found)
    }

    /// Keeps `u`, read from the database at generation `read_at`, unless something was
    /// invalidated since.
    pub fn put_account(&self, u: &CurrentUser, read_at: u64) {
        let mut g = self.lock();
        let topic = format!("account:{}", u.id.0);
        if !g.current(read_at, std::iter::once(topic.as_str())) {
            return;
        }
        if g.accounts.len() >= MAX_ACCOUNTS {
            g.accounts.clear();
        }
        g.accounts.insert(u.id.0, (u.clone(), Instant::now()));
    }

    /// The cached session `id` (its store record), if fresh and not expired.
    pub fn session(&self, id: &str) -> Option<tower_sessions::session::Record> {
        let mut g = self.lock();
        if !g.listening {
            return None;
        }
        let found = g
            .sessions
            .get(id)
            .filter(|(r, at)| at.elapsed() < TTL && r.expiry_date > time::OffsetDateTime::now_utc())
            .map(|(r, _)| r.clone());
        g.count(found)
    }

    /// Keeps session record `r`, read or written at generation `read_at`.
    pub fn put_session(&self, r: &tower_sessions::session::Record, read_at: u64) {
        let mut g = self.lock();
        let topic = format!("session:{}", r.id);
        if !g.current(read_at, std::iter::once(topic.as_str())) {
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
        g.mark(&format!("session:{id}"));
        g.sessions.remove(id);
    }

    /// A team-wide page part under `key`, if fresh; it depends on the tables `topics`.
    pub fn part<T: Clone + Send + Sync + 'static>(&self, key: &str) -> Option<T> {
        let mut g = self.lock();
        if !g.listening {
            return None;
        }
        let found = g
            .parts
            .get(key)
            .filter(|(_, at, _)| at.elapsed() < TTL)
            .and_then(|(v, _, _)| v.downcast_ref::<T>().cloned());
        g.count(found)
    }

    pub fn put_part<T: Clone + Send + Sync + 'static>(
        &self,
        key: &str,
        topics: &'static [&'static str],
        v: &T,
        read_at: u64,
    ) {
        let mut g = self.lock();
        if !g.current(read_at, topics.iter().copied()) {
            return;
        }
        // Keys that carry the time (the board per minute, insight per day) go stale without a
        // notification: parts expired for a whole TTL (past the time `get_or` may still serve
        // them during a reload) are dropped whenever one is added, so they never pile up.
        g.parts.retain(|_, (_, at, _)| at.elapsed() < 2 * TTL);
        if g.parts.len() >= MAX_PARTS {
            g.parts.clear();
        }
        g.parts.insert(
            key.to_string(),
            (Arc::new(v.clone()), Instant::now(), topics),
        );
    }

    /// The part under `key` from the cache, or from `load` (then kept, unless something it
    /// depends on changed while it was read). One load per key at a time: when a change drops a
    /// part that many requests are reading, the first loads it and the others wait for its
    /// result instead of all asking the database at once (a stampede that put a write's p99 at
    /// hundreds of milliseconds under load in `cargo bench --bench replicas`).
    pub async fn get_or<T, E>(
        &self,
        key: &str,
        topics: &'static [&'static str],
        load: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        // A fresh copy is served; an expired one (only the TTL took it: an invalidation removes
        // the entry) is served while another request reloads it, so the TTL never makes every
        // reader wait at once.
        let (fresh, stale) = {
            let g = self.lock();
            let found = if g.listening {
                g.parts.get(key).and_then(|(v, at, _)| {
                    let v = v.downcast_ref::<T>()?.clone();
                    Some((v, at.elapsed() < TTL))
                })
            } else {
                None
            };
            match found {
                Some((v, true)) => (Some(v), None),
                Some((v, false)) => (None, Some(v)),
                None => (None, None),
            }
        };
        if let Some(v) = self.lock().count(fresh) {
            return Ok(v);
        }
        let gate = {
            let mut g = self.lock();
            if g.listening {
                if g.loading.len() >= MAX_PARTS {
                    g.loading.retain(|_, m| Arc::strong_count(m) > 1);
                }
                Some(g.loading.entry(key.to_string()).or_default().clone())
            } else {
                None
            }
        };
        let Some(gate) = gate else {
            return load.await;
        };
        let turn = match (stale, gate.clone().try_lock_owned()) {
            (_, Ok(turn)) => turn,
            (Some(v), Err(_)) => return Ok(v),
            (None, Err(_)) => gate.clone().lock_owned().await,
        };
        // Whoever held the gate before may have stored it.
        let found = {
            let g = self.lock();
            g.parts
                .get(key)
                .filter(|(_, at, _)| at.elapsed() < TTL)
                .and_then(|(v, _, _)| v.downcast_ref::<T>().cloned())
        };
        let result = match found {
            Some(v) => Ok(v),
            None => {
                let read_at = self.generation();
                let v = load.await;
                if let Ok(v) = &v {
                    self.put_part(key, topics, v, read_at);
                }
                v
            }
        };
        drop(turn);
        {
            let mut g = self.lock();
            // The last one through removes the gate (the map holds one reference, `gate` another).
            if Arc::strong_count(&gate) == 2 {
                g.loading.remove(key);
            }
        }
        result
    }

    /// Drops what `topic` says changed: `account:42` one account, a table name every part that
    /// reads it, `*` everything.
    pub fn invalidate(&self, topic: &str) {
        let mut g = self.lock();
        if topic == "*" {
            g.drop_all();
            return;
        }
        g.mark(topic);
        if let Some(id) = topic.strip_prefix("session:") {
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
        g.drop_all();
    }

    /// Counts and sizes, for `/metrics`.
    pub fn stats(&self) -> Stats {
        let g = self.lock();
        Stats {
            listening: g.listening,
            sessions: g.sessions.len(),
            accounts: g.accounts.len(),
            parts: g.parts.len(),
            hits: g.hits,
            misses: g.misses,
            invalidations: g.generation,
        }
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
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.accounts, s.parts), (1, 1, 1, 2));
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
    fn a_change_to_an_unrelated_table_does_not_keep_a_load_from_being_stored() {
        let c = Cache::default();
        c.set_listening(true);
        let read_at = c.generation();
        c.invalidate("deployments");
        c.invalidate("account:2");
        c.put_part("board", &["presence_events", "accounts"], &1_i64, read_at);
        c.put_account(&user(1), read_at);
        assert_eq!(c.part::<i64>("board"), Some(1));
        assert!(c.account(1).is_some());
        // But one it reads does, and so does a drop of everything.
        let read_at = c.generation();
        c.invalidate("presence_events");
        c.put_part("board2", &["presence_events", "accounts"], &2_i64, read_at);
        assert_eq!(c.part::<i64>("board2"), None);
        let read_at = c.generation();
        c.clear();
        c.put_account(&user(3), read_at);
        assert!(c.account(3).is_none());
    }

    #[tokio::test]
    async fn many_requests_for_a_missing_part_load_it_once() {
        let c = Cache::default();
        c.set_listening(true);
        let loads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (c, loads) = (c.clone(), loads.clone());
                tokio::spawn(async move {
                    c.get_or("board", &["t"], async {
                        loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>(7_i64)
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(7));
        }
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(c.lock().loading.is_empty(), "no gate is left behind");
    }

    #[tokio::test]
    async fn an_expired_part_is_served_while_one_request_reloads_it() {
        let c = Cache::default();
        c.set_listening(true);
        c.put_part("board", &["t"], &1_i64, c.generation());
        c.lock().parts.get_mut("board").unwrap().1 = Instant::now().checked_sub(TTL).unwrap();
        let reloading = {
            let c = c.clone();
            tokio::spawn(async move {
                c.get_or("board", &["t"], async {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok::<_, ()>(2_i64)
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let meanwhile = c
            .get_or("board", &["t"], async { Ok::<_, ()>(3_i64) })
            .await;
        assert_eq!(meanwhile, Ok(1), "the expired copy, not a second load");
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "without waiting"
        );
        assert_eq!(reloading.await.unwrap(), Ok(2));
        assert_eq!(c.part::<i64>("board"), Some(2), "then the reloaded one");
    }

    #[test]
    fn expired_parts_are_dropped_when_another_is_added() {
        let c = Cache::default();
        c.set_listening(true);
        c.put_part("board:1", &["t"], &1_i64, c.generation());
        {
            let mut g = c.lock();
            let old = Instant::now().checked_sub(2 * TTL).unwrap();
            g.parts.get_mut("board:1").unwrap().1 = old;
        }
        c.put_part("board:2", &["t"], &2_i64, c.generation());
        assert_eq!(c.len().1, 1, "only the fresh part is kept");
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
