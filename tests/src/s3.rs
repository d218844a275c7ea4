//! The S3 API of the tests: the same moto server as DynamoDB ([`crate::dynamo::endpoint`]), one fresh
//! bucket per test, and wxauth's own S3 client of the avatars over it.

use std::sync::Arc;

use aws_sdk_dynamodb::config::{Credentials, Region, SharedCredentialsProvider};
use wxauth::avatars::s3::S3Avatars;

/// A new, empty bucket (moto accepts an unsigned CreateBucket).
pub async fn fresh_bucket() -> String {
    let name = crate::dynamo::fresh_name();
    let url = format!("{}/{name}", crate::dynamo::endpoint());
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .put(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("cannot create bucket {name}: {e}"));
    assert!(
        resp.status().is_success(),
        "CreateBucket {name}: {}",
        resp.status()
    );
    name
}

/// The SDK configuration of the tests: us-east-1, dummy credentials.
pub fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test",
            "test",
            Some("session-token-of-the-tests".into()),
            None,
            "wxauth-tests",
        )))
        .build()
}

/// wxauth's avatar store over a bucket of the test S3.
pub fn avatars(bucket: &str) -> Arc<S3Avatars> {
    let http = wxauth::sdk_http::SdkHttp::new().expect("http client");
    Arc::new(
        S3Avatars::with_endpoint(
            &sdk_config(),
            http.reqwest().clone(),
            bucket,
            Some(crate::dynamo::endpoint()),
        )
        .expect("S3 avatars"),
    )
}

/// The environment of a wxauth process keeping avatars in `bucket` of the test S3.
pub fn process_env<'a>(bucket: &'a str, endpoint: &'a str) -> [(&'static str, &'a str); 2] {
    [("AVATAR_BUCKET", bucket), ("AWS_ENDPOINT_URL_S3", endpoint)]
}
