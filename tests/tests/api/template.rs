//! `template.yaml` agrees with the code: the table's schema, the avatar bucket (private, encrypted),
//! the routes and their authorization, the functions' build settings, and least privilege — the
//! DynamoDB and S3 actions of each function's policy are exactly those its code calls (recorded while
//! driving every route).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use serde_norway::Value;
use wxauth::avatars::memory::MemoryAvatars;
use wxauth::clock::ManualClock;
use wxauth::config::ProfileOptions;
use wxauth::config::{Config, Role};
use wxauth::routes::{AuthMode, Authorizer, Function, served};
use wxauth::secret::Secret;
use wxauth::session_jwt::local::LocalKey;
use wxauth::session_jwt::{Issuer, SessionJwts};
use wxauth::sessions::Sessions;
use wxauth::store::memory::MemoryStore;
use wxauth::store::schema;
use wxauth::wechat::{WechatClient, http_client};
use wxauth_local::simulator::Simulator;
use wxauth_tests::counting::{CountingAvatars, CountingStore};
use wxauth_tests::env::{APPID, SECRET, START};
use wxauth_tests::legacy::{self, LegacyUser};

/// The second mini program of the scenario.
const APP2: &str = "wx00000000000000b2";
use wxauth_tests::events::{self, Req, parts};

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml parses")
}

fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    &t["Resources"][name]
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => format!("!{} {}", t.tag, text(&t.value)),
        other => format!("{other:?}"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

#[test]
fn the_table_is_the_one_the_code_uses() {
    let t = template();
    let table = resource(&t, "SessionTable");
    assert_eq!(text(&table["Type"]), "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    let want = schema::table_schema();
    assert_eq!(text(&p["BillingMode"]), "PAY_PER_REQUEST");
    let keys: Vec<(String, String)> = p["KeySchema"]
        .as_sequence()
        .expect("KeySchema")
        .iter()
        .map(|k| (text(&k["AttributeName"]), text(&k["KeyType"])))
        .collect();
    assert_eq!(keys, vec![(want.hash_key.to_string(), "HASH".to_string())]);
    let attrs: BTreeSet<(String, String)> = p["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| (text(&a["AttributeName"]), text(&a["AttributeType"])))
        .collect();
    let want_attrs: BTreeSet<(String, String)> = want
        .attributes
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(attrs, want_attrs);
    let indexes: Vec<(String, String, String)> = p["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("GSIs")
        .iter()
        .map(|i| {
            let keys = i["KeySchema"].as_sequence().expect("keys");
            assert_eq!(keys.len(), 1, "hash key only");
            (
                text(&i["IndexName"]),
                text(&keys[0]["AttributeName"]),
                text(&i["Projection"]["ProjectionType"]),
            )
        })
        .collect();
    let want_indexes: Vec<(String, String, String)> = want
        .indexes
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(indexes, want_indexes);
    assert_eq!(
        text(&p["TimeToLiveSpecification"]["AttributeName"]),
        want.ttl_attribute
    );
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], Value::Bool(true));
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        Value::Bool(true)
    );
}

fn function_of(f: Function) -> &'static str {
    match f {
        Function::Login => "LoginFunction",
        Function::Userinfo => "UserinfoFunction",
        Function::Avatar => "AvatarFunction",
    }
}

#[test]
fn the_avatar_bucket_is_private_and_encrypted_and_only_the_avatar_function_reaches_it() {
    let t = template();
    let bucket = resource(&t, "AvatarBucket");
    assert_eq!(text(&bucket["Type"]), "AWS::S3::Bucket");
    let p = &bucket["Properties"];
    let block = &p["PublicAccessBlockConfiguration"];
    for key in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[key], Value::Bool(true), "{key}");
    }
    let sse = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(
        text(&sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"]),
        "AES256"
    );
    assert_eq!(
        text(&p["OwnershipControls"]["Rules"][0]["ObjectOwnership"]),
        "BucketOwnerEnforced",
        "no ACLs at all"
    );
    assert!(
        p["VersioningConfiguration"].is_null(),
        "one object per account"
    );
    let avatar = &resource(&t, "AvatarFunction")["Properties"];
    let untagged = |v: &Value| text(v).trim_start_matches('!').to_string();
    assert_eq!(
        untagged(&avatar["Environment"]["Variables"]["AVATAR_BUCKET"]),
        "Ref AvatarBucket"
    );
    assert!(
        avatar["Environment"]["Variables"]["WX_SECRET_PARAMETER"].is_null(),
        "the avatar function has no app secret"
    );
    let mut s3_resources = BTreeSet::new();
    for st in avatar["Policies"][0]["Statement"]
        .as_sequence()
        .expect("statements")
    {
        if strings(&st["Action"]).iter().any(|a| a.starts_with("s3:")) {
            s3_resources.insert(untagged(&st["Resource"]));
        }
    }
    assert_eq!(
        s3_resources,
        BTreeSet::from([
            "Sub ${AvatarBucket.Arn}/avatars/*".to_string(),
            "GetAtt AvatarBucket.Arn".to_string()
        ])
    );
    for other in ["LoginFunction", "UserinfoFunction", "AuthorizerFunction"] {
        assert!(
            !granted(&t, other).iter().any(|a| a.starts_with("s3:")),
            "{other} reaches the bucket"
        );
    }
}

// ------------------------------------------------------------------ the template, evaluated

/// The values of the template's parameters for one deployment: the defaults, `AppId` (which has none)
/// and the overrides. A string, or a list for a `CommaDelimitedList`.
fn parameters(t: &Value, overrides: &[(&str, Value)]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (name, p) in t["Parameters"].as_mapping().expect("Parameters") {
        let name = text(name);
        let default = match &p["Default"] {
            Value::Null => continue,
            Value::Number(n) => n.to_string(),
            v => text(v),
        };
        let value = if text(&p["Type"]) == "CommaDelimitedList" {
            Value::Sequence(
                default
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.into()))
                    .collect(),
            )
        } else {
            Value::String(default)
        };
        out.insert(name, value);
    }
    out.insert("AppId".into(), Value::String(APPID.into()));
    for (name, value) in overrides {
        assert!(
            t["Parameters"].get(*name).is_some(),
            "no parameter {name} in template.yaml"
        );
        out.insert(name.to_string(), value.clone());
    }
    out
}

