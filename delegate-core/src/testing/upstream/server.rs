//! The HTTP side of the test upstream: a hyper HTTP/1.1 accept loop on loopback, one task per
//! connection, request recording, routing, the responses of each chat [`Behaviour`] (the audio
//! ones are in `audio_server.rs`, on the helpers here), and disconnect detection.
//!
//! A response still pending when its client goes away is dropped by hyper: the service future
//! (before the response head) or the body stream (after it). An [`Outcome`] travels with it and
//! counts, when dropped, a completed response or a disconnect.

use super::audio_script::{Heard, Spoken};
use super::script::{Behaviour, Failure, Reply};
use super::{RecordedRequest, Shared, audio_server, wire};
use futures::stream::{self, Stream};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The largest request body the server reads; a larger one closes the connection unanswered.
pub(super) const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// A response body: whole, or a stream that may wait, hang or break off with [`Cut`].
pub(super) type ReplyBody = UnsyncBoxBody<Bytes, Cut>;

/// What a request whose response cannot be given ends with: hyper closes the connection.
type ServiceError = Box<dyn std::error::Error + Send + Sync>;

/// The error a cut response yields. hyper then aborts the connection: no response at all before
/// the head, no final chunk of the chunked encoding after it.
#[derive(Debug)]
pub(super) struct Cut;

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the scripted reply was cut")
    }
}

impl std::error::Error for Cut {}

/// Accepts connections until the upstream stops, serving each on its own task.
pub(super) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.auto_date_header(false);
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
        let open = OpenConnection(shared.clone());
        let service = {
            let shared = shared.clone();
            service_fn(move |request| respond(shared.clone(), request))
        };
        let connection = http.serve_connection(TokioIo::new(socket), service);
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            // A client leaving mid-response ends `connection` with an error, dropping what was
            // pending; stopping the upstream drops it all the same.
            tokio::select! {
                _ = connection => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
            drop(open);
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

/// How a response ended, once it did.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// Written to the end.
    Completed,
    /// Broken off as scripted ([`Reply::cut_after`]): neither completed nor abandoned.
    Cut,
}

/// Travels with one response, in the service future and then in its body, and counts how it
/// ended when dropped: without an ending, the client went away while it was pending.
pub(super) struct Outcome {
    shared: Arc<Shared>,
    ending: Option<Ending>,
}

impl Outcome {
    fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            ending: None,
        }
    }

    /// Records the ending; the first one counts.
    fn end(&mut self, ending: Ending) {
        self.ending.get_or_insert(ending);
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        match self.ending {
            Some(Ending::Completed) => self.shared.update(|s| s.stats.completed += 1),
            Some(Ending::Cut) => {}
            None => self.shared.update(|s| s.stats.disconnects += 1),
        }
    }
}

/// What a request gets, by its route: the next scripted behaviour of its endpoint, or a 404.
enum Route {
    Chat(Behaviour),
    Transcription(Heard),
    Speech(Spoken),
    Unknown,
}

/// Serves one request: reads and records it, then answers with the next scripted behaviour of
/// its endpoint, or a 404.
async fn respond(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ReplyBody>, ServiceError> {
    let (parts, body) = request.into_parts();
    if body.size_hint().lower() > MAX_REQUEST_BYTES as u64 {
        return Err("request body too large".into());
    }
    let body = Limited::new(body, MAX_REQUEST_BYTES)
        .collect()
        .await?
        .to_bytes();
    let request = record(&parts, &body);
    let mut index = 0;
    let mut route = Route::Unknown;
    shared.update(|s| {
        s.stats.requests += 1;
        index = s.stats.requests;
        s.requests.push(request.clone());
        route = if request.is_chat() {
            Route::Chat(s.chat.take())
        } else if request.is_transcription() {
            Route::Transcription(s.transcription.take())
        } else if request.is_speech() {
            Route::Speech(s.speech.take())
        } else {
            Route::Unknown
        };
    });
    let outcome = Outcome::new(shared);
    match route {
        Route::Chat(behaviour) => answer(outcome, &request, behaviour, index).await,
        Route::Transcription(heard) => {
            Ok(audio_server::transcription(outcome, &request, heard).await)
        }
        Route::Speech(spoken) => Ok(audio_server::speech(outcome, &request, spoken).await),
        Route::Unknown => Ok(whole(
            outcome,
            404,
            "application/json",
            None,
            wire::not_found(&request),
        )),
    }
}

/// The request as recorded: header names come lowercased from hyper.
fn record(parts: &hyper::http::request::Parts, body: &[u8]) -> RecordedRequest {
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let body_text = String::from_utf8_lossy(body).into_owned();
    let json = serde_json::from_str(&body_text).unwrap_or(Value::Null);
    RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.to_string(),
        headers,
        body_text,
        body: json,
        body_bytes: body.to_vec(),
    }
}

