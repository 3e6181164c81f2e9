//! An AFT management baseline in moto, one per test: its own AFT management account and its own
//! Control Tower management account with an organization, so tests never share state.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};

use super::moto::Moto;

/// Writes (or overwrites) a String parameter in SSM.
pub async fn put_parameter(cfg: &SdkConfig, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(cfg)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

/// One landing zone.
pub struct Landing {
    pub aft: String,
    pub ct: String,
    pub aft_cfg: SdkConfig,
    pub ct_cfg: SdkConfig,
    pub root: String,
    /// OU name → id: Sandbox, Workloads, Prod (under Workloads), Parking.
    pub ous: BTreeMap<String, String>,
    pub topic: String,
    pub failure_topic: String,
    /// SQS queue subscribed to both topics (how tests read notifications).
    pub queue_url: String,
    received: std::sync::Mutex<Vec<(bool, serde_json::Value)>>,
}

impl Landing {
    /// Seeds the baseline: organization and OUs in the CT account; metadata and audit tables,
    /// SNS topics and AFT's SSM account parameters in the AFT account.
    pub async fn new() -> Landing {
        let moto = Moto::get();
        let aft = super::random_account_id();
        let ct = super::random_account_id();
        let aft_cfg = moto.account(&aft).await;
        let ct_cfg = moto.account(&ct).await;

        let org = aws_sdk_organizations::Client::new(&ct_cfg);
        org.create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .unwrap();
        let root = org.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_string();
        let mut ous: BTreeMap<String, String> = BTreeMap::new();
        for (name, parent) in [("Sandbox", None), ("Workloads", None), ("Prod", Some("Workloads")), ("Parking", None)] {
            let parent_id = parent.map(|p: &str| ous[p].clone()).unwrap_or_else(|| root.clone());
            let out = org.create_organizational_unit().parent_id(parent_id).name(name).send().await.unwrap();
            ous.insert(name.to_string(), out.organizational_unit().unwrap().id().unwrap().to_string());
        }

        let ddb = aws_sdk_dynamodb::Client::new(&aft_cfg);
        let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
        let attr = |n: &str| {
            AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().unwrap()
        };
        ddb.create_table()
            .table_name("aft-request-metadata")
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("id", KeyType::Hash))
            .attribute_definitions(attr("id"))
            .send()
            .await
            .unwrap();
        ddb.create_table()
            .table_name("aft-request-audit")
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("id", KeyType::Hash))
            .key_schema(key("timestamp", KeyType::Range))
            .attribute_definitions(attr("id"))
            .attribute_definitions(attr("timestamp"))
            .send()
            .await
            .unwrap();

        let sns = aws_sdk_sns::Client::new(&aft_cfg);
        let topic = sns.create_topic().name("aft-notifications").send().await.unwrap().topic_arn().unwrap().to_string();
        let failure_topic =
            sns.create_topic().name("aft-failure-notifications").send().await.unwrap().topic_arn().unwrap().to_string();

        let sqs = aws_sdk_sqs::Client::new(&aft_cfg);
        let queue_url =
            sqs.create_queue().queue_name("test-notifications").send().await.unwrap().queue_url().unwrap().to_string();
        let queue_arn = format!("arn:aws:sqs:us-east-1:{aft}:test-notifications");
        for t in [&topic, &failure_topic] {
            sns.subscribe().topic_arn(t).protocol("sqs").endpoint(&queue_arn).send().await.unwrap();
        }

        for (name, value) in [("aft-management", &aft), ("ct-management", &ct)] {
            put_parameter(&aft_cfg, &format!("/aft/account/{name}/account-id"), value).await;
        }
        Landing { aft, ct, aft_cfg, ct_cfg, root, ous, topic, failure_topic, queue_url, received: Default::default() }
    }

    /// The provider block for this landing zone (extra HCL goes inside it).
    pub fn provider(&self, extra: &str) -> String {
        format!(
            "terraform {{\n  required_providers {{\n    aft = {{ source = \"aft-rs/aft\" }}\n  }}\n}}\n\n\
             provider \"aft\" {{\n  assume_role {{\n    role_arn = \"arn:aws:iam::{}:role/AWSAFTAdmin\"\n  }}\n{extra}\n}}\n",
            self.aft
        )
    }

    /// Creates an account in the organization directly (not through the provider).
    pub async fn create_account(&self, email: &str, name: &str, ou: Option<&str>) -> String {
        let org = aws_sdk_organizations::Client::new(&self.ct_cfg);
        let out = org.create_account().email(email).account_name(name).send().await.unwrap();
        let id = out.create_account_status().unwrap().account_id().unwrap().to_string();
        if let Some(ou) = ou {
            org.move_account()
                .account_id(&id)
                .source_parent_id(&self.root)
                .destination_parent_id(&self.ous[ou])
                .send()
                .await
                .unwrap();
        }
        id
    }

    /// Writes a metadata item the way AFT does.
    pub async fn put_metadata(&self, id: &str, email: &str, name: &str, parent: &str, tags: &[(&str, &str)]) {
        use aws_sdk_dynamodb::types::AttributeValue as Av;
        let tags = Av::M(tags.iter().map(|(k, v)| (k.to_string(), Av::S(v.to_string()))).collect());
        aws_sdk_dynamodb::Client::new(&self.aft_cfg)
            .put_item()
            .table_name("aft-request-metadata")
            .item("id", Av::S(id.into()))
            .item("email", Av::S(email.into()))
            .item("account_name", Av::S(name.into()))
            .item("account_status", Av::S("ACTIVE".into()))
            .item("account_level_tags", tags)
            .item("account_customizations_name", Av::S("sandbox".into()))
            .item("parent_ou", Av::S(parent.into()))
            .send()
            .await
            .unwrap();
    }

    /// The `aft-request-audit` records of an email, each its `ddb_event_name` (`INSERT`,
    /// `MODIFY`, `REMOVE`), oldest first.
    pub async fn audit_events(&self, email: &str) -> Vec<String> {
        use aws_sdk_dynamodb::types::AttributeValue as Av;
        let out = aws_sdk_dynamodb::Client::new(&self.aft_cfg)
            .query()
            .table_name("aft-request-audit")
            .key_condition_expression("id = :e")
            .expression_attribute_values(":e", Av::S(email.to_string()))
            .send()
            .await
            .unwrap();
        out.items()
            .iter()
            .map(|i| i.get("ddb_event_name").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default())
            .collect()
    }

    /// Reads a metadata item.
    pub async fn metadata(
        &self,
        id: &str,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        aws_sdk_dynamodb::Client::new(&self.aft_cfg)
            .get_item()
            .table_name("aft-request-metadata")
            .key("id", aws_sdk_dynamodb::types::AttributeValue::S(id.into()))
            .send()
            .await
            .unwrap()
            .item
    }
}

