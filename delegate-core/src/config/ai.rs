//! The AI provider's settings and the AI policy by tier (models, output caps, replies in
//! flight).

use super::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which AI chat provider answers (`DELEGATE_AI_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AiProviderKind {
    /// An OpenAI-compatible HTTP API (OpenAI, Azure OpenAI, Ollama, vLLM), used when an API key
    /// or a base URL is configured.
    #[default]
    OpenAi,
    /// The offline echo provider for demos and tests: it repeats the user's message and is
    /// labelled as not an AI.
    Echo,
}

/// How the provider's key is sent (`DELEGATE_AI__KEY_HEADER`), for chat and voice alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum KeyHeader {
    /// `Authorization: Bearer <key>` (OpenAI and most compatible servers).
    #[default]
    #[serde(rename = "bearer")]
    Bearer,
    /// `api-key: <key>` (Azure OpenAI).
    #[serde(rename = "api-key")]
    ApiKey,
}

/// The AI chat provider's settings. With neither an API key, a base URL nor the echo provider,
/// no provider is configured and chat answers 503 `ai_not_configured`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AiConfig {
    /// Which provider answers (`DELEGATE_AI_PROVIDER`: `openai` or `echo`).
    pub provider: AiProviderKind,
    /// The provider's API key, sent as a bearer token (`OPENAI_API_KEY`).
    pub api_key: Option<Secret>,
    /// How the key is sent: `bearer` (the default) or Azure's `api-key` header
    /// (`DELEGATE_AI__KEY_HEADER`); voice uses the same.
    pub key_header: KeyHeader,
    /// The API base URL including the version path, e.g. `https://api.openai.com/v1` (the
    /// default) or `http://localhost:11434/v1` for Ollama (`OPENAI_BASE_URL`).
    pub base_url: Option<String>,
    /// The default chat model (`OPENAI_CHAT_MODEL`).
    pub model: String,
    /// The organization header sent to OpenAI, if any (`OPENAI_ORGANIZATION`).
    pub organization: Option<String>,
    /// The deadline for a whole reply, retries and streaming included, in seconds
    /// (`DELEGATE_AI__TIMEOUT_SECS`).
    pub timeout_secs: u64,
    /// Retries after a 429, a 5xx or a connection failure, made only before the first token
    /// (`DELEGATE_AI__MAX_RETRIES`).
    pub max_retries: u32,
    /// The most tokens of context (system prompt plus prior messages) sent per request,
    /// estimated at four characters a token (`DELEGATE_AI__CONTEXT_BUDGET_TOKENS`).
    pub context_budget_tokens: u32,
    /// Sampling temperature sent with every request; unset leaves the provider's default
    /// (`DELEGATE_AI__TEMPERATURE`).
    pub temperature: Option<f32>,
    /// Cache replies under `openai:{hash}` of model, messages and parameters, for
    /// deterministic requests only (temperature 0); off by default
    /// (`DELEGATE_AI__RESPONSE_CACHE`).
    pub response_cache: bool,
    /// What each tier may spend: allowed models, the output cap sent with every request,
    /// and concurrent replies (`DELEGATE_AI__TIERS__PRO__MODELS=[gpt-4o,gpt-4o-mini]`, …).
    pub tiers: AiTiers,
}

/// One tier's AI policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct AiTierPolicy {
    /// Models this tier may use; empty means only the configured chat model.
    pub models: Vec<String>,
    /// The most completion tokens requested per reply (`max_tokens` on every request).
    pub max_output_tokens: u32,
    /// Replies one user of this tier may have streaming at once; more answer 429.
    pub max_concurrent_replies: u32,
}

impl Default for AiTierPolicy {
    fn default() -> Self {
        AiTiers::default().free
    }
}

/// AI policy by tier.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct AiTiers {
    /// The free tier.
    pub free: AiTierPolicy,
    /// The pro tier.
    pub pro: AiTierPolicy,
    /// The enterprise tier.
    pub enterprise: AiTierPolicy,
}

impl Default for AiTiers {
    fn default() -> Self {
        let tier = |max_output_tokens, max_concurrent_replies| AiTierPolicy {
            models: Vec::new(),
            max_output_tokens,
            max_concurrent_replies,
        };
        Self {
            free: tier(1_024, 2),
            pro: tier(4_096, 4),
            enterprise: tier(8_192, 8),
        }
    }
}

impl AiTiers {
    /// The policy of `tier`.
    pub fn of(&self, tier: crate::users::Tier) -> &AiTierPolicy {
        use crate::users::Tier;
        match tier {
            Tier::Free => &self.free,
            Tier::Pro => &self.pro,
            Tier::Enterprise => &self.enterprise,
        }
    }
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            provider: AiProviderKind::OpenAi,
            api_key: None,
            key_header: KeyHeader::Bearer,
            base_url: None,
            model: "gpt-4o-mini".to_owned(),
            organization: None,
            timeout_secs: 60,
            max_retries: 2,
            context_budget_tokens: 8000,
            temperature: None,
            response_cache: false,
            tiers: AiTiers::default(),
        }
    }
}

impl AiConfig {
    /// The deadline for a whole reply.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}
