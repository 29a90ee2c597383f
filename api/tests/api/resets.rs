//! The reset runbook, admin side: the preview, the confirmed reset in one
//! transaction (purge, backup copies kept and aging, tokens revoked, the
//! secret hashed and its email queued sealed), idempotent retries, races,
//! and the secret found nowhere in the database or a response.

use custodian_api::auth::RESET_SECRET;
use custodian_api::db::Backend;
use custodian_api::db::admins::Role;
use custodian_api::db::schema::{
    admins, backup_copies, master_password_resets, outbox_messages, partners, users, vault_items,
};
use custodian_api::testing::{Received, TestServer};
use diesel::prelude::*;
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{
    account_sign_in, dump_database, owner_token, seed, send, sign_in, vault_items_with_key,
};
use custodian_api::db::DbError;

/// A signed-in desktop user with `personal` personal items and `company`
/// company items, of which `backed_up` have a backup copy: (company, user,
/// email, account token).
pub async fn user_with_items(
    server: &TestServer,
    personal: usize,
    company: usize,
    backed_up: usize,
) -> (String, String, String, String) {
    let partner = server.owner.partner_id.clone();
    let company_id = seed::company(server, &partner, "Acme Dental").await;
    let user = seed::user(server, &partner, &company_id).await;
    let email = seed::activate(server, &partner, &user, "a-derived-key").await;
    for _ in 0..personal {
        seed::item(server, (&partner, &company_id, &user), "personal", false).await;
    }
    for i in 0..company {
        seed::item(
            server,
            (&partner, &company_id, &user),
            "company",
            i < backed_up,
        )
        .await;
    }
    let (status, token) = account_sign_in(server, &partner, &email, "a-derived-key").await;
    assert_eq!(status, 200, "{token}");
    let token = token["access_token"].as_str().unwrap().to_owned();
    (company_id, user, email, token)
}

fn reset_path(user: &str) -> String {
    format!("/v1/users/{user}/master-password-resets")
}

pub async fn post_reset(
    server: &TestServer,
    token: &str,
    user: &str,
    body: Value,
    key: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{}", server.base_url, reset_path(user)))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

pub async fn count_items(server: &TestServer, user: &str) -> i64 {
    let user = user.to_owned();
    server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                vault_items::table
                    .filter(vault_items::user_id.eq(user))
                    .count()
                    .get_result(conn)?,
            )
        })
        .await
        .unwrap()
}

