//! Vending: find or create the account for a request, move it between OUs, and retire it.
//!
//! An account with the request's email (ignoring case) is always adopted instead of created, so a
//! crashed apply, a replacement or an import never makes a second account. Creation runs under the
//! provider-wide `max_concurrent_operations` cap, by Organizations `CreateAccount` or by the
//! Service Catalog Account Factory product (see [`super::account_factory`]). With the
//! `control_tower` method an adopted account that Control Tower does not manage (no Account Factory
//! provisioned product) is enrolled, as AFT does: the product is provisioned for its email, and
//! Control Tower enrolls the existing account instead of creating one.

use std::time::{Duration, Instant};

use aws_sdk_organizations::types::{CreateAccountFailureReason, CreateAccountState};

use super::poll::{Backoff, Waits};
use super::request::AccountRequest;
use super::{StepError, account_factory};
use crate::aws::organizations::{self, AccountInfo, AccountsByEmail, Freshness, OuRef};
use crate::aws::{AwsError, AwsResultExt, clients};
use crate::context::{Context, VendMethod};

/// The account a request resolved to.
#[derive(Clone, Debug)]
pub struct Vended {
    pub account: AccountInfo,
    /// True when an existing account was adopted.
    pub adopted: bool,
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
    let index = ctx.memo::<AccountsByEmail>();
    if ctx.settings.method == VendMethod::ControlTower {
        // Control Tower creates the account early and baselines it for many minutes after: an
        // account whose provisioning is still in flight is waited for, never adopted half-made
        account_factory::settle(ctx, req, deadline).await?;
    }
    if let Some(a) = adoptable(&org, &index, req.email(), Freshness::Process).await? {
        return adopt(ctx, &org, req, a, false, deadline).await;
    }
    // resolve the OU before anything is created: a bad OU must not leave an account behind
    let ou = resolve_ou(ctx, req.ou()).await?;
    if ctx.settings.method == VendMethod::OrganizationsAutoEnroll
        && let Some(why) = super::auto_enroll::plan_refusal(ctx, req.ou()).await?
    {
        // checked again at apply (the plan may have run before the landing zone changed)
        return Err(StepError::Failed(format!(
            "the organizations_auto_enroll method cannot vend {}: {why}",
            req.email()
        )));
    }
    let _slot = super::poll::slot(&ctx.vend_slots, deadline, &ctx.stop, "a vending slot").await?;
    // Another apply may have finished it while we waited for a slot. Organizations refuses a
    // second account for an email (`EMAIL_ALREADY_EXISTS`, met in `create_with_organizations`),
    // but Account Factory would provision a second product for it: that method looks again, in
    // a listing that started after the slot was taken.
    if ctx.settings.method == VendMethod::ControlTower
        && let Some(a) = adoptable(&org, &index, req.email(), Freshness::After(Instant::now())).await?
    {
        return adopt(ctx, &org, req, a, true, deadline).await;
    }
    tracing::info!(email = req.email(), method = ?ctx.settings.method, "vending a new account");
    let Created { id, adopted } = match ctx.settings.method {
        VendMethod::Organizations => {
            let role = &ctx.settings.roles.control_tower_execution;
            create_with_organizations(&org, &index, req, &ou, role, &Waits::of(ctx, deadline)).await?
        }
        VendMethod::ControlTower => {
            let af_ou = account_factory_ou(ctx, req.ou(), &ou).await?;
            let id = account_factory::provision(ctx, &org, req, &af_ou, deadline).await?;
            Created { id, adopted: false }
        }
        VendMethod::OrganizationsAutoEnroll => {
            // created where Organizations puts it (the root), then moved in under the OU's and
            // the org-wide admissions, which a move into a registered OU needs
            let role = &ctx.settings.roles.control_tower_execution;
            let root = organizations::root_id(&org).await?;
            let created = create_with_organizations(&org, &index, req, &root, role, &Waits::of(ctx, deadline)).await?;
            if !created.adopted {
                super::auto_enroll::enroll(ctx, &created.id, &ou, true, deadline).await?;
            }
            created
        }
    };
    let account = organizations::describe_account(&org, &id)
        .await?
        .ok_or_else(|| StepError::Failed(format!("account {id} was created but cannot be described")))?;
    index.record(&account).await;
    // an account another principal made is adopted like one found before: the caller moves
    // it (`ensure_ou`), and its origin says it was not this provider's creation
    Ok(Vended { account, adopted })
}

