//! `scripts/check-deploy`, the post-deploy check, on recorded AWS CLI outputs
//! (`tests/fixtures/deploy/`, the documented shapes of `describe-stacks`, `get-authorizers` and
//! `get-routes`), its bad-code login against the local server standing in for the deployed API.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wxauth_tests::local::LocalServer;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A copy of the recorded outputs, each changed by `edit` (file name, JSON).
fn recorded(edit: impl Fn(&str, &mut Value)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wxauth-check-deploy-{}",
        wxauth::crypto::random_id().expect("rng")
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    for name in ["describe-stacks", "get-authorizers", "get-routes"] {
        let file = format!("{name}.json");
        let text = std::fs::read_to_string(root().join("tests/fixtures/deploy").join(&file))
            .expect("fixture");
        let mut v: Value = serde_json::from_str(&text).expect("JSON");
        edit(name, &mut v);
        std::fs::write(dir.join(&file), v.to_string()).expect("write");
    }
    dir
}

async fn check(dir: &Path, http: bool) -> (i32, String) {
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(root().join("scripts/check-deploy"))
        .arg("wxauth")
        .arg("--from")
        .arg(dir);
    if !http {
        cmd.arg("--skip-http");
    }
    let out = cmd.output().await.expect("python3 runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn the_post_deploy_check_reads_the_aws_cli_outputs() {
    let (code, out) = check(&recorded(|_, _| {}), false).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("cached 300 s"), "{out}");

    // A cache time other than the stack's parameter, another identity source, a public /me.
    let dir = recorded(|name, v| match name {
        "get-authorizers" => v["Items"][0]["AuthorizerResultTtlInSeconds"] = json!(0),
        "get-routes" => {
            for r in v["Items"].as_array_mut().expect("items") {
                if r["RouteKey"] == "GET /me" {
                    r["AuthorizationType"] = json!("NONE");
                }
            }
        }
        _ => {}
    });
    let (code, out) = check(&dir, false).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL authorizer cache 0 s, AuthorizerCacheSeconds is 300"),
        "{out}"
    );
    assert!(
        out.contains("FAIL GET /me is not behind the X-WX-Skey authorizer"),
        "{out}"
    );
    let dir = recorded(|name, v| {
        if name == "get-authorizers" {
            v["Items"][0]["IdentitySource"] = json!(["$request.header.Authorization"]);
        }
    });
    let (code, out) = check(&dir, false).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("expected one authorizer"), "{out}");
    let dir = recorded(|name, v| {
        if name == "describe-stacks" {
            v["Stacks"][0]["StackStatus"] = json!("ROLLBACK_FAILED");
        }
    });
    assert_eq!(check(&dir, false).await.0, 1);
}

#[tokio::test]
async fn the_post_deploy_check_logs_in_with_a_bad_code() {
    let server = LocalServer::start(&[], &[]).await;
    let url = server.url.clone();
    let dir = recorded(|name, v| {
        if name == "describe-stacks" {
            v["Stacks"][0]["Outputs"][0]["OutputValue"] = json!(url);
        }
    });
    let (code, out) = check(&dir, true).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("a bad code is INVALID_CODE"), "{out}");
}

