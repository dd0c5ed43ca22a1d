//! The rate-limit policy: which scopes a request is counted in (global, per client — the
//! user, or the IP before auth — per route, per tier) and what happens when the shared
//! limiter is down (auth and AI routes fail closed; everything else falls back to an
//! in-process limiter, never unlimited).

use super::client_ip::{TrustedProxies, ip_bucket};
use super::{RateDecision, RateLimiter};
use crate::backend::memory::MemoryRateLimiter;
use crate::cache::keys;
use crate::clock::Clock;
use crate::config::RateLimitConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::ids::UserId;
use crate::users::Tier;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateClient {
    /// A signed-in user, with the tier from their token.
    User(UserId, Tier),
    /// A client by IP (anonymous requests, and every login, register and refresh).
    Ip(IpAddr),
}

/// How a route behaves when the shared limiter is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// Login, register, refresh: stricter limits; fail closed.
    Auth,
    /// Routes that call the AI provider: fail closed.
    Ai,
    /// Everything else: falls back to an in-process limiter.
    Standard,
}

/// Applies [`RateLimitConfig`] with the shared limiter.
#[derive(Clone)]
pub struct RateLimits {
    config: RateLimitConfig,
    proxies: TrustedProxies,
    shared: Arc<dyn RateLimiter>,
    fallback: Arc<MemoryRateLimiter>,
    fallbacks: Arc<AtomicU64>,
    /// Until when (ms, by the clock) the shared limiter is taken as down after it failed,
    /// so an outage costs each request nothing rather than a connection attempt.
    down_until: Arc<AtomicI64>,
    clock: Arc<dyn Clock>,
}

