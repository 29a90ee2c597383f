//! Who is calling: the bearer token, verified, and the principal it names
//! (an admin or an API client), loaded from the database for this request, so
//! a deleted admin or client, a changed role or a bumped token generation
//! takes effect at once.
//!
//! Authentication only: every handler then asks the authorizer explicitly
//! (`Caller::authorize`), so no route depends on a middleware to be safe.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

pub use crate::app::{Actor, Decider};
use crate::auth::tokens::{SCOPE_ADMIN, SCOPE_PASSWORD_CHANGE, SubjectKind};
use crate::authz::Principal;
use crate::db::admins::{self, Role};
use crate::db::api_clients;
use crate::db::{DbConn, DbError};
use crate::error::ApiError;
use crate::http::AppState;
use crate::ids::{AdminId, ApiClientId, CompanyId, PartnerId};

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

fn company_ids(raw: &[String]) -> Vec<CompanyId> {
    raw.iter().filter_map(|c| CompanyId::parse(c)).collect()
}

/// A request's bearer token, verified (signature, expiry, audience) but not
/// yet matched against the database. [`Verified::load`] finishes the job
/// inside a database call, so that a handler can load the caller and the
/// object it asks for in one trip to the blocking pool ([`Verified::run`]);
/// the [`Caller`] extractor is the same two steps for every other handler.
#[derive(Debug, Clone)]
pub struct Verified {
    claims: crate::auth::tokens::AdminClaims,
    partner: PartnerId,
    request_id: Option<String>,
    now: chrono::NaiveDateTime,
}

/// Which scopes of admin token a handler accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accept {
    /// Full-scope admin tokens and API clients.
    Full,
    /// Also the token of an admin who must replace a one-time password.
    PasswordChange,
}

impl Verified {
    fn from_request(req: &HttpRequest) -> Result<(Self, web::Data<AppState>), ApiError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no AppState")))?
            .clone();
        let token = bearer(req)?;
        let request_id = crate::http::request_id(req);
        let claims = state
            .tokens
            .verify_admin(&token)
            .map_err(|e| unauthorized(format!("token refused: {e}")))?;
        let partner = PartnerId::parse(&claims.partner)
            .ok_or_else(|| unauthorized("token names no partner"))?;
        Ok((
            Self {
                claims,
                partner,
                request_id,
                now: state.clock.now(),
            },
            state,
        ))
    }

    /// The token's partner: every object a handler loads is looked up in it.
    pub fn partner(&self) -> PartnerId {
        self.partner
    }

    /// Loads the token's subject (an admin, with a technician's companies,
    /// or an API client with its company limit) and checks that the token
    /// is still current and of a scope the handler accepts. The outer error
    /// is the database's, the inner one the caller's.
    fn load(self, conn: &mut DbConn, accept: Accept) -> Result<Result<Caller, ApiError>, DbError> {
        let Self {
            claims,
            partner,
            request_id,
            now,
        } = self;
        let (principal, actor, generation) = match claims.kind {
            SubjectKind::Admin => {
                let Some(id) = AdminId::parse(&claims.sub) else {
                    return Ok(Err(unauthorized("token names no admin")));
                };
                let Some(admin) = admins::find(conn, partner, id)? else {
                    return Ok(Err(unauthorized("the admin no longer exists")));
                };
                let Some(role) = Role::parse(&admin.role) else {
                    return Ok(Err(ApiError::internal(anyhow::anyhow!(
                        "admin {} has role {:?}",
                        admin.id,
                        admin.role
                    ))));
                };
                // Only technicians are assigned companies (creating or
                // changing an admin of another role refuses or clears them):
                // the others skip a query on every request.
                let companies = if role == Role::Technician {
                    company_ids(&admins::assigned_companies(conn, id)?)
                } else {
                    Vec::new()
                };
                let principal = Principal::Admin {
                    id,
                    partner,
                    role,
                    companies,
                };
                let generation = admin.token_generation;
                (principal, Actor::Admin(admin), generation)
            }
            SubjectKind::ApiClient => {
                let Some(id) = ApiClientId::parse(&claims.sub) else {
                    return Ok(Err(unauthorized("token names no API client")));
                };
                let Some(client) = api_clients::find(conn, partner, id)? else {
                    return Ok(Err(unauthorized("the API client no longer exists")));
                };
                let companies = api_clients::companies(conn, &client)?;
                // The client's scopes as they are now, narrowed to those
                // its token was issued for (a token may ask for fewer).
                let granted: Vec<&str> = claims.scope.split_whitespace().collect();
                let scopes = client
                    .scope_list()
                    .into_iter()
                    .filter(|scope| granted.contains(&scope.as_str()))
                    .collect();
                let principal = Principal::ApiClient {
                    id,
                    partner,
                    scopes,
                    companies: companies.as_deref().map(company_ids),
                };
                let generation = client.token_generation;
                (principal, Actor::ApiClient(client), generation)
            }
        };
        if generation != claims.generation {
            return Ok(Err(unauthorized("the token was revoked")));
        }
        match (&actor, claims.scope.as_str(), accept) {
            (Actor::ApiClient(_), _, _) | (Actor::Admin(_), SCOPE_ADMIN, _) => {}
            (Actor::Admin(_), SCOPE_PASSWORD_CHANGE, Accept::PasswordChange) => {}
            (Actor::Admin(_), SCOPE_PASSWORD_CHANGE, Accept::Full) => {
                return Ok(Err(ApiError::PasswordChangeRequired));
            }
            _ => return Ok(Err(unauthorized("the token's scope is unknown"))),
        }
        tracing::Span::current().record("principal", tracing::field::display(actor.id()));
        Ok(Ok(Caller {
            principal,
            partner,
            actor,
            request_id,
            now,
        }))
    }

    async fn caller(self, state: &AppState, accept: Accept) -> Result<Caller, ApiError> {
        state.db.run(move |conn| self.load(conn, accept)).await?
    }

    /// Loads the caller and then runs `f` with it on the same connection:
    /// one trip to the blocking pool for a handler that reads one object
    /// (`f` loads it in [`Verified::partner`], the handler then authorizes).
    pub async fn run<T, F>(self, state: &AppState, f: F) -> Result<(Caller, T), ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, &Caller) -> Result<T, DbError> + Send + 'static,
    {
        state
            .db
            .run(move |conn| match self.load(conn, Accept::Full)? {
                Ok(caller) => f(conn, &caller).map(|found| Ok((caller, found))),
                Err(refused) => Ok(Err(refused)),
            })
            .await?
    }
}

impl FromRequest for Verified {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::from_request(req).map(|(verified, _)| verified))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = Verified::from_request(req);
        Box::pin(async move {
            let (verified, state) = verified?;
            verified.caller(&state, Accept::Full).await
        })
    }
}

impl FromRequest for PasswordChanger {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = Verified::from_request(req);
        Box::pin(async move {
            let (verified, state) = verified?;
            verified
                .caller(&state, Accept::PasswordChange)
                .await
                .map(PasswordChanger)
        })
    }
}
