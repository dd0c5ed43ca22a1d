//! A local OpenAI-compatible upstream for tests: a real HTTP/1.1 server (hyper) on loopback
//! that speaks the chat-completions wire format (JSON and SSE) and does what the test scripts.
//!
//! ```text
//! let upstream = Upstream::start().await;
//! upstream.script(Behaviour::fail(500));                      // the first request fails,
//! upstream.script(Reply::new("Hello there").delay_between(ms(20)));  // the second streams
//! let base_url = upstream.base_url();                          // "http://127.0.0.1:PORT/v1"
//! // … point the provider under test at base_url and call it …
//! assert_eq!(upstream.request_count(), 2);
//! assert!(upstream.wait_for_disconnects(1).await);             // it noticed the client leave
//! ```
//!
//! * It answers `POST /v1/chat/completions` and `POST /chat/completions`; any other route is a
//!   404 with an OpenAI-style error body. Every request is recorded ([`Upstream::requests`]):
//!   method, path, headers (names lowercased) and the body (at most 4 MiB), parsed as JSON.
//! * Each chat request takes the next scripted [`Behaviour`] from a queue
//!   ([`Upstream::script`]); when the queue is empty the default applies
//!   ([`Upstream::set_default`], initially a short [`Reply`]).
//! * With `"stream": true` a reply is `text/event-stream` in chunked transfer encoding: one
//!   `data: {chat.completion.chunk}` event per chunk (the first carries the assistant role), a
//!   chunk with `finish_reason: "stop"`, a usage chunk (`choices: []`) when the request asked
//!   for `stream_options.include_usage`, then `data: [DONE]`. Without it, one
//!   `chat.completion` JSON object with usage.
//! * A cut stream ([`Reply::cut_after`]) closes the connection mid-body, without the final
//!   chunk of the chunked encoding and without `[DONE]`, so a client sees a broken body.
//! * While a response is pending (before its head, during a delay, mid-stream or hanging) the
//!   server watches the socket: when the client closes it, the pending response is dropped and
//!   [`Upstream::disconnects`] counts one. That is how a test proves a request was cancelled
//!   upstream.
//! * Timing in tests: use the `wait_for_*` methods, which poll an event signal and give up after
//!   [`WAIT_LIMIT`]; never assert on elapsed time.
//!
//! The script types live in `script.rs`, the hyper server (connections, recording, disconnect
//! detection) in `server.rs`, the OpenAI wire writers in `wire.rs`, and the end-to-end tests
//! over real sockets in `tests.rs`.

mod script;
mod server;
#[cfg(test)]
mod tests;
mod wire;

pub use script::{Behaviour, Failure, Reply};

use serde_json::Value;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The longest any `wait_for_*` method waits before giving up.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// One request the upstream received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: String,
    /// The path (with any query string).
    pub path: String,
    /// The headers in arrival order (repeats of a name grouped where it first came), names
    /// lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body_text: String,
    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub body: Value,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The token of an `Authorization: Bearer …` header.
    pub fn bearer_token(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }

    /// The `model` field of the body.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model")?.as_str()
    }

    /// Whether the body asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.body.get("stream").and_then(Value::as_bool) == Some(true)
    }

    /// Whether the body asked for usage on the last chunk (`stream_options.include_usage`).
    pub fn wants_stream_usage(&self) -> bool {
        self.body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// The `messages` of the body as `(role, text)` pairs; content given as an array of parts
    /// is joined from its text parts.
    pub fn messages(&self) -> Vec<(String, String)> {
        let Some(messages) = self.body.get("messages").and_then(Value::as_array) else {
            return Vec::new();
        };
        messages
            .iter()
            .map(|m| {
                let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
                (role.to_owned(), content_text(m.get("content")))
            })
            .collect()
    }

    fn is_chat(&self) -> bool {
        let path = self.path.split('?').next().unwrap_or_default();
        self.method == "POST" && matches!(path, "/v1/chat/completions" | "/chat/completions")
    }
}

fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// Counters of what the upstream has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpstreamStats {
    /// Requests received (every route).
    pub requests: usize,
    /// TCP connections accepted.
    pub connections: usize,
    /// Connections open now.
    pub open_connections: usize,
    /// Responses the client abandoned: it closed the connection while a response was in
    /// progress (delayed, streaming or hanging).
    pub disconnects: usize,
    /// Responses written to the end.
    pub completed: usize,
}

struct State {
    queue: VecDeque<Behaviour>,
    default: Behaviour,
    requests: Vec<RecordedRequest>,
    stats: UpstreamStats,
}

struct Shared {
    state: Mutex<State>,
    /// Bumped on every change, so waiters can re-check their condition.
    changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.changed.send_modify(|v| *v += 1);
    }
}

/// The running upstream; it stops (and ends every open connection) when dropped.
pub struct Upstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.accept.abort();
    }
}

impl Upstream {
    /// Starts a server on `127.0.0.1` on a free port. Needs a running tokio runtime.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the test upstream on loopback");
        let addr = listener.local_addr().expect("the listener's address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                default: Reply::new("Hello from the test upstream.").into(),
                requests: Vec::new(),
                stats: UpstreamStats::default(),
            }),
            changed: watch::channel(0).0,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let accept = tokio::spawn(server::accept_loop(listener, shared.clone(), shutdown_rx));
        Self {
            addr,
            shared,
            shutdown,
            accept,
        }
    }

    /// The base URL to configure a client with, including `/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues what the next unscripted chat request gets.
    pub fn script(&self, behaviour: impl Into<Behaviour>) {
        let behaviour = behaviour.into();
        self.shared.update(|s| s.queue.push_back(behaviour));
    }

    /// Queues the same behaviour for the next `times` chat requests.
    pub fn script_times(&self, behaviour: impl Into<Behaviour>, times: usize) {
        let behaviour = behaviour.into();
        self.shared.update(|s| {
            s.queue
                .extend(std::iter::repeat_n(behaviour.clone(), times));
        });
    }

    /// What chat requests get once the queue is empty.
    pub fn set_default(&self, behaviour: impl Into<Behaviour>) {
        let behaviour = behaviour.into();
        self.shared.update(|s| s.default = behaviour);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The most recent request, if any.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.shared.lock().requests.last().cloned()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.stats().requests
    }

    /// How many connections are open now.
    pub fn open_connections(&self) -> usize {
        self.stats().open_connections
    }

    /// How many responses the client abandoned mid-way (see [`UpstreamStats::disconnects`]).
    pub fn disconnects(&self) -> usize {
        self.stats().disconnects
    }

    /// All counters at once.
    pub fn stats(&self) -> UpstreamStats {
        self.shared.lock().stats
    }

    /// Waits until `condition` holds for the counters, for at most [`WAIT_LIMIT`]; returns
    /// whether it did.
    pub async fn wait_until(&self, condition: impl Fn(&UpstreamStats) -> bool) -> bool {
        let mut changed = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        loop {
            changed.borrow_and_update();
            if condition(&self.stats()) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return condition(&self.stats()),
            }
        }
    }

    /// Waits until at least `n` requests arrived (bounded by [`WAIT_LIMIT`]).
    pub async fn wait_for_requests(&self, n: usize) -> bool {
        self.wait_until(|s| s.requests >= n).await
    }

    /// Waits until the client abandoned at least `n` responses (bounded by [`WAIT_LIMIT`]).
    pub async fn wait_for_disconnects(&self, n: usize) -> bool {
        self.wait_until(|s| s.disconnects >= n).await
    }

    /// Waits until no connection is open (bounded by [`WAIT_LIMIT`]).
    pub async fn wait_for_no_connections(&self) -> bool {
        self.wait_until(|s| s.open_connections == 0).await
    }
}
