//! The request handlers of the three functions. `main.rs` files only build them and hand them to the
//! Lambda runtime; the local server calls the very same handlers.

pub mod account;
pub mod authorizer;
pub mod login;

use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Request, Response};

use crate::error::ApiError;
use crate::web;

/// Runs one request through `f`, turns its error into the documented answer, and logs one line:
/// request id, route, status, error code and latency. Never logs headers or bodies.
pub async fn respond<'a, F, Fut>(req: &'a Request, f: F) -> Response<Body>
where
    F: FnOnce(&'a Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + 'a,
{
    let started = Instant::now();
    let route = web::route_key(req);
    let request_id = web::request_id(req);
    let result = f(req).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
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

/// Answers a route that exists with another method, or no route at all.
pub fn no_route(route: &str) -> ApiError {
    let path = route.split_once(' ').map(|(_, p)| p).unwrap_or(route);
    if crate::routes::path_exists(path) {
        ApiError::MethodNotAllowed(path.to_string())
    } else {
        ApiError::NotFound(path.to_string())
    }
}
