//! Cedar: the policies in `policies/`, their request fixtures, the typed
//! entities the server builds, and failing closed.

use std::path::PathBuf;

use custodian_api::authz::{Action, Authz, EMBEDDED_POLICIES, Principal, Resource};
use custodian_api::db::admins::Role;
use custodian_api::ids::{AdminId, ApiClientId, CompanyId, PartnerId, UserId};

fn policy_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies"))
}

#[test]
fn every_allow_and_deny_fixture_holds() {
    let authz = Authz::load_dir(&policy_dir()).expect("policies/ is valid");
    let outcomes = authz.run_fixtures(&policy_dir()).unwrap();
    assert!(outcomes.iter().filter(|o| o.expected_allow).count() >= 10);
    assert!(outcomes.iter().filter(|o| !o.expected_allow).count() >= 10);
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed())
        .map(|o| format!("{} decided {:?}", o.file, o.decision))
        .collect();
    assert!(
        failed.is_empty(),
        "fixtures that do not hold:\n{}",
        failed.join("\n")
    );
    for outcome in outcomes.iter().filter(|o| o.expected_allow) {
        assert!(
            !outcome.decision.policy_ids.is_empty(),
            "{}: an allow names its policy",
            outcome.file
        );
        assert!(outcome.decision.errors.is_empty(), "{}", outcome.file);
    }
}

#[test]
fn the_compiled_in_policies_are_the_directory() {
    let mut on_disk: Vec<String> = std::fs::read_dir(policy_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".cedar"))
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = EMBEDDED_POLICIES
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    embedded.sort();
    assert_eq!(
        embedded, on_disk,
        "add the new file to EMBEDDED_POLICIES in api/src/authz/mod.rs"
    );
    for (name, text) in EMBEDDED_POLICIES {
        assert_eq!(
            &std::fs::read_to_string(policy_dir().join(name)).unwrap(),
            text
        );
    }
    Authz::embedded().expect("the compiled-in policies are valid");
}

struct Tenant {
    partner: PartnerId,
    dental: CompanyId,
    law: CompanyId,
}

fn tenant() -> Tenant {
    Tenant {
        partner: PartnerId::new(),
        dental: CompanyId::new(),
        law: CompanyId::new(),
    }
}

fn admin(t: &Tenant, role: Role, companies: Vec<CompanyId>) -> Principal {
    Principal::Admin {
        id: AdminId::new(),
        partner: t.partner,
        role,
        companies,
    }
}

fn user_in(t: &Tenant, company: CompanyId) -> Resource {
    Resource::User {
        id: UserId::new(),
        company,
        partner: t.partner,
    }
}

