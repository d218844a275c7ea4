//! Helpers of the integration tests: a real DynamoDB and S3 API (moto), real API Gateway event JSON, the fake
//! WeChat (the local server's simulator over real HTTP), a stand-in of the Lambda Runtime API to run the
//! real function binaries, and a capture of every log line.

pub mod bins;
pub mod counting;
pub mod dead;
pub mod dynamo;
pub mod env;
pub mod events;
pub mod kms;
pub mod legacy;
pub mod local;
pub mod logs;
pub mod runtime;
pub mod s3;
pub mod uploads;

/// The Python of the test tools (PyJWT...): `WXAUTH_TEST_PYTHON`, else the repository's `.venv`
/// (scripts/test installs requirements-test.txt there), else `python3`.
pub fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("WXAUTH_TEST_PYTHON") {
        return p.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        return venv;
    }
    "python3".into()
}
