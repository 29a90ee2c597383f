//! Who is acting: the principal the authorizer decides on, the partner,
//! the stored subject, the request's id, and the moment the operation runs.
//! Every operation authorizes through it ([`OpContext::authorize`]), and
//! writes its audit events from it ([`OpContext::event`]).

use chrono::NaiveDateTime;

use super::{App, Error};
use crate::audit::{self, ActorKind, NewEvent};
use crate::authz::{Action, Principal, Resource};
use crate::db::DbConn;
use crate::db::admins::Admin;
use crate::db::api_clients::ApiClient;
use crate::ids::PartnerId;

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
}

impl Actor {
    pub fn kind(&self) -> ActorKind {
        match self {
            Self::Admin(_) => ActorKind::Admin,
            Self::ApiClient(_) => ActorKind::ApiClient,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Admin(admin) => &admin.id,
            Self::ApiClient(client) => &client.id,
        }
    }
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
/// since; a denial is written to the audit log in that transaction.
pub struct Decider {
    principal: Principal,
    authz: std::sync::Arc<crate::authz::Authz>,
    keys: std::sync::Arc<crate::auth::keys::ServerKeys>,
    denied: NewEvent,
}

impl Decider {
    pub fn new(app: &App, caller: &OpContext) -> Self {
        Self {
            principal: caller.principal.clone(),
            authz: app.authz.clone(),
            keys: app.keys.clone(),
            denied: caller.event("", "", String::new(), false, Vec::new()),
        }
    }

    /// `Ok(Ok(()))` when allowed; `Ok(Err(..))` with the answer to a denial.
    pub fn decide(
        &self,
        conn: &mut DbConn,
        action: Action,
        resource: &Resource,
    ) -> Result<Result<(), Error>, crate::db::DbError> {
        let decision = self.authz.decide(&self.principal, &action, resource);
        if decision.allowed {
            return Ok(Ok(()));
        }
        let (target_kind, target_id) = resource.kind_and_id();
        let mut event = self.denied.clone();
        event.action = action.name().to_owned();
        event.target_kind = Some(target_kind.to_owned());
        event.target_id = Some(target_id);
        event.policy_ids = decision.policy_ids.clone();
        audit::append(conn, &self.keys, event)?;
        Ok(Err(denial(
            &self.principal,
            &action,
            resource,
            decision.policy_ids,
        )))
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
        let keys = app.keys.clone();
        app.db
            .write(move |conn| audit::append(conn, &keys, event).map(drop))
            .await?;
        Err(denial(
            &self.principal,
            &action,
            resource,
            decision.policy_ids,
        ))
    }

    /// The caller's locale: an admin's own; English for an API client.
    pub fn locale(&self) -> &str {
        match &self.actor {
            Actor::Admin(admin) => &admin.locale,
            Actor::ApiClient(_) => "en",
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
            actor_id: Some(self.actor.id().to_owned()),
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
