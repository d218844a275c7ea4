//! Statistics, goals, the printed report, and the comparison with the committed baseline.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::proxy::Tally;

const MIB: f64 = 1024.0 * 1024.0;
/// Goal: cold cost at most this many times the hello-world's.
pub const COLD_COST_MAX_RATIO: f64 = 2.0;
/// Goal: peak RSS at most this (MiB).
pub const RSS_MAX_MIB: f64 = 20.0;
/// Goal: deployment zip at most this (MiB).
pub const ZIP_MAX_MIB: f64 = 3.0;

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
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "http" => Some(Mode::Http),
            "tls" => Some(Mode::Tls),
            "tls+prewarm" => Some(Mode::TlsPrewarm),
            _ => None,
        }
    }
    pub fn tls(self) -> bool {
        self != Mode::Http
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Http => "http",
            Mode::Tls => "tls",
            Mode::TlsPrewarm => "tls+prewarm",
        })
    }
}

/// The DynamoDB calls one request must make.
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
    fn matches(&self, t: &Tally) -> bool {
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
    fn warm_net(&self) -> impl Iterator<Item = f64> + '_ {
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub median: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    pub fn of(values: &[f64]) -> Stat {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stat::default();
        }
        v.sort_by(f64::total_cmp);
        // Nearest rank.
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        let median = if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        };
        Stat {
            median,
            p90: rank(0.9),
            min: v[0],
            max: v[v.len() - 1],
        }
    }
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
    /// DynamoDB calls of one warm request (all requests must match `expected`).
    pub calls: Tally,
    /// Requests that reached DynamoDB's endpoint and are no API call, per cold start (pre-connects).
    pub other_per_start: f64,
    pub expected: Expected,
    pub calls_ok: bool,
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
    pub tls_probe: Option<crate::probe::TlsProbe>,
    #[serde(default)]
    pub sdk_probe: Option<crate::probe::SdkProbe>,
    /// Cold starts that failed once and were measured again (with why).
    #[serde(default)]
    pub retries: Vec<String>,
    pub goals: Vec<Goal>,
}

/// Collected runs.
pub struct Results {
    runs: usize,
    warm: usize,
    bins: PathBuf,
    pub sizes: Vec<Sizes>,
    pub tls_probe: Option<crate::probe::TlsProbe>,
    pub sdk_probe: Option<crate::probe::SdkProbe>,
    pub retries: Vec<String>,
    entries: Vec<(String, String, Mode, Expected, Vec<Run>)>,
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
            entries: Vec::new(),
        }
    }

    pub fn add(&mut self, function: &str, request: &str, mode: Mode, expected: Expected, run: Run) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.0 == function && e.2 == mode)
        {
            Some(e) => e.4.push(run),
            None => self.entries.push((
                function.to_string(),
                request.to_string(),
                mode,
                expected,
                vec![run],
            )),
        }
    }

    pub fn summarize(&self) -> Summary {
        let functions: Vec<FunctionSummary> = self
            .entries
            .iter()
            .map(|(function, request, mode, expected, runs)| {
                let col = |f: &dyn Fn(&Run) -> f64| runs.iter().map(f).collect::<Vec<_>>();
                let warm_all: Vec<f64> = runs
                    .iter()
                    .flat_map(|r| r.warm_ms.iter().copied())
                    .collect();
                // Store and WeChat time taken out of both sides (see `Run::warm_net`).
                let cold_cost = col(&|r| {
                    let warm_net: Vec<f64> = r.warm_net().collect();
                    r.total_ms - r.first_tally.upstream_ms() - Stat::of(&warm_net).median
                });
                let warm_net: Vec<f64> = runs.iter().flat_map(Run::warm_net).collect();
                let upstream: Vec<f64> = runs
                    .iter()
                    .flat_map(|r| r.warm_tallies.iter().map(Tally::upstream_ms))
                    .collect();
                let calls_ok = runs.iter().all(|r| {
                    expected.matches(&r.first_tally)
                        && r.warm_tallies.iter().all(|t| expected.matches(t))
                });
                let calls = runs
                    .first()
                    .and_then(|r| r.warm_tallies.first().cloned())
                    .unwrap_or_default();
                let other = runs.iter().map(|r| r.first_tally.other as f64).sum::<f64>()
                    / runs.len().max(1) as f64;
                FunctionSummary {
                    function: function.clone(),
                    mode: *mode,
                    request: request.clone(),
                    runs: runs.len(),
                    init_ms: Stat::of(&col(&|r| r.init_ms)),
                    first_ms: Stat::of(&col(&|r| r.first_ms)),
                    total_ms: Stat::of(&col(&|r| r.total_ms)),
                    warm_ms: Stat::of(&warm_all),
                    warm_net_ms: Stat::of(&warm_net),
                    upstream_ms: Stat::of(&upstream),
                    cold_cost_ms: Stat::of(&cold_cost),
                    rss_mib: Stat::of(&col(&|r| r.rss_kib as f64 / 1024.0)),
                    calls,
                    other_per_start: other,
                    expected: expected.clone(),
                    calls_ok,
                }
            })
            .collect();
        let mut s = Summary {
            machine: machine(),
            unix_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            runs: self.runs,
            warm: self.warm,
            binaries: self.bins.display().to_string(),
            functions,
            sizes: self.sizes.clone(),
            tls_probe: self.tls_probe.clone(),
            sdk_probe: self.sdk_probe.clone(),
            retries: self.retries.clone(),
            goals: Vec::new(),
        };
        s.goals = goals(&s);
        s
    }
}

