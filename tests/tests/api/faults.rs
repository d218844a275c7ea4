//! Faults of the two things wxauth depends on, WeChat and DynamoDB, through the handlers and through the
//! local server binary:
//! - WeChat slow past the timeout, hanging up, answering 5xx, HTML or nothing: `503 WECHAT_UNAVAILABLE`;
//! - DynamoDB unreachable, throttling (`ProvisionedThroughputExceededException`, `ThrottlingException`)
//!   or failing (`InternalServerError`): `503 STORE_UNAVAILABLE`, and the authorizer fails closed (an
//!   error, never an Allow).
//!
//! After each fault the table (moto) is compared with what it held before: no session without its user
//! item, no user item overwritten by a failed login, no profile, phone or logout half done. The DynamoDB
//! faults come from a small proxy in front of moto that answers chosen operations with DynamoDB's own
//! error JSON and forwards the rest.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};
use wxauth::clock::ManualClock;
use wxauth::handlers::authorizer::{Authorizer, AuthorizerError};
use wxauth::handlers::login::LoginHandler;
use wxauth::handlers::userinfo::UserinfoHandler;
use wxauth::sessions::Sessions;
use wxauth::store::Store;
use wxauth::store::dynamo::DynamoStore;
use wxauth_local::simulator::{Fault, Simulator};
use wxauth_tests::dynamo;
use wxauth_tests::env::{APPID, BACKENDS, Backend, Env, IDLE, SECRET, START, TTL};
use wxauth_tests::events::{self, Req, code, parts};
use wxauth_tests::local::{LocalServer, Reply};

// ------------------------------------------------------------------------------------------------
// A DynamoDB proxy that fails chosen operations.

/// How the proxy answers the operations it is told to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// 400 `ProvisionedThroughputExceededException` (a table over its capacity).
    Provisioned,
    /// 400 `ThrottlingException` (control plane / account limits).
    Throttling,
    /// 500 `InternalServerError`.
    Internal,
    /// No answer until the proxy is healed; then the request goes through (DynamoDB frozen, then
    /// resuming: a write whose caller gave up may still commit).
    Freeze,
}

#[derive(Default)]
struct ProxyState {
    /// Operations (`GetItem`, `TransactWriteItems`, ...) to fail, and how.
    failing: HashMap<String, Failure>,
    /// How many requests were failed.
    failed: usize,
}

struct Proxy {
    url: String,
    state: Arc<Mutex<ProxyState>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let app =
            axum::Router::new()
                .fallback(proxy_request)
                .with_state((state.clone(), http, upstream));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { url, state }
    }

    fn fail(&self, ops: &[&str], how: Failure) {
        let mut st = self.state.lock().expect("lock");
        for op in ops {
            st.failing.insert((*op).to_string(), how);
        }
    }

    fn heal(&self) {
        self.state.lock().expect("lock").failing.clear();
    }

    fn failed(&self) -> usize {
        self.state.lock().expect("lock").failed
    }
}

type ProxyCtx = (Arc<Mutex<ProxyState>>, reqwest::Client, String);

async fn proxy_request(State((state, http, upstream)): State<ProxyCtx>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let op = target.rsplit('.').next().unwrap_or_default().to_string();
    let failure = {
        let mut st = state.lock().expect("lock");
        let f = st.failing.get(&op).copied();
        if f.is_some() {
            st.failed += 1;
        }
        f
    };
    if failure == Some(Failure::Freeze) {
        while state.lock().expect("lock").failing.get(&op) == Some(&Failure::Freeze) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    } else if let Some(f) = failure {
        let (status, kind, message) = match f {
            Failure::Provisioned => (
                400,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            ),
            Failure::Throttling => (
                400,
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            ),
            Failure::Internal => (500, "InternalServerError", "Internal server error"),
            Failure::Freeze => unreachable!("handled above"),
        };
        let body = json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
            "message": message,
        })
        .to_string();
        return http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amzn-requestid", "proxy-fault")
            .body(Body::from(body))
            .expect("response");
    }
    let bytes: Bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let mut forward = http.request(parts.method.clone(), format!("{upstream}{}", parts.uri));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            forward = forward.header(name, value);
        }
    }
    match forward.body(bytes).send().await {
        Ok(resp) => {
            let mut out = http::Response::builder().status(resp.status());
            for (name, value) in resp.headers() {
                if !matches!(
                    name.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    out = out.header(name, value);
                }
            }
            let body = resp.bytes().await.unwrap_or_default();
            out.body(Body::from(body)).expect("response")
        }
        Err(_) => http::Response::builder()
            .status(502)
            .body(Body::empty())
            .expect("response"),
    }
}

