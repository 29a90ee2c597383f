//! `/v1/partner`, and the rule that every operation authorizes: a test that
//! lists the contract's operations and runs, for each, a request without a
//! token (401), one the policies allow, and one they deny.

use custodian_api::db::Backend;
use custodian_api::db::admins::Role;
use custodian_api::http::openapi;
use custodian_api::testing::TestServer;

use crate::support::{client_token, create_client, seed, sign_in, signed_in_user};
use custodian_api::db::DbError;
use rstest::rstest;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// Operations that need no token: they reveal nothing about any partner.
const PUBLIC: &[&str] = &[
    "health_get",
    "readiness_get",
    "metrics_get",
    "openapi_get",
    "docs_get",
    "token_create",
    "jwks_get",
    "account_token_create",
    // The link's token is the credential, in the body. Past it, the user is
    // authorized like any user on their own account (`useOwnVault`: allowed
    // in resets::a_webapp_user_finishes_the_reset_with_the_emailed_link,
    // denied by the fixture DENY/user_uses_anothers_vault.json).
    "account_reset_link_complete",
    // The same for an invitation's link (allowed in
    // invitations::an_invited_user_chooses_a_master_password_through_the_emailed_link).
    "account_invitation_accept",
    // The same for an admin's invitation: the link's token is the
    // credential, and accepting it only sets that admin's password
    // (admins::an_admin_is_invited_joins_through_the_emailed_link_and_is_managed).
    "admin_invitation_accept",
    // The platform operator's sign-in: its password is the credential; the
    // token it answers passes the platform's operations only (below).
    "operator_token_create",
    // What SCIM supports here: the same for everyone, about no one.
    "scim_service_provider_config",
];

/// Who is allowed, in a case.
#[derive(Clone, Copy)]
enum Allowed {
    /// An admin of this role.
    Role(Role),
    /// The seeded end user, signed in to their account.
    User,
    /// A user signed in with a reset's temporary password.
    ResettingUser,
    /// A user signed in with a recovery key's verifier.
    RecoveringUser,
    /// The platform operator.
    Operator,
    /// The seeded company's SCIM token.
    Scim,
}

/// Who is denied, in a case.
#[derive(Clone, Copy)]
enum Denied {
    /// By the Cedar policies, for a caller of this role.
    Role(Role),
    /// A technician assigned to the seeded company, for what technicians
    /// may not do even there (outside their companies, everything is
    /// absent: 404, not 403).
    AssignedTechnician,
    /// A token that may only change its password (a one-time password).
    PasswordChangeOnly,
    /// An API client with these scopes.
    Client(&'static [&'static str]),
    /// No HTTP caller can be denied (the operation acts on the caller); the
    /// policy's deny is proven by this request fixture in `policies/DENY`.
    Fixture(&'static str),
    /// The platform's operations: no partner's token passes them, not even
    /// an owner's (another audience: 401). Within Cedar, `operator.cedar`
    /// forbids them to anyone but the operator; the schema lets them apply
    /// to the operator only, so no request fixture can state the denial.
    PartnerOwner,
    /// An API client with these scopes, denied user by user: the operation
    /// answers for each user it names (a batch), and lists the seeded user
    /// under `denied`.
    ClientPerUser(&'static [&'static str]),
    /// One of the operator's API clients: it never manages the operator's
    /// credentials (`operator-clients-never-manage-credentials`).
    OperatorClient,
}

