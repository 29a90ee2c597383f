//! Authorization by Cedar. The schema and policies are files in `policies/`
//! (each policy with an `@id`); this module loads them, validates the policies
//! against the schema in strict mode, and refuses to start on anything
//! invalid, naming the file and the error. Every handler or service asks
//! [`Authz::decide`] explicitly, with entities built from the database for
//! that request; any evaluation error is a deny (fail closed). Each decision
//! keeps the ids of the policies that determined it, for the audit log, and
//! is remembered (`memo.rs`: a decision depends on nothing but its request).
//!
//! By default the policies compiled into the binary are used (the same
//! files); `CUSTODIAN_POLICY_DIR` points the server at a directory instead.

mod entities;
mod memo;

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityUid,
    PolicyId, PolicySet, Request, Schema, ValidationMode, Validator,
};

pub use entities::{Action, OperatorPrincipal, PlatformAction, Principal, Resource, SCOPES};
pub use memo::MemoStats;

/// The schema's file name in a policy directory.
pub const SCHEMA_FILE: &str = "custodian.cedarschema";

/// The policy files compiled into the binary; a test checks this list against
/// the directory, so a new file cannot be forgotten here.
pub const EMBEDDED_POLICIES: &[(&str, &str)] = &[
    (
        "account.cedar",
        include_str!("../../../policies/account.cedar"),
    ),
    (
        "admins.cedar",
        include_str!("../../../policies/admins.cedar"),
    ),
    (
        "api_clients.cedar",
        include_str!("../../../policies/api_clients.cedar"),
    ),
    (
        "operator.cedar",
        include_str!("../../../policies/operator.cedar"),
    ),
    (
        "resets.cedar",
        include_str!("../../../policies/resets.cedar"),
    ),
    ("scim.cedar", include_str!("../../../policies/scim.cedar")),
    (
        "tenancy.cedar",
        include_str!("../../../policies/tenancy.cedar"),
    ),
];

/// Policy files of `policies/` left out of the binary on purpose: they
/// apply only where `CUSTODIAN_POLICY_DIR` loads them (approval is opt-in).
pub const OPTIONAL_POLICIES: &[&str] = &["approval.cedar"];

/// The schema compiled into the binary.
pub const EMBEDDED_SCHEMA: &str = include_str!("../../../policies/custodian.cedarschema");

/// A policy directory that cannot be used, with the file at fault.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PolicyError {
    pub file: String,
    pub message: String,
}

fn policy_error(file: &str, message: impl ToString) -> PolicyError {
    PolicyError {
        file: file.to_owned(),
        message: message.to_string().replace('\n', " "),
    }
}

/// A decision and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The policies that determined it (the permits that allowed, or the
    /// forbids that denied; none for a default deny).
    pub policy_ids: Vec<String>,
    /// Evaluation errors, each of which turned the decision into a deny.
    pub errors: Vec<String>,
}

impl Decision {
    /// A deny for an error (fail closed).
    fn failed(error: String) -> Self {
        Self {
            allowed: false,
            policy_ids: Vec::new(),
            errors: vec![error],
        }
    }
}

/// The loaded, validated schema and policies. Shared by all workers.
pub struct Authz {
    schema: Schema,
    policies: PolicySet,
    authorizer: Authorizer,
    /// Action uids by name, parsed once.
    actions: std::collections::HashMap<&'static str, EntityUid>,
    /// Each action of the schema: its entity (with the action groups it is
    /// in), and the policies whose action scope can match it.
    by_action: std::collections::HashMap<EntityUid, ActionSlice>,
    /// Decisions already made (`memo.rs`).
    memo: memo::Memo,
    /// No policy names a user, so a decision cannot tell two users of one
    /// company apart (for callers who are not end users): the memo keys
    /// users by company.
    users_anonymous: bool,
}

