//! The one description of the DynamoDB table. `template.yaml` must declare the same (a test checks), and
//! the local server creates tables from it.

#[cfg(feature = "aws")]
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

/// The partition key of every item (String).
pub const PARTITION_KEY: &str = "pk";
/// The TTL attribute (Number, epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The index of sessions by openid.
pub const OWNER_INDEX: &str = "owner-index";
/// The partition key of [`OWNER_INDEX`] (String), set on session items only.
pub const OWNER_ATTRIBUTE: &str = "owner";

/// Key prefix of session items: `SESSION#<hex sha256(skey)>`.
pub const SESSION_PREFIX: &str = "SESSION#";
/// Key prefix of user items: `USER#<openid>`.
pub const USER_PREFIX: &str = "USER#";
/// Key prefix of the access_token cache: `TOKEN#<appid>`.
pub const TOKEN_PREFIX: &str = "TOKEN#";

pub fn session_pk(key_hash: &str) -> String {
    format!("{SESSION_PREFIX}{key_hash}")
}

pub fn user_pk(openid: &str) -> String {
    format!("{USER_PREFIX}{openid}")
}

pub fn token_pk(appid: &str) -> String {
    format!("{TOKEN_PREFIX}{appid}")
}

/// The table's key schema, attribute definitions and index, as plain data: what `template.yaml` and
/// `CreateTable` must agree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// (attribute name, type) of every key attribute.
    pub attributes: Vec<(&'static str, &'static str)>,
    /// Hash key of the table.
    pub hash_key: &'static str,
    /// (index name, hash key, projection type).
    pub indexes: Vec<(&'static str, &'static str, &'static str)>,
    pub ttl_attribute: &'static str,
}

pub fn table_schema() -> TableSchema {
    TableSchema {
        attributes: vec![(PARTITION_KEY, "S"), (OWNER_ATTRIBUTE, "S")],
        hash_key: PARTITION_KEY,
        indexes: vec![(OWNER_INDEX, OWNER_ATTRIBUTE, "KEYS_ONLY")],
        ttl_attribute: TTL_ATTRIBUTE,
    }
}

#[cfg(feature = "aws")]
/// Creates the table (pay per request) with its index and TTL, as `template.yaml` declares it.
/// An existing table is left as it is.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<bool, aws_sdk_dynamodb::Error> {
    let key = |name: &str| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::Hash)
            .build()
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(OWNER_INDEX)
        .key_schema(key(OWNER_ATTRIBUTE)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PARTITION_KEY)?)
        .attribute_definitions(attr(PARTITION_KEY)?)
        .attribute_definitions(attr(OWNER_ATTRIBUTE)?)
        .global_secondary_indexes(index)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) => {
            let e = aws_sdk_dynamodb::Error::from(e);
            if matches!(e, aws_sdk_dynamodb::Error::ResourceInUseException(_)) {
                return Ok(false);
            }
            return Err(e);
        }
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()?,
        )
        .send()
        .await?;
    Ok(true)
}
