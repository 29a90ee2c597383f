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

use crate::app::account::{self, Credential, NewKey};
use crate::app::vault as vault_ops;
use crate::db::vault::VaultItem;
use crate::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::time::Timestamp;
use crate::http::values;
use crate::http::{AppState, client_address, request_id};
use crate::ids::{CompanyId, PartnerId};

pub use crate::app::account::{SCOPE_MASTER_PASSWORD, SCOPE_RECOVER, SCOPE_VAULT};

/// An end user signed in with an account token: the context their
/// operations run in.
pub type AccountCaller = crate::app::AccountContext;

/// Verifies an account token of `scope` and checks it is still current.
async fn account_caller(req: HttpRequest, scope: &'static str) -> Result<AccountCaller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no AppState")))?
        .clone();
    let token = crate::http::caller::bearer(&req)?;
    Ok(account::context(
        &state.app,
        &token,
        scope,
        request_id(&req),
        client_address(&req),
    )
    .await?)
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
    let credential = match (
        sign_in.auth_key,
        sign_in.temporary_password,
        sign_in.recovery_verifier,
    ) {
        (Some(key), None, None) => Credential::AuthKey(key),
        (None, Some(temporary), None) => Credential::TemporaryPassword(temporary),
        (None, None, Some(verifier)) => Credential::RecoveryVerifier(verifier),
        _ => return Err(one_credential()),
    };
    let signed_in = account::sign_in(
        &state.app,
        account::SignIn {
            partner: PartnerId::from_uuid(sign_in.partner_id),
            company: sign_in.company_id.map(CompanyId::from_uuid),
            email: sign_in.email.0,
            credential,
            request_id: request_id(&req),
            address: client_address(&req),
        },
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AccountTokenResponse {
            access_token: signed_in.access_token,
            token_type: "Bearer".into(),
            expires_in: signed_in.expires_in,
            scope: signed_in.scope.into(),
            wrapped_vault_key: signed_in.wrapped_vault_key.map(|key| STANDARD.encode(key)),
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
    // A denial answers before a bad value, as the operation decides it.
    caller.0.authorize(&state)?;
    account::set_master_password(&state.app, &caller.0, new_key(new)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The key material a client sent, its shapes checked: what a client sent
/// wrong answers 422 before any other work.
fn new_key(new: NewMasterPassword) -> Result<NewKey, ApiError> {
    values::checked("auth_key", new.auth_key.expose_secret(), values::AUTH_KEY)?;
    let vault_key = values::base64(
        "encrypted_vault_key",
        &new.encrypted_vault_key,
        values::VAULT_KEY,
    )?;
    if let Some(params) = &new.kdf_params {
        values::checked("kdf_params", params, values::KDF_PARAMS)?;
    }
    Ok(NewKey {
        auth_key: new.auth_key,
        kdf_params: new.kdf_params,
        vault_key,
    })
}

/// A link's token and the key material sent with it, their shapes checked
/// (the token's first): what a client sent wrong answers 422 before the
/// token is looked up.
fn link_key(token: &SecretString, new: NewMasterPassword) -> Result<NewKey, ApiError> {
    values::checked("token", token.expose_secret(), values::LINK_TOKEN)?;
    new_key(new)
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
    let ResetLinkCompletion {
        token,
        auth_key,
        kdf_params,
        encrypted_vault_key,
    } = completion;
    let key = link_key(
        &token,
        NewMasterPassword {
            auth_key,
            kdf_params,
            encrypted_vault_key,
        },
    )?;
    account::complete_reset_link(
        &state.app,
        token,
        key,
        request_id(&req),
        client_address(&req),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An invited user's first master password, with the invitation link's
/// token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationAcceptance {
    /// The token from the emailed invitation link's fragment (`#token=…`).
    #[schema(value_type = String, format = Password)]
    pub token: SecretString,
    /// As in `NewMasterPassword`.
    #[schema(value_type = String, format = Password)]
    pub auth_key: SecretString,
    pub kdf_params: Option<String>,
    pub encrypted_vault_key: String,
}

/// Accept an invitation
///
/// The token of the emailed single-use invitation link is the credential:
/// no bearer token. Stores the invited user's first key material (the
/// authentication key derived from the master password they chose, the
/// client's KDF parameters and the vault key encrypted under it) and
/// makes them `active`; then sign in with `POST /v1/account/token`. A
/// token that is wrong, expired, already used or replaced by a newer
/// invitation answers the same 401, and is audited.
#[utoipa::path(
    operation_id = "account_invitation_accept",
    tag = "account",
    request_body = InvitationAcceptance,
    responses(
        (status = 204, description = "Accepted; sign in with the new key"),
        (status = 401, description = "The invitation is not valid (wrong, expired, used or sent again since)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many refused invitations from this address: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid value", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/account/invitation")]
pub async fn account_invitation_accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    Json(acceptance): Json<InvitationAcceptance>,
) -> Result<HttpResponse, ApiError> {
    let InvitationAcceptance {
        token,
        auth_key,
        kdf_params,
        encrypted_vault_key,
    } = acceptance;
    let key = link_key(
        &token,
        NewMasterPassword {
            auth_key,
            kdf_params,
            encrypted_vault_key,
        },
    )?;
    account::accept_invitation(
        &state.app,
        token,
        key,
        request_id(&req),
        client_address(&req),
    )
    .await?;
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
    caller: AccountCaller,
    state: web::Data<AppState>,
    Json(registration): Json<RecoveryKeyRegistration>,
) -> Result<HttpResponse, ApiError> {
    // A denial answers before a bad value, as the operation decides it.
    caller.authorize(&state)?;
    let verifier = registration.verifier.expose_secret();
    values::base64("verifier", verifier, values::RECOVERY_VERIFIER)?;
    let wrapped = values::base64(
        "wrapped_vault_key",
        &registration.wrapped_vault_key,
        values::VAULT_KEY,
    )?;
    account::set_recovery_key(
        &state.app,
        &caller,
        registration.auth_key,
        verifier,
        wrapped,
    )
    .await?;
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
    // A denial answers before a bad value, as the operation decides it.
    caller.0.authorize(&state)?;
    account::recover(&state.app, &caller.0, new_key(new)?).await?;
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
        profile: item.profile.into(),
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
