//! What every operation of the contract says the same way, added once to
//! the generated document rather than repeated in each handler's
//! `#[utoipa::path]`: the security schemes, the answers any request may get
//! (a malformed body, a missing token, a database outage, …) as shared
//! problem responses, and the response headers every answer carries.
//!
//! Stock tools read the contract to generate clients, fuzz the server and
//! lint; each answer the server can give must be declared for them, or a
//! generated client fails on it and a fuzzer reports it as a violation.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Schema, SchemaType};
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi, Ref, RefOr, Server, Type,
};

use crate::http::values;

use crate::error::PROBLEM_JSON;

/// The scheme of the admin plane's tokens (admins and API clients).
pub const ADMIN_SCHEME: &str = "oauth2";
/// The scheme of end users' account tokens (`POST /v1/account/token`).
pub const ACCOUNT_SCHEME: &str = "account";
/// The scheme of a company's SCIM tokens (`/scim/v2`).
pub const SCIM_SCHEME: &str = "scim";
/// The scheme of the platform operator's tokens (`POST /v1/operator/token`).
pub const OPERATOR_SCHEME: &str = "operator";

/// The scopes an API client may hold, and what each grants.
pub const CLIENT_SCOPES: &[(&str, &str)] = &[
    ("partner:read", "Read the partner and its settings"),
    ("admins:read", "List and read admins"),
    ("api-clients:read", "List API clients"),
    (
        "companies:read",
        "List and read companies, backup profiles and backup copies",
    ),
    ("companies:write", "Create and rename companies"),
    ("users:read", "Locate, list and read users"),
    ("users:write", "Add users"),
    ("backup-profile:write", "Change a company's backup profile"),
    ("resets:read", "Read and list master password resets"),
    (
        "resets:write",
        "Preview, make and re-issue master password resets",
    ),
    (
        "audit:read",
        "Read and verify the audit log (clients of the whole partner only)",
    ),
];

/// A shared problem response: its component name, status and meaning.
struct Shared {
    name: &'static str,
    status: &'static str,
    description: &'static str,
    retry_after: bool,
}

const MALFORMED: Shared = Shared {
    name: "MalformedBody",
    status: "400",
    description: "The body is not well-formed JSON (`malformed_body`). Nothing was changed.",
    retry_after: false,
};
const UNAUTHORIZED: Shared = Shared {
    name: "Unauthorized",
    status: "401",
    description: "No valid bearer token (`unauthorized`): missing, malformed, expired, revoked or for another audience.",
    retry_after: false,
};
const FORBIDDEN: Shared = Shared {
    name: "Forbidden",
    status: "403",
    description: "Denied by policy (`forbidden`, naming the policies), or the token may only change its password (`password_change_required`).",
    retry_after: false,
};
const NOT_FOUND: Shared = Shared {
    name: "NotFound",
    status: "404",
    description: "No such object, or one of another partner or outside the caller's companies (`not_found`): the same answer for all.",
    retry_after: false,
};
const TOO_LARGE: Shared = Shared {
    name: "PayloadTooLarge",
    status: "413",
    description: "The body is larger than the server accepts (`payload_too_large`). Nothing was changed.",
    retry_after: false,
};
const MEDIA_TYPE: Shared = Shared {
    name: "UnsupportedMediaType",
    status: "415",
    description: "The body is not `application/json` (`unsupported_media_type`). Nothing was changed.",
    retry_after: false,
};
const INVALID: Shared = Shared {
    name: "InvalidValue",
    status: "422",
    description: "Well-formed, but a field or parameter is missing, unknown or has a value the API does not accept (`invalid_value`, `unknown_field`); `errors` names each by its path. Nothing was changed.",
    retry_after: false,
};
const UNAVAILABLE: Shared = Shared {
    name: "Unavailable",
    status: "503",
    description: "The database cannot be reached, or its schema is behind this build (`database_unavailable`, `migrations_pending`): retry after `Retry-After` seconds.",
    retry_after: true,
};
const SHARED: &[Shared] = &[
    MALFORMED,
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    TOO_LARGE,
    MEDIA_TYPE,
    INVALID,
    UNAVAILABLE,
];

fn string_header(description: &str) -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn request_id_header() -> utoipa::openapi::Header {
    string_header(
        "The request's id: the client's `X-Request-Id` when it is 1 to 128 characters of `[A-Za-z0-9._:-]`, a new one otherwise; every log line of the request names it",
    )
}

fn retry_after_header() -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        ))
        .description(Some("Seconds to wait before trying again"))
        .build()
}

