//! Typed Cedar entities and actions, built per request from the database.
//! The Rust types mirror `policies/custodian.cedarschema`: a principal is an
//! admin or an API client; a resource is one of the schema's entity types,
//! with the parents that place it in its company and partner; an action
//! carries the context its schema declaration requires.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Context, ContextCreationError, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    RestrictedExpression, Schema,
};

use cedar_policy::entities_errors::EntitiesError;

use crate::db::admins::Role;
use crate::ids::{AdminId, ApiClientId, CompanyId, PartnerId, ScimTokenId, UserId};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    Admin {
        id: AdminId,
        partner: PartnerId,
        role: Role,
        /// A technician's assigned companies.
        companies: Vec<CompanyId>,
    },
    ApiClient {
        id: ApiClientId,
        partner: PartnerId,
        scopes: Vec<String>,
        /// `None`: all of the partner's companies.
        companies: Option<Vec<CompanyId>>,
    },
    /// A company's SCIM provisioning token: its directory.
    ScimToken {
        id: ScimTokenId,
        company: CompanyId,
        partner: PartnerId,
    },
    /// An end user signed in to their own account.
    User {
        id: UserId,
        company: CompanyId,
        partner: PartnerId,
    },
}

/// What is asked about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    Partner(PartnerId),
    Company {
        id: CompanyId,
        partner: PartnerId,
    },
    User {
        id: UserId,
        company: CompanyId,
        partner: PartnerId,
    },
    Admin {
        id: AdminId,
        partner: PartnerId,
        role: Role,
    },
    ApiClient {
        id: ApiClientId,
        partner: PartnerId,
    },
}

impl Principal {
    /// The principal as the resource of actions on itself (changing its
    /// own password, say).
    pub fn as_resource(&self) -> Resource {
        match self {
            Self::Admin {
                id, partner, role, ..
            } => Resource::Admin {
                id: *id,
                partner: *partner,
                role: *role,
            },
            Self::ApiClient { id, partner, .. } => Resource::ApiClient {
                id: *id,
                partner: *partner,
            },
            Self::User {
                id,
                company,
                partner,
            } => Resource::User {
                id: *id,
                company: *company,
                partner: *partner,
            },
            // Nothing acts on a SCIM token as on itself; as a resource it
            // is its company's (its list, its removal).
            Self::ScimToken {
                company, partner, ..
            } => Resource::Company {
                id: *company,
                partner: *partner,
            },
        }
    }

    /// The companies this principal is limited to (a technician's assigned
    /// companies, a limited API client's, an end user's own); `None` for all
    /// of its partner's.
    pub fn company_limit(&self) -> Option<&[CompanyId]> {
        match self {
            Self::Admin {
                role: Role::Technician,
                companies,
                ..
            } => Some(companies),
            Self::Admin { .. } => None,
            Self::ApiClient { companies, .. } => companies.as_deref(),
            Self::User { company, .. } | Self::ScimToken { company, .. } => {
                Some(std::slice::from_ref(company))
            }
        }
    }

    /// Whether `company` is within what this principal is limited to.
    pub fn sees(&self, company: CompanyId) -> bool {
        self.company_limit()
            .is_none_or(|limit| limit.contains(&company))
    }
}

impl Resource {
    /// The company the resource is or is in, if any.
    pub fn company(&self) -> Option<CompanyId> {
        match self {
            Self::Company { id, .. } => Some(*id),
            Self::User { company, .. } => Some(*company),
            Self::Partner(_) | Self::Admin { .. } | Self::ApiClient { .. } => None,
        }
    }

    /// The resource's kind and id, for audit events.
    pub fn kind_and_id(&self) -> (&'static str, String) {
        match self {
            Self::Partner(id) => ("partner", id.to_string()),
            Self::Company { id, .. } => ("company", id.to_string()),
            Self::User { id, .. } => ("user", id.to_string()),
            Self::Admin { id, .. } => ("admin", id.to_string()),
            Self::ApiClient { id, .. } => ("api_client", id.to_string()),
        }
    }
}

