//! The DynamoDB [`Store`]: single-table design, one item per session and per user.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};

use super::schema::{OWNER_ATTRIBUTE, OWNER_INDEX, PARTITION_KEY, session_pk, token_pk, user_pk};
use super::{CachedToken, LoginUpdate, Phone, Profile, Session, Store, TokenRecord, User};
use crate::config::Secret;
use crate::error::StoreError;

type Item = HashMap<String, AttributeValue>;

/// Sessions and users in one DynamoDB table (see [`super::schema`]).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// One strongly consistent GetItem.
    async fn get(&self, op: &str, pk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(op, e))?;
        Ok(out.item().cloned())
    }
}

/// The outcome of a conditional write: `true` when written, `false` when the condition failed.
fn conditional<T, E, R>(op: &str, res: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match res.map_err(|e| sdk_error(op, e)) {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s(item: &Item, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a string"
        ))),
    }
}

fn opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) if !v.is_empty() => Some(v.clone()),
        _ => None,
    }
}

fn get_n(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {name} is not an integer"))),
        _ => Err(StoreError::Corrupt(format!(
            "attribute {name} missing or not a number"
        ))),
    }
}

fn opt_map<T: serde::de::DeserializeOwned>(
    item: &Item,
    name: &str,
) -> Result<Option<T>, StoreError> {
    match item.get(name) {
        Some(AttributeValue::M(m)) => serde_dynamo::from_item(m.clone())
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("attribute {name}: {e}"))),
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(_) => Err(StoreError::Corrupt(format!(
            "attribute {name} is not a map"
        ))),
    }
}

fn to_map<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_item::<_, Item>(value)
        .map(AttributeValue::M)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

/// Maps an SDK error: a failed condition is a `Conflict`, everything else makes the store unavailable.
fn sdk_error<E, R>(op: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = err
        .as_service_error()
        .and_then(|e| e.code())
        .unwrap_or_default();
    if code == "ConditionalCheckFailedException" {
        return StoreError::Conflict(format!("{op}: condition failed"));
    }
    if code == "TransactionCanceledException" {
        let msg = err
            .as_service_error()
            .and_then(|e| e.message())
            .unwrap_or_default();
        if msg.contains("ConditionalCheckFailed") {
            return StoreError::Conflict(format!("{op}: condition failed"));
        }
    }
    StoreError::Unavailable(format!("{op}: {}", DisplayErrorContext(&err)))
}

fn session_from_item(item: &Item) -> Result<Session, StoreError> {
    let pk = get_s(item, PARTITION_KEY)?;
    let key_hash = pk
        .strip_prefix(super::schema::SESSION_PREFIX)
        .ok_or_else(|| StoreError::Corrupt("session key without prefix".into()))?
        .to_string();
    Ok(Session {
        key_hash,
        sid: get_s(item, "sid")?,
        openid: get_s(item, "openid")?,
        unionid: opt_s(item, "unionid"),
        session_key: Secret::new(get_s(item, "session_key")?),
        created_at: get_n(item, "created_at")?,
        last_seen: get_n(item, "last_seen")?,
        expires_at: get_n(item, "expires_at")?,
    })
}

fn user_from_item(item: &Item) -> Result<User, StoreError> {
    Ok(User {
        openid: get_s(item, "openid")?,
        unionid: opt_s(item, "unionid"),
        session_key: Secret::new(get_s(item, "session_key")?),
        created_at: get_n(item, "created_at")?,
        updated_at: get_n(item, "updated_at")?,
        profile: opt_map(item, "profile")?,
        phone: opt_map(item, "phone")?,
    })
}

