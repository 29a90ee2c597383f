//! Signing in and staying signed in: a [`Session`] holds credentials (an
//! admin's email and password, or an API client's id and secret, or the
//! platform operator's email and password or one of its API clients' id and
//! secret), fetches an access token from `POST /v1/auth/token` (the
//! operator's from `POST /v1/operator/token`),
//! and fetches a new one before the current one expires. Custodian issues no refresh tokens (RFC 6749 allows
//! either grant to omit them); re-running the grant is the refresh.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use custodian_sdk::{ClientBuilder, Credentials, Session};
//! let session = Session::new(
//!     ClientBuilder::new("https://custodian.example.com"),
//!     Credentials::client_credentials("0193…", std::env::var("CUSTODIAN_CLIENT_SECRET")?),
//! );
//! let client = session.client().await?;
//! let partner = client.partner_get().send().await?.into_inner();
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::{BuildError, Client, ClientBuilder, Error, describe, types};

/// A token is replaced when less than this is left of it, so a request
/// started with it does not meet its expiry on the way.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// How a session signs in. Secrets are never printed by `Debug`.
#[derive(Clone)]
pub enum Credentials {
    /// An admin of a partner: `grant_type=password` (an email is unique
    /// within a partner, so sign-in names both).
    Password {
        partner_id: uuid::Uuid,
        username: String,
        password: SecretString,
    },
    /// An API client: `grant_type=client_credentials`.
    ClientCredentials {
        client_id: String,
        client_secret: SecretString,
    },
    /// The platform operator's staff: `grant_type=password` at
    /// `POST /v1/operator/token` (an operator is in no partner).
    Operator {
        username: String,
        password: SecretString,
    },
    /// One of the platform operator's API clients (the vendor's
    /// automation): `grant_type=client_credentials` at
    /// `POST /v1/operator/token`.
    OperatorClient {
        client_id: String,
        client_secret: SecretString,
    },
}

