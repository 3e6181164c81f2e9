//! The Terraform plugin protocol (tfplugin6.10) over go-plugin's gRPC transport.
//!
//! Knows nothing of AWS or AFT. `transport`, `handshake` and `tls` bring the process up the way
//! go-plugin expects (unix socket or TCP, AutoMTLS, the stdout line); `server` dispatches RPCs to a [`Provider`]; `value`, `schema`, `diagnostics` and
//! `plan` are the typed API resource code works with; `logging` turns `tracing` events into the
//! JSON lines go-plugin forwards to `TF_LOG`.

pub mod diagnostics;
mod fuzz;
pub mod handshake;
pub mod logging;
pub mod model;
pub mod plan;
pub mod schema;
pub mod server;
pub mod stop;
pub mod timings;
pub mod tls;
pub mod traits;
pub mod transport;
pub mod value;

/// Generated protocol types.
#[allow(dead_code, clippy::all, missing_docs)]
pub mod proto {
    /// Terraform plugin protocol 6.10.
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    /// go-plugin's controller and stdio services.
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
}

pub use diagnostics::{AttrPath, Diagnostic, Diagnostics};
pub use model::{Attr, StringMap, Timeouts, check_model, known_map, read_model, write_model};
pub use schema::{Attribute, Block, IdentitySchema, NestedBlock, Nesting, Schema};
pub use traits::{
    Action, ApplyRequest, DataSource, Failed, ListResource, Listed, Notes, Plan, PlanRequest, Private, Progress,
    Provider, ReadRequest, Resource,
};
pub use value::{Number, Type, Value, from_value, to_value};
