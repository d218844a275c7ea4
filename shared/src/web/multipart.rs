//! `multipart/form-data` bodies (RFC 7578) as `wx.uploadFile` sends them: one part per form field,
//! the file in the part its `name` option names, its `formData` fields as further parts.
//!
//! Parts are split on the boundary of the `Content-Type` header and read whole from the body (no
//! streaming: a body is at most [`crate::avatars::MAX_UPLOAD_BYTES`]). Of a part's headers only
//! `Content-Disposition` (the field's `name` and `filename`) and `Content-Type` mean anything; RFC 7578
//! says to ignore the others (a `Content-Length` of a part included). Every refusal is `BAD_REQUEST`
//! with a message that never quotes the body.

use crate::error::ApiError;

/// The most parts a form may have (`wx.uploadFile`: the file and a few `formData` fields).
pub const MAX_PARTS: usize = 16;
/// The longest header block of one part.
const MAX_PART_HEADERS: usize = 8 * 1024;
/// RFC 2046: a boundary is 1 to 70 characters.
const MAX_BOUNDARY: usize = 70;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The field name (`name` of `Content-Disposition: form-data`).
    pub name: String,
    /// The file name the client gave, if any (never trusted: the bytes decide what a file is).
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: &'a [u8],
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_string())
}

/// The boundary of a `multipart/form-data` content type.
pub fn boundary(content_type: Option<&str>) -> Result<String, ApiError> {
    let refused = || {
        bad("send the file as multipart/form-data (wx.uploadFile), the file in the part \"file\"")
    };
    let content_type = content_type.ok_or_else(refused)?;
    let mut params = content_type.split(';');
    let media = params.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return Err(refused());
    }
    for param in params {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("boundary") {
            continue;
        }
        let value = value.trim();
        let value = match value.strip_prefix('"') {
            Some(quoted) => quoted
                .strip_suffix('"')
                .ok_or_else(|| bad("the multipart boundary is not a valid quoted string"))?,
            None => value,
        };
        let valid = !value.is_empty()
            && value.len() <= MAX_BOUNDARY
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b))
            && !value.ends_with(' ');
        if !valid {
            return Err(bad(
                "the multipart boundary must be 1 to 70 characters of RFC 2046",
            ));
        }
        return Ok(value.to_string());
    }
    Err(bad("the multipart content type has no boundary"))
}

/// The position of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Splits a body into its parts. The body starts with the first delimiter (an optional preamble before
/// it is skipped), every part ends with CRLF and a delimiter, and the last delimiter is followed by
/// `--`.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, ApiError> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let next_delimiter = format!("\r\n--{boundary}");
    let next_delimiter = next_delimiter.as_bytes();
    let broken = || bad("the body is not multipart/form-data with that boundary");
    let mut pos = if body.starts_with(delimiter) {
        delimiter.len()
    } else {
        find(body, next_delimiter, 0).ok_or_else(broken)? + next_delimiter.len()
    };
    let mut parts = Vec::new();
    loop {
        // After a delimiter: `--` ends the form, CRLF starts a part (transport padding allowed).
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return if parts.is_empty() {
                Err(bad("the form has no parts"))
            } else {
                Ok(parts)
            };
        }
        let padding = rest
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        if !rest[padding..].starts_with(b"\r\n") {
            return Err(broken());
        }
        pos += padding + 2;
        if parts.len() == MAX_PARTS {
            return Err(bad(&format!("the form has more than {MAX_PARTS} parts")));
        }
        let headers_end = find(body, b"\r\n\r\n", pos)
            .filter(|end| end - pos <= MAX_PART_HEADERS)
            .ok_or_else(|| bad("a part of the form has no complete header block"))?;
        let headers = std::str::from_utf8(&body[pos..headers_end])
            .map_err(|_| bad("the headers of a part are not UTF-8"))?;
        let data_start = headers_end + 4;
        let data_end = find(body, next_delimiter, data_start).ok_or_else(broken)?;
        parts.push(part(headers, &body[data_start..data_end])?);
        pos = data_end + next_delimiter.len();
    }
}

/// A part from its header block and its content.
fn part<'a>(headers: &str, data: &'a [u8]) -> Result<Part<'a>, ApiError> {
    let mut disposition = None;
    let mut content_type = None;
    for line in headers.split("\r\n") {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("a header of a part is not NAME: VALUE"))?;
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            if disposition.is_some() {
                return Err(bad("a part has two Content-Disposition headers"));
            }
            disposition = Some(value.trim());
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    let disposition =
        disposition.ok_or_else(|| bad("a part of the form has no Content-Disposition"))?;
    let (kind, params) = disposition.split_once(';').unwrap_or((disposition, ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return Err(bad("a part's Content-Disposition is not form-data"));
    }
    let params = disposition_params(params)?;
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    let name = get("name").ok_or_else(|| bad("a part of the form has no name"))?;
    Ok(Part {
        name,
        filename: get("filename"),
        content_type,
        data,
    })
}

/// The `key=value` parameters of a `Content-Disposition` (values quoted or not; `\"` and `\\` in
/// quoted values, as browsers and WeChat send them).
fn disposition_params(text: &str) -> Result<Vec<(String, String)>, ApiError> {
    let malformed = || bad("a part's Content-Disposition is malformed");
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ';').is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ';') {
            key.push(c);
        }
        if chars.next() != Some('=') {
            return Err(malformed());
        }
        while chars.next_if(|c| *c == ' ').is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().ok_or_else(malformed)?),
                    Some(c) => value.push(c),
                    None => return Err(malformed()),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ';') {
                value.push(c);
            }
            value = value.trim_end().to_string();
        }
        out.push((key.trim().to_string(), value));
    }
}