/// What is asked for, with the context the schema declares for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    ReadPartner,
    UpdatePartner,
    ChangeOwnPassword,
    ListAdmins,
    ReadAdmin,
    /// `role`: the new admin's role.
    CreateAdmin {
        role: Role,
    },
    /// `role`: the admin's role after the change.
    UpdateAdmin {
        role: Role,
    },
    DeleteAdmin,
    ListApiClients,
    CreateApiClient,
    DeleteApiClient,
    /// A company's SCIM tokens, listed, made and removed.
    ListScimTokens,
    CreateScimToken,
    DeleteScimToken,
    ListCompanies,
    ReadCompany,
    ReadBackupProfile,
    CreateCompany,
    UpdateCompany,
    /// Retiring a company (its users offboarded on the way, each decided
    /// as `offboardUser` and `purgeVault`).
    RetireCompany,
    UpdateBackupProfile,
    ReadUser,
    ListUsers,
    SearchUsers,
    CreateUser,
    /// Sending an invited user's invitation again.
    InviteUser,
    /// Changing a user's name, locale, client, primary flag or external id.
    UpdateUser,
    DisableUser,
    EnableUser,
    /// Offboarding a user (their vault is purged as `purgeVault` decides).
    OffboardUser,
    ReadReset,
    ListResets,
    ResetMasterPassword,
    /// Whether an allowed reset may run without a second admin.
    ResetWithoutApproval {
        /// How many users the batch names (1 for a reset of one).
        batch_size: i64,
        primary_user: bool,
        company_items_not_backed_up: i64,
    },
    /// Approving or rejecting a request awaiting approval;
    /// `requested_by_caller`: whether the caller (or an API client the
    /// caller made) asked for it.
    ApproveReset {
        requested_by_caller: bool,
    },
    PurgeVault {
        company_items_not_backed_up: i64,
        acknowledge_company_data_loss: bool,
    },
    /// Making a batch of resets (each user's reset is then decided as a
    /// reset of one).
    CreateResetBatch,
    /// `requested_by_caller`: whether the caller made the batch.
    ReadResetBatch {
        requested_by_caller: bool,
    },
    CancelResetBatch {
        requested_by_caller: bool,
    },
    ReadAudit,
    CheckAuthorization,
    UseOwnVault,
}

