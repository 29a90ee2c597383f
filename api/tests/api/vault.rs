//! The end user's account and vault: account tokens, revisions, backup
//! copies while the company's profile is on, sizes, the backup viewer's
//! list, and the retention sweep with a controlled clock.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use custodian_api::db::Backend;
use custodian_api::testing::TestServer;
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{account_sign_in, owner_token, seed, send, signed_in_user};

const KEY: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

async fn put_item(server: &TestServer, token: &str, item: &str, body: Value) -> (u16, Value) {
    send(
        server,
        token,
        "PUT",
        &format!("/v1/account/vault/items/{item}"),
        Some(body),
    )
    .await
}

async fn backup_on(server: &TestServer, company: &str) {
    let owner = owner_token(server).await;
    let response = reqwest::Client::new()
        .put(format!(
            "{}/v1/companies/{company}/backup-profile",
            server.base_url
        ))
        .bearer_auth(&owner)
        .header("if-match", "*")
        .json(&json!({"backup_all_company_items": true, "retention_days": 30, "backup_public_key": KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

async fn profile(server: &TestServer, company: &str) -> Value {
    let owner = owner_token(server).await;
    send(
        server,
        &owner,
        "GET",
        &format!("/v1/companies/{company}/backup-profile"),
        None,
    )
    .await
    .1
}

#[rstest]
#[actix_web::test]
async fn an_end_user_signs_in_with_their_key_only(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let user = seed::user(&server, &partner, &company).await;
    let email = seed::activate(&server, &partner, &user, "the-right-key").await;
    let (status, token) =
        account_sign_in(&server, &partner, &email.to_uppercase(), "the-right-key").await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["scope"], "vault");
    let account = token["access_token"].as_str().unwrap();
    let (wrong, problem) = account_sign_in(&server, &partner, &email, "a-wrong-key").await;
    let (unknown, unknown_problem) =
        account_sign_in(&server, &partner, "nobody@example.com", "x").await;
    assert_eq!((wrong, unknown), (401, 401));
    assert_eq!(problem["detail"], unknown_problem["detail"], "alike");
    let other = seed::partner(&server, "Other MSP").await;
    let (status, _) = account_sign_in(&server, &other, &email, "the-right-key").await;
    assert_eq!(status, 401, "the email is the partner's");

    // An account token is no admin token, and an admin token no account token.
    let (status, _) = send(&server, account, "GET", "/v1/partner", None).await;
    assert_eq!(status, 401);
    let owner = owner_token(&server).await;
    let (status, problem) = send(&server, &owner, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, page) = send(&server, account, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(
        (status, page["items"].as_array().map(Vec::len)),
        (200, Some(0))
    );

    // Guessing is throttled, the right key included, with Retry-After.
    let mut last = 0;
    for _ in 0..8 {
        last = account_sign_in(&server, &partner, &email, "guess").await.0;
    }
    assert_eq!(last, 429);
    let response = reqwest::Client::new()
        .post(format!("{}/v1/account/token", server.base_url))
        .json(&json!({"partner_id": partner, "email": email, "auth_key": "the-right-key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().contains_key("retry-after"));
}

#[rstest]
#[actix_web::test]
async fn items_keep_revisions_and_refuse_stale_writes(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (_, _, token) = signed_in_user(&server).await;
    let item = |replaces: i64, bytes: &[u8]| json!({"profile": "personal", "replaces_revision": replaces, "ciphertext": b64(bytes)});
    let (status, written) = put_item(&server, &token, "login.1", item(0, b"sealed v1")).await;
    assert_eq!(status, 200, "{written}");
    assert_eq!(
        (written["revision"].as_i64(), written["backed_up"].as_bool()),
        (Some(1), Some(false))
    );
    let (status, problem) = put_item(&server, &token, "login.1", item(0, b"again")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("stale_revision"))
    );
    let (status, written) = put_item(&server, &token, "login.1", item(1, b"sealed v2")).await;
    assert_eq!((status, written["revision"].as_i64()), (200, Some(2)));
    let (status, problem) = put_item(&server, &token, "login.1", item(1, b"lost update")).await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("revision 2"));

    let (_, page) = send(&server, &token, "GET", "/v1/account/vault/items", None).await;
    assert_eq!(
        page["items"][0]["ciphertext"],
        b64(b"sealed v2"),
        "stored as sent, bytes"
    );
    assert_eq!(page["items"][0]["revision"], 2);

    // Bad values, and sizes over the limit.
    for (body, status, field) in [
        (
            json!({"profile": "work", "replaces_revision": 0, "ciphertext": "AAAA"}),
            422,
            Some("profile"),
        ),
        (
            json!({"profile": "personal", "replaces_revision": 0, "ciphertext": "not base64!"}),
            422,
            Some("ciphertext"),
        ),
        (
            json!({"profile": "personal", "replaces_revision": -1, "ciphertext": "AAAA"}),
            422,
            Some("replaces_revision"),
        ),
        (
            json!({"profile": "personal", "replaces_revision": 0, "ciphertext": b64(&vec![7u8; 256 * 1024 + 3])}),
            422,
            Some("ciphertext"),
        ),
    ] {
        let (got, problem) = put_item(&server, &token, "other", body).await;
        assert_eq!(got, status, "{problem}");
        assert_eq!(problem["errors"][0]["field"].as_str(), field);
    }
    let (status, _) = put_item(&server, &token, &"x".repeat(129), item(0, b"x")).await;
    assert_eq!(status, 422);

    // Deleting: a stale revision is 409, an absent item 404.
    let (status, _) = send(
        &server,
        &token,
        "DELETE",
        "/v1/account/vault/items/login.1?revision=1",
        None,
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = send(
        &server,
        &token,
        "DELETE",
        "/v1/account/vault/items/login.1?revision=2",
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        &server,
        &token,
        "DELETE",
        "/v1/account/vault/items/login.1",
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[rstest]
#[actix_web::test]
async fn company_items_carry_their_backup_copy_while_the_profile_is_on(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (company, user, token) = signed_in_user(&server).await;
    let company_item = |replaces: i64, copy: Option<&[u8]>| {
        let mut body = json!({"profile": "company", "replaces_revision": replaces, "ciphertext": b64(b"sealed")});
        if let Some(copy) = copy {
            body["backup_copy"] = json!(b64(copy));
        }
        body
    };
    // Profile off: an item is stored without a copy (one sent is not kept).
    let (_, written) = put_item(&server, &token, "wifi", company_item(0, Some(b"copy"))).await;
    assert_eq!(written["backed_up"], false);
    backup_on(&server, &company).await;
    let counts = |p: &Value| {
        (
            p["company_items"].as_i64(),
            p["company_items_backed_up"].as_i64(),
        )
    };
    assert_eq!(
        counts(&profile(&server, &company).await),
        (Some(1), Some(0))
    );

    let (status, problem) = put_item(&server, &token, "wifi", company_item(1, None)).await;
    assert_eq!(status, 422, "a copy is required now");
    assert_eq!(problem["errors"][0]["field"], "backup_copy");
    let (status, written) =
        put_item(&server, &token, "wifi", company_item(1, Some(b"copy r2"))).await;
    assert_eq!((status, written["backed_up"].as_bool()), (200, Some(true)));
    let (_, written) = put_item(&server, &token, "printer", company_item(0, Some(b"copy"))).await;
    assert_eq!(written["backed_up"], true);
    let (_, _) = put_item(
        &server,
        &token,
        "diary",
        json!({"profile": "personal", "replaces_revision": 0, "ciphertext": b64(b"mine")}),
    )
    .await;
    assert_eq!(
        counts(&profile(&server, &company).await),
        (Some(2), Some(2))
    );

    // A new revision without... the copy is required; with it, the older
    // copy starts its retention clock.
    let (_, written) = put_item(&server, &token, "wifi", company_item(2, Some(b"copy r3"))).await;
    assert_eq!(written["revision"], 3);
    let (status, _) = send(
        &server,
        &token,
        "DELETE",
        "/v1/account/vault/items/printer",
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        counts(&profile(&server, &company).await),
        (Some(1), Some(1))
    );

    let owner = owner_token(&server).await;
    let (status, copies) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/companies/{company}/backups"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let rows: Vec<(String, i64, Option<String>, bool)> = copies["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["item_id"].as_str().unwrap().to_owned(),
                c["revision"].as_i64().unwrap(),
                c["removal_reason"].as_str().map(str::to_owned),
                c["expires_at"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("wifi".into(), 2, None, true),
            ("printer".into(), 1, Some("deleted".into()), true),
            ("wifi".into(), 3, None, false),
        ]
    );
    assert!(
        copies["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["user_id"] == user.as_str())
    );
    assert!(
        !copies.to_string().contains(&b64(b"copy r3")),
        "no ciphertext in the list"
    );

    // The viewer fetches one copy with its ciphertext; the read is audited.
    let current = copies["items"][2]["id"].as_str().unwrap().to_owned();
    let (status, copy) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/companies/{company}/backups/{current}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{copy}");
    assert_eq!(copy["ciphertext"], b64(b"copy r3"));
    assert_eq!(
        (copy["item_id"].as_str(), copy["revision"].as_i64()),
        (Some("wifi"), Some(3))
    );
    let (_, events) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=readBackupCopy",
        None,
    )
    .await;
    assert_eq!(events["items"][0]["target_id"], current.as_str());
    let other = seed::partner(&server, "Other MSP").await;
    let theirs = seed::company(&server, &other, "Their Bakery").await;
    for path in [
        format!("/v1/companies/{theirs}/backups/{current}"),
        format!("/v1/companies/{company}/backups/{}", uuid::Uuid::now_v7()),
        format!("/v1/companies/{company}/backups/not-an-id"),
    ] {
        let (status, _) = send(&server, &owner, "GET", &path, None).await;
        assert_eq!(status, 404, "{path}");
    }

    // Retention: 30 days on, the aged copies go; the current one stays.
    let removed = custodian_api::retention::sweep(&server.database.pool(), &server.clock)
        .await
        .unwrap();
    assert_eq!(removed, 0, "nothing expired yet");
    server
        .clock
        .advance(chrono::Duration::days(30) + chrono::Duration::seconds(1));
    let removed = custodian_api::retention::sweep(&server.database.pool(), &server.clock)
        .await
        .unwrap();
    assert_eq!(removed, 2);
    // A month on, the admin's token has aged out with the server's clock.
    let owner = owner_token(&server).await;
    let (_, copies) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/companies/{company}/backups"),
        None,
    )
    .await;
    assert_eq!(copies["items"].as_array().unwrap().len(), 1);
    assert_eq!(copies["items"][0]["revision"], 3);
    assert_eq!(
        counts(&profile(&server, &company).await),
        (Some(1), Some(1))
    );
}

/// An email is unique within a company: the same person at two companies
/// has two accounts, and signs in to either by naming its company. Without
/// the company, neither is found, with the same answer as a wrong key.
#[rstest]
#[actix_web::test]
async fn one_email_at_two_companies_signs_in_naming_the_company(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let owner = owner_token(&server).await;
    let mut accounts = Vec::new();
    for (company, key) in [
        ("Acme Dental", "the dental key"),
        ("Acme Law", "the law key"),
    ] {
        let company = seed::company(&server, &partner, company).await;
        let (status, user) = send(
            &server,
            &owner,
            "POST",
            &format!("/v1/companies/{company}/users"),
            Some(json!({"email": "sam@example.com", "name": "Sam", "client_kind": "desktop"})),
        )
        .await;
        assert_eq!(status, 201, "{user}");
        let user = user["id"].as_str().unwrap().to_owned();
        seed::activate(&server, &partner, &user, key).await;
        accounts.push((company, user, key));
    }
    let sign_in = |company: Option<&str>, key: &str| {
        let body = json!({"partner_id": partner, "company_id": company, "email": "sam@example.com", "auth_key": key});
        let url = format!("{}/v1/account/token", server.base_url);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let subject = |token: &Value| -> String {
        let claims = token["access_token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims)
                .unwrap(),
        )
        .unwrap();
        claims["sub"].as_str().unwrap().to_owned()
    };
    let (_, wrong) = account_sign_in(&server, &partner, "nobody@example.com", "x").await;
    for (company, user, key) in &accounts {
        let (status, unnamed) = sign_in(None, key).await;
        assert_eq!(status, 401, "two accounts: the company must be named");
        assert_eq!(unnamed["detail"], wrong["detail"], "alike");
        let (status, token) = sign_in(Some(company), key).await;
        assert_eq!(status, 200, "{token}");
        assert_eq!(&subject(&token), user);
    }
    let (status, _) = sign_in(Some(&accounts[1].0), accounts[0].2).await;
    assert_eq!(status, 401, "one company's key does not open the other");
    let (status, _) = sign_in(Some(&uuid::Uuid::now_v7().to_string()), accounts[0].2).await;
    assert_eq!(status, 401);
}