impl RateLimits {
    pub(crate) fn new(
        config: RateLimitConfig,
        shared: Arc<dyn RateLimiter>,
        proxies: TrustedProxies,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            config,
            proxies,
            shared,
            fallback: Arc::new(MemoryRateLimiter::new(clock.clone())),
            fallbacks: Arc::new(AtomicU64::new(0)),
            down_until: Arc::new(AtomicI64::new(i64::MIN)),
            clock,
        }
    }

    /// How many checks fell back to the in-process limiter because the shared one was
    /// down or too slow, since start.
    pub fn fallback_count(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// The client behind a connection from `peer` with these `X-Forwarded-For` values:
    /// see [`TrustedProxies::client`].
    pub fn client_ip<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        self.proxies.client(peer, forwarded)
    }

    /// The key `client` is counted under: the user, or the IP's bucket (IPv6 per
    /// `ipv6_prefix_len`-bit network).
    pub fn client_key(&self, client: &RateClient) -> String {
        match client {
            RateClient::User(id, _) => keys::limits::user(*id),
            RateClient::Ip(ip) => keys::limits::ip(&ip_bucket(*ip, self.config.ipv6_prefix_len)),
        }
    }

    /// Whether any per-route limit is configured: a caller may skip naming the route for
    /// [`check`](Self::check) (and pass `""`) when none is.
    pub fn has_route_limits(&self) -> bool {
        !self.config.routes.is_empty()
    }

    /// Counts one request of `client` on `route` (e.g. `"GET /api/v1/auth/me"`). Returns the
    /// tightest decision over every scope that applies: check `allowed`. Errors only when the
    /// shared limiter is down on a fail-closed route ([`Error::Unavailable`]).
    pub async fn check(
        &self,
        client: &RateClient,
        route: &str,
        class: RouteClass,
    ) -> Result<RateDecision> {
        let c = &self.config;
        let global = (c.global_max_requests > 0).then_some((
            "global",
            keys::limits::GLOBAL,
            c.global_max_requests,
            c.window_ms,
        ));
        let client_key = self.client_key(client);
        let auth_key;
        let own = match class {
            RouteClass::Auth => {
                auth_key = keys::limits::auth(&client_key);
                (
                    "auth",
                    auth_key.as_str(),
                    c.auth_max_requests,
                    c.auth_window_ms,
                )
            }
            RouteClass::Ai | RouteClass::Standard => {
                let multiplier = match client {
                    RateClient::User(_, Tier::Pro) => c.pro_multiplier,
                    RateClient::User(_, Tier::Enterprise) => c.enterprise_multiplier,
                    _ => 1,
                };
                (
                    "client",
                    client_key.as_str(),
                    c.max_requests.saturating_mul(multiplier.max(1)),
                    c.window_ms,
                )
            }
        };
        let route_key;
        let on_route = match c.routes.get(route) {
            Some(limit) => {
                route_key = keys::limits::route(route, &client_key);
                Some((
                    "route",
                    route_key.as_str(),
                    limit.max_requests,
                    limit.window_ms,
                ))
            }
            None => None,
        };
        let scopes = [global, Some(own), on_route].into_iter().flatten();
        let mut tightest: Option<RateDecision> = None;
        for (scope, key, limit, window_ms) in scopes {
            let decision = self
                .count(key, limit, Duration::from_millis(window_ms), class)
                .await?;
            decision_counter(scope, decision.allowed).increment(1);
            let tighter = tightest.is_none_or(|t| {
                (!decision.allowed && t.allowed)
                    || (decision.allowed == t.allowed && decision.remaining < t.remaining)
            });
            if tighter {
                tightest = Some(decision);
            }
            if !decision.allowed {
                break;
            }
        }
        Ok(tightest.expect("at least the client scope applies"))
    }

    async fn count(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        class: RouteClass,
    ) -> Result<RateDecision> {
        let now = self.clock.now().timestamp_millis();
        let down_until = self.down_until.load(Ordering::Relaxed);
        let answer = if now < down_until {
            Err(Error::unavailable(
                "rate limiter",
                Duration::from_millis((down_until - now) as u64),
            ))
        } else {
            let answer = self.shared.check(key, limit, window).await;
            if let Err(e) = &answer
                && e.kind() == ErrorKind::Unavailable
            {
                let wait = e.retry_after().unwrap_or(Duration::from_secs(1));
                let wait = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                self.down_until
                    .fetch_max(now.saturating_add(wait), Ordering::Relaxed);
                tracing::warn!(
                    error = %e.report(),
                    "shared rate limiter down; auth and AI routes refused, others limited \
                     in-process, for {wait} ms"
                );
            }
            answer
        };
        match answer {
            Err(e) if e.kind() == ErrorKind::Unavailable => match class {
                RouteClass::Auth | RouteClass::Ai => Err(Error::unavailable(
                    "rate limiter",
                    e.retry_after().unwrap_or(Duration::from_secs(1)),
                )),
                RouteClass::Standard => {
                    self.fallbacks.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("delegate_ratelimit_fallbacks_total").increment(1);
                    self.fallback.check(key, limit, window).await
                }
            },
            other => other,
        }
    }
}

/// The scopes a decision is counted in, as metric labels.
const SCOPES: [&str; 4] = ["global", "auth", "client", "route"];

