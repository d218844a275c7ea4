//! Errors, one type per layer, and the single mapping from errors to HTTP answers.
//!
//! - [`WechatError`], [`StoreError`], [`CryptoError`], [`ConfigError`]: what the WeChat client, the
//!   store, the crypto and the configuration report. Their messages never carry secrets.
//! - [`ServiceError`]: what the services ([`crate::sessions`], [`crate::users`],
//!   [`crate::access_token`]) report: a lower-layer error, or a decision of their own.
//! - [`ApiError`]: the HTTP layer's error, one fixed status and one stable code per variant. Every
//!   `ServiceError` becomes an `ApiError` in one place, `From<ServiceError> for ApiError`, which also
//!   logs it, at the level its cause deserves. Handlers make `ApiError`s themselves only for what they
//!   check in the request (bad bodies, no route).
//!
//! Every answer a client sees is `{"error":{"code":"..","message":".."}}`.

use http::StatusCode;
use thiserror::Error;

use crate::metrics::{self, Metric};
use crate::sessions::Rejection;

/// Errors of the WeChat client: what WeChat answered, or why it could not be asked.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WechatError {
    /// 40029: the code is unknown or malformed.
    #[error("WeChat rejected the code as invalid (40029)")]
    InvalidCode,
    /// 40163: the code was already exchanged.
    #[error("WeChat says the code was already used (40163)")]
    CodeUsed,
    /// 40226: WeChat blocks this user as high-risk.
    #[error("WeChat blocked this user as high-risk (40226)")]
    UserBlocked,
    /// 45011: too many calls for this user.
    #[error("WeChat rate limit reached (45011)")]
    RateLimited,
    /// -1: WeChat is busy.
    #[error("WeChat is busy (-1)")]
    Busy,
    /// 40013 / 40125 (and 41002/41004, missing appid or secret): the deployment is misconfigured.
    #[error("WeChat rejected the app credentials ({0}): check WX_APPID and the app secret")]
    Misconfigured(i64),
    /// 40001 / 42001 / 40014: the access_token is invalid or expired.
    #[error("WeChat rejected the access_token ({0})")]
    AccessTokenInvalid(i64),
    /// 87009: checksession says the session_key is no longer valid.
    #[error("WeChat says the session_key is no longer valid (87009)")]
    SessionKeyInvalid,
    /// Any other errcode.
    #[error("WeChat answered errcode {errcode}: {errmsg}")]
    Other { errcode: i64, errmsg: String },
    /// Timeout, connection error, HTTP error status, or a body that is not the JSON WeChat sends.
    /// The reason never contains the request URL (it carries the app secret).
    #[error("WeChat unavailable: {0}")]
    Unavailable(String),
}

impl WechatError {
    /// The kind of error, a metric dimension's value (a fixed set: never WeChat's message).
    pub fn kind(&self) -> &'static str {
        match self {
            WechatError::InvalidCode => "InvalidCode",
            WechatError::CodeUsed => "CodeUsed",
            WechatError::UserBlocked => "UserBlocked",
            WechatError::RateLimited => "RateLimited",
            WechatError::Busy => "Busy",
            WechatError::Misconfigured(_) => "Misconfigured",
            WechatError::AccessTokenInvalid(_) => "AccessTokenInvalid",
            WechatError::SessionKeyInvalid => "SessionKeyInvalid",
            WechatError::Other { .. } => "Other",
            WechatError::Unavailable(_) => "Unavailable",
        }
    }
}

/// Errors of the stores: sessions (DynamoDB or memory) and avatars (S3, a folder or memory).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store could not be reached, throttled, or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A conditional write lost (for example, a key that already exists).
    #[error("conditional write failed: {0}")]
    Conflict(String),
    /// An item is not in the shape the code writes.
    #[error("corrupt item in the session store: {0}")]
    Corrupt(String),
}

/// Errors of the user-data crypto. Deliberately coarse: the decryption failures are one variant so that
/// no caller can tell a padding error from a JSON error (no padding oracle).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// The input is not well-formed (base64, iv length) before any decryption starts.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// Any failure once decryption started (padding, UTF-8, JSON, watermark, openId).
    #[error("decryption failed")]
    DecryptFailed,
    /// The signature does not match.
    #[error("signature mismatch")]
    BadSignature,
}

