//! The `login` Lambda function: `POST /login`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    wxauth::bootstrap::serve_http(wxauth::bootstrap::login()).await
}
