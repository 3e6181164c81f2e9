//! `terraform-provider-aft-zero-work`: the benchmark's zero-work floor (issue 28), nothing else.
//!
//! The same plugin layer and the same schemas as `terraform-provider-aft` (the provider block,
//! every resource with its identity schema and identity, the data sources, list resources and
//! actions), but no AWS and no checks: every RPC answers from what Terraform sent. A refresh
//! returns the prior state, a plan the proposed state (the plugin layer's default plan, as every
//! resource starts from), an apply the planned state with unknowns made null, a data source its
//! configuration likewise, a list nothing, an action nothing.
//!
//! `make bench` installs it under the provider's address (a `dev_overrides` directory holding a
//! copy named `terraform-provider-aft`) and runs the same no-change plans with it, interleaved
//! with the real provider's: what the real provider takes beyond it is the provider's own cost;
//! what it takes beyond `terraform_data` is Terraform's cost of a plugin resource instance with
//! this schema, which no provider can avoid. Never use it for anything else: it plans "no
//! changes" for every configuration that matches its state, whatever AWS holds.

use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;
use terraform_provider_aft::context::Context;
use terraform_provider_aft::plugin::{
    Action, ApplyRequest, DataSource, Diagnostics, Failed, IdentitySchema, ListResource, Listed, Progress, Provider,
    ReadRequest, Resource, Schema, Value,
};
use terraform_provider_aft::provider::AftProvider;

/// The provider: the real provider's schemas, no context.
struct ZeroWork;

/// A real type, wrapped: only its name, schema and identity are used.
struct Zero<T: ?Sized>(Arc<T>);

/// `v` with every unknown made null (what an apply or a data source must answer with).
fn known(v: &Value) -> Value {
    match v {
        Value::Unknown => Value::Null,
        Value::List(x) => Value::List(x.iter().map(known).collect()),
        Value::Set(x) => Value::Set(x.iter().map(known).collect()),
        Value::Tuple(x) => Value::Tuple(x.iter().map(known).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (k.clone(), known(v))).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), known(v))).collect()),
        other => other.clone(),
    }
}

#[async_trait]
impl Provider for ZeroWork {
    type Context = ();

    fn schema(&self) -> Schema {
        AftProvider.schema()
    }

    async fn configure(&self, _config: &Value) -> Result<(), Diagnostics> {
        Ok(())
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<()>>> {
        terraform_provider_aft::resources::all().into_iter().map(|r| Arc::new(Zero(r)) as _).collect()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<()>>> {
        terraform_provider_aft::data_sources::all().into_iter().map(|d| Arc::new(Zero(d)) as _).collect()
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource<()>>> {
        terraform_provider_aft::list_resources::all().into_iter().map(|l| Arc::new(Zero(l)) as _).collect()
    }

    fn actions(&self) -> Vec<Arc<dyn Action<()>>> {
        terraform_provider_aft::actions::all().into_iter().map(|a| Arc::new(Zero(a)) as _).collect()
    }
}

#[async_trait]
impl Resource<()> for Zero<dyn Resource<Context>> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn schema(&self) -> Schema {
        self.0.schema()
    }
    fn identity_schema(&self) -> Option<IdentitySchema> {
        self.0.identity_schema()
    }
    // the protocol asks every provider for the identity beside each state
    fn identity(&self, state: &Value) -> Option<Value> {
        self.0.identity(state)
    }
    async fn create(&self, _ctx: &(), req: &ApplyRequest<'_>) -> Result<Value, Failed> {
        Ok(known(req.planned))
    }
    async fn read(&self, _ctx: &(), req: &ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        Ok(Some(req.state.clone()))
    }
    async fn update(&self, _ctx: &(), req: &ApplyRequest<'_>) -> Result<Value, Failed> {
        Ok(known(req.planned))
    }
    async fn delete(&self, _ctx: &(), _req: &ApplyRequest<'_>) -> Result<(), Diagnostics> {
        Ok(())
    }
}

#[async_trait]
impl DataSource<()> for Zero<dyn DataSource<Context>> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn schema(&self) -> Schema {
        self.0.schema()
    }
    async fn read(&self, _ctx: &(), config: &Value) -> Result<Value, Diagnostics> {
        Ok(known(config))
    }
}

#[async_trait]
impl ListResource<()> for Zero<dyn ListResource<Context>> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn schema(&self) -> Schema {
        self.0.schema()
    }
    async fn list(&self, _ctx: &(), _config: &Value, _limit: usize) -> Result<Vec<Listed>, Diagnostics> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl Action<()> for Zero<dyn Action<Context>> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn schema(&self) -> Schema {
        self.0.schema()
    }
    async fn invoke(&self, _ctx: &(), _config: &Value, _progress: Progress) -> Diagnostics {
        Diagnostics::new()
    }
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--version" || a == "-v") {
        println!("terraform-provider-aft-zero-work {} (benchmark floor, no AWS)", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    terraform_provider_aft::plugin::timings::start();
    terraform_provider_aft::plugin::logging::init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("terraform-provider-aft-zero-work: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(terraform_provider_aft::plugin::transport::serve(ZeroWork)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The floor is only a floor if Terraform sees the same provider: same types, same schemas,
    /// same identity schemas.
    #[test]
    fn serves_the_real_providers_types_and_schemas() {
        let (p, real) = (ZeroWork, AftProvider);
        assert_eq!(p.schema().to_proto(), real.schema().to_proto());
        macro_rules! same {
            ($kind:ident, |$x:ident| $what:expr) => {{
                let zero: Vec<_> = p.$kind().iter().map(|$x| $what).collect();
                let want: Vec<_> = real.$kind().iter().map(|$x| $what).collect();
                assert!(!want.is_empty());
                assert_eq!(zero, want, "{}", stringify!($kind));
            }};
        }
        same!(resources, |r| (r.type_name(), r.schema().to_proto(), r.identity_schema().map(|s| s.to_proto())));
        same!(data_sources, |d| (d.type_name(), d.schema().to_proto()));
        same!(list_resources, |l| (l.type_name(), l.schema().to_proto()));
        same!(actions, |a| (a.type_name(), a.schema().to_proto()));
    }

    /// A refresh hands back the state it was given, and its identity is the real one.
    #[tokio::test]
    async fn a_refresh_returns_the_prior_state_with_its_identity() {
        let p = ZeroWork;
        let r = p.resources().into_iter().find(|r| r.type_name() == "aft_account_provisioning").unwrap();
        let state = Value::object([("account_id", Value::from("123456789012")), ("id", Value::from("x"))]);
        let private = Default::default();
        let got = r.read(&(), &ReadRequest { state: &state, private: &private }).await.unwrap();
        assert_eq!(got.as_ref(), Some(&state));
        let real = AftProvider.resources().into_iter().find(|r| r.type_name() == "aft_account_provisioning").unwrap();
        assert!(r.identity(&state).is_some());
        assert_eq!(r.identity(&state), real.identity(&state));
    }

    #[test]
    fn known_makes_every_unknown_null() {
        let v = Value::object([("a", Value::Unknown), ("b", Value::List(vec![Value::Unknown, Value::from("x")]))]);
        assert_eq!(
            known(&v),
            Value::object([("a", Value::Null), ("b", Value::List(vec![Value::Null, Value::from("x")]))])
        );
    }
}
