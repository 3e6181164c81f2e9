//! The cutover from a live AFT estate (issue 26 item 3), tested rather than narrated: 50 accounts
//! vended "by AFT" (rows in `aft-request`, metadata items, `AWSAFTExecution`, custom fields,
//! customization pipelines with AFT's KMS key), AFT's stream mapping and Control Tower event rule
//! live; then the migration guide's commands in order: `aft-convert` on the request repository,
//! `terraform init`, the pipelines' `terraform query -generate-config-out`, `terraform plan`,
//! `terraform apply`. Asserted: the plan is imports only and reports AFT's listeners, the imports
//! make no AWS write (so no AFT Lambda is triggered: no row, no Control Tower event), the next plan
//! is empty; after the guide's step that turns AFT's listeners off, nothing is reported.

use aft_test_harness as common;

use std::collections::BTreeMap;
use std::process::Command;

use common::proxy::Proxy;
use common::{Landing, Tf, aft};

const ACCOUNTS: usize = 50;

/// One module call of an `aft-account-request` repository, as AFT's example writes it
/// (`sources/aft-customizations-repos/aft-account-request/terraform/main.tf`).
fn request(name: &str, s: &aft::Seeded) -> String {
    let tags: String = s.tags.iter().map(|(k, v)| format!("    \"{k}\" = \"{v}\"\n")).collect();
    let custom: String = s.custom.iter().map(|(k, v)| format!("    {k} = \"{v}\"\n")).collect();
    format!(
        r#"module "{name}" {{
  source = "./modules/aft-account-request"

  control_tower_parameters = {{
    AccountEmail              = "{email}"
    AccountName               = "{account}"
    ManagedOrganizationalUnit = "{ou}"
    SSOUserEmail              = "owner@example.com"
    SSOUserFirstName          = "Ada"
    SSOUserLastName           = "Lovelace"
  }}

  account_tags = {{
{tags}  }}

  change_management_parameters = {{
    change_requested_by = "platform"
    change_reason       = "onboarding"
  }}

  custom_fields = {{
{custom}  }}

  account_customizations_name = "sandbox"
}}

"#,
        email = s.email,
        account = s.name,
        ou = s.ou,
    )
}

/// An attribute value in a canonical form (maps sorted), for comparing items.
fn canonical(v: &aws_sdk_dynamodb::types::AttributeValue) -> serde_json::Value {
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    match v {
        Av::S(s) => serde_json::json!({ "S": s }),
        Av::N(n) => serde_json::json!({ "N": n }),
        Av::Bool(b) => serde_json::json!({ "BOOL": b }),
        Av::M(m) => {
            let sorted: BTreeMap<&String, serde_json::Value> = m.iter().map(|(k, v)| (k, canonical(v))).collect();
            serde_json::json!({ "M": sorted })
        }
        Av::L(l) => serde_json::json!({ "L": l.iter().map(canonical).collect::<Vec<_>>() }),
        other => serde_json::json!({ "other": format!("{other:?}") }),
    }
}

/// Every item of a table, by key, canonical (what AFT's stream would see change).
async fn items(l: &Landing, table: &str) -> BTreeMap<String, String> {
    let ddb = aws_sdk_dynamodb::Client::new(&l.aft_cfg);
    let mut out = BTreeMap::new();
    for item in ddb.scan().table_name(table).send().await.unwrap().items() {
        let key = item.get("id").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let fields: BTreeMap<&String, serde_json::Value> = item.iter().map(|(k, v)| (k, canonical(v))).collect();
        out.insert(key, serde_json::to_string(&fields).unwrap());
    }
    out
}

