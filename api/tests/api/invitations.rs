//! Invitations: a user added through the API is emailed a single-use link,
//! in their locale, valid for the partner's invitation lifetime; through it
//! they choose their first master password and become `active`. Sending it
//! again kills the earlier link (and withdraws its email when unsent).

use custodian_api::db::Backend;
use custodian_api::db::DbError;
use custodian_api::db::admins::Role;
use custodian_api::db::schema::outbox_messages;
use custodian_api::testing::TestServer;
use custodian_sdk::types;
use diesel::prelude::*;
use rstest::rstest;
use serde_json::{Value, json};

use crate::batches::sdk_admin;
use crate::resets::{newest_email, outbox_status_becomes, redeem_link, secret_in};
use crate::support::{account_sign_in, dump_database, owner_token, send};

/// `POST /v1/account/invitation` with `token` and a new key.
async fn accept(server: &TestServer, token: &str, auth_key: &str) -> (u16, Value) {
    redeem_link(server, "/v1/account/invitation", token, auth_key).await
}

/// The invitation messages to `email`, oldest first: (id, status).
pub async fn invitations(server: &TestServer, email: &str) -> Vec<(String, String)> {
    messages(server, email, "user_invitation").await
}

/// The messages of `template` to `email`, oldest first: (id, status).
pub async fn messages(server: &TestServer, email: &str, template: &str) -> Vec<(String, String)> {
    let (email, template) = (email.to_owned(), template.to_owned());
    server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                outbox_messages::table
                    .filter(outbox_messages::recipient.eq(email))
                    .filter(outbox_messages::template.eq(template))
                    .order(outbox_messages::id.asc())
                    .select((outbox_messages::id, outbox_messages::status))
                    .load(conn)?,
            )
        })
        .await
        .unwrap()
}

async fn add_user(
    client: &custodian_sdk::Client,
    company: uuid::Uuid,
    email: &str,
    locale: types::Locale,
) -> types::UserView {
    let made = client
        .company_users_create()
        .company_id(company)
        .body(types::NewUserRequest {
            email: email.into(),
            name: "Dana Smith".into(),
            client_kind: types::ClientKind::Desktop,
            locale: Some(locale),
            is_primary: None,
            external_id: None,
        })
        .send()
        .await
        .expect("created");
    assert_eq!(made.status().as_u16(), 201);
    made.into_inner()
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
async fn an_invited_user_chooses_a_master_password_through_the_emailed_link(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    // The owner sets how long invitations live.
    let owner = owner_token(&server).await;
    let (status, settings) = send(
        &server,
        &owner,
        "PATCH",
        "/v1/partner",
        Some(json!({"invitation_ttl_seconds": 7200})),
    )
    .await;
    assert_eq!(
        (status, settings["invitation_ttl_seconds"].as_i64()),
        (200, Some(7200))
    );
    let (client, _) = sdk_admin(&server, Role::Admin, &[]).await;
    let company = add_company(&client, "Acme Dental").await;
    let email = "dana@acme-dental.example";
    let dana = add_user(&client, company, email, types::Locale::Fr).await;
    assert_eq!(dana.status, types::UserStatus::Invited);
    let expires = dana.invitation_expires_at.expect("an invitation expiry");
    assert_eq!(
        (expires.0 - dana.created_at.0).num_seconds(),
        7200,
        "the partner's lifetime"
    );

    let pending = |client: custodian_sdk::Client| async move {
        client
            .users_search()
            .status(types::UserStatus::Invited)
            .send()
            .await
            .expect("searched")
            .into_inner()
            .items
            .into_iter()
            .map(|u| u.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pending(client.clone()).await,
        [dana.id],
        "who has not accepted"
    );

    // The email, in French, links to the webapp with the token in the
    // fragment.
    let mail = newest_email(&server, email, "user_invitation").await;
    assert_eq!(
        mail.subject(),
        "Vous êtes invité au gestionnaire de mots de passe de votre entreprise"
    );
    assert!(mail.text().contains("Acme Dental"), "{}", mail.text());
    let prefix = format!("{}/accept-invitation#token=", server.base_url);
    assert!(mail.text().contains(&prefix), "{}", mail.text());
    let token = secret_in(&mail);
    assert_eq!(token.len(), 43, "256 bits in unpadded base64url");

    // Until they accept, the user has nothing to sign in with.
    let (status, _) = account_sign_in(&server, &partner, email, "dana-derived-key-0123").await;
    assert_eq!(status, 401);
    let (status, wrong) = accept(&server, "not-the-token", "dana-derived-key-0123").await;
    assert_eq!(status, 401, "{wrong}");
    let (status, problem) = accept(&server, &token, "short").await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("auth_key")),
        "bad material is refused before the token is spent"
    );

    let (status, body) = accept(&server, &token, "dana-derived-key-0123").await;
    assert_eq!(status, 204, "{body}");
    let (status, used) = accept(&server, &token, "dana-derived-key-0123").await;
    assert_eq!(status, 401, "single use");
    assert_eq!(used["detail"], wrong["detail"], "refusals look alike");

    let now = client
        .user_get()
        .user_id(dana.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.status, types::UserStatus::Active);
    assert!(now.invitation_expires_at.is_none(), "{now:?}");
    assert!(pending(client.clone()).await.is_empty());
    let (status, token_body) =
        account_sign_in(&server, &partner, email, "dana-derived-key-0123").await;
    assert_eq!(status, 200, "{token_body}");

    // An active user is not invited again.
    let again = client.user_invitation_send().user_id(dana.id).send().await;
    match again {
        Err(custodian_sdk::Error::ErrorResponse(problem)) => {
            assert_eq!(problem.status().as_u16(), 409);
            assert_eq!(problem.into_inner().code, "user_not_invited");
        }
        other => panic!("{other:?}"),
    }

    // The acceptance is audited in the partner's log (a refused token names
    // no partner: its event is kept outside every partner's); the token is
    // nowhere.
    let (_, accepted) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=acceptInvitation",
        None,
    )
    .await;
    let events = accepted["items"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{accepted}");
    assert_eq!(
        (
            events[0]["decision"].as_str(),
            events[0]["target_id"].as_str()
        ),
        (Some("allow"), Some(dana.id.to_string().as_str()))
    );
    assert!(!dump_database(&server).await.contains(&token));
}

