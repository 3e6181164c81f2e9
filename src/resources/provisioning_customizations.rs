//! Resource `aft_provisioning_customizations`: the user's provisioning customizations state
//! machine (the seed's `customizations.asl.json`), deployed by the provider and checked at plan.
//!
//! Order: model → schema → validate → plan → create → read → update → delete → import.

use std::sync::OnceLock;

use async_trait::async_trait;
use aws_sdk_sfn::types::Tag;
use serde::{Deserialize, Serialize};

use crate::asl;
use crate::asl::revision_id;
use crate::aws::errors::while_role_propagates;
use crate::aws::{AwsError, AwsResultExt, clients};
use crate::context::Context;
use crate::plugin::schema::timeouts_block;
use crate::plugin::{
    ApplyRequest, Attr, AttrPath, Attribute, Block, Diagnostic, Diagnostics, Failed, IdentitySchema, Plan, PlanRequest,
    ReadRequest, Resource, Schema, Type, Value,
};

use super::Timeouts;
use crate::plugin::{StringMap, known_map, read_model, write_model};

/// `aft_provisioning_customizations`
pub struct ProvisioningCustomizations;

/// The name step 7 looks for.
pub const DEFAULT_NAME: &str = crate::aws::names::PROVISIONING_CUSTOMIZATIONS;
/// The role the provider creates when `role_arn` is not given (AFT's template role name).
pub const DEFAULT_ROLE: &str = "aft-account-provisioning-customizations-role";
const POLICY_NAME: &str = "aft-account-provisioning-customizations-policy";

// ------------------------------------------------------------------ model

/// The configuration, plan and state of `aft_provisioning_customizations`: one field per
/// schema attribute (checked one to one by a test), read and written only through
/// [`read_model`] and [`write_model`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub definition: Attr<String>,
    pub name: Attr<String>,
    pub role_arn: Attr<String>,
    pub role_policy: Attr<String>,
    pub tags: Attr<StringMap>,
    pub id: Attr<String>,
    pub arn: Attr<String>,
    pub revision_id: Attr<String>,
    pub role_created: Attr<bool>,
    pub timeouts: Attr<Timeouts>,
}

/// The identity: the state machine's ARN.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub arn: String,
}

/// The schema's type, built once.
fn ty() -> &'static Type {
    static TY: OnceLock<Type> = OnceLock::new();
    TY.get_or_init(|| ProvisioningCustomizations.schema().cty())
}

impl Model {
    fn read(v: &Value) -> Result<Model, Diagnostics> {
        read_model(v, "aft_provisioning_customizations")
    }

    fn write(&self) -> Result<Value, Diagnostics> {
        write_model(self, ty())
    }

    /// The deployed definition and role as state records them.
    fn deployed(&mut self, arn: &str, definition: &str, role: &str, created: bool) {
        self.id = Attr::Known(arn.to_string());
        self.arn = Attr::Known(arn.to_string());
        self.role_arn = Attr::Known(role.to_string());
        self.role_created = Attr::Known(created);
        self.revision_id = Attr::Known(revision_id(definition, role));
    }
}

