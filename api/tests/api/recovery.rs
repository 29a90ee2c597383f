//! The recovery-key path: a user who registered a recovery key sets a new
//! master password without a reset and keeps every item.

use custodian_api::db::Backend;
use custodian_api::testing::TestServer;
use rstest::rstest;
use serde_json::{Value, json};

use crate::resets::{newest_email, post_reset, user_with_items};
use crate::support::{dump_database, owner_token, send, vault_items_with_key};

/// What a client derives from a recovery key (base64 of 32 bytes).
const VERIFIER: &str = "cmVjb3Zlcnkta2V5LXZlcmlmaWVyLTMyLWJ5dGVzISE=";
/// The vault key wrapped by the recovery key (ciphertext to the server).
const WRAPPED: &str = "d3JhcHBlZCB2YXVsdCBrZXk=";

pub async fn sign_in_with_verifier(
    server: &TestServer,
    email: &str,
    verifier: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/account/token", server.base_url))
        .json(&json!({
            "partner_id": server.owner.partner_id,
            "email": email,
            "recovery_verifier": verifier,
        }))
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

fn new_master_password() -> Option<Value> {
    Some(json!({
        "auth_key": "the-recovered-derived-key",
        "encrypted_vault_key": "c2FtZSB2YXVsdCBrZXksIG5ldyB3cmFwcGluZw==",
        "kdf_params": "argon2id;m=65536;t=3;p=4",
    }))
}

#[rstest]
#[actix_web::test]
async fn a_user_with_a_recovery_key_recovers_and_keeps_every_item(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, email, account) = user_with_items(&server, 2, 2, 1).await;

    // Bad registrations are refused and change nothing.
    for (body, field) in [
        (
            json!({"auth_key": "a-derived-key", "verifier": "c2hvcnQ=", "wrapped_vault_key": WRAPPED}),
            "verifier",
        ),
        (
            json!({"auth_key": "a-derived-key", "verifier": VERIFIER, "wrapped_vault_key": "%%"}),
            "wrapped_vault_key",
        ),
        (
            json!({"auth_key": "not-the-key-0123", "verifier": VERIFIER, "wrapped_vault_key": WRAPPED}),
            "auth_key",
        ),
    ] {
        let (status, problem) = send(
            &server,
            &account,
            "PUT",
            "/v1/account/recovery-key",
            Some(body),
        )
        .await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (422, Some(field))
        );
    }
    let (status, _) = send(
        &server,
        &account,
        "PUT",
        "/v1/account/recovery-key",
        Some(json!({"auth_key": "a-derived-key", "verifier": VERIFIER, "wrapped_vault_key": WRAPPED})),
    )
    .await;
    assert_eq!(status, 204);
    let (_, shown) = send(&server, &owner, "GET", &format!("/v1/users/{user}"), None).await;
    assert_eq!(shown["has_recovery_key"], true);
    let notice = newest_email(&server, &email, "recovery_key_set").await;
    assert_eq!(
        notice.subject(),
        "A recovery key was set up for your account"
    );
    let (_, preview) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/users/{user}/master-password-reset-preview"),
        None,
    )
    .await;
    assert_eq!(
        preview["has_recovery_key"], true,
        "the admin can point the user to it"
    );

    // The user forgets the master password: the verifier signs in to a
    // token good only for recovering, with the wrapped vault key.
    let (status, wrong) =
        sign_in_with_verifier(&server, &email, "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmc=").await;
    assert_eq!(status, 401, "{wrong}");
    let (status, token) = sign_in_with_verifier(&server, &email, VERIFIER).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["scope"], "account:recover");
    assert_eq!(token["wrapped_vault_key"], WRAPPED);
    let recovering = token["access_token"].as_str().unwrap().to_owned();
    let (status, _) = send(&server, &recovering, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(status, 401, "the recovery token opens no vault");
    let (status, _) = send(
        &server,
        &recovering,
        "POST",
        "/v1/account/master-password",
        new_master_password(),
    )
    .await;
    assert_eq!(status, 401, "nor finishes a reset");
    let (status, _) = send(
        &server,
        &account,
        "POST",
        "/v1/account/recovery",
        new_master_password(),
    )
    .await;
    assert_eq!(status, 401, "a vault token does not recover");

    let (status, body) = send(
        &server,
        &recovering,
        "POST",
        "/v1/account/recovery",
        new_master_password(),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = send(
        &server,
        &recovering,
        "POST",
        "/v1/account/recovery",
        new_master_password(),
    )
    .await;
    assert_eq!(status, 401, "the recovery token works once");
    let (status, _) = send(&server, &account, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(status, 401, "every earlier token died");

    // Every item is still there, no reset happened, and the user was told.
    let items = vault_items_with_key(&server, &email, "the-recovered-derived-key").await;
    assert_eq!(items.as_array().unwrap().len(), 4, "{items}");
    let (_, resets) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/master-password-resets?user_id={user}"),
        None,
    )
    .await;
    assert_eq!(resets["items"], json!([]));
    let notice = newest_email(&server, &email, "master_password_changed").await;
    assert_eq!(notice.subject(), "Your master password was changed");
    let (_, audit) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=recoverAccount",
        None,
    )
    .await;
    assert_eq!(audit["items"][0]["target_id"], user.as_str(), "{audit}");
    let dump = dump_database(&server).await;
    assert!(
        !dump.contains(VERIFIER),
        "only the verifier's keyed hash is kept"
    );
}

#[rstest]
#[actix_web::test]
async fn a_reset_forgets_the_recovery_key(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, email, account) = user_with_items(&server, 1, 0, 0).await;
    let (status, _) = send(
        &server,
        &account,
        "PUT",
        "/v1/account/recovery-key",
        Some(json!({"auth_key": "a-derived-key", "verifier": VERIFIER, "wrapped_vault_key": WRAPPED})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    assert_eq!(status, 201);
    let (_, shown) = send(&server, &owner, "GET", &format!("/v1/users/{user}"), None).await;
    assert_eq!(
        shown["has_recovery_key"], false,
        "it wrapped the purged vault's key"
    );
    let (status, _) = sign_in_with_verifier(&server, &email, VERIFIER).await;
    assert_eq!(status, 401);
}
