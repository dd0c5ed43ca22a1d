//! The chat service: chat sessions and messages for their owner, and sending a message —
//! quota hold, context assembly, starting the reply (see `reply`), and storing how it ended.

use super::context::{self, SessionHead};
use super::reply::{AbortOnDrop, Outcome, Reply, Sent};
use super::{
    ChatChunk, ChatModel, ChatSession, ConversationStore, Message, MessageRole, MessageSource,
    MessageStatus, TokenUsage,
};
use crate::ai::estimate_tokens;
use crate::auth::AuthContext;
use crate::cache::{Cache, cached_json, forget, keys, store_json};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::{ChatSessionId, MessageId, UserId};
use crate::paging::{MAX_PAGE, Page, check_limit, page, parse_cursor};
use crate::realtime::{RealtimeService, ReplyStep, kinds, payload};
use crate::usage::UsageService;
use crate::users::Tier;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;

/// Longest title, in characters.
const MAX_TITLE_CHARS: usize = 200;
/// Longest system prompt, in characters.
const MAX_SYSTEM_PROMPT_CHARS: usize = 8_000;
/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 32_000;
/// Most messages considered for the context before trimming to the token budget.
const CONTEXT_MESSAGES: u32 = 100;
/// How long past the reply deadline a budget hold outlives an instance that crashed
/// before settling it.
const HOLD_GRACE: Duration = Duration::from_secs(60);

/// How the chat service talks to its model.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// The model used when a session names none.
    pub default_model: String,
    /// The deadline for a whole reply, from the request to the last token.
    pub reply_timeout: Duration,
    /// The context sent is trimmed to about this many tokens (estimated as chars / 4).
    pub context_budget_tokens: u32,
    /// How long lists stay cached.
    pub list_ttl: Duration,
    /// How long a session's owner, model and system prompt stay cached (they never change;
    /// the entry is dropped when the session is deleted).
    pub head_ttl: Duration,
    /// The temperature sent with every request, if any.
    pub temperature: Option<f32>,
    /// Replies to deterministic requests (temperature 0) are cached this long; `None` turns
    /// the response cache off.
    pub response_ttl: Option<Duration>,
    /// Allowed models, output caps and concurrent replies by tier.
    pub tiers: crate::config::AiTiers,
}

/// What a new session may set.
#[derive(Debug, Clone, Default)]
pub struct NewChatSession {
    /// Title (default "New chat").
    pub title: Option<String>,
    /// Model (default: the configured one).
    pub model: Option<String>,
    /// System prompt.
    pub system_prompt: Option<String>,
}

/// The chat service.
#[derive(Clone)]
pub struct ChatService {
    store: Arc<dyn ConversationStore>,
    usage: UsageService,
    model: Option<Arc<dyn ChatModel>>,
    /// Where the user's other connections learn what happened.
    realtime: RealtimeService,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    settings: ChatSettings,
}

impl ChatService {
    pub(crate) fn new(
        store: Arc<dyn ConversationStore>,
        usage: UsageService,
        model: Option<Arc<dyn ChatModel>>,
        cache: Arc<dyn Cache>,
        realtime: RealtimeService,
        clock: Arc<dyn Clock>,
        settings: ChatSettings,
    ) -> Self {
        Self {
            store,
            usage,
            model,
            realtime,
            cache,
            clock,
            settings,
        }
    }

    /// The provider's label, or `None` when no provider is configured.
    pub fn provider(&self) -> Option<&str> {
        self.model.as_deref().map(ChatModel::name)
    }

    /// The conversation store (for operator tools that write whole chats).
    pub(crate) fn store(&self) -> &Arc<dyn ConversationStore> {
        &self.store
    }

    /// The provider, when one is configured (for health checks).
    pub(crate) fn model(&self) -> Option<&Arc<dyn ChatModel>> {
        self.model.as_ref()
    }

