//! `POST /v1/auth/token` (RFC 6749) and `GET /.well-known/jwks.json`.
//!
//! The token endpoint speaks OAuth 2.0 so that ordinary OAuth client
//! libraries work: a form-encoded body (JSON is accepted too), and on failure
//! the RFC 6749 §5.2 error body (`{"error": "invalid_grant", …}`), not a
//! problem: the one place in the API that answers errors otherwise. A wrong
//! password and an unknown email answer alike, after the same argon2 work.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::net::IpAddr;

use crate::auth::tokens::{SCOPE_ADMIN, SCOPE_OPERATOR, SCOPE_PASSWORD_CHANGE};
use crate::domain::Email;
use crate::error::ApiError;
use crate::http::contract::CLIENT_SCOPES;
use crate::http::extract::{BodyLimit, decode_json, decode_query, read_body};
use crate::http::{AppState, client_address, request_id};
use crate::ids::{ApiClientId, OperatorClientId, PartnerId};

/// A grant type this endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// An admin's email and password (RFC 6749 §4.3).
    Password,
    /// An API client's id and secret (RFC 6749 §4.4).
    ClientCredentials,
}

/// A token request (RFC 6749 §4.3 and §4.4).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// `password` for admins (and, at `/v1/operator/token`, the operator's
    /// staff); `client_credentials` for API clients (and the operator's).
    /// Any other is refused with `unsupported_grant_type`.
    #[schema(value_type = GrantType, example = "password")]
    pub grant_type: String,
    /// The admin's partner (`password` grant): an email is unique within a
    /// partner, so sign-in names both.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub partner_id: Option<String>,
    /// The admin's email (`password` grant).
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub username: Option<String>,
    /// The admin's password (`password` grant).
    #[schema(value_type = Option<String>, format = Password, max_length = 1024)]
    pub password: Option<SecretString>,
    /// The API client's id (`client_credentials` grant, or HTTP Basic): a
    /// partner's client at `/v1/auth/token`, the operator's at
    /// `/v1/operator/token`.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub client_id: Option<String>,
    /// The API client's secret (`client_credentials` grant, or HTTP Basic).
    #[schema(value_type = Option<String>, format = Password, max_length = 1024)]
    pub client_secret: Option<SecretString>,
    /// The scopes wanted, space-separated (RFC 6749 §3.3); left out, all the
    /// caller holds. An API client asks for a subset of its scopes; an admin
    /// for `admin` or `password:change` (a token that may only change the
    /// password). A scope the caller does not hold, or that does not exist,
    /// is `invalid_scope`.
    #[schema(max_length = 1024, example = "users:read resets:write")]
    pub scope: Option<String>,
}

/// An issued access token (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until it expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// An admin's: `admin`, or `password:change` when the admin must first
    /// replace a one-time password (the token then allows only that). An API
    /// client's: its scopes, space-separated.
    #[schema(example = "admin")]
    pub scope: String,
}

/// Everything but the token itself.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// An OAuth 2.0 error (RFC 6749 §5.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unsupported_grant_type`, `invalid_scope` (RFC 6749 §5.2),
    /// `rate_limited` (429), `temporarily_unavailable` (503) or
    /// `server_error` (500).
    #[schema(example = "invalid_grant")]
    pub error: String,
    /// For a person.
    pub error_description: String,
}

/// An issued token's answer: never cached (RFC 6749 §5.1).
fn issued(access_token: String, expires_in: i64, scope: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            scope,
        })
}

fn oauth_error(error: &str, description: &str) -> HttpResponse {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    oauth_error_with(status, error, description)
}

/// An RFC 6749 error body with `status`: everything this endpoint answers
/// is in that form, so OAuth client libraries read every failure.
fn oauth_error_with(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(OAuthError {
            error: error.into(),
            error_description: description.into(),
        })
}

