//! Nothing leaked: the local server binary is driven through a full flow (logins, every route — the
//! avatar's upload and image too —, WeChat's errors and faults, a stale session_key, logouts) at the
//! most verbose log level, and its whole output
//! (stdout and stderr) and every response body are scanned for the app secret, every session_key WeChat
//! issued and every skey. The only place an skey may appear is the body of the `POST /login` answer that
//! issued it. With DynamoDB (moto), the table is scanned too: it holds skey hashes, never skeys.

use std::time::Duration;

use serde_json::{Value, json};
use wxauth::crypto;
use wxauth_local::simulator::{Fault, Simulator};
use wxauth_tests::dynamo;
use wxauth_tests::env::{APPID, SECRET};
use wxauth_tests::local::LocalServer;

/// Everything a flow saw.
#[derive(Default)]
struct Seen {
    /// (what, body, the skey this answer issued)
    responses: Vec<(String, String, Option<String>)>,
    skeys: Vec<String>,
    session_keys: Vec<String>,
}

struct Flow<'a> {
    server: &'a LocalServer,
    sim: &'a Simulator,
    seen: Seen,
}

impl Flow<'_> {
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        skey: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let r = self.server.call(method, path, skey, body).await;
        assert!(
            r.status < 500 || r.status == 503,
            "{method} {path}: {}",
            r.text
        );
        self.seen.responses.push((
            format!("{method} {path} {}", r.status),
            r.text.clone(),
            None,
        ));
        (r.status, r.body)
    }

    fn session_key(&mut self, user: &str) -> String {
        let key = self
            .sim
            .user(&self.sim.openid_for(user))
            .and_then(|u| u.session_key)
            .expect("session_key");
        self.seen.session_keys.push(key.clone());
        key
    }

    async fn login(&mut self, user: &str) -> String {
        let code = self.sim.mint_code(user);
        let r = self.server.login(&code).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let skey = r.body["skey"].as_str().expect("skey").to_string();
        self.seen
            .responses
            .push(("POST /login 200".into(), r.text.clone(), Some(skey.clone())));
        self.seen.skeys.push(skey.clone());
        self.session_key(user);
        skey
    }

    async fn login_code(&mut self, code: &str) -> u16 {
        let r = self.server.login(code).await;
        self.seen
            .responses
            .push((format!("POST /login {}", r.status), r.text.clone(), None));
        r.status
    }
}

