//! An end user acting on their own account: the context their operations
//! run in.

use chrono::NaiveDateTime;

use super::{App, Error};
use crate::authz::{Action, Principal, Resource};
use crate::ids::{CompanyId, PartnerId, UserId};

/// An end user signed in with an account token, acting now.
#[derive(Debug, Clone)]
pub struct AccountContext {
    pub user: UserId,
    pub company: CompanyId,
    pub partner: PartnerId,
    /// The token generation the caller's token was issued at.
    pub generation: i64,
    pub request_id: Option<String>,
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
