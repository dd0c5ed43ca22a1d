//! GET /metrics: Prometheus text that a Prometheus parser reads, counters that move as
//! requests are made, and the METRICS_TOKEN bearer check.

use crate::helpers::{TestApp, assert_error, spawn_app, spawn_with};
use prometheus_parse::{Scrape, Value as Sample};
use reqwest::StatusCode;

async fn scrape(app: &TestApp, token: Option<&str>) -> Scrape {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let res = request.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = res.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    Scrape::parse(lines).expect("Prometheus text format")
}

/// The sum of a counter's samples whose labels include every `(name, value)` of `labels`.
fn total(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            Sample::Counter(v) | Sample::Gauge(v) | Sample::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn metrics_parse_and_the_counters_move_as_requests_are_made() {
    let app = spawn_app().await;
    let account = app.register("metrics@example.com").await;
    let before = scrape(&app, None).await;
    let me = [
        ("route", "/api/v1/auth/me"),
        ("method", "GET"),
        ("status", "200"),
    ];
    let me_before = total(&before, "delegate_http_requests_total", &me);
    let logins = [("outcome", "success")];
    let logins_before = total(&before, "delegate_auth_logins_total", &logins);
    for _ in 0..3 {
        let res = app.get_auth("/api/v1/auth/me", &account.access).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    app.login("metrics@example.com", "phone").await;
    let after = scrape(&app, None).await;
    // Other tests share the process's recorder, so counts grow by at least ours.
    assert!(total(&after, "delegate_http_requests_total", &me) >= me_before + 3.0);
    assert!(total(&after, "delegate_auth_logins_total", &logins) >= logins_before + 1.0);
    // The latency histogram has buckets by route template (ids never become labels).
    let histogram = after
        .samples
        .iter()
        .find(|s| {
            s.metric == "delegate_http_request_duration_seconds"
                && s.labels.get("route") == Some("/api/v1/auth/me")
        })
        .expect("a latency histogram for /me");
    assert!(
        matches!(histogram.value, Sample::Histogram(_)),
        "{histogram:?}"
    );
    assert!(
        after
            .samples
            .iter()
            .all(|s| !s.labels.values().any(|v| v.contains("@example.com"))),
        "no email in any label"
    );
    for metric in [
        "delegate_cache_requests_total",
        "delegate_ratelimit_decisions_total",
        "delegate_db_pool_connections",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(
            after.samples.iter().any(|s| s.metric == metric),
            "{metric} is exported"
        );
    }
}

#[tokio::test]
async fn with_metrics_token_set_metrics_need_it_as_a_bearer_token() {
    let app = spawn_with(|c| {
        c.server.metrics_token = Some(delegate_core::Secret::new("scrape-me-0123456789"));
    })
    .await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_metrics_token").await;
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me-0123456789x")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "invalid_metrics_token").await;
    let scraped = scrape(&app, Some("scrape-me-0123456789")).await;
    assert!(!scraped.samples.is_empty());
}
