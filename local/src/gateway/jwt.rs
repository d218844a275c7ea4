//! API Gateway's JWT authorizer (HTTP APIs), as its developer guide describes it, for `jwt` mode:
//!
//! - the identity source is the `Authorization` header (the token alone, or `Bearer <token>`); a
//!   request without it is answered `401 {"message":"Unauthorized"}`;
//! - the issuer's keys come from its JWKS, found through `{issuer}/.well-known/openid-configuration`
//!   (here the login function's answers, fetched once and again when a token names an unknown `kid`);
//! - the token must carry a `kid` of the JWKS, an accepted algorithm (RS256: the only one wxauth
//!   signs with), a valid signature, `iss` equal to the issuer, an `aud` among the audiences (the
//!   appids served), an `exp` in the future, `nbf` and `iat` in the past; anything else is
//!   `401 {"message":"Unauthorized"}`;
//! - the function then gets the claims, every value a string, at `requestContext.authorizer.jwt`.
//!
//! No Lambda function runs and no store is read to authorize a request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

/// A token naming an unknown `kid` makes the keys be fetched again, at most this often.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// Where the authorizer gets the issuer's discovery document and keys from (the login function).
#[async_trait::async_trait]
pub trait KeySource: Send + Sync {
    /// The body of a GET of `path` (`/.well-known/...`) at the issuer, if it answered 200.
    async fn get(&self, path: &str) -> Option<Value>;
}

/// One JWT authorizer: its issuer, its audiences, the keys it has fetched.
pub struct JwtAuthorizer {
    issuer: String,
    audiences: Vec<String>,
    keys: Mutex<Keys>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

impl std::fmt::Debug for JwtAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthorizer")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

/// Why a token was refused (for the access log; the client only sees 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header.
    Missing,
    /// Anything wrong with the token.
    Invalid(String),
}

impl JwtAuthorizer {
    pub fn new(issuer: &str, audiences: Vec<String>) -> JwtAuthorizer {
        JwtAuthorizer {
            issuer: issuer.to_string(),
            audiences,
            keys: Mutex::new(Keys::default()),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks the `Authorization` header's value; the `requestContext.authorizer` object of the
    /// function's event, or why not.
    pub async fn authorize(
        &self,
        authorization: Option<&str>,
        source: &dyn KeySource,
    ) -> Result<Value, Refusal> {
        let value = authorization
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(Refusal::Missing)?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            Some(_) => return Err(Refusal::Invalid("not a Bearer token".into())),
            None => value,
        };
        let invalid = |why: &str| Refusal::Invalid(why.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(&e.to_string()))?;
        let kid = header.kid.ok_or_else(|| invalid("no kid"))?;
        let key = self
            .key(&kid, source)
            .await
            .ok_or_else(|| invalid("unknown kid"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| invalid(&e.to_string()))?;
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(iat) = data.claims.get("iat")
            && iat.as_u64().is_none_or(|iat| iat > now)
        {
            return Err(invalid("iat in the future"));
        }
        Ok(jwt_context(&data.claims))
    }

    /// The key of `kid`: known, or after one fetch of the JWKS (not more often than
    /// [`REFETCH_INTERVAL`]).
    async fn key(&self, kid: &str, source: &dyn KeySource) -> Option<DecodingKey> {
        let mut keys = self.keys.lock().await;
        if let Some(key) = keys.by_kid.get(kid) {
            return Some(key.clone());
        }
        if keys
            .fetched
            .is_some_and(|at| at.elapsed() < REFETCH_INTERVAL)
        {
            return None;
        }
        keys.fetched = Some(Instant::now());
        let discovery = source.get(wxauth::session_jwt::DISCOVERY_PATH).await?;
        if discovery.get("issuer").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            tracing::warn!("the discovery document names another issuer");
            return None;
        }
        let jwks_uri = discovery.get("jwks_uri").and_then(Value::as_str)?;
        let path = jwks_uri.strip_prefix(&self.issuer)?;
        let jwks = source.get(path).await?;
        keys.by_kid = jwks
            .get("keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
            .filter_map(|k| {
                let kid = k.get("kid")?.as_str()?;
                let n = k.get("n")?.as_str()?;
                let e = k.get("e")?.as_str()?;
                Some((
                    kid.to_string(),
                    DecodingKey::from_rsa_components(n, e).ok()?,
                ))
            })
            .collect();
        keys.by_kid.get(kid).cloned()
    }
}

/// `requestContext.authorizer` of a request the JWT authorizer allowed: the claims, each value a
/// string (numbers as their digits, arrays as API Gateway writes them: `[a b]`), no scopes.
pub fn jwt_context(claims: &Map<String, Value>) -> Value {
    let claims: Map<String, Value> = claims
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Array(items) => format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                other => other.to_string(),
            };
            (k.clone(), Value::String(text))
        })
        .collect();
    json!({"jwt": {"claims": claims, "scopes": null}})
}