/// A DynamoDB client configured as `wxauth::bootstrap` configures the functions' (timeouts, standard
/// retries with three attempts), with the tests' dummy credentials.
fn function_client(url: &str) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::{Credentials, Region};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "faults"))
        .endpoint_url(url)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_millis(1500))
                .operation_timeout(Duration::from_secs(3))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The three handlers over a DynamoDB endpoint (the proxy, or a dead port), the table in moto.
struct World {
    sim: Arc<Simulator>,
    clock: Arc<ManualClock>,
    login: LoginHandler,
    userinfo: UserinfoHandler,
    authorizer: Authorizer,
    /// Direct to moto, for the checks.
    moto: aws_sdk_dynamodb::Client,
    table: String,
    /// The openid of each skey logged in (the authorizer's context, without a store read).
    openids: Mutex<HashMap<String, String>>,
}

impl World {
    async fn new(endpoint: &str) -> World {
        wxauth_tests::logs::install();
        let moto = dynamo::client();
        let table = dynamo::fresh_table(&moto).await;
        let sim = Simulator::new(APPID, SECRET);
        let wx_url = sim.spawn().await.expect("simulator");
        let store: Arc<dyn Store> = Arc::new(DynamoStore::new(function_client(endpoint), &table));
        let clock = Arc::new(ManualClock::new(START));
        let sessions = Sessions::new(store.clone(), clock.clone(), TTL, IDLE);
        let wechat = wxauth_tests::env::wechat_client(&wx_url, Duration::from_secs(5));
        let functions = wxauth_tests::env::functions(&sessions, vec![wechat]);
        World {
            login: functions.login,
            userinfo: functions.userinfo,
            authorizer: functions.authorizer,
            sim,
            clock,
            moto,
            table,
            openids: Mutex::default(),
        }
    }

    async fn login(&self, user: &str) -> (u16, Value) {
        let req = Req::new("POST", "/login").json(&json!({ "code": self.sim.mint_code(user) }));
        parts(self.login.handle(req.into_request()).await)
    }

    async fn login_ok(&self, user: &str) -> String {
        let (status, body) = self.login(user).await;
        assert_eq!(status, 200, "{body}");
        let skey = body["skey"].as_str().expect("skey").to_string();
        self.openids
            .lock()
            .expect("lock")
            .insert(skey.clone(), self.sim.openid_for(user));
        skey
    }

    /// A request to the userinfo function as API Gateway sends it after the authorizer allowed it
    /// (with its context), as a cached Allow would during a store outage.
    async fn userinfo_call(&self, skey: &str, req: Req) -> (u16, Value) {
        let openid = self.openids.lock().expect("lock").get(skey).cloned();
        let ctx = json!({"openid": openid.unwrap_or_else(|| "unknown".into()), "session_id": "s"});
        parts(
            self.userinfo
                .handle(req.skey(skey).authorized(ctx).into_request())
                .await,
        )
    }

    async fn items(&self) -> Items {
        items_of(&self.moto, &self.table).await
    }
}

/// The sessions and users of a table, as comparable text (TOKEN# leases are not user data).
#[derive(Debug, PartialEq, Eq)]
struct Items {
    sessions: BTreeSet<String>,
    users: BTreeSet<String>,
}

