//! Session JWTs signed by AWS KMS (feature `aws`): asymmetric `RSA_2048` keys of usage `SIGN_VERIFY`,
//! `RSASSA_PKCS1_V1_5_SHA_256` over the JWS signing input, sent whole (`MessageType: RAW`, KMS hashes
//! it: at most 4096 bytes, a session JWT's is about 500). The private key never leaves KMS. Two calls, signed with SigV4 ([`crate::sigv4`]): `Sign` at every issue, `GetPublicKey`
//! once per key and instance (for the JWKS).
//!
//! The keys are `WXAUTH_JWT_KMS_KEY_IDS`: the first signs, all are published (a rotation publishes
//! the next key before it signs, and the previous one until its session JWTs have expired). A key's
//! `kid` is its key id (the last part of an ARN).

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sigv4::http_request::SigningSettings;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use super::{Jwk, JwtSigner};
use crate::deadline;
use crate::error::SigningError;
use crate::sigv4::{Call, Signer, endpoint};

/// How long one KMS call may take (KMS answers in milliseconds; a retry follows a 5xx).
const CALL_TIMEOUT: Duration = Duration::from_millis(1500);
/// Calls made at most per operation (KMS asks clients to retry its 5xx answers and throttling).
const ATTEMPTS: usize = 2;
/// The longest message KMS signs whole.
const MAX_RAW_MESSAGE: usize = 4096;
/// KMS's name of RS256.
pub const SIGNING_ALGORITHM: &str = "RSASSA_PKCS1_V1_5_SHA_256";

/// The KMS keys of the session JWTs.
#[derive(Debug)]
pub struct KmsKeys {
    signer: Signer,
    url: String,
    /// The configured ids (key ids or ARNs), the signing key first.
    key_ids: Vec<String>,
    kid: String,
    published: OnceCell<Vec<Jwk>>,
}

/// The `kid` of a key id or ARN: the key id (`arn:aws:kms:r:a:key/ID` → `ID`).
pub fn kid_of(key_id: &str) -> &str {
    key_id.rsplit('/').next().unwrap_or(key_id)
}

impl KmsKeys {
    /// The keys `key_ids` (at least one; the first signs), in the SDK configuration's region, reached
    /// through `http`. `AWS_ENDPOINT_URL_KMS` (or `AWS_ENDPOINT_URL`) points it at a local KMS.
    pub fn new(
        sdk: &SdkConfig,
        http: reqwest::Client,
        key_ids: Vec<String>,
    ) -> Result<KmsKeys, SigningError> {
        KmsKeys::with_endpoint(sdk, http, key_ids, None)
    }

    /// Like [`KmsKeys::new`], with KMS at `endpoint` (`None`: the region's, or the environment's).
    pub fn with_endpoint(
        sdk: &SdkConfig,
        http: reqwest::Client,
        key_ids: Vec<String>,
        endpoint_url: Option<&str>,
    ) -> Result<KmsKeys, SigningError> {
        let first = key_ids
            .first()
            .ok_or_else(|| SigningError::Misconfigured("no KMS key id".into()))?;
        let kid = kid_of(first).to_string();
        let signer = Signer::new(sdk, http, "kms", SigningSettings::default, CALL_TIMEOUT)
            .map_err(|e| SigningError::Misconfigured(format!("KMS: {e}")))?;
        let url = match endpoint_url {
            Some(url) => format!("{}/", url.trim_end_matches('/')),
            None => format!("{}/", endpoint("kms", signer.region())),
        };
        Ok(KmsKeys {
            signer,
            url,
            key_ids,
            kid,
            published: OnceCell::new(),
        })
    }

    /// The KMS endpoint the calls go to.
    pub fn endpoint(&self) -> &str {
        &self.url
    }

