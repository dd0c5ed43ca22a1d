//! The voice service: speech to text, text to speech and the voice-to-voice conversation,
//! each checked (audio, limits, quota) before the provider is called and metered in seconds
//! of real audio.

use super::model::{
    AudioStream, SpeechFormat, SpeechModel, SpeechRequest, TranscribeRequest, check_speed,
};
use super::pipeline::{Conversation, Pipeline};
use super::{AudioClip, AudioFormat};
use crate::auth::AuthContext;
use crate::chat::{ChatService, Message, MessageSource};
use crate::config::VoiceTiers;
use crate::error::{Error, Result};
use crate::ids::{ChatSessionId, UserId};
use crate::usage::UsageService;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The shortest audio worth transcribing (OpenAI refuses anything shorter); a clip below it
/// is refused before any provider call.
const MIN_SPEECH: Duration = Duration::from_millis(100);
/// The most synthesized audio kept to measure one answer; past it the length is estimated
/// from the text.
const MAX_MEASURED_BYTES: usize = 8 * 1024 * 1024;
/// The speaking rate assumed when produced audio cannot be measured: 15 characters a second
/// (about 170 words a minute).
const ESTIMATED_CHARS_PER_SECOND: u64 = 15;

/// What the voice service needs from the configuration.
#[derive(Debug, Clone)]
pub struct VoiceSettings {
    /// The voices offered and accepted.
    pub voices: Vec<String>,
    /// The voice used when a request names none.
    pub default_voice: String,
    /// The longest text to speak in one request, in characters.
    pub max_text_chars: u32,
    /// The largest audio upload, in bytes.
    pub max_upload_bytes: u64,
    /// Audio uploads read at once.
    pub max_concurrent_uploads: u32,
    /// Sentence syntheses run at once in a conversation.
    pub parallel_speech: u32,
    /// Voice limits by tier.
    pub tiers: VoiceTiers,
}

impl From<&crate::config::VoiceConfig> for VoiceSettings {
    fn from(config: &crate::config::VoiceConfig) -> Self {
        Self {
            voices: config.voices.clone(),
            default_voice: config.default_voice.clone(),
            max_text_chars: config.max_text_chars,
            max_upload_bytes: config.max_upload_bytes,
            max_concurrent_uploads: config.max_concurrent_uploads.max(1),
            parallel_speech: config.parallel_speech.max(1),
            tiers: config.tiers,
        }
    }
}

/// A voice offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceInfo {
    /// What requests name it by.
    pub id: String,
    /// A display name.
    pub name: String,
}

/// A user's voice seconds this month against their tier's quota.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceUsage {
    /// Seconds of the user's speech transcribed.
    pub seconds_in: f64,
    /// Seconds of speech synthesized for the user.
    pub seconds_out: f64,
    /// The tier's monthly voice seconds (0 = unlimited).
    pub quota_seconds: u64,
    /// When the period ends and the count starts again.
    pub period_end: DateTime<Utc>,
}

impl VoiceUsage {
    /// The voice part of a usage report.
    pub fn of(report: &crate::usage::UsageReport) -> Self {
        Self {
            seconds_in: seconds(report.month.voice_in_ms),
            seconds_out: seconds(report.month.voice_out_ms),
            quota_seconds: report.voice_seconds_per_month,
            period_end: report.month_end,
        }
    }
}

/// Speech that was transcribed.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// The text.
    pub text: String,
    /// The language, when the client or the provider said.
    pub language: Option<String>,
    /// How long the audio plays (what was metered).
    pub duration: Duration,
    /// The audio's format, judged by its bytes.
    pub format: AudioFormat,
}

/// Synthesized speech, streaming; metered by the length of what was produced when it ends
/// or is dropped.
pub struct Speech {
    /// Its format.
    pub format: SpeechFormat,
    /// The audio as it arrives.
    pub audio: MeteredAudio,
}

/// A voice request's text to speak, checked.
#[derive(Debug, Clone)]
pub struct SpeakOptions {
    /// The voice (default: the configured one).
    pub voice: Option<String>,
    /// The format (default mp3).
    pub format: Option<SpeechFormat>,
    /// The speed, 0.25 to 4.0.
    pub speed: Option<f32>,
}

/// Speech to text, text to speech and voice conversations.
#[derive(Clone)]
pub struct VoiceService {
    model: Option<Arc<dyn SpeechModel>>,
    chat: ChatService,
    usage: UsageService,
    settings: Arc<VoiceSettings>,
    /// One permit per upload being read or held.
    uploads: Arc<tokio::sync::Semaphore>,
}

