//! Configuration, read from the environment and validated once at cold start.

use std::time::Duration;

use crate::error::ConfigError;
use crate::limits::Rules;
use crate::routes::AuthMode;
use crate::secret::Secret;
use crate::session_jwt;

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

/// One mini program the deployment serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    pub appid: String,
    pub secret: SecretSource,
}

/// The DNS suffix of AWS endpoints in a region: `amazonaws.com`, or `amazonaws.com.cn` in China.
pub fn aws_url_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// Whether `appid` has the shape of a mini program appid: `wx` and 16 letters or digits.
pub fn is_appid(appid: &str) -> bool {
    appid.len() == 18
        && appid.starts_with("wx")
        && appid[2..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// How the profile routes behave (`PUT /profile`, `POST /avatar`): the same in the userinfo and avatar
/// functions and the local server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileOptions {
    /// `WXAUTH_NICKNAME_CHECK=1`: nicknames go through WeChat's content security check
    /// (`msg_sec_check`) before they are saved. Off by default.
    pub nickname_check: bool,
    /// `AVATAR_BASE_URL`: the origin of the avatar URLs (a CDN in front of the API); by default the
    /// origin the upload was sent to.
    pub avatar_base_url: Option<String>,
}

/// The validated configuration of a function.
#[derive(Debug, Clone)]
pub struct Config {
    /// The mini programs served, the first one first (the single app of earlier releases: items
    /// written without an appid belong to it).
    pub apps: Vec<AppConfig>,
    pub api_base: String,
    pub table: String,
    pub session_ttl: i64,
    pub session_idle: i64,
    pub wechat_timeout: Duration,
    pub protection: Protection,
    pub profile: ProfileOptions,
    /// `AVATAR_BUCKET`: the S3 bucket of the avatars (the avatar function).
    pub avatar_bucket: Option<String>,
    /// `WXAUTH_AUTH_MODE`: `skey` (default) or `jwt`.
    pub auth_mode: AuthMode,
    /// The session JWTs of `jwt` mode (read in every mode; used by the login function in `jwt` mode).
    pub session_jwt: SessionJwtConfig,
}

/// How session JWTs are made ([`crate::session_jwt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionJwtConfig {
    /// `WXAUTH_JWT_LIFETIME_SECONDS`: 60 to 3600, default 600.
    pub lifetime: i64,
    /// `WXAUTH_JWT_ISSUER`: the issuer URL; by default the HTTP API's own URL, read from each request.
    pub issuer: Option<String>,
    /// `WXAUTH_JWT_KMS_KEY_IDS`: KMS key ids or ARNs, comma-separated; the first signs, all are
    /// published.
    pub kms_key_ids: Vec<String>,
    /// `WXAUTH_JWT_KEY_FILE`: a PKCS#8 PEM file of an RSA key (local server and tests).
    pub key_file: Option<std::path::PathBuf>,
}

impl Default for SessionJwtConfig {
    fn default() -> Self {
        SessionJwtConfig {
            lifetime: session_jwt::DEFAULT_LIFETIME,
            issuer: None,
            kms_key_ids: Vec::new(),
            key_file: None,
        }
    }
}

impl SessionJwtConfig {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let lifetime = match get("WXAUTH_JWT_LIFETIME_SECONDS") {
            None => session_jwt::DEFAULT_LIFETIME,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|s| (session_jwt::MIN_LIFETIME..=session_jwt::MAX_LIFETIME).contains(s))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "WXAUTH_JWT_LIFETIME_SECONDS",
                    reason: format!("{v:?} is not a number of seconds between 60 and 3600"),
                })?,
        };
        let issuer = get("WXAUTH_JWT_ISSUER")
            .map(|url| validate_url("WXAUTH_JWT_ISSUER", &url))
            .transpose()?;
        let kms_key_ids: Vec<String> = get("WXAUTH_JWT_KMS_KEY_IDS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(bad) = kms_key_ids.iter().find(|k| {
            k.len() > 2048
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":/-_".contains(&b))
        }) {
            return Err(ConfigError::Invalid {
                name: "WXAUTH_JWT_KMS_KEY_IDS",
                reason: format!("{bad:?} is not a KMS key id or key ARN"),
            });
        }
        Ok(SessionJwtConfig {
            lifetime,
            issuer,
            kms_key_ids,
            key_file: get("WXAUTH_JWT_KEY_FILE").map(std::path::PathBuf::from),
        })
    }
}

