//! The API's one error type, mapped once to an RFC 9457
//! `application/problem+json` response with a stable machine-readable `code`.
//!
//! What a client reads (`detail`, `errors`) is written for the client and never
//! carries an internal cause; the cause (`source`) goes to the log only. The
//! `request_id` and `instance` members are filled in by the request-id
//! middleware ([`crate::http::middleware`]), which sees every response.
//!
//! Rules this module keeps: anything a client sent wrong is a 4xx; a database
//! outage is a 503, never a "not found"; an object of another partner answers
//! exactly as an absent one.

use std::borrow::Cow;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type; it resolves to this problem's
    /// entry on the server's `/docs` page.
    #[serde(rename = "type")]
    #[schema(example = "/docs#problem-not_found")]
    pub type_: String,
    /// A short summary of the problem type; the same for every occurrence.
    #[schema(example = "Not found")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 404)]
    pub status: u16,
    /// Stable, machine-readable problem code: match on this.
    #[schema(example = "not_found")]
    pub code: String,
    /// What went wrong in this occurrence, for a person.
    pub detail: String,
    /// The request path this problem answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request's id, as in the `X-Request-Id` response header and the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The fields at fault, for 422 answers.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldError>,
    /// What the user's vault holds, for `company_items_not_backed_up`
    /// (retiring a company: its users' vaults, in total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault: Option<VaultCounts>,
}