#[rstest]
#[actix_web::test]
async fn the_preview_says_what_a_reset_would_do_and_changes_nothing(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (company, user, email, _) = user_with_items(&server, 2, 3, 2).await;
    let path = format!("/v1/users/{user}/master-password-reset-preview");
    let (status, preview) = send(&server, &owner, "GET", &path, None).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["user_id"], user.as_str());
    assert_eq!(preview["company_id"], company.as_str());
    assert_eq!(preview["email"], email.as_str());
    assert_eq!(preview["personal_items"], 2);
    assert_eq!(preview["company_items"], 3);
    assert_eq!(preview["company_items_backed_up"], 2);
    assert_eq!(preview["company_items_not_backed_up"], 1);
    assert_eq!(preview["acknowledgement_required"], true);
    assert_eq!(preview["delivery_kind"], "temporary_password");
    assert_eq!(preview["has_recovery_key"], false);
    assert_eq!(preview["supersedes"], Value::Null);
    assert_eq!(
        preview["confirmation"],
        json!({"phrase": "Yes", "localized": null, "case_sensitive": false})
    );
    assert_eq!(
        count_items(&server, &user).await,
        5,
        "a preview changes nothing"
    );

    // A webapp user gets a link; so does everyone once the partner says so.
    let webapp = user.clone();
    server
        .database
        .pool()
        .run(move |conn| {
            diesel::update(users::table.filter(users::id.eq(webapp)))
                .set(users::client_kind.eq("webapp"))
                .execute(conn)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    let (_, preview) = send(&server, &owner, "GET", &path, None).await;
    assert_eq!(preview["delivery_kind"], "link");
    let (_, desktop, _, _) = user_with_items(&server, 0, 0, 0).await;
    let desktop_path = format!("/v1/users/{desktop}/master-password-reset-preview");
    let (_, preview) = send(&server, &owner, "GET", &desktop_path, None).await;
    assert_eq!(preview["delivery_kind"], "temporary_password");
    assert_eq!(preview["acknowledgement_required"], false);
    let (status, _) = send(
        &server,
        &owner,
        "PATCH",
        "/v1/partner",
        Some(json!({"links_for_everyone": true})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, preview) = send(&server, &owner, "GET", &desktop_path, None).await;
    assert_eq!(preview["delivery_kind"], "link");

    // A French admin may type "Oui", as the preview tells them.
    let (admin_email, admin_password) = server.create_admin(Role::Admin, &[]).await;
    let french = admin_email.clone();
    server
        .database
        .pool()
        .run(move |conn| {
            diesel::update(admins::table.filter(admins::email.eq(french)))
                .set(admins::locale.eq("fr"))
                .execute(conn)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    let admin = sign_in(&server, &admin_email, &admin_password)
        .await
        .unwrap();
    let (_, preview) = send(&server, &admin, "GET", &desktop_path, None).await;
    assert_eq!(preview["confirmation"]["localized"], "Oui");
    let (status, reset, _) = post_reset(
        &server,
        &admin,
        &desktop,
        json!({"confirmation": "  oui "}),
        None,
    )
    .await;
    assert_eq!(status, 201, "{reset}");
    let (_, preview) = send(&server, &admin, "GET", &desktop_path, None).await;
    assert_eq!(
        preview["supersedes"], reset["id"],
        "the pending reset is named"
    );
}

#[rstest]
#[actix_web::test]
async fn a_reset_purges_the_vault_keeps_backed_up_items_as_copies_and_revokes_the_users_tokens(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (company, user, email, account) = user_with_items(&server, 2, 2, 2).await;
    let (status, _) = send(&server, &account, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(status, 200, "the user's token works before");

    let body = json!({"confirmation": "Yes", "reason": " lost it ", "ticket": "PSA-1234"});
    let (status, reset, headers) = post_reset(&server, &owner, &user, body, None).await;
    assert_eq!(status, 201, "{reset}");
    let id = reset["id"].as_str().unwrap().to_owned();
    assert_eq!(
        headers["location"].to_str().unwrap(),
        format!("/v1/master-password-resets/{id}")
    );
    assert_eq!(reset["status"], "pending_user_action");
    assert_eq!(reset["delivery_kind"], "temporary_password");
    assert_eq!(reset["user_id"], user.as_str());
    assert_eq!(reset["company_id"], company.as_str());
    assert_eq!(reset["personal_items_purged"], 2);
    assert_eq!(reset["company_items_purged"], 0);
    assert_eq!(reset["company_items_preserved"], 2);
    assert_eq!(reset["reason"], "lost it");
    assert_eq!(reset["ticket"], "PSA-1234");
    assert_eq!(reset["email_status"], "queued");
    assert_eq!(reset["requested_by"]["kind"], "admin");

    // The vault is empty, the copies stay with their retention clock started,
    // and the token the user held is refused.
    assert_eq!(count_items(&server, &user).await, 0);
    let owner_of_copies = user.clone();
    let copies: Vec<(Option<String>, bool)> = server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                backup_copies::table
                    .filter(backup_copies::user_id.eq(owner_of_copies))
                    .select((
                        backup_copies::removal_reason,
                        backup_copies::expires_at.is_not_null(),
                    ))
                    .load(conn)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(copies, vec![(Some("purged".to_owned()), true); 2]);
    let (status, problem) = send(&server, &account, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(status, 401, "{problem}");
    let (status, _) =
        account_sign_in(&server, &server.owner.partner_id, &email, "a-derived-key").await;
    assert_eq!(
        status, 401,
        "the old master password is forgotten: whoever still knows it cannot sign in"
    );

    // The email arrives at the SMTP server, in the user's locale, with the
    // secret whose keyed hash the reset keeps; then the reset says so.
    let mail = newest_email(&server, &email, "master_password_reset").await;
    assert_eq!(mail.rcpt_to, vec![email.clone()]);
    assert_eq!(mail.mail_from, "custodian@localhost");
    assert_eq!(mail.subject(), "Your master password was reset");
    assert!(mail.message_id().starts_with("master_password_reset."));
    let secret = secret_in(&mail);
    assert_eq!(secret.chars().count(), 20);
    assert!(mail.html().contains(&format!(">{secret}</code>")));
    let mut reset = reset;
    reset["email_status"] = json!("sent");

    // The reset reads back, alone and in lists.
    let (status, read) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/master-password-resets/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(read, reset);
    for query in [
        format!("user_id={user}"),
        format!("company_id={company}"),
        "status=pending_user_action".into(),
    ] {
        let (status, page) = send(
            &server,
            &owner,
            "GET",
            &format!("/v1/master-password-resets?{query}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["items"], json!([reset]), "{query}");
    }
    let (_, page) = send(
        &server,
        &owner,
        "GET",
        "/v1/master-password-resets?status=completed",
        None,
    )
    .await;
    assert_eq!(page["items"], json!([]));
    let (status, problem) = send(
        &server,
        &owner,
        "GET",
        "/v1/master-password-resets?status=done",
        None,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("invalid_value"))
    );

    // Sent, the outbox row has lost its payload.
    let (status, payload): (String, Option<Vec<u8>>) = server
        .database
        .pool()
        .run(|conn| {
            Ok::<_, DbError>(
                outbox_messages::table
                    .select((outbox_messages::status, outbox_messages::payload_ciphertext))
                    .first(conn)?,
            )
        })
        .await
        .unwrap();
    assert_eq!((status.as_str(), payload), ("sent", None));
    let stored_hash: Vec<u8> = server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                master_password_resets::table
                    .filter(master_password_resets::id.eq(id))
                    .select(master_password_resets::secret_hash.assume_not_null())
                    .first(conn)?,
            )
        })
        .await
        .unwrap();
    assert!(
        server
            .keys
            .verify_keyed_hash(RESET_SECRET, secret.as_bytes(), &stored_hash)
    );

    // Nowhere in plaintext: not in any column of any table, nor in what the
    // admin was answered.
    let dump = dump_database(&server).await;
    assert!(dump.contains(&user), "the dump reads the tables");
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(!dump.contains(&secret) && !dump.to_lowercase().contains(&hex));
    assert!(!reset.to_string().contains(&secret));
    let (_, audit) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=resetMasterPassword",
        None,
    )
    .await;
    let event = &audit["items"][0];
    assert_eq!(event["details"]["personal_items_purged"], 2, "{audit}");
    assert!(!audit.to_string().contains(&secret));
    let user_row = user.clone();
    let (status, generation): (String, i64) = server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                users::table
                    .filter(users::id.eq(user_row))
                    .select((users::status, users::token_generation))
                    .first(conn)?,
            )
        })
        .await
        .unwrap();
    assert_eq!((status.as_str(), generation), ("reset_pending", 1));
}

