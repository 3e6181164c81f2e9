//! Feature option: delete the default VPCs of the **new account** in every region it has enabled
//! (AFT deletes the AFT management account's by mistake, #142). It runs only at the create that
//! vended the account (see `features::run`): an adopted or imported account, and every later run,
//! keep their default VPCs, since something may run in them by then.
//!
//! Even at that first run a default VPC is deleted only when it has no network interface: a
//! baseline or a StackSet may already have put something in it. That is looked at before anything
//! of the VPC is touched (detaching its internet gateway first would cut a running workload off
//! the internet). Resources that block the deletion (internet gateways, subnets, extra route
//! tables, ACLs, security groups) go first, then the VPC.
//!
//! A region that cannot be reached is skipped with a warning, as AFT 1.20.1 does.

use futures::stream::{self, StreamExt};

use super::super::{Done, StepError};
use crate::aws::ec2::Client as Ec2;
use crate::aws::{AwsError, AwsResultExt, clients};
use crate::context::Context;

/// A default VPC kept because network interfaces are in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InUse {
    pub vpc_id: String,
    /// How many network interfaces AWS listed in it.
    pub interfaces: usize,
    /// AWS had more than it listed (a further page).
    pub more: bool,
    /// Their kinds (`interface`, `lambda`, `nat_gateway`, …), each once, sorted.
    pub kinds: Vec<String>,
}

/// What became of one region's default VPCs.
#[derive(Clone, Debug)]
pub enum RegionOutcome {
    /// The region was looked at: the VPCs deleted and those kept.
    Done { deleted: Vec<String>, kept: Vec<InUse> },
    /// The region could not be reached (see [`unreachable`]); `interrupted` names the VPC whose
    /// deletion it broke off, whose remains stay as they are.
    Unreachable { error: AwsError, interrupted: Option<String> },
}

/// Whether `error` means the region cannot be reached, so its default VPC is left alone with a
/// warning instead of failing the run. AFT 1.20.1 skips a region whose EC2 endpoint it cannot
/// connect to or that times out (`UNREACHABLE_REGION_ERRORS` = `EndpointConnectionError`,
/// `ConnectTimeoutError`, `ReadTimeoutError`, after 5 attempts, in
/// src/aft_lambda/aft_feature_options/aft_delete_default_vpc.py), at any call in the region; and
/// `get_default_vpc` (sources/aft-lambda-layer/aft_common/feature_options.py) treats a refused
/// `DescribeVpcs` (it names `UnauthorizedOperation`) as "no default VPC". Here the first is any
/// transport failure the SDK gave up on after its retries; the second is the codes with which EC2
/// refuses an account in a region (`UnauthorizedOperation`: an SCP or region deny;
/// `AuthFailure`, `OptInRequired`: a region not (yet) enabled for the account), and only at the
/// region's first look, before anything was changed. Every other error fails the step.
pub fn unreachable(error: &AwsError, first_look: bool) -> bool {
    let transport = matches!(error.code.as_str(), "DispatchFailure" | "Timeout");
    let refused = matches!(error.code.as_str(), "UnauthorizedOperation" | "AuthFailure" | "OptInRequired");
    transport || (first_look && refused)
}

/// The network interfaces in `vpc`, or `None` when it has none.
async fn in_use(ec2: &Ec2, vpc: &str) -> Result<Option<InUse>, AwsError> {
    let out = ec2.describe_network_interfaces(&[("vpc-id", vpc)]).await.aws("ec2:DescribeNetworkInterfaces")?;
    if out.items.is_empty() && out.next_token.is_none() {
        return Ok(None);
    }
    let mut kinds: Vec<String> = out.items.iter().map(|n| n.kind.clone().unwrap_or_else(|| "unknown".into())).collect();
    kinds.sort();
    kinds.dedup();
    Ok(Some(InUse { vpc_id: vpc.to_string(), interfaces: out.items.len(), more: out.next_token.is_some(), kinds }))
}

/// Deletes one default VPC and what depends on it.
async fn delete_vpc(ec2: &Ec2, vpc: &str) -> Result<(), AwsError> {
    let igws =
        ec2.describe_internet_gateways(&[("attachment.vpc-id", vpc)]).await.aws("ec2:DescribeInternetGateways")?;
    for id in &igws {
        ec2.act("DetachInternetGateway", &[("InternetGatewayId", id), ("VpcId", vpc)])
            .await
            .aws("ec2:DetachInternetGateway")?;
        ec2.act("DeleteInternetGateway", &[("InternetGatewayId", id)]).await.aws("ec2:DeleteInternetGateway")?;
    }
    for id in ec2.describe_subnets(&[("vpc-id", vpc)]).await.aws("ec2:DescribeSubnets")? {
        ec2.act("DeleteSubnet", &[("SubnetId", &id)]).await.aws("ec2:DeleteSubnet")?;
    }
    // the main route table, the default ACL and the default group go with the VPC
    for rt in ec2.describe_route_tables(&[("vpc-id", vpc)]).await.aws("ec2:DescribeRouteTables")? {
        if !rt.main {
            ec2.act("DeleteRouteTable", &[("RouteTableId", &rt.id)]).await.aws("ec2:DeleteRouteTable")?;
        }
    }
    for acl in ec2.describe_network_acls(&[("vpc-id", vpc)]).await.aws("ec2:DescribeNetworkAcls")? {
        if !acl.default {
            ec2.act("DeleteNetworkAcl", &[("NetworkAclId", &acl.id)]).await.aws("ec2:DeleteNetworkAcl")?;
        }
    }
    for sg in ec2.describe_security_groups(&[("vpc-id", vpc)]).await.aws("ec2:DescribeSecurityGroups")? {
        if sg.name != "default" {
            ec2.act("DeleteSecurityGroup", &[("GroupId", &sg.id)]).await.aws("ec2:DeleteSecurityGroup")?;
        }
    }
    ec2.act("DeleteVpc", &[("VpcId", vpc)]).await.aws("ec2:DeleteVpc")?;
    Ok(())
}

