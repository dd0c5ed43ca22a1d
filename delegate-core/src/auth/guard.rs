//! The in-process revocation guard: which login sessions are alive and which token ids are
//! denied, answered from memory so that verifying a request does no I/O once warm.

use crate::ids::{LoginSessionId, UserId};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

/// What the guard remembers about one login session.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Liveness {
    /// Alive as of the last look: owner, end, and the last `lastSeenAt` written.
    Alive {
        user_id: UserId,
        expires_at: DateTime<Utc>,
        last_seen: DateTime<Utc>,
    },
    /// Revoked, expired or unknown.
    Dead,
}

/// Session liveness (bounded, entries refreshed from the store after a TTL) and the jti
/// denylist (complete: every denial in force, loaded at start and fed by revocations).
pub(crate) struct SessionGuard {
    sessions: moka::sync::Cache<LoginSessionId, Liveness>,
    denied: RwLock<HashMap<String, i64>>,
}

impl SessionGuard {
    /// A guard that re-reads a session from the store at most every `ttl`.
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            sessions: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(ttl)
                .build(),
            denied: RwLock::new(HashMap::new()),
        }
    }

    pub(crate) fn liveness(&self, id: LoginSessionId) -> Option<Liveness> {
        self.sessions.get(&id)
    }

    pub(crate) fn remember(&self, id: LoginSessionId, liveness: Liveness) {
        self.sessions.insert(id, liveness);
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

    /// Notes that `lastSeenAt` was written at `at`.
    pub(crate) fn record_touch(&self, id: LoginSessionId, at: DateTime<Utc>) {
        if let Some(Liveness::Alive {
            user_id,
            expires_at,
            ..
        }) = self.sessions.get(&id)
        {
            self.remember(
                id,
                Liveness::Alive {
                    user_id,
                    expires_at,
                    last_seen: at,
                },
            );
        }
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
    use chrono::TimeDelta;

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
        guard.remember(
            id,
            Liveness::Alive {
                user_id: UserId::new(),
                expires_at: now,
                last_seen: now,
            },
        );
        guard.mark_dead(&[id]);
        guard.record_touch(id, now);
        assert_eq!(guard.liveness(id), Some(Liveness::Dead));
    }
}
