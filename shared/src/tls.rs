//! TLS and outbound HTTP, built once per process and shared by the AWS SDK and the WeChat client.
//!
//! - One rustls [`ClientConfig`] ([`client_config`]): the aws-lc-rs provider (the only crypto provider in
//!   the binary) and Mozilla's root certificates compiled in (webpki-roots), so a cold start reads no
//!   certificate file and parses no PEM. Both HTTP clients hold shallow copies of it, which share its
//!   roots, verifier, provider and TLS session cache.
//! - The AWS SDK sends its requests through reqwest over that configuration
//!   ([`crate::sdk_http::SdkHttp`]), instead of building a second TLS stack that loads the system's
//!   certificates on its first request.
//! - An opt-in pre-connect (`WXAUTH_PREWARM=1`, [`prewarm_enabled`], [`preconnect`]): on AWS the init
//!   phase runs with a full CPU while requests run throttled to the memory size's share, so opening the
//!   TLS connections to DynamoDB and WeChat during init takes the handshake (and aws-lc's one-time
//!   entropy collection) out of the first request. It is a no-op for `http://` endpoints.
//!
//! `WXAUTH_TLS_EXTRA_ROOTS` names a PEM file of additional trusted roots (a local test endpoint with a
//! self-signed certificate, a TLS-inspecting proxy). It is read once, when the configuration is built.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::ClientConfig;

/// The environment variable that names a PEM file of extra trusted roots.
pub const EXTRA_ROOTS_VAR: &str = "WXAUTH_TLS_EXTRA_ROOTS";
/// The environment variable that turns the init-time pre-connect on.
pub const PREWARM_VAR: &str = "WXAUTH_PREWARM";

/// How long a pre-connect may take before init goes on without it.
const PRECONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A failure to build the TLS configuration or an HTTP client over it.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

static CONFIG: OnceLock<Result<Arc<ClientConfig>, rustls::Error>> = OnceLock::new();

/// The process's TLS client configuration, built on first use.
pub fn client_config() -> Result<Arc<ClientConfig>, Error> {
    CONFIG
        .get_or_init(|| build_config(std::env::var_os(EXTRA_ROOTS_VAR).as_deref()).map(Arc::new))
        .clone()
        .map_err(Error::from)
}

fn build_config(extra_roots: Option<&std::ffi::OsStr>) -> Result<ClientConfig, rustls::Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_roots.filter(|p| !p.is_empty()) {
        add_pem_roots(&mut roots, std::path::Path::new(path));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Both clients speak HTTP/1.1 only (DynamoDB and WeChat answer it; no h2 code in the binary).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn add_pem_roots(roots: &mut rustls::RootCertStore, path: &std::path::Path) {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    match CertificateDer::pem_file_iter(path) {
        Ok(certs) => {
            let (added, ignored) = roots.add_parsable_certificates(certs.flatten());
            tracing::info!(added, ignored, "extra TLS roots from {EXTRA_ROOTS_VAR}");
        }
        Err(e) => tracing::warn!(error = %e, "cannot read {EXTRA_ROOTS_VAR}; ignored"),
    }
}

/// A reqwest client builder over the shared TLS configuration.
pub fn reqwest_builder() -> Result<reqwest::ClientBuilder, Error> {
    let config = ClientConfig::clone(&*client_config()?);
    Ok(reqwest::Client::builder().tls_backend_preconfigured(config))
}

/// Whether `WXAUTH_PREWARM` asks for pre-connecting at init.
pub fn prewarm_enabled() -> bool {
    std::env::var(PREWARM_VAR).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"))
}

/// Opens a connection to the origin of `url` through `client`'s pool, so that the next request there
/// reuses it: a `GET /` whose answer is read and discarded (DynamoDB answers it with a health line, no
/// API call and no capacity used). Only for `https://` URLs; `false` when nothing was opened.
pub async fn preconnect(client: &reqwest::Client, url: &str) -> bool {
    let Ok(mut origin) = url::Url::parse(url) else {
        return false;
    };
    if origin.scheme() != "https" {
        return false;
    }
    origin.set_path("/");
    origin.set_query(None);
    let started = std::time::Instant::now();
    let attempt = async {
        let resp = client.get(origin.as_str()).send().await?;
        // Reading the (short) body to its end puts the connection back into the pool.
        resp.bytes().await.map(|_| ())
    };
    let ok = matches!(
        tokio::time::timeout(PRECONNECT_TIMEOUT, attempt).await,
        Ok(Ok(()))
    );
    tracing::info!(
        host = origin.host_str().unwrap_or_default(),
        ok,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "pre-connected"
    );
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_compiled_in_and_alpn_is_http1() {
        let c = build_config(None).expect("config");
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        // The shared configuration is built once.
        let (a, b) = (client_config().expect("a"), client_config().expect("b"));
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn a_missing_extra_roots_file_is_ignored() {
        let c = build_config(Some(std::ffi::OsStr::new("/nonexistent/roots.pem"))).expect("c");
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[tokio::test]
    async fn preconnect_is_a_no_op_for_plain_http() {
        let c = reqwest::Client::new();
        assert!(!preconnect(&c, "http://127.0.0.1:9/").await);
        assert!(!preconnect(&c, "not a url").await);
    }
}
