//! The local server's configuration: the command-line options and the environment, validated once at
//! start-up (an invalid value stops the server with a clear message, as a Lambda function's cold start
//! would fail).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use wxauth::config::{
    AppConfig, Config, ProfileOptions, Protection, Role, SessionJwtConfig, is_appid,
};
use wxauth::error::ConfigError;
use wxauth::routes::AuthMode;

/// Where the server listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// The appid of simulator mode when `WX_APPID` is not set.
pub const SIMULATOR_APPID: &str = "wxsimulator0000000";
/// `SESSION_TABLE` as the shared configuration sees it when there is no table (memory or file store).
const NO_TABLE: &str = "wxauth-local-memory";

/// What the command line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub listen: SocketAddr,
    /// `--data FILE`: the memory store, persisted to this JSON file.
    pub data: Option<PathBuf>,
    /// `--create-table`: create `SESSION_TABLE` (template.yaml's schema) before serving.
    pub create_table: bool,
    /// `--app APPID=SECRET` (the real WeChat API) or `--app APPID` (simulator mode), repeatable.
    pub apps: Vec<String>,
    /// `--unbound-app APPID` (simulator mode): an app not bound to the simulated Open Platform
    /// account, whose users get no unionid.
    pub unbound_apps: Vec<String>,
    /// `--auth-mode skey|jwt`: the mode of the routes (over `WXAUTH_AUTH_MODE`).
    pub auth_mode: Option<AuthMode>,
}

/// A mini program of simulator mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimApp {
    pub appid: String,
    /// Bound to the simulated Open Platform account: its users get the same unionid in every bound
    /// app.
    pub bound: bool,
}

/// Which WeChat the login function talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wechat {
    /// No app secret: a WeChat simulator on a loopback port, and the dev routes.
    Simulator { apps: Vec<SimApp> },
    /// The real WeChat API (or `WX_API_BASE`), with the apps' credentials.
    Real {
        apps: Vec<AppConfig>,
        api_base: String,
    },
}

/// Where sessions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// In memory: gone when the server stops.
    Memory,
    /// In memory, persisted to a JSON file (`--data`).
    File(PathBuf),
    /// A DynamoDB table (`SESSION_TABLE`), real or local (`AWS_ENDPOINT_URL_DYNAMODB`).
    Dynamo {
        table: String,
        create: bool,
        /// `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`), for the start-up banner.
        endpoint: Option<String>,
    },
}

/// Where avatars live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AvatarChoice {
    /// In memory: gone when the server stops.
    Memory,
    /// One file per account in this folder (next to the `--data` file: `FILE.avatars/`).
    Folder(PathBuf),
    /// An S3 bucket (`AVATAR_BUCKET`; `AWS_ENDPOINT_URL_S3` for a local S3).
    Bucket(String),
}

/// The validated configuration of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub wechat: Wechat,
    pub store: StoreChoice,
    pub avatars: AvatarChoice,
    pub profile: ProfileOptions,
    pub session_ttl: i64,
    pub session_idle: i64,
    pub wechat_timeout: Duration,
    /// The rate limits and the trusted proxies (`WXAUTH_*`, as for the functions).
    pub protection: Protection,
    /// `skey` or `jwt` (`--auth-mode`, else `WXAUTH_AUTH_MODE`).
    pub auth_mode: AuthMode,
    /// The session JWTs of `jwt` mode (`WXAUTH_JWT_*`): without `WXAUTH_JWT_KEY_FILE` a key is made
    /// at start-up, without `WXAUTH_JWT_ISSUER` the issuer is the server's own URL.
    pub session_jwt: SessionJwtConfig,
    /// Things worth telling the user at start-up (settings that are ignored in this mode...).
    pub notes: Vec<String>,
}

