//! Step 8: the per-account customizations pipeline in the AFT management account, as AFT's
//! `aft-create-pipeline` builds it: CodePipeline V2, a Source stage with the global and account
//! customization repositories (CodeCommit or a CodeStar connection), then the global and the
//! account customizations CodeBuild projects with `VENDED_ACCOUNT_ID`, tagged `managed_by = AFT`.
//! The artifact store's encryption key (AFT's is the `alias/aft` KMS key) is never dropped: a spec
//! that names none keeps the key the existing pipeline has.

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType, EncryptionKey,
    InputArtifact, OutputArtifact, PipelineDeclaration, PipelineType, StageDeclaration, Tag,
};

use super::StepError;
use crate::aws::errors::while_role_propagates;
use crate::aws::{AwsError, AwsResultExt};

/// Where the customization sources come from.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceKind {
    /// AWS CodeCommit repositories.
    CodeCommit,
    /// A CodeStar (CodeConnections) connection to GitHub, GitLab, Bitbucket.
    Connection(String),
}

/// Everything that defines one pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineSpec {
    pub name: String,
    pub account_id: String,
    pub role_arn: String,
    pub artifact_bucket: String,
    pub source: SourceKind,
    pub global_repository: String,
    pub global_branch: String,
    pub account_repository: String,
    pub account_branch: String,
    pub global_project: String,
    pub account_project: String,
    /// The artifact store's encryption key the configuration names. `None` keeps the key an
    /// existing pipeline has (a new pipeline then gets none: S3's default encryption).
    pub encryption_key: Option<EncryptionKey>,
}

/// AFT's default global customizations repository.
pub const DEFAULT_GLOBAL_REPOSITORY: &str = "aft-global-customizations";
/// AFT's default account customizations repository.
pub const DEFAULT_ACCOUNT_REPOSITORY: &str = "aft-account-customizations";
/// AFT's default branch for both repositories.
pub const DEFAULT_BRANCH: &str = "main";
/// AFT's global customizations CodeBuild project.
pub const DEFAULT_GLOBAL_PROJECT: &str = "aft-global-customizations-terraform";
/// AFT's account customizations CodeBuild project.
pub const DEFAULT_ACCOUNT_PROJECT: &str = "aft-account-customizations-terraform";

const GLOBAL_ARTIFACT: &str = "source-aft-global-customizations";
const ACCOUNT_ARTIFACT: &str = "source-aft-account-customizations";

fn invalid(e: impl std::fmt::Display) -> StepError {
    StepError::Failed(format!("invalid pipeline definition: {e}"))
}

fn source_action(
    spec: &PipelineSpec,
    name: &str,
    repo: &str,
    branch: &str,
    artifact: &str,
) -> Result<ActionDeclaration, StepError> {
    let (provider, config): (&str, Vec<(&str, String)>) = match &spec.source {
        SourceKind::CodeCommit => (
            "CodeCommit",
            vec![
                ("RepositoryName", repo.to_string()),
                ("BranchName", branch.to_string()),
                ("PollForSourceChanges", "false".into()),
            ],
        ),
        SourceKind::Connection(arn) => (
            "CodeStarSourceConnection",
            vec![
                ("ConnectionArn", arn.clone()),
                ("FullRepositoryId", repo.to_string()),
                ("BranchName", branch.to_string()),
                ("DetectChanges", "false".into()),
                ("OutputArtifactFormat", "CODE_ZIP".into()),
            ],
        ),
    };
    let mut a = ActionDeclaration::builder()
        .name(name)
        .action_type_id(
            ActionTypeId::builder()
                .category(ActionCategory::Source)
                .owner(ActionOwner::Aws)
                .provider(provider)
                .version("1")
                .build()
                .map_err(invalid)?,
        )
        .output_artifacts(OutputArtifact::builder().name(artifact).build().map_err(invalid)?)
        .run_order(1);
    for (k, v) in config {
        a = a.configuration(k, v);
    }
    a.build().map_err(invalid)
}

