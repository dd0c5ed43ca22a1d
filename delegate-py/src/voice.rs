//! `d.voice`: speech to text and text to speech for the caller, checked and metered as the
//! HTTP voice routes are (the audio judged by its bytes, the tier's longest file and monthly
//! seconds held before the provider is called).

use crate::bridge::spawn;
use crate::error::to_py;
use crate::types::{Caller, Heard, Spoken, VoiceUsage};
use bytes::Bytes;
use delegate_core::Delegate;
use delegate_core::voice::{SpeakOptions, SpeechFormat};
use futures::StreamExt;
use pyo3::prelude::*;

/// Speech.
#[pyclass(frozen, module = "delegate")]
pub(crate) struct Voice {
    pub(crate) core: Delegate,
}

#[pymethods]
impl Voice {
    /// Transcribes `audio` (wav, mp3, ogg/opus, webm, flac or m4a bytes): a `Heard`.
    #[pyo3(signature = (caller, audio, *, language = None))]
    fn transcribe<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        audio: &[u8],
        language: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (voice, context) = (self.core.voice(), caller.context.clone());
        let audio = Bytes::copy_from_slice(audio);
        spawn(py, async move {
            let heard = voice
                .transcribe(&context, audio, language.as_deref())
                .await
                .map_err(to_py)?;
            Ok(Heard {
                text: heard.text,
                language: heard.language,
                duration_seconds: heard.duration.as_secs_f64(),
                format: heard.format.extension(),
            })
        })
    }

    /// Speaks `text` (`format`: mp3, opus, wav, flac or pcm): a `Spoken` with the whole
    /// audio.
    #[pyo3(signature = (caller, text, *, voice = None, format = "mp3", speed = None))]
    fn synthesize<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
        text: String,
        voice: Option<String>,
        format: &str,
        speed: Option<f32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (service, context) = (self.core.voice(), caller.context.clone());
        let format: SpeechFormat = format.parse().map_err(to_py)?;
        spawn(py, async move {
            let options = SpeakOptions {
                voice,
                format: Some(format),
                speed,
            };
            let mut speech = service
                .synthesize(&context, &text, options)
                .await
                .map_err(to_py)?;
            let mut audio = Vec::new();
            while let Some(chunk) = speech.audio.next().await {
                audio.extend_from_slice(&chunk.map_err(to_py)?);
            }
            Ok(Spoken {
                format: speech.format.as_str(),
                content_type: speech.format.content_type(),
                audio,
            })
        })
    }

    /// The voices offered, as `(id, name)` pairs.
    fn voices(&self) -> PyResult<Vec<(String, String)>> {
        let voices = self.core.voice().voices().map_err(to_py)?;
        Ok(voices.into_iter().map(|v| (v.id, v.name)).collect())
    }

    /// The caller's voice seconds this month against their tier's quota.
    fn usage<'py>(
        &self,
        py: Python<'py>,
        caller: PyRef<'_, Caller>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (voice, context) = (self.core.voice(), caller.context.clone());
        spawn(py, async move {
            let usage = voice.usage(&context).await.map_err(to_py)?;
            Ok(VoiceUsage {
                seconds_in: usage.seconds_in,
                seconds_out: usage.seconds_out,
                quota_seconds: usage.quota_seconds,
                period_end: usage.period_end,
            })
        })
    }
}
