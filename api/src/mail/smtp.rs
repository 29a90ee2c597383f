//! SMTP on a kept connection. Each outbox worker holds one connection and
//! sends message after message on it, instead of a TCP handshake, a
//! greeting, EHLO, TLS and AUTH per message. The socket is `TCP_NODELAY`:
//! the message's closing `<CRLF>.<CRLF>` is a small second write, and with
//! Nagle's algorithm it would wait for the server to acknowledge the first,
//! which the server delays (about 40 ms on Linux) because it has nothing to
//! answer until the message ends.
//!
//! A connection is dropped after any error (the next message opens a new
//! one), and closed after [`MESSAGES_PER_CONNECTION`] messages and once it
//! has been idle for [`IDLE`]. None of this changes what a message is promised: each
//! is still claimed, sent and recorded one at a time, with its own
//! Message-ID.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::SmtpUrl;

/// Messages sent on one connection before it is closed and the next
/// message opens another: a bound on what a server's per-connection limits
/// (many cap messages per session) and a long-lived TLS session can do.
pub const MESSAGES_PER_CONNECTION: u32 = 100;
/// A connection idle this long is closed instead of reused. Servers drop
/// idle clients after a while (RFC 5321 gives them 5 minutes); a message
/// sent on a connection the server already closed would fail and wait for
/// its retry.
pub const IDLE: Duration = Duration::from_secs(30);
/// The longest the TCP connection, the greeting, TLS and AUTH may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a message may take on a kept connection before it is tried
/// on a new one: a connection dropped without a word (a firewall's idle
/// timeout) would otherwise hold it for the whole send timeout.
const KEPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a try failed, and whether trying again can help.
#[derive(Debug)]
pub struct Failure {
    pub permanent: bool,
    pub error: String,
}

impl Failure {
    pub fn permanent(error: impl std::fmt::Display) -> Self {
        Self {
            permanent: true,
            error: error.to_string(),
        }
    }

    fn transient(error: impl std::fmt::Display) -> Self {
        Self {
            permanent: false,
            error: error.to_string(),
        }
    }
}

impl From<lettre::transport::smtp::Error> for Failure {
    fn from(error: lettre::transport::smtp::Error) -> Self {
        Self {
            permanent: error.is_permanent(),
            error: error.to_string(),
        }
    }
}

/// How a connection is secured.
#[derive(Clone)]
enum Security {
    /// `smtp://…?tls=none`: a relay on a trusted network.
    None,
    /// `smtp://`: STARTTLS, required.
    StartTls(TlsParameters),
    /// `smtps://`: TLS from the first byte.
    Implicit(tokio_native_tls::TlsConnector),
}

/// Where and how to connect, from `CUSTODIAN_SMTP_URL`.
#[derive(Clone)]
pub struct Smtp {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
}

/// One worker's open connection.
pub struct Session {
    connection: AsyncSmtpConnection,
    sent: u32,
    last_used: Instant,
}

impl Session {
    /// Whether it may carry the next message.
    fn reusable(&self) -> bool {
        !self.connection.has_broken()
            && self.sent < MESSAGES_PER_CONNECTION
            && self.last_used.elapsed() < IDLE
    }
}