    /// The models `tier` may use: its configured list, or the default model alone.
    pub fn allowed_models(&self, tier: Tier) -> Vec<String> {
        let listed = &self.settings.tiers.of(tier).models;
        if listed.is_empty() {
            vec![self.settings.default_model.clone()]
        } else {
            listed.clone()
        }
    }

    /// Every model some tier may use, sorted, once each.
    pub fn models_of_any_tier(&self) -> Vec<String> {
        let mut models: Vec<String> = [Tier::Free, Tier::Pro, Tier::Enterprise]
            .into_iter()
            .flat_map(|tier| self.allowed_models(tier))
            .collect();
        models.sort();
        models.dedup();
        models
    }

    /// Refuses a model `tier` may not use, naming the ones it may.
    fn check_model(&self, tier: Tier, model: &str) -> Result<()> {
        let allowed = self.allowed_models(tier);
        if allowed.iter().any(|m| m == model) {
            return Ok(());
        }
        Err(Error::invalid(
            "model",
            format!(
                "`{model}` is not available on the {} tier; allowed: {}",
                tier.as_str(),
                allowed.join(", ")
            ),
        ))
    }

    /// Creates a session for the caller. A model must be one the caller's tier may use.
    pub async fn create_chat_session(
        &self,
        caller: &AuthContext,
        new: NewChatSession,
    ) -> Result<ChatSession> {
        let user = caller.user_id;
        let title = match new.title {
            Some(title) => check_title(&title)?,
            None => "New chat".to_owned(),
        };
        let mut session = ChatSession::new(user, title, self.clock.now());
        if let Some(model) = new.model {
            let model = model.trim();
            if model.is_empty() {
                return Err(Error::invalid("model", "must be 1 to 100 characters"));
            }
            crate::text::check("model", model, 100)?;
            self.check_model(caller.tier, model)?;
            session = session.with_model(model);
        }
        if let Some(prompt) = new.system_prompt {
            crate::text::check("systemPrompt", &prompt, MAX_SYSTEM_PROMPT_CHARS)?;
            session = session.with_system_prompt(prompt);
        }
        self.store.create_chat_session(&session).await?;
        forget(self.cache.as_ref(), &[keys::chat_sessions(user)]).await;
        // Written through: the first message to a new session reads no session row.
        let head = SessionHead::of(&session);
        let key = keys::chat_session_head(user, session.id);
        store_json(self.cache.as_ref(), &key, &head, self.settings.head_ttl).await;
        self.realtime
            .notify(user, kinds::SESSION_CREATED, payload::session(&session))
            .await;
        Ok(session)
    }

