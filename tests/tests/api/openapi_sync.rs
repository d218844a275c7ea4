//! `openapi.yaml` describes exactly the API the code serves: every route of `wxauth::routes::ROUTES` with
//! its method, security and path parameters, nothing else; every code of `wxauth::error::ApiError`
//! under its one HTTP status; the gateway's own 401/403 answers on every protected route; the image
//! route's answers in each accepted format, the upload as `multipart/form-data`.
//!
//! The auth modes: an operation's security lists, as alternatives, the credential of the authorizer
//! each mode runs before its function (`skey`, the Lambda authorizer; `sessionJwt`, API Gateway's JWT
//! authorizer), `POST /token` the skey its function reads itself; the routes of one mode only carry
//! the tag and `x-wxauth-mode` of that mode; the discovery documents are what `SessionJwts` publishes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use strum::IntoEnumIterator as _;
use wxauth::avatars::ImageFormat;
use wxauth::error::ApiError;
use wxauth::routes::{Action, AuthMode, Authorizer, ROUTES, Route};
use wxauth::session_jwt;

/// Every mode, in the order the security alternatives are listed.
const MODES: [AuthMode; 2] = [AuthMode::Skey, AuthMode::Jwt];

/// The public route whose function reads `X-WX-Skey` itself (`handlers::login`: one read, then
/// `401 SESSION_EXPIRED` for no live session), with its own security scheme.
const SKEY_IN_FUNCTION: Action = Action::RenewJwt;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("openapi.yaml is not YAML: {e}"))
}

/// Every variant of `ApiError` (`strum::EnumIter`: a new variant is listed without anyone adding it).
fn all_errors() -> Vec<ApiError> {
    ApiError::iter().collect()
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(spec: &'a Value, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..16 {
        let Some(r) = node.get("$ref").and_then(Value::as_str) else {
            return node;
        };
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local $refs are used: {r}"));
        node = spec
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {r}"));
    }
    panic!("$ref loop at {node}");
}

/// The names of the component schemas a response can answer with (`oneOf` alternatives followed).
fn response_schemas(spec: &Value, response: &Value) -> BTreeSet<String> {
    let response = resolve(spec, response);
    let schema = response
        .pointer("/content/application~1json/schema")
        .unwrap_or_else(|| panic!("response without an application/json schema: {response}"));
    let mut out = BTreeSet::new();
    let alternatives: Vec<&Value> = match schema.get("oneOf").and_then(Value::as_array) {
        Some(list) => list.iter().collect(),
        None => vec![schema],
    };
    for alt in alternatives {
        let r = alt
            .get("$ref")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("response schemas are named components: {alt}"));
        out.insert(r.rsplit('/').next().expect("component name").to_string());
    }
    out
}

/// The security an operation declares: one alternative per authorizer that runs before the function
/// in a mode that serves the route (each mode accepts its own credential only); `[]` for a public route
/// (but `POST /token`'s skey, which its function checks).
fn expected_security(route: &Route) -> Value {
    if route.action == SKEY_IN_FUNCTION {
        assert_eq!(route.authorizer(AuthMode::Jwt), Authorizer::None);
        return serde_json::json!([{"skeyInFunction": []}]);
    }
    let mut alternatives: Vec<Value> = Vec::new();
    for mode in MODES.into_iter().filter(|m| route.served_in(*m)) {
        let scheme = match route.authorizer(mode) {
            Authorizer::None => continue,
            Authorizer::Skey => "skey",
            Authorizer::Jwt => "sessionJwt",
        };
        let alternative = serde_json::json!({ scheme: [] });
        if !alternatives.contains(&alternative) {
            alternatives.push(alternative);
        }
    }
    Value::Array(alternatives)
}

/// The authorizers a route has in the modes that serve it.
fn authorizers(route: &Route) -> BTreeSet<&'static str> {
    MODES
        .into_iter()
        .filter(|m| route.served_in(*m))
        .filter_map(|m| match route.authorizer(m) {
            Authorizer::None => None,
            Authorizer::Skey => Some("skey"),
            Authorizer::Jwt => Some("jwt"),
        })
        .collect()
}

