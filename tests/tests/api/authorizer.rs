//! The authorizer through every event shape API Gateway sends, against both stores.

use std::sync::Arc;

use serde_json::{Value, json};
use wxauth::crypto;
use wxauth::handlers::authorizer::{Authorizer, AuthorizerError};
use wxauth::secret::Secret;
use wxauth::sessions::{Sessions, TOUCH_INTERVAL};
use wxauth::store::memory::MemoryStore;
use wxauth_tests::counting::CountingStore;
use wxauth_tests::env::{APPID, BACKENDS, Backend, Env, IDLE, TTL};
use wxauth_tests::events::{self, ACCOUNT, API_ID, REGION, REST_STAGE, Req};
use wxauth_tests::logs;

/// The stage's wildcard resource of the REST events.
fn wildcard_prod() -> String {
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{REST_STAGE}/*/*")
}

async fn v2(env: &Env, skey: Option<&str>) -> Value {
    env.authorizer
        .handle(events::authorizer_v2(skey, "GET", "/me"))
        .await
        .expect("a decision")
}

#[tokio::test]
async fn http_api_v2_allows_a_live_session_with_its_context() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let out = v2(&env, Some(&skey)).await;
        assert_eq!(out["isAuthorized"], true, "{backend:?}: {out}");
        let ctx = out["context"].as_object().expect("context");
        let session = env
            .store
            .get_session(&crypto::skey_hash(&skey))
            .await
            .expect("ok")
            .expect("s");
        assert_eq!(ctx["openid"], json!(env.sim.openid_for("alice")));
        assert_eq!(
            ctx["unionid"],
            json!(session.unionid.clone().expect("unionid"))
        );
        assert_eq!(ctx["session_id"], json!(session.sid));
        assert_eq!(ctx["appid"], json!(APPID));
        assert_eq!(ctx["uid"], json!(session.uid.clone().expect("uid")));
        assert_eq!(ctx.len(), 5);
        assert!(
            !out.to_string().contains(&skey),
            "the skey is never handed on"
        );
        assert!(!out.to_string().contains(&session.key_hash));

        // The header may be missing from `headers` but present in identitySource.
        let mut event = events::authorizer_v2(Some(&skey), "POST", "/userinfo");
        event["headers"]
            .as_object_mut()
            .expect("headers")
            .remove("x-wx-skey");
        let out = env.authorizer.handle(event).await.expect("decision");
        assert_eq!(out["isAuthorized"], true);
        logs::assert_clean(&[&skey]);
    }
}

/// Issue 13 (4): the decision is made on the identity source (API Gateway's cache key) alone, and only
/// spaces and tabs around it are HTTP's optional whitespace: an skey wrapped in other Unicode white
/// space is no skey, for the authorizer as for the functions; a header that disagrees with the identity
/// source changes nothing.
#[tokio::test]
async fn only_the_identity_source_decides_and_only_spaces_and_tabs_are_trimmed() {
    let env = Env::new(Backend::Memory).await;
    let skey = env.login_as("alice").await;
    for wrapped in [
        format!("\u{a0}{skey}\u{a0}"),
        format!("\u{3000}{skey}"),
        format!("{skey}\u{85}"),
        format!("\u{2028}{skey}"),
    ] {
        let out = v2(&env, Some(&wrapped)).await;
        assert_eq!(out["isAuthorized"], false, "{wrapped:?}");
        let (status, body) = wxauth_tests::events::parts(
            env.userinfo
                .handle(
                    Req::new("POST", "/logout")
                        .header("x-wx-skey", &wrapped)
                        .into_request(),
                )
                .await,
        );
        assert_eq!((status, events::code(&body)), (401, "SESSION_EXPIRED"));
    }
    assert_eq!(
        v2(&env, Some(&format!(" \t{skey}\t "))).await["isAuthorized"],
        true
    );
    // A live skey in the header and a dead one in the identity source: denied (and the other way
    // round: allowed), as API Gateway caches it.
    let mut event = events::authorizer_v2(Some("not-an-skey"), "GET", "/me");
    event["headers"]["x-wx-skey"] = json!(skey);
    let out = env.authorizer.handle(event).await.expect("decision");
    assert_eq!(out["isAuthorized"], false);
    let mut event = events::authorizer_v2(Some(&skey), "GET", "/me");
    event["headers"]["x-wx-skey"] = json!("not-an-skey");
    let out = env.authorizer.handle(event).await.expect("decision");
    assert_eq!(out["isAuthorized"], true);
}

#[tokio::test]
async fn http_api_v2_denies_everything_else() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let unknown = crypto::generate_skey().expect("rng");
        let odd = format!("{}!", &skey[..42]);
        for bad in [
            None,
            Some(""),
            Some("short"),
            Some(odd.as_str()),
            Some(unknown.as_str()),
            Some(&"A".repeat(5000)),
        ] {
            let out = v2(&env, bad).await;
            assert_eq!(
                out,
                json!({"isAuthorized": false, "context": {}}),
                "{backend:?} {:?}",
                bad.map(|b| &b[..b.len().min(20)])
            );
        }
        // Ended session (logout or deleted item).
        assert!(
            env.store
                .delete_session(&crypto::skey_hash(&skey))
                .await
                .expect("ok")
        );
        assert_eq!(v2(&env, Some(&skey)).await["isAuthorized"], false);
    }
}

#[tokio::test]
async fn expiry_and_idle_time_are_checked_in_code() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        // Absolute lifetime: used every day, still ends after TTL.
        let skey = env.login_as("alice").await;
        let mut used = 0;
        while used + 86400 < TTL {
            env.clock.advance(86400);
            used += 86400;
            assert_eq!(
                v2(&env, Some(&skey)).await["isAuthorized"],
                true,
                "{backend:?} day {}",
                used / 86400
            );
        }
        env.clock.advance(TTL - used);
        assert_eq!(
            v2(&env, Some(&skey)).await["isAuthorized"],
            false,
            "{backend:?}: expired at expires_at"
        );
        // The item is still there (TTL deletion is late): the check is the code's.
        assert!(
            env.store
                .get_session(&crypto::skey_hash(&skey))
                .await
                .expect("ok")
                .is_some()
        );

        // Idle timeout.
        let skey = env.login_as("bob").await;
        env.clock.advance(IDLE);
        assert_eq!(
            v2(&env, Some(&skey)).await["isAuthorized"],
            true,
            "exactly IDLE is still fine"
        );
        env.clock.advance(IDLE + 1);
        assert_eq!(
            v2(&env, Some(&skey)).await["isAuthorized"],
            false,
            "{backend:?}: idle"
        );
    }
}

#[tokio::test]
async fn unionid_is_omitted_when_unknown() {
    let env = Env::new(Backend::Memory).await;
    let new = env
        .sessions
        .create(
            &wxauth_tests::env::identity("oNoUnion", None),
            &Secret::new("tiihtNczf5v6AKRyjwEUhQ=="),
        )
        .await
        .expect("created");
    let out = v2(&env, Some(new.skey.expose())).await;
    assert_eq!(out["isAuthorized"], true);
    assert_eq!(
        out["context"],
        json!({
            "openid": "oNoUnion",
            "session_id": new.session.sid,
            "appid": APPID,
            "uid": new.session.uid,
        })
    );
}

#[tokio::test]
async fn rest_token_and_request_get_a_wildcard_policy_or_unauthorized() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let openid = env.sim.openid_for("alice");
        for event in [
            events::authorizer_rest_token(&skey, "GET", "/orders/42"),
            events::authorizer_rest_request(Some(&skey), "POST", "/orders"),
        ] {
            let out = env.authorizer.handle(event.clone()).await.expect("allow");
            assert_eq!(out["principalId"], json!(openid), "{out}");
            let statement = &out["policyDocument"]["Statement"][0];
            assert_eq!(out["policyDocument"]["Version"], "2012-10-17");
            assert_eq!(statement["Effect"], "Allow");
            // An IAM Action or Resource given as a one-element array is the same policy.
            assert_eq!(statement["Action"], json!(["execute-api:Invoke"]));
            assert_eq!(
                statement["Resource"],
                json!([wildcard_prod()]),
                "a cached policy must serve every route"
            );
            assert_eq!(out["context"]["openid"], json!(openid));
            assert!(out["context"]["session_id"].is_string());
        }
        let unknown = crypto::generate_skey().expect("rng");
        for event in [
            events::authorizer_rest_token(&unknown, "GET", "/orders"),
            events::authorizer_rest_token("", "GET", "/orders"),
            events::authorizer_rest_request(None, "GET", "/orders"),
            events::authorizer_rest_request(Some(&unknown), "GET", "/orders"),
        ] {
            let err = env
                .authorizer
                .handle(event)
                .await
                .expect_err("unauthorized");
            assert_eq!(err, AuthorizerError::Unauthorized);
            let diag = lambda_runtime::Diagnostic::from(err);
            assert_eq!(
                diag.error_message, "Unauthorized",
                "API Gateway needs this exact message for 401"
            );
        }
    }
}

#[tokio::test]
async fn http_api_payload_v1_gets_a_policy() {
    let env = Env::new(Backend::Memory).await;
    let skey = env.login_as("alice").await;
    let out = env
        .authorizer
        .handle(events::authorizer_http_v1(Some(&skey), "GET", "/me"))
        .await
        .expect("ok");
    let resource = format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/$default/*/*");
    assert_eq!(out["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        out["policyDocument"]["Statement"][0]["Resource"],
        json!([resource])
    );
    let out = env
        .authorizer
        .handle(events::authorizer_http_v1(Some("nope"), "GET", "/me"))
        .await
        .expect("ok");
    assert_eq!(out["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert_eq!(out["context"], json!({}), "a denial carries no caller");
}

#[tokio::test]
async fn store_failures_deny_for_every_shape() {
    let counting = Arc::new(CountingStore::new(Arc::new(MemoryStore::new())));
    let clock = Arc::new(wxauth::clock::ManualClock::new(1_795_000_000));
    let sessions = Sessions::new(counting.clone(), clock, TTL, IDLE);
    let new = sessions
        .create(
            &wxauth_tests::env::identity("o1", None),
            &Secret::new("tiihtNczf5v6AKRyjwEUhQ=="),
        )
        .await
        .expect("created");
    let skey = new.skey.expose();
    let authorizer = Authorizer::new(sessions);
    counting
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    for event in [
        events::authorizer_v2(Some(skey), "GET", "/me"),
        events::authorizer_http_v1(Some(skey), "GET", "/me"),
        events::authorizer_rest_token(skey, "GET", "/me"),
        events::authorizer_rest_request(Some(skey), "GET", "/me"),
    ] {
        assert_eq!(
            authorizer.handle(event).await,
            Err(AuthorizerError::StoreUnavailable)
        );
    }
    // And against a real, unreachable DynamoDB endpoint.
    let down = wxauth_tests::dead::DeadPort::new();
    let dead =
        wxauth::store::dynamo::DynamoStore::new(wxauth_tests::dynamo::client_for(&down.url()), "t");
    let authorizer = Authorizer::new(Sessions::new(
        Arc::new(dead),
        Arc::new(wxauth::clock::SystemClock),
        TTL,
        IDLE,
    ));
    assert_eq!(
        authorizer
            .handle(events::authorizer_v2(Some(skey), "GET", "/me"))
            .await,
        Err(AuthorizerError::StoreUnavailable)
    );
}

#[tokio::test]
async fn one_read_per_uncached_call_and_hourly_touch() {
    let counting = Arc::new(CountingStore::new(Arc::new(MemoryStore::new())));
    let clock = Arc::new(wxauth::clock::ManualClock::new(1_795_000_000));
    let sessions = Sessions::new(counting.clone(), clock.clone(), TTL, IDLE);
    let new = sessions
        .create(
            &wxauth_tests::env::identity("o1", None),
            &Secret::new("tiihtNczf5v6AKRyjwEUhQ=="),
        )
        .await
        .expect("created");
    assert_eq!(
        (counting.counts.reads(), counting.counts.writes()),
        (1, 3),
        "a first login: the user read, one transaction of the session, the user and its new account"
    );
    counting.counts.reset();
    sessions
        .create(
            &wxauth_tests::env::identity("o1", None),
            &Secret::new("tiihtNczf5v6AKRyjwEUhQ=="),
        )
        .await
        .expect("created");
    assert_eq!(
        (counting.counts.reads(), counting.counts.writes()),
        (2, 2),
        "a returning login: the user and its account read, one transaction of two items"
    );
    let authorizer = Authorizer::new(sessions);
    counting.counts.reset();
    for _ in 0..10 {
        let out = authorizer
            .handle(events::authorizer_v2(Some(new.skey.expose()), "GET", "/me"))
            .await
            .expect("ok");
        assert_eq!(out["isAuthorized"], true);
    }
    assert_eq!(
        (counting.counts.reads(), counting.counts.writes()),
        (10, 0),
        "exactly one read per call"
    );
    // Malformed skeys cost nothing.
    counting.counts.reset();
    let _ = authorizer
        .handle(events::authorizer_v2(Some("bad"), "GET", "/me"))
        .await;
    let _ = authorizer
        .handle(events::authorizer_v2(None, "GET", "/me"))
        .await;
    assert_eq!(counting.counts.reads(), 0);
    // last_seen is refreshed once an hour, not per request.
    clock.advance(TOUCH_INTERVAL);
    counting.counts.reset();
    for _ in 0..3 {
        authorizer
            .handle(events::authorizer_v2(Some(new.skey.expose()), "GET", "/me"))
            .await
            .expect("ok");
    }
    assert_eq!((counting.counts.reads(), counting.counts.writes()), (3, 1));
}

#[tokio::test]
async fn unsupported_events_fail_closed() {
    let env = Env::new(Backend::Memory).await;
    for event in [
        json!({}),
        json!({"type": "WEIRD"}),
        json!({"version": "2.0"}),
        json!("text"),
        json!({"type": "TOKEN", "authorizationToken": "x"}),
    ] {
        let out = env.authorizer.handle(event.clone()).await;
        assert!(
            matches!(
                out,
                Err(AuthorizerError::BadEvent(_)) | Err(AuthorizerError::Unauthorized)
            ) || out.as_ref().is_ok_and(|v| v["isAuthorized"] == false),
            "{event}: {out:?}"
        );
    }
}
