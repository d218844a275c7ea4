//! The `userinfo` function: the authorized routes about the caller.
//!
//! - `POST /userinfo`: verifies and decrypts WeChat user data with the newest session_key.
//! - `GET /me`: the caller's identity (openid, appid, uid, the account's linked identities), the
//!   account's profile and phone, read from the authorizer context.
//! - `PUT /profile`: the nickname and avatar the user chose (`<input type="nickname">`, `chooseAvatar`),
//!   the nickname checked by WeChat's content security API first when `WXAUTH_NICKNAME_CHECK=1`.
//! - `POST /phone`: the phone number, from a `getPhoneNumber` code (or the legacy encrypted form).
//! - `POST /logout`: ends this session, every session of the user in this app (`{"all":true}`), or
//!   every session of the account in every app (`{"account":true}`).
//!
//! When decryption or the signature check fails, WeChat's `checksession` tells whether the session_key
//! is stale (`SESSION_KEY_EXPIRED`: the client must `wx.login` again) or the data is wrong
//! (`DECRYPT_FAILED`); that check runs at most once a minute per session.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{action, no_route, respond, wechat_code};
use crate::apps::{App, Apps};
use crate::audit::{self, Audit};
use crate::avatars::AvatarUrls;
use crate::config::ProfileOptions;
use crate::crypto::{self, Expect};
use crate::deadline;
use crate::error::{ApiError, CryptoError};
use crate::identity::Caller;
use crate::limits::Scope;
use crate::routes::{Action, Function};
use crate::sessions::Sessions;
use crate::store::{Profile, Session, User};
use crate::users::Users;
use crate::web::{self, StatusCode, parse_json};
use crate::wechat::PhoneInfo;

/// Longest nickname, in characters (after trimming).
pub const MAX_NICKNAME_CHARS: usize = 64;
/// Longest avatar URL, in bytes.
pub const MAX_AVATAR_URL_BYTES: usize = 1024;
/// The nickname of the anonymous user info WeChat gives since 2021/2022 (`getUserInfo`,
/// `getUserProfile`): a placeholder, never saved over a profile.
pub const ANONYMOUS_NICKNAME: &str = "微信用户";
/// The grey default avatar of the anonymous user info: a placeholder too.
pub const DEFAULT_AVATAR_URL: &str = "https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserInfoBody {
    raw_data: Option<String>,
    signature: Option<String>,
    encrypted_data: String,
    iv: String,
}

