//! The `Cache` suite: get/set/delete, overwrites, TTL expiry driven by the clock, and
//! clearing by glob pattern.

use crate::cache::Cache;
use crate::clock::ManualClock;
use std::sync::Arc;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

async fn get(cache: &Arc<dyn Cache>, key: &str) -> Option<Vec<u8>> {
    cache.get(key).await.unwrap()
}

/// A set value reads back byte for byte; a missing key is `None`; setting again
/// replaces the value.
pub async fn set_then_get_round_trips(cache: Arc<dyn Cache>, _clock: ManualClock) {
    assert_eq!(get(&cache, "missing").await, None);

    let binary: Vec<u8> = (0..=255).collect();
    cache.set("binary", binary.clone(), HOUR).await.unwrap();
    cache.set("text", b"hello".to_vec(), HOUR).await.unwrap();
    cache.set("empty", Vec::new(), HOUR).await.unwrap();
    assert_eq!(get(&cache, "binary").await, Some(binary));
    assert_eq!(get(&cache, "text").await, Some(b"hello".to_vec()));
    assert_eq!(get(&cache, "empty").await, Some(Vec::new()));

    cache.set("text", b"replaced".to_vec(), HOUR).await.unwrap();
    assert_eq!(get(&cache, "text").await, Some(b"replaced".to_vec()));
    assert_eq!(get(&cache, "Text").await, None, "keys are case-sensitive");
}

/// `delete` removes only its key and answers whether it was present.
pub async fn delete_reports_presence(cache: Arc<dyn Cache>, _clock: ManualClock) {
    cache.set("a", b"1".to_vec(), HOUR).await.unwrap();
    cache.set("b", b"2".to_vec(), HOUR).await.unwrap();

    assert!(cache.delete("a").await.unwrap());
    assert_eq!(get(&cache, "a").await, None);
    assert!(!cache.delete("a").await.unwrap());
    assert!(!cache.delete("never-set").await.unwrap());
    assert_eq!(get(&cache, "b").await, Some(b"2".to_vec()));

    cache.set("a", b"again".to_vec(), HOUR).await.unwrap();
    assert_eq!(get(&cache, "a").await, Some(b"again".to_vec()));
}

/// An entry is readable until its TTL has passed on the clock, and gone from then on
/// (an expired entry is not present for `delete` either).
pub async fn entries_expire_after_their_ttl(cache: Arc<dyn Cache>, clock: ManualClock) {
    cache
        .set("short", b"s".to_vec(), Duration::from_secs(10))
        .await
        .unwrap();
    cache
        .set("long", b"l".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    cache
        .set("gone", b"g".to_vec(), Duration::from_secs(10))
        .await
        .unwrap();

    clock.advance(Duration::from_millis(9_999));
    assert_eq!(get(&cache, "short").await, Some(b"s".to_vec()));

    clock.advance(Duration::from_millis(1));
    assert_eq!(get(&cache, "short").await, None);
    assert!(!cache.delete("gone").await.unwrap());
    assert_eq!(get(&cache, "long").await, Some(b"l".to_vec()));

    clock.advance(Duration::from_secs(50));
    assert_eq!(get(&cache, "long").await, None);

    // An expired key can be set again with a fresh TTL.
    cache
        .set("short", b"again".to_vec(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(get(&cache, "short").await, Some(b"again".to_vec()));
}

/// Setting a key again replaces its TTL as well as its value.
pub async fn set_replaces_the_ttl(cache: Arc<dyn Cache>, clock: ManualClock) {
    cache
        .set("k", b"v1".to_vec(), Duration::from_secs(10))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(5));
    cache
        .set("k", b"v2".to_vec(), Duration::from_secs(10))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(8));
    assert_eq!(get(&cache, "k").await, Some(b"v2".to_vec()));
    clock.advance(Duration::from_secs(2));
    assert_eq!(get(&cache, "k").await, None);

    // A shorter TTL shortens the entry's life too.
    cache.set("s", b"1".to_vec(), HOUR).await.unwrap();
    cache
        .set("s", b"2".to_vec(), Duration::from_secs(1))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(get(&cache, "s").await, None);
}

/// `clear` removes exactly the keys matching a glob (`*` = any run of characters,
/// including none) and counts them.
pub async fn clear_removes_matching_keys(cache: Arc<dyn Cache>, _clock: ManualClock) {
    let keys = [
        "user:1",
        "user:2",
        "user:",
        "user:1:profile",
        "session:1",
        "session:2:profile",
        "users",
        "other",
    ];
    for key in keys {
        cache.set(key, key.as_bytes().to_vec(), HOUR).await.unwrap();
    }
    let present = |cache: Arc<dyn Cache>| async move {
        let mut found = Vec::new();
        for key in keys {
            if get(&cache, key).await.is_some() {
                found.push(key);
            }
        }
        found
    };

    assert_eq!(cache.clear("nomatch*").await.unwrap(), 0);
    assert_eq!(cache.clear("user:*:profile").await.unwrap(), 1);
    assert_eq!(
        present(cache.clone()).await,
        [
            "user:1",
            "user:2",
            "user:",
            "session:1",
            "session:2:profile",
            "users",
            "other"
        ]
    );
    assert_eq!(cache.clear("user:*").await.unwrap(), 3);
    assert_eq!(
        present(cache.clone()).await,
        ["session:1", "session:2:profile", "users", "other"]
    );
    assert_eq!(cache.clear("*:profile").await.unwrap(), 1);
    assert_eq!(cache.clear("other").await.unwrap(), 1);
    assert_eq!(cache.clear("other").await.unwrap(), 0);
    assert_eq!(present(cache.clone()).await, ["session:1", "users"]);
    assert_eq!(cache.clear("*").await.unwrap(), 2);
    assert!(present(cache.clone()).await.is_empty());
}

/// `clear` does not count entries that had already expired.
pub async fn clear_ignores_expired_entries(cache: Arc<dyn Cache>, clock: ManualClock) {
    cache
        .set("k:old", b"1".to_vec(), Duration::from_secs(1))
        .await
        .unwrap();
    cache.set("k:new", b"2".to_vec(), HOUR).await.unwrap();
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.clear("k:*").await.unwrap(), 1);
    assert_eq!(get(&cache, "k:new").await, None);
}
