//! The `control_tower` vending method: the Control Tower Account Factory product in Service
//! Catalog, as AWS documents it rather than as an emulator answers.
//!
//! - A provisioning or update is a record that takes minutes (`CREATED`/`IN_PROGRESS` →
//!   `SUCCEEDED` | `FAILED` | `IN_PROGRESS_IN_ERROR`); the provisioned product is `UNDER_CHANGE`
//!   meanwhile and `AVAILABLE`, `TAINTED` or `ERROR` after.
//! - Provisioned-product names are unique, so the product named after the request is found and
//!   continued (waited for while `UNDER_CHANGE`, updated with the request's parameters while
//!   `ERROR` or `TAINTED`) instead of a second `ProvisionProduct`. A name is not ownership: a
//!   product is updated only when its account's email, or its `AccountEmail` output, is the
//!   request's ([`owner`]); another request's product of the same name is an error.
//! - A product in `ERROR` that Service Catalog refuses to update (CloudFormation's rule for a stack
//!   whose creation failed: it can only be deleted; AWS documents nothing for the Account Factory
//!   product, so both answers are handled) is terminated, when it is this request's, and
//!   provisioned again.
//! - Idempotency tokens identify one attempt: derived from the request and the product's last
//!   record, so a call resent after a lost answer replays, and a new attempt after a failure never
//!   replays the failed record.
//! - Control Tower runs a limited number of account operations at once in the whole organization
//!   (5 by default, up to 10 when the quota is raised). Every provisioning, update and termination
//!   here first waits until fewer than `max_concurrent_operations` are in flight ([`in_flight`]:
//!   products `UNDER_CHANGE`, whoever started them, and the `AWSControlTowerBaseline` baselines
//!   `UNDER_CHANGE`, as AFT 1.19 counts them). An operation Control Tower still refuses ("another
//!   AWS Control Tower operation is in progress", [`Refusal::Busy`]) is tried again with a growing
//!   pause until the resource's timeout.
//! - An update uses the product's provisioning artifact while it is active, else the product's
//!   active one (AFT's `update_existing_account`): Service Catalog refuses an inactive artifact.
//! - Searches use the `Account` access level, so products other principals started are seen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_controltower::types::{EnabledBaselineFilter, EnablementStatus};
use aws_sdk_servicecatalog::Client;
use aws_sdk_servicecatalog::types::{
    AccessLevelFilter, AccessLevelFilterKey, ProvisionedProductAttribute, ProvisionedProductViewFilterBy,
    ProvisioningParameter, UpdateProvisioningParameter,
};

use super::StepError;
use super::coordination::{self, Lease};
use super::poll::{Backoff, Waits, bounded, check_deadline, slot};
use super::request::AccountRequest;
use crate::aws::{AwsError, AwsResultExt, clients, controltower};
use crate::context::Context;

/// Control Tower's default quota of concurrent account operations in one organization (it can be
/// raised to 10); the default of `max_concurrent_operations`, which is the cap compared here.
pub const CONTROL_TOWER_LIMIT: usize = 5;

/// How many times one apply continues a product (waits, recovers, provisions) before it gives up.
/// Refusals because Control Tower was busy are not counted: they are tried again until the deadline.
pub const MAX_ROUNDS: usize = 4;

/// The longest pause between two attempts Control Tower refused as busy.
pub const BUSY_PAUSE_MAX: Duration = Duration::from_secs(60);

/// The Account Factory product's parameters, as Control Tower defines them.
pub const PARAMETERS: [&str; 6] =
    ["AccountEmail", "AccountName", "ManagedOrganizationalUnit", "SSOUserEmail", "SSOUserFirstName", "SSOUserLastName"];

/// The Control Tower baseline whose enablements are account operations (AFT's
/// `ControlTowerFacade.CT_BASELINE_NAME`).
pub const CT_BASELINE: &str = "AWSControlTowerBaseline";

/// The state of a provisioned product, as Service Catalog reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductStatus {
    Available,
    UnderChange,
    Tainted,
    Error,
    PlanInProgress,
    Other(String),
}

impl ProductStatus {
    /// The status as Service Catalog spells it (`ERROR`, `TAINTED`, …).
    pub fn as_str(&self) -> &str {
        match self {
            ProductStatus::Available => "AVAILABLE",
            ProductStatus::UnderChange => "UNDER_CHANGE",
            ProductStatus::Tainted => "TAINTED",
            ProductStatus::Error => "ERROR",
            ProductStatus::PlanInProgress => "PLAN_IN_PROGRESS",
            ProductStatus::Other(s) => s,
        }
    }

    fn of(p: &ProvisionedProductAttribute) -> ProductStatus {
        match p.status().map(|s| s.as_str()).unwrap_or_default() {
            "AVAILABLE" => ProductStatus::Available,
            "UNDER_CHANGE" => ProductStatus::UnderChange,
            "TAINTED" => ProductStatus::Tainted,
            "ERROR" => ProductStatus::Error,
            "PLAN_IN_PROGRESS" => ProductStatus::PlanInProgress,
            other => ProductStatus::Other(other.to_string()),
        }
    }
}

/// A provisioned product of the Account Factory.
#[derive(Clone, Debug)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub status: ProductStatus,
    /// The account id, once Control Tower created the account.
    pub account_id: Option<String>,
    pub last_record_id: Option<String>,
    pub last_success_record_id: Option<String>,
    pub product_id: Option<String>,
    pub artifact_id: Option<String>,
}

impl From<&ProvisionedProductAttribute> for Product {
    fn from(p: &ProvisionedProductAttribute) -> Self {
        let s = |o: Option<&str>| o.filter(|v| !v.is_empty()).map(str::to_string);
        Product {
            id: p.id().unwrap_or_default().to_string(),
            name: p.name().unwrap_or_default().to_string(),
            status: ProductStatus::of(p),
            account_id: s(p.physical_id()),
            last_record_id: s(p.last_record_id()),
            last_success_record_id: s(p.last_successful_provisioning_record_id()),
            product_id: s(p.product_id()),
            artifact_id: s(p.provisioning_artifact_id()),
        }
    }
}

/// Every provisioned product matching a search query (`name:…`, `physicalId:…`, `status:…`),
/// at the `Account` access level so products started by other principals are included.
pub async fn search(sc: &Client, query: &str) -> Result<Vec<Product>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = sc
            .search_provisioned_products()
            .access_level_filter(AccessLevelFilter::builder().key(AccessLevelFilterKey::Account).value("self").build())
            .filters(ProvisionedProductViewFilterBy::SearchQuery, vec![query.to_string()])
            .page_size(100)
            .set_page_token(token.take())
            .send()
            .await
            .aws("servicecatalog:SearchProvisionedProducts")?;
        out.extend(page.provisioned_products().iter().map(Product::from));
        match page.next_page_token().filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(out),
        }
    }
}

/// The product with exactly this name (search queries match loosely).
pub async fn find_by_name(sc: &Client, name: &str) -> Result<Option<Product>, AwsError> {
    Ok(search(sc, &format!("name:{name}")).await?.into_iter().find(|p| p.name == name))
}

