//! `wxauth-bench`: cold start, memory, size and DynamoDB request counts of the real Lambda binaries,
//! each against a minimal `lambda_http` hello-world built with the same profile in the same run.
//!
//! Every function binary runs under a stand-in of the Lambda Runtime API on loopback
//! (`wxauth_tests::runtime`) and answers real API Gateway event JSON, with moto (DynamoDB) behind a
//! counting proxy and the WeChat simulator over HTTP. Per function it reports:
//! - init: exec → first `GET /runtime/invocation/next`;
//! - cold cost: exec → first answer, minus a warm answer to the same kind of request in the same
//!   process (all one-time work, in init or in the first request);
//! - warm answer time, peak RSS (VmHWM), binary and zip size; each as a ratio to the hello-world;
//! - the DynamoDB API calls of every invocation, counted at the proxy in front of moto.
//!
//! Modes: `http` (plain endpoints; the goals are judged here), `tls` (DynamoDB and WeChat behind a TLS
//! proxy with a test root) and `tls+prewarm` (the same with `WXAUTH_PREWARM=1`).
//!
//! Run it through `scripts/bench`, which builds the binaries and starts moto. Exit status: 0 when every
//! goal holds, 1 when one is broken, 2 when the benchmark itself failed.
//!
//! This file runs the functions; beside it: `cli` (the options), `model` (runs, summaries and their
//! JSON file), `stats` (medians, percentiles, the per-function summary), `goals` (the budgets),
//! `render` (the tables), `sizes` (binaries and zips on disk), `proxy` and `probe`.

mod cli;
mod goals;
mod model;
mod probe;
mod proxy;
mod render;
mod sizes;
mod stats;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser as _;
use serde_json::{Value, json};
use wxauth::clock::SystemClock;
use wxauth::secret::Secret;
use wxauth::sessions::Sessions;
use wxauth::store::dynamo::DynamoStore;
use wxauth_local::simulator::Simulator;
use wxauth_tests::env::APPID;
use wxauth_tests::events::{self, Req};
use wxauth_tests::runtime::{FakeRuntime, FunctionProcess, Outcome};

use crate::cli::{Options, root};
use crate::model::{Expected, Mode, Results, Run, Sizes};
use crate::proxy::{Certs, Proxy};

const SECRET: &str = "wxauth-bench-app-secret-51c2e0";

/// The functions measured, and the hello-world floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Hello,
    Authorizer,
    Login,
    Userinfo,
}

impl Function {
    const ALL: [Function; 4] = [
        Function::Hello,
        Function::Authorizer,
        Function::Login,
        Function::Userinfo,
    ];
    fn name(self) -> &'static str {
        match self {
            Function::Hello => "hello",
            Function::Authorizer => "authorizer",
            Function::Login => "login",
            Function::Userinfo => "userinfo",
        }
    }
    fn binary(self) -> &'static str {
        match self {
            Function::Hello => "wxauth-bench-hello",
            other => other.name(),
        }
    }
    /// The SAM resource whose arm64 `bootstrap` ships this function.
    fn sam_resource(self) -> Option<&'static str> {
        match self {
            Function::Hello => None,
            Function::Authorizer => Some("AuthorizerFunction"),
            Function::Login => Some("LoginFunction"),
            Function::Userinfo => Some("UserinfoFunction"),
        }
    }
    /// The request benchmarked, and the DynamoDB calls each one must make.
    fn request(self) -> (&'static str, Expected) {
        match self {
            Function::Hello => ("GET /me (ignored)", Expected::ops(&[], 0, 0)),
            Function::Authorizer => (
                "HTTP API v2 authorizer event, live session (uncached)",
                Expected::ops(&[("GetItem", 1)], 1, 0),
            ),
            // A person's first login: the rate-limit windows of the client IP and of the openid (one
            // conditional update each), the user and the unionid read, one transaction of the
            // session, the user, the new account and the unionid's mapping.
            Function::Login => (
                "POST /login with a fresh code (a new person)",
                Expected::ops(
                    &[("GetItem", 2), ("UpdateItem", 2), ("TransactWriteItems", 1)],
                    2,
                    6,
                ),
            ),
            // The user item and its account.
            Function::Userinfo => (
                "GET /me behind the authorizer",
                Expected::ops(&[("GetItem", 2)], 2, 0),
            ),
        }
    }
}

