//! The offline echo provider: repeats the user's last message, labelled as not an AI.

use super::estimate_tokens;
use crate::chat::{ChatChunk, ChatModel, ChatRequest, ChatStream, MessageRole, TokenUsage};
use crate::error::Result;
use async_trait::async_trait;
use futures::StreamExt;
use std::time::Duration;

/// The label every echo reply starts with, so nobody mistakes it for a model's answer.
pub const ECHO_LABEL: &str = "Echo (offline demo provider, not an AI):";

/// An offline [`ChatModel`] for demos and tests (`DELEGATE_AI_PROVIDER=echo`).
///
/// The reply is [`ECHO_LABEL`] followed by the last user turn, streamed word by word (each
/// delta is a word with the whitespace after it, so the deltas concatenate to the reply),
/// then a [`ChatChunk::Usage`]. There is no tokenizer: both counts are estimates by
/// [`estimate_tokens`] (a quarter of the characters, rounded up) — the prompt over every turn
/// of the context, the completion over the reply.
#[derive(Debug, Clone, Default)]
pub struct EchoModel {
    word_delay: Duration,
}

impl EchoModel {
    /// An echo provider that streams as fast as the consumer reads.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same provider waiting `delay` before each word, to look like a model thinking
    /// (and to give tests time to disconnect mid-reply).
    pub fn with_word_delay(mut self, delay: Duration) -> Self {
        self.word_delay = delay;
        self
    }

    /// The full reply to `request`.
    pub fn reply_to(request: &ChatRequest) -> String {
        let said = request
            .turns
            .iter()
            .rev()
            .find(|turn| turn.role == Some(MessageRole::User))
            .map(|turn| turn.content.trim())
            .unwrap_or_default();
        if said.is_empty() {
            format!("{ECHO_LABEL} (nothing to echo)")
        } else {
            format!("{ECHO_LABEL} {said}")
        }
    }
}

#[async_trait]
impl ChatModel for EchoModel {
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream> {
        let reply = Self::reply_to(&request);
        let usage = TokenUsage {
            prompt_tokens: request
                .turns
                .iter()
                .map(|turn| estimate_tokens(&turn.content))
                .sum(),
            completion_tokens: estimate_tokens(&reply),
        };
        let mut chunks: Vec<ChatChunk> = reply
            .split_inclusive(char::is_whitespace)
            .map(|word| ChatChunk::Delta(word.to_owned()))
            .collect();
        chunks.push(ChatChunk::Usage(usage));
        let delay = self.word_delay;
        Ok(futures::stream::iter(chunks)
            .then(move |chunk| async move {
                if !delay.is_zero() && matches!(chunk, ChatChunk::Delta(_)) {
                    tokio::time::sleep(delay).await;
                }
                Ok(chunk)
            })
            .boxed())
    }

    fn name(&self) -> &str {
        "echo"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ChatTurn;
    use futures::TryStreamExt;

    fn request(turns: Vec<ChatTurn>) -> ChatRequest {
        ChatRequest {
            model: "echo".into(),
            turns,
            temperature: None,
            max_tokens: None,
        }
    }

    fn turn(role: Option<MessageRole>, content: &str) -> ChatTurn {
        ChatTurn {
            role,
            content: content.into(),
        }
    }

    #[tokio::test]
    async fn echoes_the_last_user_turn_word_by_word_then_usage() {
        let req = request(vec![
            turn(None, "You are terse."),
            turn(Some(MessageRole::User), "first question"),
            turn(Some(MessageRole::Assistant), "an answer"),
            turn(Some(MessageRole::User), "hello  there\nworld"),
        ]);
        let chunks: Vec<ChatChunk> = EchoModel::new()
            .stream(req.clone())
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let (usage, deltas) = chunks.split_last().unwrap();
        let text: String = deltas
            .iter()
            .map(|c| match c {
                ChatChunk::Delta(d) => d.as_str(),
                other => panic!("a usage chunk before the end: {other:?}"),
            })
            .collect();
        assert_eq!(text, format!("{ECHO_LABEL} hello  there\nworld"));
        assert!(text.contains("not an AI"));
        assert!(deltas.len() > 5, "streamed word by word: {deltas:?}");
        let expected_prompt: u32 = req.turns.iter().map(|t| estimate_tokens(&t.content)).sum();
        assert_eq!(
            usage,
            &ChatChunk::Usage(TokenUsage {
                prompt_tokens: expected_prompt,
                completion_tokens: estimate_tokens(&text),
            })
        );
    }

    #[tokio::test]
    async fn with_no_user_turn_it_says_so() {
        let chunks: Vec<ChatChunk> = EchoModel::new()
            .stream(request(vec![turn(None, "system")]))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let text: String = chunks
            .iter()
            .filter_map(|c| match c {
                ChatChunk::Delta(d) => Some(d.as_str()),
                ChatChunk::Usage(_) => None,
            })
            .collect();
        assert_eq!(text, format!("{ECHO_LABEL} (nothing to echo)"));
        assert_eq!(EchoModel::new().name(), "echo");
    }
}
