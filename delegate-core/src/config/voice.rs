//! The speech provider's settings (speech to text, text to speech) and voice limits by tier.

use super::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The speech provider and voice limits. The provider is the chat provider's OpenAI-compatible
/// endpoint unless `base_url` (or `api_key`) points voice elsewhere, e.g. a local speech
/// server beside a hosted LLM. With neither, and no OpenAI chat provider, voice routes answer
/// 503 `voice_not_configured`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct VoiceConfig {
    /// The speech server's base URL including the version path; unset uses the chat
    /// provider's (`OPENAI_VOICE_BASE_URL`).
    pub base_url: Option<String>,
    /// The speech server's key; unset uses the chat provider's (`OPENAI_VOICE_API_KEY`).
    pub api_key: Option<Secret>,
    /// The speech-to-text model (`OPENAI_STT_MODEL`).
    pub stt_model: String,
    /// The text-to-speech model (`OPENAI_TTS_MODEL`).
    pub tts_model: String,
    /// The voices offered (`GET /voice/voices`) and accepted (`DELEGATE_VOICE__VOICES`).
    pub voices: Vec<String>,
    /// The voice used when a request names none (`DELEGATE_VOICE__DEFAULT_VOICE`).
    pub default_voice: String,
    /// The largest audio upload, in bytes (`DELEGATE_VOICE__MAX_UPLOAD_BYTES`).
    pub max_upload_bytes: u64,
    /// Audio uploads read at once on this instance; more answer 503 with `Retry-After`, so
    /// uploads can hold at most this many times `max_upload_bytes` of memory
    /// (`DELEGATE_VOICE__MAX_CONCURRENT_UPLOADS`).
    pub max_concurrent_uploads: u32,
    /// The longest text to speak in one request, in characters
    /// (`DELEGATE_VOICE__MAX_TEXT_CHARS`).
    pub max_text_chars: u32,
    /// The deadline for one provider call, in seconds (`DELEGATE_VOICE__TIMEOUT_SECS`).
    pub timeout_secs: u64,
    /// Retries after a 429, a 5xx or a connection failure, made only before the first byte
    /// (`DELEGATE_VOICE__MAX_RETRIES`).
    pub max_retries: u32,
    /// Syntheses of one voice reply's sentences run at once (`DELEGATE_VOICE__PARALLEL_SPEECH`).
    pub parallel_speech: u32,
    /// Voice limits by tier (`DELEGATE_VOICE__TIERS__FREE__SECONDS_PER_MONTH`, …).
    pub tiers: VoiceTiers,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            api_key: None,
            stt_model: "whisper-1".to_owned(),
            tts_model: "tts-1".to_owned(),
            voices: [
                "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage",
                "shimmer", "verse",
            ]
            .map(str::to_owned)
            .to_vec(),
            default_voice: "alloy".to_owned(),
            max_upload_bytes: 25 * 1024 * 1024,
            max_concurrent_uploads: 16,
            max_text_chars: 4_096,
            timeout_secs: 60,
            max_retries: 2,
            parallel_speech: 3,
            tiers: VoiceTiers::default(),
        }
    }
}

impl VoiceConfig {
    /// The deadline for one provider call.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// One tier's voice limits; 0 means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct VoiceTierPolicy {
    /// Seconds of audio per UTC calendar month, speech in and speech out together.
    pub seconds_per_month: u64,
    /// The longest audio file accepted, in seconds.
    pub max_file_seconds: u64,
}

impl Default for VoiceTierPolicy {
    fn default() -> Self {
        VoiceTiers::default().free
    }
}

/// Voice limits by tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct VoiceTiers {
    /// The free tier: 30 minutes a month, files up to 2 minutes.
    pub free: VoiceTierPolicy,
    /// The pro tier: 20 hours a month, files up to 10 minutes.
    pub pro: VoiceTierPolicy,
    /// The enterprise tier: 200 hours a month, files up to 30 minutes.
    pub enterprise: VoiceTierPolicy,
}

impl Default for VoiceTiers {
    fn default() -> Self {
        let tier = |seconds_per_month, max_file_seconds| VoiceTierPolicy {
            seconds_per_month,
            max_file_seconds,
        };
        Self {
            free: tier(30 * 60, 120),
            pro: tier(20 * 3600, 600),
            enterprise: tier(200 * 3600, 1800),
        }
    }
}

impl VoiceTiers {
    /// The limits of `tier`.
    pub fn of(&self, tier: crate::users::Tier) -> VoiceTierPolicy {
        use crate::users::Tier;
        match tier {
            Tier::Free => self.free,
            Tier::Pro => self.pro,
            Tier::Enterprise => self.enterprise,
        }
    }
}
