//! `wxauth-admin`: the operator's tool. Shows a user (profile, phone masked, sessions with their
//! created and last-seen times), ends one session or all of a user's, blocks and unblocks, through
//! the services the functions use ([`wxauth::sessions::Sessions`], [`wxauth::users::Users`],
//! [`wxauth::accounts::Accounts`]) over either store:
//!
//! - `--table NAME` (or `SESSION_TABLE`): the deployed DynamoDB table, with the operator's own AWS
//!   credentials and region (the standard AWS environment; `AWS_ENDPOINT_URL_DYNAMODB` for a local
//!   DynamoDB);
//! - `--data FILE`: the `--data` file of a stopped local server.
//!
//! It never prints a session_key, an skey or a whole skey hash (only its first 8 hex digits). Revoking
//! and blocking ask first, unless `--yes`; without a terminal to ask on, they refuse.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use thiserror::Error;
use wxauth::accounts::Accounts;
use wxauth::audit::Audit;
use wxauth::clock::{Clock, SystemClock};
use wxauth::error::{ServiceError, StoreError};
use wxauth::sessions::Sessions;
use wxauth::store::memory::MemoryStore;
use wxauth::store::{Phone, Session, Store, User};
use wxauth::users::Users;

/// How many hex digits of a session's skey hash are shown (enough to tell sessions apart).
const HASH_PREFIX: usize = 8;

/// The operator's tool of wxauth: users, sessions and blocks in the deployed table (your own AWS
/// credentials) or in a stopped local server's --data file.
#[derive(Debug, Parser)]
#[command(name = "wxauth-admin", version)]
struct Args {
    /// The DynamoDB table (the stack's TableName output); AWS region and credentials as for any AWS
    /// SDK, AWS_ENDPOINT_URL_DYNAMODB for a local DynamoDB
    #[arg(
        long,
        env = "SESSION_TABLE",
        value_name = "NAME",
        conflicts_with = "data"
    )]
    table: Option<String>,
    /// The --data file of a stopped local server, instead of a table
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// The mini program the openid belongs to (several mini programs: only its user and sessions)
    #[arg(long, value_name = "APPID")]
    appid: Option<String>,
    /// Do not ask before revoking or blocking
    #[arg(long, short = 'y')]
    yes: bool,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Shows a user: its account, profile, phone (masked), block and sessions
    User { openid: String },
    /// Ends every session of a user, or one (--session, the session id `user` shows)
    Revoke {
        openid: String,
        #[arg(long, value_name = "SESSION_ID")]
        session: Option<String>,
    },
    /// Blocks a user: its sessions end, its logins answer 403 USER_BLOCKED
    Block { openid: String },
    /// Lifts a user's block
    Unblock { openid: String },
}

/// What stops a command.
#[derive(Debug, Error)]
enum AdminError {
    #[error(
        "give the table (--table NAME or SESSION_TABLE) or a local server's file (--data FILE)"
    )]
    NoStore,
    #[error("{0} does not exist (the local server's --data file)")]
    NoFile(PathBuf),
    #[error("no user {0}")]
    UnknownUser(String),
    #[error("user {openid} has no session {sid}")]
    UnknownSession { openid: String, sid: String },
    #[error("not confirmed: {0}")]
    NotConfirmed(&'static str),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminError {
    /// 2: the command was refused before anything was done; 1: it failed.
    fn exit_code(&self) -> u8 {
        match self {
            AdminError::NoStore | AdminError::NoFile(_) | AdminError::NotConfirmed(_) => 2,
            _ => 1,
        }
    }
}

/// The services over the chosen store.
struct Admin {
    sessions: Sessions,
    users: Users,
    accounts: Accounts,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    appid: Option<String>,
}

async fn open_store(args: &Args) -> Result<Arc<dyn Store>, AdminError> {
    if let Some(path) = &args.data {
        if !path.exists() {
            return Err(AdminError::NoFile(path.clone()));
        }
        return Ok(Arc::new(MemoryStore::open(path)?));
    }
    let table = args.table.as_deref().ok_or(AdminError::NoStore)?;
    let sdk = wxauth::bootstrap::aws_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    Ok(Arc::new(wxauth::store::dynamo::DynamoStore::new(
        client, table,
    )))
}

