//! `aft-convert --rename-generated <file.tf>...`: gives the blocks `terraform query
//! -generate-config-out` wrote the accounts' names.
//!
//! Terraform names every generated block itself, `<list block name>_<index>`
//! (`genconfig.GenerateListResourceContents` in hashicorp/terraform
//! `internal/genconfig/generate_config.go`); the plugin protocol's `ListResource.Event` carries
//! an identity, a display name and the object, never a block name. So the names are given here,
//! after generation and before the imports are applied.
//!
//! What is renamed: a `resource "aft_account_provisioning"` or `resource
//! "aft_customization_pipeline"` block of the given files that an `import` block of the given
//! files points at (`to = <type>.<name>`), together with that `import`'s `to`. Nothing else is
//! touched, except that the renamed blocks lose their `<argument> = null` lines (an unset
//! argument means the same).
//!
//! The name (see [`identifier`] and [`Plan::decide`]):
//! - an `aft_account_provisioning` takes its `control_tower_parameters.AccountName` (the list
//!   resource fills it from AFT's `aft-request` row, else from Organizations), its account id
//!   from its `import`'s `identity.account_id`;
//! - within `aft_account_provisioning`, a name two accounts would share, or one that a block not
//!   renamed here already has (in the given files or another `.tf` file of their directories),
//!   gets `_<account id>` appended on every block that has it: the result never depends on the
//!   order of the blocks;
//! - an `aft_customization_pipeline` takes the name of the generated `aft_account_provisioning`
//!   whose account id is the pipeline's `account_id` (so generate both in one query), with
//!   `_<account id>` where two generated accounts share it, or where a pipeline not renamed here
//!   has it. An account name taken by an account block not renamed here (the account is already
//!   in the configuration) does not change its pipeline's name. A pipeline without such an
//!   account block keeps its name and is reported;
//! - a second block of the same account and type keeps its name and is reported.
//!
//! Exit code: 0 every block renamed, 2 renamed with reports (blocks kept), 1 error (nothing
//! written).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl_edit::Ident;
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Block, BlockLabel, Body};

/// The resource types whose generated blocks are renamed.
const ACCOUNT: &str = "aft_account_provisioning";
const PIPELINE: &str = "aft_customization_pipeline";

/// The Terraform identifier for an account name: lowercase ASCII letters and digits, each run of
/// other characters one `_`, no `_` at either end, `account_` in front of a leading digit. `None`
/// when nothing is left (a name without ASCII letters or digits).
pub fn identifier(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_');
    match out.chars().next() {
        None => None,
        Some(c) if c.is_ascii_digit() => Some(format!("account_{out}")),
        Some(_) => Some(out.to_string()),
    }
}

/// One generated block to rename.
#[derive(Debug, Clone, PartialEq)]
struct Generated {
    ty: &'static str,
    name: String,
    account_id: Option<String>,
    /// `control_tower_parameters.AccountName` (accounts only).
    account_name: Option<String>,
}

/// What renaming the given files does.
#[derive(Debug, Default)]
pub struct Plan {
    /// `(type, old name) → new name`.
    pub names: BTreeMap<(String, String), String>,
    /// Blocks kept, with why.
    pub reports: Vec<String>,
}

/// A string literal (a quoted string without interpolation).
fn literal(e: &Expression) -> Option<&str> {
    e.as_str()
}

fn key_name(k: &ObjectKey) -> Option<&str> {
    match k {
        ObjectKey::Ident(i) => Some(i.as_str()),
        ObjectKey::Expression(e) => e.as_str(),
    }
}

/// The literal string at `key` of an object expression.
fn object_str<'a>(e: &'a Expression, key: &str) -> Option<&'a str> {
    e.as_object()?.iter().find(|(k, _)| key_name(k) == Some(key)).and_then(|(_, v)| literal(v.expr()))
}

/// `<type>.<name>` of an import block's `to`, for the two types.
fn import_target(b: &Block) -> Option<(&'static str, String)> {
    let t = b.body.get_attribute("to")?.value.as_traversal()?;
    let Expression::Variable(root) = &t.expr else { return None };
    let ty = [ACCOUNT, PIPELINE].into_iter().find(|ty| root.as_str() == *ty)?;
    match t.operators.as_slice() {
        [op] => match op.value() {
            TraversalOperator::GetAttr(name) => Some((ty, name.as_str().to_string())),
            _ => None,
        },
        _ => None,
    }
}

/// `(type, name)` of a resource block of the two types.
fn resource_of(b: &Block) -> Option<(&'static str, &str)> {
    if b.ident.as_str() != "resource" {
        return None;
    }
    let [ty, name] = b.labels.as_slice() else { return None };
    let ty = [ACCOUNT, PIPELINE].into_iter().find(|t| ty.as_str() == *t)?;
    Some((ty, name.as_str()))
}

