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
