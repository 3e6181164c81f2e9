"""moto_server with only an allowlist of AWS managed IAM policies in each account.

Owned by the tests and benchmarks (scripts/bench.py); it is not part of the provider.

Why: with MOTO_IAM_LOAD_MANAGED_POLICIES=true, moto 5.2.5 builds every IAM backend with all
~1,580 AWS managed policies (`IAMBackend._init_aws_policies` re-parses the 4.7 MB
`moto.iam.aws_managed_policies.aws_managed_policies_data` JSON and creates one object per policy).
An account gets one IAM backend per partition, and moto creates them all (aws, aws-cn,
aws-us-gov, aws-iso, aws-iso-b, aws-eusc) as soon as the account is known, since
`get_account_id_from` (run on every request) visits each partition of each known account.
So every new account costs 6 full loads, seconds of CPU each time a fleet vends an account.
The provider only attaches `arn:aws:iam::aws:policy/AdministratorAccess`, which still has to
exist in moto, so switching the loading off is not an option.

What: patches `IAMBackend._init_aws_policies` so that each IAM backend gets only the policies
named in AFT_MOTO_MANAGED_POLICIES (comma-separated policy names, default
`AdministratorAccess`; `*` leaves moto's normal behaviour: all of them), with the JSON parsed
once per process, then runs moto's own server entry point, so the command line is exactly
moto_server's: `python scripts/moto_launcher.py -H 127.0.0.1 -p PORT`.
MOTO_IAM_LOAD_MANAGED_POLICIES defaults to true here (an explicit `false` still loads none).
Unknown policy names in the allowlist are an error at start.

Also for the emulator's own speed, none of which changes what an API answers (a profile of a
test's moto with py-spy: default AMIs a third of its CPU where the default-VPC step ran, the
service lookup 17%, the request log 12%): no default AMIs (MOTO_EC2_LOAD_DEFAULT_AMIS=false,
moto's own setting: moto creates hundreds of AMI and snapshot objects in every EC2 backend, one per
account and region, and the provider calls no AMI operation), moto's module list read once (its
dispatcher lists its package directory and stats every entry on every request), werkzeug's
line per request off (AFT_MOTO_REQUEST_LOG=1 keeps it), the response classes' method names
computed once per class instead of once per request, and a request's account found from a memo
of access keys instead of a walk over every account's IAM backend (`fast_account_lookup`), a
service's backend of an account found without listing every account (`fast_backend_lookup`),
and SendMessage without counting the queue's messages (`fast_sqs_send`).

As AWS pages it: Organizations' ListAccounts by 20 accounts, not moto's 100 (`aws_page_sizes`).

Port 0 (`-p 0`): the server binds a free port itself and prints `PORT=<port>` as the first line of
its stdout, whose later output then goes to stderr (`announce_port`). The tests start it so:
a port found free beforehand and bound seconds later, once moto has imported, can be taken in
between by any other socket on the machine.

Caveat: any other AWS managed policy does not exist in this moto (NoSuchEntity on
GetPolicy, NotFound on Attach*Policy), and ListPolicies(Scope=AWS) lists only the allowlist.

IAM as AWS enforces it (AFT_MOTO_IAM=aws, off by default): moto 5.2.5's enforcement (switched
on with `POST /moto-api/reset-auth` body `0`) differs from AWS in ways that make a correctly
configured AFT role chain fail, or a wrong one pass. With AFT_MOTO_IAM=aws the launcher installs
the patches of `patch_iam` (signature over the bytes sent, each protocol's own error shape,
trust policies evaluated as AWS does, the provider's actions authorized against the resource
ARNs AWS uses, CreateAccount's role with AdministratorAccess, a missing role denied rather than
a 500), and records every action it authorized, per caller (GET /aft-test/iam/authorized), so a
test can report which actions of a policy its run exercised. Without it nothing of moto's IAM
code is touched.
docs/reliability.md ("IAM enforced in the tests") describes each patch and its source.
"""
import json
import logging
import os
import sys

import lifeline


def allowlist() -> set[str] | None:
    """The policy names to load, or None for all (`*`)."""
    raw = os.environ.get("AFT_MOTO_MANAGED_POLICIES", "AdministratorAccess")
    names = {n.strip() for n in raw.split(",") if n.strip()}
    return None if "*" in names else names


