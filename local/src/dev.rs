//! The dev routes of simulator mode: what a phone and WeChat would give the mini program, so that the
//! whole API can be driven with curl.
//!
//! - `POST /dev/code` `{"user":"alice","appid":"wx…"}` (both optional; default `"dev"` and the first
//!   app) → `{"code"}`: a fresh single-use `wx.login` code of that app; the same name always maps to
//!   the same openid in one app, and to the same unionid in every app bound to the simulated Open
//!   Platform account.
//! - `POST /dev/userinfo` with `X-WX-Skey` → `{"rawData","signature","encryptedData","iv"}`: what
//!   `wx.getUserInfo` gives today (the anonymous "微信用户", the grey avatar, no openId in the encrypted
//!   data), made with the newest session_key of that session's user; body `{"legacy":true}`: the full
//!   profile WeChat gave before 2021.
//! - `POST /dev/phone-code` `{"phoneNumber":"13800138000"}` (optional) → `{"code"}` for `POST /phone`;
//!   with `X-WX-Skey`, a code of that session's user (another user's `POST /phone` cannot redeem it).
//! - `GET /dev/avatar.png` → a sample PNG ([`crate::sample`]), what `chooseAvatar` gives, for
//!   `POST /avatar`.
//!
//! They exist only in simulator mode; errors have the functions' shape (`{"error":{"code","message"}}`).

use std::sync::Arc;

use lambda_http::{Body, Response};
use serde_json::{Map, Value, json};
use wxauth::error::ApiError;
use wxauth::sessions::Sessions;
use wxauth::web::{self, MAX_BODY_BYTES, StatusCode};

use crate::sample;
use crate::simulator::Simulator;

/// The simulated user of `POST /dev/code` without a name.
pub const DEFAULT_USER: &str = "dev";
/// The phone number of `POST /dev/phone-code` without one.
pub const DEFAULT_PHONE: &str = "13800138000";
const MAX_USER_LEN: usize = 128;
const MAX_PHONE_LEN: usize = 32;

/// A dev route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevRoute {
    Code,
    UserInfo,
    PhoneCode,
    AvatarPng,
    Metrics,
}

/// Every dev route: method, path, route, what it gives (for the start-up banner).
pub const DEV_ROUTES: &[(&str, &str, DevRoute, &str)] = &[
    (
        "POST",
        "/dev/code",
        DevRoute::Code,
        "{\"user\":\"alice\"} -> a wx.login code",
    ),
    (
        "POST",
        "/dev/userinfo",
        DevRoute::UserInfo,
        "X-WX-Skey -> wx.getUserInfo data for POST /userinfo ({\"legacy\":true}: before 2021)",
    ),
    (
        "POST",
        "/dev/phone-code",
        DevRoute::PhoneCode,
        "{\"phoneNumber\":\"13800138000\"} -> a getPhoneNumber code",
    ),
    (
        "GET",
        "/dev/avatar.png",
        DevRoute::AvatarPng,
        "-> a sample PNG for POST /avatar",
    ),
    (
        "GET",
        "/dev/metrics",
        DevRoute::Metrics,
        "-> the metrics the functions recorded (as their EMF lines would give CloudWatch)",
    ),
];

/// The metrics of this process: counted by the functions' code ([`wxauth::metrics`]), read by
/// `GET /dev/metrics` and the summary printed on exit.
pub fn metrics() -> &'static Arc<wxauth::metrics::Counts> {
    static COUNTS: std::sync::OnceLock<Arc<wxauth::metrics::Counts>> = std::sync::OnceLock::new();
    COUNTS.get_or_init(|| {
        let counts = Arc::new(wxauth::metrics::Counts::new());
        wxauth::metrics::install(Box::new(counts.clone()));
        counts
    })
}

