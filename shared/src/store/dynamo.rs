//! The DynamoDB [`Store`]: single-table design, one item per session and per user.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};

/// The most items one transaction may write (DynamoDB's limit).
const MAX_TRANSACTION_ITEMS: usize = 100;

use super::schema::{
    KIND_ACCOUNT, KIND_SESSION, KIND_UNIONID, KIND_USER, OWNER_ATTRIBUTE, OWNER_INDEX,
    PARTITION_KEY, SESSION_PREFIX, account_pk, attr, limit_pk, session_pk, token_pk, unionid_pk,
    user_pk,
};
use super::{
    Account, AccountWrite, CachedToken, Login, Merge, Phone, Profile, Session, Store, TokenRecord,
    User,
};
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
            .within(op)
            .await?;
        Ok(out.item().cloned())
    }
}

/// The outcome of a conditional write: `true` when written, `false` when the condition failed.
fn conditional<T, E, R>(op: &str, res: Settled<T, E, R>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match res.map_err(|e| e.into_store_error(op)) {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// An SDK call's outcome by the request's deadline: its own result, or no answer in time.
type Settled<T, E, R> = Result<T, CallError<E, R>>;

/// Why an SDK call gave no result.
enum CallError<E, R> {
    Sdk(SdkError<E, R>),
    Late,
}

impl<E, R> CallError<E, R>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn into_store_error(self, op: &str) -> StoreError {
        match self {
            CallError::Sdk(e) => sdk_error(op, e),
            // The request may still commit later: the caller must not claim nothing was written.
            CallError::Late => StoreError::Unavailable(format!(
                "{op}: no answer before the request's deadline (it may still be applied)"
            )),
        }
    }
}

/// Awaiting SDK calls by the request's deadline ([`crate::deadline`]).
trait ByDeadline<T, E, R>: std::future::Future<Output = Result<T, SdkError<E, R>>> + Sized
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    /// The outcome, or `Late`.
    async fn settled(self) -> Settled<T, E, R> {
        match crate::deadline::within(self).await {
            Ok(res) => res.map_err(CallError::Sdk),
            Err(_) => Err(CallError::Late),
        }
    }

    /// The output, or the store error of operation `op`.
    async fn within(self, op: &str) -> Result<T, StoreError> {
        self.settled().await.map_err(|e| e.into_store_error(op))
    }
}

impl<T, E, R, F> ByDeadline<T, E, R> for F
where
    F: std::future::Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
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
        appid: opt_s(item, attr::APPID),
        openid: get_s(item, attr::OPENID)?,
        unionid: opt_s(item, attr::UNIONID),
        uid: opt_s(item, attr::UID),
        created_at: get_n(item, attr::CREATED_AT)?,
        last_seen: get_n(item, attr::LAST_SEEN)?,
        expires_at: get_n(item, attr::EXPIRES_AT)?,
    })
}

fn user_from_item(item: &Item) -> Result<User, StoreError> {
    Ok(User {
        appid: opt_s(item, attr::APPID),
        openid: get_s(item, attr::OPENID)?,
        unionid: opt_s(item, attr::UNIONID),
        uid: opt_s(item, attr::UID),
        session_key: Secret::new(get_s(item, attr::SESSION_KEY)?),
        created_at: get_n(item, attr::CREATED_AT)?,
        updated_at: get_n(item, attr::UPDATED_AT)?,
        profile: opt_map(item, attr::PROFILE)?,
        phone: opt_map(item, attr::PHONE)?,
        blocked_at: get_n(item, attr::BLOCKED_AT).ok(),
    })
}

fn account_from_item(item: &Item) -> Result<Account, StoreError> {
    let identities = match item.get(attr::IDENTITIES) {
        Some(AttributeValue::M(m)) => m
            .iter()
            .map(|(appid, openid)| match openid {
                AttributeValue::S(o) => Ok((appid.clone(), o.clone())),
                _ => Err(StoreError::Corrupt("identities: not a string".into())),
            })
            .collect::<Result<_, _>>()?,
        None => Default::default(),
        Some(_) => return Err(StoreError::Corrupt("identities is not a map".into())),
    };
    Ok(Account {
        uid: get_s(item, attr::UID)?,
        unionid: opt_s(item, attr::UNIONID),
        identities,
        profile: opt_map(item, attr::PROFILE)?,
        phone: opt_map(item, attr::PHONE)?,
        created_at: get_n(item, attr::CREATED_AT)?,
        updated_at: get_n(item, attr::UPDATED_AT)?,
        merged_into: opt_s(item, attr::MERGED_INTO),
        blocked_at: get_n(item, attr::BLOCKED_AT).ok(),
    })
}

