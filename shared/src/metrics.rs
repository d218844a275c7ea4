//! Metrics: CloudWatch [Embedded Metric Format] records, one JSON line each, written straight to the
//! function's stdout (its log stream): no API call, no latency, and no log-level filter in between
//! (they are not `tracing` events, so `RUST_LOG=error` keeps them; Lambda's own filter gives a line
//! without `level` the level INFO, which the template's `ApplicationLogLevel: INFO` keeps).
//!
//! Every metric and its dimensions are named here, in [`Metric`], and nowhere else: the template's
//! alarms and dashboard are checked against this list by a test, and the README lists it. Dimensions
//! have few values (a function, an error code, a WeChat API, an outcome): never an openid, an IP or a
//! session.
//!
//! Where the records go is a [`Sink`] installed once per process: [`Emf`] in the Lambda functions
//! ([`crate::bootstrap`]), [`Counts`] in the local server (`GET /dev/metrics`, a summary on exit).
//! Without one (tests calling handlers directly) nothing is recorded.
//!
//! [Embedded Metric Format]: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value, json};

/// The environment variable naming the CloudWatch namespace (the template: `wxauth/<stack name>`).
pub const NAMESPACE_ENV: &str = "WXAUTH_METRICS_NAMESPACE";
/// The namespace without [`NAMESPACE_ENV`].
pub const DEFAULT_NAMESPACE: &str = "wxauth";

/// The dimension naming the function (`login`, `userinfo`, `avatar`, `authorizer`).
pub const FUNCTION: &str = "Function";

/// Every metric wxauth emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::EnumIter)]
pub enum Metric {
    /// Every answer of an HTTP function. Dimensions: `Function`.
    Requests,
    /// Every error answer, by its documented code. Dimensions: `Code`; `Function, Code`.
    Errors,
    /// Time to answer (HTTP functions) or decide (the authorizer), ms. Dimensions: `Function`.
    Latency,
    /// `POST /login` by outcome: `OK` or the error code. Dimensions: `Outcome`.
    Logins,
    /// The authorizer's decisions: `Allow`, `Deny`, `Error` (fails closed). Dimensions: `Decision`.
    AuthorizerDecisions,
    /// WeChat calls by API and result (`OK` or the kind of error). Dimensions: `Api, Result`; `Result`.
    WechatCalls,
    /// Time of one WeChat call, ms. Dimensions: `Api`.
    WechatLatency,
    /// Store (DynamoDB, S3) failures answered `STORE_UNAVAILABLE` or failing the authorizer.
    /// Dimensions: `Function`.
    StoreErrors,
    /// User data that did not decrypt (`DECRYPT_FAILED`). Dimensions: `Function`.
    DecryptFailures,
    /// User data whose signature did not match (`INVALID_SIGNATURE`). Dimensions: `Function`.
    SignatureFailures,
    /// Requests refused by a rate limit, by scope (`login-ip`, `login-user`, `phone-session`,
    /// `avatar-session`, `wechat`). Dimensions: `Scope`.
    RateLimited,
    /// Session JWTs that could not be signed (KMS unreachable, throttling, a key misconfigured):
    /// `SIGNING_UNAVAILABLE`, or a login answered without its session JWT. Dimensions: `Function`.
    JwtSigningErrors,
}

/// The unit of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

