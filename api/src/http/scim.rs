//! SCIM 2.0 (RFC 7643, RFC 7644) for a company's directory: `/scim/v2/Users`
//! with the filters directories send (`userName eq`, `externalId eq`),
//! `startIndex`/`count` paging, `PATCH` (of `active` and the rest), and
//! errors in SCIM's own form; and the admin's side, the company's SCIM
//! tokens at `/v1/companies/{company_id}/scim-tokens`. The operations are
//! [`crate::app::scim`]'s.
//!
//! Where SCIM and Custodian meet (`docs/decisions.md` gives the reasons):
//! `userName` is the user's email and cannot change; the name is
//! `displayName`, else `name.formatted`, else `name.givenName` and
//! `name.familyName`; `preferredLanguage` picks the email's language by its
//! primary subtag; attributes Custodian does not keep (`title`,
//! `department`, `emails`, …) are accepted and ignored.

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{
    FromRequest, HttpRequest, HttpResponse, ResponseError, delete, get, patch, post, put, web,
};
use futures_util::future::LocalBoxFuture;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::app::backup::Precondition;
use crate::app::idempotent::Made;
use crate::app::resets::Idempotency;
use crate::app::scim as app_scim;
use crate::app::{LOCALES, OpContext};
use crate::db::scim_tokens::ScimToken;
use crate::db::types::UserStatus;
use crate::db::users::User;
use crate::domain::{Email, text};
use crate::error::{ApiError, Problem};
use crate::http::AppState;
use crate::http::admins::PageQuery;
use crate::http::caller::{Caller, bearer};
use crate::http::conditional::{etag, precondition};
use crate::http::extract::{Json, Query};
use crate::http::paging;
use crate::http::resets::{creation_fingerprint, idempotency_key, rendered, replay};
use crate::http::time::Timestamp;
use crate::http::users::ClientKind;
use crate::http::values::Name;

/// SCIM's media type; requests may also be sent as `application/json`.
pub const SCIM_JSON: &str = "application/scim+json";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Custodian's extension of the user: what the runbook knows of them.
const CUSTODIAN_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:custodian:2.0:User";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The most users a page holds (`count` above it is lowered to it).
pub const MAX_COUNT: i64 = 100;

// ---------------------------------------------------------------- errors

/// An error in SCIM's form (RFC 7644 §3.12).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimError {
    /// `["urn:ietf:params:scim:api:messages:2.0:Error"]`.
    pub schemas: Vec<String>,
    /// The HTTP status, as a string.
    #[schema(example = "400")]
    pub status: String,
    /// For 400 and 409: `invalidFilter`, `invalidSyntax`, `invalidValue`,
    /// `mutability`, `uniqueness`, `tooMany`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&str>, detail: impl Into<String>) -> Self {
        Self {
            schemas: vec![ERROR_SCHEMA.to_owned()],
            status: status.as_u16().to_string(),
            scim_type: scim_type.map(str::to_owned),
            detail: detail.into(),
        }
    }

    fn bad(scim_type: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    fn status_code(&self) -> StatusCode {
        self.status
            .parse::<u16>()
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error as a response, in SCIM's media type.
    pub fn response(&self) -> HttpResponse {
        scim_json(HttpResponse::build(self.status_code()), self)
    }

    /// A problem (what the API answers elsewhere) in SCIM's form: a 422
    /// becomes SCIM's 400 `invalidValue`, a malformed body its
    /// `invalidSyntax`, a taken email or external id its 409 `uniqueness`.
    pub fn from_problem(problem: &Problem) -> Self {
        let mut detail = problem.detail.clone();
        for error in &problem.errors {
            detail.push_str(&format!(" {}: {}.", error.field, error.message));
        }
        let (status, scim_type) = match (problem.status, problem.code.as_str()) {
            (422, _) => (StatusCode::BAD_REQUEST, Some("invalidValue")),
            (400, _) => (StatusCode::BAD_REQUEST, Some("invalidSyntax")),
            (409, "email_taken" | "external_id_taken") => {
                (StatusCode::CONFLICT, Some("uniqueness"))
            }
            (status, _) => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                None,
            ),
        };
        Self::new(status, scim_type, detail)
    }
}

/// Whether a request path is SCIM's: its errors are answered in SCIM's
/// form ([`crate::http::middleware`]).
pub fn is_scim_path(path: &str) -> bool {
    path.starts_with("/scim/")
}

/// What a SCIM handler answers with: its own SCIM errors, or the API's
/// (turned into SCIM's form by the middleware).
pub enum Failure {
    Scim(ScimError),
    Api(ApiError),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<crate::app::Error> for Failure {
    fn from(error: crate::app::Error) -> Self {
        Self::Api(error.into())
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Scim(error) => error.fmt(f),
            Self::Api(error) => error.fmt(f),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Scim(error) => write!(f, "{} {}", error.status, error.detail),
            Self::Api(error) => error.fmt(f),
        }
    }
}

impl ResponseError for Failure {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Scim(error) => error.status_code(),
            Self::Api(error) => error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Scim(error) => error.response(),
            Self::Api(error) => error.error_response(),
        }
    }
}

fn scim_json(mut builder: actix_web::HttpResponseBuilder, body: &impl Serialize) -> HttpResponse {
    builder
        .content_type(SCIM_JSON)
        .body(serde_json::to_vec(body).expect("a SCIM view serializes"))
}

// ---------------------------------------------------------------- caller

/// A request authenticated by a company's SCIM token.
pub struct ScimCaller(pub OpContext);

impl FromRequest for ScimCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let request_id = crate::http::request_id(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no AppState")))?;
            let token = token?;
            Ok(Self(
                app_scim::authenticate(&state, &token, request_id).await?,
            ))
        })
    }
}

// ---------------------------------------------------------------- views

/// The user's name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimName {
    pub formatted: String,
}

/// One of the user's addresses.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimEmail {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub primary: bool,
}

