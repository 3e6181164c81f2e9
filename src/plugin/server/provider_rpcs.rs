//! The provider-wide RPCs: metadata, schemas, the provider block's validation and
//! configuration, and StopProvider.

use std::sync::Arc;

use super::codec::decode;
use super::guard::guarded;
use super::{Failure, ProviderService, diagnostics_only};
use crate::plugin::diagnostics::Diagnostics;
use crate::plugin::proto::tfplugin6 as pb;
use crate::plugin::traits::Provider;

diagnostics_only!(
    get_metadata,
    get_provider_schema,
    get_resource_identity_schemas,
    validate_provider_config,
    configure_provider
);

/// What this server can do beyond the basics.
fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        // The schema never changes within a binary: Terraform may reuse the one it fetched first.
        get_provider_schema_optional: true,
        generate_resource_config: true,
        ..Default::default()
    }
}

impl<P: Provider> ProviderService<P> {
    pub(super) fn metadata(&self) -> pb::get_metadata::Response {
        use pb::get_metadata as m;
        let reg = &self.registry;
        pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: reg.resources.names().map(|type_name| m::ResourceMetadata { type_name }).collect(),
            data_sources: reg.data_sources.names().map(|type_name| m::DataSourceMetadata { type_name }).collect(),
            list_resources: reg.lists.names().map(|type_name| m::ListResourceMetadata { type_name }).collect(),
            actions: reg.actions.names().map(|type_name| m::ActionMetadata { type_name }).collect(),
            ..Default::default()
        }
    }

    pub(super) fn provider_schema(&self) -> pb::get_provider_schema::Response {
        let reg = &self.registry;
        pb::get_provider_schema::Response {
            provider: Some(self.schema.to_proto()),
            resource_schemas: reg.resources.iter().map(|(k, e)| (k.to_string(), e.schema.to_proto())).collect(),
            data_source_schemas: reg.data_sources.iter().map(|(k, e)| (k.to_string(), e.schema.to_proto())).collect(),
            list_resource_schemas: reg.lists.iter().map(|(k, e)| (k.to_string(), e.schema.to_proto())).collect(),
            action_schemas: reg
                .actions
                .iter()
                .map(|(k, e)| (k.to_string(), pb::ActionSchema { schema: Some(e.schema.to_proto()) }))
                .collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        }
    }

    pub(super) fn identity_schemas(&self) -> pb::get_resource_identity_schemas::Response {
        pb::get_resource_identity_schemas::Response {
            identity_schemas: self
                .registry
                .resources
                .iter()
                .filter_map(|(k, e)| e.imp.identity_schema().map(|s| (k.to_string(), s.to_proto())))
                .collect(),
            diagnostics: Vec::new(),
        }
    }

    pub(super) fn validate_provider(
        &self,
        r: &pb::validate_provider_config::Request,
    ) -> Result<pb::validate_provider_config::Response, Diagnostics> {
        let cfg = decode(r.config.as_ref(), &self.ty)?;
        Ok(pb::validate_provider_config::Response { diagnostics: self.provider.validate(&cfg).to_proto() })
    }

    pub(super) async fn configure(
        &self,
        r: &pb::configure_provider::Request,
    ) -> Result<pb::configure_provider::Response, Diagnostics> {
        let cfg = decode(r.config.as_ref(), &self.ty)?;
        let ctx = guarded("ConfigureProvider", self.provider.configure(&cfg)).await?;
        *self.ctx.write().await = Some(Arc::new(ctx));
        Ok(pb::configure_provider::Response::default())
    }

    pub(super) fn stop(&self) -> pb::stop_provider::Response {
        tracing::info!("StopProvider received: ending long waits");
        crate::plugin::stop::global().request();
        pb::stop_provider::Response::default()
    }
}