fn find<'a>(s: &'a Summary, function: &str, mode: Mode) -> Option<&'a FunctionSummary> {
    s.functions
        .iter()
        .find(|f| f.function == function && f.mode == mode)
}

/// The zip whose size counts: the arm64 `sam build` artifact when present (flagged when older than the
/// sources: run `scripts/check-sam` first), else the x86_64 release binary.
fn deployed(z: &Sizes) -> (&FileSizes, &'static str) {
    match (&z.sam_arm64, z.sam_arm64_stale) {
        (Some(a), Some(true)) => (a, "arm64 sam build, STALE: older than the sources"),
        (Some(a), _) => (a, "arm64 sam build"),
        (None, _) => (&z.release, "x86_64 release"),
    }
}

fn goals(s: &Summary) -> Vec<Goal> {
    let mut goals = Vec::new();
    let hello = find(s, "hello", Mode::Http).map(|h| h.cold_cost_ms.median);
    for f in s.functions.iter().filter(|f| f.function != "hello") {
        if f.mode == Mode::Http
            && let Some(h) = hello
        {
            let ratio = f.cold_cost_ms.median / h.max(1e-6);
            goals.push(Goal {
                goal: format!("cold cost <= {COLD_COST_MAX_RATIO}x hello-world (http)"),
                function: f.function.clone(),
                value: format!("{:.2} ms = {ratio:.2}x ({h:.2} ms)", f.cold_cost_ms.median),
                met: ratio <= COLD_COST_MAX_RATIO,
            });
        }
        goals.push(Goal {
            goal: format!("peak RSS <= {RSS_MAX_MIB} MiB ({})", f.mode),
            function: f.function.clone(),
            value: format!("{:.1} MiB max", f.rss_mib.max),
            met: f.rss_mib.max <= RSS_MAX_MIB,
        });
        goals.push(Goal {
            goal: format!("DynamoDB calls per request ({})", f.mode),
            function: f.function.clone(),
            value: format!(
                "{} reads, {} writes, {:?}; expected {} reads, {} writes",
                f.calls.reads, f.calls.writes, f.calls.ops, f.expected.reads, f.expected.writes
            ),
            met: f.calls_ok,
        });
    }
    for z in s.sizes.iter().filter(|z| z.function != "hello") {
        let (sz, which) = deployed(z);
        let mib = sz.zip_bytes as f64 / MIB;
        goals.push(Goal {
            goal: format!("zip <= {ZIP_MAX_MIB} MiB"),
            function: z.function.clone(),
            value: format!("{mib:.2} MiB ({which})"),
            met: mib <= ZIP_MAX_MIB,
        });
    }
    goals
}

