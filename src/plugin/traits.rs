//! The typed API a provider, its resources and data sources implement.
//!
//! Resource code sees only [`Value`]s decoded with its own schema, and returns values or
//! [`Diagnostics`]; protobuf and msgpack stay inside the plugin layer.

use std::sync::Arc;

use async_trait::async_trait;

use super::diagnostics::{AttrPath, Diagnostics};
use super::schema::{IdentitySchema, Schema};
use super::value::Value;

/// Opaque per-resource data Terraform stores beside the state (a JSON object here).
pub type Private = serde_json::Map<String, serde_json::Value>;

/// A provider: its own block, and the resources and data sources it serves.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// What `configure` builds and every operation receives (clients, settings).
    type Context: Send + Sync + 'static;

    /// The provider block's schema.
    fn schema(&self) -> Schema;
    /// Checks the provider block without network access.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Builds the context from the provider block.
    async fn configure(&self, config: &Value) -> Result<Self::Context, Diagnostics>;
    /// The resources, each with a unique type name.
    fn resources(&self) -> Vec<Arc<dyn Resource<Self::Context>>>;
    /// The data sources, each with a unique type name.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Self::Context>>>;
    /// The list resources (`terraform query`), each named like the managed resource it finds.
    fn list_resources(&self) -> Vec<Arc<dyn ListResource<Self::Context>>> {
        Vec::new()
    }
    /// The actions (`terraform apply -invoke=action.<type>.<name>`).
    fn actions(&self) -> Vec<Arc<dyn Action<Self::Context>>> {
        Vec::new()
    }
}

/// What a resource sees when Terraform plans a change.
pub struct PlanRequest<'a> {
    /// The resource's schema (built once per provider process).
    pub schema: &'a Schema,
    /// Prior state; `Null` on create.
    pub prior: &'a Value,
    /// Terraform's proposed new state; `Null` on destroy.
    pub proposed: &'a Value,
    /// The configuration as written (unknowns where not yet known).
    pub config: &'a Value,
    /// Private data stored with the prior state.
    pub prior_private: &'a Private,
}

/// A planned change, as the resource may adjust it.
pub struct Plan {
    /// The planned new state.
    pub planned: Value,
    /// Attributes whose change forces replacement.
    pub requires_replace: Vec<AttrPath>,
    /// Private data handed to apply.
    pub private: Private,
}

/// What create, update and delete receive: the states, the configuration and the private data
/// planned with them (work the plan decided can travel there instead of in an attribute).
pub struct ApplyRequest<'a> {
    /// Prior state; `Null` on create.
    pub prior: &'a Value,
    /// The planned new state; `Null` on delete.
    pub planned: &'a Value,
    /// The configuration; `Null` on delete.
    pub config: &'a Value,
    /// Private data from the plan.
    pub private: &'a Private,
    /// Warnings to show beside the result, whether the apply succeeds or fails.
    pub notes: &'a Notes,
}

/// Warnings an apply reports beside its result (a default VPC left in place because it is in
/// use, say): Terraform prints them after the apply.
#[derive(Debug, Default)]
pub struct Notes(std::sync::Mutex<Diagnostics>);

impl Notes {
    /// Adds a diagnostic.
    pub fn push(&self, d: super::Diagnostic) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(d);
    }

    /// Everything pushed so far.
    pub fn take(&self) -> Diagnostics {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// What a refresh receives: the state and its private data.
pub struct ReadRequest<'a> {
    /// The state Terraform holds.
    pub state: &'a Value,
    /// Private data stored with it.
    pub private: &'a Private,
}

/// A failed create or update: diagnostics and, if something was already made, the state to keep.
#[derive(Debug)]
pub struct Failed {
    /// What went wrong.
    pub diags: Diagnostics,
    /// State to save (Terraform marks a created resource tainted), or `None` to keep the prior state.
    pub partial: Option<Value>,
}

impl From<Diagnostics> for Failed {
    fn from(diags: Diagnostics) -> Self {
        Failed { diags, partial: None }
    }
}

