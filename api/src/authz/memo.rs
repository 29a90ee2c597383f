//! Decisions remembered.
//!
//! A decision is a pure function of the request's principal, action and
//! resource: the policies are fixed for the life of an [`Authz`](super::Authz)
//! (other policies are another `Authz`, with an empty memo), and the request's
//! entities are built from those three values alone (`entities.rs`), never
//! read from anywhere else. So a decision made once is the decision every
//! time, and the memo keeps it. Nothing ever needs invalidating: a changed
//! role, company assignment or scope list is another principal, so another
//! key, and the entries of a principal that no longer exists are never asked
//! for again (they go when the memo is full). What stays outside is what the
//! caller loads per request: whether the admin or client still exists, and
//! their current role, companies and scopes (`http::caller`).
//!
//! One widening, for callers who are not end users: a user resource is keyed
//! by its company and partner, not by its id, so a page of fifty users of a
//! few companies is a few decisions. That is sound because such a decision
//! cannot tell two users of one company apart. Cedar observes an entity's
//! identity only by comparing it (`==`, `in`, set membership) with another
//! entity value, and the entity values of such a request are the principal
//! (an admin or a client), its partner and companies, the resource's company
//! and partner, the action, and the entity literals of the policies. None is
//! a user unless a policy names one, and [`Authz`](super::Authz) turns the
//! widening off when one does ([`names_a_user`]). For an end user (whose own
//! id is in the request, and whose policies compare it with the resource's)
//! the user's id stays in the key. A test decides the same requests with and
//! without the memo, for every kind of principal.
//!
//! Decisions that carry an evaluation error are not kept: they are a bug of
//! ours, and their message names the entity they were made on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cedar_policy::PolicySet;

use super::Decision;
use super::entities::{Action, Principal, Resource};
use crate::ids::UserId;

/// The most decisions kept (a few hundred bytes each; a principal's key
/// counts as one more, and one more per company or scope it holds). A full
/// memo is emptied and fills again: simpler than an LRU, and a memo that is
/// full is one whose old entries are mostly of principals and companies
/// gone.
const CAPACITY: usize = 50_000;

/// Decisions by principal, then action, then resource (as keyed).
#[derive(Default)]
pub(super) struct Memo {
    decisions: Mutex<Decisions>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Default)]
struct Decisions {
    by_principal: HashMap<Principal, HashMap<Action, HashMap<Resource, Decision>>>,
    len: usize,
}

/// How often the memo answered, for the benchmarks and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoStats {
    /// Decisions answered from the memo.
    pub hits: u64,
    /// Decisions evaluated by Cedar.
    pub misses: u64,
}

impl Memo {
    /// The remembered decision of each resource (as keyed), in order; `None`
    /// where there is none yet.
    pub(super) fn get(
        &self,
        principal: &Principal,
        action: &Action,
        keys: &[Resource],
    ) -> Vec<Option<Decision>> {
        let found: Vec<Option<Decision>> = {
            let decisions = self.decisions.lock().unwrap_or_else(|e| e.into_inner());
            let by_resource = decisions
                .by_principal
                .get(principal)
                .and_then(|by_action| by_action.get(action));
            keys.iter()
                .map(|key| by_resource.and_then(|m| m.get(key)).cloned())
                .collect()
        };
        let hits = found.iter().filter(|d| d.is_some()).count() as u64;
        self.hits.fetch_add(hits, Ordering::Relaxed);
        self.misses
            .fetch_add(found.len() as u64 - hits, Ordering::Relaxed);
        found
    }

