//! The same contract, run against the memory store and the DynamoDB store (moto): both must give the
//! same answers, conditional writes included.

use std::sync::Arc;

use wxauth::error::StoreError;
use wxauth::secret::Secret;
use wxauth::store::dynamo::DynamoStore;
use wxauth::store::memory::MemoryStore;
use wxauth::store::{LoginUpdate, Phone, Profile, Session, Store};
use wxauth_tests::dynamo;

async fn stores() -> Vec<(&'static str, Arc<dyn Store>)> {
    let client = dynamo::client();
    let table = dynamo::fresh_table(&client).await;
    vec![
        ("memory", Arc::new(MemoryStore::new())),
        ("dynamodb", Arc::new(DynamoStore::new(client, table))),
    ]
}

fn session(
    hash: &str,
    openid: &str,
    unionid: Option<&str>,
    key: &str,
    now: i64,
) -> (Session, LoginUpdate) {
    (
        Session {
            key_hash: hash.to_string(),
            sid: format!("sid-{hash}"),
            openid: openid.to_string(),
            unionid: unionid.map(str::to_string),
            session_key: Secret::new(key),
            created_at: now,
            last_seen: now,
            expires_at: now + 1000,
        },
        LoginUpdate {
            openid: openid.to_string(),
            unionid: unionid.map(str::to_string),
            session_key: Secret::new(key),
            now,
        },
    )
}

#[tokio::test]
async fn sessions_round_trip_and_are_never_overwritten() {
    for (name, store) in stores().await {
        let (s, l) = session("h1", "o1", Some("u1"), "k1", 100);
        store.create_session(&s, &l).await.expect("create");
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
        let (s2, l2) = session("h1", "o2", None, "k2", 200);
        assert!(
            matches!(
                store.create_session(&s2, &l2).await,
                Err(StoreError::Conflict(_))
            ),
            "{name}"
        );
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
async fn user_items_keep_the_newest_key_and_their_profile() {
    for (name, store) in stores().await {
        let (s, l) = session("a", "o1", Some("u1"), "k1", 100);
        store.create_session(&s, &l).await.expect("create");
        let profile = Profile {
            nick_name: Some("Alice".into()),
            gender: Some(2),
            ..Default::default()
        };
        store
            .save_profile("o1", &profile, None, 150)
            .await
            .expect("profile");
        let phone = Phone {
            phone_number: "13800138000".into(),
            pure_phone_number: "13800138000".into(),
            country_code: "86".into(),
        };
        store.save_phone("o1", &phone, 160).await.expect("phone");
        // Second login: new key, no unionid in that answer.
        let (s, l) = session("b", "o1", None, "k2", 200);
        store.create_session(&s, &l).await.expect("create");
        let user = store.get_user("o1").await.expect("get").expect("user");
        assert_eq!(user.session_key.expose(), "k2", "{name}");
        assert_eq!(user.unionid.as_deref(), Some("u1"), "{name}: unionid kept");
        assert_eq!(user.created_at, 100, "{name}");
        assert_eq!(user.updated_at, 200, "{name}");
        assert_eq!(
            user.profile.as_ref(),
            Some(&profile),
            "{name}: profile kept across logins"
        );
        assert_eq!(user.phone.as_ref(), Some(&phone), "{name}");
        // Profile updates on a missing user are refused, not upserted.
        assert!(
            matches!(
                store.save_profile("ghost", &profile, None, 1).await,
                Err(StoreError::Conflict(_))
            ),
            "{name}"
        );
        assert!(
            matches!(
                store.save_phone("ghost", &phone, 1).await,
                Err(StoreError::Conflict(_))
            ),
            "{name}"
        );
        assert_eq!(store.get_user("ghost").await.expect("get"), None, "{name}");
        store
            .save_profile("o1", &profile, Some("u9"), 300)
            .await
            .expect("profile");
        assert_eq!(
            store
                .get_user("o1")
                .await
                .expect("get")
                .expect("u")
                .unionid
                .as_deref(),
            Some("u9")
        );
    }
}

#[tokio::test]
async fn touch_only_moves_forward_and_never_creates() {
    for (name, store) in stores().await {
        let (s, l) = session("t", "o1", None, "k", 100);
        store.create_session(&s, &l).await.expect("create");
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
            let (s, l) = session(h, o, None, "k", 100);
            store.create_session(&s, &l).await.expect("create");
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
