//! `aft_provisioning_customizations`: the customization state machine deployed and checked by the
//! provider, and accounts re-running their customizations when it changes.

use aft_test_harness as common;

use common::fixtures::account_block;
use common::{Landing, Tf};

const V1: &str = r#"{
  "StartAt": "Tagged",
  "States": {
    "Tagged": {"Type": "Choice", "Choices": [{"Variable": "$.account_request.account_tags.Environment", "StringEquals": "prod", "Next": "Prod"}], "Default": "Standard"},
    "Prod": {"Type": "Pass", "Result": "prod-v1", "ResultPath": "$.baseline", "End": true},
    "Standard": {"Type": "Pass", "Result": "standard-v1", "ResultPath": "$.baseline", "End": true}
  }
}"#;

fn machine(definition: &str, extra: &str) -> String {
    format!(
        "resource \"aft_provisioning_customizations\" \"this\" {{\n  definition = <<-EOT\n{definition}\n  EOT\n{extra}}}\n"
    )
}

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

#[tokio::test(flavor = "multi_thread")]
async fn deploys_the_machine_and_its_role_updates_in_place_and_destroys_both() {
    let l = Landing::new().await;
    let tf = Tf::new("pc-lifecycle");
    tf.write(&format!("{}{}", l.provider(ORGS), machine(V1, "  tags = { team = \"platform\" }\n")));
    tf.apply();
    let v = tf.values("aft_provisioning_customizations.this");
    let arn = v["arn"].as_str().unwrap().to_string();
    assert!(arn.ends_with(":stateMachine:aft-account-provisioning-customizations"), "{arn}");
    assert_eq!(v["role_created"], true);
    let sfn = aws_sdk_sfn::Client::new(&l.aft_cfg);
    let d = sfn.describe_state_machine().state_machine_arn(&arn).send().await.unwrap();
    let deployed: serde_json::Value = serde_json::from_str(d.definition()).unwrap();
    assert_eq!(deployed, serde_json::from_str::<serde_json::Value>(V1).unwrap());
    assert!(d.role_arn().ends_with(":role/aft-account-provisioning-customizations-role"));
    let iam = aws_sdk_iam::Client::new(&l.aft_cfg);
    let role = iam.get_role().role_name("aft-account-provisioning-customizations-role").send().await.unwrap();
    let trust = role.role().unwrap().assume_role_policy_document().unwrap();
    assert!(trust.contains("states.amazonaws.com"), "{trust}");
    assert_eq!(tf.plan_exit(), 0);

    let v2 = V1.replace("standard-v1", "standard-v2");
    tf.write(&format!("{}{}", l.provider(ORGS), machine(&v2, "  tags = { team = \"platform\" }\n")));
    let plan = tf.plan_json();
    let c = common::terraform::change_of(&plan, "aft_provisioning_customizations.this");
    assert_eq!(c["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(c["change"]["after_unknown"]["revision_id"], true);
    tf.apply();
    let d = sfn.describe_state_machine().state_machine_arn(&arn).send().await.unwrap();
    assert!(d.definition().contains("standard-v2"));
    assert_ne!(tf.values("aft_provisioning_customizations.this")["revision_id"], v["revision_id"]);
    assert_eq!(tf.plan_exit(), 0);

    tf.destroy();
    assert!(sfn.describe_state_machine().state_machine_arn(&arn).send().await.is_err());
    assert!(iam.get_role().role_name("aft-account-provisioning-customizations-role").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_passed_in_is_used_and_kept() {
    let l = Landing::new().await;
    let iam = aws_sdk_iam::Client::new(&l.aft_cfg);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam.create_role().role_name("my-sfn-role").assume_role_policy_document(trust).send().await.unwrap();
    let role_arn = role.role().unwrap().arn().to_string();
    let tf = Tf::new("pc-own-role");
    tf.write(&format!("{}{}", l.provider(ORGS), machine(V1, &format!("  role_arn = \"{role_arn}\"\n"))));
    tf.apply();
    assert_eq!(tf.values("aft_provisioning_customizations.this")["role_created"], false);
    assert!(iam.get_role().role_name("aft-account-provisioning-customizations-role").send().await.is_err());
    assert_eq!(tf.plan_exit(), 0);
    tf.destroy();
    assert!(iam.get_role().role_name("my-sfn-role").send().await.is_ok(), "a role passed in is kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_wired_to_revision_id_rerun_when_the_definition_changes() {
    let l = Landing::new().await;
    let wire = "  rerun_triggers = { customizations = aft_provisioning_customizations.this.revision_id }\n  account_tags = { Environment = \"prod\" }";
    let emails: Vec<String> = (0..3).map(|i| format!("wired{i}-{}@example.com", common::suffix())).collect();
    let config = |def: &str| {
        format!(
            "{}{}{}{}{}",
            l.provider(ORGS),
            machine(def, ""),
            account_block("w0", &emails[0], "Sandbox", wire),
            account_block(
                "w1",
                &emails[1],
                "Sandbox",
                "  rerun_triggers = { customizations = aft_provisioning_customizations.this.revision_id }"
            ),
            account_block("plain", &emails[2], "Sandbox", "")
        )
    };
    let tf = Tf::new("pc-rerun");
    tf.write(&config(V1));
    tf.apply();
    let arn = tf.values("aft_provisioning_customizations.this")["arn"].as_str().unwrap().to_string();
    assert_eq!(l.executions(&arn).await.len(), 3);

    let v2 = V1.replace("-v1", "-v2");
    tf.write(&config(&v2));
    let plan = tf.plan_json();
    let mut changes = common::terraform::changes(&plan);
    changes.sort();
    let update = vec!["update".to_string()];
    assert_eq!(
        changes,
        vec![
            ("aft_account_provisioning.w0".to_string(), update.clone()),
            ("aft_account_provisioning.w1".to_string(), update.clone()),
            ("aft_provisioning_customizations.this".to_string(), update.clone()),
        ]
    );
    tf.apply();

    let sfn = aws_sdk_sfn::Client::new(&l.aft_cfg);
    let list = sfn.list_executions().state_machine_arn(&arn).send().await.unwrap();
    assert_eq!(list.executions().len(), 5, "two more executions, for the wired accounts only");
    let mut outputs = Vec::new();
    for e in list.executions() {
        let d = sfn.describe_execution().execution_arn(e.execution_arn()).send().await.unwrap();
        let input: serde_json::Value = serde_json::from_str(d.input().unwrap()).unwrap();
        let output: serde_json::Value = serde_json::from_str(d.output().unwrap_or("{}")).unwrap_or_default();
        outputs.push((
            input["account_info"]["account"]["email"].as_str().unwrap().to_string(),
            output["baseline"].as_str().unwrap_or("").to_string(),
        ));
    }
    let ran = |email: &str, baseline: &str| outputs.iter().any(|(e, b)| e == email && b == baseline);
    assert!(ran(&emails[0], "prod-v2"), "{outputs:?}");
    assert!(ran(&emails[1], "standard-v2"), "{outputs:?}");
    assert!(!outputs.iter().any(|(e, b)| e == &emails[2] && b.ends_with("v2")), "{outputs:?}");
    assert_eq!(tf.plan_exit(), 0);
}

/// (what, definition, state the message must name)
fn invalid() -> Vec<(&'static str, String, &'static str)> {
    let s = |states: &str| format!(r#"{{"StartAt":"Start","States":{states}}}"#);
    vec![
        ("invalid JSON", "{\"StartAt\": \"Start\", \"States\": {".to_string(), "not valid JSON"),
        ("missing StartAt", r#"{"States":{"Start":{"Type":"Succeed"}}}"#.to_string(), "no StartAt"),
        ("unknown StartAt", r#"{"StartAt":"Begin","States":{"Start":{"Type":"Succeed"}}}"#.to_string(), "Begin"),
        ("Next to nowhere", s(r#"{"Start":{"Type":"Pass","Next":"Ghost"}}"#), "Start"),
        (
            "Default to nowhere",
            s(
                r#"{"Start":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"End"}],"Default":"Ghost"},"End":{"Type":"Succeed"}}"#,
            ),
            "Start",
        ),
        (
            "Catch to nowhere",
            s(
                r#"{"Start":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true,"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Ghost"}]}}"#,
            ),
            "Start, Catch[0]",
        ),
        ("neither Next nor End", s(r#"{"Start":{"Type":"Pass"}}"#), "Start"),
        (
            "both Next and End",
            s(r#"{"Start":{"Type":"Pass","Next":"Done","End":true},"Done":{"Type":"Succeed"}}"#),
            "Start",
        ),
        ("unreachable state", s(r#"{"Start":{"Type":"Succeed"},"Orphan":{"Type":"Succeed"}}"#), "Orphan"),
        ("unknown Type", s(r#"{"Start":{"Type":"Sleep","End":true}}"#), "Start"),
        (
            "Choice rule without comparison",
            s(r#"{"Start":{"Type":"Choice","Choices":[{"Variable":"$.a","Next":"Done"}]},"Done":{"Type":"Succeed"}}"#),
            "Start, Choices[0]",
        ),
        (
            "Choice rule with unknown operator",
            s(
                r#"{"Start":{"Type":"Choice","Choices":[{"Variable":"$.a","StringEq":"x","Next":"Done"}]},"Done":{"Type":"Succeed"}}"#,
            ),
            "Start, Choices[0]",
        ),
        (
            "Fail with Next",
            s(r#"{"Start":{"Type":"Fail","Error":"E","Next":"Done"},"Done":{"Type":"Succeed"}}"#),
            "Start",
        ),
        ("Task Resource not an ARN", s(r#"{"Start":{"Type":"Task","Resource":"my-lambda","End":true}}"#), "Start"),
        (
            "Parallel branch broken",
            s(
                r#"{"Start":{"Type":"Parallel","End":true,"Branches":[{"StartAt":"X","States":{"X":{"Type":"Pass","Next":"Nowhere"}}}]}}"#,
            ),
            "Start/branch 1/X",
        ),
        (
            "Map processor broken",
            s(
                r#"{"Start":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"M","States":{"M":{"Type":"Task","Resource":"fn","End":true}}}}}"#,
            ),
            "Start/items/M",
        ),
        (
            "Choice with End",
            s(
                r#"{"Start":{"Type":"Choice","End":true,"Choices":[{"Variable":"$.a","IsPresent":true,"Next":"Done"}]},"Done":{"Type":"Succeed"}}"#,
            ),
            "Start",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_definitions_fail_at_plan_naming_the_state_and_create_nothing() {
    let l = Landing::new().await;
    let cases = invalid();
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for (what, def, names) in &cases {
        let tf = Tf::new("pc-invalid");
        tf.write(&format!("{}{}", l.provider(ORGS), machine(def, "")));
        let out = tf.run(&["plan", "-input=false", "-json"]);
        let errs = out.errors();
        let ok = out.code != 0
            && errs.iter().any(|d| {
                d["snippet"]["code"].as_str().is_some_and(|c| c.contains("definition"))
                    && d["detail"].as_str().is_some_and(|x| x.contains(names))
            });
        if !ok {
            failures.push(format!("{what}: exit {}, {errs:#?}", out.code));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let machines = aws_sdk_sfn::Client::new(&l.aft_cfg).list_state_machines().send().await.unwrap();
    assert!(machines.state_machines().is_empty());
    let iam = aws_sdk_iam::Client::new(&l.aft_cfg);
    assert!(iam.get_role().role_name("aft-account-provisioning-customizations-role").send().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn import_by_name_and_by_identity_plans_no_changes() {
    let l = Landing::new().await;
    let src = Tf::new("pc-import-src");
    src.write(&format!("{}{}", l.provider(ORGS), machine(V1, "")));
    src.apply();
    let arn = src.values("aft_provisioning_customizations.this")["arn"].as_str().unwrap().to_string();

    let by_name = Tf::new("pc-import-name");
    by_name.write(&format!("{}{}", l.provider(ORGS), machine(V1, "")));
    by_name
        .run(&[
            "import",
            "-input=false",
            "-no-color",
            "aft_provisioning_customizations.this",
            "aft-account-provisioning-customizations",
        ])
        .ok();
    assert_eq!(by_name.values("aft_provisioning_customizations.this")["arn"], arn.as_str());
    assert_eq!(by_name.values("aft_provisioning_customizations.this")["role_created"], true);
    assert_eq!(by_name.plan_exit(), 0);

    let by_identity = Tf::new("pc-import-identity");
    by_identity.write(&format!(
        "{}{}\nimport {{\n  to = aft_provisioning_customizations.this\n  identity = {{\n    arn = \"{arn}\"\n  }}\n}}\n",
        l.provider(ORGS),
        machine(V1, "")
    ));
    let plan = by_identity.plan_json();
    assert!(common::terraform::changes(&plan).is_empty(), "{:?}", common::terraform::changes(&plan));
    by_identity.apply();
    assert_eq!(by_identity.plan_exit(), 0);
}
