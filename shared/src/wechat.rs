//! The WeChat server API client. One instance per process, created at init.
//!
//! WeChat answers errors with HTTP 200, `Content-Type: text/plain` and `{"errcode":N,"errmsg":"... rid: ..."}`,
//! so every body is parsed as JSON whatever its content type, `errcode` is read leniently (number or
//! string), and `errmsg` is never matched. No error built here ever contains a request URL: the
//! jscode2session URL carries the app secret.

use std::time::Duration;

use serde_json::Value;

use crate::error::WechatError;
use crate::metrics::{self, Metric};
use crate::secret::Secret;

/// Largest WeChat answer read; anything longer is not what WeChat sends.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The successful answer of `sns/jscode2session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSession {
    pub openid: String,
    pub session_key: Secret,
    pub unionid: Option<String>,
}

/// Builds the HTTP client used for WeChat: the process's shared rustls configuration ([`crate::tls`]),
/// a connect timeout and a total timeout. Created once.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, crate::tls::Error> {
    Ok(crate::tls::reqwest_builder()?
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .pool_idle_timeout(Duration::from_secs(50))
        .user_agent(concat!("wxauth/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Client of the WeChat server APIs for one mini program.
#[derive(Debug, Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    base: String,
    /// Where to go when no connection to `base` can be made at all (WeChat's disaster-recovery
    /// domain, for the default base only).
    fallback: Option<String>,
    appid: String,
    secret: Secret,
}

/// WeChat's disaster-recovery domain, for when `api.weixin.qq.com` cannot be reached.
pub const FALLBACK_API_BASE: &str = "https://api2.weixin.qq.com";

/// How one request went: WeChat's answer (or error), or no connection at all.
enum Sent {
    Answer(Result<Value, WechatError>),
    /// No connection could be made: the request cannot have reached WeChat.
    Unreachable(WechatError),
}

impl WechatClient {
    pub fn new(http: reqwest::Client, base: &str, appid: &str, secret: Secret) -> Self {
        let base = base.trim_end_matches('/').to_string();
        let fallback =
            (base == crate::config::DEFAULT_API_BASE).then(|| FALLBACK_API_BASE.to_string());
        WechatClient {
            http,
            base,
            fallback,
            appid: appid.to_string(),
            secret,
        }
    }

    /// Another fallback base than WeChat's own (tests: a simulator), or none.
    pub fn with_fallback(mut self, base: Option<&str>) -> Self {
        self.fallback = base.map(|b| b.trim_end_matches('/').to_string());
        self
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// The key that seals what this app keeps at rest (its access_token), derived from the app secret:
    /// only the functions that hold the secret can read it back ([`crate::crypto::seal_at_rest`]).
    pub fn at_rest_key(&self) -> [u8; 32] {
        crate::crypto::at_rest_key(self.secret.expose(), "wxauth access_token at rest v1")
    }

    /// Sends the request `build` makes for a base URL; when no connection to the base can be made at
    /// all, once more to the fallback, within the same deadline. Never after a request may have
    /// reached WeChat (a code is single-use).
    /// Records the call's latency and result under `api` ([`crate::metrics`]).
    async fn send(
        &self,
        api: &'static str,
        build: impl Fn(&str) -> Result<reqwest::RequestBuilder, WechatError>,
    ) -> Result<Value, WechatError> {
        let started = std::time::Instant::now();
        let answer = self.send_once_or_fallback(build).await;
        let result = answer.as_ref().map_or_else(WechatError::kind, |_| "OK");
        metrics::millis(
            Metric::WechatLatency,
            started.elapsed().as_secs_f64() * 1000.0,
            &[("Api", api)],
        );
        metrics::count(Metric::WechatCalls, &[("Api", api), ("Result", result)]);
        answer
    }

    async fn send_once_or_fallback(
        &self,
        build: impl Fn(&str) -> Result<reqwest::RequestBuilder, WechatError>,
    ) -> Result<Value, WechatError> {
        match send(build(&self.base)?).await {
            Sent::Answer(answer) => answer,
            Sent::Unreachable(e) => match &self.fallback {
                Some(fallback) => {
                    tracing::warn!(error = %e, "WeChat unreachable; trying its fallback domain");
                    match send(build(fallback)?).await {
                        Sent::Answer(answer) => answer,
                        Sent::Unreachable(e) => Err(e),
                    }
                }
                None => Err(e),
            },
        }
    }

    /// Exchanges a `wx.login` code. Never retried: a code is single-use, and a retry after a transient
    /// error would turn it into 40163.
    pub async fn code2session(&self, code: &str) -> Result<CodeSession, WechatError> {
        let query = [
            ("appid", self.appid.as_str()),
            ("secret", self.secret.expose()),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ];
        let body = self
            .send("jscode2session", |base| {
                Ok(self.http.get(url_at(base, "/sns/jscode2session", &query)?))
            })
            .await?;
        let openid = non_empty_str(&body, "openid")?;
        let session_key = non_empty_str(&body, "session_key")?;
        let unionid = body
            .get("unionid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_string);
        Ok(CodeSession {
            openid,
            session_key: Secret::new(session_key),
            unionid,
        })
    }
}

/// The phone number `getuserphonenumber` returns (countryCode normalised to a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneInfo {
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
}

impl PhoneInfo {
    /// Reads `phoneNumber`, `purePhoneNumber` and `countryCode` (a number or a string) from an object.
    pub fn from_json(v: &Value) -> Option<PhoneInfo> {
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let country_code = match v.get("countryCode")? {
            Value::Number(n) => n.as_i64().map(|c| c.to_string())?,
            Value::String(s) if !s.trim().is_empty() => {
                s.trim().trim_start_matches('+').to_string()
            }
            _ => return None,
        };
        Some(PhoneInfo {
            phone_number: text("phoneNumber")?.to_string(),
            pure_phone_number: text("purePhoneNumber")?.to_string(),
            country_code,
        })
    }
}

/// A fresh access_token and its lifetime in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: Secret,
    pub expires_in: i64,
}

impl WechatClient {
    /// `POST /cgi-bin/stable_token` in normal mode (`force_refresh: false`): WeChat returns the same token
    /// until shortly before it expires, so every instance may call it without invalidating the others'.
    pub async fn stable_token(&self) -> Result<AccessToken, WechatError> {
        let body = serde_json::json!({
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret.expose(),
            "force_refresh": false,
        });
        let answer = self
            .send("stable_token", |base| {
                Ok(self
                    .http
                    .post(url_at(base, "/cgi-bin/stable_token", &[])?)
                    .json(&body))
            })
            .await?;
        let token = non_empty_str(&answer, "access_token")?;
        if token.len() > 512 {
            return Err(WechatError::Unavailable(
                "access_token longer than 512 characters".into(),
            ));
        }
        let expires_in = answer
            .get("expires_in")
            .and_then(Value::as_i64)
            .filter(|e| *e > 0)
            .ok_or_else(|| WechatError::Unavailable("answer without expires_in".into()))?;
        Ok(AccessToken {
            token: Secret::new(token),
            expires_in,
        })
    }

    /// `POST {path}?access_token=` with a JSON body: the answer, or WeChat's error.
    async fn post_with_token(
        &self,
        api: &'static str,
        path: &str,
        access_token: &Secret,
        body: &Value,
    ) -> Result<Value, WechatError> {
        let query = [("access_token", access_token.expose())];
        self.send(api, |base| {
            Ok(self.http.post(url_at(base, path, &query)?).json(body))
        })
        .await
    }

    /// `POST /wxa/business/getuserphonenumber`: exchanges a phone code (single-use, 5 minutes) of the
    /// user `openid`. With the openid WeChat checks that the code was issued to this user (WeChat
    /// documents no errcode of its own for a mismatch: it answers as for an invalid code).
    pub async fn phone_number(
        &self,
        access_token: &Secret,
        code: &str,
        openid: &str,
    ) -> Result<PhoneInfo, WechatError> {
        let answer = self
            .post_with_token(
                "getuserphonenumber",
                "/wxa/business/getuserphonenumber",
                access_token,
                &serde_json::json!({ "code": code, "openid": openid }),
            )
            .await?;
        answer
            .get("phone_info")
            .and_then(PhoneInfo::from_json)
            .ok_or_else(|| WechatError::Unavailable("answer without phone_info".into()))
    }

    /// `POST /wxa/msg_sec_check` (version 2, scene 1: a profile) about text the user `openid` wrote.
    /// WeChat answers only for users who opened the mini program within the last 2 hours; any errcode
    /// but an access_token's or `-1` means the check could not be made ([`WechatError::Unavailable`]).
    pub async fn msg_sec_check(
        &self,
        access_token: &Secret,
        openid: &str,
        content: &str,
    ) -> Result<Suggest, WechatError> {
        let body = serde_json::json!({
            "content": content,
            "version": 2,
            "scene": MSG_SEC_SCENE_PROFILE,
            "openid": openid,
        });
        let answer = match self
            .post_with_token("msg_sec_check", "/wxa/msg_sec_check", access_token, &body)
            .await
        {
            Err(WechatError::Other { errcode, .. }) => {
                return Err(WechatError::Unavailable(format!(
                    "content check refused the request (errcode {errcode})"
                )));
            }
            other => other?,
        };
        Suggest::from_json(&answer)
            .ok_or_else(|| WechatError::Unavailable("content check answer without result".into()))
    }
}

/// The scene of `msg_sec_check` for profile fields (a nickname).
pub const MSG_SEC_SCENE_PROFILE: i64 = 1;

/// What `msg_sec_check` (version 2) advises about a text: `result.suggest`, with `result.label`
/// (100 is normal; 10001 advertising, 20001 politics, 20002 porn, 20003 insults...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suggest {
    Pass,
    Review { label: i64 },
    Risky { label: i64 },
}

impl Suggest {
    /// Reads `result.suggest` and `result.label` of an answer.
    pub fn from_json(answer: &Value) -> Option<Suggest> {
        let result = answer.get("result")?;
        let label = result.get("label").and_then(Value::as_i64).unwrap_or(0);
        match result.get("suggest")?.as_str()? {
            "pass" => Some(Suggest::Pass),
            "review" => Some(Suggest::Review { label }),
            "risky" => Some(Suggest::Risky { label }),
            _ => None,
        }
    }
}

impl WechatClient {
    /// `GET /wxa/checksession`: whether WeChat still holds `session_key` for `openid`. The signature is
    /// hex HMAC-SHA256 keyed with the session_key string over the empty message. `Ok(false)` is 87009.
    pub async fn check_session(
        &self,
        access_token: &Secret,
        openid: &str,
        session_key: &Secret,
    ) -> Result<bool, WechatError> {
        let signature = crate::crypto::checksession_signature(session_key.expose());
        let query = [
            ("access_token", access_token.expose()),
            ("signature", signature.as_str()),
            ("openid", openid),
            ("sig_method", "hmac_sha256"),
        ];
        match self
            .send("checksession", |base| {
                Ok(self.http.get(url_at(base, "/wxa/checksession", &query)?))
            })
            .await
        {
            Ok(_) => Ok(true),
            Err(WechatError::SessionKeyInvalid) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn non_empty_str(body: &Value, name: &str) -> Result<String, WechatError> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| WechatError::Unavailable(format!("answer without {name}")))
}

/// `base` + `path` + the query.
fn url_at(base: &str, path: &str, query: &[(&str, &str)]) -> Result<url::Url, WechatError> {
    let mut url = url::Url::parse(&format!("{base}{path}"))
        .map_err(|_| WechatError::Unavailable("invalid WX_API_BASE".into()))?;
    url.query_pairs_mut().extend_pairs(query);
    Ok(url)
}

/// Sends a request: the JSON body of a successful answer or the mapped WeChat error, or no connection
/// at all. Gives up at the request's deadline ([`crate::deadline`]) as at the client's own timeout.
async fn send(req: reqwest::RequestBuilder) -> Sent {
    let sent = match crate::deadline::within(req.send()).await {
        Err(_) => return Sent::Answer(Err(deadline_passed())),
        Ok(sent) => sent,
    };
    match sent {
        Err(e) if e.is_connect() && !e.is_timeout() => Sent::Unreachable(transport_error(e)),
        Err(e) => Sent::Answer(Err(transport_error(e))),
        Ok(resp) => Sent::Answer(
            crate::deadline::within(read(resp))
                .await
                .unwrap_or_else(|_| Err(deadline_passed())),
        ),
    }
}

fn deadline_passed() -> WechatError {
    WechatError::Unavailable("no answer before the deadline".into())
}

/// Reads an answer: its JSON body, or the mapped WeChat error.
async fn read(mut resp: reqwest::Response) -> Result<Value, WechatError> {
    let status = resp.status();
    if !status.is_success() {
        return Err(WechatError::Unavailable(format!(
            "HTTP {}",
            status.as_u16()
        )));
    }
    if resp
        .content_length()
        .is_some_and(|l| l > MAX_RESPONSE_BYTES as u64)
    {
        return Err(WechatError::Unavailable("answer too large".into()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(WechatError::Unavailable("answer too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    parse_body(&body)
}

/// A transport failure, described without the URL (which may carry the app secret).
fn transport_error(e: reqwest::Error) -> WechatError {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "answer interrupted"
    } else {
        "request failed"
    };
    WechatError::Unavailable(kind.to_string())
}

/// Reads `errcode` as WeChat sends it: a number, or (in some third-party documentation) a string.
fn errcode(body: &Value) -> Option<i64> {
    match body.get("errcode")? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses a WeChat answer: JSON object, `errcode` absent or 0 on success, else the mapped error.
pub fn parse_body(body: &[u8]) -> Result<Value, WechatError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| WechatError::Unavailable("answer is not JSON".into()))?;
    if !value.is_object() {
        return Err(WechatError::Unavailable(
            "answer is not a JSON object".into(),
        ));
    }
    match errcode(&value) {
        None | Some(0) => Ok(value),
        Some(code) => Err(map_errcode(code, &value)),
    }
}

fn map_errcode(code: i64, body: &Value) -> WechatError {
    match code {
        40029 => WechatError::InvalidCode,
        40163 => WechatError::CodeUsed,
        40226 => WechatError::UserBlocked,
        45011 => WechatError::RateLimited,
        -1 => WechatError::Busy,
        40013 | 40125 | 41002 | 41004 | 40164 | 61004 => WechatError::Misconfigured(code),
        40001 | 42001 | 40014 => WechatError::AccessTokenInvalid(code),
        87009 => WechatError::SessionKeyInvalid,
        _ => {
            let errmsg: String = body
                .get("errmsg")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            WechatError::Other {
                errcode: code,
                errmsg,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_with_and_without_errcode() {
        for body in [
            r#"{"openid":"o","session_key":"k"}"#,
            r#"{"openid":"o","session_key":"k","errcode":0,"errmsg":"ok"}"#,
            r#"{"openid":"o","session_key":"k","errcode":"0"}"#,
        ] {
            assert!(parse_body(body.as_bytes()).is_ok(), "{body}");
        }
    }

    #[test]
    fn errcodes_map_leniently() {
        let cases = [
            (
                r#"{"errcode":40029,"errmsg":"invalid code, rid: 6543"}"#,
                WechatError::InvalidCode,
            ),
            (
                r#"{"errcode":"40163","errmsg":"code been used, rid: 1"}"#,
                WechatError::CodeUsed,
            ),
            (
                r#"{"errcode":40226,"errmsg":"high risk"}"#,
                WechatError::UserBlocked,
            ),
            (
                r#"{"errcode":45011,"errmsg":"api minute-quota reach limit"}"#,
                WechatError::RateLimited,
            ),
            (
                r#"{"errcode":-1,"errmsg":"system error"}"#,
                WechatError::Busy,
            ),
            (r#"{"errcode":"-1"}"#, WechatError::Busy),
            (
                r#"{"errcode":40013,"errmsg":"invalid appid"}"#,
                WechatError::Misconfigured(40013),
            ),
            (
                r#"{"errcode":40125,"errmsg":"invalid appsecret"}"#,
                WechatError::Misconfigured(40125),
            ),
            (
                r#"{"errcode":87009,"errmsg":"invalid signature"}"#,
                WechatError::SessionKeyInvalid,
            ),
            (
                r#"{"errcode":42001}"#,
                WechatError::AccessTokenInvalid(42001),
            ),
            (r#"{"errcode":40029.0}"#, WechatError::InvalidCode),
        ];
        for (body, want) in cases {
            assert_eq!(parse_body(body.as_bytes()).expect_err(body), want, "{body}");
        }
        match parse_body(br#"{"errcode":99999,"errmsg":"new thing"}"#) {
            Err(WechatError::Other {
                errcode: 99999,
                errmsg,
            }) => assert_eq!(errmsg, "new thing"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn phone_info_accepts_number_or_string_country_codes() {
        let v = serde_json::json!({"phoneNumber":"13800138000","purePhoneNumber":"13800138000","countryCode":86});
        assert_eq!(
            PhoneInfo::from_json(&v).map(|p| p.country_code),
            Some("86".into())
        );
        let v = serde_json::json!({"phoneNumber":"+14155550100","purePhoneNumber":"4155550100","countryCode":"+1"});
        assert_eq!(
            PhoneInfo::from_json(&v).map(|p| p.country_code),
            Some("1".into())
        );
        for bad in [
            serde_json::json!({"phoneNumber":"1","purePhoneNumber":"1"}),
            serde_json::json!({"phoneNumber":"","purePhoneNumber":"1","countryCode":86}),
            serde_json::json!({"phoneNumber":"1","purePhoneNumber":"1","countryCode":[86]}),
        ] {
            assert_eq!(PhoneInfo::from_json(&bad), None, "{bad}");
        }
    }

    #[test]
    fn content_check_verdicts() {
        let answer = |suggest: &str| {
            serde_json::json!({"errcode": 0, "errmsg": "ok",
                "result": {"suggest": suggest, "label": 20001}, "trace_id": "t"})
        };
        assert_eq!(Suggest::from_json(&answer("pass")), Some(Suggest::Pass));
        assert_eq!(
            Suggest::from_json(&answer("review")),
            Some(Suggest::Review { label: 20001 })
        );
        assert_eq!(
            Suggest::from_json(&answer("risky")),
            Some(Suggest::Risky { label: 20001 })
        );
        assert_eq!(Suggest::from_json(&answer("maybe")), None);
        assert_eq!(Suggest::from_json(&serde_json::json!({"errcode": 0})), None);
    }

    #[test]
    fn garbage_is_unavailable() {
        for body in [
            "<html>502 Bad Gateway</html>",
            "",
            "[1,2]",
            "null",
            "{\"a\":",
            "\u{0}",
        ] {
            assert!(
                matches!(
                    parse_body(body.as_bytes()),
                    Err(WechatError::Unavailable(_))
                ),
                "{body:?}"
            );
        }
    }

    #[test]
    fn url_encodes_the_code_and_debug_hides_the_secret() {
        let c = WechatClient::new(
            reqwest::Client::new(),
            "http://h/",
            "wx1",
            Secret::new("s3cr3t"),
        );
        let url = url_at(&c.base, "/sns/jscode2session", &[("js_code", "a b&c=d")]).expect("url");
        assert_eq!(
            url.as_str(),
            "http://h/sns/jscode2session?js_code=a+b%26c%3Dd"
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(c.fallback, None, "another base has no fallback");
        let default = WechatClient::new(
            reqwest::Client::new(),
            crate::config::DEFAULT_API_BASE,
            "wx1",
            Secret::new("s"),
        );
        assert_eq!(default.fallback.as_deref(), Some(FALLBACK_API_BASE));
    }
}
