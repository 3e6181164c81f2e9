//! Action `aft_invoke_customizations`: AFT's `aft-invoke-customizations` as a Terraform action.
//! It re-runs the provisioning framework and/or starts the customization pipelines of a target
//! set (the same `include`/`exclude` blocks as AFT's input and the `aft_accounts` data source),
//! without changing any configuration or state.
//!
//! Unlike AFT it never drops a target silently: an account without a request or a pipeline is
//! reported, a pipeline already running is reported as such (not restarted), and with
//! `wait_for_completion` the outcome of each execution is part of the result.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use crate::aws::{AwsError, clients, organizations};
use crate::context::Context;
use crate::framework::request::RequestOwner;
use crate::framework::{self, invoke, metadata};
use crate::inventory::targets::{TargetBlocks, resolve_targets, target_block, validate_targets};
use crate::plugin::{
    Action, Attr, AttrPath, Attribute, Block, Diagnostic, Diagnostics, NestedBlock, Progress, Schema, Type, Value,
    read_model,
};
use crate::validation;

/// `aft_invoke_customizations`
pub struct InvokeCustomizations;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// What to do for each target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Options {
    framework: bool,
    pipelines: bool,
    wait: bool,
}

/// The action's `config`: one field per schema attribute.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub include: TargetBlocks,
    pub exclude: TargetBlocks,
    pub rerun_framework: Attr<bool>,
    pub run_pipelines: Attr<bool>,
    pub wait_for_completion: Attr<bool>,
    pub timeout: Attr<String>,
}

impl Config {
    fn read(v: &Value) -> Result<Config, Diagnostics> {
        read_model(v, "aft_invoke_customizations")
    }

    fn options(&self) -> Options {
        Options {
            framework: self.rerun_framework.known().copied().unwrap_or(true),
            pipelines: self.run_pipelines.known().copied().unwrap_or(true),
            wait: self.wait_for_completion.known().copied().unwrap_or(false),
        }
    }
}

/// The pipeline AFT creates for an account.
pub fn pipeline_name(account_id: &str) -> String {
    crate::aws::names::pipeline_name(account_id)
}

/// What happened to one account.
struct Outcome {
    account: String,
    lines: Vec<String>,
    error: Option<String>,
}

async fn one(ctx: &Context, id: &str, opts: Options, deadline: Instant, progress: &Progress) -> Outcome {
    let mut out = Outcome { account: id.to_string(), lines: Vec::new(), error: None };
    if opts.framework {
        match request_for(ctx, id).await {
            Ok(Some(req)) => {
                progress.say(format!("{id}: provisioning framework started"));
                // AFT's own request keeps AFT's semantics (the request carries its owner): the run
                // adds and updates tags, and removes none of those AFT's request does not name
                if req.owner == RequestOwner::Aft {
                    out.lines.push("AFT's request: tags added and updated, none removed".into());
                }
                let rec = framework::run(ctx, "invoke", framework::Origin::Existing, id, &req, deadline).await;
                match &rec.error {
                    None => {
                        out.lines.push(format!("framework run {} succeeded ({} steps)", rec.run_id, rec.steps.len()))
                    }
                    Some(e) => {
                        out.error = Some(format!("framework run {} failed at step {}: {e}", rec.run_id, e.step));
                        return out;
                    }
                }
            }
            Ok(None) => out.lines.push("framework skipped: no AFT request for this account".into()),
            Err(e) => {
                out.error = Some(format!("reading the account request failed: {e}"));
                return out;
            }
        }
    }
    if opts.pipelines {
        let cp = clients::codepipeline(ctx.aws.hub());
        let name = pipeline_name(id);
        match invoke::latest(&cp, &name).await {
            Err(e) if e.is_not_found() || e.code == "PipelineNotFoundException" => {
                out.lines.push(format!("no pipeline {name}: nothing to start"));
            }
            Err(e) => out.error = Some(format!("reading pipeline {name} failed: {e}")),
            Ok(Some((exec, status))) if status.as_str() == "InProgress" => {
                out.lines.push(format!("pipeline {name} already running ({exec}); not started again"));
            }
            Ok(_) => {
                let waits = crate::framework::poll::Waits::of(ctx, deadline);
                match invoke::run(&cp, &ctx.customization_slots, &name, None, opts.wait, &waits).await {
                    Ok(x) if !opts.wait || x.status == "Succeeded" => {
                        out.lines.push(format!("pipeline {name} execution {} {}", x.id, x.status));
                    }
                    Ok(x) => out.error = Some(format!("pipeline {name} execution {} {}", x.id, x.status)),
                    Err(e) => out.error = Some(format!("pipeline {name}: {e}")),
                }
            }
        }
    }
    out
}

