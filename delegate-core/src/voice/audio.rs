//! Audio intake: the container format judged by the bytes (never the label a client sent),
//! and the duration measured from the audio itself (every packet of the audio track read,
//! nothing decoded), so voice is metered by what was really spoken.

use crate::error::{Error, Result};
use std::io::Cursor;
use std::time::Duration;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// An audio container Delegate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioFormat {
    /// RIFF WAVE.
    Wav,
    /// MPEG audio layer III (with or without an ID3 tag).
    Mp3,
    /// Ogg (Opus or Vorbis).
    Ogg,
    /// WebM or another Matroska file (Opus or Vorbis).
    Webm,
    /// FLAC.
    Flac,
    /// An MP4 audio file (M4A: AAC or ALAC).
    M4a,
}

impl AudioFormat {
    /// Every format, in the order error messages list them.
    pub const ALL: [AudioFormat; 6] = [
        AudioFormat::Wav,
        AudioFormat::Mp3,
        AudioFormat::Ogg,
        AudioFormat::Webm,
        AudioFormat::Flac,
        AudioFormat::M4a,
    ];

    /// The highest bitrate speech in this format plausibly has, in bits a second: a file
    /// whose timing claims less time than its size at this rate is billed by its size.
    fn max_bitrate(self) -> u64 {
        match self {
            // Exact from the header (see `wav_bytes_duration`); this bound is never reached.
            AudioFormat::Wav => u64::MAX,
            AudioFormat::Mp3 => 320_000,
            AudioFormat::Ogg | AudioFormat::Webm => 512_000,
            AudioFormat::M4a => 1_536_000,
            AudioFormat::Flac => 9_216_000,
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            AudioFormat::Wav => "wav",
            AudioFormat::Mp3 => "mp3",
            AudioFormat::Ogg => "ogg",
            AudioFormat::Webm => "webm",
            AudioFormat::Flac => "flac",
            AudioFormat::M4a => "m4a",
        }
    }

    /// The format `bytes` start with, by their signature: `RIFF…WAVE`, `ID3` or an MPEG
    /// layer III frame sync (MPEG-1, 2 and 2.5, as 8–16 kHz speech recorders write them),
    /// `OggS`, an EBML header, `fLaC`, or an MP4 `ftyp` box. An [`Error::UnsupportedMedia`]
    /// when they start with none of these; an [`Error::Invalid`] for field `audio` when they
    /// are empty.
    pub fn sniff(bytes: &[u8]) -> Result<Self> {
        let at = |offset: usize, signature: &[u8]| {
            bytes.get(offset..offset + signature.len()) == Some(signature)
        };
        let format = if at(0, b"RIFF") && at(8, b"WAVE") {
            AudioFormat::Wav
        } else if at(0, b"ID3") || is_layer3_sync(bytes) {
            AudioFormat::Mp3
        } else if at(0, b"OggS") {
            AudioFormat::Ogg
        } else if at(0, &[0x1a, 0x45, 0xdf, 0xa3]) {
            AudioFormat::Webm
        } else if at(0, b"fLaC") {
            AudioFormat::Flac
        } else if at(4, b"ftyp") {
            AudioFormat::M4a
        } else if bytes.is_empty() {
            return Err(Error::invalid("audio", "is empty"));
        } else {
            let names: Vec<&str> = Self::ALL.iter().map(|f| f.extension()).collect();
            return Err(Error::UnsupportedMedia(format!(
                "the audio is not in a format Delegate reads (one of {}), judged by its bytes",
                names.join(", ")
            )));
        };
        Ok(format)
    }
}

/// Whether `bytes` open with an MPEG audio layer III frame header: eleven sync bits, a
/// version other than the reserved one, layer bits `01`, and a bitrate index other than
/// "free" or "bad".
fn is_layer3_sync(bytes: &[u8]) -> bool {
    match bytes {
        [0xff, second, third, ..] => {
            let version = (second >> 3) & 0b11;
            let layer = (second >> 1) & 0b11;
            let bitrate = third >> 4;
            second & 0xe0 == 0xe0
                && version != 0b01
                && layer == 0b01
                && bitrate != 0
                && bitrate != 0xf
        }
        _ => false,
    }
}

