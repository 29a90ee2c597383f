//! Identity through the SDK: a session for each grant, API clients created,
//! used and removed, and the authorization check, as an integration and a
//! portal would use them.

use custodian_api::db::admins::Role;
use custodian_e2e::{Backend, TestApp};
use custodian_sdk::{ClientBuilder, Credentials, Session, types};
use rstest::rstest;

#[rstest]
#[actix_web::test]
async fn an_owner_session_makes_a_client_whose_session_works_until_removed(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (email, password) = app.server.create_admin(Role::Owner, &[]).await;
    let owner = Session::new(
        ClientBuilder::new(&app.server.base_url),
        Credentials::password(app.partner(), email, password),
    );
    let portal = owner.client().await.expect("the owner signs in");
    assert_eq!(owner.token().await.unwrap().scope, "admin");

    let created = portal
        .api_clients_create()
        .body(types::NewApiClient {
            name: "PSA".into(),
            scopes: vec![
                types::ClientScope::PartnerRead,
                types::ClientScope::AdminsRead,
            ],
            companies: None,
        })
        .send()
        .await
        .expect("created")
        .into_inner();
    assert!(created.client_secret.starts_with("cst_"));
    let integration = Session::new(
        ClientBuilder::new(&app.server.base_url),
        Credentials::client_credentials(created.client.id.to_string(), created.client_secret),
    );
    let first = integration.token().await.expect("the client signs in");
    assert_eq!(first.scope, "partner:read admins:read");
    assert_eq!(
        integration.token().await.unwrap().access_token,
        first.access_token,
        "a fresh token is reused"
    );
    integration.invalidate().await;
    assert_ne!(
        integration.token().await.unwrap().access_token,
        first.access_token,
        "an invalidated one is replaced"
    );
    let script = integration.client().await.unwrap();
    let partner = script.partner_get().send().await.expect("partner:read");
    assert!(!partner.into_inner().name.is_empty());
    let admins = script.admins_list().send().await.expect("admins:read");
    assert!(!admins.into_inner().items.is_empty());

    // What may the portal's owner do? The check answers without doing it.
    let decisions = portal
        .authorization_check()
        .body(types::AuthorizationCheck {
            checks: vec![types::Check {
                action: types::CheckedAction::DeleteApiClient,
                resource: Some(types::ResourceRef {
                    type_: types::ResourceType::ApiClient,
                    id: Some(created.client.id),
                }),
                role: None,
                acknowledge_company_data_loss: None,
            }],
        })
        .send()
        .await
        .expect("checked")
        .into_inner();
    assert!(decisions.results[0].allowed);

    portal
        .api_client_delete()
        .client_id(created.client.id)
        .send()
        .await
        .expect("removed");
    let refused = script.partner_get().send().await.expect_err("revoked");
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(401));
    integration.invalidate().await;
    let error = integration.client().await.expect_err("the secret is dead");
    assert!(
        error.to_string().contains("HTTP 401 invalid_client"),
        "{error}"
    );
}

/// What went wrong is a value a script can match on: the token endpoint's
/// RFC 6749 code, and any other answer's problem code, status and fields.
#[rstest]
#[actix_web::test]
async fn refusals_are_typed_for_scripts(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (email, password) = app.server.create_admin(Role::Owner, &[]).await;
    let wrong = Session::new(
        ClientBuilder::new(&app.server.base_url),
        Credentials::password(app.partner(), email.clone(), "not the password"),
    );
    match wrong.client().await {
        Err(custodian_sdk::SessionError::Refused { status, error, .. }) => {
            assert_eq!((status, error.as_str()), (400, "invalid_grant"));
        }
        other => panic!("expected a typed refusal, got {:?}", other.map(|_| ())),
    }
    let owner = Session::new(
        ClientBuilder::new(&app.server.base_url),
        Credentials::password(app.partner(), email, password),
    )
    .client()
    .await
    .unwrap();
    let missing = owner
        .company_get()
        .company_id(uuid::Uuid::now_v7())
        .send()
        .await
        .unwrap_err();
    let problem = custodian_sdk::problem(&missing).expect("a problem answer");
    assert_eq!((problem.status, problem.code.as_str()), (404, "not_found"));
    let invalid = owner
        .companies_create()
        .body(types::NewCompany {
            external_id: None,
            name: " ".into(),
        })
        .send()
        .await
        .unwrap_err();
    let problem = custodian_sdk::problem(&invalid).expect("a problem answer");
    assert_eq!(problem.status, 422);
    assert_eq!(problem.errors[0].field, "name");
}
