//! Runs every backend conformance suite against the memory and SQLite backends, and the
//! SQLite bus across two processes' views of one file.

use delegate_core::backend::memory::{MemoryBus, MemoryCache, MemoryRateLimiter, MemoryStore};
use delegate_core::backend::sqlite::{SqliteBus, SqliteStore};
use delegate_core::bus::{Delivery, EventBus};
use delegate_core::cache::Cache;
use delegate_core::ratelimit::RateLimiter;
use delegate_core::testing::{BusFixture, CacheFixture, LimiterFixture, StoreFixture};
use delegate_core::{ManualClock, Stores};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// A fresh in-memory relational store.
async fn memory_stores() -> Stores {
    Stores::from_complete_backend(Arc::new(MemoryStore::new()))
}

/// A fresh SQLite database in its own temporary directory, removed when the test ends.
async fn sqlite_stores() -> StoreFixture {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("conformance.db").display());
    let store = SqliteStore::connect(&url)
        .await
        .expect("open and migrate SQLite");
    StoreFixture::new(Stores::from_complete_backend(Arc::new(store))).with_guard(dir)
}

/// A fresh in-memory cache on its own manual clock.
async fn memory_cache() -> CacheFixture {
    let clock = ManualClock::default();
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new(Arc::new(clock.clone()), 1_000));
    CacheFixture::new(cache, clock)
}

/// A fresh in-memory rate limiter on its own manual clock.
async fn memory_limiter() -> LimiterFixture {
    let clock = ManualClock::default();
    let limiter: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(Arc::new(clock.clone())));
    LimiterFixture::new(limiter, clock)
}

/// A fresh in-process bus.
async fn memory_bus() -> Arc<dyn EventBus> {
    Arc::new(MemoryBus::default())
}

mod stores {
    use super::*;

    delegate_core::store_conformance!(memory, memory_stores());
    delegate_core::store_conformance!(sqlite, sqlite_stores());
}

mod cache {
    use super::*;

    delegate_core::cache_conformance!(memory, memory_cache());
}

mod ratelimit {
    use super::*;

    delegate_core::limiter_conformance!(memory, memory_limiter());
}

/// A SQLite file's bus (one process's view), the file removed when the test ends.
async fn sqlite_bus() -> BusFixture {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("bus.db").display());
    let store = SqliteStore::connect(&url).await.expect("open SQLite");
    let bus = SqliteBus::start(store, Duration::from_millis(50))
        .await
        .expect("start the bus");
    BusFixture::new(Arc::new(bus)).with_guard(dir)
}

mod bus {
    use super::*;

    delegate_core::bus_conformance!(memory, memory_bus());
    delegate_core::bus_conformance!(sqlite, sqlite_bus());
}

/// Two processes on one SQLite file: what one publishes, the other's subscribers get (by
/// polling), in order, and nothing is delivered twice to the publisher's own subscribers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_bus_crosses_processes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let open = || async {
        let store = SqliteStore::connect(&url).await.unwrap();
        SqliteBus::start(store, Duration::from_millis(50))
            .await
            .unwrap()
    };
    let (a, b) = (open().await, open().await);
    let mut on_a = a.subscribe("t").await.unwrap();
    let mut on_b = b.subscribe("t").await.unwrap();
    for i in 0..5u8 {
        a.publish("t", vec![i]).await.unwrap();
    }
    for i in 0..5u8 {
        assert_eq!(next(&mut on_b).await, Delivery::Message(vec![i]));
        assert_eq!(next(&mut on_a).await, Delivery::Message(vec![i]));
    }
    b.publish("t", vec![9]).await.unwrap();
    assert_eq!(
        next(&mut on_a).await,
        Delivery::Message(vec![9]),
        "no duplicate of 0..5"
    );
    assert_eq!(next(&mut on_b).await, Delivery::Message(vec![9]));
}

/// When a poll fails (here: the table is renamed away for a while), the subscribers are told
/// of a gap once polling works again, then hear what is published after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_bus_reports_a_gap_after_failed_polls() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gap.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    let bus = SqliteBus::start(store, Duration::from_millis(50))
        .await
        .unwrap();
    let publisher = SqliteBus::start(
        SqliteStore::connect(&url).await.unwrap(),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let mut sub = bus.subscribe("t").await.unwrap();
    let admin = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("ALTER TABLE bus_events RENAME TO bus_events_away")
        .execute(&admin)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("ALTER TABLE bus_events_away RENAME TO bus_events")
        .execute(&admin)
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await, Delivery::Gap);
    publisher.publish("t", b"after".to_vec()).await.unwrap();
    assert_eq!(next(&mut sub).await, Delivery::Message(b"after".to_vec()));
}

/// The next delivery, within 10 s.
async fn next(sub: &mut delegate_core::bus::Subscription) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("delivered in time")
        .expect("open")
}

/// The `EventLog` suite on the in-process log.
mod event_log {
    use delegate_core::ManualClock;
    use delegate_core::realtime::{EventLog, MemoryEventLog};
    use delegate_core::testing::event_log as suite;
    use std::sync::Arc;

    fn log() -> Arc<dyn EventLog> {
        Arc::new(MemoryEventLog::new(Arc::new(ManualClock::default())))
    }

    #[tokio::test]
    async fn appends_are_numbered_and_read_back_in_order() {
        suite::appends_are_numbered_and_read_back_in_order(log()).await;
    }

    #[tokio::test]
    async fn old_entries_are_trimmed_and_reported_missing() {
        suite::old_entries_are_trimmed_and_reported_missing(log()).await;
    }

    #[tokio::test]
    async fn unknown_logs_and_future_numbers() {
        suite::unknown_logs_and_future_numbers(log()).await;
    }
}

/// Transactions cancelled mid-way, in memory (one store) and on SQLite (a second store on
/// the same file reads).
mod cancelled_transactions {
    use super::*;
    use delegate_core::testing::usage::cancelled_transactions_leave_no_connection_in_one as suite;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory() {
        let stores = memory_stores().await;
        suite(stores.clone(), stores).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("cancel.db").display());
        let writer = SqliteStore::connect(&url)
            .await
            .expect("open and migrate SQLite");
        let reader = SqliteStore::open(&url).await.expect("open SQLite again");
        suite(
            Stores::from_complete_backend(Arc::new(writer)),
            Stores::from_complete_backend(Arc::new(reader)),
        )
        .await;
    }
}