fn build_action(spec: &PipelineSpec, project: &str, artifact: &str) -> Result<ActionDeclaration, StepError> {
    let env =
        serde_json::json!([{"name": "VENDED_ACCOUNT_ID", "value": spec.account_id, "type": "PLAINTEXT"}]).to_string();
    ActionDeclaration::builder()
        .name("Apply")
        .action_type_id(
            ActionTypeId::builder()
                .category(ActionCategory::Build)
                .owner(ActionOwner::Aws)
                .provider("CodeBuild")
                .version("1")
                .build()
                .map_err(invalid)?,
        )
        .input_artifacts(InputArtifact::builder().name(artifact).build().map_err(invalid)?)
        .configuration("ProjectName", project)
        .configuration("PrimarySource", artifact)
        .configuration("EnvironmentVariables", env)
        .run_order(1)
        .build()
        .map_err(invalid)
}

/// The pipeline declaration (stage names follow AFT's two variants).
pub fn declaration(spec: &PipelineSpec) -> Result<PipelineDeclaration, StepError> {
    let (global_stage, account_stage) = match spec.source {
        SourceKind::CodeCommit => ("Global-Customizations", "Account-Customizations"),
        SourceKind::Connection(_) => ("AFT-Global-Customizations", "AFT-Account-Customizations"),
    };
    let source = StageDeclaration::builder()
        .name("Source")
        .actions(source_action(
            spec,
            "aft-global-customizations",
            &spec.global_repository,
            &spec.global_branch,
            GLOBAL_ARTIFACT,
        )?)
        .actions(source_action(
            spec,
            "aft-account-customizations",
            &spec.account_repository,
            &spec.account_branch,
            ACCOUNT_ARTIFACT,
        )?)
        .build()
        .map_err(invalid)?;
    let global = StageDeclaration::builder()
        .name(global_stage)
        .actions(build_action(spec, &spec.global_project, GLOBAL_ARTIFACT)?)
        .build()
        .map_err(invalid)?;
    let account = StageDeclaration::builder()
        .name(account_stage)
        .actions(build_action(spec, &spec.account_project, ACCOUNT_ARTIFACT)?)
        .build()
        .map_err(invalid)?;
    PipelineDeclaration::builder()
        .name(&spec.name)
        .role_arn(&spec.role_arn)
        .artifact_store(
            ArtifactStore::builder()
                .r#type(ArtifactStoreType::S3)
                .location(&spec.artifact_bucket)
                .set_encryption_key(spec.encryption_key.clone())
                .build()
                .map_err(invalid)?,
        )
        .stages(source)
        .stages(global)
        .stages(account)
        .pipeline_type(PipelineType::V2)
        .build()
        .map_err(invalid)
}

/// The sources and projects an existing pipeline uses, read back from its declaration (import
/// needs them: a pipeline AFT built with a CodeStar connection must not be rewritten to
/// CodeCommit by the next update). `None` where the declaration does not say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// The source actions' provider (`CodeCommit`, `CodeStarSourceConnection`, ...).
    pub provider: Option<String>,
    pub connection_arn: Option<String>,
    pub global_repository: Option<String>,
    pub global_branch: Option<String>,
    pub account_repository: Option<String>,
    pub account_branch: Option<String>,
    pub global_project: Option<String>,
    pub account_project: Option<String>,
}

/// Reads [`Observed`] from a declaration of AFT's shape (either stage-name variant): source
/// actions are told apart by their output artifact or action name, build actions by their input.
pub fn observe(decl: &PipelineDeclaration) -> Observed {
    let mut o = Observed::default();
    for a in decl.stages().iter().flat_map(|s| s.actions()) {
        let get = |k: &str| a.configuration().and_then(|c| c.get(k)).cloned();
        let Some(ty) = a.action_type_id() else { continue };
        match ty.category() {
            ActionCategory::Source => {
                let global = a.output_artifacts().iter().any(|x| x.name() == GLOBAL_ARTIFACT)
                    || a.name() == DEFAULT_GLOBAL_REPOSITORY;
                o.provider = Some(ty.provider().to_string());
                o.connection_arn = o.connection_arn.take().or_else(|| get("ConnectionArn"));
                let repo = get("RepositoryName").or_else(|| get("FullRepositoryId"));
                let branch = get("BranchName");
                if global {
                    (o.global_repository, o.global_branch) = (repo, branch);
                } else {
                    (o.account_repository, o.account_branch) = (repo, branch);
                }
            }
            ActionCategory::Build => {
                let project = get("ProjectName");
                if a.input_artifacts().iter().any(|x| x.name() == GLOBAL_ARTIFACT) {
                    o.global_project = project;
                } else {
                    o.account_project = project;
                }
            }
            _ => {}
        }
    }
    o
}