fn shared_response(shared: &Shared) -> Response {
    let mut response = ResponseBuilder::new()
        .description(shared.description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .header("X-Request-Id", request_id_header());
    if shared.retry_after {
        response = response.header("Retry-After", retry_after_header());
    }
    response.build()
}

fn security_schemes(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    let token_url = "/v1/auth/token";
    let admin = Scopes::from_iter([(
        "admin",
        "An admin's token: what the admin's role allows (the policies decide)",
    )]);
    let clients = Scopes::from_iter(CLIENT_SCOPES.iter().copied());
    components.add_security_scheme(
        ADMIN_SCHEME,
        SecurityScheme::OAuth2(OAuth2::with_description(
            [
                Flow::Password(Password::new(token_url, admin)),
                Flow::ClientCredentials(ClientCredentials::new(token_url, clients)),
            ],
            "Admins sign in with the password grant, API clients with client credentials; the token is a JWT sent as `Authorization: Bearer`. Every request reads the caller anew: a removed admin or client, a changed role or scopes apply at once.",
        )),
    );
    components.add_security_scheme(
        ACCOUNT_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "An end user's account token, from `POST /v1/account/token`; never an admin token",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        OPERATOR_SCHEME,
        SecurityScheme::OAuth2(OAuth2::with_description(
            [
                Flow::Password(Password::new(
                    "/v1/operator/token",
                    Scopes::from_iter([(
                        "operator",
                        "The platform operator's token: partners as accounts, nothing inside one",
                    )]),
                )),
                Flow::ClientCredentials(ClientCredentials::new(
                    "/v1/operator/token",
                    Scopes::from_iter([(
                        "operator",
                        "The token of one of the operator's API clients: partners as accounts, never credentials",
                    )]),
                )),
            ],
            "The platform operator's staff sign in with the password grant at `/v1/operator/token` (no partner), its API clients (the vendor's automation) with the client credentials grant there; the token has its own audience and passes no partner endpoint, nor a partner's token these.",
        )),
    );
    components.add_security_scheme(
        SCIM_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A company's SCIM token (`csc_…`), made by an owner or admin at `POST /v1/companies/{company_id}/scim-tokens`: its directory provisions the company's users with it",
                ))
                .build(),
        ),
    );
    for shared in SHARED {
        components
            .responses
            .insert(shared.name.to_owned(), RefOr::T(shared_response(shared)));
    }
}

/// Adds `shared` to `operation` unless it declares that status itself.
fn declare(operation: &mut Operation, shared: &Shared) {
    operation
        .responses
        .responses
        .entry(shared.status.to_owned())
        .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{}", shared.name))));
}

fn finish_operation(path: &str, operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    if !secured {
        // Public: say so, rather than leave it to a default.
        operation.security = Some(Vec::new());
    }
    // SCIM's operations answer SCIM's errors, and declare each themselves.
    if crate::http::scim::is_scim_path(path) {
        finish_headers(operation);
        return;
    }
    // The token endpoint answers every error in RFC 6749's form, not as a
    // problem, and declares each itself.
    let oauth = matches!(
        operation.operation_id.as_deref(),
        Some("token_create" | "operator_token_create")
    );
    if operation.request_body.is_some() && !oauth {
        for shared in [&MALFORMED, &TOO_LARGE, &MEDIA_TYPE, &INVALID] {
            declare(operation, shared);
        }
    }
    let parameters = operation.parameters.iter().flatten();
    let mut queried = false;
    for parameter in parameters {
        if let RefOr::T(parameter) = parameter
            && parameter.parameter_in == ParameterIn::Query
        {
            queried = true;
        }
    }
    if queried {
        declare(operation, &INVALID);
    }
    if secured {
        declare(operation, &UNAUTHORIZED);
        declare(operation, &FORBIDDEN);
    }
    if path.contains('{') {
        declare(operation, &NOT_FOUND);
    }
    // Everything but liveness, the contract and its keys reads the database.
    let static_answer = matches!(
        operation.operation_id.as_deref(),
        Some("health_get" | "openapi_get" | "docs_get" | "metrics_get" | "jwks_get")
    );
    if !static_answer && !oauth {
        declare(operation, &UNAVAILABLE);
    }
    finish_headers(operation);
}

/// Every answer carries the request's id; 429 and 503 say when to retry.
fn finish_headers(operation: &mut Operation) {
    for (status, response) in &mut operation.responses.responses {
        if let RefOr::T(response) = response {
            response
                .headers
                .entry("X-Request-Id".to_owned())
                .or_insert_with(|| RefOr::T(request_id_header()));
            if status == "429" || status == "503" {
                response
                    .headers
                    .entry("Retry-After".to_owned())
                    .or_insert_with(|| RefOr::T(retry_after_header()));
            }
        }
    }
}

