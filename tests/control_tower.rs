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
