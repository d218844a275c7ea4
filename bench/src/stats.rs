//! Statistics: medians and percentiles of samples, and the summary of one function's cold starts.

use serde::{Deserialize, Serialize};

use crate::model::{Expected, FunctionSummary, Mode, Results, Run, Summary};
use crate::proxy::Tally;

/// Median, 90th percentile (nearest rank), minimum and maximum of a sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub median: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    /// The statistics of the finite values among `values`; all zero when there are none.
    pub fn of(values: &[f64]) -> Stat {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stat::default();
        }
        v.sort_by(f64::total_cmp);
        Stat {
            median: median_of_sorted(&v),
            p90: nearest_rank(&v, 0.9),
            min: v[0],
            max: v[v.len() - 1],
        }
    }
}

/// The middle value, or the mean of the two middle ones. `v` is sorted and not empty.
fn median_of_sorted(v: &[f64]) -> f64 {
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The `p` quantile by nearest rank: the smallest value with at least `p` of the sample at or below it.
/// `v` is sorted and not empty.
fn nearest_rank(v: &[f64], p: f64) -> f64 {
    v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

/// `a / b`, or `None` when `b` is not positive (nothing to compare with).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// The collected runs summarised, with the goals judged (`goals::judge`).
pub fn summarize(results: &Results) -> Summary {
    let functions = results
        .entries
        .iter()
        .map(|e| function_summary(&e.function, &e.request, e.mode, &e.expected, &e.runs))
        .collect();
    let mut s = Summary {
        machine: crate::model::Machine::current(),
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        runs: results.runs,
        warm: results.warm,
        binaries: results.bins.display().to_string(),
        functions,
        sizes: results.sizes.clone(),
        tls_probe: results.tls_probe.clone(),
        sdk_probe: results.sdk_probe.clone(),
        retries: results.retries.clone(),
        jwks: results.jwks.clone(),
        jwt_checks: results.jwt_checks.clone(),
        goals: Vec::new(),
    };
    s.goals = crate::goals::judge(&s);
    s
}

/// The cold cost of one start: exec → first answer minus the median warm answer of the same process,
/// the time in the store and WeChat taken out of both sides (see [`Run::warm_net`]).
fn cold_cost_ms(r: &Run) -> f64 {
    let warm_net: Vec<f64> = r.warm_net().collect();
    r.total_ms - r.first_tally.upstream_ms() - Stat::of(&warm_net).median
}

fn function_summary(
    function: &str,
    request: &str,
    mode: Mode,
    expected: &Expected,
    runs: &[Run],
) -> FunctionSummary {
    let col = |f: &dyn Fn(&Run) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
    let warm_all: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.warm_ms.iter().copied())
        .collect();
    let warm_net: Vec<f64> = runs.iter().flat_map(Run::warm_net).collect();
    let upstream: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.warm_tallies.iter().map(Tally::upstream_ms))
        .collect();
    let mismatch = runs
        .iter()
        .flat_map(|r| std::iter::once(&r.first_tally).chain(&r.warm_tallies))
        .find(|t| !expected.matches(t))
        .cloned();
    let calls_ok = mismatch.is_none();
    let calls = runs
        .first()
        .and_then(|r| r.warm_tallies.first().cloned())
        .unwrap_or_default();
    let other =
        runs.iter().map(|r| r.first_tally.other as f64).sum::<f64>() / runs.len().max(1) as f64;
    FunctionSummary {
        function: function.to_string(),
        mode,
        request: request.to_string(),
        runs: runs.len(),
        init_ms: col(&|r| r.init_ms),
        first_ms: col(&|r| r.first_ms),
        total_ms: col(&|r| r.total_ms),
        warm_ms: Stat::of(&warm_all),
        warm_net_ms: Stat::of(&warm_net),
        upstream_ms: Stat::of(&upstream),
        cold_cost_ms: col(&cold_cost_ms),
        rss_mib: col(&|r| r.rss_kib as f64 / 1024.0),
        calls,
        other_per_start: other,
        expected: expected.clone(),
        calls_ok,
        mismatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(op: &str, reads: u64, writes: u64, upstream_us: u64) -> Tally {
        Tally {
            requests: 1,
            ops: [(op.to_string(), 1)].into(),
            reads,
            writes,
            other: 0,
            upstream_us,
        }
    }

    #[test]
    fn stats_use_nearest_rank() {
        let s = Stat::of(&[5.0, 1.0, 3.0, 2.0, 4.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!((s.median, s.p90, s.min, s.max), (5.5, 9.0, 1.0, 10.0));
        assert_eq!(Stat::of(&[]).median, 0.0);
    }

    #[test]
    fn median_of_an_odd_sample_is_its_middle_value() {
        let s = Stat::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.p90, s.min, s.max), (2.0, 3.0, 1.0, 3.0));
    }

    #[test]
    fn one_value_is_every_statistic() {
        let s = Stat::of(&[4.5]);
        assert_eq!((s.median, s.p90, s.min, s.max), (4.5, 4.5, 4.5, 4.5));
    }

    #[test]
    fn p90_by_nearest_rank_rounds_the_rank_up() {
        // 11 values: rank ceil(0.9 * 11) = 10, the 10th smallest.
        let v: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(Stat::of(&v).p90, 10.0);
        // 20 values: rank 18.
        let v: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(Stat::of(&v).p90, 18.0);
    }

    #[test]
    fn values_that_are_not_finite_are_left_out() {
        let s = Stat::of(&[f64::NAN, 2.0, f64::INFINITY, 4.0, f64::NEG_INFINITY]);
        assert_eq!((s.median, s.min, s.max), (3.0, 2.0, 4.0));
        assert_eq!(Stat::of(&[f64::NAN]), Stat::default());
    }

    #[test]
    fn ratio_needs_a_positive_divisor() {
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        assert_eq!(ratio(3.0, 0.0), None);
        assert_eq!(ratio(3.0, -1.0), None);
    }

    fn run(total_ms: f64, warm_ms: &[f64], first_upstream_us: u64) -> Run {
        Run {
            init_ms: total_ms / 2.0,
            first_ms: total_ms / 2.0,
            total_ms,
            warm_ms: warm_ms.to_vec(),
            rss_kib: 4096,
            first_tally: tally("GetItem", 1, 0, first_upstream_us),
            warm_tallies: warm_ms
                .iter()
                .map(|_| tally("GetItem", 1, 0, 1000))
                .collect(),
        }
    }

    #[test]
    fn cold_cost_takes_the_store_time_out_of_both_sides() {
        // First answer after 10 ms, 2 of them in the store; warm answers 3, 4 and 5 ms, 1 ms each in
        // the store: cold cost 10 - 2 - median(2, 3, 4) = 5 ms.
        let r = run(10.0, &[3.0, 4.0, 5.0], 2000);
        assert_eq!(cold_cost_ms(&r), 5.0);
    }

    #[test]
    fn a_summary_counts_the_calls_and_checks_every_request() {
        let expected = Expected::ops(&[("GetItem", 1)], 1, 0);
        let runs = [run(10.0, &[3.0, 4.0, 5.0], 2000), run(12.0, &[4.0], 0)];
        let s = function_summary("authorizer", "GET /me", Mode::Http, &expected, &runs);
        assert_eq!(s.runs, 2);
        assert!(s.calls_ok);
        assert_eq!((s.calls.reads, s.calls.writes), (1, 0));
        assert_eq!(s.total_ms.median, 11.0);
        assert_eq!(s.warm_ms.median, 4.0);
        assert_eq!(s.warm_net_ms.median, 3.0);
        assert_eq!(s.upstream_ms.median, 1.0);
        // 5 ms and 12 - 0 - 3 = 9 ms.
        assert_eq!(s.cold_cost_ms.median, 7.0);
        assert_eq!(s.rss_mib.max, 4.0);

        let mut wrong = run(10.0, &[3.0], 0);
        wrong.warm_tallies[0] = tally("Query", 1, 0, 0);
        let s = function_summary("authorizer", "GET /me", Mode::Http, &expected, &[wrong]);
        assert!(!s.calls_ok);
        assert_eq!(
            s.mismatch.map(|t| t.ops),
            Some([("Query".into(), 1)].into())
        );
    }
}
