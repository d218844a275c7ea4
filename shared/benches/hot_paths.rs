//! Criterion benchmarks of the hot paths (BENCHMARKS.md): the authorizer's decision on a live session
//! held by the memory store (event parsing included), the rawData signature check, the decryption of an
//! official-size encryptedData (~400 bytes), the parsing of API Gateway events, and in `jwt` mode a
//! session JWT signed in the process (RS256 with an RSA-2048 key, aws-lc).
//!
//! `cargo bench -p wxauth --bench hot_paths` (or `scripts/bench --criterion`).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use wxauth::clock::ManualClock;
use wxauth::crypto::{self, Expect};
use wxauth::handlers::authorizer::Authorizer;
use wxauth::secret::Secret;
use wxauth::session_jwt::local::LocalKey;
use wxauth::session_jwt::{DEFAULT_LIFETIME, Issuer, JwtSigner, SessionJwts};
use wxauth::sessions::Sessions;
use wxauth::store::memory::MemoryStore;

const APPID: &str = "wx4f4bc4dec97d474b";
const SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
const NOW: i64 = 1_795_000_000;

/// An HTTP API (payload 2.0) authorizer event as API Gateway sends it.
fn authorizer_event(skey: &str) -> Value {
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/$default/GET/me",
        "identitySource": [skey],
        "routeKey": "GET /me",
        "rawPath": "/me",
        "rawQueryString": "",
        "cookies": [],
        "headers": {
            "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "user-agent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-proto": "https",
            "x-wx-skey": skey
        },
        "queryStringParameters": {},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abcdef1234",
            "http": {"method": "GET", "path": "/me", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50"},
            "requestId": "JKJaXmPLvHcESHA=", "routeKey": "GET /me", "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000", "timeEpoch": 1_795_000_000_000_i64
        },
        "pathParameters": {},
        "stageVariables": {}
    })
}

/// The decrypted user info WeChat sends (about 400 bytes of JSON, so about 400 bytes of ciphertext).
fn user_info_plaintext() -> String {
    json!({
        "openId": "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
        "nickName": "Band",
        "gender": 1,
        "language": "zh_CN",
        "city": "Guangzhou",
        "province": "Guangdong",
        "country": "CN",
        "avatarUrl": "http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0",
        "unionId": "ocMvos6NjeKLIBqg5Mr9QjxrP1FA",
        "watermark": {"timestamp": 1_477_314_187, "appid": APPID}
    })
    .to_string()
}

fn bench_authorizer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = Arc::new(MemoryStore::new());
    let sessions = Sessions::new(store, Arc::new(ManualClock::new(NOW)), 7 * 86400, 2 * 86400);
    let skey = rt
        .block_on(sessions.create(
            &wxauth::accounts::Identity {
                appid: "wx4f4bc4dec97d474b",
                openid: "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
                unionid: Some("u1"),
                first_app: true,
            },
            &Secret::new(SESSION_KEY),
        ))
        .expect("session")
        .skey;
    let authorizer = Authorizer::new(sessions);
    let event = authorizer_event(skey.expose());
    let answer = rt
        .block_on(authorizer.handle(event.clone()))
        .expect("decision");
    assert_eq!(answer["isAuthorized"], true);
    // What the function does per invocation: the runtime hands over the event as JSON text.
    let text = serde_json::to_vec(&event).expect("json");
    c.bench_function(
        "authorizer: decision on a live session (memory store, event parsed)",
        |b| {
            b.iter(|| {
                let event: Value = serde_json::from_slice(black_box(&text)).expect("json");
                rt.block_on(authorizer.handle(event)).expect("decision")
            })
        },
    );
    let unknown = authorizer_event(&crypto::generate_skey().expect("rng"));
    let unknown = serde_json::to_vec(&unknown).expect("json");
    c.bench_function(
        "authorizer: denial of an unknown skey (memory store)",
        |b| {
            b.iter(|| {
                let event: Value = serde_json::from_slice(black_box(&unknown)).expect("json");
                rt.block_on(authorizer.handle(event)).expect("decision")
            })
        },
    );
}

