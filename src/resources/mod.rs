//! Resources, one file each.

pub mod account_provisioning;
pub mod customization_pipeline;
pub mod provisioning_customizations;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::plugin::{Attr, AttrPath, Diagnostics, Resource, Value};
use crate::validation;

/// The `timeouts` block every resource has (typed models). Models that are written back hold
/// blocks as [`Attr`], never `Option`, so an unknown block stays unknown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeouts {
    pub create: Attr<String>,
    pub update: Attr<String>,
    pub delete: Attr<String>,
}

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
