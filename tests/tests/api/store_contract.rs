//! The same contract, run against the memory store and the DynamoDB store (moto): both must give the
//! same answers, conditional writes included; and the avatar stores' (memory, folder, S3 on moto).

use std::sync::Arc;

use std::collections::BTreeMap;
use wxauth::avatars::memory::MemoryAvatars;
use wxauth::avatars::{Avatar, AvatarStore};
use wxauth::error::StoreError;
use wxauth::secret::Secret;
use wxauth::store::dynamo::DynamoStore;
use wxauth::store::memory::MemoryStore;

use wxauth::store::{Account, AccountWrite, Login, Merge, Phone, Profile, Session, Store};
use wxauth_tests::dynamo;

async fn stores() -> Vec<(&'static str, Arc<dyn Store>)> {
    let client = dynamo::client();
    let table = dynamo::fresh_table(&client).await;
    vec![
        ("memory", Arc::new(MemoryStore::new())),
        ("dynamodb", Arc::new(DynamoStore::new(client, table))),
    ]
}

const APP: &str = "wx0000000000000001";
const APP2: &str = "wx0000000000000002";

/// A login of `openid` (first app) to the account `uid-<openid>`, writing nothing about the account.
fn login(hash: &str, openid: &str, unionid: Option<&str>, key: &str, now: i64) -> Login {
    Login {
        session: Session {
            key_hash: hash.to_string(),
            sid: format!("sid-{hash}"),
            appid: Some(APP.to_string()),
            openid: openid.to_string(),
            unionid: unionid.map(str::to_string),
            uid: Some(format!("uid-{openid}")),
            created_at: now,
            last_seen: now,
            expires_at: now + 1000,
        },
        session_key: Secret::new(key),
        legacy_app: true,
        account: AccountWrite::Keep,
        map_unionid: false,
        now,
    }
}

fn account(uid: &str, identities: &[(&str, &str)], now: i64) -> Account {
    Account {
        uid: uid.to_string(),
        unionid: None,
        identities: identities
            .iter()
            .map(|(a, o)| (a.to_string(), o.to_string()))
            .collect::<BTreeMap<_, _>>(),
        profile: None,
        phone: None,
        created_at: now,
        updated_at: now,
        merged_into: None,
        blocked_at: None,
    }
}

fn conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

#[tokio::test]
async fn sessions_round_trip_and_are_never_overwritten() {
    for (name, store) in stores().await {
        let l = login("h1", "o1", Some("u1"), "k1", 100);
        let s = l.session.clone();
        store.create_session(&l).await.expect("create");
        assert_eq!(
            store.get_session("h1").await.expect("get").as_ref(),
            Some(&s),
            "{name}"
        );
        assert_eq!(
            store.get_session("nope").await.expect("get"),
            None,
            "{name}"
        );
        // Same hash again: refused, nothing changed (neither the session nor the user item).
        let l2 = login("h1", "o2", None, "k2", 200);
        assert!(conflict(store.create_session(&l2).await), "{name}");
        assert_eq!(
            store.get_session("h1").await.expect("get").as_ref(),
            Some(&s),
            "{name}"
        );
        assert_eq!(
            store.get_user("o2").await.expect("get"),
            None,
            "{name}: no user from a failed login"
        );
    }
}

