//! `/v1/companies` and the backup profile: who sees which companies, ETag
//! and If-Match (412, 428, a lost-update race), validation, counts, and
//! another partner's companies as 404.

use custodian_api::db::Backend;
use custodian_api::db::admins::Role;
use custodian_api::testing::TestServer;
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{client_token, create_client, owner_token, seed, send, sign_in};

/// A PUT of the backup profile with an optional If-Match: (status, ETag, body).
async fn put_profile(
    server: &TestServer,
    token: &str,
    company: &str,
    if_match: Option<&str>,
    body: Value,
) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .put(format!(
            "{}/v1/companies/{company}/backup-profile",
            server.base_url
        ))
        .bearer_auth(token)
        .json(&body);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, etag, response.json().await.unwrap_or(Value::Null))
}

async fn get_profile(server: &TestServer, token: &str, company: &str) -> (String, Value) {
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v1/companies/{company}/backup-profile",
            server.base_url
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    (etag, response.json().await.unwrap())
}

/// A valid X25519 public key, base64.
const KEY: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

#[rstest]
#[actix_web::test]
async fn companies_are_created_listed_read_and_renamed(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let mut ids = Vec::new();
    for name in ["Acme Dental", " Acme Law ", "Acme Bakery"] {
        let (status, company) = send(
            &server,
            &owner,
            "POST",
            "/v1/companies",
            Some(json!({"name": name})),
        )
        .await;
        assert_eq!(status, 201, "{company}");
        ids.push(company["id"].as_str().unwrap().to_owned());
    }
    let (status, page) = send(&server, &owner, "GET", "/v1/companies?limit=2", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/companies?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(rest["items"][0]["name"], "Acme Bakery");
    assert_eq!(rest["next_cursor"], Value::Null);

    let path = format!("/v1/companies/{}", ids[1]);
    let (status, company) = send(&server, &owner, "GET", &path, None).await;
    assert_eq!((status, company["name"].as_str()), (200, Some("Acme Law")));
    let (status, company) = send(
        &server,
        &owner,
        "PATCH",
        &path,
        Some(json!({"name": "Acme Legal"})),
    )
    .await;
    assert_eq!(
        (status, company["name"].as_str()),
        (200, Some("Acme Legal"))
    );
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"nmae": "x"}), "nmae"),
    ] {
        let (status, problem) = send(&server, &owner, "PATCH", &path, Some(body)).await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (422, Some(field))
        );
    }
    let (_, company) = send(&server, &owner, "GET", &path, None).await;
    assert_eq!(
        company["name"], "Acme Legal",
        "refused changes changed nothing"
    );

    // The backup profile starts off, with 90 days.
    let (etag, profile) = get_profile(&server, &owner, &ids[0]).await;
    assert_eq!(etag, "\"1\"");
    assert_eq!(
        profile,
        json!({
            "backup_all_company_items": false,
            "retention_days": 90,
            "backup_public_key": null,
            "company_items": 0,
            "company_items_backed_up": 0,
            "updated_at": profile["updated_at"],
        })
    );
}

