//! Signing in through the SDK.

use custodian_e2e::{Backend, TestApp};
use custodian_sdk::{Error, types};
use rstest::rstest;
use secrecy::ExposeSecret;

fn password_grant(partner: uuid::Uuid, username: &str, password: &str) -> types::TokenRequest {
    types::TokenRequest {
        grant_type: types::GrantType::Password,
        partner_id: Some(partner),
        username: Some(username.into()),
        password: Some(password.into()),
        client_id: None,
        client_secret: None,
        scope: None,
    }
}

#[rstest]
#[actix_web::test]
async fn the_bootstrapped_owner_signs_in(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let password = app
        .server
        .owner
        .one_time_password
        .expose_secret()
        .to_owned();
    let token = app
        .client
        .token_create()
        .body(password_grant(
            app.partner(),
            "owner@custodian.local",
            &password,
        ))
        .send()
        .await
        .expect("a token")
        .into_inner();
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.scope, "password:change");
    assert_eq!(token.access_token.split('.').count(), 3, "a JWT");

    let jwks = app
        .client
        .jwks_get()
        .send()
        .await
        .expect("jwks")
        .into_inner();
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["alg"], "EdDSA");

    let error = app
        .client
        .token_create()
        .body(password_grant(
            app.partner(),
            "owner@custodian.local",
            "wrong",
        ))
        .send()
        .await
        .expect_err("a wrong password");
    let Error::ErrorResponse(oauth) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(oauth.error, "invalid_grant");
    assert!(custodian_sdk::describe(&error).starts_with("HTTP 400 invalid_grant: "));
}
