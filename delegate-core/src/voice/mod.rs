//! Voice: audio intake (the format judged by the bytes, the duration measured from the
//! audio), the ground the speech-to-text, text-to-speech and voice pipeline stand on.

mod audio;

pub use audio::{AudioClip, AudioFormat};
