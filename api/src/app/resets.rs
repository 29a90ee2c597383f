//! The lost-master-password runbook (docs/design.md, "The reset, step by
//! step"): what a reset would do ([`preview`]), the reset itself in one
//! transaction ([`create`]), a fresh secret for an unfinished one
//! ([`reissue`]), and reading them ([`get`], [`list`]).
//!
//! The secret a reset draws (a temporary password, or a link token) exists
//! in plaintext only in memory and, sealed, in the outbox row of its email.
//! The reset keeps its keyed hash; no result, log line or audit event holds
//! it, and the calling admin never sees it.

use chrono::{Duration, NaiveDateTime};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use secrecy::ExposeSecret;
use serde::Serialize;

use super::context::Actor;
use super::idempotent::{self, Keyed};
use super::users::user_resource;
use super::{App, Error, OpContext};
use crate::audit;
use crate::auth::{self, RESET_SECRET};
use crate::authz::{Action, Resource};
use crate::db::resets::{self, NewReset, Reset, ResetFilter, VaultSummary, WithEmail};
use crate::db::types::{ClientKind, ItemStatus, ResetStatus, UserStatus};
use crate::db::users::{self, User};
use crate::db::{
    DbConn, DbError, Storage, StorageFailure, admins, api_clients, backup_profiles, idempotency,
    outbox, partners,
};
use crate::ids::{ActorId, AdminId, ApiClientId, BatchId, CompanyId, PartnerId, ResetId, UserId};

/// The confirmation phrase in every locale.
pub const CONFIRMATION: &str = "Yes";

/// How long a result is kept under its idempotency key.
pub const IDEMPOTENCY_HOURS: i64 = 24;

/// The localized "yes" a caller of `locale` may type instead of `Yes`.
pub fn localized_confirmation(locale: &str) -> Option<&'static str> {
    Some(match locale {
        "fr" => "Oui",
        "de" | "nl" => "Ja",
        "es" => "Sí",
        "it" => "Sì",
        "ja" => "はい",
        _ => return None,
    })
}

/// Whether `typed` confirms: `Yes`, or the localized word of the caller's
/// locale. Decision: case and surrounding whitespace do not matter (`yes`,
/// ` YES ` confirm; a person typing on a phone should not fail on
/// capitalisation), but the word must be whole and spelled with its accent
/// (`Si` is not `Sí`): the phrase is there to make the admin stop and type.
pub fn confirms(typed: &str, caller_locale: &str) -> bool {
    let typed = typed.trim().to_lowercase();
    typed == CONFIRMATION.to_lowercase()
        || localized_confirmation(caller_locale).is_some_and(|word| typed == word.to_lowercase())
}

pub use crate::db::types::Delivery;

impl Delivery {
    /// Webapp users get a link, desktop users a temporary password, unless
    /// the partner sends links to everyone.
    pub fn of(client_kind: ClientKind, links_for_everyone: bool) -> Self {
        if links_for_everyone || client_kind == ClientKind::Webapp {
            Self::Link
        } else {
            Self::TemporaryPassword
        }
    }
}

/// The resource a reset is to the authorizer: its user.
pub fn reset_resource(partner: PartnerId, reset: &Reset) -> Resource {
    Resource::User {
        id: reset.user_id,
        company: reset.company_id,
        partner,
    }
}

/// The user `raw_id` names, of the caller's partner; otherwise not found.
pub async fn find_user(app: &App, ctx: &OpContext, raw_id: &str) -> Result<User, Error> {
    let id = UserId::parse(raw_id).ok_or(Error::NotFound)?;
    let partner = ctx.partner;
    app.db
        .run(move |conn| users::find(conn, partner, id))
        .await?
        .ok_or(Error::NotFound)
}

/// What a reset of a user would do, before anything happens.
#[derive(Debug, Clone)]
pub struct Preview {
    pub user: User,
    pub vault: VaultSummary,
    pub delivery: Delivery,
    /// The pending reset a new one would supersede.
    pub supersedes: Option<ResetId>,
    /// The word for "yes" in the caller's locale, accepted besides `Yes`.
    pub localized_confirmation: Option<&'static str>,
    /// Whether the reset would wait for a second admin's approval, as of
    /// now, and the policies that would ask for it (none when no policy
    /// permits running without approval: that asks for it too).
    pub approval_required: bool,
    pub approval_required_by: Vec<String>,
}

/// What a reset of the user `raw_id` names would do, changing nothing.
/// Needs the right to reset the user.
pub async fn preview(app: &App, ctx: &OpContext, raw_id: &str) -> Result<Preview, Error> {
    match preview_deciding(app, ctx, raw_id, 1).await {
        Ok(preview) => Ok(preview),
        Err(Refused::Error(error)) => Err(error),
        Err(Refused::Denied(denied)) => {
            app.audit(denied.event).await?;
            Err(denied.error)
        }
    }
}

/// Why [`preview_deciding`] answered no preview.
pub(crate) enum Refused {
    /// Not found, or the storage failed.
    Error(Error),
    /// Denied; its audit event is the caller's to write.
    Denied(Box<super::Denied>),
}

/// [`preview`], leaving a denial's audit event to the caller; `batch_size`
/// users are reset together (1 alone).
pub(crate) async fn preview_deciding(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    batch_size: i64,
) -> Result<Preview, Refused> {
    let user = find_user(app, ctx, raw_id).await.map_err(Refused::Error)?;
    ctx.decide(
        app,
        Action::ResetMasterPassword,
        &user_resource(ctx.partner, &user),
    )
    .map_err(Refused::Denied)?;
    let id = user.id;
    let partner = ctx.partner;
    let (vault, pending, links_for_everyone) = app
        .db
        .run(move |conn| {
            let summary = resets::summarize(conn, id)?;
            let pending = resets::pending_of(conn, id)?;
            let links = partners::find(conn, partner)?.is_some_and(|p| p.links_for_everyone);
            Ok::<_, DbError>((summary, pending, links))
        })
        .await
        .map_err(|e| Refused::Error(e.into()))?;
    let unattended = app.authz.decide(
        &ctx.principal,
        &Action::ResetWithoutApproval {
            batch_size,
            primary_user: user.is_primary,
            company_items_not_backed_up: vault.company_items_not_backed_up(),
        },
        &user_resource(partner, &user),
    );
    Ok(Preview {
        delivery: Delivery::of(user.client_kind, links_for_everyone),
        approval_required: !unattended.allowed,
        approval_required_by: if unattended.allowed {
            Vec::new()
        } else {
            unattended.policy_ids
        },
        user,
        vault,
        supersedes: pending.map(|p| p.id),
        localized_confirmation: localized_confirmation(ctx.locale()),
    })
}

