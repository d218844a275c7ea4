//! Logout, profile (the nickname's characters and WeChat's content check), phone numbers (bound to the
//! caller's openid), the shared access_token and stale session_key detection, through real events, the
//! WeChat simulator over HTTP, and both stores.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use wxauth::access_token::{AccessTokens, REFRESH_MARGIN};
use wxauth::clock::ManualClock;
use wxauth::config::ProfileOptions;
use wxauth::crypto;
use wxauth::store::Store;
use wxauth::wechat::{WechatClient, http_client};
use wxauth_local::simulator::{Fault, REVIEW_WORD, RISKY_WORD, TokenPolicy, VISIT_WINDOW};

use wxauth_tests::counting::CountingStore;
use wxauth_tests::env::{APPID, BACKENDS, Backend, Env, SECRET, START};
use wxauth_tests::events::{Req, code};
use wxauth_tests::logs;

#[tokio::test]
async fn logout_ends_this_session_at_once() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let phone_a = env.login_as("alice").await;
        let phone_b = env.login_as("alice").await;
        let (status, out) = env.call(Req::new("POST", "/logout").skey(&phone_a)).await;
        assert_eq!(
            (status, out.clone()),
            (200, json!({"revoked": 1})),
            "{backend:?}"
        );
        // The gateway now denies it, and so do the functions' own checks.
        assert_eq!(env.call(Req::new("GET", "/me").skey(&phone_a)).await.0, 403);
        let data =
            serde_json::to_value(env.sim.user_data(&env.sim.openid_for("alice")).expect("d"))
                .expect("j");
        let ctx = json!({"openid": env.sim.openid_for("alice"), "session_id": "cached"});
        let req = Req::new("POST", "/userinfo")
            .skey(&phone_a)
            .json(&data)
            .authorized(ctx);
        let (status, out) =
            wxauth_tests::events::parts(env.userinfo.handle(req.into_request()).await);
        assert_eq!(
            (status, code(&out)),
            (401, "SESSION_EXPIRED"),
            "cached Allow, but the function refuses"
        );
        // The other device is untouched.
        assert_eq!(env.call(Req::new("GET", "/me").skey(&phone_b)).await.0, 200);
        // Logging out twice: the gateway denies the dead skey.
        assert_eq!(
            env.call(Req::new("POST", "/logout").skey(&phone_a)).await.0,
            403
        );
        // An explicit {"all": false} is the same as no body.
        let (status, out) = env
            .call(
                Req::new("POST", "/logout")
                    .skey(&phone_b)
                    .json(&json!({"all": false})),
            )
            .await;
        assert_eq!((status, out), (200, json!({"revoked": 1})));
    }
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_only() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skeys: Vec<String> = futures_join(&env, "alice", 3).await;
        let bob = env.login_as("bob").await;
        let (status, out) = env
            .call(
                Req::new("POST", "/logout")
                    .skey(&skeys[0])
                    .json(&json!({"all": true})),
            )
            .await;
        assert_eq!((status, out), (200, json!({"revoked": 3})), "{backend:?}");
        for s in &skeys {
            assert_eq!(env.call(Req::new("GET", "/me").skey(s)).await.0, 403);
        }
        assert_eq!(
            env.call(Req::new("GET", "/me").skey(&bob)).await.0,
            200,
            "other users untouched"
        );
        // The user item (profile, phone) survives a logout.
        assert!(
            env.store
                .get_user(&env.sim.openid_for("alice"))
                .await
                .expect("ok")
                .is_some()
        );
    }
}

async fn futures_join(env: &Env, user: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(env.login_as(user).await);
    }
    out
}

#[tokio::test]
async fn logout_refuses_bad_bodies() {
    let env = Env::new(Backend::Memory).await;
    let skey = env.login_as("alice").await;
    for body in ["{", "[]", r#"{"all":"yes"}"#, "null"] {
        let (status, out) = env
            .call(Req::new("POST", "/logout").skey(&skey).text(body))
            .await;
        assert_eq!((status, code(&out)), (400, "BAD_REQUEST"), "{body}");
    }
    assert_eq!(
        env.call(Req::new("GET", "/me").skey(&skey)).await.0,
        200,
        "a refused logout ends nothing"
    );
}

