//! Pub/sub between instances: the `EventBus` backend trait.

use crate::error::Result;
use async_trait::async_trait;
use futures::stream::BoxStream;

/// A stream of payloads published on one topic.
pub type Subscription = BoxStream<'static, Vec<u8>>;

/// Publishes payloads on topics and delivers them to every subscriber of the topic,
/// on every instance that shares the bus. Delivery is best effort (at most once).
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes `payload` on `topic`.
    async fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<()>;
    /// Subscribes to `topic`; payloads published after this returns are delivered.
    async fn subscribe(&self, topic: &str) -> Result<Subscription>;
}