/// Adopts an existing account. With `control_tower`, an account Control Tower does not manage
/// (no Account Factory provisioned product) is enrolled first: the product is provisioned for its
/// email and name, as AFT's request processor does, and Control Tower enrolls the account instead
/// of creating one. The landing zone's shared accounts are Control Tower's own and never enrolled.
async fn adopt(
    ctx: &Context,
    org: &aws_sdk_organizations::Client,
    req: &AccountRequest,
    account: AccountInfo,
    holding_slot: bool,
    deadline: Instant,
) -> Result<Vended, StepError> {
    if ctx.settings.method != VendMethod::ControlTower
        || super::shared_accounts::role_of(ctx, &account.id).await?.is_some()
    {
        return Ok(Vended { account, adopted: true });
    }
    let sc = clients::servicecatalog(&ctx.ct_session().await?);
    if account_factory::find_by_account(&sc, &account.id).await?.is_some() {
        return Ok(Vended { account, adopted: true });
    }
    let ou = resolve_ou(ctx, req.ou()).await?;
    let af_ou = account_factory_ou(ctx, req.ou(), &ou).await?;
    let _slot = match holding_slot {
        true => None,
        false => Some(super::poll::slot(&ctx.vend_slots, deadline, &ctx.stop, "a vending slot").await?),
    };
    tracing::info!(account = %account.id, email = req.email(), "the account has no Account Factory product; enrolling it in Control Tower");
    let id = account_factory::provision(ctx, org, req, &af_ou, deadline).await?;
    if id != account.id {
        return Err(StepError::Failed(format!(
            "enrolling account {} ({}) through Account Factory ended with account {id}",
            account.id, account.email
        )));
    }
    Ok(Vended { account, adopted: true })
}

async fn adoptable(
    org: &aws_sdk_organizations::Client,
    index: &AccountsByEmail,
    email: &str,
    fresh: Freshness,
) -> Result<Option<AccountInfo>, StepError> {
    match index.find(org, email, fresh).await? {
        Some(a) if a.status == "ACTIVE" => Ok(Some(a)),
        Some(a) => Err(StepError::Failed(format!(
            "account {} with email {} exists but is {}: a closed account's email cannot be reused",
            a.id, a.email, a.status
        ))),
        None => Ok(None),
    }
}

/// The account [`create_with_organizations`] ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub id: String,
    /// True when the account was not made for this request: it had the email before this
    /// request's CreateAccount (Organizations refused a second one with `EMAIL_ALREADY_EXISTS`,
    /// or the process's listing had it). Such an account is left where it is for the caller
    /// to move, and is recorded as existing, never as vended.
    pub adopted: bool,
}