/// A failure of the server's side, in the endpoint's own error form: 503
/// `temporarily_unavailable` (with `Retry-After`) for a database outage,
/// 500 `server_error` otherwise (its cause goes to the log only).
fn unavailable(error: ApiError) -> HttpResponse {
    if let ApiError::DatabaseUnavailable(cause) = &error {
        tracing::warn!(error = %cause, "token endpoint: database unavailable");
        let mut response = oauth_error_with(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the database is unavailable; retry shortly",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return response;
    }
    tracing::error!(error = %error, "token endpoint failed");
    oauth_error_with(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the server failed; the request id finds the cause in its log",
    )
}

/// Reads and parses a token request's body; a refusal is answered in RFC
/// 6749's error form.
async fn read_request(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<TokenRequest, HttpResponse> {
    let limit = req.app_data::<BodyLimit>().copied().unwrap_or_default().0;
    let body = match read_body(req, payload.into_inner(), limit).await {
        Ok(body) => body,
        Err(ApiError::PayloadTooLarge { limit }) => {
            return Err(oauth_error_with(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                &format!("the body is larger than {limit} bytes"),
            ));
        }
        Err(_) => {
            return Err(oauth_error(
                "invalid_request",
                "the body could not be read to its end",
            ));
        }
    };
    parse(req, &body).map_err(|description| oauth_error("invalid_request", &description))
}

/// Reads the body as a form (RFC 6749) or as JSON.
fn parse(req: &HttpRequest, body: &[u8]) -> Result<TokenRequest, String> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    // The API's own decoders: they name the field at fault and never repeat
    // the value sent (it may be a password). A form is a query string.
    let decoded = match content_type.as_str() {
        "application/x-www-form-urlencoded" => {
            let form = std::str::from_utf8(body).map_err(|_| "the form is not UTF-8".to_owned())?;
            decode_query::<TokenRequest>(form)
        }
        "application/json" => decode_json::<TokenRequest>(body),
        _ => return Err("send application/x-www-form-urlencoded (or application/json)".into()),
    };
    decoded.map_err(|error| format!("not a token request: {error}"))
}

/// Get an access token
///
/// OAuth 2.0 token endpoint. `grant_type=password` signs an admin in with
/// the partner (`partner_id`), email (`username`) and password; `client_credentials` is for API clients,
/// with `client_id` and `client_secret` in the body or as HTTP Basic (not
/// both). The body is a form, as RFC 6749 asks; a JSON object with the same
/// members is accepted too. Every error, this endpoint's own or the
/// server's, is an RFC 6749 error body (`error`, `error_description`), not a
/// problem.
#[utoipa::path(
    operation_id = "token_create",
    tag = "authentication",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token", body = TokenResponse),
        (status = 400, description = "A malformed request (`invalid_request`), a wrong email or password (`invalid_grant`), an unsupported grant (`unsupported_grant_type`) or scope (`invalid_scope`)",
            body = OAuthError),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = OAuthError),
        (status = 413, description = "The body is larger than the server accepts (`invalid_request`)", body = OAuthError),
        (status = 429, description = "Too many failed sign-ins: wait `Retry-After` seconds (`rate_limited`)", body = OAuthError),
        (status = 503, description = "The database is unavailable: retry after `Retry-After` seconds (`temporarily_unavailable`)", body = OAuthError,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
#[post("/v1/auth/token")]
pub async fn token_create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request = match read_request(&req, payload).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let scope = match RequestedScope::parse(request.scope.as_deref()) {
        Ok(scope) => scope,
        Err(description) => return oauth_error("invalid_scope", &description),
    };
    let address = client_address(&req);
    let answered = match request.grant_type.as_str() {
        "password" => password_grant(request, scope, &state, request_id(&req), address).await,
        "client_credentials" => {
            client_credentials_grant(&req, request, scope, &state, request_id(&req), address).await
        }
        _ => Ok(oauth_error(
            "unsupported_grant_type",
            "grant_type must be password or client_credentials",
        )),
    };
    answered.unwrap_or_else(unavailable)
}

