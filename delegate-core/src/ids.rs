//! Typed identifiers: UUIDv7 newtypes so a user id never passes for a session id.

use crate::error::{Error, Result};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses the canonical text form; anything else is [`Error::Invalid`].
            pub fn parse(text: &str) -> Result<Self> {
                Uuid::parse_str(text)
                    .map(Self)
                    .map_err(|_| Error::invalid($what, concat!("not a valid ", $what)))
            }

            /// Wraps an existing UUID (as read from a store).
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies a user account.
    UserId,
    "userId"
);
id_type!(
    /// Identifies a login session (one device's sign-in, and its refresh-token family).
    LoginSessionId,
    "sessionId"
);

id_type!(
    /// Identifies a chat session (a conversation).
    ChatSessionId,
    "sessionId"
);
id_type!(
    /// Identifies a chat message.
    MessageId,
    "messageId"
);
id_type!(
    /// Identifies a transcript.
    TranscriptId,
    "transcriptId"
);
id_type!(
    /// Identifies an audit event.
    AuditEventId,
    "auditEventId"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_reject_garbage() {
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()).unwrap(), id);
        let err = LoginSessionId::parse("not-a-uuid").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let a = UserId::new();
        let b = UserId::new();
        assert!(a < b);
    }
}
