//! Data source `aft_accounts`: AFT's customization targets (the `include`/`exclude` input of
//! `aft-invoke-customizations`) resolved to accounts, so `for_each` can drive a whole fleet.

use async_trait::async_trait;

use crate::aws::organizations;
use crate::aws::{AwsError, clients};
use crate::context::Context;
use crate::inventory::targets::{Resolved, resolve_targets, target_block, validate_targets};
use crate::plugin::{Attribute, Block, DataSource, Diagnostic, Diagnostics, NestedBlock, Schema, Type, Value};

/// `aft_accounts`
pub struct AccountsDataSource;

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
        validate_targets(config)
    }

    async fn read(&self, ctx: &Context, config: &Value) -> Result<Value, Diagnostics> {
        let fail = |e: AwsError| Diagnostics::from(Diagnostic::error("Reading AFT accounts failed", e.to_string()));
        let Resolved { ids, mut tags_of, .. } = resolve_targets(ctx, config).await?;
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
            accounts.push(Value::object([
                ("id", Value::from(id.as_str())),
                ("email", Value::from(a.email)),
                ("name", Value::from(a.name)),
                ("parent_ou_id", Value::from(parent)),
                ("tags", Value::string_map(tags)),
            ]));
        }
        let digest = crate::asl::revision_id(&kept.join(","), "");
        let mut out = config.clone();
        out.set("id", digest);
        out.set("ids", Value::List(kept.iter().map(|s| Value::from(s.as_str())).collect()));
        out.set("accounts", Value::List(accounts));
        Ok(out)
    }
}