/// Drops the shared responses no operation refers to.
fn drop_unused_responses(doc: &mut OpenApi) {
    let used: std::collections::BTreeSet<String> = doc
        .paths
        .paths
        .values()
        .flat_map(|item| {
            [
                &item.get,
                &item.put,
                &item.post,
                &item.delete,
                &item.options,
                &item.head,
                &item.patch,
                &item.trace,
            ]
        })
        .flatten()
        .flat_map(|operation| operation.responses.responses.values())
        .filter_map(|response| match response {
            RefOr::Ref(reference) => Some(
                reference
                    .ref_location
                    .trim_start_matches("#/components/responses/")
                    .to_owned(),
            ),
            RefOr::T(_) => None,
        })
        .collect();
    if let Some(components) = doc.components.as_mut() {
        components.responses.retain(|name, _| used.contains(name));
    }
}

/// What the server checks of a field beyond its type, stated where the
/// handler's types cannot say it (a pattern must be a literal there), from
/// the same constants the checks use.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// A length in characters.
    Length { min: usize, max: usize },
    /// Canonical padded base64 ([`values::BASE64_PATTERN`]), a length in
    /// characters.
    Base64 { min: usize, max: usize },
    /// An integer range.
    Range { min: i64, max: i64 },
    /// An X25519 public key: 32 bytes of canonical base64, not all zero
    /// ([`values::PUBLIC_KEY_PATTERN`]).
    PublicKey,
    /// How many items a list holds.
    Items { min: usize, max: usize },
}

/// Each rule: the schema, the property, the rule.
pub const RULES: &[(&str, &str, Rule)] = &[
    ("NewMasterPassword", "auth_key", values::AUTH_KEY),
    ("NewMasterPassword", "kdf_params", values::KDF_PARAMS),
    (
        "NewMasterPassword",
        "encrypted_vault_key",
        values::VAULT_KEY,
    ),
    ("InvitationAcceptance", "token", values::LINK_TOKEN),
    ("InvitationAcceptance", "auth_key", values::AUTH_KEY),
    ("InvitationAcceptance", "kdf_params", values::KDF_PARAMS),
    (
        "InvitationAcceptance",
        "encrypted_vault_key",
        values::VAULT_KEY,
    ),
    ("ResetLinkCompletion", "token", values::LINK_TOKEN),
    ("ResetLinkCompletion", "auth_key", values::AUTH_KEY),
    ("ResetLinkCompletion", "kdf_params", values::KDF_PARAMS),
    (
        "ResetLinkCompletion",
        "encrypted_vault_key",
        values::VAULT_KEY,
    ),
    (
        "RecoveryKeyRegistration",
        "verifier",
        values::RECOVERY_VERIFIER,
    ),
    (
        "RecoveryKeyRegistration",
        "wrapped_vault_key",
        values::VAULT_KEY,
    ),
    ("PasswordChange", "new_password", values::NEW_PASSWORD),
    ("AdminInvitationAcceptance", "token", values::LINK_TOKEN),
    (
        "AdminInvitationAcceptance",
        "password",
        values::NEW_PASSWORD,
    ),
    ("VaultItemPut", "ciphertext", values::ITEM),
    ("VaultItemPut", "backup_copy", values::ITEM),
    ("VaultItemPut", "replaces_revision", values::REVISION),
    (
        "BackupProfileUpdate",
        "retention_days",
        values::RETENTION_DAYS,
    ),
    (
        "BackupProfileUpdate",
        "backup_public_key",
        values::PUBLIC_KEY,
    ),
    (
        "PartnerUpdate",
        "temporary_secret_ttl_seconds",
        values::SECRET_TTL,
    ),
    (
        "PartnerUpdate",
        "invitation_ttl_seconds",
        values::INVITATION_TTL,
    ),
    ("AuthorizationCheck", "checks", values::CHECKS),
    ("NewApiClient", "companies", values::CLIENT_COMPANIES),
];