/// A retry's key: the same key and request answer the first result again.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// As the caller sent it.
    pub key: String,
    /// What the first request under the key was (the user and the body).
    pub fingerprint: Vec<u8>,
}

/// A reset, as the caller confirmed it.
#[derive(Debug, Clone)]
pub struct ResetCommand {
    /// `Yes`, or the caller's localized word.
    pub confirmation: String,
    /// Required when company items are not backed up: they will be lost.
    pub acknowledge_company_data_loss: bool,
    /// Why (already checked as text).
    pub reason: Option<String>,
    /// The ticket in the partner's PSA (already checked as text).
    pub ticket: Option<String>,
    /// The user's pending reset this one replaces.
    pub supersedes: Option<uuid::Uuid>,
    pub idempotency: Option<Idempotency>,
    /// The batch that makes this reset, if one does: the reset's own
    /// transaction records the user's outcome.
    pub batch: Option<BatchRef>,
}

/// A user of a batch: the batch, the user's position in it, and how many
/// users the batch names (policy may ask a second admin for large ones).
#[derive(Debug, Clone, Copy)]
pub struct BatchRef {
    pub id: BatchId,
    pub position: i32,
    pub size: i64,
}

/// What [`create`] made.
#[derive(Debug)]
pub enum Created {
    /// A new reset, and its representation as kept under the idempotency
    /// key (the caller's rendering).
    New {
        reset: Box<WithEmail>,
        body: Vec<u8>,
    },
    /// A retry under the same key: the first result's representation.
    Replayed(idempotency::Stored),
}

pub(crate) fn key_reused() -> Error {
    Error::invalid(
        "Idempotency-Key",
        "was used for another request; send a new key for a new request",
    )
}

/// The phrase typed to confirm: `Yes` or the caller's localized word, or
/// 422 saying which.
pub(crate) fn check_confirmation(ctx: &OpContext, typed: &str) -> Result<(), Error> {
    if confirms(typed, ctx.locale()) {
        return Ok(());
    }
    let localized = localized_confirmation(ctx.locale())
        .map(|w| format!(" or `{w}`"))
        .unwrap_or_default();
    Err(Error::invalid(
        "confirmation",
        format!("must be `{CONFIRMATION}`{localized}, as the preview says"),
    ))
}

/// A refusal decided inside the reset's transaction, which rolls it back.
pub enum Refusal {
    Refused(Error),
    /// `purgeVault` denied: nothing changed; the denial is audited apart.
    PurgeDenied {
        vault: VaultSummary,
        policy_ids: Vec<String>,
    },
}

impl From<DbError> for Refusal {
    fn from(error: DbError) -> Self {
        Self::Refused(Error::Storage(error))
    }
}

impl From<DieselError> for Refusal {
    fn from(error: DieselError) -> Self {
        Self::Refused(Error::Storage(error.into()))
    }
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Self::Refused(error)
    }
}

impl StorageFailure for Refusal {
    fn storage(&self) -> Option<Storage> {
        match self {
            Self::Refused(error) => error.storage(),
            Self::PurgeDenied { .. } => None,
        }
    }
}

/// Resets the master password of the user `raw_id` names: purges the vault
/// (company items backed up survive as backup copies, their retention clock
/// started), supersedes the pending reset the command names, draws the
/// secret and queues its sealed email, revokes the user's tokens and
/// audits, all in one transaction. `render` gives the representation kept
/// under the command's idempotency key.
pub async fn create(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    command: ResetCommand,
    render: impl FnOnce(&WithEmail) -> Vec<u8> + Send + 'static,
) -> Result<Created, Error> {
    let prepared = match prepare(app, ctx, raw_id, command, Box::new(render)).await? {
        Ready::Replayed(stored) => return Ok(Created::Replayed(stored)),
        Ready::ToRun(prepared) => prepared,
    };
    let user = prepared.user.id;
    let result = app.db.write(move |conn| prepared.run(conn)).await;
    if matches!(result, Ok(Created::New { .. })) {
        app.outbox.wake();
    }
    settle(app, ctx, user, result).await
}

/// How a prepared reset renders its result for its idempotency key.
pub type Render = Box<dyn FnOnce(&WithEmail) -> Vec<u8> + Send>;

/// A reset checked outside its transaction (the user found, the caller
/// authorized, the phrase confirmed), to run in one: its own, or a batch's
/// group transaction, where it runs under a savepoint of its own.
pub struct Prepared {
    app: App,
    ctx: OpContext,
    user: User,
    resource: Resource,
    command: ResetCommand,
    render: Render,
}

/// What [`prepare`] found.
pub enum Ready {
    /// A retry under the same key, answered before.
    Replayed(idempotency::Stored),
    ToRun(Box<Prepared>),
}

/// The checks of [`create`] that come before its transaction.
pub async fn prepare(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    command: ResetCommand,
    render: Render,
) -> Result<Ready, Error> {
    let user = find_user(app, ctx, raw_id).await?;
    let resource = user_resource(ctx.partner, &user);
    ctx.authorize(app, Action::ResetMasterPassword, &resource)
        .await?;
    // A batch's user is replayed only after a crash: the check inside the
    // transaction finds it then, and a batch saves a round trip per user.
    if command.batch.is_none()
        && let Some(stored) =
            idempotent::stored_result(app, ctx, command.idempotency.clone()).await?
    {
        return Ok(Ready::Replayed(stored));
    }
    check_confirmation(ctx, &command.confirmation)?;
    Ok(Ready::ToRun(Box::new(Prepared {
        app: app.clone(),
        ctx: ctx.clone(),
        user,
        resource,
        command,
        render,
    })))
}

impl Prepared {
    /// The user this reset is for.
    pub fn user_id(&self) -> UserId {
        self.user.id
    }

