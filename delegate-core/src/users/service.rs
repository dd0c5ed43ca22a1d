//! The users service: read accounts and change what only operators may change.

use super::{ProfileChange, Role, Tier, User, UserQuery, UserStore};
use crate::bus::EventBus;
use crate::cache::{Cache, DecodedMemo, cached_json_memo, forget, keys};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::realtime::{RealtimeService, kinds, payload};
use std::sync::Arc;
use std::time::Duration;

/// Account reads (profiles cached under `user:{id}`) and operator-only changes.
#[derive(Clone)]
pub struct UsersService {
    store: Arc<dyn UserStore>,
    cache: Arc<dyn Cache>,
    /// Profiles decoded from the cache's bytes, so that a hit is not parsed again.
    decoded: Arc<DecodedMemo<User>>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    /// Where account changes are announced, when other processes keep in-process copies
    /// (without Redis; a two-level cache carries its own invalidations).
    changes: Option<Arc<dyn EventBus>>,
    /// Where the user's connections learn of their profile's changes.
    realtime: RealtimeService,
}

/// How many decoded profiles are kept beside the cached bytes.
const PROFILES_DECODED: usize = 100_000;

/// The bus topic on which a changed account's id is published, so that every process
/// sharing the store drops its cached copy (the CLI included).
pub(crate) const USERS_TOPIC: &str = "users";

/// The cache key named by a payload of [`USERS_TOPIC`].
pub(crate) fn published_keys(payload: &[u8]) -> Option<Vec<String>> {
    let id = UserId::parse(std::str::from_utf8(payload).ok()?).ok()?;
    Some(vec![keys::user(id)])
}

impl UsersService {
    pub(crate) fn new(
        store: Arc<dyn UserStore>,
        cache: Arc<dyn Cache>,
        ttl: Duration,
        clock: Arc<dyn Clock>,
        changes: Option<Arc<dyn EventBus>>,
        realtime: RealtimeService,
    ) -> Self {
        Self {
            store,
            cache,
            decoded: Arc::new(DecodedMemo::new(PROFILES_DECODED)),
            ttl,
            clock,
            changes,
            realtime,
        }
    }

    /// The account with this id, or [`Error::NotFound`]. Served from the cache; a cache
    /// outage falls back to the store.
    pub async fn get(&self, id: UserId) -> Result<User> {
        Ok(User::clone(&*self.shared(id).await?))
    }

    /// Like [`Self::get`], shared: a profile whose cached bytes have not changed is not
    /// decoded again.
    pub async fn shared(&self, id: UserId) -> Result<Arc<User>> {
        let store = self.store.clone();
        let key = keys::user(id);
        cached_json_memo(
            self.cache.as_ref(),
            &self.decoded,
            &key,
            self.ttl,
            move || {
                let store = store.clone();
                Box::pin(async move { store.get(id).await?.ok_or(Error::NotFound("user")) })
            },
        )
        .await
    }

    /// Drops the cached profile after a change (on every instance, for a two-level cache).
    async fn forget(&self, id: UserId) {
        forget(self.cache.as_ref(), &[keys::user(id)]).await;
        let Some(changes) = &self.changes else { return };
        if let Err(e) = changes
            .publish(USERS_TOPIC, id.to_string().into_bytes())
            .await
        {
            tracing::warn!(error = %e.report(), "could not publish an account change");
        }
    }

    /// The account with this email (normalised first), or [`Error::NotFound`].
    pub async fn by_email(&self, email: &str) -> Result<User> {
        let email = crate::auth::policy::normalize_email(email)?;
        self.store
            .credentials_by_email(&email)
            .await?
            .map(|c| c.user)
            .ok_or(Error::NotFound("user"))
    }

    /// Up to `limit` (1–1000) accounts ordered by id, after `after`.
    pub async fn list(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>> {
        self.search(UserQuery {
            after,
            ..UserQuery::all(limit)
        })
        .await
    }

    /// Up to `query.limit` (1–1000) accounts matching `query`, ordered by id.
    pub async fn search(&self, query: UserQuery) -> Result<Vec<User>> {
        if !(1..=1000).contains(&query.limit) {
            return Err(Error::invalid("limit", "must be between 1 and 1000"));
        }
        if let Some(prefix) = &query.prefix {
            crate::text::check("q", prefix, 254)?;
        }
        self.store.search(&query).await
    }

    /// Sets a user's tier.
    pub async fn set_tier(&self, id: UserId, tier: Tier) -> Result<User> {
        if !self.store.set_tier(id, tier, self.clock.now()).await? {
            return Err(Error::NotFound("user"));
        }
        self.changed(id).await
    }

    /// Sets a user's role; [`crate::users::last_admin`] for the last enabled admin.
    pub async fn set_role(&self, id: UserId, role: Role) -> Result<User> {
        if !self.store.set_role(id, role, self.clock.now()).await? {
            return Err(Error::NotFound("user"));
        }
        self.changed(id).await
    }

    /// Disables or enables an account (the flag only: revoking its sessions is the admin
    /// service's part); [`crate::users::last_admin`] for the last enabled admin.
    pub(crate) async fn set_disabled(&self, id: UserId, disabled: bool) -> Result<User> {
        if !self
            .store
            .set_disabled(id, disabled, self.clock.now())
            .await?
        {
            return Err(Error::NotFound("user"));
        }
        self.forget(id).await;
        self.get(id).await
    }

    /// Deletes an account and everything it owns (see [`UserStore::delete`]).
    pub(crate) async fn delete(&self, id: UserId) -> Result<()> {
        if !self.store.delete(id).await? {
            return Err(Error::NotFound("user"));
        }
        self.forget(id).await;
        Ok(())
    }
}

impl UsersService {
    /// Changes the user's own name and/or avatar URL (`Some(None)` removes the avatar).
    pub async fn update_profile(
        &self,
        id: UserId,
        name: Option<String>,
        avatar_url: Option<Option<String>>,
    ) -> Result<User> {
        let name = name
            .map(|n| {
                let n = n.trim().to_owned();
                if n.is_empty() {
                    return Err(Error::invalid("name", "must not be empty"));
                }
                crate::text::check("name", &n, MAX_NAME_CHARS).map(|()| n)
            })
            .transpose()?;
        if let Some(Some(url)) = &avatar_url {
            let web = url.starts_with("https://") || url.starts_with("http://");
            if !web
                || url.chars().count() > MAX_URL_CHARS
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(Error::invalid(
                    "avatarUrl",
                    format!(
                        "must be an http(s) URL of at most {MAX_URL_CHARS} characters, \
                         without spaces or control characters"
                    ),
                ));
            }
        }
        let change = ProfileChange {
            name,
            avatar_url,
            preferences: None,
        };
        self.apply(id, &change).await
    }

