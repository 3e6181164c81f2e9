//! Vending: find or create the account for a request, move it between OUs, and retire it.
//!
//! An account with the request's email (ignoring case) is always adopted instead of created, so a
//! crashed apply, a replacement or an import never makes a second account. Creation runs under the
//! provider-wide `max_concurrent_operations` cap, by Organizations `CreateAccount` or by the
//! Service Catalog Account Factory product (`ProvisionProduct`, polled with `DescribeRecord`).

use std::time::{Duration, Instant};

use aws_sdk_organizations::types::CreateAccountState;
use aws_sdk_servicecatalog::types::{ProvisioningParameter, UpdateProvisioningParameter};

use super::StepError;
use super::poll::Backoff;
use super::request::AccountRequest;
use crate::aws::organizations::{self, AccountInfo, OuRef};
use crate::aws::{AwsError, AwsResultExt, clients};
use crate::context::{Context, VendMethod};

/// The account a request resolved to.
#[derive(Clone, Debug)]
pub struct Vended {
    pub account: AccountInfo,
    /// True when an existing account was adopted.
    pub adopted: bool,
}

fn check_deadline(deadline: Instant, what: &str) -> Result<(), StepError> {
    if Instant::now() >= deadline { Err(StepError::Timeout(what.to_string())) } else { Ok(()) }
}

/// Resolves `ManagedOrganizationalUnit` (or any OU string) to an OU or root id.
pub async fn resolve_ou(ctx: &Context, ou: &str) -> Result<String, StepError> {
    let org = clients::organizations(&ctx.ct_session().await?);
    let r = OuRef::parse(ou).map_err(StepError::Failed)?;
    let root = organizations::root_id(&org).await?;
    if let OuRef::Id(id) = &r
        && id == &root
    {
        return Ok(root);
    }
    let ous = organizations::all_ous(&org).await?;
    organizations::resolve_ou(&ous, &root, &r).map_err(StepError::Failed)
}

/// Finds the account by email or creates it; waits until it is ready.
pub async fn find_or_create(ctx: &Context, req: &AccountRequest, deadline: Instant) -> Result<Vended, StepError> {
    let org = clients::organizations(&ctx.ct_session().await?);
    if let Some(a) = adoptable(&org, req.email()).await? {
        return Ok(Vended { account: a, adopted: true });
    }
    // resolve the OU before anything is created: a bad OU must not leave an account behind
    let ou = resolve_ou(ctx, req.ou()).await?;
    let _slot = ctx.vend_slots.acquire().await.map_err(|e| StepError::Failed(e.to_string()))?;
    // another apply may have finished it while we waited for a slot
    if let Some(a) = adoptable(&org, req.email()).await? {
        return Ok(Vended { account: a, adopted: true });
    }
    tracing::info!(email = req.email(), method = ?ctx.settings.method, "vending a new account");
    let id = match ctx.settings.method {
        VendMethod::Organizations => create_with_organizations(ctx, &org, req, &ou, deadline).await?,
        VendMethod::ControlTower => create_with_service_catalog(ctx, &org, req, deadline).await?,
    };
    let account = organizations::describe_account(&org, &id)
        .await?
        .ok_or_else(|| StepError::Failed(format!("account {id} was created but cannot be described")))?;
    Ok(Vended { account, adopted: false })
}

async fn adoptable(org: &aws_sdk_organizations::Client, email: &str) -> Result<Option<AccountInfo>, StepError> {
    match organizations::find_account_by_email(org, email).await? {
        Some(a) if a.status == "ACTIVE" => Ok(Some(a)),
        Some(a) => Err(StepError::Failed(format!(
            "account {} with email {} exists but is {}: a closed account's email cannot be reused",
            a.id, a.email, a.status
        ))),
        None => Ok(None),
    }
}

