//! Resources, one file each.

pub mod account_provisioning;
pub mod customization_pipeline;
pub mod provisioning_customizations;

use std::sync::Arc;
use std::time::Duration;

use crate::context::Context;
use crate::plugin::{AttrPath, Diagnostics, Resource, Value};
use crate::validation;

/// Every resource the provider serves.
pub fn all() -> Vec<Arc<dyn Resource<Context>>> {
    vec![
        Arc::new(account_provisioning::AccountProvisioning),
        Arc::new(provisioning_customizations::ProvisioningCustomizations),
        Arc::new(customization_pipeline::CustomizationPipeline),
    ]
}

/// The `timeouts` value for an operation, or its default.
pub fn timeout(v: &Value, op: &str, default: Duration) -> Duration {
    v.get("timeouts").get(op).as_str().and_then(|s| validation::duration(s).ok()).unwrap_or(default)
}

/// Checks the durations of a `timeouts` block.
pub fn check_timeouts(config: &Value, d: &mut Diagnostics) {
    for op in ["create", "update", "delete"] {
        if let Some(s) = config.get("timeouts").get(op).as_str()
            && let Err(e) = validation::duration(s)
        {
            d.error_at(AttrPath::attr("timeouts").then(op), "Invalid timeout", e);
        }
    }
}
