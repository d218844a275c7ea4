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
//!   is sent base64-encoded with `isBase64Encoded: true`;
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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use axum::body::{Body, HttpBody as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::Body as LambdaBody;
use serde_json::{Map, Value, json};
use wxauth::routes::{self, Function, Route};

use crate::dev::Dev;

/// Largest request body API Gateway accepts (HTTP APIs: 10 MB).
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// A body over [`MAX_REQUEST_BYTES`] is still read (and dropped) up to this size before the 413 answer;
/// a larger one is refused at once (the client may then see the connection close while it sends).
pub const DRAIN_LIMIT: usize = 4 * MAX_REQUEST_BYTES;
/// The header carrying the skey (the authorizer's identity source).
pub const SKEY_HEADER: &str = wxauth::web::SKEY_HEADER;
/// The response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "apigw-requestid";

/// Placeholders of the event fields that name an AWS account, API and region.
const ACCOUNT: &str = "000000000000";
const API_ID: &str = "wxauthlocal";
const REGION: &str = "local";
const STAGE: &str = "$default";

pub use wxauth::bootstrap::Functions;

/// One answer, with a short note for the access log (an error code, or why the gateway answered).
#[derive(Debug)]
pub struct Answer {
    pub response: http::Response<Body>,
    pub note: Option<String>,
}

impl Answer {
    /// An answer of the gateway itself: `{"message": ..}`.
    pub fn gateway(status: StatusCode, message: &str, note: &str, request_id: &str) -> Answer {
        let mut response =
            http::Response::new(Body::from(json!({ "message": message }).to_string()));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(id) = HeaderValue::from_str(request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, id);
        }
        Answer {
            response,
            note: Some(note.to_string()),
        }
    }

    /// What API Gateway answers when the integration fails (a function that crashed, for instance).
    pub fn internal_error(note: &str, request_id: &str) -> Answer {
        Answer::gateway(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            note,
            request_id,
        )
    }
}

/// The gateway: routes, authorizer, functions, and the dev routes of simulator mode.
#[derive(Debug)]
pub struct Gateway {
    functions: Functions,
    dev: Option<Dev>,
}

impl Gateway {
    pub fn new(functions: Functions, dev: Option<Dev>) -> Gateway {
        Gateway { functions, dev }
    }

    /// Whether the dev routes are served (simulator mode).
    pub fn has_dev_routes(&self) -> bool {
        self.dev.is_some()
    }

    /// Answers one HTTP request as API Gateway and the functions would. Never panics on input.
    pub async fn handle(&self, req: http::Request<Body>, peer: SocketAddr) -> Answer {
        let id = new_request_id();
        let (parts, body) = req.into_parts();
        let route = routes::find(parts.method.as_str(), parts.uri.path());
        let dev_route = match (&self.dev, route) {
            (Some(_), None) => crate::dev::find(parts.method.as_str(), parts.uri.path()),
            _ => None,
        };
        if route.is_none() && dev_route.is_none() {
            return Answer::gateway(StatusCode::NOT_FOUND, "Not Found", "no route", &id);
        }
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > DRAIN_LIMIT as u64) {
            return too_large(&id);
        }
        let body = match read_body(body, MAX_REQUEST_BYTES).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => return too_large(&id),
            Err(BodyError::Broken) => {
                return Answer::gateway(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    "body not received",
                    &id,
                );
            }
        };
        let incoming = Incoming::new(&parts, body, peer, id);

        if let (Some(dev), Some(dev_route)) = (&self.dev, dev_route) {
            let resp = dev.handle(dev_route, incoming.skey(), &incoming.body).await;
            return from_function(resp, &incoming.request_id);
        }
        let id = incoming.request_id.as_str();
        let Some(route) = route else {
            return Answer::gateway(StatusCode::NOT_FOUND, "Not Found", "no route", id);
        };

        let mut event = incoming.event(route);
        if route.authorized {
            let Some(skey) = incoming.skey() else {
                return Answer::gateway(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "gateway: no X-WX-Skey",
                    id,
                );
            };
            let decision = self
                .functions
                .authorizer
                .handle(incoming.authorizer_event(route, skey))
                .await;
            match decision {
                Ok(answer) if answer.get("isAuthorized") == Some(&Value::Bool(true)) => {
                    let context = answer.get("context").cloned().unwrap_or_else(|| json!({}));
                    event["requestContext"]["authorizer"] = json!({ "lambda": context });
                }
                Ok(_) => {
                    return Answer::gateway(
                        StatusCode::FORBIDDEN,
                        "Forbidden",
                        "gateway: authorizer denied",
                        id,
                    );
                }
                Err(_) => {
                    return Answer::gateway(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Service Unavailable",
                        "gateway: authorizer failed",
                        id,
                    );
                }
            }
        }

        let request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "lambda_http refused the event built for this request");
                return Answer::internal_error("event not parsed", id);
            }
        };
        let resp = match route.function {
            Function::Login => self.functions.login.handle(request).await,
            Function::Account => self.functions.account.handle(request).await,
        };
        from_function(resp, &incoming.request_id)
    }
}

