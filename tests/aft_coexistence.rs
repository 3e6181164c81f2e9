//! Beside a live AFT deployment (issue 14): AFT's own Lambdas see the provider's accounts as
//! theirs, and never act on them because of something the provider wrote.
//!
//! AFT's Lambdas cannot run here (their code is not on PyPI, and moto runs functions only in
//! Docker), so what they read and decide comes from `tests/aft_model.py`, a model of AFT
//! v1.20.1's identify-targets and request-trigger code; the tables it reads are the real ones in
//! moto. "What listens" is real too: moto's event source mappings and DynamoDB stream settings.

use aft_test_harness as common;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue as Av;
use common::fixtures::account_block;
use common::{Landing, Tf, aft};
use serde_json::json;

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

/// AFT's core-account parameters, which AFT's target filter reads (`get_core_accounts`).
async fn core_parameters(l: &Landing) {
    for name in ["log-archive", "audit"] {
        let id = common::random_account_id();
        common::fixtures::put_parameter(&l.aft_cfg, &format!("/aft/account/{name}/account-id"), &id).await;
    }
}

/// A live AFT deployment: the request table with its stream, AFT's action trigger on it, and one
/// account AFT vended.
async fn live_deployment() -> (Landing, aft::Seeded) {
    let l = Landing::new().await;
    let stream = aft::request_table(&l, true).await.expect("stream");
    aft::action_trigger(&l, &stream).await;
    core_parameters(&l).await;
    let a1 = aft::seed_account(&l, 1, "Sandbox").await;
    (l, a1)
}

/// A provider-managed account with tags, custom fields and a customizations name.
fn managed(name: &str, email: &str, ou: &str, tags: &str) -> String {
    account_block(
        name,
        email,
        ou,
        &format!(
            "  account_tags = {{ {tags} }}\n  custom_fields = {{ tier = \"a<b\" }}\n  account_customizations_name = \"sandbox\"\n  change_management_parameters = {{\n    change_reason       = \"new team\"\n    change_requested_by = \"platform\"\n  }}\n"
        ),
    )
}

