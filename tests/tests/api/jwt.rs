//! Issue 16, JWT mode: session JWTs issued by the login function (an in-memory key, and KMS in moto,
//! also through the real `login` binary), checked by the local gateway's JWT authorizer as API Gateway
//! checks them, verified by a third-party library (PyJWT) against the JWKS the server publishes;
//! hostile tokens refused; a Bearer request runs no Lambda authorizer and reads nothing to be
//! authorized; `POST /token` costs one read.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};
use wxauth::avatars::memory::MemoryAvatars;
use wxauth::clock::{Clock, SystemClock};
use wxauth::handlers::authorizer::Authorizer;
use wxauth::session_jwt::kms::KmsKeys;
use wxauth::session_jwt::local::LocalKey;
use wxauth::session_jwt::{Issuer, JwtSigner, SessionJwts};
use wxauth::sessions::Sessions;
use wxauth::store::{Store, dynamo::DynamoStore, memory::MemoryStore};
use wxauth_local::gateway::Gateway;
use wxauth_local::gateway::jwt::JwtAuthorizer;
use wxauth_local::settings::SIMULATOR_APPID;
use wxauth_local::simulator::Simulator;
use wxauth_tests::counting::CountingStore;
use wxauth_tests::dead::DeadPort;
use wxauth_tests::env::{APPID, Backend, IDLE, SECRET, TTL, dispatch, wechat_client};
use wxauth_tests::events::Req;
use wxauth_tests::local::{LocalServer, Reply, remove, temp_path};
use wxauth_tests::runtime::{Deployed, FakeRuntime, FunctionProcess, deployed, http_answer};
use wxauth_tests::{bins, dynamo, kms, s3};

/// The issuer of the in-process gateway.
const ISSUER: &str = "https://wxauthlocal.execute-api.us-east-1.amazonaws.com";

/// wxauth in `jwt` mode behind the local gateway (without HTTP), over a counting store; the Lambda
/// authorizer over a counting store of its own, so that its calls are told apart.
struct JwtEnv {
    gateway: Gateway,
    sim: Arc<Simulator>,
    store: Arc<CountingStore>,
    authorizer_store: Arc<CountingStore>,
}

async fn jwt_env(backend: Backend, signer: Arc<dyn JwtSigner>) -> JwtEnv {
    wxauth_tests::logs::install();
    let sim = Simulator::new(APPID, SECRET);
    let wx_url = sim.spawn().await.expect("simulator");
    let inner: Arc<dyn Store> = match backend {
        Backend::Memory => Arc::new(MemoryStore::new()),
        Backend::Dynamo => {
            let client = dynamo::client();
            let table = dynamo::fresh_table(&client).await;
            Arc::new(DynamoStore::new(client, &table))
        }
    };
    let store = Arc::new(CountingStore::new(inner.clone()));
    let authorizer_store = Arc::new(CountingStore::new(inner));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sessions = Sessions::new(store.clone(), clock.clone(), TTL, IDLE);
    let mut functions = wxauth::bootstrap::functions(
        &sessions,
        vec![wechat_client(&wx_url, std::time::Duration::from_secs(5))],
        Arc::new(MemoryAvatars::new()),
        &Default::default(),
        &Default::default(),
    )
    .expect("functions");
    functions.authorizer = Authorizer::new(
        Sessions::new(authorizer_store.clone(), clock.clone(), TTL, IDLE).for_apps(&[APPID]),
    );
    let jwts = SessionJwts::new(signer, Issuer::Fixed(ISSUER.into()), 600, clock);
    let gateway = Gateway::new(functions.with_session_jwts(jwts), None)
        .with_jwt(JwtAuthorizer::new(ISSUER, vec![APPID.to_string()]));
    JwtEnv {
        gateway,
        sim,
        store,
        authorizer_store,
    }
}

impl JwtEnv {
    async fn call(&self, req: Req) -> (u16, Value) {
        dispatch(&self.gateway, req).await
    }

