//! The `userinfo` function: the authorized routes about the caller's account.
//!
//! - `POST /userinfo`: verifies and decrypts WeChat user data with the newest session_key.
//! - `GET /me`: the caller's identity, stored profile and phone, read from the authorizer context.
//! - `PUT /profile`: the nickname and avatar the user chose (`<input type="nickname">`, `chooseAvatar`).
//! - `POST /phone`: the phone number, from a `getPhoneNumber` code (or the legacy encrypted form).
//! - `POST /logout`: ends this session, or every session of the user.
//!
//! When decryption or the signature check fails, WeChat's `checksession` tells whether the session_key
//! is stale (`SESSION_KEY_EXPIRED`: the client must `wx.login` again) or the data is wrong
//! (`DECRYPT_FAILED`); that check runs at most once a minute per session.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{no_route, respond};
use crate::crypto::{self, Expect};
use crate::error::{ApiError, StoreError};
use crate::identity::Caller;
use crate::sessions::Sessions;
use crate::store::{Phone, Profile, Session, User};
use crate::token::Tokens;
use crate::web::{self, StatusCode, parse_json};
use crate::wechat::PhoneInfo;

/// At most one `checksession` call per session in this many seconds.
pub const KEY_CHECK_INTERVAL: i64 = 60;
/// Longest nickname, in characters (after trimming).
pub const MAX_NICKNAME_CHARS: usize = 64;
/// Longest avatar URL, in bytes.
pub const MAX_AVATAR_URL_BYTES: usize = 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserInfoBody {
    raw_data: Option<String>,
    signature: Option<String>,
    encrypted_data: String,
    iv: String,
}

#[derive(Debug, Default, Deserialize)]
struct LogoutBody {
    #[serde(default)]
    all: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileBody {
    nick_name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneBody {
    code: Option<String>,
    encrypted_data: Option<String>,
    iv: Option<String>,
}

/// The account function.
#[derive(Debug, Clone)]
pub struct AccountHandler {
    appid: String,
    sessions: Sessions,
    tokens: Arc<Tokens>,
}

impl AccountHandler {
    pub fn new(appid: &str, sessions: Sessions, tokens: Arc<Tokens>) -> Self {
        AccountHandler {
            appid: appid.to_string(),
            sessions,
            tokens,
        }
    }

    /// Answers one request; never fails, never panics on input.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        respond(&req, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        match web::route_key(req).as_str() {
            "POST /userinfo" => self.userinfo(req).await,
            "GET /me" => self.me(req).await,
            "PUT /profile" => self.profile(req).await,
            "POST /phone" => self.phone(req).await,
            "POST /logout" => self.logout(req).await,
            other => Err(no_route(other)),
        }
    }

