//! `custodianctl` against a real server on port 0.

use std::process::{Command, Output};

use custodian_api::testing::{Backend, TestServer};

async fn custodianctl(args: &[&str], url: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_custodianctl"));
    command
        .args(args)
        .env("CUSTODIAN_URL", url)
        .env_remove("CUSTODIAN_TOKEN");
    actix_web::rt::task::spawn_blocking(move || command.output().expect("custodianctl runs"))
        .await
        .unwrap()
}

#[actix_web::test]
async fn health_and_ready_print_json() {
    let server = TestServer::spawn(Backend::Sqlite).await.unwrap();
    let output = custodianctl(&["health"], &server.base_url).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let health: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(health["status"], "ok");

    let output = custodianctl(&["ready"], &server.base_url).await;
    let ready: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(ready["database"], "sqlite");
}

#[actix_web::test]
async fn failures_are_one_line_and_exit_1() {
    let output = custodianctl(&["health"], "http://127.0.0.1:1").await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("custodianctl: "), "{stderr}");

    let output = custodianctl(&["health"], "ftp://example").await;
    assert!(String::from_utf8_lossy(&output.stderr).contains("must be http:// or https://"));
}

/// custodianctl with `env` set (and nothing of the caller's environment's
/// Custodian settings).
async fn custodianctl_as(args: &[&str], url: &str, env: &[(&str, &str)]) -> Output {
    custodianctl_fed(args, url, env, None).await
}