/// The recorded outputs of a stack deployed with `AuthMode=jwt` (issuer `issuer`): its parameters, its
/// JWT authorizer and routes, each changed by `edit`.
fn recorded_jwt(issuer: &str, edit: impl Fn(&str, &mut Value)) -> PathBuf {
    recorded(|name, v| {
        match name {
            "describe-stacks" => {
                let stack = &mut v["Stacks"][0];
                let params = stack["Parameters"].as_array_mut().expect("parameters");
                params.push(json!({"ParameterKey": "AuthMode", "ParameterValue": "jwt"}));
                params.push(
                    json!({"ParameterKey": "MoreAppIds", "ParameterValue": "wx00000000000000b2"}),
                );
                let outputs = stack["Outputs"].as_array_mut().expect("outputs");
                outputs.push(json!({"OutputKey": "JwtIssuer", "OutputValue": issuer}));
            }
            "get-authorizers" => {
                let items = v["Items"].as_array_mut().expect("items");
                items.push(json!({
                    "AuthorizerId": "j4w7t1",
                    "AuthorizerType": "JWT",
                    "IdentitySource": ["$request.header.Authorization"],
                    "JwtConfiguration": {
                        "Audience": ["wx0123456789abcdef", "wx00000000000000b2"],
                        "Issuer": issuer
                    },
                    "Name": "WxJwtAuthorizer"
                }));
            }
            "get-routes" => {
                let items = v["Items"].as_array_mut().expect("items");
                for r in items.iter_mut() {
                    if r["RouteKey"] == "GET /me" {
                        r["AuthorizationType"] = json!("JWT");
                        r["AuthorizerId"] = json!("j4w7t1");
                    }
                }
                for (i, key) in [
                    "POST /token",
                    "GET /.well-known/openid-configuration",
                    "GET /.well-known/jwks.json",
                ]
                .into_iter()
                .enumerate()
                {
                    items.push(json!({"ApiKeyRequired": false, "AuthorizationType": "NONE",
                        "RouteId": format!("j0000{i}"), "RouteKey": key,
                        "Target": "integrations/i00000"}));
                }
            }
            _ => {}
        }
        edit(name, v);
    })
}

#[tokio::test]
async fn the_post_deploy_check_knows_jwt_mode() {
    let issuer = "https://a1b2c3d4e5.execute-api.ap-east-1.amazonaws.com";
    let (code, out) = check(&recorded_jwt(issuer, |_, _| {}), false).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("JWT mode (GET /me behind the JWT authorizer"),
        "{out}"
    );

    // GET /me left behind the skey authorizer, another issuer, an audience missing.
    let dir = recorded_jwt(issuer, |name, v| match name {
        "get-routes" => {
            for r in v["Items"].as_array_mut().expect("items") {
                if r["RouteKey"] == "GET /me" {
                    r["AuthorizationType"] = json!("CUSTOM");
                    r["AuthorizerId"] = json!("k7x9q2");
                }
            }
        }
        "get-authorizers" => {
            let jwt = &mut v["Items"][1]["JwtConfiguration"];
            jwt["Issuer"] = json!("https://a1b2c3d4e5.execute-api.ap-east-1.amazonaws.com/");
            jwt["Audience"] = json!(["wx0123456789abcdef"]);
        }
        _ => {}
    });
    let (code, out) = check(&dir, false).await;
    assert_eq!(code, 1, "{out}");
    for want in [
        "FAIL GET /me is not behind the JWT authorizer",
        "FAIL JWT authorizer issuer https://a1b2c3d4e5.execute-api.ap-east-1.amazonaws.com/",
        "FAIL JWT authorizer audiences",
    ] {
        assert!(out.contains(want), "{want}:\n{out}");
    }
    // A skey-mode stack with a route of JWT mode.
    let dir = recorded(|name, v| {
        if name == "get-routes" {
            v["Items"].as_array_mut().expect("items").push(json!({
                "AuthorizationType": "NONE", "RouteId": "x", "RouteKey": "POST /token"}));
        }
    });
    let (code, out) = check(&dir, false).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL POST /token exists, but only JWT mode has it"),
        "{out}"
    );
}

#[tokio::test]
async fn the_post_deploy_check_reads_the_discovery_documents_in_jwt_mode() {
    let server = LocalServer::start(&["--auth-mode", "jwt"], &[]).await;
    let url = server.url.clone();
    let dir = recorded_jwt(&url, |name, v| {
        if name == "describe-stacks" {
            v["Stacks"][0]["Outputs"][0]["OutputValue"] = json!(url);
        }
    });
    let (code, out) = check(&dir, true).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("the discovery document and JWKS served"),
        "{out}"
    );
    // A stack whose issuer is not the one the functions sign with.
    let dir = recorded_jwt("https://elsewhere.example.com", |name, v| {
        if name == "describe-stacks" {
            v["Stacks"][0]["Outputs"][0]["OutputValue"] = json!(url);
        }
    });
    let (code, out) = check(&dir, true).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the discovery document names issuer"), "{out}");
}
