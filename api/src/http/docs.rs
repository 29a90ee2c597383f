//! The `/docs` page: an API reference rendered on the server from the
//! OpenAPI document, as one self-contained HTML page. It needs nothing
//! downloaded, at build time or in the browser (no script, no CDN), so it
//! works on an air-gapped network; the document itself is at `/openapi.json`
//! for tools that render richer views.

use std::fmt::Write;

use serde_json::Value;

use crate::error::PROBLEM_TYPES;

/// The operation keys of an OpenAPI path item, in display order.
pub const METHODS: &[&str] = &[
    "get", "put", "post", "patch", "delete", "head", "options", "trace",
];

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A schema's type in a few words, with links to named schemas.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(variants) = schema.get(key).and_then(Value::as_array) {
            let parts: Vec<String> = variants.iter().map(type_of).collect();
            return parts.join(if key == "allOf" { " &amp; " } else { " | " });
        }
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        Some(Value::String(kind)) => kind.clone(),
        _ => "any".into(),
    };
    let mut out = esc(&kind);
    if kind.starts_with("array")
        && let Some(items) = schema.get("items")
    {
        out = format!("array of {}", type_of(items));
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let _ = write!(out, " ({})", esc(format));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(|v| esc(&v.to_string())).collect();
        let _ = write!(out, ": one of {}", values.join(", "));
    }
    out
}

fn render_operation(out: &mut String, path: &str, method: &str, op: &Value) {
    let id = text(op, "operationId");
    let _ = write!(
        out,
        "<section class=op id=\"op-{id}\"><h3><span class=\"m {method}\">{m}</span> <code>{path}</code></h3>\
         <p class=id>{id}</p><p><b>{summary}</b></p>",
        id = esc(id),
        method = esc(method),
        m = esc(&method.to_uppercase()),
        path = esc(path),
        summary = esc(text(op, "summary")),
    );
    let description = text(op, "description");
    if !description.is_empty() {
        let _ = write!(out, "<p>{}</p>", esc(description));
    }
    if let Some(params) = op.get("parameters").and_then(Value::as_array) {
        out.push_str("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>required</th><th>description</th></tr>");
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(text(p, "name")),
                esc(text(p, "in")),
                type_of(p.get("schema").unwrap_or(&Value::Null)),
                p.get("required").and_then(Value::as_bool).unwrap_or(false),
                esc(text(p, "description")),
            );
        }
        out.push_str("</table>");
    }
    if let Some(content) = op
        .pointer("/requestBody/content")
        .and_then(Value::as_object)
    {
        out.push_str("<h4>Request body</h4><ul>");
        for (media, body) in content {
            let _ = write!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(media),
                type_of(body.get("schema").unwrap_or(&Value::Null))
            );
        }
        out.push_str("</ul>");
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        out.push_str(
            "<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th></tr>",
        );
        for (status, response) in responses {
            let bodies: Vec<String> = response
                .get("content")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(media, body)| {
                    format!(
                        "<code>{}</code> {}",
                        esc(media),
                        type_of(body.get("schema").unwrap_or(&Value::Null))
                    )
                })
                .collect();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(status),
                esc(text(response, "description")),
                bodies.join("<br>")
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>");
}

fn render_schema(out: &mut String, name: &str, schema: &Value) {
    let _ = write!(out, "<section id=\"schema-{0}\"><h3>{0}</h3>", esc(name));
    let description = text(schema, "description");
    if !description.is_empty() {
        let _ = write!(out, "<p>{}</p>", esc(description));
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match schema.get("properties").and_then(Value::as_object) {
        Some(properties) => {
            out.push_str(
                "<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>",
            );
            for (field, property) in properties {
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(field),
                    type_of(property),
                    required.contains(&field.as_str()),
                    esc(text(property, "description")),
                );
            }
            out.push_str("</table>");
        }
        None => {
            let _ = write!(out, "<p>{}</p>", type_of(schema));
        }
    }
    out.push_str("</section>");
}

/// Renders the whole reference page.
pub fn render(document: &Value) -> String {
    let info = &document["info"];
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>{title} API reference</title><style>{STYLE}</style></head><body>\
         <h1>{title} <small>{version}</small></h1><p>{description}</p>\
         <p>The contract as JSON: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI {openapi}).</p>",
        title = esc(text(info, "title")),
        version = esc(text(info, "version")),
        description = esc(text(info, "description")),
        openapi = esc(text(document, "openapi")),
    );

    out.push_str("<h2>Operations</h2>");
    let paths = document["paths"].as_object();
    for (path, item) in paths.into_iter().flatten() {
        for method in METHODS {
            if let Some(op) = item.get(*method) {
                render_operation(&mut out, path, method, op);
            }
        }
    }

    out.push_str("<h2>Schemas</h2>");
    let schemas = document
        .pointer("/components/schemas")
        .and_then(Value::as_object);
    for (name, schema) in schemas.into_iter().flatten() {
        render_schema(&mut out, name, schema);
    }

    out.push_str(
        "<h2>Problem types</h2><p>Every error is <code>application/problem+json</code> \
         (RFC 9457). Match on <code>code</code>; <code>request_id</code> finds the request in \
         the server's log.</p><table><tr><th>code</th><th>status</th><th>title</th><th>meaning</th></tr>",
    );
    for problem in PROBLEM_TYPES {
        let _ = write!(
            out,
            "<tr id=\"problem-{code}\"><td><code>{code}</code></td><td>{status}</td><td>{title}</td><td>{description}</td></tr>",
            code = esc(problem.code),
            status = problem.status.as_u16(),
            title = esc(problem.title),
            description = esc(problem.description),
        );
    }
    out.push_str("</table></body></html>");
    out
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}\
h1 small{font-size:.5em;color:#666}h2{border-bottom:2px solid #ddd;margin-top:2.5rem}\
section{border:1px solid #e3e3e3;border-radius:6px;padding:.2rem 1rem;margin:1rem 0}\
.id{color:#666;font-family:monospace;margin:0}table{border-collapse:collapse;width:100%}\
td,th{border-bottom:1px solid #eee;text-align:left;padding:.25rem .5rem;vertical-align:top}\
.m{display:inline-block;min-width:4.2em;text-align:center;border-radius:4px;color:#fff;font-size:.8em;padding:.1em .4em}\
.get{background:#2b7bb9}.post{background:#2e8540}.put,.patch{background:#b36b00}.delete{background:#b3261e}\
.head,.options,.trace{background:#666}code{font-size:.95em}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_it_renders() {
        let document = serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "<script>", "version": "1"},
            "paths": {"/x/{id}": {"get": {"operationId": "x_get", "summary": "a\"b",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/X"}}}}}}}},
            "components": {"schemas": {"X": {"type": "object", "required": ["a"],
                "properties": {"a": {"type": ["string", "null"], "description": "<b>"}}}}}
        });
        let html = render(&document);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("<a href=\"#schema-X\">X</a>"));
        assert!(html.contains("string | null"));
        assert!(html.contains("id=\"problem-not_found\""));
    }
}
