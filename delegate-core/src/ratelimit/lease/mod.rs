//! Leased permits: an instance takes a batch of admissions from a shared sliding window in
//! one call, spends them in process, and settles them (real times written back, unspent ones
//! returned) with its next call for the key — so a busy client costs one shared-store round
//! trip per batch rather than per request, and the window's bound stays exact.
//!
//! Why the bound holds: a permit is an entry in the shared window from the moment it is
//! leased. The first permit of a lease is spent at once and entered at its real time; the
//! others are entered at the lease's end (`hold_until`), the latest moment they may be spent,
//! so each one stays in the window at least as long as the request that spends it would.
//! Settling only moves an entry back to its request's real time or removes an unspent one.
//! Every lease is granted against the entries in the window, so at no moment does the window
//! hold more than `limit` entries, and every admitted request has its own entry for its whole
//! window. The cost is refusing a little early: permits another instance holds unspent (at
//! most [`max_batch`] per instance and key, until its lease ends) and spent ones not yet
//! settled (counted up to [`hold`] longer than their request).

use super::{RateDecision, RateLimiter};
use crate::clock::Clock;
use crate::error::Result;
use crate::hashing::FastHash;
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// The most permits one lease carries.
pub const MAX_BATCH: u32 = 64;
/// The longest a lease's permits may be spent after it is granted.
pub const MAX_HOLD_MS: i64 = 1_000;
/// Keys whose windows are held in process at once (idle ones go first).
const MAX_KEYS: u64 = 1_000_000;

/// The largest batch leased for a key with this `limit`: a sixteenth of it, at most
/// [`MAX_BATCH`], at least 1 (so limits under 32 are counted a request at a time).
pub fn max_batch(limit: u32) -> u32 {
    (limit / 16).clamp(1, MAX_BATCH)
}

/// How long a lease's permits may be spent: a tenth of the window, at most [`MAX_HOLD_MS`].
pub fn hold(window_ms: i64) -> i64 {
    (window_ms / 10).clamp(1, MAX_HOLD_MS)
}

/// What a lease asks of the shared window, all times in ms by the instance's clock.
#[derive(Debug, Clone, Copy)]
pub struct LeaseRequest<'a> {
    /// Now.
    pub now: i64,
    /// The window's length.
    pub window: i64,
    /// At most this many entries in any window.
    pub limit: u32,
    /// Permits wanted (granted as far as the window has room, maybe none).
    pub want: u32,
    /// The new lease's id (its entries are `{id}:{index}`).
    pub lease: &'a str,
    /// When the new lease's permits stop being spendable (their entries' time).
    pub hold_until: i64,
    /// The previous lease of this key, settled first.
    pub settle: Option<&'a Settlement>,
}

/// A finished lease: which of its entries were spent when, and which go back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The lease's id.
    pub lease: String,
    /// Permits it carried (entry 0 was spent when it was granted).
    pub granted: u32,
    /// When entries 1, 2, … were spent (the rest, up to `granted`, were not).
    pub spent_at: Vec<i64>,
}

/// The shared window's answer to a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Permits granted (0: the window is full).
    pub granted: u32,
    /// Entries in the window after the grant.
    pub count: u32,
    /// The oldest entry's time, if any.
    pub oldest: Option<i64>,
    /// The newest entry's time before the new lease's unspent permits were added.
    pub newest: Option<i64>,
}

/// A sliding window shared by every instance (a Redis sorted set per key).
#[async_trait]
pub trait SharedWindow: Send + Sync + 'static {
    /// Settles `request.settle`, drops entries out of the window, grants up to
    /// `request.want` permits as room allows, and says how the window stands, atomically.
    async fn lease(&self, key: &str, request: LeaseRequest<'_>) -> Result<Grant>;
    /// Settles a lease without taking a new one.
    async fn settle(&self, key: &str, settlement: &Settlement) -> Result<()>;
    /// Empties the key's window.
    async fn clear(&self, key: &str) -> Result<()>;
}

/// The lease currently held for a key.
#[derive(Debug)]
struct Lease {
    id: String,
    granted: u32,
    spent_at: Vec<i64>,
    hold_until: i64,
    /// Room left in the window for others when it was granted.
    room: u32,
}

impl Lease {
    fn unspent(&self) -> u32 {
        self.granted - 1 - self.spent_at.len() as u32
    }

    fn settlement(self) -> Settlement {
        Settlement {
            lease: self.id,
            granted: self.granted,
            spent_at: self.spent_at,
        }
    }
}

