//! What an operation refuses with. The HTTP layer maps each to its problem
//! (`crate::error`), in one place.

use crate::db::DbError;
use crate::db::resets::VaultSummary;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such object, or one the caller must not know exists (another
    /// partner's, or outside the caller's companies): one answer for all.
    #[error("not found")]
    NotFound,
    /// The credential is not good: wrong, expired, used, revoked. One
    /// answer for all, so nothing is learned from it; `reason` is logged.
    #[error("unauthorized: {reason}")]
    Unauthorized { reason: String },
    /// The caller signed in with a one-time password and must replace it
    /// before doing anything else.
    #[error("password change required")]
    PasswordChangeRequired,
    /// Too many failed attempts: wait before trying again.
    #[error("rate limited for {wait:?}")]
    RateLimited { wait: std::time::Duration },
    /// A policy denies the action; the deciding policies are named.
    #[error("forbidden by {policy_ids:?}")]
    Forbidden {
        action: &'static str,
        policy_ids: Vec<String>,
    },
    /// A field names objects (companies, say) that are absent, of another
    /// partner, or outside what the caller sees: the same answer for all.
    #[error("{field} names an absent object")]
    ReferenceNotFound { field: String },
    /// A value the operation does not accept.
    #[error("invalid value for {field}: {message}")]
    Invalid { field: String, message: String },
    /// The request conflicts with the current state (`code` says how).
    #[error("conflict {code}: {detail}")]
    Conflict { code: &'static str, detail: String },
    /// A purge would lose company items that are not backed up, and the
    /// request did not acknowledge it.
    #[error("company items not backed up")]
    CompanyItemsNotBackedUp { vault: VaultSummary },
    /// A conditional change named no version it was decided on.
    #[error("precondition required")]
    PreconditionRequired,
    /// The version a conditional change was decided on is no longer
    /// current: someone changed it since.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The storage failed (or cannot be reached).
    #[error(transparent)]
    Storage(#[from] DbError),
}

impl Error {
    pub fn unauthorized(reason: impl Into<String>) -> Self {
        Self::Unauthorized {
            reason: reason.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl crate::db::StorageFailure for Error {
    fn storage(&self) -> Option<crate::db::Storage> {
        match self {
            Self::Storage(error) => error.storage(),
            _ => None,
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        Self::Storage(error.into())
    }
}
