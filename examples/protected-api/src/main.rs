//! Example: a function behind *another* HTTP API that reuses the wxauth stack's authorization (see
//! `template.yaml` beside this crate and `docs/deploy.md`), in either mode of that template:
//!
//! - `AuthMode=skey`: wxauth's `X-WX-Skey` Lambda authorizer (imported by ARN). API Gateway answers
//!   401 without `X-WX-Skey` and 403 for an unknown, expired or logged-out skey; it caches an answer
//!   for `AuthorizerCacheSeconds`, so a logout reaches this API within that time.
//! - `AuthMode=jwt`: API Gateway's JWT authorizer with the wxauth API as issuer and the mini
//!   programs' appids as audiences; the client sends `Authorization: Bearer <session JWT>` (the
//!   `token` of wxauth's `POST /login` and `POST /token`). API Gateway checks the signature against
//!   wxauth's JWKS, the issuer, the audience and the expiry, and answers 401 itself; no function runs
//!   and nothing is read to authorize. A token lives until its `exp` (wxauth's
//!   `JwtLifetimeSeconds`, 10 minutes by default), even after a logout.
//!
//! `GET /hello` answers `{"openid":"..","unionid":..|null,"session_id":".."}`: this function only
//! reads the identity the authorizer established, through the shared helper
//! `wxauth::identity::Caller::from_request`, which reads `requestContext.authorizer.lambda` (the
//! Lambda authorizer, HTTP API), `requestContext.authorizer` (REST) and
//! `requestContext.authorizer.jwt.claims` (the JWT authorizer: `sub` is the openid, `sid` the session
//! id, `aud` the appid).
//!
//! An action that must stop the instant the user logs out should check the session itself
//! (wxauth's POST /userinfo, PUT /profile, POST /phone and POST /logout do, with the skey, in both
//! modes; its GET /me, like this API, trusts the authorizer's decision).

use lambda_http::{Body, Error, Request, Response, run, service_fn};
use serde_json::json;
use wxauth::identity::Caller;

async fn handler(req: Request) -> Result<Response<Body>, Error> {
    let Some(caller) = Caller::from_request(&req) else {
        // Only reachable when a route was deployed without an authorizer, or behind a JWT
        // authorizer that trusts tokens of another issuer.
        return json_response(
            401,
            &json!({"error": {"code": "SESSION_EXPIRED", "message": "no wxauth session on this request"}}),
        );
    };
    // The openid is personal data: use it, but don't log it.
    json_response(
        200,
        &json!({
            "openid": caller.openid,
            "unionid": caller.unionid,
            "session_id": caller.session_id,
        }),
    )
}

fn json_response(status: u16, body: &serde_json::Value) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Body::from(body.to_string()))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Honours the function's LoggingConfig (AWS_LAMBDA_LOG_FORMAT / AWS_LAMBDA_LOG_LEVEL).
    lambda_http::tracing::init_default_subscriber();
    run(service_fn(handler)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HTTP API (payload 2.0) event as API Gateway sends it after wxauth's
    /// authorizer answered `{"isAuthorized":true,"context":{..}}`.
    fn event(context: serde_json::Value) -> Request {
        event_with(json!({ "lambda": context }))
    }

    /// The event after API Gateway's JWT authorizer accepted a session JWT with these claims
    /// (every claim a string, as API Gateway hands them over).
    fn jwt_event(claims: serde_json::Value) -> Request {
        event_with(json!({ "jwt": { "claims": claims, "scopes": null } }))
    }

    fn event_with(authorizer: serde_json::Value) -> Request {
        let event = json!({
            "version": "2.0",
            "routeKey": "GET /hello",
            "rawPath": "/hello",
            "rawQueryString": "",
            "headers": {"x-wx-skey": "not-read-by-this-function", "host": "example.execute-api.us-east-1.amazonaws.com"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "example",
                "authorizer": authorizer,
                "domainName": "example.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "example",
                "http": {"method": "GET", "path": "/hello", "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.7", "userAgent": "test"},
                "requestId": "r-1",
                "routeKey": "GET /hello",
                "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000",
                "timeEpoch": 1767225600000u64
            },
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("valid HTTP API v2 event")
    }

    fn body_json(resp: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(resp.body().as_ref()).expect("JSON body")
    }

    #[tokio::test]
    async fn answers_the_callers_identity() {
        let req = event(json!({"openid": "o-alice", "unionid": "u-alice", "session_id": "s-1"}));
        let resp = handler(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            body_json(&resp),
            json!({"openid": "o-alice", "unionid": "u-alice", "session_id": "s-1"})
        );
    }

    #[tokio::test]
    async fn unionid_is_optional() {
        let req = event(json!({"openid": "o-bob", "session_id": "s-2"}));
        let resp = handler(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(body_json(&resp)["unionid"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn answers_the_caller_of_a_session_jwt() {
        let req = jwt_event(json!({
            "iss": "https://abc123.execute-api.ap-east-1.amazonaws.com",
            "aud": "wx0123456789abcdef",
            "sub": "o-alice",
            "sid": "s-1",
            "unionid": "u-alice",
            "uid": "a-1",
            "iat": "1767225600",
            "nbf": "1767225600",
            "exp": "1767226200"
        }));
        let resp = handler(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            body_json(&resp),
            json!({"openid": "o-alice", "unionid": "u-alice", "session_id": "s-1"})
        );
    }

    #[tokio::test]
    async fn a_jwt_of_another_issuer_is_no_caller() {
        // A JWT without wxauth's claims (no `sid`): not a wxauth session.
        let req = jwt_event(json!({"sub": "someone", "aud": "another-client"}));
        let resp = handler(req).await.unwrap();
        assert_eq!(resp.status(), 401);
    }

    #[tokio::test]
    async fn no_authorizer_context_is_401() {
        let req = event(json!({}));
        let resp = handler(req).await.unwrap();
        assert_eq!(resp.status(), 401);
    }
}