impl VoiceService {
    pub(crate) fn new(
        model: Option<Arc<dyn SpeechModel>>,
        chat: ChatService,
        usage: UsageService,
        settings: VoiceSettings,
    ) -> Self {
        Self {
            model,
            chat,
            usage,
            uploads: Arc::new(tokio::sync::Semaphore::new(
                settings.max_concurrent_uploads as usize,
            )),
            settings: Arc::new(settings),
        }
    }

    /// The provider, for health checks.
    pub fn model(&self) -> Option<Arc<dyn SpeechModel>> {
        self.model.clone()
    }

    /// The largest audio upload accepted, in bytes.
    pub fn max_upload_bytes(&self) -> u64 {
        self.settings.max_upload_bytes
    }

    /// A permit to read one audio upload, held until the upload is done with: refused with
    /// [`Error::Unavailable`] (503, retry in a second) when `max_concurrent_uploads` are
    /// being read, so uploads cannot hold unbounded memory.
    pub fn upload_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        self.uploads
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::unavailable("audio intake", Duration::from_secs(1)))
    }

    fn provider(&self) -> Result<Arc<dyn SpeechModel>> {
        self.model.clone().ok_or(Error::VoiceNotConfigured)
    }

    /// The formats speech is produced in; [`Error::VoiceNotConfigured`] without a provider.
    pub fn formats(&self) -> Result<Vec<SpeechFormat>> {
        Ok(self.provider()?.formats())
    }

    /// The voices offered; [`Error::VoiceNotConfigured`] without a provider.
    pub fn voices(&self) -> Result<Vec<VoiceInfo>> {
        self.provider()?;
        Ok(self
            .settings
            .voices
            .iter()
            .map(|id| VoiceInfo {
                id: id.clone(),
                name: display_name(id),
            })
            .collect())
    }

    /// The caller's voice seconds this month against their tier's quota.
    pub async fn usage(&self, caller: &AuthContext) -> Result<VoiceUsage> {
        Ok(VoiceUsage::of(&self.usage.report(caller).await?))
    }

    /// Transcribes `audio` for the caller: the audio is judged and measured first (415/422),
    /// held to the tier's longest file and the month's voice seconds (429), and only then
    /// sent to the provider; its seconds are metered once it was transcribed.
    pub async fn transcribe(
        &self,
        caller: &AuthContext,
        audio: Bytes,
        language: Option<&str>,
    ) -> Result<Heard> {
        let model = self.provider()?;
        let clip = self.admit(caller, &audio).await?;
        let language = check_language(language)?;
        self.hear(caller.user_id, model.as_ref(), audio, clip, language)
            .await
    }

    /// Speaks `text` for the caller: checked (text, voice, format, speed; the month's voice
    /// seconds) before the provider is called; streams as the provider produces it.
    pub async fn synthesize(
        &self,
        caller: &AuthContext,
        text: &str,
        options: SpeakOptions,
    ) -> Result<Speech> {
        let model = self.provider()?;
        let text = crate::text::trim_blank(text);
        let max = self.settings.max_text_chars as usize;
        if text.is_empty() || text.chars().count() > max {
            return Err(Error::invalid(
                "text",
                format!("must be 1 to {max} characters"),
            ));
        }
        crate::text::refuse_nul("text", text)?;
        let voice = self.pick_voice(options.voice.as_deref())?;
        let speed = check_speed(options.speed)?;
        let format = options.format.unwrap_or_default();
        let formats = model.formats();
        if !formats.contains(&format) {
            let names: Vec<&str> = formats.iter().map(|f| f.as_str()).collect();
            return Err(Error::invalid(
                "format",
                format!("must be one of: {}", names.join(", ")),
            ));
        }
        // The text's likely length, so parallel requests cannot together overrun the quota
        // by more than their own estimates.
        self.check_seconds_left(caller, estimate_spoken(text.chars().count()))
            .await?;
        let audio = model
            .synthesize(SpeechRequest {
                text: text.to_owned(),
                voice,
                format,
                speed,
            })
            .await?;
        Ok(Speech {
            format,
            audio: MeteredAudio::new(audio, format, text, self.usage.clone(), caller.user_id),
        })
    }

    /// A voice turn in `session`: the audio is checked as for [`Self::transcribe`] and the
    /// chat send is checked (session, AI provider, message quota) before anything is spent;
    /// then the speech is transcribed, stored as the user's message (marked as voice), the
    /// reply streams, and each sentence is spoken as soon as it is complete.
    pub async fn converse(
        &self,
        caller: &AuthContext,
        session: ChatSessionId,
        audio: Bytes,
        language: Option<&str>,
        voice: Option<&str>,
    ) -> Result<Conversation> {
        let model = self.provider()?;
        let voice = self.pick_voice(voice)?;
        let language = check_language(language)?;
        let clip = self.admit(caller, &audio).await?;
        self.chat.check_can_send(caller, session).await?;
        let heard = self
            .hear(caller.user_id, model.as_ref(), audio, clip, language)
            .await?;
        if heard.text.is_empty() {
            return Err(Error::invalid("audio", "no speech was recognized in it"));
        }
        let sent = self
            .chat
            .send(caller, session, &heard.text, MessageSource::Voice)
            .await?;
        let user_message: Message = sent.user_message;
        let pipeline = Pipeline::new(
            sent.reply,
            model,
            voice,
            self.settings.parallel_speech as usize,
            self.usage.clone(),
            caller.user_id,
        );
        Ok(Conversation {
            heard,
            user_message,
            events: pipeline,
        })
    }

    /// Judges and measures an upload, and holds it to the caller's limits.
    async fn admit(&self, caller: &AuthContext, audio: &Bytes) -> Result<AudioClip> {
        let bytes = audio.clone();
        // A reader that panics on a hostile file has met damaged audio, not a server fault.
        let clip = tokio::task::spawn_blocking(move || AudioClip::inspect(&bytes))
            .await
            .map_err(|_| Error::invalid("audio", "is not readable audio (damaged)"))??;
        if clip.duration < MIN_SPEECH {
            return Err(Error::invalid(
                "audio",
                format!(
                    "lasts {} ms; speech needs at least {} ms",
                    clip.duration.as_millis(),
                    MIN_SPEECH.as_millis()
                ),
            ));
        }
        let policy = self.settings.tiers.of(caller.tier);
        if policy.max_file_seconds > 0
            && clip.duration.as_secs_f64() > policy.max_file_seconds as f64
        {
            return Err(Error::invalid(
                "audio",
                format!(
                    "lasts {:.1} s; the {} tier accepts audio up to {} s",
                    clip.duration.as_secs_f64(),
                    caller.tier,
                    policy.max_file_seconds
                ),
            ));
        }
        self.check_seconds_left(caller, clip.duration).await?;
        Ok(clip)
    }

    /// Transcribes an admitted clip and meters its seconds.
    async fn hear(
        &self,
        user: UserId,
        model: &dyn SpeechModel,
        audio: Bytes,
        clip: AudioClip,
        language: Option<String>,
    ) -> Result<Heard> {
        let transcript = model
            .transcribe(TranscribeRequest {
                audio,
                format: clip.format,
                language,
            })
            .await?;
        // In a task of its own: a client leaving now cannot cancel the metering.
        let usage = self.usage.clone();
        let metering = tokio::spawn(async move {
            if let Err(e) = usage.meter_voice(user, clip.duration, Duration::ZERO).await {
                tracing::error!(error = %e.report(), "could not meter transcribed seconds");
            }
        });
        let _ = metering.await;
        Ok(Heard {
            text: transcript.text,
            language: transcript.language,
            duration: clip.duration,
            format: clip.format,
        })
    }

    /// Refuses with [`Error::QuotaExceeded`] when the month's voice seconds, plus `more`,
    /// pass the caller's tier quota.
    async fn check_seconds_left(&self, caller: &AuthContext, more: Duration) -> Result<()> {
        let quota = self.settings.tiers.of(caller.tier).seconds_per_month;
        if quota == 0 {
            return Ok(());
        }
        let used = self.usage.report(caller).await?.month.voice_ms();
        let wanted = u64::try_from(more.as_millis()).unwrap_or(u64::MAX);
        let limit = quota.saturating_mul(1000);
        if used >= limit || used.saturating_add(wanted) > limit {
            let retry_after = self.usage.until_next_month();
            return Err(Error::QuotaExceeded {
                message: format!(
                    "the {} tier allows {} voice seconds a month ({:.0} used)",
                    caller.tier,
                    quota,
                    seconds(used)
                ),
                retry_after,
            });
        }
        Ok(())
    }

    /// The voice to use: `asked` when it is offered, else the default.
    fn pick_voice(&self, asked: Option<&str>) -> Result<String> {
        match asked.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(self.settings.default_voice.clone()),
            Some(v) if self.settings.voices.iter().any(|known| known == v) => Ok(v.to_owned()),
            Some(_) => Err(Error::invalid(
                "voice",
                format!("must be one of: {}", self.settings.voices.join(", ")),
            )),
        }
    }
}

