//! Users: what wxauth keeps about the caller once a session exists — the newest session_key of the
//! openid (per app), the account's profile and phone number — and the operations on all of a user's or
//! an account's sessions.
//!
//! The service next to [`crate::sessions::Sessions`]: both speak [`ServiceError`], never HTTP.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::apps::App;
use crate::clock::Clock;
use crate::deadline;
use crate::error::{CryptoError, ServiceError, StoreError};
use crate::limits::Limits;
use crate::store::{Account, Phone, Profile, Session, Store, User};
use crate::wechat::{PhoneInfo, Suggest};

/// At most one `checksession` call per session in this many seconds.
pub const KEY_CHECK_INTERVAL: i64 = 60;
/// How long a failed decryption's answer may wait for `checksession`.
pub const KEY_CHECK_LIMIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// The users of the deployment's mini programs, over the sessions' store. What needs WeChat takes the
/// user's [`App`] as an argument: a function without app secrets (the avatar function) uses the rest.
#[derive(Clone)]
pub struct Users {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    accounts: Accounts,
    limits: Limits,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users").finish_non_exhaustive()
    }
}

impl Users {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        Users {
            accounts: Accounts::new(store.clone(), clock.clone()),
            store,
            clock,
            limits,
        }
    }

    /// The rate limits of the users' paid and heavy operations.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The user item of a live session; a session whose user item is gone is no session.
    pub async fn get(&self, openid: &str) -> Result<User, ServiceError> {
        self.store
            .get_user(openid)
            .await?
            .ok_or(ServiceError::UserGone)
    }

    /// The account of a user (created now for a user of an earlier release).
    pub async fn account(&self, user: &User, appid: &str) -> Result<Account, ServiceError> {
        match self.accounts.of_user(user, appid).await {
            // Created by a concurrent request meanwhile: read it.
            Err(ServiceError::Store(StoreError::Conflict(_))) => {
                let user = self.get(&user.openid).await?;
                self.accounts.of_user(&user, appid).await
            }
            other => other,
        }
    }

    /// Runs a write on an account that may have been linked into another meanwhile (the write then
    /// finds an alias): once more on the survivor.
    async fn on_account<F, Fut>(&self, account: &Account, write: F) -> Result<(), ServiceError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<(), StoreError>>,
    {
        match write(account.uid.clone()).await {
            Err(StoreError::Conflict(_)) => {
                let survivor = self
                    .accounts
                    .resolve(&account.uid)
                    .await?
                    .ok_or(ServiceError::UserGone)?;
                Ok(write(survivor.uid).await?)
            }
            other => Ok(other?),
        }
    }

    /// Merges `update` into the account's profile (the fields it sets replace the stored ones) and
    /// returns the profile as stored.
    pub async fn update_profile(
        &self,
        account: &Account,
        update: Profile,
    ) -> Result<Profile, ServiceError> {
        let mut profile = account.profile.clone().unwrap_or_default();
        profile.merge(update);
        let now = self.clock.now();
        self.on_account(account, |uid| {
            let profile = profile.clone();
            async move { self.store.save_profile(&uid, &profile, now).await }
        })
        .await?;
        Ok(profile)
    }

    /// Stores the phone number of an account.
    pub async fn save_phone(
        &self,
        account: &Account,
        info: PhoneInfo,
    ) -> Result<Phone, ServiceError> {
        let phone = Phone {
            phone_number: info.phone_number,
            pure_phone_number: info.pure_phone_number,
            country_code: info.country_code,
        };
        let now = self.clock.now();
        self.on_account(account, |uid| {
            let phone = phone.clone();
            async move { self.store.save_phone(&uid, &phone, now).await }
        })
        .await?;
        Ok(phone)
    }

    /// Exchanges a `getPhoneNumber` code of the user `openid` with the app's WeChat (access_token
    /// refreshed once if rejected). The openid goes with the code: WeChat then refuses a code that
    /// another user's phone issued.
    pub async fn phone_from_code(
        &self,
        app: &App,
        openid: &str,
        code: &str,
    ) -> Result<PhoneInfo, ServiceError> {
        let wechat = &app.wechat;
        app.tokens
            .call(|token| async move { wechat.phone_number(&token, code, openid).await })
            .await
    }

    /// Asks WeChat's content security check (`msg_sec_check`, the profile scene) about a nickname the
    /// user `openid` chose: `risky` is [`ServiceError::NicknameRejected`], `review` and `pass` are
    /// accepted. A check that cannot be made is an error too ([`crate::error::WechatError::Unavailable`]):
    /// the nickname is not saved unchecked.
    pub async fn check_nickname(
        &self,
        app: &App,
        openid: &str,
        nickname: &str,
    ) -> Result<(), ServiceError> {
        let wechat = &app.wechat;
        let verdict = app
            .tokens
            .call(|token| async move { wechat.msg_sec_check(&token, openid, nickname).await })
            .await?;
        match verdict {
            Suggest::Risky { label } => Err(ServiceError::NicknameRejected(label)),
            Suggest::Review { label } => {
                tracing::info!(
                    label,
                    "nickname accepted for review by WeChat's content check"
                );
                Ok(())
            }
            Suggest::Pass => Ok(()),
        }
    }

    /// Ends every session of an openid (one app's user). Returns how many were ended.
    pub async fn end_sessions(&self, openid: &str) -> Result<usize, ServiceError> {
        Ok(self.store.delete_sessions_of(openid).await?)
    }

    /// Ends every session of an account, in every app. Returns how many were ended.
    pub async fn end_account_sessions(&self, account: &Account) -> Result<usize, ServiceError> {
        let mut ended = 0;
        for openid in account.identities.values() {
            ended += self.store.delete_sessions_of(openid).await?;
        }
        Ok(ended)
    }

    /// After a failed signature check or decryption: asks WeChat (at most once a minute per session,
    /// [`KEY_CHECK_INTERVAL`]) whether the session_key is still valid. A stale key is
    /// `SessionKeyInvalid` (the client must `wx.login` again); otherwise, or when the check cannot be
    /// made within [`KEY_CHECK_LIMIT`] (getting the access_token included: a hanging `stable_token`
    /// or another instance's lease delays the answer that long at most), the original error stands.
    pub async fn explain_failure(
        &self,
        app: &App,
        session: &Session,
        user: &User,
        err: CryptoError,
    ) -> ServiceError {
        let original = ServiceError::Crypto(err);
        if matches!(err, CryptoError::Malformed(_)) {
            return original;
        }
        let now = self.clock.now();
        match self
            .store
            .claim_key_check(&session.key_hash, now, KEY_CHECK_INTERVAL)
            .await
        {
            Ok(true) => {}
            Ok(false) => return original,
            Err(e) => {
                tracing::warn!(error = %e, "cannot rate-limit checksession; skipped");
                return original;
            }
        }
        // The answer is already known unless the key is stale: ask, but briefly (the token included).
        let wechat = &app.wechat;
        let check = app.tokens.call(|token| async move {
            wechat
                .check_session(&token, &user.openid, &user.session_key)
                .await
        });
        let checked = deadline::at_most(KEY_CHECK_LIMIT, check)
            .await
            .unwrap_or_else(|_| {
                Err(ServiceError::Wechat(
                    crate::error::WechatError::Unavailable(
                        "checksession slower than its limit".into(),
                    ),
                ))
            });
        match checked {
            Ok(false) => {
                tracing::info!(
                    session_id = session.sid,
                    "session_key no longer valid at WeChat"
                );
                ServiceError::Wechat(crate::error::WechatError::SessionKeyInvalid)
            }
            Ok(true) => original,
            Err(e) => {
                tracing::warn!(error = %e, "checksession failed; answer unchanged");
                original
            }
        }
    }
}
