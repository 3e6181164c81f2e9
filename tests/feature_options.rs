//! Step 6, the AFT feature options, against moto: the new account's default VPCs are deleted in
//! every enabled region (and no other account's), Enterprise Support is requested once however
//! often the framework re-runs, and the organization trail has the data-event selectors. Default
//! VPCs go only at the run that vended the account, and never one with network interfaces: an
//! adopted account and every later run keep theirs.

use aft_test_harness as common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::fixtures::account_block;
use common::service_catalog::ServiceCatalog;
use common::{Landing, Moto, Tf, one_line};
use terraform_provider_aft::aws::ec2::Client as Ec2;

const DELETE_VPCS: &str = "  feature_options {\n    delete_default_vpcs = true\n  }";

/// EC2 in `account`, in `region` (the provider's own EC2 client, src/aws/ec2.rs).
async fn ec2_in(account: &str, region: &str) -> Ec2 {
    let cfg = Moto::get().account(account).await;
    Ec2::new(&cfg.to_builder().region(aws_config::Region::new(region.to_string())).build())
}

/// The regions `account` has enabled.
async fn regions(account: &str) -> Vec<String> {
    ec2_in(account, "us-east-1").await.describe_regions().await.unwrap()
}

/// The default VPC of the client's account and region, if any.
async fn default_vpc(ec2: &Ec2) -> Result<Option<String>, String> {
    let vpcs = ec2.describe_vpcs(&[("isDefault", "true")]).await.map_err(|e| format!("{e:?}"))?;
    Ok(vpcs.into_iter().next())
}

/// The internet gateways attached to `vpc`.
async fn gateways(ec2: &Ec2, vpc: &str) -> Vec<String> {
    ec2.describe_internet_gateways(&[("attachment.vpc-id", vpc)]).await.unwrap()
}

/// Gives the default VPC of the client's account and region the internet gateway AWS gives it
/// (moto leaves it out) and, with `workload`, a network interface in its first subnet (something
/// running in it); returns (VPC, gateway).
async fn furnish(ec2: &Ec2, workload: bool) -> Result<(String, String), String> {
    let e = |e: &dyn std::fmt::Debug| format!("{e:?}");
    let vpc = default_vpc(ec2).await?.ok_or("moto made no default VPC")?;
    let igw = ec2.call("CreateInternetGateway", Vec::new()).await.map_err(|x| e(&x))?;
    let igw = igw.child("internetGateway").and_then(|g| g.text_of("internetGatewayId")).ok_or("no gateway id")?;
    let igw = igw.to_string();
    ec2.act("AttachInternetGateway", &[("InternetGatewayId", &igw), ("VpcId", &vpc)]).await.map_err(|x| e(&x))?;
    if workload {
        let subnets = ec2.describe_subnets(&[("vpc-id", &vpc)]).await.map_err(|x| e(&x))?;
        let subnet = subnets.first().ok_or("no default subnet")?;
        ec2.act("CreateNetworkInterface", &[("SubnetId", subnet), ("Description", "a running workload")])
            .await
            .map_err(|x| e(&x))?;
    }
    Ok((vpc, igw))
}

/// `account_tags = { Run = "<run>" }`, a change that re-runs the framework.
fn run_tag(run: &str) -> String {
    format!("  account_tags = {{ Run = \"{run}\" }}")
}

