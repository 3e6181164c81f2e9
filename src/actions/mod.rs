//! Actions (`terraform apply -invoke=action.<type>.<name>`), one file each.

pub mod invoke_customizations;

use std::sync::Arc;

use crate::context::Context;
use crate::plugin::Action;

/// Every action the provider serves.
pub fn all() -> Vec<Arc<dyn Action<Context>>> {
    vec![Arc::new(invoke_customizations::InvokeCustomizations)]
}
