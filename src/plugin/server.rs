//! RPC dispatch: the tonic service that turns protocol messages into calls on a [`Provider`].
//!
//! Every request's DynamicValues are decoded with the right schema type; every failure becomes a
//! diagnostic (never a panic or a bare gRPC error), and responses are encoded the same way.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::RwLock;
use tonic::{Request, Response, Status};

use super::diagnostics::{AttrPath, Diagnostic, Diagnostics};
use super::plan::default_plan;
use super::proto::tfplugin6 as pb;
use super::schema::Schema;
use super::traits::{Action, DataSource, ListResource, Plan, PlanRequest, Private, Progress, Provider, Resource};
use super::value::{self, Type, Value};

struct ResourceEntry<C> {
    imp: Arc<dyn Resource<C>>,
    schema: Schema,
    ty: Type,
}

struct DataEntry<C> {
    imp: Arc<dyn DataSource<C>>,
    schema: Schema,
    ty: Type,
}

/// A server stream as tonic's generated service expects it.
type BoxStream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

struct ListEntry<C> {
    imp: Arc<dyn ListResource<C>>,
    schema: Schema,
    ty: Type,
}

struct ActionEntry<C> {
    imp: Arc<dyn Action<C>>,
    schema: Schema,
    ty: Type,
}

/// The protocol server for one provider process.
pub struct ProviderService<P: Provider> {
    provider: Arc<P>,
    schema: Schema,
    ctx: RwLock<Option<Arc<P::Context>>>,
    resources: HashMap<&'static str, ResourceEntry<P::Context>>,
    data_sources: HashMap<&'static str, DataEntry<P::Context>>,
    lists: HashMap<&'static str, ListEntry<P::Context>>,
    actions: HashMap<&'static str, ActionEntry<P::Context>>,
}

impl<P: Provider> ProviderService<P> {
    /// Builds the dispatch tables from the provider's declarations.
    pub fn new(provider: P) -> Self {
        let resources = provider
            .resources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.cty();
                (imp.type_name(), ResourceEntry { imp, schema, ty })
            })
            .collect();
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.cty();
                (imp.type_name(), DataEntry { imp, schema, ty })
            })
            .collect();
        let lists = provider
            .list_resources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.cty();
                (imp.type_name(), ListEntry { imp, schema, ty })
            })
            .collect();
        let actions = provider
            .actions()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.cty();
                (imp.type_name(), ActionEntry { imp, schema, ty })
            })
            .collect();
        ProviderService {
            schema: provider.schema(),
            lists,
            actions,
            provider: Arc::new(provider),
            ctx: RwLock::new(None),
            resources,
            data_sources,
        }
    }

    fn resource(&self, name: &str) -> Result<&ResourceEntry<P::Context>, Diagnostics> {
        self.resources.get(name).ok_or_else(|| {
            Diagnostic::error("Unknown resource type", format!("This provider has no resource {name:?}.")).into()
        })
    }

    fn data_source(&self, name: &str) -> Result<&DataEntry<P::Context>, Diagnostics> {
        self.data_sources.get(name).ok_or_else(|| {
            Diagnostic::error("Unknown data source type", format!("This provider has no data source {name:?}.")).into()
        })
    }

    fn list(&self, name: &str) -> Result<&ListEntry<P::Context>, Diagnostics> {
        self.lists.get(name).ok_or_else(|| {
            Diagnostic::error("Unknown list resource type", format!("This provider has no list resource {name:?}."))
                .into()
        })
    }

    fn action(&self, name: &str) -> Result<&ActionEntry<P::Context>, Diagnostics> {
        self.actions.get(name).ok_or_else(|| {
            Diagnostic::error("Unknown action type", format!("This provider has no action {name:?}.")).into()
        })
    }

    async fn context(&self) -> Result<Arc<P::Context>, Diagnostics> {
        self.ctx.read().await.clone().ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "The provider was used before Terraform configured it; this is a bug in the provider or Terraform.",
            )
            .into()
        })
    }
}

