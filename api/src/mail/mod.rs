//! Delivering the outbox: workers claim due messages, open their sealed
//! payloads, render them in the recipient's locale and hand them to SMTP
//! (lettre, on a connection each worker keeps: [`smtp`]; STARTTLS or
//! implicit TLS, and auth, as `CUSTODIAN_SMTP_URL` says) or, with no SMTP
//! configured, write them as `.eml` files under the data directory.
//!
//! Delivery is at least once: a worker that dies after the SMTP server
//! accepted a message but before it recorded so leaves the message to be
//! sent again once its lease runs out, with the same Message-ID, which is
//! how a receiving server or a person recognises the second copy. Nothing
//! is lost: a message is written in the transaction of the change that
//! causes it, and it stays claimable until a worker records an outcome.
//!
//! A failed try is retried with exponential backoff and jitter until
//! `CUSTODIAN_MAIL_DEAD_LETTER_HOURS` after the message was written, then
//! dead-lettered; a permanent refusal (5xx) dead-letters it at once. Sent
//! and dead messages lose their payload, the secret with it.

pub mod smtp;
pub mod templates;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::Address;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use tokio::sync::{Mutex, Notify, watch};

use crate::auth::keys::ServerKeys;
use crate::clock::Clock;
use crate::config::{Config, SmtpUrl};
use crate::db::outbox::{self, Claimed, Outcome};
use crate::db::{Db, DbError};
use crate::metrics::Metrics;
use smtp::{Failure, Session, Smtp};

/// How long a claim holds: a worker that has not recorded an outcome by
/// then is taken for dead and the message is claimed again. A worker
/// begins a send only in the first [`SENDING_WINDOW`] of its claim (the
/// rest of the claim it gives back), each send takes at most
/// [`SEND_TIMEOUT`], and what remains is the margin for recording the
/// outcomes: a live worker never loses its claim mid-send, nor before it
/// recorded what it sent.
pub const LEASE: Duration = Duration::from_secs(180);
/// How long after its claim a worker may still begin a send.
pub const SENDING_WINDOW: Duration = Duration::from_secs(60);
/// The longest one send may take, opening a connection included.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// How often an idle worker looks for due messages (retries, and messages
/// other instances wrote); a change that queues a message wakes a worker of
/// its own instance at once.
pub const POLL: Duration = Duration::from_secs(1);
/// Messages claimed at a time, and sent one after another on the worker's
/// connection: a claim and the outcomes of the claim before it are one
/// write transaction, so a message costs a sixteenth of one. Before each
/// send but the first, the worker reads whether it still holds the message
/// (a read, not a transaction), so a message withdrawn after the claim is
/// not sent.
pub const BATCH: i64 = 16;
/// The first retry's delay; each further one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// The longest error text kept on a message.
const ERROR_CHARS: usize = 500;

/// Wakes this instance's workers when a message was queued.
#[derive(Debug, Clone, Default)]
pub struct Signal(Arc<Notify>);

impl Signal {
    /// Call after the transaction that queued a message committed.
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Until [`Signal::wake`] is called (a call before this one counts).
    pub async fn woken(&self) {
        self.0.notified().await;
    }
}

/// Where messages go.
#[derive(Clone)]
pub enum Transport {
    /// SMTP, each worker on a connection of its own ([`smtp`]).
    Smtp(Box<Smtp>),
    /// `.eml` files, one per message, named by its outbox id: a retry
    /// writes the same file again.
    Files(PathBuf),
}

impl Transport {
    /// The transport the configuration names.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        match &config.smtp {
            Some(smtp) => Self::smtp(smtp),
            None => Ok(Self::Files(config.data_dir.join("mail"))),
        }
    }

    /// SMTP as the URL says (see [`SmtpUrl`]).
    pub fn smtp(smtp: &SmtpUrl) -> anyhow::Result<Self> {
        Ok(Self::Smtp(Box::new(Smtp::new(smtp, None)?)))
    }

    /// Where the server says it sends mail, for its start-up line: never a
    /// password.
    pub fn describe(&self) -> String {
        match self {
            Self::Smtp(_) => "smtp".into(),
            Self::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }
}