/// Where and when the resource was made and last changed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimMeta {
    /// `User`.
    pub resource_type: String,
    pub created: Timestamp,
    pub last_modified: Timestamp,
    /// The resource's entity tag, as in the `ETag` header.
    pub version: String,
    pub location: String,
}

/// What the runbook knows of the user, beyond SCIM's core.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustodianUser {
    /// `invited` until the user accepts their invitation; then `active`,
    /// `reset_pending` or `disabled`.
    pub status: String,
    pub client_kind: ClientKind,
}

/// A user, as SCIM writes one.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScimUser {
    pub schemas: Vec<String>,
    pub id: uuid::Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The user's email.
    pub user_name: String,
    pub name: ScimName,
    pub display_name: String,
    pub emails: Vec<ScimEmail>,
    /// `false` only for a disabled user.
    pub active: bool,
    /// The language of the user's emails (en, fr, de, es, it, nl, ja).
    pub preferred_language: String,
    #[serde(rename = "urn:ietf:params:scim:schemas:extension:custodian:2.0:User")]
    pub custodian: CustodianUser,
    pub meta: ScimMeta,
}

fn user_view(user: User) -> ScimUser {
    let location = format!("/scim/v2/Users/{}", user.id);
    ScimUser {
        schemas: vec![USER_SCHEMA.to_owned(), CUSTODIAN_SCHEMA.to_owned()],
        id: user.id.uuid(),
        external_id: user.external_id,
        emails: vec![ScimEmail {
            value: user.email.clone(),
            kind: "work".into(),
            primary: true,
        }],
        user_name: user.email,
        name: ScimName {
            formatted: user.name.clone(),
        },
        display_name: user.name,
        active: user.status != UserStatus::Disabled,
        preferred_language: user.locale,
        custodian: CustodianUser {
            status: user.status.to_string(),
            client_kind: user.client_kind.into(),
        },
        meta: ScimMeta {
            resource_type: "User".into(),
            created: user.created_at.into(),
            last_modified: user.updated_at.into(),
            version: etag(user.version),
            location,
        },
    }
}

/// The user, with its `ETag` and `Location`.
fn user_response(mut builder: actix_web::HttpResponseBuilder, user: User) -> HttpResponse {
    let view = user_view(user);
    builder
        .insert_header((header::ETAG, view.meta.version.clone()))
        .insert_header((header::LOCATION, view.meta.location.clone()));
    scim_json(builder, &view)
}

/// A page of users (RFC 7644 §3.4.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimUserList {
    /// `["urn:ietf:params:scim:api:messages:2.0:ListResponse"]`.
    pub schemas: Vec<String>,
    /// How many users match, over all pages.
    #[serde(rename = "totalResults")]
    pub total_results: i64,
    /// The 1-based index of the first user of this page.
    #[serde(rename = "startIndex")]
    pub start_index: i64,
    /// How many users this page holds.
    #[serde(rename = "itemsPerPage")]
    pub items_per_page: i64,
    #[serde(rename = "Resources")]
    pub resources: Vec<ScimUser>,
}

// ---------------------------------------------------------------- requests

/// A user as a directory sends it (`POST`, `PUT`). Attribute names are
/// matched without regard to case; attributes not listed are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // The contract's; bodies are read as JSON (see `Attributes`).
pub struct ScimUserRequest {
    pub schemas: Option<Vec<String>>,
    /// The user's email; it cannot change once the user exists.
    #[schema(value_type = crate::http::values::EmailAddress)]
    pub user_name: String,
    /// The directory's own id for the user, unique in the company.
    #[schema(value_type = Option<crate::http::values::ExternalId>)]
    pub external_id: Option<String>,
    /// The user's name, when `displayName` is not sent.
    pub name: Option<ScimNameRequest>,
    /// The user's name.
    #[schema(value_type = Option<Name>)]
    pub display_name: Option<String>,
    /// `false` disables the user (created disabled, or disabled now).
    pub active: Option<ScimBoolean>,
    /// A language tag; its primary subtag picks the emails' language (en,
    /// fr, de, es, it, nl, ja; en otherwise).
    pub preferred_language: Option<String>,
}

/// A user's name as a directory sends it: `formatted`, or both halves.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ScimNameRequest {
    #[schema(value_type = Option<Name>)]
    pub formatted: Option<String>,
    #[schema(value_type = Option<Name>)]
    pub given_name: Option<String>,
    #[schema(value_type = Option<Name>)]
    pub family_name: Option<String>,
}

/// A boolean, or its name as a string in any case (`"False"`): Entra ID
/// has sent both.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub struct ScimBoolean(Value);

impl utoipa::PartialSchema for ScimBoolean {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$")),
            )
            .description(Some("true or false, or \"True\" or \"False\" in any case"))
            .into()
    }
}

impl ToSchema for ScimBoolean {}

/// What a `PATCH` operation does: `add`, `replace` or `remove`, in any
/// case.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub struct ScimPatchOp(String);

impl utoipa::PartialSchema for ScimPatchOp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(
                "^([Aa][Dd][Dd]|[Rr][Ee][Pp][Ll][Aa][Cc][Ee]|[Rr][Ee][Mm][Oo][Vv][Ee])$",
            ))
            .description(Some("add, replace or remove, in any case"))
            .into()
    }
}

impl ToSchema for ScimPatchOp {}

/// One operation of a `PATCH`.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ScimPatchOperation {
    /// `add`, `replace` or `remove`, in any case.
    pub op: ScimPatchOp,
    /// The attribute: `active`, `displayName`, `name.formatted`,
    /// `name.givenName`, `name.familyName`, `externalId`,
    /// `preferredLanguage`, `userName` (bare, or after the core User
    /// schema's URN and a colon); without it, `value` is an object of
    /// attributes.
    pub path: Option<String>,
    /// What the path's attribute takes (a boolean for `active`, a string
    /// for the others), or an object of attributes without a path.
    pub value: Option<Value>,
}

