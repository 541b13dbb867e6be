//! `AppState`: what every handler can reach.

use std::sync::Arc;

use sqlx::PgPool;

use crate::{clock::Clock, config::Config};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub clock: Clock,
}

impl AppState {
    pub fn new(pool: PgPool, config: Config) -> Self {
        Self {
            pool,
            config: Arc::new(config),
            clock: Clock::system(),
        }
    }
}