/// The generated blocks of the files (resources an import points at), and every other resource
/// name of the two types (taken).
fn survey(bodies: &[Body]) -> (Vec<Generated>, BTreeSet<(String, String)>) {
    let mut imports: BTreeMap<(&'static str, String), Option<String>> = BTreeMap::new();
    for body in bodies {
        for b in body.blocks().filter(|b| b.ident.as_str() == "import") {
            if let Some(target) = import_target(b) {
                let account_id = b.body.get_attribute("identity").and_then(|a| object_str(&a.value, "account_id"));
                imports.insert(target, account_id.map(str::to_string));
            }
        }
    }
    let mut generated = Vec::new();
    let mut taken = BTreeSet::new();
    for body in bodies {
        for b in body.blocks() {
            let Some((ty, name)) = resource_of(b) else { continue };
            let Some(imported_id) = imports.get(&(ty, name.to_string())) else {
                taken.insert((ty.to_string(), name.to_string()));
                continue;
            };
            let attr = |k: &str| b.body.get_attribute(k).map(|a| &a.value);
            let (account_id, account_name) = if ty == ACCOUNT {
                let name = attr("control_tower_parameters").and_then(|e| object_str(e, "AccountName"));
                (imported_id.clone(), name.map(str::to_string))
            } else {
                (attr("account_id").and_then(literal).map(str::to_string), None)
            };
            generated.push(Generated { ty, name: name.to_string(), account_id, account_name });
        }
    }
    (generated, taken)
}

impl Plan {
    /// Gives block `ty.old` the name `new`, unless a block not renamed here or one renamed
    /// before has it (then the block keeps its name, reported): e.g. an account named
    /// `Dev 111111111111` beside two accounts named `Dev`, one of them 111111111111.
    fn assign(&mut self, ty: &str, old: &str, new: String, taken: &BTreeSet<(String, String)>) {
        let given = self.names.iter().any(|((t, _), n)| t == ty && *n == new);
        if given || taken.contains(&(ty.to_string(), new.clone())) {
            self.reports.push(format!("{ty}.{old}: kept: {new} is taken"));
        } else {
            self.names.insert((ty.to_string(), old.to_string()), new);
        }
    }

    /// Decides every new name (see the module documentation); `taken` are the names of blocks
    /// not renamed.
    fn decide(generated: &[Generated], taken: &BTreeSet<(String, String)>) -> Plan {
        let mut plan = Plan::default();
        let is_taken = |ty: &str, name: &str| taken.contains(&(ty.to_string(), name.to_string()));
        // accounts: one block per account id (a second block of the same account is kept)
        let mut accounts: BTreeMap<&str, (&Generated, String)> = BTreeMap::new();
        for g in generated.iter().filter(|g| g.ty == ACCOUNT) {
            let Some(id) = g.account_id.as_deref() else {
                plan.reports.push(format!("{ACCOUNT}.{}: kept: its import block has no identity.account_id", g.name));
                continue;
            };
            let Some(account_name) = g.account_name.as_deref() else {
                plan.reports
                    .push(format!("{ACCOUNT}.{}: kept: control_tower_parameters.AccountName is not a literal", g.name));
                continue;
            };
            if let Some((first, _)) = accounts.get(id) {
                plan.reports.push(format!("{ACCOUNT}.{}: kept: account {id} is also {ACCOUNT}.{}", g.name, first.name));
                continue;
            }
            accounts.insert(id, (g, identifier(account_name).unwrap_or_else(|| format!("account_{id}"))));
        }
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, base) in accounts.values() {
            *count.entry(base.as_str()).or_default() += 1;
        }
        // an account's name as the pipelines see it: suffixed only where generated accounts share it
        let mut by_account: BTreeMap<&str, String> = BTreeMap::new();
        for (id, (g, base)) in &accounts {
            let shared = count[base.as_str()] > 1;
            let own = if shared { format!("{base}_{id}") } else { base.clone() };
            by_account.insert(id, own.clone());
            let name = if !shared && is_taken(ACCOUNT, base) { format!("{base}_{id}") } else { own };
            plan.assign(ACCOUNT, &g.name, name, taken);
        }
        // pipelines: their account's name
        let mut pipelines: BTreeMap<&str, &Generated> = BTreeMap::new();
        for g in generated.iter().filter(|g| g.ty == PIPELINE) {
            let Some(id) = g.account_id.as_deref() else {
                plan.reports.push(format!("{PIPELINE}.{}: kept: account_id is not a literal", g.name));
                continue;
            };
            let Some(account_name) = by_account.get(id) else {
                plan.reports.push(format!(
                    "{PIPELINE}.{}: kept: no generated {ACCOUNT} of account {id} in these files (generate both in \
                     one query to name the pipeline after its account)",
                    g.name
                ));
                continue;
            };
            if let Some(first) = pipelines.get(id) {
                plan.reports
                    .push(format!("{PIPELINE}.{}: kept: account {id} is also {PIPELINE}.{}", g.name, first.name));
                continue;
            }
            pipelines.insert(id, g);
            let name = if is_taken(PIPELINE, account_name) && !account_name.ends_with(id) {
                format!("{account_name}_{id}")
            } else {
                account_name.clone()
            };
            plan.assign(PIPELINE, &g.name, name, taken);
        }
        plan
    }
}

