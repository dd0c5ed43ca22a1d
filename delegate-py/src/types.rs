//! The plain data the bindings hand to Python: frozen, typed objects (never dicts) built from
//! core values, their fields named as in Python (`access_token`, `created_at` as an aware
//! `datetime`).

use chrono::{DateTime, Utc};
use delegate_core::AuthContext;
use delegate_core::chat::{ChatSession as CoreChatSession, Message as CoreMessage};
use delegate_core::{SignedIn as CoreSignedIn, TokenPair};
use pyo3::prelude::*;

/// A verified caller: what `auth.verify(token)` returns, and what methods acting for a user
/// take.
#[pyclass(frozen, module = "delegate")]
pub(crate) struct Caller {
    /// The core's view of the caller.
    pub(crate) context: AuthContext,
}

#[pymethods]
impl Caller {
    /// The user's id.
    #[getter]
    fn user_id(&self) -> String {
        self.context.user_id.to_string()
    }

    /// The login session's id.
    #[getter]
    fn session_id(&self) -> String {
        self.context.session_id.to_string()
    }

    /// The user's tier now (`free`, `pro`, `enterprise`).
    #[getter]
    fn tier(&self) -> &'static str {
        self.context.tier.as_str()
    }

    /// The user's role now (`user`, `admin`).
    #[getter]
    fn role(&self) -> &'static str {
        self.context.role.as_str()
    }

    /// When the access token expires.
    #[getter]
    fn expires_at(&self) -> DateTime<Utc> {
        self.context.expires_at
    }

    fn __repr__(&self) -> String {
        format!(
            "Caller(user_id='{}', session_id='{}', tier='{}', role='{}')",
            self.context.user_id,
            self.context.session_id,
            self.context.tier.as_str(),
            self.context.role.as_str()
        )
    }
}

/// An account.
#[pyclass(frozen, get_all, module = "delegate")]
#[derive(Clone)]
pub(crate) struct User {
    /// Its id.
    pub id: String,
    /// Its email.
    pub email: String,
    /// Its display name.
    pub name: String,
    /// Its tier.
    pub tier: &'static str,
    /// Its role.
    pub role: &'static str,
    /// Whether it is disabled (it cannot log in).
    pub disabled: bool,
    /// Its avatar's URL.
    pub avatar_url: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Its preferences, as JSON text (the `preferences` property parses it).
    #[pyo3(name = "preferences_json")]
    pub preferences: String,
}

impl From<&delegate_core::User> for User {
    fn from(u: &delegate_core::User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.clone(),
            name: u.name.clone(),
            tier: u.tier.as_str(),
            role: u.role.as_str(),
            disabled: u.disabled,
            avatar_url: u.avatar_url.clone(),
            created_at: u.created_at,
            preferences: u.preferences.to_string(),
        }
    }
}

#[pymethods]
impl User {
    /// Its preferences: the JSON object the user stored (a fresh `dict` each time).
    #[getter]
    fn preferences<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?
            .call_method1("loads", (&self.preferences,))
    }
}

/// A new login: the account, the login session and its tokens.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct SignedIn {
    /// The account.
    pub user: User,
    /// The new login session's id.
    pub session_id: String,
    /// The bearer token for requests.
    pub access_token: String,
    /// The single-use refresh token.
    pub refresh_token: String,
    /// The access token's lifetime, seconds.
    pub expires_in: u64,
}

impl From<CoreSignedIn> for SignedIn {
    fn from(s: CoreSignedIn) -> Self {
        Self {
            user: User::from(&s.user),
            session_id: s.session.id.to_string(),
            access_token: s.tokens.access_token,
            refresh_token: s.tokens.refresh_token,
            expires_in: s.tokens.expires_in,
        }
    }
}

/// A refreshed pair of tokens (the refresh token presented is spent).
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct Tokens {
    /// The bearer token for requests.
    pub access_token: String,
    /// The single-use refresh token.
    pub refresh_token: String,
    /// The access token's lifetime, seconds.
    pub expires_in: u64,
}