fn account_item(a: &Account) -> Result<Item, StoreError> {
    let identities = a
        .identities
        .iter()
        .map(|(appid, openid)| (appid.clone(), s(openid)))
        .collect();
    let mut item: Item = HashMap::from([
        (PARTITION_KEY.to_string(), s(account_pk(&a.uid))),
        (attr::KIND.to_string(), s(KIND_ACCOUNT)),
        (attr::UID.to_string(), s(&a.uid)),
        (attr::IDENTITIES.to_string(), AttributeValue::M(identities)),
        (attr::CREATED_AT.to_string(), n(a.created_at)),
        (attr::UPDATED_AT.to_string(), n(a.updated_at)),
    ]);
    if let Some(u) = &a.unionid {
        item.insert(attr::UNIONID.into(), s(u));
    }
    if let Some(p) = &a.profile {
        item.insert(attr::PROFILE.into(), to_map(p)?);
    }
    if let Some(p) = &a.phone {
        item.insert(attr::PHONE.into(), to_map(p)?);
    }
    if let Some(m) = &a.merged_into {
        item.insert(attr::MERGED_INTO.into(), s(m));
    }
    if let Some(at) = a.blocked_at {
        item.insert(attr::BLOCKED_AT.into(), n(at));
    }
    Ok(item)
}

fn build_err(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("build {what}: {e}"))
}

