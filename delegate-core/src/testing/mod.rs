//! Conformance suites for backend implementations (feature `testing`).
//!
//! Every backend trait has one suite, and every backend runs it: that is how a new
//! backend (PostgreSQL, Redis, your own) proves it behaves like the ones it replaces.
//!
//! * Each submodule is one suite; each of its `pub async fn`s is one test case. A case
//!   takes the backend under test and panics when the backend breaks the trait's contract.
//! * Relational suites ([`users`], [`sessions`], [`refresh`], [`denylist`], [`chat`],
//!   [`usage`]) take a [`Stores`](crate::Stores). The [`ratelimit`] suite takes the limiter
//!   plus the [`ManualClock`](crate::ManualClock) that drives it, so windows are tested by
//!   advancing the clock. The [`cache`] suite takes the cache plus a [`cache::CacheTime`]:
//!   the manual clock for in-process caches, or real time (short TTLs slept through) for
//!   caches that expire on a server's clock, like Redis. The [`bus`] suite takes an
//!   `Arc<dyn EventBus>`.
//! * The macros [`store_conformance!`](crate::store_conformance),
//!   [`cache_conformance!`](crate::cache_conformance),
//!   [`limiter_conformance!`](crate::limiter_conformance) and
//!   [`bus_conformance!`](crate::bus_conformance) instantiate every case of a suite as a
//!   multi-threaded `#[tokio::test]`, given a backend name and an async factory. The factory
//!   runs once per test, so each test gets a fresh backend (its own database, schema or key
//!   prefix); it returns a fixture (see [`StoreFixture`] and friends) that may hold a guard
//!   living as long as the test.
//!
//! A runnable custom backend that passes its suite is in the workspace's `examples/`:
//! `logging_cache.rs` implements [`Cache`](crate::cache::Cache) on a logging `HashMap`,
//! `tests/logging_cache.rs` runs the cache suite on it (`cargo test -p delegate-examples`),
//! and `custom_backend.rs` runs a Delegate on it. That test file is all a backend needs: a
//! factory returning the backend (and the clock its expiry reads), and one macro call.
//!
//! A relational backend implements the store traits (the optional [`ExpiredDeletion`] and
//! [`RefreshTokenCounts`] too, for the purge and rotation cases) and hands
//! `Stores::from_complete_backend(Arc::new(MyStore::new()))` to
//! [`store_conformance!`](crate::store_conformance).
//!
//! [`ExpiredDeletion`]: crate::auth::ExpiredDeletion
//! [`RefreshTokenCounts`]: crate::auth::RefreshTokenCounts
//!
//! Invoke each macro inside a module of its own per suite kind (`stores`, `cache`, …): it
//! expands to a child module named after the backend, which glob-imports its parent, so
//! the factory expression may use anything in scope there. A case added to a suite must
//! also be listed in its macro (see `macros.rs`).

pub mod audit;
pub mod bus;
pub mod cache;
pub mod chat;
pub mod denylist;
pub mod event_log;
mod fixture;
mod macros;
pub mod ratelimit;
pub mod refresh;
pub mod sessions;
mod support;
pub mod transcript_ranking;
pub mod transcripts;
pub mod upstream;
pub mod usage;
pub mod users;

pub use fixture::{BusFixture, CacheFixture, LimiterFixture, StoreFixture};
