//! Approval by policy: with `policies/approval.cedar` loaded
//! (`CUSTODIAN_POLICY_DIR`), a reset it matches waits `awaiting_approval`
//! (nothing purged, nothing sent) until a different admin approves it (it
//! then runs as a direct reset would) or rejects it, or it expires.

use std::path::PathBuf;
use std::time::Duration;

use custodian_api::db::Backend;
use custodian_api::db::admins::Role;
use custodian_api::testing::TestServer;
use custodian_sdk::types;
use rstest::rstest;
use serde_json::{Value, json};

use crate::batches::{batch_request, finished, sdk_admin};
use crate::resets::{count_items, post_reset, user_with_items};
use crate::support::{client_token, owner_token, send, sign_in};

/// A server that loads its policies from `policies/`, approval included.
async fn with_approval(backend: Backend) -> Option<TestServer> {
    TestServer::spawn_with(backend, |config| {
        config.policy_dir = Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies"
        )));
    })
    .await
}

/// Deletes the owner the test server bootstrapped, so that the admins a
/// test makes are the partner's only ones.
async fn remove_bootstrapped_owner(server: &TestServer) {
    let partner = custodian_api::ids::PartnerId::parse(&server.owner.partner_id).unwrap();
    let bootstrapped = custodian_api::ids::AdminId::parse(&server.owner.owner_id).unwrap();
    server
        .database
        .pool()
        .run(move |conn| custodian_api::db::admins::delete(conn, partner, bootstrapped))
        .await
        .unwrap();
}

fn approve_path(reset: &str, verb: &str) -> String {
    format!("/v1/master-password-resets/{reset}/{verb}")
}

/// The messages the sink holds for `address`.
fn mail_to(server: &TestServer, address: &str) -> Vec<custodian_api::testing::Received> {
    server
        .mail
        .received()
        .into_iter()
        .filter(|r| r.rcpt_to.iter().any(|to| to == address))
        .collect()
}

/// Lets the outbox deliver whatever it holds, so that "no email" is not
/// "no email yet".
async fn settle(server: &TestServer) {
    server.outbox.wake();
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
}

