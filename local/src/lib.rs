//! The local wxauth server: the same handlers as the Lambda functions behind an imitation of API
//! Gateway, and a WeChat simulator.
//!
//! - [`settings`]: command-line options and environment, validated once;
//! - [`gateway`]: HTTP request ↔ API Gateway event and response, the authorizer, the route table;
//! - [`dev`]: the dev routes of simulator mode (`/dev/code`, `/dev/userinfo`, `/dev/phone-code`,
//!   `/dev/avatar.png`), and [`sample`], the PNG the last one gives;
//! - [`server`]: start-up, banner, serving, graceful stop;
//! - [`log`]: one line per request;
//! - [`simulator`]: the WeChat simulator.

pub mod dev;
pub mod gateway;
pub mod log;
pub mod sample;
pub mod server;
pub mod settings;
pub mod simulator;
