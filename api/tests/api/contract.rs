//! The contract: `openapi.yaml` is exactly what the code generates, and the
//! document keeps the conventions clients rely on.

use custodian_api::http::openapi;
use serde_json::Value;

const REGENERATE: &str = "cargo run --bin custodian -- openapi > openapi.yaml";

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    std::fs::read_to_string(path).expect("openapi.yaml at the repository root")
}

#[test]
fn openapi_yaml_is_current() {
    let generated = openapi().to_yaml().expect("the document serializes");
    if generated != committed() {
        let first_difference = generated
            .lines()
            .zip(committed().lines())
            .position(|(a, b)| a != b)
            .map(|line| format!(" (first difference at line {})", line + 1))
            .unwrap_or_default();
        panic!(
            "openapi.yaml does not match the code{first_difference}. Regenerate it with:\n\n    {REGENERATE}\n"
        );
    }
}

fn operations() -> Vec<(String, String, Value)> {
    let document = serde_json::to_value(openapi()).unwrap();
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            out.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    out
}

#[test]
fn every_operation_is_named_described_and_tagged() {
    let mut ids = std::collections::BTreeSet::new();
    for (method, path, operation) in operations() {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(
            id.chars().all(|c| c.is_ascii_lowercase() || c == '_') && id.contains('_'),
            "{method} {path}: operationId {id} is not resource_verb"
        );
        assert!(ids.insert(id.to_owned()), "{id} is used twice");
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{id}: no summary"
        );
        assert!(
            operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{id}: no tag"
        );
        for (status, response) in operation["responses"].as_object().unwrap() {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{id} {status}: no description"
            );
            if status.starts_with('4') || status.starts_with('5') {
                let content = response["content"]
                    .as_object()
                    .expect("an error response has a body");
                // The OAuth token endpoint answers RFC 6749 error bodies, by design.
                let expected = if id == "token_create" {
                    "application/json"
                } else {
                    "application/problem+json"
                };
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    vec![expected],
                    "{id} {status}"
                );
            }
        }
    }
}

#[test]
fn the_document_is_openapi_3_1() {
    let document = serde_json::to_value(openapi()).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["components"]["schemas"]["Problem"].is_object());
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}