/// The product that provisioned this account.
pub async fn find_by_account(sc: &Client, account_id: &str) -> Result<Option<Product>, AwsError> {
    let all = search(sc, &format!("physicalId:{account_id}")).await?;
    let mine: Vec<Product> = all.into_iter().filter(|p| p.account_id.as_deref() == Some(account_id)).collect();
    // a healthy one first, then one still working, then anything
    let rank = |p: &Product| match p.status {
        ProductStatus::Available | ProductStatus::Tainted => 0,
        ProductStatus::UnderChange => 1,
        _ => 2,
    };
    Ok(mine.into_iter().min_by_key(rank))
}

/// An idempotency token for one attempt of a Service Catalog request: the same attempt gets the
/// same token (a resent call replays), and `attempt` (the product's last record, or a fresh value
/// for a first provisioning) makes a new attempt a new request.
pub fn attempt_token(parts: &[&str], attempt: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().chain(std::iter::once(&attempt)).copied().collect::<Vec<_>>().join("\u{1f}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("aft-{h:016x}")
}

/// AFT's name for Control Tower's Account Factory portfolio.
pub const PORTFOLIO: &str = "AWS Control Tower Account Factory Portfolio";

/// Whether the portfolio association was made by this provider process.
#[derive(Default)]
struct Associated(tokio::sync::OnceCell<()>);

/// Associates `AWSAFTService` with the Account Factory portfolio, as AFT's request processor does
/// on every run (`account_request_framework.py`): a principal that is not associated cannot
/// provision the product ("No launch paths found"). Idempotent; once per provider process. A
/// landing zone without the portfolio is only logged, as AFT does; a refused association is an
/// error naming what is missing and how to grant it.
async fn associate_portfolio(ctx: &Context, sc: &Client) -> Result<(), StepError> {
    let memo = ctx.memo::<Associated>();
    memo.0
        .get_or_try_init(|| async {
            let mut portfolio = None;
            let mut token: Option<String> = None;
            loop {
                let page = sc
                    .list_portfolios()
                    .set_page_token(token.clone())
                    .send()
                    .await
                    .aws("servicecatalog:ListPortfolios")?;
                portfolio = portfolio.or_else(|| {
                    page.portfolio_details().iter().find(|p| p.display_name() == Some(PORTFOLIO)).and_then(|p| p.id()).map(str::to_string)
                });
                token = page.next_page_token().filter(|t| !t.is_empty()).map(str::to_string);
                if portfolio.is_some() || token.is_none() {
                    break;
                }
            }
            let Some(portfolio) = portfolio else {
                tracing::warn!(portfolio = PORTFOLIO, "no Account Factory portfolio found; not associating AWSAFTService");
                return Ok(());
            };
            let lz = ctx.landing_zone().await?;
            let principal = crate::aws::role_arn(&lz.partition, &lz.ct_management, &ctx.settings.roles.service);
            match sc
                .associate_principal_with_portfolio()
                .portfolio_id(&portfolio)
                .principal_arn(&principal)
                .principal_type(aws_sdk_servicecatalog::types::PrincipalType::Iam)
                .send()
                .await
                .aws("servicecatalog:AssociatePrincipalWithPortfolio")
            {
                Ok(_) => Ok(()),
                Err(e) if e.is_access_denied() => Err(StepError::Failed(format!(
                    "{e}. The Account Factory portfolio {portfolio} ({PORTFOLIO}) must be associated with {principal}, \
                     which provisions the product: AFT's request processor does this on every run. Associate it \
                     (Service Catalog console, Portfolios, Access) or allow servicecatalog:AssociatePrincipalWithPortfolio \
                     to {principal}"
                ))),
                Err(e) => Err(e.into()),
            }
        })
        .await
        .map(|_| ())
}

/// AFT's provisioned product name: the account name, trimmed, spaces as hyphens.
pub fn provisioned_product_name(account_name: &str) -> String {
    account_name.trim().replace(' ', "-")
}

/// Service Catalog's rule for `ProvisionedProductName`: `[a-zA-Z0-9][a-zA-Z0-9._-]*`, 1 to 128
/// characters (API reference, ProvisionProduct).
pub fn check_provisioned_product_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("it is empty".into()),
        Some(c) if !c.is_ascii_alphanumeric() => return Err(format!("it starts with {c:?}")),
        _ => {}
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("{c:?} is not allowed"));
    }
    if name.len() > 128 {
        return Err("it is longer than 128 characters".into());
    }
    Ok(())
}

/// The Account Factory product id and its active provisioning artifact, after the portfolio
/// association that lets `AWSAFTService` use them.
async fn product(ctx: &Context, sc: &Client) -> Result<(String, String), StepError> {
    associate_portfolio(ctx, sc).await?;
    let p = sc
        .describe_product_as_admin()
        .name(&ctx.settings.product_name)
        .send()
        .await
        .aws("servicecatalog:DescribeProductAsAdmin")?;
    let product_id = p
        .product_view_detail()
        .and_then(|d| d.product_view_summary())
        .and_then(|s| s.product_id())
        .ok_or_else(|| StepError::Failed(format!("Service Catalog product {:?} has no id", ctx.settings.product_name)))?
        .to_string();
    for a in p.provisioning_artifact_summaries() {
        let Some(aid) = a.id() else { continue };
        let d = sc
            .describe_provisioning_artifact()
            .product_id(&product_id)
            .provisioning_artifact_id(aid)
            .send()
            .await
            .aws("servicecatalog:DescribeProvisioningArtifact")?;
        if d.provisioning_artifact_detail().and_then(|x| x.active()) == Some(true) {
            return Ok((product_id, aid.to_string()));
        }
    }
    Err(StepError::Failed(format!("No active provisioning artifact for product {:?}", ctx.settings.product_name)))
}

/// Why Account Factory refused an operation, read from a record's error or from a call's error
/// (code and message): the one place these answers are told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Control Tower is at its limit of concurrent operations: "Account Factory cannot complete an
    /// operation on this account, because another AWS Control Tower operation is in progress. Try
    /// again later." (`ResourceInUseException`, AFT #363). The same request succeeds later.
    Busy,
    /// The product cannot be updated in its state: CloudFormation refuses to update a stack whose
    /// creation failed ("… is in ROLLBACK_COMPLETE state and can not be updated"); only
    /// termination is left.
    NotUpdatable,
    /// Any other failure: reported as it is.
    Other,
}

impl Refusal {
    /// Classifies one error by its code and message.
    pub fn of(code: &str, message: &str) -> Refusal {
        let m = message.to_ascii_lowercase();
        if m.contains("another aws control tower operation is in progress")
            || (code == "ResourceInUseException" && m.contains("control tower"))
        {
            Refusal::Busy
        } else if m.contains("can not be updated") || m.contains("cannot be updated") {
            Refusal::NotUpdatable
        } else {
            Refusal::Other
        }
    }
}

/// A record that ended in failure, with its errors (code and description each).
#[derive(Clone, Debug)]
pub struct RecordFailure {
    /// What the record was (`servicecatalog:ProvisionProduct of sandbox`).
    pub what: String,
    pub record: String,
    pub errors: Vec<(String, String)>,
}

