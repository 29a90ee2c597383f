//! The lost-master-password runbook (docs/design.md, "The reset, step by step"):
//! `GET /v1/users/{user_id}/master-password-reset-preview` says what a reset
//! would do; `POST /v1/users/{user_id}/master-password-resets` does it, in one
//! transaction; `GET /v1/master-password-resets[/{reset_id}]` read resets.
//!
//! The secret a reset draws (a temporary password, or a link token) exists in
//! plaintext only in memory and, sealed, in the outbox row of its email. The
//! reset keeps its keyed hash; no response, log line or audit event holds it,
//! and the calling admin never sees it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{Duration, NaiveDateTime};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::audit;
use crate::auth::{self, RESET_SECRET};
use crate::authz::{Action, Resource};
use crate::db::resets::{self, NewReset, Reset, ResetFilter, VaultSummary, WithEmail};
use crate::db::users::{self, User};
use crate::db::{DbConn, DbError, backup_profiles, idempotency, outbox, partners};
use crate::error::{ApiError, Problem, VaultCounts};
use crate::http::AppState;
use crate::http::caller::{Actor, Caller};
use crate::http::companies::visible_within;
use crate::http::extract::{Json, Query};
use crate::http::paging;
use crate::http::time::Timestamp;
use crate::http::values::{Reason, Ticket};
use crate::ids::{CompanyId, PartnerId, ResetId, UserId};

/// The confirmation phrase in every locale.
pub const CONFIRMATION: &str = "Yes";

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

/// How a user receives the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// A temporary master password (desktop users), typed into the app.
    TemporaryPassword,
    /// A single-use link (webapp users, or everyone when the partner set
    /// `links_for_everyone`).
    Link,
}

impl DeliveryKind {
    fn of(user: &User, links_for_everyone: bool) -> Self {
        if links_for_everyone || user.client_kind == "webapp" {
            Self::Link
        } else {
            Self::TemporaryPassword
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::TemporaryPassword => "temporary_password",
            Self::Link => "link",
        }
    }

    fn parse(raw: &str) -> Self {
        if raw == "link" {
            Self::Link
        } else {
            Self::TemporaryPassword
        }
    }
}

/// The phrase that confirms a reset.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationPhrase {
    /// `Yes`: accepted from everyone.
    #[schema(example = "Yes")]
    pub phrase: String,
    /// The word for "yes" in the caller's locale (`Oui`, `Ja`, `Sí`, `Sì`,
    /// `はい`), accepted as well; absent for English.
    pub localized: Option<String>,
    /// Case and surrounding whitespace do not matter.
    pub case_sensitive: bool,
}

/// What a reset of this user would do, before anything happens.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetPreview {
    pub user_id: uuid::Uuid,
    pub company_id: uuid::Uuid,
    pub email: String,
    /// Personal items: all deleted.
    pub personal_items: i64,
    /// Company items: all deleted from the vault; those backed up survive as
    /// backup copies.
    pub company_items: i64,
    /// Company items with a backup copy of their current revision.
    pub company_items_backed_up: i64,
    /// Company items without one: lost, unless the reset is not made.
    pub company_items_not_backed_up: i64,
    /// A reset must acknowledge the loss of company data
    /// (`acknowledge_company_data_loss`), because some is not backed up.
    pub acknowledgement_required: bool,
    /// How the user will receive the secret.
    pub delivery_kind: DeliveryKind,
    /// The user registered a recovery key: they can set a new master
    /// password themselves and keep every item. Point them there first.
    pub has_recovery_key: bool,
    /// The pending reset this one would supersede (its secret dies).
    pub supersedes: Option<uuid::Uuid>,
    /// What to send as `confirmation`.
    pub confirmation: ConfirmationPhrase,
}