impl Smtp {
    /// SMTP as the URL says (see [`SmtpUrl`]), trusting the system's
    /// certificate authorities and, for tests, `extra_root` (PEM).
    pub fn new(smtp: &SmtpUrl, extra_root: Option<&[u8]>) -> anyhow::Result<Self> {
        let url = smtp.url();
        let host = url.host_str().unwrap_or_default().to_owned();
        let tls_none = url.query_pairs().any(|(k, v)| k == "tls" && v == "none");
        let (security, default_port) = match url.scheme() {
            "smtps" => {
                let mut builder = native_tls::TlsConnector::builder();
                builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
                if let Some(pem) = extra_root {
                    builder.add_root_certificate(native_tls::Certificate::from_pem(pem)?);
                }
                (Security::Implicit(builder.build()?.into()), 465)
            }
            _ if tls_none => (Security::None, 25),
            _ => {
                let mut builder = TlsParameters::builder(host.clone());
                if let Some(pem) = extra_root {
                    builder = builder.add_root_certificate(
                        lettre::transport::smtp::client::Certificate::from_pem(pem)?,
                    );
                }
                (Security::StartTls(builder.build()?), 587)
            }
        };
        let credentials = (!url.username().is_empty()).then(|| {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            Credentials::new(
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            )
        });
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
            hello: ClientId::default(),
        })
    }

    /// Opens a connection: TCP without Nagle, the greeting and EHLO, TLS as
    /// configured, AUTH when there are credentials.
    pub async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let opened = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| Failure::transient(format!("cannot reach the SMTP server: {e}")))?;
            tcp.set_nodelay(true).map_err(Failure::transient)?;
            let mut connection = match &self.security {
                Security::None => {
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?
                }
                Security::StartTls(parameters) => {
                    let mut connection =
                        AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                            .await?;
                    connection.starttls(parameters.clone(), &self.hello).await?;
                    connection
                }
                Security::Implicit(connector) => {
                    let tls = connector
                        .connect(&self.host, tcp)
                        .await
                        .map_err(|e| Failure::transient(format!("TLS: {e}")))?;
                    AsyncSmtpConnection::connect_with_transport(
                        Box::new(TlsStream(tls)),
                        &self.hello,
                    )
                    .await?
                }
            };
            if let Some(credentials) = &self.credentials {
                connection.auth(DEFAULT_MECHANISMS, credentials).await?;
            }
            Ok(connection)
        };
        tokio::time::timeout(CONNECT_TIMEOUT, opened)
            .await
            .map_err(|_| {
                Failure::transient(format!(
                    "the SMTP server did not answer within {CONNECT_TIMEOUT:?}"
                ))
            })?
    }

    /// Sends one message on `kept` (the worker's connection) when it may
    /// be reused, else on a new connection, which is then kept for the next
    /// message. When the kept connection turns out to be gone (the server
    /// hung up or said `421`, or nothing answered within [`KEPT_TIMEOUT`]),
    /// the message is tried once more at once on a new connection: at worst
    /// it arrives twice with one Message-ID, which is the outbox's promise
    /// anyway. Any other answer is about the message, and is its outcome. A
    /// connection that failed is dropped.
    pub async fn send(
        &self,
        kept: &mut Option<Session>,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(), Failure> {
        match kept.take() {
            Some(mut session) if session.reusable() => {
                let sent =
                    tokio::time::timeout(KEPT_TIMEOUT, session.connection.send(envelope, message))
                        .await;
                match sent {
                    Ok(Ok(_)) => {
                        keep(kept, session);
                        return Ok(());
                    }
                    Ok(Err(error)) if !connection_gone(&error) => return Err(error.into()),
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "the kept SMTP connection is gone; sending on a new one");
                    }
                    Err(_) => {
                        tracing::debug!(
                            "the kept SMTP connection did not answer; sending on a new one"
                        );
                    }
                }
            }
            Some(stale) => close(stale).await,
            None => {}
        }
        let mut session = Session {
            connection: self.connect().await?,
            sent: 0,
            last_used: Instant::now(),
        };
        session.connection.send(envelope, message).await?;
        keep(kept, session);
        Ok(())
    }
}

/// Whether a failure says the connection is gone rather than answering the
/// message: no reply at all (the socket closed, a reply cut short), or
/// `421`, a server closing the connection. Other replies, a greylisting
/// `451` say, are the message's outcome and wait for its retry.
fn connection_gone(error: &lettre::transport::smtp::Error) -> bool {
    match error.status() {
        Some(code) => code.to_string() == "421",
        None => !error.is_client(),
    }
}

/// Counts a message sent on `session` and keeps it in `kept`. One that has
/// carried [`MESSAGES_PER_CONNECTION`] is closed when the next message
/// comes (or when it idles), not now: its QUIT must not delay the outcome
/// of the message just sent.
fn keep(kept: &mut Option<Session>, mut session: Session) {
    session.sent += 1;
    session.last_used = Instant::now();
    *kept = Some(session);
}

/// Closes a connection with QUIT, waiting briefly for the answer; the
/// socket closes either way.
pub async fn close(session: Session) {
    let mut connection = session.connection;
    if !connection.has_broken() {
        let _ = tokio::time::timeout(Duration::from_secs(2), connection.quit()).await;
    }
}

/// Drops `kept` when it has been idle for [`IDLE`].
pub async fn close_if_idle(kept: &mut Option<Session>) {
    if kept.as_ref().is_some_and(|s| s.last_used.elapsed() >= IDLE)
        && let Some(session) = kept.take()
    {
        close(session).await;
    }
}

/// A TLS stream lettre can run SMTP over.
#[derive(Debug)]
struct TlsStream(tokio_native_tls::TlsStream<TcpStream>);

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().get_ref().get_ref().peer_addr()
    }
}
