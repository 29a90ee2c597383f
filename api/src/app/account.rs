//! An end user acting on their own account: signing in (with the key
//! derived from the master password, a reset's temporary password, or the
//! recovery key's verifier), finishing a reset (through the restricted
//! token or the emailed link), accepting an invitation (choosing the first
//! master password), registering a recovery key and recovering with it.
//!
//! Zero knowledge: the client derives an authentication key from the master
//! password, and the server keeps only its argon2id hash. Drawn secrets (a
//! temporary password, a link token, a recovery verifier) are compared by
//! keyed hash in constant time. Sign-ins and every change of credentials
//! are audited; failures are throttled per account and address.

use std::net::IpAddr;

use chrono::NaiveDateTime;
use secrecy::{ExposeSecret, SecretString};

use super::{App, Error, stored};
use crate::audit::{ActorKind, NewEvent};
use crate::auth::throttle::Path;
use crate::auth::{INVITATION_SECRET, RECOVERY_VERIFIER, RESET_SECRET};
use crate::authz::{Action, Principal, Resource};
use crate::db::types::{Delivery, UserStatus};
use crate::db::{DbConn, DbError, outbox, resets, users};
use crate::domain::Email;
use crate::ids::{CompanyId, PartnerId, UserId};

/// An account token's scope: the vault and the account.
pub const SCOPE_VAULT: &str = "vault";

/// A restricted account token's scope, from signing in with a reset's
/// temporary password: its only use is setting a new master password.
pub const SCOPE_MASTER_PASSWORD: &str = "master-password:set";

/// A restricted account token's scope, from signing in with a recovery
/// key's verifier: its only use is recovering the account.
pub const SCOPE_RECOVER: &str = "account:recover";

/// An end user signed in with an account token, acting now.
#[derive(Debug, Clone)]
pub struct AccountContext {
    pub user: UserId,
    pub company: CompanyId,
    pub partner: PartnerId,
    /// The token generation the caller's token was issued at.
    pub generation: i64,
    pub request_id: Option<String>,
    /// The client's address, for throttling.
    pub address: Option<IpAddr>,
    /// When the operation runs, read once from the [`crate::clock::Clock`].
    pub now: NaiveDateTime,
}

impl AccountContext {
    /// The user, to the authorizer.
    pub fn principal(&self) -> Principal {
        Principal::User {
            id: self.user,
            company: self.company,
            partner: self.partner,
        }
    }

    /// The user as the resource of their own actions.
    pub fn me(&self) -> Resource {
        Resource::User {
            id: self.user,
            company: self.company,
            partner: self.partner,
        }
    }

    /// The policies' word on the user acting on their own vault.
    pub fn authorize(&self, app: &App) -> Result<(), Error> {
        let decision = app
            .authz
            .decide(&self.principal(), &Action::UseOwnVault, &self.me());
        if decision.allowed {
            Ok(())
        } else {
            Err(Error::Forbidden {
                action: Action::UseOwnVault.name(),
                policy_ids: decision.policy_ids,
            })
        }
    }
}

/// The account context of an account token of `scope`: the token must be
/// good, of that scope, and still current (no reset, re-issue or change of
/// master password since bumped the user's token generation).
pub async fn context(
    app: &App,
    token: &str,
    scope: &'static str,
    request_id: Option<String>,
    address: Option<IpAddr>,
) -> Result<AccountContext, Error> {
    let claims = app
        .tokens
        .verify_account(token)
        .map_err(|e| Error::unauthorized(format!("token refused: {e}")))?;
    let (Some(partner), Some(user)) = (
        PartnerId::parse(&claims.partner),
        UserId::parse(&claims.sub),
    ) else {
        return Err(Error::unauthorized("token names no user"));
    };
    if claims.scope != scope {
        return Err(Error::unauthorized("the token's scope does not allow this"));
    }
    let found = app
        .db
        .run(move |conn| users::generation(conn, partner, user))
        .await?;
    let Some((company, generation)) = found else {
        return Err(Error::unauthorized(
            "the user no longer exists or is disabled",
        ));
    };
    if generation != claims.generation {
        return Err(Error::unauthorized("the token was revoked"));
    }
    Ok(AccountContext {
        user,
        company: stored(&company, CompanyId::parse, "company id")?,
        partner,
        generation,
        request_id,
        address,
        now: app.clock.now(),
    })
}