/// One resource type.
#[async_trait]
pub trait Resource<C: Send + Sync>: Send + Sync {
    /// The type name, e.g. `aft_account_provisioning`.
    fn type_name(&self) -> &'static str;
    /// The resource schema.
    fn schema(&self) -> Schema;
    /// The identity schema, if the resource supports identity.
    fn identity_schema(&self) -> Option<IdentitySchema> {
        None
    }
    /// The identity of a state value (required when `identity_schema` is `Some`).
    fn identity(&self, _state: &Value) -> Option<Value> {
        None
    }
    /// Checks the configuration without network access.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Adjusts the default plan (unknown computed values on create, replacement of `force_new`).
    async fn modify_plan(&self, _ctx: Option<&C>, _req: &PlanRequest<'_>, _plan: &mut Plan) -> Diagnostics {
        Diagnostics::new()
    }
    /// Creates the object; returns the new state.
    async fn create(&self, ctx: &C, req: &ApplyRequest<'_>) -> Result<Value, Failed>;
    /// Refreshes the state; `None` when the object is gone.
    async fn read(&self, ctx: &C, req: &ReadRequest<'_>) -> Result<Option<Value>, Diagnostics>;
    /// Warnings a refreshed state deserves (e.g. an object changed outside Terraform in a way
    /// no apply can repair); shown with the refresh.
    fn refresh_warnings(&self, _state: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Applies an in-place update; returns the new state.
    async fn update(&self, ctx: &C, req: &ApplyRequest<'_>) -> Result<Value, Failed>;
    /// Deletes the object.
    async fn delete(&self, ctx: &C, req: &ApplyRequest<'_>) -> Result<(), Diagnostics>;
    /// Imports by id; returns the state to read.
    async fn import(&self, _ctx: &C, _id: &str) -> Result<Value, Diagnostics> {
        Err(super::diagnostics::Diagnostic::error(
            "Import is not supported",
            format!("{} cannot be imported.", self.type_name()),
        )
        .into())
    }
    /// Imports by identity; by default the identity's first attribute is used as the id.
    async fn import_identity(&self, ctx: &C, identity: &Value) -> Result<Value, Diagnostics> {
        let id = match identity {
            Value::Object(m) => m.values().find_map(|v| v.as_str().map(str::to_string)),
            _ => None,
        };
        match id {
            Some(id) => self.import(ctx, &id).await,
            None => Err(super::diagnostics::Diagnostic::error("Invalid identity", "The identity has no id.").into()),
        }
    }
}

/// One data source type.
#[async_trait]
pub trait DataSource<C: Send + Sync>: Send + Sync {
    /// The type name, e.g. `aft_account`.
    fn type_name(&self) -> &'static str;
    /// The data source schema.
    fn schema(&self) -> Schema;
    /// Checks the configuration without network access.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Reads the data.
    async fn read(&self, ctx: &C, config: &Value) -> Result<Value, Diagnostics>;
}

/// One object a list resource found.
#[derive(Clone, Debug)]
pub struct Listed {
    /// The identity, in the managed resource's identity schema.
    pub identity: Value,
    /// What `terraform query` shows for it.
    pub display_name: String,
    /// The object in the managed resource's schema (sent when Terraform asks for it).
    pub object: Value,
}

/// A list resource: finds existing objects of a managed resource type for `terraform query`.
#[async_trait]
pub trait ListResource<C: Send + Sync>: Send + Sync {
    /// The managed resource type it lists (the names must match).
    fn type_name(&self) -> &'static str;
    /// The schema of the `config` block of a `list` block.
    fn schema(&self) -> Schema;
    /// Checks the configuration without network access.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Finds at most `limit` objects.
    async fn list(&self, ctx: &C, config: &Value, limit: usize) -> Result<Vec<Listed>, Diagnostics>;
    /// What the server calls: [`ListResource::list`], told whether Terraform asked for the objects
    /// (`include_resource`), so a list resource whose objects cost AWS calls can skip them (an
    /// object left [`Value::Null`] is never sent when they were not asked for).
    async fn list_found(
        &self,
        ctx: &C,
        config: &Value,
        limit: usize,
        include_resource: bool,
    ) -> Result<Vec<Listed>, Diagnostics> {
        let _ = include_resource;
        self.list(ctx, config, limit).await
    }
}

/// Where an action reports progress while it runs (each message reaches the CLI as it happens).
#[derive(Clone)]
pub struct Progress(pub(crate) tokio::sync::mpsc::UnboundedSender<String>);

impl Progress {
    /// Reports one line of progress.
    pub fn say(&self, message: impl Into<String>) {
        let _ = self.0.send(message.into());
    }

    /// A sink that prints nowhere (for tests of action logic).
    pub fn discard() -> Self {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        Progress(tx)
    }
}

/// An action: an operation `terraform apply -invoke` runs without changing state.
#[async_trait]
pub trait Action<C: Send + Sync>: Send + Sync {
    /// The action type, e.g. `aft_invoke_customizations`.
    fn type_name(&self) -> &'static str;
    /// The schema of the action's `config` block.
    fn schema(&self) -> Schema;
    /// Checks the configuration without network access.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Checks what can be checked at plan time (the provider may not be configured yet).
    async fn plan(&self, _ctx: Option<&C>, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Runs the action, reporting progress; the diagnostics are its outcome.
    async fn invoke(&self, ctx: &C, config: &Value, progress: Progress) -> Diagnostics;
}
