//! `jwt` mode: the KMS key created in moto (through the counting proxy), and the check of every
//! session JWT the benchmark receives against the JWKS the login function serves, with the local
//! gateway's imitation of API Gateway's JWT authorizer (`wxauth_local::gateway::jwt`).

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};
use wxauth_local::gateway::jwt::{JwtAuthorizer, KeySource};
use wxauth_tests::runtime::Outcome;

use crate::proxy::Proxy;

/// moto takes the service and region from a SigV4 `Authorization` header and checks no signature:
/// the benchmark's own KMS calls (creating the key) need no signing.
const UNSIGNED_KMS: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, \
                            SignedHeaders=content-type;host;x-amz-target, Signature=0";

/// Creates an RSA_2048 `SIGN_VERIFY` key in moto through `kms` (a counting proxy, reset afterwards: the
/// key's creation is no function's call); its ARN.
pub async fn create_kms_key(kms: &Proxy) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .post(format!("{}/", kms.url))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "TrentService.CreateKey")
        .header("authorization", UNSIGNED_KMS)
        .body(
            json!({
                "KeySpec": "RSA_2048",
                "KeyUsage": "SIGN_VERIFY",
                "Description": "wxauth bench: session JWTs",
            })
            .to_string(),
        )
        .send()
        .await
        .map_err(|e| format!("KMS CreateKey: {e}"))?;
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    kms.take();
    answer["KeyMetadata"]["Arn"]
        .as_str()
        .map(str::to_string)
        .ok_or(format!("KMS CreateKey: HTTP {status} {answer}"))
}

/// The JSON body of a function's HTTP answer, when it is a 200.
pub fn ok_body(outcome: &Outcome) -> Result<Value, String> {
    let Outcome::Response(v) = outcome else {
        return Err(format!("function error: {outcome:?}"));
    };
    if v["statusCode"] != 200 {
        return Err(format!("unexpected answer: {v}"));
    }
    v["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .ok_or(format!("no JSON body: {v}"))
}

/// The session JWT of an answer to `POST /login` or `POST /token` in `jwt` mode.
pub fn token_of(outcome: &Outcome) -> Result<String, String> {
    let body = ok_body(outcome)?;
    match (body["token"].as_str(), body["token_expires_in"].as_i64()) {
        (Some(t), Some(_)) => Ok(t.to_string()),
        _ => Err(format!("no session JWT in the answer: {body}")),
    }
}

/// What a login function published: its discovery document and JWKS.
struct Published {
    discovery: Value,
    jwks: Value,
}

impl KeySource for Published {
    // `KeySource` is an `async_trait` trait; written out, so that the benchmark needs no macro crate.
    fn get<'a, 'b, 'f>(
        &'a self,
        path: &'b str,
    ) -> Pin<Box<dyn Future<Output = Option<Value>> + Send + 'f>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            match path {
                wxauth::session_jwt::DISCOVERY_PATH => Some(self.discovery.clone()),
                wxauth::session_jwt::JWKS_PATH => Some(self.jwks.clone()),
                _ => None,
            }
        })
    }
}

/// Checks session JWTs as API Gateway's JWT authorizer would: against the published keys, the
/// issuer of the discovery document, the appids as audiences.
pub struct Verifier {
    authorizer: JwtAuthorizer,
    keys: Published,
}

impl Verifier {
    pub fn new(discovery: Value, jwks: Value, audiences: Vec<String>) -> Result<Verifier, String> {
        let issuer = discovery["issuer"]
            .as_str()
            .ok_or(format!("no issuer in the discovery document: {discovery}"))?;
        Ok(Verifier {
            authorizer: JwtAuthorizer::new(issuer, audiences),
            keys: Published { discovery, jwks },
        })
    }

    /// The `kid`s published.
    pub fn kids(&self) -> Vec<String> {
        self.keys.jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| k["kid"].as_str().map(str::to_string))
            .collect()
    }

    pub fn issuer(&self) -> &str {
        self.authorizer.issuer()
    }

    /// `Ok` when the gateway would let a request with this session JWT through.
    pub async fn check(&self, token: &str) -> Result<(), String> {
        self.authorizer
            .authorize(Some(&format!("Bearer {token}")), &self.keys)
            .await
            .map(|_| ())
            .map_err(|refusal| format!("{refusal:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Value) -> Outcome {
        Outcome::Response(json!({"statusCode": status, "body": body.to_string()}))
    }

    #[test]
    fn session_jwts_are_read_from_answers() {
        let ok = answer(
            200,
            json!({"skey": "s", "token": "a.b.c", "token_expires_in": 600}),
        );
        assert_eq!(token_of(&ok).unwrap(), "a.b.c");
        // A login that could not sign answers `token: null`: no session JWT to measure.
        let unsigned = answer(200, json!({"skey": "s", "token": null}));
        assert!(token_of(&unsigned).unwrap_err().contains("no session JWT"));
        assert!(token_of(&answer(503, json!({}))).is_err());
    }

    #[tokio::test]
    async fn a_verifier_refuses_what_the_gateway_refuses() {
        let discovery = json!({"issuer": "https://abc.execute-api.us-east-1.amazonaws.com"});
        let v = Verifier::new(discovery, json!({"keys": []}), vec!["wx1".into()]).unwrap();
        assert_eq!(
            v.issuer(),
            "https://abc.execute-api.us-east-1.amazonaws.com"
        );
        assert!(v.kids().is_empty());
        assert!(v.check("not-a-jwt").await.is_err());
        assert!(Verifier::new(json!({}), json!({}), vec![]).is_err());
    }
}