/// A reset, confirmed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// `Yes`, or the localized word the preview names.
    pub confirmation: String,
    /// Required when company items are not backed up: they will be lost.
    #[serde(default)]
    pub acknowledge_company_data_loss: bool,
    /// Why (kept with the reset and in the audit log).
    pub reason: Option<Reason>,
    /// The ticket in the partner's PSA.
    pub ticket: Option<Ticket>,
    /// The user's pending reset this one replaces, as the preview names it
    /// (`supersedes`). Without it, a user with a pending reset is not reset
    /// again (409 `reset_pending`): a double click, a second admin or a
    /// racing integration does not purge twice. To resend the email, re-issue
    /// the pending reset instead.
    pub supersedes: Option<uuid::Uuid>,
}

/// Who asked for a reset.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RequestedBy {
    #[schema(value_type = crate::http::vocabulary::RequesterKind)]
    pub kind: String,
    pub id: uuid::Uuid,
}

/// A master-password reset (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResetView {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub company_id: uuid::Uuid,
    /// `pending_user_action` until the user sets a new master password
    /// (`completed`), or a later reset replaces it (`superseded`), or its
    /// secret expires (`expired`).
    #[schema(value_type = crate::http::vocabulary::ResetStatus)]
    pub status: String,
    pub delivery_kind: DeliveryKind,
    pub personal_items_purged: i64,
    /// Company items deleted without a backup copy: lost.
    pub company_items_purged: i64,
    /// Company items deleted from the vault whose backup copy survives.
    pub company_items_preserved: i64,
    pub acknowledged_company_data_loss: bool,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    pub requested_by: RequestedBy,
    /// The email's state in the outbox.
    #[schema(value_type = Option<crate::http::vocabulary::EmailStatus>)]
    pub email_status: Option<String>,
    /// When the secret stops working.
    pub secret_expires_at: Timestamp,
    pub reissue_count: i32,
    pub superseded_by: Option<uuid::Uuid>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

fn uuid_of(raw: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(raw).unwrap_or_default()
}

fn view((reset, email_status): WithEmail) -> ResetView {
    ResetView {
        id: uuid_of(&reset.id),
        user_id: uuid_of(&reset.user_id),
        company_id: uuid_of(&reset.company_id),
        status: reset.status,
        delivery_kind: DeliveryKind::parse(&reset.delivery_kind),
        personal_items_purged: reset.personal_items_purged,
        company_items_purged: reset.company_items_purged,
        company_items_preserved: reset.company_items_preserved,
        acknowledged_company_data_loss: reset.acknowledged_company_data_loss,
        reason: reset.reason,
        ticket: reset.ticket,
        requested_by: RequestedBy {
            kind: reset.requested_by_kind,
            id: uuid_of(&reset.requested_by_id),
        },
        email_status,
        secret_expires_at: reset.secret_expires_at.into(),
        reissue_count: reset.reissue_count,
        superseded_by: reset.superseded_by.as_deref().map(uuid_of),
        created_at: reset.created_at.into(),
        updated_at: reset.updated_at.into(),
        completed_at: reset.completed_at.map(Timestamp::from),
    }
}

fn user_resource(partner: PartnerId, user: &User) -> Resource {
    Resource::User {
        id: UserId::parse(&user.id).expect("stored ids parse"),
        company: CompanyId::parse(&user.company_id).expect("stored ids parse"),
        partner,
    }
}

/// The caller's locale: an admin's own; English for an API client.
fn caller_locale(caller: &Caller) -> &str {
    match &caller.actor {
        Actor::Admin(admin) => &admin.locale,
        Actor::ApiClient(_) => "en",
    }
}

/// The user a path names, of the caller's partner; otherwise 404.
async fn load_user(state: &AppState, caller: &Caller, raw_id: &str) -> Result<User, ApiError> {
    let id = UserId::parse(raw_id).ok_or(ApiError::NotFound)?;
    let partner = caller.partner;
    state
        .db
        .run(move |conn| users::find(conn, partner, id))
        .await?
        .ok_or(ApiError::NotFound)
}

