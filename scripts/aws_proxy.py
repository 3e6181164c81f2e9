"""A loopback HTTP proxy in front of moto that counts AWS calls and can inject faults.

Owned by the tests and benchmarks; it is not part of the provider. Point the provider (or
any AWS SDK) at it with AWS_ENDPOINT_URL=http://127.0.0.1:PORT. Every request is forwarded
unchanged (method, path, query, headers including Authorization, body) to the upstream
moto server, and the answer is relayed back (status, headers, body).

Counting: each request is counted as `service:Action`. The service comes from the SigV4
credential scope (Authorization header or X-Amz-Credential query parameter); the action from
X-Amz-Target (awsJson), else the `Action=` parameter of a form body or the query string
(awsQuery / EC2), else the smithy-rpcv2 `/operation/NAME` path, else `METHOD /path` (REST).

Fault injection: with --fault-rate F a seeded, deterministic fraction F of the requests
(optionally only for --fault-services) gets a fault, drawn among --fault-kinds
(`kind` or `kind:weight`, comma separated):
  throttle     400 with the protocol's throttling error (ThrottlingException, Throttling,
               RequestLimitExceeded); not forwarded
  error500     500 InternalFailure / InternalError; not forwarded
  error503     503 ServiceUnavailable; not forwarded
  drop_before  the connection is closed without an answer; not forwarded
  drop_after   forwarded (so it takes effect upstream), then the connection is closed without
               relaying the answer. Opt-in: a retried non-idempotent call may duplicate work.

  conflict     400 ConcurrentModificationException (Organizations' "try again"), on Organizations
               calls that change something; elsewhere a throttle; not forwarded

Throttling uses each service's own code: Organizations answers TooManyRequestsException.

AWS behaviour (off unless configured; see docs/reliability.md for each one's source), set with
--behave JSON or POST /__proxy/config {"behave": {...}}:
  create_account_seconds  CreateAccount answers IN_PROGRESS without AccountId; the account is
                          absent from ListAccounts, ListAccountsForParent, ListChildren and
                          DescribeAccount (AccountNotFoundException), cannot be moved, tagged or
                          assumed into (AccessDenied) until this many seconds have passed, and
                          Describe/ListCreateAccountStatus say IN_PROGRESS until then
  create_account_failures {"email substring": "FailureReason"}: such a CreateAccount is not
                          forwarded; its request goes IN_PROGRESS, then FAILED with that reason.
  close_account_seconds   a closed account is PENDING_CLOSURE this long, then SUSPENDED
  close_account_quota     CloseAccount beyond this many answers ConstraintViolationException
                          (Reason CLOSE_ACCOUNT_QUOTA_EXCEEDED)
  role_propagation_seconds a role created through the proxy cannot be assumed (sts:AssumeRole
                          AccessDenied) nor handed to Step Functions or CodePipeline
                          (AccessDeniedException / InvalidStructureException) this long
GET /__proxy/behaviour reports what the behaviours did (counts by kind).
Whatever the behaviour, a CreateAccount for an email an account already has fails like the
failures above with EMAIL_ALREADY_EXISTS, as in AWS (moto makes a second account): the proxy
knows the emails of the accounts created through it and of those its Organizations answers showed.

Routing: --route SERVICE=URL (repeatable) forwards that service's requests (by the SigV4 scope,
e.g. servicecatalog) to another upstream instead of moto, so a test's stand-in for a service moto
lacks gets the same counting, faults and lost answers.

moto's own /moto-api/ paths are forwarded but never counted or faulted.
Control endpoints (never forwarded, counted or faulted):
  GET  /__proxy/stats   {"total", "faults", "by_action", "faults_by_kind", ...}
  POST /__proxy/reset   zero the counters
  GET|POST /__proxy/config   read / change {"fault_rate", "seed", "fault_kinds", "fault_services",
                             "behave"}

usage: python aws_proxy.py --upstream http://127.0.0.1:MOTOPORT [--port 0] [--fault-rate F]
       [--seed S] [--fault-kinds throttle,error500,...] [--fault-services sts,iam,...] [--log FILE]
       [--behave '{"create_account_seconds": 3, ...}']
Prints one line `PORT=<n>` once listening, then serves until SIGTERM / SIGINT.
"""
import argparse
import collections
import http.client
import http.server
import json
import random
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid

