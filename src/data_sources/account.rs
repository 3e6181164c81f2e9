//! Data source `aft_account`: one AFT-managed account by `account_id` or `email`, from the
//! metadata table and Organizations.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aws::{AwsError, clients, organizations};
use crate::context::Context;
use crate::framework::metadata;
use crate::plugin::{Attr, AttrPath, Attribute, Block, DataSource, Diagnostic, Diagnostics, Schema, Type, Value};
use crate::validation;

/// `aft_account`
pub struct AccountDataSource;

/// The configuration and result of `aft_account`: one field per schema attribute.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub account_id: Attr<String>,
    pub email: Attr<String>,
    pub id: Attr<String>,
    pub name: Attr<String>,
    pub arn: Attr<String>,
    pub status: Attr<String>,
    pub parent_ou_id: Attr<String>,
    pub joined_method: Attr<String>,
    pub joined_date: Attr<String>,
    pub account_customizations_name: Attr<String>,
    pub account_tags: Attr<BTreeMap<String, String>>,
    pub tags: Attr<BTreeMap<String, String>>,
}

fn ty() -> &'static Type {
    static TY: OnceLock<Type> = OnceLock::new();
    TY.get_or_init(|| AccountDataSource.schema().cty())
}

fn read_config(config: &Value) -> Result<Model, Diagnostics> {
    crate::plugin::read_model(config, "aft_account")
}

#[async_trait]
impl DataSource<Context> for AccountDataSource {
    fn type_name(&self) -> &'static str {
        "aft_account"
    }

    fn schema(&self) -> Schema {
        let c = |n: &str, d: &str| Attribute::computed(n, Type::String, d);
        Schema::new(
            0,
            Block::new("One AFT-managed account, found by `account_id` or `email` (exactly one of them), from the AFT metadata table and AWS Organizations.")
                .attr(Attribute::optional_computed("account_id", Type::String, "The 12-digit account id."))
                .attr(Attribute::optional_computed("email", Type::String, "The account's root email (matched ignoring case)."))
                .attr(c("id", "Same as `account_id`."))
                .attr(c("name", "The account name."))
                .attr(c("arn", "The account ARN."))
                .attr(c("status", "`ACTIVE`, `SUSPENDED` or `PENDING_CLOSURE`."))
                .attr(c("parent_ou_id", "The id of the OU (or root) that holds the account."))
                .attr(c("joined_method", "`CREATED` or `INVITED`."))
                .attr(c("joined_date", "When the account joined the organization, as AFT records it."))
                .attr(c("account_customizations_name", "The account customizations folder recorded by AFT (empty when none)."))
                .attr(Attribute::computed("account_tags", Type::map(Type::String), "The account-level tags recorded by AFT."))
                .attr(Attribute::computed("tags", Type::map(Type::String), "The account's tags in Organizations.")),
        )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let config = match read_config(config) {
            Ok(c) => c,
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        let (id, email) = (&config.account_id, &config.email);
        if id.is_null() && email.is_null() {
            d.push(
                Diagnostic::error("Missing account selector", "Set `account_id` or `email`.")
                    .at(AttrPath::attr("account_id")),
            );
        }
        if !id.is_null() && !email.is_null() {
            d.push(
                Diagnostic::error("Conflicting account selectors", "Set only one of `account_id` and `email`.")
                    .at(AttrPath::attr("email")),
            );
        }
        if let Some(s) = id.as_str()
            && let Err(e) = validation::account_id(s)
        {
            d.error_at(AttrPath::attr("account_id"), "Invalid account id", e);
        }
        if let Some(s) = email.as_str()
            && let Err(e) = validation::email(s)
        {
            d.error_at(AttrPath::attr("email"), "Invalid email", e);
        }
        d
    }

    async fn read(&self, ctx: &Context, config: &Value) -> Result<Value, Diagnostics> {
        let fail = |e: AwsError| Diagnostics::from(Diagnostic::error("Reading the account failed", e.to_string()));
        let org = clients::organizations(&ctx.ct_session().await.map_err(fail)?);
        let config = read_config(config)?;
        let (path, account) = if let Some(id) = config.account_id.as_str() {
            (AttrPath::attr("account_id"), organizations::describe_account(&org, id).await.map_err(fail)?)
        } else {
            let email = config.email.as_str().unwrap_or_default();
            // one listing of the organization serves every instance of the plan
            let index = ctx.memo::<organizations::AccountsByEmail>();
            (AttrPath::attr("email"), index.find(&org, email, organizations::Freshness::Process).await.map_err(fail)?)
        };
        let Some(account) = account else {
            return Err(Diagnostic::error("Account not found", "No account in the organization matches.")
                .at(path)
                .into());
        };
        let Some(item) = metadata::get(ctx, &account.id).await.map_err(fail)? else {
            return Err(Diagnostic::error(
                "Account is not managed by AFT",
                format!("Account {} exists but has no item in the {} table.", account.id, ctx.settings.metadata_table),
            )
            .at(path)
            .into());
        };
        let (parent, _) = organizations::parent(&org, &account.id).await.map_err(fail)?;
        let tags = organizations::tags(&org, &account.id).await.map_err(fail)?;
        let m = Model {
            id: Attr::Known(account.id.clone()),
            account_id: Attr::Known(account.id),
            email: Attr::Known(account.email),
            name: Attr::Known(account.name),
            arn: Attr::Known(account.arn),
            status: Attr::Known(account.status),
            parent_ou_id: Attr::Known(parent),
            joined_method: Attr::Known(account.joined_method),
            joined_date: Attr::Known(account.joined_date),
            account_customizations_name: Attr::Known(item.account_customizations_name),
            account_tags: Attr::Known(item.account_level_tags),
            tags: Attr::Known(tags),
        };
        crate::plugin::write_model(&m, ty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_matches_the_schema_one_to_one() {
        crate::plugin::check_model::<Model>(ty()).unwrap();
    }
}