    /// Logs a simulated user in: the login answer.
    async fn login(&self, user: &str) -> Value {
        let code = self.sim.mint_code(user);
        let (status, body) = self
            .call(Req::new("POST", "/login").json(&json!({ "code": code })))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    fn reset(&self) {
        self.store.counts.reset();
        self.authorizer_store.counts.reset();
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The claims of a token, unverified.
fn claims_of(token: &str) -> Map<String, Value> {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn a_bearer_request_runs_no_authorizer_and_reads_nothing_to_be_authorized() {
    for backend in [Backend::Memory, Backend::Dynamo] {
        let env = jwt_env(backend, Arc::new(LocalKey::generate().expect("key"))).await;
        let login = env.login("alice").await;
        let token = login["token"].as_str().expect("a session JWT").to_string();
        let skey = login["skey"].as_str().expect("skey").to_string();
        assert_eq!(login["token_expires_in"], 600);
        let claims = claims_of(&token);
        assert_eq!(claims["sub"], json!(env.sim.openid_for("alice")));
        assert_eq!(claims["aud"], APPID);
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["uid"], login["uid"]);

        // GET /me: the JWT authorizer, no Lambda authorizer, no read to authorize. What is read is
        // the function's own work (the user and its account), the same in skey mode.
        env.reset();
        for _ in 0..3 {
            let (status, me) = env
                .call(Req::new("GET", "/me").header("authorization", &bearer(&token)))
                .await;
            assert_eq!(status, 200, "{backend:?} {me}");
            assert_eq!(me["openid"], json!(env.sim.openid_for("alice")));
            assert_eq!(me["uid"], login["uid"]);
        }
        assert_eq!(env.authorizer_store.counts.reads(), 0, "{backend:?}");
        assert_eq!(env.authorizer_store.counts.writes(), 0, "{backend:?}");
        assert!(
            !env.store.methods.called().contains(&"get_session"),
            "{backend:?}: no session read for GET /me: {:?}",
            env.store.methods.called()
        );
        let function_reads = env.store.counts.reads();
        assert_eq!(
            function_reads,
            3 * 2,
            "{backend:?}: the user and its account"
        );

        // The skey does not open GET /me in jwt mode: its identity source is Authorization.
        let (status, body) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        assert_eq!((status, body), (401, json!({"message": "Unauthorized"})));

        // POST /token: public, the function checks the skey itself: one read (and the limit window).
        env.reset();
        let (status, fresh) = env.call(Req::new("POST", "/token").skey(&skey)).await;
        assert_eq!(status, 200, "{fresh}");
        assert_eq!(env.store.counts.reads(), 1, "{backend:?}: one read");
        assert_eq!(
            env.store.counts.writes(),
            1,
            "{backend:?}: the limit window"
        );
        assert_eq!(env.authorizer_store.counts.reads(), 0);
        let fresh_claims = claims_of(fresh["token"].as_str().expect("token"));
        assert_eq!(fresh_claims["sid"], claims["sid"]);
        assert_eq!(fresh["token_expires_in"], 600);

        // The state-changing routes keep the skey authorizer: one read by the authorizer.
        env.reset();
        let (status, _) = env.call(Req::new("POST", "/logout").skey(&skey)).await;
        assert_eq!(status, 200);
        assert_eq!(env.authorizer_store.counts.reads(), 1, "{backend:?}");
        let (status, _) = env
            .call(Req::new("POST", "/logout").header("authorization", &bearer(&token)))
            .await;
        assert_eq!(
            status, 401,
            "a session JWT does not open a state-changing route"
        );
    }
}

#[tokio::test]
async fn logout_ends_the_skey_at_once_and_a_session_jwt_lives_until_its_exp() {
    let key = LocalKey::generate().expect("key");
    let pem = key.to_pem().expect("pem");
    let kid = key.kid().to_string();
    let env = jwt_env(Backend::Memory, Arc::new(key)).await;
    let login = env.login("bob").await;
    let token = login["token"].as_str().expect("token").to_string();
    let skey = login["skey"].as_str().expect("skey").to_string();
    let (status, _) = env.call(Req::new("POST", "/logout").skey(&skey)).await;
    assert_eq!(status, 200);

    // No new session JWT for a dead skey, at once.
    let (status, body) = env.call(Req::new("POST", "/token").skey(&skey)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("SESSION_EXPIRED"))
    );
    // The one issued before the logout lives until its exp: the documented bound.
    let (status, _) = env
        .call(Req::new("GET", "/me").header("authorization", &bearer(&token)))
        .await;
    assert_eq!(status, 200);
    // The same claims past their exp are refused by the gateway.
    let mut expired = claims_of(&token);
    let now = SystemClock.now();
    expired.insert("iat".into(), json!(now - 700));
    expired.insert("nbf".into(), json!(now - 700));
    expired.insert("exp".into(), json!(now - 100));
    let (status, body) = env
        .call(
            Req::new("GET", "/me")
                .header("authorization", &bearer(&sign_rs256(&pem, &kid, &expired))),
        )
        .await;
    assert_eq!((status, body), (401, json!({"message": "Unauthorized"})));
}

/// An RS256 token of these claims signed with a PKCS#8 PEM key.
fn sign_rs256(pem: &str, kid: &str, claims: &Map<String, Value>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).expect("PEM"),
    )
    .expect("signed")
}

