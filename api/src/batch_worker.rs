//! Working through reset batches in the background: each instance claims
//! a few queued users at a time, resets them in
//! `CUSTODIAN_BATCH_CONCURRENCY` groups side by side through
//! [`app::batches::run_group`] (a transaction per group), and records each
//! outcome. The work lives in the database, so a restarted instance, or
//! another one, carries on where a stopped one left off.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;

use crate::app::batches::{ItemOutcome, Requester, requester, run_group, without_requester};
use crate::app::{App, Error};
use crate::db::DbError;
use crate::db::batches::{self, Outcome};
use crate::ids::BatchId;

/// How often an idle worker looks for work another instance queued (this
/// instance's own batches wake it at once).
const POLL: Duration = Duration::from_secs(1);

/// Users claimed at once per group of resets side by side: a claim is a
/// transaction, and a group's resets commit together (one commit, one
/// `fsync`, for as many users), while a crashed worker's users wait out
/// its lease.
const CLAIM_PER_SLOT: usize = 16;

/// The batch workers of an instance; dropping this does not stop them.
pub struct Workers {
    stop: watch::Sender<bool>,
}

impl Workers {
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// One worker, resetting up to `concurrency` users at once.
pub struct Worker {
    app: App,
    /// Names this worker's claims (`locked_by`).
    name: Arc<str>,
    concurrency: usize,
    lease: Duration,
}

impl Worker {
    pub fn new(app: App, concurrency: usize, lease: Duration) -> Self {
        Self {
            app,
            name: format!("batches-{}", uuid::Uuid::now_v7()).into(),
            concurrency: concurrency.max(1),
            lease,
        }
    }

    /// Claims and resets users until none is due; how many it tried.
    pub async fn run_once(&self) -> Result<usize, DbError> {
        let mut tried = 0;
        loop {
            let now = self.app.clock.now();
            let lease_until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
            // Several users per claim (a transaction each is what a claim
            // costs), reset `concurrency` at a time.
            let (name, limit) = (
                self.name.clone(),
                (self.concurrency * CLAIM_PER_SLOT) as i64,
            );
            let claimed = self
                .app
                .db
                .write(move |conn| batches::claim(conn, &name, now, lease_until, limit))
                .await?;
            if claimed.is_empty() {
                self.finish_unfinished().await?;
                return Ok(tried);
            }
            tried += claimed.len();
            // Each batch's requester, loaded once for the users claimed.
            let mut requesters: HashMap<BatchId, Result<Requester, Error>> = HashMap::new();
            for claimed in &claimed {
                if let Entry::Vacant(slot) = requesters.entry(claimed.item.batch_id) {
                    slot.insert(requester(&self.app, claimed).await);
                }
            }
            // The claim in `concurrency` groups side by side, each group's
            // resets in one transaction.
            let group_size = claimed.len().div_ceil(self.concurrency);
            let requesters = &requesters;
            futures_util::stream::iter(claimed.chunks(group_size))
                .for_each_concurrent(self.concurrency, |group| async move {
                    let mut outcomes: Vec<Option<ItemOutcome>> =
                        std::iter::repeat_with(|| None).take(group.len()).collect();
                    let mut members = Vec::new();
                    for (at, claimed) in group.iter().enumerate() {
                        match &requesters[&claimed.item.batch_id] {
                            Ok(requester) => members.push((at, requester, &claimed.item)),
                            Err(error) => {
                                outcomes[at] = Some(without_requester(&claimed.item, error))
                            }
                        }
                    }
                    let run: Vec<_> = members.iter().map(|(_, r, item)| (*r, *item)).collect();
                    let ran = run_group(&self.app, &run).await;
                    for ((at, _, _), outcome) in members.into_iter().zip(ran) {
                        outcomes[at] = Some(outcome);
                    }
                    let outcomes = group
                        .iter()
                        .zip(outcomes)
                        .filter_map(|(claimed, outcome)| Some((claimed.item.clone(), outcome?)));
                    self.record(outcomes.collect()).await;
                })
                .await;
            // Finish the batches whose last users these were, now that
            // their outcomes committed.
            for batch in requesters.keys().copied() {
                let now = self.app.clock.now();
                let finished = self
                    .app
                    .db
                    .write(move |conn| batches::finish_if_done(conn, batch, now))
                    .await;
                if let Err(error) = finished {
                    tracing::warn!(%error, %batch, "cannot finish a batch; the next worker to record one of its users will");
                }
            }
        }
    }

