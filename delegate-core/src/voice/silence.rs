//! Silent audio as MP3 (MPEG-1 Layer III), WAV and raw 16-bit PCM, made without an encoder:
//! what the echo speech provider and the test upstream speak. Tests also use it as uploads,
//! so it reads as real audio.

use std::time::Duration;

/// The header of every MP3 frame: sync, MPEG-1, Layer III, no CRC (`FF FB`); 32 kbit/s, 48 kHz,
/// no padding (`14`); mono (`C0`).
const MP3_HEADER: [u8; 4] = [0xFF, 0xFB, 0x14, 0xC0];

/// The bytes of one MP3 frame: 144 × 32 000 / 48 000.
const MP3_FRAME_BYTES: usize = 96;

/// How long one MP3 frame plays: 1152 samples at 48 kHz.
pub const MP3_FRAME: Duration = Duration::from_millis(24);

/// The sample rate of WAV and PCM audio, in Hz.
const PCM_RATE: u32 = 24_000;

/// The bytes of one WAV or PCM sample: 16-bit mono.
const PCM_SAMPLE_BYTES: u16 = 2;

/// `duration` of silence as MP3: MPEG-1 Layer III, 32 kbit/s, 48 kHz, mono, no CRC, no
/// padding, no ID3 tag. Every frame is 96 bytes (the header `FF FB 14 C0`, then zeros: all-zero
/// side information makes silent granules) and plays 24 ms; the frame count is `duration` in
/// frames, rounded up, and at least one.
pub fn silent_mp3(duration: Duration) -> Vec<u8> {
    let frames = duration.as_micros().div_ceil(MP3_FRAME.as_micros()).max(1);
    let frames = usize::try_from(frames).expect("an MP3 that fits in memory");
    let mut frame = [0; MP3_FRAME_BYTES];
    frame[..MP3_HEADER.len()].copy_from_slice(&MP3_HEADER);
    frame.repeat(frames)
}

/// `duration` of silence as WAV: the canonical 44-byte RIFF/WAVE header (PCM format 1, mono,
/// 24 000 Hz, 16-bit, sizes filled in), then zero samples (48 bytes per millisecond, rounded
/// up to a whole sample).
pub fn silent_wav(duration: Duration) -> Vec<u8> {
    let data = pcm_bytes(duration);
    let riff_size = u32::try_from(data + 36).expect("a WAV smaller than 4 GiB");
    let mut wav = Vec::with_capacity(44 + data);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&riff_size.to_le_bytes());
    wav.extend_from_slice(b"WAVE");
    wav.extend_from_slice(b"fmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // the size of this chunk
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&PCM_RATE.to_le_bytes());
    let byte_rate = PCM_RATE * u32::from(PCM_SAMPLE_BYTES);
    wav.extend_from_slice(&byte_rate.to_le_bytes());
    wav.extend_from_slice(&PCM_SAMPLE_BYTES.to_le_bytes()); // block align
    wav.extend_from_slice(&(PCM_SAMPLE_BYTES * 8).to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(riff_size - 36).to_le_bytes());
    wav.resize(wav.len() + data, 0);
    wav
}

/// `duration` of silence as raw PCM: 16-bit mono 24 kHz zeros (48 bytes per millisecond,
/// rounded up to a whole sample).
pub fn silent_pcm(duration: Duration) -> Vec<u8> {
    vec![0; pcm_bytes(duration)]
}

/// The bytes of `duration` of 16-bit mono 24 kHz samples, rounded up to a whole sample.
fn pcm_bytes(duration: Duration) -> usize {
    let samples = (duration.as_micros() * u128::from(PCM_RATE)).div_ceil(1_000_000);
    usize::try_from(samples * u128::from(PCM_SAMPLE_BYTES)).expect("PCM that fits in memory")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::{AudioClip, AudioFormat};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn mp3_is_whole_silent_frames_at_least_one() {
        let mp3 = silent_mp3(ms(600));
        assert_eq!(mp3.len(), 25 * 96);
        for frame in mp3.chunks(96) {
            assert_eq!(frame[..4], MP3_HEADER);
            assert!(frame[4..].iter().all(|b| *b == 0));
        }
        assert_eq!(silent_mp3(ms(601)).len(), 26 * 96);
        assert_eq!(silent_mp3(Duration::ZERO).len(), 96);
    }

    #[test]
    fn wav_has_a_canonical_header_and_pcm_is_its_data() {
        let wav = silent_wav(ms(600));
        assert_eq!(wav.len(), 44 + 600 * 48);
        let u32_at = |i: usize| u32::from_le_bytes(wav[i..i + 4].try_into().unwrap());
        let u16_at = |i: usize| u16::from_le_bytes(wav[i..i + 2].try_into().unwrap());
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(u32_at(4), 36 + 600 * 48);
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!((u32_at(16), u16_at(20), u16_at(22)), (16, 1, 1));
        assert_eq!((u32_at(24), u32_at(28)), (24_000, 48_000));
        assert_eq!((u16_at(32), u16_at(34)), (2, 16));
        assert_eq!(&wav[36..40], b"data");
        assert_eq!(u32_at(40), 600 * 48);
        assert_eq!(wav[44..], silent_pcm(ms(600)));
        assert!(silent_pcm(ms(100)).iter().all(|b| *b == 0));
        assert_eq!(silent_wav(Duration::ZERO).len(), 44);
    }

    #[test]
    fn voice_intake_reads_both_as_audio_of_their_length() {
        for (bytes, format) in [
            (silent_mp3(ms(600)), AudioFormat::Mp3),
            (silent_wav(ms(600)), AudioFormat::Wav),
        ] {
            let clip = AudioClip::inspect(&bytes).expect("readable audio");
            assert_eq!(clip.format, format);
            let measured = clip.duration.as_millis();
            assert!((550..=650).contains(&measured), "{format:?}: {measured} ms");
        }
    }
}
