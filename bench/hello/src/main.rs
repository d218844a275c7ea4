//! A minimal `lambda_http` hello-world: what a Rust function costs before it does anything. The
//! benchmarks (`scripts/bench`) measure wxauth's functions against it, built with the same profile in
//! the same run.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_req: Request| async {
        Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body(Body::from("hello"))
            .map_err(Error::from)
    }))
    .await
}
