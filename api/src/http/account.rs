//! The end user's side: `POST /v1/account/token` and the vault,
//! `GET /v1/account/vault/items`, `PUT/DELETE /v1/account/vault/items/{item_id}`.
//!
//! Zero knowledge: the client derives an authentication key from the master
//! password, and the server keeps only its argon2id hash; vault items are
//! ciphertext the server stores as bytes and never opens. When the user's
//! company has the backup profile on, a company-profile item's upload carries
//! its backup copy (the same item encrypted by the client to the company's
//! backup public key), stored beside the item for that revision. Vault writes
//! are the user's routine and are not written to the audit log; sign-ins are.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, delete, get, post, put, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::future::LocalBoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::vault as vault_ops;
use crate::audit::{self, ActorKind, NewEvent};
use crate::auth::throttle::Path;
use crate::auth::{RECOVERY_VERIFIER, RESET_SECRET};
use crate::db::DbError;
use crate::db::vault::VaultItem;
use crate::db::{outbox, resets, users};
use crate::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::time::Timestamp;
use crate::http::values;
use crate::http::{AppState, request_id, throttled};
use crate::ids::{CompanyId, PartnerId, UserId};

/// An account token's scope: the vault and the account.
pub const SCOPE_VAULT: &str = "vault";

/// A restricted account token's scope, from signing in with a reset's
/// temporary password: its only use is setting a new master password.
pub const SCOPE_MASTER_PASSWORD: &str = "master-password:set";

/// A restricted account token's scope, from signing in with a recovery
/// key's verifier: its only use is `POST /v1/account/recovery`.
pub const SCOPE_RECOVER: &str = "account:recover";

/// An end user signed in with an account token: the context their
/// operations run in.
pub type AccountCaller = crate::app::AccountContext;

fn unauthorized(reason: impl Into<String>) -> ApiError {
    ApiError::Unauthorized {
        reason: reason.into(),
    }
}

/// Queues an email of `template` to the user, in their locale, whose
/// payload is their name and `at_field` set to `now`; nothing for a user
/// that is gone.
fn email_user(
    conn: &mut crate::db::DbConn,
    keys: &crate::auth::keys::ServerKeys,
    (partner, user): (PartnerId, UserId),
    template: &str,
    at_field: &str,
    now: chrono::NaiveDateTime,
) -> Result<(), crate::db::DbError> {
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

/// Verifies an account token of `scope` and checks it is still current.
async fn account_caller(req: HttpRequest, scope: &'static str) -> Result<AccountCaller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no AppState")))?
        .clone();
    let token = crate::http::caller::bearer(&req)?;
    let claims = state
        .tokens
        .verify_account(&token)
        .map_err(|e| unauthorized(format!("token refused: {e}")))?;
    let (Some(partner), Some(user)) = (
        PartnerId::parse(&claims.partner),
        UserId::parse(&claims.sub),
    ) else {
        return Err(unauthorized("token names no user"));
    };
    if claims.scope != scope {
        return Err(unauthorized("the token's scope does not allow this"));
    }
    let found = state
        .db
        .run(move |conn| users::generation(conn, partner, user))
        .await?;
    let Some((company, generation)) = found else {
        return Err(unauthorized("the user no longer exists"));
    };
    if generation != claims.generation {
        return Err(unauthorized("the token was revoked"));
    }
    let company = CompanyId::parse(&company)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("user {user} has a bad company")))?;
    let request_id = request_id(&req);
    Ok(AccountCaller {
        user,
        company,
        partner,
        generation,
        request_id,
        now: state.clock.now(),
    })
}

impl FromRequest for AccountCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(account_caller(req.clone(), SCOPE_VAULT))
    }
}

/// A user signed in with a reset's temporary password: the token's only use
/// is setting a new master password.
#[derive(Debug, Clone)]
pub struct ResettingUser(pub AccountCaller);

impl FromRequest for ResettingUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            account_caller(req, SCOPE_MASTER_PASSWORD)
                .await
                .map(ResettingUser)
        })
    }
}

/// A user signed in with their recovery key's verifier: the token's only
/// use is `POST /v1/account/recovery`.
#[derive(Debug, Clone)]
pub struct RecoveringUser(pub AccountCaller);