#[async_trait]
impl Store for DynamoStore {
    async fn create_session(
        &self,
        session: &Session,
        login: &LoginUpdate,
    ) -> Result<(), StoreError> {
        let mut item: Item = HashMap::from([
            (PARTITION_KEY.to_string(), s(session_pk(&session.key_hash))),
            ("kind".to_string(), s("session")),
            ("sid".to_string(), s(&session.sid)),
            ("openid".to_string(), s(&session.openid)),
            (OWNER_ATTRIBUTE.to_string(), s(&session.openid)),
            ("session_key".to_string(), s(session.session_key.expose())),
            ("created_at".to_string(), n(session.created_at)),
            ("last_seen".to_string(), n(session.last_seen)),
            ("expires_at".to_string(), n(session.expires_at)),
        ]);
        if let Some(u) = &session.unionid {
            item.insert("unionid".into(), s(u));
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(|e| StoreError::Unavailable(format!("build put: {e}")))?;

        let mut set = "#kind = :user, openid = :openid, session_key = :sk, updated_at = :now, \
                       created_at = if_not_exists(created_at, :now)"
            .to_string();
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(user_pk(&login.openid)))
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":user", s("user"))
            .expression_attribute_values(":openid", s(&login.openid))
            .expression_attribute_values(":sk", s(login.session_key.expose()))
            .expression_attribute_values(":now", n(login.now));
        if let Some(u) = &login.unionid {
            set.push_str(", unionid = :unionid");
            update = update.expression_attribute_values(":unionid", s(u));
        }
        let update = update
            .update_expression(format!("SET {set}"))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("build update: {e}")))?;

        self.client
            .transact_write_items()
            // Idempotent retries: if an attempt times out after DynamoDB applied it, the SDK's retry
            // with the same token succeeds instead of failing its own condition (a stored session
            // reported as a failed login).
            .client_request_token(&session.sid)
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await
            .map_err(|e| sdk_error("create_session", e))?;
        Ok(())
    }

    async fn get_session(&self, key_hash: &str) -> Result<Option<Session>, StoreError> {
        let item = self.get("get_session", session_pk(key_hash)).await?;
        item.as_ref().map(session_from_item).transpose()
    }

    async fn touch_session(&self, key_hash: &str, last_seen: i64) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(session_pk(key_hash)))
            .update_expression("SET last_seen = :t")
            .condition_expression("attribute_exists(#pk) AND last_seen < :t")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":t", n(last_seen))
            .send()
            .await;
        // A failed condition (gone, or already more recent) is not an error.
        conditional("touch_session", res).map(|_| ())
    }

    async fn delete_session(&self, key_hash: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(session_pk(key_hash)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("delete_session", e))?;
        Ok(out.attributes().is_some_and(|a| !a.is_empty()))
    }

    async fn delete_sessions_of(&self, openid: &str) -> Result<usize, StoreError> {
        let mut keys = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(OWNER_INDEX)
                .key_condition_expression("#owner = :o")
                .expression_attribute_names("#owner", OWNER_ATTRIBUTE)
                .expression_attribute_values(":o", s(openid))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("query sessions", e))?;
            for item in out.items() {
                keys.push(get_s(item, PARTITION_KEY)?);
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        let mut ended = 0;
        for pk in keys {
            let out = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(pk))
                .return_values(ReturnValue::AllOld)
                .send()
                .await
                .map_err(|e| sdk_error("delete session", e))?;
            if out.attributes().is_some_and(|a| !a.is_empty()) {
                ended += 1;
            }
        }
        Ok(ended)
    }

    async fn get_user(&self, openid: &str) -> Result<Option<User>, StoreError> {
        let item = self.get("get_user", user_pk(openid)).await?;
        item.as_ref().map(user_from_item).transpose()
    }

    async fn save_profile(
        &self,
        openid: &str,
        profile: &Profile,
        unionid: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(user_pk(openid)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":p", to_map(profile)?)
            .expression_attribute_values(":now", n(now));
        let mut set = "SET profile = :p, updated_at = :now".to_string();
        if let Some(u) = unionid {
            set.push_str(", unionid = :u");
            req = req.expression_attribute_values(":u", s(u));
        }
        req.update_expression(set)
            .send()
            .await
            .map_err(|e| sdk_error("save_profile", e))?;
        Ok(())
    }

    async fn save_phone(&self, openid: &str, phone: &Phone, now: i64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(user_pk(openid)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .update_expression("SET phone = :p, updated_at = :now")
            .expression_attribute_values(":p", to_map(phone)?)
            .expression_attribute_values(":now", n(now))
            .send()
            .await
            .map_err(|e| sdk_error("save_phone", e))?;
        Ok(())
    }

    async fn claim_key_check(
        &self,
        key_hash: &str,
        now: i64,
        interval: i64,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(session_pk(key_hash)))
            .update_expression("SET key_checked_at = :now")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(key_checked_at) OR key_checked_at < :cutoff)",
            )
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":cutoff", n(now - interval))
            .send()
            .await;
        conditional("claim_key_check", res)
    }

    async fn get_token(&self, appid: &str) -> Result<Option<TokenRecord>, StoreError> {
        let Some(item) = self.get("get_token", token_pk(appid)).await? else {
            return Ok(None);
        };
        let item = &item;
        let token = match opt_s(item, "access_token") {
            Some(t) => Some(CachedToken {
                token: Secret::new(t),
                expires_at: get_n(item, "token_expires_at")?,
                fetched_at: get_n(item, "fetched_at")?,
            }),
            None => None,
        };
        Ok(Some(TokenRecord {
            token,
            lease_owner: opt_s(item, "lease_owner"),
            lease_until: get_n(item, "lease_until").ok(),
        }))
    }

    async fn lease_token(
        &self,
        appid: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(token_pk(appid)))
            .update_expression("SET lease_owner = :o, lease_until = :u")
            .condition_expression("attribute_not_exists(lease_until) OR lease_until < :now")
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":u", n(until))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        conditional("lease_token", res)
    }

    async fn release_token_lease(&self, appid: &str, owner: &str) -> Result<(), StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(token_pk(appid)))
            .update_expression("REMOVE lease_owner, lease_until")
            .condition_expression("lease_owner = :o")
            .expression_attribute_values(":o", s(owner))
            .send()
            .await;
        // Not ours any more: nothing to release.
        conditional("release_token_lease", res).map(|_| ())
    }

    async fn put_token(
        &self,
        appid: &str,
        owner: &str,
        token: &CachedToken,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(token_pk(appid)))
            .update_expression(
                "SET access_token = :t, token_expires_at = :e, fetched_at = :f REMOVE lease_owner, lease_until",
            )
            .condition_expression("lease_owner = :o")
            .expression_attribute_values(":t", s(token.token.expose()))
            .expression_attribute_values(":e", n(token.expires_at))
            .expression_attribute_values(":f", n(token.fetched_at))
            .expression_attribute_values(":o", s(owner))
            .send()
            .await;
        conditional("put_token", res)
    }
}