fn item_text(item: &HashMap<String, AttributeValue>) -> String {
    let mut keys: Vec<_> = item.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    format!("{keys:?}")
}

async fn items_of(moto: &aws_sdk_dynamodb::Client, table: &str) -> Items {
    let mut out = Items {
        sessions: BTreeSet::new(),
        users: BTreeSet::new(),
    };
    for item in dynamo::scan_all(moto, table).await {
        let pk = match item.get("pk") {
            Some(AttributeValue::S(s)) => s.clone(),
            other => panic!("item without pk: {other:?}"),
        };
        if pk.starts_with("SESSION#") {
            out.sessions.insert(item_text(&item));
        } else if pk.starts_with("USER#") {
            out.users.insert(item_text(&item));
        }
    }
    // No session without its user item.
    for s in &out.sessions {
        let owner = s
            .split("\"owner\", S(\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("session owner");
        assert!(
            out.users
                .iter()
                .any(|u| u.contains(&format!("S(\"USER#{owner}\")"))),
            "session of {owner} without its user item"
        );
    }
    out
}

fn authorizer_events(skey: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("http-v2", events::authorizer_v2(Some(skey), "GET", "/me")),
        (
            "http-v1",
            events::authorizer_http_v1(Some(skey), "GET", "/me"),
        ),
        (
            "rest-token",
            events::authorizer_rest_token(skey, "GET", "/me"),
        ),
        (
            "rest-request",
            events::authorizer_rest_request(Some(skey), "GET", "/me"),
        ),
    ]
}

/// Every authorizer event shape fails closed: an error (the gateway denies), never a decision.
async fn assert_authorizer_fails_closed(authorizer: &Authorizer, skey: &str) {
    for (kind, event) in authorizer_events(skey) {
        let started = Instant::now();
        let got = authorizer.handle(event).await;
        assert_eq!(
            got,
            Err(AuthorizerError::StoreUnavailable),
            "{kind}: the authorizer must fail closed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{kind}: answered in {:?}",
            started.elapsed()
        );
    }
}

async fn assert_authorizer_allows(authorizer: &Authorizer, skey: &str) {
    let out = authorizer
        .handle(events::authorizer_v2(Some(skey), "GET", "/me"))
        .await
        .expect("a decision");
    assert_eq!(out["isAuthorized"], true, "{out}");
}

fn assert_code(got: &(u16, Value), status: u16, want: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(code(&got.1), want, "{}", got.1);
}

// ------------------------------------------------------------------------------------------------
// WeChat faults, through the handlers (memory and moto).

const WECHAT_FAULTS: [&str; 6] = ["slow", "close", "502", "500", "html", "empty"];

fn wechat_fault(name: &str) -> Fault {
    match name {
        "slow" => Fault::Delay(Duration::from_millis(1500)),
        "close" => Fault::Close,
        "502" => Fault::Status(502),
        "500" => Fault::Status(500),
        "html" => Fault::Html,
        "empty" => Fault::Body(String::new()),
        other => panic!("{other}"),
    }
}

/// What the store holds about users and sessions, whatever the backend.
async fn snapshot(env: &Env, users: &[&str]) -> String {
    match &env.table {
        Some((client, table)) => format!("{:?}", items_of(client, table).await),
        None => {
            let mut out = String::new();
            for u in users {
                let user = env
                    .store
                    .get_user(&env.sim.openid_for(u))
                    .await
                    .expect("memory store");
                out.push_str(&format!("{u}: {user:?}\n"));
            }
            out
        }
    }
}

