//! Data as the release before several mini programs and accounts wrote it: DynamoDB items and the
//! local server's `--data` file, spelled out here literally (not through `wxauth::store::schema`, which
//! describes today's format), so that upgrade tests load exactly what is in deployed tables.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

/// One user of the earlier release, with one live session.
#[derive(Debug, Clone)]
pub struct LegacyUser {
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key: String,
    /// The session's skey (what the phone holds) and its hash (the item's key).
    pub skey: String,
    pub sid: String,
    pub created_at: i64,
    pub profile: Option<Value>,
    pub phone: Option<Value>,
}

impl LegacyUser {
    /// A user with a fresh skey, a nickname and a phone number.
    pub fn new(openid: &str, unionid: Option<&str>, session_key: &str, now: i64) -> LegacyUser {
        LegacyUser {
            openid: openid.to_string(),
            unionid: unionid.map(str::to_string),
            session_key: session_key.to_string(),
            skey: wxauth::crypto::generate_skey().expect("rng"),
            sid: wxauth::crypto::random_id().expect("rng"),
            created_at: now,
            profile: Some(json!({"nickName": "Old Timer", "city": "Hangzhou"})),
            phone: Some(json!({
                "phoneNumber": "13800138000",
                "purePhoneNumber": "13800138000",
                "countryCode": "86"
            })),
        }
    }

    pub fn key_hash(&self) -> String {
        wxauth::crypto::skey_hash(&self.skey)
    }

    /// The session and user items, exactly as the earlier `DynamoStore` wrote them.
    pub fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let s = |v: &str| AttributeValue::S(v.to_string());
        let n = |v: i64| AttributeValue::N(v.to_string());
        let mut session = HashMap::from([
            ("pk".to_string(), s(&format!("SESSION#{}", self.key_hash()))),
            ("kind".to_string(), s("session")),
            ("sid".to_string(), s(&self.sid)),
            ("openid".to_string(), s(&self.openid)),
            ("owner".to_string(), s(&self.openid)),
            ("session_key".to_string(), s(&self.session_key)),
            ("created_at".to_string(), n(self.created_at)),
            ("last_seen".to_string(), n(self.created_at)),
            ("expires_at".to_string(), n(self.created_at + 7 * 86400)),
        ]);
        let mut user = HashMap::from([
            ("pk".to_string(), s(&format!("USER#{}", self.openid))),
            ("kind".to_string(), s("user")),
            ("openid".to_string(), s(&self.openid)),
            ("session_key".to_string(), s(&self.session_key)),
            ("created_at".to_string(), n(self.created_at)),
            ("updated_at".to_string(), n(self.created_at)),
        ]);
        if let Some(u) = &self.unionid {
            session.insert("unionid".into(), s(u));
            user.insert("unionid".into(), s(u));
        }
        for (name, value) in [("profile", &self.profile), ("phone", &self.phone)] {
            if let Some(v) = value {
                let item: HashMap<String, AttributeValue> =
                    serde_dynamo::to_item(v).expect("a JSON object");
                user.insert(name.into(), AttributeValue::M(item));
            }
        }
        vec![session, user]
    }

    /// Writes the items into a table.
    pub async fn put(&self, client: &Client, table: &str) {
        for item in self.items() {
            client
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .send()
                .await
                .expect("put a legacy item");
        }
    }

    /// The session and user of the earlier local server's `--data` file (`MemoryStore`'s JSON).
    pub fn file_entries(&self) -> (Value, Value) {
        let session = json!({
            "key_hash": self.key_hash(),
            "sid": self.sid,
            "openid": self.openid,
            "unionid": self.unionid,
            "session_key": self.session_key,
            "created_at": self.created_at,
            "last_seen": self.created_at,
            "expires_at": self.created_at + 7 * 86400,
        });
        let user = json!({
            "openid": self.openid,
            "unionid": self.unionid,
            "session_key": self.session_key,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "profile": self.profile,
            "phone": self.phone,
        });
        (session, user)
    }
}

/// The earlier local server's `--data` file holding these users.
pub fn data_file(users: &[&LegacyUser]) -> Value {
    let mut sessions = serde_json::Map::new();
    let mut items = serde_json::Map::new();
    for u in users {
        let (session, user) = u.file_entries();
        sessions.insert(u.key_hash(), session);
        items.insert(u.openid.clone(), user);
    }
    json!({"sessions": sessions, "users": items, "tokens": {}, "key_checks": {}})
}
