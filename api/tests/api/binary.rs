//! The `custodian` binary: settings errors, `migrate`, `openapi`.

use std::process::{Command, Output};

fn custodian(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_custodian"));
    command.args(args);
    // Start from a clean slate: no CUSTODIAN_* or DATABASE_URL from the caller.
    for (key, _) in std::env::vars() {
        if key.starts_with("CUSTODIAN_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    command.output().expect("the binary runs")
}

#[test]
fn an_invalid_setting_stops_the_start_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let cases = [
        ("CUSTODIAN_LISTEN", "8080", "CUSTODIAN_LISTEN"),
        ("DATABASE_URL", "mysql://db/custodian", "DATABASE_URL"),
        (
            "CUSTODIAN_SMTP_URL",
            "mail.example.com",
            "CUSTODIAN_SMTP_URL",
        ),
        ("CUSTODIAN_WORKERS", "-1", "CUSTODIAN_WORKERS"),
    ];
    for (key, value, named) in cases {
        let output = custodian(&["serve"], &[(key, value), ("CUSTODIAN_DATA_DIR", data)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{key}={value}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with("custodian: invalid configuration: "),
            "{stderr}"
        );
        assert!(stderr.contains(named), "{key}={value}: {stderr}");
    }
}

#[test]
fn a_database_that_cannot_open_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = custodian(
        &["serve"],
        &[
            ("CUSTODIAN_DATA_DIR", dir.path().to_str().unwrap()),
            (
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:1/none?connect_timeout=2",
            ),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot open the database postgres://postgres@127.0.0.1:1/none"),
        "{stderr}"
    );
}

#[test]
fn migrate_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let first = custodian(&["migrate"], &[("CUSTODIAN_DATA_DIR", data)]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).starts_with("applied 2026"));
    assert!(
        dir.path().join("custodian.db").is_file(),
        "SQLite under the data directory"
    );
    let second = custodian(&["migrate"], &[("CUSTODIAN_DATA_DIR", data)]);
    assert_eq!(
        String::from_utf8_lossy(&second.stdout),
        "The database is up to date.\n"
    );
}

#[test]
fn openapi_prints_the_committed_document() {
    let output = custodian(&["openapi"], &[]);
    assert!(output.status.success());
    let committed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    assert_eq!(output.stdout, committed);
}

#[test]
fn bootstrap_prints_the_password_once_and_never_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("CUSTODIAN_DATA_DIR", dir.path().to_str().unwrap()),
        ("CUSTODIAN_LOG", "trace"),
    ];
    let args = ["bootstrap", "--email", "alice@vendor.example"];
    let first = custodian(&args, &env);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("operator sign-in: alice@vendor.example"),
        "{stdout}"
    );
    let password = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("operator password:"))
        .map(str::trim)
        .expect("a password line")
        .to_owned();
    assert_eq!(password.len(), 20);
    assert!(
        !String::from_utf8_lossy(&first.stderr).contains(&password),
        "the log never has it"
    );

    let second = custodian(&args, &env);
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already has an operator"));
    assert!(!String::from_utf8_lossy(&second.stdout).contains("password"));
}

#[test]
fn an_invalid_policy_stops_the_server_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
    std::fs::copy(
        format!("{repo}/custodian.cedarschema"),
        policies.join("custodian.cedarschema"),
    )
    .unwrap();
    std::fs::write(
        policies.join("broken.cedar"),
        "@id(\"b\") permit (principal, action, resource) when { nonsense };",
    )
    .unwrap();
    let output = custodian(
        &["serve"],
        &[
            (
                "CUSTODIAN_DATA_DIR",
                dir.path().join("data").to_str().unwrap(),
            ),
            ("CUSTODIAN_POLICY_DIR", policies.to_str().unwrap()),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("invalid policies:") && stderr.contains("broken.cedar"),
        "{stderr}"
    );
    assert!(!dir.path().join("data").exists(), "nothing was started");
}

#[test]
fn policies_check_runs_the_fixtures() {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
    let output = custodian(&["policies", "check", repo], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(
            "ok   DENY/admin_demotes_the_owner.json -> deny by [\"only-owners-manage-owners\"]"
        ),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with(" passed, 0 failed"), "{stdout}");
}

