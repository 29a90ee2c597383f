//! Users: created in a company (email unique in the company, one primary),
//! read, listed and located by email or name, within what the caller may
//! see; another partner's users are 404.

use custodian_api::db::Backend;
use custodian_api::db::admins::Role;
use custodian_api::testing::TestServer;
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{client_token, create_client, owner_token, seed, send, sign_in};

fn emails(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

async fn add(server: &TestServer, token: &str, company: &str, body: Value) -> (u16, Value) {
    send(
        server,
        token,
        "POST",
        &format!("/v1/companies/{company}/users"),
        Some(body),
    )
    .await
}

#[rstest]
#[actix_web::test]
async fn users_are_added_once_per_email_with_one_primary(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    let law = seed::company(&server, &partner, "Acme Law").await;
    let owner = owner_token(&server).await;
    let (status, dana) = add(
        &server,
        &owner,
        &dental,
        json!({"email": " Dana@Acme-Dental.example ", "name": "Dana Smith", "client_kind": "desktop", "is_primary": true}),
    )
    .await;
    assert_eq!(status, 201, "{dana}");
    assert_eq!(dana["email"], "dana@acme-dental.example");
    assert_eq!(
        (
            dana["locale"].as_str(),
            dana["status"].as_str(),
            dana["has_recovery_key"].as_bool(),
            dana["company_id"].as_str()
        ),
        (
            Some("en"),
            Some("invited"),
            Some(false),
            Some(dental.as_str())
        )
    );
    let (status, problem) = add(
        &server,
        &owner,
        &dental,
        json!({"email": "DANA@acme-dental.example", "name": "Another Dana", "client_kind": "webapp"}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("email_taken"))
    );
    // The same person may be a user at another company too.
    let (status, other) = add(
        &server,
        &owner,
        &law,
        json!({"email": "DANA@acme-dental.example", "name": "Dana at the firm", "client_kind": "webapp"}),
    )
    .await;
    assert_eq!(status, 201, "{other}");
    let (status, problem) = add(
        &server,
        &owner,
        &dental,
        json!({"email": "boss@acme-dental.example", "name": "Boss", "client_kind": "webapp", "is_primary": true}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("primary_user_exists"))
    );
    for (body, field) in [
        (
            json!({"email": "x@y.example", "name": "X", "client_kind": "mobile"}),
            "client_kind",
        ),
        (
            json!({"email": "x@y.example", "name": "X", "client_kind": "desktop", "locale": "pt"}),
            "locale",
        ),
        (
            json!({"email": "not an email", "name": "X", "client_kind": "desktop"}),
            "email",
        ),
        (
            json!({"email": "x@y.example", "name": " ", "client_kind": "desktop"}),
            "name",
        ),
    ] {
        let (status, problem) = add(&server, &owner, &dental, body.clone()).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let (status, page) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/companies/{dental}/users"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        emails(&page),
        ["dana@acme-dental.example"],
        "refusals added nobody"
    );
    let id = dana["id"].as_str().unwrap();
    let (status, user) = send(&server, &owner, "GET", &format!("/v1/users/{id}"), None).await;
    assert_eq!((status, user["name"].as_str()), (200, Some("Dana Smith")));
}

#[rstest]
#[actix_web::test]
async fn users_are_located_by_email_or_name_within_what_the_caller_sees(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    let law = seed::company(&server, &partner, "Acme Law").await;
    let owner = owner_token(&server).await;
    let mut ids = Vec::new();
    for (company, email, name) in [
        (&dental, "dana@acme-dental.example", "Dana Smith"),
        (&dental, "d.ortiz@acme-dental.example", "Daniel Ortiz"),
        (&law, "lou@acme-law.example", "Lou Law"),
        (&law, "100%@acme-law.example", "Percy Cent"),
    ] {
        let (status, user) = add(
            &server,
            &owner,
            company,
            json!({"email": email, "name": name, "client_kind": "webapp"}),
        )
        .await;
        assert_eq!(status, 201, "{user}");
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    let find = |token: &str, query: &str| {
        let path = format!("/v1/users{query}");
        let token = token.to_owned();
        let server = &server;
        async move { send(server, &token, "GET", &path, None).await }
    };
    let (status, page) = find(&owner, "?q=DAN").await;
    assert_eq!(status, 200);
    assert_eq!(
        emails(&page),
        ["dana@acme-dental.example", "d.ortiz@acme-dental.example"]
    );
    let (_, page) = find(&owner, "?q=ortiz").await;
    assert_eq!(emails(&page), ["d.ortiz@acme-dental.example"], "by name");
    let (_, page) = find(&owner, "?q=acme-law").await;
    assert_eq!(
        emails(&page),
        ["lou@acme-law.example", "100%@acme-law.example"]
    );
    let (_, page) = find(&owner, "?q=%25").await;
    assert_eq!(
        emails(&page),
        ["100%@acme-law.example"],
        "% is a character, not a wildcard"
    );
    let (_, page) = find(&owner, "?q=_").await;
    assert!(emails(&page).is_empty(), "_ too");
    let (_, page) = find(&owner, &format!("?company_id={law}")).await;
    assert_eq!(emails(&page).len(), 2);
    let (_, page) = find(&owner, "?limit=3").await;
    assert_eq!(emails(&page).len(), 3);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = find(&owner, &format!("?limit=3&cursor={cursor}")).await;
    assert_eq!(emails(&rest), ["100%@acme-law.example"]);
    for (query, field) in [
        ("?q=", "q"),
        // Control characters: the email and the name are searched as one
        // text, a line apart, so a line break could match across the two.
        ("?q=example%0Adana", "q"),
        ("?q=a%09b", "q"),
        ("?limit=201", "limit"),
        ("?cursor=nope", "cursor"),
        ("?qq=a", "qq"),
    ] {
        let (status, problem) = find(&owner, query).await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (422, Some(field)),
            "{query}"
        );
    }

    // A technician of Acme Dental finds Acme Dental's users only.
    let (email, password) = server
        .create_admin(Role::Technician, std::slice::from_ref(&dental))
        .await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let (_, page) = find(&technician, "?q=acme").await;
    assert_eq!(emails(&page).len(), 2);
    let (_, page) = find(&technician, &format!("?company_id={law}")).await;
    assert!(
        emails(&page).is_empty(),
        "a company not theirs shows no one"
    );
    let (status, _) = send(
        &server,
        &technician,
        "GET",
        &format!("/v1/users/{}", ids[2]),
        None,
    )
    .await;
    assert_eq!(status, 404, "outside their companies, a user is absent");
    let (status, _) = send(
        &server,
        &technician,
        "GET",
        &format!("/v1/companies/{law}/users"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = add(
        &server,
        &technician,
        &dental,
        json!({"email": "new@acme-dental.example", "name": "New", "client_kind": "desktop"}),
    )
    .await;
    assert_eq!(status, 201, "technicians add users to their companies");

    // A client limited to Acme Law, with users:read, sees Acme Law's.
    let (id, secret) =
        create_client(&server, &["users:read"], Some(std::slice::from_ref(&law))).await;
    let client = client_token(&server, &id, &secret).await;
    let (_, page) = find(&client, "?q=acme").await;
    assert_eq!(emails(&page).len(), 2);
    let (status, _) = send(
        &server,
        &client,
        "GET",
        &format!("/v1/users/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = add(
        &server,
        &client,
        &law,
        json!({"email": "script@acme-law.example", "name": "Script", "client_kind": "desktop"}),
    )
    .await;
    assert_eq!(status, 403, "users:read does not add users");
}

#[rstest]
#[actix_web::test]
async fn another_partners_users_are_not_found(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let other = seed::partner(&server, "Other MSP").await;
    let bakery = seed::company(&server, &other, "Their Bakery").await;
    let bea = seed::user(&server, &other, &bakery).await;
    let owner = owner_token(&server).await;
    let absent = uuid::Uuid::now_v7();
    let (status, problem) = send(&server, &owner, "GET", &format!("/v1/users/{bea}"), None).await;
    let (absent_status, absent_problem) =
        send(&server, &owner, "GET", &format!("/v1/users/{absent}"), None).await;
    assert_eq!((status, absent_status), (404, 404));
    assert_eq!(problem["detail"], absent_problem["detail"]);
    for (method, body) in [
        ("GET", None),
        (
            "POST",
            Some(json!({"email": "x@y.example", "name": "X", "client_kind": "desktop"})),
        ),
    ] {
        let (status, _) = send(
            &server,
            &owner,
            method,
            &format!("/v1/companies/{bakery}/users"),
            body,
        )
        .await;
        assert_eq!(status, 404, "{method}");
    }
    let (_, page) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/users?company_id={bakery}"),
        None,
    )
    .await;
    assert!(emails(&page).is_empty());
    let (_, page) = send(&server, &owner, "GET", "/v1/users", None).await;
    assert!(emails(&page).is_empty(), "their users are not among ours");
}

#[rstest]
#[actix_web::test]
async fn text_with_an_at_sign_is_the_start_of_an_email(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let dental = seed::company(&server, &partner, "Acme Dental").await;
    let owner = owner_token(&server).await;
    for (email, name) in [
        ("dana@acme-dental.example", "Dana Smith"),
        ("adana@acme-dental.example", "A. Dana"),
        ("dana@other.example", "Dana Other"),
    ] {
        let (status, _) = add(
            &server,
            &owner,
            &dental,
            json!({"email": email, "name": name, "client_kind": "desktop"}),
        )
        .await;
        assert_eq!(status, 201);
    }
    let find = |q: &'static str| {
        let server = &server;
        let owner = owner.clone();
        async move {
            emails(
                &send(server, &owner, "GET", &format!("/v1/users?q={q}"), None)
                    .await
                    .1,
            )
        }
    };
    assert_eq!(
        find("DANA@").await,
        ["dana@acme-dental.example", "dana@other.example"],
        "a prefix: not adana@"
    );
    assert_eq!(
        find("dana@acme-dental.example").await,
        ["dana@acme-dental.example"]
    );
    assert_eq!(
        find("%40acme-dental").await,
        ["dana@acme-dental.example", "adana@acme-dental.example"],
        "a leading @ is found anywhere"
    );
    assert_eq!(
        find("dana").await.len(),
        3,
        "without @: anywhere, names too"
    );
}

/// `PATCH /v1/users/{user}` with `If-Match: etag` when given: (status,
/// the new ETag, body).
async fn patch(
    server: &TestServer,
    token: &str,
    user: &str,
    etag: Option<&str>,
    body: Value,
) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .patch(format!("{}/v1/users/{user}", server.base_url))
        .bearer_auth(token)
        .json(&body);
    if let Some(etag) = etag {
        request = request.header("If-Match", etag);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, etag, response.json().await.unwrap_or(Value::Null))
}

/// The user's ETag, as `GET /v1/users/{user}` answers it.
async fn etag_of(server: &TestServer, token: &str, user: &str) -> String {
    let response = reqwest::Client::new()
        .get(format!("{}/v1/users/{user}", server.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.headers()["etag"].to_str().unwrap().to_owned()
}

#[rstest]
#[actix_web::test]
async fn a_user_is_changed_only_against_the_version_read(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let (company, dana, _) = crate::support::signed_in_user(&server).await;
    let lou = seed::user(&server, &partner, &company).await;
    let owner = owner_token(&server).await;
    let read = etag_of(&server, &owner, &dana).await;
    let change = json!({"name": "Dana Q. Smith", "locale": "de", "client_kind": "webapp",
        "external_id": "dir-7"});

    let (status, _, problem) = patch(&server, &owner, &dana, None, change.clone()).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (428, Some("precondition_required"))
    );
    let (status, _, _) = patch(&server, &owner, &dana, Some("\"999\""), change.clone()).await;
    assert_eq!(status, 412);
    let (status, _, problem) =
        patch(&server, &owner, &dana, Some(&read), json!({"locale": "xx"})).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("locale"))
    );

    let (status, changed, body) = patch(&server, &owner, &dana, Some(&read), change.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["name"],
            &body["locale"],
            &body["client_kind"],
            &body["external_id"]
        ),
        (
            &json!("Dana Q. Smith"),
            &json!("de"),
            &json!("webapp"),
            &json!("dir-7")
        )
    );
    let changed = changed.expect("an ETag");
    assert_ne!(changed, read);
    assert_eq!(etag_of(&server, &owner, &dana).await, changed);
    // Whoever still holds the version read before is refused.
    let (status, _, _) = patch(&server, &owner, &dana, Some(&read), json!({"name": "X"})).await;
    assert_eq!(status, 412, "a lost update is refused");
    // null removes the external id; a field left out stays.
    let (status, _, body) = patch(
        &server,
        &owner,
        &dana,
        Some(&changed),
        json!({"external_id": null}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["external_id"], &body["name"]),
        (&Value::Null, &json!("Dana Q. Smith"))
    );

    // One primary user per company, and an external id once per company.
    let lou_etag = etag_of(&server, &owner, &lou).await;
    let (status, lou_etag, body) = patch(
        &server,
        &owner,
        &lou,
        Some(&lou_etag),
        json!({"is_primary": true, "external_id": "dir-8"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let dana_etag = etag_of(&server, &owner, &dana).await;
    let (status, _, problem) = patch(
        &server,
        &owner,
        &dana,
        Some(&dana_etag),
        json!({"is_primary": true}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("primary_user_exists"))
    );
    let (status, _, problem) = patch(
        &server,
        &owner,
        &dana,
        Some(&dana_etag),
        json!({"external_id": "dir-8"}),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("external_id_taken"))
    );
    let (status, _, _) = patch(
        &server,
        &owner,
        &lou,
        lou_etag.as_deref(),
        json!({"is_primary": true}),
    )
    .await;
    assert_eq!(status, 200, "the primary user stays primary");

    // A technician of another company finds nobody to change.
    let elsewhere = seed::company(&server, &partner, "Acme Law").await;
    let (email, password) = server.create_admin(Role::Technician, &[elsewhere]).await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let (status, _, _) = patch(&server, &technician, &dana, Some("*"), json!({"name": "X"})).await;
    assert_eq!(status, 404);

    let (_, events) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=updateUser",
        None,
    )
    .await;
    let allowed = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["decision"] == "allow")
        .count();
    assert_eq!(allowed, 4, "{events}");
}

