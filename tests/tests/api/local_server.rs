//! The local server, `wxauth-local`: the real binary on a free port, driven over real HTTP, in simulator
//! mode, against a "real" WeChat (a simulator given as `WX_API_BASE`), with the memory store, a `--data`
//! file and moto; its start-up failures, its signals, its log lines, and the README's quick start run as
//! written.

use std::time::Duration;

use serde_json::{Value, json};
use wxauth::routes::{self, AuthMode, Authorizer, ROUTES};
use wxauth_local::dev::DEV_ROUTES;
use wxauth_local::settings::SIMULATOR_APPID;
use wxauth_local::simulator::{Fault, Simulator};
use wxauth_tests::dynamo;
use wxauth_tests::env::{APPID, SECRET};
use wxauth_tests::local::{LocalServer, Reply, remove, request_lines, temp_path};

/// A gateway answer: exactly `{"message": ..}`.
fn assert_gateway(r: &Reply, status: u16, message: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body, json!({ "message": message }), "{}", r.text);
}

/// A function's error answer.
fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"]["code"], code, "{}", r.text);
    assert!(r.body["error"]["message"].is_string(), "{}", r.text);
}

fn assert_absent(output: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(s.len() >= 8, "{s:?} is too short to check");
        assert!(
            !output.contains(s),
            "{s:?} reached the server's output:\n{output}"
        );
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A method that no route of the table has on this path.
fn other_method(path: &str) -> &'static str {
    ["DELETE", "PATCH", "PUT", "GET", "POST"]
        .into_iter()
        .find(|m| routes::find(m, path).is_none())
        .expect("a method without route")
}

