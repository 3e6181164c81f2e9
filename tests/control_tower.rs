//! The `control_tower` vending method through the Service Catalog stand-in
//! (tests/common/service_catalog.rs): the concurrency cap holds across resources, and an OU
//! change goes through UpdateProvisionedProduct. Control Tower's lifecycle as AFT follows it: an
//! update from the active provisioning artifact, Control Tower's busy refusal tried again, a
//! product in `ERROR` that AWS refuses to update terminated (only when it is this request's) and
//! provisioned again, an unmanaged account enrolled, baselines in flight counted, a park through
//! the product.

use aft_test_harness as common;

use std::time::Duration;

use common::fixtures::account_block;
use common::service_catalog::{Provisioned, ServiceCatalog};
use common::{Landing, Tf, one_line};

const CT: &str = "  account_factory {\n    method = \"control_tower\"\n  }";

/// A working directory whose provider reaches the stand-in for Service Catalog and Control Tower.
fn tf_for(name: &str, sc: &ServiceCatalog) -> Tf {
    let mut tf = Tf::new(name);
    sc.route(&mut tf);
    tf
}

fn product(sc: &ServiceCatalog, name: &str) -> Provisioned {
    sc.products().into_iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no product {name}"))
}

fn apply(tf: &Tf) -> common::terraform::Out {
    tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"])
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_accounts_with_a_cap_of_two_never_run_more_than_two_provisionings() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(700));
    let mut tf = Tf::new("control-tower");
    sc.route(&mut tf);
    let provider =
        l.provider("  account_factory {\n    method = \"control_tower\"\n    max_concurrent_operations = 2\n  }");
    let emails: Vec<String> = (0..8).map(|i| format!("ct{i}-{}@example.com", common::suffix())).collect();
    let ous = ["Sandbox", "Workloads", "Prod", "Sandbox", "Workloads", "Prod", "Sandbox", "Workloads"];
    let body = |ous: &[&str]| -> String {
        emails.iter().enumerate().map(|(i, e)| account_block(&format!("ct{i}"), e, ous[i], "")).collect()
    };
    tf.write(&format!("{provider}{}", body(&ous)));
    tf.apply();

    assert_eq!(sc.counts().0, 8, "eight provisionings completed");
    assert!(sc.peak() <= 2, "peak of {} provisionings in flight exceeds max_concurrent_operations = 2", sc.peak());
    assert!(sc.peak() >= 1);
    for (i, e) in emails.iter().enumerate() {
        let ids = l.accounts_with_email(e).await;
        assert_eq!(ids.len(), 1, "{e}");
        assert_eq!(l.parent(&ids[0]).await, l.ous[ous[i]], "{e}");
        assert!(l.metadata(&ids[0]).await.is_some());
    }
    assert_eq!(tf.plan_exit(), 0);

    // an OU change goes through UpdateProvisionedProduct
    let mut moved = ous;
    moved[0] = "Parking";
    tf.write(&format!("{provider}{}", body(&moved)));
    tf.apply();
    assert_eq!(sc.counts().1, 1);
    let id0 = l.accounts_with_email(&emails[0]).await.remove(0);
    assert_eq!(l.parent(&id0).await, l.ous["Parking"]);
    assert!(sc.calls().iter().any(|c| c == "UpdateProvisionedProduct"));
    assert_eq!(tf.plan_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn aftservice_is_associated_with_the_account_factory_portfolio_before_it_provisions() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(200));
    let mut tf = Tf::new("ct-portfolio");
    sc.route(&mut tf);
    let e = format!("portfolio-{}@example.com", common::suffix());
    tf.write(&format!(
        "{}{}",
        l.provider("  account_factory {\n    method = \"control_tower\"\n  }"),
        account_block("acct", &e, "Sandbox", "")
    ));
    // the stand-in refuses to provision for a principal without a launch path (AWS's
    // "No launch paths found"), as an AFT deployment whose processor never ran would
    assert!(sc.associated().is_empty());
    tf.apply();
    assert_eq!(sc.associated(), vec![format!("arn:aws:iam::{}:role/AWSAFTService", l.ct)]);
    assert_eq!(l.accounts_with_email(&e).await.len(), 1);
    let calls = sc.calls();
    let assoc = calls.iter().position(|c| c == "AssociatePrincipalWithPortfolio").expect("associated");
    let provision = calls.iter().position(|c| c == "ProvisionProduct").expect("provisioned");
    assert!(assoc < provision, "{calls:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_portfolio_association_names_what_is_missing_and_provisions_nothing() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(200));
    sc.deny_association();
    let mut tf = Tf::new("ct-portfolio-denied");
    sc.route(&mut tf);
    let e = format!("portfolio-denied-{}@example.com", common::suffix());
    tf.write(&format!(
        "{}{}",
        l.provider("  account_factory {\n    method = \"control_tower\"\n  }"),
        account_block("acct", &e, "Sandbox", "")
    ));
    let out = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0);
    let text = common::one_line(&out.stderr);
    for want in [
        "servicecatalog:AssociatePrincipalWithPortfolio",
        "AWS Control Tower Account Factory Portfolio",
        &format!("arn:aws:iam::{}:role/AWSAFTService", l.ct),
        "AccessDeniedException",
    ] {
        assert!(text.contains(want), "{want:?} not in: {text}");
    }
    assert!(!sc.calls().iter().any(|c| c == "ProvisionProduct"));
    assert!(l.accounts_with_email(&e).await.is_empty());
}