/// A user's vault, counted (a reset's 409 `company_items_not_backed_up`),
/// or a company's users' vaults in total (a retirement's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct VaultCounts {
    pub personal_items: i64,
    pub company_items: i64,
    pub company_items_backed_up: i64,
    pub company_items_not_backed_up: i64,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path in the request: `name`, `items[2].profile`, or a query
    /// parameter's name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Every error the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not well-formed JSON (or not of the declared form at all).
    #[error("malformed request body: {detail}")]
    MalformedBody { detail: String },
    /// Well-formed, but a field has a value the API does not accept, or a
    /// field is missing, or a query parameter is invalid.
    #[error("invalid value for {field}: {message}")]
    InvalidValue { field: String, message: String },
    /// Well-formed, but names a field the API does not know.
    #[error("unknown field {field}")]
    UnknownField { field: String },
    /// The body is not of the media type the endpoint takes.
    #[error("unsupported media type; expected {expected}")]
    UnsupportedMediaType { expected: &'static str },
    /// The body is larger than the server accepts.
    #[error("payload over {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// No valid bearer token: missing, malformed, expired, revoked, or for
    /// another audience. One answer for all, so nothing is learned from it.
    #[error("unauthorized: {reason}")]
    Unauthorized { reason: String },
    /// The caller is known but a policy denies the action.
    #[error("forbidden by {policy_ids:?}")]
    Forbidden {
        action: &'static str,
        policy_ids: Vec<String>,
    },
    /// The caller signed in with a one-time password and must replace it
    /// before doing anything else.
    #[error("password change required")]
    PasswordChangeRequired,
    /// The request conflicts with the current state (`code` says how).
    #[error("conflict {code}: {detail}")]
    Conflict { code: &'static str, detail: String },
    /// A reset would lose company items that are not backed up, and the
    /// request did not acknowledge it.
    #[error("company items not backed up")]
    CompanyItemsNotBackedUp { counts: VaultCounts },
    /// Too many failed sign-ins: wait before trying again.
    #[error("rate limited for {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// A conditional change came without `If-Match` (RFC 6585).
    #[error("precondition required")]
    PreconditionRequired,
    /// `If-Match` names a version that is no longer current (RFC 9110).
    #[error("precondition failed")]
    PreconditionFailed,
    /// No such object, or one of another partner: the two are
    /// indistinguishable by design.
    #[error("not found")]
    NotFound,
    /// A field names objects (companies, say) that are absent, of another
    /// partner, or outside what the caller sees: the same answer for all.
    #[error("{field} names an absent object")]
    ReferenceNotFound { field: String },
    /// No route matches the request path.
    #[error("no route for {method} {path}")]
    RouteNotFound { method: Method, path: String },
    /// The route exists but not for this method.
    #[error("method {method} not allowed")]
    MethodNotAllowed {
        method: Method,
        allowed: Vec<Method>,
    },
    /// The database cannot be reached (or answered as if it could not).
    #[error("database unavailable")]
    DatabaseUnavailable(#[source] anyhow::Error),
    /// The database is reachable but its schema is behind this build.
    #[error("database migrations pending: {pending:?}")]
    MigrationsPending { pending: Vec<String> },
    /// A fault of the server's own; the cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// One entry per problem `code`: its status, title and meaning. The `/docs`
/// page publishes this table, and each `type` URI points into it.
pub struct ProblemType {
    pub code: &'static str,
    pub status: StatusCode,
    pub title: &'static str,
    pub description: &'static str,
}

/// Every problem code the API can answer with.
pub const PROBLEM_TYPES: &[ProblemType] = &[
    ProblemType {
        code: "malformed_body",
        status: StatusCode::BAD_REQUEST,
        title: "Malformed request body",
        description: "The body is not well-formed JSON. Nothing was changed.",
    },
    ProblemType {
        code: "payload_too_large",
        status: StatusCode::PAYLOAD_TOO_LARGE,
        title: "Payload too large",
        description: "The body is larger than the server accepts. Nothing was changed.",
    },
    ProblemType {
        code: "unsupported_media_type",
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        title: "Unsupported media type",
        description: "The body's Content-Type is not one the endpoint takes (JSON endpoints take application/json).",
    },
    ProblemType {
        code: "invalid_value",
        status: StatusCode::UNPROCESSABLE_ENTITY,
        title: "Invalid value",
        description: "The request is well-formed, but a field or parameter is missing or has a value the API does not accept; `errors` names it.",
    },
    ProblemType {
        code: "unknown_field",
        status: StatusCode::UNPROCESSABLE_ENTITY,
        title: "Unknown field",
        description: "The body names a field the endpoint does not know (often a typo); `errors` names it.",
    },
    ProblemType {
        code: "unauthorized",
        status: StatusCode::UNAUTHORIZED,
        title: "Unauthorized",
        description: "No valid bearer token: missing, malformed, expired, revoked or not meant for this API. Get one from POST /v1/auth/token.",
    },
    ProblemType {
        code: "forbidden",
        status: StatusCode::FORBIDDEN,
        title: "Forbidden",
        description: "The caller may not take this action; `detail` names the action and the policies that decided it.",
    },
    ProblemType {
        code: "password_change_required",
        status: StatusCode::FORBIDDEN,
        title: "Password change required",
        description: "The caller signed in with a one-time password and must set a new one first.",
    },
    ProblemType {
        code: "email_taken",
        status: StatusCode::CONFLICT,
        title: "Email taken",
        description: "Another admin of the partner, or another user of the company, already has this email.",
    },
    ProblemType {
        code: "external_id_taken",
        status: StatusCode::CONFLICT,
        title: "External id taken",
        description: "Another company of the partner, or another user of the company, already has this external_id: find it with `?external_id=` instead of creating it again.",
    },
    ProblemType {
        code: "company_has_users",
        status: StatusCode::CONFLICT,
        title: "Company has users",
        description: "The company still has users: offboard them first, or retire it with `offboard_users=true` to offboard them all in the same transaction.",
    },
    ProblemType {
        code: "company_retired",
        status: StatusCode::CONFLICT,
        title: "Company retired",
        description: "The company is retired: it takes no more users or changes, and is removed once the last backup copy of its items expires.",
    },
    ProblemType {
        code: "user_disabled",
        status: StatusCode::CONFLICT,
        title: "User disabled",
        description: "The user is disabled: enable them first (`POST /v1/users/{user_id}/enable`).",
    },
    ProblemType {
        code: "user_not_invited",
        status: StatusCode::CONFLICT,
        title: "User not invited",
        description: "The user already accepted their invitation (or is no longer invited): there is nothing to send again.",
    },
    ProblemType {
        code: "owner_not_invited",
        status: StatusCode::CONFLICT,
        title: "No owner invited",
        description: "Every owner of the partner has accepted their invitation: there is nothing to send again.",
    },
    ProblemType {
        code: "admin_not_invited",
        status: StatusCode::CONFLICT,
        title: "Admin not invited",
        description: "The admin already accepted their invitation: there is nothing to send again.",
    },
    ProblemType {
        code: "primary_user_exists",
        status: StatusCode::CONFLICT,
        title: "Primary user exists",
        description: "The company already has a primary user; a company has at most one.",
    },
    ProblemType {
        code: "last_owner",
        status: StatusCode::CONFLICT,
        title: "Last owner",
        description: "A partner keeps at least one owner: the last one cannot be removed or demoted.",
    },
    ProblemType {
        code: "stale_revision",
        status: StatusCode::CONFLICT,
        title: "Stale revision",
        description: "The vault item changed since the revision the request names; read it again and reapply the change.",
    },
    ProblemType {
        code: "company_items_not_backed_up",
        status: StatusCode::CONFLICT,
        title: "Company items not backed up",
        description: "A reset would delete company items that have no backup copy of their current revision; `vault` counts them. Back them up first, or repeat the request with `acknowledge_company_data_loss: true`.",
    },
    ProblemType {
        code: "reset_pending",
        status: StatusCode::CONFLICT,
        title: "Reset pending",
        description: "The user already has a pending reset, which this request does not name in `supersedes` (a double click, a second admin, a racing integration); nothing was done. Re-issue the pending reset to resend its email, or name it in `supersedes` to replace it.",
    },
    ProblemType {
        code: "reset_not_pending",
        status: StatusCode::CONFLICT,
        title: "Reset not pending",
        description: "Only a pending or expired reset is re-issued; this one was completed or superseded. Start a new reset if the user still needs one.",
    },
    ProblemType {
        code: "reset_awaiting_approval",
        status: StatusCode::CONFLICT,
        title: "Reset awaiting approval",
        description: "A reset of the user already waits for a second admin's approval; nothing was done. Approve or reject that one first.",
    },
    ProblemType {
        code: "reset_not_awaiting_approval",
        status: StatusCode::CONFLICT,
        title: "Reset not awaiting approval",
        description: "Only a reset awaiting approval is approved or rejected; this one was already decided, or its approval expired. Nothing was done.",
    },
    ProblemType {
        code: "no_approver",
        status: StatusCode::CONFLICT,
        title: "No approver",
        description: "Policy asks a second admin to approve this reset, and no other admin of the partner may approve it; nothing was done. Add an admin who may, or change the policy.",
    },
    ProblemType {
        code: "reset_request_stale",
        status: StatusCode::CONFLICT,
        title: "Reset request stale",
        description: "The reset this request was to replace is no longer pending (the user finished it, say); approving would purge what the user has since. Nothing was done: reject the request, and ask again if the user still needs a reset.",
    },
    ProblemType {
        code: "batch_finished",
        status: StatusCode::CONFLICT,
        title: "Batch finished",
        description: "Every user of the batch already has an outcome, so there is nothing left to cancel.",
    },
    ProblemType {
        code: "rate_limited",
        status: StatusCode::TOO_MANY_REQUESTS,
        title: "Rate limited",
        description: "Too many failed sign-ins; wait the Retry-After delay. A success clears the count.",
    },
    ProblemType {
        code: "precondition_failed",
        status: StatusCode::PRECONDITION_FAILED,
        title: "Precondition failed",
        description: "If-Match names a version that is no longer current: someone changed it since you read it. Read it again (GET), reapply your change, and send the new ETag.",
    },
    ProblemType {
        code: "precondition_required",
        status: StatusCode::PRECONDITION_REQUIRED,
        title: "Precondition required",
        description: "This change needs an If-Match header with the ETag of the version you read, so that it cannot overwrite a change you have not seen.",
    },
    ProblemType {
        code: "not_found",
        status: StatusCode::NOT_FOUND,
        title: "Not found",
        description: "No such route, or no such object visible to the caller. An object of another partner answers exactly like an absent one.",
    },
    ProblemType {
        code: "method_not_allowed",
        status: StatusCode::METHOD_NOT_ALLOWED,
        title: "Method not allowed",
        description: "The route exists, but not for this method; the Allow header lists the methods it takes.",
    },
    ProblemType {
        code: "database_unavailable",
        status: StatusCode::SERVICE_UNAVAILABLE,
        title: "Database unavailable",
        description: "The database cannot be reached. Nothing was changed; retry after the Retry-After delay.",
    },
    ProblemType {
        code: "migrations_pending",
        status: StatusCode::SERVICE_UNAVAILABLE,
        title: "Database migrations pending",
        description: "The database schema is older than this server; run `custodian migrate` (the server applies migrations at start).",
    },
    ProblemType {
        code: "internal",
        status: StatusCode::INTERNAL_SERVER_ERROR,
        title: "Internal error",
        description: "A fault of the server's own. The request id finds its cause in the server's log.",
    },
];

/// Seconds a client should wait before retrying a 503.
const RETRY_AFTER_SECONDS: &str = "5";

impl ApiError {
    /// The stable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedBody { .. } => "malformed_body",
            Self::InvalidValue { .. } => "invalid_value",
            Self::UnknownField { .. } => "unknown_field",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Conflict { code, .. } => code,
            Self::CompanyItemsNotBackedUp { .. } => "company_items_not_backed_up",
            Self::Forbidden { .. } => "forbidden",
            Self::PasswordChangeRequired => "password_change_required",
            Self::RateLimited { .. } => "rate_limited",
            Self::PreconditionRequired => "precondition_required",
            Self::PreconditionFailed => "precondition_failed",
            Self::NotFound | Self::RouteNotFound { .. } | Self::ReferenceNotFound { .. } => {
                "not_found"
            }
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::DatabaseUnavailable(_) => "database_unavailable",
            Self::MigrationsPending { .. } => "migrations_pending",
            Self::Internal(_) => "internal",
        }
    }

    /// A field or parameter with a value the API does not accept (422).
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidValue {
            field: field.into(),
            message: message.into(),
        }
    }

    /// 429: wait `wait` (rounded up to whole seconds, at least one).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self::RateLimited {
            retry_after_seconds: seconds.max(1),
        }
    }

    /// Wraps any fault of the server's own.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    /// The message for the client: never an internal cause.
    fn detail(&self) -> Cow<'static, str> {
        match self {
            Self::MalformedBody { detail } => {
                format!("The request body is not valid JSON: {detail}.").into()
            }
            Self::InvalidValue { field, message } => {
                format!("Invalid value for `{field}`: {message}.").into()
            }
            Self::UnknownField { field } => format!("Unknown field `{field}`.").into(),
            Self::UnsupportedMediaType { expected } => {
                format!("This endpoint takes a body of type {expected}.").into()
            }
            Self::PayloadTooLarge { limit } => {
                format!("The request body is larger than the limit of {limit} bytes.").into()
            }
            Self::Unauthorized { .. } => "A valid bearer token is required.".into(),
            Self::Forbidden { action, policy_ids } => {
                if policy_ids.is_empty() {
                    format!("{action} is not permitted to the caller (no policy permits it).")
                        .into()
                } else {
                    format!("{action} is denied by policy {}.", policy_ids.join(", ")).into()
                }
            }
            Self::PasswordChangeRequired => {
                "Set a new password first: this token allows only that.".into()
            }
            Self::Conflict { detail, .. } => format!("{detail}.").into(),
            Self::CompanyItemsNotBackedUp { counts } => format!(
                "{} of {} company items have no backup copy of their current revision and \
                 would be lost; back them up first, or acknowledge the loss with \
                 acknowledge_company_data_loss set to true.",
                counts.company_items_not_backed_up, counts.company_items
            )
            .into(),
            Self::RateLimited {
                retry_after_seconds,
            } => format!("Too many failed sign-ins; retry in {retry_after_seconds} s.").into(),
            Self::PreconditionRequired => {
                "Send If-Match with the ETag of the version you read.".into()
            }
            Self::PreconditionFailed => {
                "The object changed since the version If-Match names; read it again.".into()
            }
            Self::NotFound => "No such object.".into(),
            Self::ReferenceNotFound { field } => {
                format!("`{field}` names an object that does not exist.").into()
            }
            Self::RouteNotFound { method, path } => format!("No route for {method} {path}.").into(),
            Self::MethodNotAllowed { method, allowed } => {
                let allowed: Vec<&str> = allowed.iter().map(Method::as_str).collect();
                format!(
                    "{method} is not allowed here; allowed: {}.",
                    allowed.join(", ")
                )
                .into()
            }
            Self::DatabaseUnavailable(_) => {
                "The database is unavailable; try again shortly.".into()
            }
            Self::MigrationsPending { pending } => format!(
                "The database schema is behind this server: {} migration(s) pending.",
                pending.len()
            )
            .into(),
            Self::Internal(_) => {
                "The server failed to handle this request; the request id finds it in the log."
                    .into()
            }
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Self::InvalidValue { field, message } => vec![FieldError {
                field: field.clone(),
                message: message.clone(),
            }],
            Self::UnknownField { field } => vec![FieldError {
                field: field.clone(),
                message: "unknown field".into(),
            }],
            Self::ReferenceNotFound { field } => vec![FieldError {
                field: field.clone(),
                message: "names an object that does not exist".into(),
            }],
            _ => Vec::new(),
        }
    }

    /// The problem object for this error, without the per-request members.
    pub fn problem(&self) -> Problem {
        let kind = problem_type(self.code());
        Problem {
            type_: problem_type_uri(kind.code),
            title: kind.title.to_owned(),
            status: kind.status.as_u16(),
            code: kind.code.to_owned(),
            detail: self.detail().into_owned(),
            instance: None,
            request_id: None,
            errors: self.field_errors(),
            vault: match self {
                Self::CompanyItemsNotBackedUp { counts } => Some(*counts),
                _ => None,
            },
        }
    }
}

