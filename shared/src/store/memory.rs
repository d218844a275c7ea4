//! An in-memory [`Store`]: the local server's default and the reference the DynamoDB store is tested
//! against. Optionally persisted to a JSON file (`MemoryStore::open`), rewritten atomically after every
//! change, so a local server keeps its sessions across restarts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    Account, AccountWrite, CachedToken, Login, Merge, Phone, Profile, Session, Store, TokenRecord,
    User,
};
use crate::error::StoreError;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    sessions: HashMap<String, Session>,
    users: HashMap<String, User>,
    #[serde(default)]
    accounts: HashMap<String, Account>,
    /// unionid → uid.
    #[serde(default)]
    unionids: HashMap<String, String>,
    #[serde(default)]
    tokens: HashMap<String, TokenRecord>,
    #[serde(default)]
    key_checks: HashMap<String, i64>,
    /// Rate-limit windows: key → (hits, expires_at).
    #[serde(default)]
    limits: HashMap<String, (u32, i64)>,
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
    // It holds session keys: readable by its owner only, from the moment it exists.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(err)?;
    #[cfg(unix)]
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(err)?;
    std::io::Write::write_all(&mut file, &bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

fn conflict(what: &str) -> StoreError {
    StoreError::Conflict(what.into())
}

impl Data {
    /// The condition on an account about to be rewritten as read at `was` (or created, `None`).
    fn account_unchanged(&self, uid: &str, was: Option<i64>) -> bool {
        match (self.accounts.get(uid), was) {
            (None, None) => true,
            (Some(a), Some(w)) => a.updated_at == w && a.merged_into.is_none(),
            _ => false,
        }
    }

    /// The account a profile or phone goes to: one that exists and is no alias.
    fn live_account(&mut self, uid: &str) -> Result<&mut Account, StoreError> {
        self.accounts
            .get_mut(uid)
            .filter(|a| a.merged_into.is_none())
            .ok_or_else(|| conflict("no such account"))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_session(&self, login: &Login) -> Result<(), StoreError> {
        let session = &login.session;
        self.with(|d| {
            if d.sessions.contains_key(&session.key_hash) {
                return Err(conflict("session exists"));
            }
            if let Some(user) = d.users.get(&session.openid) {
                let app_ok =
                    user.appid == session.appid || (user.appid.is_none() && login.legacy_app);
                let uid_ok = user.uid.is_none() || user.uid == session.uid;
                if !app_ok || !uid_ok || user.blocked_at.is_some() {
                    return Err(conflict("user of another app or account"));
                }
            }
            if let AccountWrite::Put { account, was } = &login.account
                && !d.account_unchanged(&account.uid, *was)
            {
                return Err(conflict("account changed"));
            }
            let unionid = session.unionid.as_ref().filter(|_| login.map_unionid);
            if let Some(u) = unionid
                && d.unionids.contains_key(u)
            {
                return Err(conflict("unionid mapped"));
            }
            d.sessions.insert(session.key_hash.clone(), session.clone());
            let user = d
                .users
                .entry(session.openid.clone())
                .or_insert_with(|| User {
                    appid: None,
                    openid: session.openid.clone(),
                    unionid: None,
                    uid: None,
                    session_key: login.session_key.clone(),
                    created_at: login.now,
                    updated_at: login.now,
                    profile: None,
                    phone: None,
                    blocked_at: None,
                });
            user.appid = session.appid.clone();
            user.uid = session.uid.clone();
            user.session_key = login.session_key.clone();
            user.updated_at = login.now;
            if session.unionid.is_some() {
                user.unionid = session.unionid.clone();
            }
            if let AccountWrite::Put { account, .. } = &login.account {
                d.accounts.insert(account.uid.clone(), (**account).clone());
            }
            if let (Some(u), Some(uid)) = (unionid, &session.uid) {
                d.unionids.insert(u.clone(), uid.clone());
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

    async fn sessions_of(&self, openid: &str) -> Result<Vec<String>, StoreError> {
        self.with(|d| {
            let mut keys: Vec<String> = d
                .sessions
                .values()
                .filter(|s| s.openid == openid)
                .map(|s| s.key_hash.clone())
                .collect();
            keys.sort();
            Ok(Some(keys))
        })
        .map(Option::unwrap_or_default)
    }

    async fn delete_sessions_of(&self, openid: &str) -> Result<usize, StoreError> {
        self.with(|d| {
            let before = d.sessions.len();
            d.sessions.retain(|_, s| s.openid != openid);
            Ok(before - d.sessions.len())
        })
    }

    async fn move_session(&self, key_hash: &str, from: &str, to: &str) -> Result<bool, StoreError> {
        self.with(|d| {
            Ok(match d.sessions.get_mut(key_hash) {
                Some(s) if s.uid.as_deref() == Some(from) => {
                    s.uid = Some(to.to_string());
                    true
                }
                _ => false,
            })
        })
    }

    async fn get_user(&self, openid: &str) -> Result<Option<User>, StoreError> {
        self.with(|d| Ok(d.users.get(openid).cloned()))
    }

    async fn get_account(&self, uid: &str) -> Result<Option<Account>, StoreError> {
        self.with(|d| Ok(d.accounts.get(uid).cloned()))
    }

    async fn get_unionid(&self, unionid: &str) -> Result<Option<String>, StoreError> {
        self.with(|d| Ok(d.unionids.get(unionid).cloned()))
    }

    async fn create_account(
        &self,
        account: &Account,
        openid: &str,
        map_unionid: bool,
    ) -> Result<(), StoreError> {
        self.with(|d| {
            if d.accounts.contains_key(&account.uid) {
                return Err(conflict("account exists"));
            }
            if d.users.get(openid).is_none_or(|u| u.uid.is_some()) {
                return Err(conflict("user gone or linked"));
            }
            let unionid = account.unionid.as_ref().filter(|_| map_unionid);
            if let Some(u) = unionid
                && d.unionids.contains_key(u)
            {
                return Err(conflict("unionid mapped"));
            }
            if let Some(user) = d.users.get_mut(openid) {
                user.uid = Some(account.uid.clone());
            }
            d.accounts.insert(account.uid.clone(), account.clone());
            if let Some(u) = unionid {
                d.unionids.insert(u.clone(), account.uid.clone());
            }
            Ok(true)
        })
        .map(|_| ())
    }

    async fn merge_accounts(&self, merge: &Merge) -> Result<(), StoreError> {
        let (s, l) = (&merge.survivor.uid, &merge.merged);
        self.with(|d| {
            if !d.account_unchanged(s, Some(merge.survivor_was))
                || !d.account_unchanged(l, Some(merge.merged_was))
            {
                return Err(conflict("account changed"));
            }
            if !merge.moved.iter().all(|o| {
                d.users
                    .get(o)
                    .is_some_and(|u| u.uid.as_deref() == Some(l.as_str()))
            }) {
                return Err(conflict("user moved"));
            }
            if let Some(u) = &merge.unionid
                && d.unionids.get(u).is_some_and(|m| m != s && m != l)
            {
                return Err(conflict("unionid mapped elsewhere"));
            }
            d.accounts.insert(s.clone(), merge.survivor.clone());
            if let Some(merged) = d.accounts.get_mut(l) {
                merged.merged_into = Some(s.clone());
                merged.updated_at = merge.now;
            }
            for o in &merge.moved {
                if let Some(user) = d.users.get_mut(o) {
                    user.uid = Some(s.clone());
                }
            }
            if let Some(u) = &merge.unionid {
                d.unionids.insert(u.clone(), s.clone());
            }
            Ok(true)
        })
        .map(|_| ())
    }

    async fn save_profile(&self, uid: &str, profile: &Profile, now: i64) -> Result<(), StoreError> {
        self.with(|d| {
            let account = d.live_account(uid)?;
            account.profile = Some(profile.clone());
            account.updated_at = now;
            Ok(true)
        })
        .map(|_| ())
    }

    async fn save_phone(&self, uid: &str, phone: &Phone, now: i64) -> Result<(), StoreError> {
        self.with(|d| {
            let account = d.live_account(uid)?;
            account.phone = Some(phone.clone());
            account.updated_at = now;
            Ok(true)
        })
        .map(|_| ())
    }

    async fn count_in_window(
        &self,
        key: &str,
        limit: u32,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        self.with(|d| {
            let hits = d.limits.entry(key.to_string()).or_insert((0, expires_at));
            if hits.0 >= limit {
                return Ok(false);
            }
            hits.0 += 1;
            hits.1 = expires_at;
            // Forget windows long past (DynamoDB's TTL does that for the table).
            let oldest = expires_at - 86_400;
            d.limits.retain(|_, (_, until)| *until > oldest);
            Ok(true)
        })
    }

    async fn block_user(&self, openid: &str, at: Option<i64>) -> Result<bool, StoreError> {
        self.with(|d| {
            Ok(match d.users.get_mut(openid) {
                Some(user) => {
                    user.blocked_at = at;
                    true
                }
                None => false,
            })
        })
    }

    async fn block_account(
        &self,
        uid: &str,
        at: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.with(|d| {
            Ok(match d.accounts.get_mut(uid) {
                Some(account) => {
                    account.blocked_at = at;
                    account.updated_at = now;
                    true
                }
                None => false,
            })
        })
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

    fn login(hash: &str) -> Login {
        Login {
            session: Session {
                key_hash: hash.into(),
                sid: "sid".into(),
                appid: Some("wx1".into()),
                openid: "o1".into(),
                unionid: None,
                uid: Some("u1".into()),
                created_at: 1,
                last_seen: 1,
                expires_at: 100,
            },
            session_key: Secret::new("k"),
            legacy_app: true,
            account: AccountWrite::Keep,
            map_unionid: false,
            now: 1,
        }
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
            let l = login("h1");
            store.create_session(&l).await.expect("create");
            assert!(matches!(
                store.create_session(&l).await,
                Err(StoreError::Conflict(_))
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "session keys are its owner's only");
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