fn machine() -> Machine {
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

pub fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// The newest modification time of the files under `paths`.
pub fn newest_mtime(paths: &[PathBuf]) -> std::time::SystemTime {
    fn walk(p: &Path, newest: &mut std::time::SystemTime) {
        *newest = (*newest).max(mtime(p));
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                walk(&e.path(), newest);
            }
        }
    }
    let mut newest = std::time::UNIX_EPOCH;
    for p in paths {
        walk(p, &mut newest);
    }
    newest
}

/// Size of a binary and of its deployment zip (Python's zipfile, deflate, as SAM packages it).
pub fn file_sizes(path: &Path) -> Result<FileSizes, String> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let zip = std::env::temp_dir().join(format!("wxauth-bench-{}.zip", std::process::id()));
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os,sys,zipfile\n\
             z=zipfile.ZipFile(sys.argv[2],'w',zipfile.ZIP_DEFLATED)\n\
             z.write(sys.argv[1],'bootstrap')\n\
             z.close()\n\
             print(os.path.getsize(sys.argv[2]))",
        ])
        .arg(path)
        .arg(&zip)
        .output()
        .map_err(|e| format!("python3 (zip): {e}"))?;
    let _ = std::fs::remove_file(&zip);
    let zip_bytes = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| {
            format!(
                "zip of {} failed: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    Ok(FileSizes {
        path: path.display().to_string(),
        bytes,
        zip_bytes,
    })
}

pub fn load(path: &Path) -> Option<Summary> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save(path: &Path, s: &Summary) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(s).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "-".into()
    }
}

