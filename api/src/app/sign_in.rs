//! Admins and API clients proving who they are: an admin's password, an
//! API client's secret, and an admin replacing their own password.
//!
//! A wrong password and an unknown email answer alike, after the same
//! argon2 work; a wrong secret and an unknown client after the same HMAC
//! work (an API client's secret is drawn, so a keyed hash suffices:
//! `docs/design.md`, "Which hash for which secret"). Every attempt is
//! counted by the throttle before any database or hashing work, and
//! audited: to the account's partner when it is known, to the chain of no
//! partner otherwise.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};

use super::{Actor, App, Error, OpContext};
use crate::audit::{ActorKind, NewEvent};
use crate::auth::API_CLIENT_SECRET;
use crate::auth::throttle::Path;
use crate::authz::{Action, Resource};
use crate::db::DbError;
use crate::db::admins::{self, Admin};
use crate::db::api_clients::{self, ApiClient};
use crate::domain::Email;
use crate::ids::{ApiClientId, PartnerId};

/// A password's length, in characters.
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 12..=128;

/// A new password must have [`PASSWORD_CHARS`] characters; 422 naming
/// `field` otherwise.
pub fn check_password_length(field: &str, password: &SecretString) -> Result<(), Error> {
    let chars = password.expose_secret().chars().count();
    if PASSWORD_CHARS.contains(&chars) {
        return Ok(());
    }
    Err(Error::invalid(
        field,
        format!(
            "must be {} to {} characters",
            PASSWORD_CHARS.start(),
            PASSWORD_CHARS.end()
        ),
    ))
}

/// Checks an admin's password. `Ok(None)` for a wrong email or password
/// (one answer for both); the admin when it is right.
pub async fn admin(
    app: &App,
    partner: PartnerId,
    email: Email,
    password: SecretString,
    request_id: Option<String>,
    address: Option<IpAddr>,
) -> Result<Option<Admin>, Error> {
    let account = format!("{partner}/{email}");
    let ticket = app
        .throttled(Path::AdminSignIn, Some(&account), address)
        .await?;
    let lookup = email.clone();
    let admin = app
        .db
        .run(move |conn| admins::find_by_email(conn, partner, &lookup))
        .await?;
    let hash = admin.as_ref().map(|a| a.password_hash.clone());
    let signed_in = app.passwords.verify(password, hash).await;
    if signed_in {
        app.throttle.succeeded(ticket, app.clock.now()).await?;
    }
    let admin_partner = admin.as_ref().map(|a| a.partner_id);
    app.audit(NewEvent {
        partner: admin_partner,
        actor_kind: if signed_in {
            ActorKind::Admin
        } else {
            ActorKind::Anonymous
        },
        actor_id: admin
            .as_ref()
            .filter(|_| signed_in)
            .map(|a| a.id.to_string()),
        action: "signIn".into(),
        target_kind: Some("admin".into()),
        target_id: admin.as_ref().map(|a| a.id.to_string()),
        allowed: signed_in,
        policy_ids: Vec::new(),
        request_id,
        details: serde_json::json!({
            "grant_type": "password",
            "username": email.as_str(),
        }),
    })
    .await?;
    Ok(admin.filter(|_| signed_in))
}

/// Checks an API client's secret. `Ok(None)` for a wrong id or secret (one
/// answer for both); the client when it is right, its last use recorded.
pub async fn api_client(
    app: &App,
    id: ApiClientId,
    secret: SecretString,
    request_id: Option<String>,
    address: Option<IpAddr>,
) -> Result<Option<ApiClient>, Error> {
    let account = id.to_string();
    let ticket = app
        .throttled(Path::ClientSignIn, Some(&account), address)
        .await?;
    let client = app
        .db
        .run(move |conn| api_clients::find_by_id(conn, id))
        .await?;
    let secret = secret.expose_secret().as_bytes();
    let signed_in = app.keys.verify_keyed_hash_of(
        API_CLIENT_SECRET,
        secret,
        client.as_ref().map(|c| c.secret_hash.as_slice()),
    );
    if signed_in {
        app.throttle.succeeded(ticket, app.clock.now()).await?;
    }
    let client_partner = client.as_ref().map(|c| c.partner_id);
    let event = NewEvent {
        partner: client_partner,
        actor_kind: if signed_in {
            ActorKind::ApiClient
        } else {
            ActorKind::Anonymous
        },
        actor_id: client
            .as_ref()
            .filter(|_| signed_in)
            .map(|c| c.id.to_string()),
        action: "signIn".into(),
        target_kind: Some("api_client".into()),
        target_id: client.as_ref().map(|c| c.id.to_string()),
        allowed: signed_in,
        policy_ids: Vec::new(),
        request_id,
        details: serde_json::json!({ "grant_type": "client_credentials" }),
    };
    let keys = app.keys.clone();
    let now = app.clock.now();
    app.db
        .write(move |conn| {
            if signed_in {
                api_clients::touch(conn, id, now)?;
            }
            crate::audit::append(conn, &keys, event).map(drop)
        })
        .await?;
    Ok(client.filter(|_| signed_in))
}

/// Replaces the caller's own password, after checking the current one
/// (throttled per admin and address: a stolen token must not become a way
/// to guess it). Every token issued before is refused afterwards. An API
/// client has no password: the policies permit this to admins only.
pub async fn change_password(
    app: &App,
    ctx: &OpContext,
    current: SecretString,
    new: SecretString,
    address: Option<IpAddr>,
) -> Result<(), Error> {
    let me = ctx.principal.as_resource();
    ctx.authorize(app, Action::ChangeOwnPassword, &me).await?;
    let (Resource::Admin { id, .. }, Actor::Admin(admin)) = (&me, &ctx.actor) else {
        return Err(Error::Storage(DbError::Corrupt(
            "the policies allowed a password change to a caller without one".into(),
        )));
    };
    let id = *id;
    check_password_length("new_password", &new)?;
    if new.expose_secret() == current.expose_secret() {
        return Err(Error::invalid(
            "new_password",
            "must differ from the current password",
        ));
    }
    let account = id.to_string();
    let ticket = app
        .throttled(Path::PasswordChange, Some(&account), address)
        .await?;
    let hash = Some(admin.password_hash.clone());
    if !app.passwords.verify(current, hash).await {
        return Err(Error::invalid(
            "current_password",
            "is not the password of this account",
        ));
    }
    app.throttle.succeeded(ticket, app.clock.now()).await?;
    let hash = app.passwords.hash(new).await;
    let partner = ctx.partner;
    let event = ctx.event("changePassword", "admin", id.to_string(), true, Vec::new());
    let keys = app.keys.clone();
    let now = app.clock.now();
    let changed = app
        .db
        .write(move |conn| {
            let changed = admins::set_password(conn, partner, id, &hash, now)?;
            crate::audit::append(conn, &keys, event)?;
            Ok::<_, DbError>(changed)
        })
        .await?;
    if !changed {
        return Err(Error::NotFound);
    }
    Ok(())
}