/// A customization state machine that fails when `account_customizations_name` is "fail" and
/// succeeds otherwise (moto runs the ASL for real).
pub const CUSTOMIZATIONS_ASL: &str = r#"{
  "StartAt": "Check",
  "States": {
    "Check": {
      "Type": "Choice",
      "Choices": [{"Variable": "$.account_request.account_customizations_name", "StringEquals": "fail", "Next": "Boom"}],
      "Default": "Done"
    },
    "Boom": {"Type": "Fail", "Error": "CustomizationFailed", "Cause": "the request asked to fail"},
    "Done": {"Type": "Succeed"}
  }
}"#;

impl Landing {
    /// Deploys `aft-account-provisioning-customizations` in the AFT account; returns its ARN.
    pub async fn create_customizations(&self, definition: &str) -> String {
        aws_sdk_sfn::Client::new(&self.aft_cfg)
            .create_state_machine()
            .name("aft-account-provisioning-customizations")
            .definition(definition)
            .role_arn(format!("arn:aws:iam::{}:role/aft-account-provisioning-customizations-role", self.aft))
            .send()
            .await
            .unwrap()
            .state_machine_arn()
            .to_string()
    }

    /// (status, input) of every execution of a state machine.
    pub async fn executions(&self, arn: &str) -> Vec<(String, serde_json::Value)> {
        let sfn = aws_sdk_sfn::Client::new(&self.aft_cfg);
        let list = sfn.list_executions().state_machine_arn(arn).send().await.unwrap();
        let mut out = Vec::new();
        for e in list.executions() {
            let d = sfn.describe_execution().execution_arn(e.execution_arn()).send().await.unwrap();
            out.push((d.status().as_str().to_string(), serde_json::from_str(d.input().unwrap_or("null")).unwrap()));
        }
        out
    }

