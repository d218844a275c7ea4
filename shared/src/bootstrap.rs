//! Cold start: everything a function creates once, before its first request.

use std::sync::Arc;

use futures_util::future::join_all;

use crate::apps::Apps;
use crate::avatars::{AvatarStore, AvatarUrls, Avatars, s3::S3Avatars};

use aws_config::{BehaviorVersion, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use std::time::Duration;

use crate::clock::SystemClock;
use crate::config::{Config, ProfileOptions, Protection, Role, SecretSource};
use crate::error::ConfigError;
use crate::handlers::{
    authorizer::Authorizer, avatar::AvatarHandler, login::LoginHandler, userinfo::UserinfoHandler,
};
use crate::limits::Limits;
use crate::routes::{AuthMode, Function};
use crate::sdk_http;
use crate::secret::Secret;
use crate::session_jwt::kms::KmsKeys;
use crate::session_jwt::local::LocalKey;
use crate::session_jwt::{Issuer, JwtSigner, SessionJwts};
use crate::sessions::Sessions;
use crate::store::dynamo::DynamoStore;
use crate::tls;
use crate::users::Users;
use crate::wechat::{self, WechatClient};

/// The AWS SDK configuration: short timeouts (a Lambda must answer within seconds), standard retries,
/// and an HTTP client over the process's shared TLS configuration ([`tls`]: roots compiled in, no
/// certificate file read). `AWS_ENDPOINT_URL_DYNAMODB` (standard) points DynamoDB at a local endpoint.
pub async fn aws_config() -> SdkConfig {
    aws_config_with(sdk_http()).await
}

fn sdk_http() -> Option<sdk_http::SdkHttp> {
    sdk_http::SdkHttp::new()
        .inspect_err(
            |e| tracing::warn!(error = %e, "shared TLS client unavailable; SDK default used"),
        )
        .ok()
}

async fn aws_config_with(http: Option<sdk_http::SdkHttp>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(sdk_http::SDK_CONNECT_TIMEOUT)
                .operation_attempt_timeout(Duration::from_millis(1500))
                .operation_timeout(Duration::from_secs(3))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(http) = http {
        loader = loader.http_client(http);
    }
    loader.load().await
}

/// With `WXAUTH_PREWARM=1`: opens the TLS connection to DynamoDB during init ([`tls::preconnect`]).
async fn prewarm_dynamodb(sdk: &SdkConfig, http: Option<&sdk_http::SdkHttp>) {
    if let (true, Some(http)) = (tls::prewarm_enabled(), http)
        && let Some(url) = sdk_http::dynamodb_endpoint(sdk).await
    {
        tls::preconnect(http.reqwest(), &url).await;
    }
}

/// Reads the app secret: the value itself, or the SSM SecureString parameter, read once.
pub async fn resolve_secret(source: &SecretSource, sdk: &SdkConfig) -> Result<Secret, ConfigError> {
    match source {
        SecretSource::Value(s) => Ok(s.clone()),
        SecretSource::None => Err(ConfigError::Missing("WX_SECRET or WX_SECRET_PARAMETER")),
        SecretSource::Parameter(name) => {
            let err = |reason: String| ConfigError::Secret {
                name: name.clone(),
                reason,
            };
            let out = aws_sdk_ssm::Client::new(sdk)
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| {
                    use aws_sdk_ssm::error::ProvideErrorMetadata;
                    // A service error is its code and message (ParameterNotFound, AccessDenied...);
                    // a transport error needs its whole chain to be understood.
                    err(match e.code() {
                        Some(code) => format!("{code}: {}", e.message().unwrap_or_default()),
                        None => aws_sdk_ssm::error::DisplayErrorContext(&e).to_string(),
                    })
                })?;
            out.parameter()
                .and_then(|p| p.value())
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| err("the parameter is empty".into()))
        }
    }
}

fn sessions(config: &Config, sdk: &SdkConfig) -> Sessions {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let store = Arc::new(DynamoStore::new(client, &config.table));
    let appids: Vec<&str> = config.apps.iter().map(|a| a.appid.as_str()).collect();
    Sessions::new(
        store,
        Arc::new(SystemClock),
        config.session_ttl,
        config.session_idle,
    )
    .for_apps(&appids)
}

