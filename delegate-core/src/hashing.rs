//! The hasher of the in-process maps and caches a request looks things up in.

/// foldhash's quality hasher, seeded at random per map: several times faster than the
/// standard library's SipHash on the short keys these maps hold (ids, tokens, cache keys),
/// and randomly seeded, so a client cannot choose keys that all collide.
pub(crate) type FastHash = foldhash::quality::RandomState;
