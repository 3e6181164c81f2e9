//! `terraform query` over an AFT deployment's customizations pipelines (issue 26 item 2): the
//! `aft_customization_pipeline` list resource finds exactly the pipelines AFT built, its
//! generated configuration imports with a plan of imports only, and `aft-convert
//! --rename-generated` names the generated blocks of both list resources after the accounts.

use aft_test_harness as common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::proxy::Proxy;
use common::{Landing, Tf, aft};

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

use common::proxy::writes;

/// `list_resource_found` results of `terraform query -json`: list address → identities.
fn found(stdout: &str) -> BTreeMap<String, Vec<serde_json::Value>> {
    let mut out: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if v["type"] == "list_resource_found" {
            let f = &v["list_resource_found"];
            out.entry(f["address"].as_str().unwrap().to_string()).or_default().push(f.clone());
        }
    }
    out
}

/// The `resource "<ty>" "<name>"` labels of a configuration, in order.
fn resources(hcl: &str, ty: &str) -> Vec<String> {
    let prefix = format!("resource \"{ty}\" \"");
    hcl.lines().filter_map(|l| l.strip_prefix(&prefix)).map(|r| r.split('"').next().unwrap().to_string()).collect()
}

/// The `to = <address>` of every import block.
fn import_targets(hcl: &str) -> BTreeSet<String> {
    hcl.lines()
        .filter_map(|l| l.trim_start().strip_prefix("to"))
        .filter_map(|r| r.trim_start().strip_prefix('='))
        .map(|a| a.trim().to_string())
        .collect()
}

