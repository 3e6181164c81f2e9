//! Every example under examples/ is planned and applied against moto.

mod common;

use common::{Landing, Tf};

#[tokio::test(flavor = "multi_thread")]
async fn quickstart_applies_and_a_second_plan_is_empty() {
    let l = Landing::new().await;
    let tf = Tf::new("example-quickstart");
    tf.write(&std::fs::read_to_string(common::repo().join("examples/quickstart/main.tf")).unwrap());
    let var = format!("aft_admin_role_arn=arn:aws:iam::{}:role/AWSAFTAdmin", l.aft);
    tf.run(&["apply", "-auto-approve", "-input=false", "-no-color", "-var", &var]).ok();
    let out = tf.run(&["output", "-json", "accounts"]).ok();
    let accounts: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for (name, ou) in [("sandbox", "Sandbox"), ("workloads", "Workloads"), ("prod", "Prod")] {
        let id = accounts[name]["account_id"].as_str().unwrap();
        assert_eq!(l.parent(id).await, l.ous[ou], "{name}");
        assert_eq!(accounts[name]["execution_role_arn"], format!("arn:aws:iam::{id}:role/AWSAFTExecution").as_str());
    }
    assert_eq!(tf.run(&["plan", "-detailed-exitcode", "-input=false", "-var", &var]).code, 0);
}
