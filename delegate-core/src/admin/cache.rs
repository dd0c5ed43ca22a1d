//! Cache administration: statistics per layer and namespace, and clearing by pattern (on
//! every instance's in-process level too).

use super::{Actor, AdminService, AuditEvent, AuditKind};
use crate::cache::stats::LayerReport;
use crate::error::{Error, Result};

/// Longest accepted clear pattern, in bytes.
const MAX_PATTERN_LEN: usize = 200;

/// What the cache holds and how it was used (hits and misses since this process started).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStatsReport {
    /// Per layer, in-process first.
    pub layers: Vec<LayerReport>,
}

/// What a clear removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheClearReport {
    /// Entries removed from the shared level (or the only level).
    pub removed: u64,
}

impl AdminService {
    /// Cache statistics; [`Error::Unavailable`] when the cache cannot describe itself.
    pub async fn cache_stats(&self, actor: &Actor) -> Result<CacheStatsReport> {
        Self::authorize(actor)?;
        let Some(inspect) = &self.inspect else {
            return Err(Error::unavailable(
                "cache statistics",
                std::time::Duration::from_secs(3600),
            ));
        };
        Ok(CacheStatsReport {
            layers: inspect.inspect().await?,
        })
    }

    /// Removes every cache entry whose key matches `pattern` (`*` matches any run; keys look
    /// like `user:{id}`, `chat_sessions:{id}`), here and in every instance's in-process level.
    /// Patterns are letters, digits and `:_-.*{}`, at most 200 bytes.
    pub async fn clear_cache(&self, actor: &Actor, pattern: &str) -> Result<CacheClearReport> {
        Self::authorize(actor)?;
        check_pattern(pattern)?;
        let removed = self.cache.clear(pattern).await?;
        self.record(
            AuditEvent::new(AuditKind::CacheCleared, actor.audit_actor(), self.now())
                .with_detail(serde_json::json!({ "pattern": pattern, "removed": removed })),
        )
        .await;
        Ok(CacheClearReport { removed })
    }
}

fn check_pattern(pattern: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ":_-.*{}".contains(c);
    if pattern.is_empty() || pattern.len() > MAX_PATTERN_LEN || !pattern.chars().all(allowed) {
        return Err(Error::invalid(
            "pattern",
            format!(
                "must be 1–{MAX_PATTERN_LEN} characters of letters, digits and :_-.*{{}} \
                 (`*` matches anything, e.g. `user:*`)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_pattern;

    #[test]
    fn patterns_are_validated() {
        for ok in ["*", "user:*", "chat_sessions:0190-*", "messages:{abc}:*"] {
            assert!(check_pattern(ok).is_ok(), "{ok}");
        }
        for bad in ["", "user:[a-z]", "a?b", "x y", "a\\*", &"a".repeat(201)] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
    }
}