impl RecordFailure {
    /// The refusal its errors say: busy when any error is Control Tower's limit, else not
    /// updatable when any says so, else other.
    pub fn refusal(&self) -> Refusal {
        let kinds: Vec<Refusal> = self.errors.iter().map(|(c, d)| Refusal::of(c, d)).collect();
        [Refusal::Busy, Refusal::NotUpdatable].into_iter().find(|k| kinds.contains(k)).unwrap_or(Refusal::Other)
    }
}

impl std::fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let errs: Vec<&str> = self.errors.iter().map(|(_, d)| d.as_str()).collect();
        write!(f, "{} (record {}) failed: {}", self.what, self.record, errs.join("; "))
    }
}

impl From<RecordFailure> for StepError {
    fn from(f: RecordFailure) -> Self {
        StepError::Failed(f.to_string())
    }
}

/// Waits for a record's end: `Ok(Ok(()))` when it succeeded, `Ok(Err(failure))` when it failed,
/// `Err` when the wait itself ended (timeout, stop, an AWS error).
pub async fn wait_outcome(
    sc: &Client,
    record_id: &str,
    what: &str,
    waits: &Waits,
) -> Result<Result<(), RecordFailure>, StepError> {
    let mut backoff = Backoff::new(waits.poll, Duration::from_secs(30), &waits.stop);
    loop {
        let r = sc.describe_record().id(record_id).send().await.aws("servicecatalog:DescribeRecord")?;
        let detail = r.record_detail();
        match detail.and_then(|d| d.status()).map(|s| s.as_str()) {
            Some("SUCCEEDED") => return Ok(Ok(())),
            Some("FAILED") | Some("IN_PROGRESS_IN_ERROR") => {
                let errors = detail
                    .map(|d| {
                        d.record_errors()
                            .iter()
                            .map(|e| {
                                (
                                    e.code().unwrap_or_default().to_string(),
                                    e.description().unwrap_or_default().to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                return Ok(Err(RecordFailure { what: what.to_string(), record: record_id.to_string(), errors }));
            }
            _ => {}
        }
        backoff.pause(waits.deadline, &format!("waiting for {what} (record {record_id})")).await?;
    }
}

/// Waits for a record's end: `Ok` when it succeeded, the record's errors when it failed.
pub async fn wait_record(sc: &Client, record_id: &str, what: &str, waits: &Waits) -> Result<(), StepError> {
    wait_outcome(sc, record_id, what, waits).await?.map_err(StepError::from)
}

/// What Control Tower has in flight in the organization, whoever started it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InFlight {
    /// The names of the provisioned products `UNDER_CHANGE`.
    pub products: Vec<String>,
    /// The accounts of those products (those Control Tower made already).
    pub product_accounts: Vec<String>,
    /// The targets (account or OU ARNs) of the `AWSControlTowerBaseline` enabled baselines
    /// `UNDER_CHANGE`; `None` when the Control Tower API does not answer here (products only are
    /// counted).
    pub baselines: Option<Vec<String>>,
    /// The baselines could not be read this time (a failure that outlasted the client's retries,
    /// before the process gave up on the API): the count is incomplete, and a wait for room
    /// counts again rather than admit an operation on it.
    pub unread: bool,
}

impl InFlight {
    /// The account operations in flight: each product `UNDER_CHANGE`, and each baseline
    /// `UNDER_CHANGE` that is not one of those products' own (an Account Factory operation on an
    /// account shows in both places; a baseline on an OU, or on an account enrolled outside
    /// Account Factory, only in the second).
    pub fn count(&self) -> usize {
        let others = self
            .baselines
            .iter()
            .flatten()
            .filter(|t| !target_account(t).is_some_and(|a| self.product_accounts.iter().any(|p| p == a)))
            .count();
        self.products.len() + others
    }
}

/// The account id an enabled baseline targets (`arn:…:account/o-…/111122223333`), if an account.
fn target_account(arn: &str) -> Option<&str> {
    let (_, path) = arn.split_once(":account/")?;
    path.rsplit('/').next().filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()))
}

/// What this provider process knows of the Control Tower API: the `AWSControlTowerBaseline` ARN
/// (looked up once), or that the API does not answer here (said once, at warn).
#[derive(Default)]
pub struct Baselines {
    /// `Some(None)`: no such baseline, or the API refused for good (denied, no such operation).
    arn: tokio::sync::OnceCell<Option<String>>,
    warned: AtomicBool,
    /// Counts in a row whose read failed past the client's retries (throttled, 5xx, no answer).
    failures: std::sync::atomic::AtomicUsize,
}

/// Failed counts in a row after which a process counts products only: an endpoint that does not
/// answer at all (a region or an emulator without Control Tower) must not hold every wait for
/// room, and one throttled or failed read must not let an operation past the cap either (at 20%
/// injected faults, a count that went by products alone admitted two operations over it).
const FAILED_COUNTS: usize = 3;

impl Baselines {
    /// One more failed read: `Ok(None)` (products only from now on) once [`FAILED_COUNTS`] in a
    /// row failed, the error otherwise.
    fn failed(&self, e: AwsError) -> Result<Option<Vec<String>>, AwsError> {
        if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= FAILED_COUNTS {
            self.warn_once(&format!("{FAILED_COUNTS} counts in a row failed, the last: {e}"));
            return Ok(None);
        }
        Err(e)
    }

    fn warn_once(&self, why: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                why,
                "Control Tower baselines in flight are not counted (only Account Factory products UNDER_CHANGE are): \
                 grant controltower:ListBaselines and controltower:ListEnabledBaselines to AWSAFTService in the \
                 Control Tower management account"
            );
        }
    }
}

/// The targets of the `AWSControlTowerBaseline` baselines `UNDER_CHANGE` (AFT's
/// `get_enabled_baselines_under_change_count`: `ListBaselines` for the ARN, then
/// `ListEnabledBaselines` filtered on it and on `UNDER_CHANGE`); `None` when the API does not
/// answer here. The baseline's ARN is looked up once per provider process. A refusal for good
/// (access denied, no such operation, a landing zone without the baseline) leaves the process
/// counting products only; a transient failure (throttled, 5xx, no answer, after the client's
/// retries) is this count's error, and after [`FAILED_COUNTS`] of them in a row the process counts
/// products only too.
pub async fn baselines_under_change(
    ct: &aws_sdk_controltower::Client,
    memo: &Baselines,
) -> Result<Option<Vec<String>>, AwsError> {
    if memo.failures.load(Ordering::Relaxed) >= FAILED_COUNTS {
        return Ok(None);
    }
    let arn = memo
        .arn
        .get_or_try_init(|| async {
            match controltower::baseline_arn(ct, CT_BASELINE).await {
                Ok(Some(arn)) => Ok::<_, AwsError>(Some(arn)),
                Ok(None) => {
                    memo.warn_once(&format!("the landing zone has no {CT_BASELINE} baseline"));
                    Ok(None)
                }
                Err(e) if !e.is_transient() => {
                    memo.warn_once(&e.to_string());
                    Ok(None)
                }
                // not remembered: the next count asks again
                Err(e) => Err(e),
            }
        })
        .await;
    let arn = match arn {
        Ok(arn) => arn,
        Err(e) => return memo.failed(e),
    };
    let Some(arn) = arn else { return Ok(None) };
    let filter =
        EnabledBaselineFilter::builder().baseline_identifiers(arn).statuses(EnablementStatus::UnderChange).build();
    let under_change = controltower::enabled_baselines(ct, &filter, false, |b| {
        (b.baseline_identifier() == arn.as_str()
            && b.status_summary().and_then(|s| s.status()) == Some(&EnablementStatus::UnderChange))
        .then(|| b.target_identifier().to_string())
    })
    .await;
    match under_change {
        Ok(targets) => {
            memo.failures.store(0, Ordering::Relaxed);
            Ok(Some(targets))
        }
        Err(e) if !e.is_transient() => {
            memo.warn_once(&e.to_string());
            Ok(None)
        }
        Err(e) => memo.failed(e),
    }
}

