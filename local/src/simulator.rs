//! A WeChat simulator: answers like `api.weixin.qq.com` for the APIs wxauth calls, quirks included
//! (errors with HTTP 200 and `Content-Type: text/plain`, `errmsg` with a `rid` suffix).
//!
//! It backs the local server's simulator mode and is the fake WeChat of the integration tests, which
//! also use its fault injection (slow answers, closed connections, HTTP errors, HTML).
//!
//! Behaviour:
//! - codes are minted by [`Simulator::mint_code`], are single-use (a second use is 40163) and live
//!   5 minutes; an unknown code is 40029;
//! - it serves one or more mini programs ([`Simulator::add_app`]); a user name always maps to the same
//!   openid in one app (another one in each other app) and, in the apps bound to the simulated Open
//!   Platform account, to the same unionid in all of them;
//! - each successful exchange issues a fresh session_key, which replaces the user's previous one;
//! - the codes of [`SPECIAL_CODES`] trigger the documented errors;
//! - a wrong appid is 40013, a wrong secret 40125;
//! - `cgi-bin/stable_token` returns the same access_token until shortly before it expires, then a new one,
//!   the old one staying valid a few minutes (the overlap WeChat documents);
//! - `wxa/business/getuserphonenumber` needs a valid access_token (40001/42001 otherwise) and a phone code
//!   from [`Simulator::mint_phone_code`] (single-use; countryCode sent as a number, as WeChat does); a
//!   code minted for one user ([`Simulator::mint_phone_code_for`]) redeemed with another `openid` is
//!   40029, as an invalid code (WeChat documents no errcode of its own for it);
//! - `wxa/msg_sec_check` (version 2) answers `result.suggest`: `risky` for a text containing
//!   [`RISKY_WORD`], `review` for one containing [`REVIEW_WORD`], `pass` otherwise; 40003 for an openid
//!   that is not a user of the token's app, 61010 for a user whose last login is over 2 hours old;
//! - [`Simulator::user_data`] is what `wx.getUserInfo` gives today (the anonymous "微信用户", the grey
//!   avatar, no openId or unionId in the encrypted data), [`Simulator::legacy_user_data`] the full
//!   profile of earlier years;
//! - the JSON bodies of the POST APIs are kept ([`Simulator::received`]) for tests to inspect;
//! - `wxa/checksession` verifies the HMAC-SHA256 signature made with the user's current session_key
//!   (87009 when it does not match, or after [`Simulator::invalidate_session_key`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use wxauth::clock::{Clock, SystemClock};
use wxauth::crypto;
use wxauth::handlers::userinfo::{ANONYMOUS_NICKNAME, DEFAULT_AVATAR_URL};

/// How long a minted code stays valid.
pub const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// Codes that make the simulator answer with an error, as WeChat would.
pub const SPECIAL_CODES: &[(&str, i64, &str)] = &[
    ("invalid-code", 40029, "invalid code"),
    ("code-used", 40163, "code been used"),
    ("blocked-user", 40226, "high risk user is blocked"),
    (
        "rate-limited",
        45011,
        "api minute-quota reach limit  mustslower  retry next minute",
    ),
    ("system-busy", -1, "system error"),
];

/// A nickname containing this is `risky` to `msg_sec_check`.
pub const RISKY_WORD: &str = "risky";
/// A nickname containing this is `review` to `msg_sec_check`.
pub const REVIEW_WORD: &str = "review";
/// How long after a login `msg_sec_check` still accepts the user's openid.
pub const VISIT_WINDOW: Duration = Duration::from_secs(2 * 3600);

/// A failure the simulator can be told to produce for every request, until cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally, but only after this delay.
    Delay(Duration),
    /// Accept the connection, read the request, hang up without answering.
    Close,
    /// Answer with this HTTP status and an HTML page.
    Status(u16),
    /// Answer 200 with an HTML page instead of JSON.
    Html,
    /// Answer 200 `text/plain` with exactly this body (quirks such as `"errcode":"40029"`).
    Body(String),
}

/// A single-use code WeChat issued (for `wx.login` or `getPhoneNumber`) and what it stands for.
#[derive(Debug)]
struct Issued<T> {
    value: T,
    used: bool,
    issued: Instant,
}

