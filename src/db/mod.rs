//! The connection pool, migrations (ours and the session store's), and the embedded default database.

pub mod embedded;

use std::time::Duration;

use anyhow::Context;
use sqlx::{Connection, PgPool, postgres::PgPoolOptions};

use crate::config::GlobalOpts;

pub use embedded::EmbeddedPg;

/// The migrations in `migrations/`, embedded in the binary.
pub mod backup;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool, plus the embedded server behind it when no `DATABASE_URL` was given.
pub struct Database {
    pub pool: PgPool,
    pub embedded: Option<EmbeddedPg>,
    /// Where it is (for `backup` / `restore`); holds the password, so never logged.
    url: String,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts the embedded server and its `flowdeck` database.
    pub async fn open(opts: &GlobalOpts) -> anyhow::Result<Self> {
        match &opts.database_url {
            Some(url) => Ok(Self {
                pool: pool(url).await?,
                embedded: None,
                url: url.clone(),
            }),
            None => {
                let dir = opts.data_dir.clone();
                let pg = tokio::task::spawn_blocking(move || EmbeddedPg::start(&dir)).await??;
                ensure_database(&pg.url("postgres"), "flowdeck").await?;
                let url = pg.url("flowdeck");
                tracing::info!(data_dir = %opts.data_dir.display(), "using the embedded PostgreSQL");
                Ok(Self {
                    pool: pool(&url).await?,
                    embedded: Some(pg),
                    url,
                })
            }
        }
    }

    /// The database's URL (with its password): for the client tools of `backup` / `restore`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes the pool, then stops the embedded server if this process started it.
    pub async fn close(mut self) {
        self.pool.close().await;
        if let Some(mut pg) = self.embedded.take() {
            let _ = tokio::task::spawn_blocking(move || pg.stop()).await;
        }
    }
}

/// How long a request waits for a database connection. Healthy, a connection is free in
/// microseconds; waiting longer only means PostgreSQL is down or hopelessly overloaded, and then a
/// quick 503 with `Retry-After` serves people better than a page that hangs.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// A pool for `url` with the settings flowdeck uses everywhere.
pub async fn pool(url: &str) -> anyhow::Result<PgPool> {
    options()
        .connect(url)
        .await
        .context("cannot connect to PostgreSQL (check DATABASE_URL)")
}

/// A pool that connects on first use (for starting while PostgreSQL is still coming up).
pub fn pool_lazy(url: &str) -> anyhow::Result<PgPool> {
    options()
        .connect_lazy(url)
        .context("DATABASE_URL is not a valid PostgreSQL URL")
}

fn options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(10)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

/// Creates database `name` through the maintenance connection `admin_url` unless it exists.
pub async fn ensure_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .context("cannot connect to the embedded PostgreSQL")?;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        // Identifiers cannot be bound; `name` is a fixed identifier chosen by flowdeck.
        sqlx::raw_sql(&format!("create database \"{name}\""))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

/// Runs every pending migration; an error stops the start with the migration's name.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("a database migration failed; flowdeck did not start")?;
    tower_sessions_sqlx_store::PostgresStore::new(pool.clone())
        .migrate()
        .await
        .context("the session store's migration failed")?;
    // The session store creates its table itself (after the migrations): tell every replica's
    // cache when a session changes or ends (src/cache/sessions.rs).
    sqlx::raw_sql(
        r#"create or replace trigger session_cache after update or delete on "tower_sessions"."session"
           for each row execute function cache_notify_session()"#,
    )
    .execute(pool)
    .await
    .context("the session cache trigger could not be created")?;
    Ok(())
}

/// True when the database answers within `READY_TIMEOUT` and every embedded migration is
/// applied; a probe never waits on the pool's own timeout.
pub async fn ready(pool: &PgPool) -> bool {
    tokio::time::timeout(READY_TIMEOUT, migrations_applied(pool))
        .await
        .unwrap_or(false)
}

/// How long `/readyz` waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_millis(800);

async fn migrations_applied(pool: &PgPool) -> bool {
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: Result<Option<i64>, _> =
        sqlx::query_scalar("select max(version) from _sqlx_migrations where success")
            .fetch_one(pool)
            .await;
    matches!(applied, Ok(Some(v)) if v >= latest)
}