#[tokio::test]
async fn profile_is_validated_saved_and_shown_by_me() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let put = |body: Value| Req::new("PUT", "/profile").skey(&skey).json(&body);
        let (status, out) = env
            .call(put(
                json!({"nickName": "  小明 Ming ", "avatarUrl": "https://example.com/a.png"}),
            ))
            .await;
        assert_eq!(status, 200, "{backend:?}: {out}");
        assert_eq!(
            out["user"],
            json!({"nickName": "小明 Ming", "avatarUrl": "https://example.com/a.png"})
        );
        // A partial update keeps the rest.
        let (status, out) = env.call(put(json!({"nickName": "Ming"}))).await;
        assert_eq!(status, 200);
        assert_eq!(out["user"]["avatarUrl"], "https://example.com/a.png");
        let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        assert_eq!(
            me["user"],
            json!({"nickName": "Ming", "avatarUrl": "https://example.com/a.png"})
        );

        for (body, want) in [
            (json!({}), "INVALID_PROFILE"),
            (json!({"nickName": ""}), "INVALID_PROFILE"),
            (json!({"nickName": "   "}), "INVALID_PROFILE"),
            (json!({"nickName": "x".repeat(65)}), "INVALID_PROFILE"),
            (json!({"nickName": "bell\u{7}"}), "INVALID_PROFILE"),
            (
                json!({"avatarUrl": "http://example.com/a.png"}),
                "INVALID_PROFILE",
            ),
            (
                json!({"avatarUrl": format!("https://example.com/{}", "a".repeat(1024))}),
                "INVALID_PROFILE",
            ),
            (
                json!({"avatarUrl": "wxfile://tmp_abc.png"}),
                "INVALID_PROFILE",
            ),
            (json!({"nickName": 5}), "BAD_REQUEST"),
            (json!({"avatarUrl": ["https://e.com"]}), "BAD_REQUEST"),
        ] {
            let (status, out) = env.call(put(body.clone())).await;
            assert_eq!(code(&out), want, "{body}: {out}");
            assert_eq!(status, 400);
        }
        let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        assert_eq!(
            me["user"]["nickName"], "Ming",
            "refused updates changed nothing"
        );
    }
}

#[tokio::test]
async fn nicknames_people_can_see() {
    let env = Env::new(Backend::Memory).await;
    let skey = env.login_as("alice").await;
    let put = |nick: &str| {
        Req::new("PUT", "/profile")
            .skey(&skey)
            .json(&json!({ "nickName": nick }))
    };
    // Emoji sequences keep their zero-width joiner; CJK, accents and symbols are fine.
    for nick in ["👩\u{200D}💻 Ming", "小明", "Zoë ✨", "🏳\u{FE0F}\u{200D}🌈"] {
        let (status, out) = env.call(put(nick)).await;
        assert_eq!(
            (status, out["user"]["nickName"].as_str()),
            (200, Some(nick)),
            "{nick:?}"
        );
    }
    // Invisible characters that reorder or hide text are refused: bidi overrides and isolates,
    // zero-width spaces and non-joiners, the byte order mark, soft hyphens, tags, C0/C1 controls.
    for nick in [
        "evil\u{202E}gnp.exe",
        "a\u{2066}b\u{2069}",
        "zero\u{200B}width",
        "non\u{200C}joiner",
        "\u{FEFF}bom",
        "soft\u{AD}hyphen",
        "mark\u{200E}",
        "tag\u{E0041}",
        "nul\u{0}x",
        "c1\u{9B}x",
    ] {
        let (status, out) = env.call(put(nick)).await;
        assert_eq!(
            (status, code(&out)),
            (400, "INVALID_PROFILE"),
            "{nick:?}: {out}"
        );
    }
    // The check is off by default: WeChat was never asked.
    assert_eq!(env.sim.calls("msg_sec_check"), 0);
}