    /// The reset's transaction body: every change of the reset, or (an
    /// error) none, once the caller's transaction rolls back.
    pub fn run(self, conn: &mut DbConn) -> Result<Created, Refusal> {
        let Prepared {
            app,
            ctx,
            user,
            resource,
            command,
            render,
        } = self;
        let partner = ctx.partner;
        let principal_id = ctx.actor.id().to_string();
        let now = ctx.now;
        let user_id = user.id;
        let supersedes = command.supersedes.map(ResetId::from_uuid);
        // Resets of one user take turns from here (PostgreSQL: the
        // user's row lock; SQLite: write transactions take turns).
        match resets::lock_user(conn, partner, user_id)? {
            None => return Err(Error::NotFound.into()),
            Some(UserStatus::Disabled) => return Err(user_disabled().into()),
            Some(_) => {}
        }
        // A retry racing the first request under the same key finds the
        // first result here, once the first commit released the lock.
        let keyed = command.idempotency.as_ref().map(|key| Keyed {
            partner,
            principal: &principal_id,
            key,
            now,
            keys: &app.keys,
        });
        if let Some(keyed) = keyed
            && let Some(stored) = idempotent::replay(conn, keyed)?
        {
            return Ok(Created::Replayed(stored));
        }
        if let Some(awaiting) = resets::awaiting_of(conn, user_id)?
            && awaiting.approval_expires_at.is_some_and(|at| at <= now)
        {
            // Its time ran out before the sweep came: it expires now,
            // and the new reset goes on.
            if resets::expire_request(conn, awaiting.id, now)? {
                record_expiry(conn, &app.keys, &expired(&awaiting), now)?;
            }
        }
        if let Some(awaiting) = resets::awaiting_of(conn, user_id)? {
            return Err(Error::Conflict {
                code: "reset_awaiting_approval",
                detail: format!(
                    "Reset {} of this user awaits a second admin's approval; approve or reject \
                     it first",
                    awaiting.id
                ),
            }
            .into());
        }
        let pending = resets::pending_of(conn, user_id)?.map(|r| r.id);
        match (pending, supersedes) {
            (None, None) => {}
            (Some(pending), Some(named)) if pending == named => {}
            (Some(pending), None) => {
                return Err(Error::Conflict {
                    code: "reset_pending",
                    detail: format!(
                        "The user has a pending reset ({pending}); re-issue its email, or send \
                         `supersedes` with its id to replace it"
                    ),
                }
                .into());
            }
            (_, Some(_)) => {
                return Err(Error::Conflict {
                    code: "reset_pending",
                    detail: "`supersedes` does not name the user's pending reset; read the \
                             preview again"
                        .into(),
                }
                .into());
            }
        }
        let vault = resets::summarize(conn, user_id)?;
        let decision = app.authz.decide(
            &ctx.principal,
            &Action::PurgeVault {
                company_items_not_backed_up: vault.company_items_not_backed_up(),
                acknowledge_company_data_loss: command.acknowledge_company_data_loss,
            },
            &resource,
        );
        if !decision.allowed {
            return Err(Refusal::PurgeDenied {
                vault,
                policy_ids: decision.policy_ids,
            });
        }
        let unattended = app.authz.decide(
            &ctx.principal,
            &Action::ResetWithoutApproval {
                batch_size: command.batch.map_or(1, |batch| batch.size),
                primary_user: user.is_primary,
                company_items_not_backed_up: vault.company_items_not_backed_up(),
            },
            &resource,
        );
        let reset = if unattended.allowed {
            reset_in_transaction(conn, &app, &ctx, &user, vault, &command, now)?
        } else {
            request_approval(
                conn,
                &app,
                &ctx,
                &user,
                &command,
                &vault,
                unattended.policy_ids,
            )?
        };
        let body = render(&reset);
        if let Some(keyed) = keyed {
            idempotent::keep(conn, keyed, 201, &body)?;
        }
        Ok(Created::New {
            reset: Box::new(reset),
            body,
        })
    }
}

/// The answer to a reset once its transaction ended: what it made, or the
/// error to give (a refused purge audited first).
pub async fn settle(
    app: &App,
    ctx: &OpContext,
    user: UserId,
    result: Result<Created, Refusal>,
) -> Result<Created, Error> {
    match result {
        Ok(created) => Ok(created),
        // A different user's request under the same key, committed first.
        Err(Refusal::Refused(Error::Storage(DbError::Query(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _,
        ))))) => Err(key_reused()),
        Err(Refusal::Refused(error)) => Err(error),
        Err(Refusal::PurgeDenied { vault, policy_ids }) => {
            Err(purge_denied(app, ctx, user, vault, policy_ids).await?)
        }
    }
}

/// A purge `purgeVault` denied, audited: the answer to give (409 with the
/// counts when company items lack backups, 403 otherwise).
pub(super) async fn purge_denied(
    app: &App,
    ctx: &OpContext,
    user: UserId,
    vault: VaultSummary,
    policy_ids: Vec<String>,
) -> Result<Error, Error> {
    let backups_missing = policy_ids
        .iter()
        .any(|id| id == "purge-needs-backups-or-acknowledgement");
    let mut event = ctx.event(
        "purgeVault",
        "user",
        user.to_string(),
        false,
        policy_ids.clone(),
    );
    event.details = serde_json::json!({
        "company_items": vault.company_items,
        "company_items_not_backed_up": vault.company_items_not_backed_up(),
    });
    app.audit(event).await?;
    Ok(if backups_missing {
        Error::CompanyItemsNotBackedUp { vault }
    } else {
        Error::Forbidden {
            action: "purgeVault",
            policy_ids,
        }
    })
}

/// The secret's email, sealed in the outbox row until it is sent.
#[derive(Serialize)]
struct ResetEmail<'a> {
    reset_id: &'a str,
    delivery_kind: &'a str,
    name: &'a str,
    secret: &'a str,
    expires_at: NaiveDateTime,
}