/// What a user signs in with: exactly one credential.
pub enum Credential {
    /// The authentication key derived from the master password.
    AuthKey(SecretString),
    /// A reset's temporary password (desktop users).
    TemporaryPassword(SecretString),
    /// The verifier derived from the user's recovery key.
    RecoveryVerifier(SecretString),
}

impl Credential {
    fn method(&self) -> &'static str {
        match self {
            Self::AuthKey(_) => "auth_key",
            Self::TemporaryPassword(_) => "temporary_password",
            Self::RecoveryVerifier(_) => "recovery_verifier",
        }
    }
}

/// An end user signing in.
pub struct SignIn {
    pub partner: PartnerId,
    /// Needed only when the email has accounts at several of the partner's
    /// companies.
    pub company: Option<CompanyId>,
    pub email: Email,
    pub credential: Credential,
    pub request_id: Option<String>,
    pub address: Option<IpAddr>,
}

/// A signed-in user's token.
pub struct SignedIn {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: &'static str,
    /// After a recovery verifier only: the vault key wrapped by the
    /// recovery key, for the client to unwrap.
    pub wrapped_vault_key: Option<Vec<u8>>,
}

/// Signs an end user in. A wrong credential and an unknown email answer
/// alike, after the same work (argon2 against a dummy hash for an unknown
/// account); failures are throttled, before any database or argon2 work;
/// every attempt is audited. A temporary password signs in to a token that
/// can only set a new master password, a recovery verifier to one that can
/// only recover.
pub async fn sign_in(app: &App, sign_in: SignIn) -> Result<SignedIn, Error> {
    let SignIn {
        partner,
        company,
        email,
        credential,
        request_id,
        address,
    } = sign_in;
    let account = format!("{partner}/{email}");
    let ticket = app
        .throttled(Path::AccountSignIn, Some(&account), address)
        .await?;
    let method = credential.method();
    let wants_pending = matches!(credential, Credential::TemporaryPassword(_));
    let wants_recovery = matches!(credential, Credential::RecoveryVerifier(_));
    let lookup = email.clone();
    let now = app.clock.now();
    let found = app
        .db
        .run(move |conn| {
            let Some((id, _, hash, generation)) =
                users::credentials(conn, partner, company, &lookup)?
            else {
                return Ok::<_, DbError>(None);
            };
            let user = stored(&id, UserId::parse, "user id")?;
            let pending = match wants_pending {
                true => resets::pending_secret(conn, user)?,
                false => None,
            };
            let recovery = match wants_recovery {
                true => users::recovery_key(conn, user)?,
                false => None,
            };
            Ok(Some((user, generation, hash, pending, recovery)))
        })
        .await?;
    let (signed_in, scope, wrapped_vault_key) = match credential {
        Credential::AuthKey(key) => {
            let stored = found.as_ref().and_then(|f| f.2.clone());
            (app.passwords.verify(key, stored).await, SCOPE_VAULT, None)
        }
        Credential::TemporaryPassword(temporary) => {
            let pending = found.as_ref().and_then(|f| f.3.as_ref());
            let good = pending.is_some_and(|pending| {
                pending.delivery_kind == Delivery::TemporaryPassword
                    && pending.secret_expires_at.is_some_and(|at| at > now)
                    && pending.secret_hash.as_deref().is_some_and(|hash| {
                        app.keys.verify_keyed_hash(
                            RESET_SECRET,
                            temporary.expose_secret().as_bytes(),
                            hash,
                        )
                    })
            });
            (good, SCOPE_MASTER_PASSWORD, None)
        }
        Credential::RecoveryVerifier(verifier) => {
            let registered = found.as_ref().and_then(|f| f.4.as_ref());
            let good = registered.is_some_and(|key| {
                app.keys.verify_keyed_hash(
                    RECOVERY_VERIFIER,
                    verifier.expose_secret().as_bytes(),
                    &key.verifier_hash,
                )
            });
            let wrapped = registered
                .filter(|_| good)
                .map(|key| key.wrapped_vault_key.clone());
            (good, SCOPE_RECOVER, wrapped)
        }
    };
    if signed_in {
        app.throttle.succeeded(ticket, app.clock.now()).await?;
    }
    let user = found.as_ref().map(|f| f.0);
    app.audit(NewEvent {
        partner: user.map(|_| partner),
        actor_kind: if signed_in {
            ActorKind::User
        } else {
            ActorKind::Anonymous
        },
        actor_id: user.filter(|_| signed_in).map(|u| u.to_string()),
        action: "signInAccount".into(),
        target_kind: Some("user".into()),
        target_id: user.map(|u| u.to_string()),
        allowed: signed_in,
        policy_ids: Vec::new(),
        request_id,
        details: serde_json::json!({ "email": email.as_str(), "method": method }),
    })
    .await?;
    let Some((user, generation, ..)) = found.filter(|_| signed_in) else {
        return Err(Error::unauthorized(
            "wrong email, key, temporary password or recovery verifier (an email with \
             accounts at several companies also names company_id)",
        ));
    };
    let (access_token, expires_in) =
        app.tokens
            .issue_account(&user.to_string(), &partner.to_string(), generation, scope);
    Ok(SignedIn {
        access_token,
        expires_in,
        scope,
        wrapped_vault_key,
    })
}

