//! Uploads as `wx.uploadFile` makes them: `multipart/form-data` bodies with the file in a named part,
//! built here byte by byte (hostile ones too), and images of each accepted format.

use wxauth::avatars::image::png_chunk;

/// The boundary of the forms built here.
pub const BOUNDARY: &str = "----WxUploadFileBoundary7MA4YWxkTrZu0gW";
/// The `Content-Type` of the forms built here (with [`BOUNDARY`]).
pub const CONTENT_TYPE: &str =
    "multipart/form-data; boundary=----WxUploadFileBoundary7MA4YWxkTrZu0gW";

/// The `Content-Type` of the forms built here.
pub fn content_type() -> String {
    CONTENT_TYPE.to_string()
}

/// A form: parts added in order, then [`Form::body`].
#[derive(Debug, Default, Clone)]
pub struct Form {
    body: Vec<u8>,
}

impl Form {
    pub fn new() -> Form {
        Form::default()
    }

    /// A part with these exact header lines and content.
    pub fn part(mut self, headers: &[&str], data: &[u8]) -> Form {
        self.body.extend_from_slice(
            format!("--{BOUNDARY}\r\n{}\r\n\r\n", headers.join("\r\n")).as_bytes(),
        );
        self.body.extend_from_slice(data);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A file part as WeChat sends it (`name`, a temporary file name, a content type).
    pub fn file(self, name: &str, data: &[u8]) -> Form {
        self.part(
            &[
                &format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"tmp_a1b2c3.png\""
                ),
                "Content-Type: image/png",
            ],
            data,
        )
    }

    /// A plain field (`formData` of `wx.uploadFile`).
    pub fn field(self, name: &str, value: &str) -> Form {
        self.part(
            &[&format!("Content-Disposition: form-data; name=\"{name}\"")],
            value.as_bytes(),
        )
    }

    /// The body, closed with the final delimiter.
    pub fn body(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.body
    }
}

/// The form of an avatar upload: the file in the part `file`.
pub fn avatar_form(image: &[u8]) -> Vec<u8> {
    Form::new().file("file", image).body()
}

/// The local server's sample PNG made exactly `size` bytes long with a `tEXt` chunk of padding
/// (still a PNG every decoder reads).
pub fn png_of_size(size: usize) -> Vec<u8> {
    let sample = wxauth_local::sample::png(wxauth_local::sample::GREEN);
    let iend = sample.len() - 12;
    let padding = size - sample.len() - 12;
    let mut out = sample[..iend].to_vec();
    let mut text = b"Comment\0".to_vec();
    text.resize(padding, b'x');
    png_chunk(&mut out, b"tEXt", &text);
    out.extend_from_slice(&sample[iend..]);
    assert_eq!(out.len(), size);
    out
}

/// A JPEG and a WebP file of the smallest complete structure.
pub use wxauth::avatars::image::samples::{jpeg, webp};

/// The lowercase hex SHA-256 of bytes (what `sha256sum` prints, and an avatar's version).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_type_names_the_boundary() {
        assert_eq!(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}")
        );
        assert_eq!(png_of_size(50_000).len(), 50_000);
    }
}
