//! The platform operator: the vendor that runs Custodian for many MSPs.
//! Its staff sign in with their own audience of token, and manage partners
//! as accounts: create one with its first owner (who is invited by email),
//! list, rename, suspend and reactivate them. The operator never acts
//! inside a partner: its token passes no partner endpoint, and the Cedar
//! policies (`operator.cedar`) permit it the `platform` actions only.
//!
//! Its events go to the audit chain of the partner they are about (a
//! partner's owners see who suspended them), and its sign-ins to the chain
//! of no partner.

use std::net::IpAddr;

use chrono::NaiveDateTime;
use secrecy::SecretString;

use super::admins::{invite_in, invited};
use super::idempotent::{self, Asker, Made, PLATFORM};
use super::resets::Idempotency;
use super::{App, Error, paging};
use crate::audit::{ActorKind, NewEvent};
use crate::auth::throttle::Path;
use crate::auth::tokens::{OperatorClaims, SCOPE_OPERATOR};
use crate::auth::{OPERATOR_CLIENT_SECRET, new_operator_client_secret};
use crate::authz::{OperatorPrincipal, PlatformAction};
use crate::db::admins::{self, Admin, Role};
use crate::db::operator_clients::{self, OperatorClient};
use crate::db::operators::{self, Operator};
use crate::db::partners::{self, Partner, PartnerChanges};
use crate::db::{DbConn, DbError, batches, outbox};
use crate::domain::Email;
use crate::ids::{OperatorClientId, OperatorId, PartnerId};

/// A signed-in operator, acting now.
#[derive(Debug, Clone)]
pub struct OperatorContext {
    pub actor: OperatorActor,
    pub request_id: Option<String>,
    pub now: NaiveDateTime,
}

/// Who acts for the operator: one of its staff, or one of its API clients.
#[derive(Debug, Clone)]
pub enum OperatorActor {
    Staff(Operator),
    Client(OperatorClient),
}

impl OperatorActor {
    /// Who the policies decide about.
    pub fn principal(&self) -> OperatorPrincipal {
        match self {
            Self::Staff(operator) => OperatorPrincipal::Staff(operator.id),
            Self::Client(client) => OperatorPrincipal::Client(client.id),
        }
    }

    /// The id the audit log names it by.
    pub fn id(&self) -> String {
        match self {
            Self::Staff(operator) => operator.id.to_string(),
            Self::Client(client) => client.id.to_string(),
        }
    }
}

/// An operator's bearer token, verified (signature, expiry, audience) but
/// not yet matched against the database.
#[derive(Debug, Clone)]
pub struct OperatorToken {
    claims: OperatorClaims,
    request_id: Option<String>,
    now: NaiveDateTime,
}

impl App {
    /// Verifies an operator's token.
    pub fn verify_operator_token(
        &self,
        token: &str,
        request_id: Option<String>,
    ) -> Result<OperatorToken, Error> {
        let claims = self
            .tokens
            .verify_operator(token)
            .map_err(|e| Error::unauthorized(format!("token refused: {e}")))?;
        Ok(OperatorToken {
            claims,
            request_id,
            now: self.clock.now(),
        })
    }
}

impl OperatorToken {
    /// Loads the operator and checks that the token is still current.
    pub async fn context(self, app: &App) -> Result<OperatorContext, Error> {
        let Self {
            claims,
            request_id,
            now,
        } = self;
        if claims.scope != SCOPE_OPERATOR {
            return Err(Error::unauthorized("the token was revoked"));
        }
        let actor = if claims.client {
            let id = OperatorClientId::parse(&claims.sub)
                .ok_or_else(|| Error::unauthorized("token names no operator client"))?;
            let client = app
                .db
                .run(move |conn| operator_clients::find(conn, id))
                .await?
                .ok_or_else(|| Error::unauthorized("the operator's client was removed"))?;
            OperatorActor::Client(client)
        } else {
            let id = OperatorId::parse(&claims.sub)
                .ok_or_else(|| Error::unauthorized("token names no operator"))?;
            let operator = app
                .db
                .run(move |conn| operators::find(conn, id))
                .await?
                .ok_or_else(|| Error::unauthorized("the operator no longer exists"))?;
            if operator.token_generation != claims.generation {
                return Err(Error::unauthorized("the token was revoked"));
            }
            OperatorActor::Staff(operator)
        };
        tracing::Span::current().record("principal", tracing::field::display(actor.id()));
        Ok(OperatorContext {
            actor,
            request_id,
            now,
        })
    }
}

