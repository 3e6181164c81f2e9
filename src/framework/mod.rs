//! The seed's pipeline: one file per step, each a small idempotent function of
//! (context, account) → outcome, and the runner that records every step and notifies.

pub mod metadata;
pub mod request;
