//! List resource `aft_account_provisioning`: the accounts an existing AFT deployment manages, for
//! `terraform query` (and `-generate-config-out`, which writes a resource and an `import` block
//! for each).
//!
//! "Managed" means what AFT itself uses: an item in `aft-request-metadata`, or a row in
//! `aft-request` whose email belongs to an account of the organization. Each result carries the
//! account's identity and, when asked, the full object built from its request exactly as import
//! builds it, so the generated configuration plans no change after the import.

use async_trait::async_trait;

use crate::context::Context;
use crate::inventory;
use crate::inventory::filters::AccountFilter;
use crate::inventory::imported::{AccountIdentity, imported_state};
use crate::plugin::{Attr, Block, Diagnostic, Diagnostics, ListResource, Listed, Schema, StringMap, Value, read_model};

/// `list "aft_account_provisioning"`
pub struct AccountProvisioningList;

/// The `config` block of a `list "aft_account_provisioning"`: one field per schema attribute.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub organizational_units: Attr<Vec<Attr<String>>>,
    pub tags: Attr<StringMap>,
    pub email: Attr<String>,
    pub account_ids: Attr<Vec<Attr<String>>>,
}

fn filters(config: &Value) -> Result<AccountFilter, Diagnostics> {
    let config: Config = read_model(config, "list aft_account_provisioning")?;
    let mut d = Diagnostics::new();
    let f = AccountFilter::parse(&config.organizational_units, &config.tags, &config.email, &mut d)
        .with_account_ids(&config.account_ids, &mut d);
    if d.has_errors() { Err(d) } else { Ok(f) }
}

#[async_trait]
impl ListResource<Context> for AccountProvisioningList {
    fn type_name(&self) -> &'static str {
        "aft_account_provisioning"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            crate::inventory::filters::attributes().into_iter().fold(
                Block::new(
                "Finds the accounts an AFT deployment manages (its `aft-request-metadata` and `aft-request` tables, joined \
                 with Organizations). All filters must match.",
            ),
                |b, a| b.attr(a),
            ),
        )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        filters(config).err().unwrap_or_default()
    }

    async fn list(&self, ctx: &Context, config: &Value, limit: usize) -> Result<Vec<Listed>, Diagnostics> {
        let f = filters(config)?;
        let fail = |e: crate::aws::AwsError| {
            Diagnostics::from(Diagnostic::error("Listing AFT accounts failed", e.to_string()))
        };
        let (snap, items) = tokio::try_join!(inventory::shared(ctx), inventory::metadata_items(ctx)).map_err(fail)?;
        let requests = crate::framework::request_row::aft_requests(ctx).await.map_err(fail)?;
        let matcher = f.resolve(ctx, &snap).await?;
        let mut ids: Vec<&String> = snap
            .accounts
            .values()
            .filter(|a| items.contains_key(&a.id) || requests.contains_key(&a.email.to_ascii_lowercase()))
            .map(|a| &a.id)
            .collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            if out.len() >= limit {
                break;
            }
            let account = &snap.accounts[id];
            if !matcher.matches(account).await.map_err(fail)? {
                continue;
            }
            let parent = snap.parents.get(id).cloned().unwrap_or_default();
            let item = items.get(id);
            let request = item
                .and_then(|i| i.request.clone())
                .or_else(|| requests.get(&account.email.to_ascii_lowercase()).cloned());
            out.push(Listed {
                identity: AccountIdentity { account_id: id.clone() }.value(),
                display_name: format!("{} ({}, {})", account.name, id, account.email),
                object: imported_state(account, &parent, item, request).to_value()?,
            });
        }
        tracing::info!(found = out.len(), "listed AFT accounts");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_matches_the_schema_one_to_one() {
        crate::plugin::check_model::<Config>(&AccountProvisioningList.schema().cty()).unwrap();
    }

    #[test]
    fn bad_filters_name_the_attribute() {
        let cfg = Value::object([
            ("organizational_units", Value::List(vec![Value::from("Sandbox ("), Value::from("Sandbox")])),
            ("tags", Value::Null),
            ("email", Value::from(" ")),
            ("account_ids", Value::List(vec![Value::from("12345")])),
        ]);
        let d = filters(&cfg).unwrap_err();
        let paths: Vec<String> = d.0.iter().filter_map(|x| x.path.as_ref().map(|p| p.to_string())).collect();
        assert_eq!(paths, ["config.organizational_units[0]", "config.email", "config.account_ids[0]"]);
    }
}
