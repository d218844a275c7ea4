//! `wxauth-bench`: cold start, memory, size and AWS request counts of the real Lambda binaries, each
//! against a minimal `lambda_http` hello-world built with the same profile in the same run.
//!
//! Every function binary runs under a stand-in of the Lambda Runtime API on loopback
//! (`wxauth_tests::runtime`) and answers real API Gateway event JSON, with moto (DynamoDB and KMS)
//! behind counting proxies and the WeChat simulator over HTTP. Per function it reports:
//! - init: exec → first `GET /runtime/invocation/next`;
//! - cold cost: exec → first answer, minus a warm answer to the same kind of request in the same
//!   process (all one-time work, in init or in the first request);
//! - warm answer time, peak RSS (VmHWM), binary and zip size; each as a ratio to the hello-world;
//! - the DynamoDB and KMS API calls of every invocation, counted at the proxies in front of moto.
//!
//! Functions (`functions`): the authorizer, login and userinfo as deployed by default (`skey` mode),
//! and the login function in `jwt` mode answering `POST /login` and `POST /token`, with a KMS key
//! (created in moto at start) or an RSA key in the process; every session JWT they answer is checked
//! against the JWKS they serve (`jwt`).
//!
//! Modes: `http` (plain endpoints; the goals are judged here), `tls` (DynamoDB, KMS and WeChat behind
//! TLS proxies with a test root) and `tls+prewarm` (the same with `WXAUTH_PREWARM=1`).
//!
//! Run it through `scripts/bench`, which builds the binaries and starts moto. Exit status: 0 when every
//! goal holds, 1 when one is broken, 2 when the benchmark itself failed.
//!
//! This file runs the functions; beside it: `cli` (the options), `functions` (what is measured and
//! the calls expected), `model` (runs, summaries and their JSON file), `stats` (medians, percentiles,
//! the per-function summary), `goals` (the budgets), `render` (the tables), `sizes` (binaries and
//! zips on disk), `proxy`, `probe` and `jwt`.

mod cli;
mod functions;
mod goals;
mod jwt;
mod model;
mod probe;
mod proxy;
mod render;
mod sizes;
mod stats;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
use crate::functions::{Function, Signer};
use crate::model::{JwksProbe, JwtCheck, Mode, Results, Run, Sizes};
use crate::proxy::{Certs, Proxy, Tally};

const SECRET: &str = "wxauth-bench-app-secret-51c2e0";
/// `POST /token` requests per seeded session: the session JWTs a session may get per hour, with room.
const TOKENS_PER_SESSION: usize = wxauth::limits::DEFAULT_JWT_PER_SESSION as usize * 5 / 6;

/// Everything the functions talk to.
struct World {
    sim: Arc<Simulator>,
    sim_url: String,
    dynamo_http: Proxy,
    kms_http: Proxy,
    tls: Option<TlsWorld>,
    /// moto's DynamoDB, directly (not counted).
    client: aws_sdk_dynamodb::Client,
    /// The table of the seeded sessions.
    table: String,
    /// The ARN of the KMS key of `jwt` mode (moto's), when a KMS signer is measured.
    kms_key: Option<String>,
    /// The RSA key of the in-process signer, when one is measured.
    jwt_key: Option<PathBuf>,
    /// Logins made so far (each by a new person).
    logins: AtomicUsize,
    /// Live sessions: (skey, authorizer context).
    sessions: Vec<(String, Value)>,
    /// Live sessions for `POST /token` (skeys), each used at most [`TOKENS_PER_SESSION`] times.
    token_sessions: Vec<String>,
    /// `POST /token` requests made so far.
    tokens: AtomicUsize,
    /// The JWKS each signer's login function serves (filled in before the measurement).
    verifiers: HashMap<Signer, jwt::Verifier>,
    /// The session JWTs received, checked, by function.
    checks: std::sync::Mutex<BTreeMap<&'static str, JwtCheck>>,
}

struct TlsWorld {
    ca: PathBuf,
    dynamo: Proxy,
    kms: Proxy,
    wechat: Proxy,
}

/// A live session of a new person `name`: its skey and the authorizer's context.
async fn seed(sessions: &Sessions, sim: &Simulator, name: &str) -> Result<(String, Value), String> {
    let openid = sim.openid_for(name);
    let unionid = format!("u-{name}");
    let new = sessions
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
    Ok((new.skey.expose().to_string(), context))
}

/// A counting proxy to `upstream`.
async fn start(tls: Option<&Certs>, upstream: String) -> Result<Proxy, String> {
    proxy::start(&upstream, tls)
        .await
        .map_err(|e| e.to_string())
}