/// AFT's `update_existing_account`: the product's artifact while it is active, else the active
/// one. Service Catalog refuses an update from an inactive artifact.
#[tokio::test(flavor = "multi_thread")]
async fn an_ou_move_after_the_products_artifact_was_retired_updates_from_the_active_one() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(300));
    let tf = tf_for("ct-artifact", &sc);
    let e = common::email("artifact");
    let hcl = |ou: &str| format!("{}{}", l.provider(CT), account_block("art", &e, ou, ""));
    tf.write(&hcl("Sandbox"));
    tf.apply();
    assert_eq!(product(&sc, "art").artifact, common::service_catalog::ARTIFACT_ID);
    // a landing-zone update publishes a new Account Factory version; the old one is inactive
    let active = sc.retire_artifact();
    tf.write(&hcl("Prod"));
    let out = apply(&tf);
    assert_eq!(out.code, 0, "the update was refused: {}", one_line(&out.stderr));
    let p = product(&sc, "art");
    assert_eq!((p.status.as_str(), p.artifact.as_str()), ("AVAILABLE", active.as_str()), "{p:?}");
    let id = l.accounts_with_email(&e).await.remove(0);
    assert_eq!(l.parent(&id).await, l.ous["Prod"]);
    assert_eq!(tf.plan_exit(), 0);
}

/// "Another AWS Control Tower operation is in progress": operations Control Tower runs that this
/// principal cannot see (baselines, with the Control Tower API denied to it) make it refuse the
/// provisioning; the refusal is tried again until Control Tower has room, within the timeout.
/// With `refuse_error_updates`, the product the refusal left `ERROR` cannot be updated, so it is
/// terminated and provisioned again.
#[tokio::test(flavor = "multi_thread")]
async fn a_provisioning_control_tower_refuses_as_busy_is_tried_again_until_it_succeeds() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(400));
    sc.deny_control_tower(true);
    for refuse_error_updates in [false, true] {
        sc.refuse_error_updates(refuse_error_updates);
        let before = sc.report();
        // five baseline operations the provider cannot see fill Control Tower's limit for 3 s
        sc.foreign_baselines(5, Duration::from_secs(3));
        let name = format!("busy{}", refuse_error_updates as u8);
        let e = common::email(&name);
        let tf = tf_for(&format!("ct-{name}"), &sc);
        tf.write(&format!("{}{}", l.provider(CT), account_block(&name, &e, "Sandbox", "")));
        let out = apply(&tf);
        assert_eq!(out.code, 0, "a busy refusal failed the apply: {}", one_line(&out.stderr));
        let r = sc.report();
        assert!(r.refused > before.refused, "Control Tower really refused an operation: {r:?}");
        assert_eq!(r.refused_updates > before.refused_updates, refuse_error_updates, "{r:?}");
        assert_eq!(r.terminated > before.terminated, refuse_error_updates, "{r:?}");
        let products: Vec<Provisioned> = sc.products().into_iter().filter(|p| p.name == name).collect();
        assert_eq!(products.len(), 1, "{products:?}");
        let ids = l.accounts_with_email(&e).await;
        assert_eq!(ids.len(), 1, "one account");
        assert_eq!(
            (products[0].status.as_str(), products[0].physical_id.as_deref()),
            ("AVAILABLE", Some(ids[0].as_str()))
        );
        assert_eq!(l.parent(&ids[0]).await, l.ous["Sandbox"]);
        assert!(l.metadata(&ids[0]).await.is_some());
        assert_eq!(tf.plan_exit(), 0);
    }
    // the provider asked Control Tower, which refused it: it counted products only
    assert!(sc.calls().iter().any(|c| c == "ListBaselines"), "{:?}", sc.calls());
}

