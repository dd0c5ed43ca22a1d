//! Socket.IO at /socket.io/, driven by a real client (python-socketio, in a virtualenv made
//! on first use under the target directory): the WebSocket's events under the same names
//! (data first, `seq` second), over the websocket and the polling transports; refusals at the
//! handshake; `since` in the auth payload replaying what was missed; a logout closing the
//! socket; events crossing instances.

use crate::chat::chat_app;
use crate::helpers::{Backing, TestApp, spawn_on, spawn_with};
use delegate_core::testing::upstream::{Reply, Upstream};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// What the client's virtualenv holds, pinned.
const REQUIREMENTS: &[&str] = &["python-socketio==5.18.1", "aiohttp==3.14.5"];
/// How long a happening that must come may take.
const WAIT: Duration = Duration::from_secs(15);

/// The Python of a virtualenv holding python-socketio, made once (and again when its
/// requirements change).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-socketio");
        let python = venv.join("bin").join("python");
        let marker = venv.join(format!("ready-{}", REQUIREMENTS.join("+")));
        if !marker.exists() {
            let run = |command: &mut std::process::Command| {
                let status = command.status().expect("python3 runs");
                assert!(status.success(), "{command:?} failed");
            };
            run(std::process::Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv));
            run(std::process::Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(REQUIREMENTS));
            std::fs::write(&marker, b"").unwrap();
        }
        python
    })
}

/// One python-socketio client process.
struct Client {
    /// Killed when dropped.
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Client {
    /// Connects to `app` with the handshake `auth`; `options` may name the transports and
    /// headers. Returns once connected or refused (then [`Self::next`] tells which).
    async fn start(app: &TestApp, auth: Value, options: Value) -> Self {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/python/socketio_client.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(format!("http://{}", app.addr))
            .arg(auth.to_string())
            .arg(options.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the client starts");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            _child: child,
            stdin,
            lines,
        }
    }

    /// Connects `token` over `transport` and returns after the `ready` event (its data).
    async fn ready(app: &TestApp, token: &str, transport: &str) -> (Self, Value) {
        let options = json!({ "transports": [transport] });
        let mut client = Self::start(app, json!({ "token": token }), options).await;
        let (name, args) = client.event().await;
        assert_eq!(name, "ready");
        (client, args[0].clone())
    }

    /// The next happening the client printed.
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .expect("the client said something in time")
            .expect("the client's output")
            .expect("the client still running");
        eprintln!("socket.io client: {line}");
        serde_json::from_str(&line).unwrap()
    }

    /// The next event: its name and arguments (the client's own `connected` line, which
    /// may come before or after the first events, is skipped).
    async fn event(&mut self) -> (String, Vec<Value>) {
        let mut next = self.next().await;
        if next.get("connected").is_some() {
            next = self.next().await;
        }
        let name = next["event"]
            .as_str()
            .unwrap_or_else(|| panic!("not an event: {next}"));
        (name.to_owned(), next["args"].as_array().unwrap().clone())
    }

    /// Events until one named `name`: its arguments, and the events before it.
    async fn until(&mut self, name: &str) -> (Vec<Value>, Vec<(String, Vec<Value>)>) {
        let mut before = Vec::new();
        loop {
            let (event, args) = self.event().await;
            if event == name {
                return (args, before);
            }
            before.push((event, args));
        }
    }

    async fn emit(&mut self, name: &str, data: Value) {
        let line = json!({ "emit": name, "data": data }).to_string() + "\n";
        self.stdin.write_all(line.as_bytes()).await.unwrap();
    }

    /// Proves nothing is queued: a ping's pong is the next event.
    async fn nothing_pending(&mut self) {
        self.emit("ping", json!({})).await;
        let (name, args) = self.event().await;
        assert_eq!(name, "pong", "something else was queued: {args:?}");
    }
}

