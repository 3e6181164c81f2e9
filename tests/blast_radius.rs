//! Touch only what the configuration names: the landing zone's shared accounts are never closed,
//! parked or moved; a replacement never retires the account it keeps; destroy checks before it
//! deletes; a failed create that was untainted runs again. Real Terraform, the built provider,
//! moto.

use aft_test_harness as common;

use common::fixtures::{account_block, put_parameter};
use common::terraform::change_of;
use common::{Landing, Moto, Tf, email, one_line};

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

/// The account's status in Organizations.
async fn status(l: &Landing, id: &str) -> String {
    let a = l.org().describe_account().account_id(id).send().await.unwrap();
    a.account().unwrap().state().map(|s| s.as_str().to_string()).unwrap()
}

/// The `REMOVE` audit records written for an email.
async fn removes(l: &Landing, email: &str) -> usize {
    l.audit_events(email).await.iter().filter(|e| *e == "REMOVE").count()
}

/// Changes an account's primary email in the emulator (what its root user can do on AWS).
fn change_primary_email(id: &str, new: &str) {
    let body = serde_json::json!({ "account_id": id, "email": new }).to_string();
    let (code, out) =
        common::http::request(Moto::get().port, "POST", "/aft-test/account-email", "application/json", &body).unwrap();
    assert_eq!(code, 200, "{out}");
}

/// Sets attributes of every `aft_account_provisioning` in the state, as a state written by an
/// earlier version of the provider (which allowed them for any account) holds them.
fn set_in_state(tf: &Tf, attrs: serde_json::Value) {
    let pulled = tf.run(&["state", "pull"]).ok();
    let mut st: serde_json::Value = serde_json::from_str(&pulled.stdout).unwrap();
    for r in st["resources"].as_array_mut().unwrap() {
        for i in r["instances"].as_array_mut().unwrap() {
            for (k, v) in attrs.as_object().unwrap() {
                i["attributes"][k] = v.clone();
            }
        }
    }
    st["serial"] = serde_json::json!(st["serial"].as_u64().unwrap() + 1);
    std::fs::write(tf.path("pushed.tfstate"), st.to_string()).unwrap();
    tf.run(&["state", "push", "pushed.tfstate"]).ok();
}

/// A landing zone whose log archive, audit and AFT management accounts are members of the
/// organization (as in a real Control Tower landing zone), named in AFT's SSM parameters (the
/// AFT management account by the provider setting, since the emulator's hub account cannot join
/// the organization). Returns (role, id, email, OU name) of the four shared accounts.
async fn shared_landing() -> (Landing, Vec<(&'static str, String, String, &'static str)>) {
    let l = Landing::new().await;
    let mut shared = Vec::new();
    for (role, tag) in
        [("log archive account", "log-archive"), ("audit account", "audit"), ("AFT management account", "aft-mgmt")]
    {
        let e = email(tag);
        let id = l.create_account(&e, tag, Some("Workloads")).await;
        if tag != "aft-mgmt" {
            put_parameter(&l.aft_cfg, &format!("/aft/account/{tag}/account-id"), &id).await;
        }
        shared.push((role, id, e, "Workloads"));
    }
    let ct = l.org().describe_account().account_id(&l.ct).send().await.unwrap();
    shared.push((
        "Control Tower management account",
        l.ct.clone(),
        ct.account().unwrap().email().unwrap().to_string(),
        "Root",
    ));
    (l, shared)
}

/// The account name the shared landing zone gave the account with this email.
fn l_name(email: &str) -> &str {
    ["log-archive", "audit", "aft-mgmt"].into_iter().find(|t| email.starts_with(&format!("{t}-"))).unwrap_or("master")
}

