//! `EventBus` over a SQLite file, for processes that share the file without Redis (a server
//! and the CLI): publishing appends a row, and each process polls for rows it has not seen
//! (about once a second). Subscribers of the publishing process hear at once.

use super::{SqliteStore, db_error};
use crate::bus::fanout::Fanout;
use crate::bus::{EventBus, Subscription};
use crate::error::Result;
use async_trait::async_trait;
use sqlx::Row;
use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often each process looks for new rows.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Rows kept; older ones are pruned (a process that far behind is told of a gap).
const KEEP_ROWS: i64 = 10_000;
/// Rows read per poll at most; more are read on the next poll at once.
const BATCH: i64 = 1000;
/// Polls between two prunes.
const PRUNE_EVERY: u32 = 600;

/// The bus of one process over a SQLite file.
pub struct SqliteBus {
    inner: Arc<Inner>,
}

struct Inner {
    store: SqliteStore,
    fanout: Fanout,
    /// Rows this process published, delivered already, to skip when polled. Held across a
    /// publish and across a poll, so a poll never sees a row before it is marked here.
    own: tokio::sync::Mutex<HashSet<i64>>,
}

impl SqliteBus {
    /// A bus on `store`'s file, polling every `interval` from the newest row on.
    pub async fn start(store: SqliteStore, interval: Duration) -> Result<Self> {
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM bus_events")
            .fetch_one(&store.pool)
            .await
            .map_err(db_error)?;
        let inner = Arc::new(Inner {
            store,
            fanout: Fanout::new(1024),
            own: tokio::sync::Mutex::new(HashSet::new()),
        });
        tokio::spawn(poll(Arc::downgrade(&inner), last, interval));
        Ok(Self { inner })
    }
}

/// Reads new rows every `interval` while the bus lives; a failed poll, or rows pruned
/// before they were read, is a gap.
async fn poll(inner: Weak<Inner>, mut last: i64, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut failing, mut polls) = (false, 0u32);
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        polls = polls.wrapping_add(1);
        if polls % PRUNE_EVERY == 0 {
            let prune = "DELETE FROM bus_events WHERE id <= (SELECT MAX(id) FROM bus_events) - ?";
            if let Err(e) = sqlx::query(prune)
                .bind(KEEP_ROWS)
                .execute(&inner.store.pool)
                .await
            {
                tracing::debug!(error = %e, "could not prune bus events");
            }
        }
        let mut own = inner.own.lock().await;
        match inner.read_after(last).await {
            Ok((rows, first_kept)) => {
                if failing || first_kept.is_some_and(|first| first > last + 1 && last > 0) {
                    inner.fanout.gap_all();
                }
                failing = false;
                for (id, topic, payload) in rows {
                    last = id;
                    if !own.remove(&id) {
                        inner.fanout.deliver(&topic, payload);
                    }
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e.report(), "the SQLite event bus cannot read; retrying");
                }
                failing = true;
            }
        }
    }
}

impl Inner {
    /// Rows after `last`, oldest first, and the oldest id still kept (to notice pruning).
    async fn read_after(&self, last: i64) -> Result<(Vec<(i64, String, Vec<u8>)>, Option<i64>)> {
        let rows = sqlx::query(
            "SELECT id, topic, payload FROM bus_events WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(last)
        .bind(BATCH)
        .fetch_all(&self.store.pool)
        .await
        .map_err(db_error)?;
        let first_kept = if rows
            .first()
            .is_some_and(|r| r.get::<i64, _>("id") > last + 1)
        {
            sqlx::query_scalar("SELECT MIN(id) FROM bus_events")
                .fetch_one(&self.store.pool)
                .await
                .map_err(db_error)?
        } else {
            None
        };
        let rows = rows
            .into_iter()
            .map(|r| (r.get("id"), r.get("topic"), r.get("payload")))
            .collect();
        Ok((rows, first_kept))
    }
}

#[async_trait]
impl EventBus for SqliteBus {
    async fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<()> {
        let inner = &self.inner;
        let mut own = inner.own.lock().await;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO bus_events (topic, payload) VALUES (?, ?) RETURNING id",
        )
        .bind(topic)
        .bind(&payload)
        .fetch_one(&inner.store.pool)
        .await
        .map_err(db_error)?;
        own.insert(id);
        inner.fanout.deliver(topic, payload);
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription> {
        Ok(self.inner.fanout.subscribe(topic))
    }
}