/// The dev route of a method and path.
pub fn find(method: &str, path: &str) -> Option<DevRoute> {
    DEV_ROUTES
        .iter()
        .find(|(m, p, _, _)| *m == method && *p == path)
        .map(|(_, _, r, _)| *r)
}

/// The dev routes, over the simulator the server's WeChat client talks to and the server's sessions.
#[derive(Debug, Clone)]
pub struct Dev {
    sim: Arc<Simulator>,
    sessions: Sessions,
}

impl Dev {
    pub fn new(sim: Arc<Simulator>, sessions: Sessions) -> Dev {
        Dev { sim, sessions }
    }

    /// Answers a dev route. Never panics on input.
    pub async fn handle(&self, route: DevRoute, skey: Option<&str>, body: &[u8]) -> Response<Body> {
        let result = match route {
            DevRoute::Code => self.code(body),
            DevRoute::UserInfo => self.user_info(skey, body).await,
            DevRoute::PhoneCode => self.phone_code(skey, body).await,
            DevRoute::AvatarPng => {
                return web::binary("image/png", sample::png(sample::GREEN), "no-store");
            }
            DevRoute::Metrics => Ok(metrics().snapshot()),
        };
        match result {
            Ok(value) => web::json(StatusCode::OK, &value),
            Err(e) => web::error(&e),
        }
    }

    fn code(&self, body: &[u8]) -> Result<Value, ApiError> {
        let body = optional_object(body)?;
        let user = match body.get("user") {
            None | Some(Value::Null) => DEFAULT_USER,
            Some(Value::String(s)) if s.trim().is_empty() => DEFAULT_USER,
            Some(Value::String(s)) => s.trim(),
            Some(_) => return Err(ApiError::BadRequest("user must be a string".into())),
        };
        if user.chars().count() > MAX_USER_LEN || user.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(format!(
                "user must be a name of at most {MAX_USER_LEN} printable characters"
            )));
        }
        let appid = match body.get("appid") {
            None | Some(Value::Null) => self.sim.appid().to_string(),
            Some(Value::String(a)) if self.sim.appids().iter().any(|known| known == a.trim()) => {
                a.trim().to_string()
            }
            Some(Value::String(_)) => return Err(ApiError::UnknownApp),
            Some(_) => return Err(ApiError::BadRequest("appid must be a string".into())),
        };
        Ok(json!({ "code": self.sim.mint_code_in(&appid, user) }))
    }

    async fn user_info(&self, skey: Option<&str>, body: &[u8]) -> Result<Value, ApiError> {
        let body = optional_object(body)?;
        let legacy = match body.get("legacy") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ApiError::BadRequest("legacy must be a boolean".into())),
        };
        let session = self.sessions.require(skey).await?;
        let data = if legacy {
            self.sim.legacy_user_data(&session.openid)
        } else {
            self.sim.user_data(&session.openid)
        };
        let data = data.ok_or_else(|| {
            ApiError::BadRequest(
                "the simulator has no session_key for this user (the server restarted since this \
                 login): log in again with a fresh code from POST /dev/code"
                    .into(),
            )
        })?;
        serde_json::to_value(data).map_err(|_| ApiError::Internal)
    }

    async fn phone_code(&self, skey: Option<&str>, body: &[u8]) -> Result<Value, ApiError> {
        let body = optional_object(body)?;
        let phone = match body.get("phoneNumber") {
            None | Some(Value::Null) => DEFAULT_PHONE,
            Some(Value::String(s)) => s.trim(),
            Some(_) => return Err(ApiError::BadRequest("phoneNumber must be a string".into())),
        };
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let shape_ok = phone.len() <= MAX_PHONE_LEN
            && digits >= 5
            && phone
                .char_indices()
                .all(|(i, c)| c.is_ascii_digit() || c == ' ' || (c == '+' && i == 0));
        if !shape_ok {
            return Err(ApiError::BadRequest(
                "phoneNumber must look like 13800138000 or +1 4155550100".into(),
            ));
        }
        let code = match skey {
            Some(skey) => {
                let session = self.sessions.require(Some(skey)).await?;
                self.sim.mint_phone_code_for(&session.openid, phone)
            }
            None => self.sim.mint_phone_code(phone),
        };
        Ok(json!({ "code": code }))
    }
}

