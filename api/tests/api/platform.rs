//! The platform operator: partners made through the public API, each with a
//! first owner invited by email; partners kept apart from one another;
//! suspension refusing every token of a partner at once; the operator's
//! token and a partner's each passing only their own side.

use custodian_api::db::Backend;
use custodian_api::testing::TestServer;
use rstest::rstest;
use serde_json::{Value, json};

use crate::companies::post_with_key;
use crate::support::{
    account_sign_in, client_token, join_as_admin, operator_sign_in, operator_token, owner_token,
    seed, send, sign_in_to,
};

/// A partner's owner signs in with the password they chose: a token.
async fn owner_of(server: &TestServer, partner: &str, email: &str, password: &str) -> String {
    let token = sign_in_to(server, partner, email, password).await;
    token["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{token}"))
        .to_owned()
}

#[rstest]
#[actix_web::test]
async fn the_operator_makes_partners_whose_owners_join_by_email_and_stay_apart(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (status, refused) =
        operator_sign_in(&server, &server.operator.email, "not the password").await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let operator = operator_token(&server).await;

    // A partner and its first owner, who is invited (in German), under a
    // key: the retry makes nothing twice.
    let body = json!({"name": "Northwind IT", "owner": {"email": "Nora@Northwind.example", "name": "Nora", "locale": "de"}});
    let (status, replayed, location, created) = post_with_key(
        &server,
        &operator,
        "/v1/partners",
        "northwind-1",
        body.clone(),
    )
    .await;
    assert_eq!((status, replayed), (201, false), "{created}");
    let (status, replayed, _, again) =
        post_with_key(&server, &operator, "/v1/partners", "northwind-1", body).await;
    assert_eq!((status, replayed, &again), (201, true, &created));
    assert_eq!(created["partner"]["status"], "active");
    assert_eq!(created["owner"]["status"], "invited");
    assert_eq!(created["owner"]["email"], "nora@northwind.example");
    assert!(
        created.get("one_time_password").is_none() && created["owner"].get("password").is_none()
    );
    let northwind = created["partner"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location, Some(format!("/v1/partners/{northwind}")));
    let mail =
        crate::resets::newest_email(&server, "nora@northwind.example", "admin_invitation").await;
    assert_eq!(mail.subject(), "Sie sind zu einem Partnerportal eingeladen");
    assert!(mail.text().contains(&northwind), "{}", mail.text());
    let invited =
        crate::invitations::messages(&server, "nora@northwind.example", "admin_invitation").await;
    assert_eq!(invited.len(), 1, "one partner, one invitation");

    // Nora joins, signs in to her partner and works there.
    let joined = join_as_admin(&server, "nora@northwind.example", "nora's long passphrase").await;
    assert_eq!(joined["partner_id"], json!(northwind));
    let nora = owner_of(
        &server,
        &northwind,
        "nora@northwind.example",
        "nora's long passphrase",
    )
    .await;
    let (status, company) = send(
        &server,
        &nora,
        "POST",
        "/v1/companies",
        Some(json!({"name": "Contoso Dental"})),
    )
    .await;
    assert_eq!(status, 201, "{company}");
    let company = company["id"].as_str().unwrap().to_owned();
    let (status, _) = send(
        &server,
        &nora,
        "POST",
        "/v1/api-clients",
        Some(json!({"name": "PSA", "scopes": ["companies:read"]})),
    )
    .await;
    assert_eq!(status, 201);

    // The two partners know nothing of each other.
    let ours = owner_token(&server).await;
    let (status, problem) = send(
        &server,
        &ours,
        "GET",
        &format!("/v1/companies/{company}"),
        None,
    )
    .await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
    let (_, listed) = send(&server, &ours, "GET", "/v1/companies", None).await;
    assert!(!listed.to_string().contains(&company), "{listed}");
    let (_, partner) = send(&server, &nora, "GET", "/v1/partner", None).await;
    assert_eq!(partner["id"], json!(northwind));

    // The operator's token opens no partner, and no partner's token the
    // platform.
    for path in [
        "/v1/partner",
        "/v1/companies",
        "/v1/users?q=a",
        "/v1/audit-events",
    ] {
        let (status, _) = send(&server, &operator, "GET", path, None).await;
        assert_eq!(status, 401, "{path}");
    }
    for token in [&nora, &ours] {
        let (status, _) = send(&server, token, "GET", "/v1/partners", None).await;
        assert_eq!(status, 401);
    }

    // The operator lists partners, and what it did is in the partner's own
    // audit log, by the operator.
    let (status, page) = send(&server, &operator, "GET", "/v1/partners?limit=200", None).await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&northwind.as_str()) && ids.contains(&server.owner.partner_id.as_str()),
        "{page}"
    );
    let (_, events) = send(
        &server,
        &nora,
        "GET",
        "/v1/audit-events?action=createPartner",
        None,
    )
    .await;
    assert_eq!(events["items"][0]["actor_kind"], "operator", "{events}");
    assert_eq!(
        events["items"][0]["actor_id"],
        json!(server.operator.operator_id)
    );
    let (status, renamed) = send(
        &server,
        &operator,
        "PATCH",
        &format!("/v1/partners/{northwind}"),
        Some(json!({"name": "Northwind Managed IT"})),
    )
    .await;
    assert_eq!(
        (status, renamed["name"].as_str()),
        (200, Some("Northwind Managed IT"))
    );
    let (status, _) = send(
        &server,
        &operator,
        "GET",
        &format!("/v1/partners/{}", uuid::Uuid::now_v7()),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[rstest]
#[actix_web::test]
async fn a_suspended_partner_is_refused_at_once_until_it_is_reactivated(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let operator = operator_token(&server).await;
    let body =
        json!({"name": "Fabrikam IT", "owner": {"email": "fay@fabrikam.example", "name": "Fay"}});
    let (status, created) = send(&server, &operator, "POST", "/v1/partners", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let fabrikam = created["partner"]["id"].as_str().unwrap().to_owned();
    let joined = join_as_admin(&server, "fay@fabrikam.example", "fay's long passphrase").await;
    let fay = owner_of(
        &server,
        &fabrikam,
        "fay@fabrikam.example",
        "fay's long passphrase",
    )
    .await;
    // Fay invites a second owner, who has not joined: Fay stays the owner
    // who keeps the partner run, and may not leave.
    let olga = json!({"email": "olga@fabrikam.example", "name": "Olga", "role": "owner"});
    let (status, olga) = send(&server, &fay, "POST", "/v1/admins", Some(olga)).await;
    assert_eq!(status, 201, "{olga}");
    let fay_id = joined["admin_id"].as_str().unwrap();
    let path = format!("/v1/admins/{fay_id}");
    let (status, problem) = send(&server, &fay, "DELETE", &path, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("last_owner"))
    );
    let olga_link = crate::support::admin_invitation_token(&server, "olga@fabrikam.example").await;
    let (status, client) = send(
        &server,
        &fay,
        "POST",
        "/v1/api-clients",
        Some(json!({"name": "RMM", "scopes": ["partner:read"]})),
    )
    .await;
    assert_eq!(status, 201, "{client}");
    let (client_id, secret) = (
        client["client"]["id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    );
    let rmm = client_token(&server, &client_id, &secret).await;
    let company = seed::company(&server, &fabrikam, "Contoso").await;
    let user = seed::user(&server, &fabrikam, &company).await;
    let email = seed::activate(&server, &fabrikam, &user, "a-derived-key-0123").await;
    let (status, account) = account_sign_in(&server, &fabrikam, &email, "a-derived-key-0123").await;
    assert_eq!(status, 200, "{account}");
    let account = account["access_token"].as_str().unwrap().to_owned();
    let ours = owner_token(&server).await;

    let (status, suspended) = send(
        &server,
        &operator,
        "POST",
        &format!("/v1/partners/{fabrikam}/suspend"),
        None,
    )
    .await;
    assert_eq!(
        (status, suspended["status"].as_str()),
        (200, Some("suspended")),
        "{suspended}"
    );
    let since = suspended["suspended_at"].clone();
    assert!(since.is_string());

    // Every token of the partner dies at once: an owner's, an API
    // client's, an end user's; and none of them signs in.
    for token in [&fay, &rmm] {
        let (status, _) = send(&server, token, "GET", "/v1/partner", None).await;
        assert_eq!(status, 401);
    }
    let (status, _) = send(&server, &account, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(status, 401);
    let refused = sign_in_to(
        &server,
        &fabrikam,
        "fay@fabrikam.example",
        "fay's long passphrase",
    )
    .await;
    assert_eq!(refused["error"], "invalid_grant", "{refused}");
    let (status, _) = crate::support::client_grant(&server, &client_id, &secret).await;
    assert_eq!(status, 401);
    let (status, _) = account_sign_in(&server, &fabrikam, &email, "a-derived-key-0123").await;
    assert_eq!(status, 401);
    // Nor does anyone join it: an invitation's link is dead while it is.
    let olga = "olga's long passphrase";
    let (status, _) = crate::support::accept_admin_invitation(&server, &olga_link, olga).await;
    assert_eq!(status, 401);
    // Another partner goes on.
    let (status, _) = send(&server, &ours, "GET", "/v1/partner", None).await;
    assert_eq!(status, 200);

    // Suspending again changes nothing; the list filters on it.
    let (status, again) = send(
        &server,
        &operator,
        "POST",
        &format!("/v1/partners/{fabrikam}/suspend"),
        None,
    )
    .await;
    assert_eq!((status, &again["suspended_at"]), (200, &since));
    let (_, page) = send(
        &server,
        &operator,
        "GET",
        "/v1/partners?status=suspended",
        None,
    )
    .await;
    let suspended: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["id"])
        .collect();
    assert_eq!(suspended, vec![&json!(fabrikam)], "{page}");

    let (status, active) = send(
        &server,
        &operator,
        "POST",
        &format!("/v1/partners/{fabrikam}/reactivate"),
        None,
    )
    .await;
    assert_eq!((status, active["status"].as_str()), (200, Some("active")));
    assert!(active["suspended_at"].is_null());
    // No token from before the suspension comes back; new ones work.
    for token in [&fay, &rmm] {
        let (status, _) = send(&server, token, "GET", "/v1/partner", None).await;
        assert_eq!(status, 401);
    }
    let (status, _) = send(&server, &account, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(status, 401);
    let fay = owner_of(
        &server,
        &fabrikam,
        "fay@fabrikam.example",
        "fay's long passphrase",
    )
    .await;
    let (status, _) = crate::support::accept_admin_invitation(&server, &olga_link, olga).await;
    assert_eq!(status, 200, "the link works again");
    let (status, _) = send(&server, &fay, "GET", "/v1/partner", None).await;
    assert_eq!(status, 200);
    let (status, _) = account_sign_in(&server, &fabrikam, &email, "a-derived-key-0123").await;
    assert_eq!(status, 200);
    // Both changes are in the partner's audit log, once each.
    let (_, events) = send(&server, &fay, "GET", "/v1/audit-events?limit=200", None).await;
    let actions: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_kind"] == "operator")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["createPartner", "suspendPartner", "reactivatePartner"] {
        assert_eq!(
            actions.iter().filter(|a| **a == action).count(),
            1,
            "{action}: {actions:?}"
        );
    }
}

#[rstest]
#[actix_web::test]
async fn suspending_a_partner_withdraws_its_unsent_emails_and_cancels_its_batches(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use custodian_api::db::DbError;
    use custodian_api::db::schema::outbox_messages;
    use diesel::prelude::*;
    // No batch worker here: a batch stays running until it is cancelled.
    let Some(server) = TestServer::spawn_with(backend, |config| config.batch_concurrency = 0).await
    else {
        return;
    };
    let operator = operator_token(&server).await;
    let body =
        json!({"name": "Tailspin IT", "owner": {"email": "tia@tailspin.example", "name": "Tia"}});
    let (status, created) = send(&server, &operator, "POST", "/v1/partners", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let tailspin = created["partner"]["id"].as_str().unwrap().to_owned();
    join_as_admin(&server, "tia@tailspin.example", "tia's long passphrase").await;
    let tia = owner_of(
        &server,
        &tailspin,
        "tia@tailspin.example",
        "tia's long passphrase",
    )
    .await;
    let (status, company) = send(
        &server,
        &tia,
        "POST",
        "/v1/companies",
        Some(json!({"name": "Contoso"})),
    )
    .await;
    assert_eq!(status, 201, "{company}");
    let company = company["id"].as_str().unwrap().to_owned();
    // The mail server turns the invitation away: it waits to be tried again.
    server.mail.refuse(true);
    let uma = "uma@contoso.example";
    let (status, invited) = send(
        &server,
        &tia,
        "POST",
        &format!("/v1/companies/{company}/users"),
        Some(json!({"email": uma, "name": "Uma", "client_kind": "desktop"})),
    )
    .await;
    assert_eq!(status, 201, "{invited}");
    let uma_id = invited["id"].as_str().unwrap().to_owned();
    let (status, batch) = send(
        &server,
        &tia,
        "POST",
        "/v1/master-password-reset-batches",
        Some(json!({"user_ids": [uma_id], "confirmation": "Yes"})),
    )
    .await;
    assert_eq!(status, 202, "{batch}");
    let batch = batch["id"].as_str().unwrap().to_owned();

    let (status, _) = send(
        &server,
        &operator,
        "POST",
        &format!("/v1/partners/{tailspin}/suspend"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let partner = tailspin.clone();
    let unsent: Vec<(String, Option<String>, Option<Vec<u8>>)> = server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                outbox_messages::table
                    .filter(outbox_messages::partner_id.eq(partner))
                    .filter(outbox_messages::status.ne("sent"))
                    .select((
                        outbox_messages::status,
                        outbox_messages::last_error,
                        outbox_messages::payload_ciphertext,
                    ))
                    .load(conn)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(
        unsent,
        vec![(
            "dead".to_owned(),
            Some("withdrawn: the partner is suspended".to_owned()),
            None
        )],
        "the invitation is withdrawn, its link erased"
    );
    // An email queued after the suspension (by work that was under way)
    // is withdrawn when a worker claims it, and never sent.
    let (keys, partner) = (
        server.keys.clone(),
        custodian_api::ids::PartnerId::parse(&tailspin).unwrap(),
    );
    let now = server.clock.now();
    let late = server
        .database
        .pool()
        .write(move |conn| {
            custodian_api::db::outbox::queue(
                conn,
                &keys,
                partner,
                custodian_api::db::outbox::Email {
                    template: "master_password_changed",
                    locale: "en",
                    recipient: "late@contoso.example",
                    payload: &json!({"name": "Late", "changed_at": now}),
                    now,
                },
            )
        })
        .await
        .unwrap();
    server.mail.refuse(false);
    server.outbox.wake();
    crate::resets::outbox_status_becomes(&server, &late, "dead").await;
    assert!(server.mail.received().iter().all(|m| {
        m.rcpt_to
            .iter()
            .all(|to| !to.contains("late@contoso.example"))
    }));

    let (status, _) = send(
        &server,
        &operator,
        "POST",
        &format!("/v1/partners/{tailspin}/reactivate"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let tia = owner_of(
        &server,
        &tailspin,
        "tia@tailspin.example",
        "tia's long passphrase",
    )
    .await;
    let (status, progress) = send(
        &server,
        &tia,
        "GET",
        &format!("/v1/master-password-reset-batches/{batch}"),
        None,
    )
    .await;
    assert_eq!(
        (status, progress["status"].as_str()),
        (200, Some("cancelled")),
        "{progress}"
    );
    let (_, events) = send(
        &server,
        &tia,
        "GET",
        "/v1/audit-events?action=suspendPartner",
        None,
    )
    .await;
    assert_eq!(
        events["items"][0]["details"],
        json!({"emails_withdrawn": 1, "batches_cancelled": 1}),
        "{events}"
    );
    // The withdrawn invitation is never sent; inviting again sends one.
    let (status, _) = send(
        &server,
        &tia,
        "POST",
        &format!("/v1/users/{uma_id}/invitation"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    crate::resets::newest_email(&server, uma, "user_invitation").await;
    let received = server
        .mail
        .received()
        .iter()
        .filter(|m| m.rcpt_to.iter().any(|to| to.contains(uma)))
        .count();
    assert_eq!(received, 1);
}

/// `POST /v1/operator/token` with an operator's client's id and secret.
pub async fn operator_client_grant(server: &TestServer, id: &str, secret: &str) -> (u16, Value) {
    crate::support::client_grant_at(server, "/v1/operator/token", id, secret).await
}

#[rstest]
#[actix_web::test]
async fn the_vendors_automation_manages_partners_through_an_operator_client_and_never_credentials(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let operator = operator_token(&server).await;
    let (status, made) = send(
        &server,
        &operator,
        "POST",
        "/v1/operator/api-clients",
        Some(json!({"name": "Billing sync"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let id = made["client"]["id"].as_str().unwrap().to_owned();
    let secret = made["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("cso_"), "{made}");
    assert_eq!(
        made["client"]["created_by"],
        json!(server.operator.operator_id)
    );

    // The client signs in with its id and secret, and manages partners.
    let (status, token) = operator_client_grant(&server, &id, &secret).await;
    assert_eq!(
        (status, token["scope"].as_str()),
        (200, Some("operator")),
        "{token}"
    );
    let automation = token["access_token"].as_str().unwrap().to_owned();
    let body =
        json!({"name": "Contoso IT", "owner": {"email": "cy@contoso-it.example", "name": "Cy"}});
    let (status, created) = send(&server, &automation, "POST", "/v1/partners", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let contoso = created["partner"]["id"].as_str().unwrap().to_owned();
    let (status, suspended) = send(
        &server,
        &automation,
        "POST",
        &format!("/v1/partners/{contoso}/suspend"),
        None,
    )
    .await;
    assert_eq!(
        (status, suspended["status"].as_str()),
        (200, Some("suspended"))
    );
    let (status, _) = send(&server, &automation, "GET", "/v1/partners", None).await;
    assert_eq!(status, 200);
    // Nothing inside a partner: its token is not a partner's.
    let (status, _) = send(&server, &automation, "GET", "/v1/partner", None).await;
    assert_eq!(status, 401);
    // And never credentials: a leaked secret mints no other.
    for (method, path, body) in [
        ("GET", "/v1/operator/api-clients".to_owned(), None),
        (
            "POST",
            "/v1/operator/api-clients".to_owned(),
            Some(json!({"name": "Another"})),
        ),
        ("DELETE", format!("/v1/operator/api-clients/{id}"), None),
    ] {
        let (status, problem) = send(&server, &automation, method, &path, body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}"
        );
    }
    // A partner's owner reaches none of it.
    let owner = crate::support::owner_token(&server).await;
    let (status, _) = send(&server, &owner, "GET", "/v1/operator/api-clients", None).await;
    assert_eq!(status, 401);
    // A wrong secret is refused as a client's is.
    let (status, refused) = operator_client_grant(&server, &id, "cso_not-the-secret").await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("invalid_client")),
        "{refused}"
    );

    // The operator's staff see it, never its secret, and remove it: its
    // token and its secret stop at once.
    let (status, page) = send(&server, &operator, "GET", "/v1/operator/api-clients", None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["id"], json!(id), "{page}");
    assert!(!page.to_string().contains(&secret));
    let (status, _) = send(
        &server,
        &operator,
        "DELETE",
        &format!("/v1/operator/api-clients/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(&server, &automation, "GET", "/v1/partners", None).await;
    assert_eq!(status, 401);
    let (status, _) = operator_client_grant(&server, &id, &secret).await;
    assert_eq!(status, 401);
    let (status, _) = send(
        &server,
        &operator,
        "DELETE",
        &format!("/v1/operator/api-clients/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // The platform's own chain holds the client's life and its sign-ins,
    // intact; a partner's owner reads none of it.
    let (status, events) = send(
        &server,
        &operator,
        "GET",
        &format!("/v1/operator/audit-events?target_id={id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{events}");
    let seen: Vec<(&str, &str)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("createOperatorClient", "allow"),
            ("signIn", "allow"),
            ("signIn", "deny"),
            ("deleteOperatorClient", "allow"),
            ("signIn", "deny"),
        ],
        "{events}"
    );
    assert_eq!(
        events["items"][0]["actor_id"],
        json!(server.operator.operator_id)
    );
    let (status, verdict) = send(
        &server,
        &operator,
        "GET",
        "/v1/operator/audit-events/verify",
        None,
    )
    .await;
    assert_eq!(
        (status, &verdict["valid"]),
        (200, &json!(true)),
        "{verdict}"
    );
    let (status, _) = send(&server, &owner, "GET", "/v1/operator/audit-events", None).await;
    assert_eq!(status, 401);
    // The operator's staff reactivate what the automation suspended.
    let (status, _) = send(
        &server,
        &operator,
        "POST",
        &format!("/v1/partners/{contoso}/reactivate"),
        None,
    )
    .await;
    assert_eq!(status, 200);
}

#[rstest]
#[actix_web::test]
async fn an_expired_first_owner_invitation_is_sent_again_by_the_operator(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let operator = operator_token(&server).await;
    let body = json!({"name": "Litware", "owner": {"email": "lin@litware.example", "name": "Lin"}});
    let (status, created) = send(&server, &operator, "POST", "/v1/partners", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let litware = created["partner"]["id"].as_str().unwrap().to_owned();
    let first = crate::support::admin_invitation_token(&server, "lin@litware.example").await;
    server.clock.advance(chrono::Duration::days(8));
    let (status, _) =
        crate::support::accept_admin_invitation(&server, &first, "lin's long passphrase").await;
    assert_eq!(status, 401, "expired");
    let operator = operator_token(&server).await;
    let path = format!("/v1/partners/{litware}/owner-invitations");
    let (status, invited) = send(&server, &operator, "POST", &path, None).await;
    assert_eq!(status, 200, "{invited}");
    assert_eq!(invited["items"][0]["email"], "lin@litware.example");
    join_as_admin(&server, "lin@litware.example", "lin's long passphrase").await;
    let (status, problem) = send(&server, &operator, "POST", &path, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("owner_not_invited"))
    );
}

#[rstest]
#[actix_web::test]
async fn the_operator_replaces_the_printed_password_and_older_tokens_stop_working(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let printed = secrecy::ExposeSecret::expose_secret(&server.operator.password).to_owned();
    let operator = operator_token(&server).await;
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let (status, refused) = send(
        &server,
        &operator,
        "POST",
        "/v1/operator/password",
        Some(change("not the password", "a long new passphrase")),
    )
    .await;
    assert_eq!(
        (status, refused["errors"][0]["field"].as_str()),
        (422, Some("current_password")),
        "{refused}"
    );
    let (status, refused) = send(
        &server,
        &operator,
        "POST",
        "/v1/operator/password",
        Some(change(&printed, "short")),
    )
    .await;
    assert_eq!(
        (status, refused["errors"][0]["field"].as_str()),
        (422, Some("new_password"))
    );
    let (status, body) = send(
        &server,
        &operator,
        "POST",
        "/v1/operator/password",
        Some(change(&printed, "a long new passphrase")),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    // The token it was changed with is refused, the printed password too;
    // the new one signs in.
    let (status, _) = send(&server, &operator, "GET", "/v1/partners", None).await;
    assert_eq!(status, 401);
    let (status, refused) = operator_sign_in(&server, &server.operator.email, &printed).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, token) =
        operator_sign_in(&server, &server.operator.email, "a long new passphrase").await;
    assert_eq!(status, 200, "{token}");
    let operator = token["access_token"].as_str().unwrap().to_owned();

    // Audited in the platform's own chain, without either password.
    let (status, events) = send(
        &server,
        &operator,
        "GET",
        "/v1/operator/audit-events?action=changePassword",
        None,
    )
    .await;
    assert_eq!(status, 200, "{events}");
    assert_eq!(
        events["items"][0]["target_id"],
        json!(server.operator.operator_id),
        "{events}"
    );
    assert!(!events.to_string().contains("passphrase") && !events.to_string().contains(&printed));

    // An API client of the operator's has no password to change.
    let (status, made) = send(
        &server,
        &operator,
        "POST",
        "/v1/operator/api-clients",
        Some(json!({"name": "Billing sync"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let (status, token) = operator_client_grant(
        &server,
        made["client"]["id"].as_str().unwrap(),
        made["client_secret"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{token}");
    let (status, refused) = send(
        &server,
        token["access_token"].as_str().unwrap(),
        "POST",
        "/v1/operator/password",
        Some(change("anything at all", "a long new passphrase 2")),
    )
    .await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("forbidden")));
}
