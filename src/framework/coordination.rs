//! Coordination between Terraform states and runners that act on one organization, through one
//! DynamoDB table in the AFT management account (the `coordination` provider block), as
//! Terraform's own S3 backend coordinates through its lock table.
//!
//! The table (key `pk` + `sk`, both strings) holds two kinds of item:
//! - **claims**, one per account email (`pk = "claim#" + lowercase email`, `sk = "claim"`): the
//!   state (`coordination.owner`) that creates, adopts or imports the account writes it with a
//!   conditional write, so a second state with the same email is refused before it changes
//!   anything; only the owner's destroy removes it.
//! - **operation leases** for Control Tower account operations (`pk = "lease#control-tower"`,
//!   `sk` a fresh id): written before an Account Factory operation is sent, renewed while it runs,
//!   removed when it ends. A killed runner's lease lapses after `lease_duration`. Every runner
//!   counts the live leases of all runners, plus what AWS shows in flight, before it sends.
//!
//! Every read is consistent (`ConsistentRead`): a claim or lease written just before must be seen.
//! Without the block none of this exists and each provider process guards only its own work.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};
use thiserror::Error;
use tokio::sync::OnceCell;

use super::StepError;
use super::poll::Backoff;
use crate::aws::dynamodb::string;
use crate::aws::{AwsError, AwsResultExt, clients};
use crate::context::{Context, CoordinationSettings};

/// The table's default name.
pub const DEFAULT_TABLE: &str = "aft-provider-coordination";
/// The partition of Control Tower operation leases.
const LEASES: &str = "lease#control-tower";
/// The sort key of a claim.
const CLAIM: &str = "claim";

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn now_epoch() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The key of a claim: the email as AWS compares it (case-insensitive).
fn claim_pk(email: &str) -> String {
    format!("claim#{}", email.trim().to_ascii_lowercase())
}

/// What went wrong with a claim.
#[derive(Debug, Error, Clone)]
pub enum ClaimError {
    /// Another state owns the email.
    #[error("{email} is claimed by \"{}\"{} in the coordination table {table}", .claim.owner, .claim.account_id.as_deref().map(|a| format!(" (account {a})")).unwrap_or_default())]
    Claimed { email: String, table: String, claim: Claim },
    /// The table could not be read or written.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl From<ClaimError> for StepError {
    fn from(e: ClaimError) -> Self {
        match e {
            ClaimError::Aws(a) => StepError::Aws(a),
            other => StepError::Failed(other.to_string()),
        }
    }
}

/// One state's claim on an account email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The email as it was claimed.
    pub email: String,
    /// The `coordination.owner` of the state that holds it.
    pub owner: String,
    /// The account, once the claiming state knows it.
    pub account_id: Option<String>,
    /// When it was first claimed (RFC 3339).
    pub claimed_at: String,
}

impl Claim {
    fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Claim> {
        let owner = string(item, "owner");
        if owner.is_empty() {
            return None;
        }
        Some(Claim {
            email: string(item, "email"),
            owner,
            account_id: Some(string(item, "account_id")).filter(|a| !a.is_empty()),
            claimed_at: string(item, "claimed_at"),
        })
    }
}

/// What a release found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Released {
    /// This state's claim was removed.
    Removed,
    /// There was no claim.
    Absent,
    /// Another state holds it: left as it is.
    Other(String),
}

/// The configured table, reached through the hub session (the provider's own identity in the
/// AFT management account, like AFT's other tables).
#[derive(Clone)]
pub struct Table {
    ddb: Client,
    pub settings: CoordinationSettings,
}

/// Whether the table exists (checked once per process, created once when it does not).
#[derive(Default)]
struct Ready(OnceCell<bool>);

impl Table {
    /// The table when coordination is configured; `None` without the `coordination` block.
    pub fn of(ctx: &Context) -> Option<Table> {
        let settings = ctx.settings.coordination.clone()?;
        Some(Table { ddb: clients::dynamodb(ctx.aws.hub()), settings })
    }

    fn name(&self) -> &str {
        &self.settings.table
    }

    /// The DynamoDB client the table is reached with (for other kinds of lease item).
    pub fn client(&self) -> &Client {
        &self.ddb
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        self.name()
    }

