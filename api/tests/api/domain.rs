//! The domain layer without HTTP: a worker (a batch, an approval) calls the
//! same operations the handlers call, with a context of its own making.

use custodian_api::app::{self, Actor, OpContext, resets};
use custodian_api::authz::Principal;
use custodian_api::db::admins::{self, Role};
use custodian_api::db::schema::{outbox_messages, vault_items};
use custodian_api::db::types::ResetStatus;
use custodian_api::db::{Backend, DbError};
use custodian_api::ids::{AdminId, CompanyId, PartnerId};
use custodian_api::testing::TestServer;
use diesel::prelude::*;
use rstest::rstest;

use crate::support::seed;

/// What a worker acting for `admin` would hold.
async fn context_of(server: &TestServer, admin: AdminId, companies: Vec<CompanyId>) -> OpContext {
    let partner = PartnerId::parse(&server.owner.partner_id).unwrap();
    let row = server
        .database
        .pool()
        .run(move |conn| admins::find(conn, partner, admin))
        .await
        .unwrap()
        .unwrap();
    OpContext {
        principal: Principal::Admin {
            id: admin,
            partner,
            role: row.role,
            companies,
        },
        partner,
        actor: Actor::Admin(row),
        request_id: None,
        now: server.clock.now(),
    }
}

fn command(acknowledge: bool) -> resets::ResetCommand {
    resets::ResetCommand {
        confirmation: "Yes".into(),
        acknowledge_company_data_loss: acknowledge,
        reason: Some("lost master password".into()),
        ticket: Some("PSA-1".into()),
        supersedes: None,
        idempotency: None,
        batch: None,
    }
}

#[rstest]
#[actix_web::test]
async fn a_reset_is_one_call_into_the_domain_layer(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let user = seed::user(&server, &partner, &company).await;
    seed::item(&server, (&partner, &company, &user), "personal", false).await;
    seed::item(&server, (&partner, &company, &user), "company", false).await;
    let app: &app::App = &server.app;
    let owner = context_of(
        &server,
        AdminId::parse(&server.owner.owner_id).unwrap(),
        Vec::new(),
    )
    .await;
    let items = |user: String| {
        let pool = server.database.pool();
        async move {
            pool.run(move |conn| {
                vault_items::table
                    .filter(vault_items::user_id.eq(user))
                    .count()
                    .get_result::<i64>(conn)
                    .map_err(DbError::from)
            })
            .await
            .unwrap()
        }
    };

    let preview = resets::preview(app, &owner, &user).await.unwrap();
    assert_eq!(
        (
            preview.vault.personal_items,
            preview.vault.company_items_not_backed_up()
        ),
        (1, 1)
    );
    assert_eq!(preview.delivery, resets::Delivery::TemporaryPassword);

    // The rules hold without HTTP: the phrase, the acknowledgement, tenancy.
    let mut wrong = command(true);
    wrong.confirmation = "Sure".into();
    let refused = resets::create(app, &owner, &user, wrong, |_| Vec::new()).await;
    assert!(
        matches!(&refused, Err(app::Error::Invalid { field, .. }) if field == "confirmation"),
        "{refused:?}"
    );
    let refused = resets::create(app, &owner, &user, command(false), |_| Vec::new()).await;
    assert!(
        matches!(refused, Err(app::Error::CompanyItemsNotBackedUp { vault }) if vault.company_items == 1),
        "the unacknowledged loss of company items is refused"
    );
    assert_eq!(items(user.clone()).await, 2, "and nothing was purged");
    // A technician of no company finds no such user.
    let (email, _) = server.create_admin(Role::Technician, &[]).await;
    let partner_id = owner.partner;
    let technician = server
        .database
        .pool()
        .run(move |conn| {
            admins::find_by_email(
                conn,
                partner_id,
                &custodian_api::domain::Email::parse(&email).unwrap(),
            )
        })
        .await
        .unwrap()
        .unwrap();
    let technician = context_of(&server, technician.id, Vec::new()).await;
    let hidden = resets::create(app, &technician, &user, command(true), |_| Vec::new()).await;
    assert!(matches!(hidden, Err(app::Error::NotFound)), "{hidden:?}");

    let created = resets::create(app, &owner, &user, command(true), |reset| {
        reset.0.id.to_string().into_bytes()
    })
    .await
    .unwrap();
    let resets::Created::New { reset, body } = created else {
        panic!("a new reset");
    };
    assert_eq!(
        body,
        reset.0.id.to_string().as_bytes(),
        "the caller's rendering is kept"
    );
    assert_eq!(reset.0.status, ResetStatus::PendingUserAction);
    assert_eq!(
        (reset.0.personal_items_purged, reset.0.company_items_purged),
        (1, 1)
    );
    assert_eq!(items(user.clone()).await, 0, "the vault is purged");
    // The email goes out through the outbox, as for a reset over HTTP.
    let row = reset.0.outbox_message_id.clone().unwrap();
    let message: String = server
        .database
        .pool()
        .run(move |conn| {
            outbox_messages::table
                .find(row)
                .select(outbox_messages::message_id)
                .first(conn)
                .map_err(DbError::from)
        })
        .await
        .unwrap();
    let received = server.mail.wait_for_id(&message).await;
    assert!(received.text().contains("temporary"), "{}", received.text());

    // A second reset must name the pending one.
    let again = resets::create(app, &owner, &user, command(true), |_| Vec::new()).await;
    assert!(
        matches!(
            &again,
            Err(app::Error::Conflict {
                code: "reset_pending",
                ..
            })
        ),
        "{again:?}"
    );
    let listed = resets::list(
        app,
        &owner,
        resets::ListQuery {
            limit: Some(10),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(listed.0.len(), 1);
}

#[rstest]
#[actix_web::test]
async fn a_corrupt_stored_id_is_a_logged_storage_error_never_a_nil_id(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use custodian_api::db::schema::users;
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    seed::user(&server, &partner, &company).await;
    let (partner_in, company_in) = (partner.clone(), company.clone());
    server
        .database
        .pool()
        .run(move |conn| {
            let now = chrono::Utc::now().naive_utc();
            diesel::insert_into(users::table)
                .values((
                    users::id.eq("not-a-uuid"),
                    users::partner_id.eq(partner_in),
                    users::company_id.eq(company_in),
                    users::email.eq("corrupt@example.com"),
                    users::name.eq("Corrupt Row"),
                    users::client_kind.eq("desktop"),
                    users::created_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
    let owner = context_of(
        &server,
        AdminId::parse(&server.owner.owner_id).unwrap(),
        Vec::new(),
    )
    .await;
    let listed = app::users::search(
        &server.app,
        &owner,
        app::users::Search::default(),
        None,
        None,
    )
    .await;
    assert!(
        matches!(listed, Err(app::Error::Storage(DbError::Corrupt(_)))),
        "{listed:?}"
    );

    // Through the API: a server fault (500), not a list with a nil id.
    let token = crate::support::owner_token(&server).await;
    let (status, body) = crate::support::send(&server, &token, "GET", "/v1/users", None).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        !body
            .to_string()
            .contains("00000000-0000-0000-0000-000000000000")
    );
}
