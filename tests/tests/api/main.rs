//! The integration tests of wxauth, one test binary (it links the AWS SDK, axum and reqwest once):
//! real HTTP, a real DynamoDB API (moto), real API Gateway event shapes and the real function binaries.
//! One module per subject; run one with `cargo test -p wxauth-tests --test api <module>::`.

mod accounts;
mod admin;
mod authorizer;
mod avatars;
mod bad_input;
mod deploy_check;
mod error_codes;
mod faults;
mod jwt;
mod lambda_binaries;
mod limits;
mod load;
mod local_server;
mod login;
mod openapi_sync;
mod profile_phone_logout;
mod secrets;
mod store_contract;
mod template;
mod upgrade;
mod userinfo;
