//! The offline echo speech provider: says what it heard without listening, and speaks in
//! silence — voice without any server, for demos and tests, labelled as not a model.

use super::model::{
    AudioStream, SpeechFormat, SpeechModel, SpeechRequest, TranscribeRequest, Transcript,
};
use super::silence::{silent_mp3, silent_pcm, silent_wav};
use crate::error::{Error, Result};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use std::time::Duration;

/// The label every echo transcription starts with.
pub const ECHO_SPEECH_LABEL: &str = "Echo (offline demo speech provider, no recognition):";
/// How long the echo speaks per character: 60 ms (about 170 words a minute).
const PER_CHAR: Duration = Duration::from_millis(60);
/// The size of the pieces speech streams in.
const CHUNK: usize = 4096;

/// An offline [`SpeechModel`] (used when `DELEGATE_AI_PROVIDER=echo` and no speech server is
/// configured). Transcription returns [`ECHO_SPEECH_LABEL`] and the audio's size and format,
/// not its words; synthesis returns silence lasting 60 ms per character of the text, as MP3,
/// WAV or PCM (Opus and FLAC are refused with 422: there is no encoder for them here).
#[derive(Debug, Clone, Default)]
pub struct EchoSpeech;

#[async_trait]
impl SpeechModel for EchoSpeech {
    async fn transcribe(&self, request: TranscribeRequest) -> Result<Transcript> {
        Ok(Transcript {
            text: format!(
                "{ECHO_SPEECH_LABEL} {} bytes of {} audio",
                request.audio.len(),
                request.format.extension()
            ),
            language: request.language,
        })
    }

    async fn synthesize(&self, request: SpeechRequest) -> Result<AudioStream> {
        let chars = u32::try_from(request.text.chars().count()).unwrap_or(u32::MAX);
        let length = PER_CHAR.saturating_mul(chars);
        let audio = match request.format {
            SpeechFormat::Mp3 => silent_mp3(length),
            SpeechFormat::Wav => silent_wav(length),
            SpeechFormat::Pcm => silent_pcm(length),
            SpeechFormat::Opus | SpeechFormat::Flac => {
                return Err(Error::invalid(
                    "format",
                    "the echo speech provider speaks mp3, wav or pcm",
                ));
            }
        };
        let chunks: Vec<Result<Bytes>> = audio
            .chunks(CHUNK)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Ok(futures::stream::iter(chunks).boxed())
    }

    fn name(&self) -> &str {
        "echo"
    }

    fn formats(&self) -> Vec<SpeechFormat> {
        vec![SpeechFormat::Mp3, SpeechFormat::Wav, SpeechFormat::Pcm]
    }
}
