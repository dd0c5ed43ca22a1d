//! Replies that can be resumed: each delta of a reply is numbered in the reply's own log
//! (in-process, or Redis in scale-out, so another instance can replay it) before it is
//! carried to the connections subscribed to its chat, and the reply's end is marked there
//! too; a client that lost its connection reads what it missed, then follows live.

use super::feed::Outgoing;
use super::{RealtimeService, ReplyDelta, kinds, payload};
use crate::chat::{Message, MessageStatus};
use crate::error::Result;
use crate::ids::{ChatSessionId, MessageId, UserId};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;

/// Deltas kept per reply (a reply of 8,192 tokens has fewer).
const REPLY_LOG_KEEP: usize = 20_000;
/// How long a reply's log outlives its last step.
const REPLY_LOG_TTL: Duration = Duration::from_secs(600);

/// What a reply does next, as the chat service tells it.
#[derive(Debug)]
pub(crate) enum ReplyStep {
    /// More text.
    Delta(String),
    /// The reply is stored, ended.
    End(Message),
}

/// One entry of a reply's log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Entry {
    /// A delta's chat and text.
    Delta(ChatSessionId, String),
    /// The end: the event type (`chat.reply.done`, …) and the stored reply.
    End(String, serde_json::Value),
}

/// What a resumed reply yields: the deltas after the number asked for, then its end.
#[derive(Debug, Clone, PartialEq)]
pub enum Resumed {
    /// A delta, numbered in the reply.
    Delta(ReplyDelta),
    /// The reply ended: the event type and the stored reply (the REST message shape).
    End {
        /// `chat.reply.done`, `chat.reply.failed` or `chat.reply.cancelled`.
        kind: String,
        /// The stored reply.
        message: serde_json::Value,
    },
}

/// The event type announcing a reply that ended with `status`.
pub(super) fn end_kind(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Complete => kinds::REPLY_DONE,
        MessageStatus::Cancelled => kinds::REPLY_CANCELLED,
        MessageStatus::Partial | MessageStatus::Failed => kinds::REPLY_FAILED,
    }
}

/// The log of `user`'s reply `message` (in the user's Cluster slot).
pub(super) fn reply_key(user: UserId, message: MessageId) -> String {
    format!("reply:{{{user}}}:{message}")
}

impl RealtimeService {
    /// A channel for a reply's steps, sent on in order by a task that ends with the channel:
    /// each delta numbered in the reply's log and carried to the user's subscribed
    /// connections; the end marked in the log and announced as the user's event.
    pub(crate) fn reply_tap(
        &self,
        user: UserId,
        session: ChatSessionId,
        message: MessageId,
    ) -> mpsc::UnboundedSender<ReplyStep> {
        let (tx, mut rx) = mpsc::unbounded_channel::<ReplyStep>();
        let realtime = self.clone();
        tokio::spawn(async move {
            let key = reply_key(user, message);
            // Numbers from the log; counted here when the log is unavailable (the deltas
            // still go out live; only resuming them is lost).
            let mut counted = 0;
            while let Some(step) = rx.recv().await {
                match step {
                    ReplyStep::Delta(text) => {
                        let entry = Entry::Delta(session, text.clone());
                        counted = realtime
                            .log_reply(&key, &entry)
                            .await
                            .unwrap_or(counted + 1);
                        let delta = ReplyDelta {
                            session_id: session,
                            message_id: message,
                            seq: counted,
                            text,
                        };
                        realtime.delta(user, delta).await;
                    }
                    ReplyStep::End(stored) => {
                        let kind = end_kind(stored.status);
                        let data = payload::message(&stored);
                        let entry = Entry::End(kind.to_owned(), data.clone());
                        let _ = realtime.log_reply(&key, &entry).await;
                        realtime.notify(user, kind, data).await;
                    }
                }
            }
        });
        tx
    }

    async fn log_reply(&self, key: &str, entry: &Entry) -> Option<u64> {
        let payload = serde_json::to_vec(entry).ok()?;
        match self
            .log()
            .append(key, payload, REPLY_LOG_KEEP, REPLY_LOG_TTL)
            .await
        {
            Ok(seq) => Some(seq),
            Err(e) => {
                tracing::warn!(error = %e.report(), "could not log a reply step");
                None
            }
        }
    }