#[tokio::test]
async fn the_nickname_check_asks_wechat_when_enabled() {
    let options = ProfileOptions {
        nickname_check: true,
        ..ProfileOptions::default()
    };
    for backend in BACKENDS {
        let env = Env::with_options(backend, &options).await;
        let skey = env.login_as("alice").await;
        let openid = env.sim.openid_for("alice");
        let put = |body: Value| Req::new("PUT", "/profile").skey(&skey).json(&body);
        let (status, out) = env.call(put(json!({"nickName": "Alice"}))).await;
        assert_eq!(status, 200, "{backend:?}: {out}");
        let asked = env.sim.received("msg_sec_check");
        assert_eq!(
            asked.last(),
            Some(&json!({"content": "Alice", "version": 2, "scene": 1, "openid": openid})),
            "version 2, the profile scene, the caller's openid"
        );
        // review: accepted; risky: refused, nothing saved.
        let (status, out) = env
            .call(put(json!({ "nickName": format!("{REVIEW_WORD} me") })))
            .await;
        assert_eq!(status, 200, "{out}");
        let (status, out) = env
            .call(put(json!({ "nickName": format!("very {RISKY_WORD}"), "avatarUrl": "https://e.com/a.png" })))
            .await;
        assert_eq!((status, code(&out)), (400, "NICKNAME_REJECTED"), "{out}");
        let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        assert_eq!(me["user"]["nickName"], format!("{REVIEW_WORD} me"));
        assert!(
            me["user"].get("avatarUrl").is_none(),
            "a refused update saves nothing"
        );
        // An avatar alone is not checked.
        let calls = env.sim.calls("msg_sec_check");
        let (status, _) = env
            .call(put(json!({"avatarUrl": "https://e.com/a.png"})))
            .await;
        assert_eq!(status, 200);
        assert_eq!(env.sim.calls("msg_sec_check"), calls);
        // The check unavailable: 503, nothing saved unchecked.
        for fault in [Fault::Status(502), Fault::Html, Fault::Close] {
            env.sim.set_fault(Some(fault.clone()));
            let (status, out) = env.call(put(json!({"nickName": "Later"}))).await;
            assert_eq!(
                (status, code(&out)),
                (503, "WECHAT_UNAVAILABLE"),
                "{fault:?}: {out}"
            );
        }
        env.sim.set_fault(None);
        // WeChat refuses to judge a user not seen for 2 hours (61010): unavailable too.
        env.sim
            .set_last_visit(&openid, VISIT_WINDOW + Duration::from_secs(60));
        let (status, out) = env.call(put(json!({"nickName": "Later"}))).await;
        assert_eq!((status, code(&out)), (503, "WECHAT_UNAVAILABLE"), "{out}");
        let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        assert_eq!(me["user"]["nickName"], format!("{REVIEW_WORD} me"));
        // A fresh login is a visit.
        let skey = env.login_as("alice").await;
        let (status, _) = env
            .call(
                Req::new("PUT", "/profile")
                    .skey(&skey)
                    .json(&json!({"nickName": "Later"})),
            )
            .await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn a_phone_code_is_bound_to_the_caller() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let alice = env.login_as("alice").await;
        let bob = env.login_as("bob").await;
        let phone = |skey: &str, code: &str| {
            Req::new("POST", "/phone")
                .skey(skey)
                .json(&json!({ "code": code }))
        };
        // The request to WeChat carries the caller's openid with the code.
        let alices_code = env
            .sim
            .mint_phone_code_for(&env.sim.openid_for("alice"), "13800138000");
        let (status, out) = env.call(phone(&alice, &alices_code)).await;
        assert_eq!(status, 200, "{backend:?}: {out}");
        assert_eq!(
            env.sim.received("getuserphonenumber").last(),
            Some(&json!({"code": alices_code, "openid": env.sim.openid_for("alice")}))
        );
        // A code from alice's phone redeemed by bob: WeChat refuses it, as an invalid code.
        let alices_other = env
            .sim
            .mint_phone_code_for(&env.sim.openid_for("alice"), "13900139000");
        let (status, out) = env.call(phone(&bob, &alices_other)).await;
        assert_eq!((status, code(&out)), (400, "INVALID_CODE"), "{out}");
        let (_, me) = env.call(Req::new("GET", "/me").skey(&bob)).await;
        assert_eq!(me["phone"], Value::Null, "nothing saved for bob");
    }
}

