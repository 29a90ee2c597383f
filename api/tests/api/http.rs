//! HTTP behaviour of the real server on port 0 (raw HTTP here, to see
//! headers; the end-to-end tests in the workspace root go through the SDK).

use custodian_api::db::{Backend, Db, migrations};
use custodian_api::http::{Published, app, extract::BodyLimit, openapi};
use custodian_api::testing::{TestDatabase, TestServer, app_state};
use rstest::rstest;

/// A GET with an optional request id, answering (status, request id, body).
async fn get(url: &str, request_id: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, id, response.text().await.unwrap_or_default())
}

#[rstest]
#[actix_web::test]
async fn request_ids_are_kept_when_sane_and_made_otherwise(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (status, id, _) = get(
        &format!("{}/healthz", server.base_url),
        Some("ticket-42.a_b:c"),
    )
    .await;
    assert_eq!((status, id.as_str()), (200, "ticket-42.a_b:c"));
    let (_, made, _) = get(&format!("{}/healthz", server.base_url), Some("bad id")).await;
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
    let (_, long, _) = get(
        &format!("{}/healthz", server.base_url),
        Some(&"x".repeat(129)),
    )
    .await;
    assert_ne!(long.len(), 129);
    // A problem carries the same id as the header.
    let (status, id, body) = get(&format!("{}/nowhere", server.base_url), None).await;
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 404);
    assert_eq!(problem["request_id"], id.as_str());
    assert_eq!(problem["instance"], "/nowhere");
}

#[rstest]
#[actix_web::test]
async fn metrics_count_requests_by_route_template(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    for _ in 0..3 {
        get(&format!("{}/readyz", server.base_url), None).await;
    }
    get(
        &format!("{}/no/such/{}", server.base_url, uuid::Uuid::new_v4()),
        None,
    )
    .await;
    let (status, _, text) = get(&format!("{}/metrics", server.base_url), None).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(
            r#"custodian_http_requests_total{method="GET",route="/readyz",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains("/no/such/"),
        "raw paths must not become labels"
    );
    assert!(
        text.contains("custodian_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains("custodian_db_pool_max_connections 8"),
        "{text}"
    );
}

#[rstest]
#[actix_web::test]
async fn docs_page_lists_every_operation(#[values(Backend::Sqlite)] backend: Backend) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let (status, _, html) = get(&format!("{}/docs", server.base_url), None).await;
    assert_eq!(status, 200);
    let document = serde_json::to_value(openapi()).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(
                html.contains(&format!("id=\"op-{id}\"")),
                "{path}: {id} missing from /docs"
            );
        }
    }
    assert!(html.contains("id=\"problem-database_unavailable\""));
    assert!(!html.contains("<script"), "the page needs no script");
}

#[rstest]
#[actix_web::test]
async fn readiness_is_503_while_migrations_are_pending(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use actix_web::{test, web};
    let Some(database) = TestDatabase::create(backend) else {
        return;
    };
    let db: Db = database.pool();
    let state = app_state(db.clone());
    let published = web::Data::new(Published::new(&openapi()));
    let service = test::init_service(app(state, published, BodyLimit::default())).await;

    let response = test::call_service(
        &service,
        test::TestRequest::get().uri("/readyz").to_request(),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers().get("retry-after").unwrap(), "5");
    let problem: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(problem["code"], "migrations_pending");

    db.run(migrations::run_pending).await.unwrap();
    let response = test::call_service(
        &service,
        test::TestRequest::get().uri("/readyz").to_request(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let ready: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(ready["database"], backend.name());
    assert_eq!(
        ready["schema_version"].as_str(),
        migrations::known_versions(backend)
            .last()
            .map(String::as_str)
    );
}

#[rstest]
#[actix_web::test]
async fn metrics_can_have_a_listener_of_their_own(#[values(Backend::Sqlite)] backend: Backend) {
    let Some(server) = TestServer::spawn_with(backend, |config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
    else {
        return;
    };
    let metrics = server.metrics_url.clone().expect("a metrics listener");
    let (status, _, body) = get(&format!("{metrics}/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(body.contains("custodian_db_pool_connections"), "{body}");
    // The API's address no longer serves metrics, and the metrics address
    // serves nothing else.
    let (status, _, body) = get(&format!("{}/metrics", server.base_url), None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not_found"));
    for path in ["/healthz", "/openapi.json", "/v1/partner"] {
        let (status, _, _) = get(&format!("{metrics}{path}"), None).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _, _) = get(&format!("{}/healthz", server.base_url), None).await;
    assert_eq!(status, 200);
}

#[rstest]
#[actix_web::test]
async fn cors_answers_the_configured_origins_only(#[values(Backend::Sqlite)] backend: Backend) {
    let Some(server) = TestServer::spawn_with(backend, |config| {
        config.cors_origins = vec!["https://portal.msp.example".into()];
    })
    .await
    else {
        return;
    };
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str, method: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/companies/x/backup-profile", server.base_url),
        )
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type, if-match, idempotency-key",
        )
        .send()
    };
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let response = preflight("https://portal.msp.example", method)
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{method}: {}",
            response.status()
        );
        let headers = response.headers();
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://portal.msp.example"
        );
        let methods = headers["access-control-allow-methods"].to_str().unwrap();
        assert!(methods.contains(method), "{methods}");
        let allowed = headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for header in [
            "authorization",
            "content-type",
            "if-match",
            "idempotency-key",
        ] {
            assert!(allowed.contains(header), "{allowed}");
        }
        assert!(headers.get("access-control-allow-credentials").is_none());
    }
    // An actual request: the origin, Vary and the headers a page may read.
    let response = http
        .get(format!("{}/healthz", server.base_url))
        .header("origin", "https://portal.msp.example")
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://portal.msp.example"
    );
    assert!(
        headers.get_all("vary").iter().any(|v| v
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("origin"))
    );
    let exposed = headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in [
        "etag",
        "location",
        "x-request-id",
        "retry-after",
        "idempotent-replayed",
    ] {
        assert!(exposed.contains(header), "{exposed}");
    }
    // Another origin gets no CORS headers: its page cannot read the answer.
    let response = http
        .get(format!("{}/healthz", server.base_url))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let response = preflight("https://evil.example", "GET").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[rstest]
