//! Issue 13 (2, 3): nothing one client can do takes the service down for everyone. Rate limits kept
//! in the table (per client IP before WeChat is asked, per openid after the exchange, per session on
//! the paid phone exchange), and blocks by the operator — through real events, the WeChat simulator
//! over HTTP and both stores.

use serde_json::{Value, json};
use wxauth::accounts::Accounts;
use wxauth::config::Protection;
use wxauth::limits::{Rule, Rules};
use wxauth_tests::env::{BACKENDS, Backend, Env};
use wxauth_tests::events::{Req, code, parts};

fn rules(login_per_ip: u32, login_per_user: u32, phone_per_session: u32) -> Rules {
    let defaults = Rules::default();
    Rules {
        login_per_ip: Rule {
            limit: login_per_ip,
            ..defaults.login_per_ip
        },
        login_per_user: Rule {
            limit: login_per_user,
            ..defaults.login_per_user
        },
        phone_per_session: Rule {
            limit: phone_per_session,
            ..defaults.phone_per_session
        },
        ..defaults
    }
}

/// `POST /login` of a simulated user, from a client behind `forwarded` (X-Forwarded-For).
async fn login_from(
    env: &Env,
    user: &str,
    forwarded: Option<&str>,
) -> (u16, Value, Option<String>) {
    let mut req = Req::new("POST", "/login").json(&json!({"code": env.sim.mint_code(user)}));
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let resp = env.login.handle(req.into_request()).await;
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (status, body) = parts(resp);
    (status, body, retry)
}