/// Everything the functions talk to.
struct World {
    sim: Arc<Simulator>,
    sim_url: String,
    dynamo_http: Proxy,
    tls: Option<TlsWorld>,
    table: String,
    /// Logins made so far (each by a new person).
    logins: std::sync::atomic::AtomicUsize,
    /// Live sessions: (skey, authorizer context).
    sessions: Vec<(String, Value)>,
}

struct TlsWorld {
    ca: PathBuf,
    dynamo: Proxy,
    wechat: Proxy,
}

impl World {
    async fn new(o: &Options) -> Result<World, String> {
        let sim = Simulator::new(APPID, SECRET);
        let sim_url = sim.spawn().await.map_err(|e| e.to_string())?;
        let dynamo_http = proxy::start(&o.moto, None)
            .await
            .map_err(|e| e.to_string())?;
        let tls = match (&o.certs, o.modes.iter().any(|m| m.tls())) {
            (Some(dir), true) => {
                let certs = Certs::load(dir)?;
                Some(TlsWorld {
                    dynamo: proxy::start(&o.moto, Some(&certs))
                        .await
                        .map_err(|e| e.to_string())?,
                    wechat: proxy::start(&sim_url, Some(&certs))
                        .await
                        .map_err(|e| e.to_string())?,
                    ca: certs.ca,
                })
            }
            (None, true) => {
                return Err(
                    "TLS modes need --certs DIR or WXAUTH_BENCH_CERTS (scripts/bench makes them)"
                        .into(),
                );
            }
            _ => None,
        };
        let client = wxauth_tests::dynamo::client_for(&o.moto);
        let table = wxauth_tests::dynamo::fresh_table(&client).await;
        let sessions_api = Sessions::new(
            Arc::new(DynamoStore::new(client, &table)),
            Arc::new(SystemClock),
            // What the functions use: the bench sets no SESSION_* variables.
            wxauth::config::DEFAULT_SESSION_TTL,
            wxauth::config::DEFAULT_SESSION_IDLE,
        );
        let mut sessions = Vec::new();
        for i in 0..8 {
            let openid = sim.openid_for(&format!("bench-{i}"));
            let unionid = format!("u-{i}");
            let new = sessions_api
                .create(
                    &wxauth_tests::env::identity(&openid, Some(&unionid)),
                    &Secret::new("a2V5a2V5a2V5a2V5a2V5aw=="),
                )
                .await
                .map_err(|e| format!("cannot seed a session: {e:?}"))?;
            let context = json!({
                "openid": openid,
                "unionid": unionid,
                "session_id": new.session.sid,
                "appid": APPID,
                "uid": new.session.uid,
            });
            sessions.push((new.skey.expose().to_string(), context));
        }
        Ok(World {
            sim,
            sim_url,
            dynamo_http,
            tls,
            table,
            sessions,
            logins: Default::default(),
        })
    }

    /// The TLS proxies, in the modes that use them.
    fn tls(&self, mode: Mode) -> Option<&TlsWorld> {
        self.tls.as_ref().filter(|_| mode.tls())
    }

    fn dynamo(&self, mode: Mode) -> &Proxy {
        self.tls(mode).map_or(&self.dynamo_http, |t| &t.dynamo)
    }

    fn env(&self, mode: Mode) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("SESSION_TABLE", self.table.clone()),
            ("WX_APPID", APPID.to_string()),
            ("WX_SECRET", SECRET.to_string()),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.dynamo(mode).url.clone()),
        ];
        if let Some(t) = self.tls(mode) {
            env.push(("WX_API_BASE", t.wechat.url.clone()));
            env.push(("WXAUTH_TLS_EXTRA_ROOTS", t.ca.display().to_string()));
        } else {
            env.push(("WX_API_BASE", self.sim_url.clone()));
        }
        if mode == Mode::TlsPrewarm {
            env.push(("WXAUTH_PREWARM", "1".to_string()));
        }
        env
    }

    /// The event of the `n`th request to `f`.
    fn event(&self, f: Function, n: usize) -> Value {
        let (skey, context) = &self.sessions[n % self.sessions.len()];
        match f {
            Function::Authorizer => events::authorizer_v2(Some(skey), "GET", "/me"),
            Function::Login => {
                // A new person every time: every login does the same calls.
                let person = self
                    .logins
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let code = self.sim.mint_code(&format!("bench-login-{person}"));
                let mut event = Req::new("POST", "/login")
                    .json(&json!({ "code": code }))
                    .v2_event();
                // Each person from an address of their own (one address would meet the per-IP limit
                // after 300 logins a minute); the limit's write is made all the same.
                event["requestContext"]["http"]["sourceIp"] = json!(format!(
                    "10.{}.{}.{}",
                    (person >> 16) & 255,
                    (person >> 8) & 255,
                    person & 255
                ));
                event
            }
            Function::Userinfo | Function::Hello => Req::new("GET", "/me")
                .skey(skey)
                .authorized(context.clone())
                .v2_event(),
        }
    }
}

