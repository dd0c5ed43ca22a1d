//! The `Delegate` facade: built once from a [`Config`], cheap to clone, hands out services.

use crate::admin::AdminService;
use crate::auth::password::PasswordHasher;
use crate::auth::token::TokenSigner;
use crate::auth::{
    AUTH_TOPIC, AuthCore, AuthEvent, AuthService, CachedLoginSessions, LOGIN_SESSIONS_TOPIC,
    LoginSessionsService, SessionGuard,
};
use crate::backend::{Shared, Stores};
use crate::bus::{Delivery, EventBus};
use crate::cache::Cache;
use crate::chat::{ChatModel, ChatService, ChatSettings};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::Result;
use crate::health::{Dependencies, HealthReport, Probe};
use crate::ratelimit::{RateLimiter, RateLimits};
use crate::usage::UsageService;
use crate::users::UsersService;
use crate::users::service::USERS_TOPIC;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The Delegate kernel. Clones share everything.
#[derive(Clone)]
pub struct Delegate {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    clock: Arc<dyn Clock>,
    auth: Arc<AuthCore>,
    users: UsersService,
    chat: ChatService,
    usage: UsageService,
    transcripts: crate::transcript::TranscriptsService,
    voice: crate::voice::VoiceService,
    realtime: crate::realtime::RealtimeService,
    limits: RateLimits,
    shared: Shared,
    store_probe: Option<Arc<dyn Probe>>,
    started_at: DateTime<Utc>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

impl Delegate {
    /// Builds Delegate with the backends named in `config` (embedded defaults: SQLite and
    /// in-memory), applying migrations.
    pub async fn connect(config: Config) -> Result<Self> {
        Self::builder(config).build().await
    }

    /// A builder, to inject a clock or custom backends.
    pub fn builder(config: Config) -> DelegateBuilder {
        DelegateBuilder {
            config,
            clock: None,
            stores: None,
            shared: None,
            model: None,
            speech: None,
        }
    }

    /// Registration, login, token refresh, request authentication, logout.
    pub fn auth(&self) -> AuthService {
        AuthService::new(self.inner.auth.clone())
    }

    /// Login sessions (devices): list, revoke, cleanup.
    pub fn login_sessions(&self) -> LoginSessionsService {
        LoginSessionsService::new(self.inner.auth.clone())
    }

    /// Operator actions, for admins (HTTP) and the operator (CLI).
    pub fn admin(&self) -> AdminService {
        let inner = &self.inner;
        AdminService::new(
            inner.auth.clone(),
            inner.users.clone(),
            inner.usage.clone(),
            inner.shared.cache.clone(),
            inner.shared.inspect.clone(),
            inner.chat.clone(),
        )
    }

    /// Accounts.
    pub fn users(&self) -> UsersService {
        self.inner.users.clone()
    }

    /// Chat sessions, messages and AI replies.
    pub fn chat(&self) -> ChatService {
        self.inner.chat.clone()
    }

    /// Transcripts: saved, searched, exported.
    pub fn transcripts(&self) -> crate::transcript::TranscriptsService {
        self.inner.transcripts.clone()
    }

    /// Speech to text, text to speech and voice conversations.
    pub fn voice(&self) -> crate::voice::VoiceService {
        self.inner.voice.clone()
    }

    /// Realtime: users' event streams, for WebSocket and Socket.IO connections, and
    /// application events ([`crate::realtime::RealtimeService::publish_app`]).
    pub fn realtime(&self) -> crate::realtime::RealtimeService {
        self.inner.realtime.clone()
    }

    /// Usage metering and quotas.
    pub fn usage(&self) -> UsageService {
        self.inner.usage.clone()
    }

    /// The shared cache.
    pub fn cache(&self) -> Arc<dyn Cache> {
        self.inner.shared.cache.clone()
    }

    /// The raw shared rate limiter.
    pub fn rate_limiter(&self) -> Arc<dyn RateLimiter> {
        self.inner.shared.limiter.clone()
    }

