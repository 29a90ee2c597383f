//! Helpers the test modules share: signing in and calling the API over HTTP.

use custodian_api::testing::TestServer;
use serde_json::Value;

/// The access token of a password sign-in, or `None` when refused.
pub async fn sign_in(server: &TestServer, email: &str, password: &str) -> Option<String> {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v1/auth/token", server.base_url))
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().map(str::to_owned)
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
