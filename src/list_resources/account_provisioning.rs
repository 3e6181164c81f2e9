//! List resource `aft_account_provisioning`: the accounts an existing AFT deployment manages, for
//! `terraform query` (and `-generate-config-out`, which writes a resource and an `import` block
//! for each).
//!
//! "Managed" means what AFT itself uses: an item in `aft-request-metadata`, or a row in
//! `aft-request` whose email belongs to an account of the organization. Each result carries the
//! account's identity and, when asked, the full object built from its request exactly as import
//! builds it, so the generated configuration plans no change after the import.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::aws::organizations::OuRef;
use crate::context::Context;
use crate::inventory;
use crate::inventory::imported::{AccountIdentity, imported_state};
use crate::plugin::{
    Attr, AttrPath, Attribute, Block, Diagnostic, Diagnostics, ListResource, Listed, Schema, StringMap, Type, Value,
    known_map, read_model,
};

/// `list "aft_account_provisioning"`
pub struct AccountProvisioningList;

/// The `config` block of a `list "aft_account_provisioning"`: one field per schema attribute.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub organizational_units: Attr<Vec<Attr<String>>>,
    pub tags: Attr<StringMap>,
    pub email: Attr<String>,
}

/// The filters of a `list` block's `config`.
#[derive(Debug, Default, PartialEq)]
struct Filters {
    ous: Vec<OuRef>,
    tags: BTreeMap<String, String>,
    email: Option<String>,
}

fn filters(config: &Value) -> Result<Filters, Diagnostics> {
    let config: Config = read_model(config, "list aft_account_provisioning")?;
    let mut d = Diagnostics::new();
    let mut f = Filters::default();
    for (i, v) in config.organizational_units.known().into_iter().flatten().enumerate() {
        match v.as_str().map(OuRef::parse) {
            Some(Ok(r)) => f.ous.push(r),
            Some(Err(e)) => d.error_at(AttrPath::attr("organizational_units").index(i as i64), "Invalid OU", e),
            None => {}
        }
    }
    f.tags = known_map(&config.tags);
    for k in f.tags.keys() {
        if k.is_empty() {
            d.error_at(AttrPath::attr("tags"), "Invalid tag filter", "Tag keys must not be empty.");
        }
    }
    if let Some(p) = config.email.as_str() {
        if p.trim().is_empty() {
            d.error_at(AttrPath::attr("email"), "Invalid email pattern", "The pattern must not be empty.");
        }
        f.email = Some(p.to_ascii_lowercase());
    }
    if d.has_errors() { Err(d) } else { Ok(f) }
}

/// Shell-style match: `*` is any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[async_trait]
impl ListResource<Context> for AccountProvisioningList {
    fn type_name(&self) -> &'static str {
        "aft_account_provisioning"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(
                "Finds the accounts an AFT deployment manages (its `aft-request-metadata` and `aft-request` tables, joined \
                 with Organizations). All filters must match.",
            )
            .attr(Attribute::optional(
                "organizational_units",
                Type::list(Type::String),
                "Only accounts in these OUs or below them: `Name`, `Name (ou-…)` or `ou-` ids.",
            ))
            .attr(Attribute::optional(
                "tags",
                Type::map(Type::String),
                "Only accounts whose Organizations tags include all these pairs.",
            ))
            .attr(Attribute::optional(
                "email",
                Type::String,
                "Only accounts whose email matches this pattern (`*` and `?` wildcards, case-insensitive).",
            )),
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
        let snap = inventory::shared(ctx).await.map_err(fail)?;
        let requests = crate::framework::request_row::aft_requests(ctx).await.map_err(fail)?;
        let mut allowed_parents: Option<Vec<String>> = None;
        if !f.ous.is_empty() {
            let mut all = Vec::new();
            for r in &f.ous {
                let id = crate::aws::organizations::resolve_ou(&snap.ous, &snap.root, r)
                    .map_err(|e| Diagnostics::from(Diagnostic::error("OU not found", e)))?;
                all.extend(snap.subtree(&id));
            }
            allowed_parents = Some(all);
        }
        let mut ids: Vec<&String> = snap
            .accounts
            .values()
            .filter(|a| snap.metadata.contains_key(&a.id) || requests.contains_key(&a.email.to_ascii_lowercase()))
            .map(|a| &a.id)
            .collect();
        ids.sort();
        let org = if f.tags.is_empty() {
            None
        } else {
            Some(crate::aws::clients::organizations(&ctx.ct_session().await.map_err(fail)?))
        };
        let mut out = Vec::new();
        for id in ids {
            if out.len() >= limit {
                break;
            }
            let account = &snap.accounts[id];
            let parent = snap.parents.get(id).cloned().unwrap_or_default();
            if let Some(p) = &f.email
                && !glob(p, &account.email.to_ascii_lowercase())
            {
                continue;
            }
            if let Some(allowed) = &allowed_parents
                && !allowed.contains(&parent)
            {
                continue;
            }
            if let Some(org) = &org {
                let tags = crate::aws::organizations::tags(org, id).await.map_err(fail)?;
                if !f.tags.iter().all(|(k, v)| tags.get(k) == Some(v)) {
                    continue;
                }
            }
            let item = snap.metadata.get(id);
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
    fn glob_patterns() {
        assert!(glob("*@example.com", "team+a@example.com"));
        assert!(glob("team+?@example.com", "team+a@example.com"));
        assert!(!glob("team+?@example.com", "team+ab@example.com"));
        assert!(glob("*", ""));
        assert!(!glob("*@corp.com", "a@example.com"));
        assert!(glob("a*b*c", "axxbyyc"));
    }

    #[test]
    fn bad_filters_name_the_attribute() {
        let cfg = Value::object([
            ("organizational_units", Value::List(vec![Value::from("Sandbox ("), Value::from("Sandbox")])),
            ("tags", Value::Null),
            ("email", Value::from(" ")),
        ]);
        let d = filters(&cfg).unwrap_err();
        let paths: Vec<String> = d.0.iter().filter_map(|x| x.path.as_ref().map(|p| p.to_string())).collect();
        assert_eq!(paths, ["organizational_units[0]", "email"]);
    }
}
