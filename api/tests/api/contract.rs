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
    let generated =
        custodian_api::http::contract::to_yaml(&openapi()).expect("the document serializes");
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

/// Every operation, with its responses' `$ref`s to shared responses
/// resolved.
fn operations() -> Vec<(String, String, Value)> {
    let document = serde_json::to_value(openapi()).unwrap();
    let shared = document["components"]["responses"].clone();
    let mut out = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let mut operation = operation.clone();
            for response in operation["responses"].as_object_mut().unwrap().values_mut() {
                if let Some(name) = response["$ref"].as_str() {
                    let name = name.trim_start_matches("#/components/responses/");
                    *response = shared[name].clone();
                }
            }
            out.push((method.to_uppercase(), path.clone(), operation));
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
                // The OAuth token endpoints answer RFC 6749 error bodies,
                // and SCIM's its own, by design.
                let expected = if OAUTH.contains(&id) {
                    "application/json"
                } else if path.starts_with("/scim/") {
                    "application/scim+json"
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

/// The OAuth 2.0 token endpoints: their errors are RFC 6749's.
const OAUTH: &[&str] = &["token_create", "operator_token_create"];

#[test]
fn the_document_is_openapi_3_1() {
    let document = serde_json::to_value(openapi()).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["components"]["schemas"]["Problem"].is_object());
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["account"]["scheme"], "bearer");
    let flows = &schemes["oauth2"]["flows"];
    assert_eq!(flows["password"]["tokenUrl"], "/v1/auth/token");
    assert_eq!(flows["clientCredentials"]["tokenUrl"], "/v1/auth/token");
    assert!(flows["clientCredentials"]["scopes"]["resets:write"].is_string());
}

/// What any request may get is declared on every operation it can happen
/// to, with the headers every answer carries, so generated clients and
/// fuzzers meet no undeclared answer.
#[test]
fn every_answer_the_server_can_give_is_declared() {
    for (method, path, operation) in operations() {
        let id = operation["operationId"].as_str().unwrap().to_owned();
        let responses = operation["responses"].as_object().unwrap();
        let has = |status: &str| responses.contains_key(status);
        let oauth = OAUTH.contains(&id.as_str());
        // SCIM answers a bad value 400 `invalidValue`, never 422.
        let scim = path.starts_with("/scim/");
        if operation.get("requestBody").is_some() && !oauth {
            let statuses: &[&str] = if scim {
                &["400", "413", "415"]
            } else {
                &["400", "413", "415", "422"]
            };
            for status in statuses {
                assert!(has(status), "{method} {path}: no {status}");
            }
        }
        let secured = operation["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty());
        if secured {
            assert!(has("401") && has("403"), "{method} {path}: no 401/403");
        }
        if path.contains('{') {
            assert!(has("404"), "{method} {path}: no 404");
        }
        if path.starts_with("/v1/") || (scim && secured) {
            assert!(has("503"), "{method} {path}: no 503");
        }
        for (status, response) in responses {
            let headers = response["headers"].as_object();
            assert!(
                headers.is_some_and(|h| h.contains_key("X-Request-Id")),
                "{method} {path} {status}: no X-Request-Id"
            );
            if status == "429" || status == "503" {
                assert!(
                    headers.is_some_and(|h| h.contains_key("Retry-After")),
                    "{method} {path} {status}: no Retry-After"
                );
            }
        }
    }
}

/// A YAML 1.1 reader (PyYAML) reads the committed contract as its YAML 1.2
/// writer meant it: `Yes` stays a string.
#[test]
fn the_yaml_reads_alike_in_yaml_1_1() {
    let committed = committed();
    assert!(committed.contains("example: 'Yes'"));
    for line in committed.lines() {
        let value = line.rsplit_once(": ").map_or(line, |(_, v)| v).trim();
        assert!(
            !["yes", "no", "on", "off", "y", "n"].contains(&value.to_ascii_lowercase().as_str()),
            "an unquoted YAML 1.1 boolean: {line}"
        );
    }
}