/// A `PATCH` (RFC 7644 §3.5.2).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ScimPatchRequest {
    /// `["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`.
    pub schemas: Vec<String>,
    /// 1 to 100 operations, applied in order, in one change.
    #[serde(rename = "Operations")]
    #[schema(min_items = 1, max_items = 100)]
    pub operations: Vec<ScimPatchOperation>,
}

/// The attributes a request sets, as read: each `None` when not sent.
#[derive(Debug, Default, Clone, PartialEq)]
struct Attributes {
    user_name: Option<String>,
    display_name: Option<String>,
    formatted: Option<String>,
    given: Option<String>,
    family: Option<String>,
    /// `Some(None)`: removed.
    external_id: Option<Option<String>>,
    active: Option<bool>,
    language: Option<String>,
}

impl Attributes {
    /// The name they give, if any: `displayName`, `name.formatted`, or the
    /// given and family names. A change (`partial`) that names only one of
    /// those two gives none: Custodian keeps the whole name, not its halves.
    fn name(&self, partial: bool) -> Result<Option<String>, ScimError> {
        // Every part sent is a name, whichever gives the name.
        for part in [
            &self.display_name,
            &self.formatted,
            &self.given,
            &self.family,
        ]
        .into_iter()
        .flatten()
        {
            text::name(part).map_err(|e| ScimError::bad("invalidValue", format!("A name {e}")))?;
        }
        let halves = self.given.is_some() && self.family.is_some();
        let raw = self
            .display_name
            .clone()
            .or(self.formatted.clone())
            .or_else(|| {
                if partial && !halves {
                    return None;
                }
                let joined = [self.given.as_deref(), self.family.as_deref()]
                    .into_iter()
                    .flatten()
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                (!joined.is_empty()).then_some(joined)
            });
        raw.map(|raw| {
            text::name(&raw)
                .map_err(|e| ScimError::bad("invalidValue", format!("The user's name {e}")))
        })
        .transpose()
    }

    fn external_id(&self) -> Result<Option<Option<String>>, ScimError> {
        match &self.external_id {
            None => Ok(None),
            Some(None) => Ok(Some(None)),
            Some(Some(raw)) => text::name_of(raw, crate::http::values::EXTERNAL_ID_MAX)
                .map(|id| Some(Some(id)))
                .map_err(|e| ScimError::bad("invalidValue", format!("externalId {e}"))),
        }
    }

    /// Sets the attribute `path` names (lowercase) to `value`; paths
    /// Custodian does not keep are ignored.
    fn set(&mut self, path: &str, value: &Value) -> Result<(), ScimError> {
        let string = |what: &str| -> Result<Option<String>, ScimError> {
            match value {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(ScimError::bad(
                    "invalidValue",
                    format!("{what} must be a string"),
                )),
            }
        };
        // A path may name the core schema first (RFC 7644 §3.10).
        let path = path
            .strip_prefix("urn:ietf:params:scim:schemas:core:2.0:user:")
            .unwrap_or(path);
        match path {
            "username" => self.user_name = string("userName")?,
            "displayname" => self.display_name = string("displayName")?,
            "name.formatted" => self.formatted = string("name.formatted")?,
            "name.givenname" => self.given = string("name.givenName")?,
            "name.familyname" => self.family = string("name.familyName")?,
            "name" => match value {
                Value::Object(name) => {
                    for (key, value) in name {
                        self.set(&format!("name.{}", key.to_ascii_lowercase()), value)?;
                    }
                }
                Value::Null => {}
                _ => return Err(ScimError::bad("invalidValue", "name must be an object")),
            },
            "externalid" => self.external_id = Some(string("externalId")?),
            "preferredlanguage" => self.language = string("preferredLanguage")?,
            "active" => {
                self.active = Some(match value {
                    Value::Bool(b) => *b,
                    // Some directories send booleans as strings ("False").
                    Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                    Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                    _ => {
                        return Err(ScimError::bad("invalidValue", "active must be a boolean"));
                    }
                })
            }
            _ => {}
        }
        Ok(())
    }

    /// Every attribute of a resource object.
    fn read(object: &Map<String, Value>) -> Result<Self, ScimError> {
        schemas(object, None)?;
        let mut attributes = Self::default();
        for (key, value) in object {
            attributes.set(&key.to_ascii_lowercase(), value)?;
        }
        Ok(attributes)
    }
}

/// The product locale a language tag names by its primary subtag (`en-US`
/// is `en`); `None` for one the product does not speak.
fn locale_of(tag: &str) -> Option<String> {
    let primary = tag
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    LOCALES.contains(&primary.as_str()).then_some(primary)
}

/// The email `userName` names, in its stored form.
fn email_of(user_name: Option<&str>) -> Result<String, ScimError> {
    let raw = user_name.ok_or_else(|| ScimError::bad("invalidValue", "userName is required"))?;
    Email::parse(raw)
        .map(Email::into_string)
        .map_err(|e| ScimError::bad("invalidValue", format!("userName {e}")))
}

/// A message's `schemas`, when sent, must be a list of URNs, naming
/// `required` when one is (and then it must be sent).
fn schemas(object: &Map<String, Value>, required: Option<&str>) -> Result<(), ScimError> {
    let sent = object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("schemas"))
        .map(|(_, value)| value);
    let urns = match sent {
        None if required.is_none() => return Ok(()),
        None => None,
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str())
            .collect::<Option<Vec<_>>>(),
        Some(_) => None,
    };
    let Some(urns) = urns else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "schemas must be a list of schema URNs",
        ));
    };
    match required {
        Some(urn) if !urns.iter().any(|u| u.eq_ignore_ascii_case(urn)) => Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must name {urn}"),
        )),
        _ => Ok(()),
    }
}

