//! The four deployed binaries (their real `main.rs`), run under a stand-in of the Lambda Runtime API
//! with real API Gateway events, the WeChat simulator over HTTP and moto as DynamoDB and S3.

use std::time::Duration;

use serde_json::{Value, json};
use wxauth_tests::dead::DeadPort;
use wxauth_tests::env::SECRET;
use wxauth_tests::events::{self, Req};
use wxauth_tests::runtime::{FakeRuntime, FunctionProcess, Outcome, deployed, http_answer};
use wxauth_tests::{bins, dynamo};

async fn start(name: &str, env: &[(&str, String)]) -> (FakeRuntime, FunctionProcess) {
    let runtime = FakeRuntime::start().await;
    let process = FunctionProcess::spawn(&bins::path(name), &runtime, env);
    (runtime, process)
}

#[tokio::test]
async fn login_authorizer_and_userinfo_binaries_work_together() {
    let d = deployed().await;
    let (login_rt, login) = start("login", &d.env).await;
    let (auth_rt, auth) = start("authorizer", &d.env).await;
    let (acct_rt, acct) = start("userinfo", &d.env).await;

    // POST /login
    let code = d.sim.mint_code("alice");
    let event = Req::new("POST", "/login")
        .json(&json!({"code": code}))
        .v2_event();
    let (status, body) = http_answer(&login_rt.invoke(event.clone()).await);
    assert_eq!(status, 200, "{body}\n{}", login.logs());
    let skey = body["skey"].as_str().expect("skey").to_string();
    // Same code again: CODE_USED, through the deployed binary.
    let (status, body) = http_answer(&login_rt.invoke(event).await);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("CODE_USED"))
    );

    // The authorizer, HTTP API payload 2.0.
    let outcome = auth_rt
        .invoke(events::authorizer_v2(Some(&skey), "GET", "/me"))
        .await;
    let Outcome::Response(decision) = outcome else {
        panic!("{outcome:?}\n{}", auth.logs())
    };
    assert_eq!(decision["isAuthorized"], true, "{decision}");
    let context = decision["context"].clone();
    assert_eq!(context["openid"], json!(d.sim.openid_for("alice")));
    // REST TOKEN with an unknown skey: the function fails with exactly "Unauthorized".
    let unknown = wxauth::crypto::generate_skey().expect("rng");
    match auth_rt
        .invoke(events::authorizer_rest_token(&unknown, "GET", "/me"))
        .await
    {
        Outcome::Error { error_message, .. } => assert_eq!(error_message, "Unauthorized"),
        other => panic!("expected Unauthorized, got {other:?}"),
    }

    // POST /userinfo and GET /me with the authorizer's context.
    let data = serde_json::to_value(
        d.sim
            .legacy_user_data(&d.sim.openid_for("alice"))
            .expect("data"),
    )
    .expect("json");
    let event = Req::new("POST", "/userinfo")
        .skey(&skey)
        .json(&data)
        .authorized(context.clone())
        .v2_event();
    let (status, body) = http_answer(&acct_rt.invoke(event).await);
    assert_eq!(status, 200, "{body}\n{}", acct.logs());
    assert_eq!(body["user"]["nickName"], "alice");
    let event = Req::new("GET", "/me")
        .skey(&skey)
        .authorized(context)
        .v2_event();
    let (status, me) = http_answer(&acct_rt.invoke(event).await);
    assert_eq!(
        (status, me["user"]["nickName"].as_str()),
        (200, Some("alice"))
    );

    // Logs are structured JSON lines, one per request, with no secret in them.
    let key = d
        .sim
        .user(&d.sim.openid_for("alice"))
        .and_then(|u| u.session_key)
        .expect("key");
    for (name, p) in [
        ("login", &login),
        ("authorizer", &auth),
        ("userinfo", &acct),
    ] {
        let logs = p.logs();
        assert!(!logs.is_empty(), "{name} logged nothing");
        for line in logs.lines() {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|_| panic!("{name}: not JSON: {line}"));
            // Log lines have a level; metric records (EMF) have their `_aws` metadata instead.
            assert!(
                v.get("level").is_some() || v.get("_aws").is_some(),
                "{name}: {line}"
            );
        }
        for secret in [SECRET, &skey, &key] {
            assert!(!logs.contains(secret), "{name} logged a secret");
        }
    }
    assert!(
        login.logs().contains("\"route\":\"POST /login\""),
        "{}",
        login.logs()
    );
    assert!(login.logs().contains("latency_ms"));
}

