//! Time to first token: what Delegate adds on top of calling the upstream directly. Both
//! sides stream the same reply from the local OpenAI-compatible upstream over loopback:
//! `ttft/direct` posts to the upstream itself; `ttft/through_delegate` posts a message to a
//! running Delegate server (embedded mode: SQLite file, in-process cache and limits), which
//! authenticates, checks the quota, stores the user message, calls the upstream through
//! async-openai and forwards the first delta as an SSE event. Only the time to the first
//! delta is measured; the rest of each reply is read untimed.
//!
//! Besides criterion's estimates (means of batches), every request's own time to first
//! token is kept, and the p50 and p90 of each side and of the difference are printed at the
//! end (`ttft p50: direct … through Delegate … added …`).
//!
//! Run with `cargo bench -p delegate-benches --bench chat`.

use criterion::Criterion;
use delegate_benches::{PASSWORD, bench_config};
use delegate_core::testing::upstream::{Reply, Upstream};
use delegate_core::{Delegate, Registration, Secret};
use futures::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every timed request's time to first token, in the order measured.
type Samples = Arc<Mutex<Vec<Duration>>>;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let _context = rt.enter();
    let upstream = rt.block_on(Upstream::start());
    upstream.set_default(
        Reply::new("The quick brown fox jumps over the lazy dog")
            .in_chunks(4)
            .usage(20, 10),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let (base, token) = rt.block_on(serve_delegate(&upstream, &dir));
    let client = reqwest::Client::new();
    let (direct, through) = (Samples::default(), Samples::default());

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("ttft");
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("direct", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (client, url, samples) = (
                client.clone(),
                format!("{}/chat/completions", upstream.base_url()),
                direct.clone(),
            );
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let body = serde_json::json!({
                        "model": "bench-model",
                        "stream": true,
                        "stream_options": {"include_usage": true},
                        "messages": [{"role": "user", "content": "hello"}],
                    });
                    let start = Instant::now();
                    let res = client
                        .post(&url)
                        .json(&body)
                        .send()
                        .await
                        .expect("upstream");
                    let ttft = until(res, "\"content\"", start).await;
                    samples.lock().unwrap().push(ttft);
                    total += ttft;
                }
                total
            }
        })
    });
    group.bench_function("through_delegate", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (client, base, token, samples) =
                (client.clone(), base.clone(), token.clone(), through.clone());
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // A fresh chat each time (untimed), so the context stays the same size.
                    let chat: serde_json::Value = client
                        .post(format!("{base}/api/v1/sessions"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({}))
                        .send()
                        .await
                        .expect("create chat")
                        .json()
                        .await
                        .expect("chat");
                    let url = format!(
                        "{base}/api/v1/sessions/{}/messages",
                        chat["id"].as_str().unwrap()
                    );
                    let body = serde_json::json!({"content": "hello", "stream": true});
                    let start = Instant::now();
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .expect("delegate");
                    let ttft = until(res, "event: delta", start).await;
                    samples.lock().unwrap().push(ttft);
                    total += ttft;
                }
                total
            }
        })
    });
    group.finish();
    c.final_summary();
    report(&direct.lock().unwrap(), &through.lock().unwrap());
}

/// Prints the p50 and p90 time to first token of each side and what Delegate adds.
fn report(direct: &[Duration], through: &[Duration]) {
    let (direct, through) = (percentiles(direct), percentiles(through));
    for (name, at) in [("p50", 0), ("p90", 1)] {
        println!(
            "ttft {name}: direct {:.0} µs, through Delegate {:.0} µs, added {:.0} µs",
            micros(direct[at]),
            micros(through[at]),
            micros(through[at]) - micros(direct[at]),
        );
    }
}

/// The p50 and p90 of `samples` (zero when there are none).
fn percentiles(samples: &[Duration]) -> [Duration; 2] {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let at = |q: f64| {
        let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    };
    [at(0.5), at(0.9)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Reads `res` until `marker` appears; returns the time from `start` to then, and drains the
/// rest untimed.
async fn until(res: reqwest::Response, marker: &str, start: Instant) -> Duration {
    assert!(res.status().is_success(), "{}", res.status());
    let mut body = res.bytes_stream();
    let mut seen = Vec::new();
    let mut first = None;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("body");
        if first.is_none() {
            seen.extend_from_slice(&chunk);
            if String::from_utf8_lossy(&seen).contains(marker) {
                first = Some(start.elapsed());
            }
        }
    }
    first.expect("the first token arrived")
}

/// A Delegate server on loopback whose provider is `upstream`; returns its URL and a token.
async fn serve_delegate(upstream: &Upstream, dir: &tempfile::TempDir) -> (String, String) {
    let mut config = bench_config();
    config.database_url = format!("sqlite://{}", dir.path().join("chat.db").display());
    config.ai.base_url = Some(upstream.base_url());
    config.ai.api_key = Some(Secret::new("sk-bench"));
    config.quota.free.messages_per_day = 0;
    config.quota.free.tokens_per_month = 0;
    config.rate_limit.max_requests = 1_000_000;
    let delegate = Delegate::connect(config).await.expect("Delegate builds");
    let signed_in = delegate
        .auth()
        .register(Registration::new("ttft@example.com", PASSWORD))
        .await
        .expect("registration");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(delegate_http::serve(
        delegate,
        listener,
        std::future::pending(),
    ));
    (base, signed_in.tokens.access_token)
}