#[derive(Debug, Default, Deserialize)]
struct LogoutBody {
    /// Every session of this openid (this app).
    #[serde(default)]
    all: Option<bool>,
    /// Every session of the account, in every app.
    #[serde(default)]
    account: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileBody {
    nick_name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneBody {
    code: Option<String>,
    encrypted_data: Option<String>,
    iv: Option<String>,
}

/// The userinfo function.
#[derive(Debug, Clone)]
pub struct UserinfoHandler {
    sessions: Sessions,
    users: Users,
    budget: Duration,
    apps: Arc<Apps>,
    nickname_check: bool,
    urls: AvatarUrls,
}

impl UserinfoHandler {
    pub fn new(
        sessions: Sessions,
        users: Users,
        apps: Arc<Apps>,
        options: &ProfileOptions,
    ) -> Self {
        UserinfoHandler {
            sessions,
            users,
            apps,
            nickname_check: options.nickname_check,
            urls: AvatarUrls::new(options.avatar_base_url.clone()),
            budget: deadline::USERINFO_BUDGET,
        }
    }

    /// Another budget per request than [`deadline::USERINFO_BUDGET`] (tests).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Answers one request; never fails, never panics on input.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        respond(&req, Function::Userinfo, self.budget, |req| self.route(req)).await
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        match action(req, Function::Userinfo)? {
            Action::Userinfo => self.userinfo(req).await,
            Action::Me => self.me(req).await,
            Action::Profile => self.profile(req).await,
            Action::Phone => self.phone(req).await,
            Action::Logout => self.logout(req).await,
            Action::Login
            | Action::RenewJwt
            | Action::OpenidConfiguration
            | Action::Jwks
            | Action::Avatar
            | Action::AvatarImage => Err(no_route(req)),
        }
    }

    async fn userinfo(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = self.sessions.require(web::skey_header(req)).await?;
        let body: UserInfoBody = parse_json(req)?;
        if body.encrypted_data.trim().is_empty() || body.iv.trim().is_empty() {
            return Err(ApiError::BadRequest(
                "encryptedData and iv must not be empty".into(),
            ));
        }
        if body.raw_data.is_some() != body.signature.is_some() {
            return Err(ApiError::BadRequest(
                "rawData and signature must be sent together".into(),
            ));
        }
        let app = self.apps.of_session(&session)?;
        let user = self.users.get(&session.openid).await?;
        let key = user.session_key.expose();
        let expect = Expect {
            appid: app.appid(),
            openid: Some(&session.openid),
        };
        let opened = match (&body.raw_data, &body.signature) {
            (Some(raw), Some(sig)) => crypto::verify_signature(raw, key, sig),
            _ => Ok(()),
        }
        .and_then(|()| crypto::open_user_data(key, &body.encrypted_data, &body.iv, expect));
        let data = match opened {
            Ok(data) => data,
            Err(e) => return Err(self.refuse(req, app, &session, &user, e).await),
        };
        let account = self.users.account(&user, app.appid()).await?;
        let update = profile_from(&data);
        if update != Profile::default() {
            self.users.update_profile(&account, update).await?;
        }
        Ok(web::json(StatusCode::OK, &json!({ "user": data })))
    }

    async fn me(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let Some(caller) = Caller::from_request(req) else {
            tracing::error!("no authorizer context: is this route behind the wxauth authorizer?");
            return Err(ApiError::SessionExpired);
        };
        let user = self.users.get(&caller.openid).await?;
        let appid = caller
            .appid
            .clone()
            .or_else(|| user.appid.clone())
            .unwrap_or_else(|| self.apps.first().appid().to_string());
        let account = self.users.account(&user, &appid).await?;
        Ok(web::json(
            StatusCode::OK,
            &json!({
                "openid": caller.openid,
                "unionid": caller.unionid.or(user.unionid).or(account.unionid),
                "appid": appid,
                "uid": account.uid,
                "user": account.profile,
                "phone": account.phone,
                "identities": account.identities,
            }),
        ))
    }

    async fn profile(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = self.sessions.require(web::skey_header(req)).await?;
        let body: ProfileBody = parse_json(req)?;
        let origin = web::origin(req);
        let update = validate_profile(body, |url| self.urls.issued(origin.as_deref(), url))?;
        let app = self.apps.of_session(&session)?;
        if self.nickname_check
            && let Some(nickname) = &update.nick_name
        {
            self.users
                .check_nickname(app, &session.openid, nickname)
                .await?;
        }
        let user = self.users.get(&session.openid).await?;
        let account = self.users.account(&user, app.appid()).await?;
        let profile = self.users.update_profile(&account, update).await?;
        Ok(web::json(StatusCode::OK, &json!({ "user": profile })))
    }

    async fn phone(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = self.sessions.require(web::skey_header(req)).await?;
        let body: PhoneBody = parse_json(req)?;
        let app = self.apps.of_session(&session)?;
        let code = body
            .code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let info = match (code, body.encrypted_data.as_deref(), body.iv.as_deref()) {
            (Some(code), _, _) => {
                let code = wechat_code(code, "getPhoneNumber")?;
                // Each successful exchange is billed: count it per session first.
                self.users
                    .limits()
                    .hit(Scope::PhonePerSession, &session.sid)
                    .await?;
                self.users
                    .phone_from_code(app, &session.openid, code)
                    .await?
            }
            (None, Some(enc), Some(iv)) if !enc.trim().is_empty() && !iv.trim().is_empty() => {
                let user = self.users.get(&session.openid).await?;
                let expect = Expect {
                    appid: app.appid(),
                    openid: None,
                };
                let opened = crypto::open_user_data(user.session_key.expose(), enc, iv, expect)
                    .and_then(|data| {
                        PhoneInfo::from_json(&Value::Object(data)).ok_or(CryptoError::DecryptFailed)
                    });
                match opened {
                    Ok(info) => info,
                    Err(e) => return Err(self.refuse(req, app, &session, &user, e).await),
                }
            }
            _ => {
                return Err(ApiError::BadRequest(
                    "send {\"code\"} from getPhoneNumber, or {\"encryptedData\",\"iv\"}".into(),
                ));
            }
        };
        let user = self.users.get(&session.openid).await?;
        let account = self.users.account(&user, app.appid()).await?;
        let phone = self.users.save_phone(&account, info).await?;
        Ok(web::json(StatusCode::OK, &json!({ "phone": phone })))
    }

    /// User data that did not open with the session's key: the answer ([`Users::explain_failure`]:
    /// `SESSION_KEY_EXPIRED` when WeChat says the key is stale), audited as `decrypt_failed`.
    async fn refuse(
        &self,
        req: &Request,
        app: &App,
        session: &Session,
        user: &User,
        e: CryptoError,
    ) -> ApiError {
        let answer: ApiError = self
            .users
            .explain_failure(app, session, user, e)
            .await
            .into();
        let (request_id, client_ip) = audit::of_request(req);
        Audit::new("decrypt_failed", answer.code())
            .session(session)
            .request(&request_id, client_ip.as_deref())
            .emit();
        answer
    }

    async fn logout(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = self.sessions.require(web::skey_header(req)).await?;
        let empty = web::body_bytes(req)?.iter().all(u8::is_ascii_whitespace);
        let body: LogoutBody = if empty {
            LogoutBody::default()
        } else {
            parse_json(req)?
        };
        let all = body.all == Some(true);
        let everywhere = body.account == Some(true);
        let mut revoked = usize::from(self.sessions.end(&session).await?);
        if everywhere {
            let app = self.apps.of_session(&session)?;
            let user = self.users.get(&session.openid).await?;
            let account = self.users.account(&user, app.appid()).await?;
            revoked += self.users.end_account_sessions(&account).await?;
        } else if all {
            revoked += self.users.end_sessions(&session.openid).await?;
        }
        tracing::info!(
            session_id = session.sid,
            revoked,
            all,
            account = everywhere,
            "logged out"
        );
        let (request_id, client_ip) = audit::of_request(req);
        let scope = match (everywhere, all) {
            (true, _) => "ok: account",
            (false, true) => "ok: all",
            (false, false) => "ok",
        };
        Audit::new("logout", scope)
            .session(&session)
            .request(&request_id, client_ip.as_deref())
            .emit();
        Ok(web::json(StatusCode::OK, &json!({ "revoked": revoked })))
    }
}

/// Checks a `PUT /profile` body: a nickname of 1 to [`MAX_NICKNAME_CHARS`] characters after trimming
/// without control (Cc) or format (Cf) characters but U+200D (the zero-width joiner of emoji
/// sequences), an avatar URL of at most [`MAX_AVATAR_URL_BYTES`] bytes that is https or one this
/// deployment issued (`issued`: the local server's are http); at least one of them.
fn validate_profile(body: ProfileBody, issued: impl Fn(&str) -> bool) -> Result<Profile, ApiError> {
    let invalid = |m: &str| ApiError::InvalidProfile(m.to_string());
    if body.nick_name.is_none() && body.avatar_url.is_none() {
        return Err(invalid("send nickName and/or avatarUrl"));
    }
    let nick_name = match body.nick_name {
        None => None,
        Some(n) => {
            let n = n.trim();
            let chars = n.chars().count();
            if chars == 0 || chars > MAX_NICKNAME_CHARS {
                return Err(invalid(&format!(
                    "nickName must be 1 to {MAX_NICKNAME_CHARS} characters"
                )));
            }
            if n.chars().any(|c| c.is_control() || is_format(c)) {
                return Err(invalid(
                    "nickName must not contain control or invisible format characters",
                ));
            }
            Some(n.to_string())
        }
    };
    let avatar_url = match body.avatar_url {
        None => None,
        Some(u) => {
            if u.len() > MAX_AVATAR_URL_BYTES {
                return Err(invalid(&format!(
                    "avatarUrl must be at most {MAX_AVATAR_URL_BYTES} bytes"
                )));
            }
            if u.is_empty() || u.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(invalid("avatarUrl must be an https URL"));
            }
            match url::Url::parse(&u) {
                Ok(parsed)
                    if (parsed.scheme() == "https" || issued(&u))
                        && parsed.host_str().is_some_and(|h| !h.is_empty())
                        && parsed.username().is_empty()
                        && parsed.password().is_none() => {}
                _ => return Err(invalid("avatarUrl must be an https URL")),
            }
            Some(u)
        }
    };
    Ok(Profile {
        nick_name,
        avatar_url,
        ..Profile::default()
    })
}

