//! AFT's customization targets (the `include`/`exclude` input of `aft-invoke-customizations`):
//! their schema block, parsing with diagnostics on the exact attribute, and resolution to
//! accounts with AFT's own rules. Shared by the `aft_accounts` data source and the
//! `aft_invoke_customizations` action.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::organizations::{self, OuRef};
use crate::aws::{AwsError, clients};
use crate::context::Context;
use crate::plugin::{Attr, AttrPath, Attribute, Block, Diagnostic, Diagnostics, StringMap, Type};
use crate::validation;

const TYPES: [&str; 5] = ["all", "core", "ous", "tags", "accounts"];

/// An OU as (id, name, parent id).
type OuEntry = (String, String, String);

/// One include or exclude target.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    All,
    Core,
    /// OUs, and whether the OUs below them count too (AFT: no, accounts directly in them only).
    Ous(Vec<String>, bool),
    /// AFT's count: the pairs of all maps that the account's tags hold reach the number of maps.
    Tags(Vec<BTreeMap<String, String>>),
    Accounts(Vec<String>),
}

/// The schema of one `include` or `exclude` block (shared with the `aft_invoke_customizations` action).
pub fn target_block() -> Block {
    Block::new("One target, as in AFT's invoke-customizations input.")
        .attr(Attribute::required("type", Type::String, "`all`, `core`, `ous`, `tags` or `accounts` (`all` only in `include`)."))
        .attr(Attribute::optional(
            "target_value",
            Type::list(Type::String),
            "For `ous`: OU names, `Name (ou-…)` or `ou-` ids; as in AFT, accounts directly in those OUs. For `accounts`: account ids.",
        ))
        .attr(Attribute::optional(
            "include_nested_ous",
            Type::Bool,
            "For `ous` only: also the accounts of every OU below them (AFT does not do this). Default: `false`.",
        ))
        .attr(Attribute::optional(
            "tags",
            Type::list(Type::map(Type::String)),
            "For `tags` (AFT's `target_value` of that type): a list of maps. As AFT counts it: an account matches when the number of its tags equal to a pair of any map reaches the number of maps (`[{a = \"1\"}, {b = \"2\"}]` needs both; `[{a = \"1\", b = \"2\"}]` needs either).",
        ))
}

/// One `include` or `exclude` block as configured: one field per attribute of [`target_block`].
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TargetBlock {
    #[serde(rename = "type")]
    pub kind: Attr<String>,
    pub target_value: Attr<Vec<Attr<String>>>,
    pub include_nested_ous: Attr<bool>,
    pub tags: Attr<Vec<Attr<StringMap>>>,
}

impl TargetBlock {
    /// True when nothing in the block is unknown (only such blocks are checked at plan time).
    fn is_known(&self) -> bool {
        let list = |l: &Attr<Vec<Attr<String>>>| {
            !l.is_unknown() && l.known().is_none_or(|v| v.iter().all(|x| !x.is_unknown()))
        };
        let maps = self.tags.known().is_none_or(|v| {
            v.iter().all(|m| !m.is_unknown() && m.known().is_none_or(|m| m.values().all(|x| !x.is_unknown())))
        });
        !self.kind.is_unknown()
            && list(&self.target_value)
            && !self.include_nested_ous.is_unknown()
            && !self.tags.is_unknown()
            && maps
    }
}

/// The `include` and `exclude` blocks of a configuration (a whole list is unknown when a
/// `dynamic` block's `for_each` is).
pub type TargetBlocks = Attr<Vec<TargetBlock>>;

