//! The sign-in throttle seen from outside: attempts that arrive at once,
//! an owner who must still get in, identifiers that cannot collide or grow
//! without bound, the password change, several instances on one database,
//! and clients behind a reverse proxy.

use std::net::IpAddr;

use custodian_api::auth::throttle::{ADDRESS_FACTOR, FREE_FAILURES};
use custodian_api::testing::{Backend, TestServer};
use diesel::prelude::*;
use futures_util::future::join_all;
use rstest::rstest;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::support::{account_sign_in, create_client, seed, send, sign_in};
use custodian_api::db::DbError;

/// A client whose requests come from `address` (any of 127.0.0.0/8 reaches
/// the server on 127.0.0.1).
fn from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

/// A password grant from `http` to the server at `base_url`, for an admin
/// of `partner`: its status.
async fn password_grant(
    base_url: &str,
    partner: &str,
    http: &reqwest::Client,
    user: &str,
    password: &str,
) -> u16 {
    http.post(format!("{base_url}/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("partner_id", partner),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// How many of `statuses` are `status`.
fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// The number of audit events in the database, every chain.
async fn audit_events(server: &TestServer) -> i64 {
    server
        .database
        .pool()
        .run(|conn| {
            use custodian_api::db::schema::audit_events;
            Ok::<_, DbError>(audit_events::table.count().get_result::<i64>(conn)?)
        })
        .await
        .unwrap()
}

#[rstest]
#[actix_web::test]
async fn parallel_guesses_are_never_all_checked(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let http = from("127.0.0.1");
    // Sixty wrong passwords at once for one admin: only the budget's worth
    // are checked; the rest wait, and say how long.
    let guesses = (0..60).map(|_| {
        password_grant(
            &server.base_url,
            &server.owner.partner_id,
            &http,
            "owner@custodian.local",
            "wrong-guess",
        )
    });
    let statuses = join_all(guesses).await;
    assert_eq!(
        count(&statuses, 400),
        FREE_FAILURES as usize,
        "{statuses:?}"
    );
    assert_eq!(count(&statuses, 429), 60 - FREE_FAILURES as usize);

    // The same for an end user's sign-in.
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme").await;
    let user = seed::user(&server, &partner, &company).await;
    let email = seed::activate(&server, &partner, &user, "the-right-key").await;
    let guesses = (0..60).map(|_| account_sign_in(&server, &partner, &email, "a-guess"));
    let statuses: Vec<u16> = join_all(guesses)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        count(&statuses, 401),
        FREE_FAILURES as usize,
        "{statuses:?}"
    );
    assert_eq!(count(&statuses, 429), 60 - FREE_FAILURES as usize);

    // And for reset links, which name no account: the address's budget.
    let other = from("127.0.0.5");
    let links = (0..60).map(|i| {
        other
            .post(format!("{}/v1/account/reset-link", server.base_url))
            .json(&json!({
                "token": format!("not-a-token-{i}"),
                "auth_key": "a-new-derived-key",
                "encrypted_vault_key": "AAAA",
            }))
            .send()
    });
    let statuses: Vec<u16> = join_all(links)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let budget = (FREE_FAILURES * ADDRESS_FACTOR) as usize;
    assert_eq!(count(&statuses, 401), budget, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 60 - budget);
}

#[rstest]
#[actix_web::test]
async fn guesses_from_elsewhere_never_keep_the_owner_out(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = "owner@custodian.local";
    let password = server.owner.one_time_password.expose_secret().to_owned();
    let (office, attacker, hotel) = (from("127.0.0.2"), from("127.0.0.3"), from("127.0.0.4"));
    // The owner signs in from the office once.
    assert_eq!(
        password_grant(
            &server.base_url,
            &server.owner.partner_id,
            &office,
            owner,
            &password
        )
        .await,
        200
    );
    // Someone guesses from elsewhere, in parallel, until the account waits.
    let guesses = (0..16).map(|_| {
        password_grant(
            &server.base_url,
            &server.owner.partner_id,
            &attacker,
            owner,
            "guess",
        )
    });
    let statuses = join_all(guesses).await;
    assert!(statuses.contains(&429), "{statuses:?}");
    // A place the account never signed in from waits too...
    assert_eq!(
        password_grant(
            &server.base_url,
            &server.owner.partner_id,
            &hotel,
            owner,
            &password
        )
        .await,
        429
    );
    // ...but the office, where the owner signed in before, does not, while
    // the guessing goes on.
    for _ in 0..3 {
        assert_eq!(
            password_grant(
                &server.base_url,
                &server.owner.partner_id,
                &attacker,
                owner,
                "guess"
            )
            .await,
            429
        );
        assert_eq!(
            password_grant(
                &server.base_url,
                &server.owner.partner_id,
                &office,
                owner,
                &password
            )
            .await,
            200
        );
    }
    // The office's own budget still stops guesses from the office.
    let guesses = (0..10).map(|_| {
        password_grant(
            &server.base_url,
            &server.owner.partner_id,
            &office,
            owner,
            "guess",
        )
    });
    assert!(join_all(guesses).await.contains(&429));
}

#[rstest]
#[actix_web::test]
async fn identifiers_of_one_path_never_count_against_another(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (client_id, secret) = create_client(&server, &["users:read"], None).await;
    let http = from("127.0.0.31");
    let before = audit_events(&server).await;
    // Names that once shared the account namespace with other paths: they
    // are not emails, so they are refused before the throttle and the log.
    for _ in 0..30 {
        for username in ["reset-link:127.0.0.31", &format!("client:{client_id}")] {
            let response = http
                .post(format!("{}/v1/auth/token", server.base_url))
                .form(&[
                    ("grant_type", "password"),
                    ("partner_id", server.owner.partner_id.as_str()),
                    ("username", username),
                    ("password", "x"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 400);
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"], "invalid_request");
        }
    }
    assert_eq!(audit_events(&server).await, before, "nothing audited");
    // The reset-link path from that address and the client are untouched.
    let response = http
        .post(format!("{}/v1/account/reset-link", server.base_url))
        .json(
            &json!({"token": "t", "auth_key": "a-new-derived-key", "encrypted_vault_key": "AAAA"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let response = http
        .post(format!("{}/v1/auth/token", server.base_url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[rstest]
#[actix_web::test]
async fn huge_identifiers_are_refused_before_they_are_kept(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let before = audit_events(&server).await;
    let http = reqwest::Client::new();
    let huge_id = "a".repeat(250_000);
    let response = http
        .post(format!("{}/v1/auth/token", server.base_url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", huge_id.as_str()),
            ("client_secret", "cst_x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let huge_email = format!("{}@example.com", "a".repeat(200_000));
    for _ in 0..3 {
        let response = http
            .post(format!("{}/v1/auth/token", server.base_url))
            .form(&[
                ("grant_type", "password"),
                ("partner_id", server.owner.partner_id.as_str()),
                ("username", huge_email.as_str()),
                ("password", "x"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400);
        let (status, problem) = account_sign_in(
            &server,
            &server.owner.partner_id,
            &huge_email,
            "a-derived-key",
        )
        .await;
        assert_eq!(
            (status, problem["errors"][0]["field"].as_str()),
            (422, Some("email")),
            "{problem}"
        );
    }
    assert_eq!(audit_events(&server).await, before, "nothing audited");
}

#[rstest]
#[actix_web::test]
async fn a_stolen_token_cannot_guess_the_current_password(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (email, password) = server
        .create_admin(custodian_api::db::admins::Role::Admin, &[])
        .await;
    let token = sign_in(&server, &email, &password).await.unwrap();
    let change = |current: &str| json!({"current_password": current, "new_password": "a brand new passphrase"});
    let guesses = (0..12).map(|i| {
        let body = change(&format!("guess number {i}"));
        let token = token.clone();
        let server = &server;
        async move { send(server, &token, "POST", "/v1/auth/password", Some(body)).await }
    });
    let answers = join_all(guesses).await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        count(&statuses, 422),
        FREE_FAILURES as usize,
        "{statuses:?}"
    );
    let (status, problem) = answers.iter().find(|(s, _)| *s == 429).unwrap();
    assert_eq!(
        (*status, problem["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // Even the right one waits until the delay passes.
    let (status, _) = send(
        &server,
        &token,
        "POST",
        "/v1/auth/password",
        Some(change(&password)),
    )
    .await;
    assert_eq!(status, 429);
    server.clock.advance(chrono::Duration::seconds(2));
    let (status, body) = send(
        &server,
        &token,
        "POST",
        "/v1/auth/password",
        Some(change(&password)),
    )
    .await;
    assert_eq!(status, 204, "{body}");
}

#[rstest]
#[actix_web::test]
async fn two_instances_on_one_database_share_one_budget(
    #[values(Backend::Postgres)] backend: Backend,
) {
    let Some(first) = TestServer::spawn(backend).await else {
        return;
    };
    let second = first.another_instance().await;
    let http = from("127.0.0.1");
    let owner = "owner@custodian.local";
    let guesses = (0..30).map(|i| {
        let base_url = if i % 2 == 0 {
            &first.base_url
        } else {
            &second.base_url
        };
        password_grant(base_url, &first.owner.partner_id, &http, owner, "guess")
    });
    let statuses = join_all(guesses).await;
    assert_eq!(
        count(&statuses, 400),
        FREE_FAILURES as usize,
        "{statuses:?}"
    );
    // A success on one instance makes its place known to the other.
    let password = first.owner.one_time_password.expose_secret().to_owned();
    first.clock.advance(chrono::Duration::hours(1));
    assert_eq!(
        password_grant(
            &first.base_url,
            &first.owner.partner_id,
            &http,
            owner,
            &password
        )
        .await,
        200
    );
    let elsewhere = from("127.0.0.9");
    let guesses = (0..10).map(|_| {
        password_grant(
            &second.base_url,
            &first.owner.partner_id,
            &elsewhere,
            owner,
            "guess",
        )
    });
    assert!(join_all(guesses).await.contains(&429));
    assert_eq!(
        password_grant(
            &first.base_url,
            &first.owner.partner_id,
            &elsewhere,
            owner,
            &password
        )
        .await,
        429
    );
    assert_eq!(
        password_grant(
            &second.base_url,
            &first.owner.partner_id,
            &http,
            owner,
            &password
        )
        .await,
        200
    );
}

#[rstest]
#[actix_web::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let proxies = custodian_api::http::forwarded::TrustedProxies::new(
        vec!["127.0.0.1/32".parse().unwrap()],
        Default::default(),
    );
    let Some(server) = TestServer::spawn_with(backend, |config| {
        config.trusted_proxies = proxies;
    })
    .await
    else {
        return;
    };
    let grant = |forwarded_for: &'static str, user: String| {
        reqwest::Client::new()
            .post(format!("{}/v1/auth/token", server.base_url))
            .header("x-forwarded-for", forwarded_for)
            .form(&[
                ("grant_type", "password"),
                ("partner_id", server.owner.partner_id.as_str()),
                ("username", user.as_str()),
                ("password", "guess"),
            ])
            .send()
    };
    let spray = |forwarded_for: &'static str| {
        join_all((0..25).map(move |i| grant(forwarded_for, format!("user{i}@example.com"))))
    };
    // One client behind the proxy sprays accounts until its address waits.
    let statuses: Vec<u16> = spray("198.51.100.7")
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    // Another client behind the same proxy is not held up by it.
    let status = grant("203.0.113.9", "someone@example.com".into())
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 400);
    // A peer that is not a trusted proxy cannot name another client: from
    // 127.0.0.7 the header is ignored, and that peer's own budget counts.
    let untrusted = from("127.0.0.7");
    let mut last = 0;
    for i in 0..25 {
        last = untrusted
            .post(format!("{}/v1/auth/token", server.base_url))
            .header("x-forwarded-for", format!("192.0.2.{i}"))
            .form(&[
                ("grant_type", "password"),
                ("partner_id", server.owner.partner_id.as_str()),
                ("username", format!("other{i}@example.com").as_str()),
                ("password", "guess"),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
}
