//! `POST /login` through real API Gateway v2 events, a fake WeChat over real HTTP, and both stores.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use wxauth::crypto;
use wxauth::handlers::login::LoginHandler;
use wxauth::secret::Secret;
use wxauth::sessions::Sessions;
use wxauth::store::dynamo::DynamoStore;
use wxauth::wechat::{WechatClient, http_client};
use wxauth_local::simulator::Fault;
use wxauth_tests::dead::DeadPort;
use wxauth_tests::dynamo;
use wxauth_tests::env::{APPID, BACKENDS, Backend, Env, SECRET, START, TTL};
use wxauth_tests::events::{Req, code, parts};
use wxauth_tests::logs;

/// How many items the store holds (sessions + users), for "nothing was written" checks.
async fn item_count(env: &Env) -> usize {
    match &env.table {
        Some((client, table)) => dynamo::scan_all(client, table).await.len(),
        None => {
            let mut n = 0;
            for user in ["alice", "bob", "carol"] {
                if env
                    .store
                    .get_user(&env.sim.openid_for(user))
                    .await
                    .expect("ok")
                    .is_some()
                {
                    n += 1;
                }
            }
            n
        }
    }
}

#[tokio::test]
async fn login_returns_an_skey_and_stores_only_its_hash() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let (status, body) = env.call_login(&env.sim.mint_code("alice")).await;
        assert_eq!(status, 200, "{backend:?}: {body}");
        let obj = body.as_object().expect("object");
        assert_eq!(obj.len(), 3, "only skey, expires_in and uid: {body}");
        assert!(
            body["uid"].as_str().is_some_and(|u| u.len() >= 16),
            "{body}"
        );
        assert_eq!(body["expires_in"], TTL);
        let skey = body["skey"].as_str().expect("skey");
        assert_eq!(skey.len(), 43);
        assert!(crypto::parse_skey(skey).is_some());

        let openid = env.sim.openid_for("alice");
        let session_key = env.session_key_of("alice");
        let stored = env
            .store
            .get_session(&crypto::skey_hash(skey))
            .await
            .expect("ok")
            .expect("session");
        assert_eq!(stored.openid, openid);
        assert_eq!(stored.created_at, START);
        assert_eq!(stored.last_seen, START);
        assert_eq!(stored.expires_at, START + TTL);
        assert!(stored.unionid.is_some());
        let user = env
            .store
            .get_user(&openid)
            .await
            .expect("ok")
            .expect("user item created");
        assert_eq!(user.session_key.expose(), session_key);
        assert_eq!(user.created_at, START);

        if let Some((client, table)) = &env.table {
            let items = dynamo::scan_all(client, table).await;
            assert_eq!(
                items.len(),
                6,
                "one session, one user, its new account, its unionid's mapping, and the two \
                 rate-limit windows it was counted in (per IP, per user)"
            );
            let dump = format!("{items:?}");
            assert!(!dump.contains(skey), "the skey itself is stored");
            let session = items
                .iter()
                .find(|i| i["pk"].as_s().is_ok_and(|pk| pk.starts_with("SESSION#")))
                .expect("session item");
            assert_eq!(
                session["pk"].as_s().expect("s"),
                &format!("SESSION#{}", crypto::skey_hash(skey))
            );
            assert_eq!(
                session["expires_at"].as_n().expect("TTL is a Number"),
                &(START + TTL).to_string()
            );
            assert_eq!(session["owner"].as_s().expect("owner"), &openid);
            // Issue 13 (5): the session_key is kept once, on the user item, never on sessions.
            assert!(!session.contains_key("session_key"), "{session:?}");
            let on_sessions = items
                .iter()
                .filter(|i| format!("{i:?}").contains(&session_key))
                .count();
            assert_eq!(on_sessions, 1, "only the user item holds the session_key");
        }
        assert!(!body.to_string().contains(&session_key));
        assert!(!body.to_string().contains(&openid));
        logs::assert_clean(&[SECRET, &session_key, skey]);
    }
}

