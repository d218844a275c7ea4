//! The printed report: Markdown tables of the runs, the sizes and the AWS calls, `jwt` mode against
//! `skey` mode, the probes, the comparison with the baseline, and the goals.

use std::fmt::Write as _;

use crate::functions::Function;
use crate::goals;
use crate::model::{FunctionSummary, MIB, Mode, Summary};
use crate::stats::ratio;

/// `a / b` as `1.23x`, or `-` when there is nothing to compare with.
fn times(a: f64, b: f64) -> String {
    ratio(a, b).map_or_else(|| "-".into(), |r| format!("{r:.2}x"))
}

/// The report, as Markdown tables.
pub fn render(s: &Summary, baseline: Option<&Summary>) -> String {
    let mut o = String::new();
    machine(&mut o, s);
    runs(&mut o, s);
    sizes(&mut o, s);
    calls(&mut o, s);
    jwt_against_skey(&mut o, s);
    jwt_checks(&mut o, s);
    probes(&mut o, s);
    if let Some(b) = baseline {
        against_baseline(&mut o, s, b);
    }
    retries(&mut o, s);
    goal_list(&mut o, s);
    o
}

fn machine(o: &mut String, s: &Summary) {
    let m = &s.machine;
    let _ = writeln!(
        o,
        "\nMachine: {}, {} CPUs, Linux {}, {}. {} cold starts per function and mode, {} warm requests each. \
         Binaries: {}.\n",
        m.cpu, m.cpus, m.kernel, m.rustc, s.runs, s.warm, s.binaries
    );
}

/// Init, cold cost, warm answers and peak RSS, each against the hello-world.
fn runs(o: &mut String, s: &Summary) {
    let hello = s.find("hello", Mode::Http);
    let _ = writeln!(
        o,
        "| function | mode | init ms p50 / p90 | cold cost ms p50 / p90 | cold cost vs hello | warm ms p50 / p90 | of which moto/WeChat p50 | first request ms p50 | peak RSS MiB p50 / max | RSS vs hello |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|");
    for f in &s.functions {
        let vs_hello = |stat: fn(&FunctionSummary) -> f64| {
            hello.map_or_else(|| "-".into(), |h| times(stat(f), stat(h)))
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
            vs_hello(|f| f.cold_cost_ms.median),
            f.warm_ms.median,
            f.warm_ms.p90,
            f.upstream_ms.median,
            f.first_ms.median,
            f.rss_mib.median,
            f.rss_mib.max,
            vs_hello(|f| f.rss_mib.median),
        );
    }
}

/// Binary and zip sizes, x86_64 and arm64, against the hello-world's x86_64 zip.
fn sizes(o: &mut String, s: &Summary) {
    let hello_zip = s.size("hello").map_or(0.0, |h| h.release.zip_bytes as f64);
    let _ = writeln!(
        o,
        "\n| function | x86_64 binary | x86_64 zip | vs hello | arm64 binary (sam build) | arm64 zip | vs hello |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for z in &s.sizes {
        let arm = match &z.sam_arm64 {
            Some(a) => format!(
                "{:.2} MiB{} | {:.2} MiB | {}",
                a.bytes as f64 / MIB,
                if z.sam_arm64_stale == Some(true) {
                    " (stale)"
                } else {
                    ""
                },
                a.zip_bytes as f64 / MIB,
                times(a.zip_bytes as f64, hello_zip)
            ),
            None => "- | - | -".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {:.2} MiB | {:.2} MiB | {} | {arm} |",
            z.function,
            z.release.bytes as f64 / MIB,
            z.release.zip_bytes as f64 / MIB,
            times(z.release.zip_bytes as f64, hello_zip),
        );
    }
}

/// The AWS calls per request, as counted at the proxies, against the expected ones.
fn calls(o: &mut String, s: &Summary) {
    let _ = writeln!(
        o,
        "\n| function | mode | AWS calls per request (DynamoDB; kms: KMS), counted at the proxies | expected | every request matched | non-API requests per start |"
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
            match &f.mismatch {
                None => "yes".to_string(),
                Some(t) => format!("NO (e.g. {:?})", t.ops),
            },
            f.other_per_start
        );
    }
}

/// What `jwt` mode adds to a function of `skey` mode, both measured in the same run: differences of
/// the medians (and the cold cost's ratio).
fn jwt_against_skey(o: &mut String, s: &Summary) {
    let pairs: Vec<(&FunctionSummary, &FunctionSummary)> = s
        .functions
        .iter()
        .filter_map(|f| {
            let base = Function::parse(&f.function)?.skey_counterpart()?;
            Some((f, s.find(base.name(), f.mode)?))
        })
        .collect();
    if pairs.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\njwt mode against skey mode, same run (differences of the p50s):\n\n\
         | function | mode | against | init | cold cost | cold cost ratio | warm | of which moto/WeChat | warm without moto/WeChat | first request | peak RSS |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|");
    let d = |a: f64, b: f64| format!("{:+.2} ms", a - b);
    for (f, b) in pairs {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:+.2} MiB |",
            f.function,
            f.mode,
            b.function,
            d(f.init_ms.median, b.init_ms.median),
            d(f.cold_cost_ms.median, b.cold_cost_ms.median),
            times(f.cold_cost_ms.median, b.cold_cost_ms.median),
            d(f.warm_ms.median, b.warm_ms.median),
            d(f.upstream_ms.median, b.upstream_ms.median),
            d(f.warm_net_ms.median, b.warm_net_ms.median),
            d(f.first_ms.median, b.first_ms.median),
            f.rss_mib.median - b.rss_mib.median,
        );
    }
}

