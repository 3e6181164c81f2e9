//! The managed-resource RPCs: validate, upgrade (state and identity), read, plan, apply,
//! import and generated configuration.

use super::codec::{decode, decode_private, decode_stored, encode, encode_private, identity};
use super::guard::guarded;
use super::{Failure, ProviderService, diagnostics_only, validate_with};
use crate::plugin::diagnostics::{AttrPath, Diagnostic, Diagnostics};
use crate::plugin::plan::{config_of_state, default_plan};
use crate::plugin::proto::tfplugin6 as pb;
use crate::plugin::traits::{ApplyRequest, Notes, Plan, PlanRequest, Provider, ReadRequest};
use crate::plugin::value::Value;

diagnostics_only!(
    validate_resource_config,
    upgrade_resource_state,
    upgrade_resource_identity,
    plan_resource_change,
    import_resource_state,
    generate_resource_config
);

impl Failure<pb::read_resource::Request> for pb::read_resource::Response {
    /// A failed refresh keeps what Terraform had.
    fn failed(r: &pb::read_resource::Request, diags: Diagnostics) -> Self {
        pb::read_resource::Response {
            new_state: r.current_state.clone(),
            private: r.private.clone(),
            diagnostics: diags.to_proto(),
            ..Default::default()
        }
    }
}

impl Failure<pb::apply_resource_change::Request> for pb::apply_resource_change::Response {
    /// A failed apply that made nothing keeps the prior state.
    fn failed(r: &pb::apply_resource_change::Request, diags: Diagnostics) -> Self {
        pb::apply_resource_change::Response {
            new_state: r.prior_state.clone(),
            diagnostics: diags.to_proto(),
            ..Default::default()
        }
    }
}

impl<P: Provider> ProviderService<P> {
    pub(super) fn validate_resource(
        &self,
        r: &pb::validate_resource_config::Request,
    ) -> Result<pb::validate_resource_config::Response, Diagnostics> {
        let diagnostics =
            validate_with(&self.registry.resources, &r.type_name, r.config.as_ref(), |t, c| t.validate(c))?;
        Ok(pb::validate_resource_config::Response { diagnostics })
    }

    /// JSON state of any earlier version decodes into the current schema: new attributes start
    /// null and removed ones are dropped.
    pub(super) fn upgrade_state(
        &self,
        r: &pb::upgrade_resource_state::Request,
    ) -> Result<pb::upgrade_resource_state::Response, Diagnostics> {
        let e = self.registry.resources.get(&r.type_name)?;
        let raw = r.raw_state.as_ref().map(|s| s.json.as_slice()).unwrap_or_default();
        let v = decode_stored(raw, &e.ty, "state")?;
        Ok(pb::upgrade_resource_state::Response { upgraded_state: Some(encode(&v, &e.ty)?), ..Default::default() })
    }

    pub(super) fn upgrade_identity(
        &self,
        r: &pb::upgrade_resource_identity::Request,
    ) -> Result<pb::upgrade_resource_identity::Response, Diagnostics> {
        let e = self.registry.resources.get(&r.type_name)?;
        let Some(schema) = e.imp.identity_schema() else {
            return Err(Diagnostic::error(
                "Identity not supported",
                format!("{} has no resource identity.", r.type_name),
            )
            .into());
        };
        let ty = schema.cty();
        let raw = r.raw_identity.as_ref().map(|s| s.json.as_slice()).unwrap_or_default();
        // no stored identity upgrades to none
        let v = if raw.is_empty() { None } else { Some(decode_stored(raw, &ty, "identity")?) };
        Ok(pb::upgrade_resource_identity::Response {
            upgraded_identity: identity(v, Some(&ty))?,
            diagnostics: Vec::new(),
        })
    }

    pub(super) async fn read(
        &self,
        r: &pb::read_resource::Request,
    ) -> Result<pb::read_resource::Response, Diagnostics> {
        let e = self.registry.resources.get(&r.type_name)?;
        let state = decode(r.current_state.as_ref(), &e.ty)?;
        let ctx = self.context().await?;
        let private = decode_private(&r.private)?;
        let read = ReadRequest { state: &state, private: &private };
        let new = guarded("ReadResource", e.imp.read(&ctx, &read)).await?.unwrap_or(Value::Null);
        let mut diags = Diagnostics::new();
        let mut id = None;
        if !new.is_null() {
            diags.extend(e.imp.refresh_warnings(&new));
            id = e.imp.identity(&new);
        }
        let id_ty = e.imp.identity_schema().map(|s| s.cty());
        Ok(pb::read_resource::Response {
            new_state: Some(encode(&new, &e.ty)?),
            private: r.private.clone(),
            diagnostics: diags.to_proto(),
            new_identity: identity(id, id_ty.as_ref())?,
            ..Default::default()
        })
    }