import lifeline

KINDS = ("throttle", "error500", "error503", "drop_before", "drop_after", "conflict")
DEFAULT_KINDS = "throttle,error500,error503,drop_before"
# Hop-by-hop headers (RFC 9110 7.6.1) plus framing headers the proxy recomputes itself.
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer",
       "transfer-encoding", "upgrade", "expect", "content-length"}
CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
RPCV2_OP = re.compile(r"/service/[^/]+/operation/([^/?]+)")


class State:
    """Counters and fault settings, shared by all handler threads (guarded by one lock)."""

    def __init__(self, fault_rate, seed, kinds, services, log_path):
        self.lock = threading.Lock()
        self.log = open(log_path, "a", buffering=1) if log_path else None
        self.configure({"fault_rate": fault_rate, "seed": seed, "fault_kinds": kinds,
                        "fault_services": services})
        self.reset()

    def configure(self, cfg):
        """Apply a (partial) config dict; raises ValueError (changing nothing) on bad input."""
        new = {}
        if "fault_rate" in cfg:
            new["fault_rate"] = float(cfg["fault_rate"])
            if not 0.0 <= new["fault_rate"] <= 1.0:
                raise ValueError("fault_rate must be within [0, 1]")
        if "fault_kinds" in cfg:
            new["kinds"] = parse_kinds(cfg["fault_kinds"])
        if "fault_services" in cfg:
            s = cfg["fault_services"] or []
            new["services"] = set(s.split(",") if isinstance(s, str) else s) - {""}
        with self.lock:
            self.__dict__.update(new)
            if "seed" in cfg:  # (re)seeding restarts the deterministic fault sequence
                self.seed, self.rng = cfg["seed"], random.Random(cfg["seed"])

    def config(self):
        with self.lock:
            return {"fault_rate": self.fault_rate, "seed": self.seed, "fault_kinds": dict(self.kinds),
                    "fault_services": sorted(self.services) or None}

    def reset(self):
        with self.lock:
            self.total = self.faults = self.upstream_errors = 0
            self.by_action, self.faults_by_kind, self.faults_by_action = (
                collections.Counter(), collections.Counter(), collections.Counter())

    def stats(self):
        with self.lock:
            return {"total": self.total, "faults": self.faults,
                    "upstream_errors": self.upstream_errors,
                    "by_action": dict(sorted(self.by_action.items())),
                    "faults_by_kind": dict(sorted(self.faults_by_kind.items())),
                    "faults_by_action": dict(sorted(self.faults_by_action.items()))}

    def admit(self, service, key):
        """Count one request and decide (deterministically, in arrival order) its fault or None."""
        with self.lock:
            self.total += 1
            self.by_action[key] += 1
            if self.fault_rate <= 0 or (self.services and service not in self.services
                                        and key not in self.services) \
                    or self.rng.random() >= self.fault_rate:
                return None
            kind = self.rng.choices(list(self.kinds), weights=list(self.kinds.values()))[0]
            if kind == "conflict" and (service != "organizations" or key.split(":")[1].startswith(("List", "Describe"))):
                kind = "throttle"  # only Organizations' changes answer ConcurrentModificationException
            self.faults += 1
            self.faults_by_kind[kind] += 1
            self.faults_by_action[key] += 1
            return kind

    def record(self, key, status, fault):
        if self.log:
            with self.lock:
                self.log.write(f"{key} {status} {fault or '-'}\n")


def parse_kinds(spec):
    """'throttle,error500:3' / ['throttle'] / {'throttle': 2} -> {kind: weight}."""
    if isinstance(spec, dict):
        items = list(spec.items())
    else:
        parts = spec.split(",") if isinstance(spec, str) else list(spec)
        items = [(p.split(":")[0], p.split(":")[1] if ":" in p else 1) for p in parts if p]
    kinds = {k.strip(): float(w) for k, w in items}
    if set(kinds) - set(KINDS) or min(kinds.values(), default=-1) < 0 or sum(kinds.values()) <= 0:
        raise ValueError(f"fault kinds must be among {KINDS} with positive weights: {spec!r}")
    return kinds


