//! The `delegate-server` binary: embedded start-up, graceful shutdown on SIGTERM, the
//! production refusals (no, equal or weak secrets), the warnings about risky settings, and
//! JSON logs in production however the environment was set.

use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn server(dir: &tempfile::TempDir, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_delegate-server"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("d.db").display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Whether the server on `port` answers /health with 200, polling for up to 15 s.
async fn healthy(port: u16) -> bool {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(res) = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
        {
            return res.status() == 200;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn the_server_starts_embedded_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = server(&dir, port).spawn().expect("server starts");
    assert!(healthy(port).await, "server answered /health");
    assert!(dir.path().join("d.db").exists(), "SQLite database created");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..200 {
        if let Some(code) = child.try_wait().unwrap() {
            exited = Some(code);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let code = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("server did not stop on SIGTERM")
    });
    assert!(code.success(), "clean exit: {code:?}");
}

#[test]
fn production_without_secrets_refuses_to_start_and_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = server(&dir, free_port())
        .env("NODE_ENV", "production")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");

    let output = server(&dir, free_port())
        .env("NODE_ENV", "production")
        .env("JWT_SECRET", "too-short")
        .env("JWT_REFRESH_SECRET", "x".repeat(40))
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
}

#[test]
fn without_migrate_on_start_an_unmigrated_database_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let output = server(&dir, free_port())
        .env("DELEGATE_MIGRATE_ON_START", "false")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("delegate migrate"), "{stderr}");
}

#[test]
fn production_refuses_equal_or_low_variety_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let same = "s3cr3t-but-the-same-for-both-0123456789";
    let output = server(&dir, free_port())
        .env("NODE_ENV", "production")
        .env("JWT_SECRET", same)
        .env("JWT_REFRESH_SECRET", same)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("are the same"), "{stderr}");

    let output = server(&dir, free_port())
        .env("NODE_ENV", "production")
        .env("JWT_SECRET", "a".repeat(48))
        .env(
            "JWT_REFRESH_SECRET",
            "another-long-and-varied-secret-0123456789",
        )
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("JWT_SECRET has too little variety"),
        "{stderr}"
    );
}

/// Starts the server with `envs`, waits for /health, stops it, and returns what it logged.
async fn startup_log(envs: &[(&str, &str)]) -> String {
    server_log(envs, async |_| {}).await
}

/// The server's log (stdout and stderr) from start to SIGTERM, with `during` run against its
/// port while it serves.
async fn server_log(envs: &[(&str, &str)], during: impl AsyncFnOnce(u16)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = server(&dir, port);
    cmd.envs(envs.iter().copied())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped());
    let child = cmd.spawn().expect("server starts");
    let healthy = healthy(port).await;
    if healthy {
        during(port).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().expect("server exits");
    assert!(healthy, "server answered /health");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn risky_settings_are_named_in_the_startup_log() {
    let log = startup_log(&[]).await;
    assert!(log.contains("NODE_ENV is not set"), "{log}");
    let log = startup_log(&[
        ("NODE_ENV", "production"),
        ("JWT_SECRET", "first-long-and-varied-secret-0123456789abc"),
        (
            "JWT_REFRESH_SECRET",
            "second-long-and-varied-secret-9876543210xyz",
        ),
    ])
    .await;
    assert!(!log.contains("NODE_ENV is not set"), "{log}");
    assert!(log.contains("CORS_ORIGIN is `*` in production"), "{log}");
    assert!(
        log.contains("REDIS_URL is `memory:` in production"),
        "{log}"
    );
    assert!(
        log.contains("METRICS_TOKEN is not set in production"),
        "{log}"
    );
}

#[tokio::test]
async fn the_startup_log_says_what_the_server_runs_on() {
    let log = startup_log(&[("REDIS_URL", "memory:")]).await;
    for line in [
        "relational store",
        "sqlite://",
        "cache, rate limits and event bus",
        "in-process",
        "AI provider: not configured",
        "ai_not_configured",
        "API docs",
        "/docs",
    ] {
        assert!(log.contains(line), "{line:?} missing from:\n{log}");
    }
}

#[tokio::test]
async fn production_set_in_the_toml_file_switches_to_json_logs_as_node_env_does() {
    let secrets = [
        ("JWT_SECRET", "first-long-and-varied-secret-0123456789abc"),
        (
            "JWT_REFRESH_SECRET",
            "second-long-and-varied-secret-9876543210xyz",
        ),
    ];
    let is_json_lines = |log: &str| {
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        !lines.is_empty()
            && lines
                .iter()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    };
    let by_env = startup_log(&[&secrets[..], &[("NODE_ENV", "production")]].concat()).await;
    assert!(is_json_lines(&by_env), "{by_env}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("delegate.toml");
    std::fs::write(&file, "environment = \"production\"\n").unwrap();
    let path = file.display().to_string();
    let by_file =
        startup_log(&[&secrets[..], &[("DELEGATE_CONFIG", path.as_str())]].concat()).await;
    assert!(is_json_lines(&by_file), "{by_file}");
    assert!(by_file.contains("delegate listening"), "{by_file}");
    let development = startup_log(&secrets).await;
    assert!(!is_json_lines(&development), "{development}");
}

#[tokio::test]
async fn each_request_has_one_json_log_line_without_secrets() {
    let envs = [
        ("NODE_ENV", "production"),
        ("JWT_SECRET", "first-long-and-varied-secret-0123456789abc"),
        (
            "JWT_REFRESH_SECRET",
            "second-long-and-varied-secret-9876543210xyz",
        ),
        ("RUST_LOG", "info"),
    ];
    let password = "a very secret passphrase 42";
    let mut token = String::new();
    let log = server_log(&envs, async |port| {
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let res = client
            .post(format!("{base}/api/v1/auth/register"))
            .json(&serde_json::json!({"email": "logged@example.com", "password": password}))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        token = body["accessToken"].as_str().unwrap().to_owned();
        let res = client
            .get(format!("{base}/api/v1/auth/me"))
            .bearer_auth(&token)
            .header("x-request-id", "req-log-test-1")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    })
    .await;
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let me: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["route"] == "/api/v1/auth/me")
        .collect();
    assert_eq!(me.len(), 1, "one line for the request:\n{log}");
    let line = me[0].to_string();
    for needle in [
        "\"status\":200",
        "\"method\":\"GET\"",
        "latency_ms",
        "req-log-test-1",
        "user_id",
    ] {
        assert!(line.contains(needle), "{needle} in {line}");
    }
    for secret in [token.as_str(), password, "logged@example.com"] {
        assert!(!log.contains(secret), "the log never holds {secret}");
    }
}
