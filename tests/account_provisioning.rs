//! `aft_account_provisioning` end to end: real Terraform, the built provider, moto.

mod common;

use common::fixtures::{CUSTOMIZATIONS_ASL, account_block};
use common::{Landing, Moto, Tf};

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", common::suffix())
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_two_accounts_runs_every_step_and_a_second_plan_is_empty() {
    let l = Landing::new().await;
    let sm = l.create_customizations(CUSTOMIZATIONS_ASL).await;
    let (ea, eb) = (email("alpha"), email("beta"));
    let tf = Tf::new("two-accounts");
    tf.write(&format!(
        "{}{}{}",
        l.provider(ORGS),
        account_block(
            "alpha",
            &ea,
            "Sandbox",
            "  account_tags = { Owner = \"team-a\", CostCenter = \"42\" }\n  custom_fields = { tier = \"gold\" }\n  account_customizations_name = \"sandbox\"\n  change_management_parameters = {\n    change_requested_by = \"ada\"\n    change_reason = \"new team\"\n  }"
        ),
        account_block("beta", &eb, &format!("Prod ({})", l.ous["Prod"]), "")
    ));
    tf.apply();
    let a = tf.values("aft_account_provisioning.alpha");
    let b = tf.values("aft_account_provisioning.beta");
    let (ida, idb) = (a["account_id"].as_str().unwrap().to_string(), b["account_id"].as_str().unwrap().to_string());
    assert_eq!(a["id"], ida.as_str());
    assert_eq!(l.parent(&ida).await, l.ous["Sandbox"]);
    assert_eq!(l.parent(&idb).await, l.ous["Prod"]);
    assert_eq!(a["parent_ou_id"], l.ous["Sandbox"].as_str());
    assert_eq!(a["account_status"], "ACTIVE");
    assert_eq!(a["execution_role_arn"], format!("arn:aws:iam::{ida}:role/AWSAFTExecution").as_str());
    assert!(a["framework_completed_at"].as_str().is_some_and(|s| s.contains('T')));

    // step 3: AFT's metadata item and an audit record
    let item = l.metadata(&ida).await.expect("metadata item");
    for k in [
        "id",
        "email",
        "account_name",
        "account_creation_time",
        "account_status",
        "account_level_tags",
        "account_customizations_name",
        "parent_ou",
        "vcs_information",
        "terraform_workspace",
    ] {
        assert!(item.contains_key(k), "metadata item lacks {k}");
    }
    assert_eq!(item["email"].as_s().unwrap(), &ea);
    assert_eq!(item["parent_ou"].as_s().unwrap(), &l.ous["Sandbox"]);
    assert_eq!(item["account_level_tags"].as_m().unwrap()["Owner"].as_s().unwrap(), "team-a");
    assert_eq!(item["account_customizations_name"].as_s().unwrap(), "sandbox");
    let audit = aws_sdk_dynamodb::Client::new(&l.aft_cfg)
        .query()
        .table_name("aft-request-audit")
        .key_condition_expression("id = :e")
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::S(ea.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(audit.count(), 1);
    assert_eq!(audit.items()[0]["ddb_event_name"].as_s().unwrap(), "INSERT");

    // step 4: both roles, AFT's trust policy, AdministratorAccess
    let moto = Moto::get();
    for id in [&ida, &idb] {
        let iam = aws_sdk_iam::Client::new(&moto.account(id).await);
        for role in ["AWSAFTService", "AWSAFTExecution"] {
            let r = iam.get_role().role_name(role).send().await.unwrap();
            let doc = r.role().unwrap().assume_role_policy_document().unwrap();
            let doc: serde_json::Value =
                serde_json::from_str(doc).unwrap_or_else(|_| serde_json::from_str(&urlencoding_decode(doc)).unwrap());
            let principals = &doc["Statement"][0]["Principal"]["AWS"];
            assert_eq!(
                principals,
                &serde_json::json!([
                    format!("arn:aws:iam::{}:role/AWSAFTAdmin", l.aft),
                    format!("arn:aws:sts::{}:assumed-role/AWSAFTAdmin/AWSAFT-Session", l.aft)
                ]),
                "{role} in {id}"
            );
            let attached = iam.list_attached_role_policies().role_name(role).send().await.unwrap();
            assert!(
                attached
                    .attached_policies()
                    .iter()
                    .any(|p| p.policy_arn() == Some("arn:aws:iam::aws:policy/AdministratorAccess"))
            );
        }
    }

    // step 5: tags and custom fields
    let tags = l.tags(&ida).await;
    assert_eq!(tags.get("Owner").map(String::as_str), Some("team-a"));
    assert_eq!(tags.get("CostCenter").map(String::as_str), Some("42"));
    let ssm = aws_sdk_ssm::Client::new(&moto.account(&ida).await);
    let p = ssm.get_parameter().name("/aft/account-request/custom-fields/tier").send().await.unwrap();
    assert_eq!(p.parameter().unwrap().value(), Some("gold"));

    // step 7: the state machine ran with AFT's payload and succeeded, once per account
    let execs = l.executions(&sm).await;
    assert_eq!(execs.len(), 2, "{execs:?}");
    let (status, input) = execs.iter().find(|(_, i)| i["account_info"]["account"]["id"] == ida.as_str()).unwrap();
    assert_eq!(status, "SUCCEEDED");
    assert_eq!(input["account_info"]["account"]["email"], ea.as_str());
    assert_eq!(input["account_info"]["account"]["parent_id"], l.ous["Sandbox"].as_str());
    assert_eq!(input["account_info"]["account"]["type"], "account");
    assert_eq!(input["account_request"]["account_tags"]["Owner"], "team-a");
    assert_eq!(input["account_request"]["custom_fields"], "{\"tier\":\"gold\"}");
    assert_eq!(input["account_request"]["control_tower_parameters"]["AccountName"], "alpha");
    assert_eq!(input["account_request"]["change_management_parameters"]["change_reason"], "new team");
    assert_eq!(input["account_provisioning"]["run_create_pipeline"], "true");
    assert_eq!(input["customization_request_id"], a["framework_run_id"]);

    // step 10: one success notification per account, naming every step
    for id in [&ida, &idb] {
        let n = l.notifications(id).await;
        assert_eq!(n.len(), 1, "{n:?}");
        let (failed, msg) = &n[0];
        assert!(!failed);
        assert_eq!(msg["status"], "SUCCEEDED");
        let steps: Vec<&str> = msg["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(
            steps,
            [
                "account_info",
                "persist_metadata",
                "create_role",
                "tag_account",
                "account_metadata_ssm",
                "aft_features",
                "provisioning_customizations"
            ]
        );
        assert!(msg["steps"].as_array().unwrap().iter().all(|s| s["duration_ms"].is_u64() && s["outcome"] != "failed"));
    }

    assert_eq!(tf.plan_exit(), 0, "a second plan must show no changes");
}

fn urlencoding_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