/// The account's request: our metadata item's, or the row of AFT's `aft-request` table (whose
/// owner says whether it is AFT's own; see [`RequestOwner`]).
async fn request_for(ctx: &Context, id: &str) -> Result<Option<framework::request::AccountRequest>, AwsError> {
    if let Some(r) = metadata::get(ctx, id).await?.and_then(|i| i.request) {
        return Ok(Some(r));
    }
    let org = clients::organizations(&ctx.ct_session().await?);
    match organizations::describe_account(&org, id).await? {
        Some(a) => crate::framework::request_row::aft_request(ctx, &a.email).await,
        None => Ok(None),
    }
}

#[async_trait]
impl Action<Context> for InvokeCustomizations {
    fn type_name(&self) -> &'static str {
        "aft_invoke_customizations"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(
                "Re-runs the AFT provisioning framework and/or the customization pipelines of the accounts the `include` and \
                 `exclude` blocks select (AFT's `aft-invoke-customizations`), without changing configuration or state. \
                 Invoke with `terraform apply -invoke=action.aft_invoke_customizations.<name>`.",
            )
            .block(NestedBlock::list("include", target_block()))
            .block(NestedBlock::list("exclude", target_block()))
            .attr(Attribute::optional(
                "rerun_framework",
                Type::Bool,
                "Re-run the provisioning framework (steps 2 to 7 and the notification) for each account. Default: `true`.",
            ))
            .attr(Attribute::optional(
                "run_pipelines",
                Type::Bool,
                "Start each account's `<account_id>-customizations-pipeline`. Default: `true`.",
            ))
            .attr(Attribute::optional(
                "wait_for_completion",
                Type::Bool,
                "Wait for the pipeline executions and fail when one fails. Default: `false` (AFT's behaviour: done once started).",
            ))
            .attr(Attribute::optional("timeout", Type::String, "Time limit for the whole invocation. Default: `60m`.")),
        )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let config = match Config::read(config) {
            Ok(c) => c,
            Err(d) => return d,
        };
        let mut d = validate_targets(&config.include, &config.exclude);
        let o = config.options();
        let known = !config.rerun_framework.is_unknown() && !config.run_pipelines.is_unknown();
        if known && !o.framework && !o.pipelines {
            d.error_at(
                AttrPath::attr("run_pipelines"),
                "Nothing to invoke",
                "rerun_framework and run_pipelines are both false; set at least one to true.",
            );
        }
        if let Some(t) = config.timeout.as_str()
            && let Err(e) = validation::duration(t)
        {
            d.error_at(AttrPath::attr("timeout"), "Invalid timeout", e);
        }
        d
    }

    async fn invoke(&self, ctx: &Context, config: &Value, progress: Progress) -> Diagnostics {
        let config = match Config::read(config) {
            Ok(c) => c,
            Err(d) => return d,
        };
        let opts = config.options();
        let limit = config.timeout.as_str().and_then(|s| validation::duration(s).ok()).unwrap_or(DEFAULT_TIMEOUT);
        let deadline = Instant::now() + limit;
        let (ids, unmanaged) = match resolve_targets(ctx, &config.include, &config.exclude).await {
            Ok(r) => (r.ids, r.unmanaged),
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        if !unmanaged.is_empty() {
            let msg = format!(
                "not managed by AFT (no item in {}), left out: {}",
                ctx.settings.metadata_table,
                unmanaged.join(", ")
            );
            progress.say(msg.clone());
            d.push(Diagnostic::warning("Targets left out", msg));
        }
        progress.say(format!(
            "{} account(s) targeted: {}",
            ids.len(),
            if ids.is_empty() { "none".to_string() } else { ids.join(", ") }
        ));
        let width = ctx.settings.max_concurrent_customizations.max(1);
        let runs: Vec<_> = ids
            .iter()
            .cloned()
            .map(|id| {
                let progress = progress.clone();
                async move { one(ctx, &id, opts, deadline, &progress).await }
            })
            .collect();
        let mut runs = futures::stream::iter(runs).buffer_unordered(width);
        let (mut ok, mut failed) = (0, 0);
        while let Some(o) = runs.next().await {
            match &o.error {
                None => {
                    ok += 1;
                    progress.say(format!("{}: done: {}", o.account, o.lines.join("; ")));
                }
                Some(e) => {
                    failed += 1;
                    progress.say(format!("{}: FAILED: {e}", o.account));
                    d.push(Diagnostic::error(format!("Customizations failed for account {}", o.account), e.clone()));
                }
            }
        }
        progress.say(format!("{ok} account(s) done, {failed} failed"));
        if ids.is_empty() {
            d.push(Diagnostic::warning(
                "No accounts targeted",
                "The include and exclude blocks select no AFT account.",
            ));
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_matches_the_schema_one_to_one() {
        crate::plugin::check_model::<Config>(&InvokeCustomizations.schema().cty()).unwrap();
    }
}
