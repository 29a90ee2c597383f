//! Identity: the first platform operator, a first partner and its owner, on
//! both backends, and the secrets that come with them.

use custodian_api::auth::password::{Passwords, verify_blocking};
use custodian_api::bootstrap::{
    BootstrapError, BootstrapRequest, PartnerRequest, bootstrap, first_partner,
};
use custodian_api::db::DbError;
use custodian_api::db::admins::{self, Role};
use custodian_api::db::{Backend, migrations, operators, partners};
use custodian_api::ids::PartnerId;
use custodian_api::testing::{TestDatabase, TestServer};
use rstest::rstest;
use secrecy::ExposeSecret;

#[rstest]
#[actix_web::test]
async fn a_first_partner_and_its_owner_are_made_once(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(database) = TestDatabase::create(backend) else {
        return;
    };
    let db = database.pool();
    db.run(migrations::run_pending).await.unwrap();
    let passwords = Passwords::new(1);
    let request = PartnerRequest {
        partner_name: " Acme IT ".into(),
        owner_email: " Alice@Acme.Example ".into(),
        owner_name: "Alice".into(),
    };
    let created = first_partner(&db, &passwords, request.clone())
        .await
        .unwrap();
    assert_eq!(created.owner_email, "alice@acme.example");
    let password = created.one_time_password.expose_secret().to_owned();
    assert_eq!(password.len(), 20);

    let (partner, owner) = db
        .run(move |conn| {
            let partner_id = PartnerId::parse(&created.partner_id).unwrap();
            let partner = partners::find(conn, partner_id)?;
            let owner = admins::find_by_email(
                conn,
                partner_id,
                &custodian_api::domain::Email::parse("ALICE@acme.example").unwrap(),
            )?;
            Ok::<_, DbError>((partner.unwrap(), owner.unwrap()))
        })
        .await
        .unwrap();
    assert_eq!(partner.name, "Acme IT");
    assert_eq!(partner.temporary_secret_ttl_seconds, 72 * 3600);
    assert_eq!(owner.partner_id, partner.id);
    assert_eq!(owner.role, Role::Owner);
    assert!(
        owner.must_change_password,
        "the one-time password must be replaced"
    );
    assert!(
        owner
            .password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert!(!owner.password_hash.contains(&password));
    assert!(verify_blocking(
        &password.clone().into(),
        &owner.password_hash
    ));
    assert!(
        !format!("{owner:?}").contains("argon2"),
        "Debug hides the hash"
    );

    let again = first_partner(&db, &passwords, request).await.unwrap_err();
    assert!(
        matches!(again, BootstrapError::AlreadyBootstrapped),
        "{again:?}"
    );
    assert_eq!(db.run(partners::count).await.unwrap(), 1);
}

#[rstest]
#[actix_web::test]
async fn a_first_partner_refuses_an_invalid_owner(#[values(Backend::Sqlite)] backend: Backend) {
    let Some(database) = TestDatabase::create(backend) else {
        return;
    };
    let db = database.pool();
    db.run(migrations::run_pending).await.unwrap();
    let request = PartnerRequest {
        owner_email: "not-an-email".into(),
        ..PartnerRequest::default()
    };
    let error = first_partner(&db, &Passwords::new(1), request)
        .await
        .unwrap_err();
    assert!(matches!(error, BootstrapError::Invalid(_)), "{error:?}");
    assert_eq!(
        db.run(partners::count).await.unwrap(),
        0,
        "nothing half-made"
    );
}

#[rstest]
#[actix_web::test]
async fn concurrent_bootstraps_make_one_operator(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(database) = TestDatabase::create(backend) else {
        return;
    };
    let db = database.pool();
    db.run(migrations::run_pending).await.unwrap();
    let passwords = Passwords::new(2);
    let attempts = (0..4).map(|i| {
        let request = BootstrapRequest {
            email: format!("operator{i}@example.com"),
            ..BootstrapRequest::default()
        };
        let (db, passwords) = (db.clone(), passwords.clone());
        actix_web::rt::spawn(async move { bootstrap(&db, &passwords, request).await.is_ok() })
    });
    let mut made = 0;
    for attempt in attempts {
        made += usize::from(attempt.await.unwrap());
    }
    assert_eq!(made, 1);
    assert_eq!(db.run(operators::count).await.unwrap(), 1);
    assert_eq!(db.run(partners::count).await.unwrap(), 0, "and no partner");
}

#[rstest]
#[actix_web::test]
async fn bootstrap_creates_the_first_operator_once(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(database) = TestDatabase::create(backend) else {
        return;
    };
    let db = database.pool();
    db.run(migrations::run_pending).await.unwrap();
    let passwords = Passwords::new(1);
    let request = BootstrapRequest {
        email: " Vera@Vendor.Example ".into(),
        name: "Vera".into(),
    };
    let created = bootstrap(&db, &passwords, request.clone()).await.unwrap();
    assert_eq!(created.email, "vera@vendor.example");
    let password = created.password.expose_secret().to_owned();
    assert_eq!(password.len(), 20);
    let operator = db
        .run(move |conn| {
            operators::find_by_email(
                conn,
                &custodian_api::domain::Email::parse("VERA@vendor.example").unwrap(),
            )
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(operator.id.to_string(), created.operator_id);
    assert!(!operator.password_hash.contains(&password));
    assert!(verify_blocking(
        &password.clone().into(),
        &operator.password_hash
    ));
    assert!(
        !format!("{operator:?}").contains("argon2"),
        "Debug hides the hash"
    );
    let again = bootstrap(&db, &passwords, request).await.unwrap_err();
    assert!(matches!(again, BootstrapError::OperatorExists), "{again:?}");
    let invalid = BootstrapRequest {
        email: "not-an-email".into(),
        ..BootstrapRequest::default()
    };
    let error = bootstrap(&db, &passwords, invalid).await.unwrap_err();
    assert!(matches!(error, BootstrapError::Invalid(_)), "{error:?}");
}

#[rstest]
#[actix_web::test]
async fn a_first_start_bootstraps_and_keeps_its_key(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    assert_eq!(server.owner.owner_email, "owner@custodian.local");
    let key_file = server.data_dir.join(custodian_api::auth::keys::KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the owner's only");
        let dir_mode = std::fs::metadata(&server.data_dir)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700, "so is the data directory");
        // The SQLite database too, though its directory (the test's) existed.
        if let custodian_api::config::DatabaseUrl::Sqlite(path) = &server.database.url {
            for file in [path.clone(), path.with_extension("db-wal")] {
                let mode = std::fs::metadata(&file).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{}", file.display());
            }
        }
    }
    let key = std::fs::read(&key_file).unwrap();

    // A second start on the same database and data directory: no new partner, same key.
    let mut config = server.database.config();
    config.data_dir = server.data_dir.clone();
    let mut again = custodian_api::server::Server::build(&config).await.unwrap();
    assert!(again.take_bootstrapped().is_none());
    assert_eq!(std::fs::read(&key_file).unwrap(), key);
}