#[tokio::test]
async fn every_login_is_a_new_session_and_the_newest_session_key_wins() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let first = env.login_as("alice").await;
        let key1 = env.session_key_of("alice");
        env.clock.advance(60);
        let second = env.login_as("alice").await;
        let key2 = env.session_key_of("alice");
        assert_ne!(first, second);
        assert_ne!(
            key1, key2,
            "the simulator issues a fresh session_key per login"
        );
        let openid = env.sim.openid_for("alice");
        let user = env
            .store
            .get_user(&openid)
            .await
            .expect("ok")
            .expect("user");
        assert_eq!(user.session_key.expose(), key2, "{backend:?}");
        assert_eq!(user.created_at, START, "first login time kept");
        assert_eq!(user.updated_at, START + 60);
        // A new login does not end the other device's session.
        for skey in [&first, &second] {
            let s = env.sessions.resolve(Some(skey)).await.expect("store ok");
            assert!(s.is_ok(), "{backend:?}: both sessions stay valid");
        }
        logs::assert_clean(&[&key1, &key2, &first, &second]);
    }
}

#[tokio::test]
async fn wechat_errors_map_to_documented_answers_and_write_nothing() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let used = env.sim.mint_code("bob");
        assert_eq!(env.call_login(&used).await.0, 200);
        let before = item_count(&env).await;
        let cases = [
            ("invalid-code", 400, "INVALID_CODE"),
            ("never-minted-code", 400, "INVALID_CODE"),
            (used.as_str(), 400, "CODE_USED"),
            ("blocked-user", 403, "USER_BLOCKED"),
            ("rate-limited", 429, "RATE_LIMITED"),
            ("system-busy", 503, "WECHAT_BUSY"),
        ];
        for (c, status, want) in cases {
            let (got, body) = env.call_login(c).await;
            assert_eq!(
                (got, code(&body)),
                (status, want),
                "{backend:?} {c}: {body}"
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        }
        assert_eq!(
            item_count(&env).await,
            before,
            "{backend:?}: failed logins wrote nothing"
        );
    }
}

async fn handler_with(env: &Env, appid: &str, secret: &str) -> LoginHandler {
    let wechat = WechatClient::new(
        http_client(Duration::from_secs(5)).expect("client"),
        &env.wx_url,
        appid,
        Secret::new(secret),
    );
    wxauth_tests::env::login_handler(wechat, &env.sessions)
}

#[tokio::test]
async fn wrong_appid_or_secret_is_misconfigured() {
    let env = Env::new(Backend::Memory).await;
    for (appid, secret) in [
        ("wx0000000000000000", SECRET),
        (APPID, "not-the-secret-at-all"),
    ] {
        let handler = handler_with(&env, appid, secret).await;
        let req = Req::new("POST", "/login").json(&json!({"code": env.sim.mint_code("alice")}));
        let (status, body) = parts(handler.handle(req.into_request()).await);
        assert_eq!((status, code(&body)), (500, "MISCONFIGURED"), "{body}");
        assert!(!body.to_string().contains(secret));
    }
    let logs = logs::text();
    assert!(
        logs.contains("MISCONFIGURED"),
        "misconfiguration is logged loudly"
    );
    logs::assert_clean(&[SECRET, "not-the-secret-at-all"]);
}

#[tokio::test]
async fn wechat_faults_are_unavailable_and_never_retried() {
    let env = Env::with_timeout(Backend::Memory, Duration::from_millis(300)).await;
    let faults = [
        (Fault::Delay(Duration::from_secs(2)), "jscode2session"),
        (Fault::Close, "closed"),
        (Fault::Status(502), "jscode2session"),
        (Fault::Status(500), "jscode2session"),
        (Fault::Html, "jscode2session"),
    ];
    for (fault, counter) in faults {
        env.sim.set_fault(Some(fault.clone()));
        let before = env.sim.calls(counter);
        let (status, body) = env.call_login(&env.sim.mint_code("alice")).await;
        assert_eq!(
            (status, code(&body)),
            (503, "WECHAT_UNAVAILABLE"),
            "{fault:?}: {body}"
        );
        // Give a (wrong) retry the time to happen before counting.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            env.sim.calls(counter) - before,
            1,
            "{fault:?}: exactly one call, no retry"
        );
    }
    env.sim.set_fault(None);
    assert_eq!(
        env.call_login(&env.sim.mint_code("alice")).await.0,
        200,
        "recovers"
    );
    assert_eq!(item_count(&env).await, 1, "only the last login wrote");
    logs::assert_clean(&[SECRET]);
    assert!(
        !logs::text().contains("jscode2session?"),
        "no WeChat URL in logs"
    );
}

