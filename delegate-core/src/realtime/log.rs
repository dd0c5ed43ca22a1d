//! The `EventLog` backend trait: numbered, bounded, expiring logs of payloads — a user's
//! event stream — and its in-process implementation.

use crate::clock::Clock;
use crate::error::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a log holds after a given number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The entries after it, oldest first.
    pub entries: Vec<(u64, Vec<u8>)>,
    /// Whether those are all of them: false when the log was trimmed or expired past the
    /// number asked for (the reader must resynchronise).
    pub complete: bool,
    /// The newest number given out (0 for a log that never had an entry or expired).
    pub head: u64,
}

/// Numbered logs of payloads, shared by every instance: [`EventLog::append`] numbers entries
/// 1, 2, 3, … per log, atomically across instances, and keeps only the newest.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Appends `payload` to `log`, keeping its newest `keep` entries and the log itself for
    /// `ttl` after this append; returns the entry's number.
    async fn append(&self, log: &str, payload: Vec<u8>, keep: usize, ttl: Duration) -> Result<u64>;
    /// The entries of `log` numbered after `after` (at most `keep` of them).
    async fn read_after(&self, log: &str, after: u64) -> Result<Replay>;
}

/// Decides a replay from what a log holds: `entries` (ascending) and its `head`.
pub(crate) fn replay_of(entries: Vec<(u64, Vec<u8>)>, head: u64, after: u64) -> Replay {
    let first = entries.first().map(|(n, _)| *n);
    let wanted: Vec<_> = entries.into_iter().filter(|(n, _)| *n > after).collect();
    // Complete when nothing after `after` is missing: the log starts at or before
    // `after + 1`, or nothing was appended after `after` at all.
    let complete = after >= head || first.is_some_and(|first| first <= after + 1);
    Replay {
        entries: if after > head { Vec::new() } else { wanted },
        // A number from the future (a log that expired and restarted) is not complete.
        complete: complete && after <= head,
        head,
    }
}

struct MemoryLog {
    head: u64,
    entries: VecDeque<(u64, Vec<u8>)>,
    expires_at: DateTime<Utc>,
}

/// The in-process [`EventLog`] (embedded mode and tests).
pub struct MemoryEventLog {
    logs: Mutex<HashMap<String, MemoryLog>>,
    clock: Arc<dyn Clock>,
}

impl MemoryEventLog {
    /// An empty set of logs, expired by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            logs: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn logs(&self) -> std::sync::MutexGuard<'_, HashMap<String, MemoryLog>> {
        self.logs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl EventLog for MemoryEventLog {
    async fn append(&self, log: &str, payload: Vec<u8>, keep: usize, ttl: Duration) -> Result<u64> {
        let now = self.clock.now();
        let expires_at = now + crate::clock::delta(ttl)?;
        let mut logs = self.logs();
        logs.retain(|_, l| l.expires_at > now);
        let entry = logs.entry(log.to_owned()).or_insert_with(|| MemoryLog {
            head: 0,
            entries: VecDeque::new(),
            expires_at,
        });
        entry.head += 1;
        entry.expires_at = expires_at;
        entry.entries.push_back((entry.head, payload));
        while entry.entries.len() > keep.max(1) {
            entry.entries.pop_front();
        }
        Ok(entry.head)
    }

    async fn read_after(&self, log: &str, after: u64) -> Result<Replay> {
        let now = self.clock.now();
        let logs = self.logs();
        let Some(entry) = logs.get(log).filter(|l| l.expires_at > now) else {
            return Ok(replay_of(Vec::new(), 0, after));
        };
        Ok(replay_of(
            entry.entries.iter().cloned().collect(),
            entry.head,
            after,
        ))
    }
}
