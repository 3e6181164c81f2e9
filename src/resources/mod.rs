//! Resources, one file each.

pub mod account_provisioning;

use std::sync::Arc;

use crate::context::Context;
use crate::plugin::Resource;

/// Every resource the provider serves.
pub fn all() -> Vec<Arc<dyn Resource<Context>>> {
    vec![Arc::new(account_provisioning::AccountProvisioning)]
}