/// Get an operator's access token
///
/// The platform operator's OAuth 2.0 token endpoint: `grant_type=password`
/// with the operator's email (`username`) and password, and no partner; or,
/// for the operator's API clients (the vendor's automation),
/// `grant_type=client_credentials` with their id and secret. Its
/// token has another audience (`custodian:operator`, scope `operator`): it
/// opens the partners' management (`/v1/partners`) and nothing inside a
/// partner. A form, or a JSON object with the same members; every error is
/// an RFC 6749 error body.
#[utoipa::path(
    operation_id = "operator_token_create",
    tag = "platform",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token", body = TokenResponse),
        (status = 400, description = "A malformed request (`invalid_request`), a wrong email or password (`invalid_grant`), or an unsupported grant (`unsupported_grant_type`) or scope (`invalid_scope`)",
            body = OAuthError),
        (status = 401, description = "An operator's client: its authentication failed (`invalid_client`)", body = OAuthError),
        (status = 413, description = "The body is larger than the server accepts (`invalid_request`)", body = OAuthError),
        (status = 429, description = "Too many failed sign-ins: wait `Retry-After` seconds (`rate_limited`)", body = OAuthError),
        (status = 503, description = "The database is unavailable: retry after `Retry-After` seconds (`temporarily_unavailable`)", body = OAuthError,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
#[post("/v1/operator/token")]
pub async fn operator_token_create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request = match read_request(&req, payload).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    if !matches!(
        request.grant_type.as_str(),
        "password" | "client_credentials"
    ) {
        return oauth_error(
            "unsupported_grant_type",
            "an operator signs in with grant_type=password, its API clients with \
             client_credentials",
        );
    }
    if request
        .scope
        .as_deref()
        .is_some_and(|scope| !scope.trim().is_empty() && scope.trim() != SCOPE_OPERATOR)
    {
        return oauth_error(
            "invalid_scope",
            "an operator's token has the scope operator",
        );
    }
    if request.grant_type == "client_credentials" {
        return operator_client_grant(&req, request, &state)
            .await
            .unwrap_or_else(unavailable);
    }
    let (None, None, None, Some(username), Some(password)) = (
        request.partner_id,
        request.client_id,
        request.client_secret,
        request.username,
        request.password,
    ) else {
        return oauth_error(
            "invalid_request",
            "an operator signs in with username and password only (no partner_id, no client)",
        );
    };
    let Ok(email) = Email::parse(&username) else {
        return oauth_error("invalid_request", "username must be an email address");
    };
    let signed_in = crate::app::platform::sign_in(
        &state.app,
        email,
        password,
        request_id(&req),
        client_address(&req),
    )
    .await;
    let operator = match signed_in {
        Ok(Some(operator)) => operator,
        Ok(None) => return oauth_error("invalid_grant", "the email or the password is wrong"),
        Err(crate::app::Error::RateLimited { wait }) => return rate_limited(wait),
        Err(error) => return unavailable(error.into()),
    };
    let (access_token, expires_in) =
        state
            .tokens
            .issue_operator(&operator.id.to_string(), operator.token_generation, false);
    issued(access_token, expires_in, SCOPE_OPERATOR.into())
}

/// The operator's `client_credentials` grant: one of its API clients, by
/// its id and secret (in the body or HTTP Basic), with no partner and no
/// username; throttled and audited as a partner's client's sign-in is.
async fn operator_client_grant(
    req: &HttpRequest,
    request: TokenRequest,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    if request.partner_id.is_some() || request.username.is_some() || request.password.is_some() {
        return Ok(oauth_error(
            "invalid_request",
            "an operator's client signs in with its client_id and client_secret only",
        ));
    }
    let credentials = match client_credentials(req, request) {
        Ok(credentials) => credentials,
        Err(unusable) => return Ok(unusable.response()),
    };
    let Some(id) = OperatorClientId::parse(credentials.id.trim()) else {
        return Ok(client_refused(
            credentials.basic,
            "the client id or the secret is wrong",
        ));
    };
    let signed_in = crate::app::platform::client_sign_in(
        &state.app,
        id,
        credentials.secret,
        request_id(req),
        client_address(req),
    )
    .await;
    let client = match signed_in {
        Ok(Some(client)) => client,
        Ok(None) => {
            return Ok(client_refused(
                credentials.basic,
                "the client id or the secret is wrong",
            ));
        }
        Err(crate::app::Error::RateLimited { wait }) => return Ok(rate_limited(wait)),
        Err(error) => return Err(error.into()),
    };
    let (access_token, expires_in) = state.tokens.issue_operator(&client.id.to_string(), 0, true);
    Ok(issued(access_token, expires_in, SCOPE_OPERATOR.into()))
}