/// What protects the service from one client: the rate limits, and how the client's address is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Protection {
    pub limits: Rules,
    /// Proxies in front of API Gateway that the deployment trusts (CloudFront: 1). 0: the client is
    /// the address API Gateway saw; n: the n-th address from the right of `X-Forwarded-For`, before
    /// the one API Gateway appends.
    pub trusted_proxy_hops: usize,
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
        let api_base = validate_url("WX_API_BASE", &api_base)?;
        let apps = apps(role, &get)?;
        let mut limits = Rules::default();
        for (name, rule) in [
            ("WXAUTH_LOGIN_LIMIT_PER_IP", &mut limits.login_per_ip),
            ("WXAUTH_LOGIN_LIMIT_PER_USER", &mut limits.login_per_user),
            (
                "WXAUTH_PHONE_LIMIT_PER_SESSION",
                &mut limits.phone_per_session,
            ),
            (
                "WXAUTH_AVATAR_LIMIT_PER_SESSION",
                &mut limits.avatar_per_session,
            ),
            ("WXAUTH_JWT_LIMIT_PER_SESSION", &mut limits.jwt_per_session),
        ] {
            if let Some(v) = get(name) {
                rule.limit = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n <= 1_000_000)
                    .ok_or_else(|| ConfigError::Invalid {
                        name,
                        reason: format!(
                            "{v:?} is not a number of requests from 0 (off) to 1000000"
                        ),
                    })?;
            }
        }
        let trusted_proxy_hops =
            match get("WXAUTH_TRUSTED_PROXY_HOPS") {
                None => 0,
                Some(v) => v.parse::<usize>().ok().filter(|n| *n <= 5).ok_or_else(|| {
                    ConfigError::Invalid {
                        name: "WXAUTH_TRUSTED_PROXY_HOPS",
                        reason: format!("{v:?} is not a number of proxies from 0 to 5"),
                    }
                })?,
            };
        let nickname_check = match get("WXAUTH_NICKNAME_CHECK").as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "WXAUTH_NICKNAME_CHECK",
                    reason: format!("{other:?} is not 1/true or 0/false"),
                });
            }
        };
        let auth_mode = match get("WXAUTH_AUTH_MODE") {
            None => AuthMode::Skey,
            Some(v) => v.parse().map_err(|reason| ConfigError::Invalid {
                name: "WXAUTH_AUTH_MODE",
                reason,
            })?,
        };
        let session_jwt = SessionJwtConfig::from_lookup(&get)?;
        let avatar_base_url = get("AVATAR_BASE_URL")
            .map(|base| validate_url("AVATAR_BASE_URL", &base))
            .transpose()?;
        Ok(Config {
            protection: Protection {
                limits,
                trusted_proxy_hops,
            },
            apps,
            api_base,
            table,
            session_ttl,
            session_idle,
            wechat_timeout: Duration::from_millis(timeout_ms),
            profile: ProfileOptions {
                nickname_check,
                avatar_base_url,
            },
            avatar_bucket: get("AVATAR_BUCKET"),
            auth_mode,
            session_jwt,
        })
    }
}

impl Config {
    /// The deployment's first app (`WX_APPID`): sessions and users written before several mini
    /// programs were served belong to it. Empty when none is configured (an authorizer may have none).
    pub fn first_appid(&self) -> &str {
        self.apps
            .first()
            .map(|a| a.appid.as_str())
            .unwrap_or_default()
    }
}

/// `APPID=SECRET` pairs, separated by commas or new lines (`#` starts a comment line).
fn pairs(name: &'static str, text: &str) -> Result<Vec<(String, Secret)>, ConfigError> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|pair| match pair.split_once('=') {
            Some((appid, secret)) if !secret.trim().is_empty() => {
                Ok((appid.trim().to_string(), Secret::new(secret.trim())))
            }
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!(
                    "{:?} is not APPID=SECRET",
                    pair.split_once('=').map_or(pair, |(a, _)| a)
                ),
            }),
        })
        .collect()
}

