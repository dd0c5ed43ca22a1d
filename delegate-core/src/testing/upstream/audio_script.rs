//! What the test upstream does with an audio request: a [`Transcription`] (the text heard, in
//! the response format asked for) or a [`Speech`] (silent audio, streamed with delays and an
//! optional cut), a [`Failure`], a hang, or a raw response.

use super::script::Failure;
use std::time::Duration;

/// What the upstream does with one transcription request.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// Answer with this text, in the request's `response_format`; see [`Transcription`].
    Text(Transcription),
    /// Fail with an HTTP error; see [`Failure`].
    Fail(Failure),
    /// Read the request and send nothing at all, until the client goes away.
    Hang,
    /// Answer with exactly this status, content type and body (for garbage replies).
    Raw {
        /// The HTTP status.
        status: u16,
        /// The `content-type` header.
        content_type: String,
        /// The body, sent with a `content-length`.
        body: String,
    },
}

/// What the upstream does with one speech request.
#[derive(Debug, Clone, PartialEq)]
pub enum Spoken {
    /// Answer with silent audio in the request's `response_format`; see [`Speech`].
    Audio(Speech),
    /// Fail with an HTTP error before any audio; see [`Failure`].
    Fail(Failure),
    /// Read the request and send nothing at all, until the client goes away.
    Hang,
    /// Answer with exactly this status, content type and body (for garbage replies).
    Raw {
        /// The HTTP status.
        status: u16,
        /// The `content-type` header.
        content_type: String,
        /// The body, sent with a `content-length`.
        body: String,
    },
}

/// A scripted transcription: the text heard, an optional language, an optional delay.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    pub(super) text: String,
    pub(super) language: Option<String>,
    pub(super) delay: Duration,
}

impl Transcription {
    /// A transcription of `text`, with no language reported.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            language: None,
            delay: Duration::ZERO,
        }
    }

    /// Reports this language (e.g. `"en"`): in `json` answers, and in `verbose_json` ones
    /// instead of `"english"`.
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Waits this long before answering.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

impl From<Transcription> for Heard {
    fn from(transcription: Transcription) -> Self {
        Heard::Text(transcription)
    }
}

impl From<Failure> for Heard {
    fn from(failure: Failure) -> Self {
        Heard::Fail(failure)
    }
}

/// A scripted speech answer: silent audio lasting `ms_per_char` per character of the input,
/// streamed in chunks with optional delays and an optional cut.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    pub(super) delay_first: Duration,
    pub(super) delay_between: Duration,
    pub(super) chunk_bytes: usize,
    pub(super) cut_after: Option<usize>,
    pub(super) ms_per_char: u64,
}

impl Default for Speech {
    fn default() -> Self {
        Self {
            delay_first: Duration::ZERO,
            delay_between: Duration::ZERO,
            chunk_bytes: 960,
            cut_after: None,
            ms_per_char: 60,
        }
    }
}

impl Speech {
    /// Speech with the defaults: no delays, chunks of 960 bytes (ten MP3 frames), no cut,
    /// 60 ms of audio per input character.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits this long before the body's first byte (after the response head).
    pub fn delay_first(mut self, delay: Duration) -> Self {
        self.delay_first = delay;
        self
    }

    /// Waits this long between two chunks.
    pub fn delay_between(mut self, delay: Duration) -> Self {
        self.delay_between = delay;
        self
    }

    /// Sends the audio in chunks of `n` bytes (at least one; the last may be shorter).
    pub fn chunk_bytes(mut self, n: usize) -> Self {
        self.chunk_bytes = n.max(1);
        self
    }

    /// Sends `k` chunks, then closes the connection without finishing the chunked body.
    pub fn cut_after(mut self, k: usize) -> Self {
        self.cut_after = Some(k);
        self
    }

    /// Makes each input character last `n` ms of audio (an empty input still gets one MP3
    /// frame's worth, 24 ms).
    pub fn ms_per_char(mut self, n: u64) -> Self {
        self.ms_per_char = n;
        self
    }
}

impl From<Speech> for Spoken {
    fn from(speech: Speech) -> Self {
        Spoken::Audio(speech)
    }
}

impl From<Failure> for Spoken {
    fn from(failure: Failure) -> Self {
        Spoken::Fail(failure)
    }
}
