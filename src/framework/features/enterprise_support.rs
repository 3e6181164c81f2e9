//! Feature option: ask AWS Support (us-east-1, from the CT management account) to add the account
//! to Enterprise Support, once: an existing case with AFT's subject means it was already asked.

use super::super::StepError;
use crate::aws::{AwsResultExt, clients};
use crate::context::Context;

/// AFT's case subject for an account.
pub fn subject(account_id: &str) -> String {
    format!("Add Account {account_id} to Enterprise Support")
}

/// The case already opened for the account, if any.
async fn existing(support: &aws_sdk_support::Client, want: &str) -> Result<Option<String>, StepError> {
    let mut pages = support
        .describe_cases()
        .include_resolved_cases(true)
        .include_communications(false)
        .language("en")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("support:DescribeCases")?;
        if let Some(c) = page.cases().iter().find(|c| c.subject() == Some(want)) {
            return Ok(Some(c.case_id().unwrap_or_default().to_string()));
        }
    }
    Ok(None)
}

/// Opens the case unless one exists. CreateCase is not idempotent (no client token), so the SDK
/// never resends it: after a lost or refused answer the cases are read again first, and the call
/// is made again only when no case has the subject.
pub async fn run(ctx: &Context, account_id: &str) -> Result<String, StepError> {
    request(&clients::support(&ctx.ct_session().await?), account_id).await
}

/// [`run`] with the Support client given (from the CT management account).
pub async fn request(support: &aws_sdk_support::Client, account_id: &str) -> Result<String, StepError> {
    let want = subject(account_id);
    let mut wait = std::time::Duration::from_millis(250);
    let mut attempt = 0;
    loop {
        attempt += 1;
        if let Some(id) = existing(support, &want).await? {
            return Ok(if attempt == 1 {
                format!("Enterprise Support already requested (case {id})")
            } else {
                format!("Enterprise Support requested (case {id})")
            });
        }
        let sent = support
            .create_case()
            .issue_type("customer-service")
            .service_code("account-management")
            .category_code("billing")
            .severity_code("low")
            .subject(&want)
            .communication_body(format!("Please add account number {account_id} to our enterprise support plan."))
            .language("en")
            .customize()
            .config_override(
                aws_sdk_support::config::Builder::default()
                    .retry_config(aws_smithy_types::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .aws("support:CreateCase")
            .map_err(|e| e.in_account(account_id));
        match sent {
            Ok(out) => return Ok(format!("Enterprise Support requested (case {})", out.case_id().unwrap_or_default())),
            Err(e) if e.is_transient() && attempt < 6 => {
                tracing::warn!(account = account_id, error = %e, "CreateCase answer lost or refused; checking before trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
