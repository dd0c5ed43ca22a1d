//! A local OpenAI-compatible upstream for tests: a real HTTP/1.1 server (hyper) on loopback
//! that speaks the chat-completions wire format (JSON and SSE) and the audio endpoints
//! (transcriptions and speech), and does what the test scripts.
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
//! * It answers `POST /v1/chat/completions`, `POST /v1/audio/transcriptions` and
//!   `POST /v1/audio/speech` (each also without `/v1`); any other route is a 404 with an
//!   OpenAI-style error body. Every request is recorded ([`Upstream::requests`]): method, path,
//!   headers (names lowercased) and the body (at most 4 MiB) as bytes, as text and parsed as
//!   JSON; [`RecordedRequest::form_field`] and [`RecordedRequest::form_file`] read the parts
//!   of a `multipart/form-data` body.
//! * Each endpoint has its own script: a request takes the next scripted behaviour from its
//!   endpoint's queue, and the endpoint's default once the queue is empty. Chat requests take a
//!   [`Behaviour`] ([`Upstream::script`], [`Upstream::set_default`], initially a short
//!   [`Reply`]); transcriptions a [`Heard`] ([`Upstream::script_transcription`], initially a
//!   [`Transcription`] of "What is the weather like today?"); speech a [`Spoken`]
//!   ([`Upstream::script_speech`], initially [`Speech::new`]).
//! * With `"stream": true` a reply is `text/event-stream` in chunked transfer encoding: one
//!   `data: {chat.completion.chunk}` event per chunk (the first carries the assistant role), a
//!   chunk with `finish_reason: "stop"`, a usage chunk (`choices: []`) when the request asked
//!   for `stream_options.include_usage`, then `data: [DONE]`. Without it, one
//!   `chat.completion` JSON object with usage.
//! * A transcription (a multipart form: `file`, `model`, optional `language`,
//!   `response_format`, …) is answered in its `response_format`: `json` (the default)
//!   `{"text"}` plus `"language"` when scripted, `verbose_json` with task, language, duration
//!   and no segments, or `text` as `text/plain`; another format is a 400.
//! * Speech (`{model, input, voice, response_format?, speed?}`) is silence lasting
//!   [`Speech::ms_per_char`] per input character, streamed in chunked encoding as `mp3` (the
//!   default, `audio/mpeg`: see [`silent_mp3`]), `wav` (`audio/wav`: see [`silent_wav`]) or
//!   `pcm` (`audio/pcm`: 16-bit mono 24 kHz); any other format is a 400 saying the test
//!   upstream does not produce it.
//! * A cut stream ([`Reply::cut_after`], [`Speech::cut_after`]) closes the connection
//!   mid-body, without the final chunk of the chunked encoding (and, for chat, without
//!   `[DONE]`), so a client sees a broken body.
//! * While a response is pending (before its head, during a delay, mid-stream or hanging) the
//!   server watches the socket: when the client closes it, the pending response is dropped and
//!   [`Upstream::disconnects`] counts one. That is how a test proves a request was cancelled
//!   upstream. Every route counts in the same [`UpstreamStats`].
//! * Timing in tests: use the `wait_for_*` methods, which poll an event signal and give up after
//!   [`WAIT_LIMIT`]; never assert on elapsed time.
//!
//! The chat script types live in `script.rs` and the audio ones in `audio_script.rs`; the
//! recorded request in `request.rs` (multipart forms parsed in `form.rs`); the hyper server
//! (connections, recording, routing, disconnect detection, chat responses) in `server.rs` and
//! its audio responses in `audio_server.rs`; the OpenAI wire writers in `wire.rs`, silent audio
//! comes from `crate::voice::silence`, and the end-to-end tests over real sockets in `tests.rs` (audio ones in
//! `tests/audio.rs`).

mod audio_script;
mod audio_server;
mod form;
mod request;
mod script;
mod server;
#[cfg(test)]
mod tests;
mod wire;

pub use crate::voice::silence::{silent_mp3, silent_wav};
pub use audio_script::{Heard, Speech, Spoken, Transcription};
pub use request::RecordedRequest;
pub use script::{Behaviour, Failure, Reply};

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The longest any `wait_for_*` method waits before giving up.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

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

/// The script of one endpoint: what its next requests get, and what applies once that runs out.
struct Queue<T> {
    next: VecDeque<T>,
    default: T,
}

impl<T: Clone> Queue<T> {
    fn new(default: T) -> Self {
        Self {
            next: VecDeque::new(),
            default,
        }
    }

    /// What the next request gets: the next scripted behaviour, or the default.
    fn take(&mut self) -> T {
        self.next
            .pop_front()
            .unwrap_or_else(|| self.default.clone())
    }

    /// Queues `behaviour` for the next `times` requests.
    fn push(&mut self, behaviour: T, times: usize) {
        self.next.extend(std::iter::repeat_n(behaviour, times));
    }
}

struct State {
    chat: Queue<Behaviour>,
    transcription: Queue<Heard>,
    speech: Queue<Spoken>,
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
                chat: Queue::new(Reply::new("Hello from the test upstream.").into()),
                transcription: Queue::new(
                    Transcription::new("What is the weather like today?").into(),
                ),
                speech: Queue::new(Speech::new().into()),
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
        self.script_times(behaviour, 1);
    }

    /// Queues the same behaviour for the next `times` chat requests.
    pub fn script_times(&self, behaviour: impl Into<Behaviour>, times: usize) {
        let behaviour = behaviour.into();
        self.shared.update(|s| s.chat.push(behaviour, times));
    }

    /// What chat requests get once the queue is empty.
    pub fn set_default(&self, behaviour: impl Into<Behaviour>) {
        let behaviour = behaviour.into();
        self.shared.update(|s| s.chat.default = behaviour);
    }

    /// Queues what the next unscripted transcription request gets.
    pub fn script_transcription(&self, heard: impl Into<Heard>) {
        let heard = heard.into();
        self.shared.update(|s| s.transcription.push(heard, 1));
    }

    /// What transcription requests get once their queue is empty.
    pub fn set_transcription_default(&self, heard: impl Into<Heard>) {
        let heard = heard.into();
        self.shared.update(|s| s.transcription.default = heard);
    }

    /// Queues what the next unscripted speech request gets.
    pub fn script_speech(&self, spoken: impl Into<Spoken>) {
        self.script_speech_times(spoken, 1);
    }

    /// Queues the same behaviour for the next `times` speech requests.
    pub fn script_speech_times(&self, spoken: impl Into<Spoken>, times: usize) {
        let spoken = spoken.into();
        self.shared.update(|s| s.speech.push(spoken, times));
    }

    /// What speech requests get once their queue is empty.
    pub fn set_speech_default(&self, spoken: impl Into<Spoken>) {
        let spoken = spoken.into();
        self.shared.update(|s| s.speech.default = spoken);
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
