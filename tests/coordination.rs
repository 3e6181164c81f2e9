//! Coordination between Terraform states (issue 25): the claims of the coordination table, one
//! state at a time. (Two states applying at once, with kills and faults: tests/many_runners.rs.)
//! Real Terraform, the built provider, moto.

use aft_test_harness as common;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue as Av;
use common::fixtures::account_block;
use common::terraform::change_of;
use common::{Landing, Tf, email, one_line};

const CLAIMED: &str = "AccountEmail is claimed by another Terraform state";

/// The provider block of a state named `owner` sharing `table`.
fn provider(l: &Landing, table: &str, owner: &str) -> String {
    l.provider(&format!(
        "  account_factory {{\n    method = \"organizations\"\n  }}\n  coordination {{\n    table = \"{table}\"\n    owner = \"{owner}\"\n  }}"
    ))
}

fn ddb(l: &Landing) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&l.aft_cfg)
}

/// The claim item of an email, as the table holds it.
async fn claim(l: &Landing, table: &str, email: &str) -> Option<HashMap<String, Av>> {
    ddb(l)
        .get_item()
        .table_name(table)
        .key("pk", Av::S(format!("claim#{}", email.to_ascii_lowercase())))
        .key("sk", Av::S("claim".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn s(item: &HashMap<String, Av>, k: &str) -> String {
    item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

/// Every diagnostic of a `-json` command, as "severity: summary: detail" on one line each.
fn said(out: &common::terraform::Out) -> String {
    out.diagnostics()
        .iter()
        .map(|d| {
            let f = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            one_line(&format!("{}: {}: {}", f("severity"), f("summary"), f("detail")))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_state_with_the_same_email_is_refused_before_anything_changes() {
    let l = Landing::new().await;
    let table = format!("coordination-{}", common::suffix());
    let e = email("claimed");
    let (a, b) = (Tf::new("claims-a"), Tf::new("claims-b"));

    // state A creates the account; the provider creates the table on its first write
    a.write(&format!(
        "{}{}",
        provider(&l, &table, "team-a/prod"),
        account_block("x", &e, "Sandbox", "  account_tags = { Team = \"a\" }")
    ));
    a.apply().ok();
    let id = a.values("aft_account_provisioning.x")["account_id"].as_str().unwrap().to_string();
    assert_eq!(a.values("aft_account_provisioning.x")["coordination_owner"], "team-a/prod");
    let keys = ddb(&l).describe_table().table_name(&table).send().await.unwrap();
    let schema: Vec<(String, String)> = keys
        .table()
        .unwrap()
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string()))
        .collect();
    assert_eq!(schema, [("pk".to_string(), "HASH".to_string()), ("sk".to_string(), "RANGE".to_string())]);
    let c = claim(&l, &table, &e).await.expect("A's claim");
    assert_eq!((s(&c, "owner"), s(&c, "account_id"), s(&c, "email")), ("team-a/prod".into(), id.clone(), e.clone()));

    // state B declares the same email with another OU and other tags: the plan refuses it on the
    // attribute, naming A
    b.write(&format!(
        "{}{}",
        provider(&l, &table, "team-b/dev"),
        account_block("y", &e, "Prod", "  account_tags = { Team = \"b\" }")
    ));
    let out = b.run(&["plan", "-input=false", "-no-color", "-json"]);
    assert_ne!(out.code, 0, "{}", said(&out));
    let err = out.errors().into_iter().find(|d| d["summary"] == CLAIMED).unwrap_or_else(|| panic!("{}", said(&out)));
    assert!(one_line(err["detail"].as_str().unwrap()).contains("claimed by \"team-a/prod\""), "{err}");
    assert!(err["detail"].as_str().unwrap().contains(&id), "the account is named: {err}");
    assert!(err["snippet"]["code"].as_str().unwrap().contains("AccountEmail"), "on the attribute: {err}");

    // a plan made before A's claim existed still cannot take the account: B's saved plan, applied
    // after A claimed, is refused before any AWS change
    let e2 = email("raced");
    b.write(&format!(
        "{}{}",
        provider(&l, &table, "team-b/dev"),
        account_block("y", &e2, "Prod", "  account_tags = { Team = \"b\" }")
    ));
    b.run(&["plan", "-input=false", "-no-color", "-out=raced.tfplan"]).ok();
    a.write(&format!(
        "{}{}{}",
        provider(&l, &table, "team-a/prod"),
        account_block("x", &e, "Sandbox", "  account_tags = { Team = \"a\" }"),
        account_block("x2", &e2, "Sandbox", "  account_tags = { Team = \"a\" }")
    ));
    a.apply().ok();
    let id2 = a.values("aft_account_provisioning.x2")["account_id"].as_str().unwrap().to_string();
    let out = b.run(&["apply", "-input=false", "-no-color", "-json", "raced.tfplan"]);
    assert_ne!(out.code, 0);
    let err = out.errors().into_iter().find(|d| d["summary"] == CLAIMED).unwrap_or_else(|| panic!("{}", said(&out)));
    assert!(one_line(err["detail"].as_str().unwrap()).contains("claimed by \"team-a/prod\""), "{err}");
    assert_eq!(l.parent(&id2).await, l.ous["Sandbox"], "B did not move A's account");
    assert_eq!(l.tags(&id2).await.get("Team").map(String::as_str), Some("a"), "B did not retag A's account");
    assert_eq!(l.accounts_with_email(&e2).await.len(), 1);
    assert_eq!(s(&claim(&l, &table, &e2).await.unwrap(), "owner"), "team-a/prod");
    let held = b.state()["values"]["root_module"]["resources"].as_array().map_or(0, Vec::len);
    assert_eq!(held, 0, "B holds nothing");

    // A's destroy releases A's claims only after it removed what it owns
    a.destroy().ok();
    assert!(claim(&l, &table, &e).await.is_none() && claim(&l, &table, &e2).await.is_none());
    assert!(l.metadata(&id).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_state_that_does_not_own_the_claim_changes_nothing_and_its_destroy_only_forgets() {
    let l = Landing::new().await;
    let table = format!("coordination-{}", common::suffix());
    let e = email("shared");
    let (a, b) = (Tf::new("forget-a"), Tf::new("forget-b"));
    a.write(&format!(
        "{}{}",
        provider(&l, &table, "state-a"),
        account_block("x", &e, "Sandbox", "  account_tags = { Team = \"a\" }")
    ));
    a.apply().ok();
    let id = a.values("aft_account_provisioning.x")["account_id"].as_str().unwrap().to_string();

    // B took the same account before it had coordination (what two states did before this
    // feature): its create adopted A's account
    b.write(&format!(
        "{}{}",
        l.provider("  account_factory {\n    method = \"organizations\"\n  }"),
        account_block("x", &e, "Sandbox", "  account_tags = { Team = \"a\" }")
    ));
    b.apply().ok();
    assert_eq!(b.values("aft_account_provisioning.x")["account_id"], id.as_str());

    // with coordination, B's next plan refuses to act on A's account
    b.write(&format!(
        "{}{}",
        provider(&l, &table, "state-b"),
        account_block("x", &e, "Prod", "  account_tags = { Team = \"b\" }")
    ));
    let out = b.run(&["plan", "-input=false", "-no-color", "-json"]);
    assert_ne!(out.code, 0);
    assert!(
        out.errors().iter().any(|d| d["summary"] == CLAIMED && d["detail"].as_str().unwrap().contains("\"state-a\"")),
        "{}",
        said(&out)
    );

    // B's destroy (even asking to park and close) removes the account from B's state only
    b.write(&format!(
        "{}{}",
        provider(&l, &table, "state-b"),
        account_block("x", &e, "Sandbox", "  account_tags = { Team = \"a\" }\n  close_account_on_delete = true")
    ));
    let out = b.run(&["destroy", "-auto-approve", "-input=false", "-no-color", "-json"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    assert!(said(&out).contains("belongs to \"state-a\""), "{}", said(&out));
    assert!(l.metadata(&id).await.is_some(), "A's metadata item stays");
    let st = l.org().describe_account().account_id(&id).send().await.unwrap();
    assert_eq!(st.account().unwrap().state().unwrap().as_str(), "ACTIVE", "not closed");
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"]);
    assert_eq!(s(&claim(&l, &table, &e).await.unwrap(), "owner"), "state-a", "A's claim stays");
    assert_eq!(a.plan_exit(), 0, "A's next plan is empty");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_takes_the_claim_over_and_the_former_owner_is_refused() {
    let l = Landing::new().await;
    let table = format!("coordination-{}", common::suffix());
    let e = email("moved");
    let (a, b) = (Tf::new("takeover-a"), Tf::new("takeover-b"));
    a.write(&format!("{}{}", provider(&l, &table, "state-a"), account_block("x", &e, "Sandbox", "")));
    a.apply().ok();
    let id = a.values("aft_account_provisioning.x")["account_id"].as_str().unwrap().to_string();

    // B imports it: the plan says it takes the claim over, and changes nothing else
    b.write(&format!(
        "{}import {{\n  to = aft_account_provisioning.x\n  id = \"{e}\"\n}}\n{}",
        provider(&l, &table, "state-b"),
        account_block("x", &e, "Sandbox", "")
    ));
    let out = b.run(&["plan", "-input=false", "-no-color", "-json", "-out=import.tfplan"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    assert!(said(&out).contains("takes") && said(&out).contains("over from \"state-a\""), "{}", said(&out));
    let plan: serde_json::Value =
        serde_json::from_str(&b.run(&["show", "-json", "import.tfplan"]).ok().stdout).unwrap();
    let change = change_of(&plan, "aft_account_provisioning.x");
    assert_eq!(change["change"]["after"]["coordination_owner"], "state-b", "{change}");
    assert!(change["change"]["after_unknown"]["framework_run_id"].is_null(), "no framework run: {change}");
    b.run(&["apply", "-input=false", "-no-color", "import.tfplan"]).ok();
    assert_eq!(s(&claim(&l, &table, &e).await.unwrap(), "owner"), "state-b");
    assert_eq!(b.plan_exit(), 0, "B's next plan is empty");

    // A no longer owns it: a plan that changes nothing says so, one that would change the account
    // is refused, and its destroy only forgets it
    let out = a.run(&["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode"]);
    assert_eq!(out.code, 0, "nothing to change: {}", said(&out));
    assert!(said(&out).contains("This state no longer owns"), "{}", said(&out));
    a.write(&format!("{}{}", provider(&l, &table, "state-a"), account_block("x", &e, "Prod", "")));
    let out = a.run(&["plan", "-input=false", "-no-color", "-json"]);
    assert!(
        out.errors().iter().any(|d| d["summary"] == CLAIMED && d["detail"].as_str().unwrap().contains("\"state-b\"")),
        "{}",
        said(&out)
    );
    // removed from A's configuration: the apply destroys it from A's state only
    a.write(&provider(&l, &table, "state-a"));
    let out = a.run(&["apply", "-auto-approve", "-input=false", "-no-color", "-json"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    assert!(said(&out).contains("belongs to \"state-b\""), "{}", said(&out));
    assert!(l.metadata(&id).await.is_some(), "the metadata item stays for B");
    assert_eq!(s(&claim(&l, &table, &e).await.unwrap(), "owner"), "state-b");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_coordination_the_plan_says_what_it_cannot_guard() {
    let l = Landing::new().await;
    let tf = Tf::new("no-coordination");
    tf.write(&format!(
        "{}{}",
        l.provider("  account_factory {\n    method = \"organizations\"\n  }"),
        account_block("x", &email("alone"), "Sandbox", "")
    ));
    let out = tf.run(&["plan", "-input=false", "-no-color", "-json"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    let w = out
        .diagnostics()
        .into_iter()
        .find(|d| d["severity"] == "warning" && d["summary"] == "No coordination between Terraform states")
        .unwrap_or_else(|| panic!("{}", said(&out)));
    assert!(one_line(w["detail"].as_str().unwrap()).contains("same AccountEmail"), "{w}");

    // the cap is Control Tower's quota: 10 at most
    tf.write(&format!(
        "{}{}",
        l.provider("  account_factory {\n    method = \"organizations\"\n    max_concurrent_operations = 11\n  }"),
        account_block("x", &email("alone"), "Sandbox", "")
    ));
    let out = tf.run(&["plan", "-input=false", "-no-color", "-json"]);
    assert!(out.failed_at("max_concurrent_operations"), "{}", said(&out));
}

/// Writes a lease as another runner holds one: live until `expires_at` (Unix seconds).
async fn foreign_lease(l: &Landing, table: &str, what: &str, expires_at: u64) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    ddb(l)
        .put_item()
        .table_name(table)
        .item("pk", Av::S("lease#control-tower".into()))
        .item("sk", Av::S(id.clone()))
        .item("owner", Av::S("runner-elsewhere".into()))
        .item("what", Av::S(what.into()))
        .item("expires_at", Av::N(expires_at.to_string()))
        .send()
        .await
        .unwrap();
    id
}

/// Every lease item of the table (live or lapsed), read consistently.
async fn lease_items(l: &Landing, table: &str) -> Vec<HashMap<String, Av>> {
    let out = ddb(l)
        .query()
        .table_name(table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", Av::S("lease#control-tower".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items().to_vec()
}

fn epoch() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test(flavor = "multi_thread")]
async fn another_runners_lease_holds_the_operation_until_it_ends_or_lapses() {
    use common::service_catalog::ServiceCatalog;
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), std::time::Duration::from_millis(700));
    let table = format!("coordination-{}", common::suffix());
    let mut tf = Tf::new("leases");
    sc.route(&mut tf);
    let provider = |cap: u32| {
        l.provider(&format!(
            "  account_factory {{\n    method = \"control_tower\"\n    max_concurrent_operations = {cap}\n    poll_interval = \"200ms\"\n  }}\n  coordination {{\n    table = \"{table}\"\n    owner = \"state-a\"\n    lease_duration = \"5s\"\n  }}"
        ))
    };
    // the table exists (an earlier apply made it) and another runner holds the only place
    let e = email("leased");
    tf.write(&format!(
        "{}{}",
        provider(1),
        account_block("x", &e, "Sandbox", "  timeouts {\n    create = \"8s\"\n  }")
    ));
    let out = tf.run(&["plan", "-input=false", "-no-color", "-json"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    assert!(said(&out).contains(&format!("The coordination table {table} does not exist yet")), "{}", said(&out));
    // created as the coordination guide's one-time command does
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let mut create = ddb(&l).create_table().table_name(&table).billing_mode(BillingMode::PayPerRequest);
    for (name, kind) in [("pk", KeyType::Hash), ("sk", KeyType::Range)] {
        create = create
            .key_schema(KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap())
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            );
    }
    create.send().await.unwrap();
    foreign_lease(&l, &table, "elsewhere-1", epoch() + 3600).await;
    // an expired lease (a killed runner's) does not count
    foreign_lease(&l, &table, "elsewhere-2", epoch() - 1).await;

    // with a cap of 1 the operation waits for the other runner's lease: the create times out
    // without sending anything to Account Factory
    let out = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color", "-json"]);
    assert_ne!(out.code, 0, "{}", said(&out));
    assert!(said(&out).contains("waiting for Control Tower to finish other account operations"), "{}", said(&out));
    assert!(!sc.calls().iter().any(|c| c == "ProvisionProduct"), "nothing was sent: {:?}", sc.calls());
    let leases = lease_items(&l, &table).await;
    let mine: Vec<_> = leases.iter().filter(|i| s(i, "owner") == "state-a").collect();
    assert!(mine.is_empty(), "the waiting runner removed its lease each time it backed off: {mine:?}");

    // with a cap of 2 there is room beside it: the account is vended, and the lease it held is gone
    tf.write(&format!("{}{}", provider(2), account_block("x", &e, "Sandbox", "")));
    let out = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color", "-json"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    assert_eq!(l.accounts_with_email(&e).await.len(), 1);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let leases = lease_items(&l, &table).await;
    let owners: Vec<String> = leases.iter().map(|i| s(i, "owner")).collect();
    assert_eq!(owners, ["runner-elsewhere"], "only the other runner's live lease remains (its lapsed one was removed)");
}
