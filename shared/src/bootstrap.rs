//! Cold start: everything a function creates once, before its first request.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use std::time::Duration;

use crate::clock::SystemClock;
use crate::config::{Config, Role, Secret, SecretSource};
use crate::error::ConfigError;
use crate::handlers::{account::AccountHandler, authorizer::Authorizer, login::LoginHandler};
use crate::sessions::Sessions;
use crate::store::dynamo::DynamoStore;
use crate::token::Tokens;
use crate::wechat::{self, WechatClient};

/// The AWS SDK configuration: short timeouts (a Lambda must answer within seconds), standard retries.
/// `AWS_ENDPOINT_URL_DYNAMODB` (standard) points DynamoDB at a local endpoint.
pub async fn aws_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_millis(1500))
                .operation_timeout(Duration::from_secs(3))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await
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
                .map_err(|e| err(aws_sdk_ssm::error::DisplayErrorContext(&e).to_string()))?;
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

/// The access_token provider over the sessions' store.
pub fn tokens(wechat: WechatClient, sessions: &Sessions) -> Arc<Tokens> {
    Arc::new(Tokens::new(
        wechat,
        sessions.store().clone(),
        Arc::new(SystemClock),
    ))
}

async fn wechat_client(config: &Config, sdk: &SdkConfig) -> Result<WechatClient, ConfigError> {
    let secret = resolve_secret(&config.secret, sdk).await?;
    let http = wechat::http_client(config.wechat_timeout).map_err(|e| ConfigError::Invalid {
        name: "TLS",
        reason: e.to_string(),
    })?;
    Ok(WechatClient::new(
        http,
        &config.api_base,
        &config.appid,
        secret,
    ))
}

/// Builds the login function.
pub async fn login() -> Result<LoginHandler, ConfigError> {
    let config = Config::from_env(Role::WeChat)?;
    let sdk = aws_config().await;
    let wechat = wechat_client(&config, &sdk).await?;
    Ok(LoginHandler::new(wechat, sessions(&config, &sdk)))
}

/// Builds the account (userinfo) function.
pub async fn account() -> Result<AccountHandler, ConfigError> {
    let config = Config::from_env(Role::WeChat)?;
    let sdk = aws_config().await;
    let wechat = wechat_client(&config, &sdk).await?;
    let sessions = sessions(&config, &sdk);
    let tokens = tokens(wechat, &sessions);
    Ok(AccountHandler::new(&config.appid, sessions, tokens))
}

/// Builds the authorizer.
pub async fn authorizer() -> Result<Authorizer, ConfigError> {
    let config = Config::from_env(Role::Authorizer)?;
    let sdk = aws_config().await;
    Ok(Authorizer::new(sessions(&config, &sdk)))
}
