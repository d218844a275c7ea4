//! An in-memory [`Store`]: the local server's default and the reference the DynamoDB store is tested against.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{LoginUpdate, Phone, Profile, Session, Store, User};
use crate::error::StoreError;

#[derive(Debug, Default)]
struct Data {
    sessions: HashMap<String, Session>,
    users: HashMap<String, User>,
}

/// Sessions and users in a mutex-protected map. Same semantics as the DynamoDB store, including the
/// conditional writes.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Data) -> T) -> Result<T, StoreError> {
        let mut guard = self
            .data
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store poisoned".into()))?;
        Ok(f(&mut guard))
    }
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
            Ok(())
        })?
    }

    async fn get_session(&self, key_hash: &str) -> Result<Option<Session>, StoreError> {
        self.with(|d| d.sessions.get(key_hash).cloned())
    }

    async fn touch_session(&self, key_hash: &str, last_seen: i64) -> Result<(), StoreError> {
        self.with(|d| {
            if let Some(s) = d.sessions.get_mut(key_hash) {
                s.last_seen = s.last_seen.max(last_seen);
            }
        })
    }

    async fn delete_session(&self, key_hash: &str) -> Result<bool, StoreError> {
        self.with(|d| d.sessions.remove(key_hash).is_some())
    }

    async fn delete_sessions_of(&self, openid: &str) -> Result<usize, StoreError> {
        self.with(|d| {
            let before = d.sessions.len();
            d.sessions.retain(|_, s| s.openid != openid);
            before - d.sessions.len()
        })
    }

    async fn get_user(&self, openid: &str) -> Result<Option<User>, StoreError> {
        self.with(|d| d.users.get(openid).cloned())
    }

    async fn save_profile(
        &self,
        openid: &str,
        profile: &Profile,
        unionid: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.with(|d| {
            let user = d
                .users
                .get_mut(openid)
                .ok_or_else(|| StoreError::Conflict("no such user".into()))?;
            user.profile = Some(profile.clone());
            if let Some(u) = unionid {
                user.unionid = Some(u.to_string());
            }
            user.updated_at = now;
            Ok(())
        })?
    }

    async fn save_phone(&self, openid: &str, phone: &Phone, now: i64) -> Result<(), StoreError> {
        self.with(|d| {
            let user = d
                .users
                .get_mut(openid)
                .ok_or_else(|| StoreError::Conflict("no such user".into()))?;
            user.phone = Some(phone.clone());
            user.updated_at = now;
            Ok(())
        })?
    }
}
