//! An AFT deployment as AFT's own code leaves it, for the migration and coexistence tests: its
//! request table (and what listens to it), accounts it vended, and a model of its Lambdas' reads.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType,
};

use super::Landing;

/// One account as an AFT deployment left it.
pub struct Seeded {
    pub id: String,
    pub email: String,
    pub name: String,
    pub ou: &'static str,
    pub tags: Vec<(String, String)>,
    pub custom: Vec<(String, String)>,
}

/// AFT's request table (`aft-request`, named by AFT's SSM parameter as AFT's own Lambdas find it),
/// with its stream on when `stream` is set, and the metadata table's SSM parameter; returns the
/// stream ARN.
pub async fn request_table(l: &Landing, stream: bool) -> Option<String> {
    let key = KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap();
    let attr =
        AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build().unwrap();
    let mut create = aws_sdk_dynamodb::Client::new(&l.aft_cfg)
        .create_table()
        .table_name("aft-request")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key)
        .attribute_definitions(attr);
    if stream {
        // AFT's aft-account-request-framework/ddb.tf: NEW_AND_OLD_IMAGES
        create = create.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        );
    }
    let out = create.send().await.unwrap();
    for (name, value) in
        [("aft-request-table-name", "aft-request"), ("aft-request-metadata-table-name", "aft-request-metadata")]
    {
        super::fixtures::put_parameter(&l.aft_cfg, &format!("/aft/resources/ddb/{name}"), value).await;
    }
    out.table_description().and_then(|t| t.latest_stream_arn()).map(str::to_string)
}

/// AFT's request pipeline listening to the table: the `aft-account-request-action-trigger` function
/// and its event source mapping on the stream (AFT's lambda.tf: batch 1, one retry).
pub async fn action_trigger(l: &Landing, stream_arn: &str) {
    let iam = aws_sdk_iam::Client::new(&l.aft_cfg);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam
        .create_role()
        .role_name("aft-lambda-account-request-processor")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&l.aft_cfg);
    // a zip with one file: the function is never run here (moto would need Docker for that)
    let zip = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    let f = lambda
        .create_function()
        .function_name("aft-account-request-action-trigger")
        .runtime(aws_sdk_lambda::types::Runtime::Python311)
        .role(role.role().unwrap().arn())
        .handler("aft_account_request_action_trigger.lambda_handler")
        .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(zip.into()).build())
        .send()
        .await
        .unwrap();
    lambda
        .create_event_source_mapping()
        .event_source_arn(stream_arn)
        .function_name(f.function_arn().unwrap())
        .starting_position(aws_sdk_lambda::types::EventSourcePosition::Latest)
        .batch_size(1)
        .maximum_retry_attempts(1)
        .send()
        .await
        .unwrap();
}

/// AFT's Control Tower event rule, enabled: `aft-controltower-event-logger` on the bus
/// `aft-events-from-ct-management`, matching Control Tower's account lifecycle events.
pub async fn ct_event_rule(l: &Landing) {
    let events = aws_sdk_eventbridge::Client::new(&l.aft_cfg);
    events.create_event_bus().name("aft-events-from-ct-management").send().await.unwrap();
    let pattern = r#"{"source":["aws.controltower"],"detail-type":["AWS Service Event via CloudTrail"],"detail":{"eventName":["CreateManagedAccount","UpdateManagedAccount"]}}"#;
    events
        .put_rule()
        .name("aft-controltower-event-logger")
        .event_bus_name("aft-events-from-ct-management")
        .event_pattern(pattern)
        .state(aws_sdk_eventbridge::types::RuleState::Enabled)
        .send()
        .await
        .unwrap();
}

/// Every row of the request table, by id.
pub async fn rows(l: &Landing) -> BTreeMap<String, HashMap<String, Av>> {
    let out = aws_sdk_dynamodb::Client::new(&l.aft_cfg).scan().table_name("aft-request").send().await.unwrap();
    out.items().iter().map(|i| (i["id"].as_s().unwrap().clone(), i.clone())).collect()
}

