//! A local OpenAI-compatible upstream for tests: a real HTTP/1.1 server on loopback that
//! speaks the chat-completions wire format (JSON and SSE) and does what the test scripts.
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
//!   method, path, headers (names lowercased) and the body, parsed as JSON.
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
//! * While a response is in progress (waiting, streaming or hanging) the server watches the
//!   socket: when the client closes it, [`Upstream::disconnects`] counts one. That is how a test
//!   proves a request was cancelled upstream.
//! * Timing in tests: use the `wait_for_*` methods, which poll an event signal and give up after
//!   [`WAIT_LIMIT`]; never assert on elapsed time.

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The longest any `wait_for_*` method waits before giving up.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// The largest request head or body the server reads.
const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// What the upstream does with one chat request.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Answer with text (streamed when the request asks for it); see [`Reply`].
    Reply(Reply),
    /// Fail with an HTTP error before any chunk; see [`Failure`].
    Fail(Failure),
    /// Send the SSE response head (status 200, `text/event-stream`) and then nothing, until the
    /// client goes away.
    HangAfterHeaders,
    /// Read the request and send nothing at all, until the client goes away.
    Hang,
    /// Answer with exactly this status, content type and body (for garbage replies).
    Raw {
        /// The HTTP status.
        status: u16,
        /// The `content-type` header.
        content_type: String,
        /// The body, sent with a `content-length`.
        body: String,
    },
}

impl Behaviour {
    /// A reply of `text`, split into words; see [`Reply`] for the options.
    pub fn reply(text: impl Into<String>) -> Reply {
        Reply::new(text)
    }

    /// A failure with `status` (500, 429, 401, …) and an OpenAI-style error body.
    pub fn fail(status: u16) -> Failure {
        Failure::new(status)
    }

    /// A response with exactly this status, content type and body.
    pub fn raw(status: u16, content_type: impl Into<String>, body: impl Into<String>) -> Self {
        Behaviour::Raw {
            status,
            content_type: content_type.into(),
            body: body.into(),
        }
    }
}

/// A scripted reply: its text as chunks, optional delays, an optional cut.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    chunks: Vec<String>,
    delay_first: Duration,
    delay_between: Duration,
    cut_after: Option<usize>,
    usage: Option<(u32, u32)>,
}

impl Reply {
    /// A reply of `text` in word-sized chunks (each word keeps the whitespace after it).
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            chunks: text
                .split_inclusive(char::is_whitespace)
                .map(str::to_owned)
                .collect(),
            delay_first: Duration::ZERO,
            delay_between: Duration::ZERO,
            cut_after: None,
            usage: None,
        }
    }

    /// A reply made of exactly these chunks.
    pub fn from_chunks<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Self {
        Self {
            chunks: chunks.into_iter().map(Into::into).collect(),
            ..Self::new("")
        }
    }

    /// The same text re-split into `n` chunks of about equal length (in characters).
    pub fn in_chunks(mut self, n: usize) -> Self {
        let text: Vec<char> = self.chunks.concat().chars().collect();
        let n = n.clamp(1, text.len().max(1));
        let size = text.len().div_ceil(n).max(1);
        self.chunks = text.chunks(size).map(|c| c.iter().collect()).collect();
        self
    }

    /// Waits this long before the response body's first chunk (after the response head when
    /// streaming; before anything otherwise).
    pub fn delay_first(mut self, delay: Duration) -> Self {
        self.delay_first = delay;
        self
    }

    /// Waits this long between two chunks.
    pub fn delay_between(mut self, delay: Duration) -> Self {
        self.delay_between = delay;
        self
    }

    /// Sends `k` content chunks, then closes the connection without finishing the body (no
    /// `finish_reason`, no usage, no `[DONE]`, no final chunk of the chunked encoding). A
    /// non-streaming request is then answered with nothing: the connection just closes.
    pub fn cut_after(mut self, k: usize) -> Self {
        self.cut_after = Some(k);
        self
    }

    /// Reports these token counts instead of the estimates (prompt: a quarter of the characters
    /// of the request's messages, rounded up; completion: the number of chunks).
    pub fn usage(mut self, prompt_tokens: u32, completion_tokens: u32) -> Self {
        self.usage = Some((prompt_tokens, completion_tokens));
        self
    }

    /// The whole text.
    pub fn text(&self) -> String {
        self.chunks.concat()
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> &[String] {
        &self.chunks
    }
}

