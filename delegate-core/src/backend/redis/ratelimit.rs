//! The Redis `RateLimiter`: an exact sliding-window log in a sorted set per identifier,
//! checked and updated atomically by one Lua script (one round trip).

use super::{Connection, unavailable};
use crate::clock::Clock;
use crate::error::Result;
use crate::ratelimit::{RateDecision, RateLimiter};
use async_trait::async_trait;
use redis::Script;
use std::sync::Arc;
use std::time::Duration;

/// The sliding-window check. `KEYS[1]` is the window's sorted set (member per admitted
/// request, scored by its time in ms); `ARGV` = now (ms), window (ms), limit, a unique member.
///
/// It drops the entries that left the window (`score <= now - window`), counts the rest, adds
/// this request if the count is under the limit, and keeps the key alive exactly until its
/// newest entry leaves the window. Numbers go back to Redis through `%d`, never Lua's float
/// formatting. It returns `{allowed (0/1), count after, oldest score,
/// newest score}`, with -1 scores for an empty window.
const SLIDING_WINDOW: &str = r"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - window))
local count = redis.call('ZCARD', key)
local allowed = 0
if count < limit then
  redis.call('ZADD', key, ARGV[1], ARGV[4])
  count = count + 1
  allowed = 1
end
local oldest, newest = -1, -1
if count > 0 then
  oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
  newest = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
  redis.call('PEXPIRE', key, string.format('%d', math.max(newest + window - now, 1)))
end
return {allowed, count, oldest, newest}
";

/// The longest window passed to Redis (about 100 years); longer ones are clamped.
const MAX_WINDOW_MS: u128 = 100 * 365 * 24 * 3600 * 1000;

/// Sliding-window limits held in Redis, so every instance shares them. Times come from the
/// injected clock (instances' clocks should agree, as NTP keeps them); Redis's own clock only
/// expires idle keys.
#[derive(Clone)]
pub struct RedisRateLimiter {
    conn: Connection,
    prefix: Arc<str>,
    clock: Arc<dyn Clock>,
    script: Arc<Script>,
}

impl RedisRateLimiter {
    pub(crate) fn new(conn: Connection, prefix: Arc<str>, clock: Arc<dyn Clock>) -> Self {
        Self {
            conn,
            prefix,
            clock,
            script: Arc::new(Script::new(SLIDING_WINDOW)),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision> {
        let now = self.clock.now().timestamp_millis();
        // Rounded up, so a window never shrinks below what was asked for.
        let window_ms = window.as_nanos().div_ceil(1_000_000).min(MAX_WINDOW_MS) as i64;
        let member = format!("{now}-{}", uuid::Uuid::new_v4().simple());
        // EVALSHA, falling back to EVAL (loading the script) when Redis does not know it yet.
        let (allowed, count, oldest, newest): (i64, i64, i64, i64) = self
            .script
            .key(format!("{}rate_limit:{key}", self.prefix))
            .arg(now)
            .arg(window_ms)
            .arg(limit)
            .arg(member)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let until = |score: i64| {
            let left = score.saturating_add(window_ms).saturating_sub(now);
            Duration::from_millis(u64::try_from(left).unwrap_or_default())
        };
        let allowed = allowed == 1;
        Ok(RateDecision {
            allowed,
            limit,
            remaining: limit.saturating_sub(u32::try_from(count).unwrap_or(u32::MAX)),
            retry_after: match (allowed, oldest) {
                (true, _) => Duration::ZERO,
                (false, -1) => window,
                (false, oldest) => until(oldest),
            },
            reset_after: if newest == -1 {
                Duration::ZERO
            } else {
                until(newest)
            },
        })
    }

    async fn reset(&self, key: &str) -> Result<()> {
        redis::cmd("DEL")
            .arg(format!("{}rate_limit:{key}", self.prefix))
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }
}
