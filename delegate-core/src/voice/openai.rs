//! The OpenAI-compatible speech provider: transcriptions through async-openai's audio API,
//! speech as a raw byte stream (async-openai returns speech whole), both with retries before
//! the first byte, one deadline per call, and errors free of secrets.

use super::model::{AudioStream, SpeechModel, SpeechRequest, TranscribeRequest, Transcript};
use crate::ai::DEFAULT_BASE_URL;
use crate::ai::endpoint::{Endpoint, EndpointSettings, Failure, Role};
use crate::config::{AiConfig, VoiceConfig};
use crate::error::{Error, Result};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::audio::{
    AudioInput, AudioResponseFormat, CreateSpeechRequest, CreateTranscriptionRequest,
    SpeechModel as OpenAiSpeechModel, SpeechResponseFormat, Voice,
};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use std::time::Duration;
use tokio::time::Instant;

/// How the speech provider names itself in errors and logs.
const SPEECH_ROLE: Role = Role {
    label: "speech provider",
    dependency: "speech provider",
    key_var: "OPENAI_VOICE_API_KEY (or OPENAI_API_KEY)",
    base_var: "OPENAI_VOICE_BASE_URL (or OPENAI_BASE_URL)",
};

/// A [`SpeechModel`] speaking OpenAI's audio API (`/audio/transcriptions`, `/audio/speech`):
/// OpenAI, Azure OpenAI, or a local server such as Speaches.
///
/// * **Transcription** sends the file as multipart through async-openai and reads the
///   `json` answer raw, so servers that answer only `{"text": …}` (no usage) work; a
///   `language` in the answer is kept.
/// * **Speech** is one `POST /audio/speech`, read as the bytes arrive: the first byte is
///   awaited (with retries), then the rest streams.
/// * **Retries** as for chat: a 429 (not `insufficient_quota`), a 5xx or a failed connection,
///   only before the first byte, 200 ms doubling (or `retry-after` up to 5 s).
/// * **Deadline.** The voice timeout bounds each call, the whole stream included.
pub struct OpenAiSpeech {
    client: Client<OpenAIConfig>,
    endpoint: Endpoint,
    stt_model: String,
    tts_model: String,
    timeout: Duration,
    max_retries: u32,
    retry_base: Duration,
}

impl std::fmt::Debug for OpenAiSpeech {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSpeech")
            .field("endpoint", &self.endpoint)
            .field("stt_model", &self.stt_model)
            .field("tts_model", &self.tts_model)
            .finish_non_exhaustive()
    }
}

impl OpenAiSpeech {
    /// A provider at `voice`'s base URL and key, or else the chat provider's (`ai`): the chat
    /// key is used only with the chat base URL, never sent to a separate speech server. The
    /// key is sent as `ai.key_header` says. Fails with [`Error::Invalid`] on a malformed base
    /// URL, key or timeout.
    pub fn new(voice: &VoiceConfig, ai: &AiConfig) -> Result<Self> {
        let own_base = set(voice.base_url.as_deref());
        let base_url = own_base.or(set(ai.base_url.as_deref()));
        let own_key = voice
            .api_key
            .as_ref()
            .filter(|k| !k.expose().trim_ascii().is_empty());
        let api_key = match (own_key, own_base) {
            (Some(key), _) => Some(key),
            (None, None) => ai.api_key.as_ref(),
            (None, Some(_)) => None,
        };
        let endpoint = Endpoint::new(EndpointSettings {
            base_url,
            default_base: DEFAULT_BASE_URL,
            api_key,
            key_header: ai.key_header,
            organization: ai.organization.as_deref(),
            timeout: voice.timeout(),
            role: SPEECH_ROLE,
        })?;
        Ok(Self {
            client: endpoint.openai_client(),
            endpoint,
            stt_model: voice.stt_model.clone(),
            tts_model: voice.tts_model.clone(),
            timeout: voice.timeout(),
            max_retries: voice.max_retries,
            retry_base: crate::ai::openai::RETRY_BASE,
        })
    }

