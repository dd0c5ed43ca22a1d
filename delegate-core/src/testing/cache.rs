//! The `Cache` suite: get/set/delete, overwrites, TTL expiry, and clearing by glob pattern.
//!
//! Expiry is driven by a [`CacheTime`]: a manual clock the cache reads (instant and exact),
//! or real time for a backend whose expiry runs on a server's clock (Redis), where the cases
//! sleep through TTLs of a few hundred milliseconds.

use crate::cache::Cache;
use crate::clock::ManualClock;
use std::sync::Arc;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

/// How time moves for a cache under test.
#[derive(Debug, Clone)]
pub enum CacheTime {
    /// The cache reads this clock: advancing it is instant, and expiry is checked to the
    /// millisecond.
    Manual(ManualClock),
    /// The cache expires entries in real time (a server's clock): advancing sleeps, and
    /// expiry is checked with a margin for scheduling and round trips.
    Real,
}

impl CacheTime {
    /// The TTL the expiry cases build on: 10 s on a manual clock, 500 ms in real time.
    pub fn unit(&self) -> Duration {
        match self {
            CacheTime::Manual(_) => Duration::from_secs(10),
            CacheTime::Real => Duration::from_millis(500),
        }
    }

    /// How long before its expiry an entry must still be readable: 1 ms on a manual clock
    /// (the exact boundary), 200 ms in real time (room for the set, the read and scheduling).
    pub fn slack(&self) -> Duration {
        match self {
            CacheTime::Manual(_) => Duration::from_millis(1),
            CacheTime::Real => Duration::from_millis(200),
        }
    }

    /// Lets `by` pass: advances the manual clock, or sleeps `by` and 25 ms more (a server
    /// counts a TTL from when it stored the entry, at millisecond precision).
    pub async fn advance(&self, by: Duration) {
        match self {
            CacheTime::Manual(clock) => clock.advance(by),
            CacheTime::Real => tokio::time::sleep(by + Duration::from_millis(25)).await,
        }
    }
}

async fn get(cache: &Arc<dyn Cache>, key: &str) -> Option<Vec<u8>> {
    cache.get(key).await.unwrap()
}

/// A set value reads back byte for byte; a missing key is `None`; setting again
/// replaces the value.
pub async fn set_then_get_round_trips(cache: Arc<dyn Cache>, _time: CacheTime) {
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
pub async fn delete_reports_presence(cache: Arc<dyn Cache>, _time: CacheTime) {
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

/// An entry is readable until its TTL has passed, and gone from then on (an expired entry
/// is not present for `delete` either).
pub async fn entries_expire_after_their_ttl(cache: Arc<dyn Cache>, time: CacheTime) {
    let (unit, slack) = (time.unit(), time.slack());
    cache.set("short", b"s".to_vec(), unit).await.unwrap();
    cache.set("long", b"l".to_vec(), unit * 3).await.unwrap();
    cache.set("gone", b"g".to_vec(), unit).await.unwrap();

    time.advance(unit - slack).await;
    assert_eq!(get(&cache, "short").await, Some(b"s".to_vec()));

    time.advance(slack).await;
    assert_eq!(get(&cache, "short").await, None);
    assert!(!cache.delete("gone").await.unwrap());
    assert_eq!(get(&cache, "long").await, Some(b"l".to_vec()));

    time.advance(unit * 2).await;
    assert_eq!(get(&cache, "long").await, None);

    // An expired key can be set again with a fresh TTL.
    cache.set("short", b"again".to_vec(), unit).await.unwrap();
    assert_eq!(get(&cache, "short").await, Some(b"again".to_vec()));
}

/// Setting a key again replaces its TTL as well as its value.
pub async fn set_replaces_the_ttl(cache: Arc<dyn Cache>, time: CacheTime) {
    let (unit, slack) = (time.unit(), time.slack());
    cache.set("k", b"v1".to_vec(), unit * 2).await.unwrap();
    time.advance(unit).await;
    cache.set("k", b"v2".to_vec(), unit * 2).await.unwrap();
    // Past the first TTL, before the second.
    time.advance(unit * 2 - slack).await;
    assert_eq!(get(&cache, "k").await, Some(b"v2".to_vec()));
    time.advance(slack).await;
    assert_eq!(get(&cache, "k").await, None);

    // A shorter TTL shortens the entry's life too.
    cache.set("s", b"1".to_vec(), HOUR).await.unwrap();
    cache.set("s", b"2".to_vec(), unit).await.unwrap();
    time.advance(unit).await;
    assert_eq!(get(&cache, "s").await, None);
}

/// `clear` removes exactly the keys matching a glob (`*` = any run of characters,
/// including none) and counts them.
pub async fn clear_removes_matching_keys(cache: Arc<dyn Cache>, _time: CacheTime) {
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

/// In a `clear` pattern only `*` is special: `?`, `[`, `]` and `\` match themselves.
pub async fn clear_treats_only_star_as_a_wildcard(cache: Arc<dyn Cache>, _time: CacheTime) {
    let keys = [
        "a?c", "abc", "a[b]c", "ab", "x\\y", "x\\*", "xy", "{tag}k", "k",
    ];
    for key in keys {
        cache.set(key, key.as_bytes().to_vec(), HOUR).await.unwrap();
    }
    assert_eq!(cache.clear("a?c").await.unwrap(), 1);
    assert_eq!(cache.clear("a[b]c").await.unwrap(), 1);
    assert_eq!(cache.clear("a[b]*").await.unwrap(), 0);
    assert_eq!(cache.clear("x\\*").await.unwrap(), 2);
    assert_eq!(cache.clear("{tag}*").await.unwrap(), 1);
    let mut left = Vec::new();
    for key in keys {
        if get(&cache, key).await.is_some() {
            left.push(key);
        }
    }
    assert_eq!(left, ["abc", "ab", "xy", "k"]);
}

/// `clear` does not count entries that had already expired.
pub async fn clear_ignores_expired_entries(cache: Arc<dyn Cache>, time: CacheTime) {
    let unit = time.unit();
    cache.set("k:old", b"1".to_vec(), unit).await.unwrap();
    cache.set("k:new", b"2".to_vec(), HOUR).await.unwrap();
    time.advance(unit).await;
    assert_eq!(cache.clear("k:*").await.unwrap(), 1);
    assert_eq!(get(&cache, "k:new").await, None);
}