/// What Control Tower has in flight, read with these clients (see [`in_flight`]).
pub async fn in_flight_with(
    sc: &Client,
    ct: &aws_sdk_controltower::Client,
    memo: &Baselines,
) -> Result<InFlight, StepError> {
    let busy: Vec<Product> = search(sc, "status:UNDER_CHANGE")
        .await?
        .into_iter()
        .filter(|p| p.status == ProductStatus::UnderChange)
        .collect();
    let (baselines, unread) = match baselines_under_change(ct, memo).await {
        Ok(b) => (b, false),
        Err(e) => {
            // transient, after the SDK's own retries: this count is incomplete
            tracing::warn!(error = %e, "Control Tower baselines in flight could not be read this time");
            (None, true)
        }
    };
    Ok(InFlight {
        product_accounts: busy.iter().filter_map(|p| p.account_id.clone()).collect(),
        products: busy.into_iter().map(|p| p.name).collect(),
        baselines,
        unread,
    })
}

/// What Control Tower has in flight in the organization: the products `UNDER_CHANGE` (any
/// principal's, at the `Account` access level) and the `AWSControlTowerBaseline` baselines
/// `UNDER_CHANGE` where the Control Tower API answers. The one count every wait for room uses.
pub async fn in_flight(ctx: &Context, sc: &Client) -> Result<InFlight, StepError> {
    let ct = clients::controltower_count(&ctx.ct_session().await?);
    in_flight_with(sc, &ct, &ctx.memo::<Baselines>()).await
}

/// Waits until Control Tower has room for one more account operation: fewer than
/// `max_concurrent_operations` in flight in the organization ([`in_flight`]). The caller holds one
/// of this provider's slots and `ctx.control_tower_gate` until its request has been sent, so two
/// of this provider's operations never both take the last place.
///
/// With coordination, the room is counted across every runner of the organization: a lease for
/// the operation on `what` (the product's name) is written first, then every live lease and what
/// AWS shows in flight are counted, and the lease is kept (and returned, to be held until the
/// operation's record ends) only when the total, this operation included, is within the cap;
/// otherwise it is removed and the count is made again after a randomised pause. Two runners that
/// write at the same moment both see both leases, so neither takes a place the other took.
async fn wait_for_room(ctx: &Context, sc: &Client, what: &str, deadline: Instant) -> Result<Lease, StepError> {
    let cap = ctx.settings.max_concurrent_operations.max(1);
    let table = coordination::Table::of(ctx);
    if let Some(t) = &table {
        t.ensure(ctx, deadline).await?;
    }
    let mut backoff = Backoff::new(ctx.settings.poll_interval, Duration::from_secs(30), &ctx.stop);
    loop {
        let (lease, leases) = match &table {
            Some(t) => {
                let lease = t.take_lease(what).await?;
                match t.live_leases().await {
                    Ok(all) => (lease, all),
                    Err(e) => {
                        lease.release().await;
                        return Err(e.into());
                    }
                }
            }
            None => (Lease::none(), Vec::new()),
        };
        let now = match in_flight(ctx, sc).await {
            Ok(n) => n,
            Err(e) => {
                lease.release().await;
                return Err(e);
            }
        };
        let busy = match &table {
            // this operation's own lease is among the leases
            Some(_) => coordination::operations_in_flight(&leases, &now.products, now.count()),
            None => now.count() + 1,
        };
        // an incomplete count admits nothing: the baselines it lacks may fill the cap
        if busy <= cap && !now.unread {
            return Ok(lease);
        }
        lease.release().await;
        if now.unread {
            tracing::info!(products = ?now.products, "Control Tower's count of operations in flight is incomplete; counting again");
        } else {
            tracing::info!(
                in_flight = busy - 1,
                cap,
                leases = leases.len(),
                products = ?now.products,
                baselines = ?now.baselines,
                "Control Tower is at the cap of concurrent account operations; waiting"
            );
        }
        // a random share of a second first, so runners that collided do not collide again
        let jitter = Duration::from_millis(u64::from(uuid::Uuid::new_v4().as_bytes()[0]) * 4);
        tokio::time::sleep(jitter).await;
        backoff.pause(deadline, "waiting for Control Tower to finish other account operations").await?;
    }
}

/// Sends one Account Factory operation on product `name` once Control Tower has room for it:
/// under this process's gate (so two of its operations never take the last place at once) and
/// with the organization-wide lease of [`wait_for_room`], which is returned to be held until the
/// operation's record ends. `send` runs only once admitted.
pub(crate) async fn send_admitted<T>(
    ctx: &Context,
    sc: &Client,
    name: &str,
    deadline: Instant,
    send: impl std::future::Future<Output = T>,
) -> Result<(Lease, T), StepError> {
    let _gate = bounded(ctx.control_tower_gate.lock(), deadline, &ctx.stop, "Control Tower's queue").await?;
    let lease = wait_for_room(ctx, sc, name, deadline).await?;
    Ok((lease, send.await))
}

/// A pause before trying again what Control Tower refused as busy (it waits for room again
/// after the pause).
fn busy_pause(ctx: &Context) -> Backoff {
    Backoff::new(ctx.settings.poll_interval, BUSY_PAUSE_MAX, &ctx.stop)
}

/// The parameters for Account Factory: the request's, with the OU in the form it accepts.
fn parameters(req: &AccountRequest, ou: &str) -> Vec<(String, String)> {
    req.control_tower_parameters
        .iter()
        .map(|(k, v)| (k.clone(), if k == "ManagedOrganizationalUnit" { ou.to_string() } else { v.clone() }))
        .collect()
}

/// An update's parameters: a value, or `None` for the value the product has
/// (`UsePreviousValue`).
type UpdateParameters = Vec<(String, Option<String>)>;

fn request_update(req: &AccountRequest, ou: &str) -> UpdateParameters {
    parameters(req, ou).into_iter().map(|(k, v)| (k, Some(v))).collect()
}