async fn create_with_organizations(
    ctx: &Context,
    org: &aws_sdk_organizations::Client,
    req: &AccountRequest,
    ou: &str,
    deadline: Instant,
) -> Result<String, StepError> {
    // a CreateAccount still running from an interrupted apply: wait for it instead of a second one
    let pending = org
        .list_create_account_status()
        .states(CreateAccountState::InProgress)
        .send()
        .await
        .aws("organizations:ListCreateAccountStatus")?;
    let request_id = match pending.create_account_statuses().iter().find(|s| s.account_name() == Some(req.name())) {
        Some(s) => s.id().unwrap_or_default().to_string(),
        None => match start_create_account(ctx, org, req, deadline).await? {
            Started::Request(id) => id,
            Started::Account(id) => {
                move_account(org, &id, ou).await?;
                return Ok(id);
            }
        },
    };
    let mut backoff = Backoff::new(ctx.settings.poll_interval, Duration::from_secs(15));
    let id = loop {
        let s = org
            .describe_create_account_status()
            .create_account_request_id(&request_id)
            .send()
            .await
            .aws("organizations:DescribeCreateAccountStatus")?;
        let st = s.create_account_status();
        match st.and_then(|s| s.state()) {
            Some(CreateAccountState::Succeeded) => {
                break st.and_then(|s| s.account_id()).unwrap_or_default().to_string();
            }
            Some(CreateAccountState::Failed) => {
                return Err(StepError::Failed(format!(
                    "organizations:CreateAccount for {} failed: {}",
                    req.email(),
                    st.and_then(|s| s.failure_reason()).map(|r| r.as_str()).unwrap_or("no reason given")
                )));
            }
            _ => {}
        }
        check_deadline(deadline, "waiting for organizations:CreateAccount")?;
        if !backoff.wait().await {
            return Err(StepError::Stopped("waiting for organizations:CreateAccount".into()));
        }
    };
    move_account(org, &id, ou).await?;
    Ok(id)
}

/// What an attempt to create an account found.
enum Started {
    /// A CreateAccount request to wait for.
    Request(String),
    /// The account already exists (an earlier attempt whose answer was lost created it).
    Account(String),
}