#[tokio::test]
async fn wechat_faults_are_503_and_change_nothing() {
    for backend in BACKENDS {
        let env = Env::with_timeout(backend, Duration::from_millis(300)).await;
        let skey = env.login_as("alice").await;
        let before = snapshot(&env, &["alice", "bob"]).await;
        for name in WECHAT_FAULTS {
            env.sim.set_fault(Some(wechat_fault(name)));
            let started = Instant::now();
            for user in ["alice", "bob"] {
                let got = env.call_login(&env.sim.mint_code(user)).await;
                assert_code(&got, 503, "WECHAT_UNAVAILABLE");
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{backend:?} {name}: the timeout bounds the answer ({:?})",
                started.elapsed()
            );
            // A phone code needs the access_token first: unavailable, nothing saved.
            let phone = env
                .call(
                    Req::new("POST", "/phone")
                        .skey(&skey)
                        .json(&json!({"code": env.sim.mint_phone_code("13800138000")})),
                )
                .await;
            assert_code(&phone, 503, "WECHAT_UNAVAILABLE");
            env.sim.set_fault(None);
            assert_eq!(
                snapshot(&env, &["alice", "bob"]).await,
                before,
                "{backend:?} {name}: a failed login or phone exchange changed the store"
            );
            // Sessions do not depend on WeChat.
            let me = env.call(Req::new("GET", "/me").skey(&skey)).await;
            assert_eq!(me.0, 200, "{backend:?} {name}: {}", me.1);
        }
        // Recovered: logins work again.
        let again = env.login_as("alice").await;
        assert_ne!(again, skey);
    }
}

/// Issue 13 (1): with WeChat's `stable_token` hanging, concurrent phone exchanges (which need the
/// access_token) answer `WECHAT_UNAVAILABLE` by their deadline, not one WeChat timeout after another;
/// data that does not decrypt answers `DECRYPT_FAILED` within the checksession limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_wechat_never_holds_an_answer_past_its_deadline() {
    let env = Env::new(Backend::Memory).await;
    let budget = Duration::from_secs(3);
    let userinfo = Arc::new(env.userinfo.clone().with_budget(budget));
    let skey = env.login_as("alice").await;
    env.sim
        .set_api_fault("stable_token", Some(Fault::Delay(Duration::from_secs(60))));
    let garbage = json!({
        "encryptedData": wxauth::crypto::base64_encode(&[7u8; 64]),
        "iv": wxauth::crypto::base64_encode(&[1u8; 16]),
    });
    let mut tasks = Vec::new();
    for i in 0..6 {
        let req = if i % 2 == 0 {
            let code = env.sim.mint_phone_code("13800138000");
            Req::new("POST", "/phone").json(&json!({"code": code}))
        } else {
            Req::new("POST", "/userinfo").json(&garbage)
        };
        let req = req.skey(&skey).into_request();
        let userinfo = userinfo.clone();
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let got = parts(userinfo.handle(req).await);
            (i, got, started.elapsed())
        }));
    }
    for t in tasks {
        let (i, got, took) = t.await.expect("task");
        if i % 2 == 0 {
            assert_code(&got, 503, "WECHAT_UNAVAILABLE");
            assert!(
                took < budget + Duration::from_millis(500),
                "phone {i}: {took:?}"
            );
        } else {
            assert_code(&got, 400, "DECRYPT_FAILED");
            let limit = wxauth::users::KEY_CHECK_LIMIT + Duration::from_millis(500);
            assert!(took < limit, "userinfo {i}: {took:?}");
        }
    }
    env.sim.set_api_fault("stable_token", None);
}

