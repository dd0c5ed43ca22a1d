//! Throwaway schemas for tests sharing one PostgreSQL database (feature `testing`).

use super::{PgStore, check_schema_name, connect_one, db_error, drop_schema, parse_url};
use crate::error::{Error, Result};
use sqlx::Connection;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uuid::Uuid;

/// Leftover schemas older than this are dropped when a new one is created: they belong to
/// runs killed before their guards could clean up.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A schema of its own for one test, named `<prefix>_<UUIDv7 in simple form>`, dropped
/// (with everything in it) when this guard is dropped.
///
/// Keep the guard alive as long as the store (e.g. with
/// [`StoreFixture::with_guard`](crate::testing::StoreFixture::with_guard)), and drop it
/// after the store: its `Drop` blocks briefly on a helper thread that runs
/// `DROP SCHEMA … CASCADE`. Because the UUIDv7 carries the creation time, [`create`]
/// also drops schemas of the same prefix left over (older than an hour) by killed runs,
/// so the shared database never collects unbounded garbage.
///
/// [`create`]: TestSchema::create
#[derive(Debug)]
pub struct TestSchema {
    url: String,
    name: String,
}

impl TestSchema {
    /// Creates a fresh schema in the database at `url`, migrates a [`PgStore`] into it and
    /// returns both. `prefix` must be a plain lowercase identifier of at most 30 bytes.
    pub async fn create(url: &str, prefix: &str) -> Result<(PgStore, Self)> {
        check_schema_name(prefix)?;
        if prefix.len() > 30 {
            return Err(Error::invalid(
                "schema",
                "a test schema prefix is at most 30 bytes",
            ));
        }
        sweep_stale(url, prefix).await?;
        let name = format!("{prefix}_{}", Uuid::now_v7().simple());
        // From here on the guard exists, so a failed migration still drops the schema.
        let guard = Self {
            url: url.to_owned(),
            name,
        };
        let store = PgStore::connect_in_schema(url, &guard.name).await?;
        Ok((store, guard))
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // A fresh thread with its own runtime: this may run inside (or outside) any
        // runtime, and even while a failing test unwinds.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::internal("a runtime to drop a test schema").with_source(e))?
                .block_on(drop_now(&url, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test schema {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test schema {} panicked", self.name),
        }
    }
}

/// Drops `name` (already a checked identifier) over a single short-lived connection. A
/// connection the test left idle in a transaction would block the drop forever, so it gives
/// up after a lock timeout (the stale-schema sweep removes the schema later).
async fn drop_now(url: &str, name: &str) -> Result<()> {
    let mut conn = connect_one(&parse_url(url)?).await?;
    sqlx::query("SET lock_timeout = '3s'")
        .execute(&mut conn)
        .await
        .map_err(db_error)?;
    let dropped = drop_schema(&mut conn, name).await.map_err(db_error);
    let _ = conn.close().await;
    dropped
}

/// Drops the schemas named `<prefix>_<UUIDv7>` created more than [`STALE_AFTER`] ago.
/// Failures to drop one are ignored (another run may be dropping it at the same time).
async fn sweep_stale(url: &str, prefix: &str) -> Result<()> {
    let mut conn = connect_one(&parse_url(url)?).await?;
    let marker = format!("{prefix}_");
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE left(nspname, length($1)) = $1",
    )
    .bind(&marker)
    .fetch_all(&mut conn)
    .await
    .map_err(db_error)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    for name in names {
        let created = name
            .strip_prefix(&marker)
            .and_then(|id| Uuid::try_parse(id).ok())
            .filter(|id| id.get_version_num() == 7)
            .and_then(|id| id.get_timestamp())
            .map(|ts| Duration::from_secs(ts.to_unix().0));
        let stale = created.is_some_and(|created| now.saturating_sub(created) > STALE_AFTER);
        if stale && check_schema_name(&name).is_ok() {
            let _ = drop_schema(&mut conn, &name).await;
        }
    }
    let _ = conn.close().await;
    Ok(())
}