/// A body that must be a JSON object.
fn object(body: &Value) -> Result<&Map<String, Value>, ScimError> {
    body.as_object()
        .ok_or_else(|| ScimError::bad("invalidSyntax", "The body must be a JSON object"))
}

// ---------------------------------------------------------------- filter

/// A filter, read: `userName eq "…"`, `externalId eq "…"` (attribute
/// names and the operator in any case), or `emails[type eq "work"].value
/// eq "…"` and `emails.value eq "…"`, which name the user's email too.
fn parse_filter(raw: &str) -> Result<app_scim::Lookup, ScimError> {
    static FILTER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"(?i)^\s*(username|externalid|emails\[type eq "work"\]\.value|emails\.value)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$"#,
        )
        .expect("the filter pattern compiles")
    });
    let unsupported = || {
        ScimError::bad(
            "invalidFilter",
            "Supported filters: userName eq \"…\" and externalId eq \"…\"",
        )
    };
    let captures = FILTER.captures(raw).ok_or_else(unsupported)?;
    let value: String = serde_json::from_str(&captures[2]).map_err(|_| unsupported())?;
    let attribute = captures[1].to_ascii_lowercase();
    Ok(if attribute == "externalid" {
        app_scim::Lookup {
            external_id: Some(value),
            ..Default::default()
        }
    } else {
        // An address that is not one matches no user.
        let email = Email::parse(&value)
            .map(Email::into_string)
            .unwrap_or_else(|_| value.to_ascii_lowercase());
        app_scim::Lookup {
            email: Some(email),
            ..Default::default()
        }
    })
}

/// A list's query. Other parameters (`attributes`, `excludedAttributes`,
/// `sortBy`) are accepted and ignored: every attribute is returned, by id.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ScimListQuery {
    /// `userName eq "…"` or `externalId eq "…"`.
    pub filter: Option<String>,
    /// The 1-based index of the first user; 1 when left out or below 1.
    pub start_index: Option<i64>,
    /// At most this many users (0 to 100; 100 when left out): 0 answers
    /// only `totalResults`.
    pub count: Option<i64>,
}

// ---------------------------------------------------------------- routes

/// List or find users
///
/// The company's users, by id, or the one a filter finds: `userName eq
/// "…"` (the user's email) or `externalId eq "…"` (the directory's id).
#[utoipa::path(
    operation_id = "scim_users_list",
    tag = "scim",
    security(("scim" = [])),
    params(ScimListQuery),
    responses(
        (status = 200, description = "A page of users", body = ScimUserList, content_type = "application/scim+json"),
        (status = 400, description = "An unsupported filter (`invalidFilter`) or an invalid value", body = ScimError, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimError, content_type = "application/scim+json"),
        (status = 403, description = "Denied by policy", body = ScimError, content_type = "application/scim+json"),
        (status = 503, description = "The database cannot be reached", body = ScimError, content_type = "application/scim+json"),
    ),
)]
#[get("/scim/v2/Users")]
pub async fn scim_users_list(
    caller: ScimCaller,
    state: web::Data<AppState>,
    Query(query): Query<ScimListQuery>,
) -> Result<HttpResponse, Failure> {
    let lookup = match query.filter.as_deref() {
        Some(raw) => parse_filter(raw).map_err(Failure::Scim)?,
        None => app_scim::Lookup::default(),
    };
    let start_index = query.start_index.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(MAX_COUNT).clamp(0, MAX_COUNT);
    let (total, users) =
        app_scim::list_users(&state, &caller.0, lookup, start_index, count).await?;
    let resources: Vec<ScimUser> = users.into_iter().map(user_view).collect();
    let list = ScimUserList {
        schemas: vec![LIST_SCHEMA.to_owned()],
        total_results: total,
        start_index,
        items_per_page: i64::try_from(resources.len()).unwrap_or(i64::MAX),
        resources,
    };
    Ok(scim_json(HttpResponse::Ok(), &list))
}

/// Provision a user
///
/// Creates the user in the token's company and invites them, exactly as
/// `POST /v1/companies/{company_id}/users` does; `active: false` creates
/// them disabled. 409 `uniqueness` when the email or the external id is
/// taken in the company.
#[utoipa::path(
    operation_id = "scim_users_create",
    tag = "scim",
    security(("scim" = [])),
    request_body(content(
        (ScimUserRequest = "application/scim+json"),
        (ScimUserRequest = "application/json"),
    )),
    responses(
        (status = 201, description = "Created and invited", body = ScimUser, content_type = "application/scim+json",
            headers(
                ("Location" = String, description = "The user's URL"),
                ("ETag" = String, description = "The user's version"),
            )),
        (status = 400, description = "A body that is not JSON (`invalidSyntax`) or an invalid value (`invalidValue`)", body = ScimError, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimError, content_type = "application/scim+json"),
        (status = 403, description = "Denied by policy", body = ScimError, content_type = "application/scim+json"),
        (status = 409, description = "The email or the external id is taken in the company (`uniqueness`)", body = ScimError, content_type = "application/scim+json"),
        (status = 413, description = "The body is too large", body = ScimError, content_type = "application/scim+json"),
        (status = 415, description = "The body is not JSON", body = ScimError, content_type = "application/scim+json"),
        (status = 503, description = "The database cannot be reached", body = ScimError, content_type = "application/scim+json"),
    ),
)]
#[post("/scim/v2/Users")]
pub async fn scim_users_create(
    caller: ScimCaller,
    state: web::Data<AppState>,
    Json(body): Json<Value>,
) -> Result<HttpResponse, Failure> {
    let attributes =
        Attributes::read(object(&body).map_err(Failure::Scim)?).map_err(Failure::Scim)?;
    let email = email_of(attributes.user_name.as_deref()).map_err(Failure::Scim)?;
    let name = match attributes.name(false).map_err(Failure::Scim)? {
        Some(name) => name,
        // A directory that sends no name: the address's local part.
        None => email.split('@').next().unwrap_or(&email).to_owned(),
    };
    let new = app_scim::Provisioned {
        email,
        name,
        locale: attributes
            .language
            .as_deref()
            .and_then(locale_of)
            .unwrap_or_else(|| "en".into()),
        external_id: attributes.external_id().map_err(Failure::Scim)?.flatten(),
        active: attributes.active.unwrap_or(true),
    };
    let user = app_scim::create_user(&state, &caller.0, new).await?;
    Ok(user_response(HttpResponse::Created(), user))
}