/// The key a declaration's artifact store is encrypted with (`artifactStore.encryptionKey`).
pub fn encryption_key(decl: &PipelineDeclaration) -> Option<&EncryptionKey> {
    decl.artifact_store().and_then(|a| a.encryption_key())
}

/// A KMS encryption key for an artifact store (`KMS` is the only type CodePipeline has).
pub fn kms_key(id: &str) -> Result<EncryptionKey, StepError> {
    EncryptionKey::builder().id(id).r#type(aws_sdk_codepipeline::types::EncryptionKeyType::Kms).build().map_err(invalid)
}

/// Whether `ensure` created the pipeline or changed an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ensured {
    Created,
    Updated,
}

/// How long CodePipeline's "not authorized to perform AssumeRole" on a just-created role is
/// retried (IAM is eventually consistent; the role usually works within seconds).
const ROLE_PROPAGATION: std::time::Duration = std::time::Duration::from_secs(120);

/// What [`ensure`] did, and the pipeline it left.
#[derive(Clone, Debug, PartialEq)]
pub struct EnsuredPipeline {
    pub arn: String,
    pub ensured: Ensured,
    /// The encryption key the written declaration has: the spec's, or else the one the existing
    /// pipeline had.
    pub encryption_key: Option<EncryptionKey>,
}

/// Creates the pipeline, or brings an existing one (an interrupted apply, AFT's own) to the spec.
/// An existing pipeline keeps its artifact encryption key unless the spec names another one:
/// the declaration written never drops a key the pipeline has.
pub async fn ensure(client: &Client, spec: &PipelineSpec) -> Result<EnsuredPipeline, StepError> {
    let existing = match client.get_pipeline().name(&spec.name).send().await.aws("codepipeline:GetPipeline") {
        Ok(o) => Some(o),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.in_account(&spec.account_id).into()),
    };
    let kept = existing.as_ref().and_then(|o| o.pipeline()).and_then(encryption_key);
    let encryption_key = spec.encryption_key.clone().or_else(|| kept.cloned());
    let decl = declaration(&PipelineSpec { encryption_key: encryption_key.clone(), ..spec.clone() })?;
    let ensured = match existing {
        None => {
            let tag = Tag::builder().key("managed_by").value("AFT").build().map_err(invalid)?;
            while_role_propagates(ROLE_PROPAGATION, || async {
                client
                    .create_pipeline()
                    .pipeline(decl.clone())
                    .tags(tag.clone())
                    .send()
                    .await
                    .aws("codepipeline:CreatePipeline")
            })
            .await
            .map_err(|e| e.in_account(&spec.account_id))?;
            Ensured::Created
        }
        Some(_) => {
            while_role_propagates(ROLE_PROPAGATION, || async {
                client.update_pipeline().pipeline(decl.clone()).send().await.aws("codepipeline:UpdatePipeline")
            })
            .await
            .map_err(|e| e.in_account(&spec.account_id))?;
            Ensured::Updated
        }
    };
    let arn = arn_of(client, &spec.name).await?;
    Ok(EnsuredPipeline { arn, ensured, encryption_key })
}

