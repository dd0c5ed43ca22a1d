//! The audio responses of the test upstream's server: a transcription in the response format
//! asked for, and speech as silent audio streamed in chunks (with delays and an optional cut),
//! both counted like chat responses (see `server.rs`).

use super::audio_script::{Heard, Speech, Spoken};
use super::server::{Outcome, ReplyBody, Step, failed, hang, pause, streamed, whole};
use super::{RecordedRequest, wire};
use crate::voice::silence::{MP3_FRAME, silent_mp3, silent_pcm, silent_wav};
use hyper::Response;
use hyper::body::Bytes;
use serde_json::Value;
use std::time::Duration;

/// The response of a transcription request, in its `response_format` (`json` when absent).
pub(super) async fn transcription(
    outcome: Outcome,
    request: &RecordedRequest,
    heard: Heard,
) -> Response<ReplyBody> {
    match heard {
        Heard::Text(transcription) => {
            pause(transcription.delay).await;
            let format = request.form_field("response_format");
            let format = format.as_deref().unwrap_or("json");
            match wire::transcription(&transcription, format) {
                Some((content_type, body)) => whole(outcome, 200, content_type, None, body),
                None => unsupported(outcome, format),
            }
        }
        Heard::Fail(failure) => failed(outcome, request, &failure).await,
        Heard::Hang => hang(outcome).await,
        Heard::Raw {
            status,
            content_type,
            body,
        } => whole(outcome, status, &content_type, None, body),
    }
}

/// The response of a speech request: silence for its `input` in its `response_format` (`mp3`
/// when absent), streamed.
pub(super) async fn speech(
    outcome: Outcome,
    request: &RecordedRequest,
    spoken: Spoken,
) -> Response<ReplyBody> {
    let speech = match spoken {
        Spoken::Audio(speech) => speech,
        Spoken::Fail(failure) => return failed(outcome, request, &failure).await,
        Spoken::Hang => return hang(outcome).await,
        Spoken::Raw {
            status,
            content_type,
            body,
        } => return whole(outcome, status, &content_type, None, body),
    };
    let field = |name: &str| request.body.get(name).and_then(Value::as_str);
    let duration = spoken_duration(field("input").unwrap_or_default(), speech.ms_per_char);
    let (content_type, audio) = match field("response_format").unwrap_or("mp3") {
        "mp3" => ("audio/mpeg", silent_mp3(duration)),
        "wav" => ("audio/wav", silent_wav(duration)),
        "pcm" => ("audio/pcm", silent_pcm(duration)),
        other => return unsupported(outcome, other),
    };
    streamed(outcome, content_type, speech_steps(audio, &speech))
}

/// A 400 for a `response_format` the test upstream does not produce.
fn unsupported(outcome: Outcome, format: &str) -> Response<ReplyBody> {
    let body = wire::unsupported_format(format);
    whole(outcome, 400, "application/json", None, body)
}

/// How long `input` takes to say: `ms_per_char` per character, or one MP3 frame's worth when
/// that is nothing.
fn spoken_duration(input: &str, ms_per_char: u64) -> Duration {
    let chars = u64::try_from(input.chars().count()).unwrap_or(u64::MAX);
    let duration = Duration::from_millis(chars.saturating_mul(ms_per_char));
    if duration.is_zero() {
        MP3_FRAME
    } else {
        duration
    }
}

/// The steps of streamed audio: the first delay, then `chunk_bytes` pieces with the delay
/// between them, broken off after `cut_after` of them (or after all of them) when scripted.
fn speech_steps(audio: Vec<u8>, speech: &Speech) -> Vec<Step> {
    let audio = Bytes::from(audio);
    let size = speech.chunk_bytes.max(1);
    let mut steps = vec![Step::Wait(speech.delay_first)];
    for (i, start) in (0..audio.len()).step_by(size).enumerate() {
        if speech.cut_after == Some(i) {
            steps.push(Step::Cut);
            return steps;
        }
        if i > 0 {
            steps.push(Step::Wait(speech.delay_between));
        }
        let end = (start + size).min(audio.len());
        steps.push(Step::Send(audio.slice(start..end)));
    }
    if speech.cut_after.is_some() {
        // Cut after every chunk: still no end.
        steps.push(Step::Cut);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(steps: &[Step]) -> Vec<Option<usize>> {
        steps
            .iter()
            .filter_map(|step| match step {
                Step::Send(bytes) => Some(Some(bytes.len())),
                Step::Cut => Some(None),
                Step::Wait(_) | Step::Hang => None,
            })
            .collect()
    }

    #[test]
    fn audio_goes_out_in_chunks_and_may_be_cut() {
        let speech = Speech::new().chunk_bytes(1000);
        let steps = speech_steps(vec![0; 2400], &speech);
        assert_eq!(sizes(&steps), [Some(1000), Some(1000), Some(400)]);
        let steps = speech_steps(vec![0; 2400], &speech.clone().cut_after(1));
        assert_eq!(sizes(&steps), [Some(1000), None]);
        let steps = speech_steps(vec![0; 2400], &speech.cut_after(9));
        assert_eq!(sizes(&steps), [Some(1000), Some(1000), Some(400), None]);
    }

    #[test]
    fn speech_lasts_per_character_and_never_nothing() {
        assert_eq!(
            spoken_duration("ten chars!", 60),
            Duration::from_millis(600)
        );
        assert_eq!(spoken_duration("héllo", 10), Duration::from_millis(50));
        assert_eq!(spoken_duration("", 60), MP3_FRAME);
    }
}
