//! GET /api/v1/ws: the WebSocket carrying the caller's realtime events (and, in
//! [`socketio`], the same over Socket.IO). The token and the Origin are checked before the
//! upgrade; then JSON frames `{type,data,seq}` flow from the caller's feed while the server pings, re-checks the credentials and closes with the
//! protocol's codes (4401 revoked or expired, 4408 too slow or idle, 4429 too many).

mod session;
pub(crate) mod socketio;

use crate::error::{ApiError, ErrorBody};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use delegate_core::Delegate;
use serde::Serialize;
use serde_json::Value;
use session::{CLOSE_TOO_MANY, CLOSE_TOO_SLOW, Command, Link, Session};
use std::time::Duration;
use tokio::time::Instant;

/// How long one frame may take to be written before the peer counts as too slow.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest frame a client may send.
const MAX_CLIENT_FRAME: usize = 4096;
/// The read buffer of a connection (it grows for a larger frame, up to the one above).
const READ_BUFFER: usize = 1024;

/// Open the caller's realtime connection (WebSocket). The access token comes as the
/// subprotocols `bearer, <token>` (the server answers with `bearer`) or `?token=`; the Origin,
/// when sent, must be one of CORS_ORIGIN. `?since=<seq>` replays the events after `seq`, or
/// sends `resync` when they are no longer kept. Frames are JSON `{type,data,seq}`: `ready`,
/// `chat.session.created|updated|deleted`, `chat.message.created`, `chat.reply.delta`
/// (subscribed chats only), `chat.reply.done|failed|cancelled`, `session.revoked`, `resync`,
/// `transcript.created|updated|deleted`, `usage.updated`, `profile.updated`, `app.*`, `pong`,
/// `subscribed`, `unsubscribed`, `error`. The same events are served over Socket.IO at
/// `/socket.io/` (token and `since` in the handshake's `auth`). Client
/// frames: `ping`, `subscribe {sessionId}`, `unsubscribe {sessionId}`,
/// `resume {messageId, after}` (the reply's deltas after `after`, then live, each once). Close codes: 4401 revoked or expired, 4408 too slow or idle,
/// 4429 too many connections.
#[utoipa::path(get, path = "/api/v1/ws", tag = "realtime",
    params(
        ("token" = Option<String>, Query, description = "The access token, when the subprotocol cannot carry it"),
        ("since" = Option<u64>, Query, description = "Replay the events after this sequence number"),
    ),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade, or a malformed `since`", body = ErrorBody),
        (status = 401, description = "Missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "An Origin not allowed by CORS_ORIGIN", body = ErrorBody),
    ))]
pub(crate) async fn connect(
    State(delegate): State<Delegate>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if !origin_allowed(&delegate.config().server.cors_origin, &headers) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "this Origin may not open a realtime connection (see CORS_ORIGIN)",
        ));
    }
    let query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let (token, by_protocol) = token_of(&headers, &query).ok_or_else(ApiError::missing_token)?;
    let caller = delegate.auth().authenticate(&token).await?;
    let since = match query.iter().find(|(name, _)| name == "since") {
        Some((_, value)) => Some(value.parse::<u64>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "`since` must be a sequence number",
            )
        })?),
        None => None,
    };
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_a_websocket",
            format!("expected a WebSocket upgrade: {rejection}"),
        )
    })?;
    let feed = delegate.realtime().connect(&caller, since).await;
    let upgrade = if by_protocol {
        upgrade.protocols(["bearer"])
    } else {
        upgrade
    };
    let ping = delegate.config().realtime.ping_interval();
    Ok(upgrade
        .max_message_size(MAX_CLIENT_FRAME)
        // Client frames are small: a 1 KiB read buffer instead of tungstenite's eager 128 KiB
        // keeps an idle connection's memory to a few KiB.
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            let mut link = WsLink {
                socket,
                ping_every: ping,
                heard: Instant::now(),
            };
            match feed {
                Ok(feed) => {
                    Session::new(link, feed, delegate, caller, token)
                        .run(ping)
                        .await
                }
                Err(_) => link.close(CLOSE_TOO_MANY, "too many connections").await,
            }
        })
        .into_response())
}

/// Whether the request's Origin may connect: any when CORS_ORIGIN is `*` or none was sent
/// (not a browser), else one of the listed origins.
fn origin_allowed(allowed: &str, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let allowed = allowed.trim();
    allowed == "*"
        || origin.to_str().is_ok_and(|origin| {
            allowed
                .split(',')
                .any(|o| o.trim().eq_ignore_ascii_case(origin.trim()))
        })
}

/// The token, and whether it came as the `bearer, <token>` subprotocols (else `?token=`).
fn token_of(headers: &HeaderMap, query: &[(String, String)]) -> Option<(String, bool)> {
    let protocols = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').map(str::trim).collect::<Vec<_>>());
    if let Some(["bearer", token]) = protocols.as_deref()
        && !token.is_empty()
    {
        return Some(((*token).to_owned(), true));
    }
    query
        .iter()
        .find(|(name, value)| name == "token" && !value.is_empty())
        .map(|(_, token)| (token.clone(), false))
}

/// A frame `{type, data, seq}` (`seq` only on events of the user's stream), serialized
/// straight from the event it carries.
#[derive(Serialize)]
struct Frame<'a, D> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a D,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
}

/// A WebSocket as a [`Link`]: JSON text frames `{type,data,seq}`, protocol pings, close frames.
struct WsLink {
    socket: WebSocket,
    ping_every: Duration,
    /// When the peer last sent anything.
    heard: Instant,
}

impl Link for WsLink {
    async fn send(&mut self, kind: &str, data: &(impl Serialize + Sync), seq: Option<u64>) -> bool {
        let frame = Frame { kind, data, seq };
        match serde_json::to_string(&frame) {
            Ok(text) => self.write(Message::Text(text.into())).await,
            Err(e) => {
                tracing::error!(error = %e, "could not encode a realtime frame");
                true
            }
        }
    }

    async fn recv(&mut self) -> Option<Command> {
        loop {
            let message = self.socket.recv().await;
            self.heard = Instant::now();
            return match message {
                Some(Ok(Message::Text(text))) => Some(match serde_json::from_str::<Value>(&text) {
                    Ok(frame) => Command::parse(
                        frame.get("type").and_then(Value::as_str),
                        frame.get("data").unwrap_or(&Value::Null),
                    ),
                    Err(_) => Command::Invalid("frames are JSON objects"),
                }),
                Some(Ok(Message::Binary(_))) => {
                    Some(Command::Invalid("binary frames are not understood"))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_)) | Err(_)) | None => None,
            };
        }
    }

    async fn keep_alive(&mut self) -> bool {
        if self.heard.elapsed() > self.ping_every * 2 {
            self.close(CLOSE_TOO_SLOW, "no answer to pings").await;
            return false;
        }
        self.write(Message::Ping(Default::default())).await
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.send(close)).await;
    }
}

impl WsLink {
    /// Writes a frame within [`SEND_TIMEOUT`]; false when the peer is gone or too slow
    /// (closed with 4408).
    async fn write(&mut self, message: Message) -> bool {
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                self.close(CLOSE_TOO_SLOW, "too slow to read events").await;
                false
            }
        }
    }
}