fn targets(v: &serde_json::Value) -> Vec<String> {
    assert!(v["error"].is_null(), "AFT's identify-targets failed: {v}");
    let mut t: Vec<String> = v["targets"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
    t.sort();
    t
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn id_of(tf: &Tf, address: &str) -> String {
    tf.values(address)["account_id"].as_str().unwrap().to_string()
}

fn s(v: &str) -> Av {
    Av::S(v.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_request_table_gets_afts_rows_and_afts_targeting_sees_the_mixed_fleet() {
    let l = Landing::new().await;
    // AFT's request table with its stream on, and no event source mapping on it: the state the
    // migration guide leaves (AFT's request pipeline removed)
    aft::request_table(&l, true).await;
    core_parameters(&l).await;
    let a1 = aft::seed_account(&l, 1, "Sandbox").await;
    let a2 = aft::seed_account(&l, 2, "Prod").await;
    let afts_rows = aft::rows(&l).await;

    let (e1, e2) = (common::email("co-p1"), common::email("co-p2"));
    let tf = Tf::new("coexist-quiet");
    let config = |both: bool| {
        let mut c = l.provider(ORGS) + &managed("p1", &e1, "Sandbox", "env = \"prod\", tier = \"gold\"");
        if both {
            c += &managed("p2", &e2, "Prod", "env = \"prod\"");
        }
        c
    };
    tf.write(&config(true));
    let plan = tf.run(&["plan", "-input=false", "-no-color", "-json"]).ok();
    assert!(
        !plan.diagnostics().iter().any(|d| d["summary"].as_str().unwrap_or_default().contains("aft-request")),
        "no warning where nothing listens: {:?}",
        plan.diagnostics()
    );
    tf.apply();
    let (p1, p2) = (id_of(&tf, "aft_account_provisioning.p1"), id_of(&tf, "aft_account_provisioning.p2"));

    // AFT's row shape (its account-request module), keyed by the email, tags as jsonencode writes them
    let rows = aft::rows(&l).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    let r1 = &rows[&e1];
    let ct = r1["control_tower_parameters"].as_m().unwrap();
    let want: BTreeMap<&str, &str> = [
        ("AccountEmail", e1.as_str()),
        ("AccountName", "p1"),
        ("ManagedOrganizationalUnit", "Sandbox"),
        ("SSOUserEmail", "owner@example.com"),
        ("SSOUserFirstName", "Ada"),
        ("SSOUserLastName", "Lovelace"),
    ]
    .into();
    let got: BTreeMap<&str, &str> = ct.iter().map(|(k, v)| (k.as_str(), v.as_s().unwrap().as_str())).collect();
    assert_eq!(got, want);
    assert_eq!(r1["account_tags"], s(r#"{"env":"prod","tier":"gold"}"#));
    assert_eq!(r1["custom_fields"], s(r#"{"tier":"a\u003cb"}"#), "Terraform's jsonencode escapes <");
    assert_eq!(r1["account_customizations_name"], s("sandbox"));
    let cm = r1["change_management_parameters"].as_m().unwrap();
    assert_eq!(cm["change_reason"], s("new team"));
    assert_eq!(cm["change_requested_by"], s("platform"));
    assert_eq!(r1["managed_by"], s("terraform-provider-aft"));
    for (email, row) in &afts_rows {
        assert_eq!(&rows[email], row, "AFT's own row is untouched");
    }

    // AFT's target resolution over the mixed fleet: exactly the managed accounts of each kind
    let all = aft::model(&l, "identify-targets", &json!({"include": [{"type": "all"}]}).to_string(), None);
    assert_eq!(targets(&all), sorted(&[&a1.id, &a2.id, &p1, &p2]));
    assert_eq!(all["payload_tags"][&p1], json!({"env": "prod", "tier": "gold"}));
    let ous = json!({"include": [{"type": "ous", "target_value": ["Sandbox"]}]});
    assert_eq!(targets(&aft::model(&l, "identify-targets", &ous.to_string(), None)), sorted(&[&a1.id, &p1]));
    let tags = json!({"include": [{"type": "tags", "target_value": [{"env": "prod"}]}]});
    assert_eq!(targets(&aft::model(&l, "identify-targets", &tags.to_string(), None)), sorted(&[&p1, &p2]));
    let accounts = json!({"include": [{"type": "accounts", "target_value": [p2, a1.id]}],
                          "exclude": [{"type": "ous", "target_value": ["Sandbox"]}]});
    assert_eq!(targets(&aft::model(&l, "identify-targets", &accounts.to_string(), None)), sorted(&[&p2]));

    // this provider's own targeting (the aft_accounts data source, shared with the action) picks
    // the same accounts as AFT's, for each kind of target
    let selectors: [(&str, &str, serde_json::Value); 5] = [
        ("all", "  include {\n    type = \"all\"\n  }", json!({"include": [{"type": "all"}]})),
        ("sandbox", "  include {\n    type = \"ous\"\n    target_value = [\"Sandbox\"]\n  }", ous.clone()),
        (
            "workloads",
            "  include {\n    type = \"ous\"\n    target_value = [\"Workloads\"]\n  }",
            json!({"include": [{"type": "ous", "target_value": ["Workloads"]}]}),
        ),
        (
            "two_maps",
            "  include {\n    type = \"tags\"\n    tags = [{ tier = \"gold\" }, { env = \"prod\" }]\n  }",
            json!({"include": [{"type": "tags", "target_value": [{"tier": "gold"}, {"env": "prod"}]}]}),
        ),
        (
            "one_map",
            "  include {\n    type = \"tags\"\n    tags = [{ tier = \"silver\", env = \"prod\" }]\n  }",
            json!({"include": [{"type": "tags", "target_value": [{"tier": "silver", "env": "prod"}]}]}),
        ),
    ];
    let mut with_data = config(true);
    for (name, body, _) in &selectors {
        with_data += &format!(
            "data \"aft_accounts\" \"{name}\" {{\n{body}\n}}\noutput \"{name}\" {{\n  value = data.aft_accounts.{name}.ids\n}}\n"
        );
    }
    tf.write(&with_data);
    tf.apply();
    let out: serde_json::Value = serde_json::from_str(&tf.run(&["output", "-json"]).ok().stdout).unwrap();
    for (name, _, payload) in &selectors {
        let mut ours: Vec<String> =
            out[name]["value"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
        ours.sort();
        let afts = targets(&aft::model(&l, "identify-targets", &payload.to_string(), None));
        assert_eq!(ours, afts, "{name}: aft_accounts and AFT's identify-targets agree");
    }
    assert!(targets(&aft::model(&l, "identify-targets", &selectors[2].2.to_string(), None)).is_empty());
    assert_eq!(targets(&aft::model(&l, "identify-targets", &selectors[4].2.to_string(), None)), sorted(&[&p1, &p2]));

    // AFT's own framework run (say, from its invoke-customizations) rewrites the metadata item in
    // its shape, without this provider's `account_request`: the plan stays empty
    l.put_metadata(&p1, &e1, "p1", &l.ous["Sandbox"], &[("env", "prod"), ("tier", "gold")]).await;
    assert_eq!(tf.plan_exit(), 0, "AFT's rewrite of the metadata item plans nothing");

    // removing p2 removes its row (ours, and nothing listens), and only its row
    tf.write(&config(false));
    tf.apply();
    let after = aft::rows(&l).await;
    assert!(!after.contains_key(&e2), "p2's row removed: {after:?}");
    assert!(after.contains_key(&e1));
    for (email, row) in &afts_rows {
        assert_eq!(&after[email], row, "AFT's own row is untouched");
    }
    let _ = (a1, a2);
}

#[tokio::test(flavor = "multi_thread")]
async fn live_request_pipeline_gets_nothing_written_and_a_plan_warning() {
    let (l, a1) = live_deployment().await;
    let before = aft::rows(&l).await;

    let e1 = common::email("co-live");
    let tf = Tf::new("coexist-live");
    // a plan that would write while AFT listens is refused until the configuration says how to
    // coexist (issue 26)
    tf.write(&(l.provider(ORGS) + &managed("p1", &e1, "Sandbox", "env = \"prod\"")));
    let out = tf.run(&["plan", "-input=false", "-no-color", "-json"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    let err = out.errors().into_iter().find(|d| d["summary"] == "AFT's request processing is live").expect("refused");
    assert!(err["detail"].as_str().unwrap().contains("aft-account-request-action-trigger"), "{err}");
    assert!(aft::rows(&l).await == before, "nothing written");
    tf.write(
        &(l.provider(&format!("{ORGS}\n  aft_request_rows = \"auto\""))
            + &managed("p1", &e1, "Sandbox", "env = \"prod\"")),
    );
    let warning = no_row_warning(&tf);
    let detail = warning["detail"].as_str().unwrap();
    assert!(detail.contains("aft-account-request-action-trigger"), "names what listens: {detail}");
    assert!(detail.contains("aft_request_rows = \"inert\""), "{detail}");
    assert!(
        warning["snippet"]["code"].as_str().is_some_and(|c| c.contains("AccountEmail")),
        "on the attribute: {warning}"
    );

    tf.apply();
    let p1 = id_of(&tf, "aft_account_provisioning.p1");
    // nothing written to the table means no stream record: AFT's trigger never ran for p1
    assert_eq!(aft::rows(&l).await, before, "the request table is exactly as AFT left it");
    // ... and AFT's invoke-customizations fails as the warning says
    let all = aft::model(&l, "identify-targets", &json!({"include": [{"type": "all"}]}).to_string(), None);
    assert!(all["error"].as_str().is_some_and(|e| e.contains("not found in aft-request")), "{all}");

    tf.destroy();
    assert_eq!(aft::rows(&l).await, before, "destroy writes nothing either");
    let _ = (a1, p1);
}

#[tokio::test(flavor = "multi_thread")]
async fn inert_rows_keep_afts_targeting_working_and_its_trigger_idle() {
    let (l, a1) = live_deployment().await;
    let afts_row = aft::rows(&l).await[&a1.email].clone();

    let e1 = common::email("co-inert");
    let tf = Tf::new("coexist-inert");
    let config = |tags: &str| {
        l.provider(&format!("{ORGS}\n  aft_request_rows = \"inert\"")) + &managed("p1", &e1, "Sandbox", tags)
    };
    tf.write(&config("env = \"prod\""));
    tf.run(&["init", "-input=false", "-no-color"]).ok();
    let plan = tf.run(&["plan", "-input=false", "-no-color", "-json"]).ok();
    assert!(
        !plan.diagnostics().iter().any(|d| d["summary"].as_str().unwrap_or_default().contains("aft-request")),
        "the configuration asked for inert rows: {:?}",
        plan.diagnostics()
    );
    tf.apply();
    let p1 = id_of(&tf, "aft_account_provisioning.p1");

    let rows = aft::rows(&l).await;
    let row = rows[&e1].clone();
    assert!(!row.contains_key("control_tower_parameters"), "{row:?}");
    assert_eq!(row["account_tags"], s(r#"{"env":"prod"}"#));
    assert_eq!(row["managed_by"], s("terraform-provider-aft"));
    // what AFT's trigger does with the record of that write: fails before acting
    let insert = aft::model(&l, "trigger", "", Some(&aft::record(None, Some(&row))));
    assert_eq!(insert["action"], "rejected", "{insert}");
    // (the model tells the difference: AFT's own row would start its pipeline)
    let theirs = aft::model(&l, "trigger", "", Some(&aft::record(None, Some(&afts_row))));
    assert_eq!(theirs["action"], "acts", "{theirs}");
    let all = aft::model(&l, "identify-targets", &json!({"include": [{"type": "all"}]}).to_string(), None);
    assert_eq!(targets(&all), sorted(&[&a1.id, &p1]));
    assert_eq!(all["payload_tags"][&p1], json!({"env": "prod"}));

    // a change rewrites the row (a MODIFY AFT's trigger also rejects)
    tf.write(&config("env = \"staging\""));
    tf.apply();
    let changed = aft::rows(&l).await[&e1].clone();
    assert_eq!(changed["account_tags"], s(r#"{"env":"staging"}"#));
    let modify = aft::model(&l, "trigger", "", Some(&aft::record(Some(&row), Some(&changed))));
    assert_eq!(modify["action"], "rejected", "{modify}");
    assert_eq!(aft::rows(&l).await[&a1.email], afts_row, "AFT's own row is untouched");

    // destroy keeps the row: its REMOVE would start AFT's cleanup
    let remove = aft::model(&l, "trigger", "", Some(&aft::record(Some(&changed), None)));
    assert_eq!(remove["action"], "cleanup");
    tf.destroy();
    let after: HashMap<String, HashMap<String, Av>> = aft::rows(&l).await.into_iter().collect();
    assert_eq!(after.get(&e1), Some(&changed), "the inert row stays after destroy");
}

/// AFT's Control Tower event rule hands Control Tower's account events to AFT's framework, which
/// reads the account's row (full or inert alike) without looking at `control_tower_parameters`,
/// whatever vended the account: with the rule on, neither `organizations` in `auto` nor `inert`
/// writes a row, and each plan warns, naming the rule.
#[tokio::test(flavor = "multi_thread")]
async fn afts_control_tower_event_rule_counts_for_organizations_and_for_inert_rows() {
    let l = Landing::new().await;
    // the table without its stream: the rule is the only listener
    assert!(aft::request_table(&l, false).await.is_none());
    aft::ct_event_rule(&l).await;
    core_parameters(&l).await;
    for (name, rows) in [("auto", "\n  aft_request_rows = \"auto\""), ("inert", "\n  aft_request_rows = \"inert\"")] {
        let e = common::email(&format!("co-rule-{name}"));
        let tf = Tf::new(&format!("coexist-rule-{name}"));
        tf.write(&(l.provider(&format!("{ORGS}{rows}")) + &managed("p1", &e, "Sandbox", "env = \"prod\"")));
        let warning = no_row_warning(&tf);
        let detail = warning["detail"].as_str().unwrap();
        assert!(detail.contains("aft-controltower-event-logger"), "{name}: names the rule: {detail}");
        assert!(detail.contains("disable-rule"), "{name}: says how to turn it off: {detail}");
        tf.apply();
        assert!(!aft::rows(&l).await.contains_key(&e), "{name}: no row AFT's framework could start from");
    }
}

/// Plans the directory (after `init`) and returns its plan-time warning that the account will get
/// no `aft-request` row; panics when the plan has none.
#[track_caller]
fn no_row_warning(tf: &Tf) -> serde_json::Value {
    tf.run(&["init", "-input=false", "-no-color"]).ok();
    let plan = tf.run(&["plan", "-input=false", "-no-color", "-json"]).ok();
    plan.diagnostics()
        .into_iter()
        .find(|d| d["severity"] == "warning" && d["summary"] == "No aft-request row for this account")
        .unwrap_or_else(|| panic!("a plan-time warning: {}", plan.stdout))
}
