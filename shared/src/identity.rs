//! Who is calling: the authorizer's context, read the same way for HTTP APIs (payload 2.0,
//! `requestContext.authorizer.lambda`), REST APIs (`requestContext.authorizer`), and, in `jwt` mode,
//! the claims of the session JWT API Gateway's JWT authorizer checked
//! (`requestContext.authorizer.jwt.claims`: `sub` is the openid, `sid` the session id, `aud` the
//! appid; [`crate::session_jwt`]).
//!
//! This is the helper every API behind the wxauth authorizers uses:
//!
//! ```no_run
//! # use lambda_http::{Request, Response, Body};
//! fn handler(req: Request) -> Response<Body> {
//!     match wxauth::identity::Caller::from_request(&req) {
//!         Some(caller) => Response::new(Body::from(format!("hello {}", caller.openid))),
//!         None => Response::builder().status(401).body(Body::Empty).unwrap_or_default(),
//!     }
//! }
//! ```

use std::collections::HashMap;

use lambda_http::{Request, RequestExt};
use serde::Serialize;
use serde_json::Value;

/// The identity the authorizer established for this request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// The caller's openid in the mini program of `appid`.
    pub openid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
    /// Non-secret id of the session (never the skey).
    pub session_id: String,
    /// The mini program the session belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// The person's account id, the same in every mini program of the deployment (sessions of
    /// releases before accounts have none until their next login).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl Caller {
    /// Reads the authorizer context of a request (the Lambda authorizer's, or a session JWT's
    /// claims); `None` when there is none or it lacks an openid.
    pub fn from_request(req: &Request) -> Option<Caller> {
        let authorizer = req.request_context_ref()?.authorizer()?;
        match &authorizer.jwt {
            Some(jwt) => Caller::from_claims(&jwt.claims),
            None => Caller::from_fields(&authorizer.fields),
        }
    }

    /// Reads the claims of a session JWT as API Gateway hands them over (every value a string):
    /// `sub`, `sid`, `aud`, `unionid`, `uid`. `None` without `sub` or `sid` (a JWT of another issuer).
    pub fn from_claims(claims: &HashMap<String, String>) -> Option<Caller> {
        let get = |k: &str| nonblank(claims.get(k).map(String::as_str));
        Some(Caller {
            openid: get("sub")?,
            unionid: get("unionid"),
            session_id: get("sid")?,
            appid: get("aud"),
            uid: get("uid"),
        })
    }

    /// Reads the context fields (`openid`, `unionid`, `session_id`, `appid`, `uid`).
    pub fn from_fields(fields: &HashMap<String, Value>) -> Option<Caller> {
        let get = |k: &str| nonblank(fields.get(k).and_then(Value::as_str));
        Some(Caller {
            openid: get("openid")?,
            unionid: get("unionid"),
            session_id: get("session_id").unwrap_or_default(),
            appid: get("appid"),
            uid: get("uid"),
        })
    }

    /// The context object the authorizer returns (unionid, appid and uid omitted when unknown).
    pub fn to_context(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A context value, trimmed; `None` when absent or blank.
fn nonblank(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(authorizer: &str) -> Request {
        let event = format!(
            r#"{{"version":"2.0","routeKey":"GET /me","rawPath":"/me","rawQueryString":"","headers":{{}},
            "requestContext":{{"accountId":"1","apiId":"a","domainName":"d","domainPrefix":"d",
            "http":{{"method":"GET","path":"/me","protocol":"HTTP/1.1","sourceIp":"1.2.3.4","userAgent":"t"}},
            "requestId":"r","routeKey":"GET /me","stage":"$default","time":"t","timeEpoch":1{authorizer}}},
            "isBase64Encoded":false}}"#
        );
        lambda_http::request::from_str(&event).expect("valid v2 event")
    }

    #[test]
    fn reads_v2_lambda_context() {
        let req = v2(
            r#","authorizer":{"lambda":{"openid":"o1","unionid":"u1","session_id":"s1","appid":"wx1","uid":"a1"}}"#,
        );
        let c = Caller::from_request(&req).expect("caller");
        assert_eq!(
            c,
            Caller {
                openid: "o1".into(),
                unionid: Some("u1".into()),
                session_id: "s1".into(),
                appid: Some("wx1".into()),
                uid: Some("a1".into()),
            }
        );
    }

    #[test]
    fn reads_v1_context() {
        let event = r#"{"resource":"/me","path":"/me","httpMethod":"GET","headers":{},"multiValueHeaders":{},
            "queryStringParameters":null,"multiValueQueryStringParameters":null,"pathParameters":null,
            "stageVariables":null,"requestContext":{"accountId":"1","resourceId":"r","stage":"prod",
            "requestId":"id","identity":{"sourceIp":"1.2.3.4"},"resourcePath":"/me","httpMethod":"GET",
            "apiId":"a","authorizer":{"principalId":"o1","openid":"o1","session_id":"s1","integrationLatency":3}},
            "body":null,"isBase64Encoded":false}"#;
        let req = lambda_http::request::from_str(event).expect("valid v1 event");
        let c = Caller::from_request(&req).expect("caller");
        assert_eq!(c.openid, "o1");
        assert_eq!(c.unionid, None);
    }

    #[test]
    fn reads_v2_jwt_claims() {
        let req = v2(
            r#","authorizer":{"jwt":{"claims":{"sub":"o1","sid":"s1","aud":"wx1","uid":"a1","iss":"https://x","exp":"1700000600"},"scopes":null}}"#,
        );
        let c = Caller::from_request(&req).expect("caller");
        assert_eq!(
            c,
            Caller {
                openid: "o1".into(),
                unionid: None,
                session_id: "s1".into(),
                appid: Some("wx1".into()),
                uid: Some("a1".into()),
            }
        );
        // A JWT of another issuer, without the session id, names no caller.
        let other =
            v2(r#","authorizer":{"jwt":{"claims":{"sub":"someone","aud":"x"},"scopes":null}}"#);
        assert_eq!(Caller::from_request(&other), None);
    }

    #[test]
    fn none_without_context() {
        assert_eq!(Caller::from_request(&v2("")), None);
        assert_eq!(
            Caller::from_request(&v2(r#","authorizer":{"lambda":{"openid":""}}"#)),
            None
        );
        assert_eq!(Caller::from_request(&Request::default()), None);
    }

    #[test]
    fn context_omits_unknown_unionid() {
        let c = Caller {
            openid: "o".into(),
            unionid: None,
            session_id: "s".into(),
            appid: None,
            uid: None,
        };
        assert_eq!(
            c.to_context(),
            serde_json::json!({"openid":"o","session_id":"s"})
        );
    }
}
