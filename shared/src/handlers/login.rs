//! `POST /login`: exchanges a `wx.login` code for an skey.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use super::{no_route, respond};
use crate::error::ApiError;
use crate::sessions::Sessions;
use crate::web::{self, parse_json};
use crate::wechat::WechatClient;

/// Longest accepted code (WeChat's are 32 characters).
const MAX_CODE_LEN: usize = 256;

#[derive(Debug, Deserialize)]
struct LoginBody {
    code: String,
}

/// The login function.
#[derive(Debug, Clone)]
pub struct LoginHandler {
    wechat: WechatClient,
    sessions: Sessions,
}

impl LoginHandler {
    pub fn new(wechat: WechatClient, sessions: Sessions) -> Self {
        LoginHandler { wechat, sessions }
    }

    /// Answers one request; never fails, never panics on input.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        respond(&req, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        match web::route_key(req).as_str() {
            "POST /login" => self.login(req).await,
            other => Err(no_route(other)),
        }
    }

    async fn login(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let body: LoginBody = parse_json(req)?;
        let code = body.code.trim();
        if code.is_empty() {
            return Err(ApiError::BadRequest("code must not be empty".into()));
        }
        if code.len() > MAX_CODE_LEN || code.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ApiError::BadRequest("code is not a wx.login code".into()));
        }
        let exchanged = self.wechat.code2session(code).await.map_err(|e| {
            if matches!(e, crate::error::WechatError::Misconfigured(_)) {
                tracing::error!(error = %e, "MISCONFIGURED: WeChat refuses this appid/secret pair");
            } else {
                tracing::info!(error = %e, "code exchange failed");
            }
            ApiError::from(e)
        })?;
        let new = self
            .sessions
            .create(
                &exchanged.openid,
                exchanged.unionid.as_deref(),
                &exchanged.session_key,
            )
            .await?;
        tracing::info!(session_id = new.session.sid, "session created");
        Ok(web::json(
            web::StatusCode::OK,
            &json!({"skey": new.skey.expose(), "expires_in": new.expires_in}),
        ))
    }
}