#[rstest]
#[actix_web::test]
async fn each_caller_sees_the_companies_it_may(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    let law = seed::company(&server, &partner, "Acme Law").await;
    let other = seed::partner(&server, "Other MSP").await;
    let bakery = seed::company(&server, &other, "Their Bakery").await;
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };

    let owner = owner_token(&server).await;
    let (_, page) = send(&server, &owner, "GET", "/v1/companies", None).await;
    assert_eq!(names(&page), ["Acme Dental", "Acme Law"]);

    let (email, password) = server
        .create_admin(Role::Technician, std::slice::from_ref(&dental))
        .await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let (_, page) = send(&server, &technician, "GET", "/v1/companies", None).await;
    assert_eq!(names(&page), ["Acme Dental"]);
    let (status, _) = send(
        &server,
        &technician,
        "GET",
        &format!("/v1/companies/{dental}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        &server,
        &technician,
        "GET",
        &format!("/v1/companies/{law}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "a company not assigned to them is absent");
    let (status, _) = send(
        &server,
        &technician,
        "GET",
        &format!("/v1/companies/{dental}/backup-profile"),
        None,
    )
    .await;
    assert_eq!(
        status, 200,
        "technicians read the profile of their companies"
    );
    let (status, _, _) = put_profile(
        &server,
        &technician,
        &dental,
        Some("*"),
        json!({"backup_all_company_items": false, "retention_days": 30}),
    )
    .await;
    assert_eq!(status, 403, "but do not change it");

    let (id, secret) = create_client(
        &server,
        &["companies:read"],
        Some(std::slice::from_ref(&law)),
    )
    .await;
    let client = client_token(&server, &id, &secret).await;
    let (_, page) = send(&server, &client, "GET", "/v1/companies", None).await;
    assert_eq!(names(&page), ["Acme Law"]);
    let (status, _) = send(
        &server,
        &client,
        "GET",
        &format!("/v1/companies/{dental}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "outside its company list, absent");
    let (status, _) = send(
        &server,
        &client,
        "POST",
        "/v1/companies",
        Some(json!({"name": "Made by a script"})),
    )
    .await;
    assert_eq!(status, 403, "companies:read does not create");

    // Another partner's company: 404 exactly as an absent one, every method.
    let absent = uuid::Uuid::now_v7();
    for (method, suffix, body) in [
        ("GET", "", None),
        ("PATCH", "", Some(json!({"name": "Mine"}))),
        ("GET", "/backup-profile", None),
    ] {
        let (status, problem) = send(
            &server,
            &owner,
            method,
            &format!("/v1/companies/{bakery}{suffix}"),
            body.clone(),
        )
        .await;
        let (absent_status, absent_problem) = send(
            &server,
            &owner,
            method,
            &format!("/v1/companies/{absent}{suffix}"),
            body,
        )
        .await;
        assert_eq!((status, absent_status), (404, 404), "{method} {suffix}");
        assert_eq!(problem["detail"], absent_problem["detail"]);
    }
    let (status, _, _) = put_profile(
        &server,
        &owner,
        &bakery,
        Some("*"),
        json!({"backup_all_company_items": false, "retention_days": 30}),
    )
    .await;
    assert_eq!(status, 404);
}

#[rstest]
#[actix_web::test]
async fn the_backup_profile_changes_only_against_the_version_read(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let owner = owner_token(&server).await;
    let on =
        json!({"backup_all_company_items": true, "retention_days": 30, "backup_public_key": KEY});

    let (status, _, problem) = put_profile(&server, &owner, &company, None, on.clone()).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (428, Some("precondition_required"))
    );
    let (status, _, problem) =
        put_profile(&server, &owner, &company, Some("\"7\""), on.clone()).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (412, Some("precondition_failed"))
    );
    let (status, _, _) = put_profile(&server, &owner, &company, Some("W/\"1\""), on.clone()).await;
    assert_eq!(status, 412, "a weak tag never matches");

    let (status, etag, profile) =
        put_profile(&server, &owner, &company, Some("\"1\""), on.clone()).await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(etag.as_deref(), Some("\"2\""));
    assert_eq!(profile["backup_public_key"], KEY);
    assert_eq!(profile["backup_all_company_items"], true);
    // The old tag is stale now.
    let (status, _, _) = put_profile(&server, &owner, &company, Some("\"1\""), on.clone()).await;
    assert_eq!(status, 412);

    // Validation, against the current version: nothing changes.
    for (body, field) in [
        (
            json!({"backup_all_company_items": true, "retention_days": 30}),
            "backup_public_key",
        ),
        (
            json!({"backup_all_company_items": false, "retention_days": 0}),
            "retention_days",
        ),
        (
            json!({"backup_all_company_items": false, "retention_days": 3651}),
            "retention_days",
        ),
        (
            json!({"backup_all_company_items": true, "retention_days": 30, "backup_public_key": "bm90IGEga2V5"}),
            "backup_public_key",
        ),
        (
            json!({"backup_all_company_items": true, "retention_days": 30, "backup_public_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}),
            "backup_public_key",
        ),
        (json!({"backup_all_company_items": false}), "retention_days"),
    ] {
        let (status, _, problem) =
            put_profile(&server, &owner, &company, Some("\"2\""), body.clone()).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let (etag, profile) = get_profile(&server, &owner, &company).await;
    assert_eq!(
        (etag.as_str(), profile["retention_days"].as_i64()),
        ("\"2\"", Some(30))
    );

    // Two admins change it from the same version at once: one wins, the
    // other is told 412, and nothing is lost unseen.
    let admin = owner_token(&server).await;
    let first = put_profile(
        &server,
        &owner,
        &company,
        Some("\"2\""),
        json!({"backup_all_company_items": true, "retention_days": 60, "backup_public_key": KEY}),
    );
    let second = put_profile(
        &server,
        &admin,
        &company,
        Some("\"2\""),
        json!({"backup_all_company_items": false, "retention_days": 10}),
    );
    let ((a, _, _), (b, _, _)) = futures_util::future::join(first, second).await;
    let mut statuses = [a, b];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412]);
    let (etag, profile) = get_profile(&server, &owner, &company).await;
    assert_eq!(etag, "\"3\"");
    let winner = if a == 200 { 60 } else { 10 };
    assert_eq!(profile["retention_days"], winner);
}

#[rstest]
#[actix_web::test]
async fn the_profile_counts_items_and_backed_up_copies(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let elsewhere = seed::company(&server, &partner, "Acme Law").await;
    let dana = seed::user(&server, &partner, &company).await;
    let lou = seed::user(&server, &partner, &elsewhere).await;
    seed::item(&server, (&partner, &company, &dana), "company", true).await;
    seed::item(&server, (&partner, &company, &dana), "company", true).await;
    seed::item(&server, (&partner, &company, &dana), "company", false).await;
    seed::item(&server, (&partner, &company, &dana), "personal", false).await;
    seed::item(&server, (&partner, &elsewhere, &lou), "company", true).await;
    let owner = owner_token(&server).await;
    let (_, profile) = get_profile(&server, &owner, &company).await;
    assert_eq!(
        (
            profile["company_items"].as_i64(),
            profile["company_items_backed_up"].as_i64()
        ),
        (Some(3), Some(2))
    );
    // Turning the profile off keeps the copies.
    let (status, _, profile) = put_profile(
        &server,
        &owner,
        &company,
        Some("*"),
        json!({"backup_all_company_items": false, "retention_days": 30}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(profile["company_items_backed_up"], 2);
    assert_eq!(profile["backup_public_key"], Value::Null);
}

/// What one run of a PSA's sync did: the company's id, its users' ids, and
/// how many objects it had to create.
struct Synced {
    company: uuid::Uuid,
    users: Vec<uuid::Uuid>,
    created: usize,
}

/// A PSA's sync, as one would write it against the SDK: find the company
/// and each user by the PSA's own id, and create only what is not there.
async fn psa_sync(client: &custodian_sdk::Client, contacts: &[(&str, &str)]) -> Synced {
    use custodian_sdk::types;
    let mut created = 0;
    let found = client
        .companies_list()
        .external_id("psa-company-1001")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert!(found.items.len() <= 1, "{found:?}");
    let company = match found.items.first() {
        Some(company) => company.id,
        None => {
            created += 1;
            let made = client
                .companies_create()
                .body(types::NewCompany {
                    name: "Acme Dental".into(),
                    external_id: Some("psa-company-1001".into()),
                })
                .send()
                .await
                .expect("created");
            assert_eq!(made.status().as_u16(), 201);
            made.into_inner().id
        }
    };
    let mut users = Vec::new();
    for (email, contact) in contacts {
        let found = client
            .users_search()
            .company_id(company)
            .external_id(*contact)
            .send()
            .await
            .expect("searched")
            .into_inner();
        assert!(found.items.len() <= 1, "{found:?}");
        let user = match found.items.first() {
            Some(user) => user.id,
            None => {
                created += 1;
                client
                    .company_users_create()
                    .company_id(company)
                    .body(types::NewUserRequest {
                        email: (*email).into(),
                        name: "A Contact".into(),
                        client_kind: types::ClientKind::Desktop,
                        locale: None,
                        is_primary: None,
                        external_id: Some((*contact).into()),
                    })
                    .send()
                    .await
                    .expect("created")
                    .into_inner()
                    .id
            }
        };
        users.push(user);
    }
    Synced {
        company,
        users,
        created,
    }
}

#[rstest]
#[actix_web::test]
async fn a_psa_sync_run_twice_finds_what_it_made_by_external_id_and_changes_nothing(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (client, _) = crate::batches::sdk_admin(&server, Role::Admin, &[]).await;
    let contacts = [
        ("dana@acme-dental.example", "psa-contact-1"),
        ("lou@acme-dental.example", "psa-contact-2"),
        ("sam@acme-dental.example", "psa-contact-3"),
    ];
    let first = psa_sync(&client, &contacts).await;
    assert_eq!(first.created, 4);
    let second = psa_sync(&client, &contacts).await;
    assert_eq!(second.created, 0, "the second run makes nothing");
    assert_eq!(
        (second.company, &second.users),
        (first.company, &first.users)
    );
    let owner = owner_token(&server).await;
    let (_, companies) = send(&server, &owner, "GET", "/v1/companies", None).await;
    assert_eq!(
        companies["items"].as_array().unwrap().len(),
        1,
        "{companies}"
    );
    let company = companies["items"][0].clone();
    assert_eq!(company["external_id"], "psa-company-1001", "{company}");
    let (_, user) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/users/{}", first.users[1]),
        None,
    )
    .await;
    assert_eq!(user["external_id"], "psa-contact-2", "{user}");

    // A company's external id is the partner's once; a user's, the
    // company's once, so another company may hold the same one.
    let (status, problem) = send(
        &server,
        &owner,
        "POST",
        "/v1/companies",
        Some(json!({"name": "Acme Again", "external_id": "psa-company-1001"})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("external_id_taken")),
        "{problem}"
    );
    let again = json!({"email": "other@acme-dental.example", "name": "Other", "client_kind": "desktop", "external_id": "psa-contact-1"});
    let (status, problem) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/companies/{}/users", first.company),
        Some(again.clone()),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("external_id_taken")),
        "{problem}"
    );
    let partner = server.owner.partner_id.clone();
    let elsewhere = seed::company(&server, &partner, "Bravo Legal").await;
    let (status, made) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/companies/{elsewhere}/users"),
        Some(again),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["external_id"], "psa-contact-1");
    let (_, both) = send(
        &server,
        &owner,
        "GET",
        "/v1/users?external_id=psa-contact-1",
        None,
    )
    .await;
    assert_eq!(both["items"].as_array().unwrap().len(), 2, "{both}");

    // A technician of the other company finds neither the company nor the
    // users of the first by their external ids: as absent.
    let (email, password) = server
        .create_admin(Role::Technician, std::slice::from_ref(&elsewhere))
        .await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let (status, none) = send(
        &server,
        &technician,
        "GET",
        "/v1/companies?external_id=psa-company-1001",
        None,
    )
    .await;
    assert_eq!((status, &none["items"]), (200, &json!([])), "{none}");
    let (_, theirs) = send(
        &server,
        &technician,
        "GET",
        "/v1/users?external_id=psa-contact-1",
        None,
    )
    .await;
    let theirs = theirs["items"].as_array().unwrap().clone();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(theirs[0]["company_id"], elsewhere.as_str());

    // An external id is one line of 1 to 255 characters.
    for bad in [
        json!(""),
        json!("   "),
        json!("a\u{0}b"),
        json!("x".repeat(256)),
    ] {
        let (status, problem) = send(
            &server,
            &owner,
            "POST",
            "/v1/companies",
            Some(json!({"name": "Bad", "external_id": bad})),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
    }
    let (status, problem) = send(&server, &owner, "GET", "/v1/companies?external_id=", None).await;
    assert_eq!(status, 422, "{problem}");
}

/// A POST with an `Idempotency-Key`: (status, replayed, Location, body).
pub async fn post_with_key(
    server: &TestServer,
    token: &str,
    path: &str,
    key: &str,
    body: Value,
) -> (u16, bool, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let replayed = header("idempotent-replayed").as_deref() == Some("true");
    let location = header("location");
    (status, replayed, location, response.json().await.unwrap())
}

#[rstest]
#[actix_web::test]
async fn a_company_and_a_user_created_under_a_key_are_created_once(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let company = json!({"name": "Acme Dental", "external_id": "psa-7"});
    let (status, replayed, location, first) =
        post_with_key(&server, &owner, "/v1/companies", "sync-1", company.clone()).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(location, Some(format!("/v1/companies/{id}")));
    // The response was lost; the PSA sends the same request again.
    let (status, replayed, _, again) =
        post_with_key(&server, &owner, "/v1/companies", "sync-1", company).await;
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again, first);
    let (status, _, _, problem) = post_with_key(
        &server,
        &owner,
        "/v1/companies",
        "sync-1",
        json!({"name": "Another"}),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["errors"][0]["field"], "Idempotency-Key",
        "{problem}"
    );
    let (_, listed) = send(&server, &owner, "GET", "/v1/companies", None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    let users = format!("/v1/companies/{id}/users");
    let user =
        json!({"email": "dana@acme-dental.example", "name": "Dana", "client_kind": "desktop"});
    let (status, replayed, location, first) =
        post_with_key(&server, &owner, &users, "sync-2", user.clone()).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let user_id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(location, Some(format!("/v1/users/{user_id}")));
    // The company's id in capitals is the same company, so the same request.
    let shouted = format!("/v1/companies/{}/users", id.to_uppercase());
    let (status, replayed, _, again) =
        post_with_key(&server, &owner, &shouted, "sync-2", user).await;
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again["id"], user_id.as_str());
    let (status, _, _, problem) = post_with_key(
        &server,
        &owner,
        &users,
        "sync-2",
        json!({"email": "lou@acme-dental.example", "name": "Lou", "client_kind": "desktop"}),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let (_, listed) = send(&server, &owner, "GET", &users, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    // A key is the caller's own: another admin's "sync-1" is another request.
    let (email, password) = server.create_admin(Role::Admin, &[]).await;
    let admin = sign_in(&server, &email, &password).await.unwrap();
    let (status, replayed, _, other) = post_with_key(
        &server,
        &admin,
        "/v1/companies",
        "sync-1",
        json!({"name": "Bravo Legal"}),
    )
    .await;
    assert_eq!((status, replayed), (201, false), "{other}");
    assert_ne!(other["id"], id.as_str());
}

#[rstest]
#[actix_web::test]
async fn a_companys_external_id_is_set_moved_and_removed(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    let law = seed::company(&server, &partner, "Acme Law").await;
    let owner = owner_token(&server).await;
    let patch = |company: String, body: Value| {
        let (server, owner) = (&server, &owner);
        async move {
            send(
                server,
                owner,
                "PATCH",
                &format!("/v1/companies/{company}"),
                Some(body),
            )
            .await
        }
    };
    let (status, body) = patch(dental.clone(), json!({"external_id": "psa-1"})).await;
    assert_eq!(
        (status, &body["external_id"]),
        (200, &json!("psa-1")),
        "{body}"
    );
    let (status, problem) = patch(law.clone(), json!({"external_id": "psa-1"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("external_id_taken"))
    );
    // null removes it, and the name stays.
    let (status, body) = patch(dental.clone(), json!({"external_id": null})).await;
    assert_eq!(
        (status, &body["external_id"], &body["name"]),
        (200, &Value::Null, &json!("Acme Dental"))
    );
    let (status, _) = patch(law.clone(), json!({"external_id": "psa-1"})).await;
    assert_eq!(status, 200);
    let (_, found) = send(
        &server,
        &owner,
        "GET",
        "/v1/companies?external_id=psa-1",
        None,
    )
    .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["id"], json!(law));
}

#[rstest]
#[actix_web::test]
async fn an_admin_and_an_api_client_created_under_a_key_answer_again_and_keep_a_secret_sealed(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    // A key is the caller's, whatever the route: each creation has its own.
    for (path, body, other, secret) in [
        (
            "/v1/admins",
            json!({"email": "ann@msp.example", "name": "Ann", "role": "admin"}),
            json!({"email": "bob@msp.example", "name": "Bob", "role": "admin"}),
            None,
        ),
        (
            "/v1/api-clients",
            json!({"name": "PSA", "scopes": ["users:read"]}),
            json!({"name": "RMM", "scopes": ["users:read"]}),
            Some("/client_secret"),
        ),
    ] {
        let (status, replayed, location, first) =
            post_with_key(&server, &owner, path, path, body.clone()).await;
        assert_eq!((status, replayed), (201, false), "{first}");
        assert!(location.is_some(), "{path}");
        // The answer was lost: the retry gets the same object and secret.
        let (status, replayed, _, again) = post_with_key(&server, &owner, path, path, body).await;
        assert_eq!((status, replayed), (201, true), "{again}");
        assert_eq!(again, first, "{path}");
        if let Some(secret) = secret {
            let shown = first.pointer(secret).and_then(Value::as_str).unwrap();
            // Binary columns dump as hex: the secret is in none, as text or
            // bytes.
            let hex: String = shown.bytes().map(|b| format!("{b:02x}")).collect();
            let dump = crate::support::dump_database(&server).await;
            for form in [shown.to_owned(), hex.clone(), hex.to_uppercase()] {
                assert!(!dump.contains(&form), "{path}: the kept answer is sealed");
            }
        }
        let (status, _, _, problem) = post_with_key(&server, &owner, path, path, other).await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (422, Some("Idempotency-Key")),
            "{path}: another request under the key"
        );
    }
    let (_, admins) = send(&server, &owner, "GET", "/v1/admins", None).await;
    let anns = admins["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["email"] == "ann@msp.example")
        .count();
    assert_eq!(anns, 1, "{admins}");
    // The retry invited nobody again.
    let invited =
        crate::invitations::messages(&server, "ann@msp.example", "admin_invitation").await;
    assert_eq!(invited.len(), 1, "{invited:?}");
}

/// The SDK's problem, from a request that must fail: (status, problem).
async fn refused<T: std::fmt::Debug>(
    sent: Result<
        custodian_sdk::ResponseValue<T>,
        custodian_sdk::Error<custodian_sdk::types::Problem>,
    >,
) -> (u16, custodian_sdk::types::Problem) {
    match sent {
        Err(custodian_sdk::Error::ErrorResponse(problem)) => {
            (problem.status().as_u16(), problem.into_inner())
        }
        other => panic!("expected a problem, got {other:?}"),
    }
}

#[rstest]
#[actix_web::test]
async fn a_company_is_retired_with_its_users_offboarded_and_goes_with_its_last_backup_copy(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let (company, dana, account) = crate::support::signed_in_user(&server).await;
    let lou = seed::user(&server, &partner, &company).await;
    seed::item(
        &server,
        (partner.as_str(), company.as_str(), dana.as_str()),
        "personal",
        false,
    )
    .await;
    let kept = seed::item(
        &server,
        (partner.as_str(), company.as_str(), dana.as_str()),
        "company",
        true,
    )
    .await
    .unwrap();
    seed::item(
        &server,
        (partner.as_str(), company.as_str(), dana.as_str()),
        "company",
        false,
    )
    .await;
    seed::item(
        &server,
        (partner.as_str(), company.as_str(), lou.as_str()),
        "company",
        true,
    )
    .await
    .unwrap();
    let owner = owner_token(&server).await;
    let (status, _) = send(
        &server,
        &owner,
        "PATCH",
        &format!("/v1/companies/{company}"),
        Some(json!({"external_id": "psa-company-9"})),
    )
    .await;
    assert_eq!(status, 200);
    let (admin, _) = crate::batches::sdk_admin(&server, Role::Admin, &[]).await;
    let id: uuid::Uuid = company.parse().unwrap();
    let retire = || admin.company_retire().company_id(id);

    // A company with users is not retired unless they go with it.
    let (status, problem) = refused(retire().send().await).await;
    assert_eq!((status, problem.code.as_str()), (409, "company_has_users"));
    // Nor while company items would be lost unacknowledged: the totals say
    // what, and nothing changes.
    let (status, problem) = refused(retire().offboard_users(true).send().await).await;
    assert_eq!(
        (status, problem.code.as_str()),
        (409, "company_items_not_backed_up")
    );
    let vault = problem.vault.expect("the totals");
    assert_eq!(
        (
            vault.personal_items,
            vault.company_items,
            vault.company_items_not_backed_up
        ),
        (1, 3, 1)
    );
    for user in [&dana, &lou] {
        let (status, _) = send(&server, &owner, "GET", &format!("/v1/users/{user}"), None).await;
        assert_eq!(status, 200, "nothing changed");
    }

    let retired = retire()
        .offboard_users(true)
        .acknowledge_company_data_loss(true)
        .send()
        .await
        .expect("retired")
        .into_inner();
    assert_eq!(
        serde_json::to_value(&retired).unwrap()["users_offboarded"],
        2
    );
    assert_eq!(
        (
            retired.personal_items_purged,
            retired.company_items_purged,
            retired.company_items_preserved
        ),
        (1, 1, 2)
    );
    assert_eq!(
        retired.company.status,
        custodian_sdk::types::CompanyStatus::Retired
    );
    assert!(retired.company.retired_at.is_some());
    for user in [&dana, &lou] {
        let (status, _) = send(&server, &owner, "GET", &format!("/v1/users/{user}"), None).await;
        assert_eq!(status, 404, "offboarded with the company");
    }
    let (status, _) = send(&server, &account, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(status, 401, "their tokens are refused");
    // The backed-up items live on as copies, readable until retention ends.
    let (status, copies) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/companies/{company}/backups"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{copies}");
    let copies = copies["items"].as_array().unwrap().clone();
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert!(copies.iter().all(|c| c["expires_at"].is_string()));
    assert!(copies.iter().any(|c| c["id"] == json!(kept)));

    // Still found by id; out of the default list, in the retired one; its
    // external id free for a new company.
    let found = admin.company_get().company_id(id).send().await.unwrap();
    assert_eq!(found.status, custodian_sdk::types::CompanyStatus::Retired);
    let active = admin.companies_list().send().await.unwrap().into_inner();
    assert!(active.items.iter().all(|c| c.id != id), "{active:?}");
    let by_key = admin
        .companies_list()
        .external_id("psa-company-9")
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(by_key.items.is_empty(), "a sync does not find it");
    let listed = admin
        .companies_list()
        .status(custodian_sdk::types::CompanyStatus::Retired)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![id]
    );
    let (status, successor) = send(
        &server,
        &owner,
        "POST",
        "/v1/companies",
        Some(json!({"name": "Acme Dental", "external_id": "psa-company-9"})),
    )
    .await;
    assert_eq!(status, 201, "{successor}");

    // It takes no more users or changes.
    for (method, path, body) in [
        (
            "PATCH",
            format!("/v1/companies/{company}"),
            json!({"name": "Acme"}),
        ),
        (
            "POST",
            format!("/v1/companies/{company}/users"),
            json!({"email": "new@acme-dental.example", "name": "New", "client_kind": "desktop"}),
        ),
    ] {
        let (status, problem) = send(&server, &owner, method, &path, Some(body)).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (409, Some("company_retired")),
            "{method} {path}"
        );
    }
    let (status, _, problem) = put_profile(
        &server,
        &owner,
        &company,
        Some("*"),
        json!({"backup_all_company_items": false, "retention_days": 30}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("company_retired"))
    );

    // Retiring it again changes nothing.
    let again = retire().send().await.expect("retired already").into_inner();
    assert_eq!(
        (
            serde_json::to_value(&again).unwrap()["users_offboarded"].clone(),
            again.company_items_preserved,
            again.company.id,
            again.company.retired_at.map(|at| at.0),
        ),
        (json!(0), 0, id, retired.company.retired_at.map(|at| at.0))
    );
    let (_, events) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=retireCompany",
        None,
    )
    .await;
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{events}");
    assert_eq!(
        (
            &items[0]["target_id"],
            &items[0]["details"]["users_offboarded"],
            &items[0]["details"]["company_items_preserved"],
            &items[0]["details"]["acknowledged_company_data_loss"],
            &items[0]["details"]["backup_copies_retained"],
        ),
        (
            &json!(company),
            &json!(2),
            &json!(2),
            &json!(true),
            &json!(2)
        ),
        "{events}"
    );

    // The sweep removes it once its last copy is gone, and not before.
    let pool = server.database.pool();
    let sweep =
        || custodian_api::retention::remove_retired_companies(&pool, &server.clock, &server.keys);
    assert_eq!(sweep().await.unwrap(), 0, "its copies are still kept");
    server.clock.advance(chrono::Duration::days(91));
    assert_eq!(
        custodian_api::retention::sweep(&pool, &server.clock)
            .await
            .unwrap(),
        2
    );
    assert_eq!(sweep().await.unwrap(), 1);
    let owner = owner_token(&server).await;
    let (status, _) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/companies/{company}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "removed");
    let (_, events) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=removeRetiredCompany",
        None,
    )
    .await;
    assert_eq!(
        (
            &events["items"][0]["target_id"],
            &events["items"][0]["actor_kind"]
        ),
        (&json!(company), &json!("system")),
        "{events}"
    );
}

