//! Users: what wxauth keeps about a person once a session exists — the profile, the phone number, the
//! newest session_key — and the operations on all of a user's sessions.
//!
//! The service next to [`crate::sessions::Sessions`]: both speak [`ServiceError`], never HTTP.

use std::sync::Arc;

use crate::access_token::AccessTokens;
use crate::clock::Clock;
use crate::error::{CryptoError, ServiceError, StoreError};
use crate::store::{Phone, Profile, Session, Store, User};
use crate::wechat::PhoneInfo;

/// At most one `checksession` call per session in this many seconds.
pub const KEY_CHECK_INTERVAL: i64 = 60;

/// The users of one mini program, over the sessions' store.
#[derive(Clone)]
pub struct Users {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    tokens: Arc<AccessTokens>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users").finish_non_exhaustive()
    }
}

/// A conditional write on a user item that does not exist: the session's user is gone.
fn user_write(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(_) => ServiceError::UserGone,
        e => ServiceError::Store(e),
    }
}

impl Users {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, tokens: Arc<AccessTokens>) -> Self {
        Users {
            store,
            clock,
            tokens,
        }
    }

    /// The access_token provider the WeChat calls of users go through.
    pub fn tokens(&self) -> &Arc<AccessTokens> {
        &self.tokens
    }

    /// The user item of a live session; a session whose user item is gone is no session.
    pub async fn get(&self, openid: &str) -> Result<User, ServiceError> {
        self.store
            .get_user(openid)
            .await?
            .ok_or(ServiceError::UserGone)
    }

    /// Merges `update` into the stored profile (the fields it sets replace the stored ones), sets the
    /// unionid when given, and returns the profile as stored.
    pub async fn update_profile(
        &self,
        user: &User,
        update: Profile,
        unionid: Option<&str>,
    ) -> Result<Profile, ServiceError> {
        let mut profile = user.profile.clone().unwrap_or_default();
        profile.merge(update);
        self.store
            .save_profile(&user.openid, &profile, unionid, self.clock.now())
            .await
            .map_err(user_write)?;
        Ok(profile)
    }

    /// Stores the phone number of a user.
    pub async fn save_phone(&self, openid: &str, info: PhoneInfo) -> Result<Phone, ServiceError> {
        let phone = Phone {
            phone_number: info.phone_number,
            pure_phone_number: info.pure_phone_number,
            country_code: info.country_code,
        };
        self.store
            .save_phone(openid, &phone, self.clock.now())
            .await
            .map_err(user_write)?;
        Ok(phone)
    }

    /// Exchanges a `getPhoneNumber` code with WeChat (access_token refreshed once if rejected).
    pub async fn phone_from_code(&self, code: &str) -> Result<PhoneInfo, ServiceError> {
        let wechat = self.tokens.wechat();
        self.tokens
            .call(|token| async move { wechat.phone_number(&token, code).await })
            .await
    }

    /// Ends every session of an openid. Returns how many were ended.
    pub async fn end_sessions(&self, openid: &str) -> Result<usize, ServiceError> {
        Ok(self.store.delete_sessions_of(openid).await?)
    }

    /// After a failed signature check or decryption: asks WeChat (at most once a minute per session,
    /// [`KEY_CHECK_INTERVAL`]) whether the session_key is still valid. A stale key is
    /// `SessionKeyInvalid` (the client must `wx.login` again); otherwise, or when the check cannot be
    /// made, the original error stands.
    pub async fn explain_failure(
        &self,
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
        let wechat = self.tokens.wechat();
        let checked = self
            .tokens
            .call(|token| async move {
                wechat
                    .check_session(&token, &user.openid, &user.session_key)
                    .await
            })
            .await;
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
