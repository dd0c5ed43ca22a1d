//! End-to-end tests of the `delegate` binary, each against a fresh SQLite file.

mod admin;

use delegate_core::{Config, Credentials, Delegate, DeviceInfo};
use serde_json::Value;
use std::io::Write as _;
use std::process::{Child, Command, Output, Stdio};
use tempfile::TempDir;

const PASSWORD: &str = "correct horse battery staple";

/// A temporary directory holding this test's database.
struct Env {
    dir: TempDir,
    database_url: String,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = format!("sqlite://{}", dir.path().join("d.db").display());
        Self { dir, database_url }
    }

    /// The binary with only this test's configuration in its environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_delegate"));
        cmd.args(args).current_dir(self.dir.path());
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            let configures = key_text.starts_with("DELEGATE_")
                || [
                    "PORT",
                    "HOST",
                    "REDIS_URL",
                    "JWT_SECRET",
                    "JWT_REFRESH_SECRET",
                    "NODE_ENV",
                ]
                .contains(&key_text.as_ref());
            if configures {
                cmd.env_remove(&key);
            }
        }
        cmd.env("DATABASE_URL", &self.database_url);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs")
    }

    /// Runs with `--json`, expects success and parses stdout.
    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(&[args, &["--json"]].concat());
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", text(&out.stdout)))
    }

    /// Runs with `--json`, expects failure and returns the `error` object from stderr.
    fn fails(&self, args: &[&str]) -> Value {
        let out = self.run(&[args, &["--json"]].concat());
        assert!(!out.status.success(), "{args:?} unexpectedly succeeded");
        assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
        let body: Value = serde_json::from_slice(&out.stderr).unwrap_or_else(|e| {
            panic!("{args:?}: stderr is not JSON ({e}): {}", text(&out.stderr))
        });
        body["error"].clone()
    }

    fn create_user(&self, email: &str, extra: &[&str]) -> Value {
        self.ok(&[
            &["users", "create", "--email", email, "--password", PASSWORD],
            extra,
        ]
        .concat())
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn find<'a>(items: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    items
        .as_array()
        .expect("an array")
        .iter()
        .find(|item| item[key] == value)
}

#[test]
fn migrate_applies_once_then_nothing() {
    let env = Env::new();
    let first = env.ok(&["migrate"]);
    assert!(first["applied"].as_u64().unwrap() >= 1, "{first}");
    assert_eq!(env.ok(&["migrate"])["applied"], 0);
    let human = env.run(&["migrate"]);
    assert!(human.status.success());
    assert!(text(&human.stdout).contains("0 migrations applied"));
}

#[test]
fn a_config_file_names_the_database() {
    let env = Env::new();
    let url = format!("sqlite://{}", env.dir.path().join("from-file.db").display());
    let file = env.dir.path().join("delegate.toml");
    std::fs::write(&file, format!("database_url = {url:?}\n")).unwrap();
    let out = env
        .command(&["migrate", "--json", "--config", file.to_str().unwrap()])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(env.dir.path().join("from-file.db").exists());
    assert!(!env.dir.path().join("d.db").exists());

    let missing = env.fails(&["migrate", "--config", "nope.toml"]);
    assert_eq!(missing["code"], "invalid_field");
    assert!(missing["message"].as_str().unwrap().contains("nope.toml"));
}

#[test]
fn users_are_created_listed_and_changed_by_email_and_id() {
    let env = Env::new();
    let created = env.create_user("Ada@Example.com", &["--name", "Ada", "--tier", "pro"]);
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(created["tier"], "pro");
    assert_eq!(created["role"], "user");
    let id = created["id"].as_str().unwrap().to_owned();

    let list = env.ok(&["users", "list"]);
    let ada = find(&list["items"], "id", &id).expect("listed");
    assert_eq!(ada["email"], "ada@example.com");
    assert_eq!(ada["name"], "Ada");
    assert_eq!(ada["tier"], "pro");
    assert_eq!(ada["role"], "user");
    let created_at = ada["createdAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok(),
        "{created_at}"
    );

    let changed = env.ok(&["users", "set-tier", "ADA@example.com", "enterprise"]);
    assert_eq!(changed["tier"], "enterprise");
    let changed = env.ok(&["users", "set-role", &id, "admin"]);
    assert_eq!(changed["role"], "admin");

    let list = env.ok(&["users", "list"]);
    let ada = find(&list["items"], "id", &id).expect("listed");
    assert_eq!(
        (&ada["tier"], &ada["role"]),
        (&"enterprise".into(), &"admin".into())
    );

    let human = env.run(&["users", "list"]);
    assert!(human.status.success());
    let table = text(&human.stdout);
    assert!(
        table.starts_with("ID") && table.contains("ada@example.com"),
        "{table}"
    );
}

