//! Runs the relational conformance suites against PostgreSQL, one schema per test.
//!
//! The database comes from `DELEGATE_TEST_DATABASE_URL` (the project's test command sets
//! it); without it every test here fails rather than skipping.
#![cfg(feature = "postgres")]

use delegate_core::Stores;
use delegate_core::backend::postgres::TestSchema;
use delegate_core::testing::StoreFixture;
use std::sync::Arc;

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
    StoreFixture::new(Stores::from_backend(Arc::new(store))).with_guard(schema)
}

mod stores {
    use super::*;

    delegate_core::store_conformance!(postgres, postgres_stores());
}
