//! The in-process `EventBus`: one broadcast channel per topic (one instance only).

use crate::bus::{Delivery, EventBus, Subscription};
use crate::error::Result;
use async_trait::async_trait;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Pub/sub within this process. A subscriber that falls more than the buffer behind skips
/// the oldest payloads and gets a [`Delivery::Gap`].
pub struct MemoryBus {
    topics: Mutex<HashMap<String, broadcast::Sender<Vec<u8>>>>,
    buffer: usize,
}

impl MemoryBus {
    /// A bus keeping up to `buffer` undelivered payloads per subscriber.
    pub fn new(buffer: usize) -> Self {
        Self {
            topics: Mutex::new(HashMap::new()),
            buffer: buffer.max(1),
        }
    }

    fn sender(&self, topic: &str) -> broadcast::Sender<Vec<u8>> {
        self.topics
            .lock()
            .expect("bus lock")
            .entry(topic.to_owned())
            .or_insert_with(|| broadcast::channel(self.buffer).0)
            .clone()
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, topic: &str, payload: Vec<u8>) -> Result<()> {
        // No subscriber is not an error: pub/sub drops what nobody listens to.
        let _ = self.sender(topic).send(payload);
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription> {
        let receiver = self.sender(topic).subscribe();
        let stream = futures::stream::unfold(receiver, |mut rx| async move {
            let delivery = match rx.recv().await {
                Ok(payload) => Delivery::Message(payload),
                Err(broadcast::error::RecvError::Lagged(_)) => Delivery::Gap,
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((delivery, rx))
        });
        Ok(stream.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_of_the_gap() {
        let bus = MemoryBus::new(2);
        let mut sub = bus.subscribe("t").await.unwrap();
        for i in 0..5u8 {
            bus.publish("t", vec![i]).await.unwrap();
        }
        assert_eq!(sub.next().await, Some(Delivery::Gap));
        assert_eq!(sub.next().await, Some(Delivery::Message(vec![3])));
        assert_eq!(sub.next().await, Some(Delivery::Message(vec![4])));
    }
}
