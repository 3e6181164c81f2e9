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

Caveat: any other AWS managed policy does not exist in this moto (NoSuchEntity on
GetPolicy, NotFound on Attach*Policy), and ListPolicies(Scope=AWS) lists only the allowlist.
"""
import json
import os
import sys


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


def main() -> None:
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    names = allowlist()
    if names is not None:
        patch(names)
    import moto.server
    from moto.server import main as moto_main

    serve = moto.server.run_simple
    moto.server.run_simple = lambda host, port, app, *a, **k: serve(host, port, with_test_routes(app), *a, **k)

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