/// What every worker of an instance shares.
pub struct Mailer {
    pub db: Db,
    pub keys: Arc<ServerKeys>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub transport: Transport,
    pub from: Mailbox,
    /// Where the links of emails point.
    pub links: templates::Links,
    /// How long after it was written a message is dead-lettered.
    pub dead_letter_after: chrono::Duration,
}

/// One worker: claims under its own name, and keeps its SMTP connection
/// from one message to the next.
pub struct Worker {
    name: String,
    mailer: Arc<Mailer>,
    connection: Mutex<Option<Session>>,
    /// Messages claimed at a time ([`BATCH`] unless told otherwise).
    claim: i64,
}

impl Worker {
    pub fn new(mailer: Arc<Mailer>) -> Self {
        Self {
            name: uuid::Uuid::now_v7().to_string(),
            mailer,
            connection: Mutex::new(None),
            claim: BATCH,
        }
    }

    /// The same worker, claiming `messages` at a time (at least one): the
    /// benchmark compares claims of one message with claims of [`BATCH`].
    pub fn claiming(mut self, messages: i64) -> Self {
        self.claim = messages.max(1);
        self
    }

    /// Closes the kept SMTP connection once it has been idle for
    /// [`smtp::IDLE`], or at once when `now`.
    pub async fn close_connection(&self, now: bool) {
        let mut connection = self.connection.lock().await;
        if now {
            if let Some(session) = connection.take() {
                smtp::close(session).await;
            }
        } else {
            smtp::close_if_idle(&mut connection).await;
        }
    }

