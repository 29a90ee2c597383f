//! Who is acting: the principal the authorizer decides on, the partner,
//! the stored subject, the request's id, and the moment the operation runs.
//! Every operation authorizes through it ([`OpContext::authorize`]), and
//! writes its audit events from it ([`OpContext::event`]).

use chrono::NaiveDateTime;

use super::{App, Error};
use crate::audit::{ActorKind, NewEvent};
use crate::auth::tokens::{AdminClaims, SCOPE_ADMIN, SCOPE_PASSWORD_CHANGE, SubjectKind};
use crate::authz::{Action, Principal, Resource};
use crate::db::admins::{self, Admin, Role};
use crate::db::api_clients::{self, ApiClient};
use crate::db::{DbConn, DbError};
use crate::ids::{ActorId, AdminId, ApiClientId, CompanyId, PartnerId};

/// An authenticated admin with a full-scope token, or an API client, acting
/// now.
#[derive(Debug, Clone)]
pub struct OpContext {
    pub principal: Principal,
    pub partner: PartnerId,
    /// Who, as stored: for audit events and the handlers that need the row.
    pub actor: Actor,
    /// The request's id, for audit events.
    pub request_id: Option<String>,
    /// When the operation runs, read once from the [`crate::clock::Clock`].
    pub now: NaiveDateTime,
}

/// The stored subject of a token.
#[derive(Debug, Clone)]
pub enum Actor {
    Admin(Admin),
    ApiClient(ApiClient),
    /// A company's SCIM token: its directory.
    ScimToken(crate::db::scim_tokens::ScimToken),
}

impl Actor {
    pub fn kind(&self) -> ActorKind {
        match self {
            Self::Admin(_) => ActorKind::Admin,
            Self::ApiClient(_) => ActorKind::ApiClient,
            Self::ScimToken(_) => ActorKind::ScimToken,
        }
    }

    pub fn id(&self) -> ActorId {
        ActorId::from_uuid(match self {
            Self::Admin(admin) => admin.id.uuid(),
            Self::ApiClient(client) => client.id.uuid(),
            Self::ScimToken(token) => token.id.uuid(),
        })
    }
}

/// A denial, decided: its answer, and the audit event still to be written.
#[derive(Debug)]
pub struct Denied {
    pub error: Error,
    pub event: NewEvent,
}

/// How a denial is answered: 404 for what the caller must not know exists
/// (another partner's object, or one in a company outside the caller's:
/// a technician's assigned companies, a limited client's), 403 naming the
/// deciding policies otherwise.
fn denial(
    principal: &Principal,
    action: &Action,
    resource: &Resource,
    policy_ids: Vec<String>,
) -> Error {
    let other_partner = policy_ids.iter().any(|id| id == "partner-boundary");
    // A company being created is in no one's list yet.
    let outside = !matches!(action, Action::CreateCompany)
        && resource.company().is_some_and(|c| !principal.sees(c));
    if other_partner || outside {
        return Error::NotFound;
    }
    Error::Forbidden {
        action: action.name(),
        policy_ids,
    }
}

/// Decides again inside a write transaction, on rows read under their
/// locks, so a change is never decided on what another one has changed
/// since. A denial rolls the transaction back; its audit event is kept
/// here and written afterwards ([`Decider::audit_denial`]), so a refused
/// change leaves exactly one trace: the refusal.
#[derive(Clone)]
pub struct Decider {
    principal: Principal,
    authz: std::sync::Arc<crate::authz::Authz>,
    template: NewEvent,
    denied: std::sync::Arc<std::sync::Mutex<Option<NewEvent>>>,
}

impl Decider {
    pub fn new(app: &App, caller: &OpContext) -> Self {
        Self {
            principal: caller.principal.clone(),
            authz: app.authz.clone(),
            template: caller.event("", "", String::new(), false, Vec::new()),
            denied: Default::default(),
        }
    }

    /// `Ok(())` when allowed; the answer to a denial otherwise, its audit
    /// event kept for [`Decider::audit_denial`].
    pub fn decide(&self, action: Action, resource: &Resource) -> Result<(), Error> {
        let decision = self.authz.decide(&self.principal, &action, resource);
        if decision.allowed {
            return Ok(());
        }
        let (target_kind, target_id) = resource.kind_and_id();
        let mut event = self.template.clone();
        event.action = action.name().to_owned();
        event.target_kind = Some(target_kind.to_owned());
        event.target_id = Some(target_id);
        event.policy_ids = decision.policy_ids.clone();
        *self.denied.lock().unwrap_or_else(|e| e.into_inner()) = Some(event);
        Err(denial(
            &self.principal,
            &action,
            resource,
            decision.policy_ids,
        ))
    }

    /// Writes the audit event of a denial [`Decider::decide`] answered, if
    /// it answered one.
    pub async fn audit_denial(&self, app: &App) -> Result<(), Error> {
        let denied = self.denied.lock().unwrap_or_else(|e| e.into_inner()).take();
        match denied {
            Some(event) => app.audit(event).await,
            None => Ok(()),
        }
    }
}