    /// One KMS JSON call, retried once after a 5xx, throttling or no answer; its JSON answer.
    async fn call(&self, op: &'static str, body: &Value) -> Result<Value, SigningError> {
        let target = format!("TrentService.{op}");
        let body = body.to_string();
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let call = Call {
            op,
            method: "POST",
            url: &self.url,
            headers: &headers,
            body: body.as_bytes(),
        };
        let mut last = SigningError::Unavailable(format!("KMS {op}: not attempted"));
        for _ in 0..ATTEMPTS {
            let resp = match deadline::at_most(CALL_TIMEOUT, self.signer.send(&call)).await {
                Err(_) => return Err(SigningError::Unavailable(format!("KMS {op}: deadline"))),
                Ok(Err(e)) => {
                    last = SigningError::Unavailable(format!("KMS {op}: {e}"));
                    continue;
                }
                Ok(Ok(resp)) => resp,
            };
            let status = resp.status().as_u16();
            let answer: Value = resp.json().await.unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                return Ok(answer);
            }
            // `__type` is KMS's error name (`com.amazonaws.kms#NotFoundException` or a bare name).
            let kind = answer
                .get("__type")
                .and_then(Value::as_str)
                .map(|t| t.rsplit('#').next().unwrap_or(t))
                .unwrap_or("unknown")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(64)
                .collect::<String>();
            let error = format!("KMS {op}: HTTP {status} {kind}");
            let retryable =
                status >= 500 || kind.contains("Throttling") || kind.contains("LimitExceeded");
            if !retryable {
                return Err(if status == 400 || status == 403 {
                    // A wrong key id, a disabled key, a missing permission: the operator's to fix.
                    SigningError::Misconfigured(error)
                } else {
                    SigningError::Unavailable(error)
                });
            }
            last = SigningError::Unavailable(error);
        }
        Err(last)
    }

    async fn public_key(&self, key_id: &str) -> Result<Jwk, SigningError> {
        let answer = self.call("GetPublicKey", &json!({"KeyId": key_id})).await?;
        let bad =
            |why: &str| SigningError::Misconfigured(format!("KMS key {}: {why}", kid_of(key_id)));
        let der = answer
            .get("PublicKey")
            .and_then(Value::as_str)
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(|| bad("no public key in the answer"))?;
        let key = aws_lc_rs::rsa::PublicKey::from_der(&der).map_err(|_| bad("not an RSA key"))?;
        Ok(Jwk::rsa(
            kid_of(key_id),
            key.modulus().big_endian_without_leading_zero(),
            key.exponent().big_endian_without_leading_zero(),
        ))
    }
}

#[async_trait]
impl JwtSigner for KmsKeys {
    fn kid(&self) -> &str {
        &self.kid
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        if message.len() > MAX_RAW_MESSAGE {
            return Err(SigningError::Unavailable(
                "KMS Sign: the claims are longer than KMS signs".into(),
            ));
        }
        let answer = self
            .call(
                "Sign",
                &json!({
                    "KeyId": self.key_ids[0],
                    "Message": STANDARD.encode(message),
                    "MessageType": "RAW",
                    "SigningAlgorithm": SIGNING_ALGORITHM,
                }),
            )
            .await?;
        answer
            .get("Signature")
            .and_then(Value::as_str)
            .and_then(|s| STANDARD.decode(s).ok())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SigningError::Unavailable("KMS Sign: no signature in the answer".into()))
    }

    async fn public_keys(&self) -> Result<Vec<Jwk>, SigningError> {
        let keys = self
            .published
            .get_or_try_init(|| async {
                let mut keys = Vec::new();
                for id in &self.key_ids {
                    keys.push(self.public_key(id).await?);
                }
                Ok::<_, SigningError>(keys)
            })
            .await?;
        Ok(keys.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_key_ids() {
        assert_eq!(
            kid_of("arn:aws:kms:ap-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            "1234abcd-12ab-34cd-56ef-1234567890ab"
        );
        assert_eq!(kid_of("1234abcd"), "1234abcd");
    }
}
