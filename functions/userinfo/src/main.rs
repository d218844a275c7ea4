//! The `userinfo` Lambda function: the authorized account routes (`POST /userinfo`, `GET /me`, ...).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    wxauth::bootstrap::serve_http(wxauth::bootstrap::userinfo()).await
}
