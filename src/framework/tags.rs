//! Step 5a: the account's Organizations tags, truly synced with `account_tags`: changed and new
//! keys are written, and keys no longer requested are removed (AFT never removes them, #238).
//! An account whose request is AFT's own row keeps AFT's semantics: its tags are only added and
//! updated ([`RequestOwner::Aft`]).

use std::collections::BTreeMap;

use aws_sdk_organizations::types::Tag;

use super::request::{AccountRequest, RequestOwner};
use super::{Done, StepError};
use crate::aws::{AwsError, AwsResultExt, clients, organizations};
use crate::context::Context;

/// The writes that bring `current` to `wanted`: (tags to set, keys to remove).
pub fn diff(
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let set = wanted.iter().filter(|(k, v)| current.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    // `aws:` tags belong to AWS and cannot be removed
    let remove = current
        .keys()
        .filter(|k| !wanted.contains_key(*k) && !k.to_ascii_lowercase().starts_with("aws:"))
        .cloned()
        .collect();
    (set, remove)
}

/// Syncs the tags of the request (adds and updates only when the request is AFT's own); writes
/// nothing when they already match.
pub async fn run(ctx: &Context, account_id: &str, request: &AccountRequest) -> Result<Done<()>, StepError> {
    let org = clients::organizations(&ctx.ct_session().await?);
    sync_as(&org, account_id, &request.account_tags, request.owner).await
}

/// [`run`] for this provider's request, with the Organizations client given (the CT management
/// session): a true sync.
pub async fn sync(
    org: &aws_sdk_organizations::Client,
    account_id: &str,
    wanted: &BTreeMap<String, String>,
) -> Result<Done<()>, StepError> {
    sync_as(org, account_id, wanted, RequestOwner::Provider).await
}

/// Brings the tags to `wanted` with the semantics of `owner`'s request: this provider's removes
/// the tags it does not name, AFT's never removes one.
pub async fn sync_as(
    org: &aws_sdk_organizations::Client,
    account_id: &str,
    wanted: &BTreeMap<String, String>,
    owner: RequestOwner,
) -> Result<Done<()>, StepError> {
    let current = organizations::tags(org, account_id).await?;
    let (set, mut remove) = diff(&current, wanted);
    let kept = match owner {
        RequestOwner::Provider => 0,
        RequestOwner::Aft => std::mem::take(&mut remove).len(),
    };
    let kept_note = match kept {
        0 => String::new(),
        n => format!(", {n} not requested kept (AFT's request: tags are only added and updated)"),
    };
    if set.is_empty() && remove.is_empty() {
        return Ok(Done::skipped((), format!("{} tags already in sync{kept_note}", wanted.len())));
    }
    if !remove.is_empty() {
        org.untag_resource()
            .resource_id(account_id)
            .set_tag_keys(Some(remove.clone()))
            .send()
            .await
            .aws("organizations:UntagResource")
            .map_err(|e| e.in_account(account_id))?;
    }
    if !set.is_empty() {
        let tags =
            set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect::<Result<Vec<_>, _>>().map_err(
                |e| AwsError {
                    api: "organizations:TagResource",
                    account: Some(account_id.to_string()),
                    code: "InvalidTag".into(),
                    message: e.to_string(),
                },
            )?;
        org.tag_resource()
            .resource_id(account_id)
            .set_tags(Some(tags))
            .send()
            .await
            .aws("organizations:TagResource")
            .map_err(|e| e.in_account(account_id))?;
    }
    Ok(Done::ok((), format!("{} tags set, {} removed{kept_note}", set.len(), remove.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn diff_sets_changed_and_removes_dropped_keys() {
        let (set, remove) = diff(&m(&[("a", "1"), ("b", "2"), ("aws:x", "y")]), &m(&[("a", "1"), ("c", "3")]));
        assert_eq!(set, vec![("c".to_string(), "3".to_string())]);
        assert_eq!(remove, vec!["b".to_string()]);
        let (set, remove) = diff(&m(&[("a", "1")]), &m(&[("a", "1")]));
        assert!(set.is_empty() && remove.is_empty());
    }
}