/// A new master password's key material, checked by the caller (its
/// shapes are the contract's), the key not hashed yet.
pub struct NewKey {
    /// The authentication key the client derived from the new master
    /// password.
    pub auth_key: SecretString,
    /// The client's key-derivation parameters, opaque to the server.
    pub kdf_params: Option<String>,
    /// The vault key encrypted under the new master password.
    pub vault_key: Vec<u8>,
}

/// New key material, its key hashed.
struct Material {
    hash: String,
    kdf_params: Option<String>,
    vault_key: Vec<u8>,
}

impl NewKey {
    /// Hashes the key (argon2id, on the password threads).
    async fn hash(self, app: &App) -> Material {
        Material {
            hash: app.passwords.hash(self.auth_key).await,
            kdf_params: self.kdf_params,
            vault_key: self.vault_key,
        }
    }
}

/// Finishes the user's pending reset with the restricted token from
/// signing in with its temporary password: stores the new key material,
/// completes the reset (its secret dies), activates the user and refuses
/// every earlier token, the restricted one included; the user is emailed.
pub async fn set_master_password(
    app: &App,
    ctx: &AccountContext,
    key: NewKey,
) -> Result<(), Error> {
    ctx.authorize(app)?;
    let material = key.hash(app).await;
    let user = ctx.user;
    let done = change_master_password(
        app,
        ctx,
        material,
        Change::FinishReset {
            via: "restricted_token",
        },
        move |conn, now| resets::complete_pending(conn, user, now),
    )
    .await?;
    if !done {
        return Err(Error::unauthorized("the reset is no longer pending"));
    }
    Ok(())
}

