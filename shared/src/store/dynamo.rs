//! The DynamoDB [`Store`]: single-table design, one item per session and per user.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};

use super::schema::{
    KIND_SESSION, KIND_USER, OWNER_ATTRIBUTE, OWNER_INDEX, PARTITION_KEY, SESSION_PREFIX, attr,
    session_pk, token_pk, user_pk,
};
use super::{CachedToken, LoginUpdate, Phone, Profile, Session, Store, TokenRecord, User};
use crate::error::StoreError;
use crate::secret::Secret;

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

    /// An UpdateItem of the item `pk`.
    fn update(
        &self,
        pk: String,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(pk))
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
        .strip_prefix(SESSION_PREFIX)
        .ok_or_else(|| StoreError::Corrupt("session key without prefix".into()))?
        .to_string();
    Ok(Session {
        key_hash,
        sid: get_s(item, attr::SID)?,
        openid: get_s(item, attr::OPENID)?,
        unionid: opt_s(item, attr::UNIONID),
        session_key: Secret::new(get_s(item, attr::SESSION_KEY)?),
        created_at: get_n(item, attr::CREATED_AT)?,
        last_seen: get_n(item, attr::LAST_SEEN)?,
        expires_at: get_n(item, attr::EXPIRES_AT)?,
    })
}

fn user_from_item(item: &Item) -> Result<User, StoreError> {
    Ok(User {
        openid: get_s(item, attr::OPENID)?,
        unionid: opt_s(item, attr::UNIONID),
        session_key: Secret::new(get_s(item, attr::SESSION_KEY)?),
        created_at: get_n(item, attr::CREATED_AT)?,
        updated_at: get_n(item, attr::UPDATED_AT)?,
        profile: opt_map(item, attr::PROFILE)?,
        phone: opt_map(item, attr::PHONE)?,
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
            (attr::KIND.to_string(), s(KIND_SESSION)),
            (attr::SID.to_string(), s(&session.sid)),
            (attr::OPENID.to_string(), s(&session.openid)),
            (OWNER_ATTRIBUTE.to_string(), s(&session.openid)),
            (
                attr::SESSION_KEY.to_string(),
                s(session.session_key.expose()),
            ),
            (attr::CREATED_AT.to_string(), n(session.created_at)),
            (attr::LAST_SEEN.to_string(), n(session.last_seen)),
            (attr::EXPIRES_AT.to_string(), n(session.expires_at)),
        ]);
        if let Some(u) = &session.unionid {
            item.insert(attr::UNIONID.into(), s(u));
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(|e| StoreError::Unavailable(format!("build put: {e}")))?;

        let mut set = format!(
            "#kind = :user, {openid} = :openid, {sk} = :sk, {updated} = :now, \
             {created} = if_not_exists({created}, :now)",
            openid = attr::OPENID,
            sk = attr::SESSION_KEY,
            updated = attr::UPDATED_AT,
            created = attr::CREATED_AT,
        );
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(user_pk(&login.openid)))
            .expression_attribute_names("#kind", attr::KIND)
            .expression_attribute_values(":user", s(KIND_USER))
            .expression_attribute_values(":openid", s(&login.openid))
            .expression_attribute_values(":sk", s(login.session_key.expose()))
            .expression_attribute_values(":now", n(login.now));
        if let Some(u) = &login.unionid {
            set.push_str(&format!(", {} = :unionid", attr::UNIONID));
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
            .update(session_pk(key_hash))
            .update_expression(format!("SET {} = :t", attr::LAST_SEEN))
            .condition_expression(format!(
                "attribute_exists(#pk) AND {} < :t",
                attr::LAST_SEEN
            ))
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
            .update(user_pk(openid))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":p", to_map(profile)?)
            .expression_attribute_values(":now", n(now));
        let mut set = format!("SET {} = :p, {} = :now", attr::PROFILE, attr::UPDATED_AT);
        if let Some(u) = unionid {
            set.push_str(&format!(", {} = :u", attr::UNIONID));
            req = req.expression_attribute_values(":u", s(u));
        }
        req.update_expression(set)
            .send()
            .await
            .map_err(|e| sdk_error("save_profile", e))?;
        Ok(())
    }

    async fn save_phone(&self, openid: &str, phone: &Phone, now: i64) -> Result<(), StoreError> {
        self.update(user_pk(openid))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .update_expression(format!(
                "SET {} = :p, {} = :now",
                attr::PHONE,
                attr::UPDATED_AT
            ))
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
            .update(session_pk(key_hash))
            .update_expression(format!("SET {} = :now", attr::KEY_CHECKED_AT))
            .condition_expression(format!(
                "attribute_exists(#pk) AND (attribute_not_exists({at}) OR {at} < :cutoff)",
                at = attr::KEY_CHECKED_AT
            ))
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
        let token = match opt_s(item, attr::ACCESS_TOKEN) {
            Some(t) => Some(CachedToken {
                token: Secret::new(t),
                expires_at: get_n(item, attr::TOKEN_EXPIRES_AT)?,
                fetched_at: get_n(item, attr::FETCHED_AT)?,
            }),
            None => None,
        };
        Ok(Some(TokenRecord {
            token,
            lease_owner: opt_s(item, attr::LEASE_OWNER),
            lease_until: get_n(item, attr::LEASE_UNTIL).ok(),
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
            .update(token_pk(appid))
            .update_expression(format!(
                "SET {} = :o, {until} = :u",
                attr::LEASE_OWNER,
                until = attr::LEASE_UNTIL
            ))
            .condition_expression(format!(
                "attribute_not_exists({until}) OR {until} < :now",
                until = attr::LEASE_UNTIL
            ))
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":u", n(until))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        conditional("lease_token", res)
    }

    async fn release_token_lease(&self, appid: &str, owner: &str) -> Result<(), StoreError> {
        let res = self
            .update(token_pk(appid))
            .update_expression(format!(
                "REMOVE {}, {}",
                attr::LEASE_OWNER,
                attr::LEASE_UNTIL
            ))
            .condition_expression(format!("{} = :o", attr::LEASE_OWNER))
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
            .update(token_pk(appid))
            .update_expression(format!(
                "SET {} = :t, {} = :e, {} = :f REMOVE {owner}, {}",
                attr::ACCESS_TOKEN,
                attr::TOKEN_EXPIRES_AT,
                attr::FETCHED_AT,
                attr::LEASE_UNTIL,
                owner = attr::LEASE_OWNER
            ))
            .condition_expression(format!("{} = :o", attr::LEASE_OWNER))
            .expression_attribute_values(":t", s(token.token.expose()))
            .expression_attribute_values(":e", n(token.expires_at))
            .expression_attribute_values(":f", n(token.fetched_at))
            .expression_attribute_values(":o", s(owner))
            .send()
            .await;
        conditional("put_token", res)
    }
}
