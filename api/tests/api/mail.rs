//! Delivering the outbox to a real SMTP server (the tests' sink): retries
//! while it is down, the dead-letter bound, a crash between commit and send,
//! withdrawn emails, several workers, and `.eml` files when no SMTP is set.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use custodian_api::config::SmtpUrl;
use custodian_api::db::outbox;
use custodian_api::db::schema::outbox_messages;
use custodian_api::db::{Backend, Db};
use custodian_api::ids::PartnerId;
use custodian_api::mail::smtp::Smtp;
use custodian_api::mail::{Mailer, Transport, Worker};
use custodian_api::testing::{SmtpSink, TestServer};
use diesel::prelude::*;
use rstest::rstest;
use serde_json::json;

use crate::resets::{
    emailed_secret, outbox_status_becomes, post_reset, secret_in, sign_in_with_temporary,
    user_with_items,
};
use crate::support::{owner_token, send};
use custodian_api::db::DbError;

/// An outbox row as the tests look at it.
#[derive(Debug, Queryable)]
struct Row {
    id: String,
    message_id: String,
    status: String,
    attempts: i32,
    has_payload: bool,
    next_attempt_at: NaiveDateTime,
}

async fn rows(server: &TestServer, recipient: &str) -> Vec<Row> {
    let recipient = recipient.to_owned();
    server
        .database
        .pool()
        .run(move |conn| {
            Ok::<_, DbError>(
                outbox_messages::table
                    .filter(outbox_messages::recipient.eq(recipient))
                    .order(outbox_messages::id.asc())
                    .select((
                        outbox_messages::id,
                        outbox_messages::message_id,
                        outbox_messages::status,
                        outbox_messages::attempts,
                        outbox_messages::payload_ciphertext.is_not_null(),
                        outbox_messages::next_attempt_at,
                    ))
                    .load::<Row>(conn)?,
            )
        })
        .await
        .unwrap()
}

/// Resets a fresh user; (owner token, user's email, reset id).
async fn reset_someone(server: &TestServer) -> (String, String, String) {
    let owner = owner_token(server).await;
    let (_, user, email, _) = user_with_items(server, 1, 0, 0).await;
    let (status, reset, _) =
        post_reset(server, &owner, &user, json!({"confirmation": "Yes"}), None).await;
    assert_eq!(status, 201, "{reset}");
    (owner, email, reset["id"].as_str().unwrap().to_owned())
}

/// Turns the SMTP server away, resets a fresh user and waits until the
/// email was tried and refused; (owner token, email, reset id, outbox id).
async fn reset_while_smtp_refuses(server: &TestServer) -> (String, String, String, String) {
    server.mail.refuse(true);
    let (owner, email, reset) = reset_someone(server).await;
    let id = rows(server, &email).await[0].id.clone();
    outbox_status_becomes(server, &id, "retrying").await;
    (owner, email, reset, id)
}

async fn email_status(server: &TestServer, owner: &str, reset: &str) -> String {
    let (status, read) = send(
        server,
        owner,
        "GET",
        &format!("/v1/master-password-resets/{reset}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{read}");
    read["email_status"].as_str().unwrap().to_owned()
}

#[rstest]
#[actix_web::test]
async fn an_email_refused_while_smtp_is_down_is_delivered_once_when_it_is_back(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (owner, email, reset, _) = reset_while_smtp_refuses(&server).await;
    assert_eq!(email_status(&server, &owner, &reset).await, "retrying");
    let row = &rows(&server, &email).await[0];
    assert!(row.has_payload, "kept sealed until it is sent");
    let waited = row.next_attempt_at - server.clock.now();
    assert!(
        waited >= chrono::Duration::seconds(15) && waited < chrono::Duration::seconds(30),
        "the first retry waits 30 s with jitter: {waited}"
    );
    assert!(server.mail.refused() >= 1);

    // Not due yet: a worker woken meanwhile leaves it alone.
    server.outbox.wake();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rows(&server, &email).await[0].attempts, 1);

    server.mail.refuse(false);
    server.clock.advance(chrono::Duration::seconds(31));
    server.outbox.wake();
    let secret = emailed_secret(&server, &email).await;
    let (status, _) = sign_in_with_temporary(&server, &email, &secret).await;
    assert_eq!(status, 200, "the late email's secret works");
    let row = &rows(&server, &email).await[0];
    assert_eq!(
        (row.status.as_str(), row.attempts, row.has_payload),
        ("sent", 2, false)
    );
    assert_eq!(email_status(&server, &owner, &reset).await, "sent");
    // Delivered once: nothing more arrives however often workers look.
    server.clock.advance(chrono::Duration::hours(2));
    server.outbox.wake();
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let copies = server
        .mail
        .received()
        .iter()
        .filter(|m| format!("<{}>", m.message_id()) == row.message_id)
        .count();
    assert_eq!(copies, 1);
}