#[actix_web::test]
async fn without_origins_there_is_no_cors(#[values(Backend::Sqlite)] backend: Backend) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let response = reqwest::Client::new()
        .get(format!("{}/healthz", server.base_url))
        .header("origin", "https://portal.msp.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[rstest]
#[actix_web::test]
async fn times_have_six_digits_and_read_back_as_answered(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    use crate::support::{owner_token, send};
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let six_digits = |value: &serde_json::Value| {
        let text = value.as_str().unwrap_or_default();
        let (seconds, fraction) = text.split_once('.').unwrap_or_default();
        assert!(
            seconds.len() == 19 && fraction.len() == 7 && fraction.ends_with('Z'),
            "{value}"
        );
        assert!(fraction[..6].bytes().all(|b| b.is_ascii_digit()), "{value}");
    };
    let owner = owner_token(&server).await;
    for _ in 0..5 {
        let (status, created) = send(
            &server,
            &owner,
            "POST",
            "/v1/companies",
            Some(serde_json::json!({"name": "Acme"})),
        )
        .await;
        assert_eq!(status, 201);
        six_digits(&created["created_at"]);
        let path = format!("/v1/companies/{}", created["id"].as_str().unwrap());
        let (_, read) = send(&server, &owner, "GET", &path, None).await;
        assert_eq!(read["created_at"], created["created_at"], "as answered");
        assert_eq!(read["updated_at"], created["updated_at"]);
    }
    let (_, events) = send(&server, &owner, "GET", "/v1/audit-events", None).await;
    for event in events["items"].as_array().unwrap() {
        six_digits(&event["occurred_at"]);
    }
    let (_, admins) = send(&server, &owner, "GET", "/v1/admins", None).await;
    six_digits(&admins["items"][0]["created_at"]);
}

#[rstest]
#[actix_web::test]
async fn metrics_follow_the_accept_header(#[values(Backend::Sqlite)] backend: Backend) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let scrape = |accept: Option<&'static str>| {
        let mut request = reqwest::Client::new().get(format!("{}/metrics", server.base_url));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        async move {
            let response = request.send().await.unwrap();
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            assert_eq!(response.headers()["vary"], "Accept");
            (content_type, response.text().await.unwrap())
        }
    };
    let (content_type, open) = scrape(None).await;
    assert!(content_type.starts_with("application/openmetrics-text"));
    assert!(open.ends_with("# EOF\n"));
    let (content_type, _) = scrape(Some(
        "application/openmetrics-text; version=1.0.0,text/plain;q=0.5",
    ))
    .await;
    assert!(content_type.starts_with("application/openmetrics-text"));
    let (content_type, text) = scrape(Some("text/plain")).await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(
        text.contains("# TYPE custodian_http_requests_total counter"),
        "{text}"
    );
    assert!(!text.contains("# EOF"));
    // promtool, where it is installed, finds nothing to say of either.
    for (format, body) in [("text", &text), ("OpenMetrics", &open)] {
        let Ok(mut promtool) = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("SKIPPED: promtool check metrics, because promtool is not installed");
            return;
        };
        use std::io::Write;
        promtool
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        let output = promtool.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success() && said.trim().is_empty(),
            "{format}: {said}"
        );
    }
}

#[rstest]
#[actix_web::test]
async fn what_is_created_says_where_it_is(#[values(Backend::Sqlite)] backend: Backend) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = crate::support::owner_token(&server).await;
    let http = reqwest::Client::new();
    let company = http
        .post(format!("{}/v1/companies", server.base_url))
        .bearer_auth(&owner)
        .json(&serde_json::json!({"name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(company.status().as_u16(), 201);
    let location = company.headers()["location"].to_str().unwrap().to_owned();
    let body: serde_json::Value = company.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/companies/{}", body["id"].as_str().unwrap())
    );
    let read = http
        .get(format!("{}{location}", server.base_url))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    for (path, body, prefix) in [
        (
            "/v1/admins".to_owned(),
            serde_json::json!({"email": "tina@msp.example", "name": "Tina", "role": "admin"}),
            "/v1/admins/",
        ),
        (
            "/v1/api-clients".to_owned(),
            serde_json::json!({"name": "PSA", "scopes": ["users:read"]}),
            "/v1/api-clients/",
        ),
        (
            format!("/v1/companies/{}/users", body["id"].as_str().unwrap()),
            serde_json::json!({"email": "dana@acme.example", "name": "Dana", "client_kind": "desktop"}),
            "/v1/users/",
        ),
    ] {
        let created = http
            .post(format!("{}{path}", server.base_url))
            .bearer_auth(&owner)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status().as_u16(), 201, "{path}");
        let location = created.headers()["location"].to_str().unwrap();
        assert!(location.starts_with(prefix), "{path}: {location}");
    }
}
