//! What the test upstream does with a chat request: a [`Reply`] (streamed or whole, with
//! delays and an optional cut), a [`Failure`], a hang, or a raw response.

use std::time::Duration;

/// What the upstream does with one chat request.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Answer with text (streamed when the request asks for it); see [`Reply`].
    Reply(Reply),
    /// Fail with an HTTP error before any chunk; see [`Failure`].
    Fail(Failure),
    /// Send the SSE response head (status 200, `text/event-stream`) and then nothing, until the
    /// client goes away.
    HangAfterHeaders,
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

impl Behaviour {
    /// A reply of `text`, split into words; see [`Reply`] for the options.
    pub fn reply(text: impl Into<String>) -> Reply {
        Reply::new(text)
    }

    /// A failure with `status` (500, 429, 401, …) and an OpenAI-style error body.
    pub fn fail(status: u16) -> Failure {
        Failure::new(status)
    }

    /// A response with exactly this status, content type and body.
    pub fn raw(status: u16, content_type: impl Into<String>, body: impl Into<String>) -> Self {
        Behaviour::Raw {
            status,
            content_type: content_type.into(),
            body: body.into(),
        }
    }
}

/// A scripted reply: its text as chunks, optional delays, an optional cut.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub(super) chunks: Vec<String>,
    pub(super) delay_first: Duration,
    pub(super) delay_between: Duration,
    pub(super) cut_after: Option<usize>,
    pub(super) usage: Option<(u32, u32)>,
}

impl Reply {
    /// A reply of `text` in word-sized chunks (each word keeps the whitespace after it).
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            chunks: text
                .split_inclusive(char::is_whitespace)
                .map(str::to_owned)
                .collect(),
            delay_first: Duration::ZERO,
            delay_between: Duration::ZERO,
            cut_after: None,
            usage: None,
        }
    }

    /// A reply made of exactly these chunks.
    pub fn from_chunks<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Self {
        Self {
            chunks: chunks.into_iter().map(Into::into).collect(),
            ..Self::new("")
        }
    }

    /// The same text re-split into `n` chunks of about equal length (in characters).
    pub fn in_chunks(mut self, n: usize) -> Self {
        let text: Vec<char> = self.chunks.concat().chars().collect();
        let n = n.clamp(1, text.len().max(1));
        let size = text.len().div_ceil(n).max(1);
        self.chunks = text.chunks(size).map(|c| c.iter().collect()).collect();
        self
    }

    /// Waits this long before the response body's first chunk (after the response head when
    /// streaming; before anything otherwise).
    pub fn delay_first(mut self, delay: Duration) -> Self {
        self.delay_first = delay;
        self
    }

    /// Waits this long between two chunks.
    pub fn delay_between(mut self, delay: Duration) -> Self {
        self.delay_between = delay;
        self
    }

    /// Sends `k` content chunks, then closes the connection without finishing the body (no
    /// `finish_reason`, no usage, no `[DONE]`, no final chunk of the chunked encoding). A
    /// non-streaming request is then answered with nothing: the connection just closes.
    pub fn cut_after(mut self, k: usize) -> Self {
        self.cut_after = Some(k);
        self
    }

    /// Reports these token counts instead of the estimates (prompt: a quarter of the characters
    /// of the request's messages, rounded up; completion: the number of chunks).
    pub fn usage(mut self, prompt_tokens: u32, completion_tokens: u32) -> Self {
        self.usage = Some((prompt_tokens, completion_tokens));
        self
    }

    /// The whole text.
    pub fn text(&self) -> String {
        self.chunks.concat()
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> &[String] {
        &self.chunks
    }
}

impl From<Reply> for Behaviour {
    fn from(reply: Reply) -> Self {
        Behaviour::Reply(reply)
    }
}

/// A scripted HTTP failure, answered before any chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub(super) status: u16,
    pub(super) message: Option<String>,
    pub(super) error_type: Option<String>,
    pub(super) retry_after: Option<u64>,
    pub(super) delay: Duration,
}

impl Failure {
    /// A failure with `status`. The body is `{"error":{"message","type","param","code"}}` with a
    /// type fitting the status; a 401 echoes the bearer token it received in its message (as a
    /// careless server might), so tests can check that it never reaches an error message.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            message: None,
            error_type: None,
            retry_after: None,
            delay: Duration::ZERO,
        }
    }

    /// Uses this error message.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Uses this error `type` (and `code`), e.g. `insufficient_quota` for a 429 that retrying
    /// cannot fix.
    pub fn error_type(mut self, error_type: impl Into<String>) -> Self {
        self.error_type = Some(error_type.into());
        self
    }

    /// Sends a `retry-after` header of this many seconds.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Waits this long before answering.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

impl From<Failure> for Behaviour {
    fn from(failure: Failure) -> Self {
        Behaviour::Fail(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_split_into_words_or_into_n_chunks() {
        let reply = Reply::new("one two  three");
        assert_eq!(reply.chunks(), ["one ", "two ", " ", "three"]);
        let reply = reply.in_chunks(2);
        assert_eq!(reply.chunks().len(), 2);
        assert_eq!(reply.text(), "one two  three");
        assert_eq!(Reply::new("ab").in_chunks(10).chunks(), ["a", "b"]);
    }
}
