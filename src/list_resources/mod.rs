//! List resources for `terraform query`, one file each.

pub mod account_provisioning;
pub mod customization_pipeline;

use std::sync::Arc;

use crate::context::Context;
use crate::plugin::ListResource;

/// Every list resource the provider serves.
pub fn all() -> Vec<Arc<dyn ListResource<Context>>> {
    vec![
        Arc::new(account_provisioning::AccountProvisioningList),
        Arc::new(customization_pipeline::CustomizationPipelineList),
    ]
}
