//! Converts the OpenAPI 3.1 document Custodian publishes into the OpenAPI 3.0
//! form that progenitor reads (progenitor issues #762 and #1268).
//!
//! `openapi.yaml` stays 3.1, the contract; this runs in `build.rs` on a copy.
//! It rewrites exactly the 3.1 constructs utoipa emits and refuses, with a
//! message naming the place, what it cannot express in 3.0 rather than
//! silently generating a wrong client:
//!
//! - `type: [T, "null"]` becomes `type: T, nullable: true`;
//! - a `{type: "null"}` member of `oneOf`/`anyOf` becomes `nullable: true` on
//!   the rest (a lone `$ref` is wrapped in `allOf`, since 3.0 ignores siblings
//!   of `$ref`);
//! - keywords beside a `$ref` (`description`, `default`, …) move beside an
//!   `allOf` that wraps it;
//! - `examples: [..]` becomes `example`; `const: v` becomes `enum: [v]`;
//! - `propertyNames`, `contentMediaType`, `contentEncoding`, `$schema`,
//!   `jsonSchemaDialect`, `webhooks` and `license.identifier` are dropped
//!   (they constrain nothing a 3.0 client checks);
//! - a string's `maxLength`, `minLength` and `pattern`, and a number's
//!   bounds, are dropped: the server checks them (422 naming the field), and
//!   the client's request types stay plain `String`s and integers rather
//!   than a validated newtype each;
//! - `application/problem+json` bodies are offered as `application/json`, so
//!   the client decodes problems into a typed `Problem`, and so are SCIM's
//!   `application/scim+json` ones;
//! - a component that is only a string (`Name`, `EmailAddress`: a pattern
//!   and lengths the server checks) is written in place of its references,
//!   so fields stay `String`s;
//! - a request body offered in several media types keeps only
//!   `application/json`: progenitor sends one.

use serde_json::{Map, Value};

/// The conversion, in place. `Err` names the place of a construct 3.0 cannot
/// express.
pub fn downgrade(document: &mut Value) -> Result<(), String> {
    let root = document
        .as_object_mut()
        .ok_or("the document is not an object")?;
    match root.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.1") => {}
        other => return Err(format!("expected an OpenAPI 3.1 document, found {other:?}")),
    }
    root.insert("openapi".into(), Value::String("3.0.3".into()));
    for key in ["jsonSchemaDialect", "webhooks", "$schema"] {
        root.remove(key);
    }
    if let Some(license) = root
        .get_mut("info")
        .and_then(|info| info.get_mut("license"))
        .and_then(Value::as_object_mut)
    {
        license.remove("identifier");
    }
    inline_plain_strings(document);
    walk(document, "#", false)
}

/// A component that is only a string (a name, an email address: a pattern
/// and lengths, which the server checks) is written in place of each
/// reference to it, so the client's fields are `String`s, not a newtype per
/// rule.
fn inline_plain_strings(document: &mut Value) {
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let plain: Vec<String> = schemas
        .iter()
        .filter(|(_, schema)| {
            schema.get("type").and_then(Value::as_str) == Some("string")
                && ["enum", "const", "format"]
                    .iter()
                    .all(|key| schema.get(*key).is_none())
                && ["pattern", "maxLength", "minLength"]
                    .iter()
                    .any(|key| schema.get(*key).is_some())
        })
        .map(|(name, _)| name.clone())
        .collect();
    for name in &plain {
        schemas.remove(name);
    }
    let references: Vec<String> = plain
        .iter()
        .map(|name| format!("#/components/schemas/{name}"))
        .collect();
    replace_references(document, &references);
}

fn replace_references(value: &mut Value, references: &[String]) {
    match value {
        Value::Object(map) => {
            let inlined = map
                .get("$ref")
                .and_then(Value::as_str)
                .is_some_and(|r| references.iter().any(|p| p == r));
            if inlined {
                map.remove("$ref");
                map.insert("type".into(), Value::String("string".into()));
            }
            for child in map.values_mut() {
                replace_references(child, references);
            }
        }
        Value::Array(items) => {
            for item in items {
                replace_references(item, references);
            }
        }
        _ => {}
    }
}

