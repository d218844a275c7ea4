//! Configuration, read from the environment and validated once at cold start.

use std::time::Duration;

use crate::error::ConfigError;
use crate::secret::Secret;

/// Default WeChat API base URL.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";
/// Default absolute session lifetime: 7 days.
pub const DEFAULT_SESSION_TTL: i64 = 604_800;
/// Default idle timeout: 2 days.
pub const DEFAULT_SESSION_IDLE: i64 = 172_800;
/// Default timeout of one WeChat call, in milliseconds.
pub const DEFAULT_WX_TIMEOUT_MS: u64 = 5_000;

/// Which function is starting: each reads only what it needs (the authorizer never sees the app secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Needs the table only.
    Authorizer,
    /// Needs the table, the appid and the app secret.
    WeChat,
}

/// Where the app secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `WX_SECRET`, the value itself (local development).
    Value(Secret),
    /// `WX_SECRET_PARAMETER`, the name of an SSM SecureString parameter, read once at init.
    Parameter(String),
    /// The authorizer has no secret.
    None,
}

/// The validated configuration of a function.
#[derive(Debug, Clone)]
pub struct Config {
    pub appid: String,
    pub secret: SecretSource,
    pub api_base: String,
    pub table: String,
    pub session_ttl: i64,
    pub session_idle: i64,
    pub wechat_timeout: Duration,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env(role: Role) -> Result<Config, ConfigError> {
        Config::from_lookup(role, |name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(
        role: Role,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let table = get("SESSION_TABLE").ok_or(ConfigError::Missing("SESSION_TABLE"))?;
        let session_ttl = seconds(&get, "SESSION_TTL_SECONDS", DEFAULT_SESSION_TTL)?;
        let session_idle = seconds(&get, "SESSION_IDLE_SECONDS", DEFAULT_SESSION_IDLE)?;
        let timeout_ms = match get("WX_TIMEOUT_MS") {
            None => DEFAULT_WX_TIMEOUT_MS,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|ms| (1..=60_000).contains(ms))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "WX_TIMEOUT_MS",
                    reason: format!("{v:?} is not a number of milliseconds between 1 and 60000"),
                })?,
        };
        let api_base = get("WX_API_BASE").unwrap_or_else(|| DEFAULT_API_BASE.to_string());
        let api_base = validate_base(&api_base)?;
        let (appid, secret) = match role {
            Role::Authorizer => (get("WX_APPID").unwrap_or_default(), SecretSource::None),
            Role::WeChat => {
                let appid = get("WX_APPID").ok_or(ConfigError::Missing("WX_APPID"))?;
                let secret = match (get("WX_SECRET"), get("WX_SECRET_PARAMETER")) {
                    (Some(value), _) => SecretSource::Value(Secret::new(value)),
                    (None, Some(name)) => SecretSource::Parameter(name),
                    (None, None) => {
                        return Err(ConfigError::Missing("WX_SECRET or WX_SECRET_PARAMETER"));
                    }
                };
                (appid, secret)
            }
        };
        Ok(Config {
            appid,
            secret,
            api_base,
            table,
            session_ttl,
            session_idle,
            wechat_timeout: Duration::from_millis(timeout_ms),
        })
    }
}

fn seconds(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: i64,
) -> Result<i64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|s| (60..=31_536_000).contains(s))
            .ok_or_else(|| ConfigError::Invalid {
                name,
                reason: format!("{v:?} is not a number of seconds between 60 and 31536000"),
            }),
    }
}

fn validate_base(base: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name: "WX_API_BASE",
        reason: reason.to_string(),
    };
    let url = url::Url::parse(base).map_err(|e| invalid(&format!("{base:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(&format!("{base:?} is not an http(s) URL")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(&format!(
            "{base:?} must not carry a query or fragment"
        )));
    }
    Ok(base.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(role: Role, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(role, |k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(
            Role::WeChat,
            &[
                ("SESSION_TABLE", "t"),
                ("WX_APPID", "wx1"),
                ("WX_SECRET", "s"),
            ],
        )
        .expect("valid");
        assert_eq!(c.api_base, DEFAULT_API_BASE);
        assert_eq!(c.session_ttl, 604_800);
        assert_eq!(c.session_idle, 172_800);
        assert_eq!(c.secret, SecretSource::Value(Secret::new("s")));
        assert!(!format!("{c:?}").contains("\"s\""));
    }

    #[test]
    fn missing_values_are_named() {
        let e = cfg(Role::WeChat, &[("WX_APPID", "wx1")]).expect_err("no table");
        assert_eq!(e.to_string(), "missing environment variable SESSION_TABLE");
        let e =
            cfg(Role::WeChat, &[("SESSION_TABLE", "t"), ("WX_SECRET", "s")]).expect_err("no appid");
        assert!(e.to_string().contains("WX_APPID"));
        let e =
            cfg(Role::WeChat, &[("SESSION_TABLE", "t"), ("WX_APPID", "a")]).expect_err("no secret");
        assert!(e.to_string().contains("WX_SECRET or WX_SECRET_PARAMETER"));
        let e = cfg(Role::WeChat, &[("SESSION_TABLE", " "), ("WX_APPID", "a")]).expect_err("blank");
        assert!(e.to_string().contains("SESSION_TABLE"));
    }

    #[test]
    fn authorizer_needs_no_secret() {
        let c = cfg(Role::Authorizer, &[("SESSION_TABLE", "t")]).expect("valid");
        assert_eq!(c.secret, SecretSource::None);
    }

    #[test]
    fn parameter_source_and_invalid_numbers() {
        let c = cfg(
            Role::WeChat,
            &[
                ("SESSION_TABLE", "t"),
                ("WX_APPID", "a"),
                ("WX_SECRET_PARAMETER", "/wx/s"),
            ],
        )
        .expect("valid");
        assert_eq!(c.secret, SecretSource::Parameter("/wx/s".into()));
        for (k, v) in [
            ("SESSION_TTL_SECONDS", "abc"),
            ("SESSION_IDLE_SECONDS", "-5"),
            ("SESSION_TTL_SECONDS", "10"),
            ("WX_TIMEOUT_MS", "0"),
        ] {
            let e = cfg(Role::Authorizer, &[("SESSION_TABLE", "t"), (k, v)]).expect_err(k);
            assert!(e.to_string().contains(k), "{e}");
        }
        for base in ["ftp://x", "not a url", "http://x/?a=1"] {
            assert!(
                cfg(
                    Role::Authorizer,
                    &[("SESSION_TABLE", "t"), ("WX_API_BASE", base)]
                )
                .is_err(),
                "{base}"
            );
        }
        let c = cfg(
            Role::Authorizer,
            &[
                ("SESSION_TABLE", "t"),
                ("WX_API_BASE", "http://127.0.0.1:9/"),
            ],
        )
        .expect("ok");
        assert_eq!(c.api_base, "http://127.0.0.1:9");
    }
}
