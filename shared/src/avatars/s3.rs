//! Avatars in an S3 bucket (feature `aws`): one private object per account, `avatars/{uid}`, replaced
//! on re-upload; the bucket's default encryption applies.
//!
//! Two calls only, `PutObject` and `GetObject`, signed with SigV4 by `aws-sigv4` and sent through the
//! shared HTTP client ([`crate::sdk_http`]), with the credentials and region of the SDK configuration:
//! what the functions already link for DynamoDB. The S3 SDK, a second generated client, is not used
//! (BENCHMARKS.md, "Sizes of the avatars").

use std::time::Duration;

use async_trait::async_trait;

use aws_config::SdkConfig;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SigningSettings, UriPathNormalizationMode,
};

use super::{Avatar, AvatarStore, MAX_FILE_BYTES, is_uid};
use crate::config::aws_url_suffix;
use crate::error::{ConfigError, StoreError};
use crate::sigv4::{Call, Signer, transport};

/// The key prefix of the avatar objects.
pub const KEY_PREFIX: &str = "avatars/";
/// How long one S3 call may take (an upload is at most 1 MiB).
const CALL_TIMEOUT: Duration = Duration::from_secs(4);
/// Calls made at most per operation (S3 asks clients to retry its 500 and 503 answers).
const ATTEMPTS: usize = 2;

/// The avatar bucket.
#[derive(Clone)]
pub struct S3Avatars {
    signer: Signer,
    /// `https://{bucket}.s3.{region}.amazonaws.com`, or `{AWS_ENDPOINT_URL_S3}/{bucket}` (path style).
    bucket_url: String,
}

/// How S3 wants requests signed: the payload's SHA-256 in `x-amz-content-sha256`, object keys
/// encoded once, paths not normalised.
fn s3_signing() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

impl std::fmt::Debug for S3Avatars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Avatars")
            .field("bucket_url", &self.bucket_url)
            .finish_non_exhaustive()
    }
}

impl S3Avatars {
    /// The bucket `bucket` with the SDK configuration's region and credentials, reached through
    /// `http`. `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`) points it at another endpoint (path-style
    /// URLs: a local S3 such as moto).
    pub fn new(
        sdk: &SdkConfig,
        http: reqwest::Client,
        bucket: &str,
    ) -> Result<S3Avatars, ConfigError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        S3Avatars::with_endpoint(
            sdk,
            http,
            bucket,
            env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")),
        )
    }

    /// Like [`S3Avatars::new`], with the endpoint given (`None`: the region's).
    pub fn with_endpoint(
        sdk: &SdkConfig,
        http: reqwest::Client,
        bucket: &str,
        endpoint: Option<String>,
    ) -> Result<S3Avatars, ConfigError> {
        let invalid = |reason: &str| ConfigError::Invalid {
            name: "AVATAR_BUCKET",
            reason: reason.to_string(),
        };
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(invalid(&format!("{bucket:?} is not an S3 bucket name")));
        }
        let signer = Signer::new(sdk, http, "s3", s3_signing, CALL_TIMEOUT)
            .map_err(|e| invalid(&format!("{e} for the avatar bucket")))?;
        let bucket_url = match endpoint {
            Some(url) => format!("{}/{bucket}", url.trim_end_matches('/')),
            None => {
                let region = signer.region();
                format!("https://{bucket}.s3.{region}.{}", aws_url_suffix(region))
            }
        };
        Ok(S3Avatars { signer, bucket_url })
    }

    /// The URL of an account's object.
    fn object_url(&self, uid: &str) -> Result<String, StoreError> {
        if !is_uid(uid) {
            return Err(StoreError::Corrupt("not an account id".into()));
        }
        Ok(format!("{}/{KEY_PREFIX}{uid}", self.bucket_url))
    }

    /// One signed request, retried once when S3 answers 5xx or cannot be reached.
    async fn call(&self, call: &Call<'_>) -> Result<reqwest::Response, StoreError> {
        let op = call.op;
        let mut last = StoreError::Unavailable(format!("S3 {op}: not attempted"));
        for _ in 0..ATTEMPTS {
            match self.signer.send(call).await {
                Ok(resp) if resp.status().is_server_error() => {
                    last = StoreError::Unavailable(format!(
                        "S3 {op}: HTTP {}",
                        resp.status().as_u16()
                    ));
                }
                Ok(resp) => return Ok(resp),
                Err(e) => last = StoreError::Unavailable(format!("S3 {op}: {e}")),
            }
        }
        Err(last)
    }
}

/// S3's error code (`<Code>AccessDenied</Code>`) of an error answer's XML body.
fn error_code(body: &str) -> String {
    body.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code)
        .unwrap_or("unknown")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64)
        .collect()
}

/// An error answer, for the log: its status and S3's error code.
fn error_of(op: &str, status: u16, code: &str) -> StoreError {
    StoreError::Unavailable(format!("S3 {op}: HTTP {status} {code}"))
}

#[async_trait]
impl AvatarStore for S3Avatars {
    async fn put(&self, uid: &str, avatar: &Avatar) -> Result<(), StoreError> {
        let url = self.object_url(uid)?;
        let length = avatar.bytes.len().to_string();
        let headers = [
            ("content-type", avatar.format.content_type()),
            ("content-length", length.as_str()),
        ];
        let resp = self
            .call(&Call {
                op: "PutObject",
                method: "PUT",
                url: &url,
                headers: &headers,
                body: &avatar.bytes,
            })
            .await?;
        if resp.status().is_success() {
            return Ok(());
        }
        let status = resp.status().as_u16();
        Err(error_of(
            "PutObject",
            status,
            &error_code(&resp.text().await.unwrap_or_default()),
        ))
    }

    async fn get(&self, uid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let url = self.object_url(uid)?;
        let mut resp = self
            .call(&Call {
                op: "GetObject",
                method: "GET",
                url: &url,
                headers: &[],
                body: &[],
            })
            .await?;
        if !resp.status().is_success() {
            // No such key is no avatar; no such bucket, access denied... are the store failing.
            let status = resp.status().as_u16();
            let code = error_code(&resp.text().await.unwrap_or_default());
            if status == 404 && code == "NoSuchKey" {
                return Ok(None);
            }
            return Err(error_of("GetObject", status, &code));
        }
        let too_large = || StoreError::Corrupt("an avatar object is larger than 1 MiB".into());
        if resp
            .content_length()
            .is_some_and(|l| l > MAX_FILE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| StoreError::Unavailable(format!("S3 GetObject: {}", transport(&e))))?
        {
            if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_of_s3_answers() {
        let body =
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message></Error>";
        assert_eq!(error_code(body), "NoSuchKey");
        assert_eq!(error_code("<html>"), "unknown");
        assert_eq!(error_code("<Code>a\"<b></Code>"), "ab");
    }
}