impl Metric {
    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Requests => "Requests",
            Metric::Errors => "Errors",
            Metric::Latency => "Latency",
            Metric::Logins => "Logins",
            Metric::AuthorizerDecisions => "AuthorizerDecisions",
            Metric::WechatCalls => "WechatCalls",
            Metric::WechatLatency => "WechatLatency",
            Metric::StoreErrors => "StoreErrors",
            Metric::DecryptFailures => "DecryptFailures",
            Metric::SignatureFailures => "SignatureFailures",
            Metric::RateLimited => "RateLimited",
            Metric::JwtSigningErrors => "JwtSigningErrors",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::Latency | Metric::WechatLatency => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }

    /// The dimension sets CloudWatch aggregates the metric by (each set is one CloudWatch metric).
    pub fn dimensions(self) -> &'static [&'static [&'static str]] {
        match self {
            Metric::Requests
            | Metric::Latency
            | Metric::StoreErrors
            | Metric::DecryptFailures
            | Metric::SignatureFailures
            | Metric::JwtSigningErrors => &[&[FUNCTION]],
            Metric::Errors => &[&["Code"], &[FUNCTION, "Code"]],
            Metric::Logins => &[&["Outcome"]],
            Metric::AuthorizerDecisions => &[&["Decision"]],
            Metric::WechatCalls => &[&["Api", "Result"], &["Result"]],
            Metric::WechatLatency => &[&["Api"]],
            Metric::RateLimited => &[&["Scope"]],
        }
    }

    /// The dimension names the metric is recorded with (every name of its sets).
    pub fn dimension_names(self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .dimensions()
            .iter()
            .flat_map(|s| s.iter().copied())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The metric of this name.
    pub fn named(name: &str) -> Option<Metric> {
        <Metric as strum::IntoEnumIterator>::iter().find(|m| m.name() == name)
    }
}

/// Where records go.
pub trait Sink: Send + Sync {
    /// Records `value` of `metric` with these dimension values (`function` is the `Function`
    /// dimension's value).
    fn record(&self, metric: Metric, value: f64, dimensions: &[(&str, &str)]);
}

static SINK: OnceLock<Box<dyn Sink>> = OnceLock::new();
/// The function of this process (the Lambda functions: one each), for records made outside a
/// [`within`] scope.
static PROCESS_FUNCTION: OnceLock<&'static str> = OnceLock::new();

tokio::task_local! {
    static FUNCTION_NAME: &'static str;
}

/// Installs the process's sink (once; false when one was installed already).
pub fn install(sink: Box<dyn Sink>) -> bool {
    SINK.set(sink).is_ok()
}

/// Installs [`Emf`] on stdout for the Lambda function `function`, with the namespace of
/// [`NAMESPACE_ENV`].
pub fn init_lambda(function: &'static str) {
    let _ = PROCESS_FUNCTION.set(function);
    let namespace = std::env::var(NAMESPACE_ENV)
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    install(Box::new(Emf { namespace }));
}

/// Runs `f` with `function` as the `Function` dimension of what it records (the local server runs
/// every function in one process).
pub async fn within<F: Future>(function: &'static str, f: F) -> F::Output {
    FUNCTION_NAME.scope(function, f).await
}

/// The function the current record belongs to.
pub fn current_function() -> &'static str {
    FUNCTION_NAME
        .try_with(|f| *f)
        .ok()
        .or_else(|| PROCESS_FUNCTION.get().copied())
        .unwrap_or("unknown")
}

/// Records one value. `dimensions` names every dimension of the metric but `Function`, which is
/// filled in ([`current_function`]).
pub fn record(metric: Metric, value: f64, dimensions: &[(&str, &str)]) {
    let Some(sink) = SINK.get() else {
        return;
    };
    let function = current_function();
    let mut all: Vec<(&str, &str)> = Vec::with_capacity(dimensions.len() + 1);
    if metric.dimension_names().contains(&FUNCTION) {
        all.push((FUNCTION, function));
    }
    all.extend_from_slice(dimensions);
    sink.record(metric, value, &all);
}

/// Counts one event.
pub fn count(metric: Metric, dimensions: &[(&str, &str)]) {
    record(metric, 1.0, dimensions);
}

/// Records a duration in milliseconds.
pub fn millis(metric: Metric, ms: f64, dimensions: &[(&str, &str)]) {
    record(metric, ms, dimensions);
}

/// One EMF record: the `_aws` metadata, the dimension values and the value, as one JSON object.
pub fn emf_record(
    namespace: &str,
    timestamp_ms: u128,
    metric: Metric,
    value: f64,
    dimensions: &[(&str, &str)],
) -> Value {
    let mut record = Map::new();
    record.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": metric.dimensions(),
                "Metrics": [{"Name": metric.name(), "Unit": metric.unit().as_str()}],
            }],
        }),
    );
    for (k, v) in dimensions {
        record.insert((*k).to_string(), Value::String((*v).to_string()));
    }
    record.insert(metric.name().into(), json!(value));
    Value::Object(record)
}