/// Finishes a reset with the token of its emailed single-use link (webapp
/// users): the token is the credential. A token that is wrong, expired,
/// used or superseded is refused alike, audited, and throttled per address.
pub async fn complete_reset_link(
    app: &App,
    token: SecretString,
    key: NewKey,
    request_id: Option<String>,
    address: Option<IpAddr>,
) -> Result<(), Error> {
    const REFUSED: &str = "the link is not valid: it may have expired, been used or been replaced";
    // A 256-bit token cannot be guessed, but refusals cost an audit write:
    // they are throttled per address as sign-ins are.
    let ticket = app.throttled(Path::ResetLink, None, address).await?;
    let secret_hash = app
        .keys
        .keyed_hash(RESET_SECRET, token.expose_secret().as_bytes());
    let now = app.clock.now();
    let lookup = secret_hash.clone();
    let found = app
        .db
        .run(move |conn| {
            let Some(found) = resets::pending_by_secret(conn, &lookup)? else {
                return Ok::<_, DbError>(None);
            };
            let (partner, user) = (found.partner_id, found.user_id);
            let usable = found.delivery_kind == Delivery::Link
                && found.secret_expires_at.is_some_and(|at| at > now);
            let Some((company, generation)) =
                users::generation(conn, partner, user)?.filter(|_| usable)
            else {
                return Ok(None);
            };
            let company = stored(&company, CompanyId::parse, "company id")?;
            Ok(Some((found.reset_id, partner, user, company, generation)))
        })
        .await?;
    let Some((reset, partner, user, company, generation)) = found else {
        return Err(refused_link(
            app,
            "redeemResetLink",
            "no pending link reset has this token",
            request_id,
            REFUSED,
        )
        .await);
    };
    let ctx = AccountContext {
        user,
        company,
        partner,
        generation,
        request_id,
        address,
        now: app.clock.now(),
    };
    ctx.authorize(app)?;
    let material = key.hash(app).await;
    let done = change_master_password(
        app,
        &ctx,
        material,
        Change::FinishReset { via: "link" },
        move |conn, now| resets::complete_with_secret(conn, reset, &secret_hash, now),
    )
    .await?;
    if !done {
        return Err(Error::unauthorized(REFUSED));
    }
    app.throttle.succeeded(ticket, app.clock.now()).await?;
    Ok(())
}

/// A link's token that opens nothing: the refusal is audited (outside any
/// partner: the token names none) and answered 401 with `answer`, alike
/// for every reason.
pub(super) async fn refused_link(
    app: &App,
    action: &str,
    why: &str,
    request_id: Option<String>,
    answer: &str,
) -> Error {
    let audited = app
        .audit(NewEvent {
            partner: None,
            actor_kind: ActorKind::Anonymous,
            actor_id: None,
            action: action.into(),
            target_kind: None,
            target_id: None,
            allowed: false,
            policy_ids: Vec::new(),
            request_id,
            details: serde_json::json!({ "refused": why }),
        })
        .await;
    match audited {
        Ok(()) => Error::unauthorized(answer.to_owned()),
        Err(error) => error,
    }
}

/// Accepts an invitation with the token of its emailed single-use link:
/// the invited user's first key material is stored and they become
/// `active`. A token that is wrong, expired, used or replaced by a newer
/// invitation is refused alike, audited, and throttled per address. The
/// client then signs in with the key, as after any change of master
/// password.
pub async fn accept_invitation(
    app: &App,
    token: SecretString,
    key: NewKey,
    request_id: Option<String>,
    address: Option<IpAddr>,
) -> Result<(), Error> {
    const REFUSED: &str =
        "the invitation is not valid: it may have expired, been used or been sent again";
    let ticket = app.throttled(Path::Invitation, None, address).await?;
    let hash = app
        .keys
        .keyed_hash(INVITATION_SECRET, token.expose_secret().as_bytes());
    let now = app.clock.now();
    let lookup = hash.clone();
    let found = app
        .db
        .run(move |conn| users::invitation(conn, &lookup))
        .await?
        .filter(|found| {
            found.status == UserStatus::Invited && found.expires_at.is_some_and(|at| at > now)
        });
    let Some(found) = found else {
        return Err(refused_link(
            app,
            "acceptInvitation",
            "no open invitation has this token",
            request_id,
            REFUSED,
        )
        .await);
    };
    let ctx = AccountContext {
        user: found.user,
        company: found.company,
        partner: found.partner,
        generation: found.generation,
        request_id,
        address,
        now,
    };
    ctx.authorize(app)?;
    let material = key.hash(app).await;
    let keys = app.keys.clone();
    let event = ctx.event("acceptInvitation", true);
    let (partner, user) = (ctx.partner, ctx.user);
    let accepted = app
        .db
        .write(move |conn| {
            resets::lock_user(conn, partner, user)?;
            let accepted = users::accept_invitation(
                conn,
                user,
                &hash,
                (
                    &material.hash,
                    material.kdf_params.as_deref(),
                    &material.vault_key,
                ),
                now,
            )?;
            if accepted {
                crate::audit::append(conn, &keys, event)?;
            }
            Ok::<_, DbError>(accepted)
        })
        .await?;
    if !accepted {
        return Err(Error::unauthorized(REFUSED));
    }
    app.throttle.succeeded(ticket, app.clock.now()).await?;
    Ok(())
}