impl Action {
    /// Every action's name, as in the schema.
    pub const NAMES: &'static [&'static str] = &[
        "readPartner",
        "updatePartner",
        "changeOwnPassword",
        "listAdmins",
        "readAdmin",
        "createAdmin",
        "updateAdmin",
        "deleteAdmin",
        "listApiClients",
        "createApiClient",
        "deleteApiClient",
        "listScimTokens",
        "createScimToken",
        "deleteScimToken",
        "listCompanies",
        "readCompany",
        "readBackupProfile",
        "createCompany",
        "updateCompany",
        "retireCompany",
        "updateBackupProfile",
        "readUser",
        "listUsers",
        "searchUsers",
        "createUser",
        "inviteUser",
        "updateUser",
        "disableUser",
        "enableUser",
        "offboardUser",
        "readReset",
        "listResets",
        "resetMasterPassword",
        "resetWithoutApproval",
        "approveReset",
        "purgeVault",
        "createResetBatch",
        "readResetBatch",
        "cancelResetBatch",
        "readAudit",
        "checkAuthorization",
        "useOwnVault",
    ];

    /// The action's name in the schema.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ReadPartner => "readPartner",
            Self::UpdatePartner => "updatePartner",
            Self::ChangeOwnPassword => "changeOwnPassword",
            Self::ListAdmins => "listAdmins",
            Self::ReadAdmin => "readAdmin",
            Self::CreateAdmin { .. } => "createAdmin",
            Self::UpdateAdmin { .. } => "updateAdmin",
            Self::DeleteAdmin => "deleteAdmin",
            Self::ListApiClients => "listApiClients",
            Self::CreateApiClient => "createApiClient",
            Self::DeleteApiClient => "deleteApiClient",
            Self::ListScimTokens => "listScimTokens",
            Self::CreateScimToken => "createScimToken",
            Self::DeleteScimToken => "deleteScimToken",
            Self::ListCompanies => "listCompanies",
            Self::ReadCompany => "readCompany",
            Self::ReadBackupProfile => "readBackupProfile",
            Self::CreateCompany => "createCompany",
            Self::UpdateCompany => "updateCompany",
            Self::RetireCompany => "retireCompany",
            Self::UpdateBackupProfile => "updateBackupProfile",
            Self::ReadUser => "readUser",
            Self::ListUsers => "listUsers",
            Self::SearchUsers => "searchUsers",
            Self::CreateUser => "createUser",
            Self::InviteUser => "inviteUser",
            Self::UpdateUser => "updateUser",
            Self::DisableUser => "disableUser",
            Self::EnableUser => "enableUser",
            Self::OffboardUser => "offboardUser",
            Self::ReadReset => "readReset",
            Self::ListResets => "listResets",
            Self::ResetMasterPassword => "resetMasterPassword",
            Self::ResetWithoutApproval { .. } => "resetWithoutApproval",
            Self::ApproveReset { .. } => "approveReset",
            Self::PurgeVault { .. } => "purgeVault",
            Self::CreateResetBatch => "createResetBatch",
            Self::ReadResetBatch { .. } => "readResetBatch",
            Self::CancelResetBatch { .. } => "cancelResetBatch",
            Self::ReadAudit => "readAudit",
            Self::CheckAuthorization => "checkAuthorization",
            Self::UseOwnVault => "useOwnVault",
        }
    }

    /// The request's context. It holds strings, numbers and booleans,
    /// never an entity: the memo (`memo.rs`) keys a user by company on the
    /// ground that nothing in a request but the resource is a user.
    pub(super) fn context(&self) -> Result<Context, EntityError> {
        let context = match self {
            Self::CreateAdmin { role } | Self::UpdateAdmin { role } => Context::from_pairs([(
                "role".to_owned(),
                RestrictedExpression::new_string(role.as_str().to_owned()),
            )]),
            Self::PurgeVault {
                company_items_not_backed_up,
                acknowledge_company_data_loss,
            } => Context::from_pairs([
                (
                    "company_items_not_backed_up".to_owned(),
                    RestrictedExpression::new_long(*company_items_not_backed_up),
                ),
                (
                    "acknowledge_company_data_loss".to_owned(),
                    RestrictedExpression::new_bool(*acknowledge_company_data_loss),
                ),
            ]),
            Self::ResetWithoutApproval {
                batch_size,
                primary_user,
                company_items_not_backed_up,
            } => Context::from_pairs([
                (
                    "batch_size".to_owned(),
                    RestrictedExpression::new_long(*batch_size),
                ),
                (
                    "primary_user".to_owned(),
                    RestrictedExpression::new_bool(*primary_user),
                ),
                (
                    "company_items_not_backed_up".to_owned(),
                    RestrictedExpression::new_long(*company_items_not_backed_up),
                ),
            ]),
            Self::ReadResetBatch {
                requested_by_caller,
            }
            | Self::ApproveReset {
                requested_by_caller,
            }
            | Self::CancelResetBatch {
                requested_by_caller,
            } => Context::from_pairs([(
                "requested_by_caller".to_owned(),
                RestrictedExpression::new_bool(*requested_by_caller),
            )]),
            _ => Ok(Context::empty()),
        };
        context.map_err(|e: ContextCreationError| EntityError(e.to_string()))
    }
}

