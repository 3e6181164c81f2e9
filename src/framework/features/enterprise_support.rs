//! Feature option: ask AWS Support (us-east-1, from the CT management account) to add the account
//! to Enterprise Support, once: an existing case with AFT's subject means it was already asked.

use super::super::StepError;
use crate::aws::{Aws, AwsResultExt};
use crate::context::Context;

/// AFT's case subject for an account.
pub fn subject(account_id: &str) -> String {
    format!("Add Account {account_id} to Enterprise Support")
}

/// Opens the case unless one exists.
pub async fn run(ctx: &Context, account_id: &str) -> Result<String, StepError> {
    let support = aws_sdk_support::Client::new(&Aws::in_region(&ctx.ct_session().await?, "us-east-1"));
    let want = subject(account_id);
    let mut pages = support
        .describe_cases()
        .include_resolved_cases(true)
        .include_communications(false)
        .language("en")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws("support:DescribeCases")?;
        if let Some(c) = page.cases().iter().find(|c| c.subject() == Some(want.as_str())) {
            return Ok(format!("Enterprise Support already requested (case {})", c.case_id().unwrap_or_default()));
        }
    }
    let out = support
        .create_case()
        .issue_type("customer-service")
        .service_code("account-management")
        .category_code("billing")
        .severity_code("low")
        .subject(&want)
        .communication_body(format!("Please add account number {account_id} to our enterprise support plan."))
        .language("en")
        .send()
        .await
        .aws("support:CreateCase")
        .map_err(|e| e.in_account(account_id))?;
    Ok(format!("Enterprise Support requested (case {})", out.case_id().unwrap_or_default()))
}
