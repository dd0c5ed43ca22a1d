//! The `RateLimiter` suite: exact admission counts, remaining and retry times, the sliding
//! window (moved by the clock), independent keys, concurrent checks and resets.

use crate::clock::{Clock, ManualClock};
use crate::ratelimit::{RateDecision, RateLimiter};
use futures::future::join_all;
use std::sync::Arc;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn check(
    limiter: &Arc<dyn RateLimiter>,
    key: &str,
    limit: u32,
    window: Duration,
) -> RateDecision {
    limiter.check(key, limit, window).await.unwrap()
}

/// Exactly `limit` requests are admitted in a window, counting `remaining` down; the next
/// is refused with `remaining` 0 and a `retry_after` of the time until the oldest admitted
/// request leaves the window.
pub async fn admits_exactly_the_limit(limiter: Arc<dyn RateLimiter>, _clock: ManualClock) {
    for expected_remaining in [2, 1, 0] {
        let decision = check(&limiter, "k", 3, MINUTE).await;
        assert_eq!(
            decision,
            RateDecision {
                allowed: true,
                limit: 3,
                remaining: expected_remaining,
                retry_after: Duration::ZERO,
                reset_after: MINUTE,
            }
        );
    }
    for _ in 0..3 {
        let decision = check(&limiter, "k", 3, MINUTE).await;
        assert!(!decision.allowed, "{decision:?}");
        assert_eq!(decision.limit, 3);
        assert_eq!(decision.remaining, 0);
        assert_eq!(decision.retry_after, MINUTE);
        assert_eq!(decision.reset_after, MINUTE);
    }
}

/// The window slides: a request is admitted again exactly when the oldest admitted one
/// leaves the window, not when some fixed window restarts; refusals are not counted.
pub async fn window_slides_with_the_clock(limiter: Arc<dyn RateLimiter>, clock: ManualClock) {
    let window = secs(10);
    assert!(check(&limiter, "k", 2, window).await.allowed); // t = 0
    clock.advance(secs(5));
    let second = check(&limiter, "k", 2, window).await; // t = 5
    assert!(second.allowed);
    assert_eq!(second.remaining, 0);
    assert_eq!(second.reset_after, secs(10));

    clock.advance(secs(1)); // t = 6
    let refused = check(&limiter, "k", 2, window).await;
    assert!(!refused.allowed);
    assert_eq!(refused.retry_after, secs(4));
    assert_eq!(refused.reset_after, secs(9));

    clock.advance(Duration::from_millis(3_999)); // t = 9.999
    let refused = check(&limiter, "k", 2, window).await;
    assert!(!refused.allowed);
    assert_eq!(refused.retry_after, Duration::from_millis(1));

    clock.advance(Duration::from_millis(1)); // t = 10: the first request left the window
    let readmitted = check(&limiter, "k", 2, window).await;
    assert!(readmitted.allowed, "{readmitted:?}");
    assert_eq!(readmitted.remaining, 0);
    assert_eq!(readmitted.retry_after, Duration::ZERO);
    assert_eq!(readmitted.reset_after, secs(10));

    let refused = check(&limiter, "k", 2, window).await; // t = 10
    assert!(!refused.allowed);
    assert_eq!(
        refused.retry_after,
        secs(5),
        "the t = 5 request is now the oldest"
    );
}

/// Once the window has fully passed, the key starts over with the whole limit.
pub async fn readmits_after_the_window(limiter: Arc<dyn RateLimiter>, clock: ManualClock) {
    for _ in 0..2 {
        assert!(check(&limiter, "k", 2, MINUTE).await.allowed);
    }
    assert!(!check(&limiter, "k", 2, MINUTE).await.allowed);

    clock.advance(MINUTE);
    let decision = check(&limiter, "k", 2, MINUTE).await;
    assert!(decision.allowed, "{decision:?}");
    assert_eq!(decision.remaining, 1);
    assert!(check(&limiter, "k", 2, MINUTE).await.allowed);
    assert!(!check(&limiter, "k", 2, MINUTE).await.allowed);

    clock.advance(MINUTE * 10);
    let decision = check(&limiter, "k", 2, MINUTE).await;
    assert_eq!(decision.remaining, 1);
    assert!(decision.allowed);
}

/// Refused requests do not count against the limit, however many there are.
pub async fn refusals_are_not_counted(limiter: Arc<dyn RateLimiter>, clock: ManualClock) {
    assert!(check(&limiter, "k", 1, secs(10)).await.allowed);
    for _ in 0..9 {
        clock.advance(secs(1));
        assert!(!check(&limiter, "k", 1, secs(10)).await.allowed);
    }
    clock.advance(secs(1)); // t = 10
    assert!(check(&limiter, "k", 1, secs(10)).await.allowed);
}

