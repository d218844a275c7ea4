//! Start-up (configuration, store, WeChat or its simulator, the functions), the banner, serving with one
//! log line per request, and a graceful stop on Ctrl-C / SIGTERM.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use tokio::net::TcpListener;
use wxauth::avatars::{AvatarStore, memory::MemoryAvatars, s3::S3Avatars};
use wxauth::clock::SystemClock;
use wxauth::config::SecretSource;
use wxauth::routes::{AuthMode, Authorizer};
use wxauth::secret::Secret;
use wxauth::session_jwt::local::LocalKey;
use wxauth::session_jwt::{Issuer, JwtSigner, SessionJwts};
use wxauth::sessions::Sessions;
use wxauth::store::{Store, dynamo::DynamoStore, memory::MemoryStore};
use wxauth::wechat::{self, WechatClient};

use crate::dev::{DEV_ROUTES, Dev};
use crate::gateway::{Answer, Gateway, jwt};
use crate::settings::{AvatarChoice, Options, Settings, StoreChoice, Wechat};
use crate::simulator::Simulator;

/// How long requests in flight may run on after Ctrl-C / SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the server did not start (printed, exit code 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl From<crate::settings::SettingsError> for StartError {
    fn from(e: crate::settings::SettingsError) -> Self {
        StartError(format!("invalid configuration: {e}"))
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(options: Options) -> Result<(), StartError> {
    crate::log::init();
    let settings = Settings::from_env(&options)?;
    let listener = bind(settings.listen).await?;
    let local = listener
        .local_addr()
        .map_err(|e| StartError(format!("cannot read the listening address: {e}")))?;
    // Counted from the first request on (GET /dev/metrics, the summary on exit).
    let _ = crate::dev::metrics();
    let app = build(&settings, &base_url(local)).await?;
    let signals = Signals::install()?;
    say(&banner(&settings, local, &app));
    serve(listener, app.gateway, signals).await;
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                ": the port is already in use (another wxauth-local?); choose another one with \
                 --listen, e.g. --listen 127.0.0.1:3001"
            }
            std::io::ErrorKind::PermissionDenied => ": permission denied; use a port above 1023",
            std::io::ErrorKind::AddrNotAvailable => ": no such address on this machine",
            _ => "",
        };
        StartError(format!("cannot listen on {addr}: {e}{hint}"))
    })
}

/// Everything built at start-up.
pub struct App {
    pub gateway: Gateway,
    /// One line each, for the banner.
    pub wechat: String,
    pub store: String,
    pub avatars: String,
}

