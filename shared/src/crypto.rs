//! Cryptography of wxauth: skey generation and hashing, the user-data signature, the AES-128-CBC
//! decryption of `encryptedData`, and the checksession signature.
//!
//! Everything here is a pure function over bytes, so it is tested with vectors made by an independent tool
//! (OpenSSL, `scripts/make-crypto-vectors`, committed as `shared/testdata/userdata-vectors.json`).

use aes::Aes128;
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, general_purpose};
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::CryptoError;

/// Length in bytes of the random part of an skey.
pub const SKEY_BYTES: usize = 32;
/// Length in characters of an skey (base64url of 32 bytes, no padding).
pub const SKEY_LEN: usize = 43;

/// Standard base64 that accepts input with or without `=` padding (WeChat pads; some clients strip it).
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Fills `N` bytes from the operating system's CSPRNG.
fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)?;
    Ok(buf)
}

/// A new session token: 32 bytes from the OS CSPRNG, base64url without padding (43 characters).
pub fn generate_skey() -> Result<String, getrandom::Error> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<SKEY_BYTES>()?))
}

/// A random, non-secret identifier (16 bytes, base64url): session ids, simulator codes.
pub fn random_id() -> Result<String, getrandom::Error> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<16>()?))
}

/// Random bytes encoded with standard base64 (simulated session keys and ivs).
pub fn random_base64<const N: usize>() -> Result<String, getrandom::Error> {
    Ok(general_purpose::STANDARD.encode(random_bytes::<N>()?))
}

/// Checks that a header value has the exact shape of an skey (43 base64url characters that decode to
/// 32 bytes) and returns it without surrounding spaces and tabs (HTTP's optional whitespace, nothing
/// else: an skey wrapped in U+00A0 or U+3000 is no skey). Anything else is refused before any store
/// lookup.
pub fn parse_skey(value: &str) -> Option<&str> {
    let value = value.trim_matches([' ', '\t']);
    if value.len() != SKEY_LEN {
        return None;
    }
    match URL_SAFE_NO_PAD.decode(value) {
        Ok(bytes) if bytes.len() == SKEY_BYTES => Some(value),
        _ => None,
    }
}

/// The only form of an skey that is ever stored: lowercase hex of its SHA-256.
pub fn skey_hash(skey: &str) -> String {
    hex::encode(Sha256::digest(skey.as_bytes()))
}

/// `hex(sha1(rawData + session_key))`, as WeChat computes the user-data signature.
pub fn sign_raw_data(raw_data: &str, session_key: &str) -> String {
    let mut h = Sha1::new();
    h.update(raw_data.as_bytes());
    h.update(session_key.as_bytes());
    hex::encode(h.finalize())
}

/// Verifies `signature == hex(sha1(rawData + session_key))` in constant time (hex of either case).
pub fn verify_signature(
    raw_data: &str,
    session_key: &str,
    signature: &str,
) -> Result<(), CryptoError> {
    let mut given = [0u8; 20];
    hex::decode_to_slice(signature.trim(), &mut given).map_err(|_| CryptoError::BadSignature)?;
    let mut h = Sha1::new();
    h.update(raw_data.as_bytes());
    h.update(session_key.as_bytes());
    let expected = h.finalize();
    if bool::from(expected.as_slice().ct_eq(&given)) {
        Ok(())
    } else {
        Err(CryptoError::BadSignature)
    }
}

/// The checksession signature: hex HMAC-SHA256 keyed with the session_key's base64 *string* bytes,
/// over the empty message (`sig_method=hmac_sha256`).
pub fn checksession_signature(session_key: &str) -> String {
    // HMAC accepts keys of any length: this cannot fail.
    let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(session_key.as_bytes())
        .map(|m| m.finalize().into_bytes());
    match mac {
        Ok(bytes) => hex::encode(bytes),
        Err(_) => String::new(),
    }
}

/// The prefix of values sealed by [`seal_at_rest`] (its format's version).
const AT_REST_PREFIX: &str = "v1.";

