//! Shared helpers for Delegate's criterion benches: a fixed config, throwaway SQLite files,
//! and [`CountingStore`], a store decorator that records every backend call so a bench can
//! prove a path does no store I/O.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use delegate_core::admin::{AuditEvent, AuditQuery, AuditStore};
use delegate_core::auth::{
    LoginSession, LoginSessionStore, RefreshTokenRecord, RefreshTokenStore, Rotation, TokenDenylist,
};
use delegate_core::backend::sqlite::SqliteStore;
use delegate_core::chat::{ChatSession, ConversationStore, Message, MessageStatus, TokenUsage};
use delegate_core::transcript::{
    SearchQuery, Transcript, TranscriptChange, TranscriptFilter, TranscriptStore,
};
use delegate_core::usage::{Hold, HoldLimits, HoldOutcome, UsageEvent, UsageStore, UsageTotals};
use delegate_core::users::{ProfileChange, UserCredentials, UserQuery, UserStore};
use delegate_core::{
    ChatSessionId, Clock, Config, Delegate, Error, LoginSessionId, MessageId, Registration, Result,
    Role, Secret, SignedIn, Stores, Tier, TranscriptId, User, UserId,
};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tempfile::TempDir;

/// The access-token signing key every bench uses (fixed, so runs are comparable).
pub const JWT_SECRET: &str = "delegate-benches-access-signing-key-0123456789";
/// The refresh-token pepper every bench uses.
pub const REFRESH_SECRET: &str = "delegate-benches-refresh-pepper-key-0123456789";
/// The password of every bench account (passes the new-password policy).
pub const PASSWORD: &str = "a quiet bench passphrase, 2026";

/// The default config with fixed signing keys. Benches always inject their stores, so
/// `database_url` is never opened.
pub fn bench_config() -> Config {
    let mut config = Config::default();
    config.auth.jwt_secret = Some(Secret::new(JWT_SECRET));
    config.auth.jwt_refresh_secret = Some(Secret::new(REFRESH_SECRET));
    config.database_url = "memory:".to_owned();
    config
}

/// Builds a [`Delegate`] over `stores` with `clock` and [`bench_config`]. Needs a Tokio
/// runtime.
pub async fn delegate_with(stores: Stores, clock: Arc<dyn Clock>) -> Result<Delegate> {
    Delegate::builder(bench_config())
        .with_clock(clock)
        .with_stores(stores)
        .build()
        .await
}

/// Registers `email` with [`PASSWORD`]: a user, a live login session and its tokens.
pub async fn sign_up(delegate: &Delegate, email: &str) -> Result<SignedIn> {
    delegate
        .auth()
        .register(Registration::new(email, PASSWORD))
        .await
}

/// A Delegate on a fresh SQLite file (kept alive by the returned [`TempSqlite`]) with the
/// request limit raised out of the way, and the access token of `email`, signed up: what the
/// in-process request benches serve.
pub async fn signed_in_embedded(email: &str) -> Result<(Delegate, String, TempSqlite)> {
    let db = TempSqlite::create().await?;
    let mut config = bench_config();
    // The benches measure served requests, not the limiter's refusals.
    config.rate_limit.max_requests = u32::MAX / 64;
    let delegate = Delegate::builder(config)
        .with_stores(Stores::from_backend(Arc::new(db.store())))
        .build()
        .await?;
    let token = sign_up(&delegate, email).await?.tokens.access_token;
    Ok((delegate, token, db))
}

/// A migrated SQLite database file in a fresh temporary directory, removed on drop.
pub struct TempSqlite {
    // Declared before `dir` so the pool closes before the directory is removed.
    store: SqliteStore,
    path: PathBuf,
    dir: TempDir,
}