/// Sends CreateAccount once at a time. CreateAccount is not idempotent, so the SDK must not
/// resend it on its own: when an answer is lost (dropped connection, 5xx, throttling) the
/// request may have been applied, so the organization is asked first whether the account or
/// its creation exists, and only then is the call made again.
async fn start_create_account(
    ctx: &Context,
    org: &aws_sdk_organizations::Client,
    req: &AccountRequest,
    deadline: Instant,
) -> Result<Started, StepError> {
    let mut wait = Duration::from_millis(250);
    loop {
        let sent = org
            .create_account()
            .email(req.email())
            .account_name(req.name())
            .role_name(&ctx.settings.roles.control_tower_execution)
            .customize()
            .config_override(
                aws_sdk_organizations::config::Builder::default()
                    .retry_config(aws_smithy_types::retry::RetryConfig::disabled()),
            )
            .send()
            .await;
        let err = match sent {
            Ok(out) => {
                return Ok(Started::Request(
                    out.create_account_status().and_then(|s| s.id()).unwrap_or_default().to_string(),
                ));
            }
            Err(e) => AwsError::from_sdk("organizations:CreateAccount", e),
        };
        if !err.is_transient() {
            return Err(err.into());
        }
        tracing::warn!(email = req.email(), error = %err, "CreateAccount answer lost or refused; checking before trying again");
        if let Some(a) = adoptable(org, req.email()).await? {
            return Ok(Started::Account(a.id));
        }
        let pending = org
            .list_create_account_status()
            .states(CreateAccountState::InProgress)
            .send()
            .await
            .aws("organizations:ListCreateAccountStatus")?;
        if let Some(s) = pending.create_account_statuses().iter().find(|s| s.account_name() == Some(req.name())) {
            return Ok(Started::Request(s.id().unwrap_or_default().to_string()));
        }
        if Instant::now() + wait >= deadline {
            return Err(err.into());
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}

/// An idempotency token for a Service Catalog request: the same request gets the same token,
/// so a call repeated after an interruption cannot start a second provisioning.
pub fn request_token(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.join("\u{1f}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("aft-{h:016x}")
}

/// Moves an account under `ou` if it is elsewhere; returns true when it moved.
pub async fn move_account(org: &aws_sdk_organizations::Client, account: &str, ou: &str) -> Result<bool, StepError> {
    let (parent, _) = organizations::parent(org, account).await?;
    if parent == ou {
        return Ok(false);
    }
    let moved = org
        .move_account()
        .account_id(account)
        .source_parent_id(&parent)
        .destination_parent_id(ou)
        .send()
        .await
        .aws("organizations:MoveAccount");
    match moved {
        Ok(_) => Ok(true),
        // the answer (or a retry's) may be lost after the move happened: look before failing
        Err(e) if organizations::parent(org, account).await.is_ok_and(|(now, _)| now == ou) => {
            tracing::warn!(account, error = %e, "MoveAccount reported an error, but the account is where it should be");
            Ok(true)
        }
        Err(e) => Err(e.in_account(account).into()),
    }
}

/// The Account Factory product id and its active provisioning artifact.
async fn product(ctx: &Context, sc: &aws_sdk_servicecatalog::Client) -> Result<(String, String), StepError> {
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

async fn search_products(
    sc: &aws_sdk_servicecatalog::Client,
    query: &str,
) -> Result<aws_sdk_servicecatalog::operation::search_provisioned_products::SearchProvisionedProductsOutput, StepError>
{
    Ok(sc
        .search_provisioned_products()
        .filters(aws_sdk_servicecatalog::types::ProvisionedProductViewFilterBy::SearchQuery, vec![query.to_string()])
        .send()
        .await
        .aws("servicecatalog:SearchProvisionedProducts")?)
}

/// AFT's provisioned product name: the account name, trimmed, spaces as hyphens.
pub fn provisioned_product_name(account_name: &str) -> String {
    account_name.trim().replace(' ', "-")
}

async fn wait_record(
    ctx: &Context,
    sc: &aws_sdk_servicecatalog::Client,
    record_id: &str,
    what: &str,
    deadline: Instant,
) -> Result<(), StepError> {
    let mut backoff = Backoff::new(ctx.settings.poll_interval, Duration::from_secs(30));
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
        check_deadline(deadline, &format!("waiting for {what} (record {record_id})"))?;
        if !backoff.wait().await {
            return Err(StepError::Stopped(format!("waiting for {what} (record {record_id})")));
        }
    }
}

fn sc_params(req: &AccountRequest) -> Vec<ProvisioningParameter> {
    req.control_tower_parameters.iter().map(|(k, v)| ProvisioningParameter::builder().key(k).value(v).build()).collect()
}

async fn create_with_service_catalog(
    ctx: &Context,
    org: &aws_sdk_organizations::Client,
    req: &AccountRequest,
    deadline: Instant,
) -> Result<String, StepError> {
    let sc = clients::servicecatalog(&ctx.ct_session().await?);
    let name = provisioned_product_name(req.name());
    // a provisioning left running by an interrupted apply: wait for it instead of starting another
    let existing = search_products(&sc, &format!("name:{name}")).await?;
    let in_flight = existing
        .provisioned_products()
        .iter()
        .find(|p| p.name() == Some(name.as_str()) && p.status().map(|s| s.as_str()) == Some("UNDER_CHANGE"))
        .and_then(|p| p.last_record_id().map(str::to_string));
    let record_id = match in_flight {
        Some(r) => r,
        None => {
            let (product_id, artifact_id) = product(ctx, &sc).await?;
            let out = sc
                .provision_product()
                .product_id(product_id)
                .provisioning_artifact_id(artifact_id)
                .provisioned_product_name(&name)
                .set_provisioning_parameters(Some(sc_params(req)))
                .provision_token(request_token(&[&req.email().to_ascii_lowercase(), req.name(), &name]))
                .send()
                .await
                .aws("servicecatalog:ProvisionProduct")?;
            out.record_detail().and_then(|d| d.record_id()).unwrap_or_default().to_string()
        }
    };
    wait_record(ctx, &sc, &record_id, &format!("servicecatalog:ProvisionProduct for {}", req.email()), deadline)
        .await?;
    let a = organizations::find_account_by_email(org, req.email()).await?.ok_or_else(|| {
        StepError::Failed(format!("Account Factory finished, but no account has the email {}", req.email()))
    })?;
    Ok(a.id)
}

/// Puts the account in the requested OU (step of an update); returns true when it moved.
pub async fn ensure_ou(
    ctx: &Context,
    account_id: &str,
    req: &AccountRequest,
    deadline: Instant,
) -> Result<bool, StepError> {
    let target = resolve_ou(ctx, req.ou()).await?;
    let org = clients::organizations(&ctx.ct_session().await?);
    let (parent, _) = organizations::parent(&org, account_id).await?;
    if parent == target {
        return Ok(false);
    }
    match ctx.settings.method {
        VendMethod::Organizations => move_account(&org, account_id, &target).await,
        VendMethod::ControlTower => {
            let sc = clients::servicecatalog(&ctx.ct_session().await?);
            let found = search_products(&sc, &format!("physicalId:{account_id}")).await?;
            let healthy = found.provisioned_products().iter().find(|p| {
                matches!(p.status().map(|s| s.as_str()), Some("AVAILABLE") | Some("TAINTED"))
                    && p.last_successful_provisioning_record_id().is_some()
            });
            let Some(pp) = healthy else {
                return Err(StepError::Failed(format!(
                    "account {account_id} has no healthy Account Factory provisioned product, so Control Tower cannot move it"
                )));
            };
            let (product_id, artifact_id) = product(ctx, &sc).await?;
            let params: Vec<UpdateProvisioningParameter> = req
                .control_tower_parameters
                .iter()
                .map(|(k, v)| UpdateProvisioningParameter::builder().key(k).value(v).build())
                .collect();
            let out = sc
                .update_provisioned_product()
                .provisioned_product_id(pp.id().unwrap_or_default())
                .product_id(pp.product_id().unwrap_or(&product_id))
                .provisioning_artifact_id(pp.provisioning_artifact_id().unwrap_or(&artifact_id))
                .set_provisioning_parameters(Some(params))
                .update_token(request_token(&[account_id, &target, &format!("{:?}", req.control_tower_parameters)]))
                .send()
                .await
                .aws("servicecatalog:UpdateProvisionedProduct")?;
            let rid = out.record_detail().and_then(|d| d.record_id()).unwrap_or_default().to_string();
            let _slot = ctx.vend_slots.acquire().await.map_err(|e| StepError::Failed(e.to_string()))?;
            wait_record(ctx, &sc, &rid, &format!("servicecatalog:UpdateProvisionedProduct for {account_id}"), deadline)
                .await?;
            Ok(true)
        }
    }
}

/// What destroy does to the account besides removing it from AFT: park it, close it, or neither.
pub async fn retire(
    ctx: &Context,
    account_id: &str,
    parking_ou: Option<&str>,
    close: bool,
) -> Result<String, StepError> {
    let org = clients::organizations(&ctx.ct_session().await?);
    let mut did = Vec::new();
    if let Some(p) = parking_ou {
        let ou = resolve_ou(ctx, p).await?;
        if move_account(&org, account_id, &ou).await? {
            did.push(format!("moved to {ou}"));
        }
    }
    if close {
        match org.close_account().account_id(account_id).send().await.aws("organizations:CloseAccount") {
            Ok(_) => did.push("closed".to_string()),
            Err(e) if e.code == "AccountAlreadyClosedException" => did.push("already closed".to_string()),
            Err(e) => return Err(e.in_account(account_id).into()),
        }
    }
    Ok(if did.is_empty() { "kept".to_string() } else { did.join(", ") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioned_product_name_follows_aft() {
        assert_eq!(provisioned_product_name(" Sandbox Account A "), "Sandbox-Account-A");
    }
}
