//! Feature option: delete the default VPC of the **new account** in every enabled region
//! (AFT deletes the AFT management account's by mistake, #142). Resources that block the
//! deletion (internet gateways, subnets, extra route tables, ACLs, security groups) go first.

use aws_sdk_ec2::types::Filter;
use futures::stream::{self, StreamExt};

use super::super::{Done, StepError};
use crate::aws::{AwsError, AwsResultExt, clients};
use crate::context::Context;

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Deletes one default VPC and what depends on it.
async fn delete_vpc(ec2: &aws_sdk_ec2::Client, vpc: &str) -> Result<(), AwsError> {
    let igws = ec2
        .describe_internet_gateways()
        .filters(filter("attachment.vpc-id", vpc))
        .send()
        .await
        .aws("ec2:DescribeInternetGateways")?;
    for igw in igws.internet_gateways() {
        let id = igw.internet_gateway_id().unwrap_or_default();
        ec2.detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .aws("ec2:DetachInternetGateway")?;
        ec2.delete_internet_gateway().internet_gateway_id(id).send().await.aws("ec2:DeleteInternetGateway")?;
    }
    let subnets = ec2.describe_subnets().filters(filter("vpc-id", vpc)).send().await.aws("ec2:DescribeSubnets")?;
    for s in subnets.subnets() {
        ec2.delete_subnet().subnet_id(s.subnet_id().unwrap_or_default()).send().await.aws("ec2:DeleteSubnet")?;
    }
    let rts = ec2.describe_route_tables().filters(filter("vpc-id", vpc)).send().await.aws("ec2:DescribeRouteTables")?;
    for rt in rts.route_tables() {
        if !rt.associations().iter().any(|a| a.main() == Some(true)) {
            ec2.delete_route_table()
                .route_table_id(rt.route_table_id().unwrap_or_default())
                .send()
                .await
                .aws("ec2:DeleteRouteTable")?;
        }
    }
    let acls =
        ec2.describe_network_acls().filters(filter("vpc-id", vpc)).send().await.aws("ec2:DescribeNetworkAcls")?;
    for acl in acls.network_acls() {
        if acl.is_default() != Some(true) {
            ec2.delete_network_acl()
                .network_acl_id(acl.network_acl_id().unwrap_or_default())
                .send()
                .await
                .aws("ec2:DeleteNetworkAcl")?;
        }
    }
    let sgs =
        ec2.describe_security_groups().filters(filter("vpc-id", vpc)).send().await.aws("ec2:DescribeSecurityGroups")?;
    for sg in sgs.security_groups() {
        if sg.group_name() != Some("default") {
            ec2.delete_security_group()
                .group_id(sg.group_id().unwrap_or_default())
                .send()
                .await
                .aws("ec2:DeleteSecurityGroup")?;
        }
    }
    ec2.delete_vpc().vpc_id(vpc).send().await.aws("ec2:DeleteVpc")?;
    Ok(())
}

/// Deletes the default VPCs the client's account has in the client's region; returns how many.
pub async fn delete_in_region(ec2: &aws_sdk_ec2::Client) -> Result<usize, AwsError> {
    let vpcs = ec2.describe_vpcs().filters(filter("isDefault", "true")).send().await.aws("ec2:DescribeVpcs")?;
    let mut n = 0;
    for v in vpcs.vpcs() {
        delete_vpc(ec2, v.vpc_id().unwrap_or_default()).await?;
        n += 1;
    }
    Ok(n)
}

/// Deletes the default VPCs of `account_id` in each region it has enabled.
pub async fn run(ctx: &Context, account_id: &str) -> Result<Done<()>, StepError> {
    let session = ctx.target_session(account_id).await?;
    let regions = clients::ec2(&session, None)
        .describe_regions()
        .send()
        .await
        .aws("ec2:DescribeRegions")
        .map_err(|e| e.in_account(account_id))?;
    let names: Vec<String> = regions.regions().iter().filter_map(|r| r.region_name().map(str::to_string)).collect();
    let results: Vec<Result<usize, AwsError>> = stream::iter(names.iter().cloned())
        .map(|region| {
            let ec2 = clients::ec2(&session, Some(&region));
            async move { delete_in_region(&ec2).await }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut deleted = 0;
    for r in results {
        deleted += r.map_err(|e| e.in_account(account_id))?;
    }
    Ok(Done::ok((), format!("{deleted} default VPCs deleted in {} regions", names.len())))
}
