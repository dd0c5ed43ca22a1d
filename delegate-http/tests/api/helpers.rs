//! Spawning the app (embedded, or scale-out on PostgreSQL + Redis), and request helpers.

use delegate_core::backend::postgres::TestSchema;
use delegate_core::{Config, Delegate, ManualClock, Secret, Shared};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The signing key every test app uses, so tests can forge tokens.
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef-0123456789";
/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub shutdown: tokio::sync::oneshot::Sender<()>,
    pub client: Client,
    /// The app's clock: starts at the real time and moves only when advanced.
    pub clock: ManualClock,
    /// Where its state lives; another app spawned on it shares that state.
    pub backing: Backing,
    /// The app's core, for what HTTP does not show.
    pub delegate: Delegate,
}

/// Where apps keep state: a fresh SQLite file (embedded mode, the default), or a fresh
/// PostgreSQL schema and Redis key prefix (scale-out mode: `DELEGATE_TEST_MODE=scaleout`, with
/// `DELEGATE_TEST_DATABASE_URL` and `DELEGATE_TEST_REDIS_URL`). Apps spawned on one backing
/// share its state: a restart, or a second instance.
#[derive(Clone)]
pub struct Backing(Arc<BackingInner>);

struct BackingInner {
    dir: TempDir,
    scaleout: Option<ScaleOut>,
}

struct ScaleOut {
    database_url: String,
    redis_url: String,
    prefix: String,
    _schema: TestSchema,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set; ./scripts/test sets it (it starts PostgreSQL and Redis)")
    })
}

impl Backing {
    /// A fresh backing in the mode `DELEGATE_TEST_MODE` selects.
    pub async fn new() -> Self {
        match std::env::var("DELEGATE_TEST_MODE").as_deref() {
            Ok("scaleout") => Self::scaleout_default().await,
            Ok("embedded") | Err(_) => Self::embedded(),
            Ok(other) => panic!("DELEGATE_TEST_MODE={other}: expected embedded or scaleout"),
        }
    }

    /// [`Self::scaleout`] on the test Redis (`DELEGATE_TEST_REDIS_URL`), whatever the mode.
    pub async fn scaleout_default() -> Self {
        Self::scaleout(&env("DELEGATE_TEST_REDIS_URL")).await
    }

    /// A fresh SQLite file and in-process cache, limiter and bus.
    pub fn embedded() -> Self {
        Self(Arc::new(BackingInner {
            dir: tempfile::tempdir().expect("temp dir"),
            scaleout: None,
        }))
    }

    /// A fresh PostgreSQL schema and a fresh key prefix on the Redis at `redis_url`.
    pub async fn scaleout(redis_url: &str) -> Self {
        let base = env("DELEGATE_TEST_DATABASE_URL");
        let (_, schema) = TestSchema::create(&base, "api").await.expect("test schema");
        let joiner = if base.contains('?') { '&' } else { '?' };
        let database_url = format!("{base}{joiner}options=-c%20search_path%3D{}", schema.name());
        Self(Arc::new(BackingInner {
            dir: tempfile::tempdir().expect("temp dir"),
            scaleout: Some(ScaleOut {
                database_url,
                redis_url: redis_url.to_owned(),
                prefix: format!("api-test:{}:", uuid_simple()),
                _schema: schema,
            }),
        }))
    }

    /// The config apps on this backing start from.
    pub fn config(&self) -> Config {
        match &self.0.scaleout {
            None => Config {
                database_url: format!(
                    "sqlite://{}",
                    self.0.dir.path().join("delegate.db").display()
                ),
                ..Config::default()
            },
            Some(s) => Config {
                database_url: s.database_url.clone(),
                redis_url: s.redis_url.clone(),
                redis_prefix: s.prefix.clone(),
                ..Config::default()
            },
        }
    }
}

fn uuid_simple() -> String {
    format!(
        "{:032x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Starts Delegate on a fresh backing and a random port.
pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// Like [`spawn_app`], with the config adjusted first.
pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_on(&Backing::new().await, adjust, None).await
}

/// Starts Delegate on `backing` (sharing its state), optionally with the given cache,
/// limiter and bus.
pub async fn spawn_on(
    backing: &Backing,
    adjust: impl FnOnce(&mut Config),
    shared: Option<Shared>,
) -> TestApp {
    let mut config = backing.config();
    config.auth.jwt_secret = Some(Secret::new(JWT_SECRET));
    config.auth.jwt_refresh_secret = Some(Secret::new("test-refresh-secret-0123456789abcdef-0123"));
    adjust(&mut config);
    let clock = ManualClock::default();
    let mut builder = Delegate::builder(config).with_clock(Arc::new(clock.clone()));
    if let Some(shared) = shared {
        builder = builder.with_shared(shared);
    }
    let delegate = builder.build().await.expect("delegate starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(delegate_http::serve(delegate.clone(), listener, async {
        let _ = stop.await;
    }));
    TestApp {
        addr,
        // Bounded, so a stuck request fails its test instead of hanging the suite.
        client: Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("http client"),
        clock,
        shutdown,
        backing: backing.clone(),
        delegate,
    }
}

/// A registered user's credentials and tokens.
pub struct Account {
    pub access: String,
    pub refresh: String,
    pub session_id: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_auth(&self, path: &str, token: &str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete_auth(&self, path: &str, token: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// POST /api/v1/auth/refresh with `token` (a string, or a JSON value holding one).
    pub async fn refresh(&self, token: impl serde::Serialize) -> Response {
        self.post("/api/v1/auth/refresh", json!({ "refreshToken": token }))
            .await
    }

    /// Registers `email` from a named device and returns its tokens.
    pub async fn register(&self, email: &str) -> Account {
        let res = self
            .post(
                "/api/v1/auth/register",
                json!({"email": email, "password": PASSWORD, "name": "Test",
                       "device": {"name": "laptop", "platform": "web"}}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        account(res.json().await.expect("json")).await
    }

    /// Signs `email` in again (a second device) and returns the new tokens.
    /// Registers `email` and makes it an admin through the core service (as the CLI does);
    /// returns its access token.
    pub async fn register_admin(&self, email: &str) -> String {
        let account = self.register(email).await;
        let users = self.delegate.users();
        let user = users.by_email(email).await.expect("registered");
        users
            .set_role(user.id, delegate_core::Role::Admin)
            .await
            .expect("role set");
        account.access
    }

    pub async fn login(&self, email: &str, device: &str) -> Account {
        let res = self
            .post(
                "/api/v1/auth/login",
                json!({"email": email, "password": PASSWORD, "device": {"name": device}}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        account(res.json().await.expect("json")).await
    }
}

async fn account(body: Value) -> Account {
    Account {
        access: body["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned(),
        refresh: body["refreshToken"]
            .as_str()
            .expect("refreshToken")
            .to_owned(),
        session_id: body["session"]["id"]
            .as_str()
            .expect("session.id")
            .to_owned(),
    }
}

/// Asserts the status and the error envelope's code; returns the body.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "status for expected code {code}");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = res.json().await.expect("json error body");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body
}

/// Polls `check` every 5 ms for up to 3 s; returns how long it took to hold.
pub async fn within(check: impl AsyncFn() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}
