//! The pipeline runner (seed step 9) against scripted CodePipeline answers, for what moto cannot
//! show (its executions succeed at once): a failed execution names its stage and action, the
//! provider-wide cap holds across concurrent runs, and throttled starts are retried.

use aft_test_harness as common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::error::ErrorMetadata;
use aws_sdk_codepipeline::operation::get_pipeline_execution::GetPipelineExecutionOutput;
use aws_sdk_codepipeline::operation::list_action_executions::ListActionExecutionsOutput;
use aws_sdk_codepipeline::operation::start_pipeline_execution::{
    StartPipelineExecutionError, StartPipelineExecutionOutput,
};
use aws_sdk_codepipeline::types::{
    ActionExecutionDetail, ActionExecutionOutput, ActionExecutionResult, ActionExecutionStatus, PipelineExecution,
    PipelineExecutionStatus,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use terraform_provider_aft::framework::invoke;
use tokio::sync::Semaphore;

fn status(s: PipelineExecutionStatus) -> GetPipelineExecutionOutput {
    GetPipelineExecutionOutput::builder().pipeline_execution(PipelineExecution::builder().status(s).build()).build()
}

#[tokio::test]
async fn a_failed_execution_names_the_stage_and_action() {
    let start = mock!(Client::start_pipeline_execution)
        .then_output(|| StartPipelineExecutionOutput::builder().pipeline_execution_id("exec-1").build());
    let get = mock!(Client::get_pipeline_execution)
        .sequence()
        .output(|| status(PipelineExecutionStatus::InProgress))
        .times(2)
        .output(|| status(PipelineExecutionStatus::Failed))
        .build();
    let actions = mock!(Client::list_action_executions).then_output(|| {
        ListActionExecutionsOutput::builder()
            .action_execution_details(
                ActionExecutionDetail::builder()
                    .stage_name("Source")
                    .action_name("aft-global-customizations")
                    .status(ActionExecutionStatus::Succeeded)
                    .build(),
            )
            .action_execution_details(
                ActionExecutionDetail::builder()
                    .stage_name("Global-Customizations")
                    .action_name("Apply")
                    .status(ActionExecutionStatus::Failed)
                    .output(
                        ActionExecutionOutput::builder()
                            .execution_result(
                                ActionExecutionResult::builder()
                                    .external_execution_summary("terraform apply exited 1")
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let client = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&start, &get, &actions]);
    let err = invoke::run(
        &client,
        &Semaphore::new(2),
        "111122223333-customizations-pipeline",
        None,
        true,
        &common::fast_waits(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("ended Failed"), "{err}");
    assert!(err.contains("stage Global-Customizations, action Apply: terraform apply exited 1"), "{err}");
    assert_eq!(get.num_calls(), 3);
}

#[tokio::test]
async fn eight_pipelines_with_a_cap_of_two_never_run_more_than_two_at_once() {
    #[derive(Default)]
    struct Books {
        running: usize,
        peak: usize,
        polls: HashMap<String, usize>,
        started: usize,
    }
    let books = Arc::new(Mutex::new(Books::default()));
    let b1 = books.clone();
    let start = mock!(Client::start_pipeline_execution).then_compute_output(move |req| {
        let mut b = b1.lock().unwrap();
        b.running += 1;
        b.started += 1;
        b.peak = b.peak.max(b.running);
        StartPipelineExecutionOutput::builder()
            .pipeline_execution_id(format!("{}-exec", req.name().unwrap_or_default()))
            .build()
    });
    let b2 = books.clone();
    let get = mock!(Client::get_pipeline_execution).then_compute_output(move |req| {
        let mut b = b2.lock().unwrap();
        let id = req.pipeline_execution_id().unwrap_or_default().to_string();
        let n = {
            let n = b.polls.entry(id).or_insert(0);
            *n += 1;
            *n
        };
        if n >= 3 {
            b.running -= 1;
            status(PipelineExecutionStatus::Succeeded)
        } else {
            status(PipelineExecutionStatus::InProgress)
        }
    });
    let client = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&start, &get]);
    let slots = Semaphore::new(2);
    let names: Vec<String> = (0..8).map(|i| format!("{i:012}-customizations-pipeline")).collect();
    let w = common::fast_waits();
    let runs = names.iter().map(|n| invoke::run(&client, &slots, n, None, true, &w));
    let results = futures::future::join_all(runs).await;
    assert!(results.iter().all(|r| r.as_ref().is_ok_and(|e| e.status == "Succeeded")), "{results:?}");
    let b = books.lock().unwrap();
    assert_eq!(b.started, 8);
    assert_eq!(b.running, 0);
    assert!(b.peak <= 2, "peak {} exceeds the cap of 2", b.peak);
    assert_eq!(b.peak, 2, "the cap allows two at once and eight runs use it");
}

#[tokio::test]
async fn throttled_starts_are_retried() {
    let start = mock!(Client::start_pipeline_execution)
        .sequence()
        .error(|| {
            StartPipelineExecutionError::generic(
                ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build(),
            )
        })
        .times(2)
        .output(|| StartPipelineExecutionOutput::builder().pipeline_execution_id("exec-3").build())
        .build();
    let get = mock!(Client::get_pipeline_execution).then_output(|| status(PipelineExecutionStatus::Succeeded));
    // the SDK's own retries are off, so only the provider's retry can get past the throttles
    let client = mock_client!(aws_sdk_codepipeline, RuleMode::MatchAny, [&start, &get], |c| c
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled()));
    let exec = invoke::run(&client, &Semaphore::new(1), "p", None, true, &common::fast_waits()).await.unwrap();
    assert_eq!(exec.id, "exec-3");
    assert_eq!(start.num_calls(), 3, "two throttled starts, then success");
}
