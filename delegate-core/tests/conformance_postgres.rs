//! Runs the relational conformance suites against PostgreSQL, one schema per test.
//!
//! The database comes from `DELEGATE_TEST_DATABASE_URL` (the project's test command sets
//! it); without it every test here fails rather than skipping.
#![cfg(feature = "postgres")]

use delegate_core::Stores;
use delegate_core::backend::postgres::{PgBus, PgStore, TestSchema};
use delegate_core::bus::{Delivery, EventBus, Subscription};
use delegate_core::testing::{BusFixture, StoreFixture};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// The environment variable naming the test database.
const URL_VAR: &str = "DELEGATE_TEST_DATABASE_URL";

/// A fresh, migrated schema `conformance_<uuid>` in the test database, dropped when the
/// test ends.
async fn postgres_stores() -> StoreFixture {
    let url = std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: the PostgreSQL conformance tests need a database, e.g. \
             {URL_VAR}=postgres://postgres@127.0.0.1:5432/test (the project's test command \
             sets it)"
        )
    });
    let (store, schema) = TestSchema::create(&url, "conformance")
        .await
        .unwrap_or_else(|e| panic!("create a test schema in {URL_VAR}'s database: {e:?}"));
    StoreFixture::new(Stores::from_complete_backend(Arc::new(store))).with_guard(schema)
}

mod stores {
    use super::*;

    delegate_core::store_conformance!(postgres, postgres_stores());
}

/// A bus on a fresh schema's channel.
async fn postgres_bus() -> BusFixture {
    let url = std::env::var(URL_VAR).expect("DELEGATE_TEST_DATABASE_URL");
    let (store, schema) = TestSchema::create(&url, "bus").await.unwrap();
    let bus = PgBus::start(store).await.unwrap();
    BusFixture::new(Arc::new(bus)).with_guard(schema)
}

mod bus {
    use super::*;

    delegate_core::bus_conformance!(postgres, postgres_bus());
}

/// Two instances on one schema hear each other; when the listening connection is killed,
/// subscribers are told of the gap and hear again once it is renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_bus_crosses_instances_and_reports_a_lost_connection() {
    let url = std::env::var(URL_VAR).expect("DELEGATE_TEST_DATABASE_URL");
    let (store, schema) = TestSchema::create(&url, "bus").await.unwrap();
    let other = PgStore::open_in_schema(&url, schema.name()).await.unwrap();
    let (a, b) = (
        PgBus::start(store.clone()).await.unwrap(),
        PgBus::start(other).await.unwrap(),
    );
    let mut on_b = b.subscribe("t").await.unwrap();
    a.publish("t", b"hello".to_vec()).await.unwrap();
    assert_eq!(next(&mut on_b).await, Delivery::Message(b"hello".to_vec()));
    // Kill b's listening connection (the one running LISTEN on this schema's channel).
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE query ILIKE 'LISTEN%' AND query ILIKE $1",
    )
    .bind(format!("%{}%", schema.name()))
    .fetch_one(&sqlx::PgPool::connect(&url).await.unwrap())
    .await
    .unwrap();
    assert!(killed >= 1, "found the listening connection");
    assert_eq!(next(&mut on_b).await, Delivery::Gap);
    // Renewed: publish until b hears again.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        a.publish("t", b"again".to_vec()).await.unwrap();
        match tokio::time::timeout(Duration::from_millis(300), on_b.next()).await {
            Ok(Some(Delivery::Message(p))) if p == b"again" => break,
            _ => assert!(std::time::Instant::now() < deadline, "never heard again"),
        }
    }
}

/// The next delivery, within 10 s.
async fn next(sub: &mut Subscription) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("delivered in time")
        .expect("open")
}

/// A server whose connections default to SERIALIZABLE (an operator's choice Delegate does not
/// control) still gives exactly one winner of concurrent rotations: the losers' serialization
/// failures are read as "used before", not returned as errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_keep_one_winner_when_the_server_defaults_to_serializable() {
    let url = std::env::var(URL_VAR).expect("DELEGATE_TEST_DATABASE_URL");
    let separator = if url.contains('?') { '&' } else { '?' };
    let strict =
        format!("{url}{separator}options=-c%20default_transaction_isolation%3Dserializable");
    let level: String = sqlx::query_scalar("SHOW default_transaction_isolation")
        .fetch_one(&sqlx::PgPool::connect(&strict).await.unwrap())
        .await
        .unwrap();
    assert_eq!(level, "serializable", "the URL sets the default level");
    let (store, schema) = TestSchema::create(&strict, "serializable").await.unwrap();
    delegate_core::testing::refresh::concurrent_rotations_have_exactly_one_winner(
        Stores::from_complete_backend(Arc::new(store)),
    )
    .await;
    drop(schema);
}

/// Transactions cancelled mid-way (even while `BEGIN` is on the wire) leave no pooled
/// connection inside a transaction: a second store on the schema sees later writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_transactions_leave_no_connection_in_one() {
    let url = std::env::var(URL_VAR).expect("DELEGATE_TEST_DATABASE_URL");
    let (writer, schema) = TestSchema::create(&url, "cancel").await.unwrap();
    let reader = PgStore::open_in_schema(&url, schema.name()).await.unwrap();
    delegate_core::testing::usage::cancelled_transactions_leave_no_connection_in_one(
        Stores::from_complete_backend(Arc::new(writer)),
        Stores::from_complete_backend(Arc::new(reader)),
    )
    .await;
}