impl From<TokenPair> for Tokens {
    fn from(t: TokenPair) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            expires_in: t.expires_in,
        }
    }
}

/// A chat session.
#[pyclass(frozen, get_all, module = "delegate")]
#[derive(Clone)]
pub(crate) struct ChatSession {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its model, when not the default.
    pub model: Option<String>,
    /// Its system prompt.
    pub system_prompt: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<CoreChatSession> for ChatSession {
    fn from(s: CoreChatSession) -> Self {
        Self {
            id: s.id.to_string(),
            title: s.title,
            model: s.model,
            system_prompt: s.system_prompt,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A stored message.
#[pyclass(frozen, get_all, module = "delegate")]
#[derive(Clone)]
pub(crate) struct Message {
    /// Its id.
    pub id: String,
    /// Its chat session.
    pub session_id: String,
    /// `user` or `assistant`.
    pub role: &'static str,
    /// Its text.
    pub content: String,
    /// `complete`, `partial`, `failed` or `cancelled`.
    pub status: &'static str,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl From<&CoreMessage> for Message {
    fn from(m: &CoreMessage) -> Self {
        Self {
            id: m.id.to_string(),
            session_id: m.session_id.to_string(),
            role: m.role.as_str(),
            content: m.content.clone(),
            status: m.status.as_str(),
            created_at: m.created_at,
        }
    }
}

/// One event of a streamed reply: `delta` (its `text`), then `done` (the stored reply in
/// `message`, its whole text in `text`) or `error` (`code`, and the stored partial reply).
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct ReplyEvent {
    /// `delta`, `done` or `error`.
    pub r#type: &'static str,
    /// The delta's text, or the whole reply's at the end.
    pub text: String,
    /// The stored reply (`done`, `error`).
    pub message: Option<Message>,
    /// Why it failed (`error`): the HTTP error envelope's code.
    pub code: Option<&'static str>,
}

/// A message sent and its reply, both stored.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct Exchange {
    /// The user's message.
    pub user_message: Message,
    /// The assistant's reply.
    pub assistant_message: Message,
}

/// A page of messages.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct MessagePage {
    /// The messages, oldest first.
    pub items: Vec<Message>,
    /// Pass as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// One device's login session.
#[pyclass(frozen, get_all, module = "delegate")]
#[derive(Clone)]
pub(crate) struct LoginSession {
    /// Its id.
    pub id: String,
    /// The device's label, when the client gave one.
    pub device_name: Option<String>,
    /// The device's platform, when the client gave one.
    pub platform: Option<String>,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_seen_at: DateTime<Utc>,
    /// When it ends at the latest.
    pub expires_at: DateTime<Utc>,
    /// Whether it is the caller's own.
    pub current: bool,
}

impl LoginSession {
    /// `s` as the caller of `current` sees it.
    pub(crate) fn of(
        s: &delegate_core::LoginSession,
        current: delegate_core::LoginSessionId,
    ) -> Self {
        Self {
            id: s.id.to_string(),
            device_name: s.device.name.clone(),
            platform: s.device.platform.clone(),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            current: s.id == current,
        }
    }
}

/// A user's usage this period against their tier's quota (0 = unlimited).
#[pyclass(frozen, get_all, module = "delegate")]
#[derive(Clone)]
pub(crate) struct Usage {
    /// The tier.
    pub tier: &'static str,
    /// Messages sent today (UTC).
    pub messages_today: u64,
    /// Messages a day the tier allows.
    pub messages_per_day: u64,
    /// Prompt tokens this month.
    pub prompt_tokens: u64,
    /// Completion tokens this month.
    pub completion_tokens: u64,
    /// Tokens a month the tier allows.
    pub tokens_per_month: u64,
    /// Seconds of the user's speech transcribed this month.
    pub voice_seconds_in: f64,
    /// Seconds of speech synthesized for the user this month.
    pub voice_seconds_out: f64,
    /// Voice seconds a month the tier allows.
    pub voice_seconds_per_month: u64,
    /// When today started (UTC).
    pub day_start: DateTime<Utc>,
    /// When this month started (UTC).
    pub month_start: DateTime<Utc>,
    /// When the month's counts start again.
    pub month_end: DateTime<Utc>,
}

impl From<delegate_core::usage::UsageReport> for Usage {
    fn from(r: delegate_core::usage::UsageReport) -> Self {
        let voice = delegate_core::voice::VoiceUsage::of(&r);
        Self {
            tier: r.tier.as_str(),
            messages_today: r.messages_today,
            messages_per_day: r.quota.messages_per_day,
            prompt_tokens: r.month.prompt_tokens,
            completion_tokens: r.month.completion_tokens,
            tokens_per_month: r.quota.tokens_per_month,
            voice_seconds_in: voice.seconds_in,
            voice_seconds_out: voice.seconds_out,
            voice_seconds_per_month: voice.quota_seconds,
            day_start: r.day_start,
            month_start: r.month_start,
            month_end: r.month_end,
        }
    }
}

/// A saved transcript.
#[pyclass(frozen, get_all, module = "delegate")]
#[derive(Clone)]
pub(crate) struct Transcript {
    /// Its id.
    pub id: String,
    /// The chat it was made from, if any.
    pub session_id: Option<String>,
    /// Its title.
    pub title: String,
    /// Its text.
    pub content: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// `chat`, `voice` or `manual`.
    pub source: &'static str,
    /// Words in its content.
    pub word_count: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&delegate_core::transcript::Transcript> for Transcript {
    fn from(t: &delegate_core::transcript::Transcript) -> Self {
        Self {
            id: t.id.to_string(),
            session_id: t.session_id.map(|s| s.to_string()),
            title: t.title.clone(),
            content: t.content.clone(),
            tags: t.tags.clone(),
            source: t.source.as_str(),
            word_count: t.word_count,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A page of transcripts.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct TranscriptPage {
    /// The transcripts, newest first.
    pub items: Vec<Transcript>,
    /// Pass as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A transcript that matched a search.
#[pyclass(frozen, get_all, module = "delegate")]
#[derive(Clone)]
pub(crate) struct SearchHit {
    /// The transcript.
    pub transcript: Transcript,
    /// Its rank (higher is better).
    pub score: f64,
    /// The text around the first match (`…` marks a cut).
    pub snippet: String,
    /// `(start, end)` character offsets into `snippet` of the matched words.
    pub highlights: Vec<(usize, usize)>,
}

impl From<&delegate_core::transcript::SearchHit> for SearchHit {
    fn from(h: &delegate_core::transcript::SearchHit) -> Self {
        Self {
            transcript: Transcript::from(&h.transcript),
            score: h.score,
            snippet: h.snippet.text.clone(),
            highlights: h.snippet.highlights.iter().map(|[a, b]| (*a, *b)).collect(),
        }
    }
}

/// A page of search hits.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct SearchPage {
    /// The hits, best first.
    pub items: Vec<SearchHit>,
    /// Pass as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A rendered transcript.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct Export {
    /// The rendered text.
    pub body: String,
    /// A file name for it.
    pub file_name: String,
    /// Its content type.
    pub content_type: &'static str,
}

/// A page of chat sessions.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct ChatSessionPage {
    /// The sessions, newest first.
    pub items: Vec<ChatSession>,
    /// Pass as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A page of accounts.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct UserPage {
    /// The accounts, in id order.
    pub items: Vec<User>,
    /// Pass as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// An account as an operator sees it.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct UserDetail {
    /// The account.
    pub user: User,
    /// Its usage this period.
    pub usage: Usage,
    /// Its live login sessions.
    pub live_sessions: u64,
}

/// What a cleanup removed.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct Cleanup {
    /// Ended login sessions.
    pub sessions: u64,
    /// Refresh tokens of ended families.
    pub refresh_tokens: u64,
    /// Ended token denials.
    pub denials: u64,
    /// Audit events past their retention.
    pub audit_events: u64,
}

/// One entry of the audit trail.
#[pyclass(frozen, get_all, module = "delegate")]
#[derive(Clone)]
pub(crate) struct AuditEvent {
    /// Its id.
    pub id: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened (`login.failed`, `user.tier_changed`, …).
    pub kind: &'static str,
    /// Who did it: `user`, `operator`, `system` or `anonymous`.
    pub actor_type: &'static str,
    /// The acting user, when a user acted.
    pub actor_user_id: Option<String>,
    /// The account acted on.
    pub target_user_id: Option<String>,
    /// The client's IP, when known.
    pub ip: Option<String>,
    /// Details, as JSON text.
    pub detail_json: String,
}

impl From<&delegate_core::admin::AuditEvent> for AuditEvent {
    fn from(e: &delegate_core::admin::AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            at: e.at,
            kind: e.kind.as_str(),
            actor_type: e.actor.kind(),
            actor_user_id: e.actor.user_id().map(|u| u.to_string()),
            target_user_id: e.target.map(|u| u.to_string()),
            ip: e.ip.clone(),
            detail_json: e.detail.to_string(),
        }
    }
}

/// A page of audit events.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct AuditPage {
    /// The events, newest first.
    pub items: Vec<AuditEvent>,
    /// Pass as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// Speech that was transcribed.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct Heard {
    /// The text.
    pub text: String,
    /// Its language, when the client or the provider said.
    pub language: Option<String>,
    /// How long the audio plays (what was metered), seconds.
    pub duration_seconds: f64,
    /// The audio's format, judged by its bytes.
    pub format: &'static str,
}

/// Synthesized speech.
#[pyclass(frozen, module = "delegate")]
pub(crate) struct Spoken {
    /// Its format.
    #[pyo3(get)]
    pub format: &'static str,
    /// Its content type.
    #[pyo3(get)]
    pub content_type: &'static str,
    pub audio: Vec<u8>,
}

#[pymethods]
impl Spoken {
    /// The audio.
    #[getter]
    fn audio<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, &self.audio)
    }
}

/// Voice seconds this month against the tier's quota.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct VoiceUsage {
    /// Seconds of the user's speech transcribed.
    pub seconds_in: f64,
    /// Seconds of speech synthesized for the user.
    pub seconds_out: f64,
    /// The tier's monthly voice seconds, in and out together (0 = unlimited).
    pub quota_seconds: u64,
    /// When the count starts again.
    pub period_end: DateTime<Utc>,
}