/// Storage failures: 503 while the database cannot be reached, otherwise a
/// fault of the server's own.
impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        match error {
            crate::db::DbError::Unavailable(_) => ApiError::DatabaseUnavailable(error.into()),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl crate::db::StorageFailure for ApiError {
    fn storage(&self) -> Option<crate::db::Storage> {
        match self {
            ApiError::DatabaseUnavailable(_) => Some(crate::db::Storage::Unavailable),
            ApiError::Internal(_) => Some(crate::db::Storage::Failed),
            _ => None,
        }
    }
}

/// What an operation refused with, as the API answers it: the one place
/// the domain's errors meet HTTP.
impl From<crate::app::Error> for ApiError {
    fn from(error: crate::app::Error) -> Self {
        use crate::app::Error;
        match error {
            Error::NotFound => ApiError::NotFound,
            Error::Unauthorized { reason } => ApiError::Unauthorized { reason },
            Error::RateLimited { wait } => ApiError::rate_limited(wait),
            Error::PasswordChangeRequired => ApiError::PasswordChangeRequired,
            Error::ReferenceNotFound { field } => ApiError::ReferenceNotFound { field },
            Error::Forbidden { action, policy_ids } => ApiError::Forbidden { action, policy_ids },
            Error::Invalid { field, message } => ApiError::InvalidValue { field, message },
            Error::Conflict { code, detail } => ApiError::Conflict { code, detail },
            Error::CompanyItemsNotBackedUp { vault } => ApiError::CompanyItemsNotBackedUp {
                counts: VaultCounts {
                    personal_items: vault.personal_items,
                    company_items: vault.company_items,
                    company_items_backed_up: vault.company_items_backed_up,
                    company_items_not_backed_up: vault.company_items_not_backed_up(),
                },
            },
            Error::PreconditionRequired => ApiError::PreconditionRequired,
            Error::PreconditionFailed => ApiError::PreconditionFailed,
            Error::Storage(error) => error.into(),
        }
    }
}

/// The `type` URI of a problem code: its entry on the `/docs` page.
pub fn problem_type_uri(code: &str) -> String {
    format!("/docs#problem-{code}")
}

/// The registered problem type of a code.
///
/// # Panics
/// On a code missing from [`PROBLEM_TYPES`], which a unit test rules out.
pub fn problem_type(code: &str) -> &'static ProblemType {
    PROBLEM_TYPES
        .iter()
        .find(|p| p.code == code)
        .unwrap_or_else(|| panic!("problem code {code} is not in PROBLEM_TYPES"))
}

