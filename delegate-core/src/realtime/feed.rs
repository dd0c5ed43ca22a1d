//! One connection's view of its user's stream: a catch-up from the log, then live events each
//! once and in order (gaps filled from the log, or `resync`), the reply deltas of the chats it
//! subscribed to, and the reasons it must close.

use super::reply::{Entry, reply_key};
use super::{EventLog, ReplyDelta, UserEvent};
use crate::ids::{ChatSessionId, LoginSessionId, MessageId, UserId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// The most chats one connection may subscribe to at once.
pub const MAX_SUBSCRIPTIONS: usize = 100;

/// What the hub hands a user's connections on this instance.
#[derive(Debug, Clone)]
pub(crate) enum Signal {
    /// An event of the user's stream.
    Event(Arc<UserEvent>),
    /// A reply delta.
    Delta(Arc<ReplyDelta>),
    /// The bus may have lost events: check the log.
    Gap,
    /// These login sessions were revoked.
    Revoked(Arc<[LoginSessionId]>),
    /// Revocations may have been lost: the transport re-checks its credentials.
    Recheck,
}

/// Why a connection must close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Its login session was revoked.
    Revoked,
    /// It could not keep up: more than the queue's worth of events waited for it.
    TooSlow,
}

/// What a connection sends next.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// An event of the user's stream.
    Event(Arc<UserEvent>),
    /// Events may have been missed (the log no longer holds them): the client refetches.
    Resync,
    /// A delta of a reply in a subscribed chat (or a resumed reply).
    Delta(Arc<ReplyDelta>),
    /// A resumed reply had ended: the event type (`chat.reply.done`, …) and the stored
    /// reply (not numbered: the user's stream has it numbered already).
    ReplyEnd {
        /// The event type.
        kind: String,
        /// The stored reply.
        message: serde_json::Value,
    },
    /// Revocations may have been missed: the transport checks the credentials again.
    Recheck,
    /// The connection must close; nothing follows.
    Close(CloseReason),
}

/// A connection's feed (see [`super::RealtimeService::connect`]). Dropping it disconnects.
pub struct Feed {
    log: Arc<dyn EventLog>,
    key: String,
    user: UserId,
    /// Resumed replies: the last delta handed out of each.
    followed: HashMap<MessageId, u64>,
    session: LoginSessionId,
    rx: broadcast::Receiver<Signal>,
    /// The number of the last event handed out; `None` until known (the log was down).
    last: Option<u64>,
    pending: VecDeque<Outgoing>,
    /// A signal being handled, kept until done, so a cancelled [`Feed::next`] resumes it.
    inflight: Option<Signal>,
    subscribed: HashSet<ChatSessionId>,
    closed: bool,
}

impl Feed {
    pub(crate) async fn open(
        log: Arc<dyn EventLog>,
        user: UserId,
        session: LoginSessionId,
        rx: broadcast::Receiver<Signal>,
        since: Option<u64>,
    ) -> crate::Result<Self> {
        let mut feed = Self {
            log,
            key: super::hub::log_key(user),
            user,
            followed: HashMap::new(),
            session,
            rx,
            last: None,
            pending: VecDeque::new(),
            inflight: None,
            subscribed: HashSet::new(),
            closed: false,
        };
        match since {
            Some(since) => feed.catch_up(since).await,
            // Only what comes next: the log's head is where this connection starts.
            None => match feed.log.read_after(&feed.key, u64::MAX).await {
                Ok(replay) => feed.last = Some(replay.head),
                Err(e) => tracing::warn!(error = %e.report(), "realtime log unavailable"),
            },
        }
        Ok(feed)
    }

    /// The number of the last event handed out, if known.
    pub fn last_seq(&self) -> Option<u64> {
        self.last
    }

    /// Receives the reply deltas of `chat` from now on (at most [`MAX_SUBSCRIPTIONS`] chats;
    /// false past that). Only the user's own chats ever carry deltas to this feed.
    pub fn subscribe(&mut self, chat: ChatSessionId) -> bool {
        if self.subscribed.len() >= MAX_SUBSCRIPTIONS && !self.subscribed.contains(&chat) {
            return false;
        }
        self.subscribed.insert(chat);
        true
    }

