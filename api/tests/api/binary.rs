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
    let args = [
        "bootstrap",
        "--partner-name",
        "Acme IT",
        "--owner-email",
        "alice@acme.example",
    ];
    let first = custodian(&args, &env);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("sign in as: alice@acme.example"),
        "{stdout}"
    );
    let password = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("password:"))
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
    assert!(String::from_utf8_lossy(&second.stderr).contains("already has a partner"));
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
