//! A WeChat simulator: answers like `api.weixin.qq.com` for the APIs wxauth calls, quirks included
//! (errors with HTTP 200 and `Content-Type: text/plain`, `errmsg` with a `rid` suffix).
//!
//! It backs the local server's simulator mode and is the fake WeChat of the integration tests, which
//! also use its fault injection (slow answers, closed connections, HTTP errors, HTML).
//!
//! Behaviour:
//! - codes are minted by [`Simulator::mint_code`], are single-use (a second use is 40163) and live
//!   5 minutes; an unknown code is 40029;
//! - a user name always maps to the same openid (and unionid);
//! - each successful exchange issues a fresh session_key, which replaces the user's previous one;
//! - the codes of [`SPECIAL_CODES`] trigger the documented errors;
//! - a wrong appid is 40013, a wrong secret 40125.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use wxauth::crypto;

/// How long a minted code stays valid.
pub const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// Codes that make the simulator answer with an error, as WeChat would.
pub const SPECIAL_CODES: &[(&str, i64, &str)] = &[
    ("invalid-code", 40029, "invalid code"),
    ("code-used", 40163, "code been used"),
    ("blocked-user", 40226, "high risk user is blocked"),
    ("rate-limited", 45011, "api minute-quota reach limit  mustslower  retry next minute"),
    ("system-busy", -1, "system error"),
];

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
}

#[derive(Debug)]
struct CodeState {
    user: String,
    used: bool,
    issued: Instant,
}

/// A simulated WeChat user.
#[derive(Debug, Clone)]
pub struct SimUser {
    pub name: String,
    pub openid: String,
    pub unionid: Option<String>,
    /// The current session_key (replaced at every login).
    pub session_key: Option<String>,
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

#[derive(Debug, Default)]
struct State_ {
    codes: HashMap<String, CodeState>,
    users: HashMap<String, SimUser>,
    calls: HashMap<String, u64>,
    fault: Option<Fault>,
}

/// The simulator. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Simulator {
    appid: String,
    secret: String,
    with_unionid: bool,
    state: Mutex<State_>,
}

fn wx_answer(status: StatusCode, body: Value) -> Response {
    // WeChat labels its JSON as text/plain.
    (status, [(header::CONTENT_TYPE, "text/plain")], body.to_string()).into_response()
}