/// One cache namespace's size and use.
#[pyclass(frozen, get_all, module = "delegate")]
#[derive(Clone)]
pub(crate) struct CacheNamespace {
    /// The namespace (`user`, `chat_sessions`, …).
    pub namespace: String,
    /// Entries, when the layer can count them.
    pub entries: Option<u64>,
    /// Bytes, when the layer can measure them.
    pub bytes: Option<u64>,
    /// Hits since this process started.
    pub hits: u64,
    /// Misses since this process started.
    pub misses: u64,
}

/// One cache layer's report.
#[pyclass(frozen, get_all, module = "delegate")]
pub(crate) struct CacheLayer {
    /// `in_process` or `redis`.
    pub layer: &'static str,
    /// True when the sizes come from a bounded scan that stopped early.
    pub truncated: bool,
    /// Per namespace, by name.
    pub namespaces: Vec<CacheNamespace>,
}

impl From<&delegate_core::cache::stats::LayerReport> for CacheLayer {
    fn from(l: &delegate_core::cache::stats::LayerReport) -> Self {
        Self {
            layer: l.layer.name(),
            truncated: l.truncated,
            namespaces: l
                .namespaces
                .iter()
                .map(|n| CacheNamespace {
                    namespace: n.namespace.clone(),
                    entries: n.entries,
                    bytes: n.bytes,
                    hits: n.hits,
                    misses: n.misses,
                })
                .collect(),
        }
    }
}
