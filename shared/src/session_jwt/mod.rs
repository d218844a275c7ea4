//! The session JWT of `jwt` mode ([`crate::routes::AuthMode::Jwt`]): a short-lived RS256 token that
//! API Gateway's JWT authorizer checks by itself (signature against the JWKS this service publishes,
//! `iss`, `aud`, `exp`, `nbf`, `iat`), so an authorized request costs no Lambda invocation and no
//! DynamoDB read. The skey stays the long-lived credential: `POST /login` and `POST /token` (with
//! `X-WX-Skey`) issue session JWTs, and a logout ends the skey at once; a session JWT already issued
//! lives until its `exp` (at most [`MAX_LIFETIME`]).
//!
//! Called "session JWT" everywhere, never "token" alone: WeChat's access_token is another thing.
//!
//! The claims carry what the skey authorizer puts in its context, and
//! [`crate::identity::Caller::from_claims`] reads them back:
//!
//! | claim     | context field | what                                   |
//! |-----------|---------------|----------------------------------------|
//! | `sub`     | `openid`      | the openid in the mini program         |
//! | `aud`     | `appid`       | the mini program                       |
//! | `sid`     | `session_id`  | the non-secret id of the skey session  |
//! | `unionid` | `unionid`     | when WeChat gave one                   |
//! | `uid`     | `uid`         | the account id across the mini programs|
//!
//! and `iss`, `iat`, `nbf`, `exp`; the header names the key (`kid`). Keys sign behind [`JwtSigner`]:
//! an AWS KMS key deployed ([`kms`], the private key never leaves KMS), an RSA key in memory locally
//! ([`local`]).

#[cfg(feature = "aws")]
pub mod kms;
pub mod local;

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::error::{ServiceError, SigningError};
use crate::store::Session;

/// The one signing algorithm: RSASSA-PKCS1-v1_5 with SHA-256 (KMS: `RSASSA_PKCS1_V1_5_SHA_256`),
/// which API Gateway's JWT authorizers accept.
pub const ALGORITHM: &str = "RS256";
/// Default lifetime of a session JWT, in seconds.
pub const DEFAULT_LIFETIME: i64 = 600;
/// Shortest lifetime accepted.
pub const MIN_LIFETIME: i64 = 60;
/// Longest lifetime accepted: the bound on how long a session JWT outlives a logout or a block.
pub const MAX_LIFETIME: i64 = 3600;
/// The discovery document's path under the issuer.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// The JWKS's path under the issuer.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// `Cache-Control` of the discovery document and the JWKS: short enough for a key rotation's steps.
pub const DISCOVERY_CACHE: &str = "public, max-age=300";

/// The claims of a session JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The appid.
    pub aud: String,
    /// The openid.
    pub sub: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// The session id (never the skey).
    pub sid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// One public key of the JWKS (RSA: modulus and exponent, base64url, big-endian).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: String,
    pub n: String,
    pub e: String,
}

impl Jwk {
    /// The key from its big-endian modulus and exponent.
    pub fn rsa(kid: impl Into<String>, modulus: &[u8], exponent: &[u8]) -> Jwk {
        Jwk {
            kid: kid.into(),
            n: URL_SAFE_NO_PAD.encode(strip_zeros(modulus)),
            e: URL_SAFE_NO_PAD.encode(strip_zeros(exponent)),
        }
    }

    /// The JWK as published (RFC 7517).
    pub fn to_json(&self) -> Value {
        json!({"kty": "RSA", "use": "sig", "alg": ALGORITHM, "kid": self.kid, "n": self.n, "e": self.e})
    }

    /// The RFC 7638 thumbprint: base64url SHA-256 of the required members in order.
    pub fn thumbprint(modulus: &[u8], exponent: &[u8]) -> String {
        use sha2::Digest as _;
        let key = Jwk::rsa("", modulus, exponent);
        let canonical = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, key.e, key.n);
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()))
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Signs session JWTs and publishes its public keys.
#[async_trait]
pub trait JwtSigner: Send + Sync + std::fmt::Debug {
    /// The `kid` of the key that signs.
    fn kid(&self) -> &str;
    /// The RS256 signature of `message`.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SigningError>;
    /// Every key to publish, the signing key first (two during a rotation).
    async fn public_keys(&self) -> Result<Vec<Jwk>, SigningError>;
}