/// Runs the model of AFT's Lambdas (`tests/aft_model.py`) and returns its JSON answer.
pub fn model(l: &Landing, verb: &str, arg: &str, stdin: Option<&serde_json::Value>) -> serde_json::Value {
    use std::io::Write;
    let moto = super::Moto::get();
    let mut cmd = std::process::Command::new(super::moto::venv_bin("python"));
    cmd.arg(super::repo().join("tests/aft_model.py")).args([&moto.endpoint, &l.aft, &l.ct, verb]);
    if !arg.is_empty() {
        cmd.arg(arg);
    }
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("python");
    child.stdin.take().unwrap().write_all(stdin.map(|v| v.to_string()).unwrap_or_default().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "aft_model.py {verb}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A stream record for a write of `new` over `old` (DynamoDB's images), as AFT's trigger gets it.
pub fn record(old: Option<&HashMap<String, Av>>, new: Option<&HashMap<String, Av>>) -> serde_json::Value {
    fn json(v: &Av) -> serde_json::Value {
        match v {
            Av::S(s) => serde_json::json!({ "S": s }),
            Av::M(m) => {
                serde_json::json!({ "M": m.iter().map(|(k, v)| (k.clone(), json(v))).collect::<serde_json::Map<_, _>>() })
            }
            other => serde_json::json!({ "S": format!("{other:?}") }),
        }
    }
    let image = |i: Option<&HashMap<String, Av>>| {
        i.map(|m| m.iter().map(|(k, v)| (k.clone(), json(v))).collect::<serde_json::Map<_, _>>())
    };
    let event = match (old, new) {
        (None, Some(_)) => "INSERT",
        (Some(_), None) => "REMOVE",
        _ => "MODIFY",
    };
    serde_json::json!({ "eventName": event, "OldImage": image(old), "NewImage": image(new) })
}

/// Seeds what AFT leaves behind for an account: the account in its OU with tags, the
/// `aft-request` row (AFT's shape: tags and custom fields as JSON strings), the metadata item
/// (AFT's shape, without our `account_request`), `AWSAFTExecution`, and the SSM custom fields.
pub async fn seed_account(l: &Landing, n: usize, ou: &'static str) -> Seeded {
    seed_named(l, n, ou, &format!("legacy{n}")).await
}

/// [`seed_account`] with the account name `name` (in Organizations and in AFT's request row).
pub async fn seed_named(l: &Landing, n: usize, ou: &'static str, name: &str) -> Seeded {
    let email = format!("legacy{n}-{}@example.com", super::suffix());
    let name = name.to_string();
    let id = l.create_account(&email, &name, Some(ou)).await;
    let tags = vec![("Owner".to_string(), format!("team-{n}")), ("Env".to_string(), "dev".to_string())];
    let custom = vec![("tier".to_string(), format!("t{n}"))];
    let org = l.org();
    let mut req = org.tag_resource().resource_id(&id);
    for (k, v) in &tags {
        req = req.tags(aws_sdk_organizations::types::Tag::builder().key(k).value(v).build().unwrap());
    }
    req.send().await.unwrap();
    let json = |kv: &[(String, String)]| {
        serde_json::to_string(&kv.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()).unwrap()
    };
    let ct = [
        ("AccountEmail", email.clone()),
        ("AccountName", name.clone()),
        ("ManagedOrganizationalUnit", ou.to_string()),
        ("SSOUserEmail", "owner@example.com".to_string()),
        ("SSOUserFirstName", "Ada".to_string()),
        ("SSOUserLastName", "Lovelace".to_string()),
    ];
    let ddb = aws_sdk_dynamodb::Client::new(&l.aft_cfg);
    ddb.put_item()
        .table_name("aft-request")
        .item("id", Av::S(email.clone()))
        .item("control_tower_parameters", Av::M(ct.iter().map(|(k, v)| (k.to_string(), Av::S(v.clone()))).collect()))
        .item(
            "change_management_parameters",
            Av::M(
                [("change_reason", "onboarding"), ("change_requested_by", "platform")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), Av::S(v.to_string())))
                    .collect(),
            ),
        )
        .item("account_tags", Av::S(json(&tags)))
        .item("account_customizations_name", Av::S("sandbox".into()))
        .item("custom_fields", Av::S(json(&custom)))
        .send()
        .await
        .unwrap();
    let tag_refs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    l.put_metadata(&id, &email, &name, &l.ous[ou], &tag_refs).await;
    let cfg = super::Moto::get().account(&id).await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}}"#,
        l.aft
    );
    aws_sdk_iam::Client::new(&cfg)
        .create_role()
        .role_name("AWSAFTExecution")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let ssm = aws_sdk_ssm::Client::new(&cfg);
    for (k, v) in &custom {
        ssm.put_parameter()
            .name(format!("/aft/account-request/custom-fields/{k}"))
            .value(v)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    }
    Seeded { id, email, name, ou, tags, custom }
}

