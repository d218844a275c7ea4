//! The `authorizer` Lambda function: checks the `X-WX-Skey` header for API Gateway (HTTP and REST APIs).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wxauth::bootstrap::init_observability(wxauth::handlers::authorizer::FUNCTION);
    let authorizer = wxauth::bootstrap::started(wxauth::bootstrap::authorizer().await).await?;
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        authorizer
            .handle_by(event.payload, event.context.deadline)
            .await
    }))
    .await
}
