"""Prints what `make demo` provisioned: each account with its OU and role, and the notifications."""
import json
import subprocess
import sys

import boto3


def main() -> None:
    endpoint, baseline_path, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
    baseline = json.load(open(baseline_path))
    out = json.loads(subprocess.check_output([sys.executable.replace("python", "terraform"), f"-chdir={workdir}", "output", "-json"]))
    accounts = out["accounts"]["value"]
    ou_names = {v: k for k, v in baseline["ous"].items()}
    print("\nProvisioned accounts")
    print(f"  {'name':<10} {'account id':<14} {'OU':<28} {'execution role':<48} customizations pipeline (execution)")
    for name, a in sorted(accounts.items()):
        ou = f"{ou_names.get(a['parent_ou_id'], '?')} ({a['parent_ou_id']})"
        pipe = f"{a['pipeline']} ({a['pipeline_execution'][:8]})"
        print(f"  {name:<10} {a['account_id']:<14} {ou:<28} {a['execution_role_arn']:<48} {pipe}")

    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{baseline['aft_management']}:role/OrganizationAccountAccessRole",
                        RoleSessionName="demo")["Credentials"]
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=c["AccessKeyId"],
                       aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
    print("\nNotifications received (SNS aft-notifications / aft-failure-notifications)")
    while True:
        msgs = sqs.receive_message(QueueUrl=baseline["queue_url"], MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            envelope = json.loads(m["Body"])
            body = json.loads(envelope["Message"])
            steps = ", ".join(f"{s['step']}:{s['outcome']}" for s in body["steps"])
            print(f"  {body['status']:<9} account {body['account_id']} run {body['run_id'][:8]}  {steps}")
            sqs.delete_message(QueueUrl=baseline["queue_url"], ReceiptHandle=m["ReceiptHandle"])


if __name__ == "__main__":
    main()
