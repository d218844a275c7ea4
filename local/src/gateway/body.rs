//! Request bodies as API Gateway takes them: at most 10 MB, in an event of at most Lambda's 6 MB.

use std::pin::Pin;

use axum::body::{Body, HttpBody as _};

/// Largest request body API Gateway accepts (HTTP APIs: 10 MB).
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// Largest event a synchronous Lambda invocation accepts (6 MiB; the JSON of the event, a binary
/// body in it base64-encoded).
pub const MAX_LAMBDA_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// A body over [`MAX_REQUEST_BYTES`] is still read (and dropped) up to this size before the 413 answer;
/// a larger one is refused at once (the client may then see the connection close while it sends).
pub const DRAIN_LIMIT: usize = 4 * MAX_REQUEST_BYTES;

/// How long a client may take to send a body.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// How many bytes of bodies may be buffered at once, all requests together.
pub const BYTES_IN_FLIGHT: usize = 16 * 1024 * 1024;

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Over the limit: how many bytes came (read on and dropped, up to [`DRAIN_LIMIT`]).
    TooLarge(usize),
    Broken,
    /// Not received within [`BODY_TIMEOUT`].
    Slow,
}

/// The buffer budget of the bodies in flight: a request reserves its route's limit before reading.
#[derive(Debug, Clone)]
pub struct InFlight(std::sync::Arc<tokio::sync::Semaphore>);

impl Default for InFlight {
    fn default() -> Self {
        InFlight(std::sync::Arc::new(tokio::sync::Semaphore::new(
            BYTES_IN_FLIGHT / 1024,
        )))
    }
}

impl InFlight {
    /// Reserves room for a body of at most `limit` bytes; `None` when the budget is used up.
    pub fn reserve(&self, limit: usize) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let kib = u32::try_from(limit.div_ceil(1024)).unwrap_or(u32::MAX);
        self.0.clone().try_acquire_many_owned(kib).ok()
    }
}

/// Whether a declared `Content-Length` is refused before reading anything.
pub fn declared_too_large(content_length: Option<u64>) -> bool {
    content_length.is_some_and(|len| len > DRAIN_LIMIT as u64)
}

/// Reads a request body of at most `limit` bytes. A larger body is read on (and dropped) up to
/// [`DRAIN_LIMIT`] bytes, so that the client, still sending, gets the 413 answer rather than a broken
/// connection.
pub async fn read(body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    tokio::time::timeout(BODY_TIMEOUT, read_all(body, limit))
        .await
        .unwrap_or(Err(BodyError::Slow))
}

/// Reads a body nobody looks at (a `GET`'s) to its end, keeping none of it: at most
/// [`MAX_REQUEST_BYTES`] as API Gateway.
pub async fn discard(body: Body) -> Result<(), BodyError> {
    let mut total = 0usize;
    let drain = async {
        let mut body = body;
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|_| BodyError::Broken)?;
            if let Ok(data) = frame.into_data() {
                total = total.saturating_add(data.len());
                if total > DRAIN_LIMIT {
                    return Err(BodyError::TooLarge(total));
                }
            }
        }
        if total > MAX_REQUEST_BYTES {
            return Err(BodyError::TooLarge(total));
        }
        Ok(())
    };
    tokio::time::timeout(BODY_TIMEOUT, drain)
        .await
        .unwrap_or(Err(BodyError::Slow))
}

async fn read_all(mut body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| BodyError::Broken)?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total > DRAIN_LIMIT {
                return Err(BodyError::TooLarge(total));
            }
            if total <= limit {
                out.extend_from_slice(&data);
            }
        }
    }
    if total > limit {
        return Err(BodyError::TooLarge(total));
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
            Err(BodyError::TooLarge(11))
        );
        assert_eq!(read(Body::from(vec![1u8; 10]), 10).await, Ok(vec![1u8; 10]));
        assert!(declared_too_large(Some(DRAIN_LIMIT as u64 + 1)));
        assert!(!declared_too_large(None));
        let in_flight = InFlight::default();
        let held: Vec<_> = (0..BYTES_IN_FLIGHT / (64 * 1024))
            .map(|_| in_flight.reserve(64 * 1024).expect("room"))
            .collect();
        assert!(in_flight.reserve(1).is_none(), "the budget is used up");
        drop(held);
        assert!(in_flight.reserve(64 * 1024).is_some());
    }
}
