//! The Redis `EventBus`: PUBLISH on `prefix` + `bus:{topic}`, and one background task per bus
//! that owns a pub/sub connection, fans messages out to local subscribers, and re-subscribes
//! after the connection drops (a Redis restart), with backoff.

use super::{CONNECTION_TIMEOUT, Connection, RESPONSE_TIMEOUT, unavailable};
use crate::bus::{Delivery, EventBus, Subscription};
use crate::error::{Error, Result};
use async_trait::async_trait;
use futures::stream::{BoxStream, Stream, StreamExt};
use redis::aio::{PubSubSink, PubSubStream};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OnceCell, broadcast, mpsc, watch};

/// Payloads kept per subscriber that has not read them yet; a slower one skips the oldest.
const BUFFER: usize = 1024;
/// The first pause before reconnecting after a failure; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often an idle pub/sub connection is checked with a PING (a silent network loss
/// closes no socket).
const HEALTH_CHECK: Duration = Duration::from_secs(5);

/// Pub/sub across every instance sharing the Redis (or Redis Cluster, where a PUBLISH reaches
/// the subscribers of every node). Cheap to clone; clones share one pub/sub connection,
/// opened on the first subscription. Delivery is best effort: payloads published while the
/// connection is down are lost, and a subscriber that falls more than 1024 payloads behind
/// skips the oldest.
#[derive(Clone)]
pub struct RedisBus {
    inner: Arc<BusInner>,
}

struct BusInner {
    /// The command connection, for PUBLISH.
    conn: Connection,
    /// The nodes the pub/sub connection may use, tried in turn.
    nodes: Arc<[redis::Client]>,
    prefix: Arc<str>,
    hub: OnceCell<Hub>,
}

impl RedisBus {
    pub(crate) fn new(conn: Connection, nodes: Arc<[redis::Client]>, prefix: Arc<str>) -> Self {
        Self {
            inner: Arc::new(BusInner {
                conn,
                nodes,
                prefix,
                hub: OnceCell::new(),
            }),
        }
    }

    fn channel(&self, topic: &str) -> String {
        format!("{}bus:{topic}", self.inner.prefix)
    }
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<()> {
        redis::cmd("PUBLISH")
            .arg(self.channel(topic))
            .arg(payload)
            .query_async::<u64>(&mut self.inner.conn.clone())
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription> {
        let hub = self
            .inner
            .hub
            .get_or_init(|| async { Hub::start(self.inner.nodes.clone()) })
            .await;
        hub.subscribe(self.channel(topic)).await
    }
}

/// The local end of the pub/sub connection: who listens to which channel, and the link to the
/// background task that owns the connection.
#[derive(Clone)]
struct Hub {
    state: Arc<HubState>,
    /// The current connection's command half; `None` while disconnected.
    link: watch::Receiver<Option<PubSubSink>>,
    /// Tells the task that a subscription was dropped (the channel's name). The task stops
    /// once every sender (the bus and each subscription) is gone.
    release: mpsc::UnboundedSender<String>,
}

struct HubState {
    /// Held across each change of the server-side subscriptions (subscribe, release,
    /// resubscribe), so that they and `topics` never disagree.
    ops: tokio::sync::Mutex<()>,
    /// One broadcast channel per Redis channel with local subscribers.
    topics: Mutex<HashMap<String, broadcast::Sender<Delivery>>>,
}

impl Hub {
    fn start(nodes: Arc<[redis::Client]>) -> Self {
        let state = Arc::new(HubState {
            ops: tokio::sync::Mutex::new(()),
            topics: Mutex::new(HashMap::new()),
        });
        let (link_tx, link) = watch::channel(None);
        let (release, release_rx) = mpsc::unbounded_channel();
        tokio::spawn(run(state.clone(), nodes, link_tx, release_rx));
        Self {
            state,
            link,
            release,
        }
    }