/// Errors of the session JWT's signer ([`crate::session_jwt`]). Messages never carry key material.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SigningError {
    /// The signer could not be reached or failed (KMS down, throttled, a timeout).
    #[error("session JWT signer unavailable: {0}")]
    Unavailable(String),
    /// The key or the issuer is not usable as configured (an unknown or disabled KMS key, a missing
    /// permission, a key that is not RSA): the operator's to fix.
    #[error("session JWT signer misconfigured: {0}")]
    Misconfigured(String),
}

/// Errors of configuration, reported once at cold start.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("invalid value for {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("cannot read the app secret from SSM parameter {name}: {reason}")]
    Secret { name: String, reason: String },
}

/// Who refused a blocked user: WeChat (40226, a high-risk user) or this service's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockedBy {
    #[default]
    Wechat,
    Operator,
}

impl BlockedBy {
    fn message(self) -> &'static str {
        match self {
            BlockedBy::Wechat => "WeChat blocked this user as high-risk (40226)",
            BlockedBy::Operator => "this account is blocked by the service's operator",
        }
    }
}

/// Errors of the services: a lower layer's error, or a decision of the service.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// The skey does not resolve to a live session.
    #[error("session rejected: {}", .0.as_str())]
    SessionRejected(Rejection),
    /// A live session whose user item is gone: no session either.
    #[error("the session's user item does not exist")]
    UserGone,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Wechat(#[from] WechatError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The operating system's random number generator failed.
    #[error("no randomness from the OS: {0}")]
    Randomness(String),
    /// The operator blocked this user or account.
    #[error("blocked by the operator")]
    Blocked,
    /// A rate limit of this service ([`crate::limits`]) refused the request; retry after so many
    /// seconds.
    #[error("rate limit {scope} reached")]
    Limited {
        scope: &'static str,
        retry_after: u64,
    },
    /// A session JWT could not be signed.
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// WeChat's content security check (`msg_sec_check`) judged the nickname risky.
    #[error("WeChat's content check judged the nickname risky (label {0})")]
    NicknameRejected(i64),
}

/// The HTTP layer's error: every variant maps to exactly one status and one stable code.
/// `ApiError::iter()` lists every variant (the code lists of the docs and the client are held to it).
#[derive(Debug, Error, Clone, PartialEq, Eq, strum::EnumIter)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed on {0}")]
    MethodNotAllowed(String),
    #[error("the code is invalid")]
    InvalidCode,
    #[error("the code was already used; call wx.login again")]
    CodeUsed,
    #[error("this deployment does not serve that mini program (appid)")]
    UnknownApp,
    #[error("{}", .0.message())]
    UserBlocked(BlockedBy),
    #[error("too many requests; try again in {0} s")]
    RateLimited(u64),
    #[error("WeChat is busy; try again")]
    WechatBusy,
    #[error("WeChat is unavailable; try again")]
    WechatUnavailable,
    #[error("WeChat returned an unexpected error ({0})")]
    WechatError(i64),
    #[error("the service is misconfigured")]
    Misconfigured,
    #[error("the session is unknown or expired; log in again")]
    SessionExpired,
    #[error("the WeChat session_key is no longer valid; call wx.login and get fresh data")]
    SessionKeyExpired,
    #[error("signature does not match rawData")]
    InvalidSignature,
    #[error("the encrypted data could not be decrypted with this session")]
    DecryptFailed,
    #[error("{0}")]
    InvalidProfile(String),
    #[error("{0}")]
    InvalidAvatar(String),
    #[error("WeChat's content check refused this nickname; choose another one")]
    NicknameRejected,
    #[error("the store is unavailable; try again")]
    StoreUnavailable,
    #[error("the session JWT cannot be signed now; try again")]
    SigningUnavailable,
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The stable, documented code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BAD_REQUEST",
            ApiError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            ApiError::InvalidCode => "INVALID_CODE",
            ApiError::CodeUsed => "CODE_USED",
            ApiError::UnknownApp => "UNKNOWN_APP",
            ApiError::UserBlocked(_) => "USER_BLOCKED",
            ApiError::RateLimited(_) => "RATE_LIMITED",
            ApiError::WechatBusy => "WECHAT_BUSY",
            ApiError::WechatUnavailable => "WECHAT_UNAVAILABLE",
            ApiError::WechatError(_) => "WECHAT_ERROR",
            ApiError::Misconfigured => "MISCONFIGURED",
            ApiError::SessionExpired => "SESSION_EXPIRED",
            ApiError::SessionKeyExpired => "SESSION_KEY_EXPIRED",
            ApiError::InvalidSignature => "INVALID_SIGNATURE",
            ApiError::DecryptFailed => "DECRYPT_FAILED",
            ApiError::InvalidProfile(_) => "INVALID_PROFILE",
            ApiError::InvalidAvatar(_) => "INVALID_AVATAR",
            ApiError::NicknameRejected => "NICKNAME_REJECTED",
            ApiError::StoreUnavailable => "STORE_UNAVAILABLE",
            ApiError::SigningUnavailable => "SIGNING_UNAVAILABLE",
            ApiError::Internal => "INTERNAL",
        }
    }

    /// The one HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_)
            | ApiError::InvalidCode
            | ApiError::CodeUsed
            | ApiError::UnknownApp
            | ApiError::InvalidSignature
            | ApiError::DecryptFailed
            | ApiError::InvalidProfile(_)
            | ApiError::InvalidAvatar(_)
            | ApiError::NicknameRejected => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UserBlocked(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::WechatBusy
            | ApiError::WechatUnavailable
            | ApiError::StoreUnavailable
            | ApiError::SigningUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::WechatError(_) => StatusCode::BAD_GATEWAY,
            ApiError::Misconfigured | ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::SessionExpired | ApiError::SessionKeyExpired => StatusCode::UNAUTHORIZED,
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code(), "message": self.to_string()}})
    }
}