fn too_large(request_id: &str) -> Answer {
    Answer::gateway(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request Entity Too Large",
        "body over 10 MB",
        request_id,
    )
}

#[derive(Debug, PartialEq, Eq)]
enum BodyError {
    TooLarge,
    Broken,
}

/// Reads a request body of at most `limit` bytes. A larger body is read on (and dropped) up to
/// [`DRAIN_LIMIT`] bytes, so that the client, still sending, gets the 413 answer rather than a broken
/// connection.
async fn read_body(mut body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| BodyError::Broken)?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total > DRAIN_LIMIT {
                return Err(BodyError::TooLarge);
            }
            if total <= limit {
                out.extend_from_slice(&data);
            }
        }
    }
    if total > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(out)
}

/// A request as API Gateway sees it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-cased names, repeated headers joined with commas, without `cookie`.
    pub headers: BTreeMap<String, String>,
    pub cookies: Vec<String>,
    pub body: Vec<u8>,
    pub source_ip: String,
    pub request_id: String,
    pub epoch_ms: i64,
}

impl Incoming {
    pub fn new(
        parts: &http::request::Parts,
        body: Vec<u8>,
        peer: SocketAddr,
        request_id: String,
    ) -> Incoming {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        let mut cookies = Vec::new();
        for (name, value) in &parts.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            if name == COOKIE {
                cookies.extend(
                    value
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_string),
                );
                continue;
            }
            headers
                .entry(name.as_str().to_ascii_lowercase())
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(&value);
                })
                .or_insert(value);
        }
        let source_ip = peer.ip().to_string();
        let forwarded = match headers.get("x-forwarded-for") {
            Some(chain) => format!("{chain}, {source_ip}"),
            None => source_ip.clone(),
        };
        headers.insert("x-forwarded-for".into(), forwarded);
        headers.insert("x-forwarded-proto".into(), "http".into());
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Incoming {
            method: parts.method.as_str().to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            headers,
            cookies,
            body,
            source_ip,
            request_id,
            epoch_ms,
        }
    }

    /// The skey, as the authorizer's identity source sees it: absent when missing or blank.
    pub fn skey(&self) -> Option<&str> {
        self.headers
            .get(SKEY_HEADER)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn host(&self) -> String {
        self.headers
            .get("host")
            .cloned()
            .unwrap_or_else(|| "localhost".to_string())
    }

    fn user_agent(&self) -> String {
        self.headers.get("user-agent").cloned().unwrap_or_default()
    }

    fn request_context(&self, route: &Route) -> Value {
        let host = self.host();
        let domain_prefix = host
            .split(['.', ':'])
            .next()
            .unwrap_or_default()
            .to_string();
        json!({
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": domain_prefix,
            "http": {
                "method": self.method,
                "path": self.path,
                "protocol": "HTTP/1.1",
                "sourceIp": self.source_ip,
                "userAgent": self.user_agent(),
            },
            "requestId": self.request_id,
            "routeKey": route.key(),
            "stage": STAGE,
            "time": clf_time(self.epoch_ms / 1000),
            "timeEpoch": self.epoch_ms,
        })
    }

    /// The HTTP API (payload format 2.0) event the route's function receives (without the authorizer
    /// context, which the gateway adds once the authorizer allowed the request).
    pub fn event(&self, route: &Route) -> Value {
        let mut event = json!({
            "version": "2.0",
            "routeKey": route.key(),
            "rawPath": self.path,
            "rawQueryString": self.query,
            "headers": self.headers,
            "requestContext": self.request_context(route),
            "isBase64Encoded": false,
        });
        if !self.cookies.is_empty() {
            event["cookies"] = json!(self.cookies);
        }
        let query = query_parameters(&self.query);
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !self.body.is_empty() {
            match std::str::from_utf8(&self.body) {
                Ok(text) => event["body"] = json!(text),
                Err(_) => {
                    event["body"] = json!(STANDARD.encode(&self.body));
                    event["isBase64Encoded"] = json!(true);
                }
            }
        }
        event
    }

    /// The authorizer event (payload format 2.0) for this request.
    pub fn authorizer_event(&self, route: &Route, skey: &str) -> Value {
        json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": format!(
                "arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{STAGE}/{}{}",
                route.method, route.path
            ),
            "identitySource": [skey],
            "routeKey": route.key(),
            "rawPath": self.path,
            "rawQueryString": self.query,
            "cookies": self.cookies,
            "headers": self.headers,
            "queryStringParameters": Value::Object(query_parameters(&self.query)),
            "requestContext": self.request_context(route),
            "pathParameters": {},
            "stageVariables": {},
        })
    }
}

