//! What the benchmark measures and what its report holds: the runs as collected, the summary written to
//! `target/bench/results.json` and `bench/baseline.json`, and reading and writing that file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::probe::{SdkProbe, TlsProbe};
use crate::proxy::Tally;
use crate::stats::Stat;

pub const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    #[serde(rename = "http")]
    Http,
    #[serde(rename = "tls")]
    Tls,
    #[serde(rename = "tls+prewarm")]
    TlsPrewarm,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Http, Mode::Tls, Mode::TlsPrewarm];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Http => "http",
            Mode::Tls => "tls",
            Mode::TlsPrewarm => "tls+prewarm",
        }
    }
    pub fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == s)
    }
    pub fn tls(self) -> bool {
        self != Mode::Http
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The AWS calls (DynamoDB, and KMS as `kms:*`) one request must make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    pub ops: Vec<(String, u64)>,
    pub reads: u64,
    pub writes: u64,
}

impl Expected {
    pub fn ops(ops: &[(&str, u64)], reads: u64, writes: u64) -> Expected {
        Expected {
            ops: ops.iter().map(|(o, n)| (o.to_string(), *n)).collect(),
            reads,
            writes,
        }
    }
    pub fn matches(&self, t: &Tally) -> bool {
        t.reads == self.reads
            && t.writes == self.writes
            && t.ops.len() == self.ops.len()
            && self.ops.iter().all(|(o, n)| t.ops.get(o) == Some(n))
    }
}

/// One cold start and the warm requests after it.
#[derive(Debug, Clone)]
pub struct Run {
    /// exec → first GET /next.
    pub init_ms: f64,
    /// first GET /next → first answer.
    pub first_ms: f64,
    /// exec → first answer.
    pub total_ms: f64,
    pub warm_ms: Vec<f64>,
    pub rss_kib: u64,
    pub first_tally: Tally,
    pub warm_tallies: Vec<Tally>,
}

impl Run {
    /// Each warm answer's time without the time its requests spent in the store and WeChat (measured at
    /// the proxies): the same work cold or warm, and the noisiest part of an answer on this machine.
    pub fn warm_net(&self) -> impl Iterator<Item = f64> + '_ {
        self.warm_ms
            .iter()
            .zip(&self.warm_tallies)
            .map(|(w, t)| w - t.upstream_ms())
    }
}

/// Sizes of one binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSizes {
    pub path: String,
    pub bytes: u64,
    /// The binary alone in a zip, deflated as `sam build`/`sam deploy` package it.
    pub zip_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sizes {
    pub function: String,
    /// x86_64, this machine, the workspace's release profile (stripped).
    pub release: FileSizes,
    /// arm64 from `sam build` (`.aws-sam/build/*/bootstrap`), when present.
    pub sam_arm64: Option<FileSizes>,
    /// The arm64 artifact is older than the sources.
    pub sam_arm64_stale: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionSummary {
    pub function: String,
    pub mode: Mode,
    pub request: String,
    pub runs: usize,
    pub init_ms: Stat,
    pub first_ms: Stat,
    pub total_ms: Stat,
    pub warm_ms: Stat,
    /// Warm answer minus the time its requests spent in moto and the WeChat simulator.
    #[serde(default)]
    pub warm_net_ms: Stat,
    /// Time one warm request spent in moto and the WeChat simulator (TLS modes: behind the proxy).
    #[serde(default)]
    pub upstream_ms: Stat,
    /// Per cold start: (exec → first answer) − the median warm answer of the same process, both
    /// without their time in moto / the simulator.
    pub cold_cost_ms: Stat,
    pub rss_mib: Stat,
    /// AWS calls (DynamoDB, KMS) of one warm request (all requests must match `expected`).
    pub calls: Tally,
    /// Requests that reached DynamoDB's or KMS's endpoint and are no API call, per cold start
    /// (pre-connects).
    pub other_per_start: f64,
    pub expected: Expected,
    pub calls_ok: bool,
    /// The first request whose calls did not match `expected`, if any (a retry after a moto stall
    /// shows here as a call made twice).
    #[serde(default)]
    pub mismatch: Option<Tally>,
}

/// The session JWTs one `jwt`-mode function answered in the run, each checked against the JWKS its
/// login function serves, as API Gateway's JWT authorizer checks them (the local gateway's imitation:
/// RS256 signature, `kid`, `iss`, `aud`, `exp`, `nbf`, `iat`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JwtCheck {
    pub function: String,
    pub verified: u64,
    pub refused: u64,
    /// Why the first refused one was refused.
    #[serde(default)]
    pub first_refusal: Option<String>,
}

/// The discovery routes of one signer, asked of a fresh login instance in `jwt` mode: the issuer, the
/// published keys, and the calls of a first and a second `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JwksProbe {
    /// `kms` or `local`.
    pub signer: String,
    pub issuer: String,
    pub kids: Vec<String>,
    pub first: Tally,
    pub second: Tally,
}

