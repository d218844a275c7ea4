//! The Lambda authorizer: one function for every event shape API Gateway sends.
//!
//! - HTTP API, payload 2.0 with simple responses: `{"isAuthorized":..,"context":{..}}`.
//! - HTTP API, payload 1.0: an IAM policy (Allow, or Deny for a dead session).
//! - REST API, `TOKEN` and `REQUEST`: an IAM policy on the wildcard resource of the stage (a cached policy
//!   then serves every route), or the error `Unauthorized` (API Gateway answers 401).
//!
//! It fails closed: a store failure is a function error (the gateway denies with 500 and, unlike a
//! denial, does not cache it), never an Allow.

use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::deadline;
use crate::identity::Caller;
use crate::metrics::{self, Metric};
use crate::sessions::{Rejection, Sessions};
use crate::web::SKEY_HEADER;

/// The authorizer's name: its binary, and its `Function` dimension in the metrics.
pub const FUNCTION: &str = "authorizer";

/// Why the authorizer did not answer with a decision.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AuthorizerError {
    /// REST APIs: the exact message API Gateway turns into 401.
    #[error("Unauthorized")]
    Unauthorized,
    /// The session store failed: deny without a cacheable decision.
    #[error("session store unavailable")]
    StoreUnavailable,
    /// The event is not one API Gateway sends to authorizers.
    #[error("unsupported authorizer event: {0}")]
    BadEvent(&'static str),
}

impl From<AuthorizerError> for lambda_runtime::Diagnostic {
    fn from(e: AuthorizerError) -> Self {
        let error_type = match e {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::StoreUnavailable => "StoreUnavailable",
            AuthorizerError::BadEvent(_) => "BadEvent",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: e.to_string(),
        }
    }
}

/// The shapes of authorizer events.
#[derive(Debug)]
enum Event {
    HttpV2(Box<ApiGatewayV2CustomAuthorizerV2Request>),
    HttpV1(Box<ApiGatewayCustomAuthorizerRequestTypeRequest>),
    RestToken(ApiGatewayCustomAuthorizerRequest),
    RestRequest(Box<ApiGatewayCustomAuthorizerRequestTypeRequest>),
}

impl Event {
    fn kind(&self) -> &'static str {
        match self {
            Event::HttpV2(_) => "http-v2",
            Event::HttpV1(_) => "http-v1",
            Event::RestToken(_) => "rest-token",
            Event::RestRequest(_) => "rest-request",
        }
    }
}

fn parse_event(event: Value) -> Result<Event, AuthorizerError> {
    let version = event
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_string);
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase);
    let bad = |_| AuthorizerError::BadEvent("malformed event");
    match (version.as_deref(), kind.as_deref()) {
        (Some("2.0"), _) => Ok(Event::HttpV2(Box::new(
            serde_json::from_value(event).map_err(bad)?,
        ))),
        (_, Some("TOKEN")) => Ok(Event::RestToken(
            serde_json::from_value(event).map_err(bad)?,
        )),
        (Some("1.0"), Some("REQUEST")) => Ok(Event::HttpV1(Box::new(
            serde_json::from_value(event).map_err(bad)?,
        ))),
        (None, Some("REQUEST")) => Ok(Event::RestRequest(Box::new(
            serde_json::from_value(event).map_err(bad)?,
        ))),
        _ => Err(AuthorizerError::BadEvent(
            "neither TOKEN, REQUEST nor payload 2.0",
        )),
    }
}

/// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/*/*` from a method ARN (any partition).
fn wildcard_resource(method_arn: Option<&str>) -> Result<String, AuthorizerError> {
    let arn = method_arn.ok_or(AuthorizerError::BadEvent("no methodArn"))?;
    let mut parts = arn.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(api), Some(stage)) if api.starts_with("arn:") && !stage.is_empty() => {
            Ok(format!("{api}/{stage}/*/*"))
        }
        _ => Err(AuthorizerError::BadEvent("malformed methodArn")),
    }
}

/// The context object of an answer: the caller's fields, or nothing.
type Context = Map<String, Value>;

fn context(caller: Option<&Caller>) -> Context {
    match caller.map(Caller::to_context) {
        Some(Value::Object(fields)) => fields,
        _ => Context::new(),
    }
}

/// An IAM policy answer (HTTP API payload 1.0, REST APIs) on one resource.
fn policy(
    principal: &str,
    effect: IamPolicyEffect,
    resource: String,
    caller: Option<&Caller>,
) -> Value {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_string()];
    statement.effect = effect;
    statement.resource = vec![resource];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".to_string());
    document.statement = vec![statement];
    let mut answer = ApiGatewayCustomAuthorizerResponse::<Context>::default();
    answer.principal_id = Some(principal.to_string());
    answer.policy_document = document;
    answer.context = context(caller);
    to_value(&answer)
}

/// A simple answer (HTTP API payload 2.0).
fn simple(caller: Option<&Caller>) -> Value {
    let mut answer = ApiGatewayV2CustomAuthorizerSimpleResponse::<Context>::default();
    answer.is_authorized = caller.is_some();
    answer.context = context(caller);
    to_value(&answer)
}

fn to_value(answer: &impl serde::Serialize) -> Value {
    // Plain structs of strings and maps: serialization cannot fail.
    serde_json::to_value(answer).unwrap_or(Value::Null)
}

/// The authorizer.
#[derive(Debug, Clone)]
pub struct Authorizer {
    sessions: Sessions,
    budget: Duration,
}