    /// The user item of a live session; a session whose user item is gone is no session.
    async fn user_of(&self, openid: &str) -> Result<User, ApiError> {
        match self.sessions.store().get_user(openid).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) => {
                tracing::warn!("session without user item");
                Err(ApiError::SessionExpired)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read user");
                Err(ApiError::StoreUnavailable)
            }
        }
    }

    async fn userinfo(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session: Session = self.sessions.require(web::skey_header(req)).await?;
        let body: UserInfoBody = parse_json(req)?;
        if body.encrypted_data.trim().is_empty() || body.iv.trim().is_empty() {
            return Err(ApiError::BadRequest(
                "encryptedData and iv must not be empty".into(),
            ));
        }
        if body.raw_data.is_some() != body.signature.is_some() {
            return Err(ApiError::BadRequest(
                "rawData and signature must be sent together".into(),
            ));
        }
        let user = self.user_of(&session.openid).await?;
        let key = user.session_key.expose();
        let expect = Expect {
            appid: &self.appid,
            openid: Some(&session.openid),
        };
        let opened = match (&body.raw_data, &body.signature) {
            (Some(raw), Some(sig)) => crypto::verify_signature(raw, key, sig),
            _ => Ok(()),
        }
        .and_then(|()| crypto::open_user_data(key, &body.encrypted_data, &body.iv, expect));
        let data = match opened {
            Ok(data) => data,
            Err(e) => return Err(self.key_failure(&session, &user, e.into()).await),
        };

        let profile = profile_from(&data);
        let mut stored = user.profile.clone().unwrap_or_default();
        stored.merge(profile);
        let unionid = data
            .get("unionId")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty());
        let now = self.sessions.now();
        match self
            .sessions
            .store()
            .save_profile(&session.openid, &stored, unionid, now)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(ApiError::SessionExpired),
            Err(e) => {
                tracing::error!(error = %e, "cannot save profile");
                return Err(ApiError::StoreUnavailable);
            }
        }
        Ok(web::json(StatusCode::OK, &json!({ "user": data })))
    }

    async fn me(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let Some(caller) = Caller::from_request(req) else {
            tracing::error!("no authorizer context: is this route behind the wxauth authorizer?");
            return Err(ApiError::SessionExpired);
        };
        let user = self.user_of(&caller.openid).await?;
        Ok(web::json(
            StatusCode::OK,
            &json!({
                "openid": caller.openid,
                "unionid": caller.unionid.or(user.unionid),
                "user": user.profile,
                "phone": user.phone,
            }),
        ))
    }

    /// After a failed signature check or decryption: asks WeChat (at most once a minute per session)
    /// whether the session_key is still valid. A stale key is `SESSION_KEY_EXPIRED`; otherwise the
    /// original error stands. A failing check never changes the answer.
    async fn key_failure(&self, session: &Session, user: &User, err: ApiError) -> ApiError {
        if !matches!(err, ApiError::DecryptFailed | ApiError::InvalidSignature) {
            return err;
        }
        let now = self.sessions.now();
        match self
            .sessions
            .store()
            .claim_key_check(&session.key_hash, now, KEY_CHECK_INTERVAL)
            .await
        {
            Ok(true) => {}
            Ok(false) => return err,
            Err(e) => {
                tracing::warn!(error = %e, "cannot rate-limit checksession; skipped");
                return err;
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
                ApiError::SessionKeyExpired
            }
            Ok(true) => err,
            Err(e) => {
                tracing::warn!(code = e.code(), "checksession failed; answer unchanged");
                err
            }
        }
    }

    async fn save_profile(
        &self,
        session: &Session,
        profile: &Profile,
        unionid: Option<&str>,
    ) -> Result<(), ApiError> {
        let now = self.sessions.now();
        match self
            .sessions
            .store()
            .save_profile(&session.openid, profile, unionid, now)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(ApiError::SessionExpired),
            Err(e) => {
                tracing::error!(error = %e, "cannot save profile");
                Err(ApiError::StoreUnavailable)
            }
        }
    }

    async fn profile(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = self.sessions.require(web::skey_header(req)).await?;
        let body: ProfileBody = parse_json(req)?;
        let update = validate_profile(body)?;
        let user = self.user_of(&session.openid).await?;
        let mut profile = user.profile.unwrap_or_default();
        profile.merge(update);
        self.save_profile(&session, &profile, None).await?;
        Ok(web::json(StatusCode::OK, &json!({ "user": profile })))
    }

    async fn phone(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = self.sessions.require(web::skey_header(req)).await?;
        let body: PhoneBody = parse_json(req)?;
        let code = body
            .code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let info = match (code, body.encrypted_data.as_deref(), body.iv.as_deref()) {
            (Some(code), _, _) => {
                if code.len() > 256 || code.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(ApiError::BadRequest(
                        "code is not a getPhoneNumber code".into(),
                    ));
                }
                let wechat = self.tokens.wechat();
                self.tokens
                    .call(|token| async move { wechat.phone_number(&token, code).await })
                    .await?
            }
            (None, Some(enc), Some(iv)) if !enc.trim().is_empty() && !iv.trim().is_empty() => {
                let user = self.user_of(&session.openid).await?;
                let expect = Expect {
                    appid: &self.appid,
                    openid: None,
                };
                let opened = crypto::open_user_data(user.session_key.expose(), enc, iv, expect)
                    .and_then(|data| {
                        PhoneInfo::from_json(&Value::Object(data))
                            .ok_or(crate::error::CryptoError::DecryptFailed)
                    });
                match opened {
                    Ok(info) => info,
                    Err(e) => return Err(self.key_failure(&session, &user, e.into()).await),
                }
            }
            _ => {
                return Err(ApiError::BadRequest(
                    "send {\"code\"} from getPhoneNumber, or {\"encryptedData\",\"iv\"}".into(),
                ));
            }
        };
        let phone = Phone {
            phone_number: info.phone_number,
            pure_phone_number: info.pure_phone_number,
            country_code: info.country_code,
        };
        let now = self.sessions.now();
        match self
            .sessions
            .store()
            .save_phone(&session.openid, &phone, now)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(ApiError::SessionExpired),
            Err(e) => {
                tracing::error!(error = %e, "cannot save phone");
                return Err(ApiError::StoreUnavailable);
            }
        }
        Ok(web::json(StatusCode::OK, &json!({ "phone": phone })))
    }

    async fn logout(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = self.sessions.require(web::skey_header(req)).await?;
        let empty = web::body_bytes(req)?.iter().all(u8::is_ascii_whitespace);
        let body: LogoutBody = if empty {
            LogoutBody::default()
        } else {
            parse_json(req)?
        };
        let store = self.sessions.store();
        let unavailable = |e: StoreError| {
            tracing::error!(error = %e, "cannot end sessions");
            ApiError::StoreUnavailable
        };
        let mut revoked = usize::from(
            store
                .delete_session(&session.key_hash)
                .await
                .map_err(unavailable)?,
        );
        if body.all == Some(true) {
            revoked += store
                .delete_sessions_of(&session.openid)
                .await
                .map_err(unavailable)?;
        }
        tracing::info!(
            session_id = session.sid,
            revoked,
            all = body.all == Some(true),
            "logged out"
        );
        Ok(web::json(StatusCode::OK, &json!({ "revoked": revoked })))
    }
}