/// A provisioning refused for good (an OU that is not enrolled) leaves the product `ERROR`; when
/// Service Catalog refuses to update it (CloudFormation's rule for a stack whose creation
/// failed), the next apply terminates it, since it is this request's, and provisions again.
#[tokio::test(flavor = "multi_thread")]
async fn an_error_product_aws_refuses_to_update_is_terminated_and_provisioned_again() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(300));
    sc.refuse_error_updates(true);
    let e = common::email("refused");
    let tf = tf_for("ct-refused", &sc);
    tf.write(&format!("{}{}", l.provider(CT), account_block("refused", &e, "Sandbox", "")));
    sc.fail_ou("Sandbox", true);
    let out = apply(&tf);
    assert_ne!(out.code, 0);
    assert!(one_line(&out.stderr).contains("not registered"), "{}", out.stderr);
    let failed = product(&sc, "refused");
    assert_eq!(failed.status, "ERROR");
    sc.fail_ou("Sandbox", false);
    tf.apply();
    let r = sc.report();
    assert_eq!((r.refused_updates, r.terminated), (1, 1), "{r:?}");
    let p = product(&sc, "refused");
    assert_ne!(p.id, failed.id, "a new product");
    let ids = l.accounts_with_email(&e).await;
    assert_eq!(ids.len(), 1);
    assert_eq!((p.status.as_str(), p.physical_id.as_deref()), ("AVAILABLE", Some(ids[0].as_str())));
    assert_eq!(l.parent(&ids[0]).await, l.ous["Sandbox"]);
    assert_eq!(tf.plan_exit(), 0);
}

/// The irreversible step above is decided from typed facts: another request's `ERROR` product of
/// the same name, and one whose owner nothing says, are neither updated nor terminated.
#[tokio::test(flavor = "multi_thread")]
async fn an_error_product_that_is_not_this_requests_is_never_terminated() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(300));
    sc.refuse_error_updates(true);
    // x0: another request's provisioning refused before Control Tower made its account
    let theirs = common::email("theirs");
    sc.fail_ou("Sandbox", true);
    sc.provision_for(
        "x0",
        &[
            ("AccountEmail", theirs.as_str()),
            ("AccountName", "x0"),
            ("ManagedOrganizationalUnit", "Sandbox"),
            ("SSOUserEmail", "them@example.com"),
            ("SSOUserFirstName", "Grace"),
            ("SSOUserLastName", "Hopper"),
        ],
    );
    assert_eq!(sc.settled("x0").status, "ERROR");
    sc.fail_ou("Sandbox", false);
    // x1: a failed product with neither an account nor an AccountEmail output
    sc.failed_product("x1", &[]);
    for (name, says) in [
        ("x0", format!("belongs to another request: its AccountEmail output is {theirs}")),
        ("x1", "neither an account nor an AccountEmail output says whose request it is".to_string()),
    ] {
        let before = product(&sc, name);
        let mine = common::email(&format!("mine-{name}"));
        let tf = tf_for(&format!("ct-not-mine-{name}"), &sc);
        tf.write(&format!("{}{}", l.provider(CT), account_block(name, &mine, "Sandbox", "")));
        let calls = sc.calls().len();
        let out = apply(&tf);
        assert_ne!(out.code, 0);
        let err = one_line(&out.stderr);
        assert!(err.contains(&format!("provisioned product {name} is ERROR")) && err.contains(&says), "{err}");
        let sent: Vec<String> = sc.calls()[calls..].to_vec();
        assert!(
            !sent.iter().any(|c| matches!(
                c.as_str(),
                "TerminateProvisionedProduct" | "UpdateProvisionedProduct" | "ProvisionProduct"
            )),
            "{name}: {sent:?}"
        );
        let after = product(&sc, name);
        assert_eq!((after.id, after.status, after.last_record), (before.id, before.status, before.last_record));
        assert!(l.accounts_with_email(&mine).await.is_empty());
    }
    assert_eq!(sc.report().terminated, 0);
}

