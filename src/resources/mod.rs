//! Resources, one file each.

use std::sync::Arc;

use crate::context::Context;
use crate::plugin::Resource;

/// Every resource the provider serves.
pub fn all() -> Vec<Arc<dyn Resource<Context>>> {
    vec![]
}
