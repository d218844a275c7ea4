//! HTTP helpers shared by the functions: JSON and binary answers, body parsing with limits
//! ([`multipart`] for uploads), the skey header, routing, the origin a request was sent to.

pub mod multipart;

pub use http::StatusCode;
use http::{HeaderValue, header};
use lambda_http::{Body, Request, RequestExt, Response, request::RequestContext};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest accepted request body (every route but the avatar upload, [`crate::avatars`]).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The header carrying the skey.
pub const SKEY_HEADER: &str = "x-wx-skey";

/// A JSON answer. Auth answers are never cached by intermediaries.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(Body::Text(value.to_string()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The documented error answer (`Retry-After` on a rate limit).
pub fn error(err: &ApiError) -> Response<Body> {
    let mut resp = json(err.status(), &err.body());
    if let ApiError::RateLimited(seconds) = err
        && let Ok(value) = HeaderValue::from_str(&seconds.max(&1).to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, value);
    }
    resp
}

/// A binary answer (an image): its content type, never sniffed by the client, cached as `cache` says.
pub fn binary(content_type: &'static str, bytes: Vec<u8>, cache: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::Binary(bytes));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

/// The raw bytes of a request body, refusing bodies over [`MAX_BODY_BYTES`].
pub fn body_bytes(req: &Request) -> Result<&[u8], ApiError> {
    body_within(req, MAX_BODY_BYTES)
}

/// The raw bytes of a request body (base64-encoded bodies arrive decoded), refusing bodies over
/// `limit` bytes.
pub fn body_within(req: &Request, limit: usize) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b.as_slice(),
        _ => &[],
    };
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    Ok(bytes)
}

/// Parses a JSON body into `T`. Unknown fields are ignored (mini programs often send WeChat's whole
/// `detail` object); missing or wrong-typed fields, non-UTF-8 bytes and malformed JSON are `BAD_REQUEST`.
pub fn parse_json<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(req)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "request body must be a JSON object".into(),
        ));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::BadRequest("request body is not valid UTF-8".into()))?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        ApiError::BadRequest(format!("request body is not valid JSON: {}", describe(&e)))
    })?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "request body must be a JSON object".into(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::BadRequest(format!("invalid request body: {}", describe(&e))))
}

/// serde_json's message without the input it quotes (a body may echo secrets the client sent).
fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            format!("malformed JSON at line {} column {}", e.line(), e.column())
        }
        Category::Data => {
            let msg = e.to_string();
            if msg.starts_with("missing field") {
                msg
            } else {
                match msg.find(", expected") {
                    Some(i) => format!("wrong type or value{}", &msg[i..]),
                    None => "wrong type or value".to_string(),
                }
            }
        }
    }
}

/// The value of the `X-WX-Skey` header, if present and text.
pub fn skey_header(req: &Request) -> Option<&str> {
    req.headers().get(SKEY_HEADER).and_then(|v| v.to_str().ok())
}

/// The route of a request, `"METHOD /path"`: API Gateway's `routeKey` when it sent one, else the
/// method and path (so the same code serves any stage name).
pub fn route_key(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(route) = ctx.route_key.as_deref()
        && route != "$default"
    {
        return route.to_string();
    }
    format!("{} {}", req.method(), req.raw_http_path())
}

/// The client's address: the one API Gateway saw (`requestContext.http.sourceIp`), or, behind
/// `trusted_hops` proxies of the deployment's own (CloudFront: 1), the `trusted_hops`-th address from
/// the right of `X-Forwarded-For` before the one API Gateway appends. A request with fewer
/// forwarded addresses than that did not come through the proxies: its own address counts.
pub fn client_ip(req: &Request, trusted_hops: usize) -> Option<String> {
    let seen = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.clone(),
        _ => None,
    }?;
    if trusted_hops == 0 {
        return Some(seen);
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    let before_gateway = match forwarded.split_last() {
        Some((last, rest)) if *last == seen => rest,
        _ => &forwarded[..],
    };
    match before_gateway.len().checked_sub(trusted_hops) {
        Some(i) => before_gateway.get(i).map(|a| a.to_string()),
        None => Some(seen),
    }
}

/// The origin (`scheme://host[:port]`) the client sent this request to: the host of API Gateway's
/// `requestContext.domainName` (the custom domain when there is one) or of the `Host` header, the
/// scheme of `X-Forwarded-Proto` (API Gateway sends `https`; the local server `http`). `None` when
/// neither names a valid host.
pub fn origin(req: &Request) -> Option<String> {
    let context_domain = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.domain_name.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.domain_name.clone(),
        _ => None,
    };
    let host_header = || {
        req.headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let host = context_domain
        .filter(|d| !d.is_empty())
        .or_else(host_header)?;
    let scheme = match req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some(p) if p.trim().eq_ignore_ascii_case("http") => "http",
        _ => "https",
    };
    let host = host.trim();
    if host.is_empty()
        || host
            .bytes()
            .any(|b| b"/?#@\\ ".contains(&b) || b.is_ascii_control())
    {
        return None;
    }
    let url = url::Url::parse(&format!("{scheme}://{host}")).ok()?;
    url.host_str()?;
    Some(url.origin().ascii_serialization())
}

