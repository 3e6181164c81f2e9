//! Step 5b: `custom_fields` → SSM `/aft/account-request/custom-fields/<key>` in the account (AFT
//! home region), fully synced: removed keys are deleted, unchanged values are not rewritten.

use std::collections::BTreeMap;

use aws_sdk_ssm::types::ParameterType;

use super::{Done, StepError};
use crate::aws::{AwsResultExt, clients};
use crate::context::Context;

/// AFT's parameter path prefix.
pub const PREFIX: &str = "/aft/account-request/custom-fields/";

/// Syncs the parameters.
pub async fn run(ctx: &Context, account_id: &str, wanted: &BTreeMap<String, String>) -> Result<Done<()>, StepError> {
    sync(&clients::ssm(&ctx.target_session(account_id).await?), account_id, wanted).await
}

/// The custom-field parameters in the account, by key.
async fn current(ssm: &aws_sdk_ssm::Client, account_id: &str) -> Result<BTreeMap<String, String>, StepError> {
    let mut current = BTreeMap::new();
    let mut pages = ssm.get_parameters_by_path().path(PREFIX).recursive(true).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("ssm:GetParametersByPath").map_err(|e| e.in_account(account_id))?;
        for p in page.parameters() {
            if let (Some(n), Some(v)) = (p.name(), p.value()) {
                current.insert(n.trim_start_matches(PREFIX).to_string(), v.to_string());
            }
        }
    }
    Ok(current)
}

/// Refresh with `drift_detection = "full"`: how the account's custom-field parameters differ from
/// `wanted` (a key missing, another value, a key step 5b would delete).
pub async fn drift(
    ctx: &Context,
    account_id: &str,
    wanted: &BTreeMap<String, String>,
) -> Result<Vec<String>, StepError> {
    let ssm = clients::ssm(&ctx.target_session(account_id).await?);
    let current = current(&ssm, account_id).await?;
    Ok(diff(&current, wanted))
}

fn diff(current: &BTreeMap<String, String>, wanted: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in wanted {
        match current.get(k) {
            None => out.push(format!("custom field {k} is missing ({PREFIX}{k})")),
            Some(c) if c != v => out.push(format!("custom field {k} differs ({PREFIX}{k})")),
            Some(_) => {}
        }
    }
    out.extend(
        current
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .map(|k| format!("custom field {k} is not requested ({PREFIX}{k})")),
    );
    out
}

/// [`run`] with the SSM client given (the account's `AWSAFTService` session).
pub async fn sync(
    ssm: &aws_sdk_ssm::Client,
    account_id: &str,
    wanted: &BTreeMap<String, String>,
) -> Result<Done<()>, StepError> {
    let current = current(ssm, account_id).await?;
    let stale: Vec<String> =
        current.keys().filter(|k| !wanted.contains_key(*k)).map(|k| format!("{PREFIX}{k}")).collect();
    for batch in stale.chunks(10) {
        ssm.delete_parameters()
            .set_names(Some(batch.to_vec()))
            .send()
            .await
            .aws("ssm:DeleteParameters")
            .map_err(|e| e.in_account(account_id))?;
    }
    let mut written = 0;
    for (k, v) in wanted {
        if current.get(k) == Some(v) {
            continue;
        }
        ssm.put_parameter()
            .name(format!("{PREFIX}{k}"))
            .value(v)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .aws("ssm:PutParameter")
            .map_err(|e| e.in_account(account_id))?;
        written += 1;
    }
    let detail = format!("{written} written, {} deleted, {} unchanged", stale.len(), wanted.len() - written);
    if written == 0 && stale.is_empty() { Ok(Done::skipped((), detail)) } else { Ok(Done::ok((), detail)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_difference_is_named_without_its_value() {
        let m =
            |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        let d = diff(&m(&[("a", "1"), ("b", "secret-2"), ("c", "3")]), &m(&[("a", "1"), ("b", "9"), ("d", "4")]));
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d[0].starts_with("custom field b differs") && d[1].starts_with("custom field d is missing"));
        assert!(d[2].starts_with("custom field c is not requested"));
        assert!(!d.iter().any(|x| x.contains("secret-2")), "values never reach the plan");
        assert!(diff(&m(&[("a", "1")]), &m(&[("a", "1")])).is_empty());
    }
}
