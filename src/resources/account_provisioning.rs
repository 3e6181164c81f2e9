//! Resource `aft_account_provisioning`: one AFT account request, vended and provisioned by
//! `terraform apply` (seed steps 1 to 7 and 10).
//!
//! Order: model (request ⇄ value) → schema → validate → plan → create → read → update → delete →
//! import.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;

mod claims;

use super::{Op, Timeouts};
use crate::aws::{AwsError, clients, organizations};
use crate::context::{Context, DriftDetection, SharedRole, VendMethod};
use crate::framework::request::CT_KEYS;
use crate::framework::validate::{self, Draft, Field};
use crate::framework::{self, RunRecord, account_factory, coordination, metadata, request_row, vend};
use crate::inventory::imported::{AccountIdentity, AccountModel, LastRun, imported_state};
use crate::plugin::plan::config_changed;
use crate::plugin::schema::timeouts_block;
use crate::plugin::{
    ApplyRequest, Attr, AttrPath, Attribute, Block, Diagnostic, Diagnostics, Failed, IdentitySchema, Nesting, Plan,
    PlanRequest, ReadRequest, Resource, Schema, StringMap, Type, Value, read_model,
};
use crate::validation;

/// `aft_account_provisioning`
pub struct AccountProvisioning;

pub const DEFAULT_CREATE: Duration = Duration::from_secs(90 * 60);
pub const DEFAULT_UPDATE: Duration = Duration::from_secs(60 * 60);
pub const DEFAULT_DELETE: Duration = Duration::from_secs(20 * 60);

/// Attributes whose change does not re-run the framework (they only shape destroy).
const NO_RERUN: [&str; 4] =
    ["close_account_on_delete", "parking_organizational_unit", "terminate_product_on_delete", "timeouts"];

/// Private-data key a create's plan writes: the email the new object will vend or adopt
/// (`null` when the plan does not know it yet). Terraform hands the destroy half of a
/// replacement the private data planned for the replacement's create (the replace change's
/// second plan, made with a null prior state), while a plain destroy carries only what its own
/// plan returns, from which this key is removed. So a destroy that finds it is half of a
/// replacement, and the key says which account the other half keeps.
const CREATES: &str = "creates_email";

/// The accounts a create of this provider process vended or adopted. A create-before-destroy
/// replacement creates first and destroys the old object later in the same apply (the same
/// provider process): the destroy finds its account here and leaves it to the new object.
#[derive(Default)]
struct Taken(std::sync::Mutex<std::collections::HashSet<String>>);

impl Taken {
    fn add(&self, id: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string());
    }
    fn has(&self, id: &str) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).contains(id)
    }
}

// ------------------------------------------------------------------ model

/// Reads the resource's model from a value Terraform sent.
fn model(v: &Value) -> Result<AccountModel, Diagnostics> {
    read_model(v, "aft_account_provisioning")
}

fn ty() -> &'static Type {
    static TY: OnceLock<Type> = OnceLock::new();
    TY.get_or_init(|| AccountProvisioning.schema().cty())
}

/// Writes the resource's model as a value of its schema's type.
fn write(m: &AccountModel) -> Result<Value, Diagnostics> {
    crate::plugin::write_model(m, ty())
}

/// A map as the validation draft sees it: `None` when the whole map is unknown, unknown elements
/// as `None`.
fn draft_map(m: &Attr<StringMap>) -> Option<BTreeMap<String, Option<String>>> {
    match m {
        Attr::Unknown => None,
        Attr::Known(m) => Some(m.iter().map(|(k, x)| (k.clone(), x.known().cloned())).collect()),
        Attr::Null => Some(BTreeMap::new()),
    }
}

fn draft(config: &AccountModel) -> Draft {
    Draft {
        control_tower_parameters: draft_map(&config.control_tower_parameters)
            .filter(|_| !config.control_tower_parameters.is_null()),
        account_tags: draft_map(&config.account_tags),
        custom_fields: draft_map(&config.custom_fields),
        account_customizations_name: config.account_customizations_name.known().cloned(),
        parking_organizational_unit: config.parking_organizational_unit.known().cloned(),
    }
}

/// One key of `control_tower_parameters` (null when absent, unknown when the map is).
fn ct_param(m: &AccountModel, key: &str) -> Attr<String> {
    match &m.control_tower_parameters {
        Attr::Known(map) => map.get(key).cloned().unwrap_or(Attr::Null),
        Attr::Unknown => Attr::Unknown,
        Attr::Null => Attr::Null,
    }
}

fn field_path(f: &Field) -> AttrPath {
    match f {
        Field::CtParams => AttrPath::attr("control_tower_parameters"),
        Field::CtParam(k) => AttrPath::attr("control_tower_parameters").key(k),
        Field::Tags => AttrPath::attr("account_tags"),
        Field::Tag(k) => AttrPath::attr("account_tags").key(k),
        Field::CustomField(k) => AttrPath::attr("custom_fields").key(k),
        Field::CustomizationsName => AttrPath::attr("account_customizations_name"),
        Field::ParkingOu => AttrPath::attr("parking_organizational_unit"),
    }
}

/// Fills the computed attributes of `planned` from a run. `framework_completed_at` is written only
/// for a run that completed without a failure, so the state never claims a completion it lacks.
fn with_run(planned: &AccountModel, account: &organizations::AccountInfo, rec: &RunRecord) -> AccountModel {
    let known = |s: &str| Attr::Known(s.to_string());
    AccountModel {
        id: known(&account.id),
        account_id: known(&account.id),
        account_arn: known(&account.arn),
        account_status: known(rec.account.as_ref().map_or(account.status.as_str(), |a| a.info.status.as_str())),
        parent_ou_id: rec.account.as_ref().map(|a| a.parent_id.clone()).into(),
        execution_role_arn: rec.execution_role_arn.clone().into(),
        framework_run_id: known(&rec.run_id),
        framework_completed_at: rec.succeeded_at().map(str::to_string).into(),
        drift: Attr::Known(Vec::new()),
        last_run: Attr::Known(last_run(rec)),
        ..planned.clone()
    }
}

/// What a run's record says for `last_run` (the error summary kept short: the apply's diagnostic
/// has the whole of it).
fn last_run(rec: &RunRecord) -> LastRun {
    let known = |s: &str| Attr::Known(s.to_string());
    let error = rec.error.as_ref().map(|e| {
        let text = e.source.to_string();
        match text.char_indices().nth(500) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        }
    });
    LastRun {
        run_id: known(&rec.run_id),
        operation: known(rec.operation),
        outcome: known(if rec.error.is_some() { "failed" } else { "succeeded" }),
        failed_step: rec.error.as_ref().map(|e| e.step.to_string()).into(),
        error: error.into(),
        finished_at: rec.completed_at.clone().into(),
    }
}