#[test]
fn typed_requests_decide_and_name_their_policies() {
    let authz = Authz::embedded().unwrap();
    let acme = tenant();
    let other = tenant();

    let owner = admin(&acme, Role::Owner, vec![]);
    let decision = authz.decide(
        &owner,
        &Action::UpdatePartner,
        &Resource::Partner(acme.partner),
    );
    assert!(decision.allowed);
    assert_eq!(decision.policy_ids, vec!["owner-may-do-anything"]);

    let denied = authz.decide(
        &owner,
        &Action::ReadPartner,
        &Resource::Partner(other.partner),
    );
    assert!(!denied.allowed);
    assert_eq!(denied.policy_ids, vec!["partner-boundary"]);

    let tech = admin(&acme, Role::Technician, vec![acme.dental]);
    assert!(
        authz
            .decide(
                &tech,
                &Action::ResetMasterPassword,
                &user_in(&acme, acme.dental)
            )
            .allowed
    );
    assert!(
        !authz
            .decide(
                &tech,
                &Action::ResetMasterPassword,
                &user_in(&acme, acme.law)
            )
            .allowed
    );
    let self_resource = Resource::Admin {
        id: AdminId::new(),
        partner: acme.partner,
        role: Role::Admin,
    };
    assert!(
        !authz
            .decide(&tech, &Action::ReadAdmin, &self_resource)
            .allowed
    );

    let admin_role = admin(&acme, Role::Admin, vec![]);
    let the_owner = Resource::Admin {
        id: AdminId::new(),
        partner: acme.partner,
        role: Role::Owner,
    };
    let demote = authz.decide(
        &admin_role,
        &Action::UpdateAdmin { role: Role::Admin },
        &the_owner,
    );
    assert_eq!(
        (demote.allowed, demote.policy_ids),
        (false, vec!["only-owners-manage-owners".to_owned()])
    );
    assert!(
        !authz
            .decide(
                &admin_role,
                &Action::UpdatePartner,
                &Resource::Partner(acme.partner)
            )
            .allowed
    );

    let purge = |n, ack| Action::PurgeVault {
        company_items_not_backed_up: n,
        acknowledge_company_data_loss: ack,
    };
    let user = user_in(&acme, acme.dental);
    assert!(authz.decide(&owner, &purge(0, false), &user).allowed);
    assert!(authz.decide(&owner, &purge(2, true), &user).allowed);
    let refused = authz.decide(&owner, &purge(2, false), &user);
    assert_eq!(
        (refused.allowed, refused.policy_ids),
        (
            false,
            vec!["purge-needs-backups-or-acknowledgement".to_owned()]
        )
    );

    let client = Principal::ApiClient {
        id: ApiClientId::new(),
        partner: acme.partner,
        scopes: vec!["users:read".into()],
        companies: Some(vec![acme.dental]),
    };
    assert!(
        authz
            .decide(&client, &Action::ReadUser, &user_in(&acme, acme.dental))
            .allowed
    );
    assert!(
        !authz
            .decide(&client, &Action::ReadUser, &user_in(&acme, acme.law))
            .allowed
    );
    assert!(
        !authz
            .decide(
                &client,
                &Action::ResetMasterPassword,
                &user_in(&acme, acme.dental)
            )
            .allowed
    );
    assert!(
        !authz
            .decide(
                &client,
                &Action::CreateAdmin {
                    role: Role::Technician
                },
                &self_resource
            )
            .allowed
    );
}

fn write_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        policy_dir().join("custodian.cedarschema"),
        dir.path().join("custodian.cedarschema"),
    )
    .unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn an_invalid_policy_names_its_file() {
    let cases = [
        ("syntax.cedar", "permit (principal, action, resource"),
        ("no_id.cedar", "permit (principal, action, resource);"),
        (
            "typo.cedar",
            "@id(\"t\") permit (principal is Custodian::Admin, action, resource) when { principal.rolle == \"owner\" };",
        ),
    ];
    for (name, text) in cases {
        let dir = write_dir(&[(name, text)]);
        let error = Authz::load_dir(dir.path()).unwrap_err().to_string();
        assert!(error.contains(name), "{name}: {error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
    let dir = write_dir(&[
        (
            "a.cedar",
            "@id(\"same\") permit (principal, action, resource);",
        ),
        (
            "b.cedar",
            "@id(\"same\") forbid (principal, action, resource);",
        ),
    ]);
    let error = Authz::load_dir(dir.path()).unwrap_err().to_string();
    assert!(error.contains("used twice"), "{error}");
}

#[test]
fn an_evaluation_error_is_a_deny() {
    // A permit for everyone, and a forbid that errs for a principal whose
    // entity is missing: Cedar skips the erring forbid and would allow.
    let dir = write_dir(&[
        (
            "all.cedar",
            "@id(\"all\") permit (principal, action, resource);",
        ),
        (
            "errs.cedar",
            "@id(\"errs\") forbid (principal is Custodian::Admin, action, resource) when { principal.role == \"x\" };",
        ),
    ]);
    let authz = Authz::load_dir(dir.path()).unwrap();
    std::fs::write(dir.path().join("entities.json"), "[]").unwrap();
    std::fs::create_dir(dir.path().join("DENY")).unwrap();
    std::fs::write(
        dir.path().join("DENY/missing_principal.json"),
        r#"{"principal": "Custodian::Admin::\"ghost\"", "action": "Custodian::Action::\"readPartner\"",
            "resource": "Custodian::Partner::\"p\"", "context": {}}"#,
    )
    .unwrap();
    let outcomes = authz.run_fixtures(dir.path()).unwrap();
    assert_eq!(outcomes.len(), 1);
    assert!(!outcomes[0].decision.allowed, "{:?}", outcomes[0].decision);
    assert!(!outcomes[0].decision.errors.is_empty());
}
