//! Step 6: AFT's feature options, each idempotent and run only when enabled in the provider block.

pub mod cloudtrail;
pub mod default_vpcs;
pub mod enterprise_support;

use super::{Done, Origin, StepError};
use crate::context::Context;

/// Applies the enabled feature options to the account.
pub async fn run(ctx: &Context, account_id: &str, origin: Origin) -> Result<Done<()>, StepError> {
    let f = &ctx.settings.features;
    if !(f.delete_default_vpcs || f.enterprise_support || f.cloudtrail_data_events) {
        return Ok(Done::skipped((), "no feature options enabled"));
    }
    let mut details = Vec::new();
    let mut warnings = Vec::new();
    if f.delete_default_vpcs {
        if origin == Origin::Vended {
            let done = default_vpcs::run(ctx, account_id).await?;
            warnings.extend(done.warnings);
            details.push(done.detail);
        } else {
            details.push("default VPCs kept: the account was not vended by this run".to_string());
        }
    }
    if f.enterprise_support {
        details.push(enterprise_support::run(ctx, account_id).await?);
    }
    if f.cloudtrail_data_events {
        details.push(cloudtrail::run(ctx).await?);
    }
    Ok(Done::ok((), details.join("; ")).warning(warnings))
}
