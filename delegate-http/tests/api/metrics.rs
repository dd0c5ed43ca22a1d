//! GET /metrics: Prometheus text that a Prometheus parser reads, counters that move as
//! requests are made, and the METRICS_TOKEN bearer check.

use crate::helpers::{TestApp, assert_error, spawn_app, spawn_with};
use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{
    MetricFamily, MetricsExposition, PrometheusType, PrometheusValue, Sample,
};
use reqwest::StatusCode;

type Exposition = MetricsExposition<PrometheusType, PrometheusValue>;
type Family = MetricFamily<PrometheusType, PrometheusValue>;

async fn scrape(app: &TestApp, token: Option<&str>) -> Exposition {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let res = request.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = res.text().await.unwrap();
    parse_prometheus(&text).unwrap_or_else(|e| panic!("not Prometheus text ({e:?}):\n{text}"))
}

/// The family of `metric` (parsers may drop a counter's `_total`).
fn family<'a>(scrape: &'a Exposition, metric: &str) -> Option<&'a Family> {
    scrape
        .families
        .get(metric)
        .or_else(|| scrape.families.get(metric.trim_end_matches("_total")))
}

/// Whether `sample`'s labels include every `(name, value)` of `labels`.
fn has_labels(sample: &Sample<PrometheusValue>, labels: &[(&str, &str)]) -> bool {
    let set = sample.get_labelset().expect("a label set");
    labels
        .iter()
        .all(|(k, v)| set.get_label_value(k) == Some(*v))
}

/// The sum of a counter's (or gauge's) samples with `labels`.
fn total(scrape: &Exposition, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let Some(family) = family(scrape, metric) else {
        return 0.0;
    };
    family
        .iter_samples()
        .filter(|s| has_labels(s, labels))
        .map(|s| match &s.value {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
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
    let latency = family(&after, "delegate_http_request_duration_seconds").expect("latency");
    assert_eq!(latency.family_type, PrometheusType::Histogram);
    assert!(
        latency.iter_samples().any(|s| {
            has_labels(s, &[("route", "/api/v1/auth/me")])
                && matches!(s.value, PrometheusValue::Histogram(_))
        }),
        "a latency histogram for /me"
    );
    for family in after.families.values() {
        for sample in family.iter_samples() {
            let set = sample.get_labelset().expect("labels");
            assert!(
                !set.iter_values().any(|v| v.contains("@example.com")),
                "no email in any label"
            );
        }
    }
    for metric in [
        "delegate_cache_requests_total",
        "delegate_ratelimit_decisions_total",
        "delegate_db_pool_connections",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(family(&after, metric).is_some(), "{metric} is exported");
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
    assert!(!scraped.families.is_empty());
}

#[tokio::test]
async fn a_host_apps_observed_routes_are_counted_by_their_template() {
    use tower::ServiceExt;
    let app = spawn_app().await;
    let host = delegate_http::observed(
        axum::Router::new().route("/host/items/{id}", axum::routing::get(|| async { "ok" })),
    );
    for id in ["1", "2"] {
        let request = axum::http::Request::get(format!("/host/items/{id}"))
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(host.clone().oneshot(request).await.unwrap().status(), 200);
    }
    let scraped = scrape(&app, None).await;
    let route = [("route", "/host/items/{id}"), ("status", "200")];
    assert!(total(&scraped, "delegate_http_requests_total", &route) >= 2.0);
}

#[tokio::test]
async fn ai_replies_and_sse_streams_are_measured() {
    let app = spawn_with(|c| c.ai.provider = delegate_core::config::AiProviderKind::Echo).await;
    let account = app.register("ai-metrics@example.com").await;
    let res = app
        .client
        .post(app.url("/api/v1/sessions"))
        .bearer_auth(&account.access)
        .json(&serde_json::json!({"title": "measured"}))
        .send()
        .await
        .unwrap();
    let chat: serde_json::Value = res.json().await.unwrap();
    let messages = app.url(&format!(
        "/api/v1/sessions/{}/messages",
        chat["id"].as_str().unwrap()
    ));
    let before = scrape(&app, None).await;
    let echo = [("provider", "echo")];
    let requests_before = total(&before, "delegate_ai_requests_total", &echo);
    let tokens_before = total(
        &before,
        "delegate_ai_tokens_total",
        &[("provider", "echo"), ("kind", "completion")],
    );
    for stream in [false, true] {
        let res = app
            .client
            .post(&messages)
            .bearer_auth(&account.access)
            .json(&serde_json::json!({"content": "count my tokens", "stream": stream}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
        let _ = res.text().await.unwrap();
    }
    let after = scrape(&app, None).await;
    assert!(total(&after, "delegate_ai_requests_total", &echo) >= requests_before + 2.0);
    let tokens = total(
        &after,
        "delegate_ai_tokens_total",
        &[("provider", "echo"), ("kind", "completion")],
    );
    assert!(tokens > tokens_before, "completion tokens counted");
    let ttft =
        family(&after, "delegate_ai_time_to_first_token_seconds").expect("time to first token");
    assert_eq!(ttft.family_type, PrometheusType::Histogram);
    assert!(
        family(&after, "delegate_sse_streams").is_some(),
        "the live-stream gauge"
    );
}