#[tokio::test]
async fn the_avatar_binary_stores_in_s3_and_serves_base64_encoded() {
    let d = deployed().await;
    let bucket = wxauth_tests::s3::fresh_bucket().await;
    let mut env = d.env.clone();
    env.retain(|(k, _)| *k != "WX_SECRET");
    env.push(("AVATAR_BUCKET", bucket.clone()));
    env.push(("AWS_ENDPOINT_URL_S3", dynamo::endpoint()));
    let (login_rt, _login) = start("login", &d.env).await;
    let (auth_rt, _auth) = start("authorizer", &d.env).await;
    let (avatar_rt, avatar) = start("avatar", &env).await;

    let event = Req::new("POST", "/login")
        .json(&json!({"code": d.sim.mint_code("alice")}))
        .v2_event();
    let (status, body) = http_answer(&login_rt.invoke(event).await);
    assert_eq!(status, 200, "{body}");
    let skey = body["skey"].as_str().expect("skey").to_string();
    let Outcome::Response(decision) = auth_rt
        .invoke(events::authorizer_v2(Some(&skey), "POST", "/avatar"))
        .await
    else {
        panic!("no decision")
    };
    let png = wxauth_local::sample::png(wxauth_local::sample::GREEN);
    let event = Req::new("POST", "/avatar")
        .skey(&skey)
        .form(wxauth_tests::uploads::avatar_form(&png))
        .authorized(decision["context"].clone())
        .v2_event();
    assert_eq!(event["isBase64Encoded"], true);
    let (status, body) = http_answer(&avatar_rt.invoke(event).await);
    assert_eq!(status, 200, "{body}\n{}", avatar.logs());
    let url = body["user"]["avatarUrl"].as_str().expect("url").to_string();
    assert!(url.starts_with("https://"), "{url}");

    // GET, public: the image comes back base64-encoded in the function's response.
    let path = &url[url.find("/avatars/").expect("path")..];
    let outcome = avatar_rt.invoke(Req::new("GET", path).v2_event()).await;
    let Outcome::Response(resp) = outcome else {
        panic!("{outcome:?}\n{}", avatar.logs())
    };
    assert_eq!(resp["statusCode"], 200, "{resp}");
    assert_eq!(resp["isBase64Encoded"], true);
    assert_eq!(resp["headers"]["content-type"], "image/png");
    assert_eq!(
        resp["headers"]["cache-control"],
        wxauth::avatars::CACHE_CONTROL
    );
    use base64::Engine as _;
    let served = base64::engine::general_purpose::STANDARD
        .decode(resp["body"].as_str().expect("body"))
        .expect("base64");
    assert_eq!(served, png);
    // A stale version: 404 JSON.
    let (status, body) = http_answer(
        &avatar_rt
            .invoke(Req::new("GET", &path.replace(".png", ".webp")).v2_event())
            .await,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    for secret in [SECRET, skey.as_str(), "AWS4-HMAC-SHA256", "Signature="] {
        assert!(
            !avatar.logs().contains(secret),
            "the avatar function logged {secret:?}"
        );
    }

    // Without AVATAR_BUCKET it stops at init, naming it.
    let mut env = d.env.clone();
    env.retain(|(k, _)| *k != "WX_SECRET");
    let (_rt, mut avatar) = start("avatar", &env).await;
    assert!(
        !avatar
            .wait_exit(Duration::from_secs(20))
            .await
            .expect("exits")
            .success()
    );
    assert!(avatar.logs().contains("AVATAR_BUCKET"), "{}", avatar.logs());
}

#[tokio::test]
async fn missing_configuration_stops_the_function_at_init_with_a_clear_message() {
    let d = deployed().await;
    let mut env = d.env.clone();
    env.retain(|(k, _)| *k != "SESSION_TABLE");
    let (rt, mut login) = start("login", &env).await;
    let status = login
        .wait_exit(Duration::from_secs(20))
        .await
        .expect("exits");
    assert!(!status.success());
    assert!(login.logs().contains("SESSION_TABLE"), "{}", login.logs());
    // ... and Lambda is told why (/runtime/init/error), not left with an exit code.
    let reported = rt.init_error().expect("init error reported");
    assert_eq!(reported["errorType"], "ConfigError", "{reported}");
    assert!(
        reported["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("SESSION_TABLE")),
        "{reported}"
    );
    // The authorizer too.
    let (rt, mut auth) = start("authorizer", &env).await;
    assert!(
        !auth
            .wait_exit(Duration::from_secs(20))
            .await
            .expect("exits")
            .success()
    );
    assert!(rt.init_error().is_some(), "{}", auth.logs());

    let mut env = d.env.clone();
    env.retain(|(k, _)| *k != "WX_SECRET");
    let (_rt, mut login) = start("login", &env).await;
    assert!(
        !login
            .wait_exit(Duration::from_secs(20))
            .await
            .expect("exits")
            .success()
    );
    assert!(
        login.logs().contains("WX_SECRET or WX_SECRET_PARAMETER"),
        "{}",
        login.logs()
    );

    // The authorizer needs no secret at all.
    let env: Vec<_> = d
        .env
        .iter()
        .filter(|(k, _)| !k.starts_with("WX_"))
        .cloned()
        .collect();
    let (rt, auth) = start("authorizer", &env).await;
    match rt.invoke(events::authorizer_v2(None, "GET", "/me")).await {
        Outcome::Response(v) => assert_eq!(v, json!({"isAuthorized": false, "context": {}})),
        other => panic!("{other:?}\n{}", auth.logs()),
    }
}

#[tokio::test]
async fn authorizer_binary_fails_closed_when_dynamodb_is_down() {
    let d = deployed().await;
    let dead = DeadPort::new();
    let mut env = d.env.clone();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL_DYNAMODB");
    env.push(("AWS_ENDPOINT_URL_DYNAMODB", dead.url()));
    let (rt, auth) = start("authorizer", &env).await;
    let skey = wxauth::crypto::generate_skey().expect("rng");
    match rt
        .invoke(events::authorizer_v2(Some(&skey), "GET", "/me"))
        .await
    {
        Outcome::Error { error_type, .. } => assert_eq!(error_type, "StoreUnavailable"),
        other => panic!("must deny with an error, got {other:?}\n{}", auth.logs()),
    }
}

/// The EMF records of a function's output: `(metric name, the record)` for every metric of each.
fn emf_records(logs: &str) -> Vec<(String, Value)> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .flat_map(|v| {
            let names: Vec<String> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["Name"].as_str().map(str::to_string))
                .collect();
            names.into_iter().map(move |n| (n, v.clone()))
        })
        .collect()
}

