//! A counting reverse proxy on loopback, plain HTTP or TLS, in front of moto (DynamoDB, KMS) or the
//! WeChat simulator. It counts every request that really reaches the upstream, by DynamoDB or KMS
//! operation, and keeps client connections alive as AWS does (moto and the simulator may not).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;

/// What reached the upstream since the last reset.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// HTTP requests of any kind.
    pub requests: u64,
    /// AWS API calls by operation: DynamoDB's by name (`GetItem`, `TransactWriteItems`, ...), KMS's
    /// prefixed (`kms:Sign`, `kms:GetPublicKey`).
    pub ops: BTreeMap<String, u64>,
    /// Items read (GetItem and Query count one each; TransactGetItems its items).
    pub reads: u64,
    /// Items written (PutItem/UpdateItem/DeleteItem one each; TransactWriteItems its items).
    pub writes: u64,
    /// Requests that are no AWS API call (a pre-connect's `GET /`, WeChat paths).
    pub other: u64,
    /// Time spent waiting for the upstream (moto, the simulator), microseconds: the benchmark takes
    /// it out of answer times, so that moto's own jitter does not blur the function's.
    #[serde(default)]
    pub upstream_us: u64,
}

/// How KMS operations are named in [`Tally::ops`].
pub const KMS_PREFIX: &str = "kms:";

impl Tally {
    /// [`Tally::upstream_us`] in milliseconds.
    pub fn upstream_ms(&self) -> f64 {
        self.upstream_us as f64 / 1000.0
    }

    /// Adds what another proxy counted (KMS's to DynamoDB's: one request's calls in one tally).
    pub fn absorb(&mut self, other: Tally) {
        self.requests += other.requests;
        for (op, n) in other.ops {
            *self.ops.entry(op).or_default() += n;
        }
        self.reads += other.reads;
        self.writes += other.writes;
        self.other += other.other;
        self.upstream_us += other.upstream_us;
    }
}

struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    tally: Mutex<Tally>,
}

/// A running proxy.
#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    pub port: u16,
    state: Arc<ProxyState>,
}

impl Proxy {
    /// The counts since the last reset, and a reset.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.state.tally.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// TLS material of the local test endpoints (see `scripts/bench`, which makes it).
pub struct Certs {
    pub ca: std::path::PathBuf,
    pub server: rustls::ServerConfig,
}

impl Certs {
    /// Reads `ca.pem`, `server.pem` and `server.key` from `dir`.
    pub fn load(dir: &Path) -> Result<Certs, String> {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
        let chain = CertificateDer::pem_file_iter(dir.join("server.pem"))
            .and_then(|c| c.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("server.pem: {e}"))?;
        let key = PrivateKeyDer::from_pem_file(dir.join("server.key"))
            .map_err(|e| format!("server.key: {e}"))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| e.to_string())?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        let ca = dir.join("ca.pem");
        if !ca.exists() {
            return Err(format!("{} missing", ca.display()));
        }
        Ok(Certs { ca, server })
    }
}

/// Starts a proxy to `upstream` (an `http://` base URL) on a free loopback port; TLS when `tls` is given
/// (its URL then names `localhost`, the name in the test certificate).
pub async fn start(upstream: &str, tls: Option<&Certs>) -> std::io::Result<Proxy> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let state = Arc::new(ProxyState {
        upstream: upstream.trim_end_matches('/').to_string(),
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?,
        tally: Mutex::default(),
    });
    let app = Router::new().fallback(forward).with_state(state.clone());
    let acceptor = tls.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c.server.clone())));
    let url = match tls {
        Some(_) => format!("https://localhost:{port}"),
        None => format!("http://127.0.0.1:{port}"),
    };
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let http = hyper::server::conn::http1::Builder::new();
                match acceptor {
                    Some(a) => {
                        if let Ok(tls) = a.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(tls), svc).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                    }
                }
            });
        }
    });
    Ok(Proxy { url, port, state })
}

