//! The in-memory `ConversationStore`: chat sessions and their messages, per owner.

use super::store::{Chat, MemoryStore};
use crate::chat::{ChatSession, ConversationStore, Message, MessageStatus, TokenUsage};
use crate::error::{Error, Result};
use crate::ids::{ChatSessionId, MessageId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn create_chat_session(&self, session: &ChatSession) -> Result<()> {
        let mut state = self.state();
        if state.chats.contains_key(&session.id) {
            return Err(Error::internal("duplicate chat session id"));
        }
        state.chats.insert(
            session.id,
            Chat {
                session: session.clone(),
                messages: BTreeMap::new(),
            },
        );
        Ok(())
    }

    async fn get_chat_session(
        &self,
        user: UserId,
        id: ChatSessionId,
    ) -> Result<Option<ChatSession>> {
        Ok(self
            .state()
            .chats
            .get(&id)
            .filter(|c| c.session.user_id == user)
            .map(|c| c.session.clone()))
    }

    async fn list_chat_sessions(
        &self,
        user: UserId,
        before: Option<ChatSessionId>,
        limit: u32,
    ) -> Result<Vec<ChatSession>> {
        let state = self.state();
        let older = match before {
            Some(before) => state.chats.range(..before),
            None => state.chats.range(..),
        };
        Ok(older
            .rev()
            .map(|(_, c)| &c.session)
            .filter(|s| s.user_id == user)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn rename_chat_session(
        &self,
        user: UserId,
        id: ChatSessionId,
        title: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(match self.state().chats.get_mut(&id) {
            Some(c) if c.session.user_id == user => {
                c.session.title = title.to_owned();
                c.session.updated_at = now;
                true
            }
            _ => false,
        })
    }

    async fn delete_chat_session(&self, user: UserId, id: ChatSessionId) -> Result<bool> {
        let mut state = self.state();
        if state
            .chats
            .get(&id)
            .is_none_or(|c| c.session.user_id != user)
        {
            return Ok(false);
        }
        // Like the relational stores' cascade: the messages go too; the usage ledger stays.
        if let Some(chat) = state.chats.remove(&id) {
            for message in chat.messages.keys() {
                state.message_chats.remove(message);
            }
        }
        Ok(true)
    }

    async fn add_message(&self, message: &Message) -> Result<()> {
        let mut state = self.state();
        if state.message_chats.contains_key(&message.id) {
            return Err(Error::internal("duplicate message id"));
        }
        let Some(chat) = state.chats.get_mut(&message.session_id) else {
            return Err(Error::NotFound("chat session"));
        };
        chat.session.updated_at = message.created_at;
        chat.messages.insert(message.id, message.clone());
        state.message_chats.insert(message.id, message.session_id);
        Ok(())
    }

    async fn finish_message(
        &self,
        id: MessageId,
        content: &str,
        status: MessageStatus,
        usage: Option<TokenUsage>,
    ) -> Result<()> {
        let mut state = self.state();
        let Some(chat) = state.message_chats.get(&id).copied() else {
            return Ok(());
        };
        if let Some(m) = state
            .chats
            .get_mut(&chat)
            .and_then(|c| c.messages.get_mut(&id))
        {
            m.content = content.to_owned();
            m.status = status;
            m.usage = usage;
        }
        Ok(())
    }

    async fn list_messages(
        &self,
        session: ChatSessionId,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let state = self.state();
        let Some(chat) = state.chats.get(&session) else {
            return Ok(Vec::new());
        };
        let newer = match after {
            Some(after) => chat
                .messages
                .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => chat.messages.range(..),
        };
        Ok(newer
            .map(|(_, m)| m)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn recent_messages(&self, session: ChatSessionId, limit: u32) -> Result<Vec<Message>> {
        let state = self.state();
        let Some(chat) = state.chats.get(&session) else {
            return Ok(Vec::new());
        };
        let mut recent: Vec<Message> = chat
            .messages
            .values()
            .rev()
            .take(limit as usize)
            .cloned()
            .collect();
        recent.reverse();
        Ok(recent)
    }
}