    /// Delivers what is due, [`BATCH`] messages per claim, one after another,
    /// until nothing is; how many it tried. The outcomes of a claim's tries
    /// are recorded in the transaction that makes the next claim (the last
    /// in one that finds nothing more), so messages cost a fraction of a
    /// write transaction each. Each message but a claim's first is sent
    /// only if the worker still holds it (it was not withdrawn meanwhile:
    /// a read, which when it fails gives the rest of the claim back), and
    /// only within the claim's [`SENDING_WINDOW`]; the messages it does not
    /// try go back to waiting. When this returns `Ok`, every outcome is
    /// recorded; when a transaction fails, the outcomes it carried are lost,
    /// and their messages are sent again once the lease runs out, as when a
    /// worker dies.
    pub async fn run_once(&self) -> Result<usize, DbError> {
        let m = &self.mailer;
        let mut tried = 0;
        let mut outcomes: Vec<(String, Outcome)> = Vec::new();
        let mut untried: Vec<String> = Vec::new();
        loop {
            let now = m.clock.now();
            let lease_until = now + chrono::Duration::from_std(LEASE).expect("a small duration");
            let (name, claim) = (self.name.clone(), self.claim);
            let (records, giving_back) =
                (std::mem::take(&mut outcomes), std::mem::take(&mut untried));
            let (unrecorded, claimed) =
                m.db.write(move |conn| {
                    let mut unrecorded = Vec::new();
                    for (id, outcome) in records {
                        if !outbox::record(conn, &id, &name, &outcome, now)? {
                            unrecorded.push(id);
                        }
                    }
                    for id in &giving_back {
                        outbox::release(conn, id, &name, now)?;
                    }
                    let claimed = outbox::claim(conn, &name, now, lease_until, claim)?;
                    Ok::<_, DbError>((unrecorded, claimed))
                })
                .await?;
            for id in unrecorded {
                tracing::warn!(outbox_id = %id, "the outcome was not recorded: the message was withdrawn or claimed by another worker meanwhile");
            }
            if claimed.is_empty() {
                return Ok(tried);
            }
            let send_by =
                now + chrono::Duration::from_std(SENDING_WINDOW).expect("a small duration");
            let mut giving_up = false;
            for (i, claim) in claimed.into_iter().enumerate() {
                let message = claim.message;
                if giving_up {
                    untried.push(message.id);
                    continue;
                }
                if i > 0 {
                    match self.still_held(&message.id).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::info!(outbox_id = %message.id, "a claimed message was withdrawn before its send");
                            continue;
                        }
                        Err(error) => {
                            // Record what was sent, and give the rest back.
                            tracing::warn!(%error, "could not read whether a claimed message was withdrawn; giving the rest of the claim back");
                            giving_up = true;
                            untried.push(message.id);
                            continue;
                        }
                    }
                }
                if m.clock.now() > send_by {
                    giving_up = true;
                    untried.push(message.id);
                    continue;
                }
                tried += 1;
                let outcome = self.attempt(&message, claim.reclaimed).await;
                outcomes.push((message.id, outcome));
            }
        }
    }

    /// Whether this worker still holds its claim on the message.
    async fn still_held(&self, id: &str) -> Result<bool, DbError> {
        let (id, name) = (id.to_owned(), self.name.clone());
        self.mailer
            .db
            .run(move |conn| outbox::still_claimed(conn, &id, &name))
            .await
    }

    /// One try of a claimed message: sent, or what becomes of it.
    async fn attempt(&self, message: &Claimed, reclaimed: bool) -> Outcome {
        let m = &self.mailer;
        let give_up_at = message.created_at + m.dead_letter_after;
        let outcome = if reclaimed && m.clock.now() >= give_up_at {
            // Claimed again from a worker that died holding it, and past
            // the bound: a message a worker keeps dying on ends here.
            Outcome::Dead {
                error: "given up: the bound passed while a worker held it".into(),
            }
        } else {
            match self.deliver(message).await {
                Ok(()) => Outcome::Sent,
                Err(failure) => self.after_failure(message, failure),
            }
        };
        let label = match &outcome {
            Outcome::Sent => "sent",
            Outcome::Retry { .. } => "retrying",
            Outcome::Dead { .. } => "dead",
        };
        match &outcome {
            Outcome::Sent => {
                tracing::info!(outbox_id = %message.id, template = %message.template, "email sent");
            }
            Outcome::Retry { at, error } => {
                tracing::warn!(outbox_id = %message.id, attempts = message.attempts, next_attempt_at = %at, %error, "email not sent; will retry");
            }
            Outcome::Dead { error } => {
                tracing::error!(outbox_id = %message.id, attempts = message.attempts, %error, "email dead-lettered");
            }
        }
        m.metrics.email(&message.template, label);
        outcome
    }

    /// A failed try's outcome: dead if permanent or past the bound, else a
    /// retry after a backoff that doubles per attempt, with jitter.
    fn after_failure(&self, message: &Claimed, failure: Failure) -> Outcome {
        let mut error = failure.error;
        if let Some((cut, _)) = error.char_indices().nth(ERROR_CHARS) {
            error.truncate(cut);
        }
        let now = self.mailer.clock.now();
        let give_up_at = message.created_at + self.mailer.dead_letter_after;
        if failure.permanent || now >= give_up_at {
            return Outcome::Dead { error };
        }
        let at = (now + backoff(message.attempts)).min(give_up_at);
        Outcome::Retry { at, error }
    }

    async fn deliver(&self, message: &Claimed) -> Result<(), Failure> {
        let m = &self.mailer;
        let sealed = message
            .payload_ciphertext
            .as_deref()
            .ok_or_else(|| Failure::permanent("the message has no payload"))?;
        let payload = m
            .keys
            .open(&outbox::seal_context(&message.id), sealed)
            .map_err(|_| Failure::permanent("the payload does not open with this server key"))?;
        let rendered = templates::render(&message.template, &message.locale, &payload, &m.links)
            .map_err(Failure::permanent);
        let mut payload = payload;
        payload.fill(0);
        let rendered = rendered?;
        // An address alone: a display name in the stored address
        // (`x<someone@else>`) must not redirect the message.
        let to = Mailbox::new(
            None,
            message
                .recipient
                .parse::<Address>()
                .map_err(|e| Failure::permanent(format!("the recipient is no address: {e}")))?,
        );
        let email = Message::builder()
            .from(m.from.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(message.message_id.clone()))
            .date(m.clock.now().and_utc().into())
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(Failure::permanent)?;
        match &m.transport {
            Transport::Smtp(smtp) => {
                let mut connection = self.connection.lock().await;
                let formatted = email.formatted();
                let sent = smtp.send(&mut connection, email.envelope(), &formatted);
                // A send cut short drops its connection with it.
                match tokio::time::timeout(SEND_TIMEOUT, sent).await {
                    Ok(sent) => sent,
                    Err(_) => Err(Failure {
                        permanent: false,
                        error: format!("the SMTP server took longer than {SEND_TIMEOUT:?}"),
                    }),
                }
            }
            Transport::Files(dir) => {
                let (dir, id, bytes) = (dir.clone(), message.id.clone(), email.formatted());
                actix_web::rt::task::spawn_blocking(move || write_eml(&dir, &id, &bytes))
                    .await
                    .map_err(|e| Failure {
                        permanent: false,
                        error: e.to_string(),
                    })?
                    .map_err(|e| Failure {
                        permanent: false,
                        error: format!("cannot write the .eml file: {e}"),
                    })
            }
        }
    }
}

