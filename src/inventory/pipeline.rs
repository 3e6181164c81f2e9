//! The state of an `aft_customization_pipeline` as AWS shows it: the model shared by the resource
//! and the list resource, the pipeline's account, and the state an import (or `terraform query`)
//! builds from a pipeline's declaration, so the configuration a query generates plans no change.

use aws_sdk_codepipeline::types::EncryptionKey;
use serde::{Deserialize, Serialize};

use crate::framework::{invoke, pipeline};
use crate::plugin::{Attr, Diagnostic, Diagnostics, StringMap, Timeouts, Value};
use crate::validation;

/// The configuration, plan and state of `aft_customization_pipeline`: one field per schema
/// attribute (checked one to one by a test).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub account_id: Attr<String>,
    pub name: Attr<String>,
    pub role_arn: Attr<String>,
    pub artifact_bucket: Attr<String>,
    pub triggers: Attr<StringMap>,
    pub wait_for_completion: Attr<bool>,
    pub id: Attr<String>,
    pub arn: Attr<String>,
    pub last_execution_id: Attr<String>,
    pub last_execution_status: Attr<String>,
    pub source: Attr<Source>,
    pub codebuild_projects: Attr<Projects>,
    pub encryption_key: Attr<ArtifactKey>,
    pub timeouts: Attr<Timeouts>,
}

/// `source { … }`: null attributes mean AFT's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub provider: Attr<String>,
    pub connection_arn: Attr<String>,
    pub global_customizations_repository: Attr<String>,
    pub global_customizations_branch: Attr<String>,
    pub account_customizations_repository: Attr<String>,
    pub account_customizations_branch: Attr<String>,
}

/// `codebuild_projects { … }`: null attributes mean AFT's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Projects {
    pub global: Attr<String>,
    pub account: Attr<String>,
}

/// `encryption_key = { id, type }`: the KMS key of the pipeline's artifact store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArtifactKey {
    pub id: Attr<String>,
    /// `type` in the schema; `KMS` is the only one.
    #[serde(rename = "type")]
    pub kind: Attr<String>,
}

/// The type of every artifact store key (CodePipeline has no other).
pub const KMS: &str = "KMS";

