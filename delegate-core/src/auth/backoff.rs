//! Login backoff: failures are counted per account *and client* in the shared rate limiter
//! (so across instances) and a lock with a growing, bounded delay is kept in the shared
//! cache, so an attacker's failures lock the attacker's client, not the account's owner.
//! Every attempt on an account is also counted across all clients, bounding guesses spread
//! over many IPs.

use super::random;
use crate::cache::{Cache, keys};
use crate::clock::Clock;
use crate::config::LoginBackoffConfig;
use crate::error::{Error, Result};
use crate::ratelimit::RateLimiter;
use crate::ratelimit::ip_bucket;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The limit used to count failures: high enough never to refuse, so `remaining` tells the
/// count.
const COUNTING_LIMIT: u32 = 1_000_000;

/// Counts failed logins per account and locks logins after too many.
pub(crate) struct LoginBackoff {
    config: LoginBackoffConfig,
    limiter: Arc<dyn RateLimiter>,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    ipv6_prefix_len: u8,
}

impl LoginBackoff {
    pub(crate) fn new(
        config: LoginBackoffConfig,
        limiter: Arc<dyn RateLimiter>,
        cache: Arc<dyn Cache>,
        clock: Arc<dyn Clock>,
        ipv6_prefix_len: u8,
    ) -> Self {
        Self {
            config,
            limiter,
            cache,
            clock,
            ipv6_prefix_len,
        }
    }

    /// The client part of a key: the IP's rate-limit bucket, or `-` when it is not known.
    pub(crate) fn client_key(&self, ip: Option<&str>) -> String {
        ip.and_then(|ip| ip.parse::<IpAddr>().ok())
            .map_or_else(|| "-".to_owned(), |ip| ip_bucket(ip, self.ipv6_prefix_len))
    }

    /// Refuses with [`Error::RateLimited`] while `account` is locked for `client`.
    pub(crate) async fn check(&self, account: &str, client: &str) -> Result<()> {
        let Some(stored) = self.cache.get(&lock_key(account, client)).await? else {
            return Ok(());
        };
        let unlock = stored
            .as_slice()
            .try_into()
            .map(i64::from_be_bytes)
            .unwrap_or_default();
        let left = unlock - self.clock.now().timestamp_millis();
        if left > 0 {
            return Err(Error::RateLimited {
                retry_after: Duration::from_millis(left as u64),
            });
        }
        Ok(())
    }

    /// Counts an attempt on `account` from any client. `None` while the account is within
    /// `max_attempts_per_account` per window, else how long until an attempt fits again.
    pub(crate) async fn attempt(&self, account: &str) -> Result<Option<Duration>> {
        let decision = self
            .limiter
            .check(
                &attempts_key(account),
                self.config.max_attempts_per_account,
                Duration::from_secs(self.config.window_secs),
            )
            .await?;
        Ok((!decision.allowed).then_some(decision.retry_after))
    }

    /// Counts a failure; past the free ones, locks the account for `client` for the next
    /// delay, and returns that delay.
    pub(crate) async fn failed(&self, account: &str, client: &str) -> Result<Option<Duration>> {
        let window = Duration::from_secs(self.config.window_secs);
        let decision = self
            .limiter
            .check(&failures_key(account, client), COUNTING_LIMIT, window)
            .await?;
        let failures = COUNTING_LIMIT - decision.remaining;
        let Some(excess) = failures.checked_sub(self.config.free_failures + 1) else {
            return Ok(None);
        };
        let delay = Duration::from_millis(
            self.config
                .base_delay_ms
                .saturating_mul(1u64 << excess.min(32)),
        )
        .min(Duration::from_secs(self.config.max_delay_secs));
        let unlock = self.clock.now().timestamp_millis() + delay.as_millis() as i64;
        self.cache
            .set(
                &lock_key(account, client),
                unlock.to_be_bytes().to_vec(),
                delay,
            )
            .await?;
        Ok(Some(delay))
    }

    /// Clears the client's count and lock after a successful login.
    pub(crate) async fn succeeded(&self, account: &str, client: &str) -> Result<()> {
        self.limiter.reset(&failures_key(account, client)).await?;
        self.cache
            .delete(&lock_key(account, client))
            .await
            .map(|_| ())
    }
}

/// A fixed-length digest of a validated account email, so keys are bounded and carry no
/// address.
fn account_digest(account: &str) -> String {
    random::keyed_hash(b"delegate-login-account", account)
}

fn attempts_key(account: &str) -> String {
    keys::login_attempts(&account_digest(account))
}

fn failures_key(account: &str, client: &str) -> String {
    keys::login_failures(&account_digest(account), client)
}

fn lock_key(account: &str, client: &str) -> String {
    keys::login_lock(&account_digest(account), client)
}