impl ApiError {
    /// The answer for what WeChat said (only through `From<ServiceError>`, which logs it).
    fn of_wechat(e: WechatError) -> Self {
        match e {
            WechatError::InvalidCode => ApiError::InvalidCode,
            WechatError::CodeUsed => ApiError::CodeUsed,
            WechatError::UserBlocked => ApiError::UserBlocked(BlockedBy::Wechat),
            // WeChat counts about 100 calls per user per minute.
            WechatError::RateLimited => ApiError::RateLimited(60),
            WechatError::Busy => ApiError::WechatBusy,
            WechatError::Misconfigured(_) => ApiError::Misconfigured,
            // Still invalid after one refresh and one retry: WeChat's side, not ours.
            WechatError::AccessTokenInvalid(_) => ApiError::WechatUnavailable,
            WechatError::SessionKeyInvalid => ApiError::SessionKeyExpired,
            WechatError::Other { errcode, .. } => ApiError::WechatError(errcode),
            WechatError::Unavailable(_) => ApiError::WechatUnavailable,
        }
    }

    /// The answer for refused user data (only through `From<ServiceError>`).
    fn of_crypto(e: CryptoError) -> Self {
        match e {
            CryptoError::Malformed(what) => ApiError::BadRequest(format!("malformed {what}")),
            CryptoError::DecryptFailed => ApiError::DecryptFailed,
            CryptoError::BadSignature => ApiError::InvalidSignature,
        }
    }
}