/// One key's state in this process.
#[derive(Debug, Default)]
struct KeyState {
    window: i64,
    lease: Option<Lease>,
    /// A refusal, trusted until `until` (at most a hold): `(until, retry_at, reset_at)`.
    refused: Option<(i64, i64, i64)>,
}

impl KeyState {
    /// Spends a permit of the lease held, or repeats a refusal still trusted; `None` when
    /// neither can answer and a new lease is needed.
    fn answer(&mut self, now: i64, window: Duration, limit: u32) -> Option<RateDecision> {
        let window_ms = millis(window);
        if self.window != window_ms {
            // New, or the same key used with another window (a configuration change).
            self.window = window_ms;
            self.refused = None;
        }
        if let Some(lease) = self.lease.as_mut()
            && now < lease.hold_until
            && lease.unspent() > 0
        {
            lease.spent_at.push(now);
            return Some(RateDecision {
                allowed: true,
                limit,
                remaining: lease.room + lease.unspent(),
                retry_after: Duration::ZERO,
                reset_after: window,
            });
        }
        if let Some((trusted_until, retry_at, reset_at)) = self.refused {
            if now < trusted_until {
                return Some(refusal(limit, retry_at, reset_at, now));
            }
            self.refused = None;
        }
        None
    }
}

/// One key in this process: its state, read and spent under a plain lock (never held across
/// an await), and the lock that lets one request at a time lease for it.
#[derive(Default)]
struct KeySlot {
    state: Mutex<KeyState>,
    leasing: tokio::sync::Mutex<()>,
}

impl KeySlot {
    fn state(&self) -> MutexGuard<'_, KeyState> {
        // Nothing panics while holding it; should something, its state is still whole.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

type Slot = Arc<KeySlot>;

/// A lease with permits outstanding, to be settled when it ends if nothing else does.
struct Ending {
    hold_until: i64,
    key: String,
    slot: Weak<KeySlot>,
    lease: String,
}

/// A [`RateLimiter`] that leases permits from a [`SharedWindow`].
pub struct LeasedLimiter<W: SharedWindow> {
    inner: Arc<Inner<W>>,
}

struct Inner<W> {
    window: W,
    clock: Arc<dyn Clock>,
    keys: moka::sync::Cache<String, Slot, FastHash>,
    /// Unique per process, so lease ids of two instances never meet.
    instance: String,
    next_lease: AtomicU64,
    /// Leases with permits outstanding.
    ending: Mutex<Vec<Ending>>,
    sweeper: std::sync::Once,
}

impl<W: SharedWindow> LeasedLimiter<W> {
    /// A limiter over `window`, timed by `clock`.
    pub fn new(window: W, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                window,
                clock,
                keys: moka::sync::Cache::builder()
                    .max_capacity(MAX_KEYS)
                    .time_to_idle(Duration::from_secs(600))
                    .build_with_hasher(FastHash::default()),
                instance: uuid::Uuid::new_v4().simple().to_string(),
                next_lease: AtomicU64::new(0),
                ending: Mutex::new(Vec::new()),
                sweeper: std::sync::Once::new(),
            }),
        }
    }
}

impl<W: SharedWindow> Inner<W> {
    fn slot(&self, key: &str) -> Slot {
        match self.keys.get(key) {
            Some(slot) => slot,
            None => self.keys.entry_by_ref(key).or_default().into_value(),
        }
    }

    /// The permits to ask for, from how the last lease went: twice as many when it ran out
    /// before its end, as many as were spent when it did not (1 for a new key).
    fn want(last: Option<&Lease>, now: i64, limit: u32) -> u32 {
        let want = match last {
            None => 1,
            Some(lease) if lease.unspent() == 0 && now < lease.hold_until => {
                lease.granted.saturating_mul(2)
            }
            Some(lease) => lease.granted - lease.unspent(),
        };
        want.clamp(1, max_batch(limit))
    }

    fn note_ending(self: &Arc<Self>, key: &str, slot: &Slot, lease: &Lease) {
        self.ending.lock().expect("lease list").push(Ending {
            hold_until: lease.hold_until,
            key: key.to_owned(),
            slot: Arc::downgrade(slot),
            lease: lease.id.clone(),
        });
        self.sweeper.call_once(|| {
            let weak = Arc::downgrade(self);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(MAX_HOLD_MS as u64));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { return };
                    inner.settle_ended().await;
                }
            });
        });
    }

    /// Settles the leases that ended with no later request to settle them.
    async fn settle_ended(&self) {
        let now = self.clock.now().timestamp_millis();
        let ended: Vec<_> = {
            let mut ending = self.ending.lock().expect("lease list");
            let (ended, pending) = ending.drain(..).partition(|e| e.hold_until <= now);
            *ending = pending;
            ended
        };
        for Ending {
            key, slot, lease, ..
        } in ended
        {
            let Some(slot) = slot.upgrade() else { continue };
            let settlement = {
                let mut state = slot.state();
                match &state.lease {
                    Some(held) if held.id == lease && held.hold_until <= now => {
                        state.lease.take().map(Lease::settlement)
                    }
                    _ => None,
                }
            };
            if let Some(settlement) = settlement
                && let Err(e) = self.window.settle(&key, &settlement).await
            {
                // Its entries stay until they leave the window: early refusals, never more.
                tracing::debug!(error = %e.report(), "could not settle a rate-limit lease");
            }
        }
    }
}

