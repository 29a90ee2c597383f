//! The operations of Custodian, in plain Rust: what the API, a batch
//! worker, an approval or a webhook dispatcher call to act on the domain.
//!
//! Each operation takes the [`App`] (the services it may use) and an
//! [`OpContext`] (who is acting, for which partner, in which request, and
//! when), authorizes first, then runs its rules and its transaction, and
//! answers a domain result or an [`Error`]. Nothing here knows HTTP: no file
//! of this module names the web framework or the contract's schema crate (a
//! test reads them to make sure). The HTTP layer extracts, calls one
//! operation and maps the result to a view (`docs/architecture.md`).

pub mod account;
pub mod admins;
pub mod api_clients;
pub mod audit;
pub mod authorization;
pub mod backup;
pub mod batches;
pub mod companies;
mod context;
mod error;
pub mod idempotent;
mod invitations;
pub mod offboarding;
pub mod paging;
pub mod partner;
pub mod platform;
pub mod resets;
pub mod scim;
pub mod sign_in;
pub mod users;
pub mod vault;

use std::sync::Arc;

pub use account::AccountContext;
pub use context::{Accept, Actor, Credential, Decider, Denied, OpContext, Token};
pub use error::Error;

use crate::auth::keys::ServerKeys;
use crate::auth::password::Passwords;
use crate::auth::throttle::Throttle;
use crate::auth::tokens::TokenService;
use crate::authz::Authz;
use crate::authz::Principal;
use crate::clock::Clock;
use crate::db::Db;
use crate::ids::CompanyId;

/// The services an operation may use. Cloning is cheap.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub keys: Arc<ServerKeys>,
    pub authz: Arc<Authz>,
    /// The time, as everything that ages reads it.
    pub clock: Clock,
    /// Wakes this instance's outbox workers after a change queued an email.
    pub outbox: crate::mail::Signal,
    /// Wakes this instance's batch workers after a batch was made.
    pub batches: crate::mail::Signal,
    /// How long a reset awaiting approval waits before it expires.
    pub approval_ttl: chrono::Duration,
    /// argon2id, on threads of its own.
    pub passwords: Passwords,
    /// Issues and verifies the tokens admins, API clients and users carry.
    pub tokens: Arc<TokenService>,
    /// Counts failed sign-ins and other guesses, per account and address.
    pub throttle: Arc<Throttle>,
}

impl App {
    /// Counts an attempt of `path` before any work a guess could use; a
    /// caller over its budget waits.
    pub async fn throttled(
        &self,
        path: crate::auth::throttle::Path,
        account: Option<&str>,
        address: Option<std::net::IpAddr>,
    ) -> Result<crate::auth::throttle::Ticket, Error> {
        use crate::auth::throttle::{Attempt, Verdict};
        let attempt = Attempt {
            path,
            account,
            address,
        };
        match self.throttle.begin(attempt, self.clock.now()).await? {
            Verdict::Go(ticket) => Ok(ticket),
            Verdict::Wait(wait) => {
                tracing::warn!(wait_seconds = wait.as_secs(), ?path, "attempt throttled");
                Err(Error::RateLimited { wait })
            }
        }
    }

    /// The migrations this build knows that the database has not applied,
    /// and the newest it has: whether this instance may serve.
    pub async fn schema(&self) -> Result<(Vec<String>, Option<String>), Error> {
        use crate::db::migrations;
        Ok(self
            .db
            .run(|conn| {
                Ok::<_, crate::db::DbError>((
                    migrations::pending(conn)?,
                    migrations::current_version(conn)?,
                ))
            })
            .await?)
    }

    /// Writes one audit event in a transaction of its own.
    pub async fn audit(&self, event: crate::audit::NewEvent) -> Result<(), Error> {
        let keys = self.keys.clone();
        self.db
            .write(move |conn| crate::audit::append(conn, &keys, event).map(drop))
            .await?;
        Ok(())
    }
}

/// The product's locales.
pub const LOCALES: &[&str] = &["en", "fr", "de", "es", "it", "nl", "ja"];

/// The product's locales, as a person reads the list.
pub const LOCALE_LIST: &str = "en, fr, de, es, it, nl, ja";

/// A locale of the product's; `en` when none is named.
pub fn locale(locale: Option<String>) -> Result<String, Error> {
    let locale = locale.unwrap_or_else(|| "en".into());
    if LOCALES.contains(&locale.as_str()) {
        Ok(locale)
    } else {
        Err(Error::invalid(
            "locale",
            format!("must be one of {LOCALE_LIST}"),
        ))
    }
}

/// A stored id, parsed; a value that does not parse is a corrupt row,
/// reported as a storage failure (logged), never a panic or a nil id.
pub(crate) fn stored<T>(
    raw: &str,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, crate::db::DbError> {
    parse(raw)
        .ok_or_else(|| crate::db::DbError::Corrupt(format!("stored {what} {raw:?} is not an id")))
}

/// The companies a list may show: those the caller may see, narrowed to the
/// one a filter names (a company the caller cannot see simply shows
/// nothing); `None` is every company of the partner. The policies decide
/// each row too; this keeps a page from filling with rows they would then
/// drop.
pub fn visible_within(principal: &Principal, asked: Option<CompanyId>) -> Option<Vec<CompanyId>> {
    let visible = principal.company_limit().map(<[CompanyId]>::to_vec);
    match asked {
        None => visible,
        Some(company) => Some(match visible {
            Some(visible) => visible.into_iter().filter(|c| *c == company).collect(),
            None => vec![company],
        }),
    }
}

#[cfg(test)]
mod tests {
    /// The layer stays below HTTP: no file of it names actix-web or utoipa.
    #[test]
    fn nothing_here_knows_http() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for (number, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                // Spelled in pieces, so this test's own lines pass.
                for crate_name in [
                    concat!("actix", "_"),
                    concat!("uto", "ipa"),
                    concat!("crate::", "http"),
                ] {
                    assert!(
                        !code.contains(crate_name),
                        "{}:{}: {crate_name} in the domain layer",
                        path.display(),
                        number + 1
                    );
                }
            }
            read += 1;
        }
        assert!(read >= 3, "read the module's files");
    }
}
