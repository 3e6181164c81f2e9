//! Resources, one file each.

pub mod account_provisioning;
pub mod customization_pipeline;
pub mod provisioning_customizations;

use std::sync::Arc;

use crate::context::Context;
use crate::plugin::Resource;

/// Every resource the provider serves.
pub fn all() -> Vec<Arc<dyn Resource<Context>>> {
    vec![
        Arc::new(account_provisioning::AccountProvisioning),
        Arc::new(provisioning_customizations::ProvisioningCustomizations),
        Arc::new(customization_pipeline::CustomizationPipeline),
    ]
}