#[tokio::test]
async fn unreachable_wechat_is_unavailable() {
    let env = Env::new(Backend::Memory).await;
    // A port nothing listens on.
    let dead = DeadPort::new();
    let wechat = WechatClient::new(
        http_client(Duration::from_secs(2)).expect("client"),
        &dead.url(),
        APPID,
        Secret::new(SECRET),
    );
    let handler = wxauth_tests::env::login_handler(wechat, &env.sessions);
    let req = Req::new("POST", "/login").json(&json!({"code": "abc"}));
    let (status, body) = parts(handler.handle(req.into_request()).await);
    assert_eq!((status, code(&body)), (503, "WECHAT_UNAVAILABLE"));
}

#[tokio::test]
async fn store_down_is_store_unavailable() {
    let env = Env::new(Backend::Memory).await;
    let down = DeadPort::new();
    let dead = DynamoStore::new(dynamo::client_for(&down.url()), "t");
    let sessions = Sessions::new(Arc::new(dead), env.clock.clone(), TTL, 3600);
    let wechat = WechatClient::new(
        http_client(Duration::from_secs(2)).expect("c"),
        &env.wx_url,
        APPID,
        Secret::new(SECRET),
    );
    let handler = wxauth_tests::env::login_handler(wechat, &sessions);
    let req = Req::new("POST", "/login").json(&json!({"code": env.sim.mint_code("alice")}));
    let (status, body) = parts(handler.handle(req.into_request()).await);
    assert_eq!((status, code(&body)), (503, "STORE_UNAVAILABLE"), "{body}");
    assert!(!body.to_string().contains("skey"));
}

