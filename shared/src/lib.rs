//! wxauth: WeChat Mini Program login and sessions on AWS Lambda.
//!
//! The four Lambda functions (`login`, `userinfo`, `avatar`, `authorizer`) and the local server are thin shells
//! around this crate: each builds its handler once ([`bootstrap`]) and hands requests to it
//! ([`handlers`]). A request reads top to bottom through these layers, each with its own error type
//! ([`error`]):
//!
//! - **HTTP** — [`handlers`] (one module per function, dispatching on the route table of [`routes`]),
//!   [`web`] (bodies, multipart forms, JSON and binary answers, headers), [`identity`] (the
//!   authorizer's context). Errors:
//!   [`error::ApiError`], made into answers in one place ([`handlers::respond`]).
//! - **Services** — [`sessions`] (create, resolve, end a session), [`users`] (profile, phone, the
//!   nickname check, all of a user's sessions, stale session_key checks), [`accounts`] (one id per
//!   person across the apps), [`avatars`] (the uploaded avatar: image formats, URLs, its store),
//!   [`access_token`] (WeChat's access_token, shared by every instance). Errors:
//!   [`error::ServiceError`], turned into `ApiError` once, logged.
//! - **Below** — [`wechat`] (the WeChat server API), [`crypto`] (skeys, signatures, decryption),
//!   [`store`] (the [`store::Store`] trait, DynamoDB and memory, the table's one description in
//!   [`store::schema`]), [`avatars::AvatarStore`] (S3, a folder, memory), [`config`] and [`secret`] (what a cold start reads), [`clock`], [`logging`],
//!   [`tls`] and [`sdk_http`] (one TLS configuration for WeChat and the AWS SDK).

pub mod access_token;
pub mod accounts;
pub mod apps;
pub mod audit;
pub mod avatars;
#[cfg(feature = "aws")]
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod deadline;
pub mod error;
pub mod handlers;
pub mod identity;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod routes;
#[cfg(feature = "aws")]
pub mod sdk_http;
pub mod secret;
pub mod session_jwt;
pub mod sessions;
#[cfg(feature = "aws")]
pub mod sigv4;
pub mod store;
pub mod tls;
pub mod users;
pub mod web;
pub mod wechat;
