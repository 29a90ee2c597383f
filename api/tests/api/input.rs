//! Input that must be refused with a clear 422 and change nothing: names
//! that carry control or bidirectional-override characters, emails that
//! only look like another, arrays where objects belong, and values of the
//! wrong JSON type for an enum.

use custodian_api::testing::{Backend, TestServer};
use rstest::rstest;
use serde_json::{Value, json};

use crate::support::{owner_token, seed, send};

/// The field a 422 names.
fn field_of(problem: &Value) -> &str {
    problem["errors"][0]["field"].as_str().unwrap_or_default()
}

/// Names no one may give anything: one line of visible characters only.
const BAD_NAMES: &[&str] = &[
    "Dana\r\n\r\nIMPORTANT: call +1-555-0100",
    "Dana\u{202E}lanimreT",
    "Da\u{200B}na",
    "Dana\u{2066}x\u{2069}",
    "Dana\u{2028}Smith",
    "Dana\u{0000}",
];

#[rstest]
#[actix_web::test]
async fn names_are_one_visible_line_everywhere(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    for name in BAD_NAMES {
        let cases = [
            ("POST", "/v1/companies".to_owned(), json!({"name": name})),
            (
                "PATCH",
                format!("/v1/companies/{company}"),
                json!({"name": name}),
            ),
            ("PATCH", "/v1/partner".to_owned(), json!({"name": name})),
            (
                "POST",
                "/v1/admins".to_owned(),
                json!({"email": "new.admin@msp.example", "name": name, "role": "admin"}),
            ),
            (
                "POST",
                "/v1/api-clients".to_owned(),
                json!({"name": name, "scopes": ["users:read"]}),
            ),
            (
                "POST",
                format!("/v1/companies/{company}/users"),
                json!({"email": "dana@acme-dental.example", "name": name, "client_kind": "desktop"}),
            ),
        ];
        for (method, path, body) in cases {
            let (status, problem) = send(&server, &owner, method, &path, Some(body)).await;
            assert_eq!(
                (status, field_of(&problem)),
                (422, "name"),
                "{method} {path} {name:?}: {problem}"
            );
        }
    }
    // Nothing was created or renamed.
    let (_, companies) = send(&server, &owner, "GET", "/v1/companies", None).await;
    assert_eq!(companies["items"].as_array().unwrap().len(), 1);
    assert_eq!(companies["items"][0]["name"], "Acme Dental");
    let (_, users) = send(
        &server,
        &owner,
        "GET",
        &format!("/v1/companies/{company}/users"),
        None,
    )
    .await;
    assert_eq!(users["items"].as_array().unwrap().len(), 0);

    // A reset's reason and ticket follow the same rule.
    let user = seed::user(&server, &partner, &company).await;
    for (field, value) in [("reason", "lost\u{202E}it"), ("ticket", "T-1\r\nBcc: x")] {
        let mut body = json!({"confirmation": "Yes"});
        body[field] = json!(value);
        let (status, problem) = send(
            &server,
            &owner,
            "POST",
            &format!("/v1/users/{user}/master-password-resets"),
            Some(body),
        )
        .await;
        assert_eq!((status, field_of(&problem)), (422, field), "{problem}");
    }
    // Names a person may well have are kept as given.
    for name in [
        "Zoë Ångström",
        "山田 太郎",
        "مهدی\u{200C}زاده",
        "Dev \u{1F469}\u{200D}\u{1F4BB}",
    ] {
        let (status, created) = send(
            &server,
            &owner,
            "POST",
            "/v1/companies",
            Some(json!({"name": name})),
        )
        .await;
        assert_eq!((status, created["name"].as_str()), (201, Some(name)));
    }
}

#[rstest]
#[actix_web::test]
async fn look_alike_emails_are_one_user_or_refused(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let partner = server.owner.partner_id.clone();
    let company = seed::company(&server, &partner, "Acme Dental").await;
    let add = |email: &str| {
        let body = json!({"email": email, "name": "Dana", "client_kind": "desktop"});
        let path = format!("/v1/companies/{company}/users");
        let owner = owner.clone();
        let server = &server;
        async move { send(server, &owner, "POST", &path, Some(body)).await }
    };
    let (status, dana) = add(" Dana@Acme-Dental.example ").await;
    assert_eq!(status, 201, "{dana}");
    assert_eq!(dana["email"], "dana@acme-dental.example");
    // The same address in another case is the same user.
    let (status, problem) = add("DANA@acme-dental.EXAMPLE").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("email_taken"))
    );
    // Invisible, look-alike or non-ASCII characters are refused: an address
    // is ASCII (an internationalized domain in its xn-- form).
    for email in [
        "dana@acme-dental.example\u{200B}",
        "d\u{0430}na@acme-dental.example",
        "da\u{202E}na@acme-dental.example",
        "ｄａｎａ@acme-dental.example",
        "dana@acme\u{2011}dental.example",
        "Dana <dana@evil.example>",
    ] {
        let (status, problem) = add(email).await;
        assert_eq!(
            (status, field_of(&problem)),
            (422, "email"),
            "{email:?}: {problem}"
        );
    }
    let (status, other) = add("dana@xn--acme-dntal-c7a.example").await;
    assert_eq!(status, 201, "{other}");
    // Admins follow the same rule.
    let (status, problem) = send(
        &server,
        &owner,
        "POST",
        "/v1/admins",
        Some(json!({"email": "owner\u{200B}@custodian.local", "name": "X", "role": "admin"})),
    )
    .await;
    assert_eq!((status, field_of(&problem)), (422, "email"), "{problem}");
}

#[rstest]
#[actix_web::test]
async fn bodies_are_objects_and_enums_are_their_strings(
    #[values(Backend::Sqlite)] backend: Backend,
) {
    let Some(server) = TestServer::spawn(backend).await else {
        return;
    };
    let owner = owner_token(&server).await;
    let raw = |method: &'static str, path: &'static str, body: &'static str| {
        reqwest::Client::new()
            .request(
                method.parse().unwrap(),
                format!("{}{path}", server.base_url),
            )
            .bearer_auth(&owner)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    // An array is not an object, at the root or inside.
    let (status, problem) = answer(
        raw("POST", "/v1/companies", r#"["Array Co"]"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, field_of(&problem)), (422, "body"), "{problem}");
    let (status, problem) = answer(
        raw(
            "POST",
            "/v1/authorization/check",
            r#"{"checks":[["readPartner",null,null,null]]}"#,
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, field_of(&problem)),
        (422, "checks[0]"),
        "{problem}"
    );
    let (_, companies) = send(&server, &owner, "GET", "/v1/companies", None).await;
    assert_eq!(
        companies["items"].as_array().unwrap().len(),
        0,
        "nothing created"
    );
    // A wrong JSON type for an enum is a 422 naming it, never "not JSON".
    for role in ["0", "null", "{}", "true", "[]"] {
        let body = format!(r#"{{"email":"a@msp.example","name":"A","role":{role}}}"#);
        let response = reqwest::Client::new()
            .post(format!("{}/v1/admins", server.base_url))
            .bearer_auth(&owner)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, problem) = answer(response).await;
        assert_eq!(
            (status, field_of(&problem)),
            (422, "role"),
            "{role}: {problem}"
        );
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("owner, admin, technician"), "{message}");
    }
    // Still 400 for what is not JSON at all.
    let (status, problem) =
        answer(raw("POST", "/v1/companies", r#"{"name": "#).await.unwrap()).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("malformed_body"))
    );
}
