//! The `organizations_auto_enroll` vending method: Organizations `CreateAccount`, then a move into
//! a registered OU that Control Tower's auto-enrollment (landing zone 3.1+) turns into an
//! enrollment.
//!
//! With `remediationTypes = ["INHERITANCE_DRIFT"]` on the landing zone (`GetLandingZone`), an
//! account moved into an OU with `AWSControlTowerBaseline` enabled is enrolled by Control Tower on
//! its own: the OU's enabled baseline gets a child enabled baseline for the account, which ends
//! `SUCCEEDED` with inheritance drift `IN_SYNC`, or `FAILED` (`ListEnabledBaselines` with
//! `includeChildren`; sources in docs/reliability.md, "Control Tower auto-enrollment"). There is
//! no single-account enrollment API and the move returns no operation id, so the child baseline is
//! the one observable fact this module waits on.
//!
//! Control Tower runs one move into a given OU at a time (another account operation on that OU
//! conflicts until it ends), and each move counts toward the concurrent account-operation quota.
//! A move is therefore made only under two admissions, both held until the enrollment ends: the
//! org-wide room of [`super::account_factory`] (a coordination lease naming the move, counted with
//! every runner's), and a lease keyed by the destination OU (`pk = "lease#ou#<ou-id>"`, a
//! conditional put that only one runner wins; a per-process lock where no table is configured).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_controltower::types::{
    EnabledBaselineDriftStatus, EnabledBaselineFilter, EnablementStatus, RemediationType,
};
use aws_sdk_dynamodb::types::AttributeValue;

use super::StepError;
use super::account_factory::{self, CT_BASELINE};
use super::coordination::Table;
use super::poll::Backoff;
use crate::aws::organizations;
use crate::aws::{AwsError, AwsResultExt, clients, controltower};
use crate::context::Context;

/// The enrollment of one account in one OU, as Control Tower shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enrollment {
    /// The child baseline `SUCCEEDED` and in sync with the OU's.
    Enrolled,
    /// The child baseline is `UNDER_CHANGE`, or `SUCCEEDED` but still drifted.
    InProgress,
    /// The child baseline `FAILED`: its last operation's id, if Control Tower gave one.
    Failed { operation: Option<String> },
    /// No child baseline for the account under the OU's (not enrolled, or not yet visible).
    Absent,
}

/// The OU's `AWSControlTowerBaseline` as enabled on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    /// The enabled baseline's ARN (the parent of each member account's child baseline).
    pub enabled_baseline: String,
}

/// Why the landing zone cannot vend with this method: `None` when auto-enrollment is on.
pub async fn landing_zone_refusal(ct: &aws_sdk_controltower::Client) -> Result<Option<String>, AwsError> {
    let zones = ct.list_landing_zones().send().await.aws("controltower:ListLandingZones")?;
    let Some(arn) = zones.landing_zones().iter().find_map(|z| z.arn()).filter(|a| !a.is_empty()) else {
        return Ok(Some(
            "the organization has no Control Tower landing zone (controltower:ListLandingZones is empty)".into(),
        ));
    };
    let lz = ct.get_landing_zone().landing_zone_identifier(arn).send().await.aws("controltower:GetLandingZone")?;
    let Some(detail) = lz.landing_zone() else {
        return Ok(Some(format!("controltower:GetLandingZone answered nothing for {arn}")));
    };
    if detail.remediation_types().contains(&RemediationType::InheritanceDrift) {
        return Ok(None);
    }
    Ok(Some(format!(
        "the landing zone {arn} (version {}) does not have auto-enrollment: its remediationTypes lack INHERITANCE_DRIFT \
         (turn it on with UpdateLandingZone, landing zone 3.1 or later)",
        detail.version()
    )))
}

/// The `AWSControlTowerBaseline` baseline's ARN, looked up once per process.
async fn baseline_arn(ctx: &Context, ct: &aws_sdk_controltower::Client) -> Result<String, StepError> {
    #[derive(Default)]
    struct Memo(tokio::sync::OnceCell<String>);
    let memo = ctx.memo::<Memo>();
    let arn = memo
        .0
        .get_or_try_init(|| async {
            controltower::baseline_arn(ct, CT_BASELINE).await?.ok_or_else(|| {
                StepError::Failed(format!(
                    "the landing zone has no {CT_BASELINE} baseline (controltower:ListBaselines)"
                ))
            })
        })
        .await?;
    Ok(arn.clone())
}

