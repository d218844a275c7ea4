//! Example: a function behind *another* HTTP API that reuses wxauth's `X-WX-Skey`
//! authorizer (see `template.yaml` beside this crate and `docs/deploy.md`).
//!
//! `GET /hello` answers `{"openid":"..","unionid":..|null,"session_id":".."}`.
//!
//! The gateway has already run the authorizer before this function is invoked: a
//! request without `X-WX-Skey` got 401 and an unknown, expired or logged-out skey
//! got 403 from API Gateway itself. This function only reads the identity the
//! authorizer put into the request context, through the shared helper
//! `wxauth::identity::Caller::from_request` (it reads
//! `requestContext.authorizer.lambda` for HTTP API v2 and `requestContext.authorizer`
//! for REST).
//!
//! Mind the authorizer cache: API Gateway reuses an authorizer answer for
//! `AuthorizerCacheSeconds`, so a logout reaches this API within that time. An
//! action that must stop the instant the user logs out should check the session
//! itself (wxauth's POST /userinfo, PUT /profile, POST /phone and POST /logout do;
//! its GET /me, like this API, trusts the authorizer's cached decision).

use lambda_http::{Body, Error, Request, Response, run, service_fn};
use serde_json::json;
use wxauth::identity::Caller;

async fn handler(req: Request) -> Result<Response<Body>, Error> {
    let Some(caller) = Caller::from_request(&req) else {
        // Only reachable when a route was deployed without the authorizer.
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
        let event = json!({
            "version": "2.0",
            "routeKey": "GET /hello",
            "rawPath": "/hello",
            "rawQueryString": "",
            "headers": {"x-wx-skey": "not-read-by-this-function", "host": "example.execute-api.us-east-1.amazonaws.com"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "example",
                "authorizer": {"lambda": context},
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
    async fn no_authorizer_context_is_401() {
        let req = event(json!({}));
        let resp = handler(req).await.unwrap();
        assert_eq!(resp.status(), 401);
    }
}
