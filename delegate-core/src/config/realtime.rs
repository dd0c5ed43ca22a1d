//! Realtime settings: the per-user event log kept for reconnecting clients, and the limits
//! of each connection.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Realtime connections (`DELEGATE_REALTIME__*`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RealtimeConfig {
    /// Events kept per user for clients that reconnect (`DELEGATE_REALTIME__LOG_KEEP`).
    pub log_keep: usize,
    /// How long a user's event log outlives its last event, in seconds
    /// (`DELEGATE_REALTIME__LOG_TTL_SECS`).
    pub log_ttl_secs: u64,
    /// Events waiting for one connection before it counts as too slow and is closed with
    /// 4408 (`DELEGATE_REALTIME__QUEUE`).
    pub queue: usize,
    /// Connections one user may have open on one instance; more are closed with 4429
    /// (`DELEGATE_REALTIME__MAX_CONNECTIONS_PER_USER`).
    pub max_connections_per_user: usize,
    /// Seconds between the server's pings; a peer silent for two of them is closed with 4408
    /// (`DELEGATE_REALTIME__PING_INTERVAL_SECS`).
    pub ping_interval_secs: u64,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            log_keep: 1000,
            log_ttl_secs: 24 * 3600,
            queue: 256,
            max_connections_per_user: 16,
            ping_interval_secs: 25,
        }
    }
}

impl RealtimeConfig {
    /// The interval between pings (at least a second).
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs.max(1))
    }
}
