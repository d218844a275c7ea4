//! `wxauth-admin`, the real binary, against moto (the deployed table's API) and against a stopped
//! local server's `--data` file: what it shows, and its revocations and blocks seen through the
//! authorizer.

use std::process::Stdio;
use std::sync::Arc;

use serde_json::Value;
use wxauth::clock::ManualClock;
use wxauth::handlers::authorizer::Authorizer;
use wxauth::secret::Secret;
use wxauth::sessions::{Rejection, Sessions};
use wxauth::store::memory::MemoryStore;
use wxauth_tests::env::{Backend, Env, IDLE, START, TTL, identity};
use wxauth_tests::{bins, dynamo};

/// Runs `wxauth-admin` with these arguments (stdin not a terminal): exit code, stdout, stderr.
async fn admin(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(bins::path("wxauth-admin"))
        .args(args)
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamo::endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("SESSION_TABLE")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("wxauth-admin runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn json(args: &[&str]) -> Value {
    let (code, out, err) = admin(args).await;
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|_| panic!("not JSON: {out}"))
}

async fn allowed(authorizer: &Authorizer, skey: &str) -> bool {
    authorizer
        .decide(Some(skey))
        .await
        .expect("store answers")
        .is_ok()
}

#[tokio::test]
async fn admin_shows_revokes_and_blocks_on_the_table_as_the_authorizer_sees_it() {
    let env = Env::new(Backend::Dynamo).await;
    let (_, table) = env.table.clone().expect("a moto table");
    let t = table.as_str();
    let first = env.login_as("mallory").await;
    let second = env.login_as("mallory").await;
    let openid = env.sim.openid_for("mallory");
    let o = openid.as_str();

    // Shown: the sessions with ids and an 8-digit hash prefix; never a key or a whole hash.
    let user = json(&["--table", t, "--json", "user", o]).await;
    assert_eq!(user["openid"], o);
    let sessions = user["sessions"].as_array().expect("sessions").clone();
    assert_eq!(sessions.len(), 2, "{user}");
    for s in &sessions {
        assert_eq!(s["skey_hash_prefix"].as_str().map(str::len), Some(8));
    }
    let (code, text, _) = admin(&["--table", t, "user", o]).await;
    assert_eq!(code, 0);
    let key = env.session_key_of("mallory");
    for secret in [first.as_str(), second.as_str(), key.as_str()] {
        assert!(!text.contains(secret) && !user.to_string().contains(secret));
    }
    for skey in [&first, &second] {
        let hash = wxauth::crypto::skey_hash(skey);
        assert!(!text.contains(&hash) && !user.to_string().contains(&hash));
    }

    // Unhappy paths: an unknown user (1), no --yes without a terminal (2, nothing done).
    let (code, _, err) = admin(&["--table", t, "user", "o-nobody"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no user o-nobody"), "{err}");
    let (code, _, err) = admin(&["--table", t, "revoke", o]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--yes"), "{err}");
    let (code, _, err) = admin(&["--table", t, "block", o]).await;
    assert_eq!(code, 2, "{err}");
    assert!(allowed(&env.authorizer, &first).await && allowed(&env.authorizer, &second).await);
    let (code, _, err) = admin(&["--table", t, "--yes", "revoke", o, "--session", "nope"]).await;
    assert_eq!(code, 1, "{err}");

    // One session ended: that skey is denied, the other still allowed.
    let first_sid = env
        .authorizer
        .decide(Some(&first))
        .await
        .expect("ok")
        .expect("allowed")
        .session_id;
    let out = json(&[
        "--table",
        t,
        "--json",
        "--yes",
        "revoke",
        o,
        "--session",
        &first_sid,
    ])
    .await;
    assert_eq!(out["revoked"], 1);
    assert!(!allowed(&env.authorizer, &first).await);
    assert!(allowed(&env.authorizer, &second).await);

    // Blocked: the other session is denied, a login refused; unblocked: logins work again.
    let out = json(&["--table", t, "--json", "--yes", "block", o]).await;
    assert_eq!(out["sessions_ended"], 1, "{out}");
    assert!(!allowed(&env.authorizer, &second).await);
    let (status, body) = env.call_login(&env.sim.mint_code("mallory")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("USER_BLOCKED"))
    );
    let user = json(&["--table", t, "--json", "user", o]).await;
    assert!(user["blocked_at"].is_string(), "{user}");
    json(&["--table", t, "--json", "unblock", o]).await;
    let skey = env.login_as("mallory").await;
    assert!(allowed(&env.authorizer, &skey).await);
    // Another app's view of the openid: no such user there.
    let (code, _, _) = admin(&["--table", t, "--appid", "wx0000000000000099", "user", o]).await;
    assert_eq!(code, 1);
}

#[tokio::test]
async fn admin_works_on_a_stopped_local_servers_data_file() {
    let dir = std::env::temp_dir().join(format!("wxauth-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("data.json");
    let _ = std::fs::remove_file(&path);
    let clock = Arc::new(ManualClock::new(START));
    let skey = {
        let store = Arc::new(MemoryStore::open(&path).expect("store"));
        let sessions = Sessions::new(store, clock.clone(), TTL, IDLE);
        let new = sessions
            .create(&identity("o-file-user", None), &Secret::new("k"))
            .await
            .expect("login");
        new.skey.expose().to_string()
    };
    let p = path.to_str().expect("utf-8 path");
    let user = json(&["--data", p, "--json", "user", "o-file-user"]).await;
    assert_eq!(user["sessions"].as_array().map(Vec::len), Some(1));
    let out = json(&["--data", p, "--json", "--yes", "revoke", "o-file-user"]).await;
    assert_eq!(out["revoked"], 1);
    // The server started again over the file: the authorizer denies the skey.
    let store = Arc::new(MemoryStore::open(&path).expect("store"));
    let authorizer = Authorizer::new(Sessions::new(store, clock, TTL, IDLE));
    assert_eq!(
        authorizer.decide(Some(&skey)).await.expect("ok"),
        Err(Rejection::Unknown)
    );
    // A file that does not exist is not created.
    let missing = dir.join("missing.json");
    let (code, _, err) = admin(&["--data", missing.to_str().expect("path"), "user", "o"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(!missing.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
