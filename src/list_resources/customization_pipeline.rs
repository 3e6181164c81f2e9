//! List resource `aft_customization_pipeline`: the customizations pipelines AFT (or this
//! provider) built, for `terraform query` and `-generate-config-out`.
//!
//! A pipeline is listed when its name is AFT's, `<account id>-customizations-pipeline`, for an
//! account of the organization, and its declaration says it customizes that account (the
//! `VENDED_ACCOUNT_ID` of its build actions, which AFT's `aft-create-pipeline` and this provider
//! both write). Each result carries the resource identity (`name`) and, when Terraform asks for
//! it, the object built by the same function import uses, so the generated configuration plans
//! no change after the import.
//!
//! Cost: one `ListPipelines` (paged) and the organization snapshot, then per candidate one
//! `GetPipeline`, and with `include_resource` one `ListPipelineExecutions` more (eight at a time).

use async_trait::async_trait;
use futures::StreamExt;

use crate::aws::organizations::AccountInfo;
use crate::aws::{AwsError, AwsResultExt, clients, names};
use crate::context::Context;
use crate::inventory;
use crate::inventory::filters::{AccountFilter, Resolved};
use crate::inventory::pipeline::{Identity, imported, vended_account};
use crate::plugin::{
    Attr, Block, Diagnostic, Diagnostics, ListResource, Listed, Schema, StringMap, Type, Value, read_model,
};

/// `list "aft_customization_pipeline"`
pub struct CustomizationPipelineList;

/// How many pipelines are read at once.
const CONCURRENCY: usize = 8;

/// The `config` block of a `list "aft_customization_pipeline"`: one field per schema attribute.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub account_ids: Attr<Vec<Attr<String>>>,
    pub organizational_units: Attr<Vec<Attr<String>>>,
    pub tags: Attr<StringMap>,
    pub email: Attr<String>,
}

fn filters(config: &Value) -> Result<AccountFilter, Diagnostics> {
    let config: Config = read_model(config, "list aft_customization_pipeline")?;
    let mut d = Diagnostics::new();
    let f = AccountFilter::parse(&config.organizational_units, &config.tags, &config.email, &mut d)
        .with_account_ids(&config.account_ids, &mut d);
    if d.has_errors() { Err(d) } else { Ok(f) }
}

/// The account a pipeline name gives, when the name is AFT's: `<12-digit id>-customizations-pipeline`.
fn account_of(pipeline: &str) -> Option<&str> {
    let id = pipeline.strip_suffix("-customizations-pipeline")?;
    crate::validation::account_id(id).ok().map(|()| id)
}

fn failed(e: impl std::fmt::Display) -> Diagnostics {
    Diagnostics::from(Diagnostic::error("Listing the customizations pipelines failed", e.to_string()))
}

/// One candidate: the pipeline when it matches the filters and its declaration customizes
/// `account`, else `None`.
async fn found(
    ctx: &Context,
    matcher: &Resolved<'_>,
    account: &AccountInfo,
    include_resource: bool,
) -> Result<Option<Listed>, Diagnostics> {
    if !matcher.matches(account).await.map_err(failed)? {
        return Ok(None);
    }
    let name = names::pipeline_name(&account.id);
    let cp = clients::codepipeline(ctx.aws.hub());
    let out = match cp.get_pipeline().name(&name).send().await.aws("codepipeline:GetPipeline") {
        Ok(out) => out,
        // deleted since ListPipelines
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(failed(e.in_account(&account.id))),
    };
    let declared = out.pipeline().and_then(vended_account);
    if declared.as_deref() != Some(account.id.as_str()) {
        tracing::warn!(
            pipeline = name,
            declared = ?declared,
            "not listed: its declaration does not customize the account its name gives"
        );
        return Ok(None);
    }
    let object = if include_resource { imported(&cp, &name, &out).await?.to_value()? } else { Value::Null };
    let identity = crate::plugin::to_value(&Identity { name: name.clone() }, &Type::object([("name", Type::String)]))
        .map_err(|e| failed(format!("identity of {name}: {e}")))?;
    Ok(Some(Listed {
        identity,
        display_name: format!("{} ({}, {}): {name}", account.name, account.id, account.email),
        object,
    }))
}

#[async_trait]
impl ListResource<Context> for CustomizationPipelineList {
    fn type_name(&self) -> &'static str {
        "aft_customization_pipeline"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            crate::inventory::filters::attributes().into_iter().fold(
                Block::new(
                    "Finds the customizations pipelines AFT (or this provider) built in the AFT management account: \
                 `<account id>-customizations-pipeline` for an account of the organization, whose declaration \
                 customizes that account (`VENDED_ACCOUNT_ID`). All filters must match; they apply to the account.",
                ),
                |b, a| b.attr(a),
            ),
        )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        filters(config).err().unwrap_or_default()
    }

    async fn list(&self, ctx: &Context, config: &Value, limit: usize) -> Result<Vec<Listed>, Diagnostics> {
        self.list_found(ctx, config, limit, true).await
    }

    async fn list_found(
        &self,
        ctx: &Context,
        config: &Value,
        limit: usize,
        include_resource: bool,
    ) -> Result<Vec<Listed>, Diagnostics> {
        let f = filters(config)?;
        let snap = inventory::shared(ctx).await.map_err(|e: AwsError| failed(e))?;
        let pipelines = inventory::pipeline_names(ctx).await.map_err(|e: AwsError| failed(e))?;
        let matcher = f.resolve(ctx, &snap).await?;
        // owned, so the futures below borrow nothing but the context and the matcher
        let mut candidates: Vec<AccountInfo> = pipelines
            .iter()
            .filter_map(|p| account_of(p))
            .filter_map(|id| snap.accounts.get(id))
            .filter(|a| matcher.matches_offline(a))
            .cloned()
            .collect();
        candidates.sort_by(|a, b| a.id.cmp(&b.id));
        let matcher = &matcher;
        let mut results = futures::stream::iter(candidates)
            .map(|a| async move { found(ctx, matcher, &a, include_resource).await })
            .buffered(CONCURRENCY);
        let mut out = Vec::new();
        while out.len() < limit
            && let Some(r) = results.next().await
        {
            if let Some(listed) = r? {
                out.push(listed);
            }
        }
        tracing::info!(found = out.len(), "listed customizations pipelines");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_matches_the_schema_one_to_one() {
        crate::plugin::check_model::<Config>(&CustomizationPipelineList.schema().cty()).unwrap();
    }

    #[test]
    fn only_afts_pipeline_names_give_an_account() {
        assert_eq!(account_of("111122223333-customizations-pipeline"), Some("111122223333"));
        for other in [
            "ct-aft-account-request",
            "11112222333-customizations-pipeline",
            "1111222233334-customizations-pipeline",
            "11112222333a-customizations-pipeline",
            "111122223333-customizations-pipeline-2",
            "x-111122223333-customizations-pipeline",
        ] {
            assert_eq!(account_of(other), None, "{other}");
        }
    }

    #[test]
    fn bad_filters_name_the_attribute() {
        let cfg = Value::object([
            ("account_ids", Value::List(vec![Value::from("111122223333"), Value::from("1111")])),
            ("organizational_units", Value::List(vec![Value::from("")])),
            ("tags", Value::Null),
            ("email", Value::Null),
        ]);
        let d = filters(&cfg).unwrap_err();
        let paths: Vec<String> = d.0.iter().filter_map(|x| x.path.as_ref().map(|p| p.to_string())).collect();
        assert_eq!(paths, ["config.organizational_units[0]", "config.account_ids[1]"]);
    }
}
