//! An in-memory [`Store`]: the local server's default and the reference the DynamoDB store is tested
//! against. Optionally persisted to a JSON file (`MemoryStore::open`), rewritten atomically after every
//! change, so a local server keeps its sessions across restarts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{CachedToken, LoginUpdate, Phone, Profile, Session, Store, TokenRecord, User};
use crate::error::StoreError;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    sessions: HashMap<String, Session>,
    users: HashMap<String, User>,
    #[serde(default)]
    tokens: HashMap<String, TokenRecord>,
    #[serde(default)]
    key_checks: HashMap<String, i64>,
}

/// Sessions and users in a mutex-protected map. Same semantics as the DynamoDB store, including the
/// conditional writes.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
    file: Option<PathBuf>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store kept in `path` (created if missing). Fails if the file exists but is not a store.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let data = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::Corrupt(format!("{} is not a wxauth store: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Data::default(),
            Err(e) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let store = MemoryStore {
            data: Mutex::new(data),
            file: Some(path.to_path_buf()),
        };
        store.with(|_| Ok(true))?;
        Ok(store)
    }

    /// Runs `f` on the data; when it reports a change (`Ok(true)`-like via `changed`), persists it.
    fn with<T>(&self, f: impl FnOnce(&mut Data) -> Result<T, StoreError>) -> Result<T, StoreError>
    where
        T: Changed,
    {
        let mut guard = self
            .data
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store poisoned".into()))?;
        let out = f(&mut guard)?;
        if out.changed()
            && let Some(path) = &self.file
        {
            persist(path, &guard)?;
        }
        Ok(out)
    }
}

/// Whether an operation's result means the data changed (and must be persisted).
trait Changed {
    fn changed(&self) -> bool;
}
impl Changed for bool {
    fn changed(&self) -> bool {
        *self
    }
}
impl Changed for usize {
    fn changed(&self) -> bool {
        *self > 0
    }
}
impl<T> Changed for Option<T> {
    fn changed(&self) -> bool {
        false
    }
}