/// Embedded Metric Format on stdout, one line per record.
#[derive(Debug)]
pub struct Emf {
    pub namespace: String,
}

impl Sink for Emf {
    fn record(&self, metric: Metric, value: f64, dimensions: &[(&str, &str)]) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let mut line = emf_record(&self.namespace, now, metric, value, dimensions).to_string();
        line.push('\n');
        // One write of the whole line, under stdout's lock: never interleaved with a log line.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

/// Counters in memory (the local server): per metric and dimension values, how many records and
/// their sum.
#[derive(Debug, Default)]
pub struct Counts {
    inner: Mutex<BTreeMap<Series, (u64, f64)>>,
}

/// A metric with its dimension values, sorted by name.
type Series = (Metric, Vec<(String, String)>);

impl Counts {
    pub fn new() -> Counts {
        Counts::default()
    }

    /// Everything counted: `{"<metric>": [{"dimensions": {..}, "samples": n, "sum": x}]}`.
    pub fn snapshot(&self) -> Value {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Map::new();
        for ((metric, dims), (samples, sum)) in inner.iter() {
            let dimensions: Map<String, Value> = dims
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let entry = out
                .entry(metric.name().to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                list.push(json!({"dimensions": dimensions, "samples": samples, "sum": sum}));
            }
        }
        Value::Object(out)
    }

    /// One line per metric and dimension values: `Logins Outcome=OK 3` (durations: `n samples, avg`).
    pub fn summary(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .iter()
            .map(|((metric, dims), (samples, sum))| {
                let dims: Vec<String> = dims.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let value = match metric.unit() {
                    Unit::Count => format!("{sum}"),
                    Unit::Milliseconds => {
                        format!(
                            "{samples} samples, avg {:.1} ms",
                            sum / (*samples).max(1) as f64
                        )
                    }
                };
                format!("{} {} {value}", metric.name(), dims.join(" "))
            })
            .collect()
    }
}

impl Sink for Counts {
    fn record(&self, metric: Metric, value: f64, dimensions: &[(&str, &str)]) {
        let mut dims: Vec<(String, String)> = dimensions
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        dims.sort();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let entry = inner.entry((metric, dims)).or_insert((0, 0.0));
        entry.0 += 1;
        entry.1 += value;
    }
}

/// A sink shared with its installer (the local server keeps a handle to read the counts).
impl<S: Sink + ?Sized> Sink for std::sync::Arc<S> {
    fn record(&self, metric: Metric, value: f64, dimensions: &[(&str, &str)]) {
        (**self).record(metric, value, dimensions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator as _;

    #[test]
    fn names_are_unique_and_found_again() {
        let mut names: Vec<_> = Metric::iter().map(Metric::name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
        for m in Metric::iter() {
            assert_eq!(Metric::named(m.name()), Some(m));
        }
    }

    #[test]
    fn an_emf_record_declares_its_dimensions_and_carries_their_values() {
        let r = emf_record(
            "wxauth/test",
            1_700_000_000_000,
            Metric::Errors,
            1.0,
            &[(FUNCTION, "login"), ("Code", "MISCONFIGURED")],
        );
        let meta = &r["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(meta["Namespace"], "wxauth/test");
        assert_eq!(meta["Dimensions"], json!([["Code"], ["Function", "Code"]]));
        assert_eq!(
            meta["Metrics"],
            json!([{"Name": "Errors", "Unit": "Count"}])
        );
        assert_eq!(r["Code"], "MISCONFIGURED");
        assert_eq!(r["Function"], "login");
        assert_eq!(r["Errors"], 1.0);
        assert_eq!(r["_aws"]["Timestamp"], 1_700_000_000_000u64);
    }

    #[test]
    fn counts_add_up_per_dimension_values() {
        let c = Counts::new();
        c.record(Metric::Logins, 1.0, &[("Outcome", "OK")]);
        c.record(Metric::Logins, 1.0, &[("Outcome", "OK")]);
        c.record(Metric::Logins, 1.0, &[("Outcome", "CODE_USED")]);
        let s = c.snapshot();
        assert_eq!(s["Logins"].as_array().map(Vec::len), Some(2));
        assert!(c.summary().contains(&"Logins Outcome=OK 2".to_string()));
    }
}
