//! Data source `aft_account`: one AFT-managed account by `account_id` or `email`, from the
//! metadata table and Organizations.

use async_trait::async_trait;

use crate::aws::{AwsError, clients, organizations};
use crate::context::Context;
use crate::framework::metadata;
use crate::plugin::{AttrPath, Attribute, Block, DataSource, Diagnostic, Diagnostics, Schema, Type, Value};
use crate::validation;

/// `aft_account`
pub struct AccountDataSource;

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
        let mut d = Diagnostics::new();
        let id = config.get("account_id");
        let email = config.get("email");
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
        let (path, account) = if let Some(id) = config.get("account_id").as_str() {
            (AttrPath::attr("account_id"), organizations::describe_account(&org, id).await.map_err(fail)?)
        } else {
            let email = config.get("email").as_str().unwrap_or_default();
            (AttrPath::attr("email"), organizations::find_account_by_email(&org, email).await.map_err(fail)?)
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
        Ok(Value::object([
            ("id", account.id.clone().into()),
            ("account_id", account.id.clone().into()),
            ("email", account.email.into()),
            ("name", account.name.into()),
            ("arn", account.arn.into()),
            ("status", account.status.into()),
            ("parent_ou_id", parent.into()),
            ("joined_method", account.joined_method.into()),
            ("joined_date", account.joined_date.into()),
            ("account_customizations_name", item.account_customizations_name.into()),
            ("account_tags", Value::string_map(item.account_level_tags)),
            ("tags", Value::string_map(tags)),
        ]))
    }
}