/// AFT's path for an account Control Tower does not manage: ProvisionProduct with its email, which
/// Control Tower answers by enrolling the account (no second account); its OU then moves through
/// Account Factory.
#[tokio::test(flavor = "multi_thread")]
async fn an_unmanaged_existing_account_is_enrolled_and_then_moved_through_account_factory() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(300));
    let e = common::email("unmanaged");
    let id = l.create_account(&e, "unmanaged", None).await;
    let tf = tf_for("ct-enroll", &sc);
    let hcl = |ou: &str| format!("{}{}", l.provider(CT), account_block("unmanaged", &e, ou, ""));
    tf.write(&hcl("Sandbox"));
    tf.apply();
    let r = sc.report();
    assert_eq!((r.enrolled, r.provisioned), (1, 1), "{r:?}");
    assert_eq!(l.accounts_with_email(&e).await, vec![id.clone()], "no second account");
    let p = product(&sc, "unmanaged");
    assert_eq!((p.status.as_str(), p.physical_id.as_deref()), ("AVAILABLE", Some(id.as_str())));
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"]);
    assert_eq!(tf.values("aft_account_provisioning.unmanaged")["account_id"], id.as_str());
    tf.write(&hcl("Prod"));
    let out = apply(&tf);
    assert_eq!(out.code, 0, "{}", one_line(&out.stderr));
    assert_eq!(l.parent(&id).await, l.ous["Prod"]);
    assert_eq!(sc.report().updated, 1);
    assert_eq!(tf.plan_exit(), 0);
}

/// AFT 1.19's count: Control Tower baselines `UNDER_CHANGE` started outside Account Factory are
/// waited for like products, so Control Tower refuses nothing; with the quota raised to 10, ten
/// run at once.
#[tokio::test(flavor = "multi_thread")]
async fn baselines_in_flight_are_counted_against_the_cap_and_a_raised_quota_is_used() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(1_500));
    sc.foreign_baselines(4, Duration::from_secs(3));
    let tf = tf_for("ct-baselines", &sc);
    let emails: Vec<String> = (0..3).map(|i| common::email(&format!("base{i}"))).collect();
    let mut hcl = l.provider(CT);
    for (i, e) in emails.iter().enumerate() {
        hcl.push_str(&account_block(&format!("b{i}"), e, "Sandbox", ""));
    }
    tf.write(&hcl);
    tf.apply();
    let r = sc.report();
    assert_eq!((r.refused, r.provisioned), (0, 3), "{r:?}");
    assert!(r.peak <= 5, "{r:?}");
    assert!(sc.calls().iter().any(|c| c == "ListEnabledBaselines"), "{:?}", sc.calls());
    for e in &emails {
        assert_eq!(l.accounts_with_email(e).await.len(), 1);
    }

    // the raised quota: 10 operations at once, five of them another principal's baselines
    sc.set_limit(10);
    sc.foreign_baselines(5, Duration::from_secs(6));
    let tf = tf_for("ct-baselines-10", &sc);
    let emails: Vec<String> = (0..5).map(|i| common::email(&format!("ten{i}"))).collect();
    let mut hcl =
        l.provider("  account_factory {\n    method = \"control_tower\"\n    max_concurrent_operations = 10\n  }");
    for (i, e) in emails.iter().enumerate() {
        hcl.push_str(&account_block(&format!("t{i}"), e, "Sandbox", ""));
    }
    tf.write(&hcl);
    tf.apply();
    let r = sc.report();
    assert_eq!((r.refused, r.provisioned), (0, 8), "{r:?}");
    assert!(r.peak > 5 && r.peak <= 10, "the raised cap was used and held: {r:?}");
}

