//! A stand-in of the Lambda Runtime API on loopback, serving real event JSON to a real function binary
//! (as the Lambda service does), so tests and benchmarks run the very `main.rs` that is deployed.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    Error {
        error_type: String,
        error_message: String,
    },
}

type Pending = (String, Value, oneshot::Sender<Outcome>);

#[derive(Default)]
struct Shared {
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    first_next: Option<Instant>,
    init_error: Option<Value>,
}

struct Inner {
    rx: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    shared: Mutex<Shared>,
}

/// The runtime API server. One function process polls it.
pub struct FakeRuntime {
    addr: String,
    tx: mpsc::Sender<Pending>,
    inner: Arc<Inner>,
}

impl FakeRuntime {
    pub async fn start() -> FakeRuntime {
        let (tx, rx) = mpsc::channel(64);
        let inner = Arc::new(Inner {
            rx: tokio::sync::Mutex::new(rx),
            shared: Mutex::new(Shared::default()),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeRuntime { addr, tx, inner }
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn api(&self) -> &str {
        &self.addr
    }

    /// When the function first asked for an invocation (the end of its init).
    pub fn first_next(&self) -> Option<Instant> {
        self.inner
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first_next
    }

    /// The error the function reported at init, if any.
    pub fn init_error(&self) -> Option<Value> {
        self.inner
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .init_error
            .clone()
    }

    /// Sends one event and waits for the function's answer.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let id = wxauth::crypto::random_id().expect("rng");
        let (done, wait) = oneshot::channel();
        self.tx
            .send((id, event, done))
            .await
            .expect("runtime alive");
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .expect("function answered within 30 s")
            .expect("answer delivered")
    }
}

async fn next(State(inner): State<Arc<Inner>>) -> Response {
    {
        let mut s = inner.shared.lock().unwrap_or_else(|p| p.into_inner());
        s.first_next.get_or_insert_with(Instant::now);
    }
    let Some((id, event, done)) = inner.rx.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    inner
        .shared
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .waiting
        .insert(id.clone(), done);
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 30_000)
        .unwrap_or(0);
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = v.parse() {
            headers.insert(k, v);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:wxauth-test".to_string(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_string(),
    );
    set("content-type", "application/json".to_string());
    (headers, event.to_string()).into_response()
}

fn deliver(inner: &Inner, id: &str, outcome: Outcome) -> StatusCode {
    let done = inner
        .shared
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .waiting
        .remove(id);
    match done {
        Some(d) => {
            let _ = d.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(inner): State<Arc<Inner>>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    deliver(&inner, &id, Outcome::Response(value))
}

async fn error(
    State(inner): State<Arc<Inner>>,
    UrlPath(id): UrlPath<String>,
    body: String,
) -> StatusCode {
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    let outcome = Outcome::Error {
        error_type: v["errorType"].as_str().unwrap_or_default().to_string(),
        error_message: v["errorMessage"].as_str().unwrap_or_default().to_string(),
    };
    deliver(&inner, &id, outcome)
}

async fn init_error(State(inner): State<Arc<Inner>>, body: String) -> StatusCode {
    inner
        .shared
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .init_error = Some(serde_json::from_str(&body).unwrap_or(Value::String(body)));
    StatusCode::ACCEPTED
}

/// A function process attached to a [`FakeRuntime`]. Killed on drop. Its stdout (the logs) is kept.
pub struct FunctionProcess {
    child: tokio::process::Child,
    pub started: Instant,
    logs: Arc<Mutex<String>>,
}

impl FunctionProcess {
    /// Starts `binary` with the environment Lambda sets plus `env`.
    pub fn spawn(binary: &Path, runtime: &FakeRuntime, env: &[(&str, String)]) -> FunctionProcess {
        let mut cmd = tokio::process::Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime.api())
            .env("AWS_LAMBDA_FUNCTION_NAME", "wxauth-test")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/wxauth-test")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/25/[$LATEST]0123456789",
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_SESSION_TOKEN", "test")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("function starts");
        let logs = crate::local::capture(&mut child);
        FunctionProcess {
            child,
            started,
            logs,
        }
    }

    /// Everything the process printed so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The process id (for RSS measurements).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits for the process to exit (after an init error), with a timeout.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

/// The status and JSON body of an HTTP API (payload 2.0) function response.
pub fn http_answer(outcome: &Outcome) -> (u64, Value) {
    let Outcome::Response(resp) = outcome else {
        panic!("expected a response, got {outcome:?}");
    };
    let body = resp["body"]
        .as_str()
        .map(|b| serde_json::from_str(b).expect("JSON body"))
        .unwrap_or(Value::Null);
    (resp["statusCode"].as_u64().expect("statusCode"), body)
}

/// What the deployed functions get: the WeChat simulator over HTTP and a fresh moto table, and the
/// environment the template gives them (plus `RUST_LOG=debug`: the most verbose logs are checked).
pub struct Deployed {
    pub sim: std::sync::Arc<wxauth_local::simulator::Simulator>,
    pub env: Vec<(&'static str, String)>,
}

/// A [`Deployed`] environment of the test app.
pub async fn deployed() -> Deployed {
    use crate::env::{APPID, SECRET};
    let sim = wxauth_local::simulator::Simulator::new(APPID, SECRET);
    let url = sim.spawn().await.expect("sim");
    let table = crate::dynamo::fresh_table(&crate::dynamo::client()).await;
    let env = vec![
        ("WX_APPID", APPID.to_string()),
        ("WX_SECRET", SECRET.to_string()),
        ("WX_API_BASE", url),
        ("SESSION_TABLE", table),
        ("AWS_ENDPOINT_URL_DYNAMODB", crate::dynamo::endpoint()),
        ("RUST_LOG", "debug".to_string()),
    ];
    Deployed { sim, env }
}