#[tokio::test]
async fn phone_by_code_with_a_shared_access_token() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let phone = |code: &str| {
            Req::new("POST", "/phone")
                .skey(&skey)
                .json(&json!({"code": code}))
        };
        let (status, out) = env
            .call(phone(&env.sim.mint_phone_code("13800138000")))
            .await;
        assert_eq!(status, 200, "{backend:?}: {out}");
        assert_eq!(
            out,
            json!({"phone": {"phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86"}}),
            "countryCode arrives as a number and leaves as a string"
        );
        let (status, out) = env
            .call(phone(&env.sim.mint_phone_code("+1 4155550100")))
            .await;
        assert_eq!(status, 200);
        assert_eq!(out["phone"]["countryCode"], "1");
        assert_eq!(out["phone"]["phoneNumber"], "+14155550100");
        let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        assert_eq!(
            me["phone"]["purePhoneNumber"], "4155550100",
            "saved on the user item"
        );
        assert_eq!(env.sim.calls("stable_token"), 1, "one token for both calls");

        // Errors map like login's.
        let used = env.sim.mint_phone_code("13900139000");
        assert_eq!(env.call(phone(&used)).await.0, 200);
        for (c, status, want) in [
            (used.as_str(), 400, "CODE_USED"),
            ("unknown-code", 400, "INVALID_CODE"),
        ] {
            let (got, out) = env.call(phone(c)).await;
            assert_eq!((got, code(&out)), (status, want), "{out}");
        }
        for body in [
            json!({}),
            json!({"code": ""}),
            json!({"code": 7}),
            json!({"encryptedData": "abc"}),
        ] {
            let (got, out) = env
                .call(Req::new("POST", "/phone").skey(&skey).json(&body))
                .await;
            assert_eq!((got, code(&out)), (400, "BAD_REQUEST"), "{body}");
        }
        env.sim.set_fault(Some(Fault::Status(502)));
        let (got, out) = env
            .call(phone(&env.sim.mint_phone_code("13800138000")))
            .await;
        assert_eq!((got, code(&out)), (503, "WECHAT_UNAVAILABLE"));
        env.sim.set_fault(None);
        let token = env
            .store
            .get_token(APPID)
            .await
            .expect("ok")
            .and_then(|r| r.token)
            .expect("token cached");
        logs::assert_clean(&[token.token.expose(), SECRET]);
        // Issue 13 (5): the table holds the access_token sealed, never in clear.
        let stored = token.token.expose();
        assert!(stored.starts_with("v1."), "{backend:?}: sealed");
        let issued = env.tokens.get().await.expect("the token in use");
        assert!(
            !stored.contains(issued.expose()),
            "{backend:?}: not in clear"
        );
        logs::assert_clean(&[issued.expose()]);
    }
}

/// Issue 13 (5): a token stored in clear (by an earlier release) or sealed under another app secret
/// is not used: it is replaced by a refresh, then sealed.
#[tokio::test]
async fn a_token_that_does_not_open_is_replaced() {
    let env = Env::new(Backend::Memory).await;
    let skey = env.login_as("alice").await;
    let plain = wxauth::store::CachedToken {
        token: wxauth::secret::Secret::new("PLAIN_TOKEN_OF_AN_EARLIER_RELEASE"),
        expires_at: START + 7200,
        fetched_at: START,
    };
    assert!(
        env.store
            .lease_token(APPID, "earlier", START, START + 8)
            .await
            .expect("lease")
    );
    assert!(
        env.store
            .put_token(APPID, "earlier", &plain)
            .await
            .expect("put")
    );
    let code = env.sim.mint_phone_code("13800138000");
    let (status, out) = env
        .call(
            Req::new("POST", "/phone")
                .skey(&skey)
                .json(&json!({"code": code})),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        env.sim.calls("stable_token"),
        1,
        "refreshed instead of used"
    );
    let stored = env
        .store
        .get_token(APPID)
        .await
        .expect("ok")
        .and_then(|r| r.token)
        .expect("token");
    assert!(stored.token.expose().starts_with("v1."));
}

#[tokio::test]
async fn rejected_token_is_refreshed_once_and_retried_once() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let phone = |code: String| {
            Req::new("POST", "/phone")
                .skey(&skey)
                .json(&json!({"code": code}))
        };
        assert_eq!(
            env.call(phone(env.sim.mint_phone_code("13800138000")))
                .await
                .0,
            200
        );
        // Someone force-refreshed: our cached token is dead (40001).
        env.sim.revoke_tokens();
        let before = (
            env.sim.calls("stable_token"),
            env.sim.calls("getuserphonenumber"),
        );
        let (status, out) = env
            .call(phone(env.sim.mint_phone_code("13800138000")))
            .await;
        assert_eq!(status, 200, "{backend:?}: {out}");
        let after = (
            env.sim.calls("stable_token"),
            env.sim.calls("getuserphonenumber"),
        );
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (1, 2),
            "one refresh, one retry"
        );
        // The shared cache holds the new token.
        let cached = env
            .store
            .get_token(APPID)
            .await
            .expect("ok")
            .and_then(|r| r.token)
            .expect("token");
        assert_eq!(cached.fetched_at, START);
    }
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire() {
    let env = Env::new(Backend::Memory).await;
    env.sim.set_token_policy(TokenPolicy {
        lifetime: Duration::from_secs(7200),
        renew_before: Duration::from_secs(300),
    });
    let t1 = env.tokens.get().await.expect("token");
    assert_eq!(env.tokens.get().await.expect("token"), t1, "cached");
    assert_eq!(env.sim.calls("stable_token"), 1);
    // Still well within its life: no call.
    env.clock.advance(7200 - REFRESH_MARGIN - 1);
    assert_eq!(env.tokens.get().await.expect("token"), t1);
    assert_eq!(env.sim.calls("stable_token"), 1);
    // Inside the margin: refreshed.
    env.clock.advance(2);
    let _ = env.tokens.get().await.expect("token");
    assert_eq!(
        env.sim.calls("stable_token"),
        2,
        "renewed a few minutes before expires_in"
    );
}