    /// Whether the table exists (a read: plans never create it).
    pub async fn exists(&self) -> Result<bool, AwsError> {
        match self.ddb.describe_table().table_name(self.name()).send().await.aws("dynamodb:DescribeTable") {
            Ok(_) => Ok(true),
            Err(e) if e.code == "ResourceNotFoundException" => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Makes sure the table exists before the first write of this process: created (on-demand
    /// capacity, key `pk` + `sk`) when absent, then waited for until `ACTIVE`. A creation this
    /// principal may not make is an error saying how to create it once by hand.
    pub async fn ensure(&self, ctx: &Context, deadline: Instant) -> Result<(), StepError> {
        let ready = ctx.memo::<Ready>();
        ready
            .0
            .get_or_try_init(|| async {
                if !self.exists().await? {
                    self.create().await?;
                }
                self.wait_active(ctx, deadline).await?;
                Ok::<bool, StepError>(true)
            })
            .await
            .map(|_| ())
    }

    async fn create(&self) -> Result<(), StepError> {
        let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build();
        let attr =
            |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build();
        let made = self
            .ddb
            .create_table()
            .table_name(self.name())
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(vec![
                key("pk", KeyType::Hash).map_err(sdk_build)?,
                key("sk", KeyType::Range).map_err(sdk_build)?,
            ]))
            .set_attribute_definitions(Some(vec![attr("pk").map_err(sdk_build)?, attr("sk").map_err(sdk_build)?]))
            .send()
            .await
            .aws("dynamodb:CreateTable");
        match made {
            Ok(_) => {
                tracing::info!(table = self.name(), "created the coordination table");
                Ok(())
            }
            // another runner created it at the same time
            Err(e) if e.code == "ResourceInUseException" => Ok(()),
            Err(e) if e.is_access_denied() => Err(StepError::Failed(format!(
                "{e}. The coordination table {} does not exist and this principal may not create it. Create it once \
                 (see the provider's coordination guide): aws dynamodb create-table --table-name {} --billing-mode \
                 PAY_PER_REQUEST --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
                 --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE",
                self.name(),
                self.name()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    async fn wait_active(&self, ctx: &Context, deadline: Instant) -> Result<(), StepError> {
        let mut backoff = Backoff::new(ctx.settings.poll_interval, Duration::from_secs(5), &ctx.stop);
        loop {
            let d = self.ddb.describe_table().table_name(self.name()).send().await.aws("dynamodb:DescribeTable")?;
            if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            backoff
                .pause(deadline, &format!("waiting for the coordination table {} to become ACTIVE", self.name()))
                .await?;
        }
    }

    // ------------------------------------------------------------- claims

    /// The claim on an email, read consistently.
    pub async fn claim_of(&self, email: &str) -> Result<Option<Claim>, AwsError> {
        let out = self
            .ddb
            .get_item()
            .table_name(self.name())
            .key("pk", s(claim_pk(email)))
            .key("sk", s(CLAIM))
            .consistent_read(true)
            .send()
            .await
            .aws("dynamodb:GetItem")?;
        Ok(out.item().and_then(Claim::from_item))
    }

    /// Every claim, by lowercase email (one consistent, paged scan: a plan checks all of its
    /// resources against it).
    pub async fn claims(&self) -> Result<HashMap<String, Claim>, AwsError> {
        let items = crate::aws::dynamodb::scan(&self.ddb, self.name(), None).await?;
        Ok(items
            .iter()
            .filter(|i| string(i, "sk") == CLAIM)
            .filter_map(|i| {
                let c = Claim::from_item(i)?;
                Some((c.email.to_ascii_lowercase(), c))
            })
            .collect())
    }

    /// Claims `email` for this state (and records `account_id` once known). Succeeds when the
    /// email is unclaimed or already this state's, or, with `takeover_from`, held by that owner
    /// (an import into this state takes it over); otherwise [`ClaimError::Claimed`] and nothing
    /// is written. A write whose answer was lost and is retried finds its own claim and succeeds.
    pub async fn claim(
        &self,
        email: &str,
        account_id: Option<&str>,
        takeover_from: Option<&str>,
    ) -> Result<(), ClaimError> {
        let owner = &self.settings.owner;
        let mut set = "SET #o = :o, email = :e, claimed_at = if_not_exists(claimed_at, :t)".to_string();
        let mut condition = "attribute_not_exists(pk) OR #o = :o".to_string();
        let mut req = self
            .ddb
            .update_item()
            .table_name(self.name())
            .key("pk", s(claim_pk(email)))
            .key("sk", s(CLAIM))
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", s(owner.clone()))
            .expression_attribute_values(":e", s(email.trim()))
            .expression_attribute_values(":t", s(now_rfc3339()));
        if let Some(a) = account_id {
            set.push_str(", account_id = :a");
            req = req.expression_attribute_values(":a", s(a));
        }
        if let Some(prev) = takeover_from {
            condition.push_str(" OR #o = :prev");
            req = req.expression_attribute_values(":prev", s(prev));
        }
        let sent = req.update_expression(set).condition_expression(condition).send().await.aws("dynamodb:UpdateItem");
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.code == "ConditionalCheckFailedException" => match self.claim_of(email).await? {
                // a retried write whose first attempt was applied
                Some(c) if &c.owner == owner => Ok(()),
                Some(c) => {
                    Err(ClaimError::Claimed { email: email.to_string(), table: self.name().to_string(), claim: c })
                }
                None => Err(ClaimError::Aws(e)),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Removes this state's claim on `email`; another state's claim is left as it is.
    pub async fn release(&self, email: &str) -> Result<Released, AwsError> {
        let sent = self
            .ddb
            .delete_item()
            .table_name(self.name())
            .key("pk", s(claim_pk(email)))
            .key("sk", s(CLAIM))
            .condition_expression("#o = :o")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":o", s(self.settings.owner.clone()))
            .send()
            .await
            .aws("dynamodb:DeleteItem");
        match sent {
            Ok(_) => Ok(Released::Removed),
            Err(e) if e.code == "ConditionalCheckFailedException" => Ok(match self.claim_of(email).await? {
                None => Released::Absent,
                Some(c) if c.owner == self.settings.owner => return Err(e),
                Some(c) => Released::Other(c.owner),
            }),
            Err(e) => Err(e),
        }
    }

    // ------------------------------------------------------------- leases

    /// The live Control Tower operation leases of every runner.
    pub async fn live_leases(&self) -> Result<Vec<LeaseInfo>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self
            .ddb
            .query()
            .table_name(self.name())
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s(LEASES))
            .consistent_read(true)
            .into_paginator()
            .send();
        let now = now_epoch();
        let mut lapsed = Vec::new();
        while let Some(page) = pages.next().await {
            for item in page.aws("dynamodb:Query")?.items() {
                let expires: u64 =
                    item.get("expires_at").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
                if expires > now {
                    out.push(LeaseInfo {
                        id: string(item, "sk"),
                        owner: string(item, "owner"),
                        what: string(item, "what"),
                    });
                } else {
                    lapsed.push(string(item, "sk"));
                }
            }
        }
        // a killed runner's lapsed leases are removed (only while still lapsed: a renewal in
        // between keeps its lease), so the table does not grow with every kill
        for id in lapsed {
            let gone = self
                .ddb
                .delete_item()
                .table_name(self.name())
                .key("pk", s(LEASES))
                .key("sk", s(id.clone()))
                .condition_expression("expires_at <= :now")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .send()
                .await
                .aws("dynamodb:DeleteItem");
            if let Some(e) = gone.as_ref().err().filter(|e| e.code != "ConditionalCheckFailedException") {
                tracing::debug!(lease = %id, error = %e, "removing a lapsed lease failed; the next count tries again");
            }
        }
        Ok(out)
    }

    /// Writes a lease for one Control Tower operation on `what` (a provisioned product's name)
    /// and keeps renewing it until the returned guard is dropped, which removes it.
    pub async fn take_lease(&self, what: &str) -> Result<Lease, AwsError> {
        let id = uuid::Uuid::new_v4().to_string();
        let ttl = self.settings.lease_duration;
        put_lease(&self.ddb, self.name(), &id, &self.settings.owner, what, ttl).await?;
        let (ddb, table, owner, what2, id2) =
            (self.ddb.clone(), self.name().to_string(), self.settings.owner.clone(), what.to_string(), id.clone());
        // renewed three times per lease duration, so one lost renewal never lets it lapse
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                if let Err(e) = put_lease(&ddb, &table, &id2, &owner, &what2, ttl).await {
                    tracing::warn!(lease = %id2, error = %e, "renewing a Control Tower operation lease failed");
                }
            }
        });
        Ok(Lease {
            inner: Some(LeaseInner {
                ddb: self.ddb.clone(),
                table: self.name().to_string(),
                id,
                heartbeat,
                released: false,
            }),
        })
    }
}

/// The claims as this process's plans see them (one consistent scan per process): `None`
/// without coordination, or while the table does not exist (the first apply creates it).
pub async fn planned_claims(ctx: &Context) -> Result<Option<Arc<HashMap<String, Claim>>>, AwsError> {
    #[derive(Default)]
    struct Snapshot(OnceCell<Option<Arc<HashMap<String, Claim>>>>);
    let Some(table) = Table::of(ctx) else { return Ok(None) };
    let memo = ctx.memo::<Snapshot>();
    memo.0
        .get_or_try_init(|| async {
            if !table.exists().await? {
                return Ok(None);
            }
            Ok(Some(Arc::new(table.claims().await?)))
        })
        .await
        .cloned()
}

fn sdk_build(e: aws_sdk_dynamodb::error::BuildError) -> StepError {
    StepError::Failed(format!("building a DynamoDB request failed: {e}"))
}

async fn put_lease(
    ddb: &Client,
    table: &str,
    id: &str,
    owner: &str,
    what: &str,
    ttl: Duration,
) -> Result<(), AwsError> {
    ddb.put_item()
        .table_name(table)
        .item("pk", s(LEASES))
        .item("sk", s(id))
        .item("owner", s(owner))
        .item("what", s(what))
        .item("expires_at", AttributeValue::N((now_epoch() + ttl.as_secs().max(1)).to_string()))
        .send()
        .await
        .aws("dynamodb:PutItem")?;
    Ok(())
}

/// A live lease as every runner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    pub id: String,
    pub owner: String,
    /// The provisioned product the operation is on.
    pub what: String,
}

struct LeaseInner {
    ddb: Client,
    table: String,
    id: String,
    heartbeat: tokio::task::JoinHandle<()>,
    released: bool,
}

impl LeaseInner {
    async fn delete(ddb: Client, table: String, id: String) {
        let gone = ddb
            .delete_item()
            .table_name(&table)
            .key("pk", s(LEASES))
            .key("sk", s(id.clone()))
            .send()
            .await
            .aws("dynamodb:DeleteItem");
        if let Err(e) = gone {
            tracing::warn!(lease = %id, error = %e, "removing a Control Tower operation lease failed; it lapses");
        }
    }
}

impl Drop for LeaseInner {
    fn drop(&mut self) {
        self.heartbeat.abort();
        if self.released {
            return;
        }
        // removed in the background: a lease whose removal fails lapses on its own
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(LeaseInner::delete(self.ddb.clone(), self.table.clone(), self.id.clone()));
        }
    }
}

/// A held Control Tower operation lease (or none, without coordination): renewed while held,
/// removed when released or dropped.
#[derive(Default)]
pub struct Lease {
    inner: Option<LeaseInner>,
}

impl Lease {
    /// No lease (coordination is not configured).
    pub fn none() -> Lease {
        Lease::default()
    }

