//! A wrapper for secret strings that never prints its contents.

use std::fmt;

/// A secret value (signing key, API key). `Debug` and `Display` print a placeholder.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A fresh random secret of 48 bytes, base64url-encoded.
    pub fn random() -> Self {
        Self(crate::auth::random::token(48))
    }

    /// The secret's bytes, for the one place that needs them.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret's length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("super-secret-value");
        assert!(!format!("{s:?} {s}").contains("super"));
        assert_eq!(s.expose(), b"super-secret-value");
    }

    #[test]
    fn random_secrets_are_long_and_distinct() {
        let (a, b) = (Secret::random(), Secret::random());
        assert!(a.len() >= 48);
        assert_ne!(a, b);
    }
}
