//! Loading [`Config`] from an optional TOML file, `DELEGATE_*` variables and the original
//! Node.js backend's variable names.

use super::Config;
use crate::error::{Error, Result};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use std::path::Path;

/// The original backend's environment variables and where each lands in [`Config`].
const LEGACY_ENV: &[(&str, &str)] = &[
    ("PORT", "server.port"),
    ("HOST", "server.host"),
    ("DATABASE_URL", "database_url"),
    ("REDIS_URL", "redis_url"),
    ("JWT_SECRET", "auth.jwt_secret"),
    ("JWT_REFRESH_SECRET", "auth.jwt_refresh_secret"),
    ("NODE_ENV", "environment"),
    ("CORS_ORIGIN", "server.cors_origin"),
    ("RATE_LIMIT_MAX_REQUESTS", "rate_limit.max_requests"),
    ("RATE_LIMIT_WINDOW_MS", "rate_limit.window_ms"),
    (
        "RATE_LIMIT_AUTH_MAX_REQUESTS",
        "rate_limit.auth_max_requests",
    ),
    ("RATE_LIMIT_AUTH_WINDOW_MS", "rate_limit.auth_window_ms"),
    ("CACHE_TTL_SHORT", "cache.ttl_short_secs"),
    ("CACHE_TTL_MEDIUM", "cache.ttl_medium_secs"),
    ("CACHE_TTL_LONG", "cache.ttl_long_secs"),
    ("OPENAI_API_KEY", "ai.api_key"),
    ("OPENAI_BASE_URL", "ai.base_url"),
    ("OPENAI_CHAT_MODEL", "ai.model"),
    ("OPENAI_ORGANIZATION", "ai.organization"),
    ("OPENAI_STT_MODEL", "voice.stt_model"),
    ("OPENAI_TTS_MODEL", "voice.tts_model"),
    ("OPENAI_VOICE_BASE_URL", "voice.base_url"),
    ("OPENAI_VOICE_API_KEY", "voice.api_key"),
    // `DELEGATE_AI_PROVIDER` has one underscore, so the `DELEGATE_*` source would read it as a
    // top-level `ai_provider`; map it here.
    ("DELEGATE_AI_PROVIDER", "ai.provider"),
    ("METRICS_TOKEN", "server.metrics_token"),
];

impl Config {
    /// Loads configuration: defaults, then the TOML file (if given, or named by
    /// `DELEGATE_CONFIG`), then `DELEGATE_*` variables (`__` separates levels, e.g.
    /// `DELEGATE_AUTH__ACCESS_TTL_SECS`), then the original backend's names (`PORT`,
    /// `DATABASE_URL`, `JWT_SECRET`, …), which win.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("DELEGATE_CONFIG").map(Into::into));
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(Error::invalid(
                    "config",
                    format!("config file {} does not exist", path.display()),
                ));
            }
            figment = figment.merge(Toml::file(path));
        }
        let figment = figment
            .merge(
                Env::prefixed("DELEGATE_")
                    .ignore(&["CONFIG"])
                    .split("__")
                    .lowercase(true),
            )
            .merge(
                Env::raw()
                    .filter(|key| legacy_target(key.as_str()).is_some())
                    .map(|key| legacy_target(key.as_str()).unwrap_or_default().into()),
            );
        let mut config: Config = figment
            .extract()
            .map_err(|e| Error::invalid("config", format!("bad configuration: {e}")))?;
        config.environment_configured = figment.find_value("environment").is_ok();
        Ok(config)
    }
}

impl Config {
    /// Whether [`Config::load`] reads the environment variable `name`: one of the original
    /// backend's names, `DELEGATE_CONFIG`, or `DELEGATE_` + a setting's path (levels joined
    /// by `__`, any case).
    pub fn reads_env(name: &str) -> bool {
        if legacy_target(name).is_some() || name.eq_ignore_ascii_case("DELEGATE_CONFIG") {
            return true;
        }
        let Some(path) = name
            .get(..9)
            .filter(|p| p.eq_ignore_ascii_case("DELEGATE_"))
            .map(|_| name[9..].to_ascii_lowercase())
        else {
            return false;
        };
        let settings = serde_json::to_value(Config::default()).expect("the config serialises");
        let mut node = &settings;
        for part in path.split("__") {
            match node.get(part) {
                Some(next) => node = next,
                None => return false,
            }
        }
        true
    }
}

fn legacy_target(key: &str) -> Option<&'static str> {
    LEGACY_ENV
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, target)| *target)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return its own large error.
mod tests {
    use super::*;
    use crate::config::Environment;
    use figment::Jail;