fn rid() -> String {
    crypto::random_id().unwrap_or_default().chars().take(24).collect()
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
        Arc::new(Simulator {
            appid: appid.to_string(),
            secret: secret.to_string(),
            with_unionid: true,
            state: Mutex::new(State_::default()),
        })
    }

    /// A simulator whose users have no unionid (an app not bound to an Open Platform account).
    pub fn without_unionid(appid: &str, secret: &str) -> Arc<Self> {
        Arc::new(Simulator {
            appid: appid.to_string(),
            secret: secret.to_string(),
            with_unionid: false,
            state: Mutex::new(State_::default()),
        })
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    fn lock(&self) -> MutexGuard<'_, State_> {
        // A panic while holding the lock cannot leave the maps inconsistent: recover the data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn derive(&self, purpose: &str, user: &str) -> String {
        let digest = Sha256::digest(format!("{purpose}:{}:{user}", self.appid).as_bytes());
        URL_SAFE_NO_PAD.encode(digest).chars().take(27).collect()
    }

    /// The stable openid of a user name.
    pub fn openid_for(&self, user: &str) -> String {
        format!("o{}", self.derive("openid", user))
    }

    /// Mints a fresh single-use code for a user name (what `wx.login()` gives the phone).
    pub fn mint_code(&self, user: &str) -> String {
        let code = crypto::random_id().unwrap_or_else(|_| format!("{:?}", Instant::now()));
        let mut st = self.lock();
        st.codes.retain(|_, c| c.issued.elapsed() < CODE_LIFETIME * 2);
        st.codes.insert(
            code.clone(),
            CodeState {
                user: user.to_string(),
                used: false,
                issued: Instant::now(),
            },
        );
        code
    }

    /// Makes every following request fail this way (or clears the fault).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.lock().fault = fault;
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

    /// Counts the call and applies the current fault; `Some` is the answer to send instead.
    async fn before(&self, api: &str) -> Option<Response> {
        self.count(api);
        match self.fault()? {
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
            // Handled at the connection level; a request that still arrives is answered.
            Fault::Close => None,
        }
    }

    /// Checks appid and secret like WeChat: `Err` is the answer to send.
    fn check_credentials(&self, appid: Option<&str>, secret: Option<&str>) -> Result<(), Response> {
        match (appid, secret) {
            (None, _) | (Some(""), _) => Err(wx_error(41002, "appid missing")),
            (Some(a), _) if a != self.appid => Err(wx_error(40013, "invalid appid")),
            (_, None) | (_, Some("")) => Err(wx_error(41004, "appsecret missing")),
            (_, Some(s)) if s != self.secret => Err(wx_error(40125, "invalid appsecret")),
            _ => Ok(()),
        }
    }

    /// `GET /sns/jscode2session`.
    fn jscode2session(&self, q: &HashMap<String, String>) -> Response {
        if let Err(resp) = self.check_credentials(
            q.get("appid").map(String::as_str),
            q.get("secret").map(String::as_str),
        ) {
            return resp;
        }
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
        let user = match st.codes.get_mut(code) {
            None => return wx_error(40029, "invalid code"),
            Some(c) if c.used => return wx_error(40163, "code been used"),
            Some(c) if c.issued.elapsed() > CODE_LIFETIME => return wx_error(40029, "invalid code"),
            Some(c) => {
                c.used = true;
                c.user.clone()
            }
        };
        let openid = self.openid_for(&user);
        let unionid = self.with_unionid.then(|| format!("u{}", self.derive("unionid", &user)));
        let session_key = crypto::random_base64::<16>().unwrap_or_default();
        let entry = st.users.entry(openid.clone()).or_insert_with(|| SimUser {
            name: user.clone(),
            openid: openid.clone(),
            unionid: unionid.clone(),
            session_key: None,
        });
        entry.session_key = Some(session_key.clone());
        let mut body = json!({"session_key": session_key, "openid": openid});
        if let Some(u) = unionid {
            body["unionid"] = json!(u);
        }
        wx_answer(StatusCode::OK, body)
    }

    /// The user info payload of a user, as `wx.getUserInfo` returns it: rawData, its signature, and
    /// the encrypted full data (with openId, unionId and the watermark), made with the user's current
    /// session_key and a fresh iv. `None` if the user never logged in.
    pub fn user_data(&self, openid: &str) -> Option<UserData> {
        let user = self.user(openid)?;
        let session_key = user.session_key.clone()?;
        let public = json!({
            "nickName": user.name,
            "gender": 0,
            "language": "zh_CN",
            "city": "Shenzhen",
            "province": "Guangdong",
            "country": "China",
            "avatarUrl": format!("https://thirdwx.qlogo.cn/mmopen/vi_32/{}/132", user.openid),
        });
        let mut full = public.clone();
        full["openId"] = json!(user.openid);
        if let Some(u) = &user.unionid {
            full["unionId"] = json!(u);
        }
        full["watermark"] = json!({"timestamp": unix_now(), "appid": self.appid});
        self.seal(&session_key, &full.to_string()).map(|(encrypted_data, iv)| {
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
        let mut iv = [0u8; 16];
        let random = crypto::random_base64::<16>().ok()?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(random).ok()?;
        iv.copy_from_slice(decoded.get(..16)?);
        let ct = crypto::encrypt(session_key, plaintext.as_bytes(), &iv).ok()?;
        Some((crypto::base64_encode(&ct), crypto::base64_encode(&iv)))
    }

    /// The simulator's routes (WeChat's paths).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/sns/jscode2session", get(jscode2session))
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
                    if tokio::time::timeout(Duration::from_secs(1), stream.readable()).await.is_ok() {
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

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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