/// As [`custodianctl_as`], with `input` on standard input.
async fn custodianctl_fed(
    args: &[&str],
    url: &str,
    env: &[(&str, &str)],
    input: Option<&str>,
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_custodianctl"));
    command.args(args).env("CUSTODIAN_URL", url);
    for name in [
        "CUSTODIAN_TOKEN",
        "CUSTODIAN_CLIENT_ID",
        "CUSTODIAN_CLIENT_SECRET",
        "CUSTODIAN_PARTNER",
        "CUSTODIAN_EMAIL",
        "CUSTODIAN_PASSWORD",
        "CUSTODIAN_OPERATOR_CLIENT_ID",
        "CUSTODIAN_OPERATOR_CLIENT_SECRET",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let input = input.map(str::to_owned);
    actix_web::rt::task::spawn_blocking(move || {
        use std::io::Write;
        use std::process::Stdio;
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("custodianctl runs");
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin.write_all(input.as_bytes()).unwrap();
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[actix_web::test]
async fn the_operator_manages_partners_from_a_shell() {
    let server = TestServer::spawn(Backend::Sqlite).await.unwrap();
    let url = server.base_url.as_str();
    let password = secrecy::ExposeSecret::expose_secret(&server.operator.password).to_owned();
    let operator = [
        ("CUSTODIAN_EMAIL", server.operator.email.as_str()),
        ("CUSTODIAN_PASSWORD", password.as_str()),
    ];
    let create = [
        "partners",
        "create",
        "--name",
        "Northwind IT",
        "--owner-email",
        "nora@northwind.example",
        "--owner-name",
        "Nora",
        "--idempotency-key",
        "northwind-1",
    ];
    let created = json(&custodianctl_as(&create, url, &operator).await);
    let id = created["partner"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["owner"]["email"], "nora@northwind.example",
        "{created}"
    );
    // Retried under its key: the same partner, no second one.
    let again = json(&custodianctl_as(&create, url, &operator).await);
    assert_eq!(again["partner"]["id"], created["partner"]["id"]);
    let renamed = json(
        &custodianctl_as(
            &["partners", "rename", &id, "--name", "Northwind Managed IT"],
            url,
            &operator,
        )
        .await,
    );
    assert_eq!(renamed["name"], "Northwind Managed IT");
    let unconfirmed = custodianctl_as(&["partners", "suspend", &id], url, &operator).await;
    assert_eq!(unconfirmed.status.code(), Some(1), "nothing without --yes");
    let suspended =
        json(&custodianctl_as(&["partners", "suspend", &id, "--yes"], url, &operator).await);
    assert_eq!(suspended["status"], "suspended", "{suspended}");
    let listed = json(&custodianctl_as(&["partners", "list", "--suspended"], url, &operator).await);
    assert_eq!(listed["items"][0]["id"], id.as_str(), "{listed}");
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    let active = json(&custodianctl_as(&["partners", "reactivate", &id], url, &operator).await);
    assert_eq!(active["status"], "active");
    let invited = json(&custodianctl_as(&["partners", "invite-owners", &id], url, &operator).await);
    assert_eq!(
        invited["items"][0]["email"], "nora@northwind.example",
        "{invited}"
    );
    let shown = json(&custodianctl_as(&["partners", "get", &id], url, &operator).await);
    assert_eq!(shown["name"], "Northwind Managed IT");

    // The operator's token, printed by login --operator, works as CUSTODIAN_TOKEN.
    let token = json(&custodianctl_as(&["login", "--operator"], url, &operator).await);
    let token = token["access_token"].as_str().unwrap();
    let listed =
        json(&custodianctl_as(&["partners", "list"], url, &[("CUSTODIAN_TOKEN", token)]).await);
    assert!(listed["items"].as_array().unwrap().len() >= 2, "{listed}");
    // The vendor's automation: one of the operator's API clients.
    let made: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/v1/operator/api-clients"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "Billing sync"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let automation = [
        (
            "CUSTODIAN_OPERATOR_CLIENT_ID",
            made["client"]["id"].as_str().unwrap(),
        ),
        (
            "CUSTODIAN_OPERATOR_CLIENT_SECRET",
            made["client_secret"].as_str().unwrap(),
        ),
    ];
    let shown = json(&custodianctl_as(&["partners", "get", &id], url, &automation).await);
    assert_eq!(shown["name"], "Northwind Managed IT", "{shown}");
    // A wrong password is one line and exit 1.
    let refused = custodianctl_as(
        &["partners", "list"],
        url,
        &[
            ("CUSTODIAN_EMAIL", server.operator.email.as_str()),
            ("CUSTODIAN_PASSWORD", "not the password"),
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid_grant"), "{stderr}");
    // No operator credentials at all: said so.
    let none = custodianctl_as(&["partners", "list"], url, &[]).await;
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(stderr.contains("not signed in as the operator"), "{stderr}");
}

#[actix_web::test]
async fn an_admin_manages_clients_and_a_client_signs_in() {
    use custodian_api::db::admins::Role;
    let server = TestServer::spawn(Backend::Sqlite).await.unwrap();
    let url = server.base_url.as_str();
    let (email, password) = server.create_admin(Role::Owner, &[]).await;
    let admin = [
        ("CUSTODIAN_PARTNER", server.owner.partner_id.as_str()),
        ("CUSTODIAN_EMAIL", email.as_str()),
        ("CUSTODIAN_PASSWORD", password.as_str()),
    ];

    let token = json(&custodianctl_as(&["login"], url, &admin).await);
    assert_eq!(token["scope"], "admin");
    let access = token["access_token"].as_str().unwrap();
    let admins =
        json(&custodianctl_as(&["admins", "list"], url, &[("CUSTODIAN_TOKEN", access)]).await);
    assert_eq!(admins["items"].as_array().unwrap().len(), 2);

    let created = json(
        &custodianctl_as(
            &[
                "api-clients",
                "create",
                "--name",
                "RMM",
                "--scope",
                "audit:read",
                "--scope",
                "partner:read",
            ],
            url,
            &admin,
        )
        .await,
    );
    let id = created["client"]["id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let client = [
        ("CUSTODIAN_CLIENT_ID", id),
        ("CUSTODIAN_CLIENT_SECRET", secret),
    ];
    let verified = json(&custodianctl_as(&["audit", "verify"], url, &client).await);
    assert_eq!(verified["valid"], true, "{verified}");
    let events = json(
        &custodianctl_as(
            &["audit", "list", "--action", "createApiClient"],
            url,
            &client,
        )
        .await,
    );
    assert_eq!(events["items"][0]["target_id"], id);
    let listed = json(&custodianctl_as(&["api-clients", "list"], url, &admin).await);
    assert!(
        !listed.to_string().contains(secret),
        "the secret is shown once"
    );

    // A client may not manage admins: one line, exit 1.
    let denied = custodianctl_as(&["admins", "list"], url, &client).await;
    assert_eq!(denied.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.starts_with("custodianctl: HTTP 403 forbidden"),
        "{stderr}"
    );

    json(&custodianctl_as(&["api-clients", "delete", id], url, &admin).await);
    let refused = custodianctl_as(&["login"], url, &client).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("HTTP 401 invalid_client"), "{stderr}");

    let unsigned = custodianctl_as(&["admins", "list"], url, &[]).await;
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("not signed in"));
    assert!(
        !String::from_utf8_lossy(&refused.stderr).contains(secret),
        "a secret is never echoed"
    );
}

#[actix_web::test]
async fn companies_users_and_the_backup_profile_from_a_shell() {
    use custodian_api::db::admins::Role;
    let server = TestServer::spawn(Backend::Sqlite).await.unwrap();
    let url = server.base_url.as_str();
    let (email, password) = server.create_admin(Role::Owner, &[]).await;
    let admin = [
        ("CUSTODIAN_PARTNER", server.owner.partner_id.as_str()),
        ("CUSTODIAN_EMAIL", email.as_str()),
        ("CUSTODIAN_PASSWORD", password.as_str()),
    ];
    let company = json(
        &custodianctl_as(
            &[
                "companies",
                "create",
                "--name",
                "Acme Dental",
                "--external-id",
                "psa-1001",
            ],
            url,
            &admin,
        )
        .await,
    );
    let id = company["id"].as_str().unwrap();
    let renamed = json(
        &custodianctl_as(
            &["companies", "update", id, "--name", "Acme Dental Group"],
            url,
            &admin,
        )
        .await,
    );
    assert_eq!(
        (&renamed["name"], &renamed["external_id"]),
        (
            &serde_json::json!("Acme Dental Group"),
            &serde_json::json!("psa-1001")
        )
    );
    let listed = json(&custodianctl_as(&["companies", "list"], url, &admin).await);
    assert_eq!(listed["items"][0]["name"], "Acme Dental Group");
    assert_eq!(listed["items"][0]["external_id"], "psa-1001");
    json(
        &custodianctl_as(
            &[
                "users",
                "add",
                "--company",
                id,
                "--email",
                "dana@acme-dental.example",
                "--name",
                "Dana Smith",
                "--client-kind",
                "webapp",
                "--external-id",
                "psa-contact-7",
            ],
            url,
            &admin,
        )
        .await,
    );
    let found = json(&custodianctl_as(&["users", "find", "SMITH"], url, &admin).await);
    assert_eq!(found["items"][0]["email"], "dana@acme-dental.example");
    assert_eq!(found["items"][0]["external_id"], "psa-contact-7");
    let dana = found["items"][0]["id"].as_str().unwrap();
    let invited = json(&custodianctl_as(&["users", "invite", dana], url, &admin).await);
    assert_eq!(invited["status"], "invited");
    assert!(invited["invitation_expires_at"].is_string(), "{invited}");
    let changed = json(
        &custodianctl_as(
            &[
                "users",
                "update",
                dana,
                "--name",
                "Dana Q. Smith",
                "--primary",
                "true",
            ],
            url,
            &admin,
        )
        .await,
    );
    assert_eq!(
        (&changed["name"], &changed["is_primary"]),
        (
            &serde_json::json!("Dana Q. Smith"),
            &serde_json::json!(true)
        )
    );
    assert!(changed["etag"].is_string(), "{changed}");
    let disabled = json(&custodianctl_as(&["users", "disable", dana], url, &admin).await);
    assert_eq!(disabled["status"], "disabled");
    let enabled = json(&custodianctl_as(&["users", "enable", dana], url, &admin).await);
    assert_eq!(enabled["status"], "invited", "no master password yet");
    let offboarded =
        json(&custodianctl_as(&["users", "offboard", dana, "--yes"], url, &admin).await);
    assert_eq!(offboarded["personal_items_purged"], 0, "{offboarded}");
    let gone = custodianctl_as(&["users", "get", dana], url, &admin).await;
    assert!(!gone.status.success(), "offboarded");

    let profile = json(&custodianctl_as(&["backup-profile", "get", id], url, &admin).await);
    assert_eq!(
        (profile["etag"].as_str(), profile["retention_days"].as_i64()),
        (Some("\"1\""), Some(90))
    );
    let key = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
    let set = json(
        &custodianctl_as(
            &[
                "backup-profile",
                "set",
                id,
                "--on",
                "--retention-days",
                "30",
                "--public-key",
                key,
            ],
            url,
            &admin,
        )
        .await,
    );
    assert_eq!(
        (
            set["etag"].as_str(),
            set["backup_all_company_items"].as_bool()
        ),
        (Some("\"2\""), Some(true))
    );
    // Pinned to a version that is no longer current: 412, one line.
    let stale = custodianctl_as(
        &[
            "backup-profile",
            "set",
            id,
            "--off",
            "--retention-days",
            "30",
            "--if-match",
            "\"1\"",
        ],
        url,
        &admin,
    )
    .await;
    assert_eq!(stale.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert!(stderr.contains("HTTP 412 precondition_failed"), "{stderr}");

    // Retiring: refused while the company has a user, unless it offboards them.
    json(
        &custodianctl_as(
            &[
                "users",
                "add",
                "--company",
                id,
                "--email",
                "eve@acme-dental.example",
                "--name",
                "Eve Jones",
                "--client-kind",
                "desktop",
            ],
            url,
            &admin,
        )
        .await,
    );
    let unconfirmed = custodianctl_as(&["companies", "retire", id], url, &admin).await;
    assert_eq!(unconfirmed.status.code(), Some(1), "nothing without --yes");
    let refused = custodianctl_as(&["companies", "retire", id, "--yes"], url, &admin).await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("HTTP 409 company_has_users"), "{stderr}");
    let retired = json(
        &custodianctl_as(
            &["companies", "retire", id, "--offboard-users", "--yes"],
            url,
            &admin,
        )
        .await,
    );
    assert_eq!(retired["users_offboarded"], 1, "{retired}");
    assert_eq!(retired["company"]["status"], "retired", "{retired}");
    let active = json(&custodianctl_as(&["companies", "list"], url, &admin).await);
    assert_eq!(active["items"], serde_json::json!([]), "{active}");
    let listed = json(&custodianctl_as(&["companies", "list", "--retired"], url, &admin).await);
    assert_eq!(listed["items"][0]["id"], id, "{listed}");
}

#[actix_web::test]
async fn a_reset_from_a_shell() {
    use custodian_api::db::admins::Role;
    let server = TestServer::spawn(Backend::Sqlite).await.unwrap();
    let url = server.base_url.as_str();
    let (email, password) = server.create_admin(Role::Admin, &[]).await;
    let admin = [
        ("CUSTODIAN_PARTNER", server.owner.partner_id.as_str()),
        ("CUSTODIAN_EMAIL", email.as_str()),
        ("CUSTODIAN_PASSWORD", password.as_str()),
    ];
    let company =
        json(&custodianctl_as(&["companies", "create", "--name", "Acme"], url, &admin).await);
    let user = json(
        &custodianctl_as(
            &[
                "users",
                "add",
                "--company",
                company["id"].as_str().unwrap(),
                "--email",
                "lou@acme.example",
                "--name",
                "Lou",
                "--client-kind",
                "desktop",
            ],
            url,
            &admin,
        )
        .await,
    );
    let user = user["id"].as_str().unwrap();

    // Without a terminal to type the phrase in, only --yes confirms.
    let unconfirmed = custodianctl_as(&["reset", user], url, &admin).await;
    assert_eq!(unconfirmed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unconfirmed.stderr);
    assert!(
        stderr.contains("\"delivery_kind\": \"temporary_password\""),
        "the preview: {stderr}"
    );
    assert!(stderr.contains("pass --yes"), "{stderr}");

    let reset =
        json(&custodianctl_as(&["reset", user, "--yes", "--ticket", "T-1"], url, &admin).await);
    assert_eq!(reset["status"], "pending_user_action");
    assert_eq!(reset["ticket"], "T-1");
    let id = reset["id"].as_str().unwrap();
    let listed = json(&custodianctl_as(&["resets", "list", "--user", user], url, &admin).await);
    assert_eq!(listed["items"][0]["id"], id);
    let shown = json(&custodianctl_as(&["resets", "show", id], url, &admin).await);
    assert!(
        ["queued", "sending", "sent"].contains(&shown["email_status"].as_str().unwrap()),
        "{shown}"
    );

    // A second reset names the pending one, or is refused.
    let again = custodianctl_as(&["reset", user, "--yes"], url, &admin).await;
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("HTTP 409 reset_pending"), "{stderr}");
    let replaced =
        json(&custodianctl_as(&["reset", user, "--yes", "--supersede"], url, &admin).await);
    assert_ne!(replaced["id"], reset["id"]);
    let old = json(&custodianctl_as(&["resets", "show", id], url, &admin).await);
    assert_eq!(old["status"], "superseded");

    // The user lost the email: a re-issue sends a fresh one.
    let current = replaced["id"].as_str().unwrap();
    let reissued = json(&custodianctl_as(&["resets", "reissue", current], url, &admin).await);
    assert_eq!(
        (reissued["id"].as_str(), reissued["reissue_count"].as_i64()),
        (Some(current), Some(1))
    );
    let refused = custodianctl_as(&["resets", "reissue", id], url, &admin).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("HTTP 409 reset_not_pending"),
        "a superseded reset is not re-issued"
    );
}

#[actix_web::test]
async fn a_batch_reset_from_a_shell_shows_progress_and_says_by_its_status_what_happened() {
    use custodian_api::db::admins::Role;
    let server = TestServer::spawn(Backend::Sqlite).await.unwrap();
    let url = server.base_url.as_str();
    let (email, password) = server.create_admin(Role::Admin, &[]).await;
    let admin = [
        ("CUSTODIAN_PARTNER", server.owner.partner_id.as_str()),
        ("CUSTODIAN_EMAIL", email.as_str()),
        ("CUSTODIAN_PASSWORD", password.as_str()),
    ];
    let company =
        json(&custodianctl_as(&["companies", "create", "--name", "Acme"], url, &admin).await);
    let mut users = Vec::new();
    for name in ["ann", "bob", "cy"] {
        let email = format!("{name}@acme.example");
        let user = json(
            &custodianctl_as(
                &[
                    "users",
                    "add",
                    "--company",
                    company["id"].as_str().unwrap(),
                    "--email",
                    &email,
                    "--name",
                    name,
                    "--client-kind",
                    "desktop",
                ],
                url,
                &admin,
            )
            .await,
        );
        users.push((user["id"].as_str().unwrap().to_owned(), email));
    }

    // Ann and Bob by email from standard input, Cy by id: all reset, 0.
    let fed = format!("# offboarding\n{}\n\n{}\n", users[0].1, users[1].1);
    let output = custodianctl_fed(
        &[
            "reset",
            &users[2].0,
            "--from",
            "-",
            "--yes",
            "--ticket",
            "T-9",
        ],
        url,
        &admin,
        Some(&fed),
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("3 of 3 users may be reset"), "{stderr}");
    assert!(
        stderr.contains("3/3 users done (3 reset, 0 not)"),
        "plain progress lines without a terminal: {stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["counts"]["completed"], 3);
    assert_eq!(summary["users"]["completed"].as_array().unwrap().len(), 3);

    // Each now has a pending reset; with a user nobody has, nobody is reset.
    let unknown = uuid::Uuid::now_v7().to_string();
    let output = custodianctl_as(
        &["reset", &users[0].0, &users[1].0, &unknown, "--yes"],
        url,
        &admin,
    )
    .await;
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["counts"]["reset_pending"], 2);
    assert_eq!(
        summary["users"]["not_found"][0]["user_id"],
        unknown.as_str()
    );

    // One more user: some reset, some not, 2.
    let dee = json(
        &custodianctl_as(
            &[
                "users",
                "add",
                "--company",
                company["id"].as_str().unwrap(),
                "--email",
                "dee@acme.example",
                "--name",
                "Dee",
                "--client-kind",
                "webapp",
            ],
            url,
            &admin,
        )
        .await,
    );
    let output = custodianctl_as(
        &["reset", dee["id"].as_str().unwrap(), &users[2].0, "--yes"],
        url,
        &admin,
    )
    .await;
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Without a terminal, only --yes confirms; nothing is made.
    let output = custodianctl_as(&["reset", &users[0].0, &users[1].0], url, &admin).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("pass --yes"));
    let output = custodianctl_as(&["reset", "nobody@acme.example", "--yes"], url, &admin).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("no user has the email nobody@acme.example")
    );
}

