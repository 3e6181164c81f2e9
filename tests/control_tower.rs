//! The `control_tower` vending method through the Service Catalog stand-in
//! (tests/common/service_catalog.rs): the concurrency cap holds across resources, and an OU
//! change goes through UpdateProvisionedProduct.

mod common;

use std::time::Duration;

use common::fixtures::account_block;
use common::service_catalog::ServiceCatalog;
use common::{Landing, Tf};

#[tokio::test(flavor = "multi_thread")]
async fn eight_accounts_with_a_cap_of_two_never_run_more_than_two_provisionings() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(700));
    let mut tf = Tf::new("control-tower");
    tf.env("AWS_ENDPOINT_URL_SERVICE_CATALOG", &sc.endpoint);
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
    tf.env("AWS_ENDPOINT_URL_SERVICE_CATALOG", &sc.endpoint);
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
    tf.env("AWS_ENDPOINT_URL_SERVICE_CATALOG", &sc.endpoint);
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
