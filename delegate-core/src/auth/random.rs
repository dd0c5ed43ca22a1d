//! Random secrets and keyed hashes from the one crypto provider (aws-lc-rs).

use aws_lc_rs::{hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `bytes` random bytes from the system CSPRNG, base64url-encoded without padding.
pub fn token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf).expect("the system random source works");
    URL_SAFE_NO_PAD.encode(buf)
}

/// HMAC-SHA256 of `value` under `key`, base64url-encoded: how refresh tokens are stored.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    URL_SAFE_NO_PAD.encode(hmac::sign(&key, value.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_url_safe() {
        let (a, b) = (token(32), token(32));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn keyed_hash_depends_on_key_and_value() {
        let h = keyed_hash(b"k1", "v");
        assert_eq!(h, keyed_hash(b"k1", "v"));
        assert_ne!(h, keyed_hash(b"k2", "v"));
        assert_ne!(h, keyed_hash(b"k1", "w"));
    }
}