impl Authorizer {
    pub fn new(sessions: Sessions) -> Self {
        Authorizer {
            sessions,
            budget: deadline::AUTHORIZER_BUDGET,
        }
    }

    /// Another budget per event than [`deadline::AUTHORIZER_BUDGET`] (tests).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Decides on one skey: the caller, or why not. A store failure is an error.
    pub async fn decide(
        &self,
        skey: Option<&str>,
    ) -> Result<Result<Caller, Rejection>, AuthorizerError> {
        match self.sessions.resolve(skey).await {
            Ok(Ok(s)) => Ok(Ok(Caller {
                openid: s.openid,
                unionid: s.unionid,
                session_id: s.sid,
                appid: s.appid,
                uid: s.uid,
            })),
            Ok(Err(why)) => Ok(Err(why)),
            Err(e) => {
                tracing::error!(error = %e, "authorizer denies: session store unavailable");
                metrics::count(Metric::StoreErrors, &[]);
                Err(AuthorizerError::StoreUnavailable)
            }
        }
    }

    /// Answers one authorizer event within the authorizer's budget.
    pub async fn handle(&self, event: Value) -> Result<Value, AuthorizerError> {
        self.handle_by(event, 0).await
    }

    /// Answers one authorizer event by the Lambda invocation's deadline (epoch milliseconds; `0`:
    /// the budget alone).
    pub async fn handle_by(
        &self,
        event: Value,
        lambda_deadline_ms: u64,
    ) -> Result<Value, AuthorizerError> {
        let deadline = deadline::of_request(self.budget, lambda_deadline_ms);
        metrics::within(FUNCTION, deadline::scope(deadline, self.answer(event))).await
    }

    async fn answer(&self, event: Value) -> Result<Value, AuthorizerError> {
        let started = Instant::now();
        let event =
            parse_event(event).inspect_err(|e| tracing::error!(error = %e, "authorizer denies"))?;
        let kind = event.kind();
        // The identity source is what API Gateway caches the decision under: decide on it alone, never
        // on a header that may differ from it.
        let skey = match &event {
            Event::HttpV2(e) => e.identity_source.as_ref().and_then(|s| s.first().cloned()),
            Event::HttpV1(e) | Event::RestRequest(e) => e
                .headers
                .get(SKEY_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            Event::RestToken(e) => e.authorization_token.clone(),
        };
        let decision = self.decide(skey.as_deref()).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &decision {
            Ok(Ok(c)) => tracing::info!(
                kind,
                decision = "allow",
                session_id = c.session_id,
                latency_ms,
                "authorized"
            ),
            Ok(Err(why)) => tracing::info!(
                kind,
                decision = "deny",
                reason = why.as_str(),
                latency_ms,
                "denied"
            ),
            Err(_) => tracing::error!(kind, decision = "error", latency_ms, "denied"),
        }
        let outcome = match &decision {
            Ok(Ok(_)) => "Allow",
            Ok(Err(_)) => "Deny",
            Err(_) => "Error",
        };
        metrics::count(Metric::AuthorizerDecisions, &[("Decision", outcome)]);
        metrics::millis(Metric::Latency, latency_ms, &[]);
        let decision = decision?;
        let caller = decision.as_ref().ok();
        match event {
            Event::HttpV2(_) => Ok(simple(caller)),
            Event::HttpV1(e) => {
                let resource = wildcard_resource(e.method_arn.as_deref())?;
                Ok(match caller {
                    Some(c) => policy(&c.openid, IamPolicyEffect::Allow, resource, Some(c)),
                    None => policy("anonymous", IamPolicyEffect::Deny, resource, None),
                })
            }
            Event::RestToken(ApiGatewayCustomAuthorizerRequest { method_arn, .. }) => {
                let c = caller.ok_or(AuthorizerError::Unauthorized)?;
                let resource = wildcard_resource(method_arn.as_deref())?;
                Ok(policy(&c.openid, IamPolicyEffect::Allow, resource, Some(c)))
            }
            Event::RestRequest(e) => {
                let c = caller.ok_or(AuthorizerError::Unauthorized)?;
                let resource = wildcard_resource(e.method_arn.as_deref())?;
                Ok(policy(&c.openid, IamPolicyEffect::Allow, resource, Some(c)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcard_keeps_partition_api_and_stage() {
        assert_eq!(
            wildcard_resource(Some(
                "arn:aws:execute-api:us-east-1:123:abc/prod/GET/users/1"
            ))
            .expect("ok"),
            "arn:aws:execute-api:us-east-1:123:abc/prod/*/*"
        );
        assert_eq!(
            wildcard_resource(Some(
                "arn:aws-cn:execute-api:cn-north-1:123:abc/$default/POST/x"
            ))
            .expect("ok"),
            "arn:aws-cn:execute-api:cn-north-1:123:abc/$default/*/*"
        );
        for bad in [
            None,
            Some(""),
            Some("abc"),
            Some("arn:aws:execute-api:r:1:abc"),
            Some("arn:x/"),
        ] {
            assert!(wildcard_resource(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unknown_shapes_are_refused() {
        for ev in [
            json!({}),
            json!({"type":"OTHER"}),
            json!([1]),
            json!({"version":"3.0"}),
        ] {
            assert!(matches!(parse_event(ev), Err(AuthorizerError::BadEvent(_))));
        }
    }

    #[test]
    fn unauthorized_message_is_exact() {
        let d = lambda_runtime::Diagnostic::from(AuthorizerError::Unauthorized);
        assert_eq!(d.error_message, "Unauthorized");
    }
}
