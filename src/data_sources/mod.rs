//! Data sources, one file each.

pub mod account;
pub mod accounts;

use std::sync::Arc;

use crate::context::Context;
use crate::plugin::DataSource;

/// Every data source the provider serves.
pub fn all() -> Vec<Arc<dyn DataSource<Context>>> {
    vec![Arc::new(account::AccountDataSource), Arc::new(accounts::AccountsDataSource)]
}
