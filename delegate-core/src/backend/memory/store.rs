//! The in-memory relational store: users, login sessions, refresh tokens, denials, chat
//! sessions with their messages, the usage ledger, transcripts and the audit trail in one mutex-guarded state. For tests
//! and throwaway embedded runs (`DATABASE_URL=memory:`). Each store trait is implemented in
//! its own file beside this one, as the SQLite and PostgreSQL backends are.

use crate::admin::AuditEvent;
use crate::auth::{LoginSession, RefreshTokenRecord};
use crate::chat::{ChatSession, Message};
use crate::ids::{AuditEventId, ChatSessionId, LoginSessionId, MessageId, TranscriptId, UserId};
use crate::transcript::Transcript;
use crate::usage::{Hold, UsageEvent};
use crate::users::{User, UserCredentials};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub(super) struct State {
    pub(super) users: BTreeMap<UserId, UserCredentials>,
    pub(super) emails: HashMap<String, UserId>,
    pub(super) sessions: HashMap<LoginSessionId, LoginSession>,
    pub(super) refresh: HashMap<String, RefreshTokenRecord>,
    /// Each rotated token's replacement, by the replaced token's hash.
    pub(super) refresh_children: HashMap<String, String>,
    pub(super) denied: HashMap<String, DateTime<Utc>>,
    pub(super) chats: BTreeMap<ChatSessionId, Chat>,
    /// Which chat each message is in, for `finish_message`.
    pub(super) message_chats: HashMap<MessageId, ChatSessionId>,
    pub(super) usage: Vec<UsageEvent>,
    pub(super) holds: HashMap<MessageId, Hold>,
    pub(super) audit: BTreeMap<AuditEventId, AuditEvent>,
    pub(super) transcripts: BTreeMap<TranscriptId, Transcript>,
}

impl State {
    /// Drops the parent links of refresh tokens that are gone.
    pub(super) fn forget_dropped_parents(&mut self) {
        let refresh = &self.refresh;
        self.refresh_children
            .retain(|parent, _| refresh.contains_key(parent));
    }
}

/// A chat session and its messages (in id order), which go when it goes.
pub(super) struct Chat {
    pub(super) session: ChatSession,
    pub(super) messages: BTreeMap<MessageId, Message>,
}

/// Every relational store trait, held in process memory. Nothing survives a restart.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("memory store lock")
    }

    pub(super) fn update_user(&self, id: UserId, change: impl FnOnce(&mut User)) -> bool {
        match self.state().users.get_mut(&id) {
            Some(creds) => {
                change(&mut creds.user);
                true
            }
            None => false,
        }
    }
}

#[async_trait::async_trait]
impl crate::health::Probe for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> crate::error::Result<()> {
        Ok(())
    }
}
