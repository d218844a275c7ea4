//! The events API Gateway sends to Lambda, exactly in the shapes of the API Gateway developer guide:
//! the HTTP API request (payload format 2.0) a function receives, and the four authorizer events —
//! HTTP API payload 2.0 and 1.0, REST API `TOKEN` and `REQUEST`. The local server and the integration
//! tests build every event here.
//!
//! Events name the route's template (`"routeKey":"GET /avatars/{uid}/{file}"`) and carry the values of
//! its `{param}` segments in `pathParameters`, percent-decoded, as API Gateway sends them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use super::request::{Incoming, SKEY_HEADER};

/// Placeholders of the event fields that name an AWS account, API and region.
pub const ACCOUNT: &str = "123456789012";
pub const API_ID: &str = "wxauthlocal";
pub const REGION: &str = "us-east-1";
/// The stage of HTTP APIs (`$default`) and the one used for REST APIs.
pub const HTTP_STAGE: &str = "$default";
pub const REST_STAGE: &str = "prod";

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{method}{path}`.
pub fn route_arn(stage: &str, method: &str, path: &str) -> String {
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{stage}/{method}{path}")
}

/// API Gateway's `requestContext.time`: `25/Nov/2026:12:00:00 +0000`.
pub fn clf_time(epoch_secs: i64) -> String {
    let format = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::from_unix_timestamp(epoch_secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// The `pathParameters` of a request for a route key: the values of its template's `{param}`
/// segments, percent-decoded (empty for a route without parameters or a key that names no route).
pub fn path_parameters(req: &Incoming, route_key: &str) -> Map<String, Value> {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    wxauth::routes::find_key(route_key)
        .and_then(|route| route.parameters(&req.path))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::String(decode(&v))))
        .collect()
}

/// Whether API Gateway hands a body to Lambda as text: UTF-8, of a text media type (none, `text/*`,
/// JSON, XML, JavaScript, a URL-encoded form). Anything else (`multipart/form-data`, images, bytes) is
/// base64-encoded with `isBase64Encoded: true`.
pub fn is_text_body(req: &Incoming) -> bool {
    let media = req
        .headers
        .get("content-type")
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let text_media = media.is_empty()
        || media.starts_with("text/")
        || media.ends_with("json")
        || media.ends_with("xml")
        || media.ends_with("javascript")
        || media == "application/x-www-form-urlencoded";
    text_media && std::str::from_utf8(&req.body).is_ok()
}

/// `queryStringParameters`: decoded, repeated names joined with commas (as HTTP APIs do).
pub fn query_parameters(query: &str) -> Map<String, Value> {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let mut out: std::collections::BTreeMap<String, String> = Default::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
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

fn request_context(req: &Incoming, route_key: &str) -> Value {
    let host = req.host();
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
            "method": req.method,
            "path": req.path,
            "protocol": "HTTP/1.1",
            "sourceIp": req.source_ip,
            "userAgent": req.user_agent(),
        },
        "requestId": req.request_id,
        "routeKey": route_key,
        "stage": HTTP_STAGE,
        "time": clf_time(req.epoch_ms / 1000),
        "timeEpoch": req.epoch_ms,
    })
}

/// `requestContext.authorizer` of a request a Lambda authorizer allowed with `context`.
pub fn lambda_authorizer(context: &Value) -> Value {
    json!({ "lambda": context })
}

/// The HTTP API (payload format 2.0) event a function receives for `route_key` (`"POST /login"`),
/// with `requestContext.authorizer` when an authorizer allowed it ([`lambda_authorizer`], or the JWT
/// authorizer's claims: [`super::jwt::jwt_context`]).
pub fn http_v2(req: &Incoming, route_key: &str, authorizer: Option<&Value>) -> Value {
    let mut context = request_context(req, route_key);
    if let Some(a) = authorizer {
        context["authorizer"] = a.clone();
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": req.path,
        "rawQueryString": req.query,
        "headers": req.headers,
        "requestContext": context,
        "isBase64Encoded": false,
    });
    if !req.cookies.is_empty() {
        event["cookies"] = json!(req.cookies);
    }
    let query = query_parameters(&req.query);
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    let params = path_parameters(req, route_key);
    if !params.is_empty() {
        event["pathParameters"] = Value::Object(params);
    }
    if !req.body.is_empty() {
        if is_text_body(req) {
            event["body"] = json!(String::from_utf8_lossy(&req.body));
        } else {
            event["body"] = json!(STANDARD.encode(&req.body));
            event["isBase64Encoded"] = json!(true);
        }
    }
    event
}

/// The HTTP API authorizer event, payload format 2.0: `identitySource` holds the skey header's value
/// (absent when the request has none: API Gateway then answers 401 without calling the authorizer).
pub fn authorizer_v2(req: &Incoming, route_key: &str) -> Value {
    let (method, path) = route_key.split_once(' ').unwrap_or(("GET", route_key));
    let mut event = json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn(HTTP_STAGE, method, path),
        "routeKey": route_key,
        "rawPath": req.path,
        "rawQueryString": req.query,
        "cookies": req.cookies,
        "headers": req.headers,
        "queryStringParameters": Value::Object(query_parameters(&req.query)),
        "requestContext": request_context(req, route_key),
        "pathParameters": Value::Object(path_parameters(req, route_key)),
        "stageVariables": {},
    });
    if let Some(skey) = req.headers.get(SKEY_HEADER) {
        event["identitySource"] = json!([skey]);
    }
    event
}

/// The HTTP API authorizer event, payload format 1.0.
pub fn authorizer_http_v1(req: &Incoming, route_key: &str) -> Value {
    let (method, path) = route_key.split_once(' ').unwrap_or(("GET", route_key));
    let skey = req.headers.get(SKEY_HEADER).cloned().unwrap_or_default();
    json!({
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": route_arn(HTTP_STAGE, method, path),
        "identitySource": skey,
        "authorizationToken": skey,
        "resource": path,
        "path": req.path,
        "httpMethod": method,
        "headers": req.headers,
        "queryStringParameters": Value::Object(query_parameters(&req.query)),
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "accountId": ACCOUNT, "apiId": API_ID, "httpMethod": method, "path": req.path,
            "requestId": req.request_id, "resourcePath": path, "stage": HTTP_STAGE,
            "identity": {"sourceIp": req.source_ip}
        }
    })
}

/// The REST API `TOKEN` authorizer event (token source: the `X-WX-Skey` header).
pub fn authorizer_rest_token(token: &str, method: &str, path: &str) -> Value {
    json!({
        "type": "TOKEN",
        "authorizationToken": token,
        "methodArn": route_arn(REST_STAGE, method, path)
    })
}

/// The REST API `REQUEST` authorizer event. REST APIs keep the client's header case: names are sent
/// in their canonical case (`X-Wx-Skey`), with `multiValueHeaders` beside them.
pub fn authorizer_rest_request(req: &Incoming, method: &str, path: &str) -> Value {
    let mut headers = Map::new();
    let mut multi = Map::new();
    for (name, value) in &req.headers {
        let name = canonical_case(name);
        multi.insert(name.clone(), json!(value.split(',').collect::<Vec<_>>()));
        headers.insert(name, json!(value));
    }
    json!({
        "type": "REQUEST",
        "methodArn": route_arn(REST_STAGE, method, path),
        "resource": path,
        "path": req.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": Value::Object(query_parameters(&req.query)),
        "multiValueQueryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "path": format!("/{REST_STAGE}{}", req.path), "accountId": ACCOUNT, "resourceId": "r1",
            "stage": REST_STAGE, "requestId": req.request_id,
            "identity": {"sourceIp": req.source_ip}, "resourcePath": path,
            "httpMethod": method, "apiId": API_ID
        }
    })
}

/// `x-wx-skey` → `X-Wx-Skey`.
fn canonical_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming() -> Incoming {
        let mut req = Incoming::build("POST", "/login?a=1&a=2&b=x%20y", "203.0.113.7");
        req.add_header("X-Custom", "1");
        req.add_header("x-custom", "2");
        req.add_header("cookie", "a=1; b=2");
        req.add_header("host", "127.0.0.1:3000");
        req
    }

    #[test]
    fn http_events_parse_like_api_gateway_events() {
        let mut req = incoming();
        req.body = b"{\"code\":\"x\"}".to_vec();
        let event = http_v2(&req, "POST /login", None);
        assert_eq!(event["headers"]["x-custom"], "1,2");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(
            event["queryStringParameters"],
            json!({"a": "1,2", "b": "x y"})
        );
        assert_eq!(event["routeKey"], "POST /login");
        let parsed =
            lambda_http::request::from_str(&event.to_string()).expect("lambda_http parses");
        assert_eq!(wxauth::web::route_key(&parsed), "POST /login");
        assert_eq!(parsed.body().as_ref(), b"{\"code\":\"x\"}");

        req.body = vec![b'{', 0xff, b'}'];
        let event = http_v2(&req, "POST /login", None);
        assert_eq!(event["isBase64Encoded"], true);
        let parsed =
            lambda_http::request::from_str(&event.to_string()).expect("lambda_http parses");
        assert_eq!(parsed.body().as_ref(), &[b'{', 0xff, b'}']);
    }

    #[test]
    fn path_parameters_and_binary_bodies() {
        let mut req = Incoming::build("GET", "/avatars/u%2Dx/abc.png", "203.0.113.7");
        let event = http_v2(&req, "GET /avatars/{uid}/{file}", None);
        assert_eq!(
            event["pathParameters"],
            json!({"uid": "u-x", "file": "abc.png"})
        );
        let parsed =
            lambda_http::request::from_str(&event.to_string()).expect("lambda_http parses");
        use lambda_http::RequestExt as _;
        assert_eq!(parsed.path_parameters().first("file"), Some("abc.png"));
        assert!(
            http_v2(&req, "GET /me", None)
                .get("pathParameters")
                .is_none()
        );
        // A multipart body is base64-encoded even when it is UTF-8, as API Gateway does.
        req.body = b"--b\r\n".to_vec();
        req.add_header("content-type", "multipart/form-data; boundary=b");
        assert_eq!(http_v2(&req, "POST /avatar", None)["isBase64Encoded"], true);
        req.headers
            .insert("content-type".into(), "application/json".into());
        assert_eq!(
            http_v2(&req, "POST /avatar", None)["isBase64Encoded"],
            false
        );
    }

    #[test]
    fn authorizer_events_carry_the_skey() {
        let mut req = Incoming::build("GET", "/me", "203.0.113.7");
        assert!(
            authorizer_v2(&req, "GET /me")
                .get("identitySource")
                .is_none()
        );
        req.add_header("X-WX-Skey", "abc");
        let v2 = authorizer_v2(&req, "GET /me");
        assert_eq!(v2["identitySource"], json!(["abc"]));
        assert_eq!(v2["headers"][SKEY_HEADER], "abc");
        assert_eq!(authorizer_http_v1(&req, "GET /me")["identitySource"], "abc");
        assert_eq!(
            authorizer_rest_request(&req, "GET", "/me")["headers"]["X-Wx-Skey"],
            "abc"
        );
        assert_eq!(
            authorizer_rest_token("abc", "GET", "/me")["methodArn"],
            route_arn(REST_STAGE, "GET", "/me")
        );
    }

    #[test]
    fn times_and_decoding() {
        assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clf_time(1_795_003_200), "18/Nov/2026:12:00:00 +0000");
        assert_eq!(clf_time(951_782_400), "29/Feb/2000:00:00:00 +0000");
        assert_eq!(
            query_parameters("a=%20b%zz%&c=%e4%bd%a0"),
            json!({"a": " b%zz%", "c": "你"})
                .as_object()
                .cloned()
                .unwrap_or_default()
        );
    }
}
