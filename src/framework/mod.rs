//! The seed's pipeline: one file per step, each a small idempotent function of
//! (context, account) → outcome, and the runner that records every step and notifies.
//!
//! Steps (numbers are the seed's): 1 `validate` (plan time), vending in `vend` (with the
//! Control Tower Account Factory product in `account_factory`), then
//! 2 `account_info`, 3 `metadata` (with AFT's `aft-request` row in `request_row`), 4 `execution_role`, 5 `tags` and `custom_fields`,
//! 6 `features`, 7 `customizations`, 10 `notify`. Steps 8 and 9 are the
//! `aft_customization_pipeline` resource, built from `pipeline` and `invoke`.

pub mod account_factory;
pub mod account_info;
pub mod auto_enroll;
pub mod coordination;
pub mod custom_fields;
pub mod customizations;
pub mod execution_role;
pub mod features;
pub mod invoke;
pub mod metadata;
pub mod notify;
pub mod pipeline;
pub mod poll;
pub mod request;
pub mod request_row;
pub mod shared_accounts;
pub mod tags;
pub mod validate;
pub mod vend;

use std::future::Future;
use std::time::Instant;

use thiserror::Error;

use crate::aws::AwsError;
use crate::context::Context;
use account_info::Account;
use request::AccountRequest;

/// Why a step failed.
#[derive(Debug, Error, Clone)]
pub enum StepError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The step ran and reached a failing result (e.g. a failed execution).
    #[error("{0}")]
    Failed(String),
    /// The operation's timeout passed.
    #[error("timed out after {0}")]
    Timeout(String),
    /// Terraform asked the provider to stop (Ctrl-C) during a wait.
    #[error("stopped by Terraform while {0}")]
    Stopped(String),
}

/// A failed step, naming the step and the account.
#[derive(Debug, Error, Clone)]
#[error("step {step} for account {account}: {source}")]
pub struct FrameworkError {
    pub step: &'static str,
    pub account: String,
    pub source: StepError,
}

/// The outcome of one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Skipped,
    Failed,
}

impl Outcome {
    /// As written in notifications and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }
}

/// What one step did.
#[derive(Clone, Debug)]
pub struct StepRecord {
    pub step: &'static str,
    pub outcome: Outcome,
    pub detail: String,
    pub duration_ms: u128,
}

/// A step's result: its value, and a one-line detail for the record.
pub struct Done<T> {
    pub value: T,
    pub detail: String,
    pub skipped: bool,
    /// What the step chose not to do and the user should know (shown as warnings).
    pub warnings: Vec<String>,
}

impl<T> Done<T> {
    /// The step did its work.
    pub fn ok(value: T, detail: impl Into<String>) -> Self {
        Done { value, detail: detail.into(), skipped: false, warnings: Vec::new() }
    }
    /// The step had nothing to do.
    pub fn skipped(value: T, detail: impl Into<String>) -> Self {
        Done { value, detail: detail.into(), skipped: true, warnings: Vec::new() }
    }
    /// The same result, with warnings for the user.
    pub fn warning(mut self, warnings: impl IntoIterator<Item = String>) -> Self {
        self.warnings.extend(warnings);
        self
    }
}

/// The record of one framework run.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub run_id: String,
    pub account_id: String,
    pub account_email: String,
    pub operation: &'static str,
    pub started_at: String,
    /// When the run ended (set by [`run`] once every step has run or one has failed).
    pub completed_at: Option<String>,
    pub steps: Vec<StepRecord>,
    pub error: Option<FrameworkError>,
    /// The account as step 2 saw it.
    pub account: Option<Account>,
    /// The `AWSAFTExecution` role ARN (step 4).
    pub execution_role_arn: Option<String>,
    /// Warnings of the steps, each naming its step (shown after the apply).
    pub warnings: Vec<String>,
}

impl RunRecord {
    /// A new run with a fresh id.
    pub fn new(operation: &'static str, account_id: &str, email: &str) -> Self {
        RunRecord {
            run_id: uuid::Uuid::new_v4().to_string(),
            account_id: account_id.to_string(),
            account_email: email.to_string(),
            operation,
            started_at: now_rfc3339(),
            completed_at: None,
            steps: Vec::new(),
            error: None,
            account: None,
            execution_role_arn: None,
            warnings: Vec::new(),
        }
    }