/// What a state says about how this provider came to manage its account: the typed fact that
/// decides whether destroy may close or park it.
#[derive(Debug, PartialEq, Eq)]
pub enum Provenance {
    /// Imported: no framework run by this provider yet, the account was already provisioned.
    Imported,
    /// A framework run of this provider completed at this time (RFC 3339).
    Completed(time::OffsetDateTime),
    /// A create started and never completed (failed, timed out, interrupted): the account belongs
    /// to the replacement that adopts it, never to this destroy.
    Incomplete,
}

impl Provenance {
    /// Reads the fact from a state. Only a parseable completion time counts as completed; an
    /// empty or malformed value, or a run id without a completion, is an incomplete create.
    pub fn of(state: &AccountModel) -> Provenance {
        let run = &state.framework_run_id;
        let done = &state.framework_completed_at;
        if run.is_null() && done.is_null() {
            return Provenance::Imported;
        }
        let parsed = done
            .as_str()
            .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
        match parsed {
            Some(at) if run.as_str().is_some_and(|r| uuid::Uuid::parse_str(r).is_ok()) => Provenance::Completed(at),
            _ => Provenance::Incomplete,
        }
    }
}

/// True for an account Organizations reports as closed or closing (changed outside Terraform:
/// no framework run can succeed on it).
fn is_closed(status: &str) -> bool {
    matches!(status, "SUSPENDED" | "PENDING_CLOSURE" | "CLOSED")
}

fn run_failed(rec: &RunRecord) -> Diagnostics {
    let Some(e) = &rec.error else { return Diagnostics::new() };
    let steps: Vec<String> =
        rec.steps.iter().map(|s| format!("{} {} ({} ms)", s.step, s.outcome.as_str(), s.duration_ms)).collect();
    Diagnostic::error(
        format!("AFT provisioning failed at step {}", e.step),
        format!(
            "{e}\n\nRun {} for account {}: {}.\nThe account is kept and recorded in the state; the next apply adopts it \
             (no second account) and runs the framework again.",
            rec.run_id,
            rec.account_id,
            steps.join(", ")
        ),
    )
    .into()
}

/// The account a state is about. Moving, parking, closing an account or deleting its metadata
/// item acts on this id, so a state without one stops here instead of calling AWS with an
/// empty id.
fn account_of(state: &AccountModel) -> Result<String, Diagnostics> {
    state.account_id.known().filter(|id| !id.is_empty()).cloned().ok_or_else(|| {
        Diagnostic::error(
            "The state names no account",
            "This aft_account_provisioning has no account_id in its state, so the provider cannot tell which account \
             to act on and does nothing. Remove it with terraform state rm, then import the account by id or email.",
        )
        .into()
    })
}

/// Shows a run's warnings (what a step chose not to do) after the apply.
fn note_warnings(notes: &crate::plugin::Notes, rec: &RunRecord) {
    for w in &rec.warnings {
        notes.push(Diagnostic::warning(
            format!("Account {}: a framework step left something as it was", rec.account_id),
            w.clone(),
        ));
    }
}

fn aws_diag(summary: &str, e: impl std::fmt::Display) -> Diagnostics {
    Diagnostic::error(summary, e.to_string()).into()
}

// ------------------------------------------------------------------ resource