/// Read a user
#[utoipa::path(
    operation_id = "scim_user_get",
    tag = "scim",
    security(("scim" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = ScimUser, content_type = "application/scim+json",
            headers(("ETag" = String, description = "The user's version"))),
        (status = 401, description = "No valid SCIM token", body = ScimError, content_type = "application/scim+json"),
        (status = 403, description = "Denied by policy", body = ScimError, content_type = "application/scim+json"),
        (status = 404, description = "No such user in the token's company", body = ScimError, content_type = "application/scim+json"),
        (status = 503, description = "The database cannot be reached", body = ScimError, content_type = "application/scim+json"),
    ),
)]
#[get("/scim/v2/Users/{user_id}")]
pub async fn scim_user_get(
    caller: ScimCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    let user = crate::app::users::get(&state, caller.0, &path).await?;
    Ok(user_response(HttpResponse::Ok(), user))
}

/// `If-Match` when sent; SCIM makes it optional.
fn optional_precondition(req: &HttpRequest) -> Precondition {
    match precondition(req) {
        Precondition::Absent => Precondition::Any,
        named => named,
    }
}

/// The change and the `active` flag `attributes` ask of `user`, leaving out
/// what would not change (a directory sends the whole user again and
/// again): `userName` may only repeat the user's email.
fn change_of(
    attributes: &Attributes,
    user: &User,
    replace: bool,
) -> Result<(crate::app::users::UserUpdate, Option<bool>), ScimError> {
    if let Some(user_name) = &attributes.user_name {
        let same = Email::parse(user_name).is_ok_and(|sent| sent.as_str() == user.email);
        if !same {
            return Err(ScimError::bad(
                "mutability",
                "userName is the user's email and cannot change",
            ));
        }
    }
    let mut external_id = attributes.external_id()?;
    if replace && external_id.is_none() {
        // A replacement without it removes it.
        external_id = Some(None);
    }
    let update = crate::app::users::UserUpdate {
        name: attributes.name(!replace)?.filter(|name| *name != user.name),
        locale: attributes
            .language
            .as_deref()
            .and_then(locale_of)
            .filter(|locale| *locale != user.locale),
        external_id: external_id.filter(|id| *id != user.external_id),
        ..Default::default()
    };
    let active = attributes
        .active
        .filter(|active| *active != (user.status != UserStatus::Disabled));
    Ok((update, active))
}

async fn change(
    state: &AppState,
    caller: OpContext,
    req: &HttpRequest,
    raw_id: &str,
    attributes: Attributes,
    replace: bool,
) -> Result<HttpResponse, Failure> {
    let user = crate::app::users::get(state, caller.clone(), raw_id).await?;
    let (update, active) = change_of(&attributes, &user, replace).map_err(Failure::Scim)?;
    let user = app_scim::change_user(
        state,
        &caller,
        raw_id,
        update,
        active,
        optional_precondition(req),
    )
    .await?;
    Ok(user_response(HttpResponse::Ok(), user))
}

/// Replace a user
///
/// Sets the user's name, external id (removed when left out), language and
/// `active`, in one change. `userName` must be the user's email.
#[utoipa::path(
    operation_id = "scim_user_replace",
    tag = "scim",
    security(("scim" = [])),
    params(
        ("user_id" = uuid::Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The version the change was decided on (the ETag); when sent, 412 unless it is current"),
    ),
    request_body(content(
        (ScimUserRequest = "application/scim+json"),
        (ScimUserRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Changed", body = ScimUser, content_type = "application/scim+json",
            headers(("ETag" = String, description = "The user's version"))),
        (status = 400, description = "A body that is not JSON (`invalidSyntax`), an invalid value (`invalidValue`), or another userName (`mutability`)", body = ScimError, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimError, content_type = "application/scim+json"),
        (status = 403, description = "Denied by policy", body = ScimError, content_type = "application/scim+json"),
        (status = 404, description = "No such user in the token's company", body = ScimError, content_type = "application/scim+json"),
        (status = 409, description = "The external id is taken in the company (`uniqueness`)", body = ScimError, content_type = "application/scim+json"),
        (status = 412, description = "`If-Match` names a version that is no longer current", body = ScimError, content_type = "application/scim+json"),
        (status = 413, description = "The body is too large", body = ScimError, content_type = "application/scim+json"),
        (status = 415, description = "The body is not JSON", body = ScimError, content_type = "application/scim+json"),
        (status = 503, description = "The database cannot be reached", body = ScimError, content_type = "application/scim+json"),
    ),
)]
#[put("/scim/v2/Users/{user_id}")]
pub async fn scim_user_replace(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Json(body): Json<Value>,
) -> Result<HttpResponse, Failure> {
    let attributes =
        Attributes::read(object(&body).map_err(Failure::Scim)?).map_err(Failure::Scim)?;
    change(&state, caller.0, &req, &path, attributes, true).await
}

