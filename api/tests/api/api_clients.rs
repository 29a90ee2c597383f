//! `/v1/api-clients` and the `client_credentials` grant: the secret shown
//! once and stored only as a keyed hash; HTTP Basic and body credentials;
//! scopes and company limits enforced by the policies; removal revokes;
//! another partner's client is 404.

use custodian_api::db::Backend;
use custodian_api::db::schema::{api_clients, audit_events};
use custodian_api::testing::TestServer;
use diesel::prelude::*;
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{client_grant, client_token, create_client, owner_token, seed, send, sign_in};
use custodian_api::db::DbError;

#[rstest]
#[actix_web::test]
async fn a_client_is_created_with_its_secret_once_and_signs_in(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (status, created) = send(
        &server,
        &owner,
        "POST",
        "/v1/api-clients",
        Some(json!({"name": " PSA sync ", "scopes": ["partner:read", "admins:read", "partner:read"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["client"]["id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("cst_") && secret.len() == 47, "{secret}");
    assert_eq!(created["client"]["name"], "PSA sync");
    assert_eq!(
        created["client"]["scopes"],
        json!(["partner:read", "admins:read"]),
        "repeats dropped, order kept"
    );
    assert_eq!(created["client"]["companies"], Value::Null);

    // Listed without its secret; stored only as a 32-byte keyed hash.
    let (status, page) = send(&server, &owner, "GET", "/v1/api-clients", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert!(!page.to_string().contains(&secret));
    let lookup = id.clone();
    let stored: Vec<u8> = server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                api_clients::table
                    .filter(api_clients::id.eq(lookup))
                    .select(api_clients::secret_hash)
                    .first(conn)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(
        !stored
            .windows(8)
            .any(|w| secret.as_bytes().windows(8).any(|s| s == w))
    );

    // Form body and HTTP Basic both sign in; the scope is the client's.
    let (status, token) = client_grant(&server, &id, &secret).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["scope"], "partner:read admins:read");
    assert_eq!(token["token_type"], "Bearer");
    let basic = reqwest::Client::new()
        .post(format!("{}/v1/auth/token", server.base_url))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status().as_u16(), 200);
    let access = token["access_token"].as_str().unwrap();

    // It acts within its scopes.
    let (status, _) = send(&server, access, "GET", "/v1/partner", None).await;
    assert_eq!(status, 200);
    let (status, _) = send(&server, access, "GET", "/v1/admins", None).await;
    assert_eq!(status, 200);
    let (status, problem) = send(&server, access, "GET", "/v1/audit-events", None).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")));
    // And never manages credentials, whatever its scopes.
    let (status, problem) = send(
        &server,
        access,
        "POST",
        "/v1/api-clients",
        Some(json!({"name": "Mine", "scopes": ["audit:read"]})),
    )
    .await;
    assert_eq!(status, 403, "{problem}");
    let (status, _) = send(
        &server,
        access,
        "POST",
        "/v1/auth/password",
        Some(json!({"current_password": secret, "new_password": "a much longer passphrase"})),
    )
    .await;
    assert_eq!(status, 403, "an API client has no password to change");

    // Its sign-ins are audited to its partner, as the client; the secret
    // is in no event.
    let events: Vec<(String, Option<String>, String, String)> = server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                audit_events::table
                    .order(audit_events::seq)
                    .select((
                        audit_events::actor_kind,
                        audit_events::actor_id,
                        audit_events::action,
                        audit_events::decision,
                    ))
                    .load(conn)?,
            )
        })
        .await
        .unwrap();
    let sign_ins: Vec<_> = events
        .iter()
        .filter(|e| e.2 == "signIn" && e.0 == "api_client")
        .collect();
    assert_eq!(sign_ins.len(), 2, "{events:?}");
    assert!(
        sign_ins
            .iter()
            .all(|e| e.1.as_deref() == Some(id.as_str()) && e.3 == "allow")
    );
    let everything: Vec<String> = server
        .database
        .pool()
        .run(|conn| {
            Ok::<_, DbError>(
                audit_events::table
                    .select(audit_events::details)
                    .load(conn)?,
            )
        })
        .await
        .unwrap();
    assert!(everything.iter().all(|d| !d.contains(&secret)));
}

#[rstest]
#[actix_web::test]
async fn wrong_credentials_are_refused_as_rfc_6749_says(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (id, secret) = create_client(&server, &["partner:read"], None).await;
    let absent = uuid::Uuid::now_v7().to_string();
    for (who, what) in [
        (id.as_str(), "cst_wrong"),
        (absent.as_str(), secret.as_str()),
        ("not-a-uuid", secret.as_str()),
    ] {
        let (status, error) = client_grant(&server, who, what).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (401, Some("invalid_client")),
            "{who}"
        );
        assert_eq!(
            error["error_description"], "the client id or the secret is wrong",
            "the same answer whichever was wrong"
        );
    }
    let token = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, challenge, response.json::<Value>().await.unwrap())
    };
    let endpoint = format!("{}/v1/auth/token", server.base_url);
    let http = reqwest::Client::new();
    let (status, challenge, _) = token(
        http.post(&endpoint)
            .basic_auth(&id, Some("cst_wrong"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some("Basic realm=\"custodian\""))
    );
    let (status, _, error) = token(http.post(&endpoint).basic_auth(&id, Some(&secret)).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ]))
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("invalid_request")),
        "both ways at once"
    );
    let (status, _, error) = token(
        http.post(&endpoint)
            .header("authorization", "Basic %%%")
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, _, error) = token(http.post(&endpoint).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
    ]))
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // Guessing is throttled per client, the real secret included, until
    // the window passes.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(client_grant(&server, &id, "cst_guess").await.0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let (status, _) = client_grant(&server, &id, &secret).await;
    assert_eq!(status, 429);
}