/// The local server in jwt mode with a key the test knows.
async fn jwt_server(extra: &[(&str, &str)]) -> (LocalServer, String, std::path::PathBuf) {
    let key = LocalKey::generate().expect("key");
    let pem = key.to_pem().expect("pem");
    let file = temp_path("jwt-key.pem");
    std::fs::write(&file, &pem).expect("key file");
    let path = file.to_str().expect("utf-8").to_string();
    let mut env = vec![("WXAUTH_JWT_KEY_FILE", path.as_str())];
    env.extend_from_slice(extra);
    let server = LocalServer::start(&["--auth-mode", "jwt"], &env).await;
    (server, pem, file)
}

async fn me_with(server: &LocalServer, authorization: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    server.send("GET", "/me", &headers, None).await
}

#[tokio::test]
async fn hostile_session_jwts_are_refused_as_api_gateway_refuses_them() {
    let (server, pem, file) = jwt_server(&[]).await;
    let code = server.dev_code("mallory").await;
    let login = server.login(&code).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let token = login.body["token"].as_str().expect("token").to_string();
    let claims = claims_of(&token);
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().expect("header"))
            .expect("b64"),
    )
    .expect("json");
    let kid = header["kid"].as_str().expect("kid").to_string();
    let ok = me_with(&server, Some(&bearer(&token))).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // The token alone (without "Bearer") is accepted too, as API Gateway does.
    assert_eq!(me_with(&server, Some(&token)).await.status, 200);

    let now = SystemClock.now();
    let with = |changes: &[(&str, Value)]| {
        let mut c = claims.clone();
        for (k, v) in changes {
            c.insert(k.to_string(), v.clone());
        }
        c
    };
    let jwks = server
        .send("GET", "/.well-known/jwks.json", &[], None)
        .await;
    assert_eq!(
        jwks.headers["cache-control"].to_str().expect("header"),
        "public, max-age=300"
    );
    let public_jwk = &jwks.body["keys"][0];
    // HS256 with the public key as the HMAC secret (the classic algorithm confusion).
    let hs256 = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.clone());
        jsonwebtoken::encode(
            &h,
            &claims,
            &EncodingKey::from_secret(public_jwk.to_string().as_bytes()),
        )
        .expect("hs256")
    };
    // alg none, no signature.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
    );
    // Another key, with a kid the JWKS does not have.
    let other = LocalKey::generate().expect("key");
    let unknown_kid = sign_rs256(&other.to_pem().expect("pem"), other.kid(), &claims);
    // Another key claiming the published kid.
    let forged = sign_rs256(&other.to_pem().expect("pem"), &kid, &claims);
    let cases: Vec<(&str, String)> = vec![
        ("alg none", none),
        ("HS256 signed with the public key", hs256),
        ("unknown kid", unknown_kid),
        ("another key under the published kid", forged),
        (
            "an appid this deployment does not serve",
            sign_rs256(&pem, &kid, &with(&[("aud", json!("wx00000000000000ff"))])),
        ),
        (
            "another issuer",
            sign_rs256(
                &pem,
                &kid,
                &with(&[("iss", json!("https://evil.example.com"))]),
            ),
        ),
        (
            "expired",
            sign_rs256(
                &pem,
                &kid,
                &with(&[
                    ("iat", json!(now - 700)),
                    ("nbf", json!(now - 700)),
                    ("exp", json!(now - 100)),
                ]),
            ),
        ),
        (
            "not yet valid",
            sign_rs256(
                &pem,
                &kid,
                &with(&[("nbf", json!(now + 300)), ("exp", json!(now + 900))]),
            ),
        ),
        (
            "issued in the future",
            sign_rs256(
                &pem,
                &kid,
                &with(&[("iat", json!(now + 300)), ("exp", json!(now + 900))]),
            ),
        ),
        ("truncated", token[..token.len() - 10].to_string()),
        (
            "no signature",
            token.rsplit_once('.').expect("parts").0.to_string() + ".",
        ),
        ("payload swapped", {
            let mut parts: Vec<&str> = token.split('.').collect();
            let evil = URL_SAFE_NO_PAD
                .encode(Value::Object(with(&[("sub", json!("someone-else"))])).to_string());
            parts[1] = &evil;
            parts.join(".")
        }),
        ("garbage", "not.a.jwt".to_string()),
    ];
    for (what, bad) in &cases {
        let r = me_with(&server, Some(&bearer(bad))).await;
        assert_eq!(
            (r.status, &r.body),
            (401, &json!({"message": "Unauthorized"})),
            "{what}"
        );
    }
    for (what, header) in [
        ("no header", None),
        ("empty", Some("")),
        ("Bearer alone", Some("Bearer ")),
        ("another scheme", Some(&*format!("Basic {token}"))),
    ] {
        let r = me_with(&server, header).await;
        assert_eq!(
            (r.status, &r.body),
            (401, &json!({"message": "Unauthorized"})),
            "{what}"
        );
    }
    // Still fine after all of that.
    assert_eq!(me_with(&server, Some(&bearer(&token))).await.status, 200);
    // Counted in the local gateway: no Lambda authorizer ran for any of these requests, and the
    // userinfo function ran only for the three that were let through.
    let metrics = server.send("GET", "/dev/metrics", &[], None).await;
    let samples = |name: &str, dim: &str, value: Option<&str>| {
        metrics.body[name]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| value.is_none_or(|v| e["dimensions"][dim] == v))
            .map(|e| e["samples"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!(
        samples("AuthorizerDecisions", "Decision", None),
        0,
        "{}",
        metrics.body
    );
    assert_eq!(
        samples("Requests", "Function", Some("userinfo")),
        3,
        "{}",
        metrics.body
    );
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    assert!(
        !output.contains(&token),
        "a session JWT never reaches the log"
    );
    remove(&file);
}

#[tokio::test]
async fn a_third_party_library_verifies_a_session_jwt_against_the_served_jwks() {
    let (server, _pem, file) = jwt_server(&[]).await;
    let code = server.dev_code("carol").await;
    let login = server.login(&code).await;
    let token = login.body["token"].as_str().expect("token").to_string();
    let discovery = server
        .send("GET", "/.well-known/openid-configuration", &[], None)
        .await;
    assert_eq!(discovery.status, 200);
    assert_eq!(discovery.body["issuer"], json!(server.url));
    let jwks_uri = discovery.body["jwks_uri"].as_str().expect("jwks_uri");
    assert_eq!(jwks_uri, format!("{}/.well-known/jwks.json", server.url));
    // PyJWT (PyPI), fetching the JWKS over HTTP as any verifier would.
    let script = r#"
import json, sys, jwt
token, jwks_uri, issuer, audience = sys.argv[1:5]
key = jwt.PyJWKClient(jwks_uri).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=issuer)
try:
    jwt.decode(token, key.key, algorithms=["RS256"], audience="wx00000000000000ff", issuer=issuer)
    print("WRONG AUDIENCE ACCEPTED")
except jwt.InvalidAudienceError:
    pass
print(json.dumps(claims))
"#;
    let out = tokio::process::Command::new(wxauth_tests::python())
        .args(["-c", script, &token, jwks_uri, &server.url, SIMULATOR_APPID])
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "PyJWT refused the session JWT:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verified: Value = serde_json::from_str(stdout.trim()).expect("claims JSON");
    let me = me_with(&server, Some(&bearer(&token))).await;
    assert_eq!(verified["sub"], me.body["openid"]);
    assert_eq!(verified["sid"], claims_of(&token)["sid"]);
    // Renewals and discovery are not logins in the metrics.
    let skey = login.body["skey"].as_str().expect("skey");
    assert_eq!(
        server.call("POST", "/token", Some(skey), None).await.status,
        200
    );
    let metrics = server.send("GET", "/dev/metrics", &[], None).await;
    let logins: u64 = metrics.body["Logins"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["samples"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(logins, 1, "{}", metrics.body);
    let _ = server.stop().await;
    remove(&file);
}

#[tokio::test]
async fn skey_mode_has_no_session_jwts() {
    let server = LocalServer::start(&[], &[]).await;
    let code = server.dev_code("dave").await;
    let login = server.login(&code).await;
    assert_eq!(login.status, 200);
    assert!(login.body.get("token").is_none(), "{}", login.text);
    for (method, path) in [
        ("POST", "/token"),
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/.well-known/jwks.json"),
    ] {
        let r = server.send(method, path, &[], None).await;
        assert_eq!(
            (r.status, &r.body),
            (404, &json!({"message": "Not Found"})),
            "{method} {path}"
        );
    }
    let _ = server.stop().await;
    // The login function itself, in skey mode: the routes of JWT mode do not exist (404, not 405).
    let env = wxauth_tests::env::Env::new(Backend::Memory).await;
    for (method, path) in [("POST", "/token"), ("GET", "/.well-known/jwks.json")] {
        let (status, body) = wxauth_tests::events::parts(
            env.login
                .handle(Req::new(method, path).into_request())
                .await,
        );
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{method} {path}"
        );
    }
}

/// A SessionJwts over KMS keys in moto.
async fn kms_jwts(key_ids: Vec<String>, endpoint: &str) -> Arc<KmsKeys> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    Arc::new(
        KmsKeys::with_endpoint(&s3::sdk_config(), http, key_ids, Some(endpoint)).expect("KMS keys"),
    )
}

