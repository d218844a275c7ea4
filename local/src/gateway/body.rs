//! Request bodies as API Gateway takes them: at most 10 MB.

use std::pin::Pin;

use axum::body::{Body, HttpBody as _};

/// Largest request body API Gateway accepts (HTTP APIs: 10 MB).
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// A body over [`MAX_REQUEST_BYTES`] is still read (and dropped) up to this size before the 413 answer;
/// a larger one is refused at once (the client may then see the connection close while it sends).
pub const DRAIN_LIMIT: usize = 4 * MAX_REQUEST_BYTES;

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    Broken,
}

/// Whether a declared `Content-Length` is refused before reading anything.
pub fn declared_too_large(content_length: Option<u64>) -> bool {
    content_length.is_some_and(|len| len > DRAIN_LIMIT as u64)
}

/// Reads a request body of at most `limit` bytes. A larger body is read on (and dropped) up to
/// [`DRAIN_LIMIT`] bytes, so that the client, still sending, gets the 413 answer rather than a broken
/// connection.
pub async fn read(mut body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| BodyError::Broken)?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total > DRAIN_LIMIT {
                return Err(BodyError::TooLarge);
            }
            if total <= limit {
                out.extend_from_slice(&data);
            }
        }
    }
    if total > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_are_limited() {
        assert_eq!(
            read(Body::from(vec![1u8; 11]), 10).await,
            Err(BodyError::TooLarge)
        );
        assert_eq!(read(Body::from(vec![1u8; 10]), 10).await, Ok(vec![1u8; 10]));
        assert!(declared_too_large(Some(DRAIN_LIMIT as u64 + 1)));
        assert!(!declared_too_large(None));
    }
}
