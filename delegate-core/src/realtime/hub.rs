//! The realtime service: publishing (numbered in the user's log, then carried by the bus), the
//! instance's own connections by user and login session, and the listeners that deliver what
//! the bus carries and close connections whose login session was revoked.

use super::feed::{Feed, Signal};
use super::{EventLog, ReplyDelta, UserEvent, is_app_kind};
use crate::auth::{AUTH_TOPIC, AuthContext, AuthEvent};
use crate::bus::{Delivery, EventBus, Subscription};
use crate::error::{Error, Result};
use crate::ids::{LoginSessionId, UserId};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::broadcast;

/// The bus topic realtime envelopes travel on.
pub(crate) const REALTIME_TOPIC: &str = "realtime";

/// How the realtime service behaves.
#[derive(Debug, Clone)]
pub struct RealtimeSettings {
    /// Events kept per user for reconnecting clients.
    pub log_keep: usize,
    /// How long a user's log outlives its last event.
    pub log_ttl: Duration,
    /// Events queued per connection before it counts as too slow and is closed.
    pub queue: usize,
    /// Connections one user may have open on one instance.
    pub max_connections_per_user: usize,
}

impl From<&crate::config::RealtimeConfig> for RealtimeSettings {
    fn from(config: &crate::config::RealtimeConfig) -> Self {
        Self {
            log_keep: config.log_keep.max(1),
            log_ttl: Duration::from_secs(config.log_ttl_secs.max(1)),
            queue: config.queue.max(1),
            max_connections_per_user: config.max_connections_per_user.max(1),
        }
    }
}

/// What travels on the bus: something for one user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Envelope {
    pub(crate) user: UserId,
    #[serde(flatten)]
    pub(crate) carried: Carried,
}

/// An event of the user's stream, or a reply delta.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Carried {
    Event(UserEvent),
    Delta(ReplyDelta),
}

/// This instance's connections.
#[derive(Default)]
struct Local {
    /// One channel per user with a live connection here.
    users: HashMap<UserId, broadcast::Sender<Signal>>,
}

/// Publishes users' events and hands out [`Feed`]s of them. Cheap to clone.
#[derive(Clone)]
pub struct RealtimeService {
    inner: Arc<Inner>,
}

struct Inner {
    bus: Arc<dyn EventBus>,
    log: Arc<dyn EventLog>,
    settings: RealtimeSettings,
    local: Mutex<Local>,
}

impl RealtimeService {
    /// The service over `bus` and `log`, with the listeners it needs (delivery from the bus,
    /// revocations from the auth topic) returned for the caller to keep and abort.
    pub(crate) async fn start(
        bus: Arc<dyn EventBus>,
        log: Arc<dyn EventLog>,
        settings: RealtimeSettings,
    ) -> Result<(Self, Vec<tokio::task::JoinHandle<()>>)> {
        let service = Self {
            inner: Arc::new(Inner {
                bus: bus.clone(),
                log,
                settings,
                local: Mutex::new(Local::default()),
            }),
        };
        let envelopes = bus.subscribe(REALTIME_TOPIC).await?;
        let revocations = bus.subscribe(AUTH_TOPIC).await?;
        let weak = Arc::downgrade(&service.inner);
        let listeners = vec![
            tokio::spawn(deliver(weak.clone(), envelopes)),
            tokio::spawn(revoke(weak, revocations)),
        ];
        Ok((service, listeners))
    }

    /// Publishes an event of `kind` with `data` to `user`: numbered in the user's log, then
    /// delivered to each of the user's live connections on every instance. Returns its number.
    pub async fn publish(&self, user: UserId, kind: &str, data: serde_json::Value) -> Result<u64> {
        let inner = &self.inner;
        let payload = serde_json::to_vec(&(kind, &data))
            .map_err(|e| Error::internal("encoding an event").with_source(e))?;
        let seq = inner
            .log
            .append(
                &log_key(user),
                payload,
                inner.settings.log_keep,
                inner.settings.log_ttl,
            )
            .await?;
        let event = UserEvent {
            seq,
            kind: kind.to_owned(),
            data,
        };
        self.carry(user, Carried::Event(event)).await;
        Ok(seq)
    }

    /// Publishes an application event (`app.…`, checked) to `user`; see [`Self::publish`].
    pub async fn publish_app(
        &self,
        user: UserId,
        kind: &str,
        data: serde_json::Value,
    ) -> Result<u64> {
        if !is_app_kind(kind) {
            return Err(Error::invalid(
                "type",
                "must be app. followed by 1 to 64 letters, digits, '.', '_' or '-'",
            ));
        }
        let size = serde_json::to_vec(&data).map_or(usize::MAX, |d| d.len());
        if size > MAX_APP_DATA_BYTES {
            return Err(Error::invalid(
                "data",
                format!("must be at most {MAX_APP_DATA_BYTES} bytes of JSON"),
            ));
        }
        self.publish(user, kind, data).await
    }