    async fn subscribe(&self, channel: String) -> Result<Subscription> {
        let down = || Error::unavailable("redis", Duration::from_secs(1));
        // Wait (briefly) for the connection before taking the lock: the task takes it too to
        // resubscribe before it publishes a new connection.
        let mut link = self.link.clone();
        let wait = CONNECTION_TIMEOUT + RESPONSE_TIMEOUT;
        match tokio::time::timeout(wait, link.wait_for(Option::is_some)).await {
            Ok(Ok(_)) => {}
            _ => return Err(down()),
        }
        let _ops = self.state.ops.lock().await;
        let Some(mut sink) = link.borrow().clone() else {
            return Err(down());
        };
        let (receiver, new) = {
            let mut topics = self.state.topics.lock().expect("bus topics lock");
            match topics.get(&channel) {
                Some(sender) => (sender.subscribe(), false),
                None => {
                    let (sender, receiver) = broadcast::channel(BUFFER);
                    topics.insert(channel.clone(), sender);
                    (receiver, true)
                }
            }
        };
        if new {
            // Confirmed by Redis before this returns: later publishes are delivered.
            let confirmed = tokio::time::timeout(RESPONSE_TIMEOUT, sink.subscribe(&channel)).await;
            if let Err(err) = confirmed.unwrap_or_else(|_| Err(timed_out())) {
                self.state
                    .topics
                    .lock()
                    .expect("bus topics lock")
                    .remove(&channel);
                return Err(unavailable(err));
            }
        }
        let payloads = futures::stream::unfold(receiver, |mut rx| async move {
            let delivery = match rx.recv().await {
                Ok(delivery) => delivery,
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::warn!(skipped, "slow bus subscriber skipped payloads");
                    Delivery::Gap
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((delivery, rx))
        });
        Ok(TopicStream {
            payloads: Some(payloads.boxed()),
            channel,
            release: self.release.clone(),
        }
        .boxed())
    }
}

/// A subscription's stream; dropping it tells the task, which unsubscribes from Redis when it
/// was the channel's last local subscriber.
struct TopicStream {
    payloads: Option<BoxStream<'static, Delivery>>,
    channel: String,
    release: mpsc::UnboundedSender<String>,
}

impl Stream for TopicStream {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        match self.payloads.as_mut() {
            Some(payloads) => payloads.poll_next_unpin(cx),
            None => Poll::Ready(None),
        }
    }
}

impl Drop for TopicStream {
    fn drop(&mut self) {
        // The receiver goes first, so the task sees the subscriber count without it.
        self.payloads = None;
        let _ = self.release.send(std::mem::take(&mut self.channel));
    }
}

fn timed_out() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "redis pub/sub request timed out",
    ))
}