#[rstest]
#[actix_web::test]
async fn an_email_undeliverable_past_the_bound_is_dead_lettered_and_erased(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (_, email, reset, id) = reset_while_smtp_refuses(&server).await;
    // Retries follow the backoff until the bound (24 h by default).
    for _ in 0..3 {
        let before = rows(&server, &email).await[0].attempts;
        server.clock.advance(chrono::Duration::hours(1));
        server.outbox.wake();
        for _ in 0..250 {
            if rows(&server, &email).await[0].attempts > before
                && rows(&server, &email).await[0].status == "retrying"
            {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(rows(&server, &email).await[0].attempts, 4);
    server.clock.advance(chrono::Duration::hours(22));
    server.outbox.wake();
    outbox_status_becomes(&server, &id, "dead").await;
    let row = &rows(&server, &email).await[0];
    assert!(!row.has_payload, "a dead message keeps no secret");
    // A day on, the admin's token has aged out with the server's clock.
    let owner = owner_token(&server).await;
    assert_eq!(email_status(&server, &owner, &reset).await, "dead");
    let (error, dead_at): (Option<String>, Option<NaiveDateTime>) = {
        let id = id.clone();
        server
            .database
            .pool()
            .run(move |conn| {
                Ok::<_, DbError>(
                    outbox_messages::table
                        .filter(outbox_messages::id.eq(id))
                        .select((outbox_messages::last_error, outbox_messages::dead_at))
                        .first(conn)?,
                )
            })
            .await
            .unwrap()
    };
    assert!(error.unwrap().contains("421"), "the SMTP answer is kept");
    assert!(dead_at.is_some());

    // The server comes back: a dead message stays dead; a re-issue is the
    // way to send the user a secret now.
    server.mail.refuse(false);
    server.clock.advance(chrono::Duration::hours(1));
    server.outbox.wake();
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert!(server.mail.received().is_empty());
    let owner = owner_token(&server).await;
    let (status, _) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/master-password-resets/{reset}/reissue"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let secret = emailed_secret(&server, &email).await;
    assert_eq!(
        sign_in_with_temporary(&server, &email, &secret).await.0,
        200
    );
}

#[rstest]
#[actix_web::test]
async fn an_unsent_email_withdrawn_by_a_reissue_is_never_sent(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (owner, email, reset, _) = reset_while_smtp_refuses(&server).await;
    let (status, _) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/master-password-resets/{reset}/reissue"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let withdrawn = &rows(&server, &email).await[0];
    assert_eq!(
        (withdrawn.status.as_str(), withdrawn.has_payload),
        ("dead", false)
    );
    // The new email is tried (and refused) before the server comes back.
    let second = rows(&server, &email).await[1].id.clone();
    outbox_status_becomes(&server, &second, "retrying").await;

    server.mail.refuse(false);
    server.clock.advance(chrono::Duration::hours(1));
    server.outbox.wake();
    let secret = emailed_secret(&server, &email).await;
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    let received = server.mail.received();
    assert_eq!(received.len(), 1, "only the re-issued email");
    assert_eq!(secret_in(&received[0]), secret);
    assert_eq!(
        sign_in_with_temporary(&server, &email, &secret).await.0,
        200
    );
}

/// A worker of another instance (or of this one after a restart) over the
/// test server's database, mailing to its sink.
fn other_worker(server: &TestServer, db: &Db) -> Worker {
    let smtp = SmtpUrl::parse(&server.mail.url()).unwrap();
    worker_on(server, db, Transport::smtp(&smtp).unwrap())
}

/// A worker over `db` delivering through `transport`.
fn worker_on(server: &TestServer, db: &Db, transport: Transport) -> Worker {
    Worker::new(Arc::new(Mailer {
        db: db.clone(),
        keys: server.keys.clone(),
        clock: server.clock.clone(),
        metrics: Default::default(),
        transport,
        from: "Custodian <custodian@localhost>".parse().unwrap(),
        links: custodian_api::mail::templates::Links {
            webapp: url::Url::parse(&server.base_url).unwrap(),
            portal: url::Url::parse(&server.base_url).unwrap(),
        },
        dead_letter_after: chrono::Duration::hours(24),
    }))
}

#[rstest]
#[actix_web::test]
async fn a_crash_between_commit_and_send_loses_nothing(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    // An instance with no worker: the reset commits and nothing sends it,
    // as when the process dies right after the commit.
    let Some(server) = TestServer::spawn_with(backend, |c| c.mail_workers = 0).await else {
        return;
    };
    let (_, email, _) = reset_someone(&server).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert!(server.mail.received().is_empty());
    let id = rows(&server, &email).await[0].id.clone();

    // A worker claims it and dies before sending (its claim is all it left).
    let now = server.clock.now();
    let lease = now + chrono::Duration::minutes(2);
    let claimed = {
        let now_ = now;
        server
            .database
            .pool()
            .write(move |conn| outbox::claim(conn, "a-worker-that-died", now_, lease, 16))
            .await
            .unwrap()
    };
    assert_eq!(claimed.len(), 1);

    // After the restart, the claim holds until its lease runs out...
    let restarted = other_worker(&server, &server.database.pool());
    assert_eq!(restarted.run_once().await.unwrap(), 0);
    assert!(server.mail.received().is_empty());
    // ...then the message is sent, once, with the Message-ID it always had.
    server.clock.advance(chrono::Duration::minutes(3));
    assert_eq!(restarted.run_once().await.unwrap(), 1);
    assert_eq!(restarted.run_once().await.unwrap(), 0);
    let received = server.mail.received();
    assert_eq!(received.len(), 1);
    let row = &rows(&server, &email).await[0];
    assert_eq!(format!("<{}>", received[0].message_id()), row.message_id);
    assert_eq!((row.status.as_str(), row.attempts), ("sent", 2));
    let secret = secret_in(&received[0]);
    assert_eq!(
        sign_in_with_temporary(&server, &email, &secret).await.0,
        200
    );
    let _ = id;
}

#[rstest]
#[actix_web::test]
async fn two_workers_send_each_message_exactly_once(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn_with(backend, |c| c.mail_workers = 0).await else {
        return;
    };
    queue_emails(&server, 60).await;
    // One process's workers share its pool (on SQLite, its one writer).
    let db = server.database.pool();
    let (a, b) = (other_worker(&server, &db), other_worker(&server, &db));
    loop {
        let (x, y) = futures_util::future::join(a.run_once(), b.run_once()).await;
        if x.unwrap() + y.unwrap() == 0 {
            break;
        }
    }
    let received = server.mail.received();
    let mut ids: Vec<String> = received.iter().map(|m| m.message_id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((received.len(), ids.len()), (60, 60));
    let subjects: std::collections::HashSet<String> =
        received.iter().map(|m| m.subject()).collect();
    assert_eq!(subjects.len(), 7, "each in its recipient's language");
    let sent = sent_at_the_first_try(&server).await;
    assert_eq!(sent, 60);
    assert_eq!(
        server.mail.connections(),
        2,
        "each worker sent message after message on a connection of its own"
    );
}

/// Queues `count` emails, in seven languages.
async fn queue_emails(server: &TestServer, count: usize) {
    let partner = PartnerId::parse(&server.owner.partner_id).unwrap();
    let keys = server.keys.clone();
    let now = server.clock.now();
    server
        .database
        .pool()
        .write(move |conn| {
            for i in 0..count {
                outbox::queue(
                    conn,
                    &keys,
                    partner,
                    outbox::Email {
                        template: "master_password_changed",
                        locale: ["en", "fr", "de", "es", "it", "nl", "ja"][i % 7],
                        recipient: &format!("user{i}@example.com"),
                        payload: &json!({"name": format!("User {i}"), "changed_at": now}),
                        now,
                    },
                )?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
}

#[rstest]
#[actix_web::test]
async fn a_connection_the_smtp_server_hung_up_is_replaced_without_a_retry(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(server) = TestServer::spawn_with(backend, |c| c.mail_workers = 0).await else {
        return;
    };
    // As a server that takes 3 messages per connection and then hangs up
    // without a word: the worker finds out on the fourth.
    server.mail.hang_up_after(3);
    queue_emails(&server, 7).await;
    let worker = other_worker(&server, &server.database.pool());
    while worker.run_once().await.unwrap() > 0 {}
    assert_eq!(server.mail.received().len(), 7);
    assert_eq!(server.mail.connections(), 3, "3 + 3 + 1 messages");
    assert_eq!(sent_at_the_first_try(&server).await, 7);
}

#[rstest]
#[actix_web::test]
async fn a_refusal_on_a_kept_connection_is_the_messages_outcome_not_a_reason_to_reconnect(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(server) = TestServer::spawn_with(backend, |c| c.mail_workers = 0).await else {
        return;
    };
    let worker = other_worker(&server, &server.database.pool());
    queue_emails(&server, 1).await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    // The server now answers `451` to MAIL (greylisting, say) on the
    // connection the worker kept: the message waits for its retry, and the
    // worker does not hammer the server from a new connection.
    server.mail.refuse(true);
    queue_emails(&server, 1).await;
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!((server.mail.connections(), server.mail.refused()), (1, 1));
    assert_eq!(server.mail.received().len(), 1);
    assert_eq!(sent_at_the_first_try(&server).await, 1);
}

#[rstest]
#[actix_web::test]
async fn mail_goes_over_starttls_or_implicit_tls_and_only_to_a_trusted_certificate(
    #[values(false, true)] implicit: bool,
) {
    let Some(server) = TestServer::spawn_with(Backend::Sqlite, |c| c.mail_workers = 0).await else {
        return;
    };
    let (sink, certificate) = SmtpSink::start_with_tls(implicit);
    let url = SmtpUrl::parse(&sink.url()).unwrap();
    assert_eq!(url.url().scheme(), if implicit { "smtps" } else { "smtp" });
    queue_emails(&server, 3).await;
    let db = server.database.pool();

    // A certificate nobody vouched for: nothing is sent, the try retries.
    let untrusting = worker_on(&server, &db, Transport::smtp(&url).unwrap());
    while untrusting.run_once().await.unwrap() > 0 {}
    assert!(sink.received().is_empty());
    assert_eq!(sent_at_the_first_try(&server).await, 0);

    // Trusted, the three messages go over one encrypted connection. (The
    // failed tries wait for their retry; the clock is moved past it.)
    server.clock.advance(chrono::Duration::hours(2));
    let trusting = worker_on(
        &server,
        &db,
        Transport::Smtp(Box::new(Smtp::new(&url, Some(&certificate)).unwrap())),
    );
    while trusting.run_once().await.unwrap() > 0 {}
    assert_eq!(sink.received().len(), 3);
    assert_eq!(
        sink.connections(),
        4,
        "one per failed try, then one for the three"
    );
}

/// Messages sent at their first try, their payload erased.
async fn sent_at_the_first_try(server: &TestServer) -> i64 {
    server
        .database
        .pool()
        .run(|conn| {
            Ok::<_, DbError>(
                outbox_messages::table
                    .filter(outbox_messages::status.eq("sent"))
                    .filter(outbox_messages::attempts.eq(1))
                    .filter(outbox_messages::payload_ciphertext.is_null())
                    .count()
                    .get_result(conn)?,
            )
        })
        .await
        .unwrap()
}

#[rstest]
#[actix_web::test]
async fn without_smtp_mail_is_written_as_eml_files_in_the_data_directory(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(server) = TestServer::spawn_with(backend, |c| c.smtp = None).await else {
        return;
    };
    let (_, email, _) = reset_someone(&server).await;
    let row = &rows(&server, &email).await[0];
    outbox_status_becomes(&server, &row.id, "sent").await;
    let file = server.data_dir.join("mail").join(format!("{}.eml", row.id));
    let eml = std::fs::read_to_string(&file).expect("the .eml file");
    assert!(
        eml.contains(&format!("Message-ID: {}", row.message_id)),
        "{eml}"
    );
    assert!(eml.contains(&format!("To: {email}")), "{eml}");
    assert!(server.mail.received().is_empty(), "nothing went over SMTP");
}

#[rstest]
#[actix_web::test]
async fn smtp_credentials_in_the_url_authenticate_and_a_refusal_is_final(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use custodian_api::testing::SmtpSink;

    // Percent-encoded in the URL, as a password with `@`, `:` and `/` must be.
    let sink = SmtpSink::start_with_auth("mailer@msp.example", "p@ss:w/rd");
    let url = format!(
        "smtp://mailer%40msp.example:p%40ss%3Aw%2Frd@{}?tls=none",
        sink.addr()
    );
    let smtp = SmtpUrl::parse(&url).unwrap();
    assert!(!format!("{smtp:?}").contains("w%2Frd"), "never printed");
    let Some(server) = TestServer::spawn_with(backend, |c| c.smtp = Some(smtp.clone())).await
    else {
        return;
    };
    let (_, email, _) = reset_someone(&server).await;
    let received = sink
        .wait_for(Duration::from_secs(20), |m| m.rcpt_to == [email.clone()])
        .await;
    assert!(!secret_in(&received).is_empty());

    // The wrong password: 535 is permanent, so the message is dead at once
    // (no retry would help), its payload erased.
    let url = format!("smtp://mailer%40msp.example:wrong@{}?tls=none", sink.addr());
    let Some(refused) = TestServer::spawn_with(backend, |c| {
        c.smtp = Some(SmtpUrl::parse(&url).unwrap());
    })
    .await
    else {
        return;
    };
    let (_, email, _) = reset_someone(&refused).await;
    let row = rows(&refused, &email).await.remove(0);
    outbox_status_becomes(&refused, &row.id, "dead").await;
    let row = rows(&refused, &email).await.remove(0);
    assert_eq!((row.attempts, row.has_payload), (1, false));
}

#[rstest]
#[actix_web::test]
async fn a_message_whose_workers_keep_dying_is_dead_lettered_after_the_bound(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn_with(backend, |c| c.mail_workers = 0).await else {
        return;
    };
    let (_, email, _) = reset_someone(&server).await;
    let db = server.database.pool();
    let now = server.clock.now();
    let lease = now + chrono::Duration::minutes(2);
    let claimed = db
        .write(move |conn| outbox::claim(conn, "a-worker-that-died", now, lease, 1))
        .await
        .unwrap();
    assert!(!claimed[0].reclaimed);
    // A day later the lease is long gone and so is the bound: the message
    // is not sent with a day-old secret, it is dead-lettered.
    server.clock.advance(chrono::Duration::hours(25));
    assert_eq!(other_worker(&server, &db).run_once().await.unwrap(), 1);
    let row = rows(&server, &email).await.remove(0);
    assert_eq!((row.status.as_str(), row.has_payload), ("dead", false));
    assert!(server.mail.received().is_empty());
}

#[rstest]
#[actix_web::test]
async fn a_message_withdrawn_after_its_claim_is_not_sent(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    // Nothing sends until the worker below claims both messages at once.
    let Some(server) = TestServer::spawn_with(backend, |c| c.mail_workers = 0).await else {
        return;
    };
    let (owner, first_email, first_reset) = reset_someone(&server).await;
    let (_, second_email, second_reset) = reset_someone(&server).await;
    // The sink takes the first message it is sent and holds its answer.
    server.mail.hold(true);
    let worker = other_worker(&server, &server.database.pool());
    let run = actix_web::rt::spawn(async move { worker.run_once().await });
    let held = server
        .mail
        .wait_for(Duration::from_secs(20), |_| true)
        .await;
    // Meanwhile the other message's reset is re-issued: its email is
    // withdrawn, though the worker claimed it with the first.
    let (other_email, other_reset) = if held.rcpt_to.contains(&first_email) {
        (second_email, second_reset)
    } else {
        (first_email, first_reset)
    };
    let (status, _) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/master-password-resets/{other_reset}/reissue"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    server.mail.hold(false);
    assert_eq!(
        run.await.unwrap().unwrap(),
        2,
        "the held message and the re-issued one; never the withdrawn one"
    );
    let rows = rows(&server, &other_email).await;
    assert_eq!(
        (rows[0].status.as_str(), rows[0].has_payload),
        ("dead", false)
    );
    assert_eq!(rows[1].status, "sent");
    let received: Vec<String> = server
        .mail
        .received()
        .iter()
        .filter(|r| r.rcpt_to.contains(&other_email))
        .map(|r| r.message_id())
        .collect();
    assert_eq!(
        received,
        [rows[1].message_id.trim_matches(['<', '>']).to_owned()]
    );
}