#[test]
fn users_list_pages_with_limit_and_after() {
    let env = Env::new();
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        env.create_user(email, &[]);
    }
    let first = env.ok(&["users", "list", "--limit", "2"]);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let next = first["nextAfter"]
        .as_str()
        .expect("a full page has a cursor");
    let second = env.ok(&["users", "list", "--limit", "2", "--after", next]);
    let rest = second["items"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert!(second["nextAfter"].is_null());
    let mut seen: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest)
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, ["a@example.com", "b@example.com", "c@example.com"]);

    assert_eq!(
        env.fails(&["users", "list", "--limit", "0"])["code"],
        "invalid_field"
    );
}

#[test]
fn the_password_can_come_from_stdin() {
    let env = Env::new();
    let mut child = env
        .command(&[
            "users",
            "create",
            "--email",
            "grace@example.com",
            "--password-stdin",
            "--role",
            "admin",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let user: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(user["role"], "admin");
    assert_eq!(user["name"], "grace");
}

#[test]
fn a_duplicate_email_is_refused_with_email_taken() {
    let env = Env::new();
    env.create_user("ada@example.com", &[]);
    let err = env.fails(&[
        "users",
        "create",
        "--email",
        " ADA@example.com ",
        "--password",
        "another long passphrase",
    ]);
    assert_eq!(err["code"], "email_taken");
    assert!(!err["message"].as_str().unwrap().is_empty());

    let human = env.run(&[
        "users",
        "create",
        "--email",
        "ada@example.com",
        "--password",
        PASSWORD,
    ]);
    assert!(!human.status.success());
    let line = text(&human.stderr);
    assert!(
        line.starts_with("error: ") && line.trim_end().lines().count() == 1,
        "{line}"
    );
}

#[test]
fn weak_and_common_passwords_are_refused() {
    let env = Env::new();
    for password in ["short", "password"] {
        let err = env.fails(&[
            "users",
            "create",
            "--email",
            "ada@example.com",
            "--password",
            password,
        ]);
        assert_eq!(err["code"], "invalid_field", "{password}");
        assert_eq!(err["field"], "password", "{password}");
    }
    assert_eq!(
        env.ok(&["users", "list"])["items"],
        Value::Array(Vec::new())
    );
}

#[test]
fn unknown_users_and_bad_values_fail_with_their_codes() {
    let env = Env::new();
    let err = env.fails(&["users", "set-tier", "nobody@example.com", "pro"]);
    assert_eq!(err["code"], "not_found");
    let err = env.fails(&[
        "users",
        "set-role",
        "01a2151f-3aa8-713e-bb09-4d1262e29015",
        "admin",
    ]);
    assert_eq!(err["code"], "not_found");
    let err = env.fails(&["users", "set-tier", "nobody@example.com", "platinum"]);
    assert_eq!(
        (&err["code"], &err["field"]),
        (&"invalid_field".into(), &"tier".into())
    );
    let err = env.fails(&["users", "set-role", "not-an-id", "admin"]);
    assert_eq!(err["code"], "invalid_field");
    assert_eq!(env.fails(&["users", "frobnicate"])["code"], "usage");

    let human = env.run(&["users", "set-tier", "nobody@example.com", "pro"]);
    assert!(!human.status.success());
    assert_eq!(text(&human.stderr).trim_end(), "error: user not found");
}

#[tokio::test]
async fn sessions_are_listed_and_revoked() {
    let env = Env::new();
    let user = env.create_user("ada@example.com", &[]);
    let config = Config {
        database_url: env.database_url.clone(),
        ..Config::default()
    };
    let delegate = Delegate::connect(config).await.expect("connects");
    let device = DeviceInfo {
        name: Some("Ada's laptop".to_owned()),
        platform: Some("linux".to_owned()),
        ..DeviceInfo::default()
    };
    let signed_in = delegate
        .auth()
        .login(Credentials::new("ada@example.com", PASSWORD).with_device(device))
        .await
        .expect("signs in");
    let session_id = signed_in.session.id.to_string();

    let listed = env.ok(&["sessions", "list", "ada@example.com"]);
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], session_id.as_str());
    assert_eq!(items[0]["userId"], user["id"]);
    assert_eq!(items[0]["device"]["name"], "Ada's laptop");
    assert_eq!(items[0]["device"]["platform"], "linux");
    for key in ["createdAt", "lastSeenAt", "expiresAt"] {
        let at = items[0][key].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok(),
            "{key}: {at}"
        );
    }
    let by_id = env.ok(&["sessions", "list", user["id"].as_str().unwrap()]);
    assert_eq!(by_id["items"], listed["items"]);

    let revoked = env.ok(&["sessions", "revoke", &session_id]);
    assert_eq!(revoked["id"], session_id.as_str());
    assert_eq!(
        env.ok(&["sessions", "list", "ada@example.com"])["items"],
        Value::Array(Vec::new())
    );
    let alive = delegate
        .login_sessions()
        .list(signed_in.user.id)
        .await
        .unwrap();
    assert!(alive.is_empty(), "the store no longer has it alive");

    let again = env.fails(&["sessions", "revoke", &session_id]);
    assert_eq!(again["code"], "not_found");
    assert_eq!(
        env.fails(&["sessions", "revoke", "nope"])["code"],
        "invalid_field"
    );

    // Cleanup deletes the revoked session (and its refresh family), and only it.
    let kept = delegate
        .auth()
        .login(Credentials::new("ada@example.com", PASSWORD))
        .await
        .expect("signs in again");
    let cleaned = env.ok(&["sessions", "cleanup"]);
    assert_eq!(cleaned["sessions"], 1, "{cleaned}");
    assert_eq!(env.ok(&["sessions", "cleanup"])["removed"], 0);
    let alive = delegate
        .login_sessions()
        .list(signed_in.user.id)
        .await
        .unwrap();
    assert_eq!(alive.len(), 1);
    assert_eq!(alive[0].id, kept.session.id);
}