/// The `code` enum of an `ErrorNNN` component schema.
fn error_codes_of(spec: &Value, name: &str) -> BTreeSet<String> {
    let schema = &spec["components"]["schemas"][name];
    let all_of = schema["allOf"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is allOf [Error, code enum]"));
    assert_eq!(
        all_of[0]["$ref"], "#/components/schemas/Error",
        "{name} extends Error"
    );
    all_of[1]["properties"]["error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} has a code enum"))
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect()
}

#[test]
fn every_route_is_documented_with_its_method_and_security_and_nothing_else() {
    let spec = spec();
    let version = spec["openapi"].as_str().expect("openapi version");
    assert!(
        version.starts_with("3.0.") || version.starts_with("3.1."),
        "{version}"
    );
    assert!(
        spec.get("security").is_none(),
        "no global security: every operation says its own"
    );

    let mut documented = BTreeSet::new();
    let paths = spec["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (key, op) in item.as_object().expect("path item") {
            if !METHODS.contains(&key.as_str()) {
                continue;
            }
            documented.insert((key.to_uppercase(), path.clone()));
            let route = wxauth::routes::find(key, path).unwrap_or_else(|| {
                panic!("openapi.yaml documents {key} {path}, which no route serves")
            });
            let security = op
                .get("security")
                .unwrap_or_else(|| panic!("{key} {path}: no explicit security"));
            let responses = op["responses"].as_object().expect("responses");
            let schemas_of = |status: &str| {
                responses
                    .get(status)
                    .map(|r| response_schemas(&spec, r))
                    .unwrap_or_default()
            };
            assert_eq!(
                security,
                &expected_security(route),
                "{key} {path}: the credentials of its authorizers, one alternative per mode"
            );
            // The routes of one mode only are marked as such (the tag groups them, the extension
            // says which mode); scripts/schemathesis leaves them out of its skey-mode passes by tag.
            let mode = op.get("x-wxauth-mode").and_then(Value::as_str);
            assert_eq!(
                mode,
                route.only.map(AuthMode::name),
                "{key} {path}: x-wxauth-mode"
            );
            let tags: BTreeSet<&str> = op["tags"]
                .as_array()
                .unwrap_or_else(|| panic!("{key} {path}: tags"))
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(
                tags.contains("jwt"),
                route.only == Some(AuthMode::Jwt),
                "{key} {path}: the tag jwt marks the routes of jwt mode only"
            );
            let description = op["description"].as_str().unwrap_or_default();
            if let Some(only) = route.only {
                assert!(
                    description.starts_with(&format!("`{}` mode only.", only.name())),
                    "{key} {path}: the description begins with the mode it exists in"
                );
            }
            let gates = authorizers(route);
            if gates.is_empty() {
                assert!(!schemas_of("401").contains("GatewayUnauthorized"));
                assert!(!schemas_of("403").contains("GatewayForbidden"));
            } else {
                // Both authorizers answer a missing (or, the JWT authorizer, a refused) credential so.
                assert!(
                    schemas_of("401").contains("GatewayUnauthorized"),
                    "{key} {path}: the gateway's 401"
                );
            }
            if gates.contains("skey") {
                assert!(
                    schemas_of("403").contains("GatewayForbidden"),
                    "{key} {path}: the gateway's 403"
                );
                assert!(
                    schemas_of("503").contains("GatewayUnavailable"),
                    "{key} {path}: the local gateway's 503 when the authorizer fails"
                );
                assert!(
                    schemas_of("500").contains("GatewayInternalError"),
                    "{key} {path}: API Gateway's 500 when the authorizer fails"
                );
            }
            if route.action == SKEY_IN_FUNCTION {
                assert_eq!(
                    schemas_of("401"),
                    BTreeSet::from(["Error401".to_string()]),
                    "{key} {path}: the function's own 401 (SESSION_EXPIRED), no gateway's"
                );
                assert!(
                    resolve(&spec, &responses["429"])
                        .pointer("/headers/Retry-After")
                        .is_some(),
                    "{key} {path}: 429 with Retry-After (the per-session limit)"
                );
                assert!(
                    schemas_of("503").contains("Error503"),
                    "{key} {path}: SIGNING_UNAVAILABLE"
                );
            }
            let ok = responses
                .get("200")
                .unwrap_or_else(|| panic!("{key} {path}: no 200"));
            let ok = resolve(&spec, ok);
            let content: BTreeSet<&str> = ok["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{key} {path}: 200 without content"))
                .keys()
                .map(String::as_str)
                .collect();
            if route.action == Action::AvatarImage {
                let images: BTreeSet<&str> =
                    ImageFormat::ALL.iter().map(|f| f.content_type()).collect();
                assert_eq!(content, images, "{key} {path}: 200 is each accepted format");
                assert_eq!(
                    resolve(&spec, &ok["headers"]["Cache-Control"])["schema"]["enum"][0],
                    wxauth::avatars::CACHE_CONTROL
                );
                assert!(ok.pointer("/headers/X-Content-Type-Options").is_some());
            } else {
                assert_eq!(
                    content,
                    BTreeSet::from(["application/json"]),
                    "{key} {path}: 200 is JSON"
                );
                let cache = match route.action {
                    Action::OpenidConfiguration | Action::Jwks => session_jwt::DISCOVERY_CACHE,
                    _ => "no-store",
                };
                assert_eq!(
                    resolve(&spec, &ok["headers"]["Cache-Control"])["schema"]["enum"],
                    serde_json::json!([cache]),
                    "{key} {path}: 200 documents Cache-Control: {cache}"
                );
            }
            // The path's {param}s are the documented path parameters.
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| resolve(&spec, p))
                        .filter(|p| p["in"] == "path")
                        .map(|p| {
                            assert_eq!(
                                p["required"], true,
                                "{key} {path}: path parameters are required"
                            );
                            p["name"].as_str().expect("name").to_string()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let in_path: BTreeSet<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_string)
                .collect();
            assert_eq!(declared, in_path, "{key} {path}: path parameters");
            // The upload is a form, every other body JSON.
            if let Some(body) = op.get("requestBody") {
                let media: Vec<&String> = body["content"]
                    .as_object()
                    .expect("content")
                    .keys()
                    .collect();
                let want = if route.action == Action::Avatar {
                    "multipart/form-data"
                } else {
                    "application/json"
                };
                assert_eq!(media, vec![want], "{key} {path}: request body");
            }
            // Every error response names only error schemas of its own status, or gateway answers.
            for (status, response) in responses {
                if status == "200" {
                    continue;
                }
                let code: u16 = status.parse().unwrap_or_else(|_| panic!("status {status}"));
                assert!(code >= 400, "{key} {path}: {status}");
                for name in response_schemas(&spec, response) {
                    if let Some(n) = name.strip_prefix("Error") {
                        assert_eq!(n, status, "{key} {path}: {name} under {status}");
                    } else {
                        assert!(
                            name.starts_with("Gateway"),
                            "{key} {path}: {status} answers {name}"
                        );
                    }
                }
            }
        }
    }
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(
        documented, routes,
        "openapi.yaml paths vs wxauth::routes::ROUTES"
    );
}

