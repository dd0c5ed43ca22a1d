//! The chat service: sessions and messages for their owner, and sending a message — quota
//! check, context assembly, the streamed reply, and an assistant message whose status always
//! says how the reply ended (complete, partial, failed or cancelled).

use super::{
    ChatChunk, ChatModel, ChatRequest, ChatSession, ChatStream, ChatTurn, ConversationStore,
    Message, MessageRole, MessageStatus, TokenUsage,
};
use crate::ai::{estimate_tokens, fit_to_budget};
use crate::auth::AuthContext;
use crate::cache::{Cache, cached_json, store_json};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::{ChatSessionId, MessageId, UserId};
use crate::usage::UsageService;
use crate::users::Tier;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
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
/// The most items a page holds (and what the cache keeps of a first page).
pub const MAX_PAGE: u32 = 100;

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

/// A page of a list, and the cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What a new session may set.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    /// Title (default "New chat").
    pub title: Option<String>,
    /// Model (default: the configured one).
    pub model: Option<String>,
    /// System prompt.
    pub system_prompt: Option<String>,
}

/// What the reply stream yields.
#[derive(Debug, Clone)]
pub enum ReplyEvent {
    /// More text, as it arrived.
    Delta(String),
    /// The reply ended; the stored assistant message (status complete, or partial if the
    /// upstream stopped without finishing).
    Done(Message),
    /// The reply failed; the stored assistant message (partial text kept) and the cause.
    Failed(Message, Error),
}

/// A message sent: the stored user message and the reply as it streams. Dropping the reply
/// before it ends cancels the upstream request and stores the text so far as `cancelled`.
pub struct Sent {
    /// The stored user message.
    pub user_message: Message,
    /// The assistant's reply.
    pub reply: Reply,
}

/// What sending to a session needs of it, none of which changes after it is created: its
/// model and system prompt (the owner is in the cache key). Cached, so a send or a message
/// listing reads no session row.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SessionHead {
    model: Option<String>,
    system_prompt: Option<String>,
}

impl SessionHead {
    fn of(session: &ChatSession) -> Self {
        Self {
            model: session.model.clone(),
            system_prompt: session.system_prompt.clone(),
        }
    }
}