/// The discovery routes of each signer and the session JWTs checked against them.
fn jwt_checks(o: &mut String, s: &Summary) {
    for j in &s.jwks {
        let ops = |t: &crate::proxy::Tally| match t.ops.is_empty() {
            true => "no AWS call".to_string(),
            false => t
                .ops
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let _ = writeln!(
            o,
            "\nJWKS of a fresh login instance ({} key): issuer {}, {} key(s); first GET {}: {}; second: {}.",
            j.signer,
            j.issuer,
            j.kids.len(),
            wxauth::session_jwt::JWKS_PATH,
            ops(&j.first),
            ops(&j.second),
        );
    }
    for c in &s.jwt_checks {
        let _ = writeln!(
            o,
            "\nSession JWTs of {}: {} verified against the JWKS (RS256, kid, iss, aud, exp, nbf, iat), {} refused{}.",
            c.function,
            c.verified,
            c.refused,
            c.first_refusal
                .as_deref()
                .map_or_else(String::new, |w| format!(" (first: {w})")),
        );
    }
}

/// The TLS and AWS SDK costs measured in fresh processes.
fn probes(o: &mut String, s: &Summary) {
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
}

/// Current / baseline medians of every function and mode the baseline has too.
fn against_baseline(o: &mut String, s: &Summary, b: &Summary) {
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
        let Some(bf) = b.find(&f.function, f.mode) else {
            continue;
        };
        let zip = match (s.size(&f.function), b.size(&f.function)) {
            (Some(c), Some(p)) => times(c.release.zip_bytes as f64, p.release.zip_bytes as f64),
            _ => "-".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {zip} |",
            f.function,
            f.mode,
            times(f.init_ms.median, bf.init_ms.median),
            times(f.cold_cost_ms.median, bf.cold_cost_ms.median),
            times(f.warm_ms.median, bf.warm_ms.median),
            times(f.rss_mib.median, bf.rss_mib.median),
        );
    }
}

fn retries(o: &mut String, s: &Summary) {
    if s.retries.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\n{} cold start(s) failed once and were measured again:",
        s.retries.len()
    );
    for r in &s.retries {
        let _ = writeln!(o, "- {}", r.chars().take(300).collect::<String>());
    }
}

fn goal_list(o: &mut String, s: &Summary) {
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
    let broken = goals::broken(&s.goals);
    let _ = writeln!(
        o,
        "\n{}",
        if broken == 0 {
            "all goals met".to_string()
        } else {
            format!("{broken} goal(s) BROKEN")
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::committed_baseline as baseline;

    #[test]
    fn times_formats_a_ratio_or_a_dash() {
        assert_eq!(times(3.0, 2.0), "1.50x");
        assert_eq!(times(3.0, 0.0), "-");
    }

    #[test]
    fn the_report_has_every_table_and_the_verdict() {
        let mut s = baseline();
        s.tls_probe = Some(Default::default());
        s.sdk_probe = Some(Default::default());
        let text = render(&s, Some(&s));
        for heading in [
            "| function | mode | init ms p50 / p90 |",
            "| function | x86_64 binary | x86_64 zip |",
            "| function | mode | AWS calls per request",
            "Against the baseline (",
            "TLS in a fresh process",
            "AWS SDK in a fresh process",
            "\nGoals:\n",
        ] {
            assert!(text.contains(heading), "{heading}");
        }
        // Against itself every ratio is 1.
        let against = text.split("Against the baseline").nth(1).unwrap();
        assert!(against.contains("| hello | http | 1.00x | 1.00x | 1.00x | 1.00x | 1.00x |"));
        assert!(!render(&s, None).contains("Against the baseline"));
        assert!(!text.contains("jwt mode against skey mode"));

        s.goals.iter_mut().for_each(|g| g.met = true);
        assert!(render(&s, None).ends_with("\nall goals met\n"));
        s.goals[0].met = false;
        assert!(render(&s, None).ends_with("\n1 goal(s) BROKEN\n"));
    }

    #[test]
    fn jwt_mode_is_shown_against_skey_mode_and_its_session_jwts_counted() {
        let mut s = baseline();
        let mut jwt = s.find("login", Mode::Http).unwrap().clone();
        jwt.function = "login-jwt-kms".into();
        jwt.cold_cost_ms.median *= 1.5;
        jwt.warm_net_ms.median += 0.25;
        jwt.upstream_ms.median += 1.0;
        s.functions.push(jwt.clone());
        // A jwt-mode function without its skey-mode one in the run: no row.
        jwt.function = "login-jwt-local".into();
        jwt.mode = Mode::Tls;
        s.functions
            .retain(|f| !(f.function == "login" && f.mode == Mode::Tls));
        s.functions.push(jwt);
        s.jwt_checks.push(crate::model::JwtCheck {
            function: "login-jwt-kms".into(),
            verified: 12,
            refused: 0,
            first_refusal: None,
        });
        let text = render(&s, None);
        let table = text
            .split("jwt mode against skey mode")
            .nth(1)
            .expect("table");
        let row = table
            .lines()
            .find(|l| l.starts_with("| login-jwt-kms | http | login |"))
            .expect("row");
        assert!(row.contains("| 1.50x |"), "{row}");
        assert!(row.contains("| +1.00 ms | +0.25 ms |"), "{row}");
        assert!(!table.contains("| login-jwt-local |"));
        assert!(text.contains("Session JWTs of login-jwt-kms: 12 verified"));
    }
}