    /// Resumes the user's reply `message` after its delta `after`: queues what its log
    /// holds (and its end, if it ended), then lets its live deltas through once each. A
    /// reply unknown to the log (another user's, or long gone) queues nothing.
    pub async fn resume(&mut self, message: MessageId, after: u64) {
        let key = reply_key(self.user, message);
        let replay = match self.log.read_after(&key, after).await {
            Ok(replay) => replay,
            Err(e) => {
                tracing::warn!(error = %e.report(), "reply log unavailable");
                return;
            }
        };
        let mut last = after;
        for (seq, payload) in replay.entries {
            match serde_json::from_slice::<Entry>(&payload) {
                Ok(Entry::Delta(session, text)) => {
                    last = seq;
                    self.pending.push_back(Outgoing::Delta(Arc::new(ReplyDelta {
                        session_id: session,
                        message_id: message,
                        seq,
                        text,
                    })));
                }
                Ok(Entry::End(kind, stored)) => {
                    self.pending.push_back(Outgoing::ReplyEnd {
                        kind,
                        message: stored,
                    });
                }
                Err(e) => tracing::warn!(error = %e, "skipped a malformed reply step"),
            }
        }
        if self.followed.len() < MAX_SUBSCRIPTIONS {
            self.followed.insert(message, last);
        }
    }

    /// Stops the reply deltas of `chat`.
    pub fn unsubscribe(&mut self, chat: ChatSessionId) {
        self.subscribed.remove(&chat);
    }

