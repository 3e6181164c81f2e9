//! Resources, one file each.

pub mod account_provisioning;
pub mod customization_pipeline;
pub mod provisioning_customizations;

use std::sync::Arc;
use std::time::Duration;

use crate::context::Context;
pub use crate::plugin::Timeouts;
use crate::plugin::{Attr, AttrPath, Diagnostics, Resource};
use crate::validation;

/// Reading the durations of a `timeouts` block (the struct is the plugin layer's, beside
/// `timeouts_block`).
impl Timeouts {
    /// The duration for `op` of an optional block, or `default`.
    pub fn of(t: &Attr<Timeouts>, op: Op, default: Duration) -> Duration {
        let set = t.known().and_then(|t| match op {
            Op::Create => t.create.as_str(),
            Op::Update => t.update.as_str(),
            Op::Delete => t.delete.as_str(),
        });
        set.and_then(|s| validation::duration(s).ok()).unwrap_or(default)
    }

    /// Checks the durations of an optional block.
    pub fn check(t: &Attr<Timeouts>, d: &mut Diagnostics) {
        let Some(t) = t.known() else { return };
        for (op, v) in [("create", &t.create), ("update", &t.update), ("delete", &t.delete)] {
            if let Some(s) = v.as_str()
                && let Err(e) = validation::duration(s)
            {
                d.error_at(AttrPath::attr("timeouts").then(op), "Invalid timeout", e);
            }
        }
    }
}

/// A timed operation.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// Every resource the provider serves.
pub fn all() -> Vec<Arc<dyn Resource<Context>>> {
    vec![
        Arc::new(account_provisioning::AccountProvisioning),
        Arc::new(provisioning_customizations::ProvisioningCustomizations),
        Arc::new(customization_pipeline::CustomizationPipeline),
    ]
}
