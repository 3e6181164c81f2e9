//! Resource `aft_customization_pipeline`: seed steps 8 and 9, one CodePipeline per account in the
//! AFT management account, and its invocation by `terraform apply`.
//!
//! The pipeline's artifact encryption key (`encryption_key`; AFT's pipelines use `alias/aft`) is
//! read back on import and by the full refresh, and an apply never drops it: a configuration that
//! names no key keeps the key the pipeline has.
//!
//! Order: model → schema → validate → plan → create → read → update → delete → import.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_codepipeline::types::EncryptionKey;

use super::{Op, Timeouts};
use crate::aws::{AwsError, AwsResultExt, clients, names};
use crate::context::Context;
use crate::framework::invoke::{self, Execution};
use crate::framework::pipeline::{self, Ensured, EnsuredPipeline, PipelineSpec, SourceKind};
use crate::framework::poll::Waits;
use crate::inventory::pipeline::{ArtifactKey, Identity, KMS, Model, imported, reconcile_sources};
use crate::plugin::plan::config_changed;
use crate::plugin::schema::timeouts_block;
use crate::plugin::{
    ApplyRequest, Attr, AttrPath, Attribute, Block, Diagnostic, Diagnostics, Failed, IdentitySchema, NestedBlock,
    Nesting, Plan, PlanRequest, ReadRequest, Resource, Schema, Type, Value, read_model, write_model,
};
use crate::validation;

/// `aft_customization_pipeline`
pub struct CustomizationPipeline;

pub const DEFAULT_CREATE: Duration = Duration::from_secs(120 * 60);
pub const DEFAULT_UPDATE: Duration = Duration::from_secs(120 * 60);
pub const DEFAULT_DELETE: Duration = Duration::from_secs(30 * 60);
/// Changes of these never touch the pipeline.
const NO_RUN: [&str; 2] = ["timeouts", "wait_for_completion"];

// ------------------------------------------------------------------ model

/// The key the configuration names, if it names one: what an apply writes. `None` keeps the
/// pipeline's own key.
fn named_key(config: &Model) -> Result<Option<EncryptionKey>, Diagnostics> {
    let Some(id) = config.encryption_key.known().and_then(|k| k.id.as_str()) else { return Ok(None) };
    pipeline::kms_key(id).map(Some).map_err(|e| diag("Invalid encryption key", e))
}

/// Brings the state's key to the one the pipeline declares; true when it changed.
fn reconcile_key(state: &mut Attr<ArtifactKey>, observed: Option<&EncryptionKey>) -> bool {
    let same = match (state.known(), observed) {
        (Some(k), Some(o)) => k.is(o),
        (None, None) => state.is_null(),
        _ => false,
    };
    if !same {
        *state = observed.map(ArtifactKey::of).into();
    }
    !same
}

/// A KMS key as CodePipeline takes it: a key id, a key ARN or an alias ARN (1 to 400 characters).
fn kms_key_id(s: &str) -> Result<(), String> {
    let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
    let uuid = {
        let p: Vec<&str> = s.split('-').collect();
        p.len() == 5 && [8, 4, 4, 4, 12].iter().zip(&p).all(|(n, p)| hex(p, *n))
    };
    let multi_region = s.strip_prefix("mrk-").is_some_and(|h| hex(h, 32));
    let arn = validation::service_arn(s, "kms").is_ok()
        && s.splitn(6, ':').nth(5).is_some_and(|r| {
            r.strip_prefix("alias/").or_else(|| r.strip_prefix("key/")).is_some_and(|n| !n.is_empty())
        });
    if (uuid || multi_region || arn) && s.len() <= 400 {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a KMS key id, key ARN or alias ARN. CodePipeline takes no alias name: for AFT's key \
             write its ARN, arn:aws:kms:<region>:<AFT management account>:alias/aft."
        ))
    }
}

fn ty() -> &'static Type {
    static TY: OnceLock<Type> = OnceLock::new();
    TY.get_or_init(|| CustomizationPipeline.schema().cty())
}

impl Model {
    fn read(v: &Value) -> Result<Model, Diagnostics> {
        read_model(v, "aft_customization_pipeline")
    }

    fn write(&self) -> Result<Value, Diagnostics> {
        write_model(self, ty())
    }
}

/// A block's attribute, or AFT's default.
fn or_default(a: &Attr<String>, default: &str) -> String {
    a.as_str().unwrap_or(default).to_string()
}