#[async_trait]
impl Resource<Context> for AccountProvisioning {
    fn type_name(&self) -> &'static str {
        "aft_account_provisioning"
    }

    fn schema(&self) -> Schema {
        let c = |n: &str, d: &str| Attribute::computed(n, Type::String, d);
        Schema::new(
            0,
            Block::new(
                "One AFT account request. Create vends the account (or adopts the existing account with that email) and \
                 runs the AFT provisioning framework: account details, metadata, AFT roles, tags, custom fields, feature \
                 options, provisioning customizations and the notification. Any change of the request re-runs the framework; \
                 the plan shows it as `framework_run_id` (known after apply).",
            )
            .attr(Attribute::required(
                "control_tower_parameters",
                Type::map(Type::String),
                "Exactly the keys `AccountEmail`, `AccountName`, `ManagedOrganizationalUnit` (`Name`, `Name (ou-…)` or an `ou-` id), \
                 `SSOUserEmail`, `SSOUserFirstName`, `SSOUserLastName`. A changed `AccountEmail` replaces the resource; \
                 `AccountName` and `SSOUser*` cannot change.",
            ))
            .attr(Attribute::optional("account_tags", Type::map(Type::String), "Tags of the account in Organizations, truly synced: tags removed here are removed from the account."))
            .attr(Attribute::optional("custom_fields", Type::map(Type::String), "Written to SSM `/aft/account-request/custom-fields/<key>` in the account; removed keys are deleted."))
            .attr(Attribute::nested(
                "change_management_parameters",
                Nesting::Single,
                vec![
                    Attribute::optional("change_requested_by", Type::String, "Who asked for the change."),
                    Attribute::optional("change_reason", Type::String, "Why."),
                ],
                "Recorded in the audit table and the customization payload.",
            ))
            .attr(Attribute::optional("account_customizations_name", Type::String, "Folder of the account customizations repository for this account."))
            .attr(Attribute::optional("rerun_triggers", Type::map(Type::String), "Any change re-runs the provisioning framework, like `triggers` of `terraform_data`."))
            .attr(Attribute::optional("close_account_on_delete", Type::Bool, "Close the account when the resource is destroyed. Default: `false` (the account is kept)."))
            .attr(Attribute::optional("parking_organizational_unit", Type::String, "Move the account to this OU when the resource is destroyed. With `control_tower`, an account Account Factory manages is parked through its provisioned product (an update to this OU, which Control Tower must have registered), so it stays enrolled; otherwise with Organizations `MoveAccount` (moving an enrolled account to the root or an unregistered OU unenrolls it)."))
            .attr(Attribute::optional("terminate_product_on_delete", Type::Bool, "With `control_tower`: terminate the account's Account Factory provisioned product when the resource is destroyed, before parking or closing it, so Control Tower stops managing the account (it unenrolls it; the account stays). Only a product whose account or `AccountEmail` output is this account's is terminated. Default: `false`."))
            .attr(c("id", "The account id."))
            .attr(c("account_id", "The account id."))
            .attr(c("account_arn", "The account ARN."))
            .attr(c("account_status", "`ACTIVE`, `SUSPENDED` or `PENDING_CLOSURE`."))
            .attr(c("parent_ou_id", "The OU (or root) that holds the account."))
            .attr(c("execution_role_arn", "ARN of `AWSAFTExecution` in the account."))
            .attr(c("framework_run_id", "Id of the last provisioning framework run (new for every run; it is the notification's `run_id`)."))
            .attr(c("framework_completed_at", "When the last framework run completed (RFC 3339)."))
            .attr(Attribute::computed("drift", Type::list(Type::String), "Differences between AWS and this request found by the last refresh; a non-empty list plans a re-run that repairs them."))
            .attr(Attribute::computed("last_run", LastRun::ty(), "The last provisioning framework run of this provider for the account, whatever its outcome: `run_id`, `operation` (`create` or `update`), `outcome` (`succeeded` or `failed`), `failed_step` and `error` (the first failure, shortened; null when it succeeded) and `finished_at` (RFC 3339). Kept in state when a run fails, so outputs and policy checks can read why."))
            .attr(c("coordination_owner", "The `coordination.owner` of the state that claimed this account's email in the coordination table (null without coordination). A plan that changes it writes the claim (an account imported from another state is taken over)."))
            .block(timeouts_block(&["create", "update", "delete"])),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(AccountIdentity::schema())
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        // only the identity's attribute is read: this runs for every instance of every refresh and plan
        crate::plugin::from_value::<AccountIdentity>(state).ok().map(|i| i.value())
    }

    fn refresh_warnings(&self, state: &Value) -> Diagnostics {
        let Ok(state) = model(state) else { return Diagnostics::new() };
        let status = state.account_status.as_str().unwrap_or_default();
        if !is_closed(status) {
            return Diagnostics::new();
        }
        let id = state.account_id.as_str().unwrap_or_default();
        Diagnostic::warning(
            format!("Account {id} is {status}"),
            "The account was closed outside Terraform, so no provisioning framework run can succeed on it and none \
             is planned. Remove this aft_account_provisioning from the configuration: destroy then deletes its AFT \
             metadata item and writes the audit record, and neither closes nor moves the account. (A closed account \
             can be reinstated only through AWS Support within 90 days.)"
                .to_string(),
        )
        .into()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let config = match model(config) {
            Ok(c) => c,
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        for p in validate::check(&draft(&config)) {
            d.error_at(field_path(&p.field), p.summary, p.detail);
        }
        Timeouts::check(&config.timeouts, &mut d);
        d
    }

    async fn modify_plan(&self, ctx: Option<&Context>, req: &PlanRequest<'_>, plan: &mut Plan) -> Diagnostics {
        let mut d = Diagnostics::new();
        // only a create's plan carries the marker; an update or a destroy never does
        plan.private.remove(CREATES);
        if plan.planned.is_null() {
            if let (Some(ctx), Ok(prior)) = (ctx, model(req.prior)) {
                d.extend(shared_destroy_warning(ctx, &prior).await);
            }
            return d;
        }
        let (config, mut planned) = match (model(req.config), model(&plan.planned)) {
            (Ok(c), Ok(p)) => (c, p),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        // organizations_auto_enroll: on a create or an OU change, the landing zone must enroll what
        // is moved in and the OU must be registered (reads only)
        if let Some(ctx) = ctx
            && ctx.settings.method == VendMethod::OrganizationsAutoEnroll
            && let Some(ou) = ct_param(&config, "ManagedOrganizationalUnit").as_str()
            && model(req.prior)
                .ok()
                .and_then(|p| ct_param(&p, "ManagedOrganizationalUnit").as_str().map(str::to_string))
                .as_deref()
                != Some(ou)
        {
            match crate::framework::auto_enroll::plan_refusal(ctx, ou).await {
                Ok(None) => {}
                Ok(Some(why)) => d.error_at(
                    AttrPath::attr("control_tower_parameters").key("ManagedOrganizationalUnit"),
                    "Control Tower would not enroll the account in this OU",
                    format!("account_factory.method = \"organizations_auto_enroll\" moves the account into {ou:?} and waits for Control Tower's auto-enrollment, but {why}. Use the control_tower method, or fix the landing zone or the OU first."),
                ),
                Err(e) => d.extend(aws_diag("Checking Control Tower auto-enrollment failed", e)),
            }
        }
        if let Some(ctx) = ctx {
            let signature = format!("{:?}", req.config);
            if let Some(email) = ct_param(&config, "AccountEmail").as_str()
                && !ctx.note_planned(&format!("email:{email}"), &signature)
            {
                d.error_at(
                    AttrPath::attr("control_tower_parameters").key("AccountEmail"),
                    "Duplicate AccountEmail",
                    format!("Another aft_account_provisioning in this configuration also requests {email}; each account needs its own email."),
                );
            }
            if let Some(name) = ct_param(&config, "AccountName").as_str() {
                // AFT requires unique account names; the provisioned product named after it must be too
                let product = account_factory::provisioned_product_name(name);
                if !ctx.note_planned(&format!("name:{product}"), &signature) {
                    d.error_at(
                        AttrPath::attr("control_tower_parameters").key("AccountName"),
                        "Duplicate AccountName",
                        format!(
                            "Another aft_account_provisioning in this configuration also requests the account name {name:?} \
                             (or one that differs only in case or spaces). AFT requires unique account names: two requests \
                             with one name could be taken for each other while Organizations creates them."
                        ),
                    );
                }
                if ctx.settings.method == VendMethod::ControlTower
                    && let Err(why) = account_factory::check_provisioned_product_name(&product)
                {
                    d.error_at(
                        AttrPath::attr("control_tower_parameters").key("AccountName"),
                        "AccountName cannot name an Account Factory product",
                        format!(
                            "Account Factory names the provisioned product after the account ({product:?}, the name with spaces \
                             as hyphens, as AFT does): {why}. Use letters, digits, spaces, '.', '_' and '-', starting with a \
                             letter or digit."
                        ),
                    );
                }
            }
        }
        if req.prior.is_null() {
            let email = ct_param(&config, "AccountEmail");
            plan.private.insert(CREATES.into(), email.as_str().map_or(serde_json::Value::Null, |e| e.into()));
            if let Some(ctx) = ctx
                && let Some(email) = email.as_str()
            {
                match crate::framework::shared_accounts::by_email(ctx, email).await {
                    Ok(Some(shared)) => {
                        let org = ctx.ct_session().await.map(|c| clients::organizations(&c));
                        let parent = match org {
                            Ok(org) => organizations::parent(&org, &shared.account.id).await.map(|p| p.0),
                            Err(e) => Err(e),
                        };
                        match parent {
                            Ok(parent) => {
                                d.extend(refuse_shared(ctx, &config, shared.role, &shared.account.id, &parent).await)
                            }
                            Err(e) => d.extend(aws_diag("Checking the landing zone's shared accounts failed", e)),
                        }
                    }
                    Ok(None) => {}
                    Err(e) => d.extend(aws_diag("Checking the landing zone's shared accounts failed", e)),
                }
            }
            if let Some(ctx) = ctx {
                d.extend(claims::plan(ctx, &config, None, &mut planned, &mut plan.private).await.0);
            }
            planned.drift = Attr::Known(Vec::new());
            match write(&planned) {
                Ok(v) => plan.planned = v,
                Err(e) => d.extend(e),
            }
            // said at plan time, where the reviewer can still choose: the account will get no row
            // in AFT's request table, so AFT's own invoke-customizations would fail
            if let Some(ctx) = ctx
                && let Ok(deployment) = crate::framework::request_row::deployment(ctx).await
                && let Some(why) = deployment.warning(ctx.settings.aft_request_rows)
            {
                d.push(
                    Diagnostic::warning(format!("No {} row for this account", deployment.table()), why)
                        .at(AttrPath::attr("control_tower_parameters").key("AccountEmail")),
                );
            }
            if let Some(ctx) = ctx {
                d.extend(live_aft(ctx, true).await);
            }
            return d;
        }
        let prior = match model(req.prior) {
            Ok(p) => p,
            Err(e) => return e,
        };
        if planned.control_tower_parameters.is_unknown() {
            d.error_at(
                AttrPath::attr("control_tower_parameters"),
                "control_tower_parameters must be known",
                "The whole map is known only after apply; for an existing account the plan must know whether \
                 AccountEmail changes (a new account) and that AccountName and SSOUser* do not.",
            );
            return d;
        }
        let mut foreign = None;
        if let Some(ctx) = ctx
            && let Some(id) = prior.account_id.as_str()
        {
            match crate::framework::shared_accounts::role_of(ctx, id).await {
                Ok(Some(role)) => {
                    let parent = prior.parent_ou_id.as_str().unwrap_or_default();
                    d.extend(refuse_shared(ctx, &config, role, id, parent).await);
                }
                Ok(None) => {}
                Err(e) => d.extend(aws_diag("Checking the landing zone's shared accounts failed", e)),
            }
            if d.has_errors() {
                return d;
            }
            let (said, f) = claims::plan(ctx, &config, Some(&prior), &mut planned, &mut plan.private).await;
            d.extend(said);
            if d.has_errors() {
                return d;
            }
            foreign = f;
        }
        for key in CT_KEYS {
            let (o, n) = (ct_param(&prior, key), ct_param(&planned, key));
            if n.is_unknown() || o == n {
                continue;
            }
            match key {
                "AccountEmail" => {
                    let same = matches!((o.as_str(), n.as_str()), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
                    if same {
                        continue;
                    }
                    // The account's primary email was changed outside Terraform and the
                    // configuration follows it: the same account, so an update (a replacement
                    // would retire the very account the new object adopts).
                    let kept = match (ctx, n.as_str(), prior.account_id.as_str()) {
                        (Some(ctx), Some(new), Some(id)) => match async {
                            let snap = crate::inventory::shared(ctx).await?;
                            email_is_account(ctx, Some(&snap), new, id).await
                        }
                        .await
                        {
                            Ok(kept) => kept,
                            Err(e) => {
                                d.extend(aws_diag("Looking up the new AccountEmail failed", e));
                                return d;
                            }
                        },
                        _ => false,
                    };
                    if !kept {
                        plan.requires_replace.push(AttrPath::attr("control_tower_parameters").key(key));
                    }
                }
                "ManagedOrganizationalUnit" => planned.parent_ou_id = Attr::Unknown,
                // an imported account whose request was unknown may set these once
                _ if o.as_str().is_none_or(str::is_empty) => {}
                _ => d.error_at(
                    AttrPath::attr("control_tower_parameters").key(key),
                    format!("{key} cannot be changed"),
                    format!(
                        "AFT only allows ManagedOrganizationalUnit to change on an existing account ({key} was {:?}). \
                         To rename an account, change it in AWS Organizations and then here.",
                        o.as_str().unwrap_or_default()
                    ),
                ),
            }
        }
        let drifted = prior.drift.known().is_some_and(|d| !d.is_empty());
        if drifted {
            // the run puts the account back where the request says
            planned.parent_ou_id = Attr::Unknown;
        }
        // An imported account (no run by this provider yet) whose configuration adds
        // `rerun_triggers` records them without a run: only a later change of them re-runs.
        let imported = prior.framework_run_id.is_null() && prior.rerun_triggers.is_null();
        let ignore: &[&str] = if imported { &[NO_RERUN.as_slice(), &["rerun_triggers"]].concat() } else { &NO_RERUN };
        // plan.planned is Terraform's proposal until the model is written back at the end
        let changed = config_changed(req.schema, req.prior, &plan.planned, ignore);
        let status = prior.account_status.as_str().unwrap_or_default();
        if changed && is_closed(status) {
            d.error_at(
                AttrPath::attr("control_tower_parameters"),
                format!("Account {} is {status}", prior.account_id.as_str().unwrap_or_default()),
                "The account was closed outside Terraform; a framework run on it can only fail. Remove this resource from \
                 the configuration (destroy keeps the closed account as it is), or reinstate the account through AWS \
                 Support and run terraform apply -refresh-only.",
            );
            return d;
        }
        // a create that never completed (failed, then untainted) runs the framework again
        let incomplete = Provenance::of(&prior) == Provenance::Incomplete && !is_closed(status);
        if let Some(f) = &foreign {
            d.push(f.diagnostic(drifted || changed || incomplete));
        }
        if let Some(ctx) = ctx {
            d.extend(live_aft(ctx, drifted || changed || incomplete).await);
        }
        if drifted || changed || incomplete {
            planned.last_run = Attr::Unknown;
            planned.framework_run_id = Attr::Unknown;
            planned.framework_completed_at = Attr::Unknown;
            planned.drift = Attr::Known(Vec::new());
            planned.account_status = Attr::Unknown;
            planned.execution_role_arn = Attr::Unknown;
        }
        match write(&planned) {
            Ok(v) => plan.planned = v,
            Err(e) => d.extend(e),
        }
        d
    }

    async fn create(&self, ctx: &Context, req: &ApplyRequest<'_>) -> Result<Value, Failed> {
        let req_notes = req.notes;
        let planned = req.planned;
        let mut planned = model(planned)?;
        let req = planned.request();
        let deadline = Instant::now() + Timeouts::of(&planned.timeouts, Op::Create, DEFAULT_CREATE);
        // whatever the plan knew, the state records the owner that claimed it
        planned.coordination_owner = ctx.settings.coordination.as_ref().map(|c| c.owner.clone()).into();
        // the email is this state's before anything changes in AWS
        let table = coordination::Table::of(ctx);
        if let Some(t) = &table {
            t.ensure(ctx, deadline).await.map_err(|e| aws_diag("Preparing the coordination table failed", e))?;
            t.claim(req.email(), None, None).await.map_err(|e| claims::claim_failed(e, &t.settings.owner))?;
        }
        let vended = vend::find_or_create(ctx, &req, deadline)
            .await
            .map_err(|e| aws_diag("Vending the account failed", format!("{e} (email {})", req.email())))?;
        let id = vended.account.id.clone();
        ctx.memo::<Taken>().add(&id);
        tracing::info!(account = %id, adopted = vended.adopted, "account ready");
        if let Some(t) = &table
            && let Err(e) = t.claim(req.email(), Some(&id), None).await
        {
            req_notes.push(Diagnostic::warning(
                format!("Account {id}: its claim does not record the account id"),
                format!("{e}. The claim on {} is this state's; only the account id is missing from it.", req.email()),
            ));
        }
        if vended.adopted
            && let Err(e) = vend::ensure_ou(ctx, &id, &req, deadline).await
        {
            let rec = RunRecord::new("create", &id, req.email());
            let state = write(&with_run(&planned, &vended.account, &rec))?;
            return Err(Failed {
                diags: aws_diag("Moving the adopted account failed", format!("account {id}: {e}")),
                partial: Some(state),
            });
        }
        let origin = if vended.adopted { framework::Origin::Existing } else { framework::Origin::Vended };
        let rec = framework::run(ctx, "create", origin, &id, &req, deadline).await;
        note_warnings(req_notes, &rec);
        let state = write(&with_run(&planned, &vended.account, &rec))?;
        if rec.error.is_some() {
            return Err(Failed { diags: run_failed(&rec), partial: Some(state) });
        }
        Ok(state)
    }

    async fn read(&self, ctx: &Context, req: &ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let state = req.state;
        let mut s = model(state)?;
        let Some(id) = s.account_id.known().cloned() else { return Ok(None) };
        let id = id.as_str();
        let fail = |e: AwsError| aws_diag("Refreshing the account failed", format!("account {id}: {e}"));
        // One bulk read of the organization and the metadata table serves every account of this
        // refresh; only what it did not see is asked for one account at a time.
        let snap = crate::inventory::shared(ctx).await.map_err(fail)?;
        // built only when the snapshot does not answer: a client costs about 0.1 ms of CPU, as
        // much as the rest of a read that the snapshot answers
        let org_client = tokio::sync::OnceCell::new();
        let org = || {
            org_client.get_or_try_init(|| async { Ok::<_, AwsError>(clients::organizations(&ctx.ct_session().await?)) })
        };
        let account = match snap.accounts.get(id) {
            Some(a) => a.clone(),
            None => match organizations::describe_account(org().await.map_err(fail)?, id).await.map_err(fail)? {
                Some(a) => a,
                None => {
                    tracing::warn!(account = id, "account no longer exists; removing it from the state");
                    return Ok(None);
                }
            },
        };
        let mut drift = Vec::new();
        if is_closed(&account.status) {
            // nothing an apply does can repair a closed account: no drift (which would plan a run
            // that can only fail); refresh_warnings says what to do
            s.account_status = Attr::Known(account.status.clone());
            s.account_arn = Attr::Known(account.arn.clone());
            s.drift = Attr::Known(Vec::new());
            return Ok(Some(write(&s)?));
        }
        if account.status != "ACTIVE" {
            drift.push(format!("account is {}", account.status));
        }
        if !snap.metadata_ids.contains(id) && metadata::get(ctx, id).await.map_err(fail)?.is_none() {
            drift.push(format!("metadata item missing from {}", ctx.settings.metadata_table));
        }
        let parent = match snap.parents.get(id) {
            Some(p) => p.clone(),
            None => organizations::parent(org().await.map_err(fail)?, id).await.map_err(fail)?.0,
        };
        let wanted_ou = ct_param(&s, "ManagedOrganizationalUnit");
        if let Some(ou) = wanted_ou.as_str()
            && !ou_matches(ctx, &snap, &parent, ou).await.map_err(fail)?
        {
            drift.push(format!("account is in {parent}, not in {ou}"));
        }
        if ctx.settings.drift_detection == DriftDetection::Full {
            let tags = organizations::tags(org().await.map_err(fail)?, id).await.map_err(fail)?;
            let wanted = crate::plugin::known_map(&s.account_tags);
            let (set, remove) = framework::tags::diff(&tags, &wanted);
            if !set.is_empty() || !remove.is_empty() {
                let keys: Vec<String> = set.into_iter().map(|(k, _)| k).chain(remove).collect();
                drift.push(format!("tags differ: {}", keys.join(", ")));
            }
            // AFT's roles and the custom-field parameters, in the account (a framework run
            // repairs both)
            let step =
                |e: framework::StepError| aws_diag("Refreshing the account failed", format!("account {id}: {e}"));
            drift.extend(framework::execution_role::drift(ctx, id).await.map_err(step)?);
            let wanted = crate::plugin::known_map(&s.custom_fields);
            drift.extend(framework::custom_fields::drift(ctx, id, &wanted).await.map_err(step)?);
        }
        if !drift.is_empty() {
            tracing::info!(account = id, drift = %drift.join("; "), "drift found");
        }
        s.account_status = Attr::Known(account.status.clone());
        s.account_arn = Attr::Known(account.arn.clone());
        s.parent_ou_id = Attr::Known(parent);
        s.drift = Attr::Known(drift);
        Ok(Some(write(&s)?))
    }

    async fn update(&self, ctx: &Context, req: &ApplyRequest<'_>) -> Result<Value, Failed> {
        let notes = req.notes;
        let (prior, planned) = (req.prior, req.planned);
        let (prior, planned_model) = (model(prior)?, model(planned)?);
        // the claim first: an email another state owns is refused before anything changes (an
        // update that neither runs nor moves the claim writes nothing)
        let runs = planned_model.framework_run_id.is_unknown();
        if let Some(t) = coordination::Table::of(ctx)
            && (runs || planned_model.coordination_owner != prior.coordination_owner)
        {
            let id = account_of(&prior)?;
            let deadline = Instant::now() + Timeouts::of(&planned_model.timeouts, Op::Update, DEFAULT_UPDATE);
            t.ensure(ctx, deadline).await.map_err(|e| aws_diag("Preparing the coordination table failed", e))?;
            let takeover = req.private.get(claims::TAKEOVER).and_then(|v| v.as_str());
            let email = planned_model.request().email().to_string();
            t.claim(&email, Some(&id), takeover).await.map_err(|e| claims::claim_failed(e, &t.settings.owner))?;
        }
        if !planned_model.framework_run_id.is_unknown() {
            // only arguments that shape destroy (or triggers recorded on import) changed: the plan
            // promised no run, so none happens
            return Ok(planned.clone());
        }
        let planned = planned_model;
        let req = planned.request();
        let id = account_of(&prior)?;
        let deadline = Instant::now() + Timeouts::of(&planned.timeouts, Op::Update, DEFAULT_UPDATE);
        if let Err(e) = vend::ensure_ou(ctx, &id, &req, deadline).await {
            return Err(aws_diag("Moving the account failed", format!("account {id}: {e}")).into());
        }
        let rec = framework::run(ctx, "update", framework::Origin::Existing, &id, &req, deadline).await;
        note_warnings(notes, &rec);
        if rec.error.is_some() {
            // keep the prior state, with only the failed run recorded: the next plan shows the same
            // update, and the next apply retries it
            let kept = AccountModel { last_run: Attr::Known(last_run(&rec)), ..prior.clone() };
            return Err(Failed { diags: run_failed(&rec), partial: Some(write(&kept)?) });
        }
        // the account's email changed (the plan found it is still this account): its row now
        // lives under the new email, and our row under the old one goes
        let old = ct_param(&prior, "AccountEmail");
        if let Some(old) = old.as_str().filter(|o| !o.eq_ignore_ascii_case(req.email())) {
            if let Some(t) = coordination::Table::of(ctx) {
                match t.release(old).await {
                    Ok(r) => tracing::info!(account = %id, released = ?r, "claim of the old email"),
                    Err(e) => notes.push(Diagnostic::warning(
                        format!("Account {id}: the claim on its old email was not released"),
                        e.to_string(),
                    )),
                }
            }
            match request_row::remove_email(ctx, old).await {
                Ok(what) => tracing::info!(account = %id, row = %what, "aft-request row of the old email"),
                Err(e) => notes.push(Diagnostic::warning(
                    format!("Account {id}: the aft-request row of its old email was not removed"),
                    format!("{e}. Remove the row keyed by {old} by hand if it is the provider's."),
                )),
            }
        }
        let account = rec.account.as_ref().map(|a| a.info.clone()).unwrap_or_default();
        Ok(write(&with_run(&planned, &account, &rec))?)
    }

    async fn delete(&self, ctx: &Context, req: &ApplyRequest<'_>) -> Result<(), Diagnostics> {
        let prior = model(req.prior)?;
        let id = account_of(&prior)?;
        let deadline = Instant::now() + Timeouts::of(&prior.timeouts, Op::Delete, DEFAULT_DELETE);
        let request = prior.request();
        let (close, park) = (prior.closes_on_delete(), prior.parking_ou());
        let terminate = prior.terminates_product_on_delete();
        let work = async {
            let fail = |what: &str, e: &dyn std::fmt::Display| aws_diag(what, format!("account {id}: {e}"));
            if let Some(why) = kept_for_replacement(ctx, &prior, &id, req.private)
                .await
                .map_err(|e| fail("Checking the replacement failed", &e))?
            {
                // the other half of the replacement adopts this account and rewrites its
                // metadata item and row: nothing here may retire it or take them away
                tracing::warn!(account = %id, why = %why, "destroy is half of a replacement that keeps the account: nothing removed");
                if close || park.is_some() || terminate {
                    req.notes.push(Diagnostic::warning(
                        format!("Account {id} kept for its replacement"),
                        format!(
                            "This destroy is half of a replacement, and {why}: the account is neither closed nor parked, \
                             and its AFT metadata stays for the new object. To retire an account on purpose, remove its \
                             resource from the configuration (with close_account_on_delete or parking_organizational_unit \
                             set) and apply."
                        ),
                    ));
                }
                return Ok(());
            }
            // an account another state claims is that state's: this state only forgets it
            let table = coordination::Table::of(ctx);
            if let Some(t) = &table {
                let claim = match t.claim_of(request.email()).await {
                    Err(e) if e.code == "ResourceNotFoundException" => None,
                    other => other.map_err(|e| fail("Reading the coordination table failed", &e))?,
                };
                if let Some(c) = claim.filter(|c| c.owner != t.settings.owner) {
                    tracing::warn!(account = %id, owner = %c.owner, "destroy of an account another state claims: nothing removed");
                    req.notes.push(Diagnostic::warning(
                        format!("Account {id} belongs to \"{}\": only removed from this state", c.owner),
                        format!(
                            "{} is claimed by \"{}\" in the coordination table {}, not by this state (\"{}\"): its account, \
                             metadata item, aft-request row and claim are left exactly as they are.",
                            request.email(),
                            c.owner,
                            t.settings.table,
                            t.settings.owner
                        ),
                    ));
                    return Ok(());
                }
            }
            // Close and park only an account whose create completed or that was imported: a
            // create that never completed may have adopted an account that is not its own.
            let (park, close, terminate) = match Provenance::of(&prior) {
                Provenance::Incomplete => (None, false, false),
                _ => (park, close, terminate),
            };
            // every precondition first: a parking OU that does not resolve stops the destroy
            // before anything is removed
            let retirement = vend::Retirement::prepare(ctx, &id, park, close, terminate)
                .await
                .map_err(|e| fail("Retiring the account failed", &e))?;
            let what = retirement
                .carry_out_until(ctx, &id, deadline)
                .await
                .map_err(|e| fail("Retiring the account failed", &e))?;
            tracing::info!(account = %id, result = %what, "retired");
            if let vend::Retirement::Keep(why) = &retirement
                && (close || park.is_some() || terminate)
            {
                req.notes.push(Diagnostic::warning(format!("Account {id} kept"), why.clone()));
            }
            let row = request_row::remove(ctx, &id, request.email())
                .await
                .map_err(|e| fail("Removing the aft-request row failed", &e))?;
            tracing::info!(account = %id, row = %row, "aft-request row");
            metadata::delete(ctx, &id).await.map_err(|e| fail("Removing the metadata item failed", &e))?;
            metadata::audit(ctx, &request, "REMOVE").await.map_err(|e| fail("Writing the audit record failed", &e))?;
            tracing::info!(account = %id, "removed from AFT management");
            if let Some(t) = &table {
                match t.release(request.email()).await {
                    Err(e) if e.code == "ResourceNotFoundException" => {}
                    Err(e) => return Err(fail("Releasing the claim failed", &e)),
                    Ok(r) => tracing::info!(account = %id, released = ?r, "claim"),
                }
            }
            Ok(())
        };
        match tokio::time::timeout_at(deadline.into(), work).await {
            Ok(r) => r,
            Err(_) => Err(aws_diag("Destroy timed out", format!("account {id}: the delete timeout passed"))),
        }
    }

    async fn import(&self, ctx: &Context, id: &str) -> Result<Value, Diagnostics> {
        let fail = |e: AwsError| aws_diag("Import failed", e);
        let org = clients::organizations(&ctx.ct_session().await.map_err(fail)?);
        let account = if id.contains('@') {
            // one listing of the organization serves every import of the process
            let index = ctx.memo::<organizations::AccountsByEmail>();
            index.find(&org, id, organizations::Freshness::Process).await.map_err(fail)?
        } else {
            validation::account_id(id).map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    "Invalid import id",
                    format!("{e} Use an account id or the account's email."),
                ))
            })?;
            organizations::describe_account(&org, id).await.map_err(fail)?
        };
        let Some(account) = account else {
            return Err(Diagnostic::error(
                "Account not found",
                format!("No account in the organization matches {id:?}."),
            )
            .into());
        };
        let item = metadata::get(ctx, &account.id).await.map_err(fail)?;
        let request = match item.as_ref().and_then(|i| i.request.clone()) {
            Some(r) => Some(r),
            None => crate::framework::request_row::aft_request(ctx, &account.email).await.map_err(fail)?,
        };
        let (parent, _) = organizations::parent(&org, &account.id).await.map_err(fail)?;
        let mut state = imported_state(&account, &parent, item.as_ref(), request);
        // an account whose claim is this state's already (a second working directory of the same
        // state, an import after a lost state) needs no claim write: the state says so
        if let Some(t) = coordination::Table::of(ctx) {
            match t.claim_of(&account.email).await {
                Ok(Some(c)) if c.owner == t.settings.owner => state.coordination_owner = Attr::Known(c.owner),
                Ok(_) => {}
                Err(e) if e.code == "ResourceNotFoundException" => {}
                Err(e) => return Err(fail(e)),
            }
        }
        write(&state)
    }
}