impl OperatorContext {
    /// Asks the authorizer about `partner` (`None`: the partners as a
    /// whole); a denial is audited (to that partner's chain) and is 403.
    pub async fn authorize(
        &self,
        app: &App,
        action: PlatformAction,
        partner: Option<PartnerId>,
    ) -> Result<(), Error> {
        let decision = app
            .authz
            .decide_platform(self.actor.principal(), action, partner);
        if decision.allowed {
            return Ok(());
        }
        if !decision.errors.is_empty() {
            tracing::warn!(errors = ?decision.errors, action = action.name(), "authorization failed closed");
        }
        let mut event = self.event(action.name(), partner, false);
        event.policy_ids = decision.policy_ids.clone();
        app.audit(event).await?;
        Err(Error::Forbidden {
            action: action.name(),
            policy_ids: decision.policy_ids,
        })
    }

    /// An audit event of this operator's about `partner`.
    pub fn event(&self, action: &str, partner: Option<PartnerId>, allowed: bool) -> NewEvent {
        NewEvent {
            partner,
            actor_kind: ActorKind::Operator,
            actor_id: Some(self.actor.id()),
            action: action.to_owned(),
            target_kind: Some("partner".into()),
            target_id: partner.map(|p| p.to_string()),
            allowed,
            policy_ids: Vec::new(),
            request_id: self.request_id.clone(),
            details: serde_json::json!({}),
        }
    }

    fn asker(&self) -> Asker {
        Asker {
            partner: PLATFORM,
            principal: self.actor.id(),
            now: self.now,
        }
    }
}

/// Checks an operator's password. `Ok(None)` for a wrong email or password
/// (one answer for both, after the same argon2 work); throttled per email
/// and address, and audited to the chain of no partner.
pub async fn sign_in(
    app: &App,
    email: Email,
    password: SecretString,
    request_id: Option<String>,
    address: Option<IpAddr>,
) -> Result<Option<Operator>, Error> {
    let ticket = app
        .throttled(Path::OperatorSignIn, Some(email.as_str()), address)
        .await?;
    let lookup = email.clone();
    let operator = app
        .db
        .run(move |conn| operators::find_by_email(conn, &lookup))
        .await?;
    let hash = operator.as_ref().map(|o| o.password_hash.clone());
    let signed_in = app.passwords.verify(password, hash).await;
    if signed_in {
        app.throttle.succeeded(ticket, app.clock.now()).await?;
    }
    let id = operator.as_ref().map(|o| o.id.to_string());
    app.audit(NewEvent {
        partner: None,
        actor_kind: if signed_in {
            ActorKind::Operator
        } else {
            ActorKind::Anonymous
        },
        actor_id: id.clone().filter(|_| signed_in),
        action: "signIn".into(),
        target_kind: Some("operator".into()),
        target_id: id,
        allowed: signed_in,
        policy_ids: Vec::new(),
        request_id,
        details: serde_json::json!({ "grant_type": "password", "username": email.as_str() }),
    })
    .await?;
    Ok(operator.filter(|_| signed_in))
}

/// A partner's first owner, to invite.
pub struct NewOwner {
    pub email: Email,
    pub name: String,
    pub locale: Option<String>,
}

/// A partner to create.
pub struct NewPartner {
    pub name: String,
    pub owner: NewOwner,
}

/// A partner created, and its first owner, invited.
#[derive(Debug, Clone)]
pub struct CreatedPartner {
    pub partner: Partner,
    pub owner: Admin,
}

