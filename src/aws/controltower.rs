//! Control Tower reads shared by the Account Factory count and the auto-enrollment method: the
//! paged `ListBaselines` and `ListEnabledBaselines`, each in one place.

use aws_sdk_controltower::Client;
use aws_sdk_controltower::types::{EnabledBaselineFilter, EnabledBaselineSummary};

use super::{AwsError, AwsResultExt};

/// The ARN of the baseline named `name` (`ListBaselines`, paged); `None` when no page has it.
pub async fn baseline_arn(ct: &Client, name: &str) -> Result<Option<String>, AwsError> {
    let mut token: Option<String> = None;
    loop {
        let page = ct.list_baselines().set_next_token(token.take()).send().await.aws("controltower:ListBaselines")?;
        if let Some(b) = page.baselines().iter().find(|b| b.name() == name) {
            return Ok(Some(b.arn().to_string()));
        }
        match page.next_token().filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(None),
        }
    }
}

/// Walks the enabled baselines `filter` selects (`ListEnabledBaselines`, paged; the accounts'
/// child baselines too when `include_children`), page by page, until `visit` returns a value:
/// that value, or `None` once every page was seen.
pub async fn find_enabled_baseline<T>(
    ct: &Client,
    filter: &EnabledBaselineFilter,
    include_children: bool,
    mut visit: impl FnMut(&EnabledBaselineSummary) -> Option<T>,
) -> Result<Option<T>, AwsError> {
    let mut token: Option<String> = None;
    loop {
        let page = ct
            .list_enabled_baselines()
            .filter(filter.clone())
            .set_include_children(include_children.then_some(true))
            .set_next_token(token.take())
            .send()
            .await
            .aws("controltower:ListEnabledBaselines")?;
        if let Some(found) = page.enabled_baselines().iter().find_map(&mut visit) {
            return Ok(Some(found));
        }
        match page.next_token().filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(None),
        }
    }
}

/// Every enabled baseline `filter` selects that `keep` keeps (all pages).
pub async fn enabled_baselines<T>(
    ct: &Client,
    filter: &EnabledBaselineFilter,
    include_children: bool,
    mut keep: impl FnMut(&EnabledBaselineSummary) -> Option<T>,
) -> Result<Vec<T>, AwsError> {
    let mut out = Vec::new();
    find_enabled_baseline(ct, filter, include_children, |b| {
        out.extend(keep(b));
        None::<()>
    })
    .await?;
    Ok(out)
}