#[tokio::test]
async fn user_items_keep_the_newest_key_and_their_account() {
    for (name, store) in stores().await {
        let mut l = login("a", "o1", Some("u1"), "k1", 100);
        l.account = AccountWrite::Put {
            account: Box::new(account("uid-o1", &[(APP, "o1")], 100)),
            was: None,
        };
        l.map_unionid = true;
        store.create_session(&l).await.expect("create");
        assert_eq!(
            store.get_unionid("u1").await.expect("get").as_deref(),
            Some("uid-o1"),
            "{name}"
        );
        let profile = Profile {
            nick_name: Some("Alice".into()),
            gender: Some(2),
            ..Default::default()
        };
        store
            .save_profile("uid-o1", &profile, 150)
            .await
            .expect("profile");
        let phone = Phone {
            phone_number: "13800138000".into(),
            pure_phone_number: "13800138000".into(),
            country_code: "86".into(),
        };
        store
            .save_phone("uid-o1", &phone, 160)
            .await
            .expect("phone");
        // Second login: new key, no unionid in that answer.
        store
            .create_session(&login("b", "o1", None, "k2", 200))
            .await
            .expect("create");
        let user = store.get_user("o1").await.expect("get").expect("user");
        assert_eq!(user.session_key.expose(), "k2", "{name}");
        assert_eq!(user.unionid.as_deref(), Some("u1"), "{name}: unionid kept");
        assert_eq!(user.appid.as_deref(), Some(APP), "{name}");
        assert_eq!(user.uid.as_deref(), Some("uid-o1"), "{name}");
        assert_eq!((user.created_at, user.updated_at), (100, 200), "{name}");
        let got = store.get_account("uid-o1").await.expect("get").expect("a");
        assert_eq!(got.profile.as_ref(), Some(&profile), "{name}");
        assert_eq!(got.phone.as_ref(), Some(&phone), "{name}");
        assert_eq!(got.updated_at, 160, "{name}");
        assert_eq!(got.identities.get(APP).map(String::as_str), Some("o1"));
        // Profile updates on a missing account are refused, not upserted.
        assert!(conflict(store.save_profile("ghost", &profile, 1).await));
        assert!(conflict(store.save_phone("ghost", &phone, 1).await));
        assert_eq!(store.get_account("ghost").await.expect("get"), None);
        // A login naming another account than the user's is refused; so is a stale account write,
        // a second mapping of the unionid, and a user item of another app.
        let mut other = login("c", "o1", None, "k3", 300);
        other.session.uid = Some("uid-else".into());
        assert!(conflict(store.create_session(&other).await), "{name}");
        let mut stale = login("d", "o1", None, "k3", 300);
        stale.account = AccountWrite::Put {
            account: Box::new(account("uid-o1", &[(APP, "o1")], 300)),
            was: Some(100),
        };
        assert!(conflict(store.create_session(&stale).await), "{name}");
        let mut again = login("e", "o9", Some("u1"), "k", 300);
        again.map_unionid = true;
        assert!(conflict(store.create_session(&again).await), "{name}");
        let mut elsewhere = login("f", "o1", None, "k", 300);
        elsewhere.session.appid = Some(APP2.into());
        elsewhere.legacy_app = false;
        assert!(conflict(store.create_session(&elsewhere).await), "{name}");
        for hash in ["c", "d", "e", "f"] {
            assert_eq!(store.get_session(hash).await.expect("get"), None, "{name}");
        }
        assert_eq!(store.get_user("o9").await.expect("get"), None, "{name}");
        let user = store.get_user("o1").await.expect("get").expect("user");
        assert_eq!(
            user.session_key.expose(),
            "k2",
            "{name}: nothing half-written"
        );
    }
}

