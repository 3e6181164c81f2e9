//! `aft_account_provisioning` end to end: real Terraform, the built provider, moto.

use aft_test_harness as common;

use common::fixtures::{CUSTOMIZATIONS_ASL, account_block};
use common::terraform::change_of;
use common::{Landing, Moto, Tf, email};

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

#[tokio::test(flavor = "multi_thread")]
async fn apply_two_accounts_runs_every_step_and_a_second_plan_is_empty() {
    let l = Landing::new().await;
    let sm = l.create_customizations(CUSTOMIZATIONS_ASL).await;
    let (ea, eb) = (email("alpha"), email("beta"));
    let tf = Tf::new("two-accounts");
    tf.write(&format!(
        "{}{}{}",
        l.provider(ORGS),
        account_block(
            "alpha",
            &ea,
            "Sandbox",
            "  account_tags = { Owner = \"team-a\", CostCenter = \"42\" }\n  custom_fields = { tier = \"gold\" }\n  account_customizations_name = \"sandbox\"\n  change_management_parameters = {\n    change_requested_by = \"ada\"\n    change_reason = \"new team\"\n  }"
        ),
        account_block("beta", &eb, &format!("Prod ({})", l.ous["Prod"]), "")
    ));
    tf.apply();
    let a = tf.values("aft_account_provisioning.alpha");
    let b = tf.values("aft_account_provisioning.beta");
    let (ida, idb) = (a["account_id"].as_str().unwrap().to_string(), b["account_id"].as_str().unwrap().to_string());
    assert_eq!(a["id"], ida.as_str());
    assert_eq!(l.parent(&ida).await, l.ous["Sandbox"]);
    assert_eq!(l.parent(&idb).await, l.ous["Prod"]);
    assert_eq!(a["parent_ou_id"], l.ous["Sandbox"].as_str());
    assert_eq!(a["account_status"], "ACTIVE");
    assert_eq!(a["execution_role_arn"], format!("arn:aws:iam::{ida}:role/AWSAFTExecution").as_str());
    assert!(a["framework_completed_at"].as_str().is_some_and(|s| s.contains('T')));

    // step 3: AFT's metadata item and an audit record
    let item = l.metadata(&ida).await.expect("metadata item");
    for k in [
        "id",
        "email",
        "account_name",
        "account_creation_time",
        "account_status",
        "account_level_tags",
        "account_customizations_name",
        "parent_ou",
        "vcs_information",
        "terraform_workspace",
    ] {
        assert!(item.contains_key(k), "metadata item lacks {k}");
    }
    assert_eq!(item["email"].as_s().unwrap(), &ea);
    assert_eq!(item["parent_ou"].as_s().unwrap(), &l.ous["Sandbox"]);
    assert_eq!(item["account_level_tags"].as_m().unwrap()["Owner"].as_s().unwrap(), "team-a");
    assert_eq!(item["account_customizations_name"].as_s().unwrap(), "sandbox");
    assert_eq!(l.audit_events(&ea).await, ["INSERT"]);

    // step 4: both roles, AFT's trust policy, AdministratorAccess
    let moto = Moto::get();
    for id in [&ida, &idb] {
        let iam = aws_sdk_iam::Client::new(&moto.account(id).await);
        for role in ["AWSAFTService", "AWSAFTExecution"] {
            let r = iam.get_role().role_name(role).send().await.unwrap();
            let doc = r.role().unwrap().assume_role_policy_document().unwrap();
            let doc: serde_json::Value = serde_json::from_str(doc)
                .unwrap_or_else(|_| serde_json::from_str(&common::percent_decode(doc)).unwrap());
            let principals = &doc["Statement"][0]["Principal"]["AWS"];
            assert_eq!(
                principals,
                &serde_json::json!([
                    format!("arn:aws:iam::{}:role/AWSAFTAdmin", l.aft),
                    format!("arn:aws:sts::{}:assumed-role/AWSAFTAdmin/AWSAFT-Session", l.aft)
                ]),
                "{role} in {id}"
            );
            let attached = iam.list_attached_role_policies().role_name(role).send().await.unwrap();
            assert!(
                attached
                    .attached_policies()
                    .iter()
                    .any(|p| p.policy_arn() == Some("arn:aws:iam::aws:policy/AdministratorAccess"))
            );
        }
    }

    // step 5: tags and custom fields
    let tags = l.tags(&ida).await;
    assert_eq!(tags.get("Owner").map(String::as_str), Some("team-a"));
    assert_eq!(tags.get("CostCenter").map(String::as_str), Some("42"));
    let ssm = aws_sdk_ssm::Client::new(&moto.account(&ida).await);
    let p = ssm.get_parameter().name("/aft/account-request/custom-fields/tier").send().await.unwrap();
    assert_eq!(p.parameter().unwrap().value(), Some("gold"));

    // step 7: the state machine ran with AFT's payload and succeeded, once per account
    let execs = l.executions(&sm).await;
    assert_eq!(execs.len(), 2, "{execs:?}");
    let (status, input) = execs.iter().find(|(_, i)| i["account_info"]["account"]["id"] == ida.as_str()).unwrap();
    assert_eq!(status, "SUCCEEDED");
    assert_eq!(input["account_info"]["account"]["email"], ea.as_str());
    assert_eq!(input["account_info"]["account"]["parent_id"], l.ous["Sandbox"].as_str());
    assert_eq!(input["account_info"]["account"]["type"], "account");
    assert_eq!(input["account_request"]["account_tags"]["Owner"], "team-a");
    assert_eq!(input["account_request"]["custom_fields"], "{\"tier\":\"gold\"}");
    assert_eq!(input["account_request"]["control_tower_parameters"]["AccountName"], "alpha");
    assert_eq!(input["account_request"]["change_management_parameters"]["change_reason"], "new team");
    assert_eq!(input["account_provisioning"]["run_create_pipeline"], "true");
    assert_eq!(input["customization_request_id"], a["framework_run_id"]);

    // step 10: one success notification per account, naming every step
    for id in [&ida, &idb] {
        let n = l.notifications(id).await;
        assert_eq!(n.len(), 1, "{n:?}");
        let (failed, msg) = &n[0];
        assert!(!failed);
        assert_eq!(msg["status"], "SUCCEEDED");
        let steps: Vec<&str> = msg["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
        assert_eq!(
            steps,
            [
                "account_info",
                "persist_metadata",
                "create_role",
                "tag_account",
                "account_metadata_ssm",
                "aft_features",
                "provisioning_customizations"
            ]
        );
        assert!(msg["steps"].as_array().unwrap().iter().all(|s| s["duration_ms"].is_u64() && s["outcome"] != "failed"));
    }

    assert_eq!(tf.plan_exit(), 0, "a second plan must show no changes");
}

fn two_accounts(l: &Landing, ea: &str, eb: &str, alpha_extra: &str, alpha_ou: &str) -> String {
    format!(
        "{}{}{}",
        l.provider(ORGS),
        account_block("alpha", ea, alpha_ou, alpha_extra),
        account_block("beta", eb, "Sandbox", "  account_tags = { Owner = \"team-b\" }")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_change_updates_only_that_account_and_removes_the_dropped_tag() {
    let l = Landing::new().await;
    let (ea, eb) = (email("alpha"), email("beta"));
    let tf = Tf::new("tag-change");
    tf.write(&two_accounts(&l, &ea, &eb, "  account_tags = { Owner = \"team-a\", Temp = \"yes\" }", "Sandbox"));
    tf.apply();
    let before_b = tf.values("aft_account_provisioning.beta");
    let ida = tf.values("aft_account_provisioning.alpha")["account_id"].as_str().unwrap().to_string();
    let idb = before_b["account_id"].as_str().unwrap().to_string();
    assert_eq!(l.tags(&ida).await.get("Temp").map(String::as_str), Some("yes"));

    tf.write(&two_accounts(&l, &ea, &eb, "  account_tags = { Owner = \"team-a2\" }", "Sandbox"));
    let plan = tf.plan_json();
    assert_eq!(
        common::terraform::changes(&plan),
        vec![("aft_account_provisioning.alpha".to_string(), vec!["update".to_string()])]
    );
    let c = change_of(&plan, "aft_account_provisioning.alpha");
    assert_eq!(c["change"]["after_unknown"]["framework_run_id"], true);
    tf.apply();

    let tags = l.tags(&ida).await;
    assert_eq!(tags.get("Temp"), None, "the removed tag must be gone");
    assert_eq!(tags.get("Owner").map(String::as_str), Some("team-a2"));
    // the other account saw no run: same run id, one notification, tags untouched
    let after_b = tf.values("aft_account_provisioning.beta");
    assert_eq!(after_b["framework_run_id"], before_b["framework_run_id"]);
    assert_eq!(l.notifications(&idb).await.len(), 1);
    assert_eq!(l.notifications(&ida).await.len(), 2);
    assert_eq!(l.tags(&idb).await.get("Owner").map(String::as_str), Some("team-b"));
    assert_eq!(tf.plan_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ou_change_moves_name_change_is_refused_and_email_change_replaces() {
    let l = Landing::new().await;
    let (ea, eb) = (email("alpha"), email("beta"));
    let tf = Tf::new("ou-name-email");
    tf.write(&two_accounts(&l, &ea, &eb, "", "Sandbox"));
    tf.apply();
    let ida = tf.values("aft_account_provisioning.alpha")["account_id"].as_str().unwrap().to_string();

    // OU change: an in-place update that moves the account
    tf.write(&two_accounts(&l, &ea, &eb, "", "Workloads"));
    let plan = tf.plan_json();
    assert_eq!(change_of(&plan, "aft_account_provisioning.alpha")["change"]["actions"], serde_json::json!(["update"]));
    tf.apply();
    assert_eq!(l.parent(&ida).await, l.ous["Workloads"]);
    assert_eq!(tf.values("aft_account_provisioning.alpha")["parent_ou_id"], l.ous["Workloads"].as_str());

    // AccountName change: a plan-time error on that key
    let renamed = two_accounts(&l, &ea, &eb, "", "Workloads").replacen(
        "AccountName               = \"alpha\"",
        "AccountName               = \"alpha-renamed\"",
        1,
    );
    tf.write(&renamed);
    let out = tf.run(&["plan", "-input=false", "-json"]);
    assert_ne!(out.code, 0);
    let errs = out.errors();
    assert!(
        errs.iter().any(|d| d["summary"] == "AccountName cannot be changed"
            && d["snippet"]["code"].as_str().is_some_and(|c| c.contains("alpha-renamed"))),
        "{errs:#?}"
    );

    // AccountEmail change: replacement
    let new_email = email("alpha2");
    tf.write(&two_accounts(&l, &new_email, &eb, "", "Workloads"));
    let plan = tf.plan_json();
    let c = change_of(&plan, "aft_account_provisioning.alpha");
    assert_eq!(c["change"]["actions"], serde_json::json!(["delete", "create"]));
    assert!(c["action_reason"] == "replace_because_cannot_update", "{c}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_customization_fails_the_apply_and_a_fixed_request_converges_on_the_same_account() {
    let l = Landing::new().await;
    let sm = l.create_customizations(CUSTOMIZATIONS_ASL).await;
    let ea = email("flaky");
    let tf = Tf::new("customization-fails");
    // close_account_on_delete: the replacement of the failed (tainted) create must still never close it
    let extra = |name: &str| format!("  account_customizations_name = \"{name}\"\n  close_account_on_delete = true");
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("flaky", &ea, "Sandbox", &extra("fail"))));
    let out = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("provisioning_customizations"), "{}", out.stderr);
    assert!(
        out.stderr.contains("CustomizationFailed") && out.stderr.contains("the request asked to fail"),
        "{}",
        out.stderr
    );
    let ids = l.accounts_with_email(&ea).await;
    assert_eq!(ids.len(), 1);
    let n = l.notifications(&ids[0]).await;
    assert_eq!(n.len(), 1);
    assert!(n[0].0, "the failure goes to the failure topic");
    assert_eq!(n[0].1["status"], "FAILED");
    assert_eq!(n[0].1["error"]["step"], "provisioning_customizations");
    // the state says why (issue 26: day-2 answers an output or a policy check can read)
    let last = tf.values("aft_account_provisioning.flaky")["last_run"].clone();
    assert_eq!((last["operation"].as_str(), last["outcome"].as_str()), (Some("create"), Some("failed")), "{last}");
    assert_eq!(last["failed_step"], "provisioning_customizations", "{last}");
    assert!(last["error"].as_str().unwrap().contains("CustomizationFailed"), "{last}");
    assert_eq!(last["run_id"], n[0].1["run_id"], "the notification's run: {last}");

    // fix the input and apply again: the same account, no second one
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("flaky", &ea, "Sandbox", &extra("ok"))));
    let plan = tf.plan_json();
    let c = change_of(&plan, "aft_account_provisioning.flaky");
    assert_eq!(c["change"]["actions"], serde_json::json!(["delete", "create"]), "a failed create is tainted");
    tf.apply();
    let status = l.org().describe_account().account_id(&ids[0]).send().await.unwrap();
    assert_eq!(status.account().unwrap().status().unwrap().as_str(), "ACTIVE", "never closed by the replacement");
    assert_eq!(l.accounts_with_email(&ea).await, ids);
    assert_eq!(tf.values("aft_account_provisioning.flaky")["account_id"], ids[0].as_str());
    let execs = l.executions(&sm).await;
    assert_eq!(execs.iter().filter(|(s, _)| s == "SUCCEEDED").count(), 1);
    assert!(l.metadata(&ids[0]).await.is_some());
    assert_eq!(tf.plan_exit(), 0);
    let done = tf.values("aft_account_provisioning.flaky");
    assert_eq!(
        (done["last_run"]["outcome"].as_str(), &done["last_run"]["failed_step"]),
        (Some("succeeded"), &serde_json::Value::Null)
    );
    assert_eq!(done["last_run"]["run_id"], done["framework_run_id"]);

    // a failed update is recorded too, while the state keeps the last completed run, so the next
    // plan shows the same update again
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("flaky", &ea, "Sandbox", &extra("fail"))));
    assert_ne!(tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]).code, 0);
    let failed = tf.values("aft_account_provisioning.flaky");
    assert_eq!(
        (failed["last_run"]["operation"].as_str(), failed["last_run"]["outcome"].as_str()),
        (Some("update"), Some("failed"))
    );
    assert_eq!(failed["framework_run_id"], done["framework_run_id"], "the completed run stays");
    assert_eq!(failed["account_customizations_name"], "ok", "the prior request stays");
    assert_eq!(tf.plan_exit(), 2, "the update is planned again");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_customization_state_machine_step_7_is_a_no_op() {
    let l = Landing::new().await;
    let tf = Tf::new("no-sfn");
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("solo", &email("solo"), "Sandbox", "")));
    tf.apply();
    let id = tf.values("aft_account_provisioning.solo")["account_id"].as_str().unwrap().to_string();
    let n = l.notifications(&id).await;
    assert_eq!(n.len(), 1);
    let step = n[0].1["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "provisioning_customizations")
        .unwrap()
        .clone();
    assert_eq!(step["outcome"], "skipped");
    assert_eq!(n[0].1["status"], "SUCCEEDED");
}