/// The response of a chat request.
async fn answer(
    mut outcome: Outcome,
    request: &RecordedRequest,
    behaviour: Behaviour,
    index: usize,
) -> Result<Response<ReplyBody>, ServiceError> {
    match behaviour {
        Behaviour::Reply(reply) if request.is_stream() => {
            let steps = stream_steps(request, &reply, index);
            Ok(event_stream(outcome, steps))
        }
        Behaviour::Reply(reply) => {
            pause(reply.delay_first).await;
            if reply.cut_after.is_some() {
                // Nothing at all: the connection just closes.
                outcome.end(Ending::Cut);
                return Err(Cut.into());
            }
            let body = wire::completion(request, &reply, index);
            Ok(whole(outcome, 200, "application/json", None, body))
        }
        Behaviour::Fail(failure) => Ok(failed(outcome, request, &failure).await),
        Behaviour::HangAfterHeaders => Ok(event_stream(outcome, vec![Step::Hang])),
        Behaviour::Hang => Ok(hang(outcome).await),
        Behaviour::Raw {
            status,
            content_type,
            body,
        } => Ok(whole(outcome, status, &content_type, None, body)),
    }
}

/// The response of a scripted failure: its OpenAI-style error body, after its delay.
pub(super) async fn failed(
    outcome: Outcome,
    request: &RecordedRequest,
    failure: &Failure,
) -> Response<ReplyBody> {
    pause(failure.delay).await;
    let body = wire::failure(request, failure);
    whole(
        outcome,
        failure.status,
        "application/json",
        failure.retry_after,
        body,
    )
}

/// No response at all: waits until the client goes away, which drops this future (and
/// `outcome`, counting a disconnect).
pub(super) async fn hang(outcome: Outcome) -> Response<ReplyBody> {
    let _pending = outcome;
    let never: Infallible = std::future::pending().await;
    match never {}
}

/// Waits `delay` unless it is zero.
pub(super) async fn pause(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// A whole response with a `content-length`. It counts as completed once handed to hyper,
/// which writes it at once.
pub(super) fn whole(
    mut outcome: Outcome,
    status: u16,
    content_type: &str,
    retry_after: Option<u64>,
    body: String,
) -> Response<ReplyBody> {
    outcome.end(Ending::Completed);
    let body = Full::new(Bytes::from(body))
        .map_err(|never: Infallible| -> Cut { match never {} })
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status_code(status);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, header_value(content_type));
    if let Some(secs) = retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).expect("a scripted HTTP status between 100 and 999")
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).expect("a scripted header value of visible ASCII")
}

/// One step of a streamed response body.
pub(super) enum Step {
    /// Wait this long (nothing when zero).
    Wait(Duration),
    /// Send these bytes (one or more SSE events, or a piece of audio) as one chunk.
    Send(Bytes),
    /// Send nothing more, until the client goes away.
    Hang,
    /// Break the body off (see [`Cut`]).
    Cut,
}

/// The steps of a streamed reply. The role event goes out together with the first content
/// event (or with the end when there is none), so a stream cut before its first chunk has
/// sent the response head only.
fn stream_steps(request: &RecordedRequest, reply: &Reply, index: usize) -> Vec<Step> {
    let events = wire::ChunkEvents::new(request, index);
    let mut steps = vec![Step::Wait(reply.delay_first)];
    let mut pending = events.role();
    for (i, text) in reply.chunks.iter().enumerate() {
        if reply.cut_after == Some(i) {
            steps.push(Step::Cut);
            return steps;
        }
        if i > 0 {
            steps.push(Step::Wait(reply.delay_between));
        }
        pending.push_str(&events.content(text));
        steps.push(Step::Send(std::mem::take(&mut pending).into()));
    }
    if reply.cut_after.is_some() {
        // Cut after every chunk: still no end.
        steps.push(Step::Cut);
        return steps;
    }
    pending.push_str(&events.end(reply));
    steps.push(Step::Send(pending.into()));
    steps
}

/// A `200 text/event-stream` response whose body plays `steps` (see [`streamed`]).
fn event_stream(outcome: Outcome, steps: Vec<Step>) -> Response<ReplyBody> {
    let mut response = streamed(outcome, "text/event-stream", steps);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A `200` response of `content_type` whose body plays `steps`; hyper sends it in chunked
/// encoding. The body owns `outcome`: dropped before its last step, it counts a disconnect.
pub(super) fn streamed(
    outcome: Outcome,
    content_type: &'static str,
    steps: Vec<Step>,
) -> Response<ReplyBody> {
    let body = StreamBody::new(play(outcome, steps)).boxed_unsync();
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The frames of `steps`, then the end of the body (which completes `outcome`).
fn play(
    outcome: Outcome,
    steps: Vec<Step>,
) -> impl Stream<Item = Result<Frame<Bytes>, Cut>> + Send + 'static {
    stream::unfold(
        (steps.into_iter(), outcome),
        |(mut steps, mut outcome)| async move {
            loop {
                match steps.next() {
                    None => {
                        outcome.end(Ending::Completed);
                        return None;
                    }
                    Some(Step::Wait(delay)) => pause(delay).await,
                    Some(Step::Send(bytes)) => {
                        let frame = Frame::data(bytes);
                        return Some((Ok(frame), (steps, outcome)));
                    }
                    Some(Step::Hang) => std::future::pending::<()>().await,
                    Some(Step::Cut) => {
                        // Yield once first, so hyper flushes what it has buffered (the head,
                        // the chunks so far) before the error makes it drop the connection.
                        tokio::task::yield_now().await;
                        outcome.end(Ending::Cut);
                        return Some((Err(Cut), (steps, outcome)));
                    }
                }
            }
        },
    )
}
