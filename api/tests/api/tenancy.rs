//! Privilege at the edges of a partner: what a technician or a
//! company-limited client cannot see must look absent, a limit fails
//! closed, partner-wide reads stay with partner-wide callers, and a change
//! to an admin is decided on the admin as it is when the change is made.

use custodian_api::db::admins::Role;
use custodian_api::testing::{Backend, TestServer};
use diesel::prelude::*;
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{client_token, create_client, owner_token, seed, send, sign_in};
use custodian_api::db::DbError;

/// What a 404 says, less what differs per request.
fn absent(problem: &Value) -> Value {
    json!({
        "status": problem["status"],
        "code": problem["code"],
        "title": problem["title"],
        "detail": problem["detail"],
    })
}

#[rstest]
#[actix_web::test]
async fn outside_a_callers_companies_everything_looks_absent(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    let law = seed::company(&server, &partner, "Acme Law").await;
    let lou = seed::user(&server, &partner, &law).await;
    // Lou has a company item that is not backed up: a purge would lose it.
    seed::item(&server, (&partner, &law, &lou), "company", false).await;
    let (email, password) = server
        .create_admin(Role::Technician, std::slice::from_ref(&dental))
        .await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let (id, secret) = create_client(
        &server,
        &[
            "companies:read",
            "users:read",
            "users:write",
            "resets:write",
        ],
        Some(std::slice::from_ref(&dental)),
    )
    .await;
    let client = client_token(&server, &id, &secret).await;
    let nobody = uuid::Uuid::now_v7().to_string();
    let nowhere = uuid::Uuid::now_v7().to_string();
    for caller in [&technician, &client] {
        let pairs = [
            (format!("/v1/users/{lou}"), format!("/v1/users/{nobody}")),
            (
                format!("/v1/companies/{law}"),
                format!("/v1/companies/{nowhere}"),
            ),
            (
                format!("/v1/companies/{law}/users"),
                format!("/v1/companies/{nowhere}/users"),
            ),
            (
                format!("/v1/companies/{law}/backup-profile"),
                format!("/v1/companies/{nowhere}/backup-profile"),
            ),
            (
                format!("/v1/users/{lou}/master-password-reset-preview"),
                format!("/v1/users/{nobody}/master-password-reset-preview"),
            ),
        ];
        for (theirs, absent_one) in pairs {
            let (status, hidden) = send(&server, caller, "GET", &theirs, None).await;
            let (absent_status, missing) = send(&server, caller, "GET", &absent_one, None).await;
            assert_eq!((status, absent_status), (404, 404), "{theirs}: {hidden}");
            assert_eq!(absent(&hidden), absent(&missing), "{theirs}");
        }
        // Writing there is just as absent.
        let body =
            json!({"email": "new@acme-law.example", "name": "New", "client_kind": "desktop"});
        let (status, _) = send(
            &server,
            caller,
            "POST",
            &format!("/v1/companies/{law}/users"),
            Some(body),
        )
        .await;
        assert_eq!(status, 404);
        let (status, _) = send(
            &server,
            caller,
            "POST",
            &format!("/v1/users/{lou}/master-password-resets"),
            Some(json!({"confirmation": "Yes", "acknowledge_company_data_loss": true})),
        )
        .await;
        assert_eq!(status, 404);
    }
    // Nor does adding a user where the caller may: Lou's email is free at
    // Acme Dental, whatever Acme Law holds.
    for (caller, name) in [(&technician, "Lou's namesake"), (&client, "Lou again")] {
        let (status, created) = send(
            &server,
            caller,
            "POST",
            &format!("/v1/companies/{dental}/users"),
            Some(json!({"email": format!("{lou}@example.com"), "name": name, "client_kind": "desktop"})),
        )
        .await;
        if caller == &technician {
            assert_eq!(status, 201, "{created}");
        } else {
            assert_eq!(
                (status, created["code"].as_str()),
                (409, Some("email_taken")),
                "taken at Acme Dental now, by the technician's user"
            );
        }
    }
    // Asking what one may do tells the technician nothing either: Lou is as
    // absent as a user who never was, whatever Lou's vault holds.
    let check =
        |action: &str, id: &str| json!({"action": action, "resource": {"type": "user", "id": id}});
    let (status, answer) = send(
        &server,
        &technician,
        "POST",
        "/v1/authorization/check",
        Some(json!({"checks": [
            check("readUser", &lou),
            check("purgeVault", &lou),
            check("readUser", &nobody),
            check("purgeVault", &nobody),
            {"action": "createUser", "resource": {"type": "company", "id": law}},
        ]})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    for result in answer["results"].as_array().unwrap() {
        assert_eq!(
            (
                &result["allowed"],
                &result["not_found"],
                &result["policy_ids"]
            ),
            (&json!(false), &json!(true), &json!([])),
            "{result}"
        );
    }
}

#[rstest]
#[actix_web::test]
async fn a_limited_client_reads_no_partner_wide_log(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    // A client limited to a company may hold audit:read, but the policy
    // refuses it the partner-wide log.
    let (id, secret) = create_client(
        &server,
        &["users:read", "audit:read"],
        Some(std::slice::from_ref(&dental)),
    )
    .await;
    let limited = client_token(&server, &id, &secret).await;
    for path in ["/v1/audit-events", "/v1/audit-events/verify"] {
        let (status, problem) = send(&server, &limited, "GET", path, None).await;
        assert_eq!(status, 403, "{path}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("limited-clients-read-no-partner-log"),
            "{problem}"
        );
    }
    // A client of the whole partner reads it.
    let (id, secret) = create_client(&server, &["audit:read"], None).await;
    let whole = client_token(&server, &id, &secret).await;
    let (status, _) = send(&server, &whole, "GET", "/v1/audit-events", None).await;
    assert_eq!(status, 200);
}

#[rstest]
#[actix_web::test]
async fn a_client_whose_companies_are_gone_sees_none(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    let law = seed::company(&server, &partner, "Acme Law").await;
    let dana = seed::user(&server, &partner, &dental).await;
    let (id, secret) = create_client(
        &server,
        &["companies:read", "users:read"],
        Some(std::slice::from_ref(&law)),
    )
    .await;
    let client = client_token(&server, &id, &secret).await;
    let (_, page) = send(&server, &client, "GET", "/v1/companies", None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    // Acme Law goes (its rows, the client's limit among them, with it).
    server
        .database
        .pool()
        .run(move |conn| {
            use custodian_api::db::schema::{api_client_companies, backup_profiles, companies};
            diesel::delete(
                api_client_companies::table.filter(api_client_companies::company_id.eq(&law)),
            )
            .execute(conn)?;
            diesel::delete(backup_profiles::table.filter(backup_profiles::company_id.eq(&law)))
                .execute(conn)?;
            diesel::delete(companies::table.filter(companies::id.eq(&law))).execute(conn)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    // The limit holds with nothing left in it: nothing, not everything.
    let (status, page) = send(&server, &client, "GET", "/v1/companies", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"], json!([]), "{page}");
    let (status, page) = send(&server, &client, "GET", "/v1/users?q=example", None).await;
    assert_eq!((status, &page["items"]), (200, &json!([])), "{page}");
    for path in [
        format!("/v1/companies/{dental}"),
        format!("/v1/users/{dana}"),
    ] {
        let (status, _) = send(&server, &client, "GET", &path, None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (_, clients) = send(
        &server,
        &owner_token(&server).await,
        "GET",
        "/v1/api-clients",
        None,
    )
    .await;
    let listed = clients["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap();
    assert_eq!(listed["companies"], json!([]), "limited to none: {listed}");
}

#[rstest]
#[actix_web::test]
async fn an_admin_never_demotes_an_owner_on_a_stale_read(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    let owner = owner_token(&server).await;
    let (email, password) = server.create_admin(Role::Admin, &[]).await;
    let admin = sign_in(&server, &email, &password).await.unwrap();
    for round in 0..25 {
        // T is an admin; an owner promotes T while an admin demotes T.
        let (status, target) = send(
            &server,
            &owner,
            "POST",
            "/v1/admins",
            Some(json!({"email": format!("t{round}@msp.example"), "name": "T", "role": "admin"})),
        )
        .await;
        assert_eq!(status, 201, "{target}");
        let t = target["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/admins/{t}");
        let promote = send(
            &server,
            &owner,
            "PATCH",
            &path,
            Some(json!({"role": "owner"})),
        );
        let demote = send(
            &server,
            &admin,
            "PATCH",
            &path,
            Some(json!({"role": "technician", "companies": [dental]})),
        );
        let ((promoted, _), (demoted, answer)) = futures_util::future::join(promote, demote).await;
        assert!(matches!(demoted, 200 | 403), "{answer}");
        let (_, now) = send(&server, &owner, "GET", &path, None).await;
        // If the promotion went through and T ends a technician, an admin
        // demoted an owner: never.
        assert!(
            !(promoted == 200 && now["role"] == "technician" && demoted == 200),
            "round {round}: an admin demoted an owner ({answer}, {now})"
        );
    }
}
