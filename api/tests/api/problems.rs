//! The shape of every kind of client error, snapshotted: status, the headers
//! that matter, and the problem+json body. Requests carry a fixed
//! `X-Request-Id` so the snapshots are stable.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::{HttpResponse, test, web};
use custodian_api::db::{Backend, Db};
use custodian_api::http::extract::{BodyLimit, Json, Query};
use custodian_api::http::{Published, app, openapi};
use custodian_api::testing::{app_state, unreachable_database};
use serde::Deserialize;
use serde_json::{Value, json};

/// A body with nested fields, to name fields by path.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Echo {
    name: String,
    tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Tag {
    weight: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Page {
    limit: Option<u32>,
}

async fn echo(Json(body): Json<Echo>, Query(_): Query<Page>) -> HttpResponse {
    HttpResponse::Ok().body(body.name)
}

/// The real app over `db`, with one extra JSON route to exercise extractors.
async fn service(
    db: Db,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    let state = app_state(db);
    let published = web::Data::new(Published::new(&openapi()));
    test::init_service(
        app(state, published, BodyLimit(1024))
            .service(web::resource("/test/echo").route(web::post().to(echo))),
    )
    .await
}

fn unreachable_db() -> Db {
    unreachable_database(Backend::Postgres)
}

async fn answer(req: test::TestRequest) -> Value {
    let app = service(unreachable_db()).await;
    let response = test::call_service(
        &app,
        req.insert_header(("x-request-id", "test-request"))
            .to_request(),
    )
    .await;
    let status = response.status().as_u16();
    let headers: serde_json::Map<String, Value> =
        [header::CONTENT_TYPE, header::ALLOW, header::RETRY_AFTER]
            .iter()
            .filter_map(|name| {
                let value = response.headers().get(name)?.to_str().ok()?;
                Some((name.to_string(), Value::from(value)))
            })
            .collect();
    let body = test::read_body(response).await;
    let body: Value = serde_json::from_slice(&body).expect("a JSON body");
    sorted(json!({ "status": status, "headers": headers, "body": body }))
}

/// Keys in order, whatever serde_json's `preserve_order` (which a dependency
/// may turn on) does to maps.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn post_echo(body: &'static str) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/test/echo")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(body)
}

#[actix_web::test]
async fn malformed_json_is_400() {
    insta::assert_json_snapshot!(
        "400_malformed_body",
        answer(post_echo(r#"{"name": "a", "#)).await
    );
}

#[actix_web::test]
async fn unknown_route_is_404() {
    insta::assert_json_snapshot!(
        "404_unknown_route",
        answer(test::TestRequest::get().uri("/v1/nowhere")).await
    );
}

#[actix_web::test]
async fn wrong_method_is_405_with_allow() {
    let req = test::TestRequest::default()
        .method(Method::DELETE)
        .uri("/healthz");
    insta::assert_json_snapshot!("405_method_not_allowed", answer(req).await);
}

#[actix_web::test]
async fn body_over_the_limit_is_413() {
    let big: &'static str =
        Box::leak(format!(r#"{{"name": "{}", "tags": []}}"#, "x".repeat(2000)).into_boxed_str());
    insta::assert_json_snapshot!("413_payload_too_large", answer(post_echo(big)).await);
}

#[actix_web::test]
async fn chunked_body_over_the_limit_is_413() {
    // No Content-Length: the limit holds while reading.
    let big = format!(r#"{{"name": "{}", "tags": []}}"#, "x".repeat(2000));
    let req = test::TestRequest::post()
        .uri("/test/echo")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(big);
    let mut req = req.to_request();
    req.headers_mut().remove(header::CONTENT_LENGTH);
    let app = service(unreachable_db()).await;
    let response = test::call_service(&app, req).await;
    assert_eq!(response.status(), 413);
}

#[actix_web::test]
async fn wrong_content_type_is_415() {
    let req = test::TestRequest::post()
        .uri("/test/echo")
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .set_payload(r#"{"name": "a", "tags": []}"#);
    insta::assert_json_snapshot!("415_unsupported_media_type", answer(req).await);
}

#[actix_web::test]
async fn unknown_field_is_422_naming_it() {
    insta::assert_json_snapshot!(
        "422_unknown_field",
        answer(post_echo(
            r#"{"name": "a", "tags": [{"weight": 1, "colour": "red"}]}"#
        ))
        .await
    );
}

#[actix_web::test]
async fn invalid_value_is_422_naming_it() {
    insta::assert_json_snapshot!(
        "422_invalid_value",
        answer(post_echo(
            r#"{"name": "a", "tags": [{"weight": 1}, {"weight": 300}]}"#
        ))
        .await
    );
}

#[actix_web::test]
async fn invalid_query_parameter_is_422_naming_it() {
    let req = post_echo(r#"{"name": "a", "tags": []}"#).uri("/test/echo?limit=many");
    insta::assert_json_snapshot!("422_invalid_query_parameter", answer(req).await);
}

#[actix_web::test]
async fn database_outage_is_503() {
    insta::assert_json_snapshot!(
        "503_database_unavailable",
        answer(test::TestRequest::get().uri("/readyz")).await
    );
}

#[actix_web::test]
async fn a_good_request_passes() {
    let app = service(unreachable_db()).await;
    let req = post_echo(r#"{"name": "ok", "tags": [{"weight": 3}]}"#).uri("/test/echo?limit=5");
    let response = test::call_service(&app, req.to_request()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(test::read_body(response).await, "ok");
}