def patch(names: set[str]) -> None:
    from moto.iam import models
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data = json.loads(aws_managed_policies_data)
    unknown = sorted(names - data.keys())
    if unknown:
        sys.exit(f"moto_launcher: unknown AWS managed policies in AFT_MOTO_MANAGED_POLICIES: {unknown}")
    selected = {name: data[name] for name in sorted(names)}

    def _init_aws_policies(self):  # replaces IAMBackend._init_aws_policies
        if not models.load_iam_aws_managed_policies():
            return []
        return [models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, d)
                for name, d in selected.items()]

    models.IAMBackend._init_aws_policies = _init_aws_policies


# ---------------------------------------------------------------------------------------------
# IAM as AWS enforces it (AFT_MOTO_IAM=aws)
# ---------------------------------------------------------------------------------------------

RAW_BODY = "aft.raw_body"
SIGNED_HOST = "aft.signed_host"


class AwsAuthError(Exception):
    """An authentication or authorization failure, answered in the protocol's own shape by
    `BaseResponse.call_action` (moto answers every protocol with query-style XML and drops the
    Content-Type and X-Amzn-ErrorType headers, which the JSON SDKs need to read the code)."""

    def __init__(self, kind: str, protocol: str, service: str, message: str):
        super().__init__(message)
        self.kind, self.protocol, self.service, self.message = kind, protocol, service, message

    # (status, code) per kind and protocol, as AWS answers them:
    # - JSON protocols (awsJson1_0/1_1: X-Amz-Target): 400 AccessDeniedException,
    #   UnrecognizedClientException, InvalidSignatureException, MissingAuthenticationTokenException
    #   (e.g. https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html,
    #   https://docs.aws.amazon.com/organizations/latest/APIReference/CommonErrors.html);
    # - REST-JSON (Lambda): the same codes with 403 (Lambda API reference, Common Errors);
    # - query (IAM, STS, SNS): 403 AccessDenied (SNS: AuthorizationError), InvalidClientTokenId,
    #   SignatureDoesNotMatch, MissingAuthenticationToken
    #   (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html,
    #   https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors);
    # - EC2: 403 UnauthorizedOperation, 401 AuthFailure
    #   (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
    CODES = {
        "json": {"denied": (400, "AccessDeniedException"), "key": (400, "UnrecognizedClientException"),
                 "signature": (400, "InvalidSignatureException"),
                 "missing": (400, "MissingAuthenticationTokenException")},
        "rest-json": {"denied": (403, "AccessDeniedException"), "key": (403, "UnrecognizedClientException"),
                      "signature": (403, "InvalidSignatureException"),
                      "missing": (403, "MissingAuthenticationTokenException")},
        "query": {"denied": (403, "AccessDenied"), "key": (403, "InvalidClientTokenId"),
                  "signature": (403, "SignatureDoesNotMatch"), "missing": (403, "MissingAuthenticationToken")},
        "ec2": {"denied": (403, "UnauthorizedOperation"), "key": (401, "AuthFailure"),
                "signature": (401, "AuthFailure"), "missing": (401, "AuthFailure")},
    }

    def render(self, request_headers) -> tuple[int, dict, str]:
        import html
        import uuid

        status, code = self.CODES[self.protocol][self.kind]
        if self.protocol == "query" and self.kind == "denied" and self.service == "sns":
            code = "AuthorizationError"
        request_id = str(uuid.uuid4())
        headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}
        if self.protocol == "json":
            ct = request_headers.get("Content-Type") or "application/x-amz-json-1.1"
            headers["Content-Type"] = ct
            body = json.dumps({"__type": code, "message": self.message})
        elif self.protocol == "rest-json":
            headers["Content-Type"] = "application/json"
            body = json.dumps({"Type": "User", "message": self.message})
        elif self.protocol == "ec2":
            headers["Content-Type"] = "text/xml;charset=UTF-8"
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
                    f"<Message>{html.escape(self.message)}</Message></Error></Errors>"
                    f"<RequestID>{request_id}</RequestID></Response>")
        else:
            headers["Content-Type"] = "text/xml"
            body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                    f"<Message>{html.escape(self.message)}</Message></Error>"
                    f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        return status, headers, body


