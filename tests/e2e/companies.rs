//! Companies, the backup profile, users and the vault through the SDK, as an
//! integration and a client would use them.

use custodian_api::db::admins::Role;
use custodian_api::ids::{PartnerId, UserId};
use custodian_e2e::{Backend, TestApp};
use custodian_sdk::{ClientBuilder, Credentials, Session, types};
use rstest::rstest;

const KEY: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";

/// Where a test of an end user starts.
struct Setup {
    admin: custodian_sdk::Client,
    company: types::CompanyView,
    user: types::UserView,
    partner: PartnerId,
}

/// Signs in a new admin of `role`, creates the company `company` and in it
/// `user`, and gives the user the derived key `key`. Invitations are not
/// built yet, so the key is set in the database.
async fn user_of_new_company(
    app: &TestApp,
    role: Role,
    company: &str,
    user: types::NewUserRequest,
    key: &str,
) -> Setup {
    let (email, password) = app.server.create_admin(role, &[]).await;
    let admin = Session::new(
        ClientBuilder::new(&app.server.base_url),
        Credentials::password(app.partner(), email, password),
    )
    .client()
    .await
    .expect("signed in");
    let company = admin
        .companies_create()
        .body(types::NewCompany {
            external_id: None,
            name: company.into(),
        })
        .send()
        .await
        .unwrap()
        .into_inner();
    let user = admin
        .company_users_create()
        .company_id(company.id)
        .body(user)
        .send()
        .await
        .unwrap()
        .into_inner();
    let hash = custodian_api::auth::password::hash_blocking(&key.to_owned().into());
    let (partner, id) = (
        PartnerId::parse(&app.server.owner.partner_id).unwrap(),
        UserId::from_uuid(user.id),
    );
    let now = app.server.clock.now();
    app.server
        .database
        .pool()
        .run(move |conn| custodian_api::db::users::set_auth_key(conn, partner, id, &hash, now))
        .await
        .unwrap();
    Setup {
        admin,
        company,
        user,
        partner,
    }
}

#[rstest]
#[actix_web::test]
async fn a_company_is_set_up_and_its_user_located(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (email, password) = app.server.create_admin(Role::Admin, &[]).await;
    let session = Session::new(
        ClientBuilder::new(&app.server.base_url),
        Credentials::password(app.partner(), email, password),
    );
    let client = session.client().await.expect("signed in");
    let company = client
        .companies_create()
        .body(types::NewCompany {
            external_id: None,
            name: "Acme Dental".into(),
        })
        .send()
        .await
        .expect("created")
        .into_inner();
    let read = client
        .backup_profile_get()
        .company_id(company.id)
        .send()
        .await
        .expect("profile");
    let etag = read.headers()["etag"].to_str().unwrap().to_owned();
    assert!(!read.into_inner().backup_all_company_items);
    let changed = client
        .backup_profile_update()
        .company_id(company.id)
        .if_match(etag.clone())
        .body(types::BackupProfileUpdate {
            backup_all_company_items: true,
            retention_days: 30,
            backup_public_key: Some(KEY.into()),
        })
        .send()
        .await
        .expect("changed")
        .into_inner();
    assert_eq!(changed.backup_public_key.as_deref(), Some(KEY));
    let stale = client
        .backup_profile_update()
        .company_id(company.id)
        .if_match(etag)
        .body(types::BackupProfileUpdate {
            backup_all_company_items: false,
            retention_days: 30,
            backup_public_key: None,
        })
        .send()
        .await
        .expect_err("stale");
    assert_eq!(stale.status().map(|s| s.as_u16()), Some(412));

    let user = client
        .company_users_create()
        .company_id(company.id)
        .body(types::NewUserRequest {
            external_id: None,
            email: "dana@acme-dental.example".into(),
            name: "Dana Smith".into(),
            client_kind: types::ClientKind::Webapp,
            locale: Some(types::Locale::Fr),
            is_primary: Some(true),
        })
        .send()
        .await
        .expect("added")
        .into_inner();
    let found = client
        .users_search()
        .q("dana@")
        .send()
        .await
        .expect("found")
        .into_inner();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].id, user.id);
    assert_eq!(found.items[0].locale, types::Locale::Fr);
    let by_id = client
        .user_get()
        .user_id(user.id)
        .send()
        .await
        .expect("read")
        .into_inner();
    assert!(by_id.is_primary && !by_id.has_recovery_key);
}