/// A fresh request id.
pub fn new_request_id() -> String {
    wxauth::crypto::random_id().unwrap_or_else(|_| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("local-{nanos}")
    })
}

/// `queryStringParameters`: decoded, repeated names joined with commas (as HTTP APIs do).
fn query_parameters(query: &str) -> Map<String, Value> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        out.entry(k)
            .and_modify(|old| {
                old.push(',');
                old.push_str(&v);
            })
            .or_insert(v);
    }
    out.into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// API Gateway's `requestContext.time`: `25/Nov/2026:12:00:00 +0000`.
fn clf_time(epoch_secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = epoch_secs.div_euclid(86_400);
    let secs = epoch_secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let month_name = usize::try_from(month - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{day:02}/{month_name}/{year}:{:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// What a function's `main.rs` sends back to Lambda for an HTTP API request (as `lambda_http` builds
/// it: `set-cookie` headers moved to `cookies`, binary bodies base64-encoded).
pub fn lambda_output(resp: lambda_http::Response<LambdaBody>) -> Value {
    let (parts, body) = resp.into_parts();
    let mut headers = parts.headers;
    let cookies = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    headers.remove(SET_COOKIE);
    let (is_base64_encoded, body) = match body {
        LambdaBody::Empty => (false, None),
        b @ LambdaBody::Text(_) => (false, Some(b)),
        b @ LambdaBody::Binary(_) => (true, Some(b)),
        _ => (false, None),
    };
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = headers;
    out.cookies = cookies;
    out.body = body;
    out.is_base64_encoded = is_base64_encoded;
    serde_json::to_value(&out).unwrap_or(Value::Null)
}

/// Reads a function's output as API Gateway does (payload format 2.0 response). `None` when it is not
/// a response API Gateway could use (it answers 500 then).
pub fn gateway_response(output: &Value, request_id: &str) -> Option<http::Response<Body>> {
    let status = output
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())?;
    let mut builder = http::Response::builder().status(status);
    if let Some(headers) = output.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
            builder = builder.header(name, HeaderValue::from_str(&value).ok()?);
        }
    }
    if let Some(cookies) = output.get("cookies").and_then(Value::as_array) {
        for cookie in cookies {
            builder = builder.header(SET_COOKIE, HeaderValue::from_str(cookie.as_str()?).ok()?);
        }
    }
    builder = builder.header(REQUEST_ID_HEADER, HeaderValue::from_str(request_id).ok()?);
    let body = match output.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if output.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            STANDARD.decode(s).ok()?
        }
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(_) => return None,
    };
    builder.body(Body::from(body)).ok()
}

/// The HTTP answer of a function's response, through the JSON that travels between Lambda and API
/// Gateway; the note is the error code of an error answer.
pub fn from_function(resp: lambda_http::Response<LambdaBody>, request_id: &str) -> Answer {
    let note = error_code(&resp);
    let output = lambda_output(resp);
    match gateway_response(&output, request_id) {
        Some(response) => Answer { response, note },
        None => {
            tracing::error!("a function answered something API Gateway cannot use");
            Answer::internal_error("malformed function answer", request_id)
        }
    }
}

