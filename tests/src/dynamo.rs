//! The DynamoDB API of the tests: a moto server started by `scripts/test`. There is no fallback: without
//! an endpoint, DynamoDB tests fail (they never skip silently).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};

/// The variable `scripts/test` sets to moto's URL.
pub const ENDPOINT_VAR: &str = "WXAUTH_TEST_DYNAMODB_URL";

/// moto's URL. Panics (fails the test) when it is not set.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{ENDPOINT_VAR} is not set: DynamoDB tests need the moto server that ./scripts/test starts \
             (run ./scripts/test, or start `moto_server -p PORT` and export {ENDPOINT_VAR}=http://127.0.0.1:PORT)"
        ),
    }
}

/// A client of the test DynamoDB API (dummy credentials, us-east-1).
pub fn client_for(url: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "wxauth-tests"))
        .endpoint_url(url)
        .build();
    Client::from_conf(config)
}

pub fn client() -> Client {
    client_for(&endpoint())
}

/// The environment of a wxauth process (the local server) that keeps its sessions in `table` on the
/// DynamoDB API at `endpoint`, with the tests' dummy credentials.
pub fn process_env<'a>(table: &'a str, endpoint: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("SESSION_TABLE", table),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ]
}

/// A name no other test uses (tests run in parallel): `wxauth-test-` and random lowercase letters and
/// digits, valid for a table and for a bucket.
pub fn fresh_name() -> String {
    format!(
        "wxauth-test-{}",
        wxauth::crypto::random_id()
            .expect("rng")
            .to_lowercase()
            .replace(['-', '_'], "x")
    )
}

/// A new, empty table with the schema of `wxauth::store::schema` (one per test: tests run in parallel).
pub async fn fresh_table(client: &Client) -> String {
    let name = fresh_name();
    let created = wxauth::store::schema::create_table(client, &name)
        .await
        .unwrap_or_else(|e| panic!("cannot create table {name} at {}: {e}", endpoint()));
    assert!(created, "table {name} already existed");
    name
}

/// Every item of a table (for checks of what is stored).
pub async fn scan_all(
    client: &Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let out = client.scan().table_name(table).send().await.expect("scan");
    out.items().to_vec()
}