impl Admin {
    async fn new(args: &Args) -> Result<Admin, AdminError> {
        let store = open_store(args).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // Lifetimes matter to logins only: the tool ends sessions, it never creates one.
        let sessions = Sessions::new(
            store.clone(),
            clock.clone(),
            wxauth::config::DEFAULT_SESSION_TTL,
            wxauth::config::DEFAULT_SESSION_IDLE,
        );
        let users = wxauth::bootstrap::users(&sessions, &Default::default());
        Ok(Admin {
            accounts: Accounts::new(store.clone(), clock.clone()),
            sessions,
            users,
            store,
            clock,
            appid: args.appid.clone(),
        })
    }

    /// The user item of an openid (of `--appid` when given).
    async fn user(&self, openid: &str) -> Result<User, AdminError> {
        let user = self.store.get_user(openid).await?;
        match user {
            Some(u) if self.of_app(u.appid.as_deref()) => Ok(u),
            _ => Err(AdminError::UnknownUser(openid.to_string())),
        }
    }

    /// Whether an item's appid is `--appid` (items without one predate several apps: any).
    fn of_app(&self, appid: Option<&str>) -> bool {
        match (&self.appid, appid) {
            (Some(wanted), Some(a)) => wanted == a,
            _ => true,
        }
    }

    /// The sessions of a user, oldest first (the index is eventually consistent: one created this
    /// very second may be missing).
    async fn sessions_of(&self, openid: &str) -> Result<Vec<Session>, AdminError> {
        let mut sessions = Vec::new();
        for hash in self.store.sessions_of(openid).await? {
            if let Some(s) = self.store.get_session(&hash).await?
                && self.of_app(s.appid.as_deref())
            {
                sessions.push(s);
            }
        }
        sessions.sort_by_key(|s| s.created_at);
        Ok(sessions)
    }

    async fn show(&self, openid: &str) -> Result<Value, AdminError> {
        let user = self.user(openid).await?;
        let account = match &user.uid {
            Some(uid) => self.accounts.resolve(uid).await?,
            None => None,
        };
        let (profile, phone, blocked) = match &account {
            Some(a) => (
                a.profile.clone(),
                a.phone.clone(),
                a.blocked_at.or(user.blocked_at),
            ),
            None => (user.profile.clone(), user.phone.clone(), user.blocked_at),
        };
        let now = self.clock.now();
        let sessions: Vec<Value> = self
            .sessions_of(openid)
            .await?
            .iter()
            .map(|s| {
                json!({
                    "session_id": s.sid,
                    "skey_hash_prefix": s.key_hash.get(..HASH_PREFIX).unwrap_or_default(),
                    "appid": s.appid,
                    "created_at": time(s.created_at),
                    "last_seen": time(s.last_seen),
                    "expires_at": time(s.expires_at),
                    "expired": s.expires_at <= now,
                })
            })
            .collect();
        Ok(json!({
            "openid": user.openid,
            "appid": user.appid,
            "uid": account.as_ref().map(|a| a.uid.clone()).or(user.uid.clone()),
            "unionid": user.unionid,
            "identities": account.as_ref().map(|a| a.identities.clone()),
            "created_at": time(user.created_at),
            "updated_at": time(user.updated_at),
            "blocked_at": blocked.map(time),
            "profile": profile,
            "phone": phone.as_ref().map(masked),
            "sessions": sessions,
        }))
    }

    async fn revoke(
        &self,
        openid: &str,
        sid: Option<&str>,
        yes: bool,
    ) -> Result<Value, AdminError> {
        self.user(openid).await?;
        let sessions = self.sessions_of(openid).await?;
        let revoked = match sid {
            Some(sid) => {
                let session = sessions.iter().find(|s| s.sid == sid).ok_or_else(|| {
                    AdminError::UnknownSession {
                        openid: openid.to_string(),
                        sid: sid.to_string(),
                    }
                })?;
                confirm(yes, &format!("End session {sid} of {openid}?"))?;
                let ended = usize::from(self.sessions.end(session).await?);
                self.audit_revoke(session, ended);
                ended
            }
            None => {
                confirm(
                    yes,
                    &format!("End all {} sessions of {openid}?", sessions.len()),
                )?;
                let ended = self.users.end_sessions(openid).await?;
                for session in &sessions {
                    self.audit_revoke(session, 1);
                }
                ended
            }
        };
        Ok(json!({"openid": openid, "revoked": revoked}))
    }

