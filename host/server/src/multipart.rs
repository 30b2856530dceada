//! `multipart/form-data` as the portal's own forms send it (the plugin
//! upload): a buffered body split into named parts (RFC 7578).
//!
//! A file upload form cannot carry a header, so its CSRF token travels as a
//! field; the access layer reads only the first part ([`first_part`]) and
//! leaves the body for the handler.

use memchr::memmem;

/// One field of a form.
#[derive(Debug, PartialEq, Eq)]
pub struct Part<'a> {
    /// The field's `name`.
    pub name: String,
    /// The file's name, for a file field.
    pub filename: Option<String>,
    /// The content, as sent.
    pub data: &'a [u8],
}

/// Why a body is not the form it claims to be.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the form upload is malformed: {0}")]
pub struct MultipartError(&'static str);

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (key.trim().eq_ignore_ascii_case("boundary") && !value.is_empty()).then(|| value.to_owned())
    })
}

/// Every part of a complete body.
pub fn parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, MultipartError> {
    let delimiter = format!("--{boundary}");
    let start = memmem::find(body, delimiter.as_bytes()).ok_or(MultipartError("no boundary"))?;
    let mut rest = &body[start + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        let (part, after) = next_part(rest, &delimiter)?.ok_or(MultipartError("it ends early"))?;
        parts.push(part);
        rest = after;
    }
}

/// The first part, once `prefix` (the start of a body) holds all of it;
/// `None` while more of the body is needed.
pub fn first_part<'a>(
    prefix: &'a [u8],
    boundary: &str,
) -> Result<Option<Part<'a>>, MultipartError> {
    let delimiter = format!("--{boundary}");
    let Some(start) = memmem::find(prefix, delimiter.as_bytes()) else {
        return Ok(None);
    };
    let rest = &prefix[start + delimiter.len()..];
    if rest.starts_with(b"--") {
        return Err(MultipartError("it has no fields"));
    }
    Ok(next_part(rest, &delimiter)?.map(|(part, _)| part))
}

/// The part after a delimiter line, and what follows its closing delimiter;
/// `None` when `rest` ends before the closing delimiter.
fn next_part<'a>(
    rest: &'a [u8],
    delimiter: &str,
) -> Result<Option<(Part<'a>, &'a [u8])>, MultipartError> {
    let Some(rest) = rest.strip_prefix(b"\r\n") else {
        return if rest.len() < 2 {
            Ok(None)
        } else {
            Err(MultipartError("a boundary is not followed by a line break"))
        };
    };
    let Some(head_end) = memmem::find(rest, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&rest[..head_end])
        .map_err(|_| MultipartError("a part's headers are not UTF-8"))?;
    let content = &rest[head_end + 4..];
    let closing = format!("\r\n{delimiter}");
    let Some(end) = memmem::find(content, closing.as_bytes()) else {
        return Ok(None);
    };
    let (name, filename) = disposition(head)?;
    let part = Part {
        name,
        filename,
        data: &content[..end],
    };
    Ok(Some((part, &content[end + closing.len()..])))
}

/// The `name` and `filename` of a part's `Content-Disposition: form-data` header.
fn disposition(head: &str) -> Result<(String, Option<String>), MultipartError> {
    let value = head
        .split("\r\n")
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(value)
        })
        .ok_or(MultipartError("a part has no Content-Disposition"))?;
    let param = |wanted: &str| {
        value.split(';').skip(1).find_map(|param| {
            let (key, value) = param.split_once('=')?;
            (key.trim() == wanted).then(|| value.trim().trim_matches('"').to_owned())
        })
    };
    let name = param("name").ok_or(MultipartError("a part has no name"))?;
    Ok((name, param("filename")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = b"--XyZ\r\n\
        Content-Disposition: form-data; name=\"csrf\"\r\n\r\n\
        t0ken\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"package\"; filename=\"hello.wasm\"\r\n\
        Content-Type: application/wasm\r\n\r\n\
        \0asm\r\n--Xy\r\n\
        --XyZ--\r\n";

    #[test]
    fn boundary_comes_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
    }

    #[test]
    fn parts_are_named_and_keep_their_bytes() {
        let parts = parts(BODY, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].data),
            ("csrf", &b"t0ken"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("hello.wasm"));
        // A line that only looks like a boundary stays data.
        assert_eq!(parts[1].data, b"\0asm\r\n--Xy");
    }

    #[test]
    fn the_first_part_is_read_from_a_prefix() {
        assert_eq!(first_part(&BODY[..20], "XyZ"), Ok(None));
        let first = first_part(&BODY[..80], "XyZ").unwrap().unwrap();
        assert_eq!((first.name.as_str(), first.data), ("csrf", &b"t0ken"[..]));
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        assert!(parts(b"no boundary here", "XyZ").is_err());
        assert!(
            parts(
                b"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--",
                "XyZ"
            )
            .is_err()
        );
        assert!(
            parts(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx",
                "XyZ"
            )
            .is_err()
        );
        assert!(parts(b"--XyZgarbage", "XyZ").is_err());
    }
}
