//! The protocol server: tonic's generated service, turned into calls on a [`Provider`].
//!
//! Split the way terraform-plugin-go splits it: [`registry`] holds what is served by type name,
//! [`codec`] the encodings at the edge, [`guard`] the panic guard, and one small handler per RPC
//! in the file of its kind (`provider_rpcs`, `resource`, `data_source`, `list`, `action`). Every
//! handler returns `Result<Response, Diagnostics>`; [`answer`] turns an `Err` into that RPC's
//! failure response carrying the diagnostics, so no failure is ever lost or a bare gRPC error.
//! The go-plugin transport is `super::transport`.

mod action;
mod codec;
mod data_source;
mod guard;
mod list;
mod provider_rpcs;
mod registry;
mod resource;
#[cfg(test)]
mod tests;

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::RwLock;
use tonic::{Request, Response, Status};

use super::diagnostics::{Diagnostic, Diagnostics};
use super::proto::tfplugin6 as pb;
use super::schema::Schema;
use super::traits::Provider;
use super::value::Type;
use registry::Registry;

/// A server stream as tonic's generated service expects it.
type BoxStream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The protocol server for one provider process.
pub struct ProviderService<P: Provider> {
    provider: Arc<P>,
    schema: Schema,
    /// The provider block's type.
    ty: Type,
    ctx: RwLock<Option<Arc<P::Context>>>,
    registry: Registry<P::Context>,
}

impl<P: Provider> ProviderService<P> {
    /// Builds the dispatch tables from the provider's declarations.
    pub fn new(provider: P) -> Self {
        let schema = provider.schema();
        ProviderService {
            ty: schema.cty(),
            schema,
            registry: Registry::of(&provider),
            provider: Arc::new(provider),
            ctx: RwLock::new(None),
        }
    }