/// Destroy parks an enrolled account through its product (UpdateProvisionedProduct with the
/// parking OU, the other parameters as they were), so Control Tower keeps managing it instead of
/// reporting drift.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_parks_an_enrolled_account_through_its_product() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(300));
    let e = common::email("park");
    let tf = tf_for("ct-park", &sc);
    tf.write(&format!(
        "{}{}",
        l.provider(CT),
        account_block("park", &e, "Sandbox", "  parking_organizational_unit = \"Parking\"")
    ));
    tf.apply();
    let id = l.accounts_with_email(&e).await.remove(0);
    let before = product(&sc, "park");
    let out = tf.destroy();
    assert_eq!(out.code, 0, "{}", one_line(&out.stderr));
    assert_eq!(l.parent(&id).await, l.ous["Parking"]);
    let p = product(&sc, "park");
    assert_eq!(p.status, "AVAILABLE", "still enrolled: {p:?}");
    assert_eq!(sc.ous().last().map(String::as_str), Some("Parking"), "through Account Factory: {:?}", sc.ous());
    let mut kept = before.parameters.clone();
    kept.insert("ManagedOrganizationalUnit".into(), "Parking".into());
    assert_eq!(p.parameters, kept, "the other parameters as they were");
    assert!(l.metadata(&id).await.is_none());
}

/// `terminate_product_on_delete`: a destroy unenrolls the account (its product terminated, which
/// moves it to the root) before it parks it with MoveAccount; a create that never completed
/// terminates nothing, whatever its state asks.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_terminates_the_product_only_of_an_account_whose_create_completed() {
    let l = Landing::new().await;
    l.create_customizations(common::fixtures::CUSTOMIZATIONS_ASL).await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(300));
    let retire = "  terminate_product_on_delete = true\n  parking_organizational_unit = \"Parking\"";

    // a create that failed (its customizations failed): the state is incomplete, so its destroy
    // neither terminates the product nor parks the account
    let e = common::email("unfinished");
    let tf = tf_for("ct-terminate-incomplete", &sc);
    tf.write(&format!(
        "{}{}",
        l.provider(CT),
        account_block("u", &e, "Sandbox", &format!("  account_customizations_name = \"fail\"\n{retire}"))
    ));
    assert_ne!(apply(&tf).code, 0);
    let id = l.accounts_with_email(&e).await.remove(0);
    let out = tf.destroy();
    assert_eq!(out.code, 0, "{}", one_line(&out.stderr));
    assert_eq!(sc.report().terminated, 0, "{:?}", sc.calls());
    assert_eq!(product(&sc, "u").status, "AVAILABLE");
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"], "not parked");

    // a completed create: terminated first (unenrolled), then parked with MoveAccount
    let e = common::email("finished");
    let tf = tf_for("ct-terminate", &sc);
    tf.write(&format!("{}{}", l.provider(CT), account_block("t", &e, "Sandbox", retire)));
    tf.apply();
    let id = l.accounts_with_email(&e).await.remove(0);
    let out = tf.destroy();
    assert_eq!(out.code, 0, "{}", one_line(&out.stderr));
    assert_eq!(sc.report().terminated, 1, "{:?}", sc.calls());
    assert!(!sc.products().iter().any(|p| p.name == "t"), "the product is gone");
    assert_eq!(l.parent(&id).await, l.ous["Parking"]);
    let calls = sc.calls();
    let terminate = calls.iter().rposition(|c| c == "TerminateProvisionedProduct").unwrap();
    assert!(
        !calls[terminate..].iter().any(|c| c == "UpdateProvisionedProduct"),
        "parked outside Account Factory: {calls:?}"
    );
    assert!(l.metadata(&id).await.is_none());
    let st = l.org().describe_account().account_id(&id).send().await.unwrap();
    assert_eq!(st.account().unwrap().state().unwrap().as_str(), "ACTIVE", "the account stays");
}