impl From<Reply> for Behaviour {
    fn from(reply: Reply) -> Self {
        Behaviour::Reply(reply)
    }
}

/// A scripted HTTP failure, answered before any chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    status: u16,
    message: Option<String>,
    error_type: Option<String>,
    retry_after: Option<u64>,
    delay: Duration,
}

impl Failure {
    /// A failure with `status`. The body is `{"error":{"message","type","param","code"}}` with a
    /// type fitting the status; a 401 echoes the bearer token it received in its message (as a
    /// careless server might), so tests can check that it never reaches an error message.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            message: None,
            error_type: None,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }

    /// Uses this error message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Uses this error `type` (and `code`), e.g. `insufficient_quota` for a 429 that retrying
    /// cannot fix.
    pub fn error_type(mut self, error_type: impl Into<String>) -> Self {
        self.error_type = Some(error_type.into());
        self
    }

    /// Sends a `retry-after` header of this many seconds.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Waits this long before answering.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

impl From<Failure> for Behaviour {
    fn from(failure: Failure) -> Self {
        Behaviour::Fail(failure)
    }
}

/// One request the upstream received.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: String,
    /// The path (with any query string).
    pub path: String,
    /// The headers in arrival order, names lowercased.
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
        let accept = tokio::spawn(accept_loop(listener, shared.clone(), shutdown_rx));
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

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: watch::Receiver<bool>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            // Out of file descriptors or the like: try again shortly.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = socket.set_nodelay(true);
        shared.update(|s| {
            s.stats.connections += 1;
            s.stats.open_connections += 1;
        });
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let guard = OpenConnection(shared.clone());
            serve_connection(socket, &shared, shutdown).await;
            drop(guard);
        });
    }
}

/// Counts a connection as closed when its task ends, however it ends.
struct OpenConnection(Arc<Shared>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.update(|s| s.stats.open_connections -= 1);
    }
}

/// How a wait during a response ended.
enum Waited {
    /// The time passed.
    Elapsed,
    /// The client closed the connection (or the upstream is shutting down).
    Gone,
}

struct Conn<'a> {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    shared: &'a Shared,
    shutdown: watch::Receiver<bool>,
}