impl DynamoStore {
    /// A Put of a whole account: a new one (`was` is `None`), or the one read at `was`, not an alias.
    fn put_account(&self, account: &Account, was: Option<i64>) -> Result<Put, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(account_item(account)?));
        match was {
            None => put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY),
            Some(w) => put
                .condition_expression(format!(
                    "#updated = :was AND attribute_not_exists({})",
                    attr::MERGED_INTO
                ))
                .expression_attribute_names("#updated", attr::UPDATED_AT)
                .expression_attribute_values(":was", n(w)),
        }
        .build()
        .map_err(|e| build_err("account put", e))
    }

    /// A Put of the unionid → account item under `condition` (which names `#pk`, maybe `#uid`).
    fn put_unionid(
        &self,
        unionid: &str,
        uid: &str,
        condition: &str,
        values: &[(&str, &str)],
    ) -> Result<Put, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .item(PARTITION_KEY, s(unionid_pk(unionid)))
            .item(attr::KIND, s(KIND_UNIONID))
            .item(attr::UNIONID, s(unionid))
            .item(attr::UID, s(uid))
            .condition_expression(condition)
            .expression_attribute_names("#pk", PARTITION_KEY);
        if condition.contains("#uid") {
            put = put.expression_attribute_names("#uid", attr::UID);
        }
        for (k, v) in values {
            put = put.expression_attribute_values(*k, s(*v));
        }
        put.build().map_err(|e| build_err("unionid put", e))
    }

    /// Runs one transaction of `items`, idempotent under the SDK's retries with `token`.
    async fn transact(
        &self,
        op: &str,
        token: Option<&str>,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Unavailable(format!(
                "{op}: {} items, more than one transaction takes",
                items.len()
            )));
        }
        self.client
            .transact_write_items()
            .set_client_request_token(token.map(str::to_string))
            .set_transact_items(Some(items))
            .send()
            .within(op)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn create_session(&self, login: &Login) -> Result<(), StoreError> {
        let session = &login.session;
        let (Some(appid), Some(uid)) = (&session.appid, &session.uid) else {
            return Err(StoreError::Corrupt(
                "a new session names its appid and uid".into(),
            ));
        };
        let mut item: Item = HashMap::from([
            (PARTITION_KEY.to_string(), s(session_pk(&session.key_hash))),
            (attr::KIND.to_string(), s(KIND_SESSION)),
            (attr::SID.to_string(), s(&session.sid)),
            (attr::APPID.to_string(), s(appid)),
            (attr::OPENID.to_string(), s(&session.openid)),
            (attr::UID.to_string(), s(uid)),
            (OWNER_ATTRIBUTE.to_string(), s(&session.openid)),
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
            .map_err(|e| build_err("session put", e))?;

        let mut set = format!(
            "#kind = :user, {appid} = :appid, {openid} = :openid, {uid} = :uid, {sk} = :sk, \
             {updated} = :now, {created} = if_not_exists({created}, :now)",
            appid = attr::APPID,
            openid = attr::OPENID,
            uid = attr::UID,
            sk = attr::SESSION_KEY,
            updated = attr::UPDATED_AT,
            created = attr::CREATED_AT,
        );
        // The user item is this app's (an item of an earlier release, without appid, only for the
        // first app) and belongs to no other account.
        let app_condition = if login.legacy_app {
            format!(
                "(attribute_not_exists({a}) OR {a} = :appid)",
                a = attr::APPID
            )
        } else {
            format!("(attribute_not_exists(#pk) OR {} = :appid)", attr::APPID)
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(user_pk(&session.openid)))
            .condition_expression(format!(
                "{app_condition} AND (attribute_not_exists({u}) OR {u} = :uid) \
                 AND attribute_not_exists({b})",
                u = attr::UID,
                b = attr::BLOCKED_AT
            ))
            .expression_attribute_names("#kind", attr::KIND)
            .expression_attribute_values(":user", s(KIND_USER))
            .expression_attribute_values(":appid", s(appid))
            .expression_attribute_values(":openid", s(&session.openid))
            .expression_attribute_values(":uid", s(uid))
            .expression_attribute_values(":sk", s(login.session_key.expose()))
            .expression_attribute_values(":now", n(login.now));
        if !login.legacy_app {
            update = update.expression_attribute_names("#pk", PARTITION_KEY);
        }
        if let Some(u) = &session.unionid {
            set.push_str(&format!(", {} = :unionid", attr::UNIONID));
            update = update.expression_attribute_values(":unionid", s(u));
        }
        let update = update
            .update_expression(format!("SET {set}"))
            .build()
            .map_err(|e| build_err("user update", e))?;

        let mut items = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(update).build(),
        ];
        if let AccountWrite::Put { account, was } = &login.account {
            let put = self.put_account(account, *was)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        if let Some(u) = session.unionid.as_deref().filter(|_| login.map_unionid) {
            let put = self.put_unionid(u, uid, "attribute_not_exists(#pk)", &[])?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        // Idempotent retries: if an attempt times out after DynamoDB applied it, the SDK's retry
        // with the same token succeeds instead of failing its own condition (a stored session
        // reported as a failed login).
        self.transact("create_session", Some(&session.sid), items)
            .await
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
            .settled()
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
            .within("delete_session")
            .await?;
        Ok(out.attributes().is_some_and(|a| !a.is_empty()))
    }

    async fn sessions_of(&self, openid: &str) -> Result<Vec<String>, StoreError> {
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
                .within("query sessions")
                .await?;
            for item in out.items() {
                let pk = get_s(item, PARTITION_KEY)?;
                if let Some(hash) = pk.strip_prefix(SESSION_PREFIX) {
                    keys.push(hash.to_string());
                }
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(keys)
    }

    async fn delete_sessions_of(&self, openid: &str) -> Result<usize, StoreError> {
        let mut ended = 0;
        for hash in self.sessions_of(openid).await? {
            if self.delete_session(&hash).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    async fn move_session(&self, key_hash: &str, from: &str, to: &str) -> Result<bool, StoreError> {
        let res = self
            .update(session_pk(key_hash))
            .update_expression("SET #uid = :to")
            .condition_expression("attribute_exists(#pk) AND #uid = :from")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#uid", attr::UID)
            .expression_attribute_values(":to", s(to))
            .expression_attribute_values(":from", s(from))
            .send()
            .settled()
            .await;
        conditional("move_session", res)
    }

    async fn get_user(&self, openid: &str) -> Result<Option<User>, StoreError> {
        let item = self.get("get_user", user_pk(openid)).await?;
        item.as_ref().map(user_from_item).transpose()
    }

    async fn get_account(&self, uid: &str) -> Result<Option<Account>, StoreError> {
        let item = self.get("get_account", account_pk(uid)).await?;
        item.as_ref().map(account_from_item).transpose()
    }

    async fn get_unionid(&self, unionid: &str) -> Result<Option<String>, StoreError> {
        let item = self.get("get_unionid", unionid_pk(unionid)).await?;
        item.as_ref().map(|i| get_s(i, attr::UID)).transpose()
    }

    async fn create_account(
        &self,
        account: &Account,
        openid: &str,
        map_unionid: bool,
    ) -> Result<(), StoreError> {
        let user = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(user_pk(openid)))
            .update_expression("SET #uid = :uid")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#uid)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#uid", attr::UID)
            .expression_attribute_values(":uid", s(&account.uid))
            .build()
            .map_err(|e| build_err("user update", e))?;
        let mut items = vec![
            TransactWriteItem::builder()
                .put(self.put_account(account, None)?)
                .build(),
            TransactWriteItem::builder().update(user).build(),
        ];
        if let Some(u) = account.unionid.as_deref().filter(|_| map_unionid) {
            let put = self.put_unionid(u, &account.uid, "attribute_not_exists(#pk)", &[])?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        self.transact("create_account", None, items).await
    }

    async fn merge_accounts(&self, merge: &Merge) -> Result<(), StoreError> {
        let (survivor, merged) = (merge.survivor.uid.as_str(), merge.merged.as_str());
        let alias = Update::builder()
            .table_name(&self.table)
            .key(PARTITION_KEY, s(account_pk(merged)))
            .update_expression("SET #into = :s, #updated = :now")
            .condition_expression("#updated = :was AND attribute_not_exists(#into)")
            .expression_attribute_names("#into", attr::MERGED_INTO)
            .expression_attribute_names("#updated", attr::UPDATED_AT)
            .expression_attribute_values(":s", s(survivor))
            .expression_attribute_values(":now", n(merge.now))
            .expression_attribute_values(":was", n(merge.merged_was))
            .build()
            .map_err(|e| build_err("alias update", e))?;
        let mut items = vec![
            TransactWriteItem::builder()
                .put(self.put_account(&merge.survivor, Some(merge.survivor_was))?)
                .build(),
            TransactWriteItem::builder().update(alias).build(),
        ];
        for openid in &merge.moved {
            let moved = Update::builder()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(user_pk(openid)))
                .update_expression("SET #uid = :s")
                .condition_expression("attribute_exists(#pk) AND #uid = :l")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#uid", attr::UID)
                .expression_attribute_values(":s", s(survivor))
                .expression_attribute_values(":l", s(merged))
                .build()
                .map_err(|e| build_err("user move", e))?;
            items.push(TransactWriteItem::builder().update(moved).build());
        }
        if let Some(u) = &merge.unionid {
            let put = self.put_unionid(
                u,
                survivor,
                "attribute_not_exists(#pk) OR #uid IN (:s, :l)",
                &[(":s", survivor), (":l", merged)],
            )?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        self.transact("merge_accounts", None, items).await
    }

    async fn save_profile(&self, uid: &str, profile: &Profile, now: i64) -> Result<(), StoreError> {
        self.update(account_pk(uid))
            .condition_expression(format!(
                "attribute_exists(#pk) AND attribute_not_exists({})",
                attr::MERGED_INTO
            ))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .update_expression(format!(
                "SET {} = :p, {} = :now",
                attr::PROFILE,
                attr::UPDATED_AT
            ))
            .expression_attribute_values(":p", to_map(profile)?)
            .expression_attribute_values(":now", n(now))
            .send()
            .within("save_profile")
            .await?;
        Ok(())
    }

    async fn save_phone(&self, uid: &str, phone: &Phone, now: i64) -> Result<(), StoreError> {
        self.update(account_pk(uid))
            .condition_expression(format!(
                "attribute_exists(#pk) AND attribute_not_exists({})",
                attr::MERGED_INTO
            ))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .update_expression(format!(
                "SET {} = :p, {} = :now",
                attr::PHONE,
                attr::UPDATED_AT
            ))
            .expression_attribute_values(":p", to_map(phone)?)
            .expression_attribute_values(":now", n(now))
            .send()
            .within("save_phone")
            .await?;
        Ok(())
    }

    async fn count_in_window(
        &self,
        key: &str,
        limit: u32,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let res = self
            .update(limit_pk(key))
            .update_expression("SET #hits = if_not_exists(#hits, :zero) + :one, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#hits) OR #hits < :limit")
            .expression_attribute_names("#hits", attr::HITS)
            .expression_attribute_names("#ttl", attr::EXPIRES_AT)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(limit)))
            .expression_attribute_values(":ttl", n(expires_at))
            .send()
            .settled()
            .await;
        conditional("count_in_window", res)
    }

    async fn block_user(&self, openid: &str, at: Option<i64>) -> Result<bool, StoreError> {
        let req = self
            .update(user_pk(openid))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#blocked", attr::BLOCKED_AT);
        let req = match at {
            Some(at) => req
                .update_expression("SET #blocked = :at")
                .expression_attribute_values(":at", n(at)),
            None => req.update_expression("REMOVE #blocked"),
        };
        conditional("block_user", req.send().settled().await)
    }

    async fn block_account(
        &self,
        uid: &str,
        at: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let req = self
            .update(account_pk(uid))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#blocked", attr::BLOCKED_AT)
            .expression_attribute_names("#updated", attr::UPDATED_AT)
            .expression_attribute_values(":now", n(now));
        let req = match at {
            Some(at) => req
                .update_expression("SET #blocked = :at, #updated = :now")
                .expression_attribute_values(":at", n(at)),
            None => req.update_expression("REMOVE #blocked SET #updated = :now"),
        };
        conditional("block_account", req.send().settled().await)
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
            .settled()
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
            .settled()
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
            .settled()
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
            .settled()
            .await;
        conditional("put_token", res)
    }
}