/// What the platform operator asks for: its actions (the schema's group
/// `platform`) apply to a partner as the vendor's account, never to what
/// is inside one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlatformAction {
    ListPartners,
    CreatePartner,
    ReadPartnerAccount,
    UpdatePartnerAccount,
    SuspendPartner,
    ReactivatePartner,
    /// The platform's own audit chain (the operator's clients and
    /// sign-ins), read and verified.
    ReadPlatformAudit,
    /// The operator's own API clients (the schema's group
    /// `operatorCredentials`): its staff manage them, a client never does.
    ListOperatorClients,
    CreateOperatorClient,
    DeleteOperatorClient,
    /// One of the staff replacing their own password (a client has none).
    ChangeOperatorPassword,
}

impl PlatformAction {
    /// Every platform action's name, as in the schema.
    pub const NAMES: &'static [&'static str] = &[
        "listPartners",
        "createPartner",
        "readPartnerAccount",
        "updatePartnerAccount",
        "suspendPartner",
        "reactivatePartner",
        "readPlatformAudit",
        "listOperatorClients",
        "createOperatorClient",
        "deleteOperatorClient",
        "changeOperatorPassword",
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::ListPartners => "listPartners",
            Self::CreatePartner => "createPartner",
            Self::ReadPartnerAccount => "readPartnerAccount",
            Self::UpdatePartnerAccount => "updatePartnerAccount",
            Self::SuspendPartner => "suspendPartner",
            Self::ReactivatePartner => "reactivatePartner",
            Self::ReadPlatformAudit => "readPlatformAudit",
            Self::ListOperatorClients => "listOperatorClients",
            Self::CreateOperatorClient => "createOperatorClient",
            Self::DeleteOperatorClient => "deleteOperatorClient",
            Self::ChangeOperatorPassword => "changeOperatorPassword",
        }
    }
}

/// Who acts for the platform operator: one of its staff, or one of its
/// API clients (the vendor's automation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorPrincipal {
    Staff(crate::ids::OperatorId),
    Client(crate::ids::OperatorClientId),
}

/// The operator's entity, and the partner's (`None`: the platform's
/// partners as a whole, for listing them, and the platform itself).
pub(super) fn platform_request_uids(
    operator: OperatorPrincipal,
    partner: Option<PartnerId>,
) -> (Entity, EntityUid) {
    let me = match operator {
        OperatorPrincipal::Staff(id) => uid(&TYPES.operator, id),
        OperatorPrincipal::Client(id) => uid(&TYPES.operator_client, id),
    };
    let resource = match partner {
        Some(partner) => partner_uid(partner),
        None => uid(&TYPES.partner, "platform"),
    };
    (Entity::new_no_attrs(me, HashSet::new()), resource)
}

/// The scopes an API client may hold: each names the schema's action group
/// `scope:NAME` (a test keeps the two lists equal).
pub const SCOPES: &[&str] = &[
    "partner:read",
    "admins:read",
    "api-clients:read",
    "companies:read",
    "companies:write",
    "users:read",
    "users:write",
    "backup-profile:write",
    "resets:read",
    "resets:write",
    "audit:read",
];

/// The schema's entity type names, parsed once (parsing one per entity was
/// most of a decision's time).
struct TypeNames {
    partner: EntityTypeName,
    company: EntityTypeName,
    user: EntityTypeName,
    admin: EntityTypeName,
    api_client: EntityTypeName,
    scim_token: EntityTypeName,
    operator: EntityTypeName,
    operator_client: EntityTypeName,
}

static TYPES: std::sync::LazyLock<TypeNames> = std::sync::LazyLock::new(|| {
    let parse = |name: &str| EntityTypeName::from_str(name).expect("the schema's type names parse");
    TypeNames {
        partner: parse("Custodian::Partner"),
        company: parse("Custodian::Company"),
        user: parse("Custodian::User"),
        admin: parse("Custodian::Admin"),
        api_client: parse("Custodian::ApiClient"),
        scim_token: parse("Custodian::ScimToken"),
        operator: parse("Custodian::Operator"),
        operator_client: parse("Custodian::OperatorClient"),
    }
});

/// The schema's user type (the memo asks whether a policy names one).
pub(super) fn user_type() -> &'static EntityTypeName {
    &TYPES.user
}

