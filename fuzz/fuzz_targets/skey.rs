//! The skey header parser: `wxauth::crypto::parse_skey` on any string. Never panics; accepts only the
//! canonical base64url (no padding) encoding of 32 bytes, surrounding whitespace trimmed.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(skey) = wxauth::crypto::parse_skey(text) {
        assert_eq!(skey, text.trim());
        assert_eq!(skey.len(), wxauth::crypto::SKEY_LEN);
        assert!(
            skey.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let bytes = URL_SAFE_NO_PAD.decode(skey).expect("accepted skeys decode");
        assert_eq!(bytes.len(), wxauth::crypto::SKEY_BYTES);
        assert_eq!(
            URL_SAFE_NO_PAD.encode(&bytes),
            skey,
            "canonical encoding only"
        );
    }
});