/// A deployment in `mode`, the other parameters as given.
fn deployment(t: &Value, mode: AuthMode, more: &[(&str, Value)]) -> BTreeMap<String, Value> {
    let mut overrides = vec![("AuthMode", Value::String(mode.name().into()))];
    overrides.extend(more.iter().cloned());
    parameters(t, &overrides)
}

fn tag_of(t: &serde_norway::value::TaggedValue) -> String {
    t.tag.to_string().trim_start_matches('!').to_string()
}

/// A condition of the template, for these parameters.
fn condition(t: &Value, name: &str, p: &BTreeMap<String, Value>) -> bool {
    let c = &t["Conditions"][name];
    assert!(!c.is_null(), "no condition {name}");
    match eval(t, c, p) {
        Some(Value::Bool(b)) => b,
        other => panic!("condition {name} is not a boolean: {other:?}"),
    }
}

/// Whether a resource (or output) exists for these parameters.
fn exists(t: &Value, r: &Value, p: &BTreeMap<String, Value>) -> bool {
    match &r["Condition"] {
        Value::Null => true,
        c => condition(t, &text(c), p),
    }
}

/// Evaluates what depends on parameters only (`Ref` of a parameter, `If`, `Equals`, `Not`, `And`,
/// `Or`, `Condition`, `Join` and `Split` of known strings); leaves the rest (`Ref` of a resource,
/// `GetAtt`, `Sub`) as it is. `None` is `AWS::NoValue`.
fn eval(t: &Value, v: &Value, p: &BTreeMap<String, Value>) -> Option<Value> {
    let boolean = |v: &Value| match eval(t, v, p) {
        Some(Value::Bool(b)) => b,
        other => panic!("not a boolean: {v:?} -> {other:?}"),
    };
    match v {
        Value::Tagged(tagged) => {
            let args = &tagged.value;
            let arg = |i: usize| &args.as_sequence().expect("a list of arguments")[i];
            match tag_of(tagged).as_str() {
                "Ref" => {
                    let name = text(args);
                    if name == "AWS::NoValue" {
                        None
                    } else {
                        Some(p.get(&name).cloned().unwrap_or_else(|| v.clone()))
                    }
                }
                "If" => {
                    let branch = if condition(t, &text(arg(0)), p) {
                        arg(1)
                    } else {
                        arg(2)
                    };
                    eval(t, branch, p)
                }
                "Condition" => Some(Value::Bool(condition(t, &text(args), p))),
                "Equals" => Some(Value::Bool(eval(t, arg(0), p) == eval(t, arg(1), p))),
                "Not" => Some(Value::Bool(!boolean(arg(0)))),
                "And" => Some(Value::Bool(
                    args.as_sequence().expect("And").iter().all(boolean),
                )),
                "Or" => Some(Value::Bool(
                    args.as_sequence().expect("Or").iter().any(boolean),
                )),
                "Join" => {
                    let parts = eval(t, arg(1), p).expect("Join's list");
                    let parts: Option<Vec<String>> = parts
                        .as_sequence()
                        .expect("Join's list")
                        .iter()
                        .map(|s| s.as_str().map(str::to_string))
                        .collect();
                    Some(match parts {
                        Some(parts) => Value::String(parts.join(&text(arg(0)))),
                        None => v.clone(),
                    })
                }
                "Split" => Some(match eval(t, arg(1), p) {
                    Some(Value::String(s)) => Value::Sequence(
                        s.split(text(arg(0)).as_str())
                            .map(|s| Value::String(s.into()))
                            .collect(),
                    ),
                    _ => v.clone(),
                }),
                _ => {
                    let mut out = (**tagged).clone();
                    out.value = eval(t, args, p).unwrap_or(Value::Null);
                    Some(Value::Tagged(Box::new(out)))
                }
            }
        }
        Value::Sequence(items) => Some(Value::Sequence(
            items.iter().filter_map(|i| eval(t, i, p)).collect(),
        )),
        Value::Mapping(m) => Some(Value::Mapping(
            m.iter()
                .filter_map(|(k, v)| eval(t, v, p).map(|v| (k.clone(), v)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// A value as a string once deployed, with each resource named `<LogicalId>-id` (`Ref`),
/// `<LogicalId>-<Attribute>` (`GetAtt`), inside `Sub` too, and the stack in ap-east-1.
fn deployed(v: &Value) -> String {
    let name = |r: &str| {
        match r {
            "AWS::Region" => "ap-east-1",
            "AWS::URLSuffix" => "amazonaws.com",
            "AWS::Partition" => "aws",
            "AWS::AccountId" => "123456789012",
            "AWS::StackName" => "wxauth",
            _ => "",
        }
        .to_string()
    };
    let resource = |r: &str| match name(r).as_str() {
        "" => match r.split_once('.') {
            Some((id, attr)) => format!("{id}-{attr}"),
            None => format!("{r}-id"),
        },
        known => known.to_string(),
    };
    match v {
        Value::Tagged(tagged) => match tag_of(tagged).as_str() {
            "Ref" | "GetAtt" => resource(&text(&tagged.value)),
            "Sub" => {
                let mut s = text(&tagged.value);
                while let Some(start) = s.find("${") {
                    let end = start + s[start..].find('}').expect("}");
                    let r = resource(&s[start + 2..end]);
                    s.replace_range(start..=end, &r);
                }
                s
            }
            other => panic!("cannot deploy !{other} {:?}", tagged.value),
        },
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => text(other),
    }
}

/// The environment of a function for these parameters, as Lambda gives it (the globals, then its
/// own variables).
fn environment(t: &Value, function: &str, p: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for vars in [
        &t["Globals"]["Function"]["Environment"]["Variables"],
        &resource(t, function)["Properties"]["Environment"]["Variables"],
    ] {
        let vars = eval(t, vars, p).expect("variables");
        for (k, v) in vars.as_mapping().into_iter().flatten() {
            env.insert(text(k), deployed(v));
        }
    }
    env
}

/// The resources of a type that exist for these parameters, evaluated, by logical id.
fn resources_of(t: &Value, kind: &str, p: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| text(&r["Type"]) == kind && exists(t, r, p))
        .map(|(id, r)| (text(id), eval(t, r, p).expect("a resource")))
        .collect()
}

/// The logical id a `!Ref X` or `!GetAtt X.Attr` names.
fn named(v: &Value) -> String {
    let s = text(v);
    let s = s
        .strip_prefix("!!Ref ")
        .or_else(|| s.strip_prefix("!!GetAtt "))
        .unwrap_or_else(|| panic!("not a Ref or GetAtt: {s}"));
    s.split('.').next().expect("id").to_string()
}

/// The execute-api ARN of a route of `HttpApi` in an invoke permission: `{...}` path parts are `*`.
fn route_source_arn(method: &str, path: &str) -> String {
    let path: Vec<&str> = path
        .split('/')
        .map(|s| if s.starts_with('{') { "*" } else { s })
        .collect();
    format!(
        "!!Sub arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{HttpApi}}/*/{method}{}",
        path.join("/")
    )
}

/// The API's own URL, the JWT authorizer's issuer: what `wxauth::session_jwt::api_issuer` makes of
/// the request's API id and the function's region.
const API_ISSUER: &str = "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}";

#[test]
fn routes_and_authorization_match_the_route_table() {
    let t = template();
    // Routes of their own beside SAM events would be deleted at the next deploy that changes SAM's
    // OpenAPI body (template.yaml, the API section): no events at all.
    for (id, r) in t["Resources"].as_mapping().expect("Resources") {
        if text(&r["Type"]) == "AWS::Serverless::Function" {
            assert!(
                r["Properties"]["Events"].is_null(),
                "{id:?} has SAM events: the routes are AWS::ApiGatewayV2::Route resources"
            );
        }
        assert_ne!(text(&r["Type"]), "AWS::Serverless::HttpApi", "{id:?}");
    }
    let api = resource(&t, "HttpApi");
    assert_eq!(text(&api["Type"]), "AWS::ApiGatewayV2::Api");
    assert_eq!(text(&api["Properties"]["ProtocolType"]), "HTTP");
    assert!(api["Properties"]["Body"].is_null(), "no OpenAPI body");
    assert_eq!(
        api["Properties"]["DisableExecuteApiEndpoint"],
        Value::Bool(false),
        "the issuer's endpoint"
    );

    for mode in [AuthMode::Skey, AuthMode::Jwt] {
        let p = deployment(&t, mode, &[]);
        let authorizers = resources_of(&t, "AWS::ApiGatewayV2::Authorizer", &p);
        let integrations = resources_of(&t, "AWS::ApiGatewayV2::Integration", &p);
        let permissions = resources_of(&t, "AWS::Lambda::Permission", &p);
        let mut made = BTreeMap::new();
        for (id, route) in resources_of(&t, "AWS::ApiGatewayV2::Route", &p) {
            let r = &route["Properties"];
            assert_eq!(text(&r["ApiId"]), "!!Ref HttpApi", "{id}");
            let key = text(&r["RouteKey"]);
            let target = text(&r["Target"]);
            let integration = target
                .strip_prefix("!!Sub integrations/${")
                .and_then(|s| s.strip_suffix('}'))
                .unwrap_or_else(|| panic!("{id}: target {target}"));
            let integration = &integrations
                .get(integration)
                .unwrap_or_else(|| panic!("{id}: no integration {integration} in {mode:?}"))["Properties"];
            assert_eq!(text(&integration["IntegrationType"]), "AWS_PROXY");
            assert_eq!(text(&integration["PayloadFormatVersion"]), "2.0");
            let function = named(&integration["IntegrationUri"]);
            let authorizer = match text(&r["AuthorizationType"]).as_str() {
                "NONE" => {
                    assert!(r["AuthorizerId"].is_null(), "{id}");
                    Authorizer::None
                }
                kind @ ("CUSTOM" | "JWT") => {
                    let a = named(&r["AuthorizerId"]);
                    let a = &authorizers
                        .get(&a)
                        .unwrap_or_else(|| panic!("{id}: no authorizer {a} in {mode:?}"))["Properties"];
                    match (kind, text(&a["AuthorizerType"]).as_str()) {
                        ("CUSTOM", "REQUEST") => Authorizer::Skey,
                        ("JWT", "JWT") => Authorizer::Jwt,
                        other => panic!("{id}: {other:?}"),
                    }
                }
                other => panic!("{id}: AuthorizationType {other}"),
            };
            assert!(
                made.insert(key.clone(), (function.clone(), authorizer))
                    .is_none(),
                "{key} twice in {mode:?}"
            );
            // The function may be invoked by this API on this route.
            let (method, path) = key.split_once(' ').expect("route key");
            let arn = route_source_arn(method, path);
            assert!(
                permissions.values().any(|perm| {
                    let perm = &perm["Properties"];
                    text(&perm["SourceArn"]) == arn
                        && named(&perm["FunctionName"]) == function
                        && text(&perm["Action"]) == "lambda:InvokeFunction"
                        && text(&perm["Principal"]) == "apigateway.amazonaws.com"
                }),
                "{mode:?}: no permission for {function} on {arn}"
            );
        }
        let wanted: BTreeMap<String, (String, Authorizer)> = served(mode)
            .map(|r| {
                (
                    r.key(),
                    (function_of(r.function).to_string(), r.authorizer(mode)),
                )
            })
            .collect();
        assert_eq!(
            made, wanted,
            "{mode:?}: template.yaml routes == wxauth::routes::served"
        );
        assert_eq!(
            permissions.len(),
            wanted.len() + 1,
            "{mode:?}: one permission per route, and the authorizer's"
        );

        // The X-WX-Skey authorizer, in both modes.
        let a = &authorizers["WxSkeyAuthorizer"]["Properties"];
        assert_eq!(text(&a["AuthorizerType"]), "REQUEST");
        assert_eq!(text(&a["AuthorizerPayloadFormatVersion"]), "2.0");
        assert_eq!(a["EnableSimpleResponses"], Value::Bool(true));
        assert_eq!(
            strings(&a["IdentitySource"]),
            vec!["$request.header.X-WX-Skey".to_string()]
        );
        assert_eq!(
            text(&a["AuthorizerResultTtlInSeconds"]),
            text(&p["AuthorizerCacheSeconds"])
        );
        assert!(text(&a["AuthorizerUri"]).contains("${AuthorizerFunction.Arn}"));
        let invoke = &permissions["WxSkeyAuthorizerPermission"]["Properties"];
        assert_eq!(named(&invoke["FunctionName"]), "AuthorizerFunction");
        assert_eq!(
            text(&invoke["SourceArn"]),
            "!!Sub arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/authorizers/${WxSkeyAuthorizer}"
        );
        assert_eq!(
            authorizers.contains_key("WxJwtAuthorizer"),
            mode == AuthMode::Jwt
        );

        // The $default stage deploys every change, after the route its settings name.
        let stage = &resource(&t, "HttpApiApiGatewayDefaultStage");
        assert_eq!(text(&stage["Type"]), "AWS::ApiGatewayV2::Stage");
        assert_eq!(text(&stage["Properties"]["StageName"]), "$default");
        assert_eq!(stage["Properties"]["AutoDeploy"], Value::Bool(true));
        for (key, _) in stage["Properties"]["RouteSettings"]
            .as_mapping()
            .expect("RouteSettings")
        {
            let route = t["Resources"]
                .as_mapping()
                .expect("Resources")
                .iter()
                .find(|(_, r)| text(&r["Properties"]["RouteKey"]) == text(key))
                .map(|(id, r)| (text(id), r))
                .unwrap_or_else(|| panic!("RouteSettings names {key:?}, no route"));
            assert!(route.1["Condition"].is_null(), "{key:?} in every mode");
            assert!(
                strings(&stage["DependsOn"]).contains(&route.0),
                "the stage depends on {}",
                route.0
            );
        }
    }
}

#[test]
fn the_jwt_authorizer_trusts_exactly_the_issuer_and_audiences_the_code_writes() {
    let t = template();
    for more in [vec![], vec![APP2, "wx00000000000000c3"]] {
        let list = Value::Sequence(more.iter().map(|a| Value::String(a.to_string())).collect());
        let p = deployment(&t, AuthMode::Jwt, &[("MoreAppIds", list)]);
        let a =
            &resources_of(&t, "AWS::ApiGatewayV2::Authorizer", &p)["WxJwtAuthorizer"]["Properties"];
        assert_eq!(text(&a["AuthorizerType"]), "JWT");
        assert_eq!(
            strings(&a["IdentitySource"]),
            vec!["$request.header.Authorization".to_string()]
        );
        let jwt = &a["JwtConfiguration"];
        assert_eq!(text(&jwt["Issuer"]), format!("!!Sub {API_ISSUER}"));
        let mut apps = vec![APPID];
        apps.extend(&more);
        assert_eq!(strings(&jwt["Audience"]), apps, "AppId + MoreAppIds");
        // The login function's answers, once deployed, name the same URL and the same apps.
        let env = environment(&t, "LoginFunction", &p);
        let lookup = |k: &str| env.get(k).cloned();
        let config =
            Config::from_lookup(Role::WeChat, lookup).expect("the login function's config");
        let served: Vec<&str> = config.apps.iter().map(|a| a.appid.as_str()).collect();
        assert_eq!(served, apps);
        let outputs = &t["Outputs"];
        assert_eq!(
            text(&outputs["JwtIssuer"]["Value"]),
            format!("!!Sub {API_ISSUER}")
        );
        let audience = eval(&t, &outputs["JwtAudience"]["Value"], &p).expect("audience");
        assert_eq!(text(&audience), apps.join(","));
    }
    // The format of wxauth::session_jwt::api_issuer, in both partitions.
    for (region, suffix) in [
        ("ap-east-1", "amazonaws.com"),
        ("cn-north-1", "amazonaws.com.cn"),
    ] {
        let deployed = API_ISSUER
            .replace("${HttpApi}", "abc123def4")
            .replace("${AWS::Region}", region)
            .replace("${AWS::URLSuffix}", suffix);
        assert_eq!(
            Some(deployed),
            wxauth::session_jwt::api_issuer("abc123def4", region)
        );
    }
    for output in ["JwtIssuer", "JwtAudience", "JwksUrl", "JwtKmsKeyIds"] {
        assert_eq!(
            text(&t["Outputs"][output]["Condition"]),
            "IsJwt",
            "{output}"
        );
    }
    assert_eq!(
        text(&t["Outputs"]["JwksUrl"]["Value"]),
        format!("!!Sub {API_ISSUER}{}", wxauth::session_jwt::JWKS_PATH)
    );
}

/// The KMS statements of a function's policies for these parameters: (action, resources, condition).
fn kms_grants(
    t: &Value,
    function: &str,
    p: &BTreeMap<String, Value>,
) -> Vec<(String, Vec<String>, Value)> {
    let policies = eval(t, &resource(t, function)["Properties"]["Policies"], p).expect("policies");
    let mut out = Vec::new();
    for policy in policies.as_sequence().expect("Policies") {
        for st in policy["Statement"].as_sequence().expect("Statement") {
            for a in strings(&st["Action"]) {
                if a.starts_with("kms:") {
                    out.push((a, strings(&st["Resource"]), st["Condition"].clone()));
                }
            }
        }
    }
    out
}

#[test]
fn the_login_function_gets_what_the_config_reads_and_signs_with_the_stacks_keys_only() {
    use wxauth::session_jwt::{DEFAULT_LIFETIME, MAX_LIFETIME, MIN_LIFETIME};
    let t = template();
    let params = &t["Parameters"];
    let number = |v: &Value| v.as_i64().expect("a number");
    assert_eq!(
        number(&params["JwtLifetimeSeconds"]["Default"]),
        DEFAULT_LIFETIME
    );
    assert_eq!(
        number(&params["JwtLifetimeSeconds"]["MinValue"]),
        MIN_LIFETIME
    );
    assert_eq!(
        number(&params["JwtLifetimeSeconds"]["MaxValue"]),
        MAX_LIFETIME
    );
    assert_eq!(
        number(&params["JwtLimitPerSession"]["Default"]),
        i64::from(wxauth::limits::DEFAULT_JWT_PER_SESSION)
    );
    assert_eq!(
        strings(&params["AuthMode"]["AllowedValues"]),
        [AuthMode::Skey.name(), AuthMode::Jwt.name()]
    );
    assert_eq!(
        text(&params["AuthMode"]["Default"]),
        AuthMode::default().name()
    );

    // The KMS operations the code calls: exactly Sign and GetPublicKey.
    let kms_rs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/src/session_jwt/kms.rs"
    ))
    .expect("kms.rs");
    let called: BTreeSet<String> = kms_rs
        .split(".call(")
        .skip(1)
        .map(|rest| {
            let rest = &rest[rest.find('"').expect("an operation name") + 1..];
            format!("kms:{}", &rest[..rest.find('"').expect("\"")])
        })
        .collect();
    assert_eq!(
        called,
        BTreeSet::from(["kms:GetPublicKey".to_string(), "kms:Sign".to_string()])
    );

    for mode in [AuthMode::Skey, AuthMode::Jwt] {
        for keys in ["A", "A,B", "B,A", "B"] {
            let p = deployment(&t, mode, &[("JwtSigningKeys", Value::String(keys.into()))]);
            for f in [
                "LoginFunction",
                "UserinfoFunction",
                "AvatarFunction",
                "AuthorizerFunction",
            ] {
                assert!(
                    !environment(&t, f, &p).contains_key("WXAUTH_JWT_ISSUER"),
                    "{f}: the issuer is the API of each request"
                );
            }
            let env = environment(&t, "LoginFunction", &p);
            for var in [
                "WXAUTH_AUTH_MODE",
                "WXAUTH_JWT_KMS_KEY_IDS",
                "WXAUTH_JWT_LIFETIME_SECONDS",
                "WXAUTH_JWT_LIMIT_PER_SESSION",
            ] {
                assert!(
                    env.contains_key(var),
                    "{mode:?}: the login function lacks {var}"
                );
            }
            let config = Config::from_lookup(Role::WeChat, |k| env.get(k).cloned())
                .unwrap_or_else(|e| panic!("{mode:?} {keys}: {e}"));
            assert_eq!(config.auth_mode, mode);
            assert_eq!(config.session_jwt.issuer, None);
            assert_eq!(config.session_jwt.lifetime, DEFAULT_LIFETIME);
            assert_eq!(
                config.protection.limits.jwt_per_session.limit,
                wxauth::limits::DEFAULT_JWT_PER_SESSION
            );
            // The keys that exist, the one that signs first, and what the function may do with them.
            let kms_keys = resources_of(&t, "AWS::KMS::Key", &p);
            let grants = kms_grants(&t, "LoginFunction", &p);
            if mode == AuthMode::Skey {
                assert!(config.session_jwt.kms_key_ids.is_empty());
                assert!(kms_keys.is_empty(), "{keys}: no key in skey mode");
                assert!(grants.is_empty(), "no kms action in skey mode: {grants:?}");
                continue;
            }
            let want: Vec<String> = keys.split(',').map(|k| format!("JwtKey{k}-id")).collect();
            assert_eq!(
                config.session_jwt.kms_key_ids, want,
                "{keys}: the signer first"
            );
            let existing: BTreeSet<String> = kms_keys.keys().cloned().collect();
            let listed: BTreeSet<String> = keys.split(',').map(|k| format!("JwtKey{k}")).collect();
            assert_eq!(existing, listed, "{keys}: the keys of the stack");
            for key in kms_keys.values() {
                let k = &key["Properties"];
                assert_eq!(text(&k["KeySpec"]), "RSA_2048");
                assert_eq!(text(&k["KeyUsage"]), "SIGN_VERIFY");
                let root = &k["KeyPolicy"]["Statement"][0];
                assert_eq!(
                    text(&root["Principal"]["AWS"]),
                    "!!Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
                );
                assert!(
                    k["Tags"]
                        .as_sequence()
                        .expect("Tags")
                        .iter()
                        .any(|tag| text(&tag["Key"]) == "wxauth-jwt"
                            && text(&tag["Value"]) == "!!Ref AWS::StackName")
                );
            }
            let arns: BTreeSet<String> =
                listed.iter().map(|k| format!("!!GetAtt {k}.Arn")).collect();
            let actions: BTreeSet<&str> = grants.iter().map(|(a, _, _)| a.as_str()).collect();
            assert_eq!(actions, called.iter().map(String::as_str).collect());
            for (action, resources, cond) in &grants {
                let resources: BTreeSet<String> = resources.iter().cloned().collect();
                assert_eq!(resources, arns, "{keys}: {action} on the stack's keys only");
                if action == "kms:Sign" {
                    let eq = &cond["StringEquals"];
                    assert_eq!(
                        text(&eq["kms:SigningAlgorithm"]),
                        wxauth::session_jwt::kms::SIGNING_ALGORITHM
                    );
                    assert_eq!(text(&eq["kms:MessageType"]), "RAW");
                } else {
                    assert!(cond.is_null(), "{action}: no Sign-only condition key");
                }
            }
            let ids = eval(&t, &t["Outputs"]["JwtKmsKeyIds"]["Value"], &p).expect("output");
            assert_eq!(deployed(&ids), want.join(","));
        }
    }
}

#[test]
fn functions_are_arm64_cargo_lambda_builds_of_the_right_binaries() {
    let t = template();
    for (name, bin) in [
        ("LoginFunction", "login"),
        ("UserinfoFunction", "userinfo"),
        ("AvatarFunction", "avatar"),
        ("AuthorizerFunction", "authorizer"),
    ] {
        let f = resource(&t, name);
        assert_eq!(
            text(&f["Metadata"]["BuildMethod"]),
            "rust-cargolambda",
            "{name}"
        );
        assert_eq!(
            text(&f["Metadata"]["BuildProperties"]["Binary"]),
            bin,
            "{name}"
        );
        let p = &f["Properties"];
        let global = &t["Globals"]["Function"];
        let get = |k: &str| {
            if p[k].is_null() {
                global[k].clone()
            } else {
                p[k].clone()
            }
        };
        assert_eq!(text(&get("Runtime")), "provided.al2023", "{name}");
        assert_eq!(text(&get("Handler")), "bootstrap", "{name}");
        assert_eq!(
            strings(&get("Architectures")),
            vec!["arm64".to_string()],
            "{name}"
        );
        assert_eq!(text(&get("CodeUri")), ".", "{name}");
    }
}

/// The IAM actions each store method needs.
fn actions_of(method: &str) -> &'static [&'static str] {
    match method {
        "create_session" | "create_account" | "merge_accounts" => {
            &["dynamodb:PutItem", "dynamodb:UpdateItem"]
        }
        "get_session" | "get_user" | "get_token" | "get_account" | "get_unionid" => {
            &["dynamodb:GetItem"]
        }
        "sessions_of" => &["dynamodb:Query"],
        "touch_session"
        | "move_session"
        | "count_in_window"
        | "block_user"
        | "block_account"
        | "save_profile"
        | "save_phone"
        | "claim_key_check"
        | "lease_token"
        | "put_token"
        | "release_token_lease" => &["dynamodb:UpdateItem"],
        "delete_session" => &["dynamodb:DeleteItem"],
        "delete_sessions_of" => &["dynamodb:Query", "dynamodb:DeleteItem"],
        other => panic!("unknown store method {other}: map it to its IAM actions"),
    }
}

/// The IAM actions each avatar store method needs (`s3:ListBucket`: S3 answers 404, not 403, for an
/// account without avatar only with it).
fn s3_actions_of(method: &str) -> &'static [&'static str] {
    match method {
        "put" => &["s3:PutObject"],
        "get" => &["s3:GetObject", "s3:ListBucket"],
        other => panic!("unknown avatar store method {other}: map it to its IAM actions"),
    }
}

/// The key prefixes (`dynamodb:LeadingKeys`) a store method's table requests touch (index queries
/// are keyed by openid: their statement has no such condition).
fn prefixes_of(method: &str) -> &'static [&'static str] {
    use wxauth::store::schema::{
        ACCOUNT_PREFIX, LIMIT_PREFIX, SESSION_PREFIX, TOKEN_PREFIX, UNIONID_PREFIX, USER_PREFIX,
    };
    match method {
        "create_session" => &[SESSION_PREFIX, USER_PREFIX, ACCOUNT_PREFIX, UNIONID_PREFIX],
        "create_account" | "merge_accounts" => &[USER_PREFIX, ACCOUNT_PREFIX, UNIONID_PREFIX],
        "get_session" | "touch_session" | "delete_session" | "delete_sessions_of"
        | "move_session" | "claim_key_check" => &[SESSION_PREFIX],
        "get_user" | "block_user" => &[USER_PREFIX],
        "get_account" | "save_profile" | "save_phone" | "block_account" => &[ACCOUNT_PREFIX],
        "get_unionid" => &[UNIONID_PREFIX],
        "count_in_window" => &[LIMIT_PREFIX],
        "get_token" | "lease_token" | "put_token" | "release_token_lease" => &[TOKEN_PREFIX],
        "sessions_of" => &[],
        other => panic!("unknown store method {other}: map it to its key prefixes"),
    }
}

