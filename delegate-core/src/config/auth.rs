//! Token, password, login-session and login-backoff settings.

use super::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Token, password and login-session settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Access-token signing key (`JWT_SECRET`), at least 32 bytes.
    pub jwt_secret: Option<Secret>,
    /// Key that peppers stored refresh-token hashes (`JWT_REFRESH_SECRET`), at least 32 bytes.
    pub jwt_refresh_secret: Option<Secret>,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// Access-token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Absolute lifetime of a login session and its refresh family, in days.
    pub refresh_ttl_days: u64,
    /// How long after a refresh token's rotation a concurrent duplicate is answered with a
    /// conflict instead of being treated as theft, in seconds.
    pub refresh_grace_secs: u64,
    /// Minimum interval between two `lastSeenAt` writes for one login session, in seconds.
    pub session_touch_interval_secs: u64,
    /// Clock-skew leeway for `exp`/`nbf`, in seconds (capped at 5).
    pub leeway_secs: u64,
    /// How long the in-process guard trusts what it knows of a login session before
    /// re-reading the store, in seconds. Revocations made through this instance (or its bus)
    /// apply at once; ones written to the store by another process apply within this time.
    pub session_cache_ttl_secs: u64,
    /// Most live login sessions one user may have; a new sign-in past it revokes the oldest
    /// (`DELEGATE_AUTH__MAX_SESSIONS_PER_USER`, default 20).
    pub max_sessions_per_user: u32,
    /// Every this many seconds each instance deletes ended login sessions, expired refresh
    /// families and ended denials (`DELEGATE_AUTH__CLEANUP_INTERVAL_SECS`, default 3600; 0
    /// turns the timer off: `POST /api/v1/admin/sessions/cleanup` and
    /// `delegate sessions cleanup` still work).
    pub cleanup_interval_secs: u64,
    /// Audit events older than this many days are deleted by the cleanup
    /// (`DELEGATE_AUTH__AUDIT_RETENTION_DAYS`, default 365; 0 keeps them forever).
    pub audit_retention_days: u32,
    /// Password hashing parameters and pool size.
    pub password: PasswordConfig,
    /// Per-account delays after failed logins.
    pub login_backoff: LoginBackoffConfig,
}

/// Login backoff: after `free_failures` failed logins on one account from one client (IP,
/// IPv6 per network) within `window_secs` (counted across instances), each further failure
/// locks that account's logins *from that client* for `base_delay_ms`, doubling each time up
/// to `max_delay_secs`; the owner signing in from elsewhere is not locked out, and a
/// successful login clears the client's count. Separately, at most
/// `max_attempts_per_account` attempts per window reach one account from all clients
/// together, except from a client the account has a live login session from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct LoginBackoffConfig {
    /// Failures allowed before any delay.
    pub free_failures: u32,
    /// The first delay, in milliseconds.
    pub base_delay_ms: u64,
    /// The longest delay, in seconds.
    pub max_delay_secs: u64,
    /// How long a failure counts, in seconds.
    pub window_secs: u64,
    /// Login attempts on one account per window, all clients together, before only clients
    /// it is signed in from get through.
    pub max_attempts_per_account: u32,
}

impl Default for LoginBackoffConfig {
    fn default() -> Self {
        Self {
            free_failures: 5,
            base_delay_ms: 1000,
            max_delay_secs: 30,
            window_secs: 15 * 60,
            max_attempts_per_account: 20,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_refresh_secret: None,
            issuer: "delegate".to_owned(),
            audience: "delegate-api".to_owned(),
            access_ttl_secs: 15 * 60,
            refresh_ttl_days: 30,
            refresh_grace_secs: 10,
            session_touch_interval_secs: 60,
            leeway_secs: 5,
            session_cache_ttl_secs: 60,
            max_sessions_per_user: 20,
            cleanup_interval_secs: 3600,
            audit_retention_days: 365,
            password: PasswordConfig::default(),
            login_backoff: LoginBackoffConfig::default(),
        }
    }
}

impl AuthConfig {
    /// Access-token lifetime.
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_ttl_secs)
    }

    /// Login-session (refresh family) lifetime.
    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_ttl_days * 24 * 3600)
    }
}

/// Argon2id parameters (OWASP minimum by default) and the size of the hashing pool.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct PasswordConfig {
    /// Memory cost in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Time cost, iterations (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
    /// Most hashes computed at once; further logins queue (default: half the cores, at
    /// least one, so that a login flood leaves the other half to every other request).
    pub max_concurrent: usize,
    /// Longest a login or registration waits for a hashing slot, in milliseconds; past it
    /// the request answers 503 with `Retry-After` (default 2000).
    pub max_wait_ms: u64,
    /// How many steps below the process's priority the hashing threads run (Linux nice
    /// value, default 19, the lowest priority; 0 = the same). At 19 they run under
    /// `SCHED_IDLE`, which any other thread preempts at once. Requests that need no hash
    /// are served first when the CPU is short, and logins take what is left (they wait, then
    /// answer 503, rather than slow every other request); an idle CPU hashes at full speed.
    pub nice: u8,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: std::thread::available_parallelism()
                .map_or(1, |n| (n.get() / 2).max(1)),
            max_wait_ms: 2_000,
            nice: 19,
        }
    }
}
