//! Structured logs with `tracing`: JSON lines on Lambda (CloudWatch), readable lines locally.
//!
//! What is logged is decided at the call sites, which never pass session_key, the app secret, an skey
//! or a WeChat URL; the integration tests capture every line of a run and check that.

use tracing_subscriber::EnvFilter;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

fn filter() -> EnvFilter {
    let level = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()
                .map(|l| l.to_lowercase())
        })
        .unwrap_or_else(|| "info".to_string());
    // The SDK's and hyper's own debug logs may print request details: keep them at warn.
    EnvFilter::try_new(format!(
        "warn,wxauth={level},wxauth_local={level},login={level},userinfo={level},authorizer={level}"
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber (once; later calls are ignored).
pub fn init(format: Format) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .with_writer(std::io::stdout);
    let _ = match format {
        Format::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        Format::Text => builder.compact().try_init(),
    };
}