/// True when an enabled baseline's target ARN (`…:ou/o-…/ou-…` or `…:account/o-…/<id>`) names `id`.
fn targets(arn: &str, id: &str) -> bool {
    arn.rsplit('/').next() == Some(id)
}

/// The OU's `AWSControlTowerBaseline`, when the OU is registered (reads only).
pub async fn registered(
    ctx: &Context,
    ct: &aws_sdk_controltower::Client,
    ou_id: &str,
) -> Result<Option<Registered>, StepError> {
    let arn = baseline_arn(ctx, ct).await?;
    let filter = EnabledBaselineFilter::builder().baseline_identifiers(&arn).build();
    Ok(controltower::find_enabled_baseline(ct, &filter, false, |b| {
        (b.baseline_identifier() == arn && targets(b.target_identifier(), ou_id))
            .then(|| Registered { enabled_baseline: b.arn().to_string() })
    })
    .await?)
}

/// The account's enrollment under the OU's enabled baseline: its child enabled baseline
/// (`ListEnabledBaselines`, `includeChildren`, filtered on the parent).
pub async fn enrollment(
    ct: &aws_sdk_controltower::Client,
    ou: &Registered,
    account_id: &str,
) -> Result<Enrollment, AwsError> {
    let filter = EnabledBaselineFilter::builder().parent_identifiers(&ou.enabled_baseline).build();
    let found = controltower::find_enabled_baseline(ct, &filter, true, |b| {
        if b.parent_identifier() != Some(ou.enabled_baseline.as_str()) || !targets(b.target_identifier(), account_id) {
            return None;
        }
        let status = b.status_summary().and_then(|s| s.status());
        let drift =
            b.drift_status_summary().and_then(|d| d.types()).and_then(|t| t.inheritance()).and_then(|i| i.status());
        Some(match status {
            Some(EnablementStatus::Succeeded) if drift != Some(&EnabledBaselineDriftStatus::Drifted) => {
                Enrollment::Enrolled
            }
            Some(EnablementStatus::Failed) => Enrollment::Failed {
                operation: b
                    .status_summary()
                    .and_then(|s| s.last_operation_identifier())
                    .filter(|o| !o.is_empty())
                    .map(str::to_string),
            },
            _ => Enrollment::InProgress,
        })
    })
    .await?;
    Ok(found.unwrap_or(Enrollment::Absent))
}

/// The accounts whose enrollment into the OU is in flight now (their child baseline
/// `UNDER_CHANGE`), whoever moved them: a move into the OU while one runs would conflict.
pub async fn enrolling(ct: &aws_sdk_controltower::Client, ou: &Registered) -> Result<Vec<String>, AwsError> {
    let filter = EnabledBaselineFilter::builder()
        .parent_identifiers(&ou.enabled_baseline)
        .statuses(EnablementStatus::UnderChange)
        .build();
    controltower::enabled_baselines(ct, &filter, true, |b| {
        (b.parent_identifier() == Some(ou.enabled_baseline.as_str())
            && b.status_summary().and_then(|s| s.status()) == Some(&EnablementStatus::UnderChange))
        .then(|| b.target_identifier().rsplit('/').next().unwrap_or_default().to_string())
    })
    .await
}

/// Why this method cannot put an account in `ou` (plan time, reads only): `None` when it can.
pub async fn plan_refusal(ctx: &Context, ou: &str) -> Result<Option<String>, StepError> {
    let ct = clients::controltower(&ctx.ct_session().await?);
    if let Some(why) = landing_zone_refusal(&ct).await? {
        return Ok(Some(why));
    }
    let ou_id = super::vend::resolve_ou(ctx, ou).await?;
    if ou_id.starts_with("r-") {
        return Ok(Some(format!(
            "{ou:?} is the organization's root: Control Tower enrolls accounts only in registered OUs, and an account \
             moved to the root is unenrolled"
        )));
    }
    if registered(ctx, &ct, &ou_id).await?.is_none() {
        return Ok(Some(format!(
            "the OU {ou:?} ({ou_id}) is not registered with Control Tower: it has no {CT_BASELINE} enabled, so an account \
             moved into it is not enrolled (register the OU first)"
        )));
    }
    Ok(None)
}