/// Same JSON, ignoring formatting.
fn same_json(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn asl_diags(definition: &str) -> Diagnostics {
    let mut d = Diagnostics::new();
    for p in asl::check(definition) {
        d.error_at(AttrPath::attr("definition"), "Invalid state machine definition", p.to_string());
    }
    d
}

fn sfn_tags(m: &Model) -> Vec<Tag> {
    known_map(&m.tags).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn diag(summary: &str, e: impl std::fmt::Display) -> Diagnostics {
    Diagnostic::error(summary, e.to_string()).into()
}

fn state_machine_arn(lz: &crate::context::LandingZone, name: &str) -> String {
    crate::aws::names::state_machine_arn(&lz.partition, &lz.region, &lz.aft_management, name)
}

/// Creates or repairs the role the provider owns; returns its ARN.
async fn ensure_role(ctx: &Context, policy: Option<&str>) -> Result<String, AwsError> {
    let iam = clients::iam(ctx.aws.hub());
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    })
    .to_string();
    let arn = match iam.get_role().role_name(DEFAULT_ROLE).send().await.aws("iam:GetRole") {
        Ok(r) => {
            iam.update_assume_role_policy()
                .role_name(DEFAULT_ROLE)
                .policy_document(&trust)
                .send()
                .await
                .aws("iam:UpdateAssumeRolePolicy")?;
            r.role().map(|r| r.arn().to_string()).unwrap_or_default()
        }
        Err(e) if e.is_not_found() => {
            let tag = aws_sdk_iam::types::Tag::builder().key("managed_by").value("AFT").build().map_err(|e| {
                AwsError { api: "iam:CreateRole", account: None, code: "InvalidTag".into(), message: e.to_string() }
            })?;
            let out = iam
                .create_role()
                .role_name(DEFAULT_ROLE)
                .assume_role_policy_document(&trust)
                .description("Runs the AFT provisioning customizations state machine")
                .tags(tag)
                .send()
                .await
                .aws("iam:CreateRole")?;
            out.role().map(|r| r.arn().to_string()).unwrap_or_default()
        }
        Err(e) => return Err(e),
    };
    match policy {
        Some(p) => {
            iam.put_role_policy()
                .role_name(DEFAULT_ROLE)
                .policy_name(POLICY_NAME)
                .policy_document(p)
                .send()
                .await
                .aws("iam:PutRolePolicy")?;
        }
        None => match iam
            .delete_role_policy()
            .role_name(DEFAULT_ROLE)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .aws("iam:DeleteRolePolicy")
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        },
    }
    Ok(arn)
}

/// Updates the machine; a role IAM has not propagated yet is retried for `iam_propagation_timeout`.
async fn update_machine(
    ctx: &Context,
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    definition: &str,
    role: &str,
) -> Result<(), Diagnostics> {
    while_role_propagates(ctx.settings.iam_propagation_timeout, || async {
        sfn.update_state_machine()
            .state_machine_arn(arn)
            .definition(definition)
            .role_arn(role)
            .send()
            .await
            .aws("states:UpdateStateMachine")
    })
    .await
    .map(|_| ())
    .map_err(|e| diag("Updating the state machine failed", e))
}

/// The role to run with: the configured one, or the provider's own (created or repaired).
async fn role_for(ctx: &Context, config: &Model) -> Result<(String, bool), Failed> {
    match config.role_arn.as_str() {
        Some(r) => Ok((r.to_string(), false)),
        None => {
            let arn = ensure_role(ctx, config.role_policy.as_str())
                .await
                .map_err(|e| diag("Creating the state machine role failed", e))?;
            Ok((arn, true))
        }
    }
}