/// Registers a recovery key: the keyed hash of the verifier the client
/// derived from it, and the vault key wrapped by it, replacing any earlier
/// registration, after checking the account's current key (throttled, a
/// refusal audited); the user is emailed.
pub async fn set_recovery_key(
    app: &App,
    ctx: &AccountContext,
    auth_key: SecretString,
    verifier: &str,
    wrapped_vault_key: Vec<u8>,
) -> Result<(), Error> {
    ctx.authorize(app)?;
    let verifier_hash = app.keys.keyed_hash(RECOVERY_VERIFIER, verifier.as_bytes());
    let (partner, user) = (ctx.partner, ctx.user);
    let account = user.to_string();
    let ticket = app
        .throttled(Path::RecoveryKey, Some(&account), ctx.address)
        .await?;
    let hash = app
        .db
        .run(move |conn| users::auth_key_hash(conn, partner, user))
        .await?;
    if !app.passwords.verify(auth_key, hash).await {
        let mut event = ctx.event("setRecoveryKey", false);
        event.details = serde_json::json!({ "refused": "wrong auth_key" });
        app.audit(event).await?;
        return Err(Error::invalid("auth_key", "is not the key of this account"));
    }
    app.throttle.succeeded(ticket, app.clock.now()).await?;
    let now = app.clock.now();
    let keys = app.keys.clone();
    let event = ctx.event("setRecoveryKey", true);
    let generation = ctx.generation;
    let registered = app
        .db
        .write(move |conn| {
            // Under the user's lock, the token must still be current: a
            // reset committed meanwhile forgot the recovery key on purpose.
            resets::lock_user(conn, partner, user)?;
            let current = users::generation(conn, partner, user)?.map(|(_, g)| g);
            let active =
                users::find(conn, partner, user)?.is_some_and(|u| u.status == UserStatus::Active);
            if current != Some(generation) || !active {
                return Ok::<_, DbError>(false);
            }
            users::set_recovery_key(conn, user, &verifier_hash, &wrapped_vault_key, now)?;
            email_user(
                conn,
                &keys,
                (partner, user),
                "recovery_key_set",
                "set_at",
                now,
            )?;
            crate::audit::append(conn, &keys, event).map(|_| true)
        })
        .await?;
    if !registered {
        return Err(Error::unauthorized("the token was revoked"));
    }
    app.outbox.wake();
    Ok(())
}

/// Recovers the account with the restricted token from signing in with the
/// recovery key's verifier: sets the new key material (the vault key the
/// client unwrapped, under the new master password). Nothing is purged and
/// no reset is involved. Every earlier token dies; the user is emailed.
pub async fn recover(app: &App, ctx: &AccountContext, key: NewKey) -> Result<(), Error> {
    ctx.authorize(app)?;
    let material = key.hash(app).await;
    let (partner, user) = (ctx.partner, ctx.user);
    let done = change_master_password(
        app,
        ctx,
        material,
        Change::Recovery,
        // Single use: the change bumps the generation the token carries.
        // Not while a reset is pending: that user has no vault to recover
        // (the reset forgot the recovery key too; this is belt and braces).
        move |conn, _| {
            Ok(users::find(conn, partner, user)?.is_some_and(|u| u.status == UserStatus::Active))
        },
    )
    .await?;
    if !done {
        return Err(Error::unauthorized("the token was revoked"));
    }
    Ok(())
}

