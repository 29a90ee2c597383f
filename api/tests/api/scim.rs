//! SCIM 2.0 provisioning: an admin makes a company's SCIM token through the
//! SDK, and a directory provisions the company's users with it. The
//! requests are Microsoft Entra ID's own, as its SCIM documentation
//! publishes the sequence (look up, create, read, change, deactivate,
//! delete), with a work address as `userName`.

use custodian_api::db::Backend;
use custodian_api::db::admins::Role;
use custodian_api::testing::TestServer;
use custodian_sdk::types;
use rstest::rstest;
use serde_json::{Value, json};

use crate::batches::sdk_admin;
use crate::resets::newest_email;
use crate::support::{owner_token, send};

/// A SCIM token of `company`, made by the owner: (id, token).
pub async fn scim_token(server: &TestServer, company: &str) -> (String, String) {
    let owner = owner_token(server).await;
    let (status, made) = send(
        server,
        &owner,
        "POST",
        &format!("/v1/companies/{company}/scim-tokens"),
        Some(json!({"name": "Entra ID", "client_kind": "desktop"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    (
        made["scim_token"]["id"].as_str().unwrap().to_owned(),
        made["token"].as_str().unwrap().to_owned(),
    )
}

/// A SCIM request as a directory sends it: (status, media type, body).
async fn scim(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    let mut request = reqwest::Client::new()
        .request(
            method.parse().unwrap(),
            format!("{}/scim/v2{path}", server.base_url),
        )
        .bearer_auth(token)
        .header("Accept", "application/scim+json");
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let media_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        media_type,
        response.json().await.unwrap_or(Value::Null),
    )
}

fn filter(expression: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("filter", expression);
    format!("/Users?{}", query.finish())
}

async fn add_company(client: &custodian_sdk::Client, name: &str) -> uuid::Uuid {
    client
        .companies_create()
        .body(types::NewCompany {
            name: name.into(),
            external_id: None,
        })
        .send()
        .await
        .expect("created")
        .into_inner()
        .id
}

#[rstest]
#[actix_web::test]
async fn entra_ids_provisioning_sequence_creates_invites_deactivates_and_removes_a_user(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (admin, _) = sdk_admin(&server, Role::Admin, &[]).await;
    let company = add_company(&admin, "Acme Dental").await;
    let other_company = add_company(&admin, "Acme Law").await;

    // The admin makes the company's token: shown once, listed without it.
    let made = admin
        .scim_tokens_create()
        .company_id(company)
        .body(types::NewScimToken {
            name: "Entra ID".into(),
            client_kind: types::ClientKind::Webapp,
        })
        .send()
        .await
        .expect("made");
    assert_eq!(made.status().as_u16(), 201);
    let made = made.into_inner();
    let token = made.token.clone();
    assert!(token.starts_with("csc_") && token.len() == 47, "{token}");
    let listed = admin
        .scim_tokens_list()
        .company_id(company)
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].id, made.scim_token.id);
    assert!(!serde_json::to_string(&listed).unwrap().contains(&token));
    let no_user = admin
        .company_users_list()
        .company_id(company)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(no_user.items.is_empty());

    // 1. Is the user there yet? No.
    let upn = "Dana.Quinn@acme-dental.example";
    let (status, media_type, found) = scim(
        &server,
        &token,
        "GET",
        &filter(&format!("userName eq \"{upn}\"")),
        None,
    )
    .await;
    assert_eq!(
        (status, media_type.as_str()),
        (200, "application/scim+json")
    );
    assert_eq!(
        (&found["totalResults"], &found["Resources"]),
        (&json!(0), &json!([]))
    );
    assert_eq!(
        found["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );

    // 2. Create it, as Entra ID sends it (attributes Custodian does not
    // keep, like roles and the enterprise extension, are ignored).
    let entra_user = json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": upn,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": upn}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Dana Quinn", "familyName": "Quinn", "givenName": "Dana"},
        "preferredLanguage": "fr-CA",
        "roles": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Nursing"}
    });
    let (status, media_type, created) =
        scim(&server, &token, "POST", "/Users", Some(entra_user.clone())).await;
    assert_eq!(
        (status, media_type.as_str()),
        (201, "application/scim+json"),
        "{created}"
    );
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["userName"], "dana.quinn@acme-dental.example");
    assert_eq!(
        created["externalId"],
        "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
    );
    assert_eq!(created["displayName"], "Dana Quinn");
    assert_eq!(created["active"], true);
    assert_eq!(created["preferredLanguage"], "fr");
    let extension = &created["urn:ietf:params:scim:schemas:extension:custodian:2.0:User"];
    assert_eq!(
        (&extension["status"], &extension["clientKind"]),
        (&json!("invited"), &json!("webapp")),
        "the token's client"
    );
    assert_eq!(created["meta"]["location"], format!("/scim/v2/Users/{id}"));

    // The user is invited exactly as one made through the API: an email in
    // their language with a single-use link.
    let mail = newest_email(&server, "dana.quinn@acme-dental.example", "user_invitation").await;
    assert_eq!(
        mail.subject(),
        "Vous êtes invité au gestionnaire de mots de passe de votre entreprise"
    );
    assert!(mail.text().contains("Acme Dental"), "{}", mail.text());
    let user = admin
        .user_get()
        .user_id(id.parse::<uuid::Uuid>().unwrap())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.status, types::UserStatus::Invited);
    assert_eq!(user.company_id, company);
    assert!(user.invitation_expires_at.is_some());

    // Sent again, the same user is taken.
    let (status, media_type, taken) =
        scim(&server, &token, "POST", "/Users", Some(entra_user)).await;
    assert_eq!(
        (status, media_type.as_str()),
        (409, "application/scim+json")
    );
    assert_eq!(
        (&taken["status"], &taken["scimType"]),
        (&json!("409"), &json!("uniqueness")),
        "{taken}"
    );
    assert_eq!(
        taken["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );

    // 3. Read it, and find it by userName (in any case) and externalId.
    let (status, _, read) = scim(&server, &token, "GET", &format!("/Users/{id}"), None).await;
    assert_eq!((status, &read["id"]), (200, &json!(id)));
    for expression in [
        "userName eq \"DANA.QUINN@acme-dental.example\"".to_owned(),
        "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"".to_owned(),
    ] {
        let (status, _, found) = scim(&server, &token, "GET", &filter(&expression), None).await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(
            (&found["totalResults"], &found["Resources"][0]["id"]),
            (&json!(1), &json!(id)),
            "{expression}"
        );
    }
    let (status, _, none) = scim(
        &server,
        &token,
        "GET",
        &filter("userName eq \"non-existent user\""),
        None,
    )
    .await;
    assert_eq!((status, &none["totalResults"]), (200, &json!(0)));

    // 4. Change it as Entra ID does: the work email (ignored: userName is
    // the address), the family name alone (ignored: one half of a name),
    // then the display name.
    let (status, _, changed) = scim(
        &server,
        &token,
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
                {"op": "Replace", "path": "displayName", "value": "Dana Quinn-Smith"}
            ]
        })),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["displayName"], "Dana Quinn-Smith");
    assert_eq!(changed["userName"], "dana.quinn@acme-dental.example");

    // 5. Deactivate it (Entra ID once sent the boolean as a string).
    let (status, _, disabled) = scim(
        &server,
        &token,
        "PATCH",
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        })),
    )
    .await;
    assert_eq!(
        (status, &disabled["active"]),
        (200, &json!(false)),
        "{disabled}"
    );
    let user = admin
        .user_get()
        .user_id(id.parse::<uuid::Uuid>().unwrap())
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        user.status,
        types::UserStatus::Disabled,
        "as an admin sees it"
    );

    // userName cannot change; a filter SCIM does not support here is named.
    let (status, _, refused) = scim(
        &server,
        &token,
        "PUT",
        &format!("/Users/{id}"),
        Some(json!({"userName": "someone.else@acme-dental.example", "active": true})),
    )
    .await;
    assert_eq!(
        (status, &refused["scimType"]),
        (400, &json!("mutability")),
        "{refused}"
    );
    let (status, media_type, refused) = scim(
        &server,
        &token,
        "GET",
        &filter("displayName co \"Dana\""),
        None,
    )
    .await;
    assert_eq!(
        (status, media_type.as_str(), &refused["scimType"]),
        (400, "application/scim+json", &json!("invalidFilter"))
    );
    let (status, _, refused) = scim(&server, &token, "POST", "/Users", Some(json!([1]))).await;
    assert_eq!(
        (status, &refused["scimType"]),
        (400, &json!("invalidSyntax"))
    );
    let (status, _, refused) = scim(
        &server,
        &token,
        "POST",
        "/Users",
        Some(json!({"userName": "not an address"})),
    )
    .await;
    assert_eq!(
        (status, &refused["scimType"]),
        (400, &json!("invalidValue"))
    );

    // Re-activated by a replacement, the user is invited again (their link
    // works again).
    let (status, _, replaced) = scim(
        &server,
        &token,
        "PUT",
        &format!("/Users/{id}"),
        Some(json!({"userName": upn, "displayName": "Dana Quinn", "active": true})),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (&replaced["active"], &replaced["displayName"]),
        (&json!(true), &json!("Dana Quinn"))
    );
    assert!(
        replaced.get("externalId").is_none(),
        "a replacement without it removes it"
    );

    // The token sees its company only: another company's user is absent,
    // and lists hold the company's users alone.
    let outsider = admin
        .company_users_create()
        .company_id(other_company)
        .body(types::NewUserRequest {
            email: "lou@acme-law.example".into(),
            name: "Lou".into(),
            client_kind: types::ClientKind::Desktop,
            locale: None,
            is_primary: None,
            external_id: None,
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    let (status, _, absent) = scim(
        &server,
        &token,
        "GET",
        &format!("/Users/{}", outsider.id),
        None,
    )
    .await;
    assert_eq!(
        (status, &absent["status"]),
        (404, &json!("404")),
        "{absent}"
    );
    let (status, _, all) = scim(&server, &token, "GET", "/Users?startIndex=1&count=10", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            &all["totalResults"],
            &all["itemsPerPage"],
            &all["Resources"][0]["id"]
        ),
        (&json!(1), &json!(1), &json!(id))
    );
    let (_, _, counted) = scim(&server, &token, "GET", "/Users?count=0", None).await;
    assert_eq!(
        (&counted["totalResults"], &counted["Resources"]),
        (&json!(1), &json!([]))
    );

    // A SCIM token is no admin token: the API refuses it, resets included.
    let (status, _) = send(
        &server,
        &token,
        "POST",
        &format!("/v1/users/{id}/master-password-resets"),
        Some(json!({"confirmation": "Yes"})),
    )
    .await;
    assert_eq!(status, 401);

    // 6. Delete it: offboarded, as DELETE /v1/users/{id} does.
    let (status, _, _) = scim(&server, &token, "DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _, gone) = scim(&server, &token, "GET", &format!("/Users/{id}"), None).await;
    assert_eq!((status, &gone["status"]), (404, &json!("404")));
    let gone = admin
        .user_get()
        .user_id(id.parse::<uuid::Uuid>().unwrap())
        .send()
        .await;
    assert!(
        matches!(gone, Err(custodian_sdk::Error::ErrorResponse(r)) if r.status().as_u16() == 404)
    );

    // Everything the directory did is in the partner's log, as the token's.
    let owner = owner_token(&server).await;
    for action in [
        "createUser",
        "updateUser",
        "disableUser",
        "enableUser",
        "offboardUser",
    ] {
        let (status, events) = send(
            &server,
            &owner,
            "GET",
            &format!("/v1/audit-events?action={action}&target_id={id}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{events}");
        let event = &events["items"][0];
        assert_eq!(
            (&event["actor_kind"], &event["actor_id"]),
            (&json!("scim_token"), &json!(made.scim_token.id)),
            "{action}: {events}"
        );
        assert!(!events.to_string().contains(&token));
    }

    // Removed, the token is refused at once, in SCIM's form.
    admin
        .scim_token_delete()
        .company_id(company)
        .token_id(made.scim_token.id)
        .send()
        .await
        .expect("removed");
    let (status, media_type, refused) = scim(&server, &token, "GET", "/Users", None).await;
    assert_eq!(
        (status, media_type.as_str(), &refused["status"]),
        (401, "application/scim+json", &json!("401"))
    );
}

#[rstest]
#[actix_web::test]
async fn a_retired_company_or_a_suspended_partner_refuses_its_scim_tokens(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (admin, _) = sdk_admin(&server, Role::Admin, &[]).await;
    let retired = add_company(&admin, "Retiring").await.to_string();
    let kept = add_company(&admin, "Kept").await.to_string();
    let (_, retired_token) = scim_token(&server, &retired).await;
    let (_, kept_token) = scim_token(&server, &kept).await;
    for token in [&retired_token, &kept_token] {
        let (status, _, _) = scim(&server, token, "GET", "/Users", None).await;
        assert_eq!(status, 200);
    }
    let owner = owner_token(&server).await;
    let (status, body) = send(
        &server,
        &owner,
        "DELETE",
        &format!("/v1/companies/{retired}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = scim(&server, &retired_token, "GET", "/Users", None).await;
    assert_eq!(status, 401, "a retired company's token");
    let (status, body) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/companies/{retired}/scim-tokens"),
        Some(json!({"name": "Again", "client_kind": "desktop"})),
    )
    .await;
    assert_eq!((status, &body["code"]), (409, &json!("company_retired")));

    let operator = crate::support::operator_token(&server).await;
    let partner = server.owner.partner_id.clone();
    let (status, body) = send(
        &server,
        &operator,
        "POST",
        &format!("/v1/partners/{partner}/suspend"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = scim(&server, &kept_token, "GET", "/Users", None).await;
    assert_eq!(status, 401, "a suspended partner's token");
}
