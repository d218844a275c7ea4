//! The AWS SDK's HTTP client: reqwest over the shared TLS configuration of [`crate::tls`], one
//! connection pool (feature `aws`).

use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use crate::tls::{Error, reqwest_builder};

/// Connect timeout of the SDK's connections (DynamoDB, SSM): a Lambda must answer within seconds. Also
/// given to the SDK's timeout configuration, for the SDK's own client when this one is unavailable.
pub const SDK_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The DynamoDB endpoint the SDK will use with `sdk`: the one of `AWS_ENDPOINT_URL_DYNAMODB` or
/// `AWS_ENDPOINT_URL`, or the regional one resolved by the SDK's own rules.
pub async fn dynamodb_endpoint(sdk: &aws_config::SdkConfig) -> Option<String> {
    use aws_sdk_dynamodb::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if let Some(url) = env("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| env("AWS_ENDPOINT_URL")) {
        return Some(url);
    }
    let params = Params::builder()
        .set_region(sdk.region().map(|r| r.to_string()))
        .use_fips(sdk.use_fips().unwrap_or(false))
        .use_dual_stack(sdk.use_dual_stack().unwrap_or(false))
        .set_account_id(env("AWS_ACCOUNT_ID"))
        .build()
        .ok()?;
    let endpoint = DefaultResolver::new()
        .resolve_endpoint(&params)
        .await
        .ok()?;
    Some(endpoint.url().to_string())
}

/// The AWS SDK's HTTP client: reqwest over the shared TLS configuration, one connection pool.
#[derive(Debug, Clone)]
pub struct SdkHttp {
    client: reqwest::Client,
}

impl SdkHttp {
    pub fn new() -> Result<SdkHttp, Error> {
        let client = reqwest_builder()?
            .connect_timeout(SDK_CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .build()?;
        Ok(SdkHttp { client })
    }

    /// The underlying client (its pool is where [`crate::tls::preconnect`] leaves DynamoDB's connection).
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.client
    }
}

impl HttpClient for SdkHttp {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(SdkConnector {
            client: self.client.clone(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug, Clone)]
struct SdkConnector {
    client: reqwest::Client,
    read_timeout: Option<Duration>,
}

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            // The SDK's requests to DynamoDB and SSM are small and in memory.
            let bytes = body
                .bytes()
                .map(bytes::Bytes::copy_from_slice)
                .ok_or_else(|| {
                    ConnectorError::user("streaming request bodies are not supported".into())
                })?;
            let mut builder = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .version(parts.version)
                .body(bytes);
            if let Some(t) = read_timeout {
                builder = builder.timeout(t);
            }
            let mut resp = builder.send().await.map_err(connector_error)?;
            let status = resp.status();
            let version = resp.version();
            // Moved out, not copied: reading the body needs only the body.
            let headers = std::mem::take(resp.headers_mut());
            let body = resp.bytes().await.map_err(connector_error)?;
            let mut out = http::Response::new(SdkBody::from(body));
            *out.status_mut() = status;
            *out.version_mut() = version;
            *out.headers_mut() = headers;
            HttpResponse::try_from(out).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Maps a transport failure to the SDK's error kinds (timeouts and I/O errors are retried).
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_connect() {
        ConnectorError::io(e.into()).never_connected()
    } else if e.is_builder() {
        ConnectorError::user(e.into())
    } else {
        ConnectorError::io(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dynamodb_endpoint_is_regional_by_default() {
        let sdk = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .build();
        if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none()
            && std::env::var_os("AWS_ENDPOINT_URL").is_none()
            && std::env::var_os("AWS_ACCOUNT_ID").is_none()
        {
            assert_eq!(
                dynamodb_endpoint(&sdk).await.as_deref(),
                Some("https://dynamodb.us-east-1.amazonaws.com")
            );
        }
    }
}