#[rstest]
#[actix_web::test]
async fn a_disabled_user_holds_nothing_that_works_until_enabled(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let (_, dana, account) = crate::support::signed_in_user(&server).await;
    let email = format!("{dana}@example.com");
    let owner = owner_token(&server).await;
    let vault = |token: String| {
        let server = &server;
        async move {
            send(server, &token, "GET", "/v1/account/vault/items", None)
                .await
                .0
        }
    };
    assert_eq!(vault(account.clone()).await, 200);

    let disable = format!("/v1/users/{dana}/disable");
    let (status, body) = send(&server, &owner, "POST", &disable, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("disabled")));
    assert_eq!(
        vault(account.clone()).await,
        401,
        "their token is refused at once"
    );
    let (status, _) =
        crate::support::account_sign_in(&server, &partner, &email, "a-derived-key").await;
    assert_eq!(status, 401, "they cannot sign in");
    let (status, problem) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/users/{dana}/master-password-resets"),
        Some(json!({"confirmation": "Yes"})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("user_disabled"))
    );
    // Disabling again changes nothing, and is not audited again.
    let (status, body) = send(&server, &owner, "POST", &disable, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("disabled")));

    let (status, body) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/users/{dana}/enable"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("active")),
        "{body}"
    );
    assert_eq!(vault(account).await, 401, "tokens from before stay refused");
    let (status, token) =
        crate::support::account_sign_in(&server, &partner, &email, "a-derived-key").await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(
        vault(token["access_token"].as_str().unwrap().to_owned()).await,
        200
    );

    for (action, count) in [("disableUser", 1), ("enableUser", 1)] {
        let (_, events) = send(
            &server,
            &owner,
            "GET",
            &format!("/v1/audit-events?action={action}"),
            None,
        )
        .await;
        let items = events["items"].as_array().unwrap();
        assert_eq!(items.len(), count, "{action}: {events}");
        assert_eq!(items[0]["target_id"], dana);
    }
}