impl AccountContext {
    /// An audit event of this user's, on their own account.
    fn event(&self, action: &str, allowed: bool) -> NewEvent {
        NewEvent {
            partner: Some(self.partner),
            actor_kind: ActorKind::User,
            actor_id: Some(self.user.to_string()),
            action: action.into(),
            target_kind: Some("user".into()),
            target_id: Some(self.user.to_string()),
            allowed,
            policy_ids: Vec::new(),
            request_id: self.request_id.clone(),
            details: serde_json::json!({}),
        }
    }
}

/// Why a master password changes.
enum Change {
    /// A reset is finished (through its restricted token, or its link).
    FinishReset { via: &'static str },
    /// The user recovered with their recovery key: nothing was purged.
    Recovery,
}

/// Changes the master password in one transaction: `complete` checks the
/// change may still happen (and records what it finishes), then the new key
/// material is stored (which bumps the token generation: every earlier
/// token dies), the user is emailed that the master password changed (ASVS
/// 2.5.5) and the change audited. Whether `complete` let it happen.
async fn change_master_password(
    app: &App,
    ctx: &AccountContext,
    material: Material,
    change: Change,
    complete: impl FnOnce(&mut DbConn, NaiveDateTime) -> Result<bool, DbError> + Send + 'static,
) -> Result<bool, Error> {
    let now = app.clock.now();
    let keys = app.keys.clone();
    let (action, details) = match change {
        Change::FinishReset { via } => (
            "setMasterPassword",
            serde_json::json!({ "completes": "master_password_reset", "via": via }),
        ),
        Change::Recovery => ("recoverAccount", serde_json::json!({ "vault_kept": true })),
    };
    let mut event = ctx.event(action, true);
    event.details = details;
    let (user, partner, generation) = (ctx.user, ctx.partner, ctx.generation);
    let done = app
        .db
        .write(move |conn| {
            // The user's row first, as every change of a user's reset takes
            // it (no lock-order deadlock), then the token (or link) must
            // still be current: a re-issue, a reset or an earlier change of
            // the master password since bumped the generation.
            resets::lock_user(conn, partner, user)?;
            let current = users::generation(conn, partner, user)?.map(|(_, g)| g);
            if current != Some(generation) || !complete(conn, now)? {
                return Ok::<_, DbError>(false);
            }
            users::set_master_password(
                conn,
                user,
                &material.hash,
                material.kdf_params.as_deref(),
                &material.vault_key,
                now,
            )?;
            email_user(
                conn,
                &keys,
                (partner, user),
                "master_password_changed",
                "changed_at",
                now,
            )?;
            crate::audit::append(conn, &keys, event)?;
            Ok(true)
        })
        .await?;
    if done {
        app.outbox.wake();
    }
    Ok(done)
}

/// Queues an email of `template` to the user, in their locale, whose
/// payload is their name and `at_field` set to `now`; nothing for a user
/// that is gone.
fn email_user(
    conn: &mut DbConn,
    keys: &crate::auth::keys::ServerKeys,
    (partner, user): (PartnerId, UserId),
    template: &str,
    at_field: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    let Some((name, email, locale)) = users::contact(conn, user)? else {
        return Ok(());
    };
    let mut payload = serde_json::json!({ "name": name });
    payload[at_field] = serde_json::json!(now);
    outbox::queue(
        conn,
        keys,
        partner,
        outbox::Email {
            template,
            locale: &locale,
            recipient: &email,
            payload: &payload,
            now,
        },
    )?;
    Ok(())
}