/// The four functions' handlers, built the one way the Lambda functions build theirs (the local server
/// and the tests use this so they cannot drift from what is deployed).
#[derive(Debug, Clone)]
pub struct Functions {
    pub login: LoginHandler,
    pub userinfo: UserinfoHandler,
    pub avatar: AvatarHandler,
    pub authorizer: Authorizer,
}

impl Functions {
    /// `jwt` mode: the login function issues session JWTs and serves `POST /token` and discovery.
    pub fn with_session_jwts(mut self, jwts: SessionJwts) -> Functions {
        self.login = self.login.with_session_jwts(jwts);
        self
    }
}

/// Builds [`Functions`] over one store (in `sessions`), the WeChat clients of the apps served (the
/// first app first), an avatar store, the profile options and the rate limits. The sessions are
/// limited to those apps.
pub fn functions(
    sessions: &Sessions,
    clients: Vec<WechatClient>,
    avatars: Arc<dyn AvatarStore>,
    options: &ProfileOptions,
    protection: &Protection,
) -> Option<Functions> {
    let appids: Vec<String> = clients.iter().map(|c| c.appid().to_string()).collect();
    let sessions = sessions.clone().for_apps(&appids);
    let apps = apps(clients, &sessions)?;
    Some(Functions {
        login: login_handler(apps.clone(), &sessions, protection),
        userinfo: UserinfoHandler::new(
            sessions.clone(),
            users(&sessions, protection),
            apps,
            options,
        ),
        avatar: avatar_handler(&sessions, avatars, options, protection),
        authorizer: Authorizer::new(sessions),
    })
}

fn login_handler(apps: Arc<Apps>, sessions: &Sessions, protection: &Protection) -> LoginHandler {
    LoginHandler::new(
        apps,
        sessions.clone(),
        limits(sessions, protection),
        protection.trusted_proxy_hops,
    )
}

/// The avatar function over the sessions' store and an avatar store.
fn avatar_handler(
    sessions: &Sessions,
    avatars: Arc<dyn AvatarStore>,
    options: &ProfileOptions,
    protection: &Protection,
) -> AvatarHandler {
    AvatarHandler::new(
        sessions.clone(),
        users(sessions, protection),
        Avatars::new(avatars),
        AvatarUrls::new(options.avatar_base_url.clone()),
    )
}

fn limits(sessions: &Sessions, protection: &Protection) -> Limits {
    Limits::new(
        sessions.store().clone(),
        sessions.clock().clone(),
        protection.limits,
    )
}

/// The apps of these WeChat clients, each with its access_token provider over the sessions' store.
pub fn apps(clients: Vec<WechatClient>, sessions: &Sessions) -> Option<Arc<Apps>> {
    Apps::new(clients, sessions.store(), sessions.clock()).map(Arc::new)
}

/// The users service over the sessions' store, with the deployment's rate limits.
pub fn users(sessions: &Sessions, protection: &Protection) -> Users {
    Users::new(
        sessions.store().clone(),
        sessions.clock().clone(),
        limits(sessions, protection),
    )
}

/// One WeChat client per app, the secrets read (from SSM, concurrently) while TLS pre-connects.
async fn wechat_clients(
    config: &Config,
    sdk: &SdkConfig,
) -> Result<Vec<WechatClient>, ConfigError> {
    let http = wechat::http_client(config.wechat_timeout).map_err(|e| ConfigError::Invalid {
        name: "TLS",
        reason: e.to_string(),
    })?;
    let prewarm = async {
        if tls::prewarm_enabled() {
            tls::preconnect(&http, &config.api_base).await;
        }
    };
    let secrets = join_all(config.apps.iter().map(|a| resolve_secret(&a.secret, sdk)));
    let (secrets, ()) = tokio::join!(secrets, prewarm);
    config
        .apps
        .iter()
        .zip(secrets)
        .map(|(app, secret)| {
            Ok(WechatClient::new(
                http.clone(),
                &config.api_base,
                &app.appid,
                secret?,
            ))
        })
        .collect()
}