fn shared_config(l: &Landing, shared: &[(&str, String, String, &str)], extra: &str) -> String {
    let aft_mgmt = &shared.iter().find(|s| s.0 == "AFT management account").unwrap().1;
    let mut hcl = l.provider(&format!("{ORGS}\n  aft_management_account_id = \"{aft_mgmt}\"\n  notification_topic_arn = \"{}\"\n  failure_notification_topic_arn = \"{}\"", l.topic, l.failure_topic));
    for (i, (_, id, e, ou)) in shared.iter().enumerate() {
        hcl.push_str(&format!("\nimport {{\n  to = aft_account_provisioning.shared{i}\n  id = \"{id}\"\n}}\n"));
        // AccountName as Organizations has it (it cannot change)
        let name = l_name(e);
        hcl.push_str(&account_block(&format!("shared{i}"), e, ou, extra).replacen(
            &format!("AccountName               = \"shared{i}\""),
            &format!("AccountName               = \"{name}\""),
            1,
        ));
    }
    hcl
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_accounts_are_never_closed_parked_or_moved() {
    let (l, shared) = shared_landing().await;
    let tf = Tf::new("shared-accounts");

    // asking to close and park any of the four is a plan-time error on that attribute, naming
    // the account's role
    tf.write(&shared_config(
        &l,
        &shared,
        "  close_account_on_delete = true\n  parking_organizational_unit = \"Parking\"\n  terminate_product_on_delete = true",
    ));
    let out = tf.run(&["plan", "-input=false", "-no-color", "-json"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    let errors = out.errors();
    for (role, id, _, _) in &shared {
        for attr in ["close_account_on_delete", "parking_organizational_unit", "terminate_product_on_delete"] {
            assert!(
                errors.iter().any(|d| d["summary"] == format!("Account {id} is the landing zone's {role}").as_str()
                    && d["snippet"]["code"].as_str().is_some_and(|c| c.contains(attr))),
                "no error on {attr} of the {role} {id}: {errors:#?}"
            );
        }
    }

    // so is a ManagedOrganizationalUnit other than where it is, on import and on adoption
    let audit = shared.iter().find(|s| s.0 == "audit account").unwrap().clone();
    let moved: Vec<_> = shared
        .iter()
        .map(|s| if s.0 == "audit account" { (s.0, s.1.clone(), s.2.clone(), "Sandbox") } else { s.clone() })
        .collect();
    tf.write(&shared_config(&l, &moved, ""));
    let out = tf.run(&["plan", "-input=false", "-no-color", "-json"]);
    assert!(out.failed_at("ManagedOrganizationalUnit"), "{}", out.stdout);
    assert!(one_line(&out.stdout).contains("the landing zone's audit account"), "{}", out.stdout);
    let adopt = Tf::new("shared-adopt");
    adopt.write(&format!("{}{}", l.provider(ORGS), account_block("audit", &audit.2, "Sandbox", "")));
    let out = adopt.run(&["apply", "-auto-approve", "-input=false", "-no-color", "-json"]);
    assert!(out.failed_at("ManagedOrganizationalUnit"), "{}", out.stdout);
    assert_eq!(l.parent(&audit.1).await, l.ous["Workloads"], "the audit account was moved");

    // import and framework runs stay allowed
    tf.write(&shared_config(&l, &shared, ""));
    tf.apply();

    // a state that asks to close and park them (written before this check existed): destroy
    // says why it keeps them, and keeps them active where they are
    set_in_state(
        &tf,
        serde_json::json!({
            "close_account_on_delete": true, "parking_organizational_unit": "Parking", "terminate_product_on_delete": true
        }),
    );
    let out = tf.run(&["destroy", "-auto-approve", "-input=false", "-no-color"]).ok();
    let text = one_line(&out.stdout);
    for (role, id, _, ou) in &shared {
        assert!(text.contains(&format!("Destroy keeps account {id}, the landing zone's {role}")), "{text}");
        assert_eq!(status(&l, id).await, "ACTIVE", "the {role} was closed");
        let want = if *ou == "Root" { l.root.clone() } else { l.ous[*ou].clone() };
        assert_eq!(l.parent(id).await, want, "the {role} was moved");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replacement_never_retires_the_account_it_keeps() {
    let l = Landing::new().await;
    // AFT's request table with nothing listening: the provider writes each account's row
    common::aft::request_table(&l, false).await;
    let e = email("replace");
    let tf = Tf::new("replace-keeps");
    let close = "  close_account_on_delete = true\n  parking_organizational_unit = \"Parking\"";
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("acct", &e, "Sandbox", close)));
    tf.apply();
    let id = tf.values("aft_account_provisioning.acct")["account_id"].as_str().unwrap().to_string();
    let first_run = tf.values("aft_account_provisioning.acct")["framework_run_id"].clone();

    // `-replace` (what a user types to run everything again): the account stays, where it was,
    // with its metadata item, and no REMOVE audit record is written
    tf.run(&["apply", "-auto-approve", "-input=false", "-no-color", "-replace=aft_account_provisioning.acct"]).ok();
    let v = tf.values("aft_account_provisioning.acct");
    assert_eq!(v["account_id"], id.as_str());
    assert_ne!(v["framework_run_id"], first_run, "the replacement ran the framework");
    assert_eq!(status(&l, &id).await, "ACTIVE");
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"]);
    assert!(l.metadata(&id).await.is_some());
    assert_eq!(removes(&l, &e).await, 0);
    assert_eq!(l.accounts_with_email(&e).await.len(), 1);

    // create_before_destroy: the create adopts the account first, and the old object's destroy
    // must not take the metadata item the new one just wrote
    tf.write(&format!(
        "{}{}",
        l.provider(ORGS),
        account_block(
            "acct",
            &e,
            "Sandbox",
            &format!("{close}\n  lifecycle {{\n    create_before_destroy = true\n  }}")
        )
    ));
    tf.apply();
    tf.run(&["apply", "-auto-approve", "-input=false", "-no-color", "-replace=aft_account_provisioning.acct"]).ok();
    assert_eq!(status(&l, &id).await, "ACTIVE");
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"]);
    assert!(l.metadata(&id).await.is_some(), "the old object's destroy deleted the new object's metadata item");
    assert_eq!(removes(&l, &e).await, 0);

    // the account's primary email changed outside Terraform and the configuration follows it:
    // the same account, so an in-place update that records the new email
    let e2 = email("renamed");
    change_primary_email(&id, &e2);
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("acct", &e2, "Sandbox", close)));
    let plan = tf.plan_json();
    assert_eq!(change_of(&plan, "aft_account_provisioning.acct")["change"]["actions"], serde_json::json!(["update"]));
    tf.apply();
    assert_eq!(status(&l, &id).await, "ACTIVE");
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"]);
    let item = l.metadata(&id).await.unwrap();
    assert_eq!(item["email"].as_s().unwrap(), &e2);
    // the row follows the email: one under the new email, none left under the old one
    let rows = common::aft::rows(&l).await;
    assert!(rows.contains_key(&e2), "{:?}", rows.keys());
    assert!(!rows.contains_key(&e), "{:?}", rows.keys());

    // a destroy on purpose still retires it as configured
    tf.destroy();
    assert_eq!(status(&l, &id).await, "SUSPENDED");
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_checks_before_it_deletes() {
    let l = Landing::new().await;
    let e = email("park");
    let tf = Tf::new("destroy-checks");
    tf.write(&format!(
        "{}{}",
        l.provider(ORGS),
        account_block("acct", &e, "Sandbox", "  parking_organizational_unit = \"Nowhere\"")
    ));
    tf.apply();
    let id = tf.values("aft_account_provisioning.acct")["account_id"].as_str().unwrap().to_string();
    // a parking OU that does not resolve: destroy fails twice and leaves the metadata item, the
    // account where it was, and writes no REMOVE record
    for _ in 0..2 {
        let out = tf.run(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
        assert_ne!(out.code, 0);
        assert!(one_line(&out.stderr).contains("Nowhere"), "{}", out.stderr);
    }
    assert!(l.metadata(&id).await.is_some(), "destroy deleted the metadata item before it could park");
    assert_eq!(removes(&l, &e).await, 0);
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"]);
    // the parking OU fixed: one REMOVE, the account parked
    tf.write(&format!(
        "{}{}",
        l.provider(ORGS),
        account_block("acct", &e, "Sandbox", "  parking_organizational_unit = \"Parking\"")
    ));
    tf.apply();
    tf.destroy();
    assert!(l.metadata(&id).await.is_none());
    assert_eq!(removes(&l, &e).await, 1);
    assert_eq!(l.parent(&id).await, l.ous["Parking"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untainted_failed_create_runs_again_and_its_destroy_removes_what_it_wrote() {
    let l = Landing::new().await;
    // a customizations state machine that fails: the create fails at step 7
    let _sm = l
        .create_customizations(r#"{"StartAt":"Boom","States":{"Boom":{"Type":"Fail","Error":"Boom","Cause":"test"}}}"#)
        .await;
    let e = email("untaint");
    let tf = Tf::new("untaint");
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("acct", &e, "Sandbox", "")));
    let out = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    let id = tf.values("aft_account_provisioning.acct")["account_id"].as_str().unwrap().to_string();
    tf.run(&["untaint", "aft_account_provisioning.acct"]).ok();
    // the framework never finished: the plan runs it again
    let plan = tf.plan_json();
    let change = change_of(&plan, "aft_account_provisioning.acct");
    assert_eq!(change["change"]["actions"], serde_json::json!(["update"]), "{change}");
    assert_eq!(change["change"]["after_unknown"]["framework_run_id"], true);
    // destroyed as it is (no completed run): what the create wrote is removed, the account kept
    let out = tf.run(&["destroy", "-auto-approve", "-input=false", "-no-color"]).ok();
    assert!(l.metadata(&id).await.is_none(), "{}", out.stdout);
    assert_eq!(removes(&l, &e).await, 1);
    assert_eq!(status(&l, &id).await, "ACTIVE");
}

#[tokio::test(flavor = "multi_thread")]
async fn adding_an_account_to_the_fleet_plans_and_starts_no_other_pipeline() {
    let l = Landing::new().await;
    l.create_pipeline_role().await;
    let tf = Tf::new("fleet-add");
    tf.copy_example("fleet");
    let domain = format!("fleet-{}.example.com", common::suffix());
    let vars = |n: usize| {
        let accounts: Vec<String> =
            (0..n).map(|i| format!("\"acct{i}\" = {{ ou = \"Sandbox\", environment = \"dev\" }}")).collect();
        format!(
            "aft_admin_role_arn = \"arn:aws:iam::{}:role/AWSAFTAdmin\"\nemail_domain = \"{domain}\"\naccounts = {{\n{}\n}}\n",
            l.aft,
            accounts.join("\n")
        )
    };
    tf.write_file("terraform.tfvars", &vars(3));
    tf.apply();
    let pipelines = |tf: &Tf| -> Vec<String> {
        (0..3)
            .map(|i| {
                tf.values(&format!("aft_customization_pipeline.fleet[\"acct{i}\"]"))["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let names = pipelines(&tf);
    let mut before = Vec::new();
    for n in &names {
        before.push(l.pipeline_executions(n).await);
    }

    // one more account: the plan shows only its two resources, nothing of the others
    tf.write_file("terraform.tfvars", &vars(4));
    let plan = tf.plan_json();
    let mut changed = common::terraform::changes(&plan);
    changed.sort();
    assert_eq!(
        changed,
        vec![
            ("aft_account_provisioning.fleet[\"acct3\"]".to_string(), vec!["create".to_string()]),
            ("aft_customization_pipeline.fleet[\"acct3\"]".to_string(), vec!["create".to_string()]),
        ]
    );
    tf.apply();
    for (n, b) in names.iter().zip(&before) {
        assert_eq!(&l.pipeline_executions(n).await, b, "pipeline {n} was started");
    }
    assert_eq!(tf.plan_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_that_became_shared_after_the_plan_is_neither_moved_nor_closed_by_the_apply() {
    let l = Landing::new().await;
    let e = email("late-shared");
    let tf = Tf::new("late-shared");
    let close = "  close_account_on_delete = true\n  parking_organizational_unit = \"Parking\"";
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("acct", &e, "Workloads", close)));
    tf.apply();
    let id = tf.values("aft_account_provisioning.acct")["account_id"].as_str().unwrap().to_string();

    // a saved plan moves it; before the apply, the landing zone names it its audit account
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("acct", &e, "Sandbox", close)));
    tf.run(&["plan", "-input=false", "-no-color", "-out=move.tfplan"]).ok();
    put_parameter(&l.aft_cfg, "/aft/account/audit/account-id", &id).await;
    let out = tf.run(&["apply", "-input=false", "-no-color", "move.tfplan"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    // Terraform plans each change again when it applies a saved plan: that plan refuses it
    assert!(
        one_line(&out.stderr).contains(&format!("Account {id} is the landing zone's audit account")),
        "{}",
        out.stderr
    );
    assert_eq!(l.parent(&id).await, l.ous["Workloads"]);

    // a saved destroy plan closes and parks it; the apply keeps it, and says so
    put_parameter(&l.aft_cfg, "/aft/account/audit/account-id", "999999999999").await;
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("acct", &e, "Workloads", close)));
    tf.run(&["plan", "-destroy", "-input=false", "-no-color", "-out=destroy.tfplan"]).ok();
    put_parameter(&l.aft_cfg, "/aft/account/audit/account-id", &id).await;
    let out = tf.run(&["apply", "-input=false", "-no-color", "destroy.tfplan"]).ok();
    assert!(
        one_line(&out.stdout).contains("the landing zone's audit account is never closed or moved"),
        "{}",
        out.stdout
    );
    assert_eq!(status(&l, &id).await, "ACTIVE");
    assert_eq!(l.parent(&id).await, l.ous["Workloads"]);
}