#[tokio::test]
async fn accounts_are_created_for_earlier_users_and_merged() {
    for (name, store) in stores().await {
        // Two users of two apps, each with an account; the second logged in twice.
        let mut first = login("m1", "oA", None, "k", 100);
        first.account = AccountWrite::Put {
            account: Box::new(account("uid-oA", &[(APP, "oA")], 100)),
            was: None,
        };
        store.create_session(&first).await.expect("A");
        for (hash, t) in [("m2", 200), ("m3", 210)] {
            let mut second = login(hash, "oB", Some("uB"), "k", t);
            second.session.appid = Some(APP2.into());
            second.legacy_app = false;
            if t == 200 {
                second.account = AccountWrite::Put {
                    account: Box::new(account("uid-oB", &[(APP2, "oB")], 200)),
                    was: None,
                };
                second.map_unionid = true;
            }
            store.create_session(&second).await.expect("B");
        }
        let mut sessions = store.sessions_of("oB").await.expect("of");
        sessions.sort();
        assert_eq!(sessions, ["m2", "m3"], "{name}");
        // oB's account merges into oA's (the older).
        let mut survivor = account("uid-oA", &[(APP, "oA"), (APP2, "oB")], 100);
        survivor.updated_at = 300;
        survivor.unionid = Some("uB".into());
        let merge = Merge {
            survivor: survivor.clone(),
            survivor_was: 100,
            merged: "uid-oB".into(),
            merged_was: 200,
            moved: vec!["oB".into()],
            unionid: Some("uB".into()),
            now: 300,
        };
        let mut stale = merge.clone();
        stale.survivor_was = 99;
        assert!(conflict(store.merge_accounts(&stale).await), "{name}");
        assert!(
            store
                .get_account("uid-oB")
                .await
                .expect("get")
                .expect("b")
                .merged_into
                .is_none(),
            "{name}: a refused merge changes nothing"
        );
        store.merge_accounts(&merge).await.expect("merge");
        let alias = store.get_account("uid-oB").await.expect("get").expect("b");
        assert_eq!(alias.merged_into.as_deref(), Some("uid-oA"), "{name}");
        assert_eq!(
            store.get_account("uid-oA").await.expect("get"),
            Some(survivor),
            "{name}"
        );
        assert_eq!(
            store
                .get_user("oB")
                .await
                .expect("get")
                .expect("u")
                .uid
                .as_deref(),
            Some("uid-oA"),
            "{name}"
        );
        assert_eq!(
            store.get_unionid("uB").await.expect("get").as_deref(),
            Some("uid-oA")
        );
        assert!(
            store
                .move_session("m2", "uid-oB", "uid-oA")
                .await
                .expect("move")
        );
        assert!(
            !store
                .move_session("m2", "uid-oB", "uid-oA")
                .await
                .expect("again")
        );
        assert!(
            !store
                .move_session("nope", "uid-oB", "uid-oA")
                .await
                .expect("gone")
        );
        assert_eq!(
            store
                .get_session("m2")
                .await
                .expect("get")
                .expect("s")
                .uid
                .as_deref(),
            Some("uid-oA"),
            "{name}"
        );
        // Writes to an alias are refused.
        assert!(conflict(
            store.save_profile("uid-oB", &Profile::default(), 400).await
        ));
    }
}

#[tokio::test]
async fn touch_only_moves_forward_and_never_creates() {
    for (name, store) in stores().await {
        store
            .create_session(&login("t", "o1", None, "k", 100))
            .await
            .expect("create");
        store.touch_session("t", 500).await.expect("touch");
        store
            .touch_session("t", 300)
            .await
            .expect("older touch is a no-op");
        assert_eq!(
            store
                .get_session("t")
                .await
                .expect("get")
                .expect("s")
                .last_seen,
            500,
            "{name}"
        );
        store.touch_session("missing", 500).await.expect("no error");
        assert_eq!(
            store.get_session("missing").await.expect("get"),
            None,
            "{name}: not created"
        );
    }
}

#[tokio::test]
async fn deleting_one_or_all_sessions() {
    for (name, store) in stores().await {
        for (h, o) in [("x1", "o1"), ("x2", "o1"), ("x3", "o1"), ("y1", "o2")] {
            store
                .create_session(&login(h, o, None, "k", 100))
                .await
                .expect("create");
        }
        assert!(store.delete_session("x1").await.expect("delete"), "{name}");
        assert!(
            !store.delete_session("x1").await.expect("delete again"),
            "{name}"
        );
        assert_eq!(
            store.delete_sessions_of("o1").await.expect("all"),
            2,
            "{name}"
        );
        assert_eq!(store.get_session("x2").await.expect("get"), None);
        assert_eq!(store.get_session("x3").await.expect("get"), None);
        assert!(
            store.get_session("y1").await.expect("get").is_some(),
            "{name}: other users untouched"
        );
        assert!(
            store.get_user("o1").await.expect("get").is_some(),
            "{name}: the user item stays"
        );
        assert_eq!(store.delete_sessions_of("o1").await.expect("none left"), 0);
    }
}

