//! Every example under examples/ is planned and applied against moto.

mod common;

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
