//! Step 7: the provisioning customizations state machine, started with AFT's input payload and
//! waited for. A failed execution fails the step with its error and cause; an absent state
//! machine is a no-op (AFT fails with `States.Runtime` here, #483).

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;

use super::account_info::Account;
use super::poll::Backoff;
use super::request::AccountRequest;
use super::{Done, StepError};
use crate::aws::{AwsResultExt, clients};
use crate::context::Context;

/// AFT's input payload for the provisioning customizations (`build_account_customization_payload`,
/// plus the StatusCode results of the steps before it, as AFT's framework state carries them).
pub fn payload(account: &Account, request: &AccountRequest, run_id: &str) -> serde_json::Value {
    let ok = serde_json::json!({"StatusCode": 200});
    serde_json::json!({
        "account_info": account.payload(),
        "control_tower_event": {},
        "account_request": request.payload(),
        "account_provisioning": {"run_create_pipeline": "true"},
        "customization_request_id": run_id,
        "persist_metadata": ok,
        "role": {"Arn": null},
        "account_tags": ok,
        "account_metadata_ssm": ok,
    })
}

/// Runs the state machine for the account and waits for its end.
pub async fn run(
    ctx: &Context,
    account: &Account,
    request: &AccountRequest,
    run_id: &str,
    deadline: Instant,
) -> Result<Done<()>, StepError> {
    let arn = ctx.customizations_state_machine_arn().await?;
    let sfn = clients::sfn(ctx.aws.hub());
    match sfn.describe_state_machine().state_machine_arn(&arn).send().await.aws("states:DescribeStateMachine") {
        Ok(_) => {}
        Err(e) if e.is_not_found() || e.code == "StateMachineDoesNotExist" => {
            return Ok(Done::skipped((), format!("no state machine {arn}: nothing to run")));
        }
        Err(e) => return Err(e.into()),
    }
    let _slot = ctx.customization_slots.acquire().await.map_err(|e| StepError::Failed(e.to_string()))?;
    // a unique, meaningful name: it also makes the start idempotent within one run
    let name = format!("{}-{run_id}", account.info.id);
    let input = payload(account, request, run_id).to_string();
    let started = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .name(&name)
        .input(input)
        .send()
        .await
        .aws("states:StartExecution")
        .map_err(|e| e.in_account(&account.info.id))?;
    let exec = started.execution_arn().to_string();
    tracing::info!(execution = %exec, account = %account.info.id, "provisioning customizations started");
    let mut backoff = Backoff::new(ctx.settings.poll_interval, Duration::from_secs(10));
    loop {
        let d = sfn
            .describe_execution()
            .execution_arn(&exec)
            .send()
            .await
            .aws("states:DescribeExecution")
            .map_err(|e| e.in_account(&account.info.id))?;
        match d.status() {
            ExecutionStatus::Running | ExecutionStatus::PendingRedrive => {}
            ExecutionStatus::Succeeded => return Ok(Done::ok((), format!("execution {exec} succeeded"))),
            other => {
                return Err(StepError::Failed(format!(
                    "execution {exec} ended {}: error {:?}, cause {:?}",
                    other.as_str(),
                    d.error().unwrap_or(""),
                    d.cause().unwrap_or("")
                )));
            }
        }
        if Instant::now() >= deadline {
            return Err(StepError::Timeout(format!("waiting for execution {exec}")));
        }
        if !backoff.wait().await {
            return Err(StepError::Stopped(format!("waiting for execution {exec}")));
        }
    }
}