/// Renames in one file's body; true when it changed.
fn apply(body: &mut Body, names: &BTreeMap<(String, String), String>) -> bool {
    let mut changed = false;
    for b in body.blocks_mut() {
        if let Some((ty, name)) = resource_of(b)
            && let Some(new) = names.get(&(ty.to_string(), name.to_string()))
        {
            if new != name {
                // the label's value only: its decor (the space before it) stays
                match &mut b.labels[1] {
                    BlockLabel::String(s) => *s.value_mut() = new.clone(),
                    BlockLabel::Ident(i) => *i.value_mut() = Ident::new(new.clone()),
                }
                changed = true;
            }
            let nulls: Vec<String> =
                b.body.attributes().filter(|a| a.value.is_null()).map(|a| a.key.as_str().to_string()).collect();
            for k in nulls {
                b.body.remove_attribute(&k);
                changed = true;
            }
        } else if b.ident.as_str() == "import"
            && let Some((ty, name)) = import_target(b)
            && let Some(new) = names.get(&(ty.to_string(), name.clone())).filter(|n| **n != name)
            && let Some(mut to) = b.body.get_attribute_mut("to")
            && let Expression::Traversal(t) = to.value_mut()
            && let Some(op) = t.operators.first_mut()
            && let TraversalOperator::GetAttr(ident) = op.value_mut()
        {
            // checked by identifier(): lowercase letters, digits and `_`, never a leading digit
            *ident.value_mut() = Ident::new(new.clone());
            changed = true;
        }
    }
    changed
}

/// The other `.tf` files of the directories of `files` (their resource names are taken).
fn siblings(files: &[PathBuf]) -> Vec<PathBuf> {
    let given: BTreeSet<PathBuf> = files.iter().filter_map(|f| f.canonicalize().ok()).collect();
    let dirs: BTreeSet<PathBuf> = files
        .iter()
        .map(|f| f.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf())
        .collect();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "tf") && p.canonicalize().ok().is_some_and(|c| !given.contains(&c)) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn parse(path: &Path) -> Result<Body, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.parse().map_err(|e: hcl_edit::parser::Error| format!("{}: not valid HCL: {e}", path.display()))
}

