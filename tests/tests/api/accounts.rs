//! Several mini programs, one person: accounts linked by unionid, isolation between apps, and the
//! login answers about appids — through real events, the WeChat simulator over HTTP and both stores.

use serde_json::{Value, json};
use wxauth_tests::env::{APPID, BACKENDS, Backend, Env};
use wxauth_tests::events::{Req, code};

/// A shop and its mini game, both bound to the Open Platform account of [`APPID`]'s.
const GAME: &str = "wx0000000000game01";
/// An app of the same company not bound to the Open Platform account (yet).
const SOLO: &str = "wx0000000000solo01";

fn skey(body: &Value) -> String {
    body["skey"].as_str().expect("skey").to_string()
}

async fn me(env: &Env, skey: &str) -> Value {
    let (status, me) = env.call(Req::new("GET", "/me").skey(skey)).await;
    assert_eq!(status, 200, "{me}");
    me
}

#[tokio::test]
async fn one_person_gets_one_uid_and_an_openid_per_app() {
    for backend in BACKENDS {
        let env = Env::with_apps(backend, &[(GAME, true)]).await;
        let (status, shop) = env.login_in(APPID, "alice").await;
        assert_eq!(status, 200, "{shop}");
        let (status, game) = env.login_in(GAME, "alice").await;
        assert_eq!(status, 200, "{game}");
        assert_eq!(shop["uid"], game["uid"], "{backend:?}: one uid");
        let (a, b) = (me(&env, &skey(&shop)).await, me(&env, &skey(&game)).await);
        assert_ne!(a["openid"], b["openid"], "one openid per app");
        assert_eq!(
            (a["appid"].as_str(), b["appid"].as_str()),
            (Some(APPID), Some(GAME))
        );
        assert_eq!(a["unionid"], b["unionid"]);
        let identities = json!({APPID: a["openid"], GAME: b["openid"]});
        assert_eq!(b["identities"], identities, "{backend:?}");
        assert_eq!(me(&env, &skey(&shop)).await["identities"], identities);
        // Another person stays another account.
        let (_, bob) = env.login_in(GAME, "bob").await;
        assert_ne!(bob["uid"], shop["uid"]);
        // The authorizer hands both to the backend.
        let (_, ctx) = env.call(Req::new("GET", "/me").skey(&skey(&game))).await;
        assert_eq!(ctx["uid"], shop["uid"]);
    }
}

#[tokio::test]
async fn an_account_of_its_own_is_linked_when_the_unionid_arrives() {
    for backend in BACKENDS {
        let env = Env::with_apps(backend, &[(SOLO, false)]).await;
        // First seen in the unbound app: no unionid, an account of its own, with a profile and a
        // phone number.
        let (_, solo) = env.login_in(SOLO, "carol").await;
        let solo_skey = skey(&solo);
        let (status, _) = env
            .call(
                Req::new("PUT", "/profile")
                    .skey(&solo_skey)
                    .json(&json!({"nickName": "Carol", "avatarUrl": "https://e.com/c.png"})),
            )
            .await;
        assert_eq!(status, 200);
        let code = env.sim.mint_phone_code("13900139000");
        let (status, out) = env
            .call(
                Req::new("POST", "/phone")
                    .skey(&solo_skey)
                    .json(&json!({"code": code})),
            )
            .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(me(&env, &solo_skey).await["unionid"], Value::Null);

        // Later, in the bound app: an account with the unionid, with a nickname of its own.
        env.clock.advance(60);
        let (_, shop) = env.login_in(APPID, "carol").await;
        assert_ne!(shop["uid"], solo["uid"], "not known to be one person yet");
        let shop_skey = skey(&shop);
        let (status, _) = env
            .call(
                Req::new("PUT", "/profile")
                    .skey(&shop_skey)
                    .json(&json!({"nickName": "C."})),
            )
            .await;
        assert_eq!(status, 200);

        // The unbound app gets bound: its next login brings the unionid, and the accounts become one.
        env.sim.add_app(SOLO, wxauth_tests::env::SECRET, true);
        let (_, linked) = env.login_in(SOLO, "carol").await;
        assert_eq!(
            linked["uid"], solo["uid"],
            "{backend:?}: the older account survives"
        );
        let view = me(&env, &shop_skey).await;
        assert_eq!(
            view["uid"], solo["uid"],
            "the other account's sessions follow"
        );
        assert_eq!(
            view["user"],
            json!({"nickName": "Carol", "avatarUrl": "https://e.com/c.png"}),
            "the survivor keeps its fields"
        );
        assert_eq!(
            view["phone"]["purePhoneNumber"], "13900139000",
            "the phone is kept"
        );
        assert_eq!(view["identities"].as_object().map(|o| o.len()), Some(2));
        // Every session, old and new, reports the surviving uid with the authorizer's one read.
        for s in [&solo_skey, &shop_skey, &skey(&linked)] {
            let decision = env
                .authorizer
                .handle(wxauth_tests::events::authorizer_v2(Some(s), "GET", "/me"))
                .await
                .expect("decision");
            assert_eq!(decision["context"]["uid"], solo["uid"], "{backend:?}");
        }
    }
}

