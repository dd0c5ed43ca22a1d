//! Metrics of AI provider calls: requests by outcome, time to first token, tokens and errors,
//! per provider and model, recorded as the reply streams through.

use super::model::{ChatChunk, ChatStream};
use crate::error::Result;
use futures::StreamExt;
use std::time::Instant;

/// Records the call's start outcome and wraps its stream so that the first token, the usage
/// and a mid-stream failure are recorded too.
pub(crate) fn observe(
    started: Result<ChatStream>,
    provider: &str,
    model: &str,
    at: Instant,
) -> Result<ChatStream> {
    let (provider, model) = (provider.to_owned(), model.to_owned());
    metrics::counter!(
        "delegate_ai_requests_total",
        "provider" => provider.clone(),
        "model" => model.clone(),
    )
    .increment(1);
    let stream = match started {
        Ok(stream) => stream,
        Err(e) => {
            count_error(&provider, &model, "start");
            return Err(e);
        }
    };
    let mut first = true;
    Ok(stream
        .inspect(move |chunk| match chunk {
            Ok(ChatChunk::Delta(_)) if first => {
                first = false;
                metrics::histogram!(
                    "delegate_ai_time_to_first_token_seconds",
                    "provider" => provider.clone(),
                    "model" => model.clone(),
                )
                .record(at.elapsed().as_secs_f64());
            }
            Ok(ChatChunk::Usage(usage)) => {
                for (kind, n) in [
                    ("prompt", usage.prompt_tokens),
                    ("completion", usage.completion_tokens),
                ] {
                    metrics::counter!(
                        "delegate_ai_tokens_total",
                        "provider" => provider.clone(),
                        "model" => model.clone(),
                        "kind" => kind,
                    )
                    .increment(u64::from(n));
                }
            }
            Err(_) => count_error(&provider, &model, "stream"),
            Ok(_) => {}
        })
        .boxed())
}

/// Counts a failed call: before its first chunk (`start`) or after (`stream`).
fn count_error(provider: &str, model: &str, stage: &'static str) {
    metrics::counter!(
        "delegate_ai_errors_total",
        "provider" => provider.to_owned(),
        "model" => model.to_owned(),
        "stage" => stage,
    )
    .increment(1);
}