#[tokio::test]
async fn concurrent_cold_starts_share_one_refresh() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        // WeChat is slow: both instances see no token while the first refresh is in flight.
        env.sim
            .set_fault(Some(Fault::Delay(Duration::from_millis(400))));
        let make = || {
            let wechat = WechatClient::new(
                http_client(Duration::from_secs(5)).expect("c"),
                &env.wx_url,
                APPID,
                wxauth::secret::Secret::new(SECRET),
            );
            Arc::new(AccessTokens::new(
                wechat,
                env.store.clone(),
                Arc::new(ManualClock::new(START)),
            ))
        };
        let instances: Vec<Arc<AccessTokens>> = (0..4).map(|_| make()).collect();
        let handles: Vec<_> = instances
            .iter()
            .map(|t| {
                let t = t.clone();
                tokio::spawn(async move { t.get().await })
            })
            .collect();
        let mut tokens = Vec::new();
        for h in handles {
            tokens.push(h.await.expect("task").expect("token"));
        }
        assert!(
            tokens.windows(2).all(|w| w[0] == w[1]),
            "{backend:?}: every instance got the same token"
        );
        assert_eq!(
            env.sim.calls("stable_token"),
            1,
            "{backend:?}: exactly one refresh"
        );
        env.sim.set_fault(None);
    }
}

#[tokio::test]
async fn a_token_stored_just_before_our_lease_is_used_not_refreshed() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let make = |store: Arc<dyn Store>| {
            let wechat = WechatClient::new(
                http_client(Duration::from_secs(5)).expect("c"),
                &env.wx_url,
                APPID,
                wxauth::secret::Secret::new(SECRET),
            );
            AccessTokens::new(wechat, store, Arc::new(ManualClock::new(START)))
        };
        // Instance A refreshes and stores its token, which ends its lease.
        let first = make(env.store.clone()).get().await.expect("token");
        assert_eq!(env.sim.calls("stable_token"), 1);
        // Instance B read the table just before A stored it: it saw no token, and A's lease is gone,
        // so B's lease succeeds. It must find A's token, not call WeChat again.
        let counting = Arc::new(CountingStore::new(env.store.clone()));
        counting.stale_token_reads.store(1, Ordering::SeqCst);
        let second = make(counting.clone()).get().await.expect("token");
        assert_eq!(second, first, "{backend:?}: A's token is shared");
        assert_eq!(
            env.sim.calls("stable_token"),
            1,
            "{backend:?}: no second refresh"
        );
        assert!(
            counting.called().contains(&"release_token_lease"),
            "{backend:?}: B gave its lease back"
        );
        // The lease is free again: a third instance that needs a refresh can take it at once.
        let record = env
            .store
            .get_token(APPID)
            .await
            .expect("read")
            .expect("rec");
        assert_eq!(record.lease_owner, None, "{backend:?}");
    }
}