impl OpContext {
    /// Asks the authorizer; a denial is written to the audit log, and
    /// answered 404 across partners (as absent) or 403 naming the deciding
    /// policies.
    pub async fn authorize(
        &self,
        app: &App,
        action: Action,
        resource: &Resource,
    ) -> Result<(), Error> {
        let Err(denied) = self.decide(app, action, resource) else {
            return Ok(());
        };
        app.audit(denied.event).await?;
        Err(denied.error)
    }

    /// Asks the authorizer, and leaves a denial's audit event to the
    /// caller, who must write it (one operation that asks many times, a
    /// batch, writes its denials as one event).
    pub fn decide(
        &self,
        app: &App,
        action: Action,
        resource: &Resource,
    ) -> Result<(), Box<Denied>> {
        let decision = app.authz.decide(&self.principal, &action, resource);
        if decision.allowed {
            return Ok(());
        }
        if !decision.errors.is_empty() {
            tracing::warn!(errors = ?decision.errors, action = action.name(), "authorization failed closed");
        }
        let (target_kind, target_id) = resource.kind_and_id();
        let event = self.event(
            action.name(),
            target_kind,
            target_id,
            false,
            decision.policy_ids.clone(),
        );
        Err(Box::new(Denied {
            error: denial(&self.principal, &action, resource, decision.policy_ids),
            event,
        }))
    }

    /// The caller's locale: an admin's own; English for an API client or
    /// a directory.
    pub fn locale(&self) -> &str {
        match &self.actor {
            Actor::Admin(admin) => &admin.locale,
            Actor::ApiClient(_) | Actor::ScimToken(_) => "en",
        }
    }

    /// An audit event of this caller's.
    pub fn event(
        &self,
        action: &str,
        target_kind: &str,
        target_id: String,
        allowed: bool,
        policy_ids: Vec<String>,
    ) -> NewEvent {
        NewEvent {
            partner: Some(self.partner),
            actor_kind: self.actor.kind(),
            actor_id: Some(self.actor.id().to_string()),
            action: action.to_owned(),
            target_kind: Some(target_kind.to_owned()),
            target_id: Some(target_id),
            allowed,
            policy_ids,
            request_id: self.request_id.clone(),
            details: serde_json::json!({}),
        }
    }
}

/// What an operation on one object is called with: a verified token whose
/// subject is loaded in the same trip to the database as the object
/// ([`Token`]), or a context loaded already (a SCIM request's, a worker's).
pub trait Credential: Send + 'static {
    /// The partner every object the operation loads is looked up in.
    fn partner(&self) -> PartnerId;
    /// The operation's context, loaded on `conn` when it is not yet.
    fn into_context(self, conn: &mut DbConn) -> Result<OpContext, Error>;
}

impl Credential for Token {
    fn partner(&self) -> PartnerId {
        self.partner
    }

    fn into_context(self, conn: &mut DbConn) -> Result<OpContext, Error> {
        self.load(conn, Accept::Full)
    }
}

impl Credential for OpContext {
    fn partner(&self) -> PartnerId {
        self.partner
    }

    fn into_context(self, _: &mut DbConn) -> Result<OpContext, Error> {
        Ok(self)
    }
}

/// An admin's or API client's bearer token, verified (signature, expiry,
/// audience) but not yet matched against the database. [`Token::load`]
/// finishes the job inside a database call, so that an operation can load
/// its context and the object it reads in one trip to the blocking pool
/// ([`Token::run`]); [`Token::context`] is the same two steps for every
/// other operation.
#[derive(Debug, Clone)]
pub struct Token {
    claims: AdminClaims,
    partner: PartnerId,
    request_id: Option<String>,
    now: NaiveDateTime,
}

/// Which scopes of admin token an operation accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Full-scope admin tokens and API clients.
    Full,
    /// Also the token of an admin who must replace a one-time password.
    PasswordChange,
}

impl App {
    /// Verifies an admin's or API client's token.
    pub fn verify_token(&self, token: &str, request_id: Option<String>) -> Result<Token, Error> {
        let claims = self
            .tokens
            .verify_admin(token)
            .map_err(|e| Error::unauthorized(format!("token refused: {e}")))?;
        let partner = PartnerId::parse(&claims.partner)
            .ok_or_else(|| Error::unauthorized("token names no partner"))?;
        Ok(Token {
            claims,
            partner,
            request_id,
            now: self.clock.now(),
        })
    }
}

fn company_ids(raw: &[String]) -> Result<Vec<CompanyId>, DbError> {
    raw.iter()
        .map(|c| super::stored(c, CompanyId::parse, "company id"))
        .collect()
}

