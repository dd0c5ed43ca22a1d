//! The streamed reply to a sent message: deltas as they arrive, then exactly one end
//! (`Done` or `Failed`), and how it ended stored exactly once — complete, partial, failed,
//! timed out, or cancelled when the reply is dropped before its end.

use super::{ChatChunk, ChatStream, Message, MessageStatus, TokenUsage};
use crate::error::Error;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// What the reply stream yields.
#[derive(Debug, Clone)]
pub enum ReplyEvent {
    /// More text, as it arrived.
    Delta(String),
    /// The reply ended; the stored assistant message (status complete).
    Done(Message),
    /// The reply failed; the stored assistant message (status partial when text had
    /// arrived, else failed; a reply past its deadline is failed) and the cause.
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

/// How a reply ended: the stored assistant message, or it and the failure.
pub type Ended = std::result::Result<Message, (Message, Error)>;

/// What a reply ended with, for the service to store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    /// All the text that arrived.
    pub(crate) text: String,
    /// How it ended.
    pub(crate) status: MessageStatus,
    /// What the provider reported it used, if it did.
    pub(crate) usage: Option<TokenUsage>,
}

/// Stores a reply's outcome and returns the stored message. Called exactly once.
pub(crate) type StoreOutcome = Box<dyn FnOnce(Outcome) -> BoxFuture<'static, Message> + Send>;

/// The provider call starting a reply (its stream, or its failure before the first
/// chunk), aborted — its upstream request closed — when dropped.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<crate::Result<ChatStream>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How the provider's side ended, before it is stored.
enum Ending {
    /// The provider finished.
    Done,
    /// The provider failed (before or after its first chunk, or its connection broke).
    Failed(Error),
    /// The reply's deadline passed.
    TimedOut,
}

/// The streamed reply. Yields deltas as they arrive, then one `Done` or `Failed`; a
/// provider that fails before its first token is a `Failed` too. The deadline covers the
/// whole reply, from the send to the last token, and is timed by the service's clock.
pub struct Reply {
    /// The assistant message as first stored (empty, partial).
    message: Message,
    starting: Option<AbortOnDrop>,
    upstream: Option<ChatStream>,
    deadline: BoxFuture<'static, ()>,
    text: String,
    usage: Option<TokenUsage>,
    store: Option<StoreOutcome>,
    ending: Option<BoxFuture<'static, Ended>>,
    ended: Option<Ended>,
    /// Where each delta is copied as it arrives (the user's other connections), if anywhere.
    tap: Option<tokio::sync::mpsc::UnboundedSender<crate::realtime::ReplyStep>>,
}

impl Reply {
    /// The reply to `message` produced by `call`, ended by `deadline`, its outcome kept by
    /// `store`.
    pub(crate) fn new(
        message: Message,
        call: AbortOnDrop,
        deadline: BoxFuture<'static, ()>,
        store: StoreOutcome,
    ) -> Self {
        Self {
            message,
            starting: Some(call),
            upstream: None,
            deadline,
            text: String::new(),
            usage: None,
            store: Some(store),
            ending: None,
            ended: None,
            tap: None,
        }
    }

    /// The same reply, copying each delta to `tap` as it arrives (until the reply ends).
    pub(crate) fn with_tap(
        mut self,
        tap: tokio::sync::mpsc::UnboundedSender<crate::realtime::ReplyStep>,
    ) -> Self {
        self.tap = Some(tap);
        self
    }

    /// Drains the reply: the stored assistant message, or the failure with it. On a reply
    /// already read to its end, the same end again.
    pub async fn collect(mut self) -> Ended {
        while self.next().await.is_some() {}
        match self.ended.take() {
            Some(ended) => ended,
            // Not reachable through this type's API: a stream ends only after its end was
            // stored. Answered, not panicked, should that ever change.
            None => Err((
                self.message.clone(),
                Error::internal("a reply ended without an outcome"),
            )),
        }
    }

    fn end(&mut self, ending: Ending) {
        let Some(store) = self.store.take() else {
            return;
        };
        self.starting = None;
        self.upstream = None; // Closes the upstream connection at once.
        self.tap = None;
        let text = std::mem::take(&mut self.text);
        let usage = self.usage.take();
        let (status, error) = match ending {
            Ending::Done => (MessageStatus::Complete, None),
            Ending::Failed(error) if text.is_empty() => (MessageStatus::Failed, Some(error)),
            Ending::Failed(error) => (MessageStatus::Partial, Some(error)),
            Ending::TimedOut => (MessageStatus::Failed, Some(timed_out())),
        };
        let stored = store(Outcome {
            text,
            status,
            usage,
        });
        self.ending = Some(Box::pin(async move {
            let message = stored.await;
            match error {
                None => Ok(message),
                Some(error) => Err((message, error)),
            }
        }));
    }
}