    /// The configured request limits (scopes, tiers, outage behaviour).
    pub fn limits(&self) -> &RateLimits {
        &self.inner.limits
    }

    /// The event bus.
    pub fn bus(&self) -> Arc<dyn EventBus> {
        self.inner.shared.bus.clone()
    }

    /// The configuration this instance runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    /// Each dependency's state and latency (the store, Redis, the AI and speech providers),
    /// the version,
    /// the uptime, and the overall state: down when the store is, degraded when anything
    /// else is not ok. Probes run at once, each bounded to 2 s.
    pub async fn health(&self) -> HealthReport {
        let inner = &self.inner;
        let uptime = (inner.clock.now() - inner.started_at)
            .to_std()
            .unwrap_or_default();
        let voice = inner.voice.model();
        let deps = Dependencies {
            store: inner.store_probe.as_ref(),
            shared: inner.shared.probe.as_ref(),
            ai: inner.chat.model(),
            voice: voice.as_ref(),
        };
        crate::health::check(deps, uptime).await
    }

    /// The relational store's connection pool (open, idle), when it has one.
    pub fn pool_state(&self) -> Option<crate::health::PoolState> {
        self.inner.store_probe.as_ref().and_then(|p| p.pool())
    }

    /// `Ok` when the store answers and has no pending migration; [`crate::Error::Unavailable`]
    /// otherwise (a readiness probe).
    pub async fn ready(&self) -> Result<()> {
        crate::health::ready(self.inner.store_probe.as_ref()).await
    }
}

/// Assembles a [`Delegate`]; anything not given is built from the config.
pub struct DelegateBuilder {
    config: Config,
    clock: Option<Arc<dyn Clock>>,
    stores: Option<Stores>,
    shared: Option<Shared>,
    model: Option<Arc<dyn ChatModel>>,
    speech: Option<Arc<dyn crate::voice::SpeechModel>>,
}

impl DelegateBuilder {
    /// Uses this clock (tests use [`crate::ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Uses these relational stores instead of `config.database_url`.
    pub fn with_stores(mut self, stores: Stores) -> Self {
        self.stores = Some(stores);
        self
    }

    /// Uses this AI provider instead of the one `config.ai` names.
    pub fn with_model(mut self, model: Arc<dyn ChatModel>) -> Self {
        self.model = Some(model);
        self
    }

    /// Uses this speech provider instead of the one `config.voice` names.
    pub fn with_speech_model(mut self, speech: Arc<dyn crate::voice::SpeechModel>) -> Self {
        self.speech = Some(speech);
        self
    }