/// How long the sample bytes present in a RIFF WAVE file play: the bytes after the `data`
/// chunk's header divided by the `fmt ` chunk's sample rate times its block size (what a
/// decoder plays; the header's own byte-rate field is ignored, as decoders ignore it).
/// `None` when either chunk is missing or the rate is 0.
fn wav_bytes_duration(bytes: &[u8]) -> Option<Duration> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
    };
    let (mut at, mut byte_rate) = (12usize, None);
    while at + 8 <= bytes.len() {
        let size = usize::try_from(u32_at(at + 4)?).ok()?;
        match &bytes[at..at + 4] {
            b"fmt " => {
                let rate = u64::from(u32_at(at + 12)?) * u64::from(u16_at(at + 20)?);
                byte_rate = Some(rate).filter(|rate| *rate > 0);
            }
            b"data" => {
                let present = bytes.len().saturating_sub(at + 8).min(size) as f64;
                return Some(Duration::from_secs_f64(present / byte_rate? as f64));
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        at = at
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size % 2)?;
    }
    None
}

/// Audio that was read: its format and how long it plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioClip {
    /// The container, judged by the bytes.
    pub format: AudioFormat,
    /// How long the audio plays, from its packets' durations.
    pub duration: Duration,
}

impl AudioClip {
    /// Judges `bytes` and measures them: the format by signature ([`AudioFormat::sniff`]),
    /// then every packet of the first audio track read (not decoded) and their durations
    /// (or timestamps) added up. An [`Error::UnsupportedMedia`] when the bytes are not a
    /// format Delegate reads; an [`Error::Invalid`] for field `audio` when they are empty,
    /// hold no audio track, or are damaged or cut short before any audio.
    /// CPU-bound but cheap (about 0.1 ms for a minute of MP3, `benches/audio.rs`).
    pub fn inspect(bytes: &[u8]) -> Result<Self> {
        let format = AudioFormat::sniff(bytes)?;
        let damaged = || {
            Error::invalid(
                "audio",
                format!(
                    "is not readable {} audio (damaged or cut short)",
                    format.extension()
                ),
            )
        };
        let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
        let mut hint = Hint::new();
        hint.with_extension(format.extension());
        let mut reader = symphonia::default::get_probe()
            .probe(
                &hint,
                source,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|_| damaged())?;
        let track = reader
            .default_track(TrackType::Audio)
            .or_else(|| reader.tracks().first())
            .ok_or_else(|| Error::invalid("audio", "holds no audio track"))?;
        let (id, time_base) = (track.id, track.time_base.ok_or_else(damaged)?);
        // Packets carry a duration, except where the container leaves it to the next packet's
        // timestamp (WebM's blocks): the audio lasts the longer of the durations' sum and the
        // span from the first timestamp to the end of the last packet.
        let mut summed: u64 = 0;
        let mut span: Option<(i64, i64)> = None;
        let mut packets = 0usize;
        loop {
            match reader.next_packet() {
                Ok(Some(packet)) if packet.track_id == id => {
                    let dur = packet.dur.get();
                    summed = summed.saturating_add(dur);
                    let start = packet.pts.get();
                    let end = start.saturating_add(i64::try_from(dur).unwrap_or(i64::MAX));
                    span = Some(span.map_or((start, end), |(a, b)| (a.min(start), b.max(end))));
                    packets += 1;
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                // A cut in the last packet ends the audio where it was cut; a file that breaks
                // before any audio is damaged.
                Err(_) if packets > 0 => break,
                Err(_) => return Err(damaged()),
            }
        }
        let spanned = span.map_or(0, |(a, b)| u64::try_from(b.saturating_sub(a)).unwrap_or(0));
        let ticks = summed.max(spanned);
        if ticks == 0 {
            return Err(Error::invalid("audio", "holds no audio"));
        }
        let seconds = time_base
            .calc_duration(symphonia::core::units::Duration::from(ticks))
            .ok_or_else(damaged)?
            .as_secs_f64();
        let mut duration = Duration::try_from_secs_f64(seconds).map_err(|_| damaged())?;
        if format == AudioFormat::Wav {
            // A WAV reader reports whole packets even where the file was cut short: the
            // samples that are there are how long it plays.
            duration = duration.min(wav_bytes_duration(bytes).ok_or_else(damaged)?);
        } else {
            // Timing a decoder ignores (a doctored `stts` box, block timestamps) must not
            // make a large file count as a short one: at least its size at the format's
            // highest plausible bitrate.
            let floor =
                Duration::from_secs_f64(bytes.len() as f64 * 8.0 / format.max_bitrate() as f64);
            duration = duration.max(floor);
        }
        if duration.is_zero() {
            return Err(Error::invalid("audio", "holds no audio"));
        }
        Ok(Self { format, duration })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/audio/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Every fixture is "Hello Delegate, this is a test." spoken by espeak-ng: 2.04 s of
    /// speech (ffprobe), a little more where the encoder pads (MP3 frames, Opus pages).
    #[test]
    fn each_format_is_recognised_and_measured() {
        let cases = [
            ("hello.wav", AudioFormat::Wav),
            ("hello.mp3", AudioFormat::Mp3),
            ("hello-no-tag.mp3", AudioFormat::Mp3),
            ("hello.ogg", AudioFormat::Ogg),
            ("hello.webm", AudioFormat::Webm),
            ("hello.flac", AudioFormat::Flac),
            ("hello.m4a", AudioFormat::M4a),
        ];
        for (name, format) in cases {
            let clip = AudioClip::inspect(&fixture(name))
                .unwrap_or_else(|e| panic!("{name}: {}", e.report()));
            assert_eq!(clip.format, format, "{name}");
            let seconds = clip.duration.as_secs_f64();
            assert!((2.0..2.2).contains(&seconds), "{name}: {seconds} s");
        }
    }

    #[test]
    fn the_label_does_not_matter_only_the_bytes() {
        // A WAV file whatever it is called, and text that claims to be audio.
        assert_eq!(
            AudioFormat::sniff(&fixture("hello.wav")).unwrap(),
            AudioFormat::Wav
        );
        let err = AudioClip::inspect(b"this is not audio, whatever its label says").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsupportedMedia);
        assert!(err.to_string().contains("judged by its bytes"), "{err}");
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
        assert_eq!(
            AudioClip::inspect(&png).unwrap_err().kind(),
            ErrorKind::UnsupportedMedia
        );
    }

    #[test]
    fn empty_and_cut_files_are_refused() {
        assert!(
            AudioClip::inspect(&[])
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        for name in [
            "hello.wav",
            "hello.mp3",
            "hello.ogg",
            "hello.webm",
            "hello.flac",
            "hello.m4a",
        ] {
            let bytes = fixture(name);
            for cut in [4, 12, 40] {
                // Too short to show a signature is not audio (415); a signature with nothing
                // readable behind it is damaged audio (422).
                let kind = AudioClip::inspect(&bytes[..cut]).unwrap_err().kind();
                assert!(
                    matches!(kind, ErrorKind::Invalid | ErrorKind::UnsupportedMedia),
                    "{name} cut at {cut}: {kind:?}"
                );
            }
        }
    }

    #[test]
    fn a_wav_cut_short_lasts_only_as_long_as_its_bytes() {
        let bytes = fixture("hello.wav");
        let whole = AudioClip::inspect(&bytes).unwrap().duration;
        let near_empty = AudioClip::inspect(&bytes[..48]);
        assert!(
            near_empty.is_err() || near_empty.unwrap().duration < Duration::from_millis(1),
            "four bytes of samples are not 0.1 s of audio"
        );
        let half = AudioClip::inspect(&bytes[..bytes.len() / 2])
            .unwrap()
            .duration;
        let ratio = half.as_secs_f64() / whole.as_secs_f64();
        assert!((0.45..0.55).contains(&ratio), "{half:?} of {whole:?}");
    }

    #[test]
    fn a_doctored_byte_rate_does_not_shorten_a_wav() {
        let mut bytes = fixture("hello.wav");
        let honest = AudioClip::inspect(&bytes).unwrap().duration;
        // The fmt chunk's byte-rate field (offset 28 in a canonical header) set absurdly high.
        bytes[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(AudioClip::inspect(&bytes).unwrap().duration, honest);
    }

    #[test]
    fn a_large_file_claiming_little_time_counts_by_its_size() {
        // A second of MP3 frames followed by 640 kB of junk the demuxer skips: at most
        // 320 kbit/s, those bytes are at least 16 s of audio.
        let mut bytes = fixture("hello-no-tag.mp3");
        bytes.extend(std::iter::repeat_n(0u8, 640_000));
        let clip = AudioClip::inspect(&bytes).unwrap();
        assert!(clip.duration.as_secs_f64() >= 16.0, "{:?}", clip.duration);
    }

    #[test]
    fn mpeg_frame_syncs_are_layer_three_only() {
        assert!(is_layer3_sync(&[0xff, 0xfb, 0x90]));
        assert!(is_layer3_sync(&[0xff, 0xf3, 0x38]));
        assert!(!is_layer3_sync(&[0xff, 0xfd, 0x90]), "layer II");
        assert!(!is_layer3_sync(&[0xff, 0xfb, 0xf0]), "bad bitrate");
        assert!(!is_layer3_sync(&[0xff, 0xfb]));
    }
}