/// The chat service.
#[derive(Clone)]
pub struct ChatService {
    store: Arc<dyn ConversationStore>,
    usage: UsageService,
    model: Option<Arc<dyn ChatModel>>,
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
        clock: Arc<dyn Clock>,
        settings: ChatSettings,
    ) -> Self {
        Self {
            store,
            usage,
            model,
            cache,
            clock,
            settings,
        }
    }

    /// The provider's label, or `None` when no provider is configured.
    pub fn provider(&self) -> Option<&str> {
        self.model.as_deref().map(ChatModel::name)
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
    pub async fn create_session(
        &self,
        caller: &AuthContext,
        new: NewSession,
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
        self.store.create_session(&session).await?;
        self.forget_sessions(user).await;
        // Written through: the first message to a new session reads no session row.
        let head = SessionHead::of(&session);
        let key = head_key(user, session.id);
        store_json(self.cache.as_ref(), &key, &head, self.settings.head_ttl).await;
        Ok(session)
    }

    /// The user's sessions, newest first. The first page is cached.
    pub async fn list_sessions(
        &self,
        user: UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<ChatSession>> {
        let limit = check_limit(limit)?;
        let before = cursor.map(parse_cursor::<ChatSessionId>).transpose()?;
        let items = match before {
            Some(before) => self.store.list_sessions(user, Some(before), limit).await?,
            None => {
                let store = self.store.clone();
                self.first_page(&sessions_key(user), limit, move || {
                    let store = store.clone();
                    Box::pin(async move { store.list_sessions(user, None, MAX_PAGE).await })
                })
                .await?
            }
        };
        Ok(page(items, limit, |s| s.id.to_string()))
    }

    /// The user's session, or [`Error::NotFound`] (also for another user's session).
    pub async fn get_session(&self, user: UserId, id: ChatSessionId) -> Result<ChatSession> {
        self.store
            .get_session(user, id)
            .await?
            .ok_or(Error::NotFound("session"))
    }

    /// Renames the user's session.
    pub async fn rename_session(
        &self,
        user: UserId,
        id: ChatSessionId,
        title: &str,
    ) -> Result<ChatSession> {
        let title = check_title(title)?;
        if !self
            .store
            .rename_session(user, id, &title, self.clock.now())
            .await?
        {
            return Err(Error::NotFound("session"));
        }
        self.forget_sessions(user).await;
        self.get_session(user, id).await
    }

    /// Deletes the user's session and its messages (usage already metered stays).
    pub async fn delete_session(&self, user: UserId, id: ChatSessionId) -> Result<()> {
        if !self.store.delete_session(user, id).await? {
            return Err(Error::NotFound("session"));
        }
        let head = head_key(user, id);
        tokio::join!(
            self.forget_sessions(user),
            self.forget_messages(id),
            self.forget(&head),
        );
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
                self.first_page(&messages_key(session), limit, move || {
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
        let content = content.trim();
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
        let user_message = Message::new(
            session,
            MessageRole::User,
            content,
            MessageStatus::Complete,
            self.clock.now(),
        );
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
        let mut request = self.request(head, recent, &user_message);
        request.max_tokens = Some(policy.max_output_tokens);
        let response_key = self.response_key(&request);
        let cached_reply = match &response_key {
            Some(key) => self.cache.get(key).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "response cache unavailable");
                None
            }),
            None => None,
        };
        let from_cache = cached_reply.is_some();
        let deadline = tokio::time::Instant::now() + self.settings.reply_timeout;
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
        // as soon as they are durable, before the provider answers. The call ends by the
        // deadline, and dropping the reply aborts it (closing the upstream request).
        let call = tokio::spawn(async move {
            match cached_reply {
                // A cached reply costs no tokens.
                Some(text) => Ok(Ok(futures::stream::iter([
                    Ok(ChatChunk::Delta(
                        String::from_utf8_lossy(&text).into_owned(),
                    )),
                    Ok(ChatChunk::Usage(TokenUsage::default())),
                ])
                .boxed())),
                None => tokio::time::timeout_at(deadline, model.stream(request)).await,
            }
        });
        let call = AbortOnDrop(call);
        let both = [user_message.clone(), assistant.clone()];
        if let Err(e) = self.store.add_messages(&both).await {
            if let Err(e) = self.usage.release(assistant.id).await {
                tracing::warn!(error = %e, "could not release a reply's budget hold");
            }
            return Err(e);
        }
        self.forget_messages(session).await;
        let finisher = Finisher {
            service: self.clone(),
            user: caller.user_id,
            message: assistant,
            prompt_estimate,
            response_key: response_key.filter(|_| !from_cache),
        };
        Ok(Sent {
            user_message,
            reply: Reply {
                starting: Some(call),
                upstream: None,
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
                text: String::new(),
                usage: None,
                ending: None,
                finisher: Some(finisher),
            },
        })
    }

    /// The context: the system prompt, then the newest of `recent` messages and the new one
    /// that fit the token budget (the new one always), oldest first.
    fn request(&self, head: SessionHead, recent: Vec<Message>, new: &Message) -> ChatRequest {
        let system = head
            .system_prompt
            .filter(|p| !p.trim().is_empty())
            .map(|content| ChatTurn {
                role: None,
                content,
            });
        let history = recent
            .into_iter()
            .filter(|m| !m.content.is_empty())
            .map(|m| ChatTurn {
                role: Some(m.role),
                content: m.content,
            });
        let new = ChatTurn {
            role: Some(new.role),
            content: new.content.clone(),
        };
        let turns = system.into_iter().chain(history).chain([new]).collect();
        ChatRequest {
            model: head
                .model
                .unwrap_or_else(|| self.settings.default_model.clone()),
            turns: fit_to_budget(turns, self.settings.context_budget_tokens),
            temperature: self.settings.temperature,
            max_tokens: None,
        }
    }

    /// The response-cache key of `request` (`openai:{sha256}` over model, messages and
    /// parameters), when the cache is on and the request is deterministic.
    fn response_key(&self, request: &ChatRequest) -> Option<String> {
        self.settings.response_ttl?;
        if request.temperature != Some(0.0) {
            return None;
        }
        let turns: Vec<(Option<&str>, &str)> = request
            .turns
            .iter()
            .map(|t| (t.role.map(|r| r.as_str()), t.content.as_str()))
            .collect();
        let canonical = serde_json::json!({
            "model": request.model,
            "messages": turns,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        });
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.to_string().as_bytes());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Some(format!("openai:{hex}"))
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
            &head_key(user, id),
            self.settings.head_ttl,
            move || {
                let store = store.clone();
                Box::pin(async move {
                    let session = store.get_session(user, id).await?;
                    Ok(SessionHead::of(&session.ok_or(Error::NotFound("session"))?))
                })
            },
        )
        .await
    }

    async fn forget_sessions(&self, user: UserId) {
        self.forget(&sessions_key(user)).await;
    }

    async fn forget_messages(&self, session: ChatSessionId) {
        self.forget(&messages_key(session)).await;
    }

    async fn forget(&self, key: &str) {
        if let Err(e) = self.cache.delete(key).await {
            tracing::warn!(error = %e, key, "could not invalidate a cached list");
        }
    }
}

