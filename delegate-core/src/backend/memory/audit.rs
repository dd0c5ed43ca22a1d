//! The in-memory `AuditStore`: events by id (time-ordered).

use super::store::MemoryStore;
use crate::admin::{AuditEvent, AuditQuery, AuditStore};
use crate::error::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append(&self, events: &[AuditEvent]) -> Result<()> {
        let mut state = self.state();
        for event in events {
            state.audit.entry(event.id).or_insert_with(|| event.clone());
        }
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let state = self.state();
        Ok(state
            .audit
            .values()
            .rev()
            .filter(|e| query.before.is_none_or(|b| e.id < b) && query.matches(e))
            .take(query.limit as usize)
            .cloned()
            .collect())
    }

    async fn purge_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut state = self.state();
        let len = state.audit.len();
        state.audit.retain(|_, e| e.at >= before);
        Ok((len - state.audit.len()) as u64)
    }
}