/// Builds the store, the WeChat clients (and the simulator) and the functions, for a server reached
/// at `url`.
pub async fn build(settings: &Settings, url: &str) -> Result<App, StartError> {
    let needs_aws = matches!(settings.store, StoreChoice::Dynamo { .. })
        || matches!(settings.avatars, AvatarChoice::Bucket(_))
        || matches!(&settings.wechat, Wechat::Real { apps, .. }
            if apps.iter().any(|a| matches!(a.secret, SecretSource::Parameter(_))));
    let sdk = if needs_aws {
        Some(wxauth::bootstrap::aws_config().await)
    } else {
        None
    };
    let (store, store_line) = open_store(&settings.store, sdk.as_ref()).await?;
    let (avatars, avatars_line) = open_avatars(&settings.avatars, sdk.as_ref())?;
    let sessions = Sessions::new(
        store,
        Arc::new(SystemClock),
        settings.session_ttl,
        settings.session_idle,
    );
    let http = wechat::http_client(settings.wechat_timeout)
        .map_err(|e| StartError(format!("cannot build the HTTP client for WeChat: {e}")))?;

    let (clients, dev, wechat_line) = match &settings.wechat {
        Wechat::Simulator { apps } => {
            // Secrets nobody sees: the simulator checks them like WeChat checks the real ones.
            let secret = || {
                wxauth::crypto::random_id()
                    .map_err(|e| StartError(format!("no randomness from the OS: {e}")))
            };
            let mut clients = Vec::new();
            let mut sim: Option<Arc<Simulator>> = None;
            for app in apps {
                let secret = secret()?;
                match &sim {
                    None => {
                        sim = Some(if app.bound {
                            Simulator::new(&app.appid, &secret)
                        } else {
                            Simulator::without_unionid(&app.appid, &secret)
                        });
                    }
                    Some(s) => s.add_app(&app.appid, &secret, app.bound),
                }
                clients.push((app.appid.clone(), secret));
            }
            let sim = sim.ok_or_else(|| StartError("no app to simulate".into()))?;
            let url = sim
                .spawn()
                .await
                .map_err(|e| StartError(format!("cannot start the WeChat simulator: {e}")))?;
            let clients = clients
                .into_iter()
                .map(|(appid, secret)| {
                    WechatClient::new(http.clone(), &url, &appid, Secret::new(secret))
                })
                .collect();
            let names: Vec<String> = apps
                .iter()
                .map(|a| {
                    if a.bound {
                        a.appid.clone()
                    } else {
                        format!("{} (no unionid)", a.appid)
                    }
                })
                .collect();
            let line = format!(
                "simulator mode: a fake WeChat at {url}, appid {} (set WX_APPID and WX_SECRET, or \
                 --app APPID=SECRET, for the real WeChat API)",
                names.join(", ")
            );
            (clients, Some(sim), line)
        }
        Wechat::Real { apps, api_base } => {
            let mut clients = Vec::new();
            for app in apps {
                let secret = match (&app.secret, &sdk) {
                    (SecretSource::Parameter(_), Some(sdk)) => {
                        wxauth::bootstrap::resolve_secret(&app.secret, sdk)
                            .await
                            .map_err(|e| StartError(e.to_string()))?
                    }
                    (SecretSource::Value(s), _) => s.clone(),
                    _ => return Err(StartError(format!("no app secret for {}", app.appid))),
                };
                clients.push(WechatClient::new(
                    http.clone(),
                    api_base,
                    &app.appid,
                    secret,
                ));
            }
            let ids: Vec<&str> = apps.iter().map(|a| a.appid.as_str()).collect();
            let line = format!("WeChat API {api_base}, appid {}", ids.join(", "));
            (clients, None, line)
        }
    };

    let appids: Vec<String> = clients.iter().map(|c| c.appid().to_string()).collect();
    let functions = wxauth::bootstrap::functions(
        &sessions,
        clients,
        avatars,
        &settings.profile,
        &settings.protection,
    )
    .ok_or_else(|| StartError("no mini program configured".into()))?;
    let dev = dev.map(|sim| {
        let appids = sim.appids();
        Dev::new(sim, sessions.clone().for_apps(&appids))
    });
    let gateway = match settings.auth_mode {
        AuthMode::Skey => Gateway::new(functions, dev),
        AuthMode::Jwt => {
            let issuer = settings
                .session_jwt
                .issuer
                .clone()
                .unwrap_or_else(|| url.to_string());
            let signer: Arc<dyn JwtSigner> = match (&settings.session_jwt.key_file, &settings.store)
            {
                (Some(file), _) => Arc::new(
                    wxauth::bootstrap::read_key_file(file)
                        .map_err(|e| StartError(e.to_string()))?,
                ),
                // Sessions kept in a file: the key too, so that session JWTs survive a restart.
                (None, StoreChoice::File(data)) => Arc::new(kept_key(data)?),
                (None, _) => Arc::new(LocalKey::generate().map_err(|e| StartError(e.to_string()))?),
            };
            let jwts = SessionJwts::new(
                signer,
                Issuer::Fixed(issuer.clone()),
                settings.session_jwt.lifetime,
                sessions.clock().clone(),
            );
            // The appids served, each once (the configuration refuses repeats).
            Gateway::new(functions.with_session_jwts(jwts), dev)
                .with_jwt(jwt::JwtAuthorizer::new(&issuer, appids))
        }
    };
    Ok(App {
        gateway,
        wechat: wechat_line,
        store: store_line,
        avatars: avatars_line,
    })
}