/// Vends through Organizations `CreateAccount` (the new account trusting `role_name`) into `ou`.
/// Never sends a second CreateAccount for one request, never takes an account whose email is
/// another request's.
pub async fn create_with_organizations(
    org: &aws_sdk_organizations::Client,
    index: &AccountsByEmail,
    req: &AccountRequest,
    ou: &str,
    role_name: &str,
    waits: &Waits,
) -> Result<Created, StepError> {
    // A CreateAccount still running from an interrupted apply is waited for instead of sending a
    // second one. It is recognised by its account name (a creation's status has no email), so
    // the account it makes must also carry this request's email: another request with the same
    // name (Organizations allows it) keeps its account, and this one gets its own.
    for request_id in in_flight_named(org, req.name()).await? {
        match wait_create(org, &request_id, waits).await {
            Ok(Ended::Account(id)) if owned_by(org, &id, req).await? => {
                move_account(org, &id, ou).await?;
                return Ok(Created { id, adopted: false });
            }
            Ok(Ended::Account(id)) => tracing::warn!(
                request = %request_id, account = %id, email = req.email(),
                "a CreateAccount in flight with this account name made another request's account; not using it"
            ),
            Ok(Ended::Failed(reason)) => {
                tracing::warn!(request = %request_id, error = %failure(&request_id, req, reason.as_ref()), "a CreateAccount in flight with this name failed")
            }
            Err(e @ (StepError::Timeout(_) | StepError::Stopped(_))) => return Err(e),
            Err(e) => {
                tracing::warn!(request = %request_id, error = %e, "a CreateAccount in flight with this name could not be followed")
            }
        }
    }
    // An account with the email in the process's listing (a creation that finished before it
    // was listed). One that appeared after the listing makes CreateAccount fail with
    // EMAIL_ALREADY_EXISTS below, and is looked for again then.
    if let Some(a) = adoptable(org, index, req.email(), Freshness::Process).await? {
        return Ok(Created { id: a.id, adopted: true });
    }
    let request_id = match start_create_account(org, index, req, role_name, waits.deadline).await? {
        Started::Request(id) if !id.is_empty() => id,
        Started::Request(_) => {
            return Err(StepError::Failed("organizations:CreateAccount answered without a request id".into()));
        }
        Started::Account(id) => {
            move_account(org, &id, ou).await?;
            return Ok(Created { id, adopted: false });
        }
    };
    let id = match wait_create(org, &request_id, waits).await? {
        Ended::Account(id) => id,
        Ended::Failed(reason @ Some(CreateAccountFailureReason::EmailAlreadyExists)) => {
            // another principal made an account with this email after the process listed the
            // organization (a creation in flight then, another state, the console)
            return match taken_since(org, index, req, waits).await? {
                Some(a) => {
                    tracing::info!(account = %a.id, email = req.email(), "CreateAccount answered EMAIL_ALREADY_EXISTS: adopting the account that has the email");
                    Ok(Created { id: a.id, adopted: true })
                }
                None => Err(StepError::Failed(failure(&request_id, req, reason.as_ref()))),
            };
        }
        Ended::Failed(reason) => return Err(StepError::Failed(failure(&request_id, req, reason.as_ref()))),
    };
    if !owned_by(org, &id, req).await? {
        return Err(StepError::Failed(format!(
            "the CreateAccount request {request_id} for the account name {:?} made account {id}, whose email is not \
             {}: it belongs to another request with the same name, so it is not used",
            req.name(),
            req.email()
        )));
    }
    move_account(org, &id, ou).await?;
    Ok(Created { id, adopted: false })
}

/// The ids of the CreateAccount requests in flight for an account name.
async fn in_flight_named(org: &aws_sdk_organizations::Client, name: &str) -> Result<Vec<String>, StepError> {
    let mut out = Vec::new();
    let mut pages = org.list_create_account_status().states(CreateAccountState::InProgress).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("organizations:ListCreateAccountStatus")?;
        out.extend(
            page.create_account_statuses()
                .iter()
                .filter(|s| s.account_name() == Some(name))
                .filter_map(|s| s.id().filter(|i| !i.is_empty()).map(str::to_string)),
        );
    }
    Ok(out)
}

/// True when the account carries the request's email.
async fn owned_by(org: &aws_sdk_organizations::Client, id: &str, req: &AccountRequest) -> Result<bool, StepError> {
    match organizations::describe_account(org, id).await? {
        Some(a) => Ok(a.email.eq_ignore_ascii_case(req.email())),
        None => Err(StepError::Failed(format!("account {id} was created but cannot be described"))),
    }
}

