//! Every example under examples/ is planned and applied against moto.

use aft_test_harness as common;

use common::{Landing, Tf};

fn apply_example(l: &Landing, example: &str) -> Tf {
    let tf = Tf::new(&format!("example-{example}"));
    tf.copy_example(example);
    let var = format!("aft_admin_role_arn=arn:aws:iam::{}:role/AWSAFTAdmin", l.aft);
    tf.run(&["apply", "-auto-approve", "-input=false", "-no-color", "-var", &var]).ok();
    assert_eq!(tf.run(&["plan", "-detailed-exitcode", "-input=false", "-var", &var]).code, 0, "{example}: second plan");
    tf
}

#[tokio::test(flavor = "multi_thread")]
async fn quickstart_applies_and_a_second_plan_is_empty() {
    let l = Landing::new().await;
    l.create_pipeline_role().await;
    let tf = apply_example(&l, "quickstart");
    let out = tf.run(&["output", "-json", "accounts"]).ok();
    let accounts: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for (name, ou) in [("sandbox", "Sandbox"), ("workloads", "Workloads"), ("prod", "Prod")] {
        let id = accounts[name]["account_id"].as_str().unwrap();
        assert_eq!(l.parent(id).await, l.ous[ou], "{name}");
        assert_eq!(accounts[name]["execution_role_arn"], format!("arn:aws:iam::{id}:role/AWSAFTExecution").as_str());
    }
    // one pipeline per account, run once
    for name in ["sandbox", "workloads", "prod"] {
        let runs = l.pipeline_executions(accounts[name]["pipeline"].as_str().unwrap()).await;
        assert_eq!(runs, vec![accounts[name]["pipeline_execution"].as_str().unwrap().to_string()]);
    }
    // the quickstart's state machine ran once per account
    let arn = tf.values("aft_provisioning_customizations.this")["arn"].as_str().unwrap().to_string();
    assert_eq!(l.executions(&arn).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn provisioning_customizations_example_applies() {
    let l = Landing::new().await;
    let tf = apply_example(&l, "provisioning-customizations");
    let arn = tf.values("aft_provisioning_customizations.this")["arn"].as_str().unwrap().to_string();
    let execs = l.executions(&arn).await;
    assert_eq!(execs.len(), 1);
    assert_eq!(execs[0].0, "SUCCEEDED");
}

/// A snippet of examples/ with its placeholders replaced by this landing zone's values.
fn snippet(path: &str, subs: &[(&str, String)]) -> String {
    let mut s = std::fs::read_to_string(common::repo().join("examples").join(path)).unwrap();
    for (from, to) in subs {
        s = s.replace(from, to);
    }
    s
}

/// The registry snippets (examples/resources, data-sources, list-resources, actions) together:
/// applied, imported back by id and by identity, queried and invoked.
#[tokio::test(flavor = "multi_thread")]
async fn registry_snippets_apply_import_query_and_invoke() {
    let l = Landing::new().await;
    l.create_customizations(common::fixtures::CUSTOMIZATIONS_ASL).await;
    l.create_pipeline_role().await;
    let email = format!("sandbox-{}@example.com", common::suffix());
    let mut subs = vec![
        ("ou-ab12-cdefgh34", l.ous["Sandbox"].clone()),
        ("sandbox@example.com", email.clone()),
        ("111111111111", l.aft.clone()),
    ];
    let tf = Tf::new("snippets");
    let orgs = "  account_factory {\n    method = \"organizations\"\n  }";
    tf.write(&l.provider(orgs));
    for r in ["aft_account_provisioning", "aft_customization_pipeline", "aft_provisioning_customizations"] {
        tf.write_file(&format!("{r}.tf"), &snippet(&format!("resources/{r}/resource.tf"), &subs));
    }
    std::fs::copy(
        common::repo().join("examples/resources/aft_provisioning_customizations/customizations.asl.json"),
        tf.path("customizations.asl.json"),
    )
    .unwrap();
    tf.apply();
    let second = tf.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    assert_eq!(second.code, 0, "second plan is empty:\n{}", second.stdout);
    let id = tf.values("aft_account_provisioning.sandbox")["account_id"].as_str().unwrap().to_string();
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"]);
    subs.push(("123456789012", id.clone()));

    // data sources and the action next to the resources
    tf.write_file("aft_account.tf", &snippet("data-sources/aft_account/data-source.tf", &subs));
    tf.write_file("aft_accounts.tf", &snippet("data-sources/aft_accounts/data-source.tf", &subs));
    tf.write_file("action.tf", &snippet("actions/aft_invoke_customizations/action.tf", &subs));
    tf.apply();
    let out = tf.run(&["output", "-json"]).ok();
    let outputs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(outputs["sandbox_account_id"]["value"], id.as_str());
    assert_eq!(outputs["platform_account_ids"]["value"], serde_json::json!([id]));
    let runs = l.notifications(&id).await.len();
    let pipeline = format!("{id}-customizations-pipeline");
    let execs = l.pipeline_executions(&pipeline).await.len();
    let invoked = tf
        .run(&[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "-invoke=action.aft_invoke_customizations.platform",
        ])
        .ok();
    assert!(invoked.stdout.contains("1 account(s) done, 0 failed"), "{}", invoked.stdout);
    assert_eq!(l.notifications(&id).await.len(), runs + 1);
    assert_eq!(l.pipeline_executions(&pipeline).await.len(), execs + 1);

    // import.sh, line by line, after forgetting each resource
    for r in ["aft_account_provisioning", "aft_customization_pipeline", "aft_provisioning_customizations"] {
        for line in snippet(&format!("resources/{r}/import.sh"), &subs).lines().filter(|l| l.starts_with("terraform "))
        {
            let args: Vec<&str> = line.split_whitespace().skip(1).collect();
            tf.run(&["state", "rm", args[1]]).ok();
            tf.run(&[&["import", "-input=false", "-no-color"][..], &args[1..]].concat()).ok();
        }
    }
    // arguments that live only in the configuration (rerun_triggers, parking OU, timeouts, the
    // pipeline's source and triggers) are not in AWS: the plan records them in place, no
    // replacement, no new account
    let after_import = tf.plan_json();
    for (addr, actions) in common::terraform::changes(&after_import) {
        assert_eq!(actions, ["update"], "{addr} after import");
    }
    tf.apply();
    assert_eq!(tf.plan_exit(), 0, "converged after the imports by id");

    // import blocks by identity
    for r in ["aft_account_provisioning", "aft_customization_pipeline"] {
        tf.run(&["state", "rm", &format!("{r}.sandbox")]).ok();
        tf.write_file(&format!("{r}-import.tf"), &snippet(&format!("resources/{r}/import-by-identity.tf"), &subs));
    }
    let plan = tf.plan_json();
    for (addr, actions) in common::terraform::changes(&plan) {
        assert_eq!(actions, ["update"], "{addr} after import");
    }
    let imports =
        plan["resource_changes"].as_array().unwrap().iter().filter(|c| c["change"]["importing"].is_object()).count();
    assert_eq!(imports, 2);
    tf.apply();
    assert_eq!(tf.plan_exit(), 0);

    // the list resource finds the account
    tf.write_file(
        "accounts.tfquery.hcl",
        &snippet("list-resources/aft_account_provisioning/accounts.tfquery.hcl", &subs),
    );
    let q = tf.run(&["query", "-no-color", "-json"]).ok();
    assert!(q.stdout.lines().any(|line| line.contains("list_resource_found") && line.contains(&id)), "{}", q.stdout);

    // the pipeline list resource finds its pipeline (next to the account list of its example)
    tf.write_file(
        "pipelines.tfquery.hcl",
        &snippet("list-resources/aft_customization_pipeline/pipelines.tfquery.hcl", &subs),
    );
    let q = tf.run(&["query", "-no-color", "-json"]).ok();
    let found = |list: &str, what: &str| {
        q.stdout.lines().any(|line| line.contains("list_resource_found") && line.contains(list) && line.contains(what))
    };
    assert!(found("list.aft_customization_pipeline.pipelines", &pipeline), "{}", q.stdout);
    assert!(found("list.aft_account_provisioning.accounts", &id), "{}", q.stdout);
    assert_eq!(l.accounts_with_email(&email).await.len(), 1);
}
