//! The avatar, end to end: `POST /avatar` with the file as `wx.uploadFile` sends it, `GET /avatars/...`
//! serving it, through the local gateway (multipart bodies base64-encoded in the event, as API Gateway
//! does), through real event JSON straight to the function, with the memory stores and with moto
//! (DynamoDB and S3); every refusal before anything is stored; the size limits of the function, of
//! Lambda's 6 MB payload and of API Gateway.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wxauth::avatars::{CACHE_CONTROL, MAX_FILE_BYTES, MAX_UPLOAD_BYTES};
use wxauth_local::gateway::answers::lambda_output;
use wxauth_local::sample;
use wxauth_tests::env::{BACKENDS, Backend, Env, SECRET};
use wxauth_tests::events::{API_ID, REGION, Req, code, parts};
use wxauth_tests::logs;
use wxauth_tests::uploads::{Form, avatar_form, jpeg, png_of_size, sha256_hex, webp};

/// The origin the test requests are sent to (the `Host` of `Req`, over https).
fn origin() -> String {
    format!("https://{API_ID}.execute-api.{REGION}.amazonaws.com")
}

fn upload(skey: &str, body: Vec<u8>) -> Req {
    Req::new("POST", "/avatar").skey(skey).form(body)
}

/// The path of an avatar URL this deployment issued.
fn path_of(url: &str) -> String {
    url.strip_prefix(&origin())
        .unwrap_or_else(|| panic!("{url} is not under {}", origin()))
        .to_string()
}

#[tokio::test]
async fn an_uploaded_avatar_is_served_at_its_versioned_url() {
    for backend in BACKENDS {
        let env = Env::new(backend).await;
        let skey = env.login_as("alice").await;
        let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        let uid = me["uid"].as_str().expect("uid").to_string();
        let openid = env.sim.openid_for("alice");

        let png = sample::png(sample::GREEN);
        let (status, out) = env.call(upload(&skey, avatar_form(&png))).await;
        assert_eq!(status, 200, "{backend:?}: {out}");
        let url = out["user"]["avatarUrl"]
            .as_str()
            .expect("avatarUrl")
            .to_string();
        // The account id and the content's SHA-256 name it; never the openid.
        assert_eq!(
            url,
            format!("{}/avatars/{uid}/{}.png", origin(), sha256_hex(&png))
        );
        assert!(!url.contains(&openid));
        let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
        assert_eq!(me["user"]["avatarUrl"], json!(url), "{me}");

        // Served without an skey (an <image> sends none), as uploaded, cached for a year.
        let (status, headers, bytes) = env.call_bytes(Req::new("GET", &path_of(&url))).await;
        assert_eq!(status, 200, "{backend:?}");
        assert_eq!(bytes, png);
        assert_eq!(headers["content-type"], "image/png");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], CACHE_CONTROL);

        // A new upload replaces it: a new URL, the old one is 404 (never the new picture under the
        // old, immutable URL).
        for (image, ext, content_type) in [
            (jpeg(), "jpg", "image/jpeg"),
            (webp(), "webp", "image/webp"),
        ] {
            let (status, out) = env.call(upload(&skey, avatar_form(&image))).await;
            assert_eq!(status, 200, "{ext}: {out}");
            let new_url = out["user"]["avatarUrl"].as_str().expect("url").to_string();
            assert!(
                new_url.ends_with(&format!("/{}.{ext}", sha256_hex(&image))),
                "{new_url}"
            );
            let (status, headers, bytes) =
                env.call_bytes(Req::new("GET", &path_of(&new_url))).await;
            assert_eq!((status, bytes), (200, image.clone()));
            assert_eq!(headers["content-type"], content_type);
            let (status, headers, body) = env.call_bytes(Req::new("GET", &path_of(&url))).await;
            assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
            assert_eq!(headers["cache-control"], "no-store", "a 404 is not cached");
            let body: Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(code(&body), "NOT_FOUND");
            assert_eq!(env.avatars.get(&uid).await.expect("store"), Some(image));
        }
        // The right version with the wrong extension, another account, shapes that are no avatar.
        let webp_version = sha256_hex(&webp());
        for path in [
            format!("/avatars/{uid}/{webp_version}.png"),
            format!("/avatars/AAAAAAAAAAAAAAAAAAAAAA/{webp_version}.webp"),
            format!("/avatars/{openid}/{webp_version}.webp.webp"),
            format!("/avatars/{uid}/{}.webp", webp_version.to_uppercase()),
            format!("/avatars/..%2F..%2Fetc/{webp_version}.webp"),
            format!("/avatars/{uid}/passwd"),
        ] {
            let (status, _, _) = env.call_bytes(Req::new("GET", &path)).await;
            assert_eq!(status, 404, "{path}");
        }
        // The profile keeps the uploaded avatar when the nickname changes, and PUT /profile takes the
        // URL back.
        let (status, out) = env
            .call(
                Req::new("PUT", "/profile")
                    .skey(&skey)
                    .json(&json!({"nickName": "Alice"})),
            )
            .await;
        assert_eq!(status, 200, "{out}");
        assert!(
            out["user"]["avatarUrl"]
                .as_str()
                .is_some_and(|u| u.ends_with(".webp"))
        );
        logs::assert_clean(&[&skey, SECRET, &env.session_key_of("alice")]);
    }
}

