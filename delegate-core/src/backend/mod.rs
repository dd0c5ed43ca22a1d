//! Backends chosen by URL: the relational store (`sqlite:`, `postgres:`, `memory:`) and
//! the shared services (`memory:`, `redis:`, `redis+cluster:` cache, rate limiter and bus).

pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod transaction;

use crate::admin::AuditStore;
use crate::auth::{
    ExpiredDeletion, LoginSessionStore, RefreshTokenCounts, RefreshTokenStore, TokenDenylist,
};
use crate::bus::EventBus;
use crate::cache::Cache;
use crate::cache::stats::CacheInspect;
use crate::chat::ConversationStore;
use crate::clock::Clock;
use crate::config::CacheConfig;
use crate::error::{Error, Result};
use crate::health::Probe;
use crate::ratelimit::RateLimiter;
use crate::transcript::TranscriptStore;
use crate::usage::UsageStore;
use crate::users::UserStore;
use std::sync::Arc;

/// The relational (durable) stores Delegate runs on.
#[derive(Clone)]
pub struct Stores {
    /// Accounts.
    pub users: Arc<dyn UserStore>,
    /// Login sessions.
    pub sessions: Arc<dyn LoginSessionStore>,
    /// Refresh-token families.
    pub refresh: Arc<dyn RefreshTokenStore>,
    /// Access-token denylist.
    pub denylist: Arc<dyn TokenDenylist>,
    /// Chat sessions and their messages.
    pub conversations: Arc<dyn ConversationStore>,
    /// The usage ledger.
    pub usage: Arc<dyn UsageStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditStore>,
    /// Transcripts and their search index.
    pub transcripts: Arc<dyn TranscriptStore>,
    /// Deleting ended auth rows, when the backend can (see [`ExpiredDeletion`]).
    pub cleanup: Option<Arc<dyn ExpiredDeletion>>,
    /// Counting a refresh family's unused tokens, when the backend can (conformance only).
    pub refresh_counts: Option<Arc<dyn RefreshTokenCounts>>,
    /// A round trip for health checks and readiness, when the backend can.
    pub probe: Option<Arc<dyn Probe>>,
    /// The event bus of every process on this store, used when no Redis is configured:
    /// PostgreSQL LISTEN/NOTIFY, a polled events table on SQLite, in-process otherwise.
    pub bus: Arc<dyn EventBus>,
}

impl Stores {
    /// All stores served by one backend value that implements every required trait; the
    /// optional capabilities are added with [`Stores::with_cleanup`] and
    /// [`Stores::with_refresh_counts`] (or all at once by [`Stores::from_complete_backend`]).
    pub fn from_backend<T>(backend: Arc<T>) -> Self
    where
        T: UserStore
            + LoginSessionStore
            + RefreshTokenStore
            + TokenDenylist
            + ConversationStore
            + UsageStore
            + AuditStore
            + TranscriptStore,
    {
        Self {
            users: backend.clone(),
            sessions: backend.clone(),
            refresh: backend.clone(),
            denylist: backend.clone(),
            conversations: backend.clone(),
            usage: backend.clone(),
            audit: backend.clone(),
            transcripts: backend,
            cleanup: None,
            refresh_counts: None,
            probe: None,
            bus: Arc::new(memory::MemoryBus::default()),
        }
    }

    /// All stores, and every optional capability, served by one backend value (as the
    /// built-in backends are).
    pub fn from_complete_backend<T>(backend: Arc<T>) -> Self
    where
        T: UserStore
            + LoginSessionStore
            + RefreshTokenStore
            + TokenDenylist
            + ConversationStore
            + UsageStore
            + AuditStore
            + TranscriptStore
            + ExpiredDeletion
            + RefreshTokenCounts
            + Probe,
    {
        Self::from_backend(backend.clone())
            .with_cleanup(backend.clone())
            .with_refresh_counts(backend.clone())
            .with_probe(backend)
    }

    /// The same stores, probed for health with `probe`.
    pub fn with_probe(mut self, probe: Arc<dyn Probe>) -> Self {
        self.probe = Some(probe);
        self
    }

    /// The same stores, deleting ended auth rows with `cleanup`.
    pub fn with_cleanup(mut self, cleanup: Arc<dyn ExpiredDeletion>) -> Self {
        self.cleanup = Some(cleanup);
        self
    }

    /// The same stores, counting refresh tokens with `counts`.
    pub fn with_refresh_counts(mut self, counts: Arc<dyn RefreshTokenCounts>) -> Self {
        self.refresh_counts = Some(counts);
        self
    }

    /// The same stores with `bus` as their cross-process bus.
    pub fn with_bus(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.bus = bus;
        self
    }

    /// Opens the store named by `url` (`sqlite://…`, `sqlite::memory:`, `postgres://…`,
    /// `memory:`), applying its pending migrations if `migrate` is set.
    pub async fn connect(url: &str, migrate: bool) -> Result<Self> {
        match scheme(url) {
            "memory" => Ok(Self::from_complete_backend(Arc::new(
                memory::MemoryStore::new(),
            ))),
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                let store = sqlite::SqliteStore::open(url).await?;
                if migrate {
                    store.migrate().await?;
                }
                require_migrated(store.pending().await?)?;
                let bus = sqlite::SqliteBus::start(store.clone(), sqlite::POLL_INTERVAL).await?;
                Ok(Self::from_complete_backend(Arc::new(store)).with_bus(Arc::new(bus)))
            }
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                let store = postgres::PgStore::open(url).await?;
                if migrate {
                    store.migrate().await?;
                }
                require_migrated(store.pending().await?)?;
                let bus = postgres::PgBus::start(store.clone()).await?;
                Ok(Self::from_complete_backend(Arc::new(store)).with_bus(Arc::new(bus)))
            }
            other => Err(unsupported("database_url", other, DATABASE_SCHEMES)),
        }
    }
}