    /// The same provider with another first retry delay (short ones for tests).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    /// The same provider with another deadline per call (sub-second ones for tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn timed_out(&self) -> Error {
        Error::upstream(format!(
            "the speech provider did not finish within {:?}",
            self.timeout
        ))
    }

    async fn transcribe_once(
        &self,
        request: &TranscribeRequest,
    ) -> std::result::Result<Transcript, Failure> {
        let body = CreateTranscriptionRequest {
            file: AudioInput::from_bytes(
                format!("audio.{}", request.format.extension()),
                request.audio.clone(),
            ),
            model: self.stt_model.clone(),
            language: request.language.clone(),
            response_format: Some(AudioResponseFormat::Json),
            ..Default::default()
        };
        let raw = self
            .client
            .audio()
            .transcription()
            .create_raw(body)
            .await
            .map_err(|e| self.endpoint.classify(e))?;
        #[derive(serde::Deserialize)]
        struct Answer {
            text: String,
            #[serde(default)]
            language: Option<String>,
        }
        let answer: Answer = serde_json::from_slice(&raw).map_err(|e| {
            Failure::fatal(
                Error::upstream("the speech provider sent a malformed transcription")
                    .with_source(e),
            )
        })?;
        Ok(Transcript {
            text: answer.text.trim().to_owned(),
            language: answer
                .language
                .filter(|l| !l.trim().is_empty())
                .or_else(|| request.language.clone()),
        })
    }

    async fn speak_once(
        &self,
        body: &CreateSpeechRequest,
    ) -> std::result::Result<(Bytes, AudioStream), Failure> {
        let response = self
            .endpoint
            .send(self.endpoint.post("audio/speech").json(body))
            .await?;
        let scrubber = self.endpoint.scrubber.clone();
        let mut bytes = response
            .bytes_stream()
            .map(move |chunk| {
                chunk.map_err(|e| {
                    Error::upstream(format!(
                        "the speech provider's audio stream broke: {}",
                        scrubber.clean(&crate::ai::endpoint::error_chain(&e.without_url()))
                    ))
                })
            })
            .boxed();
        // The first non-empty chunk decides success: a body that breaks before it is retried.
        loop {
            match bytes.next().await {
                Some(Ok(chunk)) if chunk.is_empty() => {}
                Some(Ok(chunk)) => return Ok((chunk, bytes)),
                Some(Err(error)) => return Err(Failure::retry(error)),
                None => {
                    return Err(Failure::fatal(Error::upstream(
                        "the speech provider sent no audio",
                    )));
                }
            }
        }
    }
}

/// `v` trimmed, when not blank.
fn set(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

#[async_trait]
impl SpeechModel for OpenAiSpeech {
    async fn transcribe(&self, request: TranscribeRequest) -> Result<Transcript> {
        let deadline = Instant::now() + self.timeout;
        let attempt = self
            .endpoint
            .retrying(self.max_retries, self.retry_base, deadline, || {
                self.transcribe_once(&request)
            });
        tokio::time::timeout_at(deadline, attempt)
            .await
            .map_err(|_| self.timed_out())?
    }

    async fn synthesize(&self, request: SpeechRequest) -> Result<AudioStream> {
        let deadline = Instant::now() + self.timeout;
        let format = match request.format {
            super::SpeechFormat::Mp3 => SpeechResponseFormat::Mp3,
            super::SpeechFormat::Opus => SpeechResponseFormat::Opus,
            super::SpeechFormat::Wav => SpeechResponseFormat::Wav,
            super::SpeechFormat::Flac => SpeechResponseFormat::Flac,
            super::SpeechFormat::Pcm => SpeechResponseFormat::Pcm,
        };
        let body = CreateSpeechRequest {
            input: request.text,
            model: OpenAiSpeechModel::Other(self.tts_model.clone()),
            voice: Voice::Other(request.voice),
            response_format: Some(format),
            speed: request.speed,
            ..Default::default()
        };
        let attempt = self
            .endpoint
            .retrying(self.max_retries, self.retry_base, deadline, || {
                self.speak_once(&body)
            });
        let (first, rest) = tokio::time::timeout_at(deadline, attempt)
            .await
            .map_err(|_| self.timed_out())??;
        let timed_out = self.timed_out();
        // The rest, bounded by the same deadline: past it, one error ends the stream.
        let rest = futures::stream::unfold(
            (Some(rest), Some(timed_out)),
            move |(rest, mut timed_out)| async move {
                let mut rest = rest?;
                match tokio::time::timeout_at(deadline, rest.next()).await {
                    Ok(Some(Ok(chunk))) => Some((Ok(chunk), (Some(rest), timed_out))),
                    Ok(Some(Err(e))) => Some((Err(e), (None, timed_out))),
                    Ok(None) => None,
                    Err(_) => {
                        let error = timed_out
                            .take()
                            .unwrap_or_else(|| Error::upstream("the speech provider timed out"));
                        Some((Err(error), (None, None)))
                    }
                }
            },
        );
        Ok(futures::stream::once(async move { Ok(first) })
            .chain(rest)
            .boxed())
    }

    fn name(&self) -> &str {
        "openai"
    }

    async fn probe(&self) -> Result<()> {
        self.endpoint.probe().await
    }
}
