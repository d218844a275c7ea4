//! A [`Store`] wrapper that counts the operations reaching the store (DynamoDB requests), and can be
//! switched to fail like an unreachable store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use wxauth::error::StoreError;
use wxauth::store::async_trait;
use wxauth::store::{CachedToken, LoginUpdate, Phone, Profile, Session, Store, TokenRecord, User};

#[derive(Default, Debug)]
pub struct Counts {
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
}

impl Counts {
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
    pub fn reset(&self) {
        self.reads.store(0, Ordering::SeqCst);
        self.writes.store(0, Ordering::SeqCst);
    }
}

/// Counts every call: a read is one GetItem/Query, a write one PutItem/UpdateItem/DeleteItem or one
/// transaction item (TransactWriteItems of a session and a user counts as two writes).
pub struct CountingStore {
    inner: Arc<dyn Store>,
    pub counts: Arc<Counts>,
    pub down: AtomicBool,
    /// The next this many `get_token` calls answer as if no token were stored yet: a read that raced
    /// with another instance storing its token.
    pub stale_token_reads: AtomicUsize,
    /// The names of the store methods called so far.
    pub methods: std::sync::Mutex<std::collections::BTreeSet<&'static str>>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CountingStore {
            inner,
            counts: Arc::default(),
            down: AtomicBool::new(false),
            stale_token_reads: AtomicUsize::new(0),
            methods: Default::default(),
        }
    }
    fn note(&self, method: &'static str) {
        self.methods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(method);
    }
    /// The store methods called so far.
    pub fn called(&self) -> Vec<&'static str> {
        self.methods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }
    fn read(&self) -> Result<(), StoreError> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        self.check()
    }
    fn write(&self, n: usize) -> Result<(), StoreError> {
        self.counts.writes.fetch_add(n, Ordering::SeqCst);
        self.check()
    }
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("test: store down".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn create_session(
        &self,
        session: &Session,
        login: &LoginUpdate,
    ) -> Result<(), StoreError> {
        self.note("create_session");
        self.write(2)?;
        self.inner.create_session(session, login).await
    }
    async fn get_session(&self, key_hash: &str) -> Result<Option<Session>, StoreError> {
        self.note("get_session");
        self.read()?;
        self.inner.get_session(key_hash).await
    }
    async fn touch_session(&self, key_hash: &str, last_seen: i64) -> Result<(), StoreError> {
        self.note("touch_session");
        self.write(1)?;
        self.inner.touch_session(key_hash, last_seen).await
    }
    async fn delete_session(&self, key_hash: &str) -> Result<bool, StoreError> {
        self.note("delete_session");
        self.write(1)?;
        self.inner.delete_session(key_hash).await
    }
    async fn delete_sessions_of(&self, openid: &str) -> Result<usize, StoreError> {
        self.note("delete_sessions_of");
        self.read()?;
        let n = self.inner.delete_sessions_of(openid).await?;
        self.write(n)?;
        Ok(n)
    }
    async fn get_user(&self, openid: &str) -> Result<Option<User>, StoreError> {
        self.note("get_user");
        self.read()?;
        self.inner.get_user(openid).await
    }
    async fn save_profile(
        &self,
        openid: &str,
        profile: &Profile,
        unionid: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.note("save_profile");
        self.write(1)?;
        self.inner.save_profile(openid, profile, unionid, now).await
    }
    async fn save_phone(&self, openid: &str, phone: &Phone, now: i64) -> Result<(), StoreError> {
        self.note("save_phone");
        self.write(1)?;
        self.inner.save_phone(openid, phone, now).await
    }
    async fn claim_key_check(
        &self,
        key_hash: &str,
        now: i64,
        interval: i64,
    ) -> Result<bool, StoreError> {
        self.note("claim_key_check");
        self.write(1)?;
        self.inner.claim_key_check(key_hash, now, interval).await
    }
    async fn get_token(&self, appid: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.note("get_token");
        self.read()?;
        let record = self.inner.get_token(appid).await?;
        let stale = self
            .stale_token_reads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        Ok(if stale {
            record.map(|r| TokenRecord { token: None, ..r })
        } else {
            record
        })
    }
    async fn lease_token(
        &self,
        appid: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.note("lease_token");
        self.write(1)?;
        self.inner.lease_token(appid, owner, now, until).await
    }
    async fn release_token_lease(&self, appid: &str, owner: &str) -> Result<(), StoreError> {
        self.note("release_token_lease");
        self.write(1)?;
        self.inner.release_token_lease(appid, owner).await
    }
    async fn put_token(
        &self,
        appid: &str,
        owner: &str,
        token: &CachedToken,
    ) -> Result<bool, StoreError> {
        self.note("put_token");
        self.write(1)?;
        self.inner.put_token(appid, owner, token).await
    }
}
