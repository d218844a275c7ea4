//! A complete wxauth behind real HTTP and a real store: the WeChat simulator on a loopback port, the
//! memory stores or a fresh moto table and bucket, and the four handlers wired as in the Lambda
//! functions.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use wxauth::access_token::AccessTokens;
use wxauth::avatars::{AvatarStore, memory::MemoryAvatars};
use wxauth::clock::ManualClock;
use wxauth::config::ProfileOptions;
use wxauth::handlers::{
    authorizer::Authorizer, avatar::AvatarHandler, login::LoginHandler, userinfo::UserinfoHandler,
};
use wxauth::secret::Secret;
use wxauth::sessions::Sessions;
use wxauth::store::{Store, dynamo::DynamoStore, memory::MemoryStore};
use wxauth::wechat::{WechatClient, http_client};
use wxauth_local::gateway::Gateway;
use wxauth_local::simulator::Simulator;

use crate::events::{self, Req};

pub const APPID: &str = "wx4f4bc4dec97d474b";
pub const SECRET: &str = "wxauth-test-app-secret-7d3f9a";
pub const TTL: i64 = 7 * 86400;
pub const IDLE: i64 = 2 * 86400;
pub const START: i64 = 1_795_000_000;

/// The WeChat client of the test app ([`APPID`], [`SECRET`]) against a simulator at `url`.
pub fn wechat_client(url: &str, timeout: Duration) -> WechatClient {
    WechatClient::new(
        http_client(timeout).expect("http client"),
        url,
        APPID,
        Secret::new(SECRET),
    )
}

/// The functions of these WeChat clients over `sessions`, with avatars in memory and the default
/// profile options, built as the Lambda functions build theirs.
pub fn functions(sessions: &Sessions, clients: Vec<WechatClient>) -> wxauth::bootstrap::Functions {
    wxauth::bootstrap::functions(
        sessions,
        clients,
        Arc::new(MemoryAvatars::new()),
        &ProfileOptions::default(),
        &Default::default(),
    )
    .expect("at least one app")
}

/// The login function of the test app over `sessions`, built as the Lambda function builds it.
pub fn login_handler(wechat: WechatClient, sessions: &Sessions) -> LoginHandler {
    functions(sessions, vec![wechat]).login
}

/// An openid of the test app logging in (for `Sessions::create`).
pub fn identity<'a>(openid: &'a str, unionid: Option<&'a str>) -> wxauth::accounts::Identity<'a> {
    wxauth::accounts::Identity {
        appid: APPID,
        openid,
        unionid,
        first_app: true,
    }
}

/// Which store the handlers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Dynamo,
}

pub const BACKENDS: [Backend; 2] = [Backend::Memory, Backend::Dynamo];

/// One wxauth under test.
pub struct Env {
    pub backend: Backend,
    pub sim: Arc<Simulator>,
    pub wx_url: String,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    pub sessions: Sessions,
    pub login: LoginHandler,
    pub userinfo: UserinfoHandler,
    pub avatar: AvatarHandler,
    pub authorizer: Authorizer,
    /// The avatars: in memory, or a fresh moto bucket for the DynamoDB backend.
    pub avatars: Arc<dyn AvatarStore>,
    pub tokens: Arc<AccessTokens>,
    /// The handlers behind the local server's imitation of API Gateway.
    pub gateway: Gateway,
    /// The moto table, for the DynamoDB backend.
    pub table: Option<(aws_sdk_dynamodb::Client, String)>,
    /// The moto bucket of the avatars, for the DynamoDB backend.
    pub bucket: Option<String>,
}

impl Env {
    pub async fn new(backend: Backend) -> Env {
        Env::with_timeout(backend, Duration::from_secs(5)).await
    }

    /// An environment whose WeChat calls time out after `timeout`.
    pub async fn with_timeout(backend: Backend, timeout: Duration) -> Env {
        Env::build(
            backend,
            timeout,
            &[],
            &ProfileOptions::default(),
            Default::default(),
        )
        .await
    }

    /// An environment with these rate limits and trusted proxies.
    pub async fn protected(backend: Backend, protection: wxauth::config::Protection) -> Env {
        Env::build(
            backend,
            Duration::from_secs(5),
            &[],
            &ProfileOptions::default(),
            protection,
        )
        .await
    }

    /// An environment serving more mini programs after [`APPID`]: `(appid, bound to the Open
    /// Platform account)`, all with the secret [`SECRET`].
    pub async fn with_apps(backend: Backend, more: &[(&str, bool)]) -> Env {
        Env::build(
            backend,
            Duration::from_secs(5),
            more,
            &ProfileOptions::default(),
            Default::default(),
        )
        .await
    }

