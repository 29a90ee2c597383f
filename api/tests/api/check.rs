//! `POST /v1/authorization/check`: each pair decided as the action itself
//! would be, another partner's objects `not_found`, bad checks 422.

use custodian_api::db::Backend;
use custodian_api::db::admins::Role;
use custodian_api::testing::TestServer;
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{client_token, create_client, owner_token, seed, send, sign_in};

async fn check(server: &TestServer, token: &str, checks: Value) -> (u16, Value) {
    send(
        server,
        token,
        "POST",
        "/v1/authorization/check",
        Some(json!({ "checks": checks })),
    )
    .await
}

/// (allowed, not_found, policy ids) of each result.
fn decisions(answer: &Value) -> Vec<(bool, bool, Vec<String>)> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["allowed"].as_bool().unwrap(),
                r["not_found"].as_bool().unwrap(),
                r["policy_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

#[rstest]
#[actix_web::test]
async fn a_technician_learns_what_they_may_do(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    let law = seed::company(&server, &partner, "Acme Law").await;
    let dana = seed::user(&server, &partner, &dental).await;
    let lou = seed::user(&server, &partner, &law).await;
    // Dana has one company item without a backup copy, one with, and a
    // personal item.
    seed::item(&server, (&partner, &dental, &dana), "company", false).await;
    seed::item(&server, (&partner, &dental, &dana), "company", true).await;
    seed::item(&server, (&partner, &dental, &dana), "personal", false).await;
    // Lou, whom the technician cannot see, has one not backed up.
    seed::item(&server, (&partner, &law, &lou), "company", false).await;
    let other = seed::partner(&server, "Other MSP").await;
    let bakery = seed::company(&server, &other, "Their Bakery").await;
    let bea = seed::user(&server, &other, &bakery).await;

    let (email, password) = server
        .create_admin(Role::Technician, std::slice::from_ref(&dental))
        .await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let user = |id: &str| json!({"type": "user", "id": id});
    let (status, answer) = check(
        &server,
        &technician,
        json!([
            {"action": "resetMasterPassword", "resource": user(&dana)},
            {"action": "resetMasterPassword", "resource": user(&lou)},
            {"action": "resetMasterPassword", "resource": user(&bea)},
            {"action": "purgeVault", "resource": user(&lou)},
            {"action": "purgeVault", "resource": user(&dana)},
            {"action": "purgeVault", "resource": user(&dana), "acknowledge_company_data_loss": true},
            {"action": "readPartner"},
            {"action": "createAdmin"},
            {"action": "listApiClients"},
            {"action": "readCompany", "resource": {"type": "company", "id": dental}},
            {"action": "changeOwnPassword"},
            {"action": "readPartner", "resource": {"type": "partner", "id": other}},
        ]),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        decisions(&answer),
        vec![
            (
                true,
                false,
                ids(&["technician-works-in-assigned-companies"])
            ),
            // Outside the technician's companies, a user is absent: the
            // answer tells nothing of them, their vault least of all.
            (false, true, ids(&[])),
            (false, true, ids(&[])),
            (false, true, ids(&[])),
            (
                false,
                false,
                ids(&["purge-needs-backups-or-acknowledgement"])
            ),
            (
                true,
                false,
                ids(&["technician-works-in-assigned-companies"])
            ),
            (true, false, ids(&["technician-reads-the-partner"])),
            (false, false, ids(&[])),
            (false, false, ids(&[])),
            (
                true,
                false,
                ids(&["technician-works-in-assigned-companies"])
            ),
            (true, false, ids(&["everyone-changes-their-own-password"])),
            (false, true, ids(&[])),
        ]
    );
    // Each result names what it answers; the partner is filled in.
    assert_eq!(answer["results"][0]["action"], "resetMasterPassword");
    assert_eq!(answer["results"][0]["resource"], user(&dana));
    assert_eq!(answer["results"][6]["resource"]["id"], partner.as_str());

    // An owner may do all of it in their partner, and still nothing outside.
    let owner = owner_token(&server).await;
    let (status, answer) = check(
        &server,
        &owner,
        json!([
            {"action": "resetMasterPassword", "resource": user(&lou)},
            {"action": "createAdmin", "role": "owner"},
            {"action": "readUser", "resource": user(&bea)},
        ]),
    )
    .await;
    assert_eq!(status, 200);
    let allowed: Vec<(bool, bool)> = decisions(&answer)
        .into_iter()
        .map(|(a, n, _)| (a, n))
        .collect();
    assert_eq!(allowed, vec![(true, false), (true, false), (false, true)]);
}

#[rstest]
#[actix_web::test]
async fn bad_checks_are_422_naming_the_field(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let some = uuid::Uuid::now_v7().to_string();
    for (checks, field) in [
        (
            json!([{"action": "readPartner"}, {"action": "eatLunch"}]),
            "checks[1].action",
        ),
        (
            json!([{"action": "readUser", "resource": {"type": "user", "id": "x"}}]),
            "checks[0].resource.id",
        ),
        (json!(vec![json!({"action": "readPartner"}); 101]), "checks"),
    ] {
        let (status, problem) = check(&server, &owner, checks.clone()).await;
        assert_eq!(status, 422, "{checks}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    // A check is a question: one that names no object of its action's kind
    // is answered not_found, and a field its action does not use is not
    // asked about.
    let (status, answer) = check(
        &server,
        &owner,
        json!([
            {"action": "readUser", "resource": {"type": "company", "id": some}},
            {"action": "readUser"},
            {"action": "readPartner", "role": "owner"},
        ]),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let found: Vec<(bool, bool)> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["allowed"].as_bool().unwrap(),
                r["not_found"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(found, vec![(false, true), (false, true), (true, false)]);
    // Asking nothing is a malformed question too.
    let (status, problem) = check(&server, &owner, json!([])).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("checks"))
    );
}

#[rstest]
#[actix_web::test]
async fn an_api_client_may_not_ask(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (id, secret) = create_client(&server, &["users:read", "partner:read"], None).await;
    let token = client_token(&server, &id, &secret).await;
    let (status, problem) = check(&server, &token, json!([{"action": "readPartner"}])).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["code"], "forbidden");
}

#[rstest]
#[actix_web::test]
async fn a_portal_learns_who_may_approve_a_reset(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    // Admin Ann asked for the reset of a user, which awaits approval.
    let (ann_email, ann_password) = server.create_admin(Role::Admin, &[]).await;
    let ann = sign_in(&server, &ann_email, &ann_password).await.unwrap();
    let (status, admins) = send(&server, &ann, "GET", "/v1/admins?limit=200", None).await;
    assert_eq!(status, 200, "{admins}");
    let ann_id = admins["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == ann_email.as_str())
        .expect("Ann is listed")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (user, _) = crate::support::awaiting_request(&server, &company, &ann_id).await;
    let approve = json!([{"action": "approveReset", "resource": {"type": "user", "id": user}}]);

    let (status, answer) = check(&server, &ann, approve.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        decisions(&answer),
        [(
            false,
            false,
            vec!["nobody-approves-their-own-reset".to_owned()]
        )],
        "not the person who asked"
    );
    let (status, answer) = check(&server, &owner_token(&server).await, approve.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert!(decisions(&answer)[0].0, "another admin may: {answer}");
    let (id, secret) = create_client(&server, &["resets:write"], None).await;
    let client = client_token(&server, &id, &secret).await;
    let (status, answer) = check(&server, &client, approve).await;
    // An API client may not ask at all, let alone approve.
    assert!(status == 403 || !decisions(&answer)[0].0, "{answer}");
}

#[rstest]
#[actix_web::test]
async fn a_portal_learns_who_may_manage_a_users_lifecycle(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    let law = seed::company(&server, &partner, "Acme Law").await;
    let dana = seed::user(&server, &partner, &dental).await;
    let lou = seed::user(&server, &partner, &law).await;
    let (email, password) = server
        .create_admin(Role::Technician, std::slice::from_ref(&dental))
        .await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let actions = [
        "inviteUser",
        "updateUser",
        "disableUser",
        "enableUser",
        "offboardUser",
    ];
    let checks: Vec<Value> = actions
        .iter()
        .flat_map(|action| {
            [&dana, &lou]
                .map(|id| json!({"action": action, "resource": {"type": "user", "id": id}}))
        })
        .collect();
    let (status, answer) = check(&server, &technician, Value::Array(checks)).await;
    assert_eq!(status, 200, "{answer}");
    let got: Vec<(bool, bool)> = decisions(&answer)
        .into_iter()
        .map(|(allowed, not_found, _)| (allowed, not_found))
        .collect();
    // Each action: allowed on Dana (assigned), Lou absent (not assigned).
    assert_eq!(got, [(true, false), (false, true)].repeat(actions.len()));
    // An API client that may only read users may do none of it.
    let (id, secret) = create_client(&server, &["users:read"], None).await;
    let client = client_token(&server, &id, &secret).await;
    let (status, _) = check(
        &server,
        &client,
        json!([{"action": "offboardUser", "resource": {"type": "user", "id": dana}}]),
    )
    .await;
    assert_eq!(status, 403, "API clients may not ask");
}