/// A live AFT beside this provider (its request table's stream mappings or its Control Tower event
/// rule): AFT's Lambdas act on what an apply writes (rows, Control Tower events), so a plan that
/// writes is refused unless the provider block says how to coexist (`aft_request_rows` set); a
/// plan that writes nothing (imports, no change) reports the listeners as a warning.
async fn live_aft(ctx: &Context, writes: bool) -> Diagnostics {
    if ctx.settings.aft_request_rows_set {
        return Diagnostics::new();
    }
    let Ok(deployment) = crate::framework::request_row::deployment(ctx).await else { return Diagnostics::new() };
    let Some(who) = deployment.live() else { return Diagnostics::new() };
    let detail = format!(
        "{who}. AFT's Lambdas act on what an apply of this provider writes (a row in its request table starts \
         AFT's own framework; a Control Tower event of an Account Factory operation does too), so both would \
         provision the same account. Turn AFT's listeners off as the migration guide's cutover step shows \
         (then nothing more is needed), or say how this provider coexists with the live AFT by setting \
         aft_request_rows in the provider block (\"none\": this provider writes no row and AFT keeps running \
         its own requests; see the attribute for \"auto\", \"inert\" and \"full\")."
    );
    match writes {
        true => Diagnostic::error("AFT's request processing is live", detail).into(),
        false => Diagnostic::warning("AFT's request processing is live", detail).into(),
    }
}