/// The first record of `name` whose dimension `dim` is `value`.
fn find<'a>(
    records: &'a [(String, Value)],
    name: &str,
    dim: &str,
    value: &str,
) -> Option<&'a Value> {
    records
        .iter()
        .find(|(n, r)| n == name && r[dim] == value)
        .map(|(_, r)| r)
}

#[tokio::test]
async fn the_binaries_emit_emf_metrics_whatever_the_log_level() {
    let d = deployed().await;
    let mut env = d.env.clone();
    // The template's setting: Lambda's filter at INFO (it gives lines without a level INFO), the
    // functions' own at what LogLevel says; at error no info line is logged, the metrics still are.
    env.retain(|(k, _)| *k != "RUST_LOG");
    env.push(("RUST_LOG", "error".to_string()));
    env.push(("AWS_LAMBDA_LOG_LEVEL", "INFO".to_string()));
    env.push((
        wxauth::metrics::NAMESPACE_ENV,
        "wxauth/test-stack".to_string(),
    ));
    let (login_rt, login) = start("login", &env).await;
    let (auth_rt, auth) = start("authorizer", &env).await;

    let event = |code: &str| {
        Req::new("POST", "/login")
            .json(&json!({"code": code}))
            .v2_event()
    };
    let (status, body) = http_answer(&login_rt.invoke(event(&d.sim.mint_code("alice"))).await);
    assert_eq!(status, 200, "{body}");
    let skey = body["skey"].as_str().expect("skey").to_string();
    let (status, _) = http_answer(&login_rt.invoke(event("invalid-code")).await);
    assert_eq!(status, 400);
    for skey in [skey.as_str(), "not-an-skey"] {
        auth_rt
            .invoke(events::authorizer_v2(Some(skey), "GET", "/me"))
            .await;
    }

    let records = emf_records(&login.logs());
    let ok = find(&records, "Logins", "Outcome", "OK").expect("Logins OK");
    let meta = &ok["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(meta["Namespace"], "wxauth/test-stack");
    assert_eq!(meta["Dimensions"], json!([["Outcome"]]));
    assert!(
        ok["_aws"]["Timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000)
    );
    assert!(find(&records, "Logins", "Outcome", "INVALID_CODE").is_some());
    let error = find(&records, "Errors", "Code", "INVALID_CODE").expect("Errors");
    assert_eq!(error["Function"], "login");
    assert!(find(&records, "Requests", "Function", "login").is_some());
    assert!(find(&records, "Latency", "Function", "login").is_some());
    let call = find(&records, "WechatCalls", "Result", "OK").expect("WechatCalls");
    assert_eq!(call["Api"], "jscode2session");
    assert!(find(&records, "WechatCalls", "Result", "InvalidCode").is_some());
    assert!(find(&records, "WechatLatency", "Api", "jscode2session").is_some());

    let records = emf_records(&auth.logs());
    assert!(find(&records, "AuthorizerDecisions", "Decision", "Allow").is_some());
    assert!(find(&records, "AuthorizerDecisions", "Decision", "Deny").is_some());
    assert!(find(&records, "Latency", "Function", "authorizer").is_some());

    // Every record is of the catalogue, and the info lines were filtered out.
    for p in [&login, &auth] {
        for (name, record) in emf_records(&p.logs()) {
            let metric = wxauth::metrics::Metric::named(&name).expect("a documented metric");
            for dim in metric.dimension_names() {
                assert!(record[dim].is_string(), "{name} without {dim}: {record}");
            }
        }
        assert!(!p.logs().contains("\"level\":\"INFO\""), "{}", p.logs());
        assert!(!p.logs().contains(&skey));
    }
}