def protocol_of(headers, service: str) -> str:
    """The wire protocol of a request, as the SDK that sent it will read the answer."""
    if service == "ec2":
        return "ec2"
    content_type = headers.get("Content-Type") or ""
    if headers.get("X-Amz-Target") or content_type.startswith("application/x-amz-json"):
        return "json"
    if content_type.startswith("application/x-www-form-urlencoded"):
        return "query"
    return "rest-json"


# The policy of the role CreateAccount makes: None = AdministratorAccess (as on AWS).
CREATE_ACCOUNT_ROLE_POLICY: dict = {"document": None}
IAM_ROLE_POLICY_PATH = "/aft-test/iam/create-account-role-policy"
# What enforcement let through: caller ARN (a user, or `assumed-role/<role>/<session>`) -> the
# actions authorized for it, so a test can say which actions of a policy its run exercised.
AUTHORIZED: dict[str, set[str]] = {}
IAM_AUTHORIZED_PATH = "/aft-test/iam/authorized"


def iam_routes(app):
    """POST {IAM_ROLE_POLICY_PATH} with a policy document (JSON) gives the role of every later
    CreateAccount that inline policy instead of AdministratorAccess; `null` restores
    AdministratorAccess. GET {IAM_AUTHORIZED_PATH} answers {caller ARN: [action, ...]}: every
    action authorized since the server started (callers of all tests; their ARNs name their
    accounts). Only with AFT_MOTO_IAM=aws."""

    def routed(environ, start_response):
        if environ.get("PATH_INFO") == IAM_AUTHORIZED_PATH and environ.get("REQUEST_METHOD") == "GET":
            body = json.dumps({arn: sorted(list(actions)) for arn, actions in list(AUTHORIZED.items())}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if environ.get("PATH_INFO") != IAM_ROLE_POLICY_PATH or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        size = int(environ.get("CONTENT_LENGTH") or 0)
        CREATE_ACCOUNT_ROLE_POLICY["document"] = json.loads(environ["wsgi.input"].read(size) or b"null")
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    return routed


def keep_raw_body(app):
    """WSGI middleware: keeps the request body exactly as sent (moto re-encodes parsed form
    bodies with `quote_plus`, and hashes the query or even the headers for an empty body, so
    correctly signed requests failed its SigV4 check), and the Host the client signed when a
    loopback shim in front of moto forwarded it as X-Forwarded-Host."""
    import io

    def wrapped(environ, start_response):
        length = environ.get("CONTENT_LENGTH")
        stream = environ["wsgi.input"]
        if length:
            raw = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):
            raw = stream.read()
        else:
            raw = b""
        environ["wsgi.input"] = io.BytesIO(raw)
        environ[RAW_BODY] = raw
        if environ.get("HTTP_X_FORWARDED_HOST"):
            environ[SIGNED_HOST] = environ["HTTP_X_FORWARDED_HOST"]
        return app(environ, start_response)

    return wrapped


def _parameter(prefix, name):
    return f"{prefix}parameter{name if name.startswith('/') else '/' + name}"


def _rule(prefix, params):
    bus = params.get("EventBusName")
    bus = bus.rsplit("/", 1)[-1] if bus else "default"
    return f"{prefix}rule/{params['Name']}" if bus == "default" else f"{prefix}rule/{bus}/{params['Name']}"


def _trail(prefix, name):
    return name if name.startswith("arn:") else f"{prefix}trail/{name}"


