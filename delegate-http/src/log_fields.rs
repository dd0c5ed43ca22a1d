//! Span fields for JSON log lines, written straight out as a JSON object: what
//! `tracing_subscriber`'s `JsonFields` writes, without the map, the `Value` per field and the
//! second serialisation it builds for every span (one per request).

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, FormattedFields};

/// Room for a request span's fields (`{"request_id":"<uuid>"}`) and a few more.
const SPAN_CAPACITY: usize = 96;

/// Formats a span's fields as one JSON object, `{"name":value,...}`, in the order they were
/// recorded, for `tracing_subscriber`'s JSON lines (what [`init_tracing`](crate::init_tracing)
/// installs in production; a host building its own subscriber can pass it to `fmt_fields`).
/// Fields recorded later are appended to the object; a name given twice keeps its last value
/// when the line is written, as with `JsonFields`.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonSpanFields;

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        // Built in a string of its own, sized for a request's span, and handed over in one
        // write: written through the `Writer` piece by piece, the span's string grew several
        // times, with a dynamic call per piece.
        let mut object = String::with_capacity(SPAN_CAPACITY);
        write_object(&mut object, fields)?;
        writer.write_str(&object)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        if current.fields.is_empty() {
            return write_object(&mut current.as_writer(), fields);
        }
        let mut more = String::new();
        write_object(&mut more, fields)?;
        if more.len() > 2 && current.fields.ends_with('}') {
            current.fields.pop();
            if current.fields.len() > 1 {
                current.fields.push(',');
            }
            current.fields.push_str(&more[1..]);
        }
        Ok(())
    }
}

/// Writes `fields` to `out` as a JSON object.
fn write_object(out: &mut dyn fmt::Write, fields: impl RecordFields) -> fmt::Result {
    out.write_char('{')?;
    let mut visitor = Members {
        out,
        first: true,
        result: Ok(()),
    };
    fields.record(&mut visitor);
    visitor.result?;
    visitor.out.write_char('}')
}

/// Writes each field it visits as a member of a JSON object already opened.
struct Members<'a> {
    out: &'a mut dyn fmt::Write,
    first: bool,
    result: fmt::Result,
}

impl Members<'_> {
    /// Writes `"name":` (after a comma past the first member), then the value.
    fn member(&mut self, name: &str, value: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result) {
        if self.result.is_ok() {
            let first = std::mem::take(&mut self.first);
            self.result = write_member(self.out, first, name, value);
        }
    }
}

/// Writes `"name":value`, after a comma unless it is the object's `first` member.
fn write_member(
    out: &mut dyn fmt::Write,
    first: bool,
    name: &str,
    value: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result,
) -> fmt::Result {
    if !first {
        out.write_char(',')?;
    }
    quoted(out, |w| w.write_str(name))?;
    out.write_char(':')?;
    value(out)
}

impl Visit for Members<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // Not finite: `null`, as serde_json writes it.
        self.member(field.name(), |w| {
            write!(w, "{}", serde_json::Value::from(value))
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field.name(), |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field.name(), |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field.name(), |w| write!(w, "{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field.name(), |w| quoted(w, |e| e.write_str(value)));
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.member(field.name(), |w| {
            write!(w, "{}", serde_json::Value::from(value))
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.member(name, |w| quoted(w, |e| write!(e, "{value:?}")));
    }
}

/// Writes a JSON string: a quote, what `text` writes (escaped), a quote.
fn quoted(
    out: &mut dyn fmt::Write,
    text: impl FnOnce(&mut Escaped<'_>) -> fmt::Result,
) -> fmt::Result {
    out.write_char('"')?;
    text(&mut Escaped(out))?;
    out.write_char('"')
}

/// Escapes what is written through it for the inside of a JSON string.
struct Escaped<'a>(&'a mut dyn fmt::Write);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Most text (a request id, a route) needs no escape: one pass without branches, which
        // the compiler can vectorise, says so, and the text goes out in one write.
        let special = s.bytes().fold(false, |found, byte| {
            found | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
        });
        if !special {
            return self.0.write_str(s);
        }
        let mut plain = 0;
        for (i, byte) in s.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[plain..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = i + 1;
        }
        self.0.write_str(&s[plain..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::fmt::format::JsonFields;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Lines {
        /// The `spans` of each line written.
        fn spans(&self) -> Vec<serde_json::Value> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|line| {
                    serde_json::from_str::<serde_json::Value>(line).unwrap()["spans"].clone()
                })
                .collect()
        }
    }

    /// Spans with every kind of field, one recorded after its span began, one name given twice
    /// and text that needs escaping.
    fn log_spans() {
        let odd = "quote \" backslash \\ newline \n tab \t bell \u{7} é ✓";
        let outer = tracing::info_span!(
            "request",
            request_id = "a-b",
            odd,
            signed = -3i64,
            unsigned = 7u64,
            ratio = 0.5f64,
            nan = f64::NAN,
            yes = true,
            r#type = ?vec!["x", "y\"z"],
            shown = %"display \"me\"",
            late = tracing::field::Empty,
        );
        outer.in_scope(|| {
            tracing::info!("before");
            let inner = tracing::info_span!("inner", empty = tracing::field::Empty);
            outer.record("late", "recorded later");
            outer.record("unsigned", 8u64);
            inner.in_scope(|| tracing::info!("inside"));
            inner.record("empty", 1u64);
            inner.in_scope(|| tracing::info!("after"));
        });
    }

    fn lines_with<N>(fields: N) -> Lines
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(false)
            .fmt_fields(fields)
            .with_writer(lines.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, log_spans);
        lines
    }

    #[test]
    fn lines_carry_the_same_span_fields_as_with_json_fields() {
        let ours = lines_with(JsonSpanFields).spans();
        let theirs = lines_with(JsonFields::default()).spans();
        assert_eq!(ours.len(), 3);
        assert_eq!(ours, theirs);
        let request = &ours[2][0];
        assert_eq!(
            request["odd"],
            "quote \" backslash \\ newline \n tab \t bell \u{7} é ✓"
        );
        assert_eq!(request["late"], "recorded later");
        assert_eq!(request["unsigned"], 8);
        assert_eq!(request["type"], "[\"x\", \"y\\\"z\"]");
        assert_eq!(request["nan"], serde_json::Value::Null);
        assert_eq!(ours[2][1]["empty"], 1);
    }
}
