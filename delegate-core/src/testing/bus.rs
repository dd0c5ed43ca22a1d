//! The `EventBus` suite: fan-out to every subscriber, topic isolation, ordering, byte-exact
//! payloads and subscribers that come and go. Topics carry a random suffix so runs sharing
//! one bus (a Redis server) do not see each other.

use crate::bus::{Delivery, EventBus, Subscription};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// How long a case waits for a payload that must arrive before calling the bus broken.
/// Only a safety net against hanging: no case depends on timing.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

fn topic(name: &str) -> String {
    format!("conformance:{name}:{}", uuid::Uuid::new_v4())
}

async fn next(sub: &mut Subscription) -> Vec<u8> {
    let delivery = tokio::time::timeout(DELIVERY_TIMEOUT, sub.next())
        .await
        .expect("no payload delivered in time")
        .expect("subscription ended");
    match delivery {
        Delivery::Message(payload) => payload,
        Delivery::Gap => panic!("a gap was reported where nothing was lost"),
    }
}

async fn next_n(sub: &mut Subscription, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        got.push(next(sub).await);
    }
    got
}

fn payloads(texts: &[&str]) -> Vec<Vec<u8>> {
    texts.iter().map(|t| t.as_bytes().to_vec()).collect()
}

/// Every subscriber of a topic receives every payload published on it, in publish order.
pub async fn delivers_to_every_subscriber_in_order(bus: Arc<dyn EventBus>) {
    let topic = topic("fanout");
    let mut subs = Vec::new();
    for _ in 0..3 {
        subs.push(bus.subscribe(&topic).await.unwrap());
    }
    let sent: Vec<Vec<u8>> = (0..50).map(|i| format!("event-{i}").into_bytes()).collect();
    for payload in &sent {
        bus.publish(&topic, payload.clone()).await.unwrap();
    }
    for sub in &mut subs {
        assert_eq!(next_n(sub, sent.len()).await, sent);
    }
}

/// A subscriber receives only its own topic's payloads.
pub async fn topics_are_isolated(bus: Arc<dyn EventBus>) {
    let (a, b) = (topic("a"), topic("b"));
    let mut on_a = bus.subscribe(&a).await.unwrap();
    let mut on_b = bus.subscribe(&b).await.unwrap();

    // Interleaved, so a leak in either direction shows up among the first payloads.
    bus.publish(&a, b"a1".to_vec()).await.unwrap();
    bus.publish(&b, b"b1".to_vec()).await.unwrap();
    bus.publish(&a, b"a2".to_vec()).await.unwrap();
    bus.publish(&a, b"a3".to_vec()).await.unwrap();
    bus.publish(&b, b"b2".to_vec()).await.unwrap();
    // A topic sharing a prefix is another topic.
    bus.publish(&format!("{a}:sub"), b"x".to_vec())
        .await
        .unwrap();
    bus.publish(&a, b"a4".to_vec()).await.unwrap();

    assert_eq!(
        next_n(&mut on_a, 4).await,
        payloads(&["a1", "a2", "a3", "a4"])
    );
    assert_eq!(next_n(&mut on_b, 2).await, payloads(&["b1", "b2"]));
}

/// Publishing with no subscriber succeeds; a later subscriber gets what is published after
/// it subscribed. (In a Redis Cluster a payload published just before may still be in flight
/// between nodes and arrive too: pub/sub promises nothing about earlier payloads.)
pub async fn publish_without_subscribers_is_fine(bus: Arc<dyn EventBus>) {
    let topic = topic("late");
    bus.publish(&topic, b"nobody listens".to_vec())
        .await
        .unwrap();
    let mut sub = bus.subscribe(&topic).await.unwrap();
    bus.publish(&topic, b"first".to_vec()).await.unwrap();
    let mut got = next(&mut sub).await;
    if got == b"nobody listens" {
        got = next(&mut sub).await;
    }
    assert_eq!(got, b"first".to_vec());
}

/// Payloads arrive byte for byte, whatever the bytes and size.
pub async fn payloads_arrive_byte_for_byte(bus: Arc<dyn EventBus>) {
    let topic = topic("bytes");
    let mut sub = bus.subscribe(&topic).await.unwrap();
    let sent = vec![
        (0..=255).collect::<Vec<u8>>(),
        Vec::new(),
        "ünïcødé ✓".as_bytes().to_vec(),
        (0..64 * 1024).map(|i| (i % 251) as u8).collect(),
    ];
    for payload in &sent {
        bus.publish(&topic, payload.clone()).await.unwrap();
    }
    assert_eq!(next_n(&mut sub, sent.len()).await, sent);
}

/// Dropping one subscription affects neither publishing nor the other subscribers.
pub async fn dropped_subscriber_does_not_affect_others(bus: Arc<dyn EventBus>) {
    let topic = topic("drop");
    let dropped = bus.subscribe(&topic).await.unwrap();
    let mut kept = bus.subscribe(&topic).await.unwrap();
    bus.publish(&topic, b"before".to_vec()).await.unwrap();
    drop(dropped);
    bus.publish(&topic, b"after".to_vec()).await.unwrap();
    assert_eq!(next_n(&mut kept, 2).await, payloads(&["before", "after"]));

    let mut fresh = bus.subscribe(&topic).await.unwrap();
    drop(kept);
    bus.publish(&topic, b"again".to_vec()).await.unwrap();
    assert_eq!(next(&mut fresh).await, b"again".to_vec());
}

/// Payloads published concurrently from many tasks all reach a subscriber, each
/// publisher's in its own order.
pub async fn concurrent_publishers_are_all_delivered(bus: Arc<dyn EventBus>) {
    let topic = topic("concurrent");
    let mut sub = bus.subscribe(&topic).await.unwrap();
    let (publishers, each) = (4, 25);
    let tasks: Vec<_> = (0..publishers)
        .map(|p| {
            let (bus, topic) = (bus.clone(), topic.clone());
            tokio::spawn(async move {
                for i in 0..each {
                    bus.publish(&topic, format!("{p}:{i}").into_bytes())
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in futures::future::join_all(tasks).await {
        task.expect("publisher panicked");
    }

    let mut seen = vec![0; publishers];
    for _ in 0..publishers * each {
        let payload = String::from_utf8(next(&mut sub).await).expect("utf-8 payload");
        let (p, i) = payload.split_once(':').expect("publisher:index");
        let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, seen[p], "publisher {p}'s payloads arrived out of order");
        seen[p] += 1;
    }
    assert_eq!(seen, vec![each; publishers]);
}
