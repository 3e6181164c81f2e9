//! terraform-provider-aft: the AFT account provisioning pipeline as Terraform resources.
//!
//! Layers, each knowing only the one below:
//! - [`plugin`]: the Terraform plugin protocol (handshake, TLS, codec, schema, dispatch). No AWS.
//! - [`provider`], [`resources`], [`data_sources`]: the provider block and one file per resource
//!   and data source, turning Terraform values into requests and back.
//! - [`framework`]: the AFT pipeline, one file per step, and the runner.
//! - [`aws`]: the one place SDK clients and role-chain sessions are built; AWS errors.
//!
//! [`context`] carries settings and sessions from `configure` to every operation;
//! [`validation`] holds the pure checks shared by all of them, and [`asl`] the checks of
//! Step Functions definitions.

pub mod actions;
pub mod asl;
pub mod aws;
pub mod context;
pub mod data_sources;
pub mod framework;
pub mod inventory;
pub mod list_resources;
pub mod plugin;
pub mod provider;
pub mod resources;
pub mod validation;
