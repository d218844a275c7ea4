//! `POST /userinfo` and `GET /me`: signature, decryption, watermark and openId checks, through real
//! events and both stores, with user data made by the WeChat simulator exactly as WeChat makes it:
//! today's anonymous user info (no openId) and the full profile of earlier years.

use serde_json::{Value, json};
use wxauth::crypto;
use wxauth_tests::env::{APPID, BACKENDS, Backend, Env, SECRET};
use wxauth_tests::events::{Req, code, parts};
use wxauth_tests::logs;

fn userinfo(skey: &str, body: Value) -> Req {
    Req::new("POST", "/userinfo").skey(skey).json(&body)
}

/// The user data of `user` as the mini program got it before 2021 (a full profile, with openId), as
/// a request body.
fn data_of(env: &Env, user: &str) -> Value {
    let d = env
        .sim
        .legacy_user_data(&env.sim.openid_for(user))
        .expect("user logged in");
    serde_json::to_value(d).expect("json")
}

/// The user data of `user` as `wx.getUserInfo` gives it today (anonymous, no openId).
fn todays_data_of(env: &Env, user: &str) -> Value {
    let d = env
        .sim
        .user_data(&env.sim.openid_for(user))
        .expect("user logged in");
    serde_json::to_value(d).expect("json")
}

#[tokio::test]
async fn todays_anonymous_user_info_decrypts_and_never_replaces_a_profile() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let body = todays_data_of(&env, "alice");
        let key = env.session_key_of("alice");
        let raw: Value =
            serde_json::from_str(body["rawData"].as_str().expect("raw")).expect("json");
        assert_eq!(raw["nickName"], "微信用户");
        // The encrypted part carries no openId and no unionId: it opens anyway, with the watermark's
        // appid checked and the session's own session_key.
        let plain = crypto::decrypt(
            &key,
            &crypto::decode_ciphertext(body["encryptedData"].as_str().expect("enc")).expect("b64"),
            &crypto::decode_iv(body["iv"].as_str().expect("iv")).expect("iv"),
        )
        .expect("decrypts");
        let plain: Value = serde_json::from_slice(&plain).expect("json");
        assert!(
            plain.get("openId").is_none() && plain.get("unionId").is_none(),
            "{plain}"
        );
        assert_eq!(plain["watermark"]["appid"], APPID);
        let (status, out) = env.call(userinfo(&skey, body.clone())).await;
        assert_eq!(status, 200, "{backend:?}: {out}");
        assert_eq!(out["user"]["nickName"], "微信用户");
        assert!(out["user"].get("openId").is_none() && out["user"].get("watermark").is_none());
        // Placeholders are not a profile.
        let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        assert_eq!(me["user"], Value::Null, "{me}");
        // A filled-in profile survives today's getUserInfo.
        let filled = json!({"nickName": "Alice", "avatarUrl": "https://example.com/a.png"});
        let (status, _) = env
            .call(Req::new("PUT", "/profile").skey(&skey).json(&filled))
            .await;
        assert_eq!(status, 200);
        assert_eq!(env.call(userinfo(&skey, body)).await.0, 200);
        let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        assert_eq!(me["user"], filled, "{me}");
        // Another user's data without openId does not open under this session: its key differs.
        let _bob = env.login_as("bob").await;
        let bobs = todays_data_of(&env, "bob");
        let (status, out) = env.call(userinfo(&skey, bobs)).await;
        assert_eq!((status, code(&out)), (400, "INVALID_SIGNATURE"), "{out}");
        logs::assert_clean(&[&key, &skey, SECRET]);
    }
}

#[tokio::test]
async fn decrypts_verifies_and_saves_the_profile() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let openid = env.sim.openid_for("alice");
        let body = data_of(&env, "alice");
        let (status, out) = env.call(userinfo(&skey, body.clone())).await;
        assert_eq!(status, 200, "{backend:?}: {out}");
        let user = &out["user"];
        assert_eq!(user["openId"], json!(openid));
        assert_eq!(user["nickName"], "alice");
        assert!(user["unionId"].is_string());
        assert!(user.get("watermark").is_none(), "watermark removed");

        // Without rawData and signature: decryption alone.
        let mut no_sig = body.clone();
        no_sig
            .as_object_mut()
            .expect("obj")
            .retain(|k, _| k == "encryptedData" || k == "iv");
        assert_eq!(env.call(userinfo(&skey, no_sig)).await.0, 200);

        // GET /me reads the stored profile through the authorizer context.
        let (status, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["openid"], json!(openid));
        assert_eq!(me["unionid"], user["unionId"]);
        assert_eq!(me["user"]["nickName"], "alice");
        assert_eq!(me["user"]["city"], "Shenzhen");
        assert_eq!(me["phone"], Value::Null);
        let key = env.session_key_of("alice");
        assert!(!me.to_string().contains(&key) && !out.to_string().contains(&key));
        logs::assert_clean(&[&key, &skey, SECRET]);
    }
}

