//! Cedar: the policies in `policies/`, their request fixtures, the typed
//! entities the server builds, and failing closed.

use std::path::PathBuf;

use custodian_api::authz::{
    Action, Authz, EMBEDDED_POLICIES, OPTIONAL_POLICIES, Principal, Resource,
};
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
        .filter(|name| !OPTIONAL_POLICIES.contains(&name.as_str()))
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

/// Every kind of principal, of `acme` but for one owner of `other`; the
/// end user is `me`.
fn principals(acme: &Tenant, other: &Tenant, me: &Resource) -> Vec<Principal> {
    let client = |scopes: &[&str], companies: Option<Vec<CompanyId>>| Principal::ApiClient {
        id: ApiClientId::new(),
        partner: acme.partner,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        companies,
    };
    let Resource::User {
        id,
        company,
        partner,
    } = *me
    else {
        unreachable!("me is a user")
    };
    vec![
        admin(acme, Role::Owner, vec![]),
        admin(acme, Role::Admin, vec![]),
        admin(acme, Role::Technician, vec![acme.dental]),
        admin(acme, Role::Technician, vec![acme.law, acme.dental]),
        admin(acme, Role::Technician, vec![]),
        admin(other, Role::Owner, vec![]),
        client(&["users:read", "companies:read"], None),
        client(&["users:read", "companies:read"], Some(vec![acme.law])),
        client(&["resets:read"], None),
        Principal::User {
            id,
            company,
            partner,
        },
    ]
}

/// Users and companies of `acme` and of `other`, mixed, with `me` and a row
/// twice (a user's two resets on one page).
fn page(acme: &Tenant, other: &Tenant, me: &Resource) -> Vec<Resource> {
    let twin = user_in(acme, acme.dental);
    vec![
        user_in(acme, acme.dental),
        user_in(acme, acme.law),
        twin.clone(),
        twin,
        me.clone(),
        user_in(other, other.dental),
        Resource::Company {
            id: acme.law,
            partner: acme.partner,
        },
        Resource::Company {
            id: other.law,
            partner: other.partner,
        },
        user_in(acme, acme.law),
    ]
}

const PAGE_ACTIONS: [Action; 5] = [
    Action::ReadUser,
    Action::ReadCompany,
    Action::ReadReset,
    Action::ResetMasterPassword,
    Action::UseOwnVault,
];

/// Each resource of `page` evaluated alone, without the memo.
fn each_alone(
    authz: &Authz,
    principal: &Principal,
    action: &Action,
    page: &[Resource],
) -> Vec<custodian_api::authz::Decision> {
    page.iter()
        .flat_map(|resource| authz.evaluate_each(principal, action, std::slice::from_ref(resource)))
        .collect()
}

/// A page evaluated at once (`evaluate_each`, one entity store for every
/// row) decides each row as evaluating it alone does, for every kind of
/// principal, on users and companies of the caller's partner and of
/// another, mixed.
#[test]
fn a_page_evaluated_at_once_decides_each_row_as_alone() {
    let authz = Authz::embedded().unwrap();
    let (acme, other) = (tenant(), tenant());
    let me = user_in(&acme, acme.dental);
    let page = page(&acme, &other, &me);
    let mut allowed = 0;
    for principal in &principals(&acme, &other, &me) {
        for action in &PAGE_ACTIONS {
            let together = authz.evaluate_each(principal, action, &page);
            let alone = each_alone(&authz, principal, action, &page);
            assert_eq!(together, alone, "{principal:?} {action:?}");
            allowed += together.iter().filter(|d| d.allowed).count();
        }
    }
    // Both outcomes occur, so the comparison is not of denials only.
    assert!(allowed > 20 && allowed < 300, "{allowed} allowed");
    assert!(
        authz
            .evaluate_each(&principals(&acme, &other, &me)[0], &Action::ReadUser, &[])
            .is_empty()
    );
    assert_eq!(
        authz.memo_stats(),
        Default::default(),
        "evaluating skips the memo"
    );
}

/// The memo answers as Cedar does: every kind of principal, asking one
/// resource at a time and a page at a time, three rounds (the first fills
/// the memo, the others are answered from it), against a fresh evaluation
/// of each request alone. Users of one company share a decision, but for
/// the end user, whose own id decides.
#[test]
fn remembered_decisions_are_the_decisions() {
    let authz = Authz::embedded().unwrap();
    let (acme, other) = (tenant(), tenant());
    let me = user_in(&acme, acme.dental);
    let principals = principals(&acme, &other, &me);
    let (mut asked, mut errored) = (0, 0);
    for round in 0..3 {
        // New users each round: only the widening to a user's company can
        // answer them from the memo.
        let page = page(&acme, &other, &me);
        for principal in &principals {
            for action in &PAGE_ACTIONS {
                let fresh = each_alone(&authz, principal, action, &page);
                let one_by_one: Vec<_> = page
                    .iter()
                    .map(|resource| authz.decide(principal, action, resource))
                    .collect();
                assert_eq!(one_by_one, fresh, "round {round}: {principal:?} {action:?}");
                let at_once = authz.decide_each(principal, action, &page);
                assert_eq!(at_once, fresh, "round {round}: {principal:?} {action:?}");
                asked += 2 * page.len() as u64;
                // A resource of a type the action does not take is an
                // error, never remembered: asked again, evaluated again.
                errored += 2 * fresh.iter().filter(|d| !d.errors.is_empty()).count() as u64;
            }
        }
    }
    let stats = authz.memo_stats();
    assert_eq!(stats.hits + stats.misses, asked);
    // Of the rest, a (principal, action) has at most 8 keys on a page, all
    // missed in the first round; in later rounds only the end user's, whose
    // users are new each round, miss.
    let bound = (principals.len() * PAGE_ACTIONS.len() * 8 + 2 * PAGE_ACTIONS.len() * 8) as u64;
    assert!(
        stats.misses - errored <= bound,
        "{stats:?}, {errored} errors"
    );
    assert!(stats.hits >= (asked - errored) * 3 / 4, "{stats:?}");
}

/// A policy that names one user turns the widening off: that user and
/// another of the same company are decided apart, in either order.
#[test]
fn a_policy_naming_a_user_keeps_users_apart_in_the_memo() {
    let acme = tenant();
    let named = UserId::new();
    let dir = write_dir(&[(
        "named.cedar",
        &format!(
            "@id(\"admins\") permit (principal is Custodian::Admin, action, resource);\n\
             @id(\"not-that-one\") forbid (principal, action == Custodian::Action::\"readUser\", \
             resource == Custodian::User::\"{named}\");"
        ),
    )]);
    let owner = admin(&acme, Role::Owner, vec![]);
    let that_one = Resource::User {
        id: named,
        company: acme.dental,
        partner: acme.partner,
    };
    let another = user_in(&acme, acme.dental);
    for order in [[&that_one, &another], [&another, &that_one]] {
        let authz = Authz::load_dir(dir.path()).unwrap();
        for _ in 0..2 {
            for resource in order {
                let decision = authz.decide(&owner, &Action::ReadUser, resource);
                assert_eq!(decision.allowed, resource == &another, "{resource:?}");
            }
        }
        assert_eq!(authz.memo_stats().hits, 2, "each user's second decision");
    }
    // With the policies of policies/, which name no user, the two share
    // one decision.
    let authz = Authz::embedded().unwrap();
    for resource in [&that_one, &another] {
        assert!(authz.decide(&owner, &Action::ReadUser, resource).allowed);
    }
    assert_eq!(authz.memo_stats().hits, 1);
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
