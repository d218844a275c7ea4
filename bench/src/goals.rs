//! The goals (BENCHMARKS.md) and their judgement: cold cost against the hello-world, peak RSS, the
//! AWS calls per request (DynamoDB, KMS), the deployment zip, and in `jwt` mode the session JWTs
//! checked against the JWKS.

use crate::functions::Function;
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
        // The in-process signer is the alternative measured, not deployed: its cold cost is reported,
        // not judged.
        let deployed = Function::parse(&f.function).is_none_or(|f| f.deployed());
        if f.mode == Mode::Http
            && deployed
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
            goal: format!("AWS calls per request ({})", f.mode),
            function: f.function.clone(),
            value: format!(
                "{} reads, {} writes, {:?}; expected {} reads, {} writes",
                f.calls.reads, f.calls.writes, f.calls.ops, f.expected.reads, f.expected.writes
            ),
            met: f.calls_ok,
        });
    }
    for j in &s.jwks {
        let ops = |t: &crate::proxy::Tally| format!("{:?}", t.ops);
        goals.push(Goal {
            goal: "JWKS: KMS GetPublicKey once per instance, none in-process".into(),
            function: format!("login ({} key)", j.signer),
            value: format!(
                "first GET {}, second {}; {} key(s) published",
                ops(&j.first),
                ops(&j.second),
                j.kids.len()
            ),
            met: j.calls_ok(),
        });
    }
    for c in &s.jwt_checks {
        goals.push(Goal {
            goal: "session JWTs verify against the served JWKS".into(),
            function: c.function.clone(),
            value: match &c.first_refusal {
                Some(why) => format!("{} verified, {} refused: {why}", c.verified, c.refused),
                None => format!("{} verified, {} refused", c.verified, c.refused),
            },
            met: c.refused == 0 && c.verified > 0,
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
            goal(&goals, f, "AWS calls per request (http)");
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
        for starts in ["cold cost", "peak RSS", "AWS calls", "zip"] {
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
    fn the_cold_cost_of_the_signer_not_deployed_is_not_judged() {
        let mut s = baseline();
        let hello = s.find("hello", Mode::Http).unwrap().cold_cost_ms.median;
        let login = s.find("login", Mode::Http).unwrap().clone();
        for name in ["login-jwt-kms", "token-jwt-local"] {
            let mut f = login.clone();
            f.function = name.into();
            f.cold_cost_ms.median = hello * COLD_COST_MAX_RATIO * 1.01;
            s.functions.push(f);
        }
        let goals = judge(&s);
        assert!(!goal(&goals, "login-jwt-kms", "cold cost").met);
        assert!(
            !goals
                .iter()
                .any(|g| g.function == "token-jwt-local" && g.goal.starts_with("cold cost"))
        );
        goal(&goals, "token-jwt-local", "peak RSS");
        goal(&goals, "token-jwt-local", "AWS calls");
    }

    #[test]
    fn session_jwts_and_the_jwks_are_goals_in_jwt_mode() {
        use crate::model::{JwksProbe, JwtCheck};
        let mut s = baseline();
        assert!(
            !judge(&s)
                .iter()
                .any(|g| g.goal.contains("JWT") || g.goal.contains("JWKS"))
        );
        s.jwt_checks = vec![
            JwtCheck {
                function: "login-jwt-kms".into(),
                verified: 110,
                refused: 0,
                first_refusal: None,
            },
            JwtCheck {
                function: "token-jwt-kms".into(),
                verified: 109,
                refused: 1,
                first_refusal: Some("InvalidSignature".into()),
            },
            JwtCheck {
                function: "login-jwt-local".into(),
                ..JwtCheck::default()
            },
        ];
        s.jwks = vec![JwksProbe {
            signer: "kms".into(),
            issuer: "https://x".into(),
            kids: vec!["k".into()],
            first: crate::proxy::Tally {
                requests: 1,
                ops: [("kms:GetPublicKey".to_string(), 1)].into(),
                ..Default::default()
            },
            second: Default::default(),
        }];
        let goals = judge(&s);
        let jwt = |f: &str| goal(&goals, f, "session JWTs verify");
        assert!(jwt("login-jwt-kms").met);
        assert!(!jwt("token-jwt-kms").met);
        assert!(
            jwt("token-jwt-kms")
                .value
                .ends_with("refused: InvalidSignature")
        );
        assert!(!jwt("login-jwt-local").met, "no session JWT checked at all");
        assert!(goal(&goals, "login (kms key)", "JWKS").met);
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