/// The session JWT key kept next to the `--data` file (`FILE.jwt-key.pem`, the owner's only): read, or
/// made and written on the first start in JWT mode.
fn kept_key(data: &std::path::Path) -> Result<LocalKey, StartError> {
    let mut name = data.as_os_str().to_owned();
    name.push(".jwt-key.pem");
    let path = std::path::PathBuf::from(name);
    if path.exists() {
        return wxauth::bootstrap::read_key_file(&path).map_err(|e| StartError(e.to_string()));
    }
    let key = LocalKey::generate().map_err(|e| StartError(e.to_string()))?;
    let pem = key.to_pem().map_err(|e| StartError(e.to_string()))?;
    let cannot = |e: std::io::Error| StartError(format!("cannot write {}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(cannot)?;
    std::io::Write::write_all(&mut file, pem.as_bytes()).map_err(cannot)?;
    Ok(key)
}

fn open_avatars(
    choice: &AvatarChoice,
    sdk: Option<&SdkConfig>,
) -> Result<(Arc<dyn AvatarStore>, String), StartError> {
    match choice {
        AvatarChoice::Memory => Ok((Arc::new(MemoryAvatars::new()), "in memory".to_string())),
        AvatarChoice::Folder(folder) => {
            let store = MemoryAvatars::in_folder(folder).map_err(|e| {
                StartError(format!("cannot keep avatars in {}: {e}", folder.display()))
            })?;
            Ok((Arc::new(store), format!("folder {}", folder.display())))
        }
        AvatarChoice::Bucket(bucket) => {
            let Some(sdk) = sdk else {
                return Err(StartError("no AWS configuration".into()));
            };
            let http = wxauth::sdk_http::SdkHttp::new()
                .map_err(|e| StartError(format!("cannot build the HTTP client for S3: {e}")))?;
            let store = S3Avatars::new(sdk, http.reqwest().clone(), bucket)
                .map_err(|e| StartError(e.to_string()))?;
            Ok((Arc::new(store), format!("S3 bucket {bucket}")))
        }
    }
}

async fn open_store(
    choice: &StoreChoice,
    sdk: Option<&SdkConfig>,
) -> Result<(Arc<dyn Store>, String), StartError> {
    match choice {
        StoreChoice::Memory => Ok((
            Arc::new(MemoryStore::new()),
            "in memory: sessions end when the server stops (--data FILE keeps them)".to_string(),
        )),
        StoreChoice::File(path) => {
            let store = MemoryStore::open(path)
                .map_err(|e| StartError(format!("cannot use --data {}: {e}", path.display())))?;
            Ok((
                Arc::new(store),
                format!(
                    "file {}: sessions survive restarts (it holds session_keys: keep it private)",
                    path.display()
                ),
            ))
        }
        StoreChoice::Dynamo {
            table,
            create,
            endpoint,
        } => {
            let Some(sdk) = sdk else {
                return Err(StartError("no AWS configuration".into()));
            };
            let place = match endpoint {
                Some(url) => format!("at {url}"),
                None => match sdk.region() {
                    Some(r) => format!("in AWS region {r}"),
                    None => "in AWS (no region set: set AWS_REGION)".to_string(),
                },
            };
            let client = aws_sdk_dynamodb::Client::new(sdk);
            let mut line = format!("DynamoDB table {table} {place}");
            if *create {
                let created = wxauth::store::schema::create_table(&client, table)
                    .await
                    .map_err(|e| {
                        StartError(format!(
                            "cannot create DynamoDB table {table} {place}: {}",
                            DisplayErrorContext(&e)
                        ))
                    })?;
                line.push_str(if created {
                    " (created now)"
                } else {
                    " (already there)"
                });
            }
            match client.describe_table().table_name(table).send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    return Err(StartError(format!(
                        "DynamoDB table {table} does not exist {place}: add --create-table to \
                         create it with template.yaml's schema"
                    )));
                }
                Err(e) => {
                    return Err(StartError(format!(
                        "cannot reach DynamoDB table {table} {place}: {}",
                        DisplayErrorContext(&e)
                    )));
                }
            }
            Ok((Arc::new(DynamoStore::new(client, table.as_str())), line))
        }
    }
}