/// Draws a reset's secret and queues its email (the secret sealed in the
/// outbox row): the secret's keyed hash and the message's id. The plaintext
/// leaves this function only sealed.
#[allow(clippy::too_many_arguments)]
fn issue_secret(
    conn: &mut DbConn,
    app: &App,
    partner: PartnerId,
    user: &User,
    reset_id: ResetId,
    delivery: Delivery,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(Vec<u8>, String), DbError> {
    let secret = match delivery {
        Delivery::TemporaryPassword => auth::temporary_password(),
        Delivery::Link => auth::link_token(),
    };
    let secret_hash = app
        .keys
        .keyed_hash(RESET_SECRET, secret.expose_secret().as_bytes());
    let message_id = outbox::queue(
        conn,
        &app.keys,
        partner,
        outbox::Email {
            template: "master_password_reset",
            locale: &user.locale,
            recipient: &user.email,
            payload: &ResetEmail {
                reset_id: &reset_id.to_string(),
                delivery_kind: delivery.as_str(),
                name: &user.name,
                secret: secret.expose_secret(),
                expires_at,
            },
            now,
        },
    )?;
    Ok((secret_hash, message_id))
}

/// The destructive half of step 5, inside the caller's transaction, on the
/// vault `vault` counts (under the user's lock): purge
/// (backup copies start their retention clock), supersede the user's
/// pending reset, draw and hash the secret, queue its sealed email, and
/// refuse every token of the user. A direct reset and an approved request
/// both run exactly this.
#[allow(clippy::too_many_arguments)]
fn carry_out(
    conn: &mut DbConn,
    app: &App,
    partner: PartnerId,
    user: &User,
    vault: VaultSummary,
    reset_id: ResetId,
    acknowledged_company_data_loss: bool,
    now: NaiveDateTime,
) -> Result<(resets::Carried, usize), DbError> {
    let settings = partners::find(conn, partner)?;
    let links_for_everyone = settings.as_ref().is_some_and(|p| p.links_for_everyone);
    let ttl = settings
        .as_ref()
        .map_or(partners::DEFAULT_TEMPORARY_SECRET_TTL_SECONDS, |p| {
            p.temporary_secret_ttl_seconds
        });
    let retention_days = backup_profiles::find(conn, partner, user.company_id)?
        .map_or(30, |profile| i64::from(profile.retention_days));
    let purged = resets::purge(
        conn,
        user.id,
        vault,
        now,
        now + Duration::days(retention_days),
    )?;
    let superseded = resets::supersede_pending(conn, user.id, reset_id, now)?;
    let delivery = Delivery::of(user.client_kind, links_for_everyone);
    let expires_at = now + Duration::seconds(ttl);
    let (secret_hash, message_id) = issue_secret(
        conn, app, partner, user, reset_id, delivery, expires_at, now,
    )?;
    resets::mark_user_reset(conn, user.id, now)?;
    let carried = resets::Carried {
        delivery_kind: delivery,
        secret_hash,
        secret_expires_at: expires_at,
        outbox_message_id: message_id,
        personal_items_purged: purged.personal_items,
        company_items_purged: purged.company_items_not_backed_up(),
        company_items_preserved: purged.company_items_backed_up,
        acknowledged_company_data_loss,
    };
    Ok((carried, superseded))
}

/// What a reset did, as its audit event details it.
fn carried_details(carried: &resets::Carried, superseded: usize) -> serde_json::Value {
    serde_json::json!({
        "delivery_kind": carried.delivery_kind.as_str(),
        "personal_items_purged": carried.personal_items_purged,
        "company_items_purged": carried.company_items_purged,
        "company_items_preserved": carried.company_items_preserved,
        "acknowledged_company_data_loss": carried.acknowledged_company_data_loss,
        "superseded": superseded,
        "outbox_message_id": carried.outbox_message_id,
    })
}

/// Adds `extra`'s fields to the object `details`.
fn with_fields(mut details: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    if let (Some(details), serde_json::Value::Object(extra)) = (details.as_object_mut(), extra) {
        details.extend(extra);
    }
    details
}

/// A new reset's row as the caller's command asks for it, before anything
/// was carried out: no secret, no email, nothing purged yet.
fn new_row(
    ctx: &OpContext,
    user: &User,
    command: &ResetCommand,
    id: ResetId,
    status: ResetStatus,
    delivery_kind: Delivery,
) -> NewReset {
    NewReset {
        id,
        partner_id: ctx.partner,
        company_id: user.company_id,
        user_id: user.id,
        batch_id: command.batch.map(|batch| batch.id),
        status,
        delivery_kind,
        secret_hash: None,
        secret_expires_at: None,
        personal_items_purged: 0,
        company_items_purged: 0,
        company_items_preserved: 0,
        acknowledged_company_data_loss: command.acknowledge_company_data_loss,
        reason: command.reason.clone(),
        ticket: command.ticket.clone(),
        requested_by_kind: ctx.actor.kind().as_str().into(),
        requested_by_id: ctx.actor.id(),
        outbox_message_id: None,
        created_at: ctx.now,
        updated_at: ctx.now,
        approval_required_by: None,
        approval_expires_at: None,
        supersedes: None,
    }
}

/// Records the outcome of the batch's user a command resets, if a batch
/// made it, in the reset's transaction.
fn record_in_batch(
    conn: &mut DbConn,
    command: &ResetCommand,
    reset: ResetId,
    status: ItemStatus,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    match command.batch {
        Some(batch) => {
            crate::db::batches::complete(conn, batch.id, batch.position, reset, status, now)
        }
        None => Ok(()),
    }
}

/// Step 5 of the runbook, inside the caller's transaction: [`carry_out`],
/// record the reset, audit. Returns the reset as stored.
fn reset_in_transaction(
    conn: &mut DbConn,
    app: &App,
    ctx: &OpContext,
    user: &User,
    vault: VaultSummary,
    command: &ResetCommand,
    now: NaiveDateTime,
) -> Result<WithEmail, DbError> {
    let partner = ctx.partner;
    let reset_id = ResetId::new();
    let (carried, superseded) = carry_out(
        conn,
        app,
        partner,
        user,
        vault,
        reset_id,
        command.acknowledge_company_data_loss,
        now,
    )?;
    let row = NewReset {
        secret_hash: Some(carried.secret_hash.clone()),
        secret_expires_at: Some(carried.secret_expires_at),
        personal_items_purged: carried.personal_items_purged,
        company_items_purged: carried.company_items_purged,
        company_items_preserved: carried.company_items_preserved,
        outbox_message_id: Some(carried.outbox_message_id.clone()),
        ..new_row(
            ctx,
            user,
            command,
            reset_id,
            resets::PENDING,
            carried.delivery_kind,
        )
    };
    resets::insert(conn, &row)?;

    let mut event = ctx.event(
        "resetMasterPassword",
        "user",
        user.id.to_string(),
        true,
        Vec::new(),
    );
    event.details = with_fields(
        carried_details(&carried, superseded),
        serde_json::json!({
            "reset_id": reset_id.to_string(),
            "reason": command.reason,
            "ticket": command.ticket,
            "batch_id": command.batch.map(|batch| batch.id.to_string()),
        }),
    );
    audit::append(conn, &app.keys, event)?;
    record_in_batch(conn, command, reset_id, ItemStatus::Completed, now)?;

    resets::find(conn, partner, reset_id)?
        .ok_or_else(|| DbError::Corrupt(format!("reset {reset_id} vanished in its transaction")))
}

/// A reset policy sent for a second admin's approval, inside the caller's
/// transaction: the request is recorded `awaiting_approval` (nothing is
/// purged, no secret is drawn, the user is told nothing), the admins who
/// may approve it are emailed, and it is audited with the policies that
/// asked for the approval.
fn request_approval(
    conn: &mut DbConn,
    app: &App,
    ctx: &OpContext,
    user: &User,
    command: &ResetCommand,
    vault: &VaultSummary,
    required_by: Vec<String>,
) -> Result<WithEmail, Error> {
    let (partner, now) = (ctx.partner, ctx.now);
    let links_for_everyone = partners::find(conn, partner)?.is_some_and(|p| p.links_for_everyone);
    let reset_id = ResetId::new();
    let expires_at = now + app.approval_ttl;
    let row = NewReset {
        approval_required_by: Some(
            serde_json::to_string(&required_by)
                .map_err(|e| DbError::Corrupt(format!("policy ids that do not serialize: {e}")))?,
        ),
        approval_expires_at: Some(expires_at),
        supersedes: command.supersedes.map(ResetId::from_uuid),
        ..new_row(
            ctx,
            user,
            command,
            reset_id,
            resets::AWAITING_APPROVAL,
            Delivery::of(user.client_kind, links_for_everyone),
        )
    };
    resets::insert(conn, &row)?;
    let notified = notify_approvers(conn, app, ctx, user, &row, &required_by)?;
    if notified == 0 {
        // A request nobody may decide would only wait and expire.
        return Err(Error::Conflict {
            code: "no_approver",
            detail: "Policy asks a second admin to approve this reset, and no other admin \
                     of the partner may approve it; add one, or change the policy"
                .into(),
        });
    }
    let mut event = ctx.event(
        "requestResetApproval",
        "user",
        user.id.to_string(),
        true,
        required_by.clone(),
    );
    event.details = serde_json::json!({
        "reset_id": reset_id.to_string(),
        "approval_required_by": required_by,
        "approval_expires_at": expires_at,
        "approvers_notified": notified,
        "company_items": vault.company_items,
        "company_items_not_backed_up": vault.company_items_not_backed_up(),
        "acknowledged_company_data_loss": command.acknowledge_company_data_loss,
        "reason": command.reason,
        "ticket": command.ticket,
        "batch_id": command.batch.map(|batch| batch.id.to_string()),
    });
    audit::append(conn, &app.keys, event)?;
    record_in_batch(conn, command, reset_id, ItemStatus::AwaitingApproval, now)?;
    Ok(resets::find(conn, partner, reset_id)?
        .ok_or_else(|| DbError::Corrupt(format!("reset {reset_id} vanished in its transaction")))?)
}

/// The email that asks an admin to approve or reject a request.
#[derive(Serialize)]
struct ApprovalEmail<'a> {
    name: &'a str,
    requester: String,
    user_name: &'a str,
    user_email: &'a str,
    reset_id: String,
    required_by: &'a [String],
    reason: Option<&'a str>,
    ticket: Option<&'a str>,
    expires_at: NaiveDateTime,
}

