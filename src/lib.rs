//! terraform-provider-aft: the AFT account provisioning pipeline as Terraform resources.
//!
//! ## Layers
//!
//! Each module may use the modules of the layers below it, never one of its own layer or above
//! (`tests/layers.rs` reads this table and checks every `crate::` path in `src/` against it). So
//! there is no module cycle, and the files of the Terraform types never import each other: what
//! they share lives in a layer below them.
//!
//! | layer | modules | what it owns |
//! |---|---|---|
//! | 1 | `provider` | the provider block: its schema, validation, and the [`context::Context`] it builds; the list of everything served |
//! | 2 | `resources`, `data_sources`, `list_resources`, `actions` | one file per Terraform type, turning Terraform values into framework calls and back |
//! | 3 | `inventory` | what the types share: the bulk read of the fleet, AFT's customization targets, the state of an account or a pipeline taken under management, the list resources' account filters |
//! | 4 | `framework` | the AFT pipeline, one file per step, and the runner |
//! | 5 | `context` | settings, sessions and caps from `configure` to every operation, and the process's memo slots |
//! | 6 | `aws` | the one place SDK clients and role-chain sessions are built; AWS reads shared by steps; AWS errors |
//! | 7 | `validation`, `asl` | pure checks shared by all of them, and the checks of Step Functions definitions |
//! | 8 | `plugin` | the Terraform plugin protocol (transport, TLS, codec, schema, dispatch); knows nothing of AWS or AFT |

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