/// What a decision on one action needs, computed once at load.
struct ActionSlice {
    /// The action's entity with its ancestors (the scope groups), so that
    /// `action in Action::"scope:…"` resolves without the schema's whole
    /// action hierarchy in every request's entities.
    entity: Entity,
    /// The policies whose action constraint can match this action. Cedar
    /// checks a policy's scope before its conditions, so a policy left out
    /// here could neither permit, forbid nor err on this action: the
    /// decision is the same as over the whole set, at a fraction of the work.
    policies: PolicySet,
}

impl ActionSlice {
    fn build(
        uid: &EntityUid,
        hierarchy: &Entities,
        all: &PolicySet,
    ) -> Result<ActionSlice, String> {
        let ancestors: HashSet<EntityUid> = hierarchy
            .ancestors(uid)
            .map(|a| a.cloned().collect())
            .unwrap_or_default();
        let matches = |candidate: &EntityUid| candidate == uid || ancestors.contains(candidate);
        let mut policies = PolicySet::new();
        for policy in all.policies() {
            let relevant = match policy.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(one) => &one == uid,
                ActionConstraint::In(list) => list.iter().any(matches),
            };
            if relevant {
                policies.add(policy.clone()).map_err(|e| e.to_string())?;
            }
        }
        Ok(ActionSlice {
            entity: Entity::new_no_attrs(uid.clone(), ancestors),
            policies,
        })
    }
}

impl std::fmt::Debug for Authz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authz")
            .field("policies", &self.policies.policies().count())
            .finish_non_exhaustive()
    }
}

impl Authz {
    /// The policies compiled into the binary.
    pub fn embedded() -> Result<Self, PolicyError> {
        Self::from_sources(
            EMBEDDED_SCHEMA,
            EMBEDDED_POLICIES
                .iter()
                .map(|(f, t)| (f.to_string(), t.to_string())),
        )
    }