impl TempSqlite {
    /// Creates the directory, opens `bench.db` in it and applies the migrations.
    pub async fn create() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("delegate-bench-")
            .tempdir()
            .map_err(|e| Error::internal(format!("could not create a temp dir: {e}")))?;
        let path = dir.path().join("bench.db");
        let store = SqliteStore::connect(&format!("sqlite://{}", path.display())).await?;
        Ok(Self { store, path, dir })
    }

    /// A handle on the store (clones share the connection pool).
    pub fn store(&self) -> SqliteStore {
        self.store.clone()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary directory holding the database and its WAL files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// How many times each store method was called, keyed `"Trait::method"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCalls(BTreeMap<&'static str, u64>);

impl StoreCalls {
    /// Calls of every method together.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Calls of one method, e.g. `"LoginSessionStore::get"`.
    pub fn count(&self, method: &str) -> u64 {
        self.0.get(method).copied().unwrap_or(0)
    }

    /// The calls made after the snapshot `earlier` was taken (methods with none are left
    /// out).
    pub fn since(&self, earlier: &StoreCalls) -> StoreCalls {
        StoreCalls(
            self.0
                .iter()
                .map(|(method, n)| (*method, n - earlier.count(method)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        )
    }
}

impl fmt::Display for StoreCalls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no store calls");
        }
        let mut first = true;
        for (method, n) in &self.0 {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{method} ×{n}")?;
        }
        Ok(())
    }
}

/// A store decorator: delegates every relational trait to `S` and counts every call.
pub struct CountingStore<S> {
    inner: S,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl<S> CountingStore<S> {
    /// Wraps `inner`, with every count at zero.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// A snapshot of the counts so far.
    pub fn calls(&self) -> StoreCalls {
        StoreCalls(self.calls.lock().expect("call counts lock").clone())
    }

    fn record(&self, method: &'static str) -> &S {
        *self
            .calls
            .lock()
            .expect("call counts lock")
            .entry(method)
            .or_insert(0) += 1;
        &self.inner
    }
}

#[async_trait]
impl<S: UserStore> UserStore for CountingStore<S> {
    async fn insert(&self, user: &User, password_hash: &str) -> Result<()> {
        self.record("UserStore::insert")
            .insert(user, password_hash)
            .await
    }

    async fn get(&self, id: UserId) -> Result<Option<User>> {
        self.record("UserStore::get").get(id).await
    }

    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>> {
        self.record("UserStore::credentials_by_email")
            .credentials_by_email(email)
            .await
    }

    async fn search(&self, query: &UserQuery) -> Result<Vec<User>> {
        self.record("UserStore::search").search(query).await
    }

    async fn set_disabled(&self, id: UserId, disabled: bool, now: DateTime<Utc>) -> Result<bool> {
        self.record("UserStore::set_disabled")
            .set_disabled(id, disabled, now)
            .await
    }

    async fn delete(&self, id: UserId) -> Result<bool> {
        self.record("UserStore::delete").delete(id).await
    }

    async fn set_tier(&self, id: UserId, tier: Tier, now: DateTime<Utc>) -> Result<bool> {
        self.record("UserStore::set_tier")
            .set_tier(id, tier, now)
            .await
    }

    async fn set_password_hash(&self, id: UserId, hash: &str, now: DateTime<Utc>) -> Result<bool> {
        self.record("UserStore::set_password_hash")
            .set_password_hash(id, hash, now)
            .await
    }

    async fn set_role(&self, id: UserId, role: Role, now: DateTime<Utc>) -> Result<bool> {
        self.record("UserStore::set_role")
            .set_role(id, role, now)
            .await
    }

    async fn update_profile(
        &self,
        id: UserId,
        change: &ProfileChange,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.record("UserStore::update_profile")
            .update_profile(id, change, now)
            .await
    }
}

#[async_trait]
impl<S: TranscriptStore> TranscriptStore for CountingStore<S> {
    async fn insert_transcript(&self, t: &Transcript) -> Result<()> {
        self.record("TranscriptStore::insert_transcript")
            .insert_transcript(t)
            .await
    }

    async fn get_transcript(&self, user: UserId, id: TranscriptId) -> Result<Option<Transcript>> {
        self.record("TranscriptStore::get_transcript")
            .get_transcript(user, id)
            .await
    }

    async fn list_transcripts(
        &self,
        user: UserId,
        filter: &TranscriptFilter,
        limit: u32,
    ) -> Result<Vec<Transcript>> {
        self.record("TranscriptStore::list_transcripts")
            .list_transcripts(user, filter, limit)
            .await
    }

