//! Session storage: the data model, the [`Store`] trait, and its two implementations
//! ([`memory::MemoryStore`] and [`dynamo::DynamoStore`]).

#[cfg(feature = "aws")]
pub mod dynamo;
pub mod memory;
pub mod schema;

use std::collections::BTreeMap;

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
    /// The mini program the session belongs to. `None` on sessions written before one deployment
    /// served several mini programs: they belong to the deployment's first app.
    #[serde(default)]
    pub appid: Option<String>,
    pub openid: String,
    pub unionid: Option<String>,
    /// The account (`uid`) of the person. `None` on sessions written before accounts existed.
    #[serde(default)]
    pub uid: Option<String>,
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

impl Profile {
    /// Fields that `self` lacks are taken from `other` (an account absorbing another one).
    pub fn fill_from(&mut self, other: &Profile) {
        macro_rules! fill {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = other.$f.clone(); } )* };
        }
        fill!(
            nick_name, avatar_url, gender, language, city, province, country
        );
    }
}

/// A WeChat user of one mini program (an openid), as wxauth knows it: the app-specific part of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// `None` on items written before several mini programs: the deployment's first app.
    #[serde(default)]
    pub appid: Option<String>,
    pub openid: String,
    pub unionid: Option<String>,
    /// The account this openid belongs to; `None` on items written before accounts existed.
    #[serde(default)]
    pub uid: Option<String>,
    /// The newest session_key of this openid (WeChat keeps one valid key per user).
    pub session_key: Secret,
    pub created_at: i64,
    pub updated_at: i64,
    /// The profile as earlier releases kept it, per openid; accounts hold it now.
    pub profile: Option<Profile>,
    /// The phone number as earlier releases kept it; accounts hold it now.
    pub phone: Option<Phone>,
    /// When the operator blocked this user (epoch seconds).
    #[serde(default)]
    pub blocked_at: Option<i64>,
}

/// A person: one account id (`uid`, random) for every openid that WeChat says is the same person
/// (the same unionid), across the mini programs of one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub uid: String,
    pub unionid: Option<String>,
    /// appid → openid of every linked mini program user.
    pub identities: BTreeMap<String, String>,
    pub profile: Option<Profile>,
    pub phone: Option<Phone>,
    pub created_at: i64,
    /// Epoch seconds of the last change; every conditional rewrite of the account checks it.
    pub updated_at: i64,
    /// Set when this account was linked into another (the survivor): this id is an alias of it.
    #[serde(default)]
    pub merged_into: Option<String>,
    /// When the operator blocked this account (epoch seconds).
    #[serde(default)]
    pub blocked_at: Option<i64>,
}

/// How a login writes the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountWrite {
    /// Nothing: the user already belongs to the account.
    Keep,
    /// Writes the whole account: a new one when `was` is `None` (it must not exist), else the account
    /// as read, whose `updated_at` must still be `was` (someone else changed it otherwise).
    Put {
        account: Box<Account>,
        was: Option<i64>,
    },
}

/// What one login writes, atomically: the new session, the user item (created on first login, its
/// newest session_key and account), the account when it changes, and the unionid's account.
#[derive(Debug, Clone)]
pub struct Login {
    /// The new session (it must not exist), with its appid and uid.
    pub session: Session,
    /// The session_key WeChat gave at this login: the user's newest (never on the session item, which
    /// does not need it).
    pub session_key: Secret,
    /// Whether the user item may be one written before several mini programs (an item without appid):
    /// only for the deployment's first app.
    pub legacy_app: bool,
    pub account: AccountWrite,
    /// Map the session's unionid to its uid (the unionid must not be mapped yet).
    pub map_unionid: bool,
    pub now: i64,
}

/// Two accounts becoming one: the survivor (written whole, its `updated_at` checked), the other one
/// made an alias of it, the other's users moved to the survivor, and the unionid mapped to it.
#[derive(Debug, Clone)]
pub struct Merge {
    pub survivor: Account,
    pub survivor_was: i64,
    pub merged: String,
    pub merged_was: i64,
    /// The openids of the merged account, whose user items now name the survivor.
    pub moved: Vec<String>,
    pub unionid: Option<String>,
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
    /// Writes a login atomically ([`Login`]). `StoreError::Conflict` when a condition failed: the
    /// session exists, the user item belongs to another account or app, the account changed since it
    /// was read, or the unionid is mapped already (the caller plans the login again).
    async fn create_session(&self, login: &Login) -> Result<(), StoreError>;

    /// Reads a session by the hash of its skey (one strongly consistent read).
    async fn get_session(&self, key_hash: &str) -> Result<Option<Session>, StoreError>;

    /// Moves `last_seen` forward (never creates an item).
    async fn touch_session(&self, key_hash: &str, last_seen: i64) -> Result<(), StoreError>;

    /// Ends one session. Returns whether it existed.
    async fn delete_session(&self, key_hash: &str) -> Result<bool, StoreError>;

    /// The key hashes of the sessions of an openid (the index is eventually consistent: a session
    /// created this very second may be missing).
    async fn sessions_of(&self, openid: &str) -> Result<Vec<String>, StoreError>;

    /// Ends every session of an openid. Returns how many were ended.
    async fn delete_sessions_of(&self, openid: &str) -> Result<usize, StoreError>;

    /// Moves a session from account `from` to account `to` (false when it is gone or names another).
    async fn move_session(&self, key_hash: &str, from: &str, to: &str) -> Result<bool, StoreError>;

    /// Reads a user item.
    async fn get_user(&self, openid: &str) -> Result<Option<User>, StoreError>;

    /// Reads an account (an alias too: see [`Account::merged_into`]).
    async fn get_account(&self, uid: &str) -> Result<Option<Account>, StoreError>;

    /// The account a unionid is mapped to.
    async fn get_unionid(&self, unionid: &str) -> Result<Option<String>, StoreError>;

    /// Creates the account of a user written before accounts existed, atomically: the account (it must
    /// not exist), the user's uid (it must have none) and, with `map_unionid`, the unionid's mapping
    /// (it must have none). `StoreError::Conflict` when a condition failed.
    async fn create_account(
        &self,
        account: &Account,
        openid: &str,
        map_unionid: bool,
    ) -> Result<(), StoreError>;

    /// Merges two accounts atomically ([`Merge`]); `StoreError::Conflict` when either changed since
    /// it was read.
    async fn merge_accounts(&self, merge: &Merge) -> Result<(), StoreError>;

    /// Replaces the profile of an account that is not an alias (`StoreError::Conflict` otherwise).
    async fn save_profile(&self, uid: &str, profile: &Profile, now: i64) -> Result<(), StoreError>;

    /// Saves the phone number of an account that is not an alias (`StoreError::Conflict` otherwise).
    async fn save_phone(&self, uid: &str, phone: &Phone, now: i64) -> Result<(), StoreError>;

    /// Counts one request in a rate-limit window (`key`, created on first use and expiring at
    /// `expires_at`): true when counted, false (nothing written) when `limit` requests were counted
    /// already. One conditional write.
    async fn count_in_window(
        &self,
        key: &str,
        limit: u32,
        expires_at: i64,
    ) -> Result<bool, StoreError>;

    /// Blocks (`Some(at)`) or unblocks (`None`) a user item. False when there is no such user.
    async fn block_user(&self, openid: &str, at: Option<i64>) -> Result<bool, StoreError>;

    /// Blocks or unblocks an account (its `updated_at` moves, so a login planned before fails its
    /// condition). False when there is no such account.
    async fn block_account(&self, uid: &str, at: Option<i64>, now: i64)
    -> Result<bool, StoreError>;

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
