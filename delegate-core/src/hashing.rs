//! The hasher of the in-process maps and caches a request looks things up in, and the bounded
//! map built on it for memos that need no expiry of their own.

/// foldhash's quality hasher, seeded at random per map: several times faster than the
/// standard library's SipHash on the short keys these maps hold (ids, tokens, cache keys),
/// and randomly seeded, so a client cannot choose keys that all collide.
pub(crate) type FastHash = foldhash::quality::RandomState;

/// A concurrent map of at most a given number of entries, which pushes out the least useful
/// when full (quick_cache's S3-FIFO): for memos whose entries are checked when read, so they
/// need a bound on memory but no expiry. A read takes a shard's read lock and no more, where
/// moka also logs the read for its policy and reads the clock (about a thousand instructions
/// a lookup, several lookups a request).
pub(crate) type BoundedMap<K, V> =
    quick_cache::sync::Cache<K, V, quick_cache::UnitWeighter, FastHash>;

/// A [`BoundedMap`] of at most `capacity` entries.
pub(crate) fn bounded_map<K, V>(capacity: usize) -> BoundedMap<K, V>
where
    K: Eq + std::hash::Hash,
    V: Clone,
{
    quick_cache::sync::Cache::with(
        capacity,
        capacity as u64,
        quick_cache::UnitWeighter,
        FastHash::default(),
        Default::default(),
    )
}
