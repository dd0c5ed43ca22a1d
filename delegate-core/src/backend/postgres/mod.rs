//! The PostgreSQL relational store: pool, migrations, schema isolation and error mapping.
//! The scale-out counterpart of the SQLite store, with the same semantics.

mod audit;
mod auth;
mod bus;
mod chat;
#[cfg(feature = "testing")]
mod testing;
mod transcripts;
mod usage;
mod users;

pub use bus::PgBus;
#[cfg(feature = "testing")]
pub use testing::TestSchema;

use crate::error::{Error, Result};
use sqlx::migrate::MigrateError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgConnection, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// How long a caller waits for a pooled connection (or a new one) before the database
/// counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// Idle for this long, a pooled connection is pinged before it is used again.
const PING_IDLE_AFTER: Duration = Duration::from_secs(10);

/// The retry hint given to clients while the database is unreachable.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Every relational store trait over one PostgreSQL database (or one schema of it).
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Opens a pool on the database at `url` (`postgres://user:pass@host:port/db?…`) and
    /// applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let store = Self::open(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens a pool on the database at `url` without migrating. A `search_path` given in
    /// the URL (`?options=-c%20search_path%3Dname`) is honoured.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(parse_url(url)?).await
    }

    /// Like [`PgStore::connect`], but every pooled connection works in `schema` (created if
    /// missing): tables, and sqlx's `_sqlx_migrations` bookkeeping, live there. Used to
    /// isolate tenants or tests sharing one database.
    ///
    /// `schema` must be a plain lowercase identifier (`[a-z_][a-z0-9_]*`, at most 63 bytes).
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self> {
        let store = Self::open_in_schema(url, schema).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Like [`PgStore::open`], but in `schema` (created if missing); see
    /// [`PgStore::connect_in_schema`].
    pub async fn open_in_schema(url: &str, schema: &str) -> Result<Self> {
        check_schema_name(schema)?;
        let options = parse_url(url)?;
        let mut conn = connect_one(&options).await?;
        let created = create_schema(&mut conn, schema).await.map_err(db_error);
        // Close politely either way; a failure to do so changes nothing for the caller.
        let _ = conn.close().await;
        created?;
        Self::open_with(options.options([("search_path", schema)])).await
    }

    async fn open_with(options: PgConnectOptions) -> Result<Self> {
        let options = if options.get_application_name().is_none() {
            options.application_name("delegate")
        } else {
            options
        };
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(Some(Duration::from_secs(600)))
            .max_lifetime(Some(Duration::from_secs(1800)))
            // A connection idle for a while is pinged before use (the server or a proxy may
            // have dropped it); a busy one is not, which saves a round trip per statement.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IDLE_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .map_err(db_error)?;
        Ok(Self { pool })
    }

    /// Applies pending migrations (`migrations/postgres`); returns how many were applied.
    /// Concurrent callers on one database serialise on sqlx's advisory lock.
    pub async fn migrate(&self) -> Result<usize> {
        let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        if schema.is_none() {
            return Err(Error::invalid(
                "database_url",
                "the search_path names no existing schema; create it first",
            ));
        }
        let migrator = sqlx::migrate!("./migrations/postgres");
        let before = self.applied().await?;
        migrator.run(&self.pool).await.map_err(|e| match e {
            MigrateError::Execute(e) if is_unavailable(&e) => db_error(e),
            other => Error::internal("PostgreSQL migration failed").with_source(other),
        })?;
        Ok(self.applied().await?.saturating_sub(before))
    }

    /// Successfully applied migrations recorded in the current schema (0 before the first).
    async fn applied(&self) -> Result<usize> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        if !exists {
            return Ok(0);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// How many migrations are not applied yet.
    pub async fn pending(&self) -> Result<usize> {
        let known = sqlx::migrate!("./migrations/postgres").iter().count();
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

/// `CREATE SCHEMA IF NOT EXISTS` on one connection; `schema` must have passed
/// [`check_schema_name`].
async fn create_schema(conn: &mut PgConnection, schema: &str) -> sqlx::Result<()> {
    // Identifiers cannot be bound; the name is a checked plain identifier, and quoted.
    let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
    conn.execute(AssertSqlSafe(sql)).await.map(|_| ())
}

/// `DROP SCHEMA IF EXISTS … CASCADE` on one connection; `schema` must have passed
/// [`check_schema_name`].
#[cfg(feature = "testing")]
async fn drop_schema(conn: &mut PgConnection, schema: &str) -> sqlx::Result<()> {
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    conn.execute(AssertSqlSafe(sql)).await.map(|_| ())
}

/// One connection outside the pool (for DDL), bounded by the same timeout as the pool.
async fn connect_one(options: &PgConnectOptions) -> Result<PgConnection> {
    match tokio::time::timeout(ACQUIRE_TIMEOUT, options.connect()).await {
        Ok(connected) => connected.map_err(db_error),
        Err(_) => Err(db_error(sqlx::Error::PoolTimedOut)),
    }
}

fn parse_url(url: &str) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(url)
        .map_err(|e| Error::invalid("database_url", format!("bad PostgreSQL URL: {e}")))
}

/// Accepts only plain lowercase identifiers, so a schema name never needs escaping and
/// means the same in DDL and in `search_path`.
fn check_schema_name(schema: &str) -> Result<()> {
    let mut chars = schema.chars();
    let plain = schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with("pg_");
    if plain {
        Ok(())
    } else {
        Err(Error::invalid(
            "schema",
            "a schema name must match [a-z_][a-z0-9_]* (at most 63 bytes, no pg_ prefix)",
        ))
    }
}

/// True for errors meaning the database cannot be reached or is shutting down, as
/// opposed to a failing statement.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Class 08: connection exception; 57P01..57P03: admin/crash shutdown, cannot
            // connect now; 53300: too many connections.
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Maps a sqlx error: connectivity problems are `Unavailable`, the rest `Internal`. The
/// driver's error is kept as the cause (the SQL text and driver message stay in logs).
pub(crate) fn db_error(e: sqlx::Error) -> Error {
    if is_unavailable(&e) {
        Error::unavailable("database", RETRY_AFTER).with_source(e)
    } else {
        Error::internal("database error").with_source(e)
    }
}

#[async_trait::async_trait]
impl crate::health::Probe for PgStore {
    fn pool(&self) -> Option<crate::health::PoolState> {
        Some(crate::health::PoolState {
            size: self.pool.size(),
            idle: self.pool.num_idle() as u32,
        })
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        PgStore::ping(self).await
    }

    async fn pending_migrations(&self) -> Result<usize> {
        self.pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for ok in ["conformance_0191", "_x", "tenant42", &"a".repeat(63)] {
            assert!(check_schema_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "9lives",
            "Upper",
            "with space",
            "quote\"d",
            "semi;colon",
            "pg_temp",
            &"a".repeat(64),
        ] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connectivity_errors_are_unavailable_and_the_rest_internal() {
        let down = db_error(sqlx::Error::PoolTimedOut);
        assert_eq!(down.kind(), crate::ErrorKind::Unavailable);
        assert_eq!(down.retry_after(), Some(RETRY_AFTER));
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            db_error(sqlx::Error::Io(io)).kind(),
            crate::ErrorKind::Unavailable
        );
        let other = db_error(sqlx::Error::RowNotFound);
        assert_eq!(other.kind(), crate::ErrorKind::Internal);
        assert!(!other.public_message().contains("database error"));
    }

    #[test]
    fn bad_urls_are_invalid() {
        let err = parse_url("postgres://host:notaport/db").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
    }
}