async fn full_flow(server: &LocalServer, sim: &Simulator) -> Seen {
    let mut f = Flow {
        server,
        sim,
        seen: Seen::default(),
    };
    let a1 = f.login("alice").await;
    let a2 = f.login("alice").await;
    let b1 = f.login("bob").await;
    let key = f.session_key("alice");

    // WeChat's errors.
    let used = sim.mint_code("carol");
    assert_eq!(f.login_code(&used).await, 200);
    f.session_key("carol");
    assert_eq!(f.login_code(&used).await, 400);
    for special in [
        "invalid-code",
        "blocked-user",
        "rate-limited",
        "system-busy",
    ] {
        assert!(f.login_code(special).await >= 400);
    }

    // Every route.
    assert_eq!(f.call("GET", "/me", Some(&a2), None).await.0, 200);
    let data =
        serde_json::to_value(sim.user_data(&sim.openid_for("alice")).expect("data")).expect("json");
    assert_eq!(
        f.call("POST", "/userinfo", Some(&a2), Some(&data)).await.0,
        200
    );
    let mut forged = data.clone();
    forged["signature"] = json!("0".repeat(40));
    assert_eq!(
        f.call("POST", "/userinfo", Some(&a2), Some(&forged))
            .await
            .0,
        400
    );
    let bobs =
        serde_json::to_value(sim.user_data(&sim.openid_for("bob")).expect("data")).expect("json");
    assert_eq!(
        f.call("POST", "/userinfo", Some(&a1), Some(&bobs)).await.0,
        400
    );
    let profile = json!({"nickName": "Alice", "avatarUrl": "https://example.com/a.png"});
    assert_eq!(
        f.call("PUT", "/profile", Some(&a2), Some(&profile)).await.0,
        200
    );
    let code = sim.mint_phone_code("+1 4155550100");
    assert_eq!(
        f.call("POST", "/phone", Some(&a2), Some(&json!({ "code": code })))
            .await
            .0,
        200
    );
    let phone = json!({"phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
        "watermark": {"appid": APPID, "timestamp": 1}});
    let (enc, iv) = sim.seal(&key, &phone.to_string()).expect("seal");
    let legacy = json!({"encryptedData": enc, "iv": iv});
    assert_eq!(
        f.call("POST", "/phone", Some(&a2), Some(&legacy)).await.0,
        200
    );

    // The avatar: an upload (signed S3 requests with the DynamoDB store), its image, a refused file.
    let png = wxauth_local::sample::png(wxauth_local::sample::GREEN);
    let r = f
        .server
        .upload(&a2, wxauth_tests::uploads::avatar_form(&png))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    f.seen
        .responses
        .push(("POST /avatar 200".into(), r.text.clone(), None));
    let url = r.body["user"]["avatarUrl"]
        .as_str()
        .expect("url")
        .to_string();
    let image = f
        .server
        .send(
            "GET",
            &url[url.find("/avatars/").expect("path")..],
            &[],
            None,
        )
        .await;
    assert_eq!((image.status, image.bytes), (200, png));
    let r = f
        .server
        .upload(&a2, wxauth_tests::uploads::avatar_form(b"GIF89a"))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    f.seen
        .responses
        .push(("POST /avatar 400".into(), r.text.clone(), None));

    // WeChat forgets the session_key: the next failed decryption reports it.
    sim.invalidate_session_key(&sim.openid_for("bob"));
    let (status, body) = f.call("POST", "/userinfo", Some(&b1), Some(&data)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("SESSION_KEY_EXPIRED"))
    );

    // WeChat faults.
    for fault in [Fault::Status(502), Fault::Html, Fault::Close] {
        sim.set_fault(Some(fault));
        let code = sim.mint_code("alice");
        assert_eq!(f.login_code(&code).await, 503);
        sim.set_fault(None);
    }

    // The gateway's refusals.
    let unknown = crypto::generate_skey().expect("rng");
    f.seen.skeys.push(unknown.clone());
    assert_eq!(f.call("GET", "/me", None, None).await.0, 401);
    assert_eq!(f.call("GET", "/me", Some(&unknown), None).await.0, 403);
    assert_eq!(f.call("GET", "/me", Some("x"), None).await.0, 403);

    // Logouts.
    assert_eq!(f.call("POST", "/logout", Some(&b1), None).await.0, 200);
    let all = json!({"all": true});
    let (status, body) = f.call("POST", "/logout", Some(&a1), Some(&all)).await;
    assert_eq!((status, body["revoked"].as_u64()), (200, Some(2)));
    assert_eq!(f.call("GET", "/me", Some(&a2), None).await.0, 403);
    f.seen
}

/// The AWS session token of the servers of these tests (it signs every S3 request).
const AWS_SESSION_TOKEN: &str = "wxauth-test-aws-session-token-7f3a";

