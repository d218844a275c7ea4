//! One deadline per request, bounding every wait: WeChat calls, DynamoDB calls, the access_token
//! lease, retries. A request that runs out of time answers its documented error (`WECHAT_UNAVAILABLE`,
//! `STORE_UNAVAILABLE`) before the function's timeout, instead of dying as a 500 of API Gateway.
//!
//! The deadline is the Lambda invocation's own (its context's `deadline`) less [`ANSWER_MARGIN`], and
//! never later than the function's budget ([`LOGIN_BUDGET`], ...) from the start of the request: the
//! local server, which has no Lambda context, gets the same budgets. It lives in a task-local for the
//! duration of the request ([`scope`]); code outside a request (tests calling a service directly) has
//! none and is bounded by its own timeouts only.
//!
//! The template's function timeouts are the budgets plus the margin (a test checks it).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Time kept after the deadline to log and return the answer.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(1000);
/// The login function's budget: one code exchange (at most `WX_TIMEOUT_MS`, 5 s by default), then the
/// account reads and the login transaction; the function's timeout is this plus [`ANSWER_MARGIN`].
pub const LOGIN_BUDGET: Duration = Duration::from_secs(9);
/// The userinfo function's budget: at most one access_token refresh and one WeChat call (or the
/// retry after a rejected token) and the store calls around them.
pub const USERINFO_BUDGET: Duration = Duration::from_secs(9);
/// The avatar function's budget: the session and account reads, one S3 write of at most 1 MiB, the
/// profile update (or one S3 read to serve an image).
pub const AVATAR_BUDGET: Duration = Duration::from_secs(9);
/// The authorizer's budget: one DynamoDB read (and at most one update), attempts included.
pub const AUTHORIZER_BUDGET: Duration = Duration::from_secs(4);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request's deadline passed")]
pub struct Expired;

/// The deadline of a request that started now with `budget`, or earlier when the Lambda invocation's
/// deadline (epoch milliseconds, `0` when unknown) comes first.
pub fn of_request(budget: Duration, lambda_deadline_ms: u64) -> Instant {
    let now = Instant::now();
    let by_budget = now + budget;
    if lambda_deadline_ms == 0 {
        return by_budget;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let left = Duration::from_millis(lambda_deadline_ms.saturating_sub(now_ms))
        .saturating_sub(ANSWER_MARGIN);
    by_budget.min(now + left)
}

/// Runs `f` with `deadline` as the deadline of everything it awaits.
pub async fn scope<F: Future>(deadline: Instant, f: F) -> F::Output {
    DEADLINE.scope(deadline, f).await
}

/// The time left, `None` outside a request.
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|d| d.saturating_duration_since(Instant::now()))
        .ok()
}

/// `limit`, or less when the deadline is nearer.
pub fn cap(limit: Duration) -> Duration {
    remaining().map_or(limit, |left| left.min(limit))
}

/// Awaits `f` until the deadline (outside a request: without limit).
pub async fn within<F: Future>(f: F) -> Result<F::Output, Expired> {
    match remaining() {
        None => Ok(f.await),
        Some(left) if left.is_zero() => Err(Expired),
        Some(left) => tokio::time::timeout(left, f).await.map_err(|_| Expired),
    }
}

/// Awaits `f` for at most `limit`, and never past the request's deadline.
pub async fn at_most<F: Future>(limit: Duration, f: F) -> Result<F::Output, Expired> {
    let deadline = Instant::now() + cap(limit);
    scope(deadline, within(f)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_deadline_bounds_what_runs_in_its_scope() {
        assert_eq!(remaining(), None);
        assert_eq!(cap(Duration::from_secs(5)), Duration::from_secs(5));
        assert_eq!(within(async { 1 }).await, Ok(1));
        let deadline = Instant::now() + Duration::from_millis(50);
        scope(deadline, async {
            assert!(remaining().is_some_and(|r| r <= Duration::from_millis(50)));
            assert!(cap(Duration::from_secs(5)) <= Duration::from_millis(50));
            let slow = within(tokio::time::sleep(Duration::from_secs(5))).await;
            assert_eq!(slow, Err(Expired));
            assert_eq!(
                within(async { 2 }).await,
                Err(Expired),
                "nothing starts late"
            );
        })
        .await;
    }

    #[test]
    fn the_lambda_deadline_counts_less_the_margin() {
        let budget = Duration::from_secs(9);
        let unknown = of_request(budget, 0);
        assert!(unknown <= Instant::now() + budget);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        let soon = of_request(budget, now_ms + 3000);
        let left = soon.saturating_duration_since(Instant::now());
        assert!(
            left <= Duration::from_secs(2) && left > Duration::from_millis(1500),
            "{left:?}"
        );
        let past = of_request(budget, now_ms.saturating_sub(10));
        assert!(past <= Instant::now());
    }
}