    /// Finishes the batches none of whose users waits or runs, should a
    /// worker have died between their last outcome and finishing them.
    async fn finish_unfinished(&self) -> Result<(), DbError> {
        let now = self.app.clock.now();
        self.app
            .db
            .write(move |conn| {
                for batch in batches::unfinished(conn)? {
                    batches::finish_if_done(conn, batch, now)?;
                }
                Ok(())
            })
            .await
    }

    /// Records the outcomes of a group's users (or gives users back to the
    /// queue when the storage failed under their resets), in one
    /// transaction; resets made record themselves.
    async fn record(&self, outcomes: Vec<(batches::Item, ItemOutcome)>) {
        let (name, now) = (self.name.clone(), self.app.clock.now());
        let mut writes = Vec::new();
        for (item, outcome) in outcomes {
            match outcome {
                ItemOutcome::Recorded => {}
                ItemOutcome::Done {
                    status,
                    reset_id,
                    error,
                } => {
                    let problem = error.map(|error| problem(&item, error));
                    writes.push((
                        item,
                        Write::Record(Outcome {
                            status,
                            reset_id,
                            problem,
                        }),
                    ));
                }
                ItemOutcome::Again(error) => {
                    // 2, 4, 8, 16 s: a storage that falters for a moment
                    // does not use up a user's tries.
                    let wait = chrono::Duration::seconds(1 << item.attempts.clamp(1, 4));
                    tracing::warn!(%error, batch = %item.batch_id, position = item.position, attempts = item.attempts, "a batch's reset meets a failing storage; trying again");
                    writes.push((item, Write::Release(now + wait)));
                }
            }
        }
        if writes.is_empty() {
            return;
        }
        let recorded = self
            .app
            .db
            .write(move |conn| {
                for (item, write) in &writes {
                    match write {
                        Write::Record(outcome) => {
                            batches::record(conn, item, &name, outcome, now)?;
                        }
                        Write::Release(again_at) => {
                            batches::release(conn, item, &name, now, *again_at)?;
                        }
                    }
                }
                Ok::<_, DbError>(())
            })
            .await;
        // Unrecorded, the users are claimed again once the lease runs out,
        // and the resets, made already, are found under their keys.
        if let Err(error) = recorded {
            tracing::warn!(%error, "cannot record a batch's outcomes; they are retried after the lease");
        }
    }
}

/// What recording a user's outcome writes.
enum Write {
    Record(Outcome),
    /// Back to the queue, due again then.
    Release(chrono::NaiveDateTime),
}

/// The problem a `failed` user's result carries, as the API would answer
/// the same reset of one (JSON).
fn problem(item: &batches::Item, error: Error) -> String {
    tracing::info!(batch = %item.batch_id, position = item.position, %error, "a batch's reset did not go through");
    let problem = crate::error::ApiError::from(error).problem();
    serde_json::to_string(&problem).unwrap_or_default()
}

/// Starts this instance's batch worker on the current runtime: it resets
/// what is due, then sleeps until woken, [`POLL`] passes, or it is stopped.
/// A `concurrency` of 0 starts none.
pub fn spawn(
    app: App,
    concurrency: usize,
    lease: Duration,
    signal: &crate::mail::Signal,
) -> Workers {
    let (stop, mut stopped) = watch::channel(false);
    if concurrency == 0 {
        return Workers { stop };
    }
    let worker = Worker::new(app, concurrency, lease);
    let wake = signal.clone();
    actix_web::rt::spawn(async move {
        loop {
            if let Err(error) = worker.run_once().await {
                tracing::warn!(%error, "batch worker cannot reach the database");
            }
            tokio::select! {
                _ = wake.woken() => {}
                _ = tokio::time::sleep(POLL) => {}
                changed = stopped.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
            if *stopped.borrow() {
                break;
            }
        }
    });
    Workers { stop }
}
