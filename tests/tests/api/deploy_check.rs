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
