//! The audit log: what is recorded, that no secret is, that the chain shows
//! tampering, and that concurrent appends keep one unbroken chain.

use custodian_api::audit::{self, ActorKind, NewEvent};
use custodian_api::db::schema::audit_events;
use custodian_api::db::{Backend, migrations};
use custodian_api::ids::PartnerId;
use custodian_api::testing::{TestDatabase, TestServer};

use crate::support::{send, sign_in};
use custodian_api::auth::keys::ServerKeys;

/// A server key for tests that append without a server.
fn keys() -> std::sync::Arc<ServerKeys> {
    std::sync::Arc::new(ServerKeys::derive(&secrecy::SecretBox::new(Box::new(
        [7u8; 32],
    ))))
}
use custodian_api::db::DbError;
use diesel::prelude::*;
use rstest::rstest;
use secrecy::ExposeSecret;
use serde_json::json;

#[rstest]
#[actix_web::test]
async fn security_events_are_recorded_without_secrets(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use custodian_api::db::admins::Role;
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let one_time = server.owner.one_time_password.expose_secret().to_owned();
    let email = server.owner.owner_email.clone();

    assert!(sign_in(&server, &email, "wrong guess").await.is_none());
    assert!(
        sign_in(&server, "nobody@example.com", "another guess")
            .await
            .is_none()
    );
    let restricted = sign_in(&server, &email, &one_time).await.unwrap();
    let new_password = "correct horse battery staple";
    let status = reqwest::Client::new()
        .post(format!("{}/v1/auth/password", server.base_url))
        .bearer_auth(&restricted)
        .json(&json!({"current_password": one_time, "new_password": new_password}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    let owner = sign_in(&server, &email, new_password).await.unwrap();
    let (tech_email, tech_password) = server.create_admin(Role::Technician, &[]).await;
    let tech = sign_in(&server, &tech_email, &tech_password).await.unwrap();
    let (status, _) = send(&server, &tech, "GET", "/v1/audit-events", None).await;
    assert_eq!(status, 403, "technicians do not read the audit log");

    let (status, page) = send(&server, &owner, "GET", "/v1/audit-events?limit=200", None).await;
    assert_eq!(status, 200, "{page}");
    let events = page["items"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("signIn", "deny"),
            ("signIn", "allow"),
            ("changePassword", "allow"),
            ("signIn", "allow"),
            ("signIn", "allow"),
            ("readAudit", "deny"),
        ],
        "{page}"
    );
    let denial = &events[5];
    assert_eq!(denial["actor_kind"], "admin");
    assert!(
        denial["policy_ids"].as_array().unwrap().is_empty(),
        "a default deny names no policy"
    );
    assert!(
        denial["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(
        events
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );

    // The unknown email's attempt went to the chain of no partner.
    let anonymous: Vec<(String, String)> = server
        .database
        .pool()
        .run(|conn| {
            Ok::<_, DbError>(
                audit_events::table
                    .filter(audit_events::partner_id.eq(audit::NO_PARTNER))
                    .select((audit_events::action, audit_events::details))
                    .load(conn)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(anonymous.len(), 1);
    assert!(anonymous[0].1.contains("nobody@example.com"));

    // No secret anywhere in the log.
    let everything: Vec<String> = server
        .database
        .pool()
        .run(|conn| {
            let rows: Vec<(String, String, Option<String>)> = audit_events::table
                .select((
                    audit_events::details,
                    audit_events::policy_ids,
                    audit_events::target_id,
                ))
                .load(conn)?;
            Ok::<_, DbError>(rows.into_iter().map(|r| format!("{r:?}")).collect())
        })
        .await
        .unwrap();
    for secret in [
        one_time.as_str(),
        new_password,
        tech_password.as_str(),
        "wrong guess",
        "another guess",
    ] {
        assert!(
            !everything.iter().any(|row| row.contains(secret)),
            "a secret reached the audit log"
        );
    }

    // Filters and paging.
    let (_, signins) = send(
        &server,
        &owner,
        "GET",
        "/v1/audit-events?action=signIn&limit=2",
        None,
    )
    .await;
    assert_eq!(signins["items"].as_array().unwrap().len(), 2);
    let cursor = signins["next_cursor"].as_str().unwrap().to_owned();
    let cursor_path = format!("/v1/audit-events?action=signIn&cursor={cursor}");
    let (_, rest) = send(&server, &owner, "GET", &cursor_path, None).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert!(rest["next_cursor"].is_null());
    for bad in [
        "limit=201",
        "limit=0",
        "cursor=nonsense",
        "from=yesterday",
        "colour=red",
    ] {
        let (status, problem) = send(
            &server,
            &owner,
            "GET",
            &format!("/v1/audit-events?{bad}"),
            None,
        )
        .await;
        assert_eq!(status, 422, "{bad}: {problem}");
    }
}

/// An allowed event of the system's, in `partner`'s chain.
fn system_event(
    partner: PartnerId,
    action: String,
    policy_ids: Vec<String>,
    details: serde_json::Value,
) -> NewEvent {
    NewEvent {
        partner: Some(partner),
        actor_kind: ActorKind::System,
        actor_id: None,
        action,
        target_kind: None,
        target_id: None,
        allowed: true,
        policy_ids,
        request_id: None,
        details,
    }
}

#[rstest]
#[actix_web::test]
async fn verify_names_the_first_altered_or_missing_event(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(database) = TestDatabase::create(backend) else {
        return;
    };
    let db = database.pool();
    db.run(migrations::run_pending).await.unwrap();
    let keys = keys();
    let partner = PartnerId::new();
    let verify = || {
        let keys = keys.clone();
        db.run(move |conn| audit::verify(conn, &keys, partner))
    };
    for i in 0..5 {
        let event = system_event(
            partner,
            format!("test{i}"),
            vec!["p".into()],
            json!({"i": i}),
        );
        let keys = keys.clone();
        db.write(move |conn| audit::append(conn, &keys, event).map(drop))
            .await
            .unwrap();
    }
    let verdict = verify().await.unwrap();
    assert!(verdict.valid && verdict.events == 5, "{verdict:?}");

    let p = partner.to_string();
    db.run(move |conn| {
        diesel::update(
            audit_events::table
                .filter(audit_events::partner_id.eq(&p))
                .filter(audit_events::seq.eq(3)),
        )
        .set(audit_events::details.eq("{\"i\":99}"))
        .execute(conn)?;
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    let verdict = verify().await.unwrap();
    assert_eq!(
        (verdict.valid, verdict.first_bad_seq, verdict.events),
        (false, Some(3), 2),
        "{verdict:?}"
    );
    assert!(verdict.first_bad_event_id.is_some());

    let p = partner.to_string();
    db.run(move |conn| {
        diesel::update(
            audit_events::table
                .filter(audit_events::partner_id.eq(&p))
                .filter(audit_events::seq.eq(3)),
        )
        .set(audit_events::details.eq("{\"i\":2}"))
        .execute(conn)?;
        diesel::delete(
            audit_events::table
                .filter(audit_events::partner_id.eq(&p))
                .filter(audit_events::seq.eq(2)),
        )
        .execute(conn)?;
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    let verdict = verify().await.unwrap();
    assert_eq!(
        (verdict.valid, verdict.first_bad_seq),
        (false, Some(3)),
        "{verdict:?}"
    );
    assert_eq!(verdict.problem.as_deref(), Some("event 2 is missing"));
}

#[rstest]
#[actix_web::test]
async fn truncation_and_a_rewrite_without_the_key_are_caught(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use custodian_api::db::schema::audit_heads;
    let Some(database) = TestDatabase::create(backend) else {
        return;
    };
    let db = database.pool();
    db.run(migrations::run_pending).await.unwrap();
    let keys = keys();
    let partner = PartnerId::new();
    let append = |i: i64| {
        let keys = keys.clone();
        let event = system_event(partner, format!("test{i}"), Vec::new(), json!({"i": i}));
        db.write(move |conn| audit::append(conn, &keys, event).map(drop))
    };
    let verify = || {
        let keys = keys.clone();
        db.run(move |conn| audit::verify(conn, &keys, partner))
    };
    for i in 0..4 {
        append(i).await.unwrap();
    }
    let intact = verify().await.unwrap();
    assert!(intact.valid && intact.head_seq == Some(4), "{intact:?}");
    assert_eq!(intact.head_hash.as_ref().map(String::len), Some(64));

    // The newest event removed: caught by the head.
    let p = partner.to_string();
    db.run(move |conn| {
        diesel::delete(
            audit_events::table
                .filter(audit_events::partner_id.eq(&p))
                .filter(audit_events::seq.eq(4)),
        )
        .execute(conn)?;
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    let verdict = verify().await.unwrap();
    assert_eq!(
        (
            verdict.valid,
            verdict.first_bad_seq,
            verdict.problem.as_deref()
        ),
        (
            false,
            Some(4),
            Some("event 4 is missing: the chain ends before its head")
        ),
    );
    // Moving the head back to the last event left, without the key: caught.
    let p = partner.to_string();
    db.run(move |conn| {
        let last: Vec<u8> = audit_events::table
            .filter(audit_events::partner_id.eq(&p))
            .filter(audit_events::seq.eq(3))
            .select(audit_events::hash)
            .first(conn)?;
        diesel::update(audit_heads::table.filter(audit_heads::partner_id.eq(&p)))
            .set((audit_heads::seq.eq(3), audit_heads::hash.eq(last)))
            .execute(conn)?;
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    let verdict = verify().await.unwrap();
    assert_eq!(
        (verdict.valid, verdict.problem.as_deref()),
        (false, Some("the chain's head record was altered"))
    );

    // An event altered and the chain recomputed with plain SHA-256 (what
    // someone without the server key could do): its hash does not verify.
    let other = PartnerId::new();
    let keys_for_other = keys.clone();
    let event = system_event(other, "testOther".into(), Vec::new(), json!({}));
    db.write(move |conn| audit::append(conn, &keys_for_other, event).map(drop))
        .await
        .unwrap();
    let p = other.to_string();
    db.run(move |conn| {
        use sha2::Digest;
        let forged = sha2::Sha256::digest(b"anything").to_vec();
        diesel::update(audit_events::table.filter(audit_events::partner_id.eq(&p)))
            .set((
                audit_events::details.eq("{\"forged\":true}"),
                audit_events::hash.eq(forged),
            ))
            .execute(conn)?;
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    let keys_for_other = keys.clone();
    let verdict = db
        .run(move |conn| audit::verify(conn, &keys_for_other, other))
        .await
        .unwrap();
    assert_eq!(
        (
            verdict.valid,
            verdict.first_bad_seq,
            verdict.problem.as_deref()
        ),
        (false, Some(1), Some("its content does not match its hash"))
    );
}

#[rstest]
#[actix_web::test]
async fn concurrent_appends_keep_one_chain(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(database) = TestDatabase::create(backend) else {
        return;
    };
    let db = database.pool();
    db.run(migrations::run_pending).await.unwrap();
    let keys = keys();
    let partner = PartnerId::new();
    let appends = (0..24).map(|i| {
        let db = db.clone();
        let keys = keys.clone();
        actix_web::rt::spawn(async move {
            let event = system_event(partner, format!("race{i}"), Vec::new(), json!({}));
            db.write(move |conn| audit::append(conn, &keys, event).map(drop))
                .await
        })
    });
    for append in appends {
        append.await.unwrap().expect("every append lands");
    }
    let verdict = db
        .run({
            let keys = keys.clone();
            move |conn| audit::verify(conn, &keys, partner)
        })
        .await
        .unwrap();
    assert!(verdict.valid, "{verdict:?}");
    assert_eq!(verdict.events, 24);
}
