//! Requests to drive the handlers with, as API Gateway events. The shapes themselves come from the one
//! module that builds them, `wxauth_local::gateway::events` (the local server uses it too); this adds a
//! builder and the tests' defaults (a phone's user agent, a documentation IP address).

use serde_json::Value;
use wxauth_local::gateway::Incoming;
use wxauth_local::gateway::events;

pub use wxauth_local::gateway::events::{ACCOUNT, API_ID, REGION, REST_STAGE, route_arn};

/// The client address of every test request (RFC 5737 documentation range).
pub const SOURCE_IP: &str = "203.0.113.7";
const USER_AGENT: &str = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50";

/// A request to send through a handler.
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// `requestContext.authorizer`, which API Gateway adds after an authorizer allowed the request.
    pub authorizer: Option<Value>,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Self {
        Req {
            method: method.to_string(),
            path: path.to_string(),
            ..Default::default()
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_lowercase(), value.to_string()));
        self
    }
    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .raw(body.to_string().into_bytes())
    }
    pub fn text(self, body: &str) -> Self {
        self.header("content-type", "application/json")
            .raw(body.as_bytes().to_vec())
    }
    /// A `multipart/form-data` body ([`crate::uploads`]).
    pub fn form(self, body: Vec<u8>) -> Self {
        self.header("content-type", &crate::uploads::content_type())
            .raw(body)
    }
    pub fn raw(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }
    pub fn skey(self, skey: &str) -> Self {
        self.header("x-wx-skey", skey)
    }
    /// Allowed by the Lambda authorizer with `context`.
    pub fn authorized(mut self, context: Value) -> Self {
        self.authorizer = Some(events::lambda_authorizer(&context));
        self
    }
    /// Allowed by the JWT authorizer, with these claims.
    pub fn jwt_claims(mut self, claims: &serde_json::Map<String, Value>) -> Self {
        self.authorizer = Some(wxauth_local::gateway::jwt::jwt_context(claims));
        self
    }

    /// The request as API Gateway sees it.
    pub fn incoming(&self) -> Incoming {
        let mut req = Incoming::build(&self.method, &self.path, SOURCE_IP);
        req.add_header(
            "host",
            &format!("{API_ID}.execute-api.{REGION}.amazonaws.com"),
        );
        req.add_header("user-agent", USER_AGENT);
        req.add_header("x-forwarded-for", SOURCE_IP);
        req.add_header("x-forwarded-proto", "https");
        for (k, v) in &self.headers {
            req.headers.insert(k.clone(), v.clone());
        }
        if let Some(b) = &self.body {
            req.headers
                .insert("content-length".into(), b.len().to_string());
            req.body = b.clone();
        }
        req
    }

    /// The route key of this request: its route's (the template, `GET /avatars/{uid}/{file}`), else
    /// the method and path.
    pub fn route_key(&self) -> String {
        match wxauth::routes::find(&self.method, &self.path) {
            Some(route) => route.key(),
            None => format!("{} {}", self.method, self.path),
        }
    }

    /// The HTTP API (payload format 2.0) event of this request.
    pub fn v2_event(&self) -> Value {
        let route_key = self.route_key();
        events::http_v2(&self.incoming(), &route_key, self.authorizer.as_ref())
    }

    /// The request `lambda_http` makes of the v2 event.
    pub fn into_request(self) -> lambda_http::Request {
        lambda_http::request::from_str(&self.v2_event().to_string())
            .expect("lambda_http parses the event")
    }
}

fn with_skey(method: &str, path: &str, skey: Option<&str>) -> Incoming {
    let mut req = Req::new(method, path);
    if let Some(s) = skey {
        req = req.skey(s);
    }
    req.incoming()
}

/// The HTTP API authorizer event, payload format 2.0.
pub fn authorizer_v2(skey: Option<&str>, method: &str, path: &str) -> Value {
    events::authorizer_v2(&with_skey(method, path, skey), &format!("{method} {path}"))
}

/// The HTTP API authorizer event, payload format 1.0.
pub fn authorizer_http_v1(skey: Option<&str>, method: &str, path: &str) -> Value {
    events::authorizer_http_v1(&with_skey(method, path, skey), &format!("{method} {path}"))
}

/// The REST API `TOKEN` authorizer event (token source: the `X-WX-Skey` header).
pub fn authorizer_rest_token(skey: &str, method: &str, path: &str) -> Value {
    events::authorizer_rest_token(skey, method, path)
}

/// The REST API `REQUEST` authorizer event.
pub fn authorizer_rest_request(skey: Option<&str>, method: &str, path: &str) -> Value {
    events::authorizer_rest_request(&with_skey(method, path, skey), method, path)
}

/// A response's status and JSON body (`Value::Null` when the body is not JSON).
pub fn parts(resp: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body: &[u8] = resp.body().as_ref();
    (status, serde_json::from_slice(body).unwrap_or(Value::Null))
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}