async fn delete_role(ctx: &Context) -> Result<(), AwsError> {
    let iam = clients::iam(ctx.aws.hub());
    let inline = match iam.list_role_policies().role_name(DEFAULT_ROLE).send().await.aws("iam:ListRolePolicies") {
        Ok(o) => o.policy_names().to_vec(),
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    for p in inline {
        iam.delete_role_policy().role_name(DEFAULT_ROLE).policy_name(p).send().await.aws("iam:DeleteRolePolicy")?;
    }
    match iam.delete_role().role_name(DEFAULT_ROLE).send().await.aws("iam:DeleteRole") {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

// ------------------------------------------------------------------ resource

#[async_trait]
impl Resource<Context> for ProvisioningCustomizations {
    fn type_name(&self) -> &'static str {
        "aft_provisioning_customizations"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(
                "The provisioning customizations state machine that step 7 of every account's framework runs \
                 (the seed's `customizations.asl.json`). The definition is checked at plan time; the state machine \
                 and, unless `role_arn` is given, its role are deployed in the AFT management account.",
            )
            .attr(Attribute::required("definition", Type::String, "The Amazon States Language definition (JSON), typically `file(\"customizations.asl.json\")`."))
            .attr(Attribute::optional_computed("name", Type::String, &format!("State machine name. Default: `{DEFAULT_NAME}`, the name the provider's step 7 runs.")).force_new())
            .attr(Attribute::optional_computed("role_arn", Type::String, &format!("Execution role. Default: the provider creates and owns `{DEFAULT_ROLE}`, trusted by `states.amazonaws.com`.")))
            .attr(Attribute::optional("role_policy", Type::String, "IAM policy JSON attached inline to the role the provider creates (not allowed with `role_arn`)."))
            .attr(Attribute::optional("tags", Type::map(Type::String), "Tags of the state machine."))
            .attr(Attribute::computed("id", Type::String, "The state machine ARN."))
            .attr(Attribute::computed("arn", Type::String, "The state machine ARN."))
            .attr(Attribute::computed("revision_id", Type::String, "Changes exactly when the deployed definition or role changes; wire it into `rerun_triggers` of accounts to re-run their customizations."))
            .attr(Attribute::computed("role_created", Type::Bool, "True when the provider created the role (and deletes it on destroy)."))
            .block(timeouts_block(&["create", "update", "delete"])),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![("arn".into(), Type::String, "The state machine ARN.".into(), true)],
        })
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        // only the identity's attribute is read: this runs for every instance of every refresh and plan
        let identity: Identity = crate::plugin::from_value(state).ok()?;
        crate::plugin::to_value(&identity, &Type::object([("arn", Type::String)])).ok()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let config = match Model::read(config) {
            Ok(c) => c,
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        if let Some(def) = config.definition.as_str() {
            d.extend(asl_diags(def));
        }
        if let Some(n) = config.name.as_str()
            && (n.is_empty() || n.len() > 80 || !n.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)))
        {
            d.error_at(
                AttrPath::attr("name"),
                "Invalid state machine name",
                format!("{n:?}: use 1 to 80 of a-z A-Z 0-9 - _"),
            );
        }
        if let Some(r) = config.role_arn.as_str()
            && let Err(e) = crate::validation::role_arn(r)
        {
            d.error_at(AttrPath::attr("role_arn"), "Invalid role ARN", e);
        }
        Timeouts::check(&config.timeouts, &mut d);
        if let Some(p) = config.role_policy.as_str() {
            if !serde_json::from_str::<serde_json::Value>(p).is_ok_and(|v| v.is_object()) {
                d.error_at(
                    AttrPath::attr("role_policy"),
                    "Invalid role policy",
                    "role_policy must be an IAM policy document (a JSON object).",
                );
            }
            if !config.role_arn.is_null() {
                d.error_at(
                    AttrPath::attr("role_policy"),
                    "Conflicting arguments",
                    "role_policy applies to the role the provider creates; it cannot be used with role_arn.",
                );
            }
        }
        d
    }

    async fn modify_plan(&self, _ctx: Option<&Context>, req: &PlanRequest<'_>, plan: &mut Plan) -> Diagnostics {
        if plan.planned.is_null() {
            return Diagnostics::new();
        }
        match plan_model(req, &plan.planned).and_then(|m| m.write()) {
            Ok(v) => {
                plan.planned = v;
                Diagnostics::new()
            }
            Err(d) => d,
        }
    }

    async fn create(&self, ctx: &Context, req: &ApplyRequest<'_>) -> Result<Value, Failed> {
        let (planned, config) = (req.planned, req.config);
        let (mut s, config) = (Model::read(planned)?, Model::read(config)?);
        let definition = s.definition.as_str().unwrap_or_default().to_string();
        let d = asl_diags(&definition);
        if d.has_errors() {
            return Err(d.into());
        }
        let name = s.name.as_str().unwrap_or(DEFAULT_NAME).to_string();
        let (role, created) = role_for(ctx, &config).await?;
        let sfn = clients::sfn(ctx.aws.hub());
        // a role created a moment ago is refused until IAM has propagated it
        let tags = Some(sfn_tags(&s)).filter(|t| !t.is_empty());
        let created_machine = while_role_propagates(ctx.settings.iam_propagation_timeout, || async {
            sfn.create_state_machine()
                .name(&name)
                .definition(&definition)
                .role_arn(&role)
                .set_tags(tags.clone())
                .send()
                .await
                .aws("states:CreateStateMachine")
        })
        .await;
        let arn = match created_machine {
            Ok(o) => {
                let arn = o.state_machine_arn().to_string();
                // A create that finds a machine of that name may answer with it unchanged (moto
                // does; AWS does when only tags differ): make sure ours is the definition.
                let d = sfn
                    .describe_state_machine()
                    .state_machine_arn(&arn)
                    .send()
                    .await
                    .aws("states:DescribeStateMachine")
                    .map_err(|e| diag("Reading the new state machine failed", e))?;
                if d.definition() != definition || d.role_arn() != role {
                    update_machine(ctx, &sfn, &arn, &definition, &role).await?;
                }
                arn
            }
            // already there (an interrupted apply, or AFT's own pipeline deployed it): take it over
            Err(e) if e.code == "StateMachineAlreadyExists" => {
                let lz =
                    ctx.landing_zone().await.map_err(|e| diag("Resolving the AFT management account failed", e))?;
                let arn = state_machine_arn(lz, &name);
                update_machine(ctx, &sfn, &arn, &definition, &role).await?;
                arn
            }
            Err(e) => return Err(diag("Creating the state machine failed", e).into()),
        };
        s.name = Attr::Known(name);
        s.deployed(&arn, &definition, &role, created);
        Ok(s.write()?)
    }

    async fn read(&self, ctx: &Context, req: &ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let state = req.state;
        let mut s = Model::read(state)?;
        let Some(arn) = s.arn.as_str() else { return Ok(None) };
        let sfn = clients::sfn(ctx.aws.hub());
        let d =
            match sfn.describe_state_machine().state_machine_arn(arn).send().await.aws("states:DescribeStateMachine") {
                Ok(d) => d,
                Err(e) if e.is_not_found() || e.code == "StateMachineDoesNotExist" => return Ok(None),
                Err(e) => return Err(diag("Reading the state machine failed", e)),
            };
        // keep the configuration's formatting unless the deployed definition really differs
        if !s.definition.as_str().is_some_and(|cur| same_json(cur, d.definition())) {
            s.definition = Attr::Known(d.definition().to_string());
        }
        s.role_arn = Attr::Known(d.role_arn().to_string());
        let def = s.definition.as_str().unwrap_or_default().to_string();
        s.revision_id = Attr::Known(revision_id(&def, d.role_arn()));
        Ok(Some(s.write()?))
    }

    async fn update(&self, ctx: &Context, req: &ApplyRequest<'_>) -> Result<Value, Failed> {
        let (prior, planned, config) = (req.prior, req.planned, req.config);
        let (prior, mut s, config) = (Model::read(prior)?, Model::read(planned)?, Model::read(config)?);
        let definition = s.definition.as_str().unwrap_or_default().to_string();
        let d = asl_diags(&definition);
        if d.has_errors() {
            return Err(d.into());
        }
        let arn = prior.arn.as_str().unwrap_or_default().to_string();
        let (role, created) = role_for(ctx, &config).await?;
        let sfn = clients::sfn(ctx.aws.hub());
        update_machine(ctx, &sfn, &arn, &definition, &role).await?;
        let (old, new) = (known_map(&prior.tags), known_map(&s.tags));
        let removed: Vec<String> = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
        if !removed.is_empty() {
            sfn.untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(removed))
                .send()
                .await
                .aws("states:UntagResource")
                .map_err(|e| diag("Untagging failed", e))?;
        }
        if old != new && !new.is_empty() {
            sfn.tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(sfn_tags(&s)))
                .send()
                .await
                .aws("states:TagResource")
                .map_err(|e| diag("Tagging failed", e))?;
        }
        let ours = prior.role_arn.as_str().unwrap_or_default();
        if prior.role_created.known() == Some(&true) && !created && role != ours {
            delete_role(ctx).await.map_err(|e| diag("Deleting the role the provider had created failed", e))?;
        }
        s.deployed(&arn, &definition, &role, created);
        Ok(s.write()?)
    }

    async fn delete(&self, ctx: &Context, req: &ApplyRequest<'_>) -> Result<(), Diagnostics> {
        let prior = req.prior;
        let prior = Model::read(prior)?;
        let arn = prior.arn.as_str().unwrap_or_default();
        match clients::sfn(ctx.aws.hub())
            .delete_state_machine()
            .state_machine_arn(arn)
            .send()
            .await
            .aws("states:DeleteStateMachine")
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() || e.code == "StateMachineDoesNotExist" => {}
            Err(e) => return Err(diag("Deleting the state machine failed", e)),
        }
        if prior.role_created.known() == Some(&true) {
            delete_role(ctx).await.map_err(|e| diag("Deleting the role failed", e))?;
        }
        Ok(())
    }

    async fn import(&self, ctx: &Context, id: &str) -> Result<Value, Diagnostics> {
        let arn = if id.starts_with("arn:") {
            id.to_string()
        } else {
            let lz = ctx.landing_zone().await.map_err(|e| diag("Import failed", e))?;
            state_machine_arn(lz, id)
        };
        let d = clients::sfn(ctx.aws.hub())
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
            .aws("states:DescribeStateMachine")
            .map_err(|e| diag("Import failed", e))?;
        let role = d.role_arn().to_string();
        let mut m = Model {
            definition: Attr::Known(d.definition().to_string()),
            name: Attr::Known(d.name().to_string()),
            ..Model::default()
        };
        // the template's role name means the role came with the machine: destroy removes both
        m.deployed(&arn, d.definition(), &role, role.ends_with(&format!(":role/{DEFAULT_ROLE}")));
        m.write()
    }
}

