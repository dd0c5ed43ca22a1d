//! Socket.IO (Engine.IO v4, socketioxide) at `/socket.io/`, for frontends written against
//! socket.io-client: the events of the WebSocket under the same names, the token in the
//! handshake's `auth` payload. A thin adapter: the connection runs the same [`Session`] as
//! the WebSocket, through a [`Link`] that emits Socket.IO events.

use super::origin_allowed;
use super::session::{CLOSE_TOO_SLOW, Command, Link, Session};
use delegate_core::realtime::Feed;
use delegate_core::{AuthContext, Delegate, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketioxide::extract::{Event, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::DisconnectReason;
use socketioxide::{SendError, SocketError, SocketIo};
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Commands a client may have waiting; more are dropped.
const COMMAND_QUEUE: usize = 32;
/// The largest HTTP long-polling body a client may post (its commands are small).
const MAX_PAYLOAD: u64 = 64 * 1024;

/// The Socket.IO service as a layer of Delegate's router: it answers `/socket.io/` and passes
/// every other request on.
pub(crate) fn layer(delegate: Delegate) -> SocketIoLayer {
    let settings = delegate.config().realtime.clone();
    let (layer, io) = SocketIo::builder()
        .ping_interval(settings.ping_interval())
        .max_buffer_size(settings.queue)
        .max_payload(MAX_PAYLOAD)
        .with_state(delegate)
        .build_layer();
    io.ns("/", connected.with(admit));
    layer
}

/// The handshake's `auth` payload: `{token, since?}`.
#[derive(Deserialize)]
struct Handshake {
    /// The access token (a `Bearer ` prefix is allowed).
    token: Option<String>,
    /// Replay the events after this sequence number.
    since: Option<u64>,
}

/// Why a connection was refused: the client's `connect_error` carries this message.
#[derive(Debug)]
enum Refusal {
    Origin,
    Handshake,
    Unauthenticated,
    Unavailable,
    TooMany,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Origin => "forbidden_origin: this Origin may not connect (see CORS_ORIGIN)",
            Self::Handshake => "invalid_auth: the auth payload is {token, since?}",
            Self::Unauthenticated => "unauthorized: a valid access token is required",
            Self::Unavailable => "unavailable: the credentials cannot be checked now",
            Self::TooMany => "too_many_connections: this user has the most connections allowed",
        })
    }
}

/// What [`admit`] hands to [`connected`]: the caller, their token and their feed.
#[derive(Clone)]
struct Admitted(Arc<Mutex<Option<(AuthContext, String, Feed)>>>);

/// Before the socket joins: the Origin, the token and the connection cap, as the WebSocket
/// checks them before its upgrade.
async fn admit(
    socket: SocketRef,
    State(delegate): State<Delegate>,
    TryData(auth): TryData<Handshake>,
) -> Result<(), Refusal> {
    let cors = &delegate.config().server.cors_origin;
    if !origin_allowed(cors, &socket.req_parts().headers) {
        return Err(Refusal::Origin);
    }
    let auth = auth.map_err(|_| Refusal::Handshake)?;
    let token = auth
        .token
        .map(|t| t.strip_prefix("Bearer ").map_or(t.clone(), str::to_owned))
        .filter(|t| !t.is_empty())
        .ok_or(Refusal::Unauthenticated)?;
    let caller = delegate
        .auth()
        .authenticate(&token)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Unavailable => Refusal::Unavailable,
            _ => Refusal::Unauthenticated,
        })?;
    let feed = delegate
        .realtime()
        .connect(&caller, auth.since)
        .await
        .map_err(|_| Refusal::TooMany)?;
    let admitted = Admitted(Arc::new(Mutex::new(Some((caller, token, feed)))));
    socket.extensions.insert(admitted);
    Ok(())
}

/// The socket joined: its commands are queued for its session, which runs in a task of its own.
async fn connected(socket: SocketRef, State(delegate): State<Delegate>) {
    let admitted = socket
        .extensions
        .remove::<Admitted>()
        .and_then(|Admitted(slot)| slot.lock().unwrap_or_else(|e| e.into_inner()).take());
    let Some((caller, token, feed)) = admitted else {
        let _ = socket.disconnect();
        return;
    };
    let (commands, received) = mpsc::channel(COMMAND_QUEUE);
    let queue = commands.clone();
    socket.on_fallback(
        move |Event(event): Event, TryData(data): TryData<Value>| async move {
            let data = match data {
                Ok(Value::Array(mut args)) if !args.is_empty() => args.swap_remove(0),
                Ok(data) => data,
                Err(_) => Value::Null,
            };
            let _ = queue.try_send(Some(Command::parse(Some(&event), &data)));
        },
    );
    socket.on_disconnect(move |_: DisconnectReason| async move {
        let _ = commands.send(None).await;
    });
    let ping = delegate.config().realtime.ping_interval();
    let link = SioLink {
        socket,
        commands: received,
    };
    tokio::spawn(Session::new(link, feed, delegate, caller, token).run(ping));
}

/// A Socket.IO socket as a [`Link`]: each frame an event of the same name whose first
/// argument is the data and, for events of the user's stream, whose second is `seq`.
struct SioLink {
    socket: SocketRef,
    /// The client's commands; `None` once it disconnected.
    commands: mpsc::Receiver<Option<Command>>,
}

impl Link for SioLink {
    async fn send(&mut self, kind: &str, data: &(impl Serialize + Sync), seq: Option<u64>) -> bool {
        let sent = match seq {
            Some(seq) => self.socket.emit(kind, &(data, seq)),
            None => self.socket.emit(kind, data),
        };
        match sent {
            Ok(()) => true,
            Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                self.close(CLOSE_TOO_SLOW, "too slow to read events").await;
                false
            }
            Err(_) => false,
        }
    }

    async fn recv(&mut self) -> Option<Command> {
        self.commands.recv().await.flatten()
    }

    /// Engine.IO pings the peer itself, and disconnects it when it stops answering.
    async fn keep_alive(&mut self) -> bool {
        self.socket.connected()
    }

    /// Emits `close {code, reason}` (Socket.IO has no close codes), then disconnects: the
    /// client sees the reason `io server disconnect` and does not reconnect by itself.
    async fn close(&mut self, code: u16, reason: &'static str) {
        let _ = self
            .socket
            .emit("close", &json!({ "code": code, "reason": reason }));
        let _ = self.socket.clone().disconnect();
    }
}
