//! The local wxauth server: the same handlers as the Lambda functions behind an imitation of API
//! Gateway, and a WeChat simulator.

pub mod simulator;