fn verify_with_jwks(token: &str, jwks: &Value, audience: &str, issuer: &str) -> Map<String, Value> {
    let kid = jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid");
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == json!(kid))
        .expect("the signing key is published");
    let decoding = DecodingKey::from_rsa_components(
        key["n"].as_str().expect("n"),
        key["e"].as_str().expect("e"),
    )
    .expect("RSA key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &validation)
        .expect("verifies")
        .claims
}

#[tokio::test]
async fn kms_keys_sign_session_jwts_and_publish_both_keys_of_a_rotation() {
    let current = kms::fresh_signing_key().await;
    let next = kms::fresh_signing_key().await;
    let signer = kms_jwts(vec![current.clone(), next.clone()], &kms::endpoint()).await;
    assert_eq!(signer.kid(), current);
    let env = jwt_env(Backend::Dynamo, signer.clone()).await;
    let login = env.login("erin").await;
    let token = login["token"].as_str().expect("KMS-signed session JWT");
    let (status, jwks) = env.call(Req::new("GET", "/.well-known/jwks.json")).await;
    assert_eq!(status, 200);
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(
        kids,
        [current.as_str(), next.as_str()],
        "both keys, the signing one first"
    );
    let claims = verify_with_jwks(token, &jwks, APPID, ISSUER);
    assert_eq!(claims["sub"], json!(env.sim.openid_for("erin")));
    let (status, me) = env
        .call(Req::new("GET", "/me").header("authorization", &bearer(token)))
        .await;
    assert_eq!(status, 200, "{me}");

    // A key KMS does not know: MISCONFIGURED at /token, and the login still gives its skey.
    let wrong = kms_jwts(
        vec!["00000000-0000-0000-0000-000000000000".into()],
        &kms::endpoint(),
    )
    .await;
    let env = jwt_env(Backend::Memory, wrong).await;
    let login = env.login("frank").await;
    assert_eq!(login["token"], Value::Null, "{login}");
    let skey = login["skey"].as_str().expect("skey");
    let (status, body) = env.call(Req::new("POST", "/token").skey(skey)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("MISCONFIGURED"))
    );
}