/// The request id API Gateway assigned, for logs.
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body1 {
        code: String,
    }

    fn req(body: Body) -> Request {
        let mut r = Request::new(body);
        *r.method_mut() = http::Method::POST;
        r
    }

    #[test]
    fn parses_and_refuses() {
        let ok: Body1 =
            parse_json(&req(Body::Text(r#"{"code":"x","extra":1}"#.into()))).expect("ok");
        assert_eq!(ok.code, "x");
        for (body, want) in [
            (Body::Empty, "BAD_REQUEST"),
            (Body::Text("   ".into()), "BAD_REQUEST"),
            (Body::Text("{".into()), "BAD_REQUEST"),
            (Body::Text("[]".into()), "BAD_REQUEST"),
            (Body::Text(r#"{"code":1}"#.into()), "BAD_REQUEST"),
            (Body::Text(r#"{}"#.into()), "BAD_REQUEST"),
            (Body::Binary(vec![b'{', 0xff, b'}']), "BAD_REQUEST"),
            (
                Body::Text(format!(r#"{{"code":"{}"}}"#, "a".repeat(MAX_BODY_BYTES))),
                "PAYLOAD_TOO_LARGE",
            ),
        ] {
            let err = parse_json::<Body1>(&req(body)).expect_err("must fail");
            assert_eq!(err.code(), want);
        }
    }

    #[test]
    fn messages_do_not_echo_input() {
        let err = parse_json::<Body1>(&req(Body::Text(r#"{"code":["SECRETVALUE"]}"#.into())))
            .expect_err("wrong type");
        assert!(!err.to_string().contains("SECRETVALUE"), "{err}");
        let err = parse_json::<Body1>(&req(Body::Text(r#"{"code":"SECRETVALUE""#.into())))
            .expect_err("truncated");
        assert!(!err.to_string().contains("SECRETVALUE"), "{err}");
    }

    #[test]
    fn the_client_is_the_address_before_the_trusted_proxies() {
        let event = |xff: &str| {
            format!(
                r#"{{"version":"2.0","routeKey":"POST /login","rawPath":"/login","rawQueryString":"",
                "headers":{{"x-forwarded-for":"{xff}"}},"requestContext":{{"accountId":"1","apiId":"a",
                "domainName":"d","domainPrefix":"d","http":{{"method":"POST","path":"/login",
                "protocol":"HTTP/1.1","sourceIp":"192.0.2.9","userAgent":"t"}},"requestId":"r",
                "routeKey":"POST /login","stage":"$default","time":"t","timeEpoch":1}},
                "isBase64Encoded":false}}"#
            )
        };
        let req = |xff: &str| lambda_http::request::from_str(&event(xff)).expect("event");
        let cases = [
            ("203.0.113.7, 192.0.2.9", 0, "192.0.2.9"),
            ("203.0.113.7, 192.0.2.9", 1, "203.0.113.7"),
            ("10.0.0.1, 203.0.113.7, 192.0.2.9", 1, "203.0.113.7"),
            ("10.0.0.1, 203.0.113.7, 192.0.2.9", 2, "10.0.0.1"),
            ("203.0.113.7", 1, "203.0.113.7"),
            ("192.0.2.9", 1, "192.0.2.9"),
            ("", 1, "192.0.2.9"),
        ];
        for (xff, hops, want) in cases {
            assert_eq!(
                client_ip(&req(xff), hops).as_deref(),
                Some(want),
                "{xff} {hops}"
            );
        }
    }

    #[test]
    fn origins() {
        let with = |headers: &[(&str, &str)]| {
            let mut r = req(Body::Empty);
            for (k, v) in headers {
                r.headers_mut().insert(
                    http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                    HeaderValue::from_str(v).expect("value"),
                );
            }
            origin(&r)
        };
        assert_eq!(
            with(&[("host", "api.example.com")]).as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(
            with(&[("host", "127.0.0.1:3000"), ("x-forwarded-proto", "http")]).as_deref(),
            Some("http://127.0.0.1:3000")
        );
        for bad in ["", "a/b", "u@h", "h h", "h?x"] {
            assert_eq!(with(&[("host", bad)]), None, "{bad:?}");
        }
        assert_eq!(with(&[]), None);
        let limited = req(Body::Binary(vec![0; 11]));
        assert_eq!(body_within(&limited, 11).map(<[u8]>::len), Ok(11));
        assert_eq!(
            body_within(&limited, 10).map_err(|e| e.code()),
            Err("PAYLOAD_TOO_LARGE")
        );
    }

    #[test]
    fn error_answers_are_json() {
        let resp = error(&ApiError::SessionExpired);
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    }
}