def classify(method, path, headers, body):
    """-> (service, action key 'service:Action', protocol) for one AWS request."""
    split = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(split.query)
    m = CREDENTIAL.search(headers.get("Authorization", "")) or \
        CREDENTIAL.search("Credential=" + query.get("X-Amz-Credential", [""])[0])
    service = m.group(1) if m else "unknown"
    ctype = headers.get("Content-Type", "").lower()
    target = headers.get("X-Amz-Target")
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace")) \
        if ctype.startswith("application/x-www-form-urlencoded") else {}
    if target:
        action, proto = target.rsplit(".", 1)[-1], "json"
    elif "Action" in form or "Action" in query:
        action = (form.get("Action") or query["Action"])[0]
        proto = "ec2" if service == "ec2" else "query"
    elif RPCV2_OP.search(split.path):
        action, proto = RPCV2_OP.search(split.path).group(1), "rpcv2"
    else:
        action = f"{method} {split.path}"
        proto = "s3" if service == "s3" else "restxml" if "xml" in ctype or service in (
            "route53", "cloudfront") else "restjson"
    if ctype.startswith("application/x-amz-json"):
        proto = "json"
    return service, f"{service}:{action}", proto


# (status, awsJson/REST code, query-protocol code, EC2 code, query <Type>) per injected error.
ERRORS = {
    "throttle": (400, "ThrottlingException", "Throttling", "RequestLimitExceeded", "Sender"),
    "error500": (500, "InternalFailure", "InternalFailure", "InternalError", "Receiver"),
    "error503": (503, "ServiceUnavailable", "ServiceUnavailable", "Unavailable", "Receiver"),
    "conflict": (400, "ConcurrentModificationException", "ConcurrentModification", "IncorrectState", "Sender"),
    "upstream_error": (502, "BadGateway", "BadGateway", "Unavailable", "Receiver"),  # not a fault kind
}


# Services whose throttling error has its own code.
THROTTLE_CODE = {"organizations": "TooManyRequestsException"}


def fault_response(kind, proto, req_ctype, service=None):
    """-> (status, headers, body) of an injected error in the request's wire protocol."""
    status, json_code, query_code, ec2_code, fault_type = ERRORS[kind]
    if kind == "throttle" and service in THROTTLE_CODE:
        json_code = THROTTLE_CODE[service]
    msg = {"throttle": "Rate exceeded (injected)"}.get(kind, f"Injected {kind} by aws_proxy")
    return error_response(status, json_code, query_code, ec2_code, fault_type, msg, proto, req_ctype)


def error_response(status, json_code, query_code, ec2_code, fault_type, msg, proto, req_ctype, extra=None):
    """-> (status, headers, body) of an AWS error in the request's wire protocol."""
    rid = str(uuid.uuid4())
    if proto == "rpcv2":  # smithy rpcv2Cbor: a CBOR map {"__type": code} (code < 24 chars)
        body = b"\xa1\x66__type" + bytes([0x60 + len(json_code)]) + json_code.encode()
        return status, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                        "x-amzn-ErrorType": json_code, "x-amzn-RequestId": rid}, body
    if proto in ("json", "restjson"):
        ctype = req_ctype if proto == "json" and req_ctype else "application/json"
        body = json.dumps({"__type": json_code, "message": msg, **(extra or {})})
        headers = {"Content-Type": ctype, "x-amzn-ErrorType": json_code, "x-amzn-RequestId": rid}
    elif proto == "ec2":
        body = (f"<Response><Errors><Error><Code>{ec2_code}</Code><Message>{msg}</Message></Error>"
                f"</Errors><RequestID>{rid}</RequestID></Response>")
        headers = {"Content-Type": "text/xml"}
    elif proto == "s3":  # S3 errors are not wrapped in <ErrorResponse>
        body = f"<Error><Code>{query_code}</Code><Message>{msg}</Message><RequestId>{rid}</RequestId></Error>"
        headers = {"Content-Type": "application/xml", "x-amz-request-id": rid}
    else:  # awsQuery and restXml (wrapped error form)
        body = (f"<ErrorResponse><Error><Type>{fault_type}</Type><Code>{query_code}</Code>"
                f"<Message>{msg}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": rid}
    return status, headers, body.encode()


