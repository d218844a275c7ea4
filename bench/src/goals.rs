//! The goals (BENCHMARKS.md) and their judgement: cold cost against the hello-world, peak RSS, the
//! DynamoDB calls per request and the deployment zip.

use crate::model::{FileSizes, Goal, MIB, Mode, Sizes, Summary};

/// Goal: cold cost at most this many times the hello-world's.
pub const COLD_COST_MAX_RATIO: f64 = 2.0;
/// Goal: peak RSS at most this (MiB).
pub const RSS_MAX_MIB: f64 = 20.0;
/// Goal: deployment zip at most this (MiB).
pub const ZIP_MAX_MIB: f64 = 3.0;

/// The zip whose size counts: the arm64 `sam build` artifact when present (flagged when older than the
/// sources: run `scripts/check-sam` first), else the x86_64 release binary.
pub fn deployed(z: &Sizes) -> (&FileSizes, &'static str) {
    match (&z.sam_arm64, z.sam_arm64_stale) {
        (Some(a), Some(true)) => (a, "arm64 sam build, STALE: older than the sources"),
        (Some(a), _) => (a, "arm64 sam build"),
        (None, _) => (&z.release, "x86_64 release"),
    }
}

/// Every goal, judged on `s` (whose own `goals` are not read).
pub fn judge(s: &Summary) -> Vec<Goal> {
    let mut goals = Vec::new();
    let hello = s.find("hello", Mode::Http).map(|h| h.cold_cost_ms.median);
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

/// How many goals are broken.
pub fn broken(goals: &[Goal]) -> usize {
    goals.iter().filter(|g| !g.met).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::committed_baseline as baseline;

    fn goal<'a>(goals: &'a [Goal], function: &str, starts: &str) -> &'a Goal {
        goals
            .iter()
            .find(|g| g.function == function && g.goal.starts_with(starts))
            .unwrap_or_else(|| panic!("no goal {starts} for {function}"))
    }

    #[test]
    fn every_function_has_its_goals_and_the_hello_world_none() {
        let s = baseline();
        let goals = judge(&s);
        assert!(goals.iter().all(|g| g.function != "hello"));
        for f in ["authorizer", "login", "userinfo"] {
            goal(&goals, f, "cold cost <= 2x hello-world (http)");
            goal(&goals, f, "peak RSS <= 20 MiB (http)");
            goal(&goals, f, "DynamoDB calls per request (http)");
            goal(&goals, f, "zip <= 3 MiB");
        }
    }

    #[test]
    fn a_goal_breaks_past_its_limit() {
        let mut s = baseline();
        let hello = s.find("hello", Mode::Http).unwrap().cold_cost_ms.median;
        for f in s.functions.iter_mut().filter(|f| f.function == "login") {
            f.cold_cost_ms.median = hello * COLD_COST_MAX_RATIO * 1.01;
            f.rss_mib.max = RSS_MAX_MIB + 0.1;
            f.calls_ok = false;
        }
        for z in s.sizes.iter_mut().filter(|z| z.function == "login") {
            z.sam_arm64 = None;
            z.release.zip_bytes = (ZIP_MAX_MIB * MIB) as u64 + 1;
        }
        let goals = judge(&s);
        for starts in ["cold cost", "peak RSS", "DynamoDB calls", "zip"] {
            assert!(!goal(&goals, "login", starts).met, "{starts}");
        }
        assert!(
            goal(&goals, "login", "zip")
                .value
                .ends_with("(x86_64 release)")
        );
        assert!(broken(&goals) >= 4);
    }

    #[test]
    fn the_arm64_zip_counts_and_a_stale_one_is_flagged() {
        let mut s = baseline();
        let z = s.sizes.iter_mut().find(|z| z.function == "login").unwrap();
        let arm = FileSizes {
            path: "bootstrap".into(),
            bytes: 1,
            zip_bytes: (2.5 * MIB) as u64,
        };
        z.sam_arm64 = Some(arm.clone());
        z.sam_arm64_stale = Some(true);
        let (counted, which) = deployed(z);
        assert_eq!((counted, which.contains("STALE")), (&arm, true));
        z.sam_arm64_stale = Some(false);
        assert_eq!(deployed(z).1, "arm64 sam build");
        assert_eq!(
            goal(&judge(&s), "login", "zip").value,
            "2.50 MiB (arm64 sam build)"
        );
    }
}