/// The planned model: the default name, and unknowns for what the apply will decide (the role
/// the provider makes, its revision).
fn plan_model(req: &PlanRequest<'_>, planned: &Value) -> Result<Model, Diagnostics> {
    let (mut plan, config) = (Model::read(planned)?, Model::read(req.config)?);
    if plan.name.is_null() {
        plan.name = Attr::Known(DEFAULT_NAME.to_string());
    }
    if req.prior.is_null() {
        if !config.role_arn.is_null() {
            plan.role_created = Attr::Known(false);
        }
        return Ok(plan);
    }
    let prior = Model::read(req.prior)?;
    let prior_created = prior.role_created.known() == Some(&true);
    let role_changed = match &config.role_arn {
        Attr::Known(r) => Some(r.as_str()) != prior.role_arn.as_str() || prior_created,
        // left out: the provider's own role
        Attr::Null => !prior_created,
        Attr::Unknown => true,
    };
    if role_changed {
        if config.role_arn.is_null() {
            plan.role_arn = Attr::Unknown;
        }
        plan.role_created = Attr::Unknown;
    }
    let def_changed = match (prior.definition.as_str(), plan.definition.as_str()) {
        (Some(a), Some(b)) => !same_json(a, b),
        _ => true,
    };
    if def_changed || role_changed {
        plan.revision_id = Attr::Unknown;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_matches_the_schema_one_to_one() {
        crate::plugin::check_model::<Model>(ty()).unwrap();
        let id = ProvisioningCustomizations.identity_schema().unwrap();
        crate::plugin::check_model::<Identity>(&Type::object(id.attributes.iter().map(|a| (a.0.clone(), a.1.clone()))))
            .unwrap();
    }

    #[test]
    fn revision_id_follows_meaning_not_formatting() {
        let a = revision_id(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#, "r");
        let b = revision_id("{ \"StartAt\": \"A\",\n \"States\": {\"A\": {\"Type\": \"Succeed\"}} }", "r");
        assert_eq!(a, b);
        assert_ne!(a, revision_id(r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#, "r"));
        assert_ne!(a, revision_id(r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#, "other-role"));
    }
}
