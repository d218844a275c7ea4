//! The `login` Lambda function: `POST /login`.

use lambda_http::{Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxauth::logging::init();
    let handler = wxauth::bootstrap::login()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let handler = &handler;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, std::convert::Infallible>(handler.handle(req).await)
    }))
    .await
}
