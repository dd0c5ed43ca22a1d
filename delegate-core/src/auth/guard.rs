//! The in-process revocation guard: which login sessions are alive and which token ids are
//! denied, answered from memory so that verifying a request does no I/O once warm.

use crate::hashing::FastHash;
use crate::ids::{LoginSessionId, UserId};
use chrono::{DateTime, TimeDelta, Utc};
use moka::ops::compute::Op;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

/// What the guard remembers about one login session.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Liveness {
    /// Alive as of the last look at the store (`checked_at`): owner, end, and the last
    /// `lastSeenAt` written.
    Alive {
        user_id: UserId,
        expires_at: DateTime<Utc>,
        last_seen: DateTime<Utc>,
        checked_at: DateTime<Utc>,
    },
    /// Revoked, expired or unknown.
    Dead,
}

/// Session liveness (bounded, entries refreshed from the store after a TTL) and the jti
/// denylist (complete: every denial in force, loaded at start and fed by revocations).
pub(crate) struct SessionGuard {
    sessions: moka::sync::Cache<LoginSessionId, Liveness, FastHash>,
    ttl: TimeDelta,
    denied: RwLock<HashMap<String, i64>>,
}

impl SessionGuard {
    /// A guard that trusts what it read of a session for `ttl` (by the injected clock),
    /// then re-reads the store.
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            // The cache's own expiry only bounds memory; trust is timed by `checked_at`.
            sessions: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_idle(ttl.max(Duration::from_secs(60)) * 2)
                .build_with_hasher(FastHash::default()),
            ttl: TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX),
            denied: RwLock::new(HashMap::new()),
        }
    }

    /// What is known of the session at `now`: `None` when nothing is, or when an "alive"
    /// was read more than the TTL ago (re-read it). "Dead" stays known.
    pub(crate) fn liveness(&self, id: LoginSessionId, now: DateTime<Utc>) -> Option<Liveness> {
        match self.sessions.get(&id)? {
            Liveness::Alive { checked_at, .. } if now - checked_at >= self.ttl => None,
            known => Some(known),
        }
    }

    /// Records what the store said. A stale "alive" (read before a revocation that has
    /// since been marked) never overwrites "dead".
    pub(crate) fn remember(&self, id: LoginSessionId, liveness: Liveness) {
        self.sessions
            .entry(id)
            .and_compute_with(|current| match (current, &liveness) {
                (Some(entry), Liveness::Alive { .. }) if *entry.value() == Liveness::Dead => {
                    Op::Nop
                }
                _ => Op::Put(liveness),
            });
    }

    /// Marks sessions dead at once (a revocation, here or on another instance).
    pub(crate) fn mark_dead(&self, ids: &[LoginSessionId]) {
        for id in ids {
            self.sessions.insert(*id, Liveness::Dead);
        }
    }

    /// Forgets every session, so each is re-read from the store on next use.
    pub(crate) fn forget_sessions(&self) {
        self.sessions.invalidate_all();
    }

    /// Notes that `lastSeenAt` was written at `at`. This is not a look at the store: how
    /// long the session is trusted does not move.
    pub(crate) fn record_touch(&self, id: LoginSessionId, at: DateTime<Utc>) {
        self.sessions
            .entry(id)
            .and_compute_with(|current| match current.map(|e| e.into_value()) {
                Some(Liveness::Alive {
                    user_id,
                    expires_at,
                    checked_at,
                    ..
                }) => Op::Put(Liveness::Alive {
                    user_id,
                    expires_at,
                    last_seen: at,
                    checked_at,
                }),
                _ => Op::Nop,
            });
    }

    /// Whether `jti` is denied at `now`.
    pub(crate) fn is_denied(&self, jti: &str, now: DateTime<Utc>) -> bool {
        let denied = self.denied.read().expect("denylist lock");
        denied.get(jti).is_some_and(|exp| *exp >= now.timestamp())
    }

    /// Denies `jti` until `expires_at`, dropping denials that have ended.
    pub(crate) fn deny(&self, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) {
        let mut denied = self.denied.write().expect("denylist lock");
        let now = now.timestamp();
        denied.retain(|_, exp| *exp >= now);
        denied.insert(jti.to_owned(), expires_at.timestamp());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_end_with_the_token_and_are_dropped() {
        let guard = SessionGuard::new(Duration::from_secs(60));
        let now = Utc::now();
        guard.deny("a", now + TimeDelta::seconds(10), now);
        assert!(guard.is_denied("a", now));
        assert!(!guard.is_denied("b", now));
        let later = now + TimeDelta::seconds(11);
        assert!(!guard.is_denied("a", later));
        guard.deny("b", later + TimeDelta::seconds(10), later);
        assert_eq!(guard.denied.read().unwrap().len(), 1);
    }

    #[test]
    fn marking_dead_overrides_alive_and_touch_keeps_dead() {
        let guard = SessionGuard::new(Duration::from_secs(60));
        let (id, now) = (LoginSessionId::new(), Utc::now());
        let alive = Liveness::Alive {
            user_id: UserId::new(),
            expires_at: now,
            last_seen: now,
            checked_at: now,
        };
        guard.remember(id, alive.clone());
        guard.mark_dead(&[id]);
        guard.record_touch(id, now);
        assert_eq!(guard.liveness(id, now), Some(Liveness::Dead));
        // A stale read that raced the revocation cannot revive it.
        guard.remember(id, alive);
        assert_eq!(guard.liveness(id, now), Some(Liveness::Dead));
    }

    #[test]
    fn trust_in_alive_ends_with_the_ttl_and_touches_do_not_extend_it() {
        let guard = SessionGuard::new(Duration::from_secs(60));
        let (id, now) = (LoginSessionId::new(), Utc::now());
        guard.remember(
            id,
            Liveness::Alive {
                user_id: UserId::new(),
                expires_at: now + TimeDelta::days(1),
                last_seen: now,
                checked_at: now,
            },
        );
        let later = now + TimeDelta::seconds(50);
        guard.record_touch(id, later);
        assert!(matches!(
            guard.liveness(id, later),
            Some(Liveness::Alive { last_seen, .. }) if last_seen == later
        ));
        assert_eq!(guard.liveness(id, now + TimeDelta::seconds(60)), None);
    }
}
