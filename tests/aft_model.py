"""What AFT's own Lambdas do with the tables this provider writes: a model written here from
AFT v1.20.1's code (aws-ia/terraform-aws-control_tower_account_factory), for tests.

AFT's code is not on PyPI and cannot be fetched where the tests run, so its read paths are
re-stated here, each with the function it follows. Two entry points, each printing one JSON line:

  identify-targets: `aft_customizations_identify_targets.lambda_handler` up to the payloads it
      builds: targets from `customizations.get_included_accounts` / `get_excluded_accounts` /
      `get_target_accounts`, then for each target `OrganizationsAgent.get_account_email_from_id`,
      `account_request_framework.get_account_request_record` (GetItem on the request table by that
      email; a missing row raises and fails the whole run) and
      `build_account_customization_payload` (`json.loads` of the row's `account_tags`).
      Prints {"targets": [...], "payload_tags": {id: tags}} or {"error": "..."}.
  trigger: `AccountRequestRecordHandler` (`__init__` and `process_request`) for one stream record
      (JSON on stdin: eventName, OldImage, NewImage in DynamoDB's form), up to its first side
      effect. Prints {"action": "cleanup" | "acts" | "rejected", "why": "..."}: "rejected" means
      an exception before any side effect (AFT then only publishes a failure notification).

Usage: aft_model.py ENDPOINT AFT_ACCOUNT CT_ACCOUNT identify-targets 'PAYLOAD_JSON'
       aft_model.py ENDPOINT AFT_ACCOUNT CT_ACCOUNT trigger < record.json
"""

import json
import sys

import boto3

# customizations.AFT_SHARED_ACCOUNT_NAMES
CORE = ["ct-management", "log-archive", "audit"]


def session(endpoint, account):
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                        RoleSessionName="aft-model")["Credentials"]
    s = boto3.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                      aws_session_token=c["SessionToken"], region_name="us-east-1")
    return lambda service: s.client(service, endpoint_url=endpoint)


def ssm_value(aft, name):
    return aft("ssm").get_parameter(Name=name)["Parameter"]["Value"]


def all_aft_account_ids(aft):
    # customizations.get_all_aft_account_ids: scan of the metadata table named by SSM
    table = ssm_value(aft, "/aft/resources/ddb/aft-request-metadata-table-name")
    ids, kwargs = [], {"TableName": table, "ProjectionExpression": "id", "ConsistentRead": True}
    while True:
        out = aft("dynamodb").scan(**kwargs)
        ids += [i["id"]["S"] for i in out["Items"]]
        if "LastEvaluatedKey" not in out:
            break
        kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]
    if not ids:
        raise Exception("No accounts found in the Account Metadata table")
    return ids


def core_accounts(aft):
    # customizations.get_core_accounts
    return [ssm_value(aft, f"/aft/account/{a}/account-id") for a in CORE]


def all_ous(org):
    # OrganizationsAgent.get_all_org_ous: the root and every OU below it
    root = org.list_roots()["Roots"][0]
    ous, todo = [root], [root["Id"]]
    while todo:
        parent = todo.pop()
        for page in org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent):
            for ou in page["OrganizationalUnits"]:
                ous.append(ou)
                todo.append(ou["Id"])
    return ous


def account_ids_in_ous(org, names):
    # OrganizationsAgent.get_ou_ids_from_ou_names + get_accounts_for_ou: "Name (ou-…)" matches
    # name and id; a bare name matches the first OU of that name; accounts directly in the OU only
    by_id = {ou["Id"]: ou["Name"] for ou in all_ous(org)}
    ids = []
    for target in names:
        if target.endswith(")") and " (" in target:
            name, ou_id = target[:-1].rsplit(" (", 1)
            if by_id.get(ou_id) == name:
                ids.append(ou_id)
        elif target in by_id.values():
            ids.append([i for i, n in by_id.items() if n == target][0])
    accounts = []
    for ou_id in ids:
        for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=ou_id):
            accounts += [a["Id"] for a in page["Accounts"]]
    return accounts


def accounts_by_tags(aft, org, tags):
    # customizations.get_accounts_by_tags: one counter over every pair of every map, the account
    # selected when it reaches the number of maps
    matched = []
    for a in all_aft_account_ids(aft):
        have = {t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=a)["Tags"]}
        counter = 0
        for m in tags:
            for k, v in m.items():
                if have.get(k) == v:
                    counter += 1
                    if counter == len(tags):
                        matched.append(a)
    return matched


def resolve(aft, org, selectors, include):
    out = []
    for d in selectors:
        kind = d["type"]
        if kind == "all" and include:
            out += all_aft_account_ids(aft)
        elif kind == "core":
            out += core_accounts(aft)
        elif kind == "ous":
            out += account_ids_in_ous(org, d["target_value"])
        elif kind == "tags":
            out += accounts_by_tags(aft, org, d["target_value"])
        elif kind == "accounts":
            out += d["target_value"]
    out = list(set(out))
    # customizations.filter_non_aft_accounts
    aft_ids, core = all_aft_account_ids(aft), core_accounts(aft)
    return [a for a in out if a in aft_ids or (include and a in core)]


def identify_targets(aft, org, payload):
    included = resolve(aft, org, payload["include"], True)
    excluded = resolve(aft, org, payload.get("exclude", []), False)
    targets = [a for a in included if a not in excluded]
    table = ssm_value(aft, "/aft/resources/ddb/aft-request-table-name")
    tags = {}
    for account_id in list(targets):
        try:
            email = org.describe_account(AccountId=account_id)["Account"]["Email"]
        except org.exceptions.AccountNotFoundException:
            targets.remove(account_id)
            continue
        item = aft("dynamodb").get_item(TableName=table, Key={"id": {"S": email}}).get("Item")
        if not item:
            raise Exception(f"Account {email}  not found in {table}")
        tags[account_id] = json.loads(item["account_tags"]["S"])
    return {"targets": sorted(targets), "payload_tags": tags}


def plain(image):
    # ddb.unmarshal_ddb_item, for the shapes the request table holds
    def one(v):
        if "S" in v:
            return v["S"]
        if "M" in v:
            return {k: one(x) for k, x in v["M"].items()}
        return v
    return {k: one(v) for k, v in (image or {}).items()}


def trigger(record):
    event, old, new = record["eventName"], record.get("OldImage"), record.get("NewImage")
    try:
        # AccountRequestRecordHandler.__init__ → _control_tower_parameters_changed
        if event == "MODIFY" and old and new:
            plain(old)["control_tower_parameters"], plain(new)["control_tower_parameters"]
        # process_request
        if event == "REMOVE":
            return {"action": "cleanup", "why": "handle_remove invokes AFT's cleanup Lambda"}
        # control_tower_param_changed, then shared_account_request / get_account_id_if_enrolled:
        # each reads NewImage["control_tower_parameters"] before any call with an effect
        plain(new)["control_tower_parameters"]["AccountEmail"]
        return {"action": "acts", "why": f"{event} with control_tower_parameters: framework, SQS or SC update"}
    except KeyError as e:
        return {"action": "rejected", "why": f"KeyError {e} before any side effect"}


def main():
    endpoint, aft_account, ct_account, verb = sys.argv[1:5]
    if verb == "trigger":
        print(json.dumps(trigger(json.load(sys.stdin))))
        return
    aft, ct = session(endpoint, aft_account), session(endpoint, ct_account)
    try:
        print(json.dumps(identify_targets(aft, ct("organizations"), json.loads(sys.argv[5]))))
    except Exception as e:  # the Lambda fails as a whole
        print(json.dumps({"error": str(e)}))


if __name__ == "__main__":
    main()
