//! The in-process `EventBus`: one broadcast channel per topic (one instance only).

use crate::bus::fanout::Fanout;
use crate::bus::{EventBus, Subscription};
use crate::error::Result;
use async_trait::async_trait;

/// Pub/sub within this process. A subscriber that falls more than the buffer behind skips
/// the oldest payloads and gets a [`crate::bus::Delivery::Gap`].
pub struct MemoryBus {
    fanout: Fanout,
}

impl MemoryBus {
    /// A bus keeping up to `buffer` undelivered payloads per subscriber.
    pub fn new(buffer: usize) -> Self {
        Self {
            fanout: Fanout::new(buffer),
        }
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
        self.fanout.deliver(topic, payload);
        Ok(())
    }

    async fn subscribe(&self, topic: &str) -> Result<Subscription> {
        Ok(self.fanout.subscribe(topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Delivery;
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