    /// Uses this cache, limiter and bus instead of `config.redis_url`.
    pub fn with_shared(mut self, shared: Shared) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Connects what is missing, loads the denylist and starts listening for revocations.
    /// Needs a Tokio runtime.
    pub async fn build(self) -> Result<Delegate> {
        let config = self.config;
        let secrets = config.resolve_secrets()?;
        for warning in config.startup_warnings() {
            tracing::warn!("{warning}");
        }
        let proxies = crate::ratelimit::TrustedProxies::parse(&config.server.trusted_proxies)?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let stores = match self.stores {
            Some(stores) => stores,
            None => Stores::connect(&config.database_url, config.migrate_on_start).await?,
        };
        let in_process = config.redis_url.starts_with("memory:");
        let shared = match self.shared {
            Some(shared) => shared,
            None => {
                let mut shared = Shared::connect(
                    &config.redis_url,
                    &config.redis_prefix,
                    &config.cache,
                    clock.clone(),
                )
                .await?;
                // Without Redis, processes sharing the store (servers, the CLI) share its
                // bus: LISTEN/NOTIFY on PostgreSQL, a polled table on SQLite.
                if in_process {
                    shared.bus = stores.bus.clone();
                }
                shared
            }
        };
        let guard = SessionGuard::new(Duration::from_secs(
            config.auth.session_cache_ttl_secs.max(1),
        ));
        let now = clock.now();
        for (jti, expires_at) in stores.denylist.active(now).await? {
            guard.deny(&jti, expires_at, now);
        }
        let (realtime, realtime_listeners) = crate::realtime::RealtimeService::start(
            shared.bus.clone(),
            shared.events.clone(),
            crate::realtime::RealtimeSettings::from(&config.realtime),
        )
        .await?;
        let users = UsersService::new(
            stores.users.clone(),
            shared.cache.clone(),
            Duration::from_secs(config.cache.ttl_medium_secs),
            clock.clone(),
            in_process.then(|| shared.bus.clone()),
            realtime.clone(),
        );
        let hasher = PasswordHasher::new(&config.auth.password)?;
        // Compute the dummy hash now, so the first unknown-email login costs what any other
        // failed login costs.
        let warm = hasher.clone();
        tokio::spawn(async move { warm.verify_dummy("warm-up").await });
        let core = Arc::new(AuthCore {
            hasher,
            signer: TokenSigner::new(&secrets.jwt, &config.auth),
            refresh_key: secrets.refresh,
            audit: crate::admin::AuditLog::start(stores.audit.clone()),
            config: config.auth.clone(),
            clock: clock.clone(),
            users: stores.users,
            profiles: users.clone(),
            sessions: Arc::new(CachedLoginSessions::new(
                stores.sessions,
                shared.cache.clone(),
                Duration::from_secs(config.cache.ttl_short_secs),
                in_process.then(|| shared.bus.clone()),
            )),
            refresh: stores.refresh,
            denylist: stores.denylist,
            cleanup: stores.cleanup,
            bus: shared.bus.clone(),
            guard,
            backoff: crate::auth::LoginBackoff::new(
                config.auth.login_backoff.clone(),
                shared.limiter.clone(),
                shared.cache.clone(),
                clock.clone(),
                config.rate_limit.ipv6_prefix_len,
            ),
        });
        let usage = UsageService::new(
            stores.usage.clone(),
            config.quota,
            config.voice.tiers,
            shared.cache.clone(),
            Duration::from_secs(config.cache.ttl_short_secs),
            clock.clone(),
            crate::usage::UsageNews {
                users: users.clone(),
                realtime: realtime.clone(),
            },
        );
        let model = match self.model {
            Some(model) => Some(model),
            None => crate::ai::from_config(&config.ai)?,
        };
        let transcripts = crate::transcript::TranscriptsService::new(
            stores.transcripts.clone(),
            stores.conversations.clone(),
            shared.cache.clone(),
            shared.bus.clone(),
            realtime.clone(),
            clock.clone(),
            [
                Duration::from_secs(config.cache.ttl_short_secs),
                Duration::from_secs(config.cache.ttl_medium_secs),
                Duration::from_secs(config.cache.ttl_long_secs),
            ],
        );
        let chat = ChatService::new(
            stores.conversations.clone(),
            usage.clone(),
            model,
            shared.cache.clone(),
            realtime.clone(),
            clock.clone(),
            ChatSettings {
                default_model: config.ai.model.clone(),
                reply_timeout: Duration::from_secs(config.ai.timeout_secs),
                context_budget_tokens: config.ai.context_budget_tokens,
                list_ttl: Duration::from_secs(config.cache.ttl_short_secs),
                head_ttl: Duration::from_secs(config.cache.ttl_long_secs),
                temperature: config.ai.temperature,
                tiers: config.ai.tiers.clone(),
                response_ttl: config
                    .ai
                    .response_cache
                    .then(|| Duration::from_secs(config.cache.ttl_long_secs)),
            },
        );
        let speech = match self.speech {
            Some(speech) => Some(speech),
            None => crate::voice::from_config(&config.voice, &config.ai)?,
        };
        let voice = crate::voice::VoiceService::new(
            speech,
            chat.clone(),
            usage.clone(),
            crate::voice::VoiceSettings::from(&config.voice),
        );
        let events = shared.bus.subscribe(AUTH_TOPIC).await?;
        let mut listeners = vec![tokio::spawn(listen(Arc::downgrade(&core), events))];
        listeners.extend(realtime_listeners);
        // An in-process cache learns of account and login session changes made by other
        // processes here (a two-level cache is kept coherent by its own invalidations).
        if in_process {
            for published in [PUBLISHED_USERS, PUBLISHED_LOGIN_SESSIONS] {
                let changes = shared.bus.subscribe(published.topic).await?;
                let cache = shared.cache.clone();
                listeners.push(tokio::spawn(published.forget(cache, changes)));
            }
        }
        if config.auth.cleanup_interval_secs > 0 && core.cleanup.is_some() {
            listeners.push(tokio::spawn(crate::admin::cleanup_periodically(
                LoginSessionsService::new(core.clone()),
                clock.clone(),
                Duration::from_secs(config.auth.cleanup_interval_secs),
            )));
        }
        Ok(Delegate {
            inner: Arc::new(Inner {
                users,
                chat,
                usage,
                transcripts,
                voice,
                realtime,
                limits: RateLimits::new(
                    config.rate_limit.clone(),
                    shared.limiter.clone(),
                    proxies,
                    clock.clone(),
                ),
                config,
                started_at: clock.now(),
                clock,
                auth: core,
                shared,
                store_probe: stores.probe,
                listeners,
            }),
        })
    }
}

/// Cached entries that other processes announce the change of, on one bus topic.
struct Published {
    topic: &'static str,
    /// The cache keys a payload names (`None`: malformed).
    keys: fn(&[u8]) -> Option<Vec<String>>,
    /// The glob of every key of the kind, dropped after a gap.
    all: &'static str,
}

/// Profiles changed by another process.
const PUBLISHED_USERS: Published = Published {
    topic: USERS_TOPIC,
    keys: crate::users::service::published_keys,
    all: crate::cache::keys::ALL_USERS,
};

/// Login sessions changed (touched, revoked) by another process.
const PUBLISHED_LOGIN_SESSIONS: Published = Published {
    topic: LOGIN_SESSIONS_TOPIC,
    keys: crate::auth::login_session_published_keys,
    all: crate::cache::keys::ALL_LOGIN_SESSIONS,
};

impl Published {
    /// Drops from `cache` what each change names; after a gap, every entry of the kind.
    async fn forget(self, cache: Arc<dyn Cache>, mut changes: crate::bus::Subscription) {
        while let Some(delivery) = changes.next().await {
            match delivery {
                Delivery::Message(payload) => match (self.keys)(&payload) {
                    Some(keys) => crate::cache::forget(cache.as_ref(), &keys).await,
                    None => tracing::warn!(topic = self.topic, "ignored a malformed change"),
                },
                Delivery::Gap => {
                    metrics::counter!("delegate_bus_gaps_total", "topic" => self.topic)
                        .increment(1);
                    if let Err(e) = cache.clear(self.all).await {
                        tracing::warn!(error = %e.report(), pattern = self.all, "could not drop cached entries");
                    }
                }
            }
        }
    }
}

/// Applies auth events from the bus to the guard until the bus or Delegate goes away; after
/// a gap (missed events) the guard is resynchronised from the store.
async fn listen(core: Weak<AuthCore>, mut events: crate::bus::Subscription) {
    while let Some(delivery) = events.next().await {
        let Some(core) = core.upgrade() else { return };
        match delivery {
            Delivery::Message(payload) => match serde_json::from_slice::<AuthEvent>(&payload) {
                Ok(event) => core.apply(event),
                Err(e) => tracing::warn!(error = %e, "ignored a malformed auth event"),
            },
            Delivery::Gap => {
                metrics::counter!("delegate_bus_gaps_total", "topic" => AUTH_TOPIC).increment(1);
                if let Err(e) = core.resync().await {
                    tracing::warn!(error = %e.report(), "could not reload the denylist after a bus gap");
                }
            }
        }
    }
}
