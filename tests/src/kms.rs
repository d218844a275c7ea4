//! AWS KMS keys in moto (the endpoint of the DynamoDB API: moto serves every service there), created
//! with the same SigV4 calls the code makes.

use std::time::Duration;

use serde_json::{Value, json};
use wxauth::sigv4::{Call, Signer};

/// The KMS endpoint of the tests (moto's).
pub fn endpoint() -> String {
    crate::dynamo::endpoint()
}

/// A new RSA_2048 SIGN_VERIFY key in moto; its key id.
pub async fn fresh_signing_key() -> String {
    let signer = Signer::new(
        &crate::s3::sdk_config(),
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        "kms",
        Default::default,
        Duration::from_secs(10),
    )
    .expect("signer");
    let body = json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY",
        "Tags": [{"TagKey": "wxauth-jwt", "TagValue": "tests"}]})
    .to_string();
    let url = format!("{}/", endpoint());
    let resp = signer
        .send(&Call {
            op: "CreateKey",
            method: "POST",
            url: &url,
            headers: &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", "TrentService.CreateKey"),
            ],
            body: body.as_bytes(),
        })
        .await
        .expect("CreateKey answered");
    let status = resp.status();
    let answer: Value = resp.json().await.expect("JSON");
    assert!(status.is_success(), "CreateKey: {status} {answer}");
    answer["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("KeyId")
        .to_string()
}