/// The apps of a configuration, in order: `WX_APPID` (secret `WX_SECRET` or `WX_SECRET_PARAMETER`),
/// `WX_APPIDS` (each secret the SSM parameter `WX_SECRET_PARAMETER_PREFIX` + appid), and the
/// `APPID=SECRET` pairs of `WX_APPS` and of the file `WX_APPS_FILE`. The authorizer needs no secret.
fn apps(role: Role, get: &impl Fn(&str) -> Option<String>) -> Result<Vec<AppConfig>, ConfigError> {
    let mut given: Vec<(String, Secret)> = Vec::new();
    if let Some(text) = get("WX_APPS") {
        given.extend(pairs("WX_APPS", &text)?);
    }
    if let Some(path) = get("WX_APPS_FILE") {
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
            name: "WX_APPS_FILE",
            reason: format!("cannot read {path}: {e}"),
        })?;
        given.extend(pairs("WX_APPS_FILE", &text)?);
    }
    let mut ids: Vec<String> = Vec::new();
    ids.extend(get("WX_APPID"));
    if let Some(list) = get("WX_APPIDS") {
        ids.extend(
            list.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string),
        );
    }
    ids.extend(given.iter().map(|(a, _)| a.clone()));
    let mut apps: Vec<AppConfig> = Vec::new();
    for appid in ids {
        if apps.iter().any(|a| a.appid == appid) {
            continue;
        }
        if !is_appid(&appid) {
            return Err(ConfigError::Invalid {
                name: "WX_APPID",
                reason: format!("{appid:?} is not an appid (wx and 16 letters or digits)"),
            });
        }
        let first = apps.is_empty() && get("WX_APPID").as_deref() == Some(appid.as_str());
        let secret = match role {
            Role::Authorizer => SecretSource::None,
            Role::WeChat => {
                let listed = given.iter().find(|(a, _)| *a == appid).map(|(_, s)| s);
                match (first, listed) {
                    (_, Some(secret)) => SecretSource::Value(secret.clone()),
                    (true, None) => match (get("WX_SECRET"), get("WX_SECRET_PARAMETER")) {
                        (Some(value), _) => SecretSource::Value(Secret::new(value)),
                        (None, Some(name)) => SecretSource::Parameter(name),
                        (None, None) => {
                            return Err(ConfigError::Missing("WX_SECRET or WX_SECRET_PARAMETER"));
                        }
                    },
                    (false, None) => match get("WX_SECRET_PARAMETER_PREFIX") {
                        Some(prefix) => SecretSource::Parameter(format!("{prefix}{appid}")),
                        None => {
                            return Err(ConfigError::Invalid {
                                name: "WX_APPIDS",
                                reason: format!(
                                    "no secret for appid {appid}: set WX_SECRET_PARAMETER_PREFIX \
                                     (deployed) or give it in WX_APPS (locally)"
                                ),
                            });
                        }
                    },
                }
            }
        };
        apps.push(AppConfig { appid, secret });
    }
    if role == Role::WeChat && apps.is_empty() {
        return Err(ConfigError::Missing("WX_APPID"));
    }
    Ok(apps)
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

