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

/// Serialises as a placeholder, so a printed configuration never shows the secret.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
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

/// Serialises a URL with its credentials replaced (see [`redact_url`]).
pub(crate) fn serialize_redacted_url<S: serde::Serializer>(
    url: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redact_url(url))
}

/// `url` with any password in its user info (`scheme://user:password@host`) and any
/// `password=` query value replaced by `***`, for logs and `Debug`.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            let redacted = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                "***".to_owned()
            };
            out = format!("{}{}{}", &out[..scheme_end + 3], redacted, &rest[at..]);
        }
    }
    if let Some(q) = out.find('?') {
        let (base, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{base}{}", query.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/x?sslmode=require"),
            "postgres://app:***@db:5432/x?sslmode=require"
        );
        assert_eq!(
            redact_url("redis://:pw@host:6379"),
            "redis://:***@host:6379"
        );
        assert_eq!(redact_url("redis://token@host"), "redis://***@host");
        assert_eq!(
            redact_url("postgres://h/db?user=a&password=b"),
            "postgres://h/db?user=a&password=***"
        );
        assert_eq!(redact_url("sqlite://delegate.db"), "sqlite://delegate.db");
    }

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