impl Stream for Reply {
    type Item = ReplyEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ReplyEvent>> {
        loop {
            if let Some(ending) = self.ending.as_mut() {
                let ended = ready!(ending.as_mut().poll(cx));
                self.ending = None;
                let event = match &ended {
                    Ok(message) => ReplyEvent::Done(message.clone()),
                    Err((message, error)) => ReplyEvent::Failed(message.clone(), error.clone()),
                };
                self.ended = Some(ended);
                return Poll::Ready(Some(event));
            }
            if let Some(starting) = self.starting.as_mut() {
                match starting.0.poll_unpin(cx) {
                    Poll::Ready(Ok(Ok(stream))) => {
                        self.starting = None;
                        self.upstream = Some(stream);
                    }
                    Poll::Ready(Ok(Err(error))) => self.end(Ending::Failed(error)),
                    Poll::Ready(Err(join)) => self.end(Ending::Failed(
                        Error::internal("the AI provider call ended abnormally").with_source(join),
                    )),
                    Poll::Pending => {
                        ready!(self.deadline.as_mut().poll(cx));
                        self.end(Ending::TimedOut);
                    }
                }
                continue;
            }
            let Some(upstream) = self.upstream.as_mut() else {
                return Poll::Ready(None);
            };
            match upstream.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(ChatChunk::Delta(text)))) => {
                    self.text.push_str(&text);
                    if let Some(tap) = &self.tap {
                        let _ = tap.send(crate::realtime::ReplyStep::Delta(text.clone()));
                    }
                    return Poll::Ready(Some(ReplyEvent::Delta(text)));
                }
                Poll::Ready(Some(Ok(ChatChunk::Usage(usage)))) => self.usage = Some(usage),
                Poll::Ready(Some(Err(error))) => self.end(Ending::Failed(error)),
                Poll::Ready(None) => self.end(Ending::Done),
                Poll::Pending => {
                    ready!(self.deadline.as_mut().poll(cx));
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
        if let Some(store) = self.store.take() {
            let outcome = Outcome {
                text: std::mem::take(&mut self.text),
                status: MessageStatus::Cancelled,
                usage: self.usage.take(),
            };
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(store(outcome));
            }
        }
    }
}