    /// `custodian.cedarschema` and every `*.cedar` file of a directory.
    pub fn load_dir(dir: &Path) -> Result<Self, PolicyError> {
        let schema_path = dir.join(SCHEMA_FILE);
        let schema = std::fs::read_to_string(&schema_path)
            .map_err(|e| policy_error(&schema_path.display().to_string(), e))?;
        let mut files = Vec::new();
        let entries =
            std::fs::read_dir(dir).map_err(|e| policy_error(&dir.display().to_string(), e))?;
        for entry in entries {
            let path = entry
                .map_err(|e| policy_error(&dir.display().to_string(), e))?
                .path();
            if path.extension().is_some_and(|e| e == "cedar") {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| policy_error(&path.display().to_string(), e))?;
                files.push((path.display().to_string(), text));
            }
        }
        if files.is_empty() {
            return Err(policy_error(
                &dir.display().to_string(),
                "holds no .cedar policy file",
            ));
        }
        files.sort();
        let schema_name = schema_path.display().to_string();
        Self::from_sources_named(&schema_name, &schema, files)
    }

    fn from_sources(
        schema: &str,
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, PolicyError> {
        Self::from_sources_named(SCHEMA_FILE, schema, files)
    }

    fn from_sources_named(
        schema_name: &str,
        schema: &str,
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, PolicyError> {
        let (schema, warnings) =
            Schema::from_cedarschema_str(schema).map_err(|e| policy_error(schema_name, e))?;
        for warning in warnings {
            tracing::warn!(file = schema_name, %warning, "Cedar schema warning");
        }
        let mut policies = PolicySet::new();
        let mut ids = HashSet::new();
        for (file, text) in files {
            let parsed = PolicySet::from_str(&text).map_err(|e| policy_error(&file, e))?;
            if parsed.templates().next().is_some() {
                return Err(policy_error(&file, "templates are not supported"));
            }
            for policy in parsed.policies() {
                let id = match policy.annotation("id") {
                    Some(id) if !id.is_empty() => id.to_owned(),
                    _ => {
                        return Err(policy_error(
                            &file,
                            format!("a policy has no @id(\"…\"): {policy}"),
                        ));
                    }
                };
                if !ids.insert(id.clone()) {
                    return Err(policy_error(&file, format!("@id(\"{id}\") is used twice")));
                }
                policies
                    .add(policy.new_id(PolicyId::new(&id)))
                    .map_err(|e| policy_error(&file, e))?;
            }
            // Validate file by file, so an error names its file.
            let mut alone = PolicySet::new();
            for policy in parsed.policies() {
                let id = policy.annotation("id").unwrap_or_default();
                alone
                    .add(policy.new_id(PolicyId::new(id)))
                    .map_err(|e| policy_error(&file, e))?;
            }
            let result = Validator::new(schema.clone()).validate(&alone, ValidationMode::Strict);
            if let Some(error) = result.validation_errors().next() {
                return Err(policy_error(&file, error));
            }
        }
        let declared: HashSet<EntityUid> = schema.actions().cloned().collect();
        let actions = Action::NAMES
            .iter()
            .chain(PlatformAction::NAMES)
            .map(|name| {
                let uid = EntityUid::from_str(&format!("Custodian::Action::\"{name}\""))
                    .map_err(|e| policy_error(schema_name, e))?;
                if !declared.contains(&uid) {
                    return Err(policy_error(
                        schema_name,
                        format!("declares no action {name:?}, which the server uses"),
                    ));
                }
                Ok((*name, uid))
            })
            .collect::<Result<_, PolicyError>>()?;
        let hierarchy = schema
            .action_entities()
            .map_err(|e| policy_error(schema_name, e))?;
        let by_action = declared
            .iter()
            .map(|uid| {
                ActionSlice::build(uid, &hierarchy, &policies)
                    .map(|slice| (uid.clone(), slice))
                    .map_err(|e| policy_error(schema_name, e))
            })
            .collect::<Result<_, PolicyError>>()?;
        let users_anonymous = !memo::names_a_user(&policies);
        Ok(Self {
            schema,
            policies,
            authorizer: Authorizer::new(),
            actions,
            by_action,
            memo: memo::Memo::default(),
            users_anonymous,
        })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Decides whether `principal` may take `action` on `resource`: from
    /// the memo when this decision was made before, else by Cedar.
    pub fn decide(&self, principal: &Principal, action: &Action, resource: &Resource) -> Decision {
        self.decide_each(principal, action, std::slice::from_ref(resource))
            .pop()
            .unwrap_or_else(|| Decision::failed("no decision".into()))
    }

    /// Decides `action` on each of `resources` (a page of a list), one
    /// decision per resource, in order: the same decisions as [`Self::decide`]
    /// on each. Those the memo has are taken from it; the rest are
    /// evaluated together ([`Self::evaluate_each`]) and remembered.
    pub fn decide_each(
        &self,
        principal: &Principal,
        action: &Action,
        resources: &[Resource],
    ) -> Vec<Decision> {
        let keys: Vec<Resource> = resources
            .iter()
            .map(|resource| memo::key(principal, resource, self.users_anonymous))
            .collect();
        let mut decisions = self.memo.get(principal, action, &keys);
        // One evaluation per key still missing (a page's users of one
        // company share theirs), on the first resource that has it.
        let mut missing: Vec<usize> = Vec::new();
        let mut evaluation_of: std::collections::HashMap<&Resource, usize> = Default::default();
        for (i, decision) in decisions.iter().enumerate() {
            if decision.is_none() {
                evaluation_of.entry(&keys[i]).or_insert_with(|| {
                    missing.push(i);
                    missing.len() - 1
                });
            }
        }
        if !missing.is_empty() {
            let evaluated = self.evaluate_each(
                principal,
                action,
                &missing
                    .iter()
                    .map(|&i| resources[i].clone())
                    .collect::<Vec<_>>(),
            );
            self.memo.put(
                principal,
                action,
                missing
                    .iter()
                    .zip(&evaluated)
                    .map(|(&i, decision)| (keys[i].clone(), decision.clone())),
            );
            for (decision, key) in decisions.iter_mut().zip(&keys) {
                if decision.is_none() {
                    *decision = evaluation_of.get(key).map(|&at| evaluated[at].clone());
                }
            }
        }
        decisions
            .into_iter()
            .map(|d| d.unwrap_or_else(|| Decision::failed("no decision".into())))
            .collect()
    }

    /// Evaluates `action` on each of `resources` with Cedar, without the
    /// memo (tests and benchmarks compare the two). One entity store serves
    /// them all: the principal's entity is built once, sliced to the
    /// resources' companies, and Cedar closes the hierarchy once instead of
    /// once per resource.
    ///
    /// The decisions are those of each resource alone, because a decision
    /// reads only the entities reachable from its own principal, resource
    /// and action: the other resources' entities are in the store but
    /// nothing about this one leads to them, and `resource in
    /// principal.companies` has the same answer over the union of the
    /// resources' companies as over the resource's own (a test compares the
    /// two ways on every kind of principal).
    pub fn evaluate_each(
        &self,
        principal: &Principal,
        action: &Action,
        resources: &[Resource],
    ) -> Vec<Decision> {
        match self.requests(principal, action, resources) {
            Ok((requests, entities)) => requests
                .into_iter()
                .map(|request| match request {
                    Ok(request) => self.decide_request(&request, &entities),
                    Err(error) => Decision::failed(error),
                })
                .collect(),
            Err(error) => resources
                .iter()
                .map(|_| Decision::failed(error.clone()))
                .collect(),
        }
    }

    /// How often the memo answered.
    pub fn memo_stats(&self) -> MemoStats {
        self.memo.stats()
    }

    /// One request per resource, and the entities they share.
    #[allow(clippy::type_complexity)]
    fn requests(
        &self,
        principal: &Principal,
        action: &Action,
        resources: &[Resource],
    ) -> Result<(Vec<Result<Request, String>>, Entities), String> {
        let mut built = entities::Builder::default();
        let companies: Vec<_> = resources.iter().filter_map(Resource::company).collect();
        let principal_uid = built
            .principal(principal, &companies)
            .map_err(|e| e.to_string())?;
        let action_uid = self
            .actions
            .get(action.name())
            .cloned()
            .ok_or_else(|| format!("action {} is not known", action.name()))?;
        let slice = self
            .by_action
            .get(&action_uid)
            .ok_or_else(|| format!("action {} is not in the schema", action.name()))?;
        let context: Context = action.context().map_err(|e| e.to_string())?;
        let mut requests = Vec::with_capacity(resources.len());
        for resource in resources {
            let resource_uid = built.resource(resource).map_err(|e| e.to_string())?;
            requests.push(
                Request::new(
                    principal_uid.clone(),
                    action_uid.clone(),
                    resource_uid,
                    context.clone(),
                    Some(&self.schema),
                )
                .map_err(|e| e.to_string()),
            );
        }
        let entities = built
            .finish(&self.schema, slice.entity.clone())
            .map_err(|e| e.to_string())?;
        Ok((requests, entities))
    }

    /// Decides what the platform operator asks about a partner (`None`:
    /// the platform's partners as a whole). Not remembered: the operator's
    /// calls are few.
    pub fn decide_platform(
        &self,
        operator: entities::OperatorPrincipal,
        action: PlatformAction,
        partner: Option<crate::ids::PartnerId>,
    ) -> Decision {
        let built = || -> Result<(Request, Entities), String> {
            let action_uid = self
                .actions
                .get(action.name())
                .ok_or_else(|| format!("action {} is not known", action.name()))?;
            let slice = self
                .by_action
                .get(action_uid)
                .ok_or_else(|| format!("action {} is not in the schema", action.name()))?;
            let (me, resource) = entities::platform_request_uids(operator, partner);
            let request = Request::new(
                me.uid(),
                action_uid.clone(),
                resource,
                Context::empty(),
                Some(&self.schema),
            )
            .map_err(|e| e.to_string())?;
            let entities = Entities::from_entities([me, slice.entity.clone()], None)
                .map_err(|e| e.to_string())?;
            Ok((request, entities))
        };
        match built() {
            Ok((request, entities)) => self.decide_request(&request, &entities),
            Err(error) => Decision::failed(error),
        }
    }

    /// Decides a prepared request (the fixtures use this), over the policies
    /// that can apply to its action.
    pub fn decide_request(&self, request: &Request, entities: &Entities) -> Decision {
        let policies = request
            .action()
            .and_then(|action| self.by_action.get(action))
            .map_or(&self.policies, |slice| &slice.policies);
        let response = self.authorizer.is_authorized(request, policies, entities);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        // Sorted: Cedar gives them as a set, in no order.
        let mut policy_ids: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        policy_ids.sort_unstable();
        Decision {
            // Fail closed: a policy that errs is skipped by Cedar, which could
            // turn a forbid into an allow; here any error denies.
            allowed: errors.is_empty() && response.decision() == CedarDecision::Allow,
            policy_ids,
            errors,
        }
    }
}

const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Authz>();
};

/// The outcome of one request fixture of a policy directory.
#[derive(Debug)]
pub struct FixtureOutcome {
    /// `ALLOW/name.json` or `DENY/name.json`.
    pub file: String,
    pub expected_allow: bool,
    pub decision: Decision,
}

impl FixtureOutcome {
    pub fn passed(&self) -> bool {
        self.decision.allowed == self.expected_allow
    }
}

impl Authz {
    /// Runs the request fixtures of a policy directory (as in cedar-examples):
    /// `entities.json`, and `ALLOW/*.json` and `DENY/*.json` requests whose
    /// principal, action and resource are Cedar entity references.
    pub fn run_fixtures(&self, dir: &Path) -> Result<Vec<FixtureOutcome>, PolicyError> {
        let entities_path = dir.join("entities.json");
        let entities_text = std::fs::read_to_string(&entities_path)
            .map_err(|e| policy_error(&entities_path.display().to_string(), e))?;
        let entities = Entities::from_json_str(&entities_text, Some(&self.schema))
            .map_err(|e| policy_error(&entities_path.display().to_string(), e))?;
        let mut outcomes = Vec::new();
        for (folder, expected_allow) in [("ALLOW", true), ("DENY", false)] {
            let Ok(listing) = std::fs::read_dir(dir.join(folder)) else {
                continue;
            };
            let mut paths: Vec<_> = listing
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|e| e == "json"))
                .collect();
            paths.sort();
            for path in paths {
                let name = format!(
                    "{folder}/{}",
                    path.file_name().unwrap_or_default().to_string_lossy()
                );
                let request = self
                    .fixture_request(&path)
                    .map_err(|message| policy_error(&path.display().to_string(), message))?;
                outcomes.push(FixtureOutcome {
                    file: name,
                    expected_allow,
                    decision: self.decide_request(&request, &entities),
                });
            }
        }
        Ok(outcomes)
    }

    fn fixture_request(&self, path: &Path) -> Result<Request, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let uid = |key: &str| -> Result<EntityUid, String> {
            let raw = value[key]
                .as_str()
                .ok_or_else(|| format!("`{key}` is not an entity reference"))?;
            EntityUid::from_str(raw).map_err(|e| format!("`{key}`: {e}"))
        };
        let (principal, action, resource) = (uid("principal")?, uid("action")?, uid("resource")?);
        let context_json = value
            .get("context")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        let context = Context::from_json_value(context_json, Some((&self.schema, &action)))
            .map_err(|e| format!("`context`: {e}"))?;
        Request::new(principal, action, resource, context, Some(&self.schema))
            .map_err(|e| e.to_string())
    }
}
