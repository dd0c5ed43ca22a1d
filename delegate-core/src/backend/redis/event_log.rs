//! The Redis `EventLog`: per log, a counter and a sorted set of entries scored by their
//! number, appended, trimmed and expired by one Lua script, both keys in one Cluster slot.

use super::{Connection, unavailable};
use crate::error::{Error, Result};
use crate::realtime::{EventLog, Replay};
use async_trait::async_trait;
use redis::Script;
use std::sync::Arc;
use std::time::Duration;

/// `KEYS` = the counter and the set; `ARGV` = the payload, how many entries to keep, the TTL
/// in ms. Numbers the entry, stores it as `<number>:<payload>` scored by the number (members
/// stay unique), drops the oldest past `keep`, renews both keys' TTL; returns the number.
const APPEND: &str = r"
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, string.format('%d', seq) .. ':' .. ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return seq
";

/// `KEYS` as for [`APPEND`]; `ARGV[1]` = the number to read after. Returns the counter (0
/// when gone) and the entries numbered after it, oldest first.
const READ: &str = r"
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
local entries = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')
return {head, entries}
";

/// Event logs in Redis, shared by every instance.
#[derive(Clone)]
pub struct RedisEventLog {
    conn: Connection,
    prefix: Arc<str>,
    append: Arc<Script>,
    read: Arc<Script>,
}

impl RedisEventLog {
    pub(crate) fn new(conn: Connection, prefix: Arc<str>) -> Self {
        Self {
            conn,
            prefix,
            append: Arc::new(Script::new(APPEND)),
            read: Arc::new(Script::new(READ)),
        }
    }

    /// The counter's and the set's keys (the log name carries the Cluster hash tag).
    fn keys(&self, log: &str) -> [String; 2] {
        [
            format!("{}{log}:seq", self.prefix),
            format!("{}{log}:log", self.prefix),
        ]
    }
}

#[async_trait]
impl EventLog for RedisEventLog {
    async fn append(&self, log: &str, payload: Vec<u8>, keep: usize, ttl: Duration) -> Result<u64> {
        let [seq, set] = self.keys(log);
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.append
            .key(seq)
            .key(set)
            .arg(payload)
            .arg(keep.max(1))
            .arg(ttl_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn read_after(&self, log: &str, after: u64) -> Result<Replay> {
        let [seq, set] = self.keys(log);
        let (head, raw): (u64, Vec<Vec<u8>>) = self
            .read
            .key(seq)
            .key(set)
            .arg(after)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let entries = raw
            .into_iter()
            .map(|member| {
                let colon = member
                    .iter()
                    .position(|b| *b == b':')
                    .ok_or_else(|| Error::internal("a malformed realtime log entry"))?;
                let number = std::str::from_utf8(&member[..colon])
                    .ok()
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(|| Error::internal("a malformed realtime log entry"))?;
                Ok((number, member[colon + 1..].to_vec()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::realtime::log::replay_of(entries, head, after))
    }
}