# service (moto's name) -> action -> the ARNs a request acts on, from its parameters and
# `arn:<partition>:<service>:<region>:<account>:`
RESOURCE_ARNS = {
    "dynamodb": {a: (lambda p, x: [f"{x}table/{p['TableName']}"])
                 for a in ("CreateTable", "DeleteItem", "DescribeTable", "GetItem", "PutItem", "Scan", "Query", "UpdateItem")},
    "sns": {"Publish": lambda p, x: [p.get("TopicArn") or p.get("TargetArn") or "*"]},
    "ssm": {
        "GetParameter": lambda p, x: [_parameter(x, p["Name"])],
        "GetParameters": lambda p, x: [_parameter(x, n) for n in p["Names"]],
    },
    "stepfunctions": {
        "CreateStateMachine": lambda p, x: [f"{x}stateMachine:{p['name']}"],
        **{a: (lambda p, x: [p["stateMachineArn"]]) for a in (
            "DeleteStateMachine", "DescribeStateMachine", "UpdateStateMachine", "ListExecutions", "StartExecution")},
        "DescribeExecution": lambda p, x: [p["executionArn"]],
        "TagResource": lambda p, x: [p["resourceArn"]],
        "UntagResource": lambda p, x: [p["resourceArn"]],
    },
    "codepipeline": {
        "CreatePipeline": lambda p, x: [f"{x}{p['pipeline']['name']}"],
        "UpdatePipeline": lambda p, x: [f"{x}{p['pipeline']['name']}"],
        "DeletePipeline": lambda p, x: [f"{x}{p['name']}"],
        "GetPipeline": lambda p, x: [f"{x}{p['name']}"],
        "StartPipelineExecution": lambda p, x: [f"{x}{p['name']}"],
        **{a: (lambda p, x: [f"{x}{p['pipelineName']}"]) for a in (
            "GetPipelineExecution", "ListPipelineExecutions", "StopPipelineExecution", "ListActionExecutions")},
    },
    "events": {"DescribeRule": lambda p, x: [_rule(x, p)]},
    "cloudtrail": {
        **{a: (lambda p, x: [_trail(x, p["Name"])]) for a in (
            "CreateTrail", "GetTrail", "GetTrailStatus", "StartLogging")},
        **{a: (lambda p, x: [_trail(x, p["TrailName"])]) for a in ("GetEventSelectors", "PutEventSelectors")},
    },
}
# moto's service name -> the ARN's service
RESOURCE_SERVICE = {"stepfunctions": "states"}