#[tokio::test]
async fn the_survivor_takes_the_fields_it_lacks() {
    let env = Env::with_apps(Backend::Memory, &[(SOLO, false)]).await;
    let (_, solo) = env.login_in(SOLO, "dan").await;
    env.clock.advance(60);
    let (_, shop) = env.login_in(APPID, "dan").await;
    let code = env.sim.mint_phone_code("13700137000");
    let (status, _) = env
        .call(
            Req::new("POST", "/phone")
                .skey(&skey(&shop))
                .json(&json!({"code": code})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = env
        .call(
            Req::new("PUT", "/profile")
                .skey(&skey(&shop))
                .json(&json!({"nickName": "Dan"})),
        )
        .await;
    assert_eq!(status, 200);
    env.sim.add_app(SOLO, wxauth_tests::env::SECRET, true);
    let (_, linked) = env.login_in(SOLO, "dan").await;
    assert_eq!(linked["uid"], solo["uid"]);
    let view = me(&env, &skey(&solo)).await;
    assert_eq!(
        view["user"]["nickName"], "Dan",
        "filled from the other account"
    );
    assert_eq!(view["phone"]["purePhoneNumber"], "13700137000");
}

#[tokio::test]
async fn apps_are_isolated() {
    for backend in BACKENDS {
        let env = Env::with_apps(backend, &[(GAME, true)]).await;
        let (_, shop) = env.login_in(APPID, "erin").await;
        let (_, game) = env.login_in(GAME, "erin").await;
        let (shop, game) = (skey(&shop), skey(&game));
        // Each session decrypts with its own app's user (session_key) and watermark.
        let game_openid = env.sim.openid_in(GAME, "erin");
        let data = serde_json::to_value(env.sim.legacy_user_data(&game_openid).expect("data"))
            .expect("json");
        let (status, out) = env
            .call(Req::new("POST", "/userinfo").skey(&game).json(&data))
            .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["user"]["openId"], json!(game_openid));
        let (status, out) = env
            .call(Req::new("POST", "/userinfo").skey(&shop).json(&data))
            .await;
        assert_eq!((status, code(&out)), (400, "INVALID_SIGNATURE"), "{out}");
        let sealed = json!({"encryptedData": data["encryptedData"], "iv": data["iv"]});
        let (status, out) = env
            .call(Req::new("POST", "/userinfo").skey(&shop).json(&sealed))
            .await;
        assert_eq!(
            (status, code(&out)),
            (400, "DECRYPT_FAILED"),
            "another app's data"
        );
        // A phone number through the game's own access_token.
        let phone = env.sim.mint_phone_code("13800138000");
        let (status, out) = env
            .call(
                Req::new("POST", "/phone")
                    .skey(&game)
                    .json(&json!({"code": phone})),
            )
            .await;
        assert_eq!(status, 200, "{out}");
        // The checksession of the refused data used the shop's token, the phone the game's.
        let token = |appid: &'static str| {
            let env = &env;
            async move {
                env.store
                    .get_token(appid)
                    .await
                    .expect("ok")
                    .and_then(|r| r.token)
                    .expect("a token item per app")
                    .token
            }
        };
        assert_ne!(token(APPID).await, token(GAME).await, "{backend:?}");

        // Logout all: this app only. Logout account: every app.
        let (_, other_shop) = env.login_in(APPID, "erin").await;
        let (status, out) = env
            .call(
                Req::new("POST", "/logout")
                    .skey(&shop)
                    .json(&json!({"all": true})),
            )
            .await;
        assert_eq!((status, out["revoked"].as_u64()), (200, Some(2)), "{out}");
        assert_eq!(
            env.call(Req::new("GET", "/me").skey(&skey(&other_shop)))
                .await
                .0,
            403
        );
        assert_eq!(env.call(Req::new("GET", "/me").skey(&game)).await.0, 200);
        let (_, again) = env.login_in(APPID, "erin").await;
        let (status, out) = env
            .call(
                Req::new("POST", "/logout")
                    .skey(&game)
                    .json(&json!({"account": true})),
            )
            .await;
        assert_eq!((status, out["revoked"].as_u64()), (200, Some(2)), "{out}");
        assert_eq!(
            env.call(Req::new("GET", "/me").skey(&skey(&again))).await.0,
            403
        );
    }
}