/// Plan-time refusals for a shared account of the landing zone (`role`, account `id`, now in
/// `parent`): asking to close it, to park it, or to move it is an error on that attribute.
async fn refuse_shared(ctx: &Context, config: &AccountModel, role: SharedRole, id: &str, parent: &str) -> Diagnostics {
    let mut d = Diagnostics::new();
    let why = "AFT refuses to change the OU of a shared Control Tower account or the management account \
               (aft_common/shared_account.py) and closes no account; closing one breaks the landing zone, and only \
               AWS Support can reopen it. Import and framework runs stay allowed.";
    if config.closes_on_delete() {
        d.error_at(
            AttrPath::attr("close_account_on_delete"),
            format!("Account {id} is the landing zone's {role}"),
            format!("The provider never closes the {role}. Remove close_account_on_delete (or set it to false). {why}"),
        );
    }
    if config.terminates_product_on_delete() {
        d.error_at(
            AttrPath::attr("terminate_product_on_delete"),
            format!("Account {id} is the landing zone's {role}"),
            format!("The provider never unenrolls the {role}. Remove terminate_product_on_delete. {why}"),
        );
    }
    if config.parking_ou().is_some() {
        d.error_at(
            AttrPath::attr("parking_organizational_unit"),
            format!("Account {id} is the landing zone's {role}"),
            format!("The provider never parks (moves) the {role}. Remove parking_organizational_unit. {why}"),
        );
    }
    if let Some(ou) = ct_param(config, "ManagedOrganizationalUnit").as_str() {
        let matched = async {
            let snap = crate::inventory::shared(ctx).await?;
            ou_matches(ctx, &snap, parent, ou).await
        };
        match matched.await {
            Ok(true) => {}
            Ok(false) => d.error_at(
                AttrPath::attr("control_tower_parameters").key("ManagedOrganizationalUnit"),
                format!("Account {id} is the landing zone's {role}"),
                format!(
                    "The provider never moves the {role}: it is in {parent}, and the request names {ou:?}. Set \
                     ManagedOrganizationalUnit to the OU that holds it. {why}"
                ),
            ),
            Err(e) => d.extend(aws_diag("Checking the OU of a shared account failed", format!("account {id}: {e}"))),
        }
    }
    d
}