/// A new API client of the operator's: (id, secret).
async fn operator_client(server: &TestServer) -> (String, String) {
    let operator = crate::support::operator_token(server).await;
    let body = json!({"name": "Automation"});
    let (status, made) = crate::support::send(
        server,
        &operator,
        "POST",
        "/v1/operator/api-clients",
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    (
        made["client"]["id"].as_str().unwrap().to_owned(),
        made["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// One authorization case per operation: a request the allowed role may
/// make, and who is denied it.
struct Case {
    operation: &'static str,
    method: &'static str,
    /// The path, given the server and its seeded objects.
    path: fn(&Seeded) -> String,
    /// The request body, given the seeded objects and the allowed caller's
    /// password.
    body: fn(&Seeded, &str) -> Option<Value>,
    allowed: Allowed,
    denied: Denied,
    /// Extra request headers.
    headers: &'static [(&'static str, &'static str)],
}

/// What the paths of the cases name.
struct Seeded<'a> {
    server: &'a TestServer,
    /// An API client of the partner.
    client_id: String,
    /// A company of the partner.
    company_id: String,
    /// Another company of the partner, without users, to retire.
    spare_company_id: String,
    /// A user of that company.
    user_id: String,
    /// Another user's account token.
    user_token: String,
    /// A backup copy of that company's.
    copy_id: String,
    /// A reset of another user of the company.
    reset_id: String,
    /// A batch of the owner's, one user of which another instance is
    /// resetting (so it runs until cancelled).
    batch_id: String,
    /// That user's restricted token, from the reset's temporary password.
    resetting_token: String,
    /// Another user's restricted token, from their recovery key's verifier.
    recovering_token: String,
    /// A pending reset of a third user, to re-issue.
    reissue_id: String,
    /// Resets of two more users awaiting approval, asked by the owner: one
    /// to approve, one to reject.
    approval_id: String,
    rejection_id: String,
    /// A user to disable and enable.
    disabled_user_id: String,
    /// A user to offboard.
    offboarded_user_id: String,
    /// A technician invited who has not joined.
    invited_admin_id: String,
    /// Another partner, made by the operator, its owner invited.
    other_partner_id: String,
    /// An API client of the operator's, to remove.
    operator_client_id: String,
    /// The seeded company's SCIM token, and another to remove.
    scim_token: String,
    spare_scim_token_id: String,
    /// A user of the seeded company for SCIM to read, change and remove.
    scim_user_id: String,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            operation: "partner_get",
            method: "GET",
            path: |_| "/v1/partner".into(),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Technician),
            denied: Denied::PasswordChangeOnly,
            headers: &[],
        },
        Case {
            operation: "partner_update",
            method: "PATCH",
            path: |_| "/v1/partner".into(),
            body: |_, _| Some(json!({"links_for_everyone": true})),
            allowed: Allowed::Role(Role::Owner),
            denied: Denied::Role(Role::Admin),
            headers: &[],
        },
        Case {
            operation: "admins_list",
            method: "GET",
            path: |_| "/v1/admins".into(),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Role(Role::Technician),
            headers: &[],
        },
        Case {
            operation: "admins_create",
            method: "POST",
            path: |_| "/v1/admins".into(),
            body: |_, _| {
                Some(
                    json!({"email": "new.tech@example.com", "name": "New Tech", "role": "technician"}),
                )
            },
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Role(Role::Technician),
            headers: &[],
        },
        Case {
            operation: "admin_get",
            method: "GET",
            path: |s| format!("/v1/admins/{}", s.server.owner.owner_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Role(Role::Technician),
            headers: &[],
        },
        Case {
            operation: "admin_update",
            method: "PATCH",
            path: |s| format!("/v1/admins/{}", s.server.owner.owner_id),
            body: |_, _| Some(json!({"name": "The Owner"})),
            allowed: Allowed::Role(Role::Owner),
            denied: Denied::Role(Role::Admin),
            headers: &[],
        },
        Case {
            operation: "admin_delete",
            method: "DELETE",
            path: |s| format!("/v1/admins/{}", s.server.owner.owner_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Owner),
            denied: Denied::Role(Role::Admin),
            headers: &[],
        },
        Case {
            operation: "partners_list",
            method: "GET",
            path: |_| "/v1/partners?limit=5".into(),
            body: |_, _| None,
            allowed: Allowed::Operator,
            denied: Denied::PartnerOwner,
            headers: &[],
        },
        Case {
            operation: "partners_create",
            method: "POST",
            path: |_| "/v1/partners".into(),
            body: |_, _| {
                Some(
                    json!({"name": "Fabrikam IT", "owner": {"email": "owner@fabrikam.example", "name": "Fay"}}),
                )
            },
            allowed: Allowed::Operator,
            denied: Denied::PartnerOwner,
            headers: &[],
        },
        Case {
            operation: "partner_account_get",
            method: "GET",
            path: |s| format!("/v1/partners/{}", s.other_partner_id),
            body: |_, _| None,
            allowed: Allowed::Operator,
            denied: Denied::PartnerOwner,
            headers: &[],
        },
        Case {
            operation: "partner_account_update",
            method: "PATCH",
            path: |s| format!("/v1/partners/{}", s.other_partner_id),
            body: |_, _| Some(json!({"name": "Northwind Managed IT"})),
            allowed: Allowed::Operator,
            denied: Denied::PartnerOwner,
            headers: &[],
        },
        Case {
            operation: "partner_suspend",
            method: "POST",
            path: |s| format!("/v1/partners/{}/suspend", s.other_partner_id),
            body: |_, _| None,
            allowed: Allowed::Operator,
            denied: Denied::PartnerOwner,
            headers: &[],
        },
        Case {
            operation: "partner_reactivate",
            method: "POST",
            path: |s| format!("/v1/partners/{}/reactivate", s.other_partner_id),
            body: |_, _| None,
            allowed: Allowed::Operator,
            denied: Denied::PartnerOwner,
            headers: &[],
        },
        Case {
            operation: "partner_owners_invite",
            method: "POST",
            path: |s| format!("/v1/partners/{}/owner-invitations", s.other_partner_id),
            body: |_, _| None,
            allowed: Allowed::Operator,
            denied: Denied::PartnerOwner,
            headers: &[],
        },
        Case {
            operation: "platform_audit_events_list",
            method: "GET",
            path: |_| "/v1/operator/audit-events?limit=5".into(),
            body: |_, _| None,
            allowed: Allowed::Operator,
            denied: Denied::PartnerOwner,
            headers: &[],
        },
        Case {
            operation: "platform_audit_events_verify",
            method: "GET",
            path: |_| "/v1/operator/audit-events/verify".into(),
            body: |_, _| None,
            allowed: Allowed::Operator,
            denied: Denied::PartnerOwner,
            headers: &[],
        },
        Case {
            operation: "operator_clients_list",
            method: "GET",
            path: |_| "/v1/operator/api-clients".into(),
            body: |_, _| None,
            allowed: Allowed::Operator,
            denied: Denied::OperatorClient,
            headers: &[],
        },
        Case {
            operation: "operator_clients_create",
            method: "POST",
            path: |_| "/v1/operator/api-clients".into(),
            body: |_, _| Some(json!({"name": "Billing sync"})),
            allowed: Allowed::Operator,
            denied: Denied::OperatorClient,
            headers: &[],
        },
        Case {
            operation: "operator_client_delete",
            method: "DELETE",
            path: |s| format!("/v1/operator/api-clients/{}", s.operator_client_id),
            body: |_, _| None,
            allowed: Allowed::Operator,
            denied: Denied::OperatorClient,
            headers: &[],
        },
        Case {
            operation: "admin_invitation_send",
            method: "POST",
            path: |s| format!("/v1/admins/{}/invitation", s.invited_admin_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Role(Role::Technician),
            headers: &[],
        },
        Case {
            operation: "audit_events_list",
            method: "GET",
            path: |_| "/v1/audit-events?limit=10".into(),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Owner),
            denied: Denied::Role(Role::Technician),
            headers: &[],
        },
        Case {
            operation: "audit_events_verify",
            method: "GET",
            path: |_| "/v1/audit-events/verify".into(),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Role(Role::Technician),
            headers: &[],
        },
        Case {
            operation: "api_clients_list",
            method: "GET",
            path: |_| "/v1/api-clients".into(),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Role(Role::Technician),
            headers: &[],
        },
        Case {
            operation: "api_clients_create",
            method: "POST",
            path: |_| "/v1/api-clients".into(),
            body: |_, _| Some(json!({"name": "RMM", "scopes": ["users:read"]})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Role(Role::Technician),
            headers: &[],
        },
        Case {
            operation: "api_client_delete",
            method: "DELETE",
            path: |s| format!("/v1/api-clients/{}", s.client_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Role(Role::Technician),
            headers: &[],
        },
        Case {
            operation: "scim_tokens_list",
            method: "GET",
            path: |s| format!("/v1/companies/{}/scim-tokens", s.company_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::AssignedTechnician,
            headers: &[],
        },
        Case {
            operation: "scim_tokens_create",
            method: "POST",
            path: |s| format!("/v1/companies/{}/scim-tokens", s.company_id),
            body: |_, _| Some(json!({"name": "Entra ID", "client_kind": "desktop"})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::AssignedTechnician,
            headers: &[],
        },
        Case {
            operation: "scim_token_delete",
            method: "DELETE",
            path: |s| {
                format!(
                    "/v1/companies/{}/scim-tokens/{}",
                    s.company_id, s.spare_scim_token_id
                )
            },
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::AssignedTechnician,
            headers: &[],
        },
        Case {
            operation: "scim_users_list",
            method: "GET",
            path: |_| "/scim/v2/Users?filter=userName%20eq%20%22nobody%40example.com%22".into(),
            body: |_, _| None,
            allowed: Allowed::Scim,
            denied: Denied::Fixture("DENY/scim_lists_another_companys_users.json"),
            headers: &[],
        },
        Case {
            operation: "scim_users_create",
            method: "POST",
            path: |_| "/scim/v2/Users".into(),
            body: |_, _| Some(json!({"userName": "provisioned@example.com", "active": true})),
            allowed: Allowed::Scim,
            denied: Denied::Fixture("DENY/scim_creates_a_user_in_another_company.json"),
            headers: &[],
        },
        Case {
            operation: "scim_user_get",
            method: "GET",
            path: |s| format!("/scim/v2/Users/{}", s.scim_user_id),
            body: |_, _| None,
            allowed: Allowed::Scim,
            denied: Denied::Fixture("DENY/scim_reads_a_user_of_another_company.json"),
            headers: &[],
        },
        Case {
            operation: "scim_user_replace",
            method: "PUT",
            path: |s| format!("/scim/v2/Users/{}", s.scim_user_id),
            body: |s, _| {
                Some(
                    json!({"userName": format!("{}@example.com", s.scim_user_id), "displayName": "Renamed"}),
                )
            },
            allowed: Allowed::Scim,
            denied: Denied::Fixture("DENY/scim_changes_a_user_of_another_company.json"),
            headers: &[],
        },
        Case {
            operation: "scim_user_patch",
            method: "PATCH",
            path: |s| format!("/scim/v2/Users/{}", s.scim_user_id),
            body: |_, _| {
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": false}]}),
                )
            },
            allowed: Allowed::Scim,
            denied: Denied::Fixture("DENY/scim_disables_a_user_of_another_company.json"),
            headers: &[],
        },
        Case {
            operation: "scim_user_delete",
            method: "DELETE",
            path: |s| format!("/scim/v2/Users/{}", s.scim_user_id),
            body: |_, _| None,
            allowed: Allowed::Scim,
            denied: Denied::Fixture("DENY/scim_offboards_a_user_of_another_company.json"),
            headers: &[],
        },
        Case {
            operation: "authorization_check",
            method: "POST",
            path: |_| "/v1/authorization/check".into(),
            body: |_, _| Some(json!({"checks": [{"action": "readPartner"}]})),
            allowed: Allowed::Role(Role::Technician),
            denied: Denied::Client(&["partner:read"]),
            headers: &[],
        },
        Case {
            operation: "companies_list",
            method: "GET",
            path: |_| "/v1/companies".into(),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Technician),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "companies_create",
            method: "POST",
            path: |_| "/v1/companies".into(),
            body: |_, _| Some(json!({"name": "Acme Law"})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Role(Role::Technician),
            headers: &[],
        },
        Case {
            operation: "company_get",
            method: "GET",
            path: |s| format!("/v1/companies/{}", s.company_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "company_update",
            method: "PATCH",
            path: |s| format!("/v1/companies/{}", s.company_id),
            body: |_, _| Some(json!({"name": "Acme Dental Group"})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::AssignedTechnician,
            headers: &[],
        },
        Case {
            operation: "company_retire",
            method: "DELETE",
            path: |s| format!("/v1/companies/{}", s.spare_company_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["companies:read"]),
            headers: &[],
        },
        Case {
            operation: "backup_profile_get",
            method: "GET",
            path: |s| format!("/v1/companies/{}/backup-profile", s.company_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "backup_profile_update",
            method: "PUT",
            path: |s| format!("/v1/companies/{}/backup-profile", s.company_id),
            body: |_, _| Some(json!({"backup_all_company_items": false, "retention_days": 30})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::AssignedTechnician,
            headers: &[("if-match", "*")],
        },
        Case {
            operation: "users_search",
            method: "GET",
            path: |_| "/v1/users?q=a".into(),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Technician),
            denied: Denied::Client(&["companies:read"]),
            headers: &[],
        },
        Case {
            operation: "company_users_list",
            method: "GET",
            path: |s| format!("/v1/companies/{}/users", s.company_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["companies:read"]),
            headers: &[],
        },
        Case {
            operation: "company_users_create",
            method: "POST",
            path: |s| format!("/v1/companies/{}/users", s.company_id),
            body: |_, _| {
                Some(json!({"email": "case@example.com", "name": "Case", "client_kind": "desktop"}))
            },
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "user_get",
            method: "GET",
            path: |s| format!("/v1/users/{}", s.user_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["companies:read"]),
            headers: &[],
        },
        Case {
            operation: "user_update",
            method: "PATCH",
            path: |s| format!("/v1/users/{}", s.user_id),
            body: |_, _| Some(json!({"name": "Case"})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[("If-Match", "*")],
        },
        Case {
            operation: "user_disable",
            method: "POST",
            path: |s| format!("/v1/users/{}/disable", s.disabled_user_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "user_enable",
            method: "POST",
            path: |s| format!("/v1/users/{}/enable", s.disabled_user_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "user_offboarding_preview",
            method: "GET",
            path: |s| format!("/v1/users/{}/offboarding-preview", s.user_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "user_offboard",
            method: "DELETE",
            path: |s| format!("/v1/users/{}", s.offboarded_user_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "user_invitation_send",
            method: "POST",
            path: |s| format!("/v1/users/{}/invitation", s.user_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "backups_list",
            method: "GET",
            path: |s| format!("/v1/companies/{}/backups", s.company_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "backup_get",
            method: "GET",
            path: |s| format!("/v1/companies/{}/backups/{}", s.company_id, s.copy_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "vault_items_list",
            method: "GET",
            path: |_| "/v1/account/vault/items".into(),
            body: |_, _| None,
            allowed: Allowed::User,
            denied: Denied::Fixture("DENY/user_uses_anothers_vault.json"),
            headers: &[],
        },
        Case {
            operation: "vault_item_put",
            method: "PUT",
            path: |_| "/v1/account/vault/items/case-item".into(),
            body: |_, _| {
                Some(json!({"profile": "personal", "replaces_revision": 0, "ciphertext": "AAAA"}))
            },
            allowed: Allowed::User,
            denied: Denied::Fixture("DENY/user_uses_anothers_vault.json"),
            headers: &[],
        },
        Case {
            operation: "vault_item_delete",
            method: "DELETE",
            path: |_| "/v1/account/vault/items/case-item".into(),
            body: |_, _| None,
            allowed: Allowed::User,
            denied: Denied::Fixture("DENY/user_uses_anothers_vault.json"),
            headers: &[],
        },
        Case {
            operation: "password_change",
            method: "POST",
            path: |_| "/v1/auth/password".into(),
            body: |_, current| {
                Some(
                    json!({"current_password": current, "new_password": "a much longer passphrase"}),
                )
            },
            allowed: Allowed::Role(Role::Technician),
            denied: Denied::Fixture("DENY/owner_changes_anothers_password.json"),
            headers: &[],
        },
        Case {
            operation: "reset_preview_get",
            method: "GET",
            path: |s| format!("/v1/users/{}/master-password-reset-preview", s.user_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["resets:read", "users:read"]),
            headers: &[],
        },
        Case {
            operation: "reset_get",
            method: "GET",
            path: |s| format!("/v1/master-password-resets/{}", s.reset_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "resets_list",
            method: "GET",
            path: |_| "/v1/master-password-resets".into(),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Technician),
            denied: Denied::Client(&["users:read"]),
            headers: &[],
        },
        Case {
            operation: "account_master_password_set",
            method: "POST",
            path: |_| "/v1/account/master-password".into(),
            body: |_, _| {
                Some(json!({"auth_key": "a-new-derived-key-0123", "encrypted_vault_key": "a2V5"}))
            },
            allowed: Allowed::ResettingUser,
            denied: Denied::Fixture("DENY/user_uses_anothers_vault.json"),
            headers: &[],
        },
        Case {
            operation: "account_recovery_key_set",
            method: "PUT",
            path: |_| "/v1/account/recovery-key".into(),
            body: |_, _| {
                Some(json!({
                    "auth_key": "a-derived-key",
                    "verifier": "cmVjb3Zlcnkta2V5LXZlcmlmaWVyLTMyLWJ5dGVzISE=",
                    "wrapped_vault_key": "a2V5",
                }))
            },
            allowed: Allowed::User,
            denied: Denied::Fixture("DENY/user_uses_anothers_vault.json"),
            headers: &[],
        },
        Case {
            operation: "account_recovery",
            method: "POST",
            path: |_| "/v1/account/recovery".into(),
            body: |_, _| {
                Some(json!({"auth_key": "a-new-derived-key-0123", "encrypted_vault_key": "a2V5"}))
            },
            allowed: Allowed::RecoveringUser,
            denied: Denied::Fixture("DENY/user_uses_anothers_vault.json"),
            headers: &[],
        },
        Case {
            operation: "reset_reissue",
            method: "POST",
            path: |s| format!("/v1/master-password-resets/{}/reissue", s.reissue_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["resets:read", "users:read"]),
            headers: &[],
        },
        Case {
            operation: "reset_approve",
            method: "POST",
            path: |s| format!("/v1/master-password-resets/{}/approve", s.approval_id),
            body: |_, _| Some(json!({})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["resets:read", "resets:write"]),
            headers: &[],
        },
        Case {
            operation: "reset_reject",
            method: "POST",
            path: |s| format!("/v1/master-password-resets/{}/reject", s.rejection_id),
            body: |_, _| Some(json!({"comment": "not this one"})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["resets:read", "resets:write"]),
            headers: &[],
        },
        Case {
            operation: "reset_batch_preview",
            method: "POST",
            path: |_| "/v1/master-password-reset-batches/preview".into(),
            body: |s, _| Some(json!({"user_ids": [s.user_id]})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::ClientPerUser(&["resets:read", "users:read"]),
            headers: &[],
        },
        Case {
            operation: "reset_batch_create",
            method: "POST",
            path: |_| "/v1/master-password-reset-batches".into(),
            // A user nobody has: the batch changes nothing the other cases
            // see.
            body: |_, _| Some(json!({"user_ids": [uuid::Uuid::now_v7()], "confirmation": "Yes"})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["resets:read", "users:read"]),
            headers: &[],
        },
        Case {
            operation: "reset_batch_get",
            method: "GET",
            path: |s| format!("/v1/master-password-reset-batches/{}", s.batch_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["resets:write", "users:read"]),
            headers: &[],
        },
        Case {
            operation: "reset_batch_cancel",
            method: "POST",
            path: |s| format!("/v1/master-password-reset-batches/{}/cancel", s.batch_id),
            body: |_, _| None,
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["resets:read", "users:read"]),
            headers: &[],
        },
        // Last: it purges the seeded user's vault.
        Case {
            operation: "reset_create",
            method: "POST",
            path: |s| format!("/v1/users/{}/master-password-resets", s.user_id),
            body: |_, _| Some(json!({"confirmation": "Yes"})),
            allowed: Allowed::Role(Role::Admin),
            denied: Denied::Client(&["resets:read", "users:read"]),
            headers: &[],
        },
        // Last: it changes the operator's password, which the cases before
        // sign in with.
        Case {
            operation: "operator_password_change",
            method: "POST",
            path: |_| "/v1/operator/password".into(),
            body: |_, password| {
                Some(
                    json!({"current_password": password, "new_password": "a new operator passphrase"}),
                )
            },
            allowed: Allowed::Operator,
            denied: Denied::OperatorClient,
            headers: &[],
        },
    ]
}

async fn token_for(server: &TestServer, role: Role) -> String {
    token_and_password(server, role).await.0
}

async fn token_and_password(server: &TestServer, role: Role) -> (String, String) {
    let (email, password) = server.create_admin(role, &[]).await;
    (
        sign_in(server, &email, &password).await.expect("signed in"),
        password,
    )
}

/// A batch of the owner's naming `user`, whom a worker of another instance
/// has claimed for a day: it stays running until cancelled.
async fn running_batch(server: &TestServer, user: &str) -> String {
    use custodian_api::db::batches::{self, Batch, BatchStatus};
    use custodian_api::ids::{ActorId, BatchId, PartnerId, UserId};
    let now = chrono::Utc::now().naive_utc();
    let batch = Batch {
        id: BatchId::new(),
        partner_id: PartnerId::parse(&server.owner.partner_id).unwrap(),
        requested_by_kind: "admin".into(),
        requested_by_id: ActorId::parse(&server.owner.owner_id).unwrap(),
        acknowledge_company_data_loss: false,
        reason: None,
        ticket: None,
        status: BatchStatus::Running,
        total: 1,
        created_at: now,
        updated_at: now,
        cancelled_at: None,
        finished_at: None,
    };
    let id = batch.id.to_string();
    let user = UserId::parse(user).unwrap();
    server
        .app
        .db
        .write(move |conn| {
            batches::insert(conn, &batch, &[user])?;
            let claimed = batches::claim(
                conn,
                "another instance",
                now,
                now + chrono::Duration::days(1),
                1,
            )?;
            assert_eq!(claimed.len(), 1);
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    id
}

async fn call(
    seeded: &Seeded<'_>,
    case: &Case,
    token: Option<&str>,
    password: &str,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{}", seeded.server.base_url, (case.path)(seeded));
    let mut request = client.request(case.method.parse().unwrap(), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = (case.body)(seeded, password) {
        request = request.json(&body);
    }
    for (name, value) in case.headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[rstest]
#[actix_web::test]
async fn every_operation_authorizes_with_an_allow_and_a_deny(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let cases = cases();
    let document = serde_json::to_value(openapi()).unwrap();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(
                PUBLIC.contains(&id) || cases.iter().any(|c| c.operation == id),
                "operation {id} has no authorization case: add one to cases() with an allow and a deny"
            );
            assert_eq!(
                PUBLIC.contains(&id),
                operation["security"] == serde_json::json!([]),
                "{id}: the contract's `security` must say whether it needs a token"
            );
        }
    }
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let user = seed::user(&server, &partner, &company).await;
    let (reset, resetting_token) = {
        let other = seed::user(&server, &partner, &company).await;
        let owner = crate::support::owner_token(&server).await;
        let (status, reset) = crate::support::send(
            &server,
            &owner,
            "POST",
            &format!("/v1/users/{other}/master-password-resets"),
            Some(json!({"confirmation": "Yes"})),
        )
        .await;
        assert_eq!(status, 201, "{reset}");
        let email = format!("{other}@example.com");
        let secret = crate::resets::emailed_secret(&server, &email).await;
        let (status, token) = crate::resets::sign_in_with_temporary(&server, &email, &secret).await;
        assert_eq!(status, 200, "{token}");
        (reset, token["access_token"].as_str().unwrap().to_owned())
    };
    let seeded = Seeded {
        server: &server,
        client_id: create_client(&server, &["partner:read"], None).await.0,
        company_id: company.clone(),
        spare_company_id: seed::company(&server, &partner, "Acme Law").await,
        user_id: user.clone(),
        user_token: signed_in_user(&server).await.2,
        copy_id: seed::item(&server, (&partner, &company, &user), "company", true)
            .await
            .expect("a copy"),
        reset_id: reset["id"].as_str().unwrap().to_owned(),
        batch_id: running_batch(&server, &user).await,
        resetting_token,
        recovering_token: {
            let (_, user, token) = signed_in_user(&server).await;
            let verifier = "cmVjb3Zlcnkta2V5LXZlcmlmaWVyLTMyLWJ5dGVzISE=";
            let (status, _) = crate::support::send(
                &server,
                &token,
                "PUT",
                "/v1/account/recovery-key",
                Some(json!({"auth_key": "a-derived-key", "verifier": verifier, "wrapped_vault_key": "a2V5"})),
            )
            .await;
            assert_eq!(status, 204);
            let email = format!("{user}@example.com");
            let (status, token) =
                crate::recovery::sign_in_with_verifier(&server, &email, verifier).await;
            assert_eq!(status, 200, "{token}");
            token["access_token"].as_str().unwrap().to_owned()
        },
        reissue_id: {
            let third = seed::user(&server, &partner, &company).await;
            let owner = crate::support::owner_token(&server).await;
            let (status, reset) = crate::support::send(
                &server,
                &owner,
                "POST",
                &format!("/v1/users/{third}/master-password-resets"),
                Some(json!({"confirmation": "Yes"})),
            )
            .await;
            assert_eq!(status, 201, "{reset}");
            reset["id"].as_str().unwrap().to_owned()
        },
        approval_id: {
            let owner = server.owner.owner_id.clone();
            crate::support::awaiting_request(&server, &company, &owner)
                .await
                .1
        },
        rejection_id: {
            let owner = server.owner.owner_id.clone();
            crate::support::awaiting_request(&server, &company, &owner)
                .await
                .1
        },
        disabled_user_id: seed::user(&server, &partner, &company).await,
        offboarded_user_id: seed::user(&server, &partner, &company).await,
        invited_admin_id: {
            let owner = crate::support::owner_token(&server).await;
            let body = json!({"email": "invited.tech@example.com", "name": "Invited", "role": "technician"});
            let (status, admin) =
                crate::support::send(&server, &owner, "POST", "/v1/admins", Some(body)).await;
            assert_eq!(status, 201, "{admin}");
            admin["id"].as_str().unwrap().to_owned()
        },
        other_partner_id: {
            let operator = crate::support::operator_token(&server).await;
            let body = json!({"name": "Northwind IT", "owner": {"email": "owner@northwind.example", "name": "Nora"}});
            let (status, created) =
                crate::support::send(&server, &operator, "POST", "/v1/partners", Some(body)).await;
            assert_eq!(status, 201, "{created}");
            created["partner"]["id"].as_str().unwrap().to_owned()
        },
        operator_client_id: operator_client(&server).await.0,
        scim_token: crate::scim::scim_token(&server, &company).await.1,
        spare_scim_token_id: crate::scim::scim_token(&server, &company).await.0,
        scim_user_id: seed::user(&server, &partner, &company).await,
    };
    for case in &cases {
        let (status, problem) = call(&seeded, case, None, "").await;
        if (case.path)(&seeded).starts_with("/scim/") {
            // SCIM's own form.
            assert_eq!(
                (status, problem["status"].as_str()),
                (401, Some("401")),
                "{} without a token: {problem}",
                case.operation
            );
        } else {
            assert_eq!(
                (status, problem["code"].as_str()),
                (401, Some("unauthorized")),
                "{} without a token",
                case.operation
            );
        }

        let denied = match case.denied {
            Denied::Role(role) => token_for(&server, role).await,
            Denied::AssignedTechnician => {
                let (email, password) = server
                    .create_admin(Role::Technician, std::slice::from_ref(&seeded.company_id))
                    .await;
                sign_in(&server, &email, &password)
                    .await
                    .expect("signed in")
            }
            Denied::Client(scopes) | Denied::ClientPerUser(scopes) => {
                let (id, secret) = create_client(&server, scopes, None).await;
                client_token(&server, &id, &secret).await
            }
            Denied::OperatorClient => {
                let (id, secret) = operator_client(&server).await;
                let (status, token) =
                    crate::platform::operator_client_grant(&server, &id, &secret).await;
                assert_eq!(status, 200, "{token}");
                token["access_token"].as_str().unwrap().to_owned()
            }
            Denied::PartnerOwner => {
                let owner = token_for(&server, Role::Owner).await;
                let (status, problem) = call(&seeded, case, Some(&owner), "").await;
                assert_eq!(
                    (status, problem["code"].as_str()),
                    (401, Some("unauthorized")),
                    "{}: a partner's token",
                    case.operation
                );
                // Nor does the operator's token pass a partner's operation.
                let operator = crate::support::operator_token(&server).await;
                let (status, _) =
                    crate::support::send(&server, &operator, "GET", "/v1/partner", None).await;
                assert_eq!(status, 401, "the operator's token inside a partner");
                owner
            }
            Denied::PasswordChangeOnly => {
                let password = server.owner.one_time_password.expose_secret().to_owned();
                sign_in(&server, &server.owner.owner_email, &password)
                    .await
                    .expect("signed in")
            }
            Denied::Fixture(fixture) => {
                let dir =
                    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies"));
                let authz = custodian_api::authz::Authz::load_dir(&dir).unwrap();
                let outcome = authz
                    .run_fixtures(&dir)
                    .unwrap()
                    .into_iter()
                    .find(|o| o.file == fixture)
                    .unwrap_or_else(|| panic!("{}: no fixture {fixture}", case.operation));
                assert!(
                    !outcome.expected_allow && !outcome.decision.allowed,
                    "{fixture}"
                );
                continue;
            }
        };
        let (status, problem) = call(&seeded, case, Some(&denied), "").await;
        if let Denied::PartnerOwner = case.denied {
            // Checked above: 401.
        } else if let Denied::ClientPerUser(_) = case.denied {
            assert_eq!(status, 200, "{}: {problem}", case.operation);
            assert_eq!(
                problem["denied"],
                json!([seeded.user_id]),
                "{} denied user by user",
                case.operation
            );
        } else {
            assert_eq!(status, 403, "{} denied: {problem}", case.operation);
            assert!(
                matches!(
                    problem["code"].as_str(),
                    Some("forbidden" | "password_change_required")
                ),
                "{problem}"
            );
        }

        // Allowed last: it may change what the denied request would see.
        let (allowed, password) = match case.allowed {
            Allowed::Role(role) => token_and_password(&server, role).await,
            Allowed::User => (seeded.user_token.clone(), String::new()),
            Allowed::ResettingUser => (seeded.resetting_token.clone(), String::new()),
            Allowed::RecoveringUser => (seeded.recovering_token.clone(), String::new()),
            Allowed::Operator => (
                crate::support::operator_token(&server).await,
                server.operator.password.expose_secret().to_owned(),
            ),
            Allowed::Scim => (seeded.scim_token.clone(), String::new()),
        };
        let (status, body) = call(&seeded, case, Some(&allowed), &password).await;
        if let Denied::ClientPerUser(_) = case.denied {
            assert_eq!(
                (&body["users"][0]["user_id"], &body["denied"]),
                (&json!(seeded.user_id), &json!([])),
                "{} allowed user by user",
                case.operation
            );
        }
        assert!(
            (200..300).contains(&status),
            "{} as {:?}: {status} {body}",
            case.operation,
            match case.allowed {
                Allowed::Role(role) => role.as_str(),
                Allowed::User => "user",
                Allowed::ResettingUser => "resetting user",
                Allowed::RecoveringUser => "recovering user",
                Allowed::Operator => "operator",
                Allowed::Scim => "SCIM token",
            }
        );
    }
}

#[rstest]
#[actix_web::test]
async fn an_owner_changes_the_settings_and_an_admin_is_told_which_policy_says_no(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = token_for(&server, Role::Owner).await;
    let patch = |body: Value, token: &str| {
        let request = reqwest::Client::new()
            .patch(format!("{}/v1/partner", server.base_url))
            .bearer_auth(token)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, partner) = patch(
        json!({"name": " Acme IT ", "temporary_secret_ttl_seconds": 3600}),
        &owner,
    )
    .await;
    assert_eq!(status, 200, "{partner}");
    assert_eq!(
        (
            partner["name"].as_str(),
            partner["temporary_secret_ttl_seconds"].as_i64()
        ),
        (Some("Acme IT"), Some(3600))
    );
    assert_eq!(partner["links_for_everyone"], false, "left as it was");

    let (status, problem) = patch(json!({"temporary_secret_ttl_seconds": 10}), &owner).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("temporary_secret_ttl_seconds"))
    );
    let (status, problem) = patch(json!({"name": ""}), &owner).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("name"))
    );
    let (status, _) = patch(json!({"nmae": "x"}), &owner).await;
    assert_eq!(status, 422);

    let admin = token_for(&server, Role::Admin).await;
    let (status, problem) = patch(json!({"links_for_everyone": true}), &admin).await;
    assert_eq!(status, 403);
    assert_eq!(
        problem["detail"],
        "updatePartner is denied by policy only-owners-change-partner-settings."
    );

    // Nothing was changed by the rejected requests.
    let now: Value = reqwest::Client::new()
        .get(format!("{}/v1/partner", server.base_url))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (now["name"].as_str(), now["links_for_everyone"].as_bool()),
        (Some("Acme IT"), Some(false))
    );
}

#[rstest]
#[actix_web::test]
async fn tokens_are_refused_once_revoked_or_for_a_removed_admin(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use custodian_api::db::schema::admins;
    use diesel::prelude::*;
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (email, password) = server.create_admin(Role::Admin, &[]).await;
    let token = sign_in(&server, &email, &password)
        .await
        .expect("signed in");
    let get = |token: String| {
        let request = reqwest::Client::new()
            .get(format!("{}/v1/partner", server.base_url))
            .bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(token.clone()).await, 200);

    let pool = server.database.pool();
    let who = email.clone();
    pool.run(move |conn| {
        diesel::update(admins::table.filter(admins::email.eq(who)))
            .set(admins::token_generation.eq(admins::token_generation + 1))
            .execute(conn)?;
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    assert_eq!(get(token).await, 401, "a bumped generation revokes at once");

    let fresh = sign_in(&server, &email, &password)
        .await
        .expect("signed in");
    assert_eq!(get(fresh.clone()).await, 200);
    pool.run(move |conn| {
        diesel::delete(admins::table.filter(admins::email.eq(email))).execute(conn)?;
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    assert_eq!(
        get(fresh).await,
        401,
        "a removed admin's token dies with them"
    );

    for bad in ["", "Bearer", "Basic abc", "Bearer not.a.jwt"] {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/partner", server.base_url))
            .header("authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{bad:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"custodian\""
        );
    }
}

#[rstest]
#[actix_web::test]
async fn the_bootstrapped_owner_sets_a_password_and_then_works(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let one_time = server.owner.one_time_password.expose_secret().to_owned();
    let email = server.owner.owner_email.clone();
    let restricted = sign_in(&server, &email, &one_time)
        .await
        .expect("signed in");
    let client = reqwest::Client::new();
    let partner = |token: String| {
        let request = client
            .get(format!("{}/v1/partner", server.base_url))
            .bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        partner(restricted.clone()).await,
        403,
        "a one-time password allows only its change"
    );

    let change = |token: &str, body: Value| {
        let request = client
            .post(format!("{}/v1/auth/password", server.base_url))
            .bearer_auth(token)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, problem) = change(
        &restricted,
        json!({"current_password": "wrong", "new_password": "a much longer passphrase"}),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("current_password"))
    );
    let (status, problem) = change(
        &restricted,
        json!({"current_password": one_time, "new_password": "short"}),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("new_password"))
    );
    let (status, _) = change(
        &restricted,
        json!({"current_password": one_time, "new_password": "a much longer passphrase"}),
    )
    .await;
    assert_eq!(status, 204);

    assert_eq!(
        partner(restricted).await,
        401,
        "tokens issued before the change are refused"
    );
    let old = reqwest::Client::new()
        .post(format!("{}/v1/auth/token", server.base_url))
        .form(&[
            ("grant_type", "password"),
            ("partner_id", server.owner.partner_id.as_str()),
            ("username", email.as_str()),
            ("password", one_time.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.status().as_u16(),
        400,
        "the one-time password works once"
    );
    let fresh = sign_in(&server, &email, "a much longer passphrase")
        .await
        .expect("signed in");
    assert_eq!(partner(fresh).await, 200);
}
