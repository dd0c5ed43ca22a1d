//! AI chat providers behind the [`ChatModel`] trait: the OpenAI-compatible one (feature
//! `openai`) and the offline echo, chosen from [`AiConfig`] by [`from_config`].
//!
//! Token counts that no provider reported are estimated with [`estimate_tokens`]: a quarter of
//! the characters, rounded up. It is the usual rule of thumb for English text with OpenAI's
//! tokenizers, not a tokenizer; it is used for the echo provider's usage and for trimming the
//! context to [`AiConfig::context_budget_tokens`] ([`fit_to_budget`]).

mod echo;
#[cfg(feature = "openai")]
pub(crate) mod endpoint;
#[cfg(feature = "openai")]
pub(crate) mod openai;

pub use echo::{ECHO_LABEL, EchoModel};
#[cfg(feature = "openai")]
pub use openai::{DEFAULT_BASE_URL, OpenAiModel};

use crate::chat::{ChatModel, ChatTurn};
use crate::config::{AiConfig, AiProviderKind};
use crate::error::Result;
use std::sync::Arc;

/// The provider `config` asks for: the echo provider when `provider = "echo"`; the
/// OpenAI-compatible provider when an API key or a base URL is set (local servers such as
/// Ollama or vLLM may need no key); `None` when neither, so chat can answer that AI is not
/// configured ([`crate::Error::AiNotConfigured`]). Blank values count as unset.
///
/// Fails on an invalid configuration (a base URL that is not `http(s)://…`, or an OpenAI
/// configuration in a build without the `openai` feature).
pub fn from_config(config: &AiConfig) -> Result<Option<Arc<dyn ChatModel>>> {
    match config.provider {
        AiProviderKind::Echo => Ok(Some(Arc::new(EchoModel::new()))),
        AiProviderKind::OpenAi => {
            let has_key = config
                .api_key
                .as_ref()
                .is_some_and(|k| !k.expose().trim_ascii().is_empty());
            let has_base = config
                .base_url
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty());
            if !has_key && !has_base {
                return Ok(None);
            }
            openai_from_config(config)
        }
    }
}

#[cfg(feature = "openai")]
fn openai_from_config(config: &AiConfig) -> Result<Option<Arc<dyn ChatModel>>> {
    Ok(Some(Arc::new(OpenAiModel::new(config)?)))
}

#[cfg(not(feature = "openai"))]
fn openai_from_config(_: &AiConfig) -> Result<Option<Arc<dyn ChatModel>>> {
    Err(crate::error::Error::invalid(
        "config",
        "an OpenAI-compatible provider is configured but this build lacks the `openai` feature",
    ))
}

/// An estimate of the tokens in `text`: its characters divided by four, rounded up.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count().div_ceil(4)).unwrap_or(u32::MAX)
}

/// Trims a context to about `budget_tokens` (by [`estimate_tokens`]): the leading system turns
/// (role `None`) and the last turn (the new message) always stay; the oldest of the others are
/// dropped until the estimate fits. The result may exceed the budget when what always stays
/// does.
pub fn fit_to_budget(mut turns: Vec<ChatTurn>, budget_tokens: u32) -> Vec<ChatTurn> {
    let system = turns.iter().take_while(|t| t.role.is_none()).count();
    let mut total: u64 = turns
        .iter()
        .map(|t| u64::from(estimate_tokens(&t.content)))
        .sum();
    let mut drop_until = system;
    while total > u64::from(budget_tokens) && drop_until + 1 < turns.len() {
        total -= u64::from(estimate_tokens(&turns[drop_until].content));
        drop_until += 1;
    }
    turns.drain(system..drop_until);
    turns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use crate::chat::MessageRole;

    fn turn(role: Option<MessageRole>, content: &str) -> ChatTurn {
        ChatTurn {
            role,
            content: content.into(),
        }
    }

    #[test]
    fn estimates_a_quarter_of_the_characters_rounded_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("ééééé"), 2, "characters, not bytes");
    }

    #[test]
    fn trimming_keeps_the_system_prompt_and_the_newest_turns() {
        let user = Some(MessageRole::User);
        let assistant = Some(MessageRole::Assistant);
        let turns = vec![
            turn(None, "be kind"),            // 2
            turn(user, &"a".repeat(40)),      // 10
            turn(assistant, &"b".repeat(40)), // 10
            turn(user, &"c".repeat(40)),      // 10
            turn(assistant, &"d".repeat(40)), // 10
            turn(user, "the new question"),   // 4
        ];
        assert_eq!(fit_to_budget(turns.clone(), 1000), turns);
        let fitted = fit_to_budget(turns.clone(), 26);
        assert_eq!(
            fitted,
            [&turns[0], &turns[3], &turns[4], &turns[5]].map(Clone::clone)
        );
        let fitted = fit_to_budget(turns.clone(), 1);
        assert_eq!(fitted, [turns[0].clone(), turns[5].clone()]);
        assert!(fit_to_budget(Vec::new(), 0).is_empty());
    }

    #[test]
    fn the_configuration_picks_the_provider() {
        let mut config = AiConfig::default();
        assert!(
            from_config(&config).unwrap().is_none(),
            "nothing configured"
        );
        config.api_key = Some(Secret::new(""));
        config.base_url = Some(" ".into());
        assert!(
            from_config(&config).unwrap().is_none(),
            "empty values are unset"
        );

        config.provider = AiProviderKind::Echo;
        assert_eq!(from_config(&config).unwrap().unwrap().name(), "echo");

        config.provider = AiProviderKind::OpenAi;
        config.api_key = Some(Secret::new("sk-test"));
        #[cfg(feature = "openai")]
        {
            assert_eq!(from_config(&config).unwrap().unwrap().name(), "openai");
            config.api_key = None;
            config.base_url = Some("http://127.0.0.1:11434/v1".into());
            assert_eq!(from_config(&config).unwrap().unwrap().name(), "openai");
            config.base_url = Some("ftp://example".into());
            assert!(from_config(&config).is_err());
        }
        #[cfg(not(feature = "openai"))]
        assert!(from_config(&config).is_err());
    }
}