/// The scopes a token request asks for: `None` for all the caller holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RequestedScope(Option<Vec<String>>);

impl RequestedScope {
    /// Every scope named must be one the API knows (an admin's or a
    /// client's); whether the caller holds it is decided once it has
    /// proved who it is.
    fn parse(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw.map(str::trim).filter(|raw| !raw.is_empty()) else {
            return Ok(Self(None));
        };
        let mut scopes: Vec<String> = Vec::new();
        for scope in raw.split(' ').filter(|s| !s.is_empty()) {
            let known = scope == SCOPE_ADMIN
                || scope == SCOPE_PASSWORD_CHANGE
                || CLIENT_SCOPES.iter().any(|(name, _)| *name == scope);
            if !known {
                return Err("the scope names a scope that does not exist".into());
            }
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        Ok(Self(Some(scopes)))
    }

    /// The admin's token scope, given what its password allows.
    fn for_admin(&self, must_change_password: bool) -> Result<&'static str, &'static str> {
        let allowed: &[&'static str] = if must_change_password {
            &[SCOPE_PASSWORD_CHANGE]
        } else {
            &[SCOPE_ADMIN, SCOPE_PASSWORD_CHANGE]
        };
        match self.0.as_deref() {
            None => Ok(allowed[0]),
            Some([one]) => allowed
                .iter()
                .find(|a| **a == one.as_str())
                .copied()
                .ok_or("this account may not have that scope"),
            Some(_) => Err("an admin's token has one scope: admin or password:change"),
        }
    }

    /// The client's token scopes: the subset asked for, in the client's own
    /// order, or all of them.
    fn for_client(&self, held: &[String]) -> Result<Vec<String>, &'static str> {
        match &self.0 {
            None => Ok(held.to_vec()),
            Some(wanted) if wanted.iter().all(|w| held.contains(w)) => Ok(held
                .iter()
                .filter(|h| wanted.contains(h))
                .cloned()
                .collect()),
            Some(_) => Err("the client does not hold every scope asked for"),
        }
    }
}