/// Where the issuer (`iss`) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issuer {
    /// A configured URL (`WXAUTH_JWT_ISSUER`; the local server's own).
    Fixed(String),
    /// The HTTP API the request came through: `https://{apiId}.execute-api.{region}.amazonaws.com`,
    /// what `template.yaml` gives the JWT authorizer (the API's id cannot be given to its own
    /// functions without a circular dependency; every request names it).
    Api { region: String },
}

impl Issuer {
    /// The issuer for a request; `None` when it names no API (not an HTTP API event).
    pub fn of(&self, req: &Request) -> Option<String> {
        match self {
            Issuer::Fixed(url) => Some(url.clone()),
            Issuer::Api { region } => {
                let api_id = match req.request_context_ref()? {
                    RequestContext::ApiGatewayV2(ctx) => ctx.apiid.as_deref(),
                    RequestContext::ApiGatewayV1(ctx) => ctx.apiid.as_deref(),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }?;
                api_issuer(api_id, region)
            }
        }
    }
}

/// `https://{api_id}.execute-api.{region}.{suffix}`, for a well-formed API id and region.
pub fn api_issuer(api_id: &str, region: &str) -> Option<String> {
    let id_ok = !api_id.is_empty()
        && api_id.len() <= 32
        && api_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (id_ok && region_ok).then(|| {
        format!(
            "https://{api_id}.execute-api.{region}.{}",
            crate::config::aws_url_suffix(region)
        )
    })
}

/// A session JWT just issued.
#[derive(Debug, Clone)]
pub struct IssuedJwt {
    pub token: String,
    /// Seconds until `exp`.
    pub expires_in: i64,
}