/// Creates a partner and its first owner in one transaction; the owner is
/// emailed an invitation (in their locale, for the new partner's
/// invitation lifetime) to choose their password. Under the operator's
/// idempotency `key`, a retry answers the first result and creates
/// nothing again.
pub async fn create(
    app: &App,
    ctx: &OperatorContext,
    new: NewPartner,
    key: Option<Idempotency>,
    render: impl FnOnce(&CreatedPartner) -> Vec<u8> + Send + 'static,
) -> Result<Made<CreatedPartner>, Error> {
    let partner = Partner::new(&new.name, ctx.now);
    ctx.authorize(app, PlatformAction::CreatePartner, Some(partner.id))
        .await?;
    let locale = super::locale(new.owner.locale)?;
    if let Some(stored) = idempotent::stored_result(app, ctx.asker(), key.clone()).await? {
        return Ok(Made::Replayed(stored));
    }
    let now = ctx.now;
    let person = (new.owner.email.into_string(), new.owner.name);
    let owner = invited(app, partner.id, person, Role::Owner, locale, now).await;
    let mut event = ctx.event(PlatformAction::CreatePartner.name(), Some(partner.id), true);
    event.details = serde_json::json!({
        "name": partner.name,
        "owner_id": owner.id,
        "owner_email": owner.email,
    });
    let keys = app.keys.clone();
    let insert = move |conn: &mut DbConn| {
        partners::insert(conn, &partner)?;
        admins::insert(conn, &owner)?;
        let expires_at = invite_in(conn, &keys, &owner, now)?;
        crate::audit::append(conn, &keys, event)?;
        Ok(CreatedPartner {
            partner,
            owner: Admin {
                invitation_expires_at: Some(expires_at),
                ..owner
            },
        })
    };
    let made = idempotent::create(app, ctx.asker(), key, insert, render).await?;
    if matches!(made, Made::New(_)) {
        app.outbox.wake();
    }
    Ok(made)
}

/// A page of partners, oldest first, optionally only the suspended
/// (`Some(true)`) or active (`Some(false)`) ones, and the next page's
/// cursor.
pub async fn list(
    app: &App,
    ctx: &OperatorContext,
    after: Option<PartnerId>,
    suspended: Option<bool>,
    limit: Option<u32>,
) -> Result<(Vec<Partner>, Option<String>), Error> {
    ctx.authorize(app, PlatformAction::ListPartners, None)
        .await?;
    let limit = paging::limit(limit)?;
    let mut page = app
        .db
        .run(move |conn| partners::list(conn, after, suspended, limit + 1))
        .await?;
    let next_cursor = paging::finish(&mut page, limit, |p| p.id.to_string());
    Ok((page, next_cursor))
}

/// The partner a path names: 404 when absent (or not an id).
async fn load(app: &App, raw_id: &str) -> Result<Partner, Error> {
    let id = PartnerId::parse(raw_id).ok_or(Error::NotFound)?;
    app.db
        .run(move |conn| partners::find(conn, id))
        .await?
        .ok_or(Error::NotFound)
}

/// One partner.
pub async fn get(app: &App, ctx: &OperatorContext, raw_id: &str) -> Result<Partner, Error> {
    let partner = load(app, raw_id).await?;
    ctx.authorize(app, PlatformAction::ReadPartnerAccount, Some(partner.id))
        .await?;
    Ok(partner)
}

/// Renames a partner. Audited.
pub async fn rename(
    app: &App,
    ctx: &OperatorContext,
    raw_id: &str,
    name: String,
) -> Result<Partner, Error> {
    let partner = load(app, raw_id).await?;
    let id = partner.id;
    ctx.authorize(app, PlatformAction::UpdatePartnerAccount, Some(id))
        .await?;
    let mut event = ctx.event(PlatformAction::UpdatePartnerAccount.name(), Some(id), true);
    event.details = serde_json::json!({ "name": name });
    let changes = PartnerChanges {
        name: Some(name),
        updated_at: Some(ctx.now),
        ..PartnerChanges::default()
    };
    let keys = app.keys.clone();
    app.db
        .write(move |conn| {
            let Some(partner) = partners::update(conn, id, &changes)? else {
                return Err(Error::NotFound);
            };
            crate::audit::append(conn, &keys, event)?;
            Ok(partner)
        })
        .await
}