#[rstest]
#[actix_web::test]
async fn a_reset_needs_the_phrase_and_an_acknowledgement_for_what_is_not_backed_up(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, _, _) = user_with_items(&server, 1, 3, 1).await;
    for wrong in ["No", "Ye", "Yes!", "", "Oui"] {
        let (status, problem, _) =
            post_reset(&server, &owner, &user, json!({"confirmation": wrong}), None).await;
        assert_eq!(status, 422, "{wrong:?}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "confirmation");
    }
    let (status, problem, _) = post_reset(
        &server,
        &owner,
        &user,
        json!({"confirmation": "Yes", "surprise": true}),
        None,
    )
    .await;
    assert_eq!(status, 422, "unknown fields are refused: {problem}");
    let (status, problem, _) = post_reset(
        &server,
        &owner,
        &user,
        json!({"confirmation": "Yes", "ticket": "x".repeat(101)}),
        None,
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("ticket"))
    );

    let (status, problem, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "YES"}), None).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "company_items_not_backed_up");
    assert_eq!(
        problem["vault"],
        json!({"personal_items": 1, "company_items": 3, "company_items_backed_up": 1,
               "company_items_not_backed_up": 2})
    );
    assert_eq!(count_items(&server, &user).await, 4, "nothing was purged");
    let (_, audit) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=purgeVault",
        None,
    )
    .await;
    assert_eq!(audit["items"][0]["decision"], "deny", "{audit}");
    assert_eq!(
        audit["items"][0]["policy_ids"],
        json!(["purge-needs-backups-or-acknowledgement"])
    );

    let (status, reset, _) = post_reset(
        &server,
        &owner,
        &user,
        json!({"confirmation": "Yes", "acknowledge_company_data_loss": true}),
        None,
    )
    .await;
    assert_eq!(status, 201, "{reset}");
    assert_eq!(reset["company_items_purged"], 2);
    assert_eq!(reset["company_items_preserved"], 1);
    assert_eq!(reset["acknowledged_company_data_loss"], true);
    assert_eq!(count_items(&server, &user).await, 0);
}

