//! The in-memory relational store: users, login sessions, refresh tokens, denials, chat
//! sessions with their messages, and the usage ledger in one mutex-guarded state. For tests
//! and throwaway embedded runs (`DATABASE_URL=memory:`).

use crate::auth::{
    LoginSession, LoginSessionStore, RefreshTokenRecord, RefreshTokenStore, Rotation, TokenDenylist,
};
use crate::chat::{ChatSession, ConversationStore, Message, MessageStatus, TokenUsage};
use crate::error::{Error, Result};
use crate::ids::{ChatSessionId, LoginSessionId, MessageId, UserId};
use crate::usage::{
    Hold, HoldLimits, HoldOutcome, UsageEvent, UsageStore, UsageTotals, decide_hold,
};
use crate::users::{ProfileChange, Role, Tier, User, UserCredentials, UserStore, email_taken};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
struct State {
    users: BTreeMap<UserId, UserCredentials>,
    emails: HashMap<String, UserId>,
    sessions: HashMap<LoginSessionId, LoginSession>,
    refresh: HashMap<String, RefreshTokenRecord>,
    /// Each rotated token's replacement, by the replaced token's hash.
    refresh_children: HashMap<String, String>,
    denied: HashMap<String, DateTime<Utc>>,
    chats: BTreeMap<ChatSessionId, Chat>,
    /// Which chat each message is in, for `finish_message`.
    message_chats: HashMap<MessageId, ChatSessionId>,
    usage: Vec<UsageEvent>,
    holds: HashMap<MessageId, Hold>,
}

impl State {
    /// Drops the parent links of refresh tokens that are gone.
    fn forget_dropped_parents(&mut self) {
        let refresh = &self.refresh;
        self.refresh_children
            .retain(|parent, _| refresh.contains_key(parent));
    }
}