/// Parses one block; `Err` carries (attribute, message).
fn parse_target(v: &TargetBlock, allow_all: bool) -> Result<Target, (&'static str, String)> {
    let ty = v.kind.as_str().unwrap_or_default();
    let strings = || -> Result<Vec<String>, (&'static str, String)> {
        let items = v.target_value.known().map(Vec::as_slice).unwrap_or_default();
        if items.is_empty() {
            return Err(("target_value", format!("type {ty:?} needs a non-empty list in target_value")));
        }
        items
            .iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or(("target_value", format!("type {ty:?} takes a list of strings")))
            })
            .collect()
    };
    if ty != "ous" && v.include_nested_ous.known().is_some() {
        return Err(("include_nested_ous", format!("include_nested_ous applies to type \"ous\" only, not {ty:?}")));
    }
    match ty {
        "all" if allow_all => Ok(Target::All),
        "all" => Err(("type", "\"all\" cannot be excluded".into())),
        "core" => Ok(Target::Core),
        "ous" => {
            let ous = strings()?;
            for o in &ous {
                OuRef::parse(o).map_err(|e| ("target_value", e))?;
            }
            Ok(Target::Ous(ous, v.include_nested_ous.known().copied().unwrap_or(false)))
        }
        "accounts" => {
            let ids = strings()?;
            for id in &ids {
                validation::account_id(id).map_err(|e| ("target_value", e))?;
            }
            Ok(Target::Accounts(ids))
        }
        "tags" => {
            let items = v.tags.known().map(Vec::as_slice).unwrap_or_default();
            if items.is_empty() {
                return Err(("tags", "type \"tags\" needs tags = [{ Key = \"value\" }, ...]".into()));
            }
            items
                .iter()
                .map(|m| match crate::plugin::known_map(m) {
                    pairs if !pairs.is_empty() => Ok(pairs),
                    _ => Err(("tags", "each map in tags needs at least one pair".to_string())),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Target::Tags)
        }
        other => Err(("type", format!("{other:?} is not a target type; use one of {}", TYPES.join(", ")))),
    }
}

/// Parses the `include` or `exclude` blocks of a configuration; errors name the block and attribute.
pub fn parse_all(blocks: &TargetBlocks, block: &str) -> (Vec<Target>, Diagnostics) {
    let mut d = Diagnostics::new();
    let mut out = Vec::new();
    for (i, v) in blocks.known().into_iter().flatten().enumerate() {
        if !v.is_known() {
            continue;
        }
        match parse_target(v, block == "include") {
            Ok(t) => out.push(t),
            Err((attr, msg)) => d.error_at(AttrPath::attr(block).index(i as i64).then(attr), "Invalid target", msg),
        }
    }
    (out, d)
}

/// The accounts AFT manages (ids in the metadata table).
async fn managed_ids(ctx: &Context) -> Result<BTreeSet<String>, AwsError> {
    crate::framework::metadata::MetadataTable::of(ctx).ids().await
}

/// Checks `include` and `exclude` blocks: each valid, 1 to 4 of each, at least one include.
pub fn validate_targets(include: &TargetBlocks, exclude: &TargetBlocks) -> Diagnostics {
    let mut d = parse_all(include, "include").1;
    d.extend(parse_all(exclude, "exclude").1);
    let count = |b: &TargetBlocks| b.known().map_or(0, Vec::len);
    let n_inc = count(include);
    if !include.is_unknown() && n_inc == 0 {
        d.push(Diagnostic::error(
            "No include block",
            "Add at least one include block, e.g. include { type = \"all\" }.",
        ));
    }
    for (block, n) in [("include", n_inc), ("exclude", count(exclude))] {
        if n > 4 {
            d.error_at(AttrPath::attr(block).index(4), format!("Too many {block} blocks"), "AFT accepts 1 to 4.");
        }
    }
    d
}

/// Targets resolved to accounts.
pub struct Resolved {
    /// The account ids, sorted: included AFT-managed or core accounts minus the excluded ones.
    pub ids: Vec<String>,
    /// Tags already read while resolving `tags` targets.
    pub tags_of: BTreeMap<String, BTreeMap<String, String>>,
    /// Accounts an `accounts` target names that AFT does not manage (left out, as AFT does).
    pub unmanaged: Vec<String>,
}

