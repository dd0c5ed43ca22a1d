//! `multipart/form-data` bodies as the test upstream recorded them: the named parts of a form,
//! split on the boundary of the content type, with CRLF or bare LF line breaks.

/// One part of a form.
#[derive(Debug)]
pub(super) struct Part<'a> {
    /// The `name` of its `content-disposition`.
    pub(super) name: String,
    /// Whether it is a file (its `content-disposition` has a `filename`).
    pub(super) is_file: bool,
    /// Its content.
    pub(super) data: &'a [u8],
}

/// The parts of `body`, a form sent with `content_type`; none when that is not
/// `multipart/form-data` with a boundary. Parts without a name or a closing delimiter are
/// left out.
pub(super) fn parts<'a>(content_type: &str, body: &'a [u8]) -> Vec<Part<'a>> {
    let Some(boundary) = boundary(content_type) else {
        return Vec::new();
    };
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let Some(start) = find(body, &delimiter) else {
        return parts;
    };
    let mut rest = &body[start + delimiter.len()..];
    // After each delimiter: `--` closes the form; anything else opens a part that runs to the
    // next delimiter.
    while !rest.starts_with(b"--") {
        let Some(end) = find(rest, &delimiter) else {
            break;
        };
        parts.extend(part(&rest[..end]));
        rest = &rest[end + delimiter.len()..];
    }
    parts
}

/// The `boundary` parameter of a `multipart/form-data` content type, unquoted.
fn boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .split(';')
        .find_map(|param| {
            let (key, value) = param.split_once('=')?;
            let value = value.trim().trim_matches('"');
            key.trim().eq_ignore_ascii_case("boundary").then_some(value)
        })
        .filter(|b| !b.is_empty())
}

/// One part from what lies between two delimiters: the line break after the first, headers,
/// a blank line, the content, and the line break before the second.
fn part(segment: &[u8]) -> Option<Part<'_>> {
    let segment = strip_leading_line_break(segment);
    let (head, data) = split_head(segment)?;
    let data = strip_trailing_line_break(data);
    let head = std::str::from_utf8(head).ok()?;
    let disposition = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(value)
    })?;
    let mut name = None;
    let mut is_file = false;
    for param in disposition.split(';').skip(1) {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.eq_ignore_ascii_case("name") {
            name = Some(value.trim().trim_matches('"').to_owned());
        } else if key.eq_ignore_ascii_case("filename") {
            is_file = true;
        }
    }
    Some(Part {
        name: name?,
        is_file,
        data,
    })
}

/// The headers and the content of a part: split at the first blank line (CRLF or LF).
fn split_head(segment: &[u8]) -> Option<(&[u8], &[u8])> {
    let crlf = find(segment, b"\r\n\r\n").map(|at| (at, 4));
    let lf = find(segment, b"\n\n").map(|at| (at, 2));
    let (at, len) = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    Some((&segment[..at], &segment[at + len..]))
}

/// `bytes` without one CRLF or LF at the start.
fn strip_leading_line_break(bytes: &[u8]) -> &[u8] {
    bytes
        .strip_prefix(b"\r\n")
        .or_else(|| bytes.strip_prefix(b"\n"))
        .unwrap_or(bytes)
}

/// `bytes` without one CRLF or LF at the end.
fn strip_trailing_line_break(bytes: &[u8]) -> &[u8] {
    bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(bytes)
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_files_split_on_the_boundary_with_crlf_or_lf() {
        let crlf = b"preamble\r\n--xyz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--xyz\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\ncontent-type: audio/wav\r\n\r\nRI\r\n\nFF\r\n--xyz--\r\n";
        let form = parts("multipart/form-data; boundary=xyz", crlf);
        assert_eq!(form.len(), 2, "{form:?}");
        assert_eq!((form[0].name.as_str(), form[0].is_file), ("model", false));
        assert_eq!(form[0].data, b"whisper-1");
        assert_eq!((form[1].name.as_str(), form[1].is_file), ("file", true));
        assert_eq!(form[1].data, b"RI\r\n\nFF");

        let lf = b"--b 1\ncontent-disposition: form-data; name=language\n\nen\n--b 1--\n";
        let form = parts("Multipart/Form-Data; charset=x; boundary=\"b 1\"", lf);
        assert_eq!(form.len(), 1, "{form:?}");
        assert_eq!(
            (form[0].name.as_str(), form[0].data),
            ("language", &b"en"[..])
        );
    }

    #[test]
    fn other_bodies_have_no_parts() {
        assert!(parts("application/json", b"{}").is_empty());
        assert!(parts("multipart/form-data", b"--x\r\n").is_empty());
        assert!(parts("multipart/form-data; boundary=x", b"no delimiter").is_empty());
        // A part that never closes is left out.
        let open = b"--x\r\ncontent-disposition: form-data; name=\"a\"\r\n\r\n1";
        assert!(parts("multipart/form-data; boundary=x", open).is_empty());
    }
}
