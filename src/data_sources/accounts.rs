//! Data source `aft_accounts`: AFT's customization targets (the `include`/`exclude` input of
//! `aft-invoke-customizations`) resolved to accounts, so `for_each` can drive a whole fleet.

use async_trait::async_trait;

use crate::aws::organizations;
use crate::aws::{AwsError, clients};
use crate::context::Context;
use crate::inventory::targets::{Resolved, TargetBlocks, resolve_targets, target_block, validate_targets};
use crate::plugin::{
    Attr, Attribute, Block, DataSource, Diagnostic, Diagnostics, NestedBlock, Schema, Type, Value, read_model,
    write_model,
};

/// `aft_accounts`
pub struct AccountsDataSource;

/// The configuration and result of `aft_accounts`: one field per schema attribute.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Model {
    pub include: TargetBlocks,
    pub exclude: TargetBlocks,
    pub id: Attr<String>,
    pub ids: Attr<Vec<String>>,
    pub accounts: Attr<Vec<Account>>,
}

/// One resolved account.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub name: String,
    pub parent_ou_id: String,
    pub tags: std::collections::BTreeMap<String, String>,
}

fn read_config(config: &Value) -> Result<Model, Diagnostics> {
    read_model(config, "aft_accounts")
}

#[async_trait]
impl DataSource<Context> for AccountsDataSource {
    fn type_name(&self) -> &'static str {
        "aft_accounts"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(
                "AFT's customization targets resolved to accounts: `include` and `exclude` blocks as in AFT's invoke-customizations \
                 input. Included accounts are limited to AFT-managed accounts (the metadata table) plus the core accounts; \
                 excluded ones are removed.",
            )
            .block(NestedBlock::list("include", target_block()))
            .block(NestedBlock::list("exclude", target_block()))
            .attr(Attribute::computed("id", Type::String, "A digest of the resolved set."))
            .attr(Attribute::computed("ids", Type::list(Type::String), "The account ids, sorted."))
            .attr(Attribute::computed(
                "accounts",
                Type::list(Type::object([
                    ("id", Type::String),
                    ("email", Type::String),
                    ("name", Type::String),
                    ("parent_ou_id", Type::String),
                    ("tags", Type::map(Type::String)),
                ])),
                "The accounts, sorted by id: id, email, name, parent OU and Organizations tags.",
            )),
        )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        match read_config(config) {
            Ok(m) => validate_targets(&m.include, &m.exclude),
            Err(d) => d,
        }
    }

    async fn read(&self, ctx: &Context, config: &Value) -> Result<Value, Diagnostics> {
        let fail = |e: AwsError| Diagnostics::from(Diagnostic::error("Reading AFT accounts failed", e.to_string()));
        let mut m = read_config(config)?;
        let Resolved { ids, mut tags_of, .. } = resolve_targets(ctx, &m.include, &m.exclude).await?;
        let org = clients::organizations(&ctx.ct_session().await.map_err(fail)?);
        let mut accounts = Vec::new();
        let mut kept = Vec::new();
        for id in &ids {
            let Some(a) = organizations::describe_account(&org, id).await.map_err(fail)? else { continue };
            let (parent, _) = organizations::parent(&org, id).await.map_err(fail)?;
            let tags = match tags_of.remove(id) {
                Some(t) => t,
                None => organizations::tags(&org, id).await.map_err(fail)?,
            };
            kept.push(id.clone());
            accounts.push(Account { id: id.clone(), email: a.email, name: a.name, parent_ou_id: parent, tags });
        }
        m.id = Attr::Known(crate::asl::revision_id(&kept.join(","), ""));
        m.ids = Attr::Known(kept);
        m.accounts = Attr::Known(accounts);
        write_model(&m, &self.schema().cty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_matches_the_schema_one_to_one() {
        crate::plugin::check_model::<Model>(&AccountsDataSource.schema().cty()).unwrap();
    }
}