impl FromRequest for RecoveringUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { account_caller(req, SCOPE_RECOVER).await.map(RecoveringUser) })
    }
}

/// An end user signing in, as the server reads it; the contract describes
/// it as [`AccountSignIn`], one of three shapes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInFields {
    pub partner_id: uuid::Uuid,
    pub company_id: Option<uuid::Uuid>,
    pub email: crate::http::values::EmailAddress,
    pub auth_key: Option<SecretString>,
    pub temporary_password: Option<SecretString>,
    pub recovery_verifier: Option<SecretString>,
}

/// An end user signing in: the partner, the email and exactly one
/// credential.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AccountSignIn {
    Key(KeySignIn),
    TemporaryPassword(TemporaryPasswordSignIn),
    RecoveryVerifier(RecoveryVerifierSignIn),
}

/// Signing in with the key derived from the master password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySignIn {
    /// The user's partner (the MSP), as configured in the client.
    pub partner_id: uuid::Uuid,
    /// The user's company: needed only when the email has accounts at
    /// several of the partner's companies (an email is unique within a
    /// company), as configured in the client.
    #[serde(default)]
    pub company_id: Option<uuid::Uuid>,
    pub email: crate::http::values::EmailAddress,
    /// The authentication key the client derived from the master password
    /// (never the master password itself), base64.
    #[schema(format = Password)]
    pub auth_key: String,
}

/// Signing in with a reset's temporary master password (desktop users): the
/// token answered is restricted to setting a new master password (`scope`
/// `master-password:set`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemporaryPasswordSignIn {
    pub partner_id: uuid::Uuid,
    /// The user's company: needed only when the email has accounts at
    /// several of the partner's companies (an email is unique within a
    /// company), as configured in the client.
    #[serde(default)]
    pub company_id: Option<uuid::Uuid>,
    pub email: crate::http::values::EmailAddress,
    #[schema(format = Password)]
    pub temporary_password: String,
}

/// Signing in with the verifier the client derived from the user's recovery
/// key (as registered with `PUT /v1/account/recovery-key`): the token
/// answered is restricted to `POST /v1/account/recovery` (`scope`
/// `account:recover`) and comes with the wrapped vault key.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryVerifierSignIn {
    pub partner_id: uuid::Uuid,
    /// The user's company: needed only when the email has accounts at
    /// several of the partner's companies (an email is unique within a
    /// company), as configured in the client.
    #[serde(default)]
    pub company_id: Option<uuid::Uuid>,
    pub email: crate::http::values::EmailAddress,
    #[schema(format = Password)]
    pub recovery_verifier: String,
}

/// An account token.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountTokenResponse {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// `vault`; `master-password:set` after a temporary password;
    /// `account:recover` after a recovery verifier.
    pub scope: String,
    /// After a recovery verifier only: the vault key wrapped by the recovery
    /// key (base64), for the client to unwrap and encrypt under the new
    /// master password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapped_vault_key: Option<String>,
}

/// A sign-in sent no credential, or more than one.
fn one_credential() -> ApiError {
    ApiError::invalid(
        "auth_key",
        "send exactly one of auth_key, temporary_password and recovery_verifier",
    )
}

/// Sign an end user in
///
/// Answers an account token (its own audience: it is never an admin
/// token). A wrong key and an unknown email answer alike, after the same
/// argon2 work; failures are throttled as admins' are. With a reset's
/// temporary password instead of the key, the token can only set a new
/// master password; a temporary password that is wrong, expired, already
/// used or superseded answers the same 401.
#[utoipa::path(
    operation_id = "account_token_create",
    tag = "account",
    request_body = AccountSignIn,
    responses(
        (status = 200, description = "The token", body = AccountTokenResponse),
        (status = 401, description = "Wrong email or key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/account/token")]