/// Issue 13 (1, 8): with DynamoDB frozen, every function answers by its deadline (the authorizer
/// fails closed with an error, login `STORE_UNAVAILABLE`); a login write that was sent before the
/// answer may still commit when DynamoDB resumes, but no one ever held its skey.
#[tokio::test]
async fn a_frozen_dynamodb_never_holds_an_answer_past_its_deadline() {
    let proxy = Proxy::start(dynamo::endpoint()).await;
    let world = World::new(&proxy.url).await;
    let skey = world.login_ok("alice").await;
    let budget = Duration::from_millis(1500);
    let authorizer = world.authorizer.clone().with_budget(budget);
    let login = world.login.clone().with_budget(budget);
    proxy.fail(&["GetItem", "TransactWriteItems"], Failure::Freeze);
    let started = Instant::now();
    let decision = authorizer
        .handle(events::authorizer_v2(Some(&skey), "GET", "/me"))
        .await;
    assert_eq!(decision, Err(AuthorizerError::StoreUnavailable));
    assert!(
        started.elapsed() < budget + Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let req = Req::new("POST", "/login").json(&json!({"code": world.sim.mint_code("bob")}));
    let got = parts(login.handle(req.into_request()).await);
    assert_code(&got, 503, "STORE_UNAVAILABLE");
    assert!(got.1.get("skey").is_none());
    assert!(
        started.elapsed() < budget + Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    proxy.heal();
}

#[tokio::test]
async fn a_failing_checksession_never_changes_the_answer() {
    let env = Env::with_timeout(Backend::Memory, Duration::from_millis(300)).await;
    let skey = env.login_as("alice").await;
    env.login_as("bob").await;
    // Bob's data does not open with alice's session_key: DECRYPT_FAILED, then checksession is asked,
    // and it fails: the answer stays DECRYPT_FAILED (never 503, never SESSION_KEY_EXPIRED).
    let bobs = serde_json::to_value(
        env.sim
            .legacy_user_data(&env.sim.openid_for("bob"))
            .expect("bob's data"),
    )
    .expect("json");
    let mut unsigned = bobs.clone();
    let obj = unsigned.as_object_mut().expect("object");
    obj.remove("rawData");
    obj.remove("signature");
    for (i, name) in WECHAT_FAULTS.iter().enumerate() {
        env.sim.set_fault(Some(wechat_fault(name)));
        env.clock.advance(61 * (i as i64 + 1));
        let got = env
            .call(Req::new("POST", "/userinfo").skey(&skey).json(&unsigned))
            .await;
        assert_code(&got, 400, "DECRYPT_FAILED");
    }
    env.sim.set_fault(None);
}

// ------------------------------------------------------------------------------------------------
// DynamoDB faults, through the handlers.

#[tokio::test]
async fn throttled_login_writes_nothing_and_overwrites_nothing() {
    let proxy = Proxy::start(dynamo::endpoint()).await;
    let w = World::new(&proxy.url).await;
    let skey = w.login_ok("alice").await;
    let before = w.items().await;
    assert_eq!((before.sessions.len(), before.users.len()), (1, 1));
    for how in [Failure::Provisioned, Failure::Throttling, Failure::Internal] {
        proxy.fail(&["TransactWriteItems", "PutItem", "UpdateItem"], how);
        for user in ["alice", "bob"] {
            let got = w.login(user).await;
            assert_code(&got, 503, "STORE_UNAVAILABLE");
        }
        proxy.heal();
        assert_eq!(
            w.items().await,
            before,
            "{how:?}: a failed login wrote or overwrote something"
        );
        assert_authorizer_allows(&w.authorizer, &skey).await;
    }
    assert!(
        proxy.failed() >= 6,
        "the proxy failed {} calls",
        proxy.failed()
    );
    // Healed: the next login is stored whole.
    w.login_ok("bob").await;
    let after = w.items().await;
    assert_eq!((after.sessions.len(), after.users.len()), (2, 2));
}

#[tokio::test]
async fn throttled_reads_fail_closed() {
    let proxy = Proxy::start(dynamo::endpoint()).await;
    let w = World::new(&proxy.url).await;
    let skey = w.login_ok("alice").await;
    let before = w.items().await;
    for how in [Failure::Provisioned, Failure::Throttling, Failure::Internal] {
        proxy.fail(&["GetItem", "Query", "BatchGetItem"], how);
        assert_authorizer_fails_closed(&w.authorizer, &skey).await;
        // The functions check the session themselves: behind a cached Allow they answer 503 too
        // (each refused read costs the SDK's retries: one failure kind is enough here).
        let profile = json!({"nickName": "Alice"});
        let all_routes = vec![
            Req::new("GET", "/me"),
            Req::new("PUT", "/profile").json(&profile),
            Req::new("POST", "/logout"),
            Req::new("POST", "/logout").json(&json!({"all": true})),
            Req::new("POST", "/phone").json(&json!({"code": w.sim.mint_phone_code("13800138000")})),
            Req::new("POST", "/userinfo").json(&json!({"encryptedData": "AAAA", "iv": "AAAA"})),
        ];
        let reqs = if how == Failure::Provisioned {
            all_routes
        } else {
            vec![Req::new("GET", "/me")]
        };
        for req in reqs {
            let label = format!("{how:?} {} {}", req.method, req.path);
            let got = w.userinfo_call(&skey, req).await;
            assert_eq!(got.0, 503, "{label}: {}", got.1);
            assert_eq!(code(&got.1), "STORE_UNAVAILABLE", "{label}: {}", got.1);
        }
        proxy.heal();
        assert_eq!(w.items().await, before, "{how:?}: something changed");
        assert_authorizer_allows(&w.authorizer, &skey).await;
    }
}

#[tokio::test]
async fn throttled_writes_change_nothing() {
    let proxy = Proxy::start(dynamo::endpoint()).await;
    let w = World::new(&proxy.url).await;
    let skey = w.login_ok("alice").await;
    let other = w.login_ok("alice").await;
    let data = serde_json::to_value(
        w.sim
            .legacy_user_data(&w.sim.openid_for("alice"))
            .expect("alice's data"),
    )
    .expect("json");
    let before = w.items().await;
    let writes = [
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactWriteItems",
        "BatchWriteItem",
    ];
    for how in [Failure::Provisioned, Failure::Throttling] {
        proxy.fail(&writes, how);
        for (label, req) in [
            (
                "profile",
                Req::new("PUT", "/profile").json(&json!({"nickName": "Changed"})),
            ),
            ("userinfo", Req::new("POST", "/userinfo").json(&data)),
            ("logout", Req::new("POST", "/logout")),
            (
                "logout all",
                Req::new("POST", "/logout").json(&json!({"all": true})),
            ),
        ] {
            let got = w.userinfo_call(&skey, req).await;
            assert_eq!(got.0, 503, "{how:?} {label}: {}", got.1);
            assert_eq!(code(&got.1), "STORE_UNAVAILABLE", "{how:?} {label}");
        }
        // last_seen is refreshed at most hourly and best effort: a failed refresh still allows.
        w.clock.advance(2 * 3600);
        assert_authorizer_allows(&w.authorizer, &skey).await;
        proxy.heal();
        assert_eq!(
            w.items().await,
            before,
            "{how:?}: a failed write left a trace"
        );
    }
    // Healed: logout ends both sessions.
    let got = w
        .userinfo_call(
            &skey,
            Req::new("POST", "/logout").json(&json!({"all": true})),
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.1);
    assert_eq!(got.1["revoked"], 2);
    for s in [&skey, &other] {
        let denied = w
            .authorizer
            .handle(events::authorizer_v2(Some(s), "GET", "/me"))
            .await
            .expect("decision");
        assert_eq!(denied["isAuthorized"], false);
    }
}

#[tokio::test]
async fn unreachable_dynamodb_is_503_and_deny() {
    // A port nothing listens on.
    let down = wxauth_tests::dead::DeadPort::new();
    let w = World::new(&down.url()).await;
    let started = Instant::now();
    assert_code(&w.login("alice").await, 503, "STORE_UNAVAILABLE");
    let skey = wxauth::crypto::generate_skey().expect("rng");
    assert_authorizer_fails_closed(&w.authorizer, &skey).await;
    let got = w.userinfo_call(&skey, Req::new("GET", "/me")).await;
    assert_code(&got, 503, "STORE_UNAVAILABLE");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded by the SDK timeouts: {:?}",
        started.elapsed()
    );
    let items = w.items().await;
    assert!(items.sessions.is_empty() && items.users.is_empty());
}

// ------------------------------------------------------------------------------------------------
// The local server binary.

fn assert_reply(r: &Reply, status: u16, body: &Value) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(&r.body, body, "{}", r.text);
}