/// The pipeline a (known) plan describes, with AFT's defaults, and the encryption key the
/// configuration names (see [`named_key`]).
pub fn spec_of(
    m: &Model,
    encryption_key: Option<EncryptionKey>,
    aft_management: &str,
    partition: &str,
) -> PipelineSpec {
    let account = m.account_id.as_str().unwrap_or_default().to_string();
    let src = m.source.known().cloned().unwrap_or_default();
    let cb = m.codebuild_projects.known().cloned().unwrap_or_default();
    let source = match src.provider.as_str() {
        Some("CodeStarSourceConnection") => SourceKind::Connection(or_default(&src.connection_arn, "")),
        _ => SourceKind::CodeCommit,
    };
    PipelineSpec {
        name: m.name.as_str().map_or_else(|| names::pipeline_name(&account), str::to_string),
        role_arn: m
            .role_arn
            .as_str()
            .map_or_else(|| names::pipeline_role_arn(partition, aft_management), str::to_string),
        artifact_bucket: m
            .artifact_bucket
            .as_str()
            .map_or_else(|| names::artifact_bucket(aft_management), str::to_string),
        source,
        global_repository: or_default(&src.global_customizations_repository, pipeline::DEFAULT_GLOBAL_REPOSITORY),
        global_branch: or_default(&src.global_customizations_branch, pipeline::DEFAULT_BRANCH),
        account_repository: or_default(&src.account_customizations_repository, pipeline::DEFAULT_ACCOUNT_REPOSITORY),
        account_branch: or_default(&src.account_customizations_branch, pipeline::DEFAULT_BRANCH),
        global_project: or_default(&cb.global, pipeline::DEFAULT_GLOBAL_PROJECT),
        account_project: or_default(&cb.account, pipeline::DEFAULT_ACCOUNT_PROJECT),
        account_id: account,
        encryption_key,
    }
}

fn diag(summary: &str, e: impl std::fmt::Display) -> Diagnostics {
    Diagnostic::error(summary, e.to_string()).into()
}

fn with_execution(planned: &Model, spec: &PipelineSpec, done: &EnsuredPipeline, exec: &Execution) -> Model {
    let known = |s: &str| Attr::Known(s.to_string());
    Model {
        id: known(&spec.name),
        name: known(&spec.name),
        arn: known(&done.arn),
        encryption_key: done.encryption_key.as_ref().map(ArtifactKey::of).into(),
        role_arn: known(&spec.role_arn),
        artifact_bucket: known(&spec.artifact_bucket),
        last_execution_id: known(&exec.id),
        last_execution_status: known(&exec.status),
        ..planned.clone()
    }
}

/// The key the pipeline declares now, as the plan of an update shows it: unknown (decided at
/// apply time, which keeps whatever key the pipeline has) when it cannot be read.
async fn current_key(ctx: &Context, name: &str) -> Attr<ArtifactKey> {
    let cp = clients::codepipeline(ctx.aws.hub());
    match cp.get_pipeline().name(name).send().await.aws("codepipeline:GetPipeline") {
        Ok(out) => out.pipeline().and_then(pipeline::encryption_key).map(ArtifactKey::of).into(),
        Err(e) => {
            tracing::debug!(pipeline = name, error = %e, "the pipeline's encryption key is decided at apply time");
            Attr::Unknown
        }
    }
}

// ------------------------------------------------------------------ resource