impl JwksProbe {
    /// KMS's `GetPublicKey`: once per instance with a KMS key (then kept), never in-process.
    pub fn calls_ok(&self) -> bool {
        let get_public_key = [("kms:GetPublicKey".to_string(), 1)].into();
        let first_ok = match self.signer.as_str() {
            "kms" => self.first.ops == get_public_key,
            _ => self.first.ops.is_empty(),
        };
        first_ok && self.second.ops.is_empty() && !self.kids.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    pub goal: String,
    pub function: String,
    pub value: String,
    pub met: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cpus: usize,
    pub kernel: String,
    pub rustc: String,
}

impl Machine {
    /// This machine: CPU model, CPU count, kernel release, `rustc -V`.
    pub fn current() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let rustc = std::process::Command::new("rustc")
            .arg("-V")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        Machine {
            cpu: format!("{cpu} ({})", std::env::consts::ARCH),
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            rustc,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub machine: Machine,
    pub unix_time: u64,
    pub runs: usize,
    pub warm: usize,
    pub binaries: String,
    pub functions: Vec<FunctionSummary>,
    pub sizes: Vec<Sizes>,
    #[serde(default)]
    pub tls_probe: Option<TlsProbe>,
    #[serde(default)]
    pub sdk_probe: Option<SdkProbe>,
    /// Cold starts that failed once and were measured again (with why).
    #[serde(default)]
    pub retries: Vec<String>,
    /// `jwt` mode: the discovery routes of each signer.
    #[serde(default)]
    pub jwks: Vec<JwksProbe>,
    /// `jwt` mode: the session JWTs of each function, checked.
    #[serde(default)]
    pub jwt_checks: Vec<JwtCheck>,
    pub goals: Vec<Goal>,
}

impl Summary {
    /// The summary of `function` in `mode`, if it was measured.
    pub fn find(&self, function: &str, mode: Mode) -> Option<&FunctionSummary> {
        self.functions
            .iter()
            .find(|f| f.function == function && f.mode == mode)
    }

    /// The sizes of `function`'s binaries, if they were measured.
    pub fn size(&self, function: &str) -> Option<&Sizes> {
        self.sizes.iter().find(|z| z.function == function)
    }
}

/// The runs of one function in one mode.
pub struct Entry {
    pub function: String,
    pub request: String,
    pub mode: Mode,
    pub expected: Expected,
    pub runs: Vec<Run>,
}

/// Collected runs, summarised by `stats::summarize`.
pub struct Results {
    pub runs: usize,
    pub warm: usize,
    pub bins: PathBuf,
    pub sizes: Vec<Sizes>,
    pub tls_probe: Option<TlsProbe>,
    pub sdk_probe: Option<SdkProbe>,
    pub retries: Vec<String>,
    pub jwks: Vec<JwksProbe>,
    pub jwt_checks: Vec<JwtCheck>,
    pub entries: Vec<Entry>,
}

impl Results {
    pub fn new(runs: usize, warm: usize, bins: &Path) -> Results {
        Results {
            runs,
            warm,
            bins: bins.to_path_buf(),
            sizes: Vec::new(),
            tls_probe: None,
            sdk_probe: None,
            retries: Vec::new(),
            jwks: Vec::new(),
            jwt_checks: Vec::new(),
            entries: Vec::new(),
        }
    }

    pub fn add(&mut self, function: &str, request: &str, mode: Mode, expected: Expected, run: Run) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.function == function && e.mode == mode)
        {
            Some(e) => e.runs.push(run),
            None => self.entries.push(Entry {
                function: function.to_string(),
                request: request.to_string(),
                mode,
                expected,
                runs: vec![run],
            }),
        }
    }
}

/// A summary written by [`save`]; `None` when the file is missing or not one.
pub fn load(path: &Path) -> Option<Summary> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes `s` as pretty JSON, creating the directory.
pub fn save(path: &Path, s: &Summary) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(s).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

/// The committed `bench/baseline.json`, for the tests (which need its `http` rows).
#[cfg(test)]
pub fn committed_baseline() -> Summary {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline.json"))
        .expect("bench/baseline.json is a summary")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_their_names() {
        for m in Mode::ALL {
            assert_eq!(Mode::parse(&m.to_string()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
        }
        assert_eq!(Mode::parse("https"), None);
        assert!(!Mode::Http.tls() && Mode::Tls.tls() && Mode::TlsPrewarm.tls());
    }

    #[test]
    fn jwks_calls_get_the_public_key_once_with_kms_and_never_in_process() {
        let get = |n| Tally {
            requests: n,
            ops: if n > 0 {
                [("kms:GetPublicKey".to_string(), n)].into()
            } else {
                Default::default()
            },
            ..Tally::default()
        };
        let probe = |signer: &str, first, second| JwksProbe {
            signer: signer.into(),
            issuer: "https://x".into(),
            kids: vec!["k".into()],
            first: get(first),
            second: get(second),
        };
        assert!(probe("kms", 1, 0).calls_ok());
        assert!(!probe("kms", 1, 1).calls_ok(), "fetched again");
        assert!(!probe("kms", 0, 0).calls_ok());
        assert!(probe("local", 0, 0).calls_ok());
        assert!(!probe("local", 1, 0).calls_ok());
        let mut no_keys = probe("kms", 1, 0);
        no_keys.kids.clear();
        assert!(!no_keys.calls_ok());
    }

    #[test]
    fn the_committed_baseline_loads_and_saves_unchanged() {
        let baseline = committed_baseline();
        let copy = std::env::temp_dir().join(format!("wxauth-bench-{}.json", std::process::id()));
        save(&copy, &baseline).expect("save");
        let again = load(&copy);
        let _ = std::fs::remove_file(&copy);
        assert_eq!(again.as_ref(), Some(&baseline));
    }
}
