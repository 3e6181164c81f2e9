//! Step 2: the account's details from Organizations (id, email, name, status, parent, joined).

use super::{Done, StepError};
use crate::aws::clients;
use crate::aws::organizations::{self, AccountInfo};
use crate::context::Context;

/// An account and its place in the organization.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub info: AccountInfo,
    pub parent_id: String,
    /// `ORGANIZATIONAL_UNIT` or `ROOT`.
    pub parent_type: String,
}

impl Account {
    /// AFT's `account_info` payload object.
    pub fn payload(&self) -> serde_json::Value {
        serde_json::json!({
            "account": {
                "id": self.info.id,
                "email": self.info.email,
                "name": self.info.name,
                "joined_method": self.info.joined_method,
                "joined_date": self.info.joined_date,
                "status": self.info.status,
                "parent_id": self.parent_id,
                "parent_type": self.parent_type,
                "type": "account",
                "vendor": "aws",
            }
        })
    }
}

/// Reads the account; an account that is missing or not `ACTIVE` fails the step.
pub async fn run(ctx: &Context, account_id: &str) -> Result<Done<Account>, StepError> {
    read(&clients::organizations(&ctx.ct_session().await?), account_id).await
}

/// [`run`] with the Organizations client given (the CT management session).
pub async fn read(org: &aws_sdk_organizations::Client, account_id: &str) -> Result<Done<Account>, StepError> {
    let Some(info) = organizations::describe_account(org, account_id).await? else {
        return Err(StepError::Failed(format!("account {account_id} does not exist in the organization")));
    };
    if info.status != "ACTIVE" {
        return Err(StepError::Failed(format!(
            "account {account_id} is {}; only ACTIVE accounts can be provisioned",
            info.status
        )));
    }
    let (parent_id, parent_type) = organizations::parent(org, account_id).await?;
    let detail = format!("{} ({}) in {parent_id}", info.name, info.email);
    Ok(Done::ok(Account { info, parent_id, parent_type }, detail))
}