def aws_error(code, msg, proto, req_ctype, status=400, extra=None):
    """An AWS error answer with one code in every protocol (a modelled behaviour, not a fault)."""
    return error_response(status, code, code, code, "Sender", msg, proto, req_ctype, extra)


class Behaviour:
    """AWS's documented asynchrony and eventual consistency, on top of moto (which answers every
    call as if it had completed at once). Shared by all handler threads (guarded by one lock)."""

    KEYS = {"create_account_seconds": float, "close_account_seconds": float,
            "close_account_quota": int, "role_propagation_seconds": float,
            "create_account_failures": dict}

    def __init__(self):
        self.lock = threading.Lock()
        self.cfg = {"create_account_seconds": 0.0, "close_account_seconds": 0.0,
                    "close_account_quota": None, "role_propagation_seconds": 0.0,
                    "create_account_failures": {}}
        self.creations = {}   # request id -> {account, name, email, ready, reason, requested}
        self.emails = set()   # lowercase emails of the accounts known to exist
        self.closing = {}     # account id -> time it becomes SUSPENDED
        self.closed = 0
        self.roles = {}       # role ARN -> time it becomes usable
        self.counts = collections.Counter()

    def configure(self, cfg):
        new = {}
        for k, v in (cfg or {}).items():
            if k not in self.KEYS:
                raise ValueError(f"unknown behaviour {k!r}; known: {sorted(self.KEYS)}")
            new[k] = None if v is None else self.KEYS[k](v)
        with self.lock:
            self.cfg.update(new)

    def config(self):
        with self.lock:
            return dict(self.cfg)

    def report(self):
        with self.lock:
            return {"counts": dict(sorted(self.counts.items())),
                    "creations": len(self.creations), "closing": len(self.closing)}

    def _hidden(self, now):
        """Accounts whose creation has not completed (caller holds the lock)."""
        return {c["account"] for c in self.creations.values() if c["account"] and now < c["ready"]}

    def _status(self, rid, c, now):
        """A CreateAccountStatus as AWS would show it now (caller holds the lock)."""
        out = {"Id": rid, "AccountName": c["name"], "RequestedTimestamp": c["requested"]}
        if now < c["ready"]:
            out["State"] = "IN_PROGRESS"
        elif c["reason"]:
            out.update(State="FAILED", FailureReason=c["reason"], CompletedTimestamp=c["ready"])
        else:
            out.update(State="SUCCEEDED", AccountId=c["account"], CompletedTimestamp=c["ready"])
        return out

    def before(self, key, req, proto, ctype):
        """-> (synthetic answer or None, request body to forward or None for unchanged)."""
        now = time.time()
        with self.lock:
            hidden = self._hidden(now)
            if key == "organizations:CreateAccount":
                email = str(req.get("Email", ""))
                # AWS refuses an email an account already has (moto makes a second account)
                taken = email.lower() in self.emails
                failures = dict(self.cfg["create_account_failures"])
                if taken:
                    failures = {email: "EMAIL_ALREADY_EXISTS"}
                    self.counts["create_account_email_taken"] += 1
                for part, reason in failures.items():
                    if part and part in email:
                        rid = "car-" + uuid.uuid4().hex
                        self.creations[rid] = {"account": None, "name": req.get("AccountName", ""),
                                               "email": email, "reason": reason, "requested": now,
                                               "ready": now + self.cfg["create_account_seconds"]}
                        self.counts["create_account_failed"] += 1
                        body = {"CreateAccountStatus": self._status(rid, self.creations[rid], now)}
                        return json_answer(body, ctype), None
                return None, None
            if key == "organizations:DescribeCreateAccountStatus":
                rid = req.get("CreateAccountRequestId")
                c = self.creations.get(rid)
                if c and c["reason"]:
                    return json_answer({"CreateAccountStatus": self._status(rid, c, now)}, ctype), None
                return None, None
            if key == "organizations:ListCreateAccountStatus" and self.creations:
                # moto decides State at once: ask for all, filter after the rewrite
                fwd = {k: v for k, v in req.items() if k not in ("States", "MaxResults", "NextToken")}
                return None, json.dumps(fwd).encode()
            account = {"organizations:DescribeAccount": req.get("AccountId"),
                       "organizations:MoveAccount": req.get("AccountId"),
                       "organizations:CloseAccount": req.get("AccountId"),
                       "organizations:ListParents": req.get("ChildId"),
                       "organizations:TagResource": req.get("ResourceId"),
                       "organizations:ListTagsForResource": req.get("ResourceId")}.get(key)
            if account and account in hidden:
                self.counts["account_not_yet_created"] += 1
                code = "TargetNotFoundException" if "Tag" in key else \
                    "ChildNotFoundException" if key.endswith("ListParents") else "AccountNotFoundException"
                return aws_error(code, f"You specified an account that doesn't exist: {account}",
                                 proto, ctype), None
            if key == "organizations:CloseAccount" and self.cfg["close_account_quota"] is not None \
                    and self.closed >= self.cfg["close_account_quota"]:
                self.counts["close_account_quota"] += 1
                return aws_error("ConstraintViolationException",
                                 "You have exceeded close account quota for the past 30 days.",
                                 proto, ctype, extra={"Reason": "CLOSE_ACCOUNT_QUOTA_EXCEEDED"}), None
            role = {"sts:AssumeRole": req.get("RoleArn"),
                    "states:CreateStateMachine": req.get("roleArn"),
                    "states:UpdateStateMachine": req.get("roleArn"),
                    "codepipeline:CreatePipeline": (req.get("pipeline") or {}).get("roleArn"),
                    "codepipeline:UpdatePipeline": (req.get("pipeline") or {}).get("roleArn")}.get(key)
            if not role:
                return None, None
            role = str(role)
            if key == "sts:AssumeRole" and role.split(":")[4:5] and role.split(":")[4] in hidden:
                self.counts["assume_role_account_not_ready"] += 1
            elif now < self.roles.get(role, 0):
                self.counts["role_not_propagated:" + key] += 1
            else:
                return None, None
        if key == "sts:AssumeRole":
            return aws_error("AccessDenied", f"User is not authorized to perform: sts:AssumeRole on resource: {role}",
                             proto, ctype, status=403), None
        if key.startswith("states:"):
            return aws_error("AccessDeniedException", "Neither the global service principal states.amazonaws.com, "
                             "nor the regional one is authorized to assume the provided role.", proto, ctype), None
        return aws_error("InvalidStructureException",
                         f"CodePipeline is not authorized to perform AssumeRole on role {role}", proto, ctype), None

    REWRITTEN = {"organizations:" + a for a in (
        "CreateAccount", "DescribeCreateAccountStatus", "ListCreateAccountStatus", "CloseAccount",
        "ListAccounts", "ListAccountsForParent", "ListChildren", "DescribeAccount")}

    def after(self, key, req, status, data):
        """-> the answer's body as AWS would give it now."""
        if status != 200 or (key != "iam:CreateRole" and key not in self.REWRITTEN):
            return data
        now = time.time()
        if key == "iam:CreateRole":
            m = re.search(rb"<Arn>([^<]+)</Arn>", data)
            if m and self.cfg["role_propagation_seconds"] > 0:
                with self.lock:
                    self.roles[m.group(1).decode()] = now + self.cfg["role_propagation_seconds"]
            return data
        try:
            out = json.loads(data or b"{}")
        except ValueError:
            return data
        with self.lock:
            # every account an answer shows, and every creation forwarded (each successful
            # CreateAccount, asynchronous or not, passes here): the emails AWS would refuse
            shown = {"organizations:ListAccounts": out.get("Accounts", []),
                     "organizations:ListAccountsForParent": out.get("Accounts", []),
                     "organizations:DescribeAccount": [out.get("Account") or {}],
                     "organizations:CreateAccount": [req]}.get(key, [])
            self.emails.update(str(a["Email"]).lower() for a in shown if a.get("Email"))
            if key == "organizations:CreateAccount":
                st = out.get("CreateAccountStatus") or {}
                if st.get("Id") and self.cfg["create_account_seconds"] > 0:
                    self.creations[st["Id"]] = {"account": st.get("AccountId"), "name": st.get("AccountName"),
                                                "email": req.get("Email"), "reason": None, "requested": now,
                                                "ready": now + self.cfg["create_account_seconds"]}
                    self.counts["create_account_async"] += 1
                    out["CreateAccountStatus"] = self._status(st["Id"], self.creations[st["Id"]], now)
            elif key == "organizations:DescribeCreateAccountStatus":
                st = out.get("CreateAccountStatus") or {}
                if st.get("Id") in self.creations:
                    out["CreateAccountStatus"] = self._status(st["Id"], self.creations[st["Id"]], now)
            elif key == "organizations:ListCreateAccountStatus" and self.creations:
                states = req.get("States") or ["IN_PROGRESS", "SUCCEEDED", "FAILED"]
                rows = [self._status(s["Id"], self.creations[s["Id"]], now) if s.get("Id") in self.creations
                        else s for s in out.get("CreateAccountStatuses", [])]
                rows += [self._status(rid, c, now) for rid, c in self.creations.items() if c["reason"]]
                out = {"CreateAccountStatuses": [r for r in rows if r.get("State") in states]}
            elif key == "organizations:CloseAccount":
                self.closed += 1
                self.closing[req.get("AccountId")] = now + self.cfg["close_account_seconds"]
            hidden = self._hidden(now)

            def shown(a):
                if a.get("Id") in self.closing and now < self.closing[a["Id"]]:
                    a = {**a, "Status": "PENDING_CLOSURE"}
                    if "State" in a:
                        a["State"] = "PENDING_CLOSURE"
                return a
            if key in ("organizations:ListAccounts", "organizations:ListAccountsForParent"):
                out["Accounts"] = [shown(a) for a in out.get("Accounts", []) if a.get("Id") not in hidden]
            elif key == "organizations:ListChildren":
                out["Children"] = [c for c in out.get("Children", []) if c.get("Id") not in hidden]
            elif key == "organizations:DescribeAccount" and "Account" in out:
                out["Account"] = shown(out["Account"])
        return json.dumps(out).encode()


