//! The decrypt path of `POST /userinfo` and `POST /phone`: `wxauth::crypto::open_user_data`.
//!
//! The first byte picks a mode:
//! - 0: the rest is split into (session_key, encryptedData, iv) strings, all three attacker-shaped;
//! - 1: the rest is raw ciphertext under a fixed key and iv (padding, block length);
//! - else: the rest is a *plaintext*, encrypted with the fixed key, so that the fuzzer explores the JSON,
//!   watermark and openId checks behind the cipher.
//!
//! Invariants: never panics; anything that opens carries the expected watermark appid (removed) and,
//! when one is expected and the data has an openId, the expected one.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wxauth::crypto::{self, Expect};

const KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
const IV: [u8; 16] = *b"r7BXXKkLb8qrSNn0";
const APPID: &str = "wx4f4bc4dec97d474b";
const OPENID: &str = "oGZUI0egBJY1zhBYw2KhdUfwVJJE";

fn check(data: &[u8], key: &str, enc: &str, iv: &str) {
    let expect_openid = data.len().is_multiple_of(2);
    let expect = Expect {
        appid: APPID,
        openid: expect_openid.then_some(OPENID),
    };
    if let Ok(obj) = crypto::open_user_data(key, enc, iv, expect) {
        assert!(!obj.contains_key("watermark"), "watermark is removed");
        // Today's payloads may carry no openId; one that is there is the expected one.
        if expect_openid && let Some(openid) = obj.get("openId") {
            assert_eq!(openid.as_str(), Some(OPENID));
        }
        // What opened really is what was sealed: it decrypts to a JSON object whose watermark matches.
        let iv_bytes = crypto::decode_iv(iv).expect("an opened iv decodes");
        let ct = crypto::decode_ciphertext(enc).expect("opened ciphertext decodes");
        let plain = crypto::decrypt(key, &ct, &iv_bytes).expect("opened data decrypts");
        let v: serde_json::Value = serde_json::from_slice(&plain).expect("JSON");
        assert_eq!(v["watermark"]["appid"], APPID);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 => {
            let text = String::from_utf8_lossy(rest);
            let mut parts = text.splitn(3, '\u{0}');
            let key = parts.next().unwrap_or_default();
            let enc = parts.next().unwrap_or_default();
            let iv = parts.next().unwrap_or_default();
            check(data, key, enc, iv);
        }
        1 => {
            let enc = crypto::base64_encode(rest);
            check(data, KEY, &enc, &crypto::base64_encode(&IV));
        }
        _ => {
            let ct = crypto::encrypt(KEY, rest, &IV).expect("a valid key encrypts");
            let enc = crypto::base64_encode(&ct);
            check(data, KEY, &enc, &crypto::base64_encode(&IV));
        }
    }
});
