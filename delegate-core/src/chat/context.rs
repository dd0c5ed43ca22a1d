//! What a send tells the provider: the chat session's head (its model and system prompt),
//! the context trimmed to the token budget, and the response-cache key of a deterministic
//! request.

use super::{ChatRequest, ChatSession, ChatTurn, Message};
use crate::ai::fit_to_budget;
use crate::cache::keys;

/// What sending to a chat session needs of it, none of which changes after it is created:
/// its model and system prompt (the owner is in the cache key). Cached, so a send or a
/// message listing reads no chat session row.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SessionHead {
    /// The chat session's model; `None` for the configured default.
    pub(crate) model: Option<String>,
    /// Its system prompt.
    pub(crate) system_prompt: Option<String>,
}

impl SessionHead {
    /// The head of `session`.
    pub(crate) fn of(session: &ChatSession) -> Self {
        Self {
            model: session.model.clone(),
            system_prompt: session.system_prompt.clone(),
        }
    }
}

/// The request for `new`: the system prompt (unless blank), then the newest of `recent`
/// messages that have text and the new one that fit `budget_tokens` (the new one always),
/// oldest first, for the head's model or `default_model`.
pub(crate) fn request(
    head: SessionHead,
    recent: Vec<Message>,
    new: &Message,
    default_model: &str,
    budget_tokens: u32,
    temperature: Option<f32>,
) -> ChatRequest {
    let system = head
        .system_prompt
        .filter(|p| !p.trim().is_empty())
        .map(|content| ChatTurn {
            role: None,
            content,
        });
    let history = recent
        .into_iter()
        .filter(|m| !m.content.is_empty())
        .map(|m| ChatTurn {
            role: Some(m.role),
            content: m.content,
        });
    let new = ChatTurn {
        role: Some(new.role),
        content: new.content.clone(),
    };
    let turns = system.into_iter().chain(history).chain([new]).collect();
    ChatRequest {
        model: head.model.unwrap_or_else(|| default_model.to_owned()),
        turns: fit_to_budget(turns, budget_tokens),
        temperature,
        max_tokens: None,
    }
}

/// The response-cache key of `request` (`openai:{sha256}` over its model, messages and
/// parameters) when it is deterministic (temperature 0); `None` otherwise.
pub(crate) fn response_key(request: &ChatRequest) -> Option<String> {
    if request.temperature != Some(0.0) {
        return None;
    }
    let turns: Vec<(Option<&str>, &str)> = request
        .turns
        .iter()
        .map(|t| (t.role.map(|r| r.as_str()), t.content.as_str()))
        .collect();
    let canonical = serde_json::json!({
        "model": request.model,
        "messages": turns,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    });
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.to_string().as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Some(keys::ai_response(&hex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{MessageRole, MessageStatus};
    use crate::ids::ChatSessionId;
    use chrono::Utc;

    fn message(role: MessageRole, content: &str) -> Message {
        let session = ChatSessionId::new();
        Message::new(session, role, content, MessageStatus::Complete, Utc::now())
    }

    fn deterministic(model: &str, content: &str) -> ChatRequest {
        ChatRequest {
            model: model.to_owned(),
            turns: vec![ChatTurn {
                role: Some(MessageRole::User),
                content: content.to_owned(),
            }],
            temperature: Some(0.0),
            max_tokens: Some(256),
        }
    }

    #[test]
    fn the_response_key_is_stable_and_names_everything_that_changes_the_reply() {
        let base = deterministic("gpt-4o-mini", "hello");
        let key = response_key(&base).expect("deterministic");
        assert_eq!(response_key(&base.clone()), Some(key.clone()));
        let hex = key
            .strip_prefix("openai:")
            .expect("the original backend's namespace");
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let mut variants = vec![
            deterministic("gpt-4o", "hello"),
            deterministic("gpt-4o-mini", "hello!"),
        ];
        let mut longer = base.clone();
        longer.max_tokens = Some(512);
        variants.push(longer);
        let mut as_system = base.clone();
        as_system.turns[0].role = None;
        variants.push(as_system);
        let mut assistant = base.clone();
        assistant.turns[0].role = Some(MessageRole::Assistant);
        variants.push(assistant);
        for variant in variants {
            assert_ne!(response_key(&variant), Some(key.clone()), "{variant:?}");
        }
    }

    #[test]
    fn only_deterministic_requests_have_a_response_key() {
        for temperature in [None, Some(0.7), Some(1.0)] {
            let mut request = deterministic("m", "hi");
            request.temperature = temperature;
            assert_eq!(response_key(&request), None, "{temperature:?}");
        }
    }

    #[test]
    fn the_context_is_the_system_prompt_then_history_with_text_then_the_new_message() {
        let head = SessionHead {
            model: None,
            system_prompt: Some("Be brief.".to_owned()),
        };
        let recent = vec![
            message(MessageRole::User, "first"),
            message(MessageRole::Assistant, ""), // A failed reply: no text, not sent.
            message(MessageRole::Assistant, "answer"),
        ];
        let new = message(MessageRole::User, "second");
        let request = request(head, recent, &new, "default-model", 10_000, Some(0.0));
        assert_eq!(request.model, "default-model");
        let turns: Vec<(Option<MessageRole>, &str)> = request
            .turns
            .iter()
            .map(|t| (t.role, t.content.as_str()))
            .collect();
        assert_eq!(
            turns,
            [
                (None, "Be brief."),
                (Some(MessageRole::User), "first"),
                (Some(MessageRole::Assistant), "answer"),
                (Some(MessageRole::User), "second"),
            ]
        );
        assert_eq!(request.temperature, Some(0.0));
    }

    #[test]
    fn a_blank_system_prompt_is_not_sent_and_the_sessions_model_wins() {
        let head = SessionHead {
            model: Some("chosen".to_owned()),
            system_prompt: Some("  \n".to_owned()),
        };
        let new = message(MessageRole::User, "hi");
        let request = request(head, Vec::new(), &new, "default-model", 10_000, None);
        assert_eq!(request.model, "chosen");
        assert_eq!(request.turns.len(), 1);
    }
}