/// Fails if a secret is in the output or in any answer (an skey is allowed only in the login answer
/// that issued it).
fn assert_nothing_leaked(output: &str, seen: &Seen) {
    let mut secrets: Vec<(&str, &str)> = vec![
        ("the app secret", SECRET),
        ("the AWS session token", AWS_SESSION_TOKEN),
    ];
    secrets.extend(seen.skeys.iter().map(|s| ("an skey", s.as_str())));
    secrets.extend(
        seen.session_keys
            .iter()
            .map(|s| ("a session_key", s.as_str())),
    );
    assert!(seen.skeys.len() >= 4 && seen.session_keys.len() >= 5);
    for (what, s) in &secrets {
        assert!(s.len() >= 16, "{what} {s:?} too short to check");
        assert!(
            !output.contains(s),
            "{what} reached the server's output:\n{output}"
        );
        // Also in the forms a log might use: JSON-escaped, URL-encoded.
        let escaped = serde_json::to_string(s).expect("json");
        assert!(
            !output.contains(escaped.trim_matches('"')),
            "{what} (escaped)"
        );
        let encoded: String = url_encode(s);
        assert!(!output.contains(&encoded), "{what} (URL-encoded)");
        for (label, body, issued) in &seen.responses {
            if issued.as_deref() == Some(*s) {
                continue;
            }
            assert!(!body.contains(s), "{what} in the answer to {label}: {body}");
        }
    }
    // The skey hash is not secret, but a log has no reason to carry it either.
    for s in &seen.skeys {
        assert!(
            !output.contains(&crypto::skey_hash(s)),
            "an skey hash was logged"
        );
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn nothing_leaks_with_the_memory_store_at_trace_level() {
    let sim = Simulator::new(APPID, SECRET);
    let url = sim.spawn().await.expect("simulator");
    let server =
        LocalServer::with_wechat(&url, &[("WX_TIMEOUT_MS", "500"), ("RUST_LOG", "trace")]).await;
    let seen = full_flow(&server, &sim).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    assert!(
        output.lines().count() > 40,
        "the functions' own lines are in the output at trace level:\n{output}"
    );
    assert_nothing_leaked(&output, &seen);
}

#[tokio::test]
async fn nothing_leaks_with_dynamodb_and_s3_at_trace_level() {
    let sim = Simulator::new(APPID, SECRET);
    let url = sim.spawn().await.expect("simulator");
    let moto = dynamo::client();
    let table = dynamo::fresh_table(&moto).await;
    let endpoint = dynamo::endpoint();
    let bucket = wxauth_tests::s3::fresh_bucket().await;
    let server = LocalServer::with_wechat(
        &url,
        &[
            ("WX_TIMEOUT_MS", "500"),
            ("RUST_LOG", "trace"),
            ("AWS_SESSION_TOKEN", AWS_SESSION_TOKEN),
        ]
        .into_iter()
        .chain(dynamo::process_env(&table, &endpoint))
        .chain(wxauth_tests::s3::process_env(&bucket, &endpoint))
        .collect::<Vec<_>>(),
    )
    .await;
    let seen = full_flow(&server, &sim).await;
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    assert!(output.contains("S3 bucket"), "{output}");
    assert_nothing_leaked(&output, &seen);
    // No signature of an S3 request either.
    assert!(!output.contains("Signature="), "an S3 signature was logged");
    // The table keeps SHA-256 hashes of skeys, never an skey.
    let dump = format!("{:?}", dynamo::scan_all(&moto, &table).await);
    for s in &seen.skeys {
        assert!(!dump.contains(s.as_str()), "an skey is stored in clear");
    }
    assert!(!dump.contains(SECRET), "the app secret is stored");
}

#[tokio::test]
async fn nothing_leaks_in_simulator_mode() {
    let server = LocalServer::start(&[], &[("RUST_LOG", "trace")]).await;
    let mut skeys = Vec::new();
    let mut responses = Vec::new();
    for user in ["alice", "bob", "alice"] {
        let code = server.dev_code(user).await;
        let r = server.login(&code).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let skey = r.body["skey"].as_str().expect("skey").to_string();
        skeys.push(skey.clone());
        for (method, path, body) in [
            ("GET", "/me", None),
            ("POST", "/dev/userinfo", None),
            ("POST", "/dev/userinfo", Some(json!({"legacy": true}))),
            ("POST", "/dev/phone-code", Some(json!({}))),
            ("PUT", "/profile", Some(json!({"nickName": "n"}))),
        ] {
            let r = server.call(method, path, Some(&skey), body.as_ref()).await;
            assert_eq!(r.status, 200, "{method} {path}: {}", r.text);
            responses.push(r.text);
        }
        let png = server.send("GET", "/dev/avatar.png", &[], None).await.bytes;
        let r = server
            .upload(&skey, wxauth_tests::uploads::avatar_form(&png))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        responses.push(r.text);
        let data = server
            .call("POST", "/dev/userinfo", Some(&skey), None)
            .await
            .body;
        let r = server
            .call("POST", "/userinfo", Some(&skey), Some(&data))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        responses.push(r.text);
    }
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    for s in &skeys {
        assert!(!output.contains(s.as_str()), "an skey reached the output");
        for body in &responses {
            assert!(!body.contains(s.as_str()), "an skey in an answer: {body}");
        }
    }
    // Simulated session_keys are 16 random bytes in base64 (24 characters ending in "=="): none may be
    // in the output.
    for word in output.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c))) {
        assert!(
            !(word.len() == 24 && word.ends_with("==")),
            "something shaped like a session_key in the output: {word}\n{output}"
        );
    }
}