fn pipeline_name(account: &str) -> String {
    format!("{account}-customizations-pipeline")
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_accounts_and_pipelines_are_named_after_the_accounts_and_import_with_no_change() {
    let l = Landing::new().await;
    aft::request_table(&l, false).await;
    let role = l.create_pipeline_role().await;
    // two names that make the same identifier (both distinct for AFT), one with no pipeline
    let a = aft::seed_named(&l, 1, "Sandbox", "Payments Prod").await;
    let b = aft::seed_named(&l, 2, "Prod", "Payments.Prod").await;
    let c = aft::seed_named(&l, 3, "Sandbox", "Log Archive").await;
    let d = aft::seed_named(&l, 4, "Sandbox", "Team Four").await;
    for s in [&a, &b, &c] {
        aft::customizations_pipeline(&l, &pipeline_name(&s.id), &s.id, &role).await;
    }
    // not AFT's: a pipeline named for an organization account that customizes another, one for
    // an account outside the organization, one with another name
    let stranger = l.create_account(&format!("stranger-{}@example.com", common::suffix()), "stranger", None).await;
    aft::customizations_pipeline(&l, &pipeline_name(&stranger), &a.id, &role).await;
    let outside = common::random_account_id();
    aft::customizations_pipeline(&l, &pipeline_name(&outside), &outside, &role).await;
    aft::customizations_pipeline(&l, "payments-release-pipeline", &a.id, &role).await;
    let executions: Vec<usize> = {
        let mut v = Vec::new();
        for s in [&a, &b, &c] {
            v.push(l.pipeline_executions(&pipeline_name(&s.id)).await.len());
        }
        v
    };

    let mut tf = Tf::new("list-pipelines-named");
    let proxy = Proxy::counting(&mut tf);
    tf.write(&l.provider(ORGS));
    tf.write_file(
        "aft.tfquery.hcl",
        "list \"aft_account_provisioning\" \"aft\" {\n  provider         = aft\n  include_resource = true\n}\n\n\
         list \"aft_customization_pipeline\" \"aft_pipeline\" {\n  provider         = aft\n  include_resource = true\n}\n",
    );
    tf.run(&["init", "-input=false", "-no-color"]).ok();

    // the query lists exactly AFT's three pipelines, in account order, with their accounts' names
    let q = tf.run(&["query", "-no-color", "-json"]).ok();
    let lists = found(&q.stdout);
    let pipelines = &lists["list.aft_customization_pipeline.aft_pipeline"];
    let mut ours = [&a, &b, &c];
    ours.sort_by(|x, y| x.id.cmp(&y.id));
    let names: Vec<&str> = pipelines.iter().map(|p| p["identity"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ours.iter().map(|s| pipeline_name(&s.id)).collect::<Vec<_>>(), "{}", q.stdout);
    for (p, s) in pipelines.iter().zip(ours) {
        let shown = p["display_name"].as_str().unwrap();
        assert!(shown.contains(&s.name) && shown.contains(&s.id), "{shown}");
    }
    assert_eq!(lists["list.aft_account_provisioning.aft"].len(), 4, "{}", q.stdout);

    // generated: Terraform's names, <list name>_<n>, and one import block each
    proxy.reset();
    tf.run(&["query", "-no-color", "-generate-config-out=generated.tf"]).ok();
    let query_calls = proxy.calls();
    assert_eq!(writes(&query_calls), Vec::<String>::new(), "the query writes nothing: {query_calls:?}");
    assert_eq!(
        query_calls.get("codepipeline:ListPipelineExecutions").copied(),
        Some(3),
        "the objects are built as import builds them (its last execution): {query_calls:?}"
    );
    let generated = std::fs::read_to_string(tf.path("generated.tf")).unwrap();
    assert_eq!(
        resources(&generated, "aft_customization_pipeline"),
        ["aft_pipeline_0", "aft_pipeline_1", "aft_pipeline_2"]
    );
    assert_eq!(resources(&generated, "aft_account_provisioning"), ["aft_0", "aft_1", "aft_2", "aft_3"]);
    let flat = common::one_line(&generated);
    for s in [&a, &b, &c] {
        assert!(flat.contains(&format!("name = \"{}\"", pipeline_name(&s.id))), "{generated}");
        assert!(flat.contains(&format!("account_id = \"{}\"", s.id)), "{generated}");
    }
    assert!(generated.contains("alias/aft"), "AFT's key is carried over: {generated}");

    // named after the accounts
    let out = Command::new(env!("CARGO_BIN_EXE_aft-convert"))
        .arg("--rename-generated")
        .arg(tf.path("generated.tf"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let renamed = std::fs::read_to_string(tf.path("generated.tf")).unwrap();
    let expected = |s: &common::aft::Seeded| match s.name.as_str() {
        "Payments Prod" | "Payments.Prod" => format!("payments_prod_{}", s.id),
        "Log Archive" => "log_archive".to_string(),
        "Team Four" => "team_four".to_string(),
        other => panic!("{other}"),
    };
    let accounts: BTreeSet<String> = resources(&renamed, "aft_account_provisioning").into_iter().collect();
    assert_eq!(accounts, [&a, &b, &c, &d].into_iter().map(expected).collect(), "{renamed}");
    let named_pipelines: BTreeSet<String> = resources(&renamed, "aft_customization_pipeline").into_iter().collect();
    assert_eq!(named_pipelines, [&a, &b, &c].into_iter().map(expected).collect(), "{renamed}");
    let targets: BTreeSet<String> = [&a, &b, &c, &d]
        .into_iter()
        .map(|s| format!("aft_account_provisioning.{}", expected(s)))
        .chain([&a, &b, &c].into_iter().map(|s| format!("aft_customization_pipeline.{}", expected(s))))
        .collect();
    assert_eq!(import_targets(&renamed), targets, "each import follows its resource:\n{renamed}");
    assert!(!renamed.contains("= null"), "{renamed}");
    assert!(!renamed.contains("aft_pipeline_") && !renamed.contains(".aft_0"), "{renamed}");
    // the pipeline block of an account says which account, and keeps its settings
    let log_archive = renamed.split("resource \"aft_customization_pipeline\" \"log_archive\"").nth(1).unwrap();
    let log_archive = &log_archive[..log_archive.find("\n}\n").unwrap()];
    let one_line = common::one_line(log_archive);
    assert!(one_line.contains(&format!("account_id = \"{}\"", c.id)), "{log_archive}");
    assert!(one_line.contains(&format!("name = \"{}\"", pipeline_name(&c.id))), "{log_archive}");

    // the plan: imports only, at the new addresses, and no AWS write
    proxy.reset();
    let plan = tf.plan_json();
    assert_eq!(writes(&proxy.calls()), Vec::<String>::new());
    let changes = common::terraform::changes(&plan);
    assert!(changes.is_empty(), "only imports, no add/change/destroy: {changes:?}");
    let importing: BTreeSet<String> = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"]["importing"].is_object())
        .map(|c| c["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(importing, targets);

    proxy.reset();
    tf.apply();
    let apply_writes = writes(&proxy.calls());
    assert_eq!(apply_writes, Vec::<String>::new(), "applying the imports writes nothing to AWS");
    assert_eq!(tf.plan_exit(), 0, "the plan after the import is empty");
    let p = tf.values(&format!("aft_customization_pipeline.{}", expected(&c)));
    assert_eq!(p["account_id"], c.id.as_str());
    assert_eq!(p["encryption_key"]["id"], format!("arn:aws:kms:us-east-1:{}:alias/aft", l.aft));
    for (s, before) in [&a, &b, &c].into_iter().zip(executions) {
        assert_eq!(l.pipeline_executions(&pipeline_name(&s.id)).await.len(), before, "importing runs nothing");
        assert_eq!(l.notifications(&s.id).await.len(), 0, "importing runs no framework");
    }
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn pipeline_query_filters_on_the_account_and_reads_no_executions_unless_asked() {
    let l = Landing::new().await;
    aft::request_table(&l, false).await;
    let role = l.create_pipeline_role().await;
    let a = aft::seed_account(&l, 1, "Sandbox").await;
    let b = aft::seed_account(&l, 2, "Prod").await;
    let c = aft::seed_account(&l, 3, "Workloads").await;
    for s in [&a, &b, &c] {
        aft::customizations_pipeline(&l, &pipeline_name(&s.id), &s.id, &role).await;
    }
    let mut tf = Tf::new("list-pipelines-filters");
    let proxy = Proxy::counting(&mut tf);
    tf.write(&l.provider(ORGS));
    let list = |name: &str, config: &str| {
        format!(
            "list \"aft_customization_pipeline\" \"{name}\" {{\n  provider = aft\n  config {{\n{config}\n  }}\n}}\n"
        )
    };
    tf.write_file(
        "q.tfquery.hcl",
        &[
            list("by_id", &format!("    account_ids = [\"{}\"]", b.id)),
            list("prod", "    organizational_units = [\"Prod\"]"),
            list("team3", "    tags = { Owner = \"team-3\" }"),
            list("by_email", "    email = \"LEGACY1-*\""),
            list(
                "ids_and_ou",
                &format!("    account_ids = [\"{}\", \"{}\"]\n    organizational_units = [\"Sandbox\"]", a.id, b.id),
            ),
        ]
        .concat(),
    );
    tf.run(&["init", "-input=false", "-no-color"]).ok();
    proxy.reset();
    let out = tf.run(&["query", "-no-color", "-json"]).ok();
    let query_calls = proxy.calls();
    let lists = found(&out.stdout);
    let names = |list: &str| -> Vec<String> {
        lists
            .get(&format!("list.aft_customization_pipeline.{list}"))
            .into_iter()
            .flatten()
            .map(|f| f["identity"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("by_id"), [pipeline_name(&b.id)], "{}", out.stdout);
    assert_eq!(names("prod"), [pipeline_name(&b.id)]);
    assert_eq!(names("team3"), [pipeline_name(&c.id)]);
    assert_eq!(names("by_email"), [pipeline_name(&a.id)]);
    assert_eq!(names("ids_and_ou"), [pipeline_name(&a.id)], "all filters must match");
    // without include_resource: the declarations are read (one GetPipeline per account that
    // passed the filters: 1 + 1 + 1 + 1 + 1), the executions are not
    assert_eq!(query_calls.get("codepipeline:ListPipelineExecutions"), None, "{query_calls:?}");
    assert_eq!(query_calls.get("codepipeline:GetPipeline").copied(), Some(5), "{query_calls:?}");
    assert_eq!(writes(&query_calls), Vec::<String>::new());

    // malformed filters are errors on their line, before any AWS call, in both list resources
    tf.write_file(
        "q.tfquery.hcl",
        &[
            list("bad", "    account_ids = [\"12345\"]"),
            "list \"aft_account_provisioning\" \"bad\" {\n  provider = aft\n  config {\n    email = \" \"\n  }\n}\n"
                .to_string(),
        ]
        .concat(),
    );
    proxy.reset();
    let bad = tf.run(&["query", "-no-color", "-json"]);
    assert!(bad.failed_at("account_ids = [\"12345\"]"), "{:#?}\n{}", bad.errors(), bad.stderr);
    assert!(bad.failed_at("email = \" \""), "{:#?}", bad.errors());
    let bad_calls = proxy.calls();
    assert!(
        bad_calls.keys().all(|k| !k.starts_with("codepipeline:") && !k.starts_with("organizations:")),
        "{bad_calls:?}"
    );
    proxy.stop();
}