/// The key prefixes a function's table statements allow (`dynamodb:LeadingKeys`, every statement on
/// the table itself must have one).
fn leading_keys(t: &Value, function: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for policy in resource(t, function)["Properties"]["Policies"]
        .as_sequence()
        .expect("Policies")
    {
        for st in policy["Statement"].as_sequence().expect("Statement") {
            let on_table =
                text(&st["Resource"]).trim_start_matches('!') == "GetAtt SessionTable.Arn";
            if !on_table {
                continue;
            }
            let keys = &st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
            let keys = if keys.is_null() {
                Vec::new()
            } else {
                strings(keys)
            };
            assert!(
                !keys.is_empty(),
                "{function}: a table statement without LeadingKeys: {st:?}"
            );
            out.extend(
                keys.into_iter()
                    .map(|k| k.trim_end_matches('*').to_string()),
            );
        }
    }
    out
}

/// The DynamoDB, S3 and SSM actions a function's policies grant.
fn granted(t: &Value, function: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for policy in resource(t, function)["Properties"]["Policies"]
        .as_sequence()
        .expect("Policies")
    {
        for st in policy["Statement"].as_sequence().expect("Statement") {
            // `!If [cond, statement, NoValue]` (optional KMS grant) is conditional: skip it.
            if st.as_mapping().is_none() {
                continue;
            }
            for a in strings(&st["Action"]) {
                if a.starts_with("dynamodb:") || a.starts_with("ssm:") || a.starts_with("s3:") {
                    out.insert(a);
                }
            }
        }
    }
    out
}

