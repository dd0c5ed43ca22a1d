//! Time to first reply audio through the voice pipeline, against the same work done one step
//! after another, with the local OpenAI-compatible upstream set to realistic delays:
//! speech to text 300 ms, the reply's first token after 400 ms then about 30 tokens a
//! second (a word every 33 ms), and each sentence's speech 200 ms to its first byte.
//!
//! * `pipelined`: one `POST /api/v1/voice/process` with `Accept: text/event-stream`, timed
//!   from the upload to the first `audio` event. Every event is read to the end, and the
//!   bench checks that every sentence was spoken, in order.
//! * `sequential`: `POST /voice/transcribe`, then the chat message sent as JSON (the whole
//!   reply), then `POST /voice/synthesize` of the whole reply, timed to its first audio
//!   byte.
//! * `overhead`: the pipelined turn with every delay at zero. What remains is Delegate's
//!   own work on the path to the first audio: the multipart upload, measuring the audio,
//!   four stores, three provider calls and the SSE events. It is shown per hop, where a hop
//!   is one of the four crossings (client to Delegate, Delegate to each provider).
//!
//! Each case runs with a one-sentence and a twenty-sentence reply whose first sentence is
//! the same. Prints p50 and p90 per case. Run with
//! `cargo bench -p delegate-benches --bench voice` (`VOICE_BENCH_RUNS`, default 8).

use delegate_benches::{PASSWORD, bench_config};
use delegate_core::testing::upstream::{Reply, Speech, Transcription, Upstream};
use delegate_core::{Delegate, Registration, Secret};
use futures::StreamExt;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The first sentence of every reply (seven words).
const FIRST: &str = "Sure, here is the forecast for today.";
/// What the user said (the upload is a real 2 s recording).
const HEARD: &str = "What is the weather like today?";

/// The upstream's delays.
struct Delays {
    stt: Duration,
    first_token: Duration,
    between_tokens: Duration,
    tts_first_byte: Duration,
}

const REALISTIC: Delays = Delays {
    stt: Duration::from_millis(300),
    first_token: Duration::from_millis(400),
    between_tokens: Duration::from_millis(33),
    tts_first_byte: Duration::from_millis(200),
};

const NONE: Delays = Delays {
    stt: Duration::ZERO,
    first_token: Duration::ZERO,
    between_tokens: Duration::ZERO,
    tts_first_byte: Duration::ZERO,
};

fn main() {
    let runs: usize = std::env::var("VOICE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    rt.block_on(async move {
        let upstream = Upstream::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let bench = Bench::start(&upstream, &dir).await;
        let replies = [("1 sentence", reply(1)), ("20 sentences", reply(20))];
        // Warm-up: connections, the store, the first allocations.
        bench.pipelined(&upstream, &NONE, &replies[0].1).await;
        for (name, text) in &replies {
            let mut pipelined = Vec::new();
            let mut sequential = Vec::new();
            let mut overhead = Vec::new();
            for _ in 0..runs {
                pipelined.push(bench.pipelined(&upstream, &REALISTIC, text).await);
                sequential.push(bench.sequential(&upstream, &REALISTIC, text).await);
                overhead.push(bench.pipelined(&upstream, &NONE, text).await);
            }
            let [p50, p90] = percentiles(&pipelined);
            let [s50, s90] = percentiles(&sequential);
            let [o50, o90] = percentiles(&overhead);
            println!(
                "{name}: first audio pipelined p50 {} ms (p90 {}), sequential p50 {} ms \
                 (p90 {}), ratio {:.2}; zero-delay overhead p50 {} ms (p90 {}), per hop p50 \
                 {:.2} ms",
                ms(p50),
                ms(p90),
                ms(s50),
                ms(s90),
                s50.as_secs_f64() / p50.as_secs_f64(),
                ms(o50),
                ms(o90),
                o50.as_secs_f64() * 1000.0 / 4.0,
            );
        }
        let ideal = REALISTIC.stt
            + REALISTIC.first_token
            + REALISTIC.between_tokens * (FIRST.split(' ').count() as u32 - 1)
            + REALISTIC.tts_first_byte;
        println!(
            "the upstream's own delays on the path to the first audio add up to {} ms",
            ms(ideal)
        );
    });
}

/// A reply of `sentences` sentences, the first always [`FIRST`].
fn reply(sentences: usize) -> String {
    let mut text = FIRST.to_owned();
    for i in 1..sentences {
        text.push_str(&format!(" Sentence {i} says a little more about it."));
    }
    text
}

/// A Delegate server and a signed-in user.
struct Bench {
    client: reqwest::Client,
    base: String,
    token: String,
    audio: Vec<u8>,
}