/// A chat session and its messages (in id order), which go when it goes.
struct Chat {
    session: ChatSession,
    messages: BTreeMap<MessageId, Message>,
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

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("memory store lock")
    }

    fn update_user(&self, id: UserId, change: impl FnOnce(&mut User)) -> bool {
        match self.state().users.get_mut(&id) {
            Some(creds) => {
                change(&mut creds.user);
                true
            }
            None => false,
        }
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert(&self, user: &User, password_hash: &str) -> Result<()> {
        let mut state = self.state();
        if state.emails.contains_key(&user.email) || state.users.contains_key(&user.id) {
            return Err(email_taken());
        }
        state.emails.insert(user.email.clone(), user.id);
        state.users.insert(
            user.id,
            UserCredentials {
                user: user.clone(),
                password_hash: password_hash.to_owned(),
            },
        );
        Ok(())
    }

    async fn get(&self, id: UserId) -> Result<Option<User>> {
        Ok(self.state().users.get(&id).map(|c| c.user.clone()))
    }

    async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>> {
        let state = self.state();
        Ok(state
            .emails
            .get(email)
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn list(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>> {
        let state = self.state();
        let iter = state.users.values().map(|c| &c.user);
        Ok(iter
            .filter(|u| after.is_none_or(|a| u.id > a))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn set_tier(&self, id: UserId, tier: Tier, now: DateTime<Utc>) -> Result<bool> {
        Ok(self.update_user(id, |u| {
            u.tier = tier;
            u.updated_at = now;
        }))
    }

    async fn set_password_hash(&self, id: UserId, hash: &str, now: DateTime<Utc>) -> Result<bool> {
        Ok(match self.state().users.get_mut(&id) {
            Some(creds) => {
                creds.password_hash = hash.to_owned();
                creds.user.updated_at = now;
                true
            }
            None => false,
        })
    }

    async fn set_role(&self, id: UserId, role: Role, now: DateTime<Utc>) -> Result<bool> {
        Ok(self.update_user(id, |u| {
            u.role = role;
            u.updated_at = now;
        }))
    }

    async fn update_profile(
        &self,
        id: UserId,
        change: &ProfileChange,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        Ok(self.update_user(id, |u| {
            if let Some(name) = &change.name {
                u.name = name.clone();
            }
            if let Some(avatar_url) = &change.avatar_url {
                u.avatar_url = avatar_url.clone();
            }
            if let Some(preferences) = &change.preferences {
                u.preferences = preferences.clone();
            }
            u.updated_at = now;
        }))
    }
}

#[async_trait]
impl LoginSessionStore for MemoryStore {
    async fn insert(&self, session: &LoginSession) -> Result<()> {
        self.state().sessions.insert(session.id, session.clone());
        Ok(())
    }

    async fn get(&self, id: LoginSessionId) -> Result<Option<LoginSession>> {
        Ok(self.state().sessions.get(&id).cloned())
    }

    async fn list_alive(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<LoginSession>> {
        let mut found: Vec<LoginSession> = self
            .state()
            .sessions
            .values()
            .filter(|s| s.user_id == user && s.is_alive(now))
            .cloned()
            .collect();
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(found)
    }

    async fn touch(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<()> {
        if let Some(s) = self.state().sessions.get_mut(&id) {
            s.last_seen_at = s.last_seen_at.max(at);
        }
        Ok(())
    }

    async fn revoke(&self, id: LoginSessionId, at: DateTime<Utc>) -> Result<bool> {
        Ok(match self.state().sessions.get_mut(&id) {
            Some(s) if s.revoked_at.is_none() => {
                s.revoked_at = Some(at);
                true
            }
            _ => false,
        })
    }

    async fn revoke_all(&self, user: UserId, at: DateTime<Utc>) -> Result<Vec<LoginSessionId>> {
        let mut state = self.state();
        let mut ids = Vec::new();
        for s in state.sessions.values_mut() {
            if s.user_id == user && s.revoked_at.is_none() {
                s.revoked_at = Some(at);
                ids.push(s.id);
            }
        }
        Ok(ids)
    }

    async fn purge(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut state = self.state();
        let before = state.sessions.len();
        state.sessions.retain(|_, s| s.is_alive(now));
        // Like the relational stores' cascade: a purged session takes its tokens along.
        let State {
            sessions, refresh, ..
        } = &mut *state;
        refresh.retain(|_, r| sessions.contains_key(&r.session_id));
        let removed = (before - sessions.len()) as u64;
        state.forget_dropped_parents();
        Ok(removed)
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryStore {
    async fn insert(&self, record: &RefreshTokenRecord) -> Result<()> {
        self.state()
            .refresh
            .insert(record.hash.clone(), record.clone());
        Ok(())
    }

    async fn rotate(&self, presented: &str, child: &str, at: DateTime<Utc>) -> Result<Rotation> {
        let mut state = self.state();
        let Some(record) = state.refresh.get_mut(presented) else {
            return Ok(Rotation::Unknown);
        };
        if let Some(used_at) = record.used_at {
            let (session_id, user_id) = (record.session_id, record.user_id);
            let child_used = state
                .refresh_children
                .get(presented)
                .and_then(|child| state.refresh.get(child))
                .is_some_and(|child| child.used_at.is_some());
            return Ok(Rotation::Reused {
                session_id,
                user_id,
                used_at,
                child_used,
            });
        }
        record.used_at = Some(at);
        let (session_id, user_id) = (record.session_id, record.user_id);
        state
            .refresh_children
            .insert(presented.to_owned(), child.to_owned());
        state.refresh.insert(
            child.to_owned(),
            RefreshTokenRecord {
                hash: child.to_owned(),
                session_id,
                user_id,
                issued_at: at,
                used_at: None,
            },
        );
        Ok(Rotation::Rotated {
            session_id,
            user_id,
        })
    }

    async fn delete_families(&self, sessions: &[LoginSessionId]) -> Result<u64> {
        let mut state = self.state();
        let before = state.refresh.len();
        state
            .refresh
            .retain(|_, r| !sessions.contains(&r.session_id));
        state.forget_dropped_parents();
        Ok((before - state.refresh.len()) as u64)
    }

    async fn purge_issued_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut state = self.state();
        let count = state.refresh.len();
        state.refresh.retain(|_, r| r.issued_at >= before);
        state.forget_dropped_parents();
        Ok((count - state.refresh.len()) as u64)
    }

    async fn count_unused(&self, session: LoginSessionId) -> Result<u64> {
        Ok(self
            .state()
            .refresh
            .values()
            .filter(|r| r.session_id == session && r.used_at.is_none())
            .count() as u64)
    }
}

#[async_trait]
impl TokenDenylist for MemoryStore {
    async fn deny(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()> {
        self.state().denied.insert(jti.to_owned(), expires_at);
        Ok(())
    }

    async fn active(&self, now: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        Ok(self
            .state()
            .denied
            .iter()
            .filter(|(_, exp)| **exp >= now)
            .map(|(jti, exp)| (jti.clone(), *exp))
            .collect())
    }

    async fn purge(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut state = self.state();
        let before = state.denied.len();
        state.denied.retain(|_, exp| *exp >= now);
        Ok((before - state.denied.len()) as u64)
    }
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn create_session(&self, session: &ChatSession) -> Result<()> {
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

    async fn get_session(&self, user: UserId, id: ChatSessionId) -> Result<Option<ChatSession>> {
        Ok(self
            .state()
            .chats
            .get(&id)
            .filter(|c| c.session.user_id == user)
            .map(|c| c.session.clone()))
    }

    async fn list_sessions(
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

    async fn rename_session(
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

    async fn delete_session(&self, user: UserId, id: ChatSessionId) -> Result<bool> {
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

#[async_trait]
impl UsageStore for MemoryStore {
    async fn record(&self, event: &UsageEvent) -> Result<()> {
        self.state().usage.push(*event);
        Ok(())
    }

    async fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> Result<UsageTotals> {
        Ok(self.state().totals_since(user, since))
    }

    async fn hold(&self, hold: &Hold, limits: &HoldLimits) -> Result<HoldOutcome> {
        // One mutex over the whole state: the check and the insert are one step.
        let mut state = self.state();
        state.holds.retain(|_, h| h.expires_at > limits.now);
        let (live, held_tokens) = state
            .holds
            .values()
            .filter(|h| h.user_id == hold.user_id)
            .fold((0u64, 0u64), |(n, t), h| (n + 1, t + u64::from(h.tokens)));
        let today = state.totals_since(hold.user_id, limits.day_start);
        let month = state.totals_since(hold.user_id, limits.month_start);
        let outcome = decide_hold(
            limits,
            today.messages,
            month.prompt_tokens + month.completion_tokens,
            live,
            held_tokens,
        );
        if outcome == HoldOutcome::Held {
            state.holds.insert(hold.message_id, *hold);
        }
        Ok(outcome)
    }

    async fn release(&self, message_id: MessageId) -> Result<()> {
        self.state().holds.remove(&message_id);
        Ok(())
    }
}

impl State {
    fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> UsageTotals {
        let mut totals = UsageTotals::default();
        for e in self
            .usage
            .iter()
            .filter(|e| e.user_id == user && e.at >= since)
        {
            totals.messages += u64::from(e.messages);
            totals.prompt_tokens += u64::from(e.prompt_tokens);
            totals.completion_tokens += u64::from(e.completion_tokens);
        }
        totals
    }
}