/// The admin behind an actor: the admin, or the admin who made the API
/// client (a person acting through an integration is still that person).
fn person_of(actor: &Actor) -> Option<AdminId> {
    match actor {
        Actor::Admin(admin) => Some(admin.id),
        Actor::ApiClient(client) => client.created_by_admin_id,
        Actor::ScimToken(token) => token.created_by_admin_id,
    }
}

/// Emails every admin of the partner who may approve the request, other
/// than the person who asked, in their own locale; how many.
fn notify_approvers(
    conn: &mut DbConn,
    app: &App,
    ctx: &OpContext,
    user: &User,
    request: &NewReset,
    required_by: &[String],
) -> Result<usize, Error> {
    let (partner, now) = (ctx.partner, ctx.now);
    let asker = person_of(&ctx.actor);
    let requester = match &ctx.actor {
        Actor::Admin(admin) => format!("{} <{}>", admin.name, admin.email),
        Actor::ApiClient(client) => format!("{} (API client)", client.name),
        Actor::ScimToken(token) => format!("{} (SCIM)", token.name),
    };
    let resource = user_resource(partner, user);
    let mut notified = 0;
    for admin in admins::list(conn, partner, None, 10_000)? {
        // An admin still invited cannot sign in to approve.
        if Some(admin.id) == asker || admin.is_invited() {
            continue;
        }
        let approver = OpContext::acting_for(
            conn,
            partner,
            "admin",
            ActorId::from_uuid(admin.id.uuid()),
            now,
        )?;
        let may = app.authz.decide(
            &approver.principal,
            &Action::ApproveReset {
                requested_by_caller: false,
            },
            &resource,
        );
        if !may.allowed {
            continue;
        }
        outbox::queue(
            conn,
            &app.keys,
            partner,
            outbox::Email {
                template: "reset_approval_requested",
                locale: &admin.locale,
                recipient: &admin.email,
                payload: &ApprovalEmail {
                    name: &admin.name,
                    requester: requester.clone(),
                    user_name: &user.name,
                    user_email: &user.email,
                    reset_id: request.id.to_string(),
                    required_by,
                    reason: request.reason.as_deref(),
                    ticket: request.ticket.as_deref(),
                    expires_at: request.approval_expires_at.unwrap_or(now),
                },
                now,
            },
        )?;
        notified += 1;
    }
    Ok(notified)
}

/// Whether the caller asked for `reset`: the same admin or API client, or
/// the same person behind them (an admin and an API client the admin
/// made).
pub(crate) fn requested_by_caller(
    conn: &mut DbConn,
    ctx: &OpContext,
    reset: &Reset,
) -> Result<bool, DbError> {
    if reset.requested_by_id == ctx.actor.id() {
        return Ok(true);
    }
    let asker = match reset.requested_by_kind.as_str() {
        "admin" => Some(AdminId::from_uuid(reset.requested_by_id.uuid())),
        _ => api_clients::find_by_id(conn, ApiClientId::from_uuid(reset.requested_by_id.uuid()))?
            .and_then(|client| client.created_by_admin_id),
    };
    Ok(asker.is_some() && asker == person_of(&ctx.actor))
}