/// Suspends a partner (`suspend`) or reactivates it. Suspended, every
/// token of its admins, API clients and users is refused at once, and none
/// of them signs in. Idempotent: suspending a suspended partner changes
/// nothing and writes no second event. Suspending also revokes every token
/// issued before, so a reactivation brings none of them back, withdraws
/// the partner's unsent emails and cancels its running batches.
pub async fn set_suspended(
    app: &App,
    ctx: &OperatorContext,
    raw_id: &str,
    suspend: bool,
) -> Result<Partner, Error> {
    let partner = load(app, raw_id).await?;
    let id = partner.id;
    let action = if suspend {
        PlatformAction::SuspendPartner
    } else {
        PlatformAction::ReactivatePartner
    };
    ctx.authorize(app, action, Some(id)).await?;
    let mut event = ctx.event(action.name(), Some(id), true);
    let (keys, now) = (app.keys.clone(), ctx.now);
    app.db
        .write(move |conn| {
            if partners::set_suspended(conn, id, suspend, now)? {
                if suspend {
                    // Nothing more leaves for it: its unsent emails are
                    // withdrawn (their links and secrets would reach people
                    // who cannot use them), and its running batches stop.
                    let emails_withdrawn = outbox::withdraw_of_partner(
                        conn,
                        id,
                        "withdrawn: the partner is suspended",
                        now,
                    )?;
                    let mut batches_cancelled = 0;
                    for batch in batches::running_of_partner(conn, id)? {
                        if batches::cancel(conn, batch, now)?.is_some() {
                            batches_cancelled += 1;
                        }
                    }
                    event.details = serde_json::json!({
                        "emails_withdrawn": emails_withdrawn,
                        "batches_cancelled": batches_cancelled,
                    });
                }
                crate::audit::append(conn, &keys, event)?;
            }
            partners::find(conn, id)?.ok_or(Error::NotFound)
        })
        .await
}

/// Emails the partner's owners who have not joined a new invitation each
/// (the earlier links die): for a first owner whose invitation expired
/// before they accepted it. The owners invited; 409 `owner_not_invited`
/// when every owner has joined.
pub async fn invite_owners(
    app: &App,
    ctx: &OperatorContext,
    raw_id: &str,
) -> Result<Vec<Admin>, Error> {
    let partner = load(app, raw_id).await?;
    let id = partner.id;
    ctx.authorize(app, PlatformAction::UpdatePartnerAccount, Some(id))
        .await?;
    let mut event = ctx.event("inviteOwners", Some(id), true);
    let (keys, now) = (app.keys.clone(), ctx.now);
    let invited = app
        .db
        .write(move |conn| {
            let owners = admins::lock_owners(conn, id)?;
            let mut invited = Vec::new();
            for owner in owners {
                let owner = crate::ids::AdminId::parse(&owner)
                    .ok_or_else(|| DbError::Corrupt(format!("admin id {owner:?}")))?;
                let Some(admin) = admins::find(conn, id, owner)? else {
                    continue;
                };
                if !admin.is_invited() {
                    continue;
                }
                let expires_at = invite_in(conn, &keys, &admin, now)?;
                invited.push(Admin {
                    invitation_expires_at: Some(expires_at),
                    ..admin
                });
            }
            if invited.is_empty() {
                return Err(Error::Conflict {
                    code: "owner_not_invited",
                    detail:
                        "Every owner of this partner has joined: there is no invitation to send"
                            .into(),
                });
            }
            event.details = serde_json::json!({
                "owners": invited.iter().map(|a| a.id.to_string()).collect::<Vec<_>>(),
            });
            crate::audit::append(conn, &keys, event)?;
            Ok(invited)
        })
        .await?;
    app.outbox.wake();
    Ok(invited)
}