#[rstest]
#[actix_web::test]
async fn retiring_a_company_is_for_admins_and_every_users_offboarding_is_decided(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let other = seed::company(&server, &partner, "Acme Law").await;
    let user = seed::user(&server, &partner, &company).await;
    seed::item(&server, (&partner, &company, &user), "company", true).await;
    let retire = format!("/v1/companies/{company}?offboard_users=true");

    // A technician may not retire even an assigned company; outside their
    // companies it is absent.
    let (email, password) = server
        .create_admin(Role::Technician, std::slice::from_ref(&company))
        .await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let (status, problem) = send(&server, &technician, "DELETE", &retire, None).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")));
    let (status, _) = send(
        &server,
        &technician,
        "DELETE",
        &format!("/v1/companies/{other}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // An API client needs companies:write to retire, users:write to
    // offboard the users with it, and the right to purge (resets:write).
    let (id, secret) = create_client(&server, &["companies:read"], None).await;
    let reader = client_token(&server, &id, &secret).await;
    let (status, _) = send(&server, &reader, "DELETE", &retire, None).await;
    assert_eq!(status, 403);
    let (id, secret) = create_client(&server, &["companies:write"], None).await;
    let retirer = client_token(&server, &id, &secret).await;
    let (status, problem) = send(&server, &retirer, "DELETE", &retire, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("forbidden")),
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("offboardUser"),
        "{problem}"
    );
    let (id, secret) = create_client(&server, &["companies:write", "users:write"], None).await;
    let writer = client_token(&server, &id, &secret).await;
    let (status, problem) = send(&server, &writer, "DELETE", &retire, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("forbidden")),
        "{problem}"
    );
    let owner = owner_token(&server).await;
    let (status, _) = send(&server, &owner, "GET", &format!("/v1/users/{user}"), None).await;
    assert_eq!(status, 200, "a refusal changes nothing");
    let (_, events) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=purgeVault",
        None,
    )
    .await;
    assert_eq!(events["items"][0]["decision"], "deny", "{events}");
    // An empty company the client may retire.
    let (status, body) = send(
        &server,
        &writer,
        "DELETE",
        &format!("/v1/companies/{other}"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["company"]["status"].as_str()),
        (200, Some("retired")),
        "{body}"
    );

    let (_, events) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=offboardUser",
        None,
    )
    .await;
    let denials: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["decision"] == "deny")
        .collect();
    assert_eq!(denials.len(), 1, "the denied offboarding, once: {events}");

    // Another partner's company is absent, and stays as it was; so is a
    // company that does not exist.
    let theirs_partner = seed::partner(&server, "Other MSP").await;
    let theirs = seed::company(&server, &theirs_partner, "Theirs").await;
    for target in [theirs.clone(), uuid::Uuid::now_v7().to_string()] {
        let (status, problem) = send(
            &server,
            &owner,
            "DELETE",
            &format!("/v1/companies/{target}"),
            None,
        )
        .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (404, Some("not_found")),
            "{problem}"
        );
    }
    let (partner_id, company_id) = (
        custodian_api::ids::PartnerId::parse(&theirs_partner).unwrap(),
        custodian_api::ids::CompanyId::parse(&theirs).unwrap(),
    );
    let still = server
        .database
        .pool()
        .run(move |conn| custodian_api::db::companies::find(conn, partner_id, company_id))
        .await
        .unwrap()
        .expect("their company");
    assert!(still.retired_at.is_none());
}