/// A second admin's decision on a request awaiting approval.
#[derive(Debug, Clone, Default)]
pub struct DecisionCommand {
    /// Approving only: acknowledges that company items without a backup
    /// will be lost (the request's own acknowledgement counts too).
    pub acknowledge_company_data_loss: bool,
    /// Why (already checked as text); kept with the decision and audited.
    pub comment: Option<String>,
}

/// The request `raw_id` names, once the caller may decide it: 404 as for
/// any reset the caller may not see; 403 for the person who asked (however
/// they sign in), an API client, or whom policy does not allow.
async fn decidable(app: &App, ctx: &OpContext, raw_id: &str) -> Result<Reset, Error> {
    let id = ResetId::parse(raw_id).ok_or(Error::NotFound)?;
    let (partner, ctx_in) = (ctx.partner, ctx.clone());
    let (reset, mine) = app
        .db
        .run(move |conn| {
            let Some((reset, _)) = resets::find(conn, partner, id)? else {
                return Ok(None);
            };
            let mine = requested_by_caller(conn, &ctx_in, &reset)?;
            Ok::<_, DbError>(Some((reset, mine)))
        })
        .await?
        .ok_or(Error::NotFound)?;
    let resource = reset_resource(partner, &reset);
    ctx.authorize(
        app,
        Action::ApproveReset {
            requested_by_caller: mine,
        },
        &resource,
    )
    .await?;
    let client = matches!(ctx.actor, Actor::ApiClient(_));
    if mine || client {
        // Whatever the policies say: a second admin is a second person,
        // and a person.
        let mut event = ctx.event(
            "approveReset",
            "user",
            reset.user_id.to_string(),
            false,
            Vec::new(),
        );
        event.details = serde_json::json!({
            "reset_id": reset.id.to_string(),
            "requested_by_caller": mine,
            "api_client": client,
        });
        app.audit(event).await?;
        return Err(Error::Forbidden {
            action: "approveReset",
            policy_ids: Vec::new(),
        });
    }
    Ok(reset)
}

fn not_awaiting(reset: &Reset, now: NaiveDateTime) -> Error {
    let status = if reset.status == resets::AWAITING_APPROVAL
        && reset.approval_expires_at.is_some_and(|at| at <= now)
    {
        "expired".to_owned()
    } else {
        reset.status.to_string()
    };
    Error::Conflict {
        code: "reset_not_awaiting_approval",
        detail: format!("The reset is {status}; only a reset awaiting approval is decided"),
    }
}

/// The people of a decision, for its audit event.
fn decision_details(reset: &Reset, ctx: &OpContext, comment: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "reset_id": reset.id.to_string(),
        "requested_by": { "kind": reset.requested_by_kind, "id": reset.requested_by_id.to_string() },
        "decided_by": { "kind": ctx.actor.kind().as_str(), "id": ctx.actor.id().to_string() },
        "approval_required_by": reset.approval_policies(),
        "comment": comment,
        "batch_id": reset.batch_id.map(|batch| batch.to_string()),
    })
}

/// A disabled user is not reset: enable them first (a reset would make
/// them able to sign in again).
fn user_disabled() -> Error {
    Error::Conflict {
        code: "user_disabled",
        detail: "The user is disabled: enable them before resetting their master password".into(),
    }
}

/// Approves a request awaiting approval: the reset runs as a direct one
/// would, on the vault as it is now (purge, secret, email, tokens refused,
/// `purgeVault` decided for the approver with the counts of this moment),
/// in one transaction, audited with both people.
pub async fn approve(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    command: DecisionCommand,
) -> Result<WithEmail, Error> {
    let request = decidable(app, ctx, raw_id).await?;
    let (partner, user_id, id, now) = (ctx.partner, request.user_id, request.id, ctx.now);
    let (app_in, ctx_in) = (app.clone(), ctx.clone());
    let result = app
        .db
        .write(move |conn| {
            let (app, ctx) = (app_in, ctx_in);
            match resets::lock_user(conn, partner, user_id)? {
                None => return Err(Error::NotFound.into()),
                Some(UserStatus::Disabled) => return Err(user_disabled().into()),
                Some(_) => {}
            }
            let Some((current, _)) = resets::find(conn, partner, id)? else {
                return Err(Error::NotFound.into());
            };
            if current.status != resets::AWAITING_APPROVAL
                || current.approval_expires_at.is_some_and(|at| at <= now)
            {
                return Err(not_awaiting(&current, now).into());
            }
            let user = users::find(conn, partner, user_id)?.ok_or(Error::NotFound)?;
            if let Some(pending) = resets::pending_of(conn, user_id)?
                && Some(pending.id) != current.supersedes
            {
                return Err(Error::Conflict {
                    code: "reset_pending",
                    detail: format!(
                        "The user has a pending reset ({}) this request does not replace; \
                         reject the request, or re-issue that reset",
                        pending.id
                    ),
                }
                .into());
            }
            // The reset the request was to replace, finished since (the
            // user set a new master password): approving would purge what
            // the user has now, which nobody asked for.
            if let Some(named) = current.supersedes
                && let Some((replaced, _)) = resets::find(conn, partner, named)?
                && replaced.status != resets::PENDING
            {
                return Err(Error::Conflict {
                    code: "reset_request_stale",
                    detail: format!(
                        "The reset this request was to replace ({named}) is {} now; reject \
                         the request, and ask again if the user still needs a reset",
                        replaced.status
                    ),
                }
                .into());
            }
            let acknowledged =
                current.acknowledged_company_data_loss || command.acknowledge_company_data_loss;
            let vault = resets::summarize(conn, user_id)?;
            let purge = app.authz.decide(
                &ctx.principal,
                &Action::PurgeVault {
                    company_items_not_backed_up: vault.company_items_not_backed_up(),
                    acknowledge_company_data_loss: acknowledged,
                },
                &user_resource(partner, &user),
            );
            if !purge.allowed {
                return Err(Refusal::PurgeDenied {
                    vault,
                    policy_ids: purge.policy_ids,
                });
            }
            let (carried, superseded) =
                carry_out(conn, &app, partner, &user, vault, id, acknowledged, now)?;
            let decision = resets::Decision {
                by_kind: ctx.actor.kind().as_str(),
                by_id: &ctx.actor.id().to_string(),
                comment: command.comment.as_deref(),
                at: now,
            };
            if !resets::approve(conn, id, &carried, &decision)? {
                return Err(not_awaiting(&current, now).into());
            }
            if let Some(batch) = current.batch_id {
                crate::db::batches::decided(conn, batch, id, ItemStatus::Completed, now)?;
            }
            let mut event = ctx.event(
                "approveReset",
                "user",
                user_id.to_string(),
                true,
                Vec::new(),
            );
            event.details = with_fields(
                decision_details(&current, &ctx, command.comment.as_deref()),
                carried_details(&carried, superseded),
            );
            audit::append(conn, &app.keys, event)?;
            Ok(resets::find(conn, partner, id)?.ok_or(Error::NotFound)?)
        })
        .await;
    match result {
        Ok(reset) => {
            app.outbox.wake();
            Ok(reset)
        }
        Err(Refusal::Refused(error)) => Err(error),
        Err(Refusal::PurgeDenied { vault, policy_ids }) => {
            Err(purge_denied(app, ctx, user_id, vault, policy_ids).await?)
        }
    }
}