fn said(out: &common::terraform::Out) -> String {
    out.diagnostics()
        .iter()
        .map(|d| {
            format!(
                "{}: {}: {}",
                d["severity"].as_str().unwrap_or(""),
                d["summary"].as_str().unwrap_or(""),
                common::one_line(d["detail"].as_str().unwrap_or(""))
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_aft_estate_of_fifty_accounts_is_taken_over_with_no_aws_write() {
    let l = Landing::new().await;
    // AFT's deployment: the request table with its stream and the action trigger on it, the
    // Control Tower event rule, the pipeline role
    let stream = aft::request_table(&l, true).await.expect("a stream");
    aft::action_trigger(&l, &stream).await;
    aft::ct_event_rule(&l).await;
    let role = l.create_pipeline_role().await;
    let ous = ["Sandbox", "Workloads", "Prod"];
    let mut seeded = Vec::new();
    for n in 0..ACCOUNTS {
        let s = aft::seed_account(&l, n, ous[n % 3]).await;
        aft::customizations_pipeline(&l, &format!("{}-customizations-pipeline", s.id), &s.id, &role).await;
        seeded.push(s);
    }
    let rows_before = items(&l, "aft-request").await;
    let metadata_before = items(&l, "aft-request-metadata").await;
    assert_eq!(rows_before.len(), ACCOUNTS);

    // the team's aft-account-request repository: AFT's layout, requests spread over files
    let repo = Tf::new("cutover-request-repo");
    std::fs::create_dir_all(repo.dir.join("terraform")).unwrap();
    for (i, chunk) in seeded.chunks(20).enumerate() {
        let body: String = chunk.iter().map(|s| request(&format!("account_{}", s.name), s)).collect();
        repo.write_file(&format!("terraform/requests-{i}.tf"), &body);
    }

    // the guide: convert, then the provider block, then the pipelines' query
    let mut tf = Tf::new("cutover");
    let converted = Command::new(env!("CARGO_BIN_EXE_aft-convert"))
        .arg(&repo.dir)
        .args(["--out", tf.dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(converted.status.code(), Some(0), "{}", String::from_utf8_lossy(&converted.stderr));
    tf.write_file("provider.tf", &l.provider("  account_factory {\n    method = \"organizations\"\n  }"));
    tf.write_file(
        "pipelines.tfquery.hcl",
        "list \"aft_customization_pipeline\" \"aft_pipeline\" {\n  provider         = aft\n  include_resource = true\n  limit            = 1000\n}\n",
    );
    let proxy = Proxy::counting(&mut tf);
    tf.run(&["init", "-input=false", "-no-color"]).ok();
    tf.run(&["query", "-no-color", "-generate-config-out=pipelines.tf"]).ok();
    let renamed = Command::new(env!("CARGO_BIN_EXE_aft-convert"))
        .args(["--rename-generated", tf.path("pipelines.tf").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(matches!(renamed.status.code(), Some(0 | 2)), "{}", String::from_utf8_lossy(&renamed.stderr));
    assert_eq!(proxy.writes(), Vec::<String>::new(), "the query writes nothing");

    // plan: imports only, AFT's listeners reported, nothing written
    proxy.reset();
    let out = tf.run(&["plan", "-input=false", "-no-color", "-json", "-out=cutover.tfplan"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    let summary = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "change_summary")
        .expect("a change summary");
    let changes = &summary["changes"];
    assert_eq!(
        (changes["import"].as_u64(), changes["add"].as_u64(), changes["change"].as_u64(), changes["remove"].as_u64()),
        (Some(2 * ACCOUNTS as u64), Some(0), Some(0), Some(0)),
        "{summary}"
    );
    let live = out
        .diagnostics()
        .into_iter()
        .find(|d| d["severity"] == "warning" && d["summary"] == "AFT's request processing is live")
        .unwrap_or_else(|| panic!("AFT's listeners are reported: {}", said(&out)));
    let detail = live["detail"].as_str().unwrap();
    assert!(
        detail.contains("aft-account-request-action-trigger") && detail.contains("aft-controltower-event-logger"),
        "{detail}"
    );
    assert_eq!(proxy.writes(), Vec::<String>::new(), "the plan writes nothing");

    // apply: the imports make no AWS write, so no AFT Lambda is triggered (no row written, no
    // Control Tower operation, no notification)
    proxy.reset();
    let out = tf.run(&["apply", "-input=false", "-no-color", "cutover.tfplan"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let calls = proxy.calls();
    assert_eq!(proxy.writes(), Vec::<String>::new(), "the imports write nothing: {calls:?}");
    assert!(items(&l, "aft-request").await == rows_before, "AFT's rows untouched");
    assert!(items(&l, "aft-request-metadata").await == metadata_before, "metadata untouched");
    for s in &seeded {
        assert!(l.notifications(&s.id).await.is_empty(), "no framework run for {}", s.id);
    }
    let state = tf.state();
    let resources = state["values"]["root_module"]["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2 * ACCOUNTS, "every account and pipeline is in the state");
    let names: Vec<&str> = resources.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"account_legacy0") && names.contains(&"account_legacy49"), "the team's names: {names:?}");

    // the next plan is empty
    assert_eq!(tf.plan_exit(), 0);

    // the guide's step 6: AFT's listeners off (its event source mappings deleted, its Control
    // Tower rule disabled); then nothing is reported, and a new account may be planned
    let lambda = aws_sdk_lambda::Client::new(&l.aft_cfg);
    let mappings = lambda.list_event_source_mappings().event_source_arn(&stream).send().await.unwrap();
    for m in mappings.event_source_mappings() {
        lambda.delete_event_source_mapping().uuid(m.uuid().unwrap()).send().await.unwrap();
    }
    aws_sdk_eventbridge::Client::new(&l.aft_cfg)
        .disable_rule()
        .name("aft-controltower-event-logger")
        .event_bus_name("aft-events-from-ct-management")
        .send()
        .await
        .unwrap();
    let out = tf.run(&["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    assert!(!said(&out).contains("AFT's request processing is live"), "{}", said(&out));
}