#[rstest]
#[actix_web::test]
async fn who_may_reset_whom(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (company, user, _, _) = user_with_items(&server, 1, 0, 0).await;
    let (other_company, other_user, _, _) = user_with_items(&server, 1, 0, 0).await;
    let (email, password) = server
        .create_admin(Role::Technician, std::slice::from_ref(&company))
        .await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let yes = json!({"confirmation": "Yes"});
    let (status, problem, _) =
        post_reset(&server, &technician, &other_user, yes.clone(), None).await;
    assert_eq!(status, 404, "outside the technician's companies: {problem}");
    assert_eq!(problem["code"], "not_found");
    assert_eq!(count_items(&server, &other_user).await, 1);
    let (status, _, _) = post_reset(&server, &technician, &user, yes.clone(), None).await;
    assert_eq!(status, 201, "in an assigned company");
    // The technician lists the resets of their companies only.
    let owner = owner_token(&server).await;
    let (status, _, _) = post_reset(&server, &owner, &other_user, yes.clone(), None).await;
    assert_eq!(status, 201);
    let (_, page) = send(
        &server,
        &technician,
        "GET",
        "/v1/master-password-resets",
        None,
    )
    .await;
    let listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["company_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![company.as_str()], "not {other_company}");

    // Another partner's user is not there at all.
    let stranger = seed::partner(&server, "Other MSP").await;
    let their_company = seed::company(&server, &stranger, "Theirs").await;
    let theirs = seed::user(&server, &stranger, &their_company).await;
    let (status, problem, _) = post_reset(&server, &owner, &theirs, yes.clone(), None).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("not_found")));
    let (status, _) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/users/{theirs}/master-password-reset-preview"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = post_reset(&server, &owner, "not-a-uuid", yes, None).await;
    assert_eq!(status, 404);
}

#[rstest]
#[actix_web::test]
async fn a_retry_with_the_same_idempotency_key_answers_the_first_result(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, _, _) = user_with_items(&server, 3, 0, 0).await;
    let body = json!({"confirmation": "Yes", "ticket": "T-1"});
    let (status, first, _) =
        post_reset(&server, &owner, &user, body.clone(), Some("retry-1")).await;
    assert_eq!(status, 201, "{first}");
    let (status, again, headers) =
        post_reset(&server, &owner, &user, body.clone(), Some("retry-1")).await;
    assert_eq!(status, 201);
    assert_eq!(again, first, "the same reset, not a second one");
    assert_eq!(headers["idempotent-replayed"], "true");
    let (status, problem, _) = post_reset(
        &server,
        &owner,
        &user,
        json!({"confirmation": "Yes", "ticket": "T-2"}),
        Some("retry-1"),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    let (status, _, _) = post_reset(&server, &owner, &user, body.clone(), Some("bad key")).await;
    assert_eq!(status, 422, "a key is visible ASCII");
    let resets: i64 = server
        .database
        .pool()
        .run(|conn| Ok::<_, DbError>(master_password_resets::table.count().get_result(conn)?))
        .await
        .unwrap();
    assert_eq!(resets, 1);
    // Another admin's same key is another key; resetting again needs the
    // pending reset named.
    let other = owner_token(&server).await;
    let (status, problem, _) = post_reset(&server, &other, &user, body, Some("retry-1")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("reset_pending")),
        "{problem}"
    );
    let (status, problem, _) = post_reset(
        &server,
        &other,
        &user,
        json!({"confirmation": "Yes", "supersedes": uuid::Uuid::now_v7()}),
        None,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("reset_pending")),
        "{problem}"
    );
    let (status, second, _) = post_reset(
        &server,
        &other,
        &user,
        json!({"confirmation": "Yes", "supersedes": first["id"]}),
        Some("retry-1"),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_ne!(second["id"], first["id"]);
    let (_, page) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/master-password-resets?user_id={user}"),
        None,
    )
    .await;
    let statuses: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["superseded", "pending_user_action"]);
    assert_eq!(page["items"][0]["superseded_by"], second["id"]);
}

#[rstest]
#[actix_web::test]
async fn two_resets_racing_purge_once(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let pool = server.database.pool();
    for round in 0..100 {
        let user = seed::user(&server, &partner, &company).await;
        seed::item(&server, (&partner, &company, &user), "personal", false).await;
        // Half the rounds race two different keys, half the same key.
        let keys = if round % 2 == 0 {
            [None, None]
        } else {
            [Some("same"), Some("same")]
        };
        let key_a = keys[0].map(|k| format!("{k}-{round}"));
        let key_b = keys[1].map(|k| format!("{k}-{round}"));
        let (a, b) = futures_util::future::join(
            post_reset(
                &server,
                &owner,
                &user,
                json!({"confirmation": "Yes"}),
                key_a.as_deref(),
            ),
            post_reset(
                &server,
                &owner,
                &user,
                json!({"confirmation": "Yes"}),
                key_b.as_deref(),
            ),
        )
        .await;
        let mut statuses = [a.0, b.0];
        statuses.sort_unstable();
        let purges: i64 = {
            let user = user.clone();
            pool.run(move |conn| {
                Ok::<_, DbError>(
                    master_password_resets::table
                        .filter(master_password_resets::user_id.eq(user))
                        .count()
                        .get_result(conn)?,
                )
            })
            .await
            .unwrap()
        };
        assert_eq!(
            purges, 1,
            "round {round}: one reset, one purge ({a:?} / {b:?})"
        );
        if round % 2 == 0 {
            assert_eq!(statuses, [201, 409], "round {round}: {a:?} / {b:?}");
        } else {
            assert_eq!(
                statuses,
                [201, 201],
                "round {round}: the same key answers the same"
            );
            assert_eq!(a.1["id"], b.1["id"]);
        }
    }
    let partner_row: i64 = server
        .database
        .pool()
        .run(|conn| Ok::<_, DbError>(partners::table.count().get_result(conn)?))
        .await
        .unwrap();
    assert_eq!(partner_row, 1);
}

