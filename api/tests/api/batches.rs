//! Reset batches: the preview sums what each user's reset would do, and
//! names who is out of the caller's reach without telling why.

use custodian_api::db::Backend;
use custodian_api::db::admins::Role;
use std::time::{Duration, Instant};

use custodian_api::testing::TestServer;
use custodian_sdk::types;
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

    // The preview is a path of its own, not a batch's id.
    let (status, problem) = send(&server, &owner, "GET", PREVIEW, None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

/// An SDK client signed in as an admin of `role` (assigned `companies`).
pub async fn sdk_admin(
    server: &TestServer,
    role: Role,
    companies: &[String],
) -> (custodian_sdk::Client, String) {
    let (email, password) = server.create_admin(role, companies).await;
    let partner = server.owner.partner_id.parse().unwrap();
    let client = custodian_sdk::Session::new(
        custodian_sdk::ClientBuilder::new(&server.base_url),
        custodian_sdk::Credentials::password(partner, email.clone(), password),
    )
    .client()
    .await
    .expect("signed in");
    (client, email)
}

pub fn batch_request(users: &[String], acknowledge: bool) -> types::BatchRequest {
    types::BatchRequest {
        user_ids: users.iter().map(|u| u.parse().unwrap()).collect(),
        confirmation: "Yes".into(),
        acknowledge_company_data_loss: acknowledge.then_some(true),
        reason: Some("offboarding".into()),
        ticket: Some("PSA-2001".into()),
    }
}

/// Reads the batch until it stops running (or `deadline` passes): every
/// user of it, through the cursor, and the batch as last read.
pub async fn finished(
    client: &custodian_sdk::Client,
    batch: uuid::Uuid,
    deadline: Duration,
) -> (types::BatchView, Vec<types::BatchUser>) {
    let until = Instant::now() + deadline;
    let view = loop {
        let view = client
            .reset_batch_get()
            .batch_id(batch)
            .send()
            .await
            .expect("the batch")
            .into_inner();
        if view.status != types::BatchStatus::Running {
            break view;
        }
        assert!(
            Instant::now() < until,
            "the batch is still running: {view:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    let mut users = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client.reset_batch_get().batch_id(batch).limit(70u32);
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.clone());
        }
        let page = request.send().await.expect("a page").into_inner();
        users.extend(page.users);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    (view, users)
}

/// Waits until the sink has received `count` messages.
async fn received(server: &TestServer, count: usize) -> Vec<custodian_api::testing::Received> {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let received = server.mail.received();
        if received.len() >= count {
            return received;
        }
        assert!(
            Instant::now() < until,
            "{} of {count} emails arrived",
            received.len()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The users of a batch of 200: what each should come to.
struct Mixed {
    ids: Vec<String>,
    expected: Vec<&'static str>,
    /// The users the batch should reset.
    allowed: Vec<String>,
}

/// 200 users for a technician assigned to `mine`: 120 they may reset (a
/// personal item and a backed-up company item each), 20 of a company
/// assigned to another technician, 20 with a company item not backed up,
/// 20 ids nobody has, and 20 with a pending reset; shuffled together.
async fn mixed_users(server: &TestServer, mine: &str, theirs: &str) -> Mixed {
    let partner = server.owner.partner_id.clone();
    let owner = owner_token(server).await;
    let mut users: Vec<(String, &'static str)> = Vec::new();
    for i in 0..200 {
        let kind = match i % 10 {
            0 => "elsewhere",
            1 => "not_backed_up",
            2 => "unknown",
            3 => "pending",
            _ => "allowed",
        };
        let company = if kind == "elsewhere" { theirs } else { mine };
        let id = if kind == "unknown" {
            uuid::Uuid::now_v7().to_string()
        } else {
            seed::user(server, &partner, company).await
        };
        match kind {
            "allowed" | "elsewhere" => {
                seed::item(server, (&partner, company, &id), "personal", false).await;
                seed::item(server, (&partner, company, &id), "company", true).await;
            }
            "not_backed_up" => {
                seed::item(server, (&partner, company, &id), "company", false).await;
            }
            "pending" => {
                let (status, reset, _) =
                    post_reset(server, &owner, &id, json!({"confirmation": "Yes"}), None).await;
                assert_eq!(status, 201, "{reset}");
            }
            _ => {}
        }
        users.push((id, kind));
    }
    let expected = users
        .iter()
        .map(|(_, kind)| match *kind {
            "allowed" => "completed",
            "not_backed_up" => "not_backed_up",
            "pending" => "reset_pending",
            // Outside the technician's companies is as absent as an id
            // nobody has.
            _ => "not_found",
        })
        .collect();
    Mixed {
        allowed: users
            .iter()
            .filter(|(_, kind)| *kind == "allowed")
            .map(|(id, _)| id.clone())
            .collect(),
        ids: users.into_iter().map(|(id, _)| id).collect(),
        expected,
    }
}

#[rstest]
#[actix_web::test]
async fn a_batch_of_200_mixed_users_gives_each_its_outcome_and_resets_each_allowed_user_once(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let mine = seed::company(&server, &partner, "Acme Dental").await;
    let theirs = seed::company(&server, &partner, "Bravo Legal").await;
    let mixed = mixed_users(&server, &mine, &theirs).await;
    let (technician, _) = sdk_admin(&server, Role::Technician, std::slice::from_ref(&mine)).await;

    let accepted = technician
        .reset_batch_create()
        .body(batch_request(&mixed.ids, false))
        .send()
        .await
        .expect("the batch is accepted");
    assert_eq!(accepted.status().as_u16(), 202);
    let batch = accepted.into_inner();
    assert_eq!(batch.total, 200);
    let (view, users) = finished(&technician, batch.id, Duration::from_secs(120)).await;

    assert_eq!(view.status, types::BatchStatus::Completed, "{view:?}");
    assert_eq!((view.done, view.total), (200, 200));
    assert_eq!(
        (
            view.counts.completed,
            view.counts.not_found,
            view.counts.not_backed_up,
            view.counts.reset_pending,
            view.counts.denied + view.counts.failed + view.counts.queued + view.counts.running
        ),
        (120, 40, 20, 20, 0),
        "{view:?}"
    );
    assert!(view.finished_at.is_some());
    assert_eq!(users.len(), 200, "every user, through the cursor");
    for (at, user) in users.iter().enumerate() {
        assert_eq!(user.position, at as i32);
        assert_eq!(user.user_id.to_string(), mixed.ids[at]);
        assert_eq!(
            user.status.to_string(),
            mixed.expected[at],
            "user {at}: {user:?}"
        );
        assert_eq!(user.reset_id.is_some(), mixed.expected[at] == "completed");
        assert!(user.problem.is_none(), "{user:?}");
    }

    // Every allowed user purged once, by this batch, and emailed once; the
    // 20 pending resets made before are the only other emails.
    let owner = owner_token(&server).await;
    for user in &mixed.allowed {
        let (status, resets) = send(
            &server,
            &owner,
            "GET",
            &format!("/v1/master-password-resets?user_id={user}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{resets}");
        let resets = resets["items"].as_array().unwrap();
        assert_eq!(resets.len(), 1, "{user}: {resets:?}");
        assert_eq!(resets[0]["personal_items_purged"], 1);
        assert_eq!(resets[0]["company_items_preserved"], 1);
        assert_eq!(resets[0]["reason"], "offboarding");
    }
    let mail = received(&server, 140).await;
    let mut recipients = std::collections::HashMap::<String, usize>::new();
    for message in &mail {
        for to in &message.rcpt_to {
            *recipients.entry(to.clone()).or_default() += 1;
        }
    }
    assert_eq!(mail.len(), 140, "no email twice");
    for user in &mixed.allowed {
        assert_eq!(recipients.get(&format!("{user}@example.com")), Some(&1));
    }
}

#[rstest]
#[actix_web::test]
async fn a_batch_is_checked_whole_replays_under_its_key_and_cancels_what_has_not_started(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    // No batch worker in this instance: the batch waits until cancelled.
    let Some(server) = TestServer::spawn_with(backend, |c| c.batch_concurrency = 0).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let mut users = Vec::new();
    for _ in 0..3 {
        let user = seed::user(&server, &partner, &company).await;
        seed::item(&server, (&partner, &company, &user), "personal", false).await;
        users.push(user);
    }
    let (technician, _) =
        sdk_admin(&server, Role::Technician, std::slice::from_ref(&company)).await;
    let (admin, _) = sdk_admin(&server, Role::Admin, &[]).await;
    let (other_technician, _) =
        sdk_admin(&server, Role::Technician, std::slice::from_ref(&company)).await;

    // Refused whole, naming what is wrong.
    let refused = |body: types::BatchRequest| {
        let technician = technician.clone();
        async move {
            match technician.reset_batch_create().body(body).send().await {
                Err(custodian_sdk::Error::ErrorResponse(problem)) => {
                    (problem.status().as_u16(), problem.into_inner())
                }
                other => panic!("{other:?}"),
            }
        }
    };
    let (status, problem) = refused(batch_request(&[], false)).await;
    assert_eq!((status, problem.code.as_str()), (422, "invalid_value"));
    let twice = [users[0].clone(), users[1].clone(), users[0].clone()];
    let (status, problem) = refused(batch_request(&twice, false)).await;
    assert_eq!(status, 422);
    assert!(
        problem
            .detail
            .contains(&format!("user_ids[2] ({})", users[0])),
        "{problem:?}"
    );
    let mut wrong_phrase = batch_request(&users, false);
    wrong_phrase.confirmation = "Yep".into();
    let (status, problem) = refused(wrong_phrase).await;
    assert_eq!(status, 422);
    assert_eq!(problem.errors[0].field, "confirmation");

    // Made once under its key; the retry answers the first batch.
    let make = || {
        technician
            .reset_batch_create()
            .idempotency_key("PSA-2002")
            .body(batch_request(&users, false))
            .send()
    };
    let first = make().await.expect("accepted");
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let first = first.into_inner();
    assert_eq!(
        location,
        format!("/v1/master-password-reset-batches/{}", first.id)
    );
    assert_eq!(first.counts.queued, 3);
    assert_eq!(first.users.len(), 3);
    let retried = make().await.expect("the retry answers");
    assert_eq!(
        retried.headers()["idempotent-replayed"].to_str().unwrap(),
        "true"
    );
    assert_eq!(retried.headers()["location"].to_str().unwrap(), location);
    assert_eq!(retried.into_inner().id, first.id);

    // Another technician does not see it; an admin does.
    let hidden = other_technician
        .reset_batch_get()
        .batch_id(first.id)
        .send()
        .await
        .expect_err("another's batch");
    assert_eq!(hidden.status().map(|s| s.as_u16()), Some(404));
    let cancel_hidden = other_technician
        .reset_batch_cancel()
        .batch_id(first.id)
        .send()
        .await
        .expect_err("another's batch");
    assert_eq!(cancel_hidden.status().map(|s| s.as_u16()), Some(404));
    let seen = admin
        .reset_batch_get()
        .batch_id(first.id)
        .send()
        .await
        .expect("an admin sees every batch")
        .into_inner();
    assert_eq!(seen.counts.queued, 3);

    // Cancelled: nobody was reset, and cancelling again answers the same.
    let cancelled = technician
        .reset_batch_cancel()
        .batch_id(first.id)
        .send()
        .await
        .expect("cancelled")
        .into_inner();
    assert_eq!(cancelled.status, types::BatchStatus::Cancelled);
    assert_eq!((cancelled.counts.cancelled, cancelled.done), (3, 3));
    assert!(cancelled.cancelled_at.is_some() && cancelled.finished_at.is_some());
    let again = technician
        .reset_batch_cancel()
        .batch_id(first.id)
        .send()
        .await
        .expect("cancelled again")
        .into_inner();
    assert_eq!(
        again.cancelled_at.map(|t| t.0),
        cancelled.cancelled_at.map(|t| t.0)
    );
    let owner = owner_token(&server).await;
    let (_, resets) = send(&server, &owner, "GET", "/v1/master-password-resets", None).await;
    assert_eq!(resets["items"], json!([]), "nobody was reset");

    // An id nobody has is 404.
    let error = admin
        .reset_batch_get()
        .batch_id(uuid::Uuid::now_v7())
        .send()
        .await
        .expect_err("no such batch");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));

    // A day on, the key is forgotten (and so are the results a batch keeps
    // under its users' keys: none here, nobody was reset).
    let pool = server.database.pool();
    let kept = custodian_api::retention::forget_idempotency_keys(&pool, &server.clock)
        .await
        .unwrap();
    assert_eq!(kept, 0, "kept for a day");
    server.clock.advance(chrono::Duration::hours(25));
    let forgotten = custodian_api::retention::forget_idempotency_keys(&pool, &server.clock)
        .await
        .unwrap();
    assert_eq!(forgotten, 1);
}

/// A `custodian serve` process over the test server's database, data
/// directory (so its server key) and SMTP sink, doing nothing but reset
/// batches and deliver email; killed (SIGKILL) when dropped.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(server: &TestServer, concurrency: usize, mail_workers: usize, log: &str) -> Serving {
    let database = match &server.config.database {
        custodian_api::config::DatabaseUrl::Sqlite(path) => format!("sqlite:{}", path.display()),
        custodian_api::config::DatabaseUrl::Postgres(url) => url.clone(),
    };
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_custodian"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CUSTODIAN_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    let log = std::fs::File::create(server.data_dir.join(log)).unwrap();
    let child = command
        .arg("serve")
        .env("DATABASE_URL", database)
        .env("CUSTODIAN_DATA_DIR", &server.data_dir)
        .env("CUSTODIAN_LISTEN", "127.0.0.1:0")
        .env("CUSTODIAN_WORKERS", "1")
        .env("CUSTODIAN_SMTP_URL", server.mail.url())
        .env("CUSTODIAN_BATCH_CONCURRENCY", concurrency.to_string())
        .env("CUSTODIAN_MAIL_WORKERS", mail_workers.to_string())
        // A user claimed by a killed process is taken over a second later.
        .env("CUSTODIAN_BATCH_LEASE_SECONDS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("custodian serve starts");
    Serving(child)
}

/// `count` users of a new company, each with a personal item and a
/// backed-up company item: their ids.
async fn resettable_users(server: &TestServer, count: usize) -> Vec<String> {
    let partner = server.owner.partner_id.clone();
    let company = seed::company(server, &partner, "Acme Dental").await;
    let mut users = Vec::with_capacity(count);
    for _ in 0..count {
        let user = seed::user(server, &partner, &company).await;
        seed::item(server, (&partner, &company, &user), "personal", false).await;
        seed::item(server, (&partner, &company, &user), "company", true).await;
        users.push(user);
    }
    users
}

/// How many resets each user has, and which workers ran the batch.
async fn resets_and_workers(
    server: &TestServer,
    batch: uuid::Uuid,
) -> (std::collections::HashMap<String, i64>, Vec<String>) {
    use custodian_api::db::schema::{master_password_resets as r, reset_batch_items as i};
    use diesel::prelude::*;
    let batch = batch.to_string();
    server
        .app
        .db
        .run(move |conn| {
            let resets: Vec<(String, i64)> = r::table
                .group_by(r::user_id)
                .select((r::user_id, diesel::dsl::count_star()))
                .load(conn)?;
            let workers: Vec<String> = i::table
                .filter(i::batch_id.eq(&batch))
                .select(i::locked_by.assume_not_null())
                .distinct()
                .load(conn)?;
            Ok::<_, custodian_api::db::DbError>((resets.into_iter().collect(), workers))
        })
        .await
        .unwrap()
}

/// Every user emailed, each under one Message-ID (a message the SMTP server
/// accepted just before a crash is sent again after it, with the same id).
async fn each_emailed_once(server: &TestServer, users: &[String]) {
    let mail = received(server, users.len()).await;
    let mut ids = std::collections::HashMap::<String, std::collections::HashSet<String>>::new();
    for message in &mail {
        for to in &message.rcpt_to {
            ids.entry(to.clone())
                .or_default()
                .insert(message.message_id());
        }
    }
    for user in users {
        let ids = ids.get(&format!("{user}@example.com"));
        assert_eq!(ids.map(|ids| ids.len()), Some(1), "{user}: {ids:?}");
    }
    assert_eq!(ids.len(), users.len(), "nobody else was emailed");
}

/// A batch of `count` resettable users on a server that only answers
/// requests: `custodian serve` processes do the work.
struct BatchForProcesses {
    server: TestServer,
    users: Vec<String>,
    admin: custodian_sdk::Client,
    batch: types::BatchView,
}

async fn batch_for_processes(backend: Backend, count: usize) -> Option<BatchForProcesses> {
    let server = TestServer::spawn_with(backend, |c| {
        c.batch_concurrency = 0;
        c.mail_workers = 0;
    })
    .await?;
    let users = resettable_users(&server, count).await;
    let (admin, _) = sdk_admin(&server, Role::Admin, &[]).await;
    let batch = admin
        .reset_batch_create()
        .body(batch_request(&users, false))
        .send()
        .await
        .expect("accepted")
        .into_inner();
    Some(BatchForProcesses {
        server,
        users,
        admin,
        batch,
    })
}

#[rstest]
#[actix_web::test]
async fn a_batch_killed_midway_resumes_after_a_restart_and_resets_nobody_twice(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(BatchForProcesses {
        server,
        users,
        admin,
        batch,
    }) = batch_for_processes(backend, 300).await
    else {
        return;
    };

    // The killed process sends no email: what is at stake here is the
    // batch (each reset queues its email in its own transaction), not a
    // message in flight, which the outbox's own tests cover.
    let first = serve(&server, 1, 0, "first.log");
    let until = Instant::now() + Duration::from_secs(60);
    let done_at_kill = loop {
        let view = admin
            .reset_batch_get()
            .batch_id(batch.id)
            .limit(1u32)
            .send()
            .await
            .expect("the batch")
            .into_inner();
        if view.done >= 10 {
            break view.done;
        }
        assert!(Instant::now() < until, "the process reset nobody");
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    };
    drop(first); // SIGKILL
    assert!(done_at_kill < 300, "killed midway, not after the end");

    let _second = serve(&server, 2, 1, "second.log");
    let (view, results) = finished(&admin, batch.id, Duration::from_secs(120)).await;
    assert_eq!(view.counts.completed, 300, "{view:?}");
    assert!(results.iter().all(|u| u.reset_id.is_some()));
    let (resets, workers) = resets_and_workers(&server, batch.id).await;
    for user in &users {
        assert_eq!(resets.get(user), Some(&1), "{user} reset once");
    }
    assert_eq!(
        workers.len(),
        2,
        "the second process took over: {workers:?}"
    );
    each_emailed_once(&server, &users).await;
}

#[actix_web::test]
async fn two_processes_on_one_postgresql_database_share_a_batch_and_reset_nobody_twice() {
    let Some(BatchForProcesses {
        server,
        users,
        admin,
        batch,
    }) = batch_for_processes(Backend::Postgres, 200).await
    else {
        return;
    };
    // One user at a time each (eight per claim), so that neither process
    // can take the whole batch before the other has started.
    let _one = serve(&server, 1, 1, "one.log");
    let _two = serve(&server, 1, 1, "two.log");
    let (view, _) = finished(&admin, batch.id, Duration::from_secs(120)).await;
    assert_eq!(view.counts.completed, 200, "{view:?}");
    let (resets, workers) = resets_and_workers(&server, batch.id).await;
    for user in &users {
        assert_eq!(resets.get(user), Some(&1), "{user} reset once");
    }
    assert_eq!(workers.len(), 2, "both processes took part: {workers:?}");
    each_emailed_once(&server, &users).await;
}

#[rstest]
#[actix_web::test]
async fn a_user_claimed_but_not_started_when_the_batch_is_cancelled_is_not_reset(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use custodian_api::app::batches::{ItemOutcome, requester, run_group};
    use custodian_api::db::batches::{self, ItemStatus};
    let Some(server) = TestServer::spawn_with(backend, |c| c.batch_concurrency = 0).await else {
        return;
    };
    let users = resettable_users(&server, 2).await;
    let (admin, _) = sdk_admin(&server, Role::Admin, &[]).await;
    let batch = admin
        .reset_batch_create()
        .body(batch_request(&users, false))
        .send()
        .await
        .expect("accepted")
        .into_inner();
    // A worker claims both users, as it claims several at once...
    let now = server.clock.now();
    let claimed = server
        .app
        .db
        .write(move |conn| {
            batches::claim(
                conn,
                "a worker",
                now,
                now + chrono::Duration::minutes(1),
                10,
            )
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    // ...and the batch is cancelled before it starts the second.
    let cancelled = admin
        .reset_batch_cancel()
        .batch_id(batch.id)
        .send()
        .await
        .expect("cancelled")
        .into_inner();
    assert_eq!(
        cancelled.counts.running, 2,
        "claimed users are not withdrawn"
    );
    let acting = requester(&server.app, &claimed[1]).await.unwrap();
    let outcomes = run_group(&server.app, &[(&acting, &claimed[1].item)]).await;
    let outcome = &outcomes[0];
    assert!(
        matches!(
            outcome,
            ItemOutcome::Done {
                status: ItemStatus::Cancelled,
                ..
            }
        ),
        "{outcome:?}"
    );
    let (resets, _) = resets_and_workers(&server, batch.id).await;
    assert!(resets.is_empty(), "nobody was reset: {resets:?}");
}

#[rstest]
#[actix_web::test]
async fn a_batch_whose_last_outcome_was_left_unfinished_is_finished_by_an_idle_worker(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use custodian_api::db::batches::{self, ItemStatus, Outcome};
    let Some(server) = TestServer::spawn_with(backend, |c| c.batch_concurrency = 0).await else {
        return;
    };
    let (admin, _) = sdk_admin(&server, Role::Admin, &[]).await;
    let nobody = vec![uuid::Uuid::now_v7().to_string()];
    let batch = admin
        .reset_batch_create()
        .body(batch_request(&nobody, false))
        .send()
        .await
        .expect("accepted")
        .into_inner();
    // A worker records the only outcome and dies before finishing the batch.
    let now = server.clock.now();
    server
        .app
        .db
        .write(move |conn| {
            let claimed = batches::claim(conn, "a worker", now, now, 1)?;
            let outcome = Outcome {
                status: ItemStatus::NotFound,
                reset_id: None,
                problem: None,
            };
            batches::record(conn, &claimed[0].item, "a worker", &outcome, now)
        })
        .await
        .unwrap();
    let view = admin
        .reset_batch_get()
        .batch_id(batch.id)
        .send()
        .await
        .unwrap();
    assert_eq!(view.status, types::BatchStatus::Running);
    assert_eq!(view.done, 1);

    let worker = custodian_api::batch_worker::Worker::new(
        server.app.clone(),
        1,
        std::time::Duration::from_secs(60),
    );
    assert_eq!(worker.run_once().await.unwrap(), 0, "nothing to claim");
    let view = admin
        .reset_batch_get()
        .batch_id(batch.id)
        .send()
        .await
        .unwrap();
    assert_eq!(view.status, types::BatchStatus::Completed);
    assert!(view.finished_at.is_some());
}