    /// This lease's id, when it is one.
    pub fn id(&self) -> Option<&str> {
        self.inner.as_ref().map(|i| i.id.as_str())
    }

    /// Removes the lease now (and stops renewing it).
    pub async fn release(mut self) {
        if let Some(mut inner) = self.inner.take() {
            inner.heartbeat.abort();
            inner.released = true;
            LeaseInner::delete(inner.ddb.clone(), inner.table.clone(), inner.id.clone()).await;
        }
    }
}

/// How many Control Tower account operations are in flight across all runners, given the live
/// leases (this runner's own included), the products `UNDER_CHANGE` AWS shows, and AWS's count
/// of operations in flight (`aws`, products and baselines): each lease counts once, and a product
/// `UNDER_CHANGE` that a lease names is not counted again.
pub fn operations_in_flight(leases: &[LeaseInfo], products_under_change: &[String], aws: usize) -> usize {
    let covered = products_under_change.iter().filter(|p| leases.iter().any(|l| &l.what == *p)).count();
    leases.len() + aws.saturating_sub(covered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(what: &str) -> LeaseInfo {
        LeaseInfo { id: uuid::Uuid::new_v4().to_string(), owner: "a".into(), what: what.into() }
    }

    #[test]
    fn an_operation_is_counted_once_whether_a_lease_or_aws_shows_it() {
        let leases = [lease("p1"), lease("p2")];
        let aws = ["p1".to_string(), "console-1".to_string(), "console-2".to_string()];
        assert_eq!(operations_in_flight(&leases, &aws, 3), 4, "p1 by its lease, p2 not yet visible, two foreign");
        assert_eq!(operations_in_flight(&leases, &aws, 4), 5, "a baseline under change counts");
        assert_eq!(operations_in_flight(&[], &aws, 3), 3);
    }

    #[test]
    fn claims_are_keyed_by_the_email_as_aws_compares_it() {
        assert_eq!(claim_pk(" Team.A@Example.com "), "claim#team.a@example.com");
    }

    #[test]
    fn a_claim_needs_an_owner() {
        let mut item = HashMap::new();
        item.insert("email".to_string(), s("a@example.com"));
        assert_eq!(Claim::from_item(&item), None, "an item without an owner is no claim");
        item.insert("owner".to_string(), s("state-a"));
        item.insert("account_id".to_string(), s(""));
        let c = Claim::from_item(&item).unwrap();
        assert_eq!((c.owner.as_str(), c.account_id), ("state-a", None));
    }
}