/// True when Service Catalog still offers this provisioning artifact (`Active`); an artifact it
/// no longer knows is not active (AFT's `ct_provisioning_artifact_is_active`).
async fn artifact_is_active(sc: &Client, product_id: &str, artifact_id: &str) -> Result<bool, StepError> {
    match sc
        .describe_provisioning_artifact()
        .product_id(product_id)
        .provisioning_artifact_id(artifact_id)
        .send()
        .await
        .aws("servicecatalog:DescribeProvisioningArtifact")
    {
        Ok(d) => Ok(d.provisioning_artifact_detail().and_then(|x| x.active()) == Some(true)),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The product and artifact an update uses: the product's own artifact while it is active, else
/// the product's active one, as AFT's `update_existing_account` chooses (Service Catalog refuses
/// to update from an inactive artifact).
async fn update_target(ctx: &Context, sc: &Client, p: &Product) -> Result<(String, String), StepError> {
    if let (Some(product_id), Some(artifact_id)) = (&p.product_id, &p.artifact_id)
        && artifact_is_active(sc, product_id, artifact_id).await?
    {
        return Ok((product_id.clone(), artifact_id.clone()));
    }
    let (product_id, artifact_id) = product(ctx, sc).await?;
    if p.artifact_id.as_ref().is_some_and(|a| a != &artifact_id) {
        tracing::info!(product = %p.name, from = ?p.artifact_id, to = %artifact_id, "the product's provisioning artifact is no longer active; updating from the active one");
    }
    Ok((product_id, artifact_id))
}

/// How an update ended when it did not fail outright.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Updated {
    Done,
    /// Service Catalog refuses to update the product in its state ([`Refusal::NotUpdatable`]).
    NotUpdatable(String),
}

/// Sends `UpdateProvisionedProduct` (an OU move, the recovery of a product left `ERROR` or
/// `TAINTED`, a park) and waits for its record; a refusal because Control Tower is busy is sent
/// again, as a new attempt, after a pause, until the deadline. Takes a slot (unless the caller
/// holds one) and room in Control Tower before each send.
async fn update(
    ctx: &Context,
    sc: &Client,
    p: &Product,
    params: &UpdateParameters,
    caller_holds_slot: bool,
    deadline: Instant,
) -> Result<Updated, StepError> {
    let sc_params: Vec<UpdateProvisioningParameter> = params
        .iter()
        .map(|(k, v)| match v {
            Some(v) => UpdateProvisioningParameter::builder().key(k).value(v).build(),
            None => UpdateProvisioningParameter::builder().key(k).use_previous_value(true).build(),
        })
        .collect();
    let _slot = match caller_holds_slot {
        true => None,
        false => Some(slot(&ctx.vend_slots, deadline, &ctx.stop, "a vending slot").await?),
    };
    let what = format!("servicecatalog:UpdateProvisionedProduct of {}", p.name);
    let mut pause = busy_pause(ctx);
    let mut current = p.clone();
    loop {
        let (product_id, artifact_id) = update_target(ctx, sc, &current).await?;
        let (lease, sent) = send_admitted(ctx, sc, &current.name, deadline, async {
            let attempt = current.last_record_id.clone().unwrap_or_default();
            sc.update_provisioned_product()
                .provisioned_product_id(&current.id)
                .product_id(product_id)
                .provisioning_artifact_id(artifact_id)
                .set_provisioning_parameters(Some(sc_params.clone()))
                .update_token(attempt_token(&[&current.id, &format!("{params:?}")], &attempt))
                .send()
                .await
                .aws("servicecatalog:UpdateProvisionedProduct")
        })
        .await?;
        let refused = match sent {
            Ok(out) => {
                let rid = out.record_detail().and_then(|d| d.record_id()).unwrap_or_default().to_string();
                match wait_outcome(sc, &rid, &what, &Waits::of(ctx, deadline)).await? {
                    Ok(()) => return Ok(Updated::Done),
                    Err(f) => match f.refusal() {
                        Refusal::Busy => f.to_string(),
                        Refusal::NotUpdatable => return Ok(Updated::NotUpdatable(f.to_string())),
                        Refusal::Other => return Err(f.into()),
                    },
                }
            }
            Err(e) => match Refusal::of(&e.code, &e.message) {
                Refusal::Busy => e.to_string(),
                Refusal::NotUpdatable => return Ok(Updated::NotUpdatable(e.to_string())),
                Refusal::Other => return Err(e.into()),
            },
        };
        lease.release().await;
        tracing::warn!(product = %p.name, refusal = %refused, "Control Tower refused the update while another operation was in progress; trying again");
        pause.pause(deadline, &format!("trying the update of {} again", p.name)).await?;
        // the refused record is the product's last now: the next attempt gets a new token
        current = find_by_id(sc, &p.id, &p.name).await?.ok_or_else(|| {
            StepError::Failed(format!(
                "provisioned product {} ({}) disappeared while its update was retried",
                p.name, p.id
            ))
        })?;
    }
}

/// The product with this id (found by its name, which search can query).
async fn find_by_id(sc: &Client, id: &str, name: &str) -> Result<Option<Product>, StepError> {
    Ok(find_by_name(sc, name).await?.filter(|p| p.id == id))
}

/// Terminates a provisioned product (`TerminateProvisionedProduct` with a token of this attempt)
/// and waits for its record; a refusal because Control Tower is busy is sent again after a pause.
/// Terminating an Account Factory product unenrolls its account (Control Tower moves it to the
/// root); the account itself stays. The caller has decided, from typed facts, that the product
/// is its own.
async fn terminate(ctx: &Context, sc: &Client, p: &Product, deadline: Instant) -> Result<(), StepError> {
    let what = format!("servicecatalog:TerminateProvisionedProduct of {}", p.name);
    let mut pause = busy_pause(ctx);
    let mut current = p.clone();
    loop {
        if current.status == ProductStatus::UnderChange {
            // Service Catalog refuses to terminate a product under change: wait for it first
            wait_product(ctx, sc, &current, deadline).await?;
        }
        let (lease, sent) = send_admitted(ctx, sc, &current.name, deadline, async {
            let attempt = current.last_record_id.clone().unwrap_or_default();
            sc.terminate_provisioned_product()
                .provisioned_product_id(&current.id)
                .terminate_token(attempt_token(&[&current.id, "terminate"], &attempt))
                .send()
                .await
                .aws("servicecatalog:TerminateProvisionedProduct")
        })
        .await?;
        let refused = match sent {
            Ok(out) => {
                let rid = out.record_detail().and_then(|d| d.record_id()).unwrap_or_default().to_string();
                match wait_outcome(sc, &rid, &what, &Waits::of(ctx, deadline)).await? {
                    Ok(()) => return Ok(()),
                    Err(f) if f.refusal() == Refusal::Busy => f.to_string(),
                    Err(f) => return Err(f.into()),
                }
            }
            // "After the provisioned product is terminated, subsequent requests to terminate the
            // same provisioned product always return ResourceNotFound" (a resend after a lost answer)
            Err(e) if e.is_not_found() && find_by_id(sc, &p.id, &p.name).await?.is_none() => return Ok(()),
            Err(e) if Refusal::of(&e.code, &e.message) == Refusal::Busy => e.to_string(),
            Err(e) => return Err(e.into()),
        };
        lease.release().await;
        tracing::warn!(product = %p.name, refusal = %refused, "Control Tower refused the termination while another operation was in progress; trying again");
        pause.pause(deadline, &format!("trying the termination of {} again", p.name)).await?;
        match find_by_id(sc, &p.id, &p.name).await? {
            Some(fresh) => current = fresh,
            None => return Ok(()),
        }
    }
}

/// Waits, under a slot, for whatever the product is doing.
async fn wait_product(ctx: &Context, sc: &Client, p: &Product, deadline: Instant) -> Result<(), StepError> {
    let Some(rid) = &p.last_record_id else { return Ok(()) };
    let _slot = slot(&ctx.vend_slots, deadline, &ctx.stop, "a vending slot").await?;
    tracing::info!(product = %p.name, record = %rid, "an Account Factory operation is in flight; waiting for it");
    // its failure is not this request's: the product is looked at again afterwards
    match wait_record(sc, rid, &format!("Account Factory operation on {}", p.name), &Waits::of(ctx, deadline)).await {
        Err(e @ (StepError::Timeout(_) | StepError::Stopped(_))) => Err(e),
        _ => Ok(()),
    }
}

/// Waits for an Account Factory operation in flight for this request (by its product name),
/// so that an account Control Tower is still baselining is never adopted half-made.
pub async fn settle(ctx: &Context, req: &AccountRequest, deadline: Instant) -> Result<(), StepError> {
    let sc = clients::servicecatalog(&ctx.ct_session().await?);
    let name = provisioned_product_name(req.name());
    if let Some(p) = find_by_name(&sc, &name).await?
        && matches!(p.status, ProductStatus::UnderChange | ProductStatus::PlanInProgress)
    {
        wait_product(ctx, &sc, &p, deadline).await?;
    }
    Ok(())
}

/// Refuses to touch a failed product that is not this request's, as typed facts say ([`owner`]).
async fn check_owner(
    org: &aws_sdk_organizations::Client,
    sc: &Client,
    p: &Product,
    req: &AccountRequest,
    doing: &str,
) -> Result<(), StepError> {
    match owner(org, sc, p, req.email()).await? {
        Owner::This => Ok(()),
        Owner::Other { email, source } => Err(StepError::Failed(format!(
            "provisioned product {} is {} and belongs to another request: {source} is {email}, not {}; it is left \
             alone (two requests with one account name): it is not {doing}",
            p.name,
            p.status.as_str(),
            req.email()
        ))),
        Owner::Unknown => Err(StepError::Failed(format!(
            "provisioned product {} is {}, and neither an account nor an AccountEmail output says whose request it \
             is, so it is not {doing} for {}; if it is this request's failed attempt, terminate it \
             (TerminateProvisionedProduct) and apply again",
            p.name,
            p.status.as_str(),
            req.email()
        ))),
    }
}

/// The product in `ERROR` that Service Catalog refused to update, terminated so that it can be
/// provisioned again: decided again from fresh facts (still this product, still `ERROR`, still
/// this request's by [`owner`]), never from its name.
async fn terminate_refused(
    ctx: &Context,
    sc: &Client,
    org: &aws_sdk_organizations::Client,
    p: &Product,
    req: &AccountRequest,
    why: &str,
    deadline: Instant,
) -> Result<(), StepError> {
    let Some(fresh) = find_by_id(sc, &p.id, &p.name).await? else { return Ok(()) };
    if fresh.status != ProductStatus::Error {
        // something else happened to it meanwhile: the caller looks again
        return Ok(());
    }
    check_owner(org, sc, &fresh, req, "terminated").await?;
    tracing::warn!(product = %p.name, refusal = %why, "Service Catalog refuses to update the failed product; terminating it to provision it again");
    terminate(ctx, sc, &fresh, deadline).await
}

/// Provisions the account for a request (or continues the product an earlier attempt left) and
/// returns its id. The caller already holds a slot. An account that exists with the request's
/// email and has no product is enrolled by this provisioning (Control Tower enrolls instead of
/// creating).
pub async fn provision(
    ctx: &Context,
    org: &aws_sdk_organizations::Client,
    req: &AccountRequest,
    ou: &str,
    deadline: Instant,
) -> Result<String, StepError> {
    let sc = clients::servicecatalog(&ctx.ct_session().await?);
    let name = provisioned_product_name(req.name());
    let mut last_failure: Option<StepError> = None;
    let mut pause = busy_pause(ctx);
    let mut rounds = 0;
    loop {
        check_deadline(deadline, &format!("provisioning {name}"))?;
        if rounds == MAX_ROUNDS {
            return Err(
                last_failure.unwrap_or_else(|| StepError::Failed(format!("provisioned product {name} did not settle")))
            );
        }
        rounds += 1;
        // Some(refusal) when Control Tower refused this round's operation as busy
        let busy: Option<String> = match find_by_name(&sc, &name).await? {
            Some(p) => match &p.status {
                ProductStatus::UnderChange | ProductStatus::PlanInProgress => {
                    let rid = p.last_record_id.clone().unwrap_or_default();
                    let what = format!("servicecatalog:ProvisionProduct of {name}");
                    match wait_outcome(&sc, &rid, &what, &Waits::of(ctx, deadline)).await? {
                        Ok(()) => None,
                        Err(f) if f.refusal() == Refusal::Busy => Some(f.to_string()),
                        Err(f) => {
                            last_failure = Some(f.into());
                            None
                        }
                    }
                }
                ProductStatus::Available => return account_of(org, &p, req).await,
                ProductStatus::Error | ProductStatus::Tainted => {
                    if let Some(e) = last_failure.take() {
                        // this apply's own attempt just failed: report it; the next apply retries
                        return Err(e);
                    }
                    // the name alone does not make it this request's: another request (another
                    // configuration, AFT, the console) may hold it, and an update would give that
                    // product this request's email and SSO parameters
                    check_owner(org, &sc, &p, req, "updated").await?;
                    // what AWS documents for a product left ERROR or TAINTED: update it with the
                    // request's parameters (a new token, so the failed record is not replayed)
                    tracing::warn!(product = %name, status = ?p.status, "recovering the provisioned product with an update");
                    match update(ctx, &sc, &p, &request_update(req, ou), true, deadline).await {
                        Ok(Updated::Done) => None,
                        Ok(Updated::NotUpdatable(why)) if p.status == ProductStatus::Error => {
                            terminate_refused(ctx, &sc, org, &p, req, &why, deadline).await.map_err(|e| {
                                StepError::Failed(format!(
                                    "provisioned product {name} is ERROR, Service Catalog refuses to update it ({why}), \
                                     and terminating it to provision it again failed: {e}"
                                ))
                            })?;
                            None
                        }
                        Ok(Updated::NotUpdatable(why)) => {
                            return Err(StepError::Failed(format!(
                                "provisioned product {name} is {} and Service Catalog refuses to update it: {why}",
                                p.status.as_str()
                            )));
                        }
                        Err(e @ (StepError::Timeout(_) | StepError::Stopped(_))) => return Err(e),
                        Err(e) => {
                            return Err(StepError::Failed(format!(
                                "provisioned product {name} was {:?} and its recovery failed: {e}",
                                p.status
                            )));
                        }
                    }
                }
                ProductStatus::Other(s) => {
                    return Err(StepError::Failed(format!(
                        "provisioned product {name} is {s}; expected a stable state"
                    )));
                }
            },
            None => {
                let (product_id, artifact_id) = product(ctx, &sc).await?;
                let params: Vec<ProvisioningParameter> = parameters(req, ou)
                    .into_iter()
                    .map(|(k, v)| ProvisioningParameter::builder().key(k).value(v).build())
                    .collect();
                let (lease, sent) = send_admitted(ctx, &sc, &name, deadline, async {
                    // a new attempt (nothing of this name exists): a fresh token, kept for the SDK's
                    // own resends of this one call
                    let attempt = uuid::Uuid::new_v4().to_string();
                    sc.provision_product()
                        .product_id(product_id)
                        .provisioning_artifact_id(artifact_id)
                        .provisioned_product_name(&name)
                        .set_provisioning_parameters(Some(params))
                        .provision_token(attempt_token(
                            &[&req.email().to_ascii_lowercase(), req.name(), &name],
                            &attempt,
                        ))
                        .send()
                        .await
                        .aws("servicecatalog:ProvisionProduct")
                })
                .await?;
                let outcome = match sent {
                    Ok(out) => {
                        let rid = out.record_detail().and_then(|d| d.record_id()).unwrap_or_default().to_string();
                        let what = format!("servicecatalog:ProvisionProduct for {}", req.email());
                        match wait_outcome(&sc, &rid, &what, &Waits::of(ctx, deadline)).await? {
                            Ok(()) => None,
                            Err(f) if f.refusal() == Refusal::Busy => Some(f.to_string()),
                            Err(f) => {
                                last_failure = Some(f.into());
                                None
                            }
                        }
                    }
                    Err(e) if Refusal::of(&e.code, &e.message) == Refusal::Busy => Some(e.to_string()),
                    // the name is taken after all (another apply, or a search that lagged): look again
                    Err(e)
                        if e.code == "DuplicateResourceException"
                            || (e.code == "InvalidParametersException" && e.message.contains("already exists")) =>
                    {
                        tracing::warn!(product = %name, error = %e, "the provisioned product exists; continuing it");
                        None
                    }
                    Err(e) => return Err(e.into()),
                };
                lease.release().await;
                outcome
            }
        };
        if let Some(refusal) = busy {
            // not a round: Control Tower's limit is waited out until the deadline, however long
            rounds -= 1;
            tracing::warn!(product = %name, %refusal, "Control Tower refused the operation while another was in progress; trying again");
            pause.pause(deadline, &format!("trying {name} again after Control Tower refused it as busy")).await?;
        }
    }
}

/// Whose request a provisioned product serves, as typed facts say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The request whose email was compared.
    This,
    /// Another request: the email found, and where it was found.
    Other { email: String, source: String },
    /// Nothing says: the product has no account and no `AccountEmail` output.
    Unknown,
}

