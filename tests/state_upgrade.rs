//! Upgrading the provider keeps the state earlier releases wrote (docs/compatibility.md).
//!
//! Every resource's schema is at version 0, the version 0.1.0 wrote. Its state, written by hand
//! from the 0.1.0 schema (tests/fixtures/state-0.1.0/, see the README there), is put in a working
//! directory as its local state, beside the configuration it was applied with, for the objects it
//! names (made in moto by the current provider, so the ids are real). Then the real Terraform with
//! the current provider plans with `-refresh=false` (UpgradeResourceState, then a plan from the
//! upgraded state alone) and the plan is read back with `terraform show -json`: every 0.1.0
//! attribute decodes to the value 0.1.0 wrote, every attribute added since is null, nothing is
//! planned (no replacement, no update), applying that plan writes the upgraded state, and a plan
//! with refresh is empty too. Under the newest Terraform and the oldest of the version matrix
//! (scripts/terraform-versions.txt), which writes no resource identities.

use aft_test_harness as common;

use std::collections::BTreeMap;

use base64::Engine;
use common::fixtures::account_block;
use common::moto::venv_bin;
use common::{Landing, Tf};
use serde_json::Value;

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

/// The state machine definition of the 0.1.0 configuration.
const DEFINITION: &str = r#"{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}"#;

/// Attributes added to each resource since 0.1.0: a 0.1.0 state decodes each as null. (A newer
/// attribute not listed here is checked the same way; this list makes sure these are.)
const ADDED_SINCE_0_1_0: &[(&str, &[&str])] = &[
    ("aft_account_provisioning", &["coordination_owner", "last_run", "terminate_product_on_delete"]),
    ("aft_customization_pipeline", &[]),
    ("aft_provisioning_customizations", &[]),
];

/// Attributes of 0.1.0 that a later schema removed on purpose (UpgradeResourceState drops them).
/// A renamed or retyped attribute is not a removal: it needs a schema version bump and an
/// upgrader (docs/compatibility.md), and this test fails until it has them.
const REMOVED_SINCE_0_1_0: &[(&str, &str)] = &[];

/// The configuration the 0.1.0 state was applied with: every kind of attribute the three
/// resources have (maps, a nested object, a `timeouts` block, a reference between resources).
fn config(l: &Landing, email: &str) -> String {
    let account = account_block(
        "a",
        email,
        "Sandbox",
        "  account_tags = { Owner = \"platform\" }\n  custom_fields = { team = \"blue\" }\n  \
         change_management_parameters = {\n    change_requested_by = \"ada\"\n    change_reason = \"upgrade test\"\n  }\n  \
         account_customizations_name = \"sandbox\"\n  rerun_triggers = { v = \"1\" }\n  \
         parking_organizational_unit = \"Parking\"\n  timeouts {\n    create = \"90m\"\n  }\n",
    );
    format!(
        "{}{account}\nresource \"aft_customization_pipeline\" \"p\" {{\n  account_id = aft_account_provisioning.a.account_id\n  \
         triggers = {{ v = \"1\" }}\n}}\n\nresource \"aft_provisioning_customizations\" \"this\" {{\n  definition = <<-EOT\n{DEFINITION}\n  EOT\n  \
         tags = {{ team = \"platform\" }}\n}}\n",
        l.provider(ORGS)
    )
}

/// The 0.1.0 state with its placeholders (`@NAME@`) filled in.
fn fixture(values: &BTreeMap<&str, String>) -> Value {
    let mut text = std::fs::read_to_string(common::repo().join("tests/fixtures/state-0.1.0/state.json")).unwrap();
    for (k, v) in values {
        text = text.replace(&format!("@{k}@"), v);
    }
    // an `@NAME@` left over
    let left: Vec<&str> = text
        .match_indices('@')
        .filter_map(|(i, _)| {
            let rest = &text[i + 1..];
            let end = rest.find(|c: char| !(c.is_ascii_uppercase() || c == '_'))?;
            (end > 0 && rest[end..].starts_with('@')).then(|| &rest[..end])
        })
        .collect();
    assert!(left.is_empty(), "placeholders left unfilled: {left:?}");
    serde_json::from_str(&text).unwrap()
}

/// The state as a Terraform older than 1.12 writes it: no resource identities.
fn without_identities(mut st: Value, terraform_version: &str) -> Value {
    st["terraform_version"] = Value::from(terraform_version);
    for r in st["resources"].as_array_mut().unwrap() {
        for i in r["instances"].as_array_mut().unwrap() {
            let i = i.as_object_mut().unwrap();
            i.remove("identity");
            i.remove("identity_schema_version");
        }
    }
    st
}

/// (type, attributes) of every instance of a state file.
fn instances(st: &Value) -> Vec<(String, serde_json::Map<String, Value>)> {
    let mut out = Vec::new();
    for r in st["resources"].as_array().unwrap() {
        for i in r["instances"].as_array().unwrap() {
            out.push((r["type"].as_str().unwrap().to_string(), i["attributes"].as_object().unwrap().clone()));
        }
    }
    out
}

/// The oldest Terraform of the version matrix: (wheel, version).
fn oldest_terraform() -> (String, String) {
    let text = std::fs::read_to_string(common::repo().join("scripts/terraform-versions.txt")).unwrap();
    let line = text.lines().find(|l| !l.starts_with('#') && !l.trim().is_empty()).unwrap();
    let mut p = line.split_whitespace();
    (p.next().unwrap().to_string(), p.next().unwrap().to_string())
}

