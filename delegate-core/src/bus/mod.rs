//! Pub/sub between instances: the `EventBus` backend trait.

pub(crate) mod fanout;

use crate::error::Result;
use async_trait::async_trait;
use futures::stream::BoxStream;

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A payload published on the topic.
    Message(Vec<u8>),
    /// Payloads may have been lost (the subscriber fell behind, or the connection to the bus
    /// dropped and was renewed). Subscribers that keep state derived from the topic should
    /// resynchronise it from the source of truth.
    Gap,
}

/// The deliveries on one topic.
pub type Subscription = BoxStream<'static, Delivery>;

/// Publishes payloads on topics and delivers them to every subscriber of the topic,
/// on every instance that shares the bus. Delivery is best effort (at most once), but a
/// subscriber is told with [`Delivery::Gap`] when it may have missed payloads.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes `payload` on `topic`.
    async fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<()>;
    /// Subscribes to `topic`; payloads published after this returns are delivered.
    async fn subscribe(&self, topic: &str) -> Result<Subscription>;
}
