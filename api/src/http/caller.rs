//! Who is calling: the bearer token, verified, and the principal it names
//! (an admin or an API client), loaded from the database for this request, so
//! a deleted admin or client, a changed role or a bumped token generation
//! takes effect at once.
//!
//! Extraction only: the token is read here and loaded by the domain layer
//! ([`crate::app::Token`]); every operation then asks the authorizer
//! itself, so no route depends on a middleware to be safe.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::app::Accept;
pub use crate::app::Actor;
use crate::error::ApiError;
use crate::http::AppState;

/// An authenticated admin with a full-scope token, or an API client: the
/// operation context the request acts in.
pub type Caller = crate::app::OpContext;

/// An authenticated caller whose token may be one that only changes an
/// admin's password (an admin who must replace a one-time password).
#[derive(Debug, Clone)]
pub struct PasswordChanger(pub Caller);

fn unauthorized(reason: impl Into<String>) -> ApiError {
    ApiError::Unauthorized {
        reason: reason.into(),
    }
}

/// The bearer token of a request, if it has one.
pub(crate) fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("no Authorization header"))?
        .to_str()
        .map_err(|_| unauthorized("Authorization is not text"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| unauthorized("Authorization is not `Bearer TOKEN`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(unauthorized("Authorization is not `Bearer TOKEN`"));
    }
    Ok(token.trim().to_owned())
}

/// A request's bearer token, verified but not yet matched against the
/// database (see [`crate::app::Token`]).
pub type Verified = crate::app::Token;

fn verified(req: &HttpRequest) -> Result<(Verified, web::Data<AppState>), ApiError> {
    verified_with(req, |state, token, request_id| {
        state.verify_token(token, request_id)
    })
}

/// A request's bearer token, verified by `verify` (with the request's id),
/// and the server's state to load it with.
pub(crate) fn verified_with<T>(
    req: &HttpRequest,
    verify: impl FnOnce(&AppState, &str, Option<String>) -> Result<T, crate::app::Error>,
) -> Result<(T, web::Data<AppState>), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no AppState")))?
        .clone();
    let token = bearer(req)?;
    let verified = verify(&state, &token, crate::http::request_id(req))?;
    Ok((verified, state))
}

impl FromRequest for Verified {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(verified(req).map(|(verified, _)| verified))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = verified(req);
        Box::pin(async move {
            let (verified, state) = verified?;
            Ok(verified.context(&state, Accept::Full).await?)
        })
    }
}

impl FromRequest for PasswordChanger {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = verified(req);
        Box::pin(async move {
            let (verified, state) = verified?;
            Ok(PasswordChanger(
                verified.context(&state, Accept::PasswordChange).await?,
            ))
        })
    }
}
