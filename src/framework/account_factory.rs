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
//! - Idempotency tokens identify one attempt: derived from the request and the product's last
//!   record, so a call resent after a lost answer replays, and a new attempt after a failure never
//!   replays the failed record.
//! - Control Tower runs at most [`CONTROL_TOWER_LIMIT`] account operations at once in the whole
//!   organization; every provisioning and update here first waits until fewer are in flight
//!   (products `UNDER_CHANGE`, whoever started them), as AFT 1.19 does.
//! - Searches use the `Account` access level, so products other principals started are seen.

use std::time::{Duration, Instant};

use aws_sdk_servicecatalog::Client;
use aws_sdk_servicecatalog::types::{
    AccessLevelFilter, AccessLevelFilterKey, ProvisionedProductAttribute, ProvisionedProductViewFilterBy,
    ProvisioningParameter, UpdateProvisioningParameter,
};

use super::StepError;
use super::poll::{Backoff, Waits, bounded, check_deadline, slot};
use super::request::AccountRequest;
use crate::aws::{AwsError, AwsResultExt, clients};
use crate::context::Context;

/// Control Tower's organization-wide limit on concurrent account operations.
pub const CONTROL_TOWER_LIMIT: usize = 5;

/// How many times one apply continues a product (waits, recovers, provisions) before it gives up.
const MAX_ROUNDS: usize = 4;

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

/// Waits for a record's end: `Ok` when it succeeded, the record's errors when it failed.
pub async fn wait_record(sc: &Client, record_id: &str, what: &str, waits: &Waits) -> Result<(), StepError> {
    let mut backoff = Backoff::new(waits.poll, Duration::from_secs(30), &waits.stop);
    loop {
        let r = sc.describe_record().id(record_id).send().await.aws("servicecatalog:DescribeRecord")?;
        let detail = r.record_detail();
        match detail.and_then(|d| d.status()).map(|s| s.as_str()) {
            Some("SUCCEEDED") => return Ok(()),
            Some("FAILED") | Some("IN_PROGRESS_IN_ERROR") => {
                let errs: Vec<String> = detail
                    .map(|d| {
                        d.record_errors().iter().map(|e| e.description().unwrap_or_default().to_string()).collect()
                    })
                    .unwrap_or_default();
                return Err(StepError::Failed(format!("{what} (record {record_id}) failed: {}", errs.join("; "))));
            }
            _ => {}
        }
        backoff.pause(waits.deadline, &format!("waiting for {what} (record {record_id})")).await?;
    }
}

/// Waits until Control Tower has room for one more account operation: fewer than
/// [`CONTROL_TOWER_LIMIT`] products `UNDER_CHANGE` in the organization. The caller holds one of
/// this provider's slots and `ctx.control_tower_gate` until its request has been sent, so two
/// of this provider's operations never both take the last place.
async fn wait_for_room(ctx: &Context, sc: &Client, deadline: Instant) -> Result<(), StepError> {
    let mut backoff = Backoff::new(ctx.settings.poll_interval, Duration::from_secs(30), &ctx.stop);
    loop {
        let busy = search(sc, "status:UNDER_CHANGE")
            .await?
            .into_iter()
            .filter(|p| p.status == ProductStatus::UnderChange)
            .count();
        if busy < CONTROL_TOWER_LIMIT {
            return Ok(());
        }
        tracing::info!(in_flight = busy, "Control Tower is at its limit of concurrent account operations; waiting");
        backoff.pause(deadline, "waiting for Control Tower to finish other account operations").await?;
    }
}

/// The parameters for Account Factory: the request's, with the OU in the form it accepts.
fn parameters(req: &AccountRequest, ou: &str) -> Vec<(String, String)> {
    req.control_tower_parameters
        .iter()
        .map(|(k, v)| (k.clone(), if k == "ManagedOrganizationalUnit" { ou.to_string() } else { v.clone() }))
        .collect()
}