fn uid(kind: &EntityTypeName, id: impl std::fmt::Display) -> EntityUid {
    EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id.to_string()))
}

fn partner_uid(id: PartnerId) -> EntityUid {
    uid(&TYPES.partner, id)
}

fn company_uid(id: CompanyId) -> EntityUid {
    uid(&TYPES.company, id)
}

fn companies_set(companies: &[CompanyId]) -> RestrictedExpression {
    RestrictedExpression::new_set(
        companies
            .iter()
            .map(|c| RestrictedExpression::new_entity_uid(company_uid(*c))),
    )
}

/// Collects the entities of one request.
#[derive(Default)]
pub(super) struct Builder {
    entities: Vec<Entity>,
    seen: HashSet<EntityUid>,
}

/// An entity that does not fit the schema: a bug of ours, denied.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct EntityError(String);

impl Builder {
    fn push(&mut self, entity: Entity) {
        if self.seen.insert(entity.uid()) {
            self.entities.push(entity);
        }
    }

    fn partner(&mut self, id: PartnerId) -> EntityUid {
        let partner = partner_uid(id);
        self.push(Entity::new_no_attrs(partner.clone(), HashSet::new()));
        partner
    }

    fn company(&mut self, id: CompanyId, partner: PartnerId) -> EntityUid {
        let parent = self.partner(partner);
        let company = company_uid(id);
        self.push(Entity::new_no_attrs(
            company.clone(),
            HashSet::from([parent]),
        ));
        company
    }

    /// The principal's entity. Its `companies` are sliced to the ones that
    /// matter for this request, `relevant` (the resources' companies): the
    /// policies only ever ask `resource in principal.companies`, and a
    /// resource's only company ancestor is its own company, so the answer is
    /// the same as with the full set, at a fraction of the cost (a
    /// technician may have hundreds). Cedar calls this entity slicing.
    pub(super) fn principal(
        &mut self,
        principal: &Principal,
        relevant: &[CompanyId],
    ) -> Result<EntityUid, EntityError> {
        let slice = |companies: &[CompanyId]| -> Vec<CompanyId> {
            companies
                .iter()
                .filter(|company| relevant.contains(company))
                .copied()
                .collect()
        };
        if let Principal::User {
            id,
            company,
            partner,
        } = principal
        {
            return self.user(*id, *company, *partner);
        }
        if let Principal::ScimToken {
            id,
            company,
            partner,
        } = principal
        {
            let me = uid(&TYPES.scim_token, id);
            let parent = self.company(*company, *partner);
            let attrs = HashMap::from([
                (
                    "partner".to_owned(),
                    RestrictedExpression::new_entity_uid(partner_uid(*partner)),
                ),
                (
                    "company".to_owned(),
                    RestrictedExpression::new_entity_uid(parent.clone()),
                ),
            ]);
            let entity = Entity::new(me.clone(), attrs, HashSet::from([parent]))
                .map_err(|e| EntityError(e.to_string()))?;
            self.push(entity);
            return Ok(me);
        }
        let (me, partner, attrs) = match principal {
            Principal::Admin {
                id,
                partner,
                role,
                companies,
            } => (
                uid(&TYPES.admin, id),
                *partner,
                HashMap::from([
                    (
                        "role".to_owned(),
                        RestrictedExpression::new_string(role.as_str().to_owned()),
                    ),
                    ("companies".to_owned(), companies_set(&slice(companies))),
                ]),
            ),
            Principal::User { .. } | Principal::ScimToken { .. } => unreachable!("built above"),
            Principal::ApiClient {
                id,
                partner,
                scopes,
                companies,
            } => (
                uid(&TYPES.api_client, id),
                *partner,
                HashMap::from([
                    (
                        "scopes".to_owned(),
                        RestrictedExpression::new_set(
                            scopes
                                .iter()
                                .map(|s| RestrictedExpression::new_string(s.clone())),
                        ),
                    ),
                    (
                        "limited".to_owned(),
                        RestrictedExpression::new_bool(companies.is_some()),
                    ),
                    (
                        "companies".to_owned(),
                        companies_set(&slice(companies.as_deref().unwrap_or(&[]))),
                    ),
                ]),
            ),
        };
        let parent = self.partner(partner);
        let mut attrs = attrs;
        attrs.insert(
            "partner".to_owned(),
            RestrictedExpression::new_entity_uid(parent.clone()),
        );
        let entity = Entity::new(me.clone(), attrs, HashSet::from([parent]))
            .map_err(|e| EntityError(e.to_string()))?;
        self.push(entity);
        Ok(me)
    }