fn bench_crypto(c: &mut Criterion) {
    let raw_data = r#"{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/aSKcBBPpibyKNicHNTMM0qJVh8Kjgiak2AHWr8MHM4WgMEm7GFhsf8OYrySdbvAMvTsw3mo8ibKicsnfN5pRjl1p8HQ/0"}"#;
    let signature = crypto::sign_raw_data(raw_data, SESSION_KEY);
    c.bench_function("signature: sha1(rawData + session_key) check", |b| {
        b.iter(|| {
            crypto::verify_signature(
                black_box(raw_data),
                black_box(SESSION_KEY),
                black_box(&signature),
            )
        })
    });

    let plaintext = user_info_plaintext();
    let iv = [7u8; 16];
    let ciphertext = crypto::encrypt(SESSION_KEY, plaintext.as_bytes(), &iv).expect("encrypt");
    let encrypted = crypto::base64_encode(&ciphertext);
    let iv = crypto::base64_encode(&iv);
    let expect = Expect {
        appid: APPID,
        openid: Some("oGZUI0egBJY1zhBYw2KhdUfwVJJE"),
    };
    crypto::open_user_data(SESSION_KEY, &encrypted, &iv, expect).expect("opens");
    c.bench_function(
        &format!(
            "decrypt: encryptedData of {} bytes (base64, AES-CBC, JSON, watermark)",
            ciphertext.len()
        ),
        |b| {
            b.iter(|| {
                crypto::open_user_data(
                    black_box(SESSION_KEY),
                    black_box(&encrypted),
                    black_box(&iv),
                    expect,
                )
            })
        },
    );
    c.bench_function("skey: sha256 of the header (store key)", |b| {
        let skey = crypto::generate_skey().expect("rng");
        b.iter(|| crypto::skey_hash(black_box(&skey)))
    });
}

fn bench_events(c: &mut Criterion) {
    let text = serde_json::to_vec(&authorizer_event(&crypto::generate_skey().expect("rng")))
        .expect("json");
    c.bench_function("event: authorizer v2 JSON -> typed request", |b| {
        b.iter(|| {
            let v: Value = serde_json::from_slice(black_box(&text)).expect("json");
            serde_json::from_value::<aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request>(v)
                .expect("typed")
        })
    });
    let login = json!({
        "version": "2.0", "routeKey": "POST /login", "rawPath": "/login", "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abcdef1234.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"accountId": "123456789012", "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abcdef1234",
            "http": {"method": "POST", "path": "/login", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "x"},
            "requestId": "r", "routeKey": "POST /login", "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000", "timeEpoch": 1_795_000_000_000_i64},
        "body": "{\"code\":\"0a3bXk000nN5wV1Ahm300Lm2XF1bXk0r\"}",
        "isBase64Encoded": false
    })
    .to_string();
    c.bench_function("event: HTTP API v2 JSON -> lambda_http request", |b| {
        b.iter(|| lambda_http::request::from_str(black_box(&login)).expect("request"))
    });
}

/// `jwt` mode with the key in the process (the alternative to KMS, BENCHMARKS.md "KMS or a key in
/// SSM"): the RS256 signature alone, and a whole session JWT (claims, JSON, base64url, signature).
fn bench_session_jwt(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = Arc::new(LocalKey::generate().expect("RSA key"));
    let clock = Arc::new(ManualClock::new(NOW));
    let sessions = Sessions::new(
        Arc::new(MemoryStore::new()),
        clock.clone(),
        7 * 86400,
        2 * 86400,
    );
    let session = rt
        .block_on(sessions.create(
            &wxauth::accounts::Identity {
                appid: APPID,
                openid: "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
                unionid: Some("ocMvos6NjeKLIBqg5Mr9QjxrP1FA"),
                first_app: true,
            },
            &Secret::new(SESSION_KEY),
        ))
        .expect("session")
        .session;
    let issuer = "https://abcdef1234.execute-api.us-east-1.amazonaws.com";
    let jwts = SessionJwts::new(
        key.clone(),
        Issuer::Fixed(issuer.into()),
        DEFAULT_LIFETIME,
        clock,
    );
    let token = rt
        .block_on(jwts.issue(&session, issuer))
        .expect("signed")
        .token;
    let (input, _) = token.rsplit_once('.').expect("three parts");
    c.bench_function(
        &format!(
            "session JWT: RS256 signature (RSA-2048, aws-lc) of a {}-byte signing input",
            input.len()
        ),
        |b| {
            b.iter(|| {
                rt.block_on(key.sign(black_box(input.as_bytes())))
                    .expect("signed")
            })
        },
    );
    c.bench_function(
        "session JWT: issue (claims, JSON, base64url, RS256 in-process)",
        |b| {
            b.iter(|| {
                rt.block_on(jwts.issue(black_box(&session), issuer))
                    .expect("signed")
            })
        },
    );
}

criterion_group!(
    benches,
    bench_authorizer,
    bench_crypto,
    bench_events,
    bench_session_jwt
);
criterion_main!(benches);