/// On PostgreSQL a retirement holds the company's row until it commits; a
/// user's creation (or a profile change) reading the company meanwhile
/// waits for it and then sees it retired, never the state before.
#[test]
fn a_creation_racing_a_retirement_waits_for_it_and_sees_it() {
    use custodian_api::db::{companies, migrations, partners};
    use custodian_api::testing::TestDatabase;
    use diesel::Connection;
    let Some(database) = TestDatabase::create(Backend::Postgres) else {
        return;
    };
    let mut retiring = database.connect();
    migrations::run_pending(&mut retiring).unwrap();
    let now = chrono::Utc::now().naive_utc();
    let partner = partners::Partner::new("Acme MSP", now);
    partners::insert(&mut retiring, &partner).unwrap();
    let company = companies::Company {
        id: custodian_api::ids::CompanyId::new(),
        partner_id: partner.id,
        name: "Acme Dental".into(),
        created_at: now,
        updated_at: now,
        external_id: None,
        retired_at: None,
    };
    companies::insert(&mut retiring, &company).unwrap();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let mut creating = database.connect();
    let id = company.id;
    let creation = std::thread::spawn(move || {
        locked_rx.recv().unwrap();
        creating
            .transaction(|conn| companies::is_retired_shared(conn, id))
            .unwrap()
    });
    retiring
        .transaction(|conn| {
            companies::lock(conn, partner.id, id)?.expect("the company");
            companies::retire(conn, id, now)?;
            locked_tx.send(()).unwrap();
            // The creation is now waiting on the row, or about to.
            std::thread::sleep(std::time::Duration::from_millis(200));
            Ok::<_, custodian_api::db::DbError>(())
        })
        .unwrap();
    assert!(creation.join().unwrap(), "the creation saw the retirement");
}