fn assert_reply_code(r: &Reply, status: u16, want: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"]["code"], want, "{}", r.text);
}

#[tokio::test]
async fn local_server_with_failing_dynamodb_answers_503_and_recovers() {
    let proxy = Proxy::start(dynamo::endpoint()).await;
    let moto = dynamo::client();
    let table = dynamo::fresh_table(&moto).await;
    let server = LocalServer::start(&[], &dynamo::process_env(&table, &proxy.url)).await;
    let skey = server.login_as("alice").await;
    let me = server.call("GET", "/me", Some(&skey), None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    let before = items_of(&moto, &table).await;

    for how in [Failure::Throttling, Failure::Internal] {
        proxy.fail(&["GetItem"], how);
        for (method, path) in [("GET", "/me"), ("POST", "/logout"), ("PUT", "/profile")] {
            let body = (method != "GET").then(|| json!({"nickName": "x"}));
            let r = server.call(method, path, Some(&skey), body.as_ref()).await;
            assert_reply(&r, 503, &json!({"message": "Service Unavailable"}));
        }
        proxy.heal();
        proxy.fail(&["TransactWriteItems"], how);
        let r = server.login(&server.dev_code("alice").await).await;
        assert_reply_code(&r, 503, "STORE_UNAVAILABLE");
        let r = server.login(&server.dev_code("newcomer").await).await;
        assert_reply_code(&r, 503, "STORE_UNAVAILABLE");
        proxy.heal();
        assert_eq!(items_of(&moto, &table).await, before, "{how:?}");
        // Still serving, with the same session.
        let me = server.call("GET", "/me", Some(&skey), None).await;
        assert_eq!(me.status, 200, "{how:?}: {}", me.text);
    }
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    assert!(!output.contains(&skey));
}

#[tokio::test]
async fn local_server_with_failing_wechat_answers_503_and_keeps_serving() {
    let sim = Simulator::new(APPID, SECRET);
    let url = sim.spawn().await.expect("simulator");
    let server = LocalServer::with_wechat(&url, &[("WX_TIMEOUT_MS", "300")]).await;
    let skey = server.login_with(&sim.mint_code("alice")).await;
    let mut seen = HashSet::new();
    for name in WECHAT_FAULTS {
        sim.set_fault(Some(wechat_fault(name)));
        let started = Instant::now();
        let r = server.login(&sim.mint_code("alice")).await;
        assert_reply_code(&r, 503, "WECHAT_UNAVAILABLE");
        assert!(started.elapsed() < Duration::from_secs(5), "{name}");
        let code = sim.mint_phone_code("13800138000");
        let r = server
            .call(
                "POST",
                "/phone",
                Some(&skey),
                Some(&json!({ "code": code })),
            )
            .await;
        assert_reply_code(&r, 503, "WECHAT_UNAVAILABLE");
        sim.set_fault(None);
        let me = server.call("GET", "/me", Some(&skey), None).await;
        assert_eq!(me.status, 200, "{name}: {}", me.text);
        assert_eq!(me.body["phone"], Value::Null, "{name}: no phone saved");
        seen.insert(name);
    }
    assert_eq!(seen.len(), WECHAT_FAULTS.len());
    let again = server.login_with(&sim.mint_code("alice")).await;
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    for secret in [SECRET, skey.as_str(), again.as_str()] {
        assert!(!output.contains(secret), "{secret} in the output");
    }
}
