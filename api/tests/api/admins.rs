//! `/v1/admins`: creating, reading, changing and removing admins; the last
//! owner; revocation; another partner's admins are 404.

use custodian_api::db::admins::{self, Admin, Role};
use custodian_api::db::{Backend, partners};
use custodian_api::testing::TestServer;

use crate::support::{owner_token, send, sign_in, sign_in_to};
use custodian_api::db::DbError;
use rstest::rstest;
use serde_json::json;

#[rstest]
#[actix_web::test]
async fn an_admin_is_invited_joins_through_the_emailed_link_and_is_managed(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (status, created) = send(
        &server,
        &owner,
        "POST",
        "/v1/admins",
        Some(
            json!({"email": " Tina@Example.com ", "name": "Tina", "role": "admin", "locale": "fr"}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["email"], "tina@example.com");
    assert_eq!(created["status"], "invited");
    assert!(created["invitation_expires_at"].is_string(), "{created}");
    assert!(
        created.get("one_time_password").is_none(),
        "no password exists to show: {created}"
    );
    let id = created["id"].as_str().unwrap().to_owned();

    // The invitation, in French, names the partner and the sign-in.
    let email = crate::resets::newest_email(&server, "tina@example.com", "admin_invitation").await;
    assert_eq!(
        email.subject(),
        "Vous êtes invité sur un portail partenaire"
    );
    assert!(
        email.text().contains(&server.owner.partner_id),
        "{}",
        email.text()
    );
    let prefix = format!("{}/accept-admin-invitation#token=", server.base_url);
    assert!(email.text().contains(&prefix), "{}", email.text());
    let token = crate::resets::secret_in(&email);

    // Before joining, nothing signs in as Tina: not even an empty password.
    assert!(sign_in(&server, "tina@example.com", "").await.is_none());
    // A password too short is refused and the link still works.
    let (status, problem) = crate::support::accept_admin_invitation(&server, &token, "short").await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("password"))
    );
    let (status, refused) =
        crate::support::accept_admin_invitation(&server, "not-the-token", "tina's long passphrase")
            .await;
    assert_eq!(status, 401, "{refused}");
    let (status, joined) =
        crate::support::accept_admin_invitation(&server, &token, "tina's long passphrase").await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(
        (
            joined["admin_id"].as_str(),
            joined["partner_id"].as_str(),
            joined["email"].as_str()
        ),
        (
            Some(id.as_str()),
            Some(server.owner.partner_id.as_str()),
            Some("tina@example.com")
        )
    );
    // The link works once.
    let (status, used) =
        crate::support::accept_admin_invitation(&server, &token, "another long passphrase").await;
    assert_eq!(
        (status, used["detail"].clone()),
        (401, refused["detail"].clone())
    );

    let (status, again) = send(&server, &owner, "GET", &format!("/v1/admins/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(again["status"], "active", "{again}");
    assert!(again["invitation_expires_at"].is_null(), "{again}");
    assert_eq!(again["must_change_password"], false);
    // Inviting someone who joined is a conflict.
    let (status, problem) = send(
        &server,
        &owner,
        "POST",
        &format!("/v1/admins/{id}/invitation"),
        None,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("admin_not_invited"))
    );

    let (status, problem) = send(
        &server,
        &owner,
        "POST",
        "/v1/admins",
        Some(json!({"email": "tina@example.com", "name": "Twin", "role": "admin"})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("email_taken"))
    );
    for (body, field) in [
        (
            json!({"email": "not-an-email", "name": "X", "role": "admin"}),
            "email",
        ),
        (
            json!({"email": "x@example.com", "name": "", "role": "admin"}),
            "name",
        ),
        (
            json!({"email": "x@example.com", "name": "X", "role": "emperor"}),
            "role",
        ),
        (
            json!({"email": "x@example.com", "name": "X", "role": "admin", "locale": "tlh"}),
            "locale",
        ),
        (
            json!({"email": "x@example.com", "name": "X", "role": "admin", "companies": [uuid::Uuid::new_v4()]}),
            "companies",
        ),
    ] {
        let (status, problem) =
            send(&server, &owner, "POST", "/v1/admins", Some(body.clone())).await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
    // A company that does not exist is absent: 404 naming the field.
    let body = json!({"email": "x@example.com", "name": "X", "role": "technician", "companies": [uuid::Uuid::new_v4()]});
    let (status, problem) = send(&server, &owner, "POST", "/v1/admins", Some(body)).await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (404, Some("companies"))
    );

    // The new admin signs in with the password they chose, and works.
    let tina = sign_in(&server, "tina@example.com", "tina's long passphrase")
        .await
        .unwrap();
    let (status, page) = send(&server, &tina, "GET", "/v1/admins?limit=2", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = send(
        &server,
        &tina,
        "GET",
        &format!("/v1/admins?cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(
        rest["items"].as_array().unwrap().len(),
        1,
        "bootstrap owner, created owner, tina"
    );

    // A role change revokes her tokens at once.
    let (status, changed) = send(
        &server,
        &owner,
        "PATCH",
        &format!("/v1/admins/{id}"),
        Some(json!({"role": "technician"})),
    )
    .await;
    assert_eq!(
        (status, changed["role"].as_str()),
        (200, Some("technician"))
    );
    let (status, _) = send(&server, &tina, "GET", "/v1/partner", None).await;
    assert_eq!(status, 401);

    // Removal: her new tokens die with her.
    let tina = sign_in(&server, "tina@example.com", "tina's long passphrase")
        .await
        .unwrap();
    let (status, _) = send(&server, &owner, "DELETE", &format!("/v1/admins/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = send(&server, &tina, "GET", "/v1/partner", None).await;
    assert_eq!(status, 401);
    let (status, _) = send(&server, &owner, "GET", &format!("/v1/admins/{id}"), None).await;
    assert_eq!(status, 404);
}

#[rstest]
#[actix_web::test]
async fn an_admin_invitation_is_sent_again_expires_and_is_revoked_with_the_admin(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use crate::invitations::messages;
    use crate::resets::outbox_status_becomes;
    use crate::support::{accept_admin_invitation, admin_invitation_token};
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    // The first invitation cannot be delivered yet.
    server.mail.refuse(true);
    let (status, tom) = send(
        &server,
        &owner,
        "POST",
        "/v1/admins",
        Some(json!({"email": "tom@msp.example", "name": "Tom", "role": "admin"})),
    )
    .await;
    assert_eq!(status, 201, "{tom}");
    let tom = tom["id"].as_str().unwrap().to_owned();
    let first = messages(&server, "tom@msp.example", "admin_invitation").await;
    assert_eq!(first.len(), 1);
    outbox_status_becomes(&server, &first[0].0, "retrying").await;

    // A technician may not invite; another partner's or no admin is 404.
    let (email, password) = server.create_admin(Role::Technician, &[]).await;
    let technician = sign_in(&server, &email, &password).await.unwrap();
    let resend = format!("/v1/admins/{tom}/invitation");
    let (status, _) = send(&server, &technician, "POST", &resend, None).await;
    assert_eq!(status, 403);
    let hash = custodian_api::auth::password::hash_blocking(&"the stranger's passphrase".into());
    let (_, stranger) = other_partners_owner(&server, "tom@msp.example", hash).await;
    let path = format!("/v1/admins/{stranger}/invitation");
    let (status, _) = send(&server, &owner, "POST", &path, None).await;
    assert_eq!(status, 404);

    let (status, again) = send(&server, &owner, "POST", &resend, None).await;
    assert_eq!((status, again["status"].as_str()), (200, Some("invited")));
    // The first email is withdrawn before it was ever sent; only the
    // second arrives, and only its link works.
    let rows = messages(&server, "tom@msp.example", "admin_invitation").await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], (first[0].0.clone(), "dead".to_owned()));
    outbox_status_becomes(&server, &rows[1].0, "retrying").await;
    server.mail.refuse(false);
    server.clock.advance(chrono::Duration::seconds(31));
    server.outbox.wake();
    let token = admin_invitation_token(&server, "tom@msp.example").await;

    // Past the partner's invitation lifetime (7 days), the link is dead.
    server.clock.advance(chrono::Duration::days(8));
    let (status, _) = accept_admin_invitation(&server, &token, "tom's long passphrase").await;
    assert_eq!(status, 401, "expired");
    let owner = owner_token(&server).await;
    let (status, listed) = send(&server, &owner, "GET", &format!("/v1/admins/{tom}"), None).await;
    assert_eq!((status, listed["status"].as_str()), (200, Some("invited")));
    let (status, _) = send(&server, &owner, "POST", &resend, None).await;
    assert_eq!(status, 200);
    let token = admin_invitation_token(&server, "tom@msp.example").await;
    let (status, joined) = accept_admin_invitation(&server, &token, "tom's long passphrase").await;
    assert_eq!(status, 200, "{joined}");
    assert!(
        sign_in(&server, "tom@msp.example", "tom's long passphrase")
            .await
            .is_some()
    );

    // Removing an admin who has not joined revokes the invitation: its
    // unsent email is withdrawn and its link opens nothing.
    server.mail.refuse(true);
    let (status, ann) = send(
        &server,
        &owner,
        "POST",
        "/v1/admins",
        Some(json!({"email": "ann@msp.example", "name": "Ann", "role": "admin"})),
    )
    .await;
    assert_eq!(status, 201, "{ann}");
    let rows = messages(&server, "ann@msp.example", "admin_invitation").await;
    outbox_status_becomes(&server, &rows[0].0, "retrying").await;
    let path = format!("/v1/admins/{}", ann["id"].as_str().unwrap());
    let (status, _) = send(&server, &owner, "DELETE", &path, None).await;
    assert_eq!(status, 204);
    let rows = messages(&server, "ann@msp.example", "admin_invitation").await;
    assert_eq!(rows[0].1, "dead");
}

#[rstest]
#[actix_web::test]
async fn the_last_owner_stays(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (email, password) = server.create_admin(Role::Owner, &[]).await;
    let second = sign_in(&server, &email, &password).await.unwrap();
    let bootstrap_owner = server.owner.owner_id.clone();
    // Two owners: one may go.
    let (status, _) = send(
        &server,
        &second,
        "DELETE",
        &format!("/v1/admins/{bootstrap_owner}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    // The last one can neither go nor step down.
    let (_, me) = send(&server, &second, "GET", "/v1/admins", None).await;
    let my_id = me["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, problem) = send(
        &server,
        &second,
        "DELETE",
        &format!("/v1/admins/{my_id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("last_owner"))
    );
    let (status, problem) = send(
        &server,
        &second,
        "PATCH",
        &format!("/v1/admins/{my_id}"),
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("last_owner"))
    );
    let (status, _) = send(&server, &second, "GET", "/v1/partner", None).await;
    assert_eq!(status, 200, "still an owner, tokens intact");
}

#[rstest]
#[actix_web::test]
async fn two_owners_demoting_each_other_leave_one(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (a_email, a_password) = server.create_admin(Role::Owner, &[]).await;
    let a = sign_in(&server, &a_email, &a_password).await.unwrap();
    // Two owners: the bootstrapped one (made usable here) and A.
    let pool = server.database.pool();
    let boot = server.owner.owner_id.clone();
    let b_password = "bootstrap owner's new passphrase".to_owned();
    let hash = custodian_api::auth::password::hash_blocking(&b_password.clone().into());
    pool.run(move |conn| {
        use custodian_api::db::schema::admins as t;
        use diesel::prelude::*;
        diesel::update(t::table.filter(t::id.eq(&boot)))
            .set((t::password_hash.eq(hash), t::must_change_password.eq(false)))
            .execute(conn)?;
        Ok::<_, DbError>(())
    })
    .await
    .unwrap();
    let b = sign_in(&server, &server.owner.owner_email, &b_password)
        .await
        .unwrap();
    let (_, page) = send(&server, &a, "GET", "/v1/admins", None).await;
    let a_id = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == a_email.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_id = server.owner.owner_id.clone();
    let (first, second) = tokio_join(
        send(
            &server,
            &a,
            "PATCH",
            &format!("/v1/admins/{b_id}"),
            Some(json!({"role": "admin"})),
        ),
        send(
            &server,
            &b,
            "PATCH",
            &format!("/v1/admins/{a_id}"),
            Some(json!({"role": "admin"})),
        ),
    )
    .await;
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    // One demotion lands; the other is refused (409 last owner, or 401 when
    // the winner demoted the loser first and so revoked their token).
    assert_eq!(statuses[0], 200, "{first:?} {second:?}");
    assert!(matches!(statuses[1], 401 | 409), "{first:?} {second:?}");
    let owners = pool
        .run(move |conn| {
            let partner = custodian_api::ids::PartnerId::parse(&page_partner(conn)).unwrap();
            admins::lock_owners(conn, partner)
        })
        .await
        .unwrap();
    assert_eq!(owners.len(), 1);
}

fn page_partner(conn: &mut custodian_api::db::DbConn) -> String {
    use custodian_api::db::schema::partners as t;
    use diesel::prelude::*;
    t::table.select(t::id).first(conn).unwrap()
}

async fn tokio_join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    futures_util::future::join(a, b).await
}

/// Another partner, made in the database, and its owner with `email` and
/// `password_hash`: (partner id, admin id).
async fn other_partners_owner(
    server: &TestServer,
    email: &str,
    password_hash: String,
) -> (String, String) {
    let now = chrono::Utc::now().naive_utc();
    let other = partners::Partner::new("Other MSP", now);
    let stranger = Admin {
        id: custodian_api::ids::AdminId::new(),
        partner_id: other.id,
        email: email.into(),
        name: "Stranger".into(),
        role: custodian_api::db::admins::Role::Owner,
        password_hash,
        must_change_password: false,
        token_generation: 0,
        locale: "en".into(),
        created_at: now,
        updated_at: now,
        invitation_expires_at: None,
    };
    let ids = (other.id.to_string(), stranger.id.to_string());
    server
        .database
        .pool()
        .run(move |conn| {
            partners::insert(conn, &other)?;
            admins::insert(conn, &stranger)
        })
        .await
        .unwrap();
    ids
}

#[rstest]
#[actix_web::test]
async fn another_partners_admin_is_not_found(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let (_, stranger_id) =
        other_partners_owner(&server, "stranger@other.example", "x".into()).await;
    let absent = uuid::Uuid::new_v4().to_string();
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"name": "Mine now"}))),
        ("DELETE", None),
    ] {
        let (status, problem) = send(
            &server,
            &owner,
            method,
            &format!("/v1/admins/{stranger_id}"),
            body.clone(),
        )
        .await;
        let (absent_status, absent_problem) = send(
            &server,
            &owner,
            method,
            &format!("/v1/admins/{absent}"),
            body,
        )
        .await;
        assert_eq!((status, absent_status), (404, 404), "{method}");
        assert_eq!(
            problem["detail"], absent_problem["detail"],
            "{method}: the same answer as an absent admin"
        );
        assert_eq!(problem["code"], "not_found");
    }
    let (status, _) = send(&server, &owner, "GET", "/v1/admins/not-a-uuid", None).await;
    assert_eq!(status, 404);
}

