//! `aft_customization_pipeline` and `aft_accounts` against moto (moto runs every pipeline
//! execution to `Succeeded` at once; failures and concurrency are in tests/pipeline_runner.rs).

use aft_test_harness as common;

use common::{Landing, Tf};

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

fn pipeline(account: &str, version: &str) -> String {
    format!(
        "resource \"aft_customization_pipeline\" \"p\" {{\n  account_id = \"{account}\"\n  triggers = {{ v = \"{version}\" }}\n}}\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn pipeline_has_afts_shape_runs_on_create_and_on_trigger_changes() {
    let l = Landing::new().await;
    let role = l.create_pipeline_role().await;
    let account = l.create_account(&format!("pipe-{}@example.com", common::suffix()), "pipe", Some("Sandbox")).await;
    let tf = Tf::new("pipeline");
    tf.write(&format!("{}{}", l.provider(ORGS), pipeline(&account, "1")));
    tf.apply();
    let name = format!("{account}-customizations-pipeline");
    let v = tf.values("aft_customization_pipeline.p");
    assert_eq!(v["name"], name.as_str());
    assert_eq!(v["last_execution_status"], "Succeeded");

    let cp = l.codepipeline();
    let got = cp.get_pipeline().name(&name).send().await.unwrap();
    let p = got.pipeline().unwrap();
    assert_eq!(p.role_arn(), role);
    assert_eq!(p.artifact_store().unwrap().location(), format!("aft-customizations-pipeline-{}", l.aft));
    let stages: Vec<&str> = p.stages().iter().map(|s| s.name()).collect();
    assert_eq!(stages, ["Source", "Global-Customizations", "Account-Customizations"]);
    let sources: Vec<&str> = p.stages()[0].actions().iter().map(|a| a.name()).collect();
    assert_eq!(sources, ["aft-global-customizations", "aft-account-customizations"]);
    let global = &p.stages()[1].actions()[0];
    assert_eq!(global.configuration().unwrap()["ProjectName"], "aft-global-customizations-terraform");
    assert!(global.configuration().unwrap()["EnvironmentVariables"].contains(&account));
    assert_eq!(
        p.stages()[2].actions()[0].configuration().unwrap()["ProjectName"],
        "aft-account-customizations-terraform"
    );
    let arn = got.metadata().unwrap().pipeline_arn().unwrap();
    let tags = cp.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
    assert!(tags.tags().iter().any(|t| t.key() == "managed_by" && t.value() == "AFT"));
    let runs = l.pipeline_executions(&name).await;
    assert_eq!(runs.len(), 1, "it ran once on create");
    assert_eq!(v["last_execution_id"], runs[0].as_str());
    assert_eq!(tf.plan_exit(), 0);

    tf.write(&format!("{}{}", l.provider(ORGS), pipeline(&account, "2")));
    let plan = tf.plan_json();
    let c = common::terraform::change_of(&plan, "aft_customization_pipeline.p");
    assert_eq!(c["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(c["change"]["after_unknown"]["last_execution_id"], true);
    tf.apply();
    assert_eq!(l.pipeline_executions(&name).await.len(), 2, "a trigger change runs it again");
    assert_eq!(tf.plan_exit(), 0);

    tf.destroy();
    assert!(cp.get_pipeline().name(&name).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn aft_accounts_resolves_every_target_type() {
    let l = Landing::new().await;
    let mk = |n: &str| format!("{n}-{}@example.com", common::suffix());
    let sandbox = l.create_account(&mk("sb"), "sb", Some("Sandbox")).await;
    let prod = l.create_account(&mk("prod"), "prod", Some("Prod")).await;
    let work = l.create_account(&mk("work"), "work", Some("Workloads")).await;
    let unmanaged = l.create_account(&mk("unmanaged"), "unmanaged", Some("Sandbox")).await;
    for (id, env) in [(&sandbox, "dev"), (&prod, "prod"), (&work, "prod")] {
        l.put_metadata(id, "x@example.com", "x", "", &[]).await;
        l.org()
            .tag_resource()
            .resource_id(id.as_str())
            .tags(aws_sdk_organizations::types::Tag::builder().key("Environment").value(env).build().unwrap())
            .send()
            .await
            .unwrap();
    }
    let ds = |name: &str, body: &str| {
        format!(
            "data \"aft_accounts\" \"{name}\" {{\n{body}\n}}\noutput \"{name}\" {{\n  value = data.aft_accounts.{name}.ids\n}}\n"
        )
    };
    let config = [
        ds("all", "  include {\n    type = \"all\"\n  }"),
        ds("core", "  include {\n    type = \"core\"\n  }"),
        ds("workloads", "  include {\n    type = \"ous\"\n    target_value = [\"Workloads\"]\n  }"),
        ds("workloads_nested", "  include {\n    type = \"ous\"\n    target_value = [\"Workloads\"]\n    include_nested_ous = true\n  }"),
        ds("prod_by_id", &format!("  include {{\n    type = \"ous\"\n    target_value = [\"{}\"]\n  }}", l.ous["Prod"])),
        ds("tagged_prod", "  include {\n    type = \"tags\"\n    tags = [{ Environment = \"prod\" }]\n  }"),
        ds("literal", &format!("  include {{\n    type = \"accounts\"\n    target_value = [\"{sandbox}\", \"{unmanaged}\"]\n  }}")),
        ds("all_but_prod_ou", &format!("  include {{\n    type = \"all\"\n  }}\n  exclude {{\n    type = \"ous\"\n    target_value = [\"Prod ({})\"]\n  }}", l.ous["Prod"])),
        ds("sandbox_ou", "  include {\n    type = \"ous\"\n    target_value = [\"Sandbox\"]\n  }"),
    ]
    .concat();
    let tf = Tf::new("aft-accounts");
    tf.write(&format!("{}{config}", l.provider(ORGS)));
    tf.apply();
    let out: serde_json::Value = serde_json::from_str(&tf.run(&["output", "-json"]).ok().stdout).unwrap();
    let ids = |n: &str| {
        let mut v: Vec<String> =
            out[n]["value"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<_>>()
    };
    assert_eq!(ids("all"), sorted(vec![&sandbox, &prod, &work]));
    assert_eq!(ids("core"), vec![l.ct.clone()]);
    assert_eq!(ids("workloads"), vec![work.clone()], "as in AFT: accounts directly in the OU");
    assert_eq!(ids("workloads_nested"), sorted(vec![&prod, &work]), "include_nested_ous: the OUs below too");
    assert_eq!(ids("prod_by_id"), vec![prod.clone()]);
    assert_eq!(ids("tagged_prod"), sorted(vec![&prod, &work]));
    assert_eq!(ids("literal"), vec![sandbox.clone()], "accounts AFT does not manage are left out");
    assert_eq!(ids("all_but_prod_ou"), sorted(vec![&sandbox, &work]));
    assert_eq!(ids("sandbox_ou"), vec![sandbox.clone()]);
    let acc = tf.values("data.aft_accounts.tagged_prod")["accounts"].clone();
    assert!(acc.as_array().unwrap().iter().all(|a| a["tags"]["Environment"] == "prod"));
}

#[tokio::test(flavor = "multi_thread")]
async fn fleet_example_reruns_exactly_the_targeted_pipelines() {
    let l = Landing::new().await;
    l.create_pipeline_role().await;
    let tf = Tf::new("fleet");
    tf.copy_example("fleet");
    let accounts: Vec<String> = (0..10)
        .map(|i| {
            let (ou, env) = if i % 2 == 0 { ("Prod", "prod") } else { ("Sandbox", "dev") };
            format!("\"acct{i}\" = {{ ou = \"{ou}\", environment = \"{env}\" }}")
        })
        .collect();
    tf.write_file(
        "terraform.tfvars",
        &format!(
            "aft_admin_role_arn = \"arn:aws:iam::{}:role/AWSAFTAdmin\"\nemail_domain = \"{}.example.com\"\naccounts = {{\n{}\n}}\n",
            l.aft,
            common::suffix(),
            accounts.join("\n")
        ),
    );
    tf.apply();
    assert_eq!(tf.plan_exit(), 0);

    // bump the version for everyone: 10 pipeline updates, no account updates
    tf.write_file("bump.auto.tfvars", "customizations_version = \"2\"\nstable_customizations_version = \"2\"\n");
    let plan = tf.plan_json();
    let changes = common::terraform::changes(&plan);
    assert_eq!(changes.len(), 10, "{changes:?}");
    assert!(changes.iter().all(|(a, act)| a.starts_with("aft_customization_pipeline.fleet[") && act == &["update"]));
    tf.apply();

    // narrow the rollout to production by tag: only the five prod pipelines run again
    tf.write_file(
        "bump.auto.tfvars",
        "customizations_version = \"3\"\nstable_customizations_version = \"2\"\nrollout = { type = \"tags\", tags = [{ Environment = \"prod\" }] }\n",
    );
    let plan = tf.plan_json();
    let mut changed: Vec<String> = common::terraform::changes(&plan).into_iter().map(|(a, _)| a).collect();
    changed.sort();
    let want: Vec<String> =
        (0..10).step_by(2).map(|i| format!("aft_customization_pipeline.fleet[\"acct{i}\"]")).collect();
    assert_eq!(changed, want);
    tf.apply();

    // and by OU: the sandbox accounts move to 4, the prod accounts stay on 3
    tf.write_file(
        "bump.auto.tfvars",
        "customizations_version = \"4\"\nstable_customizations_version = \"3\"\nrollout = { type = \"ous\", target_value = [\"Sandbox\"] }\n",
    );
    let plan = tf.plan_json();
    let mut changed: Vec<String> = common::terraform::changes(&plan).into_iter().map(|(a, _)| a).collect();
    changed.sort();
    let want: Vec<String> =
        (1..10).step_by(2).map(|i| format!("aft_customization_pipeline.fleet[\"acct{i}\"]")).collect();
    assert_eq!(changed, want);
}

/// A new directory with `body` under the test provider, applied.
fn applied(l: &Landing, dir: &str, body: &str) -> Tf {
    let tf = Tf::new(dir);
    tf.write(&format!("{}{body}", l.provider(ORGS)));
    tf.apply();
    tf
}

/// A new directory with `body` under the test provider and pipeline `name` imported into
/// `aft_customization_pipeline.p`.
fn imported(l: &Landing, dir: &str, body: &str, name: &str) -> Tf {
    let tf = Tf::new(dir);
    tf.write(&format!("{}{body}", l.provider(ORGS)));
    tf.run(&["import", "-input=false", "-no-color", "aft_customization_pipeline.p", name]).ok();
    tf
}

#[tokio::test(flavor = "multi_thread")]
async fn import_by_name_and_by_identity_plans_no_changes() {
    let l = Landing::new().await;
    l.create_pipeline_role().await;
    let account = l.create_account(&format!("imp-{}@example.com", common::suffix()), "imp", Some("Sandbox")).await;
    let body = format!("resource \"aft_customization_pipeline\" \"p\" {{\n  account_id = \"{account}\"\n}}\n");
    applied(&l, "pipeline-import-src", &body);
    let name = format!("{account}-customizations-pipeline");

    let by_name = imported(&l, "pipeline-import-name", &body, &name);
    assert_eq!(by_name.values("aft_customization_pipeline.p")["account_id"], account.as_str());
    assert_eq!(by_name.plan_exit(), 0);

    let by_identity = Tf::new("pipeline-import-identity");
    by_identity.write(&format!(
        "{}{body}\nimport {{\n  to = aft_customization_pipeline.p\n  identity = {{\n    name = \"{name}\"\n  }}\n}}\n",
        l.provider(ORGS)
    ));
    let plan = by_identity.plan_json();
    assert!(common::terraform::changes(&plan).is_empty(), "{:?}", common::terraform::changes(&plan));
    by_identity.apply();
    assert_eq!(l.pipeline_executions(&name).await.len(), 1, "importing runs nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_reads_the_pipelines_source_so_an_update_cannot_silently_rewrite_it() {
    let l = Landing::new().await;
    l.create_pipeline_role().await;
    let account = l.create_account(&format!("cs-{}@example.com", common::suffix()), "cs", Some("Sandbox")).await;
    let connection = format!("arn:aws:codestar-connections:us-east-1:{}:connection/0f1e2d3c", l.aft);
    let with_source = format!(
        "resource \"aft_customization_pipeline\" \"p\" {{\n  account_id = \"{account}\"\n  source {{\n    \
         provider = \"CodeStarSourceConnection\"\n    connection_arn = \"{connection}\"\n    \
         global_customizations_repository = \"example-org/aft-global\"\n    \
         account_customizations_repository = \"example-org/aft-account\"\n  }}\n  codebuild_projects {{\n    \
         account = \"custom-account-apply\"\n  }}\n}}\n"
    );
    applied(&l, "pipeline-cs-src", &with_source);
    let name = format!("{account}-customizations-pipeline");

    // Same configuration: the import reads the source back and nothing changes.
    let same = imported(&l, "pipeline-cs-same", &with_source, &name);
    let v = same.values("aft_customization_pipeline.p");
    assert_eq!(v["source"]["provider"], "CodeStarSourceConnection", "{v}");
    assert_eq!(v["source"]["connection_arn"], connection.as_str());
    assert_eq!(v["source"]["global_customizations_repository"], "example-org/aft-global");
    assert!(v["source"]["global_customizations_branch"].is_null(), "defaults stay null: {v}");
    assert_eq!(v["codebuild_projects"]["account"], "custom-account-apply");
    assert!(v["codebuild_projects"]["global"].is_null(), "{v}");
    assert_eq!(same.plan_exit(), 0, "the imported pipeline matches its configuration");

    // A configuration without `source`: the plan shows the source going away, before anything
    // is applied (it used to import as `source = null` and rewrite the pipeline to CodeCommit).
    let bare_body = format!("resource \"aft_customization_pipeline\" \"p\" {{\n  account_id = \"{account}\"\n}}\n");
    let bare = imported(&l, "pipeline-cs-bare", &bare_body, &name);
    let plan = bare.plan_json();
    let change = common::terraform::change_of(&plan, "aft_customization_pipeline.p");
    assert_eq!(change["change"]["actions"], serde_json::json!(["update"]), "{change}");
    assert_eq!(change["change"]["before"]["source"]["provider"], "CodeStarSourceConnection");
    assert!(change["change"]["after"]["source"].is_null(), "{change}");
    assert_eq!(l.pipeline_executions(&name).await.len(), 1, "importing and planning run nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn full_drift_detection_sees_a_pipeline_edited_outside_terraform() {
    let l = Landing::new().await;
    l.create_pipeline_role().await;
    let account = l.create_account(&format!("edit-{}@example.com", common::suffix()), "edit", Some("Sandbox")).await;
    let body = format!("resource \"aft_customization_pipeline\" \"p\" {{\n  account_id = \"{account}\"\n}}\n");
    let full = format!("{}{body}", l.provider(&format!("  drift_detection = \"full\"\n{ORGS}")));
    let tf = applied(&l, "pipeline-edited", &body);
    let name = format!("{account}-customizations-pipeline");

    // Someone points the account customizations source at another branch.
    let cp = l.codepipeline();
    let branch = |decl: &aws_sdk_codepipeline::types::PipelineDeclaration| {
        decl.stages()[0]
            .actions()
            .iter()
            .find(|a| a.name() == "aft-account-customizations")
            .and_then(|a| a.configuration())
            .and_then(|c| c.get("BranchName"))
            .cloned()
    };
    let mut decl = cp.get_pipeline().name(&name).send().await.unwrap().pipeline.unwrap();
    for a in decl.stages[0].actions.iter_mut().filter(|a| a.name == "aft-account-customizations") {
        a.configuration.as_mut().unwrap().insert("BranchName".into(), "hotfix".into());
    }
    cp.update_pipeline().pipeline(decl).send().await.unwrap();

    // The standard refresh does not read definitions (one ListPipelines for all of them).
    assert_eq!(tf.plan_exit(), 0);

    // The full refresh does, and the plan shows the branch going back to the default.
    tf.write(&full);
    let plan = tf.plan_json();
    let change = common::terraform::change_of(&plan, "aft_customization_pipeline.p");
    assert_eq!(change["change"]["actions"], serde_json::json!(["update"]), "{change}");
    assert_eq!(change["change"]["before"]["source"]["account_customizations_branch"], "hotfix", "{change}");
    assert!(change["change"]["after"]["source"].is_null(), "{change}");

    tf.apply();
    let decl = cp.get_pipeline().name(&name).send().await.unwrap().pipeline.unwrap();
    assert_eq!(branch(&decl).as_deref(), Some("main"), "the apply restored the configured branch");
    assert_eq!(tf.plan_exit(), 0, "converged");
}

/// The declaration's artifact encryption key, as (id, type).
fn key_of(decl: &aws_sdk_codepipeline::types::PipelineDeclaration) -> Option<(String, String)> {
    let k = decl.artifact_store()?.encryption_key()?;
    Some((k.id().to_string(), k.r#type().as_str().to_string()))
}

/// The pipeline's declaration as CodePipeline keeps it.
async fn declaration_of(l: &Landing, name: &str) -> aws_sdk_codepipeline::types::PipelineDeclaration {
    l.codepipeline().get_pipeline().name(name).send().await.unwrap().pipeline.unwrap()
}

/// Sets (or with `None` removes) the pipeline's artifact encryption key outside Terraform.
async fn set_key(l: &Landing, name: &str, key: Option<&str>) {
    use aws_sdk_codepipeline::types::{EncryptionKey, EncryptionKeyType};
    let mut decl = declaration_of(l, name).await;
    let store = decl.artifact_store.as_mut().unwrap();
    store.encryption_key = key.map(|k| EncryptionKey::builder().id(k).r#type(EncryptionKeyType::Kms).build().unwrap());
    l.codepipeline().update_pipeline().pipeline(decl).send().await.unwrap();
}

/// The refresh's record of a change made outside Terraform to one resource.
fn drift_of<'a>(plan: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    plan["resource_drift"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["address"] == address))
        .unwrap_or_else(|| panic!("no drift of {address}: {plan}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_aft_pipeline_keeps_its_encryption_key_through_a_trigger_change() {
    let l = Landing::new().await;
    let role = l.create_pipeline_role().await;
    let account = l.create_account(&format!("kms-{}@example.com", common::suffix()), "kms", Some("Sandbox")).await;
    let aft_key = format!("arn:aws:kms:us-east-1:{}:alias/aft", l.aft);
    let name = format!("{account}-customizations-pipeline");
    common::aft::customizations_pipeline(&l, &name, &account, &role).await;
    let key = serde_json::json!({ "id": aft_key, "type": "KMS" });

    // The user's configuration names no key; the import reads the pipeline's into the state.
    let tf = imported(&l, "pipeline-kms-import", &pipeline(&account, "1"), &name);
    assert_eq!(tf.values("aft_customization_pipeline.p")["encryption_key"], key);

    // The trigger change plans no change of the key, and the declaration written keeps it.
    let plan = tf.plan_json();
    let change = common::terraform::change_of(&plan, "aft_customization_pipeline.p");
    assert_eq!(change["change"]["actions"], serde_json::json!(["update"]), "{change}");
    assert_eq!(change["change"]["before"]["encryption_key"], key, "{change}");
    assert_eq!(change["change"]["after"]["encryption_key"], key, "{change}");
    tf.apply();
    assert_eq!(l.pipeline_executions(&name).await.len(), 1, "the trigger change ran it");
    let kept = Some((aft_key.clone(), "KMS".to_string()));
    assert_eq!(key_of(&declaration_of(&l, &name).await), kept, "the update kept AFT's key");
    assert_eq!(tf.values("aft_customization_pipeline.p")["encryption_key"], key);
    assert_eq!(tf.plan_exit(), 0, "converged");

    // Another key set outside Terraform, unseen by the standard refresh: the next trigger change
    // plans the key the pipeline has now, and the apply keeps it.
    let other = format!("arn:aws:kms:us-east-1:{}:alias/other", l.aft);
    set_key(&l, &name, Some(&other)).await;
    tf.write(&format!("{}{}", l.provider(ORGS), pipeline(&account, "2")));
    let plan = tf.plan_json();
    let change = common::terraform::change_of(&plan, "aft_customization_pipeline.p");
    assert_eq!(change["change"]["before"]["encryption_key"], key, "{change}");
    assert_eq!(change["change"]["after"]["encryption_key"]["id"], other.as_str(), "{change}");
    tf.apply();
    assert_eq!(key_of(&declaration_of(&l, &name).await), Some((other.clone(), "KMS".to_string())));
    assert_eq!(tf.values("aft_customization_pipeline.p")["encryption_key"]["id"], other.as_str());

    // And again, seen by the full refresh: drift, and as the configuration names no key,
    // nothing plans to change it.
    let third = format!("arn:aws:kms:us-east-1:{}:alias/third", l.aft);
    set_key(&l, &name, Some(&third)).await;
    let full = l.provider(&format!("  drift_detection = \"full\"\n{ORGS}"));
    tf.write(&format!("{full}{}", pipeline(&account, "2")));
    let plan = tf.plan_json();
    let drift = drift_of(&plan, "aft_customization_pipeline.p");
    assert_eq!(drift["change"]["before"]["encryption_key"]["id"], other.as_str(), "{drift}");
    assert_eq!(drift["change"]["after"]["encryption_key"]["id"], third.as_str(), "{drift}");
    assert!(common::terraform::changes(&plan).is_empty(), "{:?}", common::terraform::changes(&plan));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_encryption_key_is_written_and_read_back() {
    let l = Landing::new().await;
    l.create_pipeline_role().await;
    let account = l.create_account(&format!("key-{}@example.com", common::suffix()), "key", Some("Sandbox")).await;
    let name = format!("{account}-customizations-pipeline");
    let with_key = |id: &str| {
        format!(
            "resource \"aft_customization_pipeline\" \"p\" {{\n  account_id = \"{account}\"\n  \
             encryption_key = {{\n    id = \"{id}\"\n  }}\n}}\n"
        )
    };
    let key_arn = format!("arn:aws:kms:us-east-1:{}:key/1234abcd-12ab-34cd-56ef-1234567890ab", l.aft);
    let tf = applied(&l, "pipeline-key-src", &with_key(&key_arn));
    assert_eq!(key_of(&declaration_of(&l, &name).await), Some((key_arn.clone(), "KMS".into())));
    let key = serde_json::json!({ "id": key_arn, "type": "KMS" });
    assert_eq!(tf.values("aft_customization_pipeline.p")["encryption_key"], key);
    assert_eq!(tf.plan_exit(), 0);

    // Imported elsewhere under the same configuration: read back, nothing to change.
    let again = imported(&l, "pipeline-key-import", &with_key(&key_arn), &name);
    assert_eq!(again.values("aft_customization_pipeline.p")["encryption_key"], key);
    assert_eq!(again.plan_exit(), 0);

    // Another key in the configuration: the plan shows it and the apply writes it.
    let aft_key = format!("arn:aws:kms:us-east-1:{}:alias/aft", l.aft);
    tf.write(&format!("{}{}", l.provider(ORGS), with_key(&aft_key)));
    let plan = tf.plan_json();
    let change = common::terraform::change_of(&plan, "aft_customization_pipeline.p");
    assert_eq!(change["change"]["before"]["encryption_key"], key, "{change}");
    assert_eq!(change["change"]["after"]["encryption_key"], serde_json::json!({ "id": aft_key, "type": "KMS" }));
    tf.apply();
    assert_eq!(key_of(&declaration_of(&l, &name).await), Some((aft_key, "KMS".into())));
    assert_eq!(tf.plan_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_removed_outside_terraform_shows_in_the_next_plan() {
    let l = Landing::new().await;
    l.create_pipeline_role().await;
    let account = l.create_account(&format!("nokey-{}@example.com", common::suffix()), "nokey", Some("Sandbox")).await;
    let name = format!("{account}-customizations-pipeline");
    let aft_key = format!("arn:aws:kms:us-east-1:{}:alias/aft", l.aft);
    let body = format!(
        "resource \"aft_customization_pipeline\" \"p\" {{\n  account_id = \"{account}\"\n  \
         encryption_key = {{\n    id   = \"{aft_key}\"\n    type = \"KMS\"\n  }}\n}}\n"
    );
    let tf = applied(&l, "pipeline-key-removed", &body);
    set_key(&l, &name, None).await;
    assert_eq!(key_of(&declaration_of(&l, &name).await), None);

    // The full refresh reads the declaration: the plan puts the configured key back.
    tf.write(&format!("{}{body}", l.provider(&format!("  drift_detection = \"full\"\n{ORGS}"))));
    let plan = tf.plan_json();
    let change = common::terraform::change_of(&plan, "aft_customization_pipeline.p");
    assert_eq!(change["change"]["actions"], serde_json::json!(["update"]), "{change}");
    assert!(change["change"]["before"]["encryption_key"].is_null(), "{change}");
    assert_eq!(change["change"]["after"]["encryption_key"], serde_json::json!({ "id": aft_key, "type": "KMS" }));
    tf.apply();
    assert_eq!(key_of(&declaration_of(&l, &name).await), Some((aft_key, "KMS".into())), "restored");
    assert_eq!(tf.plan_exit(), 0, "converged");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeouts_only_change_starts_nothing() {
    let l = Landing::new().await;
    l.create_pipeline_role().await;
    let account = l.create_account(&format!("to-{}@example.com", common::suffix()), "to", Some("Sandbox")).await;
    let body = |extra: &str| {
        format!("resource \"aft_customization_pipeline\" \"p\" {{\n  account_id = \"{account}\"\n{extra}}}\n")
    };
    let tf = applied(&l, "pipeline-timeouts-only", &body(""));
    let name = tf.values("aft_customization_pipeline.p")["name"].as_str().unwrap().to_string();
    let first = tf.values("aft_customization_pipeline.p")["last_execution_id"].clone();
    let runs = l.pipeline_executions(&name).await;
    assert_eq!(runs.len(), 1, "the create ran the pipeline once");
    // the plan promises the same execution; the apply must keep that promise, starting nothing
    tf.write(&format!(
        "{}{}",
        l.provider(ORGS),
        body("  wait_for_completion = false\n  timeouts {\n    update = \"30m\"\n  }\n")
    ));
    tf.apply();
    assert_eq!(tf.values("aft_customization_pipeline.p")["last_execution_id"], first);
    assert_eq!(l.pipeline_executions(&name).await, runs);
    assert_eq!(tf.plan_exit(), 0);
}