fn persist(path: &Path, data: &Data) -> Result<(), StoreError> {
    let err = |e: std::io::Error| {
        StoreError::Unavailable(format!("cannot write {}: {e}", path.display()))
    };
    let bytes = serde_json::to_vec(data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

fn no_user() -> StoreError {
    StoreError::Conflict("no such user".into())
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_session(
        &self,
        session: &Session,
        login: &LoginUpdate,
    ) -> Result<(), StoreError> {
        self.with(|d| {
            if d.sessions.contains_key(&session.key_hash) {
                return Err(StoreError::Conflict("session exists".into()));
            }
            d.sessions.insert(session.key_hash.clone(), session.clone());
            let user = d.users.entry(login.openid.clone()).or_insert_with(|| User {
                openid: login.openid.clone(),
                unionid: None,
                session_key: login.session_key.clone(),
                created_at: login.now,
                updated_at: login.now,
                profile: None,
                phone: None,
            });
            user.session_key = login.session_key.clone();
            user.updated_at = login.now;
            if login.unionid.is_some() {
                user.unionid = login.unionid.clone();
            }
            Ok(true)
        })
        .map(|_| ())
    }

    async fn get_session(&self, key_hash: &str) -> Result<Option<Session>, StoreError> {
        self.with(|d| Ok(d.sessions.get(key_hash).cloned()))
    }

    async fn touch_session(&self, key_hash: &str, last_seen: i64) -> Result<(), StoreError> {
        self.with(|d| {
            Ok(match d.sessions.get_mut(key_hash) {
                Some(s) if s.last_seen < last_seen => {
                    s.last_seen = last_seen;
                    true
                }
                _ => false,
            })
        })
        .map(|_| ())
    }

    async fn delete_session(&self, key_hash: &str) -> Result<bool, StoreError> {
        self.with(|d| {
            d.key_checks.remove(key_hash);
            Ok(d.sessions.remove(key_hash).is_some())
        })
    }

    async fn delete_sessions_of(&self, openid: &str) -> Result<usize, StoreError> {
        self.with(|d| {
            let before = d.sessions.len();
            d.sessions.retain(|_, s| s.openid != openid);
            Ok(before - d.sessions.len())
        })
    }

    async fn get_user(&self, openid: &str) -> Result<Option<User>, StoreError> {
        self.with(|d| Ok(d.users.get(openid).cloned()))
    }

    async fn save_profile(
        &self,
        openid: &str,
        profile: &Profile,
        unionid: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.with(|d| {
            let user = d.users.get_mut(openid).ok_or_else(no_user)?;
            user.profile = Some(profile.clone());
            if let Some(u) = unionid {
                user.unionid = Some(u.to_string());
            }
            user.updated_at = now;
            Ok(true)
        })
        .map(|_| ())
    }

    async fn save_phone(&self, openid: &str, phone: &Phone, now: i64) -> Result<(), StoreError> {
        self.with(|d| {
            let user = d.users.get_mut(openid).ok_or_else(no_user)?;
            user.phone = Some(phone.clone());
            user.updated_at = now;
            Ok(true)
        })
        .map(|_| ())
    }

    async fn claim_key_check(
        &self,
        key_hash: &str,
        now: i64,
        interval: i64,
    ) -> Result<bool, StoreError> {
        self.with(|d| {
            if !d.sessions.contains_key(key_hash) {
                return Ok(false);
            }
            match d.key_checks.get(key_hash) {
                Some(at) if *at >= now - interval => Ok(false),
                _ => {
                    d.key_checks.insert(key_hash.to_string(), now);
                    Ok(true)
                }
            }
        })
    }

    async fn get_token(&self, appid: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.with(|d| Ok(d.tokens.get(appid).cloned()))
    }

    async fn lease_token(
        &self,
        appid: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.with(|d| {
            let rec = d.tokens.entry(appid.to_string()).or_default();
            if rec.lease_until.is_some_and(|u| u >= now) {
                return Ok(false);
            }
            rec.lease_owner = Some(owner.to_string());
            rec.lease_until = Some(until);
            Ok(true)
        })
    }

    async fn release_token_lease(&self, appid: &str, owner: &str) -> Result<(), StoreError> {
        self.with(|d| {
            Ok(match d.tokens.get_mut(appid) {
                Some(rec) if rec.lease_owner.as_deref() == Some(owner) => {
                    rec.lease_owner = None;
                    rec.lease_until = None;
                    true
                }
                _ => false,
            })
        })
        .map(|_| ())
    }

    async fn put_token(
        &self,
        appid: &str,
        owner: &str,
        token: &CachedToken,
    ) -> Result<bool, StoreError> {
        self.with(|d| {
            let rec = d.tokens.entry(appid.to_string()).or_default();
            if rec.lease_owner.as_deref() != Some(owner) {
                return Ok(false);
            }
            rec.token = Some(token.clone());
            rec.lease_owner = None;
            rec.lease_until = None;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn session(hash: &str) -> (Session, LoginUpdate) {
        let s = Session {
            key_hash: hash.into(),
            sid: "sid".into(),
            openid: "o1".into(),
            unionid: None,
            session_key: Secret::new("k"),
            created_at: 1,
            last_seen: 1,
            expires_at: 100,
        };
        let l = LoginUpdate {
            openid: "o1".into(),
            unionid: None,
            session_key: Secret::new("k"),
            now: 1,
        };
        (s, l)
    }

    #[tokio::test]
    async fn persists_across_reopen() {
        let dir = std::env::temp_dir().join(format!(
            "wxauth-mem-{}",
            crate::crypto::random_id().expect("rng")
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("store.json");
        {
            let store = MemoryStore::open(&path).expect("open");
            let (s, l) = session("h1");
            store.create_session(&s, &l).await.expect("create");
            assert!(matches!(
                store.create_session(&s, &l).await,
                Err(StoreError::Conflict(_))
            ));
        }
        let store = MemoryStore::open(&path).expect("reopen");
        assert_eq!(
            store.get_session("h1").await.expect("ok").map(|s| s.openid),
            Some("o1".into())
        );
        assert!(store.get_user("o1").await.expect("ok").is_some());
        std::fs::write(&path, b"not json").expect("write");
        assert!(matches!(
            MemoryStore::open(&path),
            Err(StoreError::Corrupt(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