/// `error.code` of an error answer (a fixed identifier, never data the client sent).
fn error_code(resp: &lambda_http::Response<LambdaBody>) -> Option<String> {
    if resp.status().as_u16() < 400 {
        return None;
    }
    let body: &[u8] = resp.body().as_ref();
    let value: Value = serde_json::from_slice(body).ok()?;
    let code = value.get("error")?.get("code")?.as_str()?;
    (code.len() <= 40 && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
        .then(|| code.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 50_000))
    }

    #[test]
    fn events_parse_like_api_gateway_events() {
        let route = routes::find("POST", "/login").expect("route");
        let p = parts(
            "POST",
            "/login?a=1&a=2&b=x%20y",
            &[
                ("X-Custom", "1"),
                ("x-custom", "2"),
                ("cookie", "a=1; b=2"),
                ("host", "127.0.0.1:3000"),
            ],
        );
        let incoming = Incoming::new(&p, b"{\"code\":\"x\"}".to_vec(), peer(), "rid".into());
        let event = incoming.event(route);
        assert_eq!(event["headers"]["x-custom"], "1,2");
        assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(
            event["queryStringParameters"],
            json!({"a": "1,2", "b": "x y"})
        );
        assert_eq!(event["routeKey"], "POST /login");
        let req = lambda_http::request::from_str(&event.to_string()).expect("lambda_http parses");
        assert_eq!(wxauth::web::route_key(&req), "POST /login");
        assert_eq!(req.body().as_ref(), b"{\"code\":\"x\"}");

        let binary = Incoming::new(&p, vec![b'{', 0xff, b'}'], peer(), "rid".into());
        let event = binary.event(route);
        assert_eq!(event["isBase64Encoded"], true);
        let req = lambda_http::request::from_str(&event.to_string()).expect("lambda_http parses");
        assert_eq!(req.body().as_ref(), &[b'{', 0xff, b'}']);
    }

    #[test]
    fn skey_is_the_identity_source() {
        let p = parts("GET", "/me", &[("X-WX-Skey", "  ")]);
        assert_eq!(Incoming::new(&p, vec![], peer(), "rid".into()).skey(), None);
        let p = parts("GET", "/me", &[]);
        assert_eq!(Incoming::new(&p, vec![], peer(), "rid".into()).skey(), None);
        let p = parts("GET", "/me", &[("X-WX-Skey", "abc")]);
        let incoming = Incoming::new(&p, vec![], peer(), "rid".into());
        assert_eq!(incoming.skey(), Some("abc"));
        let route = routes::find("GET", "/me").expect("route");
        let event = incoming.authorizer_event(route, "abc");
        assert_eq!(event["identitySource"], json!(["abc"]));
        assert_eq!(event["headers"][SKEY_HEADER], "abc");
    }

    #[test]
    fn responses_round_trip_through_lambda_json() {
        let mut resp = wxauth::web::json(
            StatusCode::BAD_REQUEST,
            &json!({"error": {"code": "CODE_USED"}}),
        );
        resp.headers_mut()
            .append(SET_COOKIE, HeaderValue::from_static("a=1"));
        let answer = from_function(resp, "rid");
        assert_eq!(answer.note.as_deref(), Some("CODE_USED"));
        let r = answer.response;
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()[REQUEST_ID_HEADER], "rid");
        assert_eq!(r.headers()[SET_COOKIE], "a=1");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json; charset=utf-8");

        let mut binary = lambda_http::Response::new(LambdaBody::Binary(vec![0, 255]));
        *binary.status_mut() = StatusCode::OK;
        let out = lambda_output(binary);
        assert_eq!(out["isBase64Encoded"], true);
        assert!(gateway_response(&out, "rid").is_some());
        assert!(gateway_response(&json!({"body": "x"}), "rid").is_none());
        assert!(
            gateway_response(
                &json!({"statusCode": 200, "body": "%%", "isBase64Encoded": true}),
                "rid"
            )
            .is_none()
        );
    }

    #[test]
    fn times_and_decoding() {
        assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clf_time(1_795_003_200), "18/Nov/2026:12:00:00 +0000");
        assert_eq!(clf_time(951_782_400), "29/Feb/2000:00:00:00 +0000");
        assert_eq!(percent_decode("a%20b%zz%"), "a b%zz%");
        assert_eq!(percent_decode("%e4%bd%a0"), "你");
    }

    #[tokio::test]
    async fn bodies_are_limited() {
        assert_eq!(
            read_body(Body::from(vec![1u8; 11]), 10).await,
            Err(BodyError::TooLarge)
        );
        assert_eq!(
            read_body(Body::from(vec![1u8; 10]), 10).await,
            Ok(vec![1u8; 10])
        );
    }
}