#[actix_web::test]
async fn a_reset_awaiting_approval_is_listed_approved_and_rejected_from_a_shell() {
    use custodian_api::db::admins::Role;
    let server = TestServer::spawn_with(Backend::Sqlite, |config| {
        config.policy_dir = Some(std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies"
        )));
    })
    .await
    .unwrap();
    let url = server.base_url.as_str();
    let as_admin = |email: &str, password: &str| {
        [
            ("CUSTODIAN_PARTNER", server.owner.partner_id.clone()),
            ("CUSTODIAN_EMAIL", email.to_owned()),
            ("CUSTODIAN_PASSWORD", password.to_owned()),
        ]
    };
    let (email, password) = server.create_admin(Role::Admin, &[]).await;
    let requester = as_admin(&email, &password);
    let requester: Vec<(&str, &str)> = requester.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (email, password) = server.create_admin(Role::Admin, &[]).await;
    let approver = as_admin(&email, &password);
    let approver: Vec<(&str, &str)> = approver.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut primaries = Vec::new();
    for name in ["ann", "bob"] {
        let company =
            json(&custodianctl_as(&["companies", "create", "--name", name], url, &requester).await);
        let user = json(
            &custodianctl_as(
                &[
                    "users",
                    "add",
                    "--company",
                    company["id"].as_str().unwrap(),
                    "--email",
                    &format!("{name}@acme.example"),
                    "--name",
                    name,
                    "--client-kind",
                    "desktop",
                    "--primary",
                ],
                url,
                &requester,
            )
            .await,
        );
        primaries.push(user["id"].as_str().unwrap().to_owned());
    }
    // A company's primary user waits for a second admin.
    let mut requests = Vec::new();
    for user in &primaries {
        let request = json(&custodianctl_as(&["reset", user, "--yes"], url, &requester).await);
        assert_eq!(request["status"], "awaiting_approval", "{request}");
        assert_eq!(
            request["approval"]["required_by"][0],
            "approval-for-primary-users"
        );
        requests.push(request["id"].as_str().unwrap().to_owned());
    }
    let pending = json(&custodianctl_as(&["resets", "pending"], url, &approver).await);
    let listed: Vec<&str> = pending["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        requests.iter().map(String::as_str).collect::<Vec<_>>()
    );

    // Not by the admin who asked.
    let own = custodianctl_as(&["resets", "approve", &requests[0]], url, &requester).await;
    assert_eq!(own.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&own.stderr).contains("HTTP 403"),
        "{}",
        String::from_utf8_lossy(&own.stderr)
    );
    let approved = json(
        &custodianctl_as(
            &["resets", "approve", &requests[0], "--comment", "checked"],
            url,
            &approver,
        )
        .await,
    );
    assert_eq!(approved["status"], "pending_user_action");
    assert_eq!(approved["approval"]["comment"], "checked");
    let rejected =
        json(&custodianctl_as(&["resets", "reject", &requests[1]], url, &approver).await);
    assert_eq!(rejected["status"], "rejected");
    let pending = json(&custodianctl_as(&["resets", "pending"], url, &approver).await);
    assert_eq!(pending["items"], serde_json::json!([]));
}
