//! The shipped IAM policies (`policies/*.json`) against the code: every AWS call in `src/` carries
//! its `service:Action` label, every label is granted by a policy, and no policy grants an action
//! the code never calls (beyond the actions AWS checks on the caller's behalf: `iam:PassRole` for
//! a role handed to Step Functions or CodePipeline, KMS on AFT's key for encrypted tables and
//! topics).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aft_test_harness as common;

use common::repo;

/// The code of a file without its `#[cfg(test)]` module and comments (doc examples name labels).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    // comment lines blanked, so line numbers stay the file's
    text.lines().map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect::<Vec<_>>().join("\n")
}

/// The `service:Action` labels a piece of code names (`.aws("…")`, `from_sdk("…", …)`).
fn labels_in(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in [".aws(\"", "from_sdk(\""] {
        for (i, _) in code.match_indices(marker) {
            let rest = &code[i + marker.len()..];
            let label = &rest[..rest.find('"').unwrap()];
            out.push(label.to_string());
        }
    }
    out
}

/// Every label of the code, with the files that use it.
fn inventory() -> BTreeMap<String, BTreeSet<String>> {
    let files = common::rust_files(&repo().join("src"));
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(repo()).unwrap().display().to_string();
        for l in labels_in(&code_of(&f)) {
            out.entry(l).or_default().insert(rel.clone());
        }
    }
    out
}

/// Actions AWS checks on the caller's behalf without an API call of the caller's own.
fn implied(action: &str) -> bool {
    action == "iam:PassRole" || action.starts_with("kms:")
}

fn policies() -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(repo().join("policies")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.insert(p.file_stem().unwrap().to_string_lossy().to_string(), doc);
        }
    }
    out
}

fn actions_of(doc: &serde_json::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in doc["Statement"].as_array().unwrap() {
        assert_eq!(s["Effect"], "Allow");
        match &s["Action"] {
            serde_json::Value::String(a) => {
                out.insert(a.clone());
            }
            serde_json::Value::Array(a) => out.extend(a.iter().map(|x| x.as_str().unwrap().to_string())),
            other => panic!("Action {other}"),
        }
    }
    out
}

#[test]
fn every_aws_call_carries_its_label() {
    let files = common::rust_files(&repo().join("src"));
    let mut unlabelled = Vec::new();
    for f in files {
        let code = code_of(&f);
        for (i, _) in code.match_indices(".send()") {
            // the label follows the call: `.send().await.aws("…")`, a paginator's pages
            // (`page.aws("…")`), or an answer handed to `AwsError::from_sdk("…", …)`
            let after: String = code[i..].chars().take(400).collect();
            let next_send = after[1..].find(".send()").map_or(after.len(), |n| n + 1);
            let window = &after[..next_send];
            if labels_in(window).is_empty() {
                let line = code[..i].lines().count();
                unlabelled.push(format!("{}:{line}", f.strip_prefix(repo()).unwrap().display()));
            }
        }
    }
    assert!(unlabelled.is_empty(), "AWS calls without a .aws(\"service:Action\") label: {unlabelled:#?}");
}

#[test]
fn the_shipped_policies_grant_exactly_what_the_code_calls() {
    let code = inventory();
    let policies = policies();
    let mut granted: BTreeSet<String> = BTreeSet::new();
    for doc in policies.values() {
        granted.extend(actions_of(doc));
    }
    let missing: Vec<_> = code.iter().filter(|(a, _)| !granted.contains(*a)).collect();
    assert!(missing.is_empty(), "called but granted by no policy in policies/: {missing:#?}");
    let unused: Vec<_> = granted.iter().filter(|a| !implied(a) && !code.contains_key(*a)).collect();
    assert!(unused.is_empty(), "granted but never called: {unused:?}");
}

#[test]
fn the_plan_identity_reads_only_and_aft_admin_only_hops() {
    let policies = policies();
    let writes = [
        "Create",
        "Update",
        "Delete",
        "Put",
        "Start",
        "Publish",
        "Tag",
        "Untag",
        "Move",
        "Close",
        "Provision",
        "Attach",
        "Detach",
        "Encrypt",
        "GenerateDataKey",
        "PassRole",
    ];
    for a in actions_of(&policies["plan-readonly"]) {
        let verb = a.split(':').nth(1).unwrap();
        assert!(!writes.iter().any(|w| verb.starts_with(w)), "the read-only plan policy grants {a}");
    }
    // AFT's own AWSAFTAdmin policy (modules/aft-iam-roles/iam/aft_admin_role_policy.tpl)
    assert_eq!(actions_of(&policies["aft-admin"]), BTreeSet::from(["sts:AssumeRole".to_string()]));
    for doc in policies.values() {
        assert_eq!(doc["Version"], "2012-10-17");
    }
}

#[test]
fn policy_resources_use_only_the_documented_placeholders() {
    let allowed = ["${partition}", "${region}", "${aft_account_id}", "${ct_management_account_id}"];
    for (name, doc) in policies() {
        let text = doc.to_string();
        for (i, _) in text.match_indices("${") {
            let end = text[i..].find('}').unwrap();
            let p = &text[i..=i + end];
            assert!(allowed.contains(&p), "{name}: unknown placeholder {p}");
        }
    }
}
