//! The login function: `POST /login` exchanges a `wx.login` code for an skey; in `jwt` mode it also
//! answers a session JWT ([`crate::session_jwt`]), and serves `POST /token` (a fresh session JWT for
//! an skey), the OpenID discovery document and the JWKS.

use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::json;

use std::sync::Arc;
use std::time::Duration;

use super::{action, no_route, respond, wechat_code};
use crate::accounts::Identity;
use crate::apps::{Apps, NoApp};
use crate::audit::Audit;
use crate::config::is_appid;
use crate::deadline;
use crate::error::{ApiError, ServiceError};
use crate::limits::{Limits, Scope};
use crate::routes::{Action, Function};
use crate::session_jwt::{self, IssuedJwt, SessionJwts};
use crate::sessions::{NewSession, Sessions};
use crate::web::{self, parse_json};

#[derive(Debug, Deserialize)]
struct LoginBody {
    code: String,
    /// The mini program (`wx.getAccountInfoSync().miniProgram.appId`); optional with one app.
    appid: Option<String>,
}

/// The login function.
#[derive(Debug, Clone)]
pub struct LoginHandler {
    apps: Arc<Apps>,
    sessions: Sessions,
    limits: Limits,
    trusted_proxy_hops: usize,
    budget: Duration,
    /// `jwt` mode: the session JWTs; `None` in `skey` mode (no `/token`, no discovery).
    jwts: Option<SessionJwts>,
}

impl LoginHandler {
    pub fn new(
        apps: Arc<Apps>,
        sessions: Sessions,
        limits: Limits,
        trusted_proxy_hops: usize,
    ) -> Self {
        LoginHandler {
            apps,
            sessions,
            limits,
            trusted_proxy_hops,
            budget: deadline::LOGIN_BUDGET,
            jwts: None,
        }
    }

    /// `jwt` mode: logins answer a session JWT too, and `POST /token` and the discovery routes are
    /// served.
    pub fn with_session_jwts(mut self, jwts: SessionJwts) -> Self {
        self.jwts = Some(jwts);
        self
    }