/// The report, as Markdown tables.
pub fn render(s: &Summary, baseline: Option<&Summary>) -> String {
    let mut o = String::new();
    let m = &s.machine;
    let _ = writeln!(
        o,
        "\nMachine: {}, {} CPUs, Linux {}, {}. {} cold starts per function and mode, {} warm requests each. \
         Binaries: {}.\n",
        m.cpu, m.cpus, m.kernel, m.rustc, s.runs, s.warm, s.binaries
    );
    let hello = find(s, "hello", Mode::Http);
    let _ = writeln!(
        o,
        "| function | mode | init ms p50 / p90 | cold cost ms p50 / p90 | cold cost vs hello | warm ms p50 / p90 | of which moto/WeChat p50 | first request ms p50 | peak RSS MiB p50 / max | RSS vs hello |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|");
    for f in &s.functions {
        let (cc_ratio, rss_ratio) = match hello {
            Some(h) => (
                ratio(f.cold_cost_ms.median, h.cold_cost_ms.median),
                ratio(f.rss_mib.median, h.rss_mib.median),
            ),
            None => ("-".into(), "-".into()),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {:.2} / {:.2} | {:.2} / {:.2} | {} | {:.2} / {:.2} | {:.2} | {:.2} | {:.1} / {:.1} | {} |",
            f.function,
            f.mode,
            f.init_ms.median,
            f.init_ms.p90,
            f.cold_cost_ms.median,
            f.cold_cost_ms.p90,
            cc_ratio,
            f.warm_ms.median,
            f.warm_ms.p90,
            f.upstream_ms.median,
            f.first_ms.median,
            f.rss_mib.median,
            f.rss_mib.max,
            rss_ratio,
        );
    }
    let hello_size = s.sizes.iter().find(|z| z.function == "hello");
    let _ = writeln!(
        o,
        "\n| function | x86_64 binary | x86_64 zip | vs hello | arm64 binary (sam build) | arm64 zip | vs hello |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for z in &s.sizes {
        let hz = hello_size
            .map(|h| h.release.zip_bytes as f64)
            .unwrap_or(0.0);
        let arm = match (&z.sam_arm64, z.sam_arm64_stale) {
            (Some(a), stale) => format!(
                "{:.2} MiB{} | {:.2} MiB | {}",
                a.bytes as f64 / MIB,
                if stale == Some(true) { " (stale)" } else { "" },
                a.zip_bytes as f64 / MIB,
                ratio(a.zip_bytes as f64, hz)
            ),
            (None, _) => "- | - | -".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {:.2} MiB | {:.2} MiB | {} | {arm} |",
            z.function,
            z.release.bytes as f64 / MIB,
            z.release.zip_bytes as f64 / MIB,
            ratio(z.release.zip_bytes as f64, hz),
        );
    }
    let _ = writeln!(
        o,
        "\n| function | mode | DynamoDB calls per request (counted at the proxy) | expected | every request matched | non-API requests per start |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for f in s.functions.iter().filter(|f| f.function != "hello") {
        let ops: Vec<String> = f
            .calls
            .ops
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        let _ = writeln!(
            o,
            "| {} | {} | {} ({} read, {} written) | {} read, {} written | {} | {:.1} |",
            f.function,
            f.mode,
            ops.join(", "),
            f.calls.reads,
            f.calls.writes,
            f.expected.reads,
            f.expected.writes,
            if f.calls_ok { "yes" } else { "NO" },
            f.other_per_start
        );
    }
    if let Some(p) = &s.tls_probe {
        let _ = writeln!(
            o,
            "\nTLS in a fresh process (median of 11, wxauth::tls config, local endpoint): first aws-lc random \
             bytes {:.2} ms (next {:.3} ms); shared config built in {:.3} ms; TCP + full handshake {:.2} ms; \
             resumed {:.2} ms.",
            p.rng_first_ms, p.rng_next_ms, p.config_ms, p.handshake_full_ms, p.handshake_resumed_ms
        );
    }
    if let Some(p) = &s.sdk_probe {
        let _ = writeln!(
            o,
            "\nAWS SDK in a fresh process (median of 11, http to moto): tokio runtime {:.2} ms; logging {:.2} ms; \
             shared TLS config + reqwest client {:.2} ms; wxauth::bootstrap::aws_config() (after it) {:.2} ms; DynamoDB client {:.2} ms; first GetItem {:.2} ms; second {:.2} ms \
             (one-time work in the first: {:.2} ms).",
            p.tokio_runtime_ms,
            p.logging_ms,
            p.sdk_http_ms,
            p.aws_config_ms,
            p.client_ms,
            p.first_get_ms,
            p.second_get_ms,
            p.first_get_ms - p.second_get_ms
        );
    }
    if let Some(b) = baseline {
        let _ = writeln!(
            o,
            "\nAgainst the baseline ({} on {}): current / baseline (p50)\n",
            b.binaries, b.machine.cpu
        );
        let _ = writeln!(
            o,
            "| function | mode | init | cold cost | warm | peak RSS | x86_64 zip |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|");
        for f in &s.functions {
            let Some(bf) = find(b, &f.function, f.mode) else {
                continue;
            };
            let zip = match (
                s.sizes.iter().find(|z| z.function == f.function),
                b.sizes.iter().find(|z| z.function == f.function),
            ) {
                (Some(c), Some(p)) => ratio(c.release.zip_bytes as f64, p.release.zip_bytes as f64),
                _ => "-".into(),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {zip} |",
                f.function,
                f.mode,
                ratio(f.init_ms.median, bf.init_ms.median),
                ratio(f.cold_cost_ms.median, bf.cold_cost_ms.median),
                ratio(f.warm_ms.median, bf.warm_ms.median),
                ratio(f.rss_mib.median, bf.rss_mib.median),
            );
        }
    }
    if !s.retries.is_empty() {
        let _ = writeln!(
            o,
            "\n{} cold start(s) failed once and were measured again:",
            s.retries.len()
        );
        for r in &s.retries {
            let _ = writeln!(o, "- {}", r.chars().take(300).collect::<String>());
        }
    }
    let _ = writeln!(o, "\nGoals:\n");
    for g in &s.goals {
        let _ = writeln!(
            o,
            "- [{}] {}: {} — {}",
            if g.met { "x" } else { " " },
            g.function,
            g.goal,
            g.value
        );
    }
    let broken = s.goals.iter().filter(|g| !g.met).count();
    let _ = writeln!(
        o,
        "\n{}",
        if broken == 0 {
            "all goals met".to_string()
        } else {
            format!("{broken} goal(s) BROKEN")
        }
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_use_nearest_rank() {
        let s = Stat::of(&[5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!((s.median, s.p90, s.min, s.max), (5.5, 9.0, 1.0, 10.0));
        assert_eq!(Stat::of(&[]).median, 0.0);
    }
}
