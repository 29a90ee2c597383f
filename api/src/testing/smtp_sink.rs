//! An SMTP server for tests: it holds a real SMTP conversation (EHLO, AUTH
//! PLAIN when it wants credentials, MAIL, RCPT, DATA with dot-unstuffing,
//! RSET, NOOP, QUIT) on 127.0.0.1 and keeps what it received for the test
//! to read, and counts the connections it was given. It can hang up after
//! a number of messages, as servers that limit messages per connection do.
//! It can be turned away, answering
//! `421` at the greeting and `451` to MAIL, as a mail server that is down
//! does; the sender's retries are what the tests watch.
//!
//! Blocking threads, not the test's runtime: the server under test runs its
//! outbox worker on that runtime, and the sink must answer meanwhile.

use std::io::{BufRead, BufReader, Read, Write};
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

/// How the sink offers TLS.
enum Tls {
    /// `STARTTLS`, advertised in its EHLO answer.
    StartTls(native_tls::TlsAcceptor),
    /// TLS from the first byte (`smtps://`).
    Implicit(native_tls::TlsAcceptor),
}

#[derive(Default)]
struct Shared {
    /// The user and password it wants (`AUTH PLAIN`), if any.
    credentials: Option<(String, String)>,
    received: Mutex<Vec<Received>>,
    refusing: AtomicBool,
    /// Holds each message's answer (after taking it) while set.
    holding: AtomicBool,
    stopped: AtomicBool,
    /// Conversations turned away while refusing.
    refused: AtomicUsize,
    /// Conversations opened.
    connections: AtomicUsize,
    /// TLS, when it offers it.
    tls: Option<Tls>,
    /// Messages after which it hangs up, as servers that limit messages
    /// per connection do; 0 for no limit.
    messages_per_connection: AtomicUsize,
}