/// Rejects a request awaiting approval: nothing of the user changes; the
/// decision is audited with both people.
pub async fn reject(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    command: DecisionCommand,
) -> Result<WithEmail, Error> {
    let request = decidable(app, ctx, raw_id).await?;
    let (partner, user_id, id, now) = (ctx.partner, request.user_id, request.id, ctx.now);
    let (app_in, ctx_in) = (app.clone(), ctx.clone());
    app.db
        .write(move |conn| {
            let (app, ctx) = (app_in, ctx_in);
            if resets::lock_user(conn, partner, user_id)?.is_none() {
                return Err(Error::NotFound);
            }
            let Some((current, _)) = resets::find(conn, partner, id)? else {
                return Err(Error::NotFound);
            };
            let decision = resets::Decision {
                by_kind: ctx.actor.kind().as_str(),
                by_id: &ctx.actor.id().to_string(),
                comment: command.comment.as_deref(),
                at: now,
            };
            if current.approval_expires_at.is_some_and(|at| at <= now)
                || !resets::reject(conn, id, &decision)?
            {
                return Err(not_awaiting(&current, now));
            }
            if let Some(batch) = current.batch_id {
                crate::db::batches::decided(conn, batch, id, ItemStatus::Denied, now)?;
            }
            let mut event = ctx.event("rejectReset", "user", user_id.to_string(), true, Vec::new());
            event.details = decision_details(&current, &ctx, command.comment.as_deref());
            audit::append(conn, &app.keys, event)?;
            resets::find(conn, partner, id)?.ok_or(Error::NotFound)
        })
        .await
}

/// Requests whose approval expired by the clock's now become `expired`,
/// each audited (the system acting) and its batch's user `denied`; how
/// many.
pub fn expire_requests(
    conn: &mut DbConn,
    keys: &crate::auth::keys::ServerKeys,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let expired = resets::expire_requests(conn, now)?;
    for request in &expired {
        record_expiry(conn, keys, request, now)?;
    }
    Ok(expired.len())
}

fn expired(request: &Reset) -> resets::ExpiredRequest {
    resets::ExpiredRequest {
        id: request.id,
        partner_id: request.partner_id,
        user_id: request.user_id,
        batch_id: request.batch_id,
    }
}

/// What follows a request's expiry, in its transaction: its batch's user
/// is `denied`, and the expiry is audited, the system acting.
fn record_expiry(
    conn: &mut DbConn,
    keys: &crate::auth::keys::ServerKeys,
    request: &resets::ExpiredRequest,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    if let Some(batch) = request.batch_id {
        crate::db::batches::decided(conn, batch, request.id, ItemStatus::Denied, now)?;
    }
    audit::append(
        conn,
        keys,
        audit::NewEvent {
            partner: Some(request.partner_id),
            actor_kind: audit::ActorKind::System,
            actor_id: None,
            action: "expireResetApproval".into(),
            target_kind: Some("user".into()),
            target_id: Some(request.user_id.to_string()),
            allowed: true,
            policy_ids: Vec::new(),
            request_id: None,
            details: serde_json::json!({ "reset_id": request.id.to_string() }),
        },
    )?;
    Ok(())
}

/// The reset `raw_id` names, of the caller's partner (otherwise not found),
/// once the caller may take `action` on its user.
pub async fn find(
    app: &App,
    ctx: &OpContext,
    raw_id: &str,
    action: Action,
) -> Result<(ResetId, WithEmail), Error> {
    let id = ResetId::parse(raw_id).ok_or(Error::NotFound)?;
    let partner = ctx.partner;
    let found = app
        .db
        .run(move |conn| resets::find(conn, partner, id))
        .await?
        .ok_or(Error::NotFound)?;
    ctx.authorize(app, action, &reset_resource(partner, &found.0))
        .await?;
    Ok((id, found))
}

/// One reset the caller may read.
pub async fn get(app: &App, ctx: &OpContext, raw_id: &str) -> Result<WithEmail, Error> {
    find(app, ctx, raw_id, Action::ReadReset)
        .await
        .map(|(_, reset)| reset)
}

/// Why a reset is not re-issued.
enum NotReissued {
    /// Completed or superseded.
    Finished(String),
    /// Expired, and another reset of the user is pending.
    OtherPending(String),
}