    /// Organizations client in the CT management account.
    pub fn org(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.ct_cfg)
    }

    /// The parent of an account.
    pub async fn parent(&self, id: &str) -> String {
        self.org().list_parents().child_id(id).send().await.unwrap().parents()[0].id().unwrap().to_string()
    }

    /// Organizations tags of an account.
    pub async fn tags(&self, id: &str) -> BTreeMap<String, String> {
        self.org()
            .list_tags_for_resource()
            .resource_id(id)
            .send()
            .await
            .unwrap()
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    }

    /// Accounts of the organization with this email (any case).
    pub async fn accounts_with_email(&self, email: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut pages = self.org().list_accounts().into_paginator().send();
        while let Some(p) = pages.next().await {
            for a in p.unwrap().accounts() {
                if a.email().unwrap_or_default().eq_ignore_ascii_case(email) {
                    out.push(a.id().unwrap().to_string());
                }
            }
        }
        out
    }

    /// Notifications published for an account: (sent to the failure topic, parsed message).
    pub async fn notifications(&self, account: &str) -> Vec<(bool, serde_json::Value)> {
        let sqs = aws_sdk_sqs::Client::new(&self.aft_cfg);
        loop {
            let out = sqs.receive_message().queue_url(&self.queue_url).max_number_of_messages(10).send().await.unwrap();
            if out.messages().is_empty() {
                break;
            }
            for m in out.messages() {
                let envelope: serde_json::Value = serde_json::from_str(m.body().unwrap_or("{}")).unwrap();
                let failed = envelope["TopicArn"] == self.failure_topic.as_str();
                let msg = serde_json::from_str(envelope["Message"].as_str().unwrap_or("null"))
                    .unwrap_or(serde_json::Value::Null);
                self.received.lock().unwrap().push((failed, msg));
                sqs.delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        self.received.lock().unwrap().iter().filter(|(_, m)| m["account_id"] == account).cloned().collect()
    }
}

/// A provisioning customizations state machine that waits `seconds` (moto runs Wait states).
pub fn slow_asl(seconds: u64) -> String {
    format!(
        r#"{{"StartAt":"Slow","States":{{"Slow":{{"Type":"Wait","Seconds":{seconds},"Next":"Done"}},"Done":{{"Type":"Succeed"}}}}}}"#
    )
}

/// An `aft_account_provisioning` block.
pub fn account_block(name: &str, email: &str, ou: &str, extra: &str) -> String {
    format!(
        r#"
resource "aft_account_provisioning" "{name}" {{
  control_tower_parameters = {{
    AccountEmail              = "{email}"
    AccountName               = "{name}"
    ManagedOrganizationalUnit = "{ou}"
    SSOUserEmail              = "owner@example.com"
    SSOUserFirstName          = "Ada"
    SSOUserLastName           = "Lovelace"
  }}
{extra}
}}
"#
    )
}

impl Landing {
    /// A Log Archive bucket for the organization trail, recorded where AFT keeps its ARN
    /// (`/aft/account/log-archive/log_bucket_arn`); returns its name.
    pub async fn log_archive_bucket(&self) -> String {
        let moto = Moto::get();
        let bucket = format!("aft-logs-{}", super::suffix());
        let status = super::http::request_as(moto.port, &self.ct, "PUT", &format!("/{bucket}")).unwrap();
        assert_eq!(status, 200, "creating the log bucket");
        aws_sdk_ssm::Client::new(&self.aft_cfg)
            .put_parameter()
            .name("/aft/account/log-archive/log_bucket_arn")
            .value(format!("arn:aws:s3:::{bucket}"))
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
        bucket
    }

    /// AFT's `aft-codepipeline-customizations-role` (moto requires a pipeline's role to exist).
    pub async fn create_pipeline_role(&self) -> String {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codepipeline.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        aws_sdk_iam::Client::new(&self.aft_cfg)
            .create_role()
            .role_name("aft-codepipeline-customizations-role")
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap()
            .role()
            .unwrap()
            .arn()
            .to_string()
    }

    /// CodePipeline in the AFT account, through the timestamp shim.
    pub fn codepipeline(&self) -> aws_sdk_codepipeline::Client {
        let cfg = self.aft_cfg.to_builder().endpoint_url(&Moto::get().codepipeline_endpoint).build();
        aws_sdk_codepipeline::Client::new(&cfg)
    }

    /// Executions of a pipeline in the AFT account.
    pub async fn pipeline_executions(&self, name: &str) -> Vec<String> {
        self.codepipeline()
            .list_pipeline_executions()
            .pipeline_name(name)
            .send()
            .await
            .unwrap()
            .pipeline_execution_summaries()
            .iter()
            .map(|s| s.pipeline_execution_id().unwrap_or_default().to_string())
            .collect()
    }
}
