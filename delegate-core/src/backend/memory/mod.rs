//! In-memory backends: the embedded defaults for cache, limits and bus, and a throwaway
//! relational store.

mod bus;
mod cache;
mod ratelimit;
mod store;

pub use bus::MemoryBus;
pub use cache::MemoryCache;
pub use ratelimit::MemoryRateLimiter;
pub use store::MemoryStore;
