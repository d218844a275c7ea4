//! The one test of every list of error codes: the `ApiError` enum (with its statuses), `openapi.yaml`,
//! the README's error table, `docs/contract.md`, and the client (`ErrorCodes` in `client/index.js`, the
//! `ServerErrorCode` type of `client/index.d.ts`, the list in `client/README.md`) hold the same set. A new
//! code is added everywhere or this fails, naming the list that lacks it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use strum::IntoEnumIterator as _;
use wxauth::error::ApiError;

fn read(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

/// `code → status` of the enum.
fn from_the_enum() -> BTreeMap<String, u16> {
    ApiError::iter()
        .map(|e| (e.code().to_string(), e.status().as_u16()))
        .collect()
}

/// The rows of the Markdown table under the header line `| HTTP | code | when |` that follows
/// `after`: `| 404 / 405 | `NOT_FOUND` / `METHOD_NOT_ALLOWED` | .. |` pairs statuses and codes in order.
fn markdown_table(text: &str, after: &str) -> BTreeMap<String, u16> {
    let from = text.find(after).unwrap_or_else(|| panic!("no {after:?}"));
    let text = &text[from..];
    let header = text
        .find("| HTTP | code | when |")
        .unwrap_or_else(|| panic!("no error table after {after:?}"));
    let mut out = BTreeMap::new();
    for line in text[header..].lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let statuses: Vec<u16> = cells[1]
            .split('/')
            .map(|s| {
                s.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("status in {line}"))
            })
            .collect();
        let codes: Vec<&str> = cells[2]
            .split('/')
            .map(|c| c.trim().trim_matches('`'))
            .collect();
        let statuses = if statuses.len() == 1 {
            vec![statuses[0]; codes.len()]
        } else {
            statuses
        };
        assert_eq!(statuses.len(), codes.len(), "{line}");
        for (code, status) in codes.into_iter().zip(statuses) {
            assert!(
                out.insert(code.to_string(), status).is_none(),
                "{code} twice"
            );
        }
    }
    out
}

/// The codes between `start` and `end`, each a run of `[A-Z_]` in quotes or backticks.
fn codes_between(text: &str, start: &str, end: &str) -> BTreeSet<String> {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    let to = from
        + text[from..]
            .find(end)
            .unwrap_or_else(|| panic!("no {end:?}"));
    text[from..to]
        .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .filter(|w| w.len() > 2)
        .map(str::to_string)
        .collect()
}

fn openapi() -> BTreeSet<String> {
    let spec: serde_json::Value = serde_norway::from_str(&read("openapi.yaml")).expect("YAML");
    spec["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode enum")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect()
}

#[test]
fn every_list_of_error_codes_is_the_same() {
    let codes = from_the_enum();
    assert_eq!(
        codes.len(),
        ApiError::iter().count(),
        "every variant has its own code"
    );
    let names: BTreeSet<String> = codes.keys().cloned().collect();

    let readme = markdown_table(&read("README.md"), "## The API");
    assert_eq!(readme, codes, "README.md's error table (code and status)");
    let contract = markdown_table(&read("docs/contract.md"), "## Errors of the functions");
    assert_eq!(
        contract, codes,
        "docs/contract.md's error table (code and status)"
    );
    assert_eq!(openapi(), names, "openapi.yaml's ErrorCode enum");

    let client = read("client/index.js");
    assert_eq!(
        codes_between(&client, "var ErrorCodes = Object.freeze({", "});"),
        names,
        "client/index.js ErrorCodes"
    );
    assert_eq!(
        codes_between(
            &read("client/index.d.ts"),
            "export type ServerErrorCode =",
            ";"
        ),
        names,
        "client/index.d.ts ServerErrorCode"
    );
    assert_eq!(
        codes_between(
            &read("client/README.md"),
            "Server codes (`ErrorCodes`):",
            "(see the contract"
        ),
        names,
        "client/README.md's list of server codes"
    );
}
