//! A sample avatar for the dev route `GET /dev/avatar.png`: a real PNG (64×64, RGB, zlib with stored
//! blocks), made here so that the quick start needs nothing but curl, and identical on every run.

use wxauth::avatars::image::{PNG_SIGNATURE, png_chunk as chunk};

/// The side of the sample image, in pixels.
pub const SIDE: usize = 64;

/// zlib (RFC 1950) of `data` with stored deflate blocks: no compression, valid for every decoder.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(0xFFFF).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// A white disc on a `background` square, as a PNG.
pub fn png(background: [u8; 3]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(SIDE * (1 + 3 * SIDE));
    let centre = (SIDE as i64 - 1) / 2;
    for y in 0..SIDE as i64 {
        raw.push(0); // filter: none
        for x in 0..SIDE as i64 {
            let (dx, dy) = (x - centre, y - centre);
            let inside = dx * dx + dy * dy <= (SIDE as i64 / 3).pow(2);
            raw.extend_from_slice(if inside { &[0xFF; 3] } else { &background });
        }
    }
    let mut out = PNG_SIGNATURE.to_vec();
    let mut ihdr = Vec::new();
    let side = u32::try_from(SIDE).unwrap_or(1);
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// WeChat's green: the sample of the dev route.
pub const GREEN: [u8; 3] = [0x07, 0xC1, 0x60];

#[cfg(test)]
mod tests {
    use super::*;
    use wxauth::avatars::ImageFormat;

    #[test]
    fn the_sample_is_an_accepted_png_and_always_the_same() {
        let a = png(GREEN);
        assert_eq!(ImageFormat::detect(&a), Some(ImageFormat::Png));
        assert_eq!(a, png(GREEN));
        assert_ne!(a, png([0, 0, 0]));
        assert!(a.len() < 16 * 1024);
        // adler32 of "Wikipedia" (the reference value).
        assert!(zlib_stored(b"Wikipedia").ends_with(&0x11E6_0398u32.to_be_bytes()));
    }
}
