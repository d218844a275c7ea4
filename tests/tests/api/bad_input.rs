//! Bad input on every route, through the real local server binary over HTTP: one table of cases, each
//! with the documented 4xx answer. After every case the server must still serve (a health request with
//! a live session), never answer 5xx, and never echo a secret.
//!
//! Two servers run the table:
//! - `wxauth-local` in simulator mode with a `--data` store file: the file is edited between two runs
//!   of the server to make sessions expired, idle, or without their user item;
//! - `wxauth-local` against a WeChat given as `WX_API_BASE` (a simulator in this process), for the
//!   crypto cases that need the user's session_key to seal chosen plaintexts (watermark of another
//!   appid, another user's openId, valid padding around invalid JSON...).

use std::time::Duration;

use serde_json::{Value, json};
use wxauth::crypto;
use wxauth_local::simulator::Simulator;
use wxauth_tests::env::{APPID, SECRET};
use wxauth_tests::local::{LocalServer, remove, temp_path};
use wxauth_tests::uploads::{CONTENT_TYPE, Form, avatar_form, png_of_size};

/// What a case must answer.
#[derive(Debug, Clone)]
enum Want {
    /// A function's error: status and `error.code`.
    Error(u16, &'static str),
    /// The gateway's own answer: status and `message`.
    Gateway(u16, &'static str),
    /// A success that ignores the oddity (documented leniency).
    Ok(u16),
}

/// The `X-WX-Skey` header(s) of a case.
#[derive(Debug, Clone)]
enum Auth {
    None,
    /// The live session of the health checks.
    Live,
    /// One header value, raw bytes.
    Raw(Vec<u8>),
    /// The header twice.
    Twice(String, String),
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    method: &'static str,
    path: String,
    auth: Auth,
    body: Option<Vec<u8>>,
    content_type: Option<&'static str>,
    want: Want,
}

fn case(
    name: &str,
    method: &'static str,
    path: &str,
    auth: Auth,
    body: Option<Vec<u8>>,
    want: Want,
) -> Case {
    Case {
        name: name.to_string(),
        method,
        path: path.to_string(),
        auth,
        body,
        content_type: Some("application/json"),
        want,
    }
}

fn text(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

fn js(v: Value) -> Option<Vec<u8>> {
    Some(v.to_string().into_bytes())
}

fn b64(bytes: &[u8]) -> String {
    crypto::base64_encode(bytes)
}

const BAD: Want = Want::Error(400, "BAD_REQUEST");
const DECRYPT: Want = Want::Error(400, "DECRYPT_FAILED");
const PROFILE: Want = Want::Error(400, "INVALID_PROFILE");
const TOO_LARGE: Want = Want::Error(413, "PAYLOAD_TOO_LARGE");
const AVATAR: Want = Want::Error(400, "INVALID_AVATAR");
const UNAUTHORIZED: Want = Want::Gateway(401, "Unauthorized");
const FORBIDDEN: Want = Want::Gateway(403, "Forbidden");
const NOT_FOUND: Want = Want::Gateway(404, "Not Found");

struct Runner {
    http: reqwest::Client,
    url: String,
    live: String,
    /// Strings no answer may contain.
    secrets: Vec<String>,
    ran: usize,
}

impl Runner {
    fn new(server: &LocalServer, live: &str) -> Runner {
        Runner {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            url: server.url.clone(),
            live: live.to_string(),
            secrets: vec![live.to_string()],
            ran: 0,
        }
    }

    async fn send(&self, c: &Case) -> (u16, String) {
        let method = reqwest::Method::from_bytes(c.method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{}", self.url, c.path));
        let header = |v: &[u8]| reqwest::header::HeaderValue::from_bytes(v).expect("header value");
        match &c.auth {
            Auth::None => {}
            Auth::Live => req = req.header("x-wx-skey", header(self.live.as_bytes())),
            Auth::Raw(v) => req = req.header("x-wx-skey", header(v)),
            Auth::Twice(a, b) => {
                req = req
                    .header("x-wx-skey", header(a.as_bytes()))
                    .header("x-wx-skey", header(b.as_bytes()))
            }
        }
        if let Some(ct) = c.content_type {
            req = req.header("content-type", ct);
        }
        if let Some(b) = &c.body {
            req = req.body(b.clone());
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: no answer: {e}", c.name));
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// Runs one case, then checks that the server still serves the live session.
    async fn run(&mut self, c: &Case) {
        let (status, text) = self.send(c).await;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status < 500, "{}: {status} {text}", c.name);
        match &c.want {
            Want::Error(want_status, want_code) => {
                assert_eq!(
                    (status, body["error"]["code"].as_str()),
                    (*want_status, Some(*want_code)),
                    "{}: {text}",
                    c.name
                );
                let obj = body.as_object().expect("object");
                assert_eq!(obj.len(), 1, "{}: {text}", c.name);
                let err = body["error"].as_object().expect("error object");
                assert_eq!(err.len(), 2, "{}: {text}", c.name);
                assert!(
                    err["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty() && m.len() < 300),
                    "{}: {text}",
                    c.name
                );
            }
            Want::Gateway(want_status, message) => {
                assert_eq!(status, *want_status, "{}: {text}", c.name);
                assert_eq!(body, json!({ "message": message }), "{}", c.name);
            }
            Want::Ok(want_status) => assert_eq!(status, *want_status, "{}: {text}", c.name),
        }
        for s in &self.secrets {
            assert!(
                !text.contains(s.as_str()),
                "{}: the answer echoes a secret",
                c.name
            );
        }
        // The server keeps serving, and the live session is intact.
        let health = self
            .http
            .get(format!("{}/me", self.url))
            .header("x-wx-skey", &self.live)
            .send()
            .await
            .unwrap_or_else(|e| panic!("after {}: the server does not answer: {e}", c.name));
        assert_eq!(
            health.status().as_u16(),
            200,
            "after {}: health check",
            c.name
        );
        self.ran += 1;
    }
}

/// A body of exactly `n` bytes: a login with an unknown code, padded with spaces.
fn login_body_of(n: usize) -> Vec<u8> {
    let mut b = br#"{"code":"never-minted-code"}"#.to_vec();
    assert!(n >= b.len());
    b.resize(n, b' ');
    b
}

fn big_string_body(field: &str, n: usize) -> Option<Vec<u8>> {
    js(json!({ field: "a".repeat(n) }))
}

/// Cases of one route, added one by one or as a table of (name, body, answer).
#[derive(Default)]
struct Cases(Vec<Case>);

impl Cases {
    fn add(
        &mut self,
        name: &str,
        method: &'static str,
        path: &str,
        auth: Auth,
        body: Option<Vec<u8>>,
        want: Want,
    ) {
        self.0.push(case(name, method, path, auth, body, want));
    }

    fn push(&mut self, c: Case) {
        self.0.push(c);
    }

    /// Cases of one method, path and skey: (name, body, answer) each.
    fn table<const N: usize>(
        &mut self,
        method: &'static str,
        path: &str,
        auth: Auth,
        rows: [(&str, Option<Vec<u8>>, Want); N],
    ) {
        for (name, body, want) in rows {
            self.add(name, method, path, auth.clone(), body, want);
        }
    }
}

/// The cases that need no particular session_key: every route, every shape of bad body and skey,
/// one table per route.
fn generic_cases(stale: &StaleSkeys) -> Vec<Case> {
    [
        login_cases(),
        skey_cases(stale),
        userinfo_cases(),
        profile_cases(),
        phone_cases(),
        logout_cases(),
        avatar_cases(),
        routes_cases(),
    ]
    .into_iter()
    .flat_map(|c| c.0)
    .collect()
}

/// POST /login: broken, truncated, wrong types, missing, extra, empty, huge, non-UTF-8.
fn login_cases() -> Cases {
    let mut cases = Cases::default();
    let deep = format!(
        r#"{{"code":"x","a":{}{}}}"#,
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    cases.table(
        "POST",
        "/login",
        Auth::None,
        [
            ("login: broken JSON", text(r#"{"code":"#), BAD),
            ("login: truncated JSON", text(r#"{"code":"abc""#), BAD),
            ("login: trailing garbage", text(r#"{"code":"abc"}x"#), BAD),
            ("login: empty body", None, BAD),
            ("login: blank body", text(" \n\t "), BAD),
            ("login: null", text("null"), BAD),
            ("login: array", text(r#"["code"]"#), BAD),
            ("login: string", text(r#""code""#), BAD),
            ("login: code is a number", js(json!({"code": 123})), BAD),
            ("login: code is null", js(json!({"code": null})), BAD),
            ("login: code is an array", js(json!({"code": ["a"]})), BAD),
            (
                "login: code is an object",
                js(json!({"code": {"a": 1}})),
                BAD,
            ),
            ("login: missing code", js(json!({})), BAD),
            ("login: misspelt code", js(json!({"cod": "x"})), BAD),
            ("login: empty code", js(json!({"code": ""})), BAD),
            ("login: blank code", js(json!({"code": "   "})), BAD),
            ("login: code with a space", js(json!({"code": "a b"})), BAD),
            ("login: code with NUL", js(json!({"code": "a\u{0}b"})), BAD),
            ("login: code with newline", js(json!({"code": "a\nb"})), BAD),
            (
                "login: code of 257 bytes",
                js(json!({"code": "a".repeat(257)})),
                BAD,
            ),
            (
                "login: code of 100 four-byte chars",
                js(json!({"code": "😀".repeat(100)})),
                BAD,
            ),
            (
                "login: huge code (70 KiB)",
                big_string_body("code", 70 * 1024),
                TOO_LARGE,
            ),
            (
                "login: body of 64 KiB + 1",
                Some(login_body_of(64 * 1024 + 1)),
                TOO_LARGE,
            ),
            (
                "login: body of exactly 64 KiB",
                Some(login_body_of(64 * 1024)),
                Want::Error(400, "INVALID_CODE"),
            ),
            (
                "login: body over 10 MB",
                Some(login_body_of(10 * 1024 * 1024 + 1)),
                Want::Gateway(413, "Request Entity Too Large"),
            ),
            (
                "login: non-UTF-8 bytes",
                Some(b"{\"code\":\"\xff\xfe\"}".to_vec()),
                BAD,
            ),
            (
                "login: UTF-8 BOM",
                Some(b"\xef\xbb\xbf{\"code\":\"x\"}".to_vec()),
                BAD,
            ),
            (
                "login: lone surrogate escape",
                text(r#"{"code":"\ud800"}"#),
                BAD,
            ),
            (
                "login: number out of range",
                text(r#"{"code":"x","n":1e999}"#),
                BAD,
            ),
            ("login: nested 20000 deep", text(&deep), BAD),
            (
                "login: extra fields are ignored",
                js(json!({"code": "never-minted", "detail": {"errMsg": "login:ok"}, "x": [1, 2]})),
                Want::Error(400, "INVALID_CODE"),
            ),
            (
                "login: duplicate keys, the last wins",
                text(r#"{"code":12,"code":"never-minted"}"#),
                Want::Error(400, "INVALID_CODE"),
            ),
            (
                "login: unknown code",
                js(json!({"code": "never-minted"})),
                Want::Error(400, "INVALID_CODE"),
            ),
            (
                "login: appid of the wrong shape",
                js(json!({"code": "never-minted", "appid": "wx1234"})),
                BAD,
            ),
            (
                "login: appid of 10 KB",
                js(json!({"code": "never-minted", "appid": "wx".repeat(5 * 1024)})),
                BAD,
            ),
            (
                "login: appid is a number",
                js(json!({"code": "never-minted", "appid": 1234})),
                BAD,
            ),
            (
                "login: appid of another deployment",
                js(json!({"code": "never-minted", "appid": "wxotherdeploy00001"})),
                Want::Error(400, "UNKNOWN_APP"),
            ),
            (
                "login: appid null is no appid",
                js(json!({"code": "never-minted", "appid": null})),
                Want::Error(400, "INVALID_CODE"),
            ),
        ],
    );
    let mut plain = case(
        "login: text/plain is fine",
        "POST",
        "/login",
        Auth::None,
        js(json!({"code": "never-minted"})),
        Want::Error(400, "INVALID_CODE"),
    );
    plain.content_type = Some("text/plain");
    cases.push(plain);
    cases
}

/// The skey on every authorized route: missing, blank, too long, too short, odd characters, unknown,
/// expired, idle, revoked, deleted.
fn skey_cases(stale: &StaleSkeys) -> Cases {
    let mut cases = Cases::default();
    let live_like = crypto::generate_skey().expect("rng");
    for (path, method) in [
        ("/me", "GET"),
        ("/userinfo", "POST"),
        ("/logout", "POST"),
        ("/profile", "PUT"),
        ("/phone", "POST"),
    ] {
        cases.add(
            &format!("{method} {path}: no skey"),
            method,
            path,
            Auth::None,
            None,
            UNAUTHORIZED,
        );
        cases.add(
            &format!("{method} {path}: unknown skey"),
            method,
            path,
            Auth::Raw(live_like.clone().into_bytes()),
            js(json!({})),
            FORBIDDEN,
        );
    }
    let skey_cases: Vec<(&str, Vec<u8>)> = vec![
        ("blank skey", b"   ".to_vec()),
        ("skey of 44 chars", format!("{live_like}A").into_bytes()),
        ("skey of 42 chars", live_like.as_bytes()[..42].to_vec()),
        ("skey of 4096 chars", "A".repeat(4096).into_bytes()),
        (
            "skey with + and /",
            format!("{}+/", &live_like[..41]).into_bytes(),
        ),
        (
            "skey with padding",
            format!("{}=", &live_like[..42]).into_bytes(),
        ),
        (
            "skey with a space inside",
            format!("{} {}", &live_like[..21], &live_like[22..]).into_bytes(),
        ),
        (
            "skey with non-ASCII bytes",
            [&live_like.as_bytes()[..41], "é".as_bytes()].concat(),
        ),
        (
            "skey with a 0xff byte",
            [&live_like.as_bytes()[..42], &[0xff]].concat(),
        ),
        (
            "skey that is a hash",
            crypto::skey_hash(&live_like).into_bytes(),
        ),
        ("expired skey", stale.expired.clone().into_bytes()),
        ("idle skey", stale.idle.clone().into_bytes()),
        ("revoked skey", stale.revoked.clone().into_bytes()),
        (
            "skey revoked by logout all",
            stale.revoked_all.clone().into_bytes(),
        ),
        (
            "skey whose session item was deleted",
            stale.no_session.clone().into_bytes(),
        ),
    ];
    for (name, value) in skey_cases {
        let want = if name == "blank skey" {
            UNAUTHORIZED
        } else {
            FORBIDDEN
        };
        cases.add(
            &format!("GET /me: {name}"),
            "GET",
            "/me",
            Auth::Raw(value),
            None,
            want,
        );
    }
    cases.add(
        "GET /me: two skey headers",
        "GET",
        "/me",
        Auth::Twice(stale.live.clone(), live_like.clone()),
        None,
        FORBIDDEN,
    );
    // The authorizer allows it (the session exists), the function finds no user item.
    cases.add(
        "GET /me: skey whose user item was deleted",
        "GET",
        "/me",
        Auth::Raw(stale.no_user.clone().into_bytes()),
        None,
        Want::Error(401, "SESSION_EXPIRED"),
    );
    cases.add(
        "PUT /profile: skey whose user item was deleted",
        "PUT",
        "/profile",
        Auth::Raw(stale.no_user.clone().into_bytes()),
        js(json!({"nickName": "x"})),
        Want::Error(401, "SESSION_EXPIRED"),
    );
    cases.add(
        "GET /me: a body is ignored",
        "GET",
        "/me",
        Auth::Live,
        big_string_body("x", 70 * 1024),
        Want::Ok(200),
    );
    cases
}

/// POST /userinfo: shapes that fail before decryption.
fn userinfo_cases() -> Cases {
    let mut cases = Cases::default();
    let iv16 = b64(&[7u8; 16]);
    let ct32 = b64(&[9u8; 32]);
    cases.table(
        "POST",
        "/userinfo",
        Auth::Live,
        [
            ("userinfo: broken JSON", text(r#"{"encryptedData":"#), BAD),
            ("userinfo: empty body", None, BAD),
            (
                "userinfo: missing encryptedData",
                js(json!({"iv": iv16})),
                BAD,
            ),
            (
                "userinfo: missing iv",
                js(json!({"encryptedData": ct32})),
                BAD,
            ),
            (
                "userinfo: encryptedData is a number",
                js(json!({"encryptedData": 5, "iv": iv16})),
                BAD,
            ),
            (
                "userinfo: iv is null",
                js(json!({"encryptedData": ct32, "iv": null})),
                BAD,
            ),
            (
                "userinfo: empty encryptedData",
                js(json!({"encryptedData": "", "iv": iv16})),
                BAD,
            ),
            (
                "userinfo: blank iv",
                js(json!({"encryptedData": ct32, "iv": "  "})),
                BAD,
            ),
            (
                "userinfo: bad base64 encryptedData",
                js(json!({"encryptedData": "***not base64***", "iv": iv16})),
                BAD,
            ),
            (
                "userinfo: bad base64 iv",
                js(json!({"encryptedData": ct32, "iv": "!!!!"})),
                BAD,
            ),
            (
                "userinfo: iv of 15 bytes",
                js(json!({"encryptedData": ct32, "iv": b64(&[1u8; 15])})),
                BAD,
            ),
            (
                "userinfo: iv of 17 bytes",
                js(json!({"encryptedData": ct32, "iv": b64(&[1u8; 17])})),
                BAD,
            ),
            (
                "userinfo: rawData without signature",
                js(json!({"rawData": "{}", "encryptedData": ct32, "iv": iv16})),
                BAD,
            ),
            (
                "userinfo: signature without rawData",
                js(json!({"signature": "0".repeat(40), "encryptedData": ct32, "iv": iv16})),
                BAD,
            ),
            (
                "userinfo: ciphertext of 33 bytes",
                js(json!({"encryptedData": b64(&[9u8; 33]), "iv": iv16})),
                DECRYPT,
            ),
            (
                "userinfo: random ciphertext",
                js(json!({"encryptedData": ct32, "iv": iv16})),
                DECRYPT,
            ),
            (
                "userinfo: huge body",
                big_string_body("encryptedData", 70 * 1024),
                TOO_LARGE,
            ),
            (
                "userinfo: non-UTF-8 body",
                Some(b"{\"iv\":\"\xc3\x28\"}".to_vec()),
                BAD,
            ),
        ],
    );
    cases
}

/// PUT /profile.
fn profile_cases() -> Cases {
    let mut cases = Cases::default();
    cases.table(
        "PUT",
        "/profile",
        Auth::Live,
        [
            ("profile: broken JSON", text("{nickName:1}"), BAD),
            ("profile: array", text("[]"), BAD),
            (
                "profile: nickName is a number",
                js(json!({"nickName": 1})),
                BAD,
            ),
            ("profile: nothing to save", js(json!({})), PROFILE),
            (
                "profile: only nulls",
                js(json!({"nickName": null, "avatarUrl": null})),
                PROFILE,
            ),
            (
                "profile: empty nickName",
                js(json!({"nickName": ""})),
                PROFILE,
            ),
            (
                "profile: blank nickName",
                js(json!({"nickName": " \t "})),
                PROFILE,
            ),
            (
                "profile: nickName of 65 chars",
                js(json!({"nickName": "字".repeat(65)})),
                PROFILE,
            ),
            (
                "profile: nickName with a control char",
                js(json!({"nickName": "a\u{7}b"})),
                PROFILE,
            ),
            (
                "profile: http avatar",
                js(json!({"avatarUrl": "http://e.com/a.png"})),
                PROFILE,
            ),
            (
                "profile: javascript avatar",
                js(json!({"avatarUrl": "javascript:alert(1)"})),
                PROFILE,
            ),
            (
                "profile: avatar with user info",
                js(json!({"avatarUrl": "https://u:p@e.com/a"})),
                PROFILE,
            ),
            (
                "profile: avatar of 1025 bytes",
                js(json!({"avatarUrl": format!("https://e.com/{}", "a".repeat(1011))})),
                PROFILE,
            ),
            (
                "profile: huge nickName",
                big_string_body("nickName", 70 * 1024),
                TOO_LARGE,
            ),
        ],
    );
    cases
}

/// POST /phone.
fn phone_cases() -> Cases {
    let mut cases = Cases::default();
    let iv16 = b64(&[7u8; 16]);
    let ct32 = b64(&[9u8; 32]);
    cases.table(
        "POST",
        "/phone",
        Auth::Live,
        [
            ("phone: nothing", js(json!({})), BAD),
            ("phone: empty code", js(json!({"code": ""})), BAD),
            (
                "phone: code is a number",
                js(json!({"code": 13800138000_i64})),
                BAD,
            ),
            ("phone: code with a space", js(json!({"code": "a b"})), BAD),
            (
                "phone: code of 300 bytes",
                js(json!({"code": "c".repeat(300)})),
                BAD,
            ),
            (
                "phone: unknown code",
                js(json!({"code": "never-minted"})),
                Want::Error(400, "INVALID_CODE"),
            ),
            (
                "phone: encryptedData without iv",
                js(json!({"encryptedData": ct32})),
                BAD,
            ),
            (
                "phone: bad base64",
                js(json!({"encryptedData": "%%%", "iv": iv16})),
                BAD,
            ),
            (
                "phone: iv of 17 bytes",
                js(json!({"encryptedData": ct32, "iv": b64(&[2u8; 17])})),
                BAD,
            ),
            (
                "phone: ciphertext of 20 bytes",
                js(json!({"encryptedData": b64(&[3u8; 20]), "iv": iv16})),
                DECRYPT,
            ),
            (
                "phone: huge body",
                big_string_body("code", 70 * 1024),
                TOO_LARGE,
            ),
        ],
    );
    cases
}

/// POST /logout: a refused body ends no session (the health check after it proves it).
fn logout_cases() -> Cases {
    let mut cases = Cases::default();
    cases.table(
        "POST",
        "/logout",
        Auth::Live,
        [
            ("logout: broken JSON", text("{"), BAD),
            ("logout: all is a string", js(json!({"all": "yes"})), BAD),
            ("logout: all is a number", js(json!({"all": 1})), BAD),
            ("logout: array", text("[true]"), BAD),
            ("logout: non-UTF-8", Some(vec![b'{', 0x80, b'}']), BAD),
            (
                "logout: huge body",
                big_string_body("all", 70 * 1024),
                TOO_LARGE,
            ),
        ],
    );
    cases
}

/// POST /avatar and GET /avatars/{uid}/{file}: hostile forms and files, each refused before anything
/// is stored.
fn avatar_cases() -> Cases {
    let mut cases = Cases::default();
    let png = wxauth_local::sample::png(wxauth_local::sample::GREEN);
    let mut png_on_garbage = png[..16].to_vec();
    png_on_garbage.extend((0..3000u32).map(|i| (i * 131 % 256) as u8));
    let form = |name: &str, body: Vec<u8>, want: Want| Case {
        content_type: Some(CONTENT_TYPE),
        ..case(name, "POST", "/avatar", Auth::Live, Some(body), want)
    };
    for c in [
        form(
            "avatar: wrong multipart (no delimiter)",
            b"just bytes".to_vec(),
            BAD,
        ),
        form(
            "avatar: wrong multipart (cut off)",
            avatar_form(&png)[..120].to_vec(),
            BAD,
        ),
        form(
            "avatar: wrong multipart (part without headers)",
            format!(
                "--{}\r\n\r\n\r\n--{}--",
                wxauth_tests::uploads::BOUNDARY,
                wxauth_tests::uploads::BOUNDARY
            )
            .into_bytes(),
            BAD,
        ),
        form(
            "avatar: no file part",
            Form::new().field("user", "alice").body(),
            BAD,
        ),
        form(
            "avatar: the file in another part",
            Form::new().file("image", &png).body(),
            BAD,
        ),
        form(
            "avatar: two file parts",
            Form::new().file("file", &png).file("file", &png).body(),
            BAD,
        ),
        form(
            "avatar: a PNG header on garbage",
            avatar_form(&png_on_garbage),
            AVATAR,
        ),
        form(
            "avatar: HTML named avatar.png",
            avatar_form(b"<html><script>alert(document.cookie)</script></html>"),
            AVATAR,
        ),
        form(
            "avatar: a huge declared length in the part (ignored)",
            Form::new()
                .part(
                    &[
                        "Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"",
                        "Content-Length: 18446744073709551615",
                    ],
                    &png_on_garbage,
                )
                .body(),
            AVATAR,
        ),
        form(
            "avatar: a file of 1 MiB + 1 byte",
            avatar_form(&png_of_size(wxauth::avatars::MAX_FILE_BYTES + 1)),
            TOO_LARGE,
        ),
        form(
            "avatar: a body over 1 MiB + 64 KiB",
            Form::new()
                .file("file", &png)
                .field("pad", &"p".repeat(wxauth::avatars::MAX_UPLOAD_BYTES))
                .body(),
            TOO_LARGE,
        ),
    ] {
        cases.push(c);
    }
    cases.add(
        "avatar: JSON instead of a form",
        "POST",
        "/avatar",
        Auth::Live,
        js(json!({"file": "iVBORw0KGgo="})),
        BAD,
    );
    cases.push(Case {
        content_type: Some(CONTENT_TYPE),
        ..case(
            "avatar: no skey",
            "POST",
            "/avatar",
            Auth::None,
            Some(avatar_form(&png)),
            UNAUTHORIZED,
        )
    });
    let missing = Want::Error(404, "NOT_FOUND");
    for path in [
        format!("/avatars/AAAAAAAAAAAAAAAAAAAAAA/{}.png", "0".repeat(64)),
        "/avatars/x/y".to_string(),
        "/avatars/..%2F..%2Fetc%2Fpasswd/a.png".to_string(),
        format!("/avatars/{}/{}.png", "a".repeat(3000), "0".repeat(64)),
    ] {
        let name = format!("avatars: GET {}", &path[..path.len().min(60)]);
        cases.add(&name, "GET", &path, Auth::None, None, missing.clone());
    }
    cases.add(
        "avatars: an empty segment",
        "GET",
        "/avatars//a.png",
        Auth::None,
        None,
        NOT_FOUND,
    );
    cases
}

/// Routes that do not exist.
fn routes_cases() -> Cases {
    let mut cases = Cases::default();
    cases.add("GET /login", "GET", "/login", Auth::None, None, NOT_FOUND);
    cases.add("DELETE /me", "DELETE", "/me", Auth::Live, None, NOT_FOUND);
    cases.add("POST /me/", "POST", "/me/", Auth::Live, None, NOT_FOUND);
    cases.add("GET /%ff", "GET", "/%ff", Auth::None, None, NOT_FOUND);
    cases.add(
        "GET a 4 KiB path",
        "GET",
        &format!("/{}", "a".repeat(4096)),
        Auth::None,
        None,
        NOT_FOUND,
    );
    cases.add(
        "PATCH /profile",
        "PATCH",
        "/profile",
        Auth::Live,
        js(json!({"nickName": "x"})),
        NOT_FOUND,
    );
    cases
}

/// Sends `request` as is over a new connection and reads the answer until the server closes it.
async fn raw_request(url: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer within 10 s");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Skeys made stale by editing the `--data` file between two runs of the server.
struct StaleSkeys {
    live: String,
    expired: String,
    idle: String,
    revoked: String,
    revoked_all: String,
    no_session: String,
    no_user: String,
}

#[tokio::test]
async fn bad_input_in_simulator_mode() {
    let path = temp_path("bad-input.json");
    let file = path.to_string_lossy().into_owned();
    let server = LocalServer::start(&["--data", &file], &[]).await;
    let before_restart = server.login_as("alice").await;
    let expired = server.login_as("erin").await;
    let idle = server.login_as("ida").await;
    let revoked = server.login_as("rob").await;
    let revoked_all = server.login_as("ray").await;
    let _ray_other = server.login_as("ray").await;
    let no_session = server.login_as("sam").await;
    let no_user = server.login_as("ursula").await;
    let r = server.call("POST", "/logout", Some(&revoked), None).await;
    assert_eq!(
        (r.status, r.body["revoked"].as_u64()),
        (200, Some(1)),
        "{}",
        r.text
    );
    let r = server
        .call(
            "POST",
            "/logout",
            Some(&revoked_all),
            Some(&json!({"all": true})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["revoked"].as_u64()),
        (200, Some(2)),
        "{}",
        r.text
    );
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");

    // Edit the store file: past expiry, past the idle timeout, a session item and a user item gone.
    let mut data: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("store file")).expect("JSON store");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let sessions = data["sessions"].as_object_mut().expect("sessions");
    let mut edit = |skey: &str, f: &dyn Fn(&mut Value)| {
        let item = sessions
            .get_mut(&crypto::skey_hash(skey))
            .unwrap_or_else(|| panic!("session of {skey} in the file"));
        f(item);
    };
    edit(&expired, &|s| s["expires_at"] = json!(now - 10));
    edit(&idle, &|s| s["last_seen"] = json!(now - 3 * 86_400));
    sessions
        .remove(&crypto::skey_hash(&no_session))
        .expect("sam's session");
    let no_user_openid = sessions[&crypto::skey_hash(&no_user)]["openid"]
        .as_str()
        .expect("openid")
        .to_string();
    data["users"]
        .as_object_mut()
        .expect("users")
        .remove(&no_user_openid)
        .expect("ursula's user item");
    std::fs::write(&path, serde_json::to_vec(&data).expect("json")).expect("write store");

    let server = LocalServer::start(&["--data", &file], &[]).await;
    // The session from before the restart still authorizes; the simulator has forgotten its
    // session_key (as WeChat forgets old ones), so the live session of the cases is a new login.
    let r = server.call("GET", "/me", Some(&before_restart), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let live = server.login_as("alice").await;
    let stale = StaleSkeys {
        live: live.clone(),
        expired,
        idle,
        revoked,
        revoked_all,
        no_session,
        no_user,
    };
    let cases = generic_cases(&stale);
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let mut runner = Runner::new(&server, &live);
    for c in &cases {
        runner.run(c).await;
        // The dev routes still answer too.
        assert_eq!(
            server.call("POST", "/dev/code", None, None).await.status,
            200,
            "after {}",
            c.name
        );
    }
    assert_eq!(runner.ran, cases.len());
    println!(
        "simulator mode: {} bad-input cases, each followed by a health check",
        runner.ran
    );
    // A huge declared length (1 TiB) and a few bytes, over a raw connection: the gateway's 413 before
    // reading the body; the server serves on.
    let answer = raw_request(
        &server.url,
        &format!(
            "POST /avatar HTTP/1.1\r\nHost: x\r\nX-WX-Skey: {live}\r\nContent-Type: {CONTENT_TYPE}\r\n\
             Content-Length: 1099511627776\r\nConnection: close\r\n\r\n--x"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(r#"{"message":"Request Entity Too Large"}"#),
        "{answer}"
    );
    let r = server.call("GET", "/me", Some(&live), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    for s in [&stale.live, &stale.expired, &stale.no_user] {
        assert!(!output.contains(s.as_str()), "an skey reached the log");
    }
    assert!(
        !output.contains(" 500 ") && !output.contains(" 502 ") && !output.contains(" 503 "),
        "{output}"
    );
    remove(&path);
}

#[tokio::test]
async fn bad_encrypted_data_with_a_known_session_key() {
    let sim = Simulator::new(APPID, SECRET);
    let url = sim.spawn().await.expect("simulator");
    let server = LocalServer::with_wechat(&url, &[]).await;
    let live = server.login_with(&sim.mint_code("alice")).await;
    server.login_with(&sim.mint_code("bob")).await;
    let alice = sim.openid_for("alice");
    let bob = sim.openid_for("bob");
    let key = sim
        .user(&alice)
        .and_then(|u| u.session_key)
        .expect("alice's session_key");
    let bob_key = sim
        .user(&bob)
        .and_then(|u| u.session_key)
        .expect("bob's session_key");
    let good = serde_json::to_value(sim.legacy_user_data(&alice).expect("data")).expect("json");

    let watermark = json!({"appid": APPID, "timestamp": 1_795_000_000});
    let seal = |plain: &[u8]| -> Value {
        let iv = [5u8; 16];
        let ct = crypto::encrypt(&key, plain, &iv).expect("encrypt");
        json!({"encryptedData": b64(&ct), "iv": b64(&iv)})
    };
    let seal_json = |v: Value| seal(v.to_string().as_bytes());
    let user =
        |openid: &str, wm: Value| json!({"openId": openid, "nickName": "n", "watermark": wm});
    let with = |mut v: Value, k: &str, x: Value| {
        v[k] = x;
        v
    };
    let good_ct =
        crypto::decode_ciphertext(good["encryptedData"].as_str().expect("enc")).expect("b64");
    let good_iv = good["iv"].as_str().expect("iv").to_string();

    let mut cases = Vec::new();
    let mut add = |name: &str, path: &str, body: Value, want: Want| {
        cases.push(case(name, "POST", path, Auth::Live, js(body), want));
    };
    add(
        "forged signature",
        "/userinfo",
        with(good.clone(), "signature", json!("0".repeat(40))),
        Want::Error(400, "INVALID_SIGNATURE"),
    );
    add(
        "signature of other rawData",
        "/userinfo",
        with(good.clone(), "rawData", json!("{\"nickName\":\"mallory\"}")),
        Want::Error(400, "INVALID_SIGNATURE"),
    );
    add(
        "signature made with bob's key",
        "/userinfo",
        with(
            good.clone(),
            "signature",
            json!(crypto::sign_raw_data(
                good["rawData"].as_str().expect("raw"),
                &bob_key
            )),
        ),
        Want::Error(400, "INVALID_SIGNATURE"),
    );
    add(
        "signature too short",
        "/userinfo",
        with(good.clone(), "signature", json!("abc")),
        Want::Error(400, "INVALID_SIGNATURE"),
    );
    add(
        "signature not hex",
        "/userinfo",
        with(good.clone(), "signature", json!("z".repeat(40))),
        Want::Error(400, "INVALID_SIGNATURE"),
    );
    add(
        "valid padding, invalid JSON",
        "/userinfo",
        seal(b"this is not JSON"),
        DECRYPT,
    );
    add(
        "valid padding, a JSON array",
        "/userinfo",
        seal(b"[1,2,3]"),
        DECRYPT,
    );
    add(
        "valid padding, non-UTF-8 plaintext",
        "/userinfo",
        seal(b"{\"openId\":\"\xff\xfe\"}"),
        DECRYPT,
    );
    add("empty plaintext", "/userinfo", seal(b""), DECRYPT);
    add(
        "JSON without watermark",
        "/userinfo",
        seal_json(json!({"openId": alice, "nickName": "n"})),
        DECRYPT,
    );
    add(
        "another appid's watermark",
        "/userinfo",
        seal_json(user(
            &alice,
            json!({"appid": "wx0000000000000000", "timestamp": 1}),
        )),
        DECRYPT,
    );
    add(
        "watermark appid is a number",
        "/userinfo",
        seal_json(user(&alice, json!({"appid": 1}))),
        DECRYPT,
    );
    add(
        "watermark is a string",
        "/userinfo",
        seal_json(user(&alice, json!(APPID))),
        DECRYPT,
    );
    add(
        "another user's openId",
        "/userinfo",
        seal_json(user(&bob, watermark.clone())),
        DECRYPT,
    );
    // Today's payloads carry no openId: the session's key and the watermark bind them to the caller.
    add(
        "no openId (accepted)",
        "/userinfo",
        seal_json(json!({"nickName": "n", "watermark": watermark})),
        Want::Ok(200),
    );
    add(
        "openId is a number",
        "/userinfo",
        seal_json(
            user("o", watermark.clone())
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("openId".into(), json!(1));
                    Value::Object(o)
                })
                .expect("obj"),
        ),
        DECRYPT,
    );
    add(
        "alice's data sealed with bob's key",
        "/userinfo",
        {
            let iv = [5u8; 16];
            let ct = crypto::encrypt(
                &bob_key,
                user(&alice, watermark.clone()).to_string().as_bytes(),
                &iv,
            )
            .expect("enc");
            json!({"encryptedData": b64(&ct), "iv": b64(&iv)})
        },
        DECRYPT,
    );
    add(
        "ciphertext truncated by one byte",
        "/userinfo",
        json!({"encryptedData": b64(&good_ct[..good_ct.len() - 1]), "iv": good_iv}),
        DECRYPT,
    );
    add(
        "ciphertext truncated by one block",
        "/userinfo",
        json!({"encryptedData": b64(&good_ct[..good_ct.len() - 16]), "iv": good_iv}),
        DECRYPT,
    );
    add(
        "ciphertext with a flipped bit",
        "/userinfo",
        json!({"encryptedData": b64(&{ let mut c = good_ct.clone(); c[3] ^= 1; c }), "iv": good_iv}),
        DECRYPT,
    );
    add(
        "iv with a flipped bit",
        "/userinfo",
        json!({"encryptedData": good["encryptedData"], "iv": b64(&{ let mut v = crypto::decode_iv(&good_iv).expect("iv"); v[0] ^= 0x10; v })}),
        DECRYPT,
    );
    add(
        "good data, iv of 15 bytes",
        "/userinfo",
        json!({"encryptedData": good["encryptedData"], "iv": b64(&[0u8; 15])}),
        BAD,
    );
    add(
        "good data, iv of 17 bytes",
        "/userinfo",
        json!({"encryptedData": good["encryptedData"], "iv": b64(&[0u8; 17])}),
        BAD,
    );
    add(
        "phone data without a phone number",
        "/phone",
        seal_json(json!({"watermark": watermark})),
        DECRYPT,
    );
    add(
        "phone data with another appid",
        "/phone",
        seal_json(
            json!({"phoneNumber": "1", "purePhoneNumber": "1", "countryCode": "86", "watermark": {"appid": "wxother"}}),
        ),
        DECRYPT,
    );
    add(
        "phone countryCode an array",
        "/phone",
        seal_json(
            json!({"phoneNumber": "1", "purePhoneNumber": "1", "countryCode": [86], "watermark": watermark}),
        ),
        DECRYPT,
    );

    let mut runner = Runner::new(&server, &live);
    runner
        .secrets
        .extend([key.clone(), bob_key.clone(), SECRET.to_string()]);
    for c in &cases {
        runner.run(c).await;
    }
    println!(
        "known session_key: {} bad-input cases, each followed by a health check",
        runner.ran
    );
    // After all of it, the genuine data still opens.
    let ok = server
        .call("POST", "/userinfo", Some(&live), Some(&good))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["user"]["openId"], alice);
    let (status, output) = server.stop().await;
    assert!(status.success(), "{output}");
    for s in [&key, &bob_key, &live] {
        assert!(!output.contains(s.as_str()), "a secret reached the log");
    }
    assert!(!output.contains(SECRET));
}