def patch_iam() -> None:
    """The patches of AFT_MOTO_IAM=aws. Each one is small and names the AWS behaviour it follows."""
    import re

    from botocore.awsrequest import AWSRequest

    from moto.core.responses import BaseResponse
    from moto.iam import access_control as ac
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends
    from moto.iam.responses import IamResponse
    from moto.iam.utils import format_incoming_conditional_values
    from moto.organizations.models import OrganizationsBackend
    from moto.sts.models import sts_backends

    # (a) SigV4 over the bytes that were signed: the raw body (empty for a GET) and the Host the
    # client signed. The identity still comes from the access key id (and session token), the
    # secret from moto's IAM/STS records, as before.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
    original_create_aws_request = ac.IAMRequestBase._create_aws_request

    def _create_aws_request(self):
        environ = getattr(self._headers, "environ", None) or {}
        if RAW_BODY not in environ:
            return original_create_aws_request(self)
        signed = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
        headers = self._create_headers_for_aws_request(signed, self._headers)
        if environ.get(SIGNED_HOST):
            headers = {k: (environ[SIGNED_HOST] if k.lower() == "host" else v) for k, v in headers.items()}
        request = AWSRequest(method=self._method, url=self._path, data=environ[RAW_BODY], headers=headers)
        request.context["timestamp"] = headers["X-Amz-Date"]
        return request

    ac.IAMRequestBase._create_aws_request = _create_aws_request

    # (b) errors in each protocol's shape (see AwsAuthError), and AWS's messages
    # ("User: <arn> is not authorized to perform: <action> on resource: <arn> because no
    # identity-based policy allows the <action> action",
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
    # An unsigned request is MissingAuthenticationToken, not a KeyError (500).
    original_init = ac.IAMRequestBase.__init__

    def __init__(self, account_id, method, path, data, body, headers, action):
        if not isinstance(self, ac.S3IAMRequest) and "Authorization" not in headers:
            raise AwsAuthError("missing", protocol_of(headers, ""), "",
                               "Request is missing Authentication Token")
        self._resource = "*"
        self._reason = "because no identity-based policy allows the {action} action"
        original_init(self, account_id, method, path, data, body, headers, action)

    ac.IAMRequestBase.__init__ = __init__

    def _fail(self, kind, message):
        raise AwsAuthError(kind, protocol_of(self._headers, self._service), self._service, message)

    def _raise_access_denied(self):
        on = f" on resource: {self._resource}" if self._resource and self._resource != "*" else ""
        message = f"User: {self._access_key.arn} is not authorized to perform: {self._action}{on}"
        reason = self._reason.format(action=self._action)
        if self._action == "sts:AssumeRole":
            # AWS never says why an AssumeRole was refused (the role's existence and trust stay
            # private to its account); the reason goes to moto's log for whoever debugs a test
            print(f"moto_launcher: sts:AssumeRole refused: {message} ({reason})", file=sys.stderr, flush=True)
        else:
            message += " " + reason
        if self._service == "ec2":
            message = "You are not authorized to perform this operation. " + message
        _fail(self, "denied", message)

    def _raise_invalid_access_key(self, _reason):
        _fail(self, "key", "The security token included in the request is invalid.")

    def _raise_signature_does_not_match(self):
        _fail(self, "signature", "The request signature we calculated does not match the signature you "
                                 "provided. Check your AWS Secret Access Key and signing method.")

    ac.IAMRequest._raise_access_denied = _raise_access_denied
    ac.IAMRequest._raise_invalid_access_key = _raise_invalid_access_key
    ac.IAMRequest._raise_signature_does_not_match = _raise_signature_does_not_match

    original_call_action = BaseResponse.call_action

    def call_action(self):
        try:
            return original_call_action(self)
        except AwsAuthError as e:
            status, headers, body = e.render(self.headers)
            # every refusal in moto's log, for whoever reads a failing test
            print(f"moto_launcher: {status} {headers['x-amzn-ErrorType']}: {e.message}", file=sys.stderr, flush=True)
            return status, headers, body

    BaseResponse.call_action = call_action

    # (c) identity policies, then for sts:AssumeRole the role's trust policy, as AWS evaluates
    # them. moto checked the trust only when the role was in the caller's own account, compared
    # principals literally (`:root` matched nobody, a role ARN none of its sessions) and required
    # identity AND trust within one account. AWS:
    # - an explicit Deny in any policy wins;
    # - cross-account, the caller's identity policy AND the trust policy must allow
    #   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html);
    # - within one account, a trust policy naming the user or the role session itself is enough;
    #   one naming the account (`arn:aws:iam::<id>:root` or the bare id) delegates to the account,
    #   so the identity policy must allow too; one naming the role ARN covers every session of the
    #   role, limited by its identity policy
    #   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
    #   "Identity-based policies with resource-based policies";
    #   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html);
    # - a role that does not exist cannot be assumed: AccessDenied on the role ARN.
    role_arn_re = re.compile(r"^arn:([^:]+):iam::(\d{12}):role/(.+)$")

    def identity_result(self, resource):
        result = ac.PermissionResult.NEUTRAL
        for policy in self._access_key.collect_policies():
            r = ac.IAMPolicy(policy).is_action_permitted(self._action, resource)
            if r == ac.PermissionResult.DENIED:
                return r
            if r == ac.PermissionResult.PERMITTED:
                result = r
        return result

    def caller(self):
        key = self._access_key
        return key.account_id, key.arn, getattr(key, "_role_arn", None)

    def principal_match(principal, partition, account, arn, role_arn):
        """How a trust statement's Principal names the caller: "direct", "role", "account", or None."""
        if principal == "*":
            return "direct"
        if not isinstance(principal, dict) or "AWS" not in principal:
            return None  # a Service or Federated principal never names an IAM caller
        values = principal["AWS"] if isinstance(principal["AWS"], list) else [principal["AWS"]]
        found = None
        for p in values:
            if p == "*" or p == arn:
                return "direct"
            if role_arn and p == role_arn:
                found = "role"
            elif p in (account, f"arn:{partition}:iam::{account}:root") and found is None:
                found = "account"
        return found

    def trust_result(self, role, partition):
        """(explicit deny, set of match kinds that allow) of the role's trust policy."""
        account, arn, role_arn = caller(self)
        incoming = format_incoming_conditional_values(self._data)
        document = json.loads(role.assume_role_policy_document)
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        allows = set()
        for st in statements:
            stmt = ac.IAMPolicyStatement(st)
            concerned = (not stmt._check_element_matches("NotAction", self._action)) if "NotAction" in st \
                else stmt._check_element_matches("Action", self._action)
            if not concerned or "NotPrincipal" in st:
                continue
            kind = principal_match(st.get("Principal"), partition, account, arn, role_arn)
            if kind is None or not stmt._check_conditions(incoming):
                continue
            if st.get("Effect") == "Deny":
                return True, allows
            allows.add(kind)
        return False, allows

    def check_action_permitted(self, resource):
        self._resource = resource
        if self._action == "sts:GetCallerIdentity":  # always allowed, as on AWS
            return
        identity = identity_result(self, resource)
        if identity == ac.PermissionResult.DENIED:
            self._reason = "with an explicit deny in an identity-based policy"
            self._raise_access_denied()
        target = role_arn_re.match(resource or "")
        if self._action != "sts:AssumeRole" or not target:
            if identity != ac.PermissionResult.PERMITTED:
                self._raise_access_denied()
            return
        partition, role_account, _ = target.groups()
        try:
            role = iam_backends[role_account][partition].get_role_by_arn(resource)
        except NotFoundException:
            self._reason = "because the role does not exist"
            self._raise_access_denied()
        denied, allows = trust_result(self, role, partition)
        if denied:
            self._reason = "with an explicit deny in the role's trust policy"
            self._raise_access_denied()
        identity_allows = identity == ac.PermissionResult.PERMITTED
        if caller(self)[0] == role_account:
            permitted = "direct" in allows or (identity_allows and bool(allows))
        else:
            permitted = identity_allows and bool(allows)
        if not permitted:
            if not allows:
                self._reason = "because the role's trust policy does not allow it"
            self._raise_access_denied()

    def check_each_resource(self, resource):
        for one in resource if isinstance(resource, list) else [resource]:
            check_action_permitted(self, one)
        # (g) what was authorized, per caller (see iam_routes)
        AUTHORIZED.setdefault(self._access_key.arn, set()).add(self._action)

    ac.IAMRequestBase.check_action_permitted = check_each_resource

    original_role_key_init = ac.AssumedRoleAccessKey.__init__

    def role_key_init(self, account_id, partition, access_key_id, headers):
        original_role_key_init(self, account_id, partition, access_key_id, headers)
        for assumed in sts_backends[account_id][partition].assumed_roles:
            if assumed.access_key_id == access_key_id:
                self._role_arn = assumed.role_arn

    ac.AssumedRoleAccessKey.__init__ = role_key_init

    # (e) a session of a role that no longer exists has no permissions (AccessDenied), where
    # moto's get_role raised NotFoundException out of the auth check: HTTP 500, retried.
    original_collect = ac.AssumedRoleAccessKey.collect_policies

    def collect_policies(self):
        try:
            return original_collect(self)
        except NotFoundException:
            return []

    ac.AssumedRoleAccessKey.collect_policies = collect_policies

    # (c') IAM role actions are authorized against the role's ARN whether or not the role exists
    # yet (iam:CreateRole on arn:aws:iam::<id>:role/<path><name>,
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html);
    # moto used "*" for a role that does not exist, so a policy scoped to the role denied CreateRole.
    original_resolve = IamResponse._resolve_resource_arn

    def _resolve_resource_arn(self, role_name):
        arn = original_resolve(self, role_name)
        if arn != "*":
            return arn
        path = (self.data.get("Path") or ["/"])[0]
        return f"arn:{self.partition}:iam::{self.current_account}:role{path}{role_name}"

    IamResponse._resolve_resource_arn = _resolve_resource_arn

    # (f) the resource ARNs AWS authorizes the provider's actions against, from the request
    # (the "Resource types" column of the Service Authorization Reference,
    # https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
    # moto compared every other action with "*" only, so a statement scoped to AFT's tables,
    # topics, parameters, state machine, pipelines or rule allowed nothing. An action not listed
    # here stays "*" (moto's behaviour); a request naming several resources (ssm:GetParameters)
    # needs every one of them allowed.
    def resources_of(self):
        service, action = self.service_name, self._get_action()
        if service not in RESOURCE_ARNS or action not in RESOURCE_ARNS[service]:
            return "*"
        try:
            params = json.loads(self.raw_body or b"{}") if self.headers.get("X-Amz-Target") else \
                {k: v[0] for k, v in self.querystring.items()}
        except ValueError:
            return "*"
        prefix = f"arn:{self.partition}:{RESOURCE_SERVICE.get(service, service)}:{self.region}:{self.current_account}:"
        try:
            arns = RESOURCE_ARNS[service][action](params, prefix)
        except (KeyError, TypeError, AttributeError):
            return "*"  # a request without its parameter: moto's own validation answers it
        return arns[0] if len(arns) == 1 else (arns or "*")

    BaseResponse._determine_resource = resources_of

    # (d) the role CreateAccount makes in the new account (RoleName, OrganizationAccountAccessRole
    # by default) has AdministratorAccess, as Organizations gives it
    # (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_create-cross-account-role.html);
    # moto created it with no policy, so its sessions could do nothing.
    original_create_account = OrganizationsBackend.create_account

    # A test may give it another policy instead (POST IAM_ROLE_POLICY_PATH, see iam_routes), to
    # check that a narrower document is what the provider uses of it.
    def create_account(self, **kwargs):
        status = original_create_account(self, **kwargs)
        new_id = status["CreateAccountStatus"]["AccountId"]
        role_name = kwargs.get("RoleName", "OrganizationAccountAccessRole")
        iam = iam_backends[new_id]["global"]
        if CREATE_ACCOUNT_ROLE_POLICY.get("document") is None:
            iam.attach_role_policy(f"arn:{self.partition}:iam::aws:policy/AdministratorAccess", role_name)
        else:
            iam.put_role_policy(role_name, "policy", json.dumps(CREATE_ACCOUNT_ROLE_POLICY["document"]))
        return status

    OrganizationsBackend.create_account = create_account


