//! Health: a cheap round trip to each dependency ([`Probe`]), what each answered and how
//! fast ([`Check`]), and the overall state ([`HealthReport`]); readiness to serve.

use crate::chat::ChatModel;
use crate::error::{Error, Result};
use crate::voice::SpeechModel;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a probe may take before its dependency counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Optional capability of a backend: a cheap round trip for health checks and readiness.
/// The built-in SQLite, PostgreSQL and Redis backends implement it; a backend without it is
/// reported as not checked.
#[async_trait]
pub trait Probe: Send + Sync + 'static {
    /// What the backend is (`sqlite`, `postgres`, `redis`, …), shown to admins only.
    fn kind(&self) -> &'static str;
    /// A cheap round trip.
    async fn ping(&self) -> Result<()>;
    /// Schema migrations not applied yet (none for backends without a schema).
    async fn pending_migrations(&self) -> Result<usize> {
        Ok(0)
    }
    /// The connection pool's state, for metrics; `None` for backends without a pool.
    fn pool(&self) -> Option<PoolState> {
        None
    }
}

/// A connection pool's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections open.
    pub size: u32,
    /// Of those, idle.
    pub idle: u32,
}

/// The state of one dependency, or of the whole server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Working.
    Ok,
    /// Serving, but something is missing or down (the cache, the AI provider).
    Degraded,
    /// Cannot serve (the relational store is unreachable).
    Down,
}

impl Status {
    /// `ok`, `degraded` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
            Status::Down => "down",
        }
    }
}

/// What one dependency answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// `database`, `redis`, `ai` or `voice`.
    pub name: &'static str,
    /// Its state.
    pub status: Status,
    /// What it is (`sqlite`, `postgres`, `redis`, `in-process`, the provider's label).
    pub kind: String,
    /// How long the probe took (zero when nothing was asked).
    pub latency: Duration,
    /// Why it is not ok (for admins: may name hosts, never secrets).
    pub detail: Option<String>,
}

/// Every dependency's check and the overall state: down when the store is, degraded when
/// anything else is not ok.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    /// The overall state.
    pub status: Status,
    /// This build's version.
    pub version: &'static str,
    /// Time since this Delegate was built, by its clock.
    pub uptime: Duration,
    /// One check per dependency.
    pub checks: Vec<Check>,
}

/// What the checks look at.
pub(crate) struct Dependencies<'a> {
    /// The relational store.
    pub(crate) store: Option<&'a Arc<dyn Probe>>,
    /// The shared services (Redis); `None` when they are in-process.
    pub(crate) shared: Option<&'a Arc<dyn Probe>>,
    /// The AI provider, when one is configured.
    pub(crate) ai: Option<&'a Arc<dyn ChatModel>>,
    /// The speech provider, when one is configured.
    pub(crate) voice: Option<&'a Arc<dyn SpeechModel>>,
}

/// Probes every dependency at once.
pub(crate) async fn check(deps: Dependencies<'_>, uptime: Duration) -> HealthReport {
    let shared = async {
        match deps.shared {
            Some(shared) => probe("redis", Some(shared), Status::Degraded).await,
            None => quiet("redis", Status::Ok, "in-process", None),
        }
    };
    let ai = async {
        match deps.ai {
            Some(model) => probe_ai(model.as_ref()).await,
            None => quiet(
                "ai",
                Status::Degraded,
                "none",
                Some("no AI provider is configured: chat answers 503 ai_not_configured"),
            ),
        }
    };
    let voice = async {
        match deps.voice {
            Some(model) => timed("voice", model.name(), Status::Degraded, model.probe()).await,
            None => quiet(
                "voice",
                Status::Ok,
                "none",
                Some("no speech provider is configured: voice answers 503 voice_not_configured"),
            ),
        }
    };
    let (database, redis, ai, voice) = tokio::join!(
        probe("database", deps.store, Status::Down),
        shared,
        ai,
        voice
    );
    let checks = vec![database, redis, ai, voice];
    let status = if checks[0].status == Status::Down {
        Status::Down
    } else if checks.iter().all(|c| c.status == Status::Ok) {
        Status::Ok
    } else {
        Status::Degraded
    };
    HealthReport {
        status,
        version: env!("CARGO_PKG_VERSION"),
        uptime,
        checks,
    }
}