/// Of concurrent conditional writes on one item exactly one wins (DynamoDB's guarantee; moto needs the
/// lock of scripts/moto_server.py to give it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_conditional_writes_have_one_winner() {
    for (name, store) in stores().await {
        for round in 0..5 {
            let appid = format!("app-{round}");
            let tasks: Vec<_> = (0..4)
                .map(|i| {
                    let store = store.clone();
                    let appid = appid.clone();
                    tokio::spawn(async move {
                        store
                            .lease_token(&appid, &format!("owner-{i}"), 100, 110)
                            .await
                    })
                })
                .collect();
            let mut wins = 0;
            for t in tasks {
                if t.await.expect("task").expect("store ok") {
                    wins += 1;
                }
            }
            assert_eq!(wins, 1, "{name} round {round}");
        }
        // The lease holder stores the token; nobody else can.
        let token = wxauth::store::CachedToken {
            token: Secret::new("t"),
            expires_at: 200,
            fetched_at: 100,
        };
        let rec = store.get_token("app-0").await.expect("get").expect("item");
        let holder = rec.lease_owner.expect("leased");
        assert!(
            !store
                .put_token("app-0", "someone-else", &token)
                .await
                .expect("put"),
            "{name}"
        );
        assert!(
            store
                .put_token("app-0", &holder, &token)
                .await
                .expect("put"),
            "{name}"
        );
        let rec = store.get_token("app-0").await.expect("get").expect("item");
        assert_eq!(
            (rec.token, rec.lease_owner),
            (Some(token), None),
            "{name}: lease released"
        );
        // An expired lease can be taken over; a running one cannot.
        assert!(
            store
                .lease_token("app-1", "late", 111, 121)
                .await
                .expect("lease"),
            "{name}"
        );
        assert!(
            !store
                .lease_token("app-1", "later", 115, 125)
                .await
                .expect("lease"),
            "{name}"
        );
    }
}

/// The avatar stores: memory, a folder (the local server's `--data`), S3 (moto).
async fn avatar_stores() -> Vec<(&'static str, Arc<dyn AvatarStore>)> {
    let folder = wxauth_tests::local::temp_path("avatars");
    vec![
        ("memory", Arc::new(MemoryAvatars::new())),
        (
            "folder",
            Arc::new(MemoryAvatars::in_folder(&folder).expect("folder")),
        ),
        (
            "s3",
            wxauth_tests::s3::avatars(&wxauth_tests::s3::fresh_bucket().await),
        ),
    ]
}

#[tokio::test]
async fn avatars_one_per_account_replaced_on_upload() {
    let png = Avatar::new(wxauth_local::sample::png(wxauth_local::sample::GREEN)).expect("png");
    let jpeg = Avatar::new(wxauth_tests::uploads::jpeg()).expect("jpeg");
    let (alice, bob) = ("AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB");
    for (name, store) in avatar_stores().await {
        assert_eq!(store.get(alice).await, Ok(None), "{name}: none yet");
        store.put(alice, &png).await.expect("put");
        assert_eq!(
            store.get(alice).await,
            Ok(Some(png.bytes.clone())),
            "{name}"
        );
        assert_eq!(store.get(bob).await, Ok(None), "{name}: per account");
        store.put(alice, &jpeg).await.expect("replace");
        assert_eq!(
            store.get(alice).await,
            Ok(Some(jpeg.bytes.clone())),
            "{name}"
        );
        // Ids that are no account id never reach a file or an object key.
        for bad in ["../../etc/passwd", "a/b", "", "short"] {
            assert!(
                matches!(store.get(bad).await, Err(StoreError::Corrupt(_))),
                "{name}: {bad:?}"
            );
            assert!(store.put(bad, &png).await.is_err(), "{name}: {bad:?}");
        }
    }
}

#[tokio::test]
async fn an_unreachable_bucket_is_unavailable_not_missing() {
    let dead = wxauth_tests::dead::DeadPort::new();
    let http = wxauth::sdk_http::SdkHttp::new().expect("http");
    let store = wxauth::avatars::s3::S3Avatars::with_endpoint(
        &wxauth_tests::s3::sdk_config(),
        http.reqwest().clone(),
        "wxauth-avatars",
        Some(dead.url()),
    )
    .expect("store");
    let png = Avatar::new(wxauth_local::sample::png(wxauth_local::sample::GREEN)).expect("png");
    let uid = "AAAAAAAAAAAAAAAAAAAAAA";
    assert!(matches!(
        store.get(uid).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.put(uid, &png).await,
        Err(StoreError::Unavailable(_))
    ));
    // A bucket that does not exist: S3's own error, never "no avatar".
    let store = wxauth_tests::s3::avatars("wxauth-no-such-bucket");
    assert!(matches!(
        store.put(uid, &png).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.get(uid).await,
        Err(StoreError::Unavailable(_))
    ));
}
