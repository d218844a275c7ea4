//! A bounded load test of the local server binary (simulator mode), with the memory store and with
//! DynamoDB (moto): many concurrent clients log in (some several times) and call the protected routes.
//! It reports throughput and latency percentiles per route, and asserts zero errors and that every skey
//! issued still authorizes afterwards.
//!
//! Size: `WXAUTH_LOAD_CLIENTS` and `WXAUTH_LOAD_ROUNDS` (defaults: 40 clients x 8 rounds with memory,
//! a quarter of the clients with moto). `scripts/load` runs it bigger and prints the report.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wxauth_tests::dynamo;
use wxauth_tests::local::LocalServer;

fn param(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

#[derive(Default)]
struct Stats {
    /// Latencies in microseconds, per route.
    latencies: BTreeMap<String, Vec<u64>>,
    errors: Vec<String>,
}

struct Client {
    http: reqwest::Client,
    url: String,
    stats: Arc<Mutex<Stats>>,
}

impl Client {
    async fn call(
        &self,
        method: &str,
        path: &str,
        skey: Option<&str>,
        body: Option<Value>,
    ) -> Option<Value> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(m, format!("{}{path}", self.url));
        if let Some(s) = skey {
            req = req.header("x-wx-skey", s);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let started = Instant::now();
        let result = req.send().await;
        let (status, text) = match result {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, format!("transport error: {e}")),
        };
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut stats = self.stats.lock().expect("stats");
        stats
            .latencies
            .entry(format!("{method} {path}"))
            .or_default()
            .push(micros);
        if status != 200 {
            stats
                .errors
                .push(format!("{method} {path}: {status} {text}"));
            return None;
        }
        drop(stats);
        serde_json::from_str(&text).ok()
    }

    async fn login(&self, user: &str) -> Option<String> {
        let code = self
            .call("POST", "/dev/code", None, Some(json!({ "user": user })))
            .await?;
        let login = self
            .call(
                "POST",
                "/login",
                None,
                Some(json!({ "code": code["code"] })),
            )
            .await?;
        login["skey"].as_str().map(str::to_string)
    }

    /// One simulated user: logs in, calls the protected routes `rounds` times, logs in again halfway.
    async fn user(&self, i: usize, rounds: usize) -> Vec<String> {
        let name = format!("load-{i}");
        let mut skeys = Vec::new();
        let Some(mut skey) = self.login(&name).await else {
            return skeys;
        };
        skeys.push(skey.clone());
        for round in 0..rounds {
            if round == rounds / 2 && i.is_multiple_of(3) {
                // A second device of the same user: a second session; both stay valid.
                if let Some(s) = self.login(&name).await {
                    skeys.push(s.clone());
                    skey = s;
                }
            }
            self.call("GET", "/me", Some(&skey), None).await;
            let nick = json!({ "nickName": format!("user {i} round {round}") });
            self.call("PUT", "/profile", Some(&skey), Some(nick)).await;
            if round.is_multiple_of(4)
                && let Some(data) = self.call("POST", "/dev/userinfo", Some(&skey), None).await
            {
                self.call("POST", "/userinfo", Some(&skey), Some(data))
                    .await;
            }
            if round % 4 == 2
                && let Some(code) = self
                    .call("POST", "/dev/phone-code", None, Some(json!({})))
                    .await
            {
                self.call(
                    "POST",
                    "/phone",
                    Some(&skey),
                    Some(json!({ "code": code["code"] })),
                )
                .await;
            }
        }
        skeys
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Runs the load against a started server; returns the report.
async fn run_load(server: &LocalServer, label: &str, clients: usize, rounds: usize) -> String {
    let stats = Arc::new(Mutex::new(Stats::default()));
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let client = Arc::new(Client {
        http,
        url: server.url.clone(),
        stats: stats.clone(),
    });
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move { c.user(i, rounds).await })
        })
        .collect();
    let mut skeys = Vec::new();
    for t in tasks {
        skeys.extend(t.await.expect("client task"));
    }
    let elapsed = started.elapsed();

    let (latencies, errors) = {
        let s = stats.lock().expect("stats");
        (s.latencies.clone(), s.errors.clone())
    };
    assert!(
        errors.is_empty(),
        "{label}: {} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    let logins = latencies.get("POST /login").map_or(0, Vec::len);
    assert_eq!(skeys.len(), logins, "{label}: every login answered an skey");
    assert_eq!(
        skeys.len(),
        clients + clients.div_ceil(3),
        "{label}: one login per client, two for every third"
    );

    // Afterwards, every skey issued still authorizes.
    let check = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for s in &skeys {
        let r = check
            .get(format!("{}/me", server.url))
            .header("x-wx-skey", s)
            .send()
            .await
            .expect("answer");
        assert_eq!(
            r.status().as_u16(),
            200,
            "{label}: an issued skey no longer authorizes"
        );
    }

    let all: Vec<u64> = latencies.values().flatten().copied().collect();
    let total = all.len();
    let mut report = format!(
        "load {label}: {clients} clients x {rounds} rounds: {total} requests in {:.2} s = {:.0} req/s, \
         0 errors, {} skeys all still valid\n",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        skeys.len()
    );
    report.push_str(&format!(
        "  {:<22} {:>6} {:>8} {:>8} {:>8} {:>8}\n",
        "route", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"
    ));
    let mut rows: Vec<(String, Vec<u64>)> = latencies.into_iter().collect();
    rows.push(("all".to_string(), all));
    for (route, mut l) in rows {
        l.sort_unstable();
        report.push_str(&format!(
            "  {:<22} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>8.2}\n",
            route,
            l.len(),
            percentile(&l, 50.0),
            percentile(&l, 90.0),
            percentile(&l, 99.0),
            percentile(&l, 100.0)
        ));
    }
    println!("{report}");
    if let Ok(dir) = std::env::var("WXAUTH_LOAD_REPORT_DIR") {
        let path = std::path::Path::new(&dir).join(format!("load-{label}.txt"));
        std::fs::write(&path, &report).expect("write report");
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_with_the_memory_store() {
    let clients = param("WXAUTH_LOAD_CLIENTS", 40);
    let rounds = param("WXAUTH_LOAD_ROUNDS", 8);
    let server = LocalServer::start(&[], &[]).await;
    run_load(&server, "memory", clients, rounds).await;
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_with_dynamodb() {
    let clients = param("WXAUTH_LOAD_CLIENTS", 40).div_ceil(4);
    let rounds = param("WXAUTH_LOAD_ROUNDS", 8);
    let moto = dynamo::client();
    let table = dynamo::fresh_table(&moto).await;
    let endpoint = dynamo::endpoint();
    let server = LocalServer::start(&[], &dynamo::process_env(&table, &endpoint)).await;
    run_load(&server, "dynamodb-moto", clients, rounds).await;
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    // Every session has its user item.
    let items = dynamo::scan_all(&moto, &table).await;
    let pk = |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
        i.get("pk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let users: std::collections::HashSet<String> = items
        .iter()
        .map(pk)
        .filter_map(|p| p.strip_prefix("USER#").map(str::to_string))
        .collect();
    assert_eq!(users.len(), clients, "one user item per client");
    for i in &items {
        if pk(i).starts_with("SESSION#") {
            let owner = i.get("owner").and_then(|v| v.as_s().ok()).expect("owner");
            assert!(users.contains(owner), "session without its user item");
        }
    }
}