#[tokio::test]
async fn me_before_any_profile_is_null() {
    let env = Env::new(Backend::Memory).await;
    let skey = env.login_as("bob").await;
    let (status, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"], Value::Null);
    assert_eq!(me["openid"], json!(env.sim.openid_for("bob")));
}

#[tokio::test]
async fn signature_is_checked() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let body = data_of(&env, "alice");
        let good = body["signature"].as_str().expect("sig").to_string();
        let mut forged = body.clone();
        forged["signature"] = json!(crypto::sign_raw_data(
            body["rawData"].as_str().expect("raw"),
            "another key"
        ));
        let mut tampered = body.clone();
        tampered["rawData"] = json!(r#"{"nickName":"mallory"}"#);
        let mut flipped = body.clone();
        flipped["signature"] = json!(format!(
            "{}{}",
            &good[..39],
            if good.ends_with('0') { '1' } else { '0' }
        ));
        let mut garbage = body.clone();
        garbage["signature"] = json!("not hex at all");
        for case in [forged, tampered, flipped, garbage] {
            let (status, out) = env.call(userinfo(&skey, case)).await;
            assert_eq!(
                (status, code(&out)),
                (400, "INVALID_SIGNATURE"),
                "{backend:?}: {out}"
            );
        }
        // rawData and signature go together.
        for drop in ["rawData", "signature"] {
            let mut half = body.clone();
            half.as_object_mut().expect("obj").remove(drop);
            let (status, out) = env.call(userinfo(&skey, half)).await;
            assert_eq!((status, code(&out)), (400, "BAD_REQUEST"), "without {drop}");
        }
    }
}

#[tokio::test]
async fn every_decryption_failure_is_one_identical_answer() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let _bob = env.login_as("bob").await;
        let key = env.session_key_of("alice");
        let base = data_of(&env, "alice");
        let seal = |plain: &str| {
            let (enc, iv) = env.sim.seal(&key, plain).expect("seal");
            json!({"encryptedData": enc, "iv": iv})
        };
        let openid = env.sim.openid_for("alice");
        let bob_openid = env.sim.openid_for("bob");
        let mut cases: Vec<(&str, Value)> = vec![
            ("other appid", seal(&json!({"openId": openid, "watermark": {"appid": "wx0000000000000000", "timestamp": 1}}).to_string())),
            ("other user's openId", seal(&json!({"openId": bob_openid, "watermark": {"appid": APPID, "timestamp": 1}}).to_string())),
            ("no watermark", seal(&json!({"openId": openid}).to_string())),
            ("an openId that is not a string", seal(&json!({"openId": 1, "watermark": {"appid": APPID, "timestamp": 1}}).to_string())),
            ("valid padding, not JSON", seal("definitely not json")),
            ("JSON but not an object", seal("[1,2,3]")),
            ("bob's data under alice's session", {
                let d = data_of(&env, "bob");
                json!({"encryptedData": d["encryptedData"], "iv": d["iv"]})
            }),
        ];
        // Tampered ciphertext: flip a byte of the last block (padding check fails).
        let mut ct =
            crypto::decode_ciphertext(base["encryptedData"].as_str().expect("enc")).expect("b64");
        let last = ct.len() - 1;
        ct[last] ^= 0x5a;
        cases.push((
            "tampered",
            json!({"encryptedData": crypto::base64_encode(&ct), "iv": base["iv"]}),
        ));
        cases.push((
            "truncated to 31 bytes",
            json!({"encryptedData": crypto::base64_encode(&ct[..31]), "iv": base["iv"]}),
        ));
        cases.push((
            "not a multiple of 16",
            json!({"encryptedData": crypto::base64_encode(&[1u8; 20]), "iv": base["iv"]}),
        ));
        cases.push(("wrong iv", json!({"encryptedData": base["encryptedData"], "iv": crypto::base64_encode(&[9u8; 16])})));

        let mut answers = Vec::new();
        for (name, body) in cases {
            let (status, out) = env.call(userinfo(&skey, body)).await;
            assert_eq!(
                (status, code(&out)),
                (400, "DECRYPT_FAILED"),
                "{backend:?} {name}: {out}"
            );
            answers.push(out);
        }
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "no padding oracle: identical bodies"
        );
        // A stale session_key (the user logged in again elsewhere) also fails to decrypt.
        let stale = data_of(&env, "alice");
        let _again = env.login_as("alice").await;
        let (status, out) = env.call(userinfo(&skey, stale)).await;
        assert_eq!(
            (status, code(&out)),
            (400, "INVALID_SIGNATURE"),
            "signature uses the newest key: {out}"
        );
        logs::assert_clean(&[&key]);
    }
}