/// Mints a fresh code standing for `value` (forgetting codes long expired).
fn mint<T>(codes: &mut HashMap<String, Issued<T>>, value: T) -> String {
    let code = crypto::random_id().unwrap_or_else(|_| format!("{:?}", Instant::now()));
    codes.retain(|_, c| c.issued.elapsed() < CODE_LIFETIME * 2);
    codes.insert(
        code.clone(),
        Issued {
            value,
            used: false,
            issued: Instant::now(),
        },
    );
    code
}

/// Uses a code once, as WeChat does: unknown or expired is 40029, a second use 40163.
fn redeem<T: Clone>(codes: &mut HashMap<String, Issued<T>>, code: &str) -> Result<T, WxErr> {
    match codes.get_mut(code) {
        None => Err(WxErr(40029, "invalid code")),
        Some(c) if c.used => Err(WxErr(40163, "code been used")),
        Some(c) if c.issued.elapsed() > CODE_LIFETIME => Err(WxErr(40029, "invalid code")),
        Some(c) => {
            c.used = true;
            Ok(c.value.clone())
        }
    }
}

/// A simulated WeChat user of one app.
#[derive(Debug, Clone)]
pub struct SimUser {
    pub appid: String,
    pub name: String,
    pub openid: String,
    pub unionid: Option<String>,
    /// The current session_key (replaced at every login).
    pub session_key: Option<String>,
    /// When the user last logged in (a visit, to `msg_sec_check`).
    pub visited: Instant,
}

/// User data as `wx.getUserInfo` gives it to the mini program.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserData {
    pub raw_data: String,
    pub signature: String,
    pub encrypted_data: String,
    pub iv: String,
}

#[derive(Debug, Clone)]
struct Token {
    /// The app it was issued to.
    appid: String,
    value: String,
    /// When it stops working.
    dies: Instant,
}

/// How long simulated access_tokens live, and how long before expiry a new one is handed out.
#[derive(Debug, Clone, Copy)]
pub struct TokenPolicy {
    pub lifetime: Duration,
    /// stable_token hands out a new token once the current one has less than this left; the old one
    /// keeps working until it dies.
    pub renew_before: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            lifetime: Duration::from_secs(7200),
            renew_before: Duration::from_secs(300),
        }
    }
}

/// A simulated mini program: its credentials, and whether it is bound to the Open Platform account.
#[derive(Debug, Clone)]
struct SimApp {
    appid: String,
    secret: String,
    bound: bool,
}

#[derive(Debug, Default)]
struct State_ {
    /// Codes stand for (appid, user name).
    codes: HashMap<String, Issued<(String, String)>>,
    /// Phone codes stand for (phone number, the openid they were issued to).
    phone_codes: HashMap<String, Issued<(String, Option<String>)>>,
    /// JSON bodies received, per API.
    received: HashMap<String, Vec<Value>>,
    tokens: Vec<Token>,
    token_policy: TokenPolicy,
    users: HashMap<String, SimUser>,
    calls: HashMap<String, u64>,
    fault: Option<Fault>,
    /// Faults of one API only (`"stable_token"`, ...), applied before the global one.
    api_faults: HashMap<String, Fault>,
}

/// The simulator. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Simulator {
    /// The first app (what the single-app methods use).
    appid: String,
    /// Every app, the first one first.
    apps: Mutex<Vec<SimApp>>,
    state: Mutex<State_>,
}

fn wx_answer(status: StatusCode, body: Value) -> Response {
    // WeChat labels its JSON as text/plain.
    (
        status,
        [(header::CONTENT_TYPE, "text/plain")],
        body.to_string(),
    )
        .into_response()
}

fn rid() -> String {
    crypto::random_id()
        .unwrap_or_default()
        .chars()
        .take(24)
        .collect()
}

/// A WeChat error (errcode, errmsg without the rid), answered by [`wx_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WxErr(pub i64, pub &'static str);

impl IntoResponse for WxErr {
    fn into_response(self) -> Response {
        wx_error(self.0, self.1)
    }
}

/// An error answer exactly as WeChat sends it.
pub fn wx_error(errcode: i64, errmsg: &str) -> Response {
    wx_answer(
        StatusCode::OK,
        json!({"errcode": errcode, "errmsg": format!("{errmsg}, rid: {}", rid())}),
    )
}