/// Ready when the store answers and has no pending migration.
pub(crate) async fn ready(store: Option<&Arc<dyn Probe>>) -> Result<()> {
    let Some(store) = store else {
        return Ok(());
    };
    let pending = bounded(store.pending_migrations()).await?;
    if pending > 0 {
        return Err(Error::unavailable(
            "the migrated database",
            Duration::from_secs(5),
        ));
    }
    Ok(())
}

async fn probe(name: &'static str, probe: Option<&Arc<dyn Probe>>, failed: Status) -> Check {
    match probe {
        Some(probe) => timed(name, probe.kind(), failed, probe.ping()).await,
        None => quiet(name, Status::Ok, "not checked", None),
    }
}

async fn probe_ai(model: &dyn ChatModel) -> Check {
    timed("ai", model.name(), Status::Degraded, model.probe()).await
}

/// The check of `work`, timed and bounded: ok, or `failed` with the error's report.
async fn timed(
    name: &'static str,
    kind: &str,
    failed: Status,
    work: impl Future<Output = Result<()>>,
) -> Check {
    let started = Instant::now();
    let result = bounded(work).await;
    Check {
        name,
        status: if result.is_ok() { Status::Ok } else { failed },
        kind: kind.to_owned(),
        latency: started.elapsed(),
        detail: result.err().map(|e| e.report().to_string()),
    }
}

/// A check that asked nothing.
fn quiet(name: &'static str, status: Status, kind: &str, detail: Option<&str>) -> Check {
    Check {
        name,
        status,
        kind: kind.to_owned(),
        latency: Duration::ZERO,
        detail: detail.map(str::to_owned),
    }
}

/// `work`, or Unavailable past [`PROBE_TIMEOUT`].
async fn bounded<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(PROBE_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err(Error::unavailable("a health probe", Duration::from_secs(1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(bool, usize);

    #[async_trait]
    impl Probe for Fixed {
        fn kind(&self) -> &'static str {
            "fixed"
        }
        async fn ping(&self) -> Result<()> {
            if self.0 {
                Ok(())
            } else {
                Err(Error::unavailable("fixed", Duration::from_secs(1)))
            }
        }
        async fn pending_migrations(&self) -> Result<usize> {
            Ok(self.1)
        }
    }

    fn probe(up: bool, pending: usize) -> Arc<dyn Probe> {
        Arc::new(Fixed(up, pending))
    }

    #[tokio::test]
    async fn the_store_down_is_down_anything_else_down_is_degraded() {
        let (up, down) = (probe(true, 0), probe(false, 0));
        let echo: Arc<dyn ChatModel> = Arc::new(crate::ai::EchoModel::default());
        let ai = Some(&echo);
        let deps = |store, shared, ai| Dependencies {
            store,
            shared,
            ai,
            voice: None,
        };
        let all_up = check(deps(Some(&up), Some(&up), ai), Duration::ZERO).await;
        assert_eq!(all_up.status, Status::Ok);
        assert_eq!(all_up.checks[2].kind, "echo");
        let redis_down = check(deps(Some(&up), Some(&down), ai), Duration::ZERO).await;
        assert_eq!(redis_down.status, Status::Degraded);
        assert_eq!(redis_down.checks[1].status, Status::Degraded);
        assert!(redis_down.checks[1].detail.is_some());
        let store_down = check(deps(Some(&down), Some(&up), ai), Duration::ZERO).await;
        assert_eq!(store_down.status, Status::Down);
        let no_ai = check(deps(Some(&up), None, None), Duration::ZERO).await;
        assert_eq!(no_ai.status, Status::Degraded);
        assert_eq!(no_ai.checks[1].kind, "in-process");
    }

    #[tokio::test]
    async fn readiness_needs_a_reachable_migrated_store() {
        assert!(ready(Some(&probe(true, 0))).await.is_ok());
        assert!(ready(Some(&probe(true, 2))).await.is_err());
        assert!(ready(None).await.is_ok());
    }
}