#[tokio::test(flavor = "multi_thread")]
async fn feature_options_act_on_the_new_account_once() {
    let l = Landing::new().await;
    let moto = Moto::get();
    // the Log Archive bucket the organization trail writes to
    let bucket = l.log_archive_bucket().await;
    let mgmt_vpcs_before = Ec2::new(&l.aft_cfg).describe_vpcs(&[]).await.unwrap().len();

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
    let regions = Ec2::new(&acct).describe_regions().await.unwrap();
    assert!(regions.len() > 3);
    for name in &regions {
        let cfg = acct.to_builder().region(aws_config::Region::new(name.to_string())).build();
        let vpcs = Ec2::new(&cfg).describe_vpcs(&[("isDefault", "true")]).await.unwrap();
        assert!(vpcs.is_empty(), "default VPC left in {name}");
    }
    // ... and the AFT management account's are untouched (AFT's bug #142)
    let mgmt_vpcs_after = Ec2::new(&l.aft_cfg).describe_vpcs(&[]).await.unwrap().len();
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

/// The bug a user found: an adopted account re-run by a tag change lost the internet gateway of
/// its default VPC. Only the run that vends an account deletes default VPCs.
#[tokio::test(flavor = "multi_thread")]
async fn only_the_run_that_vends_an_account_deletes_its_default_vpcs() {
    let l = Landing::new().await;
    let adopted_email = common::email("adopted");
    let adopted = l.create_account(&adopted_email, "adopted", Some("Sandbox")).await;
    let (a_vpc, a_igw) = furnish(&ec2_in(&adopted, "us-east-1").await, false).await.unwrap();
    let a_regions = regions(&adopted).await;
    assert!(a_regions.len() > 3);

    let provider = l.provider(&format!("  account_factory {{\n    method = \"organizations\"\n  }}\n{DELETE_VPCS}"));
    let vended_email = common::email("vended");
    let body = |run: &str| {
        format!(
            "{provider}{}{}",
            account_block("adopted", &adopted_email, "Sandbox", &run_tag(run)),
            account_block("vended", &vended_email, "Sandbox", &run_tag(run))
        )
    };
    let tf = Tf::new("features-origin");
    tf.write(&body("1"));
    tf.apply();
    assert_eq!(tf.values("aft_account_provisioning.adopted")["account_id"], adopted.as_str(), "adopted, not vended");
    let vended = tf.values("aft_account_provisioning.vended")["account_id"].as_str().unwrap().to_string();

    // the adopted account keeps its default VPC and gateway, and its default VPCs everywhere
    let adopted_kept = async || {
        let east = ec2_in(&adopted, "us-east-1").await;
        assert_eq!(default_vpc(&east).await.unwrap().as_deref(), Some(a_vpc.as_str()));
        assert_eq!(gateways(&east, &a_vpc).await, std::slice::from_ref(&a_igw), "the gateway is still attached");
        for r in &a_regions {
            assert!(default_vpc(&ec2_in(&adopted, r).await).await.unwrap().is_some(), "default VPC of {r} deleted");
        }
    };
    adopted_kept().await;
    // the vended account has none left
    for r in regions(&vended).await {
        assert_eq!(default_vpc(&ec2_in(&vended, &r).await).await.unwrap(), None, "default VPC left in {r}");
    }

    // a default VPC the vended account gets later (CreateDefaultVpc) is its owner's: a later run keeps it
    let v_east = ec2_in(&vended, "us-east-1").await;
    let again = v_east.call("CreateDefaultVpc", Vec::new()).await.unwrap();
    let again = again.child("vpc").and_then(|v| v.text_of("vpcId")).unwrap().to_string();

    tf.write(&body("2"));
    tf.apply();
    assert_eq!(l.tags(&adopted).await.get("Run").map(String::as_str), Some("2"), "the update ran the framework");
    adopted_kept().await;
    assert_eq!(default_vpc(&v_east).await.unwrap(), Some(again), "the update deleted a default VPC");
    assert_eq!(tf.plan_exit(), 0);
}

/// Something already runs in the new account's default VPC when the framework first sees it (a
/// StackSet or Customizations for Control Tower put it there while Control Tower's baseline ran):
/// that VPC is kept, gateway and all, with a warning; the other regions' go.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_accounts_default_vpc_with_a_network_interface_is_kept_with_a_warning() {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(700));
    // (account, VPC, gateway) furnished in us-east-1, or what went wrong
    type Furnished = Result<(String, String, String), String>;
    let furnished: Arc<Mutex<Vec<Furnished>>> = Arc::default();
    let seen = furnished.clone();
    sc.on_account(move |id| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let r = rt.block_on(async { furnish(&ec2_in(id, "us-east-1").await, true).await });
        seen.lock().unwrap().push(r.map(|(vpc, igw)| (id.to_string(), vpc, igw)));
    });
    let mut tf = Tf::new("features-in-use");
    sc.route(&mut tf);
    let provider = l.provider(&format!("  account_factory {{\n    method = \"control_tower\"\n  }}\n{DELETE_VPCS}"));
    tf.write(&format!("{provider}{}", account_block("busy", &common::email("busy"), "Sandbox", "")));
    let out = tf.apply();

    let (id, vpc, igw) = furnished.lock().unwrap().pop().expect("the account was made").unwrap();
    assert_eq!(tf.values("aft_account_provisioning.busy")["account_id"], id.as_str());
    let east = ec2_in(&id, "us-east-1").await;
    assert_eq!(default_vpc(&east).await.unwrap(), Some(vpc.clone()), "the VPC in use was deleted");
    assert_eq!(gateways(&east, &vpc).await, [igw], "its gateway was detached");
    let subnets = east.describe_subnets(&[("vpc-id", &vpc)]).await.unwrap();
    assert!(!subnets.is_empty(), "its subnets were deleted");
    for r in regions(&id).await.into_iter().filter(|r| r != "us-east-1") {
        assert_eq!(default_vpc(&ec2_in(&id, &r).await).await.unwrap(), None, "default VPC left in {r}");
    }
    // the apply says so, naming the account, the region and the VPC
    let said = one_line(&out.stdout);
    assert!(said.contains("Warning:"), "{said}");
    let warning =
        said.split("Warning:").find(|w| w.contains(&vpc)).unwrap_or_else(|| panic!("no warning names {vpc}: {said}"));
    for part in [id.as_str(), "us-east-1", "1 network interface"] {
        assert!(warning.contains(part), "{part} not in the warning: {warning}");
    }
}