#[test]
fn security_schemes_are_the_skey_header_and_the_bearer_session_jwt() {
    let spec = spec();
    let schemes = spec["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    let names: BTreeSet<&str> = schemes.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["skey", "skeyInFunction", "sessionJwt"]),
        "the skey checked by the authorizer, the skey checked by the function, the session JWT"
    );
    for name in ["skey", "skeyInFunction"] {
        let skey = &schemes[name];
        assert_eq!(skey["type"], "apiKey", "{name}");
        assert_eq!(skey["in"], "header", "{name}");
        let header = skey["name"].as_str().expect("name");
        assert!(
            header.eq_ignore_ascii_case(wxauth::web::SKEY_HEADER),
            "{header}"
        );
        assert_eq!(header, "X-WX-Skey");
    }
    let jwt = &schemes["sessionJwt"];
    assert_eq!(jwt["type"], "http");
    assert_eq!(jwt["scheme"], "bearer");
    assert_eq!(jwt["bearerFormat"], "JWT");
    // The scheme names the header and every claim a session JWT carries.
    let description = jwt["description"].as_str().expect("description");
    let claims = serde_json::to_value(session_claims()).expect("claims");
    for claim in claims.as_object().expect("claims object").keys() {
        assert!(
            description.contains(&format!("`{claim}`")),
            "sessionJwt's description names the claim {claim}"
        );
    }
    for field in ["`alg` RS256", "`typ` JWT", "`kid`"] {
        assert!(description.contains(field), "{field}");
    }
}