/// What the login and userinfo functions both start with: the WeChat clients (the secrets read
/// from SSM while the DynamoDB connection is pre-warmed) and the sessions.
async fn wechat_function() -> Result<(Arc<Apps>, Sessions, Config, Aws), ConfigError> {
    let config = Config::from_env(Role::WeChat)?;
    let http = sdk_http();
    let sdk = aws_config_with(http.clone()).await;
    let (clients, ()) = tokio::join!(
        wechat_clients(&config, &sdk),
        prewarm_dynamodb(&sdk, http.as_ref())
    );
    let sessions = sessions(&config, &sdk);
    let apps = apps(clients?, &sessions).ok_or(ConfigError::Missing("WX_APPID"))?;
    Ok((apps, sessions, config, Aws { sdk, http }))
}

/// The AWS SDK configuration of a cold start and its shared HTTP client.
struct Aws {
    sdk: SdkConfig,
    http: Option<sdk_http::SdkHttp>,
}

/// A function that answers HTTP API requests (login, userinfo, avatar): what [`serve_http`] runs.
pub trait HttpFunction: Sync {
    /// The function's name (its binary; the `Function` dimension of its metrics).
    const NAME: &'static str;

    /// Answers one request; never fails, never panics on input.
    fn answer(
        &self,
        req: lambda_http::Request,
    ) -> impl std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send;
}

impl HttpFunction for LoginHandler {
    const NAME: &'static str = Function::Login.name();

    fn answer(
        &self,
        req: lambda_http::Request,
    ) -> impl std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send {
        self.handle(req)
    }
}

impl HttpFunction for UserinfoHandler {
    const NAME: &'static str = Function::Userinfo.name();

    fn answer(
        &self,
        req: lambda_http::Request,
    ) -> impl std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send {
        self.handle(req)
    }
}

impl HttpFunction for AvatarHandler {
    const NAME: &'static str = Function::Avatar.name();

    fn answer(
        &self,
        req: lambda_http::Request,
    ) -> impl std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send {
        self.handle(req)
    }
}

/// What every function's `main` starts with: the JSON logs and the metrics (EMF on stdout).
pub fn init_observability(function: &'static str) {
    crate::logging::init();
    crate::metrics::init_lambda(function);
}

/// The end of a cold start: the handler, or its error logged and reported to the Runtime API's
/// `/runtime/init/error` (so Lambda shows the cause: `Runtime.InitError` and the message) before the
/// process exits with it.
pub async fn started<T>(built: Result<T, ConfigError>) -> Result<T, ConfigError> {
    if let Err(e) = &built {
        tracing::error!(error = %e, "cannot start");
        report_init_error(e).await;
    }
    built
}

/// Posts the error to `/runtime/init/error` of `AWS_LAMBDA_RUNTIME_API` (nothing outside Lambda). A
/// failure to report is logged; the error itself still stops the process.
async fn report_init_error(e: &ConfigError) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body = serde_json::json!({
        "errorType": "ConfigError",
        "errorMessage": e.to_string(),
    });
    let sent = async {
        let client = tls::reqwest_builder()
            .map_err(|e| e.to_string())?
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        client
            .post(format!("http://{api}/2018-06-01/runtime/init/error"))
            .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
            .json(&body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    };
    if let Err(reason) = sent.await {
        tracing::error!(
            reason,
            "cannot report the init error to the Lambda Runtime API"
        );
    }
}

/// The whole `main` of an HTTP function: logging and metrics, the handler built once by `build` (its
/// error, logged and reported, stops the cold start), then every request answered by it.
pub async fn serve_http<H: HttpFunction>(
    build: impl std::future::Future<Output = Result<H, ConfigError>>,
) -> Result<(), lambda_http::Error> {
    init_observability(H::NAME);
    let handler = started(build.await).await?;
    let handler = &handler;
    lambda_http::run(lambda_http::service_fn(
        move |req: lambda_http::Request| async move {
            Ok::<_, std::convert::Infallible>(handler.answer(req).await)
        },
    ))
    .await
}

