//! The account filters the list resources share (`organizational_units`, `tags`, `email`, and
//! for the pipelines `account_ids`): read from a `config` block with a diagnostic on the exact
//! attribute (`config.<attribute>`), then matched against the organization snapshot.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::Snapshot;
use crate::aws::AwsError;
use crate::aws::organizations::{AccountInfo, OuRef};
use crate::context::Context;
use crate::plugin::{Attr, AttrPath, Diagnostic, Diagnostics, StringMap, known_map};

/// The path of an attribute of the `config` block. Terraform resolves a list resource's
/// diagnostic paths in the `list` block's body (`InConfigBody(n.Config.Config, …)` in
/// hashicorp/terraform `internal/terraform/node_resource_validate.go` and
/// `node_resource_plan_instance_query.go`), where the filters sit inside `config { … }`; a path
/// without `config` would point at the whole `list` block.
fn config(attribute: &str) -> AttrPath {
    AttrPath::attr("config").then(attribute)
}

/// The filter attributes of a list resource's `config` block, the same for every list resource.
pub fn attributes() -> Vec<crate::plugin::Attribute> {
    use crate::plugin::{Attribute, Type};
    vec![
        Attribute::optional("account_ids", Type::list(Type::String), "Only these accounts (12-digit ids)."),
        Attribute::optional(
            "organizational_units",
            Type::list(Type::String),
            "Only accounts in these OUs or below them: `Name`, `Name (ou-…)` or `ou-` ids.",
        ),
        Attribute::optional(
            "tags",
            Type::map(Type::String),
            "Only accounts whose Organizations tags include all these pairs.",
        ),
        Attribute::optional(
            "email",
            Type::String,
            "Only accounts whose email matches this pattern (`*` and `?` wildcards, case-insensitive).",
        ),
    ]
}

/// What an account must match: every filter that is set.
#[derive(Debug, Default, PartialEq)]
pub struct AccountFilter {
    ous: Vec<OuRef>,
    tags: BTreeMap<String, String>,
    email: Option<String>,
    account_ids: Option<BTreeSet<String>>,
}

impl AccountFilter {
    /// Reads `organizational_units`, `tags` and `email`; malformed values become diagnostics on
    /// their attribute (`organizational_units[0]`, `tags`, `email`).
    pub fn parse(
        organizational_units: &Attr<Vec<Attr<String>>>,
        tags: &Attr<StringMap>,
        email: &Attr<String>,
        d: &mut Diagnostics,
    ) -> AccountFilter {
        let mut f = AccountFilter::default();
        for (i, v) in organizational_units.known().into_iter().flatten().enumerate() {
            match v.as_str().map(OuRef::parse) {
                Some(Ok(r)) => f.ous.push(r),
                Some(Err(e)) => d.error_at(config("organizational_units").index(i as i64), "Invalid OU", e),
                None => {}
            }
        }
        f.tags = known_map(tags);
        if f.tags.keys().any(String::is_empty) {
            d.error_at(config("tags"), "Invalid tag filter", "Tag keys must not be empty.");
        }
        if let Some(p) = email.as_str() {
            if p.trim().is_empty() {
                d.error_at(config("email"), "Invalid email pattern", "The pattern must not be empty.");
            }
            f.email = Some(p.to_ascii_lowercase());
        }
        f
    }

    /// Adds `account_ids` (12-digit ids; a malformed one is a diagnostic on `account_ids[i]`).
    pub fn with_account_ids(mut self, ids: &Attr<Vec<Attr<String>>>, d: &mut Diagnostics) -> AccountFilter {
        let Some(ids) = ids.known() else { return self };
        let mut set = BTreeSet::new();
        for (i, v) in ids.iter().enumerate() {
            if let Some(id) = v.as_str() {
                match crate::validation::account_id(id) {
                    Ok(()) => {
                        set.insert(id.to_string());
                    }
                    Err(e) => d.error_at(config("account_ids").index(i as i64), "Invalid account id", e),
                }
            }
        }
        self.account_ids = Some(set);
        self
    }

    /// The filter resolved against the organization: the OUs' subtrees, and an Organizations
    /// client when tags must be read (one `ListTagsForResource` per account that passed the rest).
    pub async fn resolve<'a>(&'a self, ctx: &Context, snap: &'a Snapshot) -> Result<Resolved<'a>, Diagnostics> {
        let mut allowed_parents = None;
        if !self.ous.is_empty() {
            let mut all = HashSet::new();
            for r in &self.ous {
                let id = crate::aws::organizations::resolve_ou(&snap.ous, &snap.root, r)
                    .map_err(|e| Diagnostics::from(Diagnostic::error("OU not found", e)))?;
                all.extend(snap.subtree(&id));
            }
            allowed_parents = Some(all);
        }
        let org = if self.tags.is_empty() {
            None
        } else {
            let session = ctx
                .ct_session()
                .await
                .map_err(|e| Diagnostics::from(Diagnostic::error("Reading account tags failed", e.to_string())))?;
            Some(crate::aws::clients::organizations(&session))
        };
        Ok(Resolved { filter: self, snap, allowed_parents, org })
    }
}

/// An [`AccountFilter`] ready to match accounts of one snapshot.
pub struct Resolved<'a> {
    filter: &'a AccountFilter,
    snap: &'a Snapshot,
    allowed_parents: Option<HashSet<String>>,
    org: Option<aws_sdk_organizations::Client>,
}

impl Resolved<'_> {
    /// Whether the account matches what needs no AWS call: its id, email and OU.
    pub fn matches_offline(&self, account: &AccountInfo) -> bool {
        let f = self.filter;
        if f.account_ids.as_ref().is_some_and(|ids| !ids.contains(&account.id)) {
            return false;
        }
        if let Some(p) = &f.email
            && !glob(p, &account.email.to_ascii_lowercase())
        {
            return false;
        }
        if let Some(allowed) = &self.allowed_parents {
            let parent = self.snap.parents.get(&account.id).map(String::as_str).unwrap_or_default();
            if !allowed.contains(parent) {
                return false;
            }
        }
        true
    }

    /// Whether the account matches every filter (tags read from Organizations when set).
    pub async fn matches(&self, account: &AccountInfo) -> Result<bool, AwsError> {
        if !self.matches_offline(account) {
            return Ok(false);
        }
        let Some(org) = &self.org else { return Ok(true) };
        let tags = crate::aws::organizations::tags(org, &account.id).await?;
        Ok(self.filter.tags.iter().all(|(k, v)| tags.get(k) == Some(v)))
    }
}

/// Shell-style match: `*` is any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bad_account_ids_name_their_index() {
        let mut d = Diagnostics::new();
        let ids = Attr::Known(vec![Attr::Known("111122223333".to_string()), Attr::Known("1111".to_string())]);
        let f = AccountFilter::default().with_account_ids(&ids, &mut d);
        let paths: Vec<String> = d.0.iter().filter_map(|x| x.path.as_ref().map(|p| p.to_string())).collect();
        assert_eq!(paths, ["config.account_ids[1]"]);
        assert_eq!(f.account_ids, Some(BTreeSet::from(["111122223333".to_string()])));
    }
}