#[rstest]
#[actix_web::test]
async fn an_offboarded_user_leaves_with_their_vault_under_the_resets_rules(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let (company, dana, account) = crate::support::signed_in_user(&server).await;
    let at = (partner.as_str(), company.as_str(), dana.as_str());
    seed::item(&server, at, "personal", false).await;
    let copy = seed::item(&server, at, "company", true).await.unwrap();
    seed::item(&server, at, "company", false).await;
    let owner = owner_token(&server).await;

    let (status, preview) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/users/{dana}/offboarding-preview"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (
            &preview["personal_items"],
            &preview["company_items"],
            &preview["company_items_not_backed_up"],
            &preview["acknowledgement_required"]
        ),
        (&json!(1), &json!(2), &json!(1), &json!(true))
    );

    // An API client without the resets scope may not purge a vault.
    let (id, secret) = crate::support::create_client(&server, &["users:write"], None).await;
    let client = crate::support::client_token(&server, &id, &secret).await;
    let offboard = format!("/v1/users/{dana}?acknowledge_company_data_loss=true");
    let (status, problem) = send(&server, &client, "DELETE", &offboard, None).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")));
    // Company items without a backup are lost only when acknowledged.
    let path = format!("/v1/users/{dana}");
    let (status, problem) = send(&server, &owner, "DELETE", &path, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("company_items_not_backed_up"))
    );
    let (status, _) = send(&server, &owner, "GET", &path, None).await;
    assert_eq!(status, 200, "nothing changed");

    let (status, gone) = send(&server, &owner, "DELETE", &offboard, None).await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(
        (
            &gone["personal_items_purged"],
            &gone["company_items_purged"],
            &gone["company_items_preserved"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    for (method, path) in [("GET", &path), ("DELETE", &offboard)] {
        let (status, _) = send(&server, &owner, method, path, None).await;
        assert_eq!(status, 404, "{method} after offboarding");
    }
    let (status, _) = send(&server, &account, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(status, 401, "their token is refused");
    // The backed-up company item lives on as its copy, aging by retention.
    let (_, copy_read) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/companies/{company}/backups/{copy}"),
        None,
    )
    .await;
    assert!(copy_read["expires_at"].is_string(), "{copy_read}");

    let (_, events) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=offboardUser",
        None,
    )
    .await;
    let event = &events["items"][0];
    assert_eq!(
        (
            &event["target_id"],
            &event["details"]["company_items_preserved"]
        ),
        (&json!(dana), &json!(1)),
        "{events}"
    );
}

#[rstest]
#[actix_web::test]
async fn offboarding_an_invited_user_withdraws_their_unsent_invitation(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let owner = owner_token(&server).await;
    server.mail.refuse(true);
    let (status, lou) = add(
        &server,
        &owner,
        &company,
        json!({"email": "lou@acme-dental.example", "name": "Lou", "client_kind": "webapp"}),
    )
    .await;
    assert_eq!(status, 201, "{lou}");
    let lou = lou["id"].as_str().unwrap();
    let (status, _) = send(&server, &owner, "DELETE", &format!("/v1/users/{lou}"), None).await;
    assert_eq!(status, 200);
    let (_, events) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=offboardUser",
        None,
    )
    .await;
    assert_eq!(
        events["items"][0]["details"]["emails_withdrawn"], 1,
        "{events}"
    );
    let rows = crate::invitations::invitations(&server, "lou@acme-dental.example").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "dead", "withdrawn before it was ever sent");
    server.mail.refuse(false);
    server.clock.advance(chrono::Duration::minutes(10));
    server.outbox.wake();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        server.mail.received().is_empty(),
        "the withdrawn invitation never leaves"
    );
}