/// The account with the request's email after Organizations refused to create it with
/// `EMAIL_ALREADY_EXISTS`: looked for in listings that start after the refusal, a few times
/// (Organizations is eventually consistent: a new account can be missing from ListAccounts for
/// a while); `None` when no account of the organization has it (an account outside it does).
async fn taken_since(
    org: &aws_sdk_organizations::Client,
    index: &AccountsByEmail,
    req: &AccountRequest,
    waits: &Waits,
) -> Result<Option<AccountInfo>, StepError> {
    let mut backoff = Backoff::new(None, Duration::from_secs(5), &waits.stop);
    for attempt in 1..=organizations::NON_EMPTY_ATTEMPTS {
        if let Some(a) = adoptable(org, index, req.email(), Freshness::After(Instant::now())).await? {
            return Ok(Some(a));
        }
        if attempt < organizations::NON_EMPTY_ATTEMPTS {
            backoff.pause(waits.deadline, "looking for the account that has the email").await?;
        }
    }
    Ok(None)
}

/// How a CreateAccount request ended: the account it made, or AWS's reason for failing.
enum Ended {
    Account(String),
    Failed(Option<CreateAccountFailureReason>),
}

/// A failed creation as a diagnostic: the call, the email, the request and AWS's reason.
fn failure(request_id: &str, req: &AccountRequest, reason: Option<&CreateAccountFailureReason>) -> String {
    format!(
        "organizations:CreateAccount for {} (request {request_id}) failed: {}",
        req.email(),
        reason.map(|r| r.as_str()).unwrap_or("no reason given")
    )
}