/// The background task: connect, resubscribe, deliver until the connection drops, repeat.
/// Returns when the bus and all its subscriptions are gone.
async fn run(
    state: Arc<HubState>,
    nodes: Arc<[redis::Client]>,
    link: watch::Sender<Option<PubSubSink>>,
    mut release: mpsc::UnboundedReceiver<String>,
) {
    let mut backoff = MIN_BACKOFF;
    let mut next_node = 0;
    let mut was_connected = false;
    loop {
        let connected = match connect(&nodes, &mut next_node).await {
            Ok((sink, stream)) => resubscribe(&state, &link, sink, stream).await,
            Err(err) => Err(err),
        };
        match connected {
            Ok((mut sink, stream)) => {
                if was_connected {
                    tracing::info!("redis pub/sub connection restored; subscriptions renewed");
                    metrics::counter!("delegate_bus_reconnects_total", "backend" => "redis")
                        .increment(1);
                    // Whatever was published while the connection was down is lost.
                    for sender in state.topics.lock().expect("bus topics lock").values() {
                        let _ = sender.send(Delivery::Gap);
                    }
                }
                was_connected = true;
                backoff = MIN_BACKOFF;
                let ended = deliver(&state, &mut sink, stream, &mut release).await;
                link.send_replace(None);
                if ended {
                    return;
                }
                tracing::warn!("redis pub/sub connection lost; reconnecting");
            }
            Err(err) => {
                tracing::warn!(error = %err, "redis pub/sub connection failed; retrying");
                // Wait out the backoff, still handling dropped subscriptions (no Redis call
                // is needed: there is no connection to unsubscribe on).
                let pause = tokio::time::sleep(backoff);
                tokio::pin!(pause);
                loop {
                    tokio::select! {
                        () = &mut pause => break,
                        channel = release.recv() => match channel {
                            Some(channel) => {
                                let _ops = state.ops.lock().await;
                                forget_if_unused(&state, &channel);
                            }
                            None => return,
                        },
                    }
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Opens a pub/sub connection to the first node that answers, starting after the last one
/// used.
async fn connect(
    nodes: &[redis::Client],
    next_node: &mut usize,
) -> redis::RedisResult<(PubSubSink, PubSubStream)> {
    let mut last_error = None;
    for _ in 0..nodes.len() {
        let node = &nodes[*next_node % nodes.len()];
        *next_node = (*next_node + 1) % nodes.len();
        let attempt = tokio::time::timeout(
            CONNECTION_TIMEOUT + RESPONSE_TIMEOUT,
            node.get_async_pubsub(),
        )
        .await;
        match attempt.unwrap_or_else(|_| Err(timed_out())) {
            Ok(pubsub) => {
                // Stay on this node next time, unless it fails.
                *next_node = (*next_node + nodes.len() - 1) % nodes.len();
                return Ok(pubsub.split());
            }
            Err(err) => last_error = Some(err),
        }
    }
    Err(last_error.unwrap_or_else(timed_out))
}

/// Subscribes a fresh connection to every channel with local subscribers, then publishes it
/// to new subscribers.
async fn resubscribe(
    state: &HubState,
    link: &watch::Sender<Option<PubSubSink>>,
    mut sink: PubSubSink,
    stream: PubSubStream,
) -> redis::RedisResult<(PubSubSink, PubSubStream)> {
    let _ops = state.ops.lock().await;
    let channels: Vec<String> = state
        .topics
        .lock()
        .expect("bus topics lock")
        .keys()
        .cloned()
        .collect();
    if !channels.is_empty() {
        tokio::time::timeout(RESPONSE_TIMEOUT, sink.subscribe(&channels))
            .await
            .unwrap_or_else(|_| Err(timed_out()))?;
    }
    link.send_replace(Some(sink.clone()));
    Ok((sink, stream))
}

/// Delivers messages until the connection drops (false) or the bus and every subscription
/// are gone (true), handling dropped subscriptions and health checks meanwhile.
async fn deliver(
    state: &HubState,
    sink: &mut PubSubSink,
    mut stream: PubSubStream,
    release: &mut mpsc::UnboundedReceiver<String>,
) -> bool {
    let mut health =
        tokio::time::interval_at(tokio::time::Instant::now() + HEALTH_CHECK, HEALTH_CHECK);
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => {
                    let topics = state.topics.lock().expect("bus topics lock");
                    if let Some(sender) = topics.get(message.get_channel_name()) {
                        // No receiver left is fine: the release is on its way.
                        let payload = message.get_payload_bytes().to_vec();
                        let _ = sender.send(Delivery::Message(payload));
                    }
                }
                None => return false,
            },
            channel = release.recv() => match channel {
                Some(channel) => {
                    let _ops = state.ops.lock().await;
                    if forget_if_unused(state, &channel) {
                        // A failure here means the connection is going away; the stream ends.
                        let _ = tokio::time::timeout(RESPONSE_TIMEOUT, sink.unsubscribe(&channel))
                            .await;
                    }
                }
                None => return true,
            },
            _ = health.tick() => {
                let pong = tokio::time::timeout(RESPONSE_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return false;
                }
            }
        }
    }
}

/// Drops `channel` from the local table if it has no subscriber left; true if it did.
fn forget_if_unused(state: &HubState, channel: &str) -> bool {
    let mut topics = state.topics.lock().expect("bus topics lock");
    match topics.get(channel) {
        Some(sender) if sender.receiver_count() == 0 => {
            topics.remove(channel);
            true
        }
        _ => false,
    }
}