impl Simulator {
    /// A simulator for one mini program (`appid`, `secret`); users get a unionid.
    pub fn new(appid: &str, secret: &str) -> Arc<Self> {
        Simulator::build(appid, secret, true)
    }

    /// A simulator whose users have no unionid (an app not bound to an Open Platform account).
    pub fn without_unionid(appid: &str, secret: &str) -> Arc<Self> {
        Simulator::build(appid, secret, false)
    }

    fn build(appid: &str, secret: &str, bound: bool) -> Arc<Self> {
        Arc::new(Simulator {
            appid: appid.to_string(),
            apps: Mutex::new(vec![SimApp {
                appid: appid.to_string(),
                secret: secret.to_string(),
                bound,
            }]),
            state: Mutex::new(State_::default()),
        })
    }

    /// Adds a mini program; `bound`: to the same Open Platform account as the others (its users get
    /// the unionid they have in the other bound apps), or not (no unionid).
    pub fn add_app(&self, appid: &str, secret: &str, bound: bool) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.retain(|a| a.appid != appid);
        apps.push(SimApp {
            appid: appid.to_string(),
            secret: secret.to_string(),
            bound,
        });
    }

    /// The first app.
    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// Every app, the first one first.
    pub fn appids(&self) -> Vec<String> {
        let apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.iter().map(|a| a.appid.clone()).collect()
    }

    fn app(&self, appid: &str) -> Option<SimApp> {
        let apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.iter().find(|a| a.appid == appid).cloned()
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        // A panic while holding the lock cannot leave the maps inconsistent: recover the data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn derive(scope: &str, purpose: &str, user: &str) -> String {
        let digest = Sha256::digest(format!("{purpose}:{scope}:{user}").as_bytes());
        URL_SAFE_NO_PAD.encode(digest).chars().take(27).collect()
    }

    /// The stable openid of a user name in the first app.
    pub fn openid_for(&self, user: &str) -> String {
        self.openid_in(&self.appid, user)
    }

    /// The stable openid of a user name in an app.
    pub fn openid_in(&self, appid: &str, user: &str) -> String {
        format!("o{}", Simulator::derive(appid, "openid", user))
    }

    /// The unionid of a user name in the apps bound to the Open Platform account.
    pub fn unionid_for(&self, user: &str) -> String {
        format!("u{}", Simulator::derive("open-platform", "unionid", user))
    }

    /// Mints a fresh single-use code for a user name in the first app (what `wx.login()` gives).
    pub fn mint_code(&self, user: &str) -> String {
        self.mint_code_in(&self.appid, user)
    }

    /// Mints a fresh single-use code for a user name in an app.
    pub fn mint_code_in(&self, appid: &str, user: &str) -> String {
        mint(
            &mut self.lock().codes,
            (appid.to_string(), user.to_string()),
        )
    }

    /// Makes every following request fail this way (or clears the fault).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.lock().fault = fault;
    }

    /// Makes every following request to one API (`"jscode2session"`, `"stable_token"`,
    /// `"getuserphonenumber"`, `"checksession"`) fail this way, or clears it (`Close` applies to
    /// every API only: [`Simulator::set_fault`]).
    pub fn set_api_fault(&self, api: &str, fault: Option<Fault>) {
        let mut st = self.lock();
        match fault {
            Some(f) => st.api_faults.insert(api.to_string(), f),
            None => st.api_faults.remove(api),
        };
    }

    fn fault(&self) -> Option<Fault> {
        self.lock().fault.clone()
    }

    /// How many requests an API received (`"jscode2session"`, ...), faults included.
    pub fn calls(&self, api: &str) -> u64 {
        self.lock().calls.get(api).copied().unwrap_or(0)
    }

    fn count(&self, api: &str) {
        *self.lock().calls.entry(api.to_string()).or_default() += 1;
    }

    /// A user by openid.
    pub fn user(&self, openid: &str) -> Option<SimUser> {
        self.lock().users.get(openid).cloned()
    }

    /// Mints a single-use phone code (what `getPhoneNumber` gives the phone) for a phone number such as
    /// `13800138000` (China) or `+1 4155550100`, bound to no user.
    pub fn mint_phone_code(&self, phone_number: &str) -> String {
        mint(
            &mut self.lock().phone_codes,
            (phone_number.to_string(), None),
        )
    }

    /// Mints a phone code on the phone of the user `openid`: redeemed with another openid, it fails.
    pub fn mint_phone_code_for(&self, openid: &str, phone_number: &str) -> String {
        mint(
            &mut self.lock().phone_codes,
            (phone_number.to_string(), Some(openid.to_string())),
        )
    }

    /// The JSON bodies an API received so far (`"getuserphonenumber"`, `"msg_sec_check"`), oldest
    /// first.
    pub fn received(&self, api: &str) -> Vec<Value> {
        self.lock().received.get(api).cloned().unwrap_or_default()
    }

    fn keep(&self, api: &str, body: &Value) {
        self.lock()
            .received
            .entry(api.to_string())
            .or_default()
            .push(body.clone());
    }

    /// Makes a user's last visit `age` old (`msg_sec_check` refuses users not seen for 2 hours).
    pub fn set_last_visit(&self, openid: &str, age: Duration) {
        if let Some(u) = self.lock().users.get_mut(openid) {
            u.visited = Instant::now().checked_sub(age).unwrap_or(u.visited);
        }
    }

    /// Makes WeChat forget the user's current session_key (as it does after some time): checksession
    /// answers 87009 until the next login.
    pub fn invalidate_session_key(&self, openid: &str) {
        if let Some(u) = self.lock().users.get_mut(openid) {
            u.session_key = None;
        }
    }

    /// Sets how long access_tokens live.
    pub fn set_token_policy(&self, policy: TokenPolicy) {
        self.lock().token_policy = policy;
    }

    /// Kills every access_token handed out so far (as a forced refresh elsewhere would).
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// Whether an access_token works now: the app it was issued to, or WeChat's answer.
    fn check_token(&self, token: Option<&str>) -> Result<String, WxErr> {
        let st = self.lock();
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(WxErr(41001, "access_token missing"));
        };
        match st.tokens.iter().find(|t| t.value == token) {
            Some(t) if t.dies > Instant::now() => Ok(t.appid.clone()),
            Some(_) => Err(WxErr(42001, "access_token expired")),
            None => Err(WxErr(
                40001,
                "invalid credential, access_token is invalid or not latest",
            )),
        }
    }

    /// `POST /cgi-bin/stable_token`.
    fn stable_token(&self, body: &Value) -> Response {
        let text = |k: &str| body.get(k).and_then(Value::as_str);
        if text("grant_type") != Some("client_credential") {
            return wx_error(40002, "invalid grant_type");
        }
        let app = match self.check_credentials(text("appid"), text("secret")) {
            Ok(app) => app,
            Err(e) => return e.into_response(),
        };
        let force = body
            .get("force_refresh")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut st = self.lock();
        let now = Instant::now();
        let policy = st.token_policy;
        st.tokens.retain(|t| t.dies > now);
        let current = st
            .tokens
            .iter()
            .rev()
            .find(|t| t.appid == app.appid)
            .cloned();
        let token = match current {
            Some(t) if !force && t.dies.saturating_duration_since(now) > policy.renew_before => t,
            _ => {
                let t = Token {
                    appid: app.appid.clone(),
                    value: format!("SIM_{}", crypto::random_id().unwrap_or_default()),
                    dies: now + policy.lifetime,
                };
                st.tokens.push(t.clone());
                t
            }
        };
        let expires_in = token.dies.saturating_duration_since(now).as_secs();
        wx_answer(
            StatusCode::OK,
            json!({"access_token": token.value, "expires_in": expires_in}),
        )
    }

    /// `POST /wxa/business/getuserphonenumber`.
    fn phone_number(&self, token: Option<&str>, body: &Value) -> Response {
        let appid = match self.check_token(token) {
            Ok(appid) => appid,
            Err(e) => return e.into_response(),
        };
        let Some(code) = body
            .get("code")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
        else {
            return wx_error(47001, "data format error");
        };
        let (phone, owner) = match redeem(&mut self.lock().phone_codes, code) {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        };
        let asker = body.get("openid").and_then(Value::as_str);
        if let (Some(owner), Some(asker)) = (owner, asker)
            && owner != asker
        {
            // The code was issued on another user's phone.
            return wx_error(40029, "invalid code");
        }
        let (country, pure) = match phone.strip_prefix('+') {
            Some(rest) => match rest.split_once(' ') {
                Some((cc, number)) => (cc.to_string(), number.replace(' ', "")),
                None => ("86".to_string(), rest.to_string()),
            },
            None => ("86".to_string(), phone.replace(' ', "")),
        };
        let full = if country == "86" {
            pure.clone()
        } else {
            format!("+{country}{pure}")
        };
        wx_answer(
            StatusCode::OK,
            json!({
                "errcode": 0,
                "errmsg": "ok",
                "phone_info": {
                    "phoneNumber": full,
                    "purePhoneNumber": pure,
                    // Documented as a string, sent as a number.
                    "countryCode": country.parse::<i64>().unwrap_or(86),
                    "watermark": {"timestamp": SystemClock.now(), "appid": appid}
                }
            }),
        )
    }

    /// `POST /wxa/msg_sec_check` (version 2).
    fn msg_sec_check(&self, token: Option<&str>, body: &Value) -> Response {
        let appid = match self.check_token(token) {
            Ok(appid) => appid,
            Err(e) => return e.into_response(),
        };
        let text = |k: &str| body.get(k).and_then(Value::as_str);
        let scene = body.get("scene").and_then(Value::as_i64);
        let (Some(content), Some(2), Some(1..=4)) = (
            text("content"),
            body.get("version").and_then(Value::as_i64),
            scene,
        ) else {
            return wx_error(47001, "data format error");
        };
        let user = text("openid")
            .and_then(|o| self.user(o))
            .filter(|u| u.appid == appid);
        let Some(user) = user else {
            return wx_error(40003, "invalid openid");
        };
        if user.visited.elapsed() > VISIT_WINDOW {
            return wx_error(61010, "user access record expired");
        }
        let (suggest, label) = if content.contains(RISKY_WORD) {
            ("risky", 20001)
        } else if content.contains(REVIEW_WORD) {
            ("review", 20002)
        } else {
            ("pass", 100)
        };
        wx_answer(
            StatusCode::OK,
            json!({
                "errcode": 0,
                "errmsg": "ok",
                "result": {"suggest": suggest, "label": label},
                "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest,
                    "label": label, "prob": 90}],
                "trace_id": rid(),
            }),
        )
    }

    /// `GET /wxa/checksession`.
    fn checksession(&self, q: &HashMap<String, String>) -> Response {
        let appid = match self.check_token(q.get("access_token").map(String::as_str)) {
            Ok(appid) => appid,
            Err(e) => return e.into_response(),
        };
        if q.get("sig_method").map(String::as_str) != Some("hmac_sha256") {
            return wx_error(87010, "invalid sig_method");
        }
        let key = q
            .get("openid")
            .and_then(|o| self.user(o))
            .filter(|u| u.appid == appid)
            .and_then(|u| u.session_key);
        let given = q.get("signature").map(String::as_str).unwrap_or_default();
        match key {
            Some(k) if crypto::checksession_signature(&k) == given => {
                wx_answer(StatusCode::OK, json!({"errcode": 0, "errmsg": "ok"}))
            }
            _ => wx_error(87009, "invalid signature"),
        }
    }

    /// Counts the call and applies the current fault; `Some` is the answer to send instead.
    async fn before(&self, api: &str) -> Option<Response> {
        self.count(api);
        let own = self.lock().api_faults.get(api).cloned();
        let fault = own.or_else(|| self.fault())?;
        match fault {
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                None
            }
            Fault::Status(code) => Some(
                (
                    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY),
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><body><h1>502 Bad Gateway</h1></body></html>",
                )
                    .into_response(),
            ),
            Fault::Html => Some(
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><body>系统繁忙</body></html>",
                )
                    .into_response(),
            ),
            Fault::Body(body) => {
                Some((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response())
            }
            // Handled at the connection level; a request that still arrives is answered.
            Fault::Close => None,
        }
    }

    /// Checks appid and secret like WeChat: the app, or the answer to send.
    fn check_credentials(
        &self,
        appid: Option<&str>,
        secret: Option<&str>,
    ) -> Result<SimApp, WxErr> {
        let Some(appid) = appid.filter(|a| !a.is_empty()) else {
            return Err(WxErr(41002, "appid missing"));
        };
        let app = self.app(appid).ok_or(WxErr(40013, "invalid appid"))?;
        match secret {
            None | Some("") => Err(WxErr(41004, "appsecret missing")),
            Some(s) if s != app.secret => Err(WxErr(40125, "invalid appsecret")),
            _ => Ok(app),
        }
    }

    /// `GET /sns/jscode2session`.
    fn jscode2session(&self, q: &HashMap<String, String>) -> Response {
        let app = match self.check_credentials(
            q.get("appid").map(String::as_str),
            q.get("secret").map(String::as_str),
        ) {
            Ok(app) => app,
            Err(e) => return e.into_response(),
        };
        if q.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return wx_error(40002, "invalid grant_type");
        }
        let code = match q.get("js_code") {
            Some(c) if !c.is_empty() => c.as_str(),
            _ => return wx_error(41008, "missing code"),
        };
        if let Some((_, errcode, errmsg)) = SPECIAL_CODES.iter().find(|(c, _, _)| *c == code) {
            return wx_error(*errcode, errmsg);
        }
        let mut st = self.lock();
        let (code_app, user) = match redeem(&mut st.codes, code) {
            Ok(u) => u,
            Err(e) => return e.into_response(),
        };
        if code_app != app.appid {
            // A code of another app is unknown to this one.
            return wx_error(40029, "invalid code");
        }
        let openid = self.openid_in(&app.appid, &user);
        let unionid = app.bound.then(|| self.unionid_for(&user));
        let session_key = crypto::random_base64::<16>().unwrap_or_default();
        let entry = st.users.entry(openid.clone()).or_insert_with(|| SimUser {
            appid: app.appid.clone(),
            name: user.clone(),
            openid: openid.clone(),
            unionid: unionid.clone(),
            session_key: None,
            visited: Instant::now(),
        });
        entry.session_key = Some(session_key.clone());
        entry.visited = Instant::now();
        let mut body = json!({"session_key": session_key, "openid": openid});
        if let Some(u) = unionid {
            body["unionid"] = json!(u);
        }
        wx_answer(StatusCode::OK, body)
    }

    /// The user info of a user as `wx.getUserInfo` / `getUserProfile` give it today: the anonymous
    /// nickname "微信用户", the grey default avatar, gender 0, empty language, city, province and country,
    /// and no openId or unionId in the encrypted data (only the watermark); signed and encrypted with
    /// the user's current session_key and a fresh iv. `None` if the user never logged in.
    pub fn user_data(&self, openid: &str) -> Option<UserData> {
        let user = self.user(openid)?;
        let public = json!({
            "nickName": ANONYMOUS_NICKNAME,
            "gender": 0,
            "language": "",
            "city": "",
            "province": "",
            "country": "",
            "avatarUrl": DEFAULT_AVATAR_URL,
        });
        let mut full = public.clone();
        full["watermark"] = json!({"timestamp": SystemClock.now(), "appid": user.appid});
        self.sign_and_seal(&user, &public, &full.to_string())
    }

    /// The user info of a user as `wx.getUserInfo` gave it before 2021: the user's name as nickname, a
    /// real avatar and city, and the encrypted data with openId (first, as WeChat sent it: the first
    /// block, the one a chosen iv could alter, CBC having no MAC, is then the openId the server
    /// checks), unionId and the watermark.
    pub fn legacy_user_data(&self, openid: &str) -> Option<UserData> {
        let user = self.user(openid)?;
        let public = json!({
            "nickName": user.name,
            "gender": 0,
            "language": "zh_CN",
            "city": "Shenzhen",
            "province": "Guangdong",
            "country": "China",
            "avatarUrl": format!("https://thirdwx.qlogo.cn/mmopen/vi_32/{}/132", user.openid),
        });
        let mut rest = public.clone();
        if let Some(u) = &user.unionid {
            rest["unionId"] = json!(u);
        }
        rest["watermark"] = json!({"timestamp": SystemClock.now(), "appid": user.appid});
        let rest = rest.to_string();
        let full = format!("{{\"openId\":{},{}", json!(user.openid), &rest[1..]);
        self.sign_and_seal(&user, &public, &full)
    }

    /// rawData (`public`), its signature, and `full` encrypted, with the user's current session_key.
    fn sign_and_seal(&self, user: &SimUser, public: &Value, full: &str) -> Option<UserData> {
        let session_key = user.session_key.clone()?;
        self.seal(&session_key, full).map(|(encrypted_data, iv)| {
            let raw_data = public.to_string();
            UserData {
                signature: crypto::sign_raw_data(&raw_data, &session_key),
                raw_data,
                encrypted_data,
                iv,
            }
        })
    }

    /// Encrypts a payload as WeChat does (AES-128-CBC, PKCS#7, a fresh iv): `(encryptedData, iv)`.
    pub fn seal(&self, session_key: &str, plaintext: &str) -> Option<(String, String)> {
        let iv = crypto::decode_iv(&crypto::random_base64::<16>().ok()?).ok()?;
        let ct = crypto::encrypt(session_key, plaintext.as_bytes(), &iv).ok()?;
        Some((crypto::base64_encode(&ct), crypto::base64_encode(&iv)))
    }

    /// The simulator's routes (WeChat's paths).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/sns/jscode2session", get(jscode2session))
            .route("/cgi-bin/stable_token", post(stable_token))
            .route("/wxa/business/getuserphonenumber", post(phone_number))
            .route("/wxa/msg_sec_check", post(msg_sec_check))
            .route("/wxa/checksession", get(checksession))
            .fallback(|| async { wx_error(40066, "invalid url") })
            .with_state(self.clone())
    }

    /// Serves the simulator on `listener` until the task is dropped. No keep-alive: every request
    /// is a new connection, so a fault applies to the very next request.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        let app = self.router();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let sim = self.clone();
            let app = app.clone();
            tokio::spawn(async move {
                if sim.fault() == Some(Fault::Close) {
                    sim.count("closed");
                    let mut buf = [0u8; 8192];
                    if tokio::time::timeout(Duration::from_secs(1), stream.readable())
                        .await
                        .is_ok()
                    {
                        let _ = stream.try_read(&mut buf);
                    }
                    return;
                }
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    }

    /// Starts the simulator on a free loopback port; returns its base URL.
    pub async fn spawn(self: &Arc<Self>) -> std::io::Result<String> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(self.clone().serve(listener));
        Ok(url)
    }
}