    /// The user's sessions, newest first. The first page is cached.
    pub async fn list_chat_sessions(
        &self,
        user: UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<ChatSession>> {
        let limit = check_limit(limit)?;
        let before = cursor.map(parse_cursor::<ChatSessionId>).transpose()?;
        let items = match before {
            Some(before) => {
                self.store
                    .list_chat_sessions(user, Some(before), limit)
                    .await?
            }
            None => {
                let store = self.store.clone();
                self.first_page(&keys::chat_sessions(user), limit, move || {
                    let store = store.clone();
                    Box::pin(async move { store.list_chat_sessions(user, None, MAX_PAGE).await })
                })
                .await?
            }
        };
        Ok(page(items, limit, |s| s.id.to_string()))
    }

    /// The user's session, or [`Error::NotFound`] (also for another user's session).
    pub async fn get_chat_session(&self, user: UserId, id: ChatSessionId) -> Result<ChatSession> {
        self.store
            .get_chat_session(user, id)
            .await?
            .ok_or(Error::NotFound("session"))
    }

    /// Renames the user's session.
    pub async fn rename_chat_session(
        &self,
        user: UserId,
        id: ChatSessionId,
        title: &str,
    ) -> Result<ChatSession> {
        let title = check_title(title)?;
        if !self
            .store
            .rename_chat_session(user, id, &title, self.clock.now())
            .await?
        {
            return Err(Error::NotFound("session"));
        }
        forget(self.cache.as_ref(), &[keys::chat_sessions(user)]).await;
        let session = self.get_chat_session(user, id).await?;
        self.realtime
            .notify(user, kinds::SESSION_UPDATED, payload::session(&session))
            .await;
        Ok(session)
    }

    /// Deletes the user's session and its messages (usage already metered stays).
    pub async fn delete_chat_session(&self, user: UserId, id: ChatSessionId) -> Result<()> {
        if !self.store.delete_chat_session(user, id).await? {
            return Err(Error::NotFound("session"));
        }
        let gone = [
            keys::chat_sessions(user),
            keys::messages(id),
            keys::chat_session_head(user, id),
        ];
        forget(self.cache.as_ref(), &gone).await;
        self.realtime
            .notify(
                user,
                kinds::SESSION_DELETED,
                serde_json::json!({ "id": id.to_string() }),
            )
            .await;
        Ok(())
    }

    /// A page of the session's messages, oldest first. The first page is cached.
    pub async fn list_messages(
        &self,
        user: UserId,
        session: ChatSessionId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Message>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(parse_cursor::<MessageId>).transpose()?;
        self.head(user, session).await?;
        let items = match after {
            Some(after) => {
                self.store
                    .list_messages(session, Some(after), limit)
                    .await?
            }
            None => {
                let store = self.store.clone();
                self.first_page(&keys::messages(session), limit, move || {
                    let store = store.clone();
                    Box::pin(async move { store.list_messages(session, None, MAX_PAGE).await })
                })
                .await?
            }
        };
        Ok(page(items, limit, |m| m.id.to_string()))
    }

    /// Sends `content` to the session: checks the caller's quota before calling the
    /// provider, stores the user message, and starts the reply. An upstream failure before
    /// the first token is returned here ([`Error::Upstream`], a 502), after the user message
    /// and a `failed` assistant message were stored.
    pub async fn send_message(
        &self,
        caller: &AuthContext,
        session: ChatSessionId,
        content: &str,
    ) -> Result<Sent> {
        self.send(caller, session, content, MessageSource::Text)
            .await
    }

    /// Resumes the caller's reply `message` in `session` after its delta `after`: the deltas
    /// its log still holds, then the live ones, then its end (at once for a reply that
    /// ended). [`Error::NotFound`] for anyone else's chat or a message that is not a reply.
    pub async fn resume_reply(
        &self,
        caller: &AuthContext,
        session: ChatSessionId,
        message: MessageId,
        after: u64,
    ) -> Result<futures::stream::BoxStream<'static, crate::realtime::Resumed>> {
        self.head(caller.user_id, session).await?;
        let stored = self
            .store
            .get_message(session, message)
            .await?
            .filter(|m| m.role == MessageRole::Assistant)
            .ok_or(Error::NotFound("message"))?;
        // A reply still partial past its deadline (and the grace its hold has) ended with an
        // instance that stopped: nothing more will come.
        let ends_by =
            stored.created_at + crate::clock::delta(self.settings.reply_timeout + HOLD_GRACE)?;
        let left = (ends_by - self.clock.now()).to_std().unwrap_or_default();
        let deadline = tokio::time::Instant::now() + left;
        self.realtime
            .resume_reply(caller, stored, after, deadline)
            .await
    }

    /// Whether `caller` may send a message now: the provider is configured, `session` is
    /// theirs, and their quota has a message and tokens left. A cheap check made before
    /// spending anything else on a send (the voice pipeline's transcription); the send
    /// itself still holds the budget atomically.
    pub(crate) async fn check_can_send(
        &self,
        caller: &AuthContext,
        session: ChatSessionId,
    ) -> Result<()> {
        self.model.as_ref().ok_or(Error::AiNotConfigured)?;
        let head = self.head(caller.user_id, session).await?;
        let model = head
            .model
            .as_deref()
            .unwrap_or(&self.settings.default_model);
        self.check_model(caller.tier, model)?;
        self.usage.check_messages_left(caller).await
    }

