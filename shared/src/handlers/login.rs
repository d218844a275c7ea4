//! `POST /login`: exchanges a `wx.login` code for an skey.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::json;

use super::{action, no_route, respond, wechat_code};
use crate::error::{ApiError, ServiceError};
use crate::routes::{Action, Function};
use crate::sessions::Sessions;
use crate::web::{self, parse_json};
use crate::wechat::WechatClient;

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
        match action(req, Function::Login)? {
            Action::Login => self.login(req).await,
            _ => Err(no_route(req)),
        }
    }

    async fn login(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let body: LoginBody = parse_json(req)?;
        let code = wechat_code(&body.code, "wx.login")?;
        let exchanged = self
            .wechat
            .code2session(code)
            .await
            .map_err(ServiceError::from)?;
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