/// Preview a master-password reset
///
/// What a reset would do, changing nothing: the items it deletes, the
/// company items that survive as backup copies and those that would be lost,
/// how the user gets the secret, whether the user could recover by
/// themselves with a recovery key, the pending reset it would supersede, and
/// the phrase that confirms it. Needs the right to reset the user.
#[utoipa::path(
    operation_id = "reset_preview_get",
    tag = "resets",
    security(("oauth2" = [])),
    params(("user_id" = uuid::Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "What the reset would do", body = ResetPreview),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/users/{user_id}/master-password-reset-preview")]
pub async fn reset_preview_get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<ResetPreview>, ApiError> {
    let user = load_user(&state, &caller, &path).await?;
    caller
        .authorize(
            &state,
            Action::ResetMasterPassword,
            &user_resource(caller.partner, &user),
        )
        .await?;
    let id = UserId::parse(&user.id).expect("stored ids parse");
    let partner = caller.partner;
    let (summary, pending, links_for_everyone) = state
        .db
        .run(move |conn| {
            let summary = resets::summarize(conn, id)?;
            let pending = resets::pending_of(conn, id)?;
            let links = partners::find(conn, partner)?.is_some_and(|p| p.links_for_everyone);
            Ok((summary, pending, links))
        })
        .await?;
    let not_backed_up = summary.company_items_not_backed_up();
    Ok(web::Json(ResetPreview {
        user_id: uuid_of(&user.id),
        company_id: uuid_of(&user.company_id),
        delivery_kind: DeliveryKind::of(&user, links_for_everyone),
        email: user.email,
        personal_items: summary.personal_items,
        company_items: summary.company_items,
        company_items_backed_up: summary.company_items_backed_up,
        company_items_not_backed_up: not_backed_up,
        acknowledgement_required: not_backed_up > 0,
        has_recovery_key: user.has_recovery_key,
        supersedes: pending.map(|p| uuid_of(&p.id)),
        confirmation: ConfirmationPhrase {
            phrase: CONFIRMATION.into(),
            localized: localized_confirmation(caller_locale(&caller)).map(Into::into),
            case_sensitive: false,
        },
    }))
}

/// How long a response is kept under its `Idempotency-Key`.
const IDEMPOTENCY_HOURS: i64 = 24;

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// What the first request under a key was: the user and the body, as sent.
fn fingerprint(user: &str, request: &ResetRequest) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(b"POST master-password-resets\n");
    hash.update(user.as_bytes());
    hash.update(b"\n");
    hash.update(serde_json::to_vec(request).expect("a request serializes"));
    hash.finalize().to_vec()
}

/// The first response stored under a key, answered again.
fn replay(stored: idempotency::Stored) -> HttpResponse {
    let status = stored
        .response_status
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
        .unwrap_or(actix_web::http::StatusCode::CREATED);
    HttpResponse::build(status)
        .content_type("application/json")
        .insert_header(("Idempotent-Replayed", "true"))
        .body(stored.response_body.unwrap_or_default())
}

fn key_reused() -> ApiError {
    ApiError::invalid(
        "Idempotency-Key",
        "was used for another request; send a new key for a new request",
    )
}