/// Visits every object. A `properties` map is keyed by field names, not
/// keywords: it is never itself read as a schema (a field may well be named
/// `type`, `examples` or `const`), but each of its values is.
fn walk(value: &mut Value, at: &str, is_property_map: bool) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            if !is_property_map {
                convert_media_types(map);
                if looks_like_schema(map) {
                    convert_schema(map, at)?;
                }
            }
            for (key, child) in map.iter_mut() {
                let child_is_property_map = !is_property_map && key == "properties";
                walk(child, &format!("{at}/{key}"), child_is_property_map)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter_mut()
            .enumerate()
            .try_for_each(|(i, item)| walk(item, &format!("{at}/{i}"), false)),
        _ => Ok(()),
    }
}

/// `content` maps: `application/problem+json` and `application/scim+json`
/// are JSON to a 3.0 client.
fn convert_media_types(map: &mut Map<String, Value>) {
    if let Some(Value::Object(content)) = map.get_mut("content") {
        for json in ["application/problem+json", "application/scim+json"] {
            if let Some(body) = content.remove(json) {
                content.entry("application/json").or_insert(body);
            }
        }
        if content.len() > 1 && content.contains_key("application/json") {
            content.retain(|media_type, _| media_type == "application/json");
        }
    }
}

fn looks_like_schema(map: &Map<String, Value>) -> bool {
    [
        "type",
        "$ref",
        "oneOf",
        "anyOf",
        "allOf",
        "properties",
        "items",
        "enum",
        "const",
    ]
    .iter()
    .any(|k| map.contains_key(*k))
}

fn is_null_schema(value: &Value) -> bool {
    value.get("type").and_then(Value::as_str) == Some("null")
}

