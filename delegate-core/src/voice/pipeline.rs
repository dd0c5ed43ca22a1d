//! The voice-to-voice pipeline: the reply streams as text, and each sentence is spoken as
//! soon as it is complete — a few syntheses at once, their audio handed out in order — so the
//! first audio arrives after the first sentence, however long the reply.

use super::model::{SpeechFormat, SpeechModel, SpeechRequest};
use super::sentences::SentenceSplitter;
use super::service::{Heard, measure_spoken};
use crate::chat::{Message, Reply, ReplyEvent};
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::usage::UsageService;
use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::stream::{BoxStream, FuturesOrdered};
use futures::{FutureExt, Stream, StreamExt};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// The audio format of a conversation's spoken reply.
pub const REPLY_FORMAT: SpeechFormat = SpeechFormat::Mp3;

/// A voice turn under way: what was heard, the stored user message, and the reply's events.
pub struct Conversation {
    /// The transcription of the user's speech.
    pub heard: Heard,
    /// The stored user message (source voice).
    pub user_message: Message,
    /// The reply as it streams and is spoken; dropping it cancels the reply (stored as
    /// cancelled) and every synthesis under way.
    pub events: Pipeline,
}

/// What a conversation's reply yields, in order: deltas and sentence audio interleaved as
/// they come, then exactly one `Done` or `Failed`.
#[derive(Debug, Clone)]
pub enum VoiceEvent {
    /// More reply text.
    Delta(String),
    /// One sentence's audio (sentences in order, `seq` from 0).
    Audio {
        /// The sentence's place in the reply.
        seq: u32,
        /// The sentence spoken.
        text: String,
        /// The audio's format.
        format: SpeechFormat,
        /// The audio.
        audio: Bytes,
    },
    /// The reply is stored and every sentence was spoken.
    Done {
        /// The stored reply.
        reply: Message,
        /// Seconds of speech produced (what was metered).
        seconds_out: f64,
    },
    /// The reply failed (it is stored as partial or failed), or speaking it did (the reply
    /// is stored whole; the audio stopped at the failed sentence).
    Failed {
        /// The stored reply.
        reply: Message,
        /// What failed.
        error: Error,
    },
}

/// One sentence's synthesis: its audio, wholly read, and how long it plays.
type Spoken = BoxFuture<'static, Result<(String, Bytes, Duration)>>;

/// The conversation's reply as a stream of [`VoiceEvent`]s (see [`Conversation::events`]).
pub struct Pipeline {
    inner: BoxStream<'static, VoiceEvent>,
}

impl Pipeline {
    pub(crate) fn new(
        reply: Reply,
        model: Arc<dyn SpeechModel>,
        voice: String,
        parallel: usize,
        usage: UsageService,
        user: UserId,
    ) -> Self {
        let state = State {
            reply: Some(reply),
            ended: None,
            splitter: SentenceSplitter::default(),
            backlog: VecDeque::new(),
            running: FuturesOrdered::new(),
            parallel: parallel.max(1),
            next_seq: 0,
            speech_error: None,
            out: VecDeque::new(),
            model,
            voice,
            spoken: Meter {
                total: Duration::ZERO,
                usage: Some((usage, user)),
            },
            finished: false,
        };
        let inner = futures::stream::unfold(state, |mut state| async move {
            let event = state.next_event().await?;
            Some((event, state))
        })
        .boxed();
        Self { inner }
    }
}

impl Stream for Pipeline {
    type Item = VoiceEvent;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<VoiceEvent>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// Speech produced so far, metered once: at the end, or when the pipeline is dropped.
struct Meter {
    total: Duration,
    usage: Option<(UsageService, UserId)>,
}

impl Meter {
    /// Meters the total now (before `Done` is handed out, so usage read after it counts it),
    /// in a task of its own, so a client leaving meanwhile cannot cancel it.
    async fn settle(&mut self) {
        let Some((usage, user)) = self.usage.take() else {
            return;
        };
        if self.total.is_zero() {
            return;
        }
        let total = self.total;
        let metering = tokio::spawn(async move {
            if let Err(e) = usage.meter_voice(user, Duration::ZERO, total).await {
                tracing::error!(error = %e.report(), "could not meter synthesized seconds");
            }
        });
        let _ = metering.await;
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        // Dropped before the end (the client went away): meter what was produced.
        if let Some((usage, user)) = self.usage.take()
            && !self.total.is_zero()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let total = self.total;
            runtime.spawn(async move {
                if let Err(e) = usage.meter_voice(user, Duration::ZERO, total).await {
                    tracing::error!(error = %e.report(), "could not meter synthesized seconds");
                }
            });
        }
    }
}