#[rstest]
#[actix_web::test]
async fn a_reset_an_api_client_asks_for_waits_for_another_person_and_then_runs(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = with_approval(backend).await else {
        return;
    };
    // An owner, who made an integration.
    let (asker_email, asker_password) = server.create_admin(Role::Owner, &[]).await;
    let owner = sign_in(&server, &asker_email, &asker_password)
        .await
        .unwrap();
    let (status, created) = send(
        &server,
        &owner,
        "POST",
        "/v1/api-clients",
        Some(json!({"name": "PSA", "scopes": ["resets:read", "resets:write"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let client_id = created["client"]["id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap();
    let integration = client_token(&server, &client_id, secret).await;
    // Every company item backed up and not the primary user: only "an API
    // client asked" calls for a second person.
    let (_, user, user_email, _) = user_with_items(&server, 3, 2, 2).await;
    let (approver, approver_email) = sdk_admin(&server, Role::Admin, &[]).await;
    // The owner's integration asks.
    let (status, request, headers) = post_reset(
        &server,
        &integration,
        &user,
        json!({"confirmation": "Yes", "ticket": "PSA-7"}),
        None,
    )
    .await;
    assert_eq!(status, 201, "{request}");
    assert!(headers.contains_key("location"));
    assert_eq!(request["status"], "awaiting_approval");
    assert_eq!(
        request["approval"]["required_by"],
        json!(["approval-for-api-clients"])
    );
    assert_eq!(request["approval"]["decided_by"], Value::Null);
    assert_eq!(request["secret_expires_at"], Value::Null);
    assert_eq!(request["email_status"], Value::Null);
    assert_eq!(request["personal_items_purged"], 0);
    let reset = request["id"].as_str().unwrap().to_owned();

    // Another admin, who may approve, is told by email, in their words;
    // the person behind the integration is not, and the user hears nothing.
    let asked = server
        .mail
        .wait_for(Duration::from_secs(20), |r| {
            r.rcpt_to.iter().any(|to| to == &approver_email)
        })
        .await;
    assert_eq!(
        asked.subject(),
        "A master password reset awaits your approval"
    );
    let text = asked.text();
    assert!(text.contains(&reset), "names the reset");
    assert!(text.contains("PSA-7") && text.contains(&user_email));
    assert_eq!(count_items(&server, &user).await, 5, "nothing purged");
    settle(&server).await;
    assert!(mail_to(&server, &user_email).is_empty(), "nothing sent");
    assert!(
        mail_to(&server, &asker_email).is_empty(),
        "the person behind the integration is not asked to approve"
    );
    assert_eq!(
        mail_to(&server, &server.owner.owner_email).len(),
        1,
        "every other admin who may approve is"
    );

    // The person who asked cannot approve: not as the owner, not through
    // the integration, not after signing in again.
    for token in [
        owner.clone(),
        integration.clone(),
        sign_in(&server, &asker_email, &asker_password)
            .await
            .unwrap(),
    ] {
        let (status, problem) = send(
            &server,
            &token,
            "POST",
            &approve_path(&reset, "approve"),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 403, "{problem}");
    }
    // Nor reset the user meanwhile around the request.
    let (status, problem, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("reset_awaiting_approval"))
    );
    assert_eq!(count_items(&server, &user).await, 5);

    // The list filters on it.
    let waiting = approver
        .resets_list()
        .status(types::ResetStatus::AwaitingApproval)
        .send()
        .await
        .expect("the list")
        .into_inner();
    let ids: Vec<String> = waiting.items.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, std::slice::from_ref(&reset));

    // Another admin approves: the reset runs on the vault as it is now.
    let approved = approver
        .reset_approve()
        .reset_id(reset.parse::<uuid::Uuid>().unwrap())
        .body(types::ApproveRequest {
            acknowledge_company_data_loss: None,
            comment: Some("called the user back".into()),
        })
        .send()
        .await
        .expect("approved")
        .into_inner();
    assert_eq!(approved.status, types::ResetStatus::PendingUserAction);
    assert_eq!(approved.personal_items_purged, 3);
    assert_eq!(approved.company_items_preserved, 2);
    assert!(approved.secret_expires_at.is_some());
    let decision = approved.approval.expect("the approval");
    let decided_by = decision.decided_by.expect("who decided");
    assert_eq!(decision.comment.as_deref(), Some("called the user back"));
    assert_eq!(count_items(&server, &user).await, 0, "purged once approved");
    server
        .mail
        .wait_for(Duration::from_secs(20), |r| {
            r.rcpt_to.iter().any(|to| to == &user_email)
        })
        .await;
    settle(&server).await;
    assert_eq!(mail_to(&server, &user_email).len(), 1, "one email");

    // Decided once.
    let again = approver
        .reset_approve()
        .reset_id(reset.parse::<uuid::Uuid>().unwrap())
        .body(types::ApproveRequest {
            acknowledge_company_data_loss: None,
            comment: None,
        })
        .send()
        .await
        .expect_err("decided already");
    assert_eq!(again.status().map(|s| s.as_u16()), Some(409));

    // The audit log names both people.
    let (status, events) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=approveReset",
        None,
    )
    .await;
    assert_eq!(status, 200, "{events}");
    let allowed: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["decision"] == "allow")
        .collect();
    assert_eq!(allowed.len(), 1, "{events}");
    assert_eq!(allowed[0]["actor_id"], decided_by.id.to_string());
    assert_eq!(allowed[0]["details"]["requested_by"]["id"], client_id);
    assert_eq!(allowed[0]["details"]["requested_by"]["kind"], "api_client");
    assert_eq!(
        allowed[0]["details"]["decided_by"]["id"],
        decided_by.id.to_string()
    );
    let denied = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["decision"] == "deny")
        .count();
    assert_eq!(denied, 3, "each refused approval is audited");
}

#[rstest]
#[actix_web::test]
async fn rejection_and_expiry_leave_the_user_untouched(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = with_approval(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    // One company item of three is backed up: the other two would be lost.
    let (_, user, user_email, _) = user_with_items(&server, 2, 3, 1).await;
    let (approver_email, approver_password) = server.create_admin(Role::Admin, &[]).await;
    let approver = sign_in(&server, &approver_email, &approver_password)
        .await
        .unwrap();
    let ask = json!({"confirmation": "Yes", "acknowledge_company_data_loss": true});
    // The preview says beforehand that a second admin will be asked.
    let (status, preview) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/users/{user}/master-password-reset-preview"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["approval_required_by"],
        json!(["approval-when-company-items-would-be-lost"])
    );

    let (status, request, _) = post_reset(&server, &owner, &user, ask.clone(), None).await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "awaiting_approval");
    assert_eq!(
        request["approval"]["required_by"],
        json!(["approval-when-company-items-would-be-lost"])
    );
    let reset = request["id"].as_str().unwrap().to_owned();
    let (status, rejected) = send(
        &server,
        &approver,
        "POST",
        &approve_path(&reset, "reject"),
        Some(json!({"comment": "the user found their password"})),
    )
    .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["approval"]["decided_by"]["kind"], "admin");
    assert_eq!(
        rejected["approval"]["comment"],
        "the user found their password"
    );
    assert_eq!(count_items(&server, &user).await, 5, "rejected: untouched");
    // A rejected request is not approved afterwards.
    let (status, problem) = send(
        &server,
        &approver,
        "POST",
        &approve_path(&reset, "approve"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("reset_not_awaiting_approval"))
    );

    // Asked again, and nobody decides in time.
    let (status, request, _) = post_reset(&server, &owner, &user, ask, None).await;
    assert_eq!(status, 201, "{request}");
    let reset = request["id"].as_str().unwrap().to_owned();
    let pool = server.database.pool();
    assert_eq!(
        custodian_api::retention::expire_approvals(&pool, &server.clock, &server.keys)
            .await
            .unwrap(),
        0,
        "not yet"
    );
    server
        .clock
        .advance(chrono::Duration::hours(24) + chrono::Duration::seconds(1));
    // Past its time the request is not approved, even before the sweep.
    let approver = sign_in(&server, &approver_email, &approver_password)
        .await
        .unwrap();
    let (status, problem) = send(
        &server,
        &approver,
        "POST",
        &approve_path(&reset, "approve"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("reset_not_awaiting_approval")),
        "{problem}"
    );
    assert_eq!(
        custodian_api::retention::expire_approvals(&pool, &server.clock, &server.keys)
            .await
            .unwrap(),
        1
    );
    let owner = owner_token(&server).await;
    let (_, expired) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/master-password-resets/{reset}"),
        None,
    )
    .await;
    assert_eq!(expired["status"], "expired", "{expired}");
    assert_eq!(expired["approval"]["decided_by"], Value::Null);
    assert_eq!(count_items(&server, &user).await, 5, "expired: untouched");
    let (_, read) = send(&server, &owner, "GET", &format!("/v1/users/{user}"), None).await;
    assert_eq!(read["status"], "active", "{read}");
    settle(&server).await;
    assert!(mail_to(&server, &user_email).is_empty(), "nothing sent");
    let (_, events) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=expireResetApproval",
        None,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");

    // A request whose time ran out before the sweep came does not stand in
    // the way of the next one: it expires then and there.
    let ask = json!({"confirmation": "Yes", "acknowledge_company_data_loss": true});
    let (status, third, _) = post_reset(&server, &owner, &user, ask.clone(), None).await;
    assert_eq!(status, 201, "{third}");
    server.clock.advance(chrono::Duration::hours(25));
    let owner = owner_token(&server).await;
    let (status, fourth, _) = post_reset(&server, &owner, &user, ask, None).await;
    assert_eq!(status, 201, "{fourth}");
    assert_eq!(fourth["status"], "awaiting_approval");
    let (_, third) = send(
        &server,
        &owner,
        "GET",
        &format!(
            "/v1/master-password-resets/{}",
            third["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(third["status"], "expired", "{third}");
    assert_eq!(count_items(&server, &user).await, 5);
}

#[rstest]
#[actix_web::test]
async fn a_request_nobody_else_may_decide_is_refused(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = with_approval(backend).await else {
        return;
    };
    // The partner's only admin, once the bootstrapped owner is gone.
    let (email, password) = server.create_admin(Role::Admin, &[]).await;
    remove_bootstrapped_owner(&server).await;
    let only = sign_in(&server, &email, &password).await.unwrap();
    let (company, user, _, _) = user_with_items(&server, 1, 2, 0).await;
    let ask = json!({"confirmation": "Yes", "acknowledge_company_data_loss": true});
    let (status, problem, _) = post_reset(&server, &only, &user, ask.clone(), None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("no_approver")),
        "{problem}"
    );
    // A technician of the user's company may decide: then the request stands.
    server
        .create_admin(Role::Technician, std::slice::from_ref(&company))
        .await;
    let (status, request, _) = post_reset(&server, &only, &user, ask, None).await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "awaiting_approval");
    assert_eq!(count_items(&server, &user).await, 3, "nothing purged");
}