/// Whether `c` is a format character (Unicode general category Cf, Unicode 16) other than U+200D:
/// invisible characters that reorder or hide text (bidi overrides such as U+202E, zero-width spaces,
/// the byte order mark, tags).
pub fn is_format(c: char) -> bool {
    const FORMAT: &[(u32, u32)] = &[
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x180E, 0x180E),
        (0x200B, 0x200C),
        (0x200E, 0x200F),
        (0x202A, 0x202E),
        (0x2060, 0x2064),
        (0x2066, 0x206F),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
    ];
    let c = u32::from(c);
    FORMAT.iter().any(|(from, to)| (*from..=*to).contains(&c))
}

/// The profile fields of decrypted user info (WeChat's names). What today's anonymous user info holds
/// instead of data is left out, so that it never replaces what the user filled in: the nickname
/// "微信用户", the grey default avatar, gender 0 (unknown) and empty strings (its city, province,
/// country, language).
fn profile_from(data: &serde_json::Map<String, Value>) -> Profile {
    let text = |k: &str| {
        data.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    Profile {
        nick_name: text("nickName").filter(|n| n != ANONYMOUS_NICKNAME),
        avatar_url: text("avatarUrl").filter(|u| u != DEFAULT_AVATAR_URL),
        gender: data
            .get("gender")
            .and_then(Value::as_i64)
            .filter(|g| *g != 0),
        language: text("language"),
        city: text("city"),
        province: text("province"),
        country: text("country"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(nick: Option<&str>, url: Option<&str>) -> ProfileBody {
        ProfileBody {
            nick_name: nick.map(str::to_string),
            avatar_url: url.map(str::to_string),
        }
    }

    fn validate(body: ProfileBody) -> Result<Profile, ApiError> {
        validate_profile(body, |url| {
            url.starts_with("http://127.0.0.1:3000/avatars/")
        })
    }

    #[test]
    fn profile_validation() {
        let ok = validate(body(
            Some("  小明  "),
            Some("https://thirdwx.qlogo.cn/a/132"),
        ))
        .expect("valid");
        assert_eq!(ok.nick_name.as_deref(), Some("小明"));
        assert!(validate(body(Some(&"字".repeat(64)), None)).is_ok());
        // Emoji sequences keep their zero-width joiner.
        assert!(validate(body(Some("👩\u{200D}💻 小明"), None)).is_ok());
        assert!(validate(body(None, Some("http://127.0.0.1:3000/avatars/u/v.png"))).is_ok());
        assert!(
            validate(body(
                None,
                Some(&format!("https://e.com/{}", "a".repeat(1004)))
            ))
            .is_ok()
        );
        for (nick, url) in [
            (None, None),
            (Some(""), None),
            (Some("   "), None),
            (Some(&*"字".repeat(65)), None),
            (Some("a\u{0}b"), None),
            (Some("tab\there"), None),
            (Some("abc\u{202E}gnp.exe"), None),
            (Some("zero\u{200B}width"), None),
            (Some("\u{FEFF}bom"), None),
            (Some("soft\u{AD}hyphen"), None),
            (Some("tag\u{E0041}"), None),
            (Some("c1\u{85}x"), None),
            (None, Some("")),
            (None, Some("http://e.com/a.png")),
            (None, Some("http://127.0.0.1:3001/avatars/u/v.png")),
            (None, Some("javascript:alert(1)")),
            (None, Some("https://")),
            (None, Some("https://user:pw@e.com/a")),
            (None, Some("https://e.com/a b")),
            (None, Some(&*format!("https://e.com/{}", "a".repeat(1011)))),
        ] {
            let err = validate(body(nick, url)).expect_err("invalid");
            assert_eq!(err.code(), "INVALID_PROFILE", "{nick:?} {url:?}");
        }
    }

    #[test]
    fn anonymous_placeholders_are_not_profile_data() {
        let anonymous = json!({"nickName": ANONYMOUS_NICKNAME, "gender": 0, "language": "",
            "city": "", "province": "", "country": "", "avatarUrl": DEFAULT_AVATAR_URL});
        let profile = profile_from(anonymous.as_object().expect("object"));
        assert_eq!(profile, Profile::default());
        let real = json!({"nickName": "alice", "city": "Shenzhen", "avatarUrl": "https://x/1"});
        let profile = profile_from(real.as_object().expect("object"));
        assert_eq!(profile.nick_name.as_deref(), Some("alice"));
        assert_eq!(profile.city.as_deref(), Some("Shenzhen"));
    }

    #[test]
    fn format_characters() {
        for c in [
            '\u{202E}',
            '\u{200B}',
            '\u{2066}',
            '\u{FEFF}',
            '\u{E007F}',
            '\u{AD}',
        ] {
            assert!(is_format(c), "{c:?}");
        }
        for c in ['\u{200D}', 'a', '字', '\u{FE0F}', '😀'] {
            assert!(!is_format(c), "{c:?}");
        }
    }
}
