//! Audio intake's cost: judging and measuring a clip (`AudioClip::inspect`) for each fixture
//! format (2 s of speech) and for a minute of MP3 (the 2-s clip's frames thirty times over),
//! beside the baseline of copying the same bytes once (what reading an upload costs anyway).
//!
//! Run with `cargo bench -p delegate-benches --bench audio`.

use criterion::Criterion;
use delegate_core::voice::AudioClip;
use std::hint::black_box;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../delegate-core/tests/fixtures/audio/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut cases: Vec<(String, Vec<u8>)> = [
        "hello.wav",
        "hello.mp3",
        "hello.ogg",
        "hello.webm",
        "hello.flac",
        "hello.m4a",
    ]
    .iter()
    .map(|name| (name.to_string(), fixture(name)))
    .collect();
    cases.push(("minute.mp3".into(), fixture("hello-no-tag.mp3").repeat(30)));
    for (name, bytes) in &cases {
        let clip = AudioClip::inspect(bytes).expect("a readable fixture");
        println!(
            "{name}: {} bytes, {:.3} s",
            bytes.len(),
            clip.duration.as_secs_f64()
        );
        c.bench_function(&format!("inspect {name}"), |b| {
            b.iter(|| AudioClip::inspect(black_box(bytes)))
        });
        c.bench_function(&format!("copy {name}"), |b| {
            b.iter(|| black_box(bytes.to_vec()))
        });
    }
    c.final_summary();
}