#[rstest]
#[actix_web::test]
async fn a_user_refused_inside_a_batchs_group_transaction_leaves_nothing_and_the_others_commit(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    // One group: the worker resets the batch's three users in one
    // transaction, each under a savepoint.
    let Some(server) = TestServer::spawn_with(backend, |config| {
        config.policy_dir = Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies"
        )));
        config.batch_concurrency = 1;
    })
    .await
    else {
        return;
    };
    // The partner's only admin, once the bootstrapped owner is gone: a
    // request for approval finds nobody else to ask.
    let (email, password) = server.create_admin(Role::Admin, &[]).await;
    let token = sign_in(&server, &email, &password).await.unwrap();
    let only = custodian_sdk::Session::new(
        custodian_sdk::ClientBuilder::new(&server.base_url),
        custodian_sdk::Credentials::password(
            server.owner.partner_id.parse().unwrap(),
            email,
            password,
        ),
    )
    .client()
    .await
    .expect("signed in");
    remove_bootstrapped_owner(&server).await;
    let first = user_with_items(&server, 2, 1, 1).await.1;
    // A company item not backed up: policy asks a second admin. The request
    // is written, then refused (no_approver) inside the group's transaction.
    let (_, second, second_email, _) = user_with_items(&server, 2, 1, 0).await;
    let third = user_with_items(&server, 2, 1, 1).await.1;
    let users = vec![first.clone(), second.clone(), third.clone()];
    let batch = only
        .reset_batch_create()
        .body(batch_request(&users, true))
        .send()
        .await
        .expect("made")
        .into_inner();
    let (view, outcomes) = finished(&only, batch.id, Duration::from_secs(60)).await;
    assert_eq!(
        (view.counts.completed, view.counts.denied),
        (2, 1),
        "{view:?}"
    );
    let statuses: Vec<String> = outcomes.iter().map(|o| o.status.to_string()).collect();
    assert_eq!(statuses, ["completed", "denied", "completed"]);
    let problem = serde_json::to_value(&outcomes[1].problem).unwrap();
    assert_eq!(problem["code"], "no_approver", "{problem}");
    // The refused user's request rolled back with its savepoint: no reset,
    // no email, nothing purged; the others' resets committed.
    let (status, resets) = send(
        &server,
        &token,
        "GET",
        &format!("/v1/master-password-resets?user_id={second}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{resets}");
    assert_eq!(resets["items"], json!([]), "{resets}");
    assert_eq!(count_items(&server, &second).await, 3, "nothing purged");
    for user in [&first, &third] {
        assert_eq!(count_items(&server, user).await, 0, "purged");
    }
    settle(&server).await;
    assert!(mail_to(&server, &second_email).is_empty());
    assert_eq!(server.mail.received().len(), 2, "one email per reset");
}