#[tokio::test]
async fn logins_name_a_served_app() {
    let env = Env::with_apps(Backend::Memory, &[(GAME, true)]).await;
    let before = env.sim.calls("jscode2session");
    let login = |body: Value| {
        let handler = env.login.clone();
        async move {
            let req = Req::new("POST", "/login").json(&body);
            wxauth_tests::events::parts(handler.handle(req.into_request()).await)
        }
    };
    let fresh = env.sim.mint_code_in(GAME, "frank");
    for (body, want) in [
        (json!({"code": fresh}), (400, "BAD_REQUEST")),
        (json!({"code": "c", "appid": "wx1"}), (400, "BAD_REQUEST")),
        (
            json!({"code": "c", "appid": "wx".repeat(5000)}),
            (400, "BAD_REQUEST"),
        ),
        (json!({"code": "c", "appid": 42}), (400, "BAD_REQUEST")),
        (
            json!({"code": "c", "appid": "wxOtherDeployment1"}),
            (400, "UNKNOWN_APP"),
        ),
    ] {
        let (status, out) = login(body.clone()).await;
        assert_eq!((status, code(&out)), want, "{body}: {out}");
    }
    assert_eq!(
        env.sim.calls("jscode2session"),
        before,
        "WeChat never asked"
    );
    // The appid is the app the code was made in: a game code is no shop code.
    let (status, out) =
        login(json!({"code": env.sim.mint_code_in(GAME, "frank"), "appid": APPID})).await;
    assert_eq!((status, code(&out)), (400, "INVALID_CODE"), "{out}");
    let (status, _) = login(json!({"code": fresh, "appid": GAME})).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_logins_of_one_person_make_one_account() {
    for backend in BACKENDS {
        let env = std::sync::Arc::new(Env::with_apps(backend, &[(GAME, true)]).await);
        let tasks: Vec<_> = [APPID, GAME, APPID, GAME]
            .into_iter()
            .map(|appid| {
                let env = env.clone();
                tokio::spawn(async move { env.login_in(appid, "grace").await })
            })
            .collect();
        let mut uids = std::collections::BTreeSet::new();
        for t in tasks {
            let (status, body) = t.await.expect("task");
            assert_eq!(status, 200, "{backend:?}: {body}");
            uids.insert(body["uid"].as_str().expect("uid").to_string());
        }
        // The losers of the race plan again and join the winner's account.
        assert_eq!(uids.len(), 1, "{backend:?}: {uids:?}");
        let (_, last) = env.login_in(APPID, "grace").await;
        let view = me(&env, &skey(&last)).await;
        assert_eq!(
            view["identities"].as_object().map(|o| o.len()),
            Some(2),
            "{view}"
        );
        assert!(
            uids.contains(view["uid"].as_str().expect("uid")),
            "{backend:?}"
        );
    }
}