/// The one part named `name` of a form: `BAD_REQUEST` when there is none or more than one.
pub fn only<'p, 'a>(parts: &'p [Part<'a>], name: &str) -> Result<&'p Part<'a>, ApiError> {
    let mut named = parts.iter().filter(|p| p.name == name);
    match (named.next(), named.next()) {
        (Some(part), None) => Ok(part),
        (None, _) => Err(bad(&format!("the form has no part named \"{name}\""))),
        (Some(_), Some(_)) => Err(bad(&format!(
            "the form has more than one part named \"{name}\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(boundary: &str, parts: &[(&str, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (headers, data) in parts {
            body.extend_from_slice(
                format!("--{boundary}\r\n{headers}\r\n\r\n{data}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        body
    }

    #[test]
    fn boundaries() {
        let ok = |ct: &str| boundary(Some(ct)).expect(ct);
        assert_eq!(ok("multipart/form-data; boundary=abc"), "abc");
        assert_eq!(ok("Multipart/Form-Data;boundary=\"a b:c\""), "a b:c");
        assert_eq!(
            ok("multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundaryX"),
            "----WebKitFormBoundaryX"
        );
        for bad in [
            None,
            Some("application/json"),
            Some("multipart/form-data"),
            Some("multipart/mixed; boundary=a"),
            Some("multipart/form-data; boundary="),
            Some("multipart/form-data; boundary=\"unterminated"),
            Some("multipart/form-data; boundary=a\u{7f}b"),
        ] {
            let owned = bad.map(str::to_string);
            let long = format!("multipart/form-data; boundary={}", "b".repeat(71));
            for ct in [owned.as_deref(), Some(long.as_str())] {
                assert_eq!(
                    boundary(ct).map_err(|e| e.code()),
                    Err("BAD_REQUEST"),
                    "{ct:?}"
                );
            }
        }
    }

    #[test]
    fn parts_as_wx_upload_file_sends_them() {
        let body = form(
            "XyZ",
            &[
                (
                    "Content-Disposition: form-data; name=\"file\"; filename=\"tmp_1.png\"\r\nContent-Type: image/png",
                    "\u{89}PNG-ish",
                ),
                ("content-disposition: form-data; name=user", "alice"),
            ],
        );
        let parts = parse(&body, "XyZ").expect("parses");
        assert_eq!(parts.len(), 2);
        let file = only(&parts, "file").expect("one file");
        assert_eq!(file.filename.as_deref(), Some("tmp_1.png"));
        assert_eq!(file.content_type.as_deref(), Some("image/png"));
        assert_eq!(file.data, "\u{89}PNG-ish".as_bytes());
        assert_eq!(only(&parts, "user").expect("field").data, b"alice");
        // A preamble, and a file containing CRLF and almost-boundaries.
        let mut with_preamble = b"ignored preamble\r\n".to_vec();
        with_preamble.extend(form(
            "b",
            &[(
                "Content-Disposition: form-data; name=\"file\"; filename=\"a\\\"b\"",
                "x\r\n--c\r\n-b\r\ny",
            )],
        ));
        let parts = parse(&with_preamble, "b").expect("parses");
        assert_eq!(parts[0].data, b"x\r\n--c\r\n-b\r\ny");
        assert_eq!(parts[0].filename.as_deref(), Some("a\"b"));
    }

    #[test]
    fn broken_forms_are_bad_requests() {
        let file = "Content-Disposition: form-data; name=\"file\"";
        let two = form("b", &[(file, "1"), (file, "2")]);
        let parts = parse(&two, "b").expect("parses");
        assert_eq!(
            only(&parts, "file").map_err(|e| e.code()),
            Err("BAD_REQUEST")
        );
        let other = form(
            "b",
            &[("Content-Disposition: form-data; name=\"photo\"", "1")],
        );
        let parts = parse(&other, "b").expect("parses");
        assert!(only(&parts, "file").is_err());
        let many: Vec<(&str, &str)> = (0..=MAX_PARTS).map(|_| (file, "x")).collect();
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"--b--\r\n".to_vec(),
            b"no delimiter at all".to_vec(),
            b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nunterminated".to_vec(),
            b"--b\r\nno header block".to_vec(),
            b"--bXcontent".to_vec(),
            form("b", &[("Content-Type: image/png", "x")]),
            form(
                "b",
                &[("Content-Disposition: attachment; name=\"file\"", "x")],
            ),
            form(
                "b",
                &[("Content-Disposition: form-data; filename=\"x\"", "x")],
            ),
            form(
                "b",
                &[("Content-Disposition: form-data; name=\"unterminated", "x")],
            ),
            form("b", &[("not a header", "x")]),
            form("b", &[(&format!("{file}\r\n{file}"), "x")]),
            form("b", &many),
            form("other", &[(file, "x")]),
        ];
        for body in cases {
            assert_eq!(
                parse(&body, "b").map(|p| p.len()).map_err(|e| e.code()),
                Err("BAD_REQUEST"),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
        let mut not_utf8 =
            b"--b\r\nContent-Disposition: form-data; name=\"f\xff\"\r\n\r\nx\r\n--b--".to_vec();
        assert!(parse(&not_utf8, "b").is_err());
        not_utf8.truncate(3);
        assert!(parse(&not_utf8, "b").is_err());
    }
}