#[rstest]
#[actix_web::test]
async fn inviting_again_kills_the_earlier_link_and_withdraws_its_unsent_email(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (client, _) = sdk_admin(&server, Role::Admin, &[]).await;
    let company = add_company(&client, "Acme Dental").await;
    let other = add_company(&client, "Acme Law").await;

    // The first invitation cannot be delivered yet.
    server.mail.refuse(true);
    let email = "lou@acme-dental.example";
    let lou = add_user(&client, company, email, types::Locale::En).await;
    let first = invitations(&server, email).await;
    assert_eq!(first.len(), 1);
    outbox_status_becomes(&server, &first[0].0, "retrying").await;

    // A technician of another company cannot see Lou; one of Lou's can
    // invite them again.
    let (outsider, _) = sdk_admin(&server, Role::Technician, &[other.to_string()]).await;
    match outsider.user_invitation_send().user_id(lou.id).send().await {
        Err(custodian_sdk::Error::ErrorResponse(problem)) => {
            assert_eq!(problem.status().as_u16(), 404)
        }
        other => panic!("{other:?}"),
    }
    let (technician, _) = sdk_admin(&server, Role::Technician, &[company.to_string()]).await;
    let again = technician
        .user_invitation_send()
        .user_id(lou.id)
        .send()
        .await
        .expect("sent again")
        .into_inner();
    assert_eq!(again.status, types::UserStatus::Invited);
    assert!(again.invitation_expires_at.unwrap().0 >= lou.invitation_expires_at.unwrap().0);

    // The first email is withdrawn before it was ever sent; only the second
    // arrives, and only its link works.
    let rows = invitations(&server, email).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], (first[0].0.clone(), "dead".to_owned()));
    // The second was tried while the mail server still refused: it waits
    // for its retry, which moving the clock makes due.
    outbox_status_becomes(&server, &rows[1].0, "retrying").await;
    server.mail.refuse(false);
    server.clock.advance(chrono::Duration::seconds(31));
    server.outbox.wake();
    let mail = newest_email(&server, email, "user_invitation").await;
    let token = secret_in(&mail);
    let invitation_mails = server
        .mail
        .received()
        .iter()
        .filter(|m| m.rcpt_to.iter().any(|to| to == email))
        .count();
    assert_eq!(invitation_mails, 1, "the withdrawn email never left");

    // A link past its expiry is refused as any other bad link.
    server.clock.advance(chrono::Duration::days(8));
    let (status, _) = accept(&server, &token, "lou-derived-key-0123").await;
    assert_eq!(status, 401, "expired");
    let (client, _) = sdk_admin(&server, Role::Admin, &[]).await;
    let renewed = client
        .user_invitation_send()
        .user_id(lou.id)
        .send()
        .await
        .expect("sent again")
        .into_inner();
    assert!(renewed.invitation_expires_at.unwrap().0 > server.clock.now().and_utc());
    let token = secret_in(&newest_email(&server, email, "user_invitation").await);
    let (status, body) = accept(&server, &token, "lou-derived-key-0123").await;
    assert_eq!(status, 204, "{body}");
}
