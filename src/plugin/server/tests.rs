//! The server driven in process the way Terraform drives it: a tonic client over loopback TCP
//! against a [`ProviderService`] serving a small fake provider, so every path from the wire
//! (decoding, the registry, the panic guard, failure responses) is exercised without AWS.

use std::sync::Arc;

use async_trait::async_trait;

use super::ProviderService;
use crate::plugin::diagnostics::Diagnostics;
use crate::plugin::proto::tfplugin6 as pb;
use crate::plugin::proto::tfplugin6::provider_client::ProviderClient;
use crate::plugin::schema::{Attribute, Block, Schema};
use crate::plugin::traits::{ApplyRequest, DataSource, Failed, Provider, ReadRequest, Resource};
use crate::plugin::value::{self, Type, Value};

struct Fake;

/// `fake_thing`: `name` in, `id` out; a read of the name `boom` panics, as a bug would.
struct Thing;

fn thing_schema() -> Schema {
    Schema::new(
        0,
        Block::new("A thing.").attr(Attribute::computed("id", Type::String, "Its id.")).attr(Attribute::required(
            "name",
            Type::String,
            "Its name.",
        )),
    )
}

#[async_trait]
impl Resource<()> for Thing {
    fn type_name(&self) -> &'static str {
        "fake_thing"
    }
    fn schema(&self) -> Schema {
        thing_schema()
    }
    async fn create(&self, _ctx: &(), req: &ApplyRequest<'_>) -> Result<Value, Failed> {
        let planned = req.planned;
        let mut v = planned.clone();
        v.set("id", "thing-1");
        Ok(v)
    }
    async fn read(&self, _ctx: &(), req: &ReadRequest<'_>) -> Result<Option<Value>, Diagnostics> {
        let state = req.state;
        if state.get("name").as_str() == Some("boom") {
            let empty: Vec<u8> = Vec::new();
            // an index out of bounds, as a bug would have it
            return Ok(Some(Value::from(empty[empty.len() + 1].to_string())));
        }
        Ok(Some(state.clone()))
    }
    async fn update(&self, _ctx: &(), req: &ApplyRequest<'_>) -> Result<Value, Failed> {
        let planned = req.planned;
        Ok(planned.clone())
    }
    async fn delete(&self, _ctx: &(), _req: &ApplyRequest<'_>) -> Result<(), Diagnostics> {
        Ok(())
    }
}

#[async_trait]
impl Provider for Fake {
    type Context = ();
    fn schema(&self) -> Schema {
        Schema::new(0, Block::new("A fake provider."))
    }
    async fn configure(&self, _config: &Value) -> Result<(), Diagnostics> {
        Ok(())
    }
    fn resources(&self) -> Vec<Arc<dyn Resource<()>>> {
        vec![Arc::new(Thing)]
    }
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<()>>> {
        Vec::new()
    }
}

/// Serves the fake provider on 127.0.0.1 and connects a client to it.
async fn client() -> ProviderClient<tonic::transport::Channel> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = pb::provider_server::ProviderServer::new(ProviderService::new(Fake));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    ProviderClient::connect(format!("http://{addr}")).await.unwrap()
}

fn dv(v: &Value) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue { msgpack: value::to_msgpack(v, &thing_schema().cty()).unwrap(), json: Vec::new() })
}

fn thing(name: &str) -> Value {
    Value::object([("id", Value::from("thing-1")), ("name", Value::from(name))])
}

/// The summaries of the error diagnostics.
fn errors(d: &[pb::Diagnostic]) -> Vec<String> {
    d.iter().filter(|d| d.severity == pb::diagnostic::Severity::Error as i32).map(|d| d.summary.clone()).collect()
}