    async fn update_transcript(
        &self,
        user: UserId,
        id: TranscriptId,
        change: &TranscriptChange,
        now: DateTime<Utc>,
    ) -> Result<Option<Transcript>> {
        self.record("TranscriptStore::update_transcript")
            .update_transcript(user, id, change, now)
            .await
    }

    async fn delete_transcript(&self, user: UserId, id: TranscriptId) -> Result<bool> {
        self.record("TranscriptStore::delete_transcript")
            .delete_transcript(user, id)
            .await
    }

    async fn search_transcripts(
        &self,
        user: UserId,
        query: &SearchQuery,
        tag: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<(Transcript, f64)>> {
        self.record("TranscriptStore::search_transcripts")
            .search_transcripts(user, query, tag, offset, limit)
            .await
    }
}

#[async_trait]
impl<S: AuditStore> AuditStore for CountingStore<S> {
    async fn append(&self, events: &[AuditEvent]) -> Result<()> {
        self.record("AuditStore::append").append(events).await
    }

    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        self.record("AuditStore::query").query(query).await
    }

    async fn purge_before(&self, before: DateTime<Utc>) -> Result<u64> {
        self.record("AuditStore::purge_before")
            .purge_before(before)
            .await
    }
}

#[async_trait]
impl<S: LoginSessionStore> LoginSessionStore for CountingStore<S> {
    async fn insert(&self, session: &LoginSession) -> Result<()> {
        self.record("LoginSessionStore::insert")
            .insert(session)
            .await
    }

    async fn get(&self, id: LoginSessionId) -> Result<Option<LoginSession>> {
        self.record("LoginSessionStore::get").get(id).await
    }