fn convert_schema(map: &mut Map<String, Value>, at: &str) -> Result<(), String> {
    // type: [T, "null"] -> type: T, nullable: true
    if let Some(Value::Array(kinds)) = map.get("type").cloned() {
        let nullable = kinds.iter().any(|k| k.as_str() == Some("null"));
        let rest: Vec<Value> = kinds
            .into_iter()
            .filter(|k| k.as_str() != Some("null"))
            .collect();
        match rest.as_slice() {
            [one] => {
                map.insert("type".into(), one.clone());
            }
            [] => {
                map.remove("type");
            }
            _ => return Err(format!("{at}: a union of types {rest:?} has no 3.0 form")),
        }
        if nullable {
            map.insert("nullable".into(), Value::Bool(true));
        }
    }
    // A lone {type: null}.
    if map.get("type").and_then(Value::as_str) == Some("null") {
        map.remove("type");
        map.insert("nullable".into(), Value::Bool(true));
        map.insert("enum".into(), Value::Array(vec![Value::Null]));
    }
    // oneOf/anyOf with a null member.
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(members)) = map.get(key).cloned() else {
            continue;
        };
        if !members.iter().any(is_null_schema) {
            continue;
        }
        let rest: Vec<Value> = members.into_iter().filter(|m| !is_null_schema(m)).collect();
        map.remove(key);
        map.insert("nullable".into(), Value::Bool(true));
        match rest.as_slice() {
            [Value::Object(one)] if one.contains_key("$ref") => {
                map.insert("allOf".into(), Value::Array(rest));
            }
            [Value::Object(one)] => {
                for (k, v) in one {
                    map.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            _ => {
                map.insert(key.into(), Value::Array(rest));
            }
        }
    }
    // Siblings of $ref are ignored by 3.0: keep them beside an allOf.
    if map.contains_key("$ref") && map.len() > 1 {
        let reference = map.remove("$ref").expect("checked");
        let mut wrapped = Map::new();
        wrapped.insert("$ref".into(), reference);
        map.insert("allOf".into(), Value::Array(vec![Value::Object(wrapped)]));
    }
    if let Some(Value::Array(examples)) = map.remove("examples")
        && let Some(first) = examples.into_iter().next()
    {
        map.entry("example").or_insert(first);
    }
    if let Some(value) = map.remove("const") {
        map.insert("enum".into(), Value::Array(vec![value]));
    }
    // Lengths and patterns of strings stay the server's to check (a 422
    // naming the field): kept, progenitor would make every bounded string
    // a validated newtype, and building a request a chain of `try_into`.
    if map.get("type").and_then(Value::as_str) == Some("string") {
        for key in ["maxLength", "minLength", "pattern"] {
            map.remove(key);
        }
    }
    // So do the ranges of numbers (a minimum of 1 would make a `NonZero`).
    if matches!(
        map.get("type").and_then(Value::as_str),
        Some("integer" | "number")
    ) {
        for key in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
            map.remove(key);
        }
    }
    if map.contains_key("prefixItems") {
        return Err(format!("{at}: prefixItems (a tuple) has no 3.0 form"));
    }
    for key in [
        "propertyNames",
        "contentMediaType",
        "contentEncoding",
        "$schema",
    ] {
        map.remove(key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn convert(schema: Value) -> Value {
        let mut document = json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1", "license": {"name": "MIT", "identifier": "MIT"}},
            "paths": {},
            "components": {"schemas": {"S": schema}}
        });
        downgrade(&mut document).unwrap();
        assert_eq!(document["openapi"], "3.0.3");
        assert!(document["info"]["license"].get("identifier").is_none());
        document["components"]["schemas"]["S"].take()
    }

    #[test]
    fn nullable_primitive() {
        assert_eq!(
            convert(json!({"type": ["string", "null"], "format": "uuid"})),
            json!({"type": "string", "format": "uuid", "nullable": true})
        );
    }

    #[test]
    fn nullable_reference() {
        assert_eq!(
            convert(json!({"oneOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]})),
            json!({"allOf": [{"$ref": "#/components/schemas/X"}], "nullable": true})
        );
    }

    #[test]
    fn nullable_inline_member_is_merged() {
        assert_eq!(
            convert(json!({"oneOf": [{"type": "null"}, {"type": "integer"}], "description": "d"})),
            json!({"type": "integer", "nullable": true, "description": "d"})
        );
    }

    #[test]
    fn nested_properties_and_items() {
        let out = convert(json!({
            "type": "object",
            "properties": {
                "a": {"type": ["integer", "null"], "exclusiveMinimum": 0},
                "b": {"type": "array", "items": {"type": ["string", "null"]}},
                "m": {"type": "object", "propertyNames": {"type": "string"}, "additionalProperties": {"type": "string"}}
            }
        }));
        assert_eq!(
            out["properties"]["a"],
            json!({"type": "integer", "nullable": true}),
            "bounds are the server's to check"
        );
        assert_eq!(
            out["properties"]["b"]["items"],
            json!({"type": "string", "nullable": true})
        );
        assert!(out["properties"]["m"].get("propertyNames").is_none());
    }

    #[test]
    fn fields_named_like_keywords_survive() {
        let schema = json!({
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "examples": {"type": "array", "items": {"type": "string"}},
                "const": {"type": ["integer", "null"]}
            }
        });
        let out = convert(schema);
        let mut fields: Vec<&String> = out["properties"].as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, vec!["const", "examples", "type"]);
        assert_eq!(
            out["properties"]["const"],
            json!({"type": "integer", "nullable": true})
        );
    }

    #[test]
    fn reference_siblings_move_beside_all_of() {
        assert_eq!(
            convert(json!({"$ref": "#/components/schemas/X", "description": "why"})),
            json!({"allOf": [{"$ref": "#/components/schemas/X"}], "description": "why"})
        );
    }

    #[test]
    fn examples_and_const() {
        assert_eq!(
            convert(json!({"type": "string", "examples": ["a", "b"], "const": "a"})),
            json!({"type": "string", "example": "a", "enum": ["a"]})
        );
    }

    #[test]
    fn problem_json_is_offered_as_json() {
        let mut document = json!({
            "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"/x": {"get": {"responses": {"503": {"description": "d",
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}}}}
        });
        downgrade(&mut document).unwrap();
        let content = &document["paths"]["/x"]["get"]["responses"]["503"]["content"];
        assert!(content.get("application/problem+json").is_none());
        assert_eq!(
            content["application/json"]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
    }

    #[test]
    fn a_request_body_in_several_media_types_keeps_json() {
        let mut document = json!({
            "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"/token": {"post": {"requestBody": {"content": {
                "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/T"}},
                "application/json": {"schema": {"$ref": "#/components/schemas/T"}}}}}}}
        });
        downgrade(&mut document).unwrap();
        let content = document["paths"]["/token"]["post"]["requestBody"]["content"]
            .as_object()
            .unwrap();
        assert_eq!(content.keys().collect::<Vec<_>>(), vec!["application/json"]);
    }

    #[test]
    fn refuses_what_3_0_cannot_say() {
        let mut union = json!({"openapi": "3.1.0", "components": {"schemas": {"U": {"type": ["string", "integer"]}}}});
        let error = downgrade(&mut union).unwrap_err();
        assert!(error.contains("#/components/schemas/U"), "{error}");
        let mut old = json!({"openapi": "3.0.3"});
        assert!(downgrade(&mut old).is_err());
    }
}