#[tokio::test]
async fn every_refusal_comes_before_anything_is_stored() {
    let env = Env::new(Backend::Memory).await;
    let skey = env.login_as("alice").await;
    let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
    let uid = me["uid"].as_str().expect("uid").to_string();
    let png = sample::png(sample::GREEN);
    let mut png_on_garbage = png[..16].to_vec();
    png_on_garbage.extend((0..4000u32).map(|i| (i * 31 % 256) as u8));
    let big = png_of_size(MAX_FILE_BYTES + 1);
    let cases: Vec<(&str, Req, u16, &str)> = vec![
        (
            "JSON instead of a form",
            Req::new("POST", "/avatar")
                .skey(&skey)
                .json(&json!({"file": "x"})),
            400,
            "BAD_REQUEST",
        ),
        (
            "a form without boundary",
            Req::new("POST", "/avatar")
                .skey(&skey)
                .header("content-type", "multipart/form-data")
                .raw(avatar_form(&png)),
            400,
            "BAD_REQUEST",
        ),
        (
            "another boundary than the body's",
            Req::new("POST", "/avatar")
                .skey(&skey)
                .header("content-type", "multipart/form-data; boundary=other")
                .raw(avatar_form(&png)),
            400,
            "BAD_REQUEST",
        ),
        (
            "no part named file",
            upload(&skey, Form::new().file("avatar", &png).body()),
            400,
            "BAD_REQUEST",
        ),
        (
            "two file parts",
            upload(
                &skey,
                Form::new().file("file", &png).file("file", &png).body(),
            ),
            400,
            "BAD_REQUEST",
        ),
        (
            "a form cut off",
            upload(&skey, avatar_form(&png)[..200].to_vec()),
            400,
            "BAD_REQUEST",
        ),
        (
            "a PNG header on garbage",
            upload(&skey, avatar_form(&png_on_garbage)),
            400,
            "INVALID_AVATAR",
        ),
        (
            "a GIF named .png",
            upload(&skey, avatar_form(b"GIF89a\x01\x00\x01\x00\x80\x00\x00;")),
            400,
            "INVALID_AVATAR",
        ),
        (
            "an SVG",
            upload(
                &skey,
                avatar_form(
                    b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
                ),
            ),
            400,
            "INVALID_AVATAR",
        ),
        (
            "HTML after a real PNG",
            upload(
                &skey,
                avatar_form(&[png.clone(), b"<html><script>x</script>".to_vec()].concat()),
            ),
            400,
            "INVALID_AVATAR",
        ),
        (
            "an empty file",
            upload(&skey, avatar_form(b"")),
            400,
            "INVALID_AVATAR",
        ),
        (
            "a file of 1 MiB and one byte",
            upload(&skey, avatar_form(&big)),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            "a body over 1 MiB + 64 KiB",
            upload(
                &skey,
                Form::new()
                    .file("file", &png)
                    .field("padding", &"x".repeat(MAX_UPLOAD_BYTES))
                    .body(),
            ),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            "a part declaring a huge length (ignored, RFC 7578), around garbage",
            upload(
                &skey,
                Form::new()
                    .part(
                        &[
                            "Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"",
                            "Content-Length: 99999999999",
                        ],
                        &png_on_garbage,
                    )
                    .body(),
            ),
            400,
            "INVALID_AVATAR",
        ),
    ];
    for (name, req, status, want) in cases {
        let (got, out) = env.call(req).await;
        assert_eq!((got, code(&out)), (status, want), "{name}: {out}");
        assert_eq!(env.avatars.get(&uid).await.expect("store"), None, "{name}");
    }
    let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
    assert_eq!(me["user"], Value::Null, "no profile written: {me}");

    // The gateway's refusals, before the function: no skey, a dead one.
    assert_eq!(
        env.call(Req::new("POST", "/avatar").form(avatar_form(&png)))
            .await
            .0,
        401
    );
    let unknown = wxauth::crypto::generate_skey().expect("rng");
    assert_eq!(env.call(upload(&unknown, avatar_form(&png))).await.0, 403);

    // Exactly at the limits: accepted. Extra formData fields are ignored.
    let exact = png_of_size(MAX_FILE_BYTES);
    let body = Form::new()
        .field("user", "alice")
        .file("file", &exact)
        .body();
    let (status, out) = env.call(upload(&skey, body)).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(env.avatars.get(&uid).await.expect("store"), Some(exact));
}

