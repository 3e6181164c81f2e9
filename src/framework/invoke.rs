//! Step 9: invoke an account's customizations pipeline under the provider-wide
//! `max_concurrent_customizations` cap, retrying throttled starts, and wait for the execution.
//! A failed execution names the stage and action that failed.

use std::time::{Duration, Instant};

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{ActionExecutionFilter, ActionExecutionStatus, PipelineExecutionStatus};
use tokio::sync::Semaphore;

use super::StepError;
use super::poll::{Backoff, Waits};
use crate::aws::{AwsError, AwsResultExt};

/// How one invocation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    pub id: String,
    /// `Succeeded`, `Failed`, `Stopped`, ... or `InProgress` when not waited for.
    pub status: String,
}

fn throttled(e: &AwsError) -> bool {
    matches!(
        e.code.as_str(),
        "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "LimitExceededException"
            | "ConcurrentPipelineExecutionsLimitExceededException"
    )
}

/// Starts an execution; throttling answers are retried with backoff (on top of the SDK's own
/// retries) until `deadline`.
pub async fn start(client: &Client, pipeline: &str, deadline: Instant) -> Result<String, StepError> {
    let token = uuid::Uuid::new_v4().to_string();
    let mut wait = Duration::from_millis(200);
    loop {
        match client
            .start_pipeline_execution()
            .name(pipeline)
            .client_request_token(&token)
            .send()
            .await
            .aws("codepipeline:StartPipelineExecution")
        {
            Ok(o) => return Ok(o.pipeline_execution_id().unwrap_or_default().to_string()),
            Err(e) if throttled(&e) && Instant::now() + wait < deadline => {
                tracing::warn!(pipeline, error = %e, "pipeline start throttled; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The newest execution of a pipeline, if any: (id, status).
pub async fn latest(client: &Client, pipeline: &str) -> Result<Option<(String, PipelineExecutionStatus)>, AwsError> {
    let out = client
        .list_pipeline_executions()
        .pipeline_name(pipeline)
        .max_results(5)
        .send()
        .await
        .aws("codepipeline:ListPipelineExecutions")?;
    let newest = out
        .pipeline_execution_summaries()
        .iter()
        .max_by_key(|s| s.start_time().map(|t| (t.secs(), t.subsec_nanos())).unwrap_or_default());
    Ok(newest.map(|s| {
        (
            s.pipeline_execution_id().unwrap_or_default().to_string(),
            s.status().cloned().unwrap_or(PipelineExecutionStatus::InProgress),
        )
    }))
}

/// What failed in an execution: "stage S, action A: message".
async fn failure_detail(client: &Client, pipeline: &str, exec: &str) -> String {
    let filter = ActionExecutionFilter::builder().pipeline_execution_id(exec).build();
    match client
        .list_action_executions()
        .pipeline_name(pipeline)
        .filter(filter)
        .send()
        .await
        .aws("codepipeline:ListActionExecutions")
    {
        Ok(out) => out
            .action_execution_details()
            .iter()
            .find(|a| a.status() == Some(&ActionExecutionStatus::Failed))
            .map(|a| {
                let summary = a
                    .output()
                    .and_then(|o| o.execution_result())
                    .and_then(|r| r.external_execution_summary())
                    .unwrap_or("no details");
                format!("stage {}, action {}: {summary}", a.stage_name().unwrap_or("?"), a.action_name().unwrap_or("?"))
            })
            .unwrap_or_else(|| "no failed action reported".to_string()),
        Err(e) => format!("({e})"),
    }
}

/// Waits for an execution to end; a failure names the stage and action.
pub async fn wait(client: &Client, pipeline: &str, exec: &str, waits: &Waits) -> Result<Execution, StepError> {
    let deadline = waits.deadline;
    let mut backoff = Backoff::new(waits.poll, Duration::from_secs(30), &waits.stop);
    loop {
        let out = client
            .get_pipeline_execution()
            .pipeline_name(pipeline)
            .pipeline_execution_id(exec)
            .send()
            .await
            .aws("codepipeline:GetPipelineExecution")?;
        let status =
            out.pipeline_execution().and_then(|e| e.status()).cloned().unwrap_or(PipelineExecutionStatus::InProgress);
        match status {
            PipelineExecutionStatus::InProgress | PipelineExecutionStatus::Stopping => {}
            PipelineExecutionStatus::Succeeded => {
                return Ok(Execution { id: exec.to_string(), status: "Succeeded".into() });
            }
            other => {
                let detail = failure_detail(client, pipeline, exec).await;
                return Err(StepError::Failed(format!(
                    "pipeline {pipeline} execution {exec} ended {}: {detail}",
                    other.as_str()
                )));
            }
        }
        backoff.pause(deadline, &format!("waiting for pipeline {pipeline} execution {exec}")).await?;
    }
}

/// Runs a pipeline once under the cap: starts it (or takes `already_started`) and, if asked,
/// waits for the end while holding the slot.
pub async fn run(
    client: &Client,
    slots: &Semaphore,
    pipeline: &str,
    already_started: Option<String>,
    wait_for_completion: bool,
    waits: &Waits,
) -> Result<Execution, StepError> {
    let _slot = super::poll::slot(slots, waits.deadline, &waits.stop, "a pipeline slot").await?;
    let id = match already_started {
        Some(id) => id,
        None => start(client, pipeline, waits.deadline).await?,
    };
    tracing::info!(pipeline, execution = %id, "customizations pipeline started");
    if !wait_for_completion {
        return Ok(Execution { id, status: "InProgress".into() });
    }
    wait(client, pipeline, &id, waits).await
}