    /// The reply `stored` of `user` from delta `after` on: what its log holds, then what
    /// comes live, then its end. A reply that ended (or whose log is gone and whose deadline
    /// passed) ends at once with the stored message. The caller has checked ownership.
    pub(crate) async fn resume_reply(
        &self,
        caller: &crate::AuthContext,
        stored: Message,
        after: u64,
        deadline: tokio::time::Instant,
    ) -> Result<BoxStream<'static, Resumed>> {
        let (user, session, message) = (caller.user_id, stored.session_id, stored.id);
        // Live first, so nothing falls between what the log holds and what comes next.
        let mut feed = self.connect(caller, None).await?;
        feed.subscribe(session);
        let mut live = Live {
            feed,
            log: self.log().clone(),
            key: reply_key(user, message),
            queue: VecDeque::new(),
            last: after,
            message,
            ended: false,
            deadline,
            stored,
        };
        live.catch_up().await;
        let finished = live.stored.status != MessageStatus::Partial;
        if !live.ended && (finished || tokio::time::Instant::now() >= deadline) {
            live.queue.push_back(Resumed::End {
                kind: end_kind(live.stored.status).to_owned(),
                message: payload::message(&live.stored),
            });
            live.ended = true;
        }
        Ok(futures::stream::unfold(live, Live::step).boxed())
    }
}

/// A resumed reply following the live stream.
struct Live {
    feed: super::Feed,
    log: std::sync::Arc<dyn super::EventLog>,
    key: String,
    queue: VecDeque<Resumed>,
    /// The last delta handed out.
    last: u64,
    message: MessageId,
    /// Whether the end is queued (nothing follows it).
    ended: bool,
    deadline: tokio::time::Instant,
    /// The reply as read at the start (its end, should the live stream say nothing more).
    stored: Message,
}

impl Live {
    async fn step(mut self) -> Option<(Resumed, Self)> {
        loop {
            if let Some(next) = self.queue.pop_front() {
                return Some((next, self));
            }
            if self.ended {
                return None;
            }
            let out = tokio::select! {
                out = self.feed.next() => out,
                () = tokio::time::sleep_until(self.deadline) => None,
            };
            match out {
                Some(Outgoing::Delta(delta))
                    if delta.message_id == self.message && delta.seq > self.last =>
                {
                    self.last = delta.seq;
                    self.queue.push_back(Resumed::Delta((*delta).clone()));
                }
                Some(Outgoing::Event(event)) if is_end_of(&event, self.message) => {
                    self.queue.push_back(Resumed::End {
                        kind: event.kind.clone(),
                        message: event.data.clone(),
                    });
                    self.ended = true;
                }
                Some(
                    Outgoing::Delta(_)
                    | Outgoing::Event(_)
                    | Outgoing::Recheck
                    | Outgoing::ReplyEnd { .. },
                ) => {}
                // Events may have been lost on the way: the reply's log has its deltas.
                Some(Outgoing::Resync) => self.catch_up().await,
                // The live stream is gone or past the deadline: end with what was stored.
                Some(Outgoing::Close(_)) | None => {
                    self.queue.push_back(Resumed::End {
                        kind: end_kind(self.stored.status).to_owned(),
                        message: payload::message(&self.stored),
                    });
                    self.ended = true;
                }
            }
        }
    }
}

impl Live {
    /// Queues what the reply's log holds after the last delta handed out.
    async fn catch_up(&mut self) {
        let Ok(replay) = self.log.read_after(&self.key, self.last).await else {
            return;
        };
        for (seq, payload) in replay.entries {
            match serde_json::from_slice::<Entry>(&payload) {
                Ok(Entry::Delta(session, text)) => {
                    self.last = seq;
                    self.queue.push_back(Resumed::Delta(ReplyDelta {
                        session_id: session,
                        message_id: self.message,
                        seq,
                        text,
                    }));
                }
                Ok(Entry::End(kind, message)) => {
                    self.queue.push_back(Resumed::End { kind, message });
                    self.ended = true;
                }
                Err(e) => tracing::warn!(error = %e, "skipped a malformed reply step"),
            }
        }
    }
}

/// Whether `event` announces the end of reply `message`.
fn is_end_of(event: &super::UserEvent, message: MessageId) -> bool {
    matches!(
        event.kind.as_str(),
        kinds::REPLY_DONE | kinds::REPLY_FAILED | kinds::REPLY_CANCELLED
    ) && event.data.get("id").and_then(|v| v.as_str()) == Some(message.to_string().as_str())
}