fn count(tally: &mut Tally, headers: &HeaderMap, body: &[u8]) {
    tally.requests += 1;
    let Some(op) = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split_once('.'))
        .map(|(service, op)| match service {
            "TrentService" => format!("{KMS_PREFIX}{op}"),
            _ => op.to_string(),
        })
    else {
        tally.other += 1;
        return;
    };
    let items = || {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["TransactItems"].as_array().map(|a| a.len() as u64))
            .unwrap_or(0)
    };
    match op.as_str() {
        "GetItem" | "Query" | "Scan" => tally.reads += 1,
        "TransactGetItems" => tally.reads += items(),
        "PutItem" | "UpdateItem" | "DeleteItem" => tally.writes += 1,
        "TransactWriteItems" => tally.writes += items(),
        _ => {}
    }
    *tally.ops.entry(op).or_default() += 1;
}

async fn forward(
    State(p): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    mut headers: HeaderMap,
    body: Bytes,
) -> Response {
    count(
        &mut p.tally.lock().unwrap_or_else(|e| e.into_inner()),
        &headers,
        &body,
    );
    let path = uri.path_and_query().map(|x| x.as_str()).unwrap_or("/");
    for h in [
        header::HOST,
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
    ] {
        headers.remove(h);
    }
    let started = std::time::Instant::now();
    let sent = p
        .client
        .request(method, format!("{}{path}", p.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = resp.status();
    let mut headers = resp.headers().clone();
    for h in [
        header::CONNECTION,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
    ] {
        headers.remove(h);
    }
    let body = resp.bytes().await;
    p.tally
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .upstream_us += started.elapsed().as_micros() as u64;
    match body {
        Ok(b) => (status, headers, b).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reads_writes_and_transaction_items() {
        let mut t = Tally::default();
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", "DynamoDB_20120810.GetItem".parse().unwrap());
        count(&mut t, &h, b"{}");
        h.insert(
            "x-amz-target",
            "DynamoDB_20120810.TransactWriteItems".parse().unwrap(),
        );
        count(
            &mut t,
            &h,
            br#"{"TransactItems":[{"Put":{}},{"Update":{}}]}"#,
        );
        count(&mut t, &HeaderMap::new(), b"");
        assert_eq!((t.requests, t.reads, t.writes, t.other), (3, 1, 2, 1));
        assert_eq!(t.ops["GetItem"], 1);
        assert_eq!(t.ops["TransactWriteItems"], 1);
    }

    #[test]
    fn kms_calls_are_named_apart_and_read_or_write_no_item() {
        let mut t = Tally::default();
        let mut h = HeaderMap::new();
        h.insert("x-amz-target", "TrentService.Sign".parse().unwrap());
        count(&mut t, &h, br#"{"KeyId":"k","Message":"bQ=="}"#);
        assert_eq!((t.requests, t.reads, t.writes, t.other), (1, 0, 0, 0));
        assert_eq!(t.ops.keys().collect::<Vec<_>>(), ["kms:Sign"]);
    }

    #[test]
    fn tallies_add_up() {
        let mut a = Tally {
            requests: 2,
            ops: [("GetItem".to_string(), 1), ("UpdateItem".to_string(), 1)].into(),
            reads: 1,
            writes: 1,
            other: 0,
            upstream_us: 1000,
        };
        a.absorb(Tally {
            requests: 1,
            ops: [("kms:Sign".to_string(), 1), ("GetItem".to_string(), 1)].into(),
            reads: 1,
            writes: 0,
            other: 1,
            upstream_us: 500,
        });
        assert_eq!((a.requests, a.reads, a.writes, a.other), (3, 2, 1, 1));
        assert_eq!((a.ops["GetItem"], a.ops["kms:Sign"]), (2, 1));
        assert_eq!(a.upstream_us, 1500);
    }
}
