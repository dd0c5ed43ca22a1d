//! Realtime: every user's events as one sequenced stream, delivered to each live connection
//! of the user on every instance. Services publish typed events ([`RealtimeService::publish`]);
//! each is numbered per user and kept in a bounded log ([`EventLog`]: in-process, or Redis in
//! scale-out), then carried between instances by the event bus, so each instance delivers only
//! to its own connections ([`Feed`]). A client that reconnects with the last number it saw
//! receives what it missed, exactly once and in order, or `resync` when the log no longer
//! holds it. Reply deltas travel beside the sequence, to the connections subscribed to the
//! chat, numbered per reply.

mod feed;
mod hub;
pub(crate) mod log;
pub mod payload;
mod reply;

pub use feed::{CloseReason, Feed, Outgoing};
pub use hub::{RealtimeService, RealtimeSettings};
pub use log::{EventLog, MemoryEventLog, Replay};
pub(crate) use reply::ReplyStep;
pub use reply::Resumed;

use crate::ids::{ChatSessionId, MessageId};
use serde::{Deserialize, Serialize};

/// One event of a user's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserEvent {
    /// Its place in the user's stream, from 1.
    pub seq: u64,
    /// What happened: `chat.session.created`, `app.reminder`, … (see [`kinds`]).
    #[serde(rename = "type")]
    pub kind: String,
    /// The details.
    pub data: serde_json::Value,
}

/// A piece of a reply as it streams, for the connections subscribed to its chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyDelta {
    /// The chat.
    pub session_id: ChatSessionId,
    /// The reply (the assistant message).
    pub message_id: MessageId,
    /// Its place in the reply, from 1.
    pub seq: u64,
    /// The text.
    pub text: String,
}

/// The event types Delegate publishes. Host applications publish their own under `app.`.
pub mod kinds {
    /// A chat session was created (the session).
    pub const SESSION_CREATED: &str = "chat.session.created";
    /// A chat session was renamed (the session).
    pub const SESSION_UPDATED: &str = "chat.session.updated";
    /// A chat session was deleted (`{id}`).
    pub const SESSION_DELETED: &str = "chat.session.deleted";
    /// A message was stored (the message: the user's, or the reply as it starts).
    pub const MESSAGE_CREATED: &str = "chat.message.created";
    /// A reply ended complete (the stored reply).
    pub const REPLY_DONE: &str = "chat.reply.done";
    /// A reply failed (the stored reply, partial or failed).
    pub const REPLY_FAILED: &str = "chat.reply.failed";
    /// A reply was abandoned by its client (the stored reply).
    pub const REPLY_CANCELLED: &str = "chat.reply.cancelled";
    /// A piece of a reply (sent only to connections subscribed to the chat).
    pub const REPLY_DELTA: &str = "chat.reply.delta";
    /// A transcript was saved (the transcript).
    pub const TRANSCRIPT_CREATED: &str = "transcript.created";
    /// A transcript was changed (the transcript).
    pub const TRANSCRIPT_UPDATED: &str = "transcript.updated";
    /// A transcript was deleted (`{id}`).
    pub const TRANSCRIPT_DELETED: &str = "transcript.deleted";
    /// Usage was metered: a message and its reply's tokens, or seconds of speech (the report
    /// as `GET /api/v1/users/usage` answers it).
    pub const USAGE_UPDATED: &str = "usage.updated";
    /// The profile, preferences, tier or role changed (the profile).
    pub const PROFILE_UPDATED: &str = "profile.updated";
    /// The login session of the connection was revoked; the connection closes.
    pub const SESSION_REVOKED: &str = "session.revoked";
    /// Events may have been missed: refetch.
    pub const RESYNC: &str = "resync";
    /// The prefix of application events.
    pub const APP_PREFIX: &str = "app.";
}

/// Whether `kind` is a valid application event type: `app.` then 1 to 64 letters, digits,
/// `.`, `_` or `-`.
pub fn is_app_kind(kind: &str) -> bool {
    kind.strip_prefix(kinds::APP_PREFIX).is_some_and(|rest| {
        (1..=64).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_event_types_are_namespaced_and_plain() {
        assert!(is_app_kind("app.reminder"));
        assert!(is_app_kind("app.order-shipped.v2"));
        assert!(!is_app_kind("app."));
        assert!(!is_app_kind("chat.session.created"));
        assert!(!is_app_kind("app.with space"));
        assert!(!is_app_kind(&format!("app.{}", "x".repeat(65))));
    }
}