/// The `delegate_ratelimit_decisions_total` handle of `scope` and the decision, made once (not
/// looked up in the recorder per request; a recorder installed after the first decision does
/// not see them, and Delegate's server installs its own before serving).
fn decision_counter(scope: &'static str, allowed: bool) -> &'static metrics::Counter {
    static HANDLES: OnceLock<[[metrics::Counter; 2]; SCOPES.len()]> = OnceLock::new();
    let handles = HANDLES.get_or_init(|| {
        SCOPES.map(|scope| {
            ["allowed", "refused"].map(|decision| {
                metrics::counter!(
                    "delegate_ratelimit_decisions_total",
                    "scope" => scope,
                    "decision" => decision,
                )
            })
        })
    });
    let at = SCOPES
        .iter()
        .position(|s| *s == scope)
        .expect("a decision's scope is one of SCOPES");
    &handles[at][usize::from(!allowed)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use async_trait::async_trait;

    /// A shared limiter that is down, counting how often it is asked.
    #[derive(Default)]
    struct Down(AtomicU64);

    fn down() -> Error {
        Error::unavailable("redis", Duration::from_secs(1))
    }

    #[async_trait]
    impl RateLimiter for Down {
        async fn check(&self, _: &str, _: u32, _: Duration) -> Result<RateDecision> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(down())
        }

        async fn reset(&self, _: &str) -> Result<()> {
            Err(down())
        }
    }

    fn limits(config: RateLimitConfig, shared: Arc<dyn RateLimiter>) -> RateLimits {
        limits_at(config, shared, ManualClock::default())
    }

    fn limits_at(
        config: RateLimitConfig,
        shared: Arc<dyn RateLimiter>,
        clock: ManualClock,
    ) -> RateLimits {
        RateLimits::new(config, shared, TrustedProxies::default(), Arc::new(clock))
    }

    fn memory() -> Arc<dyn RateLimiter> {
        Arc::new(MemoryRateLimiter::new(Arc::new(ManualClock::default())))
    }

    #[tokio::test]
    async fn tiers_multiply_the_per_user_limit_and_users_are_independent() {
        let config = RateLimitConfig {
            max_requests: 2,
            ..RateLimitConfig::default()
        };
        let limits = limits(config, memory());
        let free = RateClient::User(UserId::new(), Tier::Free);
        let pro = RateClient::User(UserId::new(), Tier::Pro);
        let route = "GET /x";
        let mut admitted = (0, 0);
        for _ in 0..20 {
            admitted.0 += u32::from(
                limits
                    .check(&free, route, RouteClass::Standard)
                    .await
                    .unwrap()
                    .allowed,
            );
            admitted.1 += u32::from(
                limits
                    .check(&pro, route, RouteClass::Standard)
                    .await
                    .unwrap()
                    .allowed,
            );
        }
        assert_eq!(admitted, (2, 10));
    }

    #[tokio::test]
    async fn route_overrides_and_the_global_scope_tighten_limits() {
        let mut config = RateLimitConfig {
            global_max_requests: 5,
            ..RateLimitConfig::default()
        };
        config.routes.insert(
            "POST /slow".to_owned(),
            crate::config::RouteLimit {
                max_requests: 1,
                window_ms: 60_000,
            },
        );
        let limits = limits(config, memory());
        let a = RateClient::Ip([10, 0, 0, 1].into());
        let b = RateClient::Ip([10, 0, 0, 2].into());
        assert!(
            limits
                .check(&a, "POST /slow", RouteClass::Standard)
                .await
                .unwrap()
                .allowed
        );
        let second = limits
            .check(&a, "POST /slow", RouteClass::Standard)
            .await
            .unwrap();
        assert!(!second.allowed && second.retry_after > Duration::ZERO);
        let mut admitted = 0;
        for _ in 0..10 {
            admitted += u32::from(
                limits
                    .check(&b, "GET /y", RouteClass::Standard)
                    .await
                    .unwrap()
                    .allowed,
            );
        }
        // Five in all over both clients (one admitted and one refused request of `a`
        // counted towards it before `b` ran).
        assert_eq!(admitted, 3);
    }

    #[tokio::test]
    async fn an_outage_fails_closed_on_auth_and_ai_and_falls_back_elsewhere() {
        let config = RateLimitConfig {
            max_requests: 3,
            ..RateLimitConfig::default()
        };
        let shared = Arc::new(Down::default());
        let clock = ManualClock::default();
        let limits = limits_at(config, shared.clone(), clock.clone());
        let ip = RateClient::Ip([10, 0, 0, 9].into());
        for class in [RouteClass::Auth, RouteClass::Ai] {
            let err = limits.check(&ip, "POST /login", class).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unavailable);
            assert!(err.retry_after().is_some());
        }
        let mut admitted = 0;
        for _ in 0..10 {
            admitted += u32::from(
                limits
                    .check(&ip, "GET /me", RouteClass::Standard)
                    .await
                    .unwrap()
                    .allowed,
            );
        }
        assert_eq!(admitted, 3, "never unlimited");
        // Asked once, then taken as down for the second the outage asked for.
        assert_eq!(shared.0.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(1));
        let err = limits
            .check(&ip, "POST /login", RouteClass::Auth)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert_eq!(
            shared.0.load(Ordering::SeqCst),
            2,
            "asked again after a second"
        );
    }
}
