//! Cold start: everything a function creates once, before its first request.

use std::sync::Arc;

use crate::access_token::AccessTokens;

use aws_config::{BehaviorVersion, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use std::time::Duration;

use crate::clock::SystemClock;
use crate::config::{Config, Role, SecretSource};
use crate::error::ConfigError;
use crate::handlers::{authorizer::Authorizer, login::LoginHandler, userinfo::UserinfoHandler};
use crate::sdk_http;
use crate::secret::Secret;
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
    Sessions::new(
        store,
        Arc::new(SystemClock),
        config.session_ttl,
        config.session_idle,
    )
}

/// The three functions' handlers, built the one way the Lambda functions build theirs (the local server
/// and the tests use this so they cannot drift from what is deployed).
#[derive(Debug, Clone)]
pub struct Functions {
    pub login: LoginHandler,
    pub userinfo: UserinfoHandler,
    pub authorizer: Authorizer,
}

/// Builds [`Functions`] over one store (in `sessions`) and one WeChat client.
pub fn functions(appid: &str, sessions: &Sessions, wechat: WechatClient) -> Functions {
    Functions {
        login: LoginHandler::new(wechat.clone(), sessions.clone()),
        userinfo: UserinfoHandler::new(appid, sessions.clone(), users(wechat, sessions)),
        authorizer: Authorizer::new(sessions.clone()),
    }
}

/// The users service over the sessions' store, with its own access_token provider.
pub fn users(wechat: WechatClient, sessions: &Sessions) -> Users {
    let tokens = AccessTokens::new(wechat, sessions.store().clone(), sessions.clock().clone());
    Users::new(
        sessions.store().clone(),
        sessions.clock().clone(),
        Arc::new(tokens),
    )
}

async fn wechat_client(config: &Config, sdk: &SdkConfig) -> Result<WechatClient, ConfigError> {
    let http = wechat::http_client(config.wechat_timeout).map_err(|e| ConfigError::Invalid {
        name: "TLS",
        reason: e.to_string(),
    })?;
    let prewarm = async {
        if tls::prewarm_enabled() {
            tls::preconnect(&http, &config.api_base).await;
        }
    };
    let (secret, ()) = tokio::join!(resolve_secret(&config.secret, sdk), prewarm);
    Ok(WechatClient::new(
        http,
        &config.api_base,
        &config.appid,
        secret?,
    ))
}

/// What the login and userinfo functions both start with: their configuration, the WeChat client
/// (the secret read from SSM while the DynamoDB connection is pre-warmed) and the sessions.
async fn wechat_function() -> Result<(Config, WechatClient, Sessions), ConfigError> {
    let config = Config::from_env(Role::WeChat)?;
    let http = sdk_http();
    let sdk = aws_config_with(http.clone()).await;
    let (wechat, ()) = tokio::join!(
        wechat_client(&config, &sdk),
        prewarm_dynamodb(&sdk, http.as_ref())
    );
    let sessions = sessions(&config, &sdk);
    Ok((config, wechat?, sessions))
}

/// Builds the login function.
pub async fn login() -> Result<LoginHandler, ConfigError> {
    let (_, wechat, sessions) = wechat_function().await?;
    Ok(LoginHandler::new(wechat, sessions))
}

/// Builds the userinfo function.
pub async fn userinfo() -> Result<UserinfoHandler, ConfigError> {
    let (config, wechat, sessions) = wechat_function().await?;
    let users = users(wechat, &sessions);
    Ok(UserinfoHandler::new(&config.appid, sessions, users))
}

/// Builds the authorizer.
pub async fn authorizer() -> Result<Authorizer, ConfigError> {
    let config = Config::from_env(Role::Authorizer)?;
    let http = sdk_http();
    let sdk = aws_config_with(http.clone()).await;
    prewarm_dynamodb(&sdk, http.as_ref()).await;
    Ok(Authorizer::new(sessions(&config, &sdk)))
}
