//! The action RPCs of `terraform apply -invoke`: validate, plan, and the invocation's stream of
//! progress events closed by its outcome.

use super::codec::decode;
use super::guard::guarded;
use super::{BoxStream, Failure, ProviderService, diagnostics_only, validate_with};
use crate::plugin::diagnostics::Diagnostics;
use crate::plugin::proto::tfplugin6 as pb;
use crate::plugin::traits::{Progress, Provider};
use tonic::Response;

diagnostics_only!(validate_action_config, plan_action);

/// The event that closes an invocation.
pub(super) fn completed(d: Diagnostics) -> pb::invoke_action::Event {
    use pb::invoke_action::event;
    pb::invoke_action::Event { r#type: Some(event::Type::Completed(event::Completed { diagnostics: d.to_proto() })) }
}

impl<P: Provider> ProviderService<P> {
    pub(super) fn validate_action(
        &self,
        r: &pb::validate_action_config::Request,
    ) -> Result<pb::validate_action_config::Response, Diagnostics> {
        let diagnostics = validate_with(&self.registry.actions, &r.type_name, r.config.as_ref(), |t, c| t.validate(c))?;
        Ok(pb::validate_action_config::Response { diagnostics })
    }

    pub(super) async fn plan_action_rpc(
        &self,
        r: &pb::plan_action::Request,
    ) -> Result<pb::plan_action::Response, Diagnostics> {
        let e = self.registry.actions.get(&r.action_type)?;
        let cfg = decode(r.config.as_ref(), &e.ty)?;
        // planning may run before the provider is configured
        let ctx = self.ctx.read().await.clone();
        let diags = guarded("PlanAction", e.imp.plan(ctx.as_deref(), &cfg)).await;
        Ok(pb::plan_action::Response { diagnostics: diags.to_proto(), ..Default::default() })
    }

    /// Starts the action; progress lines stream to Terraform while it runs and its outcome
    /// closes the stream.
    pub(super) async fn invoke(
        &self,
        r: &pb::invoke_action::Request,
    ) -> Result<Response<BoxStream<pb::invoke_action::Event>>, Diagnostics> {
        use pb::invoke_action::event;
        let e = self.registry.actions.get(&r.action_type)?;
        let cfg = decode(r.config.as_ref(), &e.ty)?;
        let ctx = self.context().await?;
        let imp = e.imp.clone();
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
}
