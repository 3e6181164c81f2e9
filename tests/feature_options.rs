//! Step 6, the AFT feature options, against moto: the new account's default VPCs are deleted in
//! every enabled region (and no other account's), Enterprise Support is requested once however
//! often the framework re-runs, and the organization trail has the data-event selectors.

mod common;

use common::fixtures::account_block;
use common::{Landing, Moto, Tf};

#[tokio::test(flavor = "multi_thread")]
async fn feature_options_act_on_the_new_account_once() {
    let l = Landing::new().await;
    let moto = Moto::get();
    // the Log Archive bucket the organization trail writes to
    let bucket = l.log_archive_bucket().await;
    let mgmt_vpcs_before = aws_sdk_ec2::Client::new(&l.aft_cfg).describe_vpcs().send().await.unwrap().vpcs().len();

    let provider = l.provider(
        "  account_factory {\n    method = \"organizations\"\n  }\n  feature_options {\n    delete_default_vpcs = true\n    enterprise_support = true\n    cloudtrail_data_events = true\n  }",
    );
    let email = format!("features-{}@example.com", common::suffix());
    let tf = Tf::new("features");
    tf.write(&format!("{provider}{}", account_block("feat", &email, "Sandbox", "  account_tags = { Run = \"1\" }")));
    tf.apply();
    let id = tf.values("aft_account_provisioning.feat")["account_id"].as_str().unwrap().to_string();

    // default VPCs: gone in every region the account has enabled
    let acct = moto.account(&id).await;
    let regions = aws_sdk_ec2::Client::new(&acct).describe_regions().send().await.unwrap();
    assert!(regions.regions().len() > 3);
    for r in regions.regions() {
        let name = r.region_name().unwrap();
        let cfg = acct.to_builder().region(aws_config::Region::new(name.to_string())).build();
        let vpcs = aws_sdk_ec2::Client::new(&cfg)
            .describe_vpcs()
            .filters(aws_sdk_ec2::types::Filter::builder().name("isDefault").values("true").build())
            .send()
            .await
            .unwrap();
        assert!(vpcs.vpcs().is_empty(), "default VPC left in {name}");
    }
    // ... and the AFT management account's are untouched (AFT's bug #142)
    let mgmt_vpcs_after = aws_sdk_ec2::Client::new(&l.aft_cfg).describe_vpcs().send().await.unwrap().vpcs().len();
    assert_eq!(mgmt_vpcs_after, mgmt_vpcs_before);
    assert!(mgmt_vpcs_after >= 1);

    // re-run the framework twice more: still one support case for the account
    for run in ["2", "3"] {
        tf.write(&format!(
            "{provider}{}",
            account_block("feat", &email, "Sandbox", &format!("  account_tags = {{ Run = \"{run}\" }}"))
        ));
        tf.apply();
    }
    let support = aws_sdk_support::Client::new(&l.ct_cfg);
    let cases = support.describe_cases().include_resolved_cases(true).send().await.unwrap();
    let subject = format!("Add Account {id} to Enterprise Support");
    assert_eq!(cases.cases().iter().filter(|c| c.subject() == Some(subject.as_str())).count(), 1);
    assert_eq!(l.notifications(&id).await.len(), 3, "three framework runs");

    // the organization trail with AFT's data-event selectors
    let ct = aws_sdk_cloudtrail::Client::new(&l.ct_cfg);
    let trail = ct.get_trail().name("aws-aft-CustomizationsCloudTrail").send().await.unwrap();
    let trail = trail.trail().unwrap();
    assert_eq!(trail.is_organization_trail(), Some(true));
    assert_eq!(trail.is_multi_region_trail(), Some(true));
    assert_eq!(trail.s3_bucket_name(), Some(bucket.as_str()));
    let sel = ct.get_event_selectors().trail_name("aws-aft-CustomizationsCloudTrail").send().await.unwrap();
    let names: Vec<&str> = sel.advanced_event_selectors().iter().filter_map(|s| s.name()).collect();
    assert_eq!(names, ["No Log Archive Buckets", "Lamdba Functions"]);
    let status = ct.get_trail_status().name("aws-aft-CustomizationsCloudTrail").send().await.unwrap();
    assert_eq!(status.is_logging(), Some(true));
}