/// Puts the account in `ou_id` and waits until Control Tower enrolled it there; returns true when
/// it was moved. The move is made under the org-wide and per-OU admissions (module docs), and
/// under one of this provider's vending slots (`caller_holds_slot`: the caller has one). An
/// account already in the OU is only waited for; one that sits there unenrolled is an error:
/// auto-enrollment acts on a move, and the other way (`ResetEnabledBaseline` on the OU) is an
/// OU-wide operation the provider never starts on its own.
pub async fn enroll(
    ctx: &Context,
    account_id: &str,
    ou_id: &str,
    caller_holds_slot: bool,
    deadline: Instant,
) -> Result<bool, StepError> {
    let session = ctx.ct_session().await?;
    let ct = clients::controltower(&session);
    let org = clients::organizations(&session);
    let Some(ou) = registered(ctx, &ct, ou_id).await? else {
        return Err(StepError::Failed(format!(
            "account {account_id}: the OU {ou_id} is not registered with Control Tower (no {CT_BASELINE}), so moving the \
             account there would not enroll it"
        )));
    };
    let (parent, _) = organizations::parent(&org, account_id).await?;
    if parent == ou_id {
        return match enrollment(&ct, &ou, account_id).await? {
            Enrollment::Absent => Err(StepError::Failed(format!(
                "account {account_id} is in the OU {ou_id} but not enrolled in Control Tower: auto-enrollment acts when an \
                 account is moved in. Enroll it with ResetEnabledBaseline on the OU's {CT_BASELINE} (an operation on every \
                 account of the OU, which the provider never starts on its own), or move it out and apply again"
            ))),
            _ => wait_enrolled(ctx, &ct, &ou, account_id, ou_id, deadline).await.map(|_| false),
        };
    }
    let _slot = match caller_holds_slot {
        true => None,
        false => Some(super::poll::slot(&ctx.vend_slots, deadline, &ctx.stop, "a vending slot").await?),
    };
    let sc = clients::servicecatalog(&session);
    let what = format!("move {account_id} into {ou_id}");
    loop {
        // the OU first (waiting for it takes no org-wide place), then the org-wide room
        let ou_lease = OuLease::take(ctx, ou_id, account_id, deadline).await?;
        // a lease says no runner of ours is moving into the OU; Control Tower says whether an
        // enrollment still runs there (a killed runner's, one whose wait gave up, anyone's)
        if let Err(e) = wait_ou_quiet(ctx, &ct, &ou, account_id, ou_id, deadline).await {
            ou_lease.release().await;
            return Err(e);
        }
        // the move is sent once Control Tower has room, under the same gate and lease as Account
        // Factory's operations. The wait for room can be long, and the OU's lease can lapse in it
        // (renewals late or lost) and be taken by another runner, whose look at the OU then found
        // it quiet: so the lease is renewed and the OU looked at again just before the move, which
        // is sent only while both still hold
        let send = async {
            match ou_lease.confirm(&what).await {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) if e.is_transient() => return Ok(None),
                Err(e) => return Err(StepError::from(e)),
            }
            match enrolling(&ct, &ou).await {
                Ok(busy) if busy.iter().all(|a| a == account_id) => {}
                Ok(_) => return Ok(None),
                Err(e) if e.is_transient() => return Ok(None),
                Err(e) => return Err(StepError::from(e)),
            }
            super::vend::move_account(&org, account_id, ou_id).await.map(Some)
        };
        let (room, moved) = match account_factory::send_admitted(ctx, &sc, &what, deadline, send).await {
            Ok(r) => r,
            Err(e) => {
                ou_lease.release().await;
                return Err(e);
            }
        };
        let done = match moved {
            Ok(Some(_)) => Some(wait_enrolled(ctx, &ct, &ou, account_id, ou_id, deadline).await),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        };
        ou_lease.release().await;
        room.release().await;
        if let Some(done) = done {
            return done.map(|_| true);
        }
        tracing::warn!(
            ou = ou_id,
            account = account_id,
            "the OU's lease lapsed or an enrollment started there while waiting for room; waiting for the OU again \
             before moving"
        );
    }
}

/// Waits until no enrollment into the OU is in flight (other than this account's own).
async fn wait_ou_quiet(
    ctx: &Context,
    ct: &aws_sdk_controltower::Client,
    ou: &Registered,
    account_id: &str,
    ou_id: &str,
    deadline: Instant,
) -> Result<(), StepError> {
    let mut backoff = Backoff::new(ctx.settings.poll_interval, Duration::from_secs(30), &ctx.stop);
    loop {
        match enrolling(ct, ou).await {
            Ok(busy) if busy.iter().all(|a| a == account_id) => return Ok(()),
            Ok(busy) => {
                tracing::info!(ou = ou_id, ?busy, "an enrollment into this OU is in flight; waiting before moving")
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(ou = ou_id, error = %e, "reading the OU's enrollments failed; trying again")
            }
            Err(e) => return Err(e.into()),
        }
        backoff.pause(deadline, &format!("waiting for Control Tower to finish enrolling into {ou_id}")).await?;
    }
}

