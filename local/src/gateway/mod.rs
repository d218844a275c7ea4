//! An imitation of API Gateway (HTTP API, payload format 2.0, a Lambda request authorizer with simple
//! responses) in front of the very handlers of the Lambda functions.
//!
//! Each HTTP request becomes the JSON event API Gateway would send, parsed by `lambda_http` as in the
//! deployed functions; each handler answer becomes the JSON a function returns, read back as API Gateway
//! reads it. The routes are those of [`wxauth::routes::ROUTES`] (the table `template.yaml` is checked
//! against), nothing else.
//!
//! What API Gateway does and this does too:
//! - a method and path that match no route: `404 {"message":"Not Found"}`;
//! - an authorized route without a (non-empty) `X-WX-Skey` header: `401 {"message":"Unauthorized"}`,
//!   without calling the authorizer (the header is the authorizer's identity source);
//! - an authorizer answer `{"isAuthorized":false}`: `403 {"message":"Forbidden"}`;
//! - otherwise the function gets the authorizer's context at `requestContext.authorizer.lambda`;
//! - bodies up to 10 MB (`413 {"message":"Request Entity Too Large"}` above); a body that is not UTF-8
//!   or not of a text media type (a `multipart/form-data` upload) is sent base64-encoded with
//!   `isBase64Encoded: true`;
//! - an event over Lambda's 6 MB invocation payload limit (a body over about 4.4 MiB, base64-encoded)
//!   never reaches the function: `413 {"message":"Request Too Long"}`, as API Gateway has been seen to
//!   answer when Lambda refuses the payload;
//! - `{param}` segments of a route's path match one non-empty segment and fill `pathParameters`;
//! - header names lower-cased, repeated headers joined with commas, cookies in `cookies`;
//! - an `apigw-requestid` header on every answer (the `requestContext.requestId` of the event).
//!
//! Deviations (a local server has no reason to imitate them):
//! - an authorizer failure (the session store is down; the authorizer fails closed) is
//!   `503 {"message":"Service Unavailable"}`, where AWS answers `500 {"message":"Internal Server Error"}`;
//! - no authorizer cache: every request asks the authorizer, so a logout is refused at once (deployed,
//!   the gateway may let a cached skey through for `AuthorizerCacheSeconds`, and the function answers
//!   `SESSION_EXPIRED`);
//! - no throttling, no CORS, HTTP/1.1 only, no TLS.
//!
//! By concern: [`request`] (a request as API Gateway sees it), [`body`] (the 10 MB limit),
//! [`events`] (every event shape API Gateway sends, also used by the integration tests), [`answers`]
//! (the gateway's own answers and a function's response read back), and here the dispatch.

pub mod answers;
pub mod body;
pub mod events;
pub mod jwt;
pub mod request;

use std::net::SocketAddr;

use axum::body::Body;
use http::header::CONTENT_LENGTH;
use serde_json::Value;
use wxauth::error::ApiError;
use wxauth::routes::{self, AuthMode, Authorizer, Function, Route};

use crate::dev::Dev;
pub use answers::{Answer, REQUEST_ID_HEADER, from_function};
pub use body::{DRAIN_LIMIT, MAX_LAMBDA_PAYLOAD_BYTES, MAX_REQUEST_BYTES};
pub use request::{Incoming, SKEY_HEADER, new_request_id};
pub use wxauth::bootstrap::Functions;

/// The gateway: routes, authorizers, functions, and the dev routes of simulator mode.
#[derive(Debug)]
pub struct Gateway {
    functions: Functions,
    dev: Option<Dev>,
    in_flight: body::InFlight,
    /// `jwt` mode's JWT authorizer; `None` in `skey` mode.
    jwt: Option<jwt::JwtAuthorizer>,
}

impl Gateway {
    /// A gateway of `skey` mode.
    pub fn new(functions: Functions, dev: Option<Dev>) -> Gateway {
        Gateway {
            functions,
            dev,
            in_flight: body::InFlight::default(),
            jwt: None,
        }
    }

    /// `jwt` mode: the routes of that mode, `GET /me` behind this JWT authorizer.
    pub fn with_jwt(mut self, authorizer: jwt::JwtAuthorizer) -> Gateway {
        self.jwt = Some(authorizer);
        self
    }

    /// The mode of the routes served: `jwt` with a JWT authorizer.
    pub fn mode(&self) -> AuthMode {
        match self.jwt {
            Some(_) => AuthMode::Jwt,
            None => AuthMode::Skey,
        }
    }

    /// Whether the dev routes are served (simulator mode).
    pub fn has_dev_routes(&self) -> bool {
        self.dev.is_some()
    }

