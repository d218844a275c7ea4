//! The local server's log: one readable line per request on stdout.
//!
//! By default only the request lines (and warnings or errors of the functions) are shown;
//! `RUST_LOG=info` (or `debug`) adds the functions' and the authorizer's own lines, `RUST_LOG` with
//! directives (`wxauth=debug,...`) is used as it is. No line ever carries a header, a body, an skey, a
//! session_key or the app secret: the request line is method, path, status, latency and the error code.

use std::time::Duration;

use tracing_subscriber::EnvFilter;

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

/// The filter for a `RUST_LOG` value.
pub fn filter(rust_log: Option<&str>) -> EnvFilter {
    let default = || EnvFilter::new("warn,wxauth_local=info");
    match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        None => default(),
        Some(level) if LEVELS.contains(&level.to_ascii_lowercase().as_str()) => {
            let level = level.to_ascii_lowercase();
            // The SDK's and hyper's own debug logs may print request details: they stay at warn.
            EnvFilter::try_new(format!("warn,wxauth={level},wxauth_local={level}"))
                .unwrap_or_else(|_| default())
        }
        Some(directives) => EnvFilter::try_new(directives).unwrap_or_else(|_| default()),
    }
}

/// Installs the subscriber (once; later calls are ignored).
pub fn init() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(rust_log.as_deref()))
        .with_target(false)
        .with_writer(std::io::stdout)
        .compact()
        .try_init();
}

/// The line of one request: `POST /login 400 3.1ms CODE_USED`.
pub fn line(
    method: &str,
    path: &str,
    status: u16,
    latency: Duration,
    note: Option<&str>,
) -> String {
    let mut shown: String = path.chars().take(200).collect();
    if shown.len() < path.len() {
        shown.push('…');
    }
    let ms = latency.as_secs_f64() * 1000.0;
    match note {
        Some(note) => format!("{method} {shown} {status} {ms:.1}ms {note}"),
        None => format!("{method} {shown} {status} {ms:.1}ms"),
    }
}

/// Logs one request.
pub fn request(method: &str, path: &str, status: u16, latency: Duration, note: Option<&str>) {
    let line = line(method, path, status, latency, note);
    if status >= 500 {
        tracing::warn!("{line}");
    } else {
        tracing::info!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            line(
                "POST",
                "/login",
                400,
                Duration::from_micros(3140),
                Some("CODE_USED")
            ),
            "POST /login 400 3.1ms CODE_USED"
        );
        assert_eq!(
            line("GET", "/me", 200, Duration::from_millis(1), None),
            "GET /me 200 1.0ms"
        );
        let long = format!("/{}", "a".repeat(300));
        assert!(line("GET", &long, 404, Duration::ZERO, None).contains('…'));
    }

    #[test]
    fn filters() {
        for v in [
            None,
            Some(""),
            Some("info"),
            Some("DEBUG"),
            Some("wxauth=debug"),
            Some("[[["),
        ] {
            let _ = filter(v);
        }
        assert_eq!(
            filter(Some("info")).to_string(),
            EnvFilter::new("warn,wxauth=info,wxauth_local=info").to_string()
        );
    }
}