#[tokio::test]
async fn malformed_requests_are_refused() {
    let env = Env::new(Backend::Memory).await;
    let big = format!(r#"{{"code":"{}"}}"#, "a".repeat(70 * 1024));
    let cases: Vec<(Req, u16, &str)> = vec![
        (Req::new("POST", "/login"), 400, "BAD_REQUEST"),
        (Req::new("POST", "/login").text(""), 400, "BAD_REQUEST"),
        (Req::new("POST", "/login").text("{"), 400, "BAD_REQUEST"),
        (Req::new("POST", "/login").text("null"), 400, "BAD_REQUEST"),
        (
            Req::new("POST", "/login").text(r#"["code"]"#),
            400,
            "BAD_REQUEST",
        ),
        (
            Req::new("POST", "/login").json(&json!({})),
            400,
            "BAD_REQUEST",
        ),
        (
            Req::new("POST", "/login").json(&json!({"code": 123})),
            400,
            "BAD_REQUEST",
        ),
        (
            Req::new("POST", "/login").json(&json!({"code": null})),
            400,
            "BAD_REQUEST",
        ),
        (
            Req::new("POST", "/login").json(&json!({"code": ""})),
            400,
            "BAD_REQUEST",
        ),
        (
            Req::new("POST", "/login").json(&json!({"code": "   "})),
            400,
            "BAD_REQUEST",
        ),
        (
            Req::new("POST", "/login").json(&json!({"code": "a b"})),
            400,
            "BAD_REQUEST",
        ),
        (
            Req::new("POST", "/login").json(&json!({"code": "x".repeat(300)})),
            400,
            "BAD_REQUEST",
        ),
        (
            Req::new("POST", "/login").raw(vec![b'{', 0xff, 0xfe, b'}']),
            400,
            "BAD_REQUEST",
        ),
        (
            Req::new("POST", "/login").text(&big),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (Req::new("GET", "/login"), 405, "METHOD_NOT_ALLOWED"),
        (
            Req::new("POST", "/nowhere").json(&json!({"code": "x"})),
            404,
            "NOT_FOUND",
        ),
    ];
    let before = env.sim.calls("jscode2session");
    for (req, status, want) in cases {
        let desc = format!(
            "{} {} {:?}",
            req.method,
            req.path,
            req.body.as_ref().map(|b| b.len())
        );
        let (got, body) = parts(env.login.handle(req.into_request()).await);
        assert_eq!((got, code(&body)), (status, want), "{desc}: {body}");
    }
    assert_eq!(
        env.sim.calls("jscode2session"),
        before,
        "refused before calling WeChat"
    );
    // Extra fields are ignored.
    let req =
        Req::new("POST", "/login").json(&json!({"code": env.sim.mint_code("alice"), "extra": [1]}));
    assert_eq!(parts(env.login.handle(req.into_request()).await).0, 200);
}

#[tokio::test]
async fn quirky_answers_are_parsed_leniently() {
    let env = Env::new(Backend::Memory).await;
    let cases = [
        (
            r#"{"errcode":"40029","errmsg":"invalid code, rid: 1"}"#,
            400,
            "INVALID_CODE",
        ),
        (
            r#"{"errcode":"-1","errmsg":"system error, rid: 2"}"#,
            503,
            "WECHAT_BUSY",
        ),
        (
            r#"{"errcode":40163.0,"errmsg":"code been used"}"#,
            400,
            "CODE_USED",
        ),
        (
            r#"{"errcode":61234,"errmsg":"something new"}"#,
            502,
            "WECHAT_ERROR",
        ),
        (r#"{"errcode":0,"errmsg":"ok"}"#, 503, "WECHAT_UNAVAILABLE"),
        (
            r#"{"openid":"","session_key":"k"}"#,
            503,
            "WECHAT_UNAVAILABLE",
        ),
        ("", 503, "WECHAT_UNAVAILABLE"),
    ];
    for (body, status, want) in cases {
        env.sim.set_fault(Some(Fault::Body(body.to_string())));
        let (got, answer) = env.call_login("anycode").await;
        assert_eq!((got, code(&answer)), (status, want), "{body}: {answer}");
    }
    // Success with errcode 0 and without unionid.
    env.sim.set_fault(Some(Fault::Body(
        r#"{"session_key":"tiihtNczf5v6AKRyjwEUhQ==","openid":"oQuirk","errcode":0,"errmsg":"ok"}"#
            .into(),
    )));
    let (status, body) = env.call_login("anycode").await;
    assert_eq!(status, 200, "{body}");
    let s = env
        .sessions
        .resolve(body["skey"].as_str())
        .await
        .expect("ok")
        .expect("valid");
    assert_eq!((s.openid.as_str(), s.unionid.as_deref()), ("oQuirk", None));
}

#[tokio::test]
async fn absent_unionid_is_accepted() {
    // The simulator without unionid answers like an app without an Open Platform binding.
    let sim = wxauth_local::simulator::Simulator::without_unionid(APPID, SECRET);
    let url = sim.spawn().await.expect("sim");
    let env = Env::new(Backend::Memory).await;
    let wechat = WechatClient::new(
        http_client(Duration::from_secs(5)).expect("c"),
        &url,
        APPID,
        Secret::new(SECRET),
    );
    let handler = wxauth_tests::env::login_handler(wechat, &env.sessions);
    let req = Req::new("POST", "/login").json(&json!({"code": sim.mint_code("dave")}));
    let (status, body) = parts(handler.handle(req.into_request()).await);
    assert_eq!(status, 200, "{body}");
    let skey = body["skey"].as_str().expect("skey");
    let s = env
        .sessions
        .resolve(Some(skey))
        .await
        .expect("ok")
        .expect("valid");
    assert_eq!(s.unionid, None);
    let _: Value = body;
}

/// Issue 13 (7): when no connection to WeChat's API domain can be made at all, the same request goes
/// to its disaster-recovery domain (within the same deadline); never when the request may have reached
/// WeChat, since a code works once.
#[tokio::test]
async fn an_unreachable_wechat_domain_falls_back_but_never_resends_a_code() {
    let env = Env::new(Backend::Memory).await;
    let login_over = |base: &str, fallback: &str| {
        let wechat = WechatClient::new(
            http_client(Duration::from_secs(2)).expect("client"),
            base,
            APPID,
            Secret::new(SECRET),
        )
        .with_fallback(Some(fallback));
        wxauth_tests::env::login_handler(wechat, &env.sessions)
    };
    // No connection to the main domain: the fallback answers.
    let down = DeadPort::new();
    let handler = login_over(&down.url(), &env.wx_url);
    let before = env.sim.calls("jscode2session");
    let req = Req::new("POST", "/login").json(&json!({"code": env.sim.mint_code("alice")}));
    let (status, body) = parts(handler.handle(req.into_request()).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(env.sim.calls("jscode2session"), before + 1);

    // The main domain took the request and hung up: the code may be spent, so no second try.
    let hangs = wxauth_local::simulator::Simulator::new(APPID, SECRET);
    let hangs_url = hangs.spawn().await.expect("simulator");
    hangs.set_fault(Some(Fault::Close));
    let handler = login_over(&hangs_url, &env.wx_url);
    let before = env.sim.calls("jscode2session");
    let req = Req::new("POST", "/login").json(&json!({"code": env.sim.mint_code("bob")}));
    let (status, body) = parts(handler.handle(req.into_request()).await);
    assert_eq!((status, code(&body)), (503, "WECHAT_UNAVAILABLE"), "{body}");
    assert_eq!(
        env.sim.calls("jscode2session"),
        before,
        "the fallback was not asked"
    );
}