/// Applies `rule` to a property's schema (inline, or the non-null member of
/// a nullable one).
fn apply(schema: &mut RefOr<Schema>, rule: Rule) -> bool {
    let target = match schema {
        RefOr::T(Schema::OneOf(one_of)) => one_of.items.iter_mut().find(|item| {
            !matches!(item, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
        }),
        other => Some(other),
    };
    match (target, rule) {
        (Some(RefOr::T(Schema::Object(object))), Rule::Length { min, max }) => {
            object.min_length = Some(min);
            object.max_length = Some(max);
            true
        }
        (Some(RefOr::T(Schema::Object(object))), Rule::Base64 { min, max }) => {
            object.min_length = Some(min);
            object.max_length = Some(max);
            object.pattern = Some(values::BASE64_PATTERN.to_owned());
            true
        }
        (Some(RefOr::T(Schema::Object(object))), Rule::PublicKey) => {
            object.min_length = Some(44);
            object.max_length = Some(44);
            object.pattern = Some(values::PUBLIC_KEY_PATTERN.clone());
            true
        }
        (Some(RefOr::T(Schema::Object(object))), Rule::Range { min, max }) => {
            object.minimum = Some(min.into());
            object.maximum = Some(max.into());
            true
        }
        (Some(RefOr::T(Schema::Array(array))), Rule::Items { min, max }) => {
            array.min_items = Some(min);
            array.max_items = Some(max);
            true
        }
        _ => false,
    }
}

fn refine(doc: &mut OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for (schema, property, rule) in RULES {
        let applied = match components.schemas.get_mut(*schema) {
            Some(RefOr::T(Schema::Object(object))) => object
                .properties
                .get_mut(*property)
                .is_some_and(|found| apply(found, *rule)),
            _ => false,
        };
        // A renamed field must not silently lose its rule.
        assert!(
            applied,
            "the contract has no {schema}.{property} to apply {rule:?} to"
        );
    }
}

/// Which component schemas a request can carry: those a request body or
/// parameter refers to, and what they refer to in turn.
fn request_schemas(doc: &OpenApi) -> std::collections::BTreeSet<String> {
    let value = serde_json::to_value(doc).expect("the document serializes");
    let mut found = std::collections::BTreeSet::new();
    let mut pending: Vec<String> = Vec::new();
    for item in value["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
            references(&operation["requestBody"], &mut pending);
            references(&operation["parameters"], &mut pending);
        }
    }
    while let Some(name) = pending.pop() {
        if found.insert(name.clone()) {
            references(&value["components"]["schemas"][&name], &mut pending);
        }
    }
    found
}

fn references(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(|r| r.as_str())
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                into.push(name.to_owned());
            }
            map.values().for_each(|v| references(v, into));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| references(v, into)),
        _ => {}
    }
}

/// Members a response leaves out rather than sending `null`.
const OMITTED_WHEN_EMPTY: &[(&str, &[&str])] = &[
    ("Problem", &["instance", "request_id", "errors", "vault"]),
    ("AccountTokenResponse", &["wrapped_vault_key"]),
    // SCIM leaves out an attribute without a value (RFC 7643 §2.5).
    ("ScimError", &["scimType"]),
    ("ScimUser", &["externalId"]),
];

/// A response's object carries every member, `null` when it has no value:
/// say so (`required`), so clients need not guess which may be missing.
fn mark_always_sent(doc: &mut OpenApi) {
    let requests = request_schemas(doc);
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for (name, schema) in components.schemas.iter_mut() {
        if requests.contains(name) {
            continue;
        }
        let RefOr::T(Schema::Object(object)) = schema else {
            continue;
        };
        let omitted = OMITTED_WHEN_EMPTY
            .iter()
            .find(|(schema, _)| schema == name)
            .map_or(&[][..], |(_, members)| *members);
        for property in object.properties.keys() {
            if !omitted.contains(&property.as_str()) && !object.required.contains(property) {
                object.required.push(property.clone());
            }
        }
    }
}

/// Applies the conventions to the whole document.
pub fn finish(doc: &mut OpenApi) {
    doc.servers = Some(vec![Server::new("/")]);
    security_schemes(doc);
    refine(doc);
    mark_always_sent(doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            finish_operation(path, operation);
        }
    }
    drop_unused_responses(doc);
}

/// The document as YAML, with the scalars a YAML 1.1 reader would take for
/// booleans (`Yes`, `No`, `On`, `Off`, `Y`, `N`, in any case) quoted: YAML
/// 1.2 writers leave them bare, and PyYAML, among others, reads `Yes` as
/// `true`.
pub fn to_yaml(doc: &OpenApi) -> Result<String, String> {
    let yaml = doc.to_yaml().map_err(|e| e.to_string())?;
    Ok(yaml
        .lines()
        .map(quote_yaml11_boolean)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n")
}

fn quote_yaml11_boolean(line: &str) -> String {
    const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off"];
    let (head, value) = match line.rsplit_once(": ") {
        Some((head, value)) => (format!("{head}: "), value),
        None => match line.trim_start().strip_prefix("- ") {
            Some(value) => (line[..line.len() - value.len()].to_owned(), value),
            None => return line.to_owned(),
        },
    };
    if WORDS.contains(&value.to_ascii_lowercase().as_str()) {
        format!("{head}'{value}'")
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_11_booleans_are_quoted() {
        assert_eq!(quote_yaml11_boolean("  example: Yes"), "  example: 'Yes'");
        assert_eq!(quote_yaml11_boolean("  - off"), "  - 'off'");
        assert_eq!(
            quote_yaml11_boolean("  example: Yesterday"),
            "  example: Yesterday"
        );
        assert_eq!(
            quote_yaml11_boolean("  description: Say yes"),
            "  description: Say yes"
        );
        assert_eq!(quote_yaml11_boolean("  example: 'Yes'"), "  example: 'Yes'");
    }
}
