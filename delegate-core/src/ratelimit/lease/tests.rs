//! The lease protocol against an in-memory shared window that does what the Redis script
//! does: the bound across instances in every window, round trips per request for a hot
//! client, and unspent permits returned when a lease ends.

use super::*;
use crate::backend::memory::MemoryRateLimiter;
use crate::clock::ManualClock;
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;

/// The Redis script's semantics over a map of `(member, score)` logs, counting calls.
#[derive(Default)]
struct Window {
    logs: Mutex<HashMap<String, Vec<(String, i64)>>>,
    calls: AtomicUsize,
}

impl Window {
    fn settle_in(log: &mut Vec<(String, i64)>, s: &Settlement) {
        for (i, at) in s.spent_at.iter().enumerate() {
            let member = format!("{}:{}", s.lease, i + 1);
            if let Some(entry) = log.iter_mut().find(|(m, _)| *m == member) {
                entry.1 = *at;
            }
        }
        let spent = s.spent_at.len() as u32;
        for i in spent + 1..s.granted {
            let member = format!("{}:{i}", s.lease);
            log.retain(|(m, _)| *m != member);
        }
    }

    fn scores(&self, key: &str) -> Vec<i64> {
        let mut scores: Vec<i64> = self.logs.lock().unwrap()[key]
            .iter()
            .map(|(_, s)| *s)
            .collect();
        scores.sort_unstable();
        scores
    }
}

#[async_trait]
impl SharedWindow for Arc<Window> {
    async fn lease(&self, key: &str, r: LeaseRequest<'_>) -> Result<Grant> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut logs = self.logs.lock().unwrap();
        let log = logs.entry(key.to_owned()).or_default();
        if let Some(s) = r.settle {
            Window::settle_in(log, s);
        }
        log.retain(|(_, score)| *score > r.now - r.window);
        let count = log.len() as u32;
        let granted = r.want.min(r.limit.saturating_sub(count));
        if granted > 0 {
            log.push((format!("{}:0", r.lease), r.now));
        }
        let oldest = log.iter().map(|(_, s)| *s).min();
        let newest = log.iter().map(|(_, s)| *s).max();
        for i in 1..granted {
            log.push((format!("{}:{i}", r.lease), r.hold_until));
        }
        Ok(Grant {
            granted,
            count: log.len() as u32,
            oldest,
            newest,
        })
    }

    async fn settle(&self, key: &str, s: &Settlement) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut logs = self.logs.lock().unwrap();
        Window::settle_in(logs.entry(key.to_owned()).or_default(), s);
        Ok(())
    }

    async fn clear(&self, key: &str) -> Result<()> {
        self.logs.lock().unwrap().remove(key);
        Ok(())
    }
}

fn instances(n: usize) -> (Arc<Window>, ManualClock, Vec<LeasedLimiter<Arc<Window>>>) {
    let window = Arc::new(Window::default());
    let clock = ManualClock::default();
    let limiters = (0..n)
        .map(|_| LeasedLimiter::new(window.clone(), Arc::new(clock.clone())))
        .collect();
    (window, clock, limiters)
}

/// A small deterministic generator (xorshift), so a failure replays.
struct Steps(u64);

impl Steps {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test]
async fn instances_never_admit_more_than_the_limit_in_any_window() {
    const LIMIT: u32 = 320;
    const WINDOW_MS: i64 = 10_000;
    let (_, clock, limiters) = instances(3);
    let exact = MemoryRateLimiter::new(Arc::new(clock.clone()));
    let window = Duration::from_millis(WINDOW_MS as u64);
    let mut steps = Steps(0x9e37_79b9_7f4a_7c15);
    let (mut admitted, mut exactly) = (Vec::new(), 0usize);
    // Bursts of up to 8 requests per instance every 1–40 ms for a minute: about 2.5 times
    // the limit's rate, with quiet spells and bursts at window edges.
    let mut now = 0;
    while now < 60_000 {
        let step = 1 + steps.below(40) as i64;
        clock.advance(Duration::from_millis(step as u64));
        now += step;
        for limiter in &limiters {
            for _ in 0..steps.below(9) {
                if limiter.check("k", LIMIT, window).await.unwrap().allowed {
                    admitted.push(now);
                }
                exactly += usize::from(exact.check("k", LIMIT, window).await.unwrap().allowed);
            }
        }
    }
    let densest = densest(&admitted, WINDOW_MS);
    println!(
        "{} admitted across three instances against {exactly} by one exact limiter; \
         densest window {densest}",
        admitted.len()
    );
    assert!(densest <= LIMIT as usize, "{densest} in one window");
    assert!(
        admitted.len() * 100 >= exactly * 90,
        "refuses early by at most a tenth here"
    );
}