/// A sign-in name belongs to a partner: another partner's admin with the
/// same email neither blocks creating one here nor is reached by signing in
/// here, and each signs in with its own partner's id.
#[rstest]
#[actix_web::test]
async fn an_email_is_unique_within_a_partner_only(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let strangers_password = "the stranger's own passphrase";
    let hash = custodian_api::auth::password::hash_blocking(&strangers_password.into());
    let (other_id, _) = other_partners_owner(&server, "shared@msp.example", hash).await;

    let body = json!({"email": "Shared@MSP.example", "name": "Ours", "role": "admin"});
    let (status, created) = send(&server, &owner, "POST", "/v1/admins", Some(body.clone())).await;
    assert_eq!(status, 201, "{created}");
    let ours = "our own long passphrase";
    crate::support::join_as_admin(&server, "shared@msp.example", ours).await;
    let (status, again) = send(&server, &owner, "POST", "/v1/admins", Some(body)).await;
    assert_eq!((status, again["code"].as_str()), (409, Some("email_taken")));

    // Each admin signs in under its own partner, and only there.
    assert!(sign_in(&server, "shared@msp.example", ours).await.is_some());
    assert!(
        sign_in(&server, "shared@msp.example", strangers_password)
            .await
            .is_none(),
        "the other partner's password does not open this partner's admin"
    );
    let theirs = sign_in_to(&server, &other_id, "shared@msp.example", strangers_password).await;
    assert!(theirs["access_token"].is_string(), "{theirs}");
    let wrong = sign_in_to(
        &server,
        &other_id,
        "shared@msp.example",
        "not the stranger's passphrase",
    )
    .await;
    assert_eq!(wrong["error"], "invalid_grant");
    let (status, me) = send(
        &server,
        theirs["access_token"].as_str().unwrap(),
        "GET",
        "/v1/partner",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["name"], "Other MSP");
}