/// The quick start's own command, `custodian serve --demo`, with the most
/// verbose log: the runbook runs through it, the email lands as a file, and
/// no secret (the reset's temporary password, the owner's passwords) reaches
/// the log or the metrics.
#[actix_web::test]
async fn the_quick_start_runs_the_runbook_and_its_log_holds_no_secret() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use serde_json::{Value, json};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stdout_path = dir.path().join("stdout");
    let log_path = dir.path().join("log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_custodian"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CUSTODIAN_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    let mut child = command
        .args(["serve", "--demo"])
        .env("CUSTODIAN_DATA_DIR", &data)
        .env("CUSTODIAN_LISTEN", format!("127.0.0.1:{port}"))
        .env("CUSTODIAN_LOG", "trace")
        .stdout(Stdio::from(std::fs::File::create(&stdout_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&log_path).unwrap()))
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut child);

    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let printed = loop {
        let printed = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        let up = http.get(format!("{base}/healthz")).send().await.is_ok();
        if up && printed.contains("Users sign in") {
            break printed;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not start: {printed}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let field = |name: &str| {
        printed
            .lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} in {printed}"))
    };
    let (partner, owner, one_time) = (field("partner:"), field("sign in as:"), field("password:"));
    assert!(printed.contains("dana.desktop@acme-dental.example (desktop)"));

    // The owner replaces the one-time password and signs in.
    let token = |password: String| {
        let (http, base, owner) = (http.clone(), base.clone(), owner.clone());
        let partner = partner.clone();
        async move {
            let answer: Value = http
                .post(format!("{base}/v1/auth/token"))
                .form(&[
                    ("grant_type", "password"),
                    ("partner_id", partner.as_str()),
                    ("username", owner.as_str()),
                    ("password", password.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["access_token"].as_str().unwrap().to_owned()
        }
    };
    let changing = token(one_time.clone()).await;
    let new_password = "a long new owner passphrase";
    let changed = http
        .post(format!("{base}/v1/auth/password"))
        .bearer_auth(&changing)
        .json(&json!({"current_password": one_time, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status().as_u16(), 204);
    let admin = token(new_password.to_owned()).await;

    // Dana, a demo desktop user, is found and reset.
    let found: Value = http
        .get(format!("{base}/v1/users?q=dana.desktop@"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user = found["items"][0]["id"].as_str().unwrap().to_owned();
    let reset = http
        .post(format!("{base}/v1/users/{user}/master-password-resets"))
        .bearer_auth(&admin)
        .json(&json!({"confirmation": "Yes"}))
        .send()
        .await
        .unwrap();
    let status = reset.status().as_u16();
    let reset: Value = reset.json().await.unwrap();
    assert_eq!(status, 201, "{reset}");
    assert_eq!(reset["company_items_preserved"], 4);

    // The email lands as a file; the user finishes with its secret.
    let mail_dir = data.join("mail");
    let eml = loop {
        let file = std::fs::read_dir(&mail_dir)
            .ok()
            .and_then(|mut files| files.find_map(|f| f.ok().map(|f| f.path())))
            .filter(|p| p.extension().is_some_and(|e| e == "eml"));
        if let Some(file) = file {
            break std::fs::read(file).unwrap();
        }
        assert!(Instant::now() < deadline, "no .eml file");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    let message = mail_parser::MessageParser::default().parse(&eml).unwrap();
    let text = message.body_text(0).unwrap().into_owned();
    let secret = text
        .lines()
        .find_map(|line| line.strip_prefix("    "))
        .unwrap()
        .to_owned();
    let partner = reset["requested_by"]["partner_id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let jwt = admin.split('.').nth(1).unwrap();
            let claims: Value = serde_json::from_slice(
                &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, jwt)
                    .unwrap(),
            )
            .unwrap();
            claims["partner"].as_str().unwrap().to_owned()
        });
    let restricted: Value = http
        .post(format!("{base}/v1/account/token"))
        .json(&json!({
            "partner_id": partner,
            "email": "dana.desktop@acme-dental.example",
            "temporary_password": secret,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let set = http
        .post(format!("{base}/v1/account/master-password"))
        .bearer_auth(restricted["access_token"].as_str().unwrap())
        .json(&json!({"auth_key": "dana's new derived key", "encrypted_vault_key": "a2V5"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status().as_u16(), 204);

    // Nowhere else: not in the metrics, not in the log.
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("custodian_email_attempts_total"),
        "{metrics}"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("email sent"), "the log is verbose: {log}");
    for secret in [secret.as_str(), one_time.as_str(), new_password] {
        assert!(!metrics.contains(secret));
        assert!(!log.contains(secret), "a secret in the log");
    }
}