#[tokio::test]
async fn one_client_cannot_use_up_the_apps_wechat_quota() {
    for backend in BACKENDS {
        let protection = Protection {
            limits: rules(3, 100, 10),
            trusted_proxy_hops: 0,
        };
        let env = Env::protected(backend, protection).await;
        for i in 0..3 {
            let (status, body, _) = login_from(&env, &format!("u{i}"), None).await;
            assert_eq!(status, 200, "{backend:?}: {body}");
        }
        let asked = env.sim.calls("jscode2session");
        let (status, body, retry) = login_from(&env, "u9", None).await;
        assert_eq!((status, code(&body)), (429, "RATE_LIMITED"), "{body}");
        let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(
            env.sim.calls("jscode2session"),
            asked,
            "refused before WeChat is asked"
        );
        // The window passes: logins work again.
        env.clock.advance(60);
        assert_eq!(login_from(&env, "u9", None).await.0, 200);
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_counts_for_itself() {
    let protection = Protection {
        limits: rules(1, 100, 10),
        trusted_proxy_hops: 1,
    };
    let env = Env::protected(Backend::Memory, protection).await;
    // The events' source IP is the proxy's: the clients are the address before it.
    let ip = wxauth_tests::events::SOURCE_IP;
    let a = format!("198.51.100.1, {ip}");
    let b = format!("198.51.100.2, {ip}");
    assert_eq!(login_from(&env, "a", Some(&a)).await.0, 200);
    assert_eq!(login_from(&env, "b", Some(&b)).await.0, 200);
    assert_eq!(login_from(&env, "a", Some(&a)).await.0, 429);
    // Without a trusted proxy, the forwarded header is the client's own word: it changes nothing.
    let env = Env::protected(
        Backend::Memory,
        Protection {
            limits: rules(1, 100, 10),
            trusted_proxy_hops: 0,
        },
    )
    .await;
    assert_eq!(login_from(&env, "a", Some(&a)).await.0, 200);
    assert_eq!(login_from(&env, "b", Some(&b)).await.0, 429, "one address");
}

#[tokio::test]
async fn one_user_and_one_session_are_limited_too() {
    for backend in BACKENDS {
        let protection = Protection {
            limits: rules(100, 2, 1),
            trusted_proxy_hops: 0,
        };
        let env = Env::protected(backend, protection).await;
        assert_eq!(login_from(&env, "alice", None).await.0, 200);
        let (_, body, _) = login_from(&env, "alice", None).await;
        let skey = body["skey"].as_str().expect("skey").to_string();
        let (status, body, retry) = login_from(&env, "alice", None).await;
        assert_eq!((status, code(&body)), (429, "RATE_LIMITED"), "{body}");
        assert!(retry.is_some());
        assert_eq!(login_from(&env, "bob", None).await.0, 200, "another user");

        // One paid phone exchange per session in the window; the second never reaches WeChat.
        let phone = |code: String| {
            Req::new("POST", "/phone")
                .skey(&skey)
                .json(&json!({"code": code}))
        };
        let (status, out) = env
            .call(phone(env.sim.mint_phone_code("13800138000")))
            .await;
        assert_eq!(status, 200, "{out}");
        let asked = env.sim.calls("getuserphonenumber");
        let (status, out) = env
            .call(phone(env.sim.mint_phone_code("13800138000")))
            .await;
        assert_eq!((status, code(&out)), (429, "RATE_LIMITED"), "{out}");
        assert_eq!(env.sim.calls("getuserphonenumber"), asked);
    }
}

#[tokio::test]
async fn a_blocked_user_is_denied_at_once_and_cannot_log_in() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("mallory").await;
        let other = env.login_as("mallory").await;
        let bystander = env.login_as("alice").await;
        let accounts = Accounts::new(env.store.clone(), env.clock.clone());
        let openid = env.sim.openid_for("mallory");
        let report = accounts.block_openid(&openid, true).await.expect("block");
        assert!(report.found);
        assert_eq!(report.sessions_ended, 2, "{backend:?}");
        // The authorizer's one read decides: denied from the next call on.
        for s in [&skey, &other] {
            let (status, body) = env.call(Req::new("GET", "/me").skey(s)).await;
            assert_eq!((status, body["message"].as_str()), (403, Some("Forbidden")));
        }
        assert_eq!(
            env.call(Req::new("GET", "/me").skey(&bystander)).await.0,
            200
        );
        // Login refused, told apart from WeChat's own 40226.
        let (status, body) = env.call_login(&env.sim.mint_code("mallory")).await;
        assert_eq!((status, code(&body)), (403, "USER_BLOCKED"), "{body}");
        let ours = body["error"]["message"]
            .as_str()
            .expect("message")
            .to_string();
        let (status, wechat) = env.call_login("blocked-user").await;
        assert_eq!((status, code(&wechat)), (403, "USER_BLOCKED"));
        assert_ne!(wechat["error"]["message"].as_str(), Some(ours.as_str()));
        assert!(ours.contains("operator"), "{ours}");
        // Unblocked: logins work again.
        accounts
            .block_openid(&openid, false)
            .await
            .expect("unblock");
        let (status, body) = env.call_login(&env.sim.mint_code("mallory")).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn blocking_an_account_blocks_it_in_every_app() {
    const GAME: &str = "wx0000000000game01";
    for backend in BACKENDS {
        let env = Env::with_apps(backend, &[(GAME, true)]).await;
        let (_, shop) = env.login_in(wxauth_tests::env::APPID, "eve").await;
        let (_, game) = env.login_in(GAME, "eve").await;
        let uid = shop["uid"].as_str().expect("uid");
        let accounts = Accounts::new(env.store.clone(), env.clock.clone());
        let report = accounts.block_uid(uid, true).await.expect("block");
        assert_eq!(
            (report.found, report.sessions_ended),
            (true, 2),
            "{backend:?}"
        );
        for s in [&shop, &game] {
            let skey = s["skey"].as_str().expect("skey");
            assert_eq!(env.call(Req::new("GET", "/me").skey(skey)).await.0, 403);
        }
        for appid in [wxauth_tests::env::APPID, GAME] {
            let (status, body) = env.login_in(appid, "eve").await;
            assert_eq!(
                (status, code(&body)),
                (403, "USER_BLOCKED"),
                "{appid}: {body}"
            );
        }
        accounts.block_uid(uid, false).await.expect("unblock");
        assert_eq!(env.login_in(GAME, "eve").await.0, 200);
        assert!(
            !accounts
                .block_uid("no-such-uid", true)
                .await
                .expect("ok")
                .found
        );
    }
}