#[async_trait]
impl Resource<Context> for CustomizationPipeline {
    fn type_name(&self) -> &'static str {
        "aft_customization_pipeline"
    }

    fn schema(&self) -> Schema {
        let s = |n: &str, d: &str| Attribute::optional(n, Type::String, d);
        Schema::new(
            0,
            Block::new(
                "An account's customizations pipeline (seed steps 8 and 9): a CodePipeline V2 in the AFT management account \
                 with AFT's stages (Source → global customizations → account customizations), tagged `managed_by = AFT`. \
                 Create builds and runs it; a change of `triggers` or of the definition updates it and runs it again.",
            )
            .attr(Attribute::required("account_id", Type::String, "The account the pipeline customizes (`VENDED_ACCOUNT_ID`).").force_new())
            .attr(Attribute::optional_computed("name", Type::String, "Pipeline name. Default: `<account_id>-customizations-pipeline`.").force_new())
            .attr(Attribute::optional_computed("role_arn", Type::String, "Pipeline role. Default: `aft-codepipeline-customizations-role` in the AFT management account."))
            .attr(Attribute::optional_computed("artifact_bucket", Type::String, "Artifact bucket. Default: `aft-customizations-pipeline-<AFT management account id>`."))
            .attr(Attribute::optional("triggers", Type::map(Type::String), "Any change starts the pipeline again."))
            .attr(Attribute::optional("wait_for_completion", Type::Bool, "Wait for the execution and fail the apply if it fails. Default: `true`."))
            .attr(Attribute::computed("id", Type::String, "The pipeline name."))
            .attr(Attribute::computed("arn", Type::String, "The pipeline ARN."))
            .attr(Attribute::computed("last_execution_id", Type::String, "The execution the last apply started."))
            .attr(Attribute::computed("last_execution_status", Type::String, "Its status (`Succeeded`, `Failed`, `InProgress`, ...)."))
            .attr(Attribute {
                computed: true,
                ..Attribute::nested(
                    "encryption_key",
                    Nesting::Single,
                    vec![
                        Attribute::required("id", Type::String, "The KMS key: a key id, key ARN or alias ARN (CodePipeline takes no alias name); AFT's is `arn:aws:kms:<region>:<AFT management account>:alias/aft`."),
                        Attribute::optional_computed("type", Type::String, "`KMS`, the only type (the default)."),
                    ],
                    "The KMS key CodePipeline encrypts the pipeline's artifacts with (`artifactStore.encryptionKey`; AFT's pipelines use \
                     `alias/aft`). Left out, the pipeline keeps the key it has: an apply never drops it, and a new pipeline gets none \
                     (S3's default encryption). The state shows the pipeline's key either way.",
                )
            })
            .block(NestedBlock::single(
                "source",
                Block::new("Where the customization repositories are.")
                    .attr(s("provider", "`CodeCommit` (default) or `CodeStarSourceConnection`."))
                    .attr(s("connection_arn", "The CodeStar (CodeConnections) connection, with `CodeStarSourceConnection`."))
                    .attr(s("global_customizations_repository", "Default: `aft-global-customizations` (with a connection: `owner/repo`)."))
                    .attr(s("global_customizations_branch", "Default: `main`."))
                    .attr(s("account_customizations_repository", "Default: `aft-account-customizations`."))
                    .attr(s("account_customizations_branch", "Default: `main`.")),
            ))
            .block(NestedBlock::single(
                "codebuild_projects",
                Block::new("The CodeBuild projects the pipeline runs.")
                    .attr(s("global", "Default: `aft-global-customizations-terraform`."))
                    .attr(s("account", "Default: `aft-account-customizations-terraform`.")),
            ))
            .block(timeouts_block(&["create", "update", "delete"])),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![("name".into(), Type::String, "The pipeline name.".into(), true)],
        })
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        // only the identity's attribute is read: this runs for every instance of every refresh and plan
        let identity: Identity = crate::plugin::from_value(state).ok()?;
        crate::plugin::to_value(&identity, &Type::object([("name", Type::String)])).ok()
    }

    fn validate(&self, c: &Value) -> Diagnostics {
        let c = match Model::read(c) {
            Ok(c) => c,
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        if let Some(a) = c.account_id.as_str()
            && let Err(e) = validation::account_id(a)
        {
            d.error_at(AttrPath::attr("account_id"), "Invalid account id", e);
        }
        if let Some(n) = c.name.as_str()
            && (n.is_empty() || n.len() > 100 || !n.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
        {
            d.error_at(
                AttrPath::attr("name"),
                "Invalid pipeline name",
                format!("{n:?}: use 1 to 100 of A-Z a-z 0-9 . _ -"),
            );
        }
        if let Some(r) = c.role_arn.as_str()
            && let Err(e) = validation::role_arn(r)
        {
            d.error_at(AttrPath::attr("role_arn"), "Invalid role ARN", e);
        }
        if let Some(b) = c.artifact_bucket.as_str() {
            let ok = (3..=63).contains(&b.len())
                && b.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && !b.starts_with(['-', '.'])
                && !b.ends_with(['-', '.']);
            if !ok {
                d.error_at(
                    AttrPath::attr("artifact_bucket"),
                    "Invalid bucket name",
                    format!("{b:?} is not an S3 bucket name."),
                );
            }
        }
        let src = c.source.known().cloned().unwrap_or_default();
        let provider = src.provider.as_str();
        if let Some(p) = provider
            && p != "CodeCommit"
            && p != "CodeStarSourceConnection"
        {
            d.error_at(
                AttrPath::attr("source").then("provider"),
                "Invalid source provider",
                format!("{p:?}: use \"CodeCommit\" or \"CodeStarSourceConnection\"."),
            );
        }
        match (provider, &src.connection_arn) {
            (Some("CodeStarSourceConnection"), Attr::Null) => d.error_at(
                AttrPath::attr("source").then("provider"),
                "Missing connection",
                "CodeStarSourceConnection needs source.connection_arn.",
            ),
            (Some("CodeStarSourceConnection"), Attr::Known(a))
                if validation::service_arn(a, "codestar-connections").is_err()
                    && validation::service_arn(a, "codeconnections").is_err() =>
            {
                d.error_at(
                    AttrPath::attr("source").then("connection_arn"),
                    "Invalid connection ARN",
                    format!("{a:?} is not a CodeStar or CodeConnections connection ARN."),
                )
            }
            (p, Attr::Known(_)) if p != Some("CodeStarSourceConnection") => d.error_at(
                AttrPath::attr("source").then("connection_arn"),
                "Connection without provider",
                "connection_arn is used only with provider = \"CodeStarSourceConnection\".",
            ),
            _ => {}
        }
        for (a, v) in [
            ("global_customizations_repository", &src.global_customizations_repository),
            ("global_customizations_branch", &src.global_customizations_branch),
            ("account_customizations_repository", &src.account_customizations_repository),
            ("account_customizations_branch", &src.account_customizations_branch),
        ] {
            if v.as_str().is_some_and(|v| v.trim().is_empty()) {
                d.error_at(AttrPath::attr("source").then(a), "Empty value", format!("{a} must not be empty."));
            }
        }
        let cb = c.codebuild_projects.known().cloned().unwrap_or_default();
        for (a, v) in [("global", &cb.global), ("account", &cb.account)] {
            if let Some(p) = v.as_str()
                && (p.len() < 2 || p.len() > 255 || !p.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)))
            {
                d.error_at(
                    AttrPath::attr("codebuild_projects").then(a),
                    "Invalid CodeBuild project name",
                    format!("{p:?}: use 2 to 255 of A-Z a-z 0-9 - _"),
                );
            }
        }
        if let Some(k) = c.encryption_key.known() {
            if let Some(id) = k.id.as_str()
                && let Err(e) = kms_key_id(id)
            {
                d.error_at(AttrPath::attr("encryption_key").then("id"), "Invalid encryption key", e);
            }
            if let Some(t) = k.kind.as_str()
                && t != KMS
            {
                d.error_at(
                    AttrPath::attr("encryption_key").then("type"),
                    "Invalid encryption key type",
                    format!("{t:?}: CodePipeline knows only \"KMS\"."),
                );
            }
        }
        Timeouts::check(&c.timeouts, &mut d);
        d
    }

    async fn modify_plan(&self, ctx: Option<&Context>, req: &PlanRequest<'_>, plan: &mut Plan) -> Diagnostics {
        if plan.planned.is_null() {
            return Diagnostics::new();
        }
        let mut m = match Model::read(&plan.planned) {
            Ok(m) => m,
            Err(d) => return d,
        };
        // fill in defaults at plan time when they are known, so the plan shows them
        if let Some(acct) = m.account_id.known().cloned() {
            if m.name.is_unknown() {
                m.name = Attr::Known(names::pipeline_name(&acct));
            }
            if let Some(lz) = match ctx {
                Some(c) => c.landing_zone().await.ok(),
                None => None,
            } {
                if m.role_arn.is_unknown() {
                    m.role_arn = Attr::Known(names::pipeline_role_arn(&lz.partition, &lz.aft_management));
                }
                if m.artifact_bucket.is_unknown() {
                    m.artifact_bucket = Attr::Known(names::artifact_bucket(&lz.aft_management));
                }
            }
        }
        let config = match Model::read(req.config) {
            Ok(c) => c,
            Err(d) => return d,
        };
        let updating = !req.prior.is_null();
        if updating && config.encryption_key.is_null() {
            // Terraform proposes null here (the prior key has a required `id`, so it takes the
            // key for one the configuration used to name); a configuration that names no key
            // keeps the pipeline's
            m.encryption_key = match Model::read(req.prior) {
                Ok(p) => p.encryption_key,
                Err(d) => return d,
            };
        }
        if let Attr::Known(k) = &mut m.encryption_key
            && k.kind.is_null()
        {
            k.kind = Attr::Known(KMS.into());
        }
        let planned = match m.write() {
            Ok(v) => v,
            Err(d) => return d,
        };
        if updating && config_changed(req.schema, req.prior, &planned, &NO_RUN) {
            m.last_execution_id = Attr::Unknown;
            m.last_execution_status = Attr::Unknown;
        }
        // An update plans the key the pipeline has now when the configuration names none (the
        // state may predate a change made outside Terraform), so the plan shows what the apply,
        // which keeps that key, will leave.
        if updating && config.encryption_key.is_null() && planned != *req.prior {
            m.encryption_key = match (ctx, m.name.as_str()) {
                (Some(c), Some(name)) => current_key(c, name).await,
                _ => Attr::Unknown,
            };
        }
        match m.write() {
            Ok(v) => {
                plan.planned = v;
                Diagnostics::new()
            }
            Err(d) => d,
        }
    }

    async fn create(&self, ctx: &Context, req: &ApplyRequest<'_>) -> Result<Value, Failed> {
        let planned = Model::read(req.planned)?;
        let key = named_key(&Model::read(req.config)?)?;
        let deadline = Instant::now() + Timeouts::of(&planned.timeouts, Op::Create, DEFAULT_CREATE);
        let lz = ctx.landing_zone().await.map_err(|e| diag("Resolving the AFT management account failed", e))?.clone();
        let spec = spec_of(&planned, key, &lz.aft_management, &lz.partition);
        let cp = clients::codepipeline(ctx.aws.hub());
        let done =
            pipeline::ensure(&cp, &spec).await.map_err(|e| diag("Creating the customizations pipeline failed", e))?;
        // CodePipeline runs a new pipeline once by itself; take that run instead of starting a second
        let auto = if done.ensured == Ensured::Created {
            invoke::latest(&cp, &spec.name)
                .await
                .map_err(|e| diag("Reading pipeline executions failed", e))?
                .map(|(id, _)| id)
        } else {
            None
        };
        let wait = planned.wait_for_completion.known().copied().unwrap_or(true);
        let run = invoke::run(&cp, &ctx.customization_slots, &spec.name, auto, wait, &Waits::of(ctx, deadline)).await;
        match run {
            Ok(exec) => Ok(with_execution(&planned, &spec, &done, &exec).write()?),
            Err(e) => {
                let failed = Execution { id: String::new(), status: "Failed".into() };
                Err(Failed {
                    diags: diag("The customizations pipeline failed", format!("account {}: {e}", spec.account_id)),
                    partial: Some(with_execution(&planned, &spec, &done, &failed).write()?),
                })
            }
        }
    }

    async fn read(&self, ctx: &Context, req: &ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let state = req.state;
        let mut s = Model::read(state)?;
        let Some(name) = s.name.known().cloned() else { return Ok(None) };
        let name = name.as_str();
        // built only to ask, and once: a client costs about 0.1 ms of CPU, more than the rest of a
        // read the listing answers
        let client = std::sync::OnceLock::new();
        let cp = || client.get_or_init(|| clients::codepipeline(ctx.aws.hub()));
        let full = ctx.settings.drift_detection == crate::context::DriftDetection::Full;
        // Standard: one ListPipelines for the whole refresh, and only a pipeline it did not see is
        // asked for directly. Full: every definition, so sources and projects edited outside
        // Terraform show in the plan.
        let ask = full
            || !crate::inventory::pipeline_names(ctx)
                .await
                .map_err(|e| diag("Listing the pipelines failed", e))?
                .contains(name);
        if ask {
            match cp().get_pipeline().name(name).send().await.aws("codepipeline:GetPipeline") {
                Ok(out) => {
                    if let Some(p) = out.pipeline().filter(|_| full) {
                        if reconcile_sources(&mut s, &pipeline::observe(p)) {
                            tracing::info!(pipeline = name, "the pipeline's sources differ from the state");
                        }
                        if reconcile_key(&mut s.encryption_key, pipeline::encryption_key(p)) {
                            tracing::info!(pipeline = name, "the pipeline's encryption key differs from the state");
                        }
                    }
                }
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(diag("Reading the pipeline failed", e)),
            }
        }
        if let Some(exec) = s.last_execution_id.known().cloned().filter(|e| full && !e.is_empty()) {
            match cp()
                .get_pipeline_execution()
                .pipeline_name(name)
                .pipeline_execution_id(exec)
                .send()
                .await
                .aws("codepipeline:GetPipelineExecution")
            {
                Ok(o) => {
                    if let Some(st) = o.pipeline_execution().and_then(|e| e.status()) {
                        s.last_execution_status = Attr::Known(st.as_str().to_string());
                    }
                }
                Err(e) if e.is_not_found() || e.code == "PipelineExecutionNotFoundException" => {}
                Err(e) => return Err(diag("Reading the pipeline execution failed", e)),
            }
        }
        Ok(Some(s.write()?))
    }

    async fn update(&self, ctx: &Context, req: &ApplyRequest<'_>) -> Result<Value, Failed> {
        let planned = Model::read(req.planned)?;
        if !planned.last_execution_id.is_unknown() {
            // only arguments that start nothing changed (timeouts, wait_for_completion): the plan
            // promised no run and the same execution, so nothing happens in AWS
            return Ok(req.planned.clone());
        }
        let key = named_key(&Model::read(req.config)?)?;
        let deadline = Instant::now() + Timeouts::of(&planned.timeouts, Op::Update, DEFAULT_UPDATE);
        let lz = ctx.landing_zone().await.map_err(|e| diag("Resolving the AFT management account failed", e))?.clone();
        let spec = spec_of(&planned, key, &lz.aft_management, &lz.partition);
        let cp = clients::codepipeline(ctx.aws.hub());
        let done =
            pipeline::ensure(&cp, &spec).await.map_err(|e| diag("Updating the customizations pipeline failed", e))?;
        let wait = planned.wait_for_completion.known().copied().unwrap_or(true);
        let exec = invoke::run(&cp, &ctx.customization_slots, &spec.name, None, wait, &Waits::of(ctx, deadline))
            .await
            .map_err(|e| diag("The customizations pipeline failed", format!("account {}: {e}", spec.account_id)))?;
        Ok(with_execution(&planned, &spec, &done, &exec).write()?)
    }

    async fn delete(&self, ctx: &Context, req: &ApplyRequest<'_>) -> Result<(), Diagnostics> {
        let prior = req.prior;
        let prior = Model::read(prior)?;
        let name = prior.name.as_str().unwrap_or_default();
        let deadline = Instant::now() + Timeouts::of(&prior.timeouts, Op::Delete, DEFAULT_DELETE);
        let cp = clients::codepipeline(ctx.aws.hub());
        // a running execution is waited for, and stopped only when the delete timeout nears
        if let Some((exec, status)) = match invoke::latest(&cp, name).await {
            Ok(l) => l,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(diag("Reading pipeline executions failed", e)),
        } && status.as_str() == "InProgress"
        {
            let soft = deadline.checked_sub(Duration::from_secs(60)).unwrap_or(deadline);
            if invoke::wait(&cp, name, &exec, &Waits::of(ctx, soft)).await.is_err() {
                let _ = cp
                    .stop_pipeline_execution()
                    .pipeline_name(name)
                    .pipeline_execution_id(&exec)
                    .abandon(true)
                    .reason("pipeline destroyed by terraform")
                    .send()
                    .await
                    .aws("codepipeline:StopPipelineExecution");
            }
        }
        match cp.delete_pipeline().name(name).send().await.aws("codepipeline:DeletePipeline") {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(diag("Deleting the pipeline failed", e)),
        }
    }

    async fn import(&self, ctx: &Context, id: &str) -> Result<Value, Diagnostics> {
        let cp = clients::codepipeline(ctx.aws.hub());
        let out = cp
            .get_pipeline()
            .name(id)
            .send()
            .await
            .aws("codepipeline:GetPipeline")
            .map_err(|e: AwsError| diag("Import failed", e))?;
        imported(&cp, id, &out).await?.write()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::pipeline::Source;

    fn defaults() -> pipeline::Observed {
        pipeline::Observed {
            provider: Some("CodeCommit".into()),
            connection_arn: None,
            global_repository: Some(pipeline::DEFAULT_GLOBAL_REPOSITORY.into()),
            global_branch: Some("main".into()),
            account_repository: Some(pipeline::DEFAULT_ACCOUNT_REPOSITORY.into()),
            account_branch: Some("main".into()),
            global_project: Some(pipeline::DEFAULT_GLOBAL_PROJECT.into()),
            account_project: Some(pipeline::DEFAULT_ACCOUNT_PROJECT.into()),
        }
    }

    fn state(source: Attr<Source>) -> Model {
        Model { name: Attr::Known("p".into()), source, ..Model::default() }
    }

    fn known(s: &str) -> Attr<String> {
        Attr::Known(s.to_string())
    }

    #[test]
    fn the_model_matches_the_schema_one_to_one() {
        crate::plugin::check_model::<Model>(ty()).unwrap();
        crate::plugin::check_model::<Identity>(&Type::object([("name", Type::String)])).unwrap();
    }

    #[test]
    fn kms_keys_are_taken_in_the_forms_codepipeline_takes() {
        for ok in [
            "arn:aws:kms:us-east-1:111122223333:alias/aft",
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
        ] {
            assert_eq!(kms_key_id(ok), Ok(()), "{ok}");
        }
        for bad in
            ["", "alias/aft", "aft", "arn:aws:kms:us-east-1:111122223333:alias/", "arn:aws:s3:::aft", "1234-5678"]
        {
            assert!(kms_key_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_key_in_the_state_follows_the_pipeline() {
        let aft = pipeline::kms_key("arn:aws:kms:us-east-1:111122223333:alias/aft").unwrap();
        let same = Attr::Known(ArtifactKey { id: known(aft.id()), kind: Attr::Null });
        let mut s = same.clone();
        assert!(!reconcile_key(&mut s, Some(&aft)), "a null type means KMS");
        assert_eq!(s, same);
        assert!(!reconcile_key(&mut Attr::Null, None));

        // removed outside Terraform, then another key
        let mut s = same.clone();
        assert!(reconcile_key(&mut s, None));
        assert!(s.is_null());
        let other = pipeline::kms_key("arn:aws:kms:us-east-1:111122223333:alias/other").unwrap();
        assert!(reconcile_key(&mut s, Some(&other)));
        assert_eq!(s, Attr::Known(ArtifactKey { id: known(other.id()), kind: known("KMS") }));
    }

    #[test]
    fn defaults_and_spelled_out_defaults_are_left_alone() {
        let mut s = state(Attr::Null);
        assert!(!reconcile_sources(&mut s, &defaults()));
        assert!(s.source.is_null());
        let spelled = Attr::Known(Source {
            provider: known("CodeCommit"),
            global_customizations_branch: known("main"),
            ..Source::default()
        });
        let mut s = state(spelled.clone());
        assert!(!reconcile_sources(&mut s, &defaults()));
        assert_eq!(s.source, spelled);
    }

    #[test]
    fn a_connection_or_an_edited_branch_is_read_into_the_state() {
        let mut o = defaults();
        o.provider = Some("CodeStarSourceConnection".into());
        o.connection_arn = Some("arn:aws:codestar-connections:us-east-1:1:connection/x".into());
        o.global_repository = Some("org/global".into());
        let mut s = state(Attr::Null);
        assert!(reconcile_sources(&mut s, &o));
        let src = s.source.known().unwrap();
        assert_eq!(src.provider.as_str(), Some("CodeStarSourceConnection"));
        assert_eq!(src.global_customizations_repository.as_str(), Some("org/global"));
        assert!(src.global_customizations_branch.is_null(), "defaults stay null");
        assert!(s.codebuild_projects.is_null());

        let mut o = defaults();
        o.account_branch = Some("hotfix".into());
        o.global_project = Some("other-project".into());
        let mut s = state(Attr::Known(Source { account_customizations_branch: known("main"), ..Source::default() }));
        assert!(reconcile_sources(&mut s, &o));
        assert_eq!(s.source.known().unwrap().account_customizations_branch.as_str(), Some("hotfix"));
        assert_eq!(s.codebuild_projects.known().unwrap().global.as_str(), Some("other-project"));

        // back to the default: the attribute that said otherwise goes back to null
        let mut s = state(Attr::Known(Source { account_customizations_branch: known("release"), ..Source::default() }));
        assert!(reconcile_sources(&mut s, &defaults()));
        assert!(s.source.is_null());
    }
}
