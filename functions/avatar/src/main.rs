//! The `avatar` Lambda function: `POST /avatar` (the upload) and `GET /avatars/{uid}/{file}` (the image).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    wxauth::bootstrap::serve_http(wxauth::bootstrap::avatar()).await
}
