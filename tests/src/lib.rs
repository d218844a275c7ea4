//! Helpers of the integration tests: a real DynamoDB and S3 API (moto), real API Gateway event JSON, the fake
//! WeChat (the local server's simulator over real HTTP), a stand-in of the Lambda Runtime API to run the
//! real function binaries, and a capture of every log line.

pub mod bins;
pub mod counting;
pub mod dead;
pub mod dynamo;
pub mod env;
pub mod events;
pub mod legacy;
pub mod local;
pub mod logs;
pub mod runtime;
pub mod s3;
pub mod uploads;