/// Signs one of the operator's API clients in with its secret: the client,
/// or `None` when the id or the secret is wrong. Throttled and audited as
/// an API client's sign-in is (to the chain of no partner).
pub async fn client_sign_in(
    app: &App,
    id: OperatorClientId,
    secret: SecretString,
    request_id: Option<String>,
    address: Option<IpAddr>,
) -> Result<Option<OperatorClient>, Error> {
    use secrecy::ExposeSecret;
    let account = id.to_string();
    let ticket = app
        .throttled(Path::OperatorClientSignIn, Some(&account), address)
        .await?;
    let client = app
        .db
        .run(move |conn| operator_clients::find(conn, id))
        .await?;
    let secret = secret.expose_secret().as_bytes();
    let signed_in = app.keys.verify_keyed_hash_of(
        OPERATOR_CLIENT_SECRET,
        secret,
        client.as_ref().map(|c| c.secret_hash.as_slice()),
    );
    if signed_in {
        app.throttle.succeeded(ticket, app.clock.now()).await?;
    }
    app.audit(NewEvent {
        partner: None,
        actor_kind: if signed_in {
            ActorKind::Operator
        } else {
            ActorKind::Anonymous
        },
        actor_id: Some(account.clone()).filter(|_| signed_in),
        action: "signIn".into(),
        target_kind: Some("operator_client".into()),
        target_id: Some(account),
        allowed: signed_in,
        policy_ids: Vec::new(),
        request_id,
        details: serde_json::json!({ "grant_type": "client_credentials" }),
    })
    .await?;
    Ok(client.filter(|_| signed_in))
}

/// Replaces the signed-in operator's own password (one of the staff: a
/// client has none, and the policies never let it manage credentials),
/// after checking the current one, throttled per operator and address.
/// Every token issued before is refused afterwards. Audited to the chain of
/// no partner.
pub async fn change_password(
    app: &App,
    ctx: &OperatorContext,
    current: SecretString,
    new: SecretString,
    address: Option<IpAddr>,
) -> Result<(), Error> {
    use secrecy::ExposeSecret;
    ctx.authorize(app, PlatformAction::ChangeOperatorPassword, None)
        .await?;
    let OperatorActor::Staff(operator) = &ctx.actor else {
        return Err(Error::Storage(DbError::Corrupt(
            "the policies allowed a password change to a caller without one".into(),
        )));
    };
    super::sign_in::check_password_length("new_password", &new)?;
    if new.expose_secret() == current.expose_secret() {
        return Err(Error::invalid(
            "new_password",
            "must differ from the current password",
        ));
    }
    let id = operator.id;
    let account = format!("operator:{id}");
    let ticket = app
        .throttled(Path::PasswordChange, Some(&account), address)
        .await?;
    if !app
        .passwords
        .verify(current, Some(operator.password_hash.clone()))
        .await
    {
        return Err(Error::invalid(
            "current_password",
            "is not the password of this account",
        ));
    }
    app.throttle.succeeded(ticket, app.clock.now()).await?;
    let hash = app.passwords.hash(new).await;
    let mut event = ctx.event("changePassword", None, true);
    event.target_kind = Some("operator".into());
    event.target_id = Some(id.to_string());
    let keys = app.keys.clone();
    let now = app.clock.now();
    let changed = app
        .db
        .write(move |conn| {
            let changed = operators::set_password(conn, id, &hash, now)?;
            crate::audit::append(conn, &keys, event)?;
            Ok::<_, DbError>(changed)
        })
        .await?;
    if !changed {
        return Err(Error::unauthorized("the operator no longer exists"));
    }
    Ok(())
}

/// A page of the operator's API clients, oldest first.
pub async fn clients(
    app: &App,
    ctx: &OperatorContext,
    after: Option<OperatorClientId>,
    limit: Option<u32>,
) -> Result<(Vec<OperatorClient>, Option<String>), Error> {
    ctx.authorize(app, PlatformAction::ListOperatorClients, None)
        .await?;
    let limit = paging::limit(limit)?;
    let mut page = app
        .db
        .run(move |conn| operator_clients::list(conn, after, limit + 1))
        .await?;
    let next_cursor = paging::finish(&mut page, limit, |c| c.id.to_string());
    Ok((page, next_cursor))
}

