//! The local server binary (`wxauth-local`) as a newcomer runs it: a child process on a free port (it
//! listens on `127.0.0.1:0` and the URL is read from its start-up banner), driven over real HTTP, its
//! whole output kept, stopped by a signal.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// How long the server may take to print its banner (a DynamoDB check included).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `wxauth-local`. Killed on drop.
pub struct LocalServer {
    child: Child,
    /// `http://127.0.0.1:PORT`, from the banner.
    pub url: String,
    output: Arc<Mutex<String>>,
    http: reqwest::Client,
}

/// A server that did not start: how it ended, and what it printed.
#[derive(Debug)]
pub struct StartFailure {
    pub status: Option<ExitStatus>,
    pub output: String,
}

/// One answer: status, JSON body (`Value::Null` when not JSON), its text and bytes, and the headers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(crate::bins::path("wxauth-local"));
    if !args.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Collects the child's stdout and stderr, line by line, into one string.
pub(crate) fn capture(child: &mut Child) -> Arc<Mutex<String>> {
    let output = Arc::new(Mutex::new(String::new()));
    let pipes: [Option<Box<dyn AsyncRead + Unpin + Send>>; 2] = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn AsyncRead + Unpin + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn AsyncRead + Unpin + Send>),
    ];
    for pipe in pipes.into_iter().flatten() {
        let output = output.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut out = output.lock().unwrap_or_else(|p| p.into_inner());
                out.push_str(&line);
                out.push('\n');
            }
        });
    }
    output
}

/// The URL of the banner's first line, `wxauth-local VERSION listening on URL`.
pub fn banner_url(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let rest = l.strip_prefix("wxauth-local ")?;
        let (_, url) = rest.split_once(" listening on ")?;
        Some(url.trim().to_string())
    })
}