/// Deletes the default VPCs the client's account has in the client's region, except those with
/// network interfaces; an error that means the region cannot be reached is an outcome, any other
/// fails.
pub async fn delete_in_region(ec2: &Ec2) -> Result<RegionOutcome, AwsError> {
    let skip = |error: AwsError, interrupted: Option<String>, first_look: bool| {
        if unreachable(&error, first_look) { Ok(RegionOutcome::Unreachable { error, interrupted }) } else { Err(error) }
    };
    let vpcs = match ec2.describe_vpcs(&[("isDefault", "true")]).await.aws("ec2:DescribeVpcs") {
        Ok(v) => v,
        Err(e) => return skip(e, None, true),
    };
    // every default VPC is looked at before any is touched
    let mut free = Vec::new();
    let mut kept = Vec::new();
    for id in &vpcs {
        match in_use(ec2, id).await {
            Ok(Some(used)) => kept.push(used),
            Ok(None) => free.push(id.to_string()),
            Err(e) => return skip(e, None, true),
        }
    }
    let mut deleted = Vec::new();
    for id in free {
        if let Err(e) = delete_vpc(ec2, &id).await {
            return skip(e, Some(id), false);
        }
        deleted.push(id);
    }
    Ok(RegionOutcome::Done { deleted, kept })
}

/// The warning for a kept VPC.
fn kept_warning(account_id: &str, region: &str, k: &InUse) -> String {
    let plural = if k.interfaces == 1 && !k.more { "" } else { "s" };
    format!(
        "default VPC {} of account {account_id} in {region} kept: it has {}{} network interface{plural} ({}), so something \
         runs in it; delete them and then the VPC yourself if it should go",
        k.vpc_id,
        k.interfaces,
        if k.more { "+" } else { "" },
        k.kinds.join(", "),
    )
}

/// Deletes the default VPCs of `account_id` in each region given (its name and an EC2 client in
/// it), skipping with a warning a VPC with network interfaces and a region that cannot be reached.
pub async fn delete_in_regions(account_id: &str, regions: Vec<(String, Ec2)>) -> Result<Done<()>, StepError> {
    let n = regions.len();
    let mut results: Vec<(String, Result<RegionOutcome, AwsError>)> = stream::iter(regions)
        .map(|(region, ec2)| async move {
            let r = delete_in_region(&ec2).await;
            (region, r)
        })
        .buffer_unordered(4)
        .collect()
        .await;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut deleted, mut kept, mut skipped) = (0, 0, 0);
    let mut warnings = Vec::new();
    for (region, r) in results {
        match r {
            Ok(RegionOutcome::Done { deleted: d, kept: k }) => {
                deleted += d.len();
                kept += k.len();
                warnings.extend(k.iter().map(|k| kept_warning(account_id, &region, k)));
            }
            Ok(RegionOutcome::Unreachable { error, interrupted }) => {
                skipped += 1;
                warnings.push(match interrupted {
                    None => format!(
                        "region {region} skipped for account {account_id}: it could not be reached ({error}); its \
                         default VPC, if any, was kept"
                    ),
                    Some(vpc) => format!(
                        "region {region} could no longer be reached while default VPC {vpc} of account {account_id} \
                         was being deleted ({error}); what is left of it stays"
                    ),
                });
            }
            Err(mut e) => {
                e.message = format!("{} (region {region})", e.message);
                return Err(e.in_account(account_id).into());
            }
        }
    }
    let detail = format!(
        "{deleted} default VPCs deleted in {n} regions; {kept} kept (network interfaces in them); {skipped} regions \
         skipped (unreachable)"
    );
    Ok(Done::ok((), detail).warning(warnings))
}

/// Deletes the default VPCs of `account_id` in each region it has enabled.
pub async fn run(ctx: &Context, account_id: &str) -> Result<Done<()>, StepError> {
    let session = ctx.target_session(account_id).await?;
    let regions = clients::ec2(&session, None)
        .describe_regions()
        .await
        .aws("ec2:DescribeRegions")
        .map_err(|e| e.in_account(account_id))?;
    let regions = regions.into_iter().map(|name| (name.clone(), clients::ec2(&session, Some(&name)))).collect();
    delete_in_regions(account_id, regions).await
}