    /// The next thing to send; `None` once closed. Cancel-safe: a call dropped mid-way loses
    /// nothing.
    pub async fn next(&mut self) -> Option<Outgoing> {
        loop {
            if let Some(out) = self.pending.pop_front() {
                if matches!(out, Outgoing::Close(_)) {
                    self.closed = true;
                    self.pending.clear();
                }
                return Some(out);
            }
            if self.closed {
                return None;
            }
            let signal = match self.inflight.take() {
                Some(signal) => signal,
                None => match self.rx.recv().await {
                    Ok(signal) => signal,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.pending
                            .push_back(Outgoing::Close(CloseReason::TooSlow));
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            };
            self.inflight = Some(signal.clone());
            self.handle(signal).await;
            self.inflight = None;
        }
    }

    async fn handle(&mut self, signal: Signal) {
        match signal {
            Signal::Event(event) => self.on_event(event).await,
            Signal::Delta(delta) => {
                let wanted = match self.followed.get_mut(&delta.message_id) {
                    // A resumed reply: each delta once, after what was replayed.
                    Some(last) if delta.seq <= *last => false,
                    Some(last) => {
                        *last = delta.seq;
                        true
                    }
                    None => self.subscribed.contains(&delta.session_id),
                };
                if wanted {
                    self.pending.push_back(Outgoing::Delta(delta));
                }
            }
            Signal::Gap => {
                if let Some(last) = self.last {
                    self.catch_up(last).await;
                }
            }
            Signal::Revoked(ids) => {
                if ids.contains(&self.session) {
                    self.pending
                        .push_back(Outgoing::Close(CloseReason::Revoked));
                }
            }
            Signal::Recheck => self.pending.push_back(Outgoing::Recheck),
        }
    }

    async fn on_event(&mut self, event: Arc<UserEvent>) {
        let Some(last) = self.last else {
            // The start was unknown: this event is where the feed begins.
            self.last = Some(event.seq);
            self.pending.push_back(Outgoing::Event(event));
            return;
        };
        if event.seq <= last {
            return; // Already handed out (a replay raced the live copy).
        }
        if event.seq > last + 1 {
            // Something before it is missing here (lost, or carried out of order): the log
            // has it, this event included.
            self.catch_up(last).await;
            if self.last.is_some_and(|now| now >= event.seq) {
                return;
            }
        }
        self.last = Some(event.seq);
        self.pending.push_back(Outgoing::Event(event));
    }

    /// Queues the log's events after `after`, or `resync` when it no longer holds them all.
    async fn catch_up(&mut self, after: u64) {
        match self.log.read_after(&self.key, after).await {
            Ok(replay) if replay.complete => {
                for (seq, payload) in replay.entries {
                    match serde_json::from_slice::<(String, serde_json::Value)>(&payload) {
                        Ok((kind, data)) => {
                            self.pending.push_back(Outgoing::Event(Arc::new(UserEvent {
                                seq,
                                kind,
                                data,
                            })));
                        }
                        Err(e) => tracing::warn!(error = %e, "skipped a malformed logged event"),
                    }
                    self.last = Some(seq);
                }
                self.last = Some(self.last.unwrap_or(after).max(after));
            }
            Ok(replay) => {
                self.pending.push_back(Outgoing::Resync);
                self.last = Some(replay.head);
            }
            Err(e) => {
                tracing::warn!(error = %e.report(), "realtime log unavailable; resync");
                self.pending.push_back(Outgoing::Resync);
                // Where the stream stands is unknown now (the log may have restarted empty):
                // the next live event is where it goes on.
                self.last = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::error::{Error, Result};
    use crate::realtime::log::MemoryEventLog;
    use crate::realtime::{EventLog, Replay};
    use async_trait::async_trait;
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);

    fn event(seq: u64) -> Signal {
        Signal::Event(Arc::new(UserEvent {
            seq,
            kind: "app.test".into(),
            data: serde_json::json!({ "n": seq }),
        }))
    }

    async fn logged(log: &Arc<dyn EventLog>, user: UserId, n: u64) {
        let key = crate::realtime::hub::log_key(user);
        for i in 1..=n {
            let payload = serde_json::to_vec(&("app.test", serde_json::json!({ "n": i }))).unwrap();
            log.append(&key, payload, 100, HOUR).await.unwrap();
        }
    }

    async fn feed(
        log: Arc<dyn EventLog>,
        user: UserId,
        since: Option<u64>,
    ) -> (Feed, broadcast::Sender<Signal>) {
        let (tx, rx) = broadcast::channel(16);
        let feed = Feed::open(log, user, LoginSessionId::new(), rx, since)
            .await
            .unwrap();
        (feed, tx)
    }

    fn seq(out: Option<Outgoing>) -> u64 {
        match out {
            Some(Outgoing::Event(e)) => e.seq,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_gap_in_the_live_numbers_is_filled_from_the_log_once_each() {
        let log: Arc<dyn EventLog> =
            Arc::new(MemoryEventLog::new(Arc::new(ManualClock::default())));
        let user = UserId::new();
        logged(&log, user, 2).await;
        let (mut feed, tx) = feed(log.clone(), user, None).await;
        logged(&log, user, 3).await; // 3, 4, 5 in the log
        // 5 arrives first (3 and 4 lost or late), then 4 and 3 late: each once, in order.
        for n in [5, 4, 3] {
            tx.send(event(n)).unwrap();
        }
        tx.send(event(6)).unwrap();
        assert_eq!(
            [feed.next().await, feed.next().await, feed.next().await].map(seq),
            [3, 4, 5]
        );
        assert_eq!(seq(feed.next().await), 6, "duplicates were skipped");
    }

    /// A log that fails every read.
    struct Down;

    #[async_trait]
    impl EventLog for Down {
        async fn append(&self, _: &str, _: Vec<u8>, _: usize, _: Duration) -> Result<u64> {
            Err(Error::unavailable("redis", Duration::from_secs(1)))
        }
        async fn read_after(&self, _: &str, _: u64) -> Result<Replay> {
            Err(Error::unavailable("redis", Duration::from_secs(1)))
        }
    }

    #[tokio::test]
    async fn an_unreadable_log_means_resync_and_the_next_event_starts_over() {
        let (mut feed, tx) = feed(Arc::new(Down), UserId::new(), Some(7)).await;
        assert_eq!(feed.next().await, Some(Outgoing::Resync));
        // Numbering restarted (Redis came back empty): event 1 is new, not a duplicate.
        tx.send(event(1)).unwrap();
        assert_eq!(seq(feed.next().await), 1);
        tx.send(Signal::Revoked(Arc::from(vec![LoginSessionId::new()])))
            .unwrap();
        tx.send(event(2)).unwrap();
        assert_eq!(
            seq(feed.next().await),
            2,
            "another session's revocation is not ours"
        );
    }
}