/// One of the operator's API clients, and its secret, which exists nowhere
/// else and is never given again.
pub type CreatedClient = (OperatorClient, SecretString);

/// Makes an API client for the vendor's automation (the name already
/// checked): it manages partners as the operator's staff do, never
/// credentials.
pub async fn create_client(
    app: &App,
    ctx: &OperatorContext,
    name: String,
    key: Option<Idempotency>,
    render: impl FnOnce(&CreatedClient) -> Vec<u8> + Send + 'static,
) -> Result<Made<CreatedClient>, Error> {
    use secrecy::ExposeSecret;
    ctx.authorize(app, PlatformAction::CreateOperatorClient, None)
        .await?;
    let secret = new_operator_client_secret();
    let client = OperatorClient {
        id: OperatorClientId::new(),
        name,
        secret_hash: app
            .keys
            .keyed_hash(OPERATOR_CLIENT_SECRET, secret.expose_secret().as_bytes()),
        created_by_operator_id: match &ctx.actor {
            OperatorActor::Staff(operator) => Some(operator.id),
            OperatorActor::Client(_) => None,
        },
        created_at: ctx.now,
    };
    let mut event = client_event(ctx, PlatformAction::CreateOperatorClient, &client);
    event.details = serde_json::json!({ "name": client.name });
    let keys = app.keys.clone();
    let insert = move |conn: &mut DbConn| {
        operator_clients::insert(conn, &client)?;
        crate::audit::append(conn, &keys, event)?;
        Ok((client, secret))
    };
    idempotent::create(app, ctx.asker(), key, insert, render).await
}

/// Removes the operator's API client `raw_id` names; its tokens are
/// refused at once. 404 when there is none.
pub async fn delete_client(app: &App, ctx: &OperatorContext, raw_id: &str) -> Result<(), Error> {
    // Authorized first: whether a client exists is for those who manage
    // them.
    ctx.authorize(app, PlatformAction::DeleteOperatorClient, None)
        .await?;
    let id = OperatorClientId::parse(raw_id).ok_or(Error::NotFound)?;
    let client = app
        .db
        .run(move |conn| operator_clients::find(conn, id))
        .await?
        .ok_or(Error::NotFound)?;
    let mut event = client_event(ctx, PlatformAction::DeleteOperatorClient, &client);
    event.details = serde_json::json!({ "name": client.name });
    let keys = app.keys.clone();
    app.db
        .write(move |conn| {
            if !operator_clients::delete(conn, id)? {
                return Err(Error::NotFound);
            }
            crate::audit::append(conn, &keys, event)?;
            Ok(())
        })
        .await
}

/// The audit event of a change to one of the operator's API clients (in
/// the chain of no partner).
fn client_event(
    ctx: &OperatorContext,
    action: PlatformAction,
    client: &OperatorClient,
) -> NewEvent {
    NewEvent {
        target_kind: Some("operator_client".into()),
        target_id: Some(client.id.to_string()),
        ..ctx.event(action.name(), None, true)
    }
}

/// A page of the platform's own audit chain (the chain of no partner: the
/// operator's clients made and removed, its staff's and clients' sign-ins),
/// oldest first, by `filter`.
pub async fn audit_events(
    app: &App,
    ctx: &OperatorContext,
    filter: crate::audit::Filter,
    limit: Option<u32>,
) -> Result<(Vec<super::audit::Event>, Option<String>), Error> {
    ctx.authorize(app, PlatformAction::ReadPlatformAudit, None)
        .await?;
    super::audit::list_chain(app, PartnerId::NIL, filter, limit).await
}

/// Walks the platform's own audit chain and names the first event that was
/// altered, or that follows a removed one.
pub async fn verify_audit(
    app: &App,
    ctx: &OperatorContext,
) -> Result<crate::audit::Verification, Error> {
    ctx.authorize(app, PlatformAction::ReadPlatformAudit, None)
        .await?;
    super::audit::verify_chain(app, PartnerId::NIL).await
}
