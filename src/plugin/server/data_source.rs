//! The data source RPCs: validate and read.

use super::codec::{decode, encode};
use super::guard::guarded;
use super::{Failure, ProviderService, diagnostics_only, validate_with};
use crate::plugin::diagnostics::Diagnostics;
use crate::plugin::proto::tfplugin6 as pb;
use crate::plugin::traits::Provider;

diagnostics_only!(validate_data_resource_config, read_data_source);

impl<P: Provider> ProviderService<P> {
    pub(super) fn validate_data_source(
        &self,
        r: &pb::validate_data_resource_config::Request,
    ) -> Result<pb::validate_data_resource_config::Response, Diagnostics> {
        let diagnostics =
            validate_with(&self.registry.data_sources, &r.type_name, r.config.as_ref(), |t, c| t.validate(c))?;
        Ok(pb::validate_data_resource_config::Response { diagnostics })
    }

    pub(super) async fn read_data(
        &self,
        r: &pb::read_data_source::Request,
    ) -> Result<pb::read_data_source::Response, Diagnostics> {
        let e = self.registry.data_sources.get(&r.type_name)?;
        let config = decode(r.config.as_ref(), &e.ty)?;
        let ctx = self.context().await?;
        let state = guarded("ReadDataSource", e.imp.read(&ctx, &config)).await?;
        Ok(pb::read_data_source::Response { state: Some(encode(&state, &e.ty)?), ..Default::default() })
    }
}
