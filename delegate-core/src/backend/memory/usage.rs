//! The in-memory `UsageStore`: the usage ledger and budget holds.

use super::store::{MemoryStore, State};
use crate::error::Result;
use crate::ids::{MessageId, UserId};
use crate::usage::{
    Hold, HoldLimits, HoldOutcome, UsageEvent, UsageStore, UsageTotals, decide_hold,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl UsageStore for MemoryStore {
    async fn record(&self, event: &UsageEvent) -> Result<()> {
        self.state().usage.push(*event);
        Ok(())
    }

    async fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> Result<UsageTotals> {
        Ok(self.state().totals_since(user, since))
    }

    async fn hold(&self, hold: &Hold, limits: &HoldLimits) -> Result<HoldOutcome> {
        // One mutex over the whole state: the check and the insert are one step.
        let mut state = self.state();
        state.holds.retain(|_, h| h.expires_at > limits.now);
        let (live, held_tokens) = state
            .holds
            .values()
            .filter(|h| h.user_id == hold.user_id)
            .fold((0u64, 0u64), |(n, t), h| (n + 1, t + u64::from(h.tokens)));
        let today = state.totals_since(hold.user_id, limits.day_start);
        let month = state.totals_since(hold.user_id, limits.month_start);
        let outcome = decide_hold(
            limits,
            today.messages,
            month.prompt_tokens + month.completion_tokens,
            live,
            held_tokens,
        );
        if outcome == HoldOutcome::Held {
            state.holds.insert(hold.message_id, *hold);
        }
        Ok(outcome)
    }

    async fn release(&self, message_id: MessageId) -> Result<()> {
        self.state().holds.remove(&message_id);
        Ok(())
    }
}

impl State {
    fn totals_since(&self, user: UserId, since: DateTime<Utc>) -> UsageTotals {
        let mut totals = UsageTotals::default();
        for e in self
            .usage
            .iter()
            .filter(|e| e.user_id == user && e.at >= since)
        {
            totals.messages += u64::from(e.messages);
            totals.prompt_tokens += u64::from(e.prompt_tokens);
            totals.completion_tokens += u64::from(e.completion_tokens);
            totals.voice_in_ms += u64::from(e.voice_in_ms);
            totals.voice_out_ms += u64::from(e.voice_out_ms);
        }
        totals
    }
}
