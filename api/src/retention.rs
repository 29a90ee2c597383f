//! The retention sweep: backup copies of items that were deleted, purged
//! or superseded are kept `retention_days` (their `expires_at`) and then
//! removed; pending resets whose secret expired become `expired`, and so do
//! requests whose approval expired (each audited); results kept under
//! idempotency keys (a batch keeps one per user) go once their day is
//! over; retired companies go once their last backup copy has (each
//! audited). The server sweeps at start and every hour; time is read through the
//! [`Clock`], so tests move it instead of waiting.

use std::time::Duration;

use crate::audit;
use crate::clock::Clock;
use crate::db::{Db, DbError, companies, idempotency, resets, vault};

/// How often the server sweeps.
pub const INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Removes the backup copies whose retention ended by the clock's now;
/// how many.
pub async fn sweep(db: &Db, clock: &Clock) -> Result<usize, DbError> {
    let now = clock.now();
    let removed = db
        .write(move |conn| vault::sweep_expired(conn, now))
        .await?;
    if removed > 0 {
        tracing::info!(removed, "retention sweep removed expired backup copies");
    }
    Ok(removed)
}

/// Marks the pending resets whose secret expired by the clock's now
/// `expired` (their unsent emails withdrawn); how many.
pub async fn expire_resets(db: &Db, clock: &Clock) -> Result<usize, DbError> {
    let now = clock.now();
    let expired = db.write(move |conn| resets::expire_due(conn, now)).await?;
    if expired > 0 {
        tracing::info!(expired, "marked resets whose secret expired");
    }
    Ok(expired)
}

/// Marks the requests awaiting approval whose time ran out by the clock's
/// now `expired`, each audited; how many.
pub async fn expire_approvals(
    db: &Db,
    clock: &Clock,
    keys: &std::sync::Arc<crate::auth::keys::ServerKeys>,
) -> Result<usize, DbError> {
    let now = clock.now();
    let keys = keys.clone();
    let expired = db
        .write(move |conn| crate::app::resets::expire_requests(conn, &keys, now))
        .await?;
    if expired > 0 {
        tracing::info!(expired, "marked requests whose approval expired");
    }
    Ok(expired)
}

/// Removes the results kept under idempotency keys whose time is over by
/// the clock's now; how many.
pub async fn forget_idempotency_keys(db: &Db, clock: &Clock) -> Result<usize, DbError> {
    let now = clock.now();
    let removed = db
        .write(move |conn| idempotency::sweep_expired(conn, now))
        .await?;
    if removed > 0 {
        tracing::info!(removed, "forgot expired idempotency keys");
    }
    Ok(removed)
}

/// Removes the retired companies none of whose backup copies is left, each
/// audited as the system's `removeRetiredCompany`; how many.
pub async fn remove_retired_companies(
    db: &Db,
    clock: &Clock,
    keys: &std::sync::Arc<crate::auth::keys::ServerKeys>,
) -> Result<usize, DbError> {
    let now = clock.now();
    let keys = keys.clone();
    let removed = db
        .write(move |conn| {
            let gone = companies::remove_retired_without_copies(conn)?;
            for company in &gone {
                audit::append(
                    conn,
                    &keys,
                    audit::NewEvent {
                        partner: Some(company.partner_id),
                        actor_kind: audit::ActorKind::System,
                        actor_id: None,
                        action: "removeRetiredCompany".into(),
                        target_kind: Some("company".into()),
                        target_id: Some(company.id.to_string()),
                        allowed: true,
                        policy_ids: Vec::new(),
                        request_id: None,
                        details: serde_json::json!({
                            "name": company.name,
                            "external_id": company.external_id,
                            "retired_at": company.retired_at,
                            "removed_at": now,
                        }),
                    },
                )?;
            }
            Ok::<_, DbError>(gone.len())
        })
        .await?;
    if removed > 0 {
        tracing::info!(
            removed,
            "removed retired companies whose backup copies expired"
        );
    }
    Ok(removed)
}

/// Sweeps now and every [`INTERVAL`] while the server runs. A failed sweep
/// (the database away) is logged and tried again next time.
pub fn spawn(db: Db, clock: Clock, keys: std::sync::Arc<crate::auth::keys::ServerKeys>) {
    actix_web::rt::spawn(async move {
        loop {
            if let Err(error) = sweep(&db, &clock).await {
                tracing::warn!(%error, "retention sweep failed; next try in an hour");
            }
            if let Err(error) = remove_retired_companies(&db, &clock, &keys).await {
                tracing::warn!(%error, "removing retired companies failed; next try in an hour");
            }
            if let Err(error) = expire_resets(&db, &clock).await {
                tracing::warn!(%error, "expiring resets failed; next try in an hour");
            }
            if let Err(error) = expire_approvals(&db, &clock, &keys).await {
                tracing::warn!(%error, "expiring approvals failed; next try in an hour");
            }
            if let Err(error) = forget_idempotency_keys(&db, &clock).await {
                tracing::warn!(%error, "forgetting idempotency keys failed; next try in an hour");
            }
            actix_web::rt::time::sleep(INTERVAL).await;
        }
    });
}