#[rstest]
#[actix_web::test]
async fn each_user_of_a_batch_over_25_waits_and_an_approval_completes_them(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = with_approval(backend).await else {
        return;
    };
    let (requester, _) = sdk_admin(&server, Role::Admin, &[]).await;
    let (approver, _) = sdk_admin(&server, Role::Owner, &[]).await;
    let mut users = Vec::new();
    for _ in 0..26 {
        users.push(user_with_items(&server, 1, 0, 0).await.1);
    }
    let batch = requester
        .reset_batch_create()
        .body(batch_request(&users, false))
        .send()
        .await
        .expect("made")
        .into_inner();
    let (view, outcomes) = finished(&requester, batch.id, Duration::from_secs(60)).await;
    assert_eq!(view.counts.awaiting_approval, 26, "{view:?}");
    for user in &users {
        assert_eq!(count_items(&server, user).await, 1, "nothing purged");
    }
    let first = outcomes[0].reset_id.expect("the request");
    let approved = approver
        .reset_approve()
        .reset_id(first)
        .body(types::ApproveRequest {
            acknowledge_company_data_loss: None,
            comment: None,
        })
        .send()
        .await
        .expect("approved")
        .into_inner();
    assert_eq!(approved.batch_id, Some(batch.id));
    assert_eq!(count_items(&server, &users[0]).await, 0);
    let rejected = approver
        .reset_reject()
        .reset_id(outcomes[1].reset_id.unwrap())
        .body(types::RejectRequest { comment: None })
        .send()
        .await
        .expect("rejected")
        .into_inner();
    assert_eq!(rejected.status, types::ResetStatus::Rejected);
    let view = requester
        .reset_batch_get()
        .batch_id(batch.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            view.counts.completed,
            view.counts.denied,
            view.counts.awaiting_approval
        ),
        (1, 1, 24),
        "{view:?}"
    );
}