impl World {
    async fn new(o: &Options) -> Result<World, String> {
        let sim = Simulator::new(APPID, SECRET);
        let sim_url = sim.spawn().await.map_err(|e| e.to_string())?;
        let dynamo_http = start(None, o.moto.clone()).await?;
        // KMS is moto too, behind a proxy of its own: its calls are counted apart from DynamoDB's.
        let kms_http = start(None, o.moto.clone()).await?;
        let tls = match (&o.certs, o.modes.iter().any(|m| m.tls())) {
            (Some(dir), true) => {
                let certs = Certs::load(dir)?;
                Some(TlsWorld {
                    dynamo: start(Some(&certs), o.moto.clone()).await?,
                    kms: start(Some(&certs), o.moto.clone()).await?,
                    wechat: start(Some(&certs), sim_url.clone()).await?,
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
        let signers: Vec<Signer> = o.functions.iter().filter_map(|f| f.signer()).collect();
        let kms_key = match signers.contains(&Signer::Kms) {
            true => Some(jwt::create_kms_key(&kms_http).await?),
            false => None,
        };
        let jwt_key = match (signers.contains(&Signer::Local), &o.jwt_key) {
            (true, Some(key)) if key.exists() => Some(key.clone()),
            (true, _) => {
                return Err(
                    "the in-process signer needs --jwt-key FILE or WXAUTH_BENCH_JWT_KEY \
                     (an RSA key, PKCS#8 PEM; scripts/bench makes it)"
                        .into(),
                );
            }
            (false, _) => None,
        };
        let client = wxauth_tests::dynamo::client_for(&o.moto);
        let table = wxauth_tests::dynamo::fresh_table(&client).await;
        let sessions_api = Sessions::new(
            Arc::new(DynamoStore::new(client.clone(), &table)),
            Arc::new(SystemClock),
            // What the functions use: the bench sets no SESSION_* variables.
            wxauth::config::DEFAULT_SESSION_TTL,
            wxauth::config::DEFAULT_SESSION_IDLE,
        );
        let mut sessions = Vec::new();
        for i in 0..8 {
            sessions.push(seed(&sessions_api, &sim, &format!("bench-{i}")).await?);
        }
        // Every POST /token counts against its session's hourly limit: enough sessions that none
        // reaches it (each measured start, the discarded one and a retry per mode).
        let token_requests = o
            .functions
            .iter()
            .filter(|f| matches!(f, Function::Token(_)))
            .count()
            * o.modes.len()
            * ((o.runs + 2) * (o.warm + 1) + 3);
        let mut token_sessions = Vec::new();
        for i in 0..token_requests.div_ceil(TOKENS_PER_SESSION) {
            let (skey, _) = seed(&sessions_api, &sim, &format!("bench-token-{i}")).await?;
            token_sessions.push(skey);
        }
        Ok(World {
            sim,
            sim_url,
            dynamo_http,
            kms_http,
            tls,
            client,
            table,
            kms_key,
            jwt_key,
            sessions,
            token_sessions,
            logins: Default::default(),
            tokens: Default::default(),
            verifiers: HashMap::new(),
            checks: Default::default(),
        })
    }

    /// The TLS proxies, in the modes that use them.
    fn tls(&self, mode: Mode) -> Option<&TlsWorld> {
        self.tls.as_ref().filter(|_| mode.tls())
    }

    fn dynamo(&self, mode: Mode) -> &Proxy {
        self.tls(mode).map_or(&self.dynamo_http, |t| &t.dynamo)
    }

    fn kms(&self, mode: Mode) -> &Proxy {
        self.tls(mode).map_or(&self.kms_http, |t| &t.kms)
    }

    /// What reached DynamoDB and KMS (and WeChat's time) in `mode` since the last call.
    fn take(&self, mode: Mode) -> Tally {
        let mut tally = self.dynamo(mode).take();
        tally.absorb(self.kms(mode).take());
        tally.upstream_us += self.tls(mode).map_or(0, |t| t.wechat.take().upstream_us);
        tally
    }

    fn env(&self, mode: Mode, f: Function, table: &str) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("SESSION_TABLE", table.to_string()),
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
        match f.signer() {
            Some(Signer::Kms) => {
                env.push(("WXAUTH_AUTH_MODE", "jwt".to_string()));
                let key = self.kms_key.clone().unwrap_or_default();
                env.push(("WXAUTH_JWT_KMS_KEY_IDS", key));
                env.push(("AWS_ENDPOINT_URL_KMS", self.kms(mode).url.clone()));
            }
            Some(Signer::Local) => {
                env.push(("WXAUTH_AUTH_MODE", "jwt".to_string()));
                let key = self.jwt_key.as_deref().unwrap_or(Path::new(""));
                env.push(("WXAUTH_JWT_KEY_FILE", key.display().to_string()));
            }
            None => {}
        }
        env
    }

    /// The event of the `n`th request to `f`.
    fn event(&self, f: Function, n: usize) -> Value {
        let (skey, context) = &self.sessions[n % self.sessions.len()];
        match f {
            Function::Authorizer => events::authorizer_v2(Some(skey), "GET", "/me"),
            Function::Login | Function::LoginJwt(_) => {
                // A new person every time: every login does the same calls.
                let person = self.logins.fetch_add(1, Ordering::Relaxed);
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
            Function::Token(_) => {
                // Round-robin over the sessions kept for it: none meets its hourly limit.
                let n = self.tokens.fetch_add(1, Ordering::Relaxed);
                let skey = &self.token_sessions[n % self.token_sessions.len().max(1)];
                Req::new("POST", "/token").skey(skey).v2_event()
            }
            Function::Userinfo | Function::Hello => Req::new("GET", "/me")
                .skey(skey)
                .authorized(context.clone())
                .v2_event(),
        }
    }

    /// Checks a session JWT `f` answered against its signer's JWKS, and counts the verdict.
    async fn check(&self, f: Function, token: &str) {
        let verdict = match f.signer().and_then(|s| self.verifiers.get(&s)) {
            Some(v) => v.check(token).await,
            None => Err("no JWKS to check it against".into()),
        };
        let mut checks = self.checks.lock().unwrap_or_else(|p| p.into_inner());
        let c = checks.entry(f.name()).or_insert_with(|| JwtCheck {
            function: f.name().to_string(),
            ..JwtCheck::default()
        });
        match verdict {
            Ok(()) => c.verified += 1,
            Err(why) => {
                c.refused += 1;
                c.first_refusal.get_or_insert(why);
            }
        }
    }
}

/// Whether an answer is the success the request should get; the session JWT it carries in `jwt`
/// mode.
fn succeeded(f: Function, outcome: &Outcome) -> Result<Option<String>, String> {
    if f.issues_jwts() {
        return jwt::token_of(outcome).map(Some);
    }
    let Outcome::Response(v) = outcome else {
        return Err(format!("function error: {outcome:?}"));
    };
    let ok = match f {
        Function::Authorizer => v["isAuthorized"] == true,
        _ => v["statusCode"] == 200,
    };
    if ok {
        Ok(None)
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
    // moto answers a TransactWriteItems by deep-copying the whole table, once per item: with every
    // login's items in one table, its answers grow slower run after run (seconds after a few thousand
    // items, past the SDK's attempt timeout). Each login process gets a new table; the others read
    // the seeded sessions.
    let table = match f {
        Function::Login | Function::LoginJwt(_) => {
            wxauth_tests::dynamo::fresh_table(&world.client).await
        }
        _ => world.table.clone(),
    };
    let env = world.env(mode, f, &table);
    world.take(mode);
    let runtime = FakeRuntime::start().await;
    let first_event = world.event(f, *seq);
    *seq += 1;
    let process = FunctionProcess::spawn(bin, &runtime, &env);
    // The event is queued before the function asks for it, as on Lambda after a cold start.
    let first = runtime.invoke(first_event).await;
    let first_at = Instant::now();
    let fail = |e: String, p: &FunctionProcess| format!("{} ({mode}): {e}\n{}", f.name(), p.logs());
    let token = succeeded(f, &first).map_err(|e| fail(e, &process))?;
    let first_next = runtime
        .first_next()
        .ok_or_else(|| fail("never polled".into(), &process))?;
    let first_tally = world.take(mode);
    if let Some(token) = token {
        world.check(f, &token).await;
    }
    let mut warm_ms = Vec::with_capacity(warm);
    let mut warm_tallies = Vec::with_capacity(warm);
    for _ in 0..warm {
        let event = world.event(f, *seq);
        *seq += 1;
        let t0 = Instant::now();
        let outcome = runtime.invoke(event).await;
        warm_ms.push(ms(t0.elapsed()));
        let token = succeeded(f, &outcome).map_err(|e| fail(e, &process))?;
        warm_tallies.push(world.take(mode));
        if let Some(token) = token {
            world.check(f, &token).await;
        }
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

/// [`cold_start`], measured again once when it fails: moto sometimes stalls for over a second (the
/// SDK's attempt timeout). The retry is reported in `retries`; a second failure stops the benchmark.
async fn retried(
    world: &World,
    bin: &Path,
    f: Function,
    mode: Mode,
    warm: usize,
    seq: &mut usize,
    retries: &mut Vec<String>,
) -> Result<Run, String> {
    match cold_start(world, bin, f, mode, warm, seq).await {
        Ok(r) => Ok(r),
        Err(e) => {
            let first_line = e.lines().next().unwrap_or_default().to_string();
            eprintln!("\nretrying one cold start: {first_line}");
            retries.push(first_line);
            cold_start(world, bin, f, mode, warm, seq).await
        }
    }
}

/// The discovery routes of `signer`'s login function, asked of a fresh instance (plain HTTP): the
/// discovery document, then the JWKS twice, each with the calls it made; and the verifier of the
/// session JWTs built from them.
async fn publish(
    world: &World,
    bin: &Path,
    signer: Signer,
) -> Result<(JwksProbe, jwt::Verifier), String> {
    let mode = Mode::Http;
    let f = Function::LoginJwt(signer);
    world.take(mode);
    let runtime = FakeRuntime::start().await;
    let process = FunctionProcess::spawn(bin, &runtime, &world.env(mode, f, &world.table));
    let fail = |e: String| format!("{} discovery: {e}\n{}", f.name(), process.logs());
    let get = |path: &str| Req::new("GET", path).v2_event();
    let discovery = runtime
        .invoke(get(wxauth::session_jwt::DISCOVERY_PATH))
        .await;
    let discovery = jwt::ok_body(&discovery).map_err(fail)?;
    world.take(mode);
    let mut jwks = Vec::new();
    let mut tallies = Vec::new();
    for _ in 0..2 {
        let answer = runtime.invoke(get(wxauth::session_jwt::JWKS_PATH)).await;
        jwks.push(jwt::ok_body(&answer).map_err(fail)?);
        tallies.push(world.take(mode));
    }
    drop(process);
    let verifier = jwt::Verifier::new(discovery, jwks.swap_remove(0), vec![APPID.to_string()])?;
    let mut tallies = tallies.into_iter();
    let probe = JwksProbe {
        signer: signer.name().to_string(),
        issuer: verifier.issuer().to_string(),
        kids: verifier.kids(),
        first: tallies.next().unwrap_or_default(),
        second: tallies.next().unwrap_or_default(),
    };
    Ok((probe, verifier))
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
    for f in Function::BINARIES {
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
    for f in Function::BINARIES {
        let bin = o.bins.join(f.binary());
        if !bin.exists() {
            return Err(format!(
                "{} not found: build with `cargo build --release --bin {}` (scripts/bench does)",
                bin.display(),
                f.binary()
            ));
        }
    }
    let mut world = World::new(o).await?;
    let mut results = Results::new(o.runs, o.warm, &o.bins);
    results.sizes = sizes(o)?;
    // jwt mode: what each signer's login function publishes, to check every session JWT against.
    let mut signers: Vec<Signer> = o.functions.iter().filter_map(|f| f.signer()).collect();
    signers.sort();
    signers.dedup();
    for signer in signers {
        eprintln!("JWKS of the login function, {} key", signer.name());
        let (probe, verifier) = publish(&world, &o.bins.join("login"), signer).await?;
        results.jwks.push(probe);
        world.verifiers.insert(signer, verifier);
    }
    let world = world;
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
        let functions: Vec<Function> = o
            .functions
            .iter()
            .copied()
            .filter(|f| mode == Mode::Http || *f != Function::Hello)
            .collect();
        // One discarded start each: page cache, moto's lazy imports.
        for &f in &functions {
            let bin = o.bins.join(f.binary());
            retried(&world, &bin, f, mode, 2, &mut seq, &mut results.retries).await?;
        }
        // Round-robin, so that noise from the machine spreads over every function alike.
        for run in 0..o.runs {
            for &f in &functions {
                let bin = o.bins.join(f.binary());
                let r = retried(
                    &world,
                    &bin,
                    f,
                    mode,
                    o.warm,
                    &mut seq,
                    &mut results.retries,
                )
                .await?;
                let (what, expected) = f.request();
                results.add(f.name(), what, mode, expected, r);
            }
            eprint!("\r{mode}: {}/{} cold starts per function", run + 1, o.runs);
        }
        eprintln!();
    }
    results.jwt_checks =
        std::mem::take(&mut *world.checks.lock().unwrap_or_else(|p| p.into_inner()))
            .into_values()
            .collect();
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