/// An optional JSON object body: empty (or blank) is `{}`; anything else must be a JSON object.
fn optional_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::BadRequest("request body is not valid UTF-8".into()))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::BadRequest(
            "request body must be a JSON object".into(),
        )),
        Err(e) => Err(ApiError::BadRequest(format!(
            "request body is not valid JSON (line {} column {})",
            e.line(),
            e.column()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wxauth::clock::SystemClock;
    use wxauth::store::memory::MemoryStore;

    fn dev() -> Dev {
        let sessions = Sessions::new(
            Arc::new(MemoryStore::new()),
            Arc::new(SystemClock),
            3600,
            3600,
        );
        Dev::new(Simulator::new("wxtest", "secret"), sessions)
    }

    async fn call(dev: &Dev, route: DevRoute, body: &str) -> (u16, Value) {
        let resp = dev.handle(route, None, body.as_bytes()).await;
        let status = resp.status().as_u16();
        let v = serde_json::from_slice(resp.body().as_ref()).unwrap_or(Value::Null);
        (status, v)
    }

    #[tokio::test]
    async fn codes_with_and_without_body() {
        let d = dev();
        for body in ["", "  ", "{}", r#"{"user":"alice"}"#, r#"{"user":null}"#] {
            let (status, v) = call(&d, DevRoute::Code, body).await;
            assert_eq!(status, 200, "{body}: {v}");
            assert!(v["code"].as_str().is_some_and(|c| !c.is_empty()));
        }
        for body in ["[", "[]", r#"{"user":1}"#, "{\"user\":\"a\\u0000b\"}"] {
            let (status, v) = call(&d, DevRoute::Code, body).await;
            assert_eq!(status, 400, "{body}: {v}");
            assert_eq!(v["error"]["code"], "BAD_REQUEST");
        }
        let big = format!(r#"{{"user":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
        assert_eq!(call(&d, DevRoute::Code, &big).await.0, 413);
    }

    #[tokio::test]
    async fn phone_codes() {
        let d = dev();
        for body in [
            "",
            r#"{"phoneNumber":"13800138000"}"#,
            r#"{"phoneNumber":"+1 4155550100"}"#,
        ] {
            assert_eq!(call(&d, DevRoute::PhoneCode, body).await.0, 200, "{body}");
        }
        for body in [
            r#"{"phoneNumber":"abc"}"#,
            r#"{"phoneNumber":"1+2"}"#,
            r#"{"phoneNumber":5}"#,
        ] {
            assert_eq!(call(&d, DevRoute::PhoneCode, body).await.0, 400, "{body}");
        }
    }

    #[tokio::test]
    async fn the_sample_avatar_is_a_png() {
        let resp = dev().handle(DevRoute::AvatarPng, None, b"").await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "image/png");
        assert_eq!(
            wxauth::avatars::ImageFormat::detect(resp.body().as_ref()),
            Some(wxauth::avatars::ImageFormat::Png)
        );
    }

    #[tokio::test]
    async fn userinfo_needs_a_session() {
        let d = dev();
        let (status, v) = call(&d, DevRoute::UserInfo, "").await;
        assert_eq!(status, 401);
        assert_eq!(v["error"]["code"], "SESSION_EXPIRED");
    }

    #[test]
    fn routes() {
        assert_eq!(find("POST", "/dev/code"), Some(DevRoute::Code));
        assert_eq!(find("GET", "/dev/avatar.png"), Some(DevRoute::AvatarPng));
        assert_eq!(find("GET", "/dev/code"), None);
        assert_eq!(find("POST", "/dev/other"), None);
    }
}
