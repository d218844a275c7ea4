//! Structured logs with `tracing` for the Lambda functions: JSON lines (CloudWatch). The local server has
//! its own readable output (`wxauth_local::log`).
//!
//! What is logged is decided at the call sites, which never pass session_key, the app secret, an skey
//! or a WeChat URL; the integration tests capture every line of a run and check that.

use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    let level = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()
                .map(|l| l.to_lowercase())
        })
        .unwrap_or_else(|| "info".to_string());
    // The SDK's and hyper's own debug logs may print request details: keep them at warn. The functions'
    // main.rs files log under their crate names.
    EnvFilter::try_new(format!(
        "warn,wxauth={level},login={level},userinfo={level},authorizer={level}"
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global JSON subscriber (once; later calls are ignored).
pub fn init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .with_writer(std::io::stdout)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .try_init();
}
