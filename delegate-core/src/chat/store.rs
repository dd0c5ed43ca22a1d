//! The `ConversationStore` backend trait: chat sessions and messages, owner-scoped.

use super::{ChatSession, Message, MessageStatus, TokenUsage};
use crate::error::Result;
use crate::ids::{ChatSessionId, MessageId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Durable storage of chat sessions and their messages. Every session read or write names
/// the owner: another user's session behaves exactly like a missing one.
#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    /// Stores a new session.
    async fn create_chat_session(&self, session: &ChatSession) -> Result<()>;
    /// The session, if it exists and belongs to `user`.
    async fn get_chat_session(
        &self,
        user: UserId,
        id: ChatSessionId,
    ) -> Result<Option<ChatSession>>;
    /// Up to `limit` of the user's sessions, newest first (by id), strictly older than
    /// `before` if given.
    async fn list_chat_sessions(
        &self,
        user: UserId,
        before: Option<ChatSessionId>,
        limit: u32,
    ) -> Result<Vec<ChatSession>>;
    /// Renames the user's session; false if there is no such session of `user`.
    async fn rename_chat_session(
        &self,
        user: UserId,
        id: ChatSessionId,
        title: &str,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Deletes the user's session and its messages; false if there is no such session.
    async fn delete_chat_session(&self, user: UserId, id: ChatSessionId) -> Result<bool>;
    /// Stores a message in its session and sets the session's `updated_at` to the message's
    /// `created_at`, atomically. A session that does not exist (e.g. deleted since the
    /// caller checked it) is [`crate::Error::NotFound`], and nothing is stored.
    async fn add_message(&self, message: &Message) -> Result<()>;
    /// Stores several messages of one session, in order, as [`Self::add_message`] does each;
    /// backends may do it in one transaction (one commit on the request path).
    async fn add_messages(&self, messages: &[Message]) -> Result<()> {
        for message in messages {
            self.add_message(message).await?;
        }
        Ok(())
    }
    /// Sets a message's content, status and usage (an assistant reply when it ends). An
    /// unknown id (e.g. its session was deleted while the reply streamed) changes nothing.
    async fn finish_message(
        &self,
        id: MessageId,
        content: &str,
        status: MessageStatus,
        usage: Option<TokenUsage>,
    ) -> Result<()>;
    /// Up to `limit` messages of the session, oldest first (by id), strictly newer than
    /// `after` if given. The caller has checked ownership.
    async fn list_messages(
        &self,
        session: ChatSessionId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// The session's newest `limit` messages, returned oldest first (the context window).
    async fn recent_messages(&self, session: ChatSessionId, limit: u32) -> Result<Vec<Message>>;
    /// The session's message `id`, if it has it. The caller has checked ownership. The
    /// default pages through [`Self::list_messages`]; backends with an index override it.
    async fn get_message(&self, session: ChatSessionId, id: MessageId) -> Result<Option<Message>> {
        const PAGE: u32 = 100;
        let mut after = None;
        loop {
            let page = self.list_messages(session, after, PAGE).await?;
            if let Some(found) = page.iter().find(|m| m.id == id) {
                return Ok(Some(found.clone()));
            }
            // Pages come in id order: past `id`, or at the end, it is not there.
            if page.len() < PAGE as usize || page.last().is_some_and(|m| m.id > id) {
                return Ok(None);
            }
            after = page.last().map(|m| m.id);
        }
    }
}