#[tokio::test]
async fn a_socketio_client_gets_the_websockets_events_under_the_same_names() {
    let upstream = Upstream::start().await;
    let app = chat_app(&upstream, 10).await;
    let ada = app.register("ada-sio@example.com").await;
    let bob = app.register("bob-sio@example.com").await;
    let (mut phone, ready) = Client::ready(&app, &ada.access, "websocket").await;
    assert_eq!(ready["sessionId"], ada.session_id.as_str());
    let (mut laptop, _) = Client::ready(&app, &ada.access, "polling").await;
    let (mut other, _) = Client::ready(&app, &bob.access, "websocket").await;

    let chat = app.new_chat(&ada.access, json!({"title": "Socket"})).await;
    let id = chat["id"].as_str().unwrap();
    for client in [&mut phone, &mut laptop] {
        let (name, args) = client.event().await;
        assert_eq!(name, "chat.session.created");
        assert_eq!(args[0], chat, "the REST shape");
        assert!(args[1].as_u64().unwrap() >= 1, "seq second: {args:?}");
    }

    laptop.emit("subscribe", json!({ "sessionId": id })).await;
    let (name, args) = laptop.event().await;
    assert_eq!(
        (name.as_str(), &args[0]["sessionId"]),
        ("subscribed", &json!(id))
    );
    upstream.script(Reply::new("Sockets all the way down").in_chunks(4));
    let res = app
        .send(
            &ada.access,
            id,
            json!({"content": "Tell me", "stream": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let _ = res.text().await.unwrap();

    let (done, before) = laptop.until("chat.reply.done").await;
    assert_eq!(done[0]["content"], "Sockets all the way down");
    let text: String = before
        .iter()
        .filter(|(name, _)| name == "chat.reply.delta")
        .map(|(_, args)| args[0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Sockets all the way down");
    let (_, before) = phone.until("chat.reply.done").await;
    assert!(
        before.iter().all(|(name, _)| name != "chat.reply.delta"),
        "not subscribed"
    );
    let seqs: Vec<u64> = before
        .iter()
        .filter_map(|(_, args)| args.get(1)?.as_u64())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    // The exchange was metered before the reply was announced done.
    let (_, usage) = before
        .iter()
        .find(|(name, _)| name == "usage.updated")
        .expect("usage.updated before chat.reply.done");
    let rest: Value = app
        .get_auth("/api/v1/users/usage", &ada.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(usage[0], rest, "usage.updated in the REST shape");

    // A command that is not understood gets an error event; Bob received nothing.
    phone.emit("shout", json!({})).await;
    assert_eq!(phone.event().await.0, "error");
    other.nothing_pending().await;
}

#[tokio::test]
async fn socketio_refuses_missing_or_bad_tokens_and_foreign_origins_at_the_handshake() {
    let app = spawn_with(|c| c.server.cors_origin = "https://app.example.com".into()).await;
    let ada = app.register("sio-gate@example.com").await;
    let refusal = |auth: Value, options: Value| {
        let app = &app;
        async move {
            let mut client = Client::start(app, auth, options).await;
            let next = client.next().await;
            next["connect_error"]["message"]
                .as_str()
                .unwrap_or_else(|| panic!("not refused: {next}"))
                .to_owned()
        }
    };
    let polling = json!({
        "transports": ["polling"],
        "headers": {"Origin": "https://app.example.com"},
    });
    let refused = |auth: Value, options: Value, cause: &'static str| {
        let refusal = refusal(auth, options);
        async move {
            let message = refusal.await;
            assert!(message.starts_with(cause), "{message}");
        }
    };
    refused(json!({}), polling.clone(), "unauthorized").await;
    refused(json!({"token": "nope"}), polling.clone(), "unauthorized").await;
    refused(json!({"token": 42}), polling.clone(), "invalid_auth").await;
    let foreign =
        json!({ "transports": ["polling"], "headers": {"Origin": "https://evil.example"} });
    refused(json!({"token": ada.access}), foreign, "forbidden_origin").await;
    let websocket =
        json!({ "transports": ["websocket"], "headers": {"Origin": "https://evil.example"} });
    refused(json!({"token": ada.access}), websocket, "forbidden_origin").await;

    let allowed =
        json!({ "transports": ["polling"], "headers": {"Origin": "https://app.example.com"} });
    let mut client = Client::start(&app, json!({"token": ada.access}), allowed).await;
    assert_eq!(client.event().await.0, "ready");
}

#[tokio::test]
async fn socketio_replays_what_was_missed_from_since_and_a_logout_closes_it() {
    let app = spawn_with(|_| {}).await;
    let ada = app.register("sio-again@example.com").await;
    let (client, ready) = Client::ready(&app, &ada.access, "websocket").await;
    let start = ready["seq"].as_u64().unwrap();
    drop(client);

    let mut titles = Vec::new();
    for i in 0..3 {
        let title = format!("Missed {i}");
        app.new_chat(&ada.access, json!({ "title": title })).await;
        titles.push(title);
    }
    let auth = json!({ "token": format!("Bearer {}", ada.access), "since": start });
    let mut client = Client::start(&app, auth, json!({ "transports": ["websocket"] })).await;
    assert_eq!(client.event().await.0, "ready");
    for (i, title) in titles.iter().enumerate() {
        let (name, args) = client.event().await;
        assert_eq!(name, "chat.session.created");
        assert_eq!(args[0]["title"], title.as_str());
        assert_eq!(args[1], start + 1 + i as u64);
    }
    client.nothing_pending().await;

    assert_eq!(
        app.post_auth("/api/v1/auth/logout", &ada.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let (revoked, _) = client.until("session.revoked").await;
    assert_eq!(revoked[0]["sessionId"], ada.session_id.as_str());
    let (name, args) = client.event().await;
    assert_eq!((name.as_str(), &args[0]["code"]), ("close", &json!(4401)));
    assert_eq!(client.next().await["disconnected"], true);
}

#[tokio::test]
async fn socketio_events_cross_instances() {
    let backing = Backing::scaleout_default().await;
    let one = spawn_on(&backing, |_| {}, None).await;
    let two = spawn_on(&backing, |_| {}, None).await;
    let ada = one.register("sio-far@example.com").await;
    let (mut there, _) = Client::ready(&two, &ada.access, "polling").await;
    let chat = one
        .new_chat(&ada.access, json!({"title": "Over there"}))
        .await;
    let (created, _) = there.until("chat.session.created").await;
    assert_eq!(created[0], chat);
}