#[rstest]
#[actix_web::test]
async fn a_user_disabled_while_a_reset_waits_on_them_comes_back_to_it(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (_, dana, _) = crate::support::signed_in_user(&server).await;
    let owner = owner_token(&server).await;
    let (status, reset) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/users/{dana}/master-password-resets"),
        Some(json!({"confirmation": "Yes"})),
    )
    .await;
    assert_eq!(status, 201, "{reset}");
    let (_, body) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/users/{dana}/disable"),
        None,
    )
    .await;
    assert_eq!(body["status"], "disabled");
    // The reset's secret expires while the user is disabled.
    server.clock.advance(chrono::Duration::days(4));
    // The sweep runs (as the server's would) and marks it expired.
    let now = server.clock.now();
    let expired = server
        .database
        .pool()
        .run(move |conn| custodian_api::db::resets::expire_due(conn, now))
        .await
        .unwrap();
    assert_eq!(expired, 1);
    let owner = owner_token(&server).await;
    let (status, body) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/users/{dana}/enable"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("reset_pending")),
        "reset, with no master password yet: not invited, not active"
    );
    // So the reset can be issued again.
    let (status, reissued) = send(
        &server,
        &owner,
        "POST",
        &format!(
            "/v1/master-password-resets/{}/reissue",
            reset["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{reissued}");
}
