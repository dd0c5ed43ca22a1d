//! The data of Delegate's own events, in the REST API's shapes (camelCase, RFC 3339 times
//! with milliseconds), so a client handles an event like the response it mirrors.

use crate::chat::{ChatSession, Message};
use crate::transcript::Transcript;
use crate::usage::UsageReport;
use crate::users::User;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A chat session as `GET /api/v1/sessions/{id}` answers it.
pub fn session(s: &ChatSession) -> Value {
    json!({
        "id": s.id.to_string(),
        "title": s.title,
        "model": s.model,
        "systemPrompt": s.system_prompt,
        "createdAt": time(s.created_at),
        "updatedAt": time(s.updated_at),
    })
}

/// The caller's profile as `GET /api/v1/users/profile` answers it.
pub fn user(u: &User) -> Value {
    json!({
        "id": u.id.to_string(),
        "email": u.email,
        "name": u.name,
        "tier": u.tier.as_str(),
        "role": u.role.as_str(),
        "preferences": u.preferences,
        "avatarUrl": u.avatar_url,
        "createdAt": time(u.created_at),
    })
}

/// A transcript as `GET /api/v1/transcripts/{id}` answers it.
pub fn transcript(t: &Transcript) -> Value {
    json!({
        "id": t.id.to_string(),
        "sessionId": t.session_id.map(|s| s.to_string()),
        "title": t.title,
        "content": t.content,
        "tags": t.tags,
        "source": t.source.as_str(),
        "wordCount": t.word_count,
        "createdAt": time(t.created_at),
        "updatedAt": time(t.updated_at),
    })
}

/// A message as `GET /api/v1/sessions/{id}/messages` lists it.
pub fn message(m: &Message) -> Value {
    let usage = m.usage.map(|u| {
        json!({
            "promptTokens": u.prompt_tokens,
            "completionTokens": u.completion_tokens,
            "totalTokens": u.prompt_tokens.saturating_add(u.completion_tokens),
        })
    });
    json!({
        "id": m.id.to_string(),
        "sessionId": m.session_id.to_string(),
        "role": m.role.as_str(),
        "content": m.content,
        "status": m.status.as_str(),
        "createdAt": time(m.created_at),
        "usage": usage,
        "source": m.source.as_str(),
    })
}

/// A usage report as `GET /api/v1/users/usage` answers it.
pub fn usage(r: &UsageReport) -> Value {
    let voice = crate::voice::VoiceUsage::of(r);
    json!({
        "tier": r.tier.as_str(),
        "messages": {
            "used": r.messages_today,
            "limit": r.quota.messages_per_day,
            "periodStart": time(r.day_start),
        },
        "tokens": {
            "used": r.month.prompt_tokens + r.month.completion_tokens,
            "limit": r.quota.tokens_per_month,
            "periodStart": time(r.month_start),
        },
        "promptTokens": r.month.prompt_tokens,
        "completionTokens": r.month.completion_tokens,
        "voice": {
            "secondsIn": voice.seconds_in,
            "secondsOut": voice.seconds_out,
            "quotaSeconds": voice.quota_seconds,
            "periodEnd": time(voice.period_end),
        },
    })
}