/// Claims of a session JWT with every optional claim present.
fn session_claims() -> session_jwt::Claims {
    session_jwt::Claims {
        iss: "https://x".into(),
        aud: "wx0000000000000001".into(),
        sub: "o".into(),
        iat: 0,
        nbf: 0,
        exp: 600,
        sid: "s".into(),
        unionid: Some("u".into()),
        uid: Some("a".into()),
    }
}

/// The names of an object schema's properties and its required ones.
fn properties(spec: &Value, name: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let schema = &spec["components"]["schemas"][name];
    assert_eq!(
        schema["additionalProperties"], false,
        "{name}: exactly these"
    );
    let props = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name}: properties"))
        .keys()
        .cloned()
        .collect();
    let required = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|v| v.as_str().expect("name").to_string())
                .collect()
        })
        .unwrap_or_default();
    (props, required)
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn session_jwt_answers_are_what_the_code_publishes() {
    let spec = spec();
    let jwts = session_jwt::SessionJwts::new(
        std::sync::Arc::new(session_jwt::local::LocalKey::generate().expect("an RSA key")),
        session_jwt::Issuer::Fixed("https://example.com".into()),
        session_jwt::DEFAULT_LIFETIME,
        std::sync::Arc::new(wxauth::clock::SystemClock),
    );

    // The discovery document: every member, all required, the claims listed exactly.
    let discovery = jwts.discovery("https://example.com");
    let (props, required) = properties(&spec, "OpenidConfiguration");
    assert_eq!(props, keys(&discovery), "OpenidConfiguration");
    assert_eq!(required, props, "OpenidConfiguration: all required");
    let claims_enum = &spec["components"]["schemas"]["OpenidConfiguration"]["properties"]["claims_supported"]
        ["items"]["enum"];
    assert_eq!(claims_enum, &discovery["claims_supported"]);
    let claims = serde_json::to_value(session_claims()).expect("claims");
    let supported: BTreeSet<String> = discovery["claims_supported"]
        .as_array()
        .expect("claims_supported")
        .iter()
        .map(|c| c.as_str().expect("claim").to_string())
        .collect();
    assert_eq!(supported, keys(&claims), "claims_supported vs Claims");
    for (member, list) in [
        ("id_token_signing_alg_values_supported", "alg"),
        ("subject_types_supported", "subject"),
        ("response_types_supported", "response"),
    ] {
        assert_eq!(
            spec["components"]["schemas"]["OpenidConfiguration"]["properties"][member]["items"]["enum"],
            discovery[member],
            "{list}: {member}"
        );
    }

    // The JWKS: one key object per published key, every member required.
    let jwks = jwts.jwks().await.expect("jwks");
    let (props, required) = properties(&spec, "Jwks");
    assert_eq!(props, keys(&jwks), "Jwks");
    assert_eq!(required, props);
    let key = &jwks["keys"][0];
    let (props, required) = properties(&spec, "Jwk");
    assert_eq!(props, keys(key), "Jwk");
    assert_eq!(required, props, "Jwk: all required");
    for member in ["kty", "use", "alg"] {
        assert_eq!(
            spec["components"]["schemas"]["Jwk"]["properties"][member]["enum"],
            serde_json::json!([key[member]]),
            "Jwk {member}"
        );
    }
    assert_eq!(key["alg"], session_jwt::ALGORITHM);

    // POST /token answers both fields; POST /login adds them, optional, in jwt mode only.
    let (props, required) = properties(&spec, "TokenResponse");
    let token_fields = BTreeSet::from(["token".to_string(), "token_expires_in".to_string()]);
    assert_eq!(props, token_fields);
    assert_eq!(required, token_fields);
    let (props, required) = properties(&spec, "LoginResponse");
    assert!(props.is_superset(&token_fields), "LoginResponse: {props:?}");
    assert!(
        required.is_disjoint(&token_fields),
        "LoginResponse: the session JWT is optional (jwt mode only)"
    );
    let expires = &spec["components"]["schemas"]["TokenExpiresIn"];
    assert_eq!(expires["minimum"], session_jwt::MIN_LIFETIME);
    assert_eq!(expires["maximum"], session_jwt::MAX_LIFETIME);
    let login_token = &spec["components"]["schemas"]["LoginResponse"]["properties"]["token"];
    assert_eq!(
        login_token["oneOf"][1]["type"], "null",
        "a login whose session JWT could not be signed answers \"token\": null"
    );
}