def json_answer(body, ctype):
    return 200, {"Content-Type": ctype or "application/x-amz-json-1.1",
                 "x-amzn-RequestId": str(uuid.uuid4())}, json.dumps(body).encode()


def request_params(proto, path, body):
    """The request's parameters as a dict (JSON body, or a query/form body's first values)."""
    if proto in ("json", "restjson"):
        try:
            v = json.loads(body or b"{}")
            return v if isinstance(v, dict) else {}
        except ValueError:
            return {}
    if proto in ("query", "ec2"):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        form.update(urllib.parse.parse_qs(urllib.parse.urlsplit(path).query))
        return {k: v[0] for k, v in form.items()}
    return {}


class Upstream:
    """A pool of keep-alive connections to moto; each request borrows one exclusively."""

    def __init__(self, url, timeout):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout
        self.idle, self.lock = [], threading.Lock()

    def _connect(self):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def request(self, method, path, headers, body):
        """-> (status, reason, [(name, value)], body). Retries once on a fresh connection when a
        pooled one turns out to be stale (closed by the upstream while idle)."""
        for attempt in (0, 1):
            with self.lock:
                conn = self.idle.pop() if self.idle and attempt == 0 else None
            reused = conn is not None
            try:
                conn = conn or self._connect()
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(body)  # http.client sends headers + body in one write
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                conn and conn.close()
                if reused:
                    continue
                raise
            with self.lock:  # back to the pool unless the upstream closes it
                keep = not resp.will_close and len(self.idle) < 64
                keep and self.idle.append(conn)
            keep or conn.close()
            return resp.status, resp.reason, resp.getheaders(), data


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    timeout = 600                   # reap client connections idle this long (hyper: 90 s)
    state: State
    behaviour: Behaviour
    upstream: Upstream
    routes: dict = {}

    def log_message(self, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers: dropped
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after each chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status, headers, body, reason=None, keep_length=False):
        self.send_response_only(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        if not keep_length and status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def control(self, body):
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path == "/__proxy/stats":
                out = self.state.stats()
            elif path == "/__proxy/reset" and self.command == "POST":
                self.state.reset()
                out = self.state.stats()
            elif path == "/__proxy/config":
                if self.command == "POST":
                    cfg = json.loads(body or b"{}")
                    self.behaviour.configure(cfg.pop("behave", None))
                    self.state.configure(cfg)
                out = {**self.state.config(), "behave": self.behaviour.config()}
            elif path == "/__proxy/behaviour":
                out = self.behaviour.report()
            else:
                return self.reply(404, [("Content-Type", "application/json")], b'{"error":"not found"}')
        except (ValueError, TypeError) as e:
            return self.reply(400, [("Content-Type", "application/json")],
                              json.dumps({"error": str(e)}).encode())
        self.reply(200, [("Content-Type", "application/json")], json.dumps(out).encode())

    def proxy(self):
        body = self.read_body()
        if self.path.startswith("/__proxy/"):
            return self.control(body)
        service, key, proto = classify(self.command, self.path, self.headers, body)
        # moto's own /moto-api/ (reset, readiness, ...) is not AWS: forwarded, never counted/faulted.
        fault = None if self.path.startswith("/moto-api/") else self.state.admit(service, key)
        if fault == "drop_before":
            self.close_connection = True  # close without an answer
            return self.state.record(key, "-", fault)
        ctype = self.headers.get("Content-Type")
        if fault in ERRORS:
            status, headers, data = fault_response(fault, proto, ctype, service)
            self.reply(status, list(headers.items()), data)
            return self.state.record(key, status, fault)
        params = request_params(proto, self.path, body)
        synthetic, forwarded = self.behaviour.before(key, params, proto, ctype)
        if synthetic:
            status, headers, data = synthetic
            self.reply(status, list(headers.items()), data)
            return self.state.record(key, status, "behaviour")
        body = forwarded if forwarded is not None else body
        # Forward: drop hop-by-hop headers, re-frame the (de-chunked) body with Content-Length.
        headers = [(n, v) for n, v in self.headers.items() if n.lower() not in HOP]
        if body or "Content-Length" in self.headers or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        try:
            upstream = self.routes.get(service, self.upstream)
            status, reason, rheaders, data = upstream.request(self.command, self.path, headers, body)
        except (OSError, http.client.HTTPException) as e:
            with self.state.lock:
                self.state.upstream_errors += 1
            print(f"aws_proxy: upstream {key}: {e!r}", file=sys.stderr)
            status, headers, data = fault_response("upstream_error", proto, ctype)
            self.reply(status, list(headers.items()), data)
            return self.state.record(key, status, "upstream_error")
        data = self.behaviour.after(key, params, status, data)
        if fault == "drop_after":
            self.close_connection = True  # applied upstream, answer lost
            return self.state.record(key, status, fault)
        # HEAD / 204 / 304 keep the upstream's Content-Length; otherwise it is recomputed.
        keep = self.command == "HEAD" or status in (204, 304)
        self.reply(status, [(n, v) for n, v in rheaders
                            if n.lower() not in HOP or (keep and n.lower() == "content-length")],
                   data, reason, keep_length=keep)
        self.state.record(key, status, None)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = proxy


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False   # do not join open keep-alive connections at shutdown
    request_queue_size = 128  # parallel SDK connections arrive in bursts

    def server_bind(self):  # skip HTTPServer's getfqdn() reverse lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--upstream", required=True, help="moto base URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--port", type=int, default=0, help="listen port on 127.0.0.1 (0: any free)")
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fault-kinds", default=DEFAULT_KINDS, help="kind[:weight],... among " + ",".join(KINDS))
    p.add_argument("--fault-services", default="",
                   help="only fault these services or service:Action keys (default: all)")
    p.add_argument("--upstream-timeout", type=float, default=300.0)
    p.add_argument("--route", action="append", default=[], metavar="SERVICE=URL",
                   help="forward this service's requests to another upstream")
    p.add_argument("--behave", default="{}", help="AWS behaviours as JSON (see above)")
    p.add_argument("--log", help="append `service:Action status fault` per request to this file")
    a = p.parse_args()
    try:
        Handler.state = State(a.fault_rate, a.seed, a.fault_kinds, a.fault_services, a.log)
        Handler.behaviour = Behaviour()
        Handler.behaviour.configure(json.loads(a.behave))
    except ValueError as e:
        p.error(str(e))
    Handler.upstream = Upstream(a.upstream, a.upstream_timeout)
    for r in a.route:
        service, _, url = r.partition("=")
        if not url:
            p.error(f"--route wants SERVICE=URL, not {r!r}")
        Handler.routes[service] = Upstream(url, a.upstream_timeout)
    server = Server(("127.0.0.1", a.port), Handler)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    lifeline.watch(stop.set)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT={server.server_address[1]}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