/// The one place where service errors become HTTP answers, logged with their cause: an error for what
/// an operator must fix or watch (the store, a misconfiguration, WeChat down), info for what a client
/// did (a dead session, a bad code, data that does not decrypt).
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::SessionRejected(why) => {
                tracing::info!(reason = why.as_str(), "session rejected");
                ApiError::SessionExpired
            }
            ServiceError::UserGone => {
                tracing::warn!("session without user item");
                ApiError::SessionExpired
            }
            ServiceError::Store(e) => {
                tracing::error!(error = %e, "store unavailable");
                metrics::count(Metric::StoreErrors, &[]);
                ApiError::StoreUnavailable
            }
            ServiceError::NicknameRejected(label) => {
                tracing::info!(label, "nickname refused by WeChat's content check");
                ApiError::NicknameRejected
            }
            ServiceError::Wechat(e) => {
                match &e {
                    WechatError::Misconfigured(_) => tracing::error!(
                        error = %e,
                        "MISCONFIGURED: WeChat refuses this appid/secret pair"
                    ),
                    WechatError::Unavailable(_)
                    | WechatError::Busy
                    | WechatError::AccessTokenInvalid(_)
                    | WechatError::Other { .. } => tracing::warn!(error = %e, "WeChat call failed"),
                    WechatError::RateLimited => {
                        metrics::count(Metric::RateLimited, &[("Scope", "wechat")]);
                        tracing::info!(error = %e, "WeChat refused");
                    }
                    _ => tracing::info!(error = %e, "WeChat refused"),
                }
                ApiError::of_wechat(e)
            }
            ServiceError::Crypto(e) => {
                tracing::info!(error = %e, "user data refused");
                match e {
                    CryptoError::DecryptFailed => metrics::count(Metric::DecryptFailures, &[]),
                    CryptoError::BadSignature => metrics::count(Metric::SignatureFailures, &[]),
                    CryptoError::Malformed(_) => {}
                }
                ApiError::of_crypto(e)
            }
            ServiceError::Signing(e) => {
                metrics::count(Metric::JwtSigningErrors, &[]);
                match &e {
                    SigningError::Misconfigured(_) => {
                        tracing::error!(error = %e, "MISCONFIGURED: the session JWT key");
                        ApiError::Misconfigured
                    }
                    SigningError::Unavailable(_) => {
                        tracing::error!(error = %e, "cannot sign a session JWT");
                        ApiError::SigningUnavailable
                    }
                }
            }
            ServiceError::Randomness(reason) => {
                tracing::error!(reason, "no randomness from the OS");
                ApiError::Internal
            }
            ServiceError::Blocked => {
                tracing::info!("refused: blocked by the operator");
                ApiError::UserBlocked(BlockedBy::Operator)
            }
            ServiceError::Limited { scope, retry_after } => {
                tracing::info!(scope, retry_after, "refused: rate limit");
                metrics::count(Metric::RateLimited, &[("Scope", scope)]);
                ApiError::RateLimited(retry_after)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wechat_errors_map_to_documented_codes() {
        let cases = [
            (WechatError::InvalidCode, 400, "INVALID_CODE"),
            (WechatError::CodeUsed, 400, "CODE_USED"),
            (WechatError::UserBlocked, 403, "USER_BLOCKED"),
            (WechatError::RateLimited, 429, "RATE_LIMITED"),
            (WechatError::Busy, 503, "WECHAT_BUSY"),
            (
                WechatError::Unavailable("timeout".into()),
                503,
                "WECHAT_UNAVAILABLE",
            ),
            (WechatError::Misconfigured(40013), 500, "MISCONFIGURED"),
            (WechatError::Misconfigured(40125), 500, "MISCONFIGURED"),
            (WechatError::SessionKeyInvalid, 401, "SESSION_KEY_EXPIRED"),
            (
                WechatError::Other {
                    errcode: 12345,
                    errmsg: "x".into(),
                },
                502,
                "WECHAT_ERROR",
            ),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(ServiceError::Wechat(err.clone()));
            assert_eq!(api.status().as_u16(), status, "{err:?}");
            assert_eq!(api.code(), code, "{err:?}");
        }
    }

    #[test]
    fn body_has_the_documented_shape() {
        let body = ApiError::SessionExpired.body();
        assert_eq!(body["error"]["code"], "SESSION_EXPIRED");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert_eq!(body.as_object().map(|o| o.len()), Some(1));
    }

    #[test]
    fn crypto_failures_collapse() {
        assert_eq!(
            ApiError::from(ServiceError::Crypto(CryptoError::DecryptFailed)).code(),
            "DECRYPT_FAILED"
        );
        assert_eq!(
            ApiError::from(ServiceError::Crypto(CryptoError::BadSignature)).code(),
            "INVALID_SIGNATURE"
        );
        assert_eq!(
            ApiError::from(ServiceError::Crypto(CryptoError::Malformed("iv"))).code(),
            "BAD_REQUEST"
        );
        assert_eq!(
            ApiError::from(ServiceError::Store(StoreError::Unavailable("x".into())))
                .status()
                .as_u16(),
            503
        );
    }
}