    /// When the run completed without a failure; `None` while it runs, or when it failed.
    pub fn succeeded_at(&self) -> Option<&str> {
        if self.error.is_some() { None } else { self.completed_at.as_deref() }
    }

    /// Runs one step: times it, logs it, records its outcome, and stops at the deadline.
    pub async fn step<T, F>(&mut self, name: &'static str, deadline: Instant, f: F) -> Result<T, FrameworkError>
    where
        F: Future<Output = Result<Done<T>, StepError>>,
    {
        let start = Instant::now();
        tracing::info!(step = name, account = %self.account_id, run_id = %self.run_id, "step started");
        let result = match tokio::time::timeout_at(deadline.into(), f).await {
            Ok(r) => r,
            Err(_) => Err(StepError::Timeout(format!("the operation's time limit, during {name}"))),
        };
        let duration_ms = start.elapsed().as_millis();
        match result {
            Ok(done) => {
                let outcome = if done.skipped { Outcome::Skipped } else { Outcome::Succeeded };
                tracing::info!(step = name, account = %self.account_id, outcome = outcome.as_str(), duration_ms = duration_ms as u64, detail = %done.detail, "step finished");
                for w in &done.warnings {
                    tracing::warn!(step = name, account = %self.account_id, warning = %w, "step warning");
                }
                self.warnings.extend(done.warnings.into_iter().map(|w| format!("{name}: {w}")));
                self.steps.push(StepRecord { step: name, outcome, detail: done.detail, duration_ms });
                Ok(done.value)
            }
            Err(e) => {
                tracing::error!(step = name, account = %self.account_id, duration_ms = duration_ms as u64, error = %e, "step failed");
                self.steps.push(StepRecord {
                    step: name,
                    outcome: Outcome::Failed,
                    detail: e.to_string(),
                    duration_ms,
                });
                let err = FrameworkError { step: name, account: self.account_id.clone(), source: e };
                // the first failure is the one to report: a later one (the failure notification
                // itself, say) is recorded in its step but never hides it
                if self.error.is_none() {
                    self.error = Some(err.clone());
                }
                Err(err)
            }
        }
    }
}

/// Now, as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Whether the account of a run was just made: feature options that change what an account
/// already runs (deleting default VPCs) apply only to an account this provider has just vended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The create that vended the account (not adopted, not imported).
    Vended,
    /// An adopted or imported account, or any later run.
    Existing,
}

/// Runs steps 2 to 7 for an account, then step 10 (the notification) whatever happened.
/// The record says what each step did; `record.error` is the first failure.
pub async fn run(
    ctx: &Context,
    operation: &'static str,
    origin: Origin,
    account_id: &str,
    request: &AccountRequest,
    deadline: Instant,
) -> RunRecord {
    let mut rec = RunRecord::new(operation, account_id, request.email());
    let _ = run_steps(ctx, &mut rec, origin, account_id, request, deadline).await;
    rec.completed_at = Some(now_rfc3339());
    // Step 10 runs even when an earlier step failed: a failure must be announced.
    let msg = notify::message(&rec);
    let failed = rec.error.is_some();
    let publish = notify::run(ctx, &msg, failed);
    let _ = rec.step("notify", deadline + std::time::Duration::from_secs(30), publish).await;
    rec
}

async fn run_steps(
    ctx: &Context,
    rec: &mut RunRecord,
    origin: Origin,
    account_id: &str,
    request: &AccountRequest,
    deadline: Instant,
) -> Result<(), FrameworkError> {
    let account = rec.step("account_info", deadline, account_info::run(ctx, account_id)).await?;
    rec.account = Some(account.clone());
    let event = if rec.operation == "create" { "INSERT" } else { "MODIFY" };
    rec.step("persist_metadata", deadline, metadata::run(ctx, &account, request, event)).await?;
    let role = rec.step("create_role", deadline, execution_role::run(ctx, account_id)).await?;
    rec.execution_role_arn = Some(role);
    rec.step("tag_account", deadline, tags::run(ctx, account_id, request)).await?;
    rec.step("account_metadata_ssm", deadline, custom_fields::run(ctx, account_id, &request.custom_fields)).await?;
    rec.step("aft_features", deadline, features::run(ctx, account_id, origin)).await?;
    let run_id = rec.run_id.clone();
    rec.step("provisioning_customizations", deadline, customizations::run(ctx, &account, request, &run_id, deadline))
        .await?;
    Ok(())
}