    /// An environment whose profile routes have these options (the nickname check...).
    pub async fn with_options(backend: Backend, options: &ProfileOptions) -> Env {
        Env::build(
            backend,
            Duration::from_secs(5),
            &[],
            options,
            Default::default(),
        )
        .await
    }

    async fn build(
        backend: Backend,
        timeout: Duration,
        more: &[(&str, bool)],
        options: &ProfileOptions,
        protection: wxauth::config::Protection,
    ) -> Env {
        crate::logs::install();
        let sim = Simulator::new(APPID, SECRET);
        for (appid, bound) in more {
            sim.add_app(appid, SECRET, *bound);
        }
        let wx_url = sim.spawn().await.expect("simulator listens");
        let (store, table, avatars, bucket): (Arc<dyn Store>, _, Arc<dyn AvatarStore>, _) =
            match backend {
                Backend::Memory => (
                    Arc::new(MemoryStore::new()),
                    None,
                    Arc::new(MemoryAvatars::new()),
                    None,
                ),
                Backend::Dynamo => {
                    let client = crate::dynamo::client();
                    let table = crate::dynamo::fresh_table(&client).await;
                    let bucket = crate::s3::fresh_bucket().await;
                    (
                        Arc::new(DynamoStore::new(client.clone(), &table)),
                        Some((client, table)),
                        crate::s3::avatars(&bucket),
                        Some(bucket),
                    )
                }
            };
        let clock = Arc::new(ManualClock::new(START));
        let sessions = Sessions::new(store.clone(), clock.clone(), TTL, IDLE);
        let wechat = wechat_client(&wx_url, timeout);
        let tokens = Arc::new(AccessTokens::new(
            wechat.clone(),
            store.clone(),
            clock.clone(),
        ));
        let mut clients = vec![wechat];
        for (appid, _) in more {
            clients.push(WechatClient::new(
                http_client(timeout).expect("http client"),
                &wx_url,
                appid,
                Secret::new(SECRET),
            ));
        }
        let functions =
            wxauth::bootstrap::functions(&sessions, clients, avatars.clone(), options, &protection)
                .expect("apps");
        Env {
            backend,
            login: functions.login.clone(),
            userinfo: functions.userinfo.clone(),
            avatar: functions.avatar.clone(),
            authorizer: functions.authorizer.clone(),
            avatars,
            bucket,
            gateway: Gateway::new(functions, None),
            tokens,
            sim,
            wx_url,
            clock,
            store,
            sessions,
            table,
        }
    }

    /// `POST /login` with a code.
    pub async fn call_login(&self, code: &str) -> (u16, Value) {
        let req = Req::new("POST", "/login").json(&serde_json::json!({ "code": code }));
        events::parts(self.login.handle(req.into_request()).await)
    }

    /// `POST /login` of a simulated user in an app: the answer.
    pub async fn login_in(&self, appid: &str, user: &str) -> (u16, Value) {
        let code = self.sim.mint_code_in(appid, user);
        let req =
            Req::new("POST", "/login").json(&serde_json::json!({"code": code, "appid": appid}));
        events::parts(self.login.handle(req.into_request()).await)
    }

    /// Logs a simulated user in; returns the skey.
    pub async fn login_as(&self, user: &str) -> String {
        let (status, body) = self.call_login(&self.sim.mint_code(user)).await;
        assert_eq!(status, 200, "login failed: {body}");
        body["skey"].as_str().expect("skey").to_string()
    }

    /// Sends a request through the local server's imitation of API Gateway (without HTTP): the
    /// authorizer first for protected routes (401 without the header, 403 when denied), then the
    /// function with the authorizer's context.
    pub async fn call(&self, req: Req) -> (u16, Value) {
        dispatch(&self.gateway, req).await
    }

    /// Like [`Env::call`], for answers that are not JSON: status, headers and the body's bytes.
    pub async fn call_bytes(&self, req: Req) -> (u16, http::HeaderMap, Vec<u8>) {
        let answer = self.gateway.dispatch(req.incoming()).await;
        let (parts, body) = answer.response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("answer body");
        (parts.status.as_u16(), parts.headers, bytes.to_vec())
    }

    /// The simulator's current session_key of a user name.
    pub fn session_key_of(&self, user: &str) -> String {
        self.sim
            .user(&self.sim.openid_for(user))
            .and_then(|u| u.session_key)
            .expect("user logged in")
    }
}

/// Sends a request through a local gateway (without HTTP): the status and the JSON body (`Null` when
/// the body is not JSON).
pub async fn dispatch(gateway: &Gateway, req: Req) -> (u16, Value) {
    let answer = gateway.dispatch(req.incoming()).await;
    let status = answer.response.status().as_u16();
    let bytes = axum::body::to_bytes(answer.response.into_body(), usize::MAX)
        .await
        .expect("answer body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
