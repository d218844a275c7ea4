//! An RSA key held in memory: the local server's (generated at start, or read from a PKCS#8 PEM file
//! with `WXAUTH_JWT_KEY_FILE`) and the tests'. Deployed functions sign with KMS ([`super::kms`]).

use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Jwk, JwtSigner};
use crate::error::SigningError;

/// An RSA-2048 (or larger) private key; its `kid` is its RFC 7638 thumbprint.
pub struct LocalKey {
    key: KeyPair,
    jwk: Jwk,
}

impl std::fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKey")
            .field("kid", &self.jwk.kid)
            .finish_non_exhaustive()
    }
}

impl LocalKey {
    /// A new RSA-2048 key from the OS's randomness.
    pub fn generate() -> Result<LocalKey, SigningError> {
        let key = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| SigningError::Misconfigured("cannot generate an RSA key".into()))?;
        Ok(LocalKey::of(key))
    }

    /// A key from PEM text holding an unencrypted PKCS#8 RSA private key (`BEGIN PRIVATE KEY`,
    /// as `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` writes it).
    pub fn from_pem(pem: &str) -> Result<LocalKey, SigningError> {
        let invalid = |why: &str| SigningError::Misconfigured(format!("not an RSA key: {why}"));
        let body = pem
            .split("-----BEGIN PRIVATE KEY-----")
            .nth(1)
            .and_then(|rest| rest.split("-----END PRIVATE KEY-----").next())
            .ok_or_else(|| invalid("no PKCS#8 PEM block (BEGIN PRIVATE KEY)"))?;
        let der = STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .map_err(|_| invalid("the PEM block is not base64"))?;
        let key = KeyPair::from_pkcs8(&der).map_err(|e| invalid(&e.to_string()))?;
        if key.public_modulus_len() < 256 {
            return Err(invalid("shorter than 2048 bits"));
        }
        Ok(LocalKey::of(key))
    }

    fn of(key: KeyPair) -> LocalKey {
        let public = key.public_key();
        let modulus = public.modulus().big_endian_without_leading_zero();
        let exponent = public.exponent().big_endian_without_leading_zero();
        let jwk = Jwk::rsa(Jwk::thumbprint(modulus, exponent), modulus, exponent);
        LocalKey { key, jwk }
    }

    /// The private key as PKCS#8 PEM (what [`LocalKey::from_pem`] reads): for a file of the local
    /// server's, or a test signing its own tokens. Never log it.
    pub fn to_pem(&self) -> Result<String, SigningError> {
        use aws_lc_rs::encoding::AsDer;
        let der = self
            .key
            .as_der()
            .map_err(|_| SigningError::Misconfigured("cannot encode the RSA key".into()))?;
        let body = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        Ok(pem)
    }

    /// The public key as published.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }
}

#[async_trait]
impl JwtSigner for LocalKey {
    fn kid(&self) -> &str {
        &self.jwk.kid
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| SigningError::Unavailable("RSA signing failed".into()))?;
        Ok(signature)
    }

    async fn public_keys(&self) -> Result<Vec<Jwk>, SigningError> {
        Ok(vec![self.jwk.clone()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    #[tokio::test]
    async fn signatures_verify_with_the_published_key() {
        let key = LocalKey::generate().expect("key");
        let sig = key.sign(b"hello").await.expect("sign");
        let public =
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.key.public_key().as_ref());
        assert!(public.verify(b"hello", &sig).is_ok());
        assert!(public.verify(b"hellO", &sig).is_err());
        assert_eq!(key.kid().len(), 43);
    }

    #[test]
    fn pem_keys_are_read_and_bad_ones_refused() {
        let key = LocalKey::generate().expect("key");
        let pem = key.to_pem().expect("pem");
        let read = LocalKey::from_pem(&pem).expect("read");
        assert_eq!(read.jwk(), key.jwk());
        for bad in [
            "",
            "-----BEGIN PRIVATE KEY-----\n%%\n-----END PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        ] {
            let e = LocalKey::from_pem(bad).expect_err("bad");
            assert!(e.to_string().contains("not an RSA key"), "{e}");
        }
    }
}
