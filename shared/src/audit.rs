//! Audit events: one structured log line (message `audit`) per login, logout, revocation, block,
//! unblock and refused user data, always with the same fields, so that CloudWatch Logs Insights can
//! answer "recent logins of a user", "who logged in from where" and "why do logins fail now"
//! (README, Operations):
//!
//! | field | value |
//! |---|---|
//! | `event` | `login`, `logout`, `revoke`, `block`, `unblock`, `decrypt_failed` |
//! | `appid` | the mini program, `""` when unknown |
//! | `openid` / `uid` | the user and the account, `""` when unknown |
//! | `session_id` | the session's non-secret id (never the skey nor its hash), `""` when none |
//! | `client_ip` | the client's address as the rate limits see it, `""` outside a request |
//! | `outcome` | `ok`, or the error code / reason |
//! | `request_id` | API Gateway's request id; `admin` for the operator's tool |
//!
//! Never a session_key, an skey or a secret: the fields are ids only.

use lambda_http::Request;

use crate::web;

/// The `tracing` target of audit events.
pub const TARGET: &str = "wxauth::audit";

/// One audit event (the fields of the table above; unset ones are logged as `""`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Audit<'a> {
    pub event: &'static str,
    pub appid: Option<&'a str>,
    pub openid: Option<&'a str>,
    pub uid: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub client_ip: Option<&'a str>,
    pub outcome: &'a str,
    pub request_id: Option<&'a str>,
}

impl<'a> Audit<'a> {
    /// An event with this outcome.
    pub fn new(event: &'static str, outcome: &'a str) -> Self {
        Audit {
            event,
            outcome,
            ..Audit::default()
        }
    }

    /// The user, the account and the app of a session.
    pub fn session(mut self, session: &'a crate::store::Session) -> Self {
        self.appid = session.appid.as_deref().or(self.appid);
        self.openid = Some(&session.openid);
        self.uid = session.uid.as_deref();
        self.session_id = Some(&session.sid);
        self
    }

    /// The request's id and the client's address.
    pub fn request(mut self, request_id: &'a str, client_ip: Option<&'a str>) -> Self {
        self.request_id = Some(request_id);
        self.client_ip = client_ip;
        self
    }

    /// Logs the event (at info, on the target [`TARGET`]).
    pub fn emit(&self) {
        let or_empty = |v: Option<&str>| v.unwrap_or_default().to_string();
        tracing::info!(
            target: TARGET,
            event = self.event,
            appid = or_empty(self.appid),
            openid = or_empty(self.openid),
            uid = or_empty(self.uid),
            session_id = or_empty(self.session_id),
            client_ip = or_empty(self.client_ip),
            outcome = self.outcome,
            request_id = or_empty(self.request_id),
            "audit"
        );
    }
}

/// The request id and client address of a request of a function behind the authorizer (the address
/// API Gateway saw).
pub fn of_request(req: &Request) -> (String, Option<String>) {
    (web::request_id(req), web::client_ip(req, 0))
}
