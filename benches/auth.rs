//! Criterion benches of the auth paths: the request hot path (JWT verification alone, then
//! `authenticate` on a warm session, proved to do no store I/O), refresh-token rotation
//! chains on a SQLite file and on the memory store, and Argon2id at the default cost.
//!
//! Run with `cargo bench -p delegate-benches`; filter with e.g. `-- hot_path`.

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode};
use delegate_benches::{
    CountingStore, JWT_SECRET, PASSWORD, TempSqlite, bench_config, delegate_with, sign_up,
};
use delegate_core::auth::password::PasswordHasher;
use delegate_core::auth::token::TokenSigner;
use delegate_core::backend::memory::MemoryStore;
use delegate_core::config::PasswordConfig;
use delegate_core::{Clock, ManualClock, Secret, Stores, SystemClock};
use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    // Store pools and Delegate's bus listener are created and dropped inside this runtime.
    let _context = rt.enter();
    let mut c = Criterion::default().configure_from_args();
    hot_path(&mut c, &rt);
    refresh_rotation(&mut c, &rt);
    password_hashing(&mut c, &rt);
    c.final_summary();
}

/// `hot_path/verify_jwt` (signature and claims, a signer that has not seen the token) and
/// `hot_path/verify_jwt_again` (a token the signer verified before: only its time window)
/// against `hot_path/authenticate_warm` (verify, jti denylist, in-process session-alive
/// check, cached profile) on the same token. The stores
/// are a SQLite file behind a [`CountingStore`]; any store call while `authenticate_warm`
/// runs (its warm-up included) panics the bench.
fn hot_path(c: &mut Criterion, rt: &Runtime) {
    // A frozen clock: the background `lastSeenAt` touch (once per 60 s of token time) can
    // never fall inside the measurement, so "no I/O" is a deterministic claim.
    let clock = ManualClock::default();
    let db = rt
        .block_on(TempSqlite::create())
        .expect("a temporary SQLite store");
    let store = Arc::new(CountingStore::new(db.store()));
    let delegate = rt
        .block_on(delegate_with(
            Stores::from_backend(store.clone()),
            Arc::new(clock.clone()),
        ))
        .expect("Delegate builds");
    let signed_in = rt
        .block_on(sign_up(&delegate, "hot-path@example.com"))
        .expect("registration");
    let token = signed_in.tokens.access_token;
    let auth = delegate.auth();

    // The baseline signer has Delegate's key and settings, so it verifies the same token.
    let signer = TokenSigner::new(&Secret::new(JWT_SECRET), &bench_config().auth);
    let now = clock.now();
    let claims = signer.verify(&token, now).expect("the signer accepts it");
    assert_eq!(claims.sid, signed_in.session.id);

    let mut group = c.benchmark_group("hot_path");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let config = bench_config().auth;
    group.bench_function("verify_jwt", |b| {
        // By reference, so that dropping the signer is not timed.
        b.iter_batched_ref(
            || TokenSigner::new(&Secret::new(JWT_SECRET), &config),
            |fresh| fresh.verify(black_box(&token), now).expect("valid token"),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("verify_jwt_again", |b| {
        b.iter(|| signer.verify(black_box(&token), now).expect("valid token"))
    });

    // Warm the guard and the profile cache right before measuring (the clock is frozen, so
    // neither expires). This first call must read the session and the profile (the current
    // tier and role) from SQLite exactly once each, which shows the decorator sees the path
    // the measurement must not take.
    let cold_start = store.calls();
    let caller = rt
        .block_on(auth.authenticate(&token))
        .expect("a live session authenticates");
    assert_eq!(caller.session_id, signed_in.session.id);
    let cold = store.calls().since(&cold_start);
    assert_eq!(
        (
            cold.count("LoginSessionStore::get"),
            cold.count("UserStore::get"),
            cold.total()
        ),
        (1, 1, 2),
        "the cold authenticate should read the session and the profile once: {cold}"
    );

    let (auth, token) = (&auth, token.as_str());
    let iterations = Cell::new(0_u64);
    let counted = &iterations;
    let warm_start = store.calls();
    group.bench_function("authenticate_warm", |b| {
        b.to_async(rt).iter(move || async move {
            counted.set(counted.get() + 1);
            auth.authenticate(black_box(token))
                .await
                .expect("the warm session authenticates")
        })
    });
    let during = store.calls().since(&warm_start);
    group.finish();
    assert!(
        during.total() == 0,
        "hot_path/authenticate_warm did store I/O during {} iterations: {during}",
        iterations.get()
    );
    println!(
        "hot_path/authenticate_warm: {} iterations, {during} (LoginSessionStore::get: {} call \
         in total, the cold read before measuring)\n",
        iterations.get(),
        store.calls().count("LoginSessionStore::get"),
    );
}

/// `refresh_rotation/{sqlite_file,memory}`: one `auth().refresh()` per iteration, each
/// presenting the refresh token the previous iteration received.
fn refresh_rotation(c: &mut Criterion, rt: &Runtime) {
    let db = rt
        .block_on(TempSqlite::create())
        .expect("a temporary SQLite store");
    let mut group = c.benchmark_group("refresh_rotation");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    refresh_chain(
        &mut group,
        rt,
        "sqlite_file",
        Stores::from_backend(Arc::new(db.store())),
    );
    refresh_chain(
        &mut group,
        rt,
        "memory",
        Stores::from_backend(Arc::new(MemoryStore::new())),
    );
    group.finish();
}

fn refresh_chain(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    stores: Stores,
) {
    let delegate = rt
        .block_on(delegate_with(stores, Arc::new(SystemClock)))
        .expect("Delegate builds");
    let signed_in = rt
        .block_on(sign_up(&delegate, &format!("refresh-{name}@example.com")))
        .expect("registration");
    let auth = delegate.auth();
    let first = signed_in.tokens.refresh_token;
    // The chain's head lives outside the bench closure so it carries over between
    // criterion's warm-up and sample batches.
    let current = RefCell::new(first.clone());
    let rotations = Cell::new(0_u64);
    let (auth, current_ref, rotations_ref) = (&auth, &current, &rotations);
    group.bench_function(name, |b| {
        b.to_async(rt).iter(move || async move {
            let presented = current_ref.take();
            let pair = auth
                .refresh(&presented)
                .await
                .expect("the latest refresh token rotates");
            current_ref.replace(pair.refresh_token);
            rotations_ref.set(rotations_ref.get() + 1);
            pair.access_token
        })
    });
    // The chain was real: its head still rotates and its first link is spent.
    let head = current.take();
    rt.block_on(auth.refresh(&head))
        .expect("the chain's head still rotates");
    let replay = rt
        .block_on(auth.refresh(&first))
        .expect_err("the first token was spent");
    assert!(
        matches!(replay.code(), "refresh_token_reused" | "refresh_conflict"),
        "replaying the first token: {replay:?}"
    );
    println!(
        "refresh_rotation/{name}: a chain of {} rotations, each presenting the previous \
         one's token\n",
        rotations.get()
    );
}

/// `password_hashing/{hash,verify}`: Argon2id at the default (OWASP minimum) parameters,
/// through the bounded blocking pool as the login path uses it.
fn password_hashing(c: &mut Criterion, rt: &Runtime) {
    let config = PasswordConfig::default();
    println!(
        "password_hashing: argon2id m={} KiB, t={}, p={}\n",
        config.memory_kib, config.iterations, config.parallelism
    );
    let hasher = PasswordHasher::new(&config).expect("default argon2 parameters");
    let stored = rt.block_on(hasher.hash(PASSWORD)).expect("hashing");
    let (hasher, stored) = (&hasher, stored.as_str());

    let mut group = c.benchmark_group("password_hashing");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    group.bench_function("hash", |b| {
        b.to_async(rt)
            .iter(move || async move { hasher.hash(black_box(PASSWORD)).await.expect("hashing") })
    });
    group.bench_function("verify", |b| {
        b.to_async(rt).iter(move || async move {
            let ok = hasher
                .verify(black_box(PASSWORD), stored)
                .await
                .expect("verifying");
            assert!(ok, "the right password verifies");
        })
    });
    group.finish();
}