/// Milliseconds as seconds.
fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// `alloy` → `Alloy`.
fn display_name(id: &str) -> String {
    let mut chars = id.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A language code as the providers take it: 2 or 3 ASCII letters (ISO 639), lowercased.
fn check_language(language: Option<&str>) -> Result<Option<String>> {
    match language.map(str::trim).filter(|l| !l.is_empty()) {
        None => Ok(None),
        Some(l) if (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(Some(l.to_ascii_lowercase()))
        }
        Some(_) => Err(Error::invalid(
            "language",
            "must be an ISO 639-1 code such as en or de",
        )),
    }
}

/// How long `chars` characters take to speak, at 15 characters a second.
fn estimate_spoken(chars: usize) -> Duration {
    Duration::from_millis(
        u64::try_from(chars)
            .unwrap_or(u64::MAX)
            .saturating_mul(1000)
            / ESTIMATED_CHARS_PER_SECOND,
    )
}

/// How long synthesized `audio` plays: measured from its frames, or, when it cannot be
/// (cut short, or `None`: too large to keep), estimated from the text at 15 characters a
/// second. Nothing produced is nothing spoken.
pub(crate) async fn measure_spoken(
    format: SpeechFormat,
    audio: Option<Bytes>,
    text_chars: usize,
) -> Duration {
    let estimate = estimate_spoken(text_chars);
    let Some(audio) = audio else {
        return estimate;
    };
    if audio.is_empty() {
        return Duration::ZERO;
    }
    tokio::task::spawn_blocking(move || format.duration_of(&audio))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(estimate)
}

/// Synthesized audio on its way to the client: what passes is kept (up to 32 MiB) and, when
/// the stream ends or is dropped (the client went away), measured and metered as speech out.
pub struct MeteredAudio {
    inner: AudioStream,
    /// What passed so far; `None` once it outgrew [`MAX_MEASURED_BYTES`] (and for PCM,
    /// which is measured by counting).
    kept: Option<BytesMut>,
    /// Bytes that passed, for PCM (2 bytes a sample at 24 kHz).
    pcm_bytes: u64,
    format: SpeechFormat,
    text_chars: usize,
    meter: Option<(UsageService, UserId)>,
}

impl MeteredAudio {
    fn new(
        inner: AudioStream,
        format: SpeechFormat,
        text: &str,
        usage: UsageService,
        user: UserId,
    ) -> Self {
        Self {
            inner,
            kept: (format != SpeechFormat::Pcm).then(BytesMut::new),
            pcm_bytes: 0,
            format,
            text_chars: text.chars().count(),
            meter: Some((usage, user)),
        }
    }

    /// Meters what passed, once (in a task: called at the end or on drop).
    fn settle(&mut self) {
        let Some((usage, user)) = self.meter.take() else {
            return;
        };
        let audio = self.kept.take().map(BytesMut::freeze);
        let (format, chars, pcm) = (self.format, self.text_chars, self.pcm_bytes);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let spoken = if format == SpeechFormat::Pcm {
                    Duration::from_micros(pcm / 2 * 1_000_000 / 24_000)
                } else {
                    measure_spoken(format, audio, chars).await
                };
                if spoken.is_zero() {
                    return;
                }
                if let Err(e) = usage.meter_voice(user, Duration::ZERO, spoken).await {
                    tracing::error!(error = %e.report(), "could not meter synthesized seconds");
                }
            });
        }
    }
}

impl Stream for MeteredAudio {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = std::task::ready!(self.inner.poll_next_unpin(cx));
        match &item {
            Some(Ok(chunk)) if self.format == SpeechFormat::Pcm => {
                self.pcm_bytes += chunk.len() as u64;
            }
            Some(Ok(chunk)) => {
                let chunk = chunk.clone();
                let fits = self
                    .kept
                    .as_ref()
                    .is_some_and(|kept| kept.len() + chunk.len() <= MAX_MEASURED_BYTES);
                match self.kept.as_mut() {
                    Some(kept) if fits => kept.extend_from_slice(&chunk),
                    // Too much to keep: the length is estimated from the text instead.
                    _ => self.kept = None,
                }
            }
            Some(Err(_)) | None => self.settle(),
        }
        Poll::Ready(item)
    }
}

impl Drop for MeteredAudio {
    fn drop(&mut self) {
        self.settle();
    }
}
