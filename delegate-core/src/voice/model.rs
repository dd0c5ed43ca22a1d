//! The `SpeechModel` provider trait: speech to text, and text to speech as a byte stream.

use super::AudioFormat;
use crate::error::{Error, Result};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

/// Audio to transcribe.
#[derive(Debug, Clone)]
pub struct TranscribeRequest {
    /// The audio file, as uploaded.
    pub audio: Bytes,
    /// Its format, judged by its bytes.
    pub format: AudioFormat,
    /// The spoken language (ISO-639-1, e.g. `en`), when the client knows it.
    pub language: Option<String>,
}

/// What was heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The text.
    pub text: String,
    /// The language, when the client or the provider said.
    pub language: Option<String>,
}

/// An audio format a speech provider produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpeechFormat {
    /// MP3 (the default).
    #[default]
    Mp3,
    /// Opus in Ogg.
    Opus,
    /// WAV (16-bit PCM).
    Wav,
    /// FLAC.
    Flac,
    /// Raw 16-bit little-endian mono PCM at 24 kHz, without a header.
    Pcm,
}

crate::text_enum::text_enum!(
    SpeechFormat,
    "format",
    Mp3 = "mp3",
    Opus = "opus",
    Wav = "wav",
    Flac = "flac",
    Pcm = "pcm"
);

impl SpeechFormat {
    /// Every format, in the order lists show them.
    pub const ALL: [SpeechFormat; 5] = [
        SpeechFormat::Mp3,
        SpeechFormat::Opus,
        SpeechFormat::Wav,
        SpeechFormat::Flac,
        SpeechFormat::Pcm,
    ];

    /// The MIME type of audio in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            SpeechFormat::Mp3 => "audio/mpeg",
            SpeechFormat::Opus => "audio/ogg",
            SpeechFormat::Wav => "audio/wav",
            SpeechFormat::Flac => "audio/flac",
            SpeechFormat::Pcm => "audio/pcm",
        }
    }

    /// How long `audio` in this format plays: read from its frames (as uploads are), or for
    /// headerless PCM from its length (2 bytes a sample, 24,000 samples a second).
    pub fn duration_of(self, audio: &[u8]) -> Result<std::time::Duration> {
        match self {
            SpeechFormat::Pcm => Ok(std::time::Duration::from_micros(
                u64::try_from(audio.len() / 2).unwrap_or(u64::MAX) * 1_000_000 / 24_000,
            )),
            _ => super::AudioClip::inspect(audio).map(|clip| clip.duration),
        }
    }
}

/// Text to speak.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechRequest {
    /// The text.
    pub text: String,
    /// The voice.
    pub voice: String,
    /// The audio format wanted.
    pub format: SpeechFormat,
    /// The speed, 0.25 to 4.0 (1.0 when unset).
    pub speed: Option<f32>,
}

/// Synthesized audio as the provider produces it; an `Err` item ends it early.
pub type AudioStream = BoxStream<'static, Result<Bytes>>;

/// A speech provider: speech to text and text to speech (OpenAI-compatible, e.g. OpenAI or
/// a local Speaches server).
#[async_trait]
pub trait SpeechModel: Send + Sync + 'static {
    /// Transcribes audio. Errors after the provider's own retries: [`Error::Upstream`], or
    /// [`Error::Unavailable`] when it is unreachable.
    async fn transcribe(&self, request: TranscribeRequest) -> Result<Transcript>;
    /// Starts speaking `request.text`: returns once the first bytes arrived (errors before
    /// them are returned here, after retries), then streams the rest. Dropping the stream
    /// closes the upstream request.
    async fn synthesize(&self, request: SpeechRequest) -> Result<AudioStream>;
    /// A label for health checks and logs ("openai").
    fn name(&self) -> &str;
    /// The formats [`SpeechModel::synthesize`] produces (all of [`SpeechFormat::ALL`] unless
    /// the provider says otherwise).
    fn formats(&self) -> Vec<SpeechFormat> {
        SpeechFormat::ALL.to_vec()
    }
    /// A cheap round trip to the provider, for health checks.
    async fn probe(&self) -> Result<()> {
        Ok(())
    }
}

/// The speed a request may ask for, checked.
pub(crate) fn check_speed(speed: Option<f32>) -> Result<Option<f32>> {
    match speed {
        Some(s) if !(0.25..=4.0).contains(&s) => {
            Err(Error::invalid("speed", "must be between 0.25 and 4.0"))
        }
        other => Ok(other),
    }
}