/// 429 with `Retry-After`, in the RFC 6749 error form of this endpoint.
fn rate_limited(wait: std::time::Duration) -> HttpResponse {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HttpResponse::TooManyRequests()
        .insert_header((header::RETRY_AFTER, seconds.max(1).to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(OAuthError {
            error: "rate_limited".into(),
            error_description: format!("too many failed sign-ins; retry in {} s", seconds.max(1)),
        })
}

async fn password_grant(
    request: TokenRequest,
    requested: RequestedScope,
    state: &AppState,
    request_id: Option<String>,
    address: Option<IpAddr>,
) -> Result<HttpResponse, ApiError> {
    let (Some(partner), Some(username), Some(password)) =
        (request.partner_id, request.username, request.password)
    else {
        return Ok(oauth_error(
            "invalid_request",
            "the password grant needs partner_id, username and password",
        ));
    };
    let Some(partner) = PartnerId::parse(partner.trim()) else {
        return Ok(oauth_error("invalid_request", "partner_id must be a UUID"));
    };
    // The sign-in name is an email; anything else is refused before it can
    // reach the throttle or the audit log.
    let Ok(email) = Email::parse(&username) else {
        return Ok(oauth_error(
            "invalid_request",
            "username must be an email address",
        ));
    };
    let signed_in =
        crate::app::sign_in::admin(&state.app, partner, email, password, request_id, address).await;
    let admin = match signed_in {
        Ok(Some(admin)) => admin,
        Ok(None) => {
            return Ok(oauth_error(
                "invalid_grant",
                "the email or the password is wrong",
            ));
        }
        Err(crate::app::Error::RateLimited { wait }) => return Ok(rate_limited(wait)),
        Err(error) => return Err(error.into()),
    };
    let scope = match requested.for_admin(admin.must_change_password) {
        Ok(scope) => scope,
        Err(description) => return Ok(oauth_error("invalid_scope", description)),
    };
    let (access_token, expires_in) = state.tokens.issue_admin(
        &admin.id.to_string(),
        &admin.partner_id.to_string(),
        admin.token_generation,
        scope,
    );
    Ok(issued(access_token, expires_in, scope.into()))
}

/// The client's credentials: from HTTP Basic (RFC 6749 §2.3.1: each part
/// form-urlencoded) or from the body, never both.
struct ClientCredentials {
    id: String,
    secret: SecretString,
    /// Sent with HTTP Basic: a refusal then carries `WWW-Authenticate`.
    basic: bool,
}

/// Why a `client_credentials` request carries no usable credentials.
enum Unusable {
    /// Both HTTP Basic and body credentials.
    Both,
    /// Missing or malformed; `basic` when HTTP Basic was tried.
    Refused {
        basic: bool,
        description: &'static str,
    },
}

impl Unusable {
    fn response(self) -> HttpResponse {
        match self {
            Self::Both => oauth_error(
                "invalid_request",
                "send the client's credentials either with HTTP Basic or in the body, not both",
            ),
            Self::Refused { basic, description } => client_refused(basic, description),
        }
    }
}

fn client_credentials(
    req: &HttpRequest,
    request: TokenRequest,
) -> Result<ClientCredentials, Unusable> {
    use base64::Engine;
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim().to_owned());
    let from_body = request.client_id.is_some() || request.client_secret.is_some();
    match (basic, from_body) {
        (Some(_), true) => Err(Unusable::Both),
        (Some(encoded), false) => {
            let refused = || Unusable::Refused {
                basic: true,
                description: "the Authorization header is not HTTP Basic credentials",
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| refused())?;
            let decoded = String::from_utf8(decoded).map_err(|_| refused())?;
            let (id, secret) = decoded.split_once(':').ok_or_else(refused)?;
            let form_decode = |part: &str| {
                percent_encoding::percent_decode_str(&part.replace('+', " "))
                    .decode_utf8()
                    .map(|s| s.into_owned())
                    .map_err(|_| refused())
            };
            Ok(ClientCredentials {
                id: form_decode(id)?,
                secret: SecretString::from(form_decode(secret)?),
                basic: true,
            })
        }
        (None, _) => match (request.client_id, request.client_secret) {
            (Some(id), Some(secret)) => Ok(ClientCredentials {
                id,
                secret,
                basic: false,
            }),
            _ => Err(Unusable::Refused {
                basic: false,
                description: "the client_credentials grant needs client_id and client_secret (or HTTP Basic)",
            }),
        },
    }
}

/// 401 `invalid_client`; with HTTP Basic, the challenge RFC 6749 §5.2 asks for.
fn client_refused(basic: bool, description: &str) -> HttpResponse {
    let mut response = oauth_error("invalid_client", description);
    if basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"custodian\""),
        );
    }
    response
}

/// The `client_credentials` grant: an HMAC comparison, no argon2, so
/// integrations sign in at database speed (docs/design.md, "Which hash for which
/// secret"). Failures are throttled per client id and per address, as
/// admins' are.
async fn client_credentials_grant(
    req: &HttpRequest,
    request: TokenRequest,
    requested: RequestedScope,
    state: &AppState,
    request_id: Option<String>,
    address: Option<IpAddr>,
) -> Result<HttpResponse, ApiError> {
    let credentials = match client_credentials(req, request) {
        Ok(credentials) => credentials,
        Err(unusable) => return Ok(unusable.response()),
    };
    // A client id is a UUID; anything else is refused before it can reach
    // the throttle or the audit log.
    let Some(id) = ApiClientId::parse(credentials.id.trim()) else {
        return Ok(client_refused(
            credentials.basic,
            "the client id or the secret is wrong",
        ));
    };
    let signed_in =
        crate::app::sign_in::api_client(&state.app, id, credentials.secret, request_id, address)
            .await;
    let client = match signed_in {
        Ok(Some(client)) => client,
        Ok(None) => {
            return Ok(client_refused(
                credentials.basic,
                "the client id or the secret is wrong",
            ));
        }
        Err(crate::app::Error::RateLimited { wait }) => return Ok(rate_limited(wait)),
        Err(error) => return Err(error.into()),
    };
    let scopes = match requested.for_client(&client.scope_list()) {
        Ok(scopes) => scopes.join(" "),
        Err(description) => return Ok(oauth_error("invalid_scope", description)),
    };
    let (access_token, expires_in) = state.tokens.issue_api_client(
        &client.id.to_string(),
        &client.partner_id.to_string(),
        client.token_generation,
        &scopes,
    );
    Ok(issued(access_token, expires_in, scopes))
}