/// The ARN of a pipeline.
pub async fn arn_of(client: &Client, name: &str) -> Result<String, AwsError> {
    let out = client.get_pipeline().name(name).send().await.aws("codepipeline:GetPipeline")?;
    Ok(out.metadata().and_then(|m| m.pipeline_arn()).unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(source: SourceKind) -> PipelineSpec {
        PipelineSpec {
            name: "111122223333-customizations-pipeline".into(),
            account_id: "111122223333".into(),
            role_arn: "arn:aws:iam::999999999999:role/aft-codepipeline-customizations-role".into(),
            artifact_bucket: "aft-customizations-pipeline-999999999999".into(),
            source,
            global_repository: DEFAULT_GLOBAL_REPOSITORY.into(),
            global_branch: "main".into(),
            account_repository: "aft-account-customizations".into(),
            account_branch: "main".into(),
            global_project: DEFAULT_GLOBAL_PROJECT.into(),
            account_project: "aft-account-customizations-terraform".into(),
            encryption_key: None,
        }
    }

    #[test]
    fn codecommit_declaration_has_afts_stages_and_env() {
        let d = declaration(&spec(SourceKind::CodeCommit)).unwrap();
        let names: Vec<&str> = d.stages().iter().map(|s| s.name()).collect();
        assert_eq!(names, ["Source", "Global-Customizations", "Account-Customizations"]);
        assert_eq!(d.pipeline_type(), Some(&PipelineType::V2));
        let src = &d.stages()[0].actions()[0];
        assert_eq!(src.action_type_id().unwrap().provider(), "CodeCommit");
        assert_eq!(src.configuration().unwrap()["PollForSourceChanges"], "false");
        let apply = &d.stages()[1].actions()[0];
        assert_eq!(apply.name(), "Apply");
        assert!(apply.configuration().unwrap()["EnvironmentVariables"].contains("\"VENDED_ACCOUNT_ID\""));
        assert!(apply.configuration().unwrap()["EnvironmentVariables"].contains("111122223333"));
    }

    #[test]
    fn connection_declaration_uses_the_connection() {
        let d = declaration(&spec(SourceKind::Connection(
            "arn:aws:codestar-connections:us-east-1:999999999999:connection/x".into(),
        )))
        .unwrap();
        assert_eq!(d.stages()[1].name(), "AFT-Global-Customizations");
        let cfg = d.stages()[0].actions()[1].configuration().unwrap();
        assert_eq!(cfg["DetectChanges"], "false");
        assert_eq!(cfg["OutputArtifactFormat"], "CODE_ZIP");
        assert!(cfg["ConnectionArn"].starts_with("arn:aws:codestar-connections"));
    }

    #[test]
    fn the_declaration_carries_the_spec_s_encryption_key_and_only_that() {
        assert_eq!(encryption_key(&declaration(&spec(SourceKind::CodeCommit)).unwrap()), None);
        let key = kms_key("arn:aws:kms:us-east-1:999999999999:alias/aft").unwrap();
        let d =
            declaration(&PipelineSpec { encryption_key: Some(key.clone()), ..spec(SourceKind::CodeCommit) }).unwrap();
        assert_eq!(encryption_key(&d), Some(&key));
        assert_eq!(encryption_key(&d).unwrap().r#type().as_str(), "KMS");
    }

    #[test]
    fn observe_reads_back_what_declaration_wrote() {
        let mut sp = spec(SourceKind::Connection("arn:aws:codestar-connections:us-east-1:9:connection/x".into()));
        sp.global_repository = "org/global".into();
        sp.account_branch = "release".into();
        sp.account_project = "custom-account-project".into();
        let o = observe(&declaration(&sp).unwrap());
        assert_eq!(o.provider.as_deref(), Some("CodeStarSourceConnection"));
        assert_eq!(o.connection_arn.as_deref(), Some("arn:aws:codestar-connections:us-east-1:9:connection/x"));
        assert_eq!(o.global_repository.as_deref(), Some("org/global"));
        assert_eq!(o.global_branch.as_deref(), Some("main"));
        assert_eq!(o.account_repository.as_deref(), Some("aft-account-customizations"));
        assert_eq!(o.account_branch.as_deref(), Some("release"));
        assert_eq!(o.global_project.as_deref(), Some("aft-global-customizations-terraform"));
        assert_eq!(o.account_project.as_deref(), Some("custom-account-project"));

        let o = observe(&declaration(&spec(SourceKind::CodeCommit)).unwrap());
        assert_eq!(o.provider.as_deref(), Some("CodeCommit"));
        assert_eq!(o.connection_arn, None);
        assert_eq!(o.account_repository.as_deref(), Some("aft-account-customizations"));
    }
}