/// What the server prints once it listens: URL, mode, store, routes, and one command to try.
pub fn banner(settings: &Settings, local: SocketAddr, app: &App) -> String {
    let url = base_url(local);
    let mut out = format!(
        "wxauth-local {} listening on {url}\n",
        env!("CARGO_PKG_VERSION")
    );
    if local.ip().is_unspecified() {
        out.push_str(&format!(
            "  (on every interface: {local}; anyone on the network can reach it)\n"
        ));
    }
    out.push_str(&format!("  wechat  {}\n", app.wechat));
    out.push_str(&format!("  store   {}\n", app.store));
    out.push_str(&format!("  avatars {}\n", app.avatars));
    let mode = app.gateway.mode();
    out.push_str(&format!("  auth    {} mode\n", mode.name()));
    for (i, route) in wxauth::routes::served(mode).enumerate() {
        let label = if i == 0 { "  routes  " } else { "          " };
        let auth = match route.authorizer(mode) {
            Authorizer::Skey => "X-WX-Skey (authorizer)",
            Authorizer::Jwt => "Authorization: Bearer (JWT authorizer)",
            Authorizer::None => "public",
        };
        out.push_str(&format!(
            "{label}{:<6} {:<34} {auth}\n",
            route.method, route.path
        ));
    }
    if app.gateway.has_dev_routes() {
        for (i, (method, path, _, what)) in DEV_ROUTES.iter().enumerate() {
            let label = if i == 0 { "  dev     " } else { "          " };
            out.push_str(&format!("{label}{method:<6} {path:<22} {what}\n"));
        }
    }
    for note in &settings.notes {
        out.push_str(&format!("  note    {note}\n"));
    }
    out.push_str("try:\n");
    if app.gateway.has_dev_routes() {
        out.push_str(&format!(
            "  curl -s -X POST {url}/dev/code -d '{{\"user\":\"alice\"}}'\n"
        ));
    } else {
        out.push_str(&format!(
            "  curl -s -X POST {url}/login -d '{{\"code\":\"<a wx.login code>\"}}'\n"
        ));
    }
    out.push_str("Ctrl-C stops the server.");
    out
}

/// Prints a line on stdout; a closed stdout is no reason to fail.
fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// The URL clients use: an unspecified address (`0.0.0.0`) is reached on loopback.
pub fn base_url(local: SocketAddr) -> String {
    let mut addr = local;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}")
}

/// Ctrl-C and SIGTERM, installed before the banner so that no signal is missed.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, StartError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let err = |e: std::io::Error| StartError(format!("cannot handle signals: {e}"));
            Ok(Signals {
                int: signal(SignalKind::interrupt()).map_err(err)?,
                term: signal(SignalKind::terminate()).map_err(err)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for the first signal; returns its name.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// How long a client may take to send a request's headers (and, between the requests of a kept-alive
/// connection, to start the next one): a half-sent request holds a connection no longer.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve(listener: TcpListener, gateway: Gateway, mut signals: Signals) {
    let app = Router::new()
        .fallback(any_request)
        .with_state(Arc::new(gateway));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let name = loop {
        let (stream, peer) = tokio::select! {
            name = signals.recv() => break name,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let app = app.clone().layer(axum::Extension(ConnectInfo(peer)));
        let service = hyper_util::service::TowerToHyperService::new(app);
        let connection =
            graceful.watch(http.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    };
    say(&format!(
        "{name}: stopping (finishing the requests in flight)"
    ));
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            say(&format!(
                "requests still running after {} s: stopping anyway",
                SHUTDOWN_GRACE.as_secs()
            ));
        }
    }
    // The counts of the run, as CloudWatch would have summed the functions' metrics.
    for line in crate::dev::metrics().summary() {
        say(&format!("metric: {line}"));
    }
    say("stopped");
}

/// Every request: through the gateway (in its own task, so that even a panic becomes API Gateway's
/// 500 answer), then one log line.
async fn any_request(
    State(gateway): State<Arc<Gateway>>,
    axum::Extension(ConnectInfo(peer)): axum::Extension<ConnectInfo<SocketAddr>>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let task = tokio::spawn(async move { gateway.handle(req, peer).await });
    let answer = match task.await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::error!(panic = e.is_panic(), "the request's task failed");
            Answer::internal_error("crashed", &crate::gateway::new_request_id())
        }
    };
    crate::log::request(
        method.as_str(),
        &path,
        answer.response.status().as_u16(),
        started.elapsed(),
        answer.note.as_deref(),
    );
    answer.response
}