#[tokio::test]
async fn legacy_encrypted_phone_is_decrypted_and_checked() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let key = env.session_key_of("alice");
        let seal = |v: Value| {
            let (enc, iv) = env.sim.seal(&key, &v.to_string()).expect("seal");
            json!({"encryptedData": enc, "iv": iv})
        };
        let good = seal(
            json!({"phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
                               "watermark": {"appid": APPID, "timestamp": 1}}),
        );
        let (status, out) = env
            .call(Req::new("POST", "/phone").skey(&skey).json(&good))
            .await;
        assert_eq!(status, 200, "{backend:?}: {out}");
        assert_eq!(out["phone"]["countryCode"], "86");
        let bad_cases = [
            seal(
                json!({"phoneNumber": "1", "purePhoneNumber": "1", "countryCode": 86, "watermark": {"appid": "wxother", "timestamp": 1}}),
            ),
            seal(json!({"phoneNumber": "1", "purePhoneNumber": "1", "countryCode": 86})),
            seal(json!({"watermark": {"appid": APPID, "timestamp": 1}})),
            json!({"encryptedData": crypto::base64_encode(&[3u8; 32]), "iv": good["iv"]}),
        ];
        let mut answers = Vec::new();
        for body in bad_cases {
            let (status, out) = env
                .call(Req::new("POST", "/phone").skey(&skey).json(&body))
                .await;
            assert_eq!(
                (status, code(&out)),
                (400, "DECRYPT_FAILED"),
                "{backend:?}: {out}"
            );
            answers.push(out);
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]));
    }
}

#[tokio::test]
async fn stale_session_key_is_reported_and_the_check_is_rate_limited() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let openid = env.sim.openid_for("alice");
        let data = serde_json::to_value(env.sim.user_data(&openid).expect("d")).expect("j");
        // WeChat forgets the key (as it does after a while): decryption fails, checksession says 87009.
        env.sim.invalidate_session_key(&openid);
        // The encrypted part alone (a signature made with the old key would fail first).
        let wrong = json!({"encryptedData": data["encryptedData"], "iv": crypto::base64_encode(&[0u8; 16])});
        let (status, out) = env
            .call(Req::new("POST", "/userinfo").skey(&skey).json(&wrong))
            .await;
        assert_eq!(
            (status, code(&out)),
            (401, "SESSION_KEY_EXPIRED"),
            "{backend:?}: {out}"
        );
        assert_eq!(env.sim.calls("checksession"), 1);
        // Within the minute: no second WeChat call, the plain answer.
        let (status, out) = env
            .call(Req::new("POST", "/userinfo").skey(&skey).json(&wrong))
            .await;
        assert_eq!((status, code(&out)), (400, "DECRYPT_FAILED"));
        assert_eq!(env.sim.calls("checksession"), 1, "rate-limited per session");
        env.clock.advance(61);
        let (_, out) = env
            .call(Req::new("POST", "/userinfo").skey(&skey).json(&wrong))
            .await;
        assert_eq!(code(&out), "SESSION_KEY_EXPIRED");
        assert_eq!(env.sim.calls("checksession"), 2);

        // A valid key with bad data: checksession says fine, the answer is DECRYPT_FAILED.
        let skey2 = env.login_as("alice").await;
        env.clock.advance(61);
        let (status, out) = env
            .call(Req::new("POST", "/userinfo").skey(&skey2).json(&wrong))
            .await;
        assert_eq!((status, code(&out)), (400, "DECRYPT_FAILED"));
        assert_eq!(env.sim.calls("checksession"), 3);
        // checksession down: the answer stays DECRYPT_FAILED (never a 5xx from a check).
        env.clock.advance(61);
        env.sim.set_fault(Some(Fault::Close));
        let (status, out) = env
            .call(Req::new("POST", "/userinfo").skey(&skey2).json(&wrong))
            .await;
        assert_eq!((status, code(&out)), (400, "DECRYPT_FAILED"));
        env.sim.set_fault(None);
        let key = env.session_key_of("alice");
        logs::assert_clean(&[&key, &skey, &skey2]);
    }
}

#[tokio::test]
async fn a_failed_refresh_releases_its_lease() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let phone = |code: String| {
            Req::new("POST", "/phone")
                .skey(&skey)
                .json(&json!({"code": code}))
        };
        env.sim.set_fault(Some(Fault::Status(502)));
        let (status, out) = env
            .call(phone(env.sim.mint_phone_code("13800138000")))
            .await;
        assert_eq!((status, code(&out)), (503, "WECHAT_UNAVAILABLE"));
        env.sim.set_fault(None);
        // The clock is frozen: a lease left behind would make this wait for the lease to lapse.
        let started = std::time::Instant::now();
        let (status, _) = env
            .call(phone(env.sim.mint_phone_code("13800138000")))
            .await;
        assert_eq!(status, 200, "{backend:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{backend:?}: waited {:?}",
            started.elapsed()
        );
    }
}