struct State {
    /// The reply, until it ends.
    reply: Option<Reply>,
    /// How it ended.
    ended: Option<std::result::Result<Message, (Message, Error)>>,
    splitter: SentenceSplitter,
    /// Complete sentences not yet sent to the provider.
    backlog: VecDeque<String>,
    /// Syntheses under way, in sentence order.
    running: FuturesOrdered<Spoken>,
    parallel: usize,
    next_seq: u32,
    /// Why speaking stopped, if it did.
    speech_error: Option<Error>,
    /// Events ready to hand out.
    out: VecDeque<VoiceEvent>,
    model: Arc<dyn SpeechModel>,
    voice: String,
    spoken: Meter,
    finished: bool,
}

impl State {
    async fn next_event(&mut self) -> Option<VoiceEvent> {
        loop {
            if let Some(event) = self.out.pop_front() {
                return Some(event);
            }
            if self.finished {
                return None;
            }
            self.start_syntheses();
            if self.reply.is_none() && self.running.is_empty() && self.backlog.is_empty() {
                // Every sentence spoken (or speaking failed): the last event.
                self.finish().await;
                continue;
            }
            tokio::select! {
                event = next_reply(&mut self.reply) => self.on_reply(event),
                spoken = next_spoken(&mut self.running) => self.on_spoken(spoken),
            }
        }
    }

    /// Starts backlog sentences while fewer than `parallel` run (and speaking has not failed).
    fn start_syntheses(&mut self) {
        while self.speech_error.is_none() && self.running.len() < self.parallel {
            let Some(sentence) = self.backlog.pop_front() else {
                return;
            };
            self.running
                .push_back(speak(self.model.clone(), self.voice.clone(), sentence));
        }
    }

    fn on_reply(&mut self, event: Option<ReplyEvent>) {
        match event {
            Some(ReplyEvent::Delta(text)) => {
                let sentences = self.splitter.push(&text);
                if self.speech_error.is_none() {
                    self.backlog.extend(sentences);
                }
                self.out.push_back(VoiceEvent::Delta(text));
            }
            Some(ReplyEvent::Done(message)) => {
                self.reply = None;
                let last = self.splitter.finish();
                if self.speech_error.is_none() {
                    self.backlog.extend(last);
                }
                self.ended = Some(Ok(message));
            }
            Some(ReplyEvent::Failed(message, error)) => {
                // Nothing more is spoken of a reply that failed.
                self.reply = None;
                self.backlog.clear();
                self.running = FuturesOrdered::new();
                self.ended = Some(Err((message, error)));
            }
            None => self.reply = None,
        }
    }

    fn on_spoken(&mut self, spoken: Result<(String, Bytes, Duration)>) {
        match spoken {
            Ok((text, audio, duration)) => {
                self.spoken.total += duration;
                self.out.push_back(VoiceEvent::Audio {
                    seq: self.next_seq,
                    text,
                    format: REPLY_FORMAT,
                    audio,
                });
                self.next_seq += 1;
            }
            Err(error) => {
                // Speaking stops; the reply still streams to its end and is stored.
                self.speech_error = Some(error);
                self.backlog.clear();
                self.running = FuturesOrdered::new();
            }
        }
    }

    /// The last event: the reply's end, with speech's failure if it failed.
    async fn finish(&mut self) {
        self.finished = true;
        self.spoken.settle().await;
        let event = match (self.ended.take(), self.speech_error.take()) {
            (Some(Err((reply, error))), _) => VoiceEvent::Failed { reply, error },
            (Some(Ok(reply)), Some(error)) => VoiceEvent::Failed { reply, error },
            (Some(Ok(reply)), None) => VoiceEvent::Done {
                reply,
                seconds_out: self.spoken.total.as_secs_f64(),
            },
            // Not reachable: a reply stream always ends with Done or Failed.
            (None, _) => return,
        };
        self.out.push_back(event);
    }
}

/// The reply's next event; never, once it ended.
async fn next_reply(reply: &mut Option<Reply>) -> Option<ReplyEvent> {
    match reply {
        Some(reply) => reply.next().await,
        None => std::future::pending().await,
    }
}

/// The next sentence spoken, in order; never, while none is running.
async fn next_spoken(running: &mut FuturesOrdered<Spoken>) -> Result<(String, Bytes, Duration)> {
    match running.next().await {
        Some(spoken) => spoken,
        None => std::future::pending().await,
    }
}

/// Speaks one sentence: the whole audio, and how long it plays.
fn speak(model: Arc<dyn SpeechModel>, voice: String, text: String) -> Spoken {
    async move {
        let mut audio = model
            .synthesize(SpeechRequest {
                text: text.clone(),
                voice,
                format: REPLY_FORMAT,
                speed: None,
            })
            .await?;
        let mut kept = BytesMut::new();
        while let Some(chunk) = audio.next().await {
            kept.extend_from_slice(&chunk?);
        }
        let kept = kept.freeze();
        let duration = measure_spoken(REPLY_FORMAT, Some(kept.clone()), text.chars().count()).await;
        Ok((text, kept, duration))
    }
    .boxed()
}