/// Checks a `PUT /profile` body: a nickname of 1–64 characters after trimming without control
/// characters, an https avatar URL of at most 1024 bytes; at least one of them.
fn validate_profile(body: ProfileBody) -> Result<Profile, ApiError> {
    let invalid = |m: &str| ApiError::InvalidProfile(m.to_string());
    if body.nick_name.is_none() && body.avatar_url.is_none() {
        return Err(invalid("send nickName and/or avatarUrl"));
    }
    let nick_name = match body.nick_name {
        None => None,
        Some(n) => {
            let n = n.trim();
            let chars = n.chars().count();
            if chars == 0 || chars > MAX_NICKNAME_CHARS {
                return Err(invalid("nickName must be 1 to 64 characters"));
            }
            if n.chars().any(char::is_control) {
                return Err(invalid("nickName must not contain control characters"));
            }
            Some(n.to_string())
        }
    };
    let avatar_url = match body.avatar_url {
        None => None,
        Some(u) => {
            if u.len() > MAX_AVATAR_URL_BYTES {
                return Err(invalid("avatarUrl must be at most 1024 bytes"));
            }
            if u.is_empty() || u.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(invalid("avatarUrl must be an https URL"));
            }
            match url::Url::parse(&u) {
                Ok(parsed)
                    if parsed.scheme() == "https"
                        && parsed.host_str().is_some_and(|h| !h.is_empty())
                        && parsed.username().is_empty()
                        && parsed.password().is_none() => {}
                _ => return Err(invalid("avatarUrl must be an https URL")),
            }
            Some(u)
        }
    };
    Ok(Profile {
        nick_name,
        avatar_url,
        ..Profile::default()
    })
}

/// The profile fields of decrypted user info (WeChat's names).
fn profile_from(data: &serde_json::Map<String, Value>) -> Profile {
    let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
    Profile {
        nick_name: text("nickName"),
        avatar_url: text("avatarUrl"),
        gender: data.get("gender").and_then(Value::as_i64),
        language: text("language"),
        city: text("city"),
        province: text("province"),
        country: text("country"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(nick: Option<&str>, url: Option<&str>) -> ProfileBody {
        ProfileBody {
            nick_name: nick.map(str::to_string),
            avatar_url: url.map(str::to_string),
        }
    }

    #[test]
    fn profile_validation() {
        let ok = validate_profile(body(
            Some("  小明  "),
            Some("https://thirdwx.qlogo.cn/a/132"),
        ))
        .expect("valid");
        assert_eq!(ok.nick_name.as_deref(), Some("小明"));
        assert!(validate_profile(body(Some(&"字".repeat(64)), None)).is_ok());
        assert!(
            validate_profile(body(
                None,
                Some(&format!("https://e.com/{}", "a".repeat(1004)))
            ))
            .is_ok()
        );
        for (nick, url) in [
            (None, None),
            (Some(""), None),
            (Some("   "), None),
            (Some(&*"字".repeat(65)), None),
            (Some("a\u{0}b"), None),
            (Some("tab\there"), None),
            (None, Some("")),
            (None, Some("http://e.com/a.png")),
            (None, Some("javascript:alert(1)")),
            (None, Some("https://")),
            (None, Some("https://user:pw@e.com/a")),
            (None, Some("https://e.com/a b")),
            (None, Some(&*format!("https://e.com/{}", "a".repeat(1011)))),
        ] {
            let err = validate_profile(body(nick, url)).expect_err("invalid");
            assert_eq!(err.code(), "INVALID_PROFILE", "{nick:?} {url:?}");
        }
    }
}