#[tokio::test]
async fn a_hot_client_costs_a_shared_call_per_batch_and_a_cold_one_stays_exact() {
    let (window, clock, limiters) = instances(1);
    let limiter = &limiters[0];
    let minute = Duration::from_secs(60);
    for _ in 0..10_000 {
        clock.advance(Duration::from_micros(100));
        assert!(
            limiter
                .check("hot", 1_000_000, minute)
                .await
                .unwrap()
                .allowed
        );
    }
    let calls = window.calls.load(Ordering::SeqCst);
    assert!(
        calls <= 10_000 / 50,
        "{calls} shared calls for 10,000 requests"
    );

    let before = window.calls.load(Ordering::SeqCst);
    for _ in 0..5 {
        clock.advance(Duration::from_secs(2));
        assert!(
            limiter
                .check("cold", 1_000_000, minute)
                .await
                .unwrap()
                .allowed
        );
    }
    assert_eq!(window.calls.load(Ordering::SeqCst) - before, 5);
    let start = clock.now().timestamp_millis() - 8_000;
    assert_eq!(
        window.scores("cold"),
        (0..5).map(|i| start + i * 2_000).collect::<Vec<_>>(),
        "one permit at a time, entered at its real time"
    );
}

#[tokio::test]
async fn unspent_permits_go_back_when_the_lease_ends_and_spent_ones_get_their_times() {
    let (window, clock, limiters) = instances(2);
    let (a, b) = (&limiters[0], &limiters[1]);
    let minute = Duration::from_secs(60);
    // A grows a lease of 8 (1, 2, 4, 8) and spends 3 of its last lease's permits.
    let mut spent = Vec::new();
    for _ in 0..10 {
        clock.advance(Duration::from_millis(1));
        assert!(a.check("k", 160, minute).await.unwrap().allowed);
        spent.push(clock.now().timestamp_millis());
    }
    assert_eq!(window.scores("k").len(), 15, "10 spent, 5 held");
    // B takes the rest of the window and is refused while A holds its permits.
    for _ in 0..145 {
        assert!(b.check("k", 160, minute).await.unwrap().allowed);
    }
    clock.advance(Duration::from_millis(MAX_HOLD_MS as u64));
    let refused = b.check("k", 160, minute).await.unwrap();
    assert!(!refused.allowed);
    // A's lease ended: its sweep returns the 5 and moves the 3 to when they were spent.
    a.inner.settle_ended().await;
    let scores = window.scores("k");
    assert_eq!(scores.len(), 155);
    assert_eq!(&scores[..10], spent.as_slice());
    // B's refusal is trusted for at most a hold; then the returned permits are B's.
    clock.advance(Duration::from_millis(MAX_HOLD_MS as u64));
    let mut more = 0;
    while b.check("k", 160, minute).await.unwrap().allowed {
        more += 1;
    }
    assert_eq!(more, 5);
}

#[tokio::test]
async fn reset_drops_the_leases_with_the_window() {
    let (window, clock, limiters) = instances(1);
    let limiter = &limiters[0];
    let minute = Duration::from_secs(60);
    for _ in 0..40 {
        clock.advance(Duration::from_millis(1));
        limiter.check("k", 40, minute).await.unwrap();
    }
    assert!(!limiter.check("k", 40, minute).await.unwrap().allowed);
    limiter.reset("k").await.unwrap();
    let fresh = limiter.check("k", 40, minute).await.unwrap();
    assert!(fresh.allowed);
    assert_eq!(fresh.remaining, 39);
    assert_eq!(window.scores("k").len(), 1);
}

#[tokio::test]
async fn permits_spent_late_in_an_unsettled_lease_still_count_for_their_whole_window() {
    const LIMIT: u32 = 160;
    let (_, clock, limiters) = instances(2);
    let (a, b) = (&limiters[0], &limiters[1]);
    let window = Duration::from_secs(10);
    let mut admitted = Vec::new();
    // A's leases grow to 10 within a millisecond; it spends the last lease's held permits
    // 900 ms later, then goes quiet (its lease is never settled).
    for _ in 0..17 {
        assert!(a.check("k", LIMIT, window).await.unwrap().allowed);
        admitted.push(clock.now().timestamp_millis());
    }
    clock.advance(Duration::from_millis(900));
    for _ in 0..8 {
        assert!(a.check("k", LIMIT, window).await.unwrap().allowed);
        admitted.push(clock.now().timestamp_millis());
    }
    // B takes what is left, then bursts again just after the first spends left the window.
    for pause in [50, 9_100, 10, 10, 10, 100, 500] {
        clock.advance(Duration::from_millis(pause));
        while b.check("k", LIMIT, window).await.unwrap().allowed {
            admitted.push(clock.now().timestamp_millis());
        }
    }
    admitted.sort_unstable();
    let densest = densest(&admitted, 10_000);
    assert!(densest <= LIMIT as usize, "{densest} in one window");
}