/// An admin (with a technician's companies) or an API client (with its
/// company limit and its scopes, narrowed to `granted` when a token names
/// fewer), loaded as the authorizer sees it; and its token generation.
fn subject(
    conn: &mut DbConn,
    partner: PartnerId,
    kind: SubjectKind,
    raw_id: &str,
    granted: Option<&[&str]>,
) -> Result<(Principal, Actor, i64), Error> {
    Ok(match kind {
        SubjectKind::Admin => {
            let id = AdminId::parse(raw_id)
                .ok_or_else(|| Error::unauthorized("token names no admin"))?;
            let admin = admins::find(conn, partner, id)?
                .ok_or_else(|| Error::unauthorized("the admin no longer exists"))?;
            let role = admin.role;
            // Only technicians are assigned companies (creating or
            // changing an admin of another role refuses or clears them):
            // the others skip a query on every request.
            let companies = if role == Role::Technician {
                company_ids(&admins::assigned_companies(conn, id)?)?
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
            let id = ApiClientId::parse(raw_id)
                .ok_or_else(|| Error::unauthorized("token names no API client"))?;
            let client = api_clients::find(conn, partner, id)?
                .ok_or_else(|| Error::unauthorized("the API client no longer exists"))?;
            let companies = api_clients::companies(conn, &client)?;
            // The client's scopes as they are now, narrowed to those its
            // token was issued for (a token may ask for fewer).
            let scopes = client
                .scope_list()
                .into_iter()
                .filter(|scope| granted.is_none_or(|granted| granted.contains(&scope.as_str())))
                .collect();
            let principal = Principal::ApiClient {
                id,
                partner,
                scopes,
                companies,
            };
            let generation = client.token_generation;
            (principal, Actor::ApiClient(client), generation)
        }
    })
}

impl OpContext {
    /// The context of work an admin or API client asked for earlier and a
    /// worker does now (a batch's resets): who they are and what they may
    /// do as of now, so a requester removed, demoted or narrowed meanwhile
    /// is decided as they are. `Unauthorized` when they no longer exist.
    pub fn acting_for(
        conn: &mut DbConn,
        partner: PartnerId,
        kind: &str,
        id: ActorId,
        now: NaiveDateTime,
    ) -> Result<Self, Error> {
        let kind = match kind {
            "admin" => SubjectKind::Admin,
            "api_client" => SubjectKind::ApiClient,
            other => {
                return Err(DbError::Corrupt(format!("stored requester kind {other:?}")).into());
            }
        };
        let (principal, actor, _) = subject(conn, partner, kind, &id.to_string(), None)?;
        Ok(Self {
            principal,
            partner,
            actor,
            request_id: None,
            now,
        })
    }
}

impl Token {
    /// The token's partner: every object an operation loads is looked up
    /// in it.
    pub fn partner(&self) -> PartnerId {
        self.partner
    }

    /// Loads the token's subject (an admin, with a technician's companies,
    /// or an API client with its company limit) and checks that the token
    /// is still current and of a scope the operation accepts.
    pub fn load(self, conn: &mut DbConn, accept: Accept) -> Result<OpContext, Error> {
        let Self {
            claims,
            partner,
            request_id,
            now,
        } = self;
        let granted: Vec<&str> = claims.scope.split_whitespace().collect();
        let (principal, actor, generation) =
            subject(conn, partner, claims.kind, &claims.sub, Some(&granted))?;
        if generation != claims.generation {
            return Err(Error::unauthorized("the token was revoked"));
        }
        if !crate::db::partners::is_active(conn, partner)? {
            return Err(Error::unauthorized("the partner is suspended"));
        }
        match (&actor, claims.scope.as_str(), accept) {
            (Actor::ApiClient(_), _, _) | (Actor::Admin(_), SCOPE_ADMIN, _) => {}
            (Actor::Admin(_), SCOPE_PASSWORD_CHANGE, Accept::PasswordChange) => {}
            (Actor::Admin(_), SCOPE_PASSWORD_CHANGE, Accept::Full) => {
                return Err(Error::PasswordChangeRequired);
            }
            _ => return Err(Error::unauthorized("the token's scope is unknown")),
        }
        tracing::Span::current().record("principal", tracing::field::display(actor.id()));
        Ok(OpContext {
            principal,
            partner,
            actor,
            request_id,
            now,
        })
    }

    /// The operation context the token names, loaded.
    pub async fn context(self, app: &App, accept: Accept) -> Result<OpContext, Error> {
        app.db.run(move |conn| self.load(conn, accept)).await
    }

    /// Loads the context and then runs `f` with it on the same connection:
    /// one trip to the blocking pool for an operation that reads one object
    /// (`f` loads it in [`Token::partner`], the operation then authorizes).
    pub async fn run<T, F>(self, app: &App, f: F) -> Result<(OpContext, T), Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, &OpContext) -> Result<T, DbError> + Send + 'static,
    {
        app.db
            .run(move |conn| {
                let ctx = self.load(conn, Accept::Full)?;
                let found = f(conn, &ctx)?;
                Ok((ctx, found))
            })
            .await
    }
}