/// A destroy plan of a shared account whose state asks to close or park it says, as a warning,
/// that destroy will do neither (states written before this check existed can ask it).
async fn shared_destroy_warning(ctx: &Context, prior: &AccountModel) -> Diagnostics {
    let asks = prior.closes_on_delete() || prior.parking_ou().is_some() || prior.terminates_product_on_delete();
    let Some(id) = prior.account_id.as_str().filter(|_| asks) else { return Diagnostics::new() };
    match crate::framework::shared_accounts::role_of(ctx, id).await {
        Ok(Some(role)) => Diagnostic::warning(
            format!("Destroy keeps account {id}, the landing zone's {role}"),
            format!(
                "The state asks to close or park it on destroy; the provider never closes, parks or moves the {role}. \
                 Destroy removes it from AFT's metadata and leaves the account active where it is."
            ),
        )
        .into(),
        Ok(None) => Diagnostics::new(),
        Err(e) => aws_diag("Checking the landing zone's shared accounts failed", format!("account {id}: {e}")),
    }
}

/// True when `email` is the primary email of account `id` (ignoring case), from the bulk read
/// when the caller has it (a plan's refresh took it), else from one DescribeAccount.
async fn email_is_account(
    ctx: &Context,
    snap: Option<&crate::inventory::Snapshot>,
    email: &str,
    id: &str,
) -> Result<bool, AwsError> {
    if let Some(a) = snap.and_then(|s| s.accounts.get(id)) {
        return Ok(a.email.eq_ignore_ascii_case(email));
    }
    let org = clients::organizations(&ctx.ct_session().await?);
    Ok(organizations::describe_account(&org, id).await?.is_some_and(|a| a.email.eq_ignore_ascii_case(email)))
}

