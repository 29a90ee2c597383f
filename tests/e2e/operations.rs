//! Liveness, readiness, metrics and the contract, through the SDK.

use custodian_e2e::{Backend, TestApp};
use custodian_sdk::Error;
use rstest::rstest;

#[rstest]
#[actix_web::test]
async fn the_server_is_live_and_ready(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let health = app
        .client
        .health_get()
        .send()
        .await
        .expect("healthz")
        .into_inner();
    assert_eq!(health.status, "ok");
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));

    let ready = app
        .client
        .readiness_get()
        .send()
        .await
        .expect("readyz")
        .into_inner();
    assert_eq!(ready.status, "ready");
    assert_eq!(ready.database, backend.name());
    assert!(
        ready.schema_version.starts_with("2026"),
        "{}",
        ready.schema_version
    );
}

#[actix_web::test]
async fn a_database_outage_is_a_503_problem_and_liveness_holds() {
    // PostgreSQL: the database is dropped under the running server.
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    app.client
        .readiness_get()
        .send()
        .await
        .expect("ready before the outage");
    app.server.database.drop_database();

    let error = app
        .client
        .readiness_get()
        .send()
        .await
        .expect_err("not ready without a database");
    let Error::ErrorResponse(problem) = &error else {
        panic!("a problem answer, got {error:?}")
    };
    assert_eq!(problem.status().as_u16(), 503);
    assert_eq!(problem.code, "database_unavailable");
    assert!(
        problem
            .request_id
            .as_deref()
            .is_some_and(|id| !id.is_empty())
    );
    let line = custodian_sdk::describe(&error);
    assert!(
        line.starts_with("HTTP 503 database_unavailable: "),
        "{line}"
    );

    // Liveness does not depend on the database.
    app.client.health_get().send().await.expect("still live");
}

#[rstest]
#[actix_web::test]
async fn the_served_document_is_the_committed_contract(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let served = app
        .client
        .openapi_get()
        .send()
        .await
        .expect("openapi.json")
        .into_inner();
    let committed: serde_json::Value = {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
        let yaml: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
        serde_json::to_value(yaml).unwrap()
    };
    assert_eq!(serde_json::Value::Object(served), committed);
}

#[rstest]
#[actix_web::test]
async fn metrics_are_served_as_openmetrics(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.client.health_get().send().await.unwrap();
    let response = app.client.metrics_get().send().await.expect("metrics");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let body = response.into_inner_stream();
    let bytes = read_all(body).await;
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains(r#"route="/healthz",status="200"} 1"#),
        "{text}"
    );
}

async fn read_all(
    mut stream: impl futures_util::Stream<Item = Result<actix_web::web::Bytes, reqwest::Error>> + Unpin,
) -> Vec<u8> {
    use futures_util::TryStreamExt;
    let mut out = Vec::new();
    while let Some(chunk) = stream.try_next().await.expect("a body chunk") {
        out.extend_from_slice(&chunk);
    }
    out
}