/// A key for values kept at rest, derived from a secret the reader holds anyway (the app secret):
/// HMAC-SHA256(secret, purpose). Whoever reads the table without the secret (a backup, another
/// function's role) cannot use what is sealed with it.
pub fn at_rest_key(secret: &str, purpose: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Seals a value for the store: AES-256-GCM with a random nonce, `context` (what the value belongs to,
/// such as the appid) authenticated with it: `v1.` + base64(nonce ‖ ciphertext ‖ tag).
pub fn seal_at_rest(key: &[u8; 32], context: &str, value: &str) -> Result<String, CryptoError> {
    use aes_gcm::aead::{Aead, Payload};
    let cipher = aes_gcm::Aes256Gcm::new(key.into());
    let nonce = random_bytes::<12>().map_err(|_| CryptoError::Malformed("randomness"))?;
    let sealed = cipher
        .encrypt(
            &nonce.into(),
            Payload {
                msg: value.as_bytes(),
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| CryptoError::DecryptFailed)?;
    Ok(format!(
        "{AT_REST_PREFIX}{}",
        general_purpose::STANDARD.encode([nonce.as_slice(), &sealed].concat())
    ))
}

/// Opens what [`seal_at_rest`] sealed with the same key and context; `None` for anything else (another
/// key or context, a value written in clear by an earlier release, garbage).
pub fn open_at_rest(key: &[u8; 32], context: &str, sealed: &str) -> Option<String> {
    use aes_gcm::aead::{Aead, Payload};
    let bytes = general_purpose::STANDARD
        .decode(sealed.strip_prefix(AT_REST_PREFIX)?)
        .ok()?;
    if bytes.len() < 12 + 16 {
        return None;
    }
    let (nonce, body) = bytes.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let cipher = aes_gcm::Aes256Gcm::new(key.into());
    let plain = cipher
        .decrypt(
            &nonce.into(),
            Payload {
                msg: body,
                aad: context.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
}

/// Decodes the client's `iv`: standard base64 of exactly 16 bytes.
pub fn decode_iv(iv: &str) -> Result<[u8; 16], CryptoError> {
    let bytes = B64_LENIENT
        .decode(iv.trim())
        .map_err(|_| CryptoError::Malformed("iv"))?;
    bytes.try_into().map_err(|_| CryptoError::Malformed("iv"))
}

/// Decodes `encryptedData` (standard base64).
pub fn decode_ciphertext(data: &str) -> Result<Vec<u8>, CryptoError> {
    B64_LENIENT
        .decode(data.trim())
        .map_err(|_| CryptoError::Malformed("encryptedData"))
}

/// Decodes a session_key into the 16-byte AES key. A stored key of another shape cannot decrypt anything:
/// that is a decryption failure, not a client error.
fn session_aes_key(session_key: &str) -> Result<[u8; 16], CryptoError> {
    let bytes = B64_LENIENT
        .decode(session_key)
        .map_err(|_| CryptoError::DecryptFailed)?;
    bytes.try_into().map_err(|_| CryptoError::DecryptFailed)
}

/// AES-128-CBC with PKCS#7, key = base64-decoded session_key. Every failure is `DecryptFailed`.
pub fn decrypt(
    session_key: &str,
    ciphertext: &[u8],
    iv: &[u8; 16],
) -> Result<Vec<u8>, CryptoError> {
    let key = session_aes_key(session_key)?;
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(CryptoError::DecryptFailed);
    }
    cbc::Decryptor::<Aes128>::new(&key.into(), iv.into())
        .decrypt_padded_vec::<Pkcs7>(ciphertext)
        .map_err(|_| CryptoError::DecryptFailed)
}

/// The inverse of [`decrypt`], as WeChat does it: used by the local simulator and by tests.
pub fn encrypt(session_key: &str, plaintext: &[u8], iv: &[u8; 16]) -> Result<Vec<u8>, CryptoError> {
    let key = session_aes_key(session_key)?;
    Ok(
        cbc::Encryptor::<Aes128>::new(&key.into(), iv.into())
            .encrypt_padded_vec::<Pkcs7>(plaintext),
    )
}

/// Standard base64 encoding (what WeChat sends in `encryptedData` and `iv`).
pub fn base64_encode(bytes: &[u8]) -> String {
    general_purpose::STANDARD.encode(bytes)
}

/// What the decrypted JSON must match.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// `watermark.appid` must equal this.
    pub appid: &'a str,
    /// `openId`, when the payload has one, must equal this (phone-number payloads and the anonymous
    /// user info of today's WeChat carry none).
    pub openid: Option<&'a str>,
}

/// Decodes, decrypts and checks WeChat's encrypted user data. Returns the JSON object without its
/// `watermark`. Malformed base64 or an iv that is not 16 bytes is `Malformed`; every failure once
/// decryption starts (padding, UTF-8, JSON, watermark, another user's openId) is the single
/// `DecryptFailed`. A payload without `openId` is accepted.
pub fn open_user_data(
    session_key: &str,
    encrypted_data: &str,
    iv: &str,
    expect: Expect<'_>,
) -> Result<serde_json::Map<String, serde_json::Value>, CryptoError> {
    let iv = decode_iv(iv)?;
    let ciphertext = decode_ciphertext(encrypted_data)?;
    let plaintext = decrypt(session_key, &ciphertext, &iv)?;
    let mut obj = match serde_json::from_slice::<serde_json::Value>(&plaintext) {
        Ok(serde_json::Value::Object(obj)) => obj,
        _ => return Err(CryptoError::DecryptFailed),
    };
    let watermark_ok = obj
        .get("watermark")
        .and_then(|w| w.get("appid"))
        .and_then(|a| a.as_str())
        .is_some_and(|a| a == expect.appid);
    if !watermark_ok {
        return Err(CryptoError::DecryptFailed);
    }
    // Payloads of today's APIs may carry no openId: the session's own session_key decrypting them and
    // the watermark's appid already bind them to this user. An openId that is there must be the caller's.
    if let (Some(openid), Some(given)) = (expect.openid, obj.get("openId"))
        && given.as_str() != Some(openid)
    {
        return Err(CryptoError::DecryptFailed);
    }
    obj.remove("watermark");
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";

    #[test]
    fn skeys_are_fresh_and_well_formed() {
        let a = generate_skey().expect("csprng");
        let b = generate_skey().expect("csprng");
        assert_ne!(a, b);
        assert_eq!(a.len(), SKEY_LEN);
        assert_eq!(parse_skey(&a), Some(a.as_str()));
        assert_eq!(parse_skey(&format!("  {a}\t")), Some(a.as_str()));
    }

    #[test]
    fn parse_skey_refuses_other_shapes() {
        let good = generate_skey().expect("csprng");
        for bad in [
            String::new(),
            good[..42].to_string(),
            format!("{good}A"),
            format!("{}+", &good[..42]),
            format!("{}=", &good[..42]),
            format!("{}é", &good[..41]),
            "A".repeat(4096),
            format!("\u{a0}{good}"),
            format!("{good}\u{3000}"),
            format!("\u{85}{good}\u{85}"),
            format!("\n{good}"),
            format!("{good}\r"),
        ] {
            assert_eq!(parse_skey(&bad), None, "{bad:?}");
        }
        assert_eq!(parse_skey(&format!(" \t{good} ")), Some(good.as_str()));
        // 43 characters whose last one carries non-zero trailing bits is not a canonical encoding.
        let mut non_canonical = good[..42].to_string();
        non_canonical.push('B');
        if URL_SAFE_NO_PAD.decode(&non_canonical).is_err() {
            assert_eq!(parse_skey(&non_canonical), None);
        }
    }

    #[test]
    fn sealed_at_rest_opens_only_with_its_key_and_context() {
        let key = at_rest_key("app-secret", "access_token");
        let sealed = seal_at_rest(&key, "wx1", "ACCESS_TOKEN_VALUE").expect("sealed");
        assert!(!sealed.contains("ACCESS_TOKEN_VALUE"));
        assert_ne!(
            sealed,
            seal_at_rest(&key, "wx1", "ACCESS_TOKEN_VALUE").expect("s")
        );
        assert_eq!(
            open_at_rest(&key, "wx1", &sealed).as_deref(),
            Some("ACCESS_TOKEN_VALUE")
        );
        let other = at_rest_key("another-secret", "access_token");
        assert_eq!(open_at_rest(&other, "wx1", &sealed), None);
        assert_eq!(open_at_rest(&key, "wx2", &sealed), None);
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert_eq!(open_at_rest(&key, "wx1", &flipped), None);
        for garbage in ["", "v1.", "v1.AAAA", "ACCESS_TOKEN_VALUE", "v1.%%%%"] {
            assert_eq!(open_at_rest(&key, "wx1", garbage), None, "{garbage}");
        }
    }

    #[test]
    fn skey_hash_is_sha256_hex() {
        // echo -n abc | sha256sum
        assert_eq!(
            skey_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn signature_checks() {
        // python3 -c "import hashlib;print(hashlib.sha1(b'{\"a\":1}'+b'tiihtNczf5v6AKRyjwEUhQ==').hexdigest())"
        let raw = r#"{"a":1}"#;
        let sig = sign_raw_data(raw, KEY);
        assert_eq!(sig, "2e44307c6e1e307a03dd5e37a45b5e78c8d1fb36");
        assert!(verify_signature(raw, KEY, &sig).is_ok());
        assert!(verify_signature(raw, KEY, &sig.to_uppercase()).is_ok());
        assert_eq!(
            verify_signature(raw, "other", &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            verify_signature(r#"{"a":2}"#, KEY, &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            verify_signature(raw, KEY, "zz"),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            verify_signature(raw, KEY, &sig[..38]),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            verify_signature(raw, KEY, ""),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn checksession_signature_uses_the_key_string() {
        // python3 -c "import hmac,hashlib;print(hmac.new(b'tiihtNczf5v6AKRyjwEUhQ==',b'',hashlib.sha256).hexdigest())"
        assert_eq!(
            checksession_signature(KEY),
            "7154f9f8b4b76b92f541cbf0e37d48840fa06e5e42da92a6f80168a1516a4735"
        );
        assert_eq!(checksession_signature(KEY).len(), 64);
        assert_ne!(checksession_signature(KEY), checksession_signature("other"));
    }

    #[test]
    fn round_trip_and_failures() {
        let iv = [7u8; 16];
        let payload =
            br#"{"openId":"o1","nickName":"n","watermark":{"appid":"wxapp","timestamp":1}}"#;
        let ct = encrypt(KEY, payload, &iv).expect("encrypt");
        let enc = base64_encode(&ct);
        let iv_b64 = base64_encode(&iv);
        let expect = Expect {
            appid: "wxapp",
            openid: Some("o1"),
        };
        let obj = open_user_data(KEY, &enc, &iv_b64, expect).expect("open");
        assert_eq!(obj["nickName"], "n");
        assert!(!obj.contains_key("watermark"));

        let fail = |key: &str, enc: &str, iv: &str, expect: Expect<'_>| {
            open_user_data(key, enc, iv, expect).expect_err("must fail")
        };
        for (appid, openid) in [("other", "o1"), ("wxapp", "o2")] {
            let wrong = Expect {
                appid,
                openid: Some(openid),
            };
            assert_eq!(fail(KEY, &enc, &iv_b64, wrong), CryptoError::DecryptFailed);
        }
        assert_eq!(
            fail("AAAAAAAAAAAAAAAAAAAAAA==", &enc, &iv_b64, expect),
            CryptoError::DecryptFailed
        );
        assert_eq!(
            fail("short", &enc, &iv_b64, expect),
            CryptoError::DecryptFailed
        );
        assert_eq!(
            fail(KEY, &enc, "AAAA", expect),
            CryptoError::Malformed("iv")
        );
        assert_eq!(
            fail(KEY, "***", &iv_b64, expect),
            CryptoError::Malformed("encryptedData")
        );
        assert_eq!(
            fail(KEY, &base64_encode(&ct[..ct.len() - 1]), &iv_b64, expect),
            CryptoError::DecryptFailed
        );
        assert_eq!(fail(KEY, "", &iv_b64, expect), CryptoError::DecryptFailed);

        // Today's anonymous user info: no openId, no unionId. It opens; an openId of null does not.
        let anonymous =
            br#"{"nickName":"x","gender":0,"watermark":{"appid":"wxapp","timestamp":1}}"#;
        let enc = base64_encode(&encrypt(KEY, anonymous, &iv).expect("encrypt"));
        let obj = open_user_data(KEY, &enc, &iv_b64, expect).expect("no openId opens");
        assert_eq!(obj["nickName"], "x");
        let null = br#"{"openId":null,"watermark":{"appid":"wxapp","timestamp":1}}"#;
        let enc = base64_encode(&encrypt(KEY, null, &iv).expect("encrypt"));
        assert_eq!(fail(KEY, &enc, &iv_b64, expect), CryptoError::DecryptFailed);
    }

    /// Vectors made by OpenSSL (`scripts/make-crypto-vectors`), not by the code under test.
    #[test]
    fn openssl_vectors() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../testdata/userdata-vectors.json"))
                .expect("vectors");
        let get = |k: &str| v[k].as_str().expect(k).to_string();
        let case = |k: &str| v["cases"][k].as_str().expect(k).to_string();
        let (appid, openid, key, iv) = (get("appid"), get("openid"), get("session_key"), get("iv"));
        let expect = Expect {
            appid: &appid,
            openid: Some(&openid),
        };

        let plain = decrypt(
            &key,
            &decode_ciphertext(&case("valid")).expect("b64"),
            &decode_iv(&iv).expect("iv"),
        )
        .expect("decrypts");
        assert_eq!(String::from_utf8(plain).expect("utf8"), get("plaintext"));
        let user = open_user_data(&key, &case("valid"), &iv, expect).expect("valid vector opens");
        assert_eq!(user["nickName"], "微信用户 Band");
        assert_eq!(user["unionId"], "ocMvos6NjeKLIBqg5Mr9QjxrP1FA");
        assert!(!user.contains_key("watermark"));

        // Wrong key, wrong iv: one identical failure.
        let other_key = get("other_session_key");
        assert_eq!(
            open_user_data(&other_key, &case("valid"), &iv, expect),
            Err(CryptoError::DecryptFailed)
        );
        assert_eq!(
            open_user_data(&key, &case("valid"), &get("other_iv"), expect),
            Err(CryptoError::DecryptFailed)
        );
        for name in [
            "other_appid",
            "other_openid",
            "no_watermark",
            "not_json",
            "not_utf8",
            "bad_padding_zero",
            "bad_padding_big",
            "tampered",
            "truncated",
        ] {
            assert_eq!(
                open_user_data(&key, &case(name), &iv, expect),
                Err(CryptoError::DecryptFailed),
                "{name}"
            );
        }
        // Without the openId check (phone payloads), the other user's data opens.
        let no_openid = Expect {
            appid: &appid,
            openid: None,
        };
        assert!(open_user_data(&key, &case("other_openid"), &iv, no_openid).is_ok());
        // Our encryption matches OpenSSL's byte for byte.
        let ours = encrypt(
            &key,
            get("plaintext").as_bytes(),
            &decode_iv(&iv).expect("iv"),
        )
        .expect("enc");
        assert_eq!(base64_encode(&ours), case("valid"));
    }
}