/// The attributes a `PATCH` sets.
fn patched(body: &Value) -> Result<Attributes, ScimError> {
    let body = object(body)?;
    schemas(body, Some(PATCH_SCHEMA))?;
    let operations = body
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("operations"))
        .and_then(|(_, value)| value.as_array())
        .ok_or_else(|| ScimError::bad("invalidSyntax", "A PATCH names its Operations"))?;
    if operations.is_empty() || operations.len() > 100 {
        return Err(ScimError::bad(
            "invalidValue",
            "A PATCH names 1 to 100 operations",
        ));
    }
    let mut attributes = Attributes::default();
    for operation in operations {
        let operation = object(operation)?;
        let field = |name: &str| {
            operation
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        };
        let op = field("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let path = field("path")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        let value = field("value").cloned().unwrap_or(Value::Null);
        match (op.as_str(), path) {
            ("add" | "replace", Some(path)) => attributes.set(path.trim(), &value)?,
            ("add" | "replace", None) => match &value {
                Value::Object(object) => {
                    for (key, value) in object {
                        attributes.set(&key.to_ascii_lowercase(), value)?;
                    }
                }
                _ => {
                    return Err(ScimError::bad(
                        "invalidValue",
                        "An operation without a path takes an object of attributes",
                    ));
                }
            },
            ("remove", Some(path)) => match path
                .trim()
                .strip_prefix("urn:ietf:params:scim:schemas:core:2.0:user:")
                .unwrap_or(path.trim())
            {
                "externalid" => attributes.external_id = Some(None),
                // The emails' language falls back to the default.
                "preferredlanguage" => attributes.language = Some("en".into()),
                "username" | "active" | "displayname" | "name" | "name.formatted" => {
                    return Err(ScimError::bad(
                        "mutability",
                        format!("{path} cannot be removed"),
                    ));
                }
                _ => {}
            },
            ("remove", None) => {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("noTarget"),
                    "A remove names its path",
                ));
            }
            _ => {
                return Err(ScimError::bad(
                    "invalidSyntax",
                    "op must be add, replace or remove",
                ));
            }
        }
    }
    Ok(attributes)
}

/// Change a user
///
/// Applies the operations in one change: `replace` of `active` disables or
/// enables the user; of `displayName`, `name.*`, `externalId`,
/// `preferredLanguage` changes them; `remove` of `externalId` removes it.
/// Attributes Custodian does not keep are ignored.
#[utoipa::path(
    operation_id = "scim_user_patch",
    tag = "scim",
    security(("scim" = [])),
    params(
        ("user_id" = uuid::Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "The version the change was decided on (the ETag); when sent, 412 unless it is current"),
    ),
    request_body(content(
        (ScimPatchRequest = "application/scim+json"),
        (ScimPatchRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "Changed", body = ScimUser, content_type = "application/scim+json",
            headers(("ETag" = String, description = "The user's version"))),
        (status = 400, description = "A body that is not JSON or not a PATCH (`invalidSyntax`), an invalid value (`invalidValue`), another userName (`mutability`), a remove without a path (`noTarget`)", body = ScimError, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimError, content_type = "application/scim+json"),
        (status = 403, description = "Denied by policy", body = ScimError, content_type = "application/scim+json"),
        (status = 404, description = "No such user in the token's company", body = ScimError, content_type = "application/scim+json"),
        (status = 409, description = "The external id is taken in the company (`uniqueness`)", body = ScimError, content_type = "application/scim+json"),
        (status = 412, description = "`If-Match` names a version that is no longer current", body = ScimError, content_type = "application/scim+json"),
        (status = 413, description = "The body is too large", body = ScimError, content_type = "application/scim+json"),
        (status = 415, description = "The body is not JSON", body = ScimError, content_type = "application/scim+json"),
        (status = 503, description = "The database cannot be reached", body = ScimError, content_type = "application/scim+json"),
    ),
)]
#[patch("/scim/v2/Users/{user_id}")]
pub async fn scim_user_patch(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Json(body): Json<Value>,
) -> Result<HttpResponse, Failure> {
    let attributes = patched(&body).map_err(Failure::Scim)?;
    change(&state, caller.0, &req, &path, attributes, false).await
}

/// Remove a user
///
/// Offboards the user as `DELETE /v1/users/{user_id}` does: their vault is
/// purged, company items kept as backup copies. Refused (409) when some
/// company items are not backed up: SCIM never accepts that loss, an admin
/// does.
#[utoipa::path(
    operation_id = "scim_user_delete",
    tag = "scim",
    security(("scim" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid SCIM token", body = ScimError, content_type = "application/scim+json"),
        (status = 403, description = "Denied by policy", body = ScimError, content_type = "application/scim+json"),
        (status = 404, description = "No such user in the token's company", body = ScimError, content_type = "application/scim+json"),
        (status = 409, description = "Company items of the user are not backed up: an admin offboards them", body = ScimError, content_type = "application/scim+json"),
        (status = 503, description = "The database cannot be reached", body = ScimError, content_type = "application/scim+json"),
    ),
)]
#[delete("/scim/v2/Users/{user_id}")]
pub async fn scim_user_delete(
    caller: ScimCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Failure> {
    app_scim::delete_user(&state, &caller.0, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What this service provider supports (RFC 7643 §5).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceProviderConfig {
    pub schemas: Vec<String>,
    #[schema(value_type = Object)]
    pub patch: Value,
    #[schema(value_type = Object)]
    pub bulk: Value,
    #[schema(value_type = Object)]
    pub filter: Value,
    #[schema(value_type = Object)]
    pub change_password: Value,
    #[schema(value_type = Object)]
    pub sort: Value,
    #[schema(value_type = Object)]
    pub etag: Value,
    #[schema(value_type = Vec<Object>)]
    pub authentication_schemes: Value,
}

/// What SCIM supports here
///
/// PATCH, filters (`userName eq`, `externalId eq`; 100 users a page at
/// most) and entity tags; no bulk, sorting or password changes. Public, as
/// RFC 7644 allows.
#[utoipa::path(
    operation_id = "scim_service_provider_config",
    tag = "scim",
    responses(
        (status = 200, description = "The service provider's configuration", body = ServiceProviderConfig, content_type = "application/scim+json"),
    ),
)]
#[get("/scim/v2/ServiceProviderConfig")]
pub async fn scim_service_provider_config() -> HttpResponse {
    let unsupported = serde_json::json!({ "supported": false });
    let config = ServiceProviderConfig {
        schemas: vec!["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig".into()],
        patch: serde_json::json!({ "supported": true }),
        bulk: serde_json::json!({ "supported": false, "maxOperations": 0, "maxPayloadSize": 0 }),
        filter: serde_json::json!({ "supported": true, "maxResults": MAX_COUNT }),
        change_password: unsupported.clone(),
        sort: unsupported,
        etag: serde_json::json!({ "supported": true }),
        authentication_schemes: serde_json::json!([{
            "type": "oauthbearertoken",
            "name": "SCIM token",
            "description": "A company's SCIM token (csc_…), made by an admin at POST /v1/companies/{company_id}/scim-tokens",
            "primary": true,
        }]),
    };
    scim_json(HttpResponse::Ok(), &config)
}

// ---------------------------------------------------------------- tokens

/// A company's SCIM token (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenView {
    pub id: uuid::Uuid,
    pub company_id: uuid::Uuid,
    pub name: String,
    /// The client the users the directory creates run.
    pub client_kind: ClientKind,
    /// The admin who made it.
    pub created_by: Option<uuid::Uuid>,
    pub created_at: Timestamp,
    /// Its last request, to the minute.
    pub last_used_at: Option<Timestamp>,
}