#[rstest]
#[actix_web::test]
async fn an_end_user_keeps_a_backed_up_company_item(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Setup {
        admin,
        company,
        user,
        partner,
    } = user_of_new_company(
        &app,
        Role::Owner,
        "Acme Law",
        types::NewUserRequest {
            external_id: None,
            email: "lou@acme-law.example".into(),
            name: "Lou Law".into(),
            client_kind: types::ClientKind::Desktop,
            locale: None,
            is_primary: None,
        },
        "lou's derived key",
    )
    .await;
    admin
        .backup_profile_update()
        .company_id(company.id)
        .if_match("*")
        .body(types::BackupProfileUpdate {
            backup_all_company_items: true,
            retention_days: 90,
            backup_public_key: Some(KEY.into()),
        })
        .send()
        .await
        .unwrap();

    let token = app
        .client
        .account_token_create()
        .body(types::AccountSignIn::KeySignIn(types::KeySignIn {
            company_id: None,
            partner_id: partner.uuid(),
            email: "lou@acme-law.example".into(),
            auth_key: "lou's derived key".into(),
        }))
        .send()
        .await
        .expect("the user signs in")
        .into_inner();
    let lou = ClientBuilder::new(&app.server.base_url)
        .bearer_token(token.access_token)
        .build()
        .unwrap();
    let written = lou
        .vault_item_put()
        .item_id("printer")
        .body(types::VaultItemPut {
            profile: types::Profile::Company,
            replaces_revision: 0,
            ciphertext: "c2VhbGVk".into(),
            backup_copy: Some("Y29weQ==".into()),
        })
        .send()
        .await
        .expect("stored")
        .into_inner();
    assert!(written.backed_up && written.revision == 1);
    let profile = admin
        .backup_profile_get()
        .company_id(company.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (profile.company_items, profile.company_items_backed_up),
        (1, 1)
    );
    let copies = admin
        .backups_list()
        .company_id(company.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(copies.items[0].item_id, "printer");

    // Lou loses the master password: the admin previews and resets through
    // the SDK, retrying safely under the ticket as idempotency key.
    lou.vault_item_put()
        .item_id("diary")
        .body(types::VaultItemPut {
            profile: types::Profile::Personal,
            replaces_revision: 0,
            ciphertext: "ZGlhcnk=".into(),
            backup_copy: None,
        })
        .send()
        .await
        .expect("stored");
    let preview = admin
        .reset_preview_get()
        .user_id(user.id)
        .send()
        .await
        .expect("preview")
        .into_inner();
    assert_eq!(
        (
            preview.personal_items,
            preview.company_items,
            preview.company_items_backed_up
        ),
        (1, 1, 1)
    );
    assert!(!preview.acknowledgement_required);
    assert_eq!(
        preview.delivery_kind,
        types::DeliveryKind::TemporaryPassword
    );
    let request = types::ResetRequest {
        confirmation: preview.confirmation.phrase.clone(),
        acknowledge_company_data_loss: None,
        reason: Some("lost the master password".into()),
        ticket: Some("PSA-77".into()),
        supersedes: None,
    };
    let reset = || {
        admin
            .reset_create()
            .user_id(user.id)
            .idempotency_key("PSA-77")
            .body(request.clone())
            .send()
    };
    let first = reset().await.expect("reset").into_inner();
    let retried = reset().await.expect("the retry answers").into_inner();
    assert_eq!(retried.id, first.id);
    assert_eq!(first.status, types::ResetStatus::PendingUserAction);
    assert_eq!(
        (
            first.personal_items_purged,
            first.company_items_purged,
            first.company_items_preserved
        ),
        (1, 0, 1)
    );
    let refused = lou
        .vault_items_list()
        .send()
        .await
        .expect_err("the user's token died with the reset");
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(401));
    let shown = admin
        .reset_get()
        .reset_id(first.id)
        .send()
        .await
        .expect("read")
        .into_inner();
    assert!(
        matches!(
            shown.email_status,
            Some(
                types::EmailStatus::Queued | types::EmailStatus::Sending | types::EmailStatus::Sent
            )
        ),
        "{:?}",
        shown.email_status
    );

    // The email reaches Lou's mail server; Lou signs in with the temporary
    // password it carries and sets a new master password, all through the SDK.
    let mail = app
        .server
        .mail
        .wait_for(std::time::Duration::from_secs(20), |m| {
            // Not the invitation the user got when they were added.
            m.rcpt_to == ["lou@acme-law.example"] && !m.text().contains("/accept-invitation#")
        })
        .await;
    let text = mail.text();
    let temporary = text
        .lines()
        .find_map(|line| line.strip_prefix("    "))
        .expect("the temporary password, set apart")
        .to_owned();
    let restricted = app
        .client
        .account_token_create()
        .body(types::AccountSignIn::TemporaryPasswordSignIn(
            types::TemporaryPasswordSignIn {
                company_id: None,
                partner_id: partner.uuid(),
                email: "lou@acme-law.example".into(),
                temporary_password: temporary.clone(),
            },
        ))
        .send()
        .await
        .expect("the temporary password signs in")
        .into_inner();
    ClientBuilder::new(&app.server.base_url)
        .bearer_token(restricted.access_token)
        .build()
        .unwrap()
        .account_master_password_set()
        .body(types::NewMasterPassword {
            auth_key: "lou's new derived key".into(),
            encrypted_vault_key: "bmV3IGtleQ==".into(),
            kdf_params: None,
        })
        .send()
        .await
        .expect("the new master password is set");
    let finished = admin
        .reset_get()
        .reset_id(first.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(finished.status, types::ResetStatus::Completed);
    let again = app
        .client
        .account_token_create()
        .body(types::AccountSignIn::TemporaryPasswordSignIn(
            types::TemporaryPasswordSignIn {
                company_id: None,
                partner_id: partner.uuid(),
                email: "lou@acme-law.example".into(),
                temporary_password: temporary,
            },
        ))
        .send()
        .await
        .expect_err("a temporary password works once");
    assert_eq!(again.status().map(|s| s.as_u16()), Some(401));
    app.client
        .account_token_create()
        .body(types::AccountSignIn::KeySignIn(types::KeySignIn {
            company_id: None,
            partner_id: partner.uuid(),
            email: "lou@acme-law.example".into(),
            auth_key: "lou's new derived key".into(),
        }))
        .send()
        .await
        .expect("the new key signs in");
    let copies = admin
        .backups_list()
        .company_id(company.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        copies.items.len(),
        1,
        "the backed-up item survives as its copy"
    );
    assert_eq!(
        copies.items[0].removal_reason,
        Some(types::RemovalReason::Purged)
    );
    assert!(copies.items[0].expires_at.is_some());
}

#[rstest]
#[actix_web::test]
async fn a_webapp_user_finishes_a_reset_with_the_emailed_link(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Setup {
        admin,
        company: _,
        user,
        partner,
    } = user_of_new_company(
        &app,
        Role::Admin,
        "Acme Web",
        types::NewUserRequest {
            external_id: None,
            email: "wen@acme-web.example".into(),
            name: "Wen".into(),
            client_kind: types::ClientKind::Webapp,
            locale: Some(types::Locale::Ja),
            is_primary: None,
        },
        "wen's derived key",
    )
    .await;

    let reset = admin
        .reset_create()
        .user_id(user.id)
        .body(types::ResetRequest {
            confirmation: "Yes".into(),
            acknowledge_company_data_loss: None,
            reason: None,
            ticket: None,
            supersedes: None,
        })
        .send()
        .await
        .expect("reset")
        .into_inner();
    assert_eq!(reset.delivery_kind, types::DeliveryKind::Link);

    // The email, in Japanese, links to the webapp with the token.
    let mail = app
        .server
        .mail
        .wait_for(std::time::Duration::from_secs(20), |m| {
            // Not the invitation the user got when they were added.
            m.rcpt_to == ["wen@acme-web.example"] && !m.text().contains("/accept-invitation#")
        })
        .await;
    assert_eq!(mail.subject(), "マスターパスワードがリセットされました");
    let text = mail.text();
    let (_, token) = text.split_once("#token=").expect("a link with its token");
    let token = token.split_whitespace().next().unwrap().to_owned();
    app.client
        .account_reset_link_complete()
        .body(types::ResetLinkCompletion {
            token: token.clone(),
            auth_key: "wen's new derived key".into(),
            encrypted_vault_key: "bmV3IGtleQ==".into(),
            kdf_params: None,
        })
        .send()
        .await
        .expect("the link finishes the reset");
    let used = app
        .client
        .account_reset_link_complete()
        .body(types::ResetLinkCompletion {
            token,
            auth_key: "wen's new derived key".into(),
            encrypted_vault_key: "bmV3IGtleQ==".into(),
            kdf_params: None,
        })
        .send()
        .await
        .expect_err("a link works once");
    assert_eq!(used.status().map(|s| s.as_u16()), Some(401));
    let finished = admin
        .reset_get()
        .reset_id(reset.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert_eq!(finished.status, types::ResetStatus::Completed);
    app.client
        .account_token_create()
        .body(types::AccountSignIn::KeySignIn(types::KeySignIn {
            company_id: None,
            partner_id: partner.uuid(),
            email: "wen@acme-web.example".into(),
            auth_key: "wen's new derived key".into(),
        }))
        .send()
        .await
        .expect("the new key signs in");
}

#[rstest]
#[actix_web::test]
async fn a_user_recovers_with_the_recovery_key_and_keeps_every_item(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let Setup {
        admin,
        company: _,
        user,
        partner,
    } = user_of_new_company(
        &app,
        Role::Admin,
        "Acme Keys",
        types::NewUserRequest {
            external_id: None,
            email: "kim@acme-keys.example".into(),
            name: "Kim".into(),
            client_kind: types::ClientKind::Webapp,
            locale: None,
            is_primary: None,
        },
        "kim's derived key",
    )
    .await;
    let sign_in = |auth_key: Option<&str>, recovery_verifier: Option<&str>| {
        let (partner_id, email) = (partner.uuid(), "kim@acme-keys.example".to_owned());
        let body = match (auth_key, recovery_verifier) {
            (Some(key), _) => types::AccountSignIn::KeySignIn(types::KeySignIn {
                company_id: None,
                partner_id,
                email,
                auth_key: key.into(),
            }),
            (None, verifier) => {
                types::AccountSignIn::RecoveryVerifierSignIn(types::RecoveryVerifierSignIn {
                    company_id: None,
                    partner_id,
                    email,
                    recovery_verifier: verifier.unwrap_or_default().into(),
                })
            }
        };
        app.client.account_token_create().body(body).send()
    };
    let kim = ClientBuilder::new(&app.server.base_url)
        .bearer_token(
            sign_in(Some("kim's derived key"), None)
                .await
                .unwrap()
                .into_inner()
                .access_token,
        )
        .build()
        .unwrap();
    for item in ["diary", "printer"] {
        kim.vault_item_put()
            .item_id(item)
            .body(types::VaultItemPut {
                profile: types::Profile::Personal,
                replaces_revision: 0,
                ciphertext: "c2VhbGVk".into(),
                backup_copy: None,
            })
            .send()
            .await
            .expect("stored");
    }
    let verifier = "a2ltJ3MgcmVjb3Zlcnkga2V5IHZlcmlmaWVyISE=";
    kim.account_recovery_key_set()
        .body(types::RecoveryKeyRegistration {
            auth_key: "kim's derived key".into(),
            verifier: verifier.into(),
            wrapped_vault_key: "d3JhcHBlZA==".into(),
        })
        .send()
        .await
        .expect("registered");

    // Kim forgets the master password and recovers with the recovery key.
    let recovering = sign_in(None, Some(verifier)).await.unwrap().into_inner();
    assert_eq!(recovering.scope, "account:recover");
    assert_eq!(
        recovering.wrapped_vault_key.as_deref(),
        Some("d3JhcHBlZA==")
    );
    ClientBuilder::new(&app.server.base_url)
        .bearer_token(recovering.access_token)
        .build()
        .unwrap()
        .account_recovery()
        .body(types::NewMasterPassword {
            auth_key: "kim's new derived key".into(),
            encrypted_vault_key: "bmV3IGtleQ==".into(),
            kdf_params: None,
        })
        .send()
        .await
        .expect("recovered");
    let kim = ClientBuilder::new(&app.server.base_url)
        .bearer_token(
            sign_in(Some("kim's new derived key"), None)
                .await
                .expect("the new key signs in")
                .into_inner()
                .access_token,
        )
        .build()
        .unwrap();
    let items = kim.vault_items_list().send().await.unwrap().into_inner();
    assert_eq!(items.items.len(), 2, "every item kept");
    let resets = admin
        .resets_list()
        .user_id(user.id)
        .send()
        .await
        .unwrap()
        .into_inner();
    assert!(resets.items.is_empty(), "no reset was needed");
}