#[tokio::test]
async fn a_login_whose_session_jwt_cannot_be_signed_keeps_its_skey() {
    let dead = DeadPort::new();
    let signer = kms_jwts(
        vec!["1234abcd-12ab-34cd-56ef-1234567890ab".into()],
        &dead.url(),
    )
    .await;
    let env = jwt_env(Backend::Memory, signer).await;
    let login = env.login("grace").await;
    assert_eq!(login["token"], Value::Null, "{login}");
    let skey = login["skey"].as_str().expect("the skey is kept");
    let (status, body) = env.call(Req::new("POST", "/token").skey(skey)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("SIGNING_UNAVAILABLE"))
    );
    // The skey itself works: the skey routes.
    let (status, _) = env.call(Req::new("POST", "/logout").skey(skey)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_login_binary_signs_with_kms_in_jwt_mode() {
    let key = kms::fresh_signing_key().await;
    let Deployed { sim, mut env } = deployed().await;
    env.extend([
        ("AWS_ENDPOINT_URL_KMS", kms::endpoint()),
        ("WXAUTH_AUTH_MODE", "jwt".to_string()),
        ("WXAUTH_JWT_KMS_KEY_IDS", key.clone()),
        ("WXAUTH_JWT_LIFETIME_SECONDS", "900".to_string()),
    ]);
    let runtime = FakeRuntime::start().await;
    let process = FunctionProcess::spawn(&bins::path("login"), &runtime, &env);
    let code = sim.mint_code("heidi");
    let event = Req::new("POST", "/login")
        .json(&json!({"code": code}))
        .v2_event();
    let (status, login) = http_answer(&runtime.invoke(event).await);
    assert_eq!(status, 200, "{login}\n{}", process.logs());
    let token = login["token"].as_str().expect("token");
    assert_eq!(login["token_expires_in"], 900);
    // The issuer is the HTTP API the request came through (requestContext.apiId), as the template
    // gives the JWT authorizer.
    let issuer =
        wxauth::session_jwt::api_issuer(wxauth_tests::events::API_ID, wxauth_tests::events::REGION)
            .expect("issuer");
    let (status, discovery) = http_answer(
        &runtime
            .invoke(Req::new("GET", "/.well-known/openid-configuration").v2_event())
            .await,
    );
    assert_eq!(
        (status, discovery["issuer"].as_str()),
        (200, Some(issuer.as_str()))
    );
    let (status, jwks) = http_answer(
        &runtime
            .invoke(Req::new("GET", "/.well-known/jwks.json").v2_event())
            .await,
    );
    assert_eq!(status, 200, "{jwks}");
    let claims = verify_with_jwks(token, &jwks, APPID, &issuer);
    assert_eq!(claims["sub"], json!(sim.openid_for("heidi")));
    assert_eq!(
        jsonwebtoken::decode_header(token).expect("header").kid,
        Some(key)
    );
    // POST /token with the skey, through the binary.
    let skey = login["skey"].as_str().expect("skey");
    let (status, fresh) = http_answer(
        &runtime
            .invoke(Req::new("POST", "/token").skey(skey).v2_event())
            .await,
    );
    assert_eq!(status, 200, "{fresh}");
    // The claims reach a function behind the JWT authorizer as API Gateway hands them over.
    let userinfo_rt = FakeRuntime::start().await;
    let userinfo = FunctionProcess::spawn(&bins::path("userinfo"), &userinfo_rt, &env);
    let (status, me) = http_answer(
        &userinfo_rt
            .invoke(Req::new("GET", "/me").jwt_claims(&claims).v2_event())
            .await,
    );
    assert_eq!(status, 200, "{me}\n{}", userinfo.logs());
    assert_eq!(me["openid"], json!(sim.openid_for("heidi")));
    assert!(
        !process.logs().contains(token),
        "no session JWT in the logs"
    );
}

#[tokio::test]
async fn with_a_data_file_the_key_and_its_session_jwts_survive_a_restart() {
    let data = temp_path("jwt-data.json");
    let data_arg = data.to_str().expect("utf-8").to_string();
    let server = LocalServer::start(&["--auth-mode", "jwt", "--data", &data_arg], &[]).await;
    let code = server.dev_code("ivan").await;
    let login = server.login(&code).await;
    let token = login.body["token"].as_str().expect("token").to_string();
    let listen = server.url.trim_start_matches("http://").to_string();
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    let key_file = std::path::PathBuf::from(format!("{data_arg}.jwt-key.pem"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is its owner's only");
    }
    // Same address (the issuer is the server's URL), same data file: the token still opens GET /me.
    let server = LocalServer::start(
        &[
            "--auth-mode",
            "jwt",
            "--data",
            &data_arg,
            "--listen",
            &listen,
        ],
        &[],
    )
    .await;
    let me = me_with(&server, Some(&bearer(&token))).await;
    assert_eq!(me.status, 200, "{}", me.text);
    let _ = server.stop().await;
    remove(&key_file);
    remove(&data);
    let mut avatars = data.into_os_string();
    avatars.push(".avatars");
    let _ = std::fs::remove_dir_all(avatars);
}