TEST_PATH = "/aft-test/account-email"


def with_test_routes(app):
    """Adds what AWS can do and moto cannot, for the tests: POST {TEST_PATH} with
    `{"account_id": "...", "email": "..."}` changes an account's primary email in the
    organization that holds it, as the account's root user can on AWS (Account Management
    StartPrimaryEmailUpdate / AcceptPrimaryEmailUpdate, which moto does not implement)."""

    def routed(environ, start_response):
        if environ.get("PATH_INFO") != TEST_PATH or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        from moto.organizations.models import organizations_backends

        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(size) or b"{}")
        for account_id in list(organizations_backends.keys()):
            for backend in organizations_backends[account_id].values():
                for account in getattr(backend, "accounts", []):
                    if account.id == body.get("account_id"):
                        account.email = body["email"]
                        start_response("200 OK", [("Content-Type", "application/json")])
                        return [b"{}"]
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": "no such account"}']

    return routed


def speed_up() -> None:
    """What the module docstring says under "for the emulator's own speed"."""
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    import moto.backends

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    if os.environ.get("AFT_MOTO_REQUEST_LOG") != "1":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    import functools

    import moto.core.responses

    # the response class's method names, computed with inspect.getmembers on every request
    moto.core.responses.method_names_from_class = functools.lru_cache(maxsize=None)(
        moto.core.responses.method_names_from_class
    )
    fast_account_lookup()
    fast_backend_lookup()
    fast_sqs_send()