/// Parks a retired account in `ou_id`: into a registered OU as an enrollment (under the same
/// admissions as any move there), elsewhere by a plain move (which unenrolls it: Control Tower
/// removes its baseline resources). True when it moved.
pub async fn park(ctx: &Context, account_id: &str, ou_id: &str, deadline: Instant) -> Result<bool, StepError> {
    let session = ctx.ct_session().await?;
    let org = clients::organizations(&session);
    if !ou_id.starts_with("r-") && registered(ctx, &clients::controltower(&session), ou_id).await?.is_some() {
        if organizations::parent(&org, account_id).await?.0 == ou_id {
            return Ok(false);
        }
        return enroll(ctx, account_id, ou_id, false, deadline).await;
    }
    super::vend::move_account(&org, account_id, ou_id).await
}

/// Waits until the account's child baseline under the OU's is `SUCCEEDED` and in sync.
async fn wait_enrolled(
    ctx: &Context,
    ct: &aws_sdk_controltower::Client,
    ou: &Registered,
    account_id: &str,
    ou_id: &str,
    deadline: Instant,
) -> Result<(), StepError> {
    let mut backoff = Backoff::new(ctx.settings.poll_interval, Duration::from_secs(30), &ctx.stop);
    loop {
        let seen = match enrollment(ct, ou, account_id).await {
            Ok(seen) => seen,
            // a read that failed after the client's retries: the enrollment goes on, so does the wait
            Err(e) if e.is_transient() => {
                tracing::warn!(account = account_id, error = %e, "reading the enrollment failed; trying again");
                Enrollment::InProgress
            }
            Err(e) => return Err(e.in_account(account_id).into()),
        };
        match seen {
            Enrollment::Enrolled => return Ok(()),
            Enrollment::Failed { operation } => {
                let detail = match &operation {
                    Some(op) => match ct
                        .get_baseline_operation()
                        .operation_identifier(op)
                        .send()
                        .await
                        .aws("controltower:GetBaselineOperation")
                    {
                        Ok(o) => format!(
                            "operation {op}: {}",
                            o.baseline_operation().and_then(|b| b.status_message()).unwrap_or("no status message")
                        ),
                        Err(e) => format!("operation {op} (its details could not be read: {e})"),
                    },
                    None => "no operation id given".to_string(),
                };
                return Err(StepError::Failed(format!(
                    "Control Tower's enrollment of account {account_id} in the OU {ou_id} failed ({detail}); the account \
                     stays in the OU, unenrolled"
                )));
            }
            Enrollment::InProgress | Enrollment::Absent => {}
        }
        backoff
            .pause(deadline, &format!("waiting for Control Tower to enroll account {account_id} in {ou_id}"))
            .await?;
    }
}

/// Per-process locks by OU: two moves of this process never go into one OU at once.
#[derive(Default)]
struct OuLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

/// The admission for one move into an OU: this process's lock for the OU, and with coordination
/// the OU's lease item, renewed while held.
struct OuLease {
    _local: tokio::sync::OwnedMutexGuard<()>,
    held: Option<HeldLease>,
}

/// The OU's lease item this process wrote: which OU, under which holder id, and its renewals.
struct HeldLease {
    table: Table,
    ou_id: String,
    holder: String,
    heartbeat: tokio::task::JoinHandle<()>,
}

fn ou_pk(ou_id: &str) -> String {
    format!("lease#ou#{ou_id}")
}

fn now_epoch() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Writes the OU's lease if no live one is there (or it is `holder`'s): true when it is ours.
async fn put_ou_lease(t: &Table, ou_id: &str, holder: &str, what: &str) -> Result<bool, AwsError> {
    let ttl = t.settings.lease_duration.as_secs().max(1);
    let now = now_epoch();
    let put = t
        .client()
        .put_item()
        .table_name(t.table_name())
        .item("pk", AttributeValue::S(ou_pk(ou_id)))
        .item("sk", AttributeValue::S("lease".into()))
        .item("holder", AttributeValue::S(holder.into()))
        .item("owner", AttributeValue::S(t.settings.owner.clone()))
        .item("what", AttributeValue::S(what.into()))
        .item("expires_at", AttributeValue::N((now + ttl).to_string()))
        .condition_expression("attribute_not_exists(pk) OR expires_at <= :now OR holder = :me")
        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
        .expression_attribute_values(":me", AttributeValue::S(holder.into()))
        .send()
        .await
        .aws("dynamodb:PutItem");
    match put {
        Ok(_) => Ok(true),
        Err(e) if e.code == "ConditionalCheckFailedException" => Ok(false),
        Err(e) => Err(e),
    }
}