    pub(super) async fn plan(
        &self,
        r: &pb::plan_resource_change::Request,
    ) -> Result<pb::plan_resource_change::Response, Diagnostics> {
        let e = self.registry.resources.get(&r.type_name)?;
        let prior = decode(r.prior_state.as_ref(), &e.ty)?;
        let proposed = decode(r.proposed_new_state.as_ref(), &e.ty)?;
        let config = decode(r.config.as_ref(), &e.ty)?;
        let prior_private = decode_private(&r.prior_private)?;
        let (planned, requires_replace) = default_plan(&e.schema, &prior, &proposed);
        let mut plan = Plan { planned, requires_replace, private: prior_private.clone() };
        // planning may run before the provider is configured (unknown provider arguments)
        let ctx = self.ctx.read().await.clone();
        let req = PlanRequest {
            schema: &e.schema,
            prior: &prior,
            proposed: &proposed,
            config: &config,
            prior_private: &prior_private,
        };
        let diags = guarded("PlanResourceChange", e.imp.modify_plan(ctx.as_deref(), &req, &mut plan)).await;
        if diags.has_errors() {
            return Err(diags);
        }
        let id_ty = e.imp.identity_schema().map(|s| s.cty());
        // a create whose identity is not known yet plans none
        let planned_identity = if plan.planned.is_null() || plan.planned.contains_unknown() && prior.is_null() {
            None
        } else {
            identity(e.imp.identity(&plan.planned).or_else(|| e.imp.identity(&prior)), id_ty.as_ref())?
        };
        Ok(pb::plan_resource_change::Response {
            planned_state: Some(encode(&plan.planned, &e.ty)?),
            requires_replace: plan.requires_replace.iter().map(AttrPath::to_proto).collect(),
            planned_private: encode_private(&plan.private)?,
            diagnostics: diags.to_proto(),
            planned_identity,
            ..Default::default()
        })
    }

    pub(super) async fn apply(
        &self,
        r: &pb::apply_resource_change::Request,
    ) -> Result<pb::apply_resource_change::Response, Diagnostics> {
        let e = self.registry.resources.get(&r.type_name)?;
        let prior = decode(r.prior_state.as_ref(), &e.ty)?;
        let planned = decode(r.planned_state.as_ref(), &e.ty)?;
        let config = decode(r.config.as_ref(), &e.ty)?;
        let private = decode_private(&r.planned_private)?;
        let ctx = self.context().await?;
        let mut diags = Diagnostics::new();
        let notes = Notes::default();
        let req = ApplyRequest { prior: &prior, planned: &planned, config: &config, private: &private, notes: &notes };
        let new_state = if planned.is_null() {
            if let Err(mut d) = guarded("ApplyResourceChange", e.imp.delete(&ctx, &req)).await {
                d.extend(notes.take());
                return Err(d);
            }
            Value::Null
        } else {
            let result = if prior.is_null() {
                guarded("ApplyResourceChange", e.imp.create(&ctx, &req)).await
            } else {
                guarded("ApplyResourceChange", e.imp.update(&ctx, &req)).await
            };
            match result {
                Ok(v) => v,
                // a create that made something keeps it in state (Terraform taints it)
                Err(f) => match f.partial {
                    Some(partial) => {
                        diags.extend(f.diags);
                        partial
                    }
                    None => {
                        let mut d = f.diags;
                        d.extend(notes.take());
                        return Err(d);
                    }
                },
            }
        };
        diags.extend(notes.take());
        let id_ty = e.imp.identity_schema().map(|s| s.cty());
        let new_identity = if new_state.is_null() { None } else { e.imp.identity(&new_state) };
        let encoded = encode(&new_state, &e.ty).and_then(|s| Ok((s, identity(new_identity, id_ty.as_ref())?)));
        match encoded {
            Ok((state, new_identity)) => Ok(pb::apply_resource_change::Response {
                new_state: Some(state),
                private: encode_private(&private)?,
                diagnostics: diags.to_proto(),
                new_identity,
                ..Default::default()
            }),
            Err(d) => {
                diags.extend(d);
                Err(diags)
            }
        }
    }

    pub(super) async fn import(
        &self,
        r: &pb::import_resource_state::Request,
    ) -> Result<pb::import_resource_state::Response, Diagnostics> {
        let e = self.registry.resources.get(&r.type_name)?;
        let ctx = self.context().await?;
        let id_schema = e.imp.identity_schema();
        let state = match (&r.identity, &id_schema) {
            (Some(given), Some(s)) if r.id.is_empty() => {
                let ident = decode(given.identity_data.as_ref(), &s.cty())?;
                guarded("ImportResourceState", e.imp.import_identity(&ctx, &ident)).await?
            }
            _ => guarded("ImportResourceState", e.imp.import(&ctx, &r.id)).await?,
        };
        let id_ty = id_schema.map(|s| s.cty());
        Ok(pb::import_resource_state::Response {
            imported_resources: vec![pb::import_resource_state::ImportedResource {
                type_name: r.type_name.clone(),
                state: Some(encode(&state, &e.ty)?),
                private: Vec::new(),
                identity: identity(e.imp.identity(&state), id_ty.as_ref())?,
            }],
            ..Default::default()
        })
    }

    pub(super) fn generate_config(
        &self,
        r: &pb::generate_resource_config::Request,
    ) -> Result<pb::generate_resource_config::Response, Diagnostics> {
        let e = self.registry.resources.get(&r.type_name)?;
        let state = decode(r.state.as_ref(), &e.ty)?;
        let config = config_of_state(&e.schema, &state);
        Ok(pb::generate_resource_config::Response { config: Some(encode(&config, &e.ty)?), diagnostics: Vec::new() })
    }
}
