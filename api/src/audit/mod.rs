//! The audit log: an append-only record of every security-relevant action
//! (sign-ins, token issues, changes, authorization denials, and later the
//! resets), with actor, target, decision, the Cedar policies that decided it
//! and the request's id. Never a secret: callers put only identifiers and
//! non-secret facts in `details`.
//!
//! Events form one hash chain per partner: each stores the hash of the one
//! before, and its own hash, an HMAC-SHA-256 under a server key, covers
//! every column. Someone who can write to the database but lacks the server
//! key cannot recompute the hashes after changing a row, so `verify`, walking
//! the chain, names the first event that was altered, removed or inserted.
//! Each chain's head (the last sequence number and hash, MAC'd too) is
//! written with every append, so removing the newest events is caught as
//! well. What the chain cannot catch on its own is the database rolled back
//! whole to an earlier state, head included: exporting the head elsewhere
//! now and then (`GET /v1/audit-events/verify` returns it) closes that.
//! Events that belong to no partner (a sign-in for an unknown email) go to
//! the chain of the nil UUID.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::keys::ServerKeys;
use crate::db::schema::{audit_events, audit_heads};
use crate::db::{DbConn, DbError};
use crate::ids::PartnerId;

/// The chain of events that belong to no partner.
pub const NO_PARTNER: &str = "00000000-0000-0000-0000-000000000000";

/// The `prev_hash` of a chain's first event.
const GENESIS: [u8; 32] = [0; 32];

/// The PostgreSQL advisory-lock namespace of chain appends.
const CHAIN_LOCK_CLASS: i32 = 0x61756474; // "audt"

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    Admin,
    ApiClient,
    /// The platform operator's staff.
    Operator,
    /// A company's SCIM token: its directory provisioning users.
    ScimToken,
    User,
    System,
    Anonymous,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::ApiClient => "api_client",
            Self::Operator => "operator",
            Self::ScimToken => "scim_token",
            Self::User => "user",
            Self::System => "system",
            Self::Anonymous => "anonymous",
        }
    }
}

/// Whether `name` is named as an audit action must be: a lowercase verb,
/// then words each starting uppercase, ASCII letters and digits only
/// (`signIn`, `resetMasterPassword`). Every event the tests write is
/// checked.
pub fn is_action_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub partner: Option<PartnerId>,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    /// What happened, named as an action is: verb first, camelCase. Where
    /// a policy decides the operation it is the Cedar action's own name
    /// (`createUser`, `resetMasterPassword`, `purgeVault`, and every
    /// denial); where none does, a name of the same form (`signIn`,
    /// `signInAccount`, `changePassword`, `setMasterPassword`,
    /// `recoverAccount`, `redeemResetLink`, `acceptInvitation`, `setRecoveryKey`,
    /// `reissueReset`, `requestResetApproval`, `rejectReset`,
    /// `expireResetApproval`). See [`is_action_name`].
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub allowed: bool,
    pub policy_ids: Vec<String>,
    pub request_id: Option<String>,
    /// Non-secret facts (never a password, token or secret).
    pub details: serde_json::Value,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: String,
    pub partner_id: String,
    pub seq: i64,
    pub occurred_at: NaiveDateTime,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub decision: String,
    pub policy_ids: String,
    pub request_id: Option<String>,
    pub details: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The hash of an event: every column but `hash`, each length-prefixed so
/// no two different events encode alike.
/// The keyed-hash purposes of the chain.
const EVENT_PURPOSE: &str = "audit-event";
const HEAD_PURPOSE: &str = "audit-head";

/// The event's hash: an HMAC under the server key over every column, each
/// length-prefixed so no two events encode alike.
fn event_hash(keys: &ServerKeys, e: &AuditEvent) -> Vec<u8> {
    let mut encoded = Vec::with_capacity(512);
    let mut field = |bytes: &[u8]| {
        encoded.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        encoded.extend_from_slice(bytes);
    };
    let optional = |v: &Option<String>| {
        v.clone()
            .map_or_else(|| "\u{0}".to_owned(), |s| format!("={s}"))
    };
    field(&e.prev_hash);
    field(e.id.as_bytes());
    field(e.partner_id.as_bytes());
    field(&e.seq.to_be_bytes());
    field(
        e.occurred_at
            .and_utc()
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string()
            .as_bytes(),
    );
    field(e.actor_kind.as_bytes());
    field(optional(&e.actor_id).as_bytes());
    field(e.action.as_bytes());
    field(optional(&e.target_kind).as_bytes());
    field(optional(&e.target_id).as_bytes());
    field(e.decision.as_bytes());
    field(e.policy_ids.as_bytes());
    field(optional(&e.request_id).as_bytes());
    field(e.details.as_bytes());
    keys.keyed_hash(EVENT_PURPOSE, &encoded)
}