    /// Answers one HTTP request as API Gateway and the functions would. Never panics on input.
    pub async fn handle(&self, req: http::Request<Body>, peer: SocketAddr) -> Answer {
        let id = new_request_id();
        let (parts, body) = req.into_parts();
        if !self.serves(parts.method.as_str(), parts.uri.path()) {
            return Answer::not_found(&id);
        }
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if body::declared_too_large(declared) {
            return Answer::too_large(&id);
        }
        // Each route's own limit, applied before buffering (API Gateway would buffer up to 10 MB
        // and let the function answer the same 413), within the budget of all bodies in flight.
        let limit = routes::find(parts.method.as_str(), parts.uri.path())
            .map_or(wxauth::web::MAX_BODY_BYTES, |r| r.body_limit());
        // A GET's body is no function's business: received, dropped, not buffered.
        if parts.method == http::Method::GET {
            return match body::discard(body).await {
                Ok(()) => {
                    self.dispatch(Incoming::new(&parts, Vec::new(), peer, id))
                        .await
                }
                Err(body::BodyError::TooLarge(_)) => Answer::too_large(&id),
                Err(body::BodyError::Broken) => Answer::body_broken(&id),
                Err(body::BodyError::Slow) => Answer::body_slow(&id),
            };
        }
        let Some(_room) = self.in_flight.reserve(limit) else {
            return Answer::busy(&id);
        };
        let body = match body::read(body, limit).await {
            Ok(b) => b,
            // What API Gateway and Lambda would answer for what came: over 10 MB the gateway; over
            // Lambda's event limit the gateway too (the function never runs); else the function.
            Err(body::BodyError::TooLarge(total)) if total > MAX_REQUEST_BYTES => {
                return Answer::too_large(&id);
            }
            Err(body::BodyError::TooLarge(total)) if total > MAX_LAMBDA_PAYLOAD_BYTES => {
                return Answer::lambda_payload_too_large(&id);
            }
            Err(body::BodyError::TooLarge(_)) => {
                let refused = ApiError::PayloadTooLarge(limit);
                return from_function(wxauth::web::error(&refused), &id);
            }
            Err(body::BodyError::Broken) => return Answer::body_broken(&id),
            Err(body::BodyError::Slow) => return Answer::body_slow(&id),
        };
        self.dispatch(Incoming::new(&parts, body, peer, id)).await
    }

    /// Whether a method and path is a route (or, in simulator mode, a dev route).
    fn serves(&self, method: &str, path: &str) -> bool {
        routes::find_in(self.mode(), method, path).is_some()
            || (self.dev.is_some() && crate::dev::find(method, path).is_some())
    }

    /// Answers a request that was read whole: the route, the authorizer for authorized routes (401
    /// without the identity source, 403 when denied), then the function with the authorizer's context.
    pub async fn dispatch(&self, incoming: Incoming) -> Answer {
        let id = incoming.request_id.as_str();
        let Some(route) = routes::find_in(self.mode(), &incoming.method, &incoming.path) else {
            if let Some(dev) = &self.dev
                && let Some(dev_route) = crate::dev::find(&incoming.method, &incoming.path)
            {
                let resp = dev.handle(dev_route, incoming.skey(), &incoming.body).await;
                return from_function(resp, id);
            }
            return Answer::not_found(id);
        };
        let authorizer = match route.authorizer(self.mode()) {
            Authorizer::None => None,
            Authorizer::Skey => match self.authorize(&incoming, route).await {
                Ok(context) => Some(events::lambda_authorizer(&context)),
                Err(answer) => return answer,
            },
            Authorizer::Jwt => {
                let Some(jwt) = &self.jwt else {
                    return Answer::internal_error("no JWT authorizer", id);
                };
                let authorization = incoming.headers.get("authorization").map(String::as_str);
                match jwt.authorize(authorization, self).await {
                    Ok(context) => Some(context),
                    Err(refusal) => return Answer::jwt_refused(&refusal, id),
                }
            }
        };
        self.invoke(route, &incoming, authorizer.as_ref()).await
    }

    /// Runs a route's function on the event of `incoming`, with `requestContext.authorizer`.
    async fn invoke(
        &self,
        route: &Route,
        incoming: &Incoming,
        authorizer: Option<&Value>,
    ) -> Answer {
        let id = incoming.request_id.as_str();
        let event = events::http_v2(incoming, &route.key(), authorizer).to_string();
        if event.len() > MAX_LAMBDA_PAYLOAD_BYTES {
            return Answer::lambda_payload_too_large(id);
        }
        let request = match lambda_http::request::from_str(&event) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "lambda_http refused the event built for this request");
                return Answer::internal_error("event not parsed", id);
            }
        };
        let resp = match route.function {
            Function::Login => self.functions.login.handle(request).await,
            Function::Userinfo => self.functions.userinfo.handle(request).await,
            Function::Avatar => self.functions.avatar.handle(request).await,
        };
        from_function(resp, id)
    }

    /// The authorizer step: its context, or the gateway's answer.
    async fn authorize(&self, incoming: &Incoming, route: &Route) -> Result<Value, Answer> {
        let id = incoming.request_id.as_str();
        if incoming.skey().is_none() {
            return Err(Answer::unauthorized(id));
        }
        let event = events::authorizer_v2(incoming, &route.key());
        match self.functions.authorizer.handle(event).await {
            Ok(answer) if answer.get("isAuthorized") == Some(&Value::Bool(true)) => Ok(answer
                .get("context")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}))),
            Ok(_) => Err(Answer::forbidden(id)),
            Err(_) => Err(Answer::authorizer_failed(id)),
        }
    }
}

/// The JWT authorizer reads the issuer's discovery document and JWKS from the public routes of this
/// gateway (the login function), as API Gateway reads them from the issuer's URL.
#[async_trait::async_trait]
impl jwt::KeySource for Gateway {
    async fn get(&self, path: &str) -> Option<Value> {
        let route = routes::find_in(self.mode(), "GET", path)?;
        if route.authorizer(self.mode()) != Authorizer::None {
            return None;
        }
        let answer = self
            .invoke(route, &Incoming::build("GET", path, "127.0.0.1"), None)
            .await;
        if answer.response.status() != http::StatusCode::OK {
            return None;
        }
        let body = axum::body::to_bytes(answer.response.into_body(), 1 << 20)
            .await
            .ok()?;
        serde_json::from_slice(&body).ok()
    }
}
