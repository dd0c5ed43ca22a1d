//! Fixtures: what a conformance factory hands a test (the backend, its clock, a guard).

use crate::Stores;
use crate::bus::EventBus;
use crate::cache::Cache;
use crate::clock::ManualClock;
use crate::ratelimit::RateLimiter;
use crate::testing::cache::CacheTime;
use std::any::Any;
use std::sync::Arc;

/// Something that must live as long as the test (a temporary directory, a schema dropper).
type Guard = Option<Box<dyn Any + Send>>;

/// A relational backend under test.
pub struct StoreFixture {
    /// The stores the cases run against.
    pub stores: Stores,
    guard: Guard,
}

impl StoreFixture {
    /// A fixture over `stores` with nothing else to keep alive.
    pub fn new(stores: Stores) -> Self {
        Self {
            stores,
            guard: None,
        }
    }

    /// The same fixture, also keeping `guard` alive until the test ends (dropped after the
    /// stores).
    pub fn with_guard(mut self, guard: impl Any + Send) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }
}

impl From<Stores> for StoreFixture {
    fn from(stores: Stores) -> Self {
        Self::new(stores)
    }
}

/// A cache under test and how its time moves.
pub struct CacheFixture {
    /// The cache the cases run against.
    pub cache: Arc<dyn Cache>,
    /// What drives the cache's expiry: a manual clock it reads, or real time.
    pub time: CacheTime,
    guard: Guard,
}

impl CacheFixture {
    /// A fixture over `cache`, whose expiry reads `clock`; cases advance it.
    pub fn new(cache: Arc<dyn Cache>, clock: ManualClock) -> Self {
        Self {
            cache,
            time: CacheTime::Manual(clock),
            guard: None,
        }
    }

    /// A fixture over `cache`, whose entries expire in real time (on a server's clock, as
    /// Redis TTLs do); the expiry cases sleep through short TTLs.
    pub fn real_time(cache: Arc<dyn Cache>) -> Self {
        Self {
            cache,
            time: CacheTime::Real,
            guard: None,
        }
    }

    /// The same fixture, also keeping `guard` alive until the test ends.
    pub fn with_guard(mut self, guard: impl Any + Send) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }
}

impl From<(Arc<dyn Cache>, ManualClock)> for CacheFixture {
    fn from((cache, clock): (Arc<dyn Cache>, ManualClock)) -> Self {
        Self::new(cache, clock)
    }
}

/// A rate limiter under test and the clock that moves its windows.
pub struct LimiterFixture {
    /// The limiter the cases run against.
    pub limiter: Arc<dyn RateLimiter>,
    /// The clock the limiter reads; cases advance it.
    pub clock: ManualClock,
    guard: Guard,
}

impl LimiterFixture {
    /// A fixture over `limiter`, driven by `clock`.
    pub fn new(limiter: Arc<dyn RateLimiter>, clock: ManualClock) -> Self {
        Self {
            limiter,
            clock,
            guard: None,
        }
    }

    /// The same fixture, also keeping `guard` alive until the test ends.
    pub fn with_guard(mut self, guard: impl Any + Send) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }
}

impl From<(Arc<dyn RateLimiter>, ManualClock)> for LimiterFixture {
    fn from((limiter, clock): (Arc<dyn RateLimiter>, ManualClock)) -> Self {
        Self::new(limiter, clock)
    }
}

/// An event bus under test.
pub struct BusFixture {
    /// The bus the cases run against.
    pub bus: Arc<dyn EventBus>,
    guard: Guard,
}

impl BusFixture {
    /// A fixture over `bus`.
    pub fn new(bus: Arc<dyn EventBus>) -> Self {
        Self { bus, guard: None }
    }

    /// The same fixture, also keeping `guard` alive until the test ends.
    pub fn with_guard(mut self, guard: impl Any + Send) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }
}

impl From<Arc<dyn EventBus>> for BusFixture {
    fn from(bus: Arc<dyn EventBus>) -> Self {
        Self::new(bus)
    }
}