    /// A user, in their company, with their partner; once per request.
    fn user(
        &mut self,
        id: UserId,
        company: CompanyId,
        partner: PartnerId,
    ) -> Result<EntityUid, EntityError> {
        let user = uid(&TYPES.user, id);
        if self.seen.contains(&user) {
            return Ok(user);
        }
        let parent = self.company(company, partner);
        let attrs = HashMap::from([(
            "partner".to_owned(),
            RestrictedExpression::new_entity_uid(partner_uid(partner)),
        )]);
        let entity = Entity::new(user.clone(), attrs, HashSet::from([parent]))
            .map_err(|e| EntityError(e.to_string()))?;
        self.push(entity);
        Ok(user)
    }

    pub(super) fn resource(&mut self, resource: &Resource) -> Result<EntityUid, EntityError> {
        Ok(match resource {
            Resource::Partner(id) => self.partner(*id),
            Resource::Company { id, partner } => self.company(*id, *partner),
            Resource::User {
                id,
                company,
                partner,
            } => self.user(*id, *company, *partner)?,
            Resource::Admin { id, partner, role } => {
                let me = uid(&TYPES.admin, id);
                if self.seen.contains(&me) {
                    // The caller acting on themselves: already built.
                    return Ok(me);
                }
                let parent = self.partner(*partner);
                let attrs = HashMap::from([
                    (
                        "partner".to_owned(),
                        RestrictedExpression::new_entity_uid(parent.clone()),
                    ),
                    (
                        "role".to_owned(),
                        RestrictedExpression::new_string(role.as_str().to_owned()),
                    ),
                    ("companies".to_owned(), companies_set(&[])),
                ]);
                let entity = Entity::new(me.clone(), attrs, HashSet::from([parent]))
                    .map_err(|e| EntityError(e.to_string()))?;
                self.push(entity);
                me
            }
            Resource::ApiClient { id, partner } => {
                let me = uid(&TYPES.api_client, id);
                if self.seen.contains(&me) {
                    return Ok(me);
                }
                let parent = self.partner(*partner);
                let attrs = HashMap::from([
                    (
                        "partner".to_owned(),
                        RestrictedExpression::new_entity_uid(parent.clone()),
                    ),
                    ("scopes".to_owned(), RestrictedExpression::new_set([])),
                    ("limited".to_owned(), RestrictedExpression::new_bool(false)),
                    ("companies".to_owned(), companies_set(&[])),
                ]);
                let entity = Entity::new(me.clone(), attrs, HashSet::from([parent]))
                    .map_err(|e| EntityError(e.to_string()))?;
                self.push(entity);
                me
            }
        })
    }

    /// The request's entities, with the request's action (and the groups it
    /// is in). They are built by the typed code above, so release builds skip
    /// checking them against the schema on every request (that check also
    /// copies the schema's every action entity, most of a decision's cost);
    /// debug builds, which every test runs, check each request's entities.
    pub(super) fn finish(self, schema: &Schema, action: Entity) -> Result<Entities, EntityError> {
        if cfg!(debug_assertions) {
            Entities::from_entities(self.entities.iter().cloned(), Some(schema))
                .map_err(|e: EntitiesError| EntityError(e.to_string()))?;
        }
        Entities::from_entities(self.entities.into_iter().chain([action]), None)
            .map_err(|e: EntitiesError| EntityError(e.to_string()))
    }
}