#[tokio::test]
async fn binary_bodies_travel_base64_encoded_in_real_events() {
    let env = Env::new(Backend::Memory).await;
    let skey = env.login_as("alice").await;
    let context = env
        .authorizer
        .handle(wxauth_tests::events::authorizer_v2(
            Some(&skey),
            "POST",
            "/avatar",
        ))
        .await
        .expect("decision")["context"]
        .clone();
    let png = sample::png(sample::GREEN);
    let req = upload(&skey, avatar_form(&png)).authorized(context.clone());
    // API Gateway base64-encodes a multipart body (not a text media type): so does the local gateway.
    let event = req.v2_event();
    assert_eq!(event["isBase64Encoded"], true);
    let decoded = STANDARD
        .decode(event["body"].as_str().expect("body"))
        .expect("base64");
    assert_eq!(decoded, avatar_form(&png));
    assert_eq!(event["routeKey"], "POST /avatar");
    let (status, out) = parts(env.avatar.handle(req.into_request()).await);
    assert_eq!(status, 200, "{out}");
    let url = out["user"]["avatarUrl"].as_str().expect("url").to_string();

    // The image route as API Gateway sends it: the template as routeKey, pathParameters filled.
    let get = Req::new("GET", &path_of(&url));
    let event = get.v2_event();
    assert_eq!(event["routeKey"], "GET /avatars/{uid}/{file}");
    assert_eq!(
        event["pathParameters"]["file"],
        json!(url.rsplit('/').next().expect("file"))
    );
    let resp = env.avatar.handle(get.into_request()).await;
    // What the function returns to Lambda: the image base64-encoded, its headers.
    let output = lambda_output(resp);
    assert_eq!(output["statusCode"], 200);
    assert_eq!(output["isBase64Encoded"], true);
    assert_eq!(output["headers"]["content-type"], "image/png");
    assert_eq!(output["headers"]["x-content-type-options"], "nosniff");
    let served = STANDARD
        .decode(output["body"].as_str().expect("body"))
        .expect("base64");
    assert_eq!(served, png);

    // A literal event, as API Gateway's documentation shows one (no local helper involved).
    let uid = url.split('/').rev().nth(1).expect("uid");
    let file = url.rsplit('/').next().expect("file");
    let literal = json!({
        "version": "2.0", "routeKey": "GET /avatars/{uid}/{file}",
        "rawPath": format!("/avatars/{uid}/{file}"), "rawQueryString": "",
        "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com", "accept": "image/webp,image/*"},
        "requestContext": {"accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123", "http": {"method": "GET", "path": format!("/avatars/{uid}/{file}"),
            "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "WeChat"}, "requestId": "r1",
            "routeKey": "GET /avatars/{uid}/{file}", "stage": "$default", "time": "12/Mar/2026:19:03:58 +0000",
            "timeEpoch": 1_773_342_238_000_i64},
        "pathParameters": {"uid": uid, "file": file},
        "isBase64Encoded": false
    });
    let req = lambda_http::request::from_str(&literal.to_string()).expect("lambda_http parses it");
    let output = lambda_output(env.avatar.handle(req).await);
    assert_eq!(
        (
            output["statusCode"].as_i64(),
            output["isBase64Encoded"].as_bool()
        ),
        (Some(200), Some(true))
    );

    // The upload's limit applies to the decoded body, whatever the base64 event's size.
    let too_big = Form::new()
        .file("file", &png)
        .field("padding", &"x".repeat(MAX_UPLOAD_BYTES))
        .body();
    let req = upload(&skey, too_big).authorized(context);
    let event = req.v2_event();
    assert!(event["body"].as_str().expect("b64").len() > MAX_UPLOAD_BYTES * 4 / 3);
    let (status, out) = parts(env.avatar.handle(req.into_request()).await);
    assert_eq!((status, code(&out)), (413, "PAYLOAD_TOO_LARGE"), "{out}");
}