def aws_page_sizes() -> None:
    """Organizations' ListAccounts returns at most 20 accounts a page (the API reference's valid
    range for MaxResults is 1–20, and 20 without it); moto's paginator defaults to 100, so a
    listing of a large organization made a fifth of the calls AWS makes it make. moto reads its
    pagination model at call time. Every other Organizations list already defaults to 20."""
    from moto.organizations import utils as org_utils

    org_utils.PAGINATION_MODEL["list_accounts"]["limit_default"] = 20


def fast_backend_lookup() -> None:
    """Every access to a service's backends (several per request) ends in
    `BackendDict._create_account_specific_backend`, which tests whether the account is known with
    `account_id not in list(self.keys())`: a list of every account, built on every access. With a
    fleet's thousands of accounts that was 7% of moto's time by py-spy. The same test on the dict
    itself: an account is in a BackendDict only through that method, which also registers the
    BackendDict for reset (and reset empties both), so a known account needs nothing more."""
    from moto.core import base_backend

    create = base_backend.BackendDict._create_account_specific_backend

    def create_if_new(self, account_id):
        if dict.__contains__(self, account_id):
            return
        create(self, account_id)

    base_backend.BackendDict._create_account_specific_backend = create_if_new


def fast_sqs_send() -> None:
    """SendMessage (and SNS's delivery to an SQS subscription) reads the queue's attributes for
    its one FIFO setting, ContentBasedDeduplication, up to three times, and moto builds the whole
    attribute map each time, counting every message in the queue for ApproximateNumberOf*: a
    send cost O(queue length). The demo's notification queue, which nothing drains in a
    benchmark, holds a few messages per vended account, so a fleet's creates grew quadratic
    (py-spy of the N = 3,000 benchmark's moto). While a send runs, `Queue.attributes` answers
    that one key, with the value the full map would give (FIFO queues only, "true"/"false")."""
    import threading

    import moto.sqs.models as sqs_models

    full = sqs_models.Queue.attributes
    sending = threading.local()

    def attributes(self):
        if getattr(sending, "on", False):
            return {"ContentBasedDeduplication": str(self.content_based_deduplication).lower()} \
                if self.fifo_queue else {}
        return full.fget(self)

    send = sqs_models.SQSBackend.send_message

    def send_message(self, *args, **kwargs):
        sending.on = True
        try:
            return send(self, *args, **kwargs)
        finally:
            sending.on = False

    sqs_models.Queue.attributes = property(attributes)
    sqs_models.SQSBackend.send_message = send_message