impl Conn<'_> {
    /// Waits `delay` (forever with `None`) while watching for the client leaving.
    async fn wait(&mut self, delay: Option<Duration>) -> Waited {
        let sleep = async {
            match delay {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => Waited::Elapsed,
            () = client_gone(&mut self.reader) => Waited::Gone,
            _ = self.shutdown.wait_for(|stop| *stop) => Waited::Gone,
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Waited> {
        match self.writer.write_all(bytes).await {
            Ok(()) => Ok(()),
            Err(_) => Err(Waited::Gone),
        }
    }

    fn abandoned(&self) {
        self.shared.update(|s| s.stats.disconnects += 1);
    }

    fn completed(&self) {
        self.shared.update(|s| s.stats.completed += 1);
    }
}

/// Resolves when the peer has closed the connection (EOF or an error on read). Pipelined bytes
/// are left in the buffer and do not count.
async fn client_gone<R: AsyncBufRead + Unpin>(reader: &mut R) {
    match reader.fill_buf().await {
        Ok([]) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

/// Whether to keep the connection for another request.
enum After {
    KeepAlive,
    Close,
}

async fn serve_connection(socket: TcpStream, shared: &Shared, shutdown: watch::Receiver<bool>) {
    let (reader, writer) = socket.into_split();
    let mut conn = Conn {
        reader: BufReader::new(reader),
        writer,
        shared,
        shutdown,
    };
    loop {
        let mut stop = conn.shutdown.clone();
        let request = tokio::select! {
            request = read_request(&mut conn.reader) => request,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        let Some((request, client_keeps_alive)) = request else {
            return;
        };
        let behaviour = if request.is_chat() {
            let mut taken = None;
            shared.update(|s| {
                s.stats.requests += 1;
                s.requests.push(request.clone());
                taken = Some(s.queue.pop_front().unwrap_or_else(|| s.default.clone()));
            });
            taken
        } else {
            shared.update(|s| {
                s.stats.requests += 1;
                s.requests.push(request.clone());
            });
            None
        };
        let index = shared.lock().stats.requests;
        let after = match behaviour {
            None => not_found(&mut conn, &request).await,
            Some(behaviour) => respond(&mut conn, &request, behaviour, index).await,
        };
        match after {
            Ok(After::KeepAlive) if client_keeps_alive => {}
            Ok(_) => return,
            Err(Waited::Gone) | Err(Waited::Elapsed) => {
                conn.abandoned();
                return;
            }
        }
    }
}

/// Reads one request; `None` when the connection closed (or the request is unreadable).
/// The flag says whether the client allows keep-alive.
async fn read_request(reader: &mut BufReader<OwnedReadHalf>) -> Option<(RecordedRequest, bool)> {
    let mut line = String::new();
    // Skip stray empty lines between requests.
    loop {
        line.clear();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let http10 = parts.next() == Some("HTTP/1.0");

    let mut headers = Vec::new();
    let mut head_bytes = line.len();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await.ok()?;
        head_bytes += n;
        if n == 0 || head_bytes > MAX_REQUEST_BYTES {
            return None;
        }
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(reader).await?
    } else {
        let len: usize = header("content-length")
            .map(|v| v.parse().ok())
            .unwrap_or(Some(0))?;
        if len > MAX_REQUEST_BYTES {
            return None;
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).await.ok()?;
        body
    };
    let connection = header("connection").map(str::to_ascii_lowercase);
    let keep_alive = match connection.as_deref() {
        Some(c) if c.contains("close") => false,
        Some(c) if c.contains("keep-alive") => true,
        _ => !http10,
    };
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let body = serde_json::from_str(&body_text).unwrap_or(Value::Null);
    Some((
        RecordedRequest {
            method,
            path,
            headers,
            body_text,
            body,
        },
        keep_alive,
    ))
}

async fn read_chunked(reader: &mut BufReader<OwnedReadHalf>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.ok()?;
        let size_text = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        if body.len() + size > MAX_REQUEST_BYTES {
            return None;
        }
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if reader.read_line(&mut line).await.ok()? == 0 || line.trim().is_empty() {
                    return Some(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).await.ok()?;
        line.clear();
        reader.read_line(&mut line).await.ok()?;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// A whole response with a `content-length`.
fn full_response(status: u16, content_type: &str, extra: &[(&str, String)], body: &str) -> String {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(body);
    head
}

async fn not_found(conn: &mut Conn<'_>, request: &RecordedRequest) -> Result<After, Waited> {
    let body = json!({"error": {
        "message": format!("no route {} {}", request.method, request.path),
        "type": "invalid_request_error", "param": null, "code": "not_found",
    }})
    .to_string();
    conn.write(full_response(404, "application/json", &[], &body).as_bytes())
        .await?;
    conn.completed();
    Ok(After::KeepAlive)
}

async fn respond(
    conn: &mut Conn<'_>,
    request: &RecordedRequest,
    behaviour: Behaviour,
    index: usize,
) -> Result<After, Waited> {
    match behaviour {
        Behaviour::Reply(reply) if request.is_stream() => {
            stream_reply(conn, request, reply, index).await
        }
        Behaviour::Reply(reply) => json_reply(conn, request, reply, index).await,
        Behaviour::Fail(failure) => fail(conn, request, failure).await,
        Behaviour::HangAfterHeaders => {
            conn.write(SSE_HEAD.as_bytes()).await?;
            conn.wait(None).await;
            Err(Waited::Gone)
        }
        Behaviour::Hang => {
            conn.wait(None).await;
            Err(Waited::Gone)
        }
        Behaviour::Raw {
            status,
            content_type,
            body,
        } => {
            conn.write(full_response(status, &content_type, &[], &body).as_bytes())
                .await?;
            conn.completed();
            Ok(After::KeepAlive)
        }
    }
}

/// Waits `delay` unless it is zero; the client leaving ends the response.
async fn pause(conn: &mut Conn<'_>, delay: Duration) -> Result<(), Waited> {
    if delay.is_zero() {
        return Ok(());
    }
    match conn.wait(Some(delay)).await {
        Waited::Elapsed => Ok(()),
        Waited::Gone => Err(Waited::Gone),
    }
}

fn usage_of(request: &RecordedRequest, reply: &Reply) -> Value {
    let (prompt, completion) = reply.usage.unwrap_or_else(|| {
        let chars: usize = request
            .messages()
            .iter()
            .map(|(_, t)| t.chars().count())
            .sum();
        (
            u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX),
            u32::try_from(reply.chunks.len()).unwrap_or(u32::MAX),
        )
    });
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    })
}

const CREATED: u64 = 1_700_000_000;

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";

/// One SSE event as one chunk of the chunked encoding.
fn sse_chunk(data: &str) -> String {
    let event = format!("data: {data}\n\n");
    format!("{:x}\r\n{event}\r\n", event.len())
}

async fn stream_reply(
    conn: &mut Conn<'_>,
    request: &RecordedRequest,
    reply: Reply,
    index: usize,
) -> Result<After, Waited> {
    let id = format!("chatcmpl-test-{index}");
    let model = request.model().unwrap_or("test-model").to_owned();
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": CREATED, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            "usage": null,
        })
        .to_string()
    };

    conn.write(SSE_HEAD.as_bytes()).await?;
    pause(conn, reply.delay_first).await?;
    let mut first = sse_chunk(&chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ));
    for (i, text) in reply.chunks.iter().enumerate() {
        if reply.cut_after == Some(i) {
            return Ok(After::Close);
        }
        if i > 0 {
            pause(conn, reply.delay_between).await?;
        }
        let event = sse_chunk(&chunk(json!({"content": text}), Value::Null));
        first.push_str(&event);
        conn.write(std::mem::take(&mut first).as_bytes()).await?;
    }
    if reply.cut_after.is_some() {
        // Cut after every chunk: still no end.
        return Ok(After::Close);
    }
    let mut tail = first;
    tail.push_str(&sse_chunk(&chunk(json!({}), json!("stop"))));
    if request.wants_stream_usage() {
        let usage = json!({
            "id": id, "object": "chat.completion.chunk", "created": CREATED, "model": model,
            "choices": [], "usage": usage_of(request, &reply),
        });
        tail.push_str(&sse_chunk(&usage.to_string()));
    }
    tail.push_str(&sse_chunk("[DONE]"));
    tail.push_str("0\r\n\r\n");
    conn.write(tail.as_bytes()).await?;
    conn.completed();
    Ok(After::KeepAlive)
}