impl Bench {
    async fn start(upstream: &Upstream, dir: &tempfile::TempDir) -> Self {
        let mut config = bench_config();
        config.database_url = format!("sqlite://{}", dir.path().join("voice.db").display());
        config.ai.base_url = Some(upstream.base_url());
        config.ai.api_key = Some(Secret::new("sk-bench"));
        config.quota.free.messages_per_day = 0;
        config.quota.free.tokens_per_month = 0;
        config.voice.tiers.free.seconds_per_month = 0;
        config.rate_limit.max_requests = 1_000_000;
        let delegate = Delegate::connect(config).await.expect("Delegate builds");
        let signed_in = delegate
            .auth()
            .register(Registration::new("voice@example.com", PASSWORD))
            .await
            .expect("registration");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(delegate_http::serve(
            delegate,
            listener,
            std::future::pending(),
        ));
        let audio = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../delegate-core/tests/fixtures/audio/hello.mp3"
        ))
        .expect("the fixture");
        Self {
            client: reqwest::Client::new(),
            base,
            token: signed_in.tokens.access_token,
            audio,
        }
    }

    /// Scripts the upstream for one turn.
    fn script(&self, upstream: &Upstream, delays: &Delays, text: &str) {
        upstream.set_transcription_default(Transcription::new(HEARD).delay(delays.stt));
        upstream.set_default(
            Reply::new(text)
                .delay_first(delays.first_token)
                .delay_between(delays.between_tokens),
        );
        upstream.set_speech_default(Speech::new().delay_first(delays.tts_first_byte));
    }

    async fn new_chat(&self) -> String {
        let chat: Value = self
            .client
            .post(format!("{}/api/v1/sessions", self.base))
            .bearer_auth(&self.token)
            .json(&json!({}))
            .send()
            .await
            .expect("create chat")
            .json()
            .await
            .expect("chat");
        chat["id"].as_str().expect("an id").to_owned()
    }

    fn upload(&self, texts: &[(&str, &str)]) -> Form {
        let part = Part::bytes(self.audio.clone())
            .file_name("question.mp3")
            .mime_str("audio/mpeg")
            .expect("mime");
        texts
            .iter()
            .fold(Form::new().part("audio", part), |f, (k, v)| {
                f.text(k.to_string(), v.to_string())
            })
    }

    /// One streamed turn: the time to the first `audio` event; checks every sentence came.
    async fn pipelined(&self, upstream: &Upstream, delays: &Delays, text: &str) -> Duration {
        self.script(upstream, delays, text);
        let chat = self.new_chat().await;
        let start = Instant::now();
        let res = self
            .client
            .post(format!("{}/api/v1/voice/process", self.base))
            .bearer_auth(&self.token)
            .header("accept", "text/event-stream")
            .multipart(self.upload(&[("sessionId", &chat)]))
            .send()
            .await
            .expect("process");
        assert!(res.status().is_success(), "{}", res.status());
        let mut body = res.bytes_stream();
        let mut seen = String::new();
        let mut first = None;
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.expect("body")));
            if first.is_none() && seen.contains("event: audio") {
                first = Some(start.elapsed());
            }
        }
        let sentences = text.matches('.').count();
        assert_eq!(
            seen.matches("event: audio").count(),
            sentences,
            "every sentence spoken"
        );
        assert!(seen.contains("event: done"), "the turn ended well");
        first.expect("audio arrived")
    }

    /// The same work one step after another: the time to the first byte of the reply's audio.
    async fn sequential(&self, upstream: &Upstream, delays: &Delays, text: &str) -> Duration {
        self.script(upstream, delays, text);
        let chat = self.new_chat().await;
        let start = Instant::now();
        let heard: Value = self
            .client
            .post(format!("{}/api/v1/voice/transcribe", self.base))
            .bearer_auth(&self.token)
            .multipart(self.upload(&[]))
            .send()
            .await
            .expect("transcribe")
            .json()
            .await
            .expect("transcription");
        let sent: Value = self
            .client
            .post(format!("{}/api/v1/sessions/{chat}/messages", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"content": heard["text"]}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("reply");
        let reply = sent["assistantMessage"]["content"].as_str().expect("reply");
        let res = self
            .client
            .post(format!("{}/api/v1/voice/synthesize", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"text": reply}))
            .send()
            .await
            .expect("synthesize");
        assert!(res.status().is_success(), "{}", res.status());
        let mut body = res.bytes_stream();
        let first = body.next().await.expect("audio").expect("body");
        let elapsed = start.elapsed();
        assert!(!first.is_empty());
        while body.next().await.is_some() {}
        elapsed
    }
}

/// The p50 and p90 of `samples`.
fn percentiles(samples: &[Duration]) -> [Duration; 2] {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let at = |q: f64| {
        let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    };
    [at(0.5), at(0.9)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}
