//! Every cache and rate-limit key, built in one place: one builder per thing held, named for
//! it. Backends add their configured prefix (Redis: `delegate:`; the limiter's keys also go
//! under `rate_limit:`). The text before the first `:` is the key's namespace, which the
//! cache statistics and `POST /admin/cache/clear` patterns use.

use crate::ids::{ChatSessionId, LoginSessionId, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// `prefix` then the id, in a string made at its final size: the profile, login session and
/// limiter keys are built on every request, where `format!` would grow the string three times.
fn with_id(prefix: &str, id: Uuid) -> String {
    let mut text = Uuid::encode_buffer();
    let id = id.hyphenated().encode_lower(&mut text);
    let mut key = String::with_capacity(prefix.len() + id.len());
    key.push_str(prefix);
    key.push_str(id);
    key
}

/// A user's profile (`user:{userId}`, the original backend's name).
pub fn user(id: UserId) -> String {
    with_id("user:", id.as_uuid())
}

/// The glob matching every cached profile.
pub const ALL_USERS: &str = "user:*";

/// A login session as stored (`login_session:{loginSessionId}`).
pub fn login_session(id: LoginSessionId) -> String {
    with_id("login_session:", id.as_uuid())
}

/// The glob matching every cached login session.
pub const ALL_LOGIN_SESSIONS: &str = "login_session:*";

/// The first page of a user's chat sessions, newest first (`chat_sessions:{userId}`).
pub fn chat_sessions(user: UserId) -> String {
    format!("chat_sessions:{user}")
}

/// The first page of a user's transcripts, newest first (`transcripts:{userId}`).
pub fn transcripts(user: UserId) -> String {
    format!("transcripts:{user}")
}

/// The first page of a chat session's messages (`messages:{chatSessionId}`).
pub fn messages(chat_session: ChatSessionId) -> String {
    format!("messages:{chat_session}")
}

/// What sending to a chat session needs of it, which never changes: its model and system
/// prompt (`chat_session_head:{userId}:{chatSessionId}`; the owner in the key keeps another
/// user's id a miss).
pub fn chat_session_head(user: UserId, chat_session: ChatSessionId) -> String {
    format!("chat_session_head:{user}:{chat_session}")
}

/// A user's usage totals for the day starting at `day_start`, and its month so far
/// (`usage:{userId}:{dayStartUnixSecs}`).
pub fn usage(user: UserId, day_start: DateTime<Utc>) -> String {
    format!("usage:{user}:{}", day_start.timestamp())
}

/// A cached reply to a deterministic chat request, by the SHA-256 of its canonical form
/// (`openai:{sha256hex}`, the original backend's name).
pub fn ai_response(digest_hex: &str) -> String {
    format!("openai:{digest_hex}")
}

/// Login attempts on one account from every client, this window
/// (`login_attempts:{accountDigest}`).
pub fn login_attempts(account_digest: &str) -> String {
    format!("login_attempts:{account_digest}")
}

/// Failed logins on one account from one client (`login_failures:{accountDigest}:{client}`).
pub fn login_failures(account_digest: &str, client: &str) -> String {
    format!("login_failures:{account_digest}:{client}")
}

/// The backoff lock on one account for one client (`login_lock:{accountDigest}:{client}`).
pub fn login_lock(account_digest: &str, client: &str) -> String {
    format!("login_lock:{account_digest}:{client}")
}

/// Rate-limit keys (the limiter stores them under `rate_limit:`).
pub mod limits {
    use super::with_id;
    use crate::ids::UserId;

    /// The whole server's request count (`global`).
    pub const GLOBAL: &str = "global";

    /// A signed-in user's requests (`user:{userId}`).
    pub fn user(id: UserId) -> String {
        with_id("user:", id.as_uuid())
    }

    /// An anonymous client's requests, by its IP bucket (`ip:{bucket}`).
    pub fn ip(bucket: &str) -> String {
        format!("ip:{bucket}")
    }

    /// A client's requests to the auth routes (`auth:{client}`, `client` from [`user`] or
    /// [`ip`]).
    pub fn auth(client: &str) -> String {
        format!("auth:{client}")
    }

    /// A client's requests to one route with its own limit (`route:{route}:{client}`).
    pub fn route(route: &str, client: &str) -> String {
        format!("route:{route}:{client}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{glob_match, namespace};

    #[test]
    fn keys_sit_in_their_namespaces_and_the_profile_glob_matches_only_profiles() {
        let (user_id, chat) = (UserId::new(), ChatSessionId::new());
        assert_eq!(namespace(&user(user_id)), "user");
        assert_eq!(namespace(&chat_sessions(user_id)), "chat_sessions");
        assert_eq!(namespace(&messages(chat)), "messages");
        assert_eq!(
            namespace(&chat_session_head(user_id, chat)),
            "chat_session_head"
        );
        assert_eq!(namespace(&ai_response("ab")), "openai");
        let login = login_session(LoginSessionId::new());
        assert!(glob_match(ALL_LOGIN_SESSIONS, &login));
        assert!(!glob_match(ALL_LOGIN_SESSIONS, &user(user_id)));
        assert!(glob_match(ALL_USERS, &user(user_id)));
        assert!(!glob_match(ALL_USERS, &chat_sessions(user_id)));
        assert_eq!(user(user_id), format!("user:{user_id}"));
        assert_eq!(limits::user(user_id), format!("user:{user_id}"));
        let id = LoginSessionId::new();
        assert_eq!(login_session(id), format!("login_session:{id}"));
    }
}
