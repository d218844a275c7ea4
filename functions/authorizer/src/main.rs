//! The `authorizer` Lambda function: checks the `X-WX-Skey` header for API Gateway (HTTP and REST APIs).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxauth::logging::init();
    let authorizer = wxauth::bootstrap::authorizer()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        authorizer
            .handle_by(event.payload, event.context.deadline)
            .await
    }))
    .await
}
