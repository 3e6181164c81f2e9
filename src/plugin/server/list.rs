//! The list resource RPCs of `terraform query`: validate, and the stream of found objects.

use super::codec::{decode, encode, identity};
use super::guard::guarded;
use super::{BoxStream, Failure, ProviderService, diagnostics_only, validate_with};
use crate::plugin::diagnostics::{Diagnostic, Diagnostics};
use crate::plugin::proto::tfplugin6 as pb;
use crate::plugin::traits::Provider;
use tonic::Response;

diagnostics_only!(validate_list_resource_config);

impl<P: Provider> ProviderService<P> {
    pub(super) fn validate_list(
        &self,
        r: &pb::validate_list_resource_config::Request,
    ) -> Result<pb::validate_list_resource_config::Response, Diagnostics> {
        let diagnostics = validate_with(&self.registry.lists, &r.type_name, r.config.as_ref(), |t, c| t.validate(c))?;
        Ok(pb::validate_list_resource_config::Response { diagnostics })
    }

    /// Finds the objects and streams one event each (a failure to encode one object is that
    /// event's diagnostic; the others still arrive).
    pub(super) async fn list(
        &self,
        r: &pb::list_resource::Request,
    ) -> Result<Response<BoxStream<pb::list_resource::Event>>, Diagnostics> {
        let list = self.registry.lists.get(&r.type_name)?;
        let res = self.registry.resources.get(&r.type_name)?;
        let Some(id_ty) = res.imp.identity_schema().map(|s| s.cty()) else {
            return Err(Diagnostic::error(
                "Identity not supported",
                format!("{} has no resource identity.", r.type_name),
            )
            .into());
        };
        let cfg = decode(r.config.as_ref(), &list.ty)?;
        let ctx = self.context().await?;
        let limit = usize::try_from(r.limit).ok().filter(|l| *l > 0).unwrap_or(usize::MAX);
        let found = guarded("ListResource", list.imp.list_found(&ctx, &cfg, limit, r.include_resource_object)).await?;
        let mut events = Vec::with_capacity(found.len());
        for item in found.into_iter().take(limit) {
            let mut ev = pb::list_resource::Event { display_name: item.display_name, ..Default::default() };
            let mut problems = Diagnostics::new();
            match identity(Some(item.identity), Some(&id_ty)) {
                Ok(id) => ev.identity = id,
                Err(d) => problems.extend(d),
            }
            if r.include_resource_object {
                match encode(&item.object, &res.ty) {
                    Ok(dv) => ev.resource_object = Some(dv),
                    Err(d) => problems.extend(d),
                }
            }
            ev.diagnostic = problems.to_proto();
            events.push(Ok(ev));
        }
        Ok(Response::new(Box::pin(futures::stream::iter(events))))
    }
}
