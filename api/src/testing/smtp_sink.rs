//! An SMTP server for tests: it holds a real SMTP conversation (EHLO, AUTH
//! PLAIN when it wants credentials, MAIL, RCPT, DATA with dot-unstuffing,
//! RSET, NOOP, QUIT) on 127.0.0.1 and keeps what it received for the test
//! to read. It can be turned away, answering
//! `421` at the greeting and `451` to MAIL, as a mail server that is down
//! does; the sender's retries are what the tests watch.
//!
//! Blocking threads, not the test's runtime: the server under test runs its
//! outbox worker on that runtime, and the sink must answer meanwhile.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent (RFC 5322), dot-unstuffed.
    pub data: Vec<u8>,
}

impl Received {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("the sink received an RFC 5322 message")
    }

    /// The Message-ID header, without its angle brackets.
    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_owned()
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The text part, decoded.
    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    /// The HTML part, decoded.
    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    /// The user and password it wants (`AUTH PLAIN`), if any.
    credentials: Option<(String, String)>,
    received: Mutex<Vec<Received>>,
    refusing: AtomicBool,
    stopped: AtomicBool,
    /// Conversations turned away while refusing.
    refused: AtomicUsize,
}

/// A running sink; it stops when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl SmtpSink {
    /// Listens on a port of its own.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Listens, and takes mail only after `AUTH PLAIN` with these
    /// credentials.
    pub fn start_with_auth(user: &str, password: &str) -> Self {
        Self::start_with(Some((user.to_owned(), password.to_owned())))
    }

    fn start_with(credentials: Option<(String, String)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the sink binds");
        let addr = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Shared {
            credentials,
            ..Shared::default()
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = accepting.clone();
                std::thread::spawn(move || {
                    let _ = converse(stream, &shared);
                });
            }
        });
        Self { addr, shared }
    }

    /// `CUSTODIAN_SMTP_URL` for this sink (plain SMTP on 127.0.0.1).
    pub fn url(&self) -> String {
        format!("smtp://{}?tls=none", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Turns senders away (`true`) or takes their mail again (`false`).
    pub fn refuse(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Conversations or messages turned away so far.
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits (without blocking the runtime's thread) until a message
    /// matching `wanted` arrived; panics after `within`.
    pub async fn wait_for(&self, within: Duration, wanted: impl Fn(&Received) -> bool) -> Received {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = self.received().into_iter().find(|r| wanted(r)) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no such message at the SMTP sink within {within:?}; it has {:?}",
                self.received()
                    .iter()
                    .map(Received::message_id)
                    .collect::<Vec<_>>()
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The message whose Message-ID is `<{message_id}>`, once it arrived.
    pub async fn wait_for_id(&self, message_id: &str) -> Received {
        let wanted = message_id.trim_matches(['<', '>']).to_owned();
        self.wait_for(Duration::from_secs(20), |r| r.message_id() == wanted)
            .await
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn converse(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    if shared.stopped.load(Ordering::SeqCst) {
        return Ok(());
    }
    if shared.refusing.load(Ordering::SeqCst) {
        shared.refused.fetch_add(1, Ordering::SeqCst);
        out.write_all(b"421 4.3.2 sink: service not available\r\n")?;
        return Ok(());
    }
    out.write_all(b"220 sink ESMTP ready\r\n")?;
    let mut authenticated = shared.credentials.is_none();
    let mut mail_from = None::<String>;
    let mut rcpt_to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let argument = |prefix: &str| {
            command[prefix.len().min(command.len())..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_matches(['<', '>'])
                .to_owned()
        };
        match verb.as_str() {
            "EHLO" if shared.credentials.is_some() => {
                out.write_all(b"250-sink\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n")?
            }
            "EHLO" => out.write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?,
            "AUTH" => {
                // `AUTH PLAIN base64(authzid \0 user \0 password)`.
                use base64::Engine;
                let offered = command
                    .split_whitespace()
                    .nth(2)
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .map(|raw| {
                        raw.split(|&b| b == 0)
                            .map(|part| String::from_utf8_lossy(part).into_owned())
                            .collect::<Vec<_>>()
                    });
                let wanted = shared.credentials.as_ref();
                let good = match (offered.as_deref(), wanted) {
                    (Some([_, user, password]), Some((u, p))) => user == u && password == p,
                    _ => false,
                };
                if good {
                    authenticated = true;
                    out.write_all(b"235 2.7.0 authenticated\r\n")?;
                } else {
                    out.write_all(b"535 5.7.8 authentication credentials invalid\r\n")?;
                }
            }
            "MAIL" if !authenticated => {
                out.write_all(b"530 5.7.0 authentication required\r\n")?;
            }
            "HELO" => out.write_all(b"250 sink\r\n")?,
            "MAIL" if shared.refusing.load(Ordering::SeqCst) => {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                out.write_all(b"451 4.3.0 sink: try again later\r\n")?;
            }
            "MAIL" => {
                mail_from = Some(argument("MAIL FROM:"));
                rcpt_to.clear();
                out.write_all(b"250 2.1.0 ok\r\n")?;
            }
            "RCPT" if mail_from.is_some() => {
                rcpt_to.push(argument("RCPT TO:"));
                out.write_all(b"250 2.1.5 ok\r\n")?;
            }
            "DATA" if mail_from.is_some() && !rcpt_to.is_empty() => {
                out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let mut data = Vec::new();
                loop {
                    let mut raw = Vec::new();
                    if lines.read_until(b'\n', &mut raw)? == 0 {
                        return Ok(());
                    }
                    if raw == b".\r\n" || raw == b".\n" {
                        break;
                    }
                    let unstuffed = if raw.starts_with(b"..") {
                        &raw[1..]
                    } else {
                        &raw[..]
                    };
                    data.extend_from_slice(unstuffed);
                }
                shared
                    .received
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Received {
                        mail_from: mail_from.take().unwrap_or_default(),
                        rcpt_to: std::mem::take(&mut rcpt_to),
                        data,
                    });
                out.write_all(b"250 2.0.0 queued\r\n")?;
            }
            "RCPT" | "DATA" => out.write_all(b"503 5.5.1 bad sequence of commands\r\n")?,
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                out.write_all(b"250 2.0.0 ok\r\n")?;
            }
            "NOOP" => out.write_all(b"250 2.0.0 ok\r\n")?,
            "QUIT" => {
                out.write_all(b"221 2.0.0 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"502 5.5.2 command not recognized\r\n")?,
        }
    }
}