impl Credentials {
    pub fn password(
        partner_id: uuid::Uuid,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self::Password {
            partner_id,
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    pub fn client_credentials(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::ClientCredentials {
            client_id: client_id.into(),
            client_secret: SecretString::from(secret.into()),
        }
    }

    /// The platform operator's staff member with this email and password.
    pub fn operator(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Operator {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// One of the platform operator's API clients.
    pub fn operator_client(client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::OperatorClient {
            client_id: client_id.into(),
            client_secret: SecretString::from(secret.into()),
        }
    }

    fn request(&self, scope: Option<&str>) -> Result<types::TokenRequest, SessionError> {
        let mut request = types::TokenRequest {
            grant_type: types::GrantType::Password,
            partner_id: None,
            username: None,
            password: None,
            client_id: None,
            client_secret: None,
            scope: scope.map(str::to_owned),
        };
        match self {
            Self::Password {
                partner_id,
                username,
                password,
            } => {
                request.grant_type = types::GrantType::Password;
                request.partner_id = Some(*partner_id);
                request.username = Some(username.clone());
                request.password = Some(password.expose_secret().to_owned());
            }
            Self::ClientCredentials {
                client_id,
                client_secret,
            }
            | Self::OperatorClient {
                client_id,
                client_secret,
            } => {
                let id = client_id
                    .trim()
                    .parse()
                    .map_err(|_| SessionError::Credentials("the client id is not a UUID".into()))?;
                request.grant_type = types::GrantType::ClientCredentials;
                request.client_id = Some(id);
                request.client_secret = Some(client_secret.expose_secret().to_owned());
            }
            Self::Operator { username, password } => {
                request.grant_type = types::GrantType::Password;
                request.username = Some(username.clone());
                request.password = Some(password.expose_secret().to_owned());
            }
        }
        Ok(request)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password {
                partner_id,
                username,
                ..
            } => f
                .debug_struct("Password")
                .field("partner_id", partner_id)
                .field("username", username)
                .finish_non_exhaustive(),
            Self::ClientCredentials { client_id, .. } => f
                .debug_struct("ClientCredentials")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            Self::Operator { username, .. } => f
                .debug_struct("Operator")
                .field("username", username)
                .finish_non_exhaustive(),
            Self::OperatorClient { client_id, .. } => f
                .debug_struct("OperatorClient")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

/// Signing in failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The credentials cannot be sent as they are (a client id that is not
    /// a UUID).
    #[error("sign-in failed: {0}")]
    Credentials(String),
    /// The token endpoint refused, with its RFC 6749 error: `error` is the
    /// code a script matches on (`invalid_grant`, `rate_limited`, …).
    #[error("sign-in refused: HTTP {status} {error}: {description}")]
    Refused {
        status: u16,
        error: String,
        description: String,
    },
    /// The token endpoint could not be reached, or answered what it should
    /// not: one line.
    #[error("sign-in failed: {0}")]
    Transport(String),
}

impl SessionError {
    fn of(error: Error<types::OAuthError>) -> Self {
        match error {
            Error::ErrorResponse(response) => Self::Refused {
                status: response.status().as_u16(),
                error: response.error.clone(),
                description: response.error_description.clone(),
            },
            other => Self::Transport(describe(&other)),
        }
    }
}

/// An issued token and when to replace it.
struct Current {
    client: Client,
    token: types::TokenResponse,
    replace_at: Instant,
}

/// Credentials and the token they last fetched.
pub struct Session {
    builder: ClientBuilder,
    credentials: Credentials,
    scope: Option<String>,
    current: Mutex<Option<Current>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("builder", &self.builder)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for the server `builder` names; nothing is fetched yet.
    pub fn new(builder: ClientBuilder, credentials: Credentials) -> Self {
        Self {
            builder,
            credentials,
            scope: None,
            current: Mutex::new(None),
        }
    }

    /// Asks for tokens of these scopes only (space-separated): an API client
    /// a subset of its scopes, an admin `admin` or `password:change`. The
    /// server refuses a scope the caller does not hold (`invalid_scope`).
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// A client that sends a valid token: the current one, or a new one when
    /// there is none yet or less than [`REFRESH_MARGIN`] is left of it.
    /// Concurrent callers share one sign-in.
    pub async fn client(&self) -> Result<Client, SessionError> {
        Ok(self.current().await?.0)
    }

    /// The token response behind [`Self::client`] (its `scope` says, e.g.,
    /// whether an admin must first change a one-time password).
    pub async fn token(&self) -> Result<types::TokenResponse, SessionError> {
        Ok(self.current().await?.1)
    }

    /// Forgets the current token, so the next call signs in again (after a
    /// 401: the token was revoked, e.g. by a role change).
    pub async fn invalidate(&self) {
        *self.current.lock().await = None;
    }

    async fn current(&self) -> Result<(Client, types::TokenResponse), SessionError> {
        let mut current = self.current.lock().await;
        if let Some(fresh) = current.as_ref().filter(|c| Instant::now() < c.replace_at) {
            return Ok((fresh.client.clone(), fresh.token.clone()));
        }
        let started = Instant::now();
        let anonymous = self.builder.clone().build()?;
        let request = self.credentials.request(self.scope.as_deref())?;
        let token = match self.credentials {
            Credentials::Operator { .. } | Credentials::OperatorClient { .. } => {
                anonymous.operator_token_create().body(request).send().await
            }
            _ => anonymous.token_create().body(request).send().await,
        }
        .map_err(SessionError::of)?
        .into_inner();
        let lifetime = Duration::from_secs(token.expires_in.max(0).unsigned_abs());
        let client = self
            .builder
            .clone()
            .bearer_token(token.access_token.clone())
            .build()?;
        *current = Some(Current {
            client: client.clone(),
            token: token.clone(),
            replace_at: started + lifetime.saturating_sub(REFRESH_MARGIN),
        });
        Ok((client, token))
    }
}