/// An invalid configuration, explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub String);

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// Reads the process environment.
    pub fn from_env(options: &Options) -> Result<Settings, SettingsError> {
        Settings::from_lookup(options, |name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests). The variables are
    /// those of the Lambda functions (docs/contract.md), validated by the same code.
    pub fn from_lookup(
        options: &Options,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let table = get("SESSION_TABLE");
        // `--app APPID=SECRET` joins WX_APPS; `--app APPID` is an app of simulator mode.
        let (with_secret, bare): (Vec<&String>, Vec<&String>) =
            options.apps.iter().partition(|a| a.contains('='));
        let has_secret = [
            "WX_SECRET",
            "WX_SECRET_PARAMETER",
            "WX_APPS",
            "WX_APPS_FILE",
        ]
        .iter()
        .any(|name| get(name).is_some())
            || !with_secret.is_empty();
        if has_secret && let Some(appid) = bare.first().copied().or(options.unbound_apps.first()) {
            return Err(SettingsError(format!(
                "--app {appid} has no secret: with the real WeChat API every app needs \
                 --app APPID=SECRET (or WX_APPS); without any secret the simulator serves bare appids"
            )));
        }
        let role = if has_secret {
            Role::WeChat
        } else {
            Role::Authorizer
        };
        let cli_apps = with_secret
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let config = Config::from_lookup(role, |name| match name {
            "SESSION_TABLE" => Some(table.clone().unwrap_or_else(|| NO_TABLE.to_string())),
            "WX_APPS" if !cli_apps.is_empty() => Some(match lookup(name) {
                Some(env) if !env.trim().is_empty() => format!("{env},{cli_apps}"),
                _ => cli_apps.clone(),
            }),
            _ => lookup(name),
        })
        .map_err(|e| explain(&e, has_secret))?;

        let mut notes = Vec::new();
        let wechat = if has_secret {
            Wechat::Real {
                apps: config.apps,
                api_base: config.api_base,
            }
        } else {
            if get("WX_API_BASE").is_some() {
                notes.push(
                    "WX_API_BASE is ignored in simulator mode (set WX_APPID and WX_SECRET to use it)"
                        .to_string(),
                );
            }
            Wechat::Simulator {
                apps: simulated_apps(get("WX_APPID"), &bare, &options.unbound_apps)?,
            }
        };

        let store = match (&options.data, table) {
            (Some(_), Some(table)) => {
                return Err(SettingsError(format!(
                    "--data and SESSION_TABLE={table} both choose where sessions live: keep one \
                     (--data FILE for a local file, SESSION_TABLE for DynamoDB)"
                )));
            }
            (Some(file), None) if options.create_table => {
                return Err(SettingsError(format!(
                    "--create-table creates a DynamoDB table, but the store is the file {}: set \
                     SESSION_TABLE instead of --data",
                    file.display()
                )));
            }
            (Some(file), None) => StoreChoice::File(file.clone()),
            (None, Some(table)) => StoreChoice::Dynamo {
                table,
                create: options.create_table,
                endpoint: get("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| get("AWS_ENDPOINT_URL")),
            },
            (None, None) if options.create_table => {
                return Err(SettingsError(
                    "--create-table needs SESSION_TABLE (the name of the DynamoDB table to create)"
                        .to_string(),
                ));
            }
            (None, None) => StoreChoice::Memory,
        };

        let avatars = match (&config.avatar_bucket, &store) {
            (Some(bucket), _) => AvatarChoice::Bucket(bucket.clone()),
            (None, StoreChoice::File(file)) => {
                let mut folder = file.clone().into_os_string();
                folder.push(".avatars");
                AvatarChoice::Folder(PathBuf::from(folder))
            }
            (None, _) => AvatarChoice::Memory,
        };

        Ok(Settings {
            listen: options.listen,
            wechat,
            store,
            avatars,
            profile: config.profile,
            session_ttl: config.session_ttl,
            session_idle: config.session_idle,
            wechat_timeout: config.wechat_timeout,
            protection: config.protection,
            auth_mode: options.auth_mode.unwrap_or(config.auth_mode),
            session_jwt: config.session_jwt,
            notes,
        })
    }
}

/// The apps of simulator mode: `WX_APPID`, then `--app`, then `--unbound-app`, or the default one.
fn simulated_apps(
    first: Option<String>,
    bound: &[&String],
    unbound: &[String],
) -> Result<Vec<SimApp>, SettingsError> {
    let mut apps: Vec<SimApp> = Vec::new();
    let listed = first
        .into_iter()
        .chain(bound.iter().map(|a| a.to_string()))
        .map(|a| (a, true))
        .chain(unbound.iter().map(|a| (a.clone(), false)));
    for (appid, is_bound) in listed {
        let appid = appid.trim().to_string();
        if !is_appid(&appid) {
            return Err(SettingsError(format!(
                "{appid:?} is not an appid (wx and 16 letters or digits)"
            )));
        }
        match apps.iter_mut().find(|a| a.appid == appid) {
            Some(known) => known.bound &= is_bound,
            None => apps.push(SimApp {
                appid,
                bound: is_bound,
            }),
        }
    }
    if apps.is_empty() {
        apps.push(SimApp {
            appid: SIMULATOR_APPID.to_string(),
            bound: true,
        });
    }
    Ok(apps)
}

fn explain(e: &ConfigError, has_secret: bool) -> SettingsError {
    match e {
        ConfigError::Missing("WX_APPID") if has_secret => SettingsError(format!(
            "{e}: WX_SECRET (or WX_SECRET_PARAMETER) selects the real WeChat API, which needs the \
             mini program's WX_APPID too (unset WX_SECRET to use the WeChat simulator)"
        )),
        _ => SettingsError(e.to_string()),
    }
}

/// Parses `--listen`: `HOST:PORT` (`127.0.0.1:3000`, `[::1]:3000`, `0.0.0.0:3000`), `localhost:PORT`,
/// or a bare `PORT` (on 127.0.0.1).
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    let value = value.trim();
    if let Ok(port) = value.parse::<u16>() {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    if let Some(port) = value.strip_prefix("localhost:")
        && let Ok(port) = port.parse::<u16>()
    {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    }
    value.parse::<SocketAddr>().map_err(|_| {
        format!(
            "{value:?} is not an address to listen on: use HOST:PORT (127.0.0.1:3000) or a port"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn options() -> Options {
        Options {
            listen: parse_listen(DEFAULT_LISTEN).expect("default"),
            data: None,
            create_table: false,
            apps: Vec::new(),
            unbound_apps: Vec::new(),
            auth_mode: None,
        }
    }

    fn sim(apps: &[(&str, bool)]) -> Wechat {
        Wechat::Simulator {
            apps: apps
                .iter()
                .map(|(appid, bound)| SimApp {
                    appid: appid.to_string(),
                    bound: *bound,
                })
                .collect(),
        }
    }

    #[test]
    fn several_apps_on_the_command_line() {
        let mut o = options();
        o.apps = vec!["wx0000000000000001".into(), "wx0000000000000002".into()];
        o.unbound_apps = vec!["wx0000000000000003".into()];
        let s = settings(&o, &[]).expect("valid");
        assert_eq!(
            s.wechat,
            sim(&[
                ("wx0000000000000001", true),
                ("wx0000000000000002", true),
                ("wx0000000000000003", false)
            ])
        );
        o.apps = vec![
            "wx0000000000000001=s1".into(),
            "wx0000000000000002=s2".into(),
        ];
        o.unbound_apps.clear();
        let s = settings(&o, &[("WX_APPS", "wx0000000000000004=s4")]).expect("valid");
        match s.wechat {
            Wechat::Real { apps, .. } => assert_eq!(
                apps.iter().map(|a| a.appid.as_str()).collect::<Vec<_>>(),
                [
                    "wx0000000000000004",
                    "wx0000000000000001",
                    "wx0000000000000002"
                ]
            ),
            other => panic!("{other:?}"),
        }
        o.apps.push("wx0000000000000005".into());
        let e = settings(&o, &[]).expect_err("bare appid with secrets");
        assert!(
            e.0.contains("wx0000000000000005") && !e.0.contains("s1"),
            "{e}"
        );
        let mut o = options();
        o.apps = vec!["wxshort".into()];
        assert!(
            settings(&o, &[])
                .expect_err("shape")
                .0
                .contains("not an appid")
        );
    }

    fn settings(options: &Options, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(options, |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_simulator_and_memory() {
        let s = settings(&options(), &[]).expect("valid");
        assert_eq!(s.wechat, sim(&[(SIMULATOR_APPID, true)]));
        assert!(is_appid(SIMULATOR_APPID));
        assert_eq!(s.store, StoreChoice::Memory);
        assert_eq!(s.avatars, AvatarChoice::Memory);
        assert_eq!(s.profile, ProfileOptions::default());
        assert_eq!(s.session_ttl, wxauth::config::DEFAULT_SESSION_TTL);
        assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
        assert!(s.notes.is_empty());
    }

    #[test]
    fn real_wechat_needs_appid() {
        let e = settings(&options(), &[("WX_SECRET", "s3cr3t-value")]).expect_err("no appid");
        assert!(e.0.contains("WX_APPID"), "{e}");
        assert!(!e.0.contains("s3cr3t-value"), "{e}");
        let s = settings(
            &options(),
            &[
                ("WX_SECRET", "s"),
                ("WX_APPID", "wx1234567890abcdef"),
                ("WX_API_BASE", "http://127.0.0.1:9/"),
            ],
        )
        .expect("valid");
        match s.wechat {
            Wechat::Real { apps, api_base } => {
                assert_eq!(apps[0].appid, "wx1234567890abcdef");
                assert_eq!(api_base, "http://127.0.0.1:9");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn simulator_keeps_appid_and_notes_ignored_base() {
        let s = settings(
            &options(),
            &[
                ("WX_APPID", "wxabc0000000000000"),
                ("WX_API_BASE", "http://x"),
            ],
        )
        .expect("valid");
        assert_eq!(s.wechat, sim(&[("wxabc0000000000000", true)]));
        assert_eq!(s.notes.len(), 1);
        // A blank secret is no secret, as for the functions.
        let s = settings(&options(), &[("WX_SECRET", "  ")]).expect("valid");
        assert!(matches!(s.wechat, Wechat::Simulator { .. }));
    }

    #[test]
    fn invalid_numbers_are_refused() {
        for (k, v) in [
            ("SESSION_TTL_SECONDS", "abc"),
            ("SESSION_IDLE_SECONDS", "5"),
            ("WX_TIMEOUT_MS", "0"),
        ] {
            let e = settings(&options(), &[(k, v)]).expect_err(k);
            assert!(e.0.contains(k), "{e}");
        }
    }

    #[test]
    fn stores() {
        let mut o = options();
        let s = settings(
            &o,
            &[
                ("SESSION_TABLE", "t"),
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://m"),
            ],
        )
        .expect("valid");
        assert_eq!(
            s.store,
            StoreChoice::Dynamo {
                table: "t".into(),
                create: false,
                endpoint: Some("http://m".into())
            }
        );
        o.create_table = true;
        assert!(
            settings(&o, &[])
                .expect_err("no table")
                .0
                .contains("SESSION_TABLE")
        );
        o.data = Some(PathBuf::from("/tmp/x.json"));
        assert!(settings(&o, &[]).is_err());
        o.create_table = false;
        let s = settings(&o, &[]).expect("file");
        assert_eq!(s.store, StoreChoice::File(PathBuf::from("/tmp/x.json")));
        assert_eq!(
            s.avatars,
            AvatarChoice::Folder(PathBuf::from("/tmp/x.json.avatars"))
        );
        assert_eq!(
            settings(&o, &[("AVATAR_BUCKET", "b")])
                .expect("bucket")
                .avatars,
            AvatarChoice::Bucket("b".into())
        );
        assert!(settings(&o, &[("SESSION_TABLE", "t")]).is_err());
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("3001").expect("port").to_string(),
            "127.0.0.1:3001"
        );
        assert_eq!(
            parse_listen("localhost:3002")
                .expect("localhost")
                .to_string(),
            "127.0.0.1:3002"
        );
        assert_eq!(
            parse_listen("0.0.0.0:80").expect("any").to_string(),
            "0.0.0.0:80"
        );
        assert_eq!(
            parse_listen("[::1]:3000").expect("v6").to_string(),
            "[::1]:3000"
        );
        for bad in ["", "abc", "127.0.0.1", "127.0.0.1:99999", "localhost:x"] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }
}