#[tokio::test]
async fn simulator_mode_serves_the_whole_flow() {
    let server = LocalServer::start(&[], &[]).await;
    let banner = server.output();
    assert!(banner.contains("simulator mode"), "{banner}");
    assert!(banner.contains(SIMULATOR_APPID), "{banner}");
    assert!(banner.contains("in memory"), "{banner}");
    assert!(
        banner.contains(&format!("curl -s -X POST {}/dev/code", server.url)),
        "{banner}"
    );
    for route in routes::served(AuthMode::Skey) {
        assert!(
            banner.contains(route.path),
            "{} missing:\n{banner}",
            route.path
        );
    }
    for (_, path, _, _) in DEV_ROUTES {
        assert!(banner.contains(path), "{path} missing:\n{banner}");
    }

    // The simulator's openids depend on the appid and the user name only.
    let reference = Simulator::new(SIMULATOR_APPID, "unused");
    let alice = reference.openid_for("alice");

    let skey = server.login_as("alice").await;
    assert_eq!(skey.len(), 43);
    assert!(
        skey.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );

    let me = server.call("GET", "/me", Some(&skey), None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["openid"], alice);
    assert!(
        me.body["unionid"]
            .as_str()
            .is_some_and(|u| u.starts_with('u'))
    );
    assert_eq!(me.body["user"], Value::Null);
    assert_eq!(
        me.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(me.headers["cache-control"], "no-store");
    assert!(me.headers.contains_key("apigw-requestid"));

    let data = server
        .call("POST", "/dev/userinfo", Some(&skey), None)
        .await;
    assert_eq!(data.status, 200, "{}", data.text);
    for field in ["rawData", "signature", "encryptedData", "iv"] {
        assert!(data.body[field].is_string(), "{field}: {}", data.text);
    }
    // Today's anonymous user info: no openId in it, nothing of it saved.
    let info = server
        .call("POST", "/userinfo", Some(&skey), Some(&data.body))
        .await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(info.body["user"]["nickName"], "微信用户");
    assert!(info.body["user"].get("openId").is_none(), "{}", info.text);
    let me = server.call("GET", "/me", Some(&skey), None).await;
    assert_eq!(me.body["user"], Value::Null, "{}", me.text);
    // The full profile of earlier years, on request.
    let legacy = server
        .call(
            "POST",
            "/dev/userinfo",
            Some(&skey),
            Some(&json!({"legacy": true})),
        )
        .await;
    let info = server
        .call("POST", "/userinfo", Some(&skey), Some(&legacy.body))
        .await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(info.body["user"]["openId"], alice);
    assert_eq!(info.body["user"]["nickName"], "alice");
    let me = server.call("GET", "/me", Some(&skey), None).await;
    assert_eq!(me.body["user"]["nickName"], "alice", "{}", me.text);

    // Another login of the same name: the same openid, a second live session.
    let again = server.login_as("alice").await;
    assert_ne!(again, skey);
    let me2 = server.call("GET", "/me", Some(&again), None).await;
    assert_eq!(me2.body["openid"], alice);
    assert_eq!(
        server.call("GET", "/me", Some(&skey), None).await.status,
        200
    );
    let bob = server.login_as("bob").await;
    let me3 = server.call("GET", "/me", Some(&bob), None).await;
    assert_eq!(me3.body["openid"], reference.openid_for("bob"));

    // POST /dev/code without a body is the user "dev".
    let r = server.send("POST", "/dev/code", &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let dev = server
        .login_with(r.body["code"].as_str().expect("code"))
        .await;
    let me4 = server.call("GET", "/me", Some(&dev), None).await;
    assert_eq!(me4.body["openid"], reference.openid_for("dev"));

    // A phone code; POST /phone takes it once the route exists.
    let phone = server
        .call(
            "POST",
            "/dev/phone-code",
            None,
            Some(&json!({"phoneNumber": "13800138000"})),
        )
        .await;
    assert_eq!(phone.status, 200, "{}", phone.text);
    let phone_code = phone.body["code"].as_str().expect("code").to_string();
    if routes::find("POST", "/phone").is_some() {
        let r = server
            .call(
                "POST",
                "/phone",
                Some(&skey),
                Some(&json!({ "code": phone_code })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["phone"]["purePhoneNumber"], "13800138000");
        let me = server.call("GET", "/me", Some(&skey), None).await;
        assert_eq!(
            me.body["phone"]["purePhoneNumber"], "13800138000",
            "{}",
            me.text
        );
    }

    let (status, output) = server.stop().await;
    assert!(status.success(), "{status:?}\n{output}");
    assert!(output.contains("SIGTERM: stopping"), "{output}");
    assert!(output.trim_end().ends_with("stopped"), "{output}");
    assert_absent(&output, &[&skey, &again, &bob, &dev]);
}

#[tokio::test]
async fn gateway_answers_like_api_gateway() {
    let server = LocalServer::start(&[], &[]).await;
    let unknown = wxauth::crypto::generate_skey().expect("rng");

    for route in ROUTES {
        let wrong = other_method(route.path);
        assert_gateway(
            &server.call(wrong, route.path, None, None).await,
            404,
            "Not Found",
        );
        if !route.served_in(AuthMode::Skey) {
            // Routes of jwt mode only do not exist in skey mode.
            assert_gateway(
                &server.call(route.method, route.path, None, None).await,
                404,
                "Not Found",
            );
            continue;
        }
        if route.authorizer(AuthMode::Skey) == Authorizer::None {
            continue;
        }
        let body = (route.method != "GET").then(|| json!({}));
        let none = server
            .call(route.method, route.path, None, body.as_ref())
            .await;
        assert_gateway(&none, 401, "Unauthorized");
        assert!(none.headers.contains_key("apigw-requestid"));
        let blank = server
            .send(route.method, route.path, &[("x-wx-skey", " ")], None)
            .await;
        assert_gateway(&blank, 401, "Unauthorized");
        for bad in ["not-a-session", unknown.as_str()] {
            let denied = server
                .call(route.method, route.path, Some(bad), body.as_ref())
                .await;
            assert_gateway(&denied, 403, "Forbidden");
        }
    }
    for path in ["/", "/nothing", "/me/", "/login/x", "/dev"] {
        assert_gateway(
            &server.call("GET", path, None, None).await,
            404,
            "Not Found",
        );
    }
    // The header name is case-insensitive, as in API Gateway.
    let skey = server.login_as("carol").await;
    let r = server
        .send("GET", "/me", &[("X-WX-SKEY", skey.as_str())], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // POST /login and WeChat's errors, through the simulator.
    let code = server.dev_code("carol").await;
    assert_eq!(server.login(&code).await.status, 200);
    assert_error(&server.login(&code).await, 400, "CODE_USED");
    for (special, status, error) in [
        ("invalid-code", 400, "INVALID_CODE"),
        ("blocked-user", 403, "USER_BLOCKED"),
        ("rate-limited", 429, "RATE_LIMITED"),
        ("system-busy", 503, "WECHAT_BUSY"),
        ("never-minted-code", 400, "INVALID_CODE"),
    ] {
        assert_error(&server.login(special).await, status, error);
    }

    // Bodies: what the function refuses, and what the gateway refuses.
    for body in [&b"{"[..], b"", b"[]", br#"{"code":""}"#, br#"{"code":12}"#] {
        let r = server
            .send("POST", "/login", &[], Some(body.to_vec()))
            .await;
        assert_error(&r, 400, "BAD_REQUEST");
    }
    let r = server
        .send("POST", "/login", &[], Some(vec![b'{', 0xff, b'}']))
        .await;
    assert_error(&r, 400, "BAD_REQUEST");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("UTF-8")),
        "the non-UTF-8 body reached the function intact: {}",
        r.text
    );
    let big = |n: usize| format!(r#"{{"code":"{}"}}"#, "a".repeat(n)).into_bytes();
    let r = server
        .send("POST", "/login", &[], Some(big(70 * 1024)))
        .await;
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    let r = server
        .send("POST", "/login", &[], Some(big(5 * 1024 * 1024)))
        .await;
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    // 9 MiB: within API Gateway's 10 MB, but an event over Lambda's 6 MB: the function never runs.
    let r = server
        .send("POST", "/login", &[], Some(big(9 * 1024 * 1024)))
        .await;
    assert_gateway(&r, 413, "Request Too Long");
    let r = server
        .send("POST", "/login", &[], Some(big(10 * 1024 * 1024)))
        .await;
    assert_gateway(&r, 413, "Request Entity Too Large");

    // POST /userinfo: the function's own checks behind the authorizer.
    let data = server
        .call("POST", "/dev/userinfo", Some(&skey), None)
        .await
        .body;
    let mut forged = data.clone();
    forged["signature"] = json!("0".repeat(40));
    assert_error(
        &server
            .call("POST", "/userinfo", Some(&skey), Some(&forged))
            .await,
        400,
        "INVALID_SIGNATURE",
    );
    let mut short_iv = data.clone();
    short_iv["iv"] = json!("AAAA");
    assert_error(
        &server
            .call("POST", "/userinfo", Some(&skey), Some(&short_iv))
            .await,
        400,
        "BAD_REQUEST",
    );
    // Data made for another user's session_key does not open with this one.
    let dave = server.login_as("dave").await;
    let daves = server
        .call("POST", "/dev/userinfo", Some(&dave), None)
        .await
        .body;
    let mut unsigned = daves.clone();
    if let Some(o) = unsigned.as_object_mut() {
        o.remove("rawData");
        o.remove("signature");
    }
    assert_error(
        &server
            .call("POST", "/userinfo", Some(&skey), Some(&unsigned))
            .await,
        400,
        "DECRYPT_FAILED",
    );

    // The dev routes' own errors.
    assert_error(
        &server.call("POST", "/dev/userinfo", None, None).await,
        401,
        "SESSION_EXPIRED",
    );
    assert_error(
        &server
            .call("POST", "/dev/userinfo", Some(&unknown), None)
            .await,
        401,
        "SESSION_EXPIRED",
    );
    let r = server
        .send("POST", "/dev/code", &[], Some(b"[1]".to_vec()))
        .await;
    assert_error(&r, 400, "BAD_REQUEST");
    let r = server
        .call(
            "POST",
            "/dev/phone-code",
            None,
            Some(&json!({"phoneNumber": "call me"})),
        )
        .await;
    assert_error(&r, 400, "BAD_REQUEST");
    for (method, path, _, _) in DEV_ROUTES {
        let other = if *method == "POST" { "GET" } else { "POST" };
        assert_gateway(
            &server.call(other, path, None, None).await,
            404,
            "Not Found",
        );
    }

    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    assert_absent(&output, &[&skey, &dave, &unknown]);
}

#[tokio::test]
async fn each_request_is_logged_in_one_line() {
    let server = LocalServer::start(&[], &[]).await;
    let code = server.dev_code("erin").await;
    let skey = server.login_with(&code).await;
    assert_eq!(
        server.call("GET", "/me", Some(&skey), None).await.status,
        200
    );
    assert_eq!(server.call("GET", "/me", None, None).await.status, 401);
    assert_eq!(
        server
            .call("GET", "/me", Some("not-a-session"), None)
            .await
            .status,
        403
    );
    assert_eq!(server.login(&code).await.status, 400);
    let secret_query = "token=QUERYSECRET0123456789";
    assert_eq!(
        server
            .call("GET", &format!("/nothing?{secret_query}"), None, None)
            .await
            .status,
        404
    );
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");

    let lines: Vec<(String, String, u16, String)> = request_lines(&output);
    let expected = [
        ("POST", "/dev/code", 200, ""),
        ("POST", "/login", 200, ""),
        ("GET", "/me", 200, ""),
        ("GET", "/me", 401, "gateway: no X-WX-Skey"),
        ("GET", "/me", 403, "gateway: authorizer denied"),
        ("POST", "/login", 400, "CODE_USED"),
        ("GET", "/nothing", 404, "no route"),
    ];
    assert_eq!(lines.len(), expected.len(), "{output}");
    for (got, want) in lines.iter().zip(expected) {
        assert_eq!(
            (got.0.as_str(), got.1.as_str(), got.2, got.3.as_str()),
            want,
            "{output}"
        );
    }
    // Only the banner, the request lines and the stop messages: nothing per request but its line.
    let other: Vec<&str> = output
        .lines()
        .filter(|l| l.contains(" INFO ") || l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    assert_eq!(other.len(), expected.len(), "{output}");
    assert_absent(&output, &[&skey, &code, "QUERYSECRET0123456789"]);
    assert!(!output.to_lowercase().contains("x-wx-skey:"), "{output}");
}

#[tokio::test]
async fn real_wechat_mode_uses_wx_api_base() {
    let sim = Simulator::new(APPID, SECRET);
    let url = sim.spawn().await.expect("simulator");
    let server = LocalServer::with_wechat(&url, &[("RUST_LOG", "debug")]).await;
    let banner = server.output();
    assert!(banner.contains(&format!("WeChat API {url}")), "{banner}");
    assert!(!banner.contains("simulator mode"), "{banner}");
    assert!(!banner.contains("/dev/code"), "{banner}");

    // No dev routes outside simulator mode.
    for (method, path, _, _) in DEV_ROUTES {
        let r = server.call(method, path, None, Some(&json!({}))).await;
        assert_gateway(&r, 404, "Not Found");
    }

    let code = sim.mint_code("bob");
    let skey = server.login_with(&code).await;
    assert_eq!(sim.calls("jscode2session"), 1);
    let openid = sim.openid_for("bob");
    let me = server.call("GET", "/me", Some(&skey), None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["openid"], openid);
    let data =
        serde_json::to_value(sim.legacy_user_data(&openid).expect("user data")).expect("json");
    let info = server
        .call("POST", "/userinfo", Some(&skey), Some(&data))
        .await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(info.body["user"]["openId"], openid);
    assert_error(&server.login(&code).await, 400, "CODE_USED");

    sim.set_fault(Some(Fault::Status(502)));
    assert_error(
        &server.login(&sim.mint_code("bob")).await,
        503,
        "WECHAT_UNAVAILABLE",
    );
    sim.set_fault(Some(Fault::Html));
    assert_error(
        &server.login(&sim.mint_code("bob")).await,
        503,
        "WECHAT_UNAVAILABLE",
    );
    sim.set_fault(None);
    let second = server.login_with(&sim.mint_code("bob")).await;
    let session_key = sim
        .user(&openid)
        .and_then(|u| u.session_key)
        .expect("session_key");

    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    assert_absent(&output, &[SECRET, &skey, &second, &session_key]);

    // A wrong secret: WeChat's 40125 is MISCONFIGURED, and the secret is not printed.
    let wrong = "wrong-app-secret-4711";
    let env = [
        ("WX_APPID", APPID),
        ("WX_SECRET", wrong),
        ("WX_API_BASE", url.as_str()),
    ];
    let server = LocalServer::start(&[], &env).await;
    assert_error(
        &server.login(&sim.mint_code("bob")).await,
        500,
        "MISCONFIGURED",
    );
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    assert!(output.contains("MISCONFIGURED"), "{output}");
    assert_absent(&output, &[wrong]);
}

#[tokio::test]
async fn data_file_keeps_sessions_across_restarts() {
    let path = temp_path("store.json");
    let file = path.to_string_lossy().into_owned();
    let server = LocalServer::start(&["--data", &file], &[]).await;
    assert!(
        server.output().contains(&format!("file {file}")),
        "{}",
        server.output()
    );
    let skey = server.login_as("frank").await;
    let openid = server.call("GET", "/me", Some(&skey), None).await.body["openid"].clone();
    assert!(openid.is_string());
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");

    let server = LocalServer::start(&["--data", &file], &[]).await;
    let me = server.call("GET", "/me", Some(&skey), None).await;
    assert_eq!(
        me.status, 200,
        "the session survived the restart: {}",
        me.text
    );
    assert_eq!(me.body["openid"], openid);
    // The new simulator does not know frank's session_key until he logs in again.
    let r = server
        .call("POST", "/dev/userinfo", Some(&skey), None)
        .await;
    assert_error(&r, 400, "BAD_REQUEST");
    let fresh = server.login_as("frank").await;
    let data = server
        .call("POST", "/dev/userinfo", Some(&fresh), None)
        .await;
    assert_eq!(data.status, 200, "{}", data.text);
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");

    let stored = std::fs::read_to_string(&path).expect("store file");
    assert!(stored.contains(&wxauth::crypto::skey_hash(&skey)));
    assert_absent(&stored, &[&skey, &fresh]);
    remove(&path);

    // A file that is not a store: a clear error, exit code 1.
    let bad = temp_path("not-a-store.json");
    std::fs::write(&bad, "this is not JSON").expect("write");
    let bad_file = bad.to_string_lossy().into_owned();
    let (status, output) = LocalServer::run_to_exit(&["--data", &bad_file], &[]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("--data"), "{output}");
    assert!(output.contains(&bad_file), "{output}");
    remove(&bad);
}

#[tokio::test]
async fn avatars_over_http_kept_next_to_the_data_file() {
    let path = temp_path("avatars.json");
    let file = path.to_string_lossy().into_owned();
    let server = LocalServer::start(&["--data", &file], &[]).await;
    assert!(
        server
            .output()
            .contains(&format!("avatars folder {file}.avatars")),
        "{}",
        server.output()
    );
    let skey = server.login_as("alice").await;
    let sample = server.send("GET", "/dev/avatar.png", &[], None).await;
    assert_eq!(sample.status, 200);
    assert_eq!(sample.headers["content-type"], "image/png");
    let r = server
        .upload(&skey, wxauth_tests::uploads::avatar_form(&sample.bytes))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // An http URL on the server's own origin (the local server has no TLS).
    let url = r.body["user"]["avatarUrl"]
        .as_str()
        .expect("url")
        .to_string();
    assert!(
        url.starts_with(&format!("{}/avatars/", server.url)),
        "{url}"
    );
    let avatar_path = url.strip_prefix(&server.url).expect("own URL").to_string();
    let image = server.send("GET", &avatar_path, &[], None).await;
    assert_eq!(image.status, 200);
    assert_eq!(image.bytes, sample.bytes);
    assert_eq!(image.headers["x-content-type-options"], "nosniff");
    // PUT /profile accepts the URLs the server issued, even over http; no other http URL.
    let r = server
        .call(
            "PUT",
            "/profile",
            Some(&skey),
            Some(&json!({ "avatarUrl": url })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let elsewhere = url.replace("127.0.0.1", "localhost");
    let r = server
        .call(
            "PUT",
            "/profile",
            Some(&skey),
            Some(&json!({ "avatarUrl": elsewhere })),
        )
        .await;
    assert_error(&r, 400, "INVALID_PROFILE");
    // Kept in the folder: served again after a restart.
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    let server = LocalServer::start(&["--data", &file], &[]).await;
    let again = server.send("GET", &avatar_path, &[], None).await;
    assert_eq!((again.status, again.bytes), (200, sample.bytes.clone()));
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    assert_absent(&output, &[&skey]);
    remove(&path);
    let _ = std::fs::remove_dir_all(format!("{file}.avatars"));
}

#[tokio::test]
async fn dynamodb_store_with_create_table() {
    let client = dynamo::client();
    let table = format!(
        "wxauth-local-{}",
        wxauth::crypto::random_id()
            .expect("rng")
            .to_lowercase()
            .replace(['-', '_'], "x")
    );
    let endpoint = dynamo::endpoint();
    let env = dynamo::process_env(&table, &endpoint);

    // No table and no --create-table: refused at start-up.
    let (status, output) = LocalServer::run_to_exit(&[], &env).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("does not exist"), "{output}");
    assert!(output.contains("--create-table"), "{output}");

    let server = LocalServer::start(&["--create-table"], &env).await;
    let banner = server.output();
    assert!(
        banner.contains(&format!("DynamoDB table {table} at {}", dynamo::endpoint())),
        "{banner}"
    );
    assert!(banner.contains("(created now)"), "{banner}");
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the table exists");
    let indexes: Vec<&str> = described
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.index_name())
        .collect();
    assert_eq!(indexes, [wxauth::store::schema::OWNER_INDEX]);

    let skey = server.login_as("grace").await;
    let me = server.call("GET", "/me", Some(&skey), None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    let data = server
        .call("POST", "/dev/userinfo", Some(&skey), None)
        .await;
    let info = server
        .call("POST", "/userinfo", Some(&skey), Some(&data.body))
        .await;
    assert_eq!(info.status, 200, "{}", info.text);
    let items = format!("{:?}", dynamo::scan_all(&client, &table).await);
    assert!(items.contains(&wxauth::crypto::skey_hash(&skey)), "{items}");
    assert!(!items.contains(&skey), "the skey itself is never stored");
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");

    // Restart on the same table: the session is still there.
    let server = LocalServer::start(&["--create-table"], &env).await;
    assert!(
        server.output().contains("(already there)"),
        "{}",
        server.output()
    );
    let me = server.call("GET", "/me", Some(&skey), None).await;
    assert_eq!(me.status, 200, "{}", me.text);

    // The store goes away: the authorizer fails closed (503 here, 500 on AWS), the function says so.
    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .expect("delete table");
    let r = server.call("GET", "/me", Some(&skey), None).await;
    assert_gateway(&r, 503, "Service Unavailable");
    let r = server.login(&server.dev_code("grace").await).await;
    assert_error(&r, 503, "STORE_UNAVAILABLE");
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    assert!(
        request_lines(&output)
            .iter()
            .any(|l| l.2 == 503 && l.3 == "gateway: authorizer failed"),
        "{output}"
    );
    assert_absent(&output, &[&skey]);
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (status, output) = LocalServer::run_to_exit(&["--listen", &addr], &[]).await;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains(&format!("cannot listen on {addr}")),
        "{output}"
    );
    assert!(output.contains("already in use"), "{output}");
    assert!(output.contains("--listen"), "{output}");
    drop(taken);
}

type Args = Vec<&'static str>;
type Env = Vec<(&'static str, &'static str)>;

#[tokio::test]
async fn an_invalid_configuration_is_a_clear_error() {
    let secret = "an-app-secret-value-42";
    let cases: Vec<(Args, Env, &str)> = vec![
        (vec![], vec![("WX_SECRET", secret)], "WX_APPID"),
        (
            vec![],
            vec![("SESSION_TTL_SECONDS", "abc")],
            "SESSION_TTL_SECONDS",
        ),
        (
            vec![],
            vec![("SESSION_IDLE_SECONDS", "1")],
            "SESSION_IDLE_SECONDS",
        ),
        (
            vec![],
            vec![
                ("WX_APPID", APPID),
                ("WX_SECRET", secret),
                ("WX_API_BASE", "ftp://x"),
            ],
            "WX_API_BASE",
        ),
        (vec!["--create-table"], vec![], "SESSION_TABLE"),
        (
            vec!["--data", "/tmp/x.json"],
            vec![("SESSION_TABLE", "t")],
            "--data",
        ),
    ];
    for (args, env, mentions) in cases {
        let (status, output) = LocalServer::run_to_exit(&args, &env).await;
        assert_eq!(status.code(), Some(1), "{args:?} {env:?}:\n{output}");
        assert!(output.contains("invalid configuration"), "{output}");
        assert!(output.contains(mentions), "{mentions}:\n{output}");
        assert_absent(&output, &[secret]);
    }
}

#[tokio::test]
async fn signals_stop_the_server_cleanly() {
    for signal in ["TERM", "INT"] {
        let mut server = LocalServer::start(&[], &[]).await;
        let _ = server.login_as("henry").await;
        server.signal(signal);
        let status = server
            .wait_exit(Duration::from_secs(15))
            .await
            .expect("exits after the signal");
        let output = server.output();
        assert_eq!(status.code(), Some(0), "SIG{signal}:\n{output}");
        assert!(
            output.contains(&format!("SIG{signal}: stopping")),
            "{output}"
        );
        assert!(output.trim_end().ends_with("stopped"), "{output}");
    }
}

#[tokio::test]
async fn a_request_in_flight_finishes_before_the_stop() {
    let sim = Simulator::new(APPID, SECRET);
    let url = sim.spawn().await.expect("simulator");
    let mut server = LocalServer::with_wechat(&url, &[]).await;
    sim.set_fault(Some(Fault::Delay(Duration::from_millis(1500))));
    let code = sim.mint_code("ivan");
    let (url, http) = (
        server.url.clone(),
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
    );
    let in_flight = tokio::spawn(async move {
        let resp = http
            .post(format!("{url}/login"))
            .json(&json!({ "code": code }))
            .send()
            .await
            .expect("answered");
        resp.status().as_u16()
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.signal("TERM");
    assert_eq!(in_flight.await.expect("task"), 200, "{}", server.output());
    let status = server
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("exits");
    assert_eq!(status.code(), Some(0), "{}", server.output());
}

/// Whether `text` matches `pattern`, where `…` stands for any text.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let (first, rest) = parts.split_first().expect("split gives one part");
    let Some(mut tail) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return tail.is_empty();
    };
    for part in middle {
        match tail.find(part) {
            Some(i) => tail = &tail[i + part.len()..],
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last)
}

/// The fenced blocks between the `<!-- {name}:start -->` and `<!-- {name}:end -->` markers of
/// README.md: `(info string, content)`.
fn readme_blocks(name: &str) -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = readme
        .find(&format!("<!-- {name}:start -->"))
        .expect("start marker");
    let end = readme
        .find(&format!("<!-- {name}:end -->"))
        .expect("end marker");
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in readme[start..end].lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.trim().to_string(), String::new())),
            (Some(_), Some(_)) => blocks.extend(current.take()),
            (Some((_, text)), None) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(current.is_none(), "unclosed block in the quick start");
    blocks
}

#[test]
fn glob_matches() {
    assert!(glob("a…c", "abbbc"));
    assert!(glob("a…c", "ac"));
    assert!(!glob("a…c", "abd"));
    assert!(glob("{\"x\":\"…\"}", "{\"x\":\"123\"}"));
    assert!(glob("abc", "abc"));
    assert!(!glob("abc", "abcd"));
    assert!(glob("…b…", "abc"));
    assert!(!glob("a…a", "a"));
}

#[tokio::test]
async fn readme_quick_start_runs_as_written() {
    run_readme_block("quickstart", true).await;
}

#[tokio::test]
async fn readme_several_mini_programs_run_as_written() {
    run_readme_block("apps", false).await;
}

#[tokio::test]
async fn readme_jwt_mode_runs_as_written() {
    run_readme_block("jwt", true).await;
}

/// Runs a README block: its first `sh` block starts the server (`cargo run -p wxauth-local` and its
/// options), the other `sh` blocks run in bash against it, and the `text` blocks are what they must
/// print (`…` standing for what changes from run to run). `one_line_per_curl`: the script has no
/// loops, so the server logs exactly one request line per `curl` in it.
async fn run_readme_block(name: &str, one_line_per_curl: bool) {
    let blocks = readme_blocks(name);
    let (first, rest) = blocks.split_first().expect("a block");
    assert_eq!(first.0, "sh", "the block begins with the server's command");
    let command = first.1.trim();
    let args: Vec<&str> = match command.strip_prefix("cargo run -p wxauth-local") {
        Some("") => Vec::new(),
        Some(more) => more
            .trim()
            .strip_prefix("--")
            .expect("options after --")
            .split_whitespace()
            .collect(),
        None => panic!("{name}: the block begins with `cargo run -p wxauth-local`: {command}"),
    };
    let script: String = rest
        .iter()
        .filter(|(info, _)| info == "sh")
        .map(|(_, text)| text.as_str())
        .collect();
    let expected: Vec<String> = rest
        .iter()
        .filter(|(info, _)| info == "text")
        .flat_map(|(_, text)| text.lines().map(str::to_string))
        .collect();
    assert!(script.contains("http://127.0.0.1:3000"), "{script}");
    assert!(!expected.is_empty(), "documented output");
    for command in ["curl", "sed", "bash", "sha256sum", "mktemp"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {command}")])
            .output()
            .expect("sh")
            .status
            .success();
        assert!(found, "the README test needs {command} on PATH");
    }

    // The binary `cargo run -p wxauth-local` runs, with the block's options, on a free port.
    let server = LocalServer::start(&args, &[]).await;
    let script = script.replace("http://127.0.0.1:3000", &server.url);
    let home = temp_path("home");
    std::fs::create_dir_all(&home).expect("home");
    let out = tokio::process::Command::new("bash")
        .args(["-e", "-u", "-o", "pipefail", "-c", &script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &home)
        .output()
        .await
        .expect("bash runs");
    let _ = std::fs::remove_dir_all(&home);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the quick start failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.is_empty(),
        "the quick start wrote to stderr:\n{stderr}"
    );
    let got: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "documented:\n{}\nprinted:\n{stdout}",
        expected.join("\n")
    );
    for (want, line) in expected.iter().zip(&got) {
        assert!(glob(want, line), "documented:\n{want}\nprinted:\n{line}");
    }
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    if one_line_per_curl {
        assert_eq!(
            request_lines(&output).len(),
            script.matches("curl ").count(),
            "one log line per curl:\n{output}"
        );
    }
}

/// The server's resident memory, in bytes (Linux).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// Issue 13 (6): no client can hold the local server open forever or make it buffer what it will
/// refuse: half-sent headers are cut after the header timeout, unfinished bodies are read no further
/// than the route's own limit, and the `--data` file is its owner's only.
#[tokio::test]
async fn slow_and_unfinished_requests_hold_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data = temp_path("hardened.json");
    let data_arg = data.to_str().expect("utf-8").to_string();
    let server = LocalServer::start(&["--data", &data_arg], &[]).await;
    let addr = server.url.trim_start_matches("http://").to_string();
    let before = rss(server.pid());

    // 30 bodies announced as 9 MiB, 1 MiB of each sent, never finished.
    let chunk = vec![b'a'; 1024 * 1024];
    let mut open = Vec::new();
    for _ in 0..30 {
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let head = format!(
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            9 * 1024 * 1024
        );
        s.write_all(head.as_bytes()).await.expect("head");
        let _ = s.write_all(&chunk).await;
        open.push(s);
    }
    // 50 requests whose headers never end.
    let mut half = Vec::new();
    for _ in 0..50 {
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        s.write_all(b"GET /me HTTP/1.1\r\nHost: x\r\nX-WX-Skey: ")
            .await
            .expect("half");
        half.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = rss(server.pid()).saturating_sub(before);
    assert!(
        grown < 40 * 1024 * 1024,
        "30 unfinished bodies made the server grow by {} MiB",
        grown / (1024 * 1024)
    );
    // The server still serves everyone else.
    let code = http_client()
        .post(format!("{}/dev/code", server.url))
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(code.status(), 200);
    // Half-sent headers are cut once the header timeout passes.
    tokio::time::sleep(wxauth_local::server::HEADER_TIMEOUT + Duration::from_secs(1)).await;
    for mut s in half {
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
            .await
            .expect("the server ended the connection");
        let n = read.unwrap_or(0);
        assert!(
            n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    drop(open);

    // The data file holds session keys: its owner's only.
    let code: serde_json::Value = http_client()
        .post(format!("{}/dev/code", server.url))
        .body("{}")
        .send()
        .await
        .expect("code")
        .json()
        .await
        .expect("json");
    let login = http_client()
        .post(format!("{}/login", server.url))
        .json(&serde_json::json!({"code": code["code"]}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data)
            .expect("data file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    remove(&data);
}

#[tokio::test]
async fn dev_metrics_count_what_the_functions_recorded_and_the_exit_sums_them_up() {
    let server = LocalServer::start(&[], &[]).await;
    let skey = server.login_as("alice").await;
    let refused = server.login("invalid-code").await;
    assert_eq!(refused.status, 400);
    let me = server.call("GET", "/me", Some(&skey), None).await;
    assert_eq!(me.status, 200);
    let metrics = server.call("GET", "/dev/metrics", None, None).await;
    assert_eq!(metrics.status, 200, "{}", metrics.text);
    let samples = |name: &str, dim: &str, value: &str| {
        metrics.body[name]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["dimensions"][dim] == value)
            .map(|e| e["samples"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!(samples("Logins", "Outcome", "OK"), 1, "{}", metrics.body);
    assert_eq!(samples("Logins", "Outcome", "INVALID_CODE"), 1);
    assert_eq!(samples("AuthorizerDecisions", "Decision", "Allow"), 1);
    assert_eq!(samples("Requests", "Function", "userinfo"), 1);
    assert!(samples("WechatCalls", "Api", "jscode2session") >= 2);
    let (_, output) = server.stop().await;
    assert!(output.contains("metric: Logins Outcome=OK 1"), "{output}");
}
