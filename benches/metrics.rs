//! The per-request cost of the request observation (its JSON log line, formatted into a sink,
//! and the HTTP metrics, with the Prometheus recorder installed): a bare axum route against the same route observed, beside
//! a real request through Delegate's router (an authenticated, cached `GET /api/v1/auth/me`,
//! embedded SQLite), all in process through `tower::ServiceExt::oneshot` in one run.
//!
//! Run with `cargo bench -p delegate-benches --bench metrics`.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use criterion::Criterion;
use delegate_benches::signed_in_embedded;
use std::hint::black_box;
use tower::ServiceExt;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    // As in production: every request's line is formatted as JSON (here into a sink), unless
    // BENCH_REQUEST_LOG=off filters it out (to tell the log line's cost from the metrics').
    let filter = match std::env::var("BENCH_REQUEST_LOG").as_deref() {
        Ok("off") => "info,delegate::request=off",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::sink)
        .init();
    let mut c = Criterion::default().configure_from_args();
    let bare = Router::new().route("/items/{id}", get(|| async { "ok" }));
    let observed = delegate_http::observed(bare.clone());
    let (delegate, token, _db) = rt
        .block_on(signed_in_embedded("bench@example.com"))
        .expect("a signed-in bench app");
    let delegate_router = delegate_http::router(delegate);
    let mut group = c.benchmark_group("request");
    for (name, router) in [("bare_route", &bare), ("observed_route", &observed)] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let request = Request::get("/items/42")
                    .body(Body::empty())
                    .expect("request");
                black_box(router.clone().oneshot(request).await.expect("response"))
            });
        });
    }
    group.bench_function("delegate_me_cached", |b| {
        b.to_async(&rt).iter(|| async {
            let request = Request::get("/api/v1/auth/me")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request");
            let response = delegate_router
                .clone()
                .oneshot(request)
                .await
                .expect("response");
            assert_eq!(response.status(), 200);
            black_box(response)
        });
    });
    group.finish();
    c.final_summary();
}
