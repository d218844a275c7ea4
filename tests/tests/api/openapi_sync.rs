//! `openapi.yaml` describes exactly the API the code serves: every route of `wxauth::routes::ROUTES` with
//! its method, security and path parameters, nothing else; every code of `wxauth::error::ApiError`
//! under its one HTTP status; the gateway's own 401/403 answers on every protected route; the image
//! route's answers in each accepted format, the upload as `multipart/form-data`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use strum::IntoEnumIterator as _;
use wxauth::avatars::ImageFormat;
use wxauth::error::ApiError;
use wxauth::routes::{Action, ROUTES};

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
            if route.auth != wxauth::routes::Auth::Public {
                assert_eq!(
                    security,
                    &serde_json::json!([{"skey": []}]),
                    "{key} {path} is behind the authorizer"
                );
                assert!(
                    schemas_of("401").contains("GatewayUnauthorized"),
                    "{key} {path}: the gateway's 401"
                );
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
            } else {
                assert_eq!(security, &serde_json::json!([]), "{key} {path} is public");
                assert!(!schemas_of("401").contains("GatewayUnauthorized"));
                assert!(!schemas_of("403").contains("GatewayForbidden"));
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
                assert_eq!(
                    resolve(&spec, &ok["headers"]["Cache-Control"])["schema"]["enum"][0],
                    "no-store",
                    "{key} {path}: 200 documents Cache-Control: no-store"
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
fn skey_security_scheme_is_the_header() {
    let spec = spec();
    let schemes = spec["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    assert_eq!(schemes.len(), 1, "one scheme: {schemes:?}");
    let skey = &schemes["skey"];
    assert_eq!(skey["type"], "apiKey");
    assert_eq!(skey["in"], "header");
    let name = skey["name"].as_str().expect("name");
    assert!(
        name.eq_ignore_ascii_case(wxauth::web::SKEY_HEADER),
        "{name}"
    );
    assert_eq!(name, "X-WX-Skey");
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