/// Whether an answer is the success the request should get.
fn succeeded(f: Function, outcome: &Outcome) -> Result<(), String> {
    let Outcome::Response(v) = outcome else {
        return Err(format!("function error: {outcome:?}"));
    };
    let ok = match f {
        Function::Authorizer => v["isAuthorized"] == true,
        _ => v["statusCode"] == 200,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected answer: {v}"))
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One cold start: spawn, first answer, `warm` more answers, peak RSS.
async fn cold_start(
    world: &World,
    bin: &Path,
    f: Function,
    mode: Mode,
    warm: usize,
    seq: &mut usize,
) -> Result<Run, String> {
    let dynamo = world.dynamo(mode);
    let wechat = world.tls(mode).map(|t| &t.wechat);
    // What reached DynamoDB (and WeChat's time) since the last call.
    let take = || {
        let mut tally = dynamo.take();
        tally.upstream_us += wechat.map_or(0, |w| w.take().upstream_us);
        tally
    };
    take();
    let runtime = FakeRuntime::start().await;
    let env = world.env(mode);
    let first_event = world.event(f, *seq);
    *seq += 1;
    let process = FunctionProcess::spawn(bin, &runtime, &env);
    // The event is queued before the function asks for it, as on Lambda after a cold start.
    let first = runtime.invoke(first_event).await;
    let first_at = Instant::now();
    let fail = |e: String, p: &FunctionProcess| format!("{} ({mode}): {e}\n{}", f.name(), p.logs());
    succeeded(f, &first).map_err(|e| fail(e, &process))?;
    let first_next = runtime
        .first_next()
        .ok_or_else(|| fail("never polled".into(), &process))?;
    let first_tally = take();
    let mut warm_ms = Vec::with_capacity(warm);
    let mut warm_tallies = Vec::with_capacity(warm);
    for _ in 0..warm {
        let event = world.event(f, *seq);
        *seq += 1;
        let t0 = Instant::now();
        let outcome = runtime.invoke(event).await;
        warm_ms.push(ms(t0.elapsed()));
        succeeded(f, &outcome).map_err(|e| fail(e, &process))?;
        warm_tallies.push(take());
    }
    let rss_kib = process.pid().and_then(vm_hwm_kib).unwrap_or(0);
    let started = process.started;
    drop(process);
    Ok(Run {
        init_ms: ms(first_next.saturating_duration_since(started)),
        first_ms: ms(first_at.saturating_duration_since(first_next)),
        total_ms: ms(first_at.saturating_duration_since(started)),
        warm_ms,
        rss_kib,
        first_tally,
        warm_tallies,
    })
}

fn sizes(o: &Options) -> Result<Vec<Sizes>, String> {
    let root = root();
    let mut out = Vec::new();
    let newest_source = sizes::newest_mtime(&[
        root.join("shared/src"),
        root.join("functions"),
        root.join("Cargo.lock"),
        root.join("Cargo.toml"),
    ]);
    for f in Function::ALL {
        let bin = o.bins.join(f.binary());
        let x86 = sizes::file_sizes(&bin)?;
        let arm = f
            .sam_resource()
            .map(|r| root.join(".aws-sam/build").join(r).join("bootstrap"))
            .filter(|p| p.exists())
            .map(|p| {
                let stale = sizes::mtime(&p) < newest_source;
                sizes::file_sizes(&p).map(|s| (s, stale))
            })
            .transpose()?;
        out.push(Sizes {
            function: f.name().to_string(),
            release: x86,
            sam_arm64: arm.as_ref().map(|(s, _)| s.clone()),
            sam_arm64_stale: arm.map(|(_, stale)| stale),
        });
    }
    Ok(out)
}

async fn bench(o: &Options) -> Result<Results, String> {
    for f in Function::ALL {
        let bin = o.bins.join(f.binary());
        if !bin.exists() {
            return Err(format!(
                "{} not found: build with `cargo build --release --bin {}` (scripts/bench does)",
                bin.display(),
                f.binary()
            ));
        }
    }
    let world = World::new(o).await?;
    let mut results = Results::new(o.runs, o.warm, &o.bins);
    results.sizes = sizes(o)?;
    if let Some(t) = &world.tls {
        eprintln!("TLS probe: fresh processes against the local TLS endpoint");
        let (port, ca) = (t.dynamo.port, t.ca.clone());
        // Off the runtime's workers: they serve the proxies the probes talk to.
        let probe = tokio::task::spawn_blocking(move || probe::run(port, &ca, 11));
        results.tls_probe = Some(probe.await.map_err(|e| e.to_string())??);
    }
    eprintln!("SDK probe: fresh processes against moto (http)");
    let (table, url) = (world.table.clone(), world.dynamo_http.url.clone());
    let probe = tokio::task::spawn_blocking(move || {
        probe::run_sdk(&table, &[("AWS_ENDPOINT_URL_DYNAMODB", url)], 11)
    });
    results.sdk_probe = Some(probe.await.map_err(|e| e.to_string())??);
    let mut seq = 0usize;
    for &mode in &o.modes {
        let functions: Vec<Function> = Function::ALL
            .into_iter()
            .filter(|f| mode == Mode::Http || *f != Function::Hello)
            .collect();
        // One discarded start each: page cache, moto's lazy imports.
        for &f in &functions {
            cold_start(&world, &o.bins.join(f.binary()), f, mode, 2, &mut seq).await?;
        }
        // Round-robin, so that noise from the machine spreads over every function alike.
        for run in 0..o.runs {
            for &f in &functions {
                let bin = o.bins.join(f.binary());
                let r = match cold_start(&world, &bin, f, mode, o.warm, &mut seq).await {
                    Ok(r) => r,
                    // One retry: moto sometimes stalls for over a second (the SDK's attempt
                    // timeout). The retry is reported; a second failure stops the benchmark.
                    Err(e) => {
                        let first_line = e.lines().next().unwrap_or_default().to_string();
                        eprintln!("\nretrying one cold start: {first_line}");
                        results.retries.push(first_line);
                        cold_start(&world, &bin, f, mode, o.warm, &mut seq).await?
                    }
                };
                let (what, expected) = f.request();
                results.add(f.name(), what, mode, expected, r);
            }
            eprint!("\r{mode}: {}/{} cold starts per function", run + 1, o.runs);
        }
        eprintln!();
    }
    Ok(results)
}

/// A probe's child process: its measurement as one JSON line, or exit status 2.
fn probe_child<T: serde::Serialize>(measured: Result<T, String>) {
    match measured {
        Ok(p) => println!("{}", serde_json::to_string(&p).unwrap_or_default()),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}

fn main() {
    // Bad arguments: clap's message and exit status 2; --help: exit status 0.
    let o = Options::parse();
    if let Some(port) = o.probe_tls {
        return probe_child(probe::child(port));
    }
    if let Some(table) = &o.probe_sdk {
        return probe_child(probe::sdk_child(table));
    }
    let o = match o.with_env(|name| std::env::var_os(name)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no tokio runtime: {e}");
            std::process::exit(2);
        }
    };
    let results = match rt.block_on(bench(&o)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            std::process::exit(2);
        }
    };
    let summary = stats::summarize(&results);
    let baseline = model::load(&o.baseline);
    print!("{}", render::render(&summary, baseline.as_ref()));
    if let Err(e) = model::save(&o.out, &summary) {
        eprintln!("cannot write {}: {e}", o.out.display());
    } else {
        println!("results: {}", o.out.display());
    }
    if o.save_baseline {
        match model::save(&o.baseline, &summary) {
            Ok(()) => println!("baseline saved: {}", o.baseline.display()),
            Err(e) => eprintln!("cannot write {}: {e}", o.baseline.display()),
        }
    }
    std::process::exit(if goals::broken(&summary.goals) == 0 {
        0
    } else {
        1
    });
}