/// Plans, applies and plans again on `old` (a 0.1.0 state) in a fresh directory, and checks
/// what the current provider made of it.
fn upgrade(name: &str, terraform: Option<std::path::PathBuf>, hcl: &str, old: &Value) {
    let mut tf = Tf::new(name);
    if let Some(t) = terraform {
        tf.use_terraform(t);
    }
    let v: Value = serde_json::from_str(&tf.run(&["version", "-json"]).ok().stdout).unwrap();
    let version = v["terraform_version"].as_str().unwrap().to_string();
    tf.write(hcl);
    tf.write_file("terraform.tfstate", &serde_json::to_string_pretty(old).unwrap());

    // UpgradeResourceState, then a plan from the upgraded state alone
    tf.run(&["plan", "-refresh=false", "-input=false", "-no-color", "-out=tfplan"]).ok();
    let plan: Value = serde_json::from_str(&tf.run(&["show", "-json", "tfplan"]).ok().stdout).unwrap();
    let prior: BTreeMap<String, &Value> = plan["prior_state"]["values"]["root_module"]["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("Terraform {version}: no prior state in the plan: {plan}"))
        .iter()
        .map(|r| (r["type"].as_str().unwrap().to_string(), &r["values"]))
        .collect();
    for (ty, attrs) in instances(old) {
        let now = prior.get(&ty).unwrap_or_else(|| panic!("Terraform {version}: {ty} is not in the upgraded state"));
        let now = now.as_object().unwrap();
        for (k, was) in &attrs {
            if REMOVED_SINCE_0_1_0.contains(&(ty.as_str(), k.as_str())) {
                assert!(!now.contains_key(k), "Terraform {version}: {ty}.{k} was removed but is still in the state");
                continue;
            }
            let got = now.get(k).unwrap_or_else(|| {
                panic!(
                    "Terraform {version}: {ty}.{k} of 0.1.0 is gone from the upgraded state: a rename needs a schema \
                     version bump and an upgrader, a removal an entry in REMOVED_SINCE_0_1_0 and the CHANGELOG"
                )
            });
            assert_eq!(got, was, "Terraform {version}: {ty}.{k} does not decode to what 0.1.0 wrote");
        }
        let added: Vec<&String> = now.keys().filter(|k| !attrs.contains_key(*k)).collect();
        for k in &added {
            assert!(now[*k].is_null(), "Terraform {version}: {ty}.{k}, new since 0.1.0, is {} and not null", now[*k]);
        }
        let listed = ADDED_SINCE_0_1_0.iter().find(|(t, _)| *t == ty).map(|(_, a)| *a).unwrap_or_default();
        for k in listed {
            assert!(
                added.iter().any(|a| a == k),
                "Terraform {version}: {ty}.{k} is not in the upgraded state: {now:?}"
            );
        }
    }
    let changes = plan["resource_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "Terraform {version}: {changes:#?}");
    for c in changes {
        assert_eq!(
            c["change"]["actions"],
            serde_json::json!(["no-op"]),
            "Terraform {version}: upgrading the provider alone plans a change of {}: {c:#}",
            c["address"]
        );
    }

    // applying that plan writes the state in today's schema: the new attributes as null
    tf.run(&["apply", "-input=false", "-no-color", "tfplan"]).ok();
    let written: Value = serde_json::from_str(&std::fs::read_to_string(tf.path("terraform.tfstate")).unwrap()).unwrap();
    for (ty, attrs) in instances(&written) {
        let listed = ADDED_SINCE_0_1_0.iter().find(|(t, _)| *t == ty).map(|(_, a)| *a).unwrap_or_default();
        for k in listed {
            assert_eq!(attrs.get(*k), Some(&Value::Null), "Terraform {version}: the written {ty}.{k}: {attrs:?}");
        }
    }
    for r in written["resources"].as_array().unwrap() {
        for i in r["instances"].as_array().unwrap() {
            assert_eq!(i["schema_version"], 0, "Terraform {version}: {}", r["type"]);
        }
    }

    // and the first ordinary plan after the upgrade, with its refresh, changes nothing
    let out = tf.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    assert_eq!(out.code, 0, "Terraform {version}: the plan after the upgrade:\n{}\n{}", out.stdout, out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn state_written_by_0_1_0_decodes_with_new_attributes_null_and_plans_no_change() {
    let l = Landing::new().await;
    l.create_pipeline_role().await;
    let email = common::email("upgrade");
    let hcl = config(&l, &email);

    // the objects the 0.1.0 state names
    let setup = Tf::new("upgrade-setup");
    setup.write(&hcl);
    setup.apply();
    let account = setup.values("aft_account_provisioning.a")["account_id"].as_str().unwrap().to_string();
    let revision = setup.values("aft_provisioning_customizations.this")["revision_id"].as_str().unwrap().to_string();
    let org = l.org().describe_organization().send().await.unwrap();
    let org_id = org.organization().unwrap().id().unwrap().to_string();
    // what 0.1.0's create plan left in the private data: the email it vended
    let private = serde_json::json!({ "creates_email": email }).to_string();
    let values = BTreeMap::from([
        ("ACCOUNT_ID", account),
        ("AFT_ACCOUNT", l.aft.clone()),
        ("CT_ACCOUNT", l.ct.clone()),
        ("EMAIL", email.clone()),
        ("ORG_ID", org_id),
        ("PARENT_OU_ID", l.ous["Sandbox"].clone()),
        ("PRIVATE", base64::engine::general_purpose::STANDARD.encode(private)),
        ("REVISION_ID", revision),
    ]);
    let old = fixture(&values);

    upgrade("upgrade-0.1.0", None, &hcl, &old);
    let (wheel, version) = oldest_terraform();
    let bin = venv_bin(&format!("terraform-{wheel}"));
    assert!(bin.exists(), "{} is missing: run make toolchain", bin.display());
    upgrade(&format!("upgrade-0.1.0-tf{version}"), Some(bin), &hcl, &without_identities(old, &version));
}