pub async fn account_token_create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Json(sign_in): Json<SignInFields>,
) -> Result<HttpResponse, ApiError> {
    let partner = PartnerId::from_uuid(sign_in.partner_id);
    let company = sign_in.company_id.map(CompanyId::from_uuid);
    let email = sign_in.email.0;
    let credentials = [
        sign_in.auth_key.is_some(),
        sign_in.temporary_password.is_some(),
        sign_in.recovery_verifier.is_some(),
    ];
    if credentials.iter().filter(|sent| **sent).count() != 1 {
        return Err(one_credential());
    }
    // Counted before any database or argon2 work.
    let account = format!("{partner}/{email}");
    let ticket = throttled(&state, Path::AccountSignIn, Some(&account), &req).await?;
    let lookup = email.clone();
    let mut wrapped_vault_key = None;
    let (found, signed_in, scope, method) = match (
        sign_in.auth_key,
        sign_in.temporary_password,
        sign_in.recovery_verifier,
    ) {
        (Some(auth_key), None, None) => {
            let found = state
                .db
                .run(move |conn| users::credentials(conn, partner, company, &lookup))
                .await?;
            let stored = found.as_ref().and_then(|f| f.2.clone());
            let signed_in = state.passwords.verify(auth_key, stored).await;
            let found = found.map(|(id, _, _, generation)| (id, generation));
            (found, signed_in, SCOPE_VAULT, "auth_key")
        }
        (None, Some(temporary), None) => {
            let now = state.clock.now();
            let found = state
                .db
                .run(move |conn| {
                    let Some((id, _, _, generation)) =
                        users::credentials(conn, partner, company, &lookup)?
                    else {
                        return Ok::<_, DbError>(None);
                    };
                    let Some(user) = UserId::parse(&id) else {
                        return Ok(None);
                    };
                    let pending = resets::pending_secret(conn, user)?;
                    Ok(Some((id, generation, pending)))
                })
                .await?;
            // Drawn secrets are compared by keyed hash in constant time (no
            // argon2: docs/design.md, "Which hash for which secret").
            let signed_in = found
                .as_ref()
                .and_then(|(_, _, pending)| pending.as_ref())
                .is_some_and(|pending| {
                    pending.delivery_kind == "temporary_password"
                        && pending.secret_expires_at > now
                        && pending.secret_hash.as_deref().is_some_and(|hash| {
                            state.keys.verify_keyed_hash(
                                RESET_SECRET,
                                temporary.expose_secret().as_bytes(),
                                hash,
                            )
                        })
                });
            let found = found.map(|(id, generation, _)| (id, generation));
            (
                found,
                signed_in,
                SCOPE_MASTER_PASSWORD,
                "temporary_password",
            )
        }
        (None, None, Some(verifier)) => {
            let found = state
                .db
                .run(move |conn| {
                    let Some((id, _, _, generation)) =
                        users::credentials(conn, partner, company, &lookup)?
                    else {
                        return Ok::<_, DbError>(None);
                    };
                    let Some(user) = UserId::parse(&id) else {
                        return Ok(None);
                    };
                    Ok(Some((id, generation, users::recovery_key(conn, user)?)))
                })
                .await?;
            // A drawn secret: keyed hash, constant-time comparison.
            let registered = found.as_ref().and_then(|(_, _, key)| key.as_ref());
            let signed_in = registered.is_some_and(|key| {
                state.keys.verify_keyed_hash(
                    RECOVERY_VERIFIER,
                    verifier.expose_secret().as_bytes(),
                    &key.verifier_hash,
                )
            });
            if signed_in {
                wrapped_vault_key = registered.map(|key| STANDARD.encode(&key.wrapped_vault_key));
            }
            let found = found.map(|(id, generation, _)| (id, generation));
            (found, signed_in, SCOPE_RECOVER, "recovery_verifier")
        }
        _ => return Err(one_credential()),
    };
    if signed_in {
        state.throttle.succeeded(ticket, state.clock.now()).await?;
    }
    let request_id = request_id(&req);
    let event = NewEvent {
        partner: found.as_ref().map(|_| partner),
        actor_kind: if signed_in {
            ActorKind::User
        } else {
            ActorKind::Anonymous
        },
        actor_id: found.as_ref().filter(|_| signed_in).map(|f| f.0.clone()),
        action: "signInAccount".into(),
        target_kind: Some("user".into()),
        target_id: found.as_ref().map(|f| f.0.clone()),
        allowed: signed_in,
        policy_ids: Vec::new(),
        request_id,
        details: serde_json::json!({ "email": email.as_str(), "method": method }),
    };
    let keys = state.keys.clone();
    state
        .db
        .write(move |conn| audit::append(conn, &keys, event).map(drop))
        .await?;
    let Some((id, generation)) = found.filter(|_| signed_in) else {
        return Err(unauthorized(
            "wrong email, key, temporary password or recovery verifier (an email with \
             accounts at several companies also names company_id)",
        ));
    };
    let (access_token, expires_in) =
        state
            .tokens
            .issue_account(&id, &partner.to_string(), generation, scope);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AccountTokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            scope: scope.into(),
            wrapped_vault_key,
        }))
}

