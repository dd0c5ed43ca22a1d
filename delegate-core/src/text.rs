//! Rules every stored text follows on every backend: a bounded length, and no NUL
//! characters (PostgreSQL cannot store them, so SQLite and memory refuse them too).

use crate::error::{Error, Result};

/// `value` without leading and trailing whitespace as JSON Schema patterns (ECMA-262 `\s`)
/// define it, so a text the OpenAPI document calls non-blank (`pattern: \S`) is never
/// refused as blank: unlike `str::trim`, U+0085 is kept and U+FEFF trimmed.
pub(crate) fn trim_blank(value: &str) -> &str {
    value.trim_matches(|c: char| c == '\u{feff}' || (c.is_whitespace() && c != '\u{85}'))
}

/// Refuses `value` for `field` when it holds a NUL character.
pub(crate) fn refuse_nul(field: &'static str, value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::invalid(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// Refuses `value` for `field` when it is longer than `max_chars` characters or holds a NUL.
pub(crate) fn check(field: &'static str, value: &str, max_chars: usize) -> Result<()> {
    if value.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    refuse_nul(field, value)
}

/// Refuses a JSON document for `field` when any of its strings or keys holds a NUL.
pub(crate) fn check_json(field: &'static str, value: &serde_json::Value) -> Result<()> {
    use serde_json::Value;
    match value {
        Value::String(s) => refuse_nul(field, s),
        Value::Array(items) => items.iter().try_for_each(|v| check_json(field, v)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            refuse_nul(field, k)?;
            check_json(field, v)
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_what_json_schema_patterns_call_whitespace() {
        assert_eq!(trim_blank(" \t\u{a0}\u{3000}hi\u{2028}\u{feff}\n"), "hi");
        assert_eq!(trim_blank("\u{85}"), "\u{85}");
        assert_eq!(trim_blank("   "), "");
    }

    #[test]
    fn nul_is_refused_in_text_and_anywhere_in_json() {
        assert!(check("title", "ok", 10).is_ok());
        assert!(check("title", "a\0b", 10).is_err());
        assert!(check("title", "ééé", 3).is_ok());
        assert!(check("title", "éééé", 3).is_err());
        let nested = serde_json::json!({"a": [1, {"b": "x\u{0}"}]});
        assert!(check_json("preferences", &nested).is_err());
        assert!(check_json("preferences", &serde_json::json!({"k\u{0}": 1})).is_err());
        assert!(check_json("preferences", &serde_json::json!({"k": ["v"]})).is_ok());
    }
}