async fn jscode2session(
    State(sim): State<Arc<Simulator>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = sim.before("jscode2session").await {
        return resp;
    }
    sim.jscode2session(&q)
}

/// WeChat reads JSON bodies whatever their content type; a body that is not JSON is 47001.
fn json_body(body: &str) -> Result<Value, WxErr> {
    serde_json::from_str::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or(WxErr(47001, "data format error"))
}

async fn stable_token(State(sim): State<Arc<Simulator>>, body: String) -> Response {
    if let Some(resp) = sim.before("stable_token").await {
        return resp;
    }
    match json_body(&body) {
        Ok(v) => sim.stable_token(&v),
        Err(e) => e.into_response(),
    }
}

/// A POST API called with an access_token and a JSON body: counted, faults applied, the body kept
/// ([`Simulator::received`]), then `answer`ed.
async fn token_api(
    sim: &Simulator,
    api: &str,
    q: &HashMap<String, String>,
    body: &str,
    answer: impl FnOnce(&Simulator, Option<&str>, &Value) -> Response,
) -> Response {
    if let Some(resp) = sim.before(api).await {
        return resp;
    }
    match json_body(body) {
        Ok(v) => {
            sim.keep(api, &v);
            answer(sim, q.get("access_token").map(String::as_str), &v)
        }
        Err(e) => e.into_response(),
    }
}

async fn phone_number(
    State(sim): State<Arc<Simulator>>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    token_api(
        &sim,
        "getuserphonenumber",
        &q,
        &body,
        Simulator::phone_number,
    )
    .await
}

async fn msg_sec_check(
    State(sim): State<Arc<Simulator>>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    token_api(&sim, "msg_sec_check", &q, &body, Simulator::msg_sec_check).await
}

async fn checksession(
    State(sim): State<Arc<Simulator>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = sim.before("checksession").await {
        return resp;
    }
    sim.checksession(&q)
}