#[tokio::test(flavor = "multi_thread")]
async fn destroy_keeps_closes_or_parks_the_account() {
    let l = Landing::new().await;
    let (ek, ec, ep) = (email("keep"), email("close"), email("park"));
    let tf = Tf::new("destroy");
    tf.write(&format!(
        "{}{}{}{}",
        l.provider(ORGS),
        account_block("keep", &ek, "Sandbox", ""),
        account_block("close", &ec, "Sandbox", "  close_account_on_delete = true"),
        account_block("park", &ep, "Sandbox", "  parking_organizational_unit = \"Parking\"")
    ));
    tf.apply();
    let id = |n: &str| tf.values(&format!("aft_account_provisioning.{n}"))["account_id"].as_str().unwrap().to_string();
    let (k, c, p) = (id("keep"), id("close"), id("park"));
    tf.destroy();
    for a in [&k, &c, &p] {
        assert!(l.metadata(a).await.is_none(), "metadata of {a} must be removed");
    }
    let status = |a: String| {
        let org = l.org();
        async move {
            org.describe_account()
                .account_id(a)
                .send()
                .await
                .unwrap()
                .account()
                .unwrap()
                .status()
                .unwrap()
                .as_str()
                .to_string()
        }
    };
    assert_eq!(status(k.clone()).await, "ACTIVE");
    assert_eq!(l.parent(&k).await, l.ous["Sandbox"]);
    assert_eq!(status(c.clone()).await, "SUSPENDED");
    assert_eq!(status(p.clone()).await, "ACTIVE");
    assert_eq!(l.parent(&p).await, l.ous["Parking"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_by_id_and_by_email_plans_no_changes() {
    let l = Landing::new().await;
    let (ea, eb) = (email("imp-a"), email("imp-b"));
    let body = format!(
        "{}{}",
        account_block("a", &ea, "Sandbox", "  account_tags = { Owner = \"x\" }\n  custom_fields = { k = \"v\" }"),
        account_block("b", &eb, "Sandbox", "")
    );
    let tf = Tf::new("import-src");
    tf.write(&format!("{}{}", l.provider(ORGS), body));
    tf.apply();
    let ida = tf.values("aft_account_provisioning.a")["account_id"].as_str().unwrap().to_string();

    // a second configuration takes over the same accounts: CLI import by id, import block by email
    let tf2 = Tf::new("import-dst");
    tf2.write(&format!(
        "{}{}\nimport {{\n  to = aft_account_provisioning.b\n  id = \"{}\"\n}}\n",
        l.provider(ORGS),
        body,
        eb.to_uppercase()
    ));
    tf2.run(&["import", "-input=false", "-no-color", "aft_account_provisioning.a", &ida]).ok();
    let plan = tf2.plan_json();
    let changes = common::terraform::changes(&plan);
    assert!(changes.is_empty(), "{changes:?}");
    let imports: Vec<_> =
        plan["resource_changes"].as_array().unwrap().iter().filter(|c| c["change"]["importing"].is_object()).collect();
    assert_eq!(imports.len(), 1);
    tf2.apply();
    assert_eq!(tf2.plan_exit(), 0);
    assert_eq!(l.accounts_with_email(&ea).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_band_drift_plans_an_update_and_the_apply_repairs_it() {
    let l = Landing::new().await;
    let (ea, eb, ec) = (email("d-meta"), email("d-move"), email("d-tag"));
    let tf = Tf::new("drift");
    tf.write(&format!(
        "{}{}{}{}",
        l.provider(ORGS),
        account_block("meta", &ea, "Sandbox", ""),
        account_block("moved", &eb, "Sandbox", ""),
        account_block("tagged", &ec, "Sandbox", "  account_tags = { Owner = \"a\" }")
    ));
    tf.apply();
    let id = |n: &str| tf.values(&format!("aft_account_provisioning.{n}"))["account_id"].as_str().unwrap().to_string();
    let (a, b, c) = (id("meta"), id("moved"), id("tagged"));

    aws_sdk_dynamodb::Client::new(&l.aft_cfg)
        .delete_item()
        .table_name("aft-request-metadata")
        .key("id", aws_sdk_dynamodb::types::AttributeValue::S(a.clone()))
        .send()
        .await
        .unwrap();
    l.org()
        .move_account()
        .account_id(&b)
        .source_parent_id(&l.ous["Sandbox"])
        .destination_parent_id(&l.ous["Parking"])
        .send()
        .await
        .unwrap();
    l.org()
        .tag_resource()
        .resource_id(&c)
        .tags(aws_sdk_organizations::types::Tag::builder().key("Owner").value("intruder").build().unwrap())
        .send()
        .await
        .unwrap();

    // standard detection (the default) sees the metadata item and the OU, from one bulk read
    let plan = tf.plan_json();
    let mut changes = common::terraform::changes(&plan);
    changes.sort();
    assert_eq!(
        changes,
        ["meta", "moved"].map(|n| (format!("aft_account_provisioning.{n}"), vec!["update".to_string()])).to_vec()
    );
    // full detection also reads every account's tags
    let full = "  account_factory {\n    method = \"organizations\"\n  }\n  drift_detection = \"full\"";
    tf.write(&format!(
        "{}{}{}{}",
        l.provider(full),
        account_block("meta", &ea, "Sandbox", ""),
        account_block("moved", &eb, "Sandbox", ""),
        account_block("tagged", &ec, "Sandbox", "  account_tags = { Owner = \"a\" }")
    ));
    let plan = tf.plan_json();
    let mut changes = common::terraform::changes(&plan);
    changes.sort();
    assert_eq!(
        changes,
        ["meta", "moved", "tagged"]
            .map(|n| (format!("aft_account_provisioning.{n}"), vec!["update".to_string()]))
            .to_vec()
    );
    let drift = &change_of(&plan, "aft_account_provisioning.moved")["change"]["before"]["drift"];
    assert!(drift.to_string().contains("not in Sandbox"), "{drift}");
    tf.apply();
    assert!(l.metadata(&a).await.is_some());
    assert_eq!(l.parent(&b).await, l.ous["Sandbox"]);
    assert_eq!(l.tags(&c).await.get("Owner").map(String::as_str), Some("a"));
    assert_eq!(tf.plan_exit(), 0);

    // full detection also reads AFT's roles and the custom-field parameters in each account
    // (issue 26): a deleted AWSAFTExecution and an edited or added parameter plan a run that
    // repairs them; the plan names them, never a parameter's value
    tf.write(&format!(
        "{}{}{}{}",
        l.provider(full),
        account_block("meta", &ea, "Sandbox", "  custom_fields = { tier = \"gold\" }"),
        account_block("moved", &eb, "Sandbox", ""),
        account_block("tagged", &ec, "Sandbox", "  account_tags = { Owner = \"a\" }")
    ));
    tf.apply();
    assert_eq!(tf.plan_exit(), 0);
    let in_c = aws_sdk_iam::Client::new(&Moto::get().account(&c).await);
    in_c.detach_role_policy()
        .role_name("AWSAFTExecution")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    in_c.delete_role().role_name("AWSAFTExecution").send().await.unwrap();
    let in_a = Moto::get().account(&a).await;
    let ssm_a = aws_sdk_ssm::Client::new(&in_a);
    for (name, value) in [("tier", "bronze-secret"), ("extra", "x")] {
        common::fixtures::put_parameter(&in_a, &format!("/aft/account-request/custom-fields/{name}"), value).await;
    }
    let plan = tf.plan_json();
    let mut changes = common::terraform::changes(&plan);
    changes.sort();
    assert_eq!(
        changes,
        ["meta", "tagged"].map(|n| (format!("aft_account_provisioning.{n}"), vec!["update".to_string()])).to_vec()
    );
    let drift = change_of(&plan, "aft_account_provisioning.tagged")["change"]["before"]["drift"].to_string();
    assert!(drift.contains("role AWSAFTExecution is missing"), "{drift}");
    let drift = change_of(&plan, "aft_account_provisioning.meta")["change"]["before"]["drift"].to_string();
    assert!(
        drift.contains("custom field tier differs") && drift.contains("custom field extra is not requested"),
        "{drift}"
    );
    assert!(!drift.contains("bronze-secret"), "{drift}");
    tf.apply();
    assert!(in_c.get_role().role_name("AWSAFTExecution").send().await.is_ok(), "the run made the role again");
    let tier = ssm_a.get_parameter().name("/aft/account-request/custom-fields/tier").send().await.unwrap();
    assert_eq!(tier.parameter().unwrap().value(), Some("gold"));
    assert_eq!(tf.plan_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_by_identity_plans_no_changes() {
    let l = Landing::new().await;
    let e = email("ident");
    let body = account_block("a", &e, "Sandbox", "  account_tags = { Owner = \"x\" }");
    let src = Tf::new("ident-src");
    src.write(&format!("{}{}", l.provider(ORGS), body));
    src.apply();
    let id = src.values("aft_account_provisioning.a")["account_id"].as_str().unwrap().to_string();
    let dst = Tf::new("ident-dst");
    dst.write(&format!(
        "{}{}\nimport {{\n  to = aft_account_provisioning.a\n  identity = {{\n    account_id = \"{id}\"\n  }}\n}}\n",
        l.provider(ORGS),
        body
    ));
    let plan = dst.plan_json();
    assert!(common::terraform::changes(&plan).is_empty(), "{:?}", common::terraform::changes(&plan));
    dst.apply();
    assert_eq!(dst.plan_exit(), 0);
    assert_eq!(l.notifications(&id).await.len(), 1, "importing runs no framework");
}
