//! Step 7: the provisioning customizations state machine, started with AFT's input payload and
//! waited for. A failed execution fails the step with its error and cause; an absent state
//! machine is a no-op (AFT fails with `States.Runtime` here, #483).

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;

use super::account_info::Account;
use super::poll::{Backoff, Waits};
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
    execute(&sfn, &arn, &ctx.customization_slots, account, request, run_id, &Waits::of(ctx, deadline)).await
}

/// [`run`] with the Step Functions client, the state machine and the cap given.
pub async fn execute(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    slots: &tokio::sync::Semaphore,
    account: &Account,
    request: &AccountRequest,
    run_id: &str,
    waits: &Waits,
) -> Result<Done<()>, StepError> {
    match sfn.describe_state_machine().state_machine_arn(arn).send().await.aws("states:DescribeStateMachine") {
        Ok(_) => {}
        Err(e) if e.is_not_found() || e.code == "StateMachineDoesNotExist" => {
            return Ok(Done::skipped((), format!("no state machine {arn}: nothing to run")));
        }
        Err(e) => return Err(e.into()),
    }
    let _slot = super::poll::slot(slots, waits.deadline, &waits.stop, "a customizations slot").await?;
    let id = &account.info.id;
    // An execution for this account still running (an earlier apply timed out or was stopped
    // while it ran): never a second one beside it. It is waited for, whatever its end, then
    // this run's own execution starts with the current request.
    if let Some(prior) = running_execution(sfn, arn, id).await? {
        tracing::warn!(execution = %prior, account = %id, "an earlier execution for this account is still running; waiting for it first");
        let (status, _) = wait_execution(sfn, &prior, id, waits).await?;
        tracing::info!(execution = %prior, account = %id, status = status.as_str(), "earlier execution ended");
    }
    // a unique, meaningful name: it also makes the start idempotent within one run
    let name = format!("{id}-{run_id}");
    let input = payload(account, request, run_id).to_string();
    let started = sfn
        .start_execution()
        .state_machine_arn(arn)
        .name(&name)
        .input(input)
        .send()
        .await
        .aws("states:StartExecution")
        .map_err(|e| e.in_account(id))?;
    let exec = started.execution_arn().to_string();
    tracing::info!(execution = %exec, account = %id, "provisioning customizations started");
    match wait_execution(sfn, &exec, id, waits).await? {
        (ExecutionStatus::Succeeded, _) => Ok(Done::ok((), format!("execution {exec} succeeded"))),
        (other, (error, cause)) => Err(StepError::Failed(format!(
            "execution {exec} ended {}: error {error:?}, cause {cause:?}",
            other.as_str()
        ))),
    }
}

/// The execution of this provider's naming (`<account>-<run id>`) still running for the account.
async fn running_execution(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    account_id: &str,
) -> Result<Option<String>, StepError> {
    let prefix = format!("{account_id}-");
    let mut pages =
        sfn.list_executions().state_machine_arn(arn).status_filter(ExecutionStatus::Running).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("states:ListExecutions").map_err(|e| e.in_account(account_id))?;
        if let Some(e) = page.executions().iter().find(|e| e.name().starts_with(&prefix)) {
            return Ok(Some(e.execution_arn().to_string()));
        }
    }
    Ok(None)
}

/// Polls an execution until it is no longer running: its end status, error and cause.
async fn wait_execution(
    sfn: &aws_sdk_sfn::Client,
    exec: &str,
    account_id: &str,
    waits: &Waits,
) -> Result<(ExecutionStatus, (String, String)), StepError> {
    let mut backoff = Backoff::new(waits.poll, Duration::from_secs(10), &waits.stop);
    loop {
        let d = sfn
            .describe_execution()
            .execution_arn(exec)
            .send()
            .await
            .aws("states:DescribeExecution")
            .map_err(|e| e.in_account(account_id))?;
        match d.status() {
            ExecutionStatus::Running | ExecutionStatus::PendingRedrive => {}
            other => {
                let why = (d.error().unwrap_or_default().to_string(), d.cause().unwrap_or_default().to_string());
                return Ok((other.clone(), why));
            }
        }
        backoff.pause(waits.deadline, &format!("waiting for execution {exec}")).await?;
    }
}