def fast_account_lookup() -> None:
    """moto finds the account of a request by looking for its access key in the IAM backend of
    every account and partition it knows, on every request: with the hundreds of accounts a test
    vends, that walk was about 6% of a test's moto (py-spy). The same answer from a memo: a key found stays
    found while its account still has it (checked on each use); a key not found (the tests' base
    credentials) stays not found unless moto makes that very key (every key moto makes is an
    AccessKey, whose ids are recorded with the account each was made for, where a new key is
    looked for first). It used to be forgotten whenever moto made any key, and every AssumeRole
    makes one: at a fleet's scale the walk came back on most requests."""
    import moto.iam.models as iam_models
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.utilities.utils import PARTITION_NAMES

    made: dict = {}  # every access key id moto has made => the account it was made for
    init = iam_models.AccessKey.__init__

    def recording_init(self, user_name, prefix, account_id, *args, **kwargs):
        init(self, user_name, prefix, account_id, *args, **kwargs)
        made[self.access_key_id] = account_id

    iam_models.AccessKey.__init__ = recording_init
    found: dict = {}
    missing: set = set()

    def get_account_id_from(access_key: str) -> str:
        hit = found.get(access_key)
        if hit is not None:
            account_id, partition = hit
            if access_key in iam_models.iam_backends[account_id][partition].access_keys:
                return account_id
            found.pop(access_key, None)
        if access_key in missing and access_key not in made:
            return DEFAULT_ACCOUNT_ID
        owner = made.get(access_key)  # a key moto made: its account first (AssumeRole makes one each time)
        candidates = [(owner, iam_models.iam_backends[owner])] if owner in iam_models.iam_backends else []
        for account_id, account in candidates + list(iam_models.iam_backends.items()):
            for partition in PARTITION_NAMES:
                if access_key in account[partition].access_keys:
                    found[access_key] = (account_id, partition)
                    missing.discard(access_key)
                    return account_id
        missing.add(access_key)
        return DEFAULT_ACCOUNT_ID

    iam_models.get_account_id_from = get_account_id_from


def announce_port() -> None:
    """With `-p 0`, says which port the server was given: `PORT=<port>` on stdout, once bound.

    moto keeps its port in MOTO_PORT for the URLs it builds (a Step Functions execution calls
    moto back at http://localhost:$MOTO_PORT), so that is set too, before the first request.
    Whatever is printed to stdout afterwards goes to stderr, so that a caller that reads the one
    line and nothing more never blocks the server on a full pipe.
    """
    import werkzeug.serving

    make = werkzeug.serving.make_server

    def make_server(host, port, *a, **k):
        srv = make(host, port, *a, **k)
        if port == 0:
            os.environ["MOTO_PORT"] = str(srv.port)
            print(f"PORT={srv.port}", flush=True)
            os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        return srv

    werkzeug.serving.make_server = make_server


def main() -> None:
    lifeline.watch()
    announce_port()
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    speed_up()
    aws_page_sizes()
    names = allowlist()
    if names is not None:
        patch(names)
    import moto.server
    from moto.server import main as moto_main

    iam = os.environ.get("AFT_MOTO_IAM", "")
    if iam not in ("", "aws"):
        sys.exit(f"moto_launcher: AFT_MOTO_IAM must be unset or 'aws', not {iam!r}")
    wrap = with_test_routes
    if iam == "aws":
        patch_iam()
        wrap = lambda app: keep_raw_body(iam_routes(with_test_routes(app)))  # noqa: E731

    serve = moto.server.run_simple
    moto.server.run_simple = lambda host, port, app, *a, **k: serve(host, port, wrap(app), *a, **k)

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