    #[test]
    fn legacy_names_and_delegate_prefix_and_toml_all_apply() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "delegate.toml",
                "database_url = \"sqlite://from-file.db\"\n[auth]\naccess_ttl_secs = 60\n",
            )?;
            jail.set_env("PORT", "4000");
            jail.set_env("NODE_ENV", "production");
            jail.set_env("DELEGATE_AUTH__REFRESH_TTL_DAYS", "7");
            jail.set_env("JWT_SECRET", "x".repeat(40));
            jail.set_env("RATE_LIMIT_WINDOW_MS", "60000");
            jail.set_env("CACHE_TTL_SHORT", "30");
            let config = Config::load(Some(Path::new("delegate.toml"))).expect("loads");
            assert_eq!(config.server.port, 4000);
            assert_eq!(config.environment, Environment::Production);
            assert_eq!(config.database_url, "sqlite://from-file.db");
            assert_eq!(config.auth.access_ttl_secs, 60);
            assert_eq!(config.auth.refresh_ttl_days, 7);
            assert_eq!(config.auth.jwt_secret.as_ref().map(|s| s.len()), Some(40));
            assert_eq!(config.rate_limit.window_ms, 60_000);
            assert_eq!(config.cache.ttl_short_secs, 30);
            Ok(())
        });
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        Jail::expect_with(|_| {
            let config = Config::load(None).expect("loads");
            assert_eq!(config.server.port, 3001);
            assert_eq!(config.database_url, "sqlite://delegate.db");
            assert_eq!(config.redis_url, "memory:");
            Ok(())
        });
    }

    #[test]
    fn ai_settings_come_from_the_original_names() {
        Jail::expect_with(|jail| {
            let defaults = Config::load(None).expect("loads").ai;
            assert_eq!(defaults.provider, crate::config::AiProviderKind::OpenAi);
            assert_eq!(defaults.model, "gpt-4o-mini");
            assert_eq!(defaults.timeout_secs, 60);
            assert_eq!(defaults.max_retries, 2);
            assert_eq!(defaults.context_budget_tokens, 8000);
            assert!(defaults.api_key.is_none() && defaults.base_url.is_none());

            jail.set_env("OPENAI_API_KEY", "sk-test-key");
            jail.set_env("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1");
            jail.set_env("OPENAI_CHAT_MODEL", "llama3");
            jail.set_env("OPENAI_ORGANIZATION", "org-1");
            jail.set_env("DELEGATE_AI_PROVIDER", "echo");
            jail.set_env("DELEGATE_AI__TIMEOUT_SECS", "5");
            jail.set_env("DELEGATE_AI__MAX_RETRIES", "0");
            jail.set_env("DELEGATE_AI__CONTEXT_BUDGET_TOKENS", "100");
            let ai = Config::load(None).expect("loads").ai;
            assert_eq!(
                ai.api_key.as_ref().map(|k| k.expose()),
                Some(&b"sk-test-key"[..])
            );
            assert_eq!(ai.base_url.as_deref(), Some("http://127.0.0.1:11434/v1"));
            assert_eq!(ai.model, "llama3");
            assert_eq!(ai.organization.as_deref(), Some("org-1"));
            assert_eq!(ai.provider, crate::config::AiProviderKind::Echo);
            assert_eq!(ai.timeout_secs, 5);
            assert_eq!(ai.max_retries, 0);
            assert_eq!(ai.context_budget_tokens, 100);
            assert!(!format!("{ai:?}").contains("sk-test-key"));
            Ok(())
        });
    }

    #[test]
    fn reads_env_knows_every_name_the_loader_reads_and_no_other() {
        for name in [
            "PORT",
            "DATABASE_URL",
            "METRICS_TOKEN",
            "DELEGATE_CONFIG",
            "DELEGATE_AI_PROVIDER",
            "DELEGATE_AUTH__CLEANUP_INTERVAL_SECS",
            "delegate_server__body_limit_bytes",
            "DELEGATE_MIGRATE_ON_START",
        ] {
            assert!(Config::reads_env(name), "{name}");
        }
        for name in [
            "PATH",
            "DELEGATE_NOPE",
            "DELEGATE_AUTH__NOPE",
            "DELEGATE_",
            "DELEG",
        ] {
            assert!(!Config::reads_env(name), "{name}");
        }
    }

    #[test]
    fn a_wrong_type_is_a_clear_error() {
        Jail::expect_with(|jail| {
            jail.set_env("PORT", "not-a-port");
            let err = Config::load(None).unwrap_err();
            assert!(err.to_string().contains("port"), "{err}");
            Ok(())
        });
    }
}