async fn json_reply(
    conn: &mut Conn<'_>,
    request: &RecordedRequest,
    reply: Reply,
    index: usize,
) -> Result<After, Waited> {
    pause(conn, reply.delay_first).await?;
    if reply.cut_after.is_some() {
        return Ok(After::Close);
    }
    let body = json!({
        "id": format!("chatcmpl-test-{index}"),
        "object": "chat.completion",
        "created": CREATED,
        "model": request.model().unwrap_or("test-model"),
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.text(), "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": usage_of(request, &reply),
    })
    .to_string();
    conn.write(full_response(200, "application/json", &[], &body).as_bytes())
        .await?;
    conn.completed();
    Ok(After::KeepAlive)
}

async fn fail(
    conn: &mut Conn<'_>,
    request: &RecordedRequest,
    failure: Failure,
) -> Result<After, Waited> {
    pause(conn, failure.delay).await?;
    let (default_type, default_message) = match failure.status {
        401 => (
            "invalid_request_error",
            format!(
                "Incorrect API key provided: {}.",
                request.bearer_token().unwrap_or("(none)")
            ),
        ),
        429 => (
            "rate_limit_exceeded",
            "Rate limit reached; please retry.".to_owned(),
        ),
        s if s >= 500 => (
            "server_error",
            "The server had an error while processing your request.".to_owned(),
        ),
        _ => (
            "invalid_request_error",
            "The request was rejected.".to_owned(),
        ),
    };
    let error_type = failure.error_type.as_deref().unwrap_or(default_type);
    let body = json!({"error": {
        "message": failure.message.unwrap_or(default_message),
        "type": error_type,
        "param": null,
        "code": error_type,
    }})
    .to_string();
    let extra: Vec<(&str, String)> = failure
        .retry_after
        .map(|secs| ("retry-after", secs.to_string()))
        .into_iter()
        .collect();
    conn.write(full_response(failure.status, "application/json", &extra, &body).as_bytes())
        .await?;
    conn.completed();
    Ok(After::KeepAlive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn post(upstream: &Upstream, body: &str) -> (TcpStream, String) {
        let mut socket = TcpStream::connect(upstream.addr()).await.unwrap();
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k-1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        (socket, String::new())
    }

    async fn read_to_close(socket: &mut TcpStream) -> String {
        let mut out = Vec::new();
        let _ = socket.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn replies_split_into_words_or_into_n_chunks() {
        let reply = Reply::new("one two  three");
        assert_eq!(reply.chunks(), ["one ", "two ", " ", "three"]);
        let reply = reply.in_chunks(2);
        assert_eq!(reply.chunks().len(), 2);
        assert_eq!(reply.text(), "one two  three");
        assert_eq!(Reply::new("ab").in_chunks(10).chunks(), ["a", "b"]);
    }

    #[tokio::test]
    async fn streams_sse_with_usage_and_done_and_records_the_request() {
        let upstream = Upstream::start().await;
        upstream.script(Reply::from_chunks(["Hel", "lo"]).usage(3, 2));
        let body = r#"{"model":"m1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#;
        let (mut socket, _) = post(&upstream, body).await;
        // Close our side for writing: the server answers, then sees EOF and closes too.
        socket.shutdown().await.unwrap();
        let text = read_to_close(&mut socket).await;
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("text/event-stream"));
        let data: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        assert_eq!(data.len(), 6, "{data:?}"); // role, 2 content, finish, usage, [DONE]
        assert!(data[1].contains(r#""content":"Hel""#));
        assert!(data[3].contains(r#""finish_reason":"stop""#));
        assert!(data[4].contains(r#""prompt_tokens":3"#));
        assert_eq!(data[5], "[DONE]");
        assert!(text.ends_with("0\r\n\r\n"));

        let recorded = upstream.last_request().unwrap();
        assert_eq!(recorded.model(), Some("m1"));
        assert_eq!(recorded.bearer_token(), Some("k-1"));
        assert_eq!(recorded.messages(), [("user".to_owned(), "hi".to_owned())]);
        assert!(recorded.is_stream() && recorded.wants_stream_usage());
        assert!(upstream.wait_for_no_connections().await);
        assert_eq!(upstream.stats().completed, 1);
        assert_eq!(upstream.disconnects(), 0);
    }

    #[tokio::test]
    async fn a_cut_stream_ends_without_the_last_chunk_and_a_client_leaving_is_counted() {
        let upstream = Upstream::start().await;
        upstream.script(Reply::new("a b c d").cut_after(2));
        upstream.script(Reply::new("a b c d").delay_between(Duration::from_secs(30)));
        let body = r#"{"model":"m","stream":true,"messages":[]}"#;

        let (mut socket, _) = post(&upstream, body).await;
        let text = read_to_close(&mut socket).await;
        assert_eq!(text.matches("data: ").count(), 3, "{text}"); // role, "a ", "b "
        assert!(!text.contains("[DONE]") && !text.ends_with("0\r\n\r\n"));

        let (socket, _) = post(&upstream, body).await;
        assert!(upstream.wait_for_requests(2).await);
        drop(socket);
        assert!(upstream.wait_for_disconnects(1).await);
        assert!(upstream.wait_for_no_connections().await);
    }

    #[tokio::test]
    async fn without_stream_a_reply_is_one_completion_object() {
        let upstream = Upstream::start().await;
        upstream.script(Reply::new("all at once").usage(5, 3));
        let (mut socket, _) = post(&upstream, r#"{"model":"m2","messages":[]}"#).await;
        socket.shutdown().await.unwrap();
        let text = read_to_close(&mut socket).await;
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"));
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["model"], "m2");
        assert_eq!(body["choices"][0]["message"]["content"], "all at once");
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert_eq!(body["usage"]["total_tokens"], 8);
    }

    #[tokio::test]
    async fn failures_and_other_routes_answer_json_errors() {
        let upstream = Upstream::start().await;
        upstream.script(Behaviour::fail(429).retry_after(1));
        let (mut socket, _) = post(&upstream, r#"{"model":"m","messages":[]}"#).await;
        socket.shutdown().await.unwrap();
        let text = read_to_close(&mut socket).await;
        assert!(
            text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
            "{text}"
        );
        assert!(text.contains("retry-after: 1\r\n"));
        assert!(text.contains("rate_limit_exceeded"));

        let mut socket = TcpStream::connect(upstream.addr()).await.unwrap();
        socket
            .write_all(b"GET /v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let text = read_to_close(&mut socket).await;
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert_eq!(upstream.request_count(), 2);
    }
}