/// Decodes a DynamicValue (msgpack, or JSON when only JSON is set).
fn decode(dv: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostics> {
    let Some(dv) = dv else { return Ok(Value::Null) };
    let r = if !dv.msgpack.is_empty() {
        value::from_msgpack(&dv.msgpack, ty)
    } else if !dv.json.is_empty() {
        value::from_json(&dv.json, ty)
    } else {
        Ok(Value::Null)
    };
    r.map_err(|e| Diagnostic::error("Invalid value from Terraform", e.message).into())
}

fn encode(v: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostics> {
    value::to_msgpack(v, ty)
        .map(|msgpack| pb::DynamicValue { msgpack, json: Vec::new() })
        .map_err(|e| Diagnostic::error("Provider produced an invalid value", e.message).into())
}

fn decode_private(b: &[u8]) -> Private {
    serde_json::from_slice(b).unwrap_or_default()
}

fn encode_private(p: &Private) -> Vec<u8> {
    if p.is_empty() { Vec::new() } else { serde_json::to_vec(p).unwrap_or_default() }
}

fn identity_data(v: Option<Value>, ty: &Type) -> Option<pb::ResourceIdentityData> {
    let v = v?;
    value::to_msgpack(&v, ty)
        .ok()
        .map(|msgpack| pb::ResourceIdentityData { identity_data: Some(pb::DynamicValue { msgpack, json: Vec::new() }) })
}

/// What a panic in provider code turns into: an error diagnostic in the RPC's own result type.
trait FromPanic {
    fn from_panic(d: Diagnostics) -> Self;
}

impl<T> FromPanic for Result<T, Diagnostics> {
    fn from_panic(d: Diagnostics) -> Self {
        Err(d)
    }
}

impl<T> FromPanic for Result<T, super::traits::Failed> {
    fn from_panic(d: Diagnostics) -> Self {
        Err(d.into())
    }
}

impl FromPanic for Diagnostics {
    fn from_panic(d: Diagnostics) -> Self {
        d
    }
}

/// Runs provider code for an RPC. A panic inside it becomes an error diagnostic naming the RPC,
/// instead of a task that dies and a plugin connection that Terraform sees dropped.
async fn guarded<O: FromPanic>(rpc: &str, f: impl std::future::Future<Output = O>) -> O {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(f).catch_unwind().await {
        Ok(out) => out,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            tracing::error!(rpc, panic = %what, "provider code panicked");
            O::from_panic(
                Diagnostic::error(
                    "The provider hit an internal error",
                    format!("{rpc} panicked: {what}. This is a bug in terraform-provider-aft: please report it. What the call did before the panic is in AWS; the next plan reads it."),
                )
                .into(),
            )
        }
    }
}

/// Runs a fallible step and turns its diagnostics into the response's diagnostics field.
macro_rules! tri {
    ($e:expr, $diags:ident, $resp:expr) => {
        match $e {
            Ok(v) => v,
            Err(d) => {
                $diags.extend(d);
                return Ok(Response::new($resp));
            }
        }
    };
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        _r: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: self
                .resources
                .keys()
                .map(|k| pb::get_metadata::ResourceMetadata { type_name: (*k).to_string() })
                .collect(),
            data_sources: self
                .data_sources
                .keys()
                .map(|k| pb::get_metadata::DataSourceMetadata { type_name: (*k).to_string() })
                .collect(),
            list_resources: self
                .lists
                .keys()
                .map(|k| pb::get_metadata::ListResourceMetadata { type_name: (*k).to_string() })
                .collect(),
            actions: self
                .actions
                .keys()
                .map(|k| pb::get_metadata::ActionMetadata { type_name: (*k).to_string() })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _r: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(self.schema.to_proto()),
            resource_schemas: self.resources.iter().map(|(k, e)| ((*k).to_string(), e.schema.to_proto())).collect(),
            data_source_schemas: self
                .data_sources
                .iter()
                .map(|(k, e)| ((*k).to_string(), e.schema.to_proto()))
                .collect(),
            list_resource_schemas: self.lists.iter().map(|(k, e)| ((*k).to_string(), e.schema.to_proto())).collect(),
            action_schemas: self
                .actions
                .iter()
                .map(|(k, e)| ((*k).to_string(), pb::ActionSchema { schema: Some(e.schema.to_proto()) }))
                .collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _r: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        Ok(Response::new(pb::get_resource_identity_schemas::Response {
            identity_schemas: self
                .resources
                .iter()
                .filter_map(|(k, e)| e.imp.identity_schema().map(|s| ((*k).to_string(), s.to_proto())))
                .collect(),
            diagnostics: Vec::new(),
        }))
    }

    async fn validate_provider_config(
        &self,
        r: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let r = r.into_inner();
        let diags = match decode(r.config.as_ref(), &self.schema.cty()) {
            Ok(cfg) => self.provider.validate(&cfg),
            Err(d) => d,
        };
        Ok(Response::new(pb::validate_provider_config::Response { diagnostics: diags.to_proto() }))
    }

    async fn validate_resource_config(
        &self,
        r: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let r = r.into_inner();
        let diags = match self.resource(&r.type_name) {
            Ok(e) => match decode(r.config.as_ref(), &e.ty) {
                Ok(cfg) => e.imp.validate(&cfg),
                Err(d) => d,
            },
            Err(d) => d,
        };
        Ok(Response::new(pb::validate_resource_config::Response { diagnostics: diags.to_proto() }))
    }

    async fn validate_data_resource_config(
        &self,
        r: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let r = r.into_inner();
        let diags = match self.data_source(&r.type_name) {
            Ok(e) => match decode(r.config.as_ref(), &e.ty) {
                Ok(cfg) => e.imp.validate(&cfg),
                Err(d) => d,
            },
            Err(d) => d,
        };
        Ok(Response::new(pb::validate_data_resource_config::Response { diagnostics: diags.to_proto() }))
    }

    async fn configure_provider(
        &self,
        r: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let r = r.into_inner();
        let mut diags = Diagnostics::new();
        let cfg = tri!(
            decode(r.config.as_ref(), &self.schema.cty()),
            diags,
            pb::configure_provider::Response { diagnostics: diags.to_proto() }
        );
        match guarded("ConfigureProvider", self.provider.configure(&cfg)).await {
            Ok(ctx) => *self.ctx.write().await = Some(Arc::new(ctx)),
            Err(d) => diags.extend(d),
        }
        Ok(Response::new(pb::configure_provider::Response { diagnostics: diags.to_proto() }))
    }

    async fn upgrade_resource_state(
        &self,
        r: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let r = r.into_inner();
        let mut diags = Diagnostics::new();
        let mut resp = pb::upgrade_resource_state::Response::default();
        let e = tri!(self.resource(&r.type_name), diags, resp);
        let raw = r.raw_state.map(|s| s.json).unwrap_or_default();
        // JSON state of any earlier version decodes into the current schema: new attributes
        // start null and removed ones are dropped.
        let v = tri!(
            value::from_json(&raw, &e.ty)
                .map_err(|e| Diagnostics::from(Diagnostic::error("Invalid stored state", e.message))),
            diags,
            pb::upgrade_resource_state::Response { diagnostics: diags.to_proto(), ..Default::default() }
        );
        match encode(&v, &e.ty) {
            Ok(dv) => resp.upgraded_state = Some(dv),
            Err(d) => diags.extend(d),
        }
        resp.diagnostics = diags.to_proto();
        Ok(Response::new(resp))
    }

    async fn upgrade_resource_identity(
        &self,
        r: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        let r = r.into_inner();
        let mut diags = Diagnostics::new();
        let e = tri!(
            self.resource(&r.type_name),
            diags,
            pb::upgrade_resource_identity::Response { diagnostics: diags.to_proto(), ..Default::default() }
        );
        let Some(schema) = e.imp.identity_schema() else {
            diags.push(Diagnostic::error("Identity not supported", r.type_name));
            return Ok(Response::new(pb::upgrade_resource_identity::Response {
                diagnostics: diags.to_proto(),
                ..Default::default()
            }));
        };
        let ty = schema.cty();
        let raw = r.raw_identity.map(|s| s.json).unwrap_or_default();
        let v = value::from_json(&raw, &ty).unwrap_or(Value::Null);
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            upgraded_identity: identity_data(Some(v), &ty),
            diagnostics: diags.to_proto(),
        }))
    }

    async fn read_resource(
        &self,
        r: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let r = r.into_inner();
        let mut diags = Diagnostics::new();
        let fail = |d: &Diagnostics, r: &pb::read_resource::Request| pb::read_resource::Response {
            new_state: r.current_state.clone(),
            private: r.private.clone(),
            diagnostics: d.to_proto(),
            ..Default::default()
        };
        let e = match self.resource(&r.type_name) {
            Ok(e) => e,
            Err(d) => return Ok(Response::new(fail(&d, &r))),
        };
        let state = match decode(r.current_state.as_ref(), &e.ty) {
            Ok(v) => v,
            Err(d) => return Ok(Response::new(fail(&d, &r))),
        };
        let ctx = match self.context().await {
            Ok(c) => c,
            Err(d) => return Ok(Response::new(fail(&d, &r))),
        };
        match guarded("ReadResource", e.imp.read(&ctx, &state)).await {
            Ok(new) => {
                let new = new.unwrap_or(Value::Null);
                if !new.is_null() {
                    diags.extend(e.imp.refresh_warnings(&new));
                }
                let id = if new.is_null() { None } else { e.imp.identity(&new) };
                let id_ty = e.imp.identity_schema().map(|s| s.cty());
                match encode(&new, &e.ty) {
                    Ok(dv) => Ok(Response::new(pb::read_resource::Response {
                        new_state: Some(dv),
                        private: r.private.clone(),
                        diagnostics: diags.to_proto(),
                        new_identity: id_ty.and_then(|t| identity_data(id, &t)),
                        ..Default::default()
                    })),
                    Err(d) => Ok(Response::new(fail(&d, &r))),
                }
            }
            Err(d) => {
                diags.extend(d);
                Ok(Response::new(fail(&diags, &r)))
            }
        }
    }

    async fn plan_resource_change(
        &self,
        r: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let r = r.into_inner();
        let mut diags = Diagnostics::new();
        macro_rules! bail {
            () => {
                pb::plan_resource_change::Response { diagnostics: diags.to_proto(), ..Default::default() }
            };
        }
        let e = tri!(self.resource(&r.type_name), diags, bail!());
        let prior = tri!(decode(r.prior_state.as_ref(), &e.ty), diags, bail!());
        let proposed = tri!(decode(r.proposed_new_state.as_ref(), &e.ty), diags, bail!());
        let config = tri!(decode(r.config.as_ref(), &e.ty), diags, bail!());
        let prior_private = decode_private(&r.prior_private);
        let (planned, requires_replace) = default_plan(&e.schema, &prior, &proposed);
        let mut plan = Plan { planned, requires_replace, private: prior_private.clone() };
        let ctx = self.ctx.read().await.clone();
        let req = PlanRequest {
            schema: &e.schema,
            prior: &prior,
            proposed: &proposed,
            config: &config,
            prior_private: &prior_private,
        };
        diags.extend(guarded("PlanResourceChange", e.imp.modify_plan(ctx.as_deref(), &req, &mut plan)).await);
        if diags.has_errors() {
            return Ok(Response::new(bail!()));
        }
        let planned_state = tri!(encode(&plan.planned, &e.ty), diags, bail!());
        let id_ty = e.imp.identity_schema().map(|s| s.cty());
        let planned_identity = if plan.planned.is_null() || plan.planned.contains_unknown() && prior.is_null() {
            None
        } else {
            id_ty.and_then(|t| identity_data(e.imp.identity(&plan.planned).or_else(|| e.imp.identity(&prior)), &t))
        };
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: Some(planned_state),
            requires_replace: plan.requires_replace.iter().map(AttrPath::to_proto).collect(),
            planned_private: encode_private(&plan.private),
            diagnostics: diags.to_proto(),
            planned_identity,
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        r: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let r = r.into_inner();
        let mut diags = Diagnostics::new();
        macro_rules! bail {
            () => {
                pb::apply_resource_change::Response {
                    new_state: r.prior_state.clone(),
                    diagnostics: diags.to_proto(),
                    ..Default::default()
                }
            };
        }
        let e = tri!(self.resource(&r.type_name), diags, bail!());
        let prior = tri!(decode(r.prior_state.as_ref(), &e.ty), diags, bail!());
        let planned = tri!(decode(r.planned_state.as_ref(), &e.ty), diags, bail!());
        let config = tri!(decode(r.config.as_ref(), &e.ty), diags, bail!());
        let private = decode_private(&r.planned_private);
        let ctx = tri!(self.context().await, diags, bail!());
        let new_private = private.clone();
        let new_state = if planned.is_null() {
            match guarded("ApplyResourceChange", e.imp.delete(&ctx, &prior, &private)).await {
                Ok(()) => Value::Null,
                Err(d) => {
                    diags.extend(d);
                    return Ok(Response::new(bail!()));
                }
            }
        } else {
            let result = if prior.is_null() {
                guarded("ApplyResourceChange", e.imp.create(&ctx, &planned, &config)).await
            } else {
                guarded("ApplyResourceChange", e.imp.update(&ctx, &prior, &planned, &config)).await
            };
            match result {
                Ok(v) => v,
                Err(f) => {
                    diags.extend(f.diags);
                    match f.partial {
                        // a create that made something: keep it in state (Terraform taints it)
                        Some(p) => p,
                        None => return Ok(Response::new(bail!())),
                    }
                }
            }
        };
        let id_ty = e.imp.identity_schema().map(|s| s.cty());
        let new_identity = if new_state.is_null() { None } else { e.imp.identity(&new_state) };
        match encode(&new_state, &e.ty) {
            Ok(dv) => Ok(Response::new(pb::apply_resource_change::Response {
                new_state: Some(dv),
                private: encode_private(&new_private),
                diagnostics: diags.to_proto(),
                new_identity: id_ty.and_then(|t| identity_data(new_identity, &t)),
                ..Default::default()
            })),
            Err(d) => {
                diags.extend(d);
                Ok(Response::new(bail!()))
            }
        }
    }

    async fn import_resource_state(
        &self,
        r: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let r = r.into_inner();
        let mut diags = Diagnostics::new();
        macro_rules! bail {
            () => {
                pb::import_resource_state::Response { diagnostics: diags.to_proto(), ..Default::default() }
            };
        }
        let e = tri!(self.resource(&r.type_name), diags, bail!());
        let ctx = tri!(self.context().await, diags, bail!());
        let id_schema = e.imp.identity_schema();
        let state = match (&r.identity, &id_schema) {
            (Some(idd), Some(s)) if r.id.is_empty() => {
                let ident = tri!(decode(idd.identity_data.as_ref(), &s.cty()), diags, bail!());
                tri!(guarded("ImportResourceState", e.imp.import_identity(&ctx, &ident)).await, diags, bail!())
            }
            _ => tri!(guarded("ImportResourceState", e.imp.import(&ctx, &r.id)).await, diags, bail!()),
        };
        let dv = tri!(encode(&state, &e.ty), diags, bail!());
        let identity = id_schema.and_then(|s| identity_data(e.imp.identity(&state), &s.cty()));
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: vec![pb::import_resource_state::ImportedResource {
                type_name: r.type_name.clone(),
                state: Some(dv),
                private: Vec::new(),
                identity,
            }],
            diagnostics: diags.to_proto(),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        r: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let r = r.into_inner();
        let mut diags = Diagnostics::new();
        macro_rules! bail {
            () => {
                pb::read_data_source::Response { diagnostics: diags.to_proto(), ..Default::default() }
            };
        }
        let e = tri!(self.data_source(&r.type_name), diags, bail!());
        let config = tri!(decode(r.config.as_ref(), &e.ty), diags, bail!());
        let ctx = tri!(self.context().await, diags, bail!());
        let state = tri!(guarded("ReadDataSource", e.imp.read(&ctx, &config)).await, diags, bail!());
        let dv = tri!(encode(&state, &e.ty), diags, bail!());
        Ok(Response::new(pb::read_data_source::Response {
            state: Some(dv),
            diagnostics: diags.to_proto(),
            ..Default::default()
        }))
    }

    async fn generate_resource_config(
        &self,
        r: Request<pb::generate_resource_config::Request>,
    ) -> Result<Response<pb::generate_resource_config::Response>, Status> {
        let r = r.into_inner();
        let mut diags = Diagnostics::new();
        macro_rules! bail {
            () => {
                pb::generate_resource_config::Response { diagnostics: diags.to_proto(), ..Default::default() }
            };
        }
        let e = tri!(self.resource(&r.type_name), diags, bail!());
        let state = tri!(decode(r.state.as_ref(), &e.ty), diags, bail!());
        let config = super::plan::config_of_state(&e.schema, &state);
        let dv = tri!(encode(&config, &e.ty), diags, bail!());
        Ok(Response::new(pb::generate_resource_config::Response { config: Some(dv), diagnostics: diags.to_proto() }))
    }

    async fn validate_list_resource_config(
        &self,
        r: Request<pb::validate_list_resource_config::Request>,
    ) -> Result<Response<pb::validate_list_resource_config::Response>, Status> {
        let r = r.into_inner();
        let diags = match self.list(&r.type_name) {
            Ok(e) => match decode(r.config.as_ref(), &list_request_type(&e.ty)) {
                Ok(cfg) => e.imp.validate(list_config(&cfg)),
                Err(d) => d,
            },
            Err(d) => d,
        };
        Ok(Response::new(pb::validate_list_resource_config::Response { diagnostics: diags.to_proto() }))
    }

    async fn list_resource(
        &self,
        r: Request<pb::list_resource::Request>,
    ) -> Result<Response<BoxStream<pb::list_resource::Event>>, Status> {
        let r = r.into_inner();
        let failed = |d: Diagnostics| {
            let ev = pb::list_resource::Event { diagnostic: d.to_proto(), ..Default::default() };
            Response::new(Box::pin(futures::stream::iter([Ok(ev)])) as BoxStream<_>)
        };
        let (list, res) = match (self.list(&r.type_name), self.resource(&r.type_name)) {
            (Ok(l), Ok(e)) => (l, e),
            (Err(d), _) | (_, Err(d)) => return Ok(failed(d)),
        };
        let Some(id_ty) = res.imp.identity_schema().map(|s| s.cty()) else {
            return Ok(failed(Diagnostic::error("Identity not supported", r.type_name).into()));
        };
        let cfg = match decode(r.config.as_ref(), &list_request_type(&list.ty)) {
            Ok(c) => c,
            Err(d) => return Ok(failed(d)),
        };
        let ctx = match self.context().await {
            Ok(c) => c,
            Err(d) => return Ok(failed(d)),
        };
        let limit = usize::try_from(r.limit).ok().filter(|l| *l > 0).unwrap_or(usize::MAX);
        let found = match guarded("ListResource", list.imp.list(&ctx, list_config(&cfg), limit)).await {
            Ok(f) => f,
            Err(d) => return Ok(failed(d)),
        };
        let mut events = Vec::with_capacity(found.len());
        for item in found.into_iter().take(limit) {
            let mut ev = pb::list_resource::Event {
                identity: identity_data(Some(item.identity), &id_ty),
                display_name: item.display_name,
                ..Default::default()
            };
            if r.include_resource_object {
                match encode(&item.object, &res.ty) {
                    Ok(dv) => ev.resource_object = Some(dv),
                    Err(d) => ev.diagnostic = d.to_proto(),
                }
            }
            events.push(Ok(ev));
        }
        Ok(Response::new(Box::pin(futures::stream::iter(events))))
    }

    async fn validate_action_config(
        &self,
        r: Request<pb::validate_action_config::Request>,
    ) -> Result<Response<pb::validate_action_config::Response>, Status> {
        let r = r.into_inner();
        let diags = match self.action(&r.type_name) {
            Ok(e) => match decode(r.config.as_ref(), &e.ty) {
                Ok(cfg) => e.imp.validate(&cfg),
                Err(d) => d,
            },
            Err(d) => d,
        };
        Ok(Response::new(pb::validate_action_config::Response { diagnostics: diags.to_proto() }))
    }

    async fn plan_action(
        &self,
        r: Request<pb::plan_action::Request>,
    ) -> Result<Response<pb::plan_action::Response>, Status> {
        let r = r.into_inner();
        let mut diags = Diagnostics::new();
        let e = tri!(
            self.action(&r.action_type),
            diags,
            pb::plan_action::Response { diagnostics: diags.to_proto(), ..Default::default() }
        );
        let cfg = tri!(
            decode(r.config.as_ref(), &e.ty),
            diags,
            pb::plan_action::Response { diagnostics: diags.to_proto(), ..Default::default() }
        );
        let ctx = self.ctx.read().await.clone();
        diags.extend(guarded("PlanAction", e.imp.plan(ctx.as_deref(), &cfg)).await);
        Ok(Response::new(pb::plan_action::Response { diagnostics: diags.to_proto(), ..Default::default() }))
    }

    async fn invoke_action(
        &self,
        r: Request<pb::invoke_action::Request>,
    ) -> Result<Response<BoxStream<pb::invoke_action::Event>>, Status> {
        use pb::invoke_action::event;
        let r = r.into_inner();
        let completed = |d: Diagnostics| pb::invoke_action::Event {
            r#type: Some(event::Type::Completed(event::Completed { diagnostics: d.to_proto() })),
        };
        let prepared = async {
            let e = self.action(&r.action_type)?;
            let cfg = decode(r.config.as_ref(), &e.ty)?;
            let ctx = self.context().await?;
            Ok::<_, Diagnostics>((e.imp.clone(), cfg, ctx))
        };
        let (imp, cfg, ctx) = match prepared.await {
            Ok(p) => p,
            Err(d) => return Ok(Response::new(Box::pin(futures::stream::iter([Ok(completed(d))])))),
        };
        // Progress lines stream to Terraform while the action runs; the outcome closes the stream.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel();
        let progress_out = out_tx.clone();
        let forward = tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                let ev = pb::invoke_action::Event { r#type: Some(event::Type::Progress(event::Progress { message })) };
                let _ = progress_out.send(Ok(ev));
            }
        });
        tokio::spawn(async move {
            let diags = guarded("InvokeAction", imp.invoke(&ctx, &cfg, Progress(tx))).await;
            let _ = forward.await;
            let _ = out_tx.send(Ok(completed(diags)));
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::UnboundedReceiverStream::new(out_rx))))
    }

    async fn stop_provider(
        &self,
        _r: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        tracing::info!("StopProvider received: ending long waits");
        super::stop::global().request();
        Ok(Response::new(pb::stop_provider::Response::default()))
    }
}

/// The object type Terraform sends for a `list` block, given the type of its `config` block.
fn list_request_type(config_ty: &Type) -> Type {
    config_ty.clone()
}

/// The `config` block's value within what Terraform sent for a `list` block.
fn list_config(v: &Value) -> &Value {
    v
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        // The schema never changes within a binary: Terraform may reuse the one it fetched first.
        get_provider_schema_optional: true,
        generate_resource_config: true,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_inside_an_rpc_becomes_an_error_diagnostic() {
        let out: Result<u8, Diagnostics> = guarded("ReadResource", async {
            let v: Vec<u8> = Vec::new();
            // an index out of bounds, as a bug would have it
            if v.is_empty() {
                panic!("index out of bounds: the len is {} but the index is 3", v.len());
            }
            Ok(v[3])
        })
        .await;
        let d = out.unwrap_err();
        assert!(d.has_errors());
        assert_eq!(d.0[0].summary, "The provider hit an internal error");
        assert!(d.0[0].detail.contains("ReadResource panicked: index out of bounds"), "{}", d.0[0].detail);
        // and code that does not panic is untouched
        let fine: Diagnostics = guarded("PlanResourceChange", async { Diagnostics::new() }).await;
        assert!(fine.is_empty());
    }
}