#[rstest]
#[actix_web::test]
async fn a_request_to_replace_a_reset_the_user_finished_since_is_not_approved(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = with_approval(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, email, _) = user_with_items(&server, 1, 0, 0).await;
    // An owner's reset of an ordinary user runs at once.
    let (status, first, _) =
        post_reset(&server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    assert_eq!(
        (status, first["status"].as_str()),
        (201, Some("pending_user_action"))
    );
    // An integration asks to replace it; that waits for a second person.
    let (id, secret) = crate::support::create_client(&server, &["resets:write"], None).await;
    let integration = client_token(&server, &id, &secret).await;
    let (status, request, _) = post_reset(
        &server,
        &integration,
        &user,
        json!({"confirmation": "Yes", "supersedes": first["id"]}),
        None,
    )
    .await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "awaiting_approval");
    // Meanwhile the user finishes the first reset and starts a new vault.
    let secret = crate::resets::emailed_secret(&server, &email).await;
    let (status, token) = crate::resets::sign_in_with_temporary(&server, &email, &secret).await;
    assert_eq!(status, 200, "{token}");
    let (status, body) = send(
        &server,
        token["access_token"].as_str().unwrap(),
        "POST",
        "/v1/account/master-password",
        Some(json!({"auth_key": "a-new-derived-key-0123", "encrypted_vault_key": "c2VhbGVk"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let approver = owner_token(&server).await;
    let (status, problem) = send(
        &server,
        &approver,
        "POST",
        &approve_path(request["id"].as_str().unwrap(), "approve"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("reset_request_stale")),
        "{problem}"
    );
    let (_, read) = send(&server, &owner, "GET", &format!("/v1/users/{user}"), None).await;
    assert_eq!(read["status"], "active", "untouched: {read}");
}
