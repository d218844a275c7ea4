//! Structured logs with `tracing` for the Lambda functions: JSON lines (CloudWatch). The local server has
//! its own readable output (`wxauth_local::log`).
//!
//! What is logged is decided at the call sites, which never pass session_key, the app secret, an skey
//! or a WeChat URL; the integration tests capture every line of a run and check that.
//!
//! The filter is a [`Targets`] list, not an `EnvFilter`: `RUST_LOG` (or Lambda's `AWS_LAMBDA_LOG_LEVEL`)
//! is one level, and `EnvFilter`'s directive syntax would link a regex engine into every function
//! (BENCHMARKS.md, "Sizes of the avatars").

use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The crates whose lines are logged at the configured level: the shared crate and the functions'
/// `main.rs` files.
const OWN_CRATES: [&str; 5] = ["wxauth", "login", "userinfo", "avatar", "authorizer"];

/// The level of `RUST_LOG`, else of `AWS_LAMBDA_LOG_LEVEL`, else `info` (also for a value that is not a
/// level).
fn level(rust_log: Option<&str>, lambda_level: Option<&str>) -> LevelFilter {
    rust_log
        .or(lambda_level)
        .and_then(|l| l.trim().to_lowercase().parse().ok())
        .unwrap_or(LevelFilter::INFO)
}

/// Our crates at `level`; everything else (the SDK's and hyper's own debug logs may print request
/// details) at warn.
fn filter(level: LevelFilter) -> Targets {
    OWN_CRATES
        .iter()
        .fold(Targets::new().with_default(LevelFilter::WARN), |t, c| {
            t.with_target(*c, level)
        })
}

/// Installs the global JSON subscriber (once; later calls are ignored).
pub fn init() {
    let env = |k: &str| std::env::var(k).ok();
    let level = level(
        env("RUST_LOG").as_deref(),
        env("AWS_LAMBDA_LOG_LEVEL").as_deref(),
    );
    let json = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_writer(std::io::stdout)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false);
    let _ = tracing_subscriber::registry()
        .with(json.with_filter(filter(level)))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn one_level_for_our_crates_warn_for_the_rest() {
        assert_eq!(level(None, None), LevelFilter::INFO);
        assert_eq!(level(Some("DEBUG"), Some("error")), LevelFilter::DEBUG);
        assert_eq!(level(None, Some("ERROR")), LevelFilter::ERROR);
        assert_eq!(level(Some("wxauth=trace"), None), LevelFilter::INFO);
        let f = filter(LevelFilter::DEBUG);
        assert!(f.would_enable("wxauth::handlers", &Level::DEBUG));
        assert!(f.would_enable("avatar", &Level::DEBUG));
        assert!(!f.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(f.would_enable("hyper", &Level::WARN));
    }
}
