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

/// The attribute names of the items. The store builds every item and expression from these; nothing
/// else names an attribute.
pub mod attr {
    /// `"session"` or `"user"` ([`super::KIND_SESSION`], [`super::KIND_USER`]); token items have none.
    pub const KIND: &str = "kind";
    /// Session: its non-secret id.
    pub const SID: &str = "sid";
    /// Session and user: the mini program (absent on items of earlier releases: the first app).
    pub const APPID: &str = "appid";
    /// Session, user and unionid: the account; account: its own id.
    pub const UID: &str = "uid";
    /// Account: appid → openid of its users (a map).
    pub const IDENTITIES: &str = "identities";
    /// Account: the survivor it was merged into (it is an alias then).
    pub const MERGED_INTO: &str = "merged_into";
    /// User and account: when the operator blocked it (absent: not blocked).
    pub const BLOCKED_AT: &str = "blocked_at";
    /// Rate-limit window: the requests counted in it (`count` is a reserved word).
    pub const HITS: &str = "hits";
    /// Session and user: the WeChat openid.
    pub const OPENID: &str = "openid";
    /// Session and user: the WeChat unionid, when known.
    pub const UNIONID: &str = "unionid";
    /// User: the newest session_key of the openid (sessions of earlier releases carry one too, unread).
    pub const SESSION_KEY: &str = "session_key";
    /// Session, user and account: epoch seconds of creation.
    pub const CREATED_AT: &str = "created_at";
    /// User and account: epoch seconds of the last change.
    pub const UPDATED_AT: &str = "updated_at";
    /// Session: epoch seconds of the last use (written at most hourly).
    pub const LAST_SEEN: &str = "last_seen";
    /// Session: absolute expiry, the table's TTL attribute.
    pub const EXPIRES_AT: &str = super::TTL_ATTRIBUTE;
    /// Session: when checksession was last asked about it.
    pub const KEY_CHECKED_AT: &str = "key_checked_at";
    /// Account (user items of earlier releases too): the profile (a map).
    pub const PROFILE: &str = "profile";
    /// Account (user items of earlier releases too): the phone number (a map).
    pub const PHONE: &str = "phone";
    /// Token: WeChat's access_token.
    pub const ACCESS_TOKEN: &str = "access_token";
    /// Token: when WeChat stops accepting it.
    pub const TOKEN_EXPIRES_AT: &str = "token_expires_at";
    /// Token: when it was fetched.
    pub const FETCHED_AT: &str = "fetched_at";
    /// Token: the instance holding the refresh lease.
    pub const LEASE_OWNER: &str = "lease_owner";
    /// Token: until when it holds it.
    pub const LEASE_UNTIL: &str = "lease_until";
}

/// [`attr::KIND`] of session items.
pub const KIND_SESSION: &str = "session";
/// [`attr::KIND`] of user items.
pub const KIND_USER: &str = "user";
/// [`attr::KIND`] of account items.
pub const KIND_ACCOUNT: &str = "account";
/// [`attr::KIND`] of unionid items.
pub const KIND_UNIONID: &str = "unionid";

/// Key prefix of session items: `SESSION#<hex sha256(skey)>`.
pub const SESSION_PREFIX: &str = "SESSION#";
/// Key prefix of user items: `USER#<openid>`.
pub const USER_PREFIX: &str = "USER#";
/// Key prefix of the access_token cache: `TOKEN#<appid>`.
pub const TOKEN_PREFIX: &str = "TOKEN#";
/// Key prefix of account items: `ACCOUNT#<uid>`.
pub const ACCOUNT_PREFIX: &str = "ACCOUNT#";
/// Key prefix of the unionid → account items: `UNIONID#<unionid>`.
pub const UNIONID_PREFIX: &str = "UNIONID#";
/// Key prefix of rate-limit windows: `LIMIT#<scope>#<window start>#<hash of the subject>`, expiring
/// with their window (TTL).
pub const LIMIT_PREFIX: &str = "LIMIT#";

pub fn session_pk(key_hash: &str) -> String {
    format!("{SESSION_PREFIX}{key_hash}")
}

pub fn user_pk(openid: &str) -> String {
    format!("{USER_PREFIX}{openid}")
}

pub fn token_pk(appid: &str) -> String {
    format!("{TOKEN_PREFIX}{appid}")
}

pub fn account_pk(uid: &str) -> String {
    format!("{ACCOUNT_PREFIX}{uid}")
}

pub fn unionid_pk(unionid: &str) -> String {
    format!("{UNIONID_PREFIX}{unionid}")
}

pub fn limit_pk(window: &str) -> String {
    format!("{LIMIT_PREFIX}{window}")
}

/// Every key prefix, for the functions' IAM conditions (`dynamodb:LeadingKeys`).
pub const PREFIXES: [&str; 6] = [
    SESSION_PREFIX,
    USER_PREFIX,
    TOKEN_PREFIX,
    ACCOUNT_PREFIX,
    UNIONID_PREFIX,
    LIMIT_PREFIX,
];

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