/// The problem for a bare status that no handler described (for example the
/// 405 that actix answers for a known path with another method).
pub fn problem_for_status(status: StatusCode) -> Problem {
    let title = status.canonical_reason().unwrap_or("Error").to_owned();
    let code = title.to_lowercase().replace([' ', '-'], "_");
    Problem {
        type_: "about:blank".into(),
        title: title.clone(),
        status: status.as_u16(),
        code,
        detail: title,
        instance: None,
        request_id: None,
        errors: Vec::new(),
        vault: None,
    }
}

/// Builds a problem+json response, keeping the [`Problem`] in the response's
/// extensions so the middleware can add the request's id and path.
pub fn problem_response(problem: Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&problem).expect("a problem serializes");
    let mut response = HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .body(body);
    response.extensions_mut().insert(problem);
    response
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        problem_type(self.code()).status
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // The whole cause chain goes to the log, under the request's span.
            tracing::error!(code = self.code(), error = ?anyhow_chain(self), "request failed");
        } else {
            tracing::debug!(code = self.code(), error = %self, "request rejected");
        }
        let mut response = problem_response(self.problem());
        let headers = response.headers_mut();
        match self {
            Self::Unauthorized { .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"custodian\""),
                );
            }
            Self::MethodNotAllowed { allowed, .. } => {
                let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
                if let Ok(value) = header::HeaderValue::from_str(&allow.join(", ")) {
                    headers.insert(header::ALLOW, value);
                }
            }
            Self::RateLimited {
                retry_after_seconds,
            } => {
                if let Ok(value) = header::HeaderValue::from_str(&retry_after_seconds.to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            Self::DatabaseUnavailable(_) | Self::MigrationsPending { .. } => {
                headers.insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from_static(RETRY_AFTER_SECONDS),
                );
            }
            _ => {}
        }
        response
    }
}

