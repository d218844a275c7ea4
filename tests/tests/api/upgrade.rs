//! Tables written by the release before several mini programs and accounts keep working after the
//! upgrade, with no migration step: items in that release's format (written literally by
//! `wxauth_tests::legacy`) are loaded into moto, and this release resolves, decrypts, logs in and logs
//! out through them.

use serde_json::json;
use wxauth::crypto;
use wxauth_tests::env::{APPID, Backend, Env, START};
use wxauth_tests::events::{Req, code};
use wxauth_tests::legacy::LegacyUser;

/// An earlier user's data, sealed with its session_key as WeChat would.
fn user_data(env: &Env, user: &LegacyUser, nickname: &str) -> serde_json::Value {
    let plaintext = json!({
        "openId": user.openid,
        "nickName": nickname,
        "watermark": {"appid": APPID, "timestamp": START},
    })
    .to_string();
    let (encrypted_data, iv) = env.sim.seal(&user.session_key, &plaintext).expect("sealed");
    json!({"encryptedData": encrypted_data, "iv": iv})
}

#[tokio::test]
async fn an_earlier_table_keeps_working() {
    let env = Env::new(Backend::Dynamo).await;
    let (client, table) = env.table.clone().expect("moto table");
    // alice used the app before (WeChat still gives her the same openid and unionid); bob too, without
    // a unionid, and never logs in again.
    let alice = LegacyUser::new(
        &env.sim.openid_for("alice"),
        Some(&env.sim.unionid_for("alice")),
        &crypto::random_base64::<16>().expect("rng"),
        START - 3600,
    );
    let bob = LegacyUser::new(
        "oBobOfTheEarlierRelease000001",
        None,
        &crypto::random_base64::<16>().expect("rng"),
        START - 7200,
    );
    alice.put(&client, &table).await;
    bob.put(&client, &table).await;

    // Resolved: the authorizer allows the earlier sessions, as sessions of the first app.
    let (status, me) = env.call(Req::new("GET", "/me").skey(&bob.skey)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["openid"], json!(bob.openid));
    assert_eq!(me["appid"], json!(APPID));
    assert_eq!(
        me["user"],
        json!(bob.profile),
        "the earlier profile is kept"
    );
    assert_eq!(me["phone"], json!(bob.phone), "the earlier phone is kept");
    let bob_uid = me["uid"]
        .as_str()
        .expect("an account, created now")
        .to_string();
    let (_, again) = env.call(Req::new("GET", "/me").skey(&bob.skey)).await;
    assert_eq!(again["uid"], json!(bob_uid), "created once");

    // Decrypted with the session_key the earlier release stored.
    let (status, out) = env
        .call(
            Req::new("POST", "/userinfo")
                .skey(&bob.skey)
                .json(&user_data(&env, &bob, "Bob")),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let (_, me) = env.call(Req::new("GET", "/me").skey(&bob.skey)).await;
    assert_eq!(me["user"]["nickName"], "Bob");
    assert_eq!(me["user"]["city"], "Hangzhou", "the earlier fields stay");

    // alice logs in again: her earlier user item joins an account, with her profile and phone, and
    // her earlier session stays valid next to the new one.
    let new_skey = env.login_as("alice").await;
    let (status, me) = env.call(Req::new("GET", "/me").skey(&new_skey)).await;
    assert_eq!(status, 200, "{me}");
    let alice_uid = me["uid"].as_str().expect("uid").to_string();
    assert_ne!(alice_uid, bob_uid);
    assert_eq!(me["user"], json!(alice.profile));
    assert_eq!(me["phone"], json!(alice.phone));
    let (status, old) = env.call(Req::new("GET", "/me").skey(&alice.skey)).await;
    assert_eq!(status, 200, "{old}");
    assert_eq!(
        old["uid"],
        json!(alice_uid),
        "one account for the old and the new session"
    );
    // The new login replaced the session_key: the earlier session decrypts with the newest one.
    let fresh = env.session_key_of("alice");
    let mut newer = alice.clone();
    newer.session_key = fresh;
    let (status, out) = env
        .call(
            Req::new("POST", "/userinfo")
                .skey(&alice.skey)
                .json(&user_data(&env, &newer, "Alice")),
        )
        .await;
    assert_eq!(status, 200, "{out}");

    // Logged out through them: all of alice's sessions (the earlier and the new one).
    let (status, out) = env
        .call(
            Req::new("POST", "/logout")
                .skey(&alice.skey)
                .json(&json!({"all": true})),
        )
        .await;
    assert_eq!((status, out["revoked"].as_u64()), (200, Some(2)), "{out}");
    for skey in [&alice.skey, &new_skey] {
        let (status, _) = env.call(Req::new("GET", "/me").skey(skey)).await;
        assert_eq!(status, 403);
    }
    let (status, out) = env.call(Req::new("POST", "/logout").skey(&bob.skey)).await;
    assert_eq!((status, out["revoked"].as_u64()), (200, Some(1)), "{out}");
    let (status, out) = env
        .call(
            Req::new("POST", "/userinfo")
                .skey(&bob.skey)
                .json(&user_data(&env, &bob, "x")),
        )
        .await;
    assert_eq!(
        (status, out["message"].as_str()),
        (403, Some("Forbidden")),
        "{}",
        code(&out)
    );
}

#[tokio::test]
async fn an_earlier_user_uploads_an_avatar_first() {
    let env = Env::new(Backend::Dynamo).await;
    let (client, table) = env.table.clone().expect("moto table");
    // carol's session is of the release before accounts: no uid on it, none in the authorizer's context.
    let carol = LegacyUser::new(
        "oCarolOfTheEarlierRelease0001",
        None,
        &crypto::random_base64::<16>().expect("rng"),
        START - 600,
    );
    carol.put(&client, &table).await;
    let png = wxauth_local::sample::png(wxauth_local::sample::GREEN);
    let (status, out) = env
        .call(
            Req::new("POST", "/avatar")
                .skey(&carol.skey)
                .form(wxauth_tests::uploads::avatar_form(&png)),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    // Her account was created by the upload (her earlier profile copied), and names the URL.
    let (_, me) = env.call(Req::new("GET", "/me").skey(&carol.skey)).await;
    let uid = me["uid"].as_str().expect("an account, created now");
    let url = out["user"]["avatarUrl"].as_str().expect("url");
    assert!(url.contains(&format!("/avatars/{uid}/")), "{url}");
    assert!(!url.contains(&carol.openid));
    assert_eq!(
        me["user"]["nickName"], "Old Timer",
        "the earlier profile stays"
    );
    assert_eq!(me["user"]["avatarUrl"], json!(url));
    assert_eq!(env.avatars.get(uid).await.expect("S3"), Some(png));
}
