//! The data of Delegate's own events, in the REST API's shapes (camelCase, RFC 3339 times
//! with milliseconds), so a client handles an event like the response it mirrors.

use crate::chat::{ChatSession, Message};
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
