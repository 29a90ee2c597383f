//! The closed sets of words the API reads and writes, as the contract
//! publishes them: each field that holds one names its enum here
//! (`#[schema(value_type = …)]`), so a client knows every value it can send
//! or receive, and a fuzzer tries the others and sees them refused.
//!
//! These types exist for the contract only; the values are checked where
//! they are read (a locale, a scope, a status filter: 422 otherwise) and
//! written from the storage layer's own constants.

use utoipa::ToSchema;

/// A locale of the product's (emails and the confirmation word).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Locale {
    En,
    Fr,
    De,
    Es,
    It,
    Nl,
    Ja,
}

/// A scope an API client may hold (see the `oauth2` security scheme).
#[derive(ToSchema)]
pub enum ClientScope {
    #[schema(rename = "partner:read")]
    PartnerRead,
    #[schema(rename = "admins:read")]
    AdminsRead,
    #[schema(rename = "api-clients:read")]
    ApiClientsRead,
    #[schema(rename = "companies:read")]
    CompaniesRead,
    #[schema(rename = "companies:write")]
    CompaniesWrite,
    #[schema(rename = "users:read")]
    UsersRead,
    #[schema(rename = "users:write")]
    UsersWrite,
    #[schema(rename = "backup-profile:write")]
    BackupProfileWrite,
    #[schema(rename = "resets:read")]
    ResetsRead,
    #[schema(rename = "resets:write")]
    ResetsWrite,
    #[schema(rename = "audit:read")]
    AuditRead,
}

/// Where a user stands: `invited` until the first key material is set,
/// `active`, `reset_pending` between a reset and the new master password,
/// `disabled`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum UserStatus {
    Invited,
    Active,
    ResetPending,
    Disabled,
}

/// Where a reset stands.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ResetStatus {
    AwaitingApproval,
    PendingUserAction,
    Completed,
    Superseded,
    Expired,
    Rejected,
}

/// Where a reset batch stands.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum BatchStatus {
    Running,
    Completed,
    Cancelled,
}

/// Where one user of a batch stands: waiting (`queued`), being reset
/// (`running`), or the outcome of their reset.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum BatchUserStatus {
    Queued,
    Running,
    Completed,
    AwaitingApproval,
    Denied,
    NotBackedUp,
    ResetPending,
    NotFound,
    Failed,
    Cancelled,
}

/// Where a reset's email stands in the outbox.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum EmailStatus {
    Queued,
    Sending,
    Sent,
    Retrying,
    Dead,
}

/// Who asked for a reset.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum RequesterKind {
    Admin,
    ApiClient,
}

/// Who acted, in an audit event.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ActorKind {
    Admin,
    ApiClient,
    /// The platform operator's staff.
    Operator,
    /// A company's SCIM token: its directory.
    ScimToken,
    User,
    System,
    Anonymous,
}

/// What an audit event's authorization decided.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

/// Why a backup copy's item left the vault.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum RemovalReason {
    Deleted,
    Purged,
}

/// An action a portal may ask about (`POST /v1/authorization/check`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub enum CheckedAction {
    ReadPartner,
    UpdatePartner,
    ListAdmins,
    ListApiClients,
    ListCompanies,
    SearchUsers,
    ListResets,
    CreateResetBatch,
    ReadAudit,
    CheckAuthorization,
    ChangeOwnPassword,
    ReadAdmin,
    CreateAdmin,
    UpdateAdmin,
    DeleteAdmin,
    CreateApiClient,
    DeleteApiClient,
    ReadCompany,
    ReadBackupProfile,
    CreateCompany,
    UpdateCompany,
    RetireCompany,
    UpdateBackupProfile,
    ListUsers,
    CreateUser,
    ReadUser,
    InviteUser,
    UpdateUser,
    DisableUser,
    EnableUser,
    OffboardUser,
    ReadReset,
    ResetMasterPassword,
    PurgeVault,
    ApproveReset,
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    /// Every kind of actor the audit log stores is one the contract lists.
    #[test]
    fn the_contract_names_every_actor_kind() {
        use crate::audit::ActorKind as Stored;
        let all = [
            Stored::Admin,
            Stored::ApiClient,
            Stored::Operator,
            Stored::ScimToken,
            Stored::User,
            Stored::System,
            Stored::Anonymous,
        ];
        // Exhaustive: a new kind does not compile here until listed above.
        for kind in all {
            match kind {
                Stored::Admin
                | Stored::ApiClient
                | Stored::Operator
                | Stored::ScimToken
                | Stored::User
                | Stored::System
                | Stored::Anonymous => {}
            }
        }
        let schema = serde_json::to_value(super::ActorKind::schema()).unwrap();
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .expect("an enum")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        for kind in all {
            assert!(
                listed.contains(&kind.as_str()),
                "{} is not in the contract",
                kind.as_str()
            );
        }
        assert_eq!(listed.len(), all.len());
    }
}