impl ArtifactKey {
    /// The key as the pipeline declares it.
    pub fn of(k: &EncryptionKey) -> ArtifactKey {
        ArtifactKey { id: Attr::Known(k.id().to_string()), kind: Attr::Known(k.r#type().as_str().to_string()) }
    }

    /// Whether this is the key the pipeline declares (a null `type` means `KMS`).
    pub fn is(&self, k: &EncryptionKey) -> bool {
        self.id.as_str() == Some(k.id()) && self.kind.as_str().unwrap_or(KMS) == k.r#type().as_str()
    }
}

/// The identity: the pipeline's name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
}

/// What the pipeline uses for one attribute of `source` or `codebuild_projects`.
type ObservedField = fn(&pipeline::Observed) -> &Option<String>;

/// One attribute of a block as (the model's field, AFT's default, the pipeline's value).
type Reconciled<B> = (fn(&mut B) -> &mut Attr<String>, &'static str, ObservedField);

/// Every attribute of `source`: what import and the full refresh read back from the pipeline.
const SOURCE: [Reconciled<Source>; 6] = [
    (|s| &mut s.provider, "CodeCommit", |o| &o.provider),
    (|s| &mut s.connection_arn, "", |o| &o.connection_arn),
    (|s| &mut s.global_customizations_repository, pipeline::DEFAULT_GLOBAL_REPOSITORY, |o| &o.global_repository),
    (|s| &mut s.global_customizations_branch, pipeline::DEFAULT_BRANCH, |o| &o.global_branch),
    (|s| &mut s.account_customizations_repository, pipeline::DEFAULT_ACCOUNT_REPOSITORY, |o| &o.account_repository),
    (|s| &mut s.account_customizations_branch, pipeline::DEFAULT_BRANCH, |o| &o.account_branch),
];

/// Every attribute of `codebuild_projects`.
const PROJECTS: [Reconciled<Projects>; 2] = [
    (|p| &mut p.global, pipeline::DEFAULT_GLOBAL_PROJECT, |o| &o.global_project),
    (|p| &mut p.account, pipeline::DEFAULT_ACCOUNT_PROJECT, |o| &o.account_project),
];

/// Brings one block to what the pipeline uses; true when it changed. An attribute changes only
/// when its meaning (its value, or AFT's default when null) differs from the pipeline; a block
/// left with only defaults becomes null.
fn reconcile<B: Default + Clone>(block: &mut Attr<B>, fields: &[Reconciled<B>], o: &pipeline::Observed) -> bool {
    let mut next = block.known().cloned().unwrap_or_default();
    let mut differs = false;
    for (field, default, observed) in fields {
        let attr = field(&mut next);
        let meant = attr.as_str().unwrap_or(default).to_string();
        let actual = observed(o).as_deref().unwrap_or(default);
        if meant != actual {
            differs = true;
            *attr = if actual == *default { Attr::Null } else { Attr::Known(actual.to_string()) };
        }
    }
    if differs {
        let empty = fields.iter().all(|(field, ..)| field(&mut next).is_null());
        *block = if empty { Attr::Null } else { Attr::Known(next) };
    }
    differs
}

/// Brings `source` and `codebuild_projects` in `state` to what the pipeline really uses, so a
/// configuration that spells a default out plans nothing, and a pipeline using a CodeStar
/// connection, or edited outside Terraform, shows up in the plan as a change of `source` instead
/// of being silently rebuilt with the configuration's values. Returns whether anything changed.
pub fn reconcile_sources(state: &mut Model, o: &pipeline::Observed) -> bool {
    let a = reconcile(&mut state.source, &SOURCE, o);
    let b = reconcile(&mut state.codebuild_projects, &PROJECTS, o);
    a || b
}

fn diag(summary: &str, e: impl std::fmt::Display) -> Diagnostics {
    Diagnostic::error(summary, e.to_string()).into()
}

/// The account a pipeline declaration customizes: the `VENDED_ACCOUNT_ID` of its build actions
/// (AFT's pipelines and this provider's both set it).
pub fn vended_account(p: &aws_sdk_codepipeline::types::PipelineDeclaration) -> Option<String> {
    p.stages()
        .iter()
        .flat_map(|s| s.actions())
        .filter_map(|a| a.configuration().and_then(|c| c.get("EnvironmentVariables")))
        .find_map(|env| {
            serde_json::from_str::<serde_json::Value>(env).ok().and_then(|v| {
                v.as_array()?
                    .iter()
                    .find(|e| e["name"] == "VENDED_ACCOUNT_ID")
                    .and_then(|e| e["value"].as_str().map(str::to_string))
            })
        })
}

/// The state an import of pipeline `id` builds from its `GetPipeline` answer (one
/// `ListPipelineExecutions` more for the last execution). The list resource builds its objects
/// with it, so the configuration it generates plans no change after the import.
pub async fn imported(
    cp: &aws_sdk_codepipeline::Client,
    id: &str,
    out: &aws_sdk_codepipeline::operation::get_pipeline::GetPipelineOutput,
) -> Result<Model, Diagnostics> {
    let p = out.pipeline().ok_or_else(|| diag("Import failed", format!("pipeline {id} has no declaration")))?;
    let account = vended_account(p)
        .or_else(|| id.split('-').next().filter(|a| validation::account_id(a).is_ok()).map(str::to_string))
        .ok_or_else(|| diag("Import failed", format!("pipeline {id} names no VENDED_ACCOUNT_ID")))?;
    let latest = invoke::latest(cp, id).await.map_err(|e| diag("Import failed", e))?;
    let arn = out.metadata().and_then(|m| m.pipeline_arn()).unwrap_or_default().to_string();
    let mut imported = Model {
        account_id: Attr::Known(account),
        name: Attr::Known(p.name().to_string()),
        role_arn: Attr::Known(p.role_arn().to_string()),
        artifact_bucket: p.artifact_store().map(|a| a.location().to_string()).into(),
        id: Attr::Known(p.name().to_string()),
        arn: Attr::Known(arn),
        last_execution_id: latest.as_ref().map(|l| l.0.clone()).into(),
        last_execution_status: latest.map(|l| l.1.as_str().to_string()).into(),
        encryption_key: pipeline::encryption_key(p).map(ArtifactKey::of).into(),
        ..Model::default()
    };
    reconcile_sources(&mut imported, &pipeline::observe(p));
    Ok(imported)
}

impl Model {
    /// The model as a value. Its fields have the resource schema's kinds already (maps, objects;
    /// no sets), so no schema type is needed to write it.
    pub fn to_value(&self) -> Result<Value, Diagnostics> {
        crate::plugin::write_model(self, &crate::plugin::Type::Dynamic)
    }
}
