//! One realtime connection, whatever carries it: the caller's [`Feed`] delivered through a
//! [`Link`] (a WebSocket, or a Socket.IO socket), the client's commands answered, the
//! credentials re-checked at every keep-alive tick, and the connection closed with the
//! protocol's codes. Both transports run this loop; neither holds event logic of its own.

use delegate_core::realtime::{CloseReason, Feed, Outgoing, kinds};
use delegate_core::{AuthContext, ChatSessionId, Delegate, MessageId};
use serde::Serialize;
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Close code: unauthenticated, revoked or expired.
pub(crate) const CLOSE_UNAUTHENTICATED: u16 = 4401;
/// Close code: too slow to read, or silent for too long.
pub(crate) const CLOSE_TOO_SLOW: u16 = 4408;
/// Close code: too many connections.
pub(crate) const CLOSE_TOO_MANY: u16 = 4429;

/// A transport carrying one connection's frames.
pub(crate) trait Link: Send {
    /// Sends an event `kind` with `data` (and its place in the user's stream, when it has
    /// one); false when the peer is gone or too slow (then closed).
    fn send(
        &mut self,
        kind: &str,
        data: &(impl Serialize + Sync),
        seq: Option<u64>,
    ) -> impl Future<Output = bool> + Send;

    /// The client's next command; `None` once the peer is gone.
    fn recv(&mut self) -> impl Future<Output = Option<Command>> + Send;

    /// Called every keep-alive interval: pings the peer; false (after closing) when it has
    /// been silent too long.
    fn keep_alive(&mut self) -> impl Future<Output = bool> + Send;

    /// Closes the connection with `code` and `reason`.
    fn close(&mut self, code: u16, reason: &'static str) -> impl Future<Output = ()> + Send;
}

/// What a client asked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// Answer `pong`.
    Ping,
    /// Send the reply deltas of this chat.
    Subscribe(ChatSessionId),
    /// Stop sending the reply deltas of this chat.
    Unsubscribe(ChatSessionId),
    /// Send this reply's deltas after `after`, then live.
    Resume { reply: MessageId, after: u64 },
    /// Not understood: answered with an `error` event saying this.
    Invalid(&'static str),
}

impl Command {
    /// The command `kind` with `data` (a frame's `type` and `data`, or a Socket.IO event's
    /// name and first argument).
    pub(crate) fn parse(kind: Option<&str>, data: &Value) -> Self {
        let chat = || {
            data.get("sessionId")
                .and_then(Value::as_str)
                .and_then(|id| ChatSessionId::parse(id).ok())
        };
        match kind {
            Some("ping") => Self::Ping,
            Some("subscribe") => chat().map_or(
                Self::Invalid("subscribe needs data.sessionId"),
                Self::Subscribe,
            ),
            Some("unsubscribe") => chat().map_or(
                Self::Invalid("unsubscribe needs data.sessionId"),
                Self::Unsubscribe,
            ),
            Some("resume") => {
                let reply = data
                    .get("messageId")
                    .and_then(Value::as_str)
                    .and_then(|id| MessageId::parse(id).ok());
                let after = data.get("after").map_or(Some(0), Value::as_u64);
                match (reply, after) {
                    (Some(reply), Some(after)) => Self::Resume { reply, after },
                    _ => Self::Invalid("resume needs data.messageId and a numeric data.after"),
                }
            }
            _ => Self::Invalid("unknown type; expected ping, subscribe, unsubscribe or resume"),
        }
    }
}

/// One authenticated connection.
pub(crate) struct Session<L> {
    link: L,
    feed: Feed,
    delegate: Delegate,
    caller: AuthContext,
    token: String,
}

impl<L: Link> Session<L> {
    /// A connection of `caller` (authenticated by `token`) reading `feed` through `link`.
    pub(crate) fn new(
        link: L,
        feed: Feed,
        delegate: Delegate,
        caller: AuthContext,
        token: String,
    ) -> Self {
        Self {
            link,
            feed,
            delegate,
            caller,
            token,
        }
    }