/// Keys are counted independently.
pub async fn keys_are_independent(limiter: Arc<dyn RateLimiter>, _clock: ManualClock) {
    for _ in 0..3 {
        assert!(check(&limiter, "ip:203.0.113.7", 3, MINUTE).await.allowed);
    }
    assert!(!check(&limiter, "ip:203.0.113.7", 3, MINUTE).await.allowed);

    let other = check(&limiter, "ip:203.0.113.8", 3, MINUTE).await;
    assert!(other.allowed);
    assert_eq!(other.remaining, 2);
    let other = check(&limiter, "user:ip:203.0.113.7", 3, MINUTE).await;
    assert!(other.allowed);
    assert_eq!(other.remaining, 2);

    assert!(!check(&limiter, "ip:203.0.113.7", 3, MINUTE).await.allowed);
}

/// Of 20 concurrent checks against a limit of 5, exactly 5 are admitted.
pub async fn concurrent_checks_admit_exactly_the_limit(
    limiter: Arc<dyn RateLimiter>,
    _clock: ManualClock,
) {
    let tasks = (0..20).map(|_| {
        let limiter = limiter.clone();
        tokio::spawn(async move { limiter.check("shared", 5, MINUTE).await })
    });
    let decisions: Vec<RateDecision> = join_all(tasks)
        .await
        .into_iter()
        .map(|joined| joined.expect("check task panicked").expect("check failed"))
        .collect();
    let admitted = decisions.iter().filter(|d| d.allowed).count();
    assert_eq!(admitted, 5, "{decisions:?}");
    let mut remaining: Vec<u32> = decisions
        .iter()
        .filter(|d| d.allowed)
        .map(|d| d.remaining)
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, [0, 1, 2, 3, 4]);
    assert!(!check(&limiter, "shared", 5, MINUTE).await.allowed);
}

/// `reset` forgets what was counted for one key, and only that key.
pub async fn reset_forgets_one_key(limiter: Arc<dyn RateLimiter>, _clock: ManualClock) {
    let (a, b) = ("reset-a", "reset-b");
    for k in [a, b] {
        for _ in 0..2 {
            assert!(limiter.check(k, 2, MINUTE).await.unwrap().allowed);
        }
        assert!(!limiter.check(k, 2, MINUTE).await.unwrap().allowed);
    }
    limiter.reset(a).await.unwrap();
    limiter.reset("never-used").await.unwrap();
    let fresh = limiter.check(a, 2, MINUTE).await.unwrap();
    assert!(fresh.allowed);
    assert_eq!(fresh.remaining, 1);
    assert!(
        !limiter.check(b, 2, MINUTE).await.unwrap().allowed,
        "other keys keep counting"
    );
}

/// Several instances over one shared store keep one bound: bursts of concurrent checks on
/// every instance, at about 2.5 times the limit's rate for a minute of the clock, never get
/// more than `limit` (320, so a leasing limiter batches) admitted in any window, and are not
/// refused much earlier than one exact limiter would (at least nine tenths as many admitted).
/// Not one of a single backend's cases: the caller passes the instances.
pub async fn instances_keep_one_bound_under_bursts(
    instances: Vec<Arc<dyn RateLimiter>>,
    clock: ManualClock,
) {
    const LIMIT: u32 = 320;
    const WINDOW_MS: i64 = 10_000;
    let window = Duration::from_millis(WINDOW_MS as u64);
    let exact: Arc<dyn RateLimiter> = Arc::new(crate::backend::memory::MemoryRateLimiter::new(
        Arc::new(clock.clone()),
    ));
    let (mut admitted, mut exactly) = (Vec::new(), 0usize);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut below = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let started = clock.now();
    while clock.now() - started < chrono::TimeDelta::seconds(60) {
        clock.advance(Duration::from_millis(1 + below(40)));
        let mut burst = Vec::new();
        for limiter in &instances {
            for _ in 0..below(9) {
                let limiter = limiter.clone();
                burst.push(tokio::spawn(async move {
                    limiter.check("bound", LIMIT, window).await
                }));
                exactly += usize::from(check(&exact, "bound", LIMIT, window).await.allowed);
            }
        }
        let now = clock.now().timestamp_millis();
        for joined in join_all(burst).await {
            if joined.expect("check task").expect("check").allowed {
                admitted.push(now);
            }
        }
    }
    let densest = crate::ratelimit::lease::densest(&admitted, WINDOW_MS);
    println!(
        "{} admitted over {} instances against {exactly} by one exact limiter; densest window \
         {densest}",
        admitted.len(),
        instances.len()
    );
    assert!(
        densest <= LIMIT as usize,
        "{densest} admitted in one window"
    );
    assert!(
        admitted.len() * 10 >= exactly * 9,
        "{} admitted, against {exactly}",
        admitted.len()
    );
}