    async fn list_alive(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<LoginSession>> {
        self.record("LoginSessionStore::list_alive")
            .list_alive(user, now)
            .await
    }

    async fn alive_past(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        keep: u32,
    ) -> Result<Vec<LoginSessionId>> {
        self.record("LoginSessionStore::alive_past")
            .alive_past(user, now, keep)
            .await
    }

    async fn touch(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<()> {
        self.record("LoginSessionStore::touch").touch(id, at).await
    }

    async fn revoke(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<bool> {
        self.record("LoginSessionStore::revoke")
            .revoke(id, at)
            .await
    }

    async fn revoke_all(&self, user: UserId, at: DateTime<Utc>) -> Result<Vec<LoginSessionId>> {
        self.record("LoginSessionStore::revoke_all")
            .revoke_all(user, at)
            .await
    }
}

#[async_trait]
impl<S: RefreshTokenStore> RefreshTokenStore for CountingStore<S> {
    async fn insert(&self, record: &RefreshTokenRecord) -> Result<()> {
        self.record("RefreshTokenStore::insert")
            .insert(record)
            .await
    }

    async fn rotate(&self, presented: &str, child: &str, at: DateTime<Utc>) -> Result<Rotation> {
        self.record("RefreshTokenStore::rotate")
            .rotate(presented, child, at)
            .await
    }

    async fn delete_families(&self, sessions: &[LoginSessionId]) -> Result<u64> {
        self.record("RefreshTokenStore::delete_families")
            .delete_families(sessions)
            .await
    }
}

#[async_trait]
impl<S: TokenDenylist> TokenDenylist for CountingStore<S> {
    async fn deny(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()> {
        self.record("TokenDenylist::deny")
            .deny(jti, expires_at)
            .await
    }

    async fn active(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        self.record("TokenDenylist::active").active(now).await
    }
}

#[async_trait]
impl<S: ConversationStore> ConversationStore for CountingStore<S> {
    async fn create_chat_session(&self, session: &ChatSession) -> Result<()> {
        self.record("ConversationStore::create_chat_session")
            .create_chat_session(session)
            .await
    }

    async fn get_chat_session(
        &self,
        user: UserId,
        id: ChatSessionId,
    ) -> Result<Option<ChatSession>> {
        self.record("ConversationStore::get_chat_session")
            .get_chat_session(user, id)
            .await
    }

    async fn list_chat_sessions(
        &self,
        user: UserId,
        before: Option<ChatSessionId>,
        limit: u32,
    ) -> Result<Vec<ChatSession>> {
        self.record("ConversationStore::list_chat_sessions")
            .list_chat_sessions(user, before, limit)
            .await
    }

    async fn rename_chat_session(
        &self,
        user: UserId,
        id: ChatSessionId,
        title: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.record("ConversationStore::rename_chat_session")
            .rename_chat_session(user, id, title, now)
            .await
    }

    async fn delete_chat_session(&self, user: UserId, id: ChatSessionId) -> Result<bool> {
        self.record("ConversationStore::delete_chat_session")
            .delete_chat_session(user, id)
            .await
    }

    async fn add_message(&self, message: &Message) -> Result<()> {
        self.record("ConversationStore::add_message")
            .add_message(message)
            .await
    }

    async fn finish_message(
        &self,
        id: MessageId,
        content: &str,
        status: MessageStatus,
        usage: Option<TokenUsage>,
    ) -> Result<()> {
        self.record("ConversationStore::finish_message")
            .finish_message(id, content, status, usage)
            .await
    }

    async fn list_messages(
        &self,
        session: ChatSessionId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.record("ConversationStore::list_messages")
            .list_messages(session, after, limit)
            .await
    }

    async fn recent_messages(&self, session: ChatSessionId, limit: u32) -> Result<Vec<Message>> {
        self.record("ConversationStore::recent_messages")
            .recent_messages(session, limit)
            .await
    }
}

#[async_trait]
impl<S: UsageStore> UsageStore for CountingStore<S> {
    async fn record(&self, event: &UsageEvent) -> Result<()> {
        UsageStore::record(self.record("UsageStore::record"), event).await
    }

    async fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> Result<UsageTotals> {
        self.record("UsageStore::totals_since")
            .totals_since(user, since)
            .await
    }

    async fn hold(&self, hold: &Hold, limits: &HoldLimits) -> Result<HoldOutcome> {
        self.record("UsageStore::hold").hold(hold, limits).await
    }

    async fn release(&self, message_id: MessageId) -> Result<()> {
        self.record("UsageStore::release").release(message_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use delegate_core::ManualClock;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_the_cold_session_and_profile_reads_then_nothing_once_warm() {
        let db = TempSqlite::create().await.unwrap();
        assert!(db.path().starts_with(db.dir()));
        let store = Arc::new(CountingStore::new(db.store()));
        let delegate = delegate_with(
            Stores::from_backend(store.clone()),
            Arc::new(ManualClock::default()),
        )
        .await
        .unwrap();
        assert_eq!(store.calls().count("TokenDenylist::active"), 1);
        let signed_in = sign_up(&delegate, "bench@example.com").await.unwrap();
        let token = signed_in.tokens.access_token;

        let before = store.calls();
        delegate.auth().authenticate(&token).await.unwrap();
        let cold = store.calls().since(&before);
        // Cold: the session (for the guard) and the profile (the current tier and role).
        assert_eq!(cold.count("LoginSessionStore::get"), 1, "{cold}");
        assert_eq!(cold.count("UserStore::get"), 1, "{cold}");
        assert_eq!(cold.total(), 2, "{cold}");

        let warm = store.calls();
        for _ in 0..100 {
            delegate.auth().authenticate(&token).await.unwrap();
        }
        let during = store.calls().since(&warm);
        assert_eq!(during, StoreCalls::default(), "{during}");
        assert_eq!(during.to_string(), "no store calls");
    }

    #[test]
    fn since_keeps_only_new_calls() {
        let store = CountingStore::new(());
        store.record("A::a");
        let earlier = store.calls();
        store.record("A::a");
        store.record("B::b");
        let diff = store.calls().since(&earlier);
        assert_eq!(
            (diff.count("A::a"), diff.count("B::b"), diff.total()),
            (1, 1, 2)
        );
        assert_eq!(diff.to_string(), "A::a ×1, B::b ×1");
    }
}
