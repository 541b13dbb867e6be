//! `AppState`: what every handler can reach.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::OnceCell;

use crate::{auth::keys::Keys, clock::Clock, config::Config, error::AppError};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Connections to the same database that commit without waiting for the WAL flush
    /// (`synchronous_commit = off`), for rows whose durability follows from a later synchronous
    /// commit: an API write's idempotency claim is written before the write's own transaction
    /// commits, and WAL is flushed in order, so a write that survives a crash has its claim.
    pub relaxed: PgPool,
    pub config: Arc<Config>,
    pub clock: Clock,
    /// This replica's caches (`cache::listen` keeps them coherent; off until it listens).
    pub cache: crate::cache::Cache,
    /// The cookie-signing key, read from the database on first use and then kept.
    keys: Arc<OnceCell<Arc<Keys>>>,
}

impl AppState {
    pub fn new(pool: PgPool, config: Config) -> Self {
        let options = (*pool.connect_options())
            .clone()
            .options([("synchronous_commit", "off")]);
        let relaxed = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(1))
            .connect_lazy_with(options);
        Self {
            pool,
            relaxed,
            config: Arc::new(config),
            clock: Clock::system(),
            cache: crate::cache::Cache::default(),
            keys: Arc::new(OnceCell::new()),
        }
    }

    /// The cookie-signing key shared by every replica.
    pub async fn keys(&self) -> Result<Arc<Keys>, AppError> {
        self.keys
            .get_or_try_init(|| async { Keys::load(&self.pool).await.map(Arc::new) })
            .await
            .cloned()
            .map_err(AppError::from)
    }
}