async fn configured() -> ProviderClient<tonic::transport::Channel> {
    let mut c = client().await;
    let cfg = pb::DynamicValue {
        msgpack: value::to_msgpack(&Value::object::<_, &str>([]), &Type::object::<_, &str>([])).unwrap(),
        json: Vec::new(),
    };
    let r = c
        .configure_provider(pb::configure_provider::Request { config: Some(cfg), ..Default::default() })
        .await
        .unwrap();
    assert!(errors(&r.into_inner().diagnostics).is_empty());
    c
}

#[tokio::test]
async fn an_unknown_type_is_an_error_diagnostic_on_every_rpc() {
    let mut c = client().await;
    let name = "fake_nothing".to_string();
    let v = c
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&v.diagnostics), ["Unknown resource type"]);
    // the old server answered this one with no diagnostic at all
    let u = c
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: name.clone(),
            raw_state: Some(pb::RawState { json: b"{}".to_vec(), ..Default::default() }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&u.diagnostics), ["Unknown resource type"]);
    assert!(u.upgraded_state.is_none());
    let d = c
        .read_data_source(pb::read_data_source::Request { type_name: name, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&d.diagnostics), ["Unknown data source type"]);
}

#[tokio::test]
async fn a_panic_in_a_read_is_a_diagnostic_and_the_state_is_kept() {
    let mut c = configured().await;
    let state = dv(&thing("boom"));
    let r = c
        .read_resource(pb::read_resource::Request {
            type_name: "fake_thing".into(),
            current_state: state.clone(),
            private: b"{\"k\":1}".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&r.diagnostics), ["The provider hit an internal error"]);
    assert!(r.diagnostics[0].detail.contains("ReadResource panicked"), "{}", r.diagnostics[0].detail);
    assert_eq!(r.new_state, state, "a failed refresh keeps what Terraform had");
    assert_eq!(r.private, b"{\"k\":1}");
    // the server goes on serving
    let ok = c
        .read_resource(pb::read_resource::Request {
            type_name: "fake_thing".into(),
            current_state: dv(&thing("fine")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ok.diagnostics.is_empty());
    assert_eq!(ok.new_state, dv(&thing("fine")));
}

#[tokio::test]
async fn bad_bytes_from_terraform_are_diagnostics_not_silence() {
    let mut c = configured().await;
    let garbage = Some(pb::DynamicValue { msgpack: vec![0x82, 0xa2], json: Vec::new() });
    let v = c
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "fake_thing".into(),
            config: garbage,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&v.diagnostics), ["Invalid value from Terraform"]);
    // private data this provider did not write: the old server read it as empty
    let p = c
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "fake_thing".into(),
            prior_state: dv(&thing("a")),
            proposed_new_state: dv(&thing("a")),
            config: dv(&Value::object([("id", Value::Null), ("name", Value::from("a"))])),
            prior_private: b"not json".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(errors(&p.diagnostics), ["Invalid private data from Terraform"]);
    assert!(p.planned_state.is_none());
}

#[tokio::test]
async fn a_create_plans_and_applies_through_the_wire() {
    let mut c = configured().await;
    let config = Value::object([("id", Value::Null), ("name", Value::from("a"))]);
    let p = c
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "fake_thing".into(),
            prior_state: dv(&Value::Null),
            proposed_new_state: dv(&config),
            config: dv(&config),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let planned = value::from_msgpack(&p.planned_state.as_ref().unwrap().msgpack, &thing_schema().cty()).unwrap();
    assert!(planned.get("id").is_unknown(), "a computed id is unknown until apply: {planned:?}");
    let a = c
        .apply_resource_change(pb::apply_resource_change::Request {
            type_name: "fake_thing".into(),
            prior_state: dv(&Value::Null),
            planned_state: p.planned_state,
            config: dv(&config),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(a.diagnostics.is_empty(), "{:?}", a.diagnostics);
    assert_eq!(a.new_state, dv(&thing("a")));
    let schema = c.get_provider_schema(pb::get_provider_schema::Request::default()).await.unwrap().into_inner();
    assert_eq!(schema.resource_schemas.keys().collect::<Vec<_>>(), ["fake_thing"]);
}