    /// The configured provider's context, once ConfigureProvider has run.
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

/// The response an RPC gives when its handler failed as a whole: the diagnostics, and whatever
/// the protocol asks to keep from the request (a read keeps the current state, an apply the prior).
trait Failure<Req> {
    fn failed(req: &Req, diags: Diagnostics) -> Self;
}

/// Implements [`Failure`] for responses that carry only diagnostics when they fail.
macro_rules! diagnostics_only {
    ($($rpc:ident),* $(,)?) => {$(
        impl Failure<pb::$rpc::Request> for pb::$rpc::Response {
            // some of these responses carry nothing but diagnostics
            #[allow(clippy::needless_update)]
            fn failed(_req: &pb::$rpc::Request, diags: Diagnostics) -> Self {
                pb::$rpc::Response { diagnostics: diags.to_proto(), ..Default::default() }
            }
        }
    )*};
}
use diagnostics_only;

/// The one wrapper every unary handler goes through.
fn answer<Req, Resp: Failure<Req>>(req: &Req, out: Result<Resp, Diagnostics>) -> Result<Response<Resp>, Status> {
    Ok(Response::new(out.unwrap_or_else(|d| Resp::failed(req, d))))
}

/// The shape of every Validate*Config RPC: the type's entry, its configuration decoded with the
/// type's schema, and the type's own checks of it.
fn validate_with<T: ?Sized>(
    table: &registry::Table<T>,
    name: &str,
    config: Option<&pb::DynamicValue>,
    check: impl Fn(&T, &super::value::Value) -> Diagnostics,
) -> Result<Vec<pb::Diagnostic>, Diagnostics> {
    let e = table.get(name)?;
    let cfg = codec::decode(config, &e.ty)?;
    Ok(check(&e.imp, &cfg).to_proto())
}

/// A one-event stream for a streaming RPC that failed before it started.
fn failed_stream<T: Send + 'static>(event: T) -> Response<BoxStream<T>> {
    Response::new(Box::pin(futures::stream::iter([Ok(event)])))
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        r: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        answer(r.get_ref(), Ok(self.metadata()))
    }

    async fn get_provider_schema(
        &self,
        r: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        answer(r.get_ref(), Ok(self.provider_schema()))
    }

    async fn get_resource_identity_schemas(
        &self,
        r: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Result<Response<pb::get_resource_identity_schemas::Response>, Status> {
        answer(r.get_ref(), Ok(self.identity_schemas()))
    }

    async fn validate_provider_config(
        &self,
        r: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        answer(r.get_ref(), self.validate_provider(r.get_ref()))
    }

    async fn configure_provider(
        &self,
        r: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        answer(r.get_ref(), self.configure(r.get_ref()).await)
    }

    async fn stop_provider(
        &self,
        r: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        let _ = r;
        Ok(Response::new(self.stop()))
    }

    async fn validate_resource_config(
        &self,
        r: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        answer(r.get_ref(), self.validate_resource(r.get_ref()))
    }

    async fn upgrade_resource_state(
        &self,
        r: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        answer(r.get_ref(), self.upgrade_state(r.get_ref()))
    }

    async fn upgrade_resource_identity(
        &self,
        r: Request<pb::upgrade_resource_identity::Request>,
    ) -> Result<Response<pb::upgrade_resource_identity::Response>, Status> {
        answer(r.get_ref(), self.upgrade_identity(r.get_ref()))
    }

    async fn read_resource(
        &self,
        r: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        answer(r.get_ref(), self.read(r.get_ref()).await)
    }

    async fn plan_resource_change(
        &self,
        r: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        answer(r.get_ref(), self.plan(r.get_ref()).await)
    }

    async fn apply_resource_change(
        &self,
        r: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        answer(r.get_ref(), self.apply(r.get_ref()).await)
    }

    async fn import_resource_state(
        &self,
        r: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        answer(r.get_ref(), self.import(r.get_ref()).await)
    }

    async fn generate_resource_config(
        &self,
        r: Request<pb::generate_resource_config::Request>,
    ) -> Result<Response<pb::generate_resource_config::Response>, Status> {
        answer(r.get_ref(), self.generate_config(r.get_ref()))
    }

    async fn validate_data_resource_config(
        &self,
        r: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        answer(r.get_ref(), self.validate_data_source(r.get_ref()))
    }

    async fn read_data_source(
        &self,
        r: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        answer(r.get_ref(), self.read_data(r.get_ref()).await)
    }

    async fn validate_list_resource_config(
        &self,
        r: Request<pb::validate_list_resource_config::Request>,
    ) -> Result<Response<pb::validate_list_resource_config::Response>, Status> {
        answer(r.get_ref(), self.validate_list(r.get_ref()))
    }

    async fn list_resource(
        &self,
        r: Request<pb::list_resource::Request>,
    ) -> Result<Response<BoxStream<pb::list_resource::Event>>, Status> {
        Ok(match self.list(r.get_ref()).await {
            Ok(events) => events,
            Err(d) => failed_stream(pb::list_resource::Event { diagnostic: d.to_proto(), ..Default::default() }),
        })
    }

    async fn validate_action_config(
        &self,
        r: Request<pb::validate_action_config::Request>,
    ) -> Result<Response<pb::validate_action_config::Response>, Status> {
        answer(r.get_ref(), self.validate_action(r.get_ref()))
    }

    async fn plan_action(
        &self,
        r: Request<pb::plan_action::Request>,
    ) -> Result<Response<pb::plan_action::Response>, Status> {
        answer(r.get_ref(), self.plan_action_rpc(r.get_ref()).await)
    }

    async fn invoke_action(
        &self,
        r: Request<pb::invoke_action::Request>,
    ) -> Result<Response<BoxStream<pb::invoke_action::Event>>, Status> {
        Ok(match self.invoke(r.get_ref()).await {
            Ok(events) => events,
            Err(d) => failed_stream(action::completed(d)),
        })
    }
}
