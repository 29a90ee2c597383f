//! The OAuth token endpoint and the JWKS, against a real server on port 0.

use custodian_api::auth::tokens::{ADMIN_AUDIENCE, AdminClaims};
use custodian_api::db::Backend;
use custodian_api::testing::TestServer;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rstest::rstest;
use secrecy::ExposeSecret;
use serde_json::Value;

struct Answer {
    status: u16,
    cache_control: String,
    body: Value,
}

async fn post(server: &TestServer, content_type: &str, body: String) -> Answer {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/token", server.base_url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let cache_control = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        cache_control,
        body,
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn jwks(server: &TestServer) -> JwkSet {
    reqwest::get(format!("{}/.well-known/jwks.json", server.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Verifies a token the way an outside party would: with the published keys.
fn verify(jwks: &JwkSet, issuer: &str, token: &str) -> AdminClaims {
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).expect("the token's kid is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[ADMIN_AUDIENCE]);
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<AdminClaims>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

#[rstest]
#[actix_web::test]
async fn the_owner_signs_in_and_the_token_verifies_with_the_published_keys(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let password = server.owner.one_time_password.expose_secret().to_owned();
    let answer = post(
        &server,
        "application/x-www-form-urlencoded",
        form(&[
            ("grant_type", "password"),
            ("partner_id", server.owner.partner_id.as_str()),
            ("username", "OWNER@custodian.local"),
            ("password", &password),
        ]),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.cache_control, "no-store");
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.body["expires_in"], 900);
    assert_eq!(
        answer.body["scope"], "password:change",
        "a one-time password allows only its change"
    );

    let token = answer.body["access_token"].as_str().unwrap();
    let claims = verify(
        &jwks(&server).await,
        &format!("{}/", server.base_url),
        token,
    );
    assert_eq!(claims.partner, server.owner.partner_id);
    assert_eq!(claims.generation, 0);
    assert_eq!(claims.exp - claims.iat, 900);

    // JSON is accepted too.
    let body = serde_json::json!({"grant_type": "password", "partner_id": server.owner.partner_id, "username": "owner@custodian.local", "password": password});
    let answer = post(&server, "application/json", body.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[rstest]
#[actix_web::test]
async fn a_wrong_password_and_an_unknown_email_answer_alike(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let wrong_password = post(
        &server,
        "application/x-www-form-urlencoded",
        form(&[
            ("grant_type", "password"),
            ("partner_id", server.owner.partner_id.as_str()),
            ("username", "owner@custodian.local"),
            ("password", "guess"),
        ]),
    )
    .await;
    let unknown_email = post(
        &server,
        "application/x-www-form-urlencoded",
        form(&[
            ("grant_type", "password"),
            ("partner_id", server.owner.partner_id.as_str()),
            ("username", "nobody@custodian.local"),
            ("password", "guess"),
        ]),
    )
    .await;
    assert_eq!((wrong_password.status, unknown_email.status), (400, 400));
    assert_eq!(wrong_password.body, unknown_email.body);
    assert_eq!(wrong_password.body["error"], "invalid_grant");
    assert_eq!(wrong_password.cache_control, "no-store");
}

#[rstest]
#[actix_web::test]
async fn malformed_requests_are_rfc6749_errors(#[values(Backend::Sqlite)] backend: Backend) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let form_type = "application/x-www-form-urlencoded";
    let cases = [
        (
            form_type,
            form(&[("grant_type", "authorization_code")]),
            "unsupported_grant_type",
        ),
        (
            form_type,
            form(&[
                ("grant_type", "password"),
                ("partner_id", server.owner.partner_id.as_str()),
                ("username", "a@b.c"),
            ]),
            "invalid_request",
        ),
        (form_type, form(&[("username", "a@b.c")]), "invalid_request"),
        (
            form_type,
            form(&[
                ("grant_type", "password"),
                ("partner_id", server.owner.partner_id.as_str()),
                ("pasword", "x"),
            ]),
            "invalid_request",
        ),
        (
            "text/plain",
            "grant_type=password".to_owned(),
            "invalid_request",
        ),
        ("application/json", "{".to_owned(), "invalid_request"),
    ];
    for (content_type, body, error) in cases {
        let answer = post(&server, content_type, body.clone()).await;
        assert_eq!(
            (answer.status, answer.body["error"].as_str()),
            (400, Some(error)),
            "{body}"
        );
        assert!(answer.body["error_description"].is_string());
    }
    // A value sent in the wrong type is not repeated back (it may be a password).
    let body =
        serde_json::json!({"grant_type": "password", "username": "a@b.c", "password": 31415926});
    let answer = post(&server, "application/json", body.to_string()).await;
    assert_eq!(answer.body["error"], "invalid_request");
    assert!(
        !answer.body.to_string().contains("31415926"),
        "{}",
        answer.body
    );
}

#[rstest]
#[actix_web::test]
async fn the_signing_key_survives_a_restart_sealed(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let before = jwks(&server).await;
    assert_eq!(before.keys.len(), 1);
    let jwk = &before.keys[0];
    assert_eq!(serde_json::to_value(jwk).unwrap()["crv"], "Ed25519");

    // The stored private key is ciphertext: nothing in the row is the public key's partner in clear.
    let stored = server.database.pool();
    let row = stored
        .run(|conn| {
            custodian_api::db::signing_keys::verifying(conn, chrono::Utc::now().naive_utc())
        })
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        row.private_key_ciphertext.len(),
        24 + 32 + 16,
        "nonce, sealed seed, tag"
    );

    let mut config = server.database.config();
    config.data_dir = server.data_dir.clone();
    let again = custodian_api::server::Server::build(&config).await.unwrap();
    let base_url = format!("http://{}", again.local_addr());
    actix_web::rt::spawn(again.run());
    let after: JwkSet = reqwest::get(format!("{base_url}/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after.keys[0].common.key_id, jwk.common.key_id,
        "the same key after a restart"
    );
}

#[rstest]
#[actix_web::test]
async fn every_error_of_the_token_endpoint_is_an_oauth_error(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    // Over the body limit: 413, in RFC 6749's form like every other error
    // here, so an OAuth client library reads it.
    let huge = form(&[
        ("grant_type", "password"),
        ("partner_id", server.owner.partner_id.as_str()),
        ("username", &"x".repeat(1100 * 1024)),
    ]);
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/token", server.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(response.headers()["content-type"], "application/json");
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "invalid_request");

    // The database away: 503 temporarily_unavailable, with Retry-After.
    server.database.drop_database();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/token", server.base_url))
        .form(&[
            ("grant_type", "password"),
            ("partner_id", server.owner.partner_id.as_str()),
            ("username", "owner@custodian.local"),
            ("password", "whatever-it-is"),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status != 503 {
        // SQLite has no server to lose: only PostgreSQL answers 503 here.
        assert_eq!(status, 400);
    } else {
        assert!(response.headers().contains_key("retry-after"));
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "temporarily_unavailable");
    }

    let response = reqwest::get(format!("{}/v1/auth/token", server.base_url))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}

#[rstest]
#[actix_web::test]
async fn repeated_failures_are_throttled_before_any_hashing(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let password = server.owner.one_time_password.expose_secret().to_owned();
    let attempt = |guess: &str| {
        let body = form(&[
            ("grant_type", "password"),
            ("partner_id", server.owner.partner_id.as_str()),
            ("username", "owner@custodian.local"),
            ("password", guess),
        ]);
        let request = reqwest::Client::new()
            .post(format!("{}/v1/auth/token", server.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                response.status().as_u16(),
                retry_after,
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    for _ in 0..custodian_api::auth::throttle::FREE_FAILURES {
        assert_eq!(attempt("wrong").await.0, 400);
    }
    let (status, retry_after, body) = attempt("wrong").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("rate_limited"))
    );
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Even the right password waits: the delay is per account.
    assert_eq!(attempt(&password).await.0, 429);
    // The delay passes and the owner gets in.
    server.clock.advance(chrono::Duration::milliseconds(1100));
    assert_eq!(attempt(&password).await.0, 200);
}

#[rstest]
#[actix_web::test]
async fn every_bad_token_is_401_with_a_problem(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use custodian_api::auth::keys::ServerKeys;
    use custodian_api::auth::tokens::TokenService;
    use custodian_api::db::admins::Role;
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (email, password) = server.create_admin(Role::Admin, &[]).await;
    let good = crate::support::sign_in(&server, &email, &password)
        .await
        .unwrap();
    let claims = verify(&jwks(&server).await, server.tokens.issuer(), &good);
    let now = chrono::Utc::now().timestamp();
    let forged = |change: &dyn Fn(&mut AdminClaims)| {
        let mut c = claims.clone();
        change(&mut c);
        server.tokens.sign(&c)
    };
    let stranger = TokenService::ephemeral(
        &ServerKeys::derive(&secrecy::SecretBox::new(Box::new([9u8; 32]))),
        server.tokens.issuer().to_owned(),
    );
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"a guess"),
    )
    .unwrap();
    let mut tampered: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut other_claims = claims.clone();
    other_claims.sub = server.owner.owner_id.clone();
    tampered[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&other_claims).unwrap(),
    );
    let (account, _) = server
        .tokens
        .issue_account(&claims.sub, &claims.partner, 0, "vault");
    let cases = [
        ("expired", forged(&|c| c.exp = now - 120)),
        ("not yet valid", forged(&|c| c.nbf = now + 120)),
        (
            "wrong audience",
            forged(&|c| c.aud = "custodian:account".into()),
        ),
        (
            "wrong issuer",
            forged(&|c| c.iss = "https://evil.example/".into()),
        ),
        ("wrong algorithm", hs256),
        ("unknown kid", stranger.sign(&claims)),
        ("tampered", tampered.join(".")),
        ("revoked by generation", forged(&|c| c.generation += 1)),
        ("an account token", account),
        ("another scope", forged(&|c| c.scope = "vault".into())),
    ];
    for (what, token) in cases {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/partner", server.base_url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "unauthorized", "{what}");
        assert!(!problem.to_string().contains(&token), "{what}");
    }
    // The untouched token still works: the refusals were for their reasons.
    let response = reqwest::Client::new()
        .get(format!("{}/v1/partner", server.base_url))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[rstest]
#[actix_web::test]
async fn a_token_carries_the_scopes_asked_for_and_no_more(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (id, secret) =
        crate::support::create_client(&server, &["users:read", "partner:read"], None).await;
    let grant = |scope: Option<&'static str>| {
        let mut fields = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", id.clone()),
            ("client_secret", secret.clone()),
        ];
        if let Some(scope) = scope {
            fields.push(("scope", scope.to_owned()));
        }
        reqwest::Client::new()
            .post(format!("{}/v1/auth/token", server.base_url))
            .form(&fields)
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    // A subset narrows the token.
    let (status, token) = answer(grant(Some("partner:read")).await.unwrap()).await;
    assert_eq!(
        (status, token["scope"].as_str()),
        (200, Some("partner:read"))
    );
    let narrow = token["access_token"].as_str().unwrap();
    let (status, _) = crate::support::send(&server, narrow, "GET", "/v1/partner", None).await;
    assert_eq!(status, 200);
    let (status, problem) =
        crate::support::send(&server, narrow, "GET", "/v1/users?q=a", None).await;
    assert_eq!(status, 403, "{problem}");
    // Left out, or all of them: every scope the client holds.
    let (_, token) = answer(grant(None).await.unwrap()).await;
    assert_eq!(token["scope"], "users:read partner:read");
    let (_, token) = answer(grant(Some("partner:read  users:read")).await.unwrap()).await;
    assert_eq!(token["scope"], "users:read partner:read");
    // A scope not held, or unknown, is invalid_scope (RFC 6749 §5.2).
    for scope in [
        "audit:read",
        "partner:read everything",
        "admin",
        "users:read\tpartner:read",
    ] {
        let (status, error) = answer(grant(Some(scope)).await.unwrap()).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("invalid_scope")),
            "{scope:?}: {error}"
        );
    }
    // An admin asks for admin, or for a token that only changes a password.
    let (email, password) = server
        .create_admin(custodian_api::db::admins::Role::Admin, &[])
        .await;
    let admin_grant = |scope: &'static str| {
        reqwest::Client::new()
            .post(format!("{}/v1/auth/token", server.base_url))
            .form(&[
                ("grant_type", "password"),
                ("partner_id", server.owner.partner_id.as_str()),
                ("username", email.as_str()),
                ("password", password.as_str()),
                ("scope", scope),
            ])
            .send()
    };
    let (status, token) = answer(admin_grant("admin").await.unwrap()).await;
    assert_eq!((status, token["scope"].as_str()), (200, Some("admin")));
    let (status, token) = answer(admin_grant("password:change").await.unwrap()).await;
    assert_eq!(
        (status, token["scope"].as_str()),
        (200, Some("password:change"))
    );
    let restricted = token["access_token"].as_str().unwrap();
    let (status, problem) =
        crate::support::send(&server, restricted, "GET", "/v1/admins", None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("password_change_required"))
    );
    for scope in ["users:read", "admin password:change"] {
        let (status, error) = answer(admin_grant(scope).await.unwrap()).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("invalid_scope")),
            "{scope}"
        );
    }
}