/// An http(s) base URL without query or fragment, without its trailing slash.
fn validate_url(name: &'static str, base: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name,
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

    const A1: &str = "wx0000000000000001";
    const A2: &str = "wx0000000000000002";
    const A3: &str = "wx0000000000000003";

    #[test]
    fn several_apps_from_the_deployed_and_the_local_forms() {
        let c = cfg(
            Role::WeChat,
            &[
                ("SESSION_TABLE", "t"),
                ("WX_APPID", A1),
                ("WX_SECRET_PARAMETER", "/wxauth/app-secret"),
                ("WX_APPIDS", &format!(" {A2} ,{A1},")),
                ("WX_SECRET_PARAMETER_PREFIX", "/wxauth/apps/"),
                ("WX_APPS", &format!("{A3}=s3")),
            ],
        )
        .expect("valid");
        let got: Vec<(&str, &SecretSource)> = c
            .apps
            .iter()
            .map(|a| (a.appid.as_str(), &a.secret))
            .collect();
        assert_eq!(
            got,
            vec![
                (A1, &SecretSource::Parameter("/wxauth/app-secret".into())),
                (A2, &SecretSource::Parameter(format!("/wxauth/apps/{A2}"))),
                (A3, &SecretSource::Value(Secret::new("s3"))),
            ]
        );
        let dir = std::env::temp_dir().join(format!("wxauth-apps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("apps");
        std::fs::write(&file, format!("# apps\n{A1}=s1\n\n{A2} = s2\n")).expect("write");
        let c = cfg(
            Role::WeChat,
            &[
                ("SESSION_TABLE", "t"),
                ("WX_APPS_FILE", file.to_str().expect("utf-8")),
            ],
        )
        .expect("valid");
        assert_eq!(c.first_appid(), A1);
        assert_eq!(c.apps[1].secret, SecretSource::Value(Secret::new("s2")));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_missing_secret_names_its_appid() {
        let e = cfg(
            Role::WeChat,
            &[
                ("SESSION_TABLE", "t"),
                ("WX_APPID", A1),
                ("WX_SECRET", "s"),
                ("WX_APPIDS", A2),
            ],
        )
        .expect_err("no secret for A2");
        assert!(e.to_string().contains(A2), "{e}");
        for bad in ["wx1", "wx000000000000000!", &"wx".repeat(5000)] {
            let e = cfg(
                Role::WeChat,
                &[("SESSION_TABLE", "t"), ("WX_APPS", &format!("{bad}=s"))],
            )
            .expect_err("bad appid");
            assert!(e.to_string().contains("is not an appid"), "{e}");
        }
        let e = cfg(Role::WeChat, &[("SESSION_TABLE", "t"), ("WX_APPS", A1)]).expect_err("pair");
        assert!(e.to_string().contains("APPID=SECRET"), "{e}");
        assert!(!is_appid("wx00000000000000é"));
    }

    #[test]
    fn defaults() {
        let c = cfg(
            Role::WeChat,
            &[("SESSION_TABLE", "t"), ("WX_APPID", A1), ("WX_SECRET", "s")],
        )
        .expect("valid");
        assert_eq!(c.api_base, DEFAULT_API_BASE);
        assert_eq!(c.session_ttl, 604_800);
        assert_eq!(c.session_idle, 172_800);
        assert_eq!(c.apps.len(), 1);
        assert_eq!(c.first_appid(), A1);
        assert_eq!(c.apps[0].secret, SecretSource::Value(Secret::new("s")));
        assert!(!format!("{c:?}").contains("\"s\""));
    }

    #[test]
    fn missing_values_are_named() {
        let e = cfg(Role::WeChat, &[("WX_APPID", A1)]).expect_err("no table");
        assert_eq!(e.to_string(), "missing environment variable SESSION_TABLE");
        let e =
            cfg(Role::WeChat, &[("SESSION_TABLE", "t"), ("WX_SECRET", "s")]).expect_err("no appid");
        assert!(e.to_string().contains("WX_APPID"));
        let e =
            cfg(Role::WeChat, &[("SESSION_TABLE", "t"), ("WX_APPID", A1)]).expect_err("no secret");
        assert!(e.to_string().contains("WX_SECRET or WX_SECRET_PARAMETER"));
        let e = cfg(Role::WeChat, &[("SESSION_TABLE", " "), ("WX_APPID", A1)]).expect_err("blank");
        assert!(e.to_string().contains("SESSION_TABLE"));
    }

    #[test]
    fn authorizer_needs_no_secret() {
        let c = cfg(Role::Authorizer, &[("SESSION_TABLE", "t")]).expect("valid");
        assert!(c.apps.is_empty());
        let c = cfg(
            Role::Authorizer,
            &[("SESSION_TABLE", "t"), ("WX_APPID", A1), ("WX_APPIDS", A2)],
        )
        .expect("valid");
        assert!(c.apps.iter().all(|a| a.secret == SecretSource::None));
        assert_eq!(c.apps.len(), 2);
    }

    #[test]
    fn parameter_source_and_invalid_numbers() {
        let c = cfg(
            Role::WeChat,
            &[
                ("SESSION_TABLE", "t"),
                ("WX_APPID", A1),
                ("WX_SECRET_PARAMETER", "/wx/s"),
            ],
        )
        .expect("valid");
        assert_eq!(c.apps[0].secret, SecretSource::Parameter("/wx/s".into()));
        for (k, v) in [
            ("SESSION_TTL_SECONDS", "abc"),
            ("SESSION_IDLE_SECONDS", "-5"),
            ("SESSION_TTL_SECONDS", "10"),
            ("WX_TIMEOUT_MS", "0"),
            ("WXAUTH_LOGIN_LIMIT_PER_IP", "-1"),
            ("WXAUTH_PHONE_LIMIT_PER_SESSION", "lots"),
            ("WXAUTH_TRUSTED_PROXY_HOPS", "9"),
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

    #[test]
    fn endpoints_by_partition() {
        assert_eq!(aws_url_suffix("cn-north-1"), "amazonaws.com.cn");
        assert_eq!(aws_url_suffix("ap-east-1"), "amazonaws.com");
    }

    #[test]
    fn auth_modes_and_session_jwts() {
        let c = cfg(Role::Authorizer, &[("SESSION_TABLE", "t")]).expect("ok");
        assert_eq!(c.auth_mode, AuthMode::Skey);
        assert_eq!(c.session_jwt, SessionJwtConfig::default());
        let c = cfg(
            Role::Authorizer,
            &[
                ("SESSION_TABLE", "t"),
                ("WXAUTH_AUTH_MODE", "jwt"),
                ("WXAUTH_JWT_LIFETIME_SECONDS", "900"),
                ("WXAUTH_JWT_ISSUER", "https://auth.example.com/"),
                (
                    "WXAUTH_JWT_KMS_KEY_IDS",
                    " 1234abcd-12ab ,arn:aws:kms:ap-east-1:123456789012:key/5678",
                ),
            ],
        )
        .expect("ok");
        assert_eq!(c.auth_mode, AuthMode::Jwt);
        assert_eq!(c.session_jwt.lifetime, 900);
        assert_eq!(
            c.session_jwt.issuer.as_deref(),
            Some("https://auth.example.com")
        );
        assert_eq!(c.session_jwt.kms_key_ids.len(), 2);
        for (k, v) in [
            ("WXAUTH_AUTH_MODE", "token"),
            ("WXAUTH_JWT_LIFETIME_SECONDS", "3601"),
            ("WXAUTH_JWT_LIFETIME_SECONDS", "59"),
            ("WXAUTH_JWT_ISSUER", "ftp://x"),
            ("WXAUTH_JWT_KMS_KEY_IDS", "a b"),
        ] {
            let e = cfg(Role::Authorizer, &[("SESSION_TABLE", "t"), (k, v)]).expect_err(k);
            assert!(e.to_string().contains(k), "{e}");
        }
    }

    #[test]
    fn profile_options() {
        let c = cfg(Role::Authorizer, &[("SESSION_TABLE", "t")]).expect("ok");
        assert_eq!(c.profile, ProfileOptions::default());
        assert_eq!(c.avatar_bucket, None);
        let c = cfg(
            Role::Authorizer,
            &[
                ("SESSION_TABLE", "t"),
                ("WXAUTH_NICKNAME_CHECK", "1"),
                ("AVATAR_BASE_URL", "https://cdn.example.com/"),
                ("AVATAR_BUCKET", "b"),
            ],
        )
        .expect("ok");
        assert!(c.profile.nickname_check);
        assert_eq!(
            c.profile.avatar_base_url.as_deref(),
            Some("https://cdn.example.com")
        );
        assert_eq!(c.avatar_bucket.as_deref(), Some("b"));
        for (k, v) in [
            ("WXAUTH_NICKNAME_CHECK", "yes"),
            ("AVATAR_BASE_URL", "ftp://x"),
            ("AVATAR_BASE_URL", "https://x/?a=1"),
        ] {
            let e = cfg(Role::Authorizer, &[("SESSION_TABLE", "t"), (k, v)]).expect_err(k);
            assert!(e.to_string().contains(k), "{e}");
        }
    }
}