#[tokio::test]
async fn malformed_input_is_bad_request() {
    let env = Env::new(Backend::Memory).await;
    let skey = env.login_as("alice").await;
    let base = data_of(&env, "alice");
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let b64 = crypto::base64_encode;
    let cases: Vec<(&str, Value)> = vec![
        ("iv 15 bytes", with("iv", json!(b64(&[1u8; 15])))),
        ("iv 17 bytes", with("iv", json!(b64(&[1u8; 17])))),
        ("iv not base64", with("iv", json!("!!!!"))),
        (
            "encryptedData not base64",
            with("encryptedData", json!("%%%%")),
        ),
        ("encryptedData empty", with("encryptedData", json!(""))),
        ("iv empty", with("iv", json!(""))),
        ("encryptedData number", with("encryptedData", json!(12))),
        ("no iv", {
            let mut b = base.clone();
            b.as_object_mut().expect("o").remove("iv");
            b
        }),
        ("array", json!([])),
    ];
    for (name, body) in cases {
        let (status, out) = env.call(userinfo(&skey, body)).await;
        assert_eq!((status, code(&out)), (400, "BAD_REQUEST"), "{name}: {out}");
    }
    let (status, out) = env
        .call(Req::new("POST", "/userinfo").skey(&skey).text("{not json"))
        .await;
    assert_eq!((status, code(&out)), (400, "BAD_REQUEST"), "{out}");
    // The gateway has no DELETE /me route; the function, asked anyway, knows the path.
    let (status, _) = env.call(Req::new("DELETE", "/me").skey(&skey)).await;
    assert_eq!(status, 404);
    let (status, out) = parts(
        env.userinfo
            .handle(Req::new("DELETE", "/me").skey(&skey).into_request())
            .await,
    );
    assert_eq!((status, code(&out)), (405, "METHOD_NOT_ALLOWED"), "{out}");
}

#[tokio::test]
async fn the_function_checks_the_session_itself() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let body = data_of(&env, "alice");
        // The gateway's cached Allow outlives a logout: the function still refuses.
        let ctx = {
            let out = env
                .authorizer
                .handle(wxauth_tests::events::authorizer_v2(
                    Some(&skey),
                    "POST",
                    "/userinfo",
                ))
                .await
                .expect("ok");
            out["context"].clone()
        };
        assert!(
            env.store
                .delete_session(&crypto::skey_hash(&skey))
                .await
                .expect("ok")
        );
        let req = Req::new("POST", "/userinfo")
            .skey(&skey)
            .json(&body)
            .authorized(ctx);
        let (status, out) = parts(env.userinfo.handle(req.into_request()).await);
        assert_eq!(
            (status, code(&out)),
            (401, "SESSION_EXPIRED"),
            "{backend:?}: {out}"
        );
    }
}

#[tokio::test]
async fn me_without_authorizer_context_is_refused() {
    let env = Env::new(Backend::Memory).await;
    let (status, out) = parts(
        env.userinfo
            .handle(Req::new("GET", "/me").into_request())
            .await,
    );
    assert_eq!((status, code(&out)), (401, "SESSION_EXPIRED"));
    let (status, out) = parts(
        env.userinfo
            .handle(
                Req::new("GET", "/me")
                    .authorized(json!({"openid": "oUnknown", "session_id": "s"}))
                    .into_request(),
            )
            .await,
    );
    assert_eq!(
        (status, code(&out)),
        (401, "SESSION_EXPIRED"),
        "no user item: {out}"
    );
}