impl OuLease {
    async fn take(ctx: &Context, ou_id: &str, account_id: &str, deadline: Instant) -> Result<OuLease, StepError> {
        let lock = {
            let locks = ctx.memo::<OuLocks>();
            let mut m = locks.0.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(ou_id.to_string()).or_default().clone()
        };
        let local = tokio::select! {
            g = lock.lock_owned() => g,
            _ = tokio::time::sleep(deadline.saturating_duration_since(Instant::now())) => {
                return Err(StepError::Timeout(format!("waiting for another move into {ou_id} to end")));
            }
        };
        let Some(t) = Table::of(ctx) else { return Ok(OuLease { _local: local, held: None }) };
        t.ensure(ctx, deadline).await?;
        let holder = uuid::Uuid::new_v4().to_string();
        let what = format!("move {account_id} into {ou_id}");
        let mut backoff = Backoff::new(ctx.settings.poll_interval, Duration::from_secs(15), &ctx.stop);
        while !put_ou_lease(&t, ou_id, &holder, &what).await? {
            tracing::info!(
                ou = ou_id,
                account = account_id,
                "another runner is moving an account into this OU; waiting"
            );
            backoff.pause(deadline, &format!("waiting for another runner's move into {ou_id} to end")).await?;
        }
        let (t2, ou2, h2, ttl) = (t.clone(), ou_id.to_string(), holder.clone(), t.settings.lease_duration);
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                match put_ou_lease(&t2, &ou2, &h2, &what).await {
                    Ok(true) => {}
                    // checked again before the move (`confirm`)
                    Ok(false) => tracing::warn!(ou = %ou2, "the OU's lease lapsed and another runner holds it"),
                    Err(e) => tracing::warn!(ou = %ou2, error = %e, "renewing an OU lease failed"),
                }
            }
        });
        let held = HeldLease { table: t, ou_id: ou_id.to_string(), holder, heartbeat };
        Ok(OuLease { _local: local, held: Some(held) })
    }

    /// Renews the lease now: true while it is this holder's (or lapsed with nobody else taking
    /// it, and so this holder's again), false when another runner holds it.
    async fn confirm(&self, what: &str) -> Result<bool, AwsError> {
        let Some(h) = &self.held else { return Ok(true) };
        put_ou_lease(&h.table, &h.ou_id, &h.holder, what).await
    }

    /// Removes the OU's lease (only while it is this holder's); the local lock goes with `self`.
    async fn release(mut self) {
        let Some(HeldLease { table: t, ou_id, holder, heartbeat }) = self.held.take() else { return };
        heartbeat.abort();
        let gone = t
            .client()
            .delete_item()
            .table_name(t.table_name())
            .key("pk", AttributeValue::S(ou_pk(&ou_id)))
            .key("sk", AttributeValue::S("lease".into()))
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", AttributeValue::S(holder))
            .send()
            .await
            .aws("dynamodb:DeleteItem");
        if let Some(e) = gone.as_ref().err().filter(|e| e.code != "ConditionalCheckFailedException") {
            tracing::warn!(ou = %ou_id, error = %e, "removing an OU lease failed; it lapses");
        }
    }
}

impl Drop for OuLease {
    fn drop(&mut self) {
        // dropped without release (an error or a stop): the heartbeat ends and the lease lapses
        if let Some(h) = &self.held {
            h.heartbeat.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_named_by_its_last_segment() {
        assert!(targets("arn:aws:organizations::111122223333:account/o-abc/444455556666", "444455556666"));
        assert!(targets("arn:aws:organizations::111122223333:ou/o-abc/ou-ab12-cdef3456", "ou-ab12-cdef3456"));
        assert!(!targets("arn:aws:organizations::111122223333:account/o-abc/444455556666", "44445555666"));
        assert_eq!(ou_pk("ou-ab12-cdef3456"), "lease#ou#ou-ab12-cdef3456");
    }
}