/// What the reset's transaction ended in.
enum Outcome {
    /// Done: the response body.
    Done(Vec<u8>),
    /// A retry under the same key: the first response.
    Replay(idempotency::Stored),
    /// The same key with another request.
    KeyReused,
    /// The user has a pending reset that the request does not name.
    Pending(String),
    /// The request names a reset that is not the user's pending one.
    StaleSupersedes,
    /// The user is gone.
    Gone,
    /// `purgeVault` denied (nothing was changed).
    PurgeDenied {
        summary: VaultSummary,
        policy_ids: Vec<String>,
    },
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

/// Reset a user's master password
///
/// Purges the user's vault and emails them a temporary master password
/// (desktop) or a single-use link (webapp, or everyone when the partner set
/// `links_for_everyone`). Company items backed up (current revision) survive
/// as backup copies, their retention clock started; the rest is deleted.
/// Earlier pending resets are superseded, and every token the user held is
/// refused. All of it happens in one transaction; the secret is never in a
/// response. Retry safely with an `Idempotency-Key` header: the same key and
/// body answer the first result again (`Idempotent-Replayed: true`), the
/// same key with another body is 422.
#[utoipa::path(
    operation_id = "reset_create",
    tag = "resets",
    security(("oauth2" = [])),
    params(
        ("user_id" = uuid::Uuid, Path, description = "The user's id"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "1 to 255 visible ASCII characters: makes a retry answer the first result instead of resetting again (kept 24 h)"),
    ),
    request_body = ResetRequest,
    responses(
        (status = 201, description = "The reset, made; the email is queued", body = ResetView,
            headers(
                ("Location" = String, description = "The reset's URL"),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a retry under the same Idempotency-Key with the first result"),
            )),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy (the deciding policies are named)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`company_items_not_backed_up` (with the counts; acknowledge to go on), or `reset_pending` (the user has a pending reset the request does not name in `supersedes`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A wrong confirmation phrase, an invalid field, or an Idempotency-Key reused for another request", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/users/{user_id}/master-password-resets")]
pub async fn reset_create(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Json(request): Json<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = load_user(&state, &caller, &path).await?;
    let resource = user_resource(caller.partner, &user);
    caller
        .authorize(&state, Action::ResetMasterPassword, &resource)
        .await?;
    let key = idempotency_key(&req)?;
    let fingerprint = fingerprint(&user.id, &request);
    let partner = caller.partner;
    let principal_id = caller.actor.id().to_owned();
    if let Some(key) = key.clone() {
        let (principal_id, now) = (principal_id.clone(), state.clock.now());
        let stored = state
            .db
            .run(move |conn| idempotency::find(conn, partner, &principal_id, &key, now))
            .await?;
        if let Some(stored) = stored {
            if stored.request_fingerprint != fingerprint {
                return Err(key_reused());
            }
            return Ok(replay(stored));
        }
    }
    if !confirms(&request.confirmation, caller_locale(&caller)) {
        let localized = localized_confirmation(caller_locale(&caller))
            .map(|w| format!(" or `{w}`"))
            .unwrap_or_default();
        return Err(ApiError::invalid(
            "confirmation",
            format!("must be `{CONFIRMATION}`{localized}, as the preview says"),
        ));
    }
    let reason = request.reason.clone().and_then(Reason::into_text);
    let ticket = request.ticket.clone().and_then(Ticket::into_text);

    let user_id = UserId::parse(&user.id).expect("stored ids parse");
    let acknowledge = request.acknowledge_company_data_loss;
    let supersedes = request.supersedes.map(|id| id.to_string());
    let now = state.clock.now();
    let state_in = state.clone();
    let caller_in = caller.clone();
    let result = state
        .db
        .write(move |conn| {
            let state = state_in;
            let caller = caller_in;
            // Resets of one user take turns from here (PostgreSQL: the
            // user's row lock; SQLite: write transactions take turns).
            if resets::lock_user(conn, partner, user_id)?.is_none() {
                return Ok(Outcome::Gone);
            }
            // A retry racing the first request under the same key finds the
            // first response here, once the first commit released the lock.
            if let Some(key) = &key
                && let Some(stored) = idempotency::find(conn, partner, &principal_id, key, now)?
            {
                return Ok(if stored.request_fingerprint == fingerprint {
                    Outcome::Replay(stored)
                } else {
                    Outcome::KeyReused
                });
            }
            let pending = resets::pending_of(conn, user_id)?.map(|r| r.id);
            match (pending, supersedes) {
                (None, None) => {}
                (Some(pending), Some(named)) if pending == named => {}
                (Some(pending), None) => return Ok(Outcome::Pending(pending)),
                (_, Some(_)) => return Ok(Outcome::StaleSupersedes),
            }
            let summary = resets::summarize(conn, user_id)?;
            let decision = state.authz.decide(
                &caller.principal,
                &Action::PurgeVault {
                    company_items_not_backed_up: summary.company_items_not_backed_up(),
                    acknowledge_company_data_loss: acknowledge,
                },
                &resource,
            );
            if !decision.allowed {
                return Ok(Outcome::PurgeDenied {
                    summary,
                    policy_ids: decision.policy_ids,
                });
            }
            let body = reset_in_transaction(
                conn,
                &state,
                &caller,
                &user,
                ResetInput {
                    acknowledge,
                    reason,
                    ticket,
                    now,
                },
            )?;
            if let Some(key) = &key {
                idempotency::insert(
                    conn,
                    partner,
                    &principal_id,
                    key,
                    &fingerprint,
                    201,
                    &body,
                    now,
                    now + Duration::hours(IDEMPOTENCY_HOURS),
                )?;
            }
            Ok(Outcome::Done(body))
        })
        .await;
    let outcome = match result {
        Ok(outcome) => outcome,
        // A different user's request under the same key, committed first.
        Err(DbError::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))) => {
            Outcome::KeyReused
        }
        Err(other) => return Err(other.into()),
    };
    match outcome {
        Outcome::Done(body) => {
            state.outbox.wake();
            let id = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            Ok(HttpResponse::Created()
                .content_type("application/json")
                .insert_header((header::LOCATION, format!("/v1/master-password-resets/{id}")))
                .body(body))
        }
        Outcome::Replay(stored) => Ok(replay(stored)),
        Outcome::KeyReused => Err(key_reused()),
        Outcome::Pending(pending) => Err(ApiError::Conflict {
            code: "reset_pending",
            detail: format!(
                "The user has a pending reset ({pending}); re-issue its email, or send \
                 `supersedes` with its id to replace it"
            ),
        }),
        Outcome::StaleSupersedes => Err(ApiError::Conflict {
            code: "reset_pending",
            detail: "`supersedes` does not name the user's pending reset; read the preview again"
                .into(),
        }),
        Outcome::Gone => Err(ApiError::NotFound),
        Outcome::PurgeDenied {
            summary,
            policy_ids,
        } => {
            let backups_missing = policy_ids
                .iter()
                .any(|id| id == "purge-needs-backups-or-acknowledgement");
            let mut event = caller.event(
                "purgeVault",
                "user",
                user_id.to_string(),
                false,
                policy_ids.clone(),
            );
            event.details = serde_json::json!({
                "company_items": summary.company_items,
                "company_items_not_backed_up": summary.company_items_not_backed_up(),
            });
            let keys = state.keys.clone();
            state
                .db
                .write(move |conn| audit::append(conn, &keys, event).map(drop))
                .await?;
            if backups_missing {
                Err(ApiError::CompanyItemsNotBackedUp {
                    counts: VaultCounts {
                        personal_items: summary.personal_items,
                        company_items: summary.company_items,
                        company_items_backed_up: summary.company_items_backed_up,
                        company_items_not_backed_up: summary.company_items_not_backed_up(),
                    },
                })
            } else {
                Err(ApiError::Forbidden {
                    action: "purgeVault",
                    policy_ids,
                })
            }
        }
    }
}