    /// Like [`Self::publish`], never failing: a failure is logged (events are a convenience
    /// beside the stored truth; a client that missed one resynchronises).
    pub(crate) async fn notify(&self, user: UserId, kind: &str, data: serde_json::Value) {
        if let Err(e) = self.publish(user, kind, data).await {
            tracing::warn!(error = %e.report(), kind, "could not publish an event");
        }
    }

    /// Sends a reply delta to the user's connections subscribed to its chat, on every
    /// instance (not numbered in the user's stream: it has its own numbers).
    pub(crate) async fn delta(&self, user: UserId, delta: ReplyDelta) {
        self.carry(user, Carried::Delta(delta)).await;
    }

    async fn carry(&self, user: UserId, carried: Carried) {
        let envelope = Envelope { user, carried };
        match serde_json::to_vec(&envelope) {
            Ok(payload) => {
                if let Err(e) = self.inner.bus.publish(REALTIME_TOPIC, payload).await {
                    tracing::warn!(error = %e.report(), "could not carry a realtime event");
                }
            }
            Err(e) => tracing::error!(error = %e, "could not encode a realtime event"),
        }
    }

    /// A feed of `caller`'s events for one connection: those numbered after `since` first
    /// (or `resync` when the log no longer holds them), then live ones, each once and in
    /// order; reply deltas of the chats it subscribes to; and a close when the caller's login
    /// session is revoked or the connection cannot keep up. [`Error::RateLimited`] when the
    /// user has `max_connections_per_user` connections on this instance already.
    pub async fn connect(&self, caller: &AuthContext, since: Option<u64>) -> Result<Feed> {
        let receiver = {
            let mut local = self.inner.local.lock().unwrap_or_else(|e| e.into_inner());
            let sender = local
                .users
                .entry(caller.user_id)
                .or_insert_with(|| broadcast::channel(self.inner.settings.queue).0);
            if sender.receiver_count() >= self.inner.settings.max_connections_per_user {
                return Err(Error::RateLimited {
                    retry_after: Duration::from_secs(5),
                });
            }
            sender.subscribe()
        };
        Feed::open(
            self.inner.log.clone(),
            caller.user_id,
            caller.session_id,
            receiver,
            since,
        )
        .await
    }

    /// The logs of users' events and replies.
    pub(crate) fn log(&self) -> &Arc<dyn EventLog> {
        &self.inner.log
    }

    /// The connections open on this instance.
    pub fn local_connections(&self) -> usize {
        let local = self.inner.local.lock().unwrap_or_else(|e| e.into_inner());
        local.users.values().map(|s| s.receiver_count()).sum()
    }
}

/// The largest application event payload.
const MAX_APP_DATA_BYTES: usize = 16 * 1024;

/// The log of `user`'s events (one Redis Cluster slot per user).
pub(super) fn log_key(user: UserId) -> String {
    format!("realtime:{{{user}}}")
}

impl Inner {
    /// Hands `signal` to `user`'s connections on this instance, if any.
    fn signal(&self, user: UserId, signal: Signal) {
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = local.users.get(&user) {
            if sender.receiver_count() == 0 {
                local.users.remove(&user);
            } else {
                let _ = sender.send(signal);
            }
        }
    }

    /// Hands `signal` to every connection on this instance.
    fn signal_all(&self, signal: Signal) {
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local.users.retain(|_, sender| sender.receiver_count() > 0);
        for sender in local.users.values() {
            let _ = sender.send(signal.clone());
        }
    }
}

/// Delivers what the bus carries to this instance's connections; after a bus gap, tells
/// every connection to check its log.
async fn deliver(inner: Weak<Inner>, mut envelopes: Subscription) {
    while let Some(delivery) = envelopes.next().await {
        let Some(inner) = inner.upgrade() else { return };
        match delivery {
            Delivery::Message(payload) => match serde_json::from_slice::<Envelope>(&payload) {
                Ok(envelope) => inner.signal(envelope.user, Signal::from(envelope.carried)),
                Err(e) => tracing::warn!(error = %e, "ignored a malformed realtime envelope"),
            },
            Delivery::Gap => {
                metrics::counter!("delegate_bus_gaps_total", "topic" => REALTIME_TOPIC)
                    .increment(1);
                inner.signal_all(Signal::Gap);
            }
        }
    }
}

/// Closes this instance's connections whose login session was revoked; after a gap on the
/// auth topic, every connection re-checks its session ([`Signal::Recheck`]).
async fn revoke(inner: Weak<Inner>, mut events: Subscription) {
    while let Some(delivery) = events.next().await {
        let Some(inner) = inner.upgrade() else { return };
        match delivery {
            Delivery::Message(payload) => {
                if let Ok(AuthEvent::SessionsRevoked { ids }) = serde_json::from_slice(&payload) {
                    let ids: Arc<[LoginSessionId]> = ids.into();
                    inner.signal_all(Signal::Revoked(ids));
                }
            }
            Delivery::Gap => inner.signal_all(Signal::Recheck),
        }
    }
}

impl From<Carried> for Signal {
    fn from(carried: Carried) -> Self {
        match carried {
            Carried::Event(event) => Signal::Event(Arc::new(event)),
            Carried::Delta(delta) => Signal::Delta(Arc::new(delta)),
        }
    }
}
