//! Session storage: the data model, the [`Store`] trait, and its two implementations
//! ([`memory::MemoryStore`] and [`dynamo::DynamoStore`]).

#[cfg(feature = "aws")]
pub mod dynamo;
pub mod memory;
pub mod schema;

pub use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::secret::Secret;

/// A login session. Stored under the SHA-256 of its skey; the skey itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Lowercase hex SHA-256 of the skey.
    pub key_hash: String,
    /// Random, non-secret id of the session (handed to backends by the authorizer).
    pub sid: String,
    pub openid: String,
    pub unionid: Option<String>,
    /// The session_key WeChat gave at this login.
    pub session_key: Secret,
    pub created_at: i64,
    pub last_seen: i64,
    /// Absolute expiry, epoch seconds (the DynamoDB TTL attribute).
    pub expires_at: i64,
}

/// The profile a user shared (decrypted user info, or chosen avatar and nickname).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Profile {
    /// Fields of `other` that are set replace those of `self`.
    pub fn merge(&mut self, other: Profile) {
        macro_rules! take {
            ($($f:ident),*) => { $( if other.$f.is_some() { self.$f = other.$f; } )* };
        }
        take!(
            nick_name, avatar_url, gender, language, city, province, country
        );
    }
}

/// A phone number obtained through `getPhoneNumber`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Phone {
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
}

/// A WeChat user as wxauth knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub openid: String,
    pub unionid: Option<String>,
    /// The newest session_key of this openid (WeChat keeps one valid key per user).
    pub session_key: Secret,
    pub created_at: i64,
    pub updated_at: i64,
    pub profile: Option<Profile>,
    pub phone: Option<Phone>,
}

/// What one login writes on the user item: created on first login, the newest session_key otherwise.
#[derive(Debug, Clone)]
pub struct LoginUpdate {
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key: Secret,
    pub now: i64,
}

/// A WeChat access_token as cached in the store and in memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedToken {
    pub token: Secret,
    /// Epoch seconds when WeChat stops accepting it.
    pub expires_at: i64,
    /// Epoch seconds when it was fetched.
    pub fetched_at: i64,
}

/// The shared access_token item: the token, and the lease of the instance refreshing it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub token: Option<CachedToken>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
}

/// Storage of sessions and users. Every implementation must give the same answers; the integration tests
/// run the same suite against both.
#[async_trait]
pub trait Store: Send + Sync {
    /// Writes a new session and the user's newest session_key atomically. The session must not exist
    /// (`StoreError::Conflict` otherwise); the user item is created on first login, its profile kept.
    async fn create_session(
        &self,
        session: &Session,
        login: &LoginUpdate,
    ) -> Result<(), StoreError>;

    /// Reads a session by the hash of its skey (one strongly consistent read).
    async fn get_session(&self, key_hash: &str) -> Result<Option<Session>, StoreError>;

    /// Moves `last_seen` forward (never creates an item).
    async fn touch_session(&self, key_hash: &str, last_seen: i64) -> Result<(), StoreError>;

    /// Ends one session. Returns whether it existed.
    async fn delete_session(&self, key_hash: &str) -> Result<bool, StoreError>;

    /// Ends every session of an openid. Returns how many were ended.
    async fn delete_sessions_of(&self, openid: &str) -> Result<usize, StoreError>;

    /// Reads a user item.
    async fn get_user(&self, openid: &str) -> Result<Option<User>, StoreError>;

    /// Replaces the stored profile (and sets the unionid when given) of an existing user.
    /// `StoreError::Conflict` when the user item does not exist.
    async fn save_profile(
        &self,
        openid: &str,
        profile: &Profile,
        unionid: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Saves the phone number of an existing user (`StoreError::Conflict` when it does not exist).
    async fn save_phone(&self, openid: &str, phone: &Phone, now: i64) -> Result<(), StoreError>;

    /// Claims the right to ask WeChat's checksession about a session: true at most once per `interval`
    /// seconds per session (a conditional write), false for a session that does not exist.
    async fn claim_key_check(
        &self,
        key_hash: &str,
        now: i64,
        interval: i64,
    ) -> Result<bool, StoreError>;

    /// Reads the shared access_token item of an appid.
    async fn get_token(&self, appid: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Takes the refresh lease of the access_token until `until`, unless another owner holds a lease
    /// that is still running at `now` (conditional write: of concurrent callers exactly one wins).
    async fn lease_token(
        &self,
        appid: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;

    /// Gives the lease up without a token (the refresh failed), so the next caller may try at once.
    async fn release_token_lease(&self, appid: &str, owner: &str) -> Result<(), StoreError>;

    /// Stores a token fetched under the lease and releases it; false (nothing written) when `owner`
    /// no longer holds the lease.
    async fn put_token(
        &self,
        appid: &str,
        owner: &str,
        token: &CachedToken,
    ) -> Result<bool, StoreError>;
}
