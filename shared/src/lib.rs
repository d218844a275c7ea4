//! wxauth: WeChat Mini Program login and sessions on AWS Lambda.
//!
//! The three Lambda functions (`login`, `userinfo`, `authorizer`) and the local server are thin shells
//! around this crate: each builds its handler once ([`bootstrap`]) and hands requests to it
//! ([`handlers`]). Modules have one job each.

pub mod access_token;
#[cfg(feature = "aws")]
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod handlers;
pub mod identity;
pub mod logging;
pub mod routes;
#[cfg(feature = "aws")]
pub mod sdk_http;
pub mod secret;
pub mod sessions;
pub mod store;
pub mod tls;
pub mod users;
pub mod web;
pub mod wechat;
