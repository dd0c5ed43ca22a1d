//! GET /api/v1/ws: the WebSocket carrying the caller's realtime events. The token and the
//! Origin are checked before the upgrade; then JSON frames `{type,data,seq}` flow from the
//! caller's [`Feed`] while the server pings, re-checks the credentials and closes with the
//! protocol's codes (4401 revoked or expired, 4408 too slow or idle, 4429 too many).

use crate::error::{ApiError, ErrorBody};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use delegate_core::realtime::{CloseReason, Feed, Outgoing, kinds};
use delegate_core::{AuthContext, ChatSessionId, Delegate};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

/// Close code: unauthenticated, revoked or expired.
const CLOSE_UNAUTHENTICATED: u16 = 4401;
/// Close code: too slow to read, or silent for too long.
const CLOSE_TOO_SLOW: u16 = 4408;
/// Close code: too many connections.
const CLOSE_TOO_MANY: u16 = 4429;
/// How long one frame may take to be written before the peer counts as too slow.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest frame a client may send.
const MAX_CLIENT_FRAME: usize = 4096;

/// Open the caller's realtime connection (WebSocket). The access token comes as the
/// subprotocols `bearer, <token>` (the server answers with `bearer`) or `?token=`; the Origin,
/// when sent, must be one of CORS_ORIGIN. `?since=<seq>` replays the events after `seq`, or
/// sends `resync` when they are no longer kept. Frames are JSON `{type,data,seq}`: `ready`,
/// `chat.session.created|updated|deleted`, `chat.message.created`, `chat.reply.delta`
/// (subscribed chats only), `chat.reply.done|failed|cancelled`, `session.revoked`, `resync`,
/// `transcript.created|updated|deleted`, `profile.updated`, `app.*`, `pong`, `error`. Client
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
        .on_upgrade(move |socket| async move {
            let mut connection = Connection {
                socket,
                delegate,
                caller,
                token,
            };
            match feed {
                Ok(feed) => connection.run(feed, ping).await,
                Err(_) => {
                    connection
                        .close(CLOSE_TOO_MANY, "too many connections")
                        .await
                }
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

/// One open connection.
struct Connection {
    socket: WebSocket,
    delegate: Delegate,
    caller: AuthContext,
    token: String,
}

impl Connection {
    async fn run(mut self, mut feed: Feed, ping_every: Duration) {
        metrics::gauge!("delegate_ws_connections").increment(1.0);
        let ready = json!({
            "userId": self.caller.user_id.to_string(),
            "sessionId": self.caller.session_id.to_string(),
            "seq": feed.last_seq(),
        });
        let mut open = self.send(frame("ready", ready, None)).await;
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        let mut heard = Instant::now();
        let expiry = (self.caller.expires_at - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        let expired = tokio::time::sleep(expiry);
        tokio::pin!(expired);
        while open {
            tokio::select! {
                out = feed.next() => open = match out {
                    Some(out) => self.deliver(out).await,
                    None => false,
                },
                message = self.socket.recv() => {
                    heard = Instant::now();
                    open = match message {
                        Some(Ok(Message::Text(text))) => self.on_client(&mut feed, &text).await,
                        Some(Ok(Message::Binary(_))) => {
                            self.send(error_frame("binary frames are not understood")).await
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => true,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => false,
                    };
                }
                _ = ping.tick() => {
                    open = if heard.elapsed() > ping_every * 2 {
                        self.close(CLOSE_TOO_SLOW, "no answer to pings").await;
                        false
                    } else if !self.still_authenticated().await {
                        false
                    } else {
                        self.send(Message::Ping(Default::default())).await
                    };
                }
                () = &mut expired => {
                    self.close(CLOSE_UNAUTHENTICATED, "the access token expired").await;
                    open = false;
                }
            }
        }
        metrics::gauge!("delegate_ws_connections").decrement(1.0);
    }

    /// Sends what the feed produced; false once the connection is over.
    async fn deliver(&mut self, out: Outgoing) -> bool {
        match out {
            Outgoing::Event(event) => {
                self.send(frame(&event.kind, event.data, Some(event.seq)))
                    .await
            }
            Outgoing::Resync => self.send(frame(kinds::RESYNC, json!({}), None)).await,
            Outgoing::Delta(delta) => {
                let data = serde_json::to_value(&delta).unwrap_or(Value::Null);
                self.send(frame(kinds::REPLY_DELTA, data, None)).await
            }
            Outgoing::ReplyEnd { kind, message } => self.send(frame(&kind, message, None)).await,
            Outgoing::Recheck => self.still_authenticated().await,
            Outgoing::Close(CloseReason::Revoked) => {
                let data = json!({ "sessionId": self.caller.session_id.to_string() });
                self.send(frame(kinds::SESSION_REVOKED, data, None)).await;
                self.close(CLOSE_UNAUTHENTICATED, "the login session was revoked")
                    .await;
                false
            }
            Outgoing::Close(CloseReason::TooSlow) => {
                self.close(CLOSE_TOO_SLOW, "too slow to read events").await;
                false
            }
        }
    }

    /// Handles a client frame; false once the connection is over.
    async fn on_client(&mut self, feed: &mut Feed, text: &str) -> bool {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return self.send(error_frame("frames are JSON objects")).await;
        };
        let chat = || {
            message
                .pointer("/data/sessionId")
                .and_then(Value::as_str)
                .and_then(|id| ChatSessionId::parse(id).ok())
        };
        match message.get("type").and_then(Value::as_str) {
            Some("ping") => self.send(frame("pong", json!({}), None)).await,
            Some("subscribe") => match chat() {
                Some(id) if feed.subscribe(id) => {
                    let data = json!({ "sessionId": id.to_string() });
                    self.send(frame("subscribed", data, None)).await
                }
                Some(_) => self.send(error_frame("too many subscriptions")).await,
                None => {
                    self.send(error_frame("subscribe needs data.sessionId"))
                        .await
                }
            },
            Some("resume") => {
                let reply = message
                    .pointer("/data/messageId")
                    .and_then(Value::as_str)
                    .and_then(|id| delegate_core::MessageId::parse(id).ok());
                let after = message
                    .pointer("/data/after")
                    .map_or(Some(0), Value::as_u64);
                match (reply, after) {
                    (Some(reply), Some(after)) => {
                        feed.resume(reply, after).await;
                        true
                    }
                    _ => {
                        self.send(error_frame(
                            "resume needs data.messageId and a numeric data.after",
                        ))
                        .await
                    }
                }
            }
            Some("unsubscribe") => match chat() {
                Some(id) => {
                    feed.unsubscribe(id);
                    let data = json!({ "sessionId": id.to_string() });
                    self.send(frame("unsubscribed", data, None)).await
                }
                None => {
                    self.send(error_frame("unsubscribe needs data.sessionId"))
                        .await
                }
            },
            _ => {
                self.send(error_frame(
                    "unknown type; expected ping, subscribe, unsubscribe or resume",
                ))
                .await
            }
        }
    }

    /// Whether the token still authenticates (a revocation may have been missed); closes with
    /// 4401 when it does not.
    async fn still_authenticated(&mut self) -> bool {
        match self.delegate.auth().authenticate(&self.token).await {
            Ok(_) => true,
            Err(e) if e.kind() == delegate_core::ErrorKind::Unavailable => true,
            Err(_) => {
                self.close(CLOSE_UNAUTHENTICATED, "the credentials are no longer valid")
                    .await;
                false
            }
        }
    }

    /// Sends a frame, within [`SEND_TIMEOUT`]; false when the peer is gone or too slow
    /// (closed with 4408).
    async fn send(&mut self, message: Message) -> bool {
        match tokio::time::timeout(SEND_TIMEOUT, self.socket.send(message)).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                self.close(CLOSE_TOO_SLOW, "too slow to read events").await;
                false
            }
        }
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.send(close)).await;
    }
}

/// A frame `{type, data, seq}` (`seq` only on events of the user's stream).
fn frame(kind: &str, data: Value, seq: Option<u64>) -> Message {
    let mut frame = json!({ "type": kind, "data": data });
    if let Some(seq) = seq {
        frame["seq"] = json!(seq);
    }
    Message::Text(frame.to_string().into())
}

fn error_frame(message: &str) -> Message {
    frame("error", json!({ "message": message }), None)
}