fn token_view(token: ScimToken) -> ScimTokenView {
    ScimTokenView {
        id: token.id.uuid(),
        company_id: token.company_id.uuid(),
        name: token.name,
        client_kind: token.client_kind.into(),
        created_by: token.created_by_admin_id.map(|id| id.uuid()),
        created_at: token.created_at.into(),
        last_used_at: token.last_used_at.map(Timestamp::from),
    }
}

/// A page of SCIM tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimTokenPage {
    pub items: Vec<ScimTokenView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// A new SCIM token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScimToken {
    /// E.g. the directory's name.
    pub name: Name,
    /// The client the users the directory creates run.
    pub client_kind: ClientKind,
}

/// A made SCIM token and its secret, shown only in this answer.
#[derive(Serialize, ToSchema)]
pub struct CreatedScimToken {
    pub scim_token: ScimTokenView,
    /// The bearer token the directory sends (`Authorization: Bearer
    /// csc_…`) to `/scim/v2`. Store it now: it is kept as a keyed hash, and
    /// sealed with this answer for a retry under the same `Idempotency-Key`
    /// (24 h); shown nowhere else.
    pub token: String,
}

/// Everything but the secret.
impl std::fmt::Debug for CreatedScimToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedScimToken")
            .field("scim_token", &self.scim_token)
            .finish_non_exhaustive()
    }
}

/// List a company's SCIM tokens
///
/// Oldest first; never their secrets. Owners and admins.
#[utoipa::path(
    operation_id = "scim_tokens_list",
    tag = "scim",
    security(("oauth2" = [])),
    params(
        ("company_id" = uuid::Uuid, Path, description = "The company's id"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "A page of SCIM tokens", body = ScimTokenPage),
        (status = 404, description = "No such company in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/companies/{company_id}/scim-tokens")]
