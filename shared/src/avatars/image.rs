//! Which image an avatar is, from its bytes alone (never from a file name or a content type): PNG,
//! JPEG or WebP, each walked through its whole structure, so that a valid signature in front of
//! anything else is refused.
//!
//! - PNG: the signature, `IHDR` first with a valid size and colour type, every chunk's CRC-32, at least
//!   one `IDAT`, `IEND` last and nothing after it.
//! - JPEG: `SOI`, well-formed marker segments with a frame header (`SOF*`) before the first scan, the
//!   entropy-coded data of each scan, `EOI` last and nothing after it.
//! - WebP: a RIFF container whose size is the file's, `WEBP`, chunks that end exactly at the end, and
//!   an image chunk (`VP8 ` with its start code, `VP8L` with its signature, or `VP8X` with frames).
//!
//! Pixels are never decoded: a structurally valid file with a corrupt picture inside is a broken
//! image, which is the client's problem, not a danger (it is served as `image/*` with `nosniff`).

/// The accepted formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
}

impl ImageFormat {
    /// Every accepted format.
    pub const ALL: [ImageFormat; 3] = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Webp];

    /// The format of these bytes, when they are one accepted format's complete structure.
    pub fn detect(bytes: &[u8]) -> Option<ImageFormat> {
        if is_png(bytes) {
            Some(ImageFormat::Png)
        } else if is_jpeg(bytes) {
            Some(ImageFormat::Jpeg)
        } else if is_webp(bytes) {
            Some(ImageFormat::Webp)
        } else {
            None
        }
    }

    /// The media type the image is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }

    /// The file extension of its URLs.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Webp => "webp",
        }
    }

    /// The format of a file extension of its URLs.
    pub fn from_extension(ext: &str) -> Option<ImageFormat> {
        ImageFormat::ALL.into_iter().find(|f| f.extension() == ext)
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

/// CRC-32 (ISO 3309, as PNG uses it), table built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// The CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |c, b| {
        CRC_TABLE[((c ^ u32::from(*b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// The first 8 bytes of every PNG.
pub const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Appends a PNG chunk to `out`: length, type, data and the CRC-32 of type and data (what the local
/// server's sample avatar and the tests build images with). A chunk over 4 GiB is cut to its length's
/// maximum, never written with a wrong length.
pub fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let data = &data[..len as usize];
    out.extend_from_slice(&len.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn is_png(b: &[u8]) -> bool {
    png_chunks(b).is_some()
}

/// Walks the chunks of a PNG; `Some` when the whole file is well-formed.
fn png_chunks(b: &[u8]) -> Option<()> {
    let mut pos = PNG_SIGNATURE.len();
    if !b.starts_with(PNG_SIGNATURE) {
        return None;
    }
    let mut first = true;
    let mut idat = false;
    loop {
        let len = usize::try_from(be32(b, pos)?).ok()?;
        if len > 0x7FFF_FFFF {
            return None;
        }
        let kind = b.get(pos + 4..pos + 8)?;
        let data_end = pos.checked_add(8)?.checked_add(len)?;
        let data = b.get(pos + 8..data_end)?;
        let crc = be32(b, data_end)?;
        if crc32(b.get(pos + 4..data_end)?) != crc || !kind.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        if first != (kind == b"IHDR") {
            return None;
        }
        if first {
            let width = be32(data, 0)?;
            let height = be32(data, 4)?;
            let (depth, colour) = (*data.get(8)?, *data.get(9)?);
            let depth_ok = match colour {
                0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
                3 => matches!(depth, 1 | 2 | 4 | 8),
                2 | 4 | 6 => matches!(depth, 8 | 16),
                _ => false,
            };
            if len != 13 || width == 0 || height == 0 || !depth_ok {
                return None;
            }
        }
        first = false;
        idat |= kind == b"IDAT";
        pos = data_end + 4;
        if kind == b"IEND" {
            return (len == 0 && idat && pos == b.len()).then_some(());
        }
    }
}

fn is_jpeg(b: &[u8]) -> bool {
    jpeg_segments(b).is_some()
}

/// Start-of-frame markers (baseline, progressive, lossless; Huffman and arithmetic).
fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF)
}

/// Walks the markers of a JPEG; `Some` when the whole file is well-formed.
fn jpeg_segments(b: &[u8]) -> Option<()> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    let mut frame = false;
    loop {
        if *b.get(pos)? != 0xFF {
            return None;
        }
        // Fill bytes (0xFF) may precede a marker.
        while *b.get(pos + 1)? == 0xFF {
            pos += 1;
        }
        let marker = *b.get(pos + 1)?;
        pos += 2;
        match marker {
            0xD9 => return (frame && pos == b.len()).then_some(()),
            0x00 | 0xD8 | 0xD0..=0xD7 => return None,
            0x01 => continue,
            _ => {}
        }
        let len = be16(b, pos)?;
        if len < 2 {
            return None;
        }
        let segment = b.get(pos + 2..pos + len)?;
        if is_sof(marker) {
            // precision, height (may be 0: defined later by DNL), width, components.
            let width = be16(segment, 3)?;
            let components = usize::from(*segment.get(5)?);
            if width == 0 || !(1..=4).contains(&components) || len != 8 + 3 * components {
                return None;
            }
            frame = true;
        }
        pos += len;
        if marker == 0xDA {
            if !frame {
                return None;
            }
            pos = entropy_coded_end(b, pos)?;
        }
    }
}

/// The end of a scan's entropy-coded data: the position of the next marker that is neither a stuffed
/// zero (`FF 00`) nor a restart (`FF D0`–`FF D7`).
fn entropy_coded_end(b: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let at = pos + b.get(pos..)?.iter().position(|x| *x == 0xFF)?;
        match *b.get(at + 1)? {
            0x00 | 0xD0..=0xD7 | 0xFF => pos = at + 1,
            _ => return Some(at),
        }
    }
}

fn is_webp(b: &[u8]) -> bool {
    webp_chunks(b).is_some()
}

/// Walks the chunks of a WebP file; `Some` when the whole file is well-formed.
fn webp_chunks(b: &[u8]) -> Option<()> {
    if b.get(0..4)? != b"RIFF" || b.get(8..12)? != b"WEBP" {
        return None;
    }
    let riff_size = usize::try_from(le32(b, 4)?).ok()?;
    if riff_size.checked_add(8)? != b.len() || riff_size % 2 == 1 {
        return None;
    }
    let mut pos = 12;
    let mut first = true;
    let mut extended = false;
    let mut image = false;
    while pos < b.len() {
        let kind = b.get(pos..pos + 4)?;
        let len = usize::try_from(le32(b, pos + 4)?).ok()?;
        let data = b.get(pos + 8..(pos + 8).checked_add(len)?)?;
        match kind {
            b"VP8 " if first || extended => {
                // frame tag (3 bytes), start code 9D 01 2A, 14-bit width and height.
                let size = u16::from_le_bytes(data.get(6..8)?.try_into().ok()?) & 0x3FFF;
                if data.get(3..6)? != [0x9D, 0x01, 0x2A] || size == 0 {
                    return None;
                }
                image = true;
            }
            b"VP8L" if first || extended => {
                if *data.first()? != 0x2F || data.len() < 5 {
                    return None;
                }
                image = true;
            }
            b"VP8X" if first => {
                if len != 10 {
                    return None;
                }
                extended = true;
            }
            b"ANMF" if extended => image = true,
            _ if first => return None,
            _ if !kind.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ') => return None,
            _ => {}
        }
        if !extended && !first {
            // A simple file is one image chunk; only extended files carry more chunks.
            return None;
        }
        first = false;
        pos += 8 + len + len % 2;
    }
    (pos == b.len() && image).then_some(())
}

pub mod samples {
    //! Small, structurally valid images of each format, made here byte by byte (for tests: the pixels
    //! are not real; the local server's sample avatar is `wxauth_local::sample`).

    use super::png_chunk as chunk;

    /// A 1×1 PNG (its IDAT is not real zlib: the structure is what is checked).
    pub fn png() -> Vec<u8> {
        let mut out = super::PNG_SIGNATURE.to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&1u32.to_be_bytes());
        ihdr.extend_from_slice(&1u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &[0x78, 0x01, 0x01, 0x00]);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    /// A JPEG: SOI, a frame header of one component, a scan with stuffing and a restart, EOI.
    pub fn jpeg() -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        out.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x04, b'J', b'F']);
        out.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
        out.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 0x3F, 0]);
        out.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    /// A lossless WebP: RIFF, WEBP, one VP8L chunk.
    pub fn webp() -> Vec<u8> {
        let data = [0x2F, 0, 0, 0, 0, 0];
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&((4 + 8 + data.len()) as u32).to_le_bytes());
        out.extend_from_slice(b"WEBP");
        out.extend_from_slice(b"VP8L");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::samples::{jpeg, png, webp};
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn valid_images_are_recognised() {
        assert_eq!(ImageFormat::detect(&png()), Some(ImageFormat::Png));
        assert_eq!(ImageFormat::detect(&jpeg()), Some(ImageFormat::Jpeg));
        assert_eq!(ImageFormat::detect(&webp()), Some(ImageFormat::Webp));
        for f in ImageFormat::ALL {
            assert_eq!(ImageFormat::from_extension(f.extension()), Some(f));
            assert!(f.content_type().starts_with("image/"));
        }
        assert_eq!(ImageFormat::from_extension("gif"), None);
    }

    #[test]
    fn a_signature_on_garbage_is_refused() {
        let garbage: Vec<u8> = (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for image in [png(), jpeg(), webp()] {
            let mut fake = image[..12].to_vec();
            fake.extend_from_slice(&garbage);
            assert_eq!(ImageFormat::detect(&fake), None);
            // Truncated anywhere, or with anything after its end: refused.
            for cut in 0..image.len() {
                assert_eq!(ImageFormat::detect(&image[..cut]), None, "cut at {cut}");
            }
            let mut longer = image.clone();
            longer.extend_from_slice(b"<html>");
            assert_eq!(ImageFormat::detect(&longer), None);
        }
        // A flipped bit in a PNG chunk fails its CRC.
        let mut p = png();
        p[20] ^= 1;
        assert_eq!(ImageFormat::detect(&p), None);
        for other in [
            &b"GIF89a\x01\x00\x01\x00"[..],
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            b"",
            b"\xFF\xD8\xFF\xD9",
            b"RIFF\x04\x00\x00\x00WEBP",
        ] {
            assert_eq!(ImageFormat::detect(other), None, "{other:?}");
        }
    }

    #[test]
    fn webp_structure() {
        // A lossy chunk needs its start code.
        let mut lossy = b"RIFF\x16\x00\x00\x00WEBPVP8 \x0a\x00\x00\x00".to_vec();
        lossy.extend_from_slice(&[0, 0, 0, 0x9D, 0x01, 0x2A, 1, 0, 1, 0]);
        assert_eq!(ImageFormat::detect(&lossy), Some(ImageFormat::Webp));
        lossy[23] = 0;
        assert_eq!(ImageFormat::detect(&lossy), None);
        // Two image chunks in a simple file: refused.
        let mut two = webp();
        let chunk = two[12..].to_vec();
        two.extend_from_slice(&chunk);
        let size = (two.len() - 8) as u32;
        two[4..8].copy_from_slice(&size.to_le_bytes());
        assert_eq!(ImageFormat::detect(&two), None);
    }
}
