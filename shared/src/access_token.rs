//! The WeChat access_token, shared by every function instance.
//!
//! Tokens come from `cgi-bin/stable_token` in normal mode (never `force_refresh` in the request path)
//! and are cached twice: in memory for the life of the instance, and in the table for every other
//! instance, sealed there with AES-256-GCM under a key derived from the app secret (the table's
//! readers without the secret — the authorizer's role, a backup — cannot use it). A token is renewed
//! [`REFRESH_MARGIN`] seconds before it expires. The instance that renews first takes a lease with a conditional write; the others wait for its token instead of calling
//! WeChat, so concurrent cold starts make one refresh. When WeChat rejects a token (40001/42001) it is
//! refreshed once and the call retried once.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::error::{ServiceError, StoreError, WechatError};
use crate::secret::Secret;
use crate::store::{CachedToken, Store};
use crate::wechat::WechatClient;

/// Renew this many seconds before expiry.
pub const REFRESH_MARGIN: i64 = 300;
/// How long a refresh lease is held at most: longer than one refresh can take (a WeChat call is cut at
/// 5 s), so a live refresher is never overtaken; a crashed one blocks no one longer than this.
pub const LEASE_SECONDS: i64 = 8;
/// How long an instance waits for another instance's refresh before doing it itself. As long as the
/// lease, so that only a refresher that died makes a second call (a lapsed lease is also taken over).
const MAX_WAIT: Duration = Duration::from_secs(LEASE_SECONDS as u64);
const POLL: Duration = Duration::from_millis(150);

/// The access_token provider of one function instance.
pub struct AccessTokens {
    wechat: WechatClient,
    /// Seals the token in the table ([`crate::crypto::seal_at_rest`], the appid authenticated).
    at_rest: [u8; 32],
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    owner: String,
    memory: tokio::sync::Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("owner", &self.owner)
            .finish()
    }
}

fn usable(t: &CachedToken, now: i64, rejected: Option<&Secret>) -> bool {
    t.expires_at - REFRESH_MARGIN > now && Some(&t.token) != rejected
}

fn store_error(e: StoreError) -> ServiceError {
    tracing::warn!(error = %e, "access_token cache unavailable");
    ServiceError::Store(e)
}

impl AccessTokens {
    pub fn new(wechat: WechatClient, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        AccessTokens {
            at_rest: wechat.at_rest_key(),
            wechat,
            store,
            clock,
            owner: crate::crypto::random_id().unwrap_or_else(|_| "instance".into()),
            memory: tokio::sync::Mutex::new(None),
        }
    }

    pub fn wechat(&self) -> &WechatClient {
        &self.wechat
    }

    /// A valid access_token.
    pub async fn get(&self) -> Result<Secret, ServiceError> {
        self.token(None).await
    }

    /// A token other than `rejected`: from memory, from the table, or refreshed under the lease.
    async fn token(&self, rejected: Option<&Secret>) -> Result<Secret, ServiceError> {
        let mut memory = self.memory.lock().await;
        if let Some(t) = memory
            .as_ref()
            .filter(|t| usable(t, self.clock.now(), rejected))
        {
            return Ok(t.token.clone());
        }
        let appid = self.wechat.appid();
        let started = Instant::now();
        loop {
            let now = self.clock.now();
            let record = self.store.get_token(appid).await.map_err(store_error)?;
            if let Some(t) = record
                .and_then(|r| self.open(r.token))
                .filter(|t| usable(t, now, rejected))
            {
                *memory = Some(t.clone());
                return Ok(t.token);
            }
            let leased = self
                .store
                .lease_token(appid, &self.owner, now, now + LEASE_SECONDS)
                .await
                .map_err(store_error)?;
            if leased {
                // Another instance may have stored its token between our read and our lease (storing
                // a token ends that instance's lease). Holding the lease, nobody else can store one,
                // so one more read settles it.
                let record = self.store.get_token(appid).await;
                let stored = match record {
                    Ok(r) => r
                        .and_then(|r| self.open(r.token))
                        .filter(|t| usable(t, now, rejected)),
                    Err(e) => {
                        self.release(appid).await;
                        return Err(store_error(e));
                    }
                };
                if let Some(t) = stored {
                    self.release(appid).await;
                    *memory = Some(t.clone());
                    return Ok(t.token);
                }
            }
            if leased || started.elapsed() >= MAX_WAIT {
                let fresh = match self.refresh(leased).await {
                    Ok(fresh) => fresh,
                    Err(e) => {
                        if leased {
                            // Let the next caller try at once instead of waiting for the lease to lapse.
                            self.release(appid).await;
                        }
                        return Err(e);
                    }
                };
                *memory = Some(fresh.clone());
                return Ok(fresh.token);
            }
            if crate::deadline::cap(POLL) < POLL {
                // No time left to wait for the other instance's refresh, nor for one of our own.
                return Err(ServiceError::Wechat(WechatError::Unavailable(
                    "no access_token before the deadline".into(),
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The token as the table keeps it: sealed with the app's at-rest key, the appid authenticated.
    fn seal(&self, token: &CachedToken) -> Result<CachedToken, ServiceError> {
        let sealed =
            crate::crypto::seal_at_rest(&self.at_rest, self.wechat.appid(), token.token.expose())?;
        Ok(CachedToken {
            token: Secret::new(sealed),
            ..token.clone()
        })
    }

    /// A token read from the table, opened; `None` when it does not open (written in clear by an
    /// earlier release, or sealed with another secret: a refresh replaces it).
    fn open(&self, stored: Option<CachedToken>) -> Option<CachedToken> {
        let stored = stored?;
        let token =
            crate::crypto::open_at_rest(&self.at_rest, self.wechat.appid(), stored.token.expose());
        if token.is_none() {
            tracing::info!("stored access_token does not open with this app secret; refreshing");
        }
        Some(CachedToken {
            token: Secret::new(token?),
            ..stored
        })
    }

    /// Gives up our lease (if we still hold it), so the next caller need not wait for it to lapse.
    async fn release(&self, appid: &str) {
        if let Err(e) = self.store.release_token_lease(appid, &self.owner).await {
            tracing::warn!(error = %e, "cannot release the access_token lease");
        }
    }

    async fn refresh(&self, leased: bool) -> Result<CachedToken, ServiceError> {
        let now = self.clock.now();
        let fresh = self.wechat.stable_token().await?;
        let cached = CachedToken {
            token: fresh.token,
            expires_at: now + fresh.expires_in,
            fetched_at: now,
        };
        if leased {
            let sealed = self.seal(&cached)?;
            let stored = self
                .store
                .put_token(self.wechat.appid(), &self.owner, &sealed)
                .await
                .map_err(store_error)?;
            if !stored {
                tracing::warn!("access_token lease lost; token used but not shared");
            }
        }
        tracing::info!(
            expires_in = fresh.expires_in,
            leased,
            "access_token refreshed"
        );
        Ok(cached)
    }

    /// Runs a WeChat call that needs the access_token; if WeChat rejects the token (40001/42001), gets a
    /// new one and retries once.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, ServiceError>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Result<T, WechatError>>,
    {
        let token = self.get().await?;
        match f(token.clone()).await {
            Err(WechatError::AccessTokenInvalid(code)) => {
                tracing::warn!(errcode = code, "access_token rejected; refreshing once");
                let again = self.token(Some(&token)).await?;
                Ok(f(again).await?)
            }
            other => Ok(other?),
        }
    }
}