    /// Keeps decisions just evaluated (those without errors).
    pub(super) fn put(
        &self,
        principal: &Principal,
        action: &Action,
        decided: impl IntoIterator<Item = (Resource, Decision)>,
    ) {
        let mut decided = decided
            .into_iter()
            .filter(|(_, decision)| decision.errors.is_empty())
            .peekable();
        if decided.peek().is_none() {
            return;
        }
        let mut decisions = self.decisions.lock().unwrap_or_else(|e| e.into_inner());
        if decisions.len >= CAPACITY {
            *decisions = Decisions::default();
        }
        let Decisions { by_principal, len } = &mut *decisions;
        if !by_principal.contains_key(principal) {
            // A principal's key weighs with its companies (a technician's
            // may be hundreds), so the bound holds whatever the keys are.
            *len += 1 + weight(principal);
        }
        let by_resource = by_principal
            .entry(principal.clone())
            .or_default()
            .entry(action.clone())
            .or_default();
        for (key, decision) in decided {
            if by_resource.insert(key, decision).is_none() {
                *len += 1;
            }
        }
    }

    pub(super) fn stats(&self) -> MemoStats {
        MemoStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// How many entries a principal's key counts for, beyond one.
fn weight(principal: &Principal) -> usize {
    match principal {
        Principal::Admin { companies, .. } => companies.len(),
        Principal::ApiClient {
            companies, scopes, ..
        } => companies.as_ref().map_or(0, Vec::len) + scopes.len(),
        Principal::User { .. } | Principal::ScimToken { .. } => 0,
    }
}

/// The one id every user resource is keyed by when user ids are widened.
fn any_user() -> UserId {
    UserId::from_uuid(uuid::Uuid::nil())
}

/// `resource` as the memo keys it for `principal` (see the module's docs).
pub(super) fn key(principal: &Principal, resource: &Resource, users_anonymous: bool) -> Resource {
    match resource {
        Resource::User {
            company, partner, ..
        } if users_anonymous && !matches!(principal, Principal::User { .. }) => Resource::User {
            id: any_user(),
            company: *company,
            partner: *partner,
        },
        other => other.clone(),
    }
}

/// Whether a policy names a user entity (`Custodian::User::"…"`), in its
/// scope or its conditions: then decisions may tell users apart, and user
/// ids stay in the memo's keys.
pub(super) fn names_a_user(policies: &PolicySet) -> bool {
    let user = super::entities::user_type();
    policies.policies().any(|policy| {
        policy
            .entity_literals()
            .iter()
            .any(|uid| uid.type_name() == user)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::admins::Role;
    use crate::ids::{AdminId, CompanyId, PartnerId};

    fn allowed() -> Decision {
        Decision {
            allowed: true,
            policy_ids: vec!["p".into()],
            errors: Vec::new(),
        }
    }

    /// Principals count with their companies, and a full memo starts over:
    /// it never holds more than its capacity, however its keys are made.
    #[test]
    fn the_memo_is_bounded_by_entries_and_principals() {
        let memo = Memo::default();
        let partner = PartnerId::new();
        let resource = Resource::Partner(partner);
        let technician = |companies: usize| Principal::Admin {
            id: AdminId::new(),
            partner,
            role: Role::Technician,
            companies: (0..companies).map(|_| CompanyId::new()).collect(),
        };
        let first = technician(10);
        memo.put(
            &first,
            &Action::ReadPartner,
            [(resource.clone(), allowed())],
        );
        assert_eq!(memo.decisions.lock().unwrap().len, 1 + 10 + 1);
        let mut most = 0;
        for _ in 0..(CAPACITY / 100 + 5) {
            memo.put(
                &technician(99),
                &Action::ReadPartner,
                [(resource.clone(), allowed())],
            );
            most = most.max(memo.decisions.lock().unwrap().len);
        }
        assert!(most <= CAPACITY + 100, "{most}");
        // The memo filled and started over: the first principal is gone.
        let found = memo.get(
            &first,
            &Action::ReadPartner,
            std::slice::from_ref(&resource),
        );
        assert_eq!(found, vec![None]);
        // Decisions with an error are not kept.
        let errs = technician(0);
        memo.put(
            &errs,
            &Action::ReadPartner,
            [(
                resource.clone(),
                Decision {
                    allowed: false,
                    policy_ids: Vec::new(),
                    errors: vec!["bug".into()],
                },
            )],
        );
        assert_eq!(
            memo.get(&errs, &Action::ReadPartner, &[resource]),
            vec![None]
        );
    }
}