    /// Another budget per request than [`deadline::LOGIN_BUDGET`] (tests).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Answers one request; never fails, never panics on input.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        respond(&req, Function::Login, self.budget, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        match action(req, Function::Login)? {
            Action::Login => self.login(req).await,
            Action::RenewJwt => self.renew_jwt(req).await,
            Action::OpenidConfiguration => {
                let jwts = self.session_jwts(req)?;
                let issuer = jwts.issuer(req)?;
                Ok(discovery_answer(&jwts.discovery(&issuer)))
            }
            Action::Jwks => {
                let jwks = self.session_jwts(req)?.jwks().await?;
                Ok(discovery_answer(&jwks))
            }
            _ => Err(no_route(req)),
        }
    }

    /// The session JWTs; in `skey` mode their routes do not exist (404, whatever the method).
    fn session_jwts(&self, req: &Request) -> Result<&SessionJwts, ApiError> {
        self.jwts.as_ref().ok_or_else(|| {
            ApiError::NotFound(format!(
                "no route for {} (JWT mode only)",
                req.raw_http_path()
            ))
        })
    }

    /// `POST /token`: a fresh session JWT for the skey of `X-WX-Skey` (one read), counted per session.
    async fn renew_jwt(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let jwts = self.session_jwts(req)?;
        let session = self.sessions.require(web::skey_header(req)).await?;
        self.limits.hit(Scope::JwtPerSession, &session.sid).await?;
        let issued = jwts.issue(&session, &jwts.issuer(req)?).await?;
        Ok(web::json(
            web::StatusCode::OK,
            &json!({"token": issued.token, "token_expires_in": issued.expires_in}),
        ))
    }

    /// The session JWT of a new session: `None` in `skey` mode. When it cannot be signed the login
    /// still succeeds (the code is spent, the skey is good) with `Some(None)`: `token` is `null` and
    /// the client asks `POST /token` for one.
    async fn login_jwt(&self, req: &Request, new: &NewSession) -> Option<Option<IssuedJwt>> {
        let jwts = self.jwts.as_ref()?;
        let issued = async { jwts.issue(&new.session, &jwts.issuer(req)?).await }.await;
        Some(
            issued
                .inspect_err(|_| tracing::warn!("login answered without its session JWT"))
                .map_err(ApiError::from)
                .ok(),
        )
    }

    /// `POST /login`, audited: one `login` event with the outcome, whatever it is.
    async fn login(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let request_id = web::request_id(req);
        let client_ip = web::client_ip(req, self.trusted_proxy_hops);
        let mut seen = Seen::default();
        let result = self.exchange(req, client_ip.as_deref(), &mut seen).await;
        let audit = Audit {
            appid: seen.appid.as_deref(),
            openid: seen.openid.as_deref(),
            ..Audit::new("login", "ok")
        }
        .request(&request_id, client_ip.as_deref());
        match result {
            Ok(new) => {
                audit.session(&new.session).emit();
                let mut answer = json!({
                    "skey": new.skey.expose(),
                    "expires_in": new.expires_in,
                    "uid": new.session.uid,
                });
                if let Some(jwt) = self.login_jwt(req, &new).await {
                    answer["token"] = json!(jwt.as_ref().map(|j| &j.token));
                    if let Some(jwt) = jwt {
                        answer["token_expires_in"] = json!(jwt.expires_in);
                    }
                }
                Ok(web::json(web::StatusCode::OK, &answer))
            }
            Err(e) => {
                Audit {
                    outcome: e.code(),
                    ..audit
                }
                .emit();
                Err(e)
            }
        }
    }

    async fn exchange(
        &self,
        req: &Request,
        client_ip: Option<&str>,
        seen: &mut Seen,
    ) -> Result<NewSession, ApiError> {
        let body: LoginBody = parse_json(req)?;
        let code = wechat_code(&body.code, "wx.login")?;
        let appid = body.appid.as_deref().map(str::trim);
        if appid.is_some_and(|a| !is_appid(a)) {
            return Err(ApiError::BadRequest(
                "appid is not a mini program appid (wx and 16 letters or digits)".into(),
            ));
        }
        let app = self.apps.choose(appid).map_err(|e| match e {
            NoApp::Unknown => ApiError::UnknownApp,
            NoApp::Unnamed => ApiError::BadRequest(
                "appid is required: this deployment serves several mini programs".into(),
            ),
        })?;
        seen.appid = Some(app.appid().to_string());
        // Every exchange costs the app's WeChat quota: count the client before WeChat is asked.
        if let Some(ip) = client_ip {
            self.limits.hit(Scope::LoginPerIp, ip).await?;
        }
        let exchanged = app
            .wechat
            .code2session(code)
            .await
            .map_err(ServiceError::from)?;
        seen.openid = Some(exchanged.openid.clone());
        self.limits
            .hit(Scope::LoginPerUser, &exchanged.openid)
            .await?;
        let id = Identity {
            appid: app.appid(),
            openid: &exchanged.openid,
            unionid: exchanged.unionid.as_deref(),
            first_app: app.appid() == self.apps.first().appid(),
        };
        let new = self.sessions.create(&id, &exchanged.session_key).await?;
        tracing::info!(
            session_id = new.session.sid,
            appid = app.appid(),
            "session created"
        );
        Ok(new)
    }
}

/// A discovery answer (the OpenID configuration, the JWKS): public, cached for a few minutes.
fn discovery_answer(value: &serde_json::Value) -> Response<Body> {
    let mut resp = web::json(web::StatusCode::OK, value);
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static(session_jwt::DISCOVERY_CACHE),
    );
    resp
}

/// What a login attempt learnt before it ended (for its audit event).
#[derive(Debug, Default)]
struct Seen {
    appid: Option<String>,
    openid: Option<String>,
}