/// Whose request `p` serves: the email of its account in Organizations (`PhysicalId`), else its
/// `AccountEmail` output (`GetProvisionedProductOutputs`, as AFT reads it), compared with `email`
/// ignoring case. A product whose provisioning failed before Control Tower made the account has
/// no account; AWS does not document its outputs, so their absence is [`Owner::Unknown`].
pub async fn owner(
    org: &aws_sdk_organizations::Client,
    sc: &Client,
    p: &Product,
    email: &str,
) -> Result<Owner, StepError> {
    let judge = |found: &str, source: String| match found.eq_ignore_ascii_case(email) {
        true => Owner::This,
        false => Owner::Other { email: found.to_string(), source },
    };
    if let Some(id) = &p.account_id
        && let Some(a) = crate::aws::organizations::describe_account(org, id).await?
        && !a.email.is_empty()
    {
        return Ok(judge(&a.email, format!("the email of its account {id}")));
    }
    let out = sc
        .get_provisioned_product_outputs()
        .provisioned_product_id(&p.id)
        .output_keys("AccountEmail")
        .send()
        .await
        .aws("servicecatalog:GetProvisionedProductOutputs")?;
    let output = out
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("AccountEmail"))
        .and_then(|o| o.output_value())
        .filter(|v| !v.is_empty());
    Ok(match output {
        Some(found) => judge(found, "its AccountEmail output".to_string()),
        None => Owner::Unknown,
    })
}