/// A new master password's material, from the client: the server never sees
/// the master password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMasterPassword {
    /// The authentication key the client derived from the new master
    /// password, base64; the server keeps its argon2id hash.
    #[schema(value_type = String, format = Password)]
    pub auth_key: SecretString,
    /// The client's key-derivation parameters, opaque to the server (at most
    /// 1,024 characters).
    pub kdf_params: Option<String>,
    /// The vault key encrypted under the new master password, base64 (at
    /// most 4 KiB once decoded).
    pub encrypted_vault_key: String,
}

/// Set a new master password (finishing a reset)
///
/// With the restricted token from signing in with a reset's temporary
/// password: stores the new key material, completes the reset (its secret
/// dies), activates the user and refuses every earlier token, the
/// restricted one included; the user is emailed that the master password
/// changed. The vault starts empty: the reset purged it.
#[utoipa::path(
    operation_id = "account_master_password_set",
    tag = "account",
    security(("account" = [])),
    request_body = NewMasterPassword,
    responses(
        (status = 204, description = "Set; sign in with the new key"),
        (status = 401, description = "No valid restricted token, or the reset is no longer pending", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/account/master-password")]
pub async fn account_master_password_set(
    caller: ResettingUser,
    state: web::Data<AppState>,
    Json(new): Json<NewMasterPassword>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller.0;
    caller.authorize(&state)?;
    let material = Material::check(new, &state).await?;
    let user = caller.user;
    let done = change_master_password(
        &state,
        &caller,
        material,
        Change::FinishReset {
            via: "restricted_token",
        },
        move |conn, now| resets::complete_pending(conn, user, now),
    )
    .await?;
    if !done {
        return Err(unauthorized("the reset is no longer pending"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A new master password's material, checked, its key hashed (argon2id, off
/// the executor).
struct Material {
    hash: String,
    kdf_params: Option<String>,
    vault_key: Vec<u8>,
}

/// A new master password's material, checked, its key not hashed yet.
struct Checked {
    auth_key: SecretString,
    kdf_params: Option<String>,
    vault_key: Vec<u8>,
}

impl Checked {
    /// Hashes the key (argon2id, on the password threads).
    async fn hash(self, state: &AppState) -> Material {
        Material {
            hash: state.passwords.hash(self.auth_key).await,
            kdf_params: self.kdf_params,
            vault_key: self.vault_key,
        }
    }
}

impl Material {
    async fn check(new: NewMasterPassword, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self::validate(new)?.hash(state).await)
    }

    /// The checks alone, cheap: what a client sent wrong answers 422 before
    /// any other work.
    fn validate(new: NewMasterPassword) -> Result<Checked, ApiError> {
        values::checked("auth_key", new.auth_key.expose_secret(), values::AUTH_KEY)?;
        let vault_key = values::base64(
            "encrypted_vault_key",
            &new.encrypted_vault_key,
            values::VAULT_KEY,
        )?;
        if let Some(params) = &new.kdf_params {
            values::checked("kdf_params", params, values::KDF_PARAMS)?;
        }
        Ok(Checked {
            auth_key: new.auth_key,
            kdf_params: new.kdf_params,
            vault_key,
        })
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
    state: &web::Data<AppState>,
    caller: &AccountCaller,
    material: Material,
    change: Change,
    complete: impl FnOnce(
        &mut crate::db::DbConn,
        chrono::NaiveDateTime,
    ) -> Result<bool, crate::db::DbError>
    + Send
    + 'static,
) -> Result<bool, ApiError> {
    let now = state.clock.now();
    let keys = state.keys.clone();
    let event = NewEvent {
        partner: Some(caller.partner),
        actor_kind: ActorKind::User,
        actor_id: Some(caller.user.to_string()),
        action: match change {
            Change::FinishReset { .. } => "setMasterPassword",
            Change::Recovery => "recoverAccount",
        }
        .into(),
        target_kind: Some("user".into()),
        target_id: Some(caller.user.to_string()),
        allowed: true,
        policy_ids: Vec::new(),
        request_id: caller.request_id.clone(),
        details: match change {
            Change::FinishReset { via } => {
                serde_json::json!({ "completes": "master_password_reset", "via": via })
            }
            Change::Recovery => serde_json::json!({ "vault_kept": true }),
        },
    };
    let (user, partner, generation) = (caller.user, caller.partner, caller.generation);
    let done = state
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
            audit::append(conn, &keys, event)?;
            Ok(true)
        })
        .await?;
    if done {
        state.outbox.wake();
    }
    Ok(done)
}

/// A webapp user's new master password, with the reset link's token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetLinkCompletion {
    /// The token from the emailed link's fragment (`#token=…`).
    #[schema(value_type = String, format = Password)]
    pub token: SecretString,
    /// As in `NewMasterPassword`.
    #[schema(value_type = String, format = Password)]
    pub auth_key: SecretString,
    pub kdf_params: Option<String>,
    pub encrypted_vault_key: String,
}

/// Finish a reset with its link (webapp users)
///
/// The token of the emailed single-use link is the credential: no bearer
/// token. Stores the new key material, completes the reset (the link
/// dies), activates the user and refuses every earlier token; the user is
/// emailed that the master password changed. A token that is wrong,
/// expired, already used or superseded answers the same 401, and is
/// audited. The vault starts empty: the reset purged it.
#[utoipa::path(
    operation_id = "account_reset_link_complete",
    tag = "account",
    request_body = ResetLinkCompletion,
    responses(
        (status = 204, description = "Set; sign in with the new key"),
        (status = 401, description = "The link is not valid (wrong, expired, used or superseded)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many refused links from this address: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/account/reset-link")]
pub async fn account_reset_link_complete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Json(completion): Json<ResetLinkCompletion>,
) -> Result<HttpResponse, ApiError> {
    const REFUSED: &str = "the link is not valid: it may have expired, been used or been replaced";
    let ResetLinkCompletion {
        token,
        auth_key,
        kdf_params,
        encrypted_vault_key,
    } = completion;
    values::checked("token", token.expose_secret(), values::LINK_TOKEN)?;
    // Cheap checks first; argon2 only once the link proved good.
    let checked = Material::validate(NewMasterPassword {
        auth_key,
        kdf_params,
        encrypted_vault_key,
    })?;
    // A 256-bit token cannot be guessed, but refusals cost an audit write:
    // they are throttled per address as sign-ins are.
    let ticket = throttled(&state, Path::ResetLink, None, &req).await?;
    let secret_hash = state
        .keys
        .keyed_hash(RESET_SECRET, token.expose_secret().as_bytes());
    let now = state.clock.now();
    let lookup = secret_hash.clone();
    let found = state
        .db
        .run(move |conn| {
            let Some(found) = resets::pending_by_secret(conn, &lookup)? else {
                return Ok::<_, DbError>(None);
            };
            let (Some(partner), Some(user)) = (
                PartnerId::parse(&found.partner_id),
                UserId::parse(&found.user_id),
            ) else {
                return Ok(None);
            };
            let usable = found.delivery_kind == "link" && found.secret_expires_at > now;
            Ok(users::generation(conn, partner, user)?
                .filter(|_| usable)
                .and_then(|(company, generation)| {
                    CompanyId::parse(&company).map(|company| (company, generation))
                })
                .map(|(company, generation)| (found.reset_id, partner, user, company, generation)))
        })
        .await?;
    let request_id = request_id(&req);
    let Some((reset, partner, user, company, generation)) = found else {
        let keys = state.keys.clone();
        let event = NewEvent {
            partner: None,
            actor_kind: ActorKind::Anonymous,
            actor_id: None,
            action: "redeemResetLink".into(),
            target_kind: None,
            target_id: None,
            allowed: false,
            policy_ids: Vec::new(),
            request_id,
            details: serde_json::json!({ "refused": "no pending link reset has this token" }),
        };
        state
            .db
            .write(move |conn| audit::append(conn, &keys, event).map(drop))
            .await?;
        return Err(unauthorized(REFUSED));
    };
    let caller = AccountCaller {
        user,
        company,
        partner,
        generation,
        request_id,
        now: state.clock.now(),
    };
    caller.authorize(&state)?;
    let material = checked.hash(&state).await;
    let done = change_master_password(
        &state,
        &caller,
        material,
        Change::FinishReset { via: "link" },
        move |conn, now| resets::complete_with_secret(conn, &reset, &secret_hash, now),
    )
    .await?;
    if !done {
        return Err(unauthorized(REFUSED));
    }
    state.throttle.succeeded(ticket, state.clock.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A recovery key to register: what the client derived from it. The
/// recovery key itself (the "account recovery PDF") never leaves the user.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryKeyRegistration {
    /// The account's current authentication key (derived from the master
    /// password): a token alone does not replace a recovery key.
    #[schema(value_type = String, format = Password)]
    pub auth_key: SecretString,
    /// A verifier the client derived from the recovery key: base64 of 16 to
    /// 64 bytes (at least 128 bits from the client's CSPRNG). The server
    /// keeps only its keyed hash.
    #[schema(value_type = String, format = Password)]
    pub verifier: SecretString,
    /// The vault key wrapped by the recovery key, base64 (1 to 4,096 bytes
    /// once decoded): ciphertext the server cannot open.
    pub wrapped_vault_key: String,
}

/// Register a recovery key
///
/// Stores the keyed hash of the recovery key's verifier and the vault key
/// wrapped by it, replacing any earlier registration, after checking the
/// account's current key; the user is emailed that a recovery key was set.
/// With it, the user who forgets the master password recovers without a
/// reset and keeps every item: sign in with `recovery_verifier`, then
/// `POST /v1/account/recovery`. A reset forgets the registration (it wraps
/// the purged vault's key).
#[utoipa::path(
    operation_id = "account_recovery_key_set",
    tag = "account",
    security(("account" = [])),
    request_body = RecoveryKeyRegistration,
    responses(
        (status = 204, description = "Registered"),
        (status = 401, description = "No valid account token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value, or `auth_key` is not the account's key", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong keys: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/v1/account/recovery-key")]
pub async fn account_recovery_key_set(
    req: HttpRequest,
    caller: AccountCaller,
    state: web::Data<AppState>,
    Json(registration): Json<RecoveryKeyRegistration>,
) -> Result<HttpResponse, ApiError> {
    caller.authorize(&state)?;
    let verifier = registration.verifier.expose_secret();
    values::base64("verifier", verifier, values::RECOVERY_VERIFIER)?;
    let wrapped = values::base64(
        "wrapped_vault_key",
        &registration.wrapped_vault_key,
        values::VAULT_KEY,
    )?;
    let verifier_hash = state
        .keys
        .keyed_hash(RECOVERY_VERIFIER, verifier.as_bytes());
    let (partner, user) = (caller.partner, caller.user);
    // The key is checked with argon2: throttled per user and address, as
    // sign-ins are, and a refusal audited.
    let account = user.to_string();
    let ticket = throttled(&state, Path::RecoveryKey, Some(&account), &req).await?;
    let stored = state
        .db
        .run(move |conn| users::auth_key_hash(conn, partner, user))
        .await?;
    if !state.passwords.verify(registration.auth_key, stored).await {
        let keys = state.keys.clone();
        let event = NewEvent {
            partner: Some(partner),
            actor_kind: ActorKind::User,
            actor_id: Some(user.to_string()),
            action: "setRecoveryKey".into(),
            target_kind: Some("user".into()),
            target_id: Some(user.to_string()),
            allowed: false,
            policy_ids: Vec::new(),
            request_id: caller.request_id.clone(),
            details: serde_json::json!({ "refused": "wrong auth_key" }),
        };
        state
            .db
            .write(move |conn| audit::append(conn, &keys, event).map(drop))
            .await?;
        return Err(ApiError::invalid(
            "auth_key",
            "is not the key of this account",
        ));
    }
    state.throttle.succeeded(ticket, state.clock.now()).await?;
    let now = state.clock.now();
    let keys = state.keys.clone();
    let event = NewEvent {
        partner: Some(caller.partner),
        actor_kind: ActorKind::User,
        actor_id: Some(caller.user.to_string()),
        action: "setRecoveryKey".into(),
        target_kind: Some("user".into()),
        target_id: Some(caller.user.to_string()),
        allowed: true,
        policy_ids: Vec::new(),
        request_id: caller.request_id.clone(),
        details: serde_json::json!({}),
    };
    let generation = caller.generation;
    let registered = state
        .db
        .write(move |conn| {
            // Under the user's lock, the token must still be current: a
            // reset committed meanwhile forgot the recovery key on purpose.
            resets::lock_user(conn, partner, user)?;
            let current = users::generation(conn, partner, user)?.map(|(_, g)| g);
            let active = users::find(conn, partner, user)?.is_some_and(|u| u.status == "active");
            if current != Some(generation) || !active {
                return Ok(false);
            }
            users::set_recovery_key(conn, user, &verifier_hash, &wrapped, now)?;
            email_user(
                conn,
                &keys,
                (partner, user),
                "recovery_key_set",
                "set_at",
                now,
            )?;
            audit::append(conn, &keys, event).map(|_| true)
        })
        .await?;
    if !registered {
        return Err(unauthorized("the token was revoked"));
    }
    state.outbox.wake();
    Ok(HttpResponse::NoContent().finish())
}

/// Recover with the recovery key
///
/// With the restricted token from signing in with `recovery_verifier`:
/// sets the new master password's material (the vault key, unwrapped from
/// the token response's `wrapped_vault_key`, encrypted under the new master
/// password). Nothing is purged and no reset is involved: every item stays.
/// Every earlier token of the user dies, the restricted one too; the user is
/// emailed that the master password changed; audited.
#[utoipa::path(
    operation_id = "account_recovery",
    tag = "account",
    security(("account" = [])),
    request_body = NewMasterPassword,
    responses(
        (status = 204, description = "Recovered; sign in with the new key"),
        (status = 401, description = "No valid recovery token (or it was used)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/account/recovery")]
pub async fn account_recovery(
    caller: RecoveringUser,
    state: web::Data<AppState>,
    Json(new): Json<NewMasterPassword>,
) -> Result<HttpResponse, ApiError> {
    let caller = caller.0;
    caller.authorize(&state)?;
    let material = Material::check(new, &state).await?;
    let (partner, user) = (caller.partner, caller.user);
    let done = change_master_password(
        &state,
        &caller,
        material,
        Change::Recovery,
        // Single use: the change bumps the generation the token carries.
        // Not while a reset is pending: that user has no vault to recover
        // (the reset forgot the recovery key too; this is belt and braces).
        move |conn, _| Ok(users::find(conn, partner, user)?.is_some_and(|u| u.status == "active")),
    )
    .await?;
    if !done {
        return Err(unauthorized("the token was revoked"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Which profile an item belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Personal,
    Company,
}

impl From<Profile> for vault_ops::Profile {
    fn from(profile: Profile) -> Self {
        match profile {
            Profile::Personal => Self::Personal,
            Profile::Company => Self::Company,
        }
    }
}

impl From<vault_ops::Profile> for Profile {
    fn from(profile: vault_ops::Profile) -> Self {
        match profile {
            vault_ops::Profile::Personal => Self::Personal,
            vault_ops::Profile::Company => Self::Company,
        }
    }
}

/// A vault item: ciphertext the server cannot read.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultItemView {
    pub item_id: String,
    pub profile: Profile,
    pub revision: i64,
    /// base64.
    pub ciphertext: String,
    pub updated_at: Timestamp,
}

fn item_view(item: VaultItem) -> VaultItemView {
    VaultItemView {
        profile: vault_ops::Profile::parse(&item.profile).into(),
        ciphertext: STANDARD.encode(&item.ciphertext),
        item_id: item.item_id,
        revision: item.revision,
        updated_at: item.updated_at.into(),
    }
}

/// A page of vault items.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultItemPage {
    pub items: Vec<VaultItemView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Paging of the vault.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VaultQuery {
    /// `next_cursor` of the page before (an item id): the page starts after
    /// it.
    #[param(pattern = "^[A-Za-z0-9._:-]{1,128}$")]
    pub cursor: Option<String>,
    /// 1 to 200; 50 when left out.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// List my vault items
///
/// The signed-in user's own items, ciphertext only, by item id, a page at a
/// time.
#[utoipa::path(
    operation_id = "vault_items_list",
    tag = "account",
    security(("account" = [])),
    params(VaultQuery),
    responses(
        (status = 200, description = "A page of items, by id", body = VaultItemPage),
        (status = 401, description = "No valid account token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/account/vault/items")]
pub async fn vault_items_list(
    caller: AccountCaller,
    state: web::Data<AppState>,
    Query(query): Query<VaultQuery>,
) -> Result<web::Json<VaultItemPage>, ApiError> {
    let (items, next_cursor) =
        vault_ops::list(&state, &caller, query.cursor.as_deref(), query.limit).await?;
    Ok(web::Json(VaultItemPage {
        items: items.into_iter().map(item_view).collect(),
        next_cursor,
    }))
}

/// A new revision of an item.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultItemPut {
    pub profile: Profile,
    /// The revision this one replaces: 0 for a new item. Another writer's
    /// revision in between answers 409.
    pub replaces_revision: i64,
    /// The item's ciphertext, base64, at most 256 KiB decoded.
    pub ciphertext: String,
    /// The item encrypted to the company's backup public key, base64:
    /// required for a company item while the company's backup profile is
    /// on, and not kept otherwise.
    pub backup_copy: Option<String>,
}

/// What a write stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultItemWritten {
    pub item_id: String,
    pub profile: Profile,
    pub revision: i64,
    /// A backup copy of this revision is stored.
    pub backed_up: bool,
}

/// Store an item
///
/// Creates an item (`replaces_revision` 0) or stores its next revision. A
/// company item's upload carries its backup copy while the company's backup
/// profile is on (422 without it).
#[utoipa::path(
    operation_id = "vault_item_put",
    tag = "account",
    security(("account" = [])),
    params(("item_id" = String, Path, description = "The client's id for the item")),
    request_body = VaultItemPut,
    responses(
        (status = 200, description = "Stored", body = VaultItemWritten),
        (status = 401, description = "No valid account token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A stale revision", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A body over the server's limit (an item over 256 KiB is 422)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value, or no backup copy while one is required", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/v1/account/vault/items/{item_id}")]
pub async fn vault_item_put(
    caller: AccountCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Json(put): Json<VaultItemPut>,
) -> Result<web::Json<VaultItemWritten>, ApiError> {
    // A denial, then a bad id, answer before the body's values, as the
    // operation would decide them.
    caller.authorize(&state)?;
    vault_ops::check_item_id(&path)?;
    values::in_range("replaces_revision", put.replaces_revision, values::REVISION)?;
    let ciphertext = values::base64("ciphertext", &put.ciphertext, values::ITEM)?;
    let backup_copy = put
        .backup_copy
        .as_deref()
        .map(|c| values::base64("backup_copy", c, values::ITEM))
        .transpose()?;
    let write = vault_ops::ItemWrite {
        profile: put.profile.into(),
        replaces_revision: put.replaces_revision,
        ciphertext,
        backup_copy,
    };
    let written = vault_ops::put(&state, &caller, &path, write).await?;
    Ok(web::Json(VaultItemWritten {
        item_id: written.item_id,
        profile: written.profile.into(),
        revision: written.revision,
        backed_up: written.backed_up,
    }))
}

/// Deleting an item.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VaultDeleteQuery {
    /// The revision being deleted: another writer's revision in between
    /// answers 409. Left out, whatever the revision.
    pub revision: Option<i64>,
}

/// Delete an item
///
/// Its backup copies stay, and are removed `retention_days` later.
#[utoipa::path(
    operation_id = "vault_item_delete",
    tag = "account",
    security(("account" = [])),
    params(("item_id" = String, Path, description = "The client's id for the item"), VaultDeleteQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid account token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A stale revision", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/account/vault/items/{item_id}")]
pub async fn vault_item_delete(
    caller: AccountCaller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Query(query): Query<VaultDeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    vault_ops::delete(&state, &caller, &path, query.revision).await?;
    Ok(HttpResponse::NoContent().finish())
}
