//! API Gateway events exactly as AWS sends them (shapes from the API Gateway developer guide), to drive
//! the handlers through `lambda_http`'s own event parsing.

use base64::Engine as _;
use serde_json::{Value, json};

pub const ACCOUNT: &str = "123456789012";
pub const API_ID: &str = "abcdef1234";
pub const REGION: &str = "us-east-1";

/// A request to send through a handler.
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The authorizer context API Gateway adds after the authorizer allowed the request.
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
    pub fn raw(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }
    pub fn skey(self, skey: &str) -> Self {
        self.header("x-wx-skey", skey)
    }
    pub fn authorized(mut self, context: Value) -> Self {
        self.authorizer = Some(context);
        self
    }

    /// The HTTP API (payload format 2.0) event of this request.
    pub fn v2_event(&self) -> Value {
        let route_key = format!("{} {}", self.method, self.path);
        let mut headers = serde_json::Map::new();
        headers.insert(
            "host".into(),
            json!(format!("{API_ID}.execute-api.{REGION}.amazonaws.com")),
        );
        headers.insert(
            "user-agent".into(),
            json!("Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"),
        );
        headers.insert("x-forwarded-for".into(), json!("203.0.113.7"));
        headers.insert("x-forwarded-proto".into(), json!("https"));
        for (k, v) in &self.headers {
            headers.insert(k.clone(), json!(v));
        }
        if let Some(b) = &self.body {
            headers.insert("content-length".into(), json!(b.len().to_string()));
        }
        let mut ctx = json!({
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": format!("{API_ID}.execute-api.{REGION}.amazonaws.com"),
            "domainPrefix": API_ID,
            "http": {
                "method": self.method,
                "path": self.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"
            },
            "requestId": format!("req-{}", wxauth::crypto::random_id().expect("rng")),
            "routeKey": route_key,
            "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1_795_000_000_000_i64
        });
        if let Some(a) = &self.authorizer {
            ctx["authorizer"] = json!({"lambda": a});
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": "",
            "headers": headers,
            "requestContext": ctx,
            "isBase64Encoded": false
        });
        if let Some(b) = &self.body {
            match std::str::from_utf8(b) {
                Ok(text) => event["body"] = json!(text),
                Err(_) => {
                    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(b));
                    event["isBase64Encoded"] = json!(true);
                }
            }
        }
        event
    }

    /// The request `lambda_http` makes of the v2 event.
    pub fn into_request(self) -> lambda_http::Request {
        lambda_http::request::from_str(&self.v2_event().to_string())
            .expect("lambda_http parses the event")
    }
}

fn route_arn(stage: &str, method: &str, path: &str) -> String {
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{stage}/{method}{path}")
}

/// The HTTP API authorizer event, payload format 2.0 (headers lower-cased by API Gateway).
pub fn authorizer_v2(skey: Option<&str>, method: &str, path: &str) -> Value {
    let mut headers = json!({"host": format!("{API_ID}.execute-api.{REGION}.amazonaws.com")});
    if let Some(s) = skey {
        headers["x-wx-skey"] = json!(s);
    }
    let mut event = json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn("$default", method, path),
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "cookies": [],
        "headers": headers,
        "queryStringParameters": {},
        "requestContext": {
            "accountId": ACCOUNT, "apiId": API_ID,
            "domainName": format!("{API_ID}.execute-api.{REGION}.amazonaws.com"), "domainPrefix": API_ID,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": "auth-req", "routeKey": format!("{method} {path}"), "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000", "timeEpoch": 1_795_000_000_000_i64
        },
        "pathParameters": {},
        "stageVariables": {}
    });
    if let Some(s) = skey {
        event["identitySource"] = json!([s]);
    }
    event
}

/// The HTTP API authorizer event, payload format 1.0.
pub fn authorizer_http_v1(skey: Option<&str>, method: &str, path: &str) -> Value {
    let mut headers = json!({"host": format!("{API_ID}.execute-api.{REGION}.amazonaws.com")});
    if let Some(s) = skey {
        headers["x-wx-skey"] = json!(s);
    }
    json!({
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": route_arn("$default", method, path),
        "identitySource": skey.unwrap_or_default(),
        "authorizationToken": skey.unwrap_or_default(),
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "queryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "accountId": ACCOUNT, "apiId": API_ID, "httpMethod": method, "path": path,
            "requestId": "auth-req", "resourcePath": path, "stage": "$default",
            "identity": {"sourceIp": "203.0.113.7"}
        }
    })
}

/// The REST API `TOKEN` authorizer event (token source: the `X-WX-Skey` header).
pub fn authorizer_rest_token(skey: &str, method: &str, path: &str) -> Value {
    json!({
        "type": "TOKEN",
        "authorizationToken": skey,
        "methodArn": route_arn("prod", method, path)
    })
}

/// The REST API `REQUEST` authorizer event (REST keeps the client's header case).
pub fn authorizer_rest_request(skey: Option<&str>, method: &str, path: &str) -> Value {
    let mut headers = json!({"Host": format!("{API_ID}.execute-api.{REGION}.amazonaws.com")});
    let mut multi = json!({"Host": [format!("{API_ID}.execute-api.{REGION}.amazonaws.com")]});
    if let Some(s) = skey {
        headers["X-WX-Skey"] = json!(s);
        multi["X-WX-Skey"] = json!([s]);
    }
    json!({
        "type": "REQUEST",
        "methodArn": route_arn("prod", method, path),
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": {},
        "multiValueQueryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "path": format!("/prod{path}"), "accountId": ACCOUNT, "resourceId": "r1", "stage": "prod",
            "requestId": "auth-req", "identity": {"sourceIp": "203.0.113.7"}, "resourcePath": path,
            "httpMethod": method, "apiId": API_ID
        }
    })
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