/// Issue 13 (1): each function's timeout is its handler's budget plus the margin to answer, so that a
/// request out of time answers its documented error before Lambda cuts it.
#[test]
fn function_timeouts_are_the_budgets_plus_the_answer_margin() {
    use wxauth::deadline::{ANSWER_MARGIN, AUTHORIZER_BUDGET, LOGIN_BUDGET, USERINFO_BUDGET};
    let t = template();
    for (function, budget) in [
        ("LoginFunction", LOGIN_BUDGET),
        ("UserinfoFunction", USERINFO_BUDGET),
        ("AuthorizerFunction", AUTHORIZER_BUDGET),
        ("AvatarFunction", wxauth::deadline::AVATAR_BUDGET),
    ] {
        let timeout = resource(&t, function)["Properties"]["Timeout"]
            .as_u64()
            .expect("Timeout");
        assert_eq!(
            std::time::Duration::from_secs(timeout),
            budget + ANSWER_MARGIN,
            "{function}"
        );
    }
    // The SDK's own operation timeout fits in the authorizer's budget.
    assert!(std::time::Duration::from_secs(3) < AUTHORIZER_BUDGET);
}

#[tokio::test]
async fn each_function_is_granted_exactly_the_actions_its_code_calls() {
    wxauth_tests::logs::install();
    let sim = Simulator::new(APPID, SECRET);
    // A second app, not bound to the Open Platform account yet.
    sim.add_app(APP2, SECRET, false);
    let url = sim.spawn().await.expect("sim");
    // A user and a session of the release before accounts, in the store file it wrote.
    let legacy = LegacyUser::new("oLegacyUser", None, "tiihtNczf5v6AKRyjwEUhQ==", START);
    // Another one, whose first request after the upgrade is an avatar upload.
    let legacy_uploader =
        LegacyUser::new("oLegacyUploader", None, "AAAAAAAAAAAAAAAAAAAAAA==", START);
    let file = std::env::temp_dir().join(format!(
        "wxauth-iam-{}.json",
        wxauth::crypto::random_id().expect("rng")
    ));
    std::fs::write(
        &file,
        legacy::data_file(&[&legacy, &legacy_uploader]).to_string(),
    )
    .expect("write");
    let inner: Arc<dyn wxauth::store::Store> =
        Arc::new(MemoryStore::open(&file).expect("legacy file"));
    let clock = Arc::new(ManualClock::new(START));
    let counting = |_: &str| Arc::new(CountingStore::new(inner.clone()));
    let (login_store, auth_store, acct_store, avatar_store) = (
        counting("login"),
        counting("authorizer"),
        counting("userinfo"),
        counting("avatar"),
    );
    let avatars = Arc::new(CountingAvatars::new(Arc::new(MemoryAvatars::new())));
    let sessions =
        |s: &Arc<CountingStore>| Sessions::new(s.clone(), clock.clone(), 7 * 86400, 2 * 86400);
    let wechat = |appid: &str| {
        WechatClient::new(
            http_client(Duration::from_secs(5)).expect("c"),
            &url,
            appid,
            Secret::new(SECRET),
        )
    };
    let build = |s: &Arc<CountingStore>| {
        wxauth_tests::env::functions(&sessions(s), vec![wechat(APPID), wechat(APP2)])
    };
    // The login function of jwt mode: its logins also sign a session JWT, and it serves POST /token
    // and the discovery routes (no store call more than those of skey mode, but POST /token's).
    let jwts = SessionJwts::new(
        Arc::new(LocalKey::generate().expect("an RSA key")),
        Issuer::Fixed("https://wxauthtest.execute-api.ap-east-1.amazonaws.com".into()),
        600,
        clock.clone(),
    );
    let login = build(&login_store).with_session_jwts(jwts).login;
    let authorizer = build(&auth_store).authorizer;
    let userinfo = build(&acct_store).userinfo;
    let avatar = wxauth::bootstrap::functions(
        &sessions(&avatar_store),
        vec![wechat(APPID), wechat(APP2)],
        avatars.clone(),
        &ProfileOptions::default(),
        &Default::default(),
    )
    .expect("two apps")
    .avatar;

    // Every route, happy and unhappy paths that reach different store calls.
    let mut skeys = Vec::new();
    let mut uid = String::new();
    for _ in 0..2 {
        let req = Req::new("POST", "/login")
            .json(&json!({"code": sim.mint_code("alice"), "appid": APPID}));
        let (status, body) = parts(login.handle(req.into_request()).await);
        assert_eq!(status, 200, "{body}");
        skeys.push(body["skey"].as_str().expect("skey").to_string());
        uid = body["uid"].as_str().expect("uid").to_string();
    }
    // alice in the second app, not bound yet (an account of her own, no unionid), then again once it
    // is bound: her unionid names the first app's account, and the accounts are linked.
    let login_in = |appid: &'static str| {
        let code = sim.mint_code_in(appid, "alice");
        let login = &login;
        async move {
            let req = Req::new("POST", "/login").json(&json!({"code": code, "appid": appid}));
            let (status, body) = parts(login.handle(req.into_request()).await);
            assert_eq!(status, 200, "{body}");
            body["uid"].as_str().expect("uid").to_string()
        }
    };
    clock.advance(60);
    let before = login_in(APP2).await;
    sim.add_app(APP2, SECRET, true);
    let after = login_in(APP2).await;
    assert_ne!(before, uid);
    assert_eq!(after, uid, "the older account survives");
    assert!(login_store.called().contains(&"merge_accounts"));
    let skey = skeys[0].clone();
    for req in [
        Req::new("POST", "/token").skey(&skey),
        Req::new("GET", wxauth::session_jwt::DISCOVERY_PATH),
        Req::new("GET", wxauth::session_jwt::JWKS_PATH),
    ] {
        let (status, body) = parts(login.handle(req.into_request()).await);
        assert_eq!(status, 200, "{body}");
    }
    let ctx = authorizer
        .handle(events::authorizer_v2(Some(&skey), "GET", "/me"))
        .await
        .expect("ok")["context"]
        .clone();
    clock.advance(3600);
    authorizer
        .handle(events::authorizer_v2(Some(&skey), "GET", "/me"))
        .await
        .expect("ok");
    let openid = sim.openid_for("alice");
    let data = serde_json::to_value(sim.user_data(&openid).expect("data")).expect("json");
    let call = |req: Req| async {
        parts(
            userinfo
                .handle(req.authorized(ctx.clone()).into_request())
                .await,
        )
    };
    assert_eq!(
        call(Req::new("POST", "/userinfo").skey(&skey).json(&data))
            .await
            .0,
        200
    );
    sim.invalidate_session_key(&openid);
    let bad = json!({"encryptedData": data["encryptedData"], "iv": wxauth::crypto::base64_encode(&[0; 16])});
    assert_eq!(
        call(Req::new("POST", "/userinfo").skey(&skey).json(&bad))
            .await
            .0,
        401
    );
    assert_eq!(call(Req::new("GET", "/me").skey(&skey)).await.0, 200);
    assert_eq!(
        call(
            Req::new("PUT", "/profile")
                .skey(&skey)
                .json(&json!({"nickName": "A"}))
        )
        .await
        .0,
        200
    );
    let code = sim.mint_phone_code("13800138000");
    assert_eq!(
        call(
            Req::new("POST", "/phone")
                .skey(&skey)
                .json(&json!({"code": code}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(Req::new("POST", "/logout").skey(&skeys[1])).await.0,
        200
    );
    // The earlier release's user gets its account at its first request.
    let old = json!({"openid": legacy.openid, "session_id": legacy.sid});
    let (status, me) = parts(
        userinfo
            .handle(
                Req::new("GET", "/me")
                    .skey(&legacy.skey)
                    .authorized(old)
                    .into_request(),
            )
            .await,
    );
    assert_eq!(status, 200, "{me}");
    assert!(acct_store.called().contains(&"create_account"));
    let (status, out) = parts(
        userinfo
            .handle(
                Req::new("POST", "/logout")
                    .skey(&legacy.skey)
                    .json(&json!({"account": true}))
                    .into_request(),
            )
            .await,
    );
    assert_eq!(status, 200, "{out}");
    // The avatar function: an upload, the image, a stale version, and the first request of an
    // earlier release's user.
    let png = wxauth_local::sample::png(wxauth_local::sample::GREEN);
    let form = wxauth_tests::uploads::avatar_form(&png);
    let (status, out) = parts(
        avatar
            .handle(
                Req::new("POST", "/avatar")
                    .skey(&skey)
                    .form(form.clone())
                    .authorized(ctx.clone())
                    .into_request(),
            )
            .await,
    );
    assert_eq!(status, 200, "{out}");
    let url = out["user"]["avatarUrl"].as_str().expect("url").to_string();
    let path = &url[url.find("/avatars/").expect("path")..];
    let image = avatar.handle(Req::new("GET", path).into_request()).await;
    assert_eq!(image.status(), 200);
    let stale = path.replace(".png", ".jpg");
    let missing = avatar.handle(Req::new("GET", &stale).into_request()).await;
    assert_eq!(missing.status(), 404);
    let (status, out) = parts(
        avatar
            .handle(
                Req::new("POST", "/avatar")
                    .skey(&legacy_uploader.skey)
                    .form(form)
                    .into_request(),
            )
            .await,
    );
    assert_eq!(status, 200, "{out}");
    assert!(avatar_store.called().contains(&"create_account"));

    let _ = std::fs::remove_file(&file);
    assert_eq!(
        call(
            Req::new("POST", "/logout")
                .skey(&skey)
                .json(&json!({"all": true}))
        )
        .await
        .0,
        200
    );

    let t = template();
    for (function, store) in [
        ("LoginFunction", &login_store),
        ("AuthorizerFunction", &auth_store),
        ("UserinfoFunction", &acct_store),
        ("AvatarFunction", &avatar_store),
    ] {
        let mut needed: BTreeSet<String> = store
            .called()
            .iter()
            .flat_map(|m| actions_of(m).iter().map(|a| a.to_string()))
            .collect();
        if matches!(function, "LoginFunction" | "UserinfoFunction") {
            needed.insert("ssm:GetParameter".into());
        }
        let prefixes: BTreeSet<String> = store
            .called()
            .iter()
            .flat_map(|m| prefixes_of(m).iter().map(|p| p.to_string()))
            .collect();
        assert_eq!(
            leading_keys(&t, function),
            prefixes,
            "{function}: the key prefixes it may touch != those its code touches"
        );
        if function == "AvatarFunction" {
            needed.extend(
                avatars
                    .called()
                    .iter()
                    .flat_map(|m| s3_actions_of(m).iter().map(|a| a.to_string())),
            );
        }
        assert_eq!(
            granted(&t, function),
            needed,
            "{function}: template grants != what the code calls"
        );
    }
}

/// The (namespace, metric name, dimension names) an alarm's metrics name, its metric math included.
fn alarm_metrics(alarm: &Value) -> Vec<(String, String, BTreeSet<String>)> {
    let p = &alarm["Properties"];
    let mut metrics: Vec<&Value> = Vec::new();
    if p.get("MetricName").is_some() {
        metrics.push(p);
    }
    for m in p["Metrics"].as_sequence().into_iter().flatten() {
        if let Some(metric) = m.get("MetricStat").and_then(|s| s.get("Metric")) {
            metrics.push(metric);
        }
    }
    metrics
        .iter()
        .map(|m| {
            let dims = m["Dimensions"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|d| text(&d["Name"]))
                .collect();
            (text(&m["Namespace"]), text(&m["MetricName"]), dims)
        })
        .collect()
}

/// The namespace the template gives the functions' metrics.
const NAMESPACE: &str = "!!Sub wxauth/${AWS::StackName}";

#[test]
fn alarms_and_the_dashboard_name_only_metrics_the_code_emits() {
    use wxauth::metrics::Metric;
    let t = template();
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(text(&env[wxauth::metrics::NAMESPACE_ENV]), NAMESPACE);
    let resources = t["Resources"].as_mapping().expect("resources");
    let mut custom = 0;
    let mut alarms = BTreeSet::new();
    for (name, r) in resources {
        if text(&r["Type"]) != "AWS::CloudWatch::Alarm" {
            continue;
        }
        alarms.insert(text(name));
        assert_eq!(
            strings(&r["Properties"]["AlarmActions"]),
            ["!!Ref AlarmTopic"]
        );
        for (namespace, metric, dims) in alarm_metrics(r) {
            if namespace.starts_with("AWS/") {
                continue;
            }
            custom += 1;
            assert_eq!(namespace, NAMESPACE, "{name:?}");
            let m = Metric::named(&metric).unwrap_or_else(|| panic!("{metric} is not emitted"));
            let sets: Vec<BTreeSet<String>> = m
                .dimensions()
                .iter()
                .map(|s| s.iter().map(|d| d.to_string()).collect())
                .collect();
            assert!(
                sets.contains(&dims),
                "{metric} has no dimension set {dims:?}"
            );
        }
    }
    assert!(custom >= 4, "alarms on the wxauth metrics");
    for want in [
        "MisconfiguredAlarm",
        "WechatFailureAlarm",
        "AuthorizerErrorAlarm",
        "FunctionErrorAlarm",
        "ThrottleAlarm",
        "Api5xxAlarm",
        "DynamoDbThrottleAlarm",
    ] {
        assert!(alarms.contains(want), "no {want}");
    }
    // The README lists every metric and every alarm by name.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README");
    for m in <Metric as strum::IntoEnumIterator>::iter() {
        assert!(
            readme.contains(&format!("`{}`", m.name())),
            "README lacks {}",
            m.name()
        );
    }
    for a in &alarms {
        assert!(readme.contains(&format!("`{a}`")), "README lacks {a}");
    }

    // The dashboard: every wxauth metric it shows, in a metrics row or a SEARCH expression.
    let body = text(&resources[&Value::String("Dashboard".into())]["Properties"]["DashboardBody"]);
    let body = body.strip_prefix("!!Sub ").expect("a !Sub body");
    let dashboard: serde_json::Value = serde_json::from_str(body).expect("dashboard JSON");
    let mut shown = BTreeSet::new();
    for w in dashboard["widgets"].as_array().expect("widgets") {
        for row in w["properties"]["metrics"].as_array().into_iter().flatten() {
            let row = row.as_array().expect("a metrics row");
            if row[0] == "wxauth/${AWS::StackName}" {
                let m = Metric::named(row[1].as_str().expect("name")).expect("emitted");
                let dims: Vec<&str> = row[2..]
                    .iter()
                    .step_by(2)
                    .filter_map(|d| d.as_str())
                    .collect();
                assert!(m.dimensions().contains(&dims.as_slice()), "{row:?}");
                shown.insert(m.name());
            }
            if let Some(e) = row[0]["expression"].as_str() {
                let name = e
                    .split("MetricName=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next());
                let m = Metric::named(name.expect("a SEARCH by name")).expect("emitted");
                shown.insert(m.name());
            }
        }
    }
    for want in [
        "Logins",
        "Errors",
        "AuthorizerDecisions",
        "Latency",
        "WechatLatency",
    ] {
        assert!(shown.contains(want), "the dashboard lacks {want}");
    }
}

#[test]
fn log_levels_keep_the_metrics_and_arns_name_the_partition() {
    let t = template();
    let env = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(text(&env["RUST_LOG"]), "!!Ref LogLevel");
    for f in [
        "LoginFunction",
        "UserinfoFunction",
        "AvatarFunction",
        "AuthorizerFunction",
    ] {
        let logging = &resource(&t, f)["Properties"]["LoggingConfig"];
        // Lambda gives lines without a level (the EMF records) INFO: a higher filter drops them.
        assert_eq!(text(&logging["ApplicationLogLevel"]), "INFO", "{f}");
    }
    // aws-cn (and GovCloud): no ARN spells the partition out.
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template");
    for line in raw.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(
            !line.contains("arn:aws:") || line.contains("e.g.") || line.contains("KMS key ARN"),
            "a fixed partition: {line}"
        );
    }
}
