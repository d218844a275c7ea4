//! What API Gateway answers: its own answers (`{"message": ..}`) and a function's response read back
//! from the JSON that travels between Lambda and API Gateway (payload format 2.0).

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{CONTENT_TYPE, SET_COOKIE};
use http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::Body as LambdaBody;
use serde_json::{Value, json};

/// The response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "apigw-requestid";

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

    /// No route for the method and path: `404 {"message":"Not Found"}`.
    pub fn not_found(request_id: &str) -> Answer {
        Answer::gateway(StatusCode::NOT_FOUND, "Not Found", "no route", request_id)
    }

    /// An authorized route without its identity source: `401 {"message":"Unauthorized"}`, the
    /// authorizer is not called.
    pub fn unauthorized(request_id: &str) -> Answer {
        Answer::gateway(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "gateway: no X-WX-Skey",
            request_id,
        )
    }

    /// The JWT authorizer refused the `Authorization` header (missing, or any check failed):
    /// `401 {"message":"Unauthorized"}`.
    pub fn jwt_refused(refusal: &super::jwt::Refusal, request_id: &str) -> Answer {
        let note = match refusal {
            super::jwt::Refusal::Missing => "gateway: no Authorization".to_string(),
            super::jwt::Refusal::Invalid(why) => format!("gateway: JWT refused: {why}"),
        };
        Answer::gateway(StatusCode::UNAUTHORIZED, "Unauthorized", &note, request_id)
    }

    /// The authorizer denied: `403 {"message":"Forbidden"}`.
    pub fn forbidden(request_id: &str) -> Answer {
        Answer::gateway(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "gateway: authorizer denied",
            request_id,
        )
    }

    /// The authorizer failed (fails closed). API Gateway answers 500 here; the local server says 503
    /// (a documented deviation).
    pub fn authorizer_failed(request_id: &str) -> Answer {
        Answer::gateway(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "gateway: authorizer failed",
            request_id,
        )
    }

    /// A body over 10 MB: `413 {"message":"Request Entity Too Large"}`.
    pub fn too_large(request_id: &str) -> Answer {
        Answer::gateway(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
            "body over 10 MB",
            request_id,
        )
    }

    /// An event larger than Lambda accepts: API Gateway's 413, the function never runs.
    pub fn lambda_payload_too_large(request_id: &str) -> Answer {
        Answer::gateway(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Too Long",
            "event over Lambda's 6 MB",
            request_id,
        )
    }

    /// A body the client did not finish sending.
    pub fn body_broken(request_id: &str) -> Answer {
        Answer::gateway(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "body not received",
            request_id,
        )
    }

    /// A body not sent within [`super::body::BODY_TIMEOUT`] (the local server's own limit).
    pub fn body_slow(request_id: &str) -> Answer {
        Answer::gateway(
            StatusCode::REQUEST_TIMEOUT,
            "Request Timeout",
            "body too slow",
            request_id,
        )
    }

    /// Too many bodies being received at once (the local server's own limit).
    pub fn busy(request_id: &str) -> Answer {
        Answer::gateway(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "too many bodies in flight",
            request_id,
        )
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
}