/// Builds the login function (in `jwt` mode with its session JWT signer).
pub async fn login() -> Result<LoginHandler, ConfigError> {
    let (apps, sessions, config, Aws { sdk, http }) = wechat_function().await?;
    let handler = login_handler(apps, &sessions, &config.protection);
    if config.auth_mode == AuthMode::Skey {
        return Ok(handler);
    }
    let signer: Arc<dyn JwtSigner> = match (
        &config.session_jwt.key_file,
        &config.session_jwt.kms_key_ids,
    ) {
        (Some(file), _) => Arc::new(read_key_file(file)?),
        (None, ids) if !ids.is_empty() => {
            let http = aws_http_client(http.as_ref())?;
            let keys = KmsKeys::new(&sdk, http.clone(), ids.clone()).map_err(|e| {
                ConfigError::Invalid {
                    name: "WXAUTH_JWT_KMS_KEY_IDS",
                    reason: e.to_string(),
                }
            })?;
            // With WXAUTH_PREWARM=1 the first session JWT of an instance finds its KMS connection open.
            if tls::prewarm_enabled() {
                tls::preconnect(&http, keys.endpoint()).await;
            }
            Arc::new(keys)
        }
        (None, _) => return Err(ConfigError::Missing("WXAUTH_JWT_KMS_KEY_IDS")),
    };
    let issuer = match &config.session_jwt.issuer {
        Some(url) => Issuer::Fixed(url.clone()),
        None => Issuer::Api {
            region: sdk
                .region()
                .map(|r| r.to_string())
                .ok_or(ConfigError::Missing("AWS_REGION"))?,
        },
    };
    Ok(handler.with_session_jwts(SessionJwts::new(
        signer,
        issuer,
        config.session_jwt.lifetime,
        sessions.clock().clone(),
    )))
}

/// Reads the RSA key of `WXAUTH_JWT_KEY_FILE` (PKCS#8 PEM).
pub fn read_key_file(file: &std::path::Path) -> Result<LocalKey, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: "WXAUTH_JWT_KEY_FILE",
        reason,
    };
    let pem = std::fs::read_to_string(file)
        .map_err(|e| invalid(format!("cannot read {}: {e}", file.display())))?;
    LocalKey::from_pem(&pem).map_err(|e| invalid(format!("{}: {e}", file.display())))
}

/// Builds the userinfo function.
pub async fn userinfo() -> Result<UserinfoHandler, ConfigError> {
    let (apps, sessions, config, _) = wechat_function().await?;
    let users = users(&sessions, &config.protection);
    Ok(UserinfoHandler::new(sessions, users, apps, &config.profile))
}

/// The HTTP client of the SigV4 calls (S3, KMS): the SDK's shared one, or one over the same TLS
/// configuration when that could not be built.
fn aws_http_client(http: Option<&sdk_http::SdkHttp>) -> Result<reqwest::Client, ConfigError> {
    match http {
        Some(http) => Ok(http.reqwest().clone()),
        None => tls::reqwest_builder()
            .and_then(|b| Ok(b.build()?))
            .map_err(|e| ConfigError::Invalid {
                name: "TLS",
                reason: e.to_string(),
            }),
    }
}

/// Builds the avatar function: the sessions' table and the avatar bucket (`AVATAR_BUCKET`), no app
/// secret (it never calls WeChat).
pub async fn avatar() -> Result<AvatarHandler, ConfigError> {
    let config = Config::from_env(Role::Authorizer)?;
    let bucket = config
        .avatar_bucket
        .clone()
        .ok_or(ConfigError::Missing("AVATAR_BUCKET"))?;
    let http = sdk_http();
    let sdk = aws_config_with(http.clone()).await;
    prewarm_dynamodb(&sdk, http.as_ref()).await;
    let client = aws_http_client(http.as_ref())?;
    let bucket = S3Avatars::new(&sdk, client, &bucket)?;
    Ok(avatar_handler(
        &sessions(&config, &sdk),
        Arc::new(bucket),
        &config.profile,
        &config.protection,
    ))
}

/// Builds the authorizer.
pub async fn authorizer() -> Result<Authorizer, ConfigError> {
    let config = Config::from_env(Role::Authorizer)?;
    let http = sdk_http();
    let sdk = aws_config_with(http.clone()).await;
    prewarm_dynamodb(&sdk, http.as_ref()).await;
    Ok(Authorizer::new(sessions(&config, &sdk)))
}
