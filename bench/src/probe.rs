//! Where a TLS cold start spends its time, measured in a fresh process with wxauth's own TLS
//! configuration (`wxauth::tls::client_config`) against the local TLS proxy: aws-lc's first random
//! bytes (its entropy collection happens once per process), a full handshake, a resumed one.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsProbe {
    /// The first 32 random bytes from aws-lc in a new process.
    pub rng_first_ms: f64,
    /// The next 32.
    pub rng_next_ms: f64,
    /// Building the shared rustls configuration (compiled-in roots).
    pub config_ms: f64,
    /// TCP connect and a full TLS handshake (randomness already initialised).
    pub handshake_full_ms: f64,
    /// A second connection, resumed with the first one's session.
    pub handshake_resumed_ms: f64,
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Runs in the child process: `wxauth-bench --probe-tls PORT` with `WXAUTH_TLS_EXTRA_ROOTS` set.
pub fn child(port: u16) -> Result<TlsProbe, String> {
    let mut p = TlsProbe::default();
    let random = rustls::crypto::aws_lc_rs::default_provider().secure_random;
    let mut buf = [0u8; 32];
    let t = Instant::now();
    random.fill(&mut buf).map_err(|e| format!("{e:?}"))?;
    p.rng_first_ms = ms(t);
    let t = Instant::now();
    random.fill(&mut buf).map_err(|e| format!("{e:?}"))?;
    p.rng_next_ms = ms(t);
    let t = Instant::now();
    let config = wxauth::tls::client_config().map_err(|e| e.to_string())?;
    p.config_ms = ms(t);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&config));
        let name =
            rustls::pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        for slot in [&mut p.handshake_full_ms, &mut p.handshake_resumed_ms] {
            let t = Instant::now();
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| e.to_string())?;
            tcp.set_nodelay(true).map_err(|e| e.to_string())?;
            let tls = connector
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| e.to_string())?;
            *slot = ms(t);
            drop(tls);
        }
        Ok::<(), String>(())
    })?;
    Ok(p)
}

/// Runs `runs` fresh probe processes against `port`, trusting `ca`; the per-field medians.
pub fn run(port: u16, ca: &std::path::Path, runs: usize) -> Result<TlsProbe, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut all = Vec::new();
    for _ in 0..runs {
        let out = Command::new(&exe)
            .args(["--probe-tls", &port.to_string()])
            .env(wxauth::tls::EXTRA_ROOTS_VAR, ca)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "TLS probe failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let p: TlsProbe = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        all.push(p);
    }
    let med = |f: fn(&TlsProbe) -> f64| {
        crate::stats::Stat::of(&all.iter().map(f).collect::<Vec<_>>()).median
    };
    Ok(TlsProbe {
        rng_first_ms: med(|p| p.rng_first_ms),
        rng_next_ms: med(|p| p.rng_next_ms),
        config_ms: med(|p| p.config_ms),
        handshake_full_ms: med(|p| p.handshake_full_ms),
        handshake_resumed_ms: med(|p| p.handshake_resumed_ms),
    })
}

/// Where the AWS SDK's one-time work goes, in a fresh process: `aws_config()`, the DynamoDB client,
/// the first GetItem and a second one (against the benchmark's moto proxy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SdkProbe {
    /// `wxauth::sdk_http::SdkHttp::new()` alone (TLS configuration and reqwest client), first call.
    #[serde(default)]
    pub sdk_http_ms: f64,
    pub tokio_runtime_ms: f64,
    pub logging_ms: f64,
    pub aws_config_ms: f64,
    pub client_ms: f64,
    pub first_get_ms: f64,
    pub second_get_ms: f64,
}

/// Runs in the child process: `wxauth-bench --probe-sdk TABLE` with `AWS_ENDPOINT_URL_DYNAMODB` set.
pub fn sdk_child(table: &str) -> Result<SdkProbe, String> {
    let mut p = SdkProbe::default();
    let t = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    p.tokio_runtime_ms = ms(t);
    let t = Instant::now();
    wxauth::logging::init();
    p.logging_ms = ms(t);
    let t = Instant::now();
    let http = wxauth::sdk_http::SdkHttp::new().map_err(|e| e.to_string())?;
    p.sdk_http_ms = ms(t);
    drop(http);
    rt.block_on(async {
        let t = Instant::now();
        let sdk = wxauth::bootstrap::aws_config().await;
        p.aws_config_ms = ms(t);
        let t = Instant::now();
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        p.client_ms = ms(t);
        for slot in [&mut p.first_get_ms, &mut p.second_get_ms] {
            let t = Instant::now();
            client
                .get_item()
                .table_name(table)
                .key(
                    "pk",
                    aws_sdk_dynamodb::types::AttributeValue::S("SESSION#probe".into()),
                )
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| format!("{:?}", e))?;
            *slot = ms(t);
        }
        Ok::<(), String>(())
    })?;
    Ok(p)
}

/// `runs` fresh SDK probes; the per-field medians.
pub fn run_sdk(table: &str, env: &[(&str, String)], runs: usize) -> Result<SdkProbe, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut all = Vec::new();
    for _ in 0..runs {
        let out = Command::new(&exe)
            .args(["--probe-sdk", table])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_SESSION_TOKEN", "test")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "SDK probe failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().last().unwrap_or_default();
        all.push(serde_json::from_str::<SdkProbe>(last).map_err(|e| format!("{e}: {text}"))?);
    }
    let med = |f: fn(&SdkProbe) -> f64| {
        crate::stats::Stat::of(&all.iter().map(f).collect::<Vec<_>>()).median
    };
    Ok(SdkProbe {
        sdk_http_ms: med(|p| p.sdk_http_ms),
        tokio_runtime_ms: med(|p| p.tokio_runtime_ms),
        logging_ms: med(|p| p.logging_ms),
        aws_config_ms: med(|p| p.aws_config_ms),
        client_ms: med(|p| p.client_ms),
        first_get_ms: med(|p| p.first_get_ms),
        second_get_ms: med(|p| p.second_get_ms),
    })
}