impl LocalServer {
    /// Starts `wxauth-local ARGS` with exactly `env` (and `PATH`); panics if it does not start.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> LocalServer {
        match LocalServer::try_start(args, env).await {
            Ok(s) => s,
            Err(f) => panic!(
                "wxauth-local {args:?} did not start ({:?}):\n{}",
                f.status, f.output
            ),
        }
    }

    /// Starts `wxauth-local` in real-WeChat mode against the WeChat API at `wx_url` (a fake one), with
    /// the test app's credentials and `extra` variables.
    pub async fn with_wechat(wx_url: &str, extra: &[(&str, &str)]) -> LocalServer {
        let mut env = vec![
            ("WX_APPID", crate::env::APPID),
            ("WX_SECRET", crate::env::SECRET),
            ("WX_API_BASE", wx_url),
        ];
        env.extend_from_slice(extra);
        LocalServer::start(&[], &env).await
    }

    /// Starts the server and waits for its banner, or for it to exit.
    pub async fn try_start(
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<LocalServer, StartFailure> {
        let mut child = command(args, env).spawn().expect("wxauth-local starts");
        let output = capture(&mut child);
        let started = Instant::now();
        loop {
            let text = output.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(url) = banner_url(&text)
                && text.contains("Ctrl-C stops the server.")
            {
                let http = reqwest::Client::builder()
                    .no_proxy()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("http client");
                return Ok(LocalServer {
                    child,
                    url,
                    output,
                    http,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Let the readers drain the pipes.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let output = output.lock().unwrap_or_else(|p| p.into_inner()).clone();
                return Err(StartFailure {
                    status: Some(status),
                    output,
                });
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.start_kill();
                return Err(StartFailure {
                    status: None,
                    output: text,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs `wxauth-local ARGS` expecting it to stop by itself (a start-up error): exit status and output.
    pub async fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
        match LocalServer::try_start(args, env).await {
            Ok(mut s) => {
                let out = s.output();
                s.signal("KILL");
                let _ = s.wait_exit(Duration::from_secs(5)).await;
                panic!("wxauth-local {args:?} started but should not have:\n{out}");
            }
            Err(StartFailure {
                status: Some(status),
                output,
            }) => (status, output),
            Err(f) => panic!(
                "wxauth-local {args:?} neither started nor exited:\n{}",
                f.output
            ),
        }
    }

    /// Everything the process printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("process still running")
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`) to the process, with `kill`.
    pub fn signal(&self, name: &str) {
        let Some(pid) = self.child.id() else {
            return;
        };
        let status = std::process::Command::new("kill")
            .args(["-s", name, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {name} {pid} failed");
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok);
        // Let the readers drain the pipes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        status
    }

    /// SIGTERM, then the exit status and the whole output.
    pub async fn stop(mut self) -> (ExitStatus, String) {
        self.signal("TERM");
        let status = self
            .wait_exit(Duration::from_secs(15))
            .await
            .unwrap_or_else(|| panic!("no exit within 15 s of SIGTERM:\n{}", self.output()));
        (status, self.output())
    }

    /// One request. `body` is sent as is.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                req = req.header("content-type", "application/json");
            }
            req = req.body(b);
        }
        let resp = req.send().await.expect("the local server answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body").to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            headers,
            bytes,
        }
    }

    /// `POST /avatar` with a `multipart/form-data` body ([`crate::uploads`]).
    pub async fn upload(&self, skey: &str, form: Vec<u8>) -> Reply {
        let content_type = crate::uploads::content_type();
        self.send(
            "POST",
            "/avatar",
            &[("x-wx-skey", skey), ("content-type", &content_type)],
            Some(form),
        )
        .await
    }

    /// A JSON request, with the skey header when given.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        skey: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let headers: Vec<(&str, &str)> = skey.map(|s| ("x-wx-skey", s)).into_iter().collect();
        self.send(
            method,
            path,
            &headers,
            body.map(|b| b.to_string().into_bytes()),
        )
        .await
    }

    /// `POST /dev/code` for a user name.
    pub async fn dev_code(&self, user: &str) -> String {
        let r = self
            .call("POST", "/dev/code", None, Some(&json!({ "user": user })))
            .await;
        assert_eq!(r.status, 200, "POST /dev/code: {}", r.text);
        r.body["code"].as_str().expect("code").to_string()
    }

    /// `POST /login` with a code.
    pub async fn login(&self, code: &str) -> Reply {
        self.call("POST", "/login", None, Some(&json!({ "code": code })))
            .await
    }

    /// Logs in with a code; returns the skey.
    pub async fn login_with(&self, code: &str) -> String {
        let r = self.login(code).await;
        assert_eq!(r.status, 200, "POST /login: {}", r.text);
        r.body["skey"].as_str().expect("skey").to_string()
    }

    /// Logs a simulated user in through the dev routes; returns the skey.
    pub async fn login_as(&self, user: &str) -> String {
        let code = self.dev_code(user).await;
        self.login_with(&code).await
    }
}

/// The request lines of a server's output: `(method, path, status, rest)` of each
/// `... INFO METHOD PATH STATUS LATENCYms [NOTE]` line.
pub fn request_lines(output: &str) -> Vec<(String, String, u16, String)> {
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
    output
        .lines()
        .filter_map(|line| {
            let after = line
                .split_once(" INFO ")
                .or_else(|| line.split_once(" WARN "))?
                .1;
            let mut words = after.split(' ');
            let method = words.next()?;
            if !METHODS.contains(&method) {
                return None;
            }
            let path = words.next()?;
            let status = words.next()?.parse::<u16>().ok()?;
            let latency = words.next()?;
            if !latency.ends_with("ms") {
                return None;
            }
            let rest: Vec<&str> = words.collect();
            Some((method.to_string(), path.to_string(), status, rest.join(" ")))
        })
        .collect()
}

/// A fresh path in the temporary directory (not created).
pub fn temp_path(name: &str) -> std::path::PathBuf {
    let id = wxauth::crypto::random_id()
        .expect("rng")
        .replace(['-', '_'], "x");
    std::env::temp_dir().join(format!("wxauth-local-{id}-{name}"))
}

/// Removes a file if it exists.
pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}