/// Sends `UpdateProvisionedProduct` with the request's parameters (an OU move, or the recovery
/// of a product left `ERROR` or `TAINTED`) and waits for its record. Takes a slot (unless the
/// caller holds one) and room in Control Tower before sending.
async fn update(
    ctx: &Context,
    sc: &Client,
    p: &Product,
    req: &AccountRequest,
    ou: &str,
    caller_holds_slot: bool,
    deadline: Instant,
) -> Result<(), StepError> {
    let (product_id, artifact_id) = match (&p.product_id, &p.artifact_id) {
        (Some(a), Some(b)) => (a.clone(), b.clone()),
        _ => product(ctx, sc).await?,
    };
    let params: Vec<UpdateProvisioningParameter> = parameters(req, ou)
        .into_iter()
        .map(|(k, v)| UpdateProvisioningParameter::builder().key(k).value(v).build())
        .collect();
    let _slot = match caller_holds_slot {
        true => None,
        false => Some(slot(&ctx.vend_slots, deadline, &ctx.stop, "a vending slot").await?),
    };
    let rid = {
        let _gate = bounded(ctx.control_tower_gate.lock(), deadline, &ctx.stop, "Control Tower's queue").await?;
        wait_for_room(ctx, sc, deadline).await?;
        let attempt = p.last_record_id.clone().unwrap_or_default();
        let out = sc
            .update_provisioned_product()
            .provisioned_product_id(&p.id)
            .product_id(product_id)
            .provisioning_artifact_id(artifact_id)
            .set_provisioning_parameters(Some(params))
            .update_token(attempt_token(&[&p.id, ou, &format!("{:?}", req.control_tower_parameters)], &attempt))
            .send()
            .await
            .aws("servicecatalog:UpdateProvisionedProduct")?;
        out.record_detail().and_then(|d| d.record_id()).unwrap_or_default().to_string()
    };
    wait_record(sc, &rid, &format!("servicecatalog:UpdateProvisionedProduct of {}", p.name), &Waits::of(ctx, deadline))
        .await
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

/// Provisions the account for a request (or continues the product an earlier attempt left) and
/// returns its id. The caller already holds a slot.
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
    for _ in 0..MAX_ROUNDS {
        check_deadline(deadline, &format!("provisioning {name}"))?;
        match find_by_name(&sc, &name).await? {
            Some(p) => match &p.status {
                ProductStatus::UnderChange | ProductStatus::PlanInProgress => {
                    let rid = p.last_record_id.clone().unwrap_or_default();
                    let what = format!("servicecatalog:ProvisionProduct of {name}");
                    match wait_record(&sc, &rid, &what, &Waits::of(ctx, deadline)).await {
                        Err(e @ (StepError::Timeout(_) | StepError::Stopped(_))) => return Err(e),
                        Err(e) => last_failure = Some(e),
                        Ok(()) => {}
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
                    match owner(org, &sc, &p, req.email()).await? {
                        Owner::This => {}
                        Owner::Other { email, source } => {
                            return Err(StepError::Failed(format!(
                                "provisioned product {name} is {} and belongs to another request: {source} is {email}, \
                                 not {}; it is left alone (two requests with one account name)",
                                p.status.as_str(),
                                req.email()
                            )));
                        }
                        Owner::Unknown => {
                            return Err(StepError::Failed(format!(
                                "provisioned product {name} is {}, and neither an account nor an AccountEmail output \
                                 says whose request it is, so it is not updated with {}'s parameters; if it is this \
                                 request's failed attempt, terminate it (TerminateProvisionedProduct) and apply again",
                                p.status.as_str(),
                                req.email()
                            )));
                        }
                    }
                    // what AWS documents for a product left ERROR or TAINTED: update it with the
                    // request's parameters (a new token, so the failed record is not replayed)
                    tracing::warn!(product = %name, status = ?p.status, "recovering the provisioned product with an update");
                    if let Err(e) = update(ctx, &sc, &p, req, ou, true, deadline).await {
                        return Err(StepError::Failed(format!(
                            "provisioned product {name} was {:?} and its recovery failed: {e}",
                            p.status
                        )));
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
                let sent = {
                    let _gate =
                        bounded(ctx.control_tower_gate.lock(), deadline, &ctx.stop, "Control Tower's queue").await?;
                    wait_for_room(ctx, &sc, deadline).await?;
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
                };
                match sent {
                    Ok(out) => {
                        let rid = out.record_detail().and_then(|d| d.record_id()).unwrap_or_default().to_string();
                        let what = format!("servicecatalog:ProvisionProduct for {}", req.email());
                        match wait_record(&sc, &rid, &what, &Waits::of(ctx, deadline)).await {
                            Err(e @ (StepError::Timeout(_) | StepError::Stopped(_))) => return Err(e),
                            Err(e) => last_failure = Some(e),
                            Ok(()) => {}
                        }
                    }
                    // the name is taken after all (another apply, or a search that lagged): look again
                    Err(e)
                        if e.code == "DuplicateResourceException"
                            || (e.code == "InvalidParametersException" && e.message.contains("already exists")) =>
                    {
                        tracing::warn!(product = %name, error = %e, "the provisioned product exists; continuing it");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Err(last_failure.unwrap_or_else(|| StepError::Failed(format!("provisioned product {name} did not settle"))))
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

/// Moves a provisioned account to another OU through Account Factory (an update of its product).
pub async fn move_account(
    ctx: &Context,
    account_id: &str,
    req: &AccountRequest,
    ou: &str,
    deadline: Instant,
) -> Result<(), StepError> {
    let sc = clients::servicecatalog(&ctx.ct_session().await?);
    let mut p = find_by_account(&sc, account_id).await?;
    if let Some(busy) = p.as_ref().filter(|p| p.status == ProductStatus::UnderChange) {
        wait_product(ctx, &sc, busy, deadline).await?;
        p = find_by_account(&sc, account_id).await?;
    }
    let Some(p) = p else {
        return Err(StepError::Failed(format!(
            "account {account_id} has no Account Factory provisioned product, so Control Tower cannot move it"
        )));
    };
    update(ctx, &sc, &p, req, ou, false, deadline).await
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
}