/// Kills the server when the test ends, passing or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_answers_health() {
    let env = Env::new();
    let (_server, base) = serve(&env).await;
    let response = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert!(
        env.dir.path().join("d.db").exists(),
        "it serves the configured database"
    );
}

/// Serves the store of `env` on a free port with a fixed signing key; returns the server
/// and its base URL once it answers.
async fn serve(env: &Env) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut server = Server(
        env.command(&["serve"])
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("JWT_SECRET", "cli-test-jwt-secret-0123456789abcdefghij")
            .env(
                "JWT_REFRESH_SECRET",
                "cli-test-refresh-secret-0123456789abcdef",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("the server exited early: {status}");
        }
        if client.get(format!("{base}/health")).send().await.is_ok() {
            return (server, base);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the server did not answer");
}

/// Polls `check` every 50 ms for up to 5 s.
async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

/// A tier change and a session revocation made with the CLI reach a server running on the
/// same store at once (its bus: a polled table on SQLite, LISTEN/NOTIFY on PostgreSQL),
/// though the server had both cached.
async fn cli_changes_reach_a_running_server(env: &Env) {
    env.create_user("ada@example.com", &[]);
    let (_server, base) = serve(env).await;
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = login["accessToken"].as_str().unwrap().to_owned();
    let session = login["session"]["id"].as_str().unwrap().to_owned();
    let me = async || {
        client
            .get(format!("{base}/api/v1/auth/me"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
    };
    let tier = async || me().await.json::<Value>().await.unwrap()["user"]["tier"].clone();
    assert_eq!(tier().await, "free");
    env.ok(&["users", "set-tier", "ada@example.com", "pro"]);
    assert!(
        eventually(async || tier().await == "pro").await,
        "the server saw the CLI's tier change"
    );
    env.ok(&["sessions", "revoke", &session]);
    assert!(
        eventually(async || me().await.status() == 401).await,
        "the server refused the session the CLI revoked"
    );
    // Sign-out everywhere and disabling, by the CLI, reach the server too.
    let login = async || -> reqwest::Response {
        client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "ada@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap()
    };
    let status_of = async |token: &str| {
        client
            .get(format!("{base}/api/v1/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };
    let token = |body: Value| body["accessToken"].as_str().unwrap().to_owned();
    let fresh = token(login().await.json().await.unwrap());
    assert_eq!(status_of(&fresh).await, 200);
    env.ok(&["users", "logout-all", "ada@example.com"]);
    assert!(
        eventually(async || status_of(&fresh).await == 401).await,
        "the server refused the tokens of the CLI's logout-all"
    );
    let fresh = token(login().await.json().await.unwrap());
    env.ok(&["users", "disable", "ada@example.com"]);
    assert!(
        eventually(async || status_of(&fresh).await == 401).await,
        "the server refused the disabled user's token"
    );
    assert_eq!(login().await.status(), 403, "and her login");
}

#[tokio::test]
async fn cli_changes_reach_a_running_embedded_server_at_once() {
    cli_changes_reach_a_running_server(&Env::new()).await;
}

#[tokio::test]
async fn cli_changes_reach_a_running_postgres_server_without_redis_at_once() {
    let base = std::env::var("DELEGATE_TEST_DATABASE_URL")
        .expect("DELEGATE_TEST_DATABASE_URL is not set; ./scripts/test sets it");
    let (_, schema) = delegate_core::backend::postgres::TestSchema::create(&base, "cli")
        .await
        .expect("a test schema");
    let joiner = if base.contains('?') { '&' } else { '?' };
    let env = Env {
        dir: tempfile::tempdir().expect("temp dir"),
        database_url: format!("{base}{joiner}options=-c%20search_path%3D{}", schema.name()),
    };
    cli_changes_reach_a_running_server(&env).await;
}
