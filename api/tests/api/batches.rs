//! Reset batches: the preview sums what each user's reset would do, and
//! names who is out of the caller's reach without telling why.

use custodian_api::db::Backend;
use custodian_api::db::admins::Role;
use custodian_api::testing::TestServer;
use rstest::rstest;
use serde_json::{Value, json};

use crate::resets::{post_reset, user_with_items};
use crate::support::{client_token, create_client, owner_token, seed, send, sign_in};

const PREVIEW: &str = "/v1/master-password-reset-batches/preview";

async fn preview(server: &TestServer, token: &str, ids: &[&str]) -> (u16, Value) {
    send(
        server,
        token,
        "POST",
        PREVIEW,
        Some(json!({"user_ids": ids})),
    )
    .await
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[rstest]
#[actix_web::test]
async fn a_batch_preview_sums_each_reset_and_names_who_is_out_of_reach(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    // 3 personal items, 4 company items of which 2 are backed up.
    let (company, first, _, _) = user_with_items(&server, 3, 4, 2).await;
    // Nothing in the vault, and a pending reset.
    let (_, second, _, _) = user_with_items(&server, 0, 0, 0).await;
    let (status, pending, _) = post_reset(
        &server,
        &owner,
        &second,
        json!({"confirmation": "Yes"}),
        None,
    )
    .await;
    assert_eq!(status, 201, "{pending}");
    let elsewhere = seed::partner(&server, "Another MSP").await;
    let their_company = seed::company(&server, &elsewhere, "Their Client").await;
    let theirs = seed::user(&server, &elsewhere, &their_company).await;
    let unknown = uuid::Uuid::now_v7().to_string();

    let (status, batch) = preview(&server, &owner, &[&first, &second, &theirs, &unknown]).await;
    assert_eq!(status, 200, "{batch}");
    let previewed: Vec<&str> = batch["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        previewed,
        [first.as_str(), second.as_str()],
        "in the order asked"
    );
    assert_eq!(batch["users"][0]["company_items_not_backed_up"], 2);
    assert_eq!(batch["users"][1]["supersedes"], pending["id"]);
    assert_eq!(
        batch["totals"],
        json!({
            "users": 2,
            "personal_items": 3,
            "company_items": 4,
            "company_items_backed_up": 2,
            "company_items_not_backed_up": 2,
            "users_needing_acknowledgement": 1,
            "pending_resets": 1,
        })
    );
    assert_eq!(batch["denied"], json!([]));
    // Another partner's user and an id nobody has are the same answer.
    assert_eq!(ids(&batch["not_found"]), [theirs.clone(), unknown.clone()]);
    assert_eq!(batch["confirmation"]["phrase"], "Yes");

    // Changing nothing: the same preview again gives the same sums.
    let (_, again) = preview(&server, &owner, &[&first, &second]).await;
    assert_eq!(again["totals"], batch["totals"]);

    // A technician sees only their companies: a user elsewhere is as
    // absent as another partner's.
    let (email, password) = server
        .create_admin(Role::Technician, std::slice::from_ref(&company))
        .await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let (status, batch) = preview(&server, &technician, &[&second, &first, &theirs]).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["users"].as_array().unwrap().len(), 1);
    assert_eq!(batch["users"][0]["user_id"], first.as_str());
    assert_eq!(ids(&batch["not_found"]), [second.clone(), theirs.clone()]);
    assert_eq!(batch["denied"], json!([]));

    // An integration that may read users but not reset them: denied, each
    // user on their own, and nothing about them previewed.
    let (id, secret) = create_client(&server, &["users:read"], None).await;
    let reader = client_token(&server, &id, &secret).await;
    let (status, batch) = preview(&server, &reader, &[&first, &second, &unknown]).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["users"], json!([]));
    assert_eq!(batch["totals"]["users"], 0);
    assert_eq!(ids(&batch["denied"]), [first.clone(), second.clone()]);
    assert_eq!(ids(&batch["not_found"]), [unknown]);
    // The denials are in the audit log as one event naming the users.
    let (status, events) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/audit-events?action=resetMasterPassword&actor_id={id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{events}");
    let denials: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["decision"] == "deny")
        .collect();
    assert_eq!(denials.len(), 1, "{events}");
    assert_eq!(denials[0]["target_kind"], "users");
    assert_eq!(
        denials[0]["details"],
        json!({"batch_preview": true, "user_ids": [first, second]})
    );
}

#[rstest]
#[actix_web::test]
async fn a_malformed_batch_is_refused_whole_naming_what_is_wrong(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, user, _, _) = user_with_items(&server, 1, 0, 0).await;

    let (status, problem) = preview(&server, &owner, &[]).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "user_ids", "{problem}");

    let (status, problem) = preview(&server, &owner, &[&user, &user]).await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("user_ids[1] ({user})")),
        "{problem}"
    );

    let many: Vec<String> = (0..1_001)
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (status, problem) = preview(&server, &owner, &many).await;
    assert_eq!(status, 422, "{problem}");

    let (status, problem) = preview(&server, &owner, &[&user, "not-a-uuid"]).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("user_ids"), "{problem}");
}