/// A running sink; it stops when dropped.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl SmtpSink {
    /// Listens on a port of its own.
    pub fn start() -> Self {
        Self::start_with(None, None)
    }

    /// Listens, and takes mail only after `AUTH PLAIN` with these
    /// credentials.
    pub fn start_with_auth(user: &str, password: &str) -> Self {
        Self::start_with(Some((user.to_owned(), password.to_owned())), None)
    }

    /// Listens and offers STARTTLS (`implicit` false) or TLS from the first
    /// byte, with a certificate for 127.0.0.1 and `localhost` made for it;
    /// the certificate (PEM) for a client to trust.
    pub fn start_with_tls(implicit: bool) -> (Self, Vec<u8>) {
        let (certificate, identity) = self_signed();
        let acceptor = native_tls::TlsAcceptor::new(identity).expect("a TLS acceptor");
        let tls = if implicit {
            Tls::Implicit(acceptor)
        } else {
            Tls::StartTls(acceptor)
        };
        (Self::start_with(None, Some(tls)), certificate)
    }

    fn start_with(credentials: Option<(String, String)>, tls: Option<Tls>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the sink binds");
        let addr = listener.local_addr().expect("a bound address");
        let shared = Arc::new(Shared {
            credentials,
            tls,
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

    /// `CUSTODIAN_SMTP_URL` for this sink (plain SMTP on 127.0.0.1, or as
    /// its TLS wants).
    pub fn url(&self) -> String {
        match self.shared.tls {
            None => format!("smtp://{}?tls=none", self.addr),
            Some(Tls::StartTls(_)) => format!("smtp://{}", self.addr),
            Some(Tls::Implicit(_)) => format!("smtps://{}", self.addr),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Turns senders away (`true`) or takes their mail again (`false`).
    pub fn refuse(&self, refusing: bool) {
        self.shared.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Takes each message but holds its answer while `true`, as a slow
    /// server does: the sender waits on its send meanwhile.
    pub fn hold(&self, holding: bool) {
        self.shared.holding.store(holding, Ordering::SeqCst);
    }

    /// Hangs up each conversation after `messages` messages (0: never).
    pub fn hang_up_after(&self, messages: usize) {
        self.shared
            .messages_per_connection
            .store(messages, Ordering::SeqCst);
    }

    /// Conversations opened so far (turned away or not).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
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

/// A conversation's byte stream: TCP, or TLS over it.
trait Wire: Read + Write + Send + std::fmt::Debug {}
impl<T: Read + Write + Send + std::fmt::Debug> Wire for T {}

fn converse(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    if shared.stopped.load(Ordering::SeqCst) {
        return Ok(());
    }
    shared.connections.fetch_add(1, Ordering::SeqCst);
    let mut encrypted = false;
    let mut wire: BufReader<Box<dyn Wire>> = match &shared.tls {
        Some(Tls::Implicit(acceptor)) => {
            encrypted = true;
            BufReader::new(Box::new(
                acceptor
                    .accept(stream)
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
            ))
        }
        _ => BufReader::new(Box::new(stream)),
    };
    if shared.refusing.load(Ordering::SeqCst) {
        shared.refused.fetch_add(1, Ordering::SeqCst);
        wire.get_mut()
            .write_all(b"421 4.3.2 sink: service not available\r\n")?;
        return Ok(());
    }
    wire.get_mut().write_all(b"220 sink ESMTP ready\r\n")?;
    let mut authenticated = shared.credentials.is_none();
    let mut mail_from = None::<String>;
    let mut rcpt_to = Vec::new();
    let mut messages = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if wire.read_line(&mut line)? == 0 {
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
            "EHLO" if !encrypted && matches!(shared.tls, Some(Tls::StartTls(_))) => wire
                .get_mut()
                .write_all(b"250-sink\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n")?,
            "STARTTLS" if !encrypted => {
                let Some(Tls::StartTls(acceptor)) = &shared.tls else {
                    wire.get_mut()
                        .write_all(b"502 5.5.2 command not recognized\r\n")?;
                    continue;
                };
                wire.get_mut()
                    .write_all(b"220 2.0.0 ready to start TLS\r\n")?;
                let plain = std::mem::replace(
                    &mut wire,
                    BufReader::new(Box::new(std::io::Cursor::new(Vec::new()))),
                );
                let tls = acceptor
                    .accept(plain.into_inner())
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                wire = BufReader::new(Box::new(tls));
                encrypted = true;
                // What was said before TLS is forgotten (RFC 3207).
                mail_from = None;
                rcpt_to.clear();
            }
            "EHLO" if shared.credentials.is_some() => wire
                .get_mut()
                .write_all(b"250-sink\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n")?,
            "EHLO" => wire
                .get_mut()
                .write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?,
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
                    wire.get_mut().write_all(b"235 2.7.0 authenticated\r\n")?;
                } else {
                    wire.get_mut()
                        .write_all(b"535 5.7.8 authentication credentials invalid\r\n")?;
                }
            }
            "MAIL" if !authenticated => {
                wire.get_mut()
                    .write_all(b"530 5.7.0 authentication required\r\n")?;
            }
            "HELO" => wire.get_mut().write_all(b"250 sink\r\n")?,
            "MAIL" if shared.refusing.load(Ordering::SeqCst) => {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                wire.get_mut()
                    .write_all(b"451 4.3.0 sink: try again later\r\n")?;
            }
            "MAIL" => {
                mail_from = Some(argument("MAIL FROM:"));
                rcpt_to.clear();
                wire.get_mut().write_all(b"250 2.1.0 ok\r\n")?;
            }
            "RCPT" if mail_from.is_some() => {
                rcpt_to.push(argument("RCPT TO:"));
                wire.get_mut().write_all(b"250 2.1.5 ok\r\n")?;
            }
            "DATA" if mail_from.is_some() && !rcpt_to.is_empty() => {
                wire.get_mut()
                    .write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let mut data = Vec::new();
                loop {
                    let mut raw = Vec::new();
                    if wire.read_until(b'\n', &mut raw)? == 0 {
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
                while shared.holding.load(Ordering::SeqCst)
                    && !shared.stopped.load(Ordering::SeqCst)
                {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                wire.get_mut().write_all(b"250 2.0.0 queued\r\n")?;
                messages += 1;
                if messages == shared.messages_per_connection.load(Ordering::SeqCst) {
                    return Ok(());
                }
            }
            "RCPT" | "DATA" => wire
                .get_mut()
                .write_all(b"503 5.5.1 bad sequence of commands\r\n")?,
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                wire.get_mut().write_all(b"250 2.0.0 ok\r\n")?;
            }
            "NOOP" => wire.get_mut().write_all(b"250 2.0.0 ok\r\n")?,
            "QUIT" => {
                wire.get_mut().write_all(b"221 2.0.0 bye\r\n")?;
                return Ok(());
            }
            _ => wire
                .get_mut()
                .write_all(b"502 5.5.2 command not recognized\r\n")?,
        }
    }
}

/// A self-signed certificate for 127.0.0.1 and `localhost`, valid for a
/// day: its PEM, and the identity the sink serves it with.
fn self_signed() -> (Vec<u8>, native_tls::Identity) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509Builder, X509NameBuilder};

    let key = PKey::from_rsa(Rsa::generate(2048).expect("an RSA key")).expect("a key");
    let mut name = X509NameBuilder::new().expect("a name");
    name.append_entry_by_text("CN", "localhost").expect("a CN");
    let name = name.build();
    let mut builder = X509Builder::new().expect("a certificate");
    builder.set_version(2).expect("v3");
    let serial = BigNum::from_u32(1).and_then(|n| n.to_asn1_integer());
    builder
        .set_serial_number(&serial.expect("a serial"))
        .expect("serial");
    builder.set_subject_name(&name).expect("subject");
    builder.set_issuer_name(&name).expect("issuer");
    builder.set_pubkey(&key).expect("key");
    builder
        .set_not_before(&Asn1Time::days_from_now(0).expect("now"))
        .expect("not before");
    builder
        .set_not_after(&Asn1Time::days_from_now(1).expect("tomorrow"))
        .expect("not after");
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .dns("localhost")
        .build(&builder.x509v3_context(None, None))
        .expect("a SAN");
    builder.append_extension(san).expect("SAN");
    builder.sign(&key, MessageDigest::sha256()).expect("signed");
    let certificate = builder.build().to_pem().expect("PEM");
    let identity = native_tls::Identity::from_pkcs8(
        &certificate,
        &key.private_key_to_pem_pkcs8().expect("PKCS#8"),
    )
    .expect("an identity");
    (certificate, identity)
}