/// Resolves the `include` and `exclude` blocks of a configuration as AFT's identify-targets does.
pub async fn resolve_targets(
    ctx: &Context,
    include: &TargetBlocks,
    exclude: &TargetBlocks,
) -> Result<Resolved, Diagnostics> {
    let (include, mut d) = parse_all(include, "include");
    let (exclude, de) = parse_all(exclude, "exclude");
    d.extend(de);
    if d.has_errors() {
        return Err(d);
    }
    let fail = |e: AwsError| Diagnostics::from(Diagnostic::error("Resolving targets failed", e.to_string()));
    let lz = ctx.landing_zone().await.map_err(fail)?.clone();
    let org = clients::organizations(&ctx.ct_session().await.map_err(fail)?);
    let managed = managed_ids(ctx).await.map_err(fail)?;
    let core: BTreeSet<String> =
        [Some(lz.ct_management.clone()), lz.log_archive.clone(), lz.audit.clone()].into_iter().flatten().collect();
    let mut tags_of = BTreeMap::new();
    let included = resolve(ctx, &org, &include, &managed, &core, &mut tags_of).await?;
    let excluded = resolve(ctx, &org, &exclude, &managed, &core, &mut tags_of).await?;
    let known = |id: &String| managed.contains(id) || core.contains(id);
    let unmanaged = include
        .iter()
        .filter_map(|t| match t {
            Target::Accounts(ids) => Some(ids.iter().filter(|id| !known(id)).cloned().collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    let ids = included.into_iter().filter(|id| known(id) && !excluded.contains(id)).collect();
    Ok(Resolved { ids, tags_of, unmanaged })
}

/// Resolves targets to account ids; `managed` are the AFT accounts, `core` the shared ones.
async fn resolve(
    ctx: &Context,
    org: &aws_sdk_organizations::Client,
    targets: &[Target],
    managed: &BTreeSet<String>,
    core: &BTreeSet<String>,
    tags_of: &mut BTreeMap<String, BTreeMap<String, String>>,
) -> Result<BTreeSet<String>, Diagnostics> {
    let fail = |e: AwsError| Diagnostics::from(Diagnostic::error("Resolving targets failed", e.to_string()));
    let mut out = BTreeSet::new();
    // (root id, every OU as (id, name, parent))
    let mut ous_cache: Option<(String, Vec<OuEntry>)> = None;
    for t in targets {
        match t {
            Target::All => out.extend(managed.iter().cloned()),
            Target::Core => out.extend(core.iter().cloned()),
            Target::Accounts(ids) => out.extend(ids.iter().cloned()),
            Target::Ous(specs, nested) => {
                if ous_cache.is_none() {
                    let root = organizations::root_id(org).await.map_err(fail)?;
                    ous_cache = Some((root, organizations::all_ous(org).await.map_err(fail)?));
                }
                let (root, ous) = ous_cache.as_ref().expect("filled above");
                for spec in specs {
                    let r = OuRef::parse(spec).map_err(|e| Diagnostics::from(Diagnostic::error("Invalid OU", e)))?;
                    let id = organizations::resolve_ou(ous, root, &r)
                        .map_err(|e| Diagnostics::from(Diagnostic::error("OU not found", e)))?;
                    // the OU (AFT's rule: ListAccountsForParent of each matched OU), and with
                    // include_nested_ous every OU below it
                    let mut parents = vec![id];
                    let mut i = 0;
                    while *nested && i < parents.len() {
                        let p = parents[i].clone();
                        parents.extend(ous.iter().filter(|(_, _, parent)| *parent == p).map(|(c, _, _)| c.clone()));
                        i += 1;
                    }
                    for p in parents {
                        out.extend(organizations::accounts_for_parent(org, &p).await.map_err(fail)?);
                    }
                }
            }
            Target::Tags(maps) => {
                for id in managed {
                    if !tags_of.contains_key(id) {
                        let tags = organizations::tags(org, id).await.map_err(fail)?;
                        tags_of.insert(id.clone(), tags);
                    }
                    let tags = &tags_of[id];
                    if aft_tags_match(maps, tags) {
                        out.insert(id.clone());
                    }
                }
            }
        }
    }
    let _ = ctx;
    Ok(out)
}

/// AFT's rule for `tags` targets (`aft_common/customizations.py`, `get_accounts_by_tags`): every
/// key/value pair of every map that the account's tags have counts one, and the account is
/// selected once the count reaches the number of maps. So `[{a = "1"}, {b = "2"}]` needs both
/// pairs and `[{a = "1", b = "2"}]` needs either: not "all pairs of any map".
pub fn aft_tags_match(maps: &[BTreeMap<String, String>], tags: &BTreeMap<String, String>) -> bool {
    let matched = maps.iter().flat_map(|m| m.iter()).filter(|(k, v)| tags.get(*k) == Some(*v)).count();
    !maps.is_empty() && matched >= maps.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ty: &str, tv: Attr<Vec<Attr<String>>>) -> TargetBlock {
        TargetBlock { kind: Attr::Known(ty.to_string()), target_value: tv, ..Default::default() }
    }

    #[test]
    fn the_block_model_matches_the_schema_one_to_one() {
        crate::plugin::check_model::<TargetBlock>(&target_block().cty()).unwrap();
    }

    #[test]
    fn targets_parse_and_bad_ones_name_the_attribute() {
        let strs = |v: &[&str]| Attr::Known(v.iter().map(|s| Attr::Known(s.to_string())).collect());
        assert_eq!(
            parse_target(&block("ous", strs(&["Sandbox", "ou-ab12-cdefgh34"])), true).unwrap(),
            Target::Ous(vec!["Sandbox".into(), "ou-ab12-cdefgh34".into()], false)
        );
        let mut nested = block("ous", strs(&["Workloads"]));
        nested.include_nested_ous = Attr::Known(true);
        assert_eq!(parse_target(&nested, true).unwrap(), Target::Ous(vec!["Workloads".into()], true));
        let mut misplaced = block("accounts", strs(&["123456789012"]));
        misplaced.include_nested_ous = Attr::Known(true);
        assert_eq!(parse_target(&misplaced, true).unwrap_err().0, "include_nested_ous");
        assert_eq!(parse_target(&block("all", Attr::Null), true).unwrap(), Target::All);
        assert_eq!(parse_target(&block("all", Attr::Null), false).unwrap_err().0, "type");
        assert_eq!(parse_target(&block("bogus", Attr::Null), true).unwrap_err().0, "type");
        assert_eq!(parse_target(&block("accounts", strs(&["123"])), true).unwrap_err().0, "target_value");
        let mut tagged = block("tags", Attr::Null);
        tagged.tags =
            Attr::Known(vec![Attr::Known([("Environment".to_string(), Attr::Known("prod".to_string()))].into())]);
        assert_eq!(
            parse_target(&tagged, true).unwrap(),
            Target::Tags(vec![[("Environment".to_string(), "prod".to_string())].into()])
        );
        assert_eq!(parse_target(&block("tags", Attr::Null), true).unwrap_err().0, "tags");
    }

    #[test]
    fn tag_targets_follow_afts_count() {
        let m = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let accounts = [
            m(&[("tier", "gold"), ("env", "prod")]),
            m(&[("tier", "gold"), ("env", "dev")]),
            m(&[("tier", "silver"), ("env", "prod")]),
            m(&[("tier", "silver"), ("env", "dev")]),
            m(&[("env", "prod")]),
        ];
        let picked = |maps: &[BTreeMap<String, String>]| -> Vec<usize> {
            (0..accounts.len()).filter(|&i| aft_tags_match(maps, &accounts[i])).collect()
        };
        // two maps: both pairs needed (the old "all pairs of any map" rule picked 0, 1, 2 and 4)
        assert_eq!(picked(&[m(&[("tier", "gold")]), m(&[("env", "prod")])]), vec![0]);
        // one map of two pairs: either pair is enough (the old "all pairs" rule picked only 2)
        assert_eq!(picked(&[m(&[("tier", "silver"), ("env", "prod")])]), vec![0, 2, 3, 4]);
        assert!(!aft_tags_match(&[], &accounts[0]));
    }
}
