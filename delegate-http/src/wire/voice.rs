//! Bodies of /api/v1/voice: speech requests, transcriptions, voice turns, voices and usage.

use super::{MessageBody, time};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// POST /api/v1/voice/synthesize
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SynthesizeRequest {
    /// The text to speak (1 to `DELEGATE_VOICE__MAX_TEXT_CHARS`, 4096 by default).
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub text: String,
    /// One of GET /voices (default: the configured voice).
    pub voice: Option<String>,
    /// The audio format (default `mp3`; `pcm` is 16-bit mono 24 kHz without a header).
    pub format: Option<SpeechFormatName>,
    /// 0.25 to 4.0 (default 1.0).
    #[schema(minimum = 0.25, maximum = 4.0)]
    pub speed: Option<f32>,
}

/// An audio format speech is produced in.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpeechFormatName {
    /// MP3.
    Mp3,
    /// Opus in Ogg.
    Opus,
    /// WAV.
    Wav,
    /// FLAC.
    Flac,
    /// Raw 16-bit mono PCM at 24 kHz.
    Pcm,
}

impl From<SpeechFormatName> for delegate_core::voice::SpeechFormat {
    fn from(name: SpeechFormatName) -> Self {
        use delegate_core::voice::SpeechFormat;
        match name {
            SpeechFormatName::Mp3 => SpeechFormat::Mp3,
            SpeechFormatName::Opus => SpeechFormat::Opus,
            SpeechFormatName::Wav => SpeechFormat::Wav,
            SpeechFormatName::Flac => SpeechFormat::Flac,
            SpeechFormatName::Pcm => SpeechFormat::Pcm,
        }
    }
}

/// Multipart body of POST /api/v1/voice/transcribe.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Documents the multipart form; the handler reads the parts itself.
pub struct TranscribeForm {
    /// The audio file: wav, mp3, ogg/opus, webm, flac or m4a, judged by its bytes.
    #[schema(value_type = String, format = Binary)]
    pub audio: Vec<u8>,
    /// The spoken language (ISO 639-1), if known.
    pub language: Option<String>,
}

/// Multipart body of POST /api/v1/voice/process.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)] // Documents the multipart form; the handler reads the parts itself.
pub struct ProcessForm {
    /// The user's speech: wav, mp3, ogg/opus, webm, flac or m4a, judged by its bytes.
    #[schema(value_type = String, format = Binary)]
    pub audio: Vec<u8>,
    /// The chat session to talk in.
    #[schema(format = Uuid)]
    pub session_id: String,
    /// One of GET /voices (default: the configured voice).
    pub voice: Option<String>,
    /// The spoken language (ISO 639-1), if known.
    pub language: Option<String>,
}

/// What was heard.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptionBody {
    /// The text.
    pub text: String,
    /// The language, when the client or the provider said.
    pub language: Option<String>,
    /// How long the audio plays, measured from the audio (what was metered).
    pub duration_seconds: f64,
}

impl From<&delegate_core::voice::Heard> for TranscriptionBody {
    fn from(h: &delegate_core::voice::Heard) -> Self {
        Self {
            text: h.text.clone(),
            language: h.language.clone(),
            duration_seconds: h.duration.as_secs_f64(),
        }
    }
}

/// Audio inline.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AudioBody {
    /// Its format (`mp3`).
    pub format: &'static str,
    /// The audio, base64 (standard alphabet, padded).
    pub base64: String,
}

/// The answer of POST /api/v1/voice/process without streaming.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessBody {
    /// What was heard (stored as the user message).
    pub transcript: String,
    /// The reply's text.
    pub reply: String,
    /// The reply, spoken.
    pub audio: AudioBody,
    /// The transcription's details.
    pub transcription: TranscriptionBody,
    /// The stored user message (source `voice`).
    pub user_message: MessageBody,
    /// The stored reply.
    pub assistant_message: MessageBody,
    /// Seconds of speech produced for the reply.
    pub seconds_out: f64,
}

/// A voice.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceBody {
    /// What requests name it by.
    pub id: String,
    /// A display name.
    pub name: String,
}

/// GET /api/v1/voice/voices
#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceList {
    /// The voices offered.
    pub items: Vec<VoiceBody>,
}

/// GET /api/v1/voice/usage: voice seconds this month against the tier's quota.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoiceUsageBody {
    /// Seconds of the caller's speech transcribed.
    pub seconds_in: f64,
    /// Seconds of speech synthesized for the caller.
    pub seconds_out: f64,
    /// The tier's monthly voice seconds, in and out together (0 = unlimited).
    pub quota_seconds: u64,
    /// When the count starts again (the next month, UTC).
    pub period_end: String,
}

impl From<delegate_core::voice::VoiceUsage> for VoiceUsageBody {
    fn from(u: delegate_core::voice::VoiceUsage) -> Self {
        Self {
            seconds_in: u.seconds_in,
            seconds_out: u.seconds_out,
            quota_seconds: u.quota_seconds,
            period_end: time(u.period_end),
        }
    }
}
