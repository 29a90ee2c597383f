//! The end-to-end harness: a real Custodian server on port 0 over a fresh
//! database, and an SDK client pointed at it. The tests in `tests/e2e` talk to
//! the server only through the SDK, as an integration would.

pub use custodian_api::testing::{Backend, TestServer};
use custodian_sdk::{Client, ClientBuilder};

/// A running server and a client of it.
pub struct TestApp {
    pub server: TestServer,
    pub client: Client,
}

impl TestApp {
    /// A server over a fresh database of `backend`; `None` when that backend
    /// is skipped outside CI (PostgreSQL without `CUSTODIAN_TEST_POSTGRES_URL`).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        let server = TestServer::spawn(backend).await?;
        let client = ClientBuilder::new(&server.base_url)
            .build()
            .expect("a client of the test server");
        Some(Self { server, client })
    }

    /// The bootstrapped partner's id: its admins sign in with it.
    pub fn partner(&self) -> uuid::Uuid {
        self.server
            .owner
            .partner_id
            .parse()
            .expect("the partner's id is a UUID")
    }
}