/// The account a healthy product provisioned, checked against the request's email.
async fn account_of(
    org: &aws_sdk_organizations::Client,
    p: &Product,
    req: &AccountRequest,
) -> Result<String, StepError> {
    let account = match &p.account_id {
        Some(id) => crate::aws::organizations::describe_account(org, id).await?,
        None => crate::aws::organizations::find_account_by_email(org, req.email()).await?,
    };
    match account {
        Some(a) if a.email.eq_ignore_ascii_case(req.email()) => Ok(a.id),
        Some(a) => Err(StepError::Failed(format!(
            "provisioned product {} belongs to account {} ({}), not to {}: two requests with one account name",
            p.name,
            a.id,
            a.email,
            req.email()
        ))),
        None => Err(StepError::Failed(format!(
            "Account Factory finished {}, but no account has the email {}",
            p.name,
            req.email()
        ))),
    }
}

/// The account's product, after waiting for an operation it has in flight.
async fn settled_product_of(
    ctx: &Context,
    sc: &Client,
    account_id: &str,
    deadline: Instant,
) -> Result<Option<Product>, StepError> {
    let p = find_by_account(sc, account_id).await?;
    match p.as_ref().filter(|p| p.status == ProductStatus::UnderChange) {
        Some(busy) => {
            wait_product(ctx, sc, busy, deadline).await?;
            Ok(find_by_account(sc, account_id).await?)
        }
        None => Ok(p),
    }
}

/// Moves a provisioned account to another OU through Account Factory (an update of its product).
pub async fn move_account(
    ctx: &Context,
    account_id: &str,
    req: &AccountRequest,
    ou: &str,
    deadline: Instant,
) -> Result<(), StepError> {
    let sc = clients::servicecatalog(&ctx.ct_session().await?);
    let Some(p) = settled_product_of(ctx, &sc, account_id, deadline).await? else {
        return Err(StepError::Failed(format!(
            "account {account_id} has no Account Factory provisioned product, so Control Tower cannot move it"
        )));
    };
    match update(ctx, &sc, &p, &request_update(req, ou), false, deadline).await? {
        Updated::Done => Ok(()),
        Updated::NotUpdatable(why) => Err(StepError::Failed(format!(
            "provisioned product {} of account {account_id} is {} and Service Catalog refuses to update it: {why}",
            p.name,
            p.status.as_str()
        ))),
    }
}

/// Moves an enrolled account to `ou` (in the form Account Factory accepts, see
/// `vend::account_factory_ou`) through an update of its product, every other parameter kept as the
/// product has it (`UsePreviousValue`): a park that keeps the account enrolled, where
/// `MoveAccount` would leave Control Tower reporting drift. False when the account has no
/// product (nothing was done).
pub async fn move_enrolled(ctx: &Context, account_id: &str, ou: &str, deadline: Instant) -> Result<bool, StepError> {
    let sc = clients::servicecatalog(&ctx.ct_session().await?);
    let Some(p) = settled_product_of(ctx, &sc, account_id, deadline).await? else { return Ok(false) };
    let params: UpdateParameters = PARAMETERS
        .iter()
        .map(|k| (k.to_string(), (*k == "ManagedOrganizationalUnit").then(|| ou.to_string())))
        .collect();
    match update(ctx, &sc, &p, &params, false, deadline).await? {
        Updated::Done => Ok(true),
        Updated::NotUpdatable(why) => Err(StepError::Failed(format!(
            "provisioned product {} of account {account_id} is {} and Service Catalog refuses to update it, so the \
             account cannot be parked in {ou} through Account Factory: {why}",
            p.name,
            p.status.as_str()
        ))),
    }
}