/// The newest email of `template` to `email`, once the SMTP sink received
/// it and the outbox recorded it sent.
pub async fn newest_email(server: &TestServer, email: &str, template: &str) -> Received {
    let (email, template) = (email.to_owned(), template.to_owned());
    let (id, message_id): (String, String) = server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                outbox_messages::table
                    .filter(outbox_messages::recipient.eq(email))
                    .filter(outbox_messages::template.eq(template))
                    .order(outbox_messages::id.desc())
                    .select((outbox_messages::id, outbox_messages::message_id))
                    .first(conn)?,
            )
        })
        .await
        .unwrap();
    let received = server.mail.wait_for_id(&message_id).await;
    outbox_status_becomes(server, &id, "sent").await;
    received
}

/// Waits until the outbox message `id` has `status` (the worker records an
/// outcome just after the SMTP server answered).
pub async fn outbox_status_becomes(server: &TestServer, id: &str, status: &str) {
    for _ in 0..500 {
        let id = id.to_owned();
        let now: String = server
            .database
            .pool()
            .run(move |conn| {
                Ok::<_, DbError>(
                    outbox_messages::table
                        .filter(outbox_messages::id.eq(id))
                        .select(outbox_messages::status)
                        .first(conn)?,
                )
            })
            .await
            .unwrap();
        if now == status {
            return;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("outbox message {id} never became {status}");
}

/// The secret in a reset email, as the user reads it: the temporary
/// password set apart on its own line, or the link's token.
pub fn secret_in(email: &Received) -> String {
    let text = email.text();
    if let Some((_, token)) = text.split_once("#token=") {
        return token.split_whitespace().next().unwrap().to_owned();
    }
    text.lines()
        .find_map(|line| line.strip_prefix("    "))
        .unwrap_or_else(|| panic!("no secret in {text}"))
        .to_owned()
}

/// The secret of the newest reset email to `email`, as the user reads it
/// from the email the SMTP sink received.
pub async fn emailed_secret(server: &TestServer, email: &str) -> String {
    secret_in(&newest_email(server, email, "master_password_reset").await)
}

pub async fn sign_in_with_temporary(
    server: &TestServer,
    email: &str,
    secret: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/account/token", server.base_url))
        .json(&json!({
            "partner_id": server.owner.partner_id,
            "email": email,
            "temporary_password": secret,
        }))
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[rstest]
#[actix_web::test]
async fn a_desktop_user_finishes_the_reset_with_the_temporary_password(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, email, _) = user_with_items(&server, 1, 0, 0).await;
    let (status, reset, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    assert_eq!(status, 201, "{reset}");
    let secret = emailed_secret(&server, &email).await;

    // Wrong, or sent where a key goes: refused alike.
    let (status, wrong) = sign_in_with_temporary(&server, &email, "Not-The-Secret-2x").await;
    assert_eq!(status, 401, "{wrong}");
    let (status, _) = account_sign_in(&server, &server.owner.partner_id, &email, &secret).await;
    assert_eq!(
        status, 401,
        "a temporary password is not an authentication key"
    );

    let (status, token) = sign_in_with_temporary(&server, &email, &secret).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["scope"], "master-password:set");
    let restricted = token["access_token"].as_str().unwrap().to_owned();
    let (status, _) = send(&server, &restricted, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(status, 401, "the restricted token opens no vault");

    let new_key = json!({"auth_key": "the-new-derived-key-0123", "encrypted_vault_key": "c2VhbGVkIGtleQ==", "kdf_params": "argon2id m=65536 t=3 p=4"});
    let (status, problem) = send(
        &server,
        &restricted,
        "POST",
        "/v1/account/master-password",
        Some(json!({"auth_key": "short", "encrypted_vault_key": "c2VhbGVk"})),
    )
    .await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("auth_key"))
    );
    let (status, body) = send(
        &server,
        &restricted,
        "POST",
        "/v1/account/master-password",
        Some(new_key.clone()),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    // The reset is completed, its secret dead, the restricted token too.
    let (_, read) = send(
        &server,
        &owner,
        "GET",
        &format!(
            "/v1/master-password-resets/{}",
            reset["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(read["status"], "completed");
    assert!(read["completed_at"].is_string());
    let (status, _) = sign_in_with_temporary(&server, &email, &secret).await;
    assert_eq!(status, 401, "single use");
    let (status, _) = send(
        &server,
        &restricted,
        "POST",
        "/v1/account/master-password",
        Some(new_key),
    )
    .await;
    assert_eq!(status, 401, "the restricted token died with its use");
    let items = vault_items_with_key(&server, &email, "the-new-derived-key-0123").await;
    assert_eq!(items, json!([]), "the reset purged the vault");
    let user_id = user.clone();
    let status: String = server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                users::table
                    .filter(users::id.eq(user_id))
                    .select(users::status)
                    .first(conn)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(status, "active");

    // The user is told the master password changed (ASVS 2.5.5), by email.
    let notice = newest_email(&server, &email, "master_password_changed").await;
    assert_eq!(notice.subject(), "Your master password was changed");
    assert!(
        notice.text().contains("was changed on"),
        "{}",
        notice.text()
    );
    let changed = server
        .mail
        .received()
        .iter()
        .filter(|m| m.message_id().starts_with("master_password_changed."))
        .count();
    assert_eq!(changed, 1);
}

#[rstest]
#[actix_web::test]
async fn expired_and_superseded_temporary_passwords_are_refused_alike(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, email, _) = user_with_items(&server, 0, 0, 0).await;
    let (_, first, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    let old = emailed_secret(&server, &email).await;
    let (status, _, _) = post_reset(
        &server,
        &owner,
        &user,
        json!({"confirmation": "Yes", "supersedes": first["id"]}),
        None,
    )
    .await;
    assert_eq!(status, 201);
    let new = emailed_secret(&server, &email).await;
    assert_ne!(old, new);
    let (status, superseded) = sign_in_with_temporary(&server, &email, &old).await;
    assert_eq!(status, 401);

    // 72 hours later the new one has expired too; the answer is the same.
    server
        .clock
        .advance(chrono::Duration::seconds(72 * 3600 + 1));
    let (status, expired) = sign_in_with_temporary(&server, &email, &new).await;
    assert_eq!(status, 401);
    assert_eq!(
        superseded["detail"], expired["detail"],
        "the problem does not say which"
    );
    let (status, unknown) = sign_in_with_temporary(&server, "nobody@example.com", &new).await;
    assert_eq!((status, &unknown["detail"]), (401, &expired["detail"]));
}

#[rstest]
#[actix_web::test]
async fn a_reissue_kills_the_old_secret_and_sends_a_new_one_without_purging_again(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, email, _) = user_with_items(&server, 2, 0, 0).await;
    let (_, reset, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    let id = reset["id"].as_str().unwrap().to_owned();
    let old = emailed_secret(&server, &email).await;
    let (status, old_token) = sign_in_with_temporary(&server, &email, &old).await;
    assert_eq!(status, 200);
    // The user adds nothing meanwhile; a re-issue must not purge anyway.
    let path = format!("/v1/master-password-resets/{id}/reissue");
    let (status, reissued) = send(&server, &owner, "POST", &path, None).await;
    assert_eq!(status, 200, "{reissued}");
    assert_eq!(reissued["id"], reset["id"]);
    assert_eq!(reissued["reissue_count"], 1);
    assert_eq!(reissued["status"], "pending_user_action");
    assert_eq!(
        reissued["personal_items_purged"], 2,
        "the first purge's counts stay"
    );
    assert_eq!(reissued["email_status"], "queued");
    let new = emailed_secret(&server, &email).await;
    assert_ne!(old, new);
    let (status, _) = sign_in_with_temporary(&server, &email, &old).await;
    assert_eq!(status, 401, "the old secret died at once");
    let (status, _) = send(
        &server,
        old_token["access_token"].as_str().unwrap(),
        "POST",
        "/v1/account/master-password",
        Some(json!({"auth_key": "the-new-derived-key-0123", "encrypted_vault_key": "a2V5"})),
    )
    .await;
    assert_eq!(status, 401, "and so did the token it gave");
    let withdrawn: Vec<(String, bool)> = {
        let email = email.clone();
        server
            .database
            .pool()
            .run(move |conn| {
                Ok::<_, DbError>(
                    outbox_messages::table
                        .filter(outbox_messages::recipient.eq(email))
                        .order(outbox_messages::id.asc())
                        .select((
                            outbox_messages::status,
                            outbox_messages::payload_ciphertext.is_not_null(),
                        ))
                        .load(conn)?,
                )
            })
            .await
            .unwrap()
    };
    assert_eq!(
        withdrawn,
        vec![("sent".to_owned(), false), ("sent".to_owned(), false)],
        "both emails went out, their payloads erased (an unsent one is withdrawn: tests/api/mail.rs)"
    );
    let (status, token) = sign_in_with_temporary(&server, &email, &new).await;
    assert_eq!(status, 200, "{token}");
    let (status, _) = send(
        &server,
        token["access_token"].as_str().unwrap(),
        "POST",
        "/v1/account/master-password",
        Some(json!({"auth_key": "the-new-derived-key-0123", "encrypted_vault_key": "a2V5"})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, problem) = send(&server, &owner, "POST", &path, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("reset_not_pending"))
    );
    let (status, _) = send(
        &server,
        &owner,
        "POST",
        &format!(
            "/v1/master-password-resets/{}/reissue",
            uuid::Uuid::now_v7()
        ),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

/// Makes a user a webapp user writing in `locale`.
async fn make_webapp(server: &TestServer, user: &str, locale: &'static str) {
    let user = user.to_owned();
    server
        .database
        .pool()
        .run(move |conn| {
            diesel::update(users::table.filter(users::id.eq(user)))
                .set((users::client_kind.eq("webapp"), users::locale.eq(locale)))
                .execute(conn)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
}

async fn complete_link(server: &TestServer, token: &str, auth_key: &str) -> (u16, Value) {
    redeem_link(server, "/v1/account/reset-link", token, auth_key).await
}

/// A link's token with new key material, posted to `path` (a reset's link
/// or an invitation's): (status, body).
pub async fn redeem_link(
    server: &TestServer,
    path: &str,
    token: &str,
    auth_key: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url))
        .json(&json!({
            "token": token,
            "auth_key": auth_key,
            "encrypted_vault_key": "bmV3IHZhdWx0IGtleQ==",
            "kdf_params": "argon2id;m=65536;t=3;p=4",
        }))
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

#[rstest]
#[actix_web::test]
async fn a_webapp_user_finishes_the_reset_with_the_emailed_link(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (company, user, email, account) = user_with_items(&server, 1, 1, 1).await;
    make_webapp(&server, &user, "de").await;
    let preview_path = format!("/v1/users/{user}/master-password-reset-preview");
    let (_, preview) = send(&server, &owner, "GET", &preview_path, None).await;
    assert_eq!(preview["delivery_kind"], "link");
    let (status, reset, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    assert_eq!(status, 201, "{reset}");
    assert_eq!(reset["delivery_kind"], "link");
    let id = reset["id"].as_str().unwrap().to_owned();

    // The email, in German, carries a link to the webapp with the token in
    // its fragment.
    let mail = newest_email(&server, &email, "master_password_reset").await;
    assert_eq!(mail.subject(), "Ihr Master-Passwort wurde zurückgesetzt");
    let prefix = format!("{}/reset-master-password#token=", server.base_url);
    assert!(mail.text().contains(&prefix), "{}", mail.text());
    let token = secret_in(&mail);
    assert!(mail.html().contains(&format!("href=\"{prefix}{token}\"")));
    assert_eq!(token.len(), 43, "256 bits in unpadded base64url");

    // A link is not a temporary password, and a wrong token is refused.
    assert_eq!(sign_in_with_temporary(&server, &email, &token).await.0, 401);
    let (status, wrong) = complete_link(&server, "not-the-token", "a-new-derived-key-0123").await;
    assert_eq!(status, 401, "{wrong}");
    // Bad material is refused before the token is spent.
    let (status, problem) = complete_link(&server, &token, "short").await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("auth_key"))
    );

    let (status, body) = complete_link(&server, &token, "a-new-derived-key-0123").await;
    assert_eq!(status, 204, "{body}");
    let (_, read) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/master-password-resets/{id}"),
        None,
    )
    .await;
    assert_eq!(read["status"], "completed");
    let (status, used) = complete_link(&server, &token, "a-new-derived-key-0123").await;
    assert_eq!(status, 401, "single use");
    assert_eq!(
        used["detail"], wrong["detail"],
        "the problem does not say which"
    );

    // The old token is dead, the new key signs in to an empty vault, and the
    // backed-up company item lives on as its backup copy.
    let (status, _) = send(&server, &account, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(status, 401);
    let items = vault_items_with_key(&server, &email, "a-new-derived-key-0123").await;
    assert_eq!(items, json!([]));
    let (_, copies) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/companies/{company}/backups"),
        None,
    )
    .await;
    assert_eq!(copies["items"].as_array().unwrap().len(), 1, "{copies}");
    let notice = newest_email(&server, &email, "master_password_changed").await;
    assert_eq!(notice.subject(), "Ihr Master-Passwort wurde geändert");

    // Both the refusal and the change are audited, the token in neither.
    let (_, refused) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=setMasterPassword",
        None,
    )
    .await;
    assert_eq!(refused["items"][0]["details"]["via"], "link", "{refused}");
    let dump = dump_database(&server).await;
    let token_text = secret_in(&mail);
    assert!(!dump.contains(&token_text));
}

#[rstest]
#[actix_web::test]
async fn expired_and_reissued_links_are_refused_alike(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, email, _) = user_with_items(&server, 0, 0, 0).await;
    make_webapp(&server, &user, "en").await;
    let (_, reset, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    let old = emailed_secret(&server, &email).await;
    let path = format!(
        "/v1/master-password-resets/{}/reissue",
        reset["id"].as_str().unwrap()
    );
    let (status, _) = send(&server, &owner, "POST", &path, None).await;
    assert_eq!(status, 200);
    let new = emailed_secret(&server, &email).await;
    assert_ne!(old, new);
    let (status, reissued) = complete_link(&server, &old, "a-new-derived-key-0123").await;
    assert_eq!(status, 401, "the re-issue killed the old link");
    server
        .clock
        .advance(chrono::Duration::seconds(72 * 3600 + 1));
    let (status, expired) = complete_link(&server, &new, "a-new-derived-key-0123").await;
    assert_eq!(status, 401, "expired after 72 hours");
    assert_eq!(reissued["detail"], expired["detail"]);
}

#[rstest]
#[actix_web::test]
async fn an_expired_reset_is_marked_and_a_reissue_brings_it_back(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, email, _) = user_with_items(&server, 1, 0, 0).await;
    // The mail server is away: the email is still unsent when the secret
    // expires.
    server.mail.refuse(true);
    let (_, reset, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    let id = reset["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/master-password-resets/{id}");
    for _ in 0..500 {
        let (_, read) = send(&server, &owner, "GET", &path, None).await;
        if read["email_status"] == "retrying" {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pool = server.database.pool();
    assert_eq!(
        custodian_api::retention::expire_resets(&pool, &server.clock)
            .await
            .unwrap(),
        0,
        "not yet"
    );
    server
        .clock
        .advance(chrono::Duration::seconds(72 * 3600 + 1));
    assert_eq!(
        custodian_api::retention::expire_resets(&pool, &server.clock)
            .await
            .unwrap(),
        1
    );
    // Three days on, the admin's token has aged out with the server's clock.
    let owner = owner_token(&server).await;
    let (_, read) = send(&server, &owner, "GET", &path, None).await;
    assert_eq!(read["status"], "expired");
    assert_eq!(
        read["email_status"], "dead",
        "the unsent email is withdrawn"
    );
    let (_, listed) = send(
        &server,
        &owner,
        "GET",
        "/v1/master-password-resets?status=expired",
        None,
    )
    .await;
    assert_eq!(listed["items"][0]["id"], id.as_str());

    // The admin re-issues it: pending again, a fresh email, a secret that works.
    server.mail.refuse(false);
    let (status, reissued) = send(&server, &owner, "POST", &format!("{path}/reissue"), None).await;
    assert_eq!(status, 200, "{reissued}");
    assert_eq!(reissued["status"], "pending_user_action");
    let secret = emailed_secret(&server, &email).await;
    let (status, _) = sign_in_with_temporary(&server, &email, &secret).await;
    assert_eq!(status, 200);

    // Expired again, then replaced by a new reset, which supersedes it: it
    // can never come back.
    server
        .clock
        .advance(chrono::Duration::seconds(72 * 3600 + 1));
    custodian_api::retention::expire_resets(&pool, &server.clock)
        .await
        .unwrap();
    let owner = owner_token(&server).await;
    let (status, _, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    assert_eq!(
        status, 201,
        "an expired reset is not pending: no supersedes needed"
    );
    let (status, problem) = send(&server, &owner, "POST", &format!("{path}/reissue"), None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("reset_not_pending"))
    );
    let (_, read) = send(&server, &owner, "GET", &path, None).await;
    assert_eq!(read["status"], "superseded");
}