    /// Merges `patch` (a JSON object) into the user's preferences: its keys replace the
    /// stored ones, a `null` value removes a key. The result may be at most
    /// [`MAX_PREFERENCES_BYTES`] of JSON.
    pub async fn merge_preferences(&self, id: UserId, patch: serde_json::Value) -> Result<User> {
        let serde_json::Value::Object(patch) = patch else {
            return Err(Error::invalid("preferences", "must be a JSON object"));
        };
        patch.iter().try_for_each(|(key, value)| {
            crate::text::refuse_nul("preferences", key)?;
            crate::text::check_json("preferences", value)
        })?;
        let current = self.store.get(id).await?.ok_or(Error::NotFound("user"))?;
        let mut merged = match current.preferences {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        for (key, value) in patch {
            if value.is_null() {
                merged.remove(&key);
            } else {
                merged.insert(key, value);
            }
        }
        let merged = serde_json::Value::Object(merged);
        if merged.to_string().len() > MAX_PREFERENCES_BYTES {
            return Err(Error::invalid(
                "preferences",
                format!("must be at most {MAX_PREFERENCES_BYTES} bytes of JSON once merged"),
            ));
        }
        let change = ProfileChange {
            preferences: Some(merged),
            ..ProfileChange::default()
        };
        self.apply(id, &change).await
    }

    async fn apply(&self, id: UserId, change: &ProfileChange) -> Result<User> {
        if !self
            .store
            .update_profile(id, change, self.clock.now())
            .await?
        {
            return Err(Error::NotFound("user"));
        }
        self.changed(id).await
    }

    /// After a change to `id`'s account: forgets the cached copy, reads the account anew
    /// and tells the user's connections.
    async fn changed(&self, id: UserId) -> Result<User> {
        self.forget(id).await;
        let user = self.get(id).await?;
        self.realtime
            .notify(id, kinds::PROFILE_UPDATED, payload::user(&user))
            .await;
        Ok(user)
    }
}

/// Longest display name, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 100;
/// Longest avatar URL, in characters.
const MAX_URL_CHARS: usize = 2048;
/// Largest preferences object, in bytes of JSON.
pub const MAX_PREFERENCES_BYTES: usize = 16 * 1024;

#[cfg(test)]
mod tests {
    use crate::backend::memory::MemoryStore;
    use crate::users::{Tier, UserStore};
    use crate::{Config, Delegate, Registration, Secret, Stores};
    use std::sync::Arc;

    #[tokio::test]
    async fn profiles_are_served_from_the_cache_and_invalidated_on_change() {
        let store = Arc::new(MemoryStore::new());
        let mut config = Config::default();
        config.auth.jwt_secret = Some(Secret::random());
        config.auth.jwt_refresh_secret = Some(Secret::random());
        config.auth.password.memory_kib = 1024;
        config.auth.password.iterations = 1;
        let delegate = Delegate::builder(config)
            .with_stores(Stores::from_backend(store.clone()))
            .build()
            .await
            .unwrap();
        let user = delegate
            .auth()
            .create_account(Registration::new("cache@example.com", "a long passphrase"))
            .await
            .unwrap();
        assert_eq!(
            delegate.users().get(user.id).await.unwrap().tier,
            Tier::Free
        );
        // A change behind the service's back is not seen: the profile comes from the cache.
        store
            .set_tier(user.id, Tier::Pro, user.created_at)
            .await
            .unwrap();
        assert_eq!(
            delegate.users().get(user.id).await.unwrap().tier,
            Tier::Free
        );
        // A change through the service invalidates it.
        let updated = delegate
            .users()
            .set_tier(user.id, Tier::Enterprise)
            .await
            .unwrap();
        assert_eq!(updated.tier, Tier::Enterprise);
        assert_eq!(
            delegate.users().get(user.id).await.unwrap().tier,
            Tier::Enterprise
        );
    }
}