/// The failure of a reply past its deadline.
fn timed_out() -> Error {
    Error::upstream("the AI provider did not answer in time")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::MessageRole;
    use crate::clock::{Clock, ManualClock};
    use crate::error::ErrorKind;
    use crate::ids::ChatSessionId;
    use chrono::TimeDelta;
    use std::time::Duration;
    use tokio::sync::mpsc;

    /// A reply over `call`, with a deadline 30 s away on `clock`; the outcomes it stores
    /// arrive on the receiver.
    fn reply(
        clock: &ManualClock,
        call: impl Future<Output = crate::Result<ChatStream>> + Send + 'static,
    ) -> (Reply, mpsc::UnboundedReceiver<Outcome>) {
        let message = Message::new(
            ChatSessionId::new(),
            MessageRole::Assistant,
            "",
            MessageStatus::Partial,
            clock.now(),
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let stored = message.clone();
        let store: StoreOutcome = Box::new(move |outcome: Outcome| {
            let _ = tx.send(outcome.clone());
            Box::pin(async move {
                Message {
                    content: outcome.text,
                    status: outcome.status,
                    usage: outcome.usage,
                    ..stored
                }
            })
        });
        let deadline = clock.sleep_until(clock.now() + TimeDelta::seconds(30));
        let call = AbortOnDrop(tokio::spawn(call));
        (Reply::new(message, call, deadline, store), rx)
    }

    fn chunks(items: Vec<crate::Result<ChatChunk>>) -> crate::Result<ChatStream> {
        Ok(futures::stream::iter(items).boxed())
    }

    fn delta(text: &str) -> crate::Result<ChatChunk> {
        Ok(ChatChunk::Delta(text.to_owned()))
    }

    fn usage(prompt: u32, completion: u32) -> TokenUsage {
        TokenUsage {
            prompt_tokens: prompt,
            completion_tokens: completion,
        }
    }

    async fn events(reply: &mut Reply) -> Vec<ReplyEvent> {
        let mut seen = Vec::new();
        while let Some(event) = reply.next().await {
            seen.push(event);
        }
        seen
    }

    #[tokio::test]
    async fn a_finished_stream_is_done_complete_with_its_text_and_usage() {
        let clock = ManualClock::default();
        let stream = chunks(vec![
            delta("Hel"),
            delta("lo"),
            Ok(ChatChunk::Usage(usage(3, 2))),
        ]);
        let (mut reply, mut stored) = reply(&clock, async move { stream });
        let seen = events(&mut reply).await;
        assert!(
            matches!(&seen[..2], [ReplyEvent::Delta(a), ReplyEvent::Delta(b)] if a == "Hel" && b == "lo")
        );
        let [.., ReplyEvent::Done(message)] = &seen[..] else {
            panic!("no Done: {seen:?}")
        };
        assert_eq!(seen.len(), 3);
        assert_eq!(message.content, "Hello");
        assert_eq!(message.status, MessageStatus::Complete);
        assert_eq!(message.usage, Some(usage(3, 2)));
        assert_eq!(stored.recv().await.unwrap().status, MessageStatus::Complete);
        // Read to its end, the reply answers the same end again, once stored.
        assert_eq!(reply.collect().await.unwrap().content, "Hello");
        assert!(stored.try_recv().is_err(), "stored twice");
    }

    #[tokio::test]
    async fn a_failure_before_the_first_chunk_is_failed_with_its_cause() {
        let clock = ManualClock::default();
        let (reply, mut stored) = reply(&clock, async {
            Err(Error::upstream("the AI provider failed (500)"))
        });
        let (message, error) = reply.collect().await.unwrap_err();
        assert_eq!(message.status, MessageStatus::Failed);
        assert_eq!(message.content, "");
        assert_eq!(error.kind(), ErrorKind::Upstream);
        assert!(error.to_string().contains("500"));
        assert_eq!(stored.recv().await.unwrap().status, MessageStatus::Failed);
    }

    #[tokio::test]
    async fn a_stream_that_breaks_after_text_is_failed_and_keeps_the_text_as_partial() {
        let clock = ManualClock::default();
        let stream = chunks(vec![
            delta("half a "),
            Err(Error::upstream("the stream broke")),
        ]);
        let (reply, _stored) = reply(&clock, async move { stream });
        let (message, error) = reply.collect().await.unwrap_err();
        assert_eq!(message.status, MessageStatus::Partial);
        assert_eq!(message.content, "half a ");
        assert_eq!(error.kind(), ErrorKind::Upstream);
    }

    #[tokio::test]
    async fn a_stream_that_breaks_before_any_text_is_failed() {
        let clock = ManualClock::default();
        let stream = chunks(vec![Err(Error::upstream("the stream broke"))]);
        let (reply, _stored) = reply(&clock, async move { stream });
        let (message, _) = reply.collect().await.unwrap_err();
        assert_eq!(message.status, MessageStatus::Failed);
    }

    #[tokio::test]
    async fn a_provider_that_never_answers_fails_when_the_clock_passes_the_deadline() {
        let clock = ManualClock::default();
        let (mut reply, mut stored) = reply(&clock, std::future::pending());
        assert!(futures::poll!(reply.next()).is_pending());
        clock.advance(Duration::from_secs(29));
        assert!(
            futures::poll!(reply.next()).is_pending(),
            "ended before the deadline"
        );
        clock.advance(Duration::from_secs(1));
        let Some(ReplyEvent::Failed(message, error)) = reply.next().await else {
            panic!("the deadline did not end the reply");
        };
        assert_eq!(message.status, MessageStatus::Failed);
        assert!(error.to_string().contains("in time"), "{error}");
        assert_eq!(stored.recv().await.unwrap().status, MessageStatus::Failed);
        assert!(reply.next().await.is_none());
    }

    #[tokio::test]
    async fn a_stream_that_stalls_mid_reply_fails_at_the_deadline() {
        let clock = ManualClock::default();
        let stream: ChatStream = futures::stream::iter([delta("so far")])
            .chain(futures::stream::pending())
            .boxed();
        let (mut reply, _stored) = reply(&clock, async move { Ok(stream) });
        assert!(matches!(reply.next().await, Some(ReplyEvent::Delta(_))));
        clock.advance(Duration::from_secs(30));
        let (message, _) = reply.collect().await.unwrap_err();
        assert_eq!(message.status, MessageStatus::Failed);
        assert_eq!(message.content, "so far");
    }

    #[tokio::test]
    async fn a_reply_dropped_mid_stream_is_stored_as_cancelled_with_its_text() {
        let clock = ManualClock::default();
        let stream: ChatStream = futures::stream::iter([delta("partial ")])
            .chain(futures::stream::pending())
            .boxed();
        let (mut reply, mut stored) = reply(&clock, async move { Ok(stream) });
        assert!(matches!(reply.next().await, Some(ReplyEvent::Delta(_))));
        drop(reply);
        let outcome = stored.recv().await.unwrap();
        assert_eq!(outcome.status, MessageStatus::Cancelled);
        assert_eq!(outcome.text, "partial ");
    }

    #[tokio::test]
    async fn a_reply_dropped_while_the_call_starts_aborts_the_call() {
        let clock = ManualClock::default();
        let (held, released) = tokio::sync::oneshot::channel::<()>();
        let (reply, mut stored) = reply(&clock, async move {
            let _held = held; // Dropped only when the call is aborted.
            std::future::pending().await
        });
        drop(reply);
        assert_eq!(
            stored.recv().await.unwrap().status,
            MessageStatus::Cancelled
        );
        assert!(released.await.is_err(), "the call was not aborted");
    }

    #[tokio::test]
    async fn a_provider_call_that_panics_is_an_internal_failure_not_a_panic() {
        let clock = ManualClock::default();
        let (reply, _stored) = reply(&clock, async { panic!("provider bug") });
        let (message, error) = reply.collect().await.unwrap_err();
        assert_eq!(message.status, MessageStatus::Failed);
        assert_eq!(error.kind(), ErrorKind::Internal);
    }
}