/// Waits for a CreateAccount request to end: the account id when it succeeded, AWS's reason
/// when it failed.
async fn wait_create(org: &aws_sdk_organizations::Client, request_id: &str, waits: &Waits) -> Result<Ended, StepError> {
    let mut backoff = Backoff::new(waits.poll, Duration::from_secs(15), &waits.stop);
    loop {
        let s = org
            .describe_create_account_status()
            .create_account_request_id(request_id)
            .send()
            .await
            .aws("organizations:DescribeCreateAccountStatus")?;
        let st = s.create_account_status();
        match st.and_then(|s| s.state()) {
            Some(CreateAccountState::Succeeded) => {
                return match st.and_then(|s| s.account_id()).filter(|a| !a.is_empty()) {
                    Some(a) => Ok(Ended::Account(a.to_string())),
                    None => Err(StepError::Failed(format!(
                        "organizations:CreateAccount request {request_id} succeeded without an account id"
                    ))),
                };
            }
            Some(CreateAccountState::Failed) => {
                return Ok(Ended::Failed(st.and_then(|s| s.failure_reason()).cloned()));
            }
            _ => {}
        }
        backoff.pause(waits.deadline, "waiting for organizations:CreateAccount").await?;
    }
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
    org: &aws_sdk_organizations::Client,
    index: &AccountsByEmail,
    req: &AccountRequest,
    role_name: &str,
    deadline: Instant,
) -> Result<Started, StepError> {
    let mut wait = Duration::from_millis(250);
    loop {
        let sent = org
            .create_account()
            .email(req.email())
            .account_name(req.name())
            .role_name(role_name)
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
        // in flight first, then by email: a creation that ends between the two looks is found
        if let Some(id) = in_flight_named(org, req.name()).await?.pop() {
            return Ok(Started::Request(id));
        }
        if let Some(a) = adoptable(org, index, req.email(), Freshness::After(Instant::now())).await? {
            return Ok(Started::Account(a.id));
        }
        if Instant::now() + wait >= deadline {
            return Err(err.into());
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
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
    if parent == target && ctx.settings.method == VendMethod::OrganizationsAutoEnroll {
        // the landing zone's shared accounts have baselines of their own, never an OU's child one
        if super::shared_accounts::role_of(ctx, account_id).await?.is_some() {
            return Ok(false);
        }
        // in place: its enrollment there is checked (and waited for while it runs)
        return super::auto_enroll::enroll(ctx, account_id, &target, false, deadline).await;
    }
    if parent == target {
        return Ok(false);
    }
    // plan time refuses this; the apply checks again (the plan may have run unconfigured)
    if let Some(role) = super::shared_accounts::role_of(ctx, account_id).await? {
        return Err(StepError::Failed(format!(
            "account {account_id} is the landing zone's {role}: the provider never moves it (it is in {parent}, the \
             request names {}); AFT refuses to change the OU of a shared account too",
            req.ou()
        )));
    }
    match ctx.settings.method {
        VendMethod::Organizations => move_account(&org, account_id, &target).await,
        VendMethod::OrganizationsAutoEnroll => {
            super::auto_enroll::enroll(ctx, account_id, &target, false, deadline).await
        }
        VendMethod::ControlTower => {
            let ou = account_factory_ou(ctx, req.ou(), &target).await?;
            account_factory::move_account(ctx, account_id, req, &ou, deadline).await?;
            Ok(true)
        }
    }
}

/// The OU as Account Factory accepts it: `Name` or `Name (ou-…)`. An `ou-` id is given its name
/// (`Sandbox (ou-abcd-12345678)`); the other forms go verbatim, as AFT passes them.
pub async fn account_factory_ou(ctx: &Context, requested: &str, resolved_id: &str) -> Result<String, StepError> {
    if !matches!(OuRef::parse(requested), Ok(OuRef::Id(_))) {
        return Ok(requested.to_string());
    }
    let org = clients::organizations(&ctx.ct_session().await?);
    if resolved_id.starts_with("r-") {
        return Ok("Root".to_string());
    }
    let d = org
        .describe_organizational_unit()
        .organizational_unit_id(resolved_id)
        .send()
        .await
        .aws("organizations:DescribeOrganizationalUnit")?;
    let name = d.organizational_unit().and_then(|o| o.name()).unwrap_or_default();
    Ok(format!("{name} ({resolved_id})"))
}

/// What destroy will do to the account besides removing it from AFT, decided and checked before
/// anything changes: a parking OU that does not resolve, or an account that is not the
/// provider's to retire, stops the destroy while the metadata item and row are still in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retirement {
    /// Neither park nor close (not asked for, or not allowed: the reason).
    Keep(String),
    /// Terminate the account's provisioned product first if `terminate_product` (Control Tower
    /// unenrolls it), then park it, then close it if `close`.
    Act {
        park: Option<Park>,
        close: bool,
        /// Terminate the Account Factory provisioned product before parking or closing.
        terminate_product: bool,
        /// The account's email when it was prepared: the product is terminated only when it is
        /// this account's ([`account_factory::terminate_for_account`]).
        email: String,
    },
}

/// Where and how a retired account is parked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Park {
    /// `MoveAccount` to this OU or root id (resolved).
    Move(String),
    /// An account Control Tower manages, parked through its Account Factory product
    /// (`UpdateProvisionedProduct` with `ManagedOrganizationalUnit` = `parameter`), so it stays
    /// enrolled: `MoveAccount` would leave it as drift, or unenrolled.
    AccountFactory { ou: String, parameter: String },
}

impl Park {
    /// The OU or root id the account ends in.
    pub fn ou(&self) -> &str {
        match self {
            Park::Move(ou) | Park::AccountFactory { ou, .. } => ou,
        }
    }
}

/// How long retiring may take when the caller gives no deadline (the caller's own timeout bounds it).
const RETIRE_DEADLINE: Duration = Duration::from_secs(4 * 3600);