#[tokio::test]
async fn the_gateway_keeps_lambdas_and_its_own_limits() {
    let env = Env::new(Backend::Memory).await;
    let skey = env.login_as("alice").await;
    // 2 MiB: reaches the function (under 6 MB base64-encoded), which refuses it.
    let body = vec![b'x'; 2 * 1024 * 1024];
    let (status, out) = env.call(upload(&skey, body)).await;
    assert_eq!((status, code(&out)), (413, "PAYLOAD_TOO_LARGE"), "{out}");
    // 5 MiB: base64-encoded it is over Lambda's 6 MB invocation payload; the function never runs.
    let body = vec![b'x'; 5 * 1024 * 1024];
    let (status, out) = env.call(upload(&skey, body)).await;
    assert_eq!((status, out), (413, json!({"message": "Request Too Long"})));
    // Every other route keeps its 64 KiB.
    let profile = json!({"nickName": "a", "padding": "x".repeat(70 * 1024)});
    let (status, out) = env
        .call(Req::new("PUT", "/profile").skey(&skey).json(&profile))
        .await;
    assert_eq!((status, code(&out)), (413, "PAYLOAD_TOO_LARGE"), "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("65536")),
        "{out}"
    );
}

#[tokio::test]
async fn upload_and_image_through_moto_s3() {
    let env = Env::new(Backend::Dynamo).await;
    let bucket = env.bucket.clone().expect("a moto bucket");
    let skey = env.login_as("bob").await;
    let (_, me) = env.call(Req::new("GET", "/me").skey(&skey)).await;
    let uid = me["uid"].as_str().expect("uid").to_string();
    let png = sample::png([0x11, 0x22, 0x33]);
    let (status, out) = env.call(upload(&skey, avatar_form(&png))).await;
    assert_eq!(status, 200, "{out}");
    // One object per account, under avatars/{uid}: the bucket's listing (moto lists without a
    // signature) shows that key only, replaced by a second upload.
    let listing = || async {
        let url = format!("{}/{bucket}?list-type=2", wxauth_tests::dynamo::endpoint());
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .get(&url)
            .send()
            .await
            .expect("moto answers")
            .text()
            .await
            .expect("listing")
    };
    let keys = |xml: &str| xml.matches("<Key>").count();
    let xml = listing().await;
    assert!(xml.contains(&format!("<Key>avatars/{uid}</Key>")), "{xml}");
    assert_eq!(keys(&xml), 1, "{xml}");
    assert_eq!(env.avatars.get(&uid).await.expect("S3"), Some(png));
    let (status, _) = env.call(upload(&skey, avatar_form(&jpeg()))).await;
    assert_eq!(status, 200);
    assert_eq!(keys(&listing().await), 1, "replaced, not added");
    assert_eq!(env.avatars.get(&uid).await.expect("S3"), Some(jpeg()));
}