/// Why a destroy must leave its account to the object that replaces it, or `None` when the
/// destroy is not half of a replacement that keeps the account: a create of this apply took the
/// account (create before destroy), or the replacement's plan requests this account's email.
async fn kept_for_replacement(
    ctx: &Context,
    prior: &AccountModel,
    id: &str,
    private: &crate::plugin::Private,
) -> Result<Option<String>, AwsError> {
    if ctx.memo::<Taken>().has(id) {
        return Ok(Some("a create in this apply took it over".into()));
    }
    let Some(marker) = private.get(CREATES) else { return Ok(None) };
    let Some(email) = marker.as_str() else {
        return Ok(Some("the replacement's AccountEmail was unknown when it was planned".into()));
    };
    if ct_param(prior, "AccountEmail").as_str().is_some_and(|e| e.eq_ignore_ascii_case(email)) {
        return Ok(Some(format!("its replacement requests the same email, {email}")));
    }
    if email_is_account(ctx, None, email, id).await? {
        return Ok(Some(format!("its replacement's email {email} is this account's")));
    }
    Ok(None)
}

/// True when `parent` is the OU a `ManagedOrganizationalUnit` string names: from the reference or
/// the snapshot when they tell, else one `DescribeOrganizationalUnit`, whose client is built only
/// then (a client costs about 0.1 ms of CPU, as much as a refresh's read the snapshot answers).
async fn ou_matches(
    ctx: &Context,
    snap: &crate::inventory::Snapshot,
    parent: &str,
    ou: &str,
) -> Result<bool, AwsError> {
    use crate::aws::AwsResultExt;
    match organizations::OuRef::parse(ou) {
        Ok(organizations::OuRef::Id(id)) | Ok(organizations::OuRef::NameAndId(_, id)) => Ok(id == parent),
        Ok(organizations::OuRef::Name(name)) => {
            if parent.starts_with("r-") {
                return Ok(name == "Root");
            }
            if let Some(known) = snap.ou_name(parent) {
                return Ok(known == name);
            }
            let d = clients::organizations(&ctx.ct_session().await?)
                .describe_organizational_unit()
                .organizational_unit_id(parent)
                .send()
                .await
                .aws("organizations:DescribeOrganizationalUnit")?;
            Ok(d.organizational_unit().and_then(|o| o.name()) == Some(name.as_str()))
        }
        Err(_) => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_matches_the_schema_one_to_one() {
        crate::plugin::check_model::<AccountModel>(ty()).unwrap();
        crate::plugin::check_model::<AccountIdentity>(&Type::object([("account_id", Type::String)])).unwrap();
    }

    #[test]
    fn no_account_is_acted_on_without_an_account_id() {
        let mut state = AccountModel::default();
        assert!(account_of(&state).is_err(), "a null id");
        state.account_id = Attr::Known(String::new());
        assert!(account_of(&state).is_err(), "an empty id");
        state.account_id = Attr::Unknown;
        assert!(account_of(&state).is_err(), "an unknown id");
        state.account_id = Attr::Known("111122223333".into());
        assert_eq!(account_of(&state).unwrap(), "111122223333");
    }

    #[test]
    fn provenance_is_read_from_typed_facts_never_from_an_empty_value() {
        let run = Attr::Known("7c9e6679-7425-40de-944b-e07fc1f90ae7".to_string());
        let at = Attr::Known("2026-12-05T10:00:00Z".to_string());
        let with = |run: Attr<String>, done: Attr<String>| AccountModel {
            framework_run_id: run,
            framework_completed_at: done,
            ..AccountModel::default()
        };
        assert_eq!(Provenance::of(&with(Attr::Null, Attr::Null)), Provenance::Imported);
        assert!(matches!(Provenance::of(&with(run.clone(), at.clone())), Provenance::Completed(_)));
        // a run that never completed, an empty or malformed completion, a bad run id: incomplete
        assert_eq!(Provenance::of(&with(run.clone(), Attr::Null)), Provenance::Incomplete);
        assert_eq!(Provenance::of(&with(run.clone(), Attr::Known(String::new()))), Provenance::Incomplete);
        assert_eq!(Provenance::of(&with(run, Attr::Known("yesterday".into()))), Provenance::Incomplete);
        assert_eq!(Provenance::of(&with(Attr::Known(String::new()), at)), Provenance::Incomplete);
    }

    #[test]
    fn the_request_is_read_from_known_values_only() {
        let m = AccountModel {
            control_tower_parameters: Attr::Known(
                [
                    ("AccountEmail".to_string(), Attr::Known("a@example.com".into())),
                    ("AccountName".into(), Attr::Unknown),
                ]
                .into(),
            ),
            change_management_parameters: Attr::Known(crate::inventory::imported::ChangeManagement {
                change_reason: Attr::Known("why".into()),
                ..Default::default()
            }),
            ..AccountModel::default()
        };
        let r = m.request();
        assert_eq!(r.control_tower_parameters.len(), 1);
        assert_eq!(r.change_management_parameters.unwrap().get("change_reason").map(String::as_str), Some("why"));
        assert!(r.account_tags.is_empty());
    }
}