/// A fresh secret and a fresh email for a reset the user has not finished
/// (pending or expired): the old secret dies at once, an old email not yet
/// sent is withdrawn with its payload erased, every token of the user is
/// refused, and the reset is pending again; nothing is purged again.
pub async fn reissue(app: &App, ctx: &OpContext, raw_id: &str) -> Result<WithEmail, Error> {
    let (id, (reset, _)) = find(app, ctx, raw_id, Action::ResetMasterPassword).await?;
    let partner = ctx.partner;
    let user_id = reset.user_id;
    let now = ctx.now;
    let (app_in, ctx_in) = (app.clone(), ctx.clone());
    let reissued = app
        .db
        .write(move |conn| {
            let (app, ctx) = (app_in, ctx_in);
            // Resets of one user take turns (see `create`).
            match resets::lock_user(conn, partner, user_id)? {
                None => return Err(Error::NotFound),
                Some(UserStatus::Disabled) => return Err(user_disabled()),
                Some(_) => {}
            }
            let Some((current, _)) = resets::find(conn, partner, id)? else {
                return Err(Error::NotFound);
            };
            // A request that never ran (awaiting approval, rejected, or
            // expired before approval) has no secret to renew: nothing was
            // purged.
            if current.secret_expires_at.is_none() {
                return Err(not_reissued(NotReissued::Finished(
                    if current.status == resets::AWAITING_APPROVAL {
                        "awaiting approval: it runs, and emails the user, once approved".into()
                    } else {
                        format!(
                            "{} without having run (it awaited approval)",
                            current.status
                        )
                    },
                )));
            }
            if current.status != resets::PENDING && current.status != resets::EXPIRED {
                return Err(not_reissued(NotReissued::Finished(
                    current.status.to_string(),
                )));
            }
            // An expired reset comes back only if no other one is pending
            // (one pending reset per user).
            if let Some(other) = resets::pending_of(conn, user_id)?
                && other.id != current.id
            {
                return Err(not_reissued(NotReissued::OtherPending(
                    other.id.to_string(),
                )));
            }
            let Some(user) = users::find(conn, partner, user_id)? else {
                return Err(Error::NotFound);
            };
            // Only a user still waiting on this reset (belt and braces: a
            // newer reset supersedes an expired one).
            if user.status != UserStatus::ResetPending {
                return Err(not_reissued(NotReissued::Finished(format!(
                    "{} (the user is {})",
                    current.status, user.status
                ))));
            }
            let ttl = partners::find(conn, partner)?
                .map_or(partners::DEFAULT_TEMPORARY_SECRET_TTL_SECONDS, |p| {
                    p.temporary_secret_ttl_seconds
                });
            let expires_at = now + Duration::seconds(ttl);
            let delivery = current.delivery_kind;
            let (secret_hash, message_id) =
                issue_secret(conn, &app, partner, &user, id, delivery, expires_at, now)?;
            if let Some(old) = &current.outbox_message_id {
                outbox::withdraw(conn, old, "withdrawn: the reset was re-issued", now)?;
            }
            resets::reissue(conn, id, &secret_hash, expires_at, &message_id, now)?;
            resets::revoke_user_tokens(conn, user_id, now)?;
            let mut event = ctx.event(
                "reissueReset",
                "user",
                user_id.to_string(),
                true,
                Vec::new(),
            );
            event.details = serde_json::json!({
                "reset_id": id.to_string(),
                "reissue_count": current.reissue_count + 1,
                "outbox_message_id": message_id,
            });
            audit::append(conn, &app.keys, event)?;
            resets::find(conn, partner, id)?.ok_or(Error::NotFound)
        })
        .await?;
    app.outbox.wake();
    Ok(reissued)
}

fn not_reissued(why: NotReissued) -> Error {
    match why {
        NotReissued::Finished(status) => Error::Conflict {
            code: "reset_not_pending",
            detail: format!("The reset is {status}; only a pending or expired reset is re-issued"),
        },
        NotReissued::OtherPending(other) => Error::Conflict {
            code: "reset_pending",
            detail: format!("Reset {other} of this user is pending; re-issue that one"),
        },
    }
}

/// The filters of a list of resets.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub user: Option<UserId>,
    pub company: Option<CompanyId>,
    /// A status a client named (checked here: one of [`ResetStatus`]).
    pub status: Option<String>,
    /// The id of the last reset of the page before.
    pub after: Option<ResetId>,
    /// 1 to 200; 50 when none is asked.
    pub limit: Option<u32>,
}

/// The partner's resets the caller may read, oldest first: a page, and the
/// cursor of the next.
pub async fn list(
    app: &App,
    ctx: &OpContext,
    query: ListQuery,
) -> Result<(Vec<WithEmail>, Option<String>), Error> {
    ctx.authorize(app, Action::ListResets, &Resource::Partner(ctx.partner))
        .await?;
    let limit = super::paging::limit(query.limit)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(raw) => Some(ResetStatus::parse(raw).ok_or_else(|| {
            Error::invalid(
                "status",
                "must be awaiting_approval, pending_user_action, completed, superseded, expired \
                 or rejected",
            )
        })?),
    };
    let filter = ResetFilter {
        companies: super::visible_within(&ctx.principal, query.company),
        user: query.user,
        status,
        after: query.after,
        limit: limit + 1,
    };
    let partner = ctx.partner;
    super::paging::permitted_page(
        app,
        ctx,
        Action::ReadReset,
        limit,
        move |conn| resets::list(conn, partner, &filter),
        |(r, _)| r.id.to_string(),
        move |(r, _)| Ok(reset_resource(partner, r)),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::stored;

    #[test]
    fn the_phrase_is_yes_or_the_callers_word_in_any_case() {
        for typed in ["Yes", "yes", " YES ", "\tyEs\n"] {
            assert!(confirms(typed, "en"), "{typed:?}");
        }
        assert!(confirms("oui", "fr"));
        assert!(confirms("Yes", "fr"), "Yes works in every locale");
        assert!(!confirms("Oui", "en"), "a word of another locale does not");
        assert!(confirms("Sí", "es"));
        assert!(!confirms("Si", "es"), "the accent is part of the word");
        assert!(confirms("はい", "ja"));
        for typed in ["", "Y", "Yes please", "Yess", "No"] {
            assert!(!confirms(typed, "en"), "{typed:?}");
        }
    }

    #[test]
    fn webapp_users_and_partners_who_choose_links_get_links() {
        use ClientKind::{Desktop, Webapp};
        assert_eq!(Delivery::of(Desktop, false), Delivery::TemporaryPassword);
        assert_eq!(Delivery::of(Webapp, false), Delivery::Link);
        assert_eq!(Delivery::of(Desktop, true), Delivery::Link);
        assert_eq!(Delivery::of(Webapp, true), Delivery::Link);
    }

    #[test]
    fn a_corrupt_stored_id_is_a_storage_error_not_a_panic() {
        let error = stored("not-a-uuid", UserId::parse, "user id").unwrap_err();
        assert!(matches!(error, DbError::Corrupt(_)), "{error:?}");
        assert!(stored(&UserId::new().to_string(), UserId::parse, "user id").is_ok());
    }
}
