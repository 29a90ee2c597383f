//! Helpers the test modules share: signing in and calling the API over HTTP.

use custodian_api::db::DbError;
use custodian_api::testing::TestServer;
use serde_json::Value;

/// The access token of a password sign-in of an admin of the bootstrapped
/// partner, or `None` when refused.
pub async fn sign_in(server: &TestServer, email: &str, password: &str) -> Option<String> {
    let answer = sign_in_to(server, &server.owner.partner_id, email, password).await;
    answer["access_token"].as_str().map(str::to_owned)
}

/// The token endpoint's answer to a password sign-in of an admin of
/// `partner`.
pub async fn sign_in_to(server: &TestServer, partner: &str, email: &str, password: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}/v1/auth/token", server.base_url))
        .form(&[
            ("grant_type", "password"),
            ("partner_id", partner),
            ("username", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A request with a bearer token and an optional JSON body: (status, JSON body or null).
pub async fn send(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(
            method.parse().unwrap(),
            format!("{}{path}", server.base_url),
        )
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The token of the newest admin invitation emailed to `email`, as the
/// admin reads it from the email the SMTP sink received.
pub async fn admin_invitation_token(server: &TestServer, email: &str) -> String {
    let received = crate::resets::newest_email(server, email, "admin_invitation").await;
    crate::resets::secret_in(&received)
}

/// `POST /v1/auth/invitation`: (status, JSON body or null).
pub async fn accept_admin_invitation(
    server: &TestServer,
    token: &str,
    password: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/invitation", server.base_url))
        .json(&serde_json::json!({ "token": token, "password": password }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An invited admin joins through their emailed link with `password`:
/// the answer names the partner and email they sign in with.
pub async fn join_as_admin(server: &TestServer, email: &str, password: &str) -> Value {
    let token = admin_invitation_token(server, email).await;
    let (status, joined) = accept_admin_invitation(server, &token, password).await;
    assert_eq!(status, 200, "{joined}");
    joined
}

/// `POST /v1/operator/token` with the operator's email and password: the
/// endpoint's answer.
pub async fn operator_sign_in(server: &TestServer, email: &str, password: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/operator/token", server.base_url))
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The token of the platform operator the server bootstrapped.
pub async fn operator_token(server: &TestServer) -> String {
    let password = secrecy::ExposeSecret::expose_secret(&server.operator.password).to_owned();
    let (status, token) = operator_sign_in(server, &server.operator.email, &password).await;
    assert_eq!(status, 200, "{token}");
    token["access_token"].as_str().unwrap().to_owned()
}

/// Signs in as a fresh owner: a token that may do anything in the partner.
pub async fn owner_token(server: &TestServer) -> String {
    let (email, password) = server
        .create_admin(custodian_api::db::admins::Role::Owner, &[])
        .await;
    sign_in(server, &email, &password).await.expect("signed in")
}

/// Creates an API client through the API: (client id, secret).
pub async fn create_client(
    server: &TestServer,
    scopes: &[&str],
    companies: Option<&[String]>,
) -> (String, String) {
    let owner = owner_token(server).await;
    let mut body = serde_json::json!({"name": "Integration", "scopes": scopes});
    if let Some(companies) = companies {
        body["companies"] = serde_json::json!(companies);
    }
    let (status, created) = send(server, &owner, "POST", "/v1/api-clients", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    (
        created["client"]["id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// The token endpoint's answer to a `client_credentials` grant in the
/// body: (status, JSON body).
pub async fn client_grant(server: &TestServer, id: &str, secret: &str) -> (u16, Value) {
    client_grant_at(server, "/v1/auth/token", id, secret).await
}

/// The `client_credentials` grant at the token endpoint `path` (a
/// partner's client's, or the operator's): the endpoint's answer.
pub async fn client_grant_at(
    server: &TestServer,
    path: &str,
    id: &str,
    secret: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An API client's access token.
pub async fn client_token(server: &TestServer, id: &str, secret: &str) -> String {
    let (status, answer) = client_grant(server, id, secret).await;
    assert_eq!(status, 200, "{answer}");
    answer["access_token"].as_str().unwrap().to_owned()
}

/// Rows the API cannot create yet (companies, users and vault items arrive
/// with their endpoints), written straight to the server's database.
pub mod seed {
    use custodian_api::db::DbError;
    use custodian_api::db::partners;
    use custodian_api::db::schema::{backup_copies, users, vault_items};
    use custodian_api::testing::TestServer;
    use diesel::prelude::*;

    /// Another partner: its id.
    pub async fn partner(server: &TestServer, name: &str) -> String {
        let partner = partners::Partner::new(name, chrono::Utc::now().naive_utc());
        let id = partner.id.to_string();
        server
            .database
            .pool()
            .run(move |conn| partners::insert(conn, &partner))
            .await
            .unwrap();
        id
    }

    /// A company of `partner`, with its backup profile: its id.
    pub async fn company(server: &TestServer, partner: &str, name: &str) -> String {
        let now = chrono::Utc::now().naive_utc();
        let company = custodian_api::db::companies::Company {
            id: custodian_api::ids::CompanyId::new(),
            partner_id: custodian_api::ids::PartnerId::parse(partner).expect("a partner's id"),
            name: name.to_owned(),
            created_at: now,
            updated_at: now,
            external_id: None,
            retired_at: None,
        };
        let id = company.id.to_string();
        server
            .database
            .pool()
            .run(move |conn| custodian_api::db::companies::insert(conn, &company))
            .await
            .unwrap();
        id
    }

    /// A desktop user of `company`: their id.
    pub async fn user(server: &TestServer, partner: &str, company: &str) -> String {
        let id = uuid::Uuid::now_v7().to_string();
        let now = chrono::Utc::now().naive_utc();
        let row = (
            users::id.eq(id.clone()),
            users::partner_id.eq(partner.to_owned()),
            users::company_id.eq(company.to_owned()),
            users::email.eq(format!("{id}@example.com")),
            users::name.eq("A User"),
            users::client_kind.eq("desktop"),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        );
        server
            .database
            .pool()
            .run(move |conn| {
                diesel::insert_into(users::table)
                    .values(row)
                    .execute(conn)?;
                Ok::<_, DbError>(())
            })
            .await
            .unwrap();
        id
    }

    /// Gives a user an authentication key (its argon2id hash) so they can
    /// sign in; returns their email.
    pub async fn activate(
        server: &TestServer,
        partner: &str,
        user: &str,
        auth_key: &str,
    ) -> String {
        let hash = custodian_api::auth::password::hash_blocking(&secrecy::SecretString::from(
            auth_key.to_owned(),
        ));
        let (p, u) = (
            custodian_api::ids::PartnerId::parse(partner).unwrap(),
            custodian_api::ids::UserId::parse(user).unwrap(),
        );
        server
            .database
            .pool()
            .run(move |conn| {
                custodian_api::db::users::set_auth_key(
                    conn,
                    p,
                    u,
                    &hash,
                    chrono::Utc::now().naive_utc(),
                )?;
                Ok::<_, DbError>(
                    users::table
                        .filter(users::id.eq(u.to_string()))
                        .select(users::email)
                        .first::<String>(conn)?,
                )
            })
            .await
            .unwrap()
    }

    /// A vault item of `user` at revision 1, with a backup copy when
    /// `backed_up`: the copy's id.
    pub async fn item(
        server: &TestServer,
        (partner, company, user): (&str, &str, &str),
        profile: &str,
        backed_up: bool,
    ) -> Option<String> {
        let item = uuid::Uuid::now_v7().to_string();
        let now = chrono::Utc::now().naive_utc();
        let row = (
            vault_items::user_id.eq(user.to_owned()),
            vault_items::item_id.eq(item.clone()),
            vault_items::profile.eq(profile.to_owned()),
            vault_items::revision.eq(1i64),
            vault_items::ciphertext.eq(vec![1u8, 2, 3]),
            vault_items::created_at.eq(now),
            vault_items::updated_at.eq(now),
        );
        let copy_id = uuid::Uuid::now_v7().to_string();
        let copy = backed_up.then(|| {
            (
                backup_copies::id.eq(copy_id.clone()),
                backup_copies::partner_id.eq(partner.to_owned()),
                backup_copies::company_id.eq(company.to_owned()),
                backup_copies::user_id.eq(user.to_owned()),
                backup_copies::item_id.eq(item),
                backup_copies::revision.eq(1i64),
                backup_copies::ciphertext.eq(vec![4u8, 5, 6]),
                backup_copies::created_at.eq(now),
            )
        });
        server
            .database
            .pool()
            .run(move |conn| {
                diesel::insert_into(vault_items::table)
                    .values(row)
                    .execute(conn)?;
                if let Some(copy) = copy {
                    diesel::insert_into(backup_copies::table)
                        .values(copy)
                        .execute(conn)?;
                }
                Ok::<_, DbError>(())
            })
            .await
            .unwrap();
        backed_up.then_some(copy_id)
    }
}

/// An end user's account token: (status, body) of `POST /v1/account/token`.
pub async fn account_sign_in(
    server: &TestServer,
    partner: &str,
    email: &str,
    auth_key: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/account/token", server.base_url))
        .json(&serde_json::json!({"partner_id": partner, "email": email, "auth_key": auth_key}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A user of a fresh company of the bootstrapped partner, signed in:
/// (company id, user id, account token).
pub async fn signed_in_user(server: &TestServer) -> (String, String, String) {
    let partner = server.owner.partner_id.clone();
    let company = seed::company(server, &partner, "Acme Dental").await;
    let user = seed::user(server, &partner, &company).await;
    let email = seed::activate(server, &partner, &user, "a-derived-key").await;
    let (status, token) = account_sign_in(server, &partner, &email, "a-derived-key").await;
    assert_eq!(status, 200, "{token}");
    (
        company,
        user,
        token["access_token"].as_str().unwrap().to_owned(),
    )
}

/// The user signs in with `key` (which must work) and lists the vault:
/// its items.
pub async fn vault_items_with_key(server: &TestServer, email: &str, key: &str) -> Value {
    let (status, token) = account_sign_in(server, &server.owner.partner_id, email, key).await;
    assert_eq!(status, 200, "{token}");
    let (status, items) = send(
        server,
        token["access_token"].as_str().unwrap(),
        "GET",
        "/v1/account/vault/items",
        None,
    )
    .await;
    assert_eq!(status, 200, "{items}");
    items["items"].clone()
}

/// Every row of every table of the server's database, as text (binary
/// columns as hex), for tests that prove a secret is stored nowhere.
pub async fn dump_database(server: &TestServer) -> String {
    use custodian_api::db::DbConn;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    #[derive(QueryableByName)]
    struct Dump {
        #[diesel(sql_type = Text)]
        dump: String,
    }
    server
        .database
        .pool()
        .run(|conn| {
            let mut out = String::new();
            match conn {
                DbConn::Sqlite(c) => {
                    let tables: Vec<Name> = diesel::sql_query(
                        "SELECT name FROM sqlite_master WHERE type = 'table' \
                         AND name NOT LIKE 'sqlite_%'",
                    )
                    .load(c)?;
                    for table in tables {
                        let columns: Vec<Name> =
                            diesel::sql_query("SELECT name FROM pragma_table_info(?)")
                                .bind::<Text, _>(&table.name)
                                .load(c)?;
                        let row = columns
                            .iter()
                            .map(|col| format!("quote(\"{}\")", col.name))
                            .collect::<Vec<_>>()
                            .join(" || '|' || ");
                        let dump: Dump = diesel::sql_query(format!(
                            "SELECT coalesce(group_concat({row}, char(10)), '') AS dump FROM \"{}\"",
                            table.name
                        ))
                        .get_result(c)?;
                        out.push_str(&table.name);
                        out.push('\n');
                        out.push_str(&dump.dump);
                        out.push('\n');
                    }
                }
                DbConn::Postgres(c) => {
                    let tables: Vec<Name> = diesel::sql_query(
                        "SELECT table_name::text AS name FROM information_schema.tables \
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                    )
                    .load(c)?;
                    for table in tables {
                        let dump: Dump = diesel::sql_query(format!(
                            "SELECT coalesce(string_agg(t::text, E'\\n'), '') AS dump FROM \"{}\" t",
                            table.name
                        ))
                        .get_result(c)?;
                        out.push_str(&table.name);
                        out.push('\n');
                        out.push_str(&dump.dump);
                        out.push('\n');
                    }
                }
            }
            Ok::<_, DbError>(out)
        })
        .await
        .unwrap()
}

/// A new user of `company` and a reset of theirs awaiting approval, asked
/// by the admin `requester` (the embedded policies never ask for approval,
/// so it is stored as `policies/approval.cedar` would have it): (user id,
/// reset id).
pub async fn awaiting_request(
    server: &TestServer,
    company: &str,
    requester: &str,
) -> (String, String) {
    use custodian_api::db::resets::NewReset;
    use custodian_api::db::types::{Delivery, ResetStatus};
    use custodian_api::ids::{ActorId, CompanyId, PartnerId, ResetId, UserId};
    let partner = server.owner.partner_id.clone();
    let user = seed::user(server, &partner, company).await;
    let now = server.clock.now();
    let id = ResetId::new();
    let row = NewReset {
        id,
        partner_id: PartnerId::parse(&partner).unwrap(),
        company_id: CompanyId::parse(company).unwrap(),
        user_id: UserId::parse(&user).unwrap(),
        batch_id: None,
        status: ResetStatus::AwaitingApproval,
        delivery_kind: Delivery::TemporaryPassword,
        secret_hash: None,
        secret_expires_at: None,
        personal_items_purged: 0,
        company_items_purged: 0,
        company_items_preserved: 0,
        acknowledged_company_data_loss: false,
        reason: None,
        ticket: None,
        requested_by_kind: "admin".into(),
        requested_by_id: ActorId::parse(requester).unwrap(),
        outbox_message_id: None,
        created_at: now,
        updated_at: now,
        approval_required_by: Some(r#"["approval-for-primary-users"]"#.into()),
        approval_expires_at: Some(now + chrono::Duration::hours(24)),
        supersedes: None,
    };
    server
        .database
        .pool()
        .run(move |conn| custodian_api::db::resets::insert(conn, &row))
        .await
        .unwrap();
    (user, id.to_string())
}