#[rstest]
#[actix_web::test]
async fn a_removed_client_is_refused_at_once(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (id, secret) = create_client(&server, &["partner:read"], None).await;
    let token = client_token(&server, &id, &secret).await;
    let (status, _) = send(&server, &token, "GET", "/v1/partner", None).await;
    assert_eq!(status, 200);

    let owner = owner_token(&server).await;
    let (status, _) = send(
        &server,
        &owner,
        "DELETE",
        &format!("/v1/api-clients/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, problem) = send(&server, &token, "GET", "/v1/partner", None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(client_grant(&server, &id, &secret).await.0, 401);
    let (status, _) = send(
        &server,
        &owner,
        "DELETE",
        &format!("/v1/api-clients/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "gone");
}

#[rstest]
#[actix_web::test]
async fn creation_checks_its_values_and_changes_nothing_when_refused(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let other = seed::partner(&server, "Other MSP").await;
    let theirs = seed::company(&server, &other, "Their Bakery").await;
    for (body, field) in [
        (
            json!({"name": "x", "scopes": ["users:read", "users:delete"]}),
            "scopes[1]",
        ),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "   ", "scopes": ["users:read"]}), "name"),
        (
            json!({"name": "x", "scopes": ["users:read"], "companies": []}),
            "companies",
        ),
        (
            json!({"name": "x", "scopes": ["users:read"], "secret": "mine"}),
            "secret",
        ),
    ] {
        let (status, problem) = send(
            &server,
            &owner,
            "POST",
            "/v1/api-clients",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    // Another partner's company is as absent as none: 404 naming the field.
    let body = json!({"name": "x", "scopes": ["users:read"], "companies": [company, theirs]});
    let (status, problem) = send(&server, &owner, "POST", "/v1/api-clients", Some(body)).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (404, Some("companies"))
    );
    let (status, page) = send(&server, &owner, "GET", "/v1/api-clients", None).await;
    assert_eq!(
        (status, page["items"].as_array().map(Vec::len)),
        (200, Some(0))
    );

    let (status, created) = send(
        &server,
        &owner,
        "POST",
        "/v1/api-clients",
        Some(json!({"name": "RMM", "scopes": ["users:read"], "companies": [company, company]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["client"]["companies"], json!([company]));
}

#[rstest]
#[actix_web::test]
async fn another_partners_client_is_not_found(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let other = seed::partner(&server, "Other MSP").await;
    let theirs = custodian_api::db::api_clients::ApiClient {
        id: custodian_api::ids::ApiClientId::new(),
        partner_id: custodian_api::ids::PartnerId::parse(&other).unwrap(),
        name: "Theirs".into(),
        secret_hash: vec![0; 32],
        scopes: "partner:read".into(),
        token_generation: 0,
        created_by_admin_id: None,
        created_at: chrono::Utc::now().naive_utc(),
        last_used_at: None,
        limited: false,
    };
    let their_id = theirs.id.to_string();
    server
        .database
        .pool()
        .run(move |conn| custodian_api::db::api_clients::insert(conn, &theirs, None))
        .await
        .unwrap();
    let owner = owner_token(&server).await;
    let absent = uuid::Uuid::now_v7();
    let (status, problem) = send(
        &server,
        &owner,
        "DELETE",
        &format!("/v1/api-clients/{their_id}"),
        None,
    )
    .await;
    let (absent_status, absent_problem) = send(
        &server,
        &owner,
        "DELETE",
        &format!("/v1/api-clients/{absent}"),
        None,
    )
    .await;
    assert_eq!((status, absent_status), (404, 404));
    assert_eq!(problem["detail"], absent_problem["detail"]);
    let (status, page) = send(&server, &owner, "GET", "/v1/api-clients", None).await;
    assert_eq!(status, 200);
    assert!(!page.to_string().contains(&their_id), "not listed either");
    // Still there for its own partner.
    let lookup = their_id.clone();
    let still: i64 = server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                api_clients::table
                    .filter(api_clients::id.eq(lookup))
                    .count()
                    .get_result(conn)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(still, 1);
    // A technician, who manages no credentials, is told 403, not 404, for
    // their own partner's client.
    let (email, password) = server
        .create_admin(custodian_api::db::admins::Role::Technician, &[])
        .await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let (mine, _) = create_client(&server, &["partner:read"], None).await;
    let (status, _) = send(
        &server,
        &technician,
        "DELETE",
        &format!("/v1/api-clients/{mine}"),
        None,
    )
    .await;
    assert_eq!(status, 403);
}