/// The MAC of a chain's head.
fn head_mac(keys: &ServerKeys, partner: &str, seq: i64, hash: &[u8]) -> Vec<u8> {
    let mut encoded = Vec::with_capacity(96);
    encoded.extend_from_slice(&(partner.len() as u64).to_be_bytes());
    encoded.extend_from_slice(partner.as_bytes());
    encoded.extend_from_slice(&seq.to_be_bytes());
    encoded.extend_from_slice(hash);
    keys.keyed_hash(HEAD_PURPOSE, &encoded)
}

/// Whether two MACs are equal, in constant time.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Appends an event at the end of its partner's chain. Call inside the
/// transaction of the change it records ([`crate::db::Db::write`]), so both
/// land or neither does.
pub fn append(
    conn: &mut DbConn,
    keys: &ServerKeys,
    event: NewEvent,
) -> Result<AuditEvent, DbError> {
    debug_assert!(
        is_action_name(&event.action),
        "audit action {:?} is not named as actions are",
        event.action
    );
    let partner = event
        .partner
        .map_or_else(|| NO_PARTNER.to_owned(), |p| p.to_string());
    if let DbConn::Postgres(pg) = conn {
        // One appender per chain at a time, until the transaction ends.
        diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind::<diesel::sql_types::Integer, _>(CHAIN_LOCK_CLASS)
            .bind::<diesel::sql_types::Text, _>(&partner)
            .execute(pg)?;
    }
    let last: Option<(i64, Vec<u8>)> = audit_events::table
        .filter(audit_events::partner_id.eq(&partner))
        .order(audit_events::seq.desc())
        .select((audit_events::seq, audit_events::hash))
        .first(conn)
        .optional()?;
    let (seq, prev_hash) = last.map_or((1, GENESIS.to_vec()), |(seq, hash)| (seq + 1, hash));
    let mut stored = AuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        partner_id: partner,
        seq,
        occurred_at: crate::clock::system_now(),
        actor_kind: event.actor_kind.as_str().to_owned(),
        actor_id: event.actor_id,
        action: event.action,
        target_kind: event.target_kind,
        target_id: event.target_id,
        decision: if event.allowed { "allow" } else { "deny" }.to_owned(),
        policy_ids: serde_json::to_string(&event.policy_ids).expect("strings serialize"),
        request_id: event.request_id,
        details: event.details.to_string(),
        prev_hash,
        hash: Vec::new(),
    };
    stored.hash = event_hash(keys, &stored);
    diesel::insert_into(audit_events::table)
        .values(&stored)
        .execute(conn)?;
    // The chain's appenders take turns (above), so update-or-insert is safe.
    let mac = head_mac(keys, &stored.partner_id, stored.seq, &stored.hash);
    let moved =
        diesel::update(audit_heads::table.filter(audit_heads::partner_id.eq(&stored.partner_id)))
            .set((
                audit_heads::seq.eq(stored.seq),
                audit_heads::hash.eq(&stored.hash),
                audit_heads::mac.eq(&mac),
            ))
            .execute(conn)?;
    if moved == 0 {
        diesel::insert_into(audit_heads::table)
            .values((
                audit_heads::partner_id.eq(&stored.partner_id),
                audit_heads::seq.eq(stored.seq),
                audit_heads::hash.eq(&stored.hash),
                audit_heads::mac.eq(&mac),
            ))
            .execute(conn)?;
    }
    Ok(stored)
}

/// The filters of a listing; every one optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Events after this sequence number (the cursor).
    pub after_seq: Option<i64>,
    pub limit: i64,
}

