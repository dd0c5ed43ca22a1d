//! The SQLite relational store: pool, migrations and error mapping. The embedded default.

mod audit;
mod auth;
mod bus;
mod chat;
mod transcripts;
mod usage;
mod users;

pub use bus::{POLL_INTERVAL, SqliteBus};

use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// How many times a migration that failed (most likely racing another process) is tried.
const MIGRATION_ATTEMPTS: u32 = 8;

/// Every relational store trait over one SQLite database.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path` or
    /// `sqlite::memory:`) and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = Self::open(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the database without migrating.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid("database_url", format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = SqlitePoolOptions::new()
            // An in-memory database lives and dies with its one connection.
            .max_connections(if in_memory { 1 } else { 8 })
            .min_connections(u32::from(in_memory))
            .idle_timeout(if in_memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if in_memory {
                None
            } else {
                Some(Duration::from_secs(1800))
            })
            // A local file cannot hang up: no ping (a round trip to the connection's worker
            // thread) before every statement.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        Ok(Self { pool })
    }

    /// Applies pending migrations; returns how many were applied. Several processes opening
    /// one fresh file at once (uvicorn's workers, say) race to apply the same migration, and
    /// SQLite has no lock that sqlx's migrator takes: the loser retries, finding what the
    /// winner applied, a few times before it gives up.
    pub async fn migrate(&self) -> Result<usize> {
        let migrator = sqlx::migrate!("./migrations/sqlite");
        let before = self.applied().await?;
        let mut attempt = 1;
        loop {
            match migrator.run(&self.pool).await {
                Ok(()) => break,
                Err(e) if attempt < MIGRATION_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "SQLite migration raced another process; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(Error::internal("SQLite migration failed").with_source(e));
                }
            }
        }
        Ok(self.applied().await?.saturating_sub(before))
    }

    async fn applied(&self) -> Result<usize> {
        let exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        if exists == 0 {
            return Ok(0);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(count as usize)
    }

    /// How many migrations are not applied yet.
    pub async fn pending(&self) -> Result<usize> {
        let known = sqlx::migrate!("./migrations/sqlite").iter().count();
        Ok(known.saturating_sub(self.applied().await?))
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db_error)
    }
}

/// Maps a sqlx error: connectivity problems, and a database left busy or locked by another
/// writer past the busy timeout, are `Unavailable` (retry shortly), as PostgreSQL's
/// connection errors are; the rest `Internal`. The driver's error is kept as the cause (the
/// SQL text and driver message stay in logs).
pub(crate) fn db_error(e: sqlx::Error) -> Error {
    let unavailable = match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_busy(&code)),
        _ => false,
    };
    if unavailable {
        Error::unavailable("database", Duration::from_secs(2)).with_source(e)
    } else {
        Error::internal("database error").with_source(e)
    }
}

/// SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes (low byte 5 or 6).
fn is_busy(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| Error::internal("stored time out of range"))
}

fn parse_uuid(text: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|_| Error::internal("stored id is not a UUID"))
}

#[async_trait::async_trait]
impl crate::health::Probe for SqliteStore {
    fn pool(&self) -> Option<crate::health::PoolState> {
        Some(crate::health::PoolState {
            size: self.pool.size(),
            idle: self.pool.num_idle() as u32,
        })
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        SqliteStore::ping(self).await
    }

    async fn pending_migrations(&self) -> Result<usize> {
        self.pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;

    #[tokio::test]
    async fn a_database_locked_by_another_writer_is_unavailable_not_internal() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("busy.db"))
            .create_if_missing(true)
            .busy_timeout(Duration::ZERO);
        let mut holder = options.connect().await.unwrap();
        let mut other = options.connect().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .unwrap();
        let busy = sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap_err();
        let err = db_error(busy);
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{}", err.report());
        assert!(
            std::error::Error::source(&err).is_some(),
            "the cause is kept"
        );
        // A failing statement stays internal.
        let bad = sqlx::query("SELECT * FROM no_such_table")
            .execute(&mut holder)
            .await
            .unwrap_err();
        assert_eq!(db_error(bad).kind(), ErrorKind::Internal);
    }

    #[tokio::test]
    async fn processes_opening_one_fresh_file_at_once_all_migrate_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
        // Separate pools stand for separate processes: they share nothing but the file.
        let opened = futures::future::join_all((0..4).map(|_| SqliteStore::connect(&url))).await;
        for store in opened {
            assert_eq!(store.unwrap().pending().await.unwrap(), 0);
        }
    }

    #[test]
    fn busy_and_locked_codes_include_their_extended_forms() {
        for code in ["5", "6", "261", "517", "262"] {
            assert!(is_busy(code), "{code}");
        }
        for code in ["1", "19", "2067", "", "busy"] {
            assert!(!is_busy(code), "{code}");
        }
    }
}
