//! The enumerations the schema stores as `TEXT` with a `CHECK`, as Rust
//! enums: a row reads into its enum, a query binds one, and no string
//! literal compares a status. A stored value outside the enum fails the
//! row's read as a deserialization error (a corrupt row, logged), never a
//! silent default.
//!
//! The impls are generic over the backend, bounded on `str` and `String`
//! being `Text` there: that covers SQLite, PostgreSQL and the connection
//! enum's own backend alike.

use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// Declares a stored enumeration: the variants and the text of each.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in the schema's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The value as stored (and as the contract spells it).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// A stored or sent value; `None` for anything else.
            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&raw).ok_or_else(|| {
                    serde::de::Error::unknown_variant(&raw, &[$($text,)+])
                })
            }
        }

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB> FromSql<Text, DB> for $name
        where
            DB: diesel::backend::Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let raw = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                Self::parse(&raw).ok_or_else(|| {
                    format!(concat!("stored ", stringify!($name), " {:?} is not one"), raw).into()
                })
            }
        }
    };
}

stored_enum! {
    /// What an admin may do across the partner (refined by Cedar policies).
    Role {
        Owner = "owner",
        Admin = "admin",
        Technician = "technician",
    }
}

stored_enum! {
    /// Where an end user stands.
    UserStatus {
        /// Created; no key material registered yet.
        Invited = "invited",
        Active = "active",
        /// A reset purged the vault; the user has not set a new master
        /// password yet.
        ResetPending = "reset_pending",
        Disabled = "disabled",
    }
}

stored_enum! {
    /// Which client an end user runs: it decides how a reset's secret is
    /// delivered.
    ClientKind {
        Desktop = "desktop",
        Webapp = "webapp",
    }
}

stored_enum! {
    /// The statuses a reset moves through.
    ResetStatus {
        /// Policy asked for a second admin: nothing was purged or sent yet.
        AwaitingApproval = "awaiting_approval",
        /// Waiting for the user to set a new master password.
        PendingUserAction = "pending_user_action",
        Completed = "completed",
        /// A later reset (or a re-issue) replaced it.
        Superseded = "superseded",
        /// Its secret expired before the user used it, or its approval
        /// before anyone decided.
        Expired = "expired",
        /// A second admin refused it: nothing was purged or sent.
        Rejected = "rejected",
    }
}

stored_enum! {
    /// Where a reset batch stands.
    BatchStatus {
        /// Users are still queued or being reset.
        Running = "running",
        /// Every user has an outcome.
        Completed = "completed",
        /// Stopped: users not yet started were not reset.
        Cancelled = "cancelled",
    }
}

stored_enum! {
    /// Where one user of a batch stands: waiting, being reset, or the
    /// outcome of their reset.
    ItemStatus {
        Queued = "queued",
        /// Claimed by a worker until its lease ends.
        Running = "running",
        /// The reset was made (the user is emailed).
        Completed = "completed",
        /// The reset waits for a second admin's approval.
        AwaitingApproval = "awaiting_approval",
        /// The requester may not reset this user.
        Denied = "denied",
        /// Company items are not backed up and the batch did not
        /// acknowledge losing them.
        NotBackedUp = "not_backed_up",
        /// The user already has a pending reset.
        ResetPending = "reset_pending",
        /// No such user, as far as the requester may see.
        NotFound = "not_found",
        /// Something else refused the reset; the problem says what.
        Failed = "failed",
        /// The batch was cancelled before this user's turn.
        Cancelled = "cancelled",
    }
}

impl ItemStatus {
    /// Whether the user has an outcome (nothing more will happen).
    pub fn is_done(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

stored_enum! {
    /// How a user receives a reset's secret.
    Delivery {
        /// A temporary master password (desktop users), typed into the app.
        TemporaryPassword = "temporary_password",
        /// A single-use link (webapp users, or everyone when the partner set
        /// `links_for_everyone`).
        Link = "link",
    }
}

stored_enum! {
    /// Where an outbox message stands.
    EmailStatus {
        /// Written, not yet tried.
        Queued = "queued",
        /// Claimed by a worker (`locked_by`) until `locked_until`; a worker
        /// that died leaves it to be claimed again once that time passes.
        Sending = "sending",
        /// Accepted by the SMTP server (or written to its file); payload
        /// erased.
        Sent = "sent",
        /// A try failed; tried again at `next_attempt_at`.
        Retrying = "retrying",
        /// Given up (or withdrawn); payload erased.
        Dead = "dead",
    }
}

stored_enum! {
    /// Which profile a vault item belongs to.
    Profile {
        Personal = "personal",
        Company = "company",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_and_nothing_else_parses() {
        for status in ResetStatus::ALL {
            assert_eq!(ResetStatus::parse(status.as_str()), Some(*status));
        }
        for role in Role::ALL {
            assert_eq!(Role::parse(&role.to_string()), Some(*role));
        }
        assert_eq!(UserStatus::parse("Active"), None);
        assert_eq!(Delivery::parse(""), None);
        assert_eq!(EmailStatus::ALL.len(), 5);
    }
}