/// Stores how a reply ended, exactly once.
struct Finisher {
    service: ChatService,
    user: UserId,
    message: Message,
    prompt_estimate: u32,
    /// Where to cache a complete reply (a deterministic request with the cache on).
    response_key: Option<String>,
}

impl Finisher {
    /// Stores the final text, status and usage (estimated when the provider sent none but
    /// text was produced), meters the exchange, and returns the stored message.
    async fn finish(
        self,
        text: String,
        status: MessageStatus,
        usage: Option<TokenUsage>,
    ) -> Message {
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
            tracing::error!(error = %e, message = %self.message.id, "could not store a reply");
        }
        if let Err(e) = service
            .usage
            .settle(self.user, self.message.id, usage)
            .await
        {
            tracing::error!(error = %e, "could not meter an exchange");
        }
        service.forget_messages(self.message.session_id).await;
        if let (Some(key), MessageStatus::Complete, Some(ttl)) =
            (&self.response_key, status, service.settings.response_ttl)
            && let Err(e) = service.cache.set(key, text.clone().into_bytes(), ttl).await
        {
            tracing::warn!(error = %e, "could not cache a reply");
        }
        Message {
            content: text,
            status,
            usage,
            ..self.message
        }
    }
}

/// How a reply ended, before it is stored.
enum Ending {
    /// The provider finished.
    Done,
    /// The provider's stream failed (an upstream error, or a cut connection).
    Failed(Error),
    /// The reply's deadline passed.
    TimedOut,
}

/// The provider call of a reply, aborted (its upstream request closed) when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<StartResult>);

/// What starting the provider's stream gave: the stream, its failure, or the deadline.
type StartResult = std::result::Result<Result<ChatStream>, tokio::time::error::Elapsed>;

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The streamed reply. Yields deltas as they arrive, then one `Done` or `Failed`; a
/// provider that fails before its first token is a `Failed` too.
pub struct Reply {
    starting: Option<AbortOnDrop>,
    upstream: Option<ChatStream>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    text: String,
    usage: Option<TokenUsage>,
    ending: Option<Pin<Box<dyn std::future::Future<Output = ReplyEvent> + Send>>>,
    finisher: Option<Finisher>,
}

impl Reply {
    /// Drains the reply: the stored assistant message, or the failure with it.
    pub async fn collect(mut self) -> std::result::Result<Message, (Message, Error)> {
        while let Some(event) = self.next().await {
            match event {
                ReplyEvent::Delta(_) => {}
                ReplyEvent::Done(message) => return Ok(message),
                ReplyEvent::Failed(message, error) => return Err((message, error)),
            }
        }
        unreachable!("a reply always ends with Done or Failed")
    }

