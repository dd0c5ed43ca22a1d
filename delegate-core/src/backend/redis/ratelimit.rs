//! The Redis `RateLimiter`: an exact sliding-window log in a sorted set per identifier,
//! shared by every instance, from which each instance leases batches of permits
//! ([`crate::ratelimit::lease`]) with one Lua script call (one round trip per batch).

use super::{Connection, unavailable};
use crate::clock::Clock;
use crate::error::Result;
use crate::ratelimit::lease::{Grant, LeaseRequest, LeasedLimiter, Settlement, SharedWindow};
use async_trait::async_trait;
use redis::Script;
use std::sync::Arc;

/// Settles the lease `ARGV[1]` of `ARGV[2]` permits on `KEYS[1]`: entries `{lease}:1…`
/// named by the times in `ARGV[3…]` move to those times (when still there), the rest of
/// them are removed. Entry 0 was entered at its real time when it was leased.
const SETTLE: &str = r"
local function settle(key, lease, granted, first, last)
  local spent = last - first + 1
  if spent > 0 then
    local moves = {}
    for i = 1, spent do
      moves[#moves + 1] = ARGV[first + i - 1]
      moves[#moves + 1] = lease .. ':' .. i
    end
    redis.call('ZADD', key, 'XX', unpack(moves))
  end
  if granted - 1 > spent then
    local gone = {}
    for i = spent + 1, granted - 1 do
      gone[#gone + 1] = lease .. ':' .. i
    end
    redis.call('ZREM', key, unpack(gone))
  end
end
";

/// The lease. `ARGV` = now, window, limit, want, lease id, hold-until (all times in ms),
/// then optionally the previous lease to settle: its id, its permits, its spent times.
///
/// It settles the previous lease, drops the entries that left the window
/// (`score <= now - window`), grants `min(want, limit - count)` permits — entry 0 at now,
/// the others at hold-until, the latest they may be spent — and keeps the key alive exactly
/// until its newest entry leaves the window. Numbers go back to Redis through `%d`, never
/// Lua's float formatting. It returns `{granted, count after, oldest score, newest score
/// before the held entries}`, with -1 scores for an empty window.
const LEASE: &str = r"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local lease = ARGV[5]
local hold_until = tonumber(ARGV[6])
if #ARGV >= 8 then
  settle(key, ARGV[7], tonumber(ARGV[8]), 9, #ARGV)
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - window))
local count = redis.call('ZCARD', key)
local granted = math.max(math.min(want, limit - count), 0)
if granted > 0 then
  redis.call('ZADD', key, ARGV[1], lease .. ':0')
  count = count + 1
end
local oldest, newest = -1, -1
if count > 0 then
  oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
  newest = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
end
if granted > 1 then
  local held = {}
  for i = 1, granted - 1 do
    held[#held + 1] = ARGV[6]
    held[#held + 1] = lease .. ':' .. i
  end
  redis.call('ZADD', key, unpack(held))
  count = count + granted - 1
end
if count > 0 then
  local last = newest
  if granted > 1 then last = math.max(newest, hold_until) end
  redis.call('PEXPIRE', key, string.format('%d', math.max(last + window - now, 1)))
end
return {granted, count, oldest, newest}
";

/// Settles a lease on its own (`ARGV` = lease id, permits, spent times), when it ended with
/// no later lease of its key to carry the settlement.
const SETTLE_ONLY: &str = r"
settle(KEYS[1], ARGV[1], tonumber(ARGV[2]), 3, #ARGV)
return 1
";

/// Sliding-window limits held in Redis, so every instance shares them, leased in batches.
/// Times come from the injected clock (instances' clocks should agree, as NTP keeps them);
/// Redis's own clock only expires idle keys.
pub type RedisRateLimiter = LeasedLimiter<RedisWindow>;

/// The shared windows: one sorted set `prefix` + `rate_limit:{key}` per key, an entry per
/// permit.
#[derive(Clone)]
pub struct RedisWindow {
    conn: Connection,
    prefix: Arc<str>,
    lease: Arc<Script>,
    settle: Arc<Script>,
}

impl RedisWindow {
    pub(crate) fn limiter(
        conn: Connection,
        prefix: Arc<str>,
        clock: Arc<dyn Clock>,
    ) -> RedisRateLimiter {
        let window = Self {
            conn,
            prefix,
            lease: Arc::new(Script::new(&format!("{SETTLE}{LEASE}"))),
            settle: Arc::new(Script::new(&format!("{SETTLE}{SETTLE_ONLY}"))),
        };
        LeasedLimiter::new(window, clock)
    }

    fn key(&self, key: &str) -> String {
        format!("{}rate_limit:{key}", self.prefix)
    }
}

fn settlement_args(invocation: &mut redis::ScriptInvocation<'_>, settlement: &Settlement) {
    invocation
        .arg(&settlement.lease)
        .arg(settlement.granted)
        .arg(&settlement.spent_at);
}

#[async_trait]
impl SharedWindow for RedisWindow {
    async fn lease(&self, key: &str, request: LeaseRequest<'_>) -> Result<Grant> {
        let mut invocation = self.lease.key(self.key(key));
        invocation
            .arg(request.now)
            .arg(request.window)
            .arg(request.limit)
            .arg(request.want)
            .arg(request.lease)
            .arg(request.hold_until);
        if let Some(settlement) = request.settle {
            settlement_args(&mut invocation, settlement);
        }
        // EVALSHA, falling back to EVAL (loading the script) when Redis does not know it yet.
        let (granted, count, oldest, newest): (u32, u32, i64, i64) = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let score = |s: i64| (s != -1).then_some(s);
        Ok(Grant {
            granted,
            count,
            oldest: score(oldest),
            newest: score(newest),
        })
    }

    async fn settle(&self, key: &str, settlement: &Settlement) -> Result<()> {
        let mut invocation = self.settle.key(self.key(key));
        settlement_args(&mut invocation, settlement);
        invocation
            .invoke_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn clear(&self, key: &str) -> Result<()> {
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }
}
