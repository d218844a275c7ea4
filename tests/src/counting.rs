//! A [`Store`] wrapper that counts the operations reaching the store (DynamoDB requests), and can be
//! switched to fail like an unreachable store; an [`AvatarStore`] wrapper that records its calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use wxauth::avatars::{Avatar, AvatarStore};
use wxauth::error::StoreError;
use wxauth::store::async_trait;
use wxauth::store::{
    Account, AccountWrite, CachedToken, Login, Merge, Phone, Profile, Session, Store, TokenRecord,
    User,
};

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
/// transaction item (a login's TransactWriteItems of a session, a user and maybe an account and a
/// unionid counts as two to four writes).
pub struct CountingStore {
    inner: Arc<dyn Store>,
    pub counts: Arc<Counts>,
    pub down: AtomicBool,
    /// The next this many `get_token` calls answer as if no token were stored yet: a read that raced
    /// with another instance storing its token.
    pub stale_token_reads: AtomicUsize,
    /// The names of the store methods called so far.
    pub methods: Methods,
}

/// The names of the methods of a wrapper called so far.
#[derive(Debug, Default)]
pub struct Methods(std::sync::Mutex<std::collections::BTreeSet<&'static str>>);

impl Methods {
    fn note(&self, method: &'static str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(method);
    }

    /// The methods called so far, in name order.
    pub fn called(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect()
    }
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
        self.methods.note(method);
    }
    /// The store methods called so far.
    pub fn called(&self) -> Vec<&'static str> {
        self.methods.called()
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
    async fn create_session(&self, login: &Login) -> Result<(), StoreError> {
        self.note("create_session");
        let items = 2
            + usize::from(matches!(login.account, AccountWrite::Put { .. }))
            + usize::from(login.map_unionid && login.session.unionid.is_some());
        self.write(items)?;
        self.inner.create_session(login).await
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
    async fn sessions_of(&self, openid: &str) -> Result<Vec<String>, StoreError> {
        self.note("sessions_of");
        self.read()?;
        self.inner.sessions_of(openid).await
    }
    async fn delete_sessions_of(&self, openid: &str) -> Result<usize, StoreError> {
        self.note("delete_sessions_of");
        self.read()?;
        let n = self.inner.delete_sessions_of(openid).await?;
        self.write(n)?;
        Ok(n)
    }
    async fn move_session(&self, key_hash: &str, from: &str, to: &str) -> Result<bool, StoreError> {
        self.note("move_session");
        self.write(1)?;
        self.inner.move_session(key_hash, from, to).await
    }
    async fn get_user(&self, openid: &str) -> Result<Option<User>, StoreError> {
        self.note("get_user");
        self.read()?;
        self.inner.get_user(openid).await
    }
    async fn get_account(&self, uid: &str) -> Result<Option<Account>, StoreError> {
        self.note("get_account");
        self.read()?;
        self.inner.get_account(uid).await
    }
    async fn get_unionid(&self, unionid: &str) -> Result<Option<String>, StoreError> {
        self.note("get_unionid");
        self.read()?;
        self.inner.get_unionid(unionid).await
    }
    async fn create_account(
        &self,
        account: &Account,
        openid: &str,
        map_unionid: bool,
    ) -> Result<(), StoreError> {
        self.note("create_account");
        self.write(2 + usize::from(map_unionid && account.unionid.is_some()))?;
        self.inner
            .create_account(account, openid, map_unionid)
            .await
    }
    async fn merge_accounts(&self, merge: &Merge) -> Result<(), StoreError> {
        self.note("merge_accounts");
        self.write(2 + merge.moved.len() + usize::from(merge.unionid.is_some()))?;
        self.inner.merge_accounts(merge).await
    }
    async fn save_profile(&self, uid: &str, profile: &Profile, now: i64) -> Result<(), StoreError> {
        self.note("save_profile");
        self.write(1)?;
        self.inner.save_profile(uid, profile, now).await
    }
    async fn save_phone(&self, uid: &str, phone: &Phone, now: i64) -> Result<(), StoreError> {
        self.note("save_phone");
        self.write(1)?;
        self.inner.save_phone(uid, phone, now).await
    }
    async fn count_in_window(
        &self,
        key: &str,
        limit: u32,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        self.note("count_in_window");
        self.write(1)?;
        self.inner.count_in_window(key, limit, expires_at).await
    }
    async fn block_user(&self, openid: &str, at: Option<i64>) -> Result<bool, StoreError> {
        self.note("block_user");
        self.write(1)?;
        self.inner.block_user(openid, at).await
    }
    async fn block_account(
        &self,
        uid: &str,
        at: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.note("block_account");
        self.write(1)?;
        self.inner.block_account(uid, at, now).await
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

/// An [`AvatarStore`] wrapper that records which of its methods were called.
pub struct CountingAvatars {
    inner: Arc<dyn AvatarStore>,
    pub methods: Methods,
}

impl CountingAvatars {
    pub fn new(inner: Arc<dyn AvatarStore>) -> Self {
        CountingAvatars {
            inner,
            methods: Methods::default(),
        }
    }

    /// The names of the methods called so far.
    pub fn called(&self) -> Vec<&'static str> {
        self.methods.called()
    }

    fn note(&self, method: &'static str) {
        self.methods.note(method);
    }
}

#[async_trait]
impl AvatarStore for CountingAvatars {
    async fn put(&self, uid: &str, avatar: &Avatar) -> Result<(), StoreError> {
        self.note("put");
        self.inner.put(uid, avatar).await
    }

    async fn get(&self, uid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.note("get");
        self.inner.get(uid).await
    }
}