    fn end(&mut self, ending: Ending) {
        let Some(finisher) = self.finisher.take() else {
            return;
        };
        self.starting = None;
        self.upstream = None; // Closes the upstream connection at once.
        let text = std::mem::take(&mut self.text);
        let usage = self.usage.take();
        self.ending = Some(Box::pin(async move {
            match ending {
                Ending::Done => {
                    ReplyEvent::Done(finisher.finish(text, MessageStatus::Complete, usage).await)
                }
                Ending::Failed(error) => {
                    let status = if text.is_empty() {
                        MessageStatus::Failed
                    } else {
                        MessageStatus::Partial
                    };
                    ReplyEvent::Failed(finisher.finish(text, status, usage).await, error)
                }
                Ending::TimedOut => {
                    let message = finisher.finish(text, MessageStatus::Failed, usage).await;
                    ReplyEvent::Failed(message, timed_out())
                }
            }
        }));
    }
}

impl Stream for Reply {
    type Item = ReplyEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ReplyEvent>> {
        loop {
            if let Some(ending) = self.ending.as_mut() {
                let event = std::task::ready!(ending.as_mut().poll(cx));
                self.ending = None;
                return Poll::Ready(Some(event));
            }
            if let Some(starting) = self.starting.as_mut() {
                let started = std::task::ready!(starting.0.poll_unpin(cx));
                self.starting = None;
                match started {
                    Ok(Ok(Ok(stream))) => self.upstream = Some(stream),
                    Ok(Ok(Err(error))) => self.end(Ending::Failed(error)),
                    Ok(Err(_)) => self.end(Ending::TimedOut),
                    Err(join) => self.end(Ending::Failed(Error::internal(join))),
                }
                continue;
            }
            let Some(upstream) = self.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            match upstream.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(ChatChunk::Delta(text)))) => {
                    self.text.push_str(&text);
                    return Poll::Ready(Some(ReplyEvent::Delta(text)));
                }
                Poll::Ready(Some(Ok(ChatChunk::Usage(usage)))) => self.usage = Some(usage),
                Poll::Ready(Some(Err(error))) => self.end(Ending::Failed(error)),
                Poll::Ready(None) => self.end(Ending::Done),
                Poll::Pending => {
                    std::task::ready!(self.deadline.as_mut().poll(cx));
                    self.end(Ending::TimedOut);
                }
            }
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        // Dropped before it ended: the client went away. The provider call (or its stream)
        // is dropped with `self`, closing the upstream request; the text so far is stored
        // as cancelled.
        if let Some(finisher) = self.finisher.take() {
            let text = std::mem::take(&mut self.text);
            let usage = self.usage.take();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    finisher.finish(text, MessageStatus::Cancelled, usage).await;
                });
            }
        }
    }
}

fn timed_out() -> Error {
    Error::Upstream("the AI provider did not answer in time".into())
}

fn check_title(title: &str) -> Result<String> {
    let title = title.trim();
    match title.chars().count() {
        0 => Err(Error::invalid("title", "must not be empty")),
        _ => crate::text::check("title", title, MAX_TITLE_CHARS).map(|()| title.to_owned()),
    }
}

fn check_limit(limit: u32) -> Result<u32> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ))
    }
}

fn parse_cursor<T: CursorId>(cursor: &str) -> Result<T> {
    T::parse_cursor(cursor).map_err(|_| Error::invalid("cursor", "is not a cursor this API gave"))
}

/// Ids usable as cursors.
trait CursorId: Sized {
    fn parse_cursor(text: &str) -> Result<Self>;
}

impl CursorId for ChatSessionId {
    fn parse_cursor(text: &str) -> Result<Self> {
        ChatSessionId::parse(text)
    }
}

impl CursorId for MessageId {
    fn parse_cursor(text: &str) -> Result<Self> {
        MessageId::parse(text)
    }
}

/// A page of `items` (fetched with `limit`): the next cursor is the last item's id when the
/// page is full.
fn page<T>(items: Vec<T>, limit: u32, id: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = (items.len() == limit as usize)
        .then(|| items.last().map(id))
        .flatten();
    Page { items, next_cursor }
}

fn sessions_key(user: UserId) -> String {
    format!("chat_sessions:{user}")
}

fn messages_key(session: ChatSessionId) -> String {
    format!("messages:{session}")
}

fn head_key(user: UserId, session: ChatSessionId) -> String {
    format!("session_head:{user}:{session}")
}