    /// [`Self::send_message`] for a message from `source`.
    pub(crate) async fn send(
        &self,
        caller: &AuthContext,
        session: ChatSessionId,
        content: &str,
        source: MessageSource,
    ) -> Result<Sent> {
        let content = crate::text::trim_blank(content);
        if content.is_empty() || content.chars().count() > MAX_MESSAGE_CHARS {
            return Err(Error::invalid(
                "content",
                format!("must be 1 to {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        crate::text::refuse_nul("content", content)?;
        let model = self.model.clone().ok_or(Error::AiNotConfigured)?;
        // The reads run together: the session (ownership; cached) and the context.
        let (head, recent) = tokio::try_join!(
            self.head(caller.user_id, session),
            self.store.recent_messages(session, CONTEXT_MESSAGES),
        )?;
        let user_message = Message {
            source,
            ..Message::new(
                session,
                MessageRole::User,
                content,
                MessageStatus::Complete,
                self.clock.now(),
            )
        };
        let assistant = Message::new(
            session,
            MessageRole::Assistant,
            "",
            MessageStatus::Partial,
            self.clock.now(),
        );
        let model_name = head
            .model
            .clone()
            .unwrap_or_else(|| self.settings.default_model.clone());
        // A session's model is checked again on every send: the tier may have changed.
        self.check_model(caller.tier, &model_name)?;
        let policy = self.settings.tiers.of(caller.tier);
        let mut request = context::request(
            head,
            recent,
            &user_message,
            &self.settings.default_model,
            self.settings.context_budget_tokens,
            self.settings.temperature,
        );
        request.max_tokens = Some(policy.max_output_tokens);
        let response_key = self
            .settings
            .response_ttl
            .and_then(|_| context::response_key(&request));
        let cached_reply = match &response_key {
            Some(key) => self.cache.get(key).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e.report(), "response cache unavailable");
                None
            }),
            None => None,
        };
        let from_cache = cached_reply.is_some();
        let deadline = self.clock.now() + crate::clock::delta(self.settings.reply_timeout)?;
        let prompt_estimate: u32 = request
            .turns
            .iter()
            .map(|t| estimate_tokens(&t.content))
            .sum();
        // The budget is held before the provider is called: atomically with the user's
        // other sends, so N at once with one message left give one reply.
        self.usage
            .reserve(
                caller.user_id,
                caller.tier,
                assistant.id,
                prompt_estimate.saturating_add(policy.max_output_tokens),
                policy.max_concurrent_replies,
                self.settings.reply_timeout + HOLD_GRACE,
            )
            .await?;
        // The provider is called while both messages are stored; the caller gets the reply
        // as soon as they are durable, before the provider answers. The reply ends the call
        // at the deadline, and dropping the reply aborts it (closing the upstream request).
        let call = AbortOnDrop(tokio::spawn(async move {
            match cached_reply {
                // A cached reply costs no tokens.
                Some(text) => Ok(futures::stream::iter([
                    Ok(ChatChunk::Delta(
                        String::from_utf8_lossy(&text).into_owned(),
                    )),
                    Ok(ChatChunk::Usage(TokenUsage::default())),
                ])
                .boxed()),
                None => {
                    let at = std::time::Instant::now();
                    let model_name = request.model.clone();
                    let started = model.stream(request).await;
                    super::observe::observe(started, model.name(), &model_name, at)
                }
            }
        }));
        let both = [user_message.clone(), assistant.clone()];
        if let Err(e) = self.store.add_messages(&both).await {
            if let Err(e) = self.usage.release(assistant.id).await {
                tracing::warn!(error = %e.report(), "could not release a reply's budget hold");
            }
            return Err(e);
        }
        forget(self.cache.as_ref(), &[keys::messages(session)]).await;
        for message in &both {
            self.realtime
                .notify(
                    caller.user_id,
                    kinds::MESSAGE_CREATED,
                    payload::message(message),
                )
                .await;
        }
        let tap = self
            .realtime
            .reply_tap(caller.user_id, session, assistant.id);
        let finisher = Finisher {
            service: self.clone(),
            user: caller.user_id,
            tap: tap.clone(),
            message: assistant.clone(),
            prompt_estimate,
            response_key: response_key.filter(|_| !from_cache),
        };
        let deadline = self.clock.sleep_until(deadline);
        let store = Box::new(move |outcome: Outcome| finisher.finish(outcome).boxed());
        Ok(Sent {
            user_message,
            reply: Reply::new(assistant, call, deadline, store).with_tap(tap),
        })
    }

    /// The first `limit` items of the first page cached under `key` (up to [`MAX_PAGE`]
    /// items, loaded by `fetch` on a miss).
    async fn first_page<T>(
        &self,
        key: &str,
        limit: u32,
        fetch: impl Fn() -> BoxFuture<'static, Result<Vec<T>>>,
    ) -> Result<Vec<T>>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
    {
        let mut items =
            cached_json(self.cache.as_ref(), key, self.settings.list_ttl, fetch).await?;
        items.truncate(limit as usize);
        Ok(items)
    }

    /// The user's session's [`SessionHead`], or [`Error::NotFound`] (also for another
    /// user's session).
    async fn head(&self, user: UserId, id: ChatSessionId) -> Result<SessionHead> {
        let store = self.store.clone();
        cached_json(
            self.cache.as_ref(),
            &keys::chat_session_head(user, id),
            self.settings.head_ttl,
            move || {
                let store = store.clone();
                Box::pin(async move {
                    let session = store.get_chat_session(user, id).await?;
                    Ok(SessionHead::of(&session.ok_or(Error::NotFound("session"))?))
                })
            },
        )
        .await
    }
}

/// Stores how a reply ended, exactly once.
struct Finisher {
    service: ChatService,
    user: UserId,
    /// The reply's realtime steps: its end goes there once stored.
    tap: tokio::sync::mpsc::UnboundedSender<ReplyStep>,
    message: Message,
    prompt_estimate: u32,
    /// Where to cache a complete reply (a deterministic request with the cache on).
    response_key: Option<String>,
}

impl Finisher {
    /// Stores the final text, status and usage (estimated when the provider sent none but
    /// text was produced), meters the exchange, and returns the stored message.
    async fn finish(self, outcome: Outcome) -> Message {
        let Outcome {
            text,
            status,
            usage,
        } = outcome;
        let usage = usage.or_else(|| {
            (!text.is_empty()).then(|| TokenUsage {
                prompt_tokens: self.prompt_estimate,
                completion_tokens: estimate_tokens(&text),
            })
        });
        let service = &self.service;
        if let Err(e) = service
            .store
            .finish_message(self.message.id, &text, status, usage)
            .await
        {
            tracing::error!(error = %e.report(), message = %self.message.id, "could not store a reply");
        }
        if let Err(e) = service
            .usage
            .settle(self.user, self.message.id, usage)
            .await
        {
            tracing::error!(error = %e.report(), "could not meter an exchange");
        }
        forget(
            service.cache.as_ref(),
            &[keys::messages(self.message.session_id)],
        )
        .await;
        let stored = Message {
            content: text.clone(),
            status,
            usage,
            ..self.message.clone()
        };
        // Marked in the reply's log and announced, after every delta.
        let _ = self.tap.send(ReplyStep::End(stored));
        if let (Some(key), MessageStatus::Complete, Some(ttl)) =
            (&self.response_key, status, service.settings.response_ttl)
            && let Err(e) = service.cache.set(key, text.clone().into_bytes(), ttl).await
        {
            tracing::warn!(error = %e.report(), "could not cache a reply");
        }
        Message {
            content: text,
            status,
            usage,
            ..self.message
        }
    }
}

fn check_title(title: &str) -> Result<String> {
    let title = title.trim();
    match title.chars().count() {
        0 => Err(Error::invalid("title", "must not be empty")),
        _ => crate::text::check("title", title, MAX_TITLE_CHARS).map(|()| title.to_owned()),
    }
}
