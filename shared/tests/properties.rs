//! Properties of the crypto and the parsers, over generated inputs (proptest): round trips, tampering,
//! signatures, the skey shape, WeChat's answers. None of them may panic on any input.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Value, json};
use wxauth::crypto::{self, Expect, SKEY_BYTES, SKEY_LEN};
use wxauth::error::{CryptoError, WechatError};

const APPID: &str = "wx4f4bc4dec97d474b";

/// A WeChat user-info payload in WeChat's own key order: openId first, some text fields, the watermark
/// last. (`json!` would sort the keys; WeChat's order matters for the tampering property below.)
fn payload_text(openid: &str, nick: &str, city: &str, gender: i64) -> String {
    let s = |v: &str| serde_json::to_string(v).expect("string");
    format!(
        r#"{{"openId":{},"nickName":{},"gender":{gender},"city":{},"watermark":{{"appid":"{APPID}","timestamp":1795000000}}}}"#,
        s(openid),
        s(nick),
        s(city)
    )
}

fn openid_strategy() -> impl Strategy<Value = String> {
    "o[A-Za-z0-9_-]{27}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// AES-128-CBC with PKCS#7: whatever the key, iv and plaintext, decrypt(encrypt(p)) == p, and the
    /// ciphertext is whole blocks, one to sixteen bytes longer than the plaintext.
    #[test]
    fn encrypt_decrypt_round_trip(
        key in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        plain in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let key = crypto::base64_encode(&key);
        let ct = crypto::encrypt(&key, &plain, &iv).expect("a 16-byte key encrypts");
        prop_assert_eq!(ct.len() % 16, 0);
        prop_assert!(ct.len() > plain.len() && ct.len() <= plain.len() + 16);
        prop_assert_eq!(crypto::decrypt(&key, &ct, &iv).expect("round trip"), plain);
    }

    /// WeChat's user data opens to exactly what was sealed, minus the watermark; the same data does not
    /// open for another appid or another user.
    #[test]
    fn user_data_round_trip(
        key in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        openid in openid_strategy(),
        other in openid_strategy(),
        nick in "\\PC{0,40}",
        city in "[a-zA-Z ]{0,20}",
        gender in 0i64..3,
    ) {
        let key = crypto::base64_encode(&key);
        let text = payload_text(&openid, &nick, &city, gender);
        let sealed: Value = serde_json::from_str(&text).expect("valid JSON");
        let ct = crypto::encrypt(&key, text.as_bytes(), &iv).expect("encrypt");
        let (enc, iv_b64) = (crypto::base64_encode(&ct), crypto::base64_encode(&iv));
        let expect = Expect { appid: APPID, openid: Some(&openid) };
        let opened = crypto::open_user_data(&key, &enc, &iv_b64, expect).expect("opens");
        let mut want = sealed.as_object().expect("object").clone();
        want.remove("watermark");
        prop_assert_eq!(&opened, &want);
        // Padding stripped by clients is accepted too.
        let unpadded = enc.trim_end_matches('=');
        prop_assert_eq!(
            crypto::open_user_data(&key, unpadded, &iv_b64, expect).expect("opens"),
            want
        );
        prop_assert_eq!(
            crypto::open_user_data(&key, &enc, &iv_b64, Expect { appid: "wxother", openid: Some(&openid) }),
            Err(CryptoError::DecryptFailed)
        );
        if other != openid {
            prop_assert_eq!(
                crypto::open_user_data(&key, &enc, &iv_b64, Expect { appid: APPID, openid: Some(&other) }),
                Err(CryptoError::DecryptFailed)
            );
        }
    }

    /// Any change of one byte of the ciphertext (one or more bits of it) is refused with the single
    /// DECRYPT_FAILED; a change of the iv is refused, or at most renames the first block's `openId` key
    /// (the data then opens without an openId, as today's payloads do): it never opens with another
    /// user's openId, nor with anything changed beyond its first 16 bytes.
    ///
    /// AES-CBC has no MAC, so this holds only because of the checks after decryption: a changed
    /// ciphertext block decrypts to 16 pseudo-random bytes (which would also have to be valid JSON text
    /// keeping the structure and the watermark: a chance below 1e-6 per case), and a changed iv changes
    /// the first 16 plaintext bytes *predictably*, which WeChat's layout puts on `{"openId":"oXXXX`: a
    /// changed value is refused by the openId check, a changed key name leaves data without openId, which
    /// the caller's own session_key decrypting it already binds to the caller. See
    /// `iv_flips_change_the_first_block_only`.
    #[test]
    fn tampering_is_refused(
        key in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        openid in openid_strategy(),
        nick in "[a-zA-Z0-9 ]{0,40}",
        position in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let key = crypto::base64_encode(&key);
        let sealed = payload_text(&openid, &nick, "Shenzhen", 1);
        let ct = crypto::encrypt(&key, sealed.as_bytes(), &iv).expect("encrypt");
        let mut all = iv.to_vec();
        all.extend_from_slice(&ct);
        let i = position.index(all.len());
        all[i] ^= mask;
        let (tiv, tct) = all.split_at(16);
        let expect = Expect { appid: APPID, openid: Some(&openid) };
        let got = crypto::open_user_data(
            &key,
            &crypto::base64_encode(tct),
            &crypto::base64_encode(tiv),
            expect,
        );
        match got {
            Err(e) => prop_assert_eq!(e, CryptoError::DecryptFailed, "byte {} ^ {:#04x}", i, mask),
            Ok(obj) => {
                prop_assert!(i < 16, "a ciphertext change opened: byte {} ^ {:#04x}", i, mask);
                prop_assert!(obj.get("openId").is_none(), "opened with an openId: {:?}", obj);
                prop_assert_eq!(obj.get("city"), Some(&serde_json::json!("Shenzhen")));
                prop_assert_eq!(obj.get("nickName"), Some(&serde_json::json!(nick)));
            }
        }
    }

    /// What the iv can and cannot do (the limit of WeChat's scheme, documented in docs/robustness.md):
    /// a changed iv byte flips the same bits of the first plaintext block and nothing else. Where the
    /// first block holds no checked field, the change is not detected: the data opens, altered.
    #[test]
    fn iv_flips_change_the_first_block_only(
        key in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        openid in openid_strategy(),
        byte in 2usize..16,
        mask in 1u8..=255,
    ) {
        let key = crypto::base64_encode(&key);
        // First block: `{"nickName":"Ab` (nickName first, not WeChat's order).
        let plain = format!(r#"{{"nickName":"AbCdEfGh","openId":"{openid}","watermark":{{"appid":"{APPID}"}}}}"#);
        let ct = crypto::encrypt(&key, plain.as_bytes(), &iv).expect("encrypt");
        let mut tampered_iv = iv;
        tampered_iv[byte] ^= mask;
        let opened = crypto::decrypt(&key, &ct, &tampered_iv).expect("padding is untouched");
        let mut want = plain.clone().into_bytes();
        want[byte] ^= mask;
        prop_assert_eq!(&opened, &want, "exactly the same bits of the first block flipped");
        prop_assert_eq!(&opened[16..], &plain.as_bytes()[16..]);
    }

    /// Truncated, extended or wrong-key ciphertexts and wrong-length ivs never panic and never open.
    #[test]
    fn reshaped_input_is_refused(
        key in any::<[u8; 16]>(),
        other_key in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        openid in openid_strategy(),
        cut in 1usize..48,
        extra in proptest::collection::vec(any::<u8>(), 1..40),
        iv_len in 0usize..40,
    ) {
        let key_b64 = crypto::base64_encode(&key);
        let sealed = payload_text(&openid, "n", "c", 0);
        let ct = crypto::encrypt(&key_b64, sealed.as_bytes(), &iv).expect("encrypt");
        let iv_b64 = crypto::base64_encode(&iv);
        let expect = Expect { appid: APPID, openid: Some(&openid) };
        let open = |k: &str, c: &[u8], v: &str| crypto::open_user_data(k, &crypto::base64_encode(c), v, expect);

        let truncated = &ct[..ct.len().saturating_sub(cut)];
        prop_assert_eq!(open(&key_b64, truncated, &iv_b64), Err(CryptoError::DecryptFailed));
        let mut extended = ct.clone();
        extended.extend_from_slice(&extra);
        prop_assert_eq!(open(&key_b64, &extended, &iv_b64), Err(CryptoError::DecryptFailed));
        if other_key != key {
            prop_assert_eq!(open(&crypto::base64_encode(&other_key), &ct, &iv_b64), Err(CryptoError::DecryptFailed));
        }
        let odd_iv = crypto::base64_encode(&vec![7u8; iv_len]);
        let want = if iv_len == 16 { Err(CryptoError::DecryptFailed) } else { Err(CryptoError::Malformed("iv")) };
        prop_assert_eq!(open(&key_b64, &ct, &odd_iv), want);
    }

    /// The decrypt path on arbitrary strings: never panics, and anything that opens has the watermark
    /// of the expected appid and the expected openId.
    #[test]
    fn open_user_data_on_garbage_never_panics(
        key in "\\PC{0,30}",
        enc in "[A-Za-z0-9+/=]{0,100}|\\PC{0,50}",
        iv in "[A-Za-z0-9+/=]{0,30}|\\PC{0,30}",
    ) {
        let expect = Expect { appid: APPID, openid: Some("o1") };
        if let Ok(obj) = crypto::open_user_data(&key, &enc, &iv, expect) {
            prop_assert_eq!(obj.get("openId"), Some(&json!("o1")));
        }
    }

    /// `hex(sha1(rawData + session_key))`: the valid signature always passes (either case, trimmed);
    /// another rawData, another key, or any other signature fails.
    #[test]
    fn signatures(
        raw in "\\PC{0,200}",
        key in "[A-Za-z0-9+/]{22}==",
        other_raw in "\\PC{0,200}",
        other_key in "[A-Za-z0-9+/]{22}==",
        position in any::<prop::sample::Index>(),
        digit in 0u8..16,
        cut in 1usize..40,
    ) {
        let sig = crypto::sign_raw_data(&raw, &key);
        prop_assert_eq!(sig.len(), 40);
        prop_assert!(crypto::verify_signature(&raw, &key, &sig).is_ok());
        prop_assert!(crypto::verify_signature(&raw, &key, &sig.to_uppercase()).is_ok());
        let padded = format!(" {sig}\n");
        prop_assert!(crypto::verify_signature(&raw, &key, &padded).is_ok());
        if other_raw != raw {
            prop_assert_eq!(crypto::verify_signature(&other_raw, &key, &sig), Err(CryptoError::BadSignature));
        }
        if other_key != key {
            prop_assert_eq!(crypto::verify_signature(&raw, &other_key, &sig), Err(CryptoError::BadSignature));
        }
        // One hex digit changed to another value.
        let i = position.index(sig.len());
        let old = u8::from_str_radix(&sig[i..=i], 16).expect("hex");
        if digit != old {
            let mut changed = sig.clone();
            changed.replace_range(i..=i, &format!("{digit:x}"));
            prop_assert_eq!(crypto::verify_signature(&raw, &key, &changed), Err(CryptoError::BadSignature));
        }
        prop_assert_eq!(
            crypto::verify_signature(&raw, &key, &sig[..sig.len() - cut]),
            Err(CryptoError::BadSignature)
        );
        prop_assert_eq!(
            crypto::verify_signature(&raw, &key, &format!("{sig}0")),
            Err(CryptoError::BadSignature)
        );
    }

    /// parse_skey on any string never panics and accepts only the canonical base64url encoding (no
    /// padding) of 32 bytes, 43 characters, surrounding whitespace trimmed.
    #[test]
    fn parse_skey_accepts_only_canonical_skeys(
        s in "\\PC{0,60}|[A-Za-z0-9_+/=-]{40,46}|\\s{0,2}[A-Za-z0-9_-]{43}\\s{0,2}",
    ) {
        if let Some(skey) = crypto::parse_skey(&s) {
            prop_assert_eq!(skey, s.trim());
            prop_assert_eq!(skey.len(), SKEY_LEN);
            prop_assert!(skey.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            let bytes = URL_SAFE_NO_PAD.decode(skey).expect("decodes");
            prop_assert_eq!(bytes.len(), SKEY_BYTES);
            prop_assert_eq!(URL_SAFE_NO_PAD.encode(&bytes), skey);
        }
    }

    /// Every encoding of 32 bytes is accepted; changing any one character to one outside the alphabet,
    /// or adding or removing one, is refused.
    #[test]
    fn skeys_of_random_bytes(
        bytes in any::<[u8; 32]>(),
        position in any::<prop::sample::Index>(),
        bad in prop::sample::select(vec!['+', '/', '=', '.', ' ', '\u{0}', 'é', '~']),
    ) {
        let skey = URL_SAFE_NO_PAD.encode(bytes);
        prop_assert_eq!(crypto::parse_skey(&skey), Some(skey.as_str()));
        let i = position.index(SKEY_LEN);
        let mut changed: Vec<char> = skey.chars().collect();
        changed[i] = bad;
        let changed: String = changed.into_iter().collect();
        prop_assert_eq!(crypto::parse_skey(&changed), None);
        prop_assert_eq!(crypto::parse_skey(&skey[..SKEY_LEN - 1]), None);
        let (longer, padded) = (format!("{skey}A"), format!("{skey}="));
        prop_assert_eq!(crypto::parse_skey(&longer), None);
        prop_assert_eq!(crypto::parse_skey(&padded), None);
    }

    /// The client's iv: standard base64 of exactly 16 bytes, nothing else.
    #[test]
    fn iv_is_exactly_16_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let got = crypto::decode_iv(&crypto::base64_encode(&bytes));
        if bytes.len() == 16 {
            prop_assert_eq!(got.expect("16 bytes").to_vec(), bytes);
        } else {
            prop_assert_eq!(got, Err(CryptoError::Malformed("iv")));
        }
    }

    /// WeChat's answers: any bytes parse or fail without panicking; a nonzero errcode is never a success.
    #[test]
    fn wechat_answers(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        errcode in any::<i64>(),
        as_string in any::<bool>(),
    ) {
        let _ = wxauth::wechat::parse_body(&body);
        let code = if as_string { json!(errcode.to_string()) } else { json!(errcode) };
        let answer = json!({"errcode": code, "errmsg": "x", "openid": "o", "session_key": "k"});
        let parsed = wxauth::wechat::parse_body(answer.to_string().as_bytes());
        if errcode == 0 {
            prop_assert!(parsed.is_ok());
        } else {
            prop_assert!(parsed.is_err(), "errcode {} accepted", errcode);
            if let Err(WechatError::Other { errcode: got, .. }) = parsed {
                prop_assert_eq!(got, errcode);
            }
        }
    }
}