/// The error and its sources, outermost first, for the log.
fn anyhow_chain(error: &ApiError) -> Vec<String> {
    let mut chain = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        chain.push(cause.to_string());
        source = cause.source();
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<ApiError> {
        vec![
            ApiError::MalformedBody { detail: "x".into() },
            ApiError::InvalidValue {
                field: "f".into(),
                message: "m".into(),
            },
            ApiError::UnknownField { field: "f".into() },
            ApiError::UnsupportedMediaType {
                expected: "application/json",
            },
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::Unauthorized {
                reason: "secret cause".into(),
            },
            ApiError::Forbidden {
                action: "updatePartner",
                policy_ids: vec!["p".into()],
            },
            ApiError::PasswordChangeRequired,
            ApiError::Conflict {
                code: "last_owner",
                detail: "d".into(),
            },
            ApiError::NotFound,
            ApiError::RouteNotFound {
                method: Method::GET,
                path: "/x".into(),
            },
            ApiError::MethodNotAllowed {
                method: Method::PUT,
                allowed: vec![Method::GET],
            },
            ApiError::DatabaseUnavailable(anyhow::anyhow!("secret cause")),
            ApiError::MigrationsPending {
                pending: vec!["m".into()],
            },
            ApiError::Internal(anyhow::anyhow!("secret cause")),
        ]
    }

    #[test]
    fn every_code_is_registered_once() {
        for error in every_variant() {
            let _ = problem_type(error.code());
        }
        let mut codes: Vec<_> = PROBLEM_TYPES.iter().map(|p| p.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), PROBLEM_TYPES.len());
    }

    #[test]
    fn causes_never_reach_the_client() {
        for error in every_variant() {
            let body = serde_json::to_string(&error.problem()).unwrap();
            assert!(!body.contains("secret cause"), "{body}");
        }
    }

    #[test]
    fn only_server_faults_are_5xx() {
        for error in every_variant() {
            let server_side = matches!(
                error,
                ApiError::DatabaseUnavailable(_)
                    | ApiError::MigrationsPending { .. }
                    | ApiError::Internal(_)
            );
            assert_eq!(
                error.status_code().is_server_error(),
                server_side,
                "{error:?}"
            );
        }
    }
}