/// Draws a reset's secret and queues its email (the secret sealed in the
/// outbox row): the secret's keyed hash and the message's id. The plaintext
/// leaves this function only sealed.
#[allow(clippy::too_many_arguments)]
fn issue_secret(
    conn: &mut DbConn,
    state: &AppState,
    partner: PartnerId,
    user: &User,
    reset_id: ResetId,
    delivery: DeliveryKind,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<(Vec<u8>, String), DbError> {
    let secret = match delivery {
        DeliveryKind::TemporaryPassword => auth::temporary_password(),
        DeliveryKind::Link => auth::link_token(),
    };
    let secret_hash = state
        .keys
        .keyed_hash(RESET_SECRET, secret.expose_secret().as_bytes());
    let message_id = outbox::queue(
        conn,
        &state.keys,
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

/// What the transaction needs besides the caller and the user.
struct ResetInput {
    acknowledge: bool,
    reason: Option<String>,
    ticket: Option<String>,
    now: NaiveDateTime,
}

/// Step 5 of the runbook, inside the caller's transaction: purge, supersede,
/// draw and hash the secret, queue the sealed email, record the reset, bump
/// the user's tokens, audit. Returns the response body.
fn reset_in_transaction(
    conn: &mut DbConn,
    state: &AppState,
    caller: &Caller,
    user: &User,
    input: ResetInput,
) -> Result<Vec<u8>, DbError> {
    let ResetInput {
        acknowledge,
        reason,
        ticket,
        now,
    } = input;
    let partner = caller.partner;
    let user_id = UserId::parse(&user.id).expect("stored ids parse");
    let company = CompanyId::parse(&user.company_id).expect("stored ids parse");
    let settings = partners::find(conn, partner)?;
    let links_for_everyone = settings.as_ref().is_some_and(|p| p.links_for_everyone);
    let ttl = settings
        .as_ref()
        .map_or(partners::DEFAULT_TEMPORARY_SECRET_TTL_SECONDS, |p| {
            p.temporary_secret_ttl_seconds
        });
    let retention_days = backup_profiles::find(conn, partner, company)?
        .map_or(30, |profile| i64::from(profile.retention_days));
    let purged = resets::purge(conn, user_id, now, now + Duration::days(retention_days))?;

    let reset_id = ResetId::new();
    let superseded = resets::supersede_pending(conn, user_id, reset_id, now)?;
    let delivery = DeliveryKind::of(user, links_for_everyone);
    let expires_at = now + Duration::seconds(ttl);
    let (secret_hash, message_id) = issue_secret(
        conn, state, partner, user, reset_id, delivery, expires_at, now,
    )?;
    let row = NewReset {
        id: reset_id.to_string(),
        partner_id: partner.to_string(),
        company_id: user.company_id.clone(),
        user_id: user.id.clone(),
        status: resets::PENDING.into(),
        delivery_kind: delivery.as_str().into(),
        secret_hash: Some(secret_hash),
        secret_expires_at: expires_at,
        personal_items_purged: purged.personal_items,
        company_items_purged: purged.company_items_not_backed_up(),
        company_items_preserved: purged.company_items_backed_up,
        acknowledged_company_data_loss: acknowledge,
        reason: reason.clone(),
        ticket: ticket.clone(),
        requested_by_kind: caller.actor.kind().as_str().into(),
        requested_by_id: caller.actor.id().to_owned(),
        outbox_message_id: Some(message_id.clone()),
        created_at: now,
        updated_at: now,
    };
    resets::insert(conn, &row)?;
    resets::mark_user_reset(conn, user_id, now)?;

    let mut event = caller.event(
        "resetMasterPassword",
        "user",
        user.id.clone(),
        true,
        Vec::new(),
    );
    event.details = serde_json::json!({
        "reset_id": reset_id.to_string(),
        "delivery_kind": delivery.as_str(),
        "personal_items_purged": row.personal_items_purged,
        "company_items_purged": row.company_items_purged,
        "company_items_preserved": row.company_items_preserved,
        "acknowledged_company_data_loss": acknowledge,
        "superseded": superseded,
        "reason": reason,
        "ticket": ticket,
        "outbox_message_id": message_id,
    });
    audit::append(conn, &state.keys, event)?;

    let stored = resets::find(conn, partner, reset_id)?
        .ok_or_else(|| DbError::Query(DieselError::NotFound))?;
    Ok(serde_json::to_vec(&view(stored)).expect("a reset serializes"))
}

/// Get a reset
///
/// One master password reset of a user the caller may see: what it
/// purged and kept, its delivery and email status; never its secret.
#[utoipa::path(
    operation_id = "reset_get",
    tag = "resets",
    security(("oauth2" = [])),
    params(("reset_id" = uuid::Uuid, Path, description = "The reset's id")),
    responses(
        (status = 200, description = "The reset", body = ResetView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reset in the caller's partner", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/master-password-resets/{reset_id}")]
pub async fn reset_get(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<ResetView>, ApiError> {
    let (_, found) = load_reset(&state, &caller, &path, Action::ReadReset).await?;
    Ok(web::Json(view(found)))
}

/// The reset a path names, of the caller's partner (otherwise 404), once
/// the caller may take `action` on its user.
async fn load_reset(
    state: &AppState,
    caller: &Caller,
    raw_id: &str,
    action: Action,
) -> Result<(ResetId, WithEmail), ApiError> {
    let id = ResetId::parse(raw_id).ok_or(ApiError::NotFound)?;
    let partner = caller.partner;
    let found = state
        .db
        .run(move |conn| resets::find(conn, partner, id))
        .await?
        .ok_or(ApiError::NotFound)?;
    caller
        .authorize(state, action, &reset_resource(partner, &found.0))
        .await?;
    Ok((id, found))
}

fn reset_resource(partner: PartnerId, reset: &Reset) -> Resource {
    Resource::User {
        id: UserId::parse(&reset.user_id).expect("stored ids parse"),
        company: CompanyId::parse(&reset.company_id).expect("stored ids parse"),
        partner,
    }
}

/// The filters of a list of resets.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResetQuery {
    /// Resets of this user only.
    pub user_id: Option<uuid::Uuid>,
    /// Resets of this company's users only.
    pub company_id: Option<uuid::Uuid>,
    #[param(value_type = Option<crate::http::vocabulary::ResetStatus>)]
    pub status: Option<String>,
    /// `next_cursor` of the page before: the page starts after it.
    pub cursor: Option<uuid::Uuid>,
    /// 1 to 200; 50 when absent.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A page of resets.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetPage {
    pub items: Vec<ResetView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// List resets
///
/// The partner's resets the caller may read, oldest first.
#[utoipa::path(
    operation_id = "resets_list",
    tag = "resets",
    security(("oauth2" = [])),
    params(ResetQuery),
    responses(
        (status = 200, description = "A page of resets", body = ResetPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid filter, cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/master-password-resets")]
pub async fn resets_list(
    caller: Caller,
    state: web::Data<AppState>,
    Query(query): Query<ResetQuery>,
) -> Result<web::Json<ResetPage>, ApiError> {
    caller
        .authorize(
            &state,
            Action::ListResets,
            &Resource::Partner(caller.partner),
        )
        .await?;
    if let Some(status) = &query.status
        && ![
            resets::PENDING,
            resets::COMPLETED,
            resets::SUPERSEDED,
            resets::EXPIRED,
        ]
        .contains(&status.as_str())
    {
        return Err(ApiError::invalid(
            "status",
            "must be pending_user_action, completed, superseded or expired",
        ));
    }
    let limit = paging::limit(query.limit)?;
    let companies = visible_within(
        &caller.principal,
        query.company_id.map(CompanyId::from_uuid),
    );
    let filter = ResetFilter {
        companies,
        user: query.user_id.map(UserId::from_uuid),
        status: query.status,
        after: paging::after_id(query.cursor),
        limit: limit + 1,
    };
    let partner = caller.partner;
    let (found, next_cursor) = paging::permitted_page(
        &state,
        &caller,
        Action::ReadReset,
        limit,
        move |conn| resets::list(conn, partner, &filter),
        |(r, _)| r.id.clone(),
        move |(r, _)| reset_resource(partner, r),
    )
    .await?;
    Ok(web::Json(ResetPage {
        items: found.into_iter().map(view).collect(),
        next_cursor,
    }))
}

/// Why a reset is not re-issued.
enum NotReissued {
    /// Completed or superseded.
    Finished(String),
    /// Expired, and another reset of the user is pending.
    OtherPending(String),
}

/// Re-issue a pending or expired reset
///
/// A fresh secret and a fresh email for a reset the user has not finished
/// (the email went astray, or the secret expired): the old secret dies at
/// once, an old email not yet sent is withdrawn, every token of the user is
/// refused, and the reset is pending again; nothing is purged again. Needs
/// the right to reset the user.
#[utoipa::path(
    operation_id = "reset_reissue",
    tag = "resets",
    security(("oauth2" = [])),
    params(("reset_id" = uuid::Uuid, Path, description = "The reset's id")),
    responses(
        (status = 200, description = "The reset, with its new email queued", body = ResetView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Denied by policy", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such reset in the caller's partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reset_not_pending`: completed or superseded; `reset_pending`: the reset expired and another one is pending", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/master-password-resets/{reset_id}/reissue")]
pub async fn reset_reissue(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<ResetView>, ApiError> {
    let (id, (reset, _)) = load_reset(&state, &caller, &path, Action::ResetMasterPassword).await?;
    let partner = caller.partner;
    let user_id = UserId::parse(&reset.user_id).expect("stored ids parse");
    let now = state.clock.now();
    let state_in = state.clone();
    let caller_in = caller.clone();
    let reissued = state
        .db
        .write(move |conn| {
            let (state, caller) = (state_in, caller_in);
            // Resets of one user take turns (see reset_create).
            if resets::lock_user(conn, partner, user_id)?.is_none() {
                return Ok(None);
            }
            let Some((current, _)) = resets::find(conn, partner, id)? else {
                return Ok(None);
            };
            if current.status != resets::PENDING && current.status != resets::EXPIRED {
                return Ok(Some(Err(NotReissued::Finished(current.status))));
            }
            // An expired reset comes back only if no other one is pending
            // (one pending reset per user).
            if let Some(other) = resets::pending_of(conn, user_id)?
                && other.id != current.id
            {
                return Ok(Some(Err(NotReissued::OtherPending(other.id))));
            }
            let Some(user) = users::find(conn, partner, user_id)? else {
                return Ok(None);
            };
            // Only a user still waiting on this reset (belt and braces: a
            // newer reset supersedes an expired one).
            if user.status != "reset_pending" {
                return Ok(Some(Err(NotReissued::Finished(format!(
                    "{} (the user is {})",
                    current.status, user.status
                )))));
            }
            let ttl = partners::find(conn, partner)?
                .map_or(partners::DEFAULT_TEMPORARY_SECRET_TTL_SECONDS, |p| {
                    p.temporary_secret_ttl_seconds
                });
            let expires_at = now + Duration::seconds(ttl);
            let delivery = DeliveryKind::parse(&current.delivery_kind);
            let (secret_hash, message_id) =
                issue_secret(conn, &state, partner, &user, id, delivery, expires_at, now)?;
            if let Some(old) = &current.outbox_message_id {
                outbox::withdraw(conn, old, "withdrawn: the reset was re-issued", now)?;
            }
            resets::reissue(conn, id, &secret_hash, expires_at, &message_id, now)?;
            resets::revoke_user_tokens(conn, user_id, now)?;
            let mut event = caller.event(
                "reset.reissue",
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
            audit::append(conn, &state.keys, event)?;
            Ok(resets::find(conn, partner, id)?.map(Ok))
        })
        .await?;
    match reissued {
        None => Err(ApiError::NotFound),
        Some(Err(NotReissued::Finished(status))) => Err(ApiError::Conflict {
            code: "reset_not_pending",
            detail: format!("The reset is {status}; only a pending or expired reset is re-issued"),
        }),
        Some(Err(NotReissued::OtherPending(other))) => Err(ApiError::Conflict {
            code: "reset_pending",
            detail: format!("Reset {other} of this user is pending; re-issue that one"),
        }),
        Some(Ok(reset)) => {
            state.outbox.wake();
            Ok(web::Json(view(reset)))
        }
    }
}