/// The delay before the next try after `attempts` tries: 30 s doubling per
/// attempt up to an hour, times a random factor in [0.5, 1) so that
/// messages that failed together do not retry together.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    let full = FIRST_BACKOFF.saturating_mul(1 << exponent).min(MAX_BACKOFF);
    let jitter = rand::Rng::gen_range(&mut rand::rngs::OsRng, 0.5..1.0);
    chrono::Duration::from_std(full.mul_f64(jitter)).expect("at most an hour")
}

/// Writes `dir/ID.eml` readable by the owner only, through a temporary
/// file renamed into place so a reader never sees half a message.
fn write_eml(dir: &std::path::Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    crate::private_fs::create_dir(dir)?;
    let mut file = tempfile_in(dir)?;
    file.1.write_all(bytes)?;
    file.1.sync_all()?;
    std::fs::rename(&file.0, dir.join(format!("{id}.eml")))
}

fn tempfile_in(dir: &std::path::Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let path = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    Ok((path.clone(), options.open(path)?))
}

/// Stops the workers [`spawn`] started.
#[derive(Debug)]
pub struct Workers {
    stop: watch::Sender<bool>,
}

impl Workers {
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Starts `count` workers on the current runtime: each delivers what is due,
/// then sleeps until woken, [`POLL`] passes, or it is stopped.
pub fn spawn(mailer: Arc<Mailer>, count: usize, signal: &Signal) -> Workers {
    let (stop, stopped) = watch::channel(false);
    for _ in 0..count {
        let worker = Worker::new(mailer.clone());
        let wake = signal.0.clone();
        let mut stopped = stopped.clone();
        actix_web::rt::spawn(async move {
            loop {
                if let Err(error) = worker.run_once().await {
                    tracing::warn!(%error, "outbox worker cannot reach the database");
                }
                worker.close_connection(false).await;
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    changed = stopped.changed() => {
                        // Stopped, or the server that could stop it is gone.
                        if changed.is_err() {
                            break;
                        }
                    }
                }
                if *stopped.borrow() {
                    break;
                }
            }
            worker.close_connection(true).await;
        });
    }
    Workers { stop }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_an_hour() {
        for attempts in 1..=30 {
            let full = FIRST_BACKOFF
                .saturating_mul(1 << (attempts.min(20) - 1))
                .min(MAX_BACKOFF);
            let full = chrono::Duration::from_std(full).unwrap();
            let d = backoff(attempts);
            assert!(d >= full / 2 && d < full, "{attempts}: {d}");
        }
        let draws: std::collections::HashSet<_> = (0..20).map(|_| backoff(3)).collect();
        assert!(draws.len() > 1, "jitter varies");
    }

    #[test]
    fn eml_files_are_private_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        write_eml(dir.path(), "m1", b"Subject: x\r\n\r\nbody").unwrap();
        write_eml(dir.path(), "m1", b"Subject: y\r\n\r\nbody").unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "a retry rewrites the same file");
        let path = dir.path().join("m1.eml");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("Subject: y")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