/// Refuses to run on a schema with pending migrations.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn require_migrated(pending: usize) -> Result<()> {
    if pending > 0 {
        return Err(Error::invalid(
            "database_url",
            format!(
                "the database has {pending} pending migration(s); run `delegate migrate` \
                 (or start with DELEGATE_MIGRATE_ON_START=true)"
            ),
        ));
    }
    Ok(())
}

/// The relational store schemes this build supports.
const DATABASE_SCHEMES: &str = "sqlite:, postgres:, memory:";

/// Applies pending migrations to the store named by `url`; returns how many were applied.
pub async fn migrate(url: &str) -> Result<usize> {
    match scheme(url) {
        "memory" => Ok(0),
        #[cfg(feature = "sqlite")]
        "sqlite" => sqlite::SqliteStore::open(url).await?.migrate().await,
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => postgres::PgStore::open(url).await?.migrate().await,
        other => Err(unsupported("database_url", other, DATABASE_SCHEMES)),
    }
}

/// The shared, rebuildable services: cache, rate limiter, event bus.
#[derive(Clone)]
pub struct Shared {
    /// The cache.
    pub cache: Arc<dyn Cache>,
    /// The rate limiter.
    pub limiter: Arc<dyn RateLimiter>,
    /// The event bus.
    pub bus: Arc<dyn EventBus>,
    /// The users' realtime event logs (for reconnecting clients).
    pub events: Arc<dyn crate::realtime::EventLog>,
    /// A round trip to the server behind them, for health checks; `None` when in-process.
    pub probe: Option<Arc<dyn Probe>>,
    /// What the cache holds and how it is used, when it can tell (the built-in caches can).
    pub inspect: Option<Arc<dyn CacheInspect>>,
}

impl Shared {
    /// In-process cache, limiter and bus.
    pub fn memory(clock: Arc<dyn Clock>) -> Self {
        let cache = Arc::new(memory::MemoryCache::new(clock.clone(), 100_000));
        Self {
            cache: cache.clone(),
            limiter: Arc::new(memory::MemoryRateLimiter::new(clock.clone())),
            bus: Arc::new(memory::MemoryBus::default()),
            events: Arc::new(crate::realtime::MemoryEventLog::new(clock)),
            probe: None,
            inspect: Some(cache),
        }
    }

    /// The services named by `url` (`memory:`, `redis://…`,
    /// `redis+cluster://host:port,host:port…`); Redis keys start with `prefix`. Over Redis the
    /// cache is two-level: an in-process L1 (bounded by `cache`) in front of Redis, kept
    /// coherent across instances over the Redis bus.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub async fn connect(
        url: &str,
        prefix: &str,
        cache: &CacheConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        match scheme(url) {
            "memory" => Ok(Self::memory(clock)),
            #[cfg(feature = "redis")]
            "redis" | "rediss" | "redis+cluster" => {
                let backend =
                    Arc::new(redis::RedisBackend::connect(url, prefix, clock.clone()).await?);
                let bus: Arc<dyn EventBus> = Arc::new(backend.bus());
                let l2 = Arc::new(backend.cache());
                let cache = crate::cache::TwoLevelCache::new(
                    l2.clone(),
                    bus.clone(),
                    cache.l1_capacity,
                    std::time::Duration::from_secs(cache.l1_max_ttl_secs),
                    clock,
                )
                .await?;
                cache.measure_l2_with(l2);
                Ok(Self {
                    cache: cache.clone(),
                    limiter: Arc::new(backend.limiter()),
                    bus,
                    events: Arc::new(backend.event_log()),
                    probe: Some(backend),
                    inspect: Some(cache),
                })
            }
            other => Err(unsupported(
                "redis_url",
                other,
                "memory:, redis:, rediss:, redis+cluster:",
            )),
        }
    }
}

/// A `LIKE` pattern matching values that start with `prefix`, lowercased, with `\`, `%` and
/// `_` escaped by a backslash (SQLite with `ESCAPE '\'`; PostgreSQL's default escape).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn like_prefix(prefix: Option<&str>) -> Option<String> {
    prefix.map(|p| {
        let escaped = p
            .to_ascii_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("{escaped}%")
    })
}

/// The single token (SQLite) or lexeme (PostgreSQL) a transcript's owner is indexed as, so a
/// search can be scoped to the owner inside the full-text index: `u` and the id's 32 hex
/// digits. The migrations build the same text from the stored `user_id`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn owner_token(user: crate::ids::UserId) -> String {
    format!("u{}", user.as_uuid().simple())
}

fn scheme(url: &str) -> &str {
    url.split_once(':').map_or(url, |(scheme, _)| scheme)
}

fn unsupported(setting: &'static str, scheme: &str, supported: &str) -> Error {
    Error::invalid(
        setting,
        format!("unsupported {setting} scheme {scheme:?}; this build supports {supported}"),
    )
}