/// Issues session JWTs; publishes the discovery document and the keys.
#[derive(Clone)]
pub struct SessionJwts {
    signer: Arc<dyn JwtSigner>,
    issuer: Issuer,
    lifetime: i64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SessionJwts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionJwts")
            .field("signer", &self.signer)
            .field("issuer", &self.issuer)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl SessionJwts {
    pub fn new(
        signer: Arc<dyn JwtSigner>,
        issuer: Issuer,
        lifetime: i64,
        clock: Arc<dyn Clock>,
    ) -> SessionJwts {
        SessionJwts {
            signer,
            issuer,
            lifetime: lifetime.clamp(MIN_LIFETIME, MAX_LIFETIME),
            clock,
        }
    }

    /// The lifetime of the session JWTs, in seconds.
    pub fn lifetime(&self) -> i64 {
        self.lifetime
    }

    /// The issuer of the session JWTs answering `req`.
    pub fn issuer(&self, req: &Request) -> Result<String, ServiceError> {
        self.issuer.of(req).ok_or_else(|| {
            ServiceError::Signing(SigningError::Misconfigured(
                "no issuer: the request names no HTTP API (set WXAUTH_JWT_ISSUER)".into(),
            ))
        })
    }

    /// The claims of a new session JWT for `session`, valid from now for the lifetime.
    pub fn claims(&self, session: &Session, issuer: &str) -> Result<Claims, ServiceError> {
        let aud = session.appid.clone().ok_or_else(|| {
            ServiceError::Signing(SigningError::Misconfigured(
                "a session without appid".into(),
            ))
        })?;
        let now = self.clock.now();
        Ok(Claims {
            iss: issuer.to_string(),
            aud,
            sub: session.openid.clone(),
            iat: now,
            nbf: now,
            exp: now + self.lifetime,
            sid: session.sid.clone(),
            unionid: session.unionid.clone(),
            uid: session.uid.clone(),
        })
    }

    /// Signs a session JWT for `session` (JWS compact serialization, RFC 7515).
    pub async fn issue(&self, session: &Session, issuer: &str) -> Result<IssuedJwt, ServiceError> {
        let claims = self.claims(session, issuer)?;
        let header = json!({"alg": ALGORITHM, "typ": "JWT", "kid": self.signer.kid()});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default())
        );
        let signature = self.signer.sign(input.as_bytes()).await?;
        Ok(IssuedJwt {
            token: format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)),
            expires_in: self.lifetime,
        })
    }

    /// The JWKS: every published key.
    pub async fn jwks(&self) -> Result<Value, ServiceError> {
        let keys = self.signer.public_keys().await?;
        Ok(json!({"keys": keys.iter().map(Jwk::to_json).collect::<Vec<_>>()}))
    }

    /// The OpenID Connect discovery document of `issuer`: what API Gateway reads to find the JWKS.
    pub fn discovery(&self, issuer: &str) -> Value {
        json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}{JWKS_PATH}"),
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "subject_types_supported": ["public"],
            "response_types_supported": ["id_token"],
            "claims_supported": ["iss", "aud", "sub", "iat", "nbf", "exp", "sid", "unionid", "uid"],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn session() -> Session {
        Session {
            key_hash: "h".into(),
            sid: "sid1".into(),
            appid: Some("wx0000000000000001".into()),
            openid: "o1".into(),
            unionid: None,
            uid: Some("u1".into()),
            created_at: 0,
            last_seen: 0,
            expires_at: 0,
        }
    }

    #[tokio::test]
    async fn a_session_jwt_is_three_parts_with_the_documented_claims() {
        let key = local::LocalKey::generate().expect("key");
        let jwts = SessionJwts::new(
            Arc::new(key),
            Issuer::Fixed("http://127.0.0.1:3000".into()),
            600,
            Arc::new(ManualClock::new(1_700_000_000)),
        );
        let issued = jwts
            .issue(&session(), "http://127.0.0.1:3000")
            .await
            .expect("signed");
        assert_eq!(issued.expires_in, 600);
        let parts: Vec<&str> = issued.token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        let claims: Claims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        assert_eq!(claims.sub, "o1");
        assert_eq!(claims.aud, "wx0000000000000001");
        assert_eq!(claims.exp - claims.iat, 600);
        assert_eq!(claims.nbf, claims.iat);
        assert_eq!(claims.sid, "sid1");
        assert_eq!(claims.uid.as_deref(), Some("u1"));
        let jwks = jwts.jwks().await.expect("jwks");
        assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
        assert_eq!(
            jwts.discovery("https://x")["jwks_uri"],
            "https://x/.well-known/jwks.json"
        );
    }

    #[test]
    fn lifetimes_are_bounded() {
        let key = local::LocalKey::generate().expect("key");
        let clock = Arc::new(ManualClock::new(0));
        let key: Arc<dyn JwtSigner> = Arc::new(key);
        let issuer = Issuer::Fixed("x".into());
        assert_eq!(
            SessionJwts::new(key.clone(), issuer.clone(), 10, clock.clone()).lifetime(),
            60
        );
        assert_eq!(
            SessionJwts::new(key, issuer, 99_999, clock).lifetime(),
            3600
        );
    }

    #[test]
    fn issuer_of_an_api() {
        assert_eq!(
            api_issuer("abc123defg", "ap-east-1").as_deref(),
            Some("https://abc123defg.execute-api.ap-east-1.amazonaws.com")
        );
        assert_eq!(
            api_issuer("abc123defg", "cn-north-1").as_deref(),
            Some("https://abc123defg.execute-api.cn-north-1.amazonaws.com.cn")
        );
        assert_eq!(api_issuer("a/b", "us-east-1"), None);
        assert_eq!(api_issuer("", "us-east-1"), None);
        assert_eq!(api_issuer("abc", "us east"), None);
    }

    #[test]
    fn thumbprint_of_rfc7638_example() {
        // RFC 7638, section 3.1.
        let n = URL_SAFE_NO_PAD
            .decode("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
            .expect("n");
        assert_eq!(
            Jwk::thumbprint(&n, &[1, 0, 1]),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(Jwk::rsa("k", &[0, 0, 5], &[1, 0, 1]).n, "BQ");
    }
}
