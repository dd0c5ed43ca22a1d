//! Login sessions read through the cache: the store wrapped so that every write drops the
//! cached copy (on every instance), and per-request reads come from the cache.

use super::login_session::{LoginSession, LoginSessionStore};
use crate::bus::EventBus;
use crate::cache::{Cache, DecodedMemo, cached_json_memo, forget, keys};
use crate::error::{Error, ErrorKind, Result};
use crate::ids::{LoginSessionId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// The bus topic on which the ids of changed login sessions are published (a JSON array),
/// so that every process sharing the store drops its in-process copies (the CLI included).
pub(crate) const LOGIN_SESSIONS_TOPIC: &str = "login_sessions";

/// How many decoded login sessions are kept beside the cached bytes.
const SESSIONS_DECODED: usize = 100_000;

/// A [`LoginSessionStore`] whose writes drop the cached copy, with [`Self::cached`] for reads
/// that may come from the cache. Its `get` still reads the store: liveness checks (refresh,
/// the guard's re-reads) want the store's word, not a copy.
pub(crate) struct CachedLoginSessions {
    store: Arc<dyn LoginSessionStore>,
    cache: Arc<dyn Cache>,
    /// Sessions decoded from the cache's bytes, so that a hit is not parsed again.
    decoded: DecodedMemo<LoginSession>,
    ttl: Duration,
    /// Where changes are announced when other processes keep in-process copies (without
    /// Redis; a two-level cache carries its own invalidations).
    changes: Option<Arc<dyn EventBus>>,
}

impl CachedLoginSessions {
    /// `store` read through `cache` (entries kept for `ttl`); `changes` as on the type.
    pub(crate) fn new(
        store: Arc<dyn LoginSessionStore>,
        cache: Arc<dyn Cache>,
        ttl: Duration,
        changes: Option<Arc<dyn EventBus>>,
    ) -> Self {
        Self {
            store,
            cache,
            decoded: DecodedMemo::new(SESSIONS_DECODED),
            ttl,
            changes,
        }
    }

    /// The session with this id, alive or not, from the cache when it holds it (a cache
    /// outage reads the store). For what is shown of a session, never to decide liveness.
    pub(crate) async fn cached(&self, id: LoginSessionId) -> Result<Option<Arc<LoginSession>>> {
        let store = self.store.clone();
        let key = keys::login_session(id);
        let found = cached_json_memo(self.cache.as_ref(), &self.decoded, &key, self.ttl, {
            move || {
                let store = store.clone();
                Box::pin(
                    async move { store.get(id).await?.ok_or(Error::NotFound("login session")) },
                )
            }
        })
        .await;
        match found {
            // An unknown id is not cached: it is answered by the store each time.
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            other => other.map(Some),
        }
    }

    /// Drops the cached copies of `ids` here and, through the cache or the bus, everywhere.
    async fn forget(&self, ids: &[LoginSessionId]) {
        if ids.is_empty() {
            return;
        }
        let keys: Vec<String> = ids.iter().map(|id| keys::login_session(*id)).collect();
        forget(self.cache.as_ref(), &keys).await;
        let Some(changes) = &self.changes else { return };
        let payload = serde_json::to_vec(ids).expect("ids serialise");
        if let Err(e) = changes.publish(LOGIN_SESSIONS_TOPIC, payload).await {
            tracing::warn!(error = %e.report(), "could not publish a login session change");
        }
    }
}

/// The cache keys named by a payload of [`LOGIN_SESSIONS_TOPIC`].
pub(crate) fn published_keys(payload: &[u8]) -> Option<Vec<String>> {
    let ids: Vec<LoginSessionId> = serde_json::from_slice(payload).ok()?;
    Some(ids.into_iter().map(keys::login_session).collect())
}

#[async_trait]
impl LoginSessionStore for CachedLoginSessions {
    async fn insert(&self, session: &LoginSession) -> Result<()> {
        self.store.insert(session).await
    }

    async fn get(&self, id: LoginSessionId) -> Result<Option<LoginSession>> {
        self.store.get(id).await
    }

    async fn list_alive(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<LoginSession>> {
        self.store.list_alive(user, now).await
    }

    async fn alive_past(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        keep: u32,
    ) -> Result<Vec<LoginSessionId>> {
        self.store.alive_past(user, now, keep).await
    }

    async fn touch(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<()> {
        self.store.touch(id, at).await?;
        self.forget(&[id]).await;
        Ok(())
    }

    async fn revoke(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<bool> {
        let revoked = self.store.revoke(id, at).await?;
        if revoked {
            self.forget(&[id]).await;
        }
        Ok(revoked)
    }

    async fn revoke_all(&self, user: UserId, at: DateTime<Utc>) -> Result<Vec<LoginSessionId>> {
        let revoked = self.store.revoke_all(user, at).await?;
        self.forget(&revoked).await;
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::DeviceInfo;
    use crate::backend::memory::{MemoryBus, MemoryCache, MemoryStore};
    use crate::bus::Delivery;
    use crate::clock::SystemClock;
    use chrono::TimeDelta;
    use futures::StreamExt;

    #[tokio::test]
    async fn reads_come_from_the_cache_and_every_write_through_it_drops_the_copy_everywhere() {
        let store = Arc::new(MemoryStore::new());
        let bus = Arc::new(MemoryBus::new(16));
        let mut published = bus.subscribe(LOGIN_SESSIONS_TOPIC).await.unwrap();
        let cache = Arc::new(MemoryCache::new(Arc::new(SystemClock), 100));
        let sessions =
            CachedLoginSessions::new(store.clone(), cache, Duration::from_secs(60), Some(bus));
        let now = Utc::now();
        let session = LoginSession::new(
            UserId::new(),
            DeviceInfo::default(),
            now,
            now + TimeDelta::days(1),
        );
        sessions.insert(&session).await.unwrap();
        assert_eq!(
            sessions.cached(session.id).await.unwrap().as_deref(),
            Some(&session)
        );

        // A write behind the cache's back is not seen: the copy is served.
        let later = now + TimeDelta::minutes(1);
        store.touch(session.id, later).await.unwrap();
        assert_eq!(
            sessions.cached(session.id).await.unwrap().as_deref(),
            Some(&session)
        );
        assert_eq!(
            sessions
                .get(session.id)
                .await
                .unwrap()
                .unwrap()
                .last_seen_at,
            later
        );

        // A touch through it drops the copy, here and (on the bus) in other processes.
        let touched = now + TimeDelta::minutes(2);
        sessions.touch(session.id, touched).await.unwrap();
        let read = sessions.cached(session.id).await.unwrap().unwrap();
        assert_eq!(read.last_seen_at, touched);
        let Some(Delivery::Message(payload)) = published.next().await else {
            panic!("the touch was published");
        };
        assert_eq!(
            published_keys(&payload),
            Some(vec![keys::login_session(session.id)])
        );

        // So does a revocation, one or all of the user's.
        assert!(sessions.revoke(session.id, touched).await.unwrap());
        assert!(
            sessions
                .cached(session.id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
        let other = LoginSession::new(
            session.user_id,
            DeviceInfo::default(),
            now,
            now + TimeDelta::days(1),
        );
        sessions.insert(&other).await.unwrap();
        assert!(
            sessions
                .cached(other.id)
                .await
                .unwrap()
                .unwrap()
                .is_alive(now)
        );
        assert_eq!(
            sessions.revoke_all(other.user_id, now).await.unwrap(),
            vec![other.id]
        );
        assert!(
            !sessions
                .cached(other.id)
                .await
                .unwrap()
                .unwrap()
                .is_alive(now)
        );

        // An unknown id is none, and not an error.
        assert!(
            sessions
                .cached(LoginSessionId::new())
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(published_keys(b"not json"), None);
    }
}
