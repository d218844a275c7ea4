//! `wxauth-local`: the whole wxauth API on one machine. See `wxauth_local::server`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use wxauth::routes::AuthMode;
use wxauth_local::settings::{DEFAULT_LISTEN, Options, parse_listen};

const ENVIRONMENT: &str = "\
Environment (the Lambda functions' variables, see docs/contract.md):
  WX_APPID, WX_SECRET    the mini program's credentials: use the real WeChat API.
                         Without any secret: simulator mode, with the dev routes /dev/*.
  WX_SECRET_PARAMETER    instead of WX_SECRET: an SSM SecureString parameter name
  WX_APPS                more mini programs: APPID=SECRET,APPID=SECRET
  WX_APPS_FILE           a file of APPID=SECRET lines (keep it private)
  WX_APPIDS, WX_SECRET_PARAMETER_PREFIX
                         more appids whose secrets are SSM parameters PREFIX+APPID
  WX_API_BASE            another WeChat API base URL (default https://api.weixin.qq.com)
  SESSION_TABLE          a DynamoDB table instead of memory (AWS_ENDPOINT_URL_DYNAMODB for a
                         local DynamoDB; AWS_REGION and credentials as for any AWS SDK)
  AVATAR_BUCKET          avatars in this S3 bucket (AWS_ENDPOINT_URL_S3 for a local S3) instead
                         of memory, or of the folder FILE.avatars/ next to --data FILE
  AVATAR_BASE_URL        the origin of avatar URLs (a CDN); default: the request's own
  WXAUTH_NICKNAME_CHECK  1: nicknames go through WeChat's msg_sec_check (off by default)
  WXAUTH_AUTH_MODE       skey (default) or jwt, as --auth-mode
  WXAUTH_JWT_KEY_FILE    jwt mode: the RSA key (PKCS#8 PEM) that signs session JWTs; default: a
                         new key at every start (session JWTs then die with the server)
  WXAUTH_JWT_LIFETIME_SECONDS, WXAUTH_JWT_ISSUER (default: the server's own URL)
  SESSION_TTL_SECONDS, SESSION_IDLE_SECONDS, WX_TIMEOUT_MS
  RUST_LOG               info or debug: the functions' own log lines too";

/// The whole wxauth API on one machine: the Lambda functions' code behind an imitation of API Gateway,
/// and a WeChat simulator. No AWS, no Docker.
#[derive(Debug, Parser)]
#[command(name = "wxauth-local", version, after_help = ENVIRONMENT)]
struct Args {
    /// Address to listen on: HOST:PORT, or a port on 127.0.0.1
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN, value_parser = parse_listen)]
    listen: SocketAddr,
    /// Keep sessions in this JSON file (created if missing), and avatars in the folder FILE.avatars/,
    /// so that they survive restarts
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Create the SESSION_TABLE DynamoDB table (template.yaml's schema) if it does not exist
    #[arg(long)]
    create_table: bool,
    /// A mini program to serve, repeatable: APPID=SECRET for the real WeChat API (the secret then
    /// shows in `ps`: WX_APPS or WX_APPS_FILE keep it out), or APPID in simulator mode
    #[arg(long = "app", value_name = "APPID[=SECRET]")]
    apps: Vec<String>,
    /// Simulator mode: a mini program not bound to the simulated Open Platform account (its users
    /// get no unionid), repeatable
    #[arg(long = "unbound-app", value_name = "APPID")]
    unbound_apps: Vec<String>,
    /// skey: every protected route behind the X-WX-Skey authorizer; jwt: GET /me behind a JWT
    /// authorizer (Authorization: Bearer), POST /token and the discovery routes served
    #[arg(long, value_name = "MODE")]
    auth_mode: Option<AuthMode>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = Options {
        listen: args.listen,
        data: args.data,
        create_table: args.create_table,
        apps: args.apps,
        unbound_apps: args.unbound_apps,
        auth_mode: args.auth_mode,
    };
    match wxauth_local::server::run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "wxauth-local: error: {e}");
            ExitCode::FAILURE
        }
    }
}
