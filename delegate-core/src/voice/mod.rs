//! Voice: audio intake (the format judged by the bytes, the duration measured from the
//! audio), the `SpeechModel` provider trait and its OpenAI-compatible implementation, and the
//! voice service — speech to text, text to speech, and the streamed voice-to-voice pipeline
//! — metered in seconds of real audio.

mod audio;
mod echo;
mod model;
#[cfg(feature = "openai")]
mod openai;
mod pipeline;
mod sentences;
mod service;
pub mod silence;

pub use audio::{AudioClip, AudioFormat};
pub use echo::{ECHO_SPEECH_LABEL, EchoSpeech};
pub use model::{
    AudioStream, SpeechFormat, SpeechModel, SpeechRequest, TranscribeRequest, Transcript,
};
#[cfg(feature = "openai")]
pub use openai::OpenAiSpeech;
pub use pipeline::{Conversation, Pipeline, REPLY_FORMAT, VoiceEvent};
pub use sentences::SentenceSplitter;
pub use service::{
    Heard, MeteredAudio, SpeakOptions, Speech, VoiceInfo, VoiceService, VoiceSettings, VoiceUsage,
};

use crate::config::{AiConfig, AiProviderKind, VoiceConfig};
use crate::error::Result;
use std::sync::Arc;

/// The speech provider `voice` and `ai` ask for: the OpenAI-compatible one when voice has
/// its own base URL or key, or when the chat provider is OpenAI-compatible and configured
/// (a key or a base URL); the offline [`EchoSpeech`] beside the echo chat provider; `None`
/// otherwise, so voice answers 503 `voice_not_configured`. Blank values count as unset.
pub fn from_config(voice: &VoiceConfig, ai: &AiConfig) -> Result<Option<Arc<dyn SpeechModel>>> {
    let set = |v: Option<&str>| v.is_some_and(|v| !v.trim().is_empty());
    let key = |k: Option<&crate::Secret>| k.is_some_and(|k| !k.expose().trim_ascii().is_empty());
    let own = set(voice.base_url.as_deref()) || key(voice.api_key.as_ref());
    let chats = ai.provider == AiProviderKind::OpenAi
        && (set(ai.base_url.as_deref()) || key(ai.api_key.as_ref()));
    if !own && ai.provider == AiProviderKind::Echo {
        return Ok(Some(Arc::new(EchoSpeech)));
    }
    if !own && !chats {
        return Ok(None);
    }
    openai_from_config(voice, ai)
}

#[cfg(feature = "openai")]
fn openai_from_config(voice: &VoiceConfig, ai: &AiConfig) -> Result<Option<Arc<dyn SpeechModel>>> {
    Ok(Some(Arc::new(OpenAiSpeech::new(voice, ai)?)))
}

#[cfg(not(feature = "openai"))]
fn openai_from_config(_: &VoiceConfig, _: &AiConfig) -> Result<Option<Arc<dyn SpeechModel>>> {
    Err(crate::error::Error::invalid(
        "config",
        "an OpenAI-compatible speech provider is configured but this build lacks the `openai` feature",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    #[test]
    fn the_configuration_picks_the_speech_provider() {
        let (mut voice, mut ai) = (VoiceConfig::default(), AiConfig::default());
        assert!(from_config(&voice, &ai).unwrap().is_none(), "nothing set");
        ai.provider = AiProviderKind::Echo;
        assert_eq!(from_config(&voice, &ai).unwrap().unwrap().name(), "echo");
        ai.provider = AiProviderKind::OpenAi;
        ai.api_key = Some(Secret::new("sk-chat"));
        #[cfg(feature = "openai")]
        {
            assert_eq!(from_config(&voice, &ai).unwrap().unwrap().name(), "openai");
            // A speech server of its own, beside the echo chat provider.
            ai = AiConfig {
                provider: AiProviderKind::Echo,
                ..AiConfig::default()
            };
            voice.base_url = Some("http://127.0.0.1:8000/v1".into());
            assert_eq!(from_config(&voice, &ai).unwrap().unwrap().name(), "openai");
            voice.base_url = Some("speech-server:8000".into());
            assert!(from_config(&voice, &ai).is_err(), "not a URL");
            voice.base_url = Some("  ".into());
            assert_eq!(from_config(&voice, &ai).unwrap().unwrap().name(), "echo");
        }
    }
}