    /// Runs the connection until either side ends it: `ready`, then events as they come,
    /// commands as they arrive, a keep-alive tick every `ping_every` (the credentials
    /// re-checked), and a 4401 close when the access token expires.
    pub(crate) async fn run(mut self, ping_every: Duration) {
        metrics::gauge!("delegate_ws_connections").increment(1.0);
        let ready = json!({
            "userId": self.caller.user_id.to_string(),
            "sessionId": self.caller.session_id.to_string(),
            "seq": self.feed.last_seq(),
        });
        let mut open = self.link.send("ready", &ready, None).await;
        let mut tick = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        let expiry = (self.caller.expires_at - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        let expired = tokio::time::sleep(expiry);
        tokio::pin!(expired);
        while open {
            tokio::select! {
                out = self.feed.next() => open = match out {
                    Some(out) => self.deliver(out).await,
                    None => false,
                },
                command = self.link.recv() => open = match command {
                    Some(command) => self.answer(command).await,
                    None => false,
                },
                _ = tick.tick() => {
                    open = self.link.keep_alive().await && self.still_authenticated().await;
                }
                () = &mut expired => {
                    self.link.close(CLOSE_UNAUTHENTICATED, "the access token expired").await;
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
                self.link
                    .send(&event.kind, &event.data, Some(event.seq))
                    .await
            }
            Outgoing::Resync => self.link.send(kinds::RESYNC, &json!({}), None).await,
            Outgoing::Delta(delta) => self.link.send(kinds::REPLY_DELTA, &*delta, None).await,
            Outgoing::ReplyEnd { kind, message } => self.link.send(&kind, &message, None).await,
            Outgoing::Recheck => self.still_authenticated().await,
            Outgoing::Close(CloseReason::Revoked) => {
                let data = json!({ "sessionId": self.caller.session_id.to_string() });
                self.link.send(kinds::SESSION_REVOKED, &data, None).await;
                self.link
                    .close(CLOSE_UNAUTHENTICATED, "the login session was revoked")
                    .await;
                false
            }
            Outgoing::Close(CloseReason::TooSlow) => {
                self.link
                    .close(CLOSE_TOO_SLOW, "too slow to read events")
                    .await;
                false
            }
        }
    }

    /// Answers a client's command; false once the connection is over.
    async fn answer(&mut self, command: Command) -> bool {
        let chat = |id: ChatSessionId| json!({ "sessionId": id.to_string() });
        match command {
            Command::Ping => self.link.send("pong", &json!({}), None).await,
            Command::Subscribe(id) if self.feed.subscribe(id) => {
                self.link.send("subscribed", &chat(id), None).await
            }
            Command::Subscribe(_) => self.error("too many subscriptions").await,
            Command::Unsubscribe(id) => {
                self.feed.unsubscribe(id);
                self.link.send("unsubscribed", &chat(id), None).await
            }
            Command::Resume { reply, after } => {
                self.feed.resume(reply, after).await;
                true
            }
            Command::Invalid(message) => self.error(message).await,
        }
    }

    async fn error(&mut self, message: &str) -> bool {
        let data = json!({ "message": message });
        self.link.send("error", &data, None).await
    }

    /// Whether the token still authenticates (a revocation may have been missed); closes with
    /// 4401 when it does not. A credential store that cannot answer keeps the connection.
    async fn still_authenticated(&mut self) -> bool {
        match self.delegate.auth().authenticate(&self.token).await {
            Ok(_) => true,
            Err(e) if e.kind() == delegate_core::ErrorKind::Unavailable => true,
            Err(_) => {
                self.link
                    .close(CLOSE_UNAUTHENTICATED, "the credentials are no longer valid")
                    .await;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_from_type_and_data() {
        let chat = ChatSessionId::new();
        let data = json!({ "sessionId": chat.to_string() });
        assert_eq!(Command::parse(Some("ping"), &Value::Null), Command::Ping);
        assert_eq!(
            Command::parse(Some("subscribe"), &data),
            Command::Subscribe(chat)
        );
        assert_eq!(
            Command::parse(Some("unsubscribe"), &data),
            Command::Unsubscribe(chat)
        );
        assert!(matches!(
            Command::parse(Some("subscribe"), &json!({ "sessionId": "nope" })),
            Command::Invalid(_)
        ));
        let reply = MessageId::new();
        assert_eq!(
            Command::parse(Some("resume"), &json!({ "messageId": reply.to_string() })),
            Command::Resume { reply, after: 0 }
        );
        assert!(matches!(
            Command::parse(
                Some("resume"),
                &json!({ "messageId": reply.to_string(), "after": -1 })
            ),
            Command::Invalid(_)
        ));
        assert!(matches!(Command::parse(None, &data), Command::Invalid(_)));
    }
}