/// Token signing keys
///
/// The public keys that verify this server's access tokens (RFC 7517), by `kid`.
#[utoipa::path(
    operation_id = "jwks_get",
    tag = "authentication",
    responses((status = 200, description = "The JSON Web Key Set", body = Object)),
)]
#[get("/.well-known/jwks.json")]
pub async fn jwks_get(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(state.tokens.jwks())
}

/// A new password for the caller.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password the caller signed in with (a one-time one, at first).
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretString,
    /// 12 to 128 characters, not the current one.
    #[schema(value_type = String, format = Password)]
    pub new_password: SecretString,
}

/// Set a new password
///
/// Sets the caller's own password. The one token kind a one-time password
/// yields (scope `password:change`) may call this, and only this. Every token
/// issued before is refused afterwards: sign in again.
#[utoipa::path(
    operation_id = "password_change",
    tag = "authentication",
    security(("oauth2" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; sign in again"),
        (status = 401, description = "No valid token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The current password is wrong, or the new one is unacceptable",
            body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong current passwords: wait `Retry-After` seconds",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/auth/password")]
pub async fn password_change(
    req: HttpRequest,
    caller: crate::http::caller::PasswordChanger,
    state: web::Data<AppState>,
    crate::http::extract::Json(change): crate::http::extract::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    crate::app::sign_in::change_password(
        &state.app,
        &caller.0,
        change.current_password,
        change.new_password,
        client_address(&req),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An invited admin's first password, with the invitation link's token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminInvitationAcceptance {
    /// The token from the emailed invitation link's fragment (`#token=…`).
    #[schema(value_type = String, format = Password)]
    pub token: SecretString,
    /// 12 to 128 characters.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// Who accepted an invitation: what they sign in with.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminJoined {
    pub admin_id: uuid::Uuid,
    pub partner_id: uuid::Uuid,
    pub email: String,
}

/// Accept an admin's invitation
///
/// The token of the emailed single-use invitation link is the credential:
/// no bearer token. Stores the invited admin's password; then sign in with
/// `POST /v1/auth/token` under the partner and email this answers. A token
/// that is wrong, expired, already used or replaced by a newer invitation
/// answers the same 401, and is audited.
#[utoipa::path(
    operation_id = "admin_invitation_accept",
    tag = "authentication",
    request_body = AdminInvitationAcceptance,
    responses(
        (status = 200, description = "Accepted; sign in with the new password", body = AdminJoined),
        (status = 401, description = "The invitation is not valid (wrong, expired, used or sent again since)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value (a password of 12 to 128 characters)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many refused invitations from this address: wait `Retry-After` seconds", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/auth/invitation")]
pub async fn admin_invitation_accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    crate::http::extract::Json(acceptance): crate::http::extract::Json<AdminInvitationAcceptance>,
) -> Result<web::Json<AdminJoined>, ApiError> {
    use secrecy::ExposeSecret;
    crate::http::values::checked(
        "token",
        acceptance.token.expose_secret(),
        crate::http::values::LINK_TOKEN,
    )?;
    let admin = crate::app::admins::accept_invitation(
        &state.app,
        acceptance.token,
        acceptance.password,
        request_id(&req),
        client_address(&req),
    )
    .await?;
    Ok(web::Json(AdminJoined {
        admin_id: admin.id.uuid(),
        partner_id: admin.partner_id.uuid(),
        email: admin.email,
    }))
}
