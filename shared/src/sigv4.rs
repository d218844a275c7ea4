//! AWS calls signed with SigV4 (feature `aws`), for the services the functions reach without a
//! generated SDK client: S3 for the avatars ([`crate::avatars::s3`]) and KMS for the session JWTs
//! ([`crate::session_jwt::kms`]). `aws-sigv4` signs, the shared HTTP client ([`crate::sdk_http`])
//! sends, with the credentials and region of the SDK configuration: what the DynamoDB client
//! already links (BENCHMARKS.md, "Sizes").

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::config::aws_url_suffix;

/// One AWS call: its operation (for errors), method, URL, the headers to sign and send, the body.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub op: &'static str,
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Signs and sends requests to one AWS service.
#[derive(Clone)]
pub struct Signer {
    http: reqwest::Client,
    credentials: SharedCredentialsProvider,
    region: String,
    /// The SigV4 service name (`s3`, `kms`).
    service: &'static str,
    settings: fn() -> SigningSettings,
    timeout: Duration,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("service", &self.service)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `service` with the SDK configuration's region and credentials; each call cut at
    /// `timeout`. The error says what is missing.
    pub fn new(
        sdk: &SdkConfig,
        http: reqwest::Client,
        service: &'static str,
        settings: fn() -> SigningSettings,
        timeout: Duration,
    ) -> Result<Signer, String> {
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or("no AWS region (AWS_REGION)")?;
        let credentials = sdk.credentials_provider().ok_or("no AWS credentials")?;
        Ok(Signer {
            http,
            credentials,
            region,
            service,
            settings,
            timeout,
        })
    }

    /// The region calls are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Sends one signed call; `Err` is a reason (never a credential) when it could not be signed or
    /// no answer came.
    pub async fn send(&self, call: &Call<'_>) -> Result<reqwest::Response, String> {
        let request = self.signed(call).await?;
        self.http
            .execute(request)
            .await
            .map_err(|e| transport(&e).to_string())
    }

    async fn signed(&self, call: &Call<'_>) -> Result<reqwest::Request, String> {
        let Call {
            method,
            url,
            headers,
            body,
            ..
        } = *call;
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| format!("no credentials: {e}"))?;
        let identity = Identity::from(credentials);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(SystemTime::now())
            .settings((self.settings)())
            .build()
            .map_err(|e| format!("cannot sign: {e}"))?
            .into();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("cannot sign: {e}"))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| format!("cannot sign: {e}"))?
            .into_parts();
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder
            .body(body.to_vec())
            .map_err(|e| format!("invalid request: {e}"))?;
        instructions.apply_to_request_http1x(&mut request);
        let mut request = reqwest::Request::try_from(request)
            .map_err(|e| format!("invalid request: {}", transport(&e)))?;
        *request.timeout_mut() = Some(self.timeout);
        Ok(request)
    }
}

/// A service's regional endpoint (`https://{service}.{region}.amazonaws.com`, `.com.cn` in China),
/// or the one `AWS_ENDPOINT_URL_{SERVICE}` (or `AWS_ENDPOINT_URL`) names: a local emulator such as
/// moto. Without a trailing slash.
pub fn endpoint(service: &str, region: &str) -> String {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let specific = format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase());
    match env(&specific).or_else(|| env("AWS_ENDPOINT_URL")) {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("https://{service}.{region}.{}", aws_url_suffix(region)),
    }
}

/// A transport failure, by kind.
pub fn transport(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_builder() {
        "invalid request"
    } else {
        "request failed"
    }
}