/// Renames in place; true when something was reported.
pub fn run(files: &[PathBuf]) -> Result<bool, String> {
    if files.is_empty() {
        return Err("--rename-generated needs the files terraform query -generate-config-out wrote".into());
    }
    let mut bodies = Vec::new();
    for f in files {
        bodies.push(parse(f)?);
    }
    let (generated, mut taken) = survey(&bodies);
    for s in siblings(files) {
        let body = parse(&s)?;
        taken.extend(body.blocks().filter_map(resource_of).map(|(t, n)| (t.to_string(), n.to_string())));
    }
    if generated.is_empty() {
        return Err(format!(
            "no {ACCOUNT} or {PIPELINE} resource with an import block in {}",
            files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    let plan = Plan::decide(&generated, &taken);
    let mut writes = Vec::new();
    for (i, body) in bodies.iter_mut().enumerate() {
        if apply(body, &plan.names) {
            let text = body.to_string();
            text.parse::<Body>()
                .map_err(|e| format!("internal error: {} would not be valid HCL ({e})", files[i].display()))?;
            writes.push((&files[i], text));
        }
    }
    for (path, text) in writes {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    for ((ty, old), new) in &plan.names {
        if old != new {
            eprintln!("{ty}.{old} -> {ty}.{new}");
        }
    }
    for r in &plan.reports {
        eprintln!("{r}");
    }
    eprintln!("aft-convert: {} block(s) named, {} kept", plan.names.len(), plan.reports.len());
    Ok(!plan.reports.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_valid_terraform_names() {
        for (name, id) in [
            ("Payments Prod", Some("payments_prod")),
            ("payments-prod", Some("payments_prod")),
            ("  --Log Archive!! ", Some("log_archive")),
            ("Zürich", Some("z_rich")),
            ("123 Ops", Some("account_123_ops")),
            ("a__b", Some("a_b")),
            ("日本", None),
            ("", None),
        ] {
            assert_eq!(identifier(name).as_deref(), id, "{name:?}");
        }
    }

    fn g(ty: &'static str, name: &str, id: &str, account_name: Option<&str>) -> Generated {
        Generated { ty, name: name.into(), account_id: Some(id.into()), account_name: account_name.map(String::from) }
    }

    #[test]
    fn shared_and_taken_names_get_the_account_id_on_every_block_that_has_them() {
        let blocks = vec![
            g(ACCOUNT, "aft_0", "111111111111", Some("Dev")),
            g(ACCOUNT, "aft_1", "222222222222", Some("dev")),
            g(ACCOUNT, "aft_2", "333333333333", Some("Prod")),
            g(ACCOUNT, "aft_3", "444444444444", Some("Ops")),
            g(PIPELINE, "p_0", "111111111111", None),
            g(PIPELINE, "p_3", "444444444444", None),
            g(PIPELINE, "p_1", "333333333333", None),
            g(PIPELINE, "p_2", "555555555555", None),
        ];
        let taken = BTreeSet::from([(ACCOUNT.to_string(), "ops".to_string())]);
        let plan = Plan::decide(&blocks, &taken);
        let name = |ty: &str, n: &str| plan.names.get(&(ty.to_string(), n.to_string())).cloned();
        assert_eq!(name(ACCOUNT, "aft_0").as_deref(), Some("dev_111111111111"));
        assert_eq!(name(ACCOUNT, "aft_1").as_deref(), Some("dev_222222222222"));
        assert_eq!(name(ACCOUNT, "aft_2").as_deref(), Some("prod"));
        assert_eq!(name(ACCOUNT, "aft_3").as_deref(), Some("ops_444444444444"), "ops is taken");
        assert_eq!(name(PIPELINE, "p_0").as_deref(), Some("dev_111111111111"), "its account's name");
        assert_eq!(name(PIPELINE, "p_1").as_deref(), Some("prod"));
        assert_eq!(name(PIPELINE, "p_2"), None, "no account block: kept");
        assert_eq!(name(PIPELINE, "p_3").as_deref(), Some("ops"), "an account block named ops exists: not a pipeline");
        assert_eq!(plan.reports.len(), 1, "{:?}", plan.reports);
        assert!(plan.reports[0].contains("account 555555555555"), "{:?}", plan.reports);

        // the same blocks in another order: the same names
        let mut reversed = blocks.clone();
        reversed.reverse();
        assert_eq!(Plan::decide(&reversed, &taken).names, plan.names);

        // a second block of the same account keeps its name; a taken pipeline name gets the id
        let twice = vec![
            g(ACCOUNT, "a_0", "111111111111", Some("Dev")),
            g(ACCOUNT, "b_0", "111111111111", Some("Dev")),
            g(PIPELINE, "p_0", "111111111111", None),
        ];
        let taken = BTreeSet::from([(PIPELINE.to_string(), "dev".to_string())]);
        let plan = Plan::decide(&twice, &taken);
        let name = |ty: &str, n: &str| plan.names.get(&(ty.to_string(), n.to_string())).cloned();
        assert_eq!(name(ACCOUNT, "a_0").as_deref(), Some("dev"));
        assert_eq!(name(ACCOUNT, "b_0"), None);
        assert_eq!(name(PIPELINE, "p_0").as_deref(), Some("dev_111111111111"));
        assert_eq!(plan.reports.len(), 1, "{:?}", plan.reports);
    }

    #[test]
    fn renames_the_resource_and_its_import_and_drops_null_arguments() {
        let text = r#"# __generated__ by Terraform
resource "aft_account_provisioning" "aft_0" {
  provider                = aft
  close_account_on_delete = null
  control_tower_parameters = {
    AccountEmail = "a@example.com"
    AccountName  = "Payments Prod"
  }
}

import {
  to       = aft_account_provisioning.aft_0
  provider = aft
  identity = {
    account_id = "111111111111"
  }
}

resource "aft_account_provisioning" "mine" {
  rerun_triggers = null
}
"#;
        let mut body: Body = text.parse().unwrap();
        let (generated, taken) = survey(std::slice::from_ref(&body));
        assert_eq!(generated.len(), 1);
        assert!(taken.contains(&(ACCOUNT.to_string(), "mine".to_string())));
        let plan = Plan::decide(&generated, &taken);
        assert!(apply(&mut body, &plan.names));
        let out = body.to_string();
        assert!(out.contains("resource \"aft_account_provisioning\" \"payments_prod\" {"), "{out}");
        assert!(out.contains("  to       = aft_account_provisioning.payments_prod\n"), "{out}");
        assert!(!out.contains("close_account_on_delete"), "{out}");
        assert!(out.contains("resource \"aft_account_provisioning\" \"mine\" {\n  rerun_triggers = null"), "{out}");
        assert!(out.starts_with("# __generated__ by Terraform\n"), "{out}");
    }
}