#[test]
fn every_error_code_is_documented_under_its_status() {
    let spec = spec();
    let errors = all_errors();
    let codes: BTreeSet<String> = errors.iter().map(|e| e.code().to_string()).collect();
    assert_eq!(codes.len(), errors.len(), "codes are unique");

    let enum_codes: BTreeSet<String> = spec["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect();
    assert_eq!(enum_codes, codes, "ErrorCode enum vs ApiError::code()");

    // The ErrorNNN schemas partition the codes by status.
    let mut by_status: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    for e in &errors {
        by_status
            .entry(e.status().as_u16())
            .or_default()
            .insert(e.code().to_string());
    }
    let schemas = spec["components"]["schemas"].as_object().expect("schemas");
    let documented: BTreeMap<u16, BTreeSet<String>> = schemas
        .keys()
        .filter_map(|name| {
            let status = name.strip_prefix("Error")?.parse::<u16>().ok()?;
            Some((status, error_codes_of(&spec, name)))
        })
        .collect();
    assert_eq!(
        documented, by_status,
        "ErrorNNN schemas vs ApiError::status()"
    );

    // The error body shape is the one the code writes.
    let body = ApiError::SessionExpired.body();
    let error = &schemas["Error"];
    assert_eq!(error["required"], serde_json::json!(["error"]));
    assert_eq!(error["additionalProperties"], false);
    let inner = &error["properties"]["error"];
    assert_eq!(inner["required"], serde_json::json!(["code", "message"]));
    assert_eq!(inner["additionalProperties"], false);
    let keys: BTreeSet<&str> = body["error"]
        .as_object()
        .expect("error object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["code", "message"]));
}

#[test]
fn every_ref_resolves_and_every_component_is_used() {
    let spec = spec();
    let text = serde_json::to_string(&spec).expect("json");
    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                    out.push(r);
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(list) => list.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(&spec, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        let pointer = r.strip_prefix('#').expect("local ref");
        assert!(spec.pointer(pointer).is_some(), "dangling $ref {r}");
    }
    // No stale components: each is referenced somewhere (ErrorNNN of statuses no route answers, 404
    // and 405, are kept for the code partition above).
    for section in ["schemas", "responses", "headers"] {
        for name in spec["components"][section]
            .as_object()
            .expect("section")
            .keys()
        {
            let needle = format!("#/components/{section}/{name}\"");
            let used = text.contains(&needle) || matches!(name.as_str(), "Error404" | "Error405");
            assert!(used, "components/{section}/{name} is never used");
        }
    }
}
