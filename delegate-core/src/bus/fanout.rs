//! In-process fan-out of deliveries to the subscribers of each topic: the last hop of every
//! bus (a broadcast channel per topic; a subscriber that falls behind is told of the gap).

use super::{Delivery, Subscription};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// The subscribers of this process, by topic.
pub(crate) struct Fanout {
    topics: Mutex<HashMap<String, broadcast::Sender<Delivery>>>,
    buffer: usize,
}

impl Fanout {
    /// Keeps up to `buffer` undelivered payloads per subscriber.
    pub(crate) fn new(buffer: usize) -> Self {
        Self {
            topics: Mutex::new(HashMap::new()),
            buffer: buffer.max(1),
        }
    }

    fn sender(&self, topic: &str) -> broadcast::Sender<Delivery> {
        self.topics
            .lock()
            .expect("fan-out lock")
            .entry(topic.to_owned())
            .or_insert_with(|| broadcast::channel(self.buffer).0)
            .clone()
    }

    /// Delivers `payload` to the topic's current subscribers (none is fine).
    pub(crate) fn deliver(&self, topic: &str, payload: Vec<u8>) {
        let sender = self
            .topics
            .lock()
            .expect("fan-out lock")
            .get(topic)
            .cloned();
        if let Some(sender) = sender {
            let _ = sender.send(Delivery::Message(payload));
        }
    }

    /// Tells every subscriber of every topic that payloads may have been lost.
    pub(crate) fn gap_all(&self) {
        let senders: Vec<_> = self
            .topics
            .lock()
            .expect("fan-out lock")
            .values()
            .cloned()
            .collect();
        for sender in senders {
            let _ = sender.send(Delivery::Gap);
        }
    }

    /// A subscription to `topic`: what is delivered from now on.
    pub(crate) fn subscribe(&self, topic: &str) -> Subscription {
        let receiver = self.sender(topic).subscribe();
        futures::stream::unfold(receiver, |mut rx| async move {
            let delivery = match rx.recv().await {
                Ok(delivery) => delivery,
                Err(broadcast::error::RecvError::Lagged(_)) => Delivery::Gap,
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((delivery, rx))
        })
        .boxed()
    }
}
