//! Moving from AFT (issue #7): `terraform query` finds an existing AFT deployment's accounts and
//! generates their configuration, the import plans nothing else, and the
//! `aft_invoke_customizations` action re-runs exactly its targets without touching the state.

use aft_test_harness as common;

use common::fixtures::{CUSTOMIZATIONS_ASL, account_block};
use common::{Landing, Tf, aft};

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

#[tokio::test(flavor = "multi_thread")]
async fn query_generates_config_that_imports_an_existing_aft_deployment() {
    let l = Landing::new().await;
    aft::request_table(&l, false).await;
    let mut seeded = Vec::new();
    for (n, ou) in [(1, "Sandbox"), (2, "Sandbox"), (3, "Prod"), (4, "Workloads"), (5, "Sandbox")] {
        seeded.push(aft::seed_account(&l, n, ou).await);
    }
    // an account AFT does not manage is not listed
    let stranger = l.create_account(&format!("stranger-{}@example.com", common::suffix()), "stranger", None).await;

    let tf = Tf::new("migrate");
    tf.write(&l.provider(ORGS));
    tf.write_file(
        "accounts.tfquery.hcl",
        "list \"aft_account_provisioning\" \"legacy\" {\n  provider         = aft\n  include_resource = true\n}\n",
    );
    tf.run(&["init", "-input=false", "-no-color"]).ok();
    let q = tf.run(&["query", "-no-color", "-generate-config-out=accounts.tf"]).ok();
    for s in &seeded {
        assert!(q.stdout.contains(&s.id), "query output lists {}:\n{}", s.id, q.stdout);
    }
    assert!(!q.stdout.contains(&stranger), "unmanaged account listed:\n{}", q.stdout);
    let generated = std::fs::read_to_string(tf.path("accounts.tf")).unwrap();
    for s in &seeded {
        assert!(generated.contains(&s.email), "generated config has {}:\n{generated}", s.email);
    }
    assert_eq!(generated.matches("import {").count(), 5, "{generated}");

    let plan = tf.plan_json();
    let changes = common::terraform::changes(&plan);
    assert!(changes.is_empty(), "only imports, no add/change/destroy: {changes:?}");
    let imports =
        plan["resource_changes"].as_array().unwrap().iter().filter(|c| c["change"]["importing"].is_object()).count();
    assert_eq!(imports, 5);
    tf.apply();
    assert_eq!(tf.plan_exit(), 0, "the plan after the import is empty");

    let state = tf.state();
    let resources = state["values"]["root_module"]["resources"].as_array().unwrap();
    for s in &seeded {
        let r = resources.iter().find(|r| r["values"]["account_id"] == s.id.as_str()).expect("imported");
        let v = &r["values"];
        assert_eq!(v["control_tower_parameters"]["AccountEmail"], s.email.as_str());
        assert_eq!(v["control_tower_parameters"]["AccountName"], s.name.as_str());
        assert_eq!(v["control_tower_parameters"]["ManagedOrganizationalUnit"], s.ou);
        for (k, val) in &s.tags {
            assert_eq!(v["account_tags"][k], val.as_str());
        }
        for (k, val) in &s.custom {
            assert_eq!(v["custom_fields"][k], val.as_str());
        }
        assert_eq!(v["change_management_parameters"]["change_reason"], "onboarding");
        assert_eq!(l.notifications(&s.id).await.len(), 0, "importing runs no framework");
        assert_eq!(l.accounts_with_email(&s.email).await.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn query_filters_by_ou_tag_and_email() {
    let l = Landing::new().await;
    aft::request_table(&l, false).await;
    let a = aft::seed_account(&l, 1, "Sandbox").await;
    let b = aft::seed_account(&l, 2, "Prod").await;
    let c = aft::seed_account(&l, 3, "Sandbox").await;
    let tf = Tf::new("migrate-filters");
    tf.write(&l.provider(ORGS));
    tf.write_file(
        "q.tfquery.hcl",
        "list \"aft_account_provisioning\" \"workloads\" {\n  provider = aft\n  config {\n    organizational_units = [\"Workloads\"]\n  }\n}\n\
             list \"aft_account_provisioning\" \"team3\" {\n  provider = aft\n  config {\n    tags = { Owner = \"team-3\" }\n  }\n}\n\
             list \"aft_account_provisioning\" \"by_email\" {\n  provider = aft\n  config {\n    email = \"LEGACY1-*\"\n  }\n}\n",
    );
    tf.run(&["init", "-input=false", "-no-color"]).ok();
    let out = tf.run(&["query", "-no-color", "-json"]).ok();
    let mut found: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in out.stdout.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if v["type"] == "list_resource_found" {
            let addr = v["list_resource_found"]["address"].as_str().unwrap_or_default().to_string();
            let id = v["list_resource_found"]["identity"]["account_id"].as_str().unwrap_or_default().to_string();
            found.entry(addr).or_default().push(id);
        }
    }
    assert_eq!(
        found.get("list.aft_account_provisioning.workloads"),
        Some(&vec![b.id.clone()]),
        "{found:?}\n{}",
        out.stdout
    );
    assert_eq!(found.get("list.aft_account_provisioning.team3"), Some(&vec![c.id.clone()]), "{found:?}");
    assert_eq!(found.get("list.aft_account_provisioning.by_email"), Some(&vec![a.id.clone()]), "{found:?}");

    // a bad filter is a diagnostic on the attribute, before any AWS call
    tf.write_file(
        "q.tfquery.hcl",
        "list \"aft_account_provisioning\" \"bad\" {\n  provider = aft\n  config {\n    organizational_units = [\"Sandbox (ou-\"]\n  }\n}\n",
    );
    let bad = tf.run(&["query", "-no-color"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("Invalid OU"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_action_reruns_exactly_the_targets_and_changes_no_state() {
    let l = Landing::new().await;
    l.create_customizations(CUSTOMIZATIONS_ASL).await;
    l.create_pipeline_role().await;
    let e = |t: &str| format!("{t}-{}@example.com", common::suffix());
    let (ea, eb, ec) = (e("act-a"), e("act-b"), e("act-c"));
    let pipeline = |n: &str| {
        format!(
            "resource \"aft_customization_pipeline\" \"{n}\" {{\n  account_id = aft_account_provisioning.{n}.account_id\n}}\n"
        )
    };
    let body = format!(
        "{}{}{}{}{}{}",
        account_block("a", &ea, "Sandbox", "  account_tags = { Team = \"red\" }"),
        account_block("b", &eb, "Sandbox", "  account_tags = { Team = \"blue\" }"),
        account_block("c", &ec, "Prod", "  account_tags = { Team = \"red\" }"),
        pipeline("a"),
        pipeline("b"),
        pipeline("c"),
    );
    let action = "action \"aft_invoke_customizations\" \"red_sandbox\" {\n  config {\n    include {\n      type         = \"ous\"\n      target_value = [\"Sandbox\"]\n    }\n    exclude {\n      type = \"tags\"\n      tags = [{ Team = \"blue\" }]\n    }\n  }\n}\n";
    let tf = Tf::new("invoke-action");
    tf.write(&format!("{}{body}{action}", l.provider(ORGS)));
    tf.apply();
    let id = |n: &str| tf.values(&format!("aft_account_provisioning.{n}"))["account_id"].as_str().unwrap().to_string();
    let (a, b, c) = (id("a"), id("b"), id("c"));
    let before_state = std::fs::read_to_string(tf.path("terraform.tfstate")).unwrap();
    let l = &l;
    let execs = |acct: &str| {
        let name = format!("{acct}-customizations-pipeline");
        async move { l.pipeline_executions(&name).await.len() }
    };
    let (pa, pb, pc) = (execs(&a).await, execs(&b).await, execs(&c).await);
    let (na, nb, nc) =
        (l.notifications(&a).await.len(), l.notifications(&b).await.len(), l.notifications(&c).await.len());

    let out = tf
        .run(&[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-invoke=action.aft_invoke_customizations.red_sandbox",
        ])
        .ok();
    assert!(out.stdout.contains(&a), "progress names the account:\n{}", out.stdout);
    assert!(out.stdout.contains("1 account(s) done, 0 failed"), "{}", out.stdout);

    assert_eq!(l.notifications(&a).await.len(), na + 1, "the framework ran again for the target");
    assert_eq!(l.notifications(&b).await.len(), nb, "excluded by tag");
    assert_eq!(l.notifications(&c).await.len(), nc, "not in the OU");
    assert_eq!(execs(&a).await, pa + 1, "its pipeline ran again");
    assert_eq!(execs(&b).await, pb);
    assert_eq!(execs(&c).await, pc);
    let after_state = std::fs::read_to_string(tf.path("terraform.tfstate")).unwrap();
    let strip = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        v.as_object_mut().unwrap().remove("serial");
        v.as_object_mut().unwrap().remove("lineage");
        v
    };
    assert_eq!(strip(&before_state)["resources"], strip(&after_state)["resources"], "the action changes no state");
    assert_eq!(tf.plan_exit(), 0);
}

/// AFT's semantics for AFT's accounts: re-running the framework of an account whose request is
/// AFT's own `aft-request` row sets the row's tags and removes none (AFT's `tag_account` only adds
/// and updates, #238), run after run, and leaves the metadata item in AFT's shape.
#[tokio::test(flavor = "multi_thread")]
async fn invoke_action_on_an_aft_account_sets_its_requests_tags_and_removes_none() {
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    let l = Landing::new().await;
    l.create_customizations(CUSTOMIZATIONS_ASL).await;
    aft::request_table(&l, false).await;
    let a = aft::seed_account(&l, 1, "Sandbox").await;
    // a tag someone put on the account outside AFT's request
    let tag = aws_sdk_organizations::types::Tag::builder().key("CostCenter").value("cc-42").build().unwrap();
    l.org().tag_resource().resource_id(&a.id).tags(tag).send().await.unwrap();
    // AFT's request now asks for Env = prod and a new Team tag (Owner unchanged)
    aws_sdk_dynamodb::Client::new(&l.aft_cfg)
        .update_item()
        .table_name("aft-request")
        .key("id", Av::S(a.email.clone()))
        .update_expression("SET account_tags = :t")
        .expression_attribute_values(":t", Av::S(r#"{"Env":"prod","Owner":"team-1","Team":"red"}"#.into()))
        .send()
        .await
        .unwrap();
    let action = format!(
        "action \"aft_invoke_customizations\" \"legacy\" {{\n  config {{\n    include {{\n      type         = \"accounts\"\n      target_value = [\"{}\"]\n    }}\n    run_pipelines = false\n  }}\n}}\n",
        a.id
    );
    let tf = Tf::new("invoke-aft-account");
    tf.write(&format!("{}{action}", l.provider(ORGS)));
    tf.run(&["init", "-input=false", "-no-color"]).ok();
    let expected: std::collections::BTreeMap<String, String> =
        [("CostCenter", "cc-42"), ("Env", "prod"), ("Owner", "team-1"), ("Team", "red")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    // twice: the second run must still know the request as AFT's
    for run in 1..=2 {
        let notes = l.notifications(&a.id).await.len();
        let out = tf
            .run(&[
                "apply",
                "-auto-approve",
                "-input=false",
                "-no-color",
                "-invoke=action.aft_invoke_customizations.legacy",
            ])
            .ok();
        assert!(out.stdout.contains("1 account(s) done, 0 failed"), "run {run}: {}", out.stdout);
        assert_eq!(l.notifications(&a.id).await.len(), notes + 1, "run {run}: the framework ran");
        assert_eq!(l.tags(&a.id).await, expected, "run {run}: the request's tags set, the other one kept");
        let item = l.metadata(&a.id).await.expect("the metadata item");
        assert!(!item.contains_key("account_request"), "run {run}: the item keeps AFT's shape: {item:?}");
    }
}
