//! `AppState`: what every handler can reach.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::OnceCell;

use crate::{auth::keys::Keys, clock::Clock, config::Config, error::AppError};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub clock: Clock,
    /// The cookie-signing key, read from the database on first use and then kept.
    keys: Arc<OnceCell<Arc<Keys>>>,
}

impl AppState {
    pub fn new(pool: PgPool, config: Config) -> Self {
        Self {
            pool,
            config: Arc::new(config),
            clock: Clock::system(),
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
