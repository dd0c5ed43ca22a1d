//! In-memory backends: the embedded defaults for cache, limits and bus, and a throwaway
//! relational store.

mod audit;
mod auth;
mod bus;
mod cache;
mod chat;
mod ratelimit;
mod store;
mod transcripts;
mod usage;
mod users;

pub use bus::MemoryBus;
pub use cache::MemoryCache;
pub use ratelimit::MemoryRateLimiter;
pub use store::MemoryStore;
