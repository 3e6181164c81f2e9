//! Step 10: the success or failure notification, as JSON naming the account, the run, every
//! step with its outcome and duration, and the error.

use super::{Done, RunRecord, StepError};
use crate::aws::{AwsResultExt, clients};
use crate::context::Context;

/// The notification body for a run (steps recorded so far).
pub fn message(rec: &RunRecord) -> serde_json::Value {
    serde_json::json!({
        "source": "terraform-provider-aft",
        "status": if rec.error.is_some() { "FAILED" } else { "SUCCEEDED" },
        "operation": rec.operation,
        "account_id": rec.account_id,
        "account_email": rec.account_email,
        "run_id": rec.run_id,
        "started_at": rec.started_at,
        "completed_at": rec.completed_at,
        "steps": rec.steps.iter().map(|s| serde_json::json!({
            "step": s.step,
            "outcome": s.outcome.as_str(),
            "duration_ms": s.duration_ms as u64,
            "detail": s.detail,
        })).collect::<Vec<_>>(),
        "error": rec.error.as_ref().map(|e| serde_json::json!({
            "step": e.step,
            "message": e.to_string(),
        })),
    })
}

/// Publishes to the success topic, or to the failure topic when `failed`.
pub async fn run(ctx: &Context, msg: &serde_json::Value, failed: bool) -> Result<Done<()>, StepError> {
    let (ok_topic, fail_topic) = ctx.topics().await?;
    let topic = if failed { fail_topic } else { ok_topic };
    publish(&clients::sns(ctx.aws.hub()), &topic, msg, failed).await
}

/// Publishes `msg` to `topic` (the success or failure topic, as `failed` says).
pub async fn publish(
    sns: &aws_sdk_sns::Client,
    topic: &str,
    msg: &serde_json::Value,
    failed: bool,
) -> Result<Done<()>, StepError> {
    let account = msg["account_id"].as_str().unwrap_or_default();
    let subject = if failed { "AFT account provisioning failed" } else { "AFT account provisioning succeeded" };
    sns.publish()
        .topic_arn(topic)
        .subject(subject)
        .message(msg.to_string())
        .send()
        .await
        .aws("sns:Publish")
        .map_err(|e| e.in_account(account))?;
    Ok(Done::ok((), format!("published to {topic}")))
}