/// A partner's events, oldest first.
pub fn list(
    conn: &mut DbConn,
    partner: PartnerId,
    filter: &Filter,
) -> Result<Vec<AuditEvent>, DbError> {
    let mut query = audit_events::table
        .filter(audit_events::partner_id.eq(partner.to_string()))
        .into_boxed();
    if let Some(actor) = &filter.actor_id {
        query = query.filter(audit_events::actor_id.eq(actor.clone()));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(target) = &filter.target_id {
        query = query.filter(audit_events::target_id.eq(target.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::occurred_at.lt(to));
    }
    if let Some(after) = filter.after_seq {
        query = query.filter(audit_events::seq.gt(after));
    }
    Ok(query
        .order(audit_events::seq.asc())
        .limit(filter.limit)
        .select(AuditEvent::as_select())
        .load(conn)?)
}

/// The result of walking a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Whether every event is intact and none is missing.
    pub valid: bool,
    /// How many events were checked.
    pub events: i64,
    /// The sequence number of the first bad event (altered, or after a gap).
    pub first_bad_seq: Option<i64>,
    /// The id of that event.
    pub first_bad_event_id: Option<String>,
    /// What is wrong with it.
    pub problem: Option<String>,
    /// The chain's head when it is intact: the last event's sequence
    /// number, and its hash (hex). Keep a copy elsewhere now and then; a
    /// later head that does not extend it means the log was rolled back.
    pub head_seq: Option<i64>,
    pub head_hash: Option<String>,
}

/// Walks a partner's chain from the start, in pages.
pub fn verify(
    conn: &mut DbConn,
    keys: &ServerKeys,
    partner: PartnerId,
) -> Result<Verification, DbError> {
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS.to_vec();
    let mut checked = 0;
    loop {
        let page: Vec<AuditEvent> = audit_events::table
            .filter(audit_events::partner_id.eq(partner.to_string()))
            .filter(audit_events::seq.ge(expected_seq))
            .order(audit_events::seq.asc())
            .limit(1000)
            .select(AuditEvent::as_select())
            .load(conn)?;
        if page.is_empty() {
            return check_head(conn, keys, partner, checked, &prev_hash);
        }
        for event in page {
            let problem = if event.seq != expected_seq {
                Some(format!("event {expected_seq} is missing"))
            } else if event.prev_hash != prev_hash {
                Some("its link to the event before does not match".to_owned())
            } else if !same(&event_hash(keys, &event), &event.hash) {
                Some("its content does not match its hash".to_owned())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Ok(Verification {
                    valid: false,
                    events: checked,
                    first_bad_seq: Some(event.seq),
                    first_bad_event_id: Some(event.id),
                    problem: Some(problem),
                    head_seq: None,
                    head_hash: None,
                });
            }
            checked += 1;
            expected_seq += 1;
            prev_hash = event.hash;
        }
    }
}

/// The end of a walk: the chain, `events` long and ending in `last_hash`,
/// must end where its head says.
fn check_head(
    conn: &mut DbConn,
    keys: &ServerKeys,
    partner: PartnerId,
    events: i64,
    last_hash: &[u8],
) -> Result<Verification, DbError> {
    let partner = partner.to_string();
    let head: Option<(i64, Vec<u8>, Vec<u8>)> = audit_heads::table
        .filter(audit_heads::partner_id.eq(&partner))
        .select((audit_heads::seq, audit_heads::hash, audit_heads::mac))
        .first(conn)
        .optional()?;
    let bad = |first_bad_seq: Option<i64>, problem: String| Verification {
        valid: false,
        events,
        first_bad_seq,
        first_bad_event_id: None,
        problem: Some(problem),
        head_seq: None,
        head_hash: None,
    };
    let verdict = match head {
        None if events == 0 => Verification {
            valid: true,
            events,
            first_bad_seq: None,
            first_bad_event_id: None,
            problem: None,
            head_seq: None,
            head_hash: None,
        },
        None => bad(None, "the chain's head record is missing".into()),
        Some((seq, hash, mac)) if !same(&head_mac(keys, &partner, seq, &hash), &mac) => {
            bad(None, "the chain's head record was altered".into())
        }
        Some((seq, _, _)) if seq > events => bad(
            Some(events + 1),
            format!(
                "event {} is missing: the chain ends before its head",
                events + 1
            ),
        ),
        Some((seq, _, _)) if seq < events => bad(
            Some(seq + 1),
            format!("the chain goes on past its head (event {seq})"),
        ),
        Some((_, hash, _)) if !same(&hash, last_hash) => bad(
            Some(events),
            "the last event is not the one the head names".into(),
        ),
        Some((seq, hash, _)) => Verification {
            valid: true,
            events,
            first_bad_seq: None,
            first_bad_event_id: None,
            problem: None,
            head_seq: Some(seq),
            head_hash: Some(hash.iter().map(|b| format!("{b:02x}")).collect()),
        },
    };
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::is_action_name;

    #[test]
    fn actions_are_verb_first_camel_case() {
        for good in [
            "signIn",
            "resetMasterPassword",
            "purgeVault",
            "reissueReset",
        ] {
            assert!(is_action_name(good), "{good}");
        }
        for bad in ["auth.sign_in", "reset.reissue", "SignIn", "sign_in", ""] {
            assert!(!is_action_name(bad), "{bad}");
        }
    }
}