impl Retirement {
    /// Resolves the parking OU and checks the account: closed accounts and the landing zone's
    /// shared accounts are kept whatever the state asks. With `control_tower`, an account that has
    /// an Account Factory product is parked through it (unless its product is terminated first,
    /// or the parking place is the root, which Account Factory does not accept: moving an account
    /// there unenrolls it), and `terminate_product` terminates that product before anything else.
    pub async fn prepare(
        ctx: &Context,
        account_id: &str,
        parking_ou: Option<&str>,
        close: bool,
        terminate_product: bool,
    ) -> Result<Retirement, StepError> {
        if parking_ou.is_none() && !close && !terminate_product {
            return Ok(Retirement::Keep("kept".into()));
        }
        if let Some(role) = super::shared_accounts::role_of(ctx, account_id).await? {
            return Ok(Retirement::Keep(format!("kept: the landing zone's {role} is never closed or moved")));
        }
        let org = clients::organizations(&ctx.ct_session().await?);
        // an account closed outside Terraform is left exactly as it is: it cannot be closed again,
        // and moving a closing account is not the user's intent
        let email = match organizations::describe_account(&org, account_id).await? {
            Some(a) if a.status != "ACTIVE" => return Ok(Retirement::Keep(format!("kept ({})", a.status))),
            Some(a) => a.email,
            None => return Ok(Retirement::Keep("kept (the organization no longer has it)".into())),
        };
        let control_tower = ctx.settings.method == VendMethod::ControlTower;
        let park = match parking_ou {
            Some(p) => {
                let ou = resolve_ou(ctx, p).await?;
                let enrolled = control_tower && !terminate_product && !ou.starts_with("r-") && {
                    let sc = clients::servicecatalog(&ctx.ct_session().await?);
                    account_factory::find_by_account(&sc, account_id).await?.is_some()
                };
                Some(match enrolled {
                    true => Park::AccountFactory { parameter: account_factory_ou(ctx, p, &ou).await?, ou },
                    false => Park::Move(ou),
                })
            }
            None => None,
        };
        Ok(Retirement::Act { park, close, terminate_product: terminate_product && control_tower, email })
    }

    /// Terminates, parks and closes as prepared; returns what was done. Each part is idempotent,
    /// so a destroy retried after a failure here repeats nothing that already happened.
    pub async fn carry_out(&self, ctx: &Context, account_id: &str) -> Result<String, StepError> {
        self.carry_out_until(ctx, account_id, Instant::now() + RETIRE_DEADLINE).await
    }

    /// [`Retirement::carry_out`], with the Account Factory operations bounded by `deadline`.
    pub async fn carry_out_until(
        &self,
        ctx: &Context,
        account_id: &str,
        deadline: Instant,
    ) -> Result<String, StepError> {
        let (park, close, terminate_product, email) = match self {
            Retirement::Keep(why) => return Ok(why.clone()),
            Retirement::Act { park, close, terminate_product, email } => (park, *close, *terminate_product, email),
        };
        let org = clients::organizations(&ctx.ct_session().await?);
        let mut did = Vec::new();
        // first: an account that is parked or closed must not stay in Control Tower's care
        if terminate_product
            && let account_factory::TerminateOutcome::Terminated { product } =
                account_factory::terminate_for_account(ctx, account_id, email, deadline).await?
        {
            did.push(format!("provisioned product {product} terminated (unenrolled)"));
        }
        match park {
            Some(Park::Move(ou))
                if ctx.settings.method == VendMethod::OrganizationsAutoEnroll
                    && super::auto_enroll::park(ctx, account_id, ou, deadline).await? =>
            {
                did.push(format!("moved to {ou}"))
            }
            Some(Park::Move(ou))
                if ctx.settings.method != VendMethod::OrganizationsAutoEnroll
                    && move_account(&org, account_id, ou).await? =>
            {
                did.push(format!("moved to {ou}"))
            }
            Some(Park::AccountFactory { ou, parameter }) if organizations::parent(&org, account_id).await?.0 != *ou => {
                if account_factory::move_enrolled(ctx, account_id, parameter, deadline).await? {
                    did.push(format!("moved to {ou} through Account Factory"));
                } else if move_account(&org, account_id, ou).await? {
                    // its product went since the destroy was prepared: nothing to keep enrolled
                    did.push(format!("moved to {ou}"));
                }
            }
            _ => {}
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
}
