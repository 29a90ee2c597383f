//! The Rust client of the Custodian admin API, for MSP scripts and RMM/PSA
//! integrations.
//!
//! [`generated`] is generated at build time from the committed contract
//! (`openapi.yaml`) by progenitor, so it always matches the server it was
//! built with. This file is the thin layer on top: building a client with a
//! token, and turning errors into one readable line; [`Session`] signs in
//! with either grant and keeps the token fresh.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = custodian_sdk::ClientBuilder::new("http://127.0.0.1:8080").build()?;
//! let health = client.health_get().send().await?.into_inner();
//! assert_eq!(health.status, "ok");
//! # Ok(()) }
//! ```

use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};

mod session;
#[cfg(test)]
mod spec30;

pub use session::{Credentials, REFRESH_MARGIN, Session, SessionError};

/// The client and types generated from `openapi.yaml`.
#[allow(clippy::all, missing_docs, unused_imports)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/client.rs"));
}

pub use generated::{Client, Error, ResponseValue, types};

/// Builds a [`Client`] for a server, optionally with a bearer token.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    token: Option<Token>,
    timeout: Duration,
}

/// A bearer token; never printed.
#[derive(Clone)]
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid server URL {0:?}: {1}")]
    Url(String, String),
    #[error("the token contains characters that cannot go in a header")]
    Token,
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

impl ClientBuilder {
    /// A client of the server at `base_url` (e.g. `https://custodian.example.com`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token: None,
            timeout: Duration::from_secs(30),
        }
    }

    /// Sends `Authorization: Bearer TOKEN` with every request.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Token(token.into()));
        self
    }

    /// The whole-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn build(self) -> Result<Client, BuildError> {
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| BuildError::Url(base_url.clone(), e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BuildError::Url(
                base_url,
                "must be http:// or https://".into(),
            ));
        }
        let mut headers = HeaderMap::new();
        if let Some(Token(token)) = &self.token {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| BuildError::Token)?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("custodian-sdk/", env!("CARGO_PKG_VERSION")))
            .timeout(self.timeout)
            .build()?;
        Ok(Client::new_with_client(&base_url, http))
    }
}

/// One line that says what went wrong: for a problem answer, its status,
/// code, detail and request id; otherwise the transport's error.
pub fn describe<E: std::fmt::Debug + ProblemLike>(error: &Error<E>) -> String {
    match error {
        Error::ErrorResponse(response) => response.describe(response.status()),
        Error::UnexpectedResponse(response) => {
            format!("unexpected answer: HTTP {}", response.status())
        }
        other => other.to_string(),
    }
}

/// The problem an API call was answered with (its `status`, `code`,
/// `detail` and `errors[]`, typed), or `None` when the call failed another
/// way (the network, an answer outside the contract):
///
/// ```no_run
/// # async fn demo(client: custodian_sdk::Client, user: uuid::Uuid, body: custodian_sdk::types::ResetRequest) {
/// match client.reset_create().user_id(user).body(body).send().await {
///     Ok(reset) => println!("reset {}", reset.id),
///     Err(error) => match custodian_sdk::problem(&error) {
///         Some(problem) if problem.code == "reset_pending" => println!("already pending"),
///         Some(problem) => println!("refused: {} {}", problem.status, problem.code),
///         None => println!("{error}"),
///     },
/// }
/// # }
/// ```
pub fn problem(error: &Error<types::Problem>) -> Option<&types::Problem> {
    match error {
        Error::ErrorResponse(response) => Some(response.as_ref()),
        _ => None,
    }
}

/// What [`describe`] needs of an error body.
pub trait ProblemLike {
    fn describe(&self, status: reqwest::StatusCode) -> String;
}

impl ProblemLike for types::Problem {
    fn describe(&self, status: reqwest::StatusCode) -> String {
        let mut line = format!("HTTP {} {}: {}", status.as_u16(), self.code, self.detail);
        if let Some(id) = &self.request_id {
            line.push_str(&format!(" (request id {id})"));
        }
        line
    }
}

/// The token endpoint's RFC 6749 error body.
impl ProblemLike for types::OAuthError {
    fn describe(&self, status: reqwest::StatusCode) -> String {
        format!(
            "HTTP {} {}: {}",
            status.as_u16(),
            self.error,
            self.error_description
        )
    }
}

impl ProblemLike for () {
    fn describe(&self, status: reqwest::StatusCode) -> String {
        format!("HTTP {}", status.as_u16())
    }
}
