"""Seeds an AFT management baseline in a moto server, the way an AFT deployment leaves it.

- a Control Tower management account with an organization and OUs (Sandbox, Workloads, Prod under
  Workloads, Parking);
- an AFT management account with the metadata and audit tables, both SNS topics (and an SQS queue
  subscribed to them, so the demo can show what was published), AFT's SSM account parameters and
  the customizations pipeline role.

The provisioning customizations state machine is deployed by the quickstart itself, through the
`aft_provisioning_customizations` resource.

Prints the ids as JSON. Used by `make demo`; the Rust tests seed the same baseline with the SDK.
"""
import argparse
import json

import boto3

AFT = "111111111111"
CT = "222222222222"


def session(endpoint: str, account: str) -> boto3.Session:
    base = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    c = base.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                         RoleSessionName="seed")["Credentials"]
    return boto3.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                         aws_session_token=c["SessionToken"], region_name="us-east-1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    args = ap.parse_args()
    ep = args.endpoint
    ct = session(ep, CT)
    aft = session(ep, AFT)

    org = ct.client("organizations", endpoint_url=ep)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ous = {}
    for name, parent in [("Sandbox", None), ("Workloads", None), ("Prod", "Workloads"), ("Parking", None)]:
        ou = org.create_organizational_unit(ParentId=ous[parent] if parent else root, Name=name)
        ous[name] = ou["OrganizationalUnit"]["Id"]

    ddb = aft.client("dynamodb", endpoint_url=ep)
    ddb.create_table(TableName="aft-request-metadata", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    ddb.create_table(TableName="aft-request-audit", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "timestamp", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                           {"AttributeName": "timestamp", "AttributeType": "S"}])

    sns = aft.client("sns", endpoint_url=ep)
    sqs = aft.client("sqs", endpoint_url=ep)
    queue = sqs.create_queue(QueueName="demo-notifications")["QueueUrl"]
    topics = {}
    for name in ["aft-notifications", "aft-failure-notifications"]:
        arn = sns.create_topic(Name=name)["TopicArn"]
        topics[name] = arn
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{AFT}:demo-notifications")

    # the role AFT's customizations pipelines run as
    aft.client("iam", endpoint_url=ep).create_role(
        RoleName="aft-codepipeline-customizations-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))

    ssm = aft.client("ssm", endpoint_url=ep)
    for name, value in [("aft-management", AFT), ("ct-management", CT)]:
        ssm.put_parameter(Name=f"/aft/account/{name}/account-id", Value=value, Type="String", Overwrite=True)

    print(json.dumps({"aft_management": AFT, "ct_management": CT, "root": root, "ous": ous,
                      "topics": topics, "queue_url": queue}, indent=2))


if __name__ == "__main__":
    main()
