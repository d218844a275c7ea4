//! The `userinfo` function: the authorized routes about the caller's account.
//!
//! - `POST /userinfo`: verifies and decrypts WeChat user data with the newest session_key.
//! - `GET /me`: the caller's identity and stored profile, read from the authorizer context.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{no_route, respond};
use crate::crypto::{self, Expect};
use crate::error::{ApiError, StoreError};
use crate::identity::Caller;
use crate::sessions::Sessions;
use crate::store::{Profile, Session, User};
use crate::web::{self, StatusCode, parse_json};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserInfoBody {
    raw_data: Option<String>,
    signature: Option<String>,
    encrypted_data: String,
    iv: String,
}

/// The account function.
#[derive(Debug, Clone)]
pub struct AccountHandler {
    appid: String,
    sessions: Sessions,
}

impl AccountHandler {
    pub fn new(appid: &str, sessions: Sessions) -> Self {
        AccountHandler {
            appid: appid.to_string(),
            sessions,
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
        let user = self.user_of(&session.openid).await?;
        let key = user.session_key.expose();
        match (&body.raw_data, &body.signature) {
            (Some(raw), Some(sig)) => crypto::verify_signature(raw, key, sig)?,
            (None, None) => {}
            _ => {
                return Err(ApiError::BadRequest(
                    "rawData and signature must be sent together".into(),
                ));
            }
        }
        let expect = Expect {
            appid: &self.appid,
            openid: Some(&session.openid),
        };
        let data = crypto::open_user_data(key, &body.encrypted_data, &body.iv, expect)?;

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
