//! The request handlers of the four functions. `main.rs` files only build them and hand them to the
//! Lambda runtime; the local server calls the very same handlers.

pub mod authorizer;
pub mod avatar;
pub mod login;
pub mod userinfo;

use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::{Body, Request, RequestExt, Response};

use crate::deadline;
use crate::error::ApiError;
use crate::metrics::{self, Metric};
use crate::routes::{self, Action, Function};
use crate::web;

/// Longest accepted WeChat code (`wx.login` and `getPhoneNumber` codes are 32 characters).
pub const MAX_CODE_LEN: usize = 256;

/// Runs one request of `function` through `f` within its deadline (`budget`, or the Lambda
/// invocation's deadline when nearer: [`deadline`]), turns its error into the documented answer, logs
/// one line (request id, route, status, error code and latency; never headers or bodies) and records
/// its metrics ([`metrics`]: requests, errors by code, latency, logins by outcome).
pub async fn respond<'a, F, Fut>(
    req: &'a Request,
    function: Function,
    budget: Duration,
    f: F,
) -> Response<Body>
where
    F: FnOnce(&'a Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + 'a,
{
    // Boxed: the handlers' futures are large, and this adds a level (the tests' threads have 2 MiB).
    metrics::within(function.name(), Box::pin(answer(req, function, budget, f))).await
}

async fn answer<'a, F, Fut>(
    req: &'a Request,
    function: Function,
    budget: Duration,
    f: F,
) -> Response<Body>
where
    F: FnOnce(&'a Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + 'a,
{
    let started = Instant::now();
    let route = web::route_key(req);
    let request_id = web::request_id(req);
    let lambda_deadline = req.lambda_context_ref().map_or(0, |c| c.deadline);
    let result = deadline::scope(deadline::of_request(budget, lambda_deadline), f(req)).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    metrics::count(Metric::Requests, &[]);
    metrics::millis(Metric::Latency, latency_ms, &[]);
    let code = result.as_ref().err().map(ApiError::code);
    if let Some(code) = code {
        metrics::count(Metric::Errors, &[("Code", code)]);
    }
    if function == Function::Login
        && routes::find_key(&route).is_some_and(|r| r.action == Action::Login)
    {
        metrics::count(Metric::Logins, &[("Outcome", code.unwrap_or("OK"))]);
    }
    match result {
        Ok(resp) => {
            tracing::info!(
                request_id,
                route,
                status = resp.status().as_u16(),
                latency_ms,
                "ok"
            );
            resp
        }
        Err(err) => {
            let status = err.status().as_u16();
            if status >= 500 {
                tracing::error!(
                    request_id,
                    route,
                    status,
                    code = err.code(),
                    latency_ms,
                    "failed"
                );
            } else {
                tracing::info!(
                    request_id,
                    route,
                    status,
                    code = err.code(),
                    latency_ms,
                    "refused"
                );
            }
            web::error(&err)
        }
    }
}

/// The action of a request for `function`, from the route table; [`no_route`] otherwise.
pub fn action(req: &Request, function: Function) -> Result<Action, ApiError> {
    match routes::find_key(&web::route_key(req)) {
        Some(route) if route.function == function => Ok(route.action),
        _ => Err(no_route(req)),
    }
}

/// The answer for a request no route of this function serves: 405 when the path exists with another
/// method, 404 otherwise.
pub fn no_route(req: &Request) -> ApiError {
    let key = web::route_key(req);
    let path = key.split_once(' ').map(|(_, p)| p).unwrap_or(&key);
    if routes::path_exists(path) {
        ApiError::MethodNotAllowed(path.to_string())
    } else {
        ApiError::NotFound(format!("no route for {path}"))
    }
}

/// Checks the shape of a WeChat code (`kind` names it in the message): trimmed, not empty, at most
/// [`MAX_CODE_LEN`] bytes, no whitespace or control characters inside.
pub fn wechat_code<'a>(code: &'a str, kind: &str) -> Result<&'a str, ApiError> {
    let code = code.trim();
    if code.is_empty() {
        return Err(ApiError::BadRequest("code must not be empty".into()));
    }
    if code.len() > MAX_CODE_LEN || code.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::BadRequest(format!("code is not a {kind} code")));
    }
    Ok(code)
}