/// Creates the customizations pipeline `name` the way AFT's `aft-create-pipeline` does
/// (`customizations_pipeline/codepipeline.tf`): CodeCommit sources, the global and account
/// CodeBuild stages with `VENDED_ACCOUNT_ID = vended`, the artifact bucket encrypted with AFT's
/// KMS key (`encryption_key { id = data.aws_kms_alias.aft_key.arn, type = "KMS" }`), tagged
/// `managed_by = AFT`. `role` is the pipeline role ([`Landing::create_pipeline_role`]).
pub async fn customizations_pipeline(l: &Landing, name: &str, vended: &str, role: &str) {
    use aws_sdk_codepipeline::types::*;
    let key = format!("arn:aws:kms:us-east-1:{}:alias/aft", l.aft);
    let type_id = |category, provider| {
        ActionTypeId::builder()
            .category(category)
            .owner(ActionOwner::Aws)
            .provider(provider)
            .version("1")
            .build()
            .unwrap()
    };
    let source = |repo: &str| {
        ActionDeclaration::builder()
            .name(repo)
            .action_type_id(type_id(ActionCategory::Source, "CodeCommit"))
            .output_artifacts(OutputArtifact::builder().name(format!("source-{repo}")).build().unwrap())
            .configuration("RepositoryName", repo)
            .configuration("BranchName", "main")
            .configuration("PollForSourceChanges", "false")
            .build()
            .unwrap()
    };
    let env = format!(r#"[{{"name":"VENDED_ACCOUNT_ID","value":"{vended}","type":"PLAINTEXT"}}]"#);
    let build = |stage: &str, repo: &str| {
        let apply = ActionDeclaration::builder()
            .name("Apply")
            .action_type_id(type_id(ActionCategory::Build, "CodeBuild"))
            .input_artifacts(InputArtifact::builder().name(format!("source-{repo}")).build().unwrap())
            .configuration("ProjectName", format!("{repo}-terraform"))
            .configuration("PrimarySource", format!("source-{repo}"))
            .configuration("EnvironmentVariables", env.clone())
            .build()
            .unwrap();
        StageDeclaration::builder().name(stage).actions(apply).build().unwrap()
    };
    let decl = PipelineDeclaration::builder()
        .name(name)
        .role_arn(role)
        .artifact_store(
            ArtifactStore::builder()
                .r#type(ArtifactStoreType::S3)
                .location(format!("aft-customizations-pipeline-{}", l.aft))
                .encryption_key(EncryptionKey::builder().id(key).r#type(EncryptionKeyType::Kms).build().unwrap())
                .build()
                .unwrap(),
        )
        .stages(
            StageDeclaration::builder()
                .name("Source")
                .actions(source("aft-global-customizations"))
                .actions(source("aft-account-customizations"))
                .build()
                .unwrap(),
        )
        .stages(build("Global-Customizations", "aft-global-customizations"))
        .stages(build("Account-Customizations", "aft-account-customizations"))
        .pipeline_type(PipelineType::V2)
        .build()
        .unwrap();
    let tag = Tag::builder().key("managed_by").value("AFT").build().unwrap();
    l.codepipeline().create_pipeline().pipeline(decl).tags(tag).send().await.unwrap();
}
