//! Heap allocations per request, counted by dhat's allocator: a bare axum route (the floor)
//! beside Delegate's cached authenticated `GET /api/v1/users/profile` and `GET /api/v1/auth/me`
//! (embedded SQLite, in process through `tower::ServiceExt::oneshot`, bodies read), so a
//! change to the hot path shows as a count rather than a noisy time.
//!
//! Each route is counted three times: with no tracing subscriber, and with the production
//! server's JSON log lines, their span fields formatted by `tracing_subscriber`'s `JsonFields`
//! or by Delegate's `JsonSpanFields`.
//!
//! Run with `cargo bench -p delegate-benches --bench alloc`.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::Request;
use axum::routing::get;
use delegate_benches::signed_in_embedded;
use delegate_http::JsonSpanFields;
use tower::ServiceExt;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// Requests per measured route (after as many to warm it).
const REQUESTS: u64 = 2_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    rt.block_on(async {
        let (delegate, token, db) = signed_in_embedded("alloc@example.com")
            .await
            .expect("a signed-in bench app");
        let bare = Router::new().route("/items/{id}", get(|| async { "ok" }));
        let delegate = delegate_http::router(delegate);
        let _profiler = dhat::Profiler::builder()
            .testing()
            .trim_backtraces(Some(4))
            .build();
        for logging in Logging::ALL {
            let _subscriber = logging.install();
            println!("\n{}", logging.title());
            println!("{:<24} {:>14} {:>14}", "route", "allocs/req", "bytes/req");
            let mut floor: Option<f64> = None;
            for (name, router, path) in [
                ("bare_route", &bare, "/items/42"),
                ("profile_cached", &delegate, "/api/v1/users/profile"),
                ("me_cached", &delegate, "/api/v1/auth/me"),
            ] {
                let (blocks, bytes) = measure(router, path, &token).await;
                let ratio = floor.map_or(String::new(), |f: f64| {
                    format!("  ({:.1}x the floor)", blocks / f)
                });
                floor.get_or_insert(blocks);
                println!("{name:<24} {blocks:>14.1} {bytes:>14.0}{ratio}");
            }
        }
        drop(db);
    });
}

/// Allocations and bytes per request to `path`, after as many requests to warm it.
async fn measure(router: &Router, path: &str, token: &str) -> (f64, f64) {
    let call = || async {
        let request = Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), 200, "{path}");
        to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
    };
    for _ in 0..REQUESTS {
        call().await;
    }
    let before = dhat::HeapStats::get();
    for _ in 0..REQUESTS {
        call().await;
    }
    let after = dhat::HeapStats::get();
    (
        (after.total_blocks - before.total_blocks) as f64 / REQUESTS as f64,
        (after.total_bytes - before.total_bytes) as f64 / REQUESTS as f64,
    )
}

/// What the requests are logged through: nothing, or the production server's JSON lines
/// (filter `info,delegate::request=warn`, as the load bench runs it; lines thrown away) with
/// span fields formatted by `tracing_subscriber`'s `JsonFields` or by Delegate's own.
#[derive(Clone, Copy)]
enum Logging {
    Off,
    JsonFields,
    JsonSpanFields,
}

impl Logging {
    const ALL: [Logging; 3] = [Logging::Off, Logging::JsonFields, Logging::JsonSpanFields];

    fn title(self) -> &'static str {
        match self {
            Logging::Off => "no subscriber",
            Logging::JsonFields => "JSON lines, span fields by tracing_subscriber's JsonFields",
            Logging::JsonSpanFields => {
                "JSON lines, span fields by delegate_http::JsonSpanFields (production)"
            }
        }
    }

    /// Makes this the calling thread's subscriber until the guard drops.
    fn install(self) -> Option<tracing::subscriber::DefaultGuard> {
        let builder = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("info,delegate::request=warn"))
            .with_writer(std::io::sink)
            .json()
            .with_current_span(false);
        match self {
            Logging::Off => None,
            Logging::JsonFields => Some(tracing::subscriber::set_default(builder.finish())),
            Logging::JsonSpanFields => Some(tracing::subscriber::set_default(
                builder.fmt_fields(JsonSpanFields).finish(),
            )),
        }
    }
}