/// What [`terminate_for_account`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TerminateOutcome {
    /// This provisioned product was terminated: Control Tower no longer manages the account
    /// (it moves it to the root); the account stays open.
    Terminated { product: String },
    /// The account has no Account Factory provisioned product (never enrolled, or already
    /// terminated).
    NoProduct,
}

/// Terminates the Account Factory provisioned product of `account_id` (Control Tower's unenroll:
/// the account stays, outside Control Tower's management, at the root) and waits for its record.
/// The product is the account's by its `PhysicalId`, and terminated only when the account's email
/// (or, without one, the product's `AccountEmail` output) is `email` ([`owner`]); any other
/// answer is an error naming the product and both emails, and nothing is terminated.
pub async fn terminate_for_account(
    ctx: &Context,
    account_id: &str,
    email: &str,
    deadline: Instant,
) -> Result<TerminateOutcome, StepError> {
    let sc = clients::servicecatalog(&ctx.ct_session().await?);
    let org = clients::organizations(&ctx.ct_session().await?);
    let Some(p) = settled_product_of(ctx, &sc, account_id, deadline).await? else {
        return Ok(TerminateOutcome::NoProduct);
    };
    match owner(&org, &sc, &p, email).await? {
        Owner::This => {}
        Owner::Other { email: found, source } => {
            return Err(StepError::Failed(format!(
                "provisioned product {} of account {account_id} is not terminated: {source} is {found}, not {email}",
                p.name
            )));
        }
        Owner::Unknown => {
            return Err(StepError::Failed(format!(
                "provisioned product {} of account {account_id} is not terminated: nothing says it is {email}'s",
                p.name
            )));
        }
    }
    tracing::info!(product = %p.name, account = account_id, "terminating the provisioned product (Control Tower unenrolls the account)");
    terminate(ctx, &sc, &p, deadline).await?;
    Ok(TerminateOutcome::Terminated { product: p.name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioned_product_name_follows_aft() {
        assert_eq!(provisioned_product_name(" Sandbox Account A "), "Sandbox-Account-A");
    }

    #[test]
    fn provisioned_product_names_follow_service_catalogs_pattern() {
        for ok in ["sandbox", "Sandbox-Account-A", "a.b_c-1", "9lives"] {
            assert_eq!(check_provisioned_product_name(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("Ada's-Lab", "'\\'' is not allowed"),
            ("-lead", "it starts with '-'"),
            ("", "it is empty"),
            ("caf\u{e9}", "'\u{e9}' is not allowed"),
        ] {
            assert_eq!(check_provisioned_product_name(bad), Err(why.to_string()), "{bad}");
        }
        assert!(check_provisioned_product_name(&"a".repeat(129)).is_err());
    }

    #[test]
    fn a_token_names_one_attempt() {
        let a = attempt_token(&["x@example.com", "x"], "rec-1");
        assert_eq!(a, attempt_token(&["x@example.com", "x"], "rec-1"), "a resent call replays");
        assert_ne!(a, attempt_token(&["x@example.com", "x"], "rec-2"), "a new attempt is a new request");
        assert_ne!(a, attempt_token(&["y@example.com", "x"], "rec-1"));
        assert!(a.starts_with("aft-") && a.len() == 20);
    }

    #[test]
    fn refusals_are_told_apart_by_their_code_and_message() {
        // Control Tower's limit, as a record error (AFT #363) and as terraform-provider-aws shows it
        let busy = "Account Factory cannot complete an operation on this account, because another AWS Control \
                    Tower operation is in progress. Try again later.";
        assert_eq!(Refusal::of("ResourceInUseException", busy), Refusal::Busy);
        assert_eq!(Refusal::of("", &format!("ResourceInUseException: {busy}")), Refusal::Busy);
        assert_eq!(Refusal::of("ResourceInUseException", "AWS Control Tower is busy"), Refusal::Busy);
        // CloudFormation's rule for a stack whose creation failed, as a call's or a record's error
        let rollback = "Stack:arn:aws:cloudformation:us-east-1:111122223333:stack/SC-111122223333-pp-x/1 is in \
                        ROLLBACK_COMPLETE state and can not be updated.";
        assert_eq!(Refusal::of("InvalidStateException", rollback), Refusal::NotUpdatable);
        assert_eq!(Refusal::of("ValidationError", rollback), Refusal::NotUpdatable);
        // anything else is reported as it is
        assert_eq!(Refusal::of("InvalidStateException", "the provisioned product is under change"), Refusal::Other);
        assert_eq!(Refusal::of("ResourceInUseException", "the portfolio is in use"), Refusal::Other);
        assert_eq!(
            Refusal::of(
                "ProvisioningFailed",
                "The organizational unit Sandbox is not registered with AWS Control Tower"
            ),
            Refusal::Other
        );
    }

    #[test]
    fn a_record_is_busy_when_any_of_its_errors_is_control_towers_limit() {
        let failure = |errors: &[(&str, &str)]| RecordFailure {
            what: "servicecatalog:ProvisionProduct of sandbox".into(),
            record: "rec-1".into(),
            errors: errors.iter().map(|(c, d)| (c.to_string(), d.to_string())).collect(),
        };
        let busy = ("ResourceInUseException", "because another AWS Control Tower operation is in progress");
        let other = ("ProvisioningFailed", "rolled back");
        assert_eq!(failure(&[other, busy]).refusal(), Refusal::Busy);
        assert_eq!(failure(&[other, ("ValidationError", "can not be updated")]).refusal(), Refusal::NotUpdatable);
        assert_eq!(failure(&[other]).refusal(), Refusal::Other);
        assert_eq!(failure(&[]).refusal(), Refusal::Other);
        let e = StepError::from(failure(&[other, ("X", "second")]));
        assert_eq!(
            e.to_string(),
            "servicecatalog:ProvisionProduct of sandbox (record rec-1) failed: rolled back; second"
        );
    }

    #[test]
    fn an_account_factory_operation_seen_as_product_and_baseline_counts_once() {
        let acct = |id: &str| format!("arn:aws:organizations::999999999999:account/o-abc/{id}");
        let ou = "arn:aws:organizations::999999999999:ou/o-abc/ou-ab12-cdef3456".to_string();
        let now = InFlight {
            products: vec!["a".into(), "b".into(), "console-x".into()],
            product_accounts: vec!["111111111111".into(), "222222222222".into()],
            baselines: Some(vec![acct("111111111111"), acct("222222222222"), acct("333333333333"), ou]),
            unread: false,
        };
        // three products, plus an account enrolled elsewhere and an OU being registered
        assert_eq!(now.count(), 5);
        assert_eq!(InFlight { baselines: None, ..now.clone() }.count(), 3, "products only when the API did not answer");
        assert_eq!(InFlight::default().count(), 0);
        assert_eq!(target_account(&acct("111111111111")), Some("111111111111"));
        assert_eq!(target_account("arn:aws:organizations::9:ou/o-abc/ou-ab12-cdef3456"), None);
    }
}