    fn audit_revoke(&self, session: &Session, ended: usize) {
        Audit::new("revoke", if ended > 0 { "ok" } else { "not_found" })
            .session(session)
            .request("admin", None)
            .emit();
    }

    async fn block(&self, openid: &str, block: bool, yes: bool) -> Result<Value, AdminError> {
        self.user(openid).await?;
        if block {
            confirm(
                yes,
                &format!("Block {openid} (its sessions end, its logins are refused)?"),
            )?;
        }
        let report = self.accounts.block_openid(openid, block).await?;
        if !report.found {
            return Err(AdminError::UnknownUser(openid.to_string()));
        }
        Ok(json!({
            "openid": openid,
            "blocked": block,
            "sessions_ended": report.sessions_ended,
        }))
    }
}

/// An epoch-seconds time as RFC 3339 (UTC).
fn time(epoch: i64) -> String {
    ::time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| {
            t.format(&::time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| epoch.to_string())
}

/// A phone number with its middle hidden: `+86 138****8000`.
fn masked(phone: &Phone) -> String {
    let digits: Vec<char> = phone.pure_phone_number.chars().collect();
    let n = digits.len();
    let shown = |r: std::ops::Range<usize>| digits[r].iter().collect::<String>();
    let number = if n >= 7 {
        format!("{}{}{}", shown(0..3), "*".repeat(n - 7), shown(n - 4..n))
    } else {
        "*".repeat(n)
    };
    format!("+{} {number}", phone.country_code)
}

/// Asks on the terminal; without one (a pipe, a script) refuses unless `--yes`.
fn confirm(yes: bool, question: &str) -> Result<(), AdminError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(AdminError::NotConfirmed(
            "stdin is not a terminal to ask on: pass --yes",
        ));
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    match answer.trim() {
        "y" | "Y" | "yes" | "YES" | "Yes" => Ok(()),
        _ => Err(AdminError::NotConfirmed("answered no")),
    }
}

/// The text form of an answer: `key  value` lines; a user's sessions as a table.
fn text(v: &Value) -> String {
    let mut out = String::new();
    let Value::Object(fields) = v else {
        return v.to_string();
    };
    for (k, v) in fields {
        match (k.as_str(), v) {
            ("sessions", Value::Array(list)) => {
                out.push_str(&format!("sessions      {}\n", list.len()));
                for s in list {
                    out.push_str(&format!(
                        "  {}  hash {}…  app {}  created {}  last seen {}  expires {}{}\n",
                        s["session_id"].as_str().unwrap_or_default(),
                        s["skey_hash_prefix"].as_str().unwrap_or_default(),
                        s["appid"].as_str().unwrap_or("-"),
                        s["created_at"].as_str().unwrap_or_default(),
                        s["last_seen"].as_str().unwrap_or_default(),
                        s["expires_at"].as_str().unwrap_or_default(),
                        if s["expired"] == true {
                            " (expired)"
                        } else {
                            ""
                        },
                    ));
                }
            }
            (_, Value::Null) => out.push_str(&format!("{k:<13} -\n")),
            (_, Value::String(s)) => out.push_str(&format!("{k:<13} {s}\n")),
            _ => out.push_str(&format!("{k:<13} {v}\n")),
        }
    }
    out
}

async fn run(args: &Args) -> Result<Value, AdminError> {
    let admin = Admin::new(args).await?;
    match &args.command {
        Command::User { openid } => admin.show(openid).await,
        Command::Revoke { openid, session } => {
            admin.revoke(openid, session.as_deref(), args.yes).await
        }
        Command::Block { openid } => admin.block(openid, true, args.yes).await,
        Command::Unblock { openid } => admin.block(openid, false, args.yes).await,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // The audit events (and the services' warnings) go to stderr; the answer to stdout.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    match run(&args).await {
        Ok(answer) => {
            let out = if args.json {
                format!("{answer}\n")
            } else {
                text(&answer)
            };
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "wxauth-admin: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked() {
        let phone = Phone {
            phone_number: "13800138000".into(),
            pure_phone_number: "13800138000".into(),
            country_code: "86".into(),
        };
        assert_eq!(masked(&phone), "+86 138****8000");
        let short = Phone {
            pure_phone_number: "12345".into(),
            ..phone
        };
        assert_eq!(masked(&short), "+86 *****");
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
    }
}
