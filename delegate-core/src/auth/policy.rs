//! Input rules for accounts: email normalisation and the password policy (NIST 800-63B style).

use crate::error::{Error, Result};
use std::collections::HashSet;
use std::sync::LazyLock;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in characters (never truncated).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Longest accepted email, in bytes (RFC 5321 path limit).
const MAX_EMAIL_BYTES: usize = 254;

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// Trims and lowercases an email and checks that it is a plausible address.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let plausible = email.len() <= MAX_EMAIL_BYTES
        && email_address::EmailAddress::is_valid(&email)
        && email
            .rsplit_once('@')
            .is_some_and(|(_, domain)| domain.contains('.') && !domain.ends_with('.'));
    if plausible {
        Ok(email)
    } else {
        Err(Error::invalid("email", "must be a valid email address"))
    }
}

/// Checks a new password: 8–128 characters, not one of the most common passwords,
/// no composition rules.
pub fn check_new_password(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    if COMMON_PASSWORDS.contains(password.to_lowercase().as_str()) {
        return Err(Error::invalid(
            "password",
            "is one of the most commonly used passwords; choose another",
        ));
    }
    Ok(())
}

/// Checks a password presented at login: only the length bounds, so no hashing work is
/// spent on absurd input.
pub fn check_presented_password(password: &str) -> Result<()> {
    if password.is_empty() || password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(invalid_credentials());
    }
    Ok(())
}

/// The one answer to every failed login, unknown email included.
pub(crate) fn invalid_credentials() -> Error {
    Error::unauthenticated("invalid_credentials", "invalid email or password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_validated() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@x.io",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn password_length_bounds_count_characters_not_bytes() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("ünïcödé").is_err()); // 7 chars, 11 bytes
        assert!(check_new_password("ünïcödé!").is_ok());
        assert!(check_new_password(&"x".repeat(128)).is_ok());
        assert!(check_new_password(&"x".repeat(129)).is_err());
    }

    #[test]
    fn common_passwords_are_refused_case_insensitively() {
        assert!(COMMON_PASSWORDS.len() > 3000);
        for common in ["password", "Password1", "12345678", "qwertyuiop"] {
            let err = check_new_password(common).unwrap_err();
            assert!(err.to_string().contains("commonly used"), "{common}: {err}");
        }
        assert!(check_new_password("correct horse battery staple").is_ok());
    }
}