pub async fn scim_tokens_list(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<web::Json<ScimTokenPage>, ApiError> {
    let (tokens, next_cursor) = app_scim::list_tokens(
        &state,
        &caller,
        &path,
        paging::after_id(query.cursor),
        query.limit,
    )
    .await?;
    let items = tokens.into_iter().map(token_view).collect();
    Ok(web::Json(ScimTokenPage { items, next_cursor }))
}

/// Make a SCIM token
///
/// For the company's directory (Entra ID, Okta, JumpCloud): it provisions
/// the company's users at `/scim/v2/Users` with it, and can never reset a
/// master password. The token is answered here only. Owners and admins;
/// 409 `company_retired` for a retired company. Retry safely with an
/// `Idempotency-Key` header (the token included; kept sealed for 24 h).
#[utoipa::path(
    operation_id = "scim_tokens_create",
    tag = "scim",
    security(("oauth2" = [])),
    params(
        ("company_id" = uuid::Uuid, Path, description = "The company's id"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: makes a retry answer the first result instead of making another token (kept 24 h)"),
    ),
    request_body = NewScimToken,
    responses(
        (status = 201, description = "Made", body = CreatedScimToken,
            headers(
                ("Location" = String, description = "The token's URL, to remove it (on the first answer)"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a retry under the same Idempotency-Key with the first result"),
            )),
        (status = 404, description = "No such company in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The company is retired (`company_retired`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/companies/{company_id}/scim-tokens")]
pub async fn scim_tokens_create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Json(new): Json<NewScimToken>,
) -> Result<HttpResponse, ApiError> {
    let new = app_scim::NewToken {
        name: new.name.into_inner(),
        client_kind: new.client_kind.into(),
    };
    let key = idempotency_key(&req)?.map(|key| Idempotency {
        key,
        fingerprint: creation_fingerprint(
            "POST /v1/companies/{company_id}/scim-tokens",
            &(
                crate::ids::CompanyId::parse(&path)
                    .map_or_else(|| path.to_string(), |id| id.to_string()),
                &new.name,
                new.client_kind.to_string(),
            ),
        ),
    });
    let render = |(token, secret): &app_scim::Created| {
        rendered(&CreatedScimToken {
            scim_token: token_view(token.clone()),
            token: secret.expose_secret().to_owned(),
        })
    };
    match app_scim::create_token(&state, &caller, &path, new, key, render).await? {
        Made::New((token, secret)) => {
            let location = format!(
                "/v1/companies/{}/scim-tokens/{}",
                token.company_id, token.id
            );
            Ok(HttpResponse::Created()
                .insert_header((header::LOCATION, location))
                .json(CreatedScimToken {
                    scim_token: token_view(token),
                    token: secret.expose_secret().to_owned(),
                }))
        }
        Made::Replayed(stored) => Ok(replay(stored)),
    }
}

/// Remove a SCIM token
///
/// The directory's requests are refused from now on. Owners and admins.
#[utoipa::path(
    operation_id = "scim_token_delete",
    tag = "scim",
    security(("oauth2" = [])),
    params(
        ("company_id" = uuid::Uuid, Path, description = "The company's id"),
        ("token_id" = uuid::Uuid, Path, description = "The token's id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such company or token in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/companies/{company_id}/scim-tokens/{token_id}")]
pub async fn scim_token_delete(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (company, token) = path.into_inner();
    app_scim::delete_token(&state, &caller, &company, &token).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_directories_send_are_read_and_others_refused() {
        let found = parse_filter(r#"userName eq "Dana@Example.COM""#).unwrap();
        assert_eq!(found.email.as_deref(), Some("dana@example.com"));
        let found = parse_filter(r#"externalid EQ "00aa-\"x\"""#).unwrap();
        assert_eq!(found.external_id.as_deref(), Some("00aa-\"x\""));
        let found = parse_filter(r#"emails[type eq "work"].value eq "a@b.example""#).unwrap();
        assert_eq!(found.email.as_deref(), Some("a@b.example"));
        for refused in [
            r#"userName co "dana""#,
            r#"userName eq "a" and externalId eq "b""#,
            "userName eq dana",
            r#"title eq "x""#,
            "",
        ] {
            let error = parse_filter(refused).unwrap_err();
            assert_eq!(
                error.scim_type.as_deref(),
                Some("invalidFilter"),
                "{refused}"
            );
        }
    }

    #[test]
    fn patches_read_as_entra_and_okta_write_them() {
        let entra = serde_json::json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "displayName", "value": "Dana Q"},
                {"op": "Add", "path": "title", "value": "Nurse"},
            ]
        });
        let attributes = patched(&entra).unwrap();
        assert_eq!(attributes.active, Some(false));
        assert_eq!(attributes.name(true).unwrap().as_deref(), Some("Dana Q"));
        let okta = serde_json::json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "value": {"active": true, "name": {"givenName": "Dana", "familyName": "Quinn"}}}]
        });
        let attributes = patched(&okta).unwrap();
        assert_eq!(attributes.active, Some(true));
        assert_eq!(
            attributes.name(true).unwrap().as_deref(),
            Some("Dana Quinn")
        );
        let half = serde_json::json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "name.familyName", "value": "Quinn"}]});
        assert_eq!(patched(&half).unwrap().name(true).unwrap(), None);
        let removal = serde_json::json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": "externalId"}]});
        assert_eq!(patched(&removal).unwrap().external_id, Some(None));
        let patch = |operations: Value| serde_json::json!({"schemas": [PATCH_SCHEMA], "Operations": operations});
        for (bad, kind) in [
            (
                patch(serde_json::json!([{"op": "move", "path": "active"}])),
                "invalidSyntax",
            ),
            (patch(serde_json::json!([])), "invalidValue"),
            (
                patch(serde_json::json!([{"op": "replace", "path": "active", "value": 3}])),
                "invalidValue",
            ),
            (patch(serde_json::json!([{"op": "remove"}])), "noTarget"),
            (
                serde_json::json!({"Operations": [{"op": "remove", "path": "externalId"}]}),
                "invalidSyntax",
            ),
            (
                serde_json::json!({"schemas": "x", "Operations": [{"op": "remove", "path": "externalId"}]}),
                "invalidSyntax",
            ),
            (serde_json::json!([]), "invalidSyntax"),
        ] {
            assert_eq!(
                patched(&bad).unwrap_err().scim_type.as_deref(),
                Some(kind),
                "{bad}"
            );
        }
    }

    #[test]
    fn user_name_is_the_email_and_never_changes() {
        let attributes = Attributes {
            user_name: Some("Dana@Example.com".into()),
            ..Default::default()
        };
        let now = crate::clock::system_now();
        let mut dana = User {
            id: crate::ids::UserId::new(),
            partner_id: crate::ids::PartnerId::new(),
            company_id: crate::ids::CompanyId::new(),
            email: "dana@example.com".into(),
            name: "Dana Quinn".into(),
            client_kind: crate::db::types::ClientKind::Desktop,
            locale: "en".into(),
            is_primary: false,
            status: UserStatus::Active,
            last_reset_at: None,
            created_at: now,
            updated_at: now,
            external_id: Some("e-1".into()),
            invitation_expires_at: None,
            version: 1,
            has_recovery_key: false,
        };
        assert!(change_of(&attributes, &dana, false).is_ok());
        // What a directory sends again changes nothing.
        let same = Attributes {
            user_name: Some("dana@example.com".into()),
            display_name: Some("Dana Quinn".into()),
            external_id: Some(Some("e-1".into())),
            language: Some("en-GB".into()),
            active: Some(true),
            ..Default::default()
        };
        let (update, active) = change_of(&same, &dana, true).unwrap();
        assert_eq!(
            (update.name, update.locale, update.external_id, active),
            (None, None, None, None)
        );
        dana.email = "other@example.com".into();
        let error = change_of(&attributes, &dana, false).unwrap_err();
        assert_eq!(error.scim_type.as_deref(), Some("mutability"));
        assert_eq!(locale_of("fr-CA").as_deref(), Some("fr"));
        assert_eq!(locale_of("pt-BR"), None);
    }

    #[test]
    fn the_token_never_reaches_debug() {
        let created = CreatedScimToken {
            scim_token: ScimTokenView {
                id: uuid::Uuid::nil(),
                company_id: uuid::Uuid::nil(),
                name: "Entra ID".into(),
                client_kind: ClientKind::Desktop,
                created_by: None,
                created_at: crate::clock::system_now().into(),
                last_used_at: None,
            },
            token: "csc_very-secret".into(),
        };
        let printed = format!("{created:?}");
        assert!(printed.contains("Entra ID") && !printed.contains("very-secret"));
    }
}