/// A refusal at `now` that clears at `retry_at`, the window empty at `reset_at` (ms).
fn refusal(limit: u32, retry_at: i64, reset_at: i64, now: i64) -> RateDecision {
    RateDecision {
        allowed: false,
        limit,
        remaining: 0,
        retry_after: until(retry_at, now),
        reset_after: until(reset_at, now),
    }
}

/// A window's length in ms, rounded up, so a window never shrinks below what was asked for.
fn millis(window: Duration) -> i64 {
    i64::try_from(window.as_nanos().div_ceil(1_000_000)).unwrap_or(i64::MAX)
}

fn until(at: i64, now: i64) -> Duration {
    Duration::from_millis(u64::try_from(at.saturating_sub(now)).unwrap_or_default())
}

#[async_trait]
impl<W: SharedWindow> RateLimiter for LeasedLimiter<W> {
    async fn check(&self, key: &str, limit: u32, window: Duration) -> Result<RateDecision> {
        let inner = &self.inner;
        let window_ms = millis(window);
        let slot = inner.slot(key);
        let now = inner.clock.now().timestamp_millis();
        if let Some(decision) = slot.state().answer(now, window, limit) {
            return Ok(decision);
        }
        // One lease at a time per key; whoever waited may find the new lease has room.
        let _leasing = slot.leasing.lock().await;
        let now = inner.clock.now().timestamp_millis();
        let last = {
            let mut state = slot.state();
            if let Some(decision) = state.answer(now, window, limit) {
                return Ok(decision);
            }
            state.lease.take()
        };
        let want = Inner::<W>::want(last.as_ref(), now, limit);
        let settle = last.map(Lease::settlement);
        let id = format!(
            "{}{}",
            inner.instance,
            inner.next_lease.fetch_add(1, Ordering::Relaxed)
        );
        let hold_until = now.saturating_add(hold(window_ms));
        let grant = inner
            .window
            .lease(
                key,
                LeaseRequest {
                    now,
                    window: window_ms,
                    limit,
                    want,
                    lease: &id,
                    hold_until,
                    settle: settle.as_ref(),
                },
            )
            .await?;
        let gone = |at: Option<i64>| at.map_or(Duration::ZERO, |t| until(t + window_ms, now));
        if grant.granted == 0 {
            let retry_at = grant.oldest.map_or(now + window_ms, |t| t + window_ms);
            let reset_at = grant.newest.map_or(now, |t| t + window_ms);
            slot.state().refused = Some((retry_at.min(hold_until), retry_at, reset_at));
            return Ok(refusal(limit, retry_at, reset_at, now));
        }
        let lease = Lease {
            id,
            granted: grant.granted,
            spent_at: Vec::new(),
            hold_until,
            room: limit.saturating_sub(grant.count),
        };
        let decision = RateDecision {
            allowed: true,
            limit,
            remaining: lease.room + lease.unspent(),
            retry_after: Duration::ZERO,
            reset_after: gone(grant.newest),
        };
        if lease.granted > 1 {
            inner.note_ending(key, &slot, &lease);
        }
        slot.state().lease = Some(lease);
        Ok(decision)
    }

    async fn reset(&self, key: &str) -> Result<()> {
        if let Some(slot) = self.inner.keys.get(key) {
            let _leasing = slot.leasing.lock().await;
            *slot.state() = KeyState::default();
        }
        self.inner.window.clear(key).await
    }
}

/// The most admissions in any window of `window` ms that ends at one, given their times
/// in ascending order: what a limiter's bound is checked against in tests.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn densest(admitted: &[i64], window: i64) -> usize {
    let mut densest = 0;
    let mut start = 0;
    for (end, t) in admitted.iter().enumerate() {
        while admitted[start] <= t - window {
            start += 1;
        }
        densest = densest.max(end - start + 1);
    }
    densest
}

#[cfg(test)]
mod tests;
